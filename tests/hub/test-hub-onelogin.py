#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub against OneLogin and JumpCloud: string booleans from their templates
("true"/"false"), a test connection that creates and deletes a test user and group,
re-activation, no-op PATCHes re-sent periodically (2xx, nothing recorded: meta.version and
meta.lastModified unchanged), DELETE of an already-deactivated user, DELETE of an unknown id.
Run a subset: test-hub-onelogin.py CASE... [--keep]."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import CORE_GROUP, CORE_USER, check, check_error, guid, member_ids, run_suite  # noqa: E402


def template_user(login, active="true"):
    """OneLogin's rule templates render every value as a string, booleans included."""
    return {"schemas": [CORE_USER], "userName": login, "externalId": "ol-" + login.split("@")[0],
            "name": {"givenName": "Test", "familyName": "User"}, "active": active,
            "emails": [{"value": login, "type": "work", "primary": "true"}]}


def create(hub, body):
    r = hub.request("POST", "/Users", body)
    check(r.status == 201, f"POST {body.get('userName')} (string booleans) answered {r!r}")
    return r.json


def hub_changes(hub):
    """Rows of the store's change sequence and audit log: a request that changes nothing writes
    neither."""
    return [hub.sql(f"SELECT count(*) FROM {table}")[0][0] for table in ("changes", "audit")]


def test_string_booleans_from_templates(hub):
    r = hub.request("POST", "/Users", template_user("t1@onelogin.example", active="true"))
    check(r.status == 201, f"POST with \"active\": \"true\" answered {r!r}")
    uid = r.json["id"]
    got = hub.get("Users", uid)
    check(got.get("active") is True, f"\"true\" stored as {got.get('active')!r}")
    check(got["emails"][0].get("primary") is True, f"primary \"true\" stored as {got['emails'][0].get('primary')!r}")
    r = hub.request("POST", "/Users", template_user("t2@onelogin.example", active="false"))
    check(r.status == 201, f"POST with \"active\": \"false\" answered {r!r}")
    check(hub.get("Users", r.json["id"]).get("active") is False, "\"false\" in a POST did not create an inactive user")
    hub.patch("Users", uid, [{"op": "replace", "path": "active", "value": "false"}])
    check(hub.get("Users", uid).get("active") is False, "PATCH active \"false\" did not deactivate")
    body = template_user("t1@onelogin.example", active="true")
    hub.ok("PUT", f"/Users/{uid}", body, expect=(200,))
    check(hub.get("Users", uid).get("active") is True, "PUT active \"true\" did not re-activate")
    # a string that is not a boolean is refused and changes nothing
    r = hub.request("PATCH", f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                               "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]})
    check(r.status == 400, f"active \"maybe\" answered {r!r}")
    check_error(r, 400)
    check(hub.get("Users", uid).get("active") is True, "a refused active \"maybe\" changed the user")


def test_connection_creates_and_deletes_test_user_and_group(hub):
    name = f"scim-test-{guid()}@onelogin.example"
    r = hub.request("POST", "/Users", template_user(name))
    check(r.status == 201, f"test user POST answered {r!r}")
    uid = r.json["id"]
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "SCIM Test Group " + guid(),
                                        "members": [{"value": uid}]})
    check(r.status == 201, f"test group POST answered {r!r}")
    gid = r.json["id"]
    check(member_ids(hub.get("Groups", gid)) == [uid], "test group members")
    r = hub.request("DELETE", f"/Groups/{gid}")
    check(r.status == 204, f"DELETE test group answered {r!r}")
    r = hub.request("DELETE", f"/Users/{uid}")
    check(r.status == 204, f"DELETE test user answered {r!r}")
    hub.gone("Users", uid)
    hub.gone("Groups", gid)
    lst = hub.list("Users")
    check(lst["totalResults"] == 0 and lst["Resources"] == [], f"the test user is still listed: {lst}")
    lst = hub.list("Groups")
    check(lst["totalResults"] == 0 and lst["Resources"] == [], f"the test group is still listed: {lst}")
    # the same test runs again the next day, with the same userName: it must be free again
    r = hub.request("POST", "/Users", template_user(name))
    check(r.status == 201, f"re-creating a deleted userName answered {r!r}")
    check(r.json["id"] != uid, "a deleted id was reused")


def test_reactivation(hub):
    u = create(hub, template_user("back@onelogin.example"))
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
    check(hub.get("Users", u["id"]).get("active") is False, "deactivation")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": True}])
    got = hub.get("Users", u["id"])
    check(got.get("active") is True, f"re-activation: active {got.get('active')!r}")
    check(got["id"] == u["id"] and got["userName"] == "back@onelogin.example", "re-activation changed the identity")


def test_noop_patch_resent_changes_nothing(hub):
    u = create(hub, template_user("noop@onelogin.example"))
    g = hub.create_group("NoOps", members=[u["id"]])
    ops_user = [{"op": "replace", "path": "active", "value": "true"},
                {"op": "replace", "path": "name.givenName", "value": "Test"},
                {"op": "replace", "path": "externalId", "value": "ol-noop"}]
    hub.patch("Users", u["id"], ops_user)  # the first one changes externalId
    before = hub.get("Users", u["id"])
    etag = hub.ok("GET", f"/Users/{u['id']}", expect=(200,)).headers.get("etag")
    gbefore = hub.get("Groups", g["id"])
    changes = hub_changes(hub)
    time.sleep(1.1)  # a timestamp taken now would differ from the stored one
    for _ in range(3):
        r = hub.patch("Users", u["id"], ops_user)
        check(200 <= r.status < 300, f"a re-sent no-op PATCH answered {r!r}")
        hub.patch("Groups", g["id"], [{"op": "add", "path": "members", "value": [{"value": u["id"]}]},
                                      {"op": "replace", "path": "displayName", "value": "NoOps"}])
    after = hub.get("Users", u["id"])
    check(after["meta"].get("lastModified") == before["meta"].get("lastModified"),
          f"a no-op PATCH moved meta.lastModified: {before['meta']} -> {after['meta']}")
    check(after["meta"].get("version") == before["meta"].get("version"),
          f"a no-op PATCH moved meta.version: {before['meta']} -> {after['meta']}")
    check(json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True), f"a no-op PATCH changed the user: {after}")
    check(hub.ok("GET", f"/Users/{u['id']}", expect=(200,)).headers.get("etag") == etag, "the ETag moved")
    gafter = hub.get("Groups", g["id"])
    check(gafter["meta"] == gbefore["meta"] and member_ids(gafter) == [u["id"]],
          f"a no-op group PATCH changed the group: {gbefore['meta']} -> {gafter['meta']}, {member_ids(gafter)}")
    check(hub_changes(hub) == changes, f"no-op PATCHes were recorded as changes: {changes} -> {hub_changes(hub)}")
    # nothing changed since the last real change: a delta filter from then finds nothing
    ts = before["meta"]["lastModified"]
    lst = hub.filter("Users", f'meta.lastModified gt "{ts}"')
    check(lst["totalResults"] == 0, f"no-op PATCHes show up as changes in a delta: {lst['Resources']}")


def test_delete_deactivated_user(hub):
    u = create(hub, template_user("gone@onelogin.example"))
    g = hub.create_group("Leavers", members=[u["id"]])
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": "false"}])
    check(hub.get("Users", u["id"]).get("active") is False, "deactivation before delete")
    r = hub.request("DELETE", f"/Users/{u['id']}")
    check(r.status == 204, f"DELETE of a deactivated user answered {r!r}")
    hub.gone("Users", u["id"])
    check(member_ids(hub.get("Groups", g["id"])) == [], "the deleted user is still a group member")
    r = hub.request("DELETE", f"/Users/{u['id']}")
    check_error(r, 404)


def test_delete_unknown_id(hub):
    for kind in ("Users", "Groups"):
        r = hub.request("DELETE", f"/{kind}/{guid()}")
        check_error(r, 404)
        r = hub.request("DELETE", f"/{kind}/..%2F..%2Fetc")
        check(r.status in (400, 404), f"DELETE of a path-like id answered {r!r}")


if __name__ == "__main__":
    run_suite([test_string_booleans_from_templates,
               test_connection_creates_and_deletes_test_user_and_group,
               test_reactivation,
               test_noop_patch_resent_changes_nothing,
               test_delete_deactivated_user,
               test_delete_unknown_id],
              sys.argv, prefix="test-hub-onelogin")
