# SPDX-License-Identifier: LGPL-2.1-or-later
'''logind mock for the enforcement tests, a python-dbusmock template.

The stock dbusmock "logind" template accepts TerminateUser(u) and does nothing, and declares
KillUser with a wrong signature ("us" instead of "usi"). This one loads the stock template and
replaces both, so a test can see what provision-syncd asked logind to do:

  LOGIND_MOCK_CALLS          file that gets one line per call: "TerminateUser UID" or
                             "KillUser UID WHO SIGNAL" (also for calls that fail below)
  LOGIND_MOCK_FAIL           if this file exists, TerminateUser fails with
                             org.freedesktop.DBus.Error.Failed (to test retries)
  LOGIND_MOCK_NO_SUCH_USER   comma-separated uids for which TerminateUser answers
                             org.freedesktop.login1.NoSuchUser, as logind does for a uid
                             without sessions

Sessions added with the stock AddSession are listed by ListSessions until a TerminateUser of
their uid removes them.

Run with: /usr/bin/python3 -m dbusmock --system --template tests/enforce/logind-mock.py
'''

import os

import dbus
from dbusmock import mockobject
from dbusmock.templates import logind as stock

BUS_NAME = stock.BUS_NAME
MAIN_OBJ = stock.MAIN_OBJ
MAIN_IFACE = stock.MAIN_IFACE
SYSTEM_BUS = True


def _record(line):
    path = os.environ.get('LOGIND_MOCK_CALLS')
    if path:
        with open(path, 'a', encoding='ascii') as f:
            f.write(line + '\n')
            f.flush()
            os.fsync(f.fileno())


def _terminate_user(self, uid):
    _record(f'TerminateUser {int(uid)}')
    fail = os.environ.get('LOGIND_MOCK_FAIL')
    if fail and os.path.exists(fail):
        raise dbus.exceptions.DBusException('mock failure', name='org.freedesktop.DBus.Error.Failed')
    missing = os.environ.get('LOGIND_MOCK_NO_SUCH_USER', '')
    if str(int(uid)) in [u.strip() for u in missing.split(',') if u.strip()]:
        raise dbus.exceptions.DBusException(f'User {int(uid)} not known or not logged in.',
                                            name='org.freedesktop.login1.NoSuchUser')
    # The user's sessions end, as with logind: ListSessions no longer has them.
    for path, obj in list(mockobject.objects.items()):
        if '/session/' in path and int(obj.Get('org.freedesktop.login1.Session', 'User')[0]) == int(uid):
            self.RemoveObject(path)


def _kill_user(_self, uid, who, signo):
    _record(f'KillUser {int(uid)} {who} {int(signo)}')


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
