/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* On-disk layout of the snapshot, shared by the writer and the reader only. Native endianness: the
 * file never leaves the host. A reader that finds another magic, version or header size treats
 * the file as foreign and refuses it. All sections start 8-byte aligned; all integers are
 * naturally aligned inside them, except string-table entries, which are read with memcpy(). */

#include <stddef.h>
#include <stdint.h>

#define PROV_SNAP_MAGIC "PROVSNAP"
#define PROV_SNAP_VERSION 2u

enum {
        PROV_SNAP_SEC_USERS,            /* SnapUser[n_users], in enumeration order */
        PROV_SNAP_SEC_GROUPS,           /* SnapGroup[n_groups], in enumeration order */
        PROV_SNAP_SEC_USER_GIDS,        /* u32 gids, one sorted slice per user (initgroups) */
        PROV_SNAP_SEC_MEMBERS,          /* u32 string offsets, one slice per group */
        PROV_SNAP_SEC_IDX_USER_NAME,    /* SnapSlot[2^k], key = name hash */
        PROV_SNAP_SEC_IDX_USER_UID,     /* SnapSlot[2^k], key = uid */
        PROV_SNAP_SEC_IDX_GROUP_NAME,   /* SnapSlot[2^k], key = name hash */
        PROV_SNAP_SEC_IDX_GROUP_GID,    /* SnapSlot[2^k], key = gid */
        PROV_SNAP_SEC_STRINGS,          /* entries: u32 length, bytes, NUL */
        _PROV_SNAP_SEC_MAX,
};

typedef struct SnapSection {
        uint64_t offset;
        uint64_t size;
} SnapSection;

typedef struct SnapHeader {
        char magic[8];
        uint32_t version;
        uint32_t header_size;           /* sizeof(SnapHeader) of the writer */
        uint64_t file_size;
        uint64_t generation;
        uint64_t created_usec;          /* CLOCK_REALTIME */
        uint64_t last_sync_usec;        /* CLOCK_REALTIME of the last confirmed directory sync */
        uint32_t uid_min;
        uint32_t uid_max;
        uint32_t hash_seed;
        uint32_t stale;                 /* set to 1 by the writer after the file was replaced */
        uint32_t n_users;
        uint32_t n_groups;
        uint32_t user_record_size;
        uint32_t group_record_size;
        SnapSection sections[_PROV_SNAP_SEC_MAX];
} SnapHeader;

typedef struct SnapUser {
        uint32_t name, gecos, home, shell;      /* string-table offsets */
        uint32_t uid, gid;
        uint32_t state;                          /* ProvState */
        uint32_t lastchg_days;
        uint32_t gids_index, n_gids;             /* slice of PROV_SNAP_SEC_USER_GIDS */
} SnapUser;

typedef struct SnapGroup {
        uint32_t name;
        uint32_t gid;
        uint32_t flags;
        uint32_t members_index, n_members;       /* slice of PROV_SNAP_SEC_MEMBERS */
        uint32_t member_bytes;                   /* sum of (length + 1) over the member names, so
                                                  * that a reader can answer ERANGE in O(1); a hint
                                                  * only, the reader verifies it while copying */
} SnapGroup;

/* One hash-index slot. `index1` is the record index plus one, so that 0 marks an empty slot. */
typedef struct SnapSlot {
        uint32_t key;
        uint32_t index1;
} SnapSlot;

_Static_assert(sizeof(SnapHeader) % 8 == 0, "header must keep sections aligned");
_Static_assert(offsetof(SnapHeader, last_sync_usec) == 40, "updated in place; tests/sync/test-syncd-file.sh reads it there");
_Static_assert(offsetof(SnapHeader, stale) % 4 == 0, "stale word must be aligned for atomic loads");

/* Final mix of murmur3: spreads ids and hashes over the slots, so that consecutive uids do not
 * form one long probe run. */
static inline uint32_t snap_mix32(uint32_t h) {
        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

/* Seeded FNV-1a over the bytes of a name; the seed differs per file, so that a crafted set of
 * names cannot be precomputed to collide in every snapshot. */
static inline uint32_t snap_hash_name(uint32_t seed, const char *s, size_t len) {
        uint32_t h = 2166136261u ^ seed;
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char) s[i];
                h *= 16777619u;
        }
        return snap_mix32(h);
}

static inline uint32_t snap_hash_id(uint32_t seed, uint32_t id) {
        return snap_mix32(id ^ seed);
}
