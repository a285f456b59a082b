#!/usr/bin/python3
"""Message events (issue 13) against plain messages, in one run on one
private stack (scripts/stack.sh, free loopback ports):

1. Storage rate: history-svc is stopped, N QoS 1 payloads are queued for it
   on the hub, and it is started again; the rate is N / (last commit -
   start), from the rows' created_at (as galera_storage.py measures it).
   "plain": N messages. "30% events": the same N payloads of which 30% are
   events on earlier messages of the run (2/3 reactions, 1/3 edits). RUNS
   rounds of one run each, back to back; the median of the rounds' ratios
   reported (and the ratio of the medians).
2. History page: the latency of a 50-entry `history` request (scrollback,
   the newest page) on a room of plain messages, and on one whose messages
   each carry 3 reactions (2 kinds), a mention and a thread reply count
   (rows written with SQL: the fold is measured, not the intake). REQS
   requests each, alternating; p50 and p99 and the p50 ratio reported.

    CHAT_BUILD=build /usr/bin/python3 tests/bench/events_bench.py [N] [RUNS] [REQS]

N = 0 measures the history pages only.
"""
import json
import os
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CHAT_BUILD", os.path.join(ROOT, "build"))
SENDER = "ebench"
OTHERS = ("ebench2", "ebench3")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


class Stack:
    def __init__(self):
        self.var = tempfile.mkdtemp(prefix="chat-ebench-")
        os.chmod(self.var, 0o755)
        self.hub = free_port()
        self.env = dict(os.environ, CHAT_VAR=self.var, CHAT_BUILD=BUILD, CHAT_DB_PORT=str(free_port()),
                        CHAT_HUB_PORT=str(self.hub), CHAT_LEAF_PORT=str(free_port()), CHAT_LOG_LEVEL="info",
                        CHAT_HUB_WS_PORT=str(free_port()), CHAT_LEAF_WS_PORT=str(free_port()),
                        # Pages are asked back to back, far above the plugin's default
                        # request limit (50/s, burst 300): raised as bench.py does.
                        CHAT_PLUGIN_OPTS="request_rate 1000000;request_burst 1000000;"
                                         "send_rate 1000000;send_burst 1000000")
        self.socket = os.path.join(self.var, "db/mariadb.sock")
        self.password = "pw-" + uuid.uuid4().hex

    def script(self, *args):
        r = subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), *args], env=self.env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")

    def sql(self, query):
        return subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B", "chat",
                               "-e", query], capture_output=True, text=True, timeout=120, check=True).stdout.strip()

    def chatctl(self, *args, stdin=None):
        subprocess.run([os.path.join(BUILD, "chatctl"), "-c", os.path.join(self.var, "conf/db.conf"), *args],
                       input=stdin, capture_output=True, text=True, timeout=60, check=True)

    def client(self):
        """A connected client of SENDER; retried while the hub's plugin has
        not yet loaded the user (its snapshot refreshes every second)."""
        deadline = time.monotonic() + 30
        while True:
            c = mqtt.Client(client_id=f"ebench-{uuid.uuid4().hex[:8]}", clean_session=True)
            c.username_pw_set(SENDER, self.password)
            c.max_inflight_messages_set(200)
            c.max_queued_messages_set(0)
            connected = queue.Queue()
            c.on_connect = lambda cl, ud, flags, rc: connected.put(rc)
            c.on_disconnect = lambda cl, ud, rc: connected.put(-1)
            c.connect("127.0.0.1", self.hub, keepalive=60)
            c.loop_start()
            rc = connected.get(timeout=30)
            if rc == 0:
                c.on_disconnect = None
                return c
            c.loop_stop()
            c.disconnect()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{SENDER}: login refused ({rc})")
            time.sleep(0.2)

    def up(self):
        self.script("up")
        for user in (SENDER,) + OTHERS:
            self.chatctl("user", "add", user, "--iterations", "1000", stdin=self.password + "\n")

    def room(self):
        """A new room, once the hub's plugin lets SENDER publish into it."""
        room = "eb-" + uuid.uuid4().hex[:8]
        self.chatctl("room", "create", room)
        for user in (SENDER,) + OTHERS:
            self.chatctl("member", "add", room, user)
        count = f"SELECT COUNT(*) FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'"
        c = self.client()
        try:
            for _ in range(15):  # a publish before the plugin knows the membership is dropped
                c.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", json.dumps({"id": uuid.uuid4().hex, "body": "probe"}),
                          qos=1).wait_for_publish(timeout=10)
                try:
                    wait_until("the probe stored", lambda: self.sql(count) != "0", 2)
                    break
                except RuntimeError:
                    continue
            else:
                raise RuntimeError("no probe message was stored within 15 tries")
        finally:
            c.disconnect()
            c.loop_stop()
        return room, count

    def storage_run(self, n, events):
        """Stored payloads per second for n payloads, 30% events when events."""
        room, count = self.room()
        base = int(self.sql(count))  # the room's last seq: every payload below is stored
        rng = random.Random(n)
        payloads, plain_seqs = [], []
        body = "x" * 100
        for i in range(n):
            seq = base + i + 1
            if events and plain_seqs and rng.random() < 0.3:
                ref = rng.choice(plain_seqs[-200:])
                if rng.random() < 2 / 3:
                    p = {"id": f"e{i:06d}", "kind": "react", "ref": ref, "reaction": rng.choice(["+1", "ok", "lol"])}
                else:
                    p = {"id": f"e{i:06d}", "kind": "edit", "ref": ref, "text": body + " edited"}
            else:
                p = {"id": f"s{i:06d}", "body": body}
                plain_seqs.append(seq)
            payloads.append(json.dumps(p))
        pid = int(open(os.path.join(self.var, "run/history-svc.pid")).read())
        os.kill(pid, signal.SIGTERM)
        wait_until("history-svc stopped", lambda: not os.path.exists(f"/proc/{pid}"), 30)
        c = self.client()
        last = None
        for i, p in enumerate(payloads):
            last = c.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", p, qos=1)
            if i % 500 == 499:
                last.wait_for_publish(timeout=60)
        last.wait_for_publish(timeout=60)
        c.disconnect()
        c.loop_stop()
        t_db = self.sql("SELECT NOW(3)")
        self.script("up")  # starts history-svc again
        wait_until(f"{n} stored", lambda: int(self.sql(count)) >= base + n, 600)
        span_us = int(self.sql(f"SELECT TIMESTAMPDIFF(MICROSECOND, '{t_db}', MAX(m.created_at)) FROM messages m "
                               f"JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'"))
        return n / (max(span_us, 1) / 1e6)

    def history_rooms(self, size):
        """Two rooms of size messages: plain, and folded (3 reactions of 2
        kinds, a mention and 2 thread replies counted on each message)."""
        rooms = []
        for folded in (False, True):
            room, _ = self.room()
            rid = self.sql(f"SELECT id FROM rooms WHERE name = '{room}'")
            uid = {u: self.sql(f"SELECT id FROM users WHERE username = '{u}'") for u in (SENDER,) + OTHERS}
            self.sql(f"INSERT INTO messages (room_id, seq, msg_id, sender_id, body, reply_count, last_reply_at)"
                     f" SELECT {rid}, seq + 1, CONCAT('h', seq), {uid[SENDER]}, REPEAT('y', 100),"
                     f" {2 if folded else 0}, {'NOW(3)' if folded else 'NULL'}"
                     f" FROM seq_1_to_{size}")
            self.sql(f"UPDATE rooms SET last_seq = {size + 1} WHERE id = {rid}")
            if folded:
                for user, reaction in ((SENDER, "+1"), (OTHERS[0], "+1"), (OTHERS[1], "ok")):
                    self.sql(f"INSERT INTO reactions (room_id, seq, reaction, user_id)"
                             f" SELECT {rid}, seq + 1, '{reaction}', {uid[user]} FROM seq_1_to_{size}")
                self.sql(f"INSERT INTO mentions (user_id, room_id, seq)"
                         f" SELECT {uid[OTHERS[0]]}, {rid}, seq + 1 FROM seq_1_to_{size}")
            rooms.append(room)
        return rooms

    def history_latency(self, rooms, reqs):
        """Per room, the round-trip times (ms) of reqs newest-page requests."""
        replies = queue.Queue()
        c = self.client()
        subacked = queue.Queue()
        c.on_message = lambda cl, ud, m: replies.put((time.perf_counter(), json.loads(m.payload)))
        c.on_subscribe = lambda cl, ud, mid, qos: subacked.put(mid)
        # QoS 0 both ways: no PUBACK in flight for Nagle to hold a reply behind
        # (the brokers leave TCP_NODELAY off), as bench.py's history scenario.
        c.subscribe(f"chat/v1/users/{SENDER}/inbox", qos=0)
        subacked.get(timeout=30)
        times = {room: [] for room in rooms}
        try:
            for i in range(reqs + 10):
                for room in rooms:
                    rid = uuid.uuid4().hex[:12]
                    t0 = time.perf_counter()
                    c.publish(f"chat/v1/users/{SENDER}/req/history",
                              json.dumps({"op": "history", "req_id": rid, "room": room, "limit": 50}), qos=0)
                    while True:
                        t1, reply = replies.get(timeout=30)
                        if reply.get("req_id") == rid:
                            break
                    assert reply["ok"] and len(reply["messages"]) == 50, reply
                    if i >= 10:  # warm-up
                        times[room].append((t1 - t0) * 1000)
        finally:
            c.disconnect()
            c.loop_stop()
        return times

    def down(self):
        try:
            self.script("down")
        finally:
            shutil.rmtree(self.var, ignore_errors=True)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    reqs = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    st = Stack()
    try:
        st.up()
        rates = {"plain": [], "30% events": []}
        for _ in range(runs if n else 0):
            rates["plain"].append(st.storage_run(n, False))
            rates["30% events"].append(st.storage_run(n, True))
        for name, values in rates.items() if n else ():
            print(f"storage, {name}: {n} payloads per run, stored/s per run {[round(r) for r in values]},"
                  f" median {statistics.median(values):,.0f}", flush=True)
        if n:
            # Each round runs plain then events back to back: the median of
            # the rounds' ratios cancels this shared machine's slow drift.
            rounds = [e / p for p, e in zip(rates["plain"], rates["30% events"])]
            print(f"storage ratio, 30% events / plain: per round {[round(r, 2) for r in rounds]},"
                  f" median {statistics.median(rounds):.2f}; of the medians"
                  f" {statistics.median(rates['30% events']) / statistics.median(rates['plain']):.2f}", flush=True)
        plain, folded = st.history_rooms(10000)
        times = st.history_latency([plain, folded], reqs)
        for name, room in (("plain", plain), ("folded", folded)):
            print(f"history page (50 entries), {name}: p50 {pct(times[room], 50):.2f} ms,"
                  f" p99 {pct(times[room], 99):.2f} ms ({len(times[room])} requests)", flush=True)
        print(f"history p50 ratio, folded / plain: {pct(times[folded], 50) / pct(times[plain], 50):.2f}")
    finally:
        st.down()


if __name__ == "__main__":
    main()
