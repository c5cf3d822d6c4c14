#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Leaver latency: from a user's "active": false in the directory file to (1) provision-syncd's
# TerminateUser call to logind and (2) pam_provision refusing the user, with provision-syncd running
# as a daemon with [sync] interval = 10. Prints every run, then median and worst beside the target
# (interval + 1 s). A benchmark, not a test: it asserts nothing about times.
#
# logind is the mock of tests/lib/logind-mock.py, stamping each call on CLOCK_MONOTONIC, on a
# private D-Bus daemon that plays the system bus (DBUS_SYSTEM_BUS_ADDRESS); PAM is Linux-PAM driven by pamtester under
# pam_wrapper with a service directory of its own. Nothing on the host is touched; root is not
# needed.
#
# Usage: bench/bench-leaver.sh [BUILDDIR]      (RUNS=20 and INTERVAL=10 by default; RUNS=5 for a
#                                               quick look)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$src/build}" && pwd)
py=${PYTHON:-/usr/bin/python3}

for c in dbus-daemon pamtester; do
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
        fi
        if [ -n "$bus_pid" ]; then
                kill "$bus_pid" 2>/dev/null || :
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM
chmod 0755 "$tmp"

LOGIND_MOCK_CALLS=$tmp/calls
LOGIND_MOCK_STAMP=monotonic
export LOGIND_MOCK_CALLS LOGIND_MOCK_STAMP
: >"$LOGIND_MOCK_CALLS"
started=$("$py" "$src/tests/lib/logindbus.py" start "$tmp") || { echo "bench-leaver: no private bus with the logind mock" >&2; exit 1; }
eval "$started"

"$py" "$src/bench/bench-leaver.py" "$builddir" "$tmp"
