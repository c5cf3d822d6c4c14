# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pieces shared by the provisionctl tests (test-ctl.py, test-ctl-daemon.py): failing, a private
dbus-daemon playing the system bus (permissive, or configured like Debian's system bus with the
project's policy file), running provisionctl and parsing its --json output, waiting for a bus
name. Every wait is bounded by a number of tries, never asserted as a time."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.abspath(os.environ["top_srcdir"]), "tests", "lib"))
from logindbus import PERMISSIVE, start_bus, start_logind, wait_name  # noqa: E402,F401

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
