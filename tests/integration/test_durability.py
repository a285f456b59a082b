"""history-svc keeps every acknowledged message, exactly once, in order,
when it is killed mid-burst or MariaDB restarts mid-burst."""
import os
import re
import signal
import threading
import uuid

import paho.mqtt.client as mqtt

from conftest import BUILD, WAIT_S, free_port, start_process, wait_for, wait_until
from conftest import fresh_room as new_room

BURST = int(os.environ.get("CHAT_BURST", "20000"))

# Bursts send tens of thousands of receipts to the sender's inbox; a user of
# their own keeps that backlog away from other tests' users.
SENDER = "burster"


def ensure_sender(stack):
    if not os.path.exists(os.path.join(stack.var, "secrets", f"user-{SENDER}")):
        stack.add_user(SENDER, "burster-pw-1")


def fresh_room(stack, *members):
    ensure_sender(stack)
    return new_room(stack, *members, prefix="dur-")


class Burst:
    """Publishes QoS 1 messages b000000, b000001, ... as SENDER into room and
    records which ones the broker acknowledged (PUBACK). Acks are kept by
    mid and matched to message ids afterwards: a PUBACK may arrive before
    publish() has returned its mid."""

    def __init__(self, stack, node, room, count):
        self.room, self.count, self.sent = room, count, 0
        self.ids, self.acked_mids = {}, set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id=f"burst-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.client.username_pw_set(SENDER, stack.password(SENDER))
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self.on_publish
        self.client.connect("127.0.0.1", stack.port(node), keepalive=60)
        self.client.loop_start()

    def on_publish(self, client, userdata, mid):
        with self.lock:
            self.acked_mids.add(mid)

    @property
    def acked(self):
        """The ids of the messages the broker acknowledged."""
        with self.lock:
            return {self.ids[mid] for mid in self.acked_mids if mid in self.ids}

    def send(self, upto):
        topic = f"chat/v1/rooms/{self.room}/msg/{SENDER}"
        while self.sent < upto:
            msg_id = f"b{self.sent:06d}"
            info = self.client.publish(topic, f'{{"id":"{msg_id}","body":"burst {self.sent}"}}', qos=1)
            with self.lock:
                self.ids[info.mid] = msg_id
            self.sent += 1
            if self.sent % 500 == 0:
                info.wait_for_publish(timeout=120)

    def finish(self, timeout=240):
        wait_for(lambda: len(self.acked) >= self.sent, f"PUBACKs for all {self.sent} messages", timeout, step=0.2)
        self.client.disconnect()
        self.client.loop_stop()


def wait_stored(stack, room, want, timeout=300):
    count = lambda: int(stack.sql(f"SELECT COUNT(*) FROM messages m JOIN rooms r ON r.id = m.room_id "
                                  f"WHERE r.name = '{room}'")[0][0])
    wait_until(lambda: count() >= want, timeout, step=1.0)
    return count()


def check_archive(stack, room, burst):
    rows = stack.sql(f"SELECT m.seq, m.msg_id FROM messages m JOIN rooms r ON r.id = m.room_id "
                     f"WHERE r.name = '{room}' ORDER BY m.seq")
    seqs = [int(s) for s, _ in rows]
    ids = [i for _, i in rows]
    assert seqs == list(range(1, len(rows) + 1)), "seq must be 1..N with no gap"
    assert len(ids) == len(set(ids)), "no message may be stored twice"
    missing = burst.acked - set(ids)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"


def history_pid(stack):
    return int(open(os.path.join(stack.var, "run/history-svc.pid")).read())


def wait_dead(pid):
    """Waits until process pid has exited (a killed child of stack.sh is
    reaped by init: kill -0 fails once it is gone, zombie state aside)."""
    def gone():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except OSError:
            return True
    assert wait_until(gone), f"process {pid} did not exit"


def test_sigkill_of_history_svc_mid_burst_loses_nothing(stack):
    room = fresh_room(stack, SENDER)
    burst = Burst(stack, "leaf", room, BURST)
    burst.send(BURST // 4)
    os.kill(history_pid(stack), signal.SIGKILL)
    burst.send(BURST // 2)
    up = stack.script("up", check=False)        # restarts what is down
    assert up.returncode == 0, up.stderr
    burst.send(3 * BURST // 4)
    pid = history_pid(stack)
    os.kill(pid, signal.SIGKILL)  # and once more, at full speed
    wait_dead(pid)
    assert stack.script("up", check=False).returncode == 0
    burst.send(BURST)
    burst.finish()
    assert len(burst.acked) == BURST
    stored = wait_stored(stack, room, len(burst.acked))
    assert stored == len(burst.acked)
    check_archive(stack, room, burst)


def test_mariadb_restart_mid_burst_loses_nothing(stack):
    room = fresh_room(stack, SENDER)
    count = BURST // 4
    burst = Burst(stack, "hub", room, count)
    burst.send(count // 3)
    pid = int(open(os.path.join(stack.var, "run/mariadb.pid")).read())
    os.kill(pid, signal.SIGKILL)
    burst.send(2 * count // 3)
    wait_dead(pid)
    assert stack.script("up", check=False).returncode == 0
    burst.send(count)
    burst.finish()
    assert len(burst.acked) == count
    assert wait_stored(stack, room, count) == count
    check_archive(stack, room, burst)


def test_retention_trims_old_messages_in_the_background(stack):
    room = fresh_room(stack, SENDER)
    alice = stack.client("alice", "hub")
    stack.chatctl("member", "add", room, "alice")
    stack.sync_auth()
    alice.subscribe("chat/v1/users/alice/inbox")
    for i in range(10):
        m = {"id": uuid.uuid4().hex, "body": f"old {i}"}
        alice.publish(f"chat/v1/rooms/{room}/msg/alice", m)
        alice.expect_json("chat/v1/users/alice/inbox", lambda d, m=m: d.get("type") == "receipt" and d["id"] == m["id"])
    assert stack.chatctl("room", "retention", room, "3", "none").returncode == 0
    seqs = lambda: [int(r[0]) for r in stack.sql(f"SELECT m.seq FROM messages m JOIN rooms r ON r.id = m.room_id "
                                                 f"WHERE r.name = '{room}' ORDER BY m.seq")]
    wait_until(lambda: len(seqs()) == 3, step=0.5)
    assert seqs() == [8, 9, 10]
    # Traffic goes on, seq goes on (never reused), the limit keeps holding.
    m = {"id": uuid.uuid4().hex, "body": "new"}
    alice.publish(f"chat/v1/rooms/{room}/msg/alice", m)
    assert alice.expect_json("chat/v1/users/alice/inbox", lambda d: d.get("type") == "receipt" and d["id"] == m["id"])["seq"] == 11
    assert stack.chatctl("room", "retention", room, "1000", "x").returncode == 2


def test_two_history_instances_keep_seq_gapless_per_room(stack):
    rooms = [fresh_room(stack, SENDER) for _ in range(10)]
    # A second instance: same archive, its own client id and persistence.
    conf = open(os.path.join(stack.var, "conf/history-svc.conf")).read()
    conf = conf.replace("mqtt_client_id = history-svc", "mqtt_client_id = history-svc-2")
    conf = conf.replace("history-svc.persist", "history-svc-2.persist")
    # Its metrics on a port of its own (the first instance holds the stack's).
    conf = re.sub(r"(?m)^metrics_port = .*$", f"metrics_port = {free_port()}", conf)
    path = os.path.join(stack.var, "conf/history-svc-2.conf")
    with open(path, "w") as f:
        f.write(conf)
    log_path = os.path.join(stack.var, "log/history-svc-2.log")
    log = open(log_path, "w")
    second = start_process([os.path.join(BUILD, "history-svc"), "-c", path], stdout=log, stderr=log)
    try:
        # Subscribed once it takes a probe message (in a room of its own, so
        # the counts below stay the test's): the same message, stored once,
        # goes again until the second instance logs it, stored or duplicate.
        probe_room = fresh_room(stack, SENDER)
        prober = mqtt.Client(client_id=f"probe-{uuid.uuid4().hex[:6]}", clean_session=True)
        prober.username_pw_set(SENDER, stack.password(SENDER))
        prober.connect("127.0.0.1", stack.port("hub"), keepalive=60)
        prober.loop_start()

        def second_took_probe():
            prober.publish(f"chat/v1/rooms/{probe_room}/msg/{SENDER}", '{"id":"probe","body":"probe"}',
                           qos=1).wait_for_publish(timeout=WAIT_S)
            return f" {probe_room}" in open(log_path, errors="replace").read()
        try:
            assert wait_until(second_took_probe, step=1.0), "the second history-svc did not subscribe"
        finally:
            prober.disconnect()
            prober.loop_stop()
        total = int(os.environ.get("CHAT_TWO_INSTANCE_MESSAGES", "10000"))
        client = mqtt.Client(client_id=f"two-{uuid.uuid4().hex[:6]}", clean_session=True)
        client.username_pw_set(SENDER, stack.password(SENDER))
        client.max_inflight_messages_set(200)
        client.connect("127.0.0.1", stack.port("leaf"), keepalive=60)
        client.loop_start()
        last = None
        for i in range(total):
            room = rooms[i % 10]
            last = client.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", f'{{"id":"t{i:06d}","body":"two {i}"}}', qos=1)
            if i % 500 == 499:
                last.wait_for_publish(timeout=120)
        last.wait_for_publish(timeout=120)
        client.disconnect()
        client.loop_stop()
        per_room = total // 10
        for room in rooms:
            assert wait_stored(stack, room, per_room) == per_room
            rows = stack.sql(f"SELECT m.seq, m.msg_id FROM messages m JOIN rooms r ON r.id = m.room_id "
                             f"WHERE r.name = '{room}' ORDER BY m.seq")
            assert [int(s) for s, _ in rows] == list(range(1, per_room + 1))
            assert len({i for _, i in rows}) == per_room
        # Both instances really took every message: between them each one
        # was stored exactly once, and each instance stored it or found it
        # stored by the other.
        logs = [open(os.path.join(stack.var, f"log/{name}.log")).read().splitlines()
                for name in ("history-svc", "history-svc-2")]
        stored = [sum(1 for line in lines for room in rooms if f"debug: stored {room} seq" in line) for lines in logs]
        dups = [sum(1 for line in lines for room in rooms if f"debug: duplicate {room}/" in line) for lines in logs]
        assert sum(stored) == total, (stored, dups)
        for i in range(2):
            assert stored[i] + dups[i] >= total, (stored, dups)
    finally:
        second.terminate()
        second.wait(timeout=WAIT_S)
        log.close()
