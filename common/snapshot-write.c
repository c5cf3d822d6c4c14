/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot writer: validates the records once more (defence in depth; syncd validated them),
 * lays out the file in memory, and replaces the published file atomically. */

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

typedef struct StrTab {
        uint8_t *buf;
        size_t size, allocated;
} StrTab;

static void strtab_done(StrTab *t) {
        free(t->buf);
        *t = (StrTab) {};
}

/* Appends a length-prefixed, NUL-terminated entry and returns its offset. */
static int strtab_add(StrTab *t, const char *s, uint32_t *ret_off) {
        size_t len = strlen(s), need;
        uint32_t len32;

        if (len > UINT32_MAX - 16 || t->size > UINT32_MAX - 16 - len)
                return -E2BIG;
        need = t->size + sizeof(uint32_t) + len + 1;
        if (need > t->allocated) {
                size_t a = t->allocated ? t->allocated : 4096;
                uint8_t *n;

                while (a < need)
                        a *= 2;
                n = realloc(t->buf, a);
                if (!n)
                        return -ENOMEM;
                t->buf = n;
                t->allocated = a;
        }
        len32 = (uint32_t) len;
        memcpy(t->buf + t->size, &len32, sizeof(len32));
        memcpy(t->buf + t->size + sizeof(len32), s, len + 1);
        *ret_off = (uint32_t) t->size;
        t->size = need;
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
                p += k;
                n -= (size_t) k;
        }
        return 0;
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

/* Writes the image to a temp file next to path and renames it over path. */
static int publish(const char *path, const uint8_t *image, size_t size) {
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
        r = write_all(fd, image, size);
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

int prov_snapshot_write(const char *path, const ProvSnapMeta *meta,
                        const ProvSnapUser *users, size_t n_users,
                        const ProvSnapGroup *groups, size_t n_groups) {
        _cleanup_free_ SnapSlot *ix_uname = NULL, *ix_uid = NULL, *ix_gname = NULL, *ix_gid = NULL;
        _cleanup_free_ uint32_t *marker = NULL, *mem_users = NULL, *grp_start = NULL, *grp_count = NULL;
        _cleanup_free_ uint32_t *usr_start = NULL, *usr_count = NULL, *usr_gids = NULL, *user_name_off = NULL;
        _cleanup_free_ uint8_t *image = NULL;
        _cleanup_(strtab_done) StrTab st = {};
        size_t n_uslots = index_slots(n_users), n_gslots = index_slots(n_groups);
        size_t total_members = 0, n_mem = 0, n_gids_total = 0;
        uint32_t seed = random_seed();
        SnapHeader *h;
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

        /* Resolve members to users, dropping unknown and refused accounts and duplicates. */
        for (size_t i = 0; i < n_groups; i++) {
                if (groups[i].n_members > SNAP_MAX_RECORDS - total_members)
                        return -E2BIG;
                total_members += groups[i].n_members;
        }
        marker = malloc(sizeof(uint32_t) * (n_users ? n_users : 1));
        mem_users = malloc(sizeof(uint32_t) * (total_members ? total_members : 1));
        grp_start = calloc(n_groups ? n_groups : 1, sizeof(uint32_t));
        grp_count = calloc(n_groups ? n_groups : 1, sizeof(uint32_t));
        usr_start = calloc(n_users ? n_users : 1, sizeof(uint32_t));
        usr_count = calloc(n_users ? n_users : 1, sizeof(uint32_t));
        user_name_off = calloc(n_users ? n_users : 1, sizeof(uint32_t));
        if (!marker || !mem_users || !grp_start || !grp_count || !usr_start || !usr_count || !user_name_off)
                return -ENOMEM;
        memset(marker, 0xff, sizeof(uint32_t) * (n_users ? n_users : 1));
        for (uint32_t g = 0; g < n_groups; g++) {
                grp_start[g] = (uint32_t) n_mem;
                for (size_t j = 0; j < groups[g].n_members; j++) {
                        int64_t u = index_find_name(ix_uname, n_uslots, seed, groups[g].members[j],
                                                    user_name_at, users);
                        if (u < 0 || prov_state_is_refused(users[u].state) || marker[u] == g)
                                continue;
                        marker[u] = g;
                        mem_users[n_mem++] = (uint32_t) u;
                        usr_count[u]++;
                }
                grp_count[g] = (uint32_t) n_mem - grp_start[g];
        }

        /* initgroups lists: one sorted slice of gids per user. */
        for (size_t u = 0; u < n_users; u++) {
                usr_start[u] = (uint32_t) n_gids_total;
                n_gids_total += usr_count[u];
                usr_count[u] = 0;
        }
        usr_gids = malloc(sizeof(uint32_t) * (n_gids_total ? n_gids_total : 1));
        if (!usr_gids)
                return -ENOMEM;
        for (size_t g = 0; g < n_groups; g++)
                for (uint32_t k = grp_start[g]; k < grp_start[g] + grp_count[g]; k++) {
                        uint32_t u = mem_users[k];
                        usr_gids[usr_start[u] + usr_count[u]++] = groups[g].gid;
                }
        for (size_t u = 0; u < n_users; u++)
                qsort(usr_gids + usr_start[u], usr_count[u], sizeof(uint32_t), cmp_u32);

        /* Strings: reserve the table first so that every record can refer to it. */
        for (size_t u = 0; u < n_users; u++) {
                r = strtab_add(&st, users[u].name, &user_name_off[u]);
                if (r < 0)
                        return r;
        }

        /* Layout. */
        SnapSection sec[_PROV_SNAP_SEC_MAX] = {};
        uint64_t sizes[_PROV_SNAP_SEC_MAX] = {
                [PROV_SNAP_SEC_USERS] = (uint64_t) n_users * sizeof(SnapUser),
                [PROV_SNAP_SEC_GROUPS] = (uint64_t) n_groups * sizeof(SnapGroup),
                [PROV_SNAP_SEC_USER_GIDS] = (uint64_t) n_gids_total * sizeof(uint32_t),
                [PROV_SNAP_SEC_MEMBERS] = (uint64_t) n_mem * sizeof(uint32_t),
                [PROV_SNAP_SEC_IDX_USER_NAME] = (uint64_t) n_uslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_USER_UID] = (uint64_t) n_uslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_NAME] = (uint64_t) n_gslots * sizeof(SnapSlot),
                [PROV_SNAP_SEC_IDX_GROUP_GID] = (uint64_t) n_gslots * sizeof(SnapSlot),
        };
        SnapUser *urec = NULL;
        SnapGroup *grec = NULL;
        _cleanup_free_ SnapUser *urecs = calloc(n_users ? n_users : 1, sizeof(SnapUser));
        _cleanup_free_ SnapGroup *grecs = calloc(n_groups ? n_groups : 1, sizeof(SnapGroup));
        if (!urecs || !grecs)
                return -ENOMEM;
        for (size_t u = 0; u < n_users; u++) {
                urec = &urecs[u];
                *urec = (SnapUser) {
                        .name = user_name_off[u],
                        .uid = users[u].uid,
                        .gid = users[u].gid,
                        .state = (uint32_t) users[u].state,
                        .lastchg_days = users[u].lastchg_days,
                        .gids_index = usr_start[u],
                        .n_gids = usr_count[u],
                };
                r = strtab_add(&st, users[u].gecos, &urec->gecos);
                if (r >= 0)
                        r = strtab_add(&st, users[u].home, &urec->home);
                if (r >= 0)
                        r = strtab_add(&st, users[u].shell, &urec->shell);
                if (r < 0)
                        return r;
        }
        for (size_t g = 0; g < n_groups; g++) {
                grec = &grecs[g];
                uint64_t bytes = 0;

                for (uint32_t k = grp_start[g]; k < grp_start[g] + grp_count[g]; k++)
                        bytes += strlen(users[mem_users[k]].name) + 1;
                if (bytes > UINT32_MAX)
                        return -E2BIG;
                *grec = (SnapGroup) {
                        .gid = groups[g].gid,
                        .flags = groups[g].flags,
                        .members_index = grp_start[g],
                        .n_members = grp_count[g],
                        .member_bytes = (uint32_t) bytes,
                };
                r = strtab_add(&st, groups[g].name, &grec->name);
                if (r < 0)
                        return r;
        }
        sizes[PROV_SNAP_SEC_STRINGS] = st.size;

        off = sizeof(SnapHeader);
        for (unsigned i = 0; i < _PROV_SNAP_SEC_MAX; i++) {
                sec[i] = (SnapSection) { .offset = off, .size = sizes[i] };
                off += (sizes[i] + 7) & ~(uint64_t) 7;
        }
        if (off > SIZE_MAX)
                return -E2BIG;

        image = calloc(1, (size_t) off);
        if (!image)
                return -ENOMEM;
        h = (SnapHeader *) image;
        memcpy(h->magic, PROV_SNAP_MAGIC, sizeof(h->magic));
        h->version = PROV_SNAP_VERSION;
        h->header_size = sizeof(SnapHeader);
        h->file_size = off;
        h->generation = meta->generation;
        h->created_usec = now_usec(CLOCK_REALTIME);
        h->last_sync_usec = meta->last_sync_usec;
        h->uid_min = meta->uid_min;
        h->uid_max = meta->uid_max;
        h->hash_seed = seed;
        h->stale = 0;
        h->n_users = (uint32_t) n_users;
        h->n_groups = (uint32_t) n_groups;
        h->user_record_size = sizeof(SnapUser);
        h->group_record_size = sizeof(SnapGroup);
        memcpy(h->sections, sec, sizeof(sec));

        memcpy(image + sec[PROV_SNAP_SEC_USERS].offset, urecs, sizes[PROV_SNAP_SEC_USERS]);
        memcpy(image + sec[PROV_SNAP_SEC_GROUPS].offset, grecs, sizes[PROV_SNAP_SEC_GROUPS]);
        memcpy(image + sec[PROV_SNAP_SEC_USER_GIDS].offset, usr_gids, sizes[PROV_SNAP_SEC_USER_GIDS]);
        for (size_t k = 0; k < n_mem; k++) {
                uint32_t name_off = user_name_off[mem_users[k]];
                memcpy(image + sec[PROV_SNAP_SEC_MEMBERS].offset + k * sizeof(uint32_t), &name_off,
                       sizeof(name_off));
        }
        const SnapSlot *indexes[] = { ix_uname, ix_uid, ix_gname, ix_gid };
        for (unsigned i = 0; i < ELEMENTSOF(indexes); i++) {
                unsigned k = PROV_SNAP_SEC_IDX_USER_NAME + i;
                memcpy(image + sec[k].offset, indexes[i], sizes[k]);
        }
        if (st.size > 0)
                memcpy(image + sec[PROV_SNAP_SEC_STRINGS].offset, st.buf, st.size);

        return publish(path, image, (size_t) off);
}
