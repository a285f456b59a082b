"""Presence (issue 5) on the real stack: server-side online/offline for any
client, several devices, status and its bad input, rosters, typing
indicators, coalescing of flapping, a restart of presence-svc without a
flapping burst, and a node that goes silent, loses its bridge, or is killed.

The bounds asserted here are the ones docs/PROTOCOL.md (section 3.4)
documents for the defaults: a closed connection shows as offline within
2.5 s of the broker noticing it (coalesce 0.5 s, at most one publication
per user per 2 s); a node that is silent, cut off or dead shows its users
offline within 10.5 s (node timeout 8 s after its last heartbeat, 2 s
apart, plus coalescing). The node tests run last and leave the stack as
they found it.
"""
import json
import os
import signal
import subprocess
import time
import uuid

from conftest import BUILD, WAIT_S, Client, inbox, start_process, wait_listening, wait_out_window, wait_until
from conftest import ask as ask_service
from conftest import fresh_room as new_room

OFFLINE_BOUND_S = 2.5
NODE_BOUND_S = 10.5


def uname(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def ptopic(user):
    return f"chat/v1/presence/{user}"


def req_topic(user):
    return f"chat/v1/users/{user}/req/presence"


def fresh_room(stack, *members):
    return new_room(stack, *members, prefix="p")


def drain(client, seconds, topic=None):
    """Everything client receives within seconds (on topic, if given), decoded."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            t, payload, retain = client.messages.get(timeout=left)
        except Exception:
            break
        if topic is None or t == topic:
            try:
                got.append((t, json.loads(payload)))
            except ValueError:
                got.append((t, payload))
    return got


def ask(client, user, req, timeout=WAIT_S):
    """A request to presence-svc (conftest.ask)."""
    return ask_service(client, user, req, "presence", timeout)


def observer(stack, node="hub"):
    obs = stack.client("bob", node)
    return obs


def pidfile(stack, part):
    return os.path.join(stack.var, "run", f"{part}.pid")


def read_pid(stack, part):
    with open(pidfile(stack, part)) as f:
        return int(f.read().strip())


def wait_dead(pid, timeout=WAIT_S):
    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    assert wait_until(gone, timeout), f"process {pid} did not stop"


def start_presence_svc(stack):
    """Starts presence-svc as stack.sh does, records its pid, waits for it."""
    log = os.path.join(stack.var, "log", "presence-svc.log")
    before = open(log, errors="replace").read().count("connected to")
    with open(log, "a") as out:
        proc = start_process([os.path.join(BUILD, "presence-svc"), "-c",
                              os.path.join(stack.var, "conf", "presence-svc.conf")],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    with open(pidfile(stack, "presence-svc"), "w") as f:
        f.write(str(proc.pid))
    assert wait_until(lambda: open(log, errors="replace").read().count("connected to") > before), \
        "presence-svc did not reconnect"
    return proc


def start_leaf(stack):
    """Restarts the leaf broker as stack.sh does and records its pid."""
    with open(os.path.join(stack.var, "log", "leaf.stderr"), "a") as out:
        proc = start_process(["mosquitto", "-c", os.path.join(stack.var, "leaf", "mosquitto.conf")],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    with open(pidfile(stack, "leaf"), "w") as f:
        f.write(str(proc.pid))
    assert wait_listening(stack.port("leaf"), proc=proc), "the leaf did not listen again"
    return proc


def hub_log_count(stack, text):
    return open(os.path.join(stack.var, "hub", "mosquitto.log"), errors="replace").read().count(text)


def wait_state(obs, user, state, timeout, devices=None):
    """Waits for a presence message of user in state; returns (payload,
    seconds waited). timeout is widened to WAIT_S: a test that asserts a
    bound checks the seconds waited."""
    t0 = time.monotonic()
    got = obs.expect_json(ptopic(user), lambda d: d["state"] == state and (devices is None or d["devices"] == devices),
                          timeout=max(timeout, WAIT_S))
    return got, time.monotonic() - t0


# ---- one user, any client --------------------------------------------------

def test_plain_mosquitto_sub_online_then_offline_after_sigkill_within_bound(stack):
    user = uname("plain")
    stack.add_user(user, "plain-pw-1", rooms=["lobby"])
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    proc = subprocess.Popen(["mosquitto_sub", "-p", str(stack.port("leaf")), "-u", user, "-P", stack.password(user),
                             "-i", f"{user}-sensor", "-k", "30", "-t", inbox(user)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        online, _ = wait_state(obs, user, "online", 10)
        assert online["devices"] == 1 and online["last_seen"] is None and online["text"] is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = time.monotonic()
    offline = obs.expect_json(ptopic(user), lambda d: d["state"] == "offline")
    waited = time.monotonic() - killed
    assert waited <= OFFLINE_BOUND_S + 0.5, f"offline after {waited:.2f}s"
    assert offline["devices"] == 0 and offline["last_seen"].endswith("Z")
    query = f"SELECT COUNT(*) FROM last_seen s JOIN users u ON u.id = s.user_id WHERE u.username = '{user}'"
    assert wait_until(lambda: stack.sql(query) == [["1"]]), stack.sql(query)
    # A newcomer on the other node learns it from the retained message.
    late = stack.client("bob", "leaf")
    late.subscribe(ptopic(user))
    assert late.expect_json(ptopic(user))["state"] == "offline"


def test_two_devices_online_until_both_leave(stack):
    user = uname("duo")
    stack.add_user(user, "duo-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    phone = Client(stack, user, "leaf", client_id=f"{user}-phone")
    wait_state(obs, user, "online", 10, devices=1)
    laptop = Client(stack, user, "hub", client_id=f"{user}-laptop")
    wait_state(obs, user, "online", 10, devices=2)
    # Per-device detail, for the user themselves.
    laptop.subscribe(inbox(user))
    detail = ask(laptop, user, {"op": "devices", "req_id": "d1"})
    assert detail["ok"] and detail["state"] == "online" and detail["devices"] == 2
    assert sorted((d["client"], d["node"]) for d in detail["devices_detail"]) == \
        [(f"{user}-laptop", "hub"), (f"{user}-phone", "leaf")]
    phone.close()
    got, _ = wait_state(obs, user, "online", 10, devices=1)
    assert got["last_seen"] is None
    laptop.close()
    wait_state(obs, user, "offline", 10, devices=0)


def test_stale_presence_on_the_hub_is_corrected(stack):
    """A hub restarted from an older save hands out stale retained presence;
    presence-svc republishes what it knows. Here a service account (the
    only kind allowed to write presence) plants a stale "online, 3 devices"
    for an offline user and a stale "offline" for an online one."""
    gone, here = uname("stale"), uname("here")
    stack.add_user(gone, "stale-pw-1")
    stack.add_user(here, "here-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(gone), ptopic(here))
    c = Client(stack, gone, "leaf")
    wait_state(obs, gone, "online", 10, devices=1)
    c.close()
    wait_state(obs, gone, "offline", 10, devices=0)
    present = Client(stack, here, "leaf")
    wait_state(obs, here, "online", 10, devices=1)
    forger = Client(stack, "history", "hub")
    forger.publish(ptopic(gone), {"user": gone, "state": "online", "devices": 3, "since": None,
                                  "last_seen": None, "text": None}, retain=True)
    forger.publish(ptopic(here), {"user": here, "state": "offline", "devices": 0, "since": None,
                                  "last_seen": None, "text": None}, retain=True)
    try:
        wait_state(obs, gone, "online", 5, devices=3)      # the stale one went out...
        wait_state(obs, gone, "offline", 5, devices=0)     # ...and was corrected
        wait_state(obs, here, "online", 5, devices=1)
        # What a newcomer now reads (retained) is the truth.
        late = observer(stack)
        late.subscribe(ptopic(gone), ptopic(here))
        wait_state(late, gone, "offline", 5, devices=0)
        wait_state(late, here, "online", 5, devices=1)
    finally:
        present.close()
        forger.close()
    wait_state(obs, here, "offline", 10, devices=0)


def test_flapping_user_gives_a_bounded_number_of_messages(stack):
    user = uname("flap")
    stack.add_user(user, "flap-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    start = time.monotonic()
    cycles = 0
    while time.monotonic() - start < 4.0 and cycles < 40:
        c = Client(stack, user, "leaf", client_id=f"{user}-flappy")
        wait_out_window(0.05, "one flap: connected this long")
        c.close()
        cycles += 1
    flapping = time.monotonic() - start
    seen = drain(obs, 4.0, ptopic(user))
    # At most one publication per user per min interval (2 s), plus one.
    bound = int(flapping / 2.0) + 2
    assert cycles >= 10
    assert len(seen) <= bound, f"{cycles} connect/disconnect cycles gave {len(seen)} messages: {seen}"
    assert seen and seen[-1][1]["state"] == "offline", seen
    print(f"flapping: {cycles} cycles in {flapping:.1f}s -> {len(seen)} presence messages (bound {bound})")


# ---- status, roster, bad input ----------------------------------------------

def test_status_away_dnd_text_and_bad_input_refused(stack):
    user = uname("stat")
    stack.add_user(user, "stat-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    me = stack.client(user, "leaf")
    me.subscribe(inbox(user))
    wait_state(obs, user, "online", 10)
    r = ask(me, user, {"op": "status", "req_id": "s1", "state": "away", "text": "lunch 🍜"})
    assert r["ok"] and r["state"] == "away" and r["text"] == "lunch 🍜"
    got, _ = wait_state(obs, user, "away", 10)
    assert got["text"] == "lunch 🍜" and got["devices"] == 1
    r = ask(me, user, {"op": "status", "req_id": "s2", "state": "dnd", "text": "x" * 100})
    assert r["ok"]
    assert wait_state(obs, user, "dnd", 10)[0]["text"] == "x" * 100

    bad = [
        ({"op": "status", "req_id": "b1", "state": "dnd", "text": "x" * 101}, "too_large"),
        ({"op": "status", "req_id": "b2", "state": "sleeping"}, "bad_request"),
        ({"op": "status", "req_id": "b3", "state": "offline"}, "bad_request"),
        ({"op": "status", "req_id": "b4", "state": "away", "text": 42}, "bad_request"),
        ({"op": "status", "req_id": "b5", "state": "away", "text": "bell\u0007"}, "bad_request"),
        ({"op": "status", "req_id": "b6", "state": "away", "user": "bob"}, "forbidden"),
        ({"op": "fly", "req_id": "b7"}, "unknown_op"),
        ({"op": "status", "req_id": "bad id!", "state": "away"}, "bad_request"),
    ]
    for req, code in bad:
        me.publish(req_topic(user), req)
        r = me.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("ok") is False)
        assert r["error"]["code"] == code, (req, r)
    me.publish(req_topic(user), b"{not json")
    assert me.expect_json(inbox(user), lambda d: d.get("type") == "reply")["error"]["code"] == "bad_json"
    me.publish(req_topic(user), b'{"op":"status","req_id":"u8","state":"away","text":"\xff\xfe"}')
    assert me.expect_json(inbox(user), lambda d: d.get("req_id") == "u8")["error"]["code"] == "bad_request"
    me.publish(req_topic(user), b"x" * 5000)
    assert me.expect_json(inbox(user), lambda d: d.get("type") == "reply")["error"]["code"] == "too_large"
    # Someone else's identity in the topic: the broker drops it.
    bob = stack.client("bob", "leaf")
    bob.publish(req_topic(user), {"op": "status", "req_id": "evil", "state": "online"})
    # Nothing of that was stored: still dnd with the same text.
    obs.quiet_for(lambda t, p: t == ptopic(user), OFFLINE_BOUND_S)   # a change would be out by then
    r = ask(me, user, {"op": "devices", "req_id": "s3"})
    assert r["state"] == "dnd" and r["text"] == "x" * 100
    # The status lasts while connected; back online after a reconnect.
    me.close()
    got, _ = wait_state(obs, user, "offline", 10)
    assert got["text"] is None
    me2 = stack.client(user, "hub")
    assert wait_state(obs, user, "online", 10)[0]["text"] is None
    me2.close()


def test_roster_lists_members_with_presence_members_only(stack):
    a, b, outsider = uname("ra"), uname("rb"), uname("ro")
    for u in (a, b, outsider):
        stack.add_user(u, "roster-pw-1")
    room = fresh_room(stack, a, b)
    obs = observer(stack)
    obs.subscribe(ptopic(a))
    ca = stack.client(a, "leaf")
    ca.subscribe(inbox(a))
    wait_state(obs, a, "online", WAIT_S)   # presence-svc knows a is connected
    r = ask(ca, a, {"op": "status", "req_id": "r0", "state": "away", "text": "brb"})
    assert r["ok"]
    wait_state(obs, a, "away", WAIT_S)
    r = ask(ca, a, {"op": "roster", "req_id": "r1", "room": room})
    assert r["ok"] and r["room"] == room and r["truncated"] is False
    members = {m["user"]: m for m in r["members"]}
    assert set(members) == {a, b}
    assert members[a]["state"] == "away" and members[a]["text"] == "brb" and members[a]["devices"] == 1
    assert members[b]["state"] == "offline" and members[b]["devices"] == 0
    co = stack.client(outsider, "hub")
    co.subscribe(inbox(outsider))
    r = ask(co, outsider, {"op": "roster", "req_id": "r2", "room": room})
    assert r["ok"] is False and r["error"]["code"] == "not_member"
    r = ask(co, outsider, {"op": "roster", "req_id": "r3", "room": "Bad+Room"})
    assert r["error"]["code"] == "bad_request"


# ---- typing -------------------------------------------------------------------

def test_typing_indicator_seen_then_expires_and_is_policed(stack):
    a, b, c = uname("ta"), uname("tb"), uname("tc")
    for u in (a, b, c):
        stack.add_user(u, "typing-pw-1")
    room = fresh_room(stack, a, b)
    typing_a = f"chat/v1/rooms/{room}/typing/{a}"
    ca = stack.client(a, "leaf")
    cb = stack.client(b, "hub")
    cc = stack.client(c, "hub")
    cb.subscribe(f"chat/v1/rooms/{room}/typing/+")
    r, _ = cc.client.subscribe(f"chat/v1/rooms/{room}/typing/+", qos=0)  # not a member: refused
    ca.publish(typing_a, {"typing": True}, qos=0)
    t0 = time.monotonic()
    assert cb.expect_json(typing_a, lambda d: d["typing"] is True)
    stopped = cb.expect_json(typing_a, lambda d: d["typing"] is False)
    waited = time.monotonic() - t0
    assert stopped.get("expired") is True
    assert 5.0 <= waited <= 7.5, f"expired after {waited:.2f}s"
    # An explicit stop is passed on and cancels the expiry.
    ca.publish(typing_a, {"typing": True}, qos=0)
    cb.expect_json(typing_a, lambda d: d["typing"] is True)
    ca.publish(typing_a, {"typing": False}, qos=0)
    cb.expect_json(typing_a, lambda d: d["typing"] is False and "expired" not in d)
    cb.quiet_for(lambda t, p: t == typing_a, 7.0)
    # Malformed, someone else's name, a non-member, retained: all dropped.
    ca.publish(typing_a, b"typing!", qos=0)
    ca.publish(typing_a, {"typing": "yes"}, qos=0)
    ca.publish(f"chat/v1/rooms/{room}/typing/{b}", {"typing": True}, qos=0)
    cc.publish(f"chat/v1/rooms/{room}/typing/{c}", {"typing": True}, qos=0)
    ca.publish(typing_a, {"typing": True}, qos=0, retain=True)
    cb.quiet_for(lambda t, p: True, 2.0)
    cc.quiet_for(lambda t, p: True, 0.1)
    # Rate: at most 5 per 5 s per connection.
    wait_out_window(5.1, "a fresh 5 s typing-rate window")
    for _ in range(20):
        ca.publish(typing_a, {"typing": True}, qos=0)
    got = [p for t, p in drain(cb, 2.0) if t == typing_a and p.get("typing") is True]
    assert 1 <= len(got) <= 5, got


# ---- presence-svc restart ---------------------------------------------------

def test_presence_svc_restart_rebuilds_without_flapping(stack):
    stays, leaves, arrives = uname("rs"), uname("rl"), uname("ra")
    for u in (stays, leaves, arrives):
        stack.add_user(u, "restart-pw-1")
    obs = observer(stack)
    obs.subscribe("chat/v1/presence/+")
    c_stays = stack.client(stays, "leaf")
    stack.client(stays, "hub")   # stays' second device
    c_leaves = stack.client(leaves, "hub")
    wait_state(obs, stays, "online", 10, devices=2)
    wait_state(obs, leaves, "online", 10)
    drain(obs, 2.5)
    pid = read_pid(stack, "presence-svc")
    os.kill(pid, signal.SIGTERM)
    wait_dead(pid)
    c_leaves.close()
    c_arrives = stack.client(arrives, "leaf")
    # Both changes happened while presence-svc was away: the hub has seen
    # the one leave (the other's CONNACK came already).
    hub_log = os.path.join(stack.var, "hub", "mosquitto.log")
    assert wait_until(lambda: f"Client {c_leaves.client_id} disconnected" in open(hub_log, errors="replace").read())
    start_presence_svc(stack)
    seen = drain(obs, 9.0)
    by_user = {}
    for t, p in seen:
        by_user.setdefault(t.rsplit("/", 1)[1], []).append(p)
    # Continuously online: not a single message (no offline-then-online).
    assert stays not in by_user, by_user.get(stays)
    assert [p["state"] for p in by_user.get(leaves, [])] == ["offline"], by_user.get(leaves)
    assert [p["state"] for p in by_user.get(arrives, [])] == ["online"], by_user.get(arrives)
    # Everyone else who was online or offline before stays as they were.
    assert set(by_user) <= {leaves, arrives}, sorted(by_user)
    # And it keeps working.
    c_stays.close()
    wait_state(obs, stays, "online", 10, devices=1)
    c_arrives.close()
    wait_state(obs, arrives, "offline", 10)


# ---- whole nodes: silent, cut off, killed (last: they disturb the leaf) ------

def test_node_silent_goes_offline_within_bound_and_back_when_it_wakes(stack):
    user = uname("ns")
    stack.add_user(user, "silent-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    c = stack.client(user, "leaf")
    wait_state(obs, user, "online", 10)
    drain(obs, 2.5)
    leaf = read_pid(stack, "leaf")
    os.kill(leaf, signal.SIGSTOP)
    try:
        got, waited = wait_state(obs, user, "offline", NODE_BOUND_S + 3)
        assert waited <= NODE_BOUND_S + 0.5, f"offline after {waited:.2f}s"
        assert got["last_seen"]
    finally:
        os.kill(leaf, signal.SIGCONT)
    # Still connected (its keepalive is 30 s): online again once heard.
    got, waited = wait_state(obs, user, "online", 15)
    print(f"silent node: offline after at most {NODE_BOUND_S}s, online again {waited:.1f}s after SIGCONT")
    c.close()
    wait_state(obs, user, "offline", 10)


def test_bridge_cut_turns_node_users_offline_and_back(stack):
    user = uname("bc")
    stack.add_user(user, "bridge-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    c = stack.client(user, "leaf")
    wait_state(obs, user, "online", 10)
    drain(obs, 2.5)
    # Disabling the bridge's account makes the hub drop the bridge and
    # refuse it: the leaf and its clients keep running, cut off.
    assert stack.chatctl("user", "disable", "bridge-leaf").returncode == 0
    try:
        got, waited = wait_state(obs, user, "offline", NODE_BOUND_S + 4)
        assert waited <= NODE_BOUND_S + 1.5, f"offline after {waited:.2f}s"
    finally:
        assert stack.chatctl("user", "enable", "bridge-leaf").returncode == 0
    got, waited = wait_state(obs, user, "online", 30)
    print(f"bridge cut: back online {waited:.1f}s after the bridge account was enabled")
    c.close()
    wait_state(obs, user, "offline", 10)


def test_node_killed_goes_offline_and_users_return_after_restart(stack):
    user = uname("nk")
    stack.add_user(user, "killed-pw-1")
    obs = observer(stack)
    obs.subscribe(ptopic(user))
    c = stack.client(user, "leaf")   # paho reconnects by itself
    wait_state(obs, user, "online", 10)
    drain(obs, 2.5)
    leaf = read_pid(stack, "leaf")
    os.kill(leaf, signal.SIGKILL)
    wait_dead(leaf)
    try:
        got, waited = wait_state(obs, user, "offline", NODE_BOUND_S + 3)
        assert waited <= NODE_BOUND_S + 0.5, f"offline after {waited:.2f}s"
    finally:
        bridges = hub_log_count(stack, "as leaf-bridge")
        start_leaf(stack)
    assert wait_until(lambda: hub_log_count(stack, "as leaf-bridge") > bridges), "the leaf's bridge did not come back"
    got, waited = wait_state(obs, user, "online", 30)
    c.close()
    wait_state(obs, user, "offline", 10)
    # The leaf works for chat again.
    alice = stack.client("alice", "leaf")
    bob = stack.client("bob", "hub")
    bob.subscribe("chat/v1/rooms/lobby/msg/+")
    alice.publish("chat/v1/rooms/lobby/msg/alice", {"id": uuid.uuid4().hex, "body": "after the node came back"})
    bob.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["body"] == "after the node came back")
