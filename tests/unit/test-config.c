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
#include <unistd.h>

#include <cmocka.h>

#include "prov-config.h"
#include "prov-util.h"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static char tmp_dir[] = "/tmp/test-config.XXXXXX";

static char *fixture(const char *name) {
        const char *top = getenv("top_srcdir");
        char *p;

        assert_non_null(top);
        assert_true(asprintf(&p, "%s/tests/fixtures/%s", top, name) > 0);
        return p;
}

/* Writes content to a fresh file in the test directory and returns its path. */
static char *write_conf(const char *content, size_t len) {
        static unsigned counter;
        char *p;
        FILE *f;

        assert_true(asprintf(&p, "%s/%u.conf", tmp_dir, counter++) > 0);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        return p;
}

static void test_defaults(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_free_ char *snap = NULL, *store = NULL;

        assert_int_equal(prov_config_new(&c), 0);
        assert_int_equal(c->source_type, PROV_SOURCE_SCIM);
        assert_null(c->source_path);
        assert_null(c->url);
        assert_null(c->token_file);
        assert_null(c->token_credential);
        assert_null(c->ca_file);
        assert_int_equal(c->timeout_sec, 30);
        assert_false(c->allow_insecure_http);
        assert_int_equal(c->interval_sec, 30);
        assert_int_equal(c->full_interval_sec, 3600);
        assert_int_equal(c->overlap_sec, 60);
        assert_int_equal(c->max_deprovision, 10);
        assert_true(c->max_deprovision_percent);
        assert_string_equal(c->state_dir, PROV_STATE_DIR);
        assert_string_equal(c->passwd_file, "/etc/passwd");
        assert_string_equal(c->group_file, "/etc/group");
        assert_int_equal(c->uid_min, 200000);
        assert_int_equal(c->uid_max, 524287);
        assert_null(c->uid_attribute);
        assert_null(c->gid_attribute);
        assert_false(c->strip_domain);
        assert_string_equal(c->home_base, "/home");
        assert_string_equal(c->default_shell, "/bin/bash");
        assert_non_null(c->allowed_shells);
        assert_string_equal(c->allowed_shells[0], "/bin/bash");
        assert_string_equal(c->allowed_shells[1], "/bin/sh");
        assert_string_equal(c->allowed_shells[2], "/usr/bin/bash");
        assert_string_equal(c->allowed_shells[3], "/usr/bin/zsh");
        assert_string_equal(c->allowed_shells[4], "/bin/zsh");
        assert_string_equal(c->allowed_shells[5], "/usr/bin/fish");
        assert_null(c->allowed_shells[6]);
        assert_null(c->allow_groups);
        assert_null(c->map_groups);
        assert_int_equal(c->retention_days, 90);
        assert_true(c->terminate_sessions);
        assert_false(c->kill_processes);
        assert_null(c->hooks_dir);
        assert_int_equal(c->kill_grace_sec, 5);
        assert_int_equal(c->hook_timeout_sec, 30);

        snap = prov_config_snapshot_path(c);
        store = prov_config_store_path(c);
        assert_string_equal(snap, PROV_STATE_DIR "/snapshot");
        assert_string_equal(store, PROV_STATE_DIR "/store.db");

        assert_null(prov_config_free(NULL));
}

static void test_every_key(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_free_ char *path = fixture("full.conf"), *err = NULL, *snap = NULL, *store = NULL;

        assert_int_equal(prov_config_load(path, &c, &err), 0);
        assert_null(err);
        assert_int_equal(c->source_type, PROV_SOURCE_SCIM);
        assert_string_equal(c->url, "https://scim.example.com/scim/v2");    /* trailing '/' dropped */
        assert_null(c->token_file);
        assert_string_equal(c->token_credential, "scim-token");
        assert_string_equal(c->ca_file, "/etc/provision/ca.pem");
        assert_int_equal(c->timeout_sec, 15);
        assert_false(c->allow_insecure_http);
        assert_int_equal(c->interval_sec, 20);
        assert_int_equal(c->full_interval_sec, 1800);
        assert_int_equal(c->overlap_sec, 120);
        assert_int_equal(c->max_deprovision, 25);
        assert_false(c->max_deprovision_percent);
        assert_string_equal(c->state_dir, "/var/lib/provision-test");
        assert_string_equal(c->passwd_file, "/srv/etc/passwd");
        assert_string_equal(c->group_file, "/srv/etc/group");
        assert_int_equal(c->uid_min, 300000);
        assert_int_equal(c->uid_max, 399999);
        assert_string_equal(c->uid_attribute, "urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber");
        assert_string_equal(c->gid_attribute, "gidNumber");
        assert_true(c->strip_domain);
        assert_string_equal(c->home_base, "/srv/home");
        assert_string_equal(c->default_shell, "/usr/bin/zsh");
        assert_string_equal(c->allowed_shells[0], "/bin/bash");
        assert_string_equal(c->allowed_shells[1], "/usr/bin/zsh");
        assert_null(c->allowed_shells[2]);
        assert_string_equal(c->allow_groups[0], "engineering");
        assert_string_equal(c->allow_groups[1], "sre");
        assert_string_equal(c->allow_groups[2], "Domain Admins");
        assert_null(c->allow_groups[3]);
        assert_string_equal(c->map_groups[0], "admins=sudo");
        assert_string_equal(c->map_groups[1], "Docker Users=docker");
        assert_null(c->map_groups[2]);
        assert_int_equal(c->retention_days, 30);
        assert_false(c->terminate_sessions);
        assert_true(c->kill_processes);
        assert_string_equal(c->hooks_dir, "/etc/provision/hooks.d");
        assert_int_equal(c->kill_grace_sec, 10);
        assert_int_equal(c->hook_timeout_sec, 60);

        snap = prov_config_snapshot_path(c);
        store = prov_config_store_path(c);
        assert_string_equal(snap, "/var/lib/provision-test/snapshot");
        assert_string_equal(store, "/var/lib/provision-test/store.db");
}

static void test_file_source(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_free_ char *path = fixture("file-source.conf");

        assert_int_equal(prov_config_load(path, &c, NULL), 0);
        assert_int_equal(c->source_type, PROV_SOURCE_FILE);
        assert_string_equal(c->source_path, "/etc/provision/directory.json");
        assert_int_equal(c->uid_min, 200000);
}

/* Loads content and returns the error code and message. */
static int load_text(const char *content, ProvConfig **ret, char **ret_path, char **ret_error) {
        _cleanup_free_ char *path = write_conf(content, strlen(content));
        int r;

        r = prov_config_load(path, ret, ret_error);
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return r;
}

static void test_good_values(void **state) {
        static const struct {
                const char *text;
                unsigned max_deprovision;
                bool percent;
                bool insecure;
                unsigned groups;
        } cases[] = {
                { "[source]\ntype=file\npath=/d.json\n[sync]\nmax_deprovision = 0%\n", 0, true, false, 0 },
                { "[source]\ntype=file\npath=/d.json\n[sync]\nmax_deprovision = 100%\n", 100, true, false, 0 },
                { "[source]\ntype=file\npath=/d.json\n[sync]\nmax_deprovision = 0\n", 0, false, false, 0 },
                { "[source]\r\ntype = scim\r\nurl = http://127.0.0.1:8080/scim\r\nallow_insecure_http = TRUE\r\n",
                  10, true, true, 0 },
                { "[source]\ntype=file\npath=/d.json\n[accounts]\nallow_groups =\n", 10, true, false, 0 },
                { "  [ source ]  \n\t type\t=\tfile \npath=/d.json\n[accounts]\nallow_groups = a,b , c\td,,e\n",
                  10, true, false, 5 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(prov_config_freep) ProvConfig *c = NULL;
                _cleanup_free_ char *err = NULL;
                size_t n = 0;

                if (load_text(cases[i].text, &c, NULL, &err) != 0)
                        fail_msg("case %zu: %s", i, err);
                assert_int_equal(c->max_deprovision, cases[i].max_deprovision);
                assert_int_equal(c->max_deprovision_percent, cases[i].percent);
                assert_int_equal(c->allow_insecure_http, cases[i].insecure);
                while (c->allow_groups && c->allow_groups[n])
                        n++;
                assert_int_equal(n, cases[i].groups);
        }
}

/* [source] type = hub: one or more URLs, tried in turn; feed_wait 0..300, default 30. */
static void test_hub_source(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL, *d = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;

        if (load_text("[source]\ntype = hub\nurl = https://hub1.example.com/, https://hub2.example.com:8443\n"
                      "token_file = /etc/provision/host-token\n", &c, NULL, &err) != 0)
                fail_msg("%s", err);
        assert_int_equal(c->source_type, PROV_SOURCE_HUB);
        assert_string_equal(c->urls[0], "https://hub1.example.com");
        assert_string_equal(c->urls[1], "https://hub2.example.com:8443");
        assert_null(c->urls[2]);
        assert_string_equal(c->url, "https://hub1.example.com");
        assert_int_equal(c->feed_wait_sec, 30);
        assert_null(c->host_id);
        assert_null(c->host_name);

        if (load_text("[source]\ntype = hub\nurl = http://127.0.0.1:9\nallow_insecure_http = yes\nfeed_wait = 0\n"
                      "host_id = 0123456789abcdef0123456789abcdef\nhost_name = web1.example.com\n", &d,
                      NULL, &err2) != 0)
                fail_msg("%s", err2);
        assert_int_equal(d->feed_wait_sec, 0);
        assert_string_equal(d->host_id, "0123456789abcdef0123456789abcdef");
        assert_string_equal(d->host_name, "web1.example.com");
        assert_null(d->urls[1]);
}

/* Every bad value is reported with its file and line. */
static void test_bad_values(void **state) {
        static const struct {
                const char *text;
                unsigned line;
                const char *message;
        } cases[] = {
                { "[source]\ntype = ldap\n", 2, "'type' must be 'scim', 'hub' or 'file'" },
                { "[source]\ntype = file\n", 2, "type = file needs 'path'" },
                { "[source]\n", 0, "type = scim needs 'url'" },
                { "[source]\nurl = http://idp.example.com/scim\n", 2, "must use https://" },
                { "[source]\nurl = ftp://idp.example.com/\n", 2, "https:// URL" },
                { "[source]\nurl = https://\n", 2, "https:// URL" },
                { "[source]\nurl = https://a b\n", 2, "https:// URL" },
                { "[source]\ntype = hub\n", 2, "type = hub needs 'url'" },
                { "[source]\ntype = hub\nurl = https://a.example, http://b.example\n", 3, "must use https://" },
                { "[source]\ntype = hub\nurl = https://a.example,ftp://b.example\n", 3, "https:// URL" },
                { "[source]\nurl = https://a.example,https://b.example\n", 2, "type = scim takes one 'url'" },
                { "[source]\ntype = hub\nurl = https://h\nfeed_wait = 301\n", 4, "'feed_wait' must be a number in 0..300" },
                { "[source]\ntype = hub\nurl = https://h\nhost_id = 0123456789ABCDEF0123456789abcdef\n", 4,
                  "'host_id' must be 32 lowercase hex digits" },
                { "[source]\ntype = hub\nurl = https://h\nhost_id = 0123\n", 4, "'host_id' must be 32 lowercase hex" },
                { "[source]\ntype = hub\nurl = https://h\nhost_name = web 1\n", 4, "'host_name' must be a host name" },
                { "[source]\ntype = hub\nurl = https://h\nhost_name = a&b=c\n", 4, "'host_name' must be a host name" },
                { "[source]\ntype=file\npath = relative.json\n", 3, "absolute path" },
                { "[source]\ntype=file\npath=/d\ntoken_file=/t\ntoken_credential=t\n", 5, "mutually exclusive" },
                { "[source]\ntype=file\npath=/d\ntoken_credential=a/b\n", 4, "credential name" },
                { "[source]\ntype=file\npath=/d\ntimeout = 0\n", 4, "'timeout' must be a number in 1..3600" },
                { "[source]\ntype=file\npath=/d\nallow_insecure_http = maybe\n", 4, "must be a boolean" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = 0\n", 5, "'interval' must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = -5\n", 5, "'interval' must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = +5\n", 5, "'interval' must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = 5s\n", 5, "'interval' must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = 0x10\n", 5, "'interval' must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval = 99999999999999999999999\n", 5, "must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\ninterval =\n", 5, "must be a number" },
                { "[source]\ntype=file\npath=/d\n[sync]\nfull_interval = 0\n", 5, "'full_interval'" },
                { "[source]\ntype=file\npath=/d\n[sync]\nmax_deprovision = 101%\n", 5, "count or a percentage" },
                { "[source]\ntype=file\npath=/d\n[sync]\nmax_deprovision = %\n", 5, "count or a percentage" },
                { "[source]\ntype=file\npath=/d\n[sync]\nmax_deprovision = ten\n", 5, "count or a percentage" },
                { "[source]\ntype=file\npath=/d\n[paths]\nstate_dir = var/lib\n", 5, "'state_dir' must be an absolute path" },
                { "[source]\ntype=file\npath=/d\n[paths]\nstate_dir =\n", 5, "'state_dir' must not be empty" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_min = 999\n", 5, "'uid_min' must be a number" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_max = 2147483647\n", 5, "'uid_max' must be a number" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_min = 5000\nuid_max = 4000\n", 6, "above uid_max" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_min = 60000\nuid_max = 70000\n", 5, "65534/65535" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_min = 65535\nuid_max = 65535\n", 5, "65534/65535" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nhome_base = home\n", 5, "'home_base' must be an absolute path" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nhome_base = /srv/../home\n", 5, "'home_base' must be a clean" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nhome_base = /\n", 5, "'home_base' must not be /" },
                { "[source]\ntype=file\npath=/d\n[accounts]\ndefault_shell = /bin/tcsh\n", 5, "not in allowed_shells" },
                { "[source]\ntype=file\npath=/d\n[accounts]\ndefault_shell = bash\n", 5, "absolute path" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nallowed_shells = /bin/bash, zsh\n", 5, "'zsh' is not an absolute" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nallowed_shells =\n", 5, "must not be empty" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nmap_groups = admins\n", 5, "IDPGROUP=LOCALGROUP" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nmap_groups = admins=Sudo\n", 5, "IDPGROUP=LOCALGROUP" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nmap_groups = =sudo\n", 5, "IDPGROUP=LOCALGROUP" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nallow_groups = \"open\n", 5, "not a valid list" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nallow_groups = a\"b\"\n", 5, "not a valid list" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nuid_attribute = a..b\n", 5, "SCIM attribute path" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nstrip_domain = 2\n", 5, "must be a boolean" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nretention = 36501\n", 5, "'retention'" },
                { "[source]\ntype=file\npath=/d\n[enforce]\nhook_timeout = 0\n", 5, "'hook_timeout'" },
                { "[source]\ntype=file\npath=/d\n[enforce]\nhooks_dir = hooks\n", 5, "absolute path" },
                { "[source]\ntype=file\npath=/d\n[enforce]\nkill_grace = 3601\n", 5, "'kill_grace'" },
                /* syntax */
                { "type = file\n", 1, "outside of any [section]" },
                { "[source\n", 1, "invalid section header" },
                { "[source]\njust words\n", 2, "expected 'key = value'" },
                { "[source]\n= file\n", 2, "missing key" },
                { "[source]\ntype = file # comment\n", 2, "'type' must be" },
                { "# c\n\n[source]\ntype=file\npath=/a\npath=/b\n", 6, "duplicate key 'path' in [source] (first set on line 5)" },
                { "[Source]\n", 1, "unknown section [Source]" },
                { "[ldap]\n", 1, "unknown section [ldap]" },
                { "[source]\ntype=file\npath=/d\n[sync]\nurl = https://x\n", 5, "unknown key 'url' in [sync]" },
                { "[source]\ntype=file\npath=/d\n[accounts]\nretention_days = 5\n", 5, "unknown key 'retention_days' in [accounts]" },
                { "[source]\nTYPE = file\n", 2, "unknown key 'TYPE' in [source]" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ProvConfig *c = (ProvConfig *) 0x1;
                _cleanup_free_ char *path = NULL, *err = NULL, *expected = NULL;
                int r;

                r = load_text(cases[i].text, &c, &path, &err);
                if (r != -EINVAL)
                        fail_msg("case %zu: expected -EINVAL, got %d", i, r);
                assert_ptr_equal(c, (ProvConfig *) 0x1);
                assert_non_null(err);
                if (cases[i].line > 0)
                        assert_true(asprintf(&expected, "%s:%u: ", path, cases[i].line) > 0);
                else
                        assert_true(asprintf(&expected, "%s: ", path) > 0);
                if (strncmp(err, expected, strlen(expected)) != 0 || !strstr(err, cases[i].message))
                        fail_msg("case %zu: got \"%s\", expected \"%s...%s\"", i, err, expected, cases[i].message);
        }
}

static void test_file_limits(void **state) {
        _cleanup_free_ char *big = NULL, *path = NULL, *err = NULL, *missing = NULL;
        ProvConfig *c = NULL;
        size_t n;

        /* A line of 4097 bytes. */
        n = PROV_CONFIG_MAX_LINE + 1;
        big = malloc(n + 32);
        assert_non_null(big);
        strcpy(big, "[source]\n#");
        memset(big + 10, 'x', n - 1);
        strcpy(big + 9 + n, "\n");
        path = write_conf(big, strlen(big));
        assert_int_equal(prov_config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(err, ":2: line longer than 4096 bytes"));
        path = mfree_str(path);
        err = mfree_str(err);

        /* A line of exactly 4096 bytes is fine (but then the source is incomplete). */
        big[9 + n - 1] = '\n';
        big[9 + n] = 0;
        path = write_conf(big, strlen(big));
        assert_int_equal(prov_config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(err, "needs 'url'"));
        path = mfree_str(path);
        err = mfree_str(err);

        /* Over 1 MiB of comments. */
        free(big);
        n = PROV_CONFIG_MAX_SIZE + 1;
        big = malloc(n);
        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
                big[i] = i % 64 == 63 ? '\n' : '#';
        path = write_conf(big, n);
        assert_int_equal(prov_config_load(path, &c, &err), -EFBIG);
        assert_non_null(strstr(err, "larger than"));
        path = mfree_str(path);
        err = mfree_str(err);

        /* NUL byte. */
        path = write_conf("[source]\ntype\0=file\n", 20);
        assert_int_equal(prov_config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(err, ":2: NUL byte"));
        err = mfree_str(err);

        /* Missing file and directory. */
        assert_true(asprintf(&missing, "%s/does-not-exist.conf", tmp_dir) > 0);
        assert_int_equal(prov_config_load(missing, &c, &err), -ENOENT);
        assert_non_null(strstr(err, "does-not-exist.conf: cannot open"));
        err = mfree_str(err);
        assert_int_equal(prov_config_load(tmp_dir, &c, &err), -EINVAL);
        assert_non_null(strstr(err, "not a regular file"));

        assert_null(c);
}

static char *slurp(const char *rel) {
        _cleanup_free_ char *path = NULL;
        char *buf = NULL;
        size_t n = 0;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", getenv("top_srcdir"), rel) > 0);
        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        assert_int_equal(getdelim(&buf, &n, 0, f) > 0, 1);
        fclose(f);
        return buf;
}

/* Every key the parser knows is documented in the man page and in the sample file, and the
 * sample's commented defaults are accepted by the parser. */
static void test_documentation(void **state) {
        static const char *const keys[] = {
                "type", "path", "url", "token_file", "token_credential", "ca_file", "timeout",
                "allow_insecure_http", "interval", "full_interval", "overlap", "max_deprovision",
                "state_dir", "passwd_file", "group_file", "uid_min", "uid_max", "uid_attribute",
                "gid_attribute", "strip_domain", "home_base", "default_shell", "allowed_shells",
                "allow_groups", "map_groups", "retention", "terminate_sessions", "kill_processes",
                "kill_grace", "hooks_dir", "hook_timeout", "proxy", "retry_budget", "subuid_file",
                "subgid_file", "login_defs", "home_from_attribute", "deny_names", "name_prefix", "require_dot",
                "refresh_on_login", "refresh_socket", "ssh_keys_attribute", "feed_wait", "host_id", "host_name",
                "audit_retention",
        };
        _cleanup_free_ char *man = slurp("man/provision-syncd.conf.5");
        _cleanup_free_ char *sample = slurp("syncd/syncd.conf.sample");
        _cleanup_free_ char *uncommented = NULL, *path = NULL, *err = NULL;
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        bool line_start = true;
        char *w;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *m = NULL, *s = NULL;

                assert_true(asprintf(&m, " %s=", keys[i]) > 0);
                assert_true(asprintf(&s, "\n#%s =", keys[i]) > 0);
                if (!strstr(man, m))
                        fail_msg("key '%s' is not documented in the man page", keys[i]);
                if (!strstr(sample, s))
                        fail_msg("key '%s' is not in syncd.conf.sample", keys[i]);
        }

        /* Uncomment the "#key = value" lines, except the mutually exclusive token keys and the
         * example map_groups, and give the source a URL: the result must load. */
        uncommented = strdup(sample);
        assert_non_null(uncommented);
        w = uncommented;
        for (const char *r = sample; *r; r++) {
                if (line_start && r[0] == '#' && r[1] >= 'a' && r[1] <= 'z' &&
                    strncmp(r, "#token_", 7) != 0 && strncmp(r, "#map_groups", 11) != 0)
                        r++;
                line_start = *r == '\n';
                *w++ = *r;
        }
        *w = 0;

        path = write_conf(uncommented, strlen(uncommented));
        if (prov_config_load(path, &c, &err) != 0)
                fail_msg("uncommented sample does not load: %s", err);
        assert_string_equal(c->url, "https://idp.example.com/scim/v2");
        assert_int_equal(c->max_deprovision, 10);
        assert_true(c->max_deprovision_percent);
        assert_null(c->ca_file);
        assert_int_equal(c->uid_min, 200000);
}

static void test_bom(void **state) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(load_text("\xef\xbb\xbf[source]\ntype = file\npath = /d.json\n", &c, NULL, &err), 0);
        assert_int_equal(c->source_type, PROV_SOURCE_FILE);
}

static int setup(void **state) {
        return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state) {
        /* Only files we wrote, by name: no shell. */
        for (unsigned i = 0; i < 1000; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%u.conf", tmp_dir, i) < 0)
                        return -1;
                (void) unlink(p);
        }
        return rmdir(tmp_dir) < 0 ? -1 : 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_file_source),
                cmocka_unit_test(test_good_values),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_hub_source),
                cmocka_unit_test(test_file_limits),
                cmocka_unit_test(test_documentation),
                cmocka_unit_test(test_bom),
        };

        if (!getenv("top_srcdir")) {
                fprintf(stderr, "top_srcdir is not set: run through 'make check'\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
