/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-config.h"
#include "prov-ini.h"
#include "prov-validate.h"

/* Longest path accepted for a path-valued key (PATH_MAX includes the NUL). */
#define CONFIG_PATH_MAX 4095

typedef enum ConfigType {
        CONFIG_PATH,            /* absolute path; empty unsets when optional */
        CONFIG_LISTEN,          /* HOST:PORT, numeric */
        CONFIG_BOOL,
        CONFIG_SIZE,            /* size_t, range min..max */
        CONFIG_UNSIGNED,        /* unsigned, range min..max */
        CONFIG_STORE_TYPE,      /* sqlite | postgresql */
        CONFIG_CONNINFO,        /* libpq conninfo: printable UTF-8, no password */
} ConfigType;

typedef struct ConfigKey {
        const char *section; /* first, then key: ProvIni.keys */
        const char *key;
        ConfigType type;
        size_t offset;
        bool optional;
        unsigned long min, max;
} ConfigKey;
_Static_assert(offsetof(ConfigKey, key) == sizeof(const char *), "a key table as ProvIni.keys has it");

#define F(field) offsetof(HubConfig, field)

/* One line per key: parsing, duplicate detection and the man page follow this table. Key
 * names are unique across sections (key_line() relies on it). */
static const ConfigKey config_keys[] = {
        { "http",   "listen",              CONFIG_LISTEN,   F(listen) },
        { "http",   "tls_cert_file",       CONFIG_PATH,     F(tls_cert_file), true },
        { "http",   "tls_key_file",        CONFIG_PATH,     F(tls_key_file), true },
        { "http",   "allow_insecure_http", CONFIG_BOOL,     F(allow_insecure_http) },
        { "http",   "max_body",            CONFIG_SIZE,     F(max_body), false, 1024, 64 * 1024 * 1024 },
        { "http",   "max_requests",        CONFIG_UNSIGNED, F(max_requests), false, 1, 100000 },

        { "store",  "type",                CONFIG_STORE_TYPE, F(store_postgresql) },
        { "store",  "path",                CONFIG_PATH,     F(store_path) },
        { "store",  "conninfo",            CONFIG_CONNINFO, F(store_conninfo) },
        { "store",  "password_file",       CONFIG_PATH,     F(store_password_file), true },

        { "feed",   "max_events",          CONFIG_UNSIGNED, F(feed_max_events), false, 1, 10000000 },
        { "feed",   "max_wait",            CONFIG_UNSIGNED, F(feed_max_wait), false, 1, 3600 },
        { "guard",  "max_percent",         CONFIG_UNSIGNED, F(guard_percent), false, 0, 100 },
        { "guard",  "window",              CONFIG_UNSIGNED, F(guard_window), false, 1, 30 * 86400 },
        { "guard",  "min_users",           CONFIG_UNSIGNED, F(guard_min_users), false, 0, 100000000 },
        { "feed",   "retention",           CONFIG_UNSIGNED, F(feed_retention), false, 3600, 3650 * 86400 },
        { "store",  "audit_retention",     CONFIG_UNSIGNED, F(audit_retention), false, 0, 3650 * 86400 },
        { "feed",   "max_waiters",         CONFIG_UNSIGNED, F(feed_max_waiters), false, 1, 1000000 },
        { "web",    "enabled",             CONFIG_BOOL,     F(web_enabled) },
        { "web",    "session_lifetime",    CONFIG_UNSIGNED, F(web_session_lifetime), false, 10, 7 * 86400 },

        { "tokens", "scim_token_file",     CONFIG_PATH,     F(token_files[HUB_ROLE_SCIM]), true },
        { "tokens", "host_token_file",     CONFIG_PATH,     F(token_files[HUB_ROLE_HOST]), true },
        { "tokens", "admin_token_file",    CONFIG_PATH,     F(token_files[HUB_ROLE_ADMIN]), true },
};

static const char *const config_sections[] = { "http", "store", "feed", "guard", "web", "tokens" };

static const char *const role_names[_HUB_ROLE_MAX] = {
        [HUB_ROLE_SCIM] = "scim",
        [HUB_ROLE_HOST] = "host",
        [HUB_ROLE_ADMIN] = "admin",
};

const char *hub_role_to_string(HubRole r) {
        return r >= 0 && r < _HUB_ROLE_MAX ? role_names[r] : NULL;
}

int hub_role_from_string(const char *s, HubRole *ret) {
        for (HubRole r = 0; r < _HUB_ROLE_MAX; r++)
                if (s && streq(s, role_names[r])) {
                        *ret = r;
                        return 0;
                }
        return -EINVAL;
}

#define parser_error(p, line, ...) prov_ini_error((p), (line), __VA_ARGS__)
#define key_line(p, key) prov_ini_key_line((p), (key))

int hub_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage a = {};
        _cleanup_free_ char *host = NULL;
        const char *colon, *port_s;
        unsigned long port;

        if (!s || !ret || !ret_len)
                return -EINVAL;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                host = strndup(s + 1, (size_t) (close - s - 1));
                port_s = close + 2;
        } else {
                colon = strrchr(s, ':');
                /* An IPv6 address needs brackets: "::1:8443" would be ambiguous. */
                if (!colon || memchr(s, ':', (size_t) (colon - s)))
                        return -EINVAL;
                host = strndup(s, (size_t) (colon - s));
                port_s = colon + 1;
        }
        if (!host)
                return -ENOMEM;
        if (prov_parse_ulong(port_s, 0, 65535, &port) < 0)
                return -EINVAL;

        if (s[0] != '[') {
                struct sockaddr_in *in = (struct sockaddr_in *) &a;

                if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                        return -EINVAL;
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                *ret_len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a;

                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *ret_len = sizeof(*in6);
        }
        *ret = a;
        return 0;
}

bool hub_sockaddr_is_loopback(const struct sockaddr_storage *a) {
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) a;

                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        if (a->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) a;

                if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
        }
        return false;
}

const char *hub_sockaddr_format(const struct sockaddr_storage *a, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN] = "?";

        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) a;

                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
        } else if (a->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) a;

                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
        } else
                snprintf(buf, size, "?");
        return buf;
}

static bool valid_abs_path(const char *s) {
        size_t n = strlen(s);

        return s[0] == '/' && n <= CONFIG_PATH_MAX && prov_valid_utf8(s, n) && !prov_has_control_chars(s);
}

static int parse_assignment(ProvIni *p, const char *section, unsigned line, const char *key, const char *value) {
        HubConfig *c = p->userdata;
        const ConfigKey *k;
        unsigned long v;
        size_t idx;
        void *field;
        int r;

        r = prov_ini_key(p, section, line, key, &idx);
        if (r < 0)
                return r;
        k = &config_keys[idx];
        field = (uint8_t *) c + k->offset;

        switch (k->type) {

        case CONFIG_PATH: {
                _cleanup_free_ char *s = NULL;
                size_t n;

                if (!value[0]) {
                        if (!k->optional)
                                return parser_error(p, line, "'%s' must not be empty", key);
                        return prov_ini_set_string(field, NULL);
                }
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                n = strlen(s);
                while (n > 1 && s[n - 1] == '/')
                        s[--n] = 0;
                if (!valid_abs_path(s))
                        return parser_error(p, line, "'%s' must be an absolute path", key);
                free(*(char **) field);
                *(char **) field = TAKE_PTR(s);
                return 0;
        }

        case CONFIG_LISTEN:
                r = hub_parse_listen(value, &c->listen_addr, &c->listen_addr_len);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return parser_error(p, line,
                                            "'listen' must be ADDRESS:PORT with a numeric address (\"0.0.0.0:8443\", \"[::1]:8443\"), got '%.64s'",
                                            value);
                return prov_ini_set_string(&c->listen, value);

        case CONFIG_BOOL:
                if (prov_parse_bool(value, field) < 0)
                        return parser_error(p, line, "'%s' must be yes or no, got '%.64s'", key, value);
                return 0;

        case CONFIG_SIZE:
        case CONFIG_UNSIGNED:
                if (prov_parse_ulong(value, k->min, k->max, &v) < 0)
                        return parser_error(p, line, "'%s' must be a number in %lu..%lu, got '%.64s'", key, k->min,
                                            k->max, value);
                if (k->type == CONFIG_SIZE)
                        *(size_t *) field = (size_t) v;
                else
                        *(unsigned *) field = (unsigned) v;
                return 0;

        case CONFIG_STORE_TYPE:
                if (streq(value, "sqlite"))
                        *(bool *) field = false;
                else if (streq(value, "postgresql"))
                        *(bool *) field = true;
                else
                        return parser_error(p, line, "'type' must be sqlite or postgresql, got '%.64s'", value);
                return 0;

        case CONFIG_CONNINFO:
                /* A password here would be in a file meant to be readable and in every message that
                 * quotes the setting: it goes in password_file. */
                if (!value[0] || strlen(value) > CONFIG_PATH_MAX || !prov_valid_utf8(value, strlen(value)) ||
                    prov_has_control_chars(value))
                        return parser_error(p, line, "'conninfo' must be libpq's connection string on one line");
                if (strcasestr(value, "password") ||
                    (strstr(value, "://") && strchr(value, '@') &&
                     memchr(strstr(value, "://") + 3, ':', (size_t) (strchr(value, '@') - strstr(value, "://")))))
                        return parser_error(p, line, "'conninfo' must not hold a password: put it in 'password_file'");
                return prov_ini_set_string(field, value);
        }

        return parser_error(p, line, "internal error: unhandled key type");
}

/* Checks that concern more than one key. */
static int config_validate(ProvIni *p) {
        HubConfig *c = p->userdata;

        if (c->store_postgresql && !c->store_conninfo)
                return parser_error(p, key_line(p, "type"), "[store] type = postgresql needs 'conninfo'");
        if (c->store_postgresql && key_line(p, "path"))
                return parser_error(p, key_line(p, "path"), "[store] 'path' is for type = sqlite");
        if (!c->store_postgresql && (c->store_conninfo || c->store_password_file))
                return parser_error(p, key_line(p, "conninfo") ?: key_line(p, "password_file"),
                                    "'conninfo' and 'password_file' are for [store] type = postgresql");
        if (!!c->tls_cert_file != !!c->tls_key_file)
                return parser_error(p, key_line(p, "tls_cert_file") ?: key_line(p, "tls_key_file"),
                                    "'tls_cert_file' and 'tls_key_file' go together");

        /* Plain HTTP carries the bearer tokens in clear: only on this machine, and only when
         * asked for. */
        if (!c->tls_cert_file) {
                if (!c->allow_insecure_http)
                        return parser_error(p, 0,
                                            "no TLS: set 'tls_cert_file' and 'tls_key_file' in [http] (plain HTTP needs allow_insecure_http = yes and a loopback 'listen')");
                if (!hub_sockaddr_is_loopback(&c->listen_addr))
                        return parser_error(p, key_line(p, "listen") ?: key_line(p, "allow_insecure_http"),
                                            "plain HTTP (allow_insecure_http = yes) is only served on a loopback address, not on '%.64s'",
                                            c->listen);
        }

        if (!c->token_files[HUB_ROLE_SCIM] && !c->token_files[HUB_ROLE_HOST] && !c->token_files[HUB_ROLE_ADMIN])
                return parser_error(p, 0, "[tokens] names no token file: nobody could use the hub");
        return 0;
}

int hub_config_new(HubConfig **ret) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        c->max_body = HUB_DEFAULT_MAX_BODY;
        c->max_requests = HUB_DEFAULT_MAX_REQUESTS;
        c->feed_max_events = HUB_DEFAULT_FEED_MAX_EVENTS;
        c->feed_max_wait = HUB_DEFAULT_FEED_MAX_WAIT;
        c->feed_max_waiters = HUB_DEFAULT_FEED_MAX_WAITERS;
        c->feed_retention = HUB_DEFAULT_FEED_RETENTION;
        c->guard_percent = HUB_DEFAULT_GUARD_PERCENT;
        c->guard_window = HUB_DEFAULT_GUARD_WINDOW;
        c->guard_min_users = HUB_DEFAULT_GUARD_MIN_USERS;
        c->web_enabled = true;
        c->web_session_lifetime = HUB_DEFAULT_WEB_SESSION_LIFETIME;
        c->listen = strdup(HUB_DEFAULT_LISTEN);
        c->store_path = strdup(HUB_DEFAULT_STORE_PATH);
        c->token_files[HUB_ROLE_SCIM] = strdup(PROV_CONFIG_DIR "/hub-scim.tokens");
        c->token_files[HUB_ROLE_HOST] = strdup(PROV_CONFIG_DIR "/hub-host.tokens");
        c->token_files[HUB_ROLE_ADMIN] = strdup(PROV_CONFIG_DIR "/hub-admin.tokens");
        if (!c->listen || !c->store_path || !c->token_files[HUB_ROLE_SCIM] || !c->token_files[HUB_ROLE_HOST] ||
            !c->token_files[HUB_ROLE_ADMIN])
                return -ENOMEM;
        r = hub_parse_listen(c->listen, &c->listen_addr, &c->listen_addr_len);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Parses text (size bytes), or the file at path when text is NULL. */
static int config_load(const char *path, const char *text, size_t size, HubConfig **ret, char **ret_error) {
        _cleanup_(hub_config_freep) HubConfig *c = NULL;
        unsigned lines[ELEMENTSOF(config_keys)] = {};
        ProvIni ini = {
                .path = path,
                PROV_INI_SECTIONS(config_sections),
                PROV_INI_KEYS(config_keys, lines),
                .max_size = HUB_CONFIG_MAX_SIZE,
                .max_line = HUB_CONFIG_MAX_LINE,
                .assign = parse_assignment,
                .validate = config_validate,
        };
        int r;

        r = hub_config_new(&c);
        if (r < 0)
                return r;
        ini.userdata = c;
        r = prov_ini_load(&ini, text, size, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int hub_config_parse(const char *path, const char *text, size_t size, HubConfig **ret, char **ret_error) {
        if (!text || !ret)
                return -EINVAL;
        if (size > HUB_CONFIG_MAX_SIZE)
                return -EFBIG;
        return config_load(path ?: "(config)", text, size, ret, ret_error);
}

int hub_config_load(const char *path, HubConfig **ret, char **ret_error) {
        if (!path || !ret)
                return -EINVAL;
        return config_load(path, NULL, 0, ret, ret_error);
}

HubConfig *hub_config_free(HubConfig *c) {
        if (!c)
                return NULL;
        free(c->listen);
        free(c->tls_cert_file);
        free(c->tls_key_file);
        free(c->store_path);
        free(c->store_conninfo);
        free(c->store_password_file);
        for (size_t i = 0; i < ELEMENTSOF(c->token_files); i++)
                free(c->token_files[i]);
        free(c);
        return NULL;
}
