#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An upstream that misbehaves while provision-syncd pages through /Groups: a page that repeats
the one before it, a totalResults that lies low. The walk adds up (as many resources as
totalResults says), yet groups of the directory were never seen. A user missing from a full
scan is asked about (GET /Users/{id}) before it is deprovisioned; a group missing from it must
be too, or its members lose it (the mapped sudo included) until the next full reconcile. A
group that is really gone (404) is still removed. Results through the real NSS module.
Run a subset: test-syncd-scim-upstream.py CASE... [--keep]. Exit 0, 1, or 77 (no node)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scimharness import LIST_RESPONSE, check, group, run_suite, user  # noqa: E402

TOKEN = f"tok-{os.getpid()}-Up7secretValue"
N = 8


def directory():
    """Four groups, two to a page: eng and ops on the first, Admins (the local sudo) and qa on
    the second."""
    users = [user(i) for i in range(1, N + 1)]
    groups = [group("g-eng", "eng", ["id-0001", "id-0002"]),
              group("g-ops", "ops", ["id-0003", "id-0004"]),
              group("g-admins", "Admins", ["id-0001"]),
              group("g-qa", "qa", ["id-0005", "id-0006"])]
    return users, groups


def first_sync(srv, case):
    users, groups = directory()
    srv.reset(users, groups)
    srv.options(pageCap=2)
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"first --once exited {rc}: {out[-800:]}")
    want = {"eng": ["user01", "user02"], "ops": ["user03", "user04"], "sudo": ["user01"], "qa": ["user05", "user06"]}
    for g, m in want.items():
        check(case.members(g) == m, f"first sync: {g} has {case.members(g)}, want {m}")
    return want


def first_page(srv, total=None, kind="Groups"):
    """The first /Groups (or /Users) page as the server answers it, totalResults replaced if asked."""
    doc = srv.scim("GET", f"/{kind}?startIndex=1&count=2")
    check(doc and doc.get("schemas") == [LIST_RESPONSE] and len(doc["Resources"]) == 2, f"first page: {doc}")
    if total is not None:
        doc["totalResults"] = total
    return doc


def repeat_first_page(srv, kind="Groups"):
    """The next sync's second page of /Groups (or /Users) is its first one again."""
    page = first_page(srv, kind=kind)
    page["startIndex"] = 3
    srv.fault(path=f"/{kind}", exact=True, method="GET", status=200, body=json.dumps(page), afterRequests=1, count=1)


def check_groups_kept(case, want, confirmed=("g-admins", "g-qa")):
    for g, m in want.items():
        check(case.members(g) == m, f"{g} has {case.members(g)}, want {m}")
    removed = [r for r in case.audit("group-remove") if r[5] == "ok"]
    check(not removed, f"groups removed: {removed}")
    asked = sorted(r[2] for r in case.audit("group-remove") if r[4] == "confirm" and r[5] == "skipped")
    check(asked == sorted(confirmed), f"confirmations audited: {asked}")


def test_repeated_groups_page_removes_no_group(srv, case):
    """The second /Groups page repeats the first (totalResults honest, received adds up)."""
    want = first_sync(srv, case)
    repeat_first_page(srv)
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check_groups_kept(case, want)


def test_groups_total_results_lying_low_removes_no_group(srv, case):
    """The first /Groups page says there are 2 groups of 4: the walk stops after it."""
    want = first_sync(srv, case)
    srv.fault(path="/Groups", exact=True, method="GET", status=200, body=json.dumps(first_page(srv, total=2)),
              count=1)
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check_groups_kept(case, want)


def test_group_really_gone_is_removed(srv, case):
    """A group deleted at the source (its GET answers 404) is removed, its members demoted."""
    want = first_sync(srv, case)
    srv.scim("DELETE", "/Groups/g-admins")
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check(not case.members("sudo"), f"sudo still has {case.members('sudo')}")
    for g in ("eng", "ops", "qa"):
        check(case.members(g) == want[g], f"{g} has {case.members(g)}, want {want[g]}")
    removed = [r[2] for r in case.audit("group-remove") if r[5] == "ok"]
    check(removed == ["g-admins"], f"groups removed: {removed}")


def test_allowed_group_missed_by_a_repeated_page_keeps_its_members(srv, case):
    """allow_groups names the group on the page the server skipped: its members are missing from
    no scan (the users are all there) but would fall out of scope, and be deprovisioned, on the
    strength of a walk that never saw their group. 20 users, qa = 2 of them: within the 10%
    guard, so nothing else holds it."""
    users = [user(i) for i in range(1, 21)]
    groups = [group("g-eng", "eng", [f"id-{i:04d}" for i in range(1, 10)]),
              group("g-ops", "ops", [f"id-{i:04d}" for i in range(10, 19)]),
              group("g-admins", "Admins", ["id-0001"]),
              group("g-qa", "qa", ["id-0019", "id-0020"])]
    srv.reset(users, groups)
    srv.options(pageCap=2)
    case.write_conf(accounts={"allow_groups": "eng ops qa"})
    rc, out = case.once()
    check(rc == 0, f"first --once exited {rc}: {out[-800:]}")
    check(case.members("qa") == ["user19", "user20"], f"qa: {case.members('qa')}")
    repeat_first_page(srv)
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for n in ("user19", "user20"):
        p = case.passwd(n)
        check(p is not None and p[1] not in ("/usr/sbin/nologin", "/sbin/nologin"), f"{n} lost the account: {p}")
        check(case.user_state(f"id-00{n[-2:]}") == 0, f"{n}: state {case.user_state(f'id-00{n[-2:]}')}")
    check(case.members("qa") == ["user19", "user20"], f"qa: {case.members('qa')}")


def test_repeated_users_page_keeps_memberships(srv, case):
    """The same on /Users: the second page repeats the first, so user03 and user04 are missing
    from a scan that adds up. The source still has them (GET /Users/{id}): they keep their
    accounts, and their groups too. (max_deprovision = 50%: not the guard, the confirmations.)"""
    want = first_sync(srv, case)
    case.write_conf(sync={"max_deprovision": "50%"})
    repeat_first_page(srv, "Users")
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for n in ("user03", "user04"):
        p = case.passwd(n)
        check(p is not None and p[1] not in ("/usr/sbin/nologin", "/sbin/nologin"), f"{n} lost the account: {p}")
    asked = sorted(r[2] for r in case.audit("deprovision") if r[4] == "confirm" and r[5] == "skipped")
    check(asked == ["id-0003", "id-0004"], f"user confirmations audited: {asked}")
    check_groups_kept(case, want, confirmed=())


def test_proxy_environment_is_ignored(srv, case):
    """Proxy settings come from the configuration only: with every proxy variable of libcurl
    pointing at a port where nothing listens (and no_proxy empty), the sync still reaches the
    server directly."""
    want = first_sync(srv, case)
    dead = "http://127.0.0.1:9"
    env = dict(os.environ, http_proxy=dead, HTTP_PROXY=dead, https_proxy=dead, HTTPS_PROXY=dead,
               ALL_PROXY=dead, all_proxy=dead, no_proxy="", NO_PROXY="")
    srv.scim("DELETE", "/Users/id-0008")
    case.write_conf(sync={"max_deprovision": "50%"})
    rc, out = case.once(env=env)
    check(rc == 0, f"--once under proxy variables exited {rc}: {out[-800:]}")
    check(case.user_state("id-0008") == 2, f"user08: state {case.user_state('id-0008')}, want deprovisioned")
    check_groups_kept(case, want, confirmed=())


if __name__ == "__main__":
    run_suite([test_repeated_groups_page_removes_no_group,
               test_groups_total_results_lying_low_removes_no_group,
               test_group_really_gone_is_removed,
               test_allowed_group_missed_by_a_repeated_page_keeps_its_members,
               test_repeated_users_page_keeps_memberships,
               test_proxy_environment_is_ignored], TOKEN, sys.argv)
