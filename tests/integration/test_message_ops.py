"""Message events over the bridge (docs/PROTOCOL.md 3.1-3.6, 4.1): edit,
delete, react, unreact, replies, threads and mentions, sent by a Paho
client on the leaf and read on the hub; history in the current state; the
erasure of deleted text checked in MariaDB; every refusal and duplicate
changes nothing."""
import uuid

import pytest

from conftest import ask, inbox, wait_for

THUMB = "\U0001F44D"
PARTY = "\U0001F389"


@pytest.fixture(scope="module")
def carol(stack):
    """A third user (a plain member where the tests add her)."""
    name = "carol" + uuid.uuid4().hex[:6]
    stack.add_user(name, "carol-pw-" + uuid.uuid4().hex[:6])
    return name


def room_with(stack, *members, admins=()):
    room = "ops" + uuid.uuid4().hex[:10]
    r = stack.chatctl("room", "create", room)
    assert r.returncode == 0, r.stderr
    for m in members:
        args = ["member", "add", room, m] + (["--role", "admin"] if m in admins else [])
        r = stack.chatctl(*args)
        assert r.returncode == 0, r.stderr
    stack.sync_auth()
    return room


def connect(stack, user, node):
    c = stack.client(user, node)
    c.subscribe(inbox(user))
    return c


def send(client, user, room, payload):
    payload = dict(payload)
    payload.setdefault("id", uuid.uuid4().hex)
    client.publish(f"chat/v1/rooms/{room}/msg/{user}", payload)
    return payload


def answer(client, user, msg_id):
    """The receipt or error history-svc sends user about msg_id."""
    return client.expect_json(inbox(user), lambda d: d.get("type") in ("receipt", "error") and d.get("id") == msg_id)


def stored(client, user, room, payload):
    """Sends payload and returns its receipt (failing on an error)."""
    p = send(client, user, room, payload)
    got = answer(client, user, p["id"])
    assert got["type"] == "receipt", got
    return got


def refused(client, user, room, payload, code):
    """Sends payload and asserts history-svc refuses it with code."""
    p = send(client, user, room, payload)
    got = answer(client, user, p["id"])
    assert got["type"] == "error" and got["code"] == code, got
    return got


def history(client, user, room, **kw):
    r = ask(client, user, dict(op="history", room=room, **kw))
    assert r["ok"], r
    return r


def entry(client, user, room, seq):
    found = [m for m in history(client, user, room, after=seq - 1, limit=1)["messages"] if m["seq"] == seq]
    assert found, f"no entry {seq}"
    return found[0]


def room_id(stack, room):
    return stack.sql(f"SELECT id FROM rooms WHERE name = '{room}'")[0][0]


def test_edit_is_seen_live_and_in_history(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    first = stored(alice, "alice", room, {"body": "helo"})
    assert "kind" not in first
    edit = send(alice, "alice", room, {"kind": "edit", "ref": first["seq"], "text": "hello"})
    live = bob.expect_json(f"chat/v1/rooms/{room}/msg/alice", lambda d: d.get("id") == edit["id"])
    assert live["kind"] == "edit" and live["text"] == "hello" and "body" not in live
    receipt = answer(alice, "alice", edit["id"])
    assert receipt["type"] == "receipt" and receipt["kind"] == "edit" and receipt["seq"] == first["seq"] + 1
    page = history(bob, "bob", room)
    msg, ev = page["messages"]
    assert (msg["seq"], msg["kind"], msg["body"], msg["edited"]) == (first["seq"], "message", "hello", receipt["ts"])
    assert (ev["seq"], ev["kind"], ev["ref"], ev["text"], ev["sender"]) == (receipt["seq"], "edit", first["seq"], "hello", "alice")
    assert ev["body"] == ""


def test_edit_of_someone_elses_message_is_forbidden(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    first = stored(alice, "alice", room, {"body": "mine"})
    refused(bob, "bob", room, {"kind": "edit", "ref": first["seq"], "text": "forged"}, "forbidden")
    page = history(bob, "bob", room)
    assert page["last_seq"] == first["seq"]
    assert page["messages"][0]["body"] == "mine" and "edited" not in page["messages"][0]


def test_delete_by_sender_erases_the_text_in_mariadb(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    secret = "secret-" + uuid.uuid4().hex
    first = stored(alice, "alice", room, {"body": secret})
    edits = [stored(alice, "alice", room, {"kind": "edit", "ref": first["seq"], "text": f"{secret} v{i}"}) for i in (2, 3)]
    stored(bob, "bob", room, {"kind": "react", "ref": first["seq"], "reaction": THUMB})
    deleted = stored(alice, "alice", room, {"kind": "delete", "ref": first["seq"]})
    assert deleted["kind"] == "delete"
    rid = room_id(stack, room)
    rows = stack.sql(f"SELECT seq, body FROM messages WHERE room_id = {rid}"
                     f" AND (seq = {first['seq']} OR (ref_seq = {first['seq']} AND kind = 'edit'))")
    assert sorted(int(s) for s, _ in rows) == [first["seq"]] + [e["seq"] for e in edits]
    assert all(body == "" for _, body in rows), rows
    assert stack.sql(f"SELECT COUNT(*) FROM messages WHERE body LIKE '%{secret}%'") == [["0"]]
    assert stack.sql(f"SELECT COUNT(*) FROM reactions WHERE room_id = {rid}") == [["0"]]
    page = history(bob, "bob", room, after=0)
    by_seq = {m["seq"]: m for m in page["messages"]}
    tomb = by_seq[first["seq"]]
    assert tomb["body"] == "" and tomb["deleted"] == {"by": "alice", "ts": deleted["ts"]} and "reactions" not in tomb
    assert [by_seq[e["seq"]]["text"] for e in edits] == ["", ""]
    assert by_seq[deleted["seq"]]["kind"] == "delete" and by_seq[deleted["seq"]]["ref"] == first["seq"]
    # Deleting twice changes nothing and gets the first delete's receipt.
    again = stored(alice, "alice", room, {"kind": "delete", "ref": first["seq"]})
    assert (again["seq"], again["ts"]) == (deleted["seq"], deleted["ts"])
    refused(alice, "alice", room, {"kind": "edit", "ref": first["seq"], "text": "back"}, "deleted")
    refused(bob, "bob", room, {"kind": "react", "ref": first["seq"], "reaction": THUMB}, "deleted")
    assert history(bob, "bob", room)["last_seq"] == deleted["seq"]


def test_delete_by_admin_is_announced_and_a_member_cannot(stack, carol):
    room = room_with(stack, "alice", "bob", carol, admins=("bob",))
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "leaf")
    car = connect(stack, carol, "leaf")
    # The meta topic is history-svc's; a service account reads it here.
    watcher = connect(stack, "history", "hub")
    watcher.subscribe(f"chat/v1/rooms/{room}/meta")
    one = stored(alice, "alice", room, {"body": "one"})
    two = stored(alice, "alice", room, {"body": "two"})
    refused(car, carol, room, {"kind": "delete", "ref": one["seq"]}, "forbidden")
    by_admin = stored(bob, "bob", room, {"kind": "delete", "ref": one["seq"]})
    note = watcher.expect_json(f"chat/v1/rooms/{room}/meta", lambda d: d.get("type") == "delete")
    assert note == {"type": "delete", "room": room, "seq": by_admin["seq"], "ref": one["seq"], "by": "bob",
                    "ts": by_admin["ts"]}
    page = history(car, carol, room)
    by_seq = {m["seq"]: m for m in page["messages"]}
    assert by_seq[one["seq"]]["deleted"]["by"] == "bob"
    assert by_seq[two["seq"]]["body"] == "two" and "deleted" not in by_seq[two["seq"]]
    assert page["last_seq"] == by_admin["seq"]


def test_reactions_count_once_per_user_and_fold_in_history(stack, carol):
    room = room_with(stack, "alice", "bob", carol)
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    car = connect(stack, carol, "leaf")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    target = stored(alice, "alice", room, {"body": "react to me"})
    stored(alice, "alice", room, {"kind": "react", "ref": target["seq"], "reaction": THUMB})
    again = stored(alice, "alice", room, {"kind": "react", "ref": target["seq"], "reaction": THUMB})
    assert again["kind"] == "react"
    live = bob.expect_json(f"chat/v1/rooms/{room}/msg/alice", lambda d: d.get("kind") == "react")
    assert live["reaction"] == THUMB and live["ref"] == target["seq"]
    stored(bob, "bob", room, {"kind": "react", "ref": target["seq"], "reaction": THUMB})
    stored(car, carol, room, {"kind": "react", "ref": target["seq"], "reaction": PARTY})
    rid = room_id(stack, room)
    assert stack.sql(f"SELECT COUNT(*) FROM reactions WHERE room_id = {rid}") == [["3"]]
    got = entry(bob, "bob", room, target["seq"])
    assert got["reactions"] == [{"reaction": THUMB, "count": 2, "users": ["alice", "bob"]},
                                {"reaction": PARTY, "count": 1, "users": [carol]}]
    un = stored(alice, "alice", room, {"kind": "unreact", "ref": target["seq"], "reaction": THUMB})
    assert un["kind"] == "unreact"
    got = entry(bob, "bob", room, target["seq"])
    # Equal counts: sorted by reaction.
    assert got["reactions"] == [{"reaction": PARTY, "count": 1, "users": [carol]},
                                {"reaction": THUMB, "count": 1, "users": ["bob"]}]
    events = [m for m in history(bob, "bob", room, after=target["seq"])["messages"]]
    assert [(m["kind"], m.get("reaction")) for m in events] == [
        ("react", THUMB), ("react", THUMB), ("react", THUMB), ("react", PARTY), ("unreact", THUMB)]


def test_replies_and_threads(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    root = stored(alice, "alice", room, {"body": "root"})
    quote = stored(bob, "bob", room, {"body": "quoting", "reply_to": root["seq"]})
    replies = [stored(bob if i % 2 else alice, "bob" if i % 2 else "alice", room,
                      {"body": f"reply {i}", "thread": root["seq"]}) for i in range(3)]
    stored(alice, "alice", room, {"body": "not in the thread"})
    page = history(bob, "bob", room, after=0)
    by_seq = {m["seq"]: m for m in page["messages"]}
    assert by_seq[root["seq"]]["replies"] == 3 and by_seq[root["seq"]]["last_reply"] == replies[-1]["ts"]
    assert by_seq[quote["seq"]]["reply_to"] == root["seq"] and "thread" not in by_seq[quote["seq"]]
    assert all(by_seq[r["seq"]]["thread"] == root["seq"] for r in replies)
    # A thread pages like a room, with its root beside the page.
    newest = history(bob, "bob", room, thread=root["seq"], limit=2)
    assert [m["body"] for m in newest["messages"]] == ["reply 1", "reply 2"]
    assert newest["root"]["seq"] == root["seq"] and newest["root"]["replies"] == 3
    older = history(bob, "bob", room, thread=root["seq"], before=newest["messages"][0]["seq"])
    assert [m["body"] for m in older["messages"]] == ["reply 0"]
    first = history(bob, "bob", room, thread=root["seq"], after=0, limit=2)
    assert [m["body"] for m in first["messages"]] == ["reply 0", "reply 1"]
    r = ask(bob, "bob", {"op": "history", "room": room, "thread": replies[0]["seq"]})
    assert r["error"]["code"] == "not_found"
    # A reply is no root; a seq that is no message of the room is unknown.
    refused(alice, "alice", room, {"body": "x", "thread": replies[0]["seq"]}, "bad_ref")
    refused(alice, "alice", room, {"body": "x", "reply_to": page["last_seq"] + 100}, "unknown_ref")
    ev = stored(alice, "alice", room, {"kind": "react", "ref": root["seq"], "reaction": THUMB})
    refused(alice, "alice", room, {"body": "x", "thread": ev["seq"]}, "unknown_ref")
    assert history(bob, "bob", room)["last_seq"] == ev["seq"]


def test_mention_notice_reaches_a_member_not_subscribed_to_the_room(stack, carol):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")  # his inbox only, not the room
    msg = stored(alice, "alice", room, {"body": "@bob look", "mentions": ["bob", carol, "bob"]})
    note = bob.expect_json(inbox("bob"), lambda d: d.get("type") == "mention")
    assert note == {"type": "mention", "room": room, "seq": msg["seq"], "id": note["id"], "sender": "alice",
                    "ts": msg["ts"], "body": "@bob look"}
    # carol is no member: no row, no notice.
    rid = room_id(stack, room)
    assert stack.sql(f"SELECT u.username FROM mentions m JOIN users u ON u.id = m.user_id"
                     f" WHERE m.room_id = {rid}") == [["bob"]]
    assert entry(bob, "bob", room, msg["seq"])["mentions"] == ["bob"]


def test_every_refusal_changes_nothing(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    target = stored(alice, "alice", room, {"body": "target"})
    ev = stored(alice, "alice", room, {"kind": "react", "ref": target["seq"], "reaction": "ok"})
    s = target["seq"]
    cases = [
        ({"kind": "poke", "ref": s}, "bad_message"),
        ({"kind": "edit", "text": "no ref"}, "bad_message"),
        ({"kind": "edit", "ref": "1", "text": "x"}, "bad_message"),
        ({"kind": "edit", "ref": 0, "text": "x"}, "bad_ref"),
        ({"kind": "edit", "ref": s, "text": "x", "body": "x"}, "bad_message"),
        ({"kind": "edit", "ref": s + 1000, "text": "x"}, "unknown_ref"),
        ({"kind": "edit", "ref": ev["seq"], "text": "x"}, "unknown_ref"),
        ({"kind": "react", "ref": ev["seq"], "reaction": "ok"}, "unknown_ref"),
        ({"kind": "delete", "ref": s + 1000}, "unknown_ref"),
        ({"kind": "edit", "ref": s, "text": "x" * 4001}, "too_large"),
        ({"kind": "edit", "ref": s, "text": ""}, "too_large"),
        ({"kind": "edit", "ref": s, "text": "bell\u0007"}, "bad_body"),
        ({"kind": "react", "ref": s, "reaction": "x" * 33}, "too_large"),
        ({"kind": "react", "ref": s, "reaction": "a b"}, "bad_reaction"),
        ({"kind": "react", "ref": s, "reaction": ""}, "bad_reaction"),
        ({"kind": "unreact", "ref": s, "reaction": "tab\t"}, "bad_reaction"),
        ({"body": "x", "mentions": "bob"}, "bad_message"),
        ({"body": "x", "mentions": [f"u{i}" for i in range(21)]}, "too_large"),
    ]
    for payload, code in cases:
        refused(alice, "alice", room, payload, code)
    # Raw JSON: a lone surrogate escape is no UTF-8 text.
    u8 = "u8-" + uuid.uuid4().hex[:8]
    alice.publish(f"chat/v1/rooms/{room}/msg/alice",
                  ('{"id":"%s","kind":"edit","ref":%d,"text":"half \\ud800"}' % (u8, s)).encode())
    assert answer(alice, "alice", u8)["code"] == "bad_utf8"
    page = history(alice, "alice", room, after=0)
    assert page["last_seq"] == ev["seq"] and len(page["messages"]) == 2
    assert page["messages"][0]["body"] == "target" and "edited" not in page["messages"][0]


def test_duplicate_events_change_nothing(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    target = stored(alice, "alice", room, {"body": "v1"})
    edit = {"id": "edit-" + uuid.uuid4().hex[:8], "kind": "edit", "ref": target["seq"], "text": "v2"}
    first = stored(alice, "alice", room, edit)
    # The same id again, even with other text: the first receipt, no change.
    again = stored(alice, "alice", room, dict(edit, text="v3"))
    assert (again["seq"], again["ts"], again["kind"]) == (first["seq"], first["ts"], "edit")
    react = {"id": "re-" + uuid.uuid4().hex[:8], "kind": "react", "ref": target["seq"], "reaction": THUMB}
    r1 = stored(alice, "alice", room, react)
    assert stored(alice, "alice", room, react)["seq"] == r1["seq"]
    page = history(alice, "alice", room, after=0)
    assert page["last_seq"] == r1["seq"] and len(page["messages"]) == 3
    assert page["messages"][0]["body"] == "v2"
    assert page["messages"][0]["reactions"] == [{"reaction": THUMB, "count": 1, "users": ["alice"]}]


def test_events_in_one_burst_are_stored_in_order_and_catch_up_is_gapless(stack):
    """Messages and their edits sent back to back share storage batches:
    each edit finds its message, seq stays gapless, `after` returns every
    event."""
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    base = stored(alice, "alice", room, {"body": "start"})["seq"]
    sent = []
    for i in range(20):
        sent.append(send(alice, "alice", room, {"body": f"m{i}"}))
        sent.append(send(alice, "alice", room, {"kind": "edit", "ref": base + 1 + 2 * i, "text": f"m{i} edited"}))
    receipts = [answer(alice, "alice", p["id"]) for p in sent]
    assert all(r["type"] == "receipt" for r in receipts), [r for r in receipts if r["type"] != "receipt"]
    assert sorted(r["seq"] for r in receipts) == list(range(base + 1, base + 41))
    caught = history(bob, "bob", room, after=0, limit=250)["messages"]
    assert [m["seq"] for m in caught] == list(range(1, base + 41))
    assert [m["kind"] for m in caught[base:]] == ["message", "edit"] * 20
    assert [m["body"] for m in caught[base::2]] == [f"m{i} edited" for i in range(20)]
    scroll = history(bob, "bob", room, limit=4)["messages"]
    assert [m["seq"] for m in scroll] == list(range(base + 37, base + 41))


def test_events_on_messages_of_the_same_burst(stack):
    """Events sent right behind their target (likely one storage batch):
    a reaction and its removal on a message not yet inserted, a reaction
    to an event refused, a delete, then a reaction to the deleted message
    refused; nothing refused takes a seq."""
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    bob = connect(stack, "bob", "hub")
    base = stored(alice, "alice", room, {"body": "start"})["seq"]
    m = base + 1
    sent = [send(alice, "alice", room, p) for p in (
        {"body": "target"},
        {"kind": "react", "ref": m, "reaction": THUMB},
        {"kind": "react", "ref": m, "reaction": PARTY},
        {"kind": "unreact", "ref": m, "reaction": THUMB},
        {"kind": "react", "ref": m + 1, "reaction": THUMB},
        {"kind": "edit", "ref": m, "text": "edited in the burst"},
        {"kind": "react", "ref": m + 2, "reaction": THUMB},
    )]
    got = [answer(alice, "alice", p["id"]) for p in sent]
    assert [g["type"] for g in got] == ["receipt"] * 4 + ["error", "receipt", "error"]
    assert [g.get("code") for g in got if g["type"] == "error"] == ["unknown_ref", "unknown_ref"]
    assert [g["seq"] for g in got if g["type"] == "receipt"] == [m, m + 1, m + 2, m + 3, m + 4]
    msg = entry(bob, "bob", room, m)
    assert msg["body"] == "edited in the burst" and msg["edited"] == got[5]["ts"]
    assert msg["reactions"] == [{"reaction": PARTY, "count": 1, "users": ["alice"]}]
    sent = [send(alice, "alice", room, p) for p in (
        {"kind": "delete", "ref": m},
        {"kind": "react", "ref": m, "reaction": THUMB},
        {"kind": "unreact", "ref": m, "reaction": PARTY},
        {"body": "after"},
    )]
    got = [answer(alice, "alice", p["id"]) for p in sent]
    assert [(g["type"], g.get("code")) for g in got] == [
        ("receipt", None), ("error", "deleted"), ("error", "deleted"), ("receipt", None)]
    assert (got[0]["seq"], got[3]["seq"]) == (m + 5, m + 6)
    rid = room_id(stack, room)
    assert stack.sql(f"SELECT COUNT(*) FROM reactions WHERE room_id = {rid}") == [["0"]]
    # Someone else's edit of a stored message: refused. (Sent only once
    # alice's message is stored: bob is on the hub, alice on the leaf, so
    # an edit sent at once could reach history-svc before its target and
    # be refused as unknown_ref instead.)
    mine = send(alice, "alice", room, {"body": "alice's"})
    assert answer(alice, "alice", mine["id"])["seq"] == m + 7
    forged = send(bob, "bob", room, {"kind": "edit", "ref": m + 7, "text": "bob's"})
    assert answer(bob, "bob", forged["id"])["code"] == "forbidden"
    assert entry(bob, "bob", room, m + 7)["body"] == "alice's"
    assert history(bob, "bob", room)["last_seq"] == m + 7


def test_retention_takes_the_reactions_and_mentions_of_what_it_removes(stack):
    room = room_with(stack, "alice", "bob")
    alice = connect(stack, "alice", "leaf")
    old = [stored(alice, "alice", room, {"body": f"old {i} @bob", "mentions": ["bob"]}) for i in range(4)]
    for m in old:
        stored(alice, "alice", room, {"kind": "react", "ref": m["seq"], "reaction": THUMB})
    kept = stored(alice, "alice", room, {"body": "kept @bob", "mentions": ["bob"]})
    stored(alice, "alice", room, {"kind": "react", "ref": kept["seq"], "reaction": THUMB})
    rid = room_id(stack, room)
    rows = lambda table: [int(r[0]) for r in stack.sql(f"SELECT seq FROM {table} WHERE room_id = {rid} ORDER BY seq")]
    assert rows("reactions") == [m["seq"] for m in old] + [kept["seq"]]
    # Keep the last 2 rows: the kept message and its reaction event.
    assert stack.chatctl("room", "retention", room, "2", "none").returncode == 0
    wait_for(lambda: rows("reactions") == [kept["seq"]] and rows("mentions") == [kept["seq"]],
             "reactions and mentions of removed messages removed", step=0.5)
    assert entry(alice, "alice", room, kept["seq"])["reactions"][0]["users"] == ["alice"]
