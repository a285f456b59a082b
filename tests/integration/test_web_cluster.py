"""The web client on the cluster (`make up NODES=N`): served through HAProxy
over HTTPS, with MQTT over wss:// to a leaf, chatting with a Paho client on
the hub. The browser trusts exactly the cluster's HAProxy certificate (by
its public key), not every certificate."""
import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
import uuid

import pytest

from conftest import BUILD, ROOT, Client, free_port
from test_web import Page, wait_until, BUNDLE

pytest.importorskip("selenium", reason="python3-selenium is not installed (make deps)")


class WebCluster:
    """A one-leaf cluster (hub, leaf1, HAProxy, TLS) in its own directory."""

    def __init__(self):
        self.var = tempfile.mkdtemp(prefix="chat-webclu-")
        os.chmod(self.var, 0o755)
        names = ["db", "hub", "leaf", "lb", "lb_tls", "hub_tls", "leaf_tls", "hub_ws", "leaf_ws", "lb_web",
                 "lb_web_tls"]
        self.ports = {n: free_port() for n in names}
        p = self.ports
        self.env = dict(os.environ, CHAT_VAR=self.var, CHAT_BUILD=BUILD, CHAT_NODES="1",
                        CHAT_DB_PORT=str(p["db"]), CHAT_HUB_PORT=str(p["hub"]), CHAT_LEAF_PORT=str(p["leaf"]),
                        CHAT_LB_PORT=str(p["lb"]), CHAT_LB_TLS_PORT=str(p["lb_tls"]),
                        CHAT_HUB_TLS_PORT=str(p["hub_tls"]), CHAT_LEAF_TLS_PORT=str(p["leaf_tls"]),
                        CHAT_HUB_WS_PORT=str(p["hub_ws"]), CHAT_LEAF_WS_PORT=str(p["leaf_ws"]),
                        CHAT_LB_WEB_PORT=str(p["lb_web"]), CHAT_LB_WEB_TLS_PORT=str(p["lb_web_tls"]))
        self.clients = []

    def script(self, *args):
        return subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), *args], env=self.env,
                              capture_output=True, text=True, timeout=240)

    def port(self, node):
        return self.ports[node]

    def password(self, user):
        with open(os.path.join(self.var, "secrets", f"user-{user}")) as f:
            return f.read().strip()

    def spki_hash(self):
        """base64 SHA-256 of HAProxy's certificate's public key (Chromium's pin format)."""
        der = subprocess.run(["openssl", "x509", "-in", os.path.join(self.var, "tls", "lb.crt"), "-pubkey",
                              "-noout"], capture_output=True, check=True).stdout
        key = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=der, capture_output=True,
                             check=True).stdout
        return base64.b64encode(hashlib.sha256(key).digest()).decode()


@pytest.fixture(scope="module")
def cluster():
    if not os.path.exists(BUNDLE):
        pytest.fail(f"{BUNDLE} is missing: run make deps (npm ci in web/)", pytrace=False)
    c = WebCluster()
    up = c.script("up")
    if up.returncode != 0:
        c.script("down")
        pytest.fail(f"stack.sh up (cluster) failed:\n{up.stdout}\n{up.stderr}", pytrace=False)
    yield c
    for cl in c.clients:
        cl.close()
    c.script("down")
    shutil.rmtree(c.var, ignore_errors=True)


def test_web_client_through_haproxy_over_tls_chats_with_the_hub(cluster):
    https = f"https://localhost:{cluster.port('lb_web_tls')}/"
    ctx = ssl.create_default_context(cafile=os.path.join(cluster.var, "tls", "ca.crt"))
    assert "Content-Security-Policy" in urllib.request.urlopen(https, context=ctx, timeout=10).read().decode()
    http = f"http://127.0.0.1:{cluster.port('lb_web')}/"
    assert "Content-Security-Policy" in urllib.request.urlopen(http, timeout=10).read().decode()

    page = Page(extra_args=[f"--ignore-certificate-errors-spki-list={cluster.spki_hash()}"])
    try:
        bob = Client(cluster, "bob", "hub")
        cluster.clients.append(bob)
        bob.subscribe("chat/v1/rooms/lobby/msg/alice")
        page.login(https, "alice", cluster.password("alice"))
        assert page.js("return location.protocol") == "https:"
        page.select_room("lobby")
        tag = uuid.uuid4().hex[:8]
        page.type_message(f"over wss {tag}")
        bob.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["body"] == f"over wss {tag}")
        bob.publish("chat/v1/rooms/lobby/msg/bob", {"id": uuid.uuid4().hex, "body": f"back to you {tag}"})
        wait_until(lambda: page.bodies()[-2:] == [f"over wss {tag}", f"back to you {tag}"],
                   what="both messages in the browser")
        assert not page.errors(), page.errors()
    finally:
        page.quit()
