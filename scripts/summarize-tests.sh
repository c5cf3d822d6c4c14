#!/bin/bash
# Prints the closing line "N passed, N failed, N skipped" from automake's .trs files and
# exits non-zero if any test failed. automake's harness prints no such line of its own.
# Optional STAGE_RESULTS files (scripts/test.sh's robustness stages) hold one result per line,
# "PASS|FAIL|SKIP NAME", counted the same way.
set -euo pipefail
builddir=${1:?usage: summarize-tests.sh BUILDDIR [HARNESS_STATUS] [STAGE_RESULTS...]}
harness=${2:-0}
shift $(($# < 2 ? $# : 2))
pass=0 fail=0 skip=0
while IFS= read -r -d '' trs; do
        while IFS= read -r line; do
                case "$line" in
                ":test-result: PASS"*|":test-result: XFAIL"*) pass=$((pass + 1)) ;;
                ":test-result: SKIP"*) skip=$((skip + 1)); echo "skipped: ${trs%.trs}" ;;
                ":test-result: "*) fail=$((fail + 1)); echo "FAILED: ${trs%.trs} (see ${trs%.trs}.log)" ;;
                esac
        done < "$trs"
done < <(find "$builddir" -name '*.trs' -print0)
for f in "$@"; do
        [ -f "$f" ] || continue
        while read -r verdict name; do
                case "$verdict" in
                PASS) pass=$((pass + 1)) ;;
                SKIP) skip=$((skip + 1)); echo "skipped: $name" ;;
                FAIL) fail=$((fail + 1)); echo "FAILED: $name" ;;
                esac
        done < "$f"
done
# A harness that failed without a failed test (a build error in a test program, say) is
# one failure too, so the closing line never reads green when the run was not.
if [ "$harness" -ne 0 ] && [ "$fail" -eq 0 ]; then
        echo "FAILED: make check exited $harness without a failed test (build error?)"
        fail=1
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
