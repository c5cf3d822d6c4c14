#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# libnss_provision.so.2 exports only _nss_provision_* and links nothing but libc.
set -eu
so="${top_builddir:?}/nss_provision/.libs/libnss_provision.so.2"
command -v nm >/dev/null 2>&1 || { echo "SKIP: nm not installed"; exit 77; }
command -v ldd >/dev/null 2>&1 || { echo "SKIP: ldd not installed"; exit 77; }
# A sanitizer build (scripts/sanitize.sh) links the sanitizer runtimes into the module on purpose;
# exports and dependencies are checked by the normal build.
if objdump -p "$so" 2>/dev/null | grep -Eq 'NEEDED +lib(a|ub|t|l)san\.so'; then
        echo "SKIP: sanitizer build, $(basename "$so") links the sanitizer runtime"; exit 77
fi

bad=$(nm -D --defined-only "$so" | awk '{print $NF}' | grep -v '^_nss_provision_' || true)
if [ -n "$bad" ]; then
        echo "FAIL: unexpected exported symbols:"; echo "$bad"; exit 1
fi
n=$(nm -D --defined-only "$so" | grep -c ' T _nss_provision_')
[ "$n" -eq 15 ] || { echo "FAIL: expected 15 entry points, found $n"; exit 1; }

soname=$(objdump -p "$so" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libnss_provision.so.2 ] || { echo "FAIL: soname is '$soname'"; exit 1; }

deps=$(ldd "$so" | awk '{print $1}' | grep -v -e '^linux-vdso' -e '^libc\.so\.6$' -e 'ld-linux' || true)
if [ -n "$deps" ]; then
        echo "FAIL: links more than libc:"; echo "$deps"; exit 1
fi
echo "exports and dependencies ok"
