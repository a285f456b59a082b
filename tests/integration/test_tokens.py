"""Login tokens and account self-service (docs/PROTOCOL.md 1 "Tokens" and
4.7; docs/ADMIN.md "Tokens"), on the real stack: a hub and a leaf with the
auth plugin, history-svc, MariaDB. Clients are Paho Python, like a phone or
an IoT device."""
import glob
import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import BUILD, NO_CONNACK, WAIT_S, ask, fresh_room, inbox, wait_for

# Every token string this module saw: none may appear in any log file.
ISSUED = []
# How fast a revoked or expired token's connections must close on every
# node: the brief's 1 s, plus room for a loaded 2-core machine.
KICK_S = 1.5


def new_user(stack, rooms=()):
    name = "tk" + uuid.uuid4().hex[:8]
    stack.add_user(name, "pw-" + uuid.uuid4().hex, rooms)
    return name


def request(stack, user, req, node="leaf", password=None):
    """Sends req as user (logged in with password, default theirs) and
    returns the reply."""
    c = stack.client(user, node, password=password)
    assert c.rc == 0, c.rc
    c.subscribe(inbox(user))
    try:
        return ask(c, user, req)
    finally:
        c.close()


def issue(stack, user, label="phone", **extra):
    reply = request(stack, user, dict(op="token", label=label, **extra))
    assert reply["ok"], reply
    ISSUED.append(reply["token"])
    return reply


def chatctl_token(stack, user, *args):
    r = stack.chatctl("token", "add", user, *args)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    ISSUED.append(token)
    stack.sync_auth()
    return token


def closed_within(clients, seconds):
    """True when every client's connection was closed by the broker within
    seconds (their on_disconnect fires)."""
    deadline = time.monotonic() + seconds
    for c in clients:
        left = deadline - time.monotonic()
        try:
            if c.connected.get(timeout=max(left, 0.001)) != NO_CONNACK:
                return False
        except Exception:
            return False
    return True


def test_token_request_login_on_leaf_and_hub_and_list(stack):
    user = new_user(stack)
    reply = issue(stack, user, label="alice's phone", lifetime_s=3600)
    token = reply["token"]
    assert token.startswith("ct1." + reply["id"] + ".") and len(token) == 64
    assert reply["label"] == "alice's phone" and reply["expires"] and reply["created"]
    for node in ("leaf", "hub"):
        c = stack.client(user, node, password=token)
        assert c.rc == 0, f"token login on {node}: {c.rc}"
        c.subscribe(inbox(user))
        listed = ask(c, user, {"op": "tokens"})
        assert listed["ok"]
        mine = [t for t in listed["tokens"] if t["id"] == reply["id"]]
        assert len(mine) == 1 and mine[0]["label"] == "alice's phone" and mine[0]["scope"] is None
        assert token.split(".")[2] not in json.dumps(listed), "the secret is never listed again"
        c.close()
    # last_used is written lazily by the plugins' loader threads.
    wait_for(lambda: request(stack, user, {"op": "tokens"})["tokens"][0]["last_used"] is not None,
             "last_used set after a token login")


def test_wrong_garbled_foreign_and_unknown_tokens_are_refused(stack):
    alice, bob = new_user(stack), new_user(stack)
    token = issue(stack, alice)["token"]
    prefix, tid, secret = token.split(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    bad = [f"{prefix}.{tid}.{flipped}",          # wrong secret
           token[:-1],                             # cut short
           token + "x",                            # too long
           f"{prefix}.{'0' * 16}.{secret}",        # unknown id
           f"{prefix}.{tid.upper()}.{secret}",     # id not lowercase
           "ct1.garbage"]
    for password in bad:
        c = stack.client(alice, "leaf", password=password)
        assert c.rc == 5, (password, c.rc)
    # another user's token is not a password for bob
    assert stack.client(bob, "hub", password=token).rc == 5
    # and alice's password still works
    assert stack.client(alice, "leaf").rc == 0


def test_bad_tokens_lock_out_neither_the_user_nor_the_address(stack):
    """A device with a stale token retrying in a loop must not get its
    user (or the other devices behind its address) slowed or locked: the
    flood protection does not count token refusals (docs/ADMIN.md)."""
    user = new_user(stack)
    token = issue(stack, user)["token"]
    stale = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(30):  # over flood_address_slow_after (25) and the user's thresholds
        assert stack.client(user, "leaf", password=stale).rc == 5
    assert stack.client(user, "leaf").rc == 0
    assert stack.client(user, "leaf", password=token).rc == 0
    assert stack.client(new_user(stack), "leaf").rc == 0


def test_expired_token_is_refused_and_its_connections_close(stack):
    user = new_user(stack)
    token = chatctl_token(stack, user, "--label", "short", "--lifetime", "4")
    clients = [stack.client(user, node, password=token) for node in ("leaf", "hub")]
    assert [c.rc for c in clients] == [0, 0]
    expires = float(stack.sql(f"SELECT UNIX_TIMESTAMP(expires_at) FROM tokens WHERE id = '{token.split('.')[1]}'")[0][0])
    assert closed_within(clients, max(expires - time.time(), 0) + KICK_S), "expired token's connections stay open"
    assert time.time() >= expires - 0.05
    assert stack.client(user, "leaf", password=token).rc == 5


def test_revoke_closes_live_connections_on_both_nodes_within_a_second(stack):
    user = new_user(stack)
    token = issue(stack, user)["token"]
    tid = token.split(".")[1]
    clients = [stack.client(user, node, password=token) for node in ("leaf", "hub")]
    assert [c.rc for c in clients] == [0, 0]
    other = stack.client(user, "leaf")  # a password connection is not touched
    other.subscribe(inbox(user))
    start = time.monotonic()
    r = stack.chatctl("token", "revoke", tid)
    assert r.returncode == 0, r.stderr
    assert closed_within(clients, KICK_S), "revoked token's connections still open"
    print(f"revoke to both disconnects: {time.monotonic() - start:.3f}s")
    assert stack.client(user, "hub", password=token).rc == 5
    # the owner's own revoke_token of a token already revoked: not_found
    reply = ask(other, user, {"op": "revoke_token", "id": tid})
    assert not reply["ok"] and reply["error"]["code"] == "not_found"
    # someone else's token id: not_found too, and it keeps working
    owner = new_user(stack)
    foreign = issue(stack, owner)
    reply = ask(other, user, {"op": "revoke_token", "id": foreign["id"]})
    assert reply["error"]["code"] == "not_found"
    assert stack.client(owner, "leaf", password=foreign["token"]).rc == 0


def test_owner_revokes_own_token_over_mqtt(stack):
    user = new_user(stack)
    reply = issue(stack, user)
    phone = stack.client(user, "hub", password=reply["token"])
    assert phone.rc == 0
    revoked = request(stack, user, {"op": "revoke_token", "id": reply["id"]})
    assert revoked["ok"] and revoked["id"] == reply["id"]
    # the reply comes once every node applied it: the phone is already gone
    assert closed_within([phone], 0.5)
    assert all(t["id"] != reply["id"] for t in request(stack, user, {"op": "tokens"})["tokens"])


def test_scoped_sensor_token_publishes_only_to_its_room_and_reads_nothing(stack):
    user = new_user(stack)
    reader = new_user(stack)
    floor = fresh_room(stack, user, reader, prefix="floor")
    office = fresh_room(stack, user, reader, prefix="office")
    token = chatctl_token(stack, user, "--label", "sensor-7", "--rooms", floor, "--publish-only")
    watch = stack.client(reader, "hub")
    watch.subscribe(f"chat/v1/rooms/{floor}/msg/+", f"chat/v1/rooms/{office}/msg/+", inbox(reader))
    sensor = stack.client(user, "leaf", password=token)
    assert sensor.rc == 0
    sensor.subscribe(f"chat/v1/rooms/{floor}/msg/+", f"chat/v1/rooms/{office}/msg/+", inbox(user),
                     "chat/v1/presence/+")
    sensor.publish(f"chat/v1/rooms/{office}/msg/{user}", {"id": "o1", "body": "not here"})
    sensor.publish(f"chat/v1/users/{user}/req/history", {"op": "token", "req_id": "steal", "label": "x"})
    sensor.publish(f"chat/v1/rooms/{floor}/msg/{user}", {"id": "f1", "body": "21.5 C"})
    # the allowed reading arrives; nothing sent before it on the same path did
    before = watch.collect_until(lambda t, p: t.endswith(f"{floor}/msg/{user}") and b"21.5" in p)
    assert not [m for m in before if b"not here" in m[1]]
    # the sensor itself read nothing (not even its own room's message)
    other = stack.client(reader, "leaf")
    other.publish(f"chat/v1/rooms/{floor}/msg/{reader}", {"id": "r1", "body": "to the floor"})
    watch.expect(lambda t, p: b"to the floor" in p)
    sensor.quiet_for(lambda t, p: True, 1.0)
    # its request for a token never reached history-svc: a later request
    # from the same node (same bridge, in order) lists only the admin's token
    listed = request(stack, user, {"op": "tokens"}, node="leaf")["tokens"]
    assert [t["label"] for t in listed] == ["sensor-7"]
    assert listed[0]["scope"] == {"rooms": [floor], "mode": "publish"}


def test_read_only_token_reads_its_room_and_posts_nothing(stack):
    user = new_user(stack)
    writer = new_user(stack)
    room = fresh_room(stack, user, writer, prefix="ro")
    elsewhere = fresh_room(stack, user, writer, prefix="ro")
    token = chatctl_token(stack, user, "--label", "display", "--rooms", room, "--read-only")
    display = stack.client(user, "leaf", password=token)
    assert display.rc == 0
    display.subscribe(f"chat/v1/rooms/{room}/msg/+", f"chat/v1/rooms/{elsewhere}/msg/+")
    watch = stack.client(writer, "hub")
    watch.subscribe(f"chat/v1/rooms/{room}/msg/+")
    display.publish(f"chat/v1/rooms/{room}/msg/{user}", {"id": "d1", "body": "from the display"})
    w = stack.client(writer, "hub")
    w.publish(f"chat/v1/rooms/{elsewhere}/msg/{writer}", {"id": "e1", "body": "elsewhere"})
    w.publish(f"chat/v1/rooms/{room}/msg/{writer}", {"id": "w1", "body": "shown"})
    seen = display.collect_until(lambda t, p: b"shown" in p)
    assert not [m for m in seen if b"elsewhere" in m[1]]
    before = watch.collect_until(lambda t, p: b"shown" in p)
    assert not [m for m in before if b"from the display" in m[1]]


def test_password_change_over_mqtt(stack):
    user = new_user(stack)
    old = stack.password(user)
    token = issue(stack, user)["token"]
    phone = stack.client(user, "hub", password=token)
    assert phone.rc == 0
    wrong = request(stack, user, {"op": "password", "old": "not-it", "new": "x"})
    assert not wrong["ok"] and wrong["error"]["code"] == "bad_password"
    bad = request(stack, user, {"op": "password", "old": old, "new": "ct1.looks-like-a-token"})
    assert bad["error"]["code"] == "bad_request"
    reply = request(stack, user, {"op": "password", "old": old, "new": "new-secret-1", "revoke_tokens": True})
    assert reply["ok"] and reply["revoked_tokens"] == 1
    assert closed_within([phone], KICK_S)
    for node in ("leaf", "hub"):
        assert stack.client(user, node, password=old).rc == 5
        assert stack.client(user, node, password=token).rc == 5
        assert stack.client(user, node, password="new-secret-1").rc == 0
    # without revoke_tokens, tokens keep working
    token2 = issue_with(stack, user, "new-secret-1")
    reply = request(stack, user, {"op": "password", "old": "new-secret-1", "new": "new-secret-2"},
                    password="new-secret-1")
    assert reply["ok"] and reply["revoked_tokens"] == 0
    assert stack.client(user, "leaf", password=token2).rc == 0


def issue_with(stack, user, password):
    reply = request(stack, user, {"op": "token", "label": "laptop"}, password=password)
    assert reply["ok"], reply
    ISSUED.append(reply["token"])
    return reply["token"]


def test_admin_disable_stops_password_and_token_connections(stack):
    user = new_user(stack)
    token = issue(stack, user)["token"]
    clients = [stack.client(user, "leaf", password=token), stack.client(user, "hub", password=token),
               stack.client(user, "hub")]
    assert [c.rc for c in clients] == [0, 0, 0]
    r = stack.chatctl("user", "disable", user)
    assert r.returncode == 0, r.stderr
    assert closed_within(clients, KICK_S)
    assert stack.client(user, "leaf", password=token).rc == 5
    assert stack.client(user, "hub").rc == 5
    r = stack.chatctl("user", "enable", user)
    assert r.returncode == 0, r.stderr
    stack.sync_auth()
    assert stack.client(user, "leaf", password=token).rc == 0


def test_token_request_rules(stack):
    user = new_user(stack)
    assert request(stack, user, {"op": "token"})["error"]["code"] == "bad_request"
    assert request(stack, user, {"op": "token", "label": "x", "lifetime_s": 5})["error"]["code"] == "bad_request"
    assert request(stack, user, {"op": "token", "label": "a\nb"})["error"]["code"] == "bad_request"
    assert request(stack, user, {"op": "revoke_token", "id": "nope"})["error"]["code"] == "bad_request"


def test_chat_keeps_its_token_0600_uses_it_and_logout_revokes(stack, tmp_path, monkeypatch):
    from test_chat_client import Chat
    user = new_user(stack, rooms=("lobby",))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    kept = tmp_path / "cfg" / "chat" / f"token-{user}@127.0.0.1:{stack.port('leaf')}"
    # a password login (--keep-token: the password comes from CHAT_PASSWORD)
    chat = Chat(stack, user, "leaf", extra=("--keep-token",))
    chat.expect("status connected")
    assert kept.exists() and (kept.stat().st_mode & 0o777) == 0o600
    assert (kept.parent.stat().st_mode & 0o777) == 0o700
    token = kept.read_text().strip()
    ISSUED.append(token)
    assert token.startswith("ct1.") and len(token) == 64
    tid = token.split(".")[1]
    chat.send("/tokens")
    line = chat.expect("token ")
    assert line.split()[1] == tid and "chat on" in line and " all " in line
    assert chat.expect("tokens-end ") == "tokens-end 1"
    assert chat.quit() == 0
    # a later start with no password at all logs in with the kept token
    # (here on the hub: a copy of the file under the hub's port)
    kept_hub = kept.parent / f"token-{user}@127.0.0.1:{stack.port('hub')}"
    kept_hub.write_text(token + "\n")
    kept_hub.chmod(0o600)
    chat = Chat(stack, user, "hub", env_password=False)
    chat.expect("status connected")
    chat.send("hello with a token")
    chat.expect("receipt lobby ")
    assert chat.quit() == 0
    # --logout revokes it on the server and deletes the file
    r = subprocess.run([os.path.join(BUILD, "chat"), "--port", str(stack.port("leaf")), "--user", user, "--logout"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env={k: v for k, v in os.environ.items() if k != "CHAT_PASSWORD"})
    assert r.returncode == 0, r.stderr
    assert not kept.exists()
    assert stack.client(user, "leaf", password=token).rc == 5
    # the hub's copy of the same token is now refused (once the hub has the
    # change too: --logout may finish from the leaf's side first): chat
    # deletes it and asks for the password (none here: exit 2)
    stack.sync_auth()
    chat = Chat(stack, user, "hub", env_password=False)
    assert chat.proc.wait(timeout=WAIT_S) == 2
    assert "kept token was refused" in chat.proc.stderr.read()
    assert not kept_hub.exists()


def test_chat_password_and_revoke_commands(stack, tmp_path):
    from test_chat_client import Chat
    user = new_user(stack, rooms=("lobby",))
    old = stack.password(user)
    phone = issue(stack, user)
    trace = tmp_path / "trace"
    chat = Chat(stack, user, "leaf", extra=("--trace", str(trace)))
    chat.expect("status connected")
    chat.send(f"/revoke {phone['id']}")
    assert chat.expect("ok revoke_token") == f"ok revoke_token {phone['id']}"
    chat.send(f"/revoke {phone['id']}")
    assert chat.expect("error ").startswith("error not_found")
    chat.send("/password wrong-one new-pass-9")
    assert chat.expect("error ").startswith("error bad_password")
    chat.send(f"/password {old} new-pass-9 revoke")
    assert chat.expect("ok password") == "ok password 0"
    assert chat.quit() == 0
    assert stack.client(user, "hub", password="new-pass-9").rc == 0
    assert stack.client(user, "hub", password=old).rc == 5
    # the trace holds every publish, but never a password
    text = trace.read_text()
    assert "(password request)" in text and old not in text and "new-pass-9" not in text


def test_full_screen_tokens_and_password_commands(stack):
    """The same commands in the full-screen mode (tmux): /tokens lists,
    /password's passwords never show on the screen."""
    import shutil
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    from test_chat_docs import Screen
    user = new_user(stack, rooms=("lobby",))
    old = stack.password(user)
    phone = issue(stack, user, label="tui phone")
    screen = Screen(stack, user, "hub")
    try:
        screen.wait("online")
        screen.type("/tokens")
        shown = screen.wait("1 tokens (/revoke ID)")
        assert phone["id"] in shown and '"tui phone"' in shown
        screen.tmux("send-keys", "-t", screen.name, "-l", f"/password {old} brand-new-7")
        typing = screen.wait("/password *")
        assert old not in typing and "brand-new-7" not in typing
        screen.tmux("send-keys", "-t", screen.name, "Enter")
        done = screen.wait("password changed (0 tokens revoked)")
        assert old not in done and "brand-new-7" not in done
    finally:
        screen.close()
    assert stack.client(user, "leaf", password="brand-new-7").rc == 0


def test_no_token_in_any_log(stack):
    """Runs last in this module: every token it issued, and each secret
    part, is absent from every log and file the stack wrote but MariaDB's
    data (which holds only SHA-256 hashes)."""
    assert ISSUED, "the module issued tokens"
    secrets = [t.split(".")[2] for t in ISSUED if t.count(".") == 2]
    found = []
    for path in glob.glob(os.path.join(stack.var, "**", "*"), recursive=True):
        if os.path.isdir(path) or "/db/" in path or path.endswith((".sock", ".pid")):
            continue
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for s in secrets:
            if s.encode() in data:
                found.append(path)
    assert not found, f"token secrets found in {sorted(set(found))}"
