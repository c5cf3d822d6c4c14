#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# End to end on a real systemd: boots a minimal Debian 12 in systemd-nspawn with the built
# .deb files installed, pointed at the test SCIM server on the host's 127.0.0.1 (the container
# shares the host network), and checks:
#   1. provision-syncd reaches active (running); "provisionctl status" is healthy (if built);
#   2. getent/id show a provisioned user; sshd in the container lets that user in with a key;
#   3. suspending the user at the SCIM server (PATCH active=false) closes the live ssh session
#      through the real logind, and a new login is refused (the seconds taken are reported);
#   4. purging the packages gives back nsswitch.conf and the PAM stacks byte for byte.
#
# Usage (root): tests/e2e/nspawn-e2e.sh
#   PROVISION_E2E_DEBS   directory of the .deb files (default: $top_builddir/packages, which
#                        dist/build-packages.sh deb fills)
#   PROVISION_E2E_CACHE  cache of the bootstrapped root (default: /var/cache/provision-e2e);
#                        debootstrap runs only when bookworm-e2e-base.tar is missing there
#   PROVISION_E2E_MIRROR Debian mirror (default: the first bookworm mirror apt uses here)
#   PROVISION_E2E_KEEP=1 keep the container root and logs in /var/tmp for inspection
# Exit: 0 all passed, 1 a check failed, 77 skipped (the reason is printed).
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/build}
debs=${PROVISION_E2E_DEBS:-$top_builddir/packages}
cache=${PROVISION_E2E_CACHE:-/var/cache/provision-e2e}
base="$cache/bookworm-e2e-base.tar"
interval=5
token=e2e-token-$RANDOM$RANDOM

skip() {
        echo "SKIP: $*"
        exit 77
}

failures=0
fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}
pass() {
        echo "ok: $*"
}
now() {
        date +%s.%N
}
elapsed() {
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}
started=$(now)

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter node curl ssh ssh-keygen; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
[ -d "$top_srcdir/tests/node_modules" ] || skip "tests/node_modules missing (run scripts/setup-deps.sh)"
shopt -s nullglob
pkgs=("$debs"/libnss-provision_*.deb "$debs"/libpam-provision_*.deb "$debs"/provision_*.deb)
shopt -u nullglob
[ ${#pkgs[@]} -eq 3 ] || skip "no built packages in $debs (run dist/build-packages.sh deb)"

# The mirror apt already uses on this host, so that no other network is needed.
mirror=${PROVISION_E2E_MIRROR:-}
if [ -z "$mirror" ]; then
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
                awk '/^deb[[:space:]]/ && / bookworm / && $2 !~ /security/ { print $2; exit }
                     /^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ { print $2; exit }')
        mirror=${mirror:-http://deb.debian.org/debian}
fi

work=$(mktemp -d /var/tmp/provision-e2e.XXXXXX)
root="$work/root"
nspawn_pid=
scim_pid=
live_pid=
cleanup() {
        [ -n "$live_pid" ] && kill "$live_pid" 2>/dev/null
        if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
                # nspawn asks the container's systemd to power off.
                kill "$nspawn_pid" 2>/dev/null
                for _ in $(seq 1 60); do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        sleep 0.5
                done
                kill -9 "$nspawn_pid" 2>/dev/null
                wait "$nspawn_pid" 2>/dev/null
        fi
        [ -n "$scim_pid" ] && kill "$scim_pid" 2>/dev/null && wait "$scim_pid" 2>/dev/null
        if [ "${PROVISION_E2E_KEEP:-0}" = 1 ]; then
                echo "kept: $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT

# run_in CMD...: runs CMD in the booted container's namespaces (there is no machined to ask).
run_in() {
        nsenter --target "$leader" --mount --uts --ipc --pid -- "$@"
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
        local deadline
        deadline=$(awk -v t="$1" -v n="$(now)" 'BEGIN { printf "%.1f", n + t }')
        shift
        while ! "$@" >/dev/null 2>&1; do
                awk -v d="$deadline" -v n="$(now)" 'BEGIN { exit !(n > d) }' && return 1
                sleep 0.2
        done
}

free_port() {
        /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the cached root -----------------------------------------------------------------------
# debootstrap once; the tarball also carries apt's lists and the openssh-server .debs, so later
# runs need no network at all.
if [ ! -f "$base" ]; then
        echo "bootstrapping bookworm from $mirror into $base (once)"
        mkdir -p "$cache"
        staging=$(mktemp -d "$cache/staging.XXXXXX")
        if ! debootstrap --variant=minbase \
                --include=systemd,systemd-sysv,dbus,libpam-systemd,libcurl4,libcjson1,libsqlite3-0,ca-certificates,procps \
                bookworm "$staging/root" "$mirror" >"$staging/debootstrap.log" 2>&1; then
                tail -n 20 "$staging/debootstrap.log"
                rm -rf "$staging"
                skip "debootstrap from $mirror failed (no mirror reachable?)"
        fi
        if ! systemd-nspawn -q --register=no --keep-unit -D "$staging/root" -- /bin/sh -ec \
                'apt-get -q update; apt-get -q -y --no-install-recommends --download-only install openssh-server' \
                >"$staging/apt.log" 2>&1; then
                tail -n 20 "$staging/apt.log"
                rm -rf "$staging"
                skip "could not fetch openssh-server into the cached root"
        fi
        tar -C "$staging/root" --numeric-owner -cf "$staging/base.tar" . && mv "$staging/base.tar" "$base"
        rm -rf "$staging"
fi
t=$(now)
mkdir "$root"
tar -C "$root" -xf "$base" || { echo "FAIL: cannot unpack $base"; exit 1; }
echo "root unpacked in $(elapsed "$t" "$(now)") s"

scim_port_file="$work/scim-port"
ssh_port=$(free_port)
echo "e2e-host" >"$root/etc/hostname"

# Nothing may start a daemon while packages are installed outside the booted system: sshd
# would listen on the host's network.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# sshd configured before it is installed: loopback only, a free port, keys only.
mkdir -p "$root/etc/ssh/sshd_config.d" "$root/etc/ssh/authorized_keys"
cat >"$root/etc/ssh/sshd_config.d/provision-e2e.conf" <<EOF
ListenAddress 127.0.0.1:$ssh_port
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM yes
AuthorizedKeysFile /etc/ssh/authorized_keys/%u
EOF
ssh-keygen -q -t ed25519 -N '' -C provision-e2e -f "$work/id_e2e"
install -m 0644 "$work/id_e2e.pub" "$root/etc/ssh/authorized_keys/alice"

t=$(now)
if ! systemd-nspawn -q --register=no --keep-unit -D "$root" -- /bin/sh -ec \
        'DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends --no-download install openssh-server' \
        >"$work/install-ssh.log" 2>&1; then
        tail -n 20 "$work/install-ssh.log"
        echo "FAIL: installing openssh-server in the root"
        exit 1
fi
# The stock state of the files our packages edit, to compare with after the purge.
(cd "$root/etc" && sha256sum nsswitch.conf pam.d/common-*) >"$work/before.sha256"

mkdir -p "$root/var/tmp/debs"
cp "${pkgs[@]}" "$root/var/tmp/debs/"
if ! systemd-nspawn -q --register=no --keep-unit -D "$root" -- /bin/sh -ec \
        'DEBIAN_FRONTEND=noninteractive dpkg -i /var/tmp/debs/*.deb' \
        >"$work/install-debs.log" 2>&1; then
        tail -n 30 "$work/install-debs.log"
        echo "FAIL: installing the provision packages"
        exit 1
fi
rm -rf "$root/var/tmp/debs" "$root/usr/sbin/policy-rc.d"
echo "openssh-server and the packages installed in $(elapsed "$t" "$(now)") s"
grep -q '^passwd:.*provision' "$root/etc/nsswitch.conf" && grep -q '^group:.*provision' "$root/etc/nsswitch.conf" &&
        grep -q '^shadow:.*provision' "$root/etc/nsswitch.conf" && pass "libnss-provision added provision to nsswitch.conf" ||
        fail "nsswitch.conf after install: $(grep -E '^(passwd|group|shadow):' "$root/etc/nsswitch.conf" | tr '\n' ';')"
grep -q pam_provision.so "$root/etc/pam.d/common-account" && grep -q pam_provision.so "$root/etc/pam.d/common-session" &&
        pass "pam-auth-update put pam_provision.so in common-account and common-session" ||
        fail "pam_provision.so missing from the PAM stacks"

# --- the SCIM server and the daemon's configuration ---------------------------------------------
node "$top_srcdir/tests/scim-server/server.js" --port 0 --port-file "$scim_port_file" \
        --data "$top_srcdir/tests/e2e/directory.json" --token "$token" >"$work/scim.log" 2>&1 &
scim_pid=$!
wait_for 30 test -s "$scim_port_file" || { cat "$work/scim.log"; echo "FAIL: the SCIM server did not start"; exit 1; }
scim_port=$(cat "$scim_port_file")

[ -d "$root/etc/provision" ] && pass "the package made /etc/provision" || fail "the package did not make /etc/provision"
mkdir -p "$root/etc/provision"
install -m 0600 /dev/null "$root/etc/provision/scim-token"
printf '%s\n' "$token" >"$root/etc/provision/scim-token"
cat >"$root/etc/provision/syncd.conf" <<EOF
[source]
type = scim
url = http://127.0.0.1:$scim_port/scim/v2
token_credential = scim-token
allow_insecure_http = yes

[sync]
interval = $interval

[accounts]
strip_domain = yes
allow_groups = engineering

[enforce]
terminate_sessions = yes
kill_processes = yes
EOF

# --- boot ------------------------------------------------------------------------------------
t=$(now)
systemd-nspawn --register=no --keep-unit -b -D "$root" --console=passive >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
leader=
for _ in $(seq 1 100); do
        # nspawn's child, once it has become the container's systemd
        for pid in $(ps --ppid "$nspawn_pid" -o pid= 2>/dev/null); do
                [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = systemd ] && leader=$pid
        done
        [ -n "$leader" ] && break
        sleep 0.1
done
[ -n "$leader" ] || { cat "$work/nspawn.log"; echo "FAIL: the container did not start"; exit 1; }
is_up() {
        state=$(run_in systemctl is-system-running 2>/dev/null)
        [ "$state" = running ] || [ "$state" = degraded ]
}
wait_for 120 is_up || { run_in systemctl --failed --no-pager; echo "FAIL: the container did not boot"; exit 1; }
boot_s=$(elapsed "$t" "$(now)")
echo "container booted in $boot_s s ($(run_in systemctl is-system-running))"

# --- 1. the daemon is active (running) ---------------------------------------------------------
daemon_running() {
        [ "$(run_in systemctl show -P SubState provision-syncd.service)" = running ]
}
if wait_for 60 daemon_running; then
        pass "provision-syncd.service is active (running): $(run_in systemctl show -P StatusText provision-syncd.service)"
else
        fail "provision-syncd.service: $(run_in systemctl show -P ActiveState,SubState,Result provision-syncd.service | tr '\n' ' ')"
        run_in journalctl -b -u provision-syncd.service --no-pager | tail -n 30
fi
if [ -x "$root/usr/sbin/provisionctl" ]; then
        if run_in provisionctl status >"$work/status.txt" 2>&1; then
                pass "provisionctl status exits 0"
        else
                fail "provisionctl status: $(cat "$work/status.txt")"
        fi
else
        echo "skip: provisionctl status: provisionctl is not built in this tree (the control-interface branch ships it)"
fi

# --- 2. NSS and an ssh key login -------------------------------------------------------------------
alice_known() {
        run_in getent passwd alice
}
if wait_for 30 alice_known; then
        pass "getent passwd alice: $(run_in getent passwd alice)"
        pass "id alice: $(run_in id alice)"
else
        fail "getent passwd alice finds nothing"
fi
uid=$(run_in id -u alice 2>/dev/null)
if [ -n "$uid" ]; then
        # sshd only warns about a missing home; a real one keeps the session quiet.
        run_in install -d -o "$uid" -g "$(run_in id -g alice)" -m 0700 /home/alice
fi
sshd_up() {
        run_in systemctl is-active ssh.service
}
wait_for 30 sshd_up || fail "ssh.service is not active in the container"
ssh_opts=(-i "$work/id_e2e" -p "$ssh_port" -o BatchMode=yes -o StrictHostKeyChecking=no
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10)
if out=$(ssh "${ssh_opts[@]}" alice@127.0.0.1 'id -un' 2>&1) && [ "$out" = alice ]; then
        pass "ssh key login as alice works"
else
        fail "ssh key login as alice: $out"
        run_in journalctl -b -u ssh.service --no-pager | tail -n 20
fi

# --- 3. suspension closes the live session, a new login is refused ------------------------------
ssh "${ssh_opts[@]}" alice@127.0.0.1 'echo session-started; exec sleep 600' >"$work/live.out" 2>&1 &
live_pid=$!
session_open() {
        grep -q session-started "$work/live.out" && run_in loginctl --no-legend list-sessions | grep -qw alice
}
if ! wait_for 30 session_open; then
        fail "the live ssh session did not open: $(cat "$work/live.out")"
else
        pass "live ssh session open: $(run_in loginctl --no-legend list-sessions | grep -w alice)"
        patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}'
        t=$(now)
        code=$(curl -s --max-time 60 -o "$work/patch.out" -w '%{http_code}' -X PATCH \
                -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
                --data "$patch" "http://127.0.0.1:$scim_port/scim/v2/Users/e2e-u-alice")
        [ "$code" = 200 ] || fail "PATCH active=false answered $code: $(cat "$work/patch.out")"
        live_gone() {
                ! kill -0 "$live_pid" 2>/dev/null
        }
        # A deadline, not a performance bound: the interval is what the result is compared with.
        if wait_for $((interval * 4 + 30)) live_gone; then
                closed_s=$(elapsed "$t" "$(now)")
                within=$(awk -v s="$closed_s" -v i="$interval" 'BEGIN { print (s <= i + 1) ? "within" : "NOT within" }')
                pass "the live ssh session closed ${closed_s} s after the suspension ($within one ${interval} s sync interval)"
                live_pid=
        else
                fail "the live ssh session was still open after $((interval * 4 + 30)) s"
        fi
        if run_in loginctl --no-legend list-sessions | grep -qw alice; then
                fail "logind still lists a session of alice"
        else
                pass "logind lists no session of alice"
        fi
        run_in journalctl -b -u provision-syncd.service --no-pager -o cat | grep -iE 'alice|uid '"$uid" | tail -n 5 | sed 's/^/    journal: /'
        if out=$(ssh "${ssh_opts[@]}" alice@127.0.0.1 'id -un' 2>&1); then
                fail "a new ssh login of the suspended alice succeeded"
        else
                pass "a new ssh login of the suspended alice is refused"
                run_in journalctl -b -u ssh.service --no-pager -o cat | grep -iE 'alice' | tail -n 3 | sed 's/^/    journal: /'
        fi
fi

# --- 4. purge restores nsswitch.conf and the PAM stacks ---------------------------------------------
if run_in env DEBIAN_FRONTEND=noninteractive apt-get -q -y purge provision libnss-provision libpam-provision \
        >"$work/purge.log" 2>&1; then
        if (cd "$root/etc" && sha256sum --quiet -c "$work/before.sha256") >"$work/purge-check.txt" 2>&1; then
                pass "after purge nsswitch.conf and pam.d/common-* are byte for byte as before ($(wc -l <"$work/before.sha256") files)"
        else
                fail "files changed by install+purge: $(cat "$work/purge-check.txt")"
        fi
        [ -e "$root/var/lib/provision" ] && fail "/var/lib/provision survived the purge"
else
        tail -n 20 "$work/purge.log"
        fail "apt-get purge failed"
fi

echo "total $(elapsed "$started" "$(now)") s (boot $boot_s s); $failures failed"
[ "$failures" -eq 0 ]
