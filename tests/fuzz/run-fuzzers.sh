#!/bin/bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# in their own build directory and runs each for SECONDS (default 60) on a copy of its seed
# corpus. Prints one line per harness, "fuzz: NAME: PASS|FAIL (N execs)", and exits non-zero
# if any harness found something; crash inputs are kept in $FUZZ_BUILDDIR/findings/NAME/.
#
#     tests/fuzz/run-fuzzers.sh [SECONDS] [NAME...]
#
# FUZZ_BUILDDIR (default build-fuzz next to the sources) holds the clang build; FUZZ_JOBS runs
# that many harnesses at once (default: the number of CPUs).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
shift || true
builddir=${FUZZ_BUILDDIR:-$top/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
all=(fuzz-scim-directory fuzz-scim-list fuzz-scim-user fuzz-scim-service-config fuzz-scim-hub fuzz-config fuzz-snapshot fuzz-nss
     fuzz-hub-filter fuzz-hub-patch fuzz-hub-resource)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz: clang is not installed (scripts/setup-deps.sh)" >&2; exit 77; }

# The libraries, instrumented for coverage and sanitizers but without libFuzzer's main(); only the
# static convenience libraries are needed, so the modules (which -Wl,--no-undefined would refuse
# to link against clang's static sanitizer runtime) are never built here.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-g -O1 -fsanitize=fuzzer-no-link $san"
mkdir -p "$builddir"
if [ ! -f "$builddir/Makefile" ]; then
        [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null) || exit 1
        (cd "$builddir" && "$top/configure" CC=clang CFLAGS="$cflags" LDFLAGS="$san" >configure.out 2>&1) ||
                { tail -20 "$builddir/configure.out"; exit 1; }
fi
make -C "$builddir" -j"$(nproc)" common/libprovcache.la common/libprovcommon.la syncd/libsyncd.la >"$builddir/make.out" 2>&1 ||
        { tail -30 "$builddir/make.out"; exit 1; }

libs="$builddir/syncd/.libs/libsyncd.a $builddir/common/.libs/libprovcommon.a $builddir/common/.libs/libprovcache.a"
syslibs=$(pkg-config --libs libcjson sqlite3 libcurl libsystemd)
build_one() {
        local name=$1 extra=()
        case $name in
        fuzz-scim-*) extra=("$top/tests/fuzz/fuzz-scim-common.c") ;;
        fuzz-nss) extra=("$top/nss_provision/nss-provision.c") ;;
        fuzz-hub-*) extra=(-I"$top/hub" "$top"/hub/scim-error.c "$top"/hub/scim-filter.c "$top"/hub/scim-filter-match.c "$top"/hub/scim-patch.c "$top"/hub/scim-resource.c) ;;
        esac
        clang $cflags -fsanitize=fuzzer -include "$builddir/config.h" -I"$top/common" -I"$top/syncd" \
                -I"$top/tests/fuzz" -o "$builddir/$name" "$top/tests/fuzz/$name.c" "$top/tests/fuzz/fuzz-util.c" \
                "${extra[@]}" $libs $syslibs -lpthread
}

run_one() {
        local name=$1 corpus=$builddir/corpus/$1 findings=$builddir/findings/$1 log=$builddir/$1.log execs
        mkdir -p "$corpus" "$findings"
        cp -n "$top/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
        # -rss_limit_mb: the parsers bound their input; a harness growing past this is a finding.
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
                "$builddir/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
                -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1
        local rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        if [ $rc -eq 0 ]; then
                echo "fuzz: $name: PASS (${execs:-?} execs in ${seconds}s)"
        else
                echo "fuzz: $name: FAIL (exit $rc after ${execs:-?} execs; see $log and $findings/)"
                grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -5
        fi
        echo $rc >"$builddir/$name.rc"
        return $rc
}

status=0
for n in "${names[@]}"; do
        build_one "$n" >"$builddir/$n.build.log" 2>&1 || { echo "fuzz: $n: FAIL (build, see $builddir/$n.build.log)"; tail -20 "$builddir/$n.build.log"; status=1; }
done
[ $status -eq 0 ] || exit $status

# Run in parallel, jobs at a time; each prints its own line and leaves its exit status in NAME.rc.
for n in "${names[@]}"; do
        rm -f "$builddir/$n.rc"
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        run_one "$n" &
done
wait
for n in "${names[@]}"; do
        [ "$(cat "$builddir/$n.rc" 2>/dev/null)" = 0 ] || status=1
done
exit $status
