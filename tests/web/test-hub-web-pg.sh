#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/web/test-hub-web.py again with the hub on a real PostgreSQL (the harness starts one with
# initdb in a temporary directory, and skips saying why where PostgreSQL is not installed): the
# page's queries (hub/hub-web-data.c) are written once for both backends.
set -eu
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
HUB_STORE=postgresql
export HUB_STORE
exec "${PYTHON:-/usr/bin/python3}" "$srcdir/tests/web/test-hub-web.py"
