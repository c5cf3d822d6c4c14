#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fleet-wide lock of provision-hub (POST /v1/admin/users/{id}/lock and /unlock), against the
real hub: a locked user is served "active": false by SCIM and by the feed at once, whatever the
IdP sends until it is unlocked; unlocking serves the IdP's own value again; every change of the
lock is one change of the user and one audit row naming the admin token; locking twice records
nothing; only admin tokens may lock. Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import sys
import threading

from hubharness import check, run_suite


def lock(hub, uid, verb="lock", token="admin"):
    return hub.request("POST", f"//v1/admin/users/{uid}/{verb}", token=token)


def head(hub):
    return hub.request("GET", "//v1/feed?since=0", token="host").json["seq"]


def test_lock_wins_over_the_idp_until_unlocked(hub):
    u = hub.create_user("locked@example.com", displayName="Before")
    r = lock(hub, u["id"])
    check(r.status == 200 and r.json["locked"] is True and r.json["changed"] is True, f"lock: {r!r}")
    check(hub.get("Users", u["id"])["active"] is False, "a locked user is served active")
    # The IdP re-activates and renames: the rename is kept, the lock still wins.
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": True},
                                 {"op": "replace", "path": "displayName", "value": "After"}])
    got = hub.get("Users", u["id"])
    check(got["active"] is False and got["displayName"] == "After", f"after the IdP's PATCH: {got}")
    lst = hub.filter("Users", 'userName eq "locked@example.com"')["Resources"][0]
    check(lst["active"] is False, "a list serves the locked user active")
    r = lock(hub, u["id"], "unlock")
    check(r.status == 200 and r.json["locked"] is False and r.json["changed"] is True, f"unlock: {r!r}")
    check(hub.get("Users", u["id"])["active"] is True, "unlocking did not serve the IdP's active again")
    # An IdP deactivation during a lock stays after the unlock.
    lock(hub, u["id"])
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
    lock(hub, u["id"], "unlock")
    check(hub.get("Users", u["id"])["active"] is False, "unlocking re-activated a user the IdP deactivated")


def test_lock_is_a_change_and_audited(hub):
    u = hub.create_user("audited@example.com")
    h = head(hub)
    out = {}

    def wait():
        out["r"] = hub.request("GET", f"//v1/feed?since={h}", token="host", headers={"Prefer": "wait=30"})
    t = threading.Thread(target=wait)
    t.start()
    r = lock(hub, u["id"])
    t.join(40)
    check(r.json["seq"] == h + 1, f"the lock is not the next change: {r.json}")
    ev = out["r"].json["events"]
    check(len(ev) == 1 and ev[0]["id"] == u["id"] and ev[0]["resource"]["active"] is False,
          f"the held feed request did not get the lock: {out['r']!r}")
    r = lock(hub, u["id"])
    check(r.status == 200 and r.json["changed"] is False and r.json["seq"] == h + 1, f"locking twice: {r!r}")
    rows = hub.sql("SELECT token_name, method, before_json, after_json FROM audit WHERE id = ? ORDER BY seq",
                   (u["id"],))
    check(rows[-1][:2] == ("admin-test", "LOCK") and '"locked":true' in rows[-1][3].replace(" ", ""),
          f"the audit of the lock: {rows}")
    check(len([r for r in rows if r[1] == "LOCK"]) == 1, f"locking twice was audited twice: {rows}")


def test_only_admins_lock(hub):
    u = hub.create_user("nolock@example.com")
    for token in ("scim", "host", None):
        st = lock(hub, u["id"], token=token).status
        check(st == (401 if token is None else 403), f"lock with {token} token: {st}")
    check(hub.get("Users", u["id"])["active"] is True, "a refused lock locked")
    check(lock(hub, "no-such-id").status == 404, "locking an unknown user")
    check(hub.request("GET", f"//v1/admin/users/{u['id']}/lock", token="admin").status == 405, "GET lock")
    check(hub.request("POST", "//v1/admin/nothing", token="admin").status == 404, "an unknown admin path")


if __name__ == "__main__":
    run_suite([test_lock_wins_over_the_idp_until_unlocked,
               test_lock_is_a_change_and_audited,
               test_only_admins_lock],
              sys.argv, prefix="test-hub-lock")
