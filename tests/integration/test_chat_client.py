"""The terminal client `chat` in plain mode, driven through pipes against the
real stack: two people chat across the bridge, history, rooms, refusals,
the reconnect schedule. Under `make asan` (CHAT_SANITIZED=1) every chat
started here and in test_chat_tui.py writes sanitizer reports (leaks
included) to files that fail the test that produced them."""
import collections
import glob
import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest import BUILD, WAIT_S, free_port, inbox, run_process, start_process, wait_out_window, wait_until


def client_env(stack, env):
    """env for a chat process: with CHAT_SANITIZED, its ASan/LSan/UBSan
    reports go to files under the stack's directory (a full-screen
    client's stderr is the terminal, which the tests cannot read back)."""
    if os.environ.get("CHAT_SANITIZED"):
        where = os.path.join(stack.var, "chat-sanitizer")
        os.makedirs(where, exist_ok=True)
        env["ASAN_OPTIONS"] = f"detect_leaks=1:log_path={where}/asan"
        env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={where}/ubsan"
    return env


def sanitizer_reports(stack):
    """The sanitizer reports chat processes wrote since the last call
    (each file is renamed once read)."""
    reports = []
    for path in sorted(glob.glob(os.path.join(stack.var, "chat-sanitizer", "*san.*"))):
        if path.endswith(".read"):
            continue
        with open(path, errors="replace") as f:
            reports.append(f"{os.path.basename(path)}:\n{f.read()[-6000:]}")
        os.rename(path, path + ".read")
    return reports


def running_chats(stack):
    """Pids of this stack's chat processes still running (those whose
    sanitizer reports go under its directory)."""
    exe = os.path.realpath(os.path.join(BUILD, "chat"))
    mark = f"log_path={os.path.join(stack.var, 'chat-sanitizer')}/".encode()
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.readlink(f"{d}/exe") != exe:
                continue
            with open(f"{d}/environ", "rb") as f:
                if mark in f.read():
                    pids.append(int(d[6:]))
        except OSError:
            pass
    return pids


@pytest.fixture(autouse=True)
def no_sanitizer_reports(stack):
    yield
    # A client killed by its tmux session or a quit writes its reports as it
    # exits: wait until every chat of this stack has.
    if os.environ.get("CHAT_SANITIZED"):
        assert wait_until(lambda: not running_chats(stack)), f"chat still running: {running_chats(stack)}"
    reports = sanitizer_reports(stack)
    if reports:
        pytest.fail("sanitizer reports from chat:\n" + "\n".join(reports), pytrace=False)


class Chat:
    """A running `chat --plain` whose stdout lines are collected."""

    def __init__(self, stack, user, node, password=None, extra=(), env_password=True):
        env = client_env(stack, dict(os.environ))
        if env_password:
            env["CHAT_PASSWORD"] = stack.password(user) if password is None else password
        self.proc = start_process([os.path.join(BUILD, "chat"), "--plain", "--port", str(stack.port(node)),
                                      "--user", user, *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines = queue.Queue()
        self.stamped = []  # (time.monotonic(), line) of every line, as it came
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.stamped.append((time.monotonic(), line.rstrip("\n")))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}; saw {self.seen[-15:]}; stderr: {self.stderr_tail()}")

    def stderr_tail(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def quit(self):
        self.send("/quit")
        try:
            return self.proc.wait(timeout=WAIT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def test_two_terminal_clients_chat_across_the_bridge(stack):
    alice = Chat(stack, "alice", "leaf")
    bob = Chat(stack, "bob", "hub")
    try:
        alice.expect("status connected")
        bob.expect("status connected")
        word = uuid.uuid4().hex[:8]
        alice.send(f"hello bob {word} ✓")
        assert bob.expect(f"msg lobby alice hello bob {word}") == f"msg lobby alice hello bob {word} ✓"
        receipt = alice.expect("receipt lobby ")
        seq = int(receipt.split()[2])
        bob.send(f"hi alice {word}")
        alice.expect(f"msg lobby bob hi alice {word}")
        bob.expect("receipt lobby ")
        # History shows both, oldest first, with the sequence numbers.
        bob.send("/history 2")
        first = bob.expect("history lobby ")
        second = bob.expect("history lobby ")
        assert first.split()[2] == str(seq) and first.split()[4] == "alice"
        assert second.split()[4] == "bob"
        bob.expect("history-end lobby 2")
        alice.send("/rooms")
        assert alice.expect("room lobby ").startswith("room lobby ")
        alice.expect("rooms-end ")
        # A mistyped command gets a one-line explanation.
        bob.send("/nosuchcommand")
        assert bob.expect("error usage")
    finally:
        assert alice.quit() == 0
        assert bob.quit() == 0


def test_presence_and_refused_join_are_shown(stack):
    stack.add_user("kate", "kate-pw-1", rooms=["lobby"])
    bob = Chat(stack, "bob", "hub")
    try:
        bob.expect("status connected")
        kate = Chat(stack, "kate", "leaf")
        kate.expect("status connected")
        bob.expect("presence kate online")
        kate.send("/join secret-room-nobody-has")
        kate.expect("error not_member")
        assert kate.quit() == 0
        bob.expect("presence kate offline")
    finally:
        bob.quit()


def test_wrong_password_and_loose_password_file_are_refused(stack, tmp_path):
    bad = Chat(stack, "alice", "leaf", password="not-it")
    assert bad.proc.wait(timeout=WAIT_S) == 2
    assert bad.expect("error auth")
    loose = tmp_path / "pw"
    loose.write_text(stack.password("alice") + "\n")
    os.chmod(loose, 0o644)
    r = run_process([os.path.join(BUILD, "chat"), "--plain", "--port", str(stack.port("leaf")), "--user", "alice",
                        "--password-file", str(loose)], input="", capture_output=True, text=True, timeout=WAIT_S,
                       env=client_env(stack, {k: v for k, v in os.environ.items() if k != "CHAT_PASSWORD"}))
    assert r.returncode != 0 and "0644" in (r.stderr + r.stdout)
    os.chmod(loose, 0o600)
    ok = Chat(stack, "alice", "leaf", extra=("--password-file", str(loose)), env_password=False)
    ok.expect("status connected")
    assert ok.quit() == 0


def test_piped_lines_are_all_sent_before_exit(stack):
    room_msgs = [f"piped {i} {uuid.uuid4().hex[:6]}" for i in range(20)]
    watcher = stack.client("bob", "hub")
    watcher.subscribe("chat/v1/rooms/lobby/msg/alice")
    env = client_env(stack, dict(os.environ, CHAT_PASSWORD=stack.password("alice")))
    r = run_process([os.path.join(BUILD, "chat"), "--port", str(stack.port("leaf")), "--user", "alice"],
                       input="\n".join(room_msgs) + "\n", capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    got = [watcher.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d, b=b: d["body"] == b)["body"] for b in room_msgs]
    assert got == room_msgs


def test_reconnect_backoff_is_exponential_capped_and_jittered(stack):
    """Nothing listens on the port: every attempt fails at once, so the
    plain mode's `status reconnecting DELAY_MS ATTEMPT` lines show the
    schedule. Each delay must lie in [min/2, min(max, min * 2^(n-1))],
    be waited out before the next attempt, reach the cap, and differ
    between attempts and between two clients started together."""
    lo, hi = 40, 320
    dead = free_port()
    chats = [Chat(stack, "alice", "leaf", extra=("--port", str(dead), "--reconnect-min", str(lo),
                                                   "--reconnect-max", str(hi))) for _ in range(2)]
    try:
        # At least 15 attempts each (every attempt fails at once; the
        # schedule reaches the cap after 4).
        attempts = lambda chat: sum(1 for _, l in list(chat.stamped) if l.startswith("status reconnecting "))
        assert wait_until(lambda: all(attempts(c) >= 15 for c in chats), 60), [attempts(c) for c in chats]
        schedules = []
        for chat in chats:
            plan = [(t, int(l.split()[2]), int(l.split()[3])) for t, l in list(chat.stamped)
                    if l.startswith("status reconnecting ")]
            assert len(plan) >= 15, chat.stamped[:5]
            assert [n for _, _, n in plan] == list(range(1, len(plan) + 1))
            for t, delay, n in plan:
                assert lo // 2 <= delay <= min(hi, lo * 2 ** (n - 1)), (n, delay)
            # Waited out: each line is stamped when the test's reader thread
            # gets it, which a loaded machine delays by tens of ms now and
            # then, so one gap can look short while the client did wait.
            # The whole run cannot: from the first line to the last, the
            # client must have waited every delay but the last (a client
            # that did not wait would take ~0 s for the ~3 s of delays).
            waited = plan[-1][0] - plan[0][0]
            owed = sum(d for _, d, _ in plan[:-1]) / 1000
            assert waited >= owed - 0.1, (waited, owed)
            capped = [d for _, d, n in plan if lo * 2 ** (n - 1) >= hi]
            assert max(capped) > hi // 2, capped  # the window grew to the cap
            assert len(set(capped)) >= len(capped) // 2, capped  # jittered, not one fixed delay
            schedules.append([d for _, d, _ in plan])
            # The connection is reported lost once, not at every attempt.
            assert sum(1 for _, l in chat.stamped if l.startswith("status disconnected")) == 1
        n = min(len(s) for s in schedules)
        assert schedules[0][:n] != schedules[1][:n]
    finally:
        for chat in chats:
            assert chat.quit() == 0


def test_help_and_usage_errors():
    r = subprocess.run([os.path.join(BUILD, "chat"), "--help"], capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL, env={k: v for k, v in os.environ.items() if k != "CHAT_PASSWORD"})
    assert r.returncode == 0, r.stderr
    for want in ("usage: chat", "--host H", "--port P", "--user NAME", "--room ROOM", "--password-file FILE",
                 "--cafile FILE", "--plain", "--reconnect-min MS", "--reconnect-max MS", "--trace FILE",
                 "/join ROOM", "/leave", "/msg USER", "/history [N [SEQ]]", "/quit",
                 "status reconnecting DELAY_MS ATTEMPT", "msg ROOM SENDER BODY", "error CODE MESSAGE",
                 "Exit status"):
        assert want in r.stdout, want
    for argv, says in ((["--user", "alice", "--bogus"], "unknown option --bogus"),
                       (["--user", "alice", "--password", "x"], "never taken from the command line"),
                       (["--user", "alice", "--reconnect-min", "5000", "--reconnect-max", "1000"], "--reconnect-min"),
                       (["--user", "alice", "--port", "0"], "not a port number"),
                       (["--port", "1883"], "no user name")):
        r = subprocess.run([os.path.join(BUILD, "chat"), "--plain", *argv], capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2 and says in r.stderr and "chat --help" in r.stderr, (argv, r.stderr)


def pid_of(stack, part):
    with open(os.path.join(stack.var, "run", f"{part}.pid")) as f:
        return int(f.read().strip())


def traced(path, prefix):
    """The lines of a --trace file whose text (after the time) starts with prefix."""
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [l.split(" ", 1)[1].rstrip("\n") for l in f if " " in l and l.split(" ", 1)[1].startswith(prefix)]


def receipts(chat, n, timeout):
    """Collects n `receipt` lines (each id once); returns {id: seq}."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < n:
        line = chat.expect("receipt ", timeout=max(0.1, deadline - time.monotonic()))
        _, room, seq, mid = line.split()
        assert mid not in got, f"receipt for {mid} shown twice"
        got[mid] = int(seq)
    return got


def test_messages_a_leaf_acked_and_lost_are_resent_and_stored_once(stack, tmp_path):
    """The leaf PUBACKs alice's messages while the hub is frozen (SIGSTOP:
    the bridge cannot forward them), then dies by SIGKILL before it could
    forward them. Its PUBACK was not the end-to-end acknowledgement:
    chat keeps each message until history-svc's receipt and, once the
    leaf is back, sends the unreceipted ones again with the same ids, in
    order. Every message is then stored exactly once and confirmed by one
    `receipt` line."""
    trace = str(tmp_path / "trace")
    word = uuid.uuid4().hex[:8]
    n = 60
    alice = Chat(stack, "alice", "leaf", extra=("--trace", trace, "--reconnect-min", "200", "--reconnect-max", "1000"))
    topic = "chat/v1/rooms/lobby/msg/alice"
    try:
        alice.expect("status connected")
        alice.send(f"durable {word} warm-up")
        receipts(alice, 1, WAIT_S)
        acked_before = len(traced(trace, f"acked {topic}"))
        hub = pid_of(stack, "hub")
        os.kill(hub, signal.SIGSTOP)
        try:
            for i in range(n):
                alice.send(f"durable {word} {i:03d}")
            wait_until(lambda: len(traced(trace, f"acked {topic}")) >= acked_before + n, step=0.05)
            assert len(traced(trace, f"acked {topic}")) == acked_before + n, "the leaf did not ack every message"
            os.kill(pid_of(stack, "leaf"), signal.SIGKILL)
        finally:
            os.kill(hub, signal.SIGCONT)
        alice.expect("status disconnected")
        # Whatever reached the hub is stored once a message sent on the hub
        # now has its receipt (history-svc takes the hub's messages in order).
        bob = stack.client("bob", "hub")
        bob.subscribe(inbox("bob"))
        marker = {"id": uuid.uuid4().hex, "body": f"marker {word}"}
        bob.publish("chat/v1/rooms/lobby/msg/bob", marker)
        bob.expect_json(inbox("bob"), lambda d: d.get("type") == "receipt" and d["id"] == marker["id"], timeout=60)
        stored = int(stack.sql(f"SELECT COUNT(*) FROM messages WHERE body LIKE 'durable {word} 0%'")[0][0])
        assert stored < n, "the leaf lost nothing: the fault was not real"
        up = stack.script("up", check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        got = receipts(alice, n, 90)
        rows = stack.sql(f"SELECT msg_id, COUNT(*), MIN(seq) FROM messages WHERE body LIKE 'durable {word} 0%' "
                         "GROUP BY msg_id")
        assert len(rows) == n and all(r[1] == "1" for r in rows), rows
        assert {r[0]: int(r[2]) for r in rows} == got
        # The lost ones went out again with their ids, in their original order.
        sent = [json.loads(l.split(" ", 2)[2])["id"] for l in traced(trace, f"out {topic} ")]
        original = sent[1:n + 1]
        resent = list(dict.fromkeys(sent[n + 1:]))
        assert len(resent) >= n - stored and set(resent) <= set(original), (len(resent), n, stored)
        assert resent == sorted(resent, key=original.index)
        print({"messages": n, "stored_before_the_leaf_was_back": stored, "resent": len(resent)})
        wait_out_window(2, "late duplicate receipts, had there been any")
        alice.send("/rooms")
        alice.expect("rooms-end ")
        shown = collections.Counter(l.split()[3] for l in alice.seen if l.startswith("receipt "))
        assert all(shown[mid] == 1 for mid in got), shown
    finally:
        assert alice.quit() == 0


def test_a_message_without_a_receipt_is_sent_again_after_the_timeout(stack, tmp_path):
    """history-svc frozen (SIGSTOP) for 13 s: no receipt within 10 s, so
    chat sends the message again with the same id; once history-svc runs
    again it is stored once and shown confirmed once."""
    trace = str(tmp_path / "trace")
    body = f"late {uuid.uuid4().hex[:8]}"
    alice = Chat(stack, "alice", "leaf", extra=("--trace", trace))
    topic = "chat/v1/rooms/lobby/msg/alice"
    try:
        alice.expect("status connected")
        history = pid_of(stack, "history-svc")
        os.kill(history, signal.SIGSTOP)
        try:
            alice.send(body)

            def sent_ids():
                out = [json.loads(l.split(" ", 2)[2]) for l in traced(trace, f"out {topic} ")]
                return [d["id"] for d in out if d["body"] == body]
            # No receipt within 10 s: sent again (history-svc stays frozen).
            wait_until(lambda: len(sent_ids()) >= 2, 10 + WAIT_S)
            sent = sent_ids()
            assert len(sent) == 2 and sent[0] == sent[1], sent
        finally:
            os.kill(history, signal.SIGCONT)
        got = receipts(alice, 1, WAIT_S)
        assert list(got) == sent[:1]
        rows = stack.sql(f"SELECT COUNT(*) FROM messages WHERE body = '{body}'")
        assert rows == [["1"]]
        wait_out_window(2, "late duplicate receipts, had there been any")
        alice.send("/rooms")
        alice.expect("rooms-end ")
        assert sum(1 for l in alice.seen if l.startswith("receipt ")) == 1, alice.seen
    finally:
        assert alice.quit() == 0
