/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-snapshot.h"
#include "prov-sshkeys.h"
#include "prov-util.h"

/* Read with pread(), not mapped: a lookup touches a few dozen bytes of a file that is tens of MB
 * at 100k accounts, and the helper runs once per login attempt, where mapping and faulting in
 * pages costs more than the reads. */
struct ProvSshKeys {
        int fd;
        size_t size;
        uint32_t n;
        uint64_t generation;
        char *buf;              /* the last record read: name, NUL, keys, NUL */
        size_t buf_size;
};

static uint32_t get_u32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
        return (uint64_t) get_u32(p) | (uint64_t) get_u32(p + 4) << 32;
}

/* Reads exactly n bytes at off; -EBADMSG if the file is shorter than it said. */
static int read_at(const ProvSshKeys *k, void *buf, size_t n, size_t off) {
        size_t done = 0;

        if (off > k->size || k->size - off < n)
                return -EBADMSG;
        while (done < n) {
                ssize_t r = pread(k->fd, (uint8_t *) buf + done, n - done, (off_t) (off + done));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -EBADMSG;
                done += (size_t) r;
        }
        return 0;
}

char *prov_sshkeys_path_beside(const char *snapshot_path) {
        const char *slash;
        char *p;

        if (!snapshot_path)
                return NULL;
        slash = strrchr(snapshot_path, '/');
        if (!slash)
                return strdup("ssh-keys");
        if (asprintf(&p, "%.*s/ssh-keys", (int) (slash - snapshot_path), snapshot_path) < 0)
                return NULL;
        return p;
}

int prov_sshkeys_open(const char *path, ProvSshKeys **ret) {
        _cleanup_(prov_sshkeys_closep) ProvSshKeys *k = NULL;
        uint8_t h[PROV_SSHKEYS_HEADER_SIZE];
        struct stat st;
        int r;

        if (!path || !ret)
                return -EINVAL;
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (k->fd < 0)
                return -errno;
        if (fstat(k->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        /* Keys that anyone but root could have written are anyone's: checked on the descriptor
         * read, so that the file cannot be swapped between a check and the open. */
        r = prov_file_trusted(&st);
        if (r < 0)
                return r;
        if ((uint64_t) st.st_size > PROV_SSHKEYS_FILE_MAX)
                return -EFBIG;
        k->size = (size_t) st.st_size;
        r = read_at(k, h, sizeof(h), 0);
        if (r < 0)
                return r;
        /* The header states the file's size: a truncated or extended file is refused whole. */
        if (memcmp(h, PROV_SSHKEYS_MAGIC, 8) != 0 || get_u32(h + 8) != PROV_SSHKEYS_VERSION || get_u64(h + 24) != k->size)
                return -EBADMSG;
        k->n = get_u32(h + 12);
        k->generation = get_u64(h + 16);
        if (k->n > (k->size - PROV_SSHKEYS_HEADER_SIZE) / 8 ||
            prov_sshkeys_buckets(k->n) > (k->size - PROV_SSHKEYS_HEADER_SIZE) / 4)
                return -EBADMSG;
        *ret = TAKE_PTR(k);
        return 0;
}

ProvSshKeys *prov_sshkeys_close(ProvSshKeys *k) {
        if (!k)
                return NULL;
        if (k->fd >= 0)
                close(k->fd);
        free(k->buf);
        free(k);
        return NULL;
}

uint64_t prov_sshkeys_generation(const ProvSshKeys *k) {
        return k ? k->generation : 0;
}

size_t prov_sshkeys_count(const ProvSshKeys *k) {
        return k ? k->n : 0;
}

/* Reads the record at off (name, then keys into k->buf) if its name is name: 1, and its uid and
 * keys; 0 if it is another's. Checks the lengths against the file and the NULs: where they must
 * be, and none inside. */
static int record_at(ProvSshKeys *k, size_t off, const char *name, size_t len, uint32_t *ret_uid, size_t *ret_kl) {
        size_t data = PROV_SSHKEYS_HEADER_SIZE + 4 * prov_sshkeys_buckets(k->n), nl, kl, n;
        uint8_t b[12 + 256];
        int r;

        if (off < data || off > k->size || k->size - off < 12)
                return -EBADMSG;
        /* The fixed part and the name in one read. */
        n = k->size - off < sizeof(b) ? k->size - off : sizeof(b);
        r = read_at(k, b, n, off);
        if (r < 0)
                return r;
        nl = get_u32(b + 4);
        kl = get_u32(b + 8);
        if (nl == 0 || nl > 255 || kl == 0 || kl > k->size || k->size - off - 12 < nl + 1 + kl + 1)
                return -EBADMSG;
        if (b[12 + nl] != '\0' || memchr(b + 12, '\0', nl))
                return -EBADMSG;
        if (nl != len || memcmp(b + 12, name, len) != 0)
                return 0;

        r = prov_grow((void **) &k->buf, &k->buf_size, kl + 1, 1);
        if (r < 0)
                return r;
        r = read_at(k, k->buf, kl + 1, off + 12 + nl + 1);
        if (r < 0)
                return r;
        if (k->buf[kl] != '\0' || memchr(k->buf, '\0', kl))
                return -EBADMSG;
        *ret_uid = get_u32(b);
        *ret_kl = kl;
        return 1;
}

int prov_sshkeys_lookup(ProvSshKeys *k, const char *name, uint32_t *ret_uid, const char **ret_keys,
                        size_t *ret_keys_len) {
        size_t nb, b, len;

        if (!k || !name)
                return -EINVAL;
        len = strlen(name);
        if (len == 0 || len > 255 || k->n == 0)
                return -ENOENT;
        nb = prov_sshkeys_buckets(k->n);
        b = prov_sshkeys_hash(name) & (nb - 1);
        /* Buckets are read a run at a time; the table is at most half full, so a probe ends at
         * an empty bucket; a corrupt table is bounded by nb steps. */
        for (size_t step = 0; step < nb;) {
                uint8_t run[64];
                size_t m = nb - b < 16 ? nb - b : 16;
                int r;

                r = read_at(k, run, 4 * m, PROV_SSHKEYS_HEADER_SIZE + 4 * b);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m && step < nb; j++, step++) {
                        uint32_t off = get_u32(run + 4 * j), uid;
                        size_t kl;

                        if (off == 0)
                                return -ENOENT;
                        r = record_at(k, off, name, len, &uid, &kl);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                if (ret_uid)
                                        *ret_uid = uid;
                                if (ret_keys)
                                        *ret_keys = k->buf;
                                if (ret_keys_len)
                                        *ret_keys_len = kl;
                                return 0;
                        }
                }
                b = (b + m) & (nb - 1);
        }
        return -ENOENT;
}
