#!/bin/bash
# Sets everything up and runs the full test suite: dependencies, build with warnings as
# errors, `make check`, then the robustness stages (doc/robustness.md), then a closing
# "N passed, N failed, N skipped" line. Exit status is non-zero if anything failed.
#
# Stages after make check, each counted in the closing line (one result per test, fuzzer or
# program); ROBUST_STAGES selects them (default all; "none" for make check alone):
#   asan      the whole test suite on an ASan+UBSan build (scripts/sanitize.sh)
#   valgrind  memcheck over the NSS/PAM C tests and unit tests (scripts/valgrind.sh)
#   fuzz      each libFuzzer harness for FUZZ_SECONDS (default 45) (tests/fuzz/run-fuzzers.sh)
#   crash     SIGKILL at 20 points of a 100k-user sync (tests/robust/test-crash.sh)
#   soak      60 s of lookups against a churning daemon (tests/robust/soak.sh)
#   packages  the .deb (lintian: no errors) and .rpm build from "make dist" (dist/build-packages.sh)
#   e2e       the .debs in a debootstrapped Debian 12 booted with systemd-nspawn, against the test
#             SCIM server, with a real logind and sshd (tests/e2e/nspawn-e2e.sh); skipped, with the
#             reason, without root, systemd-nspawn or debootstrap
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
stages=${ROBUST_STAGES:-asan valgrind fuzz crash soak packages e2e}

"$top/scripts/setup-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
BUILDDIR=$builddir "$top/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }

cd "$builddir"
find . -name '*.trs' -delete
# Every part has a time limit, so that a hung test fails the run instead of outliving CI's
# 90 minutes; a normal run takes about 20.
timeout --kill-after=30 900 make -j"$(nproc)" check >check.out 2>&1
status=$?
[ $status -eq 124 ] && echo "make check timed out after 15 minutes"
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out || true
if [ $status -ne 0 ]; then
        for log in $(grep -lE ':test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null); do
                echo "===== ${log%.trs}.log ====="
                tail -n 60 "${log%.trs}.log"
        done
        grep -q ':test-result:' check.out 2>/dev/null || tail -n 40 check.out
fi

# Each stage appends "PASS|FAIL|SKIP NAME" lines to $results; summarize-tests.sh counts them.
results=$builddir/robust-results.txt
: >"$results"
stage_limit() { # the time limit of a stage, in seconds
        case $1 in
        asan|crash) echo 900 ;;
        valgrind|fuzz) echo 600 ;;
        soak|packages|e2e) echo 480 ;;
        *) echo 600 ;;
        esac
}
stage() { # stage NAME COMMAND...: runs a stage that prints its own per-item results
        local name=$1 start=$SECONDS rc
        shift
        echo "===== stage $name ====="
        timeout --kill-after=30 "$(stage_limit "$name")" "$@"
        rc=$?
        [ $rc -eq 124 ] && echo "stage $name timed out"
        echo "===== stage $name: exit $rc, $((SECONDS - start)) s ====="
        return $rc
}
for s in $stages; do
        case $s in
        asan)
                san=${SAN_BUILDDIR:-$top/build-asan}
                stage asan env SAN_BUILDDIR="$san" "$top/scripts/sanitize.sh" >"$builddir/stage-asan.out" 2>&1
                rc=$?
                cat "$builddir/stage-asan.out"
                # One result per test of the sanitizer run, from its .trs files.
                n=0
                while IFS= read -r -d '' trs; do
                        r=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
                        t=${trs#"$san"/}
                        case $r in
                        PASS|XFAIL) echo "PASS asan:${t%.trs}" ;;
                        SKIP) echo "SKIP asan:${t%.trs}" ;;
                        *) echo "FAIL asan:${t%.trs}"; tail -n 40 "${trs%.trs}.log" >&2 ;;
                        esac >>"$results"
                        n=$((n + 1))
                done < <(find "$san" -name '*.trs' -print0 2>/dev/null)
                [ $n -gt 0 ] || echo "FAIL asan:build (exit $rc)" >>"$results"
                ;;
        valgrind)
                stage valgrind env BUILDDIR="$builddir" RESULTS="$results" "$top/scripts/valgrind.sh"
                rc=$?
                if [ $rc -eq 77 ]; then
                        echo "SKIP valgrind:not-installed"
                elif ! grep -q ' valgrind:' "$results"; then
                        echo "FAIL valgrind:stage (exit $rc)"
                fi >>"$results"
                ;;
        fuzz)
                stage fuzz "$top/tests/fuzz/run-fuzzers.sh" "${FUZZ_SECONDS:-45}" | tee "$builddir/stage-fuzz.out"
                sed -n 's/^fuzz: \([^:]*\): \(PASS\|FAIL\).*/\2 fuzz:\1/p' "$builddir/stage-fuzz.out" >>"$results"
                grep -q '^fuzz: .*: \(PASS\|FAIL\)' "$builddir/stage-fuzz.out" || echo "FAIL fuzz:build" >>"$results"
                ;;
        crash)
                if stage crash env top_builddir="$builddir" top_srcdir="$top" CRASH_USERS=100000 CRASH_KILLS=20 \
                        "$top/tests/robust/test-crash.sh"; then
                        echo "PASS crash:100k-users-20-kills" >>"$results"
                else
                        echo "FAIL crash:100k-users-20-kills" >>"$results"
                fi
                ;;
        soak)
                stage soak env top_builddir="$builddir" top_srcdir="$top" SOAK_SECONDS=60 "$top/tests/robust/soak.sh"
                case $? in
                0) echo "PASS soak:60s" ;;
                77) echo "SKIP soak:60s" ;;
                *) echo "FAIL soak:60s" ;;
                esac >>"$results"
                ;;
        packages)
                # The test suite already ran above: the package build skips its own copy of it.
                stage packages env BUILDDIR="$builddir" DEB_BUILD_OPTIONS=nocheck "$top/dist/build-packages.sh" all
                if [ $? -eq 0 ]; then
                        echo "PASS packages:deb-rpm"
                        errors=$(grep -c '^E:' "$builddir/packages/lintian.txt" 2>/dev/null || true)
                        if [ -f "$builddir/packages/lintian.txt" ] && [ "${errors:-0}" -eq 0 ]; then
                                echo "PASS packages:lintian-no-errors"
                        elif [ -f "$builddir/packages/lintian.txt" ]; then
                                grep '^E:' "$builddir/packages/lintian.txt" | head -n 20 >&2
                                echo "FAIL packages:lintian-no-errors"
                        else
                                echo "SKIP packages:lintian-no-errors"
                        fi
                else
                        echo "FAIL packages:deb-rpm"
                fi >>"$results"
                ;;
        e2e)
                if [ ! -d "$builddir/packages" ] || ! ls "$builddir"/packages/*.deb >/dev/null 2>&1; then
                        echo "e2e: skipped: no .deb files were built (the packages stage did not run or failed)"
                        echo "SKIP e2e:nspawn" >>"$results"
                else
                        stage e2e env top_builddir="$builddir" top_srcdir="$top" PROVISION_E2E_DEBS="$builddir/packages" \
                                "$top/tests/e2e/nspawn-e2e.sh"
                        case $? in
                        0) echo "PASS e2e:nspawn" ;;
                        77) echo "SKIP e2e:nspawn" ;;
                        *) echo "FAIL e2e:nspawn" ;;
                        esac >>"$results"
                fi
                ;;
        none) ;;
        *) echo "unknown stage '$s'"; echo "FAIL stage:$s" >>"$results" ;;
        esac
done

"$top/scripts/summarize-tests.sh" "$builddir" "$status" "$results"
sum=$?
[ $status -eq 0 ] && [ $sum -eq 0 ]
