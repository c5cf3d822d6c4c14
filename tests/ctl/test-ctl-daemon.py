#!/usr/bin/python3
"""provisionctl end to end with the real provision-syncd: the daemon syncs from the real SCIM test
server (tests/scim-server, sample-directory.json) every second, serves org.provision.Syncd1 on a
private dbus-daemon configured like Debian's system bus with the project's policy file, and ends
sessions through the logind mock of tests/lib/logind-mock.py, which records every
TerminateUser. Checked: status --json after the first sync (redacted source URL, daemon running,
sync times, users by state, snapshot generation, no hold, exit 0); sync --full; block -> state
blocked, real PAM (pam_provision.so under pamtester and pam_wrapper, on the daemon's snapshot)
refuses with the blocked message, TerminateUser(uid) exactly once; unblock -> active and PAM
passes; an emptied directory is held by the mass-deprovision guard, listed by status (exit 3)
and applied by approve --yes with TerminateUser for each user; a non-root block refused (exit
6); with the daemon stopped, an action fails with exit 5. Exit 77 when not root or a tool (node
and tests/node_modules, dbus-daemon, busctl, python3-dbusmock, pamtester, pam_wrapper, setpriv)
is missing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlharness import (BUS_NAME, NOBODY, NOT_RUNNING, SYSTEM_LIKE, builddir, check, ctl,  # noqa: E402
                        fail, run_ctl, run_ctl_json, srcdir, start_bus, start_logind, syncd, wait_name)

PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
server_js = os.path.join(srcdir, "tests", "scim-server", "server.js")
sample = os.path.join(srcdir, "tests", "fixtures", "scim", "sample-directory.json")
pam_module = os.path.join(builddir, "pam_provision", ".libs", "pam_provision.so")

TOKEN = "e2e-bearer-token-not-for-print"
URL_SECRET = "url-password-not-for-print"
BLOCKED_MSG = "Your account has been blocked on this host by an administrator. Contact your administrator."
REMOVED_MSG = "Your account has been removed from your organisation's directory. Contact your administrator."

# logind's own bus policy, as its system.d file has it: root owns the name, everybody may call it.
LOGIND_POLICY = """  <policy user="root">
    <allow own="org.freedesktop.login1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.login1"/>
  </policy>"""

tmp = None
conf = None
procs = []


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def preflight():
    if os.geteuid() != 0:
        skip("not root: the bus policy lets only root own org.provision.Syncd1 and call its methods")
    for tool in ("node", "dbus-daemon", "busctl", "pamtester", "setpriv"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    if not os.path.isdir(os.path.join(srcdir, "tests", "node_modules", "scimmy")):
        skip("tests/node_modules missing, run 'cd tests && npm ci'")
    if subprocess.run([PYTHON, "-c", "import dbusmock"], capture_output=True).returncode != 0:
        skip("python3-dbusmock is not installed")
    libdirs = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
    if not any(os.path.exists(os.path.join(d, "libpam_wrapper.so")) for d in libdirs):
        skip("libpam_wrapper.so (libpam-wrapper) is not installed")
    check(os.access(pam_module, os.R_OK), f"{pam_module} is not built")


def pctl(*args, want=0, prefix=()):
    return run_ctl(conf, *args, want=want, prefix=prefix)


def pjson(*args, want=0):
    return run_ctl_json(conf, *args, want=want)


def spawn(argv, log, env=None):
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=open(os.path.join(tmp, log), "w"),
                         stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def logs():
    out = []
    for name in ("syncd.log", "mock.log", "server.log"):
        try:
            with open(os.path.join(tmp, name)) as f:
                out.append(f"--- {name}:\n" + "".join(f.readlines()[-40:]))
        except OSError:
            pass
    return "\n".join(out)


def start_scim_server():
    token_file = os.path.join(tmp, "token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (TOKEN + "\n").encode())
    os.close(fd)
    port_file = os.path.join(tmp, "port")
    p = spawn(["node", server_js, "--port", "0", "--port-file", port_file, "--data", sample,
               "--token-file", token_file], "server.log")
    for _ in range(400):  # a bound on tries, not a time assertion
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = f.read().strip()
            if port:
                return int(port), token_file
        if p.poll() is not None:
            break
        time.sleep(0.05)
    fail(f"the SCIM test server did not start\n{logs()}")


def control(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_control/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        check(r.status == 200, f"/_control/{path} answered {r.status}")


def terminate_calls():
    with open(os.path.join(tmp, "logind-calls")) as f:
        return f.read().splitlines()


def pam(user):
    """pamtester account management and session opening for user under pam_wrapper, with the
    module on the daemon's snapshot; returns (passed, output)."""
    env = dict(os.environ, LD_PRELOAD="libpam_wrapper.so", PAM_WRAPPER="1",
               PAM_WRAPPER_SERVICE_DIR=os.path.join(tmp, "pam.d"),
               PAM_WRAPPER_RUNTIME_DIR=os.path.join(tmp, "pamwrap"), PROVISION_SNAPSHOT="")
    p = subprocess.run(["pamtester", "provision-e2e", user, "acct_mgmt", "open_session", "close_session"],
                       env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p.returncode == 0, p.stdout + p.stderr


def setup_pam(snapshot):
    d = os.path.join(tmp, "pam.d")
    os.mkdir(d)
    os.mkdir(os.path.join(tmp, "pamwrap"))
    with open(os.path.join(d, "other"), "w") as f:
        f.write("account required pam_deny.so\nsession required pam_deny.so\n")
    with open(os.path.join(d, "provision-e2e"), "w") as f:
        f.write(f"account required pam_permit.so\naccount required {pam_module} snapshot={snapshot}\n"
                f"session required pam_permit.so\nsession required {pam_module} snapshot={snapshot}\n")
    # A local user passes: proves the service file is read (an unknown service would deny).
    ok, out = pam("root")
    if not ok:
        skip(f"pamtester under pam_wrapper does not work here: {out[:300]}")


def prop(name):
    addr = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
    p = subprocess.run(["busctl", f"--address={addr}", "get-property", BUS_NAME, "/org/provision/Syncd1",
                        BUS_NAME, name], capture_output=True, text=True)
    check(p.returncode == 0, f"get-property {name}: {p.stderr}")
    return p.stdout.strip()


def by_name(users):
    return {u["name"]: u for u in users}


def main():
    global tmp, conf
    preflight()
    tmp = tempfile.mkdtemp(prefix="test-ctl-daemon.")
    os.chmod(tmp, 0o755)
    daemon = None
    try:
        port, token_file = start_scim_server()

        addr = start_bus(tmp, "sysbus", SYSTEM_LIKE + "\n" + LOGIND_POLICY, procs)
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = addr
        os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        open(os.path.join(tmp, "logind-calls"), "w").close()
        start_logind(addr, os.path.join(tmp, "mock.log"), procs, LOGIND_MOCK_CALLS=os.path.join(tmp, "logind-calls"))

        for f, line in (("passwd", "root:x:0:0::/root:/bin/sh\n"), ("group", "root:x:0:\n")):
            with open(os.path.join(tmp, f), "w") as fh:
                fh.write(line)
        conf = os.path.join(tmp, "syncd.conf")
        with open(conf, "w") as f:
            f.write(f"""[source]
type = scim
url = http://scimadmin:{URL_SECRET}@127.0.0.1:{port}/scim/v2
token_file = {token_file}
allow_insecure_http = yes
[sync]
interval = 1
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
[accounts]
strip_domain = yes
[enforce]
terminate_sessions = yes
""")
        snapshot = os.path.join(tmp, "state", "snapshot")
        setup_pam(snapshot)

        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        daemon = spawn([syncd, "--config", conf, "--foreground"], "syncd.log", env)
        wait_name(addr, BUS_NAME, daemon, "provision-syncd")
        # The name is taken before the first sync; the first sync is done once the store says so.
        for _ in range(400):  # a bound on tries, not a time assertion
            p = subprocess.run([ctl, "--config", conf, "--json", "status"], capture_output=True, text=True)
            if p.returncode == 0 and json.loads(p.stdout)["last_success_usec"] > 0:
                break
            if daemon.poll() is not None:
                fail(f"provision-syncd exited {daemon.returncode}\n{logs()}")
            time.sleep(0.05)
        else:
            fail(f"no successful first sync\n{logs()}")

        status_tests(port, snapshot)
        users = sync_tests()
        block_tests(users)
        nonroot_tests()
        hold_tests(port, snapshot)

        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait()
        procs.remove(daemon)
        check(rc == 0, f"provision-syncd exited {rc} on SIGTERM\n{logs()}")
        # The daemon gone, actions fail with the documented exit code and message; reads still work.
        p = pctl("block", "bruno.silva", want=5)
        check(NOT_RUNNING in p.stderr, f"block without the daemon: {p.stderr}")
        check(pjson("status")["daemon_running"] is False, "status: daemon running after SIGTERM")
        print("ok")
        return 0
    except SystemExit as e:
        if e.code not in (0, 77, None):
            print(logs(), file=sys.stderr)
        raise
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def status_tests(port, snapshot):
    p = pctl("--json", "status")
    check(TOKEN not in p.stdout and URL_SECRET not in p.stdout, f"status --json leaks a secret: {p.stdout}")
    st = json.loads(p.stdout)
    check(st["source"] == {"type": "scim", "url": f"http://127.0.0.1:{port}/scim/v2", "path": None},
          f"status source: {st['source']}")
    check(st["daemon_running"] is True, f"daemon_running: {st['daemon_running']}")
    check(isinstance(st["last_success_usec"], int) and st["last_success_usec"] > 0, f"last success: {st}")
    check(st["last_attempt_usec"] >= st["last_success_usec"], f"last attempt before last success: {st}")
    check(st["last_error"] == "", f"last_error: {st['last_error']!r}")
    # sample-directory.json: 36 users, two of them "active": false; five groups.
    check(st["users"] == {"total": 36, "active": 34, "suspended": 2, "deprovisioned": 0, "blocked": 0},
          f"status users: {st['users']}")
    check(st["groups"] == {"total": 5}, f"status groups: {st['groups']}")
    snap = st["snapshot"]
    check(snap["path"] == snapshot and snap["present"] is True and snap["stale"] is False,
          f"snapshot: {snap}")
    check(st["generation"] >= 1 and snap["generation"] == st["generation"], f"generations: {st}")
    check(isinstance(snap["time_usec"], int) and snap["time_usec"] > 0, f"snapshot time: {snap}")
    check(st["hold"] is None and st["healthy"] is True, f"hold/healthy: {st}")
    check(prop("HeldDeprovisions") == "b false" and prop("LastError") == 's ""', "status properties")
    check(prop("Generation") == f"t {st['generation']}", f"Generation property {prop('Generation')}: {st}")

    p = pctl("status")
    check(TOKEN not in p.stdout and URL_SECRET not in p.stdout, f"status leaks a secret: {p.stdout}")
    check(f"http://127.0.0.1:{port}/scim/v2" in p.stdout, f"status human: no source URL: {p.stdout}")


def sync_tests():
    r = pjson("sync", "--full")
    check(set(r) == {"held", "generation", "summary"}, f"sync --json fields: {r}")
    check(r["held"] is False and isinstance(r["generation"], int) and r["generation"] >= 1,
          f"sync --full: {r}")
    check(r["summary"].startswith("full: 36 users, 5 groups seen;") and "0 deprovisioned" in r["summary"],
          f"sync --full summary: {r['summary']}")
    p = pctl("sync")
    check("delta:" in p.stdout or "full:" in p.stdout, f"sync output has no summary: {p.stdout}")
    users = by_name(pjson("users")["users"])
    check(len(users) == 36 and users["alice.martin"]["state"] == "active", f"users: {sorted(users)}")
    check(users["liam.obrien"]["state"] == "suspended", f"liam: {users['liam.obrien']}")
    return users


def block_tests(users):
    alice = users["alice.martin"]
    ok, out = pam("alice.martin")
    check(ok, f"PAM refused an active user before the block:\n{out}")

    before = terminate_calls()
    p = pctl("block", "alice.martin")
    check("alice.martin" in p.stdout, f"block output: {p.stdout}")
    gen = pjson("status")["generation"]
    check(prop("Generation") == f"t {gen}",
          f"Generation property after block: {prop('Generation')}, store {gen}")
    u = by_name(pjson("users")["users"])["alice.martin"]
    check(u["state"] == "blocked" and u["blocked"] is True and u["source_active"] is True,
          f"after block: {u}")
    check([x["name"] for x in pjson("users", "--state", "blocked")["users"]] == ["alice.martin"],
          "users --state blocked")
    ok, out = pam("alice.martin")
    check(not ok and BLOCKED_MSG in out,
          f"PAM did not refuse the blocked user with the blocked message:\n{out}")
    # A sync after the block: the source says active, the block wins, no second TerminateUser.
    pctl("sync")
    check(by_name(pjson("users")["users"])["alice.martin"]["state"] == "blocked", "a sync undid the block")
    new = terminate_calls()[len(before):]
    check(new == [f"TerminateUser {alice['uid']}"], f"TerminateUser calls after block: {new}")
    check(pjson("status")["users"]["blocked"] == 1, "status does not count the blocked user")

    n = len(terminate_calls())
    pctl("unblock", "alice.martin")
    u = by_name(pjson("users")["users"])["alice.martin"]
    check(u["state"] == "active" and u["blocked"] is False, f"after unblock: {u}")
    ok, out = pam("alice.martin")
    check(ok, f"PAM refused the unblocked user:\n{out}")
    check(len(terminate_calls()) == n, f"unblock terminated sessions: {terminate_calls()[n:]}")
    pctl("status")


def nonroot_tests():
    n = len(terminate_calls())
    p = pctl("block", "bruno.silva", want=6, prefix=NOBODY)
    check("Permission denied" in p.stderr, f"non-root block: {p.stderr}")
    u = by_name(pjson("users")["users"])["bruno.silva"]
    check(u["state"] == "active" and u["blocked"] is False, f"a non-root block took effect: {u}")
    check(len(terminate_calls()) == n, "a non-root block terminated sessions")


def hold_tests(port, snapshot):
    users = by_name(pjson("users")["users"])
    before = terminate_calls()
    control(port, "reset", {"Users": [], "Groups": []})

    r = pjson("sync", "--full", want=3)
    check(r["held"] is True, f"sync --full of an empty directory was not held: {r}")
    st = pjson("status", want=3)
    hold = st["hold"]
    check(isinstance(hold, dict) and set(hold) == {"id", "deprovisions", "total"}, f"status hold: {hold}")
    check(hold["id"] >= 1 and hold["deprovisions"] == 36 and hold["total"] == 36, f"hold numbers: {hold}")
    check(st["healthy"] is False, f"healthy with a pending hold: {st}")
    check(st["users"]["deprovisioned"] == 0, f"a held deprovision was applied: {st['users']}")
    check("would be deprovisioned" in pctl("status", want=3).stdout, "status human: no hold line")
    ok, out = pam("alice.martin")
    check(ok, f"PAM refused a user whose deprovision is only held:\n{out}")
    check(terminate_calls() == before, f"TerminateUser during a hold: {terminate_calls()[len(before):]}")
    # A delta sync cannot deprovision and leaves the hold pending: still held, property and all.
    r = pjson("sync", want=3)
    check(r["held"] is True and prop("HeldDeprovisions") == "b true", f"delta sync during a hold: {r}")
    check(pjson("status", want=3)["hold"] == hold, "the hold changed after a delta sync")

    p = pctl("approve", "--yes")
    check(f"Hold {hold['id']}" in p.stdout and "Approved" in p.stdout, f"approve --yes: {p.stdout}")
    after = by_name(pjson("users")["users"])
    left = [(n, u["state"]) for n, u in after.items() if u["state"] != "deprovisioned"]
    check(len(after) == 36 and not left, f"not all deprovisioned: {left}")
    st = pjson("status")
    check(st["hold"] is None and st["users"]["deprovisioned"] == 36, f"status after approve: {st}")
    check(prop("HeldDeprovisions") == "b false", "HeldDeprovisions still true after approve")
    check(prop("Generation") == f"t {st['generation']}",
          f"Generation property after approve: {prop('Generation')}")
    ok, out = pam("alice.martin")
    check(not ok and REMOVED_MSG in out, f"PAM did not refuse a deprovisioned user:\n{out}")

    new = terminate_calls()[len(before):]
    want = sorted(f"TerminateUser {u['uid']}" for u in users.values())
    check(sorted(new) == want, f"TerminateUser after approve: {len(new)} calls, expected one per user:\n"
          f"missing {sorted(set(want) - set(new))}, extra {sorted(set(new) - set(want))}")


if __name__ == "__main__":
    sys.exit(main())
