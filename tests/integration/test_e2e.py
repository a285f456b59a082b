"""End-to-end: two users on two bridged brokers, stored in MariaDB.

Every test talks to the real stack (MariaDB, hub and leaf Mosquitto with the
chat-auth plugin, history-svc, presence-svc) over loopback sockets, as a
client following docs/PROTOCOL.md would.
"""
import json
import signal
import subprocess
import uuid

import paho.mqtt.client as mqtt

from conftest import Client, ask, fresh_room, inbox, wait_until  # noqa: F401 (fresh_room, inbox: importable here as before)

LOBBY = "chat/v1/rooms/lobby/msg/"


def msg_id():
    return uuid.uuid4().hex


def room_topic(room, user):
    return f"chat/v1/rooms/{room}/msg/{user}"


def test_wrong_password_unknown_user_and_bad_names_are_refused(stack):
    assert Client(stack, "alice", "leaf", password="not-her-password").rc == 5
    assert Client(stack, "alice", "hub", password="").rc == 5
    assert Client(stack, "mallory", "hub", password="whatever").rc == 5
    # Mosquitto 2.0 lets wildcards through in names for plugins; ours refuse them.
    assert Client(stack, "ali+ce", "leaf", password="x").rc == 5
    assert Client(stack, "alice", "leaf", client_id="dev/#").rc == 5
    ok = Client(stack, "alice", "leaf")
    assert ok.rc == 0
    ok.close()


def test_alice_on_leaf_and_bob_on_hub_chat_both_ways(stack):
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    alice.subscribe(LOBBY + "+")
    bob.subscribe(LOBBY + "+")
    hello = {"id": msg_id(), "body": "hi bob, from the leaf"}
    alice.publish(LOBBY + "alice", hello)
    got = bob.expect_json(LOBBY + "alice", lambda d: d["id"] == hello["id"])
    assert got["body"] == hello["body"]
    reply = {"id": msg_id(), "body": "hi alice, from the hub ✓"}
    bob.publish(LOBBY + "bob", reply)
    got = alice.expect_json(LOBBY + "bob", lambda d: d["id"] == reply["id"])
    assert got["body"] == reply["body"]


def test_each_message_stored_once_with_gapless_seq_and_receipts(stack):
    room = fresh_room(stack, "alice", "bob")
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    alice.subscribe(inbox("alice"))
    bob.subscribe(inbox("bob"))
    sent = []
    for i in range(10):
        sender, node = (alice, "alice") if i % 2 == 0 else (bob, "bob")
        m = {"id": msg_id(), "body": f"message {i}"}
        sender.publish(room_topic(room, node), m)
        receipt = sender.expect_json(inbox(node), lambda d, m=m: d.get("type") == "receipt" and d["id"] == m["id"])
        assert receipt["room"] == room and receipt["seq"] == i + 1
        sent.append((i + 1, m["id"], node, m["body"]))
    # The same message again (a client resend or a bridge duplicate) must not
    # make a second row, and its receipt repeats the original seq.
    dup_seq, dup_id, _, dup_body = sent[3]
    bob.publish(room_topic(room, "bob"), {"id": dup_id, "body": dup_body})
    receipt = bob.expect_json(inbox("bob"), lambda d: d.get("type") == "receipt" and d["id"] == dup_id)
    assert receipt["seq"] == dup_seq
    rows = stack.sql(f"SELECT m.seq, m.msg_id, u.username, m.body FROM messages m JOIN rooms r ON r.id = m.room_id "
                     f"JOIN users u ON u.id = m.sender_id WHERE r.name = '{room}' ORDER BY m.seq")
    assert [(int(s), i, u, b) for s, i, u, b in rows] == sent
    assert stack.sql(f"SELECT last_seq FROM rooms WHERE name = '{room}'") == [["10"]]


def test_alice_cannot_speak_as_bob(stack):
    room = fresh_room(stack, "alice", "bob")
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    forged = {"id": msg_id(), "body": "I am bob, honest"}
    alice.publish(room_topic(room, "bob"), forged)            # impersonation
    alice.publish(room_topic(room, "alice"), {"id": msg_id(), "body": "retained"}, retain=True)
    # alice's next, normal message is the marker: the forged one and the
    # retained one, had they passed, would have come before it.
    marker = {"id": msg_id(), "body": "marker"}
    alice.publish(room_topic(room, "alice"), marker)
    bob.quiet_until(lambda t, p: marker["id"].encode() not in p,
                    lambda t, p: marker["id"].encode() in p)
    alice.subscribe(inbox("alice"))
    receipt = alice.expect_json(inbox("alice"), lambda d: d.get("type") == "receipt" and d["id"] == marker["id"])
    assert receipt["seq"] == 1
    # Nothing but the marker was stored.
    assert stack.sql(f"SELECT m.msg_id FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'") \
        == [[marker["id"]]]


def test_non_member_cannot_read_or_write_a_room(stack):
    stack.add_user("carol", "carol-pw-1")
    room = fresh_room(stack, "alice")
    carol = stack.client("carol", "leaf")
    alice = stack.client("alice", "hub")
    carol.subscribe(f"chat/v1/rooms/{room}/msg/+")  # refused
    carol.subscribe("chat/v1/rooms/+/msg/+")  # a wildcard must not leak other rooms
    alice.subscribe(inbox("alice"))
    carol.publish(room_topic(room, "carol"), {"id": msg_id(), "body": "let me in"})
    m = {"id": msg_id(), "body": "members only"}
    alice.publish(room_topic(room, "alice"), m)
    alice.expect_json(inbox("alice"), lambda d: d.get("type") == "receipt" and d["id"] == m["id"])
    # The reply to carol's next request comes after anything of the room
    # that would have leaked to her, and after her own message had it passed.
    carol.quiet_until_reply(lambda t, p: room in t)
    rows = stack.sql(f"SELECT m.body FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'")
    assert rows == [["members only"]]


def test_membership_change_reaches_both_brokers(stack):
    stack.add_user("dave", "dave-pw-1")
    room = fresh_room(stack, "alice")
    dave = stack.client("dave", "leaf")
    alice = stack.client("alice", "hub")
    alice.subscribe(f"chat/v1/rooms/{room}/msg/+")
    assert stack.chatctl("room", "add", room, "dave").returncode == 0
    stack.sync_auth()
    first = {"id": msg_id(), "body": "now I am in"}
    dave.publish(room_topic(room, "dave"), first)
    alice.expect_json(room_topic(room, "dave"), lambda d: d["id"] == first["id"])
    # dave, subscribed on the leaf while a member, receives alice's messages...
    dave.subscribe(f"chat/v1/rooms/{room}/msg/+")
    before = {"id": msg_id(), "body": "dave can read this"}
    alice.publish(room_topic(room, "alice"), before)
    dave.expect_json(room_topic(room, "alice"), lambda d: d["id"] == before["id"])
    assert stack.chatctl("room", "remove", room, "dave").returncode == 0
    stack.sync_auth()
    # ...and after removal neither writes nor, on the same subscription, reads.
    dave.publish(room_topic(room, "dave"), {"id": msg_id(), "body": "removed, still talking"})
    alice.publish(room_topic(room, "alice"), {"id": msg_id(), "body": "dave must not see this"})
    # Markers: dave's request, sent after his message over the same path,
    # is answered through the hub; alice's reply comes after dave's message
    # would have reached her.
    dave.quiet_until_reply(lambda t, p: room in t)
    alice.quiet_until_reply(lambda t, p: t == room_topic(room, "dave"))


def test_presence_online_then_offline_when_connection_is_killed(stack):
    # frank has no other connection open in this session.
    stack.add_user("frank", "frank-pw-1", rooms=["lobby"])
    bob = stack.client("bob", "hub")
    bob.subscribe("chat/v1/presence/frank")
    # A plain third-party client with no Last Will: the broker side tells.
    proc = subprocess.Popen(["mosquitto_sub", "-p", str(stack.port("leaf")), "-u", "frank",
                             "-P", stack.password("frank"), "-i", "frank-phone", "-t", inbox("frank")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bob.expect_json("chat/v1/presence/frank", lambda d: d["state"] == "online")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    offline = bob.expect_json("chat/v1/presence/frank", lambda d: d["state"] == "offline")
    assert offline["user"] == "frank" and offline["last_seen"]
    # Last-seen is written in batches: poll for it.
    query = "SELECT COUNT(*) FROM last_seen s JOIN users u ON u.id = s.user_id WHERE u.username = 'frank'"
    assert wait_until(lambda: stack.sql(query) == [["1"]]), stack.sql(query)
    # A newcomer learns the state from the retained message.
    late = stack.client("bob", "leaf")
    late.subscribe("chat/v1/presence/frank")
    assert late.expect_json("chat/v1/presence/frank")["state"] == "offline"


def test_history_request_and_its_errors(stack):
    room = fresh_room(stack, "alice", "bob")
    stack.add_user("erin", "erin-pw-1")
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    bodies = [f"line {i}" for i in range(5)] + ["Robert'); DROP TABLE messages;-- \\ % _ \" ✓ 😀"]
    for b in bodies:
        m = {"id": msg_id(), "body": b}
        alice.publish(room_topic(room, "alice"), m)
        alice.expect_json(inbox("alice"), lambda d, m=m: d.get("type") == "receipt" and d["id"] == m["id"])

    full = ask(alice, "alice", {"op": "history", "req_id": "h1", "room": room})
    assert full["ok"] is True and full["last_seq"] == 6
    assert [m["seq"] for m in full["messages"]] == [1, 2, 3, 4, 5, 6]
    assert [m["body"] for m in full["messages"]] == bodies
    assert all(m["sender"] == "alice" and m["ts"].endswith("Z") for m in full["messages"])
    page = ask(alice, "alice", {"op": "history", "req_id": "h2", "room": room, "limit": 2, "before": 5})
    assert [m["seq"] for m in page["messages"]] == [3, 4]
    for bad in (0, 251, -1, 1.5, "ten"):
        r = ask(alice, "alice", {"op": "history", "req_id": "h3", "room": room, "limit": bad})
        assert r["ok"] is False and r["error"]["code"] == "bad_request", bad
    r = ask(alice, "alice", {"op": "history", "req_id": "h4", "room": "no-such-room"})
    assert r["ok"] is False and r["error"]["code"] == "not_member"
    r = ask(alice, "alice", {"op": "history", "req_id": "h5", "room": "+"})
    assert r["error"]["code"] == "bad_request"
    r = ask(alice, "alice", {"op": "fly", "req_id": "h6"})
    assert r["error"]["code"] == "unknown_op"
    r = ask(alice, "alice", b"{not json")
    assert r["error"]["code"] == "bad_json"
    erin = stack.client("erin", "hub")
    erin.subscribe(inbox("erin"))
    r = ask(erin, "erin", {"op": "history", "req_id": "h7", "room": room})
    assert r["ok"] is False and r["error"]["code"] == "not_member"
    rooms = ask(alice, "alice", {"op": "rooms", "req_id": "h8"})
    names = {x["name"]: x["last_seq"] for x in rooms["rooms"]}
    assert names[room] == 6 and "lobby" in names
    # Nobody can read someone else's inbox.
    spy = Client(stack, "erin", "leaf")
    spy.subscribe(inbox("alice"))  # refused
    ask(alice, "alice", {"op": "rooms", "req_id": "h9"})
    spy.quiet_until_reply(lambda t, p: t == inbox("alice"))
    spy.close()


def test_bad_messages_get_an_error_and_are_not_stored(stack):
    room = fresh_room(stack, "alice")
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    cases = [
        (b"{oops", "bad_json"),
        (b"[1,2]", "bad_json"),
        (json.dumps({"body": "no id"}).encode(), "bad_message"),
        (json.dumps({"id": "a/b", "body": "slash in id"}).encode(), "bad_message"),
        (json.dumps({"id": msg_id(), "body": 42}).encode(), "bad_message"),
        (json.dumps({"id": msg_id(), "body": "x" * 4001}).encode(), "too_large"),
        (b'{"id":"' + msg_id().encode() + b'","body":"bad \xff\xfe utf8"}', "bad_utf8"),
        (b"x" * 20000, "too_large"),
    ]
    for payload, code in cases:
        alice.publish(room_topic(room, "alice"), payload)
        err = alice.expect_json(inbox("alice"), lambda d: d.get("type") == "error")
        assert err["code"] == code, (payload[:40], err)
        assert err["room"] == room
    good = {"id": msg_id(), "body": "still alive"}
    alice.publish(room_topic(room, "alice"), good)
    assert alice.expect_json(inbox("alice"), lambda d: d.get("type") == "receipt")["seq"] == 1
    assert stack.sql(f"SELECT COUNT(*) FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'") == [["1"]]


def test_mosquitto_command_line_clients_can_chat(stack):
    """A third party with only mosquitto_pub/mosquitto_sub and docs/PROTOCOL.md."""
    room = fresh_room(stack, "alice", "bob")
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(stack.port("hub")), "-u", "bob", "-P", stack.password("bob"),
                            "-q", "1", "-t", f"chat/v1/rooms/{room}/msg/+", "-v", "-C", "1", "-W", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # mosquitto_sub says nothing when its subscription is in place: the
    # same message (same id: stored once) goes again until it has one.
    payload = json.dumps({"id": "cli-1", "body": "sent with mosquitto_pub"})

    def publish_and_check():
        subprocess.run(["mosquitto_pub", "-p", str(stack.port("leaf")), "-u", "alice", "-P", stack.password("alice"),
                        "-q", "1", "-t", room_topic(room, "alice"), "-m", payload], check=True, timeout=30)
        return sub.poll() is not None
    assert wait_until(publish_and_check, step=1.0), "mosquitto_sub got nothing"
    out, err = sub.communicate(timeout=60)
    assert out.strip() == f"{room_topic(room, 'alice')} {payload}", err


def test_mqtt5_client_works_too(stack):
    room = fresh_room(stack, "alice", "bob")
    alice = stack.client("alice", "leaf", protocol=mqtt.MQTTv5)
    bob = stack.client("bob", "hub", protocol=mqtt.MQTTv5)
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    m = {"id": msg_id(), "body": "over MQTT 5"}
    alice.publish(room_topic(room, "alice"), m)
    assert bob.expect_json(room_topic(room, "alice"))["id"] == m["id"]


def test_status_reports_every_part_up(stack):
    r = stack.script("status", check=False)
    assert r.returncode == 0, r.stdout
    for part in ("mariadb", "hub", "leaf", "history-svc", "presence-svc", "push-svc"):
        assert f"{part}" in r.stdout and "down" not in r.stdout


def test_port_in_use_is_named(stack, tmp_path):
    env = dict(stack.env, CHAT_VAR=str(tmp_path / "var"), CHAT_DB_PORT=str(stack.port("hub")))
    r = stack.script("up", check=False, env=env)
    assert r.returncode != 0
    assert f"port {stack.port('hub')} is already in use" in r.stderr and "CHAT_DB_PORT" in r.stderr
