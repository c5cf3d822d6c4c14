/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot reader. Opening validates only the header and the bounds of each section, in constant
 * time, so that the first lookup of a fresh process does not pay for the size of the directory.
 * Every record, string and array slice is bounds-checked when a lookup touches it. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
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
        const uint32_t *members;
        size_t n_members;
        const SnapSlot *idx[_PROV_SNAP_SEC_MAX];
        uint32_t idx_mask[_PROV_SNAP_SEC_MAX];
        const uint8_t *strings;
        size_t strings_size;
};

/* Checks that a section lies inside the file after the header, aligned, without overflow. */
static int section_check(const SnapHeader *h, size_t file_size, unsigned sec, uint64_t elem_size) {
        const SnapSection *s = &h->sections[sec];

        if (s->offset < h->header_size || s->offset > file_size || s->size > file_size - s->offset)
                return -EBADMSG;
        if (s->offset % 8 != 0 || s->size % elem_size != 0)
                return -EBADMSG;
        return 0;
}

/* Checks an index section: a power-of-two number of slots, at least one. */
static int index_setup(ProvSnapshot *s, unsigned sec) {
        const SnapSection *sect = &s->hdr->sections[sec];
        uint64_t n;
        int r;

        r = section_check(s->hdr, s->size, sec, sizeof(SnapSlot));
        if (r < 0)
                return r;
        n = sect->size / sizeof(SnapSlot);
        if (n == 0 || n > UINT32_MAX || (n & (n - 1)) != 0)
                return -EBADMSG;
        s->idx[sec] = (const SnapSlot *) (s->map + sect->offset);
        s->idx_mask[sec] = (uint32_t) (n - 1);
        return 0;
}

static int snapshot_setup(ProvSnapshot *s) {
        const SnapHeader *h;
        int r;

        if (s->size < sizeof(SnapHeader))
                return -EBADMSG;
        h = s->hdr = (const SnapHeader *) s->map;
        if (memcmp(h->magic, PROV_SNAP_MAGIC, sizeof(h->magic)) != 0 || h->version != PROV_SNAP_VERSION ||
            h->header_size != sizeof(SnapHeader) || h->file_size != s->size ||
            h->user_record_size != sizeof(SnapUser) || h->group_record_size != sizeof(SnapGroup))
                return -EBADMSG;

        r = section_check(h, s->size, PROV_SNAP_SEC_USERS, sizeof(SnapUser));
        if (r < 0)
                return r;
        if (h->sections[PROV_SNAP_SEC_USERS].size / sizeof(SnapUser) != h->n_users)
                return -EBADMSG;
        r = section_check(h, s->size, PROV_SNAP_SEC_GROUPS, sizeof(SnapGroup));
        if (r < 0)
                return r;
        if (h->sections[PROV_SNAP_SEC_GROUPS].size / sizeof(SnapGroup) != h->n_groups)
                return -EBADMSG;
        r = section_check(h, s->size, PROV_SNAP_SEC_USER_GIDS, sizeof(uint32_t));
        if (r < 0)
                return r;
        r = section_check(h, s->size, PROV_SNAP_SEC_MEMBERS, sizeof(uint32_t));
        if (r < 0)
                return r;
        r = section_check(h, s->size, PROV_SNAP_SEC_STRINGS, 1);
        if (r < 0)
                return r;
        if (h->sections[PROV_SNAP_SEC_STRINGS].size > UINT32_MAX)
                return -EBADMSG;
        for (unsigned sec = PROV_SNAP_SEC_IDX_USER_NAME; sec <= PROV_SNAP_SEC_IDX_GROUP_GID; sec++) {
                r = index_setup(s, sec);
                if (r < 0)
                        return r;
        }

        s->users = (const SnapUser *) (s->map + h->sections[PROV_SNAP_SEC_USERS].offset);
        s->groups = (const SnapGroup *) (s->map + h->sections[PROV_SNAP_SEC_GROUPS].offset);
        s->user_gids = (const uint32_t *) (s->map + h->sections[PROV_SNAP_SEC_USER_GIDS].offset);
        s->n_user_gids = h->sections[PROV_SNAP_SEC_USER_GIDS].size / sizeof(uint32_t);
        s->members = (const uint32_t *) (s->map + h->sections[PROV_SNAP_SEC_MEMBERS].offset);
        s->n_members = h->sections[PROV_SNAP_SEC_MEMBERS].size / sizeof(uint32_t);
        s->strings = s->map + h->sections[PROV_SNAP_SEC_STRINGS].offset;
        s->strings_size = h->sections[PROV_SNAP_SEC_STRINGS].size;
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

/* Resolves a string-table offset: the entry's length prefix, bytes and terminating NUL must lie
 * inside the table, and the bytes must not contain a NUL. */
static int string_at(const ProvSnapshot *s, uint32_t off, const char **ret, size_t *ret_len) {
        uint32_t len;
        const char *p;

        if ((uint64_t) off + sizeof(uint32_t) > s->strings_size)
                return -EBADMSG;
        memcpy(&len, s->strings + off, sizeof(len));
        if ((uint64_t) off + sizeof(uint32_t) + len + 1 > s->strings_size)
                return -EBADMSG;
        p = (const char *) s->strings + off + sizeof(uint32_t);
        if (p[len] != '\0' || memchr(p, '\0', len))
                return -EBADMSG;
        *ret = p;
        if (ret_len)
                *ret_len = len;
        return 0;
}

static int user_view(const ProvSnapshot *s, uint32_t index, ProvSnapUserView *ret) {
        const SnapUser *u;
        ProvSnapUserView v = {};
        int r;

        if (index >= s->hdr->n_users)
                return -EBADMSG;
        u = &s->users[index];
        if ((uint64_t) u->gids_index + u->n_gids > s->n_user_gids || u->state >= _PROV_STATE_MAX)
                return -EBADMSG;
        r = string_at(s, u->name, &v.name, NULL);
        if (r < 0)
                return r;
        r = string_at(s, u->gecos, &v.gecos, NULL);
        if (r < 0)
                return r;
        r = string_at(s, u->home, &v.home, NULL);
        if (r < 0)
                return r;
        r = string_at(s, u->shell, &v.shell, NULL);
        if (r < 0)
                return r;
        v.uid = u->uid;
        v.gid = u->gid;
        v.state = (ProvState) u->state;
        v.lastchg_days = u->lastchg_days;
        v.n_gids = u->n_gids;
        v.index = index;
        v._gids_index = u->gids_index;
        *ret = v;
        return 0;
}

static int group_view(const ProvSnapshot *s, uint32_t index, ProvSnapGroupView *ret) {
        const SnapGroup *g;
        ProvSnapGroupView v = {};
        int r;

        if (index >= s->hdr->n_groups)
                return -EBADMSG;
        g = &s->groups[index];
        if ((uint64_t) g->members_index + g->n_members > s->n_members)
                return -EBADMSG;
        r = string_at(s, g->name, &v.name, NULL);
        if (r < 0)
                return r;
        v.gid = g->gid;
        v.flags = g->flags;
        v.n_members = g->n_members;
        v.member_bytes = g->member_bytes;
        v.index = index;
        v._members_index = g->members_index;
        *ret = v;
        return 0;
}

/* Linear probing, bounded by the table size so that a corrupt table without an empty slot
 * cannot loop forever. Runs the body for each occupied slot whose key equals `want`. */
#define INDEX_FOREACH(s, sec, want, hash, slot)                                                 \
        for (uint32_t _i = 0, _pos = (hash) & (s)->idx_mask[sec];                               \
             _i <= (s)->idx_mask[sec] && ((slot) = &(s)->idx[sec][_pos])->index1 != 0;         \
             _i++, _pos = (_pos + 1) & (s)->idx_mask[sec])                                      \
                if ((slot)->key == (want))

/* Reads the u32 field at byte offset `field` of record i of an array of `stride`-byte records. */
static uint32_t record_u32(const void *records, size_t stride, size_t field, uint32_t i) {
        uint32_t v;
        memcpy(&v, (const uint8_t *) records + (size_t) i * stride + field, sizeof(v));
        return v;
}

/* Looks `name` up in a name index over `n` records of `stride` bytes whose name's string offset
 * is the field at byte offset `field`: users and groups share this. On success *ret_index is
 * the record's index. */
static int find_by_name(const ProvSnapshot *s, unsigned sec, const char *name, const void *records, uint32_t n,
                        size_t stride, size_t field, uint32_t *ret_index) {
        const SnapSlot *slot;
        size_t len = strlen(name);
        uint32_t h = snap_hash_name(s->hdr->hash_seed, name, len);
        int r;

        INDEX_FOREACH(s, sec, h, h, slot) {
                const char *str;
                size_t str_len;
                if (slot->index1 > n)
                        return -EBADMSG;
                r = string_at(s, record_u32(records, stride, field, slot->index1 - 1), &str, &str_len);
                if (r < 0)
                        return r;
                if (str_len == len && memcmp(str, name, len) == 0) {
                        *ret_index = slot->index1 - 1;
                        return 0;
                }
        }
        return -ENOENT;
}

/* The same for an id index, the id being the field at `field`. The index and the record must
 * agree, or the file is corrupt. */
static int find_by_id(const ProvSnapshot *s, unsigned sec, uint32_t id, const void *records, uint32_t n,
                      size_t stride, size_t field, uint32_t *ret_index) {
        const SnapSlot *slot;

        INDEX_FOREACH(s, sec, id, snap_hash_id(s->hdr->hash_seed, id), slot) {
                if (slot->index1 > n)
                        return -EBADMSG;
                if (record_u32(records, stride, field, slot->index1 - 1) != id)
                        return -EBADMSG;
                *ret_index = slot->index1 - 1;
                return 0;
        }
        return -ENOENT;
}

int prov_snapshot_user_by_name(const ProvSnapshot *s, const char *name, ProvSnapUserView *ret) {
        uint32_t i;
        int r;

        if (!s || !name || !ret)
                return -EINVAL;
        r = find_by_name(s, PROV_SNAP_SEC_IDX_USER_NAME, name, s->users, s->hdr->n_users, sizeof(SnapUser),
                         offsetof(SnapUser, name), &i);
        return r < 0 ? r : user_view(s, i, ret);
}

int prov_snapshot_user_by_uid(const ProvSnapshot *s, uint32_t uid, ProvSnapUserView *ret) {
        uint32_t i;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = find_by_id(s, PROV_SNAP_SEC_IDX_USER_UID, uid, s->users, s->hdr->n_users, sizeof(SnapUser),
                       offsetof(SnapUser, uid), &i);
        return r < 0 ? r : user_view(s, i, ret);
}

int prov_snapshot_user_at(const ProvSnapshot *s, size_t index, ProvSnapUserView *ret) {
        if (!s || !ret)
                return -EINVAL;
        if (index >= s->hdr->n_users)
                return -ENOENT;
        return user_view(s, (uint32_t) index, ret);
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
        uint32_t i;
        int r;

        if (!s || !name || !ret)
                return -EINVAL;
        r = find_by_name(s, PROV_SNAP_SEC_IDX_GROUP_NAME, name, s->groups, s->hdr->n_groups, sizeof(SnapGroup),
                         offsetof(SnapGroup, name), &i);
        return r < 0 ? r : group_view(s, i, ret);
}

int prov_snapshot_group_by_gid(const ProvSnapshot *s, uint32_t gid, ProvSnapGroupView *ret) {
        uint32_t i;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = find_by_id(s, PROV_SNAP_SEC_IDX_GROUP_GID, gid, s->groups, s->hdr->n_groups, sizeof(SnapGroup),
                       offsetof(SnapGroup, gid), &i);
        return r < 0 ? r : group_view(s, i, ret);
}

int prov_snapshot_group_at(const ProvSnapshot *s, size_t index, ProvSnapGroupView *ret) {
        if (!s || !ret)
                return -EINVAL;
        if (index >= s->hdr->n_groups)
                return -ENOENT;
        return group_view(s, (uint32_t) index, ret);
}

int prov_snapshot_group_member_len(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                                   const char **ret, size_t *ret_len) {
        if (!s || !g || !ret)
                return -EINVAL;
        if (i >= g->n_members)
                return -ENOENT;
        if ((uint64_t) g->_members_index + i >= s->n_members)
                return -EBADMSG;
        return string_at(s, s->members[g->_members_index + i], ret, ret_len);
}

int prov_snapshot_group_member(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                               const char **ret) {
        return prov_snapshot_group_member_len(s, g, i, ret, NULL);
}
