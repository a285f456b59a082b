"""Integration fixtures: one real stack per test session.

The stack is started by the same scripts/stack.sh that `make up` uses, in a
temporary state directory and on free loopback ports, so the tests exercise
exactly what a user runs. On a failing test the logs of the brokers and
services are attached to the report; with CHAT_SANITIZED=1 the session fails
if any sanitizer report appears in a log.
"""
import glob
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CHAT_BUILD", os.path.join(ROOT, "build"))
LOGS = ["hub/mosquitto.log", "leaf/mosquitto.log", "log/hub.stderr", "log/leaf.stderr",
        "log/history-svc.log", "log/presence-svc.log", "log/mariadb.log"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A paho MQTT client that queues what it receives."""

    def __init__(self, stack, user, node, password=None, client_id=None, protocol=mqtt.MQTTv311,
                 bind_address=""):
        self.user = user
        self.messages = queue.Queue()
        self.connected = queue.Queue()
        self.client = mqtt.Client(client_id=client_id or f"test-{user}-{uuid.uuid4().hex[:8]}",
                                  clean_session=None if protocol == mqtt.MQTTv5 else True,
                                  protocol=protocol)
        self.client.username_pw_set(user, stack.password(user) if password is None else password)
        # MQTT 5 callbacks take a properties argument too.
        self.client.on_connect = lambda c, u, f, rc, *props: self.connected.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.connect("127.0.0.1", stack.port(node), keepalive=30, bind_address=bind_address)
        self.client.loop_start()
        self.rc = self.connected.get(timeout=10)
        if self.rc != 0:
            # paho would retry a refused login in the background forever.
            self.client.loop_stop()
            self.client.disconnect()

    def subscribe(self, *topics):
        for t in topics:
            result, mid = self.client.subscribe(t, qos=1)
            assert result == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.3)  # let SUBACKs arrive before anything is published

    def publish(self, topic, payload, qos=1, retain=False):
        if not isinstance(payload, (bytes, bytearray)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        return info

    def expect(self, predicate, timeout=10.0, what="a matching message"):
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

    def expect_json(self, topic_wanted, predicate=lambda d: True, timeout=10.0):
        def match(topic, payload):
            if topic != topic_wanted:
                return False
            try:
                return predicate(json.loads(payload))
            except ValueError:
                return False
        return json.loads(self.expect(match, timeout, f"message on {topic_wanted}")[1])

    def quiet_for(self, predicate, seconds):
        """Asserts nothing satisfying predicate arrives within seconds."""
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
        time.sleep(1.2)  # the plugins reload users within their refresh interval

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


@pytest.fixture(scope="session")
def stack():
    var = tempfile.mkdtemp(prefix="chat-test-")
    os.chmod(var, 0o755)  # the broker drops to user mosquitto and must reach its dir
    st = Stack(var)
    up = st.script("up", check=False)
    if up.returncode != 0:
        logs = st.logs()
        st.script("down", check=False)
        pytest.fail(f"stack.sh up failed:\n{up.stdout}\n{up.stderr}\n{logs}", pytrace=False)
    yield st
    for c in st.clients:
        try:
            c.close()
        except Exception:
            pass
    st.script("down", check=False)
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
    if os.environ.get("CHAT_KEEP_VAR"):
        print(f"state kept in {var}")
    else:
        shutil.rmtree(var, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer reports in logs:\n" + "\n".join(reports), pytrace=False)


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
        lines += [f"plugin_opt_{k} {v}" for k, v in options.items()]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        env = dict(os.environ)
        if os.environ.get("CHAT_SANITIZED"):
            cc = lambda lib: subprocess.run(["gcc", f"-print-file-name={lib}"], capture_output=True, text=True).stdout.strip()
            env["LD_PRELOAD"] = f"{cc('libasan.so')} {cc('libubsan.so')}"
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=self.stderr, stderr=self.stderr, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"solo broker exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"solo broker did not listen: {self.log()}")
        stack.ports[f"solo-{name}"] = self.port

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
        """SIGHUP, and wait until the plugin has reloaded."""
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def connect(self, user, password, **kw):
        return Client(self.stack, user, f"solo-{self.name}", password=password, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
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
