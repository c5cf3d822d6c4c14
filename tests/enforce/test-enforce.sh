#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs tests/enforce/test-enforce on a private D-Bus daemon that plays the system bus
# (DBUS_SYSTEM_BUS_ADDRESS), with the logind mock on it (tests/lib/logindbus.py). Without
# dbus-daemon or dbusmock the program still runs; its logind cases then skip.
set -u

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
py=${PYTHON:-/usr/bin/python3}
prog="$builddir/tests/enforce/test-enforce"

tmp=$(mktemp -d /tmp/test-enforce-bus.XXXXXX) || exit 99
bus_pid=
mock_pid=
cleanup() {
        [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
        [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

if ! command -v dbus-daemon >/dev/null 2>&1 || ! "$py" -c 'import dbusmock' 2>/dev/null; then
        echo "test-enforce.sh: no dbus-daemon or python3-dbusmock, the logind cases will skip"
        unset LOGIND_MOCK_CALLS
        "$prog"
        exit $?
fi

LOGIND_MOCK_CALLS="$tmp/calls"
LOGIND_MOCK_FAIL="$tmp/fail"
LOGIND_MOCK_NO_SUCH_USER=200999
export LOGIND_MOCK_CALLS LOGIND_MOCK_FAIL LOGIND_MOCK_NO_SUCH_USER
: >"$LOGIND_MOCK_CALLS"
started=$("$py" "$srcdir/tests/lib/logindbus.py" start "$tmp") || { echo "test-enforce.sh: no private bus with the logind mock"; exit 99; }
eval "$started"

"$prog"
rc=$?
if [ $rc -ne 0 ]; then
        echo "--- logind mock log:"
        cat "$tmp/bus/mock.log"
fi
exit $rc
