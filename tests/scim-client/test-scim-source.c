/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The SCIM HTTP client against the real test server (tests/scim-server/server.js), started by
 * test-scim-source.sh, which exports SCIM_BASE, SCIM_TOKEN_FILE, SCIM_DATA (50 users, 5 groups
 * from bench-gen.py) and SCIM_TMP. Each test resets the directory, faults and options first.
 *
 * With "--bench" it instead runs one full scan with the default page size and prints its
 * counters, elapsed and CPU time, peak RSS and the heap the result holds (for a big directory
 * loaded by the caller: bench/bench-scim-fetch.sh). */

#include <inttypes.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "prov-config.h"
#include "scim-source.h"

#define N_USERS 50
#define N_GROUPS 5

static const char *base, *token_file, *data_file, *tmpdir, *proxy_port, *proxy_log;
static char token[256];

typedef struct Buf {
        char *data;
        size_t len;
} Buf;

static size_t buf_write(char *p, size_t size, size_t n, void *ud) {
        Buf *b = ud;
        char *q = realloc(b->data, b->len + size * n + 1);

        assert_non_null(q);
        b->data = q;
        memcpy(b->data + b->len, p, size * n);
        b->len += size * n;
        b->data[b->len] = '\0';
        return size * n;
}

/* One request to the server (control API or SCIM with our token); returns the HTTP status. */
static long http(const char *method, const char *path, const char *body, bool auth, char **ret_body) {
        _cleanup_free_ char *url = NULL, *authz = NULL;
        struct curl_slist *h = NULL;
        Buf b = {};
        long status = 0;
        CURL *c;

        assert_true(asprintf(&url, "%s%s", base, path) > 0);
        c = curl_easy_init();
        assert_non_null(c);
        h = curl_slist_append(h, "Content-Type: application/json");
        if (auth) {
                assert_true(asprintf(&authz, "Authorization: Bearer %s", token) > 0);
                h = curl_slist_append(h, authz);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the proxy tests set http_proxy & co. */
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        if (ret_body)
                *ret_body = b.data;
        else
                free(b.data);
        return status;
}

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        Buf b = {};
        char chunk[65536];
        size_t n;

        assert_non_null(f);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                buf_write(chunk, 1, n, &b);
        fclose(f);
        return b.data;
}

static void ctl_ok(const char *method, const char *path, const char *body) {
        long s = http(method, path, body, false, NULL);

        if (s != 200)
                fail_msg("%s %s -> %ld", method, path, s);
}

static int reset(void **state) {
        _cleanup_free_ char *data = read_all(data_file);

        (void) state;
        ctl_ok("DELETE", "/_control/fault", NULL);
        ctl_ok("DELETE", "/_control/options", NULL);
        ctl_ok("POST", "/_control/reset", data);
        return 0;
}

static void write_file(const char *path, const char *content, mode_t mode) {
        FILE *f;

        (void) unlink(path);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
}

static void set_str(char **field, const char *v) {
        free(*field);
        *field = v ? strdup(v) : NULL;
}

/* A config for the test server: plain http on loopback, explicitly allowed. */
static ProvConfig *config_for(const char *suffix, const char *tokfile, unsigned timeout) {
        ProvConfig *cfg = NULL;
        _cleanup_free_ char *url = NULL;

        assert_int_equal(prov_config_new(&cfg), 0);
        assert_true(asprintf(&url, "%s%s", base, suffix) > 0);
        set_str(&cfg->url, url);
        set_str(&cfg->token_file, tokfile);
        cfg->allow_insecure_http = true;
        cfg->timeout_sec = timeout;
        return cfg;
}

static ProvScimClient *client_with(const char *suffix, const char *tokfile, unsigned count, unsigned timeout) {
        _cleanup_(prov_config_freep) ProvConfig *cfg = config_for(suffix, tokfile, timeout);
        ProvScimClient *c = NULL;

        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        if (count > 0)
                assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = count }), 0);
        return c;
}

static ProvScimClient *client(unsigned count) {
        return client_with("/scim/v2", token_file, count, 10);
}

/* A client with this retry budget (seconds). */
static ProvScimClient *client_budget(unsigned count, unsigned budget) {
        _cleanup_(prov_config_freep) ProvConfig *cfg = config_for("/scim/v2", token_file, 10);
        ProvScimClient *c = NULL;

        cfg->retry_budget_sec = budget;
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = count }), 0);
        return c;
}

/* How many requests of the server's log since the last stats reset contain needle. */
static size_t log_count(const char *needle) {
        _cleanup_free_ char *log = NULL;
        size_t n = 0;

        assert_int_equal(http("GET", "/_control/log", NULL, false, &log), 200);
        for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static bool has_user(const ProvScimBatch *b, const char *id) {
        for (size_t i = 0; i < b->n_users; i++)
                if (streq(b->users[i].id, id))
                        return true;
        return false;
}

/* Every id once, and the count we expect. */
static void assert_unique(const ProvScimBatch *b, size_t users, size_t groups) {
        assert_int_equal(b->n_users, users);
        assert_int_equal(b->n_groups, groups);
        for (size_t i = 0; i < b->n_users; i++)
                for (size_t j = i + 1; j < b->n_users; j++)
                        assert_string_not_equal(b->users[i].id, b->users[j].id);
        for (size_t i = 0; i < b->n_groups; i++)
                for (size_t j = i + 1; j < b->n_groups; j++)
                        assert_string_not_equal(b->groups[i].id, b->groups[j].id);
}

static void test_full_scan_pages_by_count(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(b->n_rejects, 0);
        assert_string_equal(b->users[0].id, "u-000001");
        assert_string_equal(b->users[49].id, "u-000050");
        /* 50 users in pages of 7 = 8 pages, 5 groups = 1 page, one pass, + ServiceProviderConfig */
        assert_int_equal(st.pages, 9);
        assert_int_equal(st.passes, 1);
        assert_int_equal(st.requests, 10);
        assert_true(st.bytes > 0);
        /* The half group holds every other user. */
        assert_int_equal(b->groups[0].n_members, N_USERS / 2);
}

static void test_default_count_follows_server_max(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(0);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *log = NULL;
        ProvScimStats st;

        (void) state;
        /* pageCap also sets filter.maxResults in ServiceProviderConfig: we ask for that much. */
        ctl_ok("POST", "/_control/options", "{\"pageCap\":20}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.pages, 3 + 1);
        assert_int_equal(http("GET", "/_control/log", NULL, false, &log), 200);
        assert_non_null(strstr(log, "\"count\":\"20\""));
        assert_null(strstr(log, "\"count\":\"1000\""));
}

static void test_page_cap_below_count(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/options", "{\"pageCap\":4}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        /* We asked for 7, got 4 per page and advanced by 4: 13 + 2 pages. */
        assert_int_equal(st.pages, 13 + 2);
}

static void test_lying_items_per_page(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/options", "{\"lieItemsPerPage\":true}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.pages, 9);

        b = prov_scim_batch_free(b);
        ctl_ok("POST", "/_control/options", "{\"lieItemsPerPage\":3}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
}

static void test_insert_during_paging_rescans(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        /* A user POSTed after our first page: totalResults moves from 50 to 51. */
        ctl_ok("POST", "/_control/options",
               "{\"mutateDuringPaging\":{\"path\":\"/Users\",\"afterRequests\":1,"
               "\"add\":[{\"id\":\"u-new\",\"userName\":\"newcomer@example.com\"}]}}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_int_equal(st.passes, 2);
        assert_unique(b, N_USERS + 1, N_GROUPS);
        assert_true(has_user(b, "u-new"));
}

/* One prepended, one removed at the end: totalResults stays 50 but the list shifts by one, so
 * page 2 starts again with u-000007, which ends page 1. One pass, every user once. */
static ProvScimBatch *fetch_shifted_by_one(void) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        ProvScimBatch *b = NULL;
        ProvScimStats st;

        ctl_ok("POST", "/_control/options",
               "{\"mutateDuringPaging\":{\"path\":\"/Users\",\"afterRequests\":1,\"prepend\":true,"
               "\"delete\":[\"u-000050\"],"
               "\"add\":[{\"id\":\"u-front\",\"userName\":\"front@example.com\"}]}}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_int_equal(st.passes, 1);
        assert_unique(b, N_USERS - 1, N_GROUPS);
        return b;
}

static void test_shift_during_paging_dedups(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = fetch_shifted_by_one();
        size_t n7 = 0;

        (void) state;
        /* The copy seen later is dropped. */
        for (size_t i = 0; i < b->n_users; i++)
                n7 += streq(b->users[i].id, "u-000007");
        assert_int_equal(n7, 1);
        assert_string_equal(b->users[6].id, "u-000007");
}

/* The pages of the pass are one batch, finished once: the later copy of u-000007 is a reject,
 * listed once, as a repeat on one page would be. */
static void test_duplicate_across_pages_rejected_once(void **state) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = fetch_shifted_by_one();
        size_t dups = 0;

        (void) state;
        assert_int_equal(b->n_rejects, 1);
        for (size_t i = 0; i < b->n_rejects; i++)
                dups += streq(b->rejects[i].kind, "user") && streq_ptr(b->rejects[i].id, "u-000007") &&
                        streq_ptr(b->rejects[i].reason, "duplicate id in the same batch (first one kept)");
        assert_int_equal(dups, 1);
}

#define EMPTY_PAGE "{\\\"schemas\\\":[\\\"urn:ietf:params:scim:api:messages:2.0:ListResponse\\\"]," \
        "\\\"totalResults\\\":50,\\\"startIndex\\\":8,\\\"itemsPerPage\\\":0,\\\"Resources\\\":[]}"

static void test_drift_twice_is_eagain(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        /* Page 2 of each pass comes back empty although 43 users are missing. */
        ctl_ok("POST", "/_control/fault",
               "[{\"path\":\"/Users\",\"exact\":true,\"method\":\"GET\",\"afterRequests\":1,\"body\":\"" EMPTY_PAGE "\"},"
               " {\"path\":\"/Users\",\"exact\":true,\"method\":\"GET\",\"afterRequests\":1,\"body\":\"" EMPTY_PAGE "\"}]");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), -EAGAIN);
        assert_null(b);
        assert_int_equal(st.passes, 2);
}

static void test_http_500_on_page_3_fails_scan(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users\",\"exact\":true,\"status\":500,\"afterRequests\":2}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), -EIO);
        assert_null(b);
        assert_int_equal(st.pages, 2);
}

static void test_malformed_page_is_ebadmsg(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        ProvScimBatch *b = NULL;

        (void) state;
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Groups\",\"exact\":true,\"body\":\"{\\\"schemas\\\":[\"}");
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -EBADMSG);
        assert_null(b);
}

static void test_response_cap_is_efbig(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        ProvScimBatch *b = NULL;

        (void) state;
        assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = 7, .max_response_bytes = 2048 }),
                         0);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -EFBIG);
        assert_null(b);
        assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = 7, .max_pages = 3 }), 0);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -E2BIG);
        assert_null(b);
}

static void test_timeout(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client_with("/scim/v2", token_file, 7, 1);
        ProvScimBatch *b = NULL;

        (void) state;
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users\",\"exact\":true,\"delayMs\":2500}");
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -ETIMEDOUT);
        assert_null(b);
}

static uint64_t mono_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void test_429_retry_after(void **state) {
        /* Budget 0: the first 429 fails the scan, and the daemon's schedule honours Retry-After. */
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client_budget(7, 0);
        ProvScimBatch *b = NULL;
        uint64_t before, after, ra;

        (void) state;
        assert_int_equal(prov_scim_client_retry_after(c), 0);
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users\",\"exact\":true,\"status\":429,\"retryAfter\":2}");
        before = mono_usec();
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -EBUSY);
        after = mono_usec();
        assert_null(b);
        ra = prov_scim_client_retry_after(c);
        assert_true(ra >= before + 2000000);
        assert_true(ra <= after + 2000000);

        /* 503 with an HTTP date far away: parsed, and capped at a day. */
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"status\":503,\"retryAfter\":\"Wed, 21 Oct 2099 07:28:00 GMT\"}");
        before = mono_usec();
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -EBUSY);
        after = mono_usec();
        ra = prov_scim_client_retry_after(c);
        assert_true(ra >= before + UINT64_C(86400000000));
        assert_true(ra <= after + UINT64_C(86400000000));
}

/* Issue 19 item 2: a 429 on a middle page costs one wait and one more request of that page, not
 * the scan. 50 users in pages of 7: the 4th page (startIndex=22) is throttled once. */
static void test_429_mid_scan_retries_same_page(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"method\":\"GET\",\"status\":429,\"retryAfter\":1,"
               "\"afterRequests\":3}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.passes, 1);
        assert_int_equal(st.waits, 1);
        assert_int_equal(st.pages, 9);
        assert_int_equal(st.requests, 11); /* 10 as without the fault, + the page asked again */
        assert_int_equal(log_count("\"startIndex\":\"22\""), 2);
        assert_int_equal(log_count("\"status\":429"), 1);
        assert_int_equal(log_count("\"startIndex\":\"1\""), 2); /* users and groups, once each */
}

/* 503 without Retry-After: the backoff, then the same page. An HTTP date works like seconds. */
static void test_503_backoff_and_http_date(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        char fault[256], date[64];
        time_t t = time(NULL) + 2; /* at least 1 s left once parsed */
        struct tm tm;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Groups\",\"exact\":true,\"method\":\"GET\",\"status\":503,\"count\":2}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.waits, 2);
        assert_int_equal(log_count("\"status\":503"), 2);

        b = prov_scim_batch_free(b);
        assert_non_null(gmtime_r(&t, &tm));
        assert_true(strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
        snprintf(fault, sizeof(fault),
                 "{\"path\":\"/Users\",\"exact\":true,\"status\":429,\"retryAfter\":\"%s\",\"afterRequests\":1}",
                 date);
        ctl_ok("POST", "/_control/fault", fault);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.waits, 1);
}

/* The budget: 0 gives up at the first 429, and so does a budget smaller than Retry-After,
 * without waiting and without asking the page again. */
static void test_retry_budget_spent_fails_scan(void **state) {
        ProvScimClient *c;
        ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        c = client_budget(7, 0);
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"status\":429,\"retryAfter\":1,\"afterRequests\":3}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), -EBUSY);
        assert_null(b);
        assert_int_equal(st.waits, 0);
        assert_int_equal(log_count("\"startIndex\":\"22\""), 1);
        assert_true(prov_scim_client_retry_after(c) > 0);
        c = prov_scim_client_free(c);

        c = client_budget(7, 3);
        ctl_ok("DELETE", "/_control/fault", NULL);
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users\",\"exact\":true,\"status\":429,\"retryAfter\":5}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), -EBUSY);
        assert_int_equal(st.waits, 0);
        assert_int_equal(log_count("\"status\":429"), 1);

        /* Throttled for good: the budget runs out after a few waits, then -EBUSY. */
        ctl_ok("DELETE", "/_control/fault", NULL);
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"status\":429,\"retryAfter\":1,\"count\":100}");
        assert_int_equal(prov_scim_fetch_full(c, &b, &st), -EBUSY);
        assert_true(st.waits >= 1 && st.waits <= 3);
        assert_true(st.waited_usec <= UINT64_C(3) * 1000000);
        prov_scim_client_free(c);
}

/* The confirming GET /Users/{id} and the delta requests wait too. */
static void test_429_confirm_and_delta(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimStats st;

        (void) state;
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users/u-000003\",\"status\":429,\"retryAfter\":1}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000003", NULL), 0);
        assert_int_equal(log_count("/Users/u-000003"), 2);

        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"status\":503,\"retryAfter\":1,\"afterRequests\":1}");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_fetch_delta(c, 0, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(st.waits, 1);
        assert_int_equal(log_count("\"status\":503"), 1);
}

static void test_wrong_token_eacces(void **state) {
        _cleanup_free_ char *bad = NULL;
        ProvScimClient *c;
        ProvScimBatch *b = NULL;

        (void) state;
        assert_true(asprintf(&bad, "%s/bad-token", tmpdir) > 0);
        write_file(bad, "not-the-token\n", 0600);
        c = client_with("/scim/v2", bad, 7, 10);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -EACCES);
        assert_null(b);
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000001", NULL), -EACCES);
        assert_int_equal(prov_scim_fetch_delta(c, 0, &b, NULL), -EACCES);
        prov_scim_client_free(c);
}

static void test_delta_after_deactivation(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(7);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        struct timespec now;
        int64_t since;
        ProvScimStats st;

        (void) state;
        assert_int_equal(clock_gettime(CLOCK_REALTIME, &now), 0);
        /* The data is stamped 2024; an overlap of a minute before now still excludes it. */
        since = ((int64_t) now.tv_sec - 60) * 1000000;
        assert_int_equal(http("PATCH", "/scim/v2/Users/u-000010",
                              "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                              "\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]}",
                              true, NULL), 200);
        assert_int_equal(prov_scim_fetch_delta(c, since, &b, &st), 0);
        assert_int_equal(b->n_users, 1);
        assert_int_equal(b->n_groups, 0);
        assert_string_equal(b->users[0].id, "u-000010");
        assert_false(b->users[0].active);
        assert_int_equal(st.passes, 1);

        /* Everything changed since 2020: all of it, paged. */
        b = prov_scim_batch_free(b);
        assert_int_equal(prov_scim_fetch_delta(c, INT64_C(1577836800) * 1000000, &b, &st), 0);
        assert_unique(b, N_USERS, N_GROUPS);
}

static void test_delta_unsupported(void **state) {
        ProvScimClient *c;
        ProvScimBatch *b = NULL;

        (void) state;
        /* The server says filter.supported = false. */
        ctl_ok("POST", "/_control/options", "{\"filtering\":false}");
        c = client(7);
        assert_int_equal(prov_scim_fetch_delta(c, 0, &b, NULL), -EOPNOTSUPP);
        assert_null(b);
        c = prov_scim_client_free(c);

        /* It claims support but answers 400 invalidFilter. */
        ctl_ok("DELETE", "/_control/options", NULL);
        ctl_ok("POST", "/_control/fault",
               "{\"path\":\"/Users\",\"exact\":true,\"status\":400,\"body\":\"{\\\"schemas\\\":"
               "[\\\"urn:ietf:params:scim:api:messages:2.0:Error\\\"],\\\"status\\\":\\\"400\\\","
               "\\\"scimType\\\":\\\"invalidFilter\\\",\\\"detail\\\":\\\"no\\\"}\"}");
        c = client(7);
        assert_int_equal(prov_scim_fetch_delta(c, 0, &b, NULL), -EOPNOTSUPP);
        c = prov_scim_client_free(c);

        /* Or 501. */
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users\",\"exact\":true,\"status\":501}");
        c = client(7);
        assert_int_equal(prov_scim_fetch_delta(c, 0, &b, NULL), -EOPNOTSUPP);
        prov_scim_client_free(c);
}

static void test_confirm_user_gone(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(0);
        _cleanup_(prov_scim_client_freep) ProvScimClient *wrong = client_with("/scim/v3", token_file, 0, 10);
        _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;

        (void) state;
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000003", &u), 0);
        assert_non_null(u);
        assert_string_equal(u->id, "u-000003");
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000003", NULL), 0);

        assert_int_equal(http("DELETE", "/scim/v2/Users/u-000004", NULL, true, NULL), 204);
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000004", NULL), 1);
        /* Percent-encoded: this must not turn into another path. */
        assert_int_equal(prov_scim_confirm_user_gone(c, "../Groups/g-00001", NULL), 1);
        assert_int_equal(prov_scim_confirm_user_gone(c, "a b?c#d", NULL), 1);
        assert_int_equal(prov_scim_confirm_user_gone(c, "", NULL), -EINVAL);

        /* A 5xx is an error, not "gone". */
        ctl_ok("POST", "/_control/fault", "{\"path\":\"/Users/u-000003\",\"status\":500}");
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000003", NULL), -EIO);

        /* Under a wrong base URL everybody is 404 (here even with a SCIM Error body): the /Users
         * probe fails, so this is an error, never "gone". */
        assert_int_equal(prov_scim_confirm_user_gone(wrong, "u-000004", NULL), -ENOENT);
}

static void test_wrong_base_url_list_enoent(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client_with("/scim/v3/", token_file, 0, 10);
        ProvScimBatch *b = NULL;

        (void) state;
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), -ENOENT);
        assert_null(b);
}

static void test_token_file_rules(void **state) {
        _cleanup_free_ char *lax = NULL, *link = NULL, *empty = NULL, *credname = NULL;
        _cleanup_(prov_config_freep) ProvConfig *cfg = NULL;
        ProvScimClient *c = NULL;

        (void) state;
        assert_true(asprintf(&lax, "%s/lax-token", tmpdir) > 0);
        write_file(lax, token, 0644);
        cfg = config_for("/scim/v2", lax, 10);
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPERM);
        assert_null(c);
        assert_int_equal(chmod(lax, 0640), 0);
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPERM);
        assert_int_equal(chmod(lax, 0400), 0);
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        c = prov_scim_client_free(c);

        /* A symlink is refused even to a good file. */
        assert_true(asprintf(&link, "%s/link-token", tmpdir) > 0);
        (void) unlink(link);
        assert_int_equal(symlink(token_file, link), 0);
        set_str(&cfg->token_file, link);
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPERM);

        assert_true(asprintf(&empty, "%s/empty-token", tmpdir) > 0);
        write_file(empty, " \n", 0600);
        set_str(&cfg->token_file, empty);
        assert_int_equal(prov_scim_client_new(cfg, &c), -EINVAL);
        write_file(empty, "two words\n", 0600);
        assert_int_equal(prov_scim_client_new(cfg, &c), -EINVAL);

        set_str(&cfg->token_file, NULL);
        assert_int_equal(prov_scim_client_new(cfg, &c), -ENOKEY);

        /* A systemd credential wins over token_file and needs no mode check. */
        assert_true(asprintf(&credname, "%s/scim-token", tmpdir) > 0);
        write_file(credname, token, 0644);
        set_str(&cfg->token_file, empty);
        set_str(&cfg->token_credential, "scim-token");
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", tmpdir, 1), 0);
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000001", NULL), 0);
        c = prov_scim_client_free(c);
        set_str(&cfg->token_credential, "../scim-token");
        assert_int_equal(prov_scim_client_new(cfg, &c), -EINVAL);
        assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
}

static void test_url_rules(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *cfg = config_for("/scim/v2", token_file, 10);
        ProvScimClient *c = NULL;

        (void) state;
        cfg->allow_insecure_http = false;
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPROTONOSUPPORT);
        cfg->allow_insecure_http = true;
        set_str(&cfg->url, "http://scim.example.com/scim/v2");
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPROTONOSUPPORT);
        set_str(&cfg->url, "ftp://127.0.0.1/scim/v2");
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPROTONOSUPPORT);
        set_str(&cfg->url, "http://[::1]:1/scim/v2");
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        c = prov_scim_client_free(c);
        set_str(&cfg->url, "https://scim.example.com/scim/v2");
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        prov_scim_client_free(c);
}

#define PAGE(res, cursor) "{\\\"schemas\\\":[\\\"urn:ietf:params:scim:api:messages:2.0:ListResponse\\\"]," \
        "\\\"totalResults\\\":3,\\\"itemsPerPage\\\":2" cursor ",\\\"Resources\\\":[" res "]}"
#define USER(id) "{\\\"id\\\":\\\"" id "\\\",\\\"userName\\\":\\\"" id "\\\"}"

static void test_cursor_paging(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = client(2);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *log = NULL;

        (void) state;
        /* This server has no RFC 9865 cursors: fake the config and the /Users pages with canned
         * bodies; /Groups then comes from the real server, which ignores the cursor. */
        ctl_ok("POST", "/_control/fault",
               "[{\"path\":\"/ServiceProviderConfig\",\"body\":\"{\\\"pagination\\\":{\\\"cursor\\\":true,"
               "\\\"index\\\":false},\\\"filter\\\":{\\\"supported\\\":true}}\"},"
               "{\"path\":\"/Users\",\"exact\":true,\"body\":\"" PAGE(USER("c1") "," USER("c2"), ",\\\"nextCursor\\\":\\\"n/x=\\\"") "\"},"
               "{\"path\":\"/Users\",\"exact\":true,\"body\":\"" PAGE(USER("c3"), "") "\"}]");
        ctl_ok("POST", "/_control/stats/reset", NULL);
        assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = 10 }), 0);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), 0);
        assert_unique(b, 3, N_GROUPS);
        assert_int_equal(http("GET", "/_control/log", NULL, false, &log), 200);
        assert_non_null(strstr(log, "\"cursor\":\"\""));
        assert_non_null(strstr(log, "\"cursor\":\"n/x=\""));
}

static const char *const PROXY_VARS[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                          "ALL_PROXY", "all_proxy" };

static void set_proxy_env(const char *value) {
        for (size_t i = 0; i < sizeof(PROXY_VARS) / sizeof(PROXY_VARS[0]); i++)
                if (value)
                        assert_int_equal(setenv(PROXY_VARS[i], value, 1), 0);
                else
                        assert_int_equal(unsetenv(PROXY_VARS[i]), 0);
}

static int reset_proxy(void **state) {
        FILE *f = fopen(proxy_log, "we"); /* truncates what earlier tests left */

        assert_non_null(f);
        fclose(f);
        return reset(state);
}

static int unset_proxy_env(void **state) {
        (void) state;
        set_proxy_env(NULL);
        (void) unsetenv("no_proxy");
        (void) unsetenv("NO_PROXY");
        return 0;
}

/* Issue 20.5: proxy variables in the environment are ignored; the recording proxy they name
 * sees no connection, so certainly not the token. */
static void test_environment_proxy_ignored(void **state) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = NULL;
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *proxy = NULL, *seen = NULL;

        (void) state;
        assert_true(asprintf(&proxy, "http://127.0.0.1:%s", proxy_port) > 0);
        set_proxy_env(proxy);
        c = client(7);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        assert_int_equal(prov_scim_confirm_user_gone(c, "u-000001", NULL), 0);
        seen = read_all(proxy_log);
        if (seen && seen[0])
                fail_msg("the proxy from the environment was used:\n%.500s", seen);
        assert_true(!seen || !strstr(seen, token));
}

/* With [source] proxy set the requests go through it, whatever no_proxy says; a plain http://
 * source behind a proxy off the loopback is refused (the proxy would read the token). */
static void test_configured_proxy_used(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *cfg = config_for("/scim/v2", token_file, 10);
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_free_ char *proxy = NULL, *seen = NULL;
        ProvScimClient *c = NULL;

        (void) state;
        assert_true(asprintf(&proxy, "http://127.0.0.1:%s", proxy_port) > 0);
        assert_int_equal(setenv("no_proxy", "*", 1), 0);
        assert_int_equal(setenv("NO_PROXY", "*", 1), 0);
        set_str(&cfg->proxy, proxy);
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        assert_int_equal(prov_scim_client_set_limits(c, &(ProvScimLimits) { .count = 7 }), 0);
        assert_int_equal(prov_scim_fetch_full(c, &b, NULL), 0);
        assert_unique(b, N_USERS, N_GROUPS);
        c = prov_scim_client_free(c);
        seen = read_all(proxy_log);
        assert_non_null(strstr(seen, "CONNECTION from 127.0.0.1"));
        assert_non_null(strstr(seen, "GET http://127.0.0.1:"));
        assert_non_null(strstr(seen, "/scim/v2/Users?startIndex=1&count=7"));

        set_str(&cfg->proxy, "http://proxy.example.com:3128");
        assert_int_equal(prov_scim_client_new(cfg, &c), -EPROTONOSUPPORT);
        set_str(&cfg->url, "https://scim.example.com/scim/v2");
        assert_int_equal(prov_scim_client_new(cfg, &c), 0);
        prov_scim_client_free(c);
}

static double tv_sec(struct timeval tv) {
        return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

/* Bytes malloc'ed and not freed yet, where glibc can tell (mallinfo2() is 2.33+); 0 otherwise. */
static size_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
        struct mallinfo2 mi = mallinfo2();

        return mi.uordblks + mi.hblkhd;
#else
        return 0;
#endif
}

static int bench(void) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        /* A long timeout: the test server takes a while per page of a big directory. */
        ProvScimClient *c = client_with("/scim/v2", token_file, 0, 300);
        struct timespec t0, t1;
        struct rusage ru0, ru;
        ProvScimStats st;
        int r;

        getrusage(RUSAGE_SELF, &ru0);
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
        r = prov_scim_fetch_full(c, &b, &st);
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
        getrusage(RUSAGE_SELF, &ru);
        printf("full scan: r=%d users=%zu groups=%zu rejects=%zu requests=%" PRIu64 " pages=%" PRIu64
               " passes=%" PRIu64 " bytes=%" PRIu64 " elapsed=%.2fs cpu=%.2fs (user %.2fs sys %.2fs)"
               " maxrss=%ldKiB heap_in_use=%zuKiB\n",
               r, b ? b->n_users : 0, b ? b->n_groups : 0, b ? b->n_rejects : 0, st.requests, st.pages,
               st.passes, st.bytes, (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
               tv_sec(ru.ru_utime) - tv_sec(ru0.ru_utime) + tv_sec(ru.ru_stime) - tv_sec(ru0.ru_stime),
               tv_sec(ru.ru_utime) - tv_sec(ru0.ru_utime), tv_sec(ru.ru_stime) - tv_sec(ru0.ru_stime),
               ru.ru_maxrss, heap_in_use() / 1024); /* the result, without page bodies and JSON trees */
        prov_scim_client_free(c);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        _cleanup_free_ char *tok = NULL;
        size_t l;

        base = getenv("SCIM_BASE");
        token_file = getenv("SCIM_TOKEN_FILE");
        data_file = getenv("SCIM_DATA");
        tmpdir = getenv("SCIM_TMP");
        proxy_port = getenv("FAKE_PROXY_PORT");
        proxy_log = getenv("FAKE_PROXY_LOG");
        if (!base || !token_file || !data_file || !tmpdir || !proxy_port || !proxy_log) {
                fprintf(stderr, "SKIP: run through test-scim-source.sh (SCIM_BASE etc. unset)\n");
                return 77;
        }
        tok = read_all(token_file);
        l = strlen(tok);
        while (l > 0 && (tok[l - 1] == '\n' || tok[l - 1] == ' '))
                tok[--l] = '\0';
        snprintf(token, sizeof(token), "%s", tok);
        curl_global_init(CURL_GLOBAL_DEFAULT);

        if (argc > 1 && streq(argv[1], "--bench"))
                return bench();

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_full_scan_pages_by_count, reset),
                cmocka_unit_test_setup(test_default_count_follows_server_max, reset),
                cmocka_unit_test_setup(test_page_cap_below_count, reset),
                cmocka_unit_test_setup(test_lying_items_per_page, reset),
                cmocka_unit_test_setup(test_insert_during_paging_rescans, reset),
                cmocka_unit_test_setup(test_shift_during_paging_dedups, reset),
                cmocka_unit_test_setup(test_duplicate_across_pages_rejected_once, reset),
                cmocka_unit_test_setup(test_drift_twice_is_eagain, reset),
                cmocka_unit_test_setup(test_http_500_on_page_3_fails_scan, reset),
                cmocka_unit_test_setup(test_malformed_page_is_ebadmsg, reset),
                cmocka_unit_test_setup(test_response_cap_is_efbig, reset),
                cmocka_unit_test_setup(test_timeout, reset),
                cmocka_unit_test_setup(test_429_retry_after, reset),
                cmocka_unit_test_setup(test_429_mid_scan_retries_same_page, reset),
                cmocka_unit_test_setup(test_503_backoff_and_http_date, reset),
                cmocka_unit_test_setup(test_retry_budget_spent_fails_scan, reset),
                cmocka_unit_test_setup(test_429_confirm_and_delta, reset),
                cmocka_unit_test_setup_teardown(test_environment_proxy_ignored, reset_proxy, unset_proxy_env),
                cmocka_unit_test_setup_teardown(test_configured_proxy_used, reset_proxy, unset_proxy_env),
                cmocka_unit_test_setup(test_wrong_token_eacces, reset),
                cmocka_unit_test_setup(test_delta_after_deactivation, reset),
                cmocka_unit_test_setup(test_delta_unsupported, reset),
                cmocka_unit_test_setup(test_confirm_user_gone, reset),
                cmocka_unit_test_setup(test_wrong_base_url_list_enoent, reset),
                cmocka_unit_test_setup(test_token_file_rules, reset),
                cmocka_unit_test_setup(test_url_rules, reset),
                cmocka_unit_test_setup(test_cursor_paging, reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
