#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-syncd against the project's real SCIM server (tests/scim-server/server.js).

Each case gets a fresh directory on the one server of this file and its own state directory;
results are read through the real NSS module (getent -s provision) and the store (read-only).
Daemon cases run with interval = 1 and full_interval = 3600, so every sync after the first one
is a delta unless SIGUSR1 asks for a full one. Run a subset: test-syncd-scim.py CASE... [--keep].
Exit 0 all passed, 1 a case failed, 77 node / node_modules / the build is missing."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scimharness import (CORE_USER, LIST_RESPONSE, POSIX_USER, check, group, is_delta,  # noqa: E402
                         run_suite, user, wait_for)

TOKEN = f"tok-{os.getpid()}-Zq8secretValue"
N = 20
ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


def directory(n=N):
    """n users; eng = users 1-5, ops = 6-10, Admins (served as the local sudo) = user 1."""
    users = [user(i) for i in range(1, n + 1)]
    groups = [group("g-eng", "eng", [f"id-{i:04d}" for i in range(1, 6)]),
              group("g-ops", "ops", [f"id-{i:04d}" for i in range(6, 11)]),
              group("g-admins", "Admins", ["id-0001"])]
    return users, groups


def first_sync(srv, case, n=N, conf=None):
    users, groups = directory(n)
    srv.reset(users, groups)
    case.write_conf(**(conf or {}))
    rc, out = case.once()
    check(rc == 0, f"first --once exited {rc}: {out[-800:]}")
    srv.control("POST", "stats/reset")


def deltas_since_reset(srv):
    return [e for e in srv.list_requests("Users") if is_delta(e)]


def wait_deltas(srv, case, k, what):
    """Waits until the daemon has made k more delta queries of /Users (counters reset first)."""
    srv.control("POST", "stats/reset")
    wait_for(lambda: case.daemon_alive() or len(deltas_since_reset(srv)) >= k, what)


def active(case, name):
    p = case.passwd(name)
    return p is not None and p[1] not in NOLOGIN


def suspended(case, name):
    p = case.passwd(name)
    return p is not None and p[1] in NOLOGIN


# ------------------------------------------------------------------------------------------ full


def test_first_full_sync_serves_every_user_and_group(srv, case):
    first_sync(srv, case)
    for i in range(1, N + 1):
        check(active(case, f"user{i:02d}"), f"user{i:02d} is not served as active")
    check(case.members("eng") == [f"user{i:02d}" for i in range(1, 6)], f"eng members: {case.members('eng')}")
    check(case.members("ops") == [f"user{i:02d}" for i in range(6, 11)], f"ops members: {case.members('ops')}")
    check(case.members("sudo") == ["user01"], f"Admins is not served as sudo: {case.getent('group', 'sudo')}")
    check(len(case.audit("joiner")) == N, f"{len(case.audit('joiner'))} joiner audit rows, want {N}")
    check(case.sql("SELECT count(*) FROM users WHERE state = 0")[0][0] == N, "store does not hold N active users")


def test_page_cap_below_count_still_gets_everyone(srv, case):
    users, groups = directory(N)
    srv.reset(users, groups)
    srv.options(pageCap=3)
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    got = [i for i in range(1, N + 1) if active(case, f"user{i:02d}")]
    check(len(got) == N, f"only {len(got)} of {N} users served with pageCap=3")
    pages = len(srv.list_requests("Users"))
    check(pages >= (N + 2) // 3, f"only {pages} /Users pages for {N} users at 3 per page")


def test_data_changing_during_paging_gives_the_final_directory(srv, case):
    users, groups = directory(N)
    srv.reset(users, groups)
    # After the first page: a user is deleted from the front (later pages shift down, a naive
    # client would skip one), two are prepended (a naive client sees duplicates), and one is
    # deactivated. totalResults moves from 20 to 21, so the client must notice the drift.
    srv.options(pageCap=4, mutateDuringPaging={
        "path": "/Users", "afterRequests": 1, "delete": ["id-0002"], "prepend": True,
        "add": [user(99, "latecomer"), user(98, "latecomer2")], "modify": [{"id": "id-0015", "active": False}]})
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    dump = srv.control("GET", "dump")
    want = {u["userName"] for u in dump["Users"]}
    got = {u for u in want if case.passwd(u)}
    check(got == want, f"missing after a mutating walk: {sorted(want - got)}")
    check(case.passwd("user02") is None, "a user deleted during the walk was created")
    check(suspended(case, "user15"), "a user deactivated during the walk is not suspended")
    check(case.sql("SELECT count(*) FROM users WHERE scim_id = 'id-0099'")[0][0] == 1, "latecomer not stored once")


def test_count_neutral_change_during_paging_loses_nobody_and_next_sync_converges(srv, case):
    """One user deleted and one prepended after page 1: totalResults does not move, so no client
    can see the change in this walk. It must still lose nobody who exists, and the next full
    sync must converge on the directory."""
    first_sync(srv, case)
    srv.options(pageCap=4, mutateDuringPaging={
        "path": "/Users", "afterRequests": 1, "delete": ["id-0002"], "prepend": True,
        "add": [user(97, "sneaky")]})
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    still = [i for i in range(1, N + 1) if i != 2 and not active(case, f"user{i:02d}")]
    check(not still, f"users present in the directory throughout were lost: {still}")
    rc, out = case.once()
    check(rc == 0, f"second --once exited {rc}: {out[-800:]}")
    check(active(case, "sneaky"), "the next full sync did not pick up the user added during paging")
    check(case.user_state("id-0002") == DEPROVISIONED, "the next full sync did not deprovision the deleted user")


def test_id_repeated_across_pages_is_one_audited_reject(srv, case):
    """One user prepended and the last one deleted after page 1: totalResults stays, but the
    list shifts by one, so id-0004 ends page 1 and starts page 2. The pass is one batch: the
    later copy is a reject, audited once, and everybody is served once."""
    users, groups = directory(N)
    srv.reset(users, groups)
    srv.options(pageCap=4, mutateDuringPaging={
        "path": "/Users", "afterRequests": 1, "delete": [f"id-{N:04d}"], "prepend": True,
        "add": [user(97, "front")]})
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check(active(case, "user04"), "the user listed on two pages is not served")
    dup = [r for r in case.audit("reject") if r[2] == "id-0004"]
    check(len(dup) == 1 and "duplicate id" in (dup[0][6] or ""),
          f"not one duplicate-id reject audited for id-0004: {dup}")
    check(case.sql("SELECT count(*) FROM users WHERE scim_id = 'id-0004'")[0][0] == 1, "id-0004 not stored once")



# ------------------------------------------------------------------------------------------ daemon


def test_joiner_appears_after_one_delta(srv, case):
    first_sync(srv, case)
    case.start_daemon()
    srv.control("POST", "stats/reset")
    srv.scim("POST", "/Users", {"schemas": [CORE_USER], "userName": "joiner", "active": True})
    wait_for(lambda: case.daemon_alive() or case.passwd("joiner"), "the joiner to be served")
    reqs = srv.list_requests("Users")
    check(reqs and all(is_delta(e) for e in reqs), f"the joiner was not picked up by a delta: {reqs[:3]}")
    check(len(case.audit("joiner")) == N + 1, "no joiner audit row")


def test_mover_groups_follow_including_mapped_sudo(srv, case):
    first_sync(srv, case)
    case.start_daemon()
    # user03 moves from eng to ops and becomes an admin (sudo); user01 stops being one.
    srv.patch("Groups", "g-eng", [{"op": "remove", "path": 'members[value eq "id-0003"]'}])
    srv.patch("Groups", "g-ops", [{"op": "add", "path": "members", "value": [{"value": "id-0003"}]}])
    srv.patch("Groups", "g-admins", [{"op": "replace", "path": "members", "value": [{"value": "id-0003"}]}])
    wait_for(lambda: case.daemon_alive() or case.members("sudo") == ["user03"],
             "sudo to hold user03 only")
    wait_for(lambda: "user03" in (case.members("ops") or []) and "user03" not in (case.members("eng") or []),
             "user03 to move from eng to ops")
    check(active(case, "user01"), "the demoted admin lost the account")
    check(len(case.audit("mover")) >= 1, "no mover audit row")
    local = case.getent("group", "sudo")
    check(local.split(":")[2] == "27", f"the mapped group does not keep the local gid: {local}")


def test_rename_keeps_uid(srv, case):
    first_sync(srv, case)
    uid = case.passwd("user04")[0]
    case.start_daemon()
    srv.patch("Users", "id-0004", [{"op": "replace", "path": "userName", "value": "renamed04"}])
    wait_for(lambda: case.daemon_alive() or case.passwd("renamed04"), "the new name to be served")
    check(case.passwd("renamed04")[0] == uid, f"uid changed on rename: {case.passwd('renamed04')} vs {uid}")
    check(case.passwd("user04") is None, "the old name is still served")
    check("renamed04" in case.members("eng"), "the renamed user left their group")
    check(case.audit("rename"), "no rename audit row")


def test_suspension_seen_within_a_delta_then_reactivation(srv, case):
    first_sync(srv, case)
    uid = case.passwd("user05")[0]
    case.start_daemon()
    srv.control("POST", "stats/reset")
    srv.patch("Users", "id-0005", [{"op": "replace", "path": "active", "value": False}])
    wait_for(lambda: case.daemon_alive() or suspended(case, "user05"), "user05 to be suspended")
    reqs = srv.list_requests("Users")
    check(reqs and all(is_delta(e) for e in reqs), f"the suspension was not seen by a delta: {reqs[:3]}")
    check(case.user_state("id-0005") == SUSPENDED, "store state is not suspended")
    check("user05" not in (case.members("eng") or []), "a suspended user keeps group memberships")
    srv.patch("Users", "id-0005", [{"op": "replace", "path": "active", "value": True}])
    wait_for(lambda: case.daemon_alive() or active(case, "user05"), "user05 to be reactivated")
    check(case.passwd("user05")[0] == uid, "reactivation changed the uid")
    check(case.user_state("id-0005") == ACTIVE, "store state is not active after reactivation")
    wait_for(lambda: "user05" in (case.members("eng") or []), "user05 back in eng")


def test_deletion_waits_for_full_reconcile_and_confirmation(srv, case):
    first_sync(srv, case)
    case.start_daemon()
    srv.scim("DELETE", "/Users/id-0007")
    wait_deltas(srv, case, 3, "three deltas after the deletion")
    check(case.user_state("id-0007") == ACTIVE, "a delta sync deprovisioned a deleted user")
    check(active(case, "user07"), "user07 lost its account before the full reconcile")
    srv.control("POST", "stats/reset")
    case.signal(signal.SIGUSR1)
    wait_for(lambda: case.daemon_alive() or case.user_state("id-0007") == DEPROVISIONED,
             "the full reconcile to deprovision user07")
    log = srv.request_log()
    confirm = [e for e in log if e["method"] == "GET" and e["path"] == "/scim/v2/Users/id-0007"]
    check(confirm and confirm[0]["status"] == 404, f"deprovisioned without GET /Users/id-0007 answering 404: {confirm}")
    full = [e for e in log if e["method"] == "GET" and e["path"] == "/scim/v2/Users" and not is_delta(e)]
    check(full, "SIGUSR1 did not run a full (unfiltered) scan")
    check(case.audit("deprovision"), "no deprovision audit row")
    check(not active(case, "user07"), "a deprovisioned user still gets a login shell")
    others = [i for i in range(1, N + 1) if i != 7 and case.user_state(f"id-{i:04d}") != ACTIVE]
    check(not others, f"other users changed state: {others}")
    # Reactivation of the deprovisioned account: it comes back with the same id and uid.
    uid = case.sql("SELECT uid FROM users WHERE scim_id = 'id-0007'")[0][0]
    users, groups = directory(N)
    srv.control("POST", "reset", {"Users": users, "Groups": groups})
    case.signal(signal.SIGUSR1)
    wait_for(lambda: case.daemon_alive() or case.user_state("id-0007") == ACTIVE, "user07 to be reactivated")
    check(active(case, "user07") and case.passwd("user07")[0] == uid, "reactivated user07 lacks its old uid")


def test_deletion_not_confirmed_is_not_applied(srv, case):
    """The full scan misses a user but GET /Users/{id} still finds it: no deprovision."""
    first_sync(srv, case)
    users, groups = directory(N)
    body = list_response([u for u in users if u["id"] != "id-0008"])
    srv.fault(path="/Users", exact=True, method="GET", status=200, body=body, count=10)
    rc, out = case.once()
    check(rc in (0, 1), f"--once exited {rc}: {out[-800:]}")
    check(case.user_state("id-0008") == ACTIVE, "deprovisioned although GET /Users/id-0008 finds the user")
    hits = [e for e in srv.request_log() if e["path"] == "/scim/v2/Users/id-0008"]
    check(hits, "the deletion candidate was not confirmed with GET /Users/id-0008")


def test_retry_after_429_fails_then_succeeds_later(srv, case):
    first_sync(srv, case)
    case.start_daemon()
    srv.fault(path="/Users", method="GET", status=429, retryAfter=2, count=1)
    srv.scim("POST", "/Users", {"schemas": [CORE_USER], "userName": "patient", "active": True})
    wait_for(lambda: case.daemon_alive() or case.passwd("patient"), "the joiner after a 429", timeout=30)
    log = srv.request_log()
    hit = [k for k, e in enumerate(log) if e["status"] == 429]
    check(hit, "the 429 fault was never hit")
    check(log[hit[0] + 1:], "no request after the 429")
    # Retry-After: 2 means no request before 2 s have passed (a lower bound the daemon must keep,
    # with 0.5 s of slack for the clocks involved; never an upper bound).
    from datetime import datetime
    t0 = datetime.fromisoformat(log[hit[0]]["time"].replace("Z", "+00:00"))
    t1 = datetime.fromisoformat(log[hit[0] + 1]["time"].replace("Z", "+00:00"))
    check((t1 - t0).total_seconds() >= 1.5, f"next request {(t1 - t0).total_seconds():.2f} s after Retry-After: 2")


def test_429_budget_0_once_exits_1_naming_the_budget(srv, case):
    first_sync(srv, case)
    case.write_conf(source={"retry_budget": "0"})
    before = case.store_digest()
    srv.fault(path="/Users", method="GET", status=429, retryAfter=1, count=100)
    rc, out = case.once()
    check(rc == 1, f"--once on 429 with retry_budget = 0 exited {rc}, want 1: {out[-500:]}")
    check("retry_budget = 0 s" in out and "giving up on the scan" in out,
          f"the failure does not name the retry budget: {out[-800:]}")
    check(sum(e["status"] == 429 for e in srv.request_log()) == 1, "a 429 was asked again with no budget")
    check(case.store_digest() == before, "the store changed on a 429")


def test_429_on_a_middle_page_waits_once_and_once_exits_0(srv, case):
    """Issue 19 item 2: page 3 of 4 answers 429 with Retry-After: 1; the scan waits, asks for page 3
    again and goes on, instead of throwing the pages it has away."""
    users, groups = directory(N)
    srv.reset(users, groups)
    srv.options(pageCap=5)
    case.write_conf()
    srv.fault(path="/Users", exact=True, method="GET", status=429, retryAfter=1, afterRequests=2, count=1)
    rc, out = case.once()
    check(rc == 0, f"--once with a 429 on page 3 exited {rc}, want 0: {out[-800:]}")
    for i in range(1, N + 1):
        check(active(case, f"user{i:02d}"), f"user{i:02d} is not served as active")
    check(case.members("eng") == [f"user{i:02d}" for i in range(1, 6)], f"eng members: {case.members('eng')}")
    lists = srv.list_requests("Users")
    page3 = [e["status"] for e in lists if e["query"].get("startIndex") == "11"]
    check(page3 == [429, 200], f"page 3 (startIndex=11) was asked {len(page3)} times: {page3}")
    page1 = [e for e in lists if e["query"].get("startIndex") == "1"]
    check(len(page1) == 1, f"the scan started again from page 1 ({len(page1)} times)")
    check("asking again in 1.000 s (Retry-After)" in out, f"the wait is not logged: {out[-800:]}")


def test_sigterm_during_a_retry_wait_stops_the_daemon(srv, case):
    """A daemon waiting out Retry-After: 100 inside a scan stops on SIGTERM without waiting it out
    (the wait is cut, no further request is made)."""
    first_sync(srv, case)
    case.start_daemon()
    srv.fault(path="/Users", exact=True, method="GET", status=429, retryAfter=100, count=1)
    wait_for(lambda: case.daemon_alive() or any(e["status"] == 429 for e in srv.request_log()), "the 429")
    wait_for(lambda: "asking again in 100.000 s" in case.log_tail(), "the daemon's wait")
    case.signal(signal.SIGTERM)
    rc = case.daemon.wait(timeout=60)  # a bound for a hung daemon, not a time assertion
    check(rc == 0, f"the daemon exited {rc} on SIGTERM: {case.log_tail()}")
    log = srv.request_log()
    hit = [k for k, e in enumerate(log) if e["status"] == 429][0]
    check(not log[hit + 1:], f"requests after the 429 although the daemon was stopping: {log[hit + 1:]}")
    check("Stopping the wait" in case.log_tail(), f"the cut wait is not logged: {case.log_tail()}")


# ------------------------------------------------------------------------------------------ fds

HOOK = """#!/usr/bin/python3 -I
import os
mine = []
for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
    try:
        mine.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    except OSError:
        mine.append(f"{fd} gone")
parent = []
for fd in os.listdir(f"/proc/{os.getppid()}/fd"):
    try:
        parent.append(os.readlink(f"/proc/{os.getppid()}/fd/{fd}"))
    except OSError:
        pass
with open("OUT", "a") as out:
    out.write("hook: " + " | ".join(mine) + "\\n")
    out.write("daemon: " + " | ".join(sorted(parent)) + "\\n")
"""


def test_hooks_inherit_no_fd_of_the_daemon(srv, case):
    """Issue 20.6: the joiners' hooks run while the daemon holds its connection to the SCIM server,
    the store, and an fd it inherited without close-on-exec; the hooks see only 0-2 (and the
    output file they open themselves)."""
    users, groups = directory(N)
    srv.reset(users, groups)
    hooks = os.path.join(case.dir, "hooks.d")
    os.mkdir(hooks)
    os.chmod(hooks, 0o755)
    out = os.path.join(case.dir, "fds.out")
    with open(os.path.join(hooks, "10-fds"), "w") as f:
        f.write(HOOK.replace("OUT", out))
    os.chmod(os.path.join(hooks, "10-fds"), 0o755)
    case.write_conf(enforce={"hooks_dir": hooks})
    leaked = os.open(os.path.join(case.dir, "leaked-fd"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        rc, log = case.once(pass_fds=(leaked,))
    finally:
        os.close(leaked)
    check(rc == 0, f"--once exited {rc}: {log[-800:]}")
    lines = open(out).read().splitlines()
    mine = [x[len("hook: "):] for x in lines if x.startswith("hook: ")]
    parent = [x[len("daemon: "):] for x in lines if x.startswith("daemon: ")]
    check(len(mine) == N, f"{len(mine)} hook runs, want one per joiner")
    for run in mine:
        for e in run.split(" | "):
            fd = int(e.split()[0])
            check(fd <= 2 or e.endswith("gone") or e.endswith(out), f"a hook inherited {e}: {run}")
    # Not vacuous: the daemon did hold those fds while its hooks ran.
    check(any("socket:" in p for p in parent), f"the daemon had no socket open during the hooks: {parent[:1]}")
    check(any("leaked-fd" in p for p in parent) and any("store.db" in p for p in parent),
          f"the daemon's fds during the hooks: {parent[:1]}")


# ------------------------------------------------------------------------------------------ faults


def changed_directory(srv):
    """A directory that differs from directory(): a joiner, a suspension, a rename."""
    users, groups = directory(N)
    users[2]["active"] = False
    users[3]["userName"] = "renamed"
    users.append(user(50, "newcomer"))
    srv.control("POST", "reset", {"Users": users, "Groups": groups})


def test_http_500_on_one_page_applies_nothing(srv, case):
    first_sync(srv, case)
    before, snap = case.store_digest(), case.snapshot_digest()
    changed_directory(srv)
    srv.options(pageCap=5)
    srv.fault(path="/Users", exact=True, method="GET", status=500, afterRequests=2, count=100)
    rc, out = case.once()
    check(rc == 1, f"--once with a 500 on page 3 exited {rc}, want 1: {out[-500:]}")
    check(any(e["status"] == 500 for e in srv.request_log()), "the 500 fault was never hit")
    check(case.store_digest() == before, "the store changed after a failed scan")
    check(case.snapshot_digest() == snap, "the snapshot file changed after a failed scan")
    check(case.passwd("newcomer") is None and active(case, "user03"), "NSS shows part of a failed scan")


def test_timeout_applies_nothing(srv, case):
    first_sync(srv, case, conf={"source": {"timeout": "1"}})
    before, snap = case.store_digest(), case.snapshot_digest()
    changed_directory(srv)
    srv.fault(path="/Users", delayMs=3000, count=100)
    rc, out = case.once(timeout=120)
    check(rc == 1, f"--once with a 3 s delay and timeout = 1 exited {rc}, want 1: {out[-500:]}")
    check(case.store_digest() == before, "the store changed after a timeout")
    check(case.snapshot_digest() == snap, "the snapshot file changed after a timeout")


def test_wrong_token_exits_1_says_authentication_and_never_prints_it(srv, case):
    users, groups = directory(N)
    srv.reset(users, groups)
    case.write_conf()
    wrong = "WrongTokenValue-" + TOKEN[::-1]
    case.set_token(wrong)
    rc, out = case.once("--debug")
    check(rc == 1, f"--once with a wrong token exited {rc}, want 1: {out[-500:]}")
    check("authentication failed" in out.lower(), f"the message does not say authentication failed: {out[-500:]}")
    check(wrong not in out and TOKEN not in out, "a token appears in the output")
    check(wrong[:12] not in out, "a part of the token appears in the output")
    check(any(e["status"] == 401 for e in srv.request_log()), "the server never answered 401")
    check(case.passwd("user01") is None, "a user was created with a wrong token")


def test_no_token_configured_says_which_keys_to_set(srv, case):
    users, groups = directory(N)
    srv.reset(users, groups)
    conf = case.write_conf()
    with open(conf) as f:
        lines = [l for l in f if not l.startswith("token_file")]
    with open(conf, "w") as f:
        f.writelines(lines)
    rc, out = case.once()
    check(rc == 1, f"--once without a token exited {rc}, want 1: {out[-500:]}")
    check("token_file or token_credential" in out, f"the message does not say what to configure: {out[-500:]}")
    check("Required key not available" not in out, f"the message is an errno string: {out[-500:]}")
    check(case.passwd("user01") is None, "a user was created without a token")


# ------------------------------------------------------------------------------------------ guard


def test_empty_directory_is_held_nobody_lost(srv, case):
    first_sync(srv, case)
    srv.control("POST", "reset", {"Users": [], "Groups": []})
    rc, out = case.once()
    check(rc == 4, f"--once on an empty directory exited {rc}, want 4 (held): {out[-500:]}")
    lost = [i for i in range(1, N + 1) if not active(case, f"user{i:02d}")]
    check(not lost, f"users lost to an empty directory: {lost}")
    holds = case.sql("SELECT deprovisions, total, status FROM holds")
    check(holds and holds[-1] == (N, N, "pending"), f"holds: {holds}")
    check(case.audit("deprovision") == [], "a deprovision was recorded")


def test_half_directory_drop_is_held_but_joiners_and_suspensions_apply(srv, case):
    first_sync(srv, case)
    users, groups = directory(N)
    kept = users[:N // 2]
    kept[0]["active"] = False
    kept.append(user(60, "heldjoiner"))
    srv.control("POST", "reset", {"Users": kept, "Groups": groups})
    rc, out = case.once()
    check(rc == 4, f"--once after a 50% drop exited {rc}, want 4 (held): {out[-500:]}")
    lost = [i for i in range(2, N + 1) if not active(case, f"user{i:02d}")]
    check(not lost, f"users lost to a 50% drop: {lost}")
    holds = case.sql("SELECT deprovisions, status FROM holds")
    check(holds and holds[-1] == (N // 2, "pending"), f"holds: {holds}")
    check(active(case, "heldjoiner"), "a held sync did not apply the joiner")
    check(suspended(case, "user01"), "a held sync did not apply the explicit suspension")


# ------------------------------------------------------------------------------------------ hostile


def list_response(resources):
    import json
    return json.dumps({"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
                       "itemsPerPage": len(resources), "Resources": resources})


def test_hostile_records_are_rejected_while_the_rest_applies(srv, case):
    def posix(i, name, uid):
        u = user(i, name)
        u["schemas"] = [CORE_USER, POSIX_USER]
        u[POSIX_USER] = {"uidNumber": uid, "gidNumber": uid}
        return u
    good = [posix(i, f"user{i:02d}", 300000 + i) for i in range(1, 11)]
    hostile = {
        "id-0101": posix(101, "bad:colon", 300101),
        "id-0102": posix(102, "bad\nnewline", 300102),
        "id-0103": posix(103, "root", 300103),
        "id-0104": posix(104, "uidzero", 0),
        "id-0105": posix(105, "bigstring", 300105),
    }
    hostile["id-0105"]["displayName"] = "x" * (1024 * 1024)
    dup_a, dup_b = posix(106, "dupa", 300200), posix(107, "dupb", 300200)
    srv.reset(good + list(hostile.values()) + [dup_a, dup_b], [group("g-eng", "eng", ["id-0001", "id-0104"])])
    case.write_conf(accounts={"uid_attribute": POSIX_USER + ":uidNumber"})
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for u in good:
        check(case.passwd(u["userName"]) == (u[POSIX_USER]["uidNumber"], "/bin/bash"),
              f"{u['userName']} not served with its uidNumber: {case.passwd(u['userName'])}")
    rejected = {r[2] for r in case.audit("reject")}
    for rid, u in hostile.items():
        check(rid in rejected, f"no reject audit row for {rid} ({u['userName'][:20]!r})")
    check(case.getent("passwd", "0") is None, "the provision NSS module serves uid 0")
    check(case.passwd("uidzero") is None and case.passwd("bigstring") is None, "a hostile user is served")
    root = case.getent("passwd", "root")
    check(root is None, f"the provision module serves root: {root}")
    dups = [n for n in ("dupa", "dupb") if case.passwd(n) and case.passwd(n)[0] == 300200]
    check(len(dups) == 1, f"uid 300200 served for {dups}")
    loser = "id-0107" if dups == ["dupa"] else "id-0106"
    check(loser in rejected, f"no reject audit row for the duplicate uid's loser {loser}")
    check(case.members("eng") == ["user01"], f"eng members: {case.members('eng')}")


def test_nesting_beyond_the_depth_cap_costs_nobody_the_account(srv, case):
    """5000 levels inside one attribute of one resource: the parser cuts the value off at its
    depth cap (without recursing into it), so the page applies, that user included."""
    first_sync(srv, case)
    users, groups = directory(N)
    nested = user(200, "nested")
    nested["urn:example:deep"] = "@DEEP@"
    # Written by hand: Python's own encoder would recurse as deep.
    deep = '{"x":[' * 5000 + "1" + "]}" * 5000
    body = list_response(users + [nested]).replace('"@DEEP@"', deep)
    srv.fault(path="/Users", exact=True, method="GET", status=200, body=body, count=10)
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}, want 0: {out[-800:]}")
    check(active(case, "nested") and active(case, "user20"), "users next to a deep attribute are not served")


def test_moderate_nesting_in_an_unknown_attribute_is_tolerated(srv, case):
    """Nesting within the parser's depth cap, in an attribute we do not use, does not cost the
    user the account."""
    users, groups = directory(N)
    srv.reset(users, groups)
    nested = user(201, "nested")
    nested["urn:example:deep"] = "@DEEP@"
    body = list_response(users + [nested]).replace('"@DEEP@"', '{"x":[' * 10 + "1" + "]}" * 10)
    srv.fault(path="/Users", exact=True, method="GET", status=200, body=body, count=10)
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check(active(case, "nested") and active(case, "user20"), "users next to a nested attribute are not served")


def test_entra_active_string_false_suspends(srv, case):
    first_sync(srv, case)
    users, groups = directory(N)
    users[0]["active"] = "False"
    users[1]["active"] = "True"
    # scimmy itself refuses a string for a boolean, so the page is served as the IdP sends it.
    srv.fault(path="/Users", exact=True, method="GET", status=200, body=list_response(users), count=10)
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check(suspended(case, "user01"), f'"active": "False" did not suspend: {case.passwd("user01")}')
    check(case.user_state("id-0001") == SUSPENDED, "store state is not suspended")
    check(active(case, "user02"), '"active": "True" is not active')


CASES = [
    test_first_full_sync_serves_every_user_and_group,
    test_page_cap_below_count_still_gets_everyone,
    test_data_changing_during_paging_gives_the_final_directory,
    test_count_neutral_change_during_paging_loses_nobody_and_next_sync_converges,
    test_id_repeated_across_pages_is_one_audited_reject,
    test_http_500_on_one_page_applies_nothing,
    test_timeout_applies_nothing,
    test_429_budget_0_once_exits_1_naming_the_budget,
    test_429_on_a_middle_page_waits_once_and_once_exits_0,
    test_sigterm_during_a_retry_wait_stops_the_daemon,
    test_hooks_inherit_no_fd_of_the_daemon,
    test_wrong_token_exits_1_says_authentication_and_never_prints_it,
    test_no_token_configured_says_which_keys_to_set,
    test_empty_directory_is_held_nobody_lost,
    test_half_directory_drop_is_held_but_joiners_and_suspensions_apply,
    test_hostile_records_are_rejected_while_the_rest_applies,
    test_nesting_beyond_the_depth_cap_costs_nobody_the_account,
    test_moderate_nesting_in_an_unknown_attribute_is_tolerated,
    test_entra_active_string_false_suspends,
    test_deletion_not_confirmed_is_not_applied,
    test_joiner_appears_after_one_delta,
    test_mover_groups_follow_including_mapped_sudo,
    test_rename_keeps_uid,
    test_suspension_seen_within_a_delta_then_reactivation,
    test_deletion_waits_for_full_reconcile_and_confirmation,
    test_retry_after_429_fails_then_succeeds_later,
]

if __name__ == "__main__":
    run_suite(CASES, TOKEN, sys.argv)
