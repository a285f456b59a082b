"""The web client (web/, docs/WEB.md) in a real browser: Debian's headless
Chromium driven by Selenium, the page served by the leaf broker's WebSockets
listener (http_dir) of the test stack, talking MQTT over WebSockets to it.
Others in the room are Paho clients on the hub, across the bridge.

Screenshots of the main screens are saved in $CHAT_BUILD/web-screenshots/.
"""
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.request
import uuid

import pytest
from conftest import wait_for

from conftest import BUILD, ROOT

selenium = pytest.importorskip("selenium", reason="python3-selenium is not installed (make deps)")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

SHOTS = os.path.join(BUILD, "web-screenshots")
BUNDLE = os.path.join(ROOT, "web", "node_modules", "mqtt", "dist", "mqtt.min.js")


def wait_until(condition, timeout=20.0, what="the condition"):
    """Polls condition() until it returns something true; returns that (a
    redraw may replace an element under us: an exception counts as false)."""
    return wait_for(condition, what, timeout, retry_on=Exception)


class Page:
    """One Chromium with helpers that read the chat screen as a user sees it."""

    def __init__(self, extra_args=()):
        self.profile = tempfile.mkdtemp(prefix="chat-web-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1100,760", f"--user-data-dir={self.profile}",
                    *extra_args):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = ChromeService(executable_path="/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(options=opts, service=service)
        self.driver.set_page_load_timeout(30)

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def open(self, url):
        self.driver.get(url)
        wait_until(lambda: self.js("return document.readyState") == "complete", what="page load")

    def login(self, url, user, password, expect_ok=True):
        self.open(url)
        self.driver.find_element(By.ID, "login-user").send_keys(user)
        self.driver.find_element(By.ID, "login-password").send_keys(password)
        self.driver.find_element(By.ID, "login-submit").click()
        if expect_ok:
            self.wait_online()

    def wait_online(self, timeout=30):
        wait_until(lambda: self.js("return document.body.dataset.conn") == "connected"
                   and self.js("return document.querySelectorAll('#rooms .room').length") > 0,
                   timeout, "connected chat screen with rooms")

    def messages(self):
        """The message list as shown: [{sender, body, state, seq}] top to bottom."""
        return self.js("""return Array.from(document.querySelectorAll('#messages .msg')).map(m => ({
            sender: m.querySelector('.sender').textContent, body: m.querySelector('.body').textContent,
            state: m.dataset.state, seq: m.dataset.seq ? Number(m.dataset.seq) : null}));""")

    def bodies(self):
        return [m["body"] for m in self.messages()]

    def room_badges(self):
        """{room: unread count shown} for the rooms list."""
        return self.js("""const r = {}; document.querySelectorAll('#rooms .room').forEach(b => {
            const badge = b.querySelector('.badge:not(.mention-badge)'); r[b.dataset.room] = badge ? Number(badge.textContent) : 0; });
            return r;""")

    def select_room(self, name):
        self.driver.find_element(By.CSS_SELECTOR, f'#rooms .room[data-room="{name}"]').click()
        wait_until(lambda: self.js("return document.querySelector('#rooms [aria-current=true]')?.dataset.room")
                   == name, what=f"room {name} selected")

    def type_message(self, text):
        box = self.driver.find_element(By.ID, "composer-text")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def screenshot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SHOTS, name))

    def errors(self):
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def page():
    if not os.path.exists(BUNDLE):
        pytest.fail(f"{BUNDLE} is missing: run make deps (npm ci in web/)", pytrace=False)
    p = Page()
    yield p
    p.quit()


def web_url(stack, node="leaf"):
    return f"http://127.0.0.1:{stack.port(node + '_ws')}/"


def room_msg(room, sender):
    return f"chat/v1/rooms/{room}/msg/{sender}"


def stored_count(stack, room):
    return int(stack.sql(f"SELECT COUNT(*) FROM messages m JOIN rooms r ON r.id = m.room_id "
                         f"WHERE r.name = '{room}'")[0][0])


def new_room(stack, *users):
    name = "w" + uuid.uuid4().hex[:10]
    r = stack.chatctl("room", "create", name)
    assert r.returncode == 0, r.stderr
    for u in users:
        r = stack.chatctl("member", "add", name, u)
        assert r.returncode == 0, r.stderr
    # The plugins load memberships within their refresh interval: wait until
    # every broker grants each member a subscription to the room.
    for u in users:
        for node in ("hub", "leaf"):
            wait_until(lambda: subscription_granted(stack, u, node, f"chat/v1/rooms/{name}/msg/+"),
                       what=f"{u} a member of {name} on the {node}")
    return name


def subscription_granted(stack, user, node, topic):
    c = stack.client(user, node)
    try:
        granted = queue.Queue()
        c.client.on_subscribe = lambda cl, ud, mid, qos, *rest: granted.put(qos[0])
        c.client.subscribe(topic, qos=1)
        return granted.get(timeout=10) != 128
    finally:
        c.close()
        stack.clients.remove(c)


def publish_all(client, room, bodies):
    for body in bodies:
        client.publish(f"chat/v1/rooms/{room}/msg/{client.user}", {"id": uuid.uuid4().hex, "body": body})


def test_page_is_served_by_the_broker_with_a_content_security_policy(stack):
    html = urllib.request.urlopen(web_url(stack), timeout=10).read().decode()
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "script-src 'self'" in html and "connect-src 'self'" in html
    assert 'type="module"' not in html  # the broker sends no Content-Type
    for path in ("vendor/mqtt.min.js", "js/app.js", "app.css"):
        assert urllib.request.urlopen(web_url(stack) + path, timeout=10).status == 200
    # Served by the hub's listener as well.
    assert "Content-Security-Policy" in urllib.request.urlopen(web_url(stack, "hub"), timeout=10).read().decode()


def test_wrong_password_is_refused_and_the_password_is_never_stored(stack, page):
    page.login(web_url(stack), "alice", "not-the-password", expect_ok=False)
    wait_until(lambda: "refused" in page.driver.find_element(By.ID, "login-error").text,
               what="login refused message")
    password = stack.password("alice")
    page.login(web_url(stack), "alice", password)
    assert page.driver.find_element(By.ID, "login-password").get_attribute("value") == ""
    # Nothing the page can store holds the password: web storage, cookies, IndexedDB.
    stored = page.driver.execute_async_script("""const done = arguments[arguments.length - 1];
        const dump = JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie]);
        const req = indexedDB.open('mqtt-chat');
        req.onsuccess = () => { const db = req.result;
          if (!db.objectStoreNames.contains('outbox')) { done(dump); return; }
          const all = db.transaction('outbox').objectStore('outbox').getAll();
          all.onsuccess = () => done(dump + JSON.stringify(all.result)); };
        req.onerror = () => done(dump);""")
    assert password not in stored
    page.driver.find_element(By.ID, "logout").click()
    wait_until(lambda: page.driver.find_element(By.ID, "login-screen").is_displayed(), what="logged out")
    wait_until(lambda: page.js("return document.getElementById('chat-screen').hidden"), what="chat hidden")


def test_browser_and_paho_chat_across_the_bridge(stack, page):
    """alice in the browser on the leaf, bob with Paho on the hub."""
    bob = stack.client("bob", "hub")
    bob.subscribe("chat/v1/rooms/lobby/msg/+")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room("lobby")
    tag = uuid.uuid4().hex[:8]
    bob.publish(room_msg("lobby", "bob"), {"id": f"b-{tag}", "body": f"hi alice {tag}"})
    wait_until(lambda: f"hi alice {tag}" in page.bodies(), what="bob's message in the browser")

    page.type_message(f"hello bob {tag}")
    got = bob.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["body"] == f"hello bob {tag}")
    # Shown pending, then stored with its seq once the receipt came.
    mine = wait_until(lambda: [m for m in page.messages() if m["body"] == f"hello bob {tag}"
                               and m["state"] == "stored" and m["seq"]], what="the receipt shown")
    row = stack.sql(f"SELECT seq FROM messages WHERE msg_id = '{got['id']}'")
    assert [[str(mine[0]["seq"])]] == row
    seen = page.bodies()
    assert seen.index(f"hi alice {tag}") < seen.index(f"hello bob {tag}")
    assert seen.count(f"hello bob {tag}") == 1 and seen.count(f"hi alice {tag}") == 1
    page.screenshot("chat.png")
    assert not page.errors(), page.errors()


def test_two_browsers_chat_across_the_bridge(stack, page):
    """alice in the browser on the leaf, bob in a second browser on the hub."""
    room = new_room(stack, "alice", "bob")
    second = Page()
    try:
        page.login(web_url(stack), "alice", stack.password("alice"))
        second.login(web_url(stack, "hub"), "bob", stack.password("bob"))
        page.select_room(room)
        second.select_room(room)
        page.type_message("hello from the leaf")
        wait_until(lambda: second.bodies() == ["hello from the leaf"], what="alice's message in bob's browser")
        second.type_message("hello from the hub")
        want = ["hello from the leaf", "hello from the hub"]
        for p in (page, second):
            wait_until(lambda: p.bodies() == want and all(m["seq"] for m in p.messages()),
                       what="both messages, numbered, in both browsers")
        assert [m["seq"] for m in page.messages()] == [m["seq"] for m in second.messages()]
        second.screenshot("bob-browser.png")
    finally:
        second.quit()


XSS_BODIES = [
    '<img src=x onerror="window.__pwned=1">',
    '<script>window.__pwned=2</script>',
    'javascript:window.__pwned=3',
    '<a href="javascript:window.__pwned=4">click</a>',
    '<svg onload="window.__pwned=5"></svg>',
    '"><iframe src="javascript:window.parent.__pwned=6">',
]


def test_markup_in_bodies_stays_inert_text(stack, page):
    room = new_room(stack, "alice", "bob")
    bob = stack.client("bob", "hub")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    publish_all(bob, room, XSS_BODIES)
    wait_until(lambda: page.bodies() == XSS_BODIES, what="the markup bodies, as text")
    assert page.js("return document.querySelectorAll('#messages img, #messages script, #messages a, "
                   "#messages svg, #messages iframe').length") == 0
    for link in page.driver.find_elements(By.CSS_SELECTOR, "#messages .body"):
        link.click()  # clicking a "javascript:" text does nothing either
    assert page.js("return window.__pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        page.driver.switch_to.alert.text
    page.screenshot("xss-inert.png")


def test_unread_counts_and_history_scrollback(stack, page):
    room = new_room(stack, "alice", "bob")
    bob = stack.client("bob", "hub")
    bodies = [f"old message {i:03d}" for i in range(1, 131)]
    publish_all(bob, room, bodies)
    wait_until(lambda: stored_count(stack, room) == len(bodies), 60, "130 messages stored")
    page.login(web_url(stack), "alice", stack.password("alice"))
    wait_until(lambda: page.room_badges().get(room) == 130, what="unread count 130")
    page.select_room(room)
    # The latest page first, newest at the bottom, in order.
    wait_until(lambda: page.bodies() == bodies[-50:], what="the latest 50 messages")
    assert page.js("return document.querySelector('#messages .divider') !== null")
    page.screenshot("history.png")
    # Scrolling up pages back until the start of the room.
    for _ in range(20):
        if page.bodies() == bodies:
            break
        # Counted before the scroll: the older page may be drawn before a
        # count taken after it, and the view then no longer sits at the top.
        n = len(page.bodies())
        page.js("document.getElementById('messages').scrollTop = 0")
        wait_until(lambda: len(page.bodies()) > n or page.bodies() == bodies, what="an older page")
    assert page.bodies() == bodies
    assert [m["seq"] for m in page.messages()] == list(range(1, 131))
    wait_until(lambda: page.room_badges().get(room) == 0, what="unread count cleared")
    # The read marker moved on the server: a new session shows no unread.
    wait_until(lambda: stack.sql(f"SELECT k.seq FROM read_markers k JOIN rooms r ON r.id = k.room_id "
                                 f"JOIN users u ON u.id = k.user_id WHERE r.name = '{room}' "
                                 f"AND u.username = 'alice'") == [["130"]], what="read marker at 130")


def test_typing_and_presence_show(stack, page):
    carol = "wc" + uuid.uuid4().hex[:8]   # a user with no other connection open
    stack.add_user(carol, "carol-pw-" + uuid.uuid4().hex[:8])
    room = new_room(stack, "alice", carol)
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    state = lambda: page.js(f"return document.querySelector('#people [data-user={carol}]')?.dataset.state")  # noqa
    other = stack.client(carol, "hub")
    wait_until(lambda: state() == "online", what=f"{carol} shown online")
    other.publish(f"chat/v1/rooms/{room}/typing/{carol}", {"typing": True}, qos=0)
    wait_until(lambda: f"{carol} is typing" in page.driver.find_element(By.ID, "typing").text, what="typing shown")
    page.screenshot("typing-presence.png")
    other.publish(f"chat/v1/rooms/{room}/typing/{carol}", {"typing": False}, qos=0)
    wait_until(lambda: page.driver.find_element(By.ID, "typing").text == "", what="typing cleared")
    # alice typing is published (and stops when she sends).
    other.subscribe(f"chat/v1/rooms/{room}/typing/alice")
    page.driver.find_element(By.ID, "composer-text").send_keys("I am wri")
    other.expect_json(f"chat/v1/rooms/{room}/typing/alice", lambda d: d.get("typing") is True)
    page.driver.find_element(By.ID, "composer-text").send_keys("ting" + Keys.ENTER)
    other.expect_json(f"chat/v1/rooms/{room}/typing/alice", lambda d: d.get("typing") is False)
    other.close()
    wait_until(lambda: state() == "offline", what=f"{carol} shown offline")


def leaf_pid(stack):
    with open(os.path.join(stack.var, "run", "leaf.pid")) as f:
        return int(f.read())


def restart_leaf(stack):
    up = stack.script("up", check=False)
    assert up.returncode == 0, up.stderr


def test_leaf_sigkill_every_message_once_in_order(stack, page):
    """The leaf the browser is connected to dies (SIGKILL) and comes back:
    what was said meanwhile is caught up once, in order, and a message
    alice wrote while offline is stored once."""
    room = new_room(stack, "alice", "bob")
    bob = stack.client("bob", "hub")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/alice")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    before = [f"before {i}" for i in range(5)]
    publish_all(bob, room, before)
    wait_until(lambda: page.bodies() == before, what="the first messages")

    os.kill(leaf_pid(stack), signal.SIGKILL)
    wait_until(lambda: page.js("return document.body.dataset.conn") != "connected", what="browser offline")
    during = [f"during {i}" for i in range(5)]
    publish_all(bob, room, during)
    page.type_message("written offline")
    wait_until(lambda: [m["state"] for m in page.messages() if m["body"] == "written offline"] == ["pending"],
               what="the offline message pending")
    wait_until(lambda: stored_count(stack, room) == 10, what="bob's messages stored")
    restart_leaf(stack)
    page.wait_online(60)
    after = [f"after {i}" for i in range(5)]
    publish_all(bob, room, after)
    bob.expect_json(room_msg(room, "alice"), lambda d: d["body"] == "written offline", timeout=30)
    wait_until(lambda: [m["state"] for m in page.messages() if m["body"] == "written offline"] == ["stored"],
               what="the offline message stored")
    theirs = lambda: [b for b in page.bodies() if b != "written offline"]  # noqa: E731
    wait_until(lambda: theirs() == before + during + after, 30, "every message once, in order")
    assert page.bodies().count("written offline") == 1
    assert stack.sql(f"SELECT COUNT(*) FROM messages WHERE body = 'written offline' AND room_id = "
                     f"(SELECT id FROM rooms WHERE name = '{room}')") == [["1"]]
    # Everything numbered and in seq order once caught up.
    wait_until(lambda: all(m["seq"] for m in page.messages()), what="every message numbered")
    seqs = [m["seq"] for m in page.messages()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 16


def test_message_written_offline_survives_a_page_reload(stack, page):
    room = new_room(stack, "alice", "bob")
    bob = stack.client("bob", "hub")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/alice")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    os.kill(leaf_pid(stack), signal.SIGKILL)
    wait_until(lambda: page.js("return document.body.dataset.conn") != "connected", what="browser offline")
    page.type_message("kept across reload")
    wait_until(lambda: [m["state"] for m in page.messages() if m["body"] == "kept across reload"] == ["pending"],
               what="the message pending")
    page.driver.refresh()  # the tab's memory is gone; IndexedDB keeps the message
    restart_leaf(stack)
    page.login(web_url(stack), "alice", stack.password("alice"))
    got = bob.expect_json(room_msg(room, "alice"), lambda d: d["body"] == "kept across reload", timeout=30)
    page.select_room(room)
    wait_until(lambda: [m["state"] for m in page.messages() if m["body"] == "kept across reload"] == ["stored"],
               what="the message stored after the reload")
    assert stack.sql("SELECT msg_id FROM messages WHERE body = 'kept across reload'") == [[got["id"]]]


def part_pid(stack, part):
    with open(os.path.join(stack.var, "run", f"{part}.pid")) as f:
        return int(f.read())


def test_message_without_receipt_shows_failed_and_retry_stores_it_once(stack, page):
    room = new_room(stack, "alice", "bob")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    os.kill(part_pid(stack, "history-svc"), signal.SIGKILL)  # no receipts for now
    try:
        page.type_message("needs a retry")
        state = lambda: [m["state"] for m in page.messages() if m["body"] == "needs a retry"]  # noqa: E731
        wait_until(lambda: state() == ["pending"], what="the message pending")
        wait_until(lambda: state() == ["failed"], 40, "the message shown failed")
        page.screenshot("failed-retry.png")
        # Retry sends it again, same id; it waits, pending, for the archive.
        page.driver.find_element(By.CSS_SELECTOR, '#messages .msg[data-state="failed"] .retry').click()
        wait_until(lambda: state() == ["pending"], what="the message pending again")
    finally:
        restart = stack.script("up", check=False)
    assert restart.returncode == 0, restart.stderr
    wait_until(lambda: state() == ["stored"], 30, "the message stored")
    assert stack.sql(f"SELECT COUNT(*) FROM messages WHERE body = 'needs a retry' AND room_id = "
                     f"(SELECT id FROM rooms WHERE name = '{room}')") == [["1"]]


def test_browser_terminal_client_and_paho_see_the_same_order(stack, page):
    carol = "wt" + uuid.uuid4().hex[:8]
    password = "carol-pw-" + uuid.uuid4().hex[:8]
    stack.add_user(carol, password)
    room = new_room(stack, "alice", "bob", carol)
    bob = stack.client("bob", "leaf")
    bob.subscribe(f"chat/v1/rooms/{room}/msg/+")
    env = dict(os.environ, CHAT_PASSWORD=password)
    term = subprocess.Popen([os.path.join(BUILD, "chat"), "--plain", "--port", str(stack.port("hub")),
                             "--user", carol, "--room", room], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in term.stdout], daemon=True).start()
    try:
        page.login(web_url(stack), "alice", stack.password("alice"))
        page.select_room(room)
        said = []
        for i in range(3):
            for who in ("bob", carol, "alice"):
                body = f"{who} says {i}"
                if who == "bob":
                    bob.publish(room_msg(room, "bob"), {"id": uuid.uuid4().hex, "body": body})
                elif who == carol:
                    term.stdin.write(body + "\n")
                    term.stdin.flush()
                else:
                    page.type_message(body)
                said.append(body)
                n = len(said)
                wait_until(lambda: stored_count(stack, room) == n, what=f"{body!r} stored")
        wait_until(lambda: page.bodies() == said, what="the browser showing every message in order")
        got = [json.loads(bob.expect(lambda t, p: True, what="a room message")[1])["body"] for _ in said]
        assert got == said
        shown = []
        while len(shown) < len(said):
            line = lines.get(timeout=10)
            if line.startswith(f"msg {room} "):
                shown.append(line.split(" ", 3)[3])
        assert shown == said
        page.screenshot("three-clients.png")
    finally:
        term.stdin.close()
        term.wait(timeout=20)


def test_create_join_invite_kick_dm_status_and_leave_from_the_composer(stack, page):
    page.login(web_url(stack), "alice", stack.password("alice"))
    name = "wc" + uuid.uuid4().hex[:10]
    notice = lambda: page.driver.find_element(By.ID, "notice").text  # noqa: E731
    page.type_message(f"/create {name}")
    wait_until(lambda: page.js("return document.querySelector('#rooms [aria-current=true]')?.dataset.room")
               == name, what="the new room open")
    page.type_message("/invite bob")
    wait_until(lambda: notice() == f"invited bob to #{name}", what="invite confirmed")
    wait_until(lambda: subscription_granted(stack, "bob", "hub", f"chat/v1/rooms/{name}/msg/+"),
               what="bob a member")
    bob = stack.client("bob", "hub")
    bob.publish(room_msg(name, "bob"), {"id": uuid.uuid4().hex, "body": "thanks for the invite"})
    wait_until(lambda: page.bodies() == ["thanks for the invite"], what="bob's message in the new room")

    page.type_message("/status away lunch, back at 2")
    wait_until(lambda: page.js("return document.querySelector('#people [data-user=alice]')?.dataset.state")
               == "away", what="alice shown away")
    assert "lunch, back at 2" in page.driver.find_element(By.CSS_SELECTOR, "#people [data-user=alice]").text

    # bob opens a public room; alice finds and joins it.
    pub = "wj" + uuid.uuid4().hex[:10]
    bob.subscribe("chat/v1/users/bob/inbox")
    bob.publish("chat/v1/users/bob/req/history", {"op": "create", "req_id": "c1", "room": pub})
    bob.expect_json("chat/v1/users/bob/inbox", lambda d: d.get("req_id") == "c1" and d["ok"])
    page.type_message(f"/join {pub}")
    wait_until(lambda: page.js("return document.querySelector('#rooms [aria-current=true]')?.dataset.room")
               == pub, what="the joined room open")
    page.type_message("/rooms")
    wait_until(lambda: notice().startswith("public rooms:") and f"{name} (2)" in notice(), what="the directory")
    page.type_message("/dm bob")
    wait_until(lambda: page.driver.find_element(By.ID, "room-title").text == "@bob", what="the direct room open")
    # Keyboard: Alt+Up goes to the room above in the list, from the composer.
    names = page.js("return Array.from(document.querySelectorAll('#rooms .room')).map(b => b.dataset.room)")
    above = names[names.index(page.js("return document.querySelector('#rooms [aria-current=true]').dataset.room"))
                  - 1]
    page.driver.find_element(By.ID, "composer-text").send_keys(Keys.ALT, Keys.ARROW_UP)
    wait_until(lambda: page.js("return document.querySelector('#rooms [aria-current=true]').dataset.room")
               == above, what="Alt+Up")
    page.select_room(name)
    page.type_message("/kick bob")
    wait_until(lambda: notice() == f"removed bob from #{name}", what="kick confirmed")
    page.type_message("/leave")
    wait_until(lambda: name not in page.room_badges(), what="the room gone from the list")
    page.type_message("/status online")


def test_phone_sized_screen_shows_one_pane_at_a_time(stack, page):
    page.driver.set_window_size(390, 780)
    try:
        page.login(web_url(stack), "alice", stack.password("alice"))
        shown = lambda el: page.driver.find_element(By.ID, el).is_displayed()  # noqa: E731
        wait_until(lambda: shown("sidebar") and not shown("room-view"), what="the rooms list first")
        page.select_room("lobby")
        wait_until(lambda: shown("room-view") and not shown("sidebar"), what="the room alone")
        page.screenshot("phone-room.png")
        page.driver.find_element(By.ID, "back").click()
        wait_until(lambda: shown("sidebar") and not shown("room-view"), what="the rooms list alone")
        page.screenshot("phone-rooms.png")
    finally:
        page.driver.set_window_size(1100, 760)


def test_mentions_are_counted_and_notified_in_the_background(stack, page):
    room = new_room(stack, "alice", "bob")
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.type_message("/dm bob")
    wait_until(lambda: page.driver.find_element(By.ID, "room-title").text == "@bob", what="the direct room")
    dm = page.js("return document.querySelector('#rooms [aria-current=true]').dataset.room")
    page.select_room("lobby")
    # The tab goes to the background; notifications are recorded instead of shown.
    page.js("""window.__notes = [];
        window.Notification = function (title, opts) { window.__notes.push([title, opts.body]); };
        window.Notification.permission = 'granted';
        Object.defineProperty(document, 'visibilityState', {get: () => 'hidden', configurable: true});""")
    bob = stack.client("bob", "hub")
    publish_all(bob, room, ["just chatting", "@alice have a look", "mail@alice.example is not a mention"])
    wait_until(lambda: page.js(f"return document.querySelector('#rooms [data-room={room}] .mention-badge')"
                               "?.textContent") == "@1", what="one mention counted")
    assert page.room_badges()[room] == 3
    assert page.js("return window.__notes") == [[f"bob in #{room}", "@alice have a look"]]
    publish_all(bob, dm, ["a direct word"])
    wait_until(lambda: page.js("return window.__notes.length") == 2, what="the direct message notified")
    assert page.js("return window.__notes[1]") == ["bob in @bob", "a direct word"]
    page.select_room(room)
    wait_until(lambda: page.js("return document.querySelectorAll('#messages .msg.mention').length") == 1,
               what="the mention marked")
    assert page.js(f"return document.querySelector('#rooms [data-room={room}] .mention-badge')") is None


def seed_messages(stack, room, sender, count):
    """Writes count numbered messages into room's archive directly (fast
    set-up for long histories); bodies "seeded 00001", ..."""
    stack.sql(f"INSERT INTO messages (room_id, seq, msg_id, sender_id, body) "
              f"SELECT r.id, s.seq, CONCAT('seed', s.seq), u.id, CONCAT('seeded ', LPAD(s.seq, 5, '0')) "
              f"FROM seq_1_to_{count} s, rooms r, users u WHERE r.name = '{room}' AND u.username = '{sender}'")
    stack.sql(f"UPDATE rooms SET last_seq = {count} WHERE name = '{room}'")


def test_long_scrollback_keeps_the_page_bounded(stack, page):
    """Paging back through 1,000 messages and down again: every message
    reachable in order, never more than 400 drawn at once."""
    room = new_room(stack, "alice", "bob")
    seed_messages(stack, room, "bob", 1000)
    page.login(web_url(stack), "alice", stack.password("alice"))
    page.select_room(room)
    wait_until(lambda: [m["seq"] for m in page.messages()] == list(range(951, 1001)), what="the latest page")
    seen, most = set(), 0

    def step(where, edge_seq):
        """Scrolls to where and waits for the next page, unless the page
        shown already reached edge_seq (the client keeps paging by itself
        while the view stays at an edge, so the last page may have come
        before this step looked)."""
        nonlocal most
        before = page.messages()
        page.js(f"const b = document.getElementById('messages'); b.scrollTop = {where};")
        wait_until(lambda: page.messages() != before or edge_seq in (before[0]["seq"], before[-1]["seq"]),
                   what=f"another page after scrollTop = {where} (from seq {before[0]['seq']}..{before[-1]['seq']})")
        shown = page.messages()
        seqs = [m["seq"] for m in shown]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a disorder"
        seen.update(seqs)
        most = max(most, len(shown))
        return seqs
    while step(0, 1)[0] != 1:
        pass
    assert seen == set(range(1, 1001))
    while step("b.scrollHeight", 1000)[-1] != 1000:
        pass
    wait_until(lambda: not page.js("return document.querySelector('#messages .more') !== null"),
               what="no 'newer messages below' once the newest page is shown")
    assert [m["seq"] for m in page.messages()][-1] == 1000
    assert most <= 400, f"{most} messages drawn at once"
