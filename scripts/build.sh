#!/bin/bash
# Configures and builds provision in ./build with warnings as errors.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        autoreconf -fi >/dev/null
fi
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f Makefile ]; then
        "$top/configure" --enable-werror ${CONFIGURE_FLAGS:-} >/dev/null
fi
make -j"$(nproc)" >/dev/null
echo "built in $builddir"
