#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs tests/scim-client/test-scim-source against the real SCIM test server (tests/scim-server).
# Exit 77 (skip) when node, the server's node_modules or the cmocka test program are missing.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PYTHON=${PYTHON:-/usr/bin/python3}
prog="$top_builddir/tests/scim-client/test-scim-source"

if ! command -v node >/dev/null 2>&1; then
        echo "SKIP: node is not installed"; exit 77
fi
if [ ! -d "$top_srcdir/tests/node_modules/scimmy" ]; then
        echo "SKIP: tests/node_modules missing, run 'cd tests && npm ci'"; exit 77
fi
if [ ! -x "$prog" ]; then
        echo "SKIP: $prog not built (cmocka missing?)"; exit 77
fi

tmp=$(mktemp -d)
pid=
proxy_pid=
cleanup() {
        for p in $pid $proxy_pid; do
                kill "$p" 2>/dev/null || :
                wait "$p" 2>/dev/null || :
        done
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$PYTHON" "$top_srcdir/tests/fixtures/scim/bench-gen.py" --users 50 --groups 5 -o "$tmp/data.json"
(umask 077; printf 'tok-%s-secret\n' "$$" > "$tmp/token")

node "$top_srcdir/tests/scim-server/server.js" --port 0 --port-file "$tmp/port" \
        --data "$tmp/data.json" --token-file "$tmp/token" >"$tmp/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 150 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
                echo "SCIM test server died:"; cat "$tmp/server.log"; exit 1
        fi
        sleep 0.1; i=$((i + 1))
done
if [ ! -s "$tmp/port" ]; then
        echo "SCIM test server did not start within 15 s:"; cat "$tmp/server.log"; exit 1
fi
port=$(cat "$tmp/port")

# The recording proxy of the proxy tests: nothing may reach it unless [source] proxy names it.
"$PYTHON" "$top_srcdir/tests/scim-client/fake-proxy.py" --port-file "$tmp/proxy-port" --log "$tmp/proxy.log" \
        >"$tmp/proxy.out" 2>&1 &
proxy_pid=$!
i=0
while [ ! -s "$tmp/proxy-port" ] && [ $i -lt 150 ]; do
        if ! kill -0 "$proxy_pid" 2>/dev/null; then
                echo "fake proxy died:"; cat "$tmp/proxy.out"; exit 1
        fi
        sleep 0.1; i=$((i + 1))
done
if [ ! -s "$tmp/proxy-port" ]; then
        echo "fake proxy did not start within 15 s:"; cat "$tmp/proxy.out"; exit 1
fi
FAKE_PROXY_PORT=$(cat "$tmp/proxy-port")
FAKE_PROXY_LOG="$tmp/proxy.log"
export FAKE_PROXY_PORT FAKE_PROXY_LOG

SCIM_BASE="http://127.0.0.1:$port"
SCIM_TOKEN_FILE="$tmp/token"
SCIM_DATA="$tmp/data.json"
SCIM_TMP="$tmp"
export SCIM_BASE SCIM_TOKEN_FILE SCIM_DATA SCIM_TMP

rc=0
"$prog" "$@" || rc=$?
if [ $rc -ne 0 ]; then
        echo "--- server log"; tail -n 50 "$tmp/server.log"
fi
exit $rc
