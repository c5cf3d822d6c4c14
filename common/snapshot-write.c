/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot writer: validates the records once more (defence in depth; syncd validated them),
 * lays out the file, and replaces the published file atomically. The file is streamed section by
 * section from the arrays the layout needs anyway (indexes, gid lists, members) and from records
 * and strings generated on the fly, so that the writer never holds a second copy of the file. */

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

/* Hands out the offset of the next string-table entry (u32 length, bytes, NUL) and advances the
 * table's size. The table is never built in memory: emit_image() writes the entries straight
 * into the file, in the order in which their offsets were handed out here. */
static int strtab_reserve(size_t *size, const char *s, uint32_t *ret_off) {
        size_t len = strlen(s);

        if (len > UINT32_MAX - 16 || *size > UINT32_MAX - 16 - len)
                return -E2BIG;
        *ret_off = (uint32_t) *size;
        *size += sizeof(uint32_t) + len + 1;
        return 0;
}

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

typedef const char *(*name_at_t)(const void *records, uint32_t i);

static const char *user_name_at(const void *records, uint32_t i) {
        return ((const ProvSnapUser *) records)[i].name;
}

static const char *group_name_at(const void *records, uint32_t i) {
        return ((const ProvSnapGroup *) records)[i].name;
}

/* Finds the record with this name in a name index; returns its index or -ENOENT. */
static int64_t index_find_name(const SnapSlot *slots, size_t n_slots, uint32_t seed, const char *name,
                               name_at_t name_at, const void *records) {
        uint32_t h = snap_hash_name(seed, name, strlen(name));

        for (size_t pos = h & (n_slots - 1);; pos = (pos + 1) & (n_slots - 1)) {
                if (slots[pos].index1 == 0)
                        return -ENOENT;
                if (slots[pos].key == h && streq(name_at(records, slots[pos].index1 - 1), name))
                        return slots[pos].index1 - 1;
        }
}

/* Inserts record i under its name; -EINVAL if the name is already taken. */
static int index_add_name(SnapSlot *slots, size_t n_slots, uint32_t seed, uint32_t i,
                          name_at_t name_at, const void *records) {
        const char *name = name_at(records, i);
        uint32_t h = snap_hash_name(seed, name, strlen(name));
        size_t pos;

        for (pos = h & (n_slots - 1); slots[pos].index1 != 0; pos = (pos + 1) & (n_slots - 1))
                if (slots[pos].key == h && streq(name_at(records, slots[pos].index1 - 1), name))
                        return -EINVAL;
        slots[pos] = (SnapSlot) { .key = h, .index1 = i + 1 };
        return 0;
}

/* Inserts record i under its id; -EINVAL if the id is already taken. */
static int index_add_id(SnapSlot *slots, size_t n_slots, uint32_t seed, uint32_t id, uint32_t i) {
        size_t pos;

        for (pos = snap_hash_id(seed, id) & (n_slots - 1); slots[pos].index1 != 0;
             pos = (pos + 1) & (n_slots - 1))
                if (slots[pos].key == id)
                        return -EINVAL;
        slots[pos] = (SnapSlot) { .key = id, .index1 = i + 1 };
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
                        if (!g->members[j])
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
        if (n > SNAP_OUT_BUFFER - o->used) {
                r = out_flush(o);
                if (r < 0)
                        return r;
                if (n >= SNAP_OUT_BUFFER) {
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

/* Appends a string-table entry: u32 length, bytes, NUL (see strtab_reserve()). */
static int out_string(SnapOut *o, const char *s) {
        size_t len = strlen(s);
        uint32_t len32 = (uint32_t) len;
        int r;

        r = out_put(o, &len32, sizeof(len32));
        if (r < 0)
                return r;
        return out_put(o, s, len + 1);
}

/* Ends a section: checks that it had the size of the layout, then pads with zeros to the 8-byte
 * boundary where the next one starts. */
static int out_end_section(SnapOut *o, const SnapSection *sec) {
        static const uint8_t zeros[8] = {};

        assert(o->offset == sec->offset + sec->size);
        return out_put(o, zeros, (size_t) (-o->offset & 7));
}

/* Opens the file about to be replaced, if it is a snapshot, so that it can be marked stale after
 * the rename. Failure only means readers notice the replacement by stat, a second later. */
static int open_old_snapshot(const char *path) {
        _cleanup_close_ int fd = -1;
        SnapHeader h;

        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -1;
        if (pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h))
                return -1;
        if (memcmp(h.magic, PROV_SNAP_MAGIC, sizeof(h.magic)) != 0 || h.version != PROV_SNAP_VERSION ||
            h.header_size != sizeof(SnapHeader))
                return -1;
        return TAKE_FD(fd);
}

int prov_snapshot_touch(const char *path, uint64_t last_sync_usec) {
        _cleanup_close_ int fd = -1;

        if (!path)
                return -EINVAL;
        fd = open_old_snapshot(path);
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

        old_fd = open_old_snapshot(path);
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (fsync(dir_fd) < 0)
                return negative_errno(); /* published, but maybe not durable: tell the caller */

        /* Readers that mapped the old file see this store in their MAP_SHARED page. */
        if (old_fd >= 0 && pwrite(old_fd, &one, sizeof(one), offsetof(SnapHeader, stale)) != sizeof(one))
                return 0; /* they notice by stat within a second */
        return 0;

fail:
        (void) unlink(tmp);
        return r;
}

/* What prov_snapshot_write() prepared; emit_image() streams it into the file. The string table
 * is, in this order: the users' names, each user's gecos, home and shell, the groups' names. */
typedef struct SnapImage {
        const SnapHeader *header;
        const ProvSnapUser *users;
        const ProvSnapGroup *groups;
        const uint32_t *usr_count;      /* initgroups slice length per user */
        const uint32_t *usr_gids;       /* PROV_SNAP_SEC_USER_GIDS */
        const uint32_t *grp_count;      /* kept members per group */
        const uint32_t *grp_bytes;      /* SnapGroup.member_bytes */
        const uint32_t *members;        /* PROV_SNAP_SEC_MEMBERS */
        const SnapSlot *indexes[4];     /* PROV_SNAP_SEC_IDX_*, in section order */
        size_t user_names_size;         /* string-table bytes of the users' names */
} SnapImage;

static int emit_image(int fd, const void *userdata) {
        const SnapImage *im = userdata;
        const SnapHeader *h = im->header;
        const SnapSection *sec = h->sections;
        _cleanup_free_ uint8_t *buf = malloc(SNAP_OUT_BUFFER);
        SnapOut o = { .fd = fd, .buf = buf };
        size_t fields_off = im->user_names_size, names_off = 0;
        uint32_t next = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        r = out_put(&o, h, sizeof(*h));
        if (r < 0)
                return r;

        /* Records: string offsets are handed out again in the order of the sizing pass. */
        assert(o.offset == sec[PROV_SNAP_SEC_USERS].offset);
        for (size_t u = 0; u < h->n_users; u++) {
                SnapUser rec = {
                        .uid = im->users[u].uid,
                        .gid = im->users[u].gid,
                        .state = (uint32_t) im->users[u].state,
                        .lastchg_days = im->users[u].lastchg_days,
                        .gids_index = next,
                        .n_gids = im->usr_count[u],
                };

                r = strtab_reserve(&names_off, im->users[u].name, &rec.name);
                if (r >= 0)
                        r = strtab_reserve(&fields_off, im->users[u].gecos, &rec.gecos);
                if (r >= 0)
                        r = strtab_reserve(&fields_off, im->users[u].home, &rec.home);
                if (r >= 0)
                        r = strtab_reserve(&fields_off, im->users[u].shell, &rec.shell);
                if (r >= 0)
                        r = out_put(&o, &rec, sizeof(rec));
                if (r < 0)
                        return r;
                next += rec.n_gids;
        }
        r = out_end_section(&o, &sec[PROV_SNAP_SEC_USERS]);
        if (r < 0)
                return r;

        assert(o.offset == sec[PROV_SNAP_SEC_GROUPS].offset);
        names_off = fields_off; /* the groups' names follow the last user's shell */
        next = 0;
        for (size_t g = 0; g < h->n_groups; g++) {
                SnapGroup rec = {
                        .gid = im->groups[g].gid,
                        .flags = im->groups[g].flags,
                        .members_index = next,
                        .n_members = im->grp_count[g],
                        .member_bytes = im->grp_bytes[g],
                };

                r = strtab_reserve(&names_off, im->groups[g].name, &rec.name);
                if (r >= 0)
                        r = out_put(&o, &rec, sizeof(rec));
                if (r < 0)
                        return r;
                next += rec.n_members;
        }
        r = out_end_section(&o, &sec[PROV_SNAP_SEC_GROUPS]);
        if (r < 0)
                return r;

        /* Arrays that exist already: written as they are. */
        const struct {
                unsigned section;
                const void *data;
        } arrays[] = {
                { PROV_SNAP_SEC_USER_GIDS, im->usr_gids },
                { PROV_SNAP_SEC_MEMBERS, im->members },
                { PROV_SNAP_SEC_IDX_USER_NAME, im->indexes[0] },
                { PROV_SNAP_SEC_IDX_USER_UID, im->indexes[1] },
                { PROV_SNAP_SEC_IDX_GROUP_NAME, im->indexes[2] },
                { PROV_SNAP_SEC_IDX_GROUP_GID, im->indexes[3] },
        };
        for (size_t i = 0; i < ELEMENTSOF(arrays); i++) {
                const SnapSection *s = &sec[arrays[i].section];

                assert(o.offset == s->offset);
                r = out_put(&o, arrays[i].data, (size_t) s->size);
                if (r >= 0)
                        r = out_end_section(&o, s);
                if (r < 0)
                        return r;
        }

        assert(o.offset == sec[PROV_SNAP_SEC_STRINGS].offset);
        for (size_t u = 0; u < h->n_users; u++) {
                r = out_string(&o, im->users[u].name);
                if (r < 0)
                        return r;
        }
        for (size_t u = 0; u < h->n_users; u++) {
                r = out_string(&o, im->users[u].gecos);
                if (r >= 0)
                        r = out_string(&o, im->users[u].home);
                if (r >= 0)
                        r = out_string(&o, im->users[u].shell);
                if (r < 0)
                        return r;
        }
        for (size_t g = 0; g < h->n_groups; g++) {
                r = out_string(&o, im->groups[g].name);
                if (r < 0)
                        return r;
        }
        r = out_end_section(&o, &sec[PROV_SNAP_SEC_STRINGS]);
        if (r < 0)
                return r;
        assert(o.offset == h->file_size);
        return out_flush(&o);
}

int prov_snapshot_write(const char *path, const ProvSnapMeta *meta,
                        const ProvSnapUser *users, size_t n_users,
                        const ProvSnapGroup *groups, size_t n_groups) {
        _cleanup_free_ SnapSlot *ix_uname = NULL, *ix_uid = NULL, *ix_gname = NULL, *ix_gid = NULL;
        _cleanup_free_ uint32_t *marker = NULL, *members = NULL, *grp_count = NULL, *grp_bytes = NULL;
        _cleanup_free_ uint32_t *usr_start = NULL, *usr_count = NULL, *usr_gids = NULL, *user_name_off = NULL;
        size_t n_uslots = index_slots(n_users), n_gslots = index_slots(n_groups);
        size_t total_members = 0, n_mem = 0, n_gids_total = 0, strings_size = 0, user_names_size;
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

        /* Resolve members to users, dropping unknown and refused accounts and duplicates.
         * members[] holds user indexes for now; they become name offsets below. */
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
                        int64_t u = index_find_name(ix_uname, n_uslots, seed, groups[g].members[j],
                                                    user_name_at, users);
                        if (u < 0 || prov_state_is_refused(users[u].state) || marker[u] == g)
                                continue;
                        marker[u] = g;
                        members[n_mem++] = (uint32_t) u;
                        usr_count[u]++;
                        bytes += strlen(users[u].name) + 1;
                }
                if (bytes > UINT32_MAX)
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

        /* String table: only sized here (it is written straight into the file), in the order
         * described at SnapImage. Members refer to their user's name entry. */
        user_name_off = malloc(sizeof(uint32_t) * (n_users ? n_users : 1));
        if (!user_name_off)
                return -ENOMEM;
        for (size_t u = 0; u < n_users; u++) {
                r = strtab_reserve(&strings_size, users[u].name, &user_name_off[u]);
                if (r < 0)
                        return r;
        }
        user_names_size = strings_size;
        for (size_t u = 0; u < n_users; u++) {
                uint32_t ignored;

                r = strtab_reserve(&strings_size, users[u].gecos, &ignored);
                if (r >= 0)
                        r = strtab_reserve(&strings_size, users[u].home, &ignored);
                if (r >= 0)
                        r = strtab_reserve(&strings_size, users[u].shell, &ignored);
                if (r < 0)
                        return r;
        }
        for (size_t g = 0; g < n_groups; g++) {
                uint32_t ignored;

                r = strtab_reserve(&strings_size, groups[g].name, &ignored);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < n_mem; k++)
                members[k] = user_name_off[members[k]];
        free(TAKE_PTR(user_name_off));

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
                [PROV_SNAP_SEC_MEMBERS] = (uint64_t) n_mem * sizeof(uint32_t),
                [PROV_SNAP_SEC_IDX_USER_NAME] = (uint64_t) n_uslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_USER_UID] = (uint64_t) n_uslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_NAME] = (uint64_t) n_gslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_GID] = (uint64_t) n_gslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_STRINGS] = strings_size,
        };
        off = sizeof(SnapHeader);
        for (unsigned i = 0; i < _PROV_SNAP_SEC_MAX; i++) {
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
                .indexes = { ix_uname, ix_uid, ix_gname, ix_gid },
                .user_names_size = user_names_size,
        };
        return publish(path, emit_image, &image);
}
