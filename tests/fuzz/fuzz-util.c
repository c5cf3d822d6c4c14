/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Helpers shared by the harnesses (see fuzz.h). */

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

_Noreturn void fuzz_fail(const char *expr, const char *file, int line) {
        fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, expr);
        abort();
}

int fuzz_clean_string(const char *s, size_t max) {
        size_t n = 0;

        if (!s)
                return 0;
        for (; s[n]; n++)
                if ((unsigned char) s[n] < 0x20 || s[n] == 0x7f)
                        return 0;
        return n <= max;
}

int fuzz_memfd(const char *name, const uint8_t *data, size_t size) {
        int fd = memfd_create(name, MFD_CLOEXEC);

        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        close(fd);
                        return r;
                }
                off += (size_t) n;
        }
        return fd;
}
