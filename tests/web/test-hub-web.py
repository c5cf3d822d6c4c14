#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hub's fleet page (issue 18) in a real browser: the REAL provision-hub, three REAL
provision-syncd hosts following its feed (each with its private bus and logind mock,
hubsyncharness.Follower), and Debian's Chromium driven headless by playwright-core
(tests/web/hub-web-browser.js). Cases:

- over plain HTTP: every /ui page and action is refused without a session (303 to the sign-in
  form for a page, 401 otherwise), with a host or IdP token (403), with a forged cookie; a POST
  of a session without its CSRF token or from a foreign Origin is refused (403) and changes
  nothing; every answer carries the Content-Security-Policy and the other headers; hostile names
  are escaped in the HTML;
- in the browser: sign in; a leaver's row reaches "Gone on all hosts" after the IdP's PATCH
  active:false, without a reload; lock-now through its confirmation step; the search; a held
  change approved through its confirmation step (then audited under the admin token's NAME, and
  applied by every host); no inline script or style, no console error; without JavaScript the
  tables are there; signing out ends the session (its cookie is refused afterwards).

--screenshots DIR keeps the browser's screenshots of the main views (doc/screenshots/ in the
README). Exit 0 all passed, 1 a case failed, 77 something needed is missing (chromium, node,
tests/node_modules: scripts/setup-deps.sh installs them)."""

import http.client
import importlib.util
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import traceback
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
sys.path.insert(0, os.path.join(srcdir, "tests", "hubsync"))
import hubharness as H  # noqa: E402  (read-only use of the hub's harness)
from hubharness import Failure, check, wait_for  # noqa: E402
from hubsyncharness import Cases, Follower, free_port, skip_reason  # noqa: E402

HOSTS = 3
NOTICE_BOUND = 30.0
SUSPENDED = 1
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HOSTILE = "<script>window.provisionPwned=1</script>\"'&"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def web_skip_reason():
    if skip_reason():
        return skip_reason()
    if not shutil.which("node"):
        return "node is not installed (scripts/setup-deps.sh)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed (Debian's chromium, scripts/setup-deps.sh)"
    if not os.path.isdir(os.path.join(srcdir, "tests", "node_modules", "playwright-core")):
        return "tests/node_modules/playwright-core missing, run 'cd tests && npm ci'"
    return None


class Web:
    """Plain HTTP to the hub's /ui, as curl would: no browser, cookies by hand."""

    def __init__(self, hub):
        self.hub = hub

    def req(self, method, path, body=None, cookie=None, token=None, headers=None):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = f"provision_session={cookie}"
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            body = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        c = http.client.HTTPConnection(self.hub.host, self.hub.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace")
        finally:
            c.close()

    def login(self):
        st, h, _ = self.req("POST", "/ui/login", {"token": self.hub.admin_token})
        check(st == 303 and "set-cookie" in h, f"sign-in answered {st}")
        cookie = h["set-cookie"].split(";")[0].split("=", 1)[1]
        st, _, body = self.req("GET", "/ui/", cookie=cookie)
        check(st == 200, f"the dashboard answered {st}")
        csrf = body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        return cookie, csrf


def main():
    if web_skip_reason():
        print(f"SKIP: {web_skip_reason()}")
        return 77
    keep = "--keep" in sys.argv
    shots = None
    if "--screenshots" in sys.argv:
        shots = os.path.abspath(sys.argv[sys.argv.index("--screenshots") + 1])
        os.makedirs(shots, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="test-hub-web.")
    os.chmod(tmp, 0o755)
    cases = Cases()
    hub = None
    fleet = []
    try:
        os.makedirs(os.path.join(tmp, "hub"))
        # The guard on a small directory, so that a few deactivations are held.
        hub = H.Hub(os.path.join(tmp, "hub"), extra_conf={"http": {"listen": f"127.0.0.1:{free_port()}"},
                                                          "guard": {"min_users": "10", "max_percent": "10"}})
        web = Web(hub)
        leaver = hub.create_user("dave", displayName="Dave Leaver")
        lockee = hub.create_user("erin", displayName="Erin Lockable")
        hub.create_user("mallory", displayName=HOSTILE)
        hostile = hub.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                  "userName": HOSTILE})
        hostile_name = HOSTILE if hostile.status == 201 else None
        staff = [hub.create_user(f"staff{i:02d}")["id"] for i in range(30)]
        fleet.extend(Follower(tmp, hub, name=f"web{i + 1}", host_id=f"{0xeb000000 + i:032x}") for i in range(HOSTS))
        for f in fleet:
            f.start()
        logs = [(f"{f.name} log", f.log_tail) for f in fleet] + [("hub log", lambda n: hub.log_text()[-n:])]

        def case(name, fn):
            cases.run(name, fn, stop=True, detail=lambda: "\n".join(f"--- {what}:\n{tail(2000)}" for what, tail in logs))

        def refused_without_session():
            cookie, csrf = web.login()
            gets = ["/ui/", "/ui/search?q=dave", f"/ui/leaver?id={leaver['id']}"]
            frags = ["/ui/fragment/", "/ui/fragment/search?q=dave", f"/ui/fragment/leaver?id={leaver['id']}"]
            posts = ["/ui/approve", "/ui/lock", "/ui/logout"]
            for p in gets:
                st, h, _ = web.req("GET", p)
                check(st == 303 and h.get("location") == "/ui/login", f"GET {p} without a session: {st}")
                st, h, _ = web.req("GET", p, cookie="A" * 43)
                check(st == 303, f"GET {p} with a forged cookie: {st}")
            for p in frags:
                for kw in ({}, {"cookie": "A" * 43}, {"cookie": cookie[:-1] + ("B" if cookie[-1] != "B" else "C")}):
                    st, _, _ = web.req("GET", p, **kw)
                    check(st == 401, f"GET {p} with {kw or 'nothing'}: {st}")
            for p in posts:
                st, _, _ = web.req("POST", p, {"csrf": csrf, "id": lockee["id"], "action": "lock", "confirm": "yes"})
                check(st == 401, f"POST {p} without a session: {st}")
            for role, tok in (("host", hub.host_token), ("IdP", hub.scim_token)):
                for p in gets + frags:
                    st, _, _ = web.req("GET", p, token=tok)
                    check(st == 403, f"GET {p} with the {role} token: {st}")
                st, _, _ = web.req("POST", "/ui/lock", {"id": lockee["id"], "action": "lock", "confirm": "yes"}, token=tok)
                check(st == 403, f"POST /ui/lock with the {role} token: {st}")
                st, _, body = web.req("POST", "/ui/login", {"token": tok})
                check(st == 401 and "Set-Cookie" not in body, f"sign-in with the {role} token: {st}")
            st, _, _ = web.req("POST", "/ui/login", {"token": "prov_" + "x" * 43})
            check(st == 401, f"sign-in with a made-up token: {st}")
            # A session's POST needs its CSRF token and, when the browser says, our origin.
            lock = {"id": lockee["id"], "action": "lock", "confirm": "yes"}
            for body, headers, what in ((lock, {}, "no CSRF token"),
                                        (dict(lock, csrf="A" * 43), {}, "a wrong CSRF token"),
                                        (dict(lock, csrf=csrf), {"Origin": "http://evil.example"}, "a foreign Origin"),
                                        (dict(lock, csrf=csrf), {"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site cross-site")):
                st, _, _ = web.req("POST", "/ui/lock", body, cookie=cookie, headers=headers)
                check(st == 403, f"POST /ui/lock with {what}: {st}")
            st, _, _ = web.req("POST", "/ui/login", {"token": hub.admin_token}, headers={"Origin": "http://evil.example"})
            check(st == 403, f"sign-in from a foreign Origin: {st}")
            j = hub.request("GET", f"//v1/admin/leavers/{lockee['id']}", token="admin").json
            check(j["state"] == "active", f"a refused POST changed something: {j}")
            # The admin token as a bearer works without a session (for scripts), GET only here.
            st, _, _ = web.req("GET", "/ui/fragment/", token=hub.admin_token)
            check(st == 200, f"GET /ui/fragment/ with the admin token: {st}")
            # A session ends when its admin token is removed from the token file.
            path = hub.token_file("admin")
            saved = open(path).read()
            H.write_private(path, "")
            try:
                st, _, _ = web.req("GET", "/ui/fragment/", cookie=cookie)
                check(st == 401, f"a session of a removed admin token: {st}")
            finally:
                H.write_private(path, saved)
            st, _, _ = web.req("GET", "/ui/fragment/", cookie=cookie)
            check(st == 401, f"the session came back with its token: {st}")
            # Tokens never reach the log.
            hub.assert_no_token_in_log()
        case("no /ui page or action works without an admin session, a CSRF token and our origin",
             refused_without_session)

        def headers_and_escaping():
            cookie, _ = web.login()
            for p in ("/ui/", "/ui/login", "/ui/static/hub-web.css", "/ui/static/hub-web.js", "/ui/fragment/",
                      "/ui/search?q=mallory", "/ui/nothing-here"):
                st, h, _ = web.req("GET", p, cookie=cookie)
                check(h.get("content-security-policy") == CSP, f"GET {p} ({st}): CSP {h.get('content-security-policy')}")
                check(h.get("x-content-type-options") == "nosniff" and h.get("referrer-policy") == "no-referrer" and
                      h.get("cache-control") == "no-store", f"GET {p}: headers {h}")
            st, h, _ = web.req("GET", "/ui/")
            check(h.get("content-security-policy") == CSP, "the redirect to the sign-in form has no CSP")
            st, _, body = web.req("GET", "/ui/search?q=mallory", cookie=cookie)
            check(st == 200 and HOSTILE not in body and "<script>window" not in body, "the hostile displayName unescaped")
            check("&lt;script&gt;window.provisionPwned=1&lt;/script&gt;&quot;&#39;&amp;" in body,
                  "the hostile displayName is not shown escaped")
            # A user deleted at the IdP is found by the name it had, as deleted there and at the hub.
            gone = hub.create_user("grace", displayName="Grace Deleted")
            hub.ok("DELETE", f"/Users/{gone['id']}")
            st, _, body = web.req("GET", "/ui/search?q=deleted", cookie=cookie)
            m = re.search(r'<tr><th scope="row"><a href="/ui/leaver\?id=' + gone["id"] + r'">grace</a></th>(.*?)</tr>', body)
            check(st == 200 and m, f"the deleted user in the search: {st}")
            cells = re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))
            check(cells[:3] == ["Grace Deleted", "deleted", "deleted"], f"the deleted user's row: {cells}")
            st, _, body = web.req("GET", "/ui/search?q=" + urllib.parse.quote('"><script>'), cookie=cookie)
            check(st == 200 and '"><script>' not in body, "the search term is echoed unescaped")
        case("every answer carries the CSP and the other headers; names are escaped", headers_and_escaping)

        def sources():
            def row():
                st, _, body = web.req("GET", "/ui/fragment/", token=hub.admin_token)
                check(st == 200, f"the dashboard fragment: {st}")
                m = re.search(r'<th scope="row">entra-test</th>(.*?)</tr>', body)
                check(m, "no sources row of the IdP token entra-test")
                return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))
            before = row()
            r = hub.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
            check(r.status == 400, f"a user without userName: {r!r}")
            after = row()
            # Last push, changes, write requests, refused (the last hour), interval, risk.
            check(int(after[2]) == int(before[2]) + 1 and int(after[3]) == int(before[3]) + 1,
                  f"the refused write in the sources row: {before} -> {after}")
            check(int(after[1]) >= 34 and after[5] == "No", f"the sources row: {after}")
        case("the sources table counts an IdP's changes, write requests and refusals", sources)

        def expiry():
            # A hub of its own whose sessions last 10 s (the shortest [web] session_lifetime).
            os.makedirs(os.path.join(tmp, "hub-expiry"))
            short = H.Hub(os.path.join(tmp, "hub-expiry"), extra_conf={"web": {"session_lifetime": "10"}})
            try:
                cookie, _ = Web(short).login()
                st, _, _ = Web(short).req("GET", "/ui/fragment/", cookie=cookie)
                check(st == 200, f"a new session: {st}")
                wait_for(lambda: Web(short).req("GET", "/ui/fragment/", cookie=cookie)[0] == 401,
                         "the session's end after its lifetime", timeout=60, step=1)
                st, h, _ = Web(short).req("GET", "/ui/", cookie=cookie)
                check(st == 303 and h.get("location") == "/ui/login", f"a page with an expired session: {st}")
            finally:
                short.stop()
        case("a session ends after [web] session_lifetime", expiry)

        def tls():
            if not shutil.which("certtool"):
                print("  (certtool missing: the TLS case is skipped)")
                return
            spec = importlib.util.spec_from_file_location("hubtls", os.path.join(srcdir, "tests", "hub", "test-hub-tls.py"))
            hubtls = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(hubtls)
            os.makedirs(os.path.join(tmp, "hub-tls"))
            cert, key = hubtls.make_pair(os.path.join(tmp, "hub-tls"))
            secure = H.Hub(os.path.join(tmp, "hub-tls"), cafile=cert,
                           extra_conf={"http": {"allow_insecure_http": "no", "tls_cert_file": cert, "tls_key_file": key}})
            try:
                ctx = ssl.create_default_context(cafile=cert)
                c = http.client.HTTPSConnection(secure.host, secure.port, timeout=30, context=ctx)
                origin = f"https://{secure.host}:{secure.port}"
                c.request("POST", "/ui/login", body=urllib.parse.urlencode({"token": secure.admin_token}),
                          headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": origin,
                                   "Sec-Fetch-Site": "same-origin"})
                r = c.getresponse()
                r.read()
                cookie = r.getheader("Set-Cookie") or ""
                check(r.status == 303, f"sign-in over TLS: {r.status}")
                check(all(a in cookie.split("; ") for a in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/ui")),
                      f"the session cookie over TLS: {cookie}")
                c.close()
            finally:
                secure.stop()
        case("over TLS the session cookie is Secure, and the https origin is ours", tls)

        def held_fragment():
            # The script's request: the view as of a generation, held until a commit moves it.
            st, h, _ = web.req("GET", "/ui/fragment/", token=hub.admin_token)
            check(st == 200 and h.get("x-hub-generation", "").isdigit(), f"a fragment's generation: {st} {h}")
            gen = int(h["x-hub-generation"])
            answer = {}
            t = threading.Thread(target=lambda: answer.update(r=web.req("GET", f"/ui/fragment/?after={gen}",
                                                                           token=hub.admin_token)))
            t.start()
            frank = hub.create_user("frank")
            hub.patch("Users", frank["id"], [{"op": "replace", "path": "active", "value": False}])
            t.join(timeout=60)
            check("r" in answer, "the held fragment request was not answered after a change")
            # Answered at a commit; a host's poll may commit first: then the next held request
            # (as the script makes it) brings the leaver.
            for _ in range(10):
                st, h, body = answer["r"]
                check(st == 200 and int(h["x-hub-generation"]) > gen, f"the held answer: {st} {h}")
                if ">frank</a>" in body:
                    break
                gen = int(h["x-hub-generation"])
                answer["r"] = web.req("GET", f"/ui/fragment/?after={gen}", token=hub.admin_token)
            check(">frank</a>" in body, "the held answers never showed the leaver")
        case("the page's live request is held until a commit changes what it shows", held_fragment)

        def stale_approval():
            # An approval whose confirmation showed other held users than are held now (a stale
            # count, digest or hold number) asks again and approves nothing.
            cookie, csrf = web.login()
            st, _, body = web.req("POST", "/ui/approve", {"csrf": csrf}, cookie=cookie)
            check(st == 200, f"the approval's confirmation: {st}")
            for form in ({"hold": "1", "count": "3", "digest": "A" * 43}, {}):
                st, _, body = web.req("POST", "/ui/approve", dict(form, csrf=csrf, confirm="yes"), cookie=cookie)
                check(st == 409 and "changed since you looked" in body, f"a stale approval: {st}")
            check("approved by admin token" not in hub.log_text(), "a stale approval approved")
            # A second session cookie (tossed) is no session.
            st, _, _ = web.req("GET", "/ui/fragment/", headers={"Cookie": f"provision_session={cookie}; provision_session={'A' * 43}"})
            check(st == 401, f"two session cookies: {st}")
        case("a stale approval asks again and approves nothing; two session cookies are none", stale_approval)

        def browser():
            settings = {"base": hub.base, "admin": hub.admin_token, "scim": hub.scim_token, "chromium": CHROMIUM,
                        "hosts": HOSTS, "screenshots": shots,
                        "leaver": {"id": leaver["id"], "name": "dave"},
                        "lockee": {"id": lockee["id"], "name": "erin", "display": "Erin Lockable"},
                        "hostile": hostile_name or "", "staff": staff}
            env = H.pg_env(NODE_PATH=os.path.join(srcdir, "tests", "node_modules"))  # no sanitizer runtime
            p = subprocess.run(["node", os.path.join(srcdir, "tests", "web", "hub-web-browser.js")],
                               input=json.dumps(settings), capture_output=True, text=True, env=env,
                               cwd=os.path.join(srcdir, "tests"), timeout=600)
            held = []
            for line in p.stdout.splitlines():
                if line.startswith("HELD "):
                    held = json.loads(line[5:])
                elif line.startswith(("PASS: ", "FAIL: ")):
                    print("  browser " + line)
            check(p.returncode == 0, f"the browser cases failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
            # What the page said is what the hosts did.
            for f in fleet:
                for uid, what in [(leaver["id"], "dave (deactivated)"), (lockee["id"], "erin (locked)")] + \
                        [(i, f"{i} (approved)") for i in held]:
                    wait_for(lambda: f.host.user_state(uid) == SUSPENDED, f"{what} suspended on {f.name}",
                             timeout=NOTICE_BOUND)
            rows = hub.sql("SELECT token_name FROM audit WHERE method = 'APPROVE'")
            check(rows and all(r[0] == "admin-test" for r in rows), f"the approval's audit rows: {rows}")
            rows = hub.sql("SELECT token_name FROM audit WHERE method = 'LOCK' AND id = ?", (lockee["id"],))
            check(rows == [("admin-test",)], f"the lock's audit rows: {rows}")
            check("approved by admin token 'admin-test' on the web page" in hub.log_text(), "no log line of the approval")
            hub.assert_no_token_in_log()
        case("in Chromium: sign in, a leaver gone on all hosts live, lock-now, search, approve, no JavaScript",
             browser)
    except Exception as e:  # a Failure inside a case is counted by Cases
        if not isinstance(e, Failure):
            traceback.print_exc()
            cases.failed += 1
        elif not cases.failed:
            print(f"FAIL: setup: {e}")
            cases.failed += 1
    finally:
        for f in fleet:
            f.cleanup()
        if hub:
            hub.stop()
    return cases.finish(tmp, keep)


if __name__ == "__main__":
    sys.exit(main())
