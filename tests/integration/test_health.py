"""The MQTT-level health check (issue 16 part 2, docs/ADMIN.md "Health
check"): each leaf's health agent round-trips probes through its broker and
answers HAProxy's agent-check, so a leaf that accepts TCP but is stuck
(SIGSTOP) stops getting clients, and gets them again when it resumes. The
health account itself can read and write no chat.

Runs the `make up NODES=3` cluster of test_cluster.py (its own state
directory and free ports)."""
import os
import queue
import re
import shutil
import signal
import socket
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from conftest import wait_for

import conftest
from test_cluster import NODES, Cluster, which_leaf

# docs/ADMIN.md, "Health check": a stuck leaf is marked DOWN within 5 s and
# back UP within 5 s of resuming.
DOWN_WITHIN_S = 5.0
UP_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("haproxy") is None or shutil.which("openssl") is None:
        pytest.skip("haproxy and openssl are needed (make deps installs them)")
    cl = Cluster()
    conftest.bring_up(cl, f"stack.sh up (CHAT_NODES={NODES})")
    yield cl
    conftest.close_clients(cl)
    # A test failing half-way must not leave a stopped leaf behind.
    for i in range(1, NODES + 1):
        try:
            os.kill(cl.pid(f"leaf{i}"), signal.SIGCONT)
        except (OSError, ValueError):
            pass
    down = cl.script("down")
    assert "health-leaf1 stopped" in down.stdout and "haproxy stopped" in down.stdout, down.stdout
    if not os.environ.get("CHAT_KEEP_VAR"):
        shutil.rmtree(cl.var, ignore_errors=True)


def wait_until(what, cond, timeout):
    """Polls cond until it is true; returns the seconds it took."""
    start = time.monotonic()
    wait_for(cond, what, timeout, step=0.05)
    return time.monotonic() - start


def agent_says(cluster, leaf):
    """What the leaf's health agent answers HAProxy right now."""
    port = int(open(os.path.join(cluster.var, "run", f"health-{leaf}.port")).read())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.makefile().readline().strip()


def haproxy_log(cluster):
    return cluster.log("log/haproxy.log")


def state_changes(cluster, leaf):
    """HAProxy's UP/DOWN lines for leaf in the plain-MQTT backend, in order."""
    return re.findall(rf"Server leaves_mqtt/{leaf} is (UP|DOWN)\b", haproxy_log(cluster))


def test_every_leaf_has_an_agent_check_and_reports_up(cluster):
    cfg = open(os.path.join(cluster.var, "conf", "haproxy.cfg")).read()
    for i in range(1, NODES + 1):
        assert re.search(rf"server leaf{i} \S+ check agent-check agent-addr 127\.0\.0\.1 agent-port \d+", cfg), cfg
        assert agent_says(cluster, f"leaf{i}") == "up"
    st = cluster.script("status")
    for i in range(1, NODES + 1):
        assert re.search(rf"^health-leaf{i} +up", st.stdout, re.M), st.stdout


def test_a_stuck_leaf_gets_no_new_clients_and_comes_back(cluster):
    lb = cluster.ports["lb"]
    leaf_pid = cluster.pid("leaf1")
    downs_before = state_changes(cluster, "leaf1").count("DOWN")
    os.kill(leaf_pid, signal.SIGSTOP)
    try:
        took = wait_until("HAProxy marks the stopped leaf1 DOWN",
                          lambda: state_changes(cluster, "leaf1").count("DOWN") > downs_before, DOWN_WITHIN_S)
        print(f"leaf1 marked DOWN {took:.2f} s after SIGSTOP")
        assert agent_says(cluster, "leaf1").startswith("down #")
        # The stopped broker still accepts TCP connections: only the agent
        # tells HAProxy. New clients all land on the other leaves (a client
        # sent to leaf1 would never get its CONNACK).
        after = [cluster.client("bob", lb) for _ in range(4)]
        assert all(c.rc == 0 for c in after)
        assert all(which_leaf(cluster, c.client_id) in (2, 3) for c in after)
    finally:
        os.kill(leaf_pid, signal.SIGCONT)
    took = wait_until("HAProxy takes leaf1 back",
                      lambda: state_changes(cluster, "leaf1")[-1:] == ["UP"], UP_WITHIN_S)
    print(f"leaf1 marked UP {took:.2f} s after SIGCONT")
    # leastconn: leaf1 now has the fewest connections, so it gets the next one.
    back = cluster.client("bob", lb)
    assert back.rc == 0
    wait_until("a new client lands on leaf1 again", lambda: which_leaf(cluster, back.client_id) == 1, 5)


class Raw:
    """A bare paho client that records SUBACK codes and messages."""

    def __init__(self, user, password, port):
        self.acks = queue.Queue()
        self.messages = queue.Queue()
        self.connected = queue.Queue()
        self.client = mqtt.Client(client_id=f"raw-{user}-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, rc: self.connected.put(rc)
        self.client.on_subscribe = lambda c, u, mid, granted: self.acks.put((mid, granted))
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.rc = self.connected.get(timeout=10)

    def subscribe(self, topic):
        """The granted QoS of the SUBACK (128: refused)."""
        rc, mid = self.client.subscribe(topic, qos=0)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        got_mid, granted = self.acks.get(timeout=10)
        assert got_mid == mid
        return granted[0]

    def publish(self, topic, payload):
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)

    def take(self, topic, payload, timeout=10):
        deadline = time.monotonic() + timeout
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                t, p = self.messages.get(timeout=left)
            except queue.Empty:
                break
            seen.append((t, p))
            if t == topic and p == payload:
                return seen
        raise AssertionError(f"{payload!r} not received on {topic}; got {seen}")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_the_health_account_reads_and_writes_no_chat(cluster):
    port = cluster.leaf_port(2)
    health = Raw("health", cluster.password("health"), port)
    bob = Raw("bob", cluster.password("bob"), port)
    alice = Raw("alice", cluster.password("alice"), port)
    try:
        assert health.rc == 0
        for refused in ["chat/v1/rooms/lobby/msg/+", "chat/v1/rooms/lobby/#", "chat/v1/presence/+",
                        "chat/v1/users/health/inbox", "#", "chat/v1/sys/health/leaf2/bob"]:
            assert health.subscribe(refused) == 128, refused
        own = "chat/v1/sys/health/leaf2/health"
        assert health.subscribe(own) == 0
        assert bob.subscribe("chat/v1/rooms/lobby/msg/+") == 0
        # Its own probe topic works both ways.
        health.publish(own, b"probe-1")
        health.take(own, b"probe-1")
        # A room message it tries to send reaches nobody; alice's, sent
        # after it, does (so bob would have had the first by then).
        health.publish("chat/v1/rooms/lobby/msg/health", b'{"id":"h1","body":"from health"}')
        marker = f'{{"id":"{uuid.uuid4().hex}","body":"after"}}'.encode()
        alice.publish("chat/v1/rooms/lobby/msg/alice", marker)
        seen = bob.take("chat/v1/rooms/lobby/msg/alice", marker)
        assert not any(t == "chat/v1/rooms/lobby/msg/health" for t, _ in seen), seen
        # Nor does it see chat that flows while it listens on "#"-like
        # filters it was refused: nothing arrived on it but its own probe.
        assert health.messages.empty(), list(health.messages.queue)
    finally:
        for c in (health, bob, alice):
            c.close()
