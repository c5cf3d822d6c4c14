#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Today's hosts follow the hub: provision-syncd's SCIM pull source (type = scim, a HOST token,
a private state directory and passwd/group files; nothing of the real host is touched) runs
--once against a real hub that an IdP pushes to. Joiner (the account and its group), mover (the
group follows), leaver (active false → suspended, refused at login), deletion (→ deprovisioned),
read back through the real NSS module (getent -s provision) and the host's store.
Run a subset: test-hub-pull.py CASE... [--keep]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import (CORE_GROUP, CORE_USER, ENTERPRISE, Host, check, guid,  # noqa: E402
                        host_skip_reason, member_ids, run_suite)

ACTIVE, SUSPENDED, DEPROVISIONED = 0, 1, 2
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


def active(host, name):
    p = host.passwd(name)
    return p is not None and p[1] not in NOLOGIN


def suspended(host, name):
    p = host.passwd(name)
    return p is not None and p[1] in NOLOGIN


def once(host, *extra):
    rc, out = host.once(*extra)
    check(rc == 0, f"provision-syncd --once exited {rc}: {out[-1500:]}")
    return out


def entra_joiner(hub, login, **extra):
    body = {"schemas": [CORE_USER, ENTERPRISE], "externalId": login.split("@")[0], "userName": login,
            "active": True, "displayName": login.split("@")[0].title(),
            "emails": [{"primary": True, "type": "work", "value": login}],
            "name": {"givenName": "G", "familyName": "F"}, "meta": {"resourceType": "User"}}
    body.update(extra)
    r = hub.request("POST", "/Users", body)
    check(r.status == 201, f"joiner POST answered {r!r}")
    return r.json["id"]


def entra_group(hub, name, member_ids_=()):
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "externalId": guid(), "displayName": name, "members": []})
    check(r.status == 201, f"group POST answered {r!r}")
    gid = r.json["id"]
    for m in member_ids_:
        hub.patch("Groups", gid, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": m}]}])
    return gid


def test_joiner_mover_leaver_deletion(hub):
    host = Host(hub.tmp, hub.url, hub.host_token)
    host.write_accounts({"strip_domain": "yes"})
    alice = entra_joiner(hub, "alice@contoso.example")
    bob = entra_joiner(hub, "bob@contoso.example")
    carol = entra_joiner(hub, "carol@contoso.example")
    eng = entra_group(hub, "eng", [alice, bob])
    ops = entra_group(hub, "ops", [carol])
    check(member_ids(hub.get("Groups", eng)) == sorted([alice, bob]), "eng on the hub")

    # joiner
    once(host)
    for n in ("alice", "bob", "carol"):
        check(active(host, n), f"joiner {n} is not served as active: {host.getent('passwd', n)}")
    check(host.members("eng") == ["alice", "bob"], f"eng on the host: {host.members('eng')}")
    check(host.members("ops") == ["carol"], f"ops on the host: {host.members('ops')}")
    check(host.user_state(alice) == ACTIVE, f"alice's stored state {host.user_state(alice)}")
    uid = host.passwd("alice")[0]

    # mover: alice from eng to ops (Entra: remove by value array, add with $ref null)
    hub.patch("Groups", eng, [{"op": "Remove", "path": "members", "value": [{"value": alice}]}])
    hub.patch("Groups", ops, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": alice}]}])
    once(host)
    check(host.members("eng") == ["bob"], f"eng after the move: {host.members('eng')}")
    check(host.members("ops") == ["alice", "carol"], f"ops after the move: {host.members('ops')}")
    check(host.passwd("alice")[0] == uid, "the move changed alice's uid")

    # leaver: Entra's default dialect deactivates with the string "False"
    hub.patch("Users", bob, [{"op": "Replace", "path": "active", "value": "False"}])
    check(hub.get("Users", bob).get("active") is False, "the hub did not deactivate bob")
    once(host)
    check(suspended(host, "bob"), f"the leaver is not suspended on the host: {host.getent('passwd', 'bob')}")
    check(host.user_state(bob) == SUSPENDED, f"bob's stored state {host.user_state(bob)}, want suspended")
    check("bob" not in (host.members("eng") or []), f"a suspended user keeps his group: {host.members('eng')}")
    check(active(host, "alice") and active(host, "carol"), "a leaver's deactivation touched the others")

    # deletion (after deactivation, as Entra does when the user leaves scope)
    r = hub.request("DELETE", f"/Users/{bob}")
    check(r.status == 204, f"DELETE answered {r!r}")
    once(host)
    check(host.user_state(bob) == DEPROVISIONED, f"bob's stored state {host.user_state(bob)} after deletion, want deprovisioned")
    check(not active(host, "bob"), "a deleted user is served as active")
    # deletion of an active user too
    r = hub.request("DELETE", f"/Users/{carol}")
    check(r.status == 204, f"DELETE answered {r!r}")
    once(host)
    check(host.user_state(carol) == DEPROVISIONED, f"carol's stored state {host.user_state(carol)}, want deprovisioned")
    check(host.members("ops") == ["alice"], f"ops after carol's deletion: {host.members('ops')}")
    check(active(host, "alice"), "alice lost her account")


def test_okta_shapes_reach_the_host(hub):
    host = Host(hub.tmp, hub.url, hub.host_token)
    host.write_accounts({"strip_domain": "yes"})
    r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "dave@example.com",
                                       "name": {"givenName": "Dave", "familyName": "D"}, "password": "Secret-123-abc",
                                       "groups": [], "active": True}, content_type="application/json")
    check(r.status == 201, f"Okta POST answered {r!r}")
    dave = r.json["id"]
    r = hub.request("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "okta-eng", "members": []},
                    content_type="application/json")
    gid = r.json["id"]
    hub.patch("Groups", gid, [{"op": "replace", "value": {"id": gid, "displayName": "okta-eng"}},
                              {"op": "add", "path": "members", "value": [{"value": dave, "display": "dave@example.com"}]}],
              content_type="application/json")
    once(host)
    check(active(host, "dave"), f"dave is not served: {host.getent('passwd', 'dave')}")
    check(host.members("okta-eng") == ["dave"], f"okta-eng: {host.members('okta-eng')}")
    # rename with the membership update, then a path-less deactivation
    hub.patch("Groups", gid, [{"op": "replace", "value": {"id": gid, "displayName": "okta-platform"}}],
              content_type="application/json")
    hub.patch("Users", dave, [{"op": "replace", "value": {"active": False}}], content_type="application/json")
    once(host)
    check(host.members("okta-platform") is not None, f"the renamed group is not served: {host.getent('group', 'okta-platform')}")
    check(host.getent("group", "okta-eng") is None, "the old group name is still served")
    check(suspended(host, "dave"), f"Okta's path-less deactivation did not suspend dave: {host.getent('passwd', 'dave')}")
    check(host.user_state(dave) == SUSPENDED, f"dave's stored state {host.user_state(dave)}")
    # re-activation by PUT
    hub.ok("PUT", f"/Users/{dave}", {"schemas": [CORE_USER], "id": dave, "userName": "dave@example.com",
                                     "name": {"givenName": "Dave", "familyName": "D"}, "active": True},
           expect=(200,), content_type="application/json")
    once(host)
    check(active(host, "dave"), f"re-activation did not reach the host: {host.getent('passwd', 'dave')}")
    check(host.members("okta-platform") == ["dave"], f"okta-platform after re-activation: {host.members('okta-platform')}")


def test_deltas_follow_the_hub(hub):
    """--once --delta asks the hub for what changed since the last sync (a meta.lastModified
    filter): a joiner, a mover and a leaver must arrive that way, not only by full scans."""
    host = Host(hub.tmp, hub.url, hub.host_token)
    host.write_accounts({"strip_domain": "yes"})
    frank = entra_joiner(hub, "frank@contoso.example")
    grp = entra_group(hub, "delta-team", [frank])
    once(host)
    check(active(host, "frank") and host.members("delta-team") == ["frank"], "the first full sync")
    gina = entra_joiner(hub, "gina@contoso.example")
    hub.patch("Groups", grp, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": gina}]}])
    once(host, "--delta")
    check(active(host, "gina"), f"a joiner did not arrive by a delta: {host.getent('passwd', 'gina')}")
    check(host.members("delta-team") == ["frank", "gina"], f"delta-team after a delta: {host.members('delta-team')}")
    hub.patch("Users", frank, [{"op": "Replace", "path": "active", "value": "False"}])
    once(host, "--delta")
    check(suspended(host, "frank"), f"a leaver did not arrive by a delta: {host.getent('passwd', 'frank')}")
    check(host.user_state(frank) == SUSPENDED, f"frank's stored state {host.user_state(frank)}")
    hub.patch("Groups", grp, [{"op": "Remove", "path": "members", "value": [{"value": gina}]}])
    once(host, "--delta")
    check("gina" not in (host.members("delta-team") or []), f"a mover did not arrive by a delta: {host.members('delta-team')}")
    check(active(host, "gina"), "gina lost her account in a group change")


def test_many_users_across_pages(hub):
    host = Host(hub.tmp, hub.url, hub.host_token)
    n = 230
    ids = [hub.create_user(f"user{i:03d}")["id"] for i in range(n)]
    g = hub.create_group("everyone", members=ids)
    once(host)
    missing = [i for i in range(n) if not active(host, f"user{i:03d}")]
    check(not missing, f"{len(missing)} of {n} users are not served after a full pull: {missing[:5]}")
    check(len(host.members("everyone") or []) == n, f"everyone has {len(host.members('everyone') or [])} members, want {n}")
    check(host.sql("SELECT count(*) FROM users WHERE state = 0")[0][0] == n, "the store does not hold n active users")
    # the host's token is a host token: it could not have written anything
    check(hub.get("Groups", g["id"]) and len(member_ids(hub.get("Groups", g["id"]))) == n, "the group changed on the hub")


def test_unknown_token_pulls_nothing(hub):
    """With a token the hub does not know the pull fails (non-zero) and serves nothing."""
    entra_joiner(hub, "eve@contoso.example")
    host = Host(hub.tmp, hub.url, "prov_" + "B" * 43, name="badhost")
    host.write_accounts({"strip_domain": "yes"})
    rc, out = host.once()
    check(rc != 0, f"--once with an unknown token exited 0: {out[-500:]}")
    check(host.passwd("eve") is None, "a pull with a bad token served a user")


if __name__ == "__main__":
    run_suite([test_joiner_mover_leaver_deletion,
               test_okta_shapes_reach_the_host,
               test_deltas_follow_the_hub,
               test_many_users_across_pages,
               test_unknown_token_pulls_nothing],
              sys.argv, prefix="test-hub-pull", skip_reason=host_skip_reason)
