#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# SSSD as a peer of bench-nss: Debian's sssd (LDAP domain, rfc2307) in front of slapd loaded with
# the benchmark's 100k users and 10k groups by slapadd. Nothing is installed on the host and the
# host's /etc, /var and running services are untouched: the .debs are unpacked into SSSD_ROOT
# (default /tmp/sssd-root; see below), and everything runs in private mount and PID namespaces
# (and a private network namespace) where /usr, /etc and /var are overlays (the packages' files
# over the host's, writes into a temporary directory). The daemons die with the PID namespace.
#
# Usage: bench/run-sssd.sh BUILDDIR DATADIR      (DATADIR from "bench-nss gen", with users.ldif)
#   SSSD_USERS=N        pick the users among the first N only (passwd lookups only)
#   SSSD_WARM_ALL=1     warm every user and group instead of the benchmark's keys (hours at 100k)
#
# Preparing SSSD_ROOT (downloads only, no install):
#   apt-get install -y --download-only -o Dir::Cache::archives=/tmp/sssd-debs \
#           sssd-ldap sssd-common libnss-sss slapd ldap-utils
#   for d in /tmp/sssd-debs/*.deb; do dpkg-deb -x "$d" /tmp/sssd-root; done
#
# Warm-up ("bench-nss warm sss"): the keys the benchmark will look up, and only those, each once
# through sssd (a miss that sssd_be fetches from slapd and stores in its ldb cache, kept in tmpfs;
# the lookup also fills the memory cache): the 20,001 users of getpwnam hit, getpwuid and the
# fresh process's lookups, by name then by uid, the 20,000 unknown names of getpwnam miss (into
# the negative cache of sssd_nss), the 50k-member group and the 100 sampled users' group lists;
# with progress lines and the time it took. Every user instead (SSSD_WARM_ALL=1)
# slows with the cache's size, some 3.5 hours for 100k; SSSD_ENUMERATE=1 first has sssd_be
# enumerate the directory (slower still, see the [domain] section). Then prints the same lines as
# bench-nss for provision (and the floor and SQLite) right before SSSD, for "sss" (memory cache
# hits) and "sss-socket" (SSS_NSS_USE_MEMCACHE=NO: every lookup asks sssd_nss over its socket,
# answered from the ldb cache; no enumeration, as enumerate = false), and the daemons' RSS after.
set -euo pipefail
builddir=$(cd "$1" && pwd)
data=$(cd "$2" && pwd)
root=${SSSD_ROOT:-/tmp/sssd-root}
[ "$(id -u)" -eq 0 ] || { echo "needs root (namespaces, overlays)"; exit 1; }
[ -x "$root/usr/sbin/sssd" ] && [ -x "$root/usr/sbin/slapd" ] || { echo "no sssd/slapd under $root (see $0)"; exit 77; }
[ -f "$data/users.ldif" ] || { echo "no $data/users.ldif"; exit 1; }

work=$(mktemp -d /tmp/prov-sssd.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir -p "$work"/{etc-up,etc-wk,var-up,var-wk,usr-up,usr-wk,ldapdb,run}

unshare -m -n -p -f --mount-proc /bin/bash -euo pipefail -c '
        root=$1 work=$2 data=$3 builddir=$4
        mount --make-rprivate /
        # The packages over the host: /lib is /usr/lib on Debian, so libnss_sss goes into /usr.
        mkdir -p "$work/usr-lib/lib" && cp -a "$root/lib/." "$work/usr-lib/lib/"
        mount -t overlay overlay -o "lowerdir=$work/usr-lib:$root/usr:/usr" /usr
        mount -t overlay overlay -o "lowerdir=$root/etc:/etc,upperdir=$work/etc-up,workdir=$work/etc-wk" /etc
        mount -t overlay overlay -o "lowerdir=$root/var:/var,upperdir=$work/var-up,workdir=$work/var-wk" /var
        mount -t tmpfs tmpfs /run

        # SSSD takes no ldapi:// URI (it resolves the socket path as a host name): slapd listens
        # on the loopback of this private network namespace.
        ip link set lo up
        uri="ldap://127.0.0.1:3389"
        cat >"$work/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $work/run/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit unlimited
database mdb
maxsize 4294967296
suffix "dc=bench,dc=test"
rootdn "cn=admin,dc=bench,dc=test"
rootpw secret
directory $work/ldapdb
index objectClass eq
index uid,cn,memberUid eq
index uidNumber,gidNumber eq
limits * size=unlimited time=unlimited
EOF
        t0=$(date +%s.%N)
        slapadd -q -f "$work/slapd.conf" -l "$data/users.ldif"
        t1=$(date +%s.%N)
        printf "slapadd of 100k users, 10k groups: %.1f s\n" "$(echo "$t1 - $t0" | bc)"
        slapd -f "$work/slapd.conf" -h "$uri"
        sleep 0.5

        mkdir -p /etc/sssd /var/lib/sss/db /var/lib/sss/mc /var/lib/sss/pipes/private /var/log/sssd
        # The ldb cache in tmpfs, as Red Hat tunes SSSD for large directories (each entry a backend
        # stores is a transaction with its fsyncs). The memory cache (/var/lib/sss/mc) stays on the
        # overlay. Even so the cache grows slower with its size: 10k users took 188 s, the next
        # 10k 445 s, the next 683 s (sssd_be at one core), so only the keys of the benchmark are warmed.
        mount -t tmpfs -o mode=0700 tmpfs /var/lib/sss/db
        enum=false
        [ -n "${SSSD_ENUMERATE:-}" ] && enum=true
        cat >/etc/sssd/sssd.conf <<EOF
[sssd]
services = nss
domains = bench

[nss]
# Large enough for every user and group of the benchmark (MiB).
memcache_size_passwd = 64
memcache_size_group = 64
memcache_size_initgroups = 16
memcache_timeout = 86400
# The unknown names of getpwnam miss, warmed, stay in the negative cache of sssd_nss (15 s by
# default); the memory cache keeps no negative entries, so a miss always asks sssd_nss.
entry_negative_timeout = 86400
# Progress of the enumeration is read with getent below: no stale cached list.
enum_cache_timeout = 1

[domain/bench]
id_provider = ldap
auth_provider = none
ldap_uri = $uri
ldap_search_base = dc=bench,dc=test
ldap_schema = rfc2307
ldap_default_bind_dn = cn=admin,dc=bench,dc=test
ldap_default_authtok = secret
ldap_id_use_start_tls = false
entry_cache_timeout = 86400
ignore_group_members = false
# SSSD_ENUMERATE=1: one enumeration fetches every user and group (pages of 10000) into the ldb
# cache in one transaction. Nothing may cut it short: the search timeouts, the expiry of the
# connection and the watchdog (timeout) are raised, the next enumeration is a day away. Measured
# with the cache on disk: it slows down as the transaction grows (sssd_be at one core, mostly
# memmove, 961 MiB), 78k users after 37 min and 460 users/min then, nothing committed yet; so the
# default is one lookup per user instead.
enumerate = $enum
ldap_page_size = 10000
ldap_enumeration_search_timeout = 7200
ldap_search_timeout = 7200
ldap_connection_expire_timeout = 86400
ldap_enumeration_refresh_timeout = 86400
ldap_purge_cache_timeout = 0
timeout = 3600
EOF
        chmod 0600 /etc/sssd/sssd.conf
        sssd -i --logger=stderr -d "${SSSD_DEBUG:-0}" 2>"$work/sssd.log" &
        for i in $(seq 100); do [ -S /var/lib/sss/pipes/nss ] && break; sleep 0.1; done
        [ -S /var/lib/sss/pipes/nss ] || { echo "sssd did not start:"; tail -20 "$work/sssd.log"; exit 1; }

        if [ -n "${SSSD_DEBUG:-}" ]; then getent -s sss passwd u000001 || true; sleep 2; getent -s sss passwd u000001 || true; cat "$work/sssd.log"; exit 0; fi
        # Warm-up, 1 (SSSD_ENUMERATE=1): sssd_be enumerates the directory into its ldb cache.
        # Done when the responder lists every user and group.
        t0=$(date +%s.%N)
        while [ "$enum" = true ]; do
                sleep 10
                nu=$(getent -s sss passwd | wc -l)
                ng=$(getent -s sss group | wc -l)
                printf "%6.0f s: %d users, %d groups in the cache\n" "$(echo "$(date +%s.%N) - $t0" | bc)" "$nu" "$ng"
                [ "$nu" -ge 100000 ] && [ "$ng" -ge 10000 ] && break
                pgrep -x sssd_be >/dev/null || { echo "sssd_be died:"; tail -20 "$work/sssd.log"; exit 1; }
        done
        [ "$enum" = true ] && printf "enumeration into the ldb cache (100k users, 10k groups): %.0f s\n" "$(echo "$(date +%s.%N) - $t0" | bc)"
        # 2: one lookup per key through sssd_nss fills the memory cache (after an enumeration from
        # ldb; without one, each is a miss that sssd_be fetches from slapd and stores).
        export BENCH_USERS=${SSSD_USERS:-} BENCH_WARM_ALL=${SSSD_WARM_ALL:-}
        "$builddir/bench/bench-nss" warm sss
        printf "%-14s %-30s %15s\n" service operation median
        # provision, and the floor and SQLite when DATADIR has them (run-nss.sh), in the same
        # minutes as SSSD: the machine is shared and its speed drifts.
        LD_LIBRARY_PATH="$builddir/nss_provision/.libs" PROVISION_SNAPSHOT="$data/snapshot" \
                "$builddir/bench/bench-nss" run provision
        [ ! -f "$data/libnss_floor.so.2" ] || LD_LIBRARY_PATH="$data" "$builddir/bench/bench-nss" run floor
        [ ! -f "$data/nss.sqlite" ] || PROV_BENCH_SQLITE="$data/nss.sqlite" "$builddir/bench/bench-nss" run sqlite
        "$builddir/bench/bench-nss" run sss
        SSS_NSS_USE_MEMCACHE=NO "$builddir/bench/bench-nss" run sss sss-socket
        for d in sssd sssd_be sssd_nss slapd; do
                for p in $(pgrep -x "$d"); do
                        printf "RSS %-10s %8d KiB\n" "$d" "$(awk "/VmRSS/ {print \$2}" /proc/$p/status)"
                done
        done
' bash "$root" "$work" "$data" "$builddir"
