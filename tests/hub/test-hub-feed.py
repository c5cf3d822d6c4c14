#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The change feed of provision-hub (GET /v1/feed, GET /v1/snapshot), against the real hub:

- behind: an answer reaches the head at once, each changed resource once at its last seq, in
  ascending order, its resource as GET shows it; a deleted one is a delete without resource;
- held: a request at the head with Prefer: wait=N is answered when a change commits (long
  before N), with that change; with nothing changing it is answered empty at the end of N;
- many hosts: 100 held requests (more than max_requests) are all answered by one change;
- window: since= ahead of the head, or further behind than [feed] max_events: 410 Gone;
- snapshot: {"seq", "Users", "Groups"} equal to what GET shows, and the feed from its seq holds;
- roles: the feed is for host (and admin) tokens: 401 without one, 403 for an IdP's;
- a hub stopping answers its held requests.
Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import os
import sys
import threading
import time

from hubharness import CORE_USER, PATCH_OP, Hub, check, run_suite


def feed(hub, since, wait=None, token="host", timeout=60):
    headers = {"Prefer": f"wait={wait}"} if wait is not None else {}
    return hub.request("GET", f"//v1/feed?since={since}", token=token, headers=headers, timeout=timeout)


def head(hub):
    r = feed(hub, 0)
    check(r.status == 200, f"feed since=0: {r!r}")
    return r.json["seq"]


def deactivate(hub, uid):
    hub.patch("Users", uid, [{"op": "replace", "path": "active", "value": False}])


def test_feed_reaches_head_once_per_resource(hub):
    a = hub.create_user("feed-a@example.com")
    b = hub.create_user("feed-b@example.com")
    g = hub.create_group("feed-team", members=[a["id"]])
    deactivate(hub, a["id"])
    hub.patch("Groups", g["id"], [{"op": "add", "path": "members", "value": [{"value": b["id"]}]}])
    hub.ok("DELETE", f"/Users/{b['id']}")
    r = feed(hub, 0)
    check(r.status == 200 and r.headers.get("content-type", "").startswith("application/json"), f"feed: {r!r}")
    ans = r.json
    seqs = [e["seq"] for e in ans["events"]]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"events not in ascending seq: {seqs}")
    check(ans["seq"] == seqs[-1], f"answer seq {ans['seq']} is not its last event's {seqs[-1]}")
    ids = [(e["resourceType"], e["id"]) for e in ans["events"]]
    check(sorted(ids) == sorted({("User", a["id"]), ("User", b["id"]), ("Group", g["id"])}),
          f"each changed resource once: {ids}")
    ev = {e["id"]: e for e in ans["events"]}
    check(ev[a["id"]]["op"] == "upsert" and ev[a["id"]]["resource"] == hub.get("Users", a["id"]),
          f"the user's event is not its current state: {ev[a['id']]}")
    check(ev[a["id"]]["resource"]["active"] is False, "the deactivation is not in the feed")
    check(ev[b["id"]]["op"] == "delete" and "resource" not in ev[b["id"]], f"a deleted user: {ev[b['id']]}")
    check(ev[g["id"]]["resource"] == hub.get("Groups", g["id"]), "the group's event is not its current state")
    # From a seq in the middle: only what changed after it.
    mid = feed(hub, seqs[0]).json
    check(all(e["seq"] > seqs[0] for e in mid["events"]) and mid["seq"] == ans["seq"], f"since={seqs[0]}: {mid}")


def test_held_request_answered_by_a_change(hub):
    u = hub.create_user("held@example.com")
    h = head(hub)
    out = {}

    def wait():
        t0 = time.monotonic()
        out["r"] = feed(hub, h, wait=30)
        out["t"] = time.monotonic() - t0
    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    check(t.is_alive(), "the feed request at the head was answered before any change")
    deactivate(hub, u["id"])
    t.join(40)
    r = out.get("r")
    check(r is not None and r.status == 200, f"held feed request: {r!r}")
    check(out["t"] < 25, f"the held request was answered after {out['t']:.1f} s, not by the change")
    check([e["id"] for e in r.json["events"]] == [u["id"]] and r.json["events"][0]["resource"]["active"] is False,
          f"the held answer is not the deactivation: {r.json}")
    check(r.json["seq"] == h + 1, f"answer seq {r.json['seq']}, expected {h + 1}")


def test_wait_ends_with_empty_answer(hub):
    hub.create_user("quiet@example.com")
    h = head(hub)
    t0 = time.monotonic()
    r = feed(hub, h, wait=1)
    took = time.monotonic() - t0
    check(r.status == 200 and r.json == {"seq": h, "events": []}, f"an expired wait: {r!r}")
    check(took >= 0.9, f"Prefer: wait=1 answered after {took:.2f} s, not held")
    r = feed(hub, h)
    check(r.status == 200 and r.json["events"] == [], f"no Prefer: {r!r}")


def test_many_held_requests_one_change(hub):
    u = hub.create_user("fanout@example.com")
    h = head(hub)
    n = 100  # more than max_requests (64): held requests are not in flight
    results, lock = [], threading.Lock()

    def wait():
        r = feed(hub, h, wait=30)
        with lock:
            results.append(r)
    threads = [threading.Thread(target=wait) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    check(not results, f"{len(results)} held requests answered before the change: {results[:1]}")
    deactivate(hub, u["id"])
    for t in threads:
        t.join(40)
    statuses = sorted({r.status for r in results})
    check(len(results) == n and statuses == [200], f"{len(results)} answers, statuses {statuses}")
    check(all(r.raw == results[0].raw for r in results), "hosts at the same seq got different answers")
    check(results[0].json["events"][0]["resource"]["active"] is False, "the change is not in the answers")


def test_window_410(hub):
    hub.create_user("w@example.com")
    h = head(hub)
    r = feed(hub, h + 5)
    check(r.status == 410, f"since ahead of the head: {r!r}")
    r = feed(hub, "x")
    check(r.status == 400, f"since=x: {r!r}")
    r = hub.request("GET", "//v1/feed", token="host")
    check(r.status == 400, f"no since: {r!r}")
    # A hub whose window is 3 changes.
    tmp = os.path.join(hub.tmp, "small")
    os.makedirs(tmp)
    small = Hub(tmp, extra_conf={"feed": {"max_events": "3"}})
    try:
        for i in range(5):
            small.create_user(f"s{i}@example.com")
        check(feed(small, 1).status == 410, "5 changes behind a window of 3 was not 410")
        r = feed(small, 2)
        check(r.status == 200 and len(r.json["events"]) == 3, f"3 behind a window of 3: {r!r}")
    finally:
        small.stop()


def test_snapshot_is_the_directory(hub):
    users = [hub.create_user(f"snap{i}@example.com") for i in range(3)]
    hub.create_group("snap-team", members=[users[0]["id"], users[2]["id"]])
    deactivate(hub, users[1]["id"])
    r = hub.request("GET", "//v1/snapshot", token="host")
    check(r.status == 200 and r.json is not None, f"snapshot: {r!r}")
    snap = r.json
    check(snap["seq"] == head(hub), f"snapshot seq {snap['seq']} is not the head")
    check(snap["Users"] == hub.list("Users", "?count=1000")["Resources"], "snapshot users differ from the list")
    check(snap["Groups"] == hub.list("Groups", "?count=1000")["Resources"], "snapshot groups differ from the list")
    r = feed(hub, snap["seq"])
    check(r.status == 200 and r.json["events"] == [], f"the feed from the snapshot's seq: {r!r}")


def test_answers_follow_the_callers_host(hub):
    u = hub.create_user("hosthdr@example.com")
    a = hub.request("GET", "//v1/feed?since=0", token="host", headers={"Host": "a.example"}).json
    b = hub.request("GET", "//v1/feed?since=0", token="host", headers={"Host": "b.example"}).json
    check(a["events"][0]["resource"]["meta"]["location"].startswith("http://a.example/") and
          b["events"][0]["resource"]["meta"]["location"].startswith("http://b.example/"),
          f"one caller's Host reached another's answer: {a} {b}")
    check(a["events"][0]["id"] == u["id"], "the feed lost the user")


def test_roles(hub):
    check(feed(hub, 0, token=None).status == 401, "the feed without a token")
    check(feed(hub, 0, token="scim").status == 403, "the feed with an IdP token")
    check(feed(hub, 0, token="admin").status == 200, "the feed with an admin token")
    check(hub.request("GET", "//v1/snapshot", token="scim").status == 403, "the snapshot with an IdP token")
    check(hub.request("POST", "//v1/feed?since=0", token="host", body={}).status == 405, "POST /v1/feed")
    check(hub.request("GET", "//v1/nothing", token="host").status == 404, "an unknown /v1 path")


def test_stop_answers_held_requests(hub):
    hub.create_user("stop@example.com")
    h = head(hub)
    out = {}

    def wait():
        try:
            out["r"] = feed(hub, h, wait=60)
        except Exception as e:  # noqa: BLE001 - reported below
            out["e"] = e
    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    hub.stop()
    t.join(20)
    check("r" in out and out["r"].status == 200 and out["r"].json == {"seq": h, "events": []},
          f"a held request when the hub stopped: {out}")
    hub.start()


if __name__ == "__main__":
    run_suite([test_feed_reaches_head_once_per_resource,
               test_held_request_answered_by_a_change,
               test_wait_ends_with_empty_answer,
               test_many_held_requests_one_change,
               test_window_410,
               test_snapshot_is_the_directory,
               test_answers_follow_the_callers_host,
               test_roles,
               test_stop_answers_held_requests],
              sys.argv, prefix="test-hub-feed")
