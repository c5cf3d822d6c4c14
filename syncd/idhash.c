/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idhash.h"

uint64_t prov_str_hash(const char *s) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

#define POS_BITS 24
#define POS_MASK ((UINT32_C(1) << POS_BITS) - 1)

static uint32_t slot_tag(uint64_t hash) {
        return (uint32_t) (hash >> 56) << POS_BITS;
}

int prov_id_hash_build(ProvIdHash *h, size_t n, ProvIdAt id_at, const void *ctx) {
        size_t size = 16;

        if (n >= POS_MASK)
                return -E2BIG;
        /* At most half full: probes stay short. */
        while (size < n * 2)
                size *= 2;
        free(h->slots);
        h->slots = calloc(size, sizeof(uint32_t));
        if (!h->slots) {
                h->mask = 0;
                return -ENOMEM;
        }
        h->mask = size - 1;
        for (size_t i = 0; i < n; i++) {
                uint64_t hash = prov_str_hash(id_at(ctx, i));
                size_t k = hash & h->mask;
                while (h->slots[k])
                        k = (k + 1) & h->mask;
                h->slots[k] = slot_tag(hash) | (uint32_t) (i + 1);
        }
        return 0;
}

ssize_t prov_id_hash_find(const ProvIdHash *h, const char *id, ProvIdAt id_at, const void *ctx) {
        uint64_t hash;
        uint32_t tag;

        if (!h->slots)
                return -1;
        hash = prov_str_hash(id);
        tag = slot_tag(hash);
        for (size_t k = hash & h->mask; h->slots[k]; k = (k + 1) & h->mask) {
                uint32_t slot = h->slots[k];
                size_t pos = (size_t) (slot & POS_MASK) - 1;
                const char *key;
                if ((slot & ~POS_MASK) != tag)
                        continue;
                /* Group members share their user's id string: no need to read it then. */
                key = id_at(ctx, pos);
                if (key == id || strcmp(key, id) == 0)
                        return (ssize_t) pos;
        }
        return -1;
}

void prov_id_hash_done(ProvIdHash *h) {
        free(h->slots);
        *h = (ProvIdHash) {};
}
