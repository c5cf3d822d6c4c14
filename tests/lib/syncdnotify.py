# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starts provision-syncd in the foreground as systemd would (Type=notify), for the daemon tests:
NOTIFY_SOCKET is a datagram socket of the test's, and the first notification (READY=1 with its
STATUS=) comes after the first sync attempt."""

import os
import socket
import subprocess


def start_syncd(syncd, conf, sock_path, log_path, timeout=20):
    """Returns (process, first notification text). The socket is closed once it has been read."""
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(sock_path)
        sock.settimeout(timeout)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        env.pop("JOURNAL_STREAM", None)
        with open(log_path, "w") as log:
            proc = subprocess.Popen([syncd, "--config", conf, "--foreground"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=log)
        try:
            msg = sock.recv(4096).decode()
        except OSError:
            proc.kill()
            proc.wait()
            raise
        return proc, msg
    finally:
        sock.close()
