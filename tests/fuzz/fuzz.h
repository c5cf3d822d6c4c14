/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The libFuzzer entry point every harness in tests/fuzz/ defines. The same harnesses are built
 * twice: with clang's -fsanitize=fuzzer by tests/fuzz/run-fuzzers.sh, and with the normal
 * compiler against fuzz-main.c for `make check`, which replays the seed corpus, so that the
 * harnesses keep compiling and every seed (and every past finding added to the corpus) stays a
 * regression test. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "prov-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: abort() so that libFuzzer records the input. */
#define FUZZ_CHECK(expr)                                                                        \
        do {                                                                                    \
                if (!(expr))                                                                    \
                        fuzz_fail(#expr, __FILE__, __LINE__);                                   \
        } while (0)

_Noreturn void fuzz_fail(const char *expr, const char *file, int line);

/* Whether s is a NUL-terminated string of at most max bytes without control characters (reads
 * every byte, so that ASan notices a string that runs off its allocation). */
int fuzz_clean_string(const char *s, size_t max);

/* Writes data to a fresh memfd and returns its fd (path "/proc/self/fd/N"), or -errno. */
int fuzz_memfd(const char *name, const uint8_t *data, size_t size);
