#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fleet following the REAL provision-hub (issue 15): one hub and four provision-syncd hosts,
each with its own private system bus and python-dbusmock logind (hubsyncharness.Follower), all
following the feed at once. Cases, in order, on the same hub and hosts:

- a joiner and a mover reach every host (read through the real NSS module of each host);
- a leaver with a logind session on every host: PATCH active:false ends the session on each
  host, and the hub's fleet report says applied on all live hosts, sessions terminated on each,
  with the steps every host acked (POST /v1/acks by the daemons themselves);
- a host frozen (SIGSTOP) while it holds a feed request is live but has not applied the next
  leaver: the report lists it as lagging and counts it out; thawed, it applies and acks;
- an admin's lock reaches every host (suspended, TerminateUser) and is reported as a lock;
- the hub restarted while every host holds a feed request: each reconnects and the next joiner
  reaches all of them;
- the hub's guard holds a mass deactivation: the held users stay active on every host until an
  admin approves, then every host suspends them;
- at the end every host's store equals the hub (each user in the state the hub serves) at the
  hub's head.

Exit 0 all passed, 1 a case failed, 77 something needed is missing."""

import os
import signal
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
sys.path.insert(0, os.path.join(srcdir, "tests", "ctl"))
import hubharness as H  # noqa: E402  (read-only use of the hub's harness)
from hubharness import Failure, check, wait_for  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubsyncharness import Cases, Follower, free_port, head, skip_reason, waiters  # noqa: E402

ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
FEED_WAIT = 30
NOTICE_BOUND = 15.0  # seconds: far below FEED_WAIT, far above what the feed takes
HOSTS = 3            # followers that stay up; one more is frozen in one case


def report(hub, user_id):
    r = hub.request("GET", f"//v1/admin/leavers/{user_id}", token="admin")
    check(r.status == 200, f"the leaver report answered {r!r}")
    return r.json


def main():
    if skip_reason():
        print(f"SKIP: {skip_reason()}")
        return 77
    keep = "--keep" in sys.argv
    tmp = tempfile.mkdtemp(prefix="test-syncd-hub-fleet.")
    os.chmod(tmp, 0o755)
    cases = Cases()
    hub = None
    fleet = []
    frozen = None
    try:
        os.makedirs(os.path.join(tmp, "hub"))
        hub = H.Hub(os.path.join(tmp, "hub"), extra_conf={"http": {"listen": f"127.0.0.1:{free_port()}"}})
        alice = hub.create_user("alice")
        bob = hub.create_user("bob")
        carol = hub.create_user("carol")
        eng = hub.create_group("eng", members=[alice["id"]])
        ops = hub.create_group("ops", members=[bob["id"]])
        for i in range(HOSTS):
            fleet.append(Follower(tmp, hub, name=f"web{i + 1}", host_id=f"{0xf1ee7000 + i:032x}", feed_wait=FEED_WAIT))
        for f in fleet:
            f.start()

        def detail():
            return "\n".join(f"--- {f.name} log:\n{f.log_tail(1500)}" for f in fleet) + \
                f"\n--- hub log:\n{hub.log_text()[-1500:]}"

        def case(name, fn):
            cases.run(name, fn, stop=True, detail=detail)

        def on_every_host(what, pred):
            for f in fleet:
                wait_for(lambda: pred(f), f"{what} on {f.name}", timeout=NOTICE_BOUND)

        def joiner_and_mover():
            erin = hub.create_user("erin")
            hub.patch("Groups", eng["id"], [{"op": "add", "path": "members", "value": [{"value": erin["id"]}]}])
            on_every_host("the joiner erin in eng", lambda f: f.host.members("eng") == ["alice", "erin"])
            hub.patch("Groups", eng["id"], [{"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}])
            hub.patch("Groups", ops["id"], [{"op": "add", "path": "members", "value": [{"value": alice["id"]}]}])
            on_every_host("alice moved to ops", lambda f: f.host.members("ops") == ["alice", "bob"] and
                          f.host.members("eng") == ["erin"])
        case("a joiner and a mover reach every host", joiner_and_mover)

        def leaver():
            uids = {}
            for f in fleet:
                uids[f.name] = f.host.passwd("bob")[0]
                f.add_session(f"b{f.name}", uids[f.name], "bob")
            wait_for(lambda: waiters(hub) >= len(fleet), "every host holding a feed request", timeout=NOTICE_BOUND)
            hub.patch("Users", bob["id"], [{"op": "replace", "path": "active", "value": False}])
            on_every_host("TerminateUser of bob", lambda f: uids[f.name] in f.terminated())
            for f in fleet:
                check(f.host.user_state(bob["id"]) == SUSPENDED, f"bob is not suspended on {f.name}")
            # Each host acks, then polls again with what it has applied.
            everyone = {"known": len(fleet), "live": len(fleet), "applied": len(fleet), "sessionsTerminated": len(fleet)}
            wait_for(lambda: report(hub, bob["id"])["hosts"] == everyone, "every host's ack and poll in the fleet report",
                     timeout=NOTICE_BOUND)
            j = report(hub, bob["id"])
            check(j["state"] == "deactivated" and j["by"] == "entra-test", f"the report's state and who: {j}")
            check(j["lagging"] == [] and j["silent"] == [], f"lagging {j['lagging']}, silent {j['silent']}")
            got = sorted((o["hostname"], o["result"], o["sessions"], o["steps"].get("logind"), o["steps"].get("kill"))
                         for o in j["outcomes"])
            want = sorted((f.name, "terminated", 1, "ok", "skipped") for f in fleet)  # kill_processes is off
            check(got == want, f"the outcomes the hosts acked: {got}, want {want}")
        case("a leaver's sessions end on every host, and the fleet report says so host by host", leaver)

        def frozen_host():
            nonlocal frozen
            frozen = Follower(tmp, hub, name="zz-frozen", host_id=f"{0xf1ee7fff:032x}", feed_wait=FEED_WAIT)
            frozen.start()
            wait_for(lambda: frozen.seq() == head(hub), "the new host at the head", timeout=NOTICE_BOUND)
            wait_for(lambda: waiters(hub) >= len(fleet) + 1, "every host holding a feed request", timeout=NOTICE_BOUND)
            frozen.daemon.send_signal(signal.SIGSTOP)
            hub.patch("Users", carol["id"], [{"op": "replace", "path": "active", "value": False}])
            uids = {f.name: f.host.passwd("carol")[0] for f in fleet}
            on_every_host("TerminateUser of carol", lambda f: uids[f.name] in f.terminated())
            wait_for(lambda: len(report(hub, carol["id"])["outcomes"]) == len(fleet) and
                     report(hub, carol["id"])["hosts"]["applied"] == len(fleet), "the acks and polls of the live hosts",
                     timeout=NOTICE_BOUND)
            j = report(hub, carol["id"])
            check(j["hosts"]["known"] == len(fleet) + 1 and j["hosts"]["live"] == len(fleet) + 1 and
                  j["hosts"]["applied"] == len(fleet), f"with a frozen host: {j['hosts']}")
            check([h["hostname"] for h in j["lagging"]] == ["zz-frozen"], f"lagging: {j['lagging']}")
            check(all(o["result"] == "none" and o["sessions"] == 0 for o in j["outcomes"]),
                  f"carol had no sessions, the hosts said: {j['outcomes']}")
            frozen.daemon.send_signal(signal.SIGCONT)
            wait_for(lambda: frozen.host.user_state(carol["id"]) == SUSPENDED, "carol suspended on the thawed host",
                     timeout=NOTICE_BOUND + FEED_WAIT)
            wait_for(lambda: report(hub, carol["id"])["hosts"]["applied"] == len(fleet) + 1,
                     "the thawed host applied in the report", timeout=NOTICE_BOUND)
            wait_for(lambda: len(report(hub, carol["id"])["outcomes"]) == len(fleet) + 1, "the thawed host's ack",
                     timeout=NOTICE_BOUND)
            frozen.alive()
        case("a frozen host is reported lagging until it has applied the leaver", frozen_host)

        def lock():
            r = hub.request("POST", f"//v1/admin/users/{alice['id']}/lock", token="admin")
            check(r.status in (200, 204), f"lock: {r!r}")
            uids = {f.name: f.host.passwd("alice")[0] for f in fleet}
            on_every_host("alice suspended by the lock", lambda f: f.host.user_state(alice["id"]) == SUSPENDED)
            on_every_host("TerminateUser of alice", lambda f: uids[f.name] in f.terminated())
            wait_for(lambda: len(report(hub, alice["id"])["outcomes"]) >= len(fleet), "the lock's acks",
                     timeout=NOTICE_BOUND)
            check(report(hub, alice["id"])["state"] == "locked", "the report does not say locked")
        case("a lock reaches every host", lock)

        def hub_restart():
            everyone = fleet + [frozen]
            wait_for(lambda: waiters(hub) >= len(everyone), "every host holding a feed request", timeout=NOTICE_BOUND)
            hub.stop()
            hub.start()
            frank = hub.create_user("frank")
            for f in everyone:
                wait_for(lambda: f.host.passwd("frank"), f"frank on {f.name} after the hub's restart",
                         timeout=NOTICE_BOUND + 60)  # a host may be in its backoff (at most 60 s)
                f.alive()
            check(all(f.host.user_state(frank["id"]) == ACTIVE for f in everyone), "frank is not active everywhere")
        case("the hub restarted under held requests: every host reconnects and follows", hub_restart)

        def guard():
            everyone = fleet + [frozen]
            staff = [hub.create_user(f"staff{i:02d}") for i in range(30)]
            top = head(hub)
            for f in everyone:
                wait_for(lambda: f.seq() == top, f"the staff on {f.name}", timeout=NOTICE_BOUND)
            # Deactivate one after another until the guard ([guard] max_percent, 10 % by default)
            # holds some: what it holds is served active to the feed.
            gone, held = [], []
            for u in staff:
                hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
                gone.append(u)
                held = [x["id"] for x in hub.request("GET", "//v1/admin/holds", token="admin").json["users"]]
                if len(held) >= 2:
                    break
            check(len(held) >= 2, f"the guard held {held} after {len(gone)} deactivations")
            top = head(hub)
            for f in everyone:
                wait_for(lambda: f.seq() == top, f"{f.name} at the head with the held deactivations",
                         timeout=NOTICE_BOUND)
                for u in gone:
                    want = ACTIVE if u["id"] in held else SUSPENDED
                    check(f.host.user_state(u["id"]) == want,
                          f"{u['userName']} is {f.host.user_state(u['id'])} on {f.name}, want {want}")
            r = hub.request("POST", "//v1/admin/holds/approve", token="admin")
            check(r.status == 200 and r.json["released"] == len(held), f"approve: {r!r}")
            for f in everyone:
                for i in held:
                    wait_for(lambda: f.host.user_state(i) == SUSPENDED, f"the approved {i} suspended on {f.name}",
                             timeout=NOTICE_BOUND)
            wait_for(lambda: report(hub, held[0])["hosts"]["applied"] == len(everyone),
                     "the approved deactivation applied everywhere in the report", timeout=NOTICE_BOUND)
        case("a mass deactivation is held from every host until an admin approves", guard)

        def equal_to_hub():
            top = head(hub)
            want = {u["id"]: (ACTIVE if u.get("active", True) else SUSPENDED)
                    for u in hub.list("Users", "count=1000")["Resources"]}
            for f in fleet + [frozen]:
                wait_for(lambda: f.seq() == top, f"{f.name} at the hub's head {top}", timeout=NOTICE_BOUND)
                have = {r[0]: r[1] for r in f.host.sql("SELECT scim_id, state FROM users")}
                check(have == want, f"{f.name}'s users {have} are not the hub's {want}")
        case("every host's store equals the hub at its head", equal_to_hub)
    except Failure as e:
        if not cases.failed:  # outside a case: the setup
            print(f"FAIL: setup: {e}")
            cases.failed += 1
    except Exception:
        traceback.print_exc()
        cases.failed += 1
    finally:
        if frozen and frozen.daemon and frozen.daemon.poll() is None:
            frozen.daemon.send_signal(signal.SIGCONT)
        for f in fleet + ([frozen] if frozen else []):
            f.cleanup()
        if hub:
            hub.stop()
    return cases.finish(tmp, keep)


if __name__ == "__main__":
    sys.exit(main())
