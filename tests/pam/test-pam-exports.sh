#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# pam_provision.so exports exactly its pam_sm_* entry points, and needs nothing but libc and
# libpam: no libprovcache symbol leaks out, no libcurl/SQLite/cJSON/libsystemd gets in.

set -u

: "${top_builddir:=$(pwd)}"
module="$top_builddir/pam_provision/.libs/pam_provision.so"
[ -r "$module" ] || { echo "FAIL: $module is not built"; exit 1; }
for tool in nm readelf ldd; do
        command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
# A sanitizer build (scripts/sanitize.sh) links the sanitizer runtimes into the module on purpose;
# exports and dependencies are checked by the normal build.
if objdump -p "$module" 2>/dev/null | grep -Eq 'NEEDED +lib(a|ub|t|l)san\.so'; then
        echo "SKIP: sanitizer build, $(basename "$module") links the sanitizer runtime"; exit 77
fi

failures=0

exports=$(nm -D --defined-only "$module" | awk '{ print $NF }' | sort | tr '\n' ' ')
if [ "$exports" = "pam_sm_acct_mgmt pam_sm_close_session pam_sm_open_session " ]; then
        echo "ok: exports only pam_sm_acct_mgmt, pam_sm_close_session, pam_sm_open_session"
else
        echo "FAIL: unexpected dynamic symbols: $exports"
        failures=$((failures + 1))
fi

needed=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
if [ "$needed" = "libc.so.6 libpam.so.0 " ]; then
        echo "ok: DT_NEEDED is libc.so.6 and libpam.so.0"
else
        echo "FAIL: unexpected DT_NEEDED: $needed"
        failures=$((failures + 1))
fi

# ldd lists libpam's own dependencies too (libaudit, libcap-ng on Debian): allow those, nothing
# else beyond libc, libpam, the dynamic loader and the vDSO.
libpam=$(ldd "$module" | awk '$1 == "libpam.so.0" { print $3 }')
allowed=$( { echo libc.so.6; echo libpam.so.0; [ -n "$libpam" ] && ldd "$libpam" | awk '{ print $1 }'; } | sort -u)
extra=$(ldd "$module" | awk '{ print $1 }' | grep -v -e '^linux-vdso' -e '^/.*ld-linux' -e '^ld-linux' |
        while read -r lib; do echo "$allowed" | grep -qx "$lib" || echo "$lib"; done)
if [ -z "$libpam" ]; then
        echo "FAIL: ldd does not resolve libpam.so.0"
        failures=$((failures + 1))
elif [ -n "$extra" ]; then
        echo "FAIL: links more than libc and libpam: $extra"
        failures=$((failures + 1))
else
        echo "ok: ldd shows only libc, libpam (and libpam's own dependencies), the loader and the vDSO"
fi

[ "$failures" -eq 0 ] || exit 1
exit 0
