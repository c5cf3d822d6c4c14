#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command: what provision is for, told on the bundled sample directory.
# A SCIM server on 127.0.0.1 serves the directory, provision-syncd follows it as a daemon, and a
# joiner, a mover, a leaver with a live session and an outage are played at the source.
#
# Nothing on the host changes: state lives in a temporary directory, nsswitch.conf is replaced
# only inside private mount namespaces (unshare -m), logind is a stand-in on a private D-Bus
# (DBUS_SYSTEM_BUS_ADDRESS), PAM runs under pam_wrapper with a service directory in the temporary
# directory. Every step is checked; the script exits non-zero when one does not behave as told.
#
#   DEMO_SKIP_SETUP=1   do not install packages or build (the tests set it)
#   BUILDDIR=DIR        the build tree (default: build/ in the source tree)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
py=/usr/bin/python3
interval=2

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (it uses private mount namespaces and a process running as a directory user;" \
                "the host is not changed)" >&2
        exit 1
fi
if [ -z "${DEMO_SKIP_SETUP:-}" ]; then
        "$top/scripts/setup-deps.sh"
        BUILDDIR=$builddir "$top/scripts/build.sh"
fi

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' green=$'\033[32m' red=$'\033[31m' off=$'\033[0m'
else bold='' green='' red='' off=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*"; }
ok() { printf '%s  ok: %s%s\n' "$green" "$*" "$off"; }
fail() {
        printf '%sDEMO FAILED: %s%s\n' "$red" "$*" "$off" >&2
        local log
        for log in syncd.log syncd-hub.log hub/hub.log; do
                if [ -s "${tmp:-/nonexistent}/$log" ]; then
                        echo "--- $log (last 30 lines):" >&2
                        tail -n 30 "$tmp/$log" >&2
                fi
        done
        exit 1
}

etc_sum() { sha256sum /etc/passwd /etc/group /etc/nsswitch.conf; }
etc_before=$(etc_sum)

t_start=$(date +%s.%N)
tmp=$(mktemp -d /tmp/provision-demo.XXXXXX)
chmod 0755 "$tmp"
server_pid='' bus_pid='' mock_pid='' syncd_pid='' leaver_pid='' lpid='' luid='' hub_pid='' syncd_hub_pid=''
stop() {
        local pid=$1
        [ -n "$pid" ] || return 0
        kill "$pid" 2>/dev/null || return 0
        wait "$pid" 2>/dev/null || :
}
cleanup() {
        # The leaver's process when the demo failed before it was killed: by pid, if it still
        # runs as the leaver's uid (a reused pid is left alone).
        if [ -n "$lpid" ] && [ "$(stat -c %u "/proc/$lpid" 2>/dev/null)" = "$luid" ]; then
                kill -KILL "$lpid" 2>/dev/null || :
        fi
        stop "$leaver_pid"
        stop "$syncd_hub_pid"
        stop "$hub_pid"
        stop "$syncd_pid"
        stop "$mock_pid"
        stop "$server_pid"
        if [ -n "$bus_pid" ]; then kill "$bus_pid" 2>/dev/null || :; fi
        leaver_pid='' syncd_pid='' mock_pid='' server_pid='' bus_pid='' lpid='' hub_pid='' syncd_hub_pid=''
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_for TRIES WHAT COMMAND...: polls COMMAND every 0.1 s, fails the demo after TRIES tries.
wait_for() {
        local tries=$1 what=$2 i=0
        shift 2
        until "$@" >/dev/null 2>&1; do
                i=$((i + 1))
                [ $i -lt "$tries" ] || fail "timed out waiting for $what"
                sleep 0.1
        done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- NSS, PAM, store and logind views -------------------------------------------------------
cat >"$tmp/nsswitch.conf" <<CONF
passwd: files provision
group:  files [SUCCESS=merge] provision
shadow: files provision
CONF
# Runs a command with the NSS module visible: our nsswitch.conf bind-mounted in a private mount
# namespace, the module found through LD_LIBRARY_PATH, the snapshot in the temporary directory.
in_ns() {
        unshare -m --propagation private sh -c 'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"' \
                sh "$tmp/nsswitch.conf" env LD_LIBRARY_PATH="$builddir/nss_provision/.libs" \
                PROVISION_SNAPSHOT="${snapshot:-$tmp/state/snapshot}" "$@"
}
# ns CMD...: shows and runs a command as a user would type it, inside the namespace.
ns() { printf '$ %s\n' "$*"; in_ns "$@"; }
field() { in_ns getent passwd "$1" | cut -d: -f"$2"; }
groups_of() { in_ns id -nG "$1" | tr ' ' '\n' | sort | tr '\n' ' '; }
has_group() { in_ns id -nG "$1" | tr ' ' '\n' | grep -qx "$2"; }

ctl="$builddir/ctl/provisionctl"
view() { "$py" "$top/demo/store-view.py" "$tmp/state/store.db" "$@"; }
if [ -x "$ctl" ]; then
        ctl_how="provisionctl (built in $builddir/ctl)"
        status() { printf '$ provisionctl status\n'; "$ctl" --config="$tmp/syncd.conf" --no-color status || :; }
        events() { printf '$ provisionctl events --user %s\n' "$1"; "$ctl" --config="$tmp/syncd.conf" --no-color events --user "$1" || :; }
else
        ctl_how="no provisionctl built yet: the same facts read from the store with python3 sqlite3, read-only"
        status() { printf '# store %s, read-only (provisionctl status is not built)\n' "$tmp/state/store.db"; view status; }
        events() { printf '# audit trail of %s, read-only from the store (provisionctl events is not built)\n' "$1"; view events "$1"; }
fi

# --- 1. the SCIM server ---------------------------------------------------------------------
step "1. The sample directory, served by the bundled SCIM server on 127.0.0.1"
command -v node >/dev/null || fail "node is not installed (scripts/setup-deps.sh installs it)"
[ -d "$top/tests/node_modules/scimmy" ] || fail "tests/node_modules is missing (cd tests && npm ci)"
sample="$top/tests/fixtures/scim/sample-directory.json"
(umask 077; printf 'demo-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/token")
node "$top/tests/scim-server/server.js" --port 0 --port-file "$tmp/port" --data "$sample" \
        --token-file "$tmp/token" >"$tmp/server.log" 2>&1 &
server_pid=$!
wait_for 150 "the SCIM server to listen" test -s "$tmp/port"
port=$(cat "$tmp/port")
base="http://127.0.0.1:$port/scim/v2"
# scim METHOD PATH [JSON]: one SCIM request with the bearer token; the response body on stdout.
scim() {
        curl -sS --max-time 60 --fail-with-body -X "$1" -H "Authorization: Bearer $(cat "$tmp/token")" \
                -H 'Content-Type: application/scim+json' ${3:+--data-binary "$3"} "$base$2"
}
control() { curl -sS --max-time 60 --fail-with-body -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
        "http://127.0.0.1:$port/_control$2"; }
json() { "$py" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sample_id() {
        "$py" -c 'import json,sys
d = json.load(open(sys.argv[1]))
for r in d["Users"] + d["Groups"]:
    if r.get("userName", "").split("@")[0] == sys.argv[2] or r.get("displayName") == sys.argv[2] and "members" in r:
        print(r["id"]); break' "$sample" "$1"
}
health=$(control GET /health) || fail "the SCIM server does not answer"
say "$base  (bearer token in a 0600 file; people and teams from tests/fixtures/scim/sample-directory.json)"
"$py" - "$sample" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f'{len(d["Users"])} people ({sum(1 for u in d["Users"] if not u.get("active", True))} of them inactive), '
      f'{len(d["Groups"])} teams:')
for g in d["Groups"]:
    print(f'  {g["displayName"]:<12} {len(g.get("members", [])):>2} members')
PY
[ "$(json 'd["users"]' <<<"$health")" -ge 30 ] || fail "the SCIM server does not serve the sample directory"
curl -sS --max-time 60 -o /dev/null -w '%{http_code}' "$base/Users" | grep -qx 401 || fail "the SCIM server answers without a token"
n_users=$(scim GET '/Users?count=1' | json 'd["totalResults"]') || fail "GET /Users with the token failed"
ok "GET /Users: 401 without the token, totalResults $n_users with it"

# --- logind stand-in on a private bus -------------------------------------------------------
# The mock as logind behaves (LOGIND_MOCK_STRICT: NoSuchUser for a uid without a session), each
# call stamped with the wall-clock time it arrived (for the demo's measurement).
export LOGIND_MOCK_CALLS="$tmp/logind.calls" LOGIND_MOCK_STAMP=realtime LOGIND_MOCK_STRICT=1
: >"$LOGIND_MOCK_CALLS"
started=$("$py" "$top/tests/lib/logindbus.py" start "$tmp") || fail "no private bus with the logind stand-in"
eval "$started"
# terminate_sessions = yes below is safe only because of this: never the host's system bus.
case $DBUS_SYSTEM_BUS_ADDRESS in
"unix:path=$tmp/bus/socket"*) ;;
*) fail "the private bus has an unexpected address '$DBUS_SYSTEM_BUS_ADDRESS'" ;;
esac
wait_for 200 "the logind stand-in on the private bus" "$py" "$top/demo/sessions.py" list

# --- 2. provision-syncd ---------------------------------------------------------------------
step "2. provision-syncd follows it (a daemon, a delta sync every ${interval} s)"
mkdir "$tmp/state"
cat >"$tmp/syncd.conf" <<CONF
[source]
type = scim
url = $base
token_file = $tmp/token
# Plain http only because the server is the bundled one on 127.0.0.1.
allow_insecure_http = yes

[sync]
interval = $interval

[paths]
state_dir = $tmp/state

[accounts]
strip_domain = yes
uid_attribute = urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber
map_groups = admins=sudo

[enforce]
# logind here is the stand-in on the demo's private bus (DBUS_SYSTEM_BUS_ADDRESS), never the host's.
terminate_sessions = yes
kill_processes = yes
kill_grace = 1
CONF
say "Configuration ($tmp/syncd.conf):"
grep -v '^#' "$tmp/syncd.conf" | grep -v '^$' | sed 's/^/    /'
say "Sessions are ended through a logind STAND-IN: python-dbusmock on a private D-Bus"
say "(DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS), not the host's logind."
say "Status and events: $ctl_how."
t_sync=$(now)
"$builddir/syncd/provision-syncd" --config "$tmp/syncd.conf" --foreground </dev/null >"$tmp/syncd.log" 2>&1 &
syncd_pid=$!
wait_for 300 "the first sync" in_ns getent -s provision passwd alice.martin
say "First full sync published after $(since "$t_sync") s."
echo
status
[ "$(view count active)" -ge 30 ] || fail "the store does not hold the sample's active users"
echo
ns getent passwd alice.martin grace.okafor
ns id alice.martin
ns getent group engineering
ns getent group sudo
n_nss=$(in_ns getent -s provision passwd | wc -l)
[ "$n_nss" = 36 ] || fail "NSS serves $n_nss directory accounts, not the sample's 36"
has_group alice.martin sudo || fail "alice.martin (team admins) is not in the local group sudo"
[ "$(field liam.obrien 7)" = /usr/sbin/nologin ] || fail "liam.obrien, inactive at the source, is not suspended"
ok "all $n_nss people resolve through NSS; admins is served as the local group sudo (merged with /etc/group);"
say "      people inactive at the source (liam.obrien) resolve with /usr/sbin/nologin"

# --- 3. joiner and mover --------------------------------------------------------------------
step "3. A joiner and a mover, changed at the source"
eng=$(sample_id engineering) sre=$(sample_id sre) admins=$(sample_id admins)
in_ns getent passwd nora.lindgren >/dev/null && fail "nora.lindgren exists before she joins"
say "POST /Users nora.lindgren, then PATCH /Groups/engineering: add her"
t0=$(now)
nora=$(scim POST /Users '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName":"nora.lindgren@example.com","displayName":"Nora Lindgren",
        "name":{"givenName":"Nora","familyName":"Lindgren"},"active":true}' | json 'd["id"]') ||
        fail "POST /Users was refused"
patch_members() { # GROUP_ID OP USER_ID
        local op
        if [ "$2" = add ]; then op="{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$3\"}]}"
        else op="{\"op\":\"remove\",\"path\":\"members[value eq \\\"$3\\\"]\"}"; fi
        scim PATCH "/Groups/$1" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[$op]}" \
                >/dev/null || fail "PATCH /Groups/$1 ($2 member) was refused"
}
patch_members "$eng" add "$nora"
wait_for 300 "the joiner to get her account and team" has_group nora.lindgren engineering
say "nora.lindgren appeared after $(since "$t0") s (interval ${interval} s):"
ns getent passwd nora.lindgren
ns id nora.lindgren
ok "joiner: account and team group without anyone touching the host"

echo
bruno=$(sample_id bruno.silva)
say "bruno.silva moves from engineering to sre and joins admins (served as sudo). Before:"
ns id bruno.silva
has_group bruno.silva engineering || fail "bruno.silva is not in engineering before the move"
has_group bruno.silva sudo && fail "bruno.silva is in sudo before the move"
say "PATCH /Groups/engineering (remove), /Groups/sre (add), /Groups/admins (add)"
t0=$(now)
patch_members "$eng" remove "$bruno"
patch_members "$sre" add "$bruno"
patch_members "$admins" add "$bruno"
moved() { has_group bruno.silva sre && has_group bruno.silva sudo && ! has_group bruno.silva engineering; }
wait_for 300 "the mover's groups to follow" moved
say "After $(since "$t0") s:"
ns id bruno.silva
ns getent group sudo
ok "mover: engineering dropped, sre and sudo gained"

# --- 4. leaver with a live session ----------------------------------------------------------
step "4. A leaver with a live session is suspended at the source"
leaver=grace.okafor
luid=$(field $leaver 3) lgid=$(field $leaver 4)
[ -n "$luid" ] || fail "$leaver does not resolve"
mkdir "$tmp/pam.d"
printf '%s\n' "auth required pam_deny.so" "account required pam_deny.so" "session required pam_deny.so" \
        "password required pam_deny.so" >"$tmp/pam.d/other"
module="$builddir/pam_provision/.libs/pam_provision.so"
[ -r "$module" ] || fail "$module is not built"
printf '%s\n' "account required pam_permit.so" "account required $module snapshot=$tmp/state/snapshot" \
        "session required pam_permit.so" "session required $module snapshot=$tmp/state/snapshot" >"$tmp/pam.d/login"
# login USER: what a login through PAM (account, then session) answers, via pamtester under
# pam_wrapper, which reads the service from $tmp/pam.d instead of /etc/pam.d.
login() {
        printf '$ pamtester login %s acct_mgmt open_session   # pam_wrapper, service in %s\n' "$1" "$tmp/pam.d"
        mkdir -p "$tmp/pamwrap"
        LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" PAM_WRAPPER_RUNTIME_DIR="$tmp/pamwrap" \
                pamtester login "$1" acct_mgmt open_session close_session >"$tmp/pam.out" 2>&1
        local rc=$?
        sed 's/^/    /' "$tmp/pam.out"
        return $rc
}
login $leaver || fail "$leaver cannot log in while active"
ok "$leaver logs in while active"
say "$leaver (uid $luid) is logged in: a session registered with the logind stand-in, and a"
say "real process running as uid $luid (setpriv), the kind that outlives a session (nohup, cron)."
"$py" "$top/demo/sessions.py" add c42 "$luid" $leaver
# A root shell in between reaps it and writes down how it ended, so that no zombie of ours
# lingers with the uid.
bash -c 'setpriv --reuid="$1" --regid="$2" --clear-groups sleep 600 </dev/null >/dev/null 2>&1 &
        echo $! >"$3.pid"; wait $!; echo $? >"$3.status"' sh "$luid" "$lgid" "$tmp/leaver" &
leaver_pid=$!
wait_for 50 "the leaver's process to start" test -s "$tmp/leaver.pid"
lpid=$(cat "$tmp/leaver.pid")
wait_for 50 "the leaver's process to run as uid $luid" sh -c "[ \"\$(stat -c %u /proc/$lpid)\" = $luid ]"
printf '$ loginctl list-sessions   # the stand-in\n'
"$py" "$top/demo/sessions.py" list "$luid" || fail "the stand-in does not list the session"
printf '$ ps -o pid,user,cmd -u %s\n' "$luid"
ps -o pid=,uid=,cmd= -u "$luid" | sed 's/^/    /'

echo
say "PATCH /Users/$leaver {active: false}"
t0=$(now)
scim PATCH "/Users/$(sample_id $leaver)" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","path":"active","value":false}]}' >/dev/null || fail "PATCH /Users was refused"
wait_for 300 "TerminateUser($luid) at the logind stand-in" grep -q "^TerminateUser $luid " "$LOGIND_MOCK_CALLS"
t1=$(awk -v u="$luid" '$1 == "TerminateUser" && $2 == u { print $3; exit }' "$LOGIND_MOCK_CALLS")
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
say "TerminateUser($luid) reached logind ${bold}$secs s${off} after the PATCH at the source (interval ${interval} s)."
wait_for 100 "the leaver's process to be killed" test -s "$tmp/leaver.status"
rc=$(cat "$tmp/leaver.status")
wait "$leaver_pid" || :
leaver_pid=
[ "$rc" -gt 128 ] || fail "the leaver's process exited by itself (status $rc)"
[ ! -e "/proc/$lpid" ] || fail "process $lpid still exists"
say "The process running as uid $luid (pid $lpid) is gone: killed by signal $((rc - 128)) ($(kill -l $((rc - 128))))."
"$py" "$top/demo/sessions.py" list "$luid" >/dev/null && fail "the stand-in still lists a session of $luid"
printf '$ loginctl list-sessions   # the stand-in\n'
"$py" "$top/demo/sessions.py" list || :
[ -z "$(ps -o pid= -u "$luid")" ] || fail "processes of uid $luid survived"
echo
if login $leaver; then fail "$leaver can still log in"; fi
grep -q '^Your account has been suspended' "$tmp/pam.out" || fail "the refused login does not tell the user why"
ok "a new login is refused, and the user is told why"
ns getent passwd $leaver
ns id $leaver
[ "$(field $leaver 7)" = /usr/sbin/nologin ] || fail "$leaver still has a login shell"
[ "$(groups_of $leaver)" = "$leaver " ] || fail "$leaver still has group memberships: $(groups_of $leaver)"
echo
events $leaver
steps=$(view steps $leaver suspend)
grep -qx 'logind ok' <<<"$steps" || fail "no 'logind ok' audit event for $leaver"
grep -qx 'kill ok' <<<"$steps" || fail "no 'kill ok' audit event for $leaver"
ok "suspended -> sessions terminated ($secs s after the PATCH) -> remaining process killed -> logins refused"

# --- 5. outage ------------------------------------------------------------------------------
step "5. An outage: the SCIM server suddenly answers with an empty directory"
control GET /dump >"$tmp/directory.saved" || fail "the control API did not dump the directory"
active_before=$(view count active)
deprov_before=$(view count deprovisioned)
say "POST /_control/reset {Users: [], Groups: []}, then SIGUSR1: a full reconcile now"
control POST /reset '{"Users":[],"Groups":[]}' >/dev/null || fail "the control API did not reset the directory"
[ "$(control GET /health | json 'd["users"]')" = 0 ] || fail "the SCIM server still serves users"
kill -USR1 "$syncd_pid"
held() { [ "$(view pending-holds)" -ge 1 ]; }
wait_for 300 "the mass-deprovision guard to hold" held
status
grep -i 'hold' "$tmp/syncd.log" | tail -n 1 | sed 's/^/    syncd: /'
[ "$(view count deprovisioned)" = "$deprov_before" ] || fail "accounts were deprovisioned during the outage"
[ "$(view count active)" = "$active_before" ] || fail "active accounts changed during the outage"
ns getent passwd alice.martin nora.lindgren
[ "$(field alice.martin 7)" != /usr/sbin/nologin ] || fail "alice.martin lost her login during the outage"
login alice.martin || fail "alice.martin cannot log in during the outage"
kill -0 "$syncd_pid" 2>/dev/null || fail "provision-syncd died"
ok "nobody deprovisioned: $active_before accounts stay active, the deprovisions wait for 'provisionctl approve'"
# The guard holds the scan's removals too: nobody loses a group (sudo included) to an outage.
ns id alice.martin
has_group alice.martin sudo || fail "alice.martin lost sudo during the outage"
has_group bruno.silva sre || fail "bruno.silva lost his team's group during the outage"
ok "nobody lost a group either: the scan's removals are held with its deprovisions"

echo
say "The directory is back (POST /_control/reset with the saved directory), SIGUSR1 again:"
control POST /reset @"$tmp/directory.saved" >/dev/null || fail "the control API did not restore the directory"
kill -USR1 "$syncd_pid"
not_held() { [ "$(view pending-holds)" = 0 ] && has_group alice.martin sudo; }
wait_for 300 "the hold to be superseded by a normal scan" not_held
ns id alice.martin
[ "$(view count deprovisioned)" = "$deprov_before" ] || fail "accounts were deprovisioned after the outage"
ok "the next full scan supersedes the hold; nobody was ever deprovisioned"

# --- 6. the hub: an IdP pushes ----------------------------------------------------------------
step "6. The hub: an identity provider pushes to provision-hub, a host follows it"
# One provision-syncd per host: the first one (its bus name, its refresh socket) stops here.
stop "$syncd_pid"; syncd_pid=''
hub="$builddir/hub/provision-hub"
[ -x "$hub" ] || fail "$hub is not built"
mkdir -m 0700 "$tmp/hub" "$tmp/state-hub"
cat >"$tmp/hub/hub.conf" <<CONF
[http]
listen = 127.0.0.1:0
# Plain http only because this hub listens on 127.0.0.1 for the demo; a real one has a TLS pair.
allow_insecure_http = yes

[store]
path = $tmp/hub/hub.db

[tokens]
scim_token_file = $tmp/hub/scim.tokens
host_token_file = $tmp/hub/host.tokens
admin_token_file = $tmp/hub/admin.tokens
CONF
say "Configuration ($tmp/hub/hub.conf):"
grep -v '^#' "$tmp/hub/hub.conf" | grep -v '^$' | sed 's/^/    /'
say '$ provision-hub token-new scim entra      # the token pasted into the IdP (printed once)'
say '$ provision-hub token-new host demo-host  # the token a host reads with'
(umask 077
 "$hub" --config "$tmp/hub/hub.conf" token-new scim entra >"$tmp/hub/entra.token" &&
 "$hub" --config "$tmp/hub/hub.conf" token-new host demo-host >"$tmp/hub/host.token") ||
        fail "provision-hub token-new failed"
sed 's/sha256:\(.\{12\}\).*/sha256:\1.../; s/^/    /' "$tmp/hub/scim.tokens" "$tmp/hub/host.tokens"
say "(the token files hold only SHA-256 hashes)"
"$hub" --config "$tmp/hub/hub.conf" </dev/null >"$tmp/hub/hub.log" 2>&1 &
hub_pid=$!
wait_for 150 "provision-hub to listen" grep -q 'Listening on http://' "$tmp/hub/hub.log"
hub_root=$(sed -n 's|.*Listening on \(http://[^ ]*\)/.*|\1|p' "$tmp/hub/hub.log" | head -n1)
hub_base="$hub_root/scim/v2"
# idp METHOD PATH [JSON]: a request as the IdP sends it, with the IdP's token.
idp() {
        curl -sS --max-time 60 --fail-with-body -X "$1" -H "Authorization: Bearer $(cat "$tmp/hub/entra.token")" \
                -H 'Content-Type: application/scim+json' ${3:+--data-binary "$3"} "$hub_base$2"
}
say "$hub_base"

# The host follows the hub's change feed: one request the hub holds until something changes.
cat >"$tmp/syncd-hub.conf" <<CONF
[source]
type = hub
url = $hub_root
token_file = $tmp/hub/host.token
allow_insecure_http = yes
host_name = demo-host

[paths]
state_dir = $tmp/state-hub

[accounts]
strip_domain = yes
map_groups = Admins=sudo

[enforce]
terminate_sessions = yes
CONF
# The same namespace, with the snapshot of the host that follows the hub.
in_hub_ns() { snapshot="$tmp/state-hub/snapshot" in_ns "$@"; }
hns() { printf '$ %s\n' "$*"; in_hub_ns "$@"; }
hub_has_group() { in_hub_ns id -nG "$1" | tr ' ' '\n' | grep -qx "$2"; }

say "Entra ID's provisioning cycle: a lookup before the create, then the user, then an empty group filled by a PATCH:"
say "GET /Users?filter=userName eq \"omar.haddad@example.com\""
[ "$(idp GET '/Users?filter=userName%20eq%20%22omar.haddad%40example.com%22' | json 'd["totalResults"]')" = 0 ] ||
        fail "the hub finds a user before it was created"
omar=$(idp POST /Users '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"omar",
        "userName":"omar.haddad@example.com","active":true,"displayName":"Omar Haddad",
        "emails":[{"primary":true,"type":"work","value":"omar.haddad@example.com"}],
        "name":{"givenName":"Omar","familyName":"Haddad"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Platform"}}' | json 'd["id"]') ||
        fail "POST /Users was refused by the hub"
say "POST /Users omar.haddad@example.com -> id $omar"
new_group() { idp POST /Groups "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"$1\",\"members\":[]}" |
        json 'd["id"]'; }
platform=$(new_group platform) && admins_g=$(new_group Admins) || fail "POST /Groups was refused by the hub"
entra_members() { # GROUP_ID Add|Remove USER_ID
        idp PATCH "/Groups/$1" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],
                \"Operations\":[{\"op\":\"$2\",\"path\":\"members\",\"value\":[{\"\$ref\":null,\"value\":\"$3\"}]}]}" \
                >/dev/null || fail "PATCH /Groups/$1 ($2 member) was refused by the hub"
}
entra_members "$platform" Add "$omar"
say "POST /Groups platform, Admins; PATCH /Groups/platform {\"op\":\"Add\",\"path\":\"members\",...}"
t0=$(now)
"$builddir/syncd/provision-syncd" --config "$tmp/syncd-hub.conf" --foreground </dev/null >"$tmp/syncd-hub.log" 2>&1 &
syncd_hub_pid=$!
wait_for 300 "the host following the hub to get the joiner" hub_has_group omar.haddad platform
say "A provision-syncd following the hub's feed (type = hub, a host token, read-only) has him after $(since "$t0") s:"
hns getent passwd omar.haddad
hns id omar.haddad
ok "joiner pushed by the IdP: account and team on the host"

echo
say "Okta's group push moves him into Admins (served as sudo): remove and add in one PATCH each"
t0=$(now)
idp PATCH "/Groups/$admins_g" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],
        \"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$omar\"}]}]}" >/dev/null ||
        fail "PATCH /Groups/Admins was refused by the hub"
idp PATCH "/Groups/$platform" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],
        \"Operations\":[{\"op\":\"remove\",\"path\":\"members[value eq \\\"$omar\\\"]\"}]}" >/dev/null ||
        fail "PATCH /Groups/platform was refused by the hub"
hub_moved() { hub_has_group omar.haddad sudo && ! hub_has_group omar.haddad platform; }
wait_for 300 "the mover's groups to follow the hub" hub_moved
say "After $(since "$t0") s:"
hns id omar.haddad
ok "mover: platform dropped, sudo gained"

echo
ouid=$(in_hub_ns getent passwd omar.haddad | cut -d: -f3)
[ -n "$ouid" ] || fail "omar.haddad does not resolve on the host following the hub"
"$py" "$top/demo/sessions.py" add c43 "$ouid" omar.haddad
say "omar.haddad (uid $ouid) logs in on that host: a session at the logind stand-in."
"$py" "$top/demo/sessions.py" list "$ouid" || fail "the stand-in does not list omar's session"
say "Entra ID deactivates him: PATCH /Users {\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"} (a string)"
t0=$(now)
idp PATCH "/Users/$omar" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","path":"active","value":"False"}]}' >/dev/null ||
        fail "PATCH /Users (deactivate) was refused by the hub"
[ "$(idp GET "/Users/$omar" | json 'd["active"]')" = False ] || fail "GET /Users/$omar does not show active: false"
hub_gone() { [ "$(in_hub_ns getent passwd omar.haddad | cut -d: -f7)" = /usr/sbin/nologin ] && ! hub_has_group omar.haddad sudo; }
wait_for 300 "TerminateUser($ouid) at the logind stand-in" grep -q "^TerminateUser $ouid " "$LOGIND_MOCK_CALLS"
t1=$(awk -v u="$ouid" '$1 == "TerminateUser" && $2 == u { print $3; exit }' "$LOGIND_MOCK_CALLS")
hub_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
say "TerminateUser($ouid) reached logind ${bold}$hub_secs s${off} after the IdP's PATCH at the hub: the host held a"
say "feed request, and the hub answered it as the change committed (no polling interval)."
wait_for 300 "the leaver to be suspended on the host" hub_gone
say "GET /Users/$omar shows active: false; on the host:"
hns getent passwd omar.haddad
hns id omar.haddad
ok "leaver: session ended, suspended, no login shell, no groups (sudo gone)"
echo
# The host acks what it did; the report reads the hub's store beside the running hub.
acked() { "$hub" --config "$tmp/hub/hub.conf" leaver "$omar" 2>/dev/null | grep -q 'sessions terminated on 1$'; }
wait_for 100 "the host's ack in the hub's fleet report" acked
say '$ provision-hub leaver '"$omar"'   # the fleet report: is his access gone, everywhere?'
"$hub" --config "$tmp/hub/hub.conf" leaver "$omar" | sed 's/^/    /'
ok "the hub knows on which hosts his sessions ended"
stop "$syncd_hub_pid"; syncd_hub_pid=''
stop "$hub_pid"; hub_pid=''

# --- the end ----------------------------------------------------------------------------------
step "Clean-up"
cleanup
etc_after=$(etc_sum)
[ "$etc_before" = "$etc_after" ] || fail "/etc/passwd, /etc/group or /etc/nsswitch.conf changed"
ok "daemon, SCIM server, logind stand-in and private bus stopped; $(basename "$tmp") removed"
ok "/etc/passwd, /etc/group and /etc/nsswitch.conf have the same sha256 as before: the host's /etc is untouched"
say "Demo took $(since "$t_start") s. Suspension at the source to terminated session: $secs s polling every ${interval} s,"
say "$hub_secs s through the hub's feed."
