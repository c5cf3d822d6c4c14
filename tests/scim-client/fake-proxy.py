#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A recording HTTP proxy on 127.0.0.1 for tests/scim-client/test-scim-source.c (started by
test-scim-source.sh): every accepted connection and every byte of each request head it reads
(bearer token included) is appended to --log, so that a test can assert that nothing reached it.
Absolute-form GETs to a loopback host are forwarded (so a configured proxy really works);
CONNECT and anything else get 502.

    fake-proxy.py --port-file PATH --log PATH"""
import argparse
import http.client
import os
import socketserver
import sys
import threading
import urllib.parse

lock = threading.Lock()


def record(log, text):
    with lock, open(log, "a") as f:
        f.write(text)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        log = self.server.log_path
        record(log, f"CONNECTION from {self.client_address[0]}:{self.client_address[1]}\n")
        while True:
            head = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    return
                head.append(line.decode("latin-1"))
                if line in (b"\r\n", b"\n"):
                    break
            record(log, "".join(head))
            method, target, _ = (head[0].split(" ", 2) + ["", ""])[:3]
            headers = {}
            for h in head[1:]:
                if ":" in h:
                    k, v = h.split(":", 1)
                    headers[k.strip()] = v.strip()
            u = urllib.parse.urlsplit(target)
            if method != "GET" or u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost"):
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            headers.pop("Proxy-Connection", None)
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
            conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)
            r = conn.getresponse()
            body = r.read()
            out = [f"HTTP/1.1 {r.status} {r.reason}\r\n"]
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    out.append(f"{k}: {v}\r\n")
            out.append(f"Content-Length: {len(body)}\r\n\r\n")
            self.wfile.write("".join(out).encode("latin-1") + body)
            self.wfile.flush()
            conn.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    open(a.log, "a").close()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.log_path = a.log
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
