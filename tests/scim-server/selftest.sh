#!/bin/sh
# Self-test of the SCIM test server: starts it on a free loopback port with
# selftest-data.json and checks auth, paging, delta filter, faults and reset with curl.
# Exit 0 on success, 1 on failure, 77 (skip) when node, curl or node_modules are missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
data="$here/selftest-data.json"
token="selftest-token-$$"

skip() { echo "SKIP: $*" >&2; exit 77; }
command -v node >/dev/null 2>&1 || skip "node not found"
command -v curl >/dev/null 2>&1 || skip "curl not found"
for m in express scimmy scimmy-routers; do
    [ -d "$tests/node_modules/$m" ] || skip "$tests/node_modules/$m missing (run 'npm ci' in $tests)"
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/scim-selftest.XXXXXX") || exit 1
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; [ -s "$work/server.err" ] && sed 's/^/  server: /' "$work/server.err" >&2; exit 1; }
pass() { echo "ok - $*"; }

node "$here/server.js" --port 0 --data "$data" --token "$token" --port-file "$work/port" \
    >"$work/server.out" 2>"$work/server.err" &
pid=$!

i=0
while [ ! -s "$work/port" ]; do
    kill -0 "$pid" 2>/dev/null || die "server exited before listening"
    [ $i -ge 100 ] && die "server did not write its port file within 10 s"
    sleep 0.1; i=$((i + 1))
done
port=$(cat "$work/port")
base="http://127.0.0.1:$port/scim/v2"
ctl="http://127.0.0.1:$port/_control"
grep -q "listening on 127.0.0.1:$port" "$work/server.out" || fail "stdout lacks 'listening on 127.0.0.1:$port'"

# scim PATH [curl args...] -> body in $work/body, status in $code, headers in $work/hdr
scim() {
    p=$1; shift
    code=$(curl -sS -g -o "$work/body" -D "$work/hdr" -w '%{http_code}' \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' "$@" "$base$p") || code=000
}
ctl() {
    p=$1; shift
    curl -sS -o "$work/ctl" -w '%{http_code}' -H 'Content-Type: application/json' "$@" "$ctl$p" >"$work/ctlcode" || echo 000 >"$work/ctlcode"
    [ "$(cat "$work/ctlcode")" = 200 ] || fail "control $p -> $(cat "$work/ctlcode"): $(cat "$work/ctl" 2>/dev/null)"
}
# jq-free JSON probe: py 'expression over d' < file
py() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# 1. auth
code=$(curl -sS -o "$work/body" -w '%{http_code}' "$base/Users") || code=000
[ "$code" = 401 ] && py 'd["schemas"][0]' <"$work/body" | grep -q 'messages:2.0:Error' \
    && pass "401 with SCIM error without token" || fail "no token: want 401 + SCIM error, got $code $(cat "$work/body")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$base/Users") || code=000
[ "$code" = 401 ] && pass "401 with wrong token" || fail "wrong token: want 401, got $code"
grep -q "$token" "$work/server.out" "$work/server.err" && fail "token appears in server output"

# 2. paging with count=2 walks all users, advancing by items received
total=$(py 'len(d["Users"])' <"$data")
start=1; seen=""; pages=0
while :; do
    scim "/Users?startIndex=$start&count=2"
    [ "$code" = 200 ] || { fail "page at startIndex=$start -> $code"; break; }
    n=$(py 'len(d.get("Resources",[]))' <"$work/body")
    tr=$(py 'd["totalResults"]' <"$work/body")
    si=$(py 'd["startIndex"]' <"$work/body")
    [ "$si" = "$start" ] || fail "startIndex echoed $si, want $start"
    seen="$seen $(py '" ".join(r["id"] for r in d.get("Resources",[]))' <"$work/body")"
    pages=$((pages + 1))
    [ "$n" -gt 2 ] && fail "page larger than count"
    start=$((start + n))
    [ "$n" = 0 ] || [ "$start" -gt "$tr" ] && break
    [ $pages -gt 20 ] && { fail "paging does not terminate"; break; }
done
want=$(py '" ".join(u["id"] for u in d["Users"])' <"$data")
[ "$(echo $seen)" = "$want" ] && [ "$tr" = "$total" ] \
    && pass "count=2 paging walks all $total users in $pages pages" \
    || fail "paging saw '$(echo $seen)', want '$want' (totalResults=$tr)"

# 3. delta filter after a PATCH returns exactly the patched user
scim /Users/u-0003
created=$(py 'd["meta"]["created"]' <"$work/body")
sleep 0.01
mark=$("$PY" -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]+"Z")')
sleep 0.01
scim /Users/u-0003 -X PATCH -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}'
if [ "$code" = 200 ] && [ "$(py 'd["active"]' <"$work/body")" = False ]; then
    lm=$(py 'd["meta"]["lastModified"]' <"$work/body")
    [ "$(py 'd["meta"]["created"]' <"$work/body")" = "$created" ] || fail "PATCH changed meta.created"
    pass "PATCH active=false (lastModified $lm)"
else
    fail "PATCH -> $code $(cat "$work/body")"
fi
scim "/Users?filter=meta.lastModified%20ge%20%22$mark%22"
ids=$(py '" ".join(r["id"] for r in d.get("Resources",[]))' <"$work/body")
[ "$code" = 200 ] && [ "$ids" = u-0003 ] && pass "filter meta.lastModified ge returns only the patched user" \
    || fail "delta filter -> $code ids='$ids'"
scim '/Users?filter=userName%20eq%20%22bob@example.com%22'
[ "$(py '" ".join(r["id"] for r in d.get("Resources",[]))' <"$work/body")" = u-0002 ] && pass "filter userName eq" || fail "userName eq filter: $(cat "$work/body")"
scim '/Users?filter=id%20eq%20%22u-0005%22'
[ "$(py '" ".join(r["id"] for r in d.get("Resources",[]))' <"$work/body")" = u-0005 ] && pass "filter id eq" || fail "id eq filter: $(cat "$work/body")"

# 4. posix + enterprise extensions round-trip through PUT
scim /Users/u-0001
"$PY" - "$work/body" "$work/put" <<'EOF'
import json, sys
u = json.load(open(sys.argv[1]))
u["urn:ietf:params:scim:schemas:extension:posix:2.0:User"]["loginShell"] = "/bin/zsh"
json.dump(u, open(sys.argv[2], "w"))
EOF
scim /Users/u-0001 -X PUT --data-binary @"$work/put"
[ "$code" = 200 ] && [ "$(py '(d["urn:ietf:params:scim:schemas:extension:posix:2.0:User"]["loginShell"], d["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"])' <"$work/body")" = "('/bin/zsh', '1000')" ] \
    && pass "PUT keeps posix + enterprise extension attributes" || fail "PUT extensions: $code $(cat "$work/body")"

# 5. fault injection: 500 on the 2nd page
ctl /stats/reset -X POST
ctl /fault -X POST -d '{"path":"/Users","exact":true,"status":500,"afterRequests":1}'
scim "/Users?startIndex=1&count=2"; c1=$code
scim "/Users?startIndex=3&count=2"; c2=$code
scim "/Users?startIndex=3&count=2"; c3=$code
[ "$c1/$c2/$c3" = 200/500/200 ] && pass "fault 500 on the 2nd page only" || fail "fault 500: got $c1/$c2/$c3, want 200/500/200"

# 6. 429 with Retry-After
ctl /fault -X POST -d '{"path":"*","status":429,"retryAfter":7,"count":1}'
scim "/Groups"
ra=$(tr -d '\r' <"$work/hdr" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
[ "$code" = 429 ] && [ "$ra" = 7 ] && pass "429 with Retry-After: 7" || fail "429: got $code Retry-After='$ra'"
scim "/Groups"
[ "$code" = 200 ] && pass "fault count exhausted, next request 200" || fail "after 429: got $code"
ctl /fault -X DELETE

# 7. stats and log (never the token)
ctl /stats
[ "$(py 'd["requests"]' <"$work/ctl")" = 5 ] && pass "stats count requests" || fail "stats: $(cat "$work/ctl")"
ctl /log
grep -q "$token" "$work/ctl" && fail "log contains the bearer token"
[ "$(py 'len(d)' <"$work/ctl")" = 5 ] && pass "log lists requests" || fail "log: $(cat "$work/ctl")"

# 8. reset replaces the directory
ctl /reset -X POST -d '{"Users":[{"id":"r-1","userName":"solo"}],"Groups":[]}'
scim "/Users"
[ "$code" = 200 ] && [ "$(py '(d["totalResults"], d["Resources"][0]["id"])' <"$work/body")" = "(1, 'r-1')" ] \
    && pass "reset replaces the directory" || fail "after reset: $code $(cat "$work/body")"
scim "/Groups"
[ "$(py 'd["totalResults"]' <"$work/body")" = 0 ] || fail "groups not reset"

# stop the server and make sure it exits cleanly
kill "$pid"
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$pid" 2>/dev/null && fail "server did not stop on SIGTERM"

if [ $fails -ne 0 ]; then
    echo "selftest: $fails check(s) failed" >&2
    exit 1
fi
echo "selftest: all checks passed"
exit 0
