/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hub-config.h"
#include "prov-util.h"

/* Parses text; returns the error code and leaves the message in *ret_error. */
static int parse(const char *text, HubConfig **ret, char **ret_error) {
        return hub_config_parse("hub.conf", text, strlen(text), ret, ret_error);
}

static void test_defaults(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        char buf[64];

        assert_int_equal(hub_config_new(&c), 0);
        assert_string_equal(c->listen, "0.0.0.0:8443");
        assert_string_equal(hub_sockaddr_format(&c->listen_addr, buf, sizeof(buf)), "0.0.0.0:8443");
        assert_null(c->tls_cert_file);
        assert_null(c->tls_key_file);
        assert_false(c->allow_insecure_http);
        assert_int_equal(c->max_body, 1048576);
        assert_string_equal(c->store_path, "/var/lib/provision-hub/hub.db");
        assert_string_equal(c->token_files[HUB_ROLE_SCIM], PROV_CONFIG_DIR "/hub-scim.tokens");
        assert_string_equal(c->token_files[HUB_ROLE_HOST], PROV_CONFIG_DIR "/hub-host.tokens");
        assert_string_equal(c->token_files[HUB_ROLE_ADMIN], PROV_CONFIG_DIR "/hub-admin.tokens");
        assert_true(c->web_enabled);
        assert_int_equal(c->web_session_lifetime, 3600);
}

/* [web]: the fleet page off, a session lifetime, and lifetimes out of range refused. */
static void test_web(void **state) {
        static const char base[] = "[http]\nlisten = 127.0.0.1:0\nallow_insecure_http = yes\n[web]\n";
        static const char *const bad[] = { "session_lifetime = 9\n", "session_lifetime = 604801\n",
                                           "enabled = maybe\n", "lifetime = 60\n" };
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;

        assert_true(asprintf(&text, "%senabled = no\nsession_lifetime = 600\n", base) > 0);
        assert_int_equal(parse(text, &c, &err), 0);
        assert_false(c->web_enabled);
        assert_int_equal(c->web_session_lifetime, 600);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(hub_config_freep) HubConfig *b = NULL;
                _cleanup_free_ char *t = NULL, *e = NULL;

                assert_true(asprintf(&t, "%s%s", base, bad[i]) > 0);
                assert_int_equal(parse(t, &b, &e), -EINVAL);
                assert_non_null(e);
        }
}

/* The defaults have no TLS pair: starting on them must be refused with a message that says
 * what to do, not fall back to plain HTTP. */
static void test_no_tls_refused(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(parse("", &c, &err), -EINVAL);
        assert_null(c);
        assert_non_null(err);
        assert_non_null(strstr(err, "tls_cert_file"));
        assert_non_null(strstr(err, "allow_insecure_http"));
}

static void test_insecure_loopback_only(void **state) {
        static const char *const good[] = { "127.0.0.1:0", "127.1.2.3:8080", "[::1]:0", "[::ffff:127.0.0.1]:80" };
        static const char *const bad[] = { "0.0.0.0:8443", "192.0.2.1:80", "[::]:8443", "[2001:db8::1]:80" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(hub_config_freep) HubConfig *c = NULL;
                _cleanup_free_ char *text = NULL, *err = NULL;

                assert_true(asprintf(&text, "[http]\nlisten = %s\nallow_insecure_http = yes\n", good[i]) > 0);
                assert_int_equal(parse(text, &c, &err), 0);
                assert_true(c->allow_insecure_http);
                assert_true(hub_sockaddr_is_loopback(&c->listen_addr));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(hub_config_freep) HubConfig *c = NULL;
                _cleanup_free_ char *text = NULL, *err = NULL;

                assert_true(asprintf(&text, "[http]\nlisten = %s\nallow_insecure_http = yes\n", bad[i]) > 0);
                assert_int_equal(parse(text, &c, &err), -EINVAL);
                assert_non_null(strstr(err, "loopback"));
        }
}

static void test_full(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *err = NULL;
        char buf[64];

        assert_int_equal(parse("# the hub\n"
                               "[http]\n"
                               "listen = [::]:9443\n"
                               "tls_cert_file = /etc/provision/hub.crt\n"
                               "tls_key_file = /etc/provision/hub.key\n"
                               "max_body = 65536\n"
                               "max_requests = 8\n"
                               "[store]\n"
                               "path = /srv/hub/hub.db\n"
                               "[tokens]\n"
                               "scim_token_file = /srv/hub/scim.tokens\n"
                               "host_token_file =\n"
                               "admin_token_file = /srv/hub/admin.tokens\n",
                               &c, &err),
                         0);
        assert_string_equal(hub_sockaddr_format(&c->listen_addr, buf, sizeof(buf)), "[::]:9443");
        assert_string_equal(c->tls_cert_file, "/etc/provision/hub.crt");
        assert_string_equal(c->tls_key_file, "/etc/provision/hub.key");
        assert_int_equal(c->max_body, 65536);
        assert_int_equal(c->max_requests, 8);
        assert_string_equal(c->store_path, "/srv/hub/hub.db");
        assert_string_equal(c->token_files[HUB_ROLE_SCIM], "/srv/hub/scim.tokens");
        assert_null(c->token_files[HUB_ROLE_HOST]);
        assert_string_equal(c->token_files[HUB_ROLE_ADMIN], "/srv/hub/admin.tokens");
}

static void test_errors(void **state) {
        static const struct {
                const char *text, *message;
        } cases[] = {
                { "[http]\nlisten = localhost:8443\n", "hub.conf:2: 'listen'" },
                { "[http]\nlisten = ::1:8443\n", "hub.conf:2: 'listen'" },
                { "[http]\nlisten = 127.0.0.1:65536\n", "hub.conf:2: 'listen'" },
                { "[http]\nlisten = 127.0.0.1\n", "hub.conf:2: 'listen'" },
                { "[http]\nlisten = 127.0.0.1:-1\n", "hub.conf:2: 'listen'" },
                { "[http]\nmax_body = 10\n", "hub.conf:2: 'max_body' must be a number" },
                { "[http]\nmax_body = 1M\n", "hub.conf:2: 'max_body' must be a number" },
                { "[http]\nallow_insecure_http = maybe\n", "hub.conf:2: 'allow_insecure_http' must be yes or no" },
                { "[http]\ntls_cert_file = relative.pem\n", "hub.conf:2: 'tls_cert_file' must be an absolute path" },
                { "[http]\ntls_cert_file = /a.pem\n", "'tls_cert_file' and 'tls_key_file' go together" },
                { "[http]\nport = 1\n", "hub.conf:2: unknown key 'port' in [http]" },
                { "[source]\nurl = x\n", "hub.conf:1: unknown section [source]" },
                { "listen = 127.0.0.1:1\n", "hub.conf:1: key 'listen' outside of any [section]" },
                { "[http]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", "hub.conf:3: duplicate key 'listen'" },
                { "[store]\npath =\n", "hub.conf:2: 'path' must not be empty" },
                { "[http]\nlisten = 127.0.0.1:0\nallow_insecure_http = yes\n[tokens]\nscim_token_file =\n"
                  "host_token_file =\nadmin_token_file =\n",
                  "names no token file" },
                { "[http\n", "hub.conf:1: invalid section header" },
                { "[http]\nlisten\n", "hub.conf:2: expected 'key = value'" },
                { "[store]\ntype = mysql\n", "hub.conf:2: 'type' must be sqlite or postgresql" },
                { "[store]\ntype = postgresql\n", "hub.conf:2: [store] type = postgresql needs 'conninfo'" },
                { "[store]\ntype = postgresql\nconninfo = host=/run/postgresql password=s3cret\n",
                  "hub.conf:3: 'conninfo' must not hold a password" },
                { "[store]\ntype = postgresql\nconninfo = postgresql://hub:s3cret@db/hub\n",
                  "hub.conf:3: 'conninfo' must not hold a password" },
                { "[store]\nconninfo = host=/run/postgresql\n", "hub.conf:2: 'conninfo' and 'password_file' are for" },
                { "[store]\ntype = postgresql\nconninfo = dbname=hub\npath = /a.db\n",
                  "hub.conf:4: [store] 'path' is for type = sqlite" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(hub_config_freep) HubConfig *c = NULL;
                _cleanup_free_ char *err = NULL;

                assert_int_equal(parse(cases[i].text, &c, &err), -EINVAL);
                assert_null(c);
                assert_non_null(err);
                if (!strstr(err, cases[i].message))
                        fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].message);
        }
}

static void test_postgresql(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *err = NULL;

        (void) state;
        assert_int_equal(parse("[http]\nlisten = 127.0.0.1:0\nallow_insecure_http = yes\n"
                               "[store]\ntype = postgresql\n"
                               "conninfo = host=/run/postgresql dbname=hub user=hub\n"
                               "password_file = /run/credentials/provision-hub.service/db\n",
                               &c, &err),
                         0);
        assert_true(c->store_postgresql);
        assert_string_equal(c->store_conninfo, "host=/run/postgresql dbname=hub user=hub");
        assert_string_equal(c->store_password_file, "/run/credentials/provision-hub.service/db");
}

static void test_listen_parse(void **state) {
        struct sockaddr_storage a;
        socklen_t len;
        char buf[64];

        assert_int_equal(hub_parse_listen("127.0.0.1:0", &a, &len), 0);
        assert_int_equal(a.ss_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_string_equal(hub_sockaddr_format(&a, buf, sizeof(buf)), "127.0.0.1:0");
        assert_int_equal(hub_parse_listen("[::1]:8443", &a, &len), 0);
        assert_int_equal(a.ss_family, AF_INET6);
        assert_string_equal(hub_sockaddr_format(&a, buf, sizeof(buf)), "[::1]:8443");
        assert_int_equal(hub_parse_listen("[::1]8443", &a, &len), -EINVAL);
        assert_int_equal(hub_parse_listen("1.2.3.4:", &a, &len), -EINVAL);
        assert_int_equal(hub_parse_listen(":80", &a, &len), -EINVAL);
        assert_int_equal(hub_parse_listen("1.2.3.4:0x50", &a, &len), -EINVAL);
}

static void test_roles(void **state) {
        HubRole r;

        assert_int_equal(hub_role_from_string("scim", &r), 0);
        assert_int_equal(r, HUB_ROLE_SCIM);
        assert_int_equal(hub_role_from_string("host", &r), 0);
        assert_int_equal(r, HUB_ROLE_HOST);
        assert_int_equal(hub_role_from_string("admin", &r), 0);
        assert_int_equal(r, HUB_ROLE_ADMIN);
        assert_int_equal(hub_role_from_string("root", &r), -EINVAL);
        assert_int_equal(hub_role_from_string("SCIM", &r), -EINVAL);
        assert_string_equal(hub_role_to_string(HUB_ROLE_HOST), "host");
}

/* The shipped sample must load as it is (with its TLS pair). */
static void test_sample(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *path = NULL, *err = NULL;
        const char *top = getenv("top_srcdir");

        if (!top)
                skip();
        assert_true(asprintf(&path, "%s/hub/hub.conf.sample", top) > 0);
        if (access(path, R_OK) < 0)
                skip();
        assert_int_equal(hub_config_load(path, &c, &err), 0);
        assert_non_null(c->tls_cert_file);
}

static void test_missing_file(void **state) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(hub_config_load("/nonexistent/hub.conf", &c, &err), -ENOENT);
        assert_non_null(strstr(err, "/nonexistent/hub.conf: cannot open"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_no_tls_refused),
                cmocka_unit_test(test_insecure_loopback_only),
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_postgresql),
                cmocka_unit_test(test_listen_parse),
                cmocka_unit_test(test_roles),
                cmocka_unit_test(test_sample),
                cmocka_unit_test(test_web),
                cmocka_unit_test(test_missing_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
