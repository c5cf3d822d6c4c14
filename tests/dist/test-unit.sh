#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generated provision-syncd.service and provision-hub.service: the settings each daemon's
# contract depends on are there, every line parses for this systemd, and "systemd-analyze
# security --offline=yes" rates each exposure at 2.0 or less. Skips (77) when systemd-analyze is
# missing or too old for --offline.
set -u
top_builddir=${top_builddir:-$(pwd)}
unit="$top_builddir/systemd/provision-syncd.service"
failures=0

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}

[ -f "$unit" ] || { echo "FAIL: $unit was not generated"; exit 1; }

# Settings that other parts rely on: readiness protocol, state and credential names, sandbox.
for want in \
        'Type=notify' \
        'ExecStart=/.*/provision-syncd --foreground' \
        'WatchdogSec=5min' \
        'Restart=on-failure' \
        'StateDirectory=provision' \
        'ConfigurationDirectory=provision' \
        'LoadCredential=scim-token:/.*/scim-token' \
        'ProtectSystem=strict' \
        'ProtectHome=read-only' \
        'PrivateTmp=yes' \
        'NoNewPrivileges=yes' \
        'CapabilityBoundingSet=CAP_KILL' \
        'SystemCallFilter=@system-service' \
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
        grep -Eqx "$want" "$unit" || fail "unit lacks a line matching '$want'"
done
grep -q '@[a-z]*@' "$unit" && fail "unit has unsubstituted @variables@"
# Finding a leaver's leftover processes needs every /proc/PID.
grep -Eq '^ProtectProc=(invisible|noaccess)' "$unit" && fail "ProtectProc= would hide other users' processes"

# The hub: its own user and state, no capability at all, the network it serves.
hub_unit="$top_builddir/systemd/provision-hub.service"
[ -f "$hub_unit" ] || { echo "FAIL: $hub_unit was not generated"; exit 1; }
for want in \
        'Type=notify' \
        'ExecStart=/.*/provision-hub --config /.*/hub.conf' \
        'User=provision-hub' \
        'StateDirectory=provision-hub' \
        'StateDirectoryMode=0700' \
        'CapabilityBoundingSet=' \
        'ProtectSystem=strict' \
        'NoNewPrivileges=yes' \
        'SystemCallFilter=@system-service' \
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
        grep -Eqx "$want" "$hub_unit" || fail "$hub_unit lacks a line matching '$want'"
done
grep -q '@[a-z]*@' "$hub_unit" && fail "$hub_unit has unsubstituted @variables@"

if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
        exit 77
fi
if ! systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
        echo "SKIP: this systemd-analyze has no 'security --offline' (systemd >= 250 needed)"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exposure() { # UNIT: every line accepted, exposure at most 2.0
        local unit=$1 line score
        # Unknown or misspelt settings show up as warnings on stderr of an offline analysis.
        systemd-analyze security --offline=yes "$unit" >"$tmp/out" 2>"$tmp/err"
        if grep -Ei 'unknown|failed to parse|invalid|ignoring' "$tmp/err"; then
                fail "systemd-analyze does not accept every line of $unit"
        fi
        line=$(grep 'Overall exposure level' "$tmp/out")
        echo "$line"
        score=$(printf '%s\n' "$line" | sed -nE 's/.*: ([0-9]+\.[0-9]).*/\1/p')
        if [ -z "$score" ]; then
                fail "no exposure score in the output for $unit"
                cat "$tmp/out" "$tmp/err"
        elif ! awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
                fail "exposure score $score of $unit is above 2.0"
                grep '✗' "$tmp/out"
        fi
}
exposure "$unit"
exposure "$hub_unit"

[ "$failures" -eq 0 ]
