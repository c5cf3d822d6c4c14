/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scim-filter.h"

/* A user as the hub stores it (normalised), with what the filters below look at. */
static const char user_json[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
        "\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"externalId\":\"jyoung\","
        "\"userName\":\"Jane.Young@example.com\",\"displayName\":\"Jane Young\",\"active\":true,"
        "\"name\":{\"givenName\":\"Jane\",\"familyName\":\"Young\"},"
        "\"emails\":[{\"type\":\"home\",\"value\":\"jane@home.example\"},"
        "{\"type\":\"work\",\"value\":\"a@b\",\"primary\":true}],"
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"701984\","
        "\"department\":\"Tour Operations\"},"
        "\"meta\":{\"resourceType\":\"User\",\"created\":\"2025-06-01T10:00:00Z\","
        "\"lastModified\":\"2026-02-03T04:05:06.5Z\"}}";

static const char group_json[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
        "\"displayName\":\"Tour Guides\",\"members\":[{\"value\":\"u1\",\"display\":\"One\"},{\"value\":\"U2\"}]}";

static cJSON *user;
static cJSON *group;

static int setup(void **state) {
        (void) state;
        user = cJSON_Parse(user_json);
        group = cJSON_Parse(group_json);
        return user && group ? 0 : -1;
}

static int teardown(void **state) {
        (void) state;
        cJSON_Delete(user);
        cJSON_Delete(group);
        return 0;
}

/* Parses text (which must parse) and matches it against r. */
static bool match(const char *text, const cJSON *r) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        ProvScimError e = {};
        int rc;

        rc = prov_filter_parse(text, &f, &e);
        if (rc < 0)
                fail_msg("'%s' did not parse: %s", text, e.detail);
        assert_non_null(f);
        return prov_filter_match(f, r);
}

/* text must be refused as 400 invalidFilter, and leave *ret alone. */
static void assert_invalid(const char *text) {
        ProvFilter *f = NULL;
        ProvScimError e = {};

        if (prov_filter_parse(text, &f, &e) != -EINVAL)
                fail_msg("'%s' parsed", text);
        assert_null(f);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.scim_type, "invalidFilter");
        assert_true(e.detail[0] != 0);
}

static void test_eq_core(void **state) {
        (void) state;
        /* userName is caseExact=false: the IdP's "before create" lookup finds it in any case. */
        assert_true(match("userName eq \"Jane.Young@example.com\"", user));
        assert_true(match("userName eq \"jane.young@EXAMPLE.com\"", user));
        assert_false(match("userName eq \"x\"", user));
        assert_true(match("id eq \"2819c223-7f76-453a-919d-413861904646\"", user));
        /* id is caseExact. */
        assert_false(match("id eq \"2819C223-7F76-453A-919D-413861904646\"", user));
        /* Entra's "test connection": a random GUID matches nothing. */
        assert_false(match("id eq \"5171a35d-82dd-4da6-9a57-3ba7efb42bb4\"", user));
        assert_true(match("displayName eq \"jane young\"", user));
        assert_true(match("displayName eq \"Tour Guides\"", group));
        assert_false(match("displayName eq \"Tour\"", group));
        assert_true(match("name.givenName eq \"Jane\"", user));
        assert_true(match("active eq true", user));
        assert_false(match("active eq false", user));
        /* The core schema URN may prefix an attribute. */
        assert_true(match("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"jane.young@example.com\"", user));
        /* An extension attribute. */
        assert_true(match("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
                          user));
        /* Group members: "value" is an id, caseExact. */
        assert_true(match("members.value eq \"u1\"", group));
        assert_false(match("members.value eq \"U1\"", group));
        assert_true(match("members[value eq \"U2\"]", group));
        assert_false(match("members[value eq \"u2\"]", group));
}

static void test_unquoted(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        const char *attr = NULL, *value = NULL;

        (void) state;
        /* Entra ID sends a bare word for externalId. */
        assert_true(match("externalId eq jyoung", user));
        /* externalId is caseExact. */
        assert_false(match("externalId eq JYOUNG", user));
        assert_int_equal(prov_filter_parse("externalId eq jyoung", &f, NULL), 0);
        assert_true(cJSON_IsString(f->value));
        assert_true(prov_filter_simple_eq(f, &attr, &value));
        assert_string_equal(attr, "externalId");
        assert_string_equal(value, "jyoung");
        f = prov_filter_free(f);
        /* A bare number stays a number, and a GUID a string. */
        assert_int_equal(prov_filter_parse("x eq 42", &f, NULL), 0);
        assert_true(cJSON_IsNumber(f->value));
        f = prov_filter_free(f);
        assert_int_equal(prov_filter_parse("id eq 5171a35d-82dd-4da6-9a57-3ba7efb42bb4", &f, NULL), 0);
        assert_true(cJSON_IsString(f->value));
        assert_string_equal(f->value->valuestring, "5171a35d-82dd-4da6-9a57-3ba7efb42bb4");
}

static void test_value_path(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;

        (void) state;
        assert_true(match("emails[type eq \"work\"].value eq \"a@b\"", user));
        /* The element that matches the bracket must also match the comparison. */
        assert_false(match("emails[type eq \"home\"].value eq \"a@b\"", user));
        assert_true(match("emails[type eq \"work\" and primary eq true]", user));
        assert_false(match("emails[type eq \"home\" and primary eq true]", user));
        assert_true(match("emails[value ew \"example\"]", user));
        /* A multi-valued attribute matches when any element does. */
        assert_true(match("emails.value eq \"jane@home.example\"", user));
        assert_true(match("emails.type eq \"work\"", user));
        /* A complex value compared as a whole stands for its "value". */
        assert_true(match("emails co \"@home\"", user));

        assert_int_equal(prov_filter_parse("emails[type eq \"work\"].value eq \"a@b\"", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_VALUE_PATH);
        assert_string_equal(f->attr, "emails");
        assert_int_equal(f->left->op, PROV_FILTER_AND);
        assert_null(f->sub);
}

static void test_logic(void **state) {
        (void) state;
        assert_true(match("userName eq \"x\" or displayName eq \"Jane Young\"", user));
        assert_false(match("userName eq \"x\" and displayName eq \"Jane Young\"", user));
        assert_true(match("not (userName eq \"x\")", user));
        assert_false(match("not(displayName eq \"Jane Young\")", user));
        /* and binds tighter than or. */
        assert_true(match("userName eq \"x\" and active eq false or displayName pr", user));
        assert_false(match("userName eq \"x\" and (active eq false or displayName pr)", user));
        assert_true(match("((userName sw \"jane\") and (not (active eq false)))", user));
        assert_true(match("title pr or userName pr", user));
        assert_true(match("userName ne \"x\"", user));
        assert_false(match("userName ne \"JANE.YOUNG@example.com\"", user));
}

static void test_ops(void **state) {
        (void) state;
        assert_true(match("userName pr", user));
        assert_false(match("title pr", user));
        assert_true(match("name pr", user));
        assert_true(match("userName sw \"jane.\"", user));
        assert_false(match("userName sw \"young\"", user));
        assert_true(match("userName co \"YOUNG@\"", user));
        assert_false(match("userName co \"nobody\"", user));
        assert_true(match("userName ew \"example.COM\"", user));
        assert_false(match("userName ew \"example\"", user));
        assert_true(match("title eq null", user));
        assert_false(match("userName eq null", user));
        assert_true(match("userName gt \"a\"", user));
        assert_true(match("userName lt \"z\"", user));
}

static void test_case_insensitive(void **state) {
        (void) state;
        assert_true(match("USERNAME EQ \"jane.young@example.com\"", user));
        assert_true(match("username Eq \"jane.young@example.com\"", user));
        assert_true(match("EMAILS[TYPE EQ \"work\"].VALUE EQ \"a@b\"", user));
        assert_true(match("userName PR AND NOT (Active Eq False)", user));
        assert_true(match("displayname sw \"jane\" OR userName eq \"x\"", user));
        assert_true(match("META.LASTMODIFIED GT \"2026-01-01T00:00:00Z\"", user));
        assert_true(match("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department co \"tour\"", user));
        /* Several spaces between tokens. */
        assert_true(match("  userName   eq   \"jane.young@example.com\"  ", user));
}

static void test_timestamps(void **state) {
        int64_t t = 0, u = 0;

        (void) state;
        assert_true(match("meta.lastModified gt \"2026-01-01T00:00:00Z\"", user));
        assert_false(match("meta.lastModified gt \"2026-02-03T04:05:06.5Z\"", user));
        assert_true(match("meta.lastModified ge \"2026-02-03T04:05:06.5Z\"", user));
        /* Compared as instants, not as strings: 05:05:06.5+01:00 is 04:05:06.5Z. */
        assert_true(match("meta.lastModified ge \"2026-02-03T05:05:06.5+01:00\"", user));
        assert_false(match("meta.lastModified gt \"2026-02-03T05:05:06.5+01:00\"", user));
        assert_true(match("meta.lastModified lt \"2026-02-03T04:05:07Z\"", user));
        assert_true(match("meta.created le \"2025-06-01T10:00:00Z\"", user));
        /* A value that is no timestamp matches nothing. */
        assert_false(match("meta.lastModified gt \"yesterday\"", user));

        assert_int_equal(prov_scim_timestamp_parse("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01T00:00:00.000001Z", &t), 0);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01T01:00:00.000001+01:00", &u), 0);
        assert_int_equal(t, u);
        assert_int_equal(t % 1000000, 1);
        assert_int_equal(prov_scim_timestamp_parse("2000-03-01T00:00:00Z", &t), 0);
        assert_int_equal(t, INT64_C(951868800) * 1000000);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01", &t), -EINVAL);
        assert_int_equal(prov_scim_timestamp_parse("2026-13-01T00:00:00Z", &t), -EINVAL);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01T00:00:00", &t), -EINVAL);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01T00:00:00Zjunk", &t), -EINVAL);
        assert_int_equal(prov_scim_timestamp_parse("2026-01-01T00:00:00.Z", &t), -EINVAL);
        assert_int_equal(prov_scim_timestamp_parse(NULL, &t), -EINVAL);
}

static void test_invalid(void **state) {
        _cleanup_free_ char *long_text = NULL, *deep = NULL;
        size_t n;

        (void) state;
        assert_invalid("");
        assert_invalid("   ");
        assert_invalid("userName");
        assert_invalid("userName eq");
        assert_invalid("userName eq ");
        assert_invalid("userName zz \"x\"");
        assert_invalid("userName eq \"x");
        assert_invalid("userName eq \"x\" and");
        assert_invalid("userName eq \"x\" or or userName pr");
        assert_invalid("(userName eq \"x\"");
        assert_invalid("userName eq \"x\")");
        assert_invalid("not userName eq \"x\"");
        assert_invalid("emails[type eq \"work\"");
        assert_invalid("emails[type eq \"work\"].");
        assert_invalid("emails[type[value eq \"x\"]]");
        assert_invalid("1abc eq \"x\"");
        assert_invalid("user..name eq \"x\"");
        assert_invalid("userName eq \"x\" junk");
        assert_invalid("userName eq \"bad \\q escape\"");
        assert_invalid("meta.lastModified gt true");
        assert_invalid("userName eq \"x\"\001");
        assert_invalid("urn:ietf:params:scim:schemas:core:2.0:User eq \"x\"");
        assert_invalid("userNameeq \"x\"");

        /* Longer than the limit. */
        n = PROV_FILTER_TEXT_MAX + 10;
        long_text = malloc(n + 1);
        assert_non_null(long_text);
        memset(long_text, ' ', n);
        memcpy(long_text, "userName pr", 11);
        long_text[n] = 0;
        assert_invalid(long_text);

        /* Nested deeper than the limit, though short. */
        n = PROV_FILTER_DEPTH_MAX + 1;
        deep = malloc(n * 2 + 16);
        assert_non_null(deep);
        memset(deep, '(', n);
        strcpy(deep + n, "userName pr");
        memset(deep + n + 11, ')', n);
        deep[2 * n + 11] = 0;
        assert_invalid(deep);
        /* At the limit it parses: drop one '(' and one ')'. */
        deep[2 * n + 10] = 0;
        assert_true(match(deep + 1, user));
}

static void test_simple_eq(void **state) {
        static const struct {
                const char *text, *attr, *value;
        } yes[] = {
                { "userName eq \"x\"", "userName", "x" },
                { "USERNAME EQ \"Bob\"", "userName", "Bob" },
                { "externalId eq jyoung", "externalId", "jyoung" },
                { "id eq \"5171a35d\"", "id", "5171a35d" },
                { "displayname eq \"Tour Guides\"", "displayName", "Tour Guides" },
        };
        static const char *const no[] = {
                "userName ne \"x\"", "userName eq \"x\" and active eq true", "title eq \"x\"",
                "userName sw \"x\"", "userName eq 42", "userName eq null", "emails[type eq \"work\"]",
                "name.givenName eq \"x\"",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
                const char *attr = NULL, *value = NULL;

                assert_int_equal(prov_filter_parse(yes[i].text, &f, NULL), 0);
                assert_true(prov_filter_simple_eq(f, &attr, &value));
                assert_string_equal(attr, yes[i].attr);
                assert_string_equal(value, yes[i].value);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                _cleanup_(prov_filter_freep) ProvFilter *f = NULL;

                assert_int_equal(prov_filter_parse(no[i], &f, NULL), 0);
                if (prov_filter_simple_eq(f, NULL, NULL))
                        fail_msg("'%s' taken as a simple eq", no[i]);
        }
        assert_false(prov_filter_simple_eq(NULL, NULL, NULL));
}

static void test_modified_since(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        int64_t usec = 0;
        bool inclusive = true;

        (void) state;
        assert_int_equal(prov_filter_parse("meta.lastModified gt \"2026-01-01T00:00:00Z\"", &f, NULL), 0);
        assert_true(prov_filter_modified_since(f, &usec, &inclusive));
        assert_int_equal(usec, INT64_C(1767225600) * 1000000);
        assert_false(inclusive);
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse("Meta.LastModified GE \"2026-01-01T00:00:00.25Z\"", &f, NULL), 0);
        assert_true(prov_filter_modified_since(f, &usec, &inclusive));
        assert_int_equal(usec, INT64_C(1767225600) * 1000000 + 250000);
        assert_true(inclusive);
        f = prov_filter_free(f);

        static const char *const no[] = {
                "meta.lastModified lt \"2026-01-01T00:00:00Z\"",
                "meta.created gt \"2026-01-01T00:00:00Z\"",
                "meta.lastModified gt \"not a time\"",
                "meta.lastModified gt 5",
                "meta.lastModified gt \"2026-01-01T00:00:00Z\" and userName pr",
        };
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                assert_int_equal(prov_filter_parse(no[i], &f, NULL), 0);
                if (prov_filter_modified_since(f, &usec, &inclusive))
                        fail_msg("'%s' taken as modified-since", no[i]);
                f = prov_filter_free(f);
        }
}

static void test_parse_path(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        ProvScimError e = {};

        (void) state;
        assert_int_equal(prov_filter_parse_path("active", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_PR);
        assert_string_equal(f->attr, "active");
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse_path("name.givenName", &f, NULL), 0);
        assert_string_equal(f->attr, "name.givenName");
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", &f, NULL), 0);
        assert_string_equal(f->attr, "name.familyName");
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                                                &f, NULL), 0);
        assert_string_equal(f->attr, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager");
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse_path("emails[type eq \"work\"].value", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_VALUE_PATH);
        assert_string_equal(f->attr, "emails");
        assert_string_equal(f->sub, "value");
        assert_int_equal(f->left->op, PROV_FILTER_EQ);
        assert_string_equal(f->left->attr, "type");
        assert_string_equal(f->left->value->valuestring, "work");
        f = prov_filter_free(f);

        assert_int_equal(prov_filter_parse_path("members[value eq \"2819c223\"]", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_VALUE_PATH);
        assert_string_equal(f->attr, "members");
        assert_null(f->sub);
        f = prov_filter_free(f);

        /* A value filter on a multi-valued attribute of an extension. */
        assert_int_equal(prov_filter_parse_path("urn:acme:params:scim:schemas:extension:acme:2.0:User:badges[type eq \"door\"].value",
                                                &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_VALUE_PATH);
        assert_string_equal(f->attr, "urn:acme:params:scim:schemas:extension:acme:2.0:User:badges");
        assert_string_equal(f->sub, "value");
        f = prov_filter_free(f);

        static const char *const bad[] = {
                "", "emails[", "emails[type eq \"work\"", "emails[type eq \"work\"].", "userName eq \"x\"",
                "a b", "members[value eq \"x\"] junk", "9lives", "name.givenName[value eq \"x\"]",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value[value eq \"x\"]",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                memset(&e, 0, sizeof(e));
                if (prov_filter_parse_path(bad[i], &f, &e) != -EINVAL)
                        fail_msg("path '%s' parsed", bad[i]);
                assert_null(f);
                assert_int_equal(e.status, 400);
                assert_string_equal(e.scim_type, "invalidPath");
        }
}

static void test_error_set(void **state) {
        ProvScimError e = {};

        (void) state;
        assert_int_equal(prov_scim_error_set(&e, 404, NULL, "no %s", "user"), -ENOENT);
        assert_int_equal(e.status, 404);
        assert_null(e.scim_type);
        assert_string_equal(e.detail, "no user");
        assert_int_equal(prov_scim_error_set(&e, 409, "uniqueness", "taken"), -EEXIST);
        assert_string_equal(e.scim_type, "uniqueness");
        assert_int_equal(prov_scim_error_set(NULL, 400, "invalidValue", "x"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_eq_core),
                cmocka_unit_test(test_unquoted),
                cmocka_unit_test(test_value_path),
                cmocka_unit_test(test_logic),
                cmocka_unit_test(test_ops),
                cmocka_unit_test(test_case_insensitive),
                cmocka_unit_test(test_timestamps),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_simple_eq),
                cmocka_unit_test(test_modified_since),
                cmocka_unit_test(test_parse_path),
                cmocka_unit_test(test_error_set),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
