#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Smoke test of provision-hub: the real hub on 127.0.0.1:0 with plain HTTP (allowed on
loopback), a token made by `token-new`, a user created and read back (by id and by filter),
401 without a token, 429 + Retry-After beyond max_requests, and the token never in the log. Exit 0 pass, 1 fail, 77 hub not built."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

builddir = os.environ.get("top_builddir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
hub_bin = os.path.join(builddir, "hub", "provision-hub")
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def request(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/scim+json")
    if data is not None:
        req.add_header("Content-Type", "application/scim+json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, dict(e.headers), json.loads(raw) if raw else None


def main():
    if not os.access(hub_bin, os.X_OK):
        print(f"SKIP: {hub_bin} is not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="test-hub-smoke.")
    conf = os.path.join(tmp, "hub.conf")
    with open(conf, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:0\nallow_insecure_http = yes\nmax_requests = 2\n"
                f"[store]\npath = {tmp}/state/hub.db\n"
                f"[tokens]\nscim_token_file = {tmp}/scim.tokens\nhost_token_file = {tmp}/host.tokens\n"
                f"admin_token_file = {tmp}/admin.tokens\n")
    p = subprocess.run([hub_bin, "--config", conf, "token-new", "scim", "smoke"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert re.fullmatch(r"prov_[A-Za-z0-9_-]{43}", token), p.stdout
    assert oct(os.stat(f"{tmp}/scim.tokens").st_mode & 0o777) == "0o600"
    p = subprocess.run([hub_bin, "--config", conf, "token-new", "scim", "smoke"], capture_output=True, text=True)
    assert p.returncode != 0, "a duplicate token name was accepted"

    log_path = os.path.join(tmp, "hub.log")
    log = open(log_path, "w")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
    hub = subprocess.Popen([hub_bin, "--config", conf], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 20
        m = None
        while not m:
            assert hub.poll() is None, "the hub exited: " + open(log_path).read()
            assert time.monotonic() < deadline, "no 'Listening on' line: " + open(log_path).read()
            m = re.search(r"Listening on (http://127\.0\.0\.1:(\d+)/)", open(log_path).read())
            time.sleep(0.05)
        base = m.group(1) + "scim/v2"
        assert int(m.group(2)) > 0

        # the store and its directory are private
        assert os.stat(f"{tmp}/state").st_mode & 0o777 == 0o700
        assert os.stat(f"{tmp}/state/hub.db").st_mode & 0o777 == 0o600

        status, headers, body = request("GET", base + "/Users")
        assert status == 401, status
        assert "bearer" in headers.get("WWW-Authenticate", "").lower(), headers
        assert body["status"] in ("401", 401), body

        status, headers, user = request("POST", base + "/Users", token, {
            "schemas": [CORE_USER], "userName": "smoke@example.com", "externalId": "smoke-1",
            "name": {"givenName": "Smoke", "familyName": "Test"}, "password": "never-stored", "active": True})
        assert status == 201, (status, user)
        uid = user["id"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid), uid
        assert user["meta"]["resourceType"] == "User" and user["meta"]["version"] == headers.get("ETag"), user
        assert "password" not in user
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", user["meta"]["created"]), user["meta"]

        status, _, got = request("GET", f"{base}/Users/{uid}", token)
        assert status == 200 and got["userName"] == "smoke@example.com" and got["active"] is True, got
        status, _, lst = request("GET", base + "/Users?filter=" + urllib.parse.quote('userName eq "SMOKE@example.com"'),
                                 token)
        assert status == 200 and lst["totalResults"] == 1 and lst["Resources"][0]["id"] == uid, lst
        status, _, dup = request("POST", base + "/Users", token, {"schemas": [CORE_USER], "userName": "Smoke@Example.com"})
        assert status == 409 and dup.get("scimType") == "uniqueness", (status, dup)
        status, _, _ = request("GET", f"{base}/Users/{uid}", None)
        assert status == 401, status
        status, _, _ = request("GET", f"{base}/Users/00000000-0000-4000-8000-000000000000", token)
        assert status == 404, status
        status, _, spc = request("GET", base + "/ServiceProviderConfig", token)
        assert status == 200 and spc["patch"]["supported"] is True, spc

        # Overload: two requests still sending their bodies fill max_requests = 2; a third is
        # answered 429 with Retry-After, and once they are gone the hub answers again.
        port = int(m.group(2))
        slow = []
        for _ in range(2):
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall((f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                       "Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{").encode())
            slow.append(c)
        time.sleep(0.3)
        status, headers, body = request("GET", base + "/Users", token)
        assert status == 429 and headers.get("Retry-After"), (status, headers, body)
        for c in slow:
            c.close()
        time.sleep(0.3)
        status, _, _ = request("GET", base + "/Users", token)
        assert status == 200, status

        text = open(log_path).read()
        assert token not in text and token[5:] not in text, "the token is in the log"
        assert "smoke" in text, "the token's name is not in the log"
    finally:
        hub.send_signal(signal.SIGTERM)
        try:
            rc = hub.wait(timeout=15)
        except subprocess.TimeoutExpired:
            hub.kill()
            rc = hub.wait()
        log.close()
    assert rc == 0, f"the hub exited {rc} on SIGTERM"
    print("1 passed, 0 failed")
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        print("0 passed, 1 failed")
        sys.exit(1)
