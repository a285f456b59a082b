"""Issue 3 checklist points that had no failing test elsewhere: each
required plugin option named when missing, the back-end chain stopping at an
error, the http back-end's timeout, bad answers and connection reuse, the
login cache cleared on SIGHUP, hostile user names and client ids at the
broker, writing only under one's own identity, privilege by role rather than
by name, `%c` and `deny` in the ACL file, revocation within 1 s on every node
for subscribers already subscribed, passwords kept out of the log, and
chatctl's commands, errors and exit codes (its passwd-line accepted by a bare
Mosquitto). Real brokers and MariaDB, via the fixtures in conftest.py.
"""
import base64
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import BUILD, NO_CONNACK, WAIT_S, Client, free_port, run_process, start_process, wait_listening, wait_out_window, wait_until


def start_http(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/auth"


SLOW_ANSWER_S = 5.0


class Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive) auth endpoint; answers by user name prefix."""
    protocol_version = "HTTP/1.1"
    peers = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.peers.append(self.client_address)
        user = body["username"]
        if user.startswith("slow"):
            wait_out_window(SLOW_ANSWER_S, "the slow endpoint's delay, far beyond the plugin's timeout")
            data = json.dumps({"result": "allow"}).encode()
        elif user.startswith("garbled"):
            data = b"{not json"
        elif user.startswith("weird"):
            data = json.dumps({"result": "maybe"}).encode()
        elif user.startswith("http") and body["password"] == "good":
            data = json.dumps({"result": "allow", "is_superuser": False}).encode()
        elif user.startswith("http"):
            data = json.dumps({"result": "deny"}).encode()
        else:
            data = json.dumps({"result": "ignore"}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass   # the plugin gave up (timeout)

    def log_message(self, *args):
        pass


class ClosingHandler(Handler):
    """One request per connection, so that shutting the server down really
    takes the endpoint away (a kept-alive connection would outlive it)."""
    protocol_version = "HTTP/1.0"


# ---- credentials -------------------------------------------------------------

def start_broker_expecting_failure(stack, tmp_path, drop=(), extra=()):
    """Starts Mosquitto with the plugin and the usual options less `drop`,
    plus `extra` lines; returns its exit status and everything it logged."""
    with open(os.path.join(stack.var, "secrets", "db-password")) as f:
        db_password = f.read().strip()
    opts = {"node": "broken", "db_host": "127.0.0.1", "db_port": str(stack.port("db")),
            "db_user": "chat", "db_password": db_password, "db_name": "chat"}
    log = tmp_path / f"m-{uuid.uuid4().hex[:6]}.log"
    lines = [f"listener {free_port()} 127.0.0.1", "allow_anonymous false", "persistence false",
             "log_dest stderr", f"log_dest file {log}", "log_type all",
             f"plugin {os.path.join(BUILD, 'chat_auth.so')}"]
    if os.geteuid() == 0:
        lines.append("user root")
    lines += [f"plugin_opt_{k} {v}" for k, v in opts.items() if k not in drop]
    lines += list(extra)
    conf = tmp_path / f"m-{uuid.uuid4().hex[:6]}.conf"
    conf.write_text("\n".join(lines) + "\n")
    os.chmod(tmp_path, 0o777)
    try:
        p = run_process(["mosquitto", "-c", str(conf)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the broker started without {drop} {extra}")
    text = p.stdout + p.stderr + (log.read_text() if log.exists() else "")
    return p.returncode, text


@pytest.mark.parametrize("drop,extra,named", [
    (("node",), (), "plugin_opt_node"),
    (("db_user",), (), "plugin_opt_db_user"),
    (("db_name",), (), "plugin_opt_db_name"),
    (("db_host",), (), "plugin_opt_db_host"),
    ((), ("plugin_opt_backends http,mariadb",), "plugin_opt_http_url"),
    ((), ("plugin_opt_backends file",), "plugin_opt_password_file"),
    ((), ("plugin_opt_backends http", "plugin_opt_http_url ftp://x/"), "plugin_opt_http_url"),
    ((), ("plugin_opt_refresh_ms 5",), "refresh_ms"),
])
def test_each_missing_or_bad_required_option_stops_the_broker_naming_it(stack, tmp_path, drop, extra, named):
    rc, text = start_broker_expecting_failure(stack, tmp_path, drop, extra)
    assert rc != 0
    assert named in text, text[-2000:]


def test_backend_error_never_allows_even_when_a_later_backend_would(stack, solo):
    server, url = start_http(ClosingHandler)
    b = solo("chainerr", backends="http,mariadb", http_url=url, http_timeout_ms=300)
    try:
        # ignore -> defer -> mariadb allows alice
        assert b.connect("alice", stack.password("alice")).rc == 0
        # Answers that are not the contract are errors, and refuse.
        assert b.connect("garbled1", "x").rc == NO_CONNACK
        assert b.connect("weird1", "x").rc == NO_CONNACK
        assert "answered something other than" in b.log()
    finally:
        server.shutdown()
        server.server_close()
    # Endpoint down: bob is valid in MariaDB, next in the chain, but the
    # error from the first back-end refuses him (he is not in any cache).
    assert b.connect("bob", stack.password("bob")).rc == NO_CONNACK
    assert "could not check user bob; refused" in b.log()


def test_http_backend_times_out_and_reuses_its_connection(stack, solo):
    server, url = start_http(Handler)
    try:
        b = solo("httpto", backends="http", http_url=url, http_timeout_ms=300)
        Handler.peers.clear()
        for i in range(4):
            c = b.connect(f"http{i}", "good")
            assert c.rc == 0
            c.close()
        # One TCP connection (same client port) for every request.
        assert len(Handler.peers) == 4
        assert len(set(Handler.peers)) == 1, Handler.peers
        started = time.monotonic()
        assert b.connect("slow1", "x").rc == NO_CONNACK   # allow arrives after 5 s: too late
        assert time.monotonic() - started < SLOW_ANSWER_S - 1.0   # the plugin did not wait for it
        assert "Timeout was reached" in b.log()
        # The 300 ms the broker thread spent waiting is paid from the
        # node-wide verification budget (docs/ADMIN.md), so fresh logins wait
        # for it to recover; they are back within a few seconds.
        assert wait_until(lambda: b.connect("http9", "good").rc == 0, step=0.5), \
            "logins did not recover after an HTTP timeout"
    finally:
        server.shutdown()
        server.server_close()


def test_login_cache_is_cleared_on_sighup(stack, solo):
    server, url = start_http(ClosingHandler)
    b = solo("cachehup", backends="http", http_url=url, http_timeout_ms=300)
    assert b.connect("httpcached", "good").rc == 0
    server.shutdown()
    server.server_close()
    # Only the cache can answer now.
    assert b.connect("httpcached", "good").rc == 0
    b.reload()
    assert b.connect("httpcached", "good").rc == NO_CONNACK


def sha512_line(user: bytes, password: bytes) -> bytes:
    salt = os.urandom(12)
    digest = hashlib.sha512(password + salt).digest()
    return user + b":$6$" + base64.b64encode(salt) + b"$" + base64.b64encode(digest) + b"\n"


def raw_connect(port, client_id: bytes, username: bytes, password: bytes):
    """An MQTT 5 CONNECT with exactly these bytes; returns the CONNACK reason
    code, or None when the broker closes the connection without one."""
    def s(b):
        return len(b).to_bytes(2, "big") + b

    def varint(n):
        out = b""
        while True:
            byte, n = n % 128, n // 128
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out
    var = s(b"MQTT") + bytes([5, 0xC2]) + (30).to_bytes(2, "big") + b"\x00"
    body = var + s(client_id) + s(username) + s(password)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(b"\x10" + varint(len(body)) + body)
        data = b""
        try:
            while len(data) < 4:
                chunk = sock.recv(64)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    if len(data) >= 4 and data[0] == 0x20:
        return data[3]
    return None


def test_hostile_user_names_and_client_ids_are_refused_at_the_broker(stack, solo, tmp_path):
    pw = tmp_path / "passwd"
    bad_users = [b"dev+1", b"dev#1", b"dev/1", b"dev\x01", b"dev\x7f", b"dev\xff", b"dev\xc3"]
    pw.write_bytes(sha512_line(b"dev1", b"pw") + b"".join(sha512_line(u, b"pw") for u in bad_users))
    os.chmod(pw, 0o644)
    b = solo("names", backends="file,mariadb", password_file=str(pw))
    assert raw_connect(b.port, b"ok-1", b"dev1", b"pw") == 0          # the control
    for user in bad_users:
        assert raw_connect(b.port, b"ok-2", user, b"pw") != 0, user
    alice = stack.password("alice").encode()
    assert raw_connect(b.port, b"alice-ok", b"alice", alice) == 0
    assert raw_connect(b.port, "tél\u00a0x".encode(), b"alice", alice) == 0
    for cid in [b"a+b", b"a#b", b"a/b", b"a\x01b", b"a\nb", b"a\x7fb", b"\xff\xfe", b"ab\xc3",
                b"\xc0\xaf", b"a\xc2\x85b"]:
        assert raw_connect(b.port, cid, b"alice", alice) != 0, cid


def test_passwords_never_reach_the_log(stack, solo):
    b = solo("nolog")
    secret = "Never-Log-Me-" + uuid.uuid4().hex
    assert b.connect("alice", secret).rc == 5
    assert b.connect("nobody-here", secret).rc == 5
    assert b.connect("alice", stack.password("alice")).rc == 0
    log = b.log()
    assert "alice" in log
    assert secret not in log
    assert stack.password("alice") not in log


# ---- authorization -----------------------------------------------------------

def test_users_write_only_under_their_own_identity(stack):
    """alice and bob share the lobby. A service watches every topic alice
    tries to forge as bob; her own ones go through (the control)."""
    watcher = stack.client("presence", "hub")
    watcher.subscribe("chat/v1/users/+/req/#", "chat/v1/presence/#", "chat/v1/rooms/lobby/typing/+",
                      "chat/v1/users/bob/inbox")
    alice = stack.client("alice", "leaf")
    tag = uuid.uuid4().hex
    # Own identity: allowed.
    alice.publish("chat/v1/rooms/lobby/typing/alice", {"typing": True})
    watcher.expect(lambda t, p: t == "chat/v1/rooms/lobby/typing/alice")
    alice.publish("chat/v1/users/alice/req/presence", {"op": "devices", "req_id": "own-" + tag})
    watcher.expect(lambda t, p: t == "chat/v1/users/alice/req/presence" and tag.encode() in p)
    # As bob: typing, presence, read marker and history/presence requests,
    # and bob's inbox; none is delivered.
    forged = {
        "chat/v1/rooms/lobby/typing/bob": {"typing": True},
        "chat/v1/presence/bob": {"user": "bob", "state": "offline", "tag": tag},
        "chat/v1/users/bob/req/history": {"op": "read", "req_id": tag, "room": "lobby", "seq": 1},
        "chat/v1/users/bob/req/presence": {"op": "status", "state": "dnd", "req_id": tag},
        "chat/v1/users/bob/inbox": {"type": "reply", "req_id": tag},
    }
    for topic, payload in forged.items():
        alice.publish(topic, payload)
    # alice's own request after them, over the same path, is the marker.
    marker = "marker-" + tag
    alice.publish("chat/v1/users/alice/req/presence", {"op": "devices", "req_id": marker})
    watcher.quiet_until(lambda t, p: t in forged and (tag.encode() in p or t.endswith("typing/bob")),
                        lambda t, p: t == "chat/v1/users/alice/req/presence" and marker.encode() in p)
    # Reading someone else's inbox is refused too.
    alice.subscribe("chat/v1/users/bob/inbox")
    bob = stack.client("bob", "hub")
    bob.subscribe("chat/v1/users/bob/inbox")
    other = uuid.uuid4().hex
    bob.publish("chat/v1/users/bob/req/presence", {"op": "devices", "req_id": other})
    bob.expect(lambda t, p: t == "chat/v1/users/bob/inbox" and other.encode() in p)
    alice.quiet_until_reply(lambda t, p: t == "chat/v1/users/bob/inbox", service="presence")


def test_privilege_comes_from_the_role_not_the_name(stack):
    # A new service account with a name no code knows sees every room...
    r = stack.chatctl("user", "add", "auditor-7", "--role", "service", "--iterations", "1000", stdin="auditor-pw\n")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(stack.var, "secrets", "user-auditor-7"), "w") as f:
        f.write("auditor-pw")
    # ...and a plain user named like a service or a bridge sees nothing.
    for name in ("history-svc", "bridge-leaf9"):
        stack.add_user(name, f"{name}-pw")
    auditor = stack.client("auditor-7", "hub")
    auditor.subscribe("chat/v1/rooms/+/msg/+")
    fakes = [stack.client(n, "hub") for n in ("history-svc", "bridge-leaf9")]
    for f in fakes:
        f.subscribe("chat/v1/rooms/+/msg/+", "chat/v1/users/+/inbox", "chat/v1/sys/#")
    alice = stack.client("alice", "leaf")
    m = {"id": uuid.uuid4().hex, "body": "who can see this"}
    alice.publish("chat/v1/rooms/lobby/msg/alice", m)
    assert auditor.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["id"] == m["id"])
    for f in fakes:
        f.quiet_until_reply(lambda t, p: True)


def test_acl_file_client_id_patterns_and_deny(stack, solo, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("pattern readwrite devices/%c/#\n"
                   "user alice\ntopic deny sensors/secret\ntopic readwrite sensors/#\n")
    os.chmod(acl, 0o644)
    b = solo("aclc", acl_file=str(acl))
    watcher = b.connect("history", stack.password("history"))
    watcher.subscribe("devices/#", "sensors/#")
    dev = b.connect("alice", stack.password("alice"), client_id="dev-9")
    dev.publish("devices/dev-9/state", b"on")
    assert watcher.expect(lambda t, p: t == "devices/dev-9/state")[1] == b"on"
    dev.publish("devices/dev-8/state", b"forged")
    dev.publish("sensors/secret", b"denied")
    dev.publish("sensors/open", b"allowed")   # after the refused ones: the marker
    watcher.quiet_until(lambda t, p: t in ("devices/dev-8/state", "sensors/secret"),
                        lambda t, p: t == "sensors/open" and p == b"allowed")
    # bob's client id is his own: the pattern lets him use devices/<his id>.
    other = b.connect("bob", stack.password("bob"), client_id="dev-8")
    other.subscribe("devices/dev-8/#")
    watcher.publish("devices/dev-8/cmd", b"reboot")
    assert other.expect(lambda t, p: t == "devices/dev-8/cmd")[1] == b"reboot"


def test_revocation_stops_already_subscribed_subscribers_on_every_node_within_1s(stack):
    erin = "erin" + uuid.uuid4().hex[:6]
    stack.add_user(erin, "erin-pw-1")
    room = "revoke-" + uuid.uuid4().hex[:8]
    assert stack.chatctl("room", "create", room).returncode == 0
    for u in ("alice", erin):
        assert stack.chatctl("member", "add", room, u).returncode == 0
    stack.sync_auth()
    topic = f"chat/v1/rooms/{room}/msg/alice"
    erins = {node: stack.client(erin, node) for node in ("hub", "leaf")}
    for e in erins.values():
        e.subscribe(f"chat/v1/rooms/{room}/msg/+")
    alice = stack.client("alice", "leaf")
    first = {"id": uuid.uuid4().hex, "body": "before"}
    alice.publish(topic, first)
    for e in erins.values():
        e.expect_json(topic, lambda d: d["id"] == first["id"])
    r = stack.chatctl("member", "remove", room, erin)
    assert r.returncode == 0, r.stderr
    removed = time.monotonic()
    sent = []
    while time.monotonic() - removed < 2.5:
        m = {"id": uuid.uuid4().hex, "body": "probe"}
        alice.publish(topic, m, qos=0)
        sent.append((time.monotonic() - removed, m["id"]))
        wait_out_window(0.05, "probe spacing across the 2.5 s after the removal")
    alice.publish(topic, {"id": uuid.uuid4().hex, "body": "last probe"})   # QoS 1: the leaf has routed every probe
    # Marker: a request of erin's from the leaf crosses the bridge after the
    # probes; its reply reaches both of her connections after any probe would.
    marker = "marker-" + uuid.uuid4().hex[:8]
    for e in erins.values():
        e.subscribe(f"chat/v1/users/{erin}/inbox")
    erins["leaf"].publish(f"chat/v1/users/{erin}/req/history", {"op": "rooms", "req_id": marker})
    when = dict((i, t) for t, i in sent)
    for node, e in erins.items():
        got = []
        for t, p in e.collect_until(lambda t, p: marker.encode() in p):
            if t == topic:
                got.append(when.get(json.loads(p)["id"], -1))
        last = max(got, default=-1)
        assert last < 1.0, f"erin on {node} still got a message sent {last:.2f}s after the removal"
        # Her subscription stays; she simply stops getting the room.
    # And she can no longer write, on either node.
    for node, e in erins.items():
        e.publish(f"chat/v1/rooms/{room}/msg/{erin}", {"id": uuid.uuid4().hex, "body": "still here?"})
    rows = stack.sql(f"SELECT COUNT(*) FROM messages m JOIN rooms r ON r.id = m.room_id "
                     f"JOIN users u ON u.id = m.sender_id WHERE r.name = '{room}' AND u.username = '{erin}'")
    assert rows == [["0"]]


# ---- chatctl -------------------------------------------------------------------

def test_chatctl_help_usage_errors_and_exit_codes(stack):
    exe = os.path.join(BUILD, "chatctl")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("user add", "user passwd", "user disable", "user delete", "user list", "user passwd-line",
                "room create", "room delete", "room list", "member add", "member remove", "member list",
                "member role"):
        assert cmd in r.stdout, cmd
    assert subprocess.run([exe], capture_output=True, text=True).returncode == 2
    assert stack.chatctl("user", "frobnicate", "x").returncode == 2
    r = stack.chatctl("user", "add")
    assert r.returncode == 2 and "wrong number of arguments" in r.stderr
    r = stack.chatctl("user", "add", "x1", "--role", "god", stdin="pw\n")
    assert r.returncode == 2 and "unknown role" in r.stderr
    r = stack.chatctl("user", "add", "x1", "--iterations", "0", stdin="pw\n")
    assert r.returncode == 2 and "--iterations" in r.stderr
    r = stack.chatctl("user", "add", "bad/name", stdin="pw\n")
    assert r.returncode == 2 and "user name" in r.stderr
    r = stack.chatctl("room", "create", "Bad Room")
    assert r.returncode == 2 and "room name" in r.stderr
    r = subprocess.run([exe, "-c", "/nonexistent/db.conf", "user", "list"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("chatctl:")
    r = stack.chatctl("user", "add", "alice", "--iterations", "1000", stdin="pw-pw-pw\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = stack.chatctl("user", "delete", "no-such-user-zz")
    assert r.returncode == 1 and "no such user" in r.stderr
    r = stack.chatctl("user", "passwd-line", "no-such-user-zz")
    assert r.returncode == 1 and "no such user" in r.stderr
    r = stack.chatctl("member", "role", "lobby", "alice", "owner")
    assert r.returncode == 2


def test_chatctl_users_rooms_and_members_lifecycle(stack):
    n = uuid.uuid4().hex[:6]
    user, room = f"ivy{n}", f"priv-{n}"
    stack.add_user(user, "ivy-pw-1")
    assert stack.client(user, "hub").rc == 0
    # passwd: the new password works on the brokers, the old one no longer.
    r = stack.chatctl("user", "passwd", user, "--iterations", "1000", stdin="ivy-pw-2\n")
    assert r.returncode == 0, r.stderr
    stack.sync_auth()
    assert stack.client(user, "leaf", password="ivy-pw-1").rc == 5
    assert stack.client(user, "leaf", password="ivy-pw-2").rc == 0
    # list / disable
    assert stack.chatctl("user", "disable", user).returncode == 0
    rows = [line.split("\t") for line in stack.chatctl("user", "list").stdout.splitlines()]
    assert rows[0][:3] == ["user", "role", "state"]
    assert [user, "user", "disabled"] in [row[:3] for row in rows]
    assert stack.chatctl("user", "enable", user).returncode == 0
    # rooms and members
    r = stack.chatctl("room", "create", room, "--private")
    assert r.returncode == 0, r.stderr
    assert stack.chatctl("room", "create", room).returncode == 1
    rooms = [line.split("\t") for line in stack.chatctl("room", "list").stdout.splitlines()]
    assert [room, "private"] in [row[:2] for row in rooms]
    assert stack.chatctl("member", "add", room, user).returncode == 0
    # A mistyped name is a failure that names what is missing; adding a
    # member twice is not (nothing to do).
    r = stack.chatctl("member", "add", room, "nobody-zz")
    assert r.returncode == 1 and "no user nobody-zz" in r.stderr, (r.returncode, r.stderr)
    r = stack.chatctl("member", "add", "no-room-zz", user)
    assert r.returncode == 1 and "no room no-room-zz" in r.stderr, (r.returncode, r.stderr)
    r = stack.chatctl("member", "add", room, user)
    assert r.returncode == 0 and "already a member" in r.stdout, (r.returncode, r.stdout)
    assert stack.chatctl("member", "role", room, user, "admin").returncode == 0
    out = stack.chatctl("member", "list", room).stdout
    assert any(line.split("\t")[:2] == [user, "admin"] for line in out.splitlines()), out
    assert stack.chatctl("member", "remove", room, user).returncode == 0
    assert stack.chatctl("member", "remove", room, user).returncode == 1
    assert user not in stack.chatctl("member", "list", room).stdout
    assert stack.chatctl("room", "delete", room).returncode == 0
    assert stack.chatctl("room", "delete", room).returncode == 1
    # delete: the account is gone from the list and from the brokers.
    assert stack.chatctl("user", "delete", user).returncode == 0
    stack.sync_auth()
    assert user not in stack.chatctl("user", "list").stdout
    assert stack.client(user, "hub", password="ivy-pw-2").rc == 5


def test_chatctl_passwd_line_is_accepted_by_a_bare_mosquitto(stack, tmp_path):
    """The line chatctl prints, in a password_file of Mosquitto itself (no
    plugin), lets the user log in with their password and no other."""
    stack.add_user("kim", "kim-pw-1")
    r = stack.chatctl("user", "passwd-line", "kim")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("kim:$7$")
    pw = tmp_path / "passwd"
    pw.write_text(line + "\n")
    os.chmod(pw, 0o644)
    os.chmod(tmp_path, 0o777)
    port = free_port()
    conf = tmp_path / "bare.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n"
                    + ("user root\n" if os.geteuid() == 0 else ""))
    proc = start_process(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_listening(port, proc=proc), "the bare mosquitto did not start"
        stack.ports["bare"] = port
        assert Client(stack, "kim", "bare", password="kim-pw-1").rc == 0
        assert Client(stack, "kim", "bare", password="kim-pw-2").rc == 5
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT_S)
