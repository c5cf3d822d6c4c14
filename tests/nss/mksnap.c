/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* mksnap OUTPUT [DESCRIPTION]: writes a snapshot from the text format of fixture.txt (stdin when
 * no description is given). Used by the shell tests and the benchmark. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nss-test-util.h"

int main(int argc, char *argv[]) {
        FILE *in = stdin;
        int r;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s OUTPUT [DESCRIPTION]\n", argv[0]);
                return 2;
        }
        if (argc == 3) {
                in = fopen(argv[2], "re");
                if (!in) {
                        fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
                        return 1;
                }
        }
        r = test_snap_from_text(argv[1], in);
        if (in != stdin)
                fclose(in);
        if (r < 0) {
                fprintf(stderr, "mksnap: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
