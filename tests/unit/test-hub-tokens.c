/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hub-tokens.h"
#include "hub-util.h"
#include "prov-util.h"

static char *mfree_str_helper(char *p) {
        free(p);
        return NULL;
}

static char tmp_dir[] = "/tmp/test-hub-tokens.XXXXXX";

static char *tmp_path(const char *name) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
        return p;
}

static void write_file(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        assert_int_equal(close(fd), 0);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmp_dir));
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = NULL;

        assert_true(asprintf(&cmd, "rm -rf '%s'", tmp_dir) > 0);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void test_sha256(void **state) {
        char hex[65];

        /* FIPS 180-2 test vector. */
        assert_int_equal(hub_sha256_hex("abc", 3, hex), 0);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_base64url(void **state) {
        char out[64];

        assert_int_equal(hub_base64url((const uint8_t *) "\xfb\xff", 2, out), 3);
        assert_string_equal(out, "-_8");
        assert_int_equal(hub_base64url((const uint8_t *) "foobar", 6, out), 8);
        assert_string_equal(out, "Zm9vYmFy");
        assert_int_equal(hub_base64url((const uint8_t *) "f", 1, out), 2);
        assert_string_equal(out, "Zg");
}

static void test_uuid(void **state) {
        char a[37], b[37];

        assert_int_equal(hub_uuid4(a), 0);
        assert_int_equal(hub_uuid4(b), 0);
        assert_int_equal(strlen(a), 36);
        assert_int_equal(a[14], '4');
        assert_non_null(strchr("89ab", a[19]));
        assert_string_not_equal(a, b);
}

static void test_names(void **state) {
        assert_true(hub_token_name_valid("entra"));
        assert_true(hub_token_name_valid("okta-prod_2@corp.example"));
        assert_false(hub_token_name_valid(""));
        assert_false(hub_token_name_valid("-x"));
        assert_false(hub_token_name_valid(".x"));
        assert_false(hub_token_name_valid("a b"));
        assert_false(hub_token_name_valid("a:b"));
        assert_false(hub_token_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

static void test_parse_text(void **state) {
        static const char *const bad[] = {
                "entra\n",
                "entra sha256:abc\n",
                "entra sha1:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
                "entra sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad extra\n",
                "entra sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad bind x\n",
                "entra sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
                "a:b sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
                "x sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
                "x sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
        };
        const char *good = "# IdPs\n\n  entra sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
                           "okta\tsha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n"
                           "fleet sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad bind";
        size_t n;

        assert_int_equal(hub_tokens_parse_text(good, strlen(good), &n, NULL), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *err = NULL;

                assert_int_equal(hub_tokens_parse_text(bad[i], strlen(bad[i]), &n, &err), -EBADMSG);
                assert_non_null(err);
                assert_non_null(strstr(err, "line "));
        }
}

/* Many per-host tokens: 20,000 distinct names parse; a repeated name is reported at the first line
 * (in file order) that repeats one, whichever name sorts first. */
static void test_duplicates_many(void **state) {
        enum { N = 20000 };
        static const char hash[] = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t size = 0, n;
        char *p;

        text = malloc((size_t) (N + 2) * 100);
        assert_non_null(text);
        p = text;
        p += sprintf(p, "# hosts\n");
        for (unsigned i = 0; i < N; i++)
                p += sprintf(p, "host-%05u %s bind\n", i, hash);
        size = (size_t) (p - text);
        assert_int_equal(hub_tokens_parse_text(text, size, &n, NULL), 0);
        assert_int_equal(n, N);

        /* Line 1 is the comment: host-00000 is on line 2. host-19999 repeated on line N + 2, then
         * host-00000 on line N + 3: the first repeat in file order is reported. */
        p += sprintf(p, "host-19999 %s bind\nhost-00000 %s\n", hash, hash);
        size = (size_t) (p - text);
        assert_int_equal(hub_tokens_parse_text(text, size, &n, &err), -EBADMSG);
        assert_non_null(err);
        assert_string_equal(err, "line 20002: duplicate name 'host-19999'");
}

/* token-new then check: the printed token authenticates with its role and name, its file
 * holds only the hash, a duplicate name is refused, and another token is not accepted. */
static void test_new_and_check(void **state) {
        _cleanup_free_ char *scim = tmp_path("scim.tokens"), *host = tmp_path("host.tokens");
        _cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL, *err = NULL, *text = NULL;
        _cleanup_(hub_tokens_freep) HubTokens *tokens = NULL;
        char *paths[_HUB_ROLE_MAX] = { [HUB_ROLE_SCIM] = scim, [HUB_ROLE_HOST] = host };
        char hex[65], buf[4096];
        const char *name;
        struct stat st;
        HubRole role;
        ssize_t k;
        int fd;

        assert_int_equal(hub_token_new(scim, "entra", false, &t1, &err), 0);
        assert_int_equal(strlen(t1), HUB_TOKEN_LENGTH);
        assert_memory_equal(t1, "prov_", 5);
        for (const char *c = t1 + 5; *c; c++)
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c));
        assert_int_equal(stat(scim, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(hub_token_new(scim, "okta", false, &t2, &err), 0);
        assert_int_equal(hub_token_new(scim, "entra", false, &t3, &err), -EEXIST);
        assert_null(t3);
        assert_non_null(strstr(err, "exists already"));
        err = mfree_str_helper(err);

        /* The file: the two names with the hashes of the tokens, and never a token. */
        fd = open(scim, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        k = read(fd, buf, sizeof(buf) - 1);
        assert_true(k > 0);
        buf[k] = 0;
        close(fd);
        assert_int_equal(hub_sha256_hex(t1, strlen(t1), hex), 0);
        assert_true(asprintf(&text, "entra sha256:%s\n", hex) > 0);
        assert_memory_equal(buf, text, strlen(text));
        assert_null(strstr(buf, t1 + 5));
        assert_null(strstr(buf, t2 + 5));

        free(t3);
        t3 = NULL;
        assert_int_equal(hub_token_new(host, "web-01", false, &t3, &err), 0);
        assert_int_equal(hub_token_new(host, "web-02", true, &t4, &err), 0);

        assert_int_equal(hub_tokens_new(paths, &tokens), 0);
        assert_int_equal(hub_tokens_refresh(tokens, &err), 0);
        assert_int_equal(hub_tokens_count(tokens, HUB_ROLE_SCIM), 2);
        assert_int_equal(hub_tokens_count(tokens, HUB_ROLE_HOST), 2);
        assert_int_equal(hub_tokens_count(tokens, HUB_ROLE_ADMIN), 0);

        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1), &role, &name), 0);
        assert_int_equal(role, HUB_ROLE_SCIM);
        assert_string_equal(name, "entra");
        assert_int_equal(hub_tokens_check(tokens, t2, strlen(t2), &role, &name), 0);
        assert_string_equal(name, "okta");
        assert_int_equal(hub_tokens_check(tokens, t3, strlen(t3), &role, &name), 0);
        assert_int_equal(role, HUB_ROLE_HOST);
        assert_string_equal(name, "web-01");
        {
                bool shared = false;

                /* token-new writes an unmarked line: shared. */
                assert_int_equal(hub_tokens_find(tokens, HUB_ROLE_HOST, "web-01", &shared), 0);
                assert_true(shared);
                /* token-new ... bind: the line ends in bind, bound to its first host. */
                assert_int_equal(hub_tokens_find(tokens, HUB_ROLE_HOST, "web-02", &shared), 0);
                assert_false(shared);
                assert_int_equal(hub_tokens_find(tokens, HUB_ROLE_SCIM, "web-01", NULL), -ENOENT);
        }

        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1) - 1, &role, &name), -EACCES);
        assert_int_equal(hub_tokens_check(tokens, "", 0, &role, &name), -EACCES);
        t1[10] = t1[10] == 'A' ? 'B' : 'A';
        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1), &role, &name), -EACCES);

        /* A token added while running works without a restart. */
        free(t1);
        t1 = NULL;
        assert_int_equal(hub_token_new(scim, "onelogin", false, &t1, &err), 0);
        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1), &role, &name), -EACCES);
        assert_int_equal(hub_tokens_refresh(tokens, &err), 0);
        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1), &role, &name), 0);
        assert_string_equal(name, "onelogin");

        /* A file opened to others grants nothing any more (fail closed). */
        assert_int_equal(chmod(scim, 0644), 0);
        assert_int_equal(hub_tokens_refresh(tokens, &err), -EPERM);
        assert_non_null(strstr(err, "mode 0644"));
        assert_int_equal(hub_tokens_count(tokens, HUB_ROLE_SCIM), 0);
        assert_int_equal(hub_tokens_check(tokens, t1, strlen(t1), &role, &name), -EACCES);
        assert_int_equal(hub_tokens_check(tokens, t3, strlen(t3), &role, &name), 0);
        explicit_bzero(t1, strlen(t1));
        explicit_bzero(t2, strlen(t2));
        explicit_bzero(t3, strlen(t3));
}

static void test_bad_files(void **state) {
        _cleanup_free_ char *p = tmp_path("bad.tokens"), *missing = tmp_path("missing.tokens");
        _cleanup_(hub_tokens_freep) HubTokens *tokens = NULL;
        _cleanup_free_ char *err = NULL, *t = NULL;
        char *paths[_HUB_ROLE_MAX] = { [HUB_ROLE_SCIM] = p, [HUB_ROLE_ADMIN] = missing };

        /* A missing file: no tokens of that role, and no error. */
        write_file(p, "", 0600);
        assert_int_equal(hub_tokens_new(paths, &tokens), 0);
        assert_int_equal(hub_tokens_refresh(tokens, &err), 0);
        assert_null(err);

        write_file(p, "garbage\n", 0600);
        assert_int_equal(hub_tokens_refresh(tokens, &err), -EBADMSG);
        assert_non_null(strstr(err, "bad.tokens: line 1"));
        err = mfree_str_helper(err);

        write_file(p, "", 0660);
        assert_int_equal(hub_tokens_refresh(tokens, &err), -EPERM);
        err = mfree_str_helper(err);
        assert_int_equal(hub_token_new(p, "x", false, &t, &err), -EPERM);
        assert_null(t);
        err = mfree_str_helper(err);

        write_file(p, "", 0640);
        assert_int_equal(hub_tokens_refresh(tokens, &err), 0);
        assert_int_equal(hub_token_new(p, "bad name", false, &t, &err), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_base64url),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_parse_text),
                cmocka_unit_test(test_duplicates_many),
                cmocka_unit_test(test_new_and_check),
                cmocka_unit_test(test_bad_files),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
