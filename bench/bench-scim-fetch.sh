#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Memory and CPU of one SCIM full scan (prov_scim_fetch_full() with the default page size) of
# USERS users and GROUPS groups from bench-gen.py (group 0 holds half the users, every user is in
# 3 more), served by the SCIM test server. Runs `tests/scim-client/test-scim-source --bench`, which
# prints the counters, elapsed and CPU time, peak RSS and the heap still in use by the result.
# Not part of make check; it prints figures and asserts nothing.
#
# Usage: bench/bench-scim-fetch.sh [BUILDDIR] [USERS] [GROUPS]      (defaults: build 100000 10000)
# BENCH_WRAP="valgrind --tool=massif --massif-out-file=/tmp/m.out" runs the scan under a tool.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$srcdir/build}" && pwd)
users=${2:-100000}
groups=${3:-10000}
PYTHON=/usr/bin/python3
prog="$builddir/tests/scim-client/test-scim-source"

command -v node >/dev/null 2>&1 || { echo "node is not installed"; exit 1; }
[ -d "$srcdir/tests/node_modules/scimmy" ] || { echo "run 'cd tests && npm ci' first"; exit 1; }
[ -x "$prog" ] || { echo "$prog is not built (make check builds it)"; exit 1; }

tmp=$(mktemp -d /tmp/prov-bench-fetch.XXXXXX)
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

"$PYTHON" "$srcdir/tests/fixtures/scim/bench-gen.py" --users "$users" --groups "$groups" -o "$tmp/data.json"
(umask 077; printf 'bench-%s-token\n' "$$" > "$tmp/token")

node --max-old-space-size=4096 "$srcdir/tests/scim-server/server.js" --port 0 --port-file "$tmp/port" \
        --data "$tmp/data.json" --token-file "$tmp/token" >"$tmp/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 1200 ]; do
        kill -0 "$pid" 2>/dev/null || { echo "server died:"; cat "$tmp/server.log"; exit 1; }
        sleep 0.1; i=$((i + 1))
done
[ -s "$tmp/port" ] || { echo "server did not start"; exit 1; }

SCIM_BASE="http://127.0.0.1:$(cat "$tmp/port")" SCIM_TOKEN_FILE="$tmp/token" SCIM_DATA="$tmp/data.json" \
        SCIM_TMP="$tmp" ${BENCH_WRAP:-} "$prog" --bench
