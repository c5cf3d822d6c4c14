#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The audit log's retention ([sync] audit_retention, issue 21), with the real provision-syncd
--once on a directory file, private state and private passwd and group files:

1. audit_retention = 2: after a sync, an event older than two days is gone and a newer one is
   kept (the events of the sync itself are kept);
2. the prune runs at most once a day: an old event written after it survives the next sync;
3. audit_retention = 0 keeps everything, however old.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("top_builddir", ".")
SYNCD = os.path.join(BUILD, "syncd", "provision-syncd")
DAY_USEC = 86400 * 1000000


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def main():
    if not os.access(SYNCD, os.X_OK):
        print(f"SKIP: {SYNCD} is not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="test-audit-retention.")
    state = os.path.join(tmp, "state")
    with open(os.path.join(tmp, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(tmp, "group"), "w") as f:
        f.write("root:x:0:\n")
    for n in ("subuid", "subgid"):
        open(os.path.join(tmp, n), "w").close()
    directory = os.path.join(tmp, "directory.json")
    with open(directory, "w") as f:
        json.dump({"Users": [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-1",
                              "userName": "alice", "active": True}], "Groups": []}, f)

    def once(retention):
        conf = os.path.join(tmp, "syncd.conf")
        with open(conf, "w") as f:
            f.write(f"[source]\ntype = file\npath = {directory}\n[sync]\naudit_retention = {retention}\n"
                    f"[paths]\nstate_dir = {state}\npasswd_file = {tmp}/passwd\ngroup_file = {tmp}/group\n"
                    f"subuid_file = {tmp}/subuid\nsubgid_file = {tmp}/subgid\n"
                    f"refresh_socket = {tmp}/refresh.sock\n")
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
        p = subprocess.run([SYNCD, "--config", conf, "--once"], env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            fail(f"provision-syncd --once exited {p.returncode}: {p.stderr[-1500:]}")
        return p.stderr

    def sql(query, args=()):
        con = sqlite3.connect(os.path.join(state, "store.db"), timeout=10)
        try:
            rows = con.execute(query, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def add_event(detail, age_days):
        sql("INSERT INTO audit (time_usec, event, detail) VALUES (?, 'test', ?)",
            (int(time.time() * 1e6) - int(age_days * DAY_USEC), detail))

    def details():
        return {r[0] for r in sql("SELECT detail FROM audit WHERE event = 'test'")}

    once(2)  # creates the store
    if not sql("SELECT count(*) FROM audit WHERE event = 'joiner'")[0][0]:
        fail("the first sync wrote no joiner event")
    add_event("old", 3)
    add_event("recent", 1)
    sql("DELETE FROM sync_state WHERE key = 'audit_pruned_usec'")  # as if the last prune was long ago
    out = once(2)
    if details() != {"recent"}:
        fail(f"after a sync with audit_retention = 2 the events are {details()}, want only 'recent'")
    if "Pruned 1 audit events older than 2 days" not in out:
        fail(f"the prune was not logged: {out[-800:]}")
    if not sql("SELECT count(*) FROM audit WHERE event = 'joiner'")[0][0]:
        fail("the sync's own events went")
    print("PASS: an event older than audit_retention goes, a newer one stays")

    add_event("old-again", 3)
    once(2)
    if "old-again" not in details():
        fail("a second prune ran within the day")
    print("PASS: the audit log is pruned at most once a day")

    sql("DELETE FROM sync_state WHERE key = 'audit_pruned_usec'")
    add_event("ancient", 4000)
    once(0)
    if not {"old-again", "ancient"} <= details():
        fail(f"audit_retention = 0 pruned: {details()}")
    print("PASS: audit_retention = 0 keeps every event")
    shutil.rmtree(tmp, ignore_errors=True)
    print("3 passed, 0 failed, 0 skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
