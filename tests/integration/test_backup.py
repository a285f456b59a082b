"""Online backup and restore (issue 16 part 3, docs/ADMIN.md "Backups").

A private stack (its own state directory and ports, started by the same
scripts/stack.sh as `make up`), once with one MariaDB and once with a
3-node Galera cluster (`make up DB_NODES=3`, each node in its own network
namespace): alice chats; `stack.sh backup` (what `make backup` runs) is
taken in the middle of a burst; she chats more; the stack is stopped and
`stack.sh restore` (`make restore [DB_NODES=3] BACKUP=...`) puts the backup
back. Then the archive must be exactly the first part of what it was
(same seqs, ids, senders, bodies byte for byte, timestamps), hold everything
stored before the backup began and nothing sent after it ended, and the
services must go on numbering from it: the next message gets last_seq + 1, a
message lost by the restore and resent by its client is stored once, and a
resend of a message the backup kept gets its original seq. On Galera the
backup comes from one node (not the writer) with its cluster position, the
restore starts a new cluster from node 1 and the other two copy it (every
node then holds the same archive)."""
import json
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid

import pytest

from conftest import Client, Stack, bring_up, tear_down, wait_for

from test_galera import GALERA_OK, GaleraStack, same_on_every_node, wait_cluster

ROOM = "lobby"
TOPIC = f"chat/v1/rooms/{ROOM}/msg/alice"
INBOX = "chat/v1/users/alice/inbox"


@pytest.fixture(scope="module", params=["mariadb", "galera"])
def bstack(request):
    if shutil.which("mariadb-backup") is None:
        pytest.fail("mariadb-backup is not installed (make deps installs it)", pytrace=False)
    if request.param == "galera" and not GALERA_OK:
        pytest.skip("the Galera case needs root and galera-4 (make deps)")
    var = tempfile.mkdtemp(prefix="chat-backup-")
    os.chmod(var, 0o755)  # the broker drops to user mosquitto and must reach its dir
    st = Stack(var) if request.param == "mariadb" else GaleraStack(var, f"gb{os.getpid() % 10000}")
    bring_up(st)
    yield st
    tear_down(st)


class Sender:
    """alice on the leaf: publishes room messages and collects receipts."""

    def __init__(self, st):
        self.receipts = {}  # id -> (seq, time it arrived)
        self.lock = threading.Lock()
        self.acked = queue.Queue()
        self.client = Client(st, "alice", "leaf")
        assert self.client.rc == 0
        st.clients.append(self.client)
        self.client.client.on_subscribe = lambda c, u, mid, granted: self.acked.put(granted)
        self.client.client.on_message = self.on_message
        self.client.client.subscribe(INBOX, qos=1)
        assert self.acked.get(timeout=10) == (1,)

    def on_message(self, c, u, m):
        d = json.loads(m.payload)
        if m.topic == INBOX and d.get("type") == "receipt" and d.get("room") == ROOM:
            with self.lock:
                self.receipts.setdefault(d["id"], []).append(d["seq"])

    def send(self, mid, body, wait=True):
        info = self.client.client.publish(TOPIC, json.dumps({"id": mid, "body": body}), qos=1)
        if wait:
            info.wait_for_publish(timeout=10)

    def seqs(self, mid):
        with self.lock:
            return list(self.receipts.get(mid, []))

    def wait_receipts(self, ids, timeout=60):
        def missing():
            with self.lock:
                return [i for i in ids if i not in self.receipts]
        wait_for(lambda: not missing(), f"receipt for each of {len(ids)} messages (missing e.g. {missing()[:3]})",
                 timeout, step=0.05)

    def wait_receipt_count(self, mid, n, timeout=30):
        wait_for(lambda: len(self.seqs(mid)) >= n, f"receipt #{n} for {mid}", timeout, step=0.05)
        return self.seqs(mid)[n - 1]


def body(i):
    # Bytes a careless dump or restore would change: accents, CJK, an emoji,
    # quotes, a backslash, tabs and newlines, trailing spaces.
    return f"m{i} \u00e9t\u00e9 \u4e2d\u6587 \U0001F642 \"q\" \\ tab\there\nline2  "


def archive(st):
    """The room's archive as stored: [(seq, msg_id, sender, body hex, created_at)]."""
    rows = st.sql("SELECT m.seq, m.msg_id, u.username, HEX(m.body), m.created_at FROM messages m"
                  " JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id"
                  f" WHERE r.name = '{ROOM}' ORDER BY m.seq")
    return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def test_backup_mid_burst_restores_the_archive_and_numbering_resumes(bstack):
    st = bstack
    alice = Sender(st)
    run = uuid.uuid4().hex[:8]

    # Before: 200 messages, all stored.
    before = [f"{run}-a{i}" for i in range(200)]
    for i, mid in enumerate(before):
        alice.send(mid, body(i))
    alice.wait_receipts(before)

    # A burst that goes on while the backup runs, and for a while after it.
    burst, stop = [], threading.Event()

    def burst_loop():
        i = 0
        while not stop.is_set():
            mid = f"{run}-b{i}"
            alice.send(mid, body(1000 + i))
            burst.append(mid)
            i += 1

    sender = threading.Thread(target=burst_loop)
    sender.start()
    try:
        wait_for(lambda: len(burst) >= 100, "flowing burst", step=0.01)
        with alice.lock:
            stored_before_backup = set(alice.receipts)
        t0, n0 = time.monotonic(), len(burst)
        backup = st.script("backup", check=False)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        sent_before_end = len(burst)
        took = time.monotonic() - t0
        print(f"backup took {took:.1f} s while {sent_before_end - n0} messages were sent "
              f"({(sent_before_end - n0) / took:.0f} msg/s)")
        # Chat goes on after the backup.
        wait_for(lambda: len(burst) >= sent_before_end + 100, "burst going on after the backup", step=0.01)
    finally:
        stop.set()
        sender.join(timeout=30)
    backup_dir = backup.stdout.strip().splitlines()[-1]
    assert os.path.isdir(backup_dir), backup.stdout
    galera = isinstance(st, GaleraStack)
    if galera:
        # From the last node, not node 1 (the writer), with the cluster's position.
        assert "backing up Galera node mariadb3" in backup.stdout, backup.stdout
        assert os.path.getsize(os.path.join(backup_dir, "xtrabackup_galera_info")) > 0
    after = [f"{run}-c{i}" for i in range(100)]
    for i, mid in enumerate(after):
        alice.send(mid, body(5000 + i))
    alice.wait_receipts(before + burst + after)

    full = archive(st)
    assert [r[0] for r in full] == list(range(1, len(full) + 1))
    assert sorted(r[1] for r in full) == sorted(before + burst + after)
    sent_after_backup = set(burst[sent_before_end:] + after)

    # Restore into the stopped stack.
    for c in st.clients:
        c.close()
    st.clients.clear()
    down = st.script("down", check=False)
    assert down.returncode == 0, down.stderr
    restore = st.script("restore", backup_dir, check=False)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    up = st.script("up", check=False)
    assert up.returncode == 0, up.stdout + up.stderr + st.logs()
    if galera:
        wait_cluster(st)
        same_on_every_node(st, ROOM)

    restored = archive(st)
    k = len(restored)
    print(f"archive: {len(full)} messages; backup kept {k}: {len(before)} before the burst, "
          f"{k - len(before)} of the {sent_before_end} burst messages sent before the backup ended")
    # Byte-identical first part: same seqs, ids, senders, bodies, timestamps.
    assert restored == full[:k]
    restored_ids = {r[1] for r in restored}
    assert stored_before_backup <= restored_ids, "a message stored before the backup began is missing"
    assert not restored_ids & sent_after_backup, "the backup holds a message sent after it ended"
    assert restored_ids & set(burst), "the backup was not taken mid-burst"
    # Bodies are what alice sent, byte for byte.
    by_id = {mid: body(i) for i, mid in enumerate(before)}
    by_id.update({mid: body(1000 + i) for i, mid in enumerate(burst)})
    assert all(bytes.fromhex(r[3]).decode() == by_id[r[1]] for r in restored)

    # Numbering resumes from the restored state.
    alice = Sender(st)
    fresh = f"{run}-new"
    alice.send(fresh, "after the restore")
    assert alice.wait_receipt_count(fresh, 1) == k + 1
    # A message lost by the restore, resent by its client (no receipt kept):
    # stored once, whatever the number of resends.
    lost = after[0]
    alice.send(lost, body(5000))
    assert alice.wait_receipt_count(lost, 1) == k + 2
    alice.send(lost, body(5000))
    assert alice.wait_receipt_count(lost, 2) == k + 2
    # A resend of a message the backup kept gets its original seq.
    kept_seq, kept_id = restored[5][0], restored[5][1]
    alice.send(kept_id, by_id[kept_id])
    assert alice.wait_receipt_count(kept_id, 1) == kept_seq
    now = archive(st)
    assert [r[0] for r in now] == list(range(1, k + 3))
    assert now[:k] == restored
    assert [r[1] for r in now[k:]] == [fresh, lost]
