#!/usr/bin/python3
"""provisionctl's human output with hostile text: a display name with terminal escape sequences
sent by the directory, then the same bytes written into the store by other means (an older
daemon, a restored backup): no C0 or C1 control character, ESC above all, reaches the terminal
raw from users, show, events or status; --json escapes them as JSON does."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlharness import check, ctl, run_ctl, syncd  # noqa: E402

ESC = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
C1 = "\u009b31m"    # CSI as a C1 control, UTF-8 c2 9b


def raw_controls(text):
    """The control characters of text other than newline (tabs neither: the tables use spaces)."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]


def main():
    tmp = tempfile.mkdtemp(prefix="test-ctl-hostile.")
    os.chmod(tmp, 0o755)
    try:
        for name, line in (("passwd", "root:x:0:0::/root:/bin/sh\n"), ("group", "root:x:0:\n")):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(line)
        conf = os.path.join(tmp, "syncd.conf")
        with open(conf, "w") as f:
            f.write(f"[source]\ntype = file\npath = {tmp}/directory.json\n[paths]\nstate_dir = {tmp}/state\n"
                    f"passwd_file = {tmp}/passwd\ngroup_file = {tmp}/group\n[enforce]\nterminate_sessions = no\n")
        users = [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": str(i), "userName": name,
                  "active": True, "displayName": display}
                 for i, name, display in ((1, "ada", "Ada " + ESC + "L"), (2, "grace", "Grace" + C1), (3, "linus", "L"))]
        with open(os.path.join(tmp, "directory.json"), "w") as f:
            json.dump({"Users": users, "Groups": []}, f)
        p = subprocess.run([syncd, "--config", conf, "--once"], capture_output=True, text=True)
        check(p.returncode == 0, f"provision-syncd --once exited {p.returncode}: {p.stderr}")

        # Whatever the daemon kept or refused, the same bytes in the store by other means.
        db = sqlite3.connect(os.path.join(tmp, "state", "store.db"))
        db.execute("UPDATE users SET gecos = ?, home = ? WHERE name = 'linus'", ("Linus " + ESC + C1, "/home/" + ESC))
        db.execute("UPDATE audit SET detail = ?, user = ?", ("detail " + ESC + C1, "who" + ESC))
        db.execute("UPDATE sync_state SET value = ? WHERE key = 'last_error'", ("HTTP 500: " + ESC,))
        db.commit()
        db.close()

        for args, want in ((("users",), 0), (("show", "linus"), 0), (("events",), 0), (("status",), None)):
            p = subprocess.run([ctl, "--config", conf, *args], capture_output=True, text=True)
            check(want is None or p.returncode == want, f"provisionctl {' '.join(args)} exited {p.returncode}: {p.stderr}")
            bad = raw_controls(p.stdout + p.stderr)
            check(not bad, f"provisionctl {' '.join(args)} printed raw control characters {bad!r}:\n{p.stdout!r}")
            print(f"ok: provisionctl {' '.join(args)} prints no raw control character")
        p = run_ctl(conf, "--json", "users")
        gecos = {u["name"]: u["gecos"] for u in json.loads(p.stdout)["users"]}
        check(gecos["linus"] == "Linus " + ESC + C1, f"--json users: the gecos is not the stored one: {gecos!r}")
        check("\x1b" not in p.stdout, "--json users printed a raw ESC")
        print("ok: --json keeps the stored text, escaped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
