/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for the NSS tests: build snapshots from the small text format of fixture.txt, and
 * load the built module. */

#include <stdio.h>

/* Parses the text description and writes the snapshot to out_path. Returns 0 or -errno. */
int test_snap_from_text(const char *out_path, FILE *in);
/* Writes $top_srcdir/tests/nss/fixture.txt as a snapshot into a fresh 0755 directory under /tmp;
 * returns the malloc'ed snapshot path. */
int test_snap_fixture(char **ret_path);
/* Path of the built module: $top_builddir/nss_provision/.libs/libnss_provision.so.2. */
int test_nss_module_path(char **ret_path);
/* Removes the snapshot file and its directory. */
void test_snap_cleanup(const char *path);
