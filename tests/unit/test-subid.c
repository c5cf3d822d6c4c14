/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of the subordinate id ranges (syncd/local.c): parsing of the subuid and subgid
 * files, prov_local_id_taken() and prov_local_ids_taken() at the edges of the ranges, the
 * allocator of syncd/store.c skipping whole ranges (and choosing exactly what it chose before
 * for ids outside them), and the login.defs overlap check. Each test works in its own
 * temporary directory under /tmp, removed afterwards. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "local.h"
#include "prov-util.h"
#include "store.h"

typedef struct Fixture {
        char dir[PATH_MAX];
        char passwd[PATH_MAX], group[PATH_MAX], subuid[PATH_MAX], subgid[PATH_MAX], defs[PATH_MAX];
        char store[PATH_MAX];
} Fixture;

static void path_in(const Fixture *f, const char *name, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s", f->dir, name);
        assert_true(n > 0 && (size_t) n < size);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-subid-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        path_in(f, "passwd", f->passwd, sizeof(f->passwd));
        path_in(f, "group", f->group, sizeof(f->group));
        path_in(f, "subuid", f->subuid, sizeof(f->subuid));
        path_in(f, "subgid", f->subgid, sizeof(f->subgid));
        path_in(f, "login.defs", f->defs, sizeof(f->defs));
        path_in(f, "store.db", f->store, sizeof(f->store));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        const char *files[] = { f->passwd, f->group, f->subuid, f->subgid, f->defs, f->store };
        char p[PATH_MAX + 8];

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                (void) unlink(files[i]);
        snprintf(p, sizeof(p), "%s-wal", f->store);
        (void) unlink(p);
        snprintf(p, sizeof(p), "%s-shm", f->store);
        (void) unlink(p);
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

/* Writes n bytes (so that NULs and bytes that are not UTF-8 can be part of a file). */
static void write_bytes(const char *path, const char *data, size_t n) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

static void write_file(const char *path, const char *text) {
        write_bytes(path, text, strlen(text));
}

/* The Debian 12 layout: useradd gave the first seven regular users 65536 ids each from 100000 on;
 * the 2nd to 7th own 165536..558751, which covers the default uid_min..uid_max. */
static const char DEBIAN_SUBUID[] = "alice:100000:65536\n"
                                    "bob:165536:65536\n"
                                    "carol:231072:65536\n"
                                    "dave:296608:65536\n"
                                    "erin:362144:65536\n"
                                    "frank:427680:65536\n"
                                    "gina:493216:65536\n";

static void write_local(const Fixture *f) {
        write_file(f->passwd, "root:x:0:0::/root:/bin/sh\n"
                              "alice:x:1000:1000::/home/alice:/bin/sh\n"
                              "svc:x:600100:600100::/:/usr/sbin/nologin\n");
        write_file(f->group, "root:x:0:\nalice:x:1000:\nsvcgrp:x:600101:\n");
}

static void test_parse(void **state) {
        Fixture *f = *state;
        ProvLocalAccounts *l = NULL;
        static const char subuid[] =
                "# a comment\n"
                "\n"
                "   \t\n"
                "   # an indented comment\n"
                "alice:100000:65536\n"
                "1001:165536:65536\n"             /* a numeric owner */
                "not a range\n"
                "bob:250000\n"                    /* two fields */
                "carol:abc:10\n"                  /* not a number */
                "dave:300000:0\n"                 /* count 0: no ids */
                "eve:-5:10\n"                     /* negative */
                ":400000:10\n"                    /* no owner */
                "frank:4294967000:100000\n"       /* start + count past 2^32: clipped */
                "gina:500000:10:extra\n"          /* four fields */
                "hank: 600000 :5 \r\n"            /* blanks around the numbers, CRLF */
                "ivan:0750000:8\n"                /* 750000, or 249856 as octal */
                "jack:0x100000:16\n"              /* only a C-notation reading: 1048576 */
                "kim:99999999999999999999999:5\n" /* past 64 bits */
                "lee:4294967296:5\n"              /* start past the id space */
                "max:18446744073709551615:5\n"    /* start at UINT64_MAX */
                "ned:1:18446744073709551615";     /* no newline at the end */

        write_local(f);
        write_file(f->subuid, subuid);
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &l), 0);

        assert_false(prov_local_in_subid_range(l, 0));
        assert_true(prov_local_in_subid_range(l, 1));  /* ned: 1..UINT32_MAX */
        l = prov_local_free(l);

        /* Without ned, each range on its own. */
        write_bytes(f->subuid, subuid, strrchr(subuid, '\n') + 1 - subuid);
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &l), 0);
        assert_false(prov_local_in_subid_range(l, 99999));
        assert_true(prov_local_in_subid_range(l, 100000));
        assert_true(prov_local_in_subid_range(l, 165535));
        assert_true(prov_local_in_subid_range(l, 165536)); /* numeric owner */
        assert_true(prov_local_in_subid_range(l, 231071));
        assert_false(prov_local_in_subid_range(l, 231072));
        assert_false(prov_local_in_subid_range(l, 250000));
        assert_false(prov_local_in_subid_range(l, 300000));
        assert_false(prov_local_in_subid_range(l, 400000));
        assert_false(prov_local_in_subid_range(l, 500000));
        assert_false(prov_local_in_subid_range(l, 4294966999u));
        assert_true(prov_local_in_subid_range(l, 4294967000u));
        assert_true(prov_local_in_subid_range(l, UINT32_MAX));
        assert_false(prov_local_in_subid_range(l, 599999));
        assert_true(prov_local_in_subid_range(l, 600000));
        assert_true(prov_local_in_subid_range(l, 600004));
        assert_false(prov_local_in_subid_range(l, 600005));
        assert_true(prov_local_in_subid_range(l, 750000));
        assert_true(prov_local_in_subid_range(l, 750007));
        assert_false(prov_local_in_subid_range(l, 750008));
        assert_true(prov_local_in_subid_range(l, 249856));
        assert_true(prov_local_in_subid_range(l, 249863));
        assert_false(prov_local_in_subid_range(l, 249864));
        assert_true(prov_local_in_subid_range(l, 1048576)); /* jack */
        assert_false(prov_local_in_subid_range(l, 1048592));
        l = prov_local_free(l);
}

/* Merging, the C-notation reading, missing files. */
static void test_parse_counts(void **state) {
        Fixture *f = *state;
        ProvLocalAccounts *l = NULL;

        write_local(f);
        write_file(f->subuid, "alice:100000:65536\n"
                              "bob:165536:65536\n"  /* touches alice's: merged */
                              "carol:120000:10\n"   /* inside alice's: merged */
                              "jack:0x100000:16\n"
                              "frank:4294967000:100000\n");
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &l), 0);
        assert_int_equal(prov_local_n_subid_ranges(l), 3);
        assert_true(prov_local_in_subid_range(l, 1048576));
        assert_true(prov_local_in_subid_range(l, 1048591));
        assert_false(prov_local_in_subid_range(l, 1048592));
        l = prov_local_free(l);

        /* Missing files are empty; the two-file load reads no ranges at all. */
        assert_int_equal(prov_local_load_files(f->passwd, f->group, "/nonexistent/subuid", "/nonexistent/subgid", &l),
                         0);
        assert_int_equal(prov_local_n_subid_ranges(l), 0);
        assert_true(prov_local_id_taken(1000, l));
        assert_false(prov_local_id_taken(100000, l));
        l = prov_local_free(l);
        assert_int_equal(prov_local_load(f->passwd, f->group, &l), 0);
        assert_int_equal(prov_local_n_subid_ranges(l), 0);
        assert_false(prov_local_id_taken(100000, l));
        l = prov_local_free(l);

        /* A directory where a file should be: an error, not a crash and not "empty". */
        assert_true(prov_local_load_files(f->passwd, f->group, f->dir, NULL, &l) < 0);
        assert_null(l);
}

/* Garbage never crashes the parser: NULs, bytes that are not UTF-8, a very long line. */
static void test_parse_garbage(void **state) {
        Fixture *f = *state;
        ProvLocalAccounts *l = NULL;
        static const char bin[] = "\0\0:1:2\n\xff\xfe:900000:5\n::::\n:\n\x01:2:\n";
        size_t n = 100000;
        char *big = malloc(n + 32);

        assert_non_null(big);
        memset(big, '9', n);
        memcpy(big + n, ":x:1\nzed:910000:1\n", 19); /* a long owner, then a bad start */
        write_local(f);
        write_bytes(f->subuid, bin, sizeof(bin) - 1);
        write_bytes(f->subgid, big, n + 18);
        free(big);
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, f->subgid, &l), 0);
        /* Owners are not checked: any range a line grants is taken. */
        assert_true(prov_local_in_subid_range(l, 900000));
        assert_true(prov_local_in_subid_range(l, 910000));
        assert_false(prov_local_in_subid_range(l, 1));
        assert_false(prov_local_in_subid_range(l, 2));
        assert_int_equal(prov_local_n_subid_ranges(l), 2);
        l = prov_local_free(l);
}

/* Either file guards both spaces, and the local uids and gids join the runs. */
static void test_taken_edges(void **state) {
        Fixture *f = *state;
        ProvLocalAccounts *l = NULL;

        write_file(f->passwd, "root:x:0:0::/root:/bin/sh\n"
                              "a:x:1000:1000::/:/bin/sh\n"
                              "b:x:231072:231072::/:/bin/sh\n"); /* right after bob's range */
        write_file(f->group, "root:x:0:\ng:x:231073:\nh:x:700000:\n");
        write_file(f->subuid, "alice:100000:65536\nbob:165536:65536\n");
        write_file(f->subgid, "carol:800000:100\n");
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, f->subgid, &l), 0);

        assert_false(prov_local_id_taken(99999, l));
        assert_int_equal(prov_local_ids_taken(99999, l), 0);
        assert_true(prov_local_id_taken(100000, l));
        /* 100000..231071 from the files, 231072 a uid, 231073 a gid: one run. */
        assert_int_equal(prov_local_ids_taken(100000, l), 131074);
        assert_int_equal(prov_local_ids_taken(231071, l), 3);
        assert_int_equal(prov_local_ids_taken(231073, l), 1);
        assert_int_equal(prov_local_ids_taken(231074, l), 0);
        assert_false(prov_local_id_taken(231074, l));
        assert_int_equal(prov_local_ids_taken(1000, l), 1);
        assert_int_equal(prov_local_ids_taken(700000, l), 1);
        /* A subgid range is taken as uids too (user private groups have gid = uid). */
        assert_false(prov_local_id_taken(799999, l));
        assert_int_equal(prov_local_ids_taken(800000, l), 100);
        assert_int_equal(prov_local_ids_taken(800099, l), 1);
        assert_false(prov_local_id_taken(800100, l));
        /* uid and gid lookups stay what the passwd and group files say. */
        assert_true(prov_local_has_uid(l, 231072));
        assert_false(prov_local_has_uid(l, 100000));
        assert_false(prov_local_has_gid(l, 800000));
        l = prov_local_free(l);

        /* A run up to the last id: counted without overflow. */
        write_file(f->subuid, "x:4294967000:1000\n");
        write_file(f->subgid, "y:1:4294967295\n");
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &l), 0);
        assert_int_equal(prov_local_ids_taken(4294967000u, l), 296);
        assert_int_equal(prov_local_ids_taken(UINT32_MAX, l), 1);
        l = prov_local_free(l);
        assert_int_equal(prov_local_load_files(f->passwd, f->group, NULL, f->subgid, &l), 0);
        assert_int_equal(prov_local_ids_taken(0, l), UINT32_MAX); /* 0 (root) and all of 1..max */
        assert_int_equal(prov_local_ids_taken(1, l), UINT32_MAX);
        assert_int_equal(prov_local_ids_taken(2, l), UINT32_MAX - 1);
        l = prov_local_free(l);
}

static uint32_t expected_start(const char *owner, uint32_t min, uint32_t max) {
        return (uint32_t) (min + prov_store_owner_hash(owner) % ((uint64_t) max - min + 1));
}

typedef struct Counting {
        ProvLocalAccounts *local;
        unsigned calls, claimed;
} Counting;

/* prov_local_ids_taken() that counts its calls and the calls that found a taken id. */
static uint32_t counting_taken(uint32_t id, void *userdata) {
        Counting *c = userdata;
        uint32_t n = prov_local_ids_taken(id, c->local);

        c->calls++;
        c->claimed += n > 0;
        return n;
}

/* The same rule, one id at a time: what the allocator chose before it could skip a run. */
static uint32_t one_at_a_time(uint32_t id, void *userdata) {
        return prov_local_id_taken(id, userdata);
}

/* A reference of the documented allocation: from the owner's hash upwards, wrapping once, the
 * first id that is neither locally taken nor already handed out. */
static uint32_t reference_pick(const ProvLocalAccounts *l, const uint32_t *given, size_t n_given, const char *owner,
                               uint32_t min, uint32_t max) {
        uint64_t start = expected_start(owner, min, max), range = (uint64_t) max - min + 1;

        for (uint64_t i = 0; i < range; i++) {
                uint32_t id = (uint32_t) (min + (start - min + i) % range);
                bool used = prov_local_id_taken(id, (void *) l);
                for (size_t k = 0; k < n_given && !used; k++)
                        used = given[k] == id;
                if (!used)
                        return id;
        }
        fail_msg("range full");
        return 0;
}

/* A first sync on a Debian host: 300 hashed users into the default range; none lands in a
 * range, those whose hash lands in one get the first free id after it, the others exactly
 * their hash, and the allocator makes one call per taken run, not one per id. */
static void test_allocator_skips_ranges(void **state) {
        Fixture *f = *state;
        /* The default 200000..524287 lies wholly in the ranges (nothing is given out there, see
         * test-subid.py): a range that reaches past them. */
        const uint32_t min = 200000, max = 999999;
        ProvStore *s = NULL;
        Counting c = {};
        uint32_t given[300];
        unsigned in_range = 0, outside = 0;

        write_local(f);
        write_file(f->subuid, DEBIAN_SUBUID);
        assert_int_equal(prov_local_load_config(
                                 &(ProvConfig) { .passwd_file = f->passwd, .group_file = f->group,
                                                 .subuid_file = f->subuid, .subgid_file = f->subgid },
                                 &c.local),
                         0);
        assert_int_equal(prov_store_open(f->store, &s), 0);

        for (size_t i = 0; i < ELEMENTSOF(given); i++) {
                char owner[32];
                uint32_t id = 0, want, start;

                snprintf(owner, sizeof(owner), "user:%zu", i);
                start = expected_start(owner, min, max);
                want = reference_pick(c.local, given, i, owner, min, max);
                c.calls = c.claimed = 0;
                assert_int_equal(prov_store_ledger_allocate(s, PROV_ID_UID, owner, NULL, min, max, true,
                                                            counting_taken, &c, &id),
                                 0);
                assert_int_equal(id, want);
                assert_false(prov_local_id_taken(id, c.local));
                if (prov_local_in_subid_range(c.local, start)) {
                        /* The first free id after the ranges (gina's ends at 558751), found
                         * with one call for the whole run (the ledger's ids are skipped
                         * without one). */
                        in_range++;
                        assert_true(id >= 558752);
                        assert_int_equal(c.claimed, 1);
                        assert_int_equal(c.calls, 2);
                } else if (id == start)
                        outside++;
                given[i] = id;
        }
        /* 358752 of 800000 hashes fall into the ranges: both kinds occurred. */
        assert_true(in_range > 100);
        assert_true(outside > 20);
        s = prov_store_close(s);
        c.local = prov_local_free(c.local);
}

/* Ids outside the ranges come out exactly as before: the same as a callback answering one id
 * at a time, and as no callback at all when no range is near. */
static void test_allocator_unchanged_outside(void **state) {
        Fixture *f = *state;
        const uint32_t min = 200000, max = 524287;
        ProvLocalAccounts *l = NULL;
        ProvStore *a = NULL, *b = NULL, *n = NULL;
        char pa[PATH_MAX], pb[PATH_MAX], pn[PATH_MAX];

        write_local(f);
        write_file(f->subuid, "x:300000:1000\n");
        write_file(f->subgid, "y:400000:1000\n");
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, f->subgid, &l), 0);
        path_in(f, "a.db", pa, sizeof(pa));
        path_in(f, "b.db", pb, sizeof(pb));
        path_in(f, "n.db", pn, sizeof(pn));
        assert_int_equal(prov_store_open(pa, &a), 0);
        assert_int_equal(prov_store_open(pb, &b), 0);
        assert_int_equal(prov_store_open(pn, &n), 0);

        for (unsigned i = 0; i < 200; i++) {
                char owner[32];
                uint32_t ia = 0, ib = 0, in = 0, start;

                snprintf(owner, sizeof(owner), "user:%u", i);
                start = expected_start(owner, min, max);
                assert_int_equal(prov_store_ledger_allocate(a, PROV_ID_UID, owner, NULL, min, max, true,
                                                            prov_local_ids_taken, l, &ia),
                                 0);
                assert_int_equal(prov_store_ledger_allocate(b, PROV_ID_UID, owner, NULL, min, max, true,
                                                            one_at_a_time, l, &ib),
                                 0);
                assert_int_equal(prov_store_ledger_allocate(n, PROV_ID_UID, owner, NULL, min, max, true, NULL,
                                                            NULL, &in),
                                 0);
                assert_int_equal(ia, ib);
                if (!prov_local_in_subid_range(l, start) && !prov_local_in_subid_range(l, in))
                        assert_int_equal(ia, in);
                assert_false(prov_local_in_subid_range(l, ia));
        }

        /* A group's gid (no private group) too, and a hash at a range's first id. */
        uint32_t g1 = 0, g2 = 0;
        assert_int_equal(prov_store_ledger_allocate(a, PROV_ID_GID, "group:x", "x", 300000, 301999, false,
                                                    prov_local_ids_taken, l, &g1),
                         0);
        assert_int_equal(prov_store_ledger_allocate(b, PROV_ID_GID, "group:x", "x", 300000, 301999, false,
                                                    one_at_a_time, l, &g2),
                         0);
        assert_int_equal(g1, g2);
        assert_true(g1 >= 301000);

        a = prov_store_close(a);
        b = prov_store_close(b);
        n = prov_store_close(n);
        unlink(pa), unlink(pb), unlink(pn);
        l = prov_local_free(l);
}

/* A range that runs past uid_max wraps to uid_min; a range covering everything is -ENOSPC with
 * one call; the reservation path (prov_store_user_ids_allocate) agrees with the ledger. */
static void test_allocator_wrap_and_full(void **state) {
        Fixture *f = *state;
        const char *owner = "user:wrap";
        const uint32_t min = 10000, max = 19999;
        uint32_t start = expected_start(owner, min, max), id = 0, id2 = 0;
        ProvStore *s = NULL;
        Counting c = {};
        char line[64];

        assert_int_not_equal(start, min);
        write_local(f);
        /* From the hash to past max: the first free id is min. */
        snprintf(line, sizeof(line), "x:%" PRIu32 ":20000\n", start);
        write_file(f->subuid, line);
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &c.local), 0);
        assert_int_equal(prov_store_open(f->store, &s), 0);
        assert_int_equal(prov_store_begin(s), 0);
        assert_int_equal(prov_store_user_ids_allocate(s, "wrap", min, max, counting_taken, &c, &id2), 0);
        assert_int_equal(prov_store_rollback(s), 0);
        assert_int_equal(prov_store_ledger_allocate(s, PROV_ID_UID, owner, NULL, min, max, true, counting_taken,
                                                    &c, &id),
                         0);
        assert_int_equal(id, min);
        assert_int_equal(id, id2);
        c.local = prov_local_free(c.local);

        /* Everything taken: -ENOSPC after one claimed run per side of the wrap. */
        write_file(f->subuid, "x:1:4000000000\n");
        assert_int_equal(prov_local_load_files(f->passwd, f->group, f->subuid, NULL, &c.local), 0);
        c.calls = 0;
        assert_int_equal(prov_store_ledger_allocate(s, PROV_ID_UID, "user:none", NULL, min, max, true,
                                                    counting_taken, &c, &id),
                         -ENOSPC);
        assert_true(c.calls <= 2);
        s = prov_store_close(s);
        c.local = prov_local_free(c.local);
}

static void test_login_defs_overlap(void **state) {
        Fixture *f = *state;
        ProvSubidPolicy p;

        /* No file: shadow's defaults, which meet the default range. */
        assert_int_equal(prov_local_subid_policy_load("/nonexistent/login.defs", &p), 0);
        assert_int_equal(p.uid_min, 100000);
        assert_int_equal(p.uid_max, 600100000);
        assert_int_equal(p.gid_min, 100000);
        assert_int_equal(p.gid_max, 600100000);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 524287),
                         PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID);
        /* Edges: touching either end meets, one id off does not. */
        assert_int_equal(prov_local_subid_overlap(&p, 1000, 99999), 0);
        assert_int_equal(prov_local_subid_overlap(&p, 1000, 100000), PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID);
        assert_int_equal(prov_local_subid_overlap(&p, 600100000, 700000000),
                         PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID);
        assert_int_equal(prov_local_subid_overlap(&p, 600100001, 700000000), 0);

        /* The advice of provision-syncd.conf(5): subordinate ids from 1000000000 on. */
        write_file(f->defs, "# login.defs\n"
                            "UID_MIN 1000\n"
                            "#SUB_UID_MIN 1\n"
                            "  SUB_UID_MIN\t\t1000000000\n"
                            "SUB_UID_MAX 1600100000\n"
                            "SUB_GID_MIN \"1000000000\"\n"
                            "SUB_GID_MAX 0x5f5e1000\n" /* 1600000000 */
                            "SUB_UID_MINX 5\n");
        assert_int_equal(prov_local_subid_policy_load(f->defs, &p), 0);
        assert_int_equal(p.uid_min, 1000000000);
        assert_int_equal(p.uid_max, 1600100000);
        assert_int_equal(p.gid_min, 1000000000);
        assert_int_equal(p.gid_max, 1600000000);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 524287), 0);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 999999999), 0);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 1000000000),
                         PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID);
        assert_int_equal(prov_local_subid_overlap(&p, 1600000001, 1700000000), PROV_SUBID_OVERLAP_UID);

        /* Only gids meet; a bad value keeps the default; the last of a repeated key counts; a
         * count of 0 hands out nothing. */
        write_file(f->defs, "SUB_UID_MIN 700000000\nSUB_UID_MAX 800000000\n"
                            "SUB_GID_MIN abc\nSUB_GID_MAX -1\n");
        assert_int_equal(prov_local_subid_policy_load(f->defs, &p), 0);
        assert_int_equal(p.gid_min, 100000);
        assert_int_equal(p.gid_max, 600100000);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 524287), PROV_SUBID_OVERLAP_GID);
        write_file(f->defs, "SUB_UID_MIN 1\nSUB_UID_MIN 700000000\nSUB_UID_MAX 800000000\nSUB_GID_COUNT 0\n");
        assert_int_equal(prov_local_subid_policy_load(f->defs, &p), 0);
        assert_int_equal(p.uid_min, 700000000);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 524287), 0);
        /* An inverted range hands out nothing either. */
        write_file(f->defs, "SUB_UID_MIN 600000\nSUB_UID_MAX 500000\nSUB_GID_MIN 2000000000\n"
                            "SUB_GID_MAX 2000000001\n");
        assert_int_equal(prov_local_subid_policy_load(f->defs, &p), 0);
        assert_int_equal(prov_local_subid_overlap(&p, 200000, 524287), 0);

        assert_true(prov_local_subid_policy_load(f->dir, &p) < 0);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_parse),
                T(test_parse_counts),
                T(test_parse_garbage),
                T(test_taken_edges),
                T(test_allocator_skips_ranges),
                T(test_allocator_unchanged_outside),
                T(test_allocator_wrap_and_full),
                T(test_login_defs_overlap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
