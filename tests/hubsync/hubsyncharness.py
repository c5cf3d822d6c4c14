# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tests of provision-syncd's hub source (tests/hubsync/test-*.py) share: running named
cases with PASS/FAIL lines, the end of a run (the summary line, the temporary directory kept
on failure), and a Follower: one host (a provision-syncd daemon following the hub's feed) with
its own private system bus and logind mock. The hub and the host's files come from
tests/hub/hubharness.py (used read-only), the bus and the mock from tests/lib/logindbus.py."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
for _d in ("hub", "lib"):
    if os.path.join(SRCDIR, "tests", _d) not in sys.path:
        sys.path.insert(0, os.path.join(SRCDIR, "tests", _d))
import hubharness as H  # noqa: E402
import logindbus  # noqa: E402
from hubharness import Failure, check  # noqa: E402



def skip_reason():
    """Why the hub-source tests cannot run here, or None."""
    for what, ok in ((H.hub_bin, os.access(H.hub_bin, os.X_OK)), (H.syncd_bin, os.access(H.syncd_bin, os.X_OK))):
        if not ok:
            return f"{what} is not built"
    if H.host_skip_reason():
        return H.host_skip_reason()
    if not shutil.which("busctl"):
        return "busctl is not installed"
    return logindbus.skip_reason()


def free_port():
    """A loopback port free now: a hub restarted under the same URL keeps it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def waiters(hub):
    """Feed requests the hub holds now (its /metrics gauge)."""
    r = hub.request("GET", "//metrics", token="admin")
    check(r.status == 200, f"/metrics answered {r!r}")
    for line in r.raw.decode().splitlines():
        if line.startswith("provision_hub_feed_waiters "):
            return int(float(line.split()[1]))
    raise Failure("/metrics has no provision_hub_feed_waiters")


def head(hub):
    """The hub's head seq (its feed, or its snapshot when the feed answers 410)."""
    r = hub.request("GET", "//v1/feed?since=0", token="host", headers={"Prefer": "wait=0"})
    if r.status == 410:
        r = hub.request("GET", "//v1/snapshot", token="host")
    check(r.status == 200 and isinstance(r.json, dict), f"cannot read the hub's head: {r!r}")
    return r.json["seq"]


class Follower:
    """One host following the hub: tmp/NAME holds its config, state, private bus, logind mock
    call log and daemon log. host_id (32 hex digits) and NAME are what it tells the hub."""

    def __init__(self, tmp, hub, name="host", host_id=None, feed_wait=30, poll=False, stamp=None):
        """poll: follow the hub's /scim/v2 with the polling SCIM source at its default interval
        instead of the feed (a baseline); stamp: the logind mock's LOGIND_MOCK_STAMP."""
        self.tmp, self.hub, self.name = tmp, hub, name
        self.procs = []
        self.daemon = None
        # Each host its own host token, bound by the hub to the first host it names.
        self.host = H.Host(tmp, hub.url if poll else hub.base, hub.new_token("host", f"host-{name}"), name=name)
        self.dir = self.host.dir
        self.calls = os.path.join(self.dir, "logind-calls")
        self.daemon_log = os.path.join(self.dir, "syncd.log")
        if poll:
            del self.host.sections["sync"]["interval"]  # the default
        else:
            src = {"type": "hub", "url": hub.base, "feed_wait": str(feed_wait), "host_name": name}
            if host_id:
                src["host_id"] = host_id
            self.host.sections["source"].update(src)
        self.host.sections["enforce"]["terminate_sessions"] = "yes"
        self.host._write()
        open(self.calls, "w").close()
        mock_env = {"LOGIND_MOCK_CALLS": self.calls}
        if stamp:
            mock_env["LOGIND_MOCK_STAMP"] = stamp
        self.bus = logindbus.private_logind(self.dir, self.procs, what=f"the logind mock of {name}", **mock_env)

    # ------------------------------------------------------------ logind mock

    def terminated(self):
        """The uids TerminateUser was called for, in order."""
        with open(self.calls) as f:
            return [int(line.split()[1]) for line in f if line.startswith("TerminateUser ")]

    def add_session(self, sid, uid, user):
        """A logind session of uid on the mock (seat0), as a login would make."""
        p = subprocess.run(["busctl", f"--address={self.bus}", "call", "org.freedesktop.login1",
                            "/org/freedesktop/login1", "org.freedesktop.DBus.Mock", "AddSession", "ssusb",
                            sid, "seat0", str(uid), user, "true"], capture_output=True, text=True)
        check(p.returncode == 0, f"AddSession on {self.name}'s logind mock: {p.stderr}")

    # ------------------------------------------------------------ the daemon

    def start(self):
        """Starts provision-syncd and waits for its READY=1."""
        sock_path = os.path.join(self.dir, "notify")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, DBUS_SYSTEM_BUS_ADDRESS=self.bus)
        for k in ("JOURNAL_STREAM", "DBUS_SESSION_BUS_ADDRESS", "http_proxy", "https_proxy", "ALL_PROXY"):
            env.pop(k, None)
        self.daemon = subprocess.Popen([H.syncd_bin, "--config", self.host.conf, "--foreground", "--debug"], env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=open(self.daemon_log, "a"))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if "READY=1" in sock.recv(4096).decode():
                        return
                except socket.timeout:
                    break
        finally:
            sock.close()
        raise Failure(f"{self.name}: the daemon sent no READY=1: " + self.log_tail())

    def log_tail(self, n=3000):
        try:
            return open(self.daemon_log, errors="replace").read()[-n:]
        except OSError:
            return ""

    def alive(self):
        check(self.daemon and self.daemon.poll() is None, f"{self.name}: the daemon died: {self.log_tail()}")

    def stop(self, sig=signal.SIGTERM):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(sig)
            self.daemon.wait(timeout=20)
        self.daemon = None

    def seq(self):
        """The hub seq the host has applied (its store), or None."""
        rows = self.host.sql("SELECT value FROM sync_state WHERE key = 'hub_seq'")
        return int(rows[0][0]) if rows else None

    def cleanup(self):
        try:
            self.stop()
        except Exception:
            if self.daemon:
                self.daemon.kill()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


class Cases:
    def __init__(self):
        self.passed = self.failed = 0

    def run(self, name, fn, detail=lambda: "", stop=False):
        """Runs fn; a Failure is a FAIL line with detail() after it, and is raised again when
        stop is set (cases that build on each other)."""
        try:
            fn()
        except Failure as e:
            print(f"FAIL: {name}: {e}" + (f"\n{detail()}" if detail else ""))
            self.failed += 1
            if stop:
                raise
            return
        print(f"PASS: {name}")
        self.passed += 1

    def finish(self, tmp, keep=False):
        """Removes tmp unless kept or something failed; prints the summary; the exit code."""
        if keep or self.failed:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{self.passed} passed, {self.failed} failed, 0 skipped")
        return 1 if self.failed else 0
