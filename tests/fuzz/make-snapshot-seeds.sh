#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes the snapshot seeds of the fuzz-snapshot and fuzz-nss corpora again with the snapshot
# writer of BUILDDIR (after a change of the snapshot format): fixture (tests/nss/fixture.txt),
# small (two users, one group) and empty, each for fuzz-nss also behind its 4 bytes of buffer
# sizes ("big": 0x0210, 0x0300; "tiny": 0x0001, 0x013f).
#
# Usage: tests/fuzz/make-snapshot-seeds.sh BUILDDIR
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${1:?usage: $0 BUILDDIR}" && pwd)
make -C "$builddir" -s tests/nss/mksnap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meta=$(grep '^M:' "$top/tests/nss/fixture.txt")
cp "$top/tests/nss/fixture.txt" "$tmp/fixture.txt"
printf '%s\nU:alice:10001:10001:Alice Example:/home/alice:/bin/bash:active:19000\nU:bob:10002:10002::/home/bob:/bin/sh:active:0\nG:devs:20000:0:alice,bob\n' \
        "$meta" >"$tmp/small.txt"
printf '%s\n' "$meta" >"$tmp/empty.txt"
for seed in fixture small empty; do
        "$builddir/tests/nss/mksnap" "$tmp/$seed.snap" "$tmp/$seed.txt"
        cp "$tmp/$seed.snap" "$top/tests/fuzz/corpus/fuzz-snapshot/$seed.snap"
        { printf '\020\002\000\003'; cat "$tmp/$seed.snap"; } >"$top/tests/fuzz/corpus/fuzz-nss/big-$seed.snap"
        { printf '\001\000\077\001'; cat "$tmp/$seed.snap"; } >"$top/tests/fuzz/corpus/fuzz-nss/tiny-$seed.snap"
done
