/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scim-filter.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static const char *const user_json =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
        "\"id\":\"2819c223-7f76\",\"externalId\":\"jyoung\",\"userName\":\"JYoung@example.com\","
        "\"displayName\":\"Jo Young\",\"active\":true,"
        "\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
        "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home.example\"},"
        "{\"type\":\"work\",\"value\":\"jyoung@example.com\",\"primary\":true}],"
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"701984\"},"
        "\"meta\":{\"resourceType\":\"User\",\"lastModified\":\"2026-03-01T10:00:00Z\"}}";

/* Parses text and matches it against the sample user; the parse must succeed. */
static bool matches(const char *text) {
        _cleanup_(cJSON_Deletep) cJSON *u = cJSON_Parse(user_json);
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        ProvScimError err = {};

        assert_non_null(u);
        if (prov_filter_parse(text, &f, &err) < 0)
                fail_msg("'%s' did not parse: %s", text, err.detail);
        return prov_filter_match(f, u);
}

static void assert_invalid(const char *text) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        ProvScimError err = {};

        if (prov_filter_parse(text, &f, &err) >= 0)
                fail_msg("'%s' parsed", text);
        assert_null(f);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, "invalidFilter");
}

static void test_eq_username(void **state) {
        (void) state;
        assert_true(matches("userName eq \"jyoung@example.com\"")); /* userName is caseExact=false */
        assert_false(matches("userName eq \"other@example.com\""));
}

static void test_unquoted_externalid(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;

        (void) state;
        assert_int_equal(prov_filter_parse("externalId eq jyoung", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_EQ);
        assert_string_equal(f->attr, "externalId");
        assert_true(cJSON_IsString(f->value));
        assert_string_equal(f->value->valuestring, "jyoung");
        assert_true(matches("externalId eq jyoung"));
        /* externalId is caseExact. */
        assert_false(matches("externalId eq JYOUNG"));
}

static void test_id_and_displayname(void **state) {
        (void) state;
        assert_true(matches("id eq \"2819c223-7f76\""));
        assert_false(matches("id eq \"2819C223-7F76\""));
        assert_true(matches("displayName eq \"jo young\""));
}

static void test_value_path(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;

        (void) state;
        assert_true(matches("emails[type eq \"work\"].value eq \"jyoung@example.com\""));
        /* The home address exists, but not as the work one. */
        assert_false(matches("emails[type eq \"work\"].value eq \"jo@home.example\""));
        assert_true(matches("emails[type eq \"work\" and primary eq true]"));
        assert_false(matches("emails[type eq \"other\"]"));
        assert_true(matches("emails.value co \"@home\""));
        assert_true(matches("emails co \"@home\""));
        assert_int_equal(prov_filter_parse("emails[type eq \"work\"]", &f, NULL), 0);
        assert_int_equal(f->op, PROV_FILTER_VALUE_PATH);
        assert_string_equal(f->attr, "emails");
        assert_null(f->sub);
        assert_int_equal(f->left->op, PROV_FILTER_EQ);
        assert_string_equal(f->left->attr, "type");
}

static void test_logic(void **state) {
        (void) state;
        assert_true(matches("userName eq \"jyoung@example.com\" and active eq true"));
        assert_false(matches("userName eq \"jyoung@example.com\" and active eq false"));
        assert_true(matches("userName eq \"x\" or displayName eq \"Jo Young\""));
        assert_true(matches("not (userName eq \"x\")"));
        assert_false(matches("not(userName eq \"jyoung@example.com\")"));
        /* and binds tighter than or. */
        assert_true(matches("id eq \"nope\" and id eq \"nope\" or active eq true"));
        assert_false(matches("id eq \"nope\" and (id eq \"nope\" or active eq true)"));
}

static void test_last_modified(void **state) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        int64_t usec = 0;
        bool inclusive = true;

        (void) state;
        assert_true(matches("meta.lastModified gt \"2026-01-01T00:00:00Z\""));
        assert_false(matches("meta.lastModified gt \"2026-03-01T10:00:00Z\""));
        assert_true(matches("meta.lastModified ge \"2026-03-01T10:00:00Z\""));
        /* Compared as instants, not as strings: 11:00+01:00 is 10:00Z. */
        assert_true(matches("meta.lastModified le \"2026-03-01T11:00:00+01:00\""));
        assert_false(matches("meta.lastModified lt \"2026-03-01T11:00:00+01:00\""));

        assert_int_equal(prov_filter_parse("meta.lastModified gt \"2026-01-01T00:00:00Z\"", &f, NULL), 0);
        assert_true(prov_filter_modified_since(f, &usec, &inclusive));
        assert_int_equal(usec, INT64_C(1767225600) * 1000000);
        assert_false(inclusive);
        f = prov_filter_free(f);
        assert_int_equal(prov_filter_parse("meta.lastModified gt \"2026-01-01T00:00:00Z\" and active eq true",
                                           &f, NULL), 0);
        assert_false(prov_filter_modified_since(f, &usec, &inclusive));
}

static void test_pr_sw_co_ew(void **state) {
        (void) state;
        assert_true(matches("name.givenName pr"));
        assert_false(matches("title pr"));
        assert_true(matches("userName sw \"JYOUNG\""));
        assert_true(matches("userName co \"@EXAMPLE\""));
        assert_true(matches("userName ew \".com\""));
        assert_false(matches("userName ew \".org\""));
        assert_true(matches("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\""));
        assert_true(matches("urn:ietf:params:scim:schemas:core:2.0:User:userName pr"));
}

static void test_case_insensitive_names(void **state) {
        const char *attr = NULL, *value = NULL;
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;

        (void) state;
        assert_true(matches("USERNAME EQ \"jyoung@example.com\""));
        assert_true(matches("Name.GivenName Pr AND Active Eq True"));
        assert_true(matches("NOT (userName Eq \"x\")"));
        assert_int_equal(prov_filter_parse("USERNAME Eq \"bob\"", &f, NULL), 0);
        assert_true(prov_filter_simple_eq(f, &attr, &value));
        assert_string_equal(attr, "userName");
        assert_string_equal(value, "bob");
}

static void test_bad_filters(void **state) {
        char deep[200] = "";

        (void) state;
        assert_invalid("");
        assert_invalid("userName");
        assert_invalid("userName eq");
        assert_invalid("userName xx \"a\"");
        assert_invalid("userName eq \"a");
        assert_invalid("(userName eq \"a\"");
        assert_invalid("userName eq \"a\" and");
        assert_invalid("userName eq \"a\" garbage");
        assert_invalid("emails[type eq \"work\"");
        assert_invalid("emails[type eq \"work\"].value");
        assert_invalid("emails[x[y eq 1]]");
        assert_invalid("active gt true");
        assert_invalid("1abc eq \"x\"");
        assert_invalid("userName eq \"a\"\x01");
        for (int i = 0; i < 40; i++)
                strcat(deep, "(");
        strcat(deep, "id eq \"x\"");
        for (int i = 0; i < 40; i++)
                strcat(deep, ")");
        assert_invalid(deep);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_eq_username),
                cmocka_unit_test(test_unquoted_externalid),
                cmocka_unit_test(test_id_and_displayname),
                cmocka_unit_test(test_value_path),
                cmocka_unit_test(test_logic),
                cmocka_unit_test(test_last_modified),
                cmocka_unit_test(test_pr_sw_co_ew),
                cmocka_unit_test(test_case_insensitive_names),
                cmocka_unit_test(test_bad_filters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
