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
import uuid

from conftest import Client, wait_for

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
    clients = []

    def logged_in():
        clients.append(Client(stack, user, node))
        return clients[-1].rc == 0
    wait_until(logged_in, f"{user} logging in on {node}", timeout)
    stack.clients.append(clients[-1])
    return clients[-1]


def wait_state(obs, user, state):
    return obs.expect_json(ptopic(user), lambda d: d["state"] == state, timeout=STATE_TIMEOUT_S)


def ask(client, user, req):
    client.publish(f"chat/v1/users/{user}/req/presence", req)
    return client.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("req_id") == req["req_id"],
                              timeout=STATE_TIMEOUT_S)


def two_members(stack, prefix_a, prefix_b):
    """Two new users and a new room holding both: (a, b, room)."""
    a, b, room = uname(prefix_a), uname(prefix_b), "pr" + uuid.uuid4().hex[:10]
    stack.add_user(a, f"{prefix_a}-pw-1")
    stack.add_user(b, f"{prefix_b}-pw-1")
    r = stack.chatctl("room", "create", room)
    assert r.returncode == 0, r.stderr
    for m in (a, b):
        r = stack.chatctl("room", "add", room, m)
        assert r.returncode == 0, r.stderr
    return a, b, room


def wait_until(condition, what, timeout=STATE_TIMEOUT_S):
    return wait_for(condition, what, timeout, step=0.2)


def stored_last_seen(stack, user):
    rows = stack.sql("SELECT COUNT(*) FROM last_seen s JOIN users u ON u.id = s.user_id"
                     f" WHERE u.username = '{user}'")
    return rows == [["1"]]


def roster_entry(client, user, room, who, req_id):
    r = ask(client, user, {"op": "roster", "req_id": req_id, "room": room})
    assert r["ok"], r
    return {m["user"]: m for m in r["members"]}[who]


def test_last_seen_is_null_while_connected_everywhere(stack):
    user, peer, room = two_members(stack, "seen", "peer")
    obs = connect(stack, peer, "hub")
    obs.subscribe(ptopic(user), inbox(peer))

    first = connect(stack, user, "leaf")
    wait_state(obs, user, "online")
    first.close()
    offline = wait_state(obs, user, "offline")
    assert offline["last_seen"] and offline["last_seen"].endswith("Z")
    # The disconnect is recorded in MariaDB too (written in batches).
    wait_until(lambda: stored_last_seen(stack, user), "last_seen stored in MariaDB")

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
    user, never, room = two_members(stack, "seen", "never")
    me = connect(stack, user, "hub")
    me.subscribe(inbox(user), ptopic(user))
    wait_state(me, user, "online")
    entry = roster_entry(me, user, room, never, "n1")
    assert entry == {"user": never, "state": "offline", "devices": 0, "text": None, "last_seen": None}
    entry = roster_entry(me, user, room, user, "n2")
    assert entry["state"] == "online" and entry["last_seen"] is None, json.dumps(entry)
