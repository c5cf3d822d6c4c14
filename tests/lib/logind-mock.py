# SPDX-License-Identifier: LGPL-2.1-or-later
'''The logind mock of the tests, the benchmarks and the demo: a python-dbusmock template for a
private system bus (tests/lib/logindbus.py starts the bus and this mock).

The stock dbusmock "logind" template accepts TerminateUser(u) and does nothing, and declares
KillUser with a wrong signature ("us" instead of "usi"). This one loads the stock template and
replaces both with what logind does to its own records, so a caller can see what
provision-syncd asked logind to do:

  LOGIND_MOCK_CALLS          file that gets one line per call: "TerminateUser UID" or
                             "KillUser UID WHO SIGNAL" (also for calls that fail below)
  LOGIND_MOCK_STAMP          "monotonic": each line ends with the time the call arrived on
                             CLOCK_MONOTONIC in ns (one clock for every process of the machine);
                             "realtime": with the wall-clock time in seconds
  LOGIND_MOCK_FAIL           if this file exists, TerminateUser fails with
                             org.freedesktop.DBus.Error.Failed (to test retries)
  LOGIND_MOCK_NO_SUCH_USER   comma-separated uids for which TerminateUser answers
                             org.freedesktop.login1.NoSuchUser, as logind does for a uid
                             without sessions
  LOGIND_MOCK_STRICT         "1": every uid without a session or user object gets NoSuchUser

Sessions added with the stock AddSession are listed by ListSessions until a TerminateUser of
their uid removes them (SessionRemoved, then UserRemoved for the user object, are emitted).

Run with: /usr/bin/python3 -m dbusmock --system --template tests/lib/logind-mock.py
'''

import os
import time

import dbus
from dbusmock import mockobject
from dbusmock.templates import logind as stock

BUS_NAME = stock.BUS_NAME
MAIN_OBJ = stock.MAIN_OBJ
MAIN_IFACE = stock.MAIN_IFACE
SYSTEM_BUS = True


def _arrived():
    '''The stamp of a call, taken first: writing the line is not part of the caller's latency.'''
    stamp = os.environ.get('LOGIND_MOCK_STAMP')
    if stamp == 'monotonic':
        return f' {time.monotonic_ns()}'
    if stamp == 'realtime':
        return f' {time.time():.6f}'
    return ''


def _record(line):
    path = os.environ.get('LOGIND_MOCK_CALLS')
    if path:
        with open(path, 'a', encoding='ascii') as f:
            f.write(line + '\n')
            f.flush()
            os.fsync(f.fileno())


def _no_such_user(uid):
    return dbus.exceptions.DBusException(f'User {uid} not known or not logged in.',
                                         name='org.freedesktop.login1.NoSuchUser')


def _terminate_user(self, uid):
    uid = int(uid)
    stamp = _arrived()
    # Collect first: removing objects while iterating the registry would change it under us.
    sessions = []
    for path, obj in list(mockobject.objects.items()):
        if '/session/' in path and int(obj.Get('org.freedesktop.login1.Session', 'User')[0]) == uid:
            sessions.append((str(obj.Get('org.freedesktop.login1.Session', 'Id')), path))
    user_path = f'/org/freedesktop/login1/user/{uid}'
    _record(f'TerminateUser {uid}{stamp}')
    fail = os.environ.get('LOGIND_MOCK_FAIL')
    if fail and os.path.exists(fail):
        raise dbus.exceptions.DBusException('mock failure', name='org.freedesktop.DBus.Error.Failed')
    missing = os.environ.get('LOGIND_MOCK_NO_SUCH_USER', '')
    if str(uid) in [u.strip() for u in missing.split(',') if u.strip()]:
        raise _no_such_user(uid)
    if os.environ.get('LOGIND_MOCK_STRICT') == '1' and not sessions and user_path not in mockobject.objects:
        raise _no_such_user(uid)
    for session_id, path in sessions:
        self.RemoveObject(path)
        self.EmitSignal(MAIN_IFACE, 'SessionRemoved', 'so', [session_id, dbus.ObjectPath(path)])
    if user_path in mockobject.objects:
        self.RemoveObject(user_path)
        self.EmitSignal(MAIN_IFACE, 'UserRemoved', 'uo', [dbus.UInt32(uid), dbus.ObjectPath(user_path)])


def _kill_user(_self, uid, who, signo):
    _record(f'KillUser {int(uid)} {who} {int(signo)}{_arrived()}')


# dbusmock exports the dbus methods defined in the template module it loads, this one: the
# stock module's own (ListSessions, GetUser..., and AddSeat, AddUser, AddSession on
# org.freedesktop.DBus.Mock) are taken over as they are.
for _name in dir(stock):
    if getattr(getattr(stock, _name), '_dbus_is_method', False):
        globals()[_name] = getattr(stock, _name)


def load(mock, parameters):
    stock.load(mock, parameters)
    mock.AddMethod(MAIN_IFACE, 'TerminateUser', 'u', '', _terminate_user)
    mock.AddMethod(MAIN_IFACE, 'KillUser', 'usi', '', _kill_user)
