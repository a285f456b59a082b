"""The terminal client applies the room-message rule of PROTOCOL 3.1 to
what it shows: the broker delivers a live message before history-svc has
checked it, so `chat` itself must drop one that the archive will refuse
(a body cut at a NUL, a body that drives the terminal with ESC), and show
the valid one that follows."""
import uuid

# no_sanitizer_reports (autouse): under `make asan` the chat started here
# fails this test if it wrote a sanitizer report.
from test_chat_client import Chat, no_sanitizer_reports  # noqa: F401


def test_plain_chat_never_shows_live_messages_that_break_the_body_rule(stack):
    word = uuid.uuid4().hex[:8]
    bob = Chat(stack, "bob", "hub")
    alice = stack.client("alice", "hub")
    try:
        assert alice.rc == 0
        bob.expect("status connected")
        topic = "chat/v1/rooms/lobby/msg/alice"
        # json.dumps writes these as the escapes "\u0000", "\u001b" and "\r".
        alice.publish(topic, {"id": f"x1{word}", "body": f"a\u0000b {word}"})
        alice.publish(topic, {"id": f"x2{word}", "body": f"\u001b[31mred {word}"})
        alice.publish(topic, {"id": f"x3{word}", "body": f"cr\r{word}"})
        alice.publish(topic, {"id": f"m1{word}", "body": f"marker {word}"})
        # Messages from one publisher arrive in order: once the marker is
        # shown, a bad message that was going to be shown has been.
        assert bob.expect("msg lobby alice ") == f"msg lobby alice marker {word}"
        shown = [line for line in bob.seen if line.startswith("msg ")]
        assert shown == [f"msg lobby alice marker {word}"], shown
    finally:
        assert bob.quit() == 0
    # Plain mode notes each dropped message on stderr, never as an error line.
    stderr = bob.stderr_tail()
    assert stderr.count("chat: ignored a message from alice in lobby") == 3, stderr
    assert "error" not in stderr and "\x1b" not in stderr, stderr
