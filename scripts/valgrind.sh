#!/bin/bash
# CI stage: valgrind memcheck over the C tests of the NSS and PAM modules, the unit tests and the
# fuzz harnesses' corpus replays, in an already built tree (default ./build, after make check).
# A test fails on any memcheck error or a definite leak. Prints "valgrind: NAME: PASS|FAIL|SKIP"
# per program and, with RESULTS=FILE, appends "PASS|FAIL|SKIP valgrind:NAME" lines there for
# scripts/summarize-tests.sh. Exit status non-zero if any failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
results=${RESULTS:-/dev/null}

command -v valgrind >/dev/null || { echo "valgrind: not installed (scripts/setup-deps.sh)"; exit 77; }
cd "$builddir" || exit 1
export top_builddir=$builddir top_srcdir=$top PYTHON=/usr/bin/python3
# test-nss-dispatch re-executes itself through /proc/self/exe (valgrind's own binary under
# valgrind) unless the loader already has the module's directory.
export LD_LIBRARY_PATH=$builddir/nss_provision/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

programs=(tests/nss/test-nss-dlopen tests/nss/test-nss-dispatch tests/pam/test-pam-direct tests/robust/test-nss-unload)
for p in tests/unit/test-* tests/fuzz/fuzz-*; do
        [ -x "$p" ] && [ -f "$p" ] && [[ $p != *.* ]] && programs+=("$p")
done

status=0
mkdir -p valgrind
for p in "${programs[@]}"; do
        name=${p#tests/}
        log=valgrind/$(echo "$name" | tr / _).log
        if [ ! -x "$p" ]; then
                echo "valgrind: $name: FAIL (not built; run make check first)"
                echo "FAIL valgrind:$name" >>"$results"
                status=1
                continue
        fi
        # Definite leaks fail; "possibly lost" blocks of glibc's NSS and dlopen caches do not.
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
                --errors-for-leak-kinds=definite --num-callers=30 --log-file="$log" "$p" >"$log.out" 2>&1
        rc=$?
        case $rc in
        0) verdict=PASS ;;
        77) verdict=SKIP ;;
        *) verdict=FAIL; status=1 ;;
        esac
        echo "valgrind: $name: $verdict"
        [ $verdict = FAIL ] && { grep -E 'ERROR SUMMARY|definitely lost|Invalid|uninitialised' "$log" | head -5; tail -5 "$log.out"; }
        echo "$verdict valgrind:$name" >>"$results"
done
exit $status
