#!/bin/bash
# provision-syncd --once on a directory file, end to end: exit codes, what glibc then resolves
# through the real NSS module (getent -s provision), and that a bad file changes nothing.
set -euo pipefail
: "${top_builddir:?}" "${top_srcdir:?}"
syncd=$top_builddir/syncd/provision-syncd
nssdir=$top_builddir/nss_provision/.libs
tmp=$(mktemp -d /tmp/test-syncd-file.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

fail() { echo "FAIL: $*" >&2; exit 1; }
nss() { LD_LIBRARY_PATH=$nssdir PROVISION_SNAPSHOT=$tmp/state/snapshot getent -s provision "$@"; }
expect_exit() {
        local want=$1; shift
        set +e; "$@" >"$tmp/out" 2>&1; local got=$?; set -e
        [ "$got" -eq "$want" ] || { cat "$tmp/out" >&2; fail "'$*' exited $got, expected $want"; }
}

printf 'root:x:0:0::/root:/bin/sh\nlocal:x:1000:1000::/home/local:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\nsudo:x:27:\n' >"$tmp/group"
cat >"$tmp/syncd.conf" <<CONF
[source]
type = file
path = $tmp/directory.json
[paths]
state_dir = $tmp/state
passwd_file = $tmp/passwd
group_file = $tmp/group
[accounts]
strip_domain = yes
[sync]
max_deprovision = 30%
[enforce]
# Never ask the host's logind to end sessions of test uids.
terminate_sessions = no
CONF
cat >"$tmp/directory.json" <<'JSON'
{"Users": [
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "ada@example.com", "displayName": "Ada L", "active": true},
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "2", "userName": "grace@example.com", "active": true},
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "3", "userName": "local@example.com", "active": true},
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "4", "userName": "linus", "active": "False"}
 ],
 "Groups": [
  {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "Compilers", "members": [{"value": "1"}, {"value": "2"}, {"value": "4"}]}
 ]}
JSON

# Command line and configuration errors are exit 2 with a clear message.
expect_exit 0 "$syncd" --help
expect_exit 0 "$syncd" --version
expect_exit 2 "$syncd" --no-such-option
printf '[source]\ntype = file\npath = /x\nbogus = 1\n' >"$tmp/bad.conf"
expect_exit 2 "$syncd" --config "$tmp/bad.conf" --once
grep -q "bad.conf:4" "$tmp/out" || fail "config error does not name the line: $(cat "$tmp/out")"

# First sync: joiners resolvable through glibc, the local name is not taken over.
expect_exit 0 "$syncd" --config "$tmp/syncd.conf" --once
nss passwd ada | grep -q '^ada:x:[0-9]*:[0-9]*:Ada L:/home/ada:/bin/bash$' || fail "ada not served: $(nss passwd ada || true)"
nss passwd grace >/dev/null || fail "grace not served"
if nss passwd local >/dev/null; then fail "a local name was served from the directory"; fi
nss group compilers | grep -q ':ada,grace$\|:grace,ada$' || fail "group members wrong: $(nss group compilers)"
nss passwd linus | grep -q ':/usr/sbin/nologin$' || fail "suspended user must have nologin"
[ "$(stat -c %a "$tmp/state/store.db")" = 600 ] || fail "store is not 0600"
[ "$(stat -c %a "$tmp/state/snapshot")" = 644 ] || fail "snapshot is not 0644"
ada_uid=$(nss passwd ada | cut -d: -f3)

# The same directory again changes nothing: the snapshot file is not replaced (no process has
# to re-map it); only its last-sync time moves.
ino=$(stat -c %i "$tmp/state/snapshot")
expect_exit 0 "$syncd" --config "$tmp/syncd.conf" --once
[ "$(stat -c %i "$tmp/state/snapshot")" = "$ino" ] || fail "an unchanged directory replaced the snapshot"
nss passwd ada >/dev/null || fail "ada lost after an unchanged sync"
sum=$(sha256sum <"$tmp/state/snapshot")

# A malformed file: exit 1, nothing applied, the snapshot is the same file.
cp "$tmp/directory.json" "$tmp/good.json"
printf '{"Users": [{"id": "1", "userName": "ada"' >"$tmp/directory.json"
expect_exit 1 "$syncd" --config "$tmp/syncd.conf" --once
grep -qi "nothing applied" "$tmp/out" || fail "no clear message for a malformed file: $(cat "$tmp/out")"
[ "$(sha256sum <"$tmp/state/snapshot")" = "$sum" ] || fail "snapshot changed after a failed sync"

# A missing file is a failure too.
rm "$tmp/directory.json"
expect_exit 1 "$syncd" --config "$tmp/syncd.conf" --once
[ "$(sha256sum <"$tmp/state/snapshot")" = "$sum" ] || fail "snapshot changed after a failed sync"

# An empty directory is an outage: held (exit 4), nobody deprovisioned; and it does not count
# as a confirmed directory: the snapshot's last-sync time (PAM's max_staleness) stays put.
last_sync() { od -An -t u8 -j 40 -N 8 "$tmp/state/snapshot" | tr -d ' '; }
confirmed=$(last_sync)
[ "$confirmed" -gt 0 ] || fail "the snapshot has no last-sync time"
echo '{"Users": [], "Groups": []}' >"$tmp/directory.json"
expect_exit 4 "$syncd" --config "$tmp/syncd.conf" --once
nss passwd ada | grep -q ':/bin/bash$' || fail "ada lost in an empty-directory sync"
[ "$(last_sync)" = "$confirmed" ] || fail "a held sync moved the snapshot's last-sync time"

# A rename keeps the uid; a leaver within the guard's limit is deprovisioned.
sed -e 's/ada@example.com/ada.l@example.com/' "$tmp/good.json" >"$tmp/directory.json"
expect_exit 0 "$syncd" --config "$tmp/syncd.conf" --once
[ "$(nss passwd ada.l | cut -d: -f3)" = "$ada_uid" ] || fail "rename changed the uid"
if nss passwd ada >/dev/null; then fail "old name still served after rename"; fi
echo "ok"
