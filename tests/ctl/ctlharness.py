# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pieces shared by the provisionctl tests (test-ctl.py, test-ctl-daemon.py): failing, a private
dbus-daemon playing the system bus (permissive, or configured like Debian's system bus with the
project's policy file), running provisionctl and parsing its --json output, waiting for a bus
name. Every wait is bounded by a number of tries, never asserted as a time."""
import json
import os
import subprocess
import sys
import time

builddir = os.path.abspath(os.environ["top_builddir"])
srcdir = os.path.abspath(os.environ["top_srcdir"])
syncd = os.path.join(builddir, "syncd", "provision-syncd")
ctl = os.path.join(builddir, "ctl", "provisionctl")
policy = os.path.join(srcdir, "dbus", "org.provision.Syncd1.conf")

BUS_NAME = "org.provision.Syncd1"
NOT_RUNNING = "provision-syncd is not running (no owner of org.provision.Syncd1 on the system bus)"
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


PERMISSIVE = """  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>"""

# What Debian's system.conf denies and allows by default, then our policy file as system.d has it.
SYSTEM_LIKE = f"""  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>"""


def start_bus(tmp, name, extra_policy, procs):
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
{extra_policy}
</busconfig>
""")
    p = subprocess.Popen(["dbus-daemon", "--nofork", "--config-file", os.path.join(d, "bus.conf"),
                          "--print-address=1"], stdout=subprocess.PIPE, text=True,
                         stderr=open(os.path.join(d, "log"), "w"))
    procs.append(p)
    addr = p.stdout.readline().strip()
    check(addr, f"dbus-daemon did not start: {open(os.path.join(d, 'log')).read()}")
    return addr


def wait_name(addr, name, proc, what, tries=400):
    """Waits until name has an owner on the bus at addr; fails when proc exits first."""
    for _ in range(tries):  # a bound on tries, not a time assertion
        r = subprocess.run(["busctl", f"--address={addr}", "status", name], capture_output=True)
        if r.returncode == 0:
            return
        if proc.poll() is not None:
            fail(f"{what} exited {proc.returncode} before owning {name}")
        time.sleep(0.05)
    fail(f"{what} never owned {name}")


def run_ctl(conf, *args, want=0, env=None, stdin=subprocess.DEVNULL, prefix=()):
    """Runs provisionctl --config conf ARGS and fails unless it exits with want."""
    p = subprocess.run([*prefix, ctl, "--config", conf, *args], capture_output=True, text=True, env=env,
                       stdin=stdin)
    if p.returncode != want:
        fail(f"provisionctl {' '.join(args)} exited {p.returncode}, expected {want}\n"
             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def run_ctl_json(conf, *args, want=0, env=None):
    """provisionctl --json ARGS, parsed."""
    p = run_ctl(conf, "--json", *args, want=want, env=env)
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        fail(f"provisionctl --json {' '.join(args)} printed invalid JSON ({e}): {p.stdout}")
