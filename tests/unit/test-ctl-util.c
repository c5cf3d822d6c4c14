/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl's helpers: --since time parsing, ages, URL redaction, the JSON writer's
 * escaping and nesting, table alignment. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ctl-util.h"

#define SEC INT64_C(1000000)

static void test_parse_time_rfc3339(void **state _unused_) {
        int64_t t = 0;

        assert_int_equal(ctl_parse_time("2024-05-01T10:00:00Z", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
        assert_int_equal(ctl_parse_time("2024-05-01T12:30:00+02:30", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
        assert_int_equal(ctl_parse_time("2024-05-01T09:00:00-01:00", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
        assert_int_equal(ctl_parse_time("2024-05-01t10:00:00.25z", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC + 250000);
        assert_int_equal(ctl_parse_time("1970-01-01T00:00:00Z", 0, &t), 0);
        assert_int_equal(t, 0);
}

static void test_parse_time_local(void **state _unused_) {
        int64_t t = 0;

        /* Local time is the TZ of the process; pin it so the expected value is fixed. */
        setenv("TZ", "UTC", 1);
        tzset();
        assert_int_equal(ctl_parse_time("2024-05-01 10:00:00", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
        assert_int_equal(ctl_parse_time("2024-05-01 10:00", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
        assert_int_equal(ctl_parse_time("2024-05-01", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714521600) * SEC);
        assert_int_equal(ctl_parse_time("@1714557600", 0, &t), 0);
        assert_int_equal(t, INT64_C(1714557600) * SEC);
}

static void test_parse_time_relative(void **state _unused_) {
        int64_t now = INT64_C(1714557600) * SEC, t = 0;

        assert_int_equal(ctl_parse_time("-1h", now, &t), 0);
        assert_int_equal(t, now - 3600 * SEC);
        assert_int_equal(ctl_parse_time("-90m", now, &t), 0);
        assert_int_equal(t, now - 5400 * SEC);
        assert_int_equal(ctl_parse_time("-45s", now, &t), 0);
        assert_int_equal(t, now - 45 * SEC);
        assert_int_equal(ctl_parse_time("-2d", now, &t), 0);
        assert_int_equal(t, now - 2 * 86400 * SEC);
        assert_int_equal(ctl_parse_time("-1w", now, &t), 0);
        assert_int_equal(t, now - 7 * 86400 * SEC);
}

static void test_parse_time_invalid(void **state _unused_) {
        static const char *const bad[] = {
                "", "-", "-h", "-1", "-1x", "-1hh", "- 1h", "--1h", "-99999999999999999999h",
                "-9999999999w", "yesterday", "2024-13-01", "2024-02-30", "2024-00-10", "2024-05-01T25:00:00Z",
                "2024-05-01T10:00:00+2", "2024-05-01T10:00:00Zx", "2024-5-1", "2024-05-01T10", "2024-05-01T10:00:00.",
                "@", "@-5", "@12x", " 2024-05-01",
        };
        int64_t t = 42;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(ctl_parse_time(bad[i], 0, &t), -EINVAL);
                assert_int_equal(t, 42); /* ret_ untouched on failure */
        }
}

static void test_format_age(void **state _unused_) {
        int64_t now = INT64_C(1714557600) * SEC;
        char buf[64];

        assert_string_equal(ctl_format_age(0, now, buf, sizeof(buf)), "never");
        assert_string_equal(ctl_format_age(now - 42 * SEC, now, buf, sizeof(buf)), "42s ago");
        assert_string_equal(ctl_format_age(now - 300 * SEC, now, buf, sizeof(buf)), "5min ago");
        assert_string_equal(ctl_format_age(now - (3 * 3600 + 120) * SEC, now, buf, sizeof(buf)), "3h 2min ago");
        assert_string_equal(ctl_format_age(now - (4 * 86400 + 3600) * SEC, now, buf, sizeof(buf)), "4d 1h ago");
        assert_string_equal(ctl_format_age(now + 3600 * SEC, now, buf, sizeof(buf)), "in the future");
        assert_string_equal(ctl_format_time(0, buf, sizeof(buf)), "never");
}

static void check_redact(const char *in, const char *want) {
        _cleanup_free_ char *out = NULL;

        assert_int_equal(ctl_redact_url(in, &out), 0);
        assert_string_equal(out, want);
}

static void test_redact_url(void **state _unused_) {
        check_redact("https://scim.example.com/scim/v2", "https://scim.example.com/scim/v2");
        check_redact("https://user:s3cret@scim.example.com/scim/v2", "https://scim.example.com/scim/v2");
        check_redact("https://user:p@ss@scim.example.com:8443/v2?token=abc#frag", "https://scim.example.com:8443/v2");
        check_redact("https://scim.example.com/v2/x@y", "https://scim.example.com/v2/x@y");
        check_redact("https://tok@host?x=@", "https://host");
        check_redact("not a url?secret", "not a url");
}

/* Runs a writer into a memory buffer and returns what it wrote. */
static char *json_of(void (*fn)(CtlJson *j)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CtlJson j;

        assert_non_null(f);
        ctl_json_init(&j, f);
        fn(&j);
        fclose(f);
        return buf;
}

static void json_sample(CtlJson *j) {
        ctl_json_begin_object(j, NULL);
        ctl_json_str(j, "name", "a\"b\\c\n\x01\x7f é");
        ctl_json_str(j, "none", NULL);
        ctl_json_int(j, "neg", -5);
        ctl_json_uint(j, "big", UINT64_MAX);
        ctl_json_bool(j, "yes", true);
        ctl_json_begin_array(j, "empty");
        ctl_json_end_array(j);
        ctl_json_begin_array(j, "list");
        ctl_json_str(j, NULL, "x");
        ctl_json_begin_object(j, NULL);
        ctl_json_null(j, "n");
        ctl_json_end_object(j);
        ctl_json_end_array(j);
        ctl_json_end_object(j);
        ctl_json_finish(j);
}

static void test_json(void **state _unused_) {
        _cleanup_free_ char *s = json_of(json_sample);

        assert_string_equal(s,
                            "{\n"
                            "  \"name\": \"a\\\"b\\\\c\\n\\u0001\\u007f é\",\n"
                            "  \"none\": null,\n"
                            "  \"neg\": -5,\n"
                            "  \"big\": 18446744073709551615,\n"
                            "  \"yes\": true,\n"
                            "  \"empty\": [],\n"
                            "  \"list\": [\n"
                            "    \"x\",\n"
                            "    {\n"
                            "      \"n\": null\n"
                            "    }\n"
                            "  ]\n"
                            "}\n");
}

static void test_table(void **state _unused_) {
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;

        assert_int_equal(ctl_table_new(&t, 3, "NAME", "UID", "GECOS"), 0);
        assert_int_equal(ctl_table_add_row(t, "ada", "200001", "Ada Lovelace"), 0);
        assert_int_equal(ctl_table_add_row(t, "zoë", NULL, ""), 0);
        assert_int_equal(ctl_table_set_color(t, 0, "\033[31m"), 0);
        assert_int_equal(ctl_table_set_color(t, 3, "\033[31m"), -EINVAL);
        assert_int_equal(ctl_table_rows(t), 2);

        f = open_memstream(&buf, &len);
        ctl_table_print(t, f, true, false);
        fclose(f);
        /* "zoë" is three columns wide although it is four bytes; NULL shows as "-". */
        assert_string_equal(buf,
                            "NAME UID    GECOS\n"
                            "ada  200001 Ada Lovelace\n"
                            "zoë  -      \n");
        free(buf);
        buf = NULL;

        f = open_memstream(&buf, &len);
        ctl_table_print(t, f, false, true);
        fclose(f);
        assert_string_equal(buf,
                            "ada 200001 Ada Lovelace\n"
                            "\033[31mzoë\033[0m -      \n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_time_rfc3339),
                cmocka_unit_test(test_parse_time_local),
                cmocka_unit_test(test_parse_time_relative),
                cmocka_unit_test(test_parse_time_invalid),
                cmocka_unit_test(test_format_age),
                cmocka_unit_test(test_redact_url),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
