#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash consistency: provision-syncd --once (file source) is killed with SIGKILL at random points
# of a sync that changes a directory of CRASH_USERS users (default 5000 under make check; the CI
# stage runs 100000), and a quarter of the time right when the snapshot is being published (its
# temporary file exists). After each kill:
#   - the store passes PRAGMA integrity_check and foreign_key_check;
#   - the snapshot is valid (every record readable and found by name and id) and is exactly the
#     old one or the new one (generation, counts and a digest of the content, tests/robust/snapcheck);
#   - the next sync exits 0 and converges: the same generation and content as an uninterrupted
#     sync, and no temporary snapshot file is left behind.
#     CRASH_USERS=100000 CRASH_KILLS=20 tests/robust/test-crash.sh
set -euo pipefail
: "${top_builddir:?}" "${top_srcdir:?}"
users=${CRASH_USERS:-5000}
kills=${CRASH_KILLS:-10}
syncd=$top_builddir/syncd/provision-syncd
snapcheck=$top_builddir/tests/robust/snapcheck
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d /tmp/test-crash.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The old directory A and the new one B: 1% suspended, 1% renamed, 0.5% gone (below the
# guard's 10%), 1% joiners, and every tenth group loses a member.
"$py" "$top_srcdir/tests/fixtures/scim/bench-gen.py" --users "$users" --groups $((users / 100 + 2)) -o "$tmp/A.json"
"$py" - "$tmp/A.json" "$tmp/B.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
users = d["Users"]
n = len(users)
gone = {u["id"] for u in users[n // 2: n // 2 + max(1, n // 200)]}
for i, u in enumerate(users):
    if i % 100 == 1:
        u["active"] = False
    elif i % 100 == 2:
        u["userName"] = "renamed-" + u["userName"]
new = []
for k in range(max(1, n // 100)):
    j = dict(users[0])
    j = json.loads(json.dumps(users[0]))
    j["id"] = f"new-{k:06d}"
    j["userName"] = f"joiner{k:06d}@example.com"
    for ext in j:
        if isinstance(j[ext], dict) and "uidNumber" in j[ext]:
            j[ext]["uidNumber"] = j[ext]["gidNumber"] = 900000 + k
    new.append(j)
d["Users"] = [u for u in users if u["id"] not in gone] + new
for i, g in enumerate(d["Groups"]):
    g["members"] = [m for m in g["members"] if m["value"] not in gone]
    if i % 10 == 0 and g["members"]:
        g["members"].pop()
json.dump(d, open(sys.argv[2], "w"), separators=(",", ":"))
PY

printf 'root:x:0:0::/root:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\n' >"$tmp/group"
conf() { # conf NAME DIRECTORY
        cat >"$tmp/$1.conf" <<CONF
[source]
type = file
path = $2
[paths]
state_dir = $tmp/$1
passwd_file = $tmp/passwd
group_file = $tmp/group
[accounts]
strip_domain = yes
uid_max = 999999
[enforce]
terminate_sessions = no
CONF
}
integrity() {
        "$py" - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
ok = db.execute("PRAGMA integrity_check").fetchone()[0]
fk = db.execute("PRAGMA foreign_key_check").fetchall()
if ok != "ok" or fk:
    print(f"integrity_check: {ok}; foreign_key_check: {fk[:5]}")
    sys.exit(1)
PY
}

# The old state (A synced), and what an uninterrupted sync of B makes of it.
conf old "$tmp/A.json"
"$syncd" --config "$tmp/old.conf" --once >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "initial sync failed"; }
old=$("$snapcheck" "$tmp/old/snapshot") || fail "initial snapshot invalid"
conf ref "$tmp/B.json"
cp -a "$tmp/old/." "$tmp/ref/"
start=$(date +%s%N)
"$syncd" --config "$tmp/ref.conf" --once >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "reference sync failed"; }
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
new=$("$snapcheck" "$tmp/ref/snapshot") || fail "reference snapshot invalid"
[ "$old" != "$new" ] || fail "the change made no difference: $old"
echo "old: $old"
echo "new: $new (uninterrupted sync: ${elapsed_ms} ms)"

# A temp file left by a writer killed mid-publication is removed by the next publication; one
# that a live writer holds (flock) is not.
conf stale "$tmp/B.json"
cp -a "$tmp/old/." "$tmp/stale/"
head -c 4096 /dev/urandom >"$tmp/stale/snapshot.dead01"
head -c 4096 /dev/urandom >"$tmp/stale/snapshot.live01"
"$py" -c 'import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(600)' \
        "$tmp/stale/snapshot.live01" >"$tmp/lock.out" &
locker=$!
for _ in $(seq 1 100); do grep -q locked "$tmp/lock.out" && break; sleep 0.05; done
"$syncd" --config "$tmp/stale.conf" --once >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "sync with stale temp files failed"; }
kill "$locker"; wait "$locker" 2>/dev/null || true
[ ! -e "$tmp/stale/snapshot.dead01" ] || fail "a stale temporary snapshot was not removed"
[ -e "$tmp/stale/snapshot.live01" ] || fail "a temporary snapshot in use by a writer was removed"
rm -rf "$tmp/stale"

conf work "$tmp/B.json"
n_old=0 n_new=0 n_pub=0
for i in $(seq 1 "$kills"); do
        rm -rf "$tmp/work"
        cp -a "$tmp/old" "$tmp/work"
        "$syncd" --config "$tmp/work.conf" --once >"$tmp/out.$i" 2>&1 &
        pid=$!
        if [ $((i % 4)) -eq 0 ]; then
                # During publication: as soon as the temporary snapshot exists (every other
                # time), or 0-15 ms later.
                mode=publication
                shopt -s nullglob
                while kill -0 "$pid" 2>/dev/null; do
                        t=("$tmp"/work/snapshot.??????)
                        [ ${#t[@]} -gt 0 ] && break
                        sleep 0.001
                done
                shopt -u nullglob
                [ $((i % 8)) -eq 0 ] && sleep "0.0$((RANDOM % 16))"
        else
                mode=random
                sleep "$(awk -v r="$RANDOM" -v ms="$elapsed_ms" 'BEGIN { printf "%.3f", r / 32767 * ms / 1000 }')"
        fi
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true

        integrity "$tmp/work/store.db" || fail "kill $i ($mode): store corrupt"
        if [ -e "$tmp/work/snapshot" ]; then
                now=$("$snapcheck" "$tmp/work/snapshot") || fail "kill $i ($mode): snapshot invalid"
        else
                fail "kill $i ($mode): no snapshot at all"
        fi
        if [ "$now" = "$old" ]; then
                n_old=$((n_old + 1)) state=old
        elif [ "$now" = "$new" ]; then
                n_new=$((n_new + 1)) state=new
        else
                fail "kill $i ($mode): snapshot is neither the old nor the new one: $now"
        fi
        [ $mode = publication ] && n_pub=$((n_pub + 1))

        "$syncd" --config "$tmp/work.conf" --once >"$tmp/out" 2>&1 || { tail "$tmp/out"; fail "kill $i ($mode): the next sync failed"; }
        integrity "$tmp/work/store.db" || fail "kill $i ($mode): store corrupt after the next sync"
        after=$("$snapcheck" "$tmp/work/snapshot") || fail "kill $i ($mode): snapshot invalid after the next sync"
        [ "$after" = "$new" ] || fail "kill $i ($mode): did not converge: $after, expected $new"
        left=$(find "$tmp/work" -name 'snapshot.*' | wc -l)
        [ "$left" -eq 0 ] || fail "kill $i ($mode): $left temporary snapshot file(s) left behind: $(ls "$tmp/work")"
        echo "kill $i ($mode): snapshot was the $state one; next sync converged"
done
echo "ok: $kills kills ($n_pub during publication): $n_old left the old snapshot, $n_new the new one; all converged"
