#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub's door: bearer tokens by role (none or unknown → 401, a host token may only
read → 403 on writes, 200 on reads), tokens made by `token-new` work without a restart and are
stored as hashes, no token ever in the hub's log; bad bodies (over the limit → 413, malformed
JSON → 400, JSON nested 1000 deep → 400, not an object → 400) get a SCIM error and change
nothing; the discovery endpoints answer.
Run a subset: test-hub-auth.py CASE... [--keep]."""

import os
import re
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import (CORE_GROUP, CORE_USER, Failure, Hub, check, check_error, hub_bin,  # noqa: E402
                        hub_refuses, run_suite, sha256_hex)


def snapshot(hub):
    users = hub.list("Users", "count=1000")["Resources"]
    groups = hub.list("Groups", "count=1000")["Resources"]
    return sorted(users, key=lambda x: x["id"]), sorted(groups, key=lambda x: x["id"])


def test_no_token_and_unknown_token_401(hub):
    u = hub.create_user("someone@example.com")
    for tok, what in ((None, "no token"), ("prov_" + "A" * 43, "an unknown token"),
                      (hub.scim_token[:-1], "a truncated token"), (hub.scim_token + "x", "a token with a suffix"),
                      (sha256_hex(hub.scim_token), "the token's hash")):
        for method, path, body in (("GET", "/Users", None), ("GET", f"/Users/{u['id']}", None),
                                   ("POST", "/Users", {"schemas": [CORE_USER], "userName": "intruder"}),
                                   ("DELETE", f"/Users/{u['id']}", None), ("GET", "/ServiceProviderConfig", None)):
            r = hub.request(method, path, body, token=tok)
            check(r.status == 401, f"{what}: {method} {path} answered {r!r}, want 401")
            check("intruder" not in r.raw.decode(errors="replace"), "a 401 echoes the body")
    r = hub.request("GET", "/Users", token=None, headers={"Authorization": "Basic " + "dXNlcjpwYXNz"})
    check(r.status == 401, f"Basic auth answered {r!r}")
    r = hub.request("GET", "/Users", token=None, headers={"Authorization": "Bearer"})
    check(r.status == 401, f"an empty Bearer answered {r!r}")
    r = hub.request("GET", "/Users", token=None, headers={"Authorization": "Bearer " + hub.scim_token + " " + hub.scim_token})
    check(r.status == 401, f"two tokens answered {r!r}")
    check(hub.get("Users", u["id"])["userName"] == "someone@example.com", "an unauthenticated DELETE took effect")
    check(hub.list("Users")["totalResults"] == 1, "an unauthenticated POST took effect")
    r = hub.request("GET", "/Users", token=None)
    check("www-authenticate" in r.headers and "bearer" in r.headers["www-authenticate"].lower(),
          f"a 401 without WWW-Authenticate: Bearer: {r.headers}")


def test_host_token_reads_only(hub):
    u = hub.create_user("read@example.com")
    g = hub.create_group("readers", members=[u["id"]])
    for path in ("/Users", f"/Users/{u['id']}", "/Groups", f"/Groups/{g['id']}", "/ServiceProviderConfig",
                 "/Schemas", "/ResourceTypes"):
        r = hub.request("GET", path, token="host")
        check(r.status == 200, f"host token GET {path} answered {r!r}")
    before = snapshot(hub)
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "active", "value": False}]}
    for method, path, body in (("POST", "/Users", {"schemas": [CORE_USER], "userName": "hostmade"}),
                               ("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "hostmade"}),
                               ("PATCH", f"/Users/{u['id']}", patch),
                               ("PUT", f"/Users/{u['id']}", {"schemas": [CORE_USER], "userName": "read@example.com", "active": False}),
                               ("DELETE", f"/Users/{u['id']}", None),
                               ("DELETE", f"/Groups/{g['id']}", None)):
        r = hub.request(method, path, body, token="host")
        check_error(r, 403)
    check(snapshot(hub) == before, "a host token changed the hub")


def test_token_never_logged(hub):
    # every request shape with every token, good and bad, then the log is read
    bogus = "prov_" + "Zx9" * 14 + "Q"
    for tok in (hub.scim_token, hub.scim_token2, hub.host_token, hub.admin_token, bogus):
        hub.request("GET", "/Users", token=tok)
        hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "u" + tok[-6:].lower()}, token=tok)
        hub.request("GET", "/Users/" + tok, token=tok)  # a token in the path
        hub.request("GET", "/Users?filter=" + "userName%20eq%20%22" + tok + "%22", token=tok)
    hub.restart()
    hub.request("GET", "/Users", token=bogus)
    hub.assert_no_token_in_log(extra=[bogus])
    # nor in the store; its audit log names who changed what by the token's NAME
    hub.stop()
    data = hub.store_bytes()
    hub.start()
    for tok in list(hub.tokens) + [bogus]:
        check(tok.encode() not in data, "a token is in the store")
    check(b"entra-test" in data and b"okta-test" in data,
          "the store does not name the IdP tokens (entra-test, okta-test) that made changes: no audit of who")


def test_token_new_and_files(hub):
    # `token-new` prints a new token once and stores only its hash; it works without a restart
    p = subprocess.run([hub_bin, "--config", hub.conf, "token-new", "scim", "jumpcloud"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"token-new exited {p.returncode}: {p.stderr}")
    tok = p.stdout.strip()
    check(tok and "\n" not in tok and " " not in tok, f"token-new printed {p.stdout!r}")
    hub.tokens[tok] = "scim"
    check(tok not in p.stderr, "token-new printed the token on stderr too")
    text = open(hub.token_file("scim")).read()
    check(tok not in text, "the token file holds the token in clear")
    check(re.search(r"^jumpcloud sha256:" + sha256_hex(tok) + r"$", text, re.M),
          f"the token file lacks 'jumpcloud sha256:<hash>': {text}")
    mode = stat.S_IMODE(os.stat(hub.token_file("scim")).st_mode)
    check(mode & 0o077 == 0, f"token file mode {oct(mode)}")
    ok = None
    for _ in range(50):  # the hub notices the changed file at its next request
        r = hub.request("GET", "/Users", token=tok)
        if r.status == 200:
            ok = r
            break
        time.sleep(0.1)
    check(ok is not None, "a token made by token-new is not accepted without a restart")
    p = subprocess.run([hub_bin, "--config", hub.conf, "token-new", "host", "web-01"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"token-new host exited {p.returncode}: {p.stderr}")
    htok = p.stdout.strip()
    hub.tokens[htok] = "host"
    r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": "x"}, token=htok)
    check(r.status in (401, 403), f"a new host token POST answered {r!r}")
    p = subprocess.run([hub_bin, "--config", hub.conf, "token-new", "root", "nope"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode != 0, "token-new accepted an unknown role")
    # a token file others may read grants nothing (fail closed)
    os.chmod(hub.token_file("scim"), 0o644)
    with open(hub.token_file("scim"), "a") as f:
        f.write("# changed\n")
    r = hub.request("GET", "/Users", token="scim")
    os.chmod(hub.token_file("scim"), 0o600)
    check(r.status in (401, 403, 503), f"a world-readable token file still grants access: {r!r}")


def test_body_over_limit_413(hub):
    before = snapshot(hub)
    big = b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"big","title":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    head = (f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hub.scim_token}\r\n"
            f"Content-Type: application/scim+json\r\nContent-Length: {len(big)}\r\nConnection: close\r\n\r\n").encode()
    r = hub.raw_exchange(head, big)
    check(r.status == 413, f"a 2 MiB body answered {r!r}")
    check(snapshot(hub) == before, "a refused big body changed the hub")
    # chunked, no length: the limit holds too
    chunks = b""
    for i in range(0, len(big), 60000):
        part = big[i:i + 60000]
        chunks += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    chunks += b"0\r\n\r\n"
    head = (f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hub.scim_token}\r\n"
            f"Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    r = hub.raw_exchange(head, chunks)
    check(r.status == 413, f"a 2 MiB chunked body answered {r!r}")
    check(snapshot(hub) == before, "a refused chunked body changed the hub")
    check(hub.request("GET", "/Users").status == 200, "the hub does not answer after a big body")


def test_bad_json_400_changes_nothing(hub):
    u = hub.create_user("kept@example.com", displayName="Kept")
    g = hub.create_group("kept", members=[u["id"]])
    before = snapshot(hub)
    deep = b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"deep","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    deep_obj = b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"deep2","x":' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"
    bad = [b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"half"', b"not json", b"", b"[]", b"null", b"42",
           b'{"userName": "dup", "userName": 7', deep, deep_obj,
           b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"nul\\u0000name"}',
           b'{"schemas":["' + CORE_USER.encode() + b'"],"userName":"\xff\xfe"}']
    for raw in bad:
        for method, path in (("POST", "/Users"), ("PUT", f"/Users/{u['id']}"), ("PATCH", f"/Users/{u['id']}"),
                             ("PATCH", f"/Groups/{g['id']}"), ("POST", "/Groups")):
            r = hub.request(method, path, raw=raw)
            check(r.status == 400, f"{method} {path} with {raw[:40]!r}... answered {r!r}, want 400")
            check_error(r, 400)
    # PATCH bodies that parse but are not PatchOps
    for body in ({"Operations": "replace"}, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
                 {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"path": "active"}]},
                 {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]},
                 {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "id", "value": "mine"}]}):
        r = hub.request("PATCH", f"/Users/{u['id']}", body)
        check(400 <= r.status < 500, f"PATCH {body} answered {r!r}")
        check_error(r, r.status)
    # invalid values are refused with the hosts' own rules
    for name in ("bad\nname", "x" * 5000, ""):
        r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": name})
        check(r.status == 400, f"userName {name[:20]!r} answered {r!r}")
    check(snapshot(hub) == before, "a refused request changed the hub")


def test_discovery_endpoints(hub):
    spc = hub.ok("GET", "/ServiceProviderConfig", expect=(200,)).json
    check("urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" in spc.get("schemas", []), f"SPC schemas {spc}")
    check((spc.get("patch") or {}).get("supported") is True, f"SPC patch {spc.get('patch')}")
    check((spc.get("filter") or {}).get("supported") is True, f"SPC filter {spc.get('filter')}")
    mr = (spc.get("filter") or {}).get("maxResults")
    check(isinstance(mr, int) and not isinstance(mr, bool) and mr > 0, f"SPC filter.maxResults {mr!r}")
    check((spc.get("pagination") or {}).get("cursor") is True, f"SPC does not advertise cursor paging: {spc.get('pagination')}")
    check(any(s.get("type") == "oauthbearertoken" for s in spc.get("authenticationSchemes") or []),
          f"SPC authenticationSchemes {spc.get('authenticationSchemes')}")
    rts = hub.ok("GET", "/ResourceTypes", expect=(200,)).json
    items = rts.get("Resources", rts if isinstance(rts, list) else [])
    names = sorted(x.get("name") for x in items)
    check(names == ["Group", "User"], f"ResourceTypes {names}")
    sch = hub.ok("GET", "/Schemas", expect=(200,)).json
    ids = {x.get("id") for x in sch.get("Resources", [])}
    check({CORE_USER, CORE_GROUP} <= ids, f"Schemas {ids}")
    user_schema = hub.ok("GET", "/Schemas/" + CORE_USER, expect=(200,)).json
    check(user_schema.get("id") == CORE_USER, f"/Schemas/{CORE_USER}: {user_schema.get('id')}")
    r = hub.request("GET", "/NoSuchEndpoint")
    check(r.status == 404, f"an unknown endpoint answered {r!r}")
    r = hub.request("GET", "//v1/../../etc/passwd")
    check(r.status in (400, 401, 403, 404), f"a traversal path answered {r!r}")


def test_plain_http_only_when_allowed_and_on_loopback(hub):
    tokens = "\n".join(f"{r}_token_file = {hub.token_file(r)}" for r in ("scim", "host", "admin"))
    store = os.path.join(hub.tmp, "refused.db")
    err = hub_refuses(hub.tmp, f"[http]\nlisten = 127.0.0.1:0\n[store]\npath = {store}\n[tokens]\n{tokens}\n",
                      "neither TLS nor allow_insecure_http")
    check(err.strip(), "the refusal says nothing")
    hub_refuses(hub.tmp, f"[http]\nlisten = 0.0.0.0:0\nallow_insecure_http = yes\n[store]\npath = {store}\n"
                f"[tokens]\n{tokens}\n", "plain HTTP on 0.0.0.0")
    hub_refuses(hub.tmp, f"[http]\nlisten = 127.0.0.1:0\nallow_insecure_http = yes\nlisten_typo = 1\n"
                f"[store]\npath = {store}\n[tokens]\n{tokens}\n", "an unknown key")


def test_tls(hub):
    cert, key = os.path.join(hub.tmp, "hub.crt"), os.path.join(hub.tmp, "hub.key")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})  # not ours: no sanitizer
    if p.returncode != 0:
        raise Failure(f"openssl could not make a test certificate: {p.stderr[-300:]}")
    os.chmod(key, 0o600)
    tdir = os.path.join(hub.tmp, "tls")
    os.makedirs(tdir)
    tls = Hub(tdir, extra_conf={"http": {"allow_insecure_http": "no", "tls_cert_file": cert, "tls_key_file": key}},
              cafile=cert)
    try:
        check(tls.scheme == "https", f"the TLS hub listens on {tls.base}")
        u = tls.create_user("tls@example.com")
        check(tls.get("Users", u["id"], token="host")["userName"] == "tls@example.com", "GET over TLS")
        r = tls.request("GET", "/Users", token=None)
        check(r.status == 401, f"no token over TLS answered {r!r}")
        # plain HTTP to the TLS port gets no SCIM answer
        s = socket.create_connection((tls.host, tls.port), timeout=10)
        try:
            s.sendall(b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tls.scim_token.encode() + b"\r\n\r\n")
            data = b""
            try:
                while len(data) < 65536:
                    c = s.recv(4096)
                    if not c:
                        break
                    data += c
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        check(b"tls@example.com" not in data, "plain HTTP to the TLS port was served")
        check(tls.alive(), "the TLS hub died")
        tls.assert_no_token_in_log()
    finally:
        tls.stop()


def test_method_not_allowed(hub):
    for method, path in (("DELETE", "/Users"), ("PUT", "/Groups"), ("POST", f"/Users/{'a' * 8}"),
                         ("PATCH", "/ServiceProviderConfig")):
        r = hub.request(method, path, {"schemas": [CORE_USER], "userName": "m"})
        check(r.status in (404, 405), f"{method} {path} answered {r!r}")
    check(hub.list("Users")["totalResults"] == 0, "a refused method created something")


if __name__ == "__main__":
    run_suite([test_no_token_and_unknown_token_401,
               test_host_token_reads_only,
               test_token_never_logged,
               test_token_new_and_files,
               test_body_over_limit_413,
               test_bad_json_400_changes_nothing,
               test_discovery_endpoints,
               test_plain_http_only_when_allowed_and_on_loopback,
               test_tls,
               test_method_not_allowed],
              sys.argv, prefix="test-hub-auth")
