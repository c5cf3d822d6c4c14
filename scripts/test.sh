#!/bin/bash
# Sets everything up and runs the full test suite: dependencies, build with warnings as
# errors, `make check`, then a closing "N passed, N failed, N skipped" line. Exit status is
# non-zero if anything failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

"$top/scripts/setup-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
BUILDDIR=$builddir "$top/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }

cd "$builddir"
find . -name '*.trs' -delete
make -j"$(nproc)" check >check.out 2>&1
status=$?
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out || true
if [ $status -ne 0 ]; then
        for log in $(grep -lE ':test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null); do
                echo "===== ${log%.trs}.log ====="
                tail -n 60 "${log%.trs}.log"
        done
        grep -q ':test-result:' check.out 2>/dev/null || tail -n 40 check.out
fi
"$top/scripts/summarize-tests.sh" "$builddir" "$status"
sum=$?
[ $status -eq 0 ] && [ $sum -eq 0 ]
