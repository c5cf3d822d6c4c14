/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-config.h"
#include "prov-ini.h"
#include "prov-util.h"
#include "prov-validate.h"

#ifndef PROV_REFRESH_SOCKET
#define PROV_REFRESH_SOCKET "/run/provision/refresh.sock"
#endif

#ifndef PROV_STATE_DIR
#define PROV_STATE_DIR "/var/lib/provision"
#endif

/* Longest path we accept for any path-valued key (PATH_MAX includes the NUL). */
#define CONFIG_PATH_MAX 4095
/* Longest single string value and list item other than paths: URLs, attribute paths,
 * group names. */
#define CONFIG_VALUE_MAX 2048
/* Highest UID we hand out: 2^31-2, so that (uid_t) -1 and signed 32-bit users of uid_t
 * (old NFS, some tar formats) never see our ids. */
#define CONFIG_UID_LIMIT 2147483646u

typedef enum ConfigType {
        CONFIG_STRING,          /* free text without control characters */
        CONFIG_PATH,            /* absolute path */
        CONFIG_URLS,            /* list of http:// or https:// URLs, scheme checked after parsing */
        CONFIG_CREDENTIAL,      /* systemd credential name */
        CONFIG_ATTRIBUTE,       /* SCIM attribute path */
        CONFIG_BOOL,
        CONFIG_UNSIGNED,        /* unsigned, range min..max */
        CONFIG_UINT32,          /* uint32_t, range min..max */
        CONFIG_STRV,            /* list, comma and/or whitespace separated, items may be "quoted" */
        CONFIG_SOURCE_TYPE,
        CONFIG_MAX_DEPROVISION,
} ConfigType;

typedef struct ConfigKey {
        const char *section;    /* first, then key: ProvIni.keys */
        const char *key;
        ConfigType type;
        size_t offset;
        bool optional;          /* strings: an empty value unsets the key (NULL) */
        unsigned long min, max; /* numbers */
} ConfigKey;

_Static_assert(offsetof(ConfigKey, key) == sizeof(const char *), "a key table as ProvIni.keys has it");

#define F(field) offsetof(ProvConfig, field)

static const ConfigKey config_keys[] = {
        { "source",   "type",                CONFIG_SOURCE_TYPE,     F(source_type) },
        { "source",   "path",                CONFIG_PATH,            F(source_path), true },
        { "source",   "url",                 CONFIG_URLS,            F(urls) },
        { "source",   "feed_wait",           CONFIG_UNSIGNED,        F(feed_wait_sec), false, 0, 300 },
        { "source",   "host_id",             CONFIG_STRING,          F(host_id), true },
        { "source",   "host_name",           CONFIG_STRING,          F(host_name), true },
        { "source",   "token_file",          CONFIG_PATH,            F(token_file), true },
        { "source",   "token_credential",    CONFIG_CREDENTIAL,      F(token_credential), true },
        { "source",   "ca_file",             CONFIG_PATH,            F(ca_file), true },
        { "source",   "timeout",             CONFIG_UNSIGNED,        F(timeout_sec), false, 1, 3600 },
        { "source",   "allow_insecure_http", CONFIG_BOOL,            F(allow_insecure_http) },
        { "source",   "proxy",               CONFIG_STRING,          F(proxy), true },
        { "source",   "retry_budget",        CONFIG_UNSIGNED,        F(retry_budget_sec), false, 0, 86400 },

        { "sync",     "interval",            CONFIG_UNSIGNED,        F(interval_sec), false, 1, 86400 },
        { "sync",     "full_interval",       CONFIG_UNSIGNED,        F(full_interval_sec), false, 1, 7 * 86400 },
        { "sync",     "overlap",             CONFIG_UNSIGNED,        F(overlap_sec), false, 0, 86400 },
        { "sync",     "max_deprovision",     CONFIG_MAX_DEPROVISION, F(max_deprovision) },
        { "sync",     "refresh_on_login",    CONFIG_BOOL,            F(refresh_on_login) },
        { "sync",     "audit_retention",     CONFIG_UNSIGNED,        F(audit_retention_days), false, 0, 36500 },

        { "paths",    "state_dir",           CONFIG_PATH,            F(state_dir) },
        { "paths",    "passwd_file",         CONFIG_PATH,            F(passwd_file) },
        { "paths",    "group_file",          CONFIG_PATH,            F(group_file) },
        { "paths",    "subuid_file",         CONFIG_PATH,            F(subuid_file) },
        { "paths",    "subgid_file",         CONFIG_PATH,            F(subgid_file) },
        { "paths",    "login_defs",          CONFIG_PATH,            F(login_defs_file) },
        { "paths",    "refresh_socket",      CONFIG_PATH,            F(refresh_socket) },

        { "accounts", "uid_min",             CONFIG_UINT32,          F(uid_min), false, 1000, CONFIG_UID_LIMIT },
        { "accounts", "uid_max",             CONFIG_UINT32,          F(uid_max), false, 1000, CONFIG_UID_LIMIT },
        { "accounts", "uid_attribute",       CONFIG_ATTRIBUTE,       F(uid_attribute), true },
        { "accounts", "gid_attribute",       CONFIG_ATTRIBUTE,       F(gid_attribute), true },
        { "accounts", "ssh_keys_attribute",  CONFIG_ATTRIBUTE,       F(ssh_keys_attribute), true },
        { "accounts", "strip_domain",        CONFIG_BOOL,            F(strip_domain) },
        { "accounts", "home_base",           CONFIG_PATH,            F(home_base) },
        { "accounts", "home_from_attribute", CONFIG_BOOL,            F(home_from_attribute) },
        { "accounts", "default_shell",       CONFIG_PATH,            F(default_shell) },
        { "accounts", "allowed_shells",      CONFIG_STRV,            F(allowed_shells) },
        { "accounts", "allow_groups",        CONFIG_STRV,            F(allow_groups) },
        { "accounts", "map_groups",          CONFIG_STRV,            F(map_groups) },
        { "accounts", "retention",           CONFIG_UNSIGNED,        F(retention_days), false, 0, 36500 },
        { "accounts", "deny_names",          CONFIG_STRV,            F(deny_names) },
        { "accounts", "name_prefix",         CONFIG_STRING,          F(name_prefix), true },
        { "accounts", "require_dot",         CONFIG_BOOL,            F(require_dot) },

        { "enforce",  "terminate_sessions",  CONFIG_BOOL,            F(terminate_sessions) },
        { "enforce",  "kill_processes",      CONFIG_BOOL,            F(kill_processes) },
        { "enforce",  "hooks_dir",           CONFIG_PATH,            F(hooks_dir), true },
        { "enforce",  "kill_grace",          CONFIG_UNSIGNED,        F(kill_grace_sec), false, 0, 3600 },
        { "enforce",  "hook_timeout",        CONFIG_UNSIGNED,        F(hook_timeout_sec), false, 1, 3600 },
};

static const char *const config_sections[] = { "source", "sync", "paths", "accounts", "enforce" };

static const char *const default_shells[] = {
        "/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/bin/zsh", "/bin/zsh", "/usr/bin/fish",
};

static char **strv_free(char **l) {
        if (l)
                for (char **i = l; *i; i++)
                        free(*i);
        free(l);
        return NULL;
}

static inline void strv_freep(char ***l) {
        strv_free(*l);
}

#define parser_error(p, line, ...) prov_ini_error((p), (line), __VA_ARGS__)
/* Line on which a key was set, for cross-key errors; 0 if it kept its default. */
#define key_line(p, key) prov_ini_key_line((p), (key))

static bool has_ascii_controls(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* Splits a list on commas and blanks. An item may be enclosed in double quotes to keep
 * blanks or commas (IdP group names like "Domain Users"); there are no escapes. An empty
 * list gives an empty vector, not NULL. */
static int parse_strv(const char *s, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        size_t n = 0, allocated = 0;
        int r;

        r = prov_grow((void **) &l, &allocated, 1, sizeof(char *));
        if (r < 0)
                return r;
        l[0] = NULL;

        for (const char *p = s;;) {
                const char *b, *e;

                while (*p == ',' || prov_is_blank(*p))
                        p++;
                if (!*p)
                        break;

                if (*p == '"') {
                        b = p + 1;
                        e = strchr(b, '"');
                        if (!e)
                                return -EINVAL;
                        p = e + 1;
                        /* A quoted item must stand alone: "a"b is a typo, not an item. */
                        if (*p && *p != ',' && !prov_is_blank(*p))
                                return -EINVAL;
                } else {
                        b = p;
                        while (*p && *p != ',' && !prov_is_blank(*p)) {
                                if (*p == '"')
                                        return -EINVAL;
                                p++;
                        }
                        e = p;
                }
                if (e == b || (size_t) (e - b) > CONFIG_VALUE_MAX)
                        return -EINVAL;

                r = prov_grow((void **) &l, &allocated, n + 2, sizeof(char *));
                if (r < 0)
                        return r;
                l[n] = strndup(b, (size_t) (e - b));
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static bool valid_abs_path(const char *s) {
        size_t n = strlen(s);

        return s[0] == '/' && n <= CONFIG_PATH_MAX && prov_valid_utf8(s, n) && !prov_has_control_chars(s);
}

/* SCIM attribute path as accepted by the parser: "a.b", "urn:...:User:a.b". */
static bool valid_attribute(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > CONFIG_VALUE_MAX)
                return false;
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f || *c == '"')
                        return false;
        if (s[0] == '.' || s[n - 1] == '.' || s[n - 1] == ':' || strstr(s, ".."))
                return false;
        return true;
}

/* An http:// or https:// URL with a host; the scheme allowed is checked with the other keys. */
static bool valid_url(const char *v) {
        bool http = strncasecmp(v, "http://", 7) == 0;
        bool https = strncasecmp(v, "https://", 8) == 0;

        return (http || https) && strlen(v) <= CONFIG_VALUE_MAX && !strchr(v, ' ') && !strchr(v, '"') &&
               !has_ascii_controls(v) && prov_valid_utf8(v, strlen(v)) && v[http ? 7 : 8] != '\0' &&
               v[http ? 7 : 8] != '/';
}

static void drop_trailing_slashes(char *s) {
        size_t n = strlen(s);

        while (n > 1 && s[n - 1] == '/')
                s[--n] = 0;
}

static int parse_assignment(ProvIni *p, const char *section, unsigned line, const char *key, const char *value) {
        ProvConfig *c = p->userdata;
        const ConfigKey *k;
        size_t idx;
        void *field;
        int r;

        r = prov_ini_key(p, section, line, key, &idx);
        if (r < 0)
                return r;
        k = &config_keys[idx];
        field = (uint8_t *) c + k->offset;

        switch (k->type) {

        case CONFIG_STRING:
        case CONFIG_PATH:
        case CONFIG_CREDENTIAL:
        case CONFIG_ATTRIBUTE: {
                _cleanup_free_ char *v = NULL;

                if (!value[0]) {
                        if (!k->optional)
                                return parser_error(p, line, "'%s' must not be empty", key);
                        return prov_ini_set_string(field, NULL);
                }

                v = strdup(value);
                if (!v)
                        return -ENOMEM;

                if (k->type == CONFIG_PATH) {
                        drop_trailing_slashes(v);
                        if (!valid_abs_path(v))
                                return parser_error(p, line, "'%s' must be an absolute path", key);
                                } else if (k->type == CONFIG_CREDENTIAL) {
                        if (strlen(v) > 255 || strchr(v, '/') || streq(v, ".") || streq(v, "..") ||
                            has_ascii_controls(v))
                                return parser_error(p, line, "'%s' is not a valid credential name", key);
                } else if (k->type == CONFIG_ATTRIBUTE) {
                        if (!valid_attribute(v))
                                return parser_error(p, line, "'%s' is not a valid SCIM attribute path", key);
                } else if (strlen(v) > CONFIG_VALUE_MAX || has_ascii_controls(v))
                        return parser_error(p, line, "invalid value for '%s'", key);

                free(*(char **) field);
                *(char **) field = TAKE_PTR(v);
                return 0;
        }

        case CONFIG_BOOL:
                if (prov_parse_bool(value, field) < 0)
                        return parser_error(p, line, "'%s' must be a boolean (yes/no), got '%.64s'", key, value);
                return 0;

        case CONFIG_UNSIGNED:
        case CONFIG_UINT32: {
                unsigned long v;

                r = prov_parse_ulong(value, k->min, k->max, &v);
                if (r < 0)
                        return parser_error(p, line, "'%s' must be a number in %lu..%lu, got '%.64s'",
                                            key, k->min, k->max, value);
                if (k->type == CONFIG_UINT32)
                        *(uint32_t *) field = (uint32_t) v;
                else
                        *(unsigned *) field = (unsigned) v;
                return 0;
        }

        case CONFIG_STRV:
        case CONFIG_URLS: {
                _cleanup_(strv_freep) char **l = NULL;

                r = parse_strv(value, &l);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return parser_error(p, line, "'%s' is not a valid list", key);
                for (char **i = l; *i; i++) {
                        if (has_ascii_controls(*i) || !prov_valid_utf8(*i, strlen(*i)))
                                return parser_error(p, line, "'%s' contains an invalid item", key);
                        if (k->type == CONFIG_URLS) {
                                if (!valid_url(*i))
                                        return parser_error(p, line, "'%s' must be an https:// URL with a host", key);
                                drop_trailing_slashes(*i);
                        }
                }
                /* An empty list means "unset": for allow_groups that is everyone. */
                if (!l[0])
                        l = strv_free(l);
                strv_free(*(char ***) field);
                *(char ***) field = TAKE_PTR(l);
                return 0;
        }

        case CONFIG_SOURCE_TYPE:
                if (streq(value, "file"))
                        c->source_type = PROV_SOURCE_FILE;
                else if (streq(value, "scim"))
                        c->source_type = PROV_SOURCE_SCIM;
                else if (streq(value, "hub"))
                        c->source_type = PROV_SOURCE_HUB;
                else
                        return parser_error(p, line, "'type' must be 'scim', 'hub' or 'file', got '%.64s'", value);
                return 0;

        case CONFIG_MAX_DEPROVISION: {
                _cleanup_free_ char *v = strdup(value);
                size_t n;
                bool percent;
                unsigned long m;

                if (!v)
                        return -ENOMEM;
                n = strlen(v);
                percent = n > 0 && v[n - 1] == '%';
                if (percent)
                        v[n - 1] = 0;
                r = prov_parse_ulong(v, 0, percent ? 100 : 1000000000, &m);
                if (r < 0)
                        return parser_error(p, line,
                                            "'max_deprovision' must be a count or a percentage (0%%..100%%), got '%.64s'",
                                            value);
                c->max_deprovision = (unsigned) m;
                c->max_deprovision_percent = percent;
                return 0;
        }
        }

        return parser_error(p, line, "internal error: unhandled key type");
}

/* Checks that concern more than one key, or a value against a rule a table cannot hold. */
static int config_validate(ProvIni *p) {
        ProvConfig *c = p->userdata;

        if (c->source_type == PROV_SOURCE_FILE && !c->source_path)
                return parser_error(p, key_line(p, "type"), "[source] type = file needs 'path'");
        if (c->source_type == PROV_SOURCE_SCIM || c->source_type == PROV_SOURCE_HUB) {
                const char *what = c->source_type == PROV_SOURCE_HUB ? "hub" : "scim";

                if (!c->urls)
                        return parser_error(p, key_line(p, "type"), "[source] type = %s needs 'url'", what);
                /* Several URLs are replicas of one hub; a SCIM source is one service. */
                if (c->source_type == PROV_SOURCE_SCIM && c->urls[1])
                        return parser_error(p, key_line(p, "url"), "[source] type = scim takes one 'url'");
                for (char **u = c->urls; *u; u++)
                        if (strncasecmp(*u, "https://", 8) != 0 && !c->allow_insecure_http)
                                return parser_error(p, key_line(p, "url"),
                                                    "'url' must use https:// (plain http needs allow_insecure_http = yes)");
        }
        free(c->url);
        c->url = c->urls ? strdup(c->urls[0]) : NULL;
        if (c->urls && !c->url)
                return -ENOMEM;
        /* How this host names itself to the hub: as the hub checks it (hub-fleet.c). */
        if (c->host_id && (strlen(c->host_id) != 32 || strspn(c->host_id, "0123456789abcdef") != 32))
                return parser_error(p, key_line(p, "host_id"), "'host_id' must be 32 lowercase hex digits (a machine ID)");
        if (c->host_name && (strlen(c->host_name) > 253 ||
                             strspn(c->host_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
                                     strlen(c->host_name)))
                return parser_error(p, key_line(p, "host_name"),
                                    "'host_name' must be a host name (letters, digits, '.', '-', '_'; at most 253)");
        if (c->token_file && c->token_credential)
                return parser_error(p, key_line(p, "token_credential"),
                                    "'token_file' and 'token_credential' are mutually exclusive");

        if (c->uid_min > c->uid_max)
                return parser_error(p, key_line(p, "uid_max") ?: key_line(p, "uid_min"),
                                    "uid_min (%u) is above uid_max (%u)", c->uid_min, c->uid_max);
        /* 65534 is nobody/nogroup and 65535 is the 16-bit (uid_t) -1: never hand them out. */
        if (c->uid_min <= 65535 && c->uid_max >= 65534)
                return parser_error(p, key_line(p, "uid_min") ?: key_line(p, "uid_max"),
                                    "uid range %u..%u contains the reserved ids 65534/65535",
                                    c->uid_min, c->uid_max);

        if (!prov_valid_home(c->home_base))
                return parser_error(p, key_line(p, "home_base"),
                                    "'home_base' must be a clean absolute path of at most %d bytes", PROV_HOME_MAX);
        /* Under "/", a directory user named etc, boot or srv would have that directory as home. */
        if (streq(c->home_base, "/"))
                return parser_error(p, key_line(p, "home_base"), "'home_base' must not be /");

        if (!c->allowed_shells)
                return parser_error(p, key_line(p, "allowed_shells"), "'allowed_shells' must not be empty");
        for (char **s = c->allowed_shells; *s; s++)
                if ((*s)[0] != '/' || strchr(*s, ':'))
                        return parser_error(p, key_line(p, "allowed_shells"),
                                            "'allowed_shells' entry '%.64s' is not an absolute path", *s);
        if (!prov_valid_shell(c->default_shell, c->allowed_shells))
                return parser_error(p, key_line(p, "default_shell") ?: key_line(p, "allowed_shells"),
                                    "'default_shell' %.64s is not in allowed_shells", c->default_shell);

        if (c->proxy) {
                static const char *const schemes[] = { "http://", "https://", "socks4://", "socks4a://",
                                                       "socks5://", "socks5h://" };
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                        known = known || strncasecmp(c->proxy, schemes[i], strlen(schemes[i])) == 0;
                if (!known || strchr(c->proxy, ' '))
                        return parser_error(p, key_line(p, "proxy"),
                                            "'proxy' must be a URL with a scheme (http://, https://, socks5h://...)");
        }

        /* The prefix is the start of a login name: it must be one itself, short enough to
         * leave room for the rest. */
        if (c->name_prefix && (strlen(c->name_prefix) > PROV_NAME_MAX / 2 || !prov_valid_user_name(c->name_prefix)))
                return parser_error(p, key_line(p, "name_prefix"),
                                    "'name_prefix' must be a valid name start of at most %d characters ([a-z_][a-z0-9_.-]*)",
                                    PROV_NAME_MAX / 2);

        if (c->map_groups)
                for (char **m = c->map_groups; *m; m++) {
                        const char *eq = strrchr(*m, '=');

                        if (!eq || eq == *m || !prov_valid_group_name(eq + 1))
                                return parser_error(p, key_line(p, "map_groups"),
                                                    "'map_groups' entry '%.64s' is not IDPGROUP=LOCALGROUP", *m);
                }

        return 0;
}

int prov_config_new(ProvConfig **ret) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;

        if (!ret)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        *c = (ProvConfig) {
                .source_type = PROV_SOURCE_SCIM,
                .timeout_sec = 30,
                .feed_wait_sec = 30,
                .interval_sec = 30,
                .full_interval_sec = 3600,
                .overlap_sec = 60,
                .max_deprovision = 10,
                .max_deprovision_percent = true,
                .uid_min = 200000,
                .uid_max = 524287,
                .retention_days = 90,
                .retry_budget_sec = 300,
                .refresh_on_login = true,
                .audit_retention_days = 365,
                .terminate_sessions = true,
                .kill_grace_sec = 5,
                .hook_timeout_sec = 30,
        };

        c->state_dir = strdup(PROV_STATE_DIR);
        c->passwd_file = strdup("/etc/passwd");
        c->group_file = strdup("/etc/group");
        c->subuid_file = strdup("/etc/subuid");
        c->subgid_file = strdup("/etc/subgid");
        c->login_defs_file = strdup("/etc/login.defs");
        c->refresh_socket = strdup(PROV_REFRESH_SOCKET);
        c->home_base = strdup("/home");
        c->default_shell = strdup("/bin/bash");
        c->allowed_shells = calloc(ELEMENTSOF(default_shells) + 1, sizeof(char *));
        if (!c->state_dir || !c->passwd_file || !c->group_file || !c->subuid_file || !c->subgid_file ||
            !c->login_defs_file || !c->refresh_socket || !c->home_base || !c->default_shell || !c->allowed_shells)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(default_shells); i++) {
                c->allowed_shells[i] = strdup(default_shells[i]);
                if (!c->allowed_shells[i])
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

int prov_config_load(const char *path, ProvConfig **ret, char **ret_error) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        unsigned lines[ELEMENTSOF(config_keys)] = {};
        ProvIni ini = {
                .path = path,
                PROV_INI_SECTIONS(config_sections),
                PROV_INI_KEYS(config_keys, lines),
                .max_size = PROV_CONFIG_MAX_SIZE,
                .max_line = PROV_CONFIG_MAX_LINE,
                .assign = parse_assignment,
                .validate = config_validate,
        };
        int r;

        if (!path || !ret)
                return -EINVAL;

        r = prov_config_new(&c);
        if (r < 0)
                return r;

        ini.userdata = c;
        r = prov_ini_load(&ini, NULL, 0, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

ProvConfig *prov_config_free(ProvConfig *c) {
        if (!c)
                return NULL;

        free(c->source_path);
        free(c->url);
        strv_free(c->urls);
        free(c->token_file);
        free(c->token_credential);
        free(c->ca_file);
        free(c->state_dir);
        free(c->passwd_file);
        free(c->subuid_file);
        free(c->subgid_file);
        free(c->login_defs_file);
        free(c->refresh_socket);
        free(c->ssh_keys_attribute);
        free(c->proxy);
        free(c->host_id);
        free(c->host_name);
        free(c->name_prefix);
        strv_free(c->deny_names);
        free(c->group_file);
        free(c->uid_attribute);
        free(c->gid_attribute);
        free(c->home_base);
        free(c->default_shell);
        strv_free(c->allowed_shells);
        strv_free(c->allow_groups);
        strv_free(c->map_groups);
        free(c->hooks_dir);
        free(c);
        return NULL;
}

static char *state_file(const ProvConfig *c, const char *name) {
        char *s;

        if (!c || !c->state_dir)
                return NULL;
        /* state_dir has no trailing slash unless it is "/". */
        if (asprintf(&s, "%s%s%s", c->state_dir, streq(c->state_dir, "/") ? "" : "/", name) < 0)
                return NULL;
        return s;
}

char *prov_config_snapshot_path(const ProvConfig *c) {
        return state_file(c, "snapshot");
}

char *prov_config_store_path(const ProvConfig *c) {
        return state_file(c, "store.db");
}
