"""Every example of docs/PROTOCOL.md, read from the file itself and run
with Debian's mosquitto_pub / mosquitto_sub (a third-party client) against
the stack: the ```sh blocks as written, and the request payloads of
sections 3 and 4 (```json blocks and the `{"op": ...}` of the tables).

Only the host, the ports and the password variables are substituted, and
the example names (alice, bob, carol, mallory, lobby, team-ops) get a
suffix unique to this module so that the session's other tests, which use
alice, bob and lobby too, cannot disturb the seqs the examples name. What
a reader would check is asserted: "ok": true with the documented fields,
or the documented error, and shown output lines with the same keys (times,
ids and seqs may differ).
"""
import base64
import json
import os
import re
import subprocess
import threading
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import ROOT, WAIT_S, fresh_room, wait_for

DOC = open(os.path.join(ROOT, "docs", "PROTOCOL.md"), encoding="utf-8").read()
SFX = uuid.uuid4().hex[:6]
NAMES = ("alice", "bob", "carol", "mallory", "lobby", "team-ops")
NAME_RE = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in NAMES) + r")(?![\w-])")


def loc(text):
    """text with the example names made this module's own."""
    return NAME_RE.sub(lambda m: f"{m.group(1)}-{SFX}", text)


def u(name):
    return f"{name}-{SFX}"


def section(num):
    """The text of section num ("4.4", "5") up to the next heading of level 2 or 3."""
    m = re.search(r"^#{2,3} " + re.escape(num) + r"\.? .*$", DOC, re.M)
    assert m, f"no section {num} in PROTOCOL.md"
    end = re.search(r"^#{2,3} ", DOC[m.end():], re.M)
    return DOC[m.end():m.end() + end.start()] if end else DOC[m.end():]


def blocks(text, lang):
    """The fenced blocks of text whose info string is lang ("" for a bare fence)."""
    found, cur, cur_lang = [], None, None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if cur is None:
                cur, cur_lang = [], line[3:].strip()
            else:
                if cur_lang == lang:
                    found.append("".join(cur))
                cur = None
        elif cur is not None:
            cur.append(line)
    return found


def table_requests(text):
    """(request dict, reply-data cell) of each table row starting with a `{"op": ...}`."""
    rows = []
    for line in text.splitlines():
        m = re.match(r'^\| `(\{"op".*?\})` \|', line)
        if m:
            rows.append((json.loads(m.group(1)), line.rstrip(" |").rsplit(" | ", 1)[-1]))
    return rows


def reply_keys(cell):
    """The top-level reply fields a table's "Reply data" cell names."""
    return [k for span in re.findall(r"`([^`]*)`", cell) for k in re.findall(r'^"(\w+)"', span)]


def same_shape(expected, got, where="reply"):
    """Asserts got has every key of expected, recursively (lists: first items)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{where}: {got!r} is not an object"
        for k, v in expected.items():
            assert k in got, f"{where}: no {k!r} in {got!r}"
            same_shape(v, got[k], f"{where}.{k}")
    elif isinstance(expected, list) and expected:
        assert isinstance(got, list) and got, f"{where}: {got!r} is not a non-empty list"
        same_shape(expected[0], got[0], f"{where}[0]")


class Sub:
    """A mosquitto_sub (with -d, so that its SUBACK shows) whose output
    lines are collected; messages are its `topic payload` lines."""

    def __init__(self, cmd, env):
        self.lines = []
        self.proc = subprocess.Popen(["bash", "-c", "exec stdbuf -oL " + cmd.replace("mosquitto_sub ", "mosquitto_sub -d ", 1)],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: any("SUBACK" in line for line in self.lines), f"SUBACK for {cmd}")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def messages(self):
        out = []
        for line in list(self.lines):
            if line.startswith("chat/v1/") and " " in line:
                topic, payload = line.split(" ", 1)
                try:
                    out.append((topic, json.loads(payload)))
                except ValueError:
                    pass
        return out

    def expect(self, pred, what):
        return wait_for(lambda: next((m for m in self.messages() if pred(*m)), None), what)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=WAIT_S)


class World:
    """The stack, this module's users with their passwords, and a
    mosquitto_sub on each user's inbox."""

    def __init__(self, stack):
        self.stack = stack
        self.pw = {}
        for name in ("alice", "bob", "carol", "mallory"):
            self.pw[name] = "pw-" + uuid.uuid4().hex
            stack.add_user(u(name), self.pw[name])
        fresh_room(stack, u("alice"), u("bob"), name=u("lobby"))
        self.inbox = {n: Sub(f"mosquitto_sub -h 127.0.0.1 -p {stack.port('hub')} -u {u(n)} -P '{self.pw[n]}' "
                             f"-q 1 -v -t chat/v1/users/{u(n)}/inbox", self.env())
                      for n in ("alice", "bob", "carol", "mallory")}

    def env(self):
        env = dict(os.environ)
        for name, pw in self.pw.items():
            env[f"{name.upper()}_PW"] = pw
        return env

    def cmd(self, text):
        """An example's shell text, made runnable here."""
        text = loc(text).replace("-p 11883", f"-p {self.stack.port('hub')}")
        return text.replace("-p 11884", f"-p {self.stack.port('leaf')}")

    def sh(self, text):
        r = subprocess.run(["bash", "-e", "-c", self.cmd(text)], env=self.env(), capture_output=True,
                           text=True, timeout=WAIT_S * 2)
        assert r.returncode == 0, f"{text}\n{r.stdout}{r.stderr}"

    def reply(self, user, req_id, op=None):
        """The reply to req_id (and op: examples of different sections reuse req_ids) on user's inbox."""
        return self.inbox[user].expect(lambda t, d: d.get("type") == "reply" and d.get("req_id") == req_id
                                       and d.get("op") == (op or d.get("op")), f"reply {req_id} on {user}'s inbox")[1]

    def request(self, user, req, service="history"):
        """Publishes req (dict) as user with mosquitto_pub; returns the reply."""
        req = dict(req)
        req.setdefault("req_id", "x" + uuid.uuid4().hex[:10])
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.stack.port("leaf")), "-u", u(user),
                        "-P", self.pw[user], "-q", "1", "-t", f"chat/v1/users/{u(user)}/req/{service}",
                        "-m", loc(json.dumps(req, ensure_ascii=False))], check=True, timeout=WAIT_S)
        return self.reply(user, req["req_id"], req.get("op"))

    def receipt(self, user, msg_id):
        return self.inbox[user].expect(lambda t, d: d.get("type") in ("receipt", "error") and d.get("id") == msg_id,
                                       f"receipt of {msg_id}")[1]

    def send(self, user, room, bodies):
        """Stores messages (id, body) in room as user (mosquitto_pub -l); returns the last receipt."""
        lines = "".join(json.dumps({"id": i, "body": b}) + "\n" for i, b in bodies)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.stack.port("leaf")), "-u", u(user),
                        "-P", self.pw[user], "-q", "1", "-t", f"chat/v1/rooms/{u(room)}/msg/{u(user)}", "-l"],
                       input=lines, text=True, check=True, timeout=WAIT_S)
        r = self.receipt(user, bodies[-1][0])
        assert r["type"] == "receipt", r
        return r


@pytest.fixture(scope="module")
def world(stack):
    w = World(stack)
    yield w
    for s in w.inbox.values():
        s.close()


def ok(reply, keys=()):
    assert reply.get("ok") is True, reply
    for k in keys:
        assert k in reply, f"no {k!r} in {reply!r}"
    return reply


def test_5_worked_example(world):
    """Section 5 as written: bob's terminal 1 shows the documented lines.
    First of the module: the example's lobby is empty, as its last_seq 1 says."""
    text = blocks(section("5"), "sh")[0]
    sub_cmd = re.search(r"^mosquitto_sub .*?[^\\]\n", text, re.M | re.S).group(0)
    rest = text.replace(sub_cmd, "")
    t1 = Sub(world.cmd(sub_cmd.replace("\\\n", " ")), world.env())
    try:
        world.sh(rest)
        shown = [line.split(" ", 1) for line in blocks(section("5"), "")[0].splitlines() if line.startswith("chat/")]
        assert len(shown) == 3
        for topic, payload in shown:
            expected = json.loads(payload)
            topic = loc(topic)
            got = t1.expect(lambda t, d: t == topic and (d.get("type") != "reply" or d.get("req_id") == expected.get("req_id")),
                            f"terminal 1 line on {topic}")[1]
            same_shape(expected, got, topic)
            for k in ("body", "id", "ok", "op", "last_seq", "user", "room"):
                if k in expected:
                    assert got[k] == json.loads(loc(json.dumps(expected[k]))), (k, got)
        want = json.loads(loc(json.dumps(expected["messages"])))
        assert [dict(m, ts="...") for m in got["messages"]] == want
    finally:
        t1.close()


def test_3_1_kinds_examples(world):
    """3.1: on seq 12, alice's "helo", the reply, thread, mention, edit,
    react, unreact and delete examples are each stored (receipts with the
    kind), bob gets the mention notice (3.9), and history shows the result."""
    text = blocks(section("3.1"), "sh")[0]
    assert "seq 12 is her message" in section("3.1")
    last = world.send("alice", "lobby", [(f"pad{i}", f"pad {i}") for i in range(2, 12)])
    assert last["seq"] == 11, f"lobby must hold 11 messages before helo: {last}"
    assert world.send("alice", "lobby", [("m12", "helo")])["seq"] == 12
    world.sh(text)
    sent = [json.loads(m) for m in re.findall(r"-m '(\{.*\})'$", text, re.M)]
    assert [m["id"] for m in sent] == ["m20", "m21", "m22", "e1", "r1", "r2", "d1"]
    seqs = {}
    for m in sent:
        r = world.receipt("alice", m["id"])
        assert r["type"] == "receipt" and r.get("kind", "message") == m.get("kind", "message"), r
        seqs[m["id"]] = r["seq"]
    same_shape(json.loads(blocks(section("3.2"), "json")[1]), world.receipt("alice", "e1"), "receipt")
    note = world.inbox["bob"].expect(lambda t, d: d.get("type") == "mention" and d.get("id") == "m22", "mention notice")[1]
    same_shape(json.loads(blocks(section("3.9"), "json")[0]), note, "mention")
    h = ok(world.request("alice", {"op": "history", "room": "lobby", "after": 11, "limit": 20}))
    by = {m["seq"]: m for m in h["messages"]}
    assert by[12]["body"] == "" and "deleted" in by[12], by[12]
    assert by[seqs["m20"]]["reply_to"] == 12 and by[seqs["m21"]]["thread"] == 12
    assert by[seqs["m22"]]["mentions"] == [u("bob")]


def test_3_payload_examples(world):
    """The request payloads of section 3: a room message (3.1) and a typing indicator (3.5)."""
    msg = json.loads(blocks(section("3.1"), "json")[0])
    r = world.send("alice", "lobby", [(msg["id"], msg["body"])])
    same_shape(json.loads(blocks(section("3.2"), "json")[0]), r, "receipt")
    typing = blocks(section("3.5"), "json")[0]
    sub = Sub(f"mosquitto_sub -h 127.0.0.1 -p {world.stack.port('hub')} -u {u('bob')} -P '{world.pw['bob']}' "
              f"-v -t chat/v1/rooms/{u('lobby')}/typing/+", world.env())
    try:
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(world.stack.port("leaf")), "-u", u("alice"),
                        "-P", world.pw["alice"], "-t", f"chat/v1/rooms/{u('lobby')}/typing/{u('alice')}",
                        "-m", typing], check=True, timeout=WAIT_S)
        sub.expect(lambda t, d: t.endswith("/" + u("alice")) and d == json.loads(typing), "typing indicator")
    finally:
        sub.close()


def test_3_3_and_4_error_examples(world):
    """The error payloads shown in 3.3 (a body that is not UTF-8) and 4 (history of a room you are not in)."""
    expected = json.loads(blocks(section("3.3"), "json")[0])
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(world.stack.port("leaf")), "-u", u("alice"),
                    "-P", world.pw["alice"], "-q", "1", "-t", f"chat/v1/rooms/{u('lobby')}/msg/{u('alice')}",
                    "-m", b'{"id":"bad-utf8","body":"\xff"}'], check=True, timeout=WAIT_S)
    got = world.receipt("alice", "bad-utf8")
    same_shape(expected, got, "3.3 error")
    assert (got["type"], got["code"], got["room"]) == ("error", expected["code"], u("lobby"))
    expected = json.loads(blocks(section("4"), "json")[0])
    got = world.request("alice", {"op": expected["op"], "room": "no-such-room"})
    same_shape(expected, got, "4 error")
    assert got["ok"] is False and got["error"]["code"] == expected["error"]["code"]


def test_4_1_to_4_3_history_rooms_read(world):
    """4.1-4.3: history (before 120), rooms, read up to 121 in a lobby of 121 messages."""
    last = world.send("alice", "lobby", [(f"fill{i}", f"fill {i}") for i in range(130)])
    assert last["seq"] >= 121
    for num in ("4.1", "4.2", "4.3"):
        reqs = [json.loads(b) for b in blocks(section(num), "json") if '"op"' in b and '"type"' not in b]
        replies = [json.loads(b) for b in blocks(section(num), "json") if '"type": "reply"' in b]
        m = re.search(r"Reply: `(\{.*?\})`", section(num))
        replies += [json.loads(m.group(1))] if m else []
        assert reqs and replies, num
        for req in reqs:
            got = ok(world.request("alice", req))
            assert got["op"] == req["op"]
            # The first documented reply of the op (later ones show other kinds of entries).
            same_shape(next(r for r in replies if r["op"] == req["op"]), got, f"{num} {req['op']}")


def test_4_4_room_ops(world):
    """4.4's table, in an order that makes each row's "who may" true, then its sh block."""
    rows = table_requests(section("4.4"))
    assert [r["op"] for r, _ in rows] == ["create", "join", "leave", "invite", "kick", "public_rooms", "dm",
                                          "topic", "role", "ban", "unban", "bans"]
    actor = {"join": "bob", "leave": "bob"}
    for req, cell in rows:
        if req["op"] == "role":
            ok(world.request("alice", {"op": "invite", "room": "team-ops", "user": "carol"}))
        got = ok(world.request(actor.get(req["op"], "alice"), req), reply_keys(cell))
        assert got["op"] == req["op"]
    same_shape(json.loads(blocks(section("4.4"), "json")[0]), ok(world.request("bob", {"op": "join", "room": "team-ops"})))
    # The sh block: carol a member again (the table unbanned her), mallory a member to ban.
    ok(world.request("alice", {"op": "invite", "room": "team-ops", "user": "carol"}))
    ok(world.request("alice", {"op": "invite", "room": "team-ops", "user": "mallory"}))
    text = blocks(section("4.4"), "sh")[0]
    world.sh(text)
    for line in re.findall(r"^# (\{.*\})$", text, re.M):
        expected = json.loads(loc(line))
        got = ok(world.reply("alice", expected["req_id"], expected["op"]))
        same_shape(expected, got, expected["req_id"])
        if expected["op"] == "bans":
            assert [b["user"] for b in got["bans"]] == [b["user"] for b in expected["bans"]]
        if expected["op"] == "topic":
            assert got["topic"] == expected["topic"]
    for req_id in re.findall(r'"req_id":"(\w+)"', text):
        ok(world.reply("alice", req_id))


def test_4_5_presence(world):
    for req, cell in table_requests(section("4.5")):
        got = ok(world.request("alice", req, "presence"), reply_keys(cell))
        if req["op"] == "roster":
            assert [m["user"] for m in got["members"]] == sorted([u("alice"), u("bob")])


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def test_4_6_push(world):
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    sub_id = None
    for req, cell in table_requests(section("4.6")):
        if req["op"] == "subscribe":
            req["keys"] = {"p256dh": b64url(key), "auth": b64url(os.urandom(16))}
        if req["op"] == "unsubscribe":
            req["id"] = sub_id
        got = ok(world.request("alice", req, "push"), reply_keys(cell))
        if req["op"] == "subscribe":
            sub_id = got["id"]
        if req["op"] == "subscriptions":
            assert [s["endpoint"] for s in got["subscriptions"]] == ["https://push.example/abc"]


def test_4_7_account_and_tokens(world):
    """4.7's table; the token made logs in (section 1) until it is revoked."""
    token = None
    for req, cell in table_requests(section("4.7")):
        if req["op"] == "revoke_token":
            # Before revoking: the token is a password (section 1).
            assert re.fullmatch(r"ct1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", token["token"])
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(world.stack.port("leaf")),
                                "-u", u("alice"), "-P", token["token"], "-q", "1",
                                "-t", f"chat/v1/rooms/{u('lobby')}/msg/{u('alice')}", "-m",
                                json.dumps({"id": "by-token", "body": "sent with a token"})], timeout=WAIT_S)
            assert r.returncode == 0
            assert world.receipt("alice", "by-token")["type"] == "receipt"
            req["id"] = token["id"]
        if req["op"] == "password":
            req["old"], req["new"] = world.pw["alice"], "pw2-" + uuid.uuid4().hex
        got = ok(world.request("alice", req), reply_keys(cell))
        if req["op"] == "token":
            token = got
        if req["op"] == "tokens":
            assert [t["id"] for t in got["tokens"]] == [token["id"]]
        if req["op"] == "revoke_token":
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(world.stack.port("leaf")),
                                "-u", u("alice"), "-P", token["token"], "-q", "1",
                                "-t", f"chat/v1/rooms/{u('lobby')}/msg/{u('alice')}", "-m", "{}"],
                               capture_output=True, text=True, timeout=WAIT_S)
            assert r.returncode != 0, "a revoked token still logs in"
        if req["op"] == "password":
            world.pw["alice"] = req["new"]
    ok(world.request("alice", {"op": "rooms"}))  # the new password logs in


def test_4_8_receipts_prefs(world):
    sec = section("4.8")
    for req, cell in table_requests(sec):
        # prefs by mallory, who is in no room the other examples read.
        ok(world.request("alice" if req["op"] == "receipts" else "mallory", req), reply_keys(cell))
    text = blocks(sec, "sh")[0]
    world.sh(text)
    assert ok(world.reply("bob", "p1", "prefs"))["share_read"] is False
    for line in re.findall(r"^# (\{.*\})$", text, re.M):
        expected = json.loads(loc(line))
        got = ok(world.reply("alice", expected["req_id"], expected["op"]))
        same_shape(expected, got)
        # bob shares no more; alice's marker is where 4.3's example put it.
        assert [m["user"] for m in got["markers"]] == [m["user"] for m in expected["markers"]]
        assert got["markers"][0]["seq"] >= expected["markers"][0]["seq"]


def test_4_9_search(world):
    sec = section("4.9")
    world.send("carol", "team-ops", [("notes1", "the release notes are in the wiki")])
    req = json.loads(blocks(sec, "json")[0])
    expected = json.loads(loc(blocks(sec, "json")[1]))
    got = wait_for(lambda: (lambda r: r if r.get("ok") and r["results"] else None)(
        world.request("alice", dict(req, req_id="s" + uuid.uuid4().hex[:8]))), "a search result")
    same_shape(expected, got)
    assert got["results"][0]["sender"] == u("carol") and got["results"][0]["room"] == u("team-ops")
    world.sh(blocks(sec, "sh")[0])
    got = ok(world.reply("bob", "s1", "search"))
    same_shape({k: v for k, v in expected.items() if k != "req_id"}, got)


def test_3_8_meta_topic(world):
    """3.8: bob's mosquitto_sub on the lobby's meta topic shows the topic
    an admin sets and the read marker a sharing member moves to it."""
    text = blocks(section("3.8"), "sh")[0]
    shown = [json.loads(loc(line.split(" ", 1)[1])) for line in re.findall(r"^# (chat/v1/.*)$", text, re.M)]
    assert [d["type"] for d in shown] == ["topic", "read"]
    topic, read = shown
    for cmd in (("member", "role", u("lobby"), topic["by"], "admin"), ("member", "add", u("lobby"), read["user"])):
        r = world.stack.chatctl(*cmd)
        assert r.returncode == 0, r.stderr
    world.stack.sync_auth()
    meta = Sub(world.cmd(re.search(r"^mosquitto_sub .*$", text, re.M).group(0)), world.env())
    try:
        by, reader = topic["by"][:-len(SFX) - 1], read["user"][:-len(SFX) - 1]
        set_ = ok(world.request(by, {"op": "topic", "room": "lobby", "topic": topic["topic"]}))
        ok(world.request(reader, {"op": "read", "room": "lobby", "seq": set_["seq"]}))
        got = meta.expect(lambda t, d: d.get("type") == "topic", "topic announcement")[1]
        same_shape(topic, got, "topic")
        assert (got["by"], got["topic"], got["seq"]) == (topic["by"], topic["topic"], set_["seq"])
        got = meta.expect(lambda t, d: d.get("type") == "read", "read announcement")[1]
        same_shape(read, got, "read")
        assert (got["user"], got["seq"]) == (read["user"], set_["seq"])
    finally:
        meta.close()


def test_every_sh_example_is_run():
    """A new ```sh example elsewhere in PROTOCOL.md must get a test here."""
    heads = re.split(r"^(#{2,3} [\d.]+)[ .]", DOC, flags=re.M)
    with_sh = {heads[i].split()[1].rstrip(".") for i in range(1, len(heads), 2) if blocks(heads[i + 1], "sh")}
    assert with_sh == {"3.1", "3.8", "4.4", "4.8", "4.9", "5"}
