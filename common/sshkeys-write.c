/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-sshkeys.h"
#include "prov-util.h"

static int cmp_record(const void *a, const void *b) {
        return strcmp(((const ProvSshKeysRecord *) a)->name, ((const ProvSshKeysRecord *) b)->name);
}

static void put_u32(uint8_t *p, uint32_t v) {
        for (size_t i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
        for (size_t i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t get_bucket(const uint8_t *buf, size_t b) {
        const uint8_t *p = buf + PROV_SSHKEYS_HEADER_SIZE + 4 * b;
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Writes all of buf, or returns -errno. */
static int write_all(int fd, const uint8_t *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The whole file in memory: it is small (a few hundred bytes per account with keys), and one
 * write keeps the temp file's life short. */
static int build(uint64_t generation, const ProvSshKeysRecord *recs, size_t n, uint8_t **ret, size_t *ret_size) {
        size_t nb = prov_sshkeys_buckets(n), size, off;
        _cleanup_free_ uint8_t *buf = NULL;

        if (n > UINT32_MAX / 4)
                return -EFBIG;
        size = PROV_SSHKEYS_HEADER_SIZE + 4 * nb;
        for (size_t i = 0; i < n; i++) {
                size_t nl = strlen(recs[i].name), kl = strlen(recs[i].keys);

                if (nl == 0 || nl > 255 || kl == 0 || kl > PROV_SSHKEYS_FILE_MAX)
                        return -EINVAL;
                size += 12 + nl + 1 + kl + 1;
                if (size > PROV_SSHKEYS_FILE_MAX)
                        return -EFBIG;
        }
        buf = calloc(1, size);
        if (!buf)
                return -ENOMEM;

        memcpy(buf, PROV_SSHKEYS_MAGIC, 8);
        put_u32(buf + 8, PROV_SSHKEYS_VERSION);
        put_u32(buf + 12, (uint32_t) n);
        put_u64(buf + 16, generation);
        put_u64(buf + 24, size);
        off = PROV_SSHKEYS_HEADER_SIZE + 4 * nb;
        for (size_t i = 0; i < n; i++) {
                size_t nl = strlen(recs[i].name), kl = strlen(recs[i].keys);
                size_t b = prov_sshkeys_hash(recs[i].name) & (nb - 1);
                uint8_t *p = buf + off;

                /* Linear probing; the table is at most half full. */
                while (get_bucket(buf, b) != 0)
                        b = (b + 1) & (nb - 1);
                put_u32(buf + PROV_SSHKEYS_HEADER_SIZE + 4 * b, (uint32_t) off);
                put_u32(p, recs[i].uid);
                put_u32(p + 4, (uint32_t) nl);
                put_u32(p + 8, (uint32_t) kl);
                memcpy(p + 12, recs[i].name, nl + 1);
                memcpy(p + 12 + nl + 1, recs[i].keys, kl + 1);
                off += 12 + nl + 1 + kl + 1;
        }
        assert(off == size);
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int prov_sshkeys_write(const char *path, uint64_t generation, ProvSshKeysRecord *recs, size_t n) {
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        int r;

        if (!path || (n > 0 && !recs))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!recs[i].name || !recs[i].keys)
                        return -EINVAL;
        if (n > 0)
                qsort(recs, n, sizeof(*recs), cmp_record);
        for (size_t i = 1; i < n; i++)
                if (streq(recs[i - 1].name, recs[i].name))
                        return -EINVAL;
        r = build(generation, recs, n, &buf, &size);
        if (r < 0)
                return r;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Readable by the unprivileged user sshd runs the helper as; the keys are public. */
        if (fchmod(fd, 0644) < 0 || (r = write_all(fd, buf, size)) < 0 || fsync(fd) < 0) {
                r = r < 0 ? r : -errno;
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}
