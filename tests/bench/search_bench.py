#!/usr/bin/python3
"""search_bench.py: the search op's latency and what its full-text index
costs storage (docs/BENCHMARKS.md "Search"), in one private stack
(scripts/stack.sh, free loopback ports; every process stopped at the end).

1. Store rate with and without migration 0007's indexes (FULLTEXT, created_at): N QoS 1
   messages of 8-12 words queued for a stopped history-svc, which is then
   started; rate = N / (last commit - start), as galera_storage.py
   measures it. Runs alternate with and without the index (dropped and
   added again between runs); medians and the ratio are printed.
2. Search latency, MQTT request to reply through the hub and history-svc,
   as a user sees it: a room of BIG rows searched with "room", and ROOMS
   rooms of PER_ROOM rows searched across all of them, each for a rare word
   (10 messages in the whole data) and a common one (1 message in 10). The
   rows are written with bulk INSERT ... SELECT from MariaDB's sequence
   tables, the index built once afterwards. Then ANALYZE of the SQL shows
   where the time goes for the common word.

    CHAT_BUILD=build /usr/bin/python3 tests/bench/search_bench.py \
        [--big 10000000] [--rooms 1000] [--per-room 10000] [--store-n 20000] [--runs 3]
"""
import argparse
import json
import os
import queue
import signal
import socket
import statistics
import sys
import time
import uuid

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from galera_storage import SENDER, Tier, free_port, wait_until  # noqa: E402
import subprocess  # noqa: E402

T0 = time.monotonic()
RARE, COMMON = "zyxrare", "common"
VOCAB = 2000  # synthetic words wd0..wd1999 (3-6 characters, all indexed)


class SearchTier(Tier):
    """galera_storage's single-MariaDB stack, with room for statements that
    run for minutes (bulk fills, building the index), on free WebSockets
    ports too."""

    def __init__(self, galera):
        super().__init__(galera)
        self.env.update(CHAT_HUB_WS_PORT=str(free_port()), CHAT_LEAF_WS_PORT=str(free_port()))

    def sql(self, query):
        return subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B", "chat",
                               "-e", query], capture_output=True, text=True, timeout=4 * 3600, check=True).stdout.strip()

    def client(self):
        """Tier's client, returned once the CONNACK accepted it (a publish
        before that fails in paho); retried while the plugin does not know
        the user just added yet."""
        deadline = time.monotonic() + 60
        while True:
            connected = queue.Queue()
            c = mqtt.Client(client_id=f"sbench-{uuid.uuid4().hex[:8]}", clean_session=True)
            c.username_pw_set(SENDER, self.password)
            c.max_inflight_messages_set(200)
            c.max_queued_messages_set(0)
            c.on_connect = lambda cl, u, f, rc: connected.put(rc)
            c.connect("127.0.0.1", self.hub, keepalive=60)
            c.loop_start()
            try:
                if connected.get(timeout=30) == 0:
                    return c
            except queue.Empty:
                pass
            c.loop_stop()
            c.disconnect()
            if time.monotonic() > deadline:
                raise RuntimeError("the bench sender was refused for 60 s")
            time.sleep(0.5)


def log(msg):
    print(f"search_bench [{time.monotonic() - T0:6.0f}s] {msg}", file=sys.stderr, flush=True)


def words(i, n):
    """n pseudo-random words of the vocabulary for message i."""
    return " ".join(f"wd{(i * 7919 + k * 104729) % VOCAB}" for k in range(n))


def add_index(tier):
    """Migration 0007's indexes."""
    tier.sql("SET SESSION innodb_ft_enable_stopword = 0; "
             "ALTER TABLE messages ADD FULLTEXT INDEX messages_body_ft (body), ADD KEY messages_created (created_at)")


def drop_index(tier):
    tier.sql("ALTER TABLE messages DROP INDEX messages_body_ft, DROP INDEX messages_created")


def store_run(tier, n):
    """Rate (messages/s) at which history-svc stores n queued messages."""
    room, count = tier.room()
    before = int(tier.sql(count))
    pid = int(open(os.path.join(tier.var, "run/history-svc.pid")).read())
    os.kill(pid, signal.SIGTERM)
    wait_until("history-svc stopped", lambda: not os.path.exists(f"/proc/{pid}"), 30)
    c = tier.client()
    last = None
    for i in range(n):
        body = words(i, 8 + i % 5) + (f" {COMMON}" if i % 10 == 0 else "")
        last = c.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", json.dumps({"id": f"s{i:06d}", "body": body}), qos=1)
        if i % 500 == 499:
            last.wait_for_publish(timeout=60)
    last.wait_for_publish(timeout=60)
    c.disconnect()
    c.loop_stop()
    t_db = tier.sql("SELECT NOW(3)")
    tier.script("up")  # starts history-svc again
    wait_until(f"{n} stored", lambda: int(tier.sql(count)) >= before + n, 600)
    span_us = int(tier.sql(f"SELECT TIMESTAMPDIFF(MICROSECOND, '{t_db}', MAX(m.created_at)) FROM messages m "
                           f"JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'"))
    return n / (max(span_us, 1) / 1e6)


def fill(tier, room_ids_sql, rows, per_room, sender_id, base_seq):
    """Inserts rows messages: message k (1-based) goes to room
    room_ids_sql + (k-1) DIV per_room with seq 1 + (k-1) MOD per_room.
    1 in 10 holds COMMON; messages base_seq+k with k % (total/10) == 7 hold RARE."""
    chunk = 1_000_000
    rare_every = max(rows // 10, 1)
    for start in range(1, rows + 1, chunk):
        stop = min(rows, start + chunk - 1)
        tier.sql(
            "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at) "
            f"SELECT {room_ids_sql} + (seq - 1) DIV {per_room}, 1 + (seq - 1) MOD {per_room}, CONCAT('b', seq), {sender_id}, "
            "CONCAT_WS(' ', "
            + ", ".join(f"CONCAT('wd', (seq * 7919 + {k * 104729}) MOD {VOCAB})" for k in range(8))
            + f", IF(seq MOD 10 = 0, '{COMMON}', NULL), IF(seq MOD {rare_every} = 7, '{RARE}', NULL)), "
            f"TIMESTAMPADD(MICROSECOND, ({base_seq} + seq) * 1000, '2026-01-01') "
            f"FROM seq_{start}_to_{stop}")
        log(f"  {stop:,} of {rows:,} rows")


class Asker:
    """A Paho client that sends search requests as user and times replies."""

    def __init__(self, tier, user, password):
        self.user = user
        self.replies = queue.Queue()
        self.c = mqtt.Client(client_id=f"sbench-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.c.username_pw_set(user, password)
        self.c.on_message = lambda c, u, m: self.replies.put(json.loads(m.payload))
        connected, subacked = queue.Queue(), queue.Queue()
        self.c.on_connect = lambda c, u, f, rc: connected.put(rc)
        self.c.on_subscribe = lambda c, u, mid, granted: subacked.put(granted)
        self.c.connect("127.0.0.1", tier.hub, keepalive=60)
        # As chatload's clients: no Nagle delay on small requests.
        self.c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.c.loop_start()
        # Accepted only once the plugin's snapshot knows the user just made;
        # Paho reconnects by itself after a refusal, so wait for a 0.
        deadline = time.monotonic() + 60
        while connected.get(timeout=max(0.1, deadline - time.monotonic())) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user} was refused for 60 s")
        sub = self.c.subscribe(f"chat/v1/users/{user}/inbox", qos=1)
        assert sub[0] == 0
        granted = subacked.get(timeout=60)  # the SUBACK: replies can come now
        assert granted[0] != 0x80, granted

    def ask(self, req, timeout=120):
        rid = uuid.uuid4().hex[:12]
        t = time.monotonic()
        self.c.publish(f"chat/v1/users/{self.user}/req/history", json.dumps(dict(req, req_id=rid)), qos=1)
        while True:
            r = self.replies.get(timeout=timeout)
            if r.get("req_id") == rid:
                return (time.monotonic() - t) * 1000, r

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(asker, req, n):
    """p50/p99 of n requests (after one to warm up); refusals are counted
    (a word too common to sort in time is refused after 2 s)."""
    asker.ask(req)
    times, found, refused = [], None, 0
    for _ in range(n):
        ms, r = asker.ask(req)
        if r.get("ok"):
            found = len(r["results"])
        else:
            refused += 1
            found = r["error"]["code"]
        times.append(ms)
    return dict(p50=pct(times, 50), p99=pct(times, 99), n=n, results=found, refused=refused)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--per-room", type=int, default=10_000)
    ap.add_argument("--store-n", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rare-requests", type=int, default=200)
    ap.add_argument("--common-requests", type=int, default=20)
    a = ap.parse_args()
    tier = SearchTier(False)
    out = {}
    try:
        tier.up()
        log("stack up")
        # 1. Store rate with and without the index, alternating.
        rates = {"index": [], "no index": []}
        for run in range(a.runs):
            for name in ("index", "no index"):
                if name == "no index":
                    drop_index(tier)
                rates[name].append(store_run(tier, a.store_n))
                if name == "no index":
                    add_index(tier)
                log(f"store run {run + 1} {name}: {rates[name][-1]:,.0f} msg/s")
        out["store"] = {k: dict(runs=[round(x) for x in v], median=statistics.median(v)) for k, v in rates.items()}
        out["store"]["ratio"] = out["store"]["index"]["median"] / out["store"]["no index"]["median"]
        print(json.dumps(out["store"]), flush=True)

        # 2. The data: one big room, then many rooms; index built afterwards.
        pw_big, pw_many = "pw-" + uuid.uuid4().hex, "pw-" + uuid.uuid4().hex
        tier.chatctl("user", "add", "sbig", "--iterations", "1000", stdin=pw_big + "\n")
        tier.chatctl("user", "add", "smany", "--iterations", "1000", stdin=pw_many + "\n")
        sender = tier.sql(f"SELECT id FROM users WHERE username = '{SENDER}'")
        drop_index(tier)
        t = time.monotonic()
        tier.sql("INSERT INTO rooms (name) VALUES ('sb-big')")
        big_id = tier.sql("SELECT id FROM rooms WHERE name = 'sb-big'")
        log(f"filling sb-big with {a.big:,} rows")
        fill(tier, big_id, a.big, a.big, sender, 0)
        tier.sql(f"UPDATE rooms SET last_seq = {a.big} WHERE id = {big_id}; "
                 f"INSERT INTO room_members (room_id, user_id) SELECT {big_id}, id FROM users WHERE username = 'sbig'")
        tier.sql(f"INSERT INTO rooms (name, last_seq) SELECT CONCAT('sb-many-', seq), {a.per_room} FROM seq_1_to_{a.rooms}")
        first = tier.sql("SELECT MIN(id) FROM rooms WHERE name LIKE 'sb-many-%'")
        log(f"filling {a.rooms:,} rooms with {a.per_room:,} rows each")
        fill(tier, first, a.rooms * a.per_room, a.per_room, sender, a.big)
        tier.sql("INSERT INTO room_members (room_id, user_id) SELECT r.id, u.id FROM rooms r JOIN users u "
                 "ON u.username = 'smany' WHERE r.name LIKE 'sb-many-%'")
        fill_s = time.monotonic() - t
        log(f"filled in {fill_s:.0f} s; building the full-text index")
        t = time.monotonic()
        add_index(tier)
        index_s = time.monotonic() - t
        log(f"index built in {index_s:.0f} s")
        out["data"] = dict(big=a.big, rooms=a.rooms, per_room=a.per_room, fill_s=round(fill_s), index_s=round(index_s))

        big = Asker(tier, "sbig", pw_big)
        many = Asker(tier, "smany", pw_many)
        cases = [("big room, rare word", big, {"room": "sb-big", "query": RARE}, a.rare_requests),
                 ("many rooms, rare word", many, {"query": RARE}, a.rare_requests),
                 ("big room, common word", big, {"room": "sb-big", "query": COMMON}, a.common_requests),
                 ("many rooms, common word", many, {"query": COMMON}, a.common_requests)]
        out["search"] = {}
        for name, asker, req, n in cases:
            r = latency(asker, dict(req, op="search"), n)
            out["search"][name] = r
            log(f"{name}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms ({n} requests, {r['results']} results, "
                f"{r['refused']} refused)")
        big.close()
        many.close()

        # 3. Where the time goes for the common word across many rooms: the
        # full-text lookup alone, then the index path's statement (without
        # its time limit) under ANALYZE.
        uid = tier.sql("SELECT id FROM users WHERE username = 'smany'")
        t = time.monotonic()
        hits = tier.sql(f"SELECT COUNT(*) FROM messages WHERE MATCH (body) AGAINST ('+\"{COMMON}\"' IN BOOLEAN MODE)")
        out["common_ft_count_ms"] = round((time.monotonic() - t) * 1000)
        out["common_hits"] = int(hits)
        t = time.monotonic()
        analyze = subprocess.run(
            ["mariadb", "--no-defaults", "-S", tier.socket, "-uroot", "-N", "-B", "-r", "chat", "-e",
             "ANALYZE FORMAT=JSON SELECT STRAIGHT_JOIN r.name, m.seq, u.username, m.created_at, m.body FROM messages m "
             f"JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = {uid} "
             "JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id "
             f"WHERE MATCH (m.body) AGAINST ('+\"{COMMON}\"' IN BOOLEAN MODE) "
             "AND (m.created_at, m.room_id, m.seq) < ('9999-12-31', 9999999999, 9999999999) "
             f"AND m.kind = 'message' AND m.deleted_at IS NULL AND m.body LIKE '%{COMMON}%' "
             "ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC LIMIT 21"],
            capture_output=True, text=True, timeout=3600, check=True).stdout
        out["common_many_statement_ms"] = round((time.monotonic() - t) * 1000)
        out["analyze_common_many"] = json.loads(analyze)
        print(json.dumps(out, indent=1), flush=True)
    finally:
        if not os.environ.get("SEARCH_BENCH_KEEP"):
            tier.down()
        else:
            log(f"kept {tier.var}")


if __name__ == "__main__":
    main()
