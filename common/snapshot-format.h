/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* On-disk layout of the snapshot, shared by the writer and the reader only. Native endianness: the
 * file never leaves the host. A reader that finds another magic, version or header size treats
 * the file as foreign and refuses it. All sections start 8-byte aligned; all integers are
 * naturally aligned inside them, except string-table entries, which are read with memcpy(). */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PROV_SNAP_MAGIC "PROVSNAP"
/* 3: passwd and group records carry their strings inline, laid out as getpwnam_r/getgrnam_r hand
 * them out; index slots point at records by offset; no string table.
 * 4: the user name index is a tag per bucket, and the buckets, at the start of the passwd section,
 * hold a copy of each passwd record that fits in 64 bytes: getpwnam reads a tag (in a table small
 * enough to stay cached) and one cache line. */
#define PROV_SNAP_VERSION 4u

enum {
        PROV_SNAP_SEC_USERS,            /* SnapUser[n_users], in enumeration order */
        PROV_SNAP_SEC_GROUPS,           /* SnapGroup[n_groups], in enumeration order */
        PROV_SNAP_SEC_USER_GIDS,        /* u32 gids, one sorted slice per user (initgroups) */
        PROV_SNAP_SEC_PASSWD,           /* SnapPasswd records, 8-byte aligned */
        PROV_SNAP_SEC_GROUP_DATA,       /* SnapGroupData records, 8-byte aligned */
        PROV_SNAP_SEC_IDX_USER_NAME,    /* u16 tags[2^k] of the passwd section's buckets, see below */
        PROV_SNAP_SEC_IDX_USER_UID,     /* SnapSlot[2^k], key = uid, ref = SnapPasswd */
        PROV_SNAP_SEC_IDX_GROUP_NAME,   /* SnapSlot[2^k], key = name hash, ref = SnapGroupData */
        PROV_SNAP_SEC_IDX_GROUP_GID,    /* SnapSlot[2^k], key = gid, ref = SnapGroupData */
        _PROV_SNAP_SEC_MAX,
};

/* Records are referred to by their offset in their section divided by this (so that a u32
 * reaches 32 GiB). */
#define PROV_SNAP_REF_UNIT 8u

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
        uint32_t stale;                 /* set to 1 by the writer when the file is being replaced */
        uint32_t n_users;
        uint32_t n_groups;
        uint32_t user_record_size;
        uint32_t group_record_size;
        SnapSection sections[_PROV_SNAP_SEC_MAX];
} SnapHeader;

/* What only shadow, initgroups and PAM need; the passwd record holds the rest. */
typedef struct SnapUser {
        uint32_t passwd;                         /* ref of the SnapPasswd */
        uint32_t state;                          /* ProvState */
        uint32_t lastchg_days;
        uint32_t gids_index, n_gids;             /* slice of PROV_SNAP_SEC_USER_GIDS */
} SnapUser;

/* A passwd record: this header, then `size` bytes of text "name\0x\0gecos\0home\0shell\0",
 * exactly as getpwnam_r lays the strings out in the caller's buffer (one copy). The writer places
 * a record that fits in 64 bytes so that it does not cross a 64-byte boundary: a lookup by name
 * touches the index slot and this one cache line. */
typedef struct SnapPasswd {
        uint32_t uid, gid;
        uint32_t index;                          /* of the SnapUser */
        uint16_t size;                           /* bytes of text, the last one a NUL */
        uint16_t name_len;                       /* strlen(name) */
} SnapPasswd;

/* The user name index: PROV_SNAP_SEC_IDX_USER_NAME holds a u16 tag per bucket (snap_name_tag() of
 * the name of the user in it, 0 for an empty bucket), and the passwd section starts with the
 * 2^k buckets of PROV_SNAP_BUCKET bytes, probed linearly from (name hash & (2^k - 1)) up to an
 * empty tag. A bucket holds a copy of the user's passwd record when sizeof(SnapPasswd) + size <=
 * PROV_SNAP_BUCKET (the bucket's ref is its offset / PROV_SNAP_REF_UNIT); else a SnapPasswdFar:
 * the record's header, then its ref and the name's hash. The records themselves follow the
 * buckets in enumeration order, where users[] and the uid index point. */
#define PROV_SNAP_BUCKET 64u

typedef struct SnapPasswdFar {
        SnapPasswd head;                         /* as the record's */
        uint32_t ref;                            /* of the record */
        uint32_t hash;                           /* snap_hash_name() of its name */
} SnapPasswdFar;

typedef struct SnapGroup {
        uint32_t data;                           /* ref of the SnapGroupData */
} SnapGroup;

/* A group record: this header, u32 member_off[n_members], then `size` bytes of text
 * "name\0x\0member\0member\0...", as getgrnam_r lays the strings out after the gr_mem array:
 * one copy, then gr_mem[i] = start of the members + member_off[i]. */
typedef struct SnapGroupData {
        uint32_t gid;
        uint32_t flags;
        uint32_t index;                          /* of the SnapGroup */
        uint32_t n_members;
        uint32_t name_len;
        uint32_t size;                           /* bytes of text, the last one a NUL */
} SnapGroupData;

/* One hash-index slot. `ref1` is the record's ref plus one, so that 0 marks an empty slot. */
typedef struct SnapSlot {
        uint32_t key;
        uint32_t ref1;
} SnapSlot;

_Static_assert(sizeof(SnapHeader) % 8 == 0, "header must keep sections aligned");
_Static_assert(offsetof(SnapHeader, last_sync_usec) == 40, "updated in place; tests/syncd-file/test-syncd-file.sh reads it there");
_Static_assert(offsetof(SnapHeader, stale) % 4 == 0, "stale word must be aligned for atomic loads");
_Static_assert(sizeof(SnapPasswd) == 16 && sizeof(SnapGroupData) % 8 == 0, "records keep their text aligned");

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

/* The last 1-8 bytes of a name as one word, read without a byte loop: overlapping 4-byte reads
 * for 4-8 bytes, three single bytes below (the hash takes the length in as well). */
static inline uint64_t snap_name_tail(const char *s, size_t n) {
        uint32_t a, b;

        if (n >= 4) {
                memcpy(&a, s, sizeof(a));
                memcpy(&b, s + n - 4, sizeof(b));
                return (uint64_t) a << 32 | b;
        }
        return (uint64_t) (unsigned char) s[0] << 16 | (uint64_t) (unsigned char) s[n / 2] << 8 |
               (unsigned char) s[n - 1];
}

/* Seeded hash of a name, eight bytes at a time and the rest as one word, each folded in with one
 * multiply: a short name costs one or two multiplies on the way to its index slot instead of one
 * per byte. The seed differs per file, so that a crafted set of names cannot be precomputed to
 * collide in every snapshot. */
static inline uint32_t snap_hash_name(uint32_t seed, const char *s, size_t len) {
        uint64_t h = ((uint64_t) seed << 32 | seed) ^ ((uint64_t) len * 0x9e3779b97f4a7c15u), w;
        size_t i = 0;

        for (; len - i > 8; i += 8) {
                memcpy(&w, s + i, sizeof(w));
                h = (h ^ w) * 0xbf58476d1ce4e5b9u;
                h ^= h >> 29;
        }
        if (len > i) {
                w = snap_name_tail(s + i, len - i);
                h = (h ^ w) * 0xbf58476d1ce4e5b9u;
                h ^= h >> 29;
        }
        h *= 0x94d049bb133111ebu;
        return (uint32_t) (h >> 32) ^ (uint32_t) h;
}

/* The tag of a name hash in the user name index: never 0, which marks an empty bucket. */
static inline uint16_t snap_name_tag(uint32_t h) {
        return (uint16_t) ((h >> 16) | 1u);
}

static inline uint32_t snap_hash_id(uint32_t seed, uint32_t id) {
        return snap_mix32(id ^ seed);
}
