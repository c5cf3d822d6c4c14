#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub replicas on one PostgreSQL (issue 16): two real hub processes on one database of
a real server (tests/hub/hubharness.py starts it), followed the way hosts follow them.

- A write on one replica wakes a feed request held by the other (LISTEN/NOTIFY), well within
  the request's wait.
- Writers on both replicas at once make ONE gap-free sequence in commit order: followers that
  poll either replica while the writes run never see a seq go back, never get an event outside
  (since, seq], and end with exactly the directory's state (a seq assigned out of commit order
  would let a follower step past a change that commits later, and miss it).
- A replica killed with SIGKILL while a follower holds a feed request on it costs the follower
  one reconnect to the other replica (timed; the goal is 3 s), and no event.
- The writers' lock held by another session (a replica frozen mid-transaction): a push is
  answered 503 after the lock timeout, reads go on.
- PostgreSQL down: writes are answered 503 with Retry-After, held feed requests are answered
  with what is known (no event after their since), nothing is half-written; when it is back
  both replicas write and wake held requests again without a restart.
- One host token marked bind, raced by hosts on both replicas at once, belongs to exactly one
  host: the first binder's; the others are refused.
- The password (read from a file) is in neither the hub's command line nor its log, and a
  conninfo holding one is refused.
Exit 0 all passed, 1 a case failed, 77 PostgreSQL or the hub is missing."""

import json
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
os.environ["HUB_STORE"] = "postgresql"
import hubharness as H  # noqa: E402
from hubharness import Failure, check, wait_for  # noqa: E402

WAKE_BOUND = 2.0      # seconds from a commit on one replica to the held request's answer on the other
FAILOVER_GOAL = 3.0   # seconds from SIGKILL to the follower's first answer from the other replica


def feed(hub, since, wait, timeout=None):
    return hub.request("GET", f"//v1/feed?since={since}", token="host", headers={"Prefer": f"wait={wait}"},
                       timeout=timeout or wait + 15)


class Follower(threading.Thread):
    """Follows the feed the way provision-syncd does: one held request at a time, the replicas
    tried in turn when one fails. Checks every answer: seq never backwards, events ascending and
    within (since, seq]. Keeps each resource's last state (None: deleted)."""

    def __init__(self, replicas, wait=5, name="follower"):
        super().__init__(daemon=True, name=name)
        self.replicas = list(replicas)
        self.wait = wait
        self.since = 0
        self.state = {}
        self.errors = []
        self.answers = 0
        self.switches = []  # (monotonic time of the failure, monotonic time of the next answer)
        self.stop_flag = threading.Event()
        self.current = 0

    def run(self):
        failed_at = None
        while not self.stop_flag.is_set():
            hub = self.replicas[self.current]
            try:
                r = feed(hub, self.since, self.wait)
            except Exception:  # connection refused or reset: the next replica
                failed_at = failed_at or time.monotonic()
                self.current = (self.current + 1) % len(self.replicas)
                time.sleep(0.05)
                continue
            if r.status != 200:
                failed_at = failed_at or time.monotonic()
                self.current = (self.current + 1) % len(self.replicas)
                hub.responses_5xx[:] = [x for x in hub.responses_5xx if "/v1/feed" not in x]
                time.sleep(0.2)
                continue
            if failed_at:
                self.switches.append((failed_at, time.monotonic()))
                failed_at = None
            self.apply(r.json)

    def apply(self, answer):
        seq, events = answer["seq"], answer["events"]
        if seq < self.since:
            self.errors.append(f"seq went back from {self.since} to {seq}")
        last = self.since
        for e in events:
            if not (last < e["seq"] <= seq):
                self.errors.append(f"event seq {e['seq']} outside ({last}, {seq}] after since={self.since}")
            last = e["seq"]
            key = (e["resourceType"], e["id"])
            self.state[key] = e.get("resource") if e["op"] == "upsert" else None
        self.since = max(self.since, seq)
        self.answers += 1

    def finish(self):
        self.stop_flag.set()
        self.join(timeout=self.wait + 20)


def head(hub):
    return hub.sql("SELECT coalesce(max(seq), 0) FROM changes")[0][0]


def directory(hub):
    """The hub's users and groups as a follower should end (the fleet's view, its snapshot: a
    deletion the guard holds is still there): (type, id) -> (userName or displayName, active)."""
    out = {}
    r = hub.request("GET", "//v1/snapshot", token="host")
    check(r.status == 200, f"snapshot: {r!r}")
    for kind, typ, name in (("Users", "User", "userName"), ("Groups", "Group", "displayName")):
        for res in r.json[kind]:
            out[(typ, res["id"])] = (res[name], res.get("active"))
    return out


def follower_view(f):
    return {k: (v.get("userName") or v.get("displayName"), v.get("active")) for k, v in f.state.items() if v}


def check_follower(f, hub, what):
    check(not f.errors, f"{what}: {f.errors[:3]}")
    want, have = directory(hub), follower_view(f)
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    wrong = [k for k in want if k in have and have[k] != want[k]]
    check(not missing and not extra and not wrong,
          f"{what}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} different from the hub "
          f"(e.g. {(missing + extra + wrong)[:3]})")


def gap_free(hub):
    seqs = [r[0] for r in hub.sql("SELECT seq FROM changes ORDER BY seq")]
    check(seqs == list(range(1, len(seqs) + 1)), f"the change sequence has gaps: {seqs[:5]}..{seqs[-5:]}")
    return len(seqs)


def replica(hub):
    tmp = hub.tmp + "-b"
    os.makedirs(tmp, exist_ok=True)
    return H.Hub(tmp, replica_of=hub)


def test_a_write_on_one_replica_wakes_a_feed_held_on_the_other(hub):
    b = replica(hub)
    try:
        hub.create_user("warmup")
        since = head(hub)
        out = {}

        def hold():
            out["r"] = feed(b, since, 20)
            out["t"] = time.monotonic()
        t = threading.Thread(target=hold)
        t.start()
        time.sleep(0.5)  # held by now
        t0 = time.monotonic()
        u = hub.create_user("woken")
        t.join(timeout=25)
        r = out.get("r")
        check(r is not None and r.status == 200, f"the held request on the other replica: {r!r}")
        took = out["t"] - t0
        check([e["id"] for e in r.json["events"]] == [u["id"]], f"the woken answer: {r.json}")
        check(took < WAKE_BOUND, f"the other replica answered {took:.2f} s after the commit, not within {WAKE_BOUND} s")
        print(f"# fan-out across replicas: {took * 1000:.0f} ms from the commit on A to the answer on B", flush=True)
    finally:
        b.stop()


def test_writes_on_both_replicas_are_one_sequence_in_commit_order(hub):
    b = replica(hub)
    followers = [Follower([hub], name="fa"), Follower([b], name="fb"), Follower([b, hub], wait=1, name="fab")]
    try:
        for f in followers:
            f.start()
        errors = []

        def writer(h, prefix, n=30):
            try:
                ids = []
                for i in range(n):
                    ids.append(h.create_user(f"{prefix}{i}")["id"])
                for i in ids[::2]:
                    h.patch("Users", i, [{"op": "replace", "path": "active", "value": False}])
                h.create_group(f"{prefix}-group", members=ids[:10])
                h.ok("DELETE", f"/Users/{ids[1]}", expect=(204,))
            except Exception as e:
                errors.append(f"{prefix}: {e}")
        ws = [threading.Thread(target=writer, args=(h, f"w{k}-")) for k, h in enumerate([hub, b, hub, b])]
        for w in ws:
            w.start()
        for w in ws:
            w.join(timeout=300)
        check(not errors, f"writers: {errors[:3]}")
        n = gap_free(hub)
        check(n >= 4 * (30 + 15 + 1 + 1), f"only {n} changes for the writes")
        for f in followers:
            wait_for(lambda: f.since == n, f"{f.name} at the head {n} (at {f.since})", timeout=30)
        for f in followers:
            f.finish()
            check_follower(f, hub, f.name)
    finally:
        for f in followers:
            f.stop_flag.set()
        b.stop()


def test_a_replica_killed_mid_stream_costs_one_reconnect(hub):
    b = replica(hub)
    f = Follower([hub, b], wait=20, name="follower")
    try:
        for i in range(5):
            hub.create_user(f"before{i}")
        f.start()
        wait_for(lambda: f.since == head(hub), "the follower at the head")
        time.sleep(0.5)  # its request is held on A now
        check(f.current == 0, "the follower is not on the first replica")
        stop = threading.Event()
        pushed = []

        def writer():  # the IdP, on the replica that survives
            i = 0
            while not stop.is_set():
                pushed.append(b.create_user(f"during{i}")["id"])
                i += 1
                time.sleep(0.05)
        w = threading.Thread(target=writer)
        w.start()
        time.sleep(0.3)
        killed = time.monotonic()
        hub.crash()
        wait_for(lambda: f.switches, "the follower's first answer from the other replica", timeout=15)
        time.sleep(1.0)
        stop.set()
        w.join(timeout=30)
        n = gap_free(b)
        wait_for(lambda: f.since == n, f"the follower at the head {n}", timeout=30)
        f.finish()
        took = f.switches[0][1] - killed
        print(f"# failover: {took * 1000:.0f} ms from SIGKILL of A to the follower's first answer from B "
              f"({len(pushed)} users pushed meanwhile)", flush=True)
        check(took <= FAILOVER_GOAL, f"the follower resumed {took:.2f} s after the kill, goal {FAILOVER_GOAL} s")
        check_follower(f, b, "the follower")
        hub.start()  # the harness checks the case's hub is alive at the end
    finally:
        f.stop_flag.set()
        b.stop()


def test_postgresql_down_is_503_then_recovered(hub):
    b = replica(hub)
    try:
        hub.create_user("before")
        since = head(hub)
        out = {}

        def hold():
            out["r"] = feed(b, since, 4)
        t = threading.Thread(target=hold)
        t.start()
        time.sleep(0.5)
        hub.pg.halt()
        try:
            r = hub.request("POST", "/Users", {"schemas": [H.CORE_USER], "userName": "while-down", "active": True})
            check(r.status == 503 and r.headers.get("retry-after"), f"a push while PostgreSQL is down: {r!r}")
            t.join(timeout=20)
            r = out.get("r")
            check(r is not None and r.status == 200 and r.json == {"seq": since, "events": []},
                  f"the held feed request while PostgreSQL is down: {r!r}")
            r = feed(b, since, 1)
            check(r.status == 200 and r.json == {"seq": since, "events": []},
                  f"a feed request while PostgreSQL is down: {r!r}")
        finally:
            hub.pg.start()
        for h in (hub, b):  # the 503s were the point
            h.responses_5xx[:] = [x for x in h.responses_5xx if "503" not in x]

        def pushed():
            r = hub.request("POST", "/Users", {"schemas": [H.CORE_USER], "userName": "after", "active": True})
            if r.status == 503:
                hub.responses_5xx.pop()
                return None
            check(r.status == 201, f"a push after PostgreSQL came back: {r!r}")
            return r.json
        wait_for(pushed, "a push accepted again", timeout=15, step=0.3)
        check(hub.filter("Users", 'userName eq "while-down"')["totalResults"] == 0,
              "the push answered 503 was written")

        def pushed_b():  # the IdP retries after Retry-After, as it was told
            r = b.request("POST", "/Users", {"schemas": [H.CORE_USER], "userName": "after-on-b", "active": True})
            if r.status == 503:
                b.responses_5xx.pop()
                return None
            check(r.status == 201, f"a push on B after PostgreSQL came back: {r!r}")
            return r.json
        wait_for(pushed_b, "a push accepted again on B", timeout=15, step=0.3)
        gap_free(hub)
        # Both replicas listen again: a write on A wakes a request held on B.
        time.sleep(1.5)
        since = head(hub)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=feed(b, since, 20), t=time.monotonic()))
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        hub.create_user("wakes")
        t.join(timeout=25)
        check(out.get("r") is not None and out["r"].status == 200 and out["t"] - t0 < WAKE_BOUND,
              f"after the outage, B's held request: {out.get('r')!r} after {out.get('t', 0) - t0:.2f} s")
    finally:
        b.stop()


def test_a_lock_held_elsewhere_costs_a_503_not_a_hung_hub(hub):
    """Another session (a replica frozen mid-transaction) holds the writers' lock: a push waits
    for it at most the lock timeout (3 s), is answered 503 with Retry-After and changes nothing;
    once the lock is free, pushes go through."""
    import subprocess
    hub.create_user("before")
    env = H.pg_env(PGPASSWORD=hub.pg.password)
    holder = subprocess.Popen([os.path.join(hub.pg.bindir, "psql"), "-X", "-q", "-h", hub.pg.sock, "-U", hub.pg.USER,
                               "-d", hub.pg_db, "-c", "BEGIN; SELECT pg_advisory_xact_lock(1886547830);"
                               " SELECT pg_sleep(6); COMMIT;"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.7)
        t0 = time.monotonic()
        r = hub.request("POST", "/Users", {"schemas": [H.CORE_USER], "userName": "blocked", "active": True})
        took = time.monotonic() - t0
        check(r.status == 503 and r.headers.get("retry-after"), f"a push while the lock is held: {r!r}")
        check(took < 5.0, f"the push waited {took:.1f} s for the lock")
        hub.responses_5xx.clear()
        t0 = time.monotonic()
        check(hub.list("Users")["totalResults"] == 1, "the refused push was written")
        check(time.monotonic() - t0 < 2.0, "a read waited for the lock")
    finally:
        holder.wait(timeout=30)
    hub.create_user("after")


def test_one_bind_token_raced_on_both_replicas_has_one_host(hub):
    """Hosts with one host token marked bind poll both replicas at the same instant: the first
    binder wins, every other host is refused 403 on either replica, and the token's host in the
    store is the one that was answered 200 (a last writer winning would leave two hosts each
    answered as the token's own)."""
    import http.client
    b = replica(hub)
    try:
        rounds, per_replica = 30, 3
        tokens = [hub.new_token("host", f"race{i}") for i in range(rounds)]
        time.sleep(1.1)  # both replicas see the new token file (checked by its time)
        for r in (hub, b):
            check(r.request("GET", "//v1/feed?since=0", token=tokens[-1]).status == 200, "a new token before the race")
        doubled = []
        for i, tok in enumerate(tokens):
            hosts = [f"{i:04x}{k:04x}".ljust(32, "e") for k in range(2 * per_replica)]
            conns = []
            for k, host in enumerate(hosts):
                h = (hub, b)[k % 2]
                c = http.client.HTTPConnection(h.host, h.port, timeout=30)
                c.connect()
                conns.append((c, host))
            start = threading.Barrier(len(conns))
            status = {}

            def poll(c, host):
                start.wait()
                c.request("GET", f"/v1/feed?since=0&host={host}&hostname=h{host[:8]}",
                          headers={"Authorization": "Bearer " + tok, "Prefer": "wait=0"})
                r = c.getresponse()
                r.read()
                status[host] = r.status
                c.close()
            ts = [threading.Thread(target=poll, args=cw) for cw in conns]
            for th in ts:
                th.start()
            for th in ts:
                th.join(timeout=60)
            won = sorted(h for h, s in status.items() if s == 200)
            refused = [h for h, s in status.items() if s == 403]
            rows = hub.sql("SELECT host_id FROM token_hosts WHERE token_name = ?", (f"race{i}",))
            check(len(status) == len(hosts) and len(won) + len(refused) == len(hosts),
                  f"round {i}: answers {sorted(status.values())}")
            if len(won) != 1 or rows != [(won[0],)]:
                doubled.append((i, won, rows))
        for h in (hub, b):  # the 403s were the point
            h.responses_5xx[:] = [x for x in h.responses_5xx if "/v1/feed" not in x]
        check(not doubled, f"{len(doubled)} of {rounds} tokens answered as their own to more than one host "
                           f"(round, hosts answered 200, the store's binding): {doubled[:3]}")
    finally:
        b.stop()


def test_password_stays_out_of_argv_and_logs(hub):
    pw = hub.pg.password
    cmdline = open(f"/proc/{hub.proc.pid}/cmdline", "rb").read().decode(errors="replace")
    check(pw not in cmdline, "the password is on the hub's command line")
    hub.create_user("someone")
    hub.stop()
    hub.start()
    check(pw not in hub.log_text(), "the password is in the hub's log")
    conf = open(hub.conf).read().replace(f"dbname={hub.pg_db}", f"dbname={hub.pg_db} password=secret")
    err = H.hub_refuses(hub.tmp, conf, "a password in conninfo")
    check("password_file" in err and "secret" not in err, f"the refusal: {err[-300:]}")
    wrong = os.path.join(hub.tmp, "wrong.password")
    H.write_private(wrong, "not-the-password-42\n")
    conf = open(hub.conf).read().replace(hub.pg.password_file, wrong)
    err = H.hub_refuses(hub.tmp, conf, "a wrong password")
    check("password authentication failed" in err and "not-the-password-42" not in err and pw not in err,
          f"the refusal of a wrong password: {err[-300:]}")


if __name__ == "__main__":
    H.run_suite([
        test_a_write_on_one_replica_wakes_a_feed_held_on_the_other,
        test_writes_on_both_replicas_are_one_sequence_in_commit_order,
        test_a_replica_killed_mid_stream_costs_one_reconnect,
        test_a_lock_held_elsewhere_costs_a_503_not_a_hung_hub,
        test_one_bind_token_raced_on_both_replicas_has_one_host,
        test_password_stays_out_of_argv_and_logs,
        test_postgresql_down_is_503_then_recovered,
    ], sys.argv, prefix="test-hub-replicas")
