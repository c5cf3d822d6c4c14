#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A snapshot that someone other than root could have written is not served: real getent(1)
# through glibc's dispatch ("files provision" bind-mounted over /etc/nsswitch.conf in a private
# mount namespace, as test-nss-getent.sh does), run as root and as nobody (setpriv). Whoever can
# write the file could mark a leaver active again or give themselves groups, and could truncate
# it under the mapping of a setuid program (SIGBUS).
set -eu

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for unshare -m, chown and a bind mount over /etc/nsswitch.conf"
command -v setpriv >/dev/null 2>&1 && unshare -m true 2>/dev/null || skip "needs setpriv and unshare -m"
[ ! -S /run/nscd/socket ] || skip "nscd is running and would answer instead of the module"

tmp=$(mktemp -d /tmp/prov-perms.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
builddir=${top_builddir:?}
"$builddir/tests/nss/mksnap" "$tmp/snapshot" "${top_srcdir:?}/tests/nss/fixture.txt"
printf 'passwd: files provision\ngroup: files provision\nshadow: files provision\n' >"$tmp/nsswitch.conf"

# lookup [PASSWD]: "getent passwd alice" as root and as nobody; prints the two exit codes. With
# PASSWD, that file is bind-mounted over /etc/passwd as well.
lookup() {
        unshare -m /bin/sh -c '
                mount --make-rprivate / 2>/dev/null || true
                mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf
                [ -z "$3" ] || mount --bind "$3" /etc/passwd
                export LD_LIBRARY_PATH="$2/nss_provision/.libs" PROVISION_SNAPSHOT="$1/snapshot"
                getent passwd alice >/dev/null; a=$?
                setpriv --reuid=nobody --regid=nogroup --clear-groups getent passwd alice >/dev/null; b=$?
                echo "$a $b"
        ' sh "$tmp" "$builddir" "${1:-}"
}

fail=0
check() { # check DESCRIPTION EXPECTED ACTUAL
        if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fail=1; else echo "ok: $1"; fi
}

check "root's 0644 snapshot is served" "0 0" "$(lookup)"
chmod 0664 "$tmp/snapshot"
check "group-writable by root's group: served" "0 0" "$(lookup)"
chmod 0666 "$tmp/snapshot"
check "world-writable snapshot is not served" "2 2" "$(lookup)"
chmod 0664 "$tmp/snapshot"
chgrp nogroup "$tmp/snapshot"
check "group-writable by another group: not served" "2 2" "$(lookup)"
chmod 0644 "$tmp/snapshot"
chown 2 "$tmp/snapshot"
check "owned by a user other than root (and the reader): not served" "2 2" "$(lookup)"
chown root:root "$tmp/snapshot"
check "root's again: served" "0 0" "$(lookup)"
# A host whose /etc/passwd only root may read (a hardening some apply): an unprivileged process
# reads no local name there, nss_files serves none either, and the directory's users stay
# (they vanished from the process: "I have no name!").
cp /etc/passwd "$tmp/passwd-0600"
chmod 0600 "$tmp/passwd-0600"
check "/etc/passwd readable by root only: served to both" "0 0" "$(lookup "$tmp/passwd-0600")"
exit $fail
