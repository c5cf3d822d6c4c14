# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private dbus-daemon playing the system bus, with the logind mock (tests/lib/logind-mock.py)
on it: what the tests, the benchmarks and the demo start before a provision-syncd that ends
sessions, so that nothing ever reaches the host's logind. Every wait is bounded by a number of
tries, never asserted as a time.

From Python: start_bus() and start_logind() (or private_logind() for both), wait_name().
From a shell script, which then stops $bus_pid and $mock_pid itself:

  eval "$(/usr/bin/python3 tests/lib/logindbus.py start DIR)"

starts both (the bus's socket and both logs under DIR/bus; the mock gets this environment, so
LOGIND_MOCK_* set before are its settings) and prints the shell assignments of
DBUS_SYSTEM_BUS_ADDRESS (exported; DBUS_SESSION_BUS_ADDRESS is unset), bus_pid and mock_pid."""
import os
import shlex
import shutil
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
LOGIND_MOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logind-mock.py")
LOGIND_NAME = "org.freedesktop.login1"

PERMISSIVE = """  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>"""


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def skip_reason():
    """Why no private bus with the mock can run here, or None."""
    if not shutil.which("dbus-daemon"):
        return "dbus-daemon is not installed"
    if subprocess.run([PYTHON, "-c", "import dbusmock"], capture_output=True).returncode != 0:
        return "python3-dbusmock is not installed"
    return None


def start_bus(tmp, name, policy, procs):
    """Starts dbus-daemon listening in tmp/name/socket with this policy; returns its address."""
    d = os.path.join(tmp, name)
    os.mkdir(d)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "bus.conf"), "w") as f:
        f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={d}/socket</listen>
  <auth>EXTERNAL</auth>
{policy}
</busconfig>
""")
    p = subprocess.Popen(["dbus-daemon", "--nofork", "--config-file", os.path.join(d, "bus.conf"),
                          "--print-address=1"], stdout=subprocess.PIPE, text=True,
                         stderr=open(os.path.join(d, "log"), "w"))
    procs.append(p)
    addr = p.stdout.readline().strip()
    if not addr:
        fail(f"dbus-daemon did not start: {open(os.path.join(d, 'log')).read()}")
    return addr


def _has_owner(addr, name):
    """Whether name has an owner on the bus at addr: busctl where there is one, else python-dbus
    (which python3-dbusmock brings)."""
    if shutil.which("busctl"):
        return subprocess.run(["busctl", f"--address={addr}", "status", name], capture_output=True).returncode == 0
    import dbus
    bus = dbus.bus.BusConnection(addr)
    try:
        return bool(bus.name_has_owner(name))
    finally:
        bus.close()


def wait_name(addr, name, proc, what, tries=400):
    """Waits until name has an owner on the bus at addr; fails when proc exits first."""
    for _ in range(tries):  # a bound on tries, not a time assertion
        if _has_owner(addr, name):
            return
        if proc.poll() is not None:
            fail(f"{what} exited {proc.returncode} before owning {name}")
        time.sleep(0.05)
    fail(f"{what} never owned {name}")


def start_logind(addr, log, procs, what="the logind mock", **mock_env):
    """Starts the logind mock on the bus at addr (its output in log) with this environment plus
    mock_env (LOGIND_MOCK_CALLS=..., see logind-mock.py), waits until it owns its name and
    returns it."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=addr, **mock_env)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    mock = subprocess.Popen([PYTHON, "-m", "dbusmock", "--system", "--template", LOGIND_MOCK], env=env,
                            stdin=subprocess.DEVNULL, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    procs.append(mock)
    wait_name(addr, LOGIND_NAME, mock, what)
    return mock


def private_logind(tmp, procs, policy=PERMISSIVE, what="the logind mock", **mock_env):
    """A private bus in tmp/bus with the logind mock on it; returns the bus's address."""
    addr = start_bus(tmp, "bus", policy, procs)
    start_logind(addr, os.path.join(tmp, "bus", "mock.log"), procs, what, **mock_env)
    return addr


def main(argv):
    if len(argv) != 3 or argv[1] != "start":
        print(__doc__, file=sys.stderr)
        return 2
    procs = []
    try:
        addr = private_logind(argv[2], procs)
    except SystemExit as e:
        for p in procs:
            p.kill()
        log = os.path.join(argv[2], "bus", "mock.log")
        if os.path.exists(log):
            sys.stderr.write(open(log).read())
        print(e, file=sys.stderr)
        return 1
    print(f"DBUS_SYSTEM_BUS_ADDRESS={shlex.quote(addr)}; export DBUS_SYSTEM_BUS_ADDRESS; "
          f"unset DBUS_SESSION_BUS_ADDRESS; bus_pid={procs[0].pid}; mock_pid={procs[1].pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
