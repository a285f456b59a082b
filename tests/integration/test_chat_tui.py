"""The full-screen client `chat` driven in tmux (send-keys, capture-pane)
against the real stack: two people chat, a DM, join/leave, unread counts and
the read marker, history paging, presence, the leaf broker killed and
restarted while messages flow (every message exactly once, in order), and
the offline queue. Each client runs in its own session of a private tmux
server (socket in the stack's directory), removed at the end."""
import os
import re
import shutil
import signal
import subprocess
import uuid

import pytest

from conftest import BUILD, WAIT_S, fresh_room, wait_out_window, wait_until
from test_chat_client import client_env, no_sanitizer_reports  # noqa: F401 (an autouse fixture)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tui:
    """One `chat` in a detached tmux session of width x height."""

    def __init__(self, stack, user, node, width=130, height=40, room=None):
        self.stack = stack
        self.sock = os.path.join(stack.var, "tmux.sock")
        self.name = f"tui-{user}-{uuid.uuid4().hex[:6]}"
        self.trace = os.path.join(stack.var, self.name + ".trace")
        args = [os.path.join(BUILD, "chat"), "--port", str(stack.port(node)), "--user", user, "--trace", self.trace]
        if room:
            args += ["--room", room]
        # The shell keeps the pane after chat exits, with its status. It
        # traps SIGINT (Ctrl-C reaches the whole foreground group; dash
        # would die of it and take the pane along); chat gets the default
        # disposition back at exec.
        # After chat, the terminal's modes are printed: a clean exit leaves
        # "icanon echo isig" on, as they were.
        modes = "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo|isig)$' | tr '\\n' ' '"
        shell = ("trap : INT; " + " ".join(args) + '; echo "[chat exited $?]"; echo "[tty $(' + modes + ')]"; sleep 60')
        env = client_env(stack, {"CHAT_PASSWORD": stack.password(user), "LANG": "C.UTF-8",
                                 "TERM": "screen-256color"})
        # Retried: a new-session racing the exit of the private tmux server
        # (its last session just killed by the previous test) fails.
        tried = []

        def started():
            r = self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                          *[a for k, v in env.items() for a in ("-e", f"{k}={v}")], "sh", "-c", shell, check=False)
            tried.append(r.stderr.strip())
            return r.returncode == 0
        assert wait_until(started, step=0.5), f"tmux new-session failed: {tried[-3:]}"

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=60, check=check)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait(self, what, timeout=WAIT_S):
        """Polls the screen until what (a string, or a function of the
        screen) holds; returns the screen."""
        last = [""]

        def holds():
            last[0] = self.screen()
            return what(last[0]) if callable(what) else what in last[0]
        if wait_until(holds, timeout, step=0.2):
            return last[0]
        screen = last[0]
        raise AssertionError(f"{self.name}: waited {timeout}s for {what!r}; screen:\n{screen}\n"
                             f"last lines of its --trace:\n{self.trace_tail()}")

    def trace_tail(self, n=40):
        try:
            with open(self.trace, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no trace)"

    def type(self, text, enter=True):
        self.tmux("send-keys", "-t", self.name, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", self.name, "Enter")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.name, *keys)

    def chat_pid(self):
        """The pid of chat, the child of the pane's shell."""
        shell = int(self.tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").stdout.strip())
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            return int(f.read().split()[0])

    def close(self):
        try:
            self.tmux("kill-session", "-t", self.name)
        except subprocess.CalledProcessError:
            pass


@pytest.fixture
def tuis(stack):
    made = []

    def make(*args, **kw):
        t = Tui(stack, *args, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


def make_room(stack, room, *members):
    """Creates room with members; returns once every broker applies them."""
    fresh_room(stack, *members, name=room)


def room_lines(screen, word):
    """Message lines of the screen containing word, in screen order."""
    return [l for l in screen.splitlines() if word in l]


def test_two_clients_chat_dm_and_presence(stack, tuis):
    alice = tuis("alice", "leaf")
    alice.wait("online")
    bob = tuis("bob", "hub")
    bob.wait("online")
    word = uuid.uuid4().hex[:6]
    alice.type(f"hello bob {word} ✓ 日本語 🎉")
    screen = bob.wait(f"<alice> hello bob {word} ✓ 日本語 🎉")
    assert "#lobby" in screen
    # Members with presence: alice is shown online in bob's member list.
    bob.wait("+alice")
    bob.type(f"hi alice {word}")
    alice.wait(f"<bob> hi alice {word}")
    # A direct message: bob opens the DM room; alice sees it in her list.
    bob.type(f"/msg alice secret {word}")
    bob.wait("@alice")
    bob.wait(f"<bob> secret {word}")
    screen = alice.wait("@bob", timeout=10 + WAIT_S)  # rooms are polled every 10 s
    assert re.search(r"[*!]@bob\s+1", screen), screen
    # An unknown command and wrong arguments: one readable line each.
    alice.type("/frobnicate")
    alice.wait("unknown command /frobnicate")
    alice.type("/invite")
    alice.wait("/invite USER [ROOM]")
    # Refusals from the server too: history-svc (alice is no admin of the
    # lobby) and the broker (a room she is not in), each one line.
    alice.type("/invite bob lobby")
    screen = alice.wait("!! forbidden in lobby: ")
    assert re.search(r"!! forbidden in lobby: \w+( \w+)+", screen), screen
    alice.type(f"/join nosuch-{word}")
    screen = alice.wait("!! not_member")
    line = next(l for l in screen.splitlines() if "!! not_member" in l)  # (long ones wrap)
    assert f"cannot join room nosuch-{word}: no such room" in line, screen
    # /me as an action.
    alice.type(f"/me waves {word}")
    bob.keys("C-p")  # back to the lobby
    bob.wait(f"* alice waves {word}")


def test_join_leave_unread_and_read_marker(stack, tuis):
    room = "tui-" + uuid.uuid4().hex[:6]
    alice = tuis("alice", "leaf")
    alice.wait("online")
    alice.type(f"/create {room}")
    alice.wait(f"#{room}")
    bob = tuis("bob", "hub")
    bob.wait("online")
    bob.type(f"/join {room}")
    bob.wait(lambda s: f"#{room}" in s and re.search(r"\| bob \| #" + room, s))
    bob.type("/room lobby")
    bob.wait("| bob | #lobby")
    for i in range(3):
        alice.type(f"unread {i}")
    # bob's room list counts them; the status line says where he is.
    screen = bob.wait(lambda s: re.search(r"\*#" + room + r"\s+3", s))
    # Switching to the room shows the read marker before the unread lines.
    bob.type(f"/room {room}")
    screen = bob.wait("new messages")
    lines = screen.splitlines()
    marker = next(i for i, l in enumerate(lines) if "new messages" in l)
    first = next(i for i, l in enumerate(lines) if "<alice> unread 0" in l)
    assert marker < first
    assert not re.search(r"#" + room + r"\s+3", screen)
    # Leaving removes the room from the list.
    bob.type("/leave")
    bob.wait(lambda s: f"#{room}" not in s.split("|")[0] and f"you left {room}" in s)


def test_two_screens_of_one_user_work_side_by_side(stack, tuis):
    """Two devices of bob at once (one per node): each has its own MQTT
    client id, so neither takes the other's session over, and each sees
    only the replies to its own requests on their shared inbox."""
    room = "two-" + uuid.uuid4().hex[:6]
    one = tuis("bob", "hub")
    two = tuis("bob", "leaf")
    one.wait("online")
    two.wait("online")
    one.type(f"/create {room}")
    one.wait(re.compile(r"\| bob \| #" + room).search)
    two.type(f"/join {room}")
    two.wait(re.compile(r"\| bob \| #" + room).search)
    one.type("from screen one")
    two.wait("<bob> from screen one")
    two.type("from screen two")
    one.wait("<bob> from screen two")
    assert "created" not in two.screen()  # one's reply to /create was not shown by two
    ids = set()
    for node in ("hub", "leaf"):
        with open(os.path.join(stack.var, node, "mosquitto.log"), errors="replace") as f:
            log = f.read()
        ids |= set(re.findall(r"as (chat-bob-\w+) ", log))
        assert not re.search(r"Client chat-bob-\w+ already connected", log), log[-3000:]
    assert len(ids) >= 2, ids
    assert "online" in one.screen() and "online" in two.screen()


def test_messages_seen_live_move_the_read_marker(stack, tuis):
    """Live messages carry no seq; the client learns it from the rooms
    poll and, having shown every message up to it, marks the room read
    on the server, so another device (or the next start) shows no unread
    count for what was read here."""
    room = "seen-" + uuid.uuid4().hex[:6]
    make_room(stack, room, "alice", "bob")
    alice = tuis("alice", "leaf", room=room)
    alice.wait("online")
    pub = stack.client("bob", "hub")
    for i in range(3):
        pub.publish(f"chat/v1/rooms/{room}/msg/bob", {"id": f"s{i}-{room}", "body": f"seen live {i}"})
    alice.wait("seen live 2")
    query = ("SELECT m.seq FROM read_markers m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id"
             f" WHERE r.name = '{room}' AND u.username = 'alice'")
    # The rooms poll comes every 10 s.
    assert wait_until(lambda: stack.sql(query) == [["3"]], 10 + WAIT_S, step=0.5), alice.trace_tail()


def test_history_paging_with_page_up(stack, tuis):
    room = "page-" + uuid.uuid4().hex[:6]
    make_room(stack, room, "alice")
    pub = stack.client("alice", "hub")
    for i in range(1, 81):
        pub.publish(f"chat/v1/rooms/{room}/msg/alice", {"id": f"p{i}-{room}", "body": f"page-msg {i:03d}"})
    # Wait until all are stored.
    wait_until(lambda: stack.sql(f"SELECT last_seq FROM rooms WHERE name='{room}'") == [["80"]], 60, step=0.3)
    alice = tuis("alice", "leaf", room=room, height=30)
    alice.wait("page-msg 080")
    assert "page-msg 010" not in alice.screen()
    # Page Up until the oldest shows: older pages come from history-svc.
    def page_up():
        alice.keys("PPage")
        return "page-msg 001" in alice.screen()
    wait_until(page_up, step=0.5)
    alice.wait("page-msg 001")
    alice.keys("NPage", "NPage", "NPage", "NPage", "NPage", "NPage", "NPage", "NPage")
    alice.wait("page-msg 080")


def test_presence_change_shown(stack, tuis):
    bob = tuis("bob", "hub")
    bob.wait("online")
    stack.add_user("tina", "tina-pw-1", rooms=["lobby"])
    tina = tuis("tina", "leaf")
    tina.wait("online")
    bob.wait("tina is online")
    tina.type("/away lunch")
    tina.wait("you are away: lunch")
    bob.wait("~tina")
    bob.wait("tina is away: lunch")
    tina.keys("C-c")
    tina.wait("[chat exited 0]")
    bob.wait("tina is offline")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_leaves_the_terminal_clean(stack, tuis, sig):
    alice = tuis("alice", "leaf")
    alice.wait("online")
    alice.type("half a line", enter=False)
    os.kill(alice.chat_pid(), sig)
    screen = alice.wait("[chat exited 0]")
    # Back on the shell's screen (the full-screen one is gone) with the
    # terminal's modes as they were.
    assert "Rooms" not in screen and "half a line" not in screen, screen
    tty = alice.wait("[tty ")
    modes = re.search(r"\[tty ([^\]]*)\]", tty).group(1).split()
    assert sorted(modes) == ["echo", "icanon", "isig"], tty


def kill_leaf(stack):
    with open(os.path.join(stack.var, "run", "leaf.pid")) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGKILL)


def test_leaf_killed_and_restarted_every_message_once_in_order(stack, tuis):
    room = "kill-" + uuid.uuid4().hex[:6]
    make_room(stack, room, "alice", "bob")
    alice = tuis("alice", "leaf", room=room, height=60)
    alice.wait("online")
    pub = stack.client("bob", "hub")
    watcher = stack.client("bob", "hub")
    watcher.subscribe(f"chat/v1/rooms/{room}/msg/alice")
    total = 30
    sent = 0

    def send(n):
        nonlocal sent
        for _ in range(n):
            sent += 1
            pub.publish(f"chat/v1/rooms/{room}/msg/bob", {"id": f"k{sent}", "body": f"flow {sent:03d}"})
            wait_out_window(0.05, "spacing of the message flow")

    send(10)
    alice.wait("flow 010")
    kill_leaf(stack)
    # Offline is plain to see: the status line counts down to the next try.
    alice.wait(lambda s: re.search(r"OFFLINE - reconnecting (in \d+ s )?\(attempt \d+\)", s))
    send(10)  # while alice's node is down
    # The offline queue: typed while offline, sent once, in order, when back.
    alice.type("queued one")
    alice.type("queued two")
    alice.wait("queued: 2")
    up = stack.script("up", check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    send(total - sent)
    screen = alice.wait(lambda s: f"flow {total:03d}" in s and "online" in s and "queued one" in s
                        and "queued two" in s, timeout=90)
    flows = [int(m) for m in re.findall(r"<bob> flow (\d{3})", screen)]
    assert flows == list(range(1, total + 1)), screen
    assert len(room_lines(screen, "<alice> queued one")) == 1
    assert len(room_lines(screen, "<alice> queued two")) == 1
    lines = screen.splitlines()
    assert next(i for i, l in enumerate(lines) if "queued one" in l) < next(i for i, l in enumerate(lines) if "queued two" in l)
    got = [watcher.expect_json(f"chat/v1/rooms/{room}/msg/alice")["body"] for _ in range(2)]
    assert got == ["queued one", "queued two"]
    # A line typed now comes after any copy of the queued ones.
    alice.type("after the queue")
    watcher.quiet_until(lambda t, p: True, lambda t, p: b"after the queue" in p)
