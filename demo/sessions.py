#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
'''Talks to the demo's logind stand-in (tests/lib/logind-mock.py) on the bus in $DBUS_SYSTEM_BUS_ADDRESS.

  sessions.py add SESSION_ID UID USER    register a session (the stand-in's Mock.AddSession)
  sessions.py list [UID]                 print "SESSION UID USER SEAT" lines, as loginctl would;
                                         exit 1 when a UID is given and it has no session
'''
import os
import sys

import dbus

NAME = 'org.freedesktop.login1'
PATH = '/org/freedesktop/login1'


def main(argv):
    # Only the private bus: never the host's logind.
    bus = dbus.bus.BusConnection(os.environ['DBUS_SYSTEM_BUS_ADDRESS'])
    obj = bus.get_object(NAME, PATH)
    if len(argv) == 5 and argv[1] == 'add':
        obj.AddSession(argv[2], 'seat0', dbus.UInt32(int(argv[3])), argv[4], True,
                       dbus_interface='org.freedesktop.DBus.Mock')
        return 0
    if len(argv) in (2, 3) and argv[1] == 'list':
        want = int(argv[2]) if len(argv) == 3 else None
        found = 0
        for sid, uid, user, seat, _path in obj.ListSessions(dbus_interface=NAME + '.Manager'):
            if want is None or int(uid) == want:
                print(f'{sid:>8} {int(uid):>7} {user:<16} {seat}')
                found += 1
        if found == 0:
            print('(no sessions)')
        return 0 if found or want is None else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
