/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration of provision-syncd and provisionctl: /etc/provision/syncd.conf, INI
 * style, documented in provision-syncd.conf(5). libc only.
 *
 * Parsing is strict: an unknown section or key, a duplicate key, a malformed value or an
 * inconsistent combination is an error with "FILE:LINE: message", so that a typo never
 * silently widens what the daemon does. */

#include <stdbool.h>
#include <stdint.h>

#include "prov-util.h"

typedef enum ProvSourceType {
        PROV_SOURCE_FILE,
        PROV_SOURCE_SCIM,
        PROV_SOURCE_HUB,
} ProvSourceType;

typedef struct ProvConfig {
        /* [source] */
        ProvSourceType source_type;     /* type = file|scim|hub; default scim */
        char *source_path;              /* path: directory JSON file (type = file) */
        char **urls;                    /* url: SCIM base URL (type = scim, exactly one), or the hub's
                                         * base URLs (type = hub, tried in turn); NULL-terminated */
        char *url;                      /* urls[0], or NULL: the one a message names */
        unsigned feed_wait_sec;         /* feed_wait: 30, seconds the hub may hold a feed request */
        char *host_id;                  /* host_id: how this host names itself to the hub, NULL =
                                         * /etc/machine-id */
        char *host_name;                /* host_name: NULL = gethostname() */
        char *token_file;               /* token_file: bearer token file, or NULL */
        char *token_credential;         /* token_credential: systemd credential name, or NULL */
        char *ca_file;                  /* ca_file: PEM bundle, or NULL = system store */
        unsigned timeout_sec;           /* timeout: 30 */
        bool allow_insecure_http;       /* allow_insecure_http: false */
        char *proxy;                    /* proxy: NULL = no proxy, whatever the environment says */
        unsigned retry_budget_sec;      /* retry_budget: 300, seconds a scan may spend waiting out
                                         * 429/503 Retry-After before it gives up */

        /* [sync] */
        unsigned interval_sec;          /* interval: 30 */
        unsigned full_interval_sec;     /* full_interval: 3600 */
        unsigned overlap_sec;           /* overlap: 60 */
        unsigned max_deprovision;       /* max_deprovision: "10%" */
        bool refresh_on_login;          /* refresh_on_login: true = answer pam_provision's
                                         * refresh requests on refresh_socket */
        bool max_deprovision_percent;   /* true if max_deprovision is a percentage */
        unsigned audit_retention_days;  /* audit_retention: 365, days the audit log keeps an event;
                                         * 0 = for ever */

        /* [paths] */
        char *state_dir;                /* state_dir: PROV_STATE_DIR */
        char *passwd_file;              /* passwd_file: /etc/passwd */
        char *group_file;               /* group_file: /etc/group */
        char *subuid_file;              /* subuid_file: /etc/subuid */
        char *subgid_file;              /* subgid_file: /etc/subgid */
        char *login_defs_file;          /* login_defs: /etc/login.defs (SUB_UID_MIN..) */
        char *refresh_socket;           /* refresh_socket: PROV_REFRESH_SOCKET */

        /* [accounts] */
        uint32_t uid_min;               /* uid_min: 200000 */
        uint32_t uid_max;               /* uid_max: 524287 */
        char *uid_attribute;            /* uid_attribute: NULL = hash of the SCIM id */
        char *gid_attribute;            /* gid_attribute: NULL */
        char *ssh_keys_attribute;       /* ssh_keys_attribute: NULL = no SSH keys from the directory */
        bool strip_domain;              /* strip_domain: false */
        char *home_base;                /* home_base: /home */
        bool home_from_attribute;       /* home_from_attribute: false = always home_base/NAME */
        char *default_shell;            /* default_shell: /bin/bash */
        char **allowed_shells;          /* allowed_shells: NULL-terminated, never empty */
        char **allow_groups;            /* allow_groups: NULL-terminated; NULL = everyone */
        char **map_groups;              /* map_groups: "idpgroup=localgroup", NULL-terminated or NULL */
        unsigned retention_days;        /* retention: 90 */
        char **deny_names;              /* deny_names: names refused beside the built-in list */
        char *name_prefix;              /* name_prefix: NULL, or what every directory name must start with */
        bool require_dot;               /* require_dot: false; true = directory names must contain '.' */

        /* [enforce] */
        bool terminate_sessions;        /* terminate_sessions: true */
        bool kill_processes;            /* kill_processes: false */
        char *hooks_dir;                /* hooks_dir: NULL = no hooks */
        unsigned kill_grace_sec;        /* kill_grace: 5 */
        unsigned hook_timeout_sec;      /* hook_timeout: 30 */
} ProvConfig;

/* A configuration holding the defaults. Returns 0 or -ENOMEM. */
int prov_config_new(ProvConfig **ret);

/* Loads path over the defaults and validates the result. Returns 0 on success; otherwise
 * -errno (-ENOENT, -EACCES, -EFBIG for a file over 1 MiB, -EINVAL for a syntax or value
 * error, -ENOMEM) and, if ret_error is not NULL, a malloc'ed "PATH:LINE: message" (or
 * "PATH: message") in *ret_error. Nothing is written to *ret on failure. */
int prov_config_load(const char *path, ProvConfig **ret, char **ret_error);

/* Accepts NULL; returns NULL. */
ProvConfig *prov_config_free(ProvConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvConfig *, prov_config_free);

/* malloc'ed state_dir + "/snapshot" and state_dir + "/store.db"; NULL on ENOMEM. */
char *prov_config_snapshot_path(const ProvConfig *c);
char *prov_config_store_path(const ProvConfig *c);

/* Limits of the file itself. */
#define PROV_CONFIG_MAX_SIZE (1024 * 1024)
#define PROV_CONFIG_MAX_LINE 4096
