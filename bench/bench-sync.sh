#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark of provision-syncd against the SCIM test server (tests/scim-server): a full sync of
# USERS users and GROUPS groups (one group holding half the users), a second full sync with no
# change, a delta with no change, and a delta after PATCHing 100 users. Each run is one
# `provision-syncd --once [--delta]` under /usr/bin/time -v; the server's /_control/stats count
# the requests. Prints a table against the targets of the "SCIM 2.0 source" issue. Not part of
# make check; it prints figures and asserts nothing.
#
# Usage: bench/bench-sync.sh [BUILDDIR] [USERS] [GROUPS]      (defaults: build 100000 10000)
# With BENCH_UUID_IDS=1 the ids are UUIDs (as Entra ID and most IdPs give them) instead of
# "u-000001": longer keys in every membership, the store and the scan.
# With BENCH_PERF=FILE the first full sync runs under `perf record -g -o FILE` (its figures then
# include perf's own overhead).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$srcdir/build}" && pwd)
users=${2:-100000}
groups=${3:-10000}
PYTHON=/usr/bin/python3
syncd="$builddir/syncd/provision-syncd"

command -v node >/dev/null 2>&1 || { echo "node is not installed"; exit 1; }
[ -d "$srcdir/tests/node_modules/scimmy" ] || { echo "run 'cd tests && npm ci' first"; exit 1; }
[ -x "$syncd" ] || { echo "$syncd is not built"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt install time)"; exit 1; }

tmp=$(mktemp -d /tmp/prov-bench-sync.XXXXXX)
chmod 0755 "$tmp"
pid=
cleanup() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || :
                wait "$pid" 2>/dev/null || :
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "# generating $users users / $groups groups"
"$PYTHON" "$srcdir/tests/fixtures/scim/bench-gen.py" --users "$users" --groups "$groups" \
        ${BENCH_UUID_IDS:+--uuid-ids} -o "$tmp/data.json"
(umask 077; printf 'bench-%s-token\n' "$$" > "$tmp/token")

echo "# starting the SCIM test server"
node --max-old-space-size=4096 "$srcdir/tests/scim-server/server.js" --port 0 --port-file "$tmp/port" \
        --data "$tmp/data.json" --token-file "$tmp/token" >"$tmp/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 1200 ]; do
        kill -0 "$pid" 2>/dev/null || { echo "server died:"; cat "$tmp/server.log"; exit 1; }
        sleep 0.1; i=$((i + 1))
done
[ -s "$tmp/port" ] || { echo "server did not start"; exit 1; }
base="http://127.0.0.1:$(cat "$tmp/port")"

printf 'root:x:0:0::/root:/bin/sh\n' > "$tmp/passwd"
printf 'root:x:0:\n' > "$tmp/group"
cat > "$tmp/syncd.conf" <<EOF
[source]
type = scim
url = $base/scim/v2
token_file = $tmp/token
allow_insecure_http = yes
timeout = 300
[sync]
interval = 30
full_interval = 3600
[paths]
state_dir = $tmp/state
passwd_file = $tmp/passwd
group_file = $tmp/group
[accounts]
strip_domain = yes
uid_attribute = urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber
[enforce]
terminate_sessions = no
EOF

# control METHOD PATH [JSON]: prints the answer of the server's control API
control() {
        "$PYTHON" - "$base" "$@" <<'EOF'
import json, sys, urllib.request
base, method, path = sys.argv[1:4]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
r = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
with urllib.request.urlopen(r, timeout=600) as f:
        print(f.read().decode())
EOF
}

# patch_users N: changes the displayName (the gecos) of N users over the SCIM API, so that the
# next delta carries N changed users.
patch_users() {
        "$PYTHON" - "$base" "$tmp/token" "$1" "${BENCH_UUID_IDS:-}" <<'EOF'
import json, sys, urllib.request, uuid
base, token_file, n, uuids = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
token = open(token_file).read().strip()
def uid(i):
        short = f"u-{i:06d}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, short)) if uuids else short
for i in range(1, n + 1):
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": f"Changed User {i}"}]}
        r = urllib.request.Request(f"{base}/scim/v2/Users/{uid(i * 7)}", data=json.dumps(body).encode(), method="PATCH",
                                   headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        urllib.request.urlopen(r, timeout=60).read()
EOF
}

# run NAME ARGS...: one provision-syncd run; appends "name exit wall cpu rss requests" to results
run() {
        name=$1; shift
        control POST /_control/stats/reset >/dev/null
        rc=0
        /usr/bin/time -v -o "$tmp/time.$name" "$syncd" --config "$tmp/syncd.conf" "$@" >"$tmp/log.$name" 2>&1 || rc=$?
        reqs=$(control GET /_control/stats | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
        "$PYTHON" - "$tmp/time.$name" "$name" "$rc" "$reqs" >>"$tmp/results" <<'EOF'
import sys
t = {}
for line in open(sys.argv[1]):
        k, _, v = line.strip().rpartition(": ")
        t[k] = v
wall = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
secs = sum(float(x) * 60 ** k for k, x in enumerate(reversed(wall)))
cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
print(sys.argv[2], sys.argv[3], f"{secs:.2f}", f"{cpu:.2f}", int(t["Maximum resident set size (kbytes)"]), sys.argv[4])
EOF
        echo "# $name: exit $rc, $(tail -n 1 "$tmp/log.$name")"
}

: >"$tmp/results"
echo "# full sync"
if [ -n "${BENCH_PERF:-}" ]; then
        perf_syncd=$syncd
        syncd="$tmp/syncd-perf"
        printf '#!/bin/sh\nexec perf record -q -g -o "%s" "%s" "$@"\n' "$BENCH_PERF" "$perf_syncd" > "$syncd"
        chmod +x "$syncd"
fi
run full --once
[ -n "${BENCH_PERF:-}" ] && syncd=$perf_syncd
echo "# second full sync, no change"
run full-nochange --once
echo "# delta, no change"
run delta-nochange --once --delta
echo "# PATCHing 100 users"
patch_users 100
echo "# delta, 100 changes"
run delta-100 --once --delta

"$PYTHON" - "$tmp/results" "$users" "$groups" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
        name, rc, wall, cpu, rss, reqs = line.split()
        rows[name] = (int(rc), float(wall), float(cpu), int(rss), int(reqs))
print(f"\nprovision-syncd, {int(sys.argv[2]):,} users / {int(sys.argv[3]):,} groups (one with half the users)\n")
print(f"{'run':<16} {'exit':>4} {'wall s':>8} {'CPU s':>7} {'max RSS MiB':>12} {'requests':>9}")
for name, (rc, wall, cpu, rss, reqs) in rows.items():
        print(f"{name:<16} {rc:>4} {wall:>8.2f} {cpu:>7.2f} {rss / 1024:>12.1f} {reqs:>9}")
full = rows["full"]
print("\ntarget                                      measured        verdict")
def line(what, measured, ok):
        print(f"{what:<43} {measured:<15} {'met' if ok else 'MISSED'}")
line("full sync syncd CPU <= 3 s", f"{full[2]:.2f} s", full[2] <= 3.0)
line("full sync peak RSS <= 64 MiB", f"{full[3] / 1024:.1f} MiB", full[3] <= 64 * 1024)
d = rows["delta-nochange"]
ratio = d[2] / full[2] if full[2] > 0 else 0.0
line("delta, no change: CPU <= 1/50 of full", f"{d[2]:.2f} s = 1/{full[2] / max(d[2], 0.01):.0f}", ratio <= 1 / 50)
# A steady-state full reconcile (nothing changed) is the fairer yardstick for a delta.
same = rows["full-nochange"]
line("  same, vs the no-change full sync", f"1/{same[2] / max(d[2], 0.01):.0f}", d[2] <= same[2] / 50)
EOF
