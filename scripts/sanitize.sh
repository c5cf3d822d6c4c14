#!/bin/bash
# CI stage: the whole tree built with ASan+UBSan (gcc) in its own build directory, and the whole
# test suite run against it. Leaves automake's .trs files in $SAN_BUILDDIR (default build-asan)
# for scripts/summarize-tests.sh. Exit status is make check's.
#
# Why gcc and LD_PRELOAD:
#  - The NSS and PAM modules are linked with -Wl,--no-undefined. gcc's -fsanitize=address links
#    the shared runtime (libasan.so) into each shared object, which satisfies --no-undefined;
#    clang links its runtime statically into executables only and leaves the modules with
#    undefined __asan_* symbols (with clang, add -shared-libsan to CFLAGS and LDFLAGS instead).
#  - The modules are also loaded into programs that are not instrumented (getent, id, pamtester,
#    python). ASan must be the first library of a process, so every test process gets the
#    runtimes by LD_PRELOAD. Leaks of those foreign programs (bash, python, getent) are not ours
#    and are suppressed by their module; the C tests and provision-syncd are instrumented and
#    leak-checked in full (valgrind, scripts/valgrind.sh, checks the rest).
#  - The export/dependency tests skip: the runtimes are DT_NEEDED on purpose here.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${SAN_BUILDDIR:-$top/build-asan}
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

cd "$top"
[ -x configure ] && [ ! configure.ac -nt configure ] || autoreconf -fi >/dev/null || exit 1
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f Makefile ]; then
        "$top/configure" --enable-werror CC=gcc CFLAGS="-O1 -g $san" LDFLAGS="${san%% -fno-sanitize-recover*}" \
                >configure.out 2>&1 || { tail -30 configure.out; exit 1; }
fi
make -j"$(nproc)" >make.out 2>&1 || { tail -40 make.out; exit 1; }

supp=$builddir/lsan.supp
cat >"$supp" <<'SUPP'
# Programs that are not ours (shells, coreutils, python, getent, pamtester...) run under the
# preloaded runtime by the test scripts: their leaks are not ours. Our binaries live in the
# build tree and stay fully leak-checked; the modules are leak-checked by the C tests that load
# them (test-nss-dlopen, test-nss-unload, test-pam-direct) and by scripts/valgrind.sh.
leak:/usr/bin/
leak:/bin/
leak:/usr/sbin/
leak:libpython3
# Python's D-Bus and GLib bindings (dbus-python, dbusmock) keep allocations at exit.
leak:libglib-2.0
leak:libgobject-2.0
leak:libdbus-1
leak:_dbus_bindings
SUPP
find . -name '*.trs' -delete
# Only the tests get the preloaded runtimes (make itself trips over them), through automake's
# user variable TESTS_ENVIRONMENT, a shell prefix of every test.
preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
tenv="LD_PRELOAD='$preload'; export LD_PRELOAD;"
tenv+=" ASAN_OPTIONS='detect_leaks=1:exitcode=23:detect_odr_violation=0'; export ASAN_OPTIONS;"
tenv+=" LSAN_OPTIONS='suppressions=$supp:print_suppressions=0'; export LSAN_OPTIONS;"
tenv+=" UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1'; export UBSAN_OPTIONS;"
make -j"$(nproc)" check TESTS_ENVIRONMENT="$tenv" >check.out 2>&1
status=$?
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out || true
exit $status
