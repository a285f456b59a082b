"""The room meta topic chat/v1/rooms/{room}/meta (docs/PROTOCOL.md 2):
members subscribe to and read it, alone or through chat/v1/rooms/{room}/#,
on either side of the bridge; nobody but the services publishes on it."""
import json
import os
import uuid

from conftest import fresh_room, inbox, wait_until

SERVICE = "meta-svc"
OUTSIDER = "meta-outsider"


def ensure_users(stack):
    """A service account (as history-svc has) and a user in no room."""
    if not os.path.exists(os.path.join(stack.var, "secrets", f"user-{SERVICE}")):
        r = stack.chatctl("user", "add", SERVICE, "--role", "service", "--iterations", "1000",
                          stdin="meta-svc-pw-1\n")
        assert r.returncode == 0, r.stderr
        with open(os.path.join(stack.var, "secrets", f"user-{SERVICE}"), "w") as f:
            f.write("meta-svc-pw-1")
        stack.sync_auth()
    if not os.path.exists(os.path.join(stack.var, "secrets", f"user-{OUTSIDER}")):
        stack.add_user(OUTSIDER, "meta-outsider-pw-1")


def meta(room):
    return f"chat/v1/rooms/{room}/meta"


def granted(client, topic):
    """Subscribes client to topic; returns the SUBACK's code for it."""
    codes = {}

    def on_subscribe(c, u, mid, qos, *rest):
        codes[mid] = qos[0]
        client.subacked.add(mid)
    client.client.on_subscribe = on_subscribe
    _, mid = client.client.subscribe(topic, qos=1)
    assert wait_until(lambda: mid in codes), f"no SUBACK for {topic}"
    return codes[mid]


def is_meta(room):
    return lambda t, p: t == meta(room)


def test_members_get_meta_events_across_the_bridge(stack):
    ensure_users(stack)
    room = fresh_room(stack, "alice", "bob")
    alice = stack.client("alice", "leaf")          # the meta topic alone, on a leaf
    bob = stack.client("bob", "hub")               # the whole room, on the hub
    outsider = stack.client(OUTSIDER, "leaf")
    svc = stack.client(SERVICE, "hub", password="meta-svc-pw-1")
    assert granted(alice, meta(room)) == 1
    assert granted(bob, f"chat/v1/rooms/{room}/#") == 1
    assert granted(outsider, meta(room)) == 0x80   # refused: not a member
    outsider.subscribe(inbox(OUTSIDER))

    event = {"type": "topic", "room": room, "seq": 7, "by": "alice", "ts": "2026-11-29T10:00:00.000Z",
             "topic": "ops " + uuid.uuid4().hex[:6]}
    svc.publish(meta(room), event)
    assert alice.expect_json(meta(room), lambda d: d.get("topic") == event["topic"]) == event
    assert bob.expect_json(meta(room), lambda d: d.get("topic") == event["topic"]) == event
    # The outsider's reply comes from the hub over the same bridge, after.
    outsider.quiet_until_reply(is_meta(room))


def test_members_cannot_publish_on_meta(stack):
    ensure_users(stack)
    room = fresh_room(stack, "alice", "bob")
    bob = stack.client("bob", "hub")
    bob.subscribe(f"chat/v1/rooms/{room}/#")
    forged = {"type": "delete", "room": room, "seq": 3, "ref": 1, "by": "bob", "ts": "2026-11-29T10:00:00.000Z"}
    for node in ("leaf", "hub"):
        alice = stack.client("alice", node)
        alice.publish(meta(room), forged)
        marker = {"id": uuid.uuid4().hex, "body": f"after the forged meta event on the {node}"}
        alice.publish(f"chat/v1/rooms/{room}/msg/alice", marker)
        # The member's own message arrives; the forged event never did.
        bob.quiet_until(is_meta(room), lambda t, p, m=marker: t.endswith("/msg/alice") and json.loads(p) == m)
        alice.close()
