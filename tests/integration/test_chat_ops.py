"""Message operations (issue 13) through the terminal client `chat`:
edit, delete, reactions, replies, threads, mentions, topic, bans, read
receipts and search, in plain mode (the lines of docs/CLIENT.md, MESSAGE
OPERATIONS) and full-screen mode, against the real stack; and the live
rule: a forged live edit (someone publishing an edit of another's message
on their own topic) is ignored by chat."""
import uuid

from conftest import fresh_room
from test_chat_client import Chat, no_sanitizer_reports  # noqa: F401 (an autouse fixture)


def drop_room(stack, room):
    """Deletes room and its history, so that later tests (which switch
    rooms with Ctrl-N/Ctrl-P) find alice's and bob's room lists as before."""
    r = stack.chatctl("room", "delete", room)
    assert r.returncode == 0, r.stderr


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
        drop_room(stack, room)
    assert f"ignored a live edit from {mal} of message {seq} in {room}: not its sender's message" in stderr, stderr


def receipt_seq(chat, room):
    """The seq of the next receipt of chat's own message in room."""
    return int(chat.expect(f"receipt {room} ").split()[2])


def test_plain_mode_edit_delete_react_reply_mention_topic_search_thread_ban(stack):
    room = "ops" + uuid.uuid4().hex[:8]
    word = uuid.uuid4().hex[:8]
    alice = start(stack, "alice", "leaf", "lobby")
    bob = start(stack, "bob", "hub", "lobby")
    try:
        alice.send(f"/create {room}")
        alice.expect(f"ok create {room}")
        alice.send(f"/invite bob {room}")
        alice.expect(f"ok invite {room} bob")
        bob.send(f"/join {room}")
        bob.expect(f"ok join {room}")
        # Subscribed once bob sees his own message back.
        bob.send(f"hello {word}")
        bob.expect(f"msg {room} bob hello {word}")
        alice.expect(f"msg {room} bob hello {word}")

        alice.send(f"first {word}")
        first = receipt_seq(alice, room)
        assert bob.expect(f"msg {room} alice ") == f"msg {room} alice first {word}"
        assert bob.expect(f"seq {room} ").startswith(f"seq {room} {first} alice ")

        # A reply that mentions alice: quoted seq and mention shown, and
        # alice is told on her inbox.
        bob.send(f"/reply {first} answer @alice")
        answer = receipt_seq(bob, room)
        assert alice.expect(f"msg {room} bob ") == f"msg {room} bob answer @alice"
        info = alice.expect(f"msg-info {room} ")
        assert " reply_to=%d" % first in info and " mentions=alice" in info, info
        assert alice.expect(f"mention {room} ") == f"mention {room} {answer} bob answer @alice"

        # bob may not edit alice's message: history-svc refuses, and alice's
        # chat does not apply bob's live edit; alice's own edit counts.
        bob.send(f"/edit {first} hijacked")
        assert bob.expect("error ").startswith("error forbidden")
        alice.send(f"/edit {first} first edited {word}")
        assert bob.expect(f"edit {room} ") == f"edit {room} {first} alice first edited {word}"
        assert alice.expect(f"edit {room} ") == f"edit {room} {first} alice first edited {word}"
        assert not [s for s in alice.seen + bob.seen if "hijacked" in s]

        # Reactions from anyone.
        bob.send(f"/react {first} 👍")
        assert alice.expect(f"react {room} ") == f"react {room} {first} bob 👍"
        bob.send(f"/react {first} two words")
        assert bob.expect("error ").startswith("error usage")

        # alice (the room's admin) deletes bob's message: the meta topic
        # tells both.
        alice.send(f"/delete {answer}")
        assert bob.expect(f"delete {room} ") == f"delete {room} {answer} alice"
        assert alice.expect(f"delete {room} ") == f"delete {room} {answer} alice"

        # History in the current state.
        bob.send("/history 20")
        h1 = bob.expect(f"history {room} {first} ")
        assert h1.endswith(f" alice first edited {word}"), h1
        i1 = bob.expect(f"msg-info {room} {first} ")
        assert " edited=" in i1 and " reaction=👍:1:bob" in i1, i1
        h2 = bob.expect(f"history {room} {answer} ")
        assert h2.split()[4:] == ["bob"], h2  # the body is erased
        assert " deleted_by=alice" in bob.expect(f"msg-info {room} {answer} ")
        assert bob.expect(f"history-event {room} ").split()[5:] == ["edit", str(first), "first", "edited", word]
        assert bob.expect(f"history-event {room} ").split()[5:] == ["react", str(first), "👍"]
        assert bob.expect(f"history-event {room} ").split()[5:] == ["delete", str(answer)]
        bob.expect(f"history-end {room} ")

        # Topic: set by the admin, announced on the meta topic.
        alice.send(f"/topic plans for {word}")
        topic_seq = int(alice.expect(f"ok topic {room} ").split()[3])
        # (live, members get it on the room's meta topic once the plugin
        # lets them read it; the stored event is in history either way)
        bob.send("/history 1")
        line = bob.expect(f"history-event {room} {topic_seq} ")
        assert line.split()[4:] == ["alice", "topic", "-", "plans", "for", word], line

        # Search finds the current text.
        bob.send(f"/search #{room} {word}")
        found = bob.expect("found ")
        assert found.startswith(f"found {room} {first} ") and found.split()[4] == "alice", found
        bob.expect("search-end ")

        # A thread: alice follows the thread of her message; what she types
        # goes to it.
        alice.send(f"/thread {first}")
        assert alice.expect(f"history {room} ").startswith(f"history {room} {first} ")  # the root first
        alice.expect(f"history-end {room} ")
        alice.send(f"in thread {word}")
        assert bob.expect(f"msg {room} alice ") == f"msg {room} alice in thread {word}"
        assert f" thread={first}" in bob.expect(f"msg-info {room} ")
        alice.send("/thread")
        alice.expect("help left the thread")

        # Read receipts of the room (alice and bob share theirs by default).
        alice.send("/seen")
        alice.expect(f"seen-end {room} ")

        # Ban: bob is out and cannot join again.
        alice.send("/ban bob")
        alice.expect(f"ok ban {room} bob")
        alice.send("/bans")
        assert alice.expect(f"ban {room} ").startswith(f"ban {room} bob alice ")
        alice.expect(f"bans-end {room} 1")
        assert bob.quit() == 0
        bob = start(stack, "bob", "hub", "lobby")
        bob.send(f"/join {room}")
        assert bob.expect("error ").startswith("error banned")
    finally:
        assert alice.quit() == 0
        assert bob.quit() == 0
        drop_room(stack, room)


def test_full_screen_shows_seqs_edits_tombstones_reactions_replies_topic_and_completes_names(stack):
    import re
    from test_chat_tui import Tui
    room = "tops" + uuid.uuid4().hex[:6]
    word = uuid.uuid4().hex[:6]
    alice = Tui(stack, "alice", "leaf")
    bob = Tui(stack, "bob", "hub")
    try:
        alice.wait("online")
        bob.wait("online")
        alice.type(f"/create {room}")
        alice.wait(f"| alice | #{room}")
        alice.type(f"/invite bob {room}")
        alice.wait(f"invite bob {room}")
        bob.type(f"/join {room}")
        bob.wait(f"| bob | #{room}")
        bob.type(f"hi {word}")
        alice.wait(f"<bob> hi {word}")
        # Each message shows its number once known: alice's from her
        # receipt, on bob's screen from history-svc.
        alice.type(f"hello {word}")
        screen = bob.wait(lambda s: re.search(r"\[(\d+)\] <alice> hello " + word, s))
        seq = int(re.search(r"\[(\d+)\] <alice> hello " + word, screen).group(1))
        alice.wait(f"[{seq}] <alice> hello {word}")
        # A reply quotes one row of the message; @name completes with Tab.
        bob.type(f"/reply {seq} sure {word} @al", enter=False)
        bob.keys("Tab")
        bob.wait(f"> /reply {seq} sure {word} @alice")
        bob.keys("Enter")
        screen = alice.wait(f"<bob> sure {word} @alice")
        lines = screen.splitlines()
        reply = next(i for i, l in enumerate(lines) if f"<bob> sure {word}" in l)
        assert f"> [{seq}] <alice> hello {word}" in lines[reply - 1], screen
        answer = int(re.search(r"\[(\d+)\] <bob> sure", bob.wait(lambda s: re.search(r"\[\d+\] <bob> sure", s))).group(1))
        # Edit, reaction, delete.
        alice.type(f"/edit {seq} hello again {word}")
        bob.wait(f"<alice> hello again {word} (edited)")
        bob.type(f"/react {seq} 👍")
        alice.wait("👍 1 (bob)")
        alice.type(f"/delete {answer}")
        bob.wait(f"[{answer}] <bob> (message deleted by alice)")
        # A thread: the status line says lines go to it; the root counts replies.
        alice.type(f"/thread {seq}")
        alice.wait(f"| alice | #{room} thread [{seq}] |")
        alice.type(f"in the thread {word}")
        bob.wait(f"<alice> (thread) in the thread {word}")
        bob.wait(f"1 reply: /thread {seq}")
        alice.type("/thread")
        alice.wait(f"| alice | #{room} |")
        # The topic heads the pane (from the meta topic, or the next room list).
        alice.type(f"/topic plans {word}")
        bob.wait(f"topic: plans {word}")
    finally:
        alice.close()
        bob.close()
        drop_room(stack, room)


def test_catch_up_after_a_reconnect_applies_the_stored_events_in_order(stack):
    """bob's node (the leaf) dies; meanwhile alice edits her message, reacts
    to it and writes another on the hub. When the leaf is back, bob's chat
    catches up with `history after` and applies each stored event once,
    in seq order, between the messages."""
    import os
    import signal
    from test_chat_client import pid_of
    room = fresh_room(stack, "alice", "bob", prefix="ops")
    word = uuid.uuid4().hex[:8]
    bob = Chat(stack, "bob", "leaf", extra=("--room", room, "--reconnect-min", "200", "--reconnect-max", "1000"))
    alice = stack.client("alice", "hub")
    alice.subscribe(f"chat/v1/users/alice/inbox")
    topic = f"chat/v1/rooms/{room}/msg/alice"

    def stored(payload):
        alice.publish(topic, payload)
        return alice.expect_json("chat/v1/users/alice/inbox",
                                 lambda d: d.get("type") == "receipt" and d["id"] == payload["id"])["seq"]
    try:
        bob.expect("status connected")
        first = stored({"id": "a" + word, "body": f"before {word}"})
        assert bob.expect(f"seq {room} ") == f"seq {room} {first} alice a{word}"
        os.kill(pid_of(stack, "leaf"), signal.SIGKILL)
        bob.expect("status disconnected")
        edit = stored({"id": "e" + word, "kind": "edit", "ref": first, "text": f"after {word}"})
        later = stored({"id": "b" + word, "body": f"while away {word}"})
        react = stored({"id": "r" + word, "kind": "react", "ref": first, "reaction": "🎉"})
        assert first < edit < later < react
        up = stack.script("up", check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        bob.expect("status connected")
        assert bob.expect(f"edit {room} ") == f"edit {room} {first} alice after {word}"
        assert bob.expect(f"msg {room} ") == f"msg {room} alice while away {word}"
        assert bob.expect(f"msg-info {room} ").startswith(f"msg-info {room} {later} alice b{word}")
        assert bob.expect(f"react {room} ") == f"react {room} {first} alice 🎉"
        bob.send("/rooms")
        bob.expect("rooms-end ")
        assert sum(1 for l in bob.seen if l.startswith(f"edit {room} ")) == 1, bob.seen
    finally:
        assert bob.quit() == 0
        drop_room(stack, room)


def test_more_fetches_the_next_page_of_the_last_search(stack):
    room = fresh_room(stack, "alice", "bob", prefix="srch")
    word = "w" + uuid.uuid4().hex[:8]
    bob = start(stack, "bob", "hub", room)
    try:
        bob.send("/more")
        assert bob.expect("error ").startswith("error usage"), "no search to continue yet"
        seqs = []
        for i in range(25):
            bob.send(f"note{i} {word}")
            seqs.append(receipt_seq(bob, room))
        # A page holds 20 (history-svc's default); its end gives the cursor.
        bob.send(f"/search #{room} {word}")
        page1 = [bob.expect(f"found {room} ") for _ in range(20)]
        end = bob.expect("search-end ").split()
        assert end[1] == "20" and end[2] != "-", end
        bob.send("/more")
        page2 = [bob.expect(f"found {room} ") for _ in range(5)]
        assert bob.expect("search-end ") == "search-end 5 -"
        found = [int(line.split()[2]) for line in page1 + page2]
        assert found == sorted(seqs, reverse=True), found  # every one once, newest first
        # The last page had no next: /more says so.
        bob.send("/more")
        assert bob.expect("error ").startswith("error usage")
    finally:
        assert bob.quit() == 0
        drop_room(stack, room)


def test_full_screen_shows_seen_by_under_ones_newest_message_live(stack):
    """Read markers moving (the meta topic's "read") show as "seen by"
    under alice's newest message, only for members who share them."""
    import re
    from conftest import inbox, req_topic
    from test_chat_tui import Tui
    r1, r2 = "rd" + uuid.uuid4().hex[:6], "rp" + uuid.uuid4().hex[:6]
    for u in (r1, r2):
        stack.add_user(u, "reader-pw-1")
    room = fresh_room(stack, "alice", r1, r2, prefix="seen")
    word = uuid.uuid4().hex[:6]
    reader = stack.client(r1, "hub", password="reader-pw-1")
    private = stack.client(r2, "hub", password="reader-pw-1")
    private.subscribe(inbox(r2))
    private.publish(req_topic(r2), {"op": "prefs", "req_id": "p1", "share_read": False})
    assert private.expect_json(inbox(r2), lambda d: d.get("req_id") == "p1")["share_read"] is False
    alice = Tui(stack, "alice", "leaf", room=room)

    def read(client, user, seq):
        client.publish(req_topic(user), {"op": "read", "req_id": "r" + uuid.uuid4().hex[:6], "room": room, "seq": seq})

    def seq_of(text):
        pattern = r"\[(\d+)\] <alice> " + text
        return int(re.search(pattern, alice.wait(lambda s: re.search(pattern, s))).group(1))
    try:
        alice.wait(f"| alice | #{room}")
        alice.type(f"first {word}")
        first = seq_of(f"first {word}")
        # r2 (not sharing) reads first: once history-svc has answered, r1's
        # marker is announced after anything r2's would have been.
        read(private, r2, first)
        assert private.expect_json(inbox(r2), lambda d: d.get("op") == "read")["ok"] is True
        read(reader, r1, first)
        screen = alice.wait(f"seen by {r1}")
        lines = screen.splitlines()
        row = next(i for i, l in enumerate(lines) if f"<alice> first {word}" in l)
        assert f"seen by {r1}" in lines[row + 1] and r2 not in lines[row + 1], screen
        # A newer message of hers: "seen by" moves under it once r1 reads it.
        alice.type(f"second {word}")
        second = seq_of(f"second {word}")
        alice.wait(lambda s: f"seen by {r1}" not in s)
        read(reader, r1, second)
        screen = alice.wait(f"seen by {r1}")
        lines = screen.splitlines()
        row = next(i for i, l in enumerate(lines) if f"<alice> second {word}" in l)
        assert f"seen by {r1}" in lines[row + 1] and r2 not in lines[row + 1], screen
    finally:
        alice.close()
        reader.close()
        private.close()
        drop_room(stack, room)


def test_full_screen_counts_a_mention_once_live_and_after_catch_up_until_the_room_is_read(stack):
    """The room list's "UNREAD@MENTIONS": a mention of bob made live in a
    room he is not looking at counts once (the message and the inbox
    notice are the same mention); one made while he was away counts from
    history-svc's `rooms`; reading the room clears it."""
    import re
    from conftest import inbox, req_topic, wait_until
    from test_chat_client import Chat
    from test_chat_tui import Tui
    room = fresh_room(stack, "alice", "bob", name="m" + uuid.uuid4().hex[:8])
    home = fresh_room(stack, "bob", name="h" + uuid.uuid4().hex[:8])
    word = uuid.uuid4().hex[:6]
    row = re.compile(rf"#{room}\s+(\d+@\d+|\d+)?\s*│")
    probe = stack.client("bob", "hub")
    probe.subscribe(inbox("bob"))

    def count(screen):
        m = row.search(screen)
        return m and (m.group(1) or "0")

    def stored_mentions():
        rid = "p" + uuid.uuid4().hex[:8]
        probe.publish(req_topic("bob"), {"op": "rooms", "req_id": rid})
        reply = probe.expect_json(inbox("bob"), lambda d: d.get("req_id") == rid)
        return next(r for r in reply["rooms"] if r["name"] == room)["mentions"]

    alice = Chat(stack, "alice", "hub", extra=("--room", room))
    bob = Tui(stack, "bob", "leaf", room=home)
    try:
        alice.expect("status connected")
        bob.wait(f"| bob | #{home}")
        bob.wait(lambda s: count(s) == "0")
        alice.send(f"look @bob {word}")
        receipt_seq(alice, room)
        screen = bob.wait(f"alice mentioned you in #{room}")
        screen = bob.wait(lambda s: count(s) not in (None, "0"))
        assert count(screen) == "1@1", screen
        bob.type(f"/room {room}")
        bob.wait(f"<alice> look @bob {word}")
        bob.wait(lambda s: count(s) == "0")
        assert wait_until(lambda: stored_mentions() == 0), "bob's read marker did not move"
        bob.close()
        # Away: the mention is counted from history-svc's rooms at start.
        alice.send(f"again @bob {word}")
        receipt_seq(alice, room)
        assert wait_until(lambda: stored_mentions() == 1)
        bob = Tui(stack, "bob", "leaf", room=home)
        screen = bob.wait(lambda s: count(s) not in (None, "0"))
        assert count(screen) == "1@1", screen
        bob.type(f"/room {room}")
        bob.wait(f"<alice> again @bob {word}")
        bob.wait(lambda s: count(s) == "0")
        assert wait_until(lambda: stored_mentions() == 0), "bob's read marker did not move"
    finally:
        bob.close()
        assert alice.quit() == 0
        probe.close()
        drop_room(stack, room)
        drop_room(stack, home)


def test_full_screen_more_shows_the_next_page_of_a_search(stack):
    from test_chat_tui import Tui
    room = fresh_room(stack, "alice", "bob", prefix="tsr")
    word = "w" + uuid.uuid4().hex[:8]
    bob = start(stack, "bob", "hub", room)
    alice = Tui(stack, "alice", "leaf", room=room)
    try:
        for i in range(21):
            bob.send(f"item{i} {word}")
            receipt_seq(bob, room)
        alice.wait(f"<bob> item20 {word}")
        alice.type(f"/search {word}")
        alice.wait("20 found (/more: the next page)")
        alice.type("/more")
        screen = alice.wait("-- 1 found")
        assert f"#{room} [" in screen and f"<bob> item0 {word}" in screen, screen
        assert "1 found (/more" not in screen, screen
    finally:
        alice.close()
        assert bob.quit() == 0
        drop_room(stack, room)
