#!/usr/bin/python3
"""presence_storm.py: the presence connect-storm benchmark of docs/BENCHMARKS.md
("Presence").

Starts a private stack (scripts/stack.sh, as the integration tests do) on
free loopback ports, then for each scenario lets N clients connect to the
leaf as fast as the broker takes them (tests/bench/chatload --mode connect),
hold, and leave, and reports:
  - presence messages published (chat/v1/presence/+, counted by a
    subscriber of its own) while connecting and after leaving,
  - connection events, heartbeats and snapshot parts on chat/v1/sys/conn/+,
  - CPU seconds used by presence-svc, the hub and the leaf (/proc/PID/stat).
Scenarios: "users" (N distinct users, one device each) and "devices" (one
user with N client ids). Users are made with 1000 PBKDF2 iterations so that
the logins themselves do not dominate.

  CHAT_BUILD=build /usr/bin/python3 tests/bench/presence_storm.py [--clients 10000] [--scenario users|devices|both]

Needs chatload (make BUILD=... BUILD/chatload). Every wait is bounded; only
processes this script started are stopped (stack.sh down by pid files).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import shutil
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import paho.mqtt.client as mqtt  # noqa: E402
from conftest import BUILD, Stack  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Counter:
    """Counts presence messages and plugin events as a service subscriber."""

    def __init__(self, stack):
        self.lock = threading.Lock()
        self.counts = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(client_id="presence-storm-counter", clean_session=True)
        self.client.username_pw_set("presence", stack.password("presence"))
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", stack.port("hub"), keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("counter could not connect")
        time.sleep(1.0)

    def on_connect(self, c, u, f, rc):
        c.subscribe([("chat/v1/presence/+", 0), ("chat/v1/sys/conn/+", 0)])
        self.connected.set()

    def on_message(self, c, u, m):
        if m.retain:
            return  # the state before we subscribed
        if m.topic.startswith("chat/v1/presence/"):
            key = "presence"
        else:
            try:
                key = "sys:" + json.loads(m.payload)["event"]
            except (ValueError, KeyError):
                key = "sys:?"
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def take(self):
        with self.lock:
            out, self.counts = self.counts, {}
        return out

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def make_users(stack, prefix, count, password):
    """count users PREFIX0..PREFIX<count-1> sharing one 1000-iteration hash."""
    seed = f"{prefix}seed"
    r = stack.chatctl("user", "add", seed, "--iterations", "1000", stdin=password + "\n")
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    stack.sql(f"INSERT INTO users (username, pw_hash, role) SELECT CONCAT('{prefix}', seq), "
              f"(SELECT pw_hash FROM users WHERE username = '{seed}'), 'user' FROM seq_0_to_{count - 1}")
    time.sleep(3.0)  # every plugin loads the new users within refresh_ms


PER_PROCESS = 5000  # libmosquitto holds 3 descriptors per client; the hard limit here is 20000


def run_scenario(stack, counter, name, clients, user_args_for, password_file, hold, settle):
    """user_args_for(k, n): chatload's user options for its k-th process of n clients."""
    pids = {part: int(open(os.path.join(stack.var, "run", f"{part}.pid")).read())
            for part in ("presence-svc", "hub", "leaf")}
    time.sleep(2.0)
    counter.take()
    cpu0 = {part: cpu_seconds(pid) for part, pid in pids.items()}
    procs, outs = [], []
    started = time.monotonic()
    for k in range((clients + PER_PROCESS - 1) // PER_PROCESS):
        n = min(PER_PROCESS, clients - k * PER_PROCESS)
        out = os.path.join(stack.var, f"storm-{name}-{k}.json")
        cmd = [os.path.join(BUILD, "chatload"), "--mode", "connect", "--port", str(stack.port("leaf")),
               "--users", str(n), *user_args_for(k, n), "--password-file", password_file,
               "--max-pending", "200", "--threads", "2", "--connect-timeout", "120", "--hold", str(hold),
               "--keepalive", "60", "--label", f"presence-{name}-{k}", "--out", out]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        outs.append(out)
    # Connect phase: until every connect event went by (or they stop
    # coming for 3 s), plus settle time for presence-svc to publish.
    seen, last_change, deadline = 0, time.monotonic(), time.monotonic() + 150
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.5)
        with counter.lock:
            now_seen = counter.counts.get("sys:connect", 0)
        if now_seen != seen:
            seen, last_change = now_seen, time.monotonic()
        elif now_seen >= clients or (now_seen and time.monotonic() - last_change > 3):
            break
    connect_s = time.monotonic() - started
    time.sleep(min(settle, max(0.0, hold - connect_s - 1)))
    up_counts = counter.take()
    cpu_up = {part: cpu_seconds(pid) for part, pid in pids.items()}
    load = {"ready": 0, "refused": 0, "failed": 0, "connect_s": 0.0}
    for proc, out in zip(procs, outs):
        err = proc.communicate(timeout=hold + 240)[1]
        if proc.returncode != 0:
            raise RuntimeError(f"chatload failed: {err[-2000:]}")
        one = json.load(open(out))
        for key in ("ready", "refused", "failed"):
            load[key] += int(one.get(key, 0))
        load["connect_s"] = max(load["connect_s"], round(one.get("connect_s", 0.0), 2))
        if one.get("failed") or one.get("refused"):
            print(f"chatload: {one.get('failed')} failed, {one.get('refused')} refused; its log ends:\n{err[-1500:]}",
                  file=sys.stderr)
    load["connects_per_s"] = round(load["ready"] / load["connect_s"], 1) if load["connect_s"] else None
    elapsed = time.monotonic() - started
    time.sleep(settle)
    down_counts = counter.take()
    cpu1 = {part: cpu_seconds(pid) for part, pid in pids.items()}
    counts = {"connect_phase": up_counts, "leave_phase": down_counts}
    result = {
        "scenario": name, "clients": clients, "load": load,
        "messages": counts,
        "presence_messages": up_counts.get("presence", 0) + down_counts.get("presence", 0),
        "connect_phase_s": round(connect_s, 1),
        "cpu_s_connect_phase": {part: round(cpu_up[part] - cpu0[part], 2) for part in pids},
        "cpu_s": {part: round(cpu1[part] - cpu0[part], 2) for part in pids},
        "presence_svc_rss_mb": round(rss_mb(pids["presence-svc"]), 1),
        "wall_s": round(elapsed + settle, 1),
    }
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--scenario", choices=("users", "devices", "both"), default="both")
    ap.add_argument("--hold", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=8.0)
    ap.add_argument("--keep", action="store_true", help="keep the state directory")
    args = ap.parse_args()
    if not 1 <= args.clients <= 15000:
        ap.error("--clients must be 1-15000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 3 * PER_PROCESS + 500 or hard < args.clients + 1000:
        ap.error(f"the open-file limit ({hard}) is too low for {args.clients} clients")
    var = tempfile.mkdtemp(prefix="presence-storm-")
    os.chmod(var, 0o755)
    stack = Stack(var)
    stack.env["CHAT_LOG_LEVEL"] = "info"
    results = []
    counter = None
    try:
        up = stack.script("up", check=False)
        if up.returncode != 0:
            raise RuntimeError(f"stack up failed:\n{up.stdout}\n{up.stderr}\n{stack.logs()}")
        password = "storm-pw-1"
        pwfile = os.path.join(var, "storm-password")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        counter = Counter(stack)
        if args.scenario in ("users", "both"):
            for k in range((args.clients + PER_PROCESS - 1) // PER_PROCESS):
                make_users(stack, f"st{k}_", min(PER_PROCESS, args.clients - k * PER_PROCESS), password)
            r = run_scenario(stack, counter, "users", args.clients, lambda k, n: ["--user-prefix", f"st{k}_"],
                             pwfile, args.hold, args.settle)
            results.append(r)
            print(json.dumps(r), flush=True)
        if args.scenario in ("devices", "both"):
            make_users(stack, "dv", 1, password)
            r = run_scenario(stack, counter, "devices", args.clients, lambda k, n: ["--user-list", "dv0"],
                             pwfile, args.hold, args.settle)
            results.append(r)
            print(json.dumps(r), flush=True)
        with open(os.path.join(var, "log", "presence-svc.log"), errors="replace") as f:
            tail = [line.rstrip() for line in f if "counters" in line or "node" in line][-6:]
        print("\n".join(tail))
    finally:
        if counter:
            counter.close()
        stack.script("down", check=False)
        if args.keep:
            print(f"state kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
