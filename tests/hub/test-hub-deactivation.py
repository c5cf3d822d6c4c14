#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The failure that matters most: a 2xx that did not deactivate. Every deactivation shape the
IdPs send (Entra's "False", Entra compliant's boolean, Okta's path-less replace and PUT, a plain
PATCH of "active") must end with GET showing active: false, by id and in lists, and survive a
restart of the hub. Also: duplicate userName (any case) is 409 uniqueness; 250 users listed by
startIndex and by cursor come back each exactly once, in a stable order, with integer paging
fields; meta.lastModified gt/ge filters return only later changes.
Run a subset: test-hub-deactivation.py CASE... [--keep]."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import (CORE_USER, PATCH_OP, SCIM_JSON, check, check_error, check_list,  # noqa: E402
                        member_ids, q, run_suite)

JSON = "application/json"


def _patch(*ops):
    return lambda u: ("PATCH", f"/Users/{u['id']}", {"schemas": [PATCH_OP], "Operations": list(ops)}, SCIM_JSON)


def _okta_put(u):
    return ("PUT", f"/Users/{u['id']}", {"schemas": [CORE_USER], "id": u["id"], "userName": u["userName"],
                                          "name": {"givenName": "A", "familyName": "B"}, "active": False}, JSON)


SHAPES = {
    "entra-string": _patch({"op": "Replace", "path": "active", "value": "False"}),
    "entra-compliant": _patch({"op": "replace", "path": "active", "value": False}),
    "okta-pathless": lambda u: _patch({"op": "replace", "value": {"active": False}})(u)[:3] + (JSON,),
    "okta-put": _okta_put,
    "patch-add-active": _patch({"op": "add", "path": "active", "value": False}),
    "patch-path-active": _patch({"op": "replace", "path": "active", "value": False}),
    "entra-pathless-string": _patch({"op": "Replace", "value": {"active": "False"}}),
    "onelogin-string": _patch({"op": "replace", "path": "active", "value": "false"}),
}


def test_every_deactivation_shape_ends_inactive(hub):
    users = {}
    for shape in SHAPES:
        users[shape] = hub.create_user(f"leaver-{shape}@example.com", name={"givenName": "A", "familyName": "B"})
    bystander = hub.create_user("bystander@example.com")
    failed = []
    for shape, fn in SHAPES.items():
        method, path, body, ctype = fn(users[shape])
        r = hub.request(method, path, body, content_type=ctype)
        if not 200 <= r.status < 300:
            failed.append(f"{shape}: {r!r}")
        elif r.status == 200 and isinstance(r.json, dict) and r.json.get("active") is not False:
            failed.append(f"{shape}: the 200 answer shows active {r.json.get('active')!r}")
        got = hub.get("Users", users[shape]["id"])
        if 200 <= r.status < 300 and got.get("active") is not False:
            failed.append(f"{shape}: {r.status} then GET shows active {got.get('active')!r} (a 2xx that did not deactivate)")
    check(not failed, "deactivation shapes that failed: " + "; ".join(failed))
    # lists show them too, with active false (not hidden, not true)
    lst = hub.list("Users", "count=100")
    by_id = {x["id"]: x for x in lst["Resources"]}
    for shape, u in users.items():
        check(by_id.get(u["id"], {}).get("active") is False, f"{shape}: the list shows {by_id.get(u['id'])}")
    check(by_id[bystander["id"]].get("active") is True, "a bystander was deactivated")
    # durable: every 2xx was committed before it was sent; the hub killed with SIGKILL and
    # started again reads the same
    hub.crash()
    hub.start()
    for shape, u in users.items():
        check(hub.get("Users", u["id"]).get("active") is False, f"{shape}: active again after a restart")


def test_duplicate_username_case_insensitive(hub):
    u = hub.create_user("Jane.Doe@Example.com")
    for dup in ("Jane.Doe@Example.com", "jane.doe@example.com", "JANE.DOE@EXAMPLE.COM"):
        r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": dup, "active": True})
        check_error(r, 409, "uniqueness")
    lst = hub.list("Users")
    check(lst["totalResults"] == 1, f"a duplicate was created: {[x['userName'] for x in lst['Resources']]}")
    other = hub.create_user("john@example.com")
    r = hub.request("PATCH", f"/Users/{other['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                       "Operations": [{"op": "replace", "path": "userName", "value": "JANE.doe@example.COM"}]})
    check_error(r, 409, "uniqueness")
    r = hub.request("PUT", f"/Users/{other['id']}", {"schemas": [CORE_USER], "userName": "jane.DOE@example.com"})
    check_error(r, 409, "uniqueness")
    check(hub.get("Users", other["id"])["userName"] == "john@example.com", "a refused rename changed the user")
    # a user may change the case of their own name
    hub.patch("Users", u["id"], [{"op": "replace", "path": "userName", "value": "jane.doe@example.com"}])
    check(hub.get("Users", u["id"])["userName"] == "jane.doe@example.com", "a case-only rename of oneself")


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def test_paging_by_index_and_cursor(hub):
    n = 250
    ids = set()
    for i in range(n):
        ids.add(hub.create_user(f"p{i:03d}@example.com")["id"])
    # by startIndex
    seen, start, pages = [], 1, 0
    while True:
        b = hub.list("Users", f"startIndex={start}&count=100")
        pages += 1
        check(_int(b.get("startIndex")) and b["startIndex"] == start, f"startIndex {b.get('startIndex')!r}, want {start}")
        check(_int(b.get("itemsPerPage")) and b["itemsPerPage"] == len(b["Resources"]),
              f"itemsPerPage {b.get('itemsPerPage')!r} with {len(b['Resources'])} Resources")
        check(b["totalResults"] == n, f"totalResults {b['totalResults']}, want {n}")
        check(len(b["Resources"]) <= 100, f"{len(b['Resources'])} Resources for count=100")
        seen += [x["id"] for x in b["Resources"]]
        if not b["Resources"] or start + len(b["Resources"]) > n:
            break
        start += len(b["Resources"])
        check(pages < 50, "paging does not end")
    check(len(seen) == n and set(seen) == ids, f"startIndex paging: {len(seen)} seen, {len(set(seen))} distinct, want {n}")
    again = []
    for start in (1, 101, 201):
        again += [x["id"] for x in hub.list("Users", f"startIndex={start}&count=100")["Resources"]]
    check(again == seen, "the order is not stable between two walks")
    # count=0: only the total (RFC 7644 §3.4.2.4)
    b = hub.list("Users", "count=0")
    check(b["totalResults"] == n and b["Resources"] == [], f"count=0: {b['totalResults']}, {len(b['Resources'])} resources")
    # past the end
    b = hub.list("Users", f"startIndex={n + 1}&count=100")
    check(b["Resources"] == [] and b["totalResults"] == n, "a page past the end is not empty")
    # by cursor (RFC 9865): an empty cursor starts, nextCursor continues, its absence ends
    cseen, cursor, pages = [], "", 0
    while True:
        b = hub.list("Users", f"cursor={q(cursor)}&count=100" if cursor else "cursor&count=100")
        pages += 1
        check(_int(b.get("totalResults")), "cursor page without an integer totalResults")
        if "itemsPerPage" in b:
            check(b["itemsPerPage"] == len(b["Resources"]), f"itemsPerPage {b['itemsPerPage']} vs {len(b['Resources'])}")
        check(len(b["Resources"]) <= 100, f"{len(b['Resources'])} Resources for count=100")
        cseen += [x["id"] for x in b["Resources"]]
        nxt = b.get("nextCursor")
        if not nxt:
            break
        check(isinstance(nxt, str), f"nextCursor {nxt!r} is not a string")
        cursor = nxt
        check(pages < 50, "cursor paging does not end")
    check(len(cseen) == n and set(cseen) == ids, f"cursor paging: {len(cseen)} seen, {len(set(cseen))} distinct, want {n}")
    check(pages == 3, f"{pages} cursor pages for {n} users at 100 a page")
    # a changed user does not move twice into a walk: walk by cursor while renaming behind it
    b1 = hub.list("Users", "cursor&count=100")
    first = [x["id"] for x in b1["Resources"]]
    hub.patch("Users", first[0], [{"op": "replace", "path": "displayName", "value": "moved"}])
    rest, cursor = [], b1.get("nextCursor")
    while cursor:
        b = hub.list("Users", f"cursor={q(cursor)}&count=100")
        rest += [x["id"] for x in b["Resources"]]
        cursor = b.get("nextCursor")
    check(len(first + rest) == n and set(first + rest) == ids, "a change during a cursor walk lost or repeated users")
    # a forged cursor is 400 invalidCursor, not a 5xx nor everything
    r = hub.request("GET", "/Users?cursor=" + q("not-a-cursor-@@@") + "&count=10")
    check(r.status == 400, f"a forged cursor answered {r!r}")
    check_error(r, 400, "invalidCursor")


def test_last_modified_filters(hub):
    a = hub.create_user("early@example.com")
    time.sleep(1.1)
    b = hub.create_user("later@example.com")
    ts_a = hub.get("Users", a["id"])["meta"]["lastModified"]
    ts_b = hub.get("Users", b["id"])["meta"]["lastModified"]
    check(ts_b > ts_a, f"lastModified does not grow: {ts_a} then {ts_b}")
    got = hub.filter("Users", f'meta.lastModified gt "{ts_a}"')
    check([x["id"] for x in got["Resources"]] == [b["id"]], f"gt {ts_a}: {[x['userName'] for x in got['Resources']]}")
    got = hub.filter("Users", f'meta.lastModified ge "{ts_a}"')
    check(sorted(x["id"] for x in got["Resources"]) == sorted([a["id"], b["id"]]), f"ge {ts_a}: {got['Resources']}")
    got = hub.filter("Users", f'meta.lastModified gt "{ts_b}"')
    check(got["totalResults"] == 0, f"gt the newest change: {got['Resources']}")
    time.sleep(1.1)
    hub.patch("Users", a["id"], [{"op": "replace", "path": "active", "value": False}])
    got = hub.filter("Users", f'meta.lastModified gt "{ts_b}"')
    check([x["id"] for x in got["Resources"]] == [a["id"]], f"a deactivation is not a later change: {got['Resources']}")
    check(got["Resources"][0].get("active") is False, "the delta shows the user active")
    # groups too, and a timestamp written another way (the pull source's shape: UTC, Z)
    g = hub.create_group("Delta")
    ts_g = hub.get("Groups", g["id"])["meta"]["lastModified"]
    got = hub.filter("Groups", 'meta.lastModified gt "2000-01-01T00:00:00Z"')
    check([x["id"] for x in got["Resources"]] == [g["id"]], f"groups delta: {got}")
    got = hub.filter("Groups", f'meta.lastModified gt "{ts_g}"')
    check(got["totalResults"] == 0, f"groups gt their own lastModified: {got}")
    got = hub.filter("Users", 'meta.lastModified gt "2999-01-01T00:00:00Z"')
    check(got["totalResults"] == 0, "a future timestamp matched")
    r = hub.request("GET", "/Users?filter=" + q('meta.lastModified gt "yesterday"'))
    check(r.status == 400, f"a bad timestamp answered {r!r}")


def test_concurrent_writes_lose_nothing(hub):
    """IdPs push in parallel: concurrent member adds to one group all land, and of concurrent
    creates of one userName exactly one wins (the others 409)."""
    import threading
    ids = [hub.create_user(f"c{i:02d}@example.com")["id"] for i in range(24)]
    g = hub.create_group("parallel")
    results = []

    def add(chunk):
        for uid in chunk:
            r = hub.request("PATCH", f"/Groups/{g['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": uid}]}]})
            results.append(r.status)
    threads = [threading.Thread(target=add, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(all(st in (200, 204, 429) for st in results), f"concurrent member adds answered {sorted(set(results))}")
    if 429 not in results:  # an overloaded hub may refuse some; what it accepted must all be there
        check(member_ids(hub.get("Groups", g["id"])) == sorted(ids),
              f"concurrent adds lost members: {len(member_ids(hub.get('Groups', g['id'])))} of {len(ids)}")
    statuses = []

    def create():
        statuses.append(hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "Race@example.com"}).status)
    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(statuses.count(201) == 1 and all(st in (201, 409, 429) for st in statuses),
          f"concurrent creates of one userName answered {sorted(statuses)}")
    check(hub.filter("Users", 'userName eq "race@example.com"')["totalResults"] == 1, "two users with one userName")


def test_list_resources_match_get(hub):
    u = hub.create_user("same@example.com", displayName="Same")
    lst = hub.list("Users")
    check_list(hub.request("GET", "/Users"))
    check(lst["Resources"][0] == hub.get("Users", u["id"]), "a list entry differs from GET by id")


if __name__ == "__main__":
    run_suite([test_every_deactivation_shape_ends_inactive,
               test_duplicate_username_case_insensitive,
               test_paging_by_index_and_cursor,
               test_last_modified_filters,
               test_concurrent_writes_lose_nothing,
               test_list_resources_match_get],
              sys.argv, prefix="test-hub-deactivation")
