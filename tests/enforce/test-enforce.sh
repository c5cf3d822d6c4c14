#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs tests/enforce/test-enforce on a private D-Bus daemon that plays the system bus
# (DBUS_SYSTEM_BUS_ADDRESS), with the python-dbusmock logind of logind-mock.py on it. Without
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
        [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
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

dbus-daemon --config-file="$tmp/bus.conf" --fork --print-address=3 --print-pid=4 3>"$tmp/address" 4>"$tmp/pid" ||
        { echo "test-enforce.sh: dbus-daemon did not start"; exit 99; }
bus_pid=$(cat "$tmp/pid")
DBUS_SYSTEM_BUS_ADDRESS=$(head -n1 "$tmp/address")
export DBUS_SYSTEM_BUS_ADDRESS
unset DBUS_SESSION_BUS_ADDRESS

LOGIND_MOCK_CALLS="$tmp/calls"
LOGIND_MOCK_FAIL="$tmp/fail"
LOGIND_MOCK_NO_SUCH_USER=200999
export LOGIND_MOCK_CALLS LOGIND_MOCK_FAIL LOGIND_MOCK_NO_SUCH_USER
: >"$LOGIND_MOCK_CALLS"

"$py" -m dbusmock --system --template "$srcdir/tests/enforce/logind-mock.py" >"$tmp/mock.log" 2>&1 &
mock_pid=$!

# Wait until the mock owns its name (bounded by a number of tries, not by a time assertion).
i=0
until dbus-send --bus="$DBUS_SYSTEM_BUS_ADDRESS" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.login1 2>/dev/null | grep -q 'boolean true'; do
        i=$((i + 1))
        if [ $i -ge 200 ] || ! kill -0 "$mock_pid" 2>/dev/null; then
                echo "test-enforce.sh: the logind mock did not come up:"
                cat "$tmp/mock.log"
                exit 99
        fi
        sleep 0.1
done

"$prog"
rc=$?
if [ $rc -ne 0 ]; then
        echo "--- logind mock log:"
        cat "$tmp/mock.log"
fi
exit $rc
