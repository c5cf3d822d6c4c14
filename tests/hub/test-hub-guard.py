#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The mass-deactivation guard of provision-hub, against the real hub ([guard] max_percent = 20,
min_users = 10): deactivations up to the share are published at once; beyond it they are
held — the IdP gets its 2xx, the user is still served active to the feed and SCIM — until an
admin approves (POST /v1/admin/holds/approve), which publishes each as a change of its own,
audited with the admin token; an IdP re-activation releases a held user; a lock is never held;
a deletion beyond the share is held too (a ghost: gone for SCIM, its userName free, still in
the feed and the snapshot with its groups until the approval publishes the deletion); the share
is of the live users (a ghost is a leaver, not one of them), and an approval ends the window: the
leavers it approved do not count towards the next ones; only admin tokens see or approve holds. Exit 0 all passed, 1 a case failed, 77 the hub is not
built."""

import subprocess
import sys

from hubharness import check, hub_bin, run_suite


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
    shown = holds(hub).json
    check(len(shown["users"]) == 4, f"holds: {shown}")
    h = head(hub)
    # An approval of what the admin was shown: a hold that holds another number now (another
    # replica added to it) is not approved.
    r = hub.request("POST", "//v1/admin/holds/approve", {"hold": shown["hold"], "count": 3}, token="admin")
    check(r.status == 409 and len(holds(hub).json["users"]) == 4, f"approve of a changed hold: {r!r}")
    r = hub.request("POST", "//v1/admin/holds/approve", {"hold": shown["hold"] + 1, "count": 4}, token="admin")
    check(r.status == 404 and len(holds(hub).json["users"]) == 4, f"approve of another hold: {r!r}")
    r = hub.request("POST", "//v1/admin/holds/approve", {"hold": "1"}, token="admin")
    check(r.status == 400 and len(holds(hub).json["users"]) == 4, f"approve with a bad body: {r!r}")
    r = hub.request("POST", "//v1/admin/holds/approve", {"hold": shown["hold"], "count": 4}, token="admin")
    check(r.status == 200 and r.json["released"] == 4, f"approve released {r!r}, want 4")
    for u in users[2:6]:
        check(hub.get("Users", u["id"])["active"] is False, f"{u['userName']} is still served active")
        check(feed_state(hub, h, u["id"]) is False, f"the feed did not publish {u['userName']}'s deactivation")
    check(holds(hub).json["users"] == [], "users still held after the approval")


def feed_events(hub, since):
    r = hub.request("GET", f"//v1/feed?since={since}", token="host")
    check(r.status == 200, f"feed: {r!r}")
    return r.json["events"]


def snapshot(hub):
    r = hub.request("GET", "//v1/snapshot", token="host")
    check(r.status == 200 and r.json is not None, f"snapshot: {r!r}")
    return r.json


def test_guard_holds_deletions(hub):
    users = [hub.create_user(f"d{i}@example.com") for i in range(12)]
    ghost = users[3]
    group = hub.create_group("staff", [users[3]["id"], users[4]["id"]])
    hub.ok("DELETE", f"/Users/{users[0]['id']}", expect=(204,))  # 1 of 12: published
    hub.gone("Users", users[0]["id"])
    deactivate(hub, users[1]["id"])  # 2 of 11: at the share
    h = head(hub)
    hub.ok("DELETE", f"/Users/{ghost['id']}", expect=(204,))  # 3 of 11: held
    # For the IdP the user is gone.
    hub.gone("Users", ghost["id"])
    check(hub.request("DELETE", f"/Users/{ghost['id']}").status == 404, "a second DELETE of a held deletion")
    check(hub.filter("Users", f'userName eq "{ghost["userName"]}"')["totalResults"] == 0, "a filter found the ghost")
    listed = hub.list("Users", "count=100")
    check(ghost["id"] not in [u["id"] for u in listed["Resources"]] and listed["totalResults"] == 10,
          f"the list shows the ghost: {listed['totalResults']}")
    check([m["value"] for m in hub.get("Groups", group["id"])["members"]] == [users[4]["id"]],
          "SCIM shows the ghost in its group")
    # For the fleet it is as it was: active, in its group.
    for e in feed_events(hub, h):
        check(e["op"] == "upsert" and e["resource"].get("active") is True, f"the feed published a held deletion: {e}")
    snap = snapshot(hub)
    snap_user = [u for u in snap["Users"] if u["id"] == ghost["id"]]
    check(len(snap_user) == 1 and snap_user[0]["active"] is True, "the snapshot lost the held user")
    snap_group = [g for g in snap["Groups"] if g["id"] == group["id"]][0]
    check(sorted(m["value"] for m in snap_group["members"]) == sorted([ghost["id"], users[4]["id"]]),
          "the snapshot's group lost the held user")
    r = holds(hub)
    check(r.status == 200 and [(x["id"], x["kind"]) for x in r.json["users"]] == [(ghost["id"], "deletion")],
          f"holds: {r!r}")
    # The IdP creates the userName again: a new user, the ghost stays held.
    again = hub.create_user(ghost["userName"])
    check(again["id"] != ghost["id"], "the new user took the held user's id")
    check([x["id"] for x in holds(hub).json["users"]] == [ghost["id"]], "the new user released the ghost")
    # The command line reads the holds from the store beside the running hub.
    p = subprocess.run([hub_bin, "--config", hub.conf, "holds"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and f"{ghost['userName']} ({ghost['id']}): deletion" in p.stdout and
          f"d1@example.com ({users[1]['id']})" not in p.stdout, f"provision-hub holds: {p.returncode} {p.stdout} {p.stderr}")

    h = head(hub)
    r = hub.request("POST", "//v1/admin/holds/approve", token="admin")
    check(r.status == 200 and r.json["released"] == 1, f"approve: {r!r}")
    events = feed_events(hub, h)
    check([(e["seq"], e["op"], e["id"]) for e in events] == [(h + 1, "upsert", group["id"]), (h + 2, "delete", ghost["id"]),
                                                           (h + 3, "upsert", again["id"])],
          f"the approval's events: {[(e['seq'], e['op'], e['id']) for e in events]}")
    check([m["value"] for m in events[0]["resource"]["members"]] == [users[4]["id"]], "the group kept the deleted user")
    snap = snapshot(hub)
    check(ghost["id"] not in [u["id"] for u in snap["Users"]] and again["id"] in [u["id"] for u in snap["Users"]],
          "the snapshot after the approval")
    check(holds(hub).json["users"] == [], "users still held after the approval")
    rows = hub.sql("SELECT token_name, method FROM audit WHERE id = ? ORDER BY seq DESC LIMIT 1", (ghost["id"],))
    check(rows and rows[0] == ("admin-test", "APPROVE"), f"the approval's audit: {rows}")


def test_deleting_a_held_deactivation_stays_held(hub):
    users = [hub.create_user(f"h{i}@example.com") for i in range(10)]
    for u in users[:3]:
        deactivate(hub, u["id"])  # the third is held
    h = head(hub)
    hub.ok("DELETE", f"/Users/{users[2]['id']}", expect=(204,))
    hub.gone("Users", users[2]["id"])
    check([(x["id"], x["kind"]) for x in holds(hub).json["users"]] == [(users[2]["id"], "deletion")],
          f"holds: {holds(hub).json}")
    check(all(e["resource"]["active"] is True for e in feed_events(hub, h)), "the feed published the held user")
    # A lock is never held: it reaches the fleet while the deletion waits.
    lk = hub.request("POST", f"//v1/admin/users/{users[2]['id']}/lock", token="admin")
    check(lk.status == 200, f"lock of a held deletion: {lk!r}")
    check([e["resource"]["active"] for e in feed_events(hub, h)] == [False], "the lock did not reach the feed")
    hub.ok("POST", "//v1/admin/holds/approve", token="admin", expect=(200,))
    check([(e["op"], e["id"]) for e in feed_events(hub, h)] == [("delete", users[2]["id"])], "the approved deletion")


def test_approved_leavers_do_not_count_again(hub):
    """An approval ends the mass change it approved: the next ordinary leavers are published
    (up to the share of a new window), not held again because of the approved ones."""
    users = [hub.create_user(f"n{i}@example.com") for i in range(20)]
    for u in users[:5]:
        deactivate(hub, u["id"])  # 1 to 4 of 20 published, 5 of 20 held
    check([x["id"] for x in holds(hub).json["users"]] == [users[4]["id"]], f"holds: {holds(hub).json}")
    hub.ok("POST", "//v1/admin/holds/approve", token="admin", expect=(200,))
    deactivate(hub, users[5]["id"])  # 1 of the 15 users of the new window
    check(hub.get("Users", users[5]["id"])["active"] is False and holds(hub).json["users"] == [],
          f"the first leaver after an approval was held: {holds(hub).json}")
    hub.ok("DELETE", f"/Users/{users[6]['id']}", expect=(204,))  # 2 of 15
    hub.gone("Users", users[6]["id"])
    check(holds(hub).json["users"] == [], f"the second leaver after an approval was held: {holds(hub).json}")
    deactivate(hub, users[7]["id"])  # 3 of 15: at the share
    check(holds(hub).json["users"] == [], f"the third leaver after an approval was held: {holds(hub).json}")
    deactivate(hub, users[8]["id"])  # 4 of 15: beyond it, the guard still works
    check(hub.get("Users", users[8]["id"])["active"] is True and
          [x["id"] for x in holds(hub).json["users"]] == [users[8]["id"]],
          f"beyond the share after an approval: {holds(hub).json}")


def test_approved_deletions_do_not_count_again(hub):
    users = [hub.create_user(f"m{i}@example.com") for i in range(15)]
    for u in users[:4]:
        hub.ok("DELETE", f"/Users/{u['id']}", expect=(204,))  # 1 to 3 of 15 published, 4 of 15 held
    check([(x["id"], x["kind"]) for x in holds(hub).json["users"]] == [(users[3]["id"], "deletion")],
          f"holds: {holds(hub).json}")
    hub.ok("POST", "//v1/admin/holds/approve", token="admin", expect=(200,))
    hub.ok("DELETE", f"/Users/{users[4]['id']}", expect=(204,))  # 1 of 11 since the approval
    check(holds(hub).json["users"] == [], f"a deletion after approved ones was held: {holds(hub).json}")


def test_deletions_do_not_shrink_the_directory(hub):
    """Each deletion (published or held) is a leaver of the window and stays one of the users its
    share is of: a base that shrank with each deletion fell below min_users and let the rest of a
    mass deletion through."""
    users = [hub.create_user(f"x{i}@example.com") for i in range(12)]
    for u in users:
        hub.ok("DELETE", f"/Users/{u['id']}", expect=(204,))  # 1 and 2 of 12 published, the rest held
    held = sorted(x["id"] for x in holds(hub).json["users"])
    check(held == sorted(u["id"] for u in users[2:]), f"a mass deletion got through: {len(held)} of 10 held")
    served = [u["id"] for u in snapshot(hub)["Users"]]
    check(all(u["id"] in served for u in users[2:]), "the fleet's snapshot lost held users")


def test_inactive_users_do_not_dilute_the_share(hub):
    """Users who were inactive already (a directory that keeps its leavers, or an IdP that posts
    inactive users) are not among those the share is of."""
    users = [hub.create_user(f"y{i}@example.com") for i in range(10)]
    for i in range(40):
        hub.create_user(f"z{i}@example.com", active=False)
    for u in users:
        deactivate(hub, u["id"])  # 1 and 2 of 10 active users published, the rest held
    held = sorted(x["id"] for x in holds(hub).json["users"])
    check(held == sorted(u["id"] for u in users[2:]), f"inactive users diluted the share: {len(held)} of 8 held")


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
               test_guard_holds_deletions, test_deleting_a_held_deactivation_stays_held,
               test_approved_leavers_do_not_count_again, test_approved_deletions_do_not_count_again,
               test_deletions_do_not_shrink_the_directory, test_inactive_users_do_not_dilute_the_share,
               test_small_directory_not_guarded, test_only_admins_see_holds],
              sys.argv, prefix="test-hub-guard",
              extra_conf={"guard": {"max_percent": "20", "min_users": "10", "window": "3600"}})
