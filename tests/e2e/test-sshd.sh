#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# End to end with a real sshd on 127.0.0.1: users provisioned by provision-syncd --once from a
# directory file log in with a key; after the directory suspends one and removes another and one
# more sync, their logins are refused by pam_provision inside sshd, the live session of the
# suspended one ends (logind is asked through a python-dbusmock logind on a private bus, and
# kill_processes = yes really kills the session's processes), and a user who stays keeps working.
#
# SSH keys from the directory: sshd also asks provision-ssh-keys (AuthorizedKeysCommand, run as
# the unprivileged user nobody); kim has no authorized_keys file, her key is only in the
# directory's ssh_keys_attribute. She logs in with it; after the directory suspends her and one
# sync, the same key is refused (the helper prints nothing, before PAM is reached).
#
# sshd must see our NSS module, our nsswitch.conf, our PAM service and the snapshot at the
# compiled-in path, and none of that may touch the host. So the test runs itself again in a
# private mount namespace (unshare -m, propagation private) and there:
#   - mounts a read-only overlayfs over the multiarch library directory (lower layers: a scratch
#     directory holding a copy of libnss_provision.so.2, then the real directory). glibc's dlopen
#     of "libnss_provision.so.2" finds it there exactly as it finds an installed module; sshd
#     re-executes itself and clears the environment of sessions, so LD_LIBRARY_PATH or
#     PROVISION_SNAPSHOT would not reach every lookup, and a path in the real directory would
#     have to be created on the host;
#   - mounts the same kind of overlay over /var/lib whose top layer has only a symlink
#     "provision" -> the test's state directory, so /var/lib/provision/snapshot (the module's
#     default) is the snapshot provision-syncd publishes;
#   - bind-mounts a test nsswitch.conf over /etc/nsswitch.conf and a test directory over
#     /etc/pam.d (the service is named after a symlink to sshd, Linux-PAM's service name being
#     sshd's program name);
#   - mounts a tmpfs over /run for sshd's privilege separation directory /run/sshd (which also
#     hides any nscd socket, so no cache answers in place of the module);
#   - puts an overlay over /dev that adds /dev/log, a socket the test reads, to check the
#     modules' syslog lines.
# The mounts end with the namespace. The outer half checks that the host's /etc and the module's
# path in the library directory are the same before and after.
set -u

: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
py=${PYTHON:-/usr/bin/python3}
export top_builddir top_srcdir PYTHON="$py"

syncd=$top_builddir/syncd/provision-syncd
nss_module=$top_builddir/nss_provision/.libs/libnss_provision.so.2
keys_helper=$top_builddir/sshkeys/provision-ssh-keys
pam_module=$top_builddir/pam_provision/.libs/pam_provision.so
sshd_bin=/usr/sbin/sshd

skip() {
        echo "SKIP: $*"
        exit 77
}

# Under scripts/sanitize.sh the ASan runtime is preloaded into every process: sshd re-executes
# itself and the private dbus-daemon does not come up then. The modules are covered by the
# sanitized C tests (test-nss-dlopen, test-pam-direct) in that run.
case "${LD_PRELOAD:-}" in
*libasan*) skip "the sanitizer run preloads libasan into sshd and dbus-daemon" ;;
esac

# The directory glibc loads NSS modules from: where libnss_files.so.2 lives.
nss_libdir() {
        local f
        f=$(ldconfig -p 2>/dev/null | awk '$1 == "libnss_files.so.2" && /x86-64|64bit/ { print $NF; exit }')
        [ -n "$f" ] || f=$(ldconfig -p 2>/dev/null | awk '$1 == "libnss_files.so.2" { print $NF; exit }')
        [ -n "$f" ] && dirname "$(realpath "$f")"
}

# What must not change on the host: contents and metadata of everything in /etc; in the library
# directory, the NSS module's name (what a test without a namespace would have to create there;
# the directory as a whole is not compared, as package installs on a shared machine change it);
# and /run/sshd, /var/lib/provision and /dev/log must not appear.
host_state() {
        local libdir=$1
        find /etc -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum 2>/dev/null
        find /etc -xdev -printf '%p %y %m %U %G %s\n' 2>/dev/null | sort
        find "$libdir" -maxdepth 1 -name 'libnss_provision*' -printf '%p %y %s %T@\n' | sort
        find "$libdir" -maxdepth 1 -name 'libnss_provision*' -type f -exec sha256sum {} +
        ls -ld /run/sshd /var/lib/provision /dev/log 2>&1
}

if [ "${1:-}" != --inner ]; then
        [ "$(id -u)" -eq 0 ] || skip "needs root (mount namespace, sshd, users' processes)"
        [ -x "$sshd_bin" ] || skip "$sshd_bin is missing (Debian package openssh-server; scripts/setup-deps.sh installs it)"
        for c in ssh ssh-keygen unshare mount setsid; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is missing"
        done
        for f in "$syncd" "$nss_module" "$pam_module" "$keys_helper"; do
                [ -e "$f" ] || { echo "FAIL: $f is not built"; exit 1; }
        done
        libdir=$(nss_libdir)
        [ -n "$libdir" ] && [ -d "$libdir" ] || skip "cannot find glibc's NSS module directory (ldconfig -p)"
        unshare -m --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"

        tmp=$(mktemp -d /tmp/test-sshd.XXXXXX) || exit 99
        trap 'rm -rf "$tmp"' EXIT
        trap 'exit 99' HUP INT TERM
        # sshd reads authorized keys and users run commands as themselves: the tree is readable.
        chmod 0755 "$tmp"

        host_state "$libdir" >"$tmp/host-before"
        unshare -m --propagation private "$0" --inner "$tmp" "$libdir"
        rc=$?
        host_state "$libdir" >"$tmp/host-after"
        if ! cmp -s "$tmp/host-before" "$tmp/host-after"; then
                echo "FAIL: the host changed under the test:"
                diff "$tmp/host-before" "$tmp/host-after" | head -n 20
                exit 1
        fi
        [ "$rc" -eq 0 ] && echo "ok: the host's /etc and NSS module path are unchanged, nothing added to /run, /var/lib, /dev"
        exit "$rc"
fi

# ---------------------------------------------------------------------------------------------
# Inside the private mount namespace. Nothing from the environment may point glibc or the modules
# at the build tree: only the mounts below do.
unset LD_LIBRARY_PATH LD_PRELOAD PROVISION_SNAPSHOT
tmp=$2
libdir=$3
sshd_pid=
syslog_pid=
bus_pid=
mock_pid=
bg_pid=
failures=0

test_uids=
cleanup() {
        local u p
        for p in $bg_pid $sshd_pid $syslog_pid $mock_pid $bus_pid; do
                kill "$p" 2>/dev/null
        done
        # After a failure, processes of the test's own users (sessions, the sleep of linus's) may
        # be left; they are ours, end them by pid.
        for u in $test_uids; do
                for p in $(pgrep -u "$u"); do
                        kill -KILL "$p" 2>/dev/null
                done
        done
        wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}
ok() {
        echo "ok: $*"
}
die() {
        echo "FAIL: $*"
        for f in sshd.log syncd.log syslog.txt; do
                [ -s "$tmp/$f" ] && { echo "--- $f:"; tail -n 30 "$tmp/$f"; }
        done
        exit 1
}

# poll N CMD...: runs CMD every 0.1 s until it succeeds, at most N times (a bound on tries for
# an event to happen, not a timing assertion).
poll() {
        local n=$1 i=0
        shift
        until "$@"; do
                i=$((i + 1))
                [ "$i" -ge "$n" ] && return 1
                sleep 0.1
        done
}

# --- Mounts (see the top of the file).
mkdir -p "$tmp/lib" "$tmp/varlib" "$tmp/state" "$tmp/pam.d" "$tmp/home" "$tmp/keys" "$tmp/bin"
cp "$nss_module" "$tmp/lib/libnss_provision.so.2"
ln -s "$tmp/state" "$tmp/varlib/provision"
mount -t overlay overlay -o "ro,lowerdir=$tmp/lib:$libdir" "$libdir" 2>"$tmp/mount.err" ||
        { echo "SKIP: overlayfs is not available here: $(cat "$tmp/mount.err")"; exit 77; }
mount -t overlay overlay -o "ro,lowerdir=$tmp/varlib:/var/lib" /var/lib || die "overlay on /var/lib"
printf '%s\n' "passwd: files provision" "group: files provision" "shadow: files provision" \
        "hosts: files dns" >"$tmp/nsswitch.conf"
mount --bind "$tmp/nsswitch.conf" /etc/nsswitch.conf || die "bind mount of nsswitch.conf"
mount -t tmpfs -o mode=0755 tmpfs /run || die "tmpfs on /run"
mkdir -m 0755 /run/sshd

# pam_provision logs through syslog(3), that is /dev/log, which this host may not have. An overlay
# over /dev whose top layer holds only the symlink log -> our receiver's socket adds it; /dev/pts
# and /dev/shm, hidden by the overlay, are bound again on top.
have_syslog=0
mkdir -p "$tmp/devlayer" "$tmp/newdev"
ln -s "$tmp/syslog.sock" "$tmp/devlayer/log"
if mount -t overlay overlay -o "ro,lowerdir=$tmp/devlayer:/dev" "$tmp/newdev" 2>/dev/null; then
        for m in pts shm; do
                mountpoint -q "/dev/$m" && mount --rbind "/dev/$m" "$tmp/newdev/$m"
        done
        mount --move "$tmp/newdev" /dev || die "cannot move the /dev overlay into place"
        "$py" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$tmp/syslog.sock" "$tmp/syslog.txt" &
        syslog_pid=$!
        syslog_up() { [ -S "$tmp/syslog.sock" ]; }
        poll 100 syslog_up || die "the syslog receiver did not come up"
        have_syslog=1
else
        echo "note: no overlay over /dev, pam_provision's syslog lines are not checked"
fi

# --- The directory, the daemon's configuration, a private system bus with the logind mock.
keys_urn=urn:example:params:scim:schemas:extension:ssh:2.0:User
user_json() { # ID NAME ACTIVE [PUBLIC_KEY_FILE]
        printf '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "%s", "userName": "%s", "active": %s' "$1" "$2" "$3"
        [ -n "${4:-}" ] && printf ', "%s": {"sshPublicKeys": [{"value": "%s"}]}' "$keys_urn" "$(cat "$4")"
        printf '}'
}
directory() { # one "ID NAME ACTIVE" per argument
        local first=1 u
        {
                printf '{"Users": ['
                for u in "$@"; do
                        [ $first -eq 1 ] || printf ', '
                        first=0
                        # shellcheck disable=SC2086
                        user_json $u
                done
                printf '], "Groups": []}\n'
        } >"$tmp/directory.json.new"
        mv "$tmp/directory.json.new" "$tmp/directory.json"
}

have_logind_mock=0
if command -v dbus-daemon >/dev/null 2>&1 &&
        "$py" -c 'import dbusmock' 2>/dev/null; then
        have_logind_mock=1
fi
if [ $have_logind_mock -eq 1 ]; then
        LOGIND_MOCK_CALLS=$tmp/logind-calls
        export LOGIND_MOCK_CALLS
        unset LOGIND_MOCK_FAIL LOGIND_MOCK_NO_SUCH_USER LOGIND_MOCK_STAMP LOGIND_MOCK_STRICT
        : >"$LOGIND_MOCK_CALLS"
        started=$("$py" "$top_srcdir/tests/lib/logindbus.py" start "$tmp") || die "the logind mock did not come up"
        eval "$started"
        terminate=yes
else
        # Never let the daemon reach the host's logind for test uids.
        echo "note: no dbus-daemon or python3-dbusmock, the TerminateUser check is skipped"
        terminate=no
fi

ssh-keygen -q -t ed25519 -N '' -C kim@laptop -f "$tmp/kim_key" || die "ssh-keygen (kim's key)"

cat >"$tmp/syncd.conf" <<CONF
[source]
type = file
path = $tmp/directory.json
[paths]
state_dir = $tmp/state
[accounts]
home_base = $tmp/home
ssh_keys_attribute = $keys_urn:sshPublicKeys
[sync]
max_deprovision = 100%
[enforce]
terminate_sessions = $terminate
kill_processes = yes
kill_grace = 1
CONF

sync_once() {
        "$syncd" --config "$tmp/syncd.conf" --once >>"$tmp/syncd.log" 2>&1 || die "provision-syncd --once failed"
}

directory "1 ada true" "2 grace true" "3 linus true" "4 kim true $tmp/kim_key.pub"
sync_once

# glibc in this namespace resolves the users through the module at its default path.
for u in ada grace linus; do
        getent passwd "$u" >/dev/null || die "getent passwd $u: not served through nsswitch.conf in the namespace"
done
ok "provisioned users resolve through glibc (nsswitch.conf, installed module path, default snapshot)"
ada_uid=$(getent passwd ada | cut -d: -f3)
grace_uid=$(getent passwd grace | cut -d: -f3)
linus_uid=$(getent passwd linus | cut -d: -f3)
kim_uid=$(getent passwd kim | cut -d: -f3)
[ -n "$kim_uid" ] || die "kim is not served"
test_uids="$ada_uid $grace_uid $linus_uid $kim_uid"
getent shadow ada >/dev/null || fail "getent shadow ada: pam_unix's account check needs a shadow entry"
for u in ada grace linus kim; do
        install -d -m 0700 -o "$u" -g "$u" "$tmp/home/$u"
done

# The helper where sshd accepts an AuthorizedKeysCommand: owned by root, and no directory up to
# / writable by others (the build tree is under /tmp). /run is the namespace's own tmpfs.
mkdir -m 0755 /run/provision
install -m 0755 "$keys_helper" /run/provision/provision-ssh-keys
# keys_as_nobody USER: what sshd gets from the helper.
keys_as_nobody() {
        setpriv --reuid=nobody --regid=nogroup --clear-groups /run/provision/provision-ssh-keys "$1" 2>"$tmp/helper.err"
}

# --- sshd: own host key, own configuration, own PAM service.
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key" || die "ssh-keygen (host key)"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/user_key" || die "ssh-keygen (user key)"
for u in ada grace linus; do
        cp "$tmp/user_key.pub" "$tmp/keys/$u"
done
chmod 0755 "$tmp/keys"
chmod 0644 "$tmp/keys"/*

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
UsePAM yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
StrictModes no
AuthorizedKeysFile $tmp/keys/%u
AuthorizedKeysCommand /run/provision/provision-ssh-keys %u
AuthorizedKeysCommandUser nobody
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
CONF

service=sshd-provision-e2e
ln -s "$sshd_bin" "$tmp/bin/$service"
# A stack as on Debian: pam_unix for the account (it needs the shadow entry our NSS serves), then
# pam_provision. Public key authentication does not go through PAM's auth stack.
printf '%s\n' \
        "auth     required pam_deny.so" \
        "account  required pam_unix.so" \
        "account  required $pam_module snapshot=/var/lib/provision/snapshot" \
        "session  required pam_unix.so" \
        "session  required $pam_module snapshot=/var/lib/provision/snapshot" \
        "password required pam_deny.so" >"$tmp/pam.d/$service"
printf '%s\n' "auth required pam_deny.so" "account required pam_deny.so" \
        "session required pam_deny.so" "password required pam_deny.so" >"$tmp/pam.d/other"
mount --bind "$tmp/pam.d" /etc/pam.d || die "bind mount of /etc/pam.d"

# The port was free a moment ago; if another program took it meanwhile, try another one.
listening() { grep -qs "Server listening on 127.0.0.1 port $port" "$tmp/sshd.log"; }
started() { listening || ! kill -0 "$sshd_pid" 2>/dev/null; }
for attempt in 1 2 3; do
        "$tmp/bin/$service" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
        sshd_pid=$!
        poll 200 started
        listening && break
        kill "$sshd_pid" 2>/dev/null
        wait "$sshd_pid" 2>/dev/null
        sshd_pid=
        grep -qs "Address already in use" "$tmp/sshd.log" || break
        port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        sed -i "s/^Port .*/Port $port/" "$tmp/sshd_config"
done
[ -n "$sshd_pid" ] && listening || die "sshd did not start listening (attempt $attempt)"

# login USER CMD...: a non-interactive key login; the remote command's output in $tmp/ssh.out, the
# client's messages (banners included: LogLevel INFO shows them) in $tmp/ssh.err, exit code returned.
# With $key set, that key instead of the shared one.
login() {
        local user=$1
        shift
        ssh -F /dev/null -i "${key:-$tmp/user_key}" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 \
                -o LogLevel=INFO "$user@127.0.0.1" "$@" </dev/null >"$tmp/ssh.out" 2>"$tmp/ssh.err"
}

# --- Joiners log in.
for u in ada grace linus; do
        if login "$u" 'id -un; id -u'; then
                uid=$(getent passwd "$u" | cut -d: -f3)
                if [ "$(tr '\n' ' ' <"$tmp/ssh.out")" = "$u $uid " ]; then
                        ok "$u logs in with a key and runs as uid $uid"
                else
                        fail "$u logged in but runs as: $(cat "$tmp/ssh.out")"
                fi
        else
                fail "$u cannot log in: $(cat "$tmp/ssh.err")"
        fi
done
grep -q "Accepted publickey for ada" "$tmp/sshd.log" || fail "sshd log has no accepted key login for ada"

# --- kim's key comes only from the directory: no file in $tmp/keys.
[ ! -e "$tmp/keys/kim" ] || die "kim must not have an authorized_keys file"
if [ "$(keys_as_nobody kim)" = "$(cat "$tmp/kim_key.pub")" ]; then
        ok "provision-ssh-keys, run as nobody, prints kim's directory key"
else
        fail "provision-ssh-keys kim printed '$(keys_as_nobody kim)' ($(cat "$tmp/helper.err"))"
fi
[ -z "$(keys_as_nobody ada)" ] || fail "provision-ssh-keys printed keys for ada, who has none in the directory"
if key=$tmp/kim_key login kim 'id -un' && [ "$(cat "$tmp/ssh.out")" = kim ]; then
        ok "kim logs in with the key from the directory (AuthorizedKeysCommand)"
else
        fail "kim cannot log in with her directory key: $(cat "$tmp/ssh.err")"
fi
grep -q "Accepted publickey for kim" "$tmp/sshd.log" || fail "sshd log has no accepted key login for kim"
# The shared key is not kim's.
if login kim true; then fail "kim logs in with a key that is not hers"; fi
[ "$failures" -eq 0 ] || die "joiners could not log in"

# --- A live session of ada's: a remote command that runs until it is ended.
setsid ssh -F /dev/null -i "$tmp/user_key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        ada@127.0.0.1 'exec sleep 600' </dev/null >"$tmp/bg.out" 2>&1 &
bg_pid=$!
ada_sleeps() { pgrep -u "$ada_uid" -x sleep >/dev/null; }
poll 200 ada_sleeps || die "ada's background session did not start: $(cat "$tmp/bg.out")"
linus_sleep_pid=$(setpriv --reuid="$linus_uid" --regid="$linus_uid" --clear-groups sleep 600 </dev/null >/dev/null 2>&1 &
        echo $!)

# --- The directory suspends ada and drops grace; one sync.
directory "1 ada false" "3 linus true" "4 kim false $tmp/kim_key.pub"
sync_once
getent passwd ada | grep -q ':/usr/sbin/nologin$' || fail "ada is not served as suspended: $(getent passwd ada)"

# login_refused USER STATE MESSAGE: the key is accepted, then PAM's account stage refuses with
# pam_provision's message (sshd sends PAM's messages to the client as a banner) and log line.
login_refused() {
        local user=$1 state=$2 msg=$3
        if login "$user" true; then
                fail "$user still logs in"
        elif ! grep -q "$msg" "$tmp/ssh.err"; then
                fail "$user refused, but not with pam_provision's message '$msg': $(cat "$tmp/ssh.err")"
        elif ! poll 50 grep -q "Access denied for user $user by PAM account configuration" "$tmp/sshd.log"; then
                fail "$user: sshd's log does not show the PAM account refusal"
        elif [ $have_syslog -eq 1 ] && ! poll 50 grep -qs \
                "pam_provision($service:account): account: refusing user '$user': account $state\$" "$tmp/syslog.txt"; then
                fail "$user: no syslog line of pam_provision in sshd's service naming user and state"
        else
                ok "$user is refused by pam_provision in sshd's account stage"
        fi
}
login_refused ada suspended "Your account has been suspended by your organisation's directory"
login_refused grace deprovisioned "Your account has been removed from your organisation's directory"
if login linus 'id -un' && [ "$(cat "$tmp/ssh.out")" = linus ]; then ok "linus, who stays, still logs in"
else fail "linus, who stays, cannot log in: $(cat "$tmp/ssh.err")"; fi

# kim, suspended at the source: after that one sync the same key is refused at authentication
# (the helper prints nothing for her), not only later by PAM.
[ -z "$(keys_as_nobody kim)" ] || fail "provision-ssh-keys still prints kim's key after her suspension"
accepted_before=$(grep -c "Accepted publickey for kim" "$tmp/sshd.log")
if key=$tmp/kim_key login kim true; then
        fail "kim still logs in with her directory key after her suspension"
elif ! grep -q "Permission denied (publickey" "$tmp/ssh.err"; then
        fail "kim refused, but not at key authentication: $(cat "$tmp/ssh.err")"
elif [ "$(grep -c "Accepted publickey for kim" "$tmp/sshd.log")" -ne "$accepted_before" ]; then
        fail "sshd accepted kim's key after her suspension"
else
        ok "kim's directory key is refused after her suspension and one sync"
fi

# ada's live session: logind was asked to end it, and its processes were killed.
if [ $have_logind_mock -eq 1 ]; then
        if [ "$(grep -c "^TerminateUser $ada_uid\$" "$LOGIND_MOCK_CALLS")" -eq 1 ]; then
                ok "exactly one TerminateUser($ada_uid) for ada"
        else
                fail "TerminateUser calls for ada: $(tr '\n' ';' <"$LOGIND_MOCK_CALLS")"
        fi
        grep -q "^TerminateUser $linus_uid\$" "$LOGIND_MOCK_CALLS" && fail "TerminateUser for linus, who stays"
fi
bg_gone() { ! kill -0 "$bg_pid" 2>/dev/null; }
if poll 300 bg_gone; then
        wait "$bg_pid" 2>/dev/null
        ok "ada's open ssh session ended after the sync (kill_processes)"
        bg_pid=
else
        fail "ada's open ssh session is still running"
fi
# The session's sshd child (ada's uid) may stay a zombie until its root monitor reaps it.
ada_live() { ps -u "$ada_uid" -o stat=,pid=,args= | awk '$1 !~ /^Z/'; }
ada_none_live() { [ -z "$(ada_live)" ]; }
if poll 100 ada_none_live; then ok "no live process of ada's uid is left"
else fail "processes of ada's uid survive: $(ada_live)"; fi
if kill -0 "$linus_sleep_pid" 2>/dev/null; then ok "a process of linus, who stays, survives"
else fail "a process of linus was killed"; fi
kill "$linus_sleep_pid" 2>/dev/null

if [ "$failures" -ne 0 ]; then
        for f in sshd.log syslog.txt; do
                [ -s "$tmp/$f" ] && { echo "--- $f:"; tail -n 40 "$tmp/$f"; }
        done
        echo "$failures failure(s)"
        exit 1
fi
exit 0
