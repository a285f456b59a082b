"""Presence rules a user checks across replies (docs/PROTOCOL.md 3.4, 4.5):
the retained presence, the `roster` reply and the `devices` reply tell the
same story about one user. In particular `last_seen` is null while the user
has an open connection, even when an earlier disconnect was recorded (in
presence-svc's memory and in MariaDB's last_seen table), and it is the
retained offline message's time once the last connection ends.

Every wait here polls for a condition with a deadline; the deadlines are
the documented bounds with a margin for a slow, loaded machine.
"""
import json
import time
import uuid

from conftest import Client

STATE_TIMEOUT_S = 15


def uname(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def ptopic(user):
    return f"chat/v1/presence/{user}"


def inbox(user):
    return f"chat/v1/users/{user}/inbox"


def connect(stack, user, node, timeout=15):
    """A logged-in client of user on node, retrying while the plugins have
    not loaded the new user yet."""
    deadline = time.monotonic() + timeout
    while True:
        c = Client(stack, user, node)
        if c.rc == 0:
            stack.clients.append(c)
            return c
        assert time.monotonic() < deadline, f"{user} cannot log in on {node}: rc {c.rc}"
        time.sleep(0.2)  # poll interval of the wait above, not a wait for an event


def wait_state(obs, user, state):
    return obs.expect_json(ptopic(user), lambda d: d["state"] == state, timeout=STATE_TIMEOUT_S)


def ask(client, user, req):
    client.publish(f"chat/v1/users/{user}/req/presence", req)
    return client.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("req_id") == req["req_id"],
                              timeout=STATE_TIMEOUT_S)


def fresh_room(stack, *members):
    room = "pr" + uuid.uuid4().hex[:10]
    r = stack.chatctl("room", "create", room)
    assert r.returncode == 0, r.stderr
    for m in members:
        r = stack.chatctl("room", "add", room, m)
        assert r.returncode == 0, r.stderr
    return room


def stored_last_seen(stack, user):
    rows = stack.sql("SELECT COUNT(*) FROM last_seen s JOIN users u ON u.id = s.user_id"
                     f" WHERE u.username = '{user}'")
    return rows == [["1"]]


def roster_entry(client, user, room, who, req_id):
    r = ask(client, user, {"op": "roster", "req_id": req_id, "room": room})
    assert r["ok"], r
    return {m["user"]: m for m in r["members"]}[who]


def test_last_seen_is_null_while_connected_everywhere(stack):
    user, peer = uname("seen"), uname("peer")
    stack.add_user(user, "seen-pw-1")
    stack.add_user(peer, "peer-pw-1")
    room = fresh_room(stack, user, peer)
    obs = connect(stack, peer, "hub")
    obs.subscribe(ptopic(user), inbox(peer))

    first = connect(stack, user, "leaf")
    wait_state(obs, user, "online")
    first.close()
    offline = wait_state(obs, user, "offline")
    assert offline["last_seen"] and offline["last_seen"].endswith("Z")
    # The disconnect is recorded in MariaDB too (written in batches).
    deadline = time.monotonic() + STATE_TIMEOUT_S
    while not stored_last_seen(stack, user):
        assert time.monotonic() < deadline, "last_seen never stored"
        time.sleep(0.2)

    again = connect(stack, user, "leaf")
    again.subscribe(inbox(user))
    online = wait_state(obs, user, "online")
    assert online["last_seen"] is None and online["devices"] == 1

    devices = ask(again, user, {"op": "devices", "req_id": "d1"})
    assert devices["ok"] and devices["state"] == "online" and devices["devices"] == 1
    assert devices["last_seen"] is None, devices
    mine = roster_entry(again, user, room, user, "r1")
    assert mine["state"] == "online" and mine["last_seen"] is None, mine
    theirs = roster_entry(obs, peer, room, user, "r2")
    assert theirs["state"] == "online" and theirs["last_seen"] is None, theirs

    # Offline again: every reply carries the retained message's last_seen.
    again.close()
    offline = wait_state(obs, user, "offline")
    assert offline["last_seen"] is not None
    theirs = roster_entry(obs, peer, room, user, "r3")
    assert theirs["state"] == "offline" and theirs["devices"] == 0
    assert theirs["last_seen"] == offline["last_seen"], (theirs, offline)


def test_roster_shows_a_member_never_seen_as_offline_with_null_last_seen(stack):
    user, never = uname("seen"), uname("never")
    stack.add_user(user, "seen-pw-1")
    stack.add_user(never, "never-pw-1")
    room = fresh_room(stack, user, never)
    me = connect(stack, user, "hub")
    me.subscribe(inbox(user), ptopic(user))
    wait_state(me, user, "online")
    entry = roster_entry(me, user, room, never, "n1")
    assert entry == {"user": never, "state": "offline", "devices": 0, "text": None, "last_seen": None}
    entry = roster_entry(me, user, room, user, "n2")
    assert entry["state"] == "online" and entry["last_seen"] is None, json.dumps(entry)
