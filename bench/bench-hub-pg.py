#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# provision-hub on PostgreSQL beside SQLite, one run (issue 16, "Measured"):
#  1. IdP push throughput: POST /Users per second and p50/p99 latency with 1, 4 and 16 concurrent
#     clients, against (a) one hub on SQLite, (b) one replica on PostgreSQL, (c) two replicas on
#     the same PostgreSQL database with the clients split between them.
#  2. Fan-out latency: HOSTS feed requests held (Prefer: wait=55), then one PATCH: from sending it
#     until the first, the median and the last host had its answer; for SQLite (all on the one
#     hub) and for two replicas (half the hosts on each; the PATCH goes to the first, the second
#     learns of it through LISTEN/NOTIFY).
#  3. Failover: a follower (one held feed request at a time, the replicas' URLs tried in turn)
#     holds a request on replica A; A is killed with SIGKILL; the time until the follower has
#     its first answer from B. ROUNDS rounds, A restarted between them.
# Both stores are on the real disk (/var/tmp) and commit durably: SQLite synchronous=FULL,
# PostgreSQL fsync=on, synchronous_commit=on (a server started here with initdb, as the tests
# do, see tests/hub/hubharness.py). Not part of make check; asserts nothing.
#
#   bench/bench-hub-pg.py BUILDDIR [HOSTS] [ROUNDS]      (defaults: 1000 5; BENCH_SECONDS=4)
import http.client
import json
import os
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
srcdir = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
import hubharness as H  # noqa: E402  (its Postgres server and Hub process)

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1,4,16").split(",")]
WAIT = 55


def pct(lat, p):
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(len(lat) * p / 100))] * 1000 if lat else float("nan")


def push(hubs, clients, tag):
    """POST /Users from `clients` threads (keep-alive, spread over hubs) for SECONDS: (rate, p50, p99)."""
    lat, errors = [], []
    stop = time.monotonic() + SECONDS

    def loop(k):
        hub = hubs[k % len(hubs)]
        c = http.client.HTTPConnection(hub.host, hub.port, timeout=60)
        h = {"Authorization": "Bearer " + hub.scim_token, "Content-Type": "application/scim+json"}
        i = 0
        while time.monotonic() < stop:
            body = json.dumps({"schemas": [H.CORE_USER], "userName": f"{tag}-{k}-{i}", "active": True})
            t0 = time.monotonic()
            c.request("POST", "/scim/v2/Users", body=body, headers=h)
            r = c.getresponse()
            r.read()
            lat.append(time.monotonic() - t0)
            if r.status != 201:
                errors.append(r.status)
            i += 1
        c.close()
    ts = [threading.Thread(target=loop, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - t0
    if errors:
        print(f"# {tag}: {len(errors)} answers not 201 (e.g. {errors[:3]})")
    return len(lat) / took, pct(lat, 50), pct(lat, 99)


def head(hub):
    return hub.sql("SELECT coalesce(max(seq), 0) FROM changes")[0][0]


def fanout(hubs, n, writer, uid):
    """n held feed requests spread over hubs, then a PATCH on writer: ms to first, median, last."""
    since = head(writer)
    socks = []
    for i in range(n):
        hub = hubs[i % len(hubs)]
        s = socket.create_connection((hub.host, hub.port), timeout=30)
        s.sendall((f"GET /v1/feed?since={since} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hub.host_token}\r\n"
                   f"Prefer: wait={WAIT}\r\nConnection: close\r\n\r\n").encode())
        s.setblocking(False)
        socks.append(s)
        if i % 200 == 199:
            time.sleep(0.05)
    time.sleep(1.5)  # all held
    t0 = time.monotonic()
    writer.patch("Users", uid, [{"op": "replace", "path": "active", "value": False}])
    writer.patch("Users", uid, [{"op": "replace", "path": "active", "value": True}])  # back, for the next round
    done, open_ = [], {s.fileno(): s for s in socks}
    bufs = {fd: b"" for fd in open_}
    deadline = t0 + 30
    poller = select.poll()
    for fd in open_:
        poller.register(fd, select.POLLIN)
    while open_ and time.monotonic() < deadline:
        for fd, _ in poller.poll(1000):
            if fd not in open_:
                continue
            try:
                data = open_[fd].recv(65536)
            except BlockingIOError:
                continue
            bufs[fd] += data
            if not data or b'"events":[{' in bufs[fd]:
                done.append(time.monotonic() - t0)
                poller.unregister(fd)
                open_.pop(fd).close()
    for s in open_.values():
        s.close()
    done.sort()
    if len(done) < n:
        print(f"# fan-out: only {len(done)} of {n} answered within 30 s")
    return (done[0] * 1000, statistics.median(done) * 1000, done[-1] * 1000) if done else (0, 0, 0)


def failover(a, b, rounds):
    """Time from SIGKILL of a to a follower's first answer from b, per round (ms)."""
    out = []
    for _ in range(rounds):
        since = head(b)
        state = {}

        def follow():
            replicas, cur = [a, b], 0
            while "stop" not in state:
                h = replicas[cur]
                try:
                    r = h.request("GET", f"//v1/feed?since={since}", token="host",
                                  headers={"Prefer": "wait=20"}, timeout=40)
                    if r.status == 200 and "killed" in state:
                        state["answered"] = time.monotonic()
                        return
                except Exception:
                    cur = (cur + 1) % 2
                    time.sleep(0.05)
        t = threading.Thread(target=follow, daemon=True)
        t.start()
        time.sleep(1.0)  # held on a
        state["killed"] = time.monotonic()
        a.crash()
        b.create_user(f"failover-{time.monotonic_ns()}")  # something to answer with
        t.join(timeout=30)
        state["stop"] = True
        if "answered" in state:
            out.append((state["answered"] - state["killed"]) * 1000)
        a.start()
        a.responses_5xx.clear()
    return out


def main():
    builddir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(srcdir, "build"))
    hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    H.hub_bin = os.path.join(builddir, "hub", "provision-hub")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # HOSTS sockets here, and in the hubs
    if not os.access(H.hub_bin, os.X_OK):
        sys.exit(f"{H.hub_bin} is not built")
    reason = H.pg_skip_reason()
    if reason:
        sys.exit(reason)
    tmp = tempfile.mkdtemp(prefix="prov-bench-hub-pg.", dir="/var/tmp")
    os.chmod(tmp, 0o755)
    tempfile.tempdir = tmp  # the PostgreSQL server's data directory too: the real disk
    conf = {"guard": {"max_percent": "0"}, "feed": {"max_waiters": "100000"}, "http": {"max_requests": "1000"}}
    print(f"# scratch in {tmp} ({subprocess.run(['stat', '-f', '-c', '%T', tmp], capture_output=True, text=True).stdout.strip()}); "
          f"{SECONDS:g} s per push cell; {hosts} held feed requests; {rounds} failover rounds")
    hubs = []
    try:
        H.BACKEND = "sqlite"
        os.makedirs(os.path.join(tmp, "sqlite"))
        lite = H.Hub(os.path.join(tmp, "sqlite"), extra_conf=conf)
        hubs.append(lite)
        H._pg_server = H.Postgres(fsync=True)
        H.BACKEND = "postgresql"
        os.makedirs(os.path.join(tmp, "pg-a"))
        a = H.Hub(os.path.join(tmp, "pg-a"), extra_conf=conf)
        hubs.append(a)
        os.makedirs(os.path.join(tmp, "pg-b"))
        b = H.Hub(os.path.join(tmp, "pg-b"), extra_conf=conf, replica_of=a)
        hubs.append(b)

        print("\n| POST /Users | SQLite (1 hub) | PostgreSQL (1 replica) | PostgreSQL (2 replicas) |")
        print("|---|---|---|---|")
        for c in CLIENTS:
            cells = [push([lite], c, f"s{c}"), push([a], c, f"p{c}"), push([a, b], c, f"q{c}")]
            print(f"| {c} client(s): req/s, p50 / p99 ms | " +
                  " | ".join(f"{r:.0f}, {p50:.1f} / {p99:.1f}" for r, p50, p99 in cells) + " |", flush=True)

        u_lite = lite.create_user("fanout-target")
        u_pg = a.create_user("fanout-target")
        print(f"\n| fan-out to {hosts} held feed requests: ms to first / median / last | SQLite (1 hub) "
              "| PostgreSQL (2 replicas, half on each) |")
        print("|---|---|---|")
        for i in range(3):
            f1 = fanout([lite], hosts, lite, u_lite["id"])
            f2 = fanout([a, b], hosts, a, u_pg["id"])
            print(f"| round {i + 1} | {f1[0]:.0f} / {f1[1]:.0f} / {f1[2]:.0f} | {f2[0]:.0f} / {f2[1]:.0f} / {f2[2]:.0f} |",
                  flush=True)

        times = failover(a, b, rounds)
        if times:
            print(f"\nfailover (SIGKILL of replica A under a held feed request, to the first answer from B), "
                  f"{len(times)} rounds: min {min(times):.0f} ms, median {statistics.median(times):.0f} ms, "
                  f"max {max(times):.0f} ms")
        else:
            print("\nfailover: no round answered")
    finally:
        for h in hubs:
            h.stop()
        if H._pg_server:
            H._pg_server.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
