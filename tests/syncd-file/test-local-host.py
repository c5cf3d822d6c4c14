#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host's side of the directory: its own accounts change after the directory's were mapped (the
directory does not), and who may write the directory file. The real provision-syncd --once on a
file source with private passwd and group files, results through the real NSS module
(getent -s provision) and provision-ssh-keys.

1. A local user carol is created (useradd) while the directory's carol is served: the next sync
   must stop serving the directory's carol (by name, by uid) and her SSH keys, or sshd, which
   finds the local carol first, would accept the directory carol's key for the local account.
   Then the local carol's home becomes /home/ann (usermod -d): the directory's ann, whose home that
   is, is no longer served until carol's home moves back.
2. map_groups: Admins -> sudo and Dockers -> docker are served under the local name and gid.
   The local docker group is deleted (the package was purged): the directory group keeps its
   stored record, but the snapshot must not serve a group docker with gid 998 on its own (a
   system name and gid the directory would then own: a reinstalled package's
   `getent group docker || addgroup` adopts it). docker comes back with another gid: served
   again, with that gid.
3. Whoever can write the directory file chooses the host's accounts and groups (sudo through
   map_groups): a file that another user than root may write (owned by nobody, writable by
   others, or by a group other than root's) is refused, exit 1, nothing applied, the previous
   snapshot kept; so is a FIFO (at once: no open() that waits for a writer); root's 0664 with
   group root is read.
4. The same for the state directory, where the snapshot that NSS and PAM trust is published.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("top_builddir", ".")
SYNCD = os.path.join(BUILD, "syncd", "provision-syncd")
SSHKEYS = os.path.join(BUILD, "sshkeys", "provision-ssh-keys")
NSSDIR = os.path.join(BUILD, "nss_provision", ".libs")
U = "urn:ietf:params:scim:schemas:core:2.0:User"
G = "urn:ietf:params:scim:schemas:core:2.0:Group"
SSH_EXT = "urn:example:params:scim:schemas:extension:ssh:2.0:User"
NOBODY = 65534
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKGY9I6wI1IhlJ6tfn6VMdMTostAdtF9ipPR7LU6v2G a@x"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


CONF = """[source]
type = file
path = {tmp}/directory.json
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
[accounts]
map_groups = Admins=sudo, Dockers=docker
ssh_keys_attribute = {ext}:sshPublicKeys
[enforce]
terminate_sessions = no
"""


def run_syncd(tmp, timeout=120):
    try:
        p = subprocess.run([SYNCD, "--config", os.path.join(tmp, "syncd.conf"), "--once"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"still running after {timeout} s"
    return p.returncode, p.stdout.decode(errors="replace")


def env(tmp):
    return dict(os.environ, LD_LIBRARY_PATH=NSSDIR, PROVISION_SNAPSHOT=os.path.join(tmp, "state", "snapshot"))


def getent(tmp, db, key):
    p = subprocess.run(["getent", "-s", "provision", db, str(key)], env=env(tmp), capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def keys(tmp, name):
    p = subprocess.run([SSHKEYS, name], env=env(tmp), capture_output=True, text=True)
    return p.stdout.strip()


def main():
    for f in (SYNCD, SSHKEYS, os.path.join(NSSDIR, "libnss_provision.so.2")):
        if not os.path.exists(f):
            print(f"SKIP: {f} not built")
            return 77
    if not shutil.which("getent") or os.geteuid() != 0:
        print("SKIP: getent missing or not root (chown)")
        return 77
    tmp = tempfile.mkdtemp(prefix="test-local-host.")
    try:
        os.chmod(tmp, 0o755)
        write(os.path.join(tmp, "syncd.conf"), CONF.format(tmp=tmp, ext=SSH_EXT))
        passwd_file, group_file = os.path.join(tmp, "passwd"), os.path.join(tmp, "group")
        write(passwd_file, "root:x:0:0::/root:/bin/sh\n")
        write(group_file, "root:x:0:\nsudo:x:27:\ndocker:x:998:\n")
        users = [{"schemas": [U], "id": f"u-{i}", "userName": n, "active": True} for i, n in enumerate(["ann", "ben"])]
        users.append({"schemas": [U, SSH_EXT], "id": "u-carol", "userName": "carol", "active": True,
                      SSH_EXT: {"sshPublicKeys": [{"value": KEY}]}})
        groups = [{"schemas": [G], "id": "g-admins", "displayName": "Admins", "members": [{"value": "u-0"}]},
                  {"schemas": [G], "id": "g-dockers", "displayName": "Dockers", "members": [{"value": "u-1"}]}]
        write(os.path.join(tmp, "directory.json"), json.dumps({"Users": users, "Groups": groups}))

        rc, out = run_syncd(tmp)
        check(rc == 0, f"first sync exits 0 ({rc}: {out[-500:]})")
        carol = getent(tmp, "passwd", "carol")
        check(carol is not None, f"the directory's carol is served: {carol}")
        check(keys(tmp, "carol") == KEY, f"her key is published: {keys(tmp, 'carol')!r}")
        check(getent(tmp, "group", "sudo") == "sudo:x:27:ann", f"sudo served as the local sudo: {getent(tmp, 'group', 'sudo')}")
        check(getent(tmp, "group", "docker") == "docker:x:998:ben", f"docker served: {getent(tmp, 'group', 'docker')}")

        # 1. useradd carol.
        uid = carol.split(":")[2] if carol else "0"
        with open(passwd_file, "a") as f:
            f.write("carol:x:1001:1001::/home/carol:/bin/sh\n")
        rc, out = run_syncd(tmp)
        check(rc == 0, f"sync after useradd carol exits 0 ({rc}: {out[-500:]})")
        check(getent(tmp, "passwd", "carol") is None, f"local carol: the directory's not served ({getent(tmp, 'passwd', 'carol')})")
        check(getent(tmp, "passwd", uid) is None, f"local carol: uid {uid} not served ({getent(tmp, 'passwd', uid)})")
        check(keys(tmp, "carol") == "", f"local carol: no directory key for her ({keys(tmp, 'carol')!r})")
        check(getent(tmp, "passwd", "ann") is not None, "ann still served")

        # 1b. usermod -d /home/ann carol: the directory's ann would share the local carol's home.
        write(passwd_file, "root:x:0:0::/root:/bin/sh\ncarol:x:1001:1001::/home/ann:/bin/sh\n")
        rc, out = run_syncd(tmp)
        check(rc == 0, f"sync after usermod -d /home/ann carol exits 0 ({rc}: {out[-500:]})")
        check(getent(tmp, "passwd", "ann") is None, f"ann, whose home the local carol now has, not served ({getent(tmp, 'passwd', 'ann')})")
        write(passwd_file, "root:x:0:0::/root:/bin/sh\ncarol:x:1001:1001::/home/carol:/bin/sh\n")
        rc, out = run_syncd(tmp)
        check(rc == 0 and getent(tmp, "passwd", "ann") is not None, f"ann served again once carol's home moved back ({rc})")

        # 2. delgroup docker, then addgroup docker with another gid.
        write(group_file, "root:x:0:\nsudo:x:27:\n")
        rc, out = run_syncd(tmp)
        check(rc == 0, f"sync after delgroup docker exits 0 ({rc}: {out[-500:]})")
        check(getent(tmp, "group", "docker") is None, f"docker gone locally: not served by name ({getent(tmp, 'group', 'docker')})")
        check(getent(tmp, "group", "998") is None, f"docker gone locally: gid 998 not served ({getent(tmp, 'group', '998')})")
        check(getent(tmp, "group", "sudo") == "sudo:x:27:ann", f"sudo still served: {getent(tmp, 'group', 'sudo')}")
        check(getent(tmp, "passwd", "ben") is not None, "ben keeps the account")

        write(group_file, "root:x:0:\nsudo:x:27:\ndocker:x:990:\n")
        rc, out = run_syncd(tmp)
        check(rc == 0, f"sync after addgroup docker exits 0 ({rc}: {out[-500:]})")
        check(getent(tmp, "group", "docker") == "docker:x:990:ben", f"docker back with gid 990: {getent(tmp, 'group', 'docker')}")
        check(getent(tmp, "group", "998") is None, f"gid 998 not served: {getent(tmp, 'group', '998')}")

        # 3. A directory file that others may write: ben would join sudo.
        snap = os.path.join(tmp, "state", "snapshot")
        before = open(snap, "rb").read()
        groups[0]["members"].append({"value": "u-1"})
        path = os.path.join(tmp, "directory.json")
        for what, uid, gid, mode in (("world-writable", 0, 0, 0o666), ("owned by nobody", NOBODY, NOBODY, 0o644),
                                     ("writable by group nogroup", 0, NOBODY, 0o664)):
            os.unlink(path)
            write(path, json.dumps({"Users": users, "Groups": groups}))
            os.chown(path, uid, gid)
            os.chmod(path, mode)
            rc, out = run_syncd(tmp)
            check(rc == 1 and "nothing applied" in out, f"{what} directory file: refused, exit 1 ({rc}: {out[-300:]})")
            check(open(snap, "rb").read() == before, f"{what} directory file: the snapshot is unchanged")
            check(getent(tmp, "group", "sudo") == "sudo:x:27:ann", f"{what}: ben did not join sudo: {getent(tmp, 'group', 'sudo')}")
        # A FIFO in its place: open() would wait for a writer for ever, and leavers with it.
        os.unlink(path)
        os.mkfifo(path, 0o644)
        rc, out = run_syncd(tmp, timeout=20)
        check(rc == 1, f"a FIFO as directory file: refused at once, exit 1 ({rc}: {out[-300:]})")
        os.unlink(path)
        write(path, json.dumps({"Users": users, "Groups": groups}))
        os.chown(path, 0, 0)
        os.chmod(path, 0o664)
        rc, out = run_syncd(tmp)
        check(rc == 0, f"root-owned 0664 (group root) directory file: read ({rc}: {out[-300:]})")
        check(getent(tmp, "group", "sudo") == "sudo:x:27:ann,ben", f"ben joined sudo: {getent(tmp, 'group', 'sudo')}")

        # 4. A state directory that others may write: they could replace the snapshot.
        state = os.path.join(tmp, "state")
        before = open(snap, "rb").read()
        groups[0]["members"].pop()
        write(path, json.dumps({"Users": users, "Groups": groups}))
        for what, gid, mode in (("world-writable", 0, 0o777), ("sticky world-writable", 0, 0o1777),
                                ("writable by group nogroup", NOBODY, 0o775)):
            os.chown(state, 0, gid)
            os.chmod(state, mode)
            rc, out = run_syncd(tmp)
            check(rc == 1 and "refusing" in out, f"{what} state directory: refused, exit 1 ({rc}: {out[-300:]})")
            check(open(snap, "rb").read() == before, f"{what} state directory: the snapshot is unchanged")
        os.chown(state, 0, 0)
        os.chmod(state, 0o755)
        rc, out = run_syncd(tmp)
        check(rc == 0, f"state directory 0755 again: sync exits 0 ({rc}: {out[-300:]})")
        check(getent(tmp, "group", "sudo") == "sudo:x:27:ann", f"ben left sudo: {getent(tmp, 'group', 'sudo')}")
    finally:
        if failures:
            print(f"# work files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
