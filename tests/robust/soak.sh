#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak: provision-syncd runs as a daemon (interval 1 s) on a directory file that a churn loop
# rewrites every second (suspensions and reactivations, joiners and leavers, group membership),
# while 4 lookup processes (2 as root, 2 as nobody through setpriv) resolve users through glibc
# and the NSS module for SOAK_SECONDS (default 60): getpwnam, getpwuid, getgrnam, initgroups,
# getpwent. Passes if no lookup of a stable user ever failed, the daemon applied changes all the
# time, and its RSS (sampled from /proc every second) did not grow beyond noise.
#     SOAK_SECONDS=60 tests/robust/soak.sh      (top_builddir/top_srcdir default to ./build, .)
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/build}
seconds=${SOAK_SECONDS:-60}
py=${PYTHON:-/usr/bin/python3}
syncd=$top_builddir/syncd/provision-syncd
lookup=$top_builddir/tests/robust/soak-lookup
export LD_LIBRARY_PATH=$top_builddir/nss_provision/.libs

[ -x "$lookup" ] || { echo "FAIL: $lookup not built (make check)"; exit 1; }
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
        echo "SKIP: needs root and setpriv (lookups as nobody)"; exit 77
fi
tmp=$(mktemp -d /tmp/soak.XXXXXX)
chmod 0755 "$tmp"
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

users=2000
"$py" "$top_srcdir/tests/fixtures/scim/bench-gen.py" --users $users --groups 20 -o "$tmp/base.json"
printf 'root:x:0:0::/root:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\n' >"$tmp/group"
cat >"$tmp/syncd.conf" <<CONF
[source]
type = file
path = $tmp/directory.json
[paths]
state_dir = $tmp/state
passwd_file = $tmp/passwd
group_file = $tmp/group
[sync]
interval = 1
max_deprovision = 5%
[accounts]
strip_domain = yes
uid_max = 999999
[enforce]
terminate_sessions = no
CONF
cp "$tmp/base.json" "$tmp/directory.json"
"$syncd" --config "$tmp/syncd.conf" --once >"$tmp/first.out" 2>&1 || { cat "$tmp/first.out"; fail "first sync failed"; }
export PROVISION_SNAPSHOT=$tmp/state/snapshot

# Churn: every second a new version of the directory (written aside, renamed into place): users
# 1501..2000 flip between active and suspended in blocks, 10 of them leave and come back, and
# group 1 gains and loses members. Users 1..1500 are stable: every lookup of them must succeed.
"$py" - "$tmp" "$seconds" >"$tmp/churn.out" 2>&1 <<'PY' &
import json, os, sys, time
tmp, seconds = sys.argv[1], float(sys.argv[2])
base = json.load(open(f"{tmp}/base.json"))
end = time.monotonic() + seconds
k = 0
while time.monotonic() < end:
    k += 1
    d = json.loads(json.dumps(base))
    for i, u in enumerate(d["Users"]):
        if i >= 1500 and (i + k) % 7 == 0:
            u["active"] = False
    if k % 2:
        gone = {u["id"] for u in d["Users"][1990:2000]}
        d["Users"] = [u for u in d["Users"] if u["id"] not in gone]
        for g in d["Groups"]:
            g["members"] = [m for m in g["members"] if m["value"] not in gone]
    if d["Groups"]:
        d["Groups"][1]["members"] = d["Groups"][1]["members"][: 10 + k % 50]
    with open(f"{tmp}/directory.new", "w") as f:
        json.dump(d, f)
    os.rename(f"{tmp}/directory.new", f"{tmp}/directory.json")
    time.sleep(1)
print(f"churn: {k} versions")
PY
pids+=($!)

"$syncd" --config "$tmp/syncd.conf" >"$tmp/daemon.out" 2>&1 &
daemon=$!
pids+=($daemon)

for who in root root nobody nobody; do
        if [ $who = root ]; then
                "$lookup" "$seconds" 1 1500 all-half >"$tmp/lookup.$((${#pids[@]})).out" 2>&1 &
        else
                setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env \
                        env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" PROVISION_SNAPSHOT="$PROVISION_SNAPSHOT" \
                        "$lookup" "$seconds" 1 1500 all-half >"$tmp/lookup.$((${#pids[@]})).out" 2>&1 &
        fi
        pids+=($!)
done
lookers=("${pids[@]:2}")

# RSS of the daemon once a second.
rss=()
for _ in $(seq 1 "$seconds"); do
        sleep 1
        kill -0 "$daemon" 2>/dev/null || { tail "$tmp/daemon.out"; fail "the daemon died"; }
        rss+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon/status")")
done

status=0
for p in "${lookers[@]}"; do wait "$p" || status=1; done
for f in "$tmp"/lookup.*.out; do echo "$(basename "$f" .out): $(cat "$f" | tr '\n' ' ')"; done
[ $status -eq 0 ] || fail "lookups failed (see above)"
grep -q 'lookups [1-9]' "$tmp"/lookup.*.out || fail "no lookups ran"

syncs=$(grep -c 'Sync complete' "$tmp/daemon.out" || true)
changed=$(grep -c 'Sync complete (generation' "$tmp/daemon.out" || true)
gen=$("$top_builddir/tests/robust/snapcheck" "$tmp/state/snapshot" | awk '{print $2}')
echo "daemon: $syncs syncs, snapshot generation $gen after $seconds s"
[ "$gen" -ge $((seconds / 4)) ] || fail "the daemon published only $gen generations in $seconds s"
grep -Ei 'error|failed' "$tmp/daemon.out" | head -5 && fail "the daemon logged errors" || true

# Memory: the median of the last quarter against the median of the second quarter (after
# warm-up); growth beyond 10% + 2 MiB is a leak, not noise.
n=${#rss[@]}
q2=$(printf '%s\n' "${rss[@]:$((n / 4)):$((n / 4))}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
q4=$(printf '%s\n' "${rss[@]:$((3 * n / 4))}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "daemon RSS: ${q2} kB (second quarter median) -> ${q4} kB (last quarter median); samples: ${rss[*]}"
[ "$q4" -le $((q2 + q2 / 10 + 2048)) ] || fail "daemon RSS grew from $q2 kB to $q4 kB"
echo "ok: soak of $seconds s"
