#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the README's first command, scripts/demo.sh, on the build tree without its setup and build
# steps. The demo checks every step it tells (joiner, mover, leaver with a live session killed,
# refused login, outage held, /etc untouched) and exits non-zero when one does not happen.
# Exit 77 (skip) when something it needs is not there: root, node and the SCIM server's
# node_modules, dbus-daemon and python3-dbusmock, pamtester and pam_wrapper, unshare -m.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
py=/usr/bin/python3

skip() {
        echo "SKIP: $*"
        exit 77
}

# Under scripts/sanitize.sh every process gets the ASan runtime preloaded, node and curl
# included, and the Node SCIM server does not answer then; each component is covered by its
# own test in that run.
case "${LD_PRELOAD:-}" in
*libasan*) skip "the sanitizer run preloads libasan into node, which then does not serve" ;;
esac
[ "$(id -u)" -eq 0 ] || skip "the demo needs root (private mount namespaces, a process as a directory user)"
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$top_srcdir/tests/node_modules/scimmy" ] || skip "tests/node_modules is missing, run 'cd tests && npm ci'"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
command -v dbus-daemon >/dev/null 2>&1 || skip "dbus-daemon is not installed"
"$py" -c 'import dbusmock' 2>/dev/null || skip "python3-dbusmock is not installed"
command -v pamtester >/dev/null 2>&1 || skip "pamtester is not installed"
command -v setpriv >/dev/null 2>&1 || skip "setpriv is not installed"
unshare -m --propagation private true 2>/dev/null || skip "unshare -m is not permitted here"

# pam_wrapper must be able to drive pamtester from a service directory of ours.
svc=$(mktemp -d "${TMPDIR:-/tmp}/test-demo.XXXXXX") || exit 99
echo "account required pam_permit.so" >"$svc/preflight"
LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc" pamtester preflight nobody acct_mgmt \
        >/dev/null 2>&1
rc=$?
rm -rf "$svc"
[ $rc -eq 0 ] || skip "pamtester under pam_wrapper (libpam_wrapper.so) does not work here"

DEMO_SKIP_SETUP=1 BUILDDIR=$top_builddir NO_COLOR=1 "$top_srcdir/scripts/demo.sh"
