/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration of provision-hub: /etc/provision/hub.conf, INI style, documented in
 * provision-hub.conf(5). libc only.
 *
 * Parsing is as strict as provision-syncd's (common/config.c): an unknown section or key, a
 * duplicate key, a malformed value or an inconsistent combination is an error with
 * "FILE:LINE: message". In particular the hub refuses to serve plain HTTP unless it is told to
 * and listens on a loopback address: bearer tokens must never cross a network in clear. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "prov-util.h"

#define HUB_DEFAULT_STORE_PATH "/var/lib/provision-hub/hub.db"
#define HUB_DEFAULT_LISTEN "0.0.0.0:8443"
#define HUB_DEFAULT_MAX_BODY (1024 * 1024)
#define HUB_DEFAULT_MAX_REQUESTS 64
#define HUB_DEFAULT_FEED_MAX_EVENTS 10000
#define HUB_DEFAULT_FEED_MAX_WAIT 300
#define HUB_DEFAULT_FEED_MAX_WAITERS 16384
#define HUB_DEFAULT_FEED_RETENTION (7 * 86400)
#define HUB_DEFAULT_GUARD_PERCENT 10
#define HUB_DEFAULT_GUARD_WINDOW 3600
#define HUB_DEFAULT_GUARD_MIN_USERS 20
#define HUB_DEFAULT_WEB_SESSION_LIFETIME 3600

typedef enum HubRole {
        HUB_ROLE_SCIM,  /* an identity provider pushing users and groups */
        HUB_ROLE_HOST,  /* a host reading them */
        HUB_ROLE_ADMIN, /* everything */
        _HUB_ROLE_MAX,
} HubRole;

typedef struct HubConfig {
        /* [http] */
        char *listen;                   /* listen: "HOST:PORT" as written, for messages */
        struct sockaddr_storage listen_addr; /* parsed listen, port 0 = the kernel picks */
        socklen_t listen_addr_len;
        char *tls_cert_file;            /* tls_cert_file: PEM certificate (chain), or NULL */
        char *tls_key_file;             /* tls_key_file: PEM private key, or NULL */
        bool allow_insecure_http;       /* allow_insecure_http: false; true only on loopback */
        size_t max_body;                /* max_body: 1 MiB */
        unsigned max_requests;          /* max_requests: 64 requests in flight, then 429 */

        /* [store] */
        bool store_postgresql;          /* type: sqlite (default) or postgresql (replicas) */
        char *store_path;               /* path: HUB_DEFAULT_STORE_PATH (SQLite) */
        char *store_conninfo;           /* conninfo: libpq's, without a password (PostgreSQL) */
        char *store_password_file;      /* password_file: the PostgreSQL password, or NULL */
        unsigned audit_retention;       /* audit_retention: seconds the audit is kept; 0 (default): for ever */

        /* [feed] */
        unsigned feed_max_events;       /* max_events: 10000; a host further behind reads the snapshot */
        unsigned feed_max_wait;         /* max_wait: 300 s, the longest Prefer: wait= honoured */
        unsigned feed_max_waiters;      /* max_waiters: 16384 held feed requests, then 429 */
        unsigned feed_retention;        /* retention: 7 days of changes kept; older hosts read the snapshot */

        /* [guard] */
        unsigned guard_percent;         /* max_percent: 10; more users leaving within window are held; 0: off */
        unsigned guard_window;          /* window: 3600 s */
        unsigned guard_min_users;       /* min_users: 20; smaller directories are not guarded */

        /* [web] */
        bool web_enabled;               /* enabled: yes; the fleet page below /ui (admin tokens only) */
        unsigned web_session_lifetime;  /* session_lifetime: 3600 s from sign-in */

        /* [tokens] */
        char *token_files[_HUB_ROLE_MAX]; /* scim_token_file, host_token_file, admin_token_file */
} HubConfig;

/* A configuration holding the defaults. 0 or -ENOMEM. */
int hub_config_new(HubConfig **ret);

/* Loads path over the defaults and validates the result. 0 on success; otherwise -errno
 * (-ENOENT, -EACCES, -EFBIG, -EINVAL for a syntax or value error, -ENOMEM) and, when
 * ret_error is not NULL, a malloc'ed "PATH:LINE: message" or "PATH: message". */
int hub_config_load(const char *path, HubConfig **ret, char **ret_error);

/* Parses a whole configuration held in memory (for tests); path names it in messages. */
int hub_config_parse(const char *path, const char *text, size_t size, HubConfig **ret, char **ret_error);

HubConfig *hub_config_free(HubConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubConfig *, hub_config_free);

/* Parses "HOST:PORT" ("127.0.0.1:8443", "[::1]:0", "0.0.0.0:8443"; HOST is a numeric address,
 * never a name to resolve). 0 or -EINVAL. */
int hub_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool hub_sockaddr_is_loopback(const struct sockaddr_storage *a);

/* Renders an address as "ADDR:PORT" or "[ADDR]:PORT" into buf. */
const char *hub_sockaddr_format(const struct sockaddr_storage *a, char *buf, size_t size);

/* "scim", "host", "admin"; parsing returns -EINVAL for anything else. */
const char *hub_role_to_string(HubRole r);
int hub_role_from_string(const char *s, HubRole *ret);

/* Limits of the file itself. */
#define HUB_CONFIG_MAX_SIZE (64 * 1024)
#define HUB_CONFIG_MAX_LINE 4096
