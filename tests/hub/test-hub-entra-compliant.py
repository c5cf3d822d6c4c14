#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub against Entra ID's RFC-compliant dialect (the aadOptscim062020 feature flag):
lowercase ops, JSON booleans, member removal by a members[value eq "id"] path, and path-less
replaces whose value holds dotted keys ("name.givenName") and URN-prefixed keys. Every step is
checked by GET afterwards. Run a subset: test-hub-entra-compliant.py CASE... [--keep]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import CORE_USER, ENTERPRISE, check, check_error, member_ids, run_suite  # noqa: E402


def test_boolean_deactivation_and_reactivation(hub):
    u = hub.create_user("alex@fabrikam.example")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
    check(hub.get("Users", u["id"]).get("active") is False, "replace active false did not deactivate")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": True}])
    check(hub.get("Users", u["id"]).get("active") is True, "replace active true did not re-activate")


def test_members_value_eq_remove_path(hub):
    ids = [hub.create_user(f"u{i}@fabrikam.example")["id"] for i in range(4)]
    g = hub.create_group("Sales")
    hub.patch("Groups", g["id"], [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}])
    check(member_ids(hub.get("Groups", g["id"])) == sorted(ids), "add of four members")
    hub.patch("Groups", g["id"], [{"op": "remove", "path": f'members[value eq "{ids[0]}"]'}])
    check(member_ids(hub.get("Groups", g["id"])) == sorted(ids[1:]),
          f"remove members[value eq \"{ids[0]}\"] left {member_ids(hub.get('Groups', g['id']))}")
    # two removals in one request, as Entra batches them
    hub.patch("Groups", g["id"], [{"op": "remove", "path": f'members[value eq "{ids[1]}"]'},
                                  {"op": "remove", "path": f'members[value eq "{ids[2]}"]'}])
    check(member_ids(hub.get("Groups", g["id"])) == [ids[3]], "two remove ops in one PATCH")
    # removing a member who is not there: 2xx or 400 noTarget, never a change
    r = hub.request("PATCH", f"/Groups/{g['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                    "Operations": [{"op": "remove", "path": f'members[value eq "{ids[0]}"]'}]})
    check(r.status in (200, 204, 400), f"removing an absent member answered {r!r}")
    if r.status == 400:
        check_error(r, 400, "noTarget")
    check(member_ids(hub.get("Groups", g["id"])) == [ids[3]], "removing an absent member changed the group")


def test_pathless_replace_with_dotted_and_urn_keys(hub):
    u = hub.request("POST", "/Users", {"schemas": [CORE_USER, ENTERPRISE], "userName": "sam@fabrikam.example",
                                       "active": True, "name": {"givenName": "Sam", "familyName": "Smith"},
                                       ENTERPRISE: {"employeeNumber": "7"}})
    check(u.status == 201, f"POST answered {u!r}")
    uid = u.json["id"]
    hub.patch("Users", uid, [{"op": "replace", "value": {
        "displayName": "Samantha Smith",
        "name.givenName": "Samantha",
        "name.formatted": "Samantha Smith",
        f"{ENTERPRISE}:department": "Research",
        f"{ENTERPRISE}:employeeNumber": "8",
        "active": True,
    }}])
    got = hub.get("Users", uid)
    check("name.givenName" not in got and not any(k.startswith(ENTERPRISE + ":") for k in got),
          f"dotted or URN-prefixed keys were stored literally: {sorted(got)}")
    name = got.get("name") or {}
    check(name.get("givenName") == "Samantha", f"name.givenName: {name}")
    check(name.get("familyName") == "Smith", f"a dotted replace wiped name.familyName: {name}")
    check(name.get("formatted") == "Samantha Smith", f"name.formatted: {name}")
    check(got.get("displayName") == "Samantha Smith", f"displayName {got.get('displayName')!r}")
    ext = got.get(ENTERPRISE) or {}
    check(ext.get("department") == "Research" and ext.get("employeeNumber") == "8", f"enterprise: {ext}")
    check(got.get("active") is True, f"active {got.get('active')!r}")
    check(got.get("userName") == "sam@fabrikam.example", f"a path-less replace changed userName: {got.get('userName')}")
    # the same shape deactivates
    hub.patch("Users", uid, [{"op": "replace", "value": {"active": False, "name.familyName": "Smyth"}}])
    got = hub.get("Users", uid)
    check(got.get("active") is False, f"path-less replace with active false: active {got.get('active')!r}")
    check(got["name"].get("familyName") == "Smyth" and got["name"].get("givenName") == "Samantha", f"name {got['name']}")


def test_lowercase_add_and_remove_of_attributes(hub):
    u = hub.create_user("lee@fabrikam.example")
    hub.patch("Users", u["id"], [{"op": "add", "path": "title", "value": "Manager"},
                                 {"op": "add", "path": "emails", "value": [{"type": "work", "value": "lee@fabrikam.example", "primary": True}]},
                                 {"op": "add", "path": f"{ENTERPRISE}:costCenter", "value": "42"}])
    got = hub.get("Users", u["id"])
    check(got.get("title") == "Manager", f"title {got.get('title')!r}")
    check([e.get("value") for e in got.get("emails") or []] == ["lee@fabrikam.example"], f"emails {got.get('emails')}")
    check(got["emails"][0].get("primary") is True, f"primary is not a boolean: {got['emails'][0]}")
    check((got.get(ENTERPRISE) or {}).get("costCenter") == "42", f"enterprise {got.get(ENTERPRISE)}")
    hub.patch("Users", u["id"], [{"op": "remove", "path": "title"},
                                 {"op": "remove", "path": f"{ENTERPRISE}:costCenter"}])
    got = hub.get("Users", u["id"])
    check("title" not in got, f"remove title left {got.get('title')!r}")
    check("costCenter" not in (got.get(ENTERPRISE) or {}), f"remove costCenter left {got.get(ENTERPRISE)}")


def test_group_displayname_replace_and_members_replace(hub):
    ids = [hub.create_user(f"r{i}@fabrikam.example")["id"] for i in range(3)]
    g = hub.create_group("Ops", members=ids[:2])
    hub.patch("Groups", g["id"], [{"op": "replace", "path": "displayName", "value": "Operations"}])
    got = hub.get("Groups", g["id"])
    check(got.get("displayName") == "Operations", f"displayName {got.get('displayName')!r}")
    check(member_ids(got) == sorted(ids[:2]), f"a rename changed members: {member_ids(got)}")
    hub.patch("Groups", g["id"], [{"op": "replace", "path": "members", "value": [{"value": ids[2]}]}])
    check(member_ids(hub.get("Groups", g["id"])) == [ids[2]], "replace members did not replace the set")


if __name__ == "__main__":
    run_suite([test_boolean_deactivation_and_reactivation,
               test_members_value_eq_remove_path,
               test_pathless_replace_with_dotted_and_urn_keys,
               test_lowercase_add_and_remove_of_attributes,
               test_group_displayname_replace_and_members_replace],
              sys.argv, prefix="test-hub-entra-compliant")
