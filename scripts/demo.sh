#!/bin/bash
# The README's first command: sets everything up, syncs the bundled sample directory from a
# file and shows the accounts through the real NSS module. Nothing on the host changes: the
# state lives in a temporary directory, and nsswitch.conf is replaced only inside a private
# mount namespace.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (it uses a private mount namespace; the host is not changed)" >&2
        exit 1
fi
"$top/scripts/setup-deps.sh"
BUILDDIR=$builddir "$top/scripts/build.sh"

tmp=$(mktemp -d /tmp/provision-demo.XXXXXX)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/state"
cp "$top/tests/fixtures/scim/sample-directory.json" "$tmp/directory.json"

cat >"$tmp/syncd.conf" <<CONF
[source]
type = file
path = $tmp/directory.json

[paths]
state_dir = $tmp/state

[accounts]
strip_domain = yes
uid_attribute = urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber
map_groups = admins=sudo

[enforce]
# The demo never asks the host's logind to end anyone's session.
terminate_sessions = no
CONF
cat >"$tmp/nsswitch.conf" <<CONF
passwd: files provision
group:  files [SUCCESS=merge] provision
shadow: files provision
CONF

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
# Runs a command with the NSS module visible: our nsswitch.conf bind-mounted in a private
# mount namespace, the module found through LD_LIBRARY_PATH, the snapshot in the temp dir.
in_ns() {
        unshare -m --propagation private sh -c 'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
                sh "$tmp/nsswitch.conf" env LD_LIBRARY_PATH="$builddir/nss_provision/.libs" \
                PROVISION_SNAPSHOT="$tmp/state/snapshot" "$@"
}
syncd() { "$builddir/syncd/provision-syncd" --config "$tmp/syncd.conf" --once; }

step "1. The sample directory: $(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["Users"]), "people,", len(d["Groups"]), "groups")' "$tmp/directory.json")"
show syncd

step "2. Directory accounts through glibc NSS (getent -s provision: only our module)"
in_ns getent -s provision passwd | head -n 8
echo "..."
show in_ns getent group engineering
first=$(in_ns getent -s provision passwd | awk -F: '$7 != "/usr/sbin/nologin" {print $1; exit}')
show in_ns id "$first"

step "3. Role mapping: the directory group admins is served as the local group sudo"
show in_ns getent group sudo
show in_ns id alice.martin

step "4. Local accounts are untouched and win: root comes from /etc/passwd"
show in_ns getent passwd root

step "5. A leaver: $first is deactivated at the source (\"active\": false)"
/usr/bin/python3 - "$tmp/directory.json" "$first" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
d = json.load(open(path))
for u in d["Users"]:
    if u["userName"].split("@")[0].lower() == name:
        u["active"] = False
json.dump(d, open(path, "w"), indent=1)
PY
show syncd
show in_ns getent passwd "$first"
show in_ns getent shadow "$first"
show in_ns id "$first"

step "Done: the host's /etc was never modified; the demo state in $tmp is removed."
