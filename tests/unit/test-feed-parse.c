/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's side of the hub's feed (issue 15): prov_scim_parse_hub_feed() and
 * prov_scim_parse_hub_snapshot(). An answer is checked as a whole before anything is kept: a
 * malformed one is -EBADMSG with a reason and yields nothing to apply (the caller keeps its
 * seq); events of one resource collapse into the last; seqs never go back; sizes are bounded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prov-util.h"
#include "scim-parse.h"

#define USER(id, name, active) \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"" id "\",\"userName\":\"" name \
        "\",\"active\":" active "}"
#define GROUP(id, name, members) \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"" id "\",\"displayName\":\"" name \
        "\",\"members\":[" members "]}"
#define UPSERT(seq, type, id, res) \
        "{\"seq\":" seq ",\"op\":\"upsert\",\"resourceType\":\"" type "\",\"id\":\"" id "\",\"resource\":" res "}"
#define DELETE(seq, type, id) "{\"seq\":" seq ",\"op\":\"delete\",\"resourceType\":\"" type "\",\"id\":\"" id "\"}"

static char *mfree_s(char *p) {
        free(p);
        return NULL;
}

/* Parses s after since; returns the result, *ret_feed and *ret_error set. */
static int parse(const char *s, int64_t since, ProvHubFeed **ret_feed, char **ret_error) {
        *ret_feed = NULL;
        *ret_error = NULL;
        return prov_scim_parse_hub_feed(s, strlen(s), NULL, since, ret_feed, ret_error);
}

/* Refused as a whole: -EBADMSG, a reason naming what (want), and nothing to apply. */
static void refused(const char *s, int64_t since, const char *want) {
        ProvHubFeed *f = NULL;
        _cleanup_free_ char *error = NULL;
        int r = parse(s, since, &f, &error);

        if (r != -EBADMSG)
                fail_msg("accepted (%d): %s", r, s);
        assert_null(f);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("reason '%s' does not say '%s'", error, want);
}

static void test_events_in_order(void **state) {
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(parse("{\"seq\":14,\"events\":["
                               UPSERT("11", "User", "u1", USER("u1", "alice", "true")) ","
                               UPSERT("12", "User", "u2", USER("u2", "bob", "false")) ","
                               DELETE("13", "User", "u3") ","
                               UPSERT("14", "Group", "g1", GROUP("g1", "eng", "{\"value\":\"u1\"}")) "]}",
                               10, &f, &error), 0);
        assert_null(error);
        assert_int_equal(f->seq, 14);
        assert_int_equal(f->n_events, 4);
        assert_int_equal(f->batch->n_users, 2);
        assert_string_equal(f->batch->users[0].id, "u1");
        assert_true(f->batch->users[0].active);
        assert_string_equal(f->batch->users[1].id, "u2");
        assert_false(f->batch->users[1].active); /* a deactivation, for the state machine */
        assert_int_equal(f->n_gone_users, 1);
        assert_string_equal(f->gone_users[0], "u3");
        assert_null(f->gone_users[1]);
        assert_int_equal(f->batch->n_groups, 1);
        assert_int_equal(f->batch->groups[0].n_members, 1);
        assert_string_equal(f->batch->groups[0].member_ids[0], "u1");
        assert_int_equal(f->n_gone_groups, 0);
}

/* An empty answer after the wait: the head, nothing to apply; an answer may also skip seqs
 * (collapsed events). */
static void test_empty_and_collapsed(void **state) {
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL, *g = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL;

        assert_int_equal(parse("{\"seq\":7,\"events\":[]}", 7, &f, &error), 0);
        assert_int_equal(f->seq, 7);
        assert_int_equal(f->n_events, 0);
        assert_int_equal(f->batch->n_users + f->batch->n_groups + f->n_gone_users + f->n_gone_groups, 0);

        /* The last event of a resource counts: an upsert then a delete is a delete, a delete then
         * an upsert is the upsert, two upserts the second. */
        assert_int_equal(parse("{\"seq\":20,\"events\":["
                               UPSERT("3", "User", "a", USER("a", "alice", "true")) ","
                               UPSERT("5", "User", "b", USER("b", "bob", "true")) ","
                               DELETE("6", "User", "a") ","
                               DELETE("8", "Group", "g") ","
                               UPSERT("9", "User", "b", USER("b", "bobby", "true")) ","
                               UPSERT("19", "Group", "g", GROUP("g", "ops", "")) "]}",
                               2, &g, &error2), 0);
        assert_int_equal(g->n_events, 6);
        assert_int_equal(g->batch->n_users, 1);
        assert_string_equal(g->batch->users[0].user_name, "bobby");
        assert_int_equal(g->n_gone_users, 1);
        assert_string_equal(g->gone_users[0], "a");
        assert_int_equal(g->batch->n_groups, 1);
        assert_int_equal(g->n_gone_groups, 0);
}

static void test_bad_answers(void **state) {
        refused("", 0, "JSON");
        refused("{\"seq\":3,\"events\":[", 0, "JSON");
        refused("[]", 0, "object");
        refused("{\"events\":[]}", 0, "'seq'");
        refused("{\"seq\":-1,\"events\":[]}", 0, "'seq'");
        refused("{\"seq\":1.5,\"events\":[]}", 0, "'seq'");
        refused("{\"seq\":\"3\",\"events\":[]}", 0, "'seq'");
        refused("{\"seq\":3}", 0, "'events'");
        refused("{\"seq\":3,\"events\":{}}", 0, "'events'");
        refused("{\"seq\":3,\"events\":[42]}", 0, "events[0]: not an object");
        refused("{\"seq\":3,\"events\":[" DELETE("2", "User", "a") ",7]}", 0, "events[1]: not an object");
        refused("{\"seq\":3,\"events\":[{\"op\":\"delete\",\"resourceType\":\"User\",\"id\":\"a\"}]}", 0, "events[0]: 'seq'");
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"remove\",\"resourceType\":\"User\",\"id\":\"a\"}]}", 0, "'op'");
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"delete\",\"resourceType\":\"Device\",\"id\":\"a\"}]}", 0,
                "'resourceType'");
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"delete\",\"resourceType\":\"User\"}]}", 0, "events[0]");
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"delete\",\"resourceType\":\"User\",\"id\":\"\"}]}", 0, "events[0]");
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"delete\",\"resourceType\":\"User\",\"id\":\"a\\nb\"}]}", 0,
                "events[0]");
        /* An upsert needs its resource, with the same id. */
        refused("{\"seq\":3,\"events\":[{\"seq\":2,\"op\":\"upsert\",\"resourceType\":\"User\",\"id\":\"a\"}]}", 0,
                "needs the resource");
        refused("{\"seq\":3,\"events\":[" UPSERT("2", "User", "a", USER("b", "bob", "true")) "]}", 0, "needs the resource");
        refused("{\"seq\":3,\"events\":[" UPSERT("2", "User", "a", "[]") "]}", 0, "needs the resource");
}

/* One bad event anywhere refuses the answer: the good ones before it are not applied either. */
static void test_bad_event_applies_nothing(void **state) {
        refused("{\"seq\":12,\"events\":["
                UPSERT("10", "User", "u1", USER("u1", "alice", "false")) ","
                DELETE("11", "User", "u2") ","
                "{\"seq\":12,\"op\":\"upsert\",\"resourceType\":\"User\",\"id\":\"u3\"}]}",
                9, "events[2]");
}

/* Seqs never go back: not the answer's, not an event's, and none beyond the answer's. */
static void test_seq_order(void **state) {
        refused("{\"seq\":4,\"events\":[]}", 5, "behind since=5");
        refused("{\"seq\":9,\"events\":[" DELETE("5", "User", "a") "]}", 5, "not after 5");
        refused("{\"seq\":9,\"events\":[" DELETE("3", "User", "a") "]}", 5, "not after 5");
        refused("{\"seq\":9,\"events\":[" DELETE("7", "User", "a") "," DELETE("7", "User", "b") "]}", 5, "events[1]");
        refused("{\"seq\":9,\"events\":[" DELETE("8", "User", "a") "," DELETE("6", "User", "b") "]}", 5, "events[1]");
        refused("{\"seq\":9,\"events\":[" DELETE("10", "User", "a") "]}", 5, "at most the answer's 9");
        /* More events than seqs between since and the answer's seq. */
        refused("{\"seq\":6,\"events\":[" DELETE("6", "User", "a") "," DELETE("6", "User", "b") "]}", 5, "events");
        /* Beyond what a JSON number holds exactly. */
        refused("{\"seq\":9007199254740994,\"events\":[]}", 0, "'seq'");
        refused("{\"seq\":1e20,\"events\":[]}", 0, "'seq'");
}

/* Bounded: a document over max_bytes is refused before it is parsed. */
static void test_bounded(void **state) {
        _cleanup_free_ char *big = NULL, *error = NULL;
        ProvHubFeed *f = NULL;
        size_t n = 4096;

        big = malloc(n + 1);
        assert_non_null(big);
        memset(big, ' ', n);
        memcpy(big, "{\"seq\":1,\"events\":[]}", strlen("{\"seq\":1,\"events\":[]}"));
        big[n] = '\0';
        assert_int_equal(prov_scim_parse_hub_feed(big, n, &(ProvScimParseOptions) { .max_bytes = n - 1 }, 0, &f,
                                                  &error),
                         -EBADMSG);
        assert_null(f);
        assert_non_null(strstr(error, "at most 4095 bytes"));
        error = mfree_s(error);
        assert_int_equal(prov_scim_parse_hub_feed(big, n, &(ProvScimParseOptions) { .max_bytes = n }, 0, &f, &error), 0);
        assert_int_equal(f->seq, 1);
        f = prov_hub_feed_free(f);
        /* No reason wanted: still refused. */
        assert_int_equal(prov_scim_parse_hub_feed("{}", 2, NULL, 0, &f, NULL), -EBADMSG);
        assert_null(f);
        assert_null(prov_hub_feed_free(NULL));
}

/* A bad resource in a well-formed event is a reject like any source's, not a refused answer. */
static void test_bad_resource_is_reject(void **state) {
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(parse("{\"seq\":2,\"events\":["
                               UPSERT("2", "User", "u1", "{\"id\":\"u1\",\"userName\":7}") "]}", 0, &f, &error), 0);
        assert_int_equal(f->seq, 2);
        assert_int_equal(f->batch->n_rejects, 1);
        assert_string_equal(f->batch->rejects[0].id, "u1");
}

static void test_snapshot(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimBatch *none = NULL;
        const char *s = "{\"seq\":42,\"Users\":[" USER("u1", "alice", "true") "],\"Groups\":["
                        GROUP("g1", "eng", "{\"value\":\"u1\"}") "]}";
        int64_t seq = -1;

        assert_int_equal(prov_scim_parse_hub_snapshot(s, strlen(s), NULL, &seq, &b), 0);
        assert_int_equal(seq, 42);
        assert_int_equal(b->n_users, 1);
        assert_int_equal(b->n_groups, 1);
        seq = -1;
        assert_int_equal(prov_scim_parse_hub_snapshot("{\"Users\":[]}", 12, NULL, &seq, &none), -EBADMSG);
        assert_int_equal(prov_scim_parse_hub_snapshot("{\"seq\":-3,\"Users\":[]}", 22, NULL, &seq, &none), -EBADMSG);
        assert_null(none);
        assert_int_equal(seq, -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_events_in_order),
                cmocka_unit_test(test_empty_and_collapsed),
                cmocka_unit_test(test_bad_answers),
                cmocka_unit_test(test_bad_event_applies_nothing),
                cmocka_unit_test(test_seq_order),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_bad_resource_is_reject),
                cmocka_unit_test(test_snapshot),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
