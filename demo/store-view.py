#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
'''Read-only views of provision-syncd's SQLite store for scripts/demo.sh, used when provisionctl
is not built. The store is opened with mode=ro: nothing here can change it.

  store-view.py STORE status              source state, counts by state, pending holds
  store-view.py STORE events USER         the audit trail of USER with times
  store-view.py STORE events-all [N]      the last N audit events (default 10)
  store-view.py STORE count STATE         number of users in STATE (active, suspended, ...)
  store-view.py STORE pending-holds       number of pending holds
  store-view.py STORE steps USER EVENT    "STEP OUTCOME" lines of USER's EVENT audit rows
'''
import sqlite3
import sys
import time

STATES = {0: 'active', 1: 'suspended', 2: 'deprovisioned', 3: 'blocked'}


def fmt(usec):
    if not usec:
        return '-'
    t = int(usec) / 1e6
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(t)) + f'.{int(usec) % 1000000 // 1000:03d}'


def state_value(db, key):
    row = db.execute('SELECT value FROM sync_state WHERE key = ?', (key,)).fetchone()
    return row[0] if row else None


def status(db):
    now = time.time() * 1e6
    last_ok = state_value(db, 'last_success_usec')
    last_try = state_value(db, 'last_attempt_usec')
    print(f'Last sync attempt:     {fmt(last_try)}')
    age = f' ({(now - int(last_ok)) / 1e6:.1f} s ago)' if last_ok else ''
    print(f'Last successful sync:  {fmt(last_ok)}{age}')
    print(f'Last result:           {state_value(db, "last_result") or "-"}')
    print(f'Last error:            {state_value(db, "last_error") or "none"}')
    counts = dict(db.execute('SELECT state, COUNT(*) FROM users GROUP BY state').fetchall())
    print('Users:                 ' + ', '.join(f'{counts.get(k, 0)} {v}' for k, v in STATES.items()))
    n_groups = db.execute('SELECT COUNT(*) FROM groups WHERE removed = 0').fetchone()[0]
    print(f'Groups:                {n_groups}')
    print(f'Snapshot generation:   {state_value(db, "generation") or "-"}')
    holds = db.execute("SELECT id, created_usec, deprovisions, total, threshold FROM holds "
                       "WHERE status = 'pending' ORDER BY id").fetchall()
    if not holds:
        print('Held deprovisions:     none')
    for hid, created, dep, total, threshold in holds:
        print(f'Held deprovisions:     hold #{hid} since {fmt(created)}: {dep} of {total} accounts '
              f'(max_deprovision={threshold}), waiting for "provisionctl approve"')


def events(db, user, limit=None):
    if user is None:
        rows = db.execute('SELECT time_usec, event, user, uid, step, outcome, detail FROM audit '
                          'ORDER BY seq DESC LIMIT ?', (limit,)).fetchall()[::-1]
    else:
        rows = db.execute('SELECT time_usec, event, user, uid, step, outcome, detail FROM audit '
                          'WHERE user = ? ORDER BY seq', (user,)).fetchall()
    print(f'{"TIME":<23}  {"EVENT":<11} {"USER":<14} {"UID":>7}  {"STEP":<7} {"OUTCOME":<8} DETAIL')
    for t, ev, u, uid, step, outcome, detail in rows:
        uid = '' if uid is None or uid < 0 else uid
        print(f'{fmt(t):<23}  {ev:<11} {u or "-":<14} {uid:>7}  {step or "-":<7} {outcome or "-":<8} '
              f'{detail or ""}')


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    db = sqlite3.connect(f'file:{argv[1]}?mode=ro', uri=True)
    cmd = argv[2]
    if cmd == 'status':
        status(db)
    elif cmd == 'events' and len(argv) == 4:
        events(db, argv[3])
    elif cmd == 'events-all':
        events(db, None, int(argv[3]) if len(argv) > 3 else 10)
    elif cmd == 'count' and len(argv) == 4:
        code = {v: k for k, v in STATES.items()}[argv[3]]
        print(db.execute('SELECT COUNT(*) FROM users WHERE state = ?', (code,)).fetchone()[0])
    elif cmd == 'pending-holds':
        print(db.execute("SELECT COUNT(*) FROM holds WHERE status = 'pending'").fetchone()[0])
    elif cmd == 'steps' and len(argv) == 5:
        for step, outcome in db.execute('SELECT step, outcome FROM audit WHERE user = ? AND event = ? '
                                        'ORDER BY seq', (argv[3], argv[4])):
            print(step or '-', outcome or '-')
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
