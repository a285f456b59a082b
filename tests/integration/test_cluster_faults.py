"""Cluster fault tests: every broker node in its own network namespace.

The test makes namespaces <p>sw (a Linux bridge as the switch), <p>hub,
<p>l1, <p>l2 (one Mosquitto each, addresses 10.231.7.0/24, which exist only
inside these namespaces) and <p>cli (HAProxy in front of the leaves and the
test's clients), joined by veth pairs; MariaDB is the session stack's, reached
through its unix socket. history-svc and presence-svc run in the hub's
namespace. Under chat load (4 users through HAProxy, 5 messages/s each) it
cuts a leaf's link to the hub for 10 s, SIGKILLs a leaf, restarts the hub and
restarts MariaDB, and after each checks: every message the broker
acknowledged is stored exactly once with gapless seq, every client's
catch-up from history holds every stored message once in seq order (and every
message it saw live), and presence is right again within the documented
10.5 s (+ margin). Everything is deleted afterwards, also on failure. Needs
root (CAP_NET_ADMIN): otherwise skipped with the reason."""
import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest

from conftest import BUILD, ROOT

PFX = f"cc{os.getpid() % 100000}"
NET = "10.231.7"
ADDR = {"hub": f"{NET}.1", "l1": f"{NET}.11", "l2": f"{NET}.12", "cli": f"{NET}.100"}
USERS = ["cfa", "cfb", "cfc", "cfd"]
RATE_S = 0.2          # each user publishes every 0.2 s
PRESENCE_S = 10.5 + 10  # documented bound for a lost node, plus margin
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def nsx(ns, *args, **kw):
    return ["ip", "netns", "exec", f"{PFX}{ns}", *args]


@contextmanager
def in_netns(ns):
    """Runs the block (and threads it starts) in namespace ns: sockets made
    here stay there."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{PFX}{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        _libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(target)


def make_namespaces():
    made = []
    try:
        ip("netns", "add", f"{PFX}sw")
        made.append("sw")
        ip("-n", f"{PFX}sw", "link", "add", "br0", "type", "bridge")
        ip("-n", f"{PFX}sw", "link", "set", "br0", "up")
        ip("-n", f"{PFX}sw", "link", "set", "lo", "up")
        for ns, addr in ADDR.items():
            ip("netns", "add", f"{PFX}{ns}")
            made.append(ns)
            ip("link", "add", f"{PFX}{ns}a", "netns", f"{PFX}{ns}", "type", "veth",
               "peer", "name", f"{PFX}{ns}b", "netns", f"{PFX}sw")
            ip("-n", f"{PFX}{ns}", "addr", "add", f"{addr}/24", "dev", f"{PFX}{ns}a")
            ip("-n", f"{PFX}{ns}", "link", "set", f"{PFX}{ns}a", "up")
            ip("-n", f"{PFX}{ns}", "link", "set", "lo", "up")
            ip("-n", f"{PFX}sw", "link", "set", f"{PFX}{ns}b", "master", "br0")
            ip("-n", f"{PFX}sw", "link", "set", f"{PFX}{ns}b", "up")
    except Exception:
        delete_namespaces(made)
        raise
    return made


def delete_namespaces(made):
    for ns in made:
        ip("netns", "del", f"{PFX}{ns}", check=False)


class Proc:
    """A process started in a namespace; stopped by its pid only."""

    def __init__(self, ns, argv, log):
        self.ns, self.argv, self.logpath = ns, argv, log
        self.start()

    def start(self):
        self.log = open(self.logpath, "a")
        env = dict(os.environ)
        if os.environ.get("CHAT_SANITIZED") and self.argv[0] == "mosquitto":
            # The instrumented plugin needs the sanitizer runtimes loaded first.
            lib = lambda name: subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True,
                                              text=True).stdout.strip()
            env["LD_PRELOAD"] = f"{lib('libasan.so')} {lib('libubsan.so')}"
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        self.p = subprocess.Popen(nsx(self.ns, *self.argv), stdout=self.log, stderr=self.log, env=env)

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()

    def restart(self, sig=signal.SIGTERM):
        self.kill(sig)
        self.start()


class NsCluster:
    def __init__(self, stack):
        self.stack = stack
        self.dir = os.path.join(stack.var, f"netns-{PFX}")
        os.makedirs(self.dir, exist_ok=True)
        self.procs = {}
        sock = os.path.join(stack.var, "db/mariadb.sock")
        dbpw = open(os.path.join(stack.var, "secrets/db-password")).read().strip()
        for u in ["bridge-l1", "bridge-l2"]:
            r = stack.chatctl("user", "add", u, "--role", "bridge", "--iterations", "1000", stdin="bp-" + u + "\n")
            assert r.returncode == 0 or "exists" in r.stderr, r.stderr
        for node in ["hub", "l1", "l2"]:
            d = os.path.join(self.dir, node)
            os.makedirs(d, exist_ok=True)
            env = dict(os.environ, RUN_AS="root", NODE=node, PORT="1883", BIND="0.0.0.0", STATE_DIR=d,
                       PLUGIN=os.path.join(BUILD, "chat_auth.so"), DB_SOCKET=sock, DB_USER="chat",
                       DB_PASSWORD=dbpw, DB_NAME="chat")
            if node != "hub":
                env.update(HUB_HOST=ADDR["hub"], HUB_PORT="1883", BRIDGE_USER=f"bridge-{node}",
                           BRIDGE_PASSWORD=f"bp-bridge-{node}")
            subprocess.run([os.path.join(ROOT, "mosquitto-conf/gen-node-conf.sh"), f"{d}/mosquitto.conf"],
                           env=env, check=True)
            self.procs[node] = Proc(node, ["mosquitto", "-c", f"{d}/mosquitto.conf"], f"{d}/stderr.log")
        env = dict(os.environ, LB_BIND="127.0.0.1", LB_PORT="1883",
                   LEAVES=f"l1={ADDR['l1']}:1883 l2={ADDR['l2']}:1883")
        subprocess.run([os.path.join(ROOT, "mosquitto-conf/gen-haproxy-conf.sh"), f"{self.dir}/haproxy.cfg"],
                       env=env, check=True)
        self.wait_log("hub", "as l1-bridge")
        self.wait_log("hub", "as l2-bridge")
        self.procs["haproxy"] = Proc("cli", ["haproxy", "-db", "-f", f"{self.dir}/haproxy.cfg"], f"{self.dir}/haproxy.log")
        for svc, user in [("history-svc", "history"), ("presence-svc", "presence")]:
            conf = f"{self.dir}/{svc}.conf"
            with open(conf, "w") as f:
                f.write(f"db_socket = {sock}\ndb_user = chat\ndb_password = {dbpw}\ndb_name = chat\n"
                        f"mqtt_host = 127.0.0.1\nmqtt_port = 1883\nmqtt_user = {user}\n"
                        f"mqtt_password = {stack.password(user)}\nmqtt_client_id = {svc}-{PFX}\n"
                        f"mqtt_persistence_dir = {self.dir}/{svc}.persist\nlog_level = debug\n")
            os.chmod(conf, 0o600)
            self.procs[svc] = Proc("hub", [os.path.join(BUILD, svc), "-c", conf], f"{self.dir}/{svc}.log")
        self.wait_log("history-svc", "connected to", path=f"{self.dir}/history-svc.log")

    def wait_log(self, node, text, timeout=30, path=None, after=0):
        path = path or os.path.join(self.dir, node, "mosquitto.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path) and text in open(path, errors="replace").read()[after:]:
                return
            time.sleep(0.2)
        raise AssertionError(f"no '{text}' in {path} within {timeout}s")

    def log_size(self, node):
        p = os.path.join(self.dir, node, "mosquitto.log")
        return len(open(p, errors="replace").read()) if os.path.exists(p) else 0

    def logs(self):
        out = []
        for rel in ["hub/mosquitto.log", "l1/mosquitto.log", "l2/mosquitto.log", "haproxy.log",
                    "history-svc.log", "presence-svc.log"]:
            p = os.path.join(self.dir, rel)
            if os.path.exists(p):
                out.append(f"===== {rel} =====\n" + "".join(open(p, errors="replace").readlines()[-40:]))
        return "\n".join(out)

    def stop(self):
        for name in ["haproxy", "presence-svc", "history-svc", "l1", "l2", "hub"]:
            if name in self.procs:
                self.procs[name].kill(signal.SIGTERM)


class ChatUser:
    """One user's client through HAProxy: publishes to the room at a steady
    rate, keeps each message until history-svc's receipt (resending it with
    the same id after a reconnect, as PROTOCOL.md prescribes), records what
    the broker acknowledged and what it saw live."""

    def __init__(self, user, password, room):
        self.user, self.room = user, room
        self.topic = f"chat/v1/rooms/{room}/msg/{user}"
        self.inbox = f"chat/v1/users/{user}/inbox"
        self.lock = threading.Lock()
        self.mids, self.acked, self.pending, self.live = {}, set(), {}, []
        self.replies = queue.Queue()
        self.presence = {}
        self.resent = 0
        self.sent = 0
        self.c = mqtt.Client(client_id=f"{user}-{PFX}", clean_session=True)
        self.c.username_pw_set(user, password)
        self.c.reconnect_delay_set(1, 2)
        self.c.on_connect = self.on_connect
        self.c.on_publish = self.on_publish
        self.c.on_message = self.on_message
        self.connected = threading.Event()
        self.c.connect("127.0.0.1", 1883, keepalive=10)
        self.c.loop_start()
        assert self.connected.wait(15), f"{user} did not connect through HAProxy"
        self.stop = threading.Event()

    def on_connect(self, c, u, f, rc):
        if rc == 0:
            c.subscribe([(self.inbox, 1), (f"chat/v1/rooms/{self.room}/msg/+", 1), ("chat/v1/presence/+", 1)])
            self.connected.set()
            # Messages without a receipt go again under the same id.
            with self.lock:
                for mid, body in list(self.pending.items()):
                    self._publish(mid, body)
                    self.resent += 1

    def _publish(self, mid, body):
        info = self.c.publish(self.topic, json.dumps({"id": mid, "body": body}), qos=1)
        self.mids[info.mid] = mid

    def on_publish(self, c, u, mid):
        with self.lock:
            if mid in self.mids:
                self.acked.add(self.mids.pop(mid))

    def on_message(self, c, u, m):
        if m.topic == self.inbox:
            d = json.loads(m.payload)
            if d.get("type") == "receipt":
                with self.lock:
                    self.pending.pop(d["id"], None)
            elif d.get("type") == "reply":
                self.replies.put(d)
        elif m.topic.startswith("chat/v1/presence/"):
            if m.payload:
                d = json.loads(m.payload)
                self.presence[d["user"]] = (d["state"], d.get("devices"))
        else:
            self.live.append(json.loads(m.payload)["id"])

    def run(self, until):
        while not self.stop.is_set() and time.monotonic() < until:
            mid = f"{self.user}-{self.sent:05d}"
            with self.lock:
                self.pending[mid] = f"load {self.sent}"
                self._publish(mid, f"load {self.sent}")
            self.sent += 1
            time.sleep(RATE_S)

    def history(self):
        """Catch-up from seq 0, page by page; the replies in seq order."""
        got, after = [], 0
        for _ in range(100):
            rid = uuid.uuid4().hex[:8]
            self.c.publish(f"chat/v1/users/{self.user}/req/history",
                           json.dumps({"op": "history", "req_id": rid, "room": self.room, "limit": 250, "after": after}), qos=1)
            deadline = time.monotonic() + 20
            while True:
                d = self.replies.get(timeout=max(0.1, deadline - time.monotonic()))
                if d.get("req_id") == rid:
                    break
            assert d["ok"], d
            got += d["messages"]
            if len(d["messages"]) < 250:
                return got
            after = d["messages"][-1]["seq"]
        return got

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def nscluster(stack):
    if os.geteuid() != 0:
        pytest.skip("cluster fault tests need root (CAP_NET_ADMIN) to create network namespaces")
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (make deps installs it)")
    probe = ip("netns", "add", f"{PFX}probe", check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create network namespaces here: {probe.stderr.strip()}")
    ip("netns", "del", f"{PFX}probe", check=False)
    made = make_namespaces()
    cl = None
    try:
        for u in USERS:
            r = stack.chatctl("user", "add", u, "--iterations", "1000", stdin=f"pw-{u}\n")
            assert r.returncode == 0 or "exists" in r.stderr, r.stderr
            with open(os.path.join(stack.var, "secrets", f"user-{u}"), "w") as f:
                f.write(f"pw-{u}")
        cl = NsCluster(stack)
        yield cl
    finally:
        if cl is not None:
            cl.stop()
        delete_namespaces(made)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cl = item.funcargs.get("nscluster") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and cl is not None:
        report.sections.append(("cluster logs", cl.logs()))


def run_fault(cl, stack, fault, load_s=24, fault_at=6):
    room = "cf-" + uuid.uuid4().hex[:8]
    assert stack.chatctl("room", "create", room).returncode == 0
    for u in USERS:
        assert stack.chatctl("member", "add", room, u).returncode == 0
    time.sleep(1.5)
    with in_netns("cli"):
        users = [ChatUser(u, f"pw-{u}", room) for u in USERS]
        threads = [threading.Thread(target=u.run, args=(time.monotonic() + load_s,)) for u in users]
    try:
        for t in threads:
            t.start()
        time.sleep(fault_at)
        fault()
        for t in threads:
            t.join(timeout=load_s + 30)
        # Wait for every receipt (resends happen on reconnect).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(u.pending for u in users):
            time.sleep(0.5)
        assert not any(u.pending for u in users), {u.user: len(u.pending) for u in users}
        rows = stack.sql(f"SELECT m.seq, m.msg_id FROM messages m JOIN rooms r ON r.id = m.room_id "
                         f"WHERE r.name = '{room}' ORDER BY m.seq")
        seqs, ids = [int(s) for s, _ in rows], [i for _, i in rows]
        assert seqs == list(range(1, len(rows) + 1)), "seq must be 1..N with no gap"
        assert len(ids) == len(set(ids)), "a message was stored twice"
        acked = set().union(*(u.acked for u in users))
        assert not acked - set(ids), f"acknowledged but not stored: {sorted(acked - set(ids))[:5]}"
        assert len(acked) == sum(u.sent for u in users) == len(ids)
        for u in users:
            hist = u.history()
            assert [m["seq"] for m in hist] == seqs, f"{u.user}: catch-up is not every message once in seq order"
            assert [m["id"] for m in hist] == ids
            assert set(u.live) <= set(ids), f"{u.user} saw live a message that was not stored"
        # Presence: everyone online on exactly one device, then one leaves.
        deadline = time.monotonic() + PRESENCE_S
        while time.monotonic() < deadline:
            if all(users[0].presence.get(x) == ("online", 1) for x in USERS):
                break
            time.sleep(0.5)
        assert all(users[0].presence.get(x) == ("online", 1) for x in USERS), users[0].presence
        users[3].close()
        deadline = time.monotonic() + PRESENCE_S
        while time.monotonic() < deadline and users[0].presence.get(USERS[3], (None,))[0] != "offline":
            time.sleep(0.5)
        assert users[0].presence.get(USERS[3], (None,))[0] == "offline", users[0].presence
        return {"stored": len(ids), "resent": sum(u.resent for u in users)}
    finally:
        for u in users:
            u.stop.set()
        for u in users:
            try:
                u.close()
            except Exception:
                pass
        time.sleep(1)


def test_cut_leaf_link_to_hub_for_10s(nscluster, stack):
    cl = nscluster

    def cut():
        ip("-n", f"{PFX}l1", "route", "add", "blackhole", f"{ADDR['hub']}/32")
        ip("-n", f"{PFX}hub", "route", "add", "blackhole", f"{ADDR['l1']}/32")
        time.sleep(10)
        ip("-n", f"{PFX}l1", "route", "del", "blackhole", f"{ADDR['hub']}/32")
        ip("-n", f"{PFX}hub", "route", "del", "blackhole", f"{ADDR['l1']}/32")
    plog = os.path.join(cl.dir, "presence-svc.log")
    before = os.path.getsize(plog)
    print(run_fault(cl, stack, cut))
    # The cut was real: the hub side stopped hearing l1 (and heard it again).
    text = open(plog, errors="replace").read()[before:]
    assert "node l1 silent" in text and "node l1 is back" in text


def test_sigkill_a_leaf_clients_move_through_haproxy(nscluster, stack):
    cl = nscluster

    def kill_and_restart():
        cl.procs["l2"].kill(signal.SIGKILL)
        time.sleep(5)
        size = cl.log_size("hub")
        cl.procs["l2"].start()
        cl.wait_log("hub", "as l2-bridge", after=size)
    hlog = os.path.join(cl.dir, "haproxy.log")
    before = os.path.getsize(hlog)
    print(run_fault(cl, stack, kill_and_restart))
    text = open(hlog, errors="replace").read()[before:]
    assert "l2 is DOWN" in text and "l2 is UP" in text, "HAProxy's health check must have seen l2 go and come back"


def test_restart_the_hub(nscluster, stack):
    cl = nscluster

    def restart():
        size = cl.log_size("hub")
        cl.procs["hub"].restart()
        cl.wait_log("hub", "as l1-bridge", after=size)
        cl.wait_log("hub", "as l2-bridge", after=size)
    print(run_fault(cl, stack, restart))


def test_restart_mariadb(nscluster, stack):
    def restart():
        pid = int(open(os.path.join(stack.var, "run/mariadb.pid")).read())
        os.kill(pid, signal.SIGKILL)
        time.sleep(2)
        assert stack.script("up", check=False).returncode == 0
    print(run_fault(nscluster, stack, restart))
