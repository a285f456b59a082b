"""push-svc: Web Push to offline devices (docs/PROTOCOL.md 4.6 and 3.10).

A push service of our own on loopback (http.server) receives each push,
decrypts it with the subscription's private key (RFC 8291, aes128gcm) and
checks the VAPID JWT (RFC 8292: ES256 signature, audience = the endpoint's
origin, exp within 24 h). The stack's push-svc is replaced for this module
by one started here with allow_http_loopback (http:// endpoints on
loopback, for tests only) and a 3 s coalescing window.
"""
import base64
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conftest import BUILD, WAIT_S, ask, free_port, fresh_room, inbox, start_process, wait_for, wait_until

WINDOW_S = 3.0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class Device:
    """A subscription's keys, as a browser or UnifiedPush distributor makes them."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)
        self.auth = os.urandom(16)

    def keys(self):
        return {"p256dh": b64url(self.public), "auth": b64url(self.auth)}

    def decrypt(self, body):
        """RFC 8291 / RFC 8188: one aes128gcm record."""
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        as_public = body[21:21 + idlen]
        ciphertext = body[21 + idlen:]
        assert idlen == 65 and rs >= len(ciphertext)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
        secret = self.key.exchange(ec.ECDH(), peer)
        ikm = hkdf(self.auth, secret, b"WebPush: info\x00" + self.public + as_public, 32)
        cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        plain = AESGCM(cek).decrypt(nonce, ciphertext, None).rstrip(b"\x00")
        assert plain.endswith(b"\x02"), "not the last record"
        return json.loads(plain[:-1])


def verify_vapid(header, origin, vapid_key):
    """Checks 'vapid t=JWT, k=KEY': k is the published key, the ES256
    signature verifies with it, aud is origin, exp within 24 h."""
    parts = dict(p.strip().split("=", 1) for p in header[len("vapid "):].split(","))
    assert parts["k"] == vapid_key
    h, c, s = parts["t"].split(".")
    assert json.loads(unb64url(h)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(s)
    assert len(raw) == 64
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    try:
        key.verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("VAPID JWT signature does not verify")
    claims = json.loads(unb64url(c))
    assert claims["aud"] == origin
    assert time.time() < claims["exp"] <= time.time() + 86400 + 5
    assert claims["sub"].startswith("mailto:")
    return claims


class PushService:
    """A Web Push service on loopback: POST /NAME records the push; the
    answer per NAME is 201, or behaviour[NAME]: a status (410, say),
    'silent' (the answer comes after 30 s) or 'busy-once' (429 with
    Retry-After: 1 the first time)."""

    def __init__(self):
        self.port = free_port()
        self.received = []  # (name, headers, body, monotonic time)
        self.behaviour = {}
        self.lock = threading.Lock()
        svc = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                name = self.path.strip("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with svc.lock:
                    svc.received.append((name, dict(self.headers), body, time.monotonic()))
                how = svc.behaviour.get(name, 201)
                retry_after = None
                if how == "silent":
                    time.sleep(30)
                    how = 201
                elif how == "busy-once":  # 429 with Retry-After: 1, then accepted
                    svc.behaviour[name] = 201
                    how, retry_after = 429, "1"
                self.send_response(how)
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, name):
        return f"{self.origin}/{name}"

    def pushes(self, name):
        with self.lock:
            return [r for r in self.received if r[0] == name]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class PushSvc:
    """push-svc as the stack runs it, with test settings, started and
    stopped by the test."""

    def __init__(self, stack):
        self.stack = stack
        self.conf = os.path.join(stack.var, "conf", "push-svc-test.conf")
        self.log = os.path.join(stack.var, "log", "push-svc-test.log")
        self.metrics_port = free_port()
        with open(os.path.join(stack.var, "conf", "push-svc.conf")) as f:
            base = f.read()
        with open(self.conf, "w") as f:
            f.write(base + f"\nmqtt_client_id = push-svc-test\nallow_http_loopback = 1\nwindow_ms = {int(WINDOW_S * 1000)}"
                    f"\nstartup_hold_ms = 500\nrequest_timeout_ms = 40000\nmetrics_port = {self.metrics_port}\n"
                    "log_level = debug\n")
        self.proc = None

    def start(self):
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.out = open(self.log, "a")
        self.proc = start_process([os.path.join(BUILD, "push-svc"), "-c", self.conf], stdout=self.out,
                                  stderr=self.out)
        wait_for(lambda: "connected to" in open(self.log).read()[offset:], "push-svc connected")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=WAIT_S)
        self.out.close()


@pytest.fixture(scope="module")
def push(stack):
    pidfile = os.path.join(stack.var, "run", "push-svc.pid")
    if os.path.exists(pidfile):
        # The stack's own push-svc would send these pushes too.
        os.kill(int(open(pidfile).read()), signal.SIGTERM)
        wait_until(lambda: subprocess.run(["kill", "-0", open(pidfile).read().strip()],
                                          capture_output=True).returncode != 0)
    service = PushService()
    svc = PushSvc(stack)
    svc.start()
    yield service, svc
    svc.stop()
    service.close()
    # The stack's own push-svc back, for the modules that follow.
    up = stack.script("up", check=False)
    assert up.returncode == 0, up.stdout + up.stderr


def new_user(stack, prefix):
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    stack.add_user(name, "pw-" + uuid.uuid4().hex)
    return name


def subscribe_device(stack, user, endpoint, **choices):
    """Connects as user, registers a device for pushes, disconnects; returns
    (device, reply)."""
    device = Device()
    c = stack.client(user, "hub")
    c.subscribe(inbox(user))
    reply = ask(c, user, dict({"op": "subscribe", "endpoint": endpoint, "keys": device.keys()}, **choices),
                service="push")
    c.close()
    return device, reply


def wait_offline(watcher, user):
    """Waits until presence says user has no open connection."""
    watcher.subscribe(f"chat/v1/presence/{user}")
    watcher.expect_json(f"chat/v1/presence/{user}", lambda d: d.get("devices") == 0)


def dm_room(client, user, other):
    reply = ask(client, user, {"op": "dm", "user": other})
    assert reply["ok"], reply
    return reply["room"]


def send(client, user, room, body, **extra):
    """Publishes a message and returns (receipt, monotonic time of the receipt)."""
    mid = uuid.uuid4().hex
    client.publish(f"chat/v1/rooms/{room}/msg/{user}", dict({"id": mid, "body": body}, **extra))
    receipt = client.expect_json(inbox(user), lambda d: d.get("type") == "receipt" and d.get("id") == mid)
    return receipt, time.monotonic()


def offline_pair(stack, push, prefix, behaviour=None, **choices):
    """A sender (connected, inbox subscribed) and an offline recipient with
    a device; returns (sender client, sender, recipient, device, dm room)."""
    service, _ = push
    sender = new_user(stack, prefix + "s")
    recipient = new_user(stack, prefix + "r")
    if behaviour:
        service.behaviour[recipient] = behaviour
    device, reply = subscribe_device(stack, recipient, service.endpoint(recipient), **choices)
    assert reply["ok"], reply
    c = stack.client(sender, "leaf")
    c.subscribe(inbox(sender))
    room = dm_room(c, sender, recipient)
    wait_offline(c, recipient)
    return c, sender, recipient, device, room


def test_subscribe_validates_and_lists(stack, push):
    service, _ = push
    user = new_user(stack, "pv")
    c = stack.client(user, "hub")
    c.subscribe(inbox(user))
    good = Device().keys()
    bad = [
        ({"endpoint": "ftp://x/y", "keys": good}, "bad_request"),
        ({"endpoint": "http://example.com/x", "keys": good}, "bad_request"),  # http only on loopback
        ({"endpoint": "https://push.example/" + "a" * 1100, "keys": good}, "too_large"),
        ({"endpoint": "https://push.example/x", "keys": {"p256dh": good["p256dh"][:-4], "auth": good["auth"]}},
         "bad_request"),
        ({"endpoint": "https://push.example/x", "keys": {"p256dh": good["p256dh"], "auth": b64url(b"x" * 15)}},
         "bad_request"),
        ({"endpoint": "https://push.example/x", "keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64),
                                                          "auth": good["auth"]}}, "bad_request"),  # not on P-256
        ({"endpoint": "https://push.example/x", "keys": good, "wake": "sometimes"}, "bad_request"),
        ({"endpoint": "https://push.example/x", "keys": good, "wake": "all"}, "bad_request"),
        ({"endpoint": "https://push.example/x", "keys": good, "wake": "all", "rooms": ["nosuchroom"]},
         "not_member"),
    ]
    for fields, code in bad:
        reply = ask(c, user, dict({"op": "subscribe"}, **fields), service="push")
        assert not reply["ok"] and reply["error"]["code"] == code, (fields, reply)
    room = fresh_room(stack, user)
    reply = ask(c, user, {"op": "subscribe", "endpoint": "https://push.example/dev1", "keys": good,
                          "wake": "all", "rooms": [room], "preview": True}, service="push")
    assert reply["ok"] and reply["wake"] == "all" and reply["rooms"] == [room] and reply["preview"] is True, reply
    listed = ask(c, user, {"op": "subscriptions"}, service="push")
    assert listed["subscriptions"][0]["rooms"] == [room]
    vapid_key = reply["vapid_key"]
    assert len(unb64url(vapid_key)) == 65
    again = ask(c, user, {"op": "subscribe", "endpoint": "https://push.example/dev1", "keys": good},
                service="push")
    assert again["ok"] and again["id"] == reply["id"] and again["wake"] == "mentions"
    listed = ask(c, user, {"op": "subscriptions"}, service="push")
    assert listed["ok"] and listed["vapid_key"] == vapid_key
    assert [(s["id"], s["endpoint"], s["wake"], s["rooms"], s["preview"]) for s in listed["subscriptions"]] == \
        [(reply["id"], "https://push.example/dev1", "mentions", [], False)]
    assert "p256dh" not in json.dumps(listed)
    gone = ask(c, user, {"op": "unsubscribe", "id": reply["id"]}, service="push")
    assert gone["ok"]
    assert ask(c, user, {"op": "unsubscribe", "id": reply["id"]}, service="push")["error"]["code"] == "not_found"
    assert ask(c, user, {"op": "subscriptions"}, service="push")["subscriptions"] == []


def test_offline_dm_gives_a_decryptable_signed_push(stack, push):
    service, _ = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pd")
    vapid_key = ask(c, sender, {"op": "subscriptions"}, service="push")["vapid_key"]
    receipt, stored_at = send(c, sender, room, "hello while you sleep")
    got = wait_for(lambda: service.pushes(recipient), "a push")
    name, headers, body, at = got[0]
    assert at - stored_at < 2.0, f"push came {at - stored_at:.2f}s after the receipt"
    assert headers["Content-Encoding"] == "aes128gcm"
    assert int(headers["TTL"]) > 0 and headers["Urgency"] == "high"
    assert 0 < len(headers["Topic"]) <= 32
    verify_vapid(headers["Authorization"], service.origin, vapid_key)
    payload = device.decrypt(body)
    assert payload == {"type": "push", "room": room, "count": 1, "seq": receipt["seq"], "sender": sender}
    wait_for(lambda: metric(push[1], "chat_push_sent_total") >= 1, "the push counted in the metrics")


def test_preview_carries_the_body(stack, push):
    service, _ = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pp", preview=True)
    send(c, sender, room, "see you at 5")
    got = wait_for(lambda: service.pushes(recipient), "a push")
    assert device.decrypt(got[0][2])["body"] == "see you at 5"


def test_offline_mention_gives_a_push(stack, push):
    service, _ = push
    sender = new_user(stack, "pms")
    recipient = new_user(stack, "pmr")
    room = fresh_room(stack, sender, recipient)
    device, reply = subscribe_device(stack, recipient, service.endpoint(recipient))
    c = stack.client(sender, "leaf")
    c.subscribe(inbox(sender))
    wait_offline(c, recipient)
    receipt, stored_at = send(c, sender, room, f"@{recipient} look", mentions=[recipient])
    got = wait_for(lambda: service.pushes(recipient), "a push for a mention", timeout=10)
    assert got[0][3] - stored_at < 2.0
    assert device.decrypt(got[0][2])["room"] == room


def test_mention_row_gives_a_push(stack, push):
    """push-svc's side of mentions, whoever writes the rows: a message in a
    group room with a row in the mentions table (migration 0004) for an
    offline member gives them a push. The row is written while push-svc is
    stopped, so its start-up scan is what finds the message."""
    service, svc = push
    sender = new_user(stack, "pns")
    recipient = new_user(stack, "pnr")
    room = fresh_room(stack, sender, recipient)
    device, reply = subscribe_device(stack, recipient, service.endpoint(recipient))
    c = stack.client(sender, "leaf")
    c.subscribe(inbox(sender))
    wait_offline(c, recipient)
    svc.stop()
    try:
        receipt, _ = send(c, sender, room, f"@{recipient} look")
        stack.sql(f"INSERT IGNORE INTO mentions (user_id, room_id, seq) SELECT u.id, r.id, {receipt['seq']}"
                  f" FROM users u, rooms r WHERE u.username = '{recipient}' AND r.name = '{room}'")
    finally:
        svc.start()
    got = wait_for(lambda: service.pushes(recipient), "a push for the mention")
    assert got[0][1]["Urgency"] == "high"
    assert device.decrypt(got[0][2]) == {"type": "push", "room": room, "count": 1, "seq": receipt["seq"],
                                         "sender": sender}


def test_wake_all_and_none(stack, push):
    """wake "all" gets every message of its rooms (Urgency normal); wake
    "none" and an unmentioned member of a group room get nothing."""
    service, _ = push
    sender = new_user(stack, "pas")
    everything = new_user(stack, "paa")
    nothing = new_user(stack, "pan")
    quiet = new_user(stack, "paq")
    room = fresh_room(stack, sender, everything, nothing, quiet)
    d_all, r_all = subscribe_device(stack, everything, service.endpoint(everything), wake="all", rooms=[room])
    assert r_all["ok"], r_all
    subscribe_device(stack, nothing, service.endpoint(nothing), wake="none")
    subscribe_device(stack, quiet, service.endpoint(quiet))
    c = stack.client(sender, "leaf")
    c.subscribe(inbox(sender))
    for u in (everything, nothing, quiet):
        wait_offline(c, u)
    receipt, _ = send(c, sender, room, "news for the room")
    got = wait_for(lambda: service.pushes(everything), "the wake=all push")
    assert got[0][1]["Urgency"] == "normal"
    assert device_payload(d_all, got[0])["seq"] == receipt["seq"]
    # Marker: a later DM push to someone else.
    c2, s2, r2, d2, room2 = offline_pair(stack, push, "pam")
    send(c2, s2, room2, "marker")
    wait_for(lambda: service.pushes(r2), "the marker push")
    assert service.pushes(nothing) == [] and service.pushes(quiet) == []


def device_payload(device, push):
    return device.decrypt(push[2])


def test_online_user_gets_no_push(stack, push):
    service, _ = push
    sender = new_user(stack, "pos")
    online = new_user(stack, "poo")
    device, reply = subscribe_device(stack, online, service.endpoint(online))
    keep = stack.client(online, "hub")  # stays connected
    c = stack.client(sender, "leaf")
    c.subscribe(inbox(sender), f"chat/v1/presence/{online}")
    c.expect_json(f"chat/v1/presence/{online}", lambda d: d.get("devices", 0) > 0)
    room = dm_room(c, sender, online)
    send(c, sender, room, "you are here anyway")
    # Marker: a DM to an offline user sent after it, through the same path.
    c2, s2, r2, d2, room2 = offline_pair(stack, push, "pom")
    send(c2, s2, room2, "marker")
    wait_for(lambda: service.pushes(r2), "the marker push")
    assert service.pushes(online) == []
    assert stack.sql(f"SELECT COUNT(*) FROM push_log l JOIN push_subscriptions s ON s.id = l.sub_id"
                     f" WHERE s.id = {reply['id']}") == [["0"]]
    keep.close()


def test_gone_endpoint_is_pruned(stack, push):
    service, _ = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pg", behaviour=410)
    send(c, sender, room, "anyone there?")
    wait_for(lambda: service.pushes(recipient), "the push to the gone endpoint")
    wait_for(lambda: stack.sql("SELECT COUNT(*) FROM push_subscriptions s JOIN users u ON u.id = s.user_id"
                               f" WHERE u.username = '{recipient}'") == [["0"]], "the subscription deleted")
    wait_for(lambda: metric(push[1], "chat_push_pruned_total") >= 1, "the prune counted in the metrics")


def metric(svc, name):
    """A counter or gauge from the test push-svc's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{svc.metrics_port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_history_svc_hints_after_commit(stack, push):
    """history-svc's hint on chat/v1/sys/stored (read here as push-svc
    does, with the push service account) comes after the receipt's commit
    and covers its seq; users cannot read it."""
    watcher = stack.client("push", "hub", client_id="push-hint-" + uuid.uuid4().hex[:6])
    watcher.subscribe("chat/v1/sys/stored")
    user = new_user(stack, "ph")
    room = fresh_room(stack, user)
    c = stack.client(user, "leaf")
    c.subscribe(inbox(user), "chat/v1/sys/stored")
    receipt, _ = send(c, user, room, "hint me")
    hint = watcher.expect_json("chat/v1/sys/stored", lambda d: d.get("room") == room)
    assert hint["from_seq"] <= receipt["seq"] <= hint["to_seq"]
    c.quiet_until_reply(lambda t, p: t == "chat/v1/sys/stored")
    watcher.close()


def test_busy_endpoint_is_retried_after_retry_after(stack, push):
    service, _ = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pt", behaviour="busy-once")
    receipt, _ = send(c, sender, room, "try again")
    got = wait_for(lambda: len(service.pushes(recipient)) >= 2 and service.pushes(recipient), "the retried push")
    assert got[1][3] - got[0][3] >= 0.9, "retried before Retry-After"
    assert device.decrypt(got[1][2])["seq"] == receipt["seq"]
    wait_for(lambda: stack.sql("SELECT count, to_seq FROM push_log l JOIN push_subscriptions s ON s.id = l.sub_id"
                               f" JOIN users u ON u.id = s.user_id WHERE u.username = '{recipient}'")
             == [["1", str(receipt["seq"])]], "the accepted push recorded once")


def test_silent_endpoint_does_not_delay_others(stack, push):
    service, _ = push
    cs, ss, slow, dslow, room_slow = offline_pair(stack, push, "pz", behaviour="silent")
    cf, sf, fast, dfast, room_fast = offline_pair(stack, push, "pf")
    send(cs, ss, room_slow, "to the silent one")
    wait_for(lambda: service.pushes(slow), "the push to the silent endpoint")
    receipt, stored_at = send(cf, sf, room_fast, "to the quick one")
    got = wait_for(lambda: service.pushes(fast), "the other user's push", timeout=10)
    assert got[0][3] - stored_at < 2.0, f"push came {got[0][3] - stored_at:.2f}s after the receipt"


def test_burst_is_coalesced(stack, push):
    """1,000 messages to an offline user: the first push at once, then at
    most one per window, each with the count since the last; all counted."""
    service, _ = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pb")
    started = time.monotonic()
    infos = [c.client.publish(f"chat/v1/rooms/{room}/msg/{sender}",
                              json.dumps({"id": f"b{i}", "body": f"burst {i}"}), qos=1) for i in range(1000)]
    for info in infos:
        info.wait_for_publish(timeout=WAIT_S)
    c.expect_json(inbox(sender), lambda d: d.get("type") == "receipt" and d.get("id") == "b999", timeout=60)
    burst_s = time.monotonic() - started
    total = lambda: sum(device.decrypt(p[2])["count"] for p in service.pushes(recipient))
    wait_for(lambda: total() >= 1000, "pushes counting all 1,000 messages", timeout=60)
    pushes = service.pushes(recipient)
    bound = 2 + int(burst_s // WINDOW_S)
    assert total() == 1000
    assert len(pushes) <= bound, f"{len(pushes)} pushes for a {burst_s:.1f}s burst (bound {bound})"
    seqs = [device.decrypt(p[2])["seq"] for p in pushes]
    assert seqs == sorted(seqs)
    gaps = [b[3] - a[3] for a, b in zip(pushes, pushes[1:])]
    assert all(g >= WINDOW_S - 0.3 for g in gaps), gaps


def test_restart_loses_nothing_and_sends_nothing_twice(stack, push):
    service, svc = push
    c, sender, recipient, device, room = offline_pair(stack, push, "pr")
    send(c, sender, room, "before the restart")
    wait_for(lambda: service.pushes(recipient), "the first push")
    svc.stop()
    send(c, sender, room, "while push-svc is down 1")
    last, _ = send(c, sender, room, "while push-svc is down 2")
    svc.start()
    wait_for(lambda: len(service.pushes(recipient)) >= 2, "the push owed from the downtime", timeout=WAIT_S)
    # Marker: another user's push, owed after the restart.
    c2, s2, r2, d2, room2 = offline_pair(stack, push, "prm")
    send(c2, s2, room2, "marker")
    wait_for(lambda: service.pushes(r2), "the marker push")
    payloads = [device.decrypt(p[2]) for p in service.pushes(recipient)]
    assert [(p["count"], p["seq"]) for p in payloads] == [(1, last["seq"] - 2), (2, last["seq"])]
