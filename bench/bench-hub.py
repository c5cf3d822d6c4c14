#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Driver of bench/bench-hub.sh (issue 14, "Measured"): provision-hub against SCIMMY (the Node
# SCIM test server, tests/scim-server/server.js) on the same requests, in one run.
#
# 1. IdP push throughput: for 1, 4 and 16 concurrent clients (one keep-alive connection each),
#    each for BENCH_SECONDS (default 4): POST /Users (new users), PATCH /Users (replace active,
#    toggled), PATCH /Groups (add one member; one group per client). Requests per second and
#    p50/p99 latency. The hub commits each request durably (SQLite synchronous=FULL, store under
#    /var/tmp on the real disk); SCIMMY keeps everything in memory. The client is Python on the
#    same 2 cores, so high rates are partly the client's.
# 2. A host's full pull of USERS users / GROUPS groups (each user in ~3 groups): GET /Users and
#    /Groups with count=1000 (hub: ?cursor then nextCursor; SCIMMY: startIndex). The server's
#    CPU seconds (/proc/PID/stat utime+stime, after minus before) and peak RSS (VmHWM, reset via
#    /proc/PID/clear_refs just before the pull), wall time, bytes. The hub is loaded by concurrent
#    POSTs (its load rate is printed); SCIMMY is started with the same directory (--data).
#
#   bench-hub.py gen USERS GROUPS OUT.json     the directory (SCIMMY --data format)
#   bench-hub.py run USERS GROUPS DATA.json    (URLs, PIDs and tokens in the environment:
#        HUB_PUSH, HUB_PUSH_PID, HUB_PULL, HUB_PULL_PID, SC_PUSH, SC_PUSH_PID, SC_PULL,
#        SC_PULL_PID: base URLs ending in /scim/v2; HUB_TOKEN, HUB_PULL_TOKEN, SC_TOKEN)
# Prints figures; asserts nothing.
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
import uuid

CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1,4,16").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
LOAD_CLIENTS = 16
CT = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_body(name, ext):
    first, last = name.split(".", 1)
    return {"schemas": [USER_SCHEMA], "externalId": ext, "userName": name + "@example.com",
            "displayName": "%s %s" % (first.title(), last.title()),
            "name": {"givenName": first.title(), "familyName": last.title()},
            "emails": [{"value": name + "@example.com", "type": "work", "primary": True}],
            "active": True}


def gen(users, groups, out):
    rnd = random.Random(14)
    U = []
    for i in range(users):
        b = user_body("user%06d.bench" % i, "emp-%06d" % i)
        b["id"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        U.append(b)
    members = [[] for _ in range(groups)]
    for u in U:  # each user in 3 distinct groups (fewer when there are fewer groups)
        for g in rnd.sample(range(groups), min(3, groups)):
            members[g].append({"value": u["id"]})
    G = []
    for g in range(groups):
        G.append({"schemas": [GROUP_SCHEMA], "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                  "externalId": "grp-%05d" % g, "displayName": "group-%05d" % g, "members": members[g]})
    with open(out, "w") as f:
        json.dump({"Users": U, "Groups": G}, f)


class Client:
    def __init__(self, base, token):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.hdr = {"Authorization": "Bearer " + token, "Content-Type": CT, "Accept": CT}
        self.conn = None

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                self.conn.request(method, self.prefix + path, body=data, headers=self.hdr)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close(); self.conn = None
                if r.status == 429 and attempt < 2:
                    time.sleep(0.01); continue
                return r.status, raw
            except (http.client.HTTPException, OSError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return 0, b""


def pct(lat, p):
    if not lat:
        return float("nan")
    s = sorted(lat)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def timed_run(n, work):
    """Run work(i, client_index, lat, errs) in n threads for SECONDS; returns (ops/s, lat, errs)."""
    lats = [[] for _ in range(n)]
    errs = [0] * n
    stop = time.monotonic() + SECONDS
    barrier = threading.Barrier(n + 1)

    def loop(k):
        barrier.wait()
        i = 0
        while time.monotonic() < stop:
            t = time.monotonic()
            ok = work(k, i)
            lats[k].append(time.monotonic() - t)
            if not ok:
                errs[k] += 1
            i += 1
    th = [threading.Thread(target=loop, args=(k,)) for k in range(n)]
    for t in th:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    for t in th:
        t.join()
    wall = time.monotonic() - t0
    lat = [x for l in lats for x in l]
    return len(lat) / wall, lat, sum(errs)


def push(base, token, tag, n):
    """POST, PATCH active, PATCH group member add with n clients; returns {op: (rate, p50, p99, errs)}."""
    clients = [Client(base, token) for _ in range(n)]
    created = [[] for _ in range(n)]
    res = {}

    def post(k, i):
        st, raw = clients[k].req("POST", "/Users", user_body("p%s%dc%dk%di.push" % (tag, n, k, i), "x"))
        if st == 201:
            created[k].append(json.loads(raw)["id"])
            return True
        return False
    r, lat, e = timed_run(n, post)
    res["POST /Users"] = (r, pct(lat, 50), pct(lat, 99), e)

    def patch_active(k, i):
        ids = created[k]
        if not ids:
            return False
        uid = ids[i % len(ids)]
        body = {"schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "path": "active", "value": (i // len(ids)) % 2 == 1}]}
        st, _ = clients[k].req("PATCH", "/Users/" + uid, body)
        return st in (200, 204)
    r, lat, e = timed_run(n, patch_active)
    res["PATCH /Users active"] = (r, pct(lat, 50), pct(lat, 99), e)

    groups = []
    for k in range(n):
        st, raw = clients[k].req("POST", "/Groups", {"schemas": [GROUP_SCHEMA],
                                                     "displayName": "g%s%dc%d" % (tag, n, k)})
        groups.append(json.loads(raw)["id"] if st == 201 else None)

    def patch_member(k, i):
        ids = created[k]
        if not ids or not groups[k]:
            return False
        # distinct users while they last, then re-adds of present members (a no-op add)
        body = {"schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[i % len(ids)]}]}]}
        st, _ = clients[k].req("PATCH", "/Groups/" + groups[k], body)
        return st in (200, 204)
    r, lat, e = timed_run(n, patch_member)
    res["PATCH /Groups add member"] = (r, pct(lat, 50), pct(lat, 99), e)
    return res


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pull(base, token, pid, cursor):
    c = Client(base, token)
    rss0 = proc_kib(pid, "VmRSS")
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    cpu0 = proc_cpu(pid)
    t0 = time.monotonic()
    nbytes = 0
    n = {}
    reqs = 0
    for kind in ("Users", "Groups"):
        got = 0
        if cursor:
            path = "/%s?count=1000&cursor" % kind
            while path:
                st, raw = c.req("GET", path)
                reqs += 1
                nbytes += len(raw)
                if st != 200:
                    raise SystemExit("pull %s: HTTP %d %s" % (path, st, raw[:200]))
                d = json.loads(raw)
                got += len(d.get("Resources", []))
                nc = d.get("nextCursor")
                path = "/%s?count=1000&cursor=%s" % (kind, urllib.parse.quote(nc)) if nc else None
        else:
            start = 1
            while True:
                st, raw = c.req("GET", "/%s?count=1000&startIndex=%d" % (kind, start))
                reqs += 1
                nbytes += len(raw)
                if st != 200:
                    raise SystemExit("pull %s: HTTP %d %s" % (kind, st, raw[:200]))
                d = json.loads(raw)
                k = len(d.get("Resources", []))
                got += k
                start += k
                if k == 0 or start > d.get("totalResults", 0):
                    break
        n[kind] = got
    wall = time.monotonic() - t0
    cpu = proc_cpu(pid) - cpu0
    hwm = proc_kib(pid, "VmHWM")
    return {"wall": wall, "cpu": cpu, "rss0": rss0, "hwm": hwm, "reset": reset,
            "bytes": nbytes, "reqs": reqs, "users": n["Users"], "groups": n["Groups"]}


def load_hub(base, token, data):
    """POST the directory's users, then its groups with members (hub ids), LOAD_CLIENTS at once."""
    users, groups = data["Users"], data["Groups"]
    idmap = {}
    lock = threading.Lock()
    errors = [0]

    def worker(items, fn):
        c = Client(base, token)
        for it in items:
            fn(c, it)

    def post_user(c, u):
        b = dict(u)
        old = b.pop("id")
        st, raw = c.req("POST", "/Users", b)
        if st == 201:
            with lock:
                idmap[old] = json.loads(raw)["id"]
        else:
            errors[0] += 1

    def post_group(c, g):
        b = dict(g)
        b.pop("id")
        b["members"] = [{"value": idmap[m["value"]]} for m in g["members"] if m["value"] in idmap]
        st, _ = c.req("POST", "/Groups", b)
        if st != 201:
            errors[0] += 1

    t0 = time.monotonic()
    for items, fn in ((users, post_user), (groups, post_group)):
        th = [threading.Thread(target=worker, args=(items[k::LOAD_CLIENTS], fn)) for k in range(LOAD_CLIENTS)]
        for t in th:
            t.start()
        for t in th:
            t.join()
    return time.monotonic() - t0, errors[0]


def run(users, groups, datafile):
    env = os.environ
    rows = []

    def row(metric, a, b):
        rows.append((metric, a, b))
        print("  %-44s %-20s %s" % (metric, a, b), file=sys.stderr, flush=True)

    print("# push: %s clients, %.0f s per operation and server" % (",".join(map(str, CLIENTS)), SECONDS),
          file=sys.stderr, flush=True)
    for n in CLIENTS:
        h = push(env["HUB_PUSH"], env["HUB_TOKEN"], "h", n)
        s = push(env["SC_PUSH"], env["SC_TOKEN"], "s", n)
        for op in h:
            fmt = lambda v: "%.0f/s, p99 %.1f ms%s" % (v[0], v[2] * 1e3, " (%d err)" % v[3] if v[3] else "")
            row("%s, %d client%s" % (op, n, "s" if n > 1 else ""), fmt(h[op]), fmt(s[op]))

    with open(datafile) as f:
        data = json.load(f)
    print("# loading the hub with %d users / %d groups (%d POSTs at once)" % (users, groups, LOAD_CLIENTS),
          file=sys.stderr, flush=True)
    lt, lerr = load_hub(env["HUB_PULL"], env["HUB_PULL_TOKEN"], data)
    del data
    row("load by POST, %d clients" % LOAD_CLIENTS,
        "%.1f s (%.0f/s)%s" % (lt, (users + groups) / lt, " %d err" % lerr if lerr else ""), "(--data)")
    print("# pulling", file=sys.stderr, flush=True)
    ph = pull(env["HUB_PULL"], env["HUB_PULL_TOKEN"], int(env["HUB_PULL_PID"]), True)
    ps = pull(env["SC_PULL"], env["SC_TOKEN"], int(env["SC_PULL_PID"]), False)
    for key, label, fmt in (("wall", "pull wall time", "%.2f s"), ("cpu", "pull server CPU (utime+stime)", "%.2f s"),
                            ("rss0", "server RSS before pull", "%.1f MiB"),
                            ("hwm", "server peak RSS during pull (VmHWM)", "%.1f MiB"),
                            ("reqs", "pull requests", "%d"), ("bytes", "pull bytes", "%.1f MB")):
        conv = (lambda v: v / 1024.0) if key in ("rss0", "hwm") else (lambda v: v / 1e6) if key == "bytes" else (lambda v: v)
        row(label, fmt % conv(ph[key]), fmt % conv(ps[key]))
    row("users / groups pulled", "%d / %d" % (ph["users"], ph["groups"]), "%d / %d" % (ps["users"], ps["groups"]))
    if not (ph["reset"] and ps["reset"]):
        print("# note: VmHWM could not be reset; peak RSS includes loading", file=sys.stderr)

    print()
    print("Sizes: %d users, %d groups (each user in ~3 groups); push %.0f s per cell" % (users, groups, SECONDS))
    print()
    print("| metric | provision-hub | SCIMMY |")
    print("|---|---|---|")
    for m, a, b in rows:
        print("| %s | %s | %s |" % (m, a, b))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "run":
        run(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__ or "usage: bench-hub.py gen|run USERS GROUPS FILE")


if __name__ == "__main__":
    main()
