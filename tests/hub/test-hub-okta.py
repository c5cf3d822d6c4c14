#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub against what Okta's SCIM 2.0 provisioning sends: a userName lookup with
startIndex=1&count=100, a POST carrying password and groups: [], PUT for profile updates and for
deactivation, path-less {"op":"replace","value":{"active":false}}, group push (remove
members[value eq ...] plus add members in one PATCH, a rename sent with every membership
update), DELETE /Groups/{id}; errors with an integer or string status; Content-Type
application/json. Every step is checked by GET afterwards.
Run a subset: test-hub-okta.py CASE... [--keep]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import (CORE_GROUP, CORE_USER, PATCH_OP, check, check_error, member_ids, q,  # noqa: E402
                        run_suite)

JSON = "application/json"
PASSWORD = "Okta-Pa55w0rd-!-never-stored-7f3a"


def okta_user(login, given="Isaac", family="Brock", **extra):
    u = {"schemas": [CORE_USER], "userName": login,
         "name": {"givenName": given, "familyName": family},
         "emails": [{"primary": True, "value": login, "type": "work"}],
         "displayName": f"{given} {family}", "locale": "en-US", "externalId": "00u" + login.split("@")[0],
         "groups": [], "password": PASSWORD, "active": True}
    u.update(extra)
    return u


def okta_lookup(hub, login):
    r = hub.ok("GET", "/Users?filter=" + q(f'userName eq "{login}"') + "&startIndex=1&count=100",
               expect=(200,), content_type=JSON)
    b = r.json
    check(isinstance(b.get("totalResults"), int) and not isinstance(b.get("totalResults"), bool),
          f"totalResults {b.get('totalResults')!r} is not an integer")
    check(b.get("startIndex") in (None, 1), f"startIndex {b.get('startIndex')!r}, want 1")
    return b


def post(hub, body):
    r = hub.request("POST", "/Users", body, content_type=JSON)
    check(r.status == 201, f"Okta's POST answered {r!r}")
    return r.json


def test_lookup_create_lookup(hub):
    login = "isaac.brock@example.com"
    b = okta_lookup(hub, login)
    check(b["totalResults"] == 0 and not b.get("Resources"), f"lookup before create: {b}")
    created = post(hub, okta_user(login))
    check(created.get("userName") == login and created.get("active") is True, f"POST answer {created}")
    b = okta_lookup(hub, login)
    check(b["totalResults"] == 1 and b["Resources"][0]["id"] == created["id"], f"lookup after create: {b}")
    r = hub.ok("GET", f"/Users/{created['id']}", expect=(200,), content_type=JSON)
    ct = r.headers.get("content-type", "")
    check(ct.startswith("application/scim+json") or ct.startswith("application/json"), f"Content-Type {ct!r}")


def test_password_never_returned_nor_stored(hub):
    created = post(hub, okta_user("pw@example.com"))
    check("password" not in created, f"the POST answer carries the password: {created}")
    check(PASSWORD not in hub.request("GET", f"/Users/{created['id']}").raw.decode(), "GET serves the password")
    lst = hub.request("GET", "/Users?filter=" + q('userName eq "pw@example.com"'))
    check(PASSWORD not in lst.raw.decode(), "the list serves the password")
    # a password change (Okta sends it by PUT and by PATCH)
    body = okta_user("pw@example.com", password=PASSWORD + "-2")
    hub.ok("PUT", f"/Users/{created['id']}", body, expect=(200,), content_type=JSON)
    hub.patch("Users", created["id"], [{"op": "replace", "value": {"password": PASSWORD + "-3"}}], content_type=JSON)
    got = hub.get("Users", created["id"])
    check("password" not in got, f"GET serves a password: {got}")
    check("groups" not in got or got["groups"] == [], f"groups: [] from Okta was stored as data: {got.get('groups')}")
    hub.stop()  # the WAL is checkpointed or not: both files are read
    data = hub.store_bytes()
    hub.start()
    check(len(data) > 0, "the store is empty on disk")
    check(PASSWORD.encode() not in data, "the password is in the store's bytes")
    check(PASSWORD.encode() not in hub.log_text().encode(), "the password is in the hub's log")
    hub.assert_no_token_in_log(extra=[PASSWORD])


def test_put_updates_profile_and_keeps_hub_attributes(hub):
    created = post(hub, okta_user("put@example.com"))
    body = okta_user("put@example.com", given="Ike", family="Brock-Smith")
    body["id"] = created["id"]
    r = hub.request("PUT", f"/Users/{created['id']}", body, content_type=JSON)
    check(r.status == 200, f"PUT answered {r!r}")
    got = hub.get("Users", created["id"])
    check(got["name"] == {"givenName": "Ike", "familyName": "Brock-Smith"} or
          (got["name"].get("givenName") == "Ike" and got["name"].get("familyName") == "Brock-Smith"), f"name {got['name']}")
    check(got.get("displayName") == "Ike Brock-Smith", f"displayName {got.get('displayName')!r}")
    check(got["id"] == created["id"], "PUT changed the id")
    check(got["meta"].get("created") == created["meta"]["created"], f"PUT changed meta.created: {got['meta']}")
    check(got["meta"].get("version") != created["meta"].get("version"), "meta.version did not change on a PUT that changed data")
    # a PUT that omits attributes drops client data (replace semantics) but not what the hub owns
    r = hub.request("PUT", f"/Users/{created['id']}", {"schemas": [CORE_USER], "userName": "put@example.com",
                                                        "active": True}, content_type=JSON)
    check(r.status == 200, f"minimal PUT answered {r!r}")
    got = hub.get("Users", created["id"])
    check("name" not in got and "displayName" not in got, f"PUT without name kept it: {got}")
    check(got["meta"].get("created") == created["meta"]["created"] and got["id"] == created["id"],
          f"PUT wiped what the hub owns: {got}")
    # PUT with another resource's id in the body is not a way to retarget
    other = post(hub, okta_user("other@example.com"))
    r = hub.request("PUT", f"/Users/{created['id']}", dict(okta_user("put@example.com"), id=other["id"]), content_type=JSON)
    check(r.status in (200, 400, 409), f"PUT with a foreign id answered {r!r}")
    check(hub.get("Users", other["id"]).get("userName") == "other@example.com", "a PUT retargeted another user")


def test_put_deactivates(hub):
    created = post(hub, okta_user("leaver@example.com"))
    body = okta_user("leaver@example.com", active=False)
    body["id"] = created["id"]
    hub.ok("PUT", f"/Users/{created['id']}", body, expect=(200,), content_type=JSON)
    got = hub.get("Users", created["id"])
    check(got.get("active") is False, f"PUT with active false: active {got.get('active')!r}")
    check(got["name"].get("givenName") == "Isaac", "PUT deactivation lost the profile")
    body["active"] = True
    hub.ok("PUT", f"/Users/{created['id']}", body, expect=(200,), content_type=JSON)
    check(hub.get("Users", created["id"]).get("active") is True, "PUT with active true did not re-activate")


def test_pathless_replace_active_false(hub):
    created = post(hub, okta_user("pathless@example.com"))
    r = hub.patch("Users", created["id"], [{"op": "replace", "value": {"active": False}}], content_type=JSON)
    if r.status == 200 and r.json:
        check(r.json.get("active") is False, f"the PATCH answer shows active {r.json.get('active')!r}")
    got = hub.get("Users", created["id"])
    check(got.get("active") is False, f"path-less replace active false: active {got.get('active')!r}")
    check(got.get("userName") == "pathless@example.com" and got["name"].get("givenName") == "Isaac",
          f"path-less replace wiped other attributes: {got}")


def test_group_push(hub):
    ids = [post(hub, okta_user(f"g{i}@example.com"))["id"] for i in range(4)]
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Okta Eng",
                                        "members": [{"value": ids[0], "display": "g0@example.com"},
                                                    {"value": ids[1], "display": "g1@example.com"}]},
                    content_type=JSON)
    check(r.status == 201, f"group POST answered {r!r}")
    gid = r.json["id"]
    check(member_ids(hub.get("Groups", gid)) == sorted(ids[:2]), "members after POST")
    # one push: a rename (with the same id in the value), a removal and an addition
    hub.patch("Groups", gid, [
        {"op": "replace", "value": {"id": gid, "displayName": "Okta Engineering"}},
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ids[2], "display": "g2@example.com"},
                                                    {"value": ids[3], "display": "g3@example.com"}]},
    ], content_type=JSON)
    g = hub.get("Groups", gid)
    check(g.get("displayName") == "Okta Engineering", f"rename in the push: {g.get('displayName')!r}")
    check(member_ids(g) == sorted(ids[1:]), f"members after remove+add: {member_ids(g)}")
    # the next push resends the (unchanged) name with its membership update
    hub.patch("Groups", gid, [
        {"op": "replace", "value": {"id": gid, "displayName": "Okta Engineering"}},
        {"op": "remove", "path": f'members[value eq "{ids[1]}"]'},
    ], content_type=JSON)
    g = hub.get("Groups", gid)
    check(g.get("displayName") == "Okta Engineering" and member_ids(g) == sorted(ids[2:]), f"second push: {g}")
    # a value naming ANOTHER id is not a rename of this group into that one
    r = hub.request("PATCH", f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                "Operations": [{"op": "replace", "value": {"id": ids[0], "displayName": "X"}}]},
                    content_type=JSON)
    check(r.status in (400, 409) or (r.status in (200, 204) and hub.get("Groups", gid)["id"] == gid),
          f"a replace carrying another id answered {r!r}")
    if r.status >= 400:
        check_error(r, r.status)
        check(hub.get("Groups", gid).get("displayName") == "Okta Engineering", "a refused PATCH renamed the group")


def test_delete_group(hub):
    uid = post(hub, okta_user("stay@example.com"))["id"]
    g = hub.create_group("Temp", members=[uid])
    r = hub.request("DELETE", f"/Groups/{g['id']}", content_type=JSON)
    check(r.status == 204, f"DELETE /Groups answered {r!r}")
    check(not r.raw, f"a 204 with a body: {r.raw[:100]!r}")
    hub.gone("Groups", g["id"])
    lst = hub.filter("Groups", 'displayName eq "Temp"')
    check(lst["totalResults"] == 0, f"the deleted group is still listed: {lst}")
    check(hub.get("Users", uid).get("active") is True, "deleting a group touched its member")
    r = hub.request("DELETE", f"/Groups/{g['id']}", content_type=JSON)
    check_error(r, 404)


def test_if_match_precondition(hub):
    """RFC 7644 §3.14: a write with If-Match of a stale version is 412 and changes nothing; the
    current version succeeds."""
    created = post(hub, okta_user("etag@example.com"))
    v1 = hub.ok("GET", f"/Users/{created['id']}", expect=(200,)).headers.get("etag")
    check(v1, "GET by id sends no ETag")
    hub.patch("Users", created["id"], [{"op": "replace", "path": "displayName", "value": "v2"}])
    v2 = hub.ok("GET", f"/Users/{created['id']}", expect=(200,)).headers.get("etag")
    check(v2 and v2 != v1, f"the ETag did not change with the data: {v1} {v2}")
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "stale"}]}
    r = hub.request("PATCH", f"/Users/{created['id']}", body, headers={"If-Match": v1})
    check_error(r, 412)
    check(hub.get("Users", created["id"]).get("displayName") == "v2", "a 412 PATCH changed the user")
    r = hub.request("DELETE", f"/Users/{created['id']}", headers={"If-Match": v1})
    check_error(r, 412)
    hub.get("Users", created["id"])
    r = hub.request("PATCH", f"/Users/{created['id']}", body, headers={"If-Match": v2})
    check(r.status in (200, 204), f"PATCH with the current ETag answered {r!r}")
    check(hub.get("Users", created["id"]).get("displayName") == "stale", "PATCH with the current ETag did nothing")


def test_errors_have_status_and_schema(hub):
    r = hub.request("GET", "/Users/00u-does-not-exist", content_type=JSON)
    check_error(r, 404)
    post(hub, okta_user("dup@example.com"))
    r = hub.request("POST", "/Users", okta_user("dup@example.com"), content_type=JSON)
    check_error(r, 409, "uniqueness")
    r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "active": True}, content_type=JSON)
    check(r.status == 400, f"POST without userName answered {r!r}")
    check_error(r, 400)
    r = hub.request("GET", "/Users?filter=" + q('userName eq "unterminated'), content_type=JSON)
    check_error(r, 400, "invalidFilter")


if __name__ == "__main__":
    run_suite([test_lookup_create_lookup,
               test_password_never_returned_nor_stored,
               test_put_updates_profile_and_keeps_hub_attributes,
               test_put_deactivates,
               test_pathless_replace_active_false,
               test_group_push,
               test_delete_group,
               test_if_match_precondition,
               test_errors_have_status_and_schema],
              sys.argv, prefix="test-hub-okta")
