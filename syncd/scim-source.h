/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTP side of the SCIM 2.0 source (RFC 7644): a libcurl client that pages through
 * /Users and /Groups, asks for deltas by meta.lastModified, and confirms deletions one by one.
 * Every body goes through scim-parse (or scim-spc for /ServiceProviderConfig); this file never
 * sees JSON itself.
 *
 * Throttling: a 429 or 503 is not an error at first. The same request (the same page of a walk)
 * is sent again after the wait its Retry-After names (delta-seconds or an HTTP date; at most
 * 120 s per wait), or after an exponential backoff with jitter (0.5 s, 1 s, 2 s ... 30 s) when it
 * names none, as long as the retry budget (config retry_budget, seconds) of the current scan
 * covers the wait. Each fetch starts with the whole budget; prov_scim_confirm_user_gone() spends
 * what the last fetch left (the confirmations belong to its sync). A wait ends early with
 * -ECANCELED when SIGTERM or SIGINT is pending (blocked signals stay pending for the caller's
 * event loop), and feeds the systemd watchdog. Waits are logged at info level, giving up at
 * warning level with the budget named; nothing else above debug is logged, the token never is.
 *
 * Errors (negative errno): 401/403 -EACCES, 404 on a list endpoint -ENOENT, 429/503 once the
 * retry budget cannot cover the next wait -EBUSY (see prov_scim_client_retry_after()), other 5xx
 * or unexpected statuses -EIO, timeout -ETIMEDOUT, TLS failure -EPROTO, connection refused
 * -ECONNREFUSED, unresolvable host -EHOSTUNREACH, a body over the size cap -EFBIG, malformed
 * JSON -EBADMSG, an inconsistent full scan -EAGAIN, filtering not supported -EOPNOTSUPP, a wait
 * cut short by SIGTERM/SIGINT -ECANCELED.
 *
 * Proxies: only config->proxy, never the environment (http_proxy, https_proxy, ALL_PROXY,
 * no_proxy are ignored); no proxy when it is unset. Every socket is close-on-exec. */

#include <stdbool.h>
#include <stdint.h>

#include "prov-config.h"
#include "prov-util.h"
#include "scim-parse.h"

typedef struct ProvScimClient ProvScimClient;

typedef struct ProvScimStats {
        uint64_t requests;      /* HTTP requests sent, including failed ones */
        uint64_t bytes;         /* body bytes received */
        uint64_t pages;         /* list pages parsed */
        uint64_t passes;        /* full passes over /Users + /Groups (2 when the first drifted) */
        uint64_t waits;         /* waits after a 429/503 before asking again */
        uint64_t waited_usec;   /* time spent in them, out of the retry budget */
} ProvScimStats;

/* Tunables; 0 in any field means the default. */
typedef struct ProvScimLimits {
        unsigned count;                 /* page size asked for; default min(1000, the server's
                                         * filter.maxResults or pagination.maxPageSize). Set it to
                                         * force a page size whatever the server advertises. */
        uint64_t max_pages;             /* per resource type and pass; default 100000 */
        uint64_t max_response_bytes;    /* one response body; default 64 MiB */
        uint64_t max_total_bytes;       /* all bodies of one fetch; default 4 GiB */
} ProvScimLimits;

#define PROV_SCIM_DEFAULT_COUNT 1000u
#define PROV_SCIM_DEFAULT_MAX_PAGES UINT64_C(100000)
#define PROV_SCIM_DEFAULT_MAX_RESPONSE_BYTES (UINT64_C(64) * 1024 * 1024)
#define PROV_SCIM_DEFAULT_MAX_TOTAL_BYTES (UINT64_C(4) * 1024 * 1024 * 1024)
#define PROV_SCIM_TOKEN_MAX 16384

/* Creates a client for config->url. The bearer token is read from
 * $CREDENTIALS_DIRECTORY/<token_credential> when both are set, else from token_file, which must
 * be a regular file (not a symlink) owned by root or by our euid with no group/other access
 * (-EPERM otherwise). Trailing whitespace is stripped; an empty token or one with control
 * characters or spaces is -EINVAL. The token lives only in this object and is wiped on free.
 * The URL must be https://, or http:// when allow_insecure_http is set and the host is a loopback
 * address (127.0.0.0/8, ::1, localhost); anything else is -EPROTONOSUPPORT. With a plain http://
 * URL a configured proxy must be on a loopback address too (it would read the token), else
 * -EPROTONOSUPPORT. */
int prov_scim_client_new(const ProvConfig *config, ProvScimClient **ret);

/* Accepts NULL; returns NULL. */
ProvScimClient *prov_scim_client_free(ProvScimClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvScimClient *, prov_scim_client_free);

/* Replaces the limits (NULL restores the defaults). Returns 0 or -EINVAL. */
int prov_scim_client_set_limits(ProvScimClient *c, const ProvScimLimits *limits);

/* Full scan of /Users then /Groups. Pages with startIndex/count, advancing by the number of
 * resources received (never by itemsPerPage), until totalResults is reached or a page is empty;
 * with RFC 9865 cursors when /ServiceProviderConfig advertises pagination.cursor. The pages of a pass
 * are merged and the batch finished once, after the last page (scim-parse.h: a repeated id, on
 * one page or across pages, is a reject, the first copy kept). If the resources received do not add up to totalResults, or
 * totalResults changed during the walk, a second pass is made; if that drifts too the scan fails
 * with -EAGAIN. Any HTTP or parse error on any page fails the whole scan. On success *ret holds
 * all users, groups and rejects; total_results is the number of users + groups.
 * stats, if not NULL, is overwritten with the counters of this call, on failure too. */
int prov_scim_fetch_full(ProvScimClient *c, ProvScimBatch **ret, ProvScimStats *stats);

/* Delta: GET /Users and /Groups with filter=meta.lastModified ge "<since, RFC 3339 UTC, ms>",
 * paged like a full scan but in one pass (drift is harmless here: the caller overlaps deltas and
 * runs full scans). -EOPNOTSUPP when the server says filter.supported = false, or answers 400
 * invalidFilter or 501: the caller falls back to full scans. */
int prov_scim_fetch_delta(ProvScimClient *c, int64_t since_usec, ProvScimBatch **ret, ProvScimStats *stats);

/* One user for a refresh at sign-in: GET /Users?filter=id eq "SCIM_ID" when scim_id is not NULL
 * (the account is known), else, or when the server refuses that filter, GET /Users?filter=userName
 * eq "NAME"; and, when exactly one user comes back, GET /Groups?filter=members[value eq "ID"] (a server that refuses that filter
 * gives the user alone). Filter values are escaped (quote, backslash); a name with control
 * characters or over 255 bytes is -EINVAL. No request runs past deadline_usec (CLOCK_MONOTONIC
 * µs; 0 = only the configured timeout): -ETIMEDOUT. A 429/503 is not waited out: -EBUSY at once.
 * On success *ret holds zero or one user (zero: the source does not know the name) and that
 * user's groups, to be applied as a delta. */
int prov_scim_fetch_user(ProvScimClient *c, const char *user_name, const char *scim_id, uint64_t deadline_usec,
                         ProvScimBatch **ret, ProvScimStats *stats);

/* GET /Users/{id} (id percent-encoded). Returns 1 if the server answers 404 with a SCIM Error
 * body (or an empty one) AND GET /Users?count=0 answers a ListResponse (checked once per client),
 * so that a wrong base URL or an HTML 404 from a proxy is -ENOENT, never "gone". Returns 0 if the
 * user exists (then *ret_user is set if ret_user is not NULL; a different id in the answer is
 * -EBADMSG), or another negative errno: then the caller must not deprovision. */
int prov_scim_confirm_user_gone(ProvScimClient *c, const char *id, ProvScimUser **ret_user);

/* The same for a group missing from a full scan: GET /Groups/{id}. 1 gone, 0 still there (the
 * answer is a resource with that id), or a negative errno: then the group must not be removed. */
int prov_scim_confirm_group_gone(ProvScimClient *c, const char *id);

/* One GET of base + path_query (a path with its query, e.g. "/v1/feed?since=3") with this
 * client's token, TLS, proxy and body limits, for the hub's feed (sync-hub.c): extra_header
 * (or NULL) is sent beside Accept and Authorization; timeout_sec (0 = the configured timeout)
 * bounds this request alone. When interrupted is not NULL, it is asked about once a second
 * while the request runs and ends it with -ECANCELED when it returns true. Returns 0 with the
 * HTTP status and the body (malloc'ed, NUL-terminated, "" when empty) whatever the status, or
 * a negative errno of a transport failure as listed above. A 429/503 records its Retry-After
 * (prov_scim_client_retry_after()); nothing is waited out here. */
int prov_scim_client_get_raw(ProvScimClient *c, const char *path_query, const char *extra_header, unsigned timeout_sec,
                             bool (*interrupted)(void *userdata), void *userdata, char **ret_body, size_t *ret_len,
                             long *ret_status);

/* The same as a POST of post (post_len bytes; the Content-Type is the caller's extra_header)
 * when post is not NULL: the hub's acks. */
int prov_scim_client_request_raw(ProvScimClient *c, const char *path_query, const char *extra_header, const char *post,
                                 size_t post_len, unsigned timeout_sec, bool (*interrupted)(void *userdata),
                                 void *userdata, char **ret_body, size_t *ret_len, long *ret_status);

/* When the server last asked us to wait (429/503 with Retry-After in seconds or as an HTTP date),
 * as a CLOCK_MONOTONIC time in µs; 0 if it never did. A later successful request does not clear
 * it: the caller compares it with now. */
uint64_t prov_scim_client_retry_after(const ProvScimClient *c);
