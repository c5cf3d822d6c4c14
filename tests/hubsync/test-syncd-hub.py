#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-syncd following the REAL provision-hub's change feed ([source] type = hub, issue 15).

One hub (hub/provision-hub, started by tests/hub/hubharness.py on a fixed loopback port so that it
can be restarted under the same URL) and one daemon in a private state directory, with the
logind mock of tests/lib/logind-mock.py on a private dbus-daemon playing the
system bus. IdP requests go to the hub's /scim/v2 with its SCIM token; results are read through
the real NSS module (getent -s provision), the store (read-only) and the logind mock's call log.
Cases, in order, on the same hub and host: the first snapshot and a joiner; a mover; a leaver
(PATCH active:false) suspended and TerminateUser called while the daemon holds a feed request
(feed_wait = 30: the bound is 10 s, far below the wait); a DELETE deprovisions; a deletion the
hub's guard holds stays on the host until approved, then deprovisions; the daemon killed
and restarted resumes from its stored seq; an enforcement outcome the hub cannot take (its
store locked: 503) waits in the store and reaches the hub's report after a SIGKILL and restart; a hub restored empty (the host's seq is ahead of it:
410) makes the host read the snapshot. Exit 0 all passed, 1 a case failed, 77 something needed is
missing or the hub has no /v1/feed."""

import os
import signal
import sqlite3
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
sys.path.insert(0, os.path.join(srcdir, "tests", "ctl"))
import hubharness as H  # noqa: E402  (read-only use of the hub's harness)
from hubharness import Failure, check, wait_for  # noqa: E402
from ctlharness import run_ctl_json  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubsyncharness import Cases, Follower, free_port, head, skip_reason, waiters  # noqa: E402

ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
FEED_WAIT = 30
NOTICE_BOUND = 10.0  # seconds: far below FEED_WAIT, far above what the feed takes


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


class World:
    """The hub and one Follower (hubsyncharness.py): the host, its daemon, bus and logind mock."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.f = None

    def start_hub(self):
        os.makedirs(os.path.join(self.tmp, "hub"))
        self.hub = H.Hub(os.path.join(self.tmp, "hub"), extra_conf={"http": {"listen": f"127.0.0.1:{self.port}"}})

    def feed_exists(self):
        r = self.hub.request("GET", "//v1/feed?since=0", token="host", headers={"Prefer": "wait=0"})
        return r.status != 404

    def make_host(self):
        self.f = Follower(self.tmp, self.hub, name="host", feed_wait=FEED_WAIT)
        self.host = self.f.host

    def log_tail(self, n=3000):
        return self.f.log_tail(n) if self.f else ""

    def waiters(self):
        return waiters(self.hub)

    def head(self):
        return head(self.hub)

    def cleanup(self):
        if self.f:
            self.f.cleanup()
        if getattr(self, "hub", None):
            self.hub.stop()


def deactivate(hub, uid):
    hub.patch("Users", uid, [{"op": "replace", "path": "active", "value": False}])


def main():
    if skip_reason():
        skip(skip_reason())

    keep = "--keep" in sys.argv
    tmp = tempfile.mkdtemp(prefix="test-syncd-hub.")
    os.chmod(tmp, 0o755)
    w = World(tmp)
    cases = Cases()
    try:
        w.start_hub()
        if not w.feed_exists():
            skip("the hub answers 404 to /v1/feed: its change feed has not landed")
        hub = w.hub
        alice = hub.create_user("alice", name={"givenName": "Alice", "familyName": "A"})
        bob = hub.create_user("bob")
        carol = hub.create_user("carol")
        dave = hub.create_user("dave")
        eng = hub.create_group("eng", members=[alice["id"], carol["id"]])
        ops = hub.create_group("ops", members=[bob["id"]])
        w.make_host()
        host = w.host

        def case(name, fn):
            cases.run(name, fn, stop=True,
                      detail=lambda: f"--- syncd log:\n{w.log_tail()}\n--- hub log:\n{hub.log_text()[-1500:]}")

        def snapshot_and_joiner():
            w.f.start()
            check(host.passwd("alice") is not None, "alice is not in NSS after the first snapshot")
            check(host.members("eng") == ["alice", "carol"], f"eng is {host.members('eng')}")
            check(host.members("ops") == ["bob"], f"ops is {host.members('ops')}")
            check(w.f.seq() == w.head(), f"host seq {w.f.seq()} is not the hub's head {w.head()}")
            st = run_ctl_json(host.conf, "status", env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=w.f.bus))
            check(st["source"]["type"] == "hub" and st["source"]["seq"] == w.f.seq(),
                  f"provisionctl status shows the source {st['source']}, host seq {w.f.seq()}")
            check(st["source"]["url"] == hub.base, f"provisionctl status shows the url {st['source']['url']}")
            check(isinstance(st["source"]["at_head_usec"], int) and
                  abs(st["source"]["at_head_usec"] / 1e6 - time.time()) < 300,
                  f"provisionctl status shows when the host was at the hub's head: {st['source']}")
            check(st["last_success_usec"] > 0, "provisionctl status shows no successful contact")
            erin = hub.create_user("erin")
            hub.patch("Groups", eng["id"], [{"op": "add", "path": "members", "value": [{"value": erin["id"]}]}])
            wait_for(lambda: host.passwd("erin"), "the joiner erin in NSS", timeout=NOTICE_BOUND)
            wait_for(lambda: host.members("eng") == ["alice", "carol", "erin"], "erin in eng", timeout=NOTICE_BOUND)
            w.f.alive()
        case("first start reads the snapshot; a joiner follows through the feed", snapshot_and_joiner)

        def mover():
            hub.patch("Groups", eng["id"], [{"op": "remove", "path": f'members[value eq "{carol["id"]}"]'}])
            hub.patch("Groups", ops["id"], [{"op": "add", "path": "members", "value": [{"value": carol["id"]}]}])
            wait_for(lambda: host.members("ops") == ["bob", "carol"], "carol in ops", timeout=NOTICE_BOUND)
            wait_for(lambda: host.members("eng") == ["alice", "erin"], "carol out of eng", timeout=NOTICE_BOUND)
            check(host.user_state(carol["id"]) == ACTIVE, "the mover is not active")
        case("a mover's groups follow", mover)

        def leaver():
            uid = host.passwd("bob")[0]
            # The daemon holds a feed request at the hub now: the leaver must reach it through
            # that request, not through a later poll.
            wait_for(lambda: w.waiters() >= 1, "a held feed request at the hub", timeout=NOTICE_BOUND)
            held_since = time.monotonic()
            deactivate(hub, bob["id"])
            wait_for(lambda: uid in w.f.terminated(), "TerminateUser of bob on the logind mock", timeout=NOTICE_BOUND)
            took = time.monotonic() - held_since
            check(took < FEED_WAIT, f"bob's TerminateUser came after {took:.1f} s, not within the held request")
            check(host.user_state(bob["id"]) == SUSPENDED, f"bob is in state {host.user_state(bob['id'])}")
            check(host.passwd("bob")[1] != "/bin/bash", "bob still has a login shell")
            check("suspend" in {r[0] for r in host.sql("SELECT event FROM audit WHERE scim_id = ?", (bob["id"],))},
                  "no suspend event in the audit log for bob")
        case("a leaver is suspended and their sessions ended while a feed request is held", leaver)

        def delete():
            hub.ok("DELETE", f"/Users/{dave['id']}", expect=(204,))
            wait_for(lambda: host.user_state(dave["id"]) == DEPROVISIONED, "dave deprovisioned", timeout=NOTICE_BOUND)
            events = {r[0] for r in host.sql("SELECT event FROM audit WHERE scim_id = ?", (dave["id"],))}
            check("deprovision" in events, f"no deprovision event for dave: {events}")
            wait_for(lambda: w.f.seq() == w.head(), "the host at the hub's head", timeout=NOTICE_BOUND)
        case("a DELETE at the hub deprovisions", delete)

        def restart():
            w.f.stop(signal.SIGKILL)
            seq = w.f.seq()
            hub.create_user("frank")
            deactivate(hub, alice["id"])
            before = open(w.f.daemon_log, errors="replace").read()
            w.f.start()
            after = open(w.f.daemon_log, errors="replace").read()[len(before):]
            check("Hub snapshot" not in after and "Feed after %d:" % seq in after,
                  f"the restarted daemon did not follow from its seq {seq}: {after[-800:]}")
            wait_for(lambda: host.passwd("frank"), "frank after the restart", timeout=NOTICE_BOUND)
            wait_for(lambda: host.user_state(alice["id"]) == SUSPENDED, "alice suspended after the restart",
                     timeout=NOTICE_BOUND)
            wait_for(lambda: w.f.seq() == w.head(), "the host at the hub's head", timeout=NOTICE_BOUND)
            # Equal to the hub: every user the hub has, in the state it says; the deleted one gone.
            want = {u["id"]: (ACTIVE if u.get("active", True) else SUSPENDED)
                    for u in hub.list("Users", "count=1000")["Resources"]}
            have = {r[0]: r[1] for r in host.sql("SELECT scim_id, state FROM users")}
            for i, st in want.items():
                check(have.get(i) == st, f"user {i}: state {have.get(i)} on the host, {st} at the hub")
            check(have.get(dave["id"]) == DEPROVISIONED, "dave came back")
            check(set(have) - set(want) == {dave["id"]}, f"the host has users the hub does not: {set(have) - set(want)}")
        case("a killed daemon resumes from its stored seq, equal to the hub", restart)

        def acks_survive_restart():
            # The daemon gets carol's deactivation and enforces it while the hub cannot take acks
            # (its store locked by another writer): the outcome waits in the daemon's store, and
            # after a SIGKILL the restarted daemon reports it (the hub may have taken the POST it
            # gave up on too: acks are sent at least once).
            wait_for(lambda: w.waiters() >= 1, "a held feed request", timeout=NOTICE_BOUND)
            w.f.daemon.send_signal(signal.SIGSTOP)
            deactivate(hub, carol["id"])
            lock = sqlite3.connect(hub.db, timeout=10, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            before = len(open(w.f.daemon_log, errors="replace").read())
            try:
                w.f.daemon.send_signal(signal.SIGCONT)
                wait_for(lambda: host.user_state(carol["id"]) == SUSPENDED, "carol suspended", timeout=NOTICE_BOUND)
                wait_for(lambda: "Could not report 1 enforcement outcomes" in
                         open(w.f.daemon_log, errors="replace").read()[before:],
                         "the daemon told its acks were not taken", timeout=NOTICE_BOUND + 10)
                check(host.sql("SELECT count(*) FROM hub_acks")[0][0] == 1, "carol's outcome is not in the store")
                w.f.stop(signal.SIGKILL)
            finally:
                lock.execute("COMMIT")
                lock.close()

            def acked():
                r = hub.request("GET", f"//v1/admin/leavers/{carol['id']}", token="admin")
                check(r.status == 200, f"the leaver report: {r!r}")
                return [o for o in r.json["outcomes"] if o["hostname"] == "host"]
            before = len(open(w.f.daemon_log, errors="replace").read())
            w.f.start()
            wait_for(lambda: "Reported 1 enforcement outcomes" in open(w.f.daemon_log, errors="replace").read()[before:],
                     "the restarted daemon reporting the kept outcome", timeout=NOTICE_BOUND)
            wait_for(acked, "carol's outcome in the hub's fleet report after the restart", timeout=NOTICE_BOUND)
            check(acked()[0]["steps"].get("logind") == "ok", f"the outcome reported: {acked()}")
            wait_for(lambda: host.sql("SELECT count(*) FROM hub_acks")[0][0] == 0, "the store emptied once the hub took it",
                     timeout=NOTICE_BOUND)
        case("an outcome the hub could not take survives a restart and reaches its report", acks_survive_restart)

        def restored_hub():
            old_seq = w.f.seq()
            hub.stop()
            for n in os.listdir(os.path.dirname(hub.db)):
                if n.startswith(os.path.basename(hub.db)):
                    os.unlink(os.path.join(os.path.dirname(hub.db), n))
            hub.start()
            gina = hub.create_user("gina")
            check(w.head() < old_seq, f"the fresh hub's head {w.head()} is not behind the host's seq {old_seq}")
            wait_for(lambda: host.passwd("gina"), "gina from the restored hub's snapshot", timeout=90)
            check("reading its snapshot" in w.f.log_tail(20000), "the daemon did not log the 410 and the snapshot")
            wait_for(lambda: w.f.seq() == w.head(), "the host at the restored hub's head", timeout=NOTICE_BOUND)
            check(host.user_state(gina["id"]) == ACTIVE, "gina is not active")
            check(host.user_state(alice["id"]) == DEPROVISIONED,
                  "alice, absent from the restored hub, is not deprovisioned by its snapshot")
            w.f.alive()
        case("a hub restored behind the host's seq answers 410 and the host reads its snapshot", restored_hub)

        def held_deletion():
            # The hub's guard ([guard] max_percent 10, min_users 20 by default): delete one after
            # another until it holds a deletion, which the host must not see until approved.
            staff = [hub.create_user(f"staff{i:02d}") for i in range(24)]
            wait_for(lambda: w.f.seq() == w.head() and host.passwd("staff23"), "the staff on the host",
                     timeout=NOTICE_BOUND)
            gone, held = [], []
            for u in staff:
                hub.ok("DELETE", f"/Users/{u['id']}", expect=(204,))
                gone.append(u)
                held = [x for x in hub.request("GET", "//v1/admin/holds", token="admin").json["users"]]
                if held:
                    break
            check([x["kind"] for x in held] == ["deletion"], f"the guard held {held} after {len(gone)} deletions")
            ghost = gone[-1]
            hub.gone("Users", ghost["id"])
            wait_for(lambda: w.f.seq() == w.head(), "the host at the head with the held deletion", timeout=NOTICE_BOUND)
            for u in gone[:-1]:
                wait_for(lambda: host.user_state(u["id"]) == DEPROVISIONED, f"{u['userName']} deprovisioned",
                         timeout=NOTICE_BOUND)
            check(host.user_state(ghost["id"]) == ACTIVE and host.passwd(ghost["userName"]) is not None,
                  f"the held deletion reached the host: state {host.user_state(ghost['id'])}")
            # The IdP creates the same userName again: a new user at the hub; the host keeps the
            # held one under that name and refuses the newcomer.
            again = hub.create_user(ghost["userName"])
            wait_for(lambda: w.f.seq() == w.head(), "the host at the head with the new user", timeout=NOTICE_BOUND)
            check(host.user_state(ghost["id"]) == ACTIVE, "the new user displaced the held one")
            check(host.user_state(again["id"]) is None, f"the newcomer is {host.user_state(again['id'])} on the host")
            uid = host.passwd(ghost["userName"])[0]
            r = hub.request("POST", "//v1/admin/holds/approve", token="admin")
            check(r.status == 200 and r.json["released"] == 1, f"approve: {r!r}")
            wait_for(lambda: host.user_state(ghost["id"]) == DEPROVISIONED, "the approved deletion deprovisioned",
                     timeout=NOTICE_BOUND)
            check("deprovision" in {r[0] for r in host.sql("SELECT event FROM audit WHERE scim_id = ?", (ghost["id"],))},
                  "no deprovision event for the approved deletion")
            # As after any deletion, the deprovisioned account keeps its name (retention_days).
            wait_for(lambda: w.f.seq() == w.head(), "the host at the head after the approval", timeout=NOTICE_BOUND)
            check(host.user_state(again["id"]) is None and host.passwd(ghost["userName"])[0] == uid,
                  "the newcomer took the deprovisioned account's name")
            w.f.alive()
        case("a held deletion stays on the host until approved, then deprovisions", held_deletion)

        def failover_and_token():
            # A replica that refuses connections first in the list: the next URL serves.
            dead = f"http://127.0.0.1:{free_port()}"
            other = H.Host(tmp, dead, hub.host_token, name="failover")
            other.sections["source"].update({"type": "hub", "url": f"{dead},{hub.base}"})
            other._write()
            rc, out = other.once()
            check(rc == 0, f"--once with a dead first URL exited {rc}: {out[-1500:]}")
            check(other.passwd("gina") is not None, "the host behind a dead first URL did not get gina")
            check("trying the next URL" in out, f"no failover logged: {out[-800:]}")
            # A wrong token: said clearly, nothing applied, and the token is not in the log.
            bad = H.Host(tmp, hub.base, "prov_not-a-valid-token-value", name="badtoken")
            bad.sections["source"].update({"type": "hub", "url": hub.base})
            bad._write()
            rc, out = bad.once()
            check(rc != 0, "--once with a wrong token exited 0")
            check("refused our host token" in out, f"the wrong token is not said clearly: {out[-800:]}")
            check("prov_not-a-valid-token-value" not in out, "the token is in the log")
            check(bad.getent("passwd", "gina") is None, "a refused host got accounts")
            # Another host with this host's token: its feed polls are refused, and it says why.
            stolen = H.Host(tmp, hub.base, open(host.token_file).read().strip(), name="stolen")
            stolen.sections["source"].update({"type": "hub", "url": hub.base, "host_id": "5" * 32})
            stolen._write()
            rc, out = stolen.once()  # the snapshot: reading is any host token's
            check(rc == 0, f"the first --once of a host with another's token: {out[-800:]}")
            rc, out = stolen.once()  # a feed poll names its host
            check(rc != 0 and "belongs to another host" in out, f"a host with another's token polled: {out[-800:]}")
        case("a dead first URL fails over to the next; a wrong token is said clearly", failover_and_token)

        def shutdown():
            w.f.alive()
            wait_for(lambda: w.waiters() >= 1, "a held feed request", timeout=NOTICE_BOUND)
            t = time.monotonic()
            w.f.daemon.send_signal(signal.SIGTERM)
            w.f.daemon.wait(timeout=FEED_WAIT)
            took = time.monotonic() - t
            check(took < NOTICE_BOUND, f"SIGTERM during a held feed request took {took:.1f} s")
            check(w.f.daemon.returncode == 0, f"the daemon exited {w.f.daemon.returncode}")
            w.f.daemon = None
        case("SIGTERM stops the daemon while a feed request is held", shutdown)
    except Failure as e:
        if not cases.failed:  # outside a case: the setup
            print(f"FAIL: setup: {e}\n{w.log_tail()}")
            cases.failed += 1
    except Exception:
        traceback.print_exc()
        cases.failed += 1
    finally:
        w.cleanup()
    return cases.finish(tmp, keep)


if __name__ == "__main__":
    sys.exit(main())
