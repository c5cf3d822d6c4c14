/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot writer: validates the records once more (defence in depth; syncd validated them),
 * lays out the file, and replaces the published file atomically. The file is streamed section by
 * section from the arrays the layout needs anyway (indexes, gid lists, members, record offsets)
 * and from records generated on the fly, so that the writer never holds a second copy of it. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"
#include "snapshot-format.h"

/* Upper bound on records, far above any directory we serve; keeps every count in a u32 with
 * room for the "+1" of index slots. */
#define SNAP_MAX_RECORDS (UINT32_MAX / 8)

/* Bytes of generated records and string-table entries gathered before each write(). */
#define SNAP_OUT_BUFFER (256u * 1024u)

/* Records that fit in a cache line are placed so that they do not cross one. */
#define SNAP_CACHE_LINE 64u

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Strings that end up in colon-separated passwd/group lines. */
static bool field_ok(const char *s, bool allow_empty) {
        if (!s)
                return false;
        if (!allow_empty && s[0] == '\0')
                return false;
        return !strpbrk(s, ":\n");
}

static size_t index_slots(size_t n) {
        size_t k = 2;

        while (k < 2 * n)
                k <<= 1;
        return k;
}

/* Buckets of the user name index for n users: at most 80% full, where a probe for a name that is
 * not there reads about ten tags, a line of the tag table. */
static size_t bucket_count(size_t n) {
        size_t k = 2;

        while (k < n + n / 4 + 1)
                k <<= 1;
        return k;
}

typedef const char *(*name_at_t)(const void *records, uint32_t i);

static const char *user_name_at(const void *records, uint32_t i) {
        return ((const ProvSnapUser *) records)[i].name;
}

static const char *group_name_at(const void *records, uint32_t i) {
        return ((const ProvSnapGroup *) records)[i].name;
}

/* Inserts record i under its name; -EINVAL if the name is already taken. */
static int index_add_name(SnapSlot *slots, size_t n_slots, uint32_t seed, uint32_t i,
                          name_at_t name_at, const void *records) {
        const char *name = name_at(records, i);
        uint32_t h = snap_hash_name(seed, name, strlen(name));
        size_t pos;

        for (pos = h & (n_slots - 1); slots[pos].ref1 != 0; pos = (pos + 1) & (n_slots - 1))
                if (slots[pos].key == h && streq(name_at(records, slots[pos].ref1 - 1), name))
                        return -EINVAL;
        slots[pos] = (SnapSlot) { .key = h, .ref1 = i + 1 };
        return 0;
}

/* Inserts record i under its id; -EINVAL if the id is already taken. */
static int index_add_id(SnapSlot *slots, size_t n_slots, uint32_t seed, uint32_t id, uint32_t i) {
        size_t pos;

        for (pos = snap_hash_id(seed, id) & (n_slots - 1); slots[pos].ref1 != 0;
             pos = (pos + 1) & (n_slots - 1))
                if (slots[pos].key == id)
                        return -EINVAL;
        slots[pos] = (SnapSlot) { .key = id, .ref1 = i + 1 };
        return 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static uint32_t random_seed(void) {
        uint32_t seed;

        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t) sizeof(seed))
                return seed;
        /* Early boot without entropy: the seed only spreads the hash, it is not a secret. */
        return (uint32_t) (now_usec(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 16));
}

/* Bytes of a user's passwd text: "name\0x\0gecos\0home\0shell\0". */
static size_t passwd_text_size(const ProvSnapUser *u) {
        size_t n = 2;

        for (const char *const *f = (const char *const[]) { u->name, u->gecos, u->home, u->shell, NULL }; *f; f++)
                n += strnlen(*f, UINT16_MAX) + 1;
        return n;
}

static int validate(const ProvSnapMeta *meta, const ProvSnapUser *users, size_t n_users,
                    const ProvSnapGroup *groups, size_t n_groups) {
        if (!meta || (n_users > 0 && !users) || (n_groups > 0 && !groups))
                return -EINVAL;
        if (n_users > SNAP_MAX_RECORDS || n_groups > SNAP_MAX_RECORDS)
                return -E2BIG;
        if (meta->uid_min == 0 || (meta->uid_max != 0 && meta->uid_max < meta->uid_min))
                return -EINVAL;

        for (size_t i = 0; i < n_users; i++) {
                const ProvSnapUser *u = &users[i];

                if (!field_ok(u->name, false) || !field_ok(u->gecos, true) || !field_ok(u->home, false) ||
                    !field_ok(u->shell, false) || strchr(u->name, ','))
                        return -EINVAL;
                if (u->uid == 0 || u->gid == 0 || u->uid < meta->uid_min ||
                    (meta->uid_max != 0 && u->uid > meta->uid_max))
                        return -EINVAL;
                if (u->state < 0 || u->state >= _PROV_STATE_MAX)
                        return -EINVAL;
                /* SnapPasswd's u16 sizes. */
                if (passwd_text_size(u) > UINT16_MAX)
                        return -E2BIG;
        }
        for (size_t i = 0; i < n_groups; i++) {
                const ProvSnapGroup *g = &groups[i];
                bool mapped = g->flags & PROV_SNAP_GROUP_MAPPED;

                if (!field_ok(g->name, false) || strchr(g->name, ','))
                        return -EINVAL;
                if ((g->flags & ~PROV_SNAP_GROUP_MAPPED) != 0)
                        return -EINVAL;
                if (g->gid == 0 ||
                    (!mapped && (g->gid < meta->uid_min || (meta->uid_max != 0 && g->gid > meta->uid_max))))
                        return -EINVAL;
                if (g->n_members > 0 && !g->members)
                        return -EINVAL;
                for (size_t j = 0; j < g->n_members; j++)
                        if (g->members[j] >= n_users)
                                return -EINVAL;
        }
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Sequential writer of the temp file: gathers small pieces in a buffer, writes large arrays
 * directly, and keeps the file offset so that sections can be padded and checked. */
typedef struct SnapOut {
        int fd;
        uint8_t *buf;
        size_t size;            /* of buf */
        size_t used;
        uint64_t offset;        /* bytes emitted so far, written or buffered */
} SnapOut;

static int out_flush(SnapOut *o) {
        int r = write_all(o->fd, o->buf, o->used);
        if (r < 0)
                return r;
        o->used = 0;
        return 0;
}

static int out_put(SnapOut *o, const void *p, size_t n) {
        int r;

        if (n == 0)
                return 0;
        if (n > o->size - o->used) {
                r = out_flush(o);
                if (r < 0)
                        return r;
                if (n >= o->size) {
                        r = write_all(o->fd, p, n);
                        if (r < 0)
                                return r;
                        o->offset += n;
                        return 0;
                }
        }
        memcpy(o->buf + o->used, p, n);
        o->used += n;
        o->offset += n;
        return 0;
}

/* Appends a string with its NUL. */
static int out_str(SnapOut *o, const char *s) {
        return out_put(o, s, strlen(s) + 1);
}

/* Pads with zeros up to the given file offset. */
static int out_pad_to(SnapOut *o, uint64_t offset) {
        static const uint8_t zeros[SNAP_CACHE_LINE] = {};
        int r;

        assert(offset >= o->offset);
        while (o->offset < offset) {
                r = out_put(o, zeros, (size_t) MIN(offset - o->offset, (uint64_t) sizeof(zeros)));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Ends a section: checks that it had the size of the layout, then pads with zeros to the 8-byte
 * boundary where the next one starts. */
static int out_end_section(SnapOut *o, const SnapSection *sec) {
        static const uint8_t zeros[8] = {};

        assert(o->offset == sec->offset + sec->size);
        return out_put(o, zeros, (size_t) (-o->offset & 7));
}

/* Opens the file about to be replaced, if it is a snapshot, so that it can be marked stale after
 * the rename. Failure only means readers notice the replacement by stat, a second later. With
 * current_only, only a snapshot of this format (prov_snapshot_touch(): a file of an older format,
 * which the readers refuse, must be written again, not touched). */
static int open_old_snapshot(const char *path, bool current_only) {
        _cleanup_close_ int fd = -1;
        SnapHeader h;

        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -1;
        if (pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h))
                return -1;
        /* Versions 2 and 3 kept the stale word and last_sync_usec at the same offsets: processes
         * that still map a file of a previous format learn that it was replaced, too. */
        if (memcmp(h.magic, PROV_SNAP_MAGIC, sizeof(h.magic)) != 0 || h.header_size != sizeof(SnapHeader) ||
            (h.version != PROV_SNAP_VERSION && (current_only || (h.version != 2 && h.version != 3))))
                return -1;
        return TAKE_FD(fd);
}

int prov_snapshot_touch(const char *path, uint64_t last_sync_usec) {
        _cleanup_close_ int fd = -1;

        if (!path)
                return -EINVAL;
        fd = open_old_snapshot(path, true);
        if (fd < 0)
                return -ENOENT;
        /* One aligned 8-byte store: a reader sees the old or the new time, never a mix. */
        if (pwrite(fd, &last_sync_usec, sizeof(last_sync_usec), offsetof(SnapHeader, last_sync_usec)) !=
            (ssize_t) sizeof(last_sync_usec))
                return negative_errno();
        return 0;
}

/* Removes temp files "<path>.XXXXXX" that a writer killed mid-publication left behind (each can
 * be as large as the snapshot, and nothing else would ever remove them). A writer holds an
 * exclusive flock on its temp file until it is renamed or unlinked, so a file whose lock can be
 * taken has no live writer. Best effort: errors leave the file for the next attempt. */
static void remove_stale_temps(const char *path) {
        _cleanup_free_ char *dircopy = strdup(path), *basecopy = strdup(path);
        const char *base;
        size_t n;
        DIR *d;
        struct dirent *de;

        if (!dircopy || !basecopy)
                return;
        base = basename(basecopy);
        n = strlen(base);
        d = opendir(dirname(dircopy));
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -1;

                if (strlen(de->d_name) != n + 7 || strncmp(de->d_name, base, n) != 0 || de->d_name[n] != '.')
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue; /* being written right now */
                (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

typedef int (*emit_t)(int fd, const void *userdata);

/* Writes the file with emit() to a temp file next to path and renames it over path. On failure
 * the temp file is removed and path is left alone. */
static int publish(const char *path, emit_t emit, const void *userdata) {
        _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
        _cleanup_close_ int fd = -1, old_fd = -1, dir_fd = -1;
        const uint32_t one = 1;
        bool marked;
        int r;

        if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        dircopy = strdup(path);
        if (!dircopy)
                return -ENOMEM;

        remove_stale_temps(path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Marks the temp file as in use until it is renamed or unlinked (remove_stale_temps()). */
        if (flock(fd, LOCK_EX) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (fchmod(fd, 0644) < 0) {
                r = negative_errno();
                goto fail;
        }
        r = emit(fd, userdata);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }
        dir_fd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                r = negative_errno();
                goto fail;
        }

        /* Readers that mapped the old file see this store in their MAP_SHARED page, and re-check
         * the path. It is made before the rename, so that a writer that dies in between cannot
         * leave them on a replaced file; until the rename they find the same inode there and keep
         * serving the old one. */
        old_fd = open_old_snapshot(path, false);
        /* If the mark fails, readers notice the new file on their periodic check of the path. */
        marked = old_fd >= 0 && pwrite(old_fd, &one, sizeof(one), offsetof(SnapHeader, stale)) == sizeof(one);
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                if (marked && pwrite(old_fd, &(const uint32_t) { 0 }, sizeof(uint32_t),
                                          offsetof(SnapHeader, stale)) != sizeof(uint32_t)) {
                        /* The old file stays published, marked: readers find it by stat, each
                         * lookup, until the next publication. */
                }
                goto fail;
        }
        if (fsync(dir_fd) < 0)
                return negative_errno(); /* published, but maybe not durable: tell the caller */
        return 0;

fail:
        (void) unlink(tmp);
        return r;
}

/* Sections in the order they are written. The indexes come first, right after the header: a
 * fresh process's first lookup reads the header, one slot and one record, and each 2 MiB stretch
 * of the mapping it touches first costs a page table and a fault that dominate that lookup (up to
 * 200 us each on a VM), so the header and the indexes share the first stretch (a 100k-user name
 * index is 256 KiB of tags; its buckets lead the passwd section). emit_image() relies on the
 * four indexes leading. */
static const unsigned file_order[_PROV_SNAP_SEC_MAX] = {
        PROV_SNAP_SEC_IDX_USER_NAME, PROV_SNAP_SEC_IDX_GROUP_NAME, PROV_SNAP_SEC_IDX_USER_UID,
        PROV_SNAP_SEC_IDX_GROUP_GID, PROV_SNAP_SEC_USERS,          PROV_SNAP_SEC_GROUPS,
        PROV_SNAP_SEC_USER_GIDS,     PROV_SNAP_SEC_PASSWD,         PROV_SNAP_SEC_GROUP_DATA,
};

/* What prov_snapshot_write() prepared; emit_image() streams it into the file. */
typedef struct SnapImage {
        const SnapHeader *header;
        const ProvSnapUser *users;
        const ProvSnapGroup *groups;
        const uint32_t *usr_count;      /* initgroups slice length per user */
        const uint32_t *usr_gids;       /* PROV_SNAP_SEC_USER_GIDS */
        const uint32_t *grp_count;      /* kept members per group */
        const uint32_t *grp_bytes;      /* bytes of the member names, with their NULs */
        const uint32_t *members;        /* user index of each kept member, group after group */
        const uint32_t *pw_ref;         /* each user's SnapPasswd */
        const uint32_t *gr_ref;         /* each group's SnapGroupData */
        const void *indexes[4];         /* PROV_SNAP_SEC_IDX_*, in section order */
        const uint32_t *user_bucket;    /* each user's bucket in the name index */
        size_t n_buckets;
} SnapImage;

/* A user's passwd record: its header, then its text. */
static int emit_passwd_record(SnapOut *o, const ProvSnapUser *pu, uint32_t u) {
        SnapPasswd rec = {
                .uid = pu->uid,
                .gid = pu->gid,
                .index = u,
                .size = (uint16_t) passwd_text_size(pu),
                .name_len = (uint16_t) strlen(pu->name),
        };
        int r;

        r = out_put(o, &rec, sizeof(rec));
        if (r >= 0)
                r = out_str(o, pu->name);
        if (r >= 0)
                r = out_put(o, "x", 2);
        if (r >= 0)
                r = out_str(o, pu->gecos);
        if (r >= 0)
                r = out_str(o, pu->home);
        if (r >= 0)
                r = out_str(o, pu->shell);
        return r;
}

/* The passwd section: the name index's buckets (a copy of the record that fits in one, else a
 * SnapPasswdFar), then the records in enumeration order. The buckets are filled in memory in the
 * users' order and written at once: filled in bucket order, every user's strings were read in hash
 * order, a cache miss each, which made a publication of 100k users half as slow again. */
static int emit_passwd(SnapOut *o, const SnapImage *im, uint64_t base) {
        const SnapHeader *h = im->header;
        _cleanup_free_ uint8_t *buckets = NULL;
        int r;

        buckets = calloc(im->n_buckets, PROV_SNAP_BUCKET);
        if (!buckets)
                return -ENOMEM;
        for (uint32_t u = 0; u < h->n_users; u++) {
                const ProvSnapUser *pu = &im->users[u];
                uint8_t *bucket = buckets + (size_t) im->user_bucket[u] * PROV_SNAP_BUCKET;
                SnapOut b = { .fd = -1, .buf = bucket, .size = PROV_SNAP_BUCKET };
                size_t size = passwd_text_size(pu);

                if (sizeof(SnapPasswd) + size <= PROV_SNAP_BUCKET) {
                        /* Fits: never flushed, so the fd is never used. */
                        r = emit_passwd_record(&b, pu, u);
                        assert(r >= 0 && b.used == sizeof(SnapPasswd) + size);
                } else {
                        SnapPasswdFar far = {
                                .head = {
                                        .uid = pu->uid,
                                        .gid = pu->gid,
                                        .index = u,
                                        .size = (uint16_t) size,
                                        .name_len = (uint16_t) strlen(pu->name),
                                },
                                .ref = im->pw_ref[u],
                                .hash = snap_hash_name(h->hash_seed, pu->name, strlen(pu->name)),
                        };

                        memcpy(bucket, &far, sizeof(far));
                }
        }
        r = out_pad_to(o, base);
        if (r >= 0)
                r = out_put(o, buckets, im->n_buckets * PROV_SNAP_BUCKET);
        if (r < 0)
                return r;
        for (uint32_t u = 0; u < h->n_users; u++) {
                r = out_pad_to(o, base + (uint64_t) im->pw_ref[u] * PROV_SNAP_REF_UNIT);
                if (r >= 0)
                        r = emit_passwd_record(o, &im->users[u], u);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int emit_group_data(SnapOut *o, const SnapImage *im, uint64_t base) {
        const SnapHeader *h = im->header;
        size_t k = 0;
        int r;

        for (uint32_t g = 0; g < h->n_groups; g++) {
                const ProvSnapGroup *pg = &im->groups[g];
                size_t name_len = strlen(pg->name);
                SnapGroupData rec = {
                        .gid = pg->gid,
                        .flags = pg->flags,
                        .index = g,
                        .n_members = im->grp_count[g],
                        .name_len = (uint32_t) name_len,
                        .size = (uint32_t) (name_len + 3 + im->grp_bytes[g]),
                };
                uint32_t off = 0;

                r = out_pad_to(o, base + (uint64_t) im->gr_ref[g] * PROV_SNAP_REF_UNIT);
                if (r >= 0)
                        r = out_put(o, &rec, sizeof(rec));
                for (size_t i = 0; r >= 0 && i < rec.n_members; i++) {
                        r = out_put(o, &off, sizeof(off));
                        off += (uint32_t) strlen(im->users[im->members[k + i]].name) + 1;
                }
                if (r >= 0)
                        r = out_str(o, pg->name);
                if (r >= 0)
                        r = out_put(o, "x", 2);
                for (size_t i = 0; r >= 0 && i < rec.n_members; i++)
                        r = out_str(o, im->users[im->members[k + i]].name);
                if (r < 0)
                        return r;
                k += rec.n_members;
        }
        return 0;
}

static int emit_image(int fd, const void *userdata) {
        const SnapImage *im = userdata;
        const SnapHeader *h = im->header;
        const SnapSection *sec = h->sections;
        _cleanup_free_ uint8_t *buf = malloc(SNAP_OUT_BUFFER);
        SnapOut o = { .fd = fd, .buf = buf, .size = SNAP_OUT_BUFFER };
        uint32_t next = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        r = out_put(&o, h, sizeof(*h));
        if (r < 0)
                return r;

        for (size_t i = 0; i < 4; i++) {
                const SnapSection *s = &sec[file_order[i]];

                assert(o.offset == s->offset);
                r = out_put(&o, im->indexes[file_order[i] - PROV_SNAP_SEC_IDX_USER_NAME], (size_t) s->size);
                if (r >= 0)
                        r = out_end_section(&o, s);
                if (r < 0)
                        return r;
        }

        assert(o.offset == sec[PROV_SNAP_SEC_USERS].offset);
        for (size_t u = 0; u < h->n_users; u++) {
                SnapUser rec = {
                        .passwd = im->pw_ref[u],
                        .state = (uint32_t) im->users[u].state,
                        .lastchg_days = im->users[u].lastchg_days,
                        .gids_index = next,
                        .n_gids = im->usr_count[u],
                };

                r = out_put(&o, &rec, sizeof(rec));
                if (r < 0)
                        return r;
                next += rec.n_gids;
        }
        r = out_end_section(&o, &sec[PROV_SNAP_SEC_USERS]);
        if (r < 0)
                return r;

        assert(o.offset == sec[PROV_SNAP_SEC_GROUPS].offset);
        for (size_t g = 0; g < h->n_groups; g++) {
                SnapGroup rec = { .data = im->gr_ref[g] };

                r = out_put(&o, &rec, sizeof(rec));
                if (r < 0)
                        return r;
        }
        r = out_end_section(&o, &sec[PROV_SNAP_SEC_GROUPS]);
        if (r < 0)
                return r;

        assert(o.offset == sec[PROV_SNAP_SEC_USER_GIDS].offset);
        r = out_put(&o, im->usr_gids, (size_t) sec[PROV_SNAP_SEC_USER_GIDS].size);
        if (r >= 0)
                r = out_end_section(&o, &sec[PROV_SNAP_SEC_USER_GIDS]);
        if (r < 0)
                return r;

        r = out_pad_to(&o, sec[PROV_SNAP_SEC_PASSWD].offset);
        if (r < 0)
                return r;
        r = emit_passwd(&o, im, sec[PROV_SNAP_SEC_PASSWD].offset);
        if (r >= 0)
                r = out_pad_to(&o, sec[PROV_SNAP_SEC_PASSWD].offset + sec[PROV_SNAP_SEC_PASSWD].size);
        if (r >= 0)
                r = out_end_section(&o, &sec[PROV_SNAP_SEC_PASSWD]);
        if (r < 0)
                return r;

        assert(o.offset == sec[PROV_SNAP_SEC_GROUP_DATA].offset);
        r = emit_group_data(&o, im, sec[PROV_SNAP_SEC_GROUP_DATA].offset);
        if (r >= 0)
                r = out_pad_to(&o, sec[PROV_SNAP_SEC_GROUP_DATA].offset + sec[PROV_SNAP_SEC_GROUP_DATA].size);
        if (r >= 0)
                r = out_end_section(&o, &sec[PROV_SNAP_SEC_GROUP_DATA]);
        if (r < 0)
                return r;
        assert(o.offset == h->file_size);
        return out_flush(&o);
}

/* Places each user in the first free bucket of the user name index from its name's hash: the
 * name's tag in tags, the bucket in user_bucket. The names are known to be distinct. */
static void place_buckets(const ProvSnapUser *users, size_t n_users, uint32_t seed, size_t n_buckets,
                          uint16_t *tags, uint32_t *user_bucket) {
        for (uint32_t u = 0; u < n_users; u++) {
                uint32_t h = snap_hash_name(seed, users[u].name, strlen(users[u].name));
                size_t pos = h & (n_buckets - 1);

                while (tags[pos] != 0)
                        pos = (pos + 1) & (n_buckets - 1);
                tags[pos] = snap_name_tag(h);
                user_bucket[u] = (uint32_t) pos;
        }
}

/* Lays out the passwd records after n_buckets buckets: each 8-byte aligned, and one that fits in
 * a cache line does not cross one (a lookup by uid then touches one line of the section). Returns
 * the section's size. */
static int layout_passwd(const ProvSnapUser *users, size_t n_users, size_t n_buckets, uint32_t *pw_ref,
                         uint64_t *ret_size) {
        uint64_t off = (uint64_t) n_buckets * PROV_SNAP_BUCKET;

        for (size_t u = 0; u < n_users; u++) {
                uint64_t rec = sizeof(SnapPasswd) + passwd_text_size(&users[u]);

                off = (off + 7) & ~(uint64_t) 7;
                if (rec <= SNAP_CACHE_LINE && off / SNAP_CACHE_LINE != (off + rec - 1) / SNAP_CACHE_LINE)
                        off = (off + SNAP_CACHE_LINE - 1) & ~(uint64_t) (SNAP_CACHE_LINE - 1);
                if (off / PROV_SNAP_REF_UNIT >= UINT32_MAX)
                        return -E2BIG;
                pw_ref[u] = (uint32_t) (off / PROV_SNAP_REF_UNIT);
                off += rec;
        }
        *ret_size = (off + 7) & ~(uint64_t) 7;
        return 0;
}

/* Lays out the group records, 8-byte aligned. */
static int layout_groups(const ProvSnapGroup *groups, size_t n_groups, const uint32_t *grp_count,
                         const uint32_t *grp_bytes, uint32_t *gr_ref, uint64_t *ret_size) {
        uint64_t off = 0;

        for (size_t g = 0; g < n_groups; g++) {
                uint64_t text = strlen(groups[g].name) + 3 + (uint64_t) grp_bytes[g];

                if (text > UINT32_MAX)
                        return -E2BIG;
                off = (off + 7) & ~(uint64_t) 7;
                if (off / PROV_SNAP_REF_UNIT >= UINT32_MAX)
                        return -E2BIG;
                gr_ref[g] = (uint32_t) (off / PROV_SNAP_REF_UNIT);
                off += sizeof(SnapGroupData) + (uint64_t) grp_count[g] * sizeof(uint32_t) + text;
        }
        *ret_size = (off + 7) & ~(uint64_t) 7;
        return 0;
}

/* Turns the record indexes the slots were built with into the records' refs. */
static void index_to_refs(SnapSlot *slots, size_t n_slots, const uint32_t *ref) {
        for (size_t i = 0; i < n_slots; i++)
                if (slots[i].ref1 != 0)
                        slots[i].ref1 = ref[slots[i].ref1 - 1] + 1;
}

int prov_snapshot_write(const char *path, const ProvSnapMeta *meta,
                        const ProvSnapUser *users, size_t n_users,
                        const ProvSnapGroup *groups, size_t n_groups) {
        _cleanup_free_ SnapSlot *ix_uname = NULL, *ix_uid = NULL, *ix_gname = NULL, *ix_gid = NULL;
        _cleanup_free_ uint32_t *marker = NULL, *members = NULL, *grp_count = NULL, *grp_bytes = NULL;
        _cleanup_free_ uint32_t *usr_start = NULL, *usr_count = NULL, *usr_gids = NULL;
        _cleanup_free_ uint32_t *pw_ref = NULL, *gr_ref = NULL, *user_bucket = NULL;
        _cleanup_free_ uint16_t *tags = NULL;
        size_t n_uslots = index_slots(n_users), n_gslots = index_slots(n_groups), n_buckets = bucket_count(n_users);
        size_t total_members = 0, n_mem = 0, n_gids_total = 0;
        uint64_t passwd_size, group_data_size;
        uint32_t seed = random_seed();
        uint64_t off;
        int r;

        if (!path)
                return -EINVAL;
        r = validate(meta, users, n_users, groups, n_groups);
        if (r < 0)
                return r;

        ix_uname = calloc(n_uslots, sizeof(SnapSlot));
        ix_uid = calloc(n_uslots, sizeof(SnapSlot));
        ix_gname = calloc(n_gslots, sizeof(SnapSlot));
        ix_gid = calloc(n_gslots, sizeof(SnapSlot));
        if (!ix_uname || !ix_uid || !ix_gname || !ix_gid)
                return -ENOMEM;
        for (uint32_t i = 0; i < n_users; i++) {
                r = index_add_name(ix_uname, n_uslots, seed, i, user_name_at, users);
                if (r < 0)
                        return r;
                r = index_add_id(ix_uid, n_uslots, seed, users[i].uid, i);
                if (r < 0)
                        return r;
        }
        for (uint32_t i = 0; i < n_groups; i++) {
                r = index_add_name(ix_gname, n_gslots, seed, i, group_name_at, groups);
                if (r < 0)
                        return r;
                r = index_add_id(ix_gid, n_gslots, seed, groups[i].gid, i);
                if (r < 0)
                        return r;
        }

        /* Members, dropping refused accounts and repeats (validate() checked the indexes). */
        for (size_t i = 0; i < n_groups; i++) {
                if (groups[i].n_members > SNAP_MAX_RECORDS - total_members)
                        return -E2BIG;
                total_members += groups[i].n_members;
        }
        marker = malloc(sizeof(uint32_t) * (n_users ? n_users : 1));
        members = malloc(sizeof(uint32_t) * (total_members ? total_members : 1));
        grp_count = calloc(n_groups ? n_groups : 1, sizeof(uint32_t));
        grp_bytes = calloc(n_groups ? n_groups : 1, sizeof(uint32_t));
        usr_count = calloc(n_users ? n_users : 1, sizeof(uint32_t));
        if (!marker || !members || !grp_count || !grp_bytes || !usr_count)
                return -ENOMEM;
        memset(marker, 0xff, sizeof(uint32_t) * (n_users ? n_users : 1));
        for (uint32_t g = 0; g < n_groups; g++) {
                size_t start = n_mem;
                uint64_t bytes = 0;

                for (size_t j = 0; j < groups[g].n_members; j++) {
                        uint32_t u = groups[g].members[j];

                        if (prov_state_is_refused(users[u].state) || marker[u] == g)
                                continue;
                        marker[u] = g;
                        members[n_mem++] = u;
                        usr_count[u]++;
                        bytes += strlen(users[u].name) + 1;
                }
                if (bytes > UINT32_MAX - 16 - strlen(groups[g].name))
                        return -E2BIG;
                grp_count[g] = (uint32_t) (n_mem - start);
                grp_bytes[g] = (uint32_t) bytes;
        }
        free(TAKE_PTR(marker));

        /* initgroups lists: one sorted slice of gids per user. */
        usr_start = malloc(sizeof(uint32_t) * (n_users ? n_users : 1));
        if (!usr_start)
                return -ENOMEM;
        for (size_t u = 0; u < n_users; u++) {
                usr_start[u] = (uint32_t) n_gids_total;
                n_gids_total += usr_count[u];
                usr_count[u] = 0;
        }
        usr_gids = malloc(sizeof(uint32_t) * (n_gids_total ? n_gids_total : 1));
        if (!usr_gids)
                return -ENOMEM;
        for (size_t g = 0, k = 0; g < n_groups; g++)
                for (uint32_t end = (uint32_t) k + grp_count[g]; k < end; k++) {
                        uint32_t u = members[k];
                        usr_gids[usr_start[u] + usr_count[u]++] = groups[g].gid;
                }
        for (size_t u = 0; u < n_users; u++)
                qsort(usr_gids + usr_start[u], usr_count[u], sizeof(uint32_t), cmp_u32);
        free(TAKE_PTR(usr_start)); /* emit_image() recomputes the starts from the counts */

        /* Records, and the indexes pointing at them. */
        pw_ref = malloc(sizeof(uint32_t) * (n_users ? n_users : 1));
        gr_ref = malloc(sizeof(uint32_t) * (n_groups ? n_groups : 1));
        if (!pw_ref || !gr_ref)
                return -ENOMEM;
        tags = calloc(n_buckets, sizeof(uint16_t));
        user_bucket = calloc(n_users ?: 1, sizeof(uint32_t));
        if (!tags || !user_bucket)
                return -ENOMEM;
        place_buckets(users, n_users, seed, n_buckets, tags, user_bucket);
        r = layout_passwd(users, n_users, n_buckets, pw_ref, &passwd_size);
        if (r < 0)
                return r;
        r = layout_groups(groups, n_groups, grp_count, grp_bytes, gr_ref, &group_data_size);
        if (r < 0)
                return r;
        index_to_refs(ix_uid, n_uslots, pw_ref);
        index_to_refs(ix_gname, n_gslots, gr_ref);
        index_to_refs(ix_gid, n_gslots, gr_ref);

        /* Layout. */
        SnapHeader h = {
                .version = PROV_SNAP_VERSION,
                .header_size = sizeof(SnapHeader),
                .generation = meta->generation,
                .last_sync_usec = meta->last_sync_usec,
                .uid_min = meta->uid_min,
                .uid_max = meta->uid_max,
                .hash_seed = seed,
                .stale = 0,
                .n_users = (uint32_t) n_users,
                .n_groups = (uint32_t) n_groups,
                .user_record_size = sizeof(SnapUser),
                .group_record_size = sizeof(SnapGroup),
        };
        const uint64_t sizes[_PROV_SNAP_SEC_MAX] = {
                [PROV_SNAP_SEC_USERS] = (uint64_t) n_users * sizeof(SnapUser),
                [PROV_SNAP_SEC_GROUPS] = (uint64_t) n_groups * sizeof(SnapGroup),
                [PROV_SNAP_SEC_USER_GIDS] = (uint64_t) n_gids_total * sizeof(uint32_t),
                [PROV_SNAP_SEC_PASSWD] = passwd_size,
                [PROV_SNAP_SEC_GROUP_DATA] = group_data_size,
                [PROV_SNAP_SEC_IDX_USER_NAME] = (uint64_t) n_buckets * sizeof(uint16_t),
                [PROV_SNAP_SEC_IDX_USER_UID] = (uint64_t) n_uslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_NAME] = (uint64_t) n_gslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_GID] = (uint64_t) n_gslots * sizeof(SnapSlot),
        };
        /* The passwd section starts on a cache line, so that the records' placement holds in
         * the mapping (which is page aligned). */
        off = sizeof(SnapHeader);
        for (unsigned k = 0; k < _PROV_SNAP_SEC_MAX; k++) {
                unsigned i = file_order[k];

                if (i == PROV_SNAP_SEC_PASSWD)
                        off = (off + SNAP_CACHE_LINE - 1) & ~(uint64_t) (SNAP_CACHE_LINE - 1);
                h.sections[i] = (SnapSection) { .offset = off, .size = sizes[i] };
                off += (sizes[i] + 7) & ~(uint64_t) 7;
        }
        if (off > SIZE_MAX)
                return -E2BIG;
        memcpy(h.magic, PROV_SNAP_MAGIC, sizeof(h.magic));
        h.file_size = off;
        h.created_usec = now_usec(CLOCK_REALTIME);

        const SnapImage image = {
                .header = &h,
                .users = users,
                .groups = groups,
                .usr_count = usr_count,
                .usr_gids = usr_gids,
                .grp_count = grp_count,
                .grp_bytes = grp_bytes,
                .members = members,
                .pw_ref = pw_ref,
                .gr_ref = gr_ref,
                .indexes = { tags, ix_uid, ix_gname, ix_gid },
                .user_bucket = user_bucket,
                .n_buckets = n_buckets,
        };
        return publish(path, emit_image, &image);
}
