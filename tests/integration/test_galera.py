"""The database tier as a 3-node MariaDB Galera cluster (`make up DB_NODES=3`,
scripts/galera.sh), each node in its own network namespace joined to the
host by a bridge (conftest.Net's topology), under faults, during QoS 1
bursts into one room:

- a certification conflict: another node keeps writing the room's row while
  history-svc stores (its COMMITs abort with 1213 and must be run again);
- SIGKILL of the writer node (node 1, the first in db_hosts);
- the writer cut off in a minority partition (iptables DROP in its own
  namespace and in the others', between it and them; the host still
  reaches it), then healed;
- the writer's link taken down (a pulled cable: host and peers hear
  nothing from it), then up again;
- a rolling restart of all three nodes, one after another.

After each: every message the broker acknowledged is stored exactly once
with gapless seq, every node holds the same archive, and a new user can log
in, be added to the room and get a receipt for a message (logins and
memberships go through the cluster too). Each test prints its figures:
burst size, drain time (end of the burst to all stored), how many times
history-svc ran a batch again, and how many messages were resent to it
(delivered again and found already stored). The sender itself resends
nothing: the broker acknowledges every message whatever the database does.

The module starts its own stack (hub, leaf, services, 3 Galera nodes in
their namespaces) once, about 20-30 s, through scripts/stack.sh as `make
up DB_NODES=3` does. Needs root (namespaces; the nodes run as user mysql)
and galera-4: otherwise skipped."""
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
from conftest import wait_for

from conftest import Client, Net, Stack, bring_up, tear_down

from test_durability import SENDER, Burst, check_archive, wait_stored

BURST = int(os.environ.get("CHAT_GALERA_BURST", "20000"))
SMALL_BURST = int(os.environ.get("CHAT_GALERA_SMALL_BURST", "6000"))
NODES = (1, 2, 3)

GALERA_OK = os.geteuid() == 0 and os.path.exists("/usr/lib/galera/libgalera_smm.so")
pytestmark = pytest.mark.skipif(not GALERA_OK, reason="needs root and galera-4 (make deps)")


class GaleraStack(Stack):
    """conftest's Stack with CHAT_DB_NODES=3: the nodes in namespaces
    <pfx>db1..3 on a private /24 (scripts/galera.sh); self.net (a
    conftest.Net over them) cuts and heals their links."""

    def __init__(self, var, pfx):
        super().__init__(var)
        self.subnet = f"10.233.{random.randint(100, 250)}"
        self.env.update(CHAT_DB_NODES="3", CHAT_DB_NS=pfx, CHAT_DB_NET=self.subnet)
        self.net = Net(pfx, [f"db{n}" for n in NODES], {f"db{n}": self.addr(n) for n in NODES})

    def addr(self, node):
        return f"{self.subnet}.{10 + node}"

    def node_sql(self, node, query, timeout=30):
        out = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.var, f"db{node}/mariadb.sock"),
                              "-uroot", "-N", "-B", "chat", "-e", query],
                             capture_output=True, text=True, timeout=timeout, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def status(self, node, name):
        try:
            rows = self.node_sql(node, f"SHOW GLOBAL STATUS LIKE '{name}'", timeout=10)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return None
        return rows[0][1] if rows else None

    def sql(self, query):
        """Runs query on the first synced node."""
        for node in NODES:
            if self.status(node, "wsrep_local_state") == "4":
                return self.node_sql(node, query)
        raise AssertionError("no synced Galera node")

    def pid(self, part):
        return int(open(os.path.join(self.var, f"run/{part}.pid")).read())

    def logs(self):
        text = super().logs()
        for node in NODES:
            path = os.path.join(self.var, f"db{node}/mariadb.log")
            if os.path.exists(path):
                lines = open(path, errors="replace").readlines()
                text += f"\n===== db{node}/mariadb.log (last 40 lines) =====\n" + "".join(lines[-40:])
        return text


def wait_until(what, predicate, timeout):
    return wait_for(predicate, what, timeout, step=0.2)


def wait_cluster(st, size=3, timeout=120):
    wait_until(f"all of {NODES} synced in a cluster of {size}",
               lambda: all(st.status(n, "wsrep_local_state") == "4"
                           and st.status(n, "wsrep_cluster_size") == str(size) for n in NODES), timeout)


@pytest.fixture(scope="module")
def stack():
    """Overrides conftest's session stack in this module (its failure hook
    then attaches these logs, the Galera nodes' included)."""
    var = tempfile.mkdtemp(prefix="chat-galera-")
    os.chmod(var, 0o755)  # the brokers (user mosquitto) and nodes (user mysql) reach their dirs
    st = GaleraStack(var, f"g{os.getpid() % 100000}")
    started = time.monotonic()
    bring_up(st, "stack.sh up (DB_NODES=3)")
    print(f"\n3-node Galera stack up in {time.monotonic() - started:.1f} s")
    st.add_user(SENDER, "burster-pw-1")
    yield st
    tear_down(st)


def fresh_room(st):
    """A new room with SENDER in it, once the brokers know it: SENDER's
    probe message (seq 1) got its receipt."""
    room = "gal-" + uuid.uuid4().hex[:8]
    assert st.chatctl("room", "create", room).returncode == 0
    assert st.chatctl("member", "add", room, SENDER).returncode == 0
    probe(st, room)
    return room


def probe(st, room):
    """SENDER's message into room, published until it gets its receipt."""
    client = Client(st, SENDER, "leaf")
    try:
        client.subscribe(f"chat/v1/users/{SENDER}/inbox")
        deadline = time.monotonic() + 30
        while True:
            msg_id = "probe-" + uuid.uuid4().hex
            client.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", {"id": msg_id, "body": "probe"})
            try:
                client.expect_json(f"chat/v1/users/{SENDER}/inbox",
                                   lambda d: d.get("type") == "receipt" and d.get("id") == msg_id, timeout=3)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
    finally:
        client.close()


def local_commits(st):
    return {n: int(st.status(n, "wsrep_local_commits") or 0) for n in NODES}


def writing_nodes(st):
    """The nodes that committed transactions of their own (Galera's
    wsrep_local_commits; a node only applies the others') while history-svc
    stored one message, in a room of its own."""
    if not getattr(st, "probe_room", None):
        st.probe_room = fresh_room(st)
    before = local_commits(st)
    probe(st, st.probe_room)
    after = local_commits(st)
    return {n for n in NODES if after[n] > before[n]}


def wait_writes_through_node_1(st, timeout=90):
    """Waits until every write goes through node 1 (the top of db_hosts);
    returns the seconds it took."""
    started = time.monotonic()
    wait_until("every write through node 1", lambda: writing_nodes(st) == {1}, timeout)
    return time.monotonic() - started


class HistoryLog:
    """What history-svc logged from now on."""

    def __init__(self, st):
        self.path = os.path.join(st.var, "log/history-svc.log")
        self.offset = os.path.getsize(self.path)

    def text(self):
        with open(self.path, errors="replace") as f:
            f.seek(self.offset)
            return f.read()

    def figures(self, room):
        text = self.text()
        return {"batches run again": len(re.findall(r"storing a batch of \d+ (?:was aborted|lost its server|failed)", text)),
                "aborted by a conflict": len(re.findall(r"was aborted by the server", text)),
                "found already stored": text.count(f"debug: duplicate {room}/"),
                "writing through": sorted(set(re.findall(r"writing through MariaDB (\S+)", text)))}


def burst_until_stored(st, burst, fault, count, log):
    """Sends count messages with fault() run a third of the way in; returns
    (drain seconds, figures) once every acknowledged message is stored."""
    burst.send(count // 3)
    fault()
    burst.send(count)
    burst.finish(timeout=240)
    sent_at = time.monotonic()
    stored = wait_stored(st, burst.room, count + 1, timeout=300) - 1  # fresh_room's probe is seq 1
    drain = time.monotonic() - sent_at
    assert stored == count, f"{stored} of {count} acknowledged messages stored"
    check_archive(st, burst.room, burst)
    return drain, log.figures(burst.room)


def same_on_every_node(st, room):
    query = (f"SELECT COUNT(*), COALESCE(SUM(m.seq), 0), COALESCE(MAX(m.seq), 0), "
             f"COALESCE(SUM(CRC32(CONCAT(m.seq, m.msg_id, m.body))), 0) "
             f"FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'")
    seen = {}

    def agree():
        seen.clear()
        for n in NODES:
            seen[n] = tuple(st.node_sql(n, query)[0])
        return len(set(seen.values())) == 1
    wait_until(f"the same archive of {room} on every node ({seen})", agree, 60)


def logins_and_memberships_work(st, room):
    """A user created now logs in, joins room and gets a receipt."""
    name = "g" + uuid.uuid4().hex[:8]
    password = "pw-" + uuid.uuid4().hex
    r = st.chatctl("user", "add", name, "--iterations", "1000", stdin=password + "\n")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(st.var, "secrets", f"user-{name}"), "w") as f:
        f.write(password)
    assert st.chatctl("member", "add", room, name).returncode == 0
    client = None

    def logged_in():
        nonlocal client
        c = Client(st, name, "leaf")
        if c.rc == 0:
            client = c
            return True
        return False
    wait_until(f"{name} can log in", logged_in, 30)
    st.clients.append(client)
    client.subscribe(f"chat/v1/users/{name}/inbox")
    msg_id = uuid.uuid4().hex
    deadline = time.monotonic() + 30
    while True:  # the membership reaches the plugin within its refresh interval
        client.publish(f"chat/v1/rooms/{room}/msg/{name}", {"id": msg_id, "body": "after the fault"})
        try:
            receipt = client.expect_json(f"chat/v1/users/{name}/inbox",
                                         lambda d: d.get("type") == "receipt" and d.get("id") == msg_id, timeout=5)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    rows = st.sql(f"SELECT MAX(m.seq) FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'")
    assert receipt["seq"] == int(rows[0][0]), "the new message takes the next seq"


def report(name, count, drain, figures):
    print(f"\n{name}: {count} messages, drain {drain:.1f} s after the burst, {figures}")


def test_each_node_in_its_own_network_namespace(stack):
    """What `make up DB_NODES=3` builds: node i runs in namespace <pfx>db<i>
    with its own address, which the host does not have; every component is
    given those addresses (db_hosts) and reaches them over the bridge."""
    st = stack
    wait_cluster(st)
    own = os.readlink("/proc/self/ns/net")
    spaces = {}
    for n in NODES:
        pid = st.pid(f"mariadb{n}")
        spaces[n] = os.readlink(f"/proc/{pid}/ns/net")
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/var/run/netns/{st.net.ns(f'db{n}')}").st_ino, \
            f"mariadb{n} is not in namespace {st.net.ns(f'db{n}')}"
        addrs = subprocess.run(st.net.exec(f"db{n}", "ip", "-4", "-o", "addr", "show"),
                               capture_output=True, text=True, check=True).stdout
        assert f"{st.addr(n)}/24" in addrs, addrs
    assert len(set(spaces.values())) == 3 and own not in spaces.values(), spaces
    host = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    assert not any(f" {st.addr(n)}/" in host for n in NODES), "a node's address is on the host"
    with open(os.path.join(st.var, "conf/db.conf")) as f:
        conf = f.read()
    assert f"db_hosts = {st.addr(1)}:3306,{st.addr(2)}:3306,{st.addr(3)}:3306" in conf, conf
    # The services and the brokers' plugins are connected to node 1 (the
    # writer) over the bridge, from the host's address there.
    clients = st.node_sql(1, "SELECT host FROM information_schema.processlist WHERE user = 'chat'")
    assert clients and all(h.startswith(f"{st.subnet}.1:") for h, in clients), clients
    status = st.script("status", check=False).stdout
    assert all(f"mariadb{n}" in status for n in NODES), status


def test_certification_conflicts_are_retried(stack):
    """For a few seconds mid-burst node 2 rewrites the room's row as fast as
    it can (visibility flipped and back in one transaction: nothing a user
    sees changes) while history-svc stores through node 1: its transactions
    on that row are aborted by certification, over and over. Not one
    acknowledged message may be refused or lost for it."""
    st = stack
    wait_cluster(st)
    room = fresh_room(st)
    log = HistoryLog(st)
    storm = {}

    def conflict_storm():
        one = (f"BEGIN; UPDATE rooms SET visibility = 'private' WHERE name = '{room}'; "
               f"UPDATE rooms SET visibility = 'public' WHERE name = '{room}'; COMMIT;\n")
        started = time.monotonic()
        subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(st.var, "db2/mariadb.sock"),
                        "-uroot", "--force", "chat"], input=one * 1500, capture_output=True, text=True, timeout=120)
        storm["seconds"] = round(time.monotonic() - started, 1)
    burst = Burst(st, "leaf", room, SMALL_BURST)
    storm_thread = threading.Thread(target=conflict_storm, daemon=True)
    try:
        drain, figures = burst_until_stored(st, burst, storm_thread.start, SMALL_BURST, log)
    finally:
        if storm_thread.is_alive():
            storm_thread.join(timeout=120)
    report("certification conflicts", SMALL_BURST, drain,
           dict(figures, **{"node-2 transactions": 1500, "storm seconds": storm.get("seconds")}))
    assert figures["aborted by a conflict"] > 0, "the storm meant to cause certification conflicts caused none"
    assert "unavailable" not in log.text(), "a message was refused because of a conflict"
    same_on_every_node(st, room)
    logins_and_memberships_work(st, room)


def test_sigkill_of_the_writer_node_mid_burst(stack):
    st = stack
    wait_cluster(st)
    room = fresh_room(st)
    log = HistoryLog(st)
    burst = Burst(st, "leaf", room, BURST)
    drain, figures = burst_until_stored(st, burst, lambda: os.kill(st.pid("mariadb1"), signal.SIGKILL), BURST, log)
    report("SIGKILL of the writer (node 1)", BURST, drain, figures)
    assert any(w.startswith(st.addr(2)) or w.startswith(st.addr(3)) for w in figures["writing through"]), \
        "history-svc must have moved to another node"
    logins_and_memberships_work(st, room)
    started = time.monotonic()
    r = st.script("db-start", "1", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_cluster(st)
    print(f"node 1 rejoined in {time.monotonic() - started:.1f} s")
    same_on_every_node(st, room)


def test_writes_fail_back_to_node_1_once_it_is_synced(stack):
    """After the SIGKILL test node 1 is back, while every component wrote
    through node 2: within the failback interval (db_failback_s, 30 s) of
    their move, each goes back up its db_hosts list at its next statement
    outside a transaction, so node 1 is again the one writer."""
    st = stack
    wait_cluster(st)
    print(f"failback: every write through node 1 {wait_writes_through_node_1(st):.1f} s after node 1 was synced")


def cut_off(st, node, add):
    """Drops every packet between node and the other nodes, in each one's
    own namespace (the host still reaches node)."""
    for other in NODES:
        if other != node:
            (st.net.partition if add else st.net.heal)(f"db{node}", f"db{other}")


@pytest.mark.skipif(not shutil.which("iptables"), reason="needs iptables")
def test_writer_cut_off_in_a_minority_partition_then_healed(stack):
    """The writer (node 1) loses the other two: its COMMITs wait, then fail
    once it knows it is a minority (non-Primary); history-svc moves to the
    majority."""
    st = stack
    wait_cluster(st)
    room = fresh_room(st)
    wait_writes_through_node_1(st)
    writer = 1
    log = HistoryLog(st)
    burst = Burst(st, "leaf", room, SMALL_BURST)
    try:
        drain, figures = burst_until_stored(st, burst, lambda: cut_off(st, writer, True), SMALL_BURST, log)
        # Alone, the node is no primary component: it refuses service.
        wait_until(f"node {writer} non-primary", lambda: st.status(writer, "wsrep_cluster_status") == "non-Primary", 60)
        report(f"writer (node {writer}) cut off in a minority", SMALL_BURST, drain, figures)
        moved = writing_nodes(st)
        assert moved and writer not in moved, f"history-svc must have moved to the majority (writes through {moved})"
        logins_and_memberships_work(st, room)
    finally:
        cut_off(st, writer, False)
    started = time.monotonic()
    wait_cluster(st)
    print(f"healed: node {writer} synced again {time.monotonic() - started:.1f} s after the cut was removed")
    same_on_every_node(st, room)


def test_writers_link_down_mid_burst_then_up(stack):
    """The writer's (node 1's, once everything failed back after the
    partition) link goes down (a pulled cable): history-svc's
    statement in flight hears nothing until its read timeout (db_timeout_s,
    10 s), then it connects again from the top of db_hosts, waiting out
    the dead node's connect timeout, and writes through the next one. The
    node, alone, goes non-Primary; back up, it rejoins by itself."""
    st = stack
    wait_cluster(st)
    room = fresh_room(st)
    wait_writes_through_node_1(st)
    writer = 1
    log = HistoryLog(st)
    burst = Burst(st, "leaf", room, SMALL_BURST)
    try:
        drain, figures = burst_until_stored(st, burst, lambda: st.net.link(f"db{writer}", False), SMALL_BURST, log)
        report(f"writer (node {writer}) link down", SMALL_BURST, drain, figures)
        moved = writing_nodes(st)
        assert moved and writer not in moved, f"history-svc must have moved to another node (writes through {moved})"
        logins_and_memberships_work(st, room)
    finally:
        st.net.link(f"db{writer}", True)
    started = time.monotonic()
    wait_cluster(st)
    print(f"link up: node {writer} synced again in {time.monotonic() - started:.1f} s")
    same_on_every_node(st, room)


def test_rolling_restart_of_all_three_nodes(stack):
    st = stack
    wait_cluster(st)
    room = fresh_room(st)
    log = HistoryLog(st)
    burst = Burst(st, "leaf", room, BURST)
    times = []

    def restart_all():
        for node in NODES:
            started = time.monotonic()
            for step in ("db-stop", "db-start"):
                r = st.script(step, str(node), check=False)
                assert r.returncode == 0, r.stdout + r.stderr
            wait_cluster(st)
            times.append(round(time.monotonic() - started, 1))
            burst.send(min(burst.sent + BURST // 6, BURST))
    drain, figures = burst_until_stored(st, burst, restart_all, BURST, log)
    report("rolling restart 1, 2, 3", BURST, drain, dict(figures, **{"restart seconds per node": times}))
    same_on_every_node(st, room)
    logins_and_memberships_work(st, room)
