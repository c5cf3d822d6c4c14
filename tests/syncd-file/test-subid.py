#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Subordinate id ranges (issue 20, item 1), end to end with the real provision-syncd and a file
source, private state and private passwd, group, subuid and subgid files:

1. The Debian 12 layout: seven local users own 100000..558751 in /etc/subuid and /etc/subgid.
   With the default uid_min..uid_max (200000..524287, all inside those ranges) no directory user
   is given an id: each is refused ("no free uid left"), nothing is served.
2. With uid_max = 999999, a directory of 300 users with hashed uids and 20 groups with hashed
   gids: every one is served, and no served uid or gid lies in any range.
3. A range added later (a new local user) that covers a stored account's uid, and a subgid
   range over a group's gid: the account and the group are no longer served (snapshot, and
   getent through the real NSS module), each has an audit 'reject' row, and the stored uid and
   gid are unchanged (never renumbered).
4. The daemon warns at start that uid_min..uid_max meets login.defs' SUB_UID/SUB_GID ranges, and
   does not when login.defs moves them away; `provisionctl status` says the same.
5. If newuidmap(1) is installed and user namespaces work here: the local user who owns a range
   can map the ids of its own range, and newuidmap refuses to map a directory user's uid.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile

BUILD = os.environ.get("top_builddir", ".")
SYNCD = os.path.join(BUILD, "syncd", "provision-syncd")
CTL = os.path.join(BUILD, "ctl", "provisionctl")
SNAPCHECK = os.path.join(BUILD, "tests", "robust", "snapcheck")
NSSDIR = os.path.join(BUILD, "nss_provision", ".libs")
U = "urn:ietf:params:scim:schemas:core:2.0:User"
G = "urn:ietf:params:scim:schemas:core:2.0:Group"

N_USERS = 300
N_GROUPS = 20
LOCAL_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]
# useradd on Debian 12: 65536 ids per user from SUB_UID_MIN = 100000 on.
DEBIAN_RANGES = [(name, 100000 + 65536 * i, 65536) for i, name in enumerate(LOCAL_USERS)]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def subid_text(ranges):
    return "".join(f"{owner}:{start}:{count}\n" for owner, start, count in ranges)


def in_ranges(i, ranges):
    return any(start <= i < start + count for _, start, count in ranges)


def conf_text(tmp, uid_max=None):
    return f"""[source]
type = file
path = {tmp}/directory.json
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
subuid_file = {tmp}/subuid
subgid_file = {tmp}/subgid
login_defs = {tmp}/login.defs
[accounts]
{"uid_max = %d" % uid_max if uid_max else ""}
[sync]
max_deprovision = 100%
[enforce]
terminate_sessions = no
"""


def directory(tmp):
    users = [{"schemas": [U], "id": f"u-{i:04d}", "userName": f"dir{i:04d}", "active": True}
             for i in range(N_USERS)]
    groups = [{"schemas": [G], "id": f"g-{k:02d}", "displayName": f"team{k:02d}",
               "members": [{"value": f"u-{i:04d}"} for i in range(k, N_USERS, N_GROUPS)]}
              for k in range(N_GROUPS)]
    write(os.path.join(tmp, "directory.json"), json.dumps({"Users": users, "Groups": groups}))


def run_syncd(tmp):
    p = subprocess.run([SYNCD, "--config", os.path.join(tmp, "syncd.conf"), "--once"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        print(out[-3000:])
    return p.returncode, out


def snapshot(tmp):
    """(users {name: (uid, gid)}, groups {name: gid}) served by the snapshot."""
    p = subprocess.run([SNAPCHECK, os.path.join(tmp, "state", "snapshot"), "--dump"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    users, groups = {}, {}
    for line in p.stdout.decode().splitlines():
        kind, _, rest = line.partition(" ")
        f = rest.split(":")
        if kind == "passwd":
            users[f[0]] = (int(f[2]), int(f[3]))
        elif kind == "group":
            groups[f[0]] = int(f[2])
    return users, groups


def store(tmp):
    return sqlite3.connect(f"file:{tmp}/state/store.db?mode=ro", uri=True)


def getent(tmp, db, key):
    env = dict(os.environ, LD_LIBRARY_PATH=NSSDIR, PROVISION_SNAPSHOT=os.path.join(tmp, "state", "snapshot"))
    p = subprocess.run(["getent", "-s", "provision", db, str(key)], env=env, capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def setup(tmp, uid_max=None):
    os.chmod(tmp, 0o755)
    write(os.path.join(tmp, "passwd"), "root:x:0:0::/root:/bin/sh\n" + "".join(
        f"{n}:x:{1000 + i}:{1000 + i}::/home/{n}:/bin/bash\n" for i, n in enumerate(LOCAL_USERS)))
    write(os.path.join(tmp, "group"), "root:x:0:\n" + "".join(
        f"{n}:x:{1000 + i}:\n" for i, n in enumerate(LOCAL_USERS)))
    write(os.path.join(tmp, "subuid"), "# rootless containers\n" + subid_text(DEBIAN_RANGES))
    write(os.path.join(tmp, "subgid"), subid_text(DEBIAN_RANGES))
    write(os.path.join(tmp, "syncd.conf"), conf_text(tmp, uid_max))
    directory(tmp)


def test_debian_default_range():
    """Phase 1: the default range is wholly owned by local users: nothing is given out."""
    tmp = tempfile.mkdtemp(prefix="test-subid.")
    try:
        setup(tmp)
        rc, out = run_syncd(tmp)
        check(rc == 0, f"default range: sync exits 0 (got {rc})")
        users, groups = snapshot(tmp)
        check(not users, f"default range: no directory user served ({len(users)} served)")
        with store(tmp) as db:
            n_stored = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            n_rejects = db.execute("SELECT COUNT(*) FROM audit WHERE event = 'reject' AND "
                                   "detail LIKE '%no free uid left%'").fetchone()[0]
        check(n_stored == 0, f"default range: no account stored ({n_stored})")
        check(n_rejects == N_USERS, f"default range: every user refused, no free uid ({n_rejects})")
        for g, gid in groups.items():
            check(not in_ranges(gid, DEBIAN_RANGES), f"default range: group {g} gid {gid} outside the ranges")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_wide_range_and_later_range():
    tmp = tempfile.mkdtemp(prefix="test-subid.")
    try:
        setup(tmp, uid_max=999999)
        rc, out = run_syncd(tmp)
        check(rc == 0, f"wide range: sync exits 0 (got {rc})")
        users, groups = snapshot(tmp)
        check(len(users) == N_USERS, f"wide range: all {N_USERS} users served ({len(users)})")
        check(len(groups) >= N_GROUPS, f"wide range: the {N_GROUPS} groups served ({len(groups)})")
        bad = [(n, ids) for n, ids in users.items() if in_ranges(ids[0], DEBIAN_RANGES) or in_ranges(ids[1], DEBIAN_RANGES)]
        check(not bad, f"wide range: no served uid/gid in a subordinate range ({bad[:5]})")
        badg = [(n, gid) for n, gid in groups.items() if in_ranges(gid, DEBIAN_RANGES)]
        check(not badg, f"wide range: no served group gid in a subordinate range ({badg[:5]})")
        # The hashes that fell into the ranges went to the first free ids after them.
        with store(tmp) as db:
            uids = [r[0] for r in db.execute("SELECT uid FROM users")]
        check(all(u >= 558752 for u in uids if 200000 <= u <= 558751) and any(u >= 558752 for u in uids),
              "wide range: stored uids lie after the ranges")

        # A new local user gets a range over a stored account's uid; a subgid range covers a
        # group's gid.
        victim = "dir0007"
        vuid, vgid = users[victim]
        team = "team03"
        tgid = groups[team]
        with store(tmp) as db:
            vsid = db.execute("SELECT scim_id FROM users WHERE name = ?", (victim,)).fetchone()[0]
            seq0 = db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
        with open(os.path.join(tmp, "passwd"), "a") as f:
            f.write("mallory:x:1010:1010::/home/mallory:/bin/bash\n")
        with open(os.path.join(tmp, "subuid"), "a") as f:
            f.write(f"mallory:{vuid - 100}:65536\n")
        with open(os.path.join(tmp, "subgid"), "a") as f:
            f.write(f"1010:{tgid}:1\n")  # a numeric owner
        rc, out = run_syncd(tmp)
        check(rc == 0, f"later range: sync exits 0 (got {rc})")
        users2, groups2 = snapshot(tmp)
        check(victim not in users2, f"later range: {victim} (uid {vuid}) no longer in the snapshot")
        check(team not in groups2, f"later range: group {team} (gid {tgid}) no longer in the snapshot")
        check(getent(tmp, "passwd", victim) is None, f"later range: getent passwd {victim} finds nothing")
        check(getent(tmp, "passwd", vuid) is None, f"later range: getent passwd {vuid} finds nothing")
        check(getent(tmp, "group", team) is None, f"later range: getent group {team} finds nothing")
        other = next(n for n, ids in users2.items() if not vuid - 100 <= ids[0] < vuid - 100 + 65536)
        check(getent(tmp, "passwd", other) is not None, f"later range: getent passwd {other} still served")
        shadowed = [n for n, ids in users.items() if vuid - 100 <= ids[0] < vuid - 100 + 65536]
        check(all(n not in users2 for n in shadowed),
              f"later range: none of the {len(shadowed)} accounts in mallory's range served")
        check(len(users2) == N_USERS - len(shadowed), f"later range: the others stay ({len(users2)})")
        with store(tmp) as db:
            row = db.execute("SELECT uid, gid FROM users WHERE scim_id = ?", (vsid,)).fetchone()
            grow = db.execute("SELECT gid FROM groups WHERE scim_id = 'g-03'").fetchone()
            rejects = db.execute("SELECT scim_id, detail FROM audit WHERE event = 'reject' AND seq > ?",
                                 (seq0,)).fetchall()
        check(row == (vuid, vgid), f"later range: {victim} keeps uid/gid {vuid}/{vgid} in the store ({row})")
        check(grow is not None and grow[0] == tgid, f"later range: {team} keeps gid {tgid} in the store ({grow})")
        check(any(s == vsid and "exists locally" in d for s, d in rejects),
              f"later range: reject row for {vsid} as a local collision ({rejects[:5]})")
        check(any(s == "g-03" and "locally" in d for s, d in rejects),
              f"later range: reject row for g-03 ({rejects[:5]})")
        check(f"Not serving '{victim}'" in out or vsid in out, "later range: the sync logs the refusal")

        # The range goes again: the account is served again, with the same uid.
        write(os.path.join(tmp, "subuid"), subid_text(DEBIAN_RANGES))
        write(os.path.join(tmp, "subgid"), subid_text(DEBIAN_RANGES))
        rc, out = run_syncd(tmp)
        users3, groups3 = snapshot(tmp)
        check(users3.get(victim) == (vuid, vgid), f"range removed: {victim} served again as {vuid} ({users3.get(victim)})")
        check(groups3.get(team) == tgid, f"range removed: {team} served again as {tgid}")

        test_warning_and_status(tmp)
        test_newuidmap(tmp, vuid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def daemon_log(tmp):
    """Starts the daemon, waits for READY=1 (its first sync), stops it; returns its log."""
    sock_path = os.path.join(tmp, "notify")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(120)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent")
    env.pop("JOURNAL_STREAM", None)
    log = os.path.join(tmp, "daemon.log")
    with open(log, "w") as logf:
        proc = subprocess.Popen([SYNCD, "--config", os.path.join(tmp, "syncd.conf"), "--foreground"], env=env,
                                stdout=subprocess.DEVNULL, stderr=logf)
        try:
            while "READY=1" not in sock.recv(4096).decode():
                pass
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            sock.close()
    with open(log) as f:
        return f.read()


def ctl_status(tmp):
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent", NO_COLOR="1")
    conf = os.path.join(tmp, "syncd.conf")
    j = subprocess.run([CTL, "--config", conf, "--json", "status"], env=env, capture_output=True, text=True)
    t = subprocess.run([CTL, "--config", conf, "status"], env=env, capture_output=True, text=True)
    return json.loads(j.stdout), t.stdout


def test_warning_and_status(tmp):
    # No login.defs: shadow's defaults (100000..600100000) meet 200000..999999.
    log = daemon_log(tmp)
    check("meets SUB_UID_MIN..SUB_UID_MAX (100000..600100000)" in log, "daemon warns about SUB_UID at start")
    check("meets SUB_GID_MIN..SUB_GID_MAX" in log, "daemon warns about SUB_GID at start")
    st, text = ctl_status(tmp)
    sub = st.get("subordinate_ids", {})
    check(sub.get("overlap") is True and sub.get("uid_overlap") is True and sub.get("gid_overlap") is True
          and sub.get("sub_uid_min") == 100000 and sub.get("sub_uid_max") == 600100000,
          f"status --json: subordinate_ids overlap ({sub})")
    check("Subordinate ids: uid_min..uid_max 200000..999999 meets SUB_UID_MIN..SUB_UID_MAX and "
          "SUB_GID_MIN..SUB_GID_MAX" in text, f"status: overlap line ({text!r})")

    # The advice of provision-syncd.conf(5): subordinate ids from 1000000000 on.
    write(os.path.join(tmp, "login.defs"), "# moved\nSUB_UID_MIN 1000000000\nSUB_UID_MAX 1600100000\n"
          "SUB_GID_MIN\t1000000000\nSUB_GID_MAX 1600100000\n")
    log = daemon_log(tmp)
    check("SUB_UID_MIN" not in log and "SUB_GID_MIN" not in log, f"no warning once login.defs moved the ranges")
    st, text = ctl_status(tmp)
    sub = st.get("subordinate_ids", {})
    check(sub.get("overlap") is False and sub.get("sub_uid_min") == 1000000000,
          f"status --json: no overlap ({sub})")
    check("Subordinate ids: uid_min..uid_max clear of useradd's ranges" in text, "status: clear line")


def test_newuidmap(tmp, dir_uid):
    """newuidmap, run by a local user who owns a subordinate range, maps ids of that range but
    not a directory user's uid. Needs root (to create the local user's view in a private mount
    namespace), newuidmap and unprivileged user namespaces; skipped otherwise."""
    newuidmap = shutil.which("newuidmap")
    if os.geteuid() != 0 or not newuidmap or not shutil.which("unshare") or not shutil.which("setpriv"):
        print("skip newuidmap: needs root, newuidmap (package uidmap), unshare and setpriv")
        return
    # In a private mount namespace, /etc/subuid says what the test's files say: bob (uid 1001
    # here) owns 165536..231071. The process that asks for the mapping runs as uid 1001 in a new
    # user namespace; newuidmap (setuid root) checks the request against /etc/subuid.
    script = r'''
set -u
d=$1 dirid=$2
mount --make-rprivate / 2>/dev/null || true
mount --bind "$d/subuid" /etc/subuid
mount --bind "$d/subgid" /etc/subgid
{ grep -v '^bob:' /etc/passwd; echo 'bob:x:1001:1001::/nonexistent:/bin/sh'; } > "$d/passwd.ns"
mount --bind "$d/passwd.ns" /etc/passwd
try() { # try UID: 0 if newuidmap mapped "0 UID 1" for a user namespace of bob's
        setpriv --reuid=1001 --regid=1001 --clear-groups unshare -U sh -c 'sleep 30' &
        pid=$!
        # Until the child is in its own user namespace (newuidmap writes that one's uid_map).
        n=0
        while [ "$(readlink /proc/$pid/ns/user)" = "$(readlink /proc/self/ns/user)" ] && [ $n -lt 600 ]; do
                sleep 0.05; n=$((n + 1))
        done
        setpriv --reuid=1001 --regid=1001 --clear-groups newuidmap "$pid" 0 "$1" 1 2>>"$d/newuidmap.err"
        rc=$?
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        return $rc
}
try 165536 && echo own=ok || echo own=refused
try "$dirid" && echo dir=ok || echo dir=refused
'''
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", tmp, str(dir_uid)], capture_output=True,
                       text=True, timeout=120)
    out = p.stdout
    if "own=ok" not in out:
        err = open(os.path.join(tmp, "newuidmap.err")).read() if os.path.exists(os.path.join(tmp, "newuidmap.err")) else ""
        print(f"skip newuidmap: its own range cannot be mapped here either ({out.strip()} {p.stderr.strip()} {err.strip()})")
        return
    check("dir=refused" in out, f"newuidmap refuses to map directory uid {dir_uid} for bob ({out.strip()})")


def main():
    for exe in (SYNCD, CTL, SNAPCHECK):
        if not os.access(exe, os.X_OK):
            print(f"SKIP: {exe} not built")
            return 77
    test_debian_default_range()
    test_wide_range_and_later_range()
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
