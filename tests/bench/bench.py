#!/usr/bin/python3
"""bench.py: the benchmark suite behind `make bench` and `make bench-quick`.

Starts everything it measures itself, in a temporary directory on free
loopback ports: a private stack through scripts/stack.sh (MariaDB, hub and
leaf with the plugin, history-svc, presence-svc) and standalone `mosquitto -c
conf` processes for each baseline (bare Mosquitto, Mosquitto with the
dynamic-security plugin, Mosquitto with our plugin). Each scenario runs every
variant in the same session, interleaved, several times; the report gives
medians with min-max and ratios against the baselines of the same run.
Every process it starts is stopped by its pid at the end.

Writes the results between the `bench:begin`/`bench:end` markers of
docs/BENCHMARKS.md (other sections are kept), raw JSON and plots (PNG,
gnuplot) under tests/bench/results/. Progress goes to stderr.

    bench.py --quick | --full  [--only 1,2,...] [--keep]
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CHAT_BUILD", os.path.join(ROOT, "build"))
RESULTS = os.path.join(ROOT, "tests", "bench", "results")
DOC = os.path.join(ROOT, "docs", "BENCHMARKS.md")
DYNSEC = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
LOAD_PASSWORD_ITER = 1000
# The load clients publish thousands of messages a second as one user: the
# plugin's per-user send rate limits (docs/ADMIN.md) are raised, not off,
# so that their cost is measured with the plugin's.
BENCH_PLUGIN_OPTS = dict(send_rate=1000000, send_burst=1000000, request_rate=1000000, request_burst=1000000)
T0 = time.monotonic()

# Parameters per suite. Each scenario's work is bounded by these counts and
# durations; the totals keep --quick under 5 minutes and --full under 30.
PROFILES = {
    "quick": dict(runs=3, fan_users=100, fan_rooms=10, fan_seconds=2, fan_rate=1000,
                  fan_sweep=[20, 200], bridge_users=100, bridge_rate=500,
                  storm=2000, idle=2000, hist_msgs=5000, naive_msgs=500, big_rows=300_000,
                  hist_requests=200, flood_seconds=3, acl_rounds=3),
    "full": dict(runs=5, fan_users=200, fan_rooms=20, fan_seconds=8, fan_rate=2000,
                 fan_sweep=[20, 50, 100, 200, 500, 1000], bridge_users=200, bridge_rate=1000,
                 storm=10000, idle=10000, hist_msgs=20000, naive_msgs=3000, big_rows=10_000_000,
                 hist_requests=1000, flood_seconds=5, acl_rounds=7),
}


def log(msg):
    print(f"bench [{time.monotonic() - T0:6.0f}s] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def med(values):
    """(median, min, max) of a list of numbers."""
    return (statistics.median(values), min(values), max(values)) if values else (0, 0, 0)


def fmt(m, digits=0, unit=""):
    v, lo, hi = m
    return f"{v:,.{digits}f}{unit} ({lo:,.{digits}f}–{hi:,.{digits}f})"


class Bench:
    def __init__(self, profile, var):
        self.p = PROFILES[profile]
        self.profile = profile
        self.var = var
        self.brokers = {}   # name -> (proc, port, dir)
        self.results = {}   # scenario -> data for the report
        self.raw = []
        self.stack_env = None

    # ---------- processes ----------

    def sql(self, query, db="chat"):
        return subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.var, "db/mariadb.sock"),
                               "-uroot", "-N", "-B", db, "-e", query],
                              capture_output=True, text=True, timeout=1800, check=True).stdout

    def stack_up(self):
        ports = {"db": free_port(), "hub": free_port(), "leaf": free_port()}
        self.ports = ports
        self.stack_env = dict(os.environ, CHAT_VAR=self.var, CHAT_BUILD=BUILD,
                              CHAT_DB_PORT=str(ports["db"]), CHAT_HUB_PORT=str(ports["hub"]),
                              CHAT_LEAF_PORT=str(ports["leaf"]), CHAT_LOG_LEVEL="info",
                              CHAT_HUB_WS_PORT=str(free_port()), CHAT_LEAF_WS_PORT=str(free_port()),
                              CHAT_PLUGIN_OPTS=";".join(f"{k} {v}" for k, v in BENCH_PLUGIN_OPTS.items()))
        log(f"starting the stack in {self.var} (db {ports['db']}, hub {ports['hub']}, leaf {ports['leaf']})")
        r = subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), "up"], env=self.stack_env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"stack.sh up failed:\n{r.stdout}\n{r.stderr}")
        with open(os.path.join(self.var, "secrets", "db-password")) as f:
            self.db_password = f.read().strip()

    def stack_down(self):
        if self.stack_env:
            subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), "down"], env=self.stack_env,
                           capture_output=True, text=True, timeout=120)

    def broker_conf(self, name, port, extra):
        d = os.path.join(self.var, f"bench-{name}")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        lines = [f"listener {port} 127.0.0.1", "persistence false", "max_queued_messages 10000",
                 "max_packet_size 65536", "set_tcp_nodelay true",
                 f"log_dest file {d}/mosquitto.log", "log_type error", "log_type warning",
                 "log_type notice"]
        if os.geteuid() == 0:
            lines.append("user root")
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines + extra) + "\n")
        os.chmod(conf, 0o600)
        return d, conf

    def plugin_lines(self, node, **options):
        opts = dict(node=node, db_host="127.0.0.1", db_port=self.ports["db"], db_user="chat",
                    db_password=self.db_password, db_name="chat", refresh_ms=500, **BENCH_PLUGIN_OPTS)
        opts.update(options)
        return ["allow_anonymous false", f"plugin {BUILD}/chat_auth.so"] + \
               [f"plugin_opt_{k} {v}" for k, v in opts.items()]

    def start_broker(self, name, extra):
        self.stop_broker(name)
        port = free_port()
        d, conf = self.broker_conf(name, port, extra)
        err = open(os.path.join(d, "stderr.log"), "a")
        proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=err, stderr=err, stdin=subprocess.DEVNULL)
        err.close()
        wait_port(port, proc)
        self.brokers[name] = (proc, port, d)
        return port

    def stop_broker(self, name):
        entry = self.brokers.pop(name, None)
        if not entry:
            return
        proc = entry[0]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for name in list(self.brokers):
            self.stop_broker(name)

    def rss_kb(self, pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    @staticmethod
    def split_count(n):
        """How many chatload processes n clients need: libmosquitto takes
        three descriptors per client, and each process has the open-file
        limit (20,000 on these machines) to itself."""
        import resource
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        per = max(500, (limit - 1000) // 3)
        return -(-n // per)

    def load_split(self, label, n, *args, timeout=600):
        """Runs n clients of chatload in as few processes as the descriptor
        limit allows, all at once (users PREFIX0..n-1 split by --user-offset),
        and merges their results: counts added, the storm's time is the
        slowest process's, CONNACK percentiles are the worst process's."""
        k = self.split_count(n)
        if k == 1:
            return self.load(label, "--users", n, *args, timeout=timeout)
        procs, outs = [], []
        for i in range(k):
            share = n // k + (1 if i < n % k else 0)
            offset = sum(n // k + (1 if j < n % k else 0) for j in range(i))
            out = os.path.join(self.var, f"load-result-{i}.json")
            outs.append(out)
            cmd = [os.path.join(BUILD, "chatload"), "--label", f"{label}-{i}", "--out", out,
                   "--password-file", self.password_file, "--users", str(share), "--user-offset", str(offset),
                   "--client-prefix", f"load{i}", *[str(a) for a in args]]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        parts = []
        for proc, out in zip(procs, outs):
            _, err = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"chatload {label} failed: {err[-2000:]}")
            with open(out) as f:
                parts.append(json.load(f))
        merged = dict(parts[0], label=label, users=n, processes=k)
        for key in ("ready", "refused", "failed"):
            merged[key] = sum(r[key] for r in parts)
        merged["connect_s"] = max(r["connect_s"] for r in parts)
        merged["connects_per_s"] = merged["ready"] / merged["connect_s"] if merged["connect_s"] else 0
        merged["connack_us"] = {q: max(r["connack_us"][q] for r in parts) for q in parts[0]["connack_us"]}
        merged["connack_us"]["count"] = sum(r["connack_us"]["count"] for r in parts)
        self.raw.append(merged)
        return merged

    def load(self, label, *args, timeout=600):
        """Runs chatload; returns its JSON result."""
        out = os.path.join(self.var, "load-result.json")
        cmd = [os.path.join(BUILD, "chatload"), "--label", label, "--out", out,
               "--password-file", self.password_file, *[str(a) for a in args]]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"chatload {label} failed: {r.stderr[-2000:]}")
        with open(out) as f:
            res = json.load(f)
        self.raw.append(res)
        return res

    # ---------- users ----------

    def room_counts(self):
        """Every room count a chat load uses (chatload puts user i in room
        i % R): the scenarios' rooms and the fan-out sweep's n // 10."""
        return sorted({self.p["fan_rooms"]} | {max(1, n // 10) for n in self.p["fan_sweep"]})

    def make_users(self, count, rooms):
        """bench0..bench{count-1}, all with one password (one PBKDF2 hash of
        1000 iterations copied by SQL: chatctl for 10,000 users would take
        minutes), user i in room benchroom{i % R} for every room count R a
        load uses (room_counts; rooms is the scenarios' own), so that every
        subscription and publish of every load is allowed; plus bench-bridge."""
        self.password = base64.b32encode(os.urandom(10)).decode().lower()
        self.password_file = os.path.join(self.var, "secrets", "bench-password")
        with open(self.password_file, "w") as f:
            f.write(self.password + "\n")
        os.chmod(self.password_file, 0o600)
        ctl = [os.path.join(BUILD, "chatctl"), "-c", os.path.join(self.var, "conf/db.conf")]
        for user, role in (("bench0", "user"), ("bench-bridge", "bridge")):
            subprocess.run(ctl + ["user", "add", user, "--role", role, "--iterations", str(LOAD_PASSWORD_ITER)],
                           input=self.password + "\n", text=True, check=True, capture_output=True, timeout=60)
        counts = sorted(set(self.room_counts()) | {rooms})
        members = "".join(f"""
INSERT IGNORE INTO room_members (room_id, user_id)
  SELECT r.id, u.id FROM users u JOIN rooms r
    ON r.name = CONCAT('benchroom', CAST(SUBSTRING(u.username, 6) AS UNSIGNED) % {r})
  WHERE u.username REGEXP '^bench[0-9]+$';""" for r in counts)
        self.sql(f"""
INSERT INTO rooms (name) SELECT CONCAT('benchroom', seq) FROM seq_0_to_{max(counts) - 1};
INSERT INTO users (username, pw_hash, role)
  SELECT CONCAT('bench', s.seq), u.pw_hash, 'user' FROM seq_1_to_{count - 1} s, users u WHERE u.username = 'bench0';
{members}
""")
        self.user_count, self.room_count = count, rooms
        time.sleep(1.5)  # the plugins reload within refresh_ms

    def dynsec_config(self, count, rooms, path):
        """A dynamic-security config giving bench users the chat rules of the
        bench rooms as explicit ACLs: publish only to .../msg/<own name>,
        subscribe and receive .../msg/+ of their room; everything else
        denied by default (receive included, as our plugin checks every
        delivery). The same memberships as make_users. Same password, PBKDF2-SHA512 with 1000 iterations."""
        counts = sorted(set(self.room_counts()) | {rooms})
        salt = os.urandom(12)
        pw = base64.b64encode(hashlib.pbkdf2_hmac("sha512", self.password.encode(), salt, LOAD_PASSWORD_ITER)).decode()
        salt_b64 = base64.b64encode(salt).decode()
        roles = [{"rolename": f"room{r}", "acls": [
            {"acltype": "subscribeLiteral", "topic": f"chat/v1/rooms/benchroom{r}/msg/+", "allow": True},
            {"acltype": "publishClientReceive", "topic": f"chat/v1/rooms/benchroom{r}/msg/+", "allow": True}]}
            for r in range(max(counts))]
        clients = []
        for i in range(count):
            mine = sorted({i % r for r in counts})
            roles.append({"rolename": f"send-bench{i}", "acls": [
                {"acltype": "publishClientSend", "topic": f"chat/v1/rooms/benchroom{r}/msg/bench{i}",
                 "allow": True} for r in mine]})
            clients.append({"username": f"bench{i}", "password": pw, "salt": salt_b64,
                            "iterations": LOAD_PASSWORD_ITER,
                            "roles": [{"rolename": f"room{r}"} for r in mine] + [{"rolename": f"send-bench{i}"}]})
        roles.append({"rolename": "bridge", "acls": [
            {"acltype": t, "topic": "#", "allow": True}
            for t in ("publishClientSend", "publishClientReceive", "subscribePattern", "unsubscribePattern")]})
        clients.append({"username": "bench-bridge", "password": pw, "salt": salt_b64,
                        "iterations": LOAD_PASSWORD_ITER, "roles": [{"rolename": "bridge"}]})
        conf = {"clients": clients, "roles": roles, "groups": [],
                "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                     "subscribe": False, "unsubscribe": True}}
        with open(path, "w") as f:
            json.dump(conf, f)
        os.chmod(path, 0o666)

    def variant_lines(self, variant, name):
        if variant == "bare":
            return ["allow_anonymous true"]
        if variant == "allow-all":
            # Mosquitto's own cost of an ACL plugin: every check is a call
            # into a plugin that allows everything (tests/bench/allow_all_plugin.c).
            return ["allow_anonymous false", f"plugin {BUILD}/allow_all.so"]
        if variant == "dynsec":
            path = os.path.join(self.var, f"dynsec-{name}.json")
            shutil.copy(self.dynsec_path, path)
            os.chmod(path, 0o666)
            return ["allow_anonymous false", f"plugin {DYNSEC}", f"plugin_opt_config_file {path}"]
        return self.plugin_lines(name)

    # ---------- scenarios ----------

    def s1_fanout(self):
        p = self.p
        variants = ["bare", "dynsec", "plugin", "allow-all"]
        ports = {v: self.start_broker(f"s1-{v}", self.variant_lines(v, f"s1{v}")) for v in variants}
        tput = {v: [] for v in variants}
        lat = {v: [] for v in variants}
        sweep = {v: {n: [] for n in p["fan_sweep"]} for v in variants}
        sweep_lost = {v: {n: [] for n in p["fan_sweep"]} for v in variants}
        for run in range(p["runs"]):
            order = variants[run % len(variants):] + variants[:run % len(variants)]
            for v in order:
                log(f"(1) fan-out run {run + 1}/{p['runs']} {v}: throughput")
                r = self.load(f"s1-{v}-tput", "--port", ports[v], "--users", p["fan_users"], "--rooms", p["fan_rooms"],
                              "--duration", p["fan_seconds"], "--qos", 1, "--size", 100, "--window", 10)
                tput[v].append(all_in(r))
                log(f"(1) fan-out run {run + 1}/{p['runs']} {v}: latency at {p['fan_rate']} msg/s")
                r = self.load(f"s1-{v}-lat", "--port", ports[v], "--users", p["fan_users"], "--rooms", p["fan_rooms"],
                              "--duration", p["fan_seconds"], "--qos", 1, "--size", 100, "--rate", p["fan_rate"])
                lat[v].append(all_in(r))
                for n in p["fan_sweep"]:
                    r = self.load(f"s1-{v}-n{n}", "--port", ports[v], "--users", n,
                                  "--rooms", max(1, n // 10), "--duration", max(1.5, p["fan_seconds"] / 2),
                                  "--qos", 1, "--size", 100, "--window", 10)
                    all_in(r)
                    sweep[v][n].append(r["delivered_per_s"])
                    sweep_lost[v][n].append({k: r[k] for k in ("ready", "failed", "refused", "sent", "lost")})
        for v in variants:
            self.stop_broker(f"s1-{v}")
        self.results["1"] = dict(tput=tput, lat=lat, sweep=sweep, sweep_lost=sweep_lost)

    def s2_bridge(self):
        p = self.p
        variants = ["bare", "dynsec", "plugin"]
        ports = {}
        for v in variants:
            hub = self.start_broker(f"s2-{v}-hub", self.variant_lines(v, f"s2{v}hub"))
            bridge = [f"connection s2-{v}-bridge", f"address 127.0.0.1:{hub}", f"remote_clientid s2-{v}-bridge",
                      "bridge_protocol_version mqttv311", "try_private true", "cleansession false",
                      "notifications false", "keepalive_interval 10", "restart_timeout 1 10",
                      "topic chat/v1/rooms/# both 1"]
            if v != "bare":
                bridge += ["remote_username bench-bridge", f"remote_password {self.password}"]
            leaf = self.start_broker(f"s2-{v}-leaf", self.variant_lines(v, f"s2{v}leaf") + bridge)
            ports[v] = (hub, leaf)
        time.sleep(2)  # bridges connect
        tput = {v: [] for v in variants}
        lat = {v: [] for v in variants}
        users, rooms = p["bridge_users"], p["fan_rooms"]
        pubs = users // 2
        for run in range(p["runs"]):
            order = variants[run % 3:] + variants[:run % 3]
            for v in order:
                hub, leaf = ports[v]
                log(f"(2) bridge hop run {run + 1}/{p['runs']} {v}")
                common = ["--port", leaf, "--sub-port", hub, "--users", users, "--rooms", rooms,
                          "--publishers", pubs, "--pubs-no-sub", "--qos", 1, "--size", 100,
                          "--duration", p["fan_seconds"]]
                tput[v].append(self.load(f"s2-{v}-tput", *common, "--window", 10))
                lat[v].append(self.load(f"s2-{v}-lat", *common, "--rate", p["bridge_rate"]))
        for v in variants:
            self.stop_broker(f"s2-{v}-leaf")
            self.stop_broker(f"s2-{v}-hub")
        self.results["2"] = dict(tput=tput, lat=lat)

    def s4_storm(self):
        p = self.p
        n = p["storm"]
        variants = {"bare": ["allow_anonymous true"],
                    "cache-on": self.plugin_lines("s4on"),
                    "cache-off": self.plugin_lines("s4off", cache_ttl_s=0)}
        res = {v: {"cold": [], "warm": []} for v in variants}
        for run in range(p["runs"]):
            for v, lines in variants.items():
                port = self.start_broker(f"s4-{v}", lines)  # fresh broker: empty login cache
                time.sleep(1.0 if v != "bare" else 0.2)     # snapshot loaded
                for phase in ("cold", "warm"):
                    log(f"(4) connect storm run {run + 1}/{p['runs']} {v} {phase}: {n} clients")
                    r = self.load_split(f"s4-{v}-{phase}", n, "--mode", "connect", "--port", port,
                                        "--max-pending", 20 // self.split_count(n) or 1, "--connect-timeout", 120,
                                        "--threads", 2)
                    res[v][phase].append(r)
                self.stop_broker(f"s4-{v}")
        self.results["4"] = res

    def s6_memory(self):
        p = self.p
        n = p["idle"]
        variants = {"bare": ["allow_anonymous true"], "plugin": self.plugin_lines("s6")}
        res = {v: [] for v in variants}
        for run in range(p["runs"]):
            for v, lines in variants.items():
                port = self.start_broker(f"s6-{v}", lines)
                time.sleep(1.0)
                pid = self.brokers[f"s6-{v}"][0].pid
                before = self.rss_kb(pid)
                log(f"(6) idle memory run {run + 1}/{p['runs']} {v}: {n} idle clients")
                k = self.split_count(n)
                procs = []
                for i in range(k):
                    share = n // k + (1 if i < n % k else 0)
                    offset = sum(n // k + (1 if j < n % k else 0) for j in range(i))
                    cmd = [os.path.join(BUILD, "chatload"), "--mode", "connect", "--port", str(port),
                           "--users", str(share), "--user-offset", str(offset), "--client-prefix", f"idle{i}",
                           "--hold", "8", "--label", f"s6-{v}-{i}", "--password-file", self.password_file,
                           "--connect-timeout", "120", "--out", os.path.join(self.var, f"s6-{i}.json")]
                    procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
                held = 0
                for proc in procs:   # every process holds its clients for 8 s once all are in
                    for line in proc.stderr:
                        if "holding" in line:
                            held += int(line.split("holding ")[1].split()[0])
                            break
                time.sleep(2)
                after = self.rss_kb(pid)
                for proc in procs:
                    proc.communicate(timeout=60)
                if held:
                    res[v].append(dict(before_kb=before, after_kb=after, clients=held,
                                       per_conn_b=(after - before) * 1024 / held))
                self.stop_broker(f"s6-{v}")
        self.results["6"] = res

    def s7_flood(self):
        p = self.p
        res = {"quiet": [], "attack": [], "attacker": [], "locked_after": []}
        wrong = os.path.join(self.var, "secrets", "wrong-password")
        with open(wrong, "w") as f:
            f.write("not-the-password\n")
        for run in range(p["runs"]):
            for phase in ("quiet", "attack"):
                port = self.start_broker("s7", self.plugin_lines("s7"))
                time.sleep(1.0)
                log(f"(7) bad-login flood run {run + 1}/{p['runs']}: legitimate client, {phase}")
                legit = [os.path.join(BUILD, "chatload"), "--port", str(port), "--users", "1", "--rate", "50",
                         "--duration", str(p["flood_seconds"] + 2), "--label", f"s7-{phase}",
                         "--password-file", self.password_file, "--out", os.path.join(self.var, "s7-legit.json")]
                lp = subprocess.Popen(legit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ap = None
                if phase == "attack":
                    time.sleep(1.0)
                    # Names with real 100,000-iteration hashes (the stack's demo
                    # users), a load user, and names nobody has.
                    attack = [os.path.join(BUILD, "chatload"), "--mode", "connect", "--port", str(port),
                              "--bind", "127.0.0.2", "--users", str(1000 * p["flood_seconds"]),
                              "--connect-rate", "1000", "--max-pending", "200", "--connect-timeout",
                              str(p["flood_seconds"] + 5), "--user-list", "alice,bob,bench1,nobody1,nobody2",
                              "--password-file", wrong, "--client-prefix", "attack", "--label", "s7-attacker",
                              "--out", os.path.join(self.var, "s7-attack.json")]
                    ap = subprocess.Popen(attack, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                lp.wait(timeout=120)
                with open(os.path.join(self.var, "s7-legit.json")) as f:
                    res[phase].append(json.load(f))
                if ap:
                    ap.wait(timeout=120)
                    with open(os.path.join(self.var, "s7-attack.json")) as f:
                        res["attacker"].append(json.load(f))
                    # Is 127.0.0.2 locked? A correct password from there must be refused now.
                    r = self.load("s7-locked-check", "--mode", "connect", "--port", port, "--users", 1,
                                  "--bind", "127.0.0.2", "--connect-timeout", 10)
                    res["locked_after"].append(r["refused"] == 1)
                self.stop_broker("s7")
        self.results["7"] = res

    def s8_acl(self):
        log("(8) ACL decision microbenchmark")
        r = subprocess.run([os.path.join(BUILD, "aclbench"), "--memberships", "10", "--memberships", "1000000",
                            "--rounds", str(self.p["acl_rounds"])], capture_output=True, text=True, timeout=600, check=True)
        self.results["8"] = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def bench_room_ids(self):
        return self.sql("SELECT GROUP_CONCAT(id) FROM rooms WHERE name LIKE 'benchroom%'").strip()

    def s3_history(self):
        """history-svc on the stack's hub (the whole system): the rate it
        stores at, against the rate the broker accepted the same messages
        at, and against naive autocommit INSERTs one per message."""
        p = self.p
        n = p["hist_msgs"]
        rooms = self.room_count
        ids = self.bench_room_ids()
        res = {"runs": [], "naive": []}
        self.sql("CREATE TABLE IF NOT EXISTS bench_naive (room_id BIGINT UNSIGNED NOT NULL, seq BIGINT UNSIGNED NOT NULL, "
                 "msg_id VARCHAR(64) NOT NULL, sender_id BIGINT UNSIGNED NOT NULL, body TEXT NOT NULL, "
                 "created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (room_id, seq), "
                 "UNIQUE KEY (room_id, sender_id, msg_id)) ENGINE=InnoDB")
        for run in range(p["runs"]):
            self.sql(f"DELETE FROM messages WHERE room_id IN ({ids})")  # ids repeat across runs
            t_db = self.sql("SELECT NOW(3)").strip()
            log(f"(3) history-svc run {run + 1}/{p['runs']}: {n} messages in {rooms} rooms through the hub")
            r = self.load(f"s3-{run}", "--port", self.ports["hub"], "--users", rooms * 10, "--rooms", rooms,
                          "--max-msgs", n, "--duration", 60, "--qos", 1, "--size", 100, "--window", 10, "--drain", 5)
            t_pub_end = time.monotonic()
            stored, last_change, deadline = -1, time.monotonic(), time.monotonic() + 180
            while time.monotonic() < deadline and time.monotonic() - last_change < 10:
                now_stored = int(self.sql(f"SELECT COUNT(*) FROM messages WHERE room_id IN ({ids})").strip())
                if now_stored != stored:
                    stored, last_change = now_stored, time.monotonic()
                if stored >= r["acked"]:
                    break
                time.sleep(0.3)
            backlog_s = max(0.0, last_change - t_pub_end)
            # From the first publish to the last commit: history-svc batches,
            # so created_at only moves once per transaction.
            cnt, span_us = self.sql(f"SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, '{t_db}', MAX(created_at)) "
                                    f"FROM messages WHERE room_id IN ({ids}) AND created_at >= '{t_db}'").split()
            span = max(int(span_us), 1) / 1e6
            res["runs"].append(dict(sent=r["sent"], acked=r["acked"], accepted_per_s=r["sent_per_s"],
                                    delivered_per_s=r["delivered_per_s"], stored=int(cnt),
                                    stored_per_s=int(cnt) / span, drain_after_publish_s=backlog_s,
                                    latency_us=r["latency_us"]))
            # naive baseline: the same number of rows, one autocommit INSERT each
            m = p["naive_msgs"]
            self.sql("TRUNCATE bench_naive")
            sqlfile = os.path.join(self.var, "naive.sql")
            with open(sqlfile, "w") as f:
                for i in range(m):
                    f.write(f"INSERT INTO bench_naive (room_id, seq, msg_id, sender_id, body) VALUES "
                            f"(1, {i + 1}, 'n{i}', 1, '{'x' * 100}');\n")
            log(f"(3) naive baseline run {run + 1}/{p['runs']}: {m} autocommit INSERTs")
            t = time.monotonic()
            with open(sqlfile) as f:
                subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.var, "db/mariadb.sock"),
                                "-uroot", "chat"], stdin=f, check=True, timeout=600)
            res["naive"].append(m / (time.monotonic() - t))
            res.setdefault("backlog", []).append(self.s3_backlog(run, ids, n * 3))
        self.sql(f"DELETE FROM messages WHERE room_id IN ({ids})")
        self.results["3"] = res

    def s3_backlog(self, run, ids, n):
        """history-svc's own ceiling: stopped, n messages queued for it on
        the hub, started again; rows / (last commit - start)."""
        rooms = self.room_count
        pidfile = os.path.join(self.var, "run", "history-svc.pid")
        self.sql(f"DELETE FROM messages WHERE room_id IN ({ids})")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        log(f"(3) backlog run {run + 1}/{self.p['runs']}: {n} messages queued while history-svc is stopped")
        r = self.load(f"s3-backlog-{run}", "--port", self.ports["hub"], "--users", rooms * 10, "--rooms", rooms,
                      "--max-msgs", n, "--duration", 60, "--qos", 1, "--size", 100, "--window", 10, "--drain", 1)
        t_db = self.sql("SELECT NOW(3)").strip()
        up = subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), "up"], env=self.stack_env,
                            capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            raise RuntimeError(f"restarting history-svc failed:\n{up.stdout}\n{up.stderr}")
        deadline = time.monotonic() + 180
        stored = 0
        while time.monotonic() < deadline:
            stored = int(self.sql(f"SELECT COUNT(*) FROM messages WHERE room_id IN ({ids})").strip())
            if stored >= r["acked"]:
                break
            time.sleep(0.2)
        span_us, steady_us, first_rows = self.sql(
            f"SELECT TIMESTAMPDIFF(MICROSECOND, '{t_db}', MAX(created_at)), "
            f"TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(created_at)), "
            f"SUM(created_at = (SELECT MIN(created_at) FROM messages WHERE room_id IN ({ids}))) "
            f"FROM messages WHERE room_id IN ({ids})").split()
        span = max(int(span_us or 1), 1) / 1e6
        # The span above includes starting the process (stack.sh, MariaDB
        # and broker connections: 0.4-1.5 s here); the steady rate is the
        # rows after the first commit over the time from it to the last.
        steady = max(int(steady_us or 1), 1) / 1e6
        return dict(acked=r["acked"], stored=stored, stored_per_s=stored / span,
                    steady_per_s=(stored - int(first_rows or 0)) / steady, startup_s=span - steady)

    def s5_history_page(self):
        """history page latency (MQTT request to reply through the hub and
        history-svc) on a room of big_rows rows and on a room of 1,000."""
        p = self.p
        big = p["big_rows"]
        uid = self.sql("SELECT id FROM users WHERE username = 'bench0'").strip()
        self.sql("INSERT IGNORE INTO rooms (name) VALUES ('benchbig'), ('benchsmall')")
        res = {}
        for room, rows in (("benchsmall", 1000), ("benchbig", big)):
            rid = self.sql(f"SELECT id FROM rooms WHERE name = '{room}'").strip()
            log(f"(5) filling {room} with {rows:,} rows")
            t = time.monotonic()
            chunk = 1_000_000
            for start in range(1, rows + 1, chunk):
                stop = min(rows, start + chunk - 1)
                self.sql(f"INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at) "
                         f"SELECT {rid}, seq, CONCAT('m', seq), {uid}, REPEAT('x', 100), NOW(3) "
                         f"FROM seq_{start}_to_{stop}")
                log(f"(5) {room}: {stop:,} rows")
            self.sql(f"UPDATE rooms SET last_seq = {rows} WHERE id = {rid}; "
                     f"INSERT IGNORE INTO room_members (room_id, user_id) VALUES ({rid}, {uid})")
            res[room] = dict(rows=rows, fill_s=time.monotonic() - t, runs=[])
        time.sleep(1.5)  # membership reaches the plugins
        for run in range(p["runs"]):
            for room in ("benchsmall", "benchbig"):
                log(f"(5) history page run {run + 1}/{p['runs']} {room}: {p['hist_requests']} requests")
                r = self.load(f"s5-{room}", "--mode", "history", "--port", self.ports["hub"], "--users", 1,
                              "--user-list", "bench0", "--history-room", room,
                              "--history-max-seq", res[room]["rows"], "--history-limit", 50,
                              "--requests", p["hist_requests"], "--duration", 60, "--drain", 2)
                res[room]["runs"].append(r)
        self.results["5"] = res


def all_in(r):
    """Returns chatload result r, or raises when a client's login or
    subscription was refused: the variants would not carry the same load
    (as the sweep once did, its users not members of the rooms it used)."""
    if r["failed"] or r["refused"]:
        raise RuntimeError(f"{r['label']}: {r['failed']} subscriptions failed, {r['refused']} logins refused")
    return r


def raise_fd_limit():
    """The connect storm and the idle-memory scenario hold 10,000 clients in
    chatload (three descriptors each with libmosquitto) and as many in the
    broker: raise the descriptor limit for us and our children (root may
    raise the hard limit too)."""
    import resource
    want = 200_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log(f"open-file limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the state directory")
    ap.add_argument("--json", default="", help="write the results to this file only (docs/BENCHMARKS.md untouched)")
    ap.add_argument("--runs", type=int, default=0, help="interleaved rounds per scenario (default: the profile's)")
    args = ap.parse_args()
    profile = "full" if args.full else "quick"
    raise_fd_limit()
    var = tempfile.mkdtemp(prefix="chat-bench-")
    os.chmod(var, 0o755)
    b = Bench(profile, var)
    if args.runs > 0:
        b.p = dict(b.p, runs=args.runs)
    only = set(args.only.split(",")) if args.only else None
    rc = 1
    try:
        b.stack_up()
        b.make_users(max(b.p["storm"], b.p["idle"], b.p["fan_sweep"][-1], 300), b.p["fan_rooms"])
        b.dynsec_path = os.path.join(var, "dynsec.json")
        b.dynsec_config(max(b.p["fan_sweep"][-1], b.p["bridge_users"], b.p["fan_users"]), b.p["fan_rooms"], b.dynsec_path)
        for key, fn in (("8", b.s8_acl), ("1", b.s1_fanout), ("2", b.s2_bridge), ("3", b.s3_history),
                        ("4", b.s4_storm), ("5", b.s5_history_page), ("6", b.s6_memory), ("7", b.s7_flood)):
            if only and key not in only:
                continue
            t = time.monotonic()
            fn()
            log(f"scenario ({key}) took {time.monotonic() - t:.0f} s")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import report
        if args.json:
            report.save(b, args.json)
        else:
            report.write(b, DOC, RESULTS)
        rc = 0
    finally:
        b.stop_all()
        b.stack_down()
        if args.keep:
            log(f"state kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
        log(f"total {time.monotonic() - T0:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
