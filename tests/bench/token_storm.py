#!/usr/bin/python3
"""Cold reconnect storm after a broker restart: token logins against bare
Mosquitto and against passwords at the default 100,000 PBKDF2 iterations
(docs/BENCHMARKS.md, "Token logins"), in one run on one machine.

Reuses bench.py's private stack and brokers. Users bench0..N-1 each get a
token (made here as chatctl does: ct1.<id>.<secret>, the SHA-256 of the
secret stored). Each run starts a fresh broker per variant (nothing cached)
and has chatload connect every client at once (at most 20 handshakes
pending, as scenario 4), then disconnect:
  bare       Mosquitto with anonymous access, N clients
  tokens     Mosquitto with our plugin, N clients logging in with tokens
  pw100k     our plugin, clients logging in with passwords hashed with
             100,000 iterations (PWHASH_ITER_DEFAULT): M clients only (each
             costs ~40 ms of the broker's thread; the rate is what counts)
Prints, and writes to tests/bench/results/token_storm.json, connects/s
(median, min-max over the runs) and the ratios of each run's rates.

    CHAT_BUILD=build /usr/bin/python3 tests/bench/token_storm.py [N] [RUNS] [M]
"""
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BUILD, RESULTS, log  # noqa: E402


def make_tokens(b, n):
    """One token per bench user, stored as the plugin reads them; returns
    the password-list file (line k: bench<k>'s token)."""
    path = os.path.join(b.var, "secrets", "bench-tokens")
    rows = []
    with open(path, "w") as f:
        for k in range(n):
            tid = os.urandom(8).hex()
            secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
            f.write(f"ct1.{tid}.{secret}\n")
            rows.append(f"('{tid}', '{hashlib.sha256(secret.encode()).hexdigest()}', 'bench{k}')")
    os.chmod(path, 0o600)
    for i in range(0, len(rows), 1000):
        b.sql("CREATE TEMPORARY TABLE tk (id CHAR(16), h CHAR(64), name VARCHAR(32));"
              " INSERT INTO tk VALUES " + ", ".join(rows[i:i + 1000]) + ";"
              " INSERT INTO tokens (id, user_id, secret_sha256, label)"
              " SELECT tk.id, u.id, tk.h, 'bench' FROM tk JOIN users u ON u.username = tk.name;")
    return path


def set_password_iterations(b, iterations):
    """Gives every bench user one hash of the bench password with iterations."""
    ctl = [os.path.join(BUILD, "chatctl"), "-c", os.path.join(b.var, "conf/db.conf")]
    subprocess.run(ctl + ["user", "passwd", "bench0", "--iterations", str(iterations)], input=b.password + "\n",
                   text=True, check=True, capture_output=True, timeout=60)
    b.sql("UPDATE users u JOIN users z ON z.username = 'bench0' SET u.pw_hash = z.pw_hash"
          " WHERE u.username REGEXP '^bench[0-9]+$'")


def wait_snapshot(b, port, timeout=120):
    """Returns once the broker on port accepts bench0's first token: its
    plugin has loaded the first snapshot (users and tokens)."""
    import paho.mqtt.client as mqtt
    with open(os.path.join(b.var, "secrets", "bench-tokens")) as f:
        token = f.readline().strip()
    deadline = time.monotonic() + timeout
    while True:
        answers = []
        c = mqtt.Client(client_id="tokstorm-probe", clean_session=True)
        c.username_pw_set("bench0", token)
        c.on_connect = lambda cl, u, fl, rc: answers.append(rc)
        try:
            c.connect("127.0.0.1", int(port), keepalive=10)
            probe_end = time.monotonic() + 5
            while not answers and time.monotonic() < probe_end:
                c.loop(timeout=0.1)
        except OSError:
            pass
        c.disconnect()
        if answers and answers[0] == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"broker on {port}: no token login within {timeout} s")


def storm(b, name, lines, n, *extra):
    port = b.start_broker(name, lines)
    if name != "bare":
        wait_snapshot(b, port)
    r = b.load_split(f"tokstorm-{name}", n, "--mode", "connect", "--port", port,
                     "--max-pending", 20 // b.split_count(n) or 1, "--connect-timeout", 600, "--threads", 2,
                     *extra, timeout=1200)
    b.stop_broker(name)
    if r["ready"] != n:
        raise RuntimeError(f"{name}: {r['ready']} of {n} connected ({r['refused']} refused, {r['failed']} failed)")
    return r["connects_per_s"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    m = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    bench.raise_fd_limit()
    var = tempfile.mkdtemp(prefix="chat-tokbench-")
    os.chmod(var, 0o755)
    b = bench.Bench("quick", var)
    rates = {"bare": [], "tokens": [], "pw100k": []}
    try:
        b.stack_up()
        b.make_users(n, 10)
        tokens = make_tokens(b, n)
        set_password_iterations(b, 100000)
        for run in range(runs):
            log(f"token storm run {run + 1}/{runs}: {n} clients (pw100k: {m})")
            rates["bare"].append(storm(b, "bare", ["allow_anonymous true"], n))
            rates["tokens"].append(storm(b, "tokens", b.plugin_lines("tokstorm"), n, "--password-list", tokens))
            rates["pw100k"].append(storm(b, "pw100k", b.plugin_lines("tokstorm-pw"), m))
            log(f"  connects/s: bare {rates['bare'][-1]:.0f}, tokens {rates['tokens'][-1]:.0f}, "
                f"pw100k {rates['pw100k'][-1]:.1f}")
    finally:
        b.stop_all()
        b.stack_down()
        shutil.rmtree(var, ignore_errors=True)

    def summary(values):
        return dict(median=statistics.median(values), min=min(values), max=max(values))
    vs_bare = [t / x for t, x in zip(rates["tokens"], rates["bare"])]
    vs_pw = [t / x for t, x in zip(rates["tokens"], rates["pw100k"])]
    out = dict(clients=n, pw100k_clients=m, runs=runs, connects_per_s={k: summary(v) for k, v in rates.items()},
               raw=rates, tokens_vs_bare=summary(vs_bare), tokens_vs_pw100k=summary(vs_pw))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "token_storm.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
