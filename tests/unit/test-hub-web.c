/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of the fleet page's data and HTML (hub/hub-web-data.c, hub/hub-web-render.c): an
 * IdP token's quarantine risk from its audit rows (silent for longer than HUB_WEB_SILENT_FACTOR
 * of its median interval, at least HUB_WEB_SILENT_MIN_SEC; admin rows are not pushes), the
 * progress words of a leaver report, and hostile names escaped in every table they reach. The
 * browser test (tests/web/test-hub-web.py) runs the whole page. */

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "hub-store-db.h"
#include "hub-store.h"
#include "hub-web.h"
#include "prov-util.h"

#define SEC 1000000LL

/* Renders with fn into a string. */
static char *render(void (*fn)(FILE *f, void *userdata), void *userdata) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        fn(f, userdata);
        assert_int_equal(fclose(f), 0);
        return text;
}

static void escape_one(FILE *f, void *userdata) {
        hub_web_escape(f, userdata);
}

static void test_escape(void **state) {
        _cleanup_free_ char *t = render(escape_one, (void *) "<script>alert(\"x\")</script>'&");

        assert_string_equal(t, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;");
}

/* A source's row: its "atRisk" and "pushes" at `now` after pushes at the given seconds. */
static cJSON *find_source(cJSON *arr, const char *name) {
        cJSON *o;

        cJSON_ArrayForEach(o, arr)
                if (streq(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, name))
                        return o;
        return NULL;
}

static void add_audit(HubStore *s, const char *token, const char *method, int64_t usec) {
        char sql[256];

        snprintf(sql, sizeof(sql),
                 "INSERT INTO audit (time_usec, token_name, method, kind, id, change_seq)"
                 " VALUES (%lld, '%s', '%s', 'User', 'u', 1)",
                 (long long) usec, token, method);
        assert_int_equal(hub_db_exec(hub_store_db(s), sql), 0);
}

static void test_sources_risk(void **state) {
        char dir[] = "/tmp/test-hub-web-XXXXXX", path[PATH_MAX];
        const int64_t t0 = 1700000000LL * SEC;
        HubStore *s = NULL;
        cJSON *arr = NULL, *o;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/hub.db", dir);
        assert_int_equal(hub_store_open(path, &s), 0);
        /* okta pushes every 120 s (four pushes, two rows in one of them); entra pushed once; the
         * admin's lock is not a push. */
        for (int i = 0; i < 4; i++)
                add_audit(s, "okta", "PATCH", t0 + i * 120 * SEC);
        add_audit(s, "okta", "POST", t0 + 3 * 120 * SEC);
        add_audit(s, "entra", "POST", t0);
        add_audit(s, "admin", "LOCK", t0 + 400 * SEC);

        /* 300 s after okta's last push: within 3 x 120 s. */
        assert_int_equal(hub_web_sources(s, t0 + 360 * SEC + 300 * SEC, &arr), 0);
        assert_int_equal(cJSON_GetArraySize(arr), 2); /* admin is not a source */
        o = find_source(arr, "okta");
        assert_non_null(o);
        assert_int_equal((int) cJSON_GetObjectItemCaseSensitive(o, "pushes")->valuedouble, 4);
        assert_int_equal((int) cJSON_GetObjectItemCaseSensitive(o, "medianInterval")->valuedouble, 120);
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "atRisk")));
        /* One push: no usual cycle, never at risk. */
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(find_source(arr, "entra"), "atRisk")));
        cJSON_Delete(arr);

        /* 361 s after: silent for longer than three of its cycles. */
        assert_int_equal(hub_web_sources(s, t0 + 360 * SEC + 361 * SEC, &arr), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(find_source(arr, "okta"), "atRisk")));
        assert_int_equal((int) cJSON_GetObjectItemCaseSensitive(find_source(arr, "okta"), "lastHour")->valuedouble, 5);
        cJSON_Delete(arr);

        hub_store_close(s);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/hub.db-wal", dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/hub.db-shm", dir);
        (void) unlink(path);
        assert_int_equal(rmdir(dir), 0);
}

static void test_progress(void **state) {
        static const struct {
                const char *report, *want;
        } cases[] = {
                { "{\"state\":\"active\"}", "Not a leaver" },
                { "{\"hosts\":{\"live\":0,\"applied\":0},\"silent\":[]}", "No host follows the feed yet" },
                { "{\"hosts\":{\"live\":3,\"applied\":3},\"silent\":[]}", "Gone on all hosts (3 of 3)" },
                { "{\"hosts\":{\"live\":3,\"applied\":2},\"silent\":[]}", "Applied on 2 of 3 live hosts" },
                { "{\"hosts\":{\"live\":2,\"applied\":2},\"silent\":[{\"host\":\"x\"}]}", "Gone on all 2 live hosts; 1 silent" },
        };
        char buf[128];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cJSON *r = cJSON_Parse(cases[i].report);

                assert_non_null(r);
                assert_string_equal(hub_web_progress(r, buf, sizeof(buf)), cases[i].want);
                cJSON_Delete(r);
        }
}

static void dashboard(FILE *f, void *userdata) {
        cJSON **d = userdata;
        const HubWebPage p = { .title = "t", .csrf = "c", .who = "<b>admin</b>", .now = 1700000000LL * SEC };

        hub_web_render_head(f, &p);
        hub_web_render_dashboard(f, &p, d[0], d[1], d[2], d[3]);
        hub_web_render_tail(f, &p);
}

/* Names from the IdP and the hosts reach the leavers, sources, fleet and holds tables escaped. */
static void test_dashboard_escapes(void **state) {
        cJSON *d[4] = {
                cJSON_Parse("[{\"id\":\"1\",\"userName\":\"<script>u</script>\",\"state\":\"deactivated\","
                            "\"by\":\"<i>idp</i>\",\"hosts\":{\"live\":1,\"applied\":0},"
                            "\"lagging\":[{\"hostname\":\"<h1>host</h1>\"}],\"silent\":[]}]"),
                cJSON_Parse("[{\"name\":\"<s>tok</s>\",\"lastPush\":1,\"lastHour\":0,\"pushes\":1}]"),
                cJSON_Parse("{\"seq\":1,\"hosts\":[{\"host\":\"<m>\",\"hostname\":\"<img src=x>\","
                            "\"version\":\"\\\"v\",\"live\":true,\"behind\":0}]}"),
                cJSON_Parse("{\"users\":[{\"id\":\"2\",\"userName\":\"<held>\"}]}"),
        };
        _cleanup_free_ char *t = NULL;

        for (size_t i = 0; i < 4; i++)
                assert_non_null(d[i]);
        t = render(dashboard, d);
        for (const char *bad = "<script>u\0<i>idp\0<h1>host\0<s>tok\0<img src\0<held>\0<b>admin\0"; *bad;
             bad += strlen(bad) + 1)
                assert_null(strstr(t, bad));
        assert_non_null(strstr(t, "&lt;script&gt;u&lt;/script&gt;"));
        assert_non_null(strstr(t, "&lt;img src=x&gt;"));
        assert_non_null(strstr(t, "&lt;held&gt;"));
        assert_non_null(strstr(t, "<td>&quot;v</td>"));
        assert_non_null(strstr(t, "Applied on 0 of 1 live hosts"));
        for (size_t i = 0; i < 4; i++)
                cJSON_Delete(d[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_sources_risk),
                cmocka_unit_test(test_progress),
                cmocka_unit_test(test_dashboard_escapes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
