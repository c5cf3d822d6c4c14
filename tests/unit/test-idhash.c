/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The position-by-SCIM-id table (syncd/idhash.c): every key found at its position, absent keys
 * not found, whatever the tag bits in the slots say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idhash.h"

#define N 100000

static const char *key_at(const void *ctx, size_t i) {
        return ((char *const *) ctx)[i];
}

static void test_finds_every_key(void **state) {
        char **keys = calloc(N, sizeof(char *));
        ProvIdHash h = {};
        char buf[64];

        (void) state;
        assert_non_null(keys);
        for (size_t i = 0; i < N; i++) {
                /* UUID-shaped, differing in a few characters only: many share hash bytes. */
                snprintf(buf, sizeof(buf), "2819c223-7f76-453a-919d-%012zx", i * 7919);
                keys[i] = strdup(buf);
                assert_non_null(keys[i]);
        }
        assert_int_equal(prov_id_hash_build(&h, N, key_at, keys), 0);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(prov_id_hash_find(&h, keys[i], key_at, keys), (ssize_t) i);
        for (size_t i = 0; i < N; i++) {
                snprintf(buf, sizeof(buf), "2819c223-7f76-453a-919d-%012zx", i * 7919 + 1);
                assert_int_equal(prov_id_hash_find(&h, buf, key_at, keys), -1);
        }
        assert_int_equal(prov_id_hash_find(&h, "", key_at, keys), -1);

        /* Rebuilt over fewer records: the old positions are gone. */
        assert_int_equal(prov_id_hash_build(&h, 10, key_at, keys), 0);
        assert_int_equal(prov_id_hash_find(&h, keys[9], key_at, keys), 9);
        assert_int_equal(prov_id_hash_find(&h, keys[10], key_at, keys), -1);

        prov_id_hash_done(&h);
        for (size_t i = 0; i < N; i++)
                free(keys[i]);
        free(keys);
}

static void test_empty_and_limits(void **state) {
        ProvIdHash h = {};

        (void) state;
        assert_int_equal(prov_id_hash_find(&h, "x", key_at, NULL), -1);
        assert_int_equal(prov_id_hash_build(&h, 0, key_at, NULL), 0);
        assert_int_equal(prov_id_hash_find(&h, "x", key_at, NULL), -1);
        /* Positions take 24 bits of a slot. */
        assert_int_equal(prov_id_hash_build(&h, (size_t) 1 << 24, key_at, NULL), -E2BIG);
        prov_id_hash_done(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_finds_every_key),
                cmocka_unit_test(test_empty_and_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
