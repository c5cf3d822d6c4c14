#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Leaver latency: from a user's "active": false in the directory file to (1) provision-syncd's
# TerminateUser call to logind and (2) pam_provision refusing the user, with provision-syncd running
# as a daemon with [sync] interval = 10. Prints every run, then median and worst beside the target
# (interval + 1 s). A benchmark, not a test: it asserts nothing about times.
#
# logind is the python-dbusmock template bench/logind-bench-mock.py on a private D-Bus daemon
# that plays the system bus (DBUS_SYSTEM_BUS_ADDRESS); PAM is Linux-PAM driven by pamtester under
# pam_wrapper with a service directory of its own. Nothing on the host is touched; root is not
# needed.
#
# Usage: bench/bench-leaver.sh [BUILDDIR]      (RUNS=20 and INTERVAL=10 by default; RUNS=5 for a
#                                               quick look)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$src/build}" && pwd)
py=${PYTHON:-/usr/bin/python3}

for c in dbus-daemon dbus-send pamtester; do
        command -v "$c" >/dev/null 2>&1 || { echo "bench-leaver: $c is missing" >&2; exit 1; }
done
"$py" -c 'import dbusmock' 2>/dev/null || { echo "bench-leaver: python3-dbusmock is missing" >&2; exit 1; }
make -C "$builddir" -s syncd/provision-syncd pam_provision/pam_provision.la nss_provision/libnss_provision.la

tmp=$(mktemp -d /tmp/bench-leaver.XXXXXX)
bus_pid=
mock_pid=
# Under set -e a failing kill or wait would end the trap early and leave the bus running.
cleanup() {
        if [ -n "$mock_pid" ]; then
                kill "$mock_pid" 2>/dev/null || :
                wait "$mock_pid" 2>/dev/null || :
        fi
        if [ -n "$bus_pid" ]; then
                kill "$bus_pid" 2>/dev/null || :
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM
chmod 0755 "$tmp"

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$tmp/bus.conf" --fork --print-address=3 --print-pid=4 3>"$tmp/address" 4>"$tmp/pid"
bus_pid=$(cat "$tmp/pid")
DBUS_SYSTEM_BUS_ADDRESS=$(head -n 1 "$tmp/address")
LOGIND_MOCK_CALLS=$tmp/calls
export DBUS_SYSTEM_BUS_ADDRESS LOGIND_MOCK_CALLS
unset DBUS_SESSION_BUS_ADDRESS
: >"$LOGIND_MOCK_CALLS"
"$py" -m dbusmock --system --template "$src/bench/logind-bench-mock.py" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
i=0
until dbus-send --bus="$DBUS_SYSTEM_BUS_ADDRESS" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.login1 2>/dev/null | grep -q 'boolean true'; do
        i=$((i + 1))
        if [ $i -ge 200 ] || ! kill -0 "$mock_pid" 2>/dev/null; then
                echo "bench-leaver: the logind mock did not come up:" >&2
                cat "$tmp/mock.log" >&2
                exit 1
        fi
        sleep 0.1
done

"$py" "$src/bench/bench-leaver.py" "$builddir" "$tmp"
