"""Rooms and members over MQTT requests: create, join, leave, invite, kick,
public_rooms, and that the brokers apply each change by the time its reply
arrives."""
import uuid

from conftest import ask, inbox


def say(client, user, room, body):
    m = {"id": uuid.uuid4().hex, "body": body}
    client.publish(f"chat/v1/rooms/{room}/msg/{user}", m)
    return m


def say_stored(client, user, room, body):
    """say(), then wait for its receipt (client is subscribed to its inbox):
    the hub has routed the message to every subscriber by then."""
    m = say(client, user, room, body)
    client.expect_json(inbox(user), lambda d: d.get("type") == "receipt" and d["id"] == m["id"])
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
    say_stored(alice, "alice", room, "before bob")
    bob.quiet_until_reply(lambda t, p: room in t)
    # Joined: by the time the reply arrives, both brokers let him in.
    assert ask(bob, "bob", {"op": "join", "room": room})["ok"]
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    m = say(alice, "alice", room, "hello bob")
    assert bob.expect_json(f"chat/v1/rooms/{room}/msg/alice")["id"] == m["id"]
    mine = say(bob, "bob", room, "hi")
    assert bob.expect_json(inbox("bob"), lambda d: d.get("type") == "receipt")["id"] == mine["id"]
    # Left: nothing more arrives on the same subscription.
    assert ask(bob, "bob", {"op": "leave", "room": room})["ok"]
    say_stored(alice, "alice", room, "after bob left")
    bob.quiet_until_reply(lambda t, p: room in t)
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
    say_stored(alice, "alice", room, "bob is gone")
    bob.quiet_until_reply(lambda t, p: room in t)
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


def test_read_markers_give_unread_counts_and_catch_up_with_after(stack):
    room = "rd-" + uuid.uuid4().hex[:8]
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    alice.subscribe(inbox("alice"))
    bob.subscribe(inbox("bob"))
    assert ask(alice, "alice", {"op": "create", "room": room})["ok"]
    assert ask(bob, "bob", {"op": "join", "room": room})["ok"]
    for i in range(5):
        m = say(alice, "alice", room, f"m{i}")
        alice.expect_json(inbox("alice"), lambda d, m=m: d.get("type") == "receipt" and d["id"] == m["id"])

    def my_room(client, user):
        return next(x for x in ask(client, user, {"op": "rooms"})["rooms"] if x["name"] == room)

    r = my_room(bob, "bob")
    assert (r["last_seq"], r["read_seq"], r["unread"], r["role"]) == (5, 0, 5, "member")
    assert my_room(alice, "alice")["role"] == "admin"
    assert ask(bob, "bob", {"op": "read", "room": room, "seq": 3})["seq"] == 3
    assert my_room(bob, "bob")["unread"] == 2
    ask(bob, "bob", {"op": "read", "room": room, "seq": 1})          # markers never go back
    assert my_room(bob, "bob")["read_seq"] == 3
    assert ask(bob, "bob", {"op": "read", "room": room, "seq": 99})["error"]["code"] == "bad_request"
    assert ask(bob, "bob", {"op": "read", "room": "lobby-nope", "seq": 1})["error"]["code"] == "not_member"
    # Catch-up after seq 3, paging forwards, and edge cases.
    got = ask(bob, "bob", {"op": "history", "room": room, "after": 3})
    assert [m["seq"] for m in got["messages"]] == [4, 5]
    got = ask(bob, "bob", {"op": "history", "room": room, "after": 0, "limit": 2})
    assert [m["seq"] for m in got["messages"]] == [1, 2]
    assert ask(bob, "bob", {"op": "history", "room": room, "after": 5})["messages"] == []
    assert ask(bob, "bob", {"op": "history", "room": room, "after": 500})["messages"] == []
    assert ask(bob, "bob", {"op": "history", "room": room, "before": 1})["messages"] == []
    assert ask(bob, "bob", {"op": "history", "room": room, "before": 500, "limit": 1})["messages"][0]["seq"] == 5
    assert ask(bob, "bob", {"op": "history", "room": room, "after": 1, "before": 3})["error"]["code"] == "bad_request"
    empty = "empty-" + uuid.uuid4().hex[:6]
    assert ask(alice, "alice", {"op": "create", "room": empty})["ok"]
    got = ask(alice, "alice", {"op": "history", "room": empty})
    assert got["ok"] and got["messages"] == [] and got["last_seq"] == 0


def test_direct_message_room_is_the_same_for_the_pair(stack):
    stack.add_user("jack", "jack-pw-1")
    alice = stack.client("alice", "leaf")
    jack = stack.client("jack", "hub")
    alice.subscribe(inbox("alice"))
    jack.subscribe(inbox("jack"))
    first = ask(alice, "alice", {"op": "dm", "user": "jack"})
    again = ask(jack, "jack", {"op": "dm", "user": "alice"})
    assert first["ok"] and first["room"] == again["room"] and first["room"].startswith("dm-")
    room = first["room"]
    jack.subscribe(f"chat/v1/rooms/{room}/msg/+")
    m = say(alice, "alice", room, "just between us")
    assert jack.expect_json(f"chat/v1/rooms/{room}/msg/alice")["id"] == m["id"]
    mine = next(x for x in ask(jack, "jack", {"op": "rooms"})["rooms"] if x["name"] == room)
    assert mine["visibility"] == "direct" and mine["with"] == "alice"
    assert room not in {x["name"] for x in ask(jack, "jack", {"op": "public_rooms"})["rooms"]}
    bob = stack.client("bob", "leaf")
    bob.subscribe(inbox("bob"))
    assert ask(bob, "bob", {"op": "join", "room": room})["error"]["code"] == "not_found"
    assert ask(alice, "alice", {"op": "dm", "user": "alice"})["error"]["code"] == "bad_request"
    assert ask(alice, "alice", {"op": "dm", "user": "ghost"})["error"]["code"] == "unknown_user"
