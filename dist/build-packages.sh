#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# build-packages.sh [deb|rpm|all]: builds the Debian and/or RPM packages from the "make dist"
# tarball of a configured build tree, so that the source tree stays clean. Results go to
# $BUILDDIR/packages (.deb, .changes, lintian.txt, and rpm/RPMS/...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
what=${1:-all}
out="$builddir/packages"

[ -f "$builddir/Makefile" ] || { echo "build-packages: $builddir is not configured (run scripts/build.sh)" >&2; exit 1; }
make -C "$builddir" -s dist >/dev/null
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$builddir/Makefile")
tarball="$builddir/provision-$version.tar.gz"
rm -rf "$out"
mkdir -p "$out"

if [ "$what" = deb ] || [ "$what" = all ]; then
        mkdir -p "$out/deb-src"
        tar -C "$out/deb-src" -xzf "$tarball"
        (cd "$out/deb-src/provision-$version" && dpkg-buildpackage -us -uc -b) >"$out/dpkg-buildpackage.log" 2>&1 || {
                tail -n 40 "$out/dpkg-buildpackage.log" >&2
                exit 1
        }
        mv "$out"/deb-src/*.deb "$out"/deb-src/*.changes "$out"/deb-src/*.buildinfo "$out/"
        rm -rf "$out/deb-src"
        if command -v lintian >/dev/null 2>&1; then
                lintian --info "$out"/provision_*.changes >"$out/lintian.txt" 2>&1 || true
                echo "lintian: $(grep -c '^E:' "$out/lintian.txt") errors, $(grep -c '^W:' "$out/lintian.txt") warnings (see $out/lintian.txt)"
        fi
        ls "$out"/*.deb
fi

if [ "$what" = rpm ] || [ "$what" = all ]; then
        specversion=$(sed -n 's/^Version: *//p' "$top/rpm/provision.spec")
        [ "$specversion" = "$version" ] || { echo "rpm/provision.spec says $specversion, configure $version" >&2; exit 1; }
        mkdir -p "$out/rpm/SOURCES"
        cp "$tarball" "$out/rpm/SOURCES/"
        # The spec as shipped in the tarball. --nodeps: Debian's rpm database knows none of
        # the build dependencies.
        tar -xzf "$tarball" -O "provision-$version/rpm/provision.spec" >"$out/rpm/provision.spec"
        rpmbuild -bb --nodeps --define "_topdir $out/rpm" "$out/rpm/provision.spec" >"$out/rpmbuild.log" 2>&1 || {
                tail -n 40 "$out/rpmbuild.log" >&2
                exit 1
        }
        find "$out/rpm/RPMS" -name '*.rpm'
fi
