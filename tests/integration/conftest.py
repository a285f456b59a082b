"""Integration fixtures: one real stack per test session.

The stack is started by the same scripts/stack.sh that `make up` uses, in a
temporary state directory and on free loopback ports, so the tests exercise
exactly what a user runs. On a failing test the logs of the brokers and
services are attached to the report; with CHAT_SANITIZED=1 the session fails
if any sanitizer report appears in a log.
"""
import ctypes
import functools
import glob
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CHAT_BUILD", os.path.join(ROOT, "build"))
LOGS = ["hub/mosquitto.log", "leaf/mosquitto.log", "log/hub.stderr", "log/leaf.stderr",
        "log/history-svc.log", "log/presence-svc.log", "log/push-svc.log", "log/push-svc-test.log", "log/mariadb.log"]
# How long a test waits for something that should happen: generous, because
# the suite runs on a slow, loaded machine, and free when it happens early.
WAIT_S = 30.0
# Client.rc when the broker closed the connection without a CONNACK: what
# the plugin answers where it never checked the password (locked, slowed,
# busy, a back-end that cannot check; docs/PROTOCOL.md 1).
NO_CONNACK = "closed without CONNACK"
# The plugin's per-user send rate limits (docs/ADMIN.md) are set for people;
# tests and benchmarks publish thousands of messages a second as one user.
# Raised rather than off, so that the limiter still runs in every test, for
# every broker a test starts: stack.sh's (through CHAT_PLUGIN_OPTS, inherited
# by the stacks of other test modules too) and SoloBroker's, where a test's
# own options win. test_send_rate.py tests the limits themselves.
TEST_PLUGIN_OPTS = {"send_rate": 1000000, "send_burst": 1000000,
                    "request_rate": 1000000, "request_burst": 1000000}
os.environ.setdefault("CHAT_PLUGIN_OPTS", ";".join(f"{k} {v}" for k, v in TEST_PLUGIN_OPTS.items()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=WAIT_S, step=0.1):
    """Polls pred() until it returns something true, at most timeout
    seconds; returns that value, or pred()'s last (false) value. The only
    place where the suite sleeps to wait for a condition."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def wait_for(pred, what, timeout=WAIT_S, step=0.1, retry_on=()):
    """Like wait_until, but fails the test, naming what (and pred()'s last
    value), when pred() is still false at the deadline; returns pred()'s
    true value. Exceptions of the types in retry_on count as false (a page
    redrawn under a test, say)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = pred()
        except retry_on as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {what} within {timeout}s (last: {last!r})")
        time.sleep(step)


def wait_out_window(seconds, what):
    """Sleeps through a documented time window (a lock, a check interval)
    whose end, or what happens inside it, is what the test checks; what
    names the window. The one kind of fixed wait allowed besides the poll
    interval of wait_until."""
    assert what
    if seconds > 0:
        time.sleep(seconds)


@functools.lru_cache(maxsize=None)
def sanitizer_preload():
    """The LD_PRELOAD value that puts the ASan and UBSan runtimes first."""
    lib = lambda name: subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True,
                                      text=True).stdout.strip()
    return f"{lib('libasan.so')} {lib('libubsan.so')}"


def sanitizer_env(env=None, broker=True):
    """env (default: this process's) for a process a test starts. With
    CHAT_SANITIZED=1 an uninstrumented Mosquitto (broker) that loads the
    instrumented plugin needs the ASan and UBSan runtimes first in its
    library list, with the options scripts/stack.sh gives the stack's
    brokers; our own programs link the runtimes and keep env as it is."""
    env = dict(os.environ if env is None else env)
    if os.environ.get("CHAT_SANITIZED") and broker:
        env["LD_PRELOAD"] = sanitizer_preload()
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def is_broker(argv):
    return any(os.path.basename(a) == "mosquitto" for a in argv)


def start_process(argv, env=None, **kw):
    """subprocess.Popen for every broker, service or client a test starts
    by hand, with the sanitizer environment applied (sanitizer_env)."""
    return subprocess.Popen(argv, env=sanitizer_env(env, is_broker(argv)), **kw)


def run_process(argv, env=None, **kw):
    """subprocess.run with the sanitizer environment applied, for a broker
    or program expected to exit by itself."""
    return subprocess.run(argv, env=sanitizer_env(env, is_broker(argv)), **kw)


def wait_listening(port, timeout=WAIT_S, proc=None, host="127.0.0.1"):
    """True once something accepts TCP connections on host:port; False on
    timeout or when proc (a Popen) has exited."""
    def up():
        if proc is not None and proc.poll() is not None:
            return None
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            return False
    return bool(wait_until(lambda: up() is not False, timeout) and up())


def broker_barrier(port, timeout=WAIT_S):
    """Returns once the broker on port has run through its main loop since
    the call: it is sent a packet that is not a CONNECT, which it answers by
    closing the connection, with no plugin involved (no login, no flood
    accounting). Whatever the broker was doing in its loop when this was
    called (a SIGHUP reload, say) is then complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\xe0\x00")  # DISCONNECT before CONNECT: a protocol error
        try:
            while sock.recv(64):
                pass
        except ConnectionResetError:
            pass


def inbox(user):
    """The topic of user's inbox (replies, receipts, errors)."""
    return f"chat/v1/users/{user}/inbox"


def req_topic(user, service="history"):
    """The topic user sends service's requests to."""
    return f"chat/v1/users/{user}/req/{service}"


def ask(client, user, req, service="history", timeout=WAIT_S):
    """Sends req (a dict, or raw bytes) as user to service and returns the
    decoded reply with the same req_id (a dict without one gets a fresh
    req_id; raw bytes wait for a reply with req_id null). client must be
    subscribed to user's inbox."""
    if isinstance(req, dict) and "req_id" not in req:
        req = dict(req, req_id=uuid.uuid4().hex[:12])
    rid = req.get("req_id") if isinstance(req, dict) else None
    client.publish(req_topic(user, service), req)
    return client.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("req_id") == rid,
                              timeout=timeout)


def fresh_room(stack, *members, prefix="r", name=None):
    """Creates a room (a new unique name with prefix, or name) with these
    members; returns its name once every broker applies the memberships."""
    room = name or prefix + uuid.uuid4().hex[:10]
    r = stack.chatctl("room", "create", room)
    assert r.returncode == 0, r.stderr
    for m in members:
        r = stack.chatctl("member", "add", room, m)
        assert r.returncode == 0, r.stderr
    stack.sync_auth()
    return room


SNAPSHOT_RE = re.compile(r"chat-auth: snapshot version (\d+)")


def snapshot_version(log_path):
    """The auth snapshot version the plugin last adopted, from a broker's
    log (its "chat-auth: snapshot version N" line); -1 if none yet."""
    try:
        with open(log_path, errors="replace") as f:
            found = SNAPSHOT_RE.findall(f.read())
    except OSError:
        return -1
    return int(found[-1]) if found else -1


def wait_snapshot(version, log_paths, timeout=WAIT_S):
    """Waits until the plugin behind each broker log has adopted auth
    snapshot version (or a newer one); fails naming the laggards."""
    lagging = lambda: [p for p in log_paths if snapshot_version(p) < version]
    if wait_until(lambda: not lagging(), timeout):
        return
    raise AssertionError(f"auth snapshot {version} not adopted within {timeout}s by "
                         + ", ".join(f"{p} (at {snapshot_version(p)})" for p in lagging()))


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Net:
    """The network namespaces of one test cluster, named <pfx><node>: node
    has address addr[node] on a /24 whose switch is a Linux bridge in
    namespace <pfx>sw, joined to it by a veth pair (<pfx><node>a inside,
    <pfx><node>b on the bridge). up() builds them and down() deletes them;
    scripts/galera.sh builds the Galera nodes' the same way, and a Net over
    those (never up()) only cuts and heals links."""

    def __init__(self, pfx, nodes, addr):
        self.pfx, self.nodes, self.addr, self.made = pfx, nodes, addr, []
        self.cut_method = "iptables" if shutil.which("iptables") else "blackhole routes"

    def ns(self, node):
        return f"{self.pfx}{node}"

    def exec(self, node, *argv):
        return ["ip", "netns", "exec", self.ns(node), *argv]

    def up(self):
        try:
            ip("netns", "add", self.ns("sw"))
            self.made.append("sw")
            ip("-n", self.ns("sw"), "link", "add", "br0", "type", "bridge")
            ip("-n", self.ns("sw"), "link", "set", "br0", "up")
            ip("-n", self.ns("sw"), "link", "set", "lo", "up")
            for node in self.nodes:
                ns = self.ns(node)
                ip("netns", "add", ns)
                self.made.append(node)
                ip("link", "add", f"{ns}a", "netns", ns, "type", "veth", "peer", "name", f"{ns}b", "netns", self.ns("sw"))
                ip("-n", ns, "addr", "add", f"{self.addr[node]}/24", "dev", f"{ns}a")
                ip("-n", ns, "link", "set", f"{ns}a", "up")
                ip("-n", ns, "link", "set", "lo", "up")
                ip("-n", self.ns("sw"), "link", "set", f"{ns}b", "master", "br0")
                ip("-n", self.ns("sw"), "link", "set", f"{ns}b", "up")
        except Exception:
            self.down()
            raise

    def down(self):
        for node in self.made:
            ip("netns", "del", self.ns(node), check=False)
        self.made = []

    def _cut(self, a, b, add):
        for here, there in ((a, b), (b, a)):
            if self.cut_method == "iptables":
                # Silently dropped on arrival: neither side hears anything,
                # as with a pulled cable (no RST, no ICMP, no local error).
                subprocess.run(self.exec(here, "iptables", "-w", "-A" if add else "-D", "INPUT",
                                         "-s", self.addr[there], "-j", "DROP"),
                               capture_output=True, text=True, timeout=20, check=True)
            else:
                ip("-n", self.ns(here), "route", "add" if add else "del", "blackhole", f"{self.addr[there]}/32")

    def link(self, node, up):
        """Takes node's one link down (a pulled cable: nobody, host or
        peer, reaches it or hears from it; its own sockets see nothing) or
        up again."""
        ip("-n", self.ns(node), "link", "set", f"{self.ns(node)}a", "up" if up else "down")

    def partition(self, a, b):
        self._cut(a, b, True)

    def heal(self, a, b):
        self._cut(a, b, False)

    @contextmanager
    def inside(self, node):
        """Runs the block (and threads it starts) in namespace node: sockets
        made there stay there."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{self.ns(node)}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            yield
        finally:
            _libc.setns(own, CLONE_NEWNET)
            os.close(own)
            os.close(target)


class Client:
    """A paho MQTT client that queues what it receives, connected as user to
    the stack's node (or to host:port, with TLS trusting tls_ca, over
    transport "tcp" or "websockets"); rc is the CONNACK's code, or NO_CONNACK."""

    def __init__(self, stack, user, node, password=None, client_id=None, protocol=mqtt.MQTTv311,
                 bind_address="", port=None, host="127.0.0.1", tls_ca=None, transport="tcp"):
        self.user = user
        self.messages = queue.Queue()
        self.connected = queue.Queue()
        self.subacked = set()
        self.client_id = client_id or f"test-{user}-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(client_id=self.client_id,
                                  clean_session=None if protocol == mqtt.MQTTv5 else True,
                                  protocol=protocol, transport=transport)
        self.client.username_pw_set(user, stack.password(user) if password is None else password)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        # MQTT 5 callbacks take a properties argument too.
        self.client.on_connect = lambda c, u, f, rc, *props: self.connected.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.on_subscribe = lambda c, u, mid, *rest: self.subacked.add(mid)
        # Before a CONNACK, a disconnect is the broker's refusal without one
        # (after it, the first rc is already taken and this goes unread).
        self.client.on_disconnect = lambda c, u, rc, *props: self.connected.put(NO_CONNACK)
        self.client.connect(host, port or stack.port(node), keepalive=30, bind_address=bind_address)
        self.client.loop_start()
        self.rc = self.connected.get(timeout=WAIT_S)
        if self.rc != 0:
            # paho would retry a refused login in the background forever.
            self.client.loop_stop()
            self.client.disconnect()

    @property
    def refused(self):
        """Refused either way: CONNACK "not authorised" or no CONNACK."""
        return self.rc in (5, 0x87, NO_CONNACK)

    def subscribe(self, *topics, qos=1):
        """Subscribes and returns once every SUBACK has arrived (a refused
        subscription is acknowledged too), so that what is published next
        is routed to these subscriptions."""
        mids = []
        for t in topics:
            result, mid = self.client.subscribe(t, qos=qos)
            assert result == mqtt.MQTT_ERR_SUCCESS
            mids.append(mid)
        assert wait_until(lambda: all(m in self.subacked for m in mids)), f"{self.user}: no SUBACK for {topics}"

    def publish(self, topic, payload, qos=1, retain=False):
        if not isinstance(payload, (bytes, bytearray)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=WAIT_S)
        return info

    def expect(self, predicate, timeout=WAIT_S, what="a matching message"):
        """Returns the first (topic, payload) satisfying predicate."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.user}: no {what} within {timeout}s; saw {seen[-10:]}")
            try:
                topic, payload, retain = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            seen.append((topic, payload[:200]))
            if predicate(topic, payload):
                return topic, payload

    def expect_json(self, topic_wanted, predicate=lambda d: True, timeout=WAIT_S):
        def match(topic, payload):
            if topic != topic_wanted:
                return False
            try:
                return predicate(json.loads(payload))
            except ValueError:
                return False
        return json.loads(self.expect(match, timeout, f"message on {topic_wanted}")[1])

    def collect_until(self, marker, timeout=WAIT_S):
        """Everything received before the first message satisfying marker,
        as (topic, payload) pairs; fails if the marker does not come."""
        before = []

        def match(topic, payload):
            if marker(topic, payload):
                return True
            before.append((topic, payload))
            return False
        self.expect(match, timeout, "marker message")
        return before

    def quiet_until(self, predicate, marker, timeout=WAIT_S):
        """Asserts nothing satisfying predicate arrives before the first
        message satisfying marker (something sent after the unwanted thing,
        over the same path: had the unwanted thing come, it would have come
        first)."""
        for topic, payload in self.collect_until(marker, timeout):
            assert not predicate(topic, payload), f"{self.user} unexpectedly got {topic} {payload!r}"

    def quiet_until_reply(self, predicate, service="history", user=None):
        """Asserts nothing satisfying predicate arrives before the reply to a
        request sent now (as user, default this client's user) to service:
        the reply comes from the hub over the same path as anything routed
        to this client before it, so it is the marker for quiet_until."""
        user = user or self.user
        self.subscribe(inbox(user))
        rid = "marker-" + uuid.uuid4().hex[:8]
        self.publish(req_topic(user, service), {"op": "devices" if service == "presence" else "rooms",
                                                "req_id": rid})
        self.quiet_until(predicate, lambda t, p: t == inbox(user) and rid.encode() in p)

    def quiet_for(self, predicate, seconds):
        """Asserts nothing satisfying predicate arrives within seconds: for
        a documented window (prefer quiet_until with a marker)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                topic, payload, retain = self.messages.get(timeout=left)
            except queue.Empty:
                return
            assert not predicate(topic, payload), f"{self.user} unexpectedly got {topic} {payload!r}"

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Stack:
    def __init__(self, var):
        self.var = var
        self.ports = {"db": free_port(), "hub": free_port(), "leaf": free_port(),
                      "hub_ws": free_port(), "leaf_ws": free_port()}
        self.env = dict(os.environ, CHAT_VAR=var, CHAT_BUILD=BUILD,
                        CHAT_DB_PORT=str(self.ports["db"]), CHAT_HUB_PORT=str(self.ports["hub"]),
                        CHAT_LEAF_PORT=str(self.ports["leaf"]), CHAT_LOG_LEVEL="debug",
                        CHAT_HUB_WS_PORT=str(self.ports["hub_ws"]),
                        CHAT_LEAF_WS_PORT=str(self.ports["leaf_ws"]),
                        CHAT_RETENTION_INTERVAL_S="2")
        self.clients = []
        self.solos = []  # running SoloBrokers (sync_auth waits for them too)

    def script(self, *args, check=True, env=None):
        return subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), *args], env=env or self.env,
                              capture_output=True, text=True, timeout=180, check=check)

    def port(self, node):
        return self.ports[node]

    def password(self, user):
        with open(os.path.join(self.var, "secrets", f"user-{user}")) as f:
            return f.read().strip()

    def client(self, user, node, **kw):
        c = Client(self, user, node, **kw)
        self.clients.append(c)
        return c

    def sql(self, query):
        """Runs query as root on the private server; returns rows of strings."""
        out = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.var, "db/mariadb.sock"),
                              "-uroot", "-N", "-B", "chat", "-e", query],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def chatctl(self, *args, stdin=None):
        return subprocess.run([os.path.join(BUILD, "chatctl"), "-c", os.path.join(self.var, "conf/db.conf"), *args],
                              input=stdin, capture_output=True, text=True, timeout=60)

    def add_user(self, name, password, rooms=()):
        r = self.chatctl("user", "add", name, "--iterations", "1000", stdin=password + "\n")
        assert r.returncode == 0, r.stderr
        for room in rooms:
            r = self.chatctl("room", "add", room, name)
            assert r.returncode == 0, r.stderr
        with open(os.path.join(self.var, "secrets", f"user-{name}"), "w") as f:
            f.write(password)
        self.sync_auth()

    def auth_version(self):
        """The users-and-memberships version in MariaDB (auth_version)."""
        return int(self.sql("SELECT version FROM auth_version WHERE id = 1")[0][0])

    def broker_logs(self):
        """The logs of the brokers running the plugin now: hub, leaf and
        live solo brokers."""
        return [os.path.join(self.var, n, "mosquitto.log") for n in ("hub", "leaf")] + \
            [os.path.join(b.dir, "mosquitto.log") for b in self.solos]

    def sync_auth(self, logs=None, timeout=WAIT_S):
        """Waits until every broker (or those writing logs) has adopted the
        users and memberships as they are in MariaDB now: call it after a
        chatctl change instead of waiting for the refresh interval."""
        wait_snapshot(self.auth_version(), logs or self.broker_logs(), timeout)

    def logs(self):
        parts = []
        solo = [os.path.relpath(p, self.var) for p in glob.glob(os.path.join(self.var, "solo-*", "*.log"))]
        for rel in LOGS + solo:
            path = os.path.join(self.var, rel)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = f.readlines()
                parts.append(f"===== {rel} (last 60 lines) =====\n" + "".join(lines[-60:]))
        return "\n".join(parts)


def bring_up(st, what="stack.sh up"):
    """Runs `stack.sh up` for st (a test stack or cluster: script(), logs());
    when it fails, stops what came up and fails the test with the logs."""
    up = st.script("up", check=False)
    if up.returncode != 0:
        logs = st.logs()
        st.script("down", check=False)
        pytest.fail(f"{what} failed:\n{up.stdout}\n{up.stderr}\n{logs}", pytrace=False)
    return up


def close_clients(st):
    """Closes every client a test opened on st (st.clients), whatever state
    each is in."""
    for c in st.clients:
        try:
            c.close()
        except Exception:
            pass


def sanitizer_reports(var):
    """The sanitizer reports in the logs of the stack in var (brokers,
    services, solo brokers, namespaced clusters), each with its log's name."""
    reports = []
    solo = [os.path.relpath(p, var) for p in glob.glob(os.path.join(var, "solo-*", "stderr.log"))
            + glob.glob(os.path.join(var, "netns-*", "*", "stderr.log"))
            + glob.glob(os.path.join(var, "netns-*", "*.log"))]
    for rel in LOGS + solo:
        path = os.path.join(var, rel)
        if os.path.exists(path):
            text = open(path, errors="replace").read()
            if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", text):
                reports.append(f"{rel}:\n{text[-4000:]}")
    return reports


def tear_down(st):
    """Stops stack st, deletes its state (unless CHAT_KEEP_VAR) and fails
    with any sanitizer report its logs hold."""
    close_clients(st)
    st.script("down", check=False)
    reports = sanitizer_reports(st.var)
    if os.environ.get("CHAT_KEEP_VAR"):
        print(f"state kept in {st.var}")
    else:
        shutil.rmtree(st.var, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer reports in logs:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture(scope="session")
def stack():
    var = tempfile.mkdtemp(prefix="chat-test-")
    os.chmod(var, 0o755)  # the broker drops to user mosquitto and must reach its dir
    st = Stack(var)
    bring_up(st)
    yield st
    tear_down(st)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        st = item.funcargs.get("stack")
        if st is not None:
            report.sections.append(("broker and service logs", st.logs()))


class SoloBroker:
    """One extra Mosquitto with the plugin and test-chosen options, on the
    stack's MariaDB: for back-end, flood and ACL-file tests that must not
    disturb the two main nodes."""

    def __init__(self, stack, name, options):
        self.stack = stack
        self.name = name
        self.port = free_port()
        self.dir = os.path.join(stack.var, f"solo-{name}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o777)  # the broker may run as user mosquitto
        with open(os.path.join(stack.var, "secrets", "db-password")) as f:
            db_password = f.read().strip()
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            "persistence false",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type all",
            "connection_messages true",
            f"plugin {os.path.join(BUILD, 'chat_auth.so')}",
            f"plugin_opt_node {name}",
            "plugin_opt_db_host 127.0.0.1",
            f"plugin_opt_db_port {stack.port('db')}",
            "plugin_opt_db_user chat",
            f"plugin_opt_db_password {db_password}",
            "plugin_opt_db_name chat",
            "plugin_opt_refresh_ms 200",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += [f"plugin_opt_{k} {v}" for k, v in dict(TEST_PLUGIN_OPTS, **options).items()]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = start_process(["mosquitto", "-c", self.conf], stdout=self.stderr, stderr=self.stderr)
        if not wait_listening(self.port, proc=self.proc):
            if self.proc.poll() is not None:
                raise AssertionError(f"solo broker exited: {self.log()}")
            self.stop()
            raise AssertionError(f"solo broker did not listen: {self.log()}")
        stack.ports[f"solo-{name}"] = self.port
        stack.solos.append(self)

    def log(self, tail=6000):
        """The broker's log and stderr: the last tail characters (for
        failure messages), or all of it with tail=None."""
        text = ""
        for f in ("mosquitto.log", "stderr.log"):
            p = os.path.join(self.dir, f)
            if os.path.exists(p):
                text += open(p, errors="replace").read()
        return text if tail is None else text[-tail:]

    def reload(self):
        """SIGHUP, and wait until the broker and the plugin have reloaded:
        the broker logs "Reloading config." when it starts and reloads the
        plugin in the same turn of its loop, so a packet sent after that line
        is read only after the reload is complete (broker_barrier)."""
        before = self.log(tail=None).count("Reloading config")
        self.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: self.log(tail=None).count("Reloading config") > before), \
            f"{self.name} did not reload: {self.log()}"
        broker_barrier(self.port)

    def connect(self, user, password, **kw):
        return Client(self.stack, user, f"solo-{self.name}", password=password, **kw)

    def stop(self):
        if self in self.stack.solos:
            self.stack.solos.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


@pytest.fixture
def solo(stack):
    """Starts SoloBrokers (name, plugin options) for one test; stops them after it."""
    brokers = []

    def start(name, **options):
        b = SoloBroker(stack, f"{name}-{uuid.uuid4().hex[:6]}", options)
        brokers.append(b)
        return b
    yield start
    for b in brokers:
        b.stop()
