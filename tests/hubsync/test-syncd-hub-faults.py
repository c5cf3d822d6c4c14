#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-syncd's hub source against answers the real hub does not give on demand (issue 15):
a scripted HTTP server on 127.0.0.1 plays the hub, and `provision-syncd --once` (one feed poll
that does not wait) reads it. Checked: the requests carry the host token, since= and
`Prefer: wait=0`; a feed answer whose seq goes backwards, or with a malformed event, applies
nothing and keeps the stored seq; 503 with Retry-After fails the poll as busy and applies
nothing; a 5xx on the first URL goes to the second; 401 says the token is wrong. The real hub's
behaviour is tests/hubsync/test-syncd-hub.py's. Exit 0 all passed, 1 a case failed, 77 the
build is missing."""

import http.server
import json
import os
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "hub"))
import hubharness as H  # noqa: E402  (read-only use of the hub's harness: the Host world)
from hubharness import check  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubsyncharness import Cases  # noqa: E402

TOKEN = "prov_fake-hub-host-token-0123456789"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def user(uid, name, active=True):
    return {"schemas": [USER], "id": uid, "userName": name, "active": active}


class Fake(http.server.BaseHTTPRequestHandler):
    """Answers from the server's script: {path prefix: (status, headers, body)}; records requests."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, dict(self.headers)))
        for prefix, (status, headers, body) in srv.script.items():
            if self.path.startswith(prefix):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    srv.requests = []
    srv.script = {}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def host_seq(host):
    rows = host.sql("SELECT value FROM sync_state WHERE key = 'hub_seq'")
    return int(rows[0][0]) if rows else None


def main():
    if not os.access(H.syncd_bin, os.X_OK):
        print(f"SKIP: {H.syncd_bin} is not built")
        return 77
    if H.host_skip_reason():
        print(f"SKIP: {H.host_skip_reason()}")
        return 77
    tmp = tempfile.mkdtemp(prefix="test-syncd-hub-faults.")
    os.chmod(tmp, 0o755)
    srv, base = serve()
    bad, bad_base = serve()
    cases = Cases()
    try:
        host = H.Host(tmp, base, TOKEN)
        host.sections["source"].update({"type": "hub", "url": f"{bad_base},{base}"})
        host._write()

        case = cases.run

        def snapshot_then_feed():
            bad.script = {"/": (500, {}, {"detail": "replica down"})}
            srv.script = {"/v1/snapshot": (200, {}, {"seq": 5, "Users": [user("u1", "alice"), user("u2", "bob")],
                                                     "Groups": []}),
                          "/v1/feed": (200, {}, {"seq": 7, "events": [
                              {"seq": 7, "op": "upsert", "resourceType": "User", "id": "u2",
                               "resource": user("u2", "bob", active=False)}]})}
            rc, out = host.once()
            check(rc == 0, f"first --once exited {rc}: {out[-1200:]}")
            check(host_seq(host) == 5, f"seq after the snapshot is {host_seq(host)}")
            check(any(p.startswith("/v1/snapshot") for p, _ in bad.requests), "the first URL was not tried")
            check("trying the next URL" in out, "the 500 of the first URL is not logged")
            rc, out = host.once()
            check(rc == 0, f"second --once exited {rc}: {out[-1200:]}")
            path, headers = srv.requests[-1]
            check(path.startswith("/v1/feed?since=5"), f"the poll asked {path}")
            check(headers.get("Prefer") == "wait=0", f"--once sent Prefer: {headers.get('Prefer')!r}")
            check(headers.get("Authorization") == f"Bearer {TOKEN}", "the poll did not carry the host token")
            check(host_seq(host) == 7, f"seq after the feed is {host_seq(host)}")
            check(host.user_state("u2") == 1, "bob was not suspended by the feed's active:false")
        case("snapshot, then a feed poll with the token, since= and Prefer: wait=0", snapshot_then_feed)

        def refused(name, answer):
            def fn():
                before = host_seq(host)
                srv.script["/v1/feed"] = (200, {}, answer)
                rc, out = host.once()
                check(rc != 0, f"--once accepted {answer}")
                check("nothing applied" in out, f"the refusal is not said: {out[-800:]}")
                check(host_seq(host) == before, f"seq moved from {before} to {host_seq(host)}")
                check(host.user_state("u1") == 0, "alice changed")
            case(name, fn)

        refused("a feed answer whose seq goes backwards applies nothing", {"seq": 6, "events": []})
        refused("a malformed event applies nothing, not even the good ones before it",
                {"seq": 9, "events": [
                    {"seq": 8, "op": "upsert", "resourceType": "User", "id": "u1", "resource": user("u1", "alice", False)},
                    {"seq": 9, "op": "explode", "resourceType": "User", "id": "u1"}]})
        refused("a feed answer that is not JSON applies nothing", b'{"seq": 9, "events": [')

        def busy():
            before = host_seq(host)
            srv.script["/v1/feed"] = (503, {"Retry-After": "7"}, {"detail": "busy"})
            rc, out = host.once()
            check(rc != 0, "--once exited 0 on a 503")
            check("busy" in out, f"the 503 is not logged as busy: {out[-800:]}")
            check(host_seq(host) == before, "seq moved on a 503")
        case("503 with Retry-After applies nothing and is logged as busy", busy)

        def unauthorized():
            srv.script["/v1/feed"] = (401, {}, {"detail": "no"})
            rc, out = host.once()
            check(rc != 0, "--once exited 0 on a 401")
            check("refused our host token" in out, f"the 401 is not said clearly: {out[-800:]}")
            check(TOKEN not in out, "the token is in the log")
        case("401 says the host token is refused, without printing it", unauthorized)
    finally:
        srv.shutdown()
        bad.shutdown()
    return cases.finish(tmp)


if __name__ == "__main__":
    sys.exit(main())
