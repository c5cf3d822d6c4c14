#!/bin/bash
# Installs what a fresh Debian 12 machine lacks to build and test provision, and the
# tests' npm packages (the test SCIM server, playwright-core for the hub's web page driving
# Debian's chromium) from the lockfile. Safe to run again.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

packages=(
        build-essential autoconf automake libtool pkg-config
        libcurl4-openssl-dev libcjson-dev libsqlite3-dev libsystemd-dev libpam0g-dev
        libcmocka-dev pamtester libpam-wrapper
        libmicrohttpd-dev libgnutls28-dev gnutls-bin
        libpq-dev postgresql
        dbus python3 python3-dbusmock
        util-linux passwd uidmap libnss-cache curl ca-certificates psmisc strace
        openssh-server openssh-client
        debhelper rpm lintian debootstrap systemd-container
        clang libclang-rt-14-dev valgrind
        chromium
)

missing=()
# This machine's Node may come from elsewhere than Debian (and conflict with Debian's npm);
# any node >= 18 with npm will do, Debian's only when there is none.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
                exit 1
        fi
        # Another apt or dpkg (unattended-upgrades on a fresh machine) may hold the lock.
        for _ in $(seq 1 120); do
                if ! fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1; then
                        break
                fi
                echo "setup-deps: waiting for the dpkg lock..." >&2
                sleep 5
        done
        export DEBIAN_FRONTEND=noninteractive
        # openssh-server (for tests/e2e/test-sshd.sh, which runs its own sshd) must not start or
        # enable the host's sshd: invoke-rc.d asks policy-rc.d, and 101 means "not allowed". Only
        # for the apt call, and only when the machine has no policy of its own.
        policy=/usr/sbin/policy-rc.d
        own_policy=
        if [ ! -e "$policy" ]; then
                printf '#!/bin/sh\n# provision setup-deps.sh: no service starts during apt-get install.\nexit 101\n' >"$policy"
                chmod 0755 "$policy"
                own_policy=1
                trap 'rm -f "$policy"' EXIT
        fi
        apt-get update -q
        apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
        if [ -n "$own_policy" ]; then
                rm -f "$policy"
                trap - EXIT
        fi
fi

if [ -f "$top/tests/package-lock.json" ]; then
        if [ ! -d "$top/tests/node_modules" ] || [ "$top/tests/package-lock.json" -nt "$top/tests/node_modules" ]; then
                (cd "$top/tests" && npm ci --no-audit --no-fund --loglevel=error)
                touch "$top/tests/node_modules"
        fi
fi
