"""Message operations (issue 13) through the terminal client `chat`:
edit, delete, reactions, replies, threads, mentions, topic, bans, read
receipts and search, in plain mode (the lines of docs/CLIENT.md, MESSAGE
OPERATIONS) and full-screen mode, against the real stack; and the live
rule: a forged live edit (someone publishing an edit of another's message
on their own topic) is ignored by chat."""
import uuid

from conftest import fresh_room
from test_chat_client import Chat, no_sanitizer_reports  # noqa: F401 (an autouse fixture)


def start(stack, user, node, room):
    chat = Chat(stack, user, node, extra=("--room", room))
    chat.user = user
    chat.expect("status connected")
    return chat


def test_forged_live_edit_is_ignored_and_a_real_one_applied(stack):
    room = fresh_room(stack, "alice", "bob", prefix="ops")
    mal = "mal" + uuid.uuid4().hex[:6]
    stack.add_user(mal, "mallory-pw-1", rooms=[room])
    stack.sync_auth()
    bob = start(stack, "bob", "hub", room)
    alice = stack.client("alice", "leaf")
    mallory = stack.client(mal, "leaf", password="mallory-pw-1")
    try:
        word = uuid.uuid4().hex[:8]
        alice.publish(f"chat/v1/rooms/{room}/msg/alice", {"id": "a" + word, "body": f"original {word}"})
        assert bob.expect(f"msg {room} alice ") == f"msg {room} alice original {word}"
        # bob learns the number of alice's live message from history-svc.
        line = bob.expect(f"seq {room} ")
        seq = int(line.split()[2])
        assert line == f"seq {room} {seq} alice a{word}"
        # mallory publishes an edit of alice's message under her own name:
        # the broker lets it through (she is a member); chat must not apply it.
        mallory.publish(f"chat/v1/rooms/{room}/msg/{mal}",
                        {"id": "m" + word, "kind": "edit", "ref": seq, "text": "forged by mallory"})
        # alice's own edit, published after it, is applied.
        alice.publish(f"chat/v1/rooms/{room}/msg/alice",
                      {"id": "e" + word, "kind": "edit", "ref": seq, "text": f"edited {word}"})
        assert bob.expect(f"edit {room} ") == f"edit {room} {seq} alice edited {word}"
        assert not [s for s in bob.seen if "forged" in s], bob.seen
    finally:
        assert bob.quit() == 0
        stderr = bob.proc.stderr.read()
    assert f"ignored a live edit from {mal} of message {seq} in {room}: not its sender's message" in stderr, stderr
