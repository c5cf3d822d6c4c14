# SPDX-License-Identifier: LGPL-2.1-or-later
"""Harness of the provision-hub conformance suite (tests/hub/test-hub-*.py).

Each case gets a REAL hub process of its own, in a private temporary directory: a config with
`listen = 127.0.0.1:0`, token files written here (`NAME sha256:HEX`, mode 0600) for the three
roles, a SQLite store — or, with HUB_STORE=postgresql in the environment, a database of its own
on a real PostgreSQL server the harness starts for the test program (initdb in a temporary
directory, a Unix socket only, a password read by the hub from a file; torn down at exit). The
harness waits for the hub's `Listening on http://ADDR:PORT/` line,
sends requests as the IdPs do (http.client, raw bytes when a test needs them), and stops the hub
at the end of the case. After every case it checks that the hub is still alive, that it never
answered a 5xx, and that no token string ever reached its stderr; on a failure it prints the
hub's log. Python stdlib only. Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import atexit
import glob
import hashlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

SKIP = 77
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"

srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
builddir = os.environ.get("top_builddir") or srcdir
hub_bin = os.path.join(builddir, "hub", "provision-hub")
syncd_bin = os.path.join(builddir, "syncd", "provision-syncd")
nssdir = os.path.join(builddir, "nss_provision", ".libs")


class Failure(Exception):
    pass


# ---------------------------------------------------------------------- the store's backend

BACKEND = os.environ.get("HUB_STORE", "sqlite")


def pg_bindir():
    """Debian's server binaries (postgresql-NN), the newest installed; PG_BINDIR overrides."""
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return dirs[-1] if dirs else None


# Set by the sanitizer stage (scripts/sanitize.sh) for our own programs: PostgreSQL's server and
# tools are not ours, and with the sanitizer runtime preloaded initdb hangs in `postgres -V`.
SANITIZER_ENV = ("LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS")


def pg_env(**extra):
    """The environment for PostgreSQL's programs: ours without the sanitizer settings."""
    env = {k: v for k, v in os.environ.items() if k not in SANITIZER_ENV}
    env.update(extra)
    return env


class Postgres:
    """A real PostgreSQL server in a temporary directory: initdb, a Unix socket in that directory
    (no TCP), scram-sha-256 for everyone (the hub reads the password from a file), stopped and
    removed by stop(). PostgreSQL refuses to run as root: as root, the server runs as the
    `postgres` user (Debian's package creates it)."""

    USER = "hub"

    def __init__(self, fsync=False):
        b = pg_bindir()
        self.bindir = b
        self.dir = tempfile.mkdtemp(prefix="hubpg.")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.password = secrets.token_urlsafe(24)
        self.password_file = os.path.join(self.dir, "hub.password")
        write_private(self.password_file, self.password + "\n")
        os.makedirs(self.sock)
        self.as_user = []
        self.uid = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.as_user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--"]
            os.chown(self.sock, self.uid, self.gid)
        pwfile = os.path.join(self.dir, "initdb.pw")
        write_private(pwfile, self.password + "\n")
        if self.uid is not None:
            os.chown(pwfile, self.uid, self.gid)
            os.chown(self.dir, self.uid, self.gid)
        self._run([os.path.join(b, "initdb"), "-D", self.data, "-U", self.USER, f"--pwfile={pwfile}",
                   "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
        os.unlink(pwfile)
        self.opts = f"-k {self.sock} -c listen_addresses='' -c max_connections=200"
        if not fsync:
            self.opts += " -c fsync=off -c full_page_writes=off"
        self.start()
        atexit.register(self.stop)

    def start(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log_path, "-w", "-t", "60",
                   "-o", self.opts, "start"])
        self.started = True

    def halt(self):
        """Stops the server (fast: sessions are ended, as when it goes down), keeping its data."""
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])

    def _run(self, argv):
        p = subprocess.run(self.as_user + argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=pg_env())
        if p.returncode != 0:
            raise Failure(f"{' '.join(argv[:2])} failed: {p.stderr[-1500:]}")
        return p

    def psql(self, sql, db="postgres"):
        """Runs SQL with psql; rows as lists of strings (None for NULL)."""
        env = pg_env(PGPASSWORD=self.password)
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f",
                            "-P", "null=\x1e", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-U", self.USER,
                            "-d", db, "-c", sql], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise Failure(f"psql: {p.stderr.strip()[-800:]}")
        rows = []
        for line in p.stdout.split("\n"):
            if line == "":
                continue
            rows.append([None if v == "\x1e" else v for v in line.split("\x1f")])
        return rows

    def new_database(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def conninfo(self, db):
        return f"host={self.sock} dbname={db} user={self.USER}"

    def stop(self):
        if getattr(self, "started", False):
            self.started = False
            subprocess.run(self.as_user + [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate",
                                           "-w", "stop"], capture_output=True, env=pg_env())
            shutil.rmtree(self.dir, ignore_errors=True)


def pg_skip_reason():
    """Why PostgreSQL tests cannot run here (None: they can)."""
    b = pg_bindir()
    if not b or not os.access(os.path.join(b, "initdb"), os.X_OK):
        return "PostgreSQL server binaries (Debian's postgresql package) are not installed"
    if not os.access(os.path.join(b, "psql"), os.X_OK) and not shutil.which("psql"):
        return "psql is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if not shutil.which("setpriv"):
            return "setpriv is missing (to run the server as postgres)"
    return None


_pg_server = None


def pg_server():
    """The test program's one PostgreSQL server, started on first use."""
    global _pg_server
    if _pg_server is None:
        _pg_server = Postgres()
    return _pg_server


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _pg_value(v):
    if v is not None and re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    return v


def check(cond, what):
    """Fails the current case with a message saying which expectation did not hold."""
    if not cond:
        raise Failure(what)


def wait_for(pred, what, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure(f"timed out waiting for {what}")
        time.sleep(step)


def guid():
    return str(uuid.uuid4())


def q(s):
    """URL-quotes a query value (filters are sent %-encoded, as every IdP does)."""
    return urllib.parse.quote(s, safe="")


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)


class Response:
    """One answer: status, headers (names lowercased), the parsed JSON (or None) and raw bytes."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = None
        if raw:
            try:
                self.json = json.loads(raw)
            except ValueError:
                self.json = None

    def __iter__(self):  # status, headers, json = hub.request(...)
        return iter((self.status, self.headers, self.json))

    def __repr__(self):
        body = self.raw[:600].decode(errors="replace") if self.raw else ""
        return f"HTTP {self.status} {body}"


class Hub:
    """One provision-hub process in tmp, with one token of each role (and a second SCIM token)."""

    def __init__(self, tmp, extra_conf=None, cafile=None, replica_of=None):
        """replica_of: another Hub on PostgreSQL; this one serves the same database with the
        same tokens (a second replica)."""
        self.tmp = tmp
        self.cafile = cafile
        self.db = os.path.join(tmp, "hub.db")
        self.conf = os.path.join(tmp, "hub.conf")
        self.log_path = os.path.join(tmp, "hub.log")
        self.tokens = {}
        # Replicas read the same token files: a token added later serves on every replica.
        self.token_dir = replica_of.token_dir if replica_of else tmp
        if replica_of:
            self.tokens = replica_of.tokens
            for k in ("scim_token", "scim_token2", "host_token", "admin_token"):
                setattr(self, k, getattr(replica_of, k))
        else:
            self.scim_token = self._token("scim", "entra-test")
            self.scim_token2 = self._token("scim", "okta-test")
            # An enrolment token every test host may share (see new_token() for a host's own).
            self.host_token = self._token("host", "host-test", shared=True)
            self.admin_token = self._token("admin", "admin-test")
        self.responses_5xx = []
        self.proc = None
        self.pg = None
        if replica_of:
            check(replica_of.pg, "replicas need the PostgreSQL store")
            self.pg, self.pg_db = replica_of.pg, replica_of.pg_db
            store = {"type": "postgresql", "conninfo": self.pg.conninfo(self.pg_db),
                     "password_file": self.pg.password_file}
        elif BACKEND == "postgresql":
            self.pg = pg_server()
            self.pg_db = self.pg.new_database("case_" + uuid.uuid4().hex[:12])
            store = {"type": "postgresql", "conninfo": self.pg.conninfo(self.pg_db),
                     "password_file": self.pg.password_file}
        else:
            store = {"path": self.db}
        sections = {"http": {"listen": "127.0.0.1:0", "allow_insecure_http": "yes"},
                    "store": store,
                    "tokens": {"scim_token_file": self.token_file("scim"),
                               "host_token_file": self.token_file("host"),
                               "admin_token_file": self.token_file("admin")}}
        for sec, kv in (extra_conf or {}).items():
            sections.setdefault(sec, {}).update(kv)
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
        self.start()

    def token_file(self, role):
        return os.path.join(self.token_dir, f"{role}.tokens")

    def _token(self, role, name, shared=False):
        tok = "prov_" + secrets.token_urlsafe(32)
        self.tokens[tok] = role
        path = self.token_file(role)
        old = open(path).read() if os.path.exists(path) else ""
        write_private(path, old + f"{name} sha256:{sha256_hex(tok)}{'' if shared else ' bind'}\n")
        return tok

    def new_token(self, role, name, shared=False):
        """A new token of role named name, added to the (running) hub's token file; returned."""
        return self._token(role, name, shared)

    def drop_token(self, role, name):
        """Removes the token named name from role's token file."""
        path = self.token_file(role)
        lines = [ln for ln in open(path).read().splitlines(True) if ln.split()[:1] != [name]]
        write_private(path, "".join(lines))

    # ------------------------------------------------------------------ process

    def start(self):
        self.log = open(self.log_path, "a")
        start = os.path.getsize(self.log_path)
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        self.proc = subprocess.Popen([hub_bin, "--config", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=env)

        def listening():
            if self.proc.poll() is not None:
                raise Failure(f"the hub exited with {self.proc.returncode} before listening:\n{self.log_text()}")
            with open(self.log_path, errors="replace") as f:
                f.seek(0)
                text = f.read()
            return re.search(r"Listening on (https?)://([0-9.]+|\[[0-9a-fA-F:]+\]):(\d+)/", text[start:])
        m = wait_for(listening, "the hub's 'Listening on' line", timeout=20)
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        check(self.port > 0, f"the hub reported port {self.port}")
        self.base = f"{self.scheme}://{self.host}:{self.port}"
        self.url = self.base + "/scim/v2"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        try:
            self.log.close()
        except Exception:
            pass

    def crash(self):
        """SIGKILL: nothing of the hub's own shutdown runs (what a 2xx promised must be on disk)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def restart(self):
        self.stop()
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def assert_no_token_in_log(self, extra=()):
        """No token of any role (nor its hash, nor any string in extra) is in the hub's stderr."""
        text = self.log_text()
        for tok in list(self.tokens) + list(extra):
            check(tok not in text, f"a secret ({self.tokens.get(tok, 'extra')}) is in the hub's log")
        for tok in self.tokens:
            check(sha256_hex(tok) not in text, "a token hash is in the hub's log")

    # ------------------------------------------------------------------ HTTP

    def request(self, method, path, body=None, token="scim", headers=None, raw=None,
                content_type="application/scim+json", timeout=30):
        """path is relative to /scim/v2 unless it starts with '//' (then relative to the root).
        token: "scim"/"scim2"/"host"/"admin", a literal token string, or None (no header).
        body is sent as JSON; raw (bytes) is sent as is. Returns a Response."""
        if path.startswith("//"):
            full = path[1:]
        else:
            full = "/scim/v2" + path
        h = {"Accept": "application/scim+json, application/json"}
        tok = {"scim": self.scim_token, "scim2": self.scim_token2, "host": self.host_token,
               "admin": self.admin_token}.get(token, token)
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            h["Content-Type"] = content_type
        h.update(headers or {})
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cafile)
            ctx.check_hostname = False  # the test certificate names 127.0.0.1 as an IP SAN at most
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, full, body=data, headers=h)
            r = conn.getresponse()
            raw_body = r.read()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, raw_body)
        finally:
            conn.close()
        if resp.status >= 500:
            self.responses_5xx.append(f"{method} {full} -> {resp!r}")
        return resp

    def raw_exchange(self, head, body=b"", timeout=30):
        """Sends bytes on a fresh connection (the server may answer before the body is all sent,
        e.g. 413) and returns the Response parsed from what comes back."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(head)
            try:
                for i in range(0, len(body), 65536):
                    s.sendall(body[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            chunks = []
            try:
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        data = b"".join(chunks)
        check(data.startswith(b"HTTP/1."), f"no HTTP answer (got {data[:200]!r})")
        head_end = data.find(b"\r\n\r\n")
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        rest = data[head_end + 4:]
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            out, i = b"", 0
            while True:
                j = rest.find(b"\r\n", i)
                if j < 0:
                    break
                n = int(rest[i:j].split(b";")[0] or b"0", 16)
                if n == 0:
                    break
                out += rest[j + 2:j + 2 + n]
                i = j + 2 + n + 2
            rest = out
        resp = Response(status, hdrs, rest)
        if status >= 500:
            self.responses_5xx.append(f"raw -> {resp!r}")
        return resp

    # ------------------------------------------------------------------ SCIM helpers

    def ok(self, method, path, body=None, expect=(200, 201, 204), **kw):
        r = self.request(method, path, body, **kw)
        check(r.status in expect, f"{method} {path} answered {r!r}, want one of {expect}")
        return r

    def create_user(self, user_name, **attrs):
        body = {"schemas": [CORE_USER], "userName": user_name, "active": True}
        body.update(attrs)
        r = self.ok("POST", "/Users", body, expect=(201,))
        check(isinstance(r.json, dict) and r.json.get("id"), f"POST /Users gave no id: {r!r}")
        return r.json

    def create_group(self, name, members=(), **attrs):
        body = {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        body.update(attrs)
        r = self.ok("POST", "/Groups", body, expect=(201,))
        check(isinstance(r.json, dict) and r.json.get("id"), f"POST /Groups gave no id: {r!r}")
        return r.json

    def patch(self, kind, rid, ops, expect=(200, 204), **kw):
        return self.ok("PATCH", f"/{kind}/{rid}", {"schemas": [PATCH_OP], "Operations": ops}, expect=expect, **kw)

    def get(self, kind, rid, token="scim"):
        r = self.ok("GET", f"/{kind}/{rid}", expect=(200,), token=token)
        check(isinstance(r.json, dict) and r.json.get("id") == rid, f"GET /{kind}/{rid} gave another resource: {r!r}")
        return r.json

    def gone(self, kind, rid):
        r = self.request("GET", f"/{kind}/{rid}")
        check(r.status == 404, f"GET /{kind}/{rid} after its deletion answered {r!r}, want 404")
        check_error(r, 404)

    def list(self, kind, query="", token="scim"):
        r = self.ok("GET", f"/{kind}" + (("?" + query) if query else ""), expect=(200,), token=token)
        check_list(r)
        return r.json

    def filter(self, kind, expr, extra=""):
        return self.list(kind, "filter=" + q(expr) + (("&" + extra) if extra else ""))

    def sql(self, query, args=()):
        """Runs SQL (SQLite's text with ? parameters) on the hub's store, whichever backend;
        returns the rows as tuples (numbers as int) and commits what it changed."""
        if self.pg:
            parts = query.split("?")
            check(len(parts) == len(args) + 1, f"{len(args)} arguments for {len(parts) - 1} parameters")
            text = parts[0] + "".join(_sql_literal(a) + p for a, p in zip(args, parts[1:]))
            return [tuple(_pg_value(v) for v in row) for row in self.pg.psql(text, db=self.pg_db)]
        con = sqlite3.connect(self.db, timeout=10)
        try:
            rows = con.execute(query, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def store_bytes(self):
        """Every byte the store holds on disk (the database, its WAL, journal and shm); on
        PostgreSQL, a dump of its database."""
        if self.pg:
            env = pg_env(PGPASSWORD=self.pg.password)
            p = subprocess.run([os.path.join(self.pg.bindir, "pg_dump"), "-h", self.pg.sock, "-U", self.pg.USER,
                                "-d", self.pg_db], capture_output=True, env=env)
            check(p.returncode == 0, f"pg_dump failed: {p.stderr[-500:]!r}")
            return p.stdout
        out = b""
        d = os.path.dirname(self.db)
        for n in sorted(os.listdir(d)):
            if n.startswith(os.path.basename(self.db)):
                with open(os.path.join(d, n), "rb") as f:
                    out += f.read()
        return out


def check_error(r, status, scim_type=None):
    """An RFC 7644 §3.12 error body with this status (integer or string, as Okta and the RFC
    want respectively) and, when given, this scimType."""
    check(r.status == status, f"answered {r!r}, want {status}")
    b = r.json
    check(isinstance(b, dict), f"the {status} has no JSON error body: {r!r}")
    check(ERROR in (b.get("schemas") or []), f"the {status} body lacks the Error schema: {b}")
    st = b.get("status")
    check(isinstance(st, (int, str)) and not isinstance(st, bool) and str(st) == str(status),
          f"error body status {st!r}, want {status}")
    if scim_type:
        check(b.get("scimType") == scim_type, f"error scimType {b.get('scimType')!r}, want {scim_type!r}: {b}")


def check_list(r):
    """A ListResponse whose paging fields are integers and whose Resources match totalResults'
    bounds."""
    b = r.json
    check(isinstance(b, dict), f"list answer is not a JSON object: {r!r}")
    check(LIST_RESPONSE in (b.get("schemas") or []), f"list answer lacks the ListResponse schema: {b}")
    for k in ("totalResults", "itemsPerPage", "startIndex"):
        if k in b or k == "totalResults":
            v = b.get(k)
            check(isinstance(v, int) and not isinstance(v, bool), f"{k} is {v!r}, not an integer")
    res = b.get("Resources", [])
    check(isinstance(res, list), f"Resources is not a list: {res!r}")
    check(len(res) <= b["totalResults"], f"{len(res)} Resources but totalResults {b['totalResults']}")
    b.setdefault("Resources", [])


def member_ids(group):
    return sorted(m.get("value") for m in group.get("members") or [])


def email_values(user, typ=None):
    return [e.get("value") for e in user.get("emails") or [] if typ is None or e.get("type") == typ]


def hub_refuses(tmp, conf_text, what, timeout=10):
    """Runs the hub with this configuration and expects it to refuse to start: a non-zero exit
    before it listens. Returns its stderr."""
    conf = os.path.join(tmp, "refused.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    p = subprocess.Popen([hub_bin, "--config", conf], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise Failure(f"the hub started with {what}: {err[-500:]}")
    check(p.returncode != 0, f"the hub exited 0 with {what}")
    check("Listening on" not in err, f"the hub listened with {what}")
    return err


# ---------------------------------------------------------------------- host side (pull tests)


class Host:
    """A private provision-syncd world following a hub with its SCIM pull source: config, state
    directory, local passwd/group files; read back through the NSS module and the store."""

    def __init__(self, root, url, token, name="host"):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.snapshot = os.path.join(self.state, "snapshot")
        self.store = os.path.join(self.state, "store.db")
        self.conf = os.path.join(self.dir, "syncd.conf")
        self.token_file = os.path.join(self.dir, "token")
        write_private(self.token_file, token + "\n")
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nlocaluser:x:1000:1000::/home/localuser:/bin/sh\n")
        with open(os.path.join(self.dir, "group"), "w") as f:
            f.write("root:x:0:\nsudo:x:27:localuser\nlocaluser:x:1000:\n")
        for n in ("subuid", "subgid"):
            open(os.path.join(self.dir, n), "w").close()
        self.sections = {"source": {"type": "scim", "url": url, "token_file": self.token_file,
                               "allow_insecure_http": "yes", "timeout": "10", "retry_budget": "5"},
                    "sync": {"interval": "1", "full_interval": "3600", "max_deprovision": "100%",
                             "refresh_on_login": "no"},
                    "paths": {"state_dir": self.state, "passwd_file": os.path.join(self.dir, "passwd"),
                              "group_file": os.path.join(self.dir, "group"),
                              "subuid_file": os.path.join(self.dir, "subuid"),
                              "subgid_file": os.path.join(self.dir, "subgid"),
                              "refresh_socket": os.path.join(self.dir, "refresh.sock")},
                    "accounts": {},
                    "enforce": {"terminate_sessions": "no"}}
        self._write()

    def _write(self):
        with open(self.conf, "w") as f:
            for sec, kv in self.sections.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")

    def write_accounts(self, accounts):
        self.sections["accounts"].update(accounts)
        self._write()

    def once(self, *extra, timeout=60):
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "http_proxy", "https_proxy", "ALL_PROXY"):
            env.pop(k, None)
        p = subprocess.run([syncd_bin, "--config", self.conf, "--once", *extra], env=env,
                           capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(self.dir, "once.log"), "a") as f:
            f.write(f"--- exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p.returncode, p.stdout + p.stderr

    def getent(self, db, key):
        env = dict(os.environ, LD_LIBRARY_PATH=nssdir, PROVISION_SNAPSHOT=self.snapshot)
        p = subprocess.run(["getent", "-s", "provision", db, key], env=env, capture_output=True, text=True)
        return p.stdout.rstrip("\n") if p.returncode == 0 else None

    def passwd(self, name):
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


def host_skip_reason():
    if not os.access(syncd_bin, os.X_OK):
        return f"{syncd_bin} is not built"
    if not os.path.exists(os.path.join(nssdir, "libnss_provision.so.2")):
        return "the NSS module is not built"
    if not shutil.which("getent"):
        return "getent is missing"
    return None


# ---------------------------------------------------------------------- runner


def run_suite(cases, argv, prefix="test-hub", skip_reason=None, extra_conf=None):
    """Runs the named cases (all by default), each against a fresh hub; exit 0, 1 or 77.
    A case fails when it raises, and also when the hub died, answered a 5xx or logged a token."""
    if not os.access(hub_bin, os.X_OK):
        print(f"SKIP: provision-hub not built ({hub_bin})")
        sys.exit(SKIP)
    reason = skip_reason() if skip_reason else None
    if not reason and BACKEND == "postgresql":
        reason = pg_skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(SKIP)
    wanted = [a for a in argv[1:] if not a.startswith("-")]
    keep = "--keep" in argv
    print(f"# store: {BACKEND}", flush=True)
    root = tempfile.mkdtemp(prefix=prefix + ".")
    os.chmod(root, 0o755)
    failed = []
    try:
        for fn in cases:
            name = fn.__name__
            if wanted and name not in wanted:
                continue
            tmp = os.path.join(root, name)
            os.makedirs(tmp)
            hub = None
            try:
                hub = Hub(tmp, extra_conf=extra_conf)
                fn(hub)
                check(hub.alive(), f"the hub died (status {hub.proc.poll() if hub.proc else None})")
                check(not hub.responses_5xx, "the hub answered 5xx: " + "; ".join(hub.responses_5xx[:3]))
                hub.assert_no_token_in_log()
                print(f"ok - {name}", flush=True)
            except Exception as e:  # a crash in a case fails it, not the suite
                failed.append(name)
                what = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
                print(f"not ok - {name}: {what}", flush=True)
                if hub:
                    tail = hub.log_text()[-3000:]
                    print("# hub log (tail):\n" + "\n".join("#   " + ln for ln in tail.splitlines()), flush=True)
            finally:
                if hub:
                    hub.stop()
    finally:
        if keep or failed:
            print(f"# work files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if failed:
        print(f"# {len(failed)} failed: {' '.join(failed)}")
        sys.exit(1)
    sys.exit(0)
