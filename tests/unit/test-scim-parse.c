/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

#define POSIX_URN "urn:ietf:params:scim:schemas:extension:posix:2.0:User"
#define ENTERPRISE_URN "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static char *read_fixture(const char *name, size_t *ret_len) {
        _cleanup_free_ char *path = NULL;
        char *buf;
        FILE *f;
        long n;

        assert_true(asprintf(&path, "%s/tests/fixtures/scim/%s", getenv("top_srcdir"), name) > 0);
        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        *ret_len = (size_t) n;
        return buf;
}

static const ProvScimUser *find_user(const ProvScimBatch *b, const char *id) {
        for (size_t i = 0; i < b->n_users; i++)
                if (streq(b->users[i].id, id))
                        return &b->users[i];
        return NULL;
}

static const ProvScimGroup *find_group(const ProvScimBatch *b, const char *id) {
        for (size_t i = 0; i < b->n_groups; i++)
                if (streq(b->groups[i].id, id))
                        return &b->groups[i];
        return NULL;
}

static const ProvScimReject *find_reject(const ProvScimBatch *b, const char *kind, const char *id) {
        for (size_t i = 0; i < b->n_rejects; i++)
                if (streq(b->rejects[i].kind, kind) && streq_ptr(b->rejects[i].id, id))
                        return &b->rejects[i];
        return NULL;
}

/* A record may have several rejects (an unservable group and its bad member entries): any one
 * of them may carry the reason. */
static void assert_rejected(const ProvScimBatch *b, const char *kind, const char *id, const char *reason) {
        const ProvScimReject *r = find_reject(b, kind, id);

        if (!r)
                fail_msg("%s %s was not rejected", kind, id ?: "(no id)");
        for (size_t i = 0; i < b->n_rejects; i++)
                if (streq(b->rejects[i].kind, kind) && streq_ptr(b->rejects[i].id, id) &&
                    strstr(b->rejects[i].reason, reason))
                        return;
        fail_msg("%s %s rejected for \"%s\", expected \"%s\"", kind, id ?: "(no id)", r->reason, reason);
}

static int parse_dir_str(const char *json, const ProvScimParseOptions *o, ProvScimBatch **ret) {
        return prov_scim_parse_directory(json, strlen(json), o, ret);
}

static void test_directory_arrays(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *json = NULL;
        const ProvScimUser *u;
        const ProvScimGroup *g;
        size_t len;

        json = read_fixture("directory-arrays.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, NULL, &b), 0);
        assert_int_equal(b->n_users, 3);
        assert_int_equal(b->n_groups, 2);
        assert_int_equal(b->n_rejects, 0);

        /* Order of the document is kept. */
        assert_string_equal(b->users[0].id, "2819c223-7f76-453a-919d-413861904646");
        u = &b->users[0];
        assert_string_equal(u->user_name, "bjensen@example.com");
        assert_string_equal(u->display_name, "Ms. Barbara J Jensen III");    /* name.formatted */
        assert_true(u->active);
        assert_false(u->has_uid);
        assert_false(u->has_gid);
        assert_null(u->home);
        assert_null(u->shell);

        u = &b->users[1];
        assert_string_equal(u->display_name, "John Smith");                   /* given + family */
        assert_true(u->active);                                                /* absent = true */

        u = &b->users[2];
        assert_string_equal(u->display_name, "Old Timer");
        assert_false(u->active);

        g = find_group(b, "e9e30dba-f08f-4109-8486-d5c6a331660a");
        assert_non_null(g);
        assert_string_equal(g->display_name, "Tour Guides");
        /* type "Group" excluded, "User"/"user" and absent kept, duplicates merged, sorted. */
        assert_int_equal(g->n_members, 2);
        assert_string_equal(g->member_ids[0], "2819c223-7f76-453a-919d-413861904646");
        assert_string_equal(g->member_ids[1], "c75ad752-64ae-4823-840d-ffa80929976c");
        assert_false(g->has_gid);

        g = find_group(b, "fc348aa8-3835-40eb-a20b-c726e15c55b5");
        assert_non_null(g);
        assert_int_equal(g->n_members, 0);
}

static void test_directory_list_response(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *json = NULL;
        size_t len;

        json = read_fixture("directory-listresponse.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, NULL, &b), 0);
        assert_int_equal(b->n_users, 2);
        assert_int_equal(b->n_groups, 1);
        assert_int_equal(b->n_rejects, 0);
        assert_string_equal(find_user(b, "u-2")->display_name, "Bob");
        assert_int_equal(b->groups[0].n_members, 2);
        assert_string_equal(b->groups[0].member_ids[0], "u-1");
        assert_null(b->next_cursor);
}

static void test_directory_empty_and_missing(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL, *b2 = NULL, *b3 = NULL;
        _cleanup_free_ char *json = NULL;
        size_t len;

        json = read_fixture("empty-object.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, NULL, &b), 0);
        assert_int_equal(b->n_users, 0);
        assert_int_equal(b->n_groups, 0);
        assert_int_equal(b->n_rejects, 0);

        assert_int_equal(parse_dir_str("{\"Groups\":[]}", NULL, &b2), 0);
        assert_int_equal(b2->n_users, 0);
        assert_int_equal(parse_dir_str("{\"Users\":null,\"Other\":5}", NULL, &b3), 0);
        assert_int_equal(b3->n_users, 0);
}

static void test_sample_directory(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *json = NULL;
        ProvScimParseOptions o = { .uid_attribute = POSIX_URN ":uidNumber" };
        size_t len, inactive = 0, with_uid = 0;
        const char *names[] = { "engineering", "sre", "sales", "finance", "admins" };

        json = read_fixture("sample-directory.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, &o, &b), 0);
        assert_int_equal(b->n_rejects, 0);
        assert_true(b->n_users >= 30);
        assert_int_equal(b->n_groups, 5);
        for (size_t i = 0; i < b->n_users; i++) {
                inactive += !b->users[i].active;
                with_uid += b->users[i].has_uid;
        }
        assert_true(inactive >= 2);
        assert_true(with_uid > 0 && with_uid < b->n_users);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                bool found = false;

                for (size_t k = 0; k < b->n_groups; k++)
                        if (streq(b->groups[k].display_name, names[i]))
                                found = b->groups[k].n_members > 0;
                assert_true(found);
        }
        assert_string_equal(b->users[0].user_name, "alice.martin@example.com");
}

static void test_entra_style_user(void **state) {
        _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;
        _cleanup_free_ char *json = NULL;
        ProvScimParseOptions o = { .uid_attribute = ENTERPRISE_URN ":employeeNumber" };
        size_t len;

        json = read_fixture("entra-user.json", &len);
        assert_int_equal(prov_scim_parse_user(json, len, &o, &u), 0);
        /* Upper-case attribute names everywhere, "active": "False". */
        assert_string_equal(u->id, "48af03ac28ad4fb88478");
        assert_string_equal(u->user_name, "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com");
        assert_false(u->active);
        assert_string_equal(u->display_name, "Test User");
        /* The enterprise extension's EmployeeNumber, a numeric string. */
        assert_true(u->has_uid);
        assert_int_equal(u->uid, 701984);
        assert_false(u->has_gid);
}

static void test_posix_extension(void **state) {
        _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL, *u2 = NULL;
        _cleanup_free_ char *json = NULL;
        ProvScimParseOptions o = {
                .uid_attribute = POSIX_URN ":uidNumber",
                .gid_attribute = POSIX_URN ":gidNumber",
        };
        ProvScimParseOptions wrong = { .uid_attribute = "uidNumber" };
        size_t len;

        json = read_fixture("posix-user.json", &len);
        assert_int_equal(prov_scim_parse_user(json, len, &o, &u), 0);
        assert_true(u->has_uid);
        assert_int_equal(u->uid, 310001);
        assert_true(u->has_gid);
        assert_int_equal(u->gid, 310001);                      /* numeric string */
        assert_string_equal(u->home, "/home/carol");           /* found inside the extension */
        assert_string_equal(u->shell, "/usr/bin/zsh");

        /* A root-level "uidNumber" does not exist in this resource. */
        assert_int_equal(prov_scim_parse_user(json, len, &wrong, &u2), 0);
        assert_false(u2->has_uid);
}

static void test_attribute_paths(void **state) {
        static const struct {
                const char *attr;
                const char *json;
                int has;        /* 1 present, 0 absent, -1 resource unservable */
                int64_t value;
        } cases[] = {
                { "uidNumber", "{\"id\":\"a\",\"userName\":\"a\",\"UIDNUMBER\":5001}", 1, 5001 },
                { "x.y.z", "{\"id\":\"a\",\"userName\":\"a\",\"X\":{\"y\":{\"Z\":\"77\"}}}", 1, 77 },
                { "x.y.z", "{\"id\":\"a\",\"userName\":\"a\",\"x\":{\"y\":{}}}", 0, 0 },
                { "x.y.z", "{\"id\":\"a\",\"userName\":\"a\",\"x\":{\"y\":5}}", -1, 0 },
                { "x.y.z", "{\"id\":\"a\",\"userName\":\"a\",\"x\":null}", 0, 0 },
                /* Flattened extension key at the root when the URN object is missing. */
                { "urn:ex:User:num", "{\"id\":\"a\",\"userName\":\"a\",\"urn:ex:User:num\":12}", 1, 12 },
                { "urn:ex:User:num", "{\"id\":\"a\",\"userName\":\"a\",\"URN:EX:USER\":{\"NUM\":13}}", 1, 13 },
                { "urn:ex:User:num", "{\"id\":\"a\",\"userName\":\"a\",\"urn:ex:User\":\"str\"}", -1, 0 },
                { "urn:ex:User:a.b", "{\"id\":\"a\",\"userName\":\"a\",\"urn:ex:User\":{\"a\":{\"b\":-3}}}", 1, -3 },
                /* Numbers: integers within int64, strict numeric strings. */
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":1.5}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":1e30}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":-1e300}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"12a\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\" 12\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"+12\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"-\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"99999999999999999999\"}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"9223372036854775807\"}", 1, INT64_MAX },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":\"-42\"}", 1, -42 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":0}", 1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":4294967296}", 1, 4294967296 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":true}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":[1]}", -1, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":null}", 0, 0 },
                { "n", "{\"id\":\"a\",\"userName\":\"a\",\"n\":1,\"N\":2}", -1, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;
                ProvScimParseOptions o = { .uid_attribute = cases[i].attr };
                int r;

                r = prov_scim_parse_user(cases[i].json, strlen(cases[i].json), &o, &u);
                if (r != 0)
                        fail_msg("case %zu (%s): expected success, got %d", i, cases[i].json, r);
                assert_string_equal(u->id, "a");
                if (cases[i].has < 0) {
                        /* It exists (unlike a 404) but cannot be served: only id and active. */
                        if (!u->unservable || !strstr(u->unservable, "attribute '"))
                                fail_msg("case %zu (%s): expected unservable, got %s", i, cases[i].json,
                                         u->unservable ?: "(servable)");
                        assert_null(u->user_name);
                        assert_false(u->has_uid);
                        assert_true(u->active);
                        continue;
                }
                assert_null(u->unservable);
                assert_string_equal(u->user_name, "a");
                assert_int_equal(u->has_uid, cases[i].has);
                if (cases[i].has)
                        assert_true(u->uid == cases[i].value);
        }
}

/* Expects the user with this id to be unservable for a reason containing reason, with only id
 * and active set, and a reject with the same reason. */
static const ProvScimUser *assert_unservable_user(const ProvScimBatch *b, const char *id, bool active,
                                                  const char *reason) {
        const ProvScimUser *u = find_user(b, id);

        if (!u)
                fail_msg("user %s was dropped", id);
        if (!u->unservable || !strstr(u->unservable, reason))
                fail_msg("user %s: unservable \"%s\", expected \"%s\"", id, u->unservable ?: "(null)", reason);
        assert_int_equal(u->active, active);
        assert_null(u->user_name);
        assert_null(u->display_name);
        assert_null(u->home);
        assert_null(u->shell);
        assert_false(u->has_uid);
        assert_false(u->has_gid);
        assert_rejected(b, "user", id, u->unservable);
        return u;
}

static const ProvScimGroup *assert_unservable_group(const ProvScimBatch *b, const char *id, const char *reason) {
        const ProvScimGroup *g = find_group(b, id);

        if (!g)
                fail_msg("group %s was dropped", id);
        if (!g->unservable || !strstr(g->unservable, reason))
                fail_msg("group %s: unservable \"%s\", expected \"%s\"", id, g->unservable ?: "(null)", reason);
        assert_null(g->display_name);
        assert_false(g->has_gid);
        assert_rejected(b, "group", id, g->unservable);
        return g;
}

static void test_bad_resources(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *json = NULL;
        const ProvScimGroup *g;
        size_t len;

        json = read_fixture("bad-resources.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, NULL, &b), 0);

        /* Every resource with a readable id stays, in document order; the duplicate goes. */
        assert_int_equal(b->n_users, 4 + 12);
        assert_string_equal(b->users[0].id, "good-1");
        assert_string_equal(b->users[0].user_name, "good1@example.com");     /* first one kept */
        assert_null(b->users[0].unservable);
        assert_string_equal(b->users[1].id, "bad-1");
        assert_string_equal(b->users[13].id, "good-2");
        assert_null(b->users[13].unservable);
        assert_false(b->users[13].active);                                    /* 0 */
        assert_null(b->users[13].display_name);                               /* null = absent */
        assert_true(b->users[14].active);                                     /* 1 */
        assert_true(b->users[15].active);                                     /* "TRUE" */

        /* No readable id: rejected as before. */
        assert_rejected(b, "user", NULL, "'id': missing");
        assert_rejected(b, "user", "", "'id': empty");
        assert_rejected(b, "user", "bad?3", "'id': invalid UTF-8 or control character");
        assert_null(find_user(b, "bad\n3"));

        assert_unservable_user(b, "bad-1", true, "'userName': not a string");
        assert_unservable_user(b, "bad-2", true, "'userName': invalid UTF-8 or control character");
        /* An unreadable active never keeps anyone active. */
        assert_unservable_user(b, "bad-4", false, "'active': not a boolean");
        assert_unservable_user(b, "bad-5", false, "'active': not a boolean");
        assert_unservable_user(b, "bad-6", false, "'active': not a boolean");
        assert_unservable_user(b, "bad-7", true, "'schemas': does not contain");
        assert_unservable_user(b, "bad-8", true, "'schemas': not an array");
        assert_unservable_user(b, "bad-9", true, "'userName': given more than once");
        assert_unservable_user(b, "bad-10", true, "'name': not an object");
        assert_unservable_user(b, "bad-11", true, "'homeDirectory': invalid UTF-8 or control character");
        assert_unservable_user(b, "bad-12", true, "'meta': not an object");
        assert_unservable_user(b, "bad-13", true, "'lastModified': not a string");
        assert_rejected(b, "user", "good-1", "duplicate id");

        assert_int_equal(b->n_groups, 6);
        g = find_group(b, "g-good");
        assert_string_equal(g->display_name, "good");                         /* first one kept */
        assert_null(g->unservable);
        g = assert_unservable_group(b, "g-bad-1", "'displayName': missing");
        assert_false(g->members_unknown);                                     /* no members at all */
        assert_null(g->member_ids);
        g = assert_unservable_group(b, "g-bad-2", "'members': not an array");
        assert_true(g->members_unknown);
        assert_null(g->member_ids);
        assert_int_equal(g->n_members, 0);
        assert_unservable_group(b, "g-bad-5", "'schemas': does not contain");
        /* A bad member entry is skipped and reported; the group stays servable. */
        g = find_group(b, "g-bad-3");
        assert_null(g->unservable);
        assert_string_equal(g->display_name, "member-no-value");
        assert_int_equal(g->n_members, 0);
        assert_rejected(b, "group", "g-bad-3", "members[0]: attribute 'value': missing");
        g = find_group(b, "g-bad-4");
        assert_null(g->unservable);
        assert_int_equal(g->n_members, 0);
        assert_rejected(b, "group", "g-bad-4", "members[0]: not an object");
        assert_rejected(b, "group", "g-good", "duplicate id");
        /* 3 users without a readable id + the numeric id + the non-object resource, 12 unservable
         * users, 1 duplicate; 3 unservable groups, 2 member entries, 1 duplicate. */
        assert_int_equal(b->n_rejects, 5 + 12 + 1 + 3 + 2 + 1);
}

/* A 1 MiB string is refused for that resource only, without trouble for the others. */
static void test_huge_string(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *json = NULL;
        const size_t big = 1024 * 1024;
        size_t n;

        json = malloc(big * 2 + 256);
        assert_non_null(json);
        n = (size_t) sprintf(json, "{\"Users\":[{\"id\":\"big\",\"userName\":\"big\",\"displayName\":\"");
        memset(json + n, 'x', big);
        n += big;
        n += (size_t) sprintf(json + n, "\"},{\"id\":\"big2\",\"userName\":\"");
        memset(json + n, 'y', big);
        n += big;
        n += (size_t) sprintf(json + n, "\"},{\"id\":\"ok\",\"userName\":\"ok\"}]}");

        assert_int_equal(prov_scim_parse_directory(json, n, NULL, &b), 0);
        assert_int_equal(b->n_users, 3);
        assert_null(find_user(b, "ok")->unservable);
        assert_unservable_user(b, "big", true, "'displayName': longer than 4096 bytes");
        assert_unservable_user(b, "big2", true, "'userName': longer than 255 bytes");
}

static char *nested(size_t depth, const char *open, const char *close, const char *inner) {
        size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
        char *s = malloc(depth * (lo + lc) + li + 1), *p = s;

        assert_non_null(s);
        for (size_t i = 0; i < depth; i++)
                p = mempcpy(p, open, lo);
        p = mempcpy(p, inner, li);
        for (size_t i = 0; i < depth; i++)
                p = mempcpy(p, close, lc);
        *p = 0;
        return s;
}

/* Nesting 10000 deep never reaches cJSON's recursion: the container at max_depth becomes an
 * invalid value, so only what holds it is affected. */
static void test_deep_nesting(void **state) {
        _cleanup_free_ char *arrays = nested(10000, "[", "]", ""), *objects = nested(10000, "{\"a\":", "}", "1");
        _cleanup_free_ char *in_user = NULL, *ok = NULL, *detail = NULL;
        _cleanup_free_ char *deep33 = nested(31, "{\"a\":", "}", "1");
        ProvScimBatch *b = NULL;
        ProvScimUser *u = NULL;

        /* Not an object, or not a ListResponse, once repaired: the document fails as before. */
        assert_int_equal(prov_scim_parse_directory(arrays, strlen(arrays), NULL, &b), -EBADMSG);
        assert_int_equal(prov_scim_parse_list(objects, strlen(objects), false, NULL, &b), -EBADMSG);
        assert_int_equal(prov_scim_parse_list(arrays, strlen(arrays), false, NULL, &b), -EBADMSG);
        assert_int_equal(prov_scim_parse_user(arrays, strlen(arrays), NULL, &u), -EBADMSG);
        /* A deep attribute of an object is one unknown attribute. */
        assert_int_equal(prov_scim_parse_directory(objects, strlen(objects), NULL, &b), 0);
        assert_int_equal(b->n_users, 0);
        assert_int_equal(b->n_rejects, 0);
        b = prov_scim_batch_free(b);
        assert_int_equal(prov_scim_parse_error(objects, strlen(objects), &detail), 0);
        assert_string_equal(detail, "status unknown");

        /* 1 (document) + 1 (Users) + 1 (user) + 31 = 34 levels: over 32, in an attribute we do
         * not read. */
        assert_true(asprintf(&in_user, "{\"Users\":[{\"id\":\"a\",\"userName\":\"a\",\"x\":%s}]}", deep33) > 0);
        assert_int_equal(prov_scim_parse_directory(in_user, strlen(in_user), NULL, &b), 0);
        assert_int_equal(b->n_users, 1);
        assert_null(b->users[0].unservable);
        b = prov_scim_batch_free(b);
        /* The same as the uid attribute: what is left there is no integer. */
        assert_int_equal(prov_scim_parse_directory(in_user, strlen(in_user), &(ProvScimParseOptions) { .uid_attribute = "x" },
                                                   &b), 0);
        assert_unservable_user(b, "a", true, "attribute 'x': not an integer");
        b = prov_scim_batch_free(b);
        /* With a higher limit it parses as it is. */
        assert_int_equal(prov_scim_parse_directory(in_user, strlen(in_user),
                                                   &(ProvScimParseOptions) { .max_depth = 34 }, &b), 0);
        assert_int_equal(b->n_users, 1);
        assert_null(b->users[0].unservable);
        b = prov_scim_batch_free(b);

        /* The shortest container that goes too deep, "[[]]", still becomes a value: here a
         * resource that is not an object, a reject without an id. */
        assert_int_equal(parse_dir_str("{\"Users\":[[[]],{\"id\":\"b\",\"userName\":\"b\"}]}",
                                       &(ProvScimParseOptions) { .max_depth = 3 }, &b), 0);
        assert_int_equal(b->n_users, 1);
        assert_string_equal(b->users[0].id, "b");
        assert_rejected(b, "user", NULL, "resource is not an object");
        b = prov_scim_batch_free(b);

        /* Brackets inside strings do not count. */
        assert_true(asprintf(&ok, "{\"Users\":[{\"id\":\"[[[[{{{{\",\"userName\":\"a]]}}\\\"[[\"}]}") > 0);
        assert_int_equal(prov_scim_parse_directory(ok, strlen(ok), &(ProvScimParseOptions) { .max_depth = 3 }, &b), 0);
        assert_int_equal(b->n_users, 1);
        assert_string_equal(b->users[0].user_name, "a]]}}\"[[");
        b = prov_scim_batch_free(b);
        /* ... nor when a repair is made elsewhere in the same document. */
        assert_int_equal(parse_dir_str("{\"Users\":[{\"id\":\"[[{\\\\\",\"userName\":\"a\",\"x\":[[[1]]]},"
                                       "{\"id\":\"]]\",\"userName\":\"b\"}]}",
                                       &(ProvScimParseOptions) { .max_depth = 5 }, &b), 0);
        assert_int_equal(b->n_users, 2);
        assert_string_equal(b->users[0].id, "[[{\\");
        assert_null(b->users[0].unservable);
        assert_string_equal(b->users[1].user_name, "b");
        prov_scim_batch_free(b);
}

/* fmt with its one "%s" replaced by value (the templates are data, not format strings). */
static char *subst(const char *fmt, const char *value) {
        const char *at = strstr(fmt, "%s");
        char *s;

        assert_non_null(at);
        assert_true(asprintf(&s, "%.*s%s%s", (int) (at - fmt), fmt, value, at + 2) > 0);
        return s;
}

/* A JSON value of its own kind, as text, for the hostile matrix. */
typedef struct Hostile {
        const char *name;
        char *json;
        bool container; /* a container even after the repair (a deep one at default limits) */
} Hostile;

static void hostile_values(Hostile ret[static 9]) {
        char num[71], dec[71];

        memset(num, '0', 70);
        num[0] = '1';
        num[70] = 0;
        memset(dec, '0', 70);
        dec[1] = '.';
        dec[69] = '1';
        dec[70] = 0;
        ret[0] = (Hostile) { "nul-escape", strdup("\"Chief \\u0000 Officer\"") };
        ret[1] = (Hostile) { "lone-high", strdup("\"\\ud800\"") };
        ret[2] = (Hostile) { "lone-low", strdup("\"x\\udc00y\"") };
        ret[3] = (Hostile) { "high-high", strdup("\"\\ud800\\ud800\"") };
        ret[4] = (Hostile) { "high-then-pair", strdup("\"\\uD83D\\uD83D\\uDE00\"") };
        ret[5] = (Hostile) { "70-digit-number", strdup(num) };
        ret[6] = (Hostile) { "70-char-decimal", strdup(dec) };
        ret[7] = (Hostile) { "400-deep-arrays", nested(400, "[", "]", ""), true };
        ret[8] = (Hostile) { "400-deep-objects", nested(400, "{\"a\":", "}", "\"\\ud800\""), true };
        for (size_t i = 0; i < 9; i++)
                assert_non_null(ret[i].json);
}

typedef enum Expect {
        EXPECT_SERVABLE,        /* the hostile value is in an attribute nobody reads */
        EXPECT_UNSERVABLE,      /* kept with id and active, reason names the attribute */
        EXPECT_NO_ID,           /* rejected without a record */
} Expect;

/* Each hostile value in each place of a user, on a ListResponse page between good users: the
 * page parses, the good users are intact, the hostile one is what the place says. The same
 * resources in a directory file, and the user alone through prov_scim_parse_user(). */
static void test_hostile_user_values(void **state) {
        static const struct {
                const char *fmt;        /* the hostile resource, %s the value */
                Expect expect;
                bool active;
                const char *reason;     /* for EXPECT_UNSERVABLE */
        } places[] = {
                { "{\"id\":\"h\",\"userName\":\"h\",\"title\":%s}", EXPECT_SERVABLE, true, NULL },
                { "{\"id\":\"h\",\"userName\":\"h\",\"" ENTERPRISE_URN "\":{\"manager\":{\"displayName\":%s}}}",
                  EXPECT_SERVABLE, true, NULL },
                { "{\"id\":\"h\",\"userName\":\"h\",\"emails\":[{\"value\":%s,\"primary\":true}]}", EXPECT_SERVABLE, true, NULL },
                { "{\"id\":\"h\",\"userName\":\"h\",\"displayName\":%s}", EXPECT_UNSERVABLE, true, "'displayName'" },
                { "{\"id\":\"h\",\"userName\":%s}", EXPECT_UNSERVABLE, true, "'userName'" },
                { "{\"id\":\"h\",\"userName\":\"h\",\"name\":{\"givenName\":%s}}", EXPECT_UNSERVABLE, true, "'givenName'" },
                { "{\"id\":\"h\",\"userName\":\"h\",\"" POSIX_URN "\":{\"uidNumber\":%s}}", EXPECT_UNSERVABLE, true,
                  "'" POSIX_URN ":uidNumber': not an integer" },
                { "{\"id\":\"h\",\"userName\":\"h\",\"" POSIX_URN "\":{\"loginShell\":%s}}", EXPECT_UNSERVABLE, true,
                  "'loginShell'" },
                { "{\"id\":\"h\",\"userName\":\"h\",\"active\":%s}", EXPECT_UNSERVABLE, false, "'active': not a boolean" },
                /* active: false still reads when something else is unusable. */
                { "{\"id\":\"h\",\"active\":false,\"userName\":\"h\",\"displayName\":%s}", EXPECT_UNSERVABLE, false,
                  "'displayName'" },
                { "{\"id\":\"h\",\"active\":\"False\",\"userName\":%s}", EXPECT_UNSERVABLE, false, "'userName'" },
                { "{\"id\":%s,\"userName\":\"h\"}", EXPECT_NO_ID, false, NULL },
        };
        const ProvScimParseOptions o = { .uid_attribute = POSIX_URN ":uidNumber" };
        Hostile values[9];

        hostile_values(values);
        for (size_t v = 0; v < ELEMENTSOF(values); v++)
                for (size_t p = 0; p < ELEMENTSOF(places); p++) {
                        _cleanup_free_ char *res = NULL, *page = NULL, *dir = NULL, *copy = NULL;
                        _cleanup_(prov_scim_user_freep) ProvScimUser *alone = NULL;
                        const bool in_container = values[v].container && places[p].expect != EXPECT_SERVABLE;

                        res = subst(places[p].fmt, values[v].json);
                        assert_true(asprintf(&page,
                                             "{\"schemas\":[\"" PROV_SCIM_SCHEMA_LIST "\"],\"totalResults\":3,\"Resources\":["
                                             "{\"id\":\"good-1\",\"userName\":\"g1\",\"displayName\":\"G \\ud83d\\ude00\","
                                             "\"" POSIX_URN "\":{\"uidNumber\":5001}},%s,"
                                             "{\"id\":\"good-2\",\"userName\":\"g2\",\"active\":false}]}", res) > 0);
                        assert_true(asprintf(&dir, "{\"Users\":[{\"id\":\"good-1\",\"userName\":\"g1\",\"displayName\":"
                                             "\"G \\ud83d\\ude00\",\"" POSIX_URN "\":{\"uidNumber\":5001}},%s,"
                                             "{\"id\":\"good-2\",\"userName\":\"g2\",\"active\":false}]}", res) > 0);
                        copy = strdup(page);
                        assert_non_null(copy);

                        for (int k = 0; k < 2; k++) {
                                _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
                                const ProvScimUser *g1, *g2, *h;
                                int r = k == 0 ? prov_scim_parse_list(page, strlen(page), false, &o, &b)
                                               : prov_scim_parse_directory(dir, strlen(dir), &o, &b);

                                if (r != 0)
                                        fail_msg("%s in place %zu (%s): %s failed: %d", values[v].name, p, places[p].fmt,
                                                 k == 0 ? "page" : "directory", r);
                                g1 = find_user(b, "good-1");
                                g2 = find_user(b, "good-2");
                                assert_non_null(g1);
                                assert_non_null(g2);
                                assert_null(g1->unservable);
                                assert_string_equal(g1->display_name, "G \xf0\x9f\x98\x80"); /* a pair is kept */
                                assert_true(g1->has_uid);
                                assert_int_equal(g1->uid, 5001);
                                assert_null(g2->unservable);
                                assert_false(g2->active);
                                h = find_user(b, "h");
                                switch (places[p].expect) {
                                case EXPECT_SERVABLE:
                                        if (!h || h->unservable)
                                                fail_msg("%s in place %zu: %s", values[v].name, p,
                                                         h ? h->unservable : "dropped");
                                        assert_string_equal(h->user_name, "h");
                                        assert_true(h->active);
                                        assert_int_equal(b->n_rejects, 0);
                                        break;
                                case EXPECT_UNSERVABLE:
                                        if (!h || !h->unservable || !strstr(h->unservable, places[p].reason))
                                                fail_msg("%s in place %zu: expected unservable for %s, got %s", values[v].name,
                                                         p, places[p].reason,
                                                         h ? h->unservable ?: "(servable)" : "(dropped)");
                                        /* The value is refused, never read as absent or as another one. */
                                        if (!in_container && !strstr(h->unservable, "not an integer") &&
                                            !strstr(h->unservable, "not a boolean") &&
                                            !strstr(h->unservable, "invalid UTF-8 or control character"))
                                                fail_msg("%s in place %zu: reason %s", values[v].name, p, h->unservable);
                                        assert_unservable_user(b, "h", places[p].active, places[p].reason);
                                        assert_int_equal(b->n_rejects, 1);
                                        break;
                                case EXPECT_NO_ID:
                                        assert_null(h);
                                        assert_int_equal(b->n_users, 2);
                                        assert_int_equal(b->n_rejects, 1);
                                        assert_non_null(strstr(b->rejects[0].reason, "attribute 'id'"));
                                        break;
                                }
                        }
                        /* The caller's text is never written. */
                        assert_string_equal(page, copy);

                        /* GET /Users/h: it exists, unservable or not. */
                        if (places[p].expect == EXPECT_NO_ID) {
                                assert_int_equal(prov_scim_parse_user(res, strlen(res), &o, &alone), -EBADMSG);
                                continue;
                        }
                        assert_int_equal(prov_scim_parse_user(res, strlen(res), &o, &alone), 0);
                        assert_string_equal(alone->id, "h");
                        assert_int_equal(alone->active, places[p].active);
                        if (places[p].expect == EXPECT_SERVABLE)
                                assert_null(alone->unservable);
                        else {
                                assert_non_null(alone->unservable);
                                assert_non_null(strstr(alone->unservable, places[p].reason));
                                assert_null(alone->user_name);
                        }
                }
        for (size_t v = 0; v < ELEMENTSOF(values); v++)
                free(values[v].json);
}

/* The same values in the places of a group: what the sync keeps of an unservable group (id,
 * externalId, members) is read on its own; a bad member entry is skipped and reported. */
static void test_hostile_group_values(void **state) {
        static const struct {
                const char *fmt;
                int expect;             /* 0 servable, 1 unservable, 2 servable with a member reject */
                const char *reason;
                bool members_unknown;
        } places[] = {
                { "{\"id\":\"h\",\"displayName\":\"H\",\"description\":%s,\"members\":[{\"value\":\"good-1\"}]}", 0, NULL, false },
                { "{\"id\":\"h\",\"displayName\":%s,\"members\":[{\"value\":\"good-1\"}]}", 1, "'displayName'", false },
                { "{\"id\":\"h\",\"displayName\":\"H\",\"externalId\":%s,\"members\":[{\"value\":\"good-1\"}]}", 1,
                  "'externalId'", false },
                { "{\"id\":\"h\",\"displayName\":\"H\",\"gidNumber\":%s,\"members\":[{\"value\":\"good-1\"}]}", 1,
                  "'gidNumber': not an integer", false },
                { "{\"id\":\"h\",\"displayName\":\"H\",\"members\":[{\"value\":\"good-1\"},%s]}", 2,
                  "members[1]: ", false },
                { "{\"id\":\"h\",\"displayName\":\"H\",\"members\":[{\"value\":\"good-1\"},{\"value\":%s}]}", 2,
                  "members[1]: attribute 'value'", false },
                { "{\"id\":\"h\",\"displayName\":\"H\",\"members\":[{\"value\":\"good-1\"},{\"value\":\"good-2\",\"type\":%s}]}",
                  2, "members[1]: attribute 'type'", false },
        };
        const ProvScimParseOptions o = { .gid_attribute = "gidNumber" };
        Hostile values[9];

        hostile_values(values);
        for (size_t v = 0; v < ELEMENTSOF(values); v++)
                for (size_t p = 0; p < ELEMENTSOF(places); p++) {
                        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
                        _cleanup_free_ char *res = NULL, *page = NULL;
                        const ProvScimGroup *g, *h;

                        res = subst(places[p].fmt, values[v].json);
                        assert_true(asprintf(&page,
                                             "{\"schemas\":[\"" PROV_SCIM_SCHEMA_LIST "\"],\"totalResults\":2,\"Resources\":["
                                             "{\"id\":\"good\",\"displayName\":\"G\",\"externalId\":\"ext-1\",\"gidNumber\":6001,"
                                             "\"members\":[{\"value\":\"good-2\"},{\"value\":\"good-1\",\"type\":\"User\"}]},%s]}",
                                             res) > 0);
                        if (prov_scim_parse_list(page, strlen(page), true, &o, &b) != 0)
                                fail_msg("%s in group place %zu: page failed", values[v].name, p);
                        g = find_group(b, "good");
                        assert_null(g->unservable);
                        assert_string_equal(g->external_id, "ext-1");
                        assert_int_equal(g->gid, 6001);
                        assert_int_equal(g->n_members, 2);
                        h = find_group(b, "h");
                        if (!h)
                                fail_msg("%s in group place %zu: dropped", values[v].name, p);
                        switch (places[p].expect) {
                        case 0:
                                assert_null(h->unservable);
                                assert_int_equal(b->n_rejects, 0);
                                break;
                        case 1:
                                if (!h->unservable || !strstr(h->unservable, places[p].reason))
                                        fail_msg("%s in group place %zu: %s", values[v].name, p, h->unservable ?: "(servable)");
                                assert_unservable_group(b, "h", places[p].reason);
                                assert_null(h->external_id);
                                assert_int_equal(b->n_rejects, 1);
                                break;
                        case 2:
                                assert_null(h->unservable);
                                assert_rejected(b, "group", "h", places[p].reason);
                                assert_int_equal(b->n_rejects, 1);
                                break;
                        }
                        /* The members are read in every case; never someone from a bad entry. */
                        assert_false(h->members_unknown);
                        assert_int_equal(h->n_members, 1);
                        assert_string_equal(h->member_ids[0], "good-1");
                }
        for (size_t v = 0; v < ELEMENTSOF(values); v++)
                free(values[v].json);
}

/* An unreadable members attribute: the group is unservable and says its members are unknown;
 * externalId and the id are still there. Bad entries are reported up to a cap. */
static void test_group_members_and_external_id(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL, *c = NULL;
        _cleanup_free_ char *many = NULL;
        const ProvScimGroup *g;
        size_t n = 0;
        const char *json =
                "{\"Groups\":[{\"id\":\"g1\",\"displayName\":\"a\",\"externalId\":\"e-1\",\"members\":\"\\ud800\"},"
                "{\"id\":\"g2\",\"displayName\":\"\\u0000\",\"externalId\":\"e-2\",\"members\":[{\"value\":\"u\"},"
                "{\"value\":\"" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},"
                "{\"value\":\"v\",\"type\":5},{\"value\":\"w\",\"type\":\"Group\"}]},"
                "{\"id\":\"g3\",\"displayName\":\"c\",\"externalId\":\"\\nx\"},"
                "{\"id\":\"g4\",\"displayName\":\"d\",\"externalId\":\"\"}]}";

        assert_int_equal(parse_dir_str(json, NULL, &b), 0);
        assert_int_equal(b->n_groups, 4);
        g = assert_unservable_group(b, "g1", "'members': not an array");
        assert_true(g->members_unknown);
        assert_null(g->member_ids);
        assert_string_equal(g->external_id, "e-1");
        g = assert_unservable_group(b, "g2", "'displayName': invalid UTF-8 or control character");
        assert_false(g->members_unknown);
        assert_string_equal(g->external_id, "e-2");
        assert_int_equal(g->n_members, 1);
        assert_string_equal(g->member_ids[0], "u");
        assert_rejected(b, "group", "g2", "members[1]: attribute 'value': longer than 255 bytes");
        assert_rejected(b, "group", "g2", "members[2]: attribute 'type': not a string");
        g = assert_unservable_group(b, "g3", "'externalId': invalid UTF-8 or control character");
        assert_null(g->external_id);
        assert_null(find_group(b, "g4")->unservable);
        assert_null(find_group(b, "g4")->external_id);                       /* "" = absent */
        assert_int_equal(b->n_rejects, 3 + 2);

        /* 40 bad entries: 16 reported one by one, then one line for the rest. */
        many = malloc(64 + 40 * 4);
        assert_non_null(many);
        n = (size_t) sprintf(many, "{\"Groups\":[{\"id\":\"g\",\"displayName\":\"a\",\"members\":[");
        for (size_t i = 0; i < 40; i++)
                n += (size_t) sprintf(many + n, "%s7", i ? "," : "");
        strcpy(many + n, "]}]}");
        assert_int_equal(parse_dir_str(many, NULL, &c), 0);
        assert_null(c->groups[0].unservable);
        assert_int_equal(c->groups[0].n_members, 0);
        assert_int_equal(c->n_rejects, 17);
        assert_rejected(c, "group", "g", "members[15]: not an object");
        assert_string_equal(c->rejects[16].reason, "members: 24 more bad entries skipped");
}

/* Number tokens: up to 63 characters they are numbers as before, from 64 on they are refused
 * whatever the cJSON build (1.7.15 fails the whole document on them). */
static void test_long_numbers(void **state) {
        const ProvScimParseOptions o = { .uid_attribute = "n" };
        char json[256];

        for (size_t len = 60; len <= 70; len++) {
                _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;
                int n = snprintf(json, sizeof(json), "{\"id\":\"a\",\"userName\":\"a\",\"n\":7.");

                memset(json + n, '0', len - 2);
                strcpy(json + n + len - 2, "}");
                assert_int_equal(prov_scim_parse_user(json, strlen(json), &o, &u), 0);
                if (len < 64) {
                        assert_null(u->unservable);
                        assert_true(u->has_uid);
                        assert_int_equal(u->uid, 7);
                } else {
                        assert_non_null(u->unservable);
                        assert_string_equal(u->unservable, "attribute 'n': not an integer");
                }
        }
}

/* What a resource keeps when it is unservable, and that de-duplication treats it like any other
 * record: the first one with an id wins. */
static void test_unservable_dedup(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL, *c = NULL;
        const char *json =
                "{\"Users\":[{\"id\":\"a\",\"userName\":\"\\ud800\",\"active\":false},"
                "{\"id\":\"a\",\"userName\":\"alice\"},{\"id\":\"b\",\"userName\":\"bob\"},"
                "{\"id\":\"b\",\"userName\":5}]}";

        assert_int_equal(parse_dir_str(json, NULL, &b), 0);
        assert_int_equal(b->n_users, 2);
        assert_unservable_user(b, "a", false, "'userName': invalid UTF-8 or control character");
        assert_null(find_user(b, "b")->unservable);
        assert_string_equal(find_user(b, "b")->user_name, "bob");
        assert_int_equal(b->n_rejects, 4);  /* a, b unservable; a, b duplicates */

        /* A page from a server that repeats an unservable record. */
        assert_int_equal(prov_scim_parse_list("{\"schemas\":[\"" PROV_SCIM_SCHEMA_LIST "\"],\"Resources\":["
                                              "{\"id\":\"x\",\"active\":[]},{\"id\":\"x\",\"userName\":\"x\"}]}",
                                              strlen("{\"schemas\":[\"" PROV_SCIM_SCHEMA_LIST "\"],\"Resources\":["
                                                     "{\"id\":\"x\",\"active\":[]},{\"id\":\"x\",\"userName\":\"x\"}]}"),
                                              false, NULL, &c), 0);
        assert_int_equal(c->n_users, 1);
        assert_unservable_user(c, "x", false, "'active': not a boolean");
}

/* A finished batch (directory, list, hub feed): each id once, the records in document order,
 * and user_order and group_order their positions in id order, for the sync to walk. */
static void test_finished_batch_order(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
        const char *json =
                "{\"Users\":[{\"id\":\"c\",\"userName\":\"c\"},{\"id\":\"a\",\"userName\":\"a\"},"
                "{\"id\":\"c\",\"userName\":\"c2\"},{\"id\":\"b\",\"userName\":\"b\"}],"
                "\"Groups\":[{\"id\":\"g2\",\"displayName\":\"two\"},{\"id\":\"g1\",\"displayName\":\"one\"}]}";
        const char *feed =
                "{\"seq\":3,\"events\":[{\"seq\":1,\"op\":\"upsert\",\"resourceType\":\"User\",\"id\":\"y\","
                "\"resource\":{\"id\":\"y\",\"userName\":\"y\"}},{\"seq\":2,\"op\":\"upsert\",\"resourceType\":\"User\","
                "\"id\":\"x\",\"resource\":{\"id\":\"x\",\"userName\":\"x\"}}]}";

        (void) state;
        assert_int_equal(parse_dir_str(json, NULL, &b), 0);
        assert_int_equal(b->n_users, 3);
        assert_string_equal(b->users[0].user_name, "c");
        assert_string_equal(b->users[1].id, "a");
        assert_string_equal(b->users[2].id, "b");
        assert_rejected(b, "user", "c", "duplicate id in the same batch (first one kept)");
        assert_non_null(b->user_order);
        assert_int_equal(b->user_order[0], 1);
        assert_int_equal(b->user_order[1], 2);
        assert_int_equal(b->user_order[2], 0);
        assert_non_null(b->group_order);
        assert_int_equal(b->group_order[0], 1);
        assert_int_equal(b->group_order[1], 0);

        assert_int_equal(prov_scim_parse_hub_feed(feed, strlen(feed), NULL, 0, &f, NULL), 0);
        assert_int_equal(f->batch->n_users, 2);
        assert_string_equal(f->batch->users[0].id, "y");
        assert_non_null(f->batch->user_order);
        assert_int_equal(f->batch->user_order[0], 1);
        assert_int_equal(f->batch->user_order[1], 0);
}

static void test_malformed_documents(void **state) {
        static const char *const bad[] = {
                "",
                " ",
                "null",
                "[]",
                "\"Users\"",
                "42",
                "{",
                "{\"Users\":[}",
                "{\"Users\":[]} x",
                "{\"Users\":[]}{}",
                "{\"Users\":{\"schemas\":[\"urn:x\"],\"Resources\":[]}}",  /* object that is not a ListResponse */
                "{\"Users\":{\"Resources\":5}}",
                "{\"Users\":5}",
                "{\"Users\":\"none\"}",
                "{\"Users\":[],\"users\":[]}",                            /* ambiguous */
                /* A "\u" escape that is not four hex digits: cJSON would decode it as U+0000. */
                "{\"Users\":[{\"id\":\"a\\uZZZZb\",\"userName\":\"a\"}]}",
                "{\"Users\":[{\"id\":\"a\\u00g0b\",\"userName\":\"a\"}]}",
                "{\"Users\":[{\"id\":\"a\\u12\",\"userName\":\"a\"}]}",
                "{\"Users\":[{\"id\":\"a\\ud800\\u12\",\"userName\":\"a\"}]}",
                /* Truncated or unbalanced after a value that needs a repair. */
                "{\"Users\":[{\"id\":\"a\",\"x\":\"\\ud800",
                "{\"Users\":[{\"id\":\"a\",\"x\":\"\\u0000\"}",
                "{\"Users\":[{\"id\":\"a\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]}]}",
                "{\"Users\":[{\"id\":\"a\",\"x\":10000000000000000000000000000000000000000000000000000000000000000000000",
                /* A long run of number characters that is no number is not made into a value. */
                "{\"Users\":[{\"id\":\"a\",\"x\":1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1}]}",
                "{\"Users\":[{\"id\":\"a\",\"x\":1.000000000000000000000000000000000000000000000000000000000000000000e}]}",
                "{\"Users\":[{\"id\":\"a\\",                                 /* ends inside an escape */
                "{'Users':[]}",
                "{\"Users\":[],}",
        };
        _cleanup_free_ char *json = NULL;
        ProvScimBatch *b = (ProvScimBatch *) 0x1;
        size_t len;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = prov_scim_parse_directory(bad[i], strlen(bad[i]), NULL, &b);

                if (r != -EBADMSG)
                        fail_msg("case %zu (%s): expected -EBADMSG, got %d", i, bad[i], r);
        }
        /* Nothing written on failure. */
        assert_ptr_equal(b, (ProvScimBatch *) 0x1);

        json = read_fixture("truncated.json", &len);
        assert_int_equal(prov_scim_parse_directory(json, len, NULL, &b), -EBADMSG);
        assert_int_equal(prov_scim_parse_list(json, len, false, NULL, &b), -EBADMSG);

        /* A raw NUL inside the given length. */
        assert_int_equal(prov_scim_parse_directory("{\"Users\":[]}\0", 13, NULL, &b), -EBADMSG);
        /* A raw NUL byte inside a string (not JSON): the whole document, good records and all. */
        static const char raw_nul[] = "{\"Users\":[{\"id\":\"a\",\"userName\":\"a\"},{\"id\":\"b\",\"userName\":\"b\0c\"}]}";
        assert_int_equal(prov_scim_parse_directory(raw_nul, sizeof(raw_nul) - 1, NULL, &b), -EBADMSG);
        /* len is honoured: the bytes after it are not parsed. */
        assert_int_equal(prov_scim_parse_directory("{}garbage", 2, NULL, &b), 0);
        b = prov_scim_batch_free(b);
        /* Over the caller's size cap. */
        assert_int_equal(prov_scim_parse_directory("{\"Users\":[]}", 12, &(ProvScimParseOptions) { .max_bytes = 11 }, &b),
                         -EBADMSG);
        assert_int_equal(prov_scim_parse_directory(NULL, 0, NULL, &b), -EBADMSG);
}

static void test_list_response(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL, *e = NULL;
        _cleanup_free_ char *json = NULL, *empty = NULL;
        size_t len;

        json = read_fixture("users-page.json", &len);
        assert_int_equal(prov_scim_parse_list(json, len, false, NULL, &b), 0);
        assert_true(b->has_total_results);
        assert_int_equal(b->total_results, 250);
        assert_int_equal(b->start_index, 101);
        assert_int_equal(b->items_per_page, 2);
        assert_string_equal(b->next_cursor, "VZUTiyhEQJ94IR");
        assert_int_equal(b->n_users, 2);
        assert_int_equal(b->n_groups, 0);
        assert_false(b->users[1].active);

        empty = read_fixture("users-empty-page.json", &len);
        assert_int_equal(prov_scim_parse_list(empty, len, false, NULL, &e), 0);
        assert_true(e->has_total_results);
        assert_int_equal(e->total_results, 0);
        assert_int_equal(e->n_users, 0);
        assert_null(e->next_cursor);
}

static void test_list_response_rules(void **state) {
        static const struct {
                const char *json;
                bool groups;
                int r;
        } cases[] = {
                /* Missing ListResponse schema. */
                { "{\"totalResults\":0}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],\"totalResults\":0}", false, -EBADMSG },
                /* Resources required when totalResults is not 0. */
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":3}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"]}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":-1,\"Resources\":[]}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":1.5,\"Resources\":[]}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":1,\"Resources\":{}}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":1,\"Resources\":[],\"nextCursor\":5}", false, -EBADMSG },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":1,\"Resources\":[],\"nextCursor\":\"a\\nb\"}", false, -EBADMSG },
                /* Lenient: schema URN case, numeric strings. */
                { "{\"SCHEMAS\":[\"URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:LISTRESPONSE\"],\"totalresults\":\"0\"}", false, 0 },
                { "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":1,\"Resources\":[{\"id\":\"g\",\"displayName\":\"G\"}]}", true, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ProvScimBatch *b = NULL;
                int r = prov_scim_parse_list(cases[i].json, strlen(cases[i].json), cases[i].groups, NULL, &b);

                if (r != cases[i].r)
                        fail_msg("case %zu (%s): expected %d, got %d", i, cases[i].json, cases[i].r, r);
                prov_scim_batch_free(b);
        }
}

/* A Group resource in a /Users page is refused on its own (an unservable user: it has an id);
 * items_per_page is filled in. */
static void test_list_wrong_resource_type(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        const char *json =
                "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":2,"
                "\"Resources\":[{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g\",\"displayName\":\"G\"},"
                "{\"id\":\"u\",\"userName\":\"u\"},{\"id\":\"u\",\"userName\":\"again\"}]}";

        assert_int_equal(prov_scim_parse_list(json, strlen(json), false, NULL, &b), 0);
        assert_int_equal(b->n_users, 2);
        assert_unservable_user(b, "g", true, "'schemas': does not contain");
        assert_string_equal(b->users[1].user_name, "u");
        assert_int_equal(b->start_index, 1);
        assert_int_equal(b->items_per_page, 3);
        assert_rejected(b, "user", "u", "duplicate id");
}

static void test_members_limit(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        const char *json =
                "{\"Groups\":[{\"id\":\"g1\",\"displayName\":\"a\",\"members\":[{\"value\":\"1\"},{\"value\":\"2\"},{\"value\":\"3\"}]},"
                "{\"id\":\"g2\",\"displayName\":\"b\",\"members\":[{\"value\":\"1\"},{\"value\":\"1\"}]}]}";

        assert_int_equal(parse_dir_str(json, &(ProvScimParseOptions) { .max_members = 2 }, &b), 0);
        assert_int_equal(b->n_groups, 2);
        /* Too many members: who is a member is not known. */
        assert_true(assert_unservable_group(b, "g1", "more than 2 members")->members_unknown);
        assert_null(b->groups[0].member_ids);
        assert_string_equal(b->groups[1].id, "g2");
        assert_null(b->groups[1].unservable);
        assert_int_equal(b->groups[1].n_members, 1);
}

static const char *intern_known(const char *id, void *userdata) {
        const char *const *known = userdata;

        for (size_t i = 0; known[i]; i++)
                if (strcmp(known[i], id) == 0)
                        return known[i];
        return NULL;
}

static void test_members_interned(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        static const char *const known[] = { "u-1", "u-3", NULL };
        const char *json =
                "{\"Groups\":[{\"id\":\"g1\",\"displayName\":\"a\",\"members\":"
                "[{\"value\":\"u-3\"},{\"value\":\"u-2\"},{\"value\":\"u-1\"}]}]}";

        assert_int_equal(parse_dir_str(json, &(ProvScimParseOptions) {
                .intern_member_id = intern_known, .intern_userdata = (void *) known }, &b), 0);
        assert_int_equal(b->n_groups, 1);
        assert_int_equal(b->groups[0].n_members, 3);
        /* Known ids are the caller's strings, the others copies. */
        assert_ptr_equal(b->groups[0].member_ids[0], known[0]);
        assert_string_equal(b->groups[0].member_ids[1], "u-2");
        assert_ptr_equal(b->groups[0].member_ids[2], known[1]);
}

static void test_group_gid(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        const char *json =
                "{\"Groups\":[{\"id\":\"g1\",\"displayName\":\"a\","
                "\"urn:ietf:params:scim:schemas:extension:posix:2.0:Group\":{\"gidNumber\":320001}}]}";

        assert_int_equal(parse_dir_str(json, &(ProvScimParseOptions) {
                .gid_attribute = "urn:ietf:params:scim:schemas:extension:posix:2.0:Group:gidNumber" }, &b), 0);
        assert_int_equal(b->n_groups, 1);
        assert_true(b->groups[0].has_gid);
        assert_int_equal(b->groups[0].gid, 320001);
}

static void test_error_response(void **state) {
        _cleanup_free_ char *json = NULL, *d1 = NULL, *d2 = NULL, *d3 = NULL;
        char *untouched = (char *) 0x1;
        size_t len;

        json = read_fixture("error-response.json", &len);
        assert_int_equal(prov_scim_parse_error(json, len, &d1), 400);
        assert_string_equal(d1, "status 400 (invalidFilter): Filter syntax is not supported:?meta.lastModified ge");

        json = mfree_str(json);
        json = strdup("{\"status\":404,\"detail\":\"Resource 2819c223 not found\"}");
        assert_int_equal(prov_scim_parse_error(json, strlen(json), &d2), 404);
        assert_string_equal(d2, "status 404: Resource 2819c223 not found");

        assert_int_equal(prov_scim_parse_error("{\"status\":\"teapot\"}", 19, &d3), 0);
        assert_string_equal(d3, "status unknown");

        assert_int_equal(prov_scim_parse_error("<html>502 Bad Gateway</html>", 28, &untouched), -EBADMSG);
        assert_int_equal(prov_scim_parse_error("[]", 2, &untouched), -EBADMSG);
        assert_ptr_equal(untouched, (char *) 0x1);
}

static void test_free_null(void **state) {
        assert_null(prov_scim_batch_free(NULL));
        assert_null(prov_scim_user_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_directory_arrays),
                cmocka_unit_test(test_directory_list_response),
                cmocka_unit_test(test_directory_empty_and_missing),
                cmocka_unit_test(test_sample_directory),
                cmocka_unit_test(test_entra_style_user),
                cmocka_unit_test(test_posix_extension),
                cmocka_unit_test(test_attribute_paths),
                cmocka_unit_test(test_bad_resources),
                cmocka_unit_test(test_huge_string),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_hostile_user_values),
                cmocka_unit_test(test_hostile_group_values),
                cmocka_unit_test(test_group_members_and_external_id),
                cmocka_unit_test(test_long_numbers),
                cmocka_unit_test(test_unservable_dedup),
                cmocka_unit_test(test_finished_batch_order),
                cmocka_unit_test(test_malformed_documents),
                cmocka_unit_test(test_list_response),
                cmocka_unit_test(test_list_response_rules),
                cmocka_unit_test(test_list_wrong_resource_type),
                cmocka_unit_test(test_members_limit),
                cmocka_unit_test(test_members_interned),
                cmocka_unit_test(test_group_gid),
                cmocka_unit_test(test_error_response),
                cmocka_unit_test(test_free_null),
        };

        if (!getenv("top_srcdir")) {
                fprintf(stderr, "top_srcdir is not set: run through 'make check'\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
