# SPDX-License-Identifier: LGPL-2.1-or-later
'''A logind stand-in for scripts/demo.sh, a python-dbusmock template for a private system bus.

The demo must never ask the host's logind to end anyone's session, so provision-syncd talks to
this instead (DBUS_SYSTEM_BUS_ADDRESS points at a private dbus-daemon). It keeps the stock
dbusmock logind (ListSessions, the Mock.AddSession helper) and replaces TerminateUser(u), which
in the stock template does nothing, with what logind does to its own records: the sessions and
the user object of that uid go away (SessionRemoved/UserRemoved are emitted), and a uid without
sessions gets org.freedesktop.login1.NoSuchUser.

  LOGIND_STANDIN_CALLS   file that gets one line per call, "TerminateUser UID EPOCH_SECONDS",
                         with the wall-clock time the call arrived (for the demo's measurement)

Run with: /usr/bin/python3 -m dbusmock --system --template demo/logind-standin.py
'''

import os
import time

import dbus
from dbusmock import mockobject
from dbusmock.templates import logind as stock
# dbusmock attaches the template module's own @dbus.service.method functions, so the stock ones
# this demo uses (ListSessions and the Mock.AddSession helper with what it calls) are re-exported.
from dbusmock.templates.logind import AddSeat, AddSession, AddUser, ListSessions, ListUsers  # noqa: F401

BUS_NAME = stock.BUS_NAME
MAIN_OBJ = stock.MAIN_OBJ
MAIN_IFACE = stock.MAIN_IFACE
SYSTEM_BUS = True


def _record(line):
    path = os.environ.get('LOGIND_STANDIN_CALLS')
    if path:
        with open(path, 'a', encoding='ascii') as f:
            f.write(line + '\n')
            f.flush()
            os.fsync(f.fileno())


def _terminate_user(self, uid):
    uid = int(uid)
    arrived = time.time()
    # Collect first: removing objects while iterating the registry would change it under us.
    sessions = []
    for path, obj in list(mockobject.objects.items()):
        if '/session/' in path and int(obj.Get('org.freedesktop.login1.Session', 'User')[0]) == uid:
            sessions.append((str(obj.Get('org.freedesktop.login1.Session', 'Id')), path))
    _record(f'TerminateUser {uid} {arrived:.6f}')
    user_path = f'/org/freedesktop/login1/user/{uid}'
    if not sessions and user_path not in mockobject.objects:
        raise dbus.exceptions.DBusException(f'User {uid} not known or not logged in.',
                                            name='org.freedesktop.login1.NoSuchUser')
    for session_id, path in sessions:
        self.RemoveObject(path)
        self.EmitSignal(MAIN_IFACE, 'SessionRemoved', 'so', [session_id, dbus.ObjectPath(path)])
    if user_path in mockobject.objects:
        self.RemoveObject(user_path)
        self.EmitSignal(MAIN_IFACE, 'UserRemoved', 'uo', [dbus.UInt32(uid), dbus.ObjectPath(user_path)])


def load(mock, parameters):
    stock.load(mock, parameters)
    mock.AddMethod(MAIN_IFACE, 'TerminateUser', 'u', '', _terminate_user)
