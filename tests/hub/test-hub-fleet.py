#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fleet report of provision-hub ("is their access gone?"), against the real hub: hosts name
themselves on their feed polls (host=, hostname=, version=; since= is what they applied) and
report enforcement with POST /v1/acks; GET /v1/admin/leavers/{id} says when and by which token
the user was deactivated, on how many live hosts it is applied, on how many sessions were
terminated, and which hosts lag (live, behind) or are silent (their poll is overdue);
GET /v1/admin/hosts lists the hosts. Bad host fields and bad acks are 400 and record nothing;
only admin tokens read reports. A host token is bound to the first host it names (another host
with it is 403, polls and acks alike), a host bound to a loaded token is refused to any other
(shared enrolment tokens too), and a replaced token frees its host. Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import json
import subprocess
import sys

from hubharness import check, hub_bin, run_suite

A, B, C = "a" * 32, "b" * 32, "c" * 32


def poll(hub, host, since, hostname, wait=None, version="1.0"):
    headers = {"Prefer": f"wait={wait}"} if wait is not None else {}
    r = hub.request("GET", f"//v1/feed?since={since}&host={host}&hostname={hostname}&version={version}",
                    token="host", headers=headers)
    check(r.status == 200, f"poll by {hostname}: {r!r}")
    return r.json


def report(hub, uid, token="admin"):
    return hub.request("GET", f"//v1/admin/leavers/{uid}", token=token)


def feed_as(hub, token, host):
    return hub.request("GET", f"//v1/feed?since=0&host={host}&hostname=h", token=token)


def ack_as(hub, token, host):
    return hub.request("POST", "//v1/acks", token=token, body={"host": host, "outcomes": []},
                       content_type="application/json")


def test_host_token_bound_to_its_host(hub):
    web1 = hub.new_token("host", "web1")
    check(feed_as(hub, web1, A).status == 200, "the first poll with a host token")
    for r in (feed_as(hub, web1, B), ack_as(hub, web1, B)):
        check(r.status == 403 and "belongs to another host" in r.json["detail"] and A in r.json["detail"],
              f"another host with a bound token: {r!r}")
    check(ack_as(hub, web1, A).status == 204, "acks of the token's own host")
    check([h["host"] for h in hub.request("GET", "//v1/admin/hosts", token="admin").json["hosts"]] == [A],
          "a refused poll was recorded")
    # The shared enrolment token (the harness's "host"): any host, but not one bound to a loaded token.
    check(feed_as(hub, "host", C).status == 200 and ack_as(hub, "host", C).status == 204, "a shared token")
    r = feed_as(hub, "host", A)
    check(r.status == 403 and "web1" in r.json["detail"], f"a shared token on a bound host: {r!r}")
    check(ack_as(hub, "host", A).status == 403, "a shared token's acks for a bound host")
    # C enrolled with the shared token gets its own.
    web3 = hub.new_token("host", "web3")
    check(feed_as(hub, web3, C).status == 200, "a host's own token after enrolment")
    check(feed_as(hub, "host", C).status == 403, "the shared token on a host that has its own")
    # A replaced token: once its line is gone, the host is bound to the new one.
    hub.drop_token("host", "web1")
    web1b = hub.new_token("host", "web1b")
    check(feed_as(hub, web1b, A).status == 200, "the replacement token of a host")
    check(feed_as(hub, "host", A).status == 403, "the shared token on the host of the replacement")
    rows = hub.sql("SELECT token_name, host_id FROM token_hosts ORDER BY token_name")
    check(rows == [("web1b", A), ("web3", C)], f"the bindings: {rows}")
    # An admin token is not bound.
    check(feed_as(hub, "admin", B).status == 200, "an admin token's poll")


def test_leaver_report(hub):
    u = hub.create_user("leaver@example.com")
    stay = hub.create_user("stays@example.com")
    before = poll(hub, A, 0, "alpha")["seq"]
    poll(hub, B, 0, "bravo")
    poll(hub, C, 0, "charlie")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
    seq = poll(hub, A, before, "alpha")["seq"]     # alpha fetched the deactivation...
    poll(hub, A, seq, "alpha", wait=0)             # ...and polls again: it has applied it
    poll(hub, B, before, "bravo", wait=0)          # bravo is live but has not applied it
    # charlie's poll is long overdue: silent
    hub.sql("UPDATE hosts SET due_usec = due_usec - 3600000000 WHERE host_id = ?", (C,))
    r = hub.request("POST", "//v1/acks", token="host", body={"host": A, "outcomes": [
        {"id": u["id"], "seq": seq, "sessions": 2, "result": "terminated",
         "steps": {"logind": "ok", "kill": "ok", "hooks": "failed"}}]}, content_type="application/json")
    check(r.status == 204, f"acks: {r!r}")

    rep = report(hub, u["id"])
    check(rep.status == 200, f"report: {rep!r}")
    j = rep.json
    check(j["state"] == "deactivated" and j["by"] == "entra-test" and j["seq"] == seq and "at" in j,
          f"when and by whom: {j}")
    check(j["hosts"] == {"known": 3, "live": 2, "applied": 1, "sessionsTerminated": 1}, f"counts: {j['hosts']}")
    check([h["hostname"] for h in j["lagging"]] == ["bravo"], f"lagging: {j['lagging']}")
    check([h["hostname"] for h in j["silent"]] == ["charlie"], f"silent: {j['silent']}")
    check([(h["hostname"], h["sessions"], h["result"]) for h in j["outcomes"]] == [("alpha", 2, "terminated")],
          f"outcomes: {j['outcomes']}")
    check(j["outcomes"][0]["steps"] == {"logind": "ok", "kill": "ok", "hooks": "failed"},
          f"the steps alpha reported: {j['outcomes'][0]}")
    check(report(hub, stay["id"]).json["state"] == "active", "an active user is reported as a leaver")
    # The command line reads the same report from the store beside the running hub.
    p = subprocess.run([hub_bin, "--config", hub.conf, "leaver", u["id"]], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"provision-hub leaver: {p.returncode} {p.stderr}")
    check(f"deactivated at {j['at']} by 'entra-test' (seq {seq})" in p.stdout and
          "applied on 1 of 2 live hosts (3 known); sessions terminated on 1" in p.stdout and
          "alpha: terminated, 2 sessions (logind ok, kill ok, hooks failed)" in p.stdout and
          p.stdout.index("bravo") > p.stdout.index("lagging:") and p.stdout.index("charlie") > p.stdout.index("silent:"),
          f"provision-hub leaver printed:\n{p.stdout}")
    p = subprocess.run([hub_bin, "--config", hub.conf, "--json", "leaver", u["id"]], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0 and json.loads(p.stdout) == j, f"provision-hub --json leaver: {p.stdout} {p.stderr}")
    p = subprocess.run([hub_bin, "--config", hub.conf, "leaver", "never-known"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 2 and "never knew" in p.stderr, f"provision-hub leaver never-known: {p.returncode} {p.stderr}")
    hosts = hub.request("GET", "//v1/admin/hosts", token="admin").json
    by_name = {h["hostname"]: h for h in hosts["hosts"]}
    check(set(by_name) == {"alpha", "bravo", "charlie"} and by_name["alpha"]["behind"] == 0 and
          by_name["bravo"]["behind"] == seq - before and not by_name["charlie"]["live"] and
          by_name["alpha"]["version"] == "1.0", f"hosts: {hosts}")


def test_lock_and_delete_reported(hub):
    u = hub.create_user("locked@example.com")
    v = hub.create_user("deleted@example.com")
    hub.request("POST", f"//v1/admin/users/{u['id']}/lock", token="admin")
    hub.ok("DELETE", f"/Users/{v['id']}")
    j = report(hub, u["id"]).json
    check(j["state"] == "locked" and j["by"] == "admin-test", f"a locked user: {j}")
    j = report(hub, v["id"]).json
    check(j["state"] == "deleted" and j["by"] == "entra-test" and "userName" not in j, f"a deleted user: {j}")
    check(report(hub, "never-known").status == 404, "a user the hub never knew")


def test_refusals(hub):
    u = hub.create_user("r@example.com")
    for token, status in (("scim", 403), ("host", 403), (None, 401)):
        check(report(hub, u["id"], token=token).status == status, f"report with {token} token")
    for q in ("host=XYZ", f"host={A}&hostname=bad%20name", f"host={A}&version=%3Cx%3E"):
        r = hub.request("GET", f"//v1/feed?since=0&{q}", token="host")
        check(r.status == 400, f"feed ?{q}: {r!r}")
    r = hub.request("GET", f"//v1/feed?since=999&host={A}&hostname=ahead", token="host")
    check(r.status == 410, f"a poll ahead of the head: {r!r}")
    check(hub.request("GET", "//v1/admin/hosts", token="admin").json["hosts"] == [], "a refused poll was recorded")
    for body in ({"host": "x", "outcomes": []}, {"host": A, "outcomes": [{"id": u["id"]}]},
                 {"host": A, "outcomes": [{"id": u["id"], "seq": 1, "sessions": 1, "result": "maybe"}]},
                 {"host": A, "outcomes": [{"id": u["id"], "seq": 1, "sessions": 1, "result": "none",
                                           "steps": {"logind": "done"}}]},
                 {"host": A, "outcomes": [{"id": u["id"], "seq": 1, "sessions": 1, "result": "none",
                                           "steps": {"reboot": "ok"}}]},
                 {"host": A, "outcomes": [{"id": u["id"], "seq": 1, "sessions": 1, "result": "none",
                                           "steps": ["ok"]}]}):
        r = hub.request("POST", "//v1/acks", token="host", body=body, content_type="application/json")
        check(r.status == 400, f"acks {body}: {r!r}")
    check(hub.request("POST", "//v1/acks", token="scim", body={"host": A, "outcomes": []}).status == 403,
          "acks with an IdP token")
    n = hub.sql("SELECT count(*) FROM outcomes")[0][0]
    check(n == 0, f"refused acks recorded {n} outcomes")


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in the metrics")


def test_metrics(hub):
    u = hub.create_user("m1@example.com")
    hub.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})  # 400
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}], token="scim2")
    poll(hub, A, 2, "alpha")  # it has applied both changes
    r = hub.request("GET", "//metrics", token="admin")
    check(r.status == 200 and r.headers["content-type"].startswith("text/plain"), f"metrics: {r!r}")
    text = r.raw.decode()
    check(metric(text, 'provision_hub_pushes_total{token="entra-test",outcome="ok"}') == 1 and
          metric(text, 'provision_hub_pushes_total{token="entra-test",outcome="refused"}') == 1 and
          metric(text, 'provision_hub_pushes_total{token="okta-test",outcome="ok"}') == 1, text)
    check(metric(text, "provision_hub_head_seq") == 2, text)
    check(metric(text, 'provision_hub_hosts{lag="0"}') == 1 and metric(text, 'provision_hub_hosts{lag="silent"}') == 0,
          text)
    check(hub.request("GET", "//metrics", token="host").status == 403, "metrics with a host token")


if __name__ == "__main__":
    run_suite([test_leaver_report, test_lock_and_delete_reported, test_refusals, test_metrics,
               test_host_token_bound_to_its_host], sys.argv,
              prefix="test-hub-fleet")
