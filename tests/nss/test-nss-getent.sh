#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real getent(1) and id(1) through nsswitch.conf: in a private mount namespace a test
# nsswitch.conf ("files provision") is bind-mounted over /etc/nsswitch.conf; the real /etc is
# never modified. glibc finds libnss_provision.so.2 through LD_LIBRARY_PATH.
set -eu

if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: needs root for unshare -m and a bind mount over /etc/nsswitch.conf"; exit 77
fi
if ! command -v unshare >/dev/null 2>&1; then
        echo "SKIP: unshare(1) not installed"; exit 77
fi
if ! unshare -m true 2>/dev/null; then
        echo "SKIP: cannot create a mount namespace here (unshare -m failed)"; exit 77
fi
if [ -S /var/run/nscd/socket ] || [ -S /run/nscd/socket ]; then
        echo "SKIP: nscd is running and would answer instead of the module"; exit 77
fi

builddir=${top_builddir:?}
srcdir=${top_srcdir:?}
tmp=$(mktemp -d /tmp/prov-getent.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
"$builddir/tests/nss/mksnap" "$tmp/snapshot" "$srcdir/tests/nss/fixture.txt"
printf '%s\n' 'M:1:now:10000:70000' 'U:alice:10001:10001:A:/home/alice:/bin/bash:active:0' \
        'U:root:10007:10007:Evil root:/root:/bin/bash:active:0' 'U:daemon:10008:10008:Evil:/x:/bin/bash:active:0' \
        'U:evil:65534:10009:Evil:/x:/bin/bash:active:0' 'G:alice:10001:0:' 'G:devs:20000:0:alice,daemon' \
        'G:sudo:20011:0:alice,daemon' 'G:evilgrp:65534:0:alice' | "$builddir/tests/nss/mksnap" "$tmp/hostile"
cat > "$tmp/nsswitch.conf" <<'CONF'
passwd: files provision
group:  files provision
shadow: files provision
CONF

unshare -m /bin/sh -eu -c '
        mount --make-rprivate / 2>/dev/null || true
        mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf
        export LD_LIBRARY_PATH="$2/nss_provision/.libs" PROVISION_SNAPSHOT="$1/snapshot"
        fail=0
        check() { # check DESCRIPTION EXPECTED ACTUAL
                if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fail=1; else echo "ok: $1"; fi
        }
        check "getent passwd alice" "alice:x:10001:10001:Alice Example:/home/alice:/bin/bash" "$(getent passwd alice)"
        check "getent passwd 10002" "bob:x:10002:10002:Bob:/home/bob:/bin/sh" "$(getent passwd 10002)"
        check "getent group devs" "devs:x:20000:alice,bob" "$(getent group devs)"
        check "getent group 20001" "ops:x:20001:bob" "$(getent group 20001)"
        check "id alice" "uid=10001(alice) gid=10001(alice) groups=10001(alice),27(sudo),20000(devs)" "$(id alice)"
        check "getent shadow alice" "alice:*:19000::::::" "$(getent shadow alice)"
        check "getent shadow carol" "carol:!*:19500:::::1:" "$(getent shadow carol)"
        check "local root still from files" "root" "$(getent passwd 0 | cut -d: -f1)"
        check "unknown user" "2" "$(getent passwd ghost >/dev/null && echo 0 || echo $?)"
        n=$(getent passwd | grep -c -e "^alice:" -e "^bob:" -e "^carol:" -e "^dave:")
        check "getent passwd enumerates our users" "4" "$n"

        # A snapshot that names accounts and groups of this host (the writer never serves them,
        # but /etc/passwd and /etc/group can gain a name or an id after a publication): whatever it
        # holds, a name or id of those files is never served, and a local user gets no groups.
        export PROVISION_SNAPSHOT="$1/hostile"
        check "a directory user named root is not served by uid" "2" "$(getent passwd 10007 >/dev/null && echo 0 || echo $?)"
        check "a directory user named daemon is not served by uid" "2" "$(getent passwd 10008 >/dev/null && echo 0 || echo $?)"
        check "a directory user with the uid of nobody is not served" "2" "$(getent passwd evil >/dev/null && echo 0 || echo $?)"
        check "a directory group named sudo is not served by gid" "2" "$(getent group 20011 >/dev/null && echo 0 || echo $?)"
        check "a directory group with the gid of nogroup is not served" "2" "$(getent group evilgrp >/dev/null && echo 0 || echo $?)"
        check "the local account daemon gets no directory group" "$(PROVISION_SNAPSHOT=/nonexistent id -G daemon)" "$(id -G daemon)"
        check "enumeration serves none of them" "alice" "$(getent passwd | grep -v -e :65534:65534: | cut -d: -f1,3 | grep -e :1000.$ | cut -d: -f1)"
        check "id alice: none of her groups named like a local one" "0" "$(id -Gn alice 2>/dev/null | tr " " "\\n" | grep -c -x -e sudo -e nogroup || true)"
        exit $fail
' sh "$tmp" "$builddir"
