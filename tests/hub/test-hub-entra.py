#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub against what Microsoft Entra ID's provisioning service sends in its default
dialect: capitalised ops, "False" as a string, member removal by a value array, "$ref": null,
emails[type eq "work"].value paths, lookups before create, a random-GUID filter as the test
connection, groups created empty then filled, excludedAttributes=members, an unquoted filter
value, null attributes and stray schema URNs. Every step is checked by GET afterwards.
Run a subset: test-hub-entra.py CASE... [--keep]. Exit 0, 1, or 77 (hub not built)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import (CORE_GROUP, CORE_USER, ENTERPRISE, check, check_error, email_values,  # noqa: E402
                        guid, member_ids, run_suite)


def entra_user(name, **extra):
    """A POST body as Entra builds it from the default attribute mappings."""
    u = {"schemas": [CORE_USER, ENTERPRISE],
         "externalId": name.split("@")[0],
         "userName": name,
         "active": True,
         "displayName": "Jane Young",
         "emails": [{"primary": True, "type": "work", "value": name}],
         "meta": {"resourceType": "User"},
         "name": {"formatted": "Jane Young", "familyName": "Young", "givenName": "Jane"},
         "roles": []}
    u.update(extra)
    return u


def test_connection_random_guid_filter_is_an_empty_list(hub):
    for attr in ("userName", "id", "externalId"):
        lst = hub.filter("Users", f'{attr} eq "{guid()}"')
        check(lst["totalResults"] == 0, f"random {attr} filter: totalResults {lst['totalResults']}")
        check(lst["Resources"] == [], f"random {attr} filter returned resources: {lst['Resources']}")
    lst = hub.filter("Groups", f'displayName eq "{guid()}"', "excludedAttributes=members")
    check(lst["totalResults"] == 0 and lst["Resources"] == [], f"random group filter: {lst}")


def test_lookup_then_create_then_lookup_finds_it(hub):
    name = "jyoung@contoso.example"
    lst = hub.filter("Users", f'userName eq "{name}"')
    check(lst["totalResults"] == 0, "a user that does not exist yet was found")
    r = hub.request("POST", "/Users", entra_user(name))
    check(r.status == 201, f"Entra's POST answered {r!r}")
    created = r.json
    check(created.get("id") and created.get("userName") == name, f"POST answer: {created}")
    meta = created.get("meta") or {}
    for k in ("created", "lastModified", "version"):
        check(meta.get(k), f"POST answer lacks meta.{k}: {meta}")
    check(created.get("active") is True, f"active is {created.get('active')!r}")
    lst = hub.filter("Users", f'userName eq "{name}"')
    check(lst["totalResults"] == 1 and lst["Resources"][0]["id"] == created["id"], f"lookup after create: {lst}")
    # userName is compared case-insensitively, as Entra matches it
    lst = hub.filter("Users", 'userName eq "JYOUNG@Contoso.Example"')
    check(lst["totalResults"] == 1, f"userName filter is case-sensitive: {lst}")
    got = hub.get("Users", created["id"])
    check(got["name"].get("givenName") == "Jane" and got["name"].get("familyName") == "Young", f"name: {got.get('name')}")
    check(email_values(got, "work") == [name], f"emails: {got.get('emails')}")
    check(got.get("externalId") == "jyoung", f"externalId: {got.get('externalId')!r}")


def test_post_answers_location_and_etag(hub):
    """RFC 7644 §3.3: the 201 names the new resource in Location and meta.location; §3.14: the
    version is the ETag."""
    r = hub.request("POST", "/Users", entra_user("loc@contoso.example"))
    check(r.status == 201, f"POST answered {r!r}")
    rid = r.json["id"]
    check(r.headers.get("location", "").endswith("/scim/v2/Users/" + rid), f"Location header {r.headers.get('location')!r}")
    check((r.json.get("meta") or {}).get("location", "").endswith("/Users/" + rid), f"meta.location {r.json.get('meta')}")
    check(r.json["meta"].get("resourceType") == "User", f"meta.resourceType {r.json['meta']}")
    g = hub.ok("GET", f"/Users/{rid}", expect=(200,))
    check(g.headers.get("etag") == g.json["meta"]["version"], f"ETag {g.headers.get('etag')!r} vs meta.version {g.json['meta'].get('version')!r}")


def test_unquoted_filter_value(hub):
    u = hub.create_user("jyoung@contoso.example", externalId="jyoung")
    hub.create_user("kyoung@contoso.example", externalId="kyoung")
    lst = hub.filter("Users", "externalId eq jyoung")
    check(lst["totalResults"] == 1 and [x["id"] for x in lst["Resources"]] == [u["id"]],
          f"externalId eq jyoung (unquoted) found {lst}")


def test_null_attributes_and_stray_schema_urns_in_post(hub):
    body = entra_user("nulls@contoso.example")
    body["schemas"] = [CORE_USER, ENTERPRISE, "urn:ietf:params:scim:schemas:extension:enterpise:2.0:User",
                       "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"]
    body.update({"title": None, "nickName": None, "preferredLanguage": None,
                 "phoneNumbers": None, "addresses": None})
    body["name"]["middleName"] = None
    body[ENTERPRISE] = {"employeeNumber": "701984", "department": None}
    r = hub.request("POST", "/Users", body)
    check(r.status == 201, f"POST with nulls and stray schema URNs answered {r!r}")
    got = hub.get("Users", r.json["id"])
    for k in ("title", "nickName", "preferredLanguage", "phoneNumbers", "addresses"):
        check(got.get(k) is None, f"{k} is {got.get(k)!r} after a null in the POST")
    check("middleName" not in (got.get("name") or {}) or got["name"]["middleName"] is None, "name.middleName kept")
    check(CORE_USER in got.get("schemas", []), f"schemas: {got.get('schemas')}")
    check("urn:ietf:params:scim:schemas:extension:enterpise:2.0:User" not in got.get("schemas", []),
          f"a misspelled schema URN is served back: {got.get('schemas')}")
    check((got.get(ENTERPRISE) or {}).get("employeeNumber") == "701984", f"enterprise: {got.get(ENTERPRISE)}")
    check(got.get("active") is True, f"active: {got.get('active')!r}")


def test_deactivate_with_string_false(hub):
    u = hub.create_user("leaver@contoso.example")
    hub.patch("Users", u["id"], [{"op": "Replace", "path": "active", "value": "False"}])
    got = hub.get("Users", u["id"])
    check(got.get("active") is False, f"after Replace active \"False\": active is {got.get('active')!r}")
    # still listed, with active false (Entra re-reads it)
    lst = hub.filter("Users", 'userName eq "leaver@contoso.example"')
    check(lst["totalResults"] == 1 and lst["Resources"][0].get("active") is False, f"list after deactivation: {lst}")
    hub.patch("Users", u["id"], [{"op": "Replace", "path": "active", "value": "True"}])
    check(hub.get("Users", u["id"]).get("active") is True, "Replace active \"True\" did not re-activate")


def test_patch_user_attributes_capitalised_ops(hub):
    u = hub.request("POST", "/Users", entra_user("ops@contoso.example")).json
    check(u and u.get("id"), "POST failed")
    hub.patch("Users", u["id"], [
        {"op": "Replace", "path": "displayName", "value": "Jane Q. Young"},
        {"op": "Replace", "path": "name.givenName", "value": "Janet"},
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "42"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Platform"},
        {"op": "Remove", "path": "nickName"},
    ])
    got = hub.get("Users", u["id"])
    check(got.get("displayName") == "Jane Q. Young", f"displayName {got.get('displayName')!r}")
    check(got["name"].get("givenName") == "Janet" and got["name"].get("familyName") == "Young", f"name {got.get('name')}")
    check(got.get("title") == "Engineer", f"title {got.get('title')!r}")
    ext = got.get(ENTERPRISE) or {}
    check(ext.get("employeeNumber") == "42" and ext.get("department") == "Platform", f"enterprise {ext}")
    check(ENTERPRISE in got.get("schemas", []), f"enterprise URN missing from schemas {got.get('schemas')}")


def test_email_work_value_path_creates_then_updates(hub):
    u = hub.create_user("mail@contoso.example")
    check(not u.get("emails"), "the user was created with emails")
    hub.patch("Users", u["id"], [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "a@contoso.example"}])
    got = hub.get("Users", u["id"])
    check(email_values(got, "work") == ["a@contoso.example"],
          f"Add emails[type eq \"work\"].value with no work email did not create it: {got.get('emails')}")
    hub.patch("Users", u["id"], [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "b@contoso.example"}])
    got = hub.get("Users", u["id"])
    check(email_values(got, "work") == ["b@contoso.example"], f"Replace on the work email: {got.get('emails')}")
    check(len(got.get("emails")) == 1, f"a second element was added instead of updating: {got.get('emails')}")
    # a home email is left alone by a work-email replace
    hub.patch("Users", u["id"], [{"op": "Add", "path": "emails", "value": [{"type": "home", "value": "h@example.org"}]}])
    hub.patch("Users", u["id"], [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "c@contoso.example"}])
    got = hub.get("Users", u["id"])
    check(sorted(email_values(got)) == ["c@contoso.example", "h@example.org"], f"emails: {got.get('emails')}")
    lst = hub.filter("Users", 'emails[type eq "work"].value eq "c@contoso.example"')
    check([x["id"] for x in lst["Resources"]] == [u["id"]], f"emails[type eq work].value filter: {lst}")


def test_group_created_empty_then_filled_and_emptied(hub):
    users = [hub.create_user(f"m{i}@contoso.example") for i in range(3)]
    ids = [u["id"] for u in users]
    lst = hub.filter("Groups", 'displayName eq "Engineering"', "excludedAttributes=members")
    check(lst["totalResults"] == 0, "the group exists before its creation")
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "externalId": guid(),
                                        "displayName": "Engineering", "members": []})
    check(r.status == 201, f"POST empty group answered {r!r}")
    gid = r.json["id"]
    check(member_ids(hub.get("Groups", gid)) == [], "the new group has members")
    # Entra adds members one PATCH at a time (up to its batch size), with "$ref": null
    for uid in ids:
        r = hub.patch("Groups", gid, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}])
        check(r.status in (200, 204), f"member add answered {r!r}")
    g = hub.get("Groups", gid)
    check(member_ids(g) == sorted(ids), f"members after three Adds: {member_ids(g)}")
    check(all("$ref" not in m or m["$ref"] not in (None, "") for m in g["members"]), f"a null $ref is served: {g['members']}")
    # the same Add again is idempotent (Entra retries)
    hub.patch("Groups", gid, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": ids[0]}]}])
    check(member_ids(hub.get("Groups", gid)) == sorted(ids), "a repeated Add duplicated a member")
    # removal by value array
    r = hub.patch("Groups", gid, [{"op": "Remove", "path": "members", "value": [{"value": ids[1]}]}])
    g = hub.get("Groups", gid)
    check(member_ids(g) == sorted([ids[0], ids[2]]), f"Remove members value [{ids[1]}] left {member_ids(g)}")
    # the lookup Entra does before each group update
    lst = hub.filter("Groups", 'displayName eq "Engineering"', "excludedAttributes=members")
    check(lst["totalResults"] == 1 and lst["Resources"][0]["id"] == gid, f"displayName lookup: {lst}")
    check("members" not in lst["Resources"][0], f"excludedAttributes=members still serves members: {lst['Resources'][0]}")
    g2 = hub.ok("GET", f"/Groups/{gid}?excludedAttributes=members", expect=(200,)).json
    check("members" not in g2 and g2.get("displayName") == "Engineering", f"GET by id excludedAttributes=members: {g2}")
    # removing two at once
    hub.patch("Groups", gid, [{"op": "Remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[2]}]}])
    check(member_ids(hub.get("Groups", gid)) == [], "two-value Remove left members")


def test_group_post_with_unknown_member_leaves_it_out(hub):
    u = hub.create_user("real@contoso.example")
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Mixed",
                                        "members": [{"value": u["id"]}, {"value": guid()}]})
    check(r.status in (201, 400), f"POST of a group with an unknown member answered {r!r}")
    if r.status == 201:
        check(member_ids(hub.get("Groups", r.json["id"])) == [u["id"]],
              f"an unknown user id is served as a member: {member_ids(hub.get('Groups', r.json['id']))}")


def test_enterprise_extension_attributes(hub):
    mgr = hub.create_user("boss@contoso.example")
    body = entra_user("emp@contoso.example")
    body[ENTERPRISE] = {"employeeNumber": "1001", "department": "Finance", "costCenter": "CC-7",
                        "organization": "Contoso", "division": "EMEA", "manager": {"value": mgr["id"]}}
    r = hub.request("POST", "/Users", body)
    check(r.status == 201, f"POST with the enterprise extension answered {r!r}")
    got = hub.get("Users", r.json["id"])
    ext = got.get(ENTERPRISE) or {}
    for k in ("employeeNumber", "department", "costCenter", "organization", "division"):
        check(ext.get(k) == body[ENTERPRISE][k], f"enterprise {k}: {ext.get(k)!r}")
    check((ext.get("manager") or {}).get("value") == mgr["id"], f"manager: {ext.get('manager')}")
    # Entra's default dialect sets the manager as a bare id string on a URN path
    hub.patch("Users", got["id"], [{"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Audit"}])
    ext = hub.get("Users", got["id"]).get(ENTERPRISE) or {}
    check(ext.get("department") == "Audit" and ext.get("employeeNumber") == "1001", f"after Replace department: {ext}")


def test_invalid_patch_changes_nothing(hub):
    u = hub.create_user("stay@contoso.example", displayName="Stay")
    before = hub.get("Users", u["id"])
    r = hub.request("PATCH", f"/Users/{u['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                   "Operations": [{"op": "Replace", "path": "displayName", "value": "Changed"},
                                                                  {"op": "Frobnicate", "path": "title", "value": "x"}]})
    check(400 <= r.status < 500, f"a PATCH with an unknown op answered {r!r}")
    check_error(r, r.status)
    after = hub.get("Users", u["id"])
    check(after == before, f"a refused PATCH changed the user: {before} -> {after}")


if __name__ == "__main__":
    run_suite([test_connection_random_guid_filter_is_an_empty_list,
               test_lookup_then_create_then_lookup_finds_it,
               test_post_answers_location_and_etag,
               test_unquoted_filter_value,
               test_null_attributes_and_stray_schema_urns_in_post,
               test_deactivate_with_string_false,
               test_patch_user_attributes_capitalised_ops,
               test_email_work_value_path_creates_then_updates,
               test_group_created_empty_then_filled_and_emptied,
               test_group_post_with_unknown_member_leaves_it_out,
               test_enterprise_extension_attributes,
               test_invalid_patch_changes_nothing],
              sys.argv, prefix="test-hub-entra")
