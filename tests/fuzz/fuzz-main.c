/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Stand-in for libFuzzer's driver in builds without -fsanitize=fuzzer: runs the harness once on
 * every file named on the command line, or on every file of a named directory. Without arguments
 * (under `make check`) it replays $top_srcdir/tests/fuzz/corpus/<program name>/. Exits 0 when all
 * inputs ran, 77 when there was nothing to run. A finding aborts. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "prov-util.h"

#define FUZZ_MAX_INPUT (8u * 1024 * 1024)

static int run_file(const char *path) {
        _cleanup_free_ uint8_t *buf = NULL;
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        buf = malloc(FUZZ_MAX_INPUT);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, FUZZ_MAX_INPUT, f);
        fclose(f);
        (void) LLVMFuzzerTestOneInput(buf, n);
        return 1;
}

static int run_path(const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        int r, n = 0;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&p, "%s/%s", path, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                r = run_file(p);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
                n += r;
        }
        closedir(d);
        return n;
}

/* $top_srcdir/tests/fuzz/corpus/NAME, NAME being the program's name without libtool's "lt-". */
static char *default_corpus(const char *argv0) {
        const char *top = getenv("top_srcdir"), *name = strrchr(argv0, '/');
        char *p;

        name = name ? name + 1 : argv0;
        if (strncmp(name, "lt-", 3) == 0)
                name += 3;
        if (asprintf(&p, "%s/tests/fuzz/corpus/%s", top ?: ".", name) < 0)
                return NULL;
        return p;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *corpus = NULL;
        int total = 0;

        if (argc < 2) {
                corpus = default_corpus(argv[0]);
                if (!corpus)
                        return 1;
                if (access(corpus, F_OK) < 0) {
                        fprintf(stderr, "%s: no seed corpus, skipping\n", corpus);
                        return 77;
                }
                return run_path(corpus) > 0 ? (printf("%s: corpus replayed\n", corpus), 0) : 1;
        }
        for (int i = 1; i < argc; i++) {
                int r = run_path(argv[i]);
                if (r < 0)
                        return 1;
                total += r;
        }
        if (total == 0) {
                fprintf(stderr, "no inputs to run\n");
                return 77;
        }
        printf("%s: %d inputs ran\n", argv[0], total);
        return 0;
}
