/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by every part of provision: cleanup attributes, errno
 * preservation, array sizes. libc only: the NSS and PAM modules include this. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _hidden_ __attribute__((visibility("hidden")))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Hands ownership of a pointer to the caller: returns it and clears the variable, so the
 * cleanup attribute on the variable does nothing. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _p = (p);         \
                (p) = NULL;                     \
                _p;                             \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd = (fd);                 \
                (fd) = -1;                      \
                _fd;                            \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

/* Makes room for at least `need` elements in *array of capacity *cap, growing by half again
 * (at least 64) so that appending one by one stays linear; the one array-growth helper. */
static inline int prov_grow(void **array, size_t *cap, size_t need, size_t size) {
        size_t want;
        void *p;

        if (need <= *cap)
                return 0;
        want = *cap + *cap / 2;
        if (want < need)
                want = need;
        if (want < 64)
                want = 64;
        if (want > SIZE_MAX / size)
                return -ENOMEM;
        p = reallocarray(*array, want, size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *cap = want;
        return 0;
}

/* Returns -errno of the last failed libc call, never 0, so that a caller can
 * `return negative_errno();` right after a failure. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* Overwrites a secret before it is released; the compiler may not drop this store. */
static inline void prov_explicit_bzero_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}
