#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs bench-nss for provision, libnss-cache, nss_files and SQLite (and SSSD, see below), in one
# run. Needs root: each NSS service reads its data through a copy of /etc bind-mounted over /etc
# in a private mount namespace (the real /etc is never modified).
#
# Usage: bench/run-nss.sh [BUILDDIR]
#   BEFORE=OTHER_BUILDDIR   also runs the NSS module of another build (e.g. of an older commit) on
#                           a snapshot written by that build's writer, as "provision-before"
#   SSSD=1                  also runs SSSD (bench/run-sssd.sh: sssd + slapd in private
#                           namespaces, from .debs unpacked under SSSD_ROOT, default /tmp/sssd-root)
#   SERVICES="..."          subset and order of: floor before provision cache files sqlite
#
# "floor" is bench/nss-floor.c, the cheapest module glibc can dispatch to (a fixed record, no
# lookup): what glibc's own NSS dispatch and loading a module cost. "floor+line" is the same module
# reading one random 64-byte line of a 6.4 MB region per lookup: the one cache miss any module
# holding 100k records pays for a random user.
set -eu
builddir=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
make -C "$builddir" -s bench/bench-nss nss_provision/libnss_provision.la
[ "$(id -u)" -eq 0 ] || { echo "needs root (unshare -m, bind mounts)"; exit 1; }
services=${SERVICES:-"floor ${BEFORE:+before }provision cache files sqlite"}

tmp=$(mktemp -d /tmp/prov-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
"$builddir/bench/bench-nss" gen "$tmp"
${CC:-cc} -O2 -g -fPIC -shared -fvisibility=hidden -o "$tmp/libnss_floor.so.2" "$here/nss-floor.c"
if [ -n "${BEFORE:-}" ]; then
        before=$(cd "$BEFORE" && pwd)
        mkdir "$tmp/before"
        printf 'before: '
        "$before/bench/bench-nss" gen "$tmp/before"
fi
# nss_files reads the 100k users from /etc/passwd and /etc/group: it gets a copy of /etc with them
# appended, mounted for its run only. The others see a copy of the host's own /etc, as on a real
# host, where the directory's users are not local accounts (the provision module never serves a
# name or id that /etc/passwd or /etc/group has).
mkdir "$tmp/etc" "$tmp/etc-files"
cp -a /etc/. "$tmp/etc/"
cp -a /etc/. "$tmp/etc-files/"
cat "$tmp/passwd" >> "$tmp/etc-files/passwd"
cat "$tmp/group" >> "$tmp/etc-files/group"
for f in passwd.cache passwd.cache.ixname passwd.cache.ixuid group.cache group.cache.ixname group.cache.ixgid; do
        cp "$tmp/$f" "$tmp/etc/$f"
done
# libnss-cache ignores an index older than its cache file.
touch "$tmp"/etc/*.ix*

unshare -m /bin/sh -eu -c '
        mount --make-rprivate /
        mount --bind "$1/etc" /etc
        export PROV_BENCH_SQLITE="$1/nss.sqlite"
        printf "%-14s %-30s %15s\n" service operation median
        for svc in $3; do
                case $svc in
                floor)
                        LD_LIBRARY_PATH="$1" "$2/bench/bench-nss" run floor
                        LD_LIBRARY_PATH="$1" NSS_FLOOR_TOUCH="$1/snapshot" "$2/bench/bench-nss" run floor floor+line ;;
                before)
                        # The new benchmark program (same operations) on the old module and file.
                        LD_LIBRARY_PATH="$4/nss_provision/.libs" PROVISION_SNAPSHOT="$1/before/snapshot" \
                                "$2/bench/bench-nss" run provision provision-before ;;
                provision)
                        LD_LIBRARY_PATH="$2/nss_provision/.libs" PROVISION_SNAPSHOT="$1/snapshot" \
                                "$2/bench/bench-nss" run provision ;;
                files)
                        mount --bind "$1/etc-files" /etc
                        "$2/bench/bench-nss" run files
                        umount /etc ;;
                *)
                        "$2/bench/bench-nss" run $svc ;;
                esac
        done
' sh "$tmp" "$builddir" "$services" "${before:-}"

if [ -n "${SSSD:-}" ]; then
        "$here/run-sssd.sh" "$builddir" "$tmp"
fi
