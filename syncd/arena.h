/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A bump allocator for data that lives and dies together, such as every string of a parsed SCIM
 * batch: a list of malloc'ed chunks carved front to back, freed all at once by
 * prov_arena_done(). One malloc per chunk instead of one per string saves the allocator's
 * per-block overhead (16 bytes on glibc, more than most SCIM ids) and most of the malloc/free
 * calls. Nothing is freed singly; prov_arena_rollback() undoes the newest allocations, so that a
 * resource rejected halfway through parsing leaves nothing behind.
 *
 * Regular chunks start small (an arena holding one user stays under 1 KiB) and double up to
 * PROV_ARENA_CHUNK_MAX; a request above a quarter of that gets a chunk of its own, so a group's
 * array of 100000 member pointers costs no slack. Whole arenas move in O(chunks) with
 * prov_arena_move(), without copying or invalidating anything they hold.
 *
 * Under AddressSanitizer every allocation is followed by a poisoned gap and the free part of each
 * chunk is poisoned, so an overrun is still reported as it would be with malloc. */

#include <stdbool.h>
#include <stddef.h>

#define PROV_ARENA_CHUNK_MIN 1024u
#define PROV_ARENA_CHUNK_MAX (16u * 1024)

typedef struct ProvArenaChunk ProvArenaChunk;

typedef struct ProvArena {
        ProvArenaChunk *chunks; /* every chunk, newest first */
        ProvArenaChunk *cur;    /* the regular chunk small requests are carved from, or NULL */
        size_t next_size;       /* data size of the next regular chunk, 0 = PROV_ARENA_CHUNK_MIN */
} ProvArena;

/* A position to roll back to; valid until the arena is moved or freed. */
typedef struct ProvArenaMark {
        ProvArenaChunk *chunks;
        ProvArenaChunk *cur;
        size_t cur_used;
} ProvArenaMark;

/* size bytes (size 0 is treated as 1) aligned to align (a power of two, at most
 * alignof(max_align_t)), uninitialized; NULL on ENOMEM. */
void *prov_arena_alloc(ProvArena *a, size_t size, size_t align);

/* Copies of s and of its first at most n bytes, NUL-terminated; NULL on ENOMEM. */
char *prov_arena_strdup(ProvArena *a, const char *s);
char *prov_arena_strndup(ProvArena *a, const char *s, size_t n);

ProvArenaMark prov_arena_mark(const ProvArena *a);
/* Frees or forgets everything allocated since m was taken. */
void prov_arena_rollback(ProvArena *a, const ProvArenaMark *m);

/* Hands every chunk of src to dst (O(chunks of src)); src is left empty and reusable. Pointers
 * into src stay valid and are now owned by dst. */
void prov_arena_move(ProvArena *dst, ProvArena *src);

/* Bytes malloc'ed for chunks (headers included): for tests and statistics. */
size_t prov_arena_allocated(const ProvArena *a);

/* Frees every chunk; the arena is left empty and reusable. */
void prov_arena_done(ProvArena *a);
