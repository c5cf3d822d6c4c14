#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The mass-deactivation guard of provision-hub, against the real hub ([guard] max_percent = 20,
min_users = 10): deactivations up to the share are published at once; beyond it they are
held — the IdP gets its 2xx, the user is still served active to the feed and SCIM — until an
admin approves (POST /v1/admin/holds/approve), which publishes each as a change of its own,
audited with the admin token; an IdP re-activation releases a held user; a lock is never held;
only admin tokens see or approve holds. Exit 0 all passed, 1 a case failed, 77 the hub is not
built."""

import sys

from hubharness import check, run_suite


def deactivate(hub, uid):
    hub.patch("Users", uid, [{"op": "replace", "path": "active", "value": False}])


def feed_state(hub, since, uid):
    """The user's "active" in the feed answer after since (None: not in it)."""
    r = hub.request("GET", f"//v1/feed?since={since}", token="host")
    check(r.status == 200, f"feed: {r!r}")
    for e in r.json["events"]:
        if e["id"] == uid:
            return e["resource"]["active"]
    return None


def head(hub):
    return hub.request("GET", "//v1/feed?since=0", token="host").json["seq"]


def holds(hub, token="admin"):
    return hub.request("GET", "//v1/admin/holds", token=token)


def test_guard_holds_beyond_the_share(hub):
    users = [hub.create_user(f"g{i}@example.com") for i in range(10)]
    deactivate(hub, users[0]["id"])
    deactivate(hub, users[1]["id"])  # 2 of 10: at the share, published
    for u in users[:2]:
        check(hub.get("Users", u["id"])["active"] is False, "a deactivation within the share was held")
    h = head(hub)
    deactivate(hub, users[2]["id"])  # 3 of 10: beyond it
    deactivate(hub, users[3]["id"])
    for u in users[2:4]:
        check(hub.get("Users", u["id"])["active"] is True, "a deactivation beyond the share was served")
        check(feed_state(hub, h, u["id"]) in (None, True), "the feed published a held deactivation")
    r = holds(hub)
    check(r.status == 200 and sorted(x["id"] for x in r.json["users"]) == sorted(u["id"] for u in users[2:4]),
          f"holds: {r!r}")
    # A lock is never held; an IdP re-activation releases.
    lk = hub.request("POST", f"//v1/admin/users/{users[4]['id']}/lock", token="admin")
    check(lk.status == 200 and hub.get("Users", users[4]["id"])["active"] is False, "a lock was held")
    hub.patch("Users", users[3]["id"], [{"op": "replace", "path": "active", "value": True}])
    check([x["id"] for x in holds(hub).json["users"]] == [users[2]["id"]], "a re-activated user is still held")

    h = head(hub)
    r = hub.request("POST", "//v1/admin/holds/approve", token="admin")
    check(r.status == 200 and r.json["released"] == 1, f"approve: {r!r}")
    check(hub.get("Users", users[2]["id"])["active"] is False, "an approved deactivation is not served")
    check(feed_state(hub, h, users[2]["id"]) is False, "the feed did not publish the approved deactivation")
    check(holds(hub).json["users"] == [], "users still held after the approval")
    check(hub.request("POST", "//v1/admin/holds/approve", token="admin").status == 404, "approving twice")
    rows = hub.sql("SELECT token_name, method FROM audit WHERE id = ? ORDER BY seq DESC LIMIT 1", (users[2]["id"],))
    row = rows[0] if rows else None
    check(row == ("admin-test", "APPROVE"), f"the approval's audit: {row}")


def test_approve_releases_every_held_user(hub):
    users = [hub.create_user(f"a{i}@example.com") for i in range(10)]
    for u in users[:6]:
        deactivate(hub, u["id"])  # 2 published, 4 held
    check(len(holds(hub).json["users"]) == 4, f"holds: {holds(hub).json}")
    h = head(hub)
    r = hub.request("POST", "//v1/admin/holds/approve", token="admin")
    check(r.status == 200 and r.json["released"] == 4, f"approve released {r!r}, want 4")
    for u in users[2:6]:
        check(hub.get("Users", u["id"])["active"] is False, f"{u['userName']} is still served active")
        check(feed_state(hub, h, u["id"]) is False, f"the feed did not publish {u['userName']}'s deactivation")
    check(holds(hub).json["users"] == [], "users still held after the approval")


def test_small_directory_not_guarded(hub):
    users = [hub.create_user(f"s{i}@example.com") for i in range(5)]  # fewer than min_users
    for u in users:
        deactivate(hub, u["id"])
    check(all(hub.get("Users", u["id"])["active"] is False for u in users), "a small directory was guarded")


def test_only_admins_see_holds(hub):
    check(holds(hub, "host").status == 403 and holds(hub, "scim").status == 403, "holds without an admin token")
    check(hub.request("POST", "//v1/admin/holds/approve", token="scim").status == 403, "approve with an IdP token")
    check(hub.request("GET", "//v1/admin/holds/approve", token="admin").status == 405, "GET approve")


if __name__ == "__main__":
    run_suite([test_guard_holds_beyond_the_share, test_approve_releases_every_held_user,
               test_small_directory_not_guarded, test_only_admins_see_holds],
              sys.argv, prefix="test-hub-guard",
              extra_conf={"guard": {"max_percent": "20", "min_users": "10", "window": "3600"}})
