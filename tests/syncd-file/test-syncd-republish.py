#!/usr/bin/python3
"""provision-syncd at start, before its first sync (issue 17): a published snapshot that this
build cannot open (another format version after an upgrade, or none) while the store holds a
completed sync is published again from the store, so that the directory users are served
through NSS although the source does not answer. A readable snapshot is left alone, and a store
that never completed a sync publishes nothing."""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.abspath(os.environ["top_srcdir"]), "tests", "lib"))
from syncdnotify import start_syncd  # noqa: E402

builddir = os.environ["top_builddir"]
syncd = os.path.join(builddir, "syncd", "provision-syncd")
nssdir = os.path.join(builddir, "nss_provision", ".libs")

# SnapHeader (common/snapshot-format.h): magic[8], then the version (u32); last_sync_usec at 40.
VERSION_OFFSET = 8
LAST_SYNC_OFFSET = 40


def user(i, name, active=True):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": str(i),
            "userName": name, "active": active}


def fail(msg):
    sys.exit(f"FAIL: {msg}")


class Host:
    def __init__(self, tmp):
        self.tmp = tmp
        self.snapshot = os.path.join(tmp, "state", "snapshot")
        self.directory = os.path.join(tmp, "directory.json")
        self.log = os.path.join(tmp, "log")
        with open(os.path.join(tmp, "passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\n")
        with open(os.path.join(tmp, "group"), "w") as f:
            f.write("root:x:0:\n")
        self.conf = os.path.join(tmp, "syncd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[source]
type = file
path = {self.directory}
[sync]
interval = 3600
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
[enforce]
terminate_sessions = no
""")

    def write_dir(self, users):
        with open(self.directory, "w") as f:
            json.dump({"Users": users, "Groups": []}, f)

    def break_dir(self):
        """A source that does not answer: the sync fails, nothing is applied."""
        with open(self.directory, "w") as f:
            f.write('{"Users": [{"id": "1", "userName": "ada"')

    def getent(self, name):
        env = dict(os.environ, LD_LIBRARY_PATH=nssdir, PROVISION_SNAPSHOT=self.snapshot)
        p = subprocess.run(["getent", "-s", "provision", "passwd", name], env=env, capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None

    def header_u(self, fmt, offset):
        with open(self.snapshot, "rb") as f:
            f.seek(offset)
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

    def run_daemon(self, want_status):
        """Starts the daemon, waits for READY=1 (after the first sync attempt), checks the
        status it reports, stops it with SIGTERM."""
        proc, msg = start_syncd(syncd, self.conf, os.path.join(self.tmp, "notify"), self.log)
        try:
            if "READY=1" not in msg or want_status not in msg:
                fail(f"first notification is not READY=1 with {want_status!r}: {msg!r}\n{self.read_log()}")
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)
        if rc != 0:
            fail(f"exit status {rc} after SIGTERM\n{self.read_log()}")

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def check_served(self, what):
        if not (self.getent("ada") or "").endswith(":/bin/bash"):
            fail(f"{what}: ada is not served through NSS: {self.getent('ada')!r}\n{self.read_log()}")
        if not (self.getent("linus") or "").endswith(":/usr/sbin/nologin"):
            fail(f"{what}: the suspended linus is not served with nologin: {self.getent('linus')!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="test-syncd-republish.")
    os.chmod(tmp, 0o755)
    try:
        h = Host(tmp)
        h.write_dir([user(1, "ada"), user(2, "grace"), user(3, "linus", active=False)])
        h.run_daemon("STATUS=Last sync:")
        h.check_served("after the first sync")
        version = h.header_u("<I", VERSION_OFFSET)
        confirmed = h.header_u("<Q", LAST_SYNC_OFFSET)
        if version < 4 or confirmed == 0:
            fail(f"unexpected header: version {version}, last sync {confirmed}")

        # The source no longer answers from here on.
        h.break_dir()

        # A readable snapshot is not replaced when the first sync fails.
        ino = os.stat(h.snapshot).st_ino
        h.run_daemon("STATUS=Last sync failed:")
        if os.stat(h.snapshot).st_ino != ino:
            fail("a readable snapshot was published again")
        h.check_served("a readable snapshot and a failed sync")

        # After an upgrade: the snapshot is of the previous format version (3).
        with open(h.snapshot, "r+b") as f:
            f.seek(VERSION_OFFSET)
            f.write(struct.pack("<I", 3))
        if h.getent("ada"):
            fail("the NSS module still serves a snapshot of format 3")
        h.run_daemon("STATUS=Last sync failed:")
        h.check_served("a snapshot of format 3 and a failed sync")
        if "publishing the store" not in h.read_log():
            fail(f"the publication from the store is not logged:\n{h.read_log()}")
        if h.header_u("<I", VERSION_OFFSET) != version:
            fail("the snapshot published from the store is not of the current version")
        if h.header_u("<Q", LAST_SYNC_OFFSET) != confirmed:
            fail("the snapshot published from the store claims a newer last sync than the store's")

        # No snapshot at all.
        os.unlink(h.snapshot)
        h.run_daemon("STATUS=Last sync failed:")
        h.check_served("no snapshot and a failed sync")

        # A store that never completed a sync: nothing is published.
        shutil.rmtree(os.path.join(tmp, "state"))
        h.run_daemon("STATUS=Last sync failed:")
        h.run_daemon("STATUS=Last sync failed:")
        if os.path.exists(h.snapshot):
            fail("a snapshot was published from a store that never completed a sync")
        print("ok")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
