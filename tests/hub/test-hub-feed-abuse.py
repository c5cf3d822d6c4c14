#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Misbehaving hosts on provision-hub's change feed, against the real hub:

- descriptors: a hub whose RLIMIT_NOFILE is 256 (soft and hard) with 400 held feed requests
  that never close: the ones it cannot hold are refused (429, connection closed), and it keeps
  answering the identity provider's push, another host's poll and snapshot at once, and its held
  requests with the change (it stopped accepting, and the push waited in the listening queue);
- reconnects: a host that sends a held request and closes its connection, 200 times in a loop,
  does not take the places of the other hosts ([feed] max_waiters 50; a suspended connection
  was never looked at again, and another host got 429 for the whole wait);
- revoked: a held request of a token removed from the token file meanwhile is answered 401
  when a change commits, not with the change;
- slow bodies: 70 clients without a token that send a body a byte at a time (to the SCIM
  endpoint and to the web page's sign-in) take no place of the requests with one (the IdP's
  and a host's were answered 429 while they lasted);
- acks from the future: an outcome acked for a seq past the head is refused (400): it was kept,
  every later ack of the user by the host (a lower seq) was ignored, and the leaver report showed
  the made-up outcome for the user's next deactivation.
Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import os
import selectors
import socket
import sys
import threading
import time

import hubharness
from hubharness import CORE_USER, check, run_suite


def head(hub):
    r = hub.request("GET", "//v1/feed?since=0", token="host")
    check(r.status == 200, f"feed since=0: {r!r}")
    return r.json["seq"]


def held_request(hub, since, token, wait=60, query=""):
    return (f"GET /v1/feed?since={since}{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Prefer: wait={wait}\r\n\r\n").encode()


def answers(socks, timeout):
    """The status line of each socket's answer within timeout (None: none came)."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    while len(got) < len(socks) and time.monotonic() < end:
        for k, _ in sel.select(timeout=0.2):
            try:
                data = k.fileobj.recv(65536)
            except OSError:
                data = b""
            got[k.fileobj] = data.split(b"\r\n", 1)[0].decode("latin-1")
            sel.unregister(k.fileobj)
    return [got.get(s) for s in socks]


def test_descriptors_exhausted(hub):
    hub.stop()
    wrapper = os.path.join(hub.tmp, "hub-nofile.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec prlimit --nofile=256:256 {hubharness.hub_bin} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    real, hubharness.hub_bin = hubharness.hub_bin, wrapper
    try:
        hub.start()
    finally:
        hubharness.hub_bin = real
    u = hub.create_user("nofile@example.com")
    seq = head(hub)
    socks = []
    try:
        for _ in range(400):
            s = socket.create_connection((hub.host, hub.port))
            s.sendall(held_request(hub, seq, hub.host_token))
            socks.append(s)
        time.sleep(1)
        t = time.monotonic()
        r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "pushed@example.com", "active": True},
                        timeout=10)
        check(r.status == 201 and time.monotonic() - t < 5, f"the IdP's push with 400 held requests: {r!r}")
        r = hub.request("GET", f"//v1/feed?since={seq}", token="host", timeout=10)
        check(r.status == 200 and len(r.json["events"]) == 1, f"another host's poll: {r!r}")
        r = hub.request("GET", "//v1/snapshot", token="host", timeout=10)
        check(r.status == 200 and len(r.json["Users"]) == 2, f"a snapshot: {r!r}")
        r = hub.request("GET", f"/Users/{u['id']}", timeout=10)
        check(r.status == 200, f"the IdP's read: {r!r}")
        got = answers(socks, 10)
        ok = sum(1 for a in got if a and " 200 " in a + " ")
        refused = sum(1 for a in got if a and " 429 " in a + " ")
        check(ok > 0 and ok + refused == len(socks),
              f"every held request answered (the change, or 429): {ok} 200, {refused} 429, "
              f"{sum(1 for a in got if a is None)} none")
    finally:
        for s in socks:
            s.close()


def test_reconnect_loop(hub):
    hub.create_user("loop@example.com")
    seq = head(hub)
    req = held_request(hub, seq, hub.host_token, wait=300)
    for _ in range(200):
        s = socket.create_connection((hub.host, hub.port))
        s.sendall(req)
        time.sleep(0.005)
        s.close()
    time.sleep(0.5)
    t = time.monotonic()
    r = hub.request("GET", f"//v1/feed?since={seq}", token="host", headers={"Prefer": "wait=2"})
    check(r.status == 200 and r.json == {"seq": seq, "events": []} and time.monotonic() - t >= 1.5,
          f"another host's held request after a reconnect loop: {r!r}")


def test_revoked_while_held(hub):
    u = hub.create_user("revoked@example.com")
    seq = head(hub)
    tok = hub.new_token("host", "revoked-host", shared=True)
    time.sleep(1.1)  # the token file's new mtime is seen
    res = {}

    def held():
        res["r"] = hub.request("GET", f"//v1/feed?since={seq}", token=tok, headers={"Prefer": "wait=20"})
    th = threading.Thread(target=held)
    th.start()
    time.sleep(0.5)
    hub.drop_token("host", "revoked-host")
    time.sleep(1.1)
    r = hub.request("GET", f"//v1/feed?since={seq}", token=tok)
    check(r.status == 401, f"a revoked token's new poll: {r!r}")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "displayName", "value": "After revocation"}])
    th.join()
    check(res["r"].status == 401 and b"After revocation" not in res["r"].raw,
          f"a revoked token's held request after a change: {res['r']!r}")
    hub.assert_no_token_in_log(extra=(tok,))


def test_slow_bodies_without_token(hub):
    socks = []
    try:
        for i in range(70):
            s = socket.create_connection((hub.host, hub.port))
            path = "/ui/login" if i % 2 else "/scim/v2/Users"
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 1000\r\n\r\n{".encode())
            socks.append(s)
        time.sleep(0.5)
        r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "slow@example.com", "active": True})
        check(r.status == 201, f"the IdP's push beside 70 slow bodies: {r!r}")
        r = hub.request("GET", "/Users")
        check(r.status == 200, f"the IdP's read beside 70 slow bodies: {r!r}")
        r = hub.request("GET", "//v1/feed?since=0", token="host")
        check(r.status == 200, f"a host's poll beside 70 slow bodies: {r!r}")
        r = hub.request("POST", "//ui/login", token=None, raw=f"token={hub.admin_token}".encode(),
                        content_type="application/x-www-form-urlencoded")
        check(r.status == 303, f"a sign-in beside 70 slow bodies: {r!r}")
    finally:
        for s in socks:
            s.close()


def test_ack_from_the_future(hub):
    host = "d" * 32
    u = hub.create_user("future@example.com")
    seq = head(hub)
    check(hub.request("GET", f"//v1/feed?since={seq}&host={host}&hostname=delta", token="host").status == 200,
          "the host's poll")
    r = hub.request("POST", "//v1/acks", token="host", content_type="application/json", body={
        "host": host, "outcomes": [{"id": u["id"], "seq": seq + 1000000, "sessions": 9, "result": "terminated"}]})
    check(r.status == 400, f"an ack past the head: {r!r}")
    hub.patch("Users", u["id"], [{"op": "replace", "path": "active", "value": False}])
    seq = head(hub)
    check(hub.request("GET", f"//v1/feed?since={seq}&host={host}&hostname=delta", token="host").status == 200,
          "the host's poll after the deactivation")
    r = hub.request("POST", "//v1/acks", token="host", content_type="application/json", body={
        "host": host, "outcomes": [{"id": u["id"], "seq": seq, "sessions": 1, "result": "none"}]})
    check(r.status == 204, f"the real ack: {r!r}")
    rep = hub.request("GET", f"//v1/admin/leavers/{u['id']}", token="admin").json
    check([(o["sessions"], o["result"]) for o in rep["outcomes"]] == [(1, "none")],
          f"the report's outcomes: {rep['outcomes']}")


if __name__ == "__main__":
    run_suite([test_descriptors_exhausted,
               test_reconnect_loop,
               test_revoked_while_held,
               test_slow_bodies_without_token,
               test_ack_from_the_future],
              sys.argv, prefix="test-hub-feed-abuse", extra_conf={"feed": {"max_waiters": "50"}})
