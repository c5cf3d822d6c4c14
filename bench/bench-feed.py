#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fan-out of provision-hub's change feed (issue 15, "Measured"): a fleet simulator holds HOSTS
# feed requests (GET /v1/feed?since=HEAD, Prefer: wait=55; one connection each, plain HTTP on
# loopback, or TLS with BENCH_TLS=1 when certtool is installed) to one real hub, then an IdP
# PATCHes one user's active to false. Printed per round: the time from sending the PATCH until
# the hub answered it (the commit), until the first and the median host had its answer, and
# until all HOSTS had theirs; the CPU the hub and the simulator spent meanwhile; the hub's RSS
# and peak RSS with HOSTS requests held, and its CPU while they are held and nothing changes
# (percent of one core over IDLE_SECONDS); the load average; how long holding them took.
#
# The simulator is BUILDDIR/bench/bench-feed-client (C, epoll, GnuTLS), in BENCH_CLIENTS
# processes (default 2) sharing the HOSTS connections; a host has its answer when its whole
# answer is read and its body parsed (status 200 and the change's seq), stamped on
# CLOCK_MONOTONIC by the client, so the times run from the PATCH to the last host's parsed
# answer. It runs on the same cores as the hub (2 here): the figures include its reading of the
# HOSTS answers (its CPU is printed). BENCH_SIMULATOR=python: the former simulator, one Python
# process, which on TLS spent more CPU than the hub and was what the last host waited for.
#
# Then a host's catch-up: in a directory of BENCH_DIRECTORY users (default 20000), CATCHUP
# changes (default 10000: 1,000 users created, then PATCHed) are made while it is away; one GET /v1/feed?since=ITS_SEQ brings it back: the answer's time and
# bytes, beside a full GET /v1/snapshot of the same directory (what a host that cannot follow
# the feed reads instead).
#
#   bench/bench-feed.py BUILDDIR [HOSTS] [ROUNDS]        (defaults 10000 3; BENCH_CATCHUP=N)
#
# The open-file limit is raised to HOSTS + 1024 for the hub and the simulator. Not part of
# make check; asserts nothing.
import http.client
import json
import os
import resource
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

IDLE_SECONDS = 5.0
WAIT = 55


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


class Hub:
    def __init__(self, builddir, tmp, tls):
        self.bin = os.path.join(builddir, "hub", "provision-hub")
        self.tmp = tmp
        conf = os.path.join(tmp, "hub.conf")
        lines = ["[http]", "listen = 127.0.0.1:0", "max_requests = 1000"]
        if tls:
            key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
            tpl = os.path.join(tmp, "cert.tpl")
            with open(tpl, "w") as f:
                f.write('cn = "127.0.0.1"\nip_address = "127.0.0.1"\nexpiration_days = 2\ntls_www_server\n'
                        "signing_key\nencryption_key\n")
            subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa", "--outfile", key],
                           check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
            subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key, "--template", tpl,
                            "--outfile", cert], check=True, capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=60)
            lines += [f"tls_cert_file = {cert}", f"tls_key_file = {key}"]
        else:
            lines.append("allow_insecure_http = yes")
        lines += ["[store]", f"path = {tmp}/hub.db", "[feed]", "max_waiters = 100000", "[tokens]",
                  f"scim_token_file = {tmp}/scim.tokens", f"host_token_file = {tmp}/host.tokens",
                  f"admin_token_file = {tmp}/admin.tokens"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.scim = self.token(conf, "scim", "bench-idp")
        self.host = self.token(conf, "host", "bench-fleet")
        self.log = open(os.path.join(tmp, "hub.log"), "w")
        self.proc = subprocess.Popen([self.bin, "--config", conf], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            with open(os.path.join(tmp, "hub.log")) as f:
                text = f.read()
            if "Listening on" in text:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("provision-hub did not start:\n" + text)
            time.sleep(0.05)
        url = text.split("Listening on ", 1)[1].split()[0]
        self.tls = url.startswith("https")
        self.port = int(url.rstrip("/").rsplit(":", 1)[1])
        self.ctx = None
        if self.tls:
            self.ctx = ssl.create_default_context(cafile=os.path.join(tmp, "cert.pem"))
            self.ctx.check_hostname = False

    def token(self, conf, role, name):
        p = subprocess.run([self.bin, "--config", conf, "token-new", role, name], capture_output=True, text=True,
                           check=True)
        return p.stdout.strip()

    def request(self, method, path, body=None, token=None):
        if self.tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60, context=self.ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = {"Authorization": "Bearer " + (token or self.scim), "Content-Type": "application/scim+json"}
        c.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def hold(hub, n, since):
    """The Python simulator (BENCH_SIMULATOR=python): opens n connections each holding
    GET /v1/feed?since=since; returns the sockets."""
    req = (f"GET /v1/feed?since={since} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hub.host}\r\n"
           f"Prefer: wait={WAIT}\r\nConnection: close\r\n\r\n").encode()
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", hub.port), timeout=30)
        if hub.tls:
            s = hub.ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(req)
        s.setblocking(False)
        socks.append(s)
        if i % 500 == 499:
            time.sleep(0.05)  # let the hub accept: the listen backlog is 256
    return socks


def collect(socks, t0):
    """Reads every answer to its end (the hub closes: Connection: close); returns the times
    (since t0) at which each socket's answer was complete, and the answers' bodies."""
    ep = select.epoll()
    fds = {}
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
        fds[s.fileno()] = [s, b""]
    done, bodies = [], []
    while fds:
        for fd, _ in ep.poll(60):
            s, buf = fds[fd]
            while True:
                try:
                    chunk = s.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                if not chunk:
                    done.append(time.monotonic() - t0)
                    bodies.append(buf.split(b"\r\n\r\n", 1)[-1])
                    ep.unregister(fd)
                    s.close()
                    del fds[fd]
                    break
                buf += chunk
                fds[fd][1] = buf
            else:
                continue
    ep.close()
    return sorted(done), bodies


class Fleet:
    """The C simulator (bench-feed-client): CLIENTS processes sharing the n held requests."""

    def __init__(self, client, hub, n, since, clients):
        cafile = [os.path.join(hub.tmp, "cert.pem")] if hub.tls else []
        self.procs = []
        for i in range(clients):
            share = n // clients + (1 if i < n % clients else 0)
            self.procs.append(subprocess.Popen([client, str(hub.port), str(since), str(share), hub.host, str(WAIT)] +
                                               cafile, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True))
        for p in self.procs:
            if p.stdout.readline() != "ready\n":
                sys.exit("bench-feed-client could not hold its requests")

    def collect(self, t0):
        """Waits for every host's answer; returns the sorted times since t0, the answers' seqs and
        the CPU time the simulator spent reading them."""
        done, cpu = [], 0.0
        for p in self.procs:
            out, _ = p.communicate(timeout=180)
            lines = out.splitlines()
            cpu += int(lines[0].split()[1]) / 1e9
            done += [(int(ns) / 1e9 - t0, int(seq)) for ns, seq in (line.split() for line in lines[1:])]
        done.sort()
        return [t for t, _ in done], [seq for _, seq in done], cpu


def timed_get(hub, path):
    t0 = time.monotonic()
    if hub.tls:
        c = http.client.HTTPSConnection("127.0.0.1", hub.port, timeout=300, context=hub.ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=300)
    c.request("GET", path, headers={"Authorization": "Bearer " + hub.host})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (path, r.status, body[:200])
    return time.monotonic() - t0, body


def catchup(hub, changes):
    """changes writes while a host is away, then its one catch-up request."""
    for i in range(int(os.environ.get("BENCH_DIRECTORY", "20000"))):
        hub.request("POST", "/scim/v2/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                              "userName": f"staff{i}@example.com"})
    since = json.loads(timed_get(hub, "/v1/snapshot")[1])["seq"]  # where the host was
    users = max(1, changes // 10)
    ids = []
    for i in range(users):
        st, u = hub.request("POST", "/scim/v2/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                      "userName": f"away{i}@example.com"})
        ids.append(u["id"])
    for i in range(changes - users):
        hub.request("PATCH", f"/scim/v2/Users/{ids[i % users]}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": f"v{i}"}]})
    t_feed, feed = timed_get(hub, f"/v1/feed?since={since}")
    t_snap, snap = timed_get(hub, "/v1/snapshot")
    ans = json.loads(feed)
    print(f"# catch-up after {ans['seq'] - since} changes to {users} users (directory: "
          f"{len(json.loads(snap)['Users'])} users)")
    print(f"catch-up | one feed answer: {t_feed * 1000:.1f} ms, {len(feed) / 1024:.1f} KiB, "
          f"{len(ans['events'])} events | full snapshot: {t_snap * 1000:.1f} ms, {len(snap) / 1024:.1f} KiB")


def main():
    builddir = sys.argv[1] if len(sys.argv) > 1 else "build"
    hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    tls = os.environ.get("BENCH_TLS") == "1"
    if tls and not shutil.which("certtool"):
        sys.exit("BENCH_TLS=1 needs certtool (gnutls-bin)")
    want = hosts + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    client = os.path.join(builddir, "bench", "bench-feed-client")
    simulator = os.environ.get("BENCH_SIMULATOR", "c")
    clients = int(os.environ.get("BENCH_CLIENTS", "2"))
    if simulator == "c" and not os.access(client, os.X_OK):
        sys.exit(f"{client} is not built (make), or run the Python simulator: BENCH_SIMULATOR=python")
    tmp = tempfile.mkdtemp(prefix="prov-bench-feed.", dir="/var/tmp")
    hub = Hub(builddir, tmp, tls)
    try:
        st, u = hub.request("POST", "/scim/v2/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                      "userName": "leaver@example.com"})
        assert st == 201, (st, u)
        print(f"# {hosts} hosts holding GET /v1/feed (Prefer: wait={WAIT}) on one hub, "
              f"{'TLS' if hub.tls else 'plain HTTP'} on loopback; {rounds} rounds; simulator: "
              + (f"bench-feed-client in {clients} process(es)" if simulator == "c" else "Python, one process"))
        print("round | PATCH answered | first host | median host | all hosts | hub CPU, simulator CPU for the answers "
              "| hub RSS / peak | hub CPU held, idle | load average | all held after")
        active = True
        for rnd in range(rounds):
            st, head = hub.request("GET", "/v1/feed?since=0", token=hub.host)
            since = head["seq"]
            t_hold = time.monotonic()
            if simulator == "c":
                fleet = Fleet(client, hub, hosts, since, clients)
            else:
                socks = hold(hub, hosts, since)
            t_hold = time.monotonic() - t_hold
            time.sleep(2.0)
            c0 = proc_cpu(hub.proc.pid)
            time.sleep(IDLE_SECONDS)
            idle = (proc_cpu(hub.proc.pid) - c0) / IDLE_SECONDS * 100
            mem = proc_mem(hub.proc.pid)
            active = not active
            load = os.getloadavg()[0]
            hub_cpu, sim_cpu = proc_cpu(hub.proc.pid), time.process_time()
            t0 = time.monotonic()
            st, _ = hub.request("PATCH", f"/scim/v2/Users/{u['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": active}]})
            t_commit = time.monotonic() - t0
            assert st == 200, st
            if simulator == "c":
                done, seqs, sim_cpu = fleet.collect(t0)
                ok = sum(1 for seq in seqs if seq == since + 1)
            else:
                done, bodies = collect(socks, t0)
                ok = sum(1 for b in bodies if b'"seq":%d' % (since + 1) in b)
                sim_cpu = time.process_time() - sim_cpu
            hub_cpu = proc_cpu(hub.proc.pid) - hub_cpu
            print(f"{rnd + 1} | {t_commit * 1000:.1f} ms | {done[0] * 1000:.1f} ms | "
                  f"{done[len(done) // 2] * 1000:.1f} ms | {done[-1] * 1000:.1f} ms ({ok}/{hosts} with the change) | "
                  f"{hub_cpu:.2f} s, {sim_cpu:.2f} s | {mem['VmRSS']:.1f} / {mem['VmHWM']:.1f} MiB | {idle:.2f} % | "
                  f"{load:.2f} | {t_hold:.1f} s")
        catchup(hub, int(os.environ.get("BENCH_CATCHUP", "10000")))
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
