# SPDX-License-Identifier: LGPL-2.1-or-later
'''logind mock for bench/bench-leaver.sh, a python-dbusmock template.

Like tests/enforce/logind-mock.py (the stock template with a TerminateUser that records its
calls), but each line also carries the time of the call on CLOCK_MONOTONIC, which is one clock
for all processes of the machine, so the benchmark can compare it with the moment it changed
the directory:

  LOGIND_MOCK_CALLS   file that gets one line per call: "TerminateUser UID MONOTONIC_NS"

Run with: /usr/bin/python3 -m dbusmock --system --template bench/logind-bench-mock.py
'''

import os
import time

from dbusmock.templates import logind as stock

BUS_NAME = stock.BUS_NAME
MAIN_OBJ = stock.MAIN_OBJ
MAIN_IFACE = stock.MAIN_IFACE
SYSTEM_BUS = True


def _terminate_user(_self, uid):
    # Take the time first: the write below is not part of the daemon's latency.
    now = time.monotonic_ns()
    path = os.environ.get('LOGIND_MOCK_CALLS')
    if path:
        with open(path, 'a', encoding='ascii') as f:
            f.write(f'TerminateUser {int(uid)} {now}\n')


def load(mock, parameters):
    stock.load(mock, parameters)
    mock.AddMethod(MAIN_IFACE, 'TerminateUser', 'u', '', _terminate_user)
