"""Metrics: every broker's plugin, history-svc and presence-svc serve
Prometheus metrics, scraped by a real Prometheus (Debian's package) started
once for this module with the scrape config `stack.sh up` wrote
(var/prometheus/prometheus.yml; only the interval is shortened to 1 s).

A known workload (logins, a wrong password, messages stored, a duplicate, a
refused message, a denied publish) must show up as exactly those counts when
queried through Prometheus's HTTP API. The plugin serves HTTP on a thread of
its own: a scrape is answered while the broker's thread is busy checking a
slow password, and the broker keeps serving while a client holds a metrics
connection open without finishing its request.
"""
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid

import paho.mqtt.client as mqtt
import pytest
from conftest import wait_for

from conftest import BUILD, Client, free_port

PARTS = ("hub", "leaf", "history-svc", "presence-svc", "push-svc")


def metrics_port(stack, part):
    with open(os.path.join(stack.var, "run", f"metrics-{part}.port")) as f:
        return int(f.read().strip())


def scrape(stack, part, timeout=5.0):
    """The part's /metrics, parsed: {'name{labels}': value}."""
    url = f"http://127.0.0.1:{metrics_port(stack, part)}/metrics"
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    return values


def wait_until(predicate, timeout, what):
    return wait_for(predicate, what, timeout, step=0.2)


class Prometheus:
    def __init__(self, stack):
        src = os.path.join(stack.var, "prometheus", "prometheus.yml")
        assert os.path.exists(src), "stack.sh up wrote no Prometheus scrape config"
        self.dir = os.path.join(stack.var, "prometheus-test")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        with open(src) as f:
            config = f.read()
        config = re.sub(r"(scrape_interval|evaluation_interval): \S+", r"\1: 1s", config)
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(config)
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log)
        wait_until(self.ready, 60, "Prometheus ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {open(self.log.name).read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def value(self, expr):
        """The value of an instant query that yields one series, or None."""
        result = self.api("query", query=expr)["result"]
        if len(result) != 1:
            return None
        return float(result[0]["value"][1])

    def wait_value(self, expr, want, timeout=30):
        """Polls until expr equals want (what Prometheus scraped last)."""
        wait_until(lambda: self.value(expr) == want, timeout, f"{expr} == {want} in Prometheus")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def prom(stack):
    p = Prometheus(stack)
    yield p
    p.stop()


def series(name, part, label=None):
    sel = f'node="{part}"' + (f",{label}" if label else "")
    return f"{name}{{{sel}}}"


def key(name, label=None):
    return f"{name}{{{label}}}" if label else name


def wait_snapshot(stack, node):
    """Waits until node's plugin runs on the database's current users and rooms."""
    version = float(stack.sql("SELECT version FROM auth_version WHERE id = 1")[0][0])
    wait_until(lambda: scrape(stack, node)["chat_auth_snapshot_version"] >= version, 20,
               f"{node}'s snapshot at auth_version {version}")


def fresh_room(stack, *members):
    room = "m" + uuid.uuid4().hex[:10]
    assert stack.chatctl("room", "create", room).returncode == 0
    for m in members:
        r = stack.chatctl("room", "add", room, m)
        assert r.returncode == 0, r.stderr
    wait_snapshot(stack, "leaf")
    return room


def test_every_target_is_up_in_prometheus(stack, prom):
    def all_up():
        targets = prom.api("targets")["activeTargets"]
        health = {t["labels"]["node"]: t["health"] for t in targets}
        return health if health == {p: "up" for p in PARTS} else None
    health = wait_until(all_up, 30, "every target up")
    assert set(health) == set(PARTS)
    # What each serves is there, through Prometheus.
    for part, name in (("hub", "chat_auth_connections_open"), ("leaf", "chat_auth_snapshot_version"),
                       ("history-svc", "chat_history_messages_stored_total"),
                       ("presence-svc", "chat_presence_nodes_heard_total"), ("push-svc", "chat_push_sent_total")):
        assert prom.value(series(name, part)) is not None, name
    assert prom.value(series("chat_auth_snapshot_version", "leaf")) > 0
    assert prom.value(series("chat_presence_nodes_heard_total", "presence-svc")) >= 2  # hub and leaf


def test_known_workload_shows_as_exact_counts(stack, prom):
    users = [f"mx{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for u in users:
        r = stack.chatctl("user", "add", u, "--iterations", "1000", stdin="pw-" + u + "\n")
        assert r.returncode == 0, r.stderr
        with open(os.path.join(stack.var, "secrets", f"user-{u}"), "w") as f:
            f.write("pw-" + u)
    room = fresh_room(stack, *users)
    other_room = fresh_room(stack, "alice")
    leaf0, hist0 = scrape(stack, "leaf"), scrape(stack, "history-svc")

    # n = 3 logins on the leaf and one wrong password.
    clients = [stack.client(u, "leaf") for u in users]
    assert all(c.rc == 0 for c in clients)
    assert Client(stack, users[0], "leaf", password="wrong").rc == 5
    sender = clients[0]
    inbox = f"chat/v1/users/{users[0]}/inbox"
    sender.subscribe(inbox)
    topic = f"chat/v1/rooms/{room}/msg/{users[0]}"
    # m = 5 messages stored, then one sent again (a duplicate).
    ids = [uuid.uuid4().hex for _ in range(5)]
    for i, mid in enumerate(ids):
        sender.publish(topic, {"id": mid, "body": f"metrics {i}"})
        sender.expect_json(inbox, lambda d, mid=mid: d.get("type") == "receipt" and d["id"] == mid, timeout=30)
    sender.publish(topic, {"id": ids[2], "body": "metrics 2"})
    seq = sender.expect_json(inbox, lambda d: d.get("type") == "receipt" and d["id"] == ids[2], timeout=30)["seq"]
    assert seq == 3
    # One message history-svc refuses, one publish the plugin denies.
    sender.publish(topic, b"this is not json")
    sender.expect_json(inbox, lambda d: d.get("type") == "error" and d.get("code") == "bad_json", timeout=30)
    sender.publish(f"chat/v1/rooms/{other_room}/msg/{users[0]}", {"id": uuid.uuid4().hex, "body": "no"})

    refused = 'reason="bad_password"'
    expect = [
        (series("chat_auth_logins_accepted_total", "leaf"), leaf0[key("chat_auth_logins_accepted_total")] + 3),
        (series("chat_auth_connections_open", "leaf"), leaf0[key("chat_auth_connections_open")] + 3),
        (series("chat_auth_logins_refused_total", "leaf", refused),
         leaf0[key("chat_auth_logins_refused_total", refused)] + 1),
        (series("chat_auth_acl_denied_total", "leaf", 'access="write"'),
         leaf0[key("chat_auth_acl_denied_total", 'access="write"')] + 1),
        (series("chat_history_messages_stored_total", "history-svc"),
         hist0[key("chat_history_messages_stored_total")] + 5),
        (series("chat_history_messages_duplicate_total", "history-svc"),
         hist0[key("chat_history_messages_duplicate_total")] + 1),
        (series("chat_history_messages_taken_total", "history-svc"),
         hist0[key("chat_history_messages_taken_total")] + 6),
        (series("chat_history_message_errors_total", "history-svc", 'code="bad_json"'),
         hist0[key("chat_history_message_errors_total", 'code="bad_json"')] + 1),
    ]
    for expr, want in expect:
        prom.wait_value(expr, want)
    # The 7 publishes were allowed (the denied one aside); 6 batches at most.
    assert prom.value(series("chat_auth_acl_allowed_total", "leaf", 'access="write"')) \
        >= leaf0[key("chat_auth_acl_allowed_total", 'access="write"')] + 7
    batches = prom.value(series("chat_history_batch_size_count", "history-svc"))
    assert batches >= hist0[key("chat_history_batch_size_count")] + 1
    assert prom.value(series("chat_history_commit_seconds_count", "history-svc")) == batches
    assert prom.value(series("chat_history_intake_backlog", "history-svc")) == 0
    assert prom.value(series("chat_history_oldest_unstored_age_seconds", "history-svc")) == 0
    # presence-svc heard the three connects (other tests' clients may add more).
    wait_until(lambda: prom.value(series("chat_presence_input_total", "presence-svc", 'kind="event"')) >= 3, 30,
               "three connection events")
    wait_until(lambda: prom.value(series("chat_presence_users_online", "presence-svc")) >= 3, 30, "three users online")
    # Closing the three connections lowers the gauge again.
    for c in clients:
        c.close()
        stack.clients.remove(c)
    prom.wait_value(series("chat_auth_connections_open", "leaf"), leaf0[key("chat_auth_connections_open")])


def test_plugin_answers_scrapes_while_the_broker_thread_is_busy(stack):
    # A password hashed with 2,000,000 PBKDF2 rounds: its check holds the
    # broker's only thread for about a second (40 ms per 100,000 here; more
    # under ASan or load).
    slow = f"slow{uuid.uuid4().hex[:8]}"
    r = stack.chatctl("user", "add", slow, "--iterations", "2000000", stdin="pw-slow\n")
    assert r.returncode == 0, r.stderr
    wait_snapshot(stack, "leaf")
    probe = stack.client("alice", "leaf")
    probe_topic = "chat/v1/rooms/lobby/msg/alice"
    probe.subscribe(probe_topic)

    done = threading.Event()
    login = {}

    def slow_login():
        connacks = queue.Queue()
        c = mqtt.Client(client_id=f"test-{slow}")
        c.username_pw_set(slow, "pw-slow")
        c.on_connect = lambda client, userdata, flags, rc: connacks.put(rc)
        started = time.monotonic()
        try:
            c.connect("127.0.0.1", stack.port("leaf"), keepalive=120)
            c.loop_start()
            login["rc"] = connacks.get(timeout=120)
            login["seconds"] = time.monotonic() - started
        except Exception as e:  # reported by the main thread
            login["error"] = repr(e)
        finally:
            c.disconnect()
            c.loop_stop()
            done.set()

    worker = threading.Thread(target=slow_login)
    worker.start()
    rounds = []
    deadline = time.monotonic() + 180
    try:
        while not done.is_set() and time.monotonic() < deadline:
            mid = uuid.uuid4().hex
            sent = time.monotonic()
            # Not waiting for the PUBACK: the broker may be busy.
            probe.client.publish(probe_topic, json.dumps({"id": mid, "body": "probe"}), qos=1)
            t0 = time.monotonic()
            values = scrape(stack, "leaf", timeout=10)
            http = time.monotonic() - t0
            assert "chat_auth_logins_accepted_total" in values
            probe.expect(lambda t, p, mid=mid: mid.encode() in p, timeout=150, what="the probe back")
            rounds.append((http, time.monotonic() - sent))
    finally:
        worker.join(timeout=150)
    assert login.get("rc") == 0, login
    # Some probe round trips waited for the broker's thread; the scrapes
    # made meanwhile did not.
    busy = [(http, rtt) for http, rtt in rounds if rtt > 0.5]
    print(f"slow login took {login['seconds']:.1f} s; (scrape s, probe round trip s) while busy: {busy}")
    assert busy, f"the broker never looked busy: login took {login['seconds']:.1f}s, rounds {rounds}"
    assert all(http < rtt / 2 and http < 1.0 for http, rtt in busy), rounds


def test_broker_serves_while_a_slow_http_client_holds_a_metrics_connection(stack):
    port = metrics_port(stack, "leaf")
    stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
    half = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        alice = stack.client("alice", "leaf")
        alice.subscribe("chat/v1/rooms/lobby/msg/alice")
        started = time.monotonic()
        mid = uuid.uuid4().hex
        alice.publish("chat/v1/rooms/lobby/msg/alice", {"id": mid, "body": "still serving"})
        alice.expect(lambda t, p: mid.encode() in p, timeout=5, what="own message back")
        assert time.monotonic() - started < 5
        bob = Client(stack, "bob", "leaf")  # a new login too
        bob.close()
        assert bob.rc == 0
        assert "chat_auth_connections_open" in scrape(stack, "leaf")  # other scrapes too
        # Both slow connections are still open: the broker did not wait for them.
        for s in (stalled, half):
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
    finally:
        stalled.close()
        half.close()


def admin_metrics_section():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "ADMIN.md")) as f:
        text = f.read()
    start = text.index("\n## Metrics\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


@pytest.fixture
def health_agent(stack):
    """A health agent (as the cluster runs one per leaf) on the leaf, serving
    metrics: yields its metrics port once it reports the leaf up."""
    user = f"health{uuid.uuid4().hex[:6]}"
    r = stack.chatctl("user", "add", user, "--role", "health", "--iterations", "1000", stdin="pw-health\n")
    assert r.returncode == 0, r.stderr
    wait_snapshot(stack, "leaf")
    d = os.path.join(stack.var, f"agent-{user}")
    os.makedirs(d)
    port = free_port()
    with open(os.path.join(d, "agent.conf"), "w") as f:
        f.write(f"mqtt_host = 127.0.0.1\nmqtt_port = {stack.port('leaf')}\nmqtt_user = {user}\n"
                f"mqtt_password = pw-health\nnode = leaf\nagent_port = 0\nport_file = {d}/agent.port\n"
                f"metrics_port = {port}\n")
    log = open(os.path.join(d, "agent.log"), "w")
    proc = subprocess.Popen([os.path.join(BUILD, "health-agent"), "-c", os.path.join(d, "agent.conf")],
                            stdout=log, stderr=log)
    try:
        def agent_says_up():
            if not os.path.exists(f"{d}/agent.port") or not open(f"{d}/agent.port").read().strip():
                return False
            with socket.create_connection(("127.0.0.1", int(open(f"{d}/agent.port").read())), timeout=5) as s:
                return s.recv(100).startswith(b"up")
        wait_until(agent_says_up, 30, "the health agent answering up")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def served_metrics(port):
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    return text, set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_health_agent_serves_its_metrics(health_agent):
    text, _ = served_metrics(health_agent)
    assert re.search(r'^chat_health_answers_total\{verdict="up"\} [1-9]', text, re.M), text
    age = float(re.search(r"^chat_health_probe_age_seconds (\S+)$", text, re.M).group(1))
    assert 0 <= age < 1.5
    assert float(re.search(r"^chat_health_probes_sent_total (\S+)$", text, re.M).group(1)) >= 1


def test_docs_list_every_metric_served_and_nothing_else(stack, health_agent):
    section = admin_metrics_section()
    documented = set(re.findall(r"^\| `(chat_[a-z_]+)` \|", section, re.M))
    served = served_metrics(health_agent)[1]
    for part in PARTS:
        served |= served_metrics(metrics_port(stack, part))[1]
    assert documented == served, (f"served, not in docs/ADMIN.md: {sorted(served - documented)}; "
                                  f"documented, not served: {sorted(documented - served)}")


def test_documented_alert_expressions_are_valid_promql(stack, prom):
    section = admin_metrics_section()
    alerts = section[section.index("### Alerts to set"):]
    exprs = [e.replace("\\|", "|") for e in re.findall(r"^\| [^|]+ \| `((?:[^`])+)` \|", alerts, re.M)]
    assert len(exprs) >= 10, exprs
    for expr in exprs:
        prom.api("query", query=expr)  # a syntax error is an HTTP 400


def test_prometheus_is_installed_by_make_deps():
    assert shutil.which("prometheus"), "make deps installs Debian's prometheus"
