"""The cluster of `make up NODES=3` on loopback: hub + 3 leaves bridged over
TLS, HAProxy in front of the leaves, TLS and WebSockets listeners.

Started with the same scripts/stack.sh (CHAT_NODES=3) in its own state
directory and on free ports; stopped by `stack.sh down` (pid files)."""
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import uuid

import pytest

import conftest
from conftest import BUILD, ROOT, free_port, start_process, wait_until

NODES = 3


def free_ports(n):
    """n consecutive free ports (the leaves' ports are base, base+1, ...)."""
    for _ in range(50):
        base = free_port()
        if base + n >= 65535:
            continue
        import socket
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self):
        self.var = tempfile.mkdtemp(prefix="chat-cluster-")
        os.chmod(self.var, 0o755)
        self.ports = {"db": free_port(), "hub": free_port(), "leaf": free_ports(NODES), "lb": free_port(),
                      "lb_tls": free_port(), "hub_tls": free_port(), "leaf_tls": free_ports(NODES),
                      "hub_ws": free_port(), "leaf_ws": free_ports(NODES), "lb_web": free_port(),
                      "lb_web_tls": free_port()}
        p = self.ports
        self.env = dict(os.environ, CHAT_VAR=self.var, CHAT_BUILD=BUILD, CHAT_NODES=str(NODES),
                        CHAT_DB_PORT=str(p["db"]), CHAT_HUB_PORT=str(p["hub"]), CHAT_LEAF_PORT=str(p["leaf"]),
                        CHAT_LB_PORT=str(p["lb"]), CHAT_LB_TLS_PORT=str(p["lb_tls"]),
                        CHAT_HUB_TLS_PORT=str(p["hub_tls"]), CHAT_LEAF_TLS_PORT=str(p["leaf_tls"]),
                        CHAT_HUB_WS_PORT=str(p["hub_ws"]), CHAT_LEAF_WS_PORT=str(p["leaf_ws"]),
                        CHAT_LB_WEB_PORT=str(p["lb_web"]), CHAT_LB_WEB_TLS_PORT=str(p["lb_web_tls"]),
                        CHAT_LOG_LEVEL="debug")
        self.clients = []

    def script(self, *args, check=False):
        return subprocess.run([os.path.join(ROOT, "scripts/stack.sh"), *args], env=self.env,
                              capture_output=True, text=True, timeout=180, check=check)

    def password(self, user):
        return open(os.path.join(self.var, "secrets", f"user-{user}")).read().strip()

    def leaf_port(self, i, kind="leaf"):
        return self.ports[kind] + i - 1

    def log(self, part):
        path = os.path.join(self.var, part, "mosquitto.log") if not part.endswith(".log") else os.path.join(self.var, part)
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def pid(self, part):
        return int(open(os.path.join(self.var, "run", f"{part}.pid")).read())

    def logs(self):
        out = []
        for part in ["hub"] + [f"leaf{i}" for i in range(1, NODES + 1)] + ["log/haproxy.log", "log/history-svc.log"]:
            out.append(f"===== {part} =====\n" + "".join(self.log(part).splitlines(True)[-40:]))
        return "\n".join(out)

    def client(self, user, port, **kw):
        c = Client(user, self.password(user), port, **kw)
        self.clients.append(c)
        return c


class Client(conftest.Client):
    """conftest.Client on a port of the cluster; publish checks the PUBACK."""

    def __init__(self, user, password, port, host="127.0.0.1", tls_ca=None, transport="tcp", client_id=None):
        super().__init__(None, user, None, password=password, port=port, host=host, tls_ca=tls_ca,
                         transport=transport, client_id=client_id or f"cl-{user}-{uuid.uuid4().hex[:8]}")

    def publish(self, topic, payload):
        info = super().publish(topic, payload)
        assert info.is_published()
        return info


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("haproxy") is None or shutil.which("openssl") is None:
        pytest.skip("haproxy and openssl are needed (make deps installs them)")
    cl = Cluster()
    conftest.bring_up(cl, f"stack.sh up (CHAT_NODES={NODES})")
    yield cl
    conftest.close_clients(cl)
    down = cl.script("down")
    assert "leaf3 stopped" in down.stdout and "haproxy stopped" in down.stdout, down.stdout
    if not os.environ.get("CHAT_KEEP_VAR"):
        shutil.rmtree(cl.var, ignore_errors=True)


def which_leaf(cl, client_id):
    for i in range(1, NODES + 1):
        if f" as {client_id} " in cl.log(f"leaf{i}"):
            return i
    return None


def test_status_lists_every_part(cluster):
    st = cluster.script("status")
    assert st.returncode == 0, st.stdout
    for part in ["mariadb", "hub", "leaf1", "leaf2", "leaf3", "haproxy", "history-svc", "presence-svc", "push-svc"]:
        assert re.search(rf"^{part} +up", st.stdout, re.M), st.stdout


def test_bridges_run_over_tls_with_checked_credentials(cluster):
    hub = cluster.log("hub")
    for i in range(1, NODES + 1):
        m = re.search(rf"New connection from [0-9.]+:(\d+) on port (\d+)\.\n[^\n]*New bridge connected from [0-9.]+:\1 as leaf{i}-bridge", hub)
        assert m and int(m.group(2)) == cluster.ports["hub_tls"], f"leaf{i}'s bridge is not on the hub's TLS port"
        conf = open(os.path.join(cluster.var, f"leaf{i}", "mosquitto.conf")).read()
        assert "bridge_cafile" in conf and "bridge_insecure false" in conf and "cleansession false" in conf
    # The plugin checks a bridge account's password like any other.
    c = Client("bridge-leaf1", "wrong-password", cluster.ports["hub_tls"], host="localhost",
               tls_ca=os.path.join(cluster.var, "tls/ca.crt"))
    assert c.rc == 5
    c.close()


def test_tls_through_haproxy_reaches_every_leaf_and_history(cluster):
    ca = os.path.join(cluster.var, "tls/ca.crt")
    bob = cluster.client("bob", cluster.leaf_port(2), tls_ca=None)  # plain, directly on leaf2
    assert bob.rc == 0
    bob.subscribe("chat/v1/rooms/lobby/msg/+")
    alice = cluster.client("alice", cluster.ports["lb_tls"], host="localhost", tls_ca=ca)
    assert alice.rc == 0
    alice.subscribe("chat/v1/users/alice/inbox")
    mid = uuid.uuid4().hex
    alice.publish("chat/v1/rooms/lobby/msg/alice", {"id": mid, "body": "over tls"})
    assert bob.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["id"] == mid)["body"] == "over tls"
    receipt = alice.expect_json("chat/v1/users/alice/inbox", lambda d: d.get("type") == "receipt" and d["id"] == mid)
    assert receipt["seq"] >= 1
    # A client that does not trust the cluster CA is refused by TLS itself.
    with pytest.raises(ssl.SSLError):
        Client("alice", cluster.password("alice"), cluster.ports["lb_tls"], host="localhost",
               tls_ca="/etc/ssl/certs/ca-certificates.crt")


def test_websockets_listener(cluster):
    ws = cluster.client("bob", cluster.leaf_port(3, "leaf_ws"), transport="websockets")
    assert ws.rc == 0
    ws.subscribe("chat/v1/rooms/lobby/msg/+")
    alice = cluster.client("alice", cluster.ports["hub"])
    mid = uuid.uuid4().hex
    alice.publish("chat/v1/rooms/lobby/msg/alice", {"id": mid, "body": "to ws"})
    ws.expect_json("chat/v1/rooms/lobby/msg/alice", lambda d: d["id"] == mid)


def test_haproxy_spreads_clients_and_skips_a_dead_leaf(cluster):
    lb = cluster.ports["lb"]
    spread = [cluster.client("bob", lb) for _ in range(6)]
    assert all(c.rc == 0 for c in spread)
    used = {which_leaf(cluster, c.client_id) for c in spread}
    assert used == {1, 2, 3}, f"leastconn should use every leaf, used {used}"
    os.kill(cluster.pid("leaf3"), signal.SIGKILL)
    # Two failed checks 1 s apart mark it down; until then a new client may
    # still be sent there, and HAProxy redispatches a refused connect.
    def marked_down():
        c = Client("bob", cluster.password("bob"), lb)
        c.close()
        return c.rc == 0 and "leaf3 is DOWN" in cluster.log("log/haproxy.log")
    wait_until(marked_down, step=0.5)
    assert "leaf3 is DOWN" in cluster.log("log/haproxy.log"), cluster.log("log/haproxy.log")
    after = [cluster.client("bob", lb) for _ in range(4)]
    assert all(c.rc == 0 for c in after)
    assert all(which_leaf(cluster, c.client_id) in (1, 2) for c in after)
    # stack.sh up restarts the dead leaf; HAProxy takes it back.
    up = cluster.script("up")
    assert up.returncode == 0, up.stderr
    assert wait_until(lambda: "leaf3 is UP" in cluster.log("log/haproxy.log"), step=0.5), \
        cluster.log("log/haproxy.log")


def test_bridge_refuses_a_hub_certificate_from_another_ca(cluster):
    """bridge_insecure false with the cluster CA: a leaf whose CA file does
    not vouch for the hub's certificate never bridges, although its account
    and password are right (so only TLS stands in the way)."""
    d = os.path.join(cluster.var, "rogue")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)  # the broker may drop to user mosquitto
    other_ca = os.path.join(d, "tls")
    subprocess.run([os.path.join(ROOT, "scripts/certs.sh"), other_ca, "rogue"], check=True, capture_output=True)
    os.chmod(other_ca, 0o755)
    env = dict(os.environ, RUN_AS="root", NODE="rogue", PORT=str(free_port()), BIND="127.0.0.1", STATE_DIR=d,
               PLUGIN=os.path.join(BUILD, "chat_auth.so"), DB_PORT=str(cluster.ports["db"]), DB_USER="chat",
               DB_PASSWORD=open(os.path.join(cluster.var, "secrets", "db-password")).read().strip(),
               DB_NAME="chat", HUB_HOST="localhost", HUB_PORT=str(cluster.ports["hub_tls"]),
               BRIDGE_USER="bridge-leaf1", BRIDGE_PASSWORD=cluster.password("bridge-leaf1"),
               BRIDGE_CAFILE=os.path.join(other_ca, "ca.crt"))
    conf = os.path.join(d, "mosquitto.conf")
    subprocess.run([os.path.join(ROOT, "mosquitto-conf/gen-node-conf.sh"), conf], env=env, check=True)
    before = len(cluster.log("hub"))
    with open(os.path.join(d, "stderr.log"), "w") as err:
        p = start_process(["mosquitto", "-c", conf], stdout=err, stderr=err)
    try:
        # At least one full attempt: it connected and TLS refused the hub.
        failed = re.compile(r"certificate verify failed|OpenSSL Error")
        wait_until(lambda: "Connecting bridge" in cluster.log("rogue") and failed.search(cluster.log("rogue")))
        rogue = cluster.log("rogue")
        assert "Connecting bridge" in rogue, rogue
        assert "as rogue-bridge" not in cluster.log("hub")[before:], "the hub accepted a bridge that should not trust it"
        assert failed.search(rogue), rogue[-2000:]
    finally:
        p.terminate()
        p.wait(timeout=conftest.WAIT_S)
