# SPDX-License-Identifier: LGPL-2.1-or-later
"""Harness for the provision-syncd integration tests against the project's SCIM test server
(tests/scim-server/server.js): starts the server on a free loopback port, steers it through its
/_control API, writes configurations, runs provision-syncd (--once or as a daemon) and reads the
results back through the real NSS module and the store (read-only). Python stdlib only."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
POSIX_USER = "urn:ietf:params:scim:schemas:extension:posix:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
STAMP = "2024-01-01T00:00:00.000Z"

srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
builddir = os.environ.get("top_builddir") or srcdir
syncd = os.path.join(builddir, "syncd", "provision-syncd")
nssdir = os.path.join(builddir, "nss_provision", ".libs")
server_js = os.path.join(srcdir, "tests", "scim-server", "server.js")


class Failure(Exception):
    pass


def check(cond, what):
    """Fails the current case with a message saying which expectation did not hold."""
    if not cond:
        raise Failure(what)


def skip_reason():
    """Why this machine cannot run the suite, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(srcdir, "tests", "node_modules", "scimmy")):
        return "tests/node_modules missing, run 'cd tests && npm ci'"
    if not os.access(syncd, os.X_OK):
        return f"{syncd} is not built"
    if not os.path.exists(os.path.join(nssdir, "libnss_provision.so.2")):
        return "the NSS module is not built"
    if not shutil.which("getent"):
        return "getent is missing"
    return None


def wait_for(pred, what, timeout=20.0, step=0.1):
    """Polls pred() until it returns something true; the deadline only bounds the wait."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure(f"timed out waiting for {what}")
        time.sleep(step)


def user(i, name=None, active=True, **extra):
    u = {"schemas": [CORE_USER], "id": f"id-{i:04d}", "userName": name or f"user{i:02d}",
         "active": active, "displayName": f"User {i}",
         "meta": {"created": STAMP, "lastModified": STAMP}}
    u.update(extra)
    return u


def group(gid, name, members, **extra):
    g = {"schemas": [CORE_GROUP], "id": gid, "displayName": name,
         "members": [{"value": m} for m in members],
         "meta": {"created": STAMP, "lastModified": STAMP}}
    g.update(extra)
    return g


class Server:
    """The SCIM test server, one per test file, on 127.0.0.1 and a free port."""

    def __init__(self, tmp, token):
        self.tmp = tmp
        self.token = token
        token_file = os.path.join(tmp, "server-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(token + "\n")
        port_file = os.path.join(tmp, "port")
        self.log = open(os.path.join(tmp, "server.log"), "w")
        self.proc = subprocess.Popen(["node", server_js, "--port", "0", "--port-file", port_file,
                                      "--token-file", token_file],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            def port_ready():
                if self.proc.poll() is not None:
                    raise Failure("the SCIM test server died: " + self.server_log())
                return os.path.exists(port_file) and open(port_file).read().strip()
            self.port = int(wait_for(port_ready, "the SCIM test server's port file", timeout=30))
        except BaseException:
            self.stop()
            raise
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/scim/v2"

    def server_log(self):
        try:
            return open(os.path.join(self.tmp, "server.log")).read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _req(self, method, path, body=None, token=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=timeout) as f:
                raw = f.read()
                return f.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw) if raw else None
            except ValueError:
                return e.code, raw

    def control(self, method, what, body=None):
        status, doc = self._req(method, "/_control/" + what, body)
        check(status == 200, f"control {method} {what} answered {status}: {doc}")
        return doc

    def scim(self, method, path, body=None, expect=(200, 201, 204)):
        status, doc = self._req(method, "/scim/v2" + path, body, token=self.token)
        check(status in expect, f"SCIM {method} {path} answered {status}: {doc}")
        return doc

    def reset(self, users, groups=()):
        """A fresh directory, no faults, default options, zeroed counters."""
        self.control("DELETE", "fault")
        self.control("DELETE", "options")
        self.control("POST", "reset", {"Users": list(users), "Groups": list(groups)})
        self.control("POST", "stats/reset")

    def fault(self, **f):
        return self.control("POST", "fault", f)

    def options(self, **o):
        return self.control("POST", "options", o)

    def patch(self, kind, rid, ops):
        return self.scim("PATCH", f"/{kind}/{rid}",
                         {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})

    def request_log(self):
        return self.control("GET", "log")

    def list_requests(self, kind="Users"):
        """GETs of the /Users (or /Groups) list endpoint since the last stats reset."""
        return [e for e in self.request_log()
                if e["method"] == "GET" and e["path"] == f"/scim/v2/{kind}"]


def is_delta(entry):
    return "lastmodified" in (entry.get("query") or {}).get("filter", "").lower()


class Case:
    """One test case's private world: config, state directory, local passwd/group files."""

    def __init__(self, root, name, server):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.server = server
        self.state = os.path.join(self.dir, "state")
        self.snapshot = os.path.join(self.state, "snapshot")
        self.store = os.path.join(self.state, "store.db")
        self.conf = os.path.join(self.dir, "syncd.conf")
        self.token_file = os.path.join(self.dir, "token")
        self.daemon = None
        self.daemon_log = os.path.join(self.dir, "daemon.log")
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nlocaluser:x:1000:1000::/home/localuser:/bin/sh\n")
        with open(os.path.join(self.dir, "group"), "w") as f:
            f.write("root:x:0:\nsudo:x:27:localuser\nlocaluser:x:1000:\n")
        self.set_token(server.token)

    def set_token(self, token):
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(token + "\n")

    def write_conf(self, sync=None, accounts=None, source=None, enforce=None):
        s = {"type": "scim", "url": self.server.url, "token_file": self.token_file,
             "allow_insecure_http": "yes", "timeout": "10"}
        s.update(source or {})
        y = {"interval": "1", "full_interval": "3600"}
        y.update(sync or {})
        a = {"map_groups": "Admins=sudo"}
        a.update(accounts or {})
        sections = {"source": s, "sync": y,
                    "paths": {"state_dir": self.state, "passwd_file": os.path.join(self.dir, "passwd"),
                              "group_file": os.path.join(self.dir, "group")},
                    "accounts": a, "enforce": {"terminate_sessions": "no", **(enforce or {})}}
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
        return self.conf

    def once(self, *extra, timeout=60, env=None, pass_fds=()):
        """provision-syncd --once; returns (exit status, stdout+stderr)."""
        env = dict(env if env is not None else os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("JOURNAL_STREAM", None)
        p = subprocess.run([syncd, "--config", self.conf, "--once", *extra], env=env,
                           capture_output=True, text=True, timeout=timeout, pass_fds=pass_fds)
        with open(os.path.join(self.dir, "once.log"), "a") as f:
            f.write(f"--- exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p.returncode, p.stdout + p.stderr

    def start_daemon(self):
        """Starts the daemon and waits for READY=1 (sent after its first, full, sync)."""
        sock_path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        self.sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        env.pop("JOURNAL_STREAM", None)
        self.daemon = subprocess.Popen([syncd, "--config", self.conf, "--foreground"], env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=open(self.daemon_log, "w"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            if "READY=1" in msg:
                return
        raise Failure("the daemon sent no READY=1: " + self.log_tail())

    def log_tail(self):
        try:
            return open(self.daemon_log).read()[-1500:]
        except OSError:
            return ""

    def daemon_alive(self):
        check(self.daemon and self.daemon.poll() is None,
              f"the daemon died (status {self.daemon.returncode if self.daemon else None}): {self.log_tail()}")

    def signal(self, sig):
        self.daemon_alive()
        self.daemon.send_signal(sig)

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None

    def getent(self, db, key):
        env = dict(os.environ, LD_LIBRARY_PATH=nssdir, PROVISION_SNAPSHOT=self.snapshot)
        p = subprocess.run(["getent", "-s", "provision", db, key], env=env, capture_output=True, text=True)
        return p.stdout.rstrip("\n") if p.returncode == 0 else None

    def passwd(self, name):
        """(uid, shell) as NSS serves the user, or None."""
        e = self.getent("passwd", name)
        if not e:
            return None
        f = e.split(":")
        return int(f[2]), f[6]

    def members(self, grp):
        e = self.getent("group", grp)
        if not e:
            return None
        m = e.split(":")[3]
        return sorted(m.split(",")) if m else []

    def sql(self, query, args=()):
        con = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def user_state(self, scim_id):
        rows = self.sql("SELECT state FROM users WHERE scim_id = ?", (scim_id,))
        return rows[0][0] if rows else None

    def audit(self, event=None):
        if event:
            return self.sql("SELECT event, user, scim_id, uid, step, outcome, detail FROM audit "
                            "WHERE event = ? ORDER BY seq", (event,))
        return self.sql("SELECT event, user, scim_id, uid, step, outcome, detail FROM audit ORDER BY seq")

    def store_digest(self):
        """Everything the store holds about accounts, to compare before and after a sync."""
        return (self.sql("SELECT * FROM users ORDER BY scim_id"),
                self.sql("SELECT * FROM groups ORDER BY scim_id"),
                self.sql("SELECT g.scim_id, u.scim_id FROM memberships m JOIN groups g ON g.ref = m.group_ref "
                         "JOIN users u ON u.ref = m.user_ref ORDER BY g.scim_id, u.scim_id"))

    def snapshot_digest(self):
        st = os.stat(self.snapshot)
        with open(self.snapshot, "rb") as f:
            return st.st_ino, st.st_mtime_ns, f.read()

    def cleanup(self):
        self.stop_daemon()


def run_suite(cases, token, argv):
    """Runs the named cases (all by default) against one server; exit 0, 1 or 77."""
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(SKIP)
    wanted = [a for a in argv[1:] if not a.startswith("-")]
    keep = "--keep" in argv
    tmp = tempfile.mkdtemp(prefix="test-syncd-scim.")
    os.chmod(tmp, 0o755)
    server = None
    failed = []
    try:
        server = Server(tmp, token)
        for fn in cases:
            name = fn.__name__
            if wanted and name not in wanted:
                continue
            case = Case(tmp, name, server)
            try:
                fn(server, case)
                print(f"ok - {name}", flush=True)
            except Failure as e:
                failed.append(name)
                print(f"not ok - {name}: {e}", flush=True)
            except Exception as e:  # a crash in a case fails it, not the suite
                failed.append(name)
                print(f"not ok - {name}: {type(e).__name__}: {e}", flush=True)
            finally:
                case.cleanup()
    finally:
        if server:
            server.stop()
        if keep or failed:
            print(f"# work files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print(f"# {len(failed)} failed: {' '.join(failed)}")
        sys.exit(1)
