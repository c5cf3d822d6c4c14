/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bump allocator behind parsed SCIM batches (syncd/arena.c). Under valgrind or ASan a
 * chunk freed twice or leaked shows up here too. */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

static void test_strings_and_alignment(void **state) {
        ProvArena a = {};
        char *s, *t, *u;
        void **p;

        s = prov_arena_strdup(&a, "alice");
        t = prov_arena_strndup(&a, "bobby", 3);
        u = prov_arena_strndup(&a, "x", 100);
        p = prov_arena_alloc(&a, 3 * sizeof(void *), alignof(void *));
        assert_non_null(s);
        assert_non_null(t);
        assert_non_null(u);
        assert_non_null(p);
        assert_string_equal(s, "alice");
        assert_string_equal(t, "bob");
        assert_string_equal(u, "x");
        assert_int_equal((uintptr_t) p % alignof(void *), 0);
        p[0] = s, p[1] = t, p[2] = u;
        /* Small requests share one small chunk. */
        assert_true(prov_arena_allocated(&a) <= PROV_ARENA_CHUNK_MIN + 64);
        prov_arena_done(&a);
        assert_null(a.chunks);
        assert_int_equal(prov_arena_allocated(&a), 0);
}

static void test_chunks_grow_and_big_requests(void **state) {
        ProvArena a = {};
        char *big, *small;
        size_t n;

        /* 10000 ids of 15 bytes: the slack is at most about one chunk (under ASan each string
         * also gets a redzone, hence the generous bound). */
        for (int i = 0; i < 10000; i++) {
                char id[16];

                snprintf(id, sizeof(id), "u-%012d", i);
                small = prov_arena_strdup(&a, id);
                assert_non_null(small);
                assert_string_equal(small, id);
        }
        n = prov_arena_allocated(&a);
        assert_true(n >= 10000 * 15);
        assert_true(n <= 10000 * 32 + 2 * PROV_ARENA_CHUNK_MAX);

        /* A big request gets a chunk of its own and leaves the current one in place: the next
         * small string still fits there. */
        big = prov_arena_alloc(&a, 10 * PROV_ARENA_CHUNK_MAX, 1);
        assert_non_null(big);
        memset(big, 'x', 10 * PROV_ARENA_CHUNK_MAX);
        assert_true(prov_arena_allocated(&a) >= n + 10 * PROV_ARENA_CHUNK_MAX);
        n = prov_arena_allocated(&a);
        small = prov_arena_strdup(&a, "after");
        assert_non_null(small);
        assert_int_equal(prov_arena_allocated(&a), n);
        prov_arena_done(&a);
}

static void test_rollback(void **state) {
        ProvArena a = {};
        ProvArenaMark m;
        size_t before;
        char *s;

        s = prov_arena_strdup(&a, "kept");
        m = prov_arena_mark(&a);
        before = prov_arena_allocated(&a);
        for (int i = 0; i < 1000; i++)
                assert_non_null(prov_arena_strdup(&a, "a rejected resource's string"));
        assert_non_null(prov_arena_alloc(&a, 4 * PROV_ARENA_CHUNK_MAX, 8));
        prov_arena_rollback(&a, &m);
        assert_int_equal(prov_arena_allocated(&a), before);
        assert_string_equal(s, "kept");
        /* The space is reused. */
        assert_non_null(prov_arena_strdup(&a, "next"));
        assert_int_equal(prov_arena_allocated(&a), before);
        prov_arena_done(&a);
}

static void test_move(void **state) {
        ProvArena dst = {}, src = {};
        char *a, *b;

        a = prov_arena_strdup(&dst, "in dst");
        for (int i = 0; i < 3000; i++)
                assert_non_null(prov_arena_strdup(&src, "in src, more than one chunk"));
        b = prov_arena_strdup(&src, "last of src");
        assert_non_null(a);
        assert_non_null(b);

        size_t total = prov_arena_allocated(&dst) + prov_arena_allocated(&src);

        prov_arena_move(&dst, &src);
        assert_null(src.chunks);
        assert_null(src.cur);
        assert_int_equal(prov_arena_allocated(&src), 0);
        assert_int_equal(prov_arena_allocated(&dst), total);
        assert_string_equal(a, "in dst");
        assert_string_equal(b, "last of src");

        /* Both stay usable; moving an empty arena changes nothing. */
        assert_non_null(prov_arena_strdup(&src, "src again"));
        assert_non_null(prov_arena_strdup(&dst, "dst again"));
        prov_arena_move(&src, &(ProvArena) {});
        prov_arena_done(&src);
        prov_arena_done(&dst);
        prov_arena_done(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strings_and_alignment),
                cmocka_unit_test(test_chunks_grow_and_big_requests),
                cmocka_unit_test(test_rollback),
                cmocka_unit_test(test_move),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
