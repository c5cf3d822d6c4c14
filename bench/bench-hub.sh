#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark of provision-hub against SCIMMY (tests/scim-server/server.js), same requests, one run
# (issue 14, "Measured"):
#  1. IdP push throughput: POST /Users, PATCH /Users (active toggle) and PATCH /Groups (member
#     add) per second and p99 latency with 1, 4 and 16 concurrent clients. The hub's store is
#     under /var/tmp (the real disk, not tmpfs) and commits durably (synchronous=FULL).
#  2. A host's full pull of USERS users / GROUPS groups (each user in ~3 groups), count=1000
#     (the hub with cursor paging, SCIMMY with startIndex): the server's CPU seconds
#     (utime+stime from /proc/PID/stat) and peak RSS (VmHWM from /proc/PID/status, reset just
#     before the pull). The hub is loaded by 16 concurrent POSTs (the load time is printed);
#     SCIMMY starts with the same directory (--data).
# Prints a table "metric | provision-hub | SCIMMY"; not part of make check; asserts nothing.
#
# Usage: bench/bench-hub.sh [BUILDDIR] [USERS] [GROUPS]        (defaults: build 100000 10000)
# Loading the hub by durable POSTs runs at about 1000/s on a 2-core VM (virtio disk), so the
# defaults finish in about 5 minutes there; pass smaller sizes on a slower disk.
# BENCH_SECONDS (default 4) is the time per push cell, BENCH_CLIENTS (default 1,4,16) the
# concurrencies.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$srcdir/build}" && pwd)
users=${2:-100000}
groups=${3:-10000}
PYTHON=/usr/bin/python3
hub="$builddir/hub/provision-hub"

command -v node >/dev/null 2>&1 || { echo "node is not installed"; exit 1; }
[ -d "$srcdir/tests/node_modules/scimmy" ] || { echo "run 'cd tests && npm ci' first"; exit 1; }
[ -x "$hub" ] || { echo "$hub is not built"; exit 1; }

# /var/tmp: the hub's store must be on the real disk (fsync costs what it costs there).
tmp=$(mktemp -d /var/tmp/prov-bench-hub.XXXXXX)
pids=
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || :; done
        for p in $pids; do wait "$p" 2>/dev/null || :; done
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "# $users users / $groups groups; scratch in $tmp ($(stat -f -c %T "$tmp"))"
(umask 077; printf 'bench-%s-%s\n' "$$" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$tmp/sc-token")
printf '{"Users":[],"Groups":[]}\n' >"$tmp/empty.json"
"$PYTHON" "$srcdir/bench/bench-hub.py" gen "$users" "$groups" "$tmp/data.json"

# start_hub NAME: a hub with its own store and tokens; sets hub_url and hub_pid.
start_hub() {
        d="$tmp/$1"
        mkdir -m 0700 "$d"
        cat >"$d/hub.conf" <<EOF
[http]
listen = 127.0.0.1:0
allow_insecure_http = yes
[store]
path = $d/hub.db
# The push cells toggle active on many users: the mass-deactivation guard would hold them.
[guard]
max_percent = 0
[tokens]
scim_token_file = $d/scim.tokens
host_token_file = $d/host.tokens
admin_token_file = $d/admin.tokens
EOF
        (umask 077; "$hub" --config "$d/hub.conf" token-new scim bench >"$d/token")
        "$hub" --config "$d/hub.conf" </dev/null >"$d/hub.log" 2>&1 &
        hub_pid=$!
        pids="$pids $hub_pid"
        i=0
        until grep -qs 'Listening on http://' "$d/hub.log"; do
                kill -0 "$hub_pid" 2>/dev/null || { echo "provision-hub died:"; cat "$d/hub.log"; exit 1; }
                [ $i -lt 300 ] || { echo "provision-hub did not start"; exit 1; }
                sleep 0.1; i=$((i + 1))
        done
        hub_url="$(sed -n 's|.*Listening on \(http://[^ ]*\)/.*|\1|p' "$d/hub.log" | head -n1)/scim/v2"
}

# start_scimmy NAME DATA: the SCIM test server; sets sc_url and sc_pid.
start_scimmy() {
        node --max-old-space-size=4096 "$srcdir/tests/scim-server/server.js" --port 0 \
                --port-file "$tmp/$1.port" --data "$2" --token-file "$tmp/sc-token" >"$tmp/$1.log" 2>&1 &
        sc_pid=$!
        pids="$pids $sc_pid"
        i=0
        while [ ! -s "$tmp/$1.port" ]; do
                kill -0 "$sc_pid" 2>/dev/null || { echo "SCIMMY died:"; cat "$tmp/$1.log"; exit 1; }
                [ $i -lt 1200 ] || { echo "SCIMMY did not start"; exit 1; }
                sleep 0.1; i=$((i + 1))
        done
        sc_url="http://127.0.0.1:$(cat "$tmp/$1.port")/scim/v2"
}

echo "# starting provision-hub and SCIMMY (push: empty; pull: hub empty, SCIMMY with the directory)"
start_hub push;  HUB_PUSH=$hub_url; HUB_PUSH_PID=$hub_pid
start_hub pull;  HUB_PULL=$hub_url; HUB_PULL_PID=$hub_pid
HUB_TOKEN=$(cat "$tmp/push/token"); HUB_PULL_TOKEN=$(cat "$tmp/pull/token")
start_scimmy sc-push "$tmp/empty.json"; SC_PUSH=$sc_url; SC_PUSH_PID=$sc_pid
start_scimmy sc-pull "$tmp/data.json";  SC_PULL=$sc_url; SC_PULL_PID=$sc_pid
SC_TOKEN=$(cat "$tmp/sc-token")
export HUB_PUSH HUB_PUSH_PID HUB_PULL HUB_PULL_PID SC_PUSH SC_PUSH_PID SC_PULL SC_PULL_PID HUB_TOKEN HUB_PULL_TOKEN SC_TOKEN

"$PYTHON" "$srcdir/bench/bench-hub.py" run "$users" "$groups" "$tmp/data.json"
