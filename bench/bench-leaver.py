#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measurement half of bench/bench-leaver.sh (which starts the private bus and the logind mock and
passes BUILDDIR and its scratch directory).

provision-syncd runs as a daemon on a directory file with RUNS users. Run i waits a random time
(uniformly within one interval, so the change falls at a random point of the daemon's cycle),
then sets user i to "active": false by renaming a new file over the directory file, and takes
t0 right after the rename. It then polls every POLL_MS:
  t1  the TerminateUser(uid) call, stamped by the logind mock on CLOCK_MONOTONIC when it arrived;
  t2  pam_provision refusing account management for the user (pamtester under pam_wrapper); the
      end of the first refusing check is taken, so t2 is late by at most one poll period plus
      one check, never early.
Prints t1-t0 and t2-t0 per run, then median and worst beside the target (interval + 1 s)."""
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

builddir, tmp = sys.argv[1], sys.argv[2]
RUNS = int(os.environ.get("RUNS", "20"))
INTERVAL = int(os.environ.get("INTERVAL", "10"))
POLL_MS = int(os.environ.get("POLL_MS", "50"))

syncd = os.path.join(builddir, "syncd", "provision-syncd")
nssdir = os.path.join(builddir, "nss_provision", ".libs")
module = os.path.join(builddir, "pam_provision", ".libs", "pam_provision.so")
state = os.path.join(tmp, "state")
snapshot = os.path.join(state, "snapshot")
directory = os.path.join(tmp, "directory.json")
calls = os.environ["LOGIND_MOCK_CALLS"]
svc = os.path.join(tmp, "pam")


def names():
    return [f"leaver{i:02d}" for i in range(RUNS)]


def write_directory(inactive):
    users = [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": f"bench-{n}",
              "userName": n, "active": n not in inactive} for n in names()]
    new = directory + ".new"
    with open(new, "w", encoding="utf-8") as f:
        json.dump({"Users": users, "Groups": []}, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(new, directory)


def uid_of(name):
    env = dict(os.environ, LD_LIBRARY_PATH=nssdir, PROVISION_SNAPSHOT=snapshot)
    p = subprocess.run(["getent", "-s", "provision", "passwd", name], env=env, capture_output=True,
                       text=True, check=False)
    if p.returncode != 0:
        sys.exit(f"bench-leaver: {name} is not served after the first sync")
    return int(p.stdout.split(":")[2])


# A private pam_wrapper runtime dir: its default (/tmp/pam.X) is shared machine-wide.
PAM_RUNTIME = os.path.join(os.path.dirname(svc), "pamwrap")
os.makedirs(PAM_RUNTIME, exist_ok=True)
PAM_ENV = dict(os.environ, LD_PRELOAD="libpam_wrapper.so", PAM_WRAPPER="1",
               PAM_WRAPPER_SERVICE_DIR=svc, PAM_WRAPPER_RUNTIME_DIR=PAM_RUNTIME, PROVISION_SNAPSHOT="")


def pam_allows(name):
    p = subprocess.run(["pamtester", "bench", name, "acct_mgmt"], env=PAM_ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return p.returncode == 0


def terminate_time(uid):
    with open(calls, encoding="ascii") as f:
        for line in f:
            w = line.split()
            if len(w) == 3 and w[0] == "TerminateUser" and int(w[1]) == uid:
                return int(w[2])
    return None


def drain(sock):
    while True:
        sock.recv(4096)


def fmt(ns):
    return "missed" if ns is None else f"{ns / 1e9:7.3f}"


def main():
    os.makedirs(svc)
    with open(os.path.join(svc, "bench"), "w", encoding="ascii") as f:
        f.write(f"account required {module} snapshot={snapshot}\n")
    with open(os.path.join(svc, "other"), "w", encoding="ascii") as f:
        f.write("account required pam_deny.so\n")
    with open(os.path.join(tmp, "syncd.conf"), "w", encoding="ascii") as f:
        f.write(f"""[source]
type = file
path = {directory}
[sync]
interval = {INTERVAL}
[paths]
state_dir = {state}
[accounts]
home_base = {tmp}/home
[enforce]
terminate_sessions = yes
kill_processes = no
""")
    write_directory(set())

    sock_path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    env.pop("JOURNAL_STREAM", None)
    log = open(os.path.join(tmp, "syncd.log"), "w", encoding="utf-8")
    proc = subprocess.Popen([syncd, "--config", os.path.join(tmp, "syncd.conf"), "--foreground"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        if "READY=1" not in sock.recv(4096).decode():
            sys.exit("bench-leaver: no READY=1 from provision-syncd")
        # Keep reading notifications as systemd does: the daemon sends STATUS= after every sync,
        # and once the socket's queue is full its sd_notify() blocks, and so does its sync loop.
        sock.settimeout(None)
        threading.Thread(target=drain, args=(sock,), daemon=True).start()
        uids = {n: uid_of(n) for n in names()}

        # What one PAM check costs: the resolution of t2 is POLL_MS plus this.
        t = time.monotonic_ns()
        for _ in range(10):
            if not pam_allows(names()[0]):
                sys.exit("bench-leaver: pam_provision refuses an active user; check the PAM setup")
        check_ns = (time.monotonic_ns() - t) // 10

        print(f"provision-syncd --foreground, [sync] interval = {INTERVAL} s, {RUNS} runs, "
              f"PAM polled every {POLL_MS} ms (one check takes {check_ns / 1e6:.1f} ms)")
        print(f"{'run':>3} {'user':<10} {'TerminateUser s':>16} {'PAM refusal s':>14}")
        inactive = set()
        d1, d2 = [], []
        for i, name in enumerate(names()):
            uid = uids[name]
            if not pam_allows(name):
                sys.exit(f"bench-leaver: {name} is refused before the change")
            time.sleep(random.uniform(0, INTERVAL))
            inactive.add(name)
            write_directory(inactive)
            t0 = time.monotonic_ns()
            t1 = t2 = None
            deadline = t0 + (3 * INTERVAL + 5) * 10**9
            while (t1 is None or t2 is None) and time.monotonic_ns() < deadline:
                tick = time.monotonic_ns()
                if t2 is None and not pam_allows(name):
                    t2 = time.monotonic_ns()
                if t1 is None:
                    t1 = terminate_time(uid)
                rest = POLL_MS * 10**6 - (time.monotonic_ns() - tick)
                if rest > 0:
                    time.sleep(rest / 1e9)
            r1 = None if t1 is None else t1 - t0
            r2 = None if t2 is None else t2 - t0
            print(f"{i + 1:>3} {name:<10} {fmt(r1):>16} {fmt(r2):>14}", flush=True)
            if r1 is not None:
                d1.append(r1)
            if r2 is not None:
                d2.append(r2)
            if proc.poll() is not None:
                sys.exit(f"bench-leaver: provision-syncd exited with {proc.returncode}")

        target = INTERVAL + 1
        print()
        print(f"{'change -> ':<26}{'median s':>9} {'worst s':>8} {'target s':>9} {'missed':>7}")
        for what, d in (("TerminateUser(uid)", d1), ("pam_provision refusal", d2)):
            med = f"{statistics.median(d) / 1e9:9.3f}" if d else f"{'-':>9}"
            worst = f"{max(d) / 1e9:8.3f}" if d else f"{'-':>8}"
            print(f"{what:<26}{med} {worst} {'<= ' + str(target):>9} {RUNS - len(d):>7}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    main()
