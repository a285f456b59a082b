"""Rooms and members over MQTT requests: create, join, leave, invite, kick,
public_rooms, and that the brokers apply each change by the time its reply
arrives."""
import json
import time
import uuid

from conftest import Client


def inbox(user):
    return f"chat/v1/users/{user}/inbox"


def ask(client, user, req):
    req = dict(req, req_id=uuid.uuid4().hex[:12])
    client.publish(f"chat/v1/users/{user}/req/history", req)
    return client.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("req_id") == req["req_id"])


def say(client, user, room, body):
    m = {"id": uuid.uuid4().hex, "body": body}
    client.publish(f"chat/v1/rooms/{room}/msg/{user}", m)
    return m


def test_public_room_create_join_leave(stack):
    room = "pub-" + uuid.uuid4().hex[:8]
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    alice.subscribe(inbox("alice"))
    bob.subscribe(inbox("bob"))
    r = ask(alice, "alice", {"op": "create", "room": room})
    assert r["ok"] and r["room"] == room
    assert ask(alice, "alice", {"op": "create", "room": room})["error"]["code"] == "room_exists"
    listed = ask(bob, "bob", {"op": "public_rooms"})
    assert any(x["name"] == room and x["members"] == 1 for x in listed["rooms"])
    # Not a member yet: bob's subscription is refused, so he sees nothing.
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    say(alice, "alice", room, "before bob")
    bob.quiet_for(lambda t, p: room in t, 1.0)
    # Joined: by the time the reply arrives, both brokers let him in.
    assert ask(bob, "bob", {"op": "join", "room": room})["ok"]
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    m = say(alice, "alice", room, "hello bob")
    assert bob.expect_json(f"chat/v1/rooms/{room}/msg/alice")["id"] == m["id"]
    mine = say(bob, "bob", room, "hi")
    assert bob.expect_json(inbox("bob"), lambda d: d.get("type") == "receipt")["id"] == mine["id"]
    # Left: nothing more arrives on the same subscription.
    assert ask(bob, "bob", {"op": "leave", "room": room})["ok"]
    say(alice, "alice", room, "after bob left")
    bob.quiet_for(lambda t, p: room in t, 1.0)
    assert ask(bob, "bob", {"op": "leave", "room": room})["error"]["code"] == "not_member"
    rooms = {x["name"] for x in ask(bob, "bob", {"op": "rooms"})["rooms"]}
    assert room not in rooms


def test_private_room_needs_an_invitation_from_an_admin(stack):
    room = "priv-" + uuid.uuid4().hex[:8]
    stack.add_user("ivy", "ivy-pw-1")
    alice = stack.client("alice", "hub")
    bob = stack.client("bob", "leaf")
    ivy = stack.client("ivy", "leaf")
    for c, u in ((alice, "alice"), (bob, "bob"), (ivy, "ivy")):
        c.subscribe(inbox(u))
    assert ask(alice, "alice", {"op": "create", "room": room, "visibility": "private"})["ok"]
    assert room not in {x["name"] for x in ask(bob, "bob", {"op": "public_rooms"})["rooms"]}
    assert ask(bob, "bob", {"op": "join", "room": room})["error"]["code"] == "not_found"
    r = ask(alice, "alice", {"op": "invite", "room": room, "user": "bob"})
    assert r["ok"] and r["user"] == "bob"
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    m = say(alice, "alice", room, "welcome")
    assert bob.expect_json(f"chat/v1/rooms/{room}/msg/alice")["id"] == m["id"]
    # bob is a member, not an admin: he cannot invite or kick.
    assert ask(bob, "bob", {"op": "invite", "room": room, "user": "ivy"})["error"]["code"] == "forbidden"
    assert ask(ivy, "ivy", {"op": "invite", "room": room, "user": "ivy"})["error"]["code"] == "not_member"
    assert ask(alice, "alice", {"op": "invite", "room": room, "user": "nobody-here"})["error"]["code"] == "unknown_user"
    assert ask(alice, "alice", {"op": "kick", "room": room, "user": "bob"})["ok"]
    say(alice, "alice", room, "bob is gone")
    bob.quiet_for(lambda t, p: room in t, 1.0)
    assert ask(alice, "alice", {"op": "kick", "room": room, "user": "bob"})["error"]["code"] == "not_member"


def test_bad_room_requests(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    assert ask(alice, "alice", {"op": "create", "room": "Bad Name"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "create", "room": "x+y"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "create", "room": "ok-" + uuid.uuid4().hex[:6], "visibility": "secret"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "join"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "invite", "room": "lobby"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "join", "room": "'; DROP TABLE rooms;--"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "join", "room": "no-such-room"})["error"]["code"] == "not_found"
