/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot reader. Opening validates only the header and the bounds of each section, in constant
 * time, so that the first lookup of a fresh process does not pay for the size of the directory.
 * Every record, string and array slice is bounds-checked when a lookup touches it. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-snapshot.h"
#include "prov-util.h"
#include "snapshot-format.h"

struct ProvSnapshot {
        const uint8_t *map;
        size_t size;
        const SnapHeader *hdr;
        uint64_t dev, ino;

        const SnapUser *users;
        const SnapGroup *groups;
        const uint32_t *user_gids;
        size_t n_user_gids;
        const uint8_t *passwd;
        size_t passwd_size;
        const uint8_t *group_data;
        size_t group_data_size;
        const SnapSlot *idx[_PROV_SNAP_SEC_MAX];
        uint32_t idx_mask[_PROV_SNAP_SEC_MAX];
        const uint16_t *tags;                   /* of the user name index's buckets, */
        uint32_t bucket_mask;                   /* which lead the passwd section */
        uint32_t seed, n_users, n_groups;       /* copies of the header's, next to the rest */
};

/* Whether a snapshot's owner and mode say that only root wrote it: anyone else who can write it
 * could mark a leaver active or truncate it under a setuid program's mapping (SIGBUS). Owned by
 * root and writable by root (and root's group) only; an unprivileged process also trusts its own
 * user's files (tests, builds), a setuid or setgid one never does. -EPERM otherwise. */
int prov_file_trusted(const struct stat *st) {
        uid_t euid = geteuid();

        if (st->st_uid == 0)
                return (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0) ? -EPERM : 0;
        if (st->st_uid == euid && !getauxval(AT_SECURE))
                return st->st_mode & S_IWOTH ? -EPERM : 0;
        return -EPERM;
}

/* Checks that a section lies inside the file after the header, aligned, without overflow. */
static int section_check(const SnapHeader *h, size_t file_size, unsigned sec, uint64_t elem_size) {
        const SnapSection *s = &h->sections[sec];

        if (s->offset < h->header_size || s->offset > file_size || s->size > file_size - s->offset)
                return -EBADMSG;
        if (s->offset % 8 != 0 || s->size % elem_size != 0)
                return -EBADMSG;
        return 0;
}

/* Checks an index section: a power-of-two number of slots, at least one. Returns the mask. */
static int index_check(const SnapHeader *h, size_t file_size, unsigned sec, uint32_t *ret_mask) {
        const SnapSection *sect = &h->sections[sec];
        uint64_t n;
        int r;

        r = section_check(h, file_size, sec, sizeof(SnapSlot));
        if (r < 0)
                return r;
        n = sect->size / sizeof(SnapSlot);
        if (n == 0 || n > UINT32_MAX || (n & (n - 1)) != 0)
                return -EBADMSG;
        *ret_mask = (uint32_t) (n - 1);
        return 0;
}

/* Checks the user name index: 2^k tags, and as many buckets at the start of the passwd section
 * (which must have been checked). Returns the mask. */
static int buckets_check(const SnapHeader *h, size_t file_size, uint32_t *ret_mask) {
        uint64_t n;
        int r;

        r = section_check(h, file_size, PROV_SNAP_SEC_IDX_USER_NAME, sizeof(uint16_t));
        if (r < 0)
                return r;
        n = h->sections[PROV_SNAP_SEC_IDX_USER_NAME].size / sizeof(uint16_t);
        if (n == 0 || n > UINT32_MAX / (PROV_SNAP_BUCKET / PROV_SNAP_REF_UNIT) || (n & (n - 1)) != 0 ||
            n * PROV_SNAP_BUCKET > h->sections[PROV_SNAP_SEC_PASSWD].size)
                return -EBADMSG;
        *ret_mask = (uint32_t) (n - 1);
        return 0;
}

/* Everything opening checks, in constant time: the header of a file of file_size bytes, and the
 * bounds of every section. Shared by the mapping and by the peeks (which read a copy). */
static int header_check(const SnapHeader *h, size_t file_size) {
        uint32_t mask;
        int r;

        if (memcmp(h->magic, PROV_SNAP_MAGIC, sizeof(h->magic)) != 0 || h->version != PROV_SNAP_VERSION ||
            h->header_size != sizeof(SnapHeader) || h->file_size != file_size ||
            h->user_record_size != sizeof(SnapUser) || h->group_record_size != sizeof(SnapGroup))
                return -EBADMSG;

        r = section_check(h, file_size, PROV_SNAP_SEC_USERS, sizeof(SnapUser));
        if (r < 0)
                return r;
        if (h->sections[PROV_SNAP_SEC_USERS].size / sizeof(SnapUser) != h->n_users)
                return -EBADMSG;
        r = section_check(h, file_size, PROV_SNAP_SEC_GROUPS, sizeof(SnapGroup));
        if (r < 0)
                return r;
        if (h->sections[PROV_SNAP_SEC_GROUPS].size / sizeof(SnapGroup) != h->n_groups)
                return -EBADMSG;
        r = section_check(h, file_size, PROV_SNAP_SEC_USER_GIDS, sizeof(uint32_t));
        if (r < 0)
                return r;
        r = section_check(h, file_size, PROV_SNAP_SEC_PASSWD, PROV_SNAP_REF_UNIT);
        if (r < 0)
                return r;
        r = section_check(h, file_size, PROV_SNAP_SEC_GROUP_DATA, PROV_SNAP_REF_UNIT);
        if (r < 0)
                return r;
        r = buckets_check(h, file_size, &mask);
        if (r < 0)
                return r;
        for (unsigned sec = PROV_SNAP_SEC_IDX_USER_UID; sec <= PROV_SNAP_SEC_IDX_GROUP_GID; sec++) {
                r = index_check(h, file_size, sec, &mask);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int snapshot_setup(ProvSnapshot *s) {
        const SnapHeader *h;
        int r;

        if (s->size < sizeof(SnapHeader))
                return -EBADMSG;
        h = s->hdr = (const SnapHeader *) s->map;
        r = header_check(h, s->size);
        if (r < 0)
                return r;
        (void) buckets_check(h, s->size, &s->bucket_mask);
        s->tags = (const uint16_t *) (s->map + h->sections[PROV_SNAP_SEC_IDX_USER_NAME].offset);
        for (unsigned sec = PROV_SNAP_SEC_IDX_USER_UID; sec <= PROV_SNAP_SEC_IDX_GROUP_GID; sec++) {
                (void) index_check(h, s->size, sec, &s->idx_mask[sec]);
                s->idx[sec] = (const SnapSlot *) (s->map + h->sections[sec].offset);
        }

        s->users = (const SnapUser *) (s->map + h->sections[PROV_SNAP_SEC_USERS].offset);
        s->groups = (const SnapGroup *) (s->map + h->sections[PROV_SNAP_SEC_GROUPS].offset);
        s->user_gids = (const uint32_t *) (s->map + h->sections[PROV_SNAP_SEC_USER_GIDS].offset);
        s->n_user_gids = h->sections[PROV_SNAP_SEC_USER_GIDS].size / sizeof(uint32_t);
        s->passwd = s->map + h->sections[PROV_SNAP_SEC_PASSWD].offset;
        s->passwd_size = h->sections[PROV_SNAP_SEC_PASSWD].size;
        s->group_data = s->map + h->sections[PROV_SNAP_SEC_GROUP_DATA].offset;
        s->group_data_size = h->sections[PROV_SNAP_SEC_GROUP_DATA].size;
        s->seed = h->hash_seed;
        s->n_users = h->n_users;
        s->n_groups = h->n_groups;
        return 0;
}

int prov_snapshot_open(const char *path, ProvSnapshot **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        struct stat st;
        void *map;
        int r;

        if (!path || !ret)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        r = prov_file_trusted(&st);
        if (r < 0)
                return r;
        if ((uint64_t) st.st_size < sizeof(SnapHeader) || (uint64_t) st.st_size > SIZE_MAX)
                return -EBADMSG;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        /* MAP_SHARED: the writer's later store into the stale word must become visible here. */
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
                return negative_errno();
        s->map = map;
        s->size = (size_t) st.st_size;
        s->dev = (uint64_t) st.st_dev;
        s->ino = (uint64_t) st.st_ino;

        r = snapshot_setup(s);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

ProvSnapshot *prov_snapshot_close(ProvSnapshot *s) {
        if (!s)
                return NULL;
        if (s->map)
                munmap((void *) s->map, s->size);
        free(s);
        return NULL;
}

uint64_t prov_snapshot_generation(const ProvSnapshot *s) {
        return s ? s->hdr->generation : 0;
}

uint64_t prov_snapshot_created_usec(const ProvSnapshot *s) {
        return s ? s->hdr->created_usec : 0;
}

uint64_t prov_snapshot_last_sync_usec(const ProvSnapshot *s) {
        /* The writer updates this field in place when a sync changed nothing. */
        return s ? __atomic_load_n(&s->hdr->last_sync_usec, __ATOMIC_RELAXED) : 0;
}

uint32_t prov_snapshot_uid_min(const ProvSnapshot *s) {
        return s ? s->hdr->uid_min : 0;
}

uint32_t prov_snapshot_uid_max(const ProvSnapshot *s) {
        return s ? s->hdr->uid_max : 0;
}

size_t prov_snapshot_n_users(const ProvSnapshot *s) {
        return s ? s->hdr->n_users : 0;
}

size_t prov_snapshot_n_groups(const ProvSnapshot *s) {
        return s ? s->hdr->n_groups : 0;
}

bool prov_snapshot_is_stale(const ProvSnapshot *s) {
        if (!s)
                return true;
        return __atomic_load_n(&s->hdr->stale, __ATOMIC_ACQUIRE) != 0;
}

bool prov_snapshot_same_file(const ProvSnapshot *s, uint64_t dev, uint64_t ino) {
        return s && s->dev == dev && s->ino == ino;
}

/* The NULs that make every string of a passwd record's text end inside it: after the name, "x",
 * and the last byte. */
static bool passwd_text_ok(const char *t, size_t size, size_t name_len) {
        return size >= name_len + 6 && t[name_len] == '\0' && t[name_len + 1] == 'x' && t[name_len + 2] == '\0' &&
               t[size - 1] == '\0';
}

/* Resolves a passwd record by ref: header and text inside the section, and passwd_text_ok(). */
static int passwd_at_ref(const ProvSnapshot *s, uint32_t ref, ProvSnapPasswd *ret) {
        uint64_t off = (uint64_t) ref * PROV_SNAP_REF_UNIT;
        const SnapPasswd *p;
        const char *t;

        if (off + sizeof(SnapPasswd) > s->passwd_size)
                return -EBADMSG;
        p = (const SnapPasswd *) (s->passwd + off);
        if (off + sizeof(SnapPasswd) + p->size > s->passwd_size)
                return -EBADMSG;
        t = (const char *) (p + 1);
        if (!passwd_text_ok(t, p->size, p->name_len))
                return -EBADMSG;
        *ret = (ProvSnapPasswd) {
                .text = t,
                .size = p->size,
                .name_len = p->name_len,
                .uid = p->uid,
                .gid = p->gid,
                .index = p->index,
        };
        return 0;
}

/* The same for a group record; also the member offset array inside the section. The offsets'
 * values are checked where they are used. */
static int group_at_ref(const ProvSnapshot *s, uint32_t ref, ProvSnapGroupRecord *ret) {
        uint64_t off = (uint64_t) ref * PROV_SNAP_REF_UNIT, text_off;
        const SnapGroupData *g;
        const char *t;

        if (off + sizeof(SnapGroupData) > s->group_data_size)
                return -EBADMSG;
        g = (const SnapGroupData *) (s->group_data + off);
        text_off = off + sizeof(SnapGroupData) + (uint64_t) g->n_members * sizeof(uint32_t);
        if (text_off + g->size > s->group_data_size || g->size < (uint64_t) g->name_len + 3)
                return -EBADMSG;
        t = (const char *) (s->group_data + text_off);
        if (t[g->name_len] != '\0' || t[g->name_len + 1] != 'x' || t[g->name_len + 2] != '\0' ||
            t[g->size - 1] != '\0')
                return -EBADMSG;
        *ret = (ProvSnapGroupRecord) {
                .text = t,
                .size = g->size,
                .name_len = g->name_len,
                .member_bytes = g->size - g->name_len - 3,
                .member_off = (const uint32_t *) (g + 1),
                .n_members = g->n_members,
                .gid = g->gid,
                .flags = g->flags,
                .index = g->index,
                ._ref = ref,
        };
        return 0;
}

/* The ref of the record that a bucket of the user name index names (pos: its place), if its
 * user may have the name looked for (hash h, len bytes): 1 with the ref, whose record's name is to
 * be compared (the bucket's own for a copy inside it, else the far one); 0 when its user is
 * another; -EBADMSG for an empty bucket under a tag. Shared by the mapped lookup and the peek. */
static int bucket_ref(const void *bucket, uint32_t pos, uint32_t h, size_t len, uint32_t *ret_ref) {
        SnapPasswdFar b;

        memcpy(&b, bucket, sizeof(b));
        if (b.head.size == 0)
                return -EBADMSG;
        if (b.head.name_len != len)
                return 0;
        if (sizeof(SnapPasswd) + b.head.size <= PROV_SNAP_BUCKET) {
                *ret_ref = pos * (PROV_SNAP_BUCKET / PROV_SNAP_REF_UNIT);
                return 1;
        }
        if (b.hash != h)
                return 0;
        *ret_ref = b.ref;
        return 1;
}

/* The passwd record of a name: the tags (a table small enough to stay cached), then one bucket,
 * one cache line, when the record fits in it. Probing is bounded by the number of buckets, so that
 * a corrupt table without an empty tag cannot loop forever. ret is written only when the record is
 * found. */
static int passwd_by_name(const ProvSnapshot *s, const char *name, ProvSnapPasswd *ret) {
        size_t len = strlen(name);
        uint32_t h = snap_hash_name(s->seed, name, len), mask = s->bucket_mask, ref;
        uint16_t tag = snap_name_tag(h), t;
        ProvSnapPasswd p;
        int r;

        for (uint32_t i = 0, pos = h & mask; i <= mask && (t = s->tags[pos]) != 0; i++, pos = (pos + 1) & mask) {
                if (t != tag)
                        continue;
                r = bucket_ref(s->passwd + (size_t) pos * PROV_SNAP_BUCKET, pos, h, len, &ref);
                if (r == 0)
                        continue;
                if (r < 0)
                        return r;
                r = passwd_at_ref(s, ref, &p);
                if (r < 0)
                        return r;
                if (p.name_len == len && memcmp(p.text, name, len) == 0) {
                        *ret = p;
                        return 0;
                }
        }
        return -ENOENT;
}

/* Linear probing, bounded by the table size so that a corrupt table without an empty slot
 * cannot loop forever. Runs the body for each occupied slot whose key equals `want`. */
#define INDEX_FOREACH(s, sec, want, hash, slot)                                                 \
        for (uint32_t _i = 0, _pos = (hash) & (s)->idx_mask[sec];                               \
             _i <= (s)->idx_mask[sec] && ((slot) = &(s)->idx[sec][_pos])->ref1 != 0;           \
             _i++, _pos = (_pos + 1) & (s)->idx_mask[sec])                                      \
                if ((slot)->key == (want))

/* Peeks: one passwd lookup with pread(), without mapping the file (see prov-snapshot.h). The same
 * checks as the mapped reader: the header and section bounds as at open, and each slot and record
 * read inside its section. */

/* Reads exactly n bytes at off. The file was checked to be as long as its header says, so a
 * short read means it is not the file that was checked: -EBADMSG. */
static int pread_full(int fd, void *buf, size_t n, uint64_t off) {
        ssize_t k;

        if (off > INT64_MAX)
                return -EBADMSG;
        do
                k = pread(fd, buf, n, (off_t) off);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EBADMSG;
}

/* Opens path and reads and checks its header, as prov_snapshot_open() does with the mapping. */
static int peek_open(const char *path, int *ret_fd, SnapHeader *ret_header) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size < sizeof(SnapHeader) ||
            (uint64_t) st.st_size > SIZE_MAX)
                return -EBADMSG;
        r = prov_file_trusted(&st);
        if (r < 0)
                return r;
        r = pread_full(fd, ret_header, sizeof(*ret_header), 0);
        if (r < 0)
                return r;
        r = header_check(ret_header, (size_t) st.st_size);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Reads the passwd record at ref into buf if it is the one looked for (by name: name and len; by
 * uid: name NULL). Returns 1 when it is, 0 when it is another user's (same hash), -ERANGE, or
 * -EBADMSG. The record's first 128 bytes are read into a local buffer first (or its first
 * PROV_SNAP_BUCKET bytes are pre, the bucket read already), so that a record that fits there costs
 * at most one read, and buf is written only for the record asked for. */
static int peek_record(int fd, const SnapHeader *h, uint32_t ref, const void *pre, const char *name, size_t len,
                       uint32_t uid, char *buf, size_t buflen, ProvSnapPasswd *ret) {
        const SnapSection *sec = &h->sections[PROV_SNAP_SEC_PASSWD];
        uint64_t off = (uint64_t) ref * PROV_SNAP_REF_UNIT, n;
        uint64_t line[16];      /* 128 bytes, aligned for the record header */
        const char *t = (const char *) line + sizeof(SnapPasswd);
        SnapPasswd p;
        int r;

        if (off + sizeof(SnapPasswd) > sec->size)
                return -EBADMSG;
        if (pre) {
                n = PROV_SNAP_BUCKET;   /* the bucket is inside the section (buckets_check()) */
                memcpy(line, pre, (size_t) n);
        } else {
                n = sec->size - off < sizeof(line) ? sec->size - off : sizeof(line);
                r = pread_full(fd, line, (size_t) n, sec->offset + off);
                if (r < 0)
                        return r;
        }
        memcpy(&p, line, sizeof(p));
        if (off + sizeof(SnapPasswd) + p.size > sec->size || p.size < (size_t) p.name_len + 6)
                return -EBADMSG;
        if (name) {
                size_t have = (size_t) n - sizeof(SnapPasswd);

                if (p.name_len != len || memcmp(t, name, len < have ? len : have) != 0)
                        return 0;
                /* A name longer than the first read is compared piecewise: buf is written only
                 * once the record is known to be the one asked for. */
                for (size_t done = have; done < len;) {
                        char chunk[128];
                        size_t k = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

                        r = pread_full(fd, chunk, k, sec->offset + off + sizeof(SnapPasswd) + done);
                        if (r < 0)
                                return r;
                        if (memcmp(chunk, name + done, k) != 0)
                                return 0;
                        done += k;
                }
        } else if (p.uid != uid)
                return -EBADMSG;        /* the index and the record must agree */
        if (buflen < p.size)
                return -ERANGE;
        if (sizeof(SnapPasswd) + p.size <= n)
                memcpy(buf, t, p.size);
        else {
                r = pread_full(fd, buf, p.size, sec->offset + off + sizeof(SnapPasswd));
                if (r < 0)
                        return r;
        }
        if (!passwd_text_ok(buf, p.size, p.name_len))
                return -EBADMSG;
        if (name && memcmp(buf, name, len) != 0)
                return 0;
        *ret = (ProvSnapPasswd) {
                .text = buf,
                .size = p.size,
                .name_len = p.name_len,
                .uid = p.uid,
                .gid = p.gid,
                .index = p.index,
        };
        return 1;
}

/* The probe of passwd_by_name() over tags read 32 at a time, a bucket read where the tag is the
 * name's. */
static int peek_by_name(int fd, const SnapHeader *h, const char *name, char *buf, size_t buflen,
                        ProvSnapPasswd *ret) {
        const SnapSection *sec = &h->sections[PROV_SNAP_SEC_IDX_USER_NAME];
        size_t len = strlen(name);
        uint32_t mask, want = snap_hash_name(h->hash_seed, name, len), pos, seen = 0, ref;
        uint16_t tag = snap_name_tag(want);
        int r;

        (void) buckets_check(h, h->file_size, &mask);
        pos = want & mask;
        for (;;) {
                uint16_t tags[32];
                uint32_t k = mask + 1 - pos < ELEMENTSOF(tags) ? mask + 1 - pos : (uint32_t) ELEMENTSOF(tags);

                r = pread_full(fd, tags, k * sizeof(uint16_t), sec->offset + (uint64_t) pos * sizeof(uint16_t));
                if (r < 0)
                        return r;
                for (uint32_t j = 0; j < k; j++) {
                        uint64_t b[PROV_SNAP_BUCKET / sizeof(uint64_t)];

                        if (tags[j] == 0 || seen++ > mask)
                                return 0;
                        if (tags[j] != tag)
                                continue;
                        r = pread_full(fd, b, sizeof(b), h->sections[PROV_SNAP_SEC_PASSWD].offset +
                                                                 (uint64_t) (pos + j) * PROV_SNAP_BUCKET);
                        if (r < 0)
                                return r;
                        r = bucket_ref(b, pos + j, want, len, &ref);
                        if (r == 0)
                                continue;
                        if (r < 0)
                                return r;
                        r = peek_record(fd, h, ref,
                                        ref == (pos + j) * (PROV_SNAP_BUCKET / PROV_SNAP_REF_UNIT) ? b : NULL,
                                        name, len, 0, buf, buflen, ret);
                        if (r != 0)
                                return r;
                }
                pos = (pos + k) & mask;
        }
}

/* The probe of INDEX_FOREACH over uid slots read eight at a time. */
static int peek_by_uid(int fd, const SnapHeader *h, uint32_t uid, char *buf, size_t buflen, ProvSnapPasswd *ret) {
        unsigned sec = PROV_SNAP_SEC_IDX_USER_UID;
        uint32_t mask, pos, seen = 0;
        int r;

        (void) index_check(h, h->file_size, sec, &mask);
        pos = snap_hash_id(h->hash_seed, uid) & mask;
        for (;;) {
                SnapSlot slots[8];
                uint32_t k = mask + 1 - pos < ELEMENTSOF(slots) ? mask + 1 - pos : (uint32_t) ELEMENTSOF(slots);

                r = pread_full(fd, slots, k * sizeof(SnapSlot),
                               h->sections[sec].offset + (uint64_t) pos * sizeof(SnapSlot));
                if (r < 0)
                        return r;
                for (uint32_t j = 0; j < k; j++) {
                        if (slots[j].ref1 == 0 || seen++ > mask)
                                return 0;
                        if (slots[j].key != uid)
                                continue;
                        r = peek_record(fd, h, slots[j].ref1 - 1, NULL, NULL, 0, uid, buf, buflen, ret);
                        if (r != 0)
                                return r;
                }
                pos = (pos + k) & mask;
        }
}

static int peek_passwd(const char *path, const char *name, uint32_t uid, char *buf, size_t buflen,
                       ProvSnapPasswd *ret, uint32_t *ret_uid_min) {
        _cleanup_close_ int fd = -1;
        SnapHeader h;
        int r;

        if (!path || !buf || !ret || !ret_uid_min)
                return -EINVAL;
        r = peek_open(path, &fd, &h);
        if (r < 0)
                return r;
        r = name ? peek_by_name(fd, &h, name, buf, buflen, ret) : peek_by_uid(fd, &h, uid, buf, buflen, ret);
        if (r > 0)
                *ret_uid_min = h.uid_min;
        return r;
}

int prov_snapshot_peek_passwd_by_name(const char *path, const char *name, char *buf, size_t buflen,
                                      ProvSnapPasswd *ret, uint32_t *ret_uid_min) {
        if (!name)
                return -EINVAL;
        return peek_passwd(path, name, 0, buf, buflen, ret, ret_uid_min);
}

int prov_snapshot_peek_passwd_by_uid(const char *path, uint32_t uid, char *buf, size_t buflen,
                                     ProvSnapPasswd *ret, uint32_t *ret_uid_min) {
        return peek_passwd(path, NULL, uid, buf, buflen, ret, ret_uid_min);
}

/* The next string of a record's text after the one at p, which must start before its end. */
static int text_next(const char *text, size_t size, const char *p, const char **ret) {
        const char *n = p + strlen(p) + 1;       /* bounded: the text ends with a NUL */

        if (n >= text + size)
                return -EBADMSG;
        *ret = n;
        return 0;
}

/* The full view of the user whose passwd record is p. */
static int user_view(const ProvSnapshot *s, const void *record, void *ret) {
        const ProvSnapPasswd *p = record;
        const SnapUser *u;
        ProvSnapUserView v = {};
        int r;

        if (p->index >= s->n_users)
                return -EBADMSG;
        u = &s->users[p->index];
        if ((uint64_t) u->gids_index + u->n_gids > s->n_user_gids || u->state >= _PROV_STATE_MAX)
                return -EBADMSG;
        v.name = p->text;
        v.gecos = p->text + p->name_len + 3;
        r = text_next(p->text, p->size, v.gecos, &v.home);
        if (r < 0)
                return r;
        r = text_next(p->text, p->size, v.home, &v.shell);
        if (r < 0)
                return r;
        v.uid = p->uid;
        v.gid = p->gid;
        v.state = (ProvState) u->state;
        v.lastchg_days = u->lastchg_days;
        v.n_gids = u->n_gids;
        v.index = p->index;
        v._gids_index = u->gids_index;
        *(ProvSnapUserView *) ret = v;
        return 0;
}

static int group_view(const ProvSnapshot *s, const void *record, void *ret) {
        const ProvSnapGroupRecord *g = record;

        *(ProvSnapGroupView *) ret = (ProvSnapGroupView) {
                .name = g->text,
                .gid = g->gid,
                .flags = g->flags,
                .n_members = g->n_members,
                .member_bytes = (uint32_t) g->member_bytes,
                .index = g->index,
                ._members_index = g->_ref,
        };
        return 0;
}

/* ---- lookups: one body for both kinds of record ---- */

/* A record as the lookups check it: its name, its id (uid or gid) and its index. */
typedef struct SnapKey {
        const char *name;
        size_t name_len;
        uint32_t id, index;
} SnapKey;

typedef union SnapRecord {
        ProvSnapPasswd passwd;
        ProvSnapGroupRecord group;
} SnapRecord;

/* What the lookups need of a kind of record: its indexes by name and by id, the ref of the record
 * at an enumeration index (-ENOENT past the end), its reader and its view. */
typedef struct SnapKind {
        size_t size;
        unsigned idx_name, idx_id;
        int (*ref_at)(const ProvSnapshot *s, size_t index, uint32_t *ret);
        int (*read)(const ProvSnapshot *s, uint32_t ref, SnapRecord *ret, SnapKey *key);
        int (*view)(const ProvSnapshot *s, const void *record, void *ret);
} SnapKind;

static int passwd_ref_at(const ProvSnapshot *s, size_t index, uint32_t *ret) {
        if (index >= s->n_users)
                return -ENOENT;
        *ret = s->users[index].passwd;
        return 0;
}

static int passwd_read(const ProvSnapshot *s, uint32_t ref, SnapRecord *ret, SnapKey *key) {
        ProvSnapPasswd *p = &ret->passwd;
        int r;

        r = passwd_at_ref(s, ref, p);
        if (r < 0)
                return r;
        *key = (SnapKey) { p->text, p->name_len, p->uid, p->index };
        return 0;
}

static int group_ref_at(const ProvSnapshot *s, size_t index, uint32_t *ret) {
        if (index >= s->n_groups)
                return -ENOENT;
        *ret = s->groups[index].data;
        return 0;
}

static int group_read(const ProvSnapshot *s, uint32_t ref, SnapRecord *ret, SnapKey *key) {
        ProvSnapGroupRecord *g = &ret->group;
        int r;

        r = group_at_ref(s, ref, g);
        if (r < 0)
                return r;
        *key = (SnapKey) { g->text, g->name_len, g->gid, g->index };
        return 0;
}

static const SnapKind passwd_kind = {
        sizeof(ProvSnapPasswd), PROV_SNAP_SEC_IDX_USER_NAME, PROV_SNAP_SEC_IDX_USER_UID,
        passwd_ref_at, passwd_read, user_view,
};

static const SnapKind group_kind = {
        sizeof(ProvSnapGroupRecord), PROV_SNAP_SEC_IDX_GROUP_NAME, PROV_SNAP_SEC_IDX_GROUP_GID,
        group_ref_at, group_read, group_view,
};

typedef enum SnapBy {
        BY_NAME,
        BY_ID,
        BY_INDEX,
} SnapBy;

/* The record of kind k that is at an enumeration index (which the record must say), or that its
 * index by name or by id holds under the key (by id the first slot with the id, whose record must
 * have it): the index and the record must agree, or the file is corrupt. ret is written only when
 * the record is found. */
static int record_find(const ProvSnapshot *s, const SnapKind *k, SnapBy by, const char *name, uint64_t key,
                       void *ret) {
        const SnapSlot *slot;
        SnapRecord rec;
        SnapKey found;
        uint32_t ref, h;
        size_t len = 0;
        int r;

        if (!s || !ret || (by == BY_NAME && !name))
                return -EINVAL;
        if (by == BY_NAME && k->idx_name == PROV_SNAP_SEC_IDX_USER_NAME)
                return passwd_by_name(s, name, ret);
        if (by == BY_INDEX) {
                r = k->ref_at(s, key, &ref);
                if (r < 0)
                        return r;
                r = k->read(s, ref, &rec, &found);
                if (r < 0)
                        return r;
                if (found.index != key)
                        return -EBADMSG;
                memcpy(ret, &rec, k->size);
                return 0;
        }
        if (by == BY_NAME) {
                len = strlen(name);
                h = snap_hash_name(s->seed, name, len);
        } else
                h = snap_hash_id(s->seed, (uint32_t) key);
        INDEX_FOREACH(s, by == BY_NAME ? k->idx_name : k->idx_id, by == BY_NAME ? h : key, h, slot) {
                r = k->read(s, slot->ref1 - 1, &rec, &found);
                if (r < 0)
                        return r;
                if (by == BY_ID && found.id != key)
                        return -EBADMSG;
                if (by == BY_ID || (found.name_len == len && memcmp(found.name, name, len) == 0)) {
                        memcpy(ret, &rec, k->size);
                        return 0;
                }
        }
        return -ENOENT;
}

/* The view of the record that record_find() finds. */
static int view_find(const ProvSnapshot *s, const SnapKind *k, SnapBy by, const char *name, uint64_t key,
                     void *ret) {
        SnapRecord rec;
        int r;

        if (!ret)
                return -EINVAL;
        r = record_find(s, k, by, name, key, &rec);
        return r < 0 ? r : k->view(s, &rec, ret);
}

int prov_snapshot_passwd_by_name(const ProvSnapshot *s, const char *name, ProvSnapPasswd *ret) {
        /* getpwnam's path: straight to the name index, not through record_find()'s dispatch. */
        if (!s || !name || !ret)
                return -EINVAL;
        return passwd_by_name(s, name, ret);
}

int prov_snapshot_passwd_by_uid(const ProvSnapshot *s, uint32_t uid, ProvSnapPasswd *ret) {
        return record_find(s, &passwd_kind, BY_ID, NULL, uid, ret);
}

int prov_snapshot_passwd_at(const ProvSnapshot *s, size_t index, ProvSnapPasswd *ret) {
        return record_find(s, &passwd_kind, BY_INDEX, NULL, index, ret);
}

int prov_snapshot_group_record_by_name(const ProvSnapshot *s, const char *name, ProvSnapGroupRecord *ret) {
        return record_find(s, &group_kind, BY_NAME, name, 0, ret);
}

int prov_snapshot_group_record_by_gid(const ProvSnapshot *s, uint32_t gid, ProvSnapGroupRecord *ret) {
        return record_find(s, &group_kind, BY_ID, NULL, gid, ret);
}

int prov_snapshot_group_record_at(const ProvSnapshot *s, size_t index, ProvSnapGroupRecord *ret) {
        return record_find(s, &group_kind, BY_INDEX, NULL, index, ret);
}

int prov_snapshot_user_by_name(const ProvSnapshot *s, const char *name, ProvSnapUserView *ret) {
        return view_find(s, &passwd_kind, BY_NAME, name, 0, ret);
}

int prov_snapshot_user_by_uid(const ProvSnapshot *s, uint32_t uid, ProvSnapUserView *ret) {
        return view_find(s, &passwd_kind, BY_ID, NULL, uid, ret);
}

int prov_snapshot_user_at(const ProvSnapshot *s, size_t index, ProvSnapUserView *ret) {
        return view_find(s, &passwd_kind, BY_INDEX, NULL, index, ret);
}

int prov_snapshot_user_gid(const ProvSnapshot *s, const ProvSnapUserView *u, size_t i, uint32_t *ret) {
        if (!s || !u || !ret)
                return -EINVAL;
        if (i >= u->n_gids)
                return -ENOENT;
        if ((uint64_t) u->_gids_index + i >= s->n_user_gids)
                return -EBADMSG;
        *ret = s->user_gids[u->_gids_index + i];
        return 0;
}

int prov_snapshot_group_by_name(const ProvSnapshot *s, const char *name, ProvSnapGroupView *ret) {
        return view_find(s, &group_kind, BY_NAME, name, 0, ret);
}

int prov_snapshot_group_by_gid(const ProvSnapshot *s, uint32_t gid, ProvSnapGroupView *ret) {
        return view_find(s, &group_kind, BY_ID, NULL, gid, ret);
}

int prov_snapshot_group_at(const ProvSnapshot *s, size_t index, ProvSnapGroupView *ret) {
        return view_find(s, &group_kind, BY_INDEX, NULL, index, ret);
}

int prov_snapshot_group_member_len(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                                   const char **ret, size_t *ret_len) {
        ProvSnapGroupRecord rec;
        const char *m;
        uint32_t off;
        int r;

        if (!s || !g || !ret)
                return -EINVAL;
        if (i >= g->n_members)
                return -ENOENT;
        r = group_at_ref(s, g->_members_index, &rec);
        if (r < 0)
                return r;
        if (i >= rec.n_members)
                return -EBADMSG;
        off = rec.member_off[i];
        if (off >= rec.member_bytes)
                return -EBADMSG;
        m = rec.text + rec.name_len + 3 + off;
        *ret = m;
        if (ret_len)
                *ret_len = strlen(m);   /* bounded: the text ends with a NUL */
        return 0;
}

int prov_snapshot_group_member(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                               const char **ret) {
        return prov_snapshot_group_member_len(s, g, i, ret, NULL);
}
