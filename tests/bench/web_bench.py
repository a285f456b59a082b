#!/usr/bin/python3
"""Web client benchmark (docs/BENCHMARKS.md, "Web client").

Starts a private stack (scripts/stack.sh, as the integration tests do),
writes a room of --messages numbered messages straight into MariaDB, and
drives Debian's headless Chromium (Selenium) on the leaf's WebSockets
listener:
  1. page load -> the latest 50 messages shown: from the login click to the
     50th message in the DOM, timed inside the page (performance.now());
  2. scrolling back through --scrollback messages (50 per page): time per
     page, and the page's DOM nodes and JS heap (Chromium's Performance
     metrics, after a forced garbage collection) before and after;
  3. --live live messages published by a Paho client on the hub: time until
     the last one is shown, and the heap and DOM after.
Prints one JSON object. Stops everything it started (stack.sh down).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import Stack  # noqa: E402
from test_web import Page, seed_messages, subscription_granted, wait_until  # noqa: E402


def metrics(page):
    page.driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    m = {x["name"]: x["value"] for x in page.driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    return {"dom_nodes": int(m["Nodes"]), "js_heap_mb": round(m["JSHeapUsedSize"] / 2**20, 2),
            "messages_drawn": page.js("return document.querySelectorAll('#messages .msg').length")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--scrollback", type=int, default=5000)
    ap.add_argument("--live", type=int, default=20000)
    ap.add_argument("--keep", action="store_true", help="keep the state directory")
    args = ap.parse_args()
    var = tempfile.mkdtemp(prefix="web-bench-")
    os.chmod(var, 0o755)
    stack = Stack(var)
    stack.env["CHAT_LOG_LEVEL"] = "info"
    page = None
    out = {"messages": args.messages}
    try:
        up = stack.script("up", check=False)
        if up.returncode != 0:
            raise RuntimeError(f"stack up failed:\n{up.stdout}\n{up.stderr}")
        user, room = "webbench", "web-bench"
        stack.add_user(user, "bench-pw-" + uuid.uuid4().hex[:8])
        assert stack.chatctl("room", "create", room).returncode == 0
        for u in (user, "bob"):
            assert stack.chatctl("member", "add", room, u).returncode == 0
        t = time.monotonic()
        seed_messages(stack, room, "bob", args.messages)
        out["seed_s"] = round(time.monotonic() - t, 1)
        for u, node in ((user, "leaf"), ("bob", "hub")):   # the plugins have loaded the memberships
            wait_until(lambda: subscription_granted(stack, u, node, f"chat/v1/rooms/{room}/msg/+"), 30,
                       f"{u} a member on the {node}")

        page = Page()
        page.driver.execute_cdp_cmd("Performance.enable", {})
        url = f"http://127.0.0.1:{stack.port('leaf_ws')}/"
        page.open(url)
        page.js("""window.__t = {};
            document.getElementById('login-form').addEventListener('submit', () => {
              window.__t.submit = performance.now();
              new MutationObserver((_, obs) => {
                if (document.querySelectorAll('#messages .msg').length >= 50) {
                  window.__t.shown = performance.now(); obs.disconnect(); }
              }).observe(document.getElementById('messages'), {childList: true});
            }, true);""")
        page.driver.find_element("id", "login-user").send_keys(user)
        page.driver.find_element("id", "login-password").send_keys(stack.password(user))
        page.driver.find_element("id", "login-submit").click()
        wait_until(lambda: page.js("return window.__t.shown"), 60, "the latest 50 messages")
        seqs = [m["seq"] for m in page.messages()]
        assert seqs == list(range(args.messages - 49, args.messages + 1)), seqs[:3]
        out["load_to_latest_50_ms"] = round(page.js("return window.__t.shown - window.__t.submit"), 1)
        out["after_load"] = metrics(page)

        # Scrolled from inside the page: polling the DOM through WebDriver
        # calls leaves objects behind in the page and would be measured too.
        page.driver.set_script_timeout(600)
        pages, took = page.driver.execute_async_script("""
            const done = arguments[arguments.length - 1], target = arguments[0];
            const box = document.getElementById('messages'), t0 = performance.now();
            const first = () => Number(box.querySelector('.msg').dataset.seq);
            let pages = 0;
            const step = () => {
              const f = first();
              if (f <= target) { done([pages, performance.now() - t0]); return; }
              box.scrollTop = 0;
              const wait = () => { if (first() < f) { pages++; step(); } else setTimeout(wait, 5); };
              wait();
            };
            step();""", args.messages - args.scrollback + 1)
        out["scrollback"] = {"messages": args.scrollback, "pages": pages,
                             "ms_per_page": round(took / max(pages, 1), 1), **metrics(page)}

        # Back at the newest end (reopening the room), then the live burst.
        page.js("document.querySelector('#rooms .room').click()")
        wait_until(lambda: page.messages()[-1]["seq"] == args.messages, 30, "the newest end again")
        bob = stack.client("bob", "hub")
        t = time.monotonic()
        last = f"live {args.live:06d}"
        for i in range(1, args.live + 1):
            bob.client.publish(f"chat/v1/rooms/{room}/msg/bob",
                               json.dumps({"id": f"l{i}", "body": f"live {i:06d}"}), qos=1)
        page.driver.execute_async_script("""
            const done = arguments[arguments.length - 1], last = arguments[0];
            const wait = () => {
              const all = document.querySelectorAll('#messages .msg .body');
              if (all.length && all[all.length - 1].textContent === last) done(); else setTimeout(wait, 20);
            };
            wait();""", last)
        out["live"] = {"messages": args.live, "seconds_to_last_shown": round(time.monotonic() - t, 1),
                       **metrics(page)}
        print(json.dumps(out, indent=1))
    finally:
        if page:
            page.quit()
        for c in stack.clients:
            c.close()
        stack.script("down", check=False)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
