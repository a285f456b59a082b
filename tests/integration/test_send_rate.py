"""The per-user send rate limit (docs/PROTOCOL.md 2, "Send rate limits";
docs/ADMIN.md): on a broker of its own with a small limit, a flooder gets
at most burst + rate * t of its room messages through, an MQTT 5 flooder
sees PUBACK 0x87 for the rest (mosquitto_pub), a 3.1.1 flooder gets plain
PUBACKs (silent drop), a normal sender beside it is unaffected, services
are never limited, and the node logs one line per user per window."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
import uuid

import paho.mqtt.client as mqtt

from conftest import WAIT_S, fresh_room, free_port, wait_for

RATE, BURST = 5, 10
FLOOD = 100
SERVICE = "rate-svc"
LOG_WINDOW_S = 10


def limited(solo, **extra):
    return solo("rate", send_rate=RATE, send_burst=BURST, **extra)


def room_topic(room, user):
    return f"chat/v1/rooms/{room}/msg/{user}"


def received_from(watcher, room, sender, marker_id):
    """The ids of sender's messages watcher got before the marker (a message
    with id marker_id, sent after everything else)."""
    before = watcher.collect_until(lambda t, p: json.loads(p).get("id") == marker_id)
    return [json.loads(p)["id"] for t, p in before if t == room_topic(room, sender)]


def limit_lines(broker, user):
    return re.findall(rf"chat-auth: {re.escape(user)} sends room messages faster than {RATE}/s \(burst {BURST}\)",
                      broker.log(tail=None))


def send_marker(stack, broker, room):
    """Publishes a marker as bob on broker; returns its id."""
    bob = broker.connect("bob", stack.password("bob"))
    marker = "marker-" + uuid.uuid4().hex[:8]
    bob.publish(room_topic(room, "bob"), {"id": marker, "body": "marker"})
    bob.close()
    return marker


def test_mqtt5_flooder_gets_0x87_beyond_the_burst(stack, solo):
    broker = limited(solo)
    room = fresh_room(stack, "alice", "bob")
    watcher = broker.connect("bob", stack.password("bob"))
    watcher.subscribe(f"chat/v1/rooms/{room}/msg/+")
    lines = "".join(json.dumps({"id": f"v5-{i:03d}", "body": f"flood {i}"}) + "\n" for i in range(FLOOD))
    start = time.monotonic()
    pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "5", "-q", "1",
                          "-u", "alice", "-P", stack.password("alice"), "-i", f"flood5-{uuid.uuid4().hex[:6]}",
                          "-t", room_topic(room, "alice"), "-l"],
                         input=lines, capture_output=True, text=True, timeout=WAIT_S)
    elapsed = time.monotonic() - start
    assert pub.returncode == 0, pub.stderr
    refused = re.findall(r"Warning: Publish \d+ failed: Not authorized", pub.stderr)
    got = received_from(watcher, room, "alice", send_marker(stack, broker, room))
    # Every message was either delivered or refused with 0x87, never both.
    assert len(got) + len(refused) == FLOOD, (len(got), len(refused), pub.stderr[-500:])
    assert BURST <= len(got) <= BURST + RATE * elapsed + 1, (len(got), elapsed)
    # The burst passes whole, then what the rate refills meanwhile, in order.
    assert got[:BURST] == [f"v5-{i:03d}" for i in range(BURST)] and got == sorted(got), got
    assert len(limit_lines(broker, "alice")) <= 1 + int(elapsed / LOG_WINDOW_S)


def test_mqtt311_flooder_silently_dropped_normal_sender_unaffected(stack, solo):
    metrics_port = free_port()
    broker = limited(solo, metrics_port=metrics_port)
    room = fresh_room(stack, "alice", "bob")
    watcher = broker.connect("bob", stack.password("bob"))
    watcher.subscribe(f"chat/v1/rooms/{room}/msg/+")
    acked, lock = set(), threading.Lock()
    flooder = mqtt.Client(client_id=f"flood3-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv311)
    flooder.username_pw_set("alice", stack.password("alice"))
    flooder.max_inflight_messages_set(FLOOD)

    def on_publish(c, u, mid):
        with lock:
            acked.add(mid)
    flooder.on_publish = on_publish
    flooder.connect("127.0.0.1", broker.port)
    flooder.loop_start()
    try:
        start = time.monotonic()
        mids = [flooder.publish(room_topic(room, "alice"), json.dumps({"id": f"v3-{i:03d}", "body": f"flood {i}"}),
                                qos=1).mid for i in range(FLOOD)]
        # bob, a normal sender, meanwhile: all of his messages go through.
        normal = broker.connect("bob", stack.password("bob"))
        mine = [f"bob-{i}" for i in range(5)]
        for i in mine:
            normal.publish(room_topic(room, "bob"), {"id": i, "body": "not flooding"})
        # Every flood message is acknowledged with a plain PUBACK: 3.1.1 has
        # no negative acknowledgement, the connection stays up.
        wait_for(lambda: set(mids) <= set(acked), f"PUBACKs for all {FLOOD} messages")
        elapsed = time.monotonic() - start
        assert flooder.is_connected()
    finally:
        flooder.disconnect()
        flooder.loop_stop()
    marker = send_marker(stack, broker, room)
    before = watcher.collect_until(lambda t, p: json.loads(p).get("id") == marker)
    got = [json.loads(p)["id"] for t, p in before if t == room_topic(room, "alice")]
    bobs = [json.loads(p)["id"] for t, p in before if t == room_topic(room, "bob")]
    assert bobs == mine
    assert BURST <= len(got) <= BURST + RATE * elapsed + 1, (len(got), elapsed)
    # One log line for the flooder in this window, none for bob.
    assert 1 <= len(limit_lines(broker, "alice")) <= 1 + int(elapsed / LOG_WINDOW_S)
    assert not limit_lines(broker, "bob")
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=WAIT_S).read().decode()
    refused = re.search(r'^chat_auth_send_limited_total\{kind="room_message"\} (\d+)', text, re.M)
    assert refused and int(refused.group(1)) == FLOOD - len(got), text


def test_requests_have_their_own_budget(stack, solo):
    metrics_port = free_port()
    broker = limited(solo, metrics_port=metrics_port, request_rate=1, request_burst=3)
    room = fresh_room(stack, "alice", "bob")
    alice = broker.connect("alice", stack.password("alice"))
    start = time.monotonic()
    for i in range(10):   # this broker has no bridge: nobody answers, the plugin counts
        alice.publish("chat/v1/users/alice/req/history", {"op": "rooms", "req_id": f"q{i}"})
    elapsed = time.monotonic() - start
    text = lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=WAIT_S).read().decode()
    count = lambda kind: int(re.search(rf'^chat_auth_send_limited_total\{{kind="{kind}"\}} (\d+)', text(), re.M).group(1))
    assert 10 - 3 - 1 * elapsed - 1 <= count("request") <= 7, elapsed
    # Room messages were not charged for the requests.
    watcher = broker.connect("bob", stack.password("bob"))
    watcher.subscribe(f"chat/v1/rooms/{room}/msg/+")
    for i in range(BURST):
        alice.publish(room_topic(room, "alice"), {"id": f"after-{i}", "body": "still fine"})
    got = received_from(watcher, room, "alice", send_marker(stack, broker, room))
    assert got == [f"after-{i}" for i in range(BURST)]
    assert count("room_message") == 0


def test_services_are_never_limited(stack, solo):
    if not os.path.exists(os.path.join(stack.var, "secrets", f"user-{SERVICE}")):
        r = stack.chatctl("user", "add", SERVICE, "--role", "service", "--iterations", "1000", stdin="rate-svc-pw\n")
        assert r.returncode == 0, r.stderr
        with open(os.path.join(stack.var, "secrets", f"user-{SERVICE}"), "w") as f:
            f.write("rate-svc-pw")
    broker = limited(solo)
    room = fresh_room(stack, "alice", "bob")
    watcher = broker.connect("bob", stack.password("bob"))
    watcher.subscribe(f"chat/v1/rooms/{room}/msg/+")
    svc = broker.connect(SERVICE, "rate-svc-pw")
    sent = [f"svc-{i:03d}" for i in range(5 * BURST)]
    for i in sent:
        svc.publish(room_topic(room, "alice"), {"id": i, "body": "from a service"})
    got = received_from(watcher, room, "alice", send_marker(stack, broker, room))
    assert got == sent
    assert not limit_lines(broker, SERVICE) and not limit_lines(broker, "alice")
