#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# pam_provision.so through real Linux-PAM, the way an application sees it: pamtester runs
# account management and session opening under pam_wrapper, which reads the service files from a
# temporary directory instead of /etc/pam.d. pam_wrapper also turns pam_syslog() into lines on
# stderr ("SYSLOG(priority): text" at PAM_WRAPPER_DEBUGLEVEL=3), which lets us check the log lines.

set -u

: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

skip() {
        echo "SKIP: $*"
        exit 77
}

command -v pamtester >/dev/null 2>&1 || skip "pamtester is not installed"

module="$top_builddir/pam_provision/.libs/pam_provision.so"
mksnap="$top_builddir/tests/nss/mksnap"
profile="$top_srcdir/pam-configs/provision"
[ -r "$module" ] || { echo "FAIL: $module is not built"; exit 1; }
[ -x "$mksnap" ] || { echo "FAIL: $mksnap is not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-pam.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
svc="$tmp/services"
mkdir "$svc"

failures=0
fail() {
        echo "FAIL: $*"
        sed 's/^/    | /' "$tmp/out"
        failures=$((failures + 1))
}
ok() {
        echo "ok: $*"
}

# run SERVICE USER OPERATION...: pamtester under pam_wrapper; output (conversation, pamtester's
# verdict and the module's syslog lines) in $tmp/out, pamtester's exit code returned.
run() {
        service=$1 user=$2
        shift 2
        # A private runtime dir: pam_wrapper's default (/tmp/pam.X) is shared by every
        # concurrent user of pam_wrapper on the machine. A preload from the environment
        # (scripts/sanitize.sh: the sanitizer runtimes) stays first.
        mkdir -p "$tmp/pamwrap"
        LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc" \
                PAM_WRAPPER_RUNTIME_DIR="$tmp/pamwrap" PAM_WRAPPER_DEBUGLEVEL=3 PROVISION_SNAPSHOT= \
                pamtester "$service" "$user" "$@" >"$tmp/out" 2>&1
}

# The "other" service denies: a typo in a service name must not pass by accident.
printf '%s\n' "auth required pam_deny.so" "account required pam_deny.so" \
        "session required pam_deny.so" "password required pam_deny.so" >"$svc/other"

# Can pam_wrapper drive pamtester at all on this machine?
printf '%s\n' "account required pam_permit.so" >"$svc/preflight"
run preflight nobody acct_mgmt || skip "pamtester under pam_wrapper (libpam_wrapper.so) does not work: $(head -n 3 "$tmp/out")"
run other nobody acct_mgmt && skip "pam_wrapper did not take the service directory (the deny service passed)"

# Snapshots: fresh, two hours old.
snap="$tmp/snapshot"
stale="$tmp/snapshot-stale"
# An account of this host's /etc/passwd (not root) that the snapshot also names, as refused: the
# writer never serves a local name, but /etc/passwd can gain it after a publication, and whatever
# the snapshot says, local accounts keep working.
local=$(awk -F: '$1 != "root" && $1 ~ /^[a-z_][a-z0-9_-]*$/ { print $1; exit }' /etc/passwd)
[ -n "$local" ] || skip "no account besides root in /etc/passwd"
fixture="U:alice:10001:10001:Alice:/home/alice:/bin/bash:active:0
U:carol:10003:10003:Carol:/home/carol:/usr/sbin/nologin:suspended:0
U:dave:10004:10004:Dave:/home/dave:/usr/sbin/nologin:blocked:0
U:erin:10005:10005:Erin:/home/erin:/usr/sbin/nologin:deprovisioned:0
U:$local:10006:10006:Local:/home/local:/usr/sbin/nologin:deprovisioned:0
U:root:10007:10007:Root:/root:/usr/sbin/nologin:deprovisioned:0"
printf 'M:1:now:10000:60000\n%s\n' "$fixture" | "$mksnap" "$snap" || exit 1
two_hours_ago=$(( ($(date +%s) - 7200) * 1000000 ))
printf 'M:1:%s:10000:60000\n%s\n' "$two_hours_ago" "$fixture" | "$mksnap" "$stale" || exit 1

# service NAME ARGS...: a stack as distributions build it, pam_permit first standing for the
# primary modules (common-account, common-session), then pam_provision with ARGS.
service() {
        name=$1
        shift
        {
                echo "account requisite pam_permit.so"
                echo "account required $module $*"
                echo "session required pam_permit.so"
                echo "session required $module $*"
        } >"$svc/$name"
}

service prov "snapshot=$snap"
service stale "snapshot=$stale" max_staleness=3600
service missing "snapshot=$tmp/no-such-snapshot"
service missing-fc "snapshot=$tmp/no-such-snapshot" fail_closed
service unknown no_such_option "snapshot=$snap"
service quiet "snapshot=$snap" quiet

# Local users (not in the snapshot) pass: the module says PAM_IGNORE.
if run prov localuser acct_mgmt open_session close_session; then ok "local user passes account and session"
else fail "local user refused"; fi
if run prov root acct_mgmt open_session; then ok "root passes, though the snapshot has a deprovisioned 'root'"
else fail "root refused"; fi
if run prov "$local" acct_mgmt open_session close_session; then ok "local account $local passes though the snapshot says deprovisioned"
else fail "local account $local refused because the snapshot names it"; fi

if run prov alice acct_mgmt open_session close_session; then ok "active user passes account and session"
else fail "active user refused"; fi

# refused USER STATE MESSAGE: account management fails, the user is told why, and the log names
# user and state at LOG_AUTHPRIV|LOG_NOTICE (80|5 = 85).
refused() {
        if run prov "$1" acct_mgmt; then
                fail "$2 user $1 passed account management"
        elif ! grep -q "^$3" "$tmp/out"; then
                fail "$2 user $1: no message '$3' to the user"
        elif ! grep -q "User account has expired" "$tmp/out"; then
                fail "$2 user $1: not refused as an expired account (PAM_ACCT_EXPIRED)"
        elif ! grep -q "SYSLOG(85): account: refusing user '$1': account $2\$" "$tmp/out"; then
                fail "$2 user $1: no LOG_AUTHPRIV|LOG_NOTICE line naming user and state"
        else
                ok "$2 user refused with message and log line"
        fi
}
refused carol suspended "Your account has been suspended by your organisation's directory. Contact your administrator."
refused erin deprovisioned "Your account has been removed from your organisation's directory. Contact your administrator."
refused dave blocked "Your account has been blocked on this host by an administrator. Contact your administrator."

if run quiet carol acct_mgmt; then fail "quiet: suspended user passed"
elif grep -q "Your account" "$tmp/out"; then fail "quiet: the user was told anyway"
else ok "quiet refuses without a message"; fi

# Session opening refuses as well (for services that skip account management).
if run prov carol open_session; then fail "suspended user opened a session"
elif ! grep -q "^Your account has been suspended" "$tmp/out"; then fail "session: no message to the user"
elif ! grep -q "SYSLOG(85): session: refusing user 'carol': account suspended" "$tmp/out"; then
        fail "session: no log line"
else ok "session open refuses a suspended user"; fi

# Staleness: provisioned users are refused, local ones are not affected.
if run stale alice acct_mgmt; then fail "stale snapshot: active user passed"
elif ! grep -q "out of date" "$tmp/out"; then fail "stale snapshot: no message to the user"
else ok "stale snapshot refuses a provisioned user"; fi
if run stale localuser acct_mgmt open_session; then ok "stale snapshot does not affect a local user"
else fail "stale snapshot refused a local user"; fi

# Missing snapshot: pass by default, refuse with fail_closed; logged at LOG_ERR (3, as the module
# passes it; Linux-PAM adds LOG_AUTHPRIV itself) either way.
if run missing alice acct_mgmt && grep -q "SYSLOG(3): cannot read snapshot" "$tmp/out"; then
        ok "missing snapshot passes by default, logged"
else fail "missing snapshot: refused by default or not logged"; fi
if run missing-fc alice acct_mgmt; then fail "missing snapshot with fail_closed passed"
elif ! grep -q "SYSLOG(3): cannot read snapshot" "$tmp/out"; then fail "missing snapshot with fail_closed: not logged"
else ok "missing snapshot with fail_closed refuses"; fi
if run missing-fc localuser acct_mgmt; then fail "missing snapshot with fail_closed passed a user unknown to /etc/passwd"
else ok "fail_closed also refuses users unknown to /etc/passwd when the snapshot is missing"; fi
if run missing-fc "$local" acct_mgmt; then ok "fail_closed never refuses an account of /etc/passwd"
else fail "fail_closed refused the local account $local"; fi
if run missing-fc root acct_mgmt; then ok "fail_closed never refuses root"
else fail "fail_closed refused root"; fi

# A snapshot whose record of a user is readable by name (NSS serves it) but whose state entry is
# corrupt (state 99): the user is ours, so the module refuses instead of stepping aside, with or
# without fail_closed; users it does not know are not affected.
printf 'M:1:now:10000:60000\nU:erin:10005:10005:Erin:/home/erin:/usr/sbin/nologin:deprovisioned:0\n' |
        "$mksnap" "$tmp/snapshot-badstate" || exit 1
/usr/bin/python3 -c 'import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(80); off = struct.unpack("<Q", f.read(8))[0]
f.seek(off + 4); f.write(struct.pack("<I", 99))' "$tmp/snapshot-badstate" || exit 1
service badstate "snapshot=$tmp/snapshot-badstate"
if run badstate erin acct_mgmt; then fail "a user whose state entry is corrupt passed account management"
elif run badstate erin open_session; then fail "a user whose state entry is corrupt opened a session"
elif ! run badstate localuser acct_mgmt; then fail "corrupt state entry of another user: a user unknown to it refused"
else ok "a user of the snapshot whose state cannot be read is refused"; fi

# Unknown options are logged and ignored.
if ! run unknown alice acct_mgmt; then fail "unknown option: active user refused"
elif ! grep -q "SYSLOG(3): unknown option: no_such_option" "$tmp/out"; then fail "unknown option not logged"
else ok "unknown option logged and ignored"; fi
if run unknown carol acct_mgmt; then fail "unknown option: suspended user passed"
else ok "unknown option does not disable the module"; fi

# The pam-auth-update profile: its Account and Session lines, as pam-auth-update appends them
# after the primary block of common-account and common-session, work in a stack.
profile_lines() {
        # Lines of the block named $1 (indented lines after "$1:"), prefixed with the module type
        # $2 as pam-auth-update writes them.
        awk -v key="$1:" -v type="$2" \
                '$0 == key { on = 1; next } /^[^ \t]/ { on = 0 } on && NF { sub(/^[ \t]+/, ""); print type " " $0 }' \
                "$profile"
}
{
        echo "account [success=1 default=ignore] pam_permit.so"
        echo "account requisite pam_deny.so"
        echo "account required pam_permit.so"
        profile_lines Account account
        echo "session required pam_permit.so"
        profile_lines Session session
} | sed "s|pam_provision\.so|$module snapshot=$snap|" >"$svc/debian"
if [ "$(grep -c "$module" "$svc/debian")" -ne 2 ]; then fail "profile $profile has no Account/Session line for pam_provision.so"
elif ! run debian localuser acct_mgmt open_session close_session; then fail "profile stack refused a local user"
elif grep -q "SYSLOG(3): (debian)" "$tmp/out"; then fail "profile stack: Linux-PAM rejects a line of it"
elif ! run debian alice acct_mgmt open_session close_session; then fail "profile stack refused an active user"
elif run debian carol acct_mgmt; then fail "profile stack: suspended user passed account"
elif run debian erin open_session; then fail "profile stack: deprovisioned user opened a session"
else ok "pam-auth-update profile lines work in a common-account/common-session stack"; fi

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
fi
exit 0
