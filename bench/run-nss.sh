#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs bench-nss for provision, nss_files and libnss-cache. Needs root: each service reads its
# data through a copy of /etc bind-mounted over /etc in a private mount namespace (the real /etc
# is never modified). Usage: bench/run-nss.sh [BUILDDIR]
set -eu
builddir=$(cd "${1:-build}" && pwd)
make -C "$builddir" -s bench/bench-nss nss_provision/libnss_provision.la
[ "$(id -u)" -eq 0 ] || { echo "needs root (unshare -m, bind mounts)"; exit 1; }

tmp=$(mktemp -d /tmp/prov-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
"$builddir/bench/bench-nss" gen "$tmp"
mkdir "$tmp/etc"
cp -a /etc/. "$tmp/etc/"
cat "$tmp/passwd" >> "$tmp/etc/passwd"
cat "$tmp/group" >> "$tmp/etc/group"
for f in passwd.cache passwd.cache.ixname passwd.cache.ixuid group.cache group.cache.ixname group.cache.ixgid; do
        cp "$tmp/$f" "$tmp/etc/$f"
done
# libnss-cache ignores an index older than its cache file.
touch "$tmp"/etc/*.ix*

unshare -m /bin/sh -eu -c '
        mount --make-rprivate /
        mount --bind "$1/etc" /etc
        export LD_LIBRARY_PATH="$2/nss_provision/.libs" PROVISION_SNAPSHOT="$1/snapshot"
        printf "%-10s %-30s %15s\n" service operation median
        for svc in provision cache files; do
                "$2/bench/bench-nss" run $svc
        done
' sh "$tmp" "$builddir"
