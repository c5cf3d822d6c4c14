#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One bad record never stops the directory, over the SCIM source (the file source has the same
cases in tests/robust/test-hostile.py): provision-syncd --once against the project's SCIM
server, whose list pages are replaced by hand-written bodies holding values that valid JSON may
carry but a record may not (an escaped NUL, lone UTF-16 surrogates, a number too long for the
parser, nesting far deeper than the parser's cap, control characters). Good records are applied,
a bad one is audited once, an account whose record cannot be used keeps its last good state, and
its active: false still suspends it. Results are read through the real NSS module and the store.
Run a subset: test-syncd-scim-hostile.py CASE... [--keep]. Exit 0, 1, or 77 (no node)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scimharness import LIST_RESPONSE, check, group, run_suite, user  # noqa: E402

TOKEN = f"tok-{os.getpid()}-Hq7secretValue"
ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
N = 12


def directory():
    users = [user(i) for i in range(1, N + 1)]
    groups = [group("g-eng", "eng", [f"id-{i:04d}" for i in range(1, 7)])]
    return users, groups


def page(resources, raw=None):
    """A ListResponse body; raw maps placeholder strings to the text that replaces them (JSON
    that Python's encoder would not write: lone surrogates stay escaped, nesting is not built)."""
    body = json.dumps({"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
                       "itemsPerPage": len(resources), "Resources": resources})
    for k, v in (raw or {}).items():
        body = body.replace(json.dumps(k), v)
    return body


def serve_users(srv, body):
    """Every GET of the /Users list answers body (the groups come from the server's directory)."""
    srv.fault(path="/Users", exact=True, method="GET", status=200, body=body, count=50)


def first_sync(srv, case):
    users, groups = directory()
    srv.reset(users, groups)
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"first --once exited {rc}: {out[-800:]}")
    return users, groups


def served_active(case, name):
    p = case.passwd(name)
    return p is not None and p[1] not in NOLOGIN


def rejects(case, scim_id):
    return [r for r in case.audit("reject") if r[2] == scim_id]


HOSTILE_VALUES = {
    "nul": '"Chief \\u0000 Officer"',
    "lone-high": '"\\ud800"',
    "lone-low": '"x\\udc00y"',
    "high-high": '"\\ud800\\ud800"',
    "long-number": "1" + "0" * 80,
    "deep": '{"x":[' * 5000 + "1" + "]}" * 5000,
}


def test_hostile_values_in_unread_attributes_fail_nothing(srv, case):
    """Each value inside an attribute provision never reads, on its own record among good ones:
    the page is applied whole, that user included."""
    users, groups = directory()
    srv.reset(users, groups)
    raw = {}
    for k, (name, text) in enumerate(HOSTILE_VALUES.items()):
        users[k]["urn:example:extra"] = {"note": f"@{name}@"}
        raw[f"@{name}@"] = text
    serve_users(srv, page(users, raw))
    case.write_conf()
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for u in users:
        check(served_active(case, u["userName"]), f"{u['userName']} is not served: {case.passwd(u['userName'])}")
    check(case.members("eng") == [f"user{i:02d}" for i in range(1, 7)], f"eng: {case.members('eng')}")


def test_hostile_value_in_a_read_attribute_keeps_the_stored_account(srv, case):
    """The same values in displayName (the GECOS) of stored users: the page still applies, the
    accounts keep their last good fields, and each refusal is audited once over two scans."""
    users, groups = first_sync(srv, case)
    gecos = {u["userName"]: case.getent("passwd", u["userName"]).split(":")[4] for u in users}
    raw = {}
    for k, (name, text) in enumerate(HOSTILE_VALUES.items()):
        users[k]["displayName"] = f"@{name}@"
        raw[f"@{name}@"] = text
    users[N - 1]["displayName"] = "Tab\there"
    users[N - 2]["userName"] = "renamed\nuser"
    serve_users(srv, page(users, raw))
    for _ in range(2):
        rc, out = case.once()
        check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for k in list(range(len(HOSTILE_VALUES))) + [N - 1, N - 2]:
        name = f"user{k + 1:02d}"
        check(served_active(case, name), f"{name} lost its account: {case.passwd(name)}")
        now = case.getent("passwd", name).split(":")[4]
        check(now == gecos[name], f"{name}: GECOS {now!r}, want the last good {gecos[name]!r}")
        n = len(rejects(case, f"id-{k + 1:04d}"))
        check(n == 1, f"{name}: {n} reject audit rows over two scans, want 1")
    check(case.members("eng") == [f"user{i:02d}" for i in range(1, 7)], f"eng: {case.members('eng')}")


def test_deactivation_with_an_unusable_record_suspends(srv, case):
    """active: false (or an active nobody can read) on a record whose other attributes are
    unusable: the account is suspended all the same, a full scan never deprovisions it."""
    users, groups = first_sync(srv, case)
    users[0].update(active=False, displayName="@nul@")
    users[1].update(active="perhaps", displayName="bad\u0007bell")
    users[2].update(active=False, title="@lone-high@")
    users[3]["displayName"] = "@deep@"
    serve_users(srv, page(users, {"@nul@": HOSTILE_VALUES["nul"], "@lone-high@": HOSTILE_VALUES["lone-high"],
                                  "@deep@": HOSTILE_VALUES["deep"]}))
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    for i in (1, 2, 3):
        p = case.passwd(f"user{i:02d}")
        check(p is not None and p[1] in NOLOGIN, f"user{i:02d} is not suspended: {p}")
        check(case.user_state(f"id-{i:04d}") == SUSPENDED, f"user{i:02d}: state {case.user_state(f'id-{i:04d}')}")
    check(served_active(case, "user04"), f"user04 lost its account: {case.passwd('user04')}")
    check(not [r for r in case.audit("deprovision") if r[5] == "ok"], "somebody was deprovisioned")
    check("user01" not in (case.members("eng") or []), "a suspended user is still a member")


def test_confirming_get_tells_unusable_from_gone(srv, case):
    """A user missing from the scan whose GET /Users/{id} answers a record that cannot be used is
    still at the source: not deprovisioned. A real 404 is."""
    users, groups = first_sync(srv, case)
    case.write_conf(sync={"max_deprovision": "50%"})
    srv.fault(path="/Users/id-0005", exact=True, method="GET", status=200,
              body=json.dumps(dict(users[4], displayName="@x@")).replace('"@x@"', HOSTILE_VALUES["lone-low"]),
              count=50)
    srv.scim("DELETE", "/Users/id-0005")
    srv.scim("DELETE", "/Users/id-0006")
    rc, out = case.once()
    check(rc == 0, f"--once exited {rc}: {out[-800:]}")
    check(case.user_state("id-0005") == ACTIVE, f"user05: state {case.user_state('id-0005')}, want active")
    # Not "could not confirm" (a failure retried later) but "still at the source".
    confirm = [r for r in case.audit("deprovision") if r[2] == "id-0005" and r[4] == "confirm"]
    check([r[5] for r in confirm] == ["skipped"], f"confirmation of user05: {confirm}")
    check(case.user_state("id-0006") == DEPROVISIONED, f"user06: state {case.user_state('id-0006')}")


def test_a_page_that_is_not_json_still_fails_the_scan(srv, case):
    """What is not a document at all still fails the scan, and nothing of it is applied."""
    first_sync(srv, case)
    before, snap = case.store_digest(), case.snapshot_digest()
    users, groups = directory()
    users[0]["active"] = False
    good = page(users)
    for body in (good[: len(good) // 2], good.replace('"Resources"', '"Resources" "x"'), "<html>busy</html>",
                 good.replace('"totalResults"', '"a\u0000"')):
        srv.reset(*directory())
        serve_users(srv, body)
        rc, out = case.once()
        check(rc == 1, f"--once exited {rc} for a broken page, want 1: {out[-400:]}")
        check(case.store_digest() == before and case.snapshot_digest() == snap, "something was applied")


if __name__ == "__main__":
    run_suite([test_hostile_values_in_unread_attributes_fail_nothing,
               test_hostile_value_in_a_read_attribute_keeps_the_stored_account,
               test_deactivation_with_an_unusable_record_suspends,
               test_confirming_get_tells_unusable_from_gone,
               test_a_page_that_is_not_json_still_fails_the_scan], TOKEN, sys.argv)
