/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

#ifdef ARENA_ASAN
/* As in <sanitizer/asan_interface.h>, but without the const: gcc would take a const pointer to
 * memory not yet written for a read of uninitialized memory (-Wmaybe-uninitialized). */
void __asan_poison_memory_region(void volatile *addr, size_t size);
void __asan_unpoison_memory_region(void volatile *addr, size_t size);
/* ASan tracks addressability in 8-byte granules: starting each allocation on a granule and
 * leaving a whole poisoned granule after it makes every overrun land on poisoned bytes. */
#define ARENA_MIN_ALIGN 8u
#define ARENA_REDZONE 8u
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define ARENA_MIN_ALIGN 1u
#define ARENA_REDZONE 0u
#define POISON(p, n) ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#endif

struct ProvArenaChunk {
        ProvArenaChunk *next; /* older chunk */
        size_t size;          /* bytes in data[] */
        size_t used;          /* bytes of data[] handed out, the front of it */
        alignas(max_align_t) unsigned char data[];
};

static size_t align_up(size_t n, size_t align) {
        return (n + align - 1) & ~(align - 1);
}

/* Allocates a chunk with size bytes of data and pushes it as the newest. */
static ProvArenaChunk *chunk_push(ProvArena *a, size_t size) {
        ProvArenaChunk *c;

        if (size > SIZE_MAX - sizeof(ProvArenaChunk))
                return NULL;
        c = malloc(sizeof(ProvArenaChunk) + size);
        if (!c)
                return NULL;
        c->next = a->chunks;
        c->size = size;
        c->used = 0;
        POISON(c->data, size);
        a->chunks = c;
        return c;
}

static void chunk_free(ProvArenaChunk *c) {
        UNPOISON(c->data, c->size);
        free(c);
}

/* Takes size bytes at the aligned front of the free part of c, or returns NULL if they do not
 * fit. */
static void *chunk_carve(ProvArenaChunk *c, size_t size, size_t align) {
        size_t off = align_up(c->used, align);

        if (off > c->size || c->size - off < size + ARENA_REDZONE)
                return NULL;
        c->used = off + size + ARENA_REDZONE;
        UNPOISON(c->data + off, size);
        return c->data + off;
}

void *prov_arena_alloc(ProvArena *a, size_t size, size_t align) {
        ProvArenaChunk *c;
        size_t want;
        void *p;

        assert(a);
        assert(align > 0 && (align & (align - 1)) == 0 && align <= alignof(max_align_t));

        if (size == 0)
                size = 1;
        if (align < ARENA_MIN_ALIGN)
                align = ARENA_MIN_ALIGN;

        if (a->cur) {
                p = chunk_carve(a->cur, size, align);
                if (p)
                        return p;
        }

        /* Big requests get a chunk of their own, leaving the current one to small ones. */
        if (size > PROV_ARENA_CHUNK_MAX / 4) {
                if (size > SIZE_MAX - ARENA_REDZONE)
                        return NULL;
                c = chunk_push(a, size + ARENA_REDZONE);
                return c ? chunk_carve(c, size, align) : NULL;
        }

        want = a->next_size ?: PROV_ARENA_CHUNK_MIN;
        while (want < size + ARENA_REDZONE + align)
                want *= 2;
        c = chunk_push(a, want);
        if (!c)
                return NULL;
        a->cur = c;
        a->next_size = want < PROV_ARENA_CHUNK_MAX ? want * 2 : want;
        if (a->next_size > PROV_ARENA_CHUNK_MAX)
                a->next_size = PROV_ARENA_CHUNK_MAX;
        return chunk_carve(c, size, align);
}

/* Copies n bytes of s and a NUL. */
static char *arena_memdup0(ProvArena *a, const char *s, size_t n) {
        char *p = prov_arena_alloc(a, n + 1, 1);

        if (!p)
                return NULL;
        memcpy(p, s, n);
        p[n] = '\0';
        return p;
}

char *prov_arena_strndup(ProvArena *a, const char *s, size_t n) {
        return arena_memdup0(a, s, strnlen(s, n));
}

char *prov_arena_strdup(ProvArena *a, const char *s) {
        return arena_memdup0(a, s, strlen(s));
}

ProvArenaMark prov_arena_mark(const ProvArena *a) {
        return (ProvArenaMark) {
                .chunks = a->chunks,
                .cur = a->cur,
                .cur_used = a->cur ? a->cur->used : 0,
        };
}

void prov_arena_rollback(ProvArena *a, const ProvArenaMark *m) {
        /* Chunks are pushed in front, so everything newer than the mark comes before it. */
        while (a->chunks != m->chunks) {
                ProvArenaChunk *c = a->chunks;

                assert(c);
                a->chunks = c->next;
                chunk_free(c);
        }
        a->cur = m->cur;
        if (a->cur) {
                assert(m->cur_used <= a->cur->used);
                POISON(a->cur->data + m->cur_used, a->cur->used - m->cur_used);
                a->cur->used = m->cur_used;
        }
}

static size_t chunk_room(const ProvArenaChunk *c) {
        return c ? c->size - c->used : 0;
}

void prov_arena_move(ProvArena *dst, ProvArena *src) {
        ProvArenaChunk *tail;

        assert(dst && src && dst != src);
        if (!src->chunks)
                return;

        for (tail = src->chunks; tail->next; tail = tail->next)
                ;
        tail->next = dst->chunks;
        dst->chunks = src->chunks;
        /* Keep carving from whichever current chunk has more room left. */
        if (chunk_room(src->cur) > chunk_room(dst->cur))
                dst->cur = src->cur;
        if (src->next_size > dst->next_size)
                dst->next_size = src->next_size;
        *src = (ProvArena) {};
}

size_t prov_arena_allocated(const ProvArena *a) {
        size_t n = 0;

        for (const ProvArenaChunk *c = a->chunks; c; c = c->next)
                n += sizeof(ProvArenaChunk) + c->size;
        return n;
}

void prov_arena_done(ProvArena *a) {
        if (!a)
                return;
        while (a->chunks) {
                ProvArenaChunk *c = a->chunks;

                a->chunks = c->next;
                chunk_free(c);
        }
        *a = (ProvArena) {};
}
