"""What docs/CLIENT.md promises of the full-screen `chat`, checked on the
screen (tmux capture-pane) against the real stack: /who, /rooms and
/history N print their answer in the message pane, and a body with a line
break shows as continuation lines, not as '?'. Each client runs in its own
session of a private tmux server (socket in the stack's directory)."""
import glob
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import BUILD, ROOT, wait_until

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Screen:
    """One full-screen `chat` in a detached tmux session."""

    def __init__(self, stack, user, node, width=130, height=40, stdin_line=None):
        self.name = f"docs-{user}-{uuid.uuid4().hex[:6]}"
        # A tmux server per screen: killing the last session of a shared
        # server makes it exit, and a new-session racing that exit fails.
        self.sock = os.path.join(stack.var, self.name + ".sock")
        self.trace = os.path.join(stack.var, self.name + ".trace")
        args = [os.path.join(BUILD, "chat"), "--port", str(stack.port(node)), "--user", user, "--trace", self.trace]
        env = {"CHAT_PASSWORD": stack.password(user), "LANG": "C.UTF-8", "TERM": "screen-256color"}
        if os.environ.get("CHAT_SANITIZED"):
            where = os.path.join(stack.var, "chat-sanitizer")
            os.makedirs(where, exist_ok=True)
            env["ASAN_OPTIONS"] = f"detect_leaks=1:log_path={where}/asan"
            env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={where}/ubsan"
        # stdin_line: chat's stdin is a pipe with that line, its stdout
        # still the terminal.
        pipe = f"echo '{stdin_line}' | " if stdin_line else ""
        shell = "trap : INT; " + pipe + " ".join(args) + '; echo "[chat exited $?]"; sleep 60'
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                  *[a for k, v in env.items() for a in ("-e", f"{k}={v}")], "sh", "-c", shell)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=20, check=True)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait(self, what, timeout=30):
        """Polls the screen until what (a string, or a function of the
        screen) holds; returns the screen."""
        last = {"screen": ""}

        def shows():
            last["screen"] = screen = self.screen()
            return screen if (what(screen) if callable(what) else what in screen) else None
        if wait_until(shows, timeout, step=0.2):
            return last["screen"]
        screen = last["screen"]
        try:
            with open(self.trace, errors="replace") as f:
                tail = "".join(f.readlines()[-40:])
        except OSError:
            tail = "(no trace)"
        raise AssertionError(f"{self.name}: waited {timeout}s for {what!r}; screen:\n{screen}\n"
                             f"last lines of its --trace:\n{tail}")

    def type(self, text):
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def close(self):
        try:
            self.tmux("kill-session", "-t", self.name)
        except subprocess.CalledProcessError:
            pass


@pytest.fixture(autouse=True)
def no_chat_sanitizer_reports(stack):
    """With CHAT_SANITIZED, the chat processes' ASan/UBSan reports (files
    under the stack's directory) fail the test."""
    yield
    reports = []
    for path in sorted(glob.glob(os.path.join(stack.var, "chat-sanitizer", "*san.*"))):
        if not path.endswith(".read"):
            with open(path, errors="replace") as f:
                reports.append(f"{os.path.basename(path)}:\n{f.read()[-6000:]}")
            os.rename(path, path + ".read")
    if reports:
        pytest.fail("sanitizer reports from chat:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture
def screens(stack):
    made = []

    def make(*args, **kw):
        s = Screen(stack, *args, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def pane(screen):
    """The message pane's text of each screen row (between the side lists'
    borders), without the status and input lines."""
    rows = []
    for line in screen.splitlines()[:-2]:
        parts = line.split("│")
        rows.append((parts[1] if len(parts) >= 3 else line).rstrip())
    return rows


def send_as(stack, user, room, bodies):
    """Publishes bodies to room as user (QoS 1), each with a fresh id."""
    c = stack.client(user, "hub")
    for body in bodies:
        c.publish(f"chat/v1/rooms/{room}/msg/{user}", {"id": uuid.uuid4().hex, "body": body})
    return c


def test_history_who_and_rooms_print_in_the_pane(stack, screens):
    mark = uuid.uuid4().hex[:6]
    alice = screens("alice", "leaf")
    alice.wait(" online ")
    bodies = [f"{mark} one", f"{mark} two", f"{mark} three"]
    send_as(stack, "bob", "lobby", bodies)
    alice.wait(f"<bob> {mark} three")

    # /history 2: the last two messages again, between a header and an end line.
    alice.type("/history 2")
    screen = alice.wait("end of history of #lobby (2 messages)")
    rows = pane(screen)
    start = max(i for i, r in enumerate(rows) if "last 2 messages of #lobby" in r)
    block = rows[start:]
    assert any(f"<bob> {mark} two" in r for r in block), screen
    assert any(f"<bob> {mark} three" in r for r in block), screen
    assert not any(f"<bob> {mark} one" in r for r in block), screen

    # /who: the members of the current room with their presence.
    alice.type("/who")
    screen = alice.wait(lambda s: any(re.search(r"-- +alice: online", r) for r in pane(s)))
    assert any(re.search(r"-- members of #lobby \(\d+\):", r) for r in pane(screen)), screen

    # /rooms: each room with its unread count, then how many.
    alice.type("/rooms")
    screen = alice.wait(lambda s: any(re.search(r"-- \d+ rooms? \(/room ROOM", r) for r in pane(s)))
    assert any(re.search(r"-- +#lobby: \d+ messages, \d+ unread", r) for r in pane(screen)), screen


def test_a_body_with_line_breaks_shows_as_continuation_lines(stack, screens):
    mark = uuid.uuid4().hex[:6]
    alice = screens("alice", "leaf")
    alice.wait(" online ")
    send_as(stack, "bob", "lobby", [f"{mark} first row\n{mark} second row\n\n{mark} last row"])
    screen = alice.wait(f"{mark} last row")
    rows = pane(screen)
    first = next(i for i, r in enumerate(rows) if f"{mark} first row" in r)
    assert rows[first].endswith(f"<bob> {mark} first row"), screen
    assert rows[first + 1].strip() == f"{mark} second row", screen
    assert rows[first + 2].strip() == "", screen
    assert rows[first + 3].strip() == f"{mark} last row", screen
    assert "?" not in "".join(rows[first:first + 4]), screen


def test_the_readme_chatctl_commands_work(stack):
    """README's "add a user and put them in a room": each command is one
    docs/ADMIN.md documents, and run as written (with the stack's db.conf
    and a fresh user name) carol ends up a member."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    admin = open(os.path.join(ROOT, "docs", "ADMIN.md")).read()
    lines = [l.split("#")[0].split() for l in readme.splitlines() if l.startswith("build/chatctl ")]
    assert len(lines) >= 2, "README shows no chatctl commands"
    user = "carol" + uuid.uuid4().hex[:6]
    for words in lines:
        assert words[1:3] == ["-c", "var/conf/db.conf"], words
        assert f"chatctl -c FILE {words[3]} {words[4]} " in admin, f"{' '.join(words)}: not in docs/ADMIN.md"
        args = [user if w == "carol" else w for w in words[3:]]
        r = stack.chatctl(*args, stdin="a password\n")
        assert r.returncode == 0, f"chatctl {' '.join(args)}: {r.stderr}"
    r = stack.chatctl("member", "list", "lobby")
    assert r.returncode == 0 and user in r.stdout.split(), r.stdout + r.stderr


def test_plain_mode_when_stdin_is_not_a_terminal(stack, screens):
    """README and docs/CLIENT.md: plain mode when stdin or stdout is not a
    terminal; here stdout is the terminal and stdin a pipe."""
    alice = screens("alice", "leaf", stdin_line="/help", height=80)  # /help is over 30 lines
    screen = alice.wait("[chat exited 0]")
    assert "status connected" in screen, screen
    assert "help /join ROOM" in screen, screen
    assert "status disconnected end of input" in screen, screen
