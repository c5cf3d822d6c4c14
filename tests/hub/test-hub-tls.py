#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""TLS test of provision-hub: a self-signed pair made by certtool, the hub on 127.0.0.1:0 with
tls_cert_file/tls_key_file; https with that certificate as the only CA works (a user is created
and read), plain http on the same port gets no HTTP answer, and a config without TLS nor
allow_insecure_http is refused at start. Exit 0 pass, 1 fail, 77 hub or certtool missing."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

builddir = os.environ.get("top_builddir") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
hub_bin = os.path.join(builddir, "hub", "provision-hub")
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def make_pair(tmp):
    key, cert, tmpl = (os.path.join(tmp, n) for n in ("hub.key", "hub.crt", "cert.cfg"))
    with open(tmpl, "w") as f:
        f.write('cn = "hub.test"\nip_address = "127.0.0.1"\ndns_name = "localhost"\n'
                "tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n")
    # certtool is not ours: it runs without the sanitizer runtimes the ASan stage preloads into
    # every test process (under them it can hang), never waits on stdin, and is bounded.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = dict(check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, env=env)
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa", "--outfile", key], **run)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key, "--template", tmpl,
                    "--outfile", cert], **run)
    os.chmod(key, 0o600)
    return cert, key


def write_conf(path, tmp, http):
    with open(path, "w") as f:
        f.write(f"[http]\n{http}[store]\npath = {tmp}/hub.db\n"
                f"[tokens]\nscim_token_file = {tmp}/scim.tokens\nhost_token_file =\nadmin_token_file =\n")


def main():
    if not os.access(hub_bin, os.X_OK):
        print(f"SKIP: {hub_bin} is not built")
        return 77
    if not shutil.which("certtool"):
        print("SKIP: certtool (gnutls-bin) is missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="test-hub-tls.")
    cert, key = make_pair(tmp)
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}

    # No TLS pair and no allow_insecure_http: refused with a message saying what to set.
    bad = os.path.join(tmp, "bad.conf")
    write_conf(bad, tmp, "listen = 127.0.0.1:0\n")
    p = subprocess.run([hub_bin, "--config", bad], capture_output=True, text=True, timeout=20, env=env)
    assert p.returncode != 0 and "tls_cert_file" in p.stderr, (p.returncode, p.stderr)

    conf = os.path.join(tmp, "hub.conf")
    write_conf(conf, tmp, f"listen = 127.0.0.1:0\ntls_cert_file = {cert}\ntls_key_file = {key}\n")
    p = subprocess.run([hub_bin, "--config", conf, "token-new", "scim", "tls"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()

    log_path = os.path.join(tmp, "hub.log")
    log = open(log_path, "w")
    hub = subprocess.Popen([hub_bin, "--config", conf], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 20
        m = None
        while not m:
            assert hub.poll() is None, "the hub exited: " + open(log_path).read()
            assert time.monotonic() < deadline, "no 'Listening on' line: " + open(log_path).read()
            m = re.search(r"Listening on https://127\.0\.0\.1:(\d+)/", open(log_path).read())
            time.sleep(0.05)
        port = int(m.group(1))
        base = f"https://127.0.0.1:{port}/scim/v2"
        ctx = ssl.create_default_context(cafile=cert)

        def req(method, path, body=None, tok=token):
            data = json.dumps(body).encode() if body is not None else None
            r = urllib.request.Request(base + path, data=data, method=method)
            if tok:
                r.add_header("Authorization", "Bearer " + tok)
            if data:
                r.add_header("Content-Type", "application/scim+json")
            try:
                with urllib.request.urlopen(r, timeout=10, context=ctx) as resp:
                    return resp.status, json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")

        status, user = req("POST", "/Users", {"schemas": [CORE_USER], "userName": "tls@example.com"})
        assert status == 201, (status, user)
        assert user["meta"]["location"].startswith("https://"), user["meta"]
        status, got = req("GET", "/Users/" + user["id"])
        assert status == 200 and got["userName"] == "tls@example.com", got
        status, _ = req("GET", "/Users", tok=None)
        assert status == 401, status

        # A client that does not trust the certificate fails the handshake.
        try:
            urllib.request.urlopen(base + "/Users", timeout=10, context=ssl.create_default_context())
            raise AssertionError("an untrusted certificate was accepted")
        except urllib.error.URLError as e:
            assert isinstance(e.reason, ssl.SSLError), e

        # Plain HTTP on the TLS port: no HTTP answer, and nothing of the token goes back.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(f"GET /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        assert not data.startswith(b"HTTP/"), f"plain http was answered: {data[:100]!r}"
        assert hub.poll() is None, "the hub died after a plain http request"
        status, _ = req("GET", "/Users")
        assert status == 200, status
        assert token not in open(log_path).read(), "the token is in the log"
    finally:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=15)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        log.close()
    print("1 passed, 0 failed")
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        print("0 passed, 1 failed")
        sys.exit(1)
