"""The wire rules both services apply to what they read (docs/PROTOCOL.md
3.1, 3.3 and 4): which bodies the archive takes, what a refused message or
request is answered with, and that live text and archived text never
differ. Each test publishes raw payloads as a stranger's client would and
checks the answer on the inbox and what MariaDB holds."""
import json
import uuid

LOBBY = "chat/v1/rooms/lobby/msg/"


def inbox(user):
    return f"chat/v1/users/{user}/inbox"


def new_id():
    return uuid.uuid4().hex


def first_answer_about(client, user, mid):
    """The first receipt or error on user's inbox naming message id mid."""
    return client.expect_json(inbox(user), lambda d: d.get("type") in ("receipt", "error") and d.get("id") == mid)


def send_raw(client, user, text):
    """Publishes text (a str or bytes payload, sent as is) to the lobby."""
    client.publish(LOBBY + user, text.encode() if isinstance(text, str) else text)


def stored_body(stack, mid):
    """The archived body of message mid as bytes, or None when not stored."""
    rows = stack.sql(f"SELECT HEX(body) FROM messages WHERE msg_id = '{mid}'")
    return bytes.fromhex(rows[0][0]) if rows else None


def ask_raw(client, user, service, text, req_id):
    """Publishes a raw request; returns the reply with req_id (or, for
    req_id None, the first reply whose req_id is null)."""
    client.publish(f"chat/v1/users/{user}/req/{service}", text.encode() if isinstance(text, str) else text)
    return client.expect_json(inbox(user), lambda d: d.get("type") == "reply" and d.get("req_id") == req_id)


def test_body_with_a_nul_is_refused_not_cut(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    for body in ('I agree\\u0000 -- NOT', 'I agree\x00 -- NOT'):
        mid = new_id()
        send_raw(alice, "alice", '{"id": "%s", "body": "%s"}' % (mid, body))
        got = first_answer_about(alice, "alice", mid)
        assert got["type"] == "error" and got["code"] == "bad_body", got
        assert got["room"] == "lobby"
        assert stored_body(stack, mid) is None
    # cJSON reads a \u escape without four hex digits as a NUL too: not JSON.
    mid = new_id()
    send_raw(alice, "alice", '{"id": "%s", "body": "I agree\\u00zz -- NOT"}' % mid)
    got = alice.expect_json(inbox("alice"), lambda d: d.get("type") in ("receipt", "error") and d.get("room") == "lobby")
    assert got["type"] == "error" and got["code"] == "bad_json", got
    assert stored_body(stack, mid) is None


def test_control_characters_are_refused_newline_tab_and_c1_kept_exactly(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    for bad in ("bell\\u0007", "cr\\r", "esc\\u001b[31m", "del\\u007f", "raw\x01"):
        mid = new_id()
        send_raw(alice, "alice", '{"id": "%s", "body": "%s"}' % (mid, bad))
        got = first_answer_about(alice, "alice", mid)
        assert got["type"] == "error" and got["code"] == "bad_body", (bad, got)
        assert stored_body(stack, mid) is None
    good = "line one\nline two\tcol \u0085 next-line \u00e9 \U0001F600"
    mid = new_id()
    alice.publish(LOBBY + "alice", {"id": mid, "body": good})
    got = first_answer_about(alice, "alice", mid)
    assert got["type"] == "receipt", got
    assert stored_body(stack, mid) == good.encode()


def test_nul_in_the_id_is_refused_not_cut(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    short = "n" + new_id()[:10]
    send_raw(alice, "alice", '{"id": "%s\\u0000tail", "body": "hi"}' % short)
    got = alice.expect_json(inbox("alice"), lambda d: d.get("type") in ("receipt", "error"))
    assert got["type"] == "error" and got["code"] == "bad_message", got
    assert stack.sql(f"SELECT COUNT(*) FROM messages WHERE msg_id = '{short}'") == [["0"]]


def test_lone_surrogate_in_body_is_bad_utf8_and_a_pair_is_stored(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    for body in ("half \\ud800 a face", "low \\udc00 alone", "high then letter \\ud83d\\u0041"):
        mid = new_id()
        send_raw(alice, "alice", '{"id": "%s", "body": "%s"}' % (mid, body))
        got = first_answer_about(alice, "alice", mid)
        assert got["type"] == "error" and got["code"] == "bad_utf8", (body, got)
        assert stored_body(stack, mid) is None
    mid = new_id()
    send_raw(alice, "alice", '{"id": "%s", "body": "a face \\ud83d\\ude00"}' % mid)
    assert first_answer_about(alice, "alice", mid)["type"] == "receipt"
    assert stored_body(stack, mid) == "a face \U0001F600".encode()


def test_unknown_fields_are_ignored_up_to_the_depth_limit(stack):
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    # 64 levels in all (the message object is level 1): taken.
    mid = new_id()
    send_raw(alice, "alice", '{"id": "%s", "body": "deep", "x": %s1%s}' % (mid, "[" * 63, "]" * 63))
    assert first_answer_about(alice, "alice", mid)["type"] == "receipt"
    # One level more, or 7,000: refused as too_deep (not bad_json), never stored.
    for depth in (64, 7000):
        mid = new_id()
        send_raw(alice, "alice", '{"id": "%s", "body": "deep", "x": %s1%s}' % (mid, "[" * depth, "]" * depth))
        got = alice.expect_json(inbox("alice"), lambda d: d.get("type") == "error" and d.get("room") == "lobby")
        assert got["code"] == "too_deep", got
        assert stored_body(stack, mid) is None


def test_oversized_requests_still_echo_req_id_and_op(stack):
    alice = stack.client("alice", "hub")
    alice.subscribe(inbox("alice"))
    pad = "x" * 5000
    r = ask_raw(alice, "alice", "history",
                json.dumps({"op": "history", "req_id": "big1", "room": "lobby", "pad": pad}), "big1")
    assert (r["ok"], r["op"], r["error"]["code"]) == (False, "history", "too_large")
    r = ask_raw(alice, "alice", "presence", json.dumps({"op": "devices", "req_id": "big2", "pad": pad}), "big2")
    assert (r["ok"], r["op"], r["error"]["code"]) == (False, "devices", "too_large")
    # Not JSON at all: still too_large, with nothing to echo.
    r = ask_raw(alice, "alice", "presence", "x" * 5000, None)
    assert (r["ok"], r["op"], r["error"]["code"]) == (False, None, "too_large"), r
    # Under the limit the same request is answered.
    r = ask_raw(alice, "alice", "history", json.dumps({"op": "rooms", "req_id": "small1", "pad": "x" * 3000}), "small1")
    assert r["ok"]


def test_req_id_is_required_by_both_services(stack):
    alice = stack.client("alice", "hub")
    alice.subscribe(inbox("alice"))
    for service, op in (("history", "rooms"), ("presence", "devices")):
        r = ask_raw(alice, "alice", service, json.dumps({"op": op}), None)
        assert (r["ok"], r["op"], r["error"]["code"]) == (False, op, "bad_request"), r
        r = ask_raw(alice, "alice", service, json.dumps({"op": op, "req_id": "bad id!"}), None)
        assert (r["ok"], r["op"], r["error"]["code"]) == (False, op, "bad_request"), r


def test_request_strings_are_never_cut_or_mangled(stack):
    alice = stack.client("alice", "hub")
    alice.subscribe(inbox("alice"))
    # "lobby\u0000x" is not the room "lobby".
    r = ask_raw(alice, "alice", "history", '{"op": "history", "req_id": "nul1", "room": "lobby\\u0000x"}', "nul1")
    assert (r["ok"], r["error"]["code"]) == (False, "bad_request"), r
    # A lone surrogate is a bad field, not bad JSON: req_id and op come back.
    r = ask_raw(alice, "alice", "history", '{"op": "history", "req_id": "sur1", "room": "lob\\ud800"}', "sur1")
    assert (r["ok"], r["op"], r["error"]["code"]) == (False, "history", "bad_request"), r
    r = ask_raw(alice, "alice", "presence",
                '{"op": "status", "req_id": "sur2", "state": "away", "text": "\\udc00"}', "sur2")
    assert (r["ok"], r["op"], r["error"]["code"]) == (False, "status", "bad_request"), r
    # An ignored field may hold anything JSON allows.
    r = ask_raw(alice, "alice", "history", '{"op": "rooms", "req_id": "ign1", "note": "\\ud800\\u0000"}', "ign1")
    assert r["ok"], r


def test_too_deep_requests_get_too_deep(stack):
    alice = stack.client("alice", "hub")
    alice.subscribe(inbox("alice"))
    deep = '{"op": "rooms", "req_id": "deep1", "x": %s1%s}'
    r = ask_raw(alice, "alice", "history", deep % ("[" * 63, "]" * 63), "deep1")
    assert r["ok"], r
    for service in ("history", "presence"):
        r = ask_raw(alice, "alice", service, deep % ("[" * 64, "]" * 64), None)
        assert (r["ok"], r["op"], r["error"]["code"]) == (False, None, "too_deep"), r
        # Over 4096 bytes, too large comes first (7,000 levels take 14 KB).
        r = ask_raw(alice, "alice", service, deep % ("[" * 7000, "]" * 7000), None)
        assert (r["ok"], r["op"], r["error"]["code"]) == (False, None, "too_large"), r


def test_a_message_shows_and_stores_one_body(stack):
    # cJSON (the C client, history-svc) reads the first "body", a browser's
    # JSON.parse the last, and a name with a NUL is "body" to cJSON alone.
    alice = stack.client("alice", "leaf")
    alice.subscribe(inbox("alice"))
    mid = new_id()
    send_raw(alice, "alice", '{"id": "%s", "body": "shown", "body": "stored"}' % mid)
    got = first_answer_about(alice, "alice", mid)
    assert got["type"] == "error" and got["code"] == "bad_message", got
    mid = new_id()
    send_raw(alice, "alice", '{"id": "%s", "body\\u0000x": "shown", "body": "stored"}' % mid)
    got = alice.expect_json(inbox("alice"), lambda d: d.get("type") in ("receipt", "error") and d.get("room") == "lobby")
    assert got["type"] == "error" and got["code"] == "bad_json", got
    assert stored_body(stack, mid) is None
