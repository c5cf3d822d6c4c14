#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hosts fail over between provision-hub replicas on PostgreSQL (issue 16), end to end.

Two real hubs (A and B) on one database of a real PostgreSQL server, and two real
provision-syncd hosts (tests/hubsync/hubsyncharness.py: a private bus and a logind mock each)
with `[source] type = hub` and `url = A,B`. While an IdP pushes to B without pause (joiners,
leavers, a group's members), A is killed with SIGKILL under the hosts' held feed requests:

- each host resumes on B within the goal of 3 s (the time from the kill until it has a user
  created on B right after it), printed;
- no event is missed, applied twice or out of order: each host ends at B's head seq, with every
  user in the state the hub serves and every group with the hub's (active) members, and each
  user's joining is in the host's audit log once.
Exit 0 passed, 1 failed, 77 something needed is missing (PostgreSQL, the hub, syncd, the bus)."""

import os
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
sys.path.insert(0, os.path.join(srcdir, "tests", "ctl"))
sys.path.insert(0, os.path.join(srcdir, "tests", "hubsync"))
os.environ["HUB_STORE"] = "postgresql"
import hubharness as H  # noqa: E402
from hubharness import Failure, check, wait_for  # noqa: E402
from hubsyncharness import Cases, Follower, skip_reason  # noqa: E402

ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
GOAL = 3.0
FEED_WAIT = 30


def main():
    reason = skip_reason() or H.pg_skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    keep = "--keep" in sys.argv
    tmp = tempfile.mkdtemp(prefix="test-hub-failover.")
    os.chmod(tmp, 0o755)
    cases = Cases()
    hosts, a, b = [], None, None
    try:
        os.makedirs(os.path.join(tmp, "a"))
        os.makedirs(os.path.join(tmp, "b"))
        a = H.Hub(os.path.join(tmp, "a"), extra_conf={"guard": {"max_percent": "0"}})
        b = H.Hub(os.path.join(tmp, "b"), replica_of=a, extra_conf={"guard": {"max_percent": "0"}})
        users = [a.create_user(f"user{i}") for i in range(10)]
        eng = a.create_group("eng", members=[u["id"] for u in users[:5]])
        for i, n in enumerate(("h1", "h2")):
            f = Follower(tmp, a, name=n, host_id=f"{0xfa11 + i:032x}", feed_wait=FEED_WAIT)
            f.host.sections["source"]["url"] = f"{a.base},{b.base}"
            f.host._write()
            hosts.append(f)

        def head():
            return b.sql("SELECT coalesce(max(seq), 0) FROM changes")[0][0]

        def detail():
            return "\n".join(f"--- {f.name}:\n{f.log_tail(1500)}" for f in hosts) + \
                f"\n--- hub B:\n{b.log_text()[-1500:]}"

        def start():
            for f in hosts:
                f.start()
            for f in hosts:
                wait_for(lambda: f.seq() == head(), f"{f.name} at the head", timeout=20)
        cases.run("hosts follow replica A", start, detail=detail, stop=True)

        def failover():
            stop = threading.Event()
            pushed, errors = [], []

            def idp():  # pushes to B all along, as an IdP that lost A would
                i = 0
                while not stop.is_set():
                    try:
                        u = b.create_user(f"during{i}")
                        pushed.append(u)
                        if i % 3 == 0:
                            b.patch("Users", users[i % 10]["id"],
                                    [{"op": "replace", "path": "active", "value": i % 2 == 0}])
                        if i % 4 == 0:
                            b.patch("Groups", eng["id"],
                                    [{"op": "add", "path": "members", "value": [{"value": u["id"]}]}])
                    except Exception as e:
                        errors.append(str(e))
                    i += 1
                    time.sleep(0.05)
            w = threading.Thread(target=idp)
            w.start()
            time.sleep(1.5)  # the hosts hold requests on A, and follow the pushes through it
            killed = time.monotonic()
            a.crash()
            marker = b.create_user("after-kill")
            took = {}
            for f in hosts:
                wait_for(lambda: f.host.passwd("after-kill"), f"{f.name} has the user created after the kill",
                         timeout=20, step=0.02)
                took[f.name] = time.monotonic() - killed
            time.sleep(1.5)
            stop.set()
            w.join(timeout=30)
            check(not errors, f"the IdP's pushes to B: {errors[:3]}")
            print("# resumed on B, from SIGKILL of A to the host having a user created on B: " +
                  ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in took.items()) +
                  f" ({len(pushed)} users pushed meanwhile)", flush=True)
            for n, t in took.items():
                check(t <= GOAL, f"{n} resumed {t:.2f} s after the kill, goal {GOAL} s")
            check(marker["id"], "no marker")
        cases.run("a replica killed under the hosts' held requests costs one reconnect", failover, detail=detail,
                  stop=True)

        def same_as_hub():
            h = head()
            want = {u["id"]: (u["userName"], ACTIVE if u.get("active", True) else SUSPENDED)
                    for u in b.list("Users", "count=10000")["Resources"]}
            # A suspended user is no member on the hosts (provision-syncd's mapping).
            in_eng = [b.get("Users", m["value"]) for m in b.get("Groups", eng["id"])["members"]]
            members = sorted(u["userName"] for u in in_eng if u.get("active", True))
            for f in hosts:
                wait_for(lambda: f.seq() == h, f"{f.name} at B's head {h} (at {f.seq()})", timeout=20)
                have = {r[0]: (r[1], r[2]) for r in f.host.sql("SELECT scim_id, name, state FROM users")}
                diff = [i for i in want if have.get(i) != want[i]] + [i for i in have if i not in want]
                check(not diff, f"{f.name}: {len(diff)} users differ from the hub, e.g. "
                      f"{[(i, have.get(i), want.get(i)) for i in diff[:3]]}")
                check(f.host.members("eng") == members, f"{f.name}: eng is {f.host.members('eng')}, the hub {members}")
                twice = f.host.sql("SELECT scim_id, count(*) FROM audit WHERE event = 'joiner' GROUP BY scim_id"
                                   " HAVING count(*) > 1")
                check(not twice, f"{f.name}: users provisioned twice: {twice[:3]}")
                f.alive()
        cases.run("every host ends equal to the hub, nothing twice", same_as_hub, detail=detail)
    except Failure:
        pass
    finally:
        for f in hosts:
            f.cleanup()
        for h in (a, b):
            if h:
                h.stop()
    return cases.finish(tmp, keep)


if __name__ == "__main__":
    sys.exit(main())
