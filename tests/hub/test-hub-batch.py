#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Group commit in provision-hub: the changes of concurrent requests are committed together, and
answered only once on disk.

- concurrent pushes: 16 IdP workers POST and PATCH at once; every answer is a 2xx, every change
  is there afterwards, the change sequence has no gap, and requests did share commits (the
  writes of one batch carry one modification time: fewer distinct times than writes).
- durable when answered: right after the last answer the hub is killed (SIGKILL); every change it
  answered 2xx is in the store after the restart.
- exact deltas: a host reading `meta.lastModified gt T` (T the newest time it has seen) while the
  workers push misses nothing: a read never sees part of a batch.
Exit 0 all passed, 1 a case failed, 77 the hub is not built."""

import sys
import threading

from hubharness import CORE_USER, PATCH_OP, check, q, run_suite

WORKERS = 16
PER_WORKER = 25


def push(hub, prefix, per_worker=PER_WORKER, workers=WORKERS):
    """WORKERS threads each create PER_WORKER users and deactivate every one right after; returns
    {id: userName} of what was answered 2xx and the list of any other answers."""
    created, bad, lock = {}, [], threading.Lock()

    def worker(w):
        for i in range(per_worker):
            name = f"{prefix}-{w}-{i}@example.com"
            r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": name, "active": True})
            if r.status != 201:
                with lock:
                    bad.append(f"POST {name}: {r!r}")
                continue
            uid = r.json["id"]
            p = hub.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "active", "value": False}]})
            with lock:
                if p.status not in (200, 204):
                    bad.append(f"PATCH {name}: {p!r}")
                else:
                    created[uid] = name
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return created, bad


def test_concurrent_pushes_share_commits(hub):
    created, bad = push(hub, "gc")
    check(not bad, f"{len(bad)} request(s) not answered 2xx, e.g. {bad[:3]}")
    check(len(created) == WORKERS * PER_WORKER, f"{len(created)} users answered, {WORKERS * PER_WORKER} sent")
    for uid, name in created.items():
        u = hub.get("Users", uid)
        check(u["userName"] == name and u["active"] is False, f"{name} reads back as {u}")
    seqs = [r[0] for r in hub.sql("SELECT seq FROM changes ORDER BY seq")]
    times = hub.sql("SELECT COUNT(DISTINCT modified_usec), COUNT(*) FROM users")[0]
    check(seqs == list(range(1, len(seqs) + 1)), f"the change sequence has gaps: {seqs[:5]}..{seqs[-5:]}")
    check(len(seqs) >= 2 * len(created), f"{len(seqs)} changes recorded for {2 * len(created)} writes")
    # 800 writes by 16 workers, each waiting for an fsync: without group commit every write has
    # a time of its own.
    check(times[0] < times[1], f"no two writes shared a commit ({times[0]} distinct times for {times[1]} users)")


def test_durable_when_answered(hub):
    created, bad = push(hub, "kill", per_worker=10)
    check(not bad, f"{len(bad)} request(s) not answered 2xx, e.g. {bad[:3]}")
    hub.crash()
    hub.start()
    for uid, name in created.items():
        u = hub.get("Users", uid)
        check(u["userName"] == name and u["active"] is False,
              f"{name} was answered 2xx but reads back after SIGKILL as {u}")


def test_deltas_miss_nothing_while_batches_commit(hub):
    done = threading.Event()
    seen, problems = set(), []

    def reader():
        since = None
        while True:
            last_round = done.is_set()
            flt = "" if since is None else "&filter=" + q(f'meta.lastModified gt "{since}"')
            r = hub.request("GET", "/Users?count=1000" + flt)
            if r.status != 200 or r.json["totalResults"] >= 1000:
                problems.append(repr(r)[:300])
                return
            for u in r.json.get("Resources", []):
                seen.add(u["id"])
                lm = u["meta"]["lastModified"]
                since = lm if since is None or lm > since else since
            if last_round:
                return

    t = threading.Thread(target=reader)
    t.start()
    try:
        created, bad = push(hub, "delta", per_worker=15)
    finally:
        done.set()
        t.join()
    check(not problems, f"the delta reader got {problems[:2]}")
    check(not bad, f"{len(bad)} request(s) not answered 2xx, e.g. {bad[:3]}")
    missed = set(created) - seen
    check(not missed, f"the delta reader missed {len(missed)} of {len(created)} users")


def test_stop_under_load(hub):
    """SIGTERM while workers push: the hub drains (no abort with a suspended connection), exits 0,
    and every change it answered 2xx is there after the restart."""
    created, bad, lock, stop = {}, [], threading.Lock(), threading.Event()

    def worker(w):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = hub.request("POST", "/Users", {"schemas": [CORE_USER], "userName": f"stop-{w}-{i}@example.com"},
                                timeout=10)
            except OSError:
                return  # the hub is gone
            with lock:
                if r.status == 201:
                    created[r.json["id"]] = r.json["userName"]
                elif r.status != 503:
                    bad.append(repr(r))
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    import time
    time.sleep(1.0)
    proc = hub.proc
    hub.stop()
    stop.set()
    for t in threads:
        t.join(30)
    check(proc.returncode == 0, f"the hub exited with {proc.returncode} when stopped under load")
    check(not bad, f"answers other than 201/503: {bad[:3]}")
    hub.responses_5xx = [x for x in hub.responses_5xx if "stopping" not in x]
    hub.start()
    for uid, name in created.items():
        check(hub.get("Users", uid)["userName"] == name, f"{name} was answered 201 but is gone after the stop")
    st = hub.request("HEAD", "/Users", token="host").status
    check(st not in (403, 503), f"HEAD with a host token is handled as a write: {st}")


if __name__ == "__main__":
    run_suite([test_concurrent_pushes_share_commits,
               test_durable_when_answered,
               test_deltas_miss_nothing_while_batches_commit,
               test_stop_under_load],
              sys.argv, prefix="test-hub-batch",
              # every user is deactivated right after its creation: not a mass deactivation
              extra_conf={"guard": {"max_percent": "0"}})
