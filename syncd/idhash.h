/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Positions of records by a string key (a SCIM id), in an open-addressing table that holds
 * only the positions: the keys stay in the records, read back through id_at(). For the lookups
 * made once per membership, where a sorted index would cost ~17 string compares each at 100k. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ProvIdHash {
        /* Low 24 bits: position + 1 (0 = empty). High 8 bits: the top byte of the key's hash,
         * so that a probe reads and compares a key only for 1 in 256 of the others. */
        uint32_t *slots;
        size_t mask;
} ProvIdHash;

/* The key of record i of ctx. */
typedef const char *(*ProvIdAt)(const void *ctx, size_t i);

/* 64-bit FNV-1a of s. */
uint64_t prov_str_hash(const char *s);

/* (Re)builds h over records 0..n-1. -E2BIG past 2^24 - 1 records, -ENOMEM. */
int prov_id_hash_build(ProvIdHash *h, size_t n, ProvIdAt id_at, const void *ctx);

/* The position of the record whose key is id (the first one added, if several), or -1. */
ssize_t prov_id_hash_find(const ProvIdHash *h, const char *id, ProvIdAt id_at, const void *ctx);

/* Frees the table; h is left empty (finds return -1) and reusable. */
void prov_id_hash_done(ProvIdHash *h);
