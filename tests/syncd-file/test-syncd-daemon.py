#!/usr/bin/python3
"""provision-syncd as a daemon on a directory file: READY=1 and STATUS= over $NOTIFY_SOCKET
after the first sync, a change to the file picked up within an interval, SIGHUP re-reads the
configuration (an invalid one is refused and the old one kept), SIGTERM stops it with exit 0."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.abspath(os.environ["top_srcdir"]), "tests", "lib"))
from syncdnotify import start_syncd  # noqa: E402

builddir = os.environ["top_builddir"]
syncd = os.path.join(builddir, "syncd", "provision-syncd")
nssdir = os.path.join(builddir, "nss_provision", ".libs")


def user(i, name, active=True):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": str(i),
            "userName": name, "active": active}


def write_dir(path, users):
    import json
    tmp = path + ".new"
    with open(tmp, "w") as f:
        json.dump({"Users": users, "Groups": []}, f)
    os.rename(tmp, path)


def getent(tmp, name):
    env = dict(os.environ, LD_LIBRARY_PATH=nssdir, PROVISION_SNAPSHOT=os.path.join(tmp, "state", "snapshot"))
    p = subprocess.run(["getent", "-s", "provision", "passwd", name], env=env, capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def wait_for(pred, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    sys.exit(f"FAIL: timed out waiting for {what}")


def main():
    tmp = tempfile.mkdtemp(prefix="test-syncd-daemon.")
    os.chmod(tmp, 0o755)
    proc = None
    try:
        with open(os.path.join(tmp, "passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\n")
        with open(os.path.join(tmp, "group"), "w") as f:
            f.write("root:x:0:\n")
        conf = os.path.join(tmp, "syncd.conf")
        good_conf = f"""[source]
type = file
path = {tmp}/directory.json
[sync]
interval = 1
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
[enforce]
terminate_sessions = no
"""
        with open(conf, "w") as f:
            f.write(good_conf)
        write_dir(os.path.join(tmp, "directory.json"), [user(1, "ada"), user(2, "grace")])

        proc, msg = start_syncd(syncd, conf, os.path.join(tmp, "notify"), os.path.join(tmp, "log"))
        if "READY=1" not in msg or "STATUS=Last sync:" not in msg:
            sys.exit(f"FAIL: first notification lacks READY=1/STATUS=: {msg!r}")
        if not getent(tmp, "ada"):
            sys.exit("FAIL: READY=1 came before the snapshot served the directory")

        # A leaver at the source is seen within an interval or two.
        write_dir(os.path.join(tmp, "directory.json"), [user(1, "ada", active=False), user(2, "grace")])
        wait_for(lambda: (getent(tmp, "ada") or "").endswith(":/usr/sbin/nologin"), "ada to be suspended")

        # SIGHUP with a broken configuration keeps the old one and keeps syncing.
        with open(conf, "w") as f:
            f.write("[source]\nno_such_key = 1\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        if proc.poll() is not None:
            sys.exit("FAIL: the daemon died on a broken configuration at SIGHUP")
        write_dir(os.path.join(tmp, "directory.json"), [user(1, "ada"), user(2, "grace"), user(3, "linus")])
        wait_for(lambda: getent(tmp, "linus"), "a joiner after a refused reload")

        # SIGHUP with a valid new configuration takes effect (a new home base).
        with open(conf, "w") as f:
            f.write(good_conf + "[accounts]\nhome_base = /srv/home\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (getent(tmp, "linus") or "").find(":/srv/home/linus:") > 0, "the reloaded home_base")

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        if rc != 0:
            sys.exit(f"FAIL: exit status {rc} after SIGTERM")
        proc = None
        print("ok")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
