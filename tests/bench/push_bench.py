#!/usr/bin/python3
"""push-svc benchmark (docs/BENCHMARKS.md, "push-svc").

Starts a private stack (scripts/stack.sh, as the integration tests do, with
CHAT_PUSH_ALLOW_HTTP=1 so that push-svc may post to a loopback push
service), puts --users offline users into MariaDB, each with a direct room
shared with one sender and one Web Push subscription whose endpoint is a
local http.server, then has the sender (a Paho client on the leaf) post one
message to each direct room:
  1. paced: --rate messages per second; commit-to-received latency per push
     (from the sender's receipt, which history-svc sends after the commit,
     to the push arriving at the push service; same clock), p50/p99/max;
  2. burst: all at once; pushes per second of push-svc CPU (utime+stime of
     its process over the phase) and the phase's wall time.
Prints one JSON object. Stops everything it started (stack.sh down).
"""
import argparse
import json
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import Client, Stack, free_port, inbox  # noqa: E402
from test_push import Device  # noqa: E402


class Receiver:
    """A loopback push service that notes when each endpoint got a push."""

    def __init__(self):
        self.port = free_port()
        self.got = queue.Queue()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rx.got.put((self.path.strip("/"), time.monotonic()))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 1024
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def collect(self, n, timeout):
        out, deadline = {}, time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                name, at = self.got.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            out.setdefault(name, at)
        return out


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(stack, prefix, users, endpoint_base, device):
    """users offline users {prefix}uNNNN with a direct room {prefix}rNNNN
    shared with the sender and one subscription each."""
    keys = device.keys()
    sender = f"{prefix}sender"
    stack.sql(f"INSERT INTO users (username, pw_hash) SELECT CONCAT('{prefix}u', LPAD(seq, 5, '0')), pw_hash"
              f" FROM users, seq_1_to_{users} WHERE username = '{sender}'")
    stack.sql(f"INSERT INTO rooms (name, visibility) SELECT CONCAT('{prefix}r', LPAD(seq, 5, '0')), 'direct'"
              f" FROM seq_1_to_{users}")
    stack.sql(f"INSERT INTO room_members (room_id, user_id) SELECT r.id, u.id FROM rooms r"
              f" JOIN users u ON u.username = CONCAT('{prefix}u', SUBSTRING(r.name, {len(prefix) + 2}))"
              f" WHERE r.name LIKE '{prefix}r%'")
    stack.sql(f"INSERT INTO room_members (room_id, user_id) SELECT r.id, s.id FROM rooms r, users s"
              f" WHERE r.name LIKE '{prefix}r%' AND s.username = '{sender}'")
    stack.sql(f"INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth)"
              f" SELECT id, CONCAT('{endpoint_base}/', username), '{keys['p256dh']}', '{keys['auth']}'"
              f" FROM users WHERE username LIKE '{prefix}u%'")
    stack.sync_auth()


def run_phase(stack, receiver, prefix, users, rate, pid):
    """One message to each room (paced at rate/s, or at once when rate is
    0); returns latencies (s), pushes received, CPU seconds, wall seconds."""
    sender = f"{prefix}sender"
    c = Client(stack, sender, "leaf")
    stack.clients.append(c)
    c.subscribe(inbox(sender))
    arrivals = queue.Queue()  # (payload, monotonic time of arrival)
    c.client.on_message = lambda cl, u, m: arrivals.put((m.payload, time.monotonic()))
    receipts = {}
    cpu0, t0 = cpu_s(pid), time.monotonic()
    for i in range(1, users + 1):
        room = f"{prefix}r{i:05d}"
        c.client.publish(f"chat/v1/rooms/{room}/msg/{sender}", json.dumps({"id": f"m{i}", "body": f"bench {i}"}), qos=1)
        if rate:
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    deadline = time.monotonic() + 120
    while len(receipts) < users and time.monotonic() < deadline:
        try:
            payload, at = arrivals.get(timeout=1)
        except queue.Empty:
            continue
        d = json.loads(payload)
        if d.get("type") == "receipt":
            receipts[d["room"]] = at
    got = receiver.collect(users, 120)
    wall = time.monotonic() - t0
    cpu = cpu_s(pid) - cpu0
    c.close()
    lat = [got[f"{prefix}u{r[len(prefix) + 1:]}"] - at for r, at in receipts.items()
           if f"{prefix}u{r[len(prefix) + 1:]}" in got]
    return lat, len(got), cpu, wall


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=100, help="paced phase: messages per second")
    ap.add_argument("--keep", action="store_true", help="keep the state directory")
    args = ap.parse_args()
    var = tempfile.mkdtemp(prefix="push-bench-")
    os.chmod(var, 0o755)
    stack = Stack(var)
    stack.env["CHAT_LOG_LEVEL"] = "info"
    stack.env["CHAT_PUSH_ALLOW_HTTP"] = "1"
    receiver = Receiver()
    out = {"users": args.users, "rate": args.rate}
    try:
        up = stack.script("up", check=False)
        if up.returncode != 0:
            raise RuntimeError(f"stack up failed:\n{up.stdout}\n{up.stderr}")
        pid = int(open(os.path.join(var, "run", "push-svc.pid")).read())
        device = Device()
        for phase, prefix, rate in (("paced", "pa", args.rate), ("burst", "pz", 0)):
            stack.add_user(f"{prefix}sender", "bench-pw-" + uuid.uuid4().hex[:8])
            seed(stack, prefix, args.users, f"http://127.0.0.1:{receiver.port}", device)
            lat, n, cpu, wall = run_phase(stack, receiver, prefix, args.users, rate, pid)
            out[phase] = {"pushes": n, "latency_p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
                          "latency_p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
                          "latency_max_ms": round(max(lat) * 1000, 1) if lat else None,
                          "push_svc_cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                          "pushes_per_cpu_s": round(n / cpu) if cpu else None,
                          "latency_mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else None}
            print(f"{phase}: {json.dumps(out[phase])}", file=sys.stderr, flush=True)
    finally:
        for c in stack.clients:
            try:
                c.close()
            except Exception:
                pass
        stack.script("down", check=False)
        receiver.server.shutdown()
        if args.keep:
            print(f"state kept in {var}", file=sys.stderr)
        else:
            shutil.rmtree(var, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
