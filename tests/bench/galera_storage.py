#!/usr/bin/python3
"""Storage rate of history-svc on one MariaDB against a 3-node Galera
cluster (`make up DB_NODES=3`), in one run on one machine.

For each database tier a private stack (scripts/stack.sh, free loopback
ports) is started; history-svc is stopped, N QoS 1 messages (100-byte
bodies, one room) are queued for it on the hub, and it is started again:
the rate is N / (last commit - start), from the rows' created_at, as
bench.py's backlog scenario measures it. RUNS runs per tier, the median
reported, with the Galera / single ratio. Needs root (the Galera nodes run
in network namespaces, as user mysql) and galera-4.

    CHAT_BUILD=build /usr/bin/python3 tests/bench/galera_storage.py [N] [RUNS]
"""
import json
import os
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
SENDER = "gbench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


class Tier:
    def __init__(self, galera):
        self.galera = galera
        self.var = tempfile.mkdtemp(prefix="chat-gbench-")
        os.chmod(self.var, 0o755)
        self.hub = free_port()
        self.env = dict(os.environ, CHAT_VAR=self.var, CHAT_BUILD=BUILD, CHAT_DB_PORT=str(free_port()),
                        CHAT_HUB_PORT=str(self.hub), CHAT_LEAF_PORT=str(free_port()), CHAT_LOG_LEVEL="info",
                        # one SENDER publishes as fast as it can: the send rate limit raised
                        CHAT_PLUGIN_OPTS="send_rate 1000000;send_burst 1000000")
        self.socket = os.path.join(self.var, "db/mariadb.sock")
        if galera:
            # Each node in its own network namespace (scripts/galera.sh).
            self.env.update(CHAT_DB_NODES="3", CHAT_DB_NS=f"gbench{os.getpid() % 1000}",
                            CHAT_DB_NET=f"10.233.{random.randint(100, 250)}")
            self.socket = os.path.join(self.var, "db1/mariadb.sock")

    def script(self, *args):
        r = subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), *args], env=self.env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")

    def sql(self, query):
        return subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B", "chat",
                               "-e", query], capture_output=True, text=True, timeout=60, check=True).stdout.strip()

    def chatctl(self, *args, stdin=None):
        subprocess.run([os.path.join(BUILD, "chatctl"), "-c", os.path.join(self.var, "conf/db.conf"), *args],
                       input=stdin, capture_output=True, text=True, timeout=60, check=True)

    def client(self):
        c = mqtt.Client(client_id=f"gbench-{uuid.uuid4().hex[:8]}", clean_session=True)
        c.username_pw_set(SENDER, self.password)
        c.max_inflight_messages_set(200)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", self.hub, keepalive=60)
        c.loop_start()
        return c

    def up(self):
        self.script("up")
        self.password = "pw-" + uuid.uuid4().hex
        self.chatctl("user", "add", SENDER, "--iterations", "1000", stdin=self.password + "\n")

    def room(self):
        """A new room, once the hub's plugin lets SENDER publish into it."""
        room = "gb-" + uuid.uuid4().hex[:8]
        self.chatctl("room", "create", room)
        self.chatctl("member", "add", room, SENDER)
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

    def run(self, n):
        room, count = self.room()
        stored_before = int(self.sql(count))
        pid = int(open(os.path.join(self.var, "run/history-svc.pid")).read())
        os.kill(pid, signal.SIGTERM)
        wait_until("history-svc stopped", lambda: not os.path.exists(f"/proc/{pid}"), 30)
        c = self.client()
        body = "x" * 100
        last = None
        for i in range(n):
            last = c.publish(f"chat/v1/rooms/{room}/msg/{SENDER}", f'{{"id":"s{i:06d}","body":"{body}"}}', qos=1)
            if i % 500 == 499:
                last.wait_for_publish(timeout=60)
        last.wait_for_publish(timeout=60)
        c.disconnect()
        c.loop_stop()
        t_db = self.sql("SELECT NOW(3)")
        self.script("up")  # starts history-svc again
        wait_until(f"{n} stored", lambda: int(self.sql(count)) >= stored_before + n, 600)
        span_us = int(self.sql(f"SELECT TIMESTAMPDIFF(MICROSECOND, '{t_db}', MAX(m.created_at)) FROM messages m "
                               f"JOIN rooms r ON r.id = m.room_id WHERE r.name = '{room}'"))
        return n / (max(span_us, 1) / 1e6)

    def down(self):
        try:
            self.script("down")
        finally:
            shutil.rmtree(self.var, ignore_errors=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rates = {}
    for name, galera in (("single MariaDB", False), ("3-node Galera", True)):
        tier = Tier(galera)
        try:
            tier.up()
            rates[name] = [tier.run(n) for _ in range(runs)]
        finally:
            tier.down()
        print(f"{name}: {n} messages per run, stored/s per run "
              f"{[round(r) for r in rates[name]]}, median {statistics.median(rates[name]):,.0f}", flush=True)
    ratio = statistics.median(rates["3-node Galera"]) / statistics.median(rates["single MariaDB"])
    print(f"Galera / single: {ratio:.2f}")


if __name__ == "__main__":
    main()
