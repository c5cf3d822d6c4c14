#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Groups current at sign-in (issue 19 item 3), end to end with real components only: the real
provision-syncd (--foreground, interval 3600 s so that no regular sync happens during a case),
the project's SCIM test server (tests/scim-server/server.js), and the real pam_provision.so
driven by pamtester under pam_wrapper with a service file in a temporary directory; what NSS
serves is read through the real NSS module (getent -s provision, PROVISION_SNAPSHOT).

The module asks the daemon over a Unix socket; the daemon fetches the one user (and the user's
groups) from the server and publishes a new snapshot before the module decides. No case asserts
a wall-clock figure: a deadline shows as the module's log line saying the request was
abandoned, and as a decision taken on the old snapshot.

Run a subset: test-refresh.py CASE... [--keep]. Exit 0, 1, or 77 (something missing)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

here = os.path.dirname(os.path.abspath(__file__))
srcdir = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(here, "..", ".."))
sys.path.insert(0, os.path.join(srcdir, "tests", "syncd-scim"))
import scimharness  # noqa: E402
from scimharness import check, group, run_suite, user, wait_for  # noqa: E402

TOKEN = f"tok-{os.getpid()}-RefreshSecret9"
module = os.path.join(scimharness.builddir, "pam_provision", ".libs", "pam_provision.so")

EXPIRED = "User account has expired"
UNAVAIL = "Authentication service cannot retrieve authentication info"


def directory():
    """user01..user05; eng = user01, user02; ops = user03 (user01 joins it at the source later)."""
    users = [user(i) for i in range(1, 6)]
    groups = [group("g-eng", "eng", ["id-0001", "id-0002"]),
              group("g-ops", "ops", ["id-0003"])]
    return users, groups


def service(case, name, *args):
    """A service file as distributions build the stack: pam_permit first, then the module."""
    svc = os.path.join(case.dir, "pam.d")
    os.makedirs(svc, exist_ok=True)
    other = os.path.join(svc, "other")
    if not os.path.exists(other):
        with open(other, "w") as f:
            f.write("account required pam_deny.so\nsession required pam_deny.so\n")
    with open(os.path.join(svc, name), "w") as f:
        f.write("account requisite pam_permit.so\n")
        f.write(f"account required {module} debug snapshot={case.snapshot} " + " ".join(args) + "\n")
    return svc


def pam_account(case, svc_name, who, *args, env_extra=None, as_nobody=False):
    """pamtester acct_mgmt under pam_wrapper; (passed, output incl. the module's syslog lines).
    as_nobody runs it as uid/gid 65534 (a screen locker's PAM stack runs as the user)."""
    svc = service(case, svc_name, *args)
    runtime = os.path.join(case.dir, "pamwrap-nobody" if as_nobody else "pamwrap")
    os.makedirs(runtime, exist_ok=True)
    if as_nobody:
        os.chmod(runtime, 0o777)
    preload = os.environ.get("LD_PRELOAD")
    env = dict(os.environ, LD_PRELOAD=(preload + " " if preload else "") + "libpam_wrapper.so", PAM_WRAPPER="1",
               PAM_WRAPPER_SERVICE_DIR=svc, PAM_WRAPPER_RUNTIME_DIR=runtime, PAM_WRAPPER_DEBUGLEVEL="3",
               PROVISION_SNAPSHOT="")
    env.pop("PROVISION_REFRESH_SOCKET", None)
    env.update(env_extra or {})
    cmd = ["pamtester", svc_name, who, "acct_mgmt"]
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    # The timeout only keeps a broken build from hanging make check; the module's own deadline
    # is what the cases check, through its log.
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    with open(os.path.join(case.dir, "pam.log"), "a") as f:
        f.write(f"--- {svc_name} {who} {' '.join(args)}: exit {p.returncode}\n{out}")
    return p.returncode == 0, out


def start(srv, case, users=None, groups=None, **conf):
    """A fresh directory at the source, a daemon that synced it once and listens on its socket."""
    u, g = directory()
    srv.reset(users if users is not None else u, groups if groups is not None else g)
    case.refresh_sock = os.path.join(case.dir, "refresh.sock")
    write_conf(case, **conf)
    case.start_daemon()
    check(os.path.exists(case.refresh_sock), "the daemon does not listen on its refresh socket: " + case.log_tail())
    srv.control("POST", "stats/reset")


def write_conf(case, **kw):
    """The harness's configuration (interval 3600 s) with refresh_socket in [paths]."""
    kw.setdefault("sync", {"interval": "3600"})
    case.write_conf(**kw)
    with open(case.conf) as f:
        text = f.read()
    with open(case.conf, "w") as f:
        f.write(text.replace("[paths]\n", f"[paths]\nrefresh_socket = {case.refresh_sock}\n", 1))


def user_lookups(srv, name, scim_id=None):
    """GET /Users?filter=userName eq "NAME" (or id eq "SCIM_ID": how a known account is asked
    for) that the server answered since the last reset."""
    wanted = {f'username eq "{name}"'} | ({f'id eq "{scim_id}"'} if scim_id else set())
    return [e for e in srv.request_log()
            if e["method"] == "GET" and e["path"].endswith("/Users")
            and (e.get("query") or {}).get("filter", "").lower() in wanted]


def sock_arg(case):
    return f"refresh_socket={case.refresh_sock}"


# ------------------------------------------------------------------------------------------ cases

def test_group_added_at_source_is_present_after_account(srv, case):
    start(srv, case)
    check(case.members("ops") == ["user03"], f"ops before: {case.members('ops')}")
    srv.patch("Groups", "g-ops", [{"op": "add", "path": "members", "value": [{"value": "id-0001"}]}])
    # No sync ran since: the snapshot does not know yet.
    check(case.members("ops") == ["user03"], "a sync ran although the interval is an hour")
    ok, out = pam_account(case, "refresh", "user01", "refresh_on_login", sock_arg(case))
    check(ok, f"user01 refused: {out}")
    check("refresh of 'user01': ok" in out, f"the module did not log the daemon's answer: {out}")
    check(case.members("ops") == ["user01", "user03"], f"ops after the account step: {case.members('ops')}")
    check(case.members("eng") == ["user01", "user02"], f"eng lost members: {case.members('eng')}")
    check(len(user_lookups(srv, "user01", "id-0001")) == 1, f"expected one lookup of user01: {srv.request_log()}")
    groups_q = [e for e in srv.request_log() if e["path"].endswith("/Groups")]
    check(any('members[value eq "id-0001"]' in (e.get("query") or {}).get("filter", "") for e in groups_q),
          f"no /Groups request by member: {groups_q}")
    case.daemon_alive()


def test_strip_domain_account_is_asked_by_id(srv, case):
    """With strip_domain the login name is not the userName: a known account is asked by its id."""
    users = [user(i, name=f"user{i:02d}@example.com") for i in range(1, 6)]
    start(srv, case, users=users, accounts={"strip_domain": "yes"})
    check(case.members("ops") == ["user03"], f"ops before: {case.members('ops')}")
    srv.patch("Groups", "g-ops", [{"op": "add", "path": "members", "value": [{"value": "id-0001"}]}])
    ok, out = pam_account(case, "refresh", "user01", "refresh_on_login", sock_arg(case))
    check(ok and "refresh of 'user01': ok" in out, f"user01: {out}")
    check(case.members("ops") == ["user01", "user03"], f"ops after the account step: {case.members('ops')}")
    by_id = [e for e in srv.request_log() if e["path"].endswith("/Users")
             and (e.get("query") or {}).get("filter", "") == 'id eq "id-0001"']
    check(len(by_id) == 1, f"user01 not asked by id: {srv.request_log()}")


def test_user_suspended_at_source_is_refused_at_login(srv, case):
    start(srv, case)
    ok, out = pam_account(case, "plain", "user02")
    check(ok, f"active user02 refused before the suspension: {out}")
    srv.patch("Users", "id-0002", [{"op": "replace", "path": "active", "value": False}])
    ok, out = pam_account(case, "refresh", "user02", "refresh_on_login", sock_arg(case))
    check(not ok and EXPIRED in out, f"user02 suspended at the source was not refused: {out}")
    check("refusing user 'user02': account suspended" in out, f"no refusal log line: {out}")
    # Without the option the module only reads the snapshot, which the refresh updated.
    ok, out = pam_account(case, "plain", "user02")
    check(not ok and EXPIRED in out, f"the refresh did not reach the snapshot: {out}")


def test_joiner_unknown_to_the_snapshot_is_known_after_account(srv, case):
    start(srv, case)
    check(case.passwd("newhire") is None, "newhire known before being created")
    srv.scim("POST", "/Users", {"schemas": [scimharness.CORE_USER], "userName": "newhire", "active": True,
                                "displayName": "New Hire"})
    check(case.passwd("newhire") is None, "a sync ran although the interval is an hour")
    ok, out = pam_account(case, "refresh", "newhire", "refresh_on_login", sock_arg(case))
    check(ok, f"newhire refused: {out}")
    check("user 'newhire' is active" in out, f"the module did not decide on the refreshed snapshot: {out}")
    check(case.passwd("newhire") is not None, "newhire is not served by NSS after the account step")
    # A name the directory does not know either: asked, then ignored as before (local accounts).
    ok, out = pam_account(case, "refresh", "localuser", "refresh_on_login", sock_arg(case))
    check(ok and "not in the snapshot, ignoring" in out, f"local user: {out}")
    check("refresh of 'localuser': ok unknown" in out, f"local user: unexpected answer: {out}")


def test_groups_filter_refused_user_alone(srv, case):
    """A server that refuses the members filter (400 invalidFilter): the user is refreshed alone."""
    start(srv, case)
    srv.patch("Users", "id-0002", [{"op": "replace", "path": "active", "value": False}])
    body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                       "scimType": "invalidFilter", "detail": "members filter not supported"})
    srv.fault(path="/Groups", method="GET", status=400, body=body, count=5)
    ok, out = pam_account(case, "refresh", "user02", "refresh_on_login", sock_arg(case))
    check(not ok and EXPIRED in out, f"user02 suspended at the source was not refused: {out}")
    check("refresh of 'user02': ok" in out, f"the refresh did not succeed without groups: {out}")
    srv.control("DELETE", "fault")


def test_server_hanging_decision_on_old_snapshot(srv, case):
    start(srv, case)
    srv.patch("Users", "id-0003", [{"op": "replace", "path": "active", "value": False}])
    srv.fault(path="/Users", method="GET", delayMs=10000, count=10)
    ok, out = pam_account(case, "refresh", "user03", "refresh_on_login", sock_arg(case))
    # The refresh did not come through: the old snapshot says active, and so does the module.
    check(ok, f"user03 refused although the refresh could not complete: {out}")
    check("refresh of 'user03'" in out and ("timed out" in out or "error timeout" in out),
          f"the module did not log the abandoned refresh: {out}")
    check("deciding on the snapshot as it is" in out, f"no fallback log line: {out}")
    check(case.passwd("user03") is not None, "user03 vanished")
    # fail_closed: a user of ours is refused when the refresh fails ...
    ok, out = pam_account(case, "closed", "user04", "refresh_on_login", "fail_closed", sock_arg(case))
    check(not ok and UNAVAIL in out, f"fail_closed did not refuse user04 (PAM_AUTHINFO_UNAVAIL): {out}")
    check("refusing user 'user04': refresh failed (fail_closed)" in out, f"no fail_closed log line: {out}")
    # ... a local user and root are not.
    ok, out = pam_account(case, "closed", "localuser", "refresh_on_login", "fail_closed", sock_arg(case))
    check(ok, f"fail_closed refused a local user: {out}")
    ok, out = pam_account(case, "closed", "root", "refresh_on_login", "fail_closed", sock_arg(case))
    check(ok, f"fail_closed refused root: {out}")
    srv.control("DELETE", "fault")
    case.daemon_alive()


def test_daemon_not_answering_module_abandons_at_deadline(srv, case):
    """A daemon that accepts and never answers (a listener of this test standing for a hung loop)."""
    start(srv, case)
    hung = os.path.join(case.dir, "hung.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(hung)
    ls.listen(8)
    held = []
    stop = threading.Event()

    def accept_and_hold():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(ls.accept()[0])
            except socket.timeout:
                pass
    t = threading.Thread(target=accept_and_hold, daemon=True)
    t.start()
    try:
        ok, out = pam_account(case, "hung", "user01", "refresh_on_login", "refresh_timeout=300",
                              f"refresh_socket={hung}")
        check(ok and "user 'user01' is active" in out, f"user01 not decided on the snapshot: {out}")
        check("timed out after 300 ms, request abandoned" in out, f"no abandon log line: {out}")
        check(held, "the module never connected")
        ok, out = pam_account(case, "hung-closed", "user01", "refresh_on_login", "refresh_timeout=300", "fail_closed",
                              f"refresh_socket={hung}")
        check(not ok and UNAVAIL in out, f"fail_closed with a hung daemon: {out}")
        # No daemon at all: the same fallback, at once.
        ok, out = pam_account(case, "nodaemon", "user01", "refresh_on_login",
                              f"refresh_socket={case.dir}/no-such.sock")
        check(ok and "failed: No such file or directory" in out, f"missing socket: {out}")
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        ls.close()


def test_per_user_rate_limit_one_request(srv, case):
    start(srv, case)
    ok1, out1 = pam_account(case, "refresh", "user05", "refresh_on_login", sock_arg(case))
    # The second one finds the socket through the environment (what tests and containers use).
    ok2, out2 = pam_account(case, "refresh-env", "user05", "refresh_on_login",
                            env_extra={"PROVISION_REFRESH_SOCKET": case.refresh_sock})
    check(ok1 and ok2, f"user05 refused: {out1} {out2}")
    check("refresh of 'user05': ok cached" in out2, f"the second login was not answered from the rate limit: {out2}")
    n = len(user_lookups(srv, "user05", "id-0005"))
    check(n == 1, f"expected one SCIM lookup of user05 for two quick logins, got {n}: {srv.request_log()}")
    # Another name is not held back by it.
    ok, out = pam_account(case, "refresh", "user04", "refresh_on_login", sock_arg(case))
    check(ok and "refresh of 'user04': ok" in out and "ok cached" not in out, f"user04: {out}")


def test_unprivileged_caller_is_denied(srv, case):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("# skipped: needs root and setpriv")
        return
    start(srv, case)
    os.chmod(case.dir, 0o755)
    srv.patch("Users", "id-0002", [{"op": "replace", "path": "active", "value": False}])
    ok, out = pam_account(case, "refresh", "user02", "refresh_on_login", "fail_closed", sock_arg(case),
                          as_nobody=True)
    # Decided on the snapshot as it is (active), not refused by fail_closed, the directory not asked.
    check(ok and "user 'user02' is active" in out, f"unprivileged caller: {out}")
    check("the daemon takes requests from root only" in out, f"no denial logged: {out}")
    check(not user_lookups(srv, "user02", "id-0002"),
          f"the directory was asked for an unprivileged caller: {srv.request_log()}")
    # The same login through a root service refreshes and refuses.
    ok, out = pam_account(case, "refresh", "user02", "refresh_on_login", sock_arg(case))
    check(not ok and EXPIRED in out, f"root caller: {out}")


HOLDER = """
import socket, sys, time
path = sys.argv[1]
conns, told = [], False
while True:
    conns = [c for c in conns if c.fileno() >= 0]
    while len(conns) < 24:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.setblocking(False)
        conns.append(c)
    if not told:
        print("ready", flush=True)
        told = True
    time.sleep(0.05)
    for c in conns:
        try:
            if c.recv(64) == b"":
                c.close()
        except BlockingIOError:
            pass
        except OSError:
            c.close()
"""


def test_unprivileged_connections_do_not_block_root(srv, case):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("# skipped: needs root and setpriv")
        return
    start(srv, case)
    os.chmod(case.dir, 0o755)
    # A local user keeps 24 connections open without a request (more than the daemon takes at
    # once), opening new ones as the daemon drops the idle ones.
    holder = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/usr/bin/python3", "-c", HOLDER, case.refresh_sock],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline()
        if line != "ready\n":
            holder.kill()
            check(False, f"the holder did not open its connections: {line!r} {holder.stderr.read()}")
        srv.patch("Users", "id-0002", [{"op": "replace", "path": "active", "value": False}])
        ok, out = pam_account(case, "refresh", "user01", "refresh_on_login", "fail_closed", sock_arg(case))
        check(ok and "refresh of 'user01': ok" in out, f"root's login while a local user holds connections: {out}")
        ok, out = pam_account(case, "refresh", "user02", "refresh_on_login", "fail_closed", sock_arg(case))
        check(not ok and EXPIRED in out, f"user02 (suspended at the source) while connections are held: {out}")
    finally:
        holder.kill()
        holder.wait()


def test_file_source_answers_unsupported(srv, case):
    start(srv, case)
    case.stop_daemon()
    case.sock.close()
    os.unlink(os.path.join(case.dir, "notify"))
    directory_file = os.path.join(case.dir, "directory.json")
    u, g = directory()
    with open(directory_file, "w") as f:
        json.dump({"Users": u, "Groups": g}, f)
    write_conf(case, source={"type": "file", "path": directory_file})
    with open(case.conf) as f:  # the SCIM keys do not belong to a file source
        lines = [ln for ln in f if ln.split("=")[0].strip() not in ("url", "token_file", "allow_insecure_http",
                                                                     "timeout")]
    with open(case.conf, "w") as f:
        f.writelines(lines)
    case.start_daemon()
    ok, out = pam_account(case, "refresh", "user01", "refresh_on_login", sock_arg(case))
    check(ok and "no refresh of 'user01': the daemon's source cannot refresh" in out, f"file source: {out}")
    check("deciding on the snapshot as it is" not in out, f"unsupported logged as a failure: {out}")


CASES = [
    test_group_added_at_source_is_present_after_account,
    test_strip_domain_account_is_asked_by_id,
    test_user_suspended_at_source_is_refused_at_login,
    test_joiner_unknown_to_the_snapshot_is_known_after_account,
    test_groups_filter_refused_user_alone,
    test_server_hanging_decision_on_old_snapshot,
    test_daemon_not_answering_module_abandons_at_deadline,
    test_per_user_rate_limit_one_request,
    test_unprivileged_caller_is_denied,
    test_unprivileged_connections_do_not_block_root,
    test_file_source_answers_unsupported,
]


def skip_reason():
    if not shutil.which("pamtester"):
        return "pamtester is not installed"
    if not os.path.exists(module):
        return f"{module} is not built"
    probe = subprocess.run(["sh", "-c", "ls /usr/lib/*/libpam_wrapper.so /usr/lib64/libpam_wrapper.so "
                                        "/usr/lib/libpam_wrapper.so 2>/dev/null"], capture_output=True, text=True)
    if not probe.stdout.strip():
        return "pam_wrapper (libpam_wrapper.so) is not installed"
    return None


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(77)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    run_suite(CASES, TOKEN, sys.argv)
