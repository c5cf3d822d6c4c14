/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hub's HTTP door on libmicrohttpd: one listening socket (HTTPS with the configured pair,
 * or plain HTTP on loopback when allowed), one serving thread of our own that runs every handler
 * in turn (the store is one SQLite handle: requests are serialised, which is also commit order)
 * and commits the changes of each round of ready requests together, answering them once they are
 * on disk (group commit: one fsync for many IdP workers' requests), bodies
 * read into a bounded buffer (no POST processor; 413 beyond max_body, chunked or not), bearer
 * authentication by role before anything else, 429 + Retry-After when more than max_requests
 * are in flight. */

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "hub-config.h"
#include "hub-store.h"
#include "hub-tokens.h"
#include "scim-error.h"

typedef struct HubServer HubServer;

/* What a handler sees of a request. Strings are borrowed for the request's lifetime. */
typedef struct HubRequest {
        const char *method;
        const char *path;       /* below /scim/v2: "/Users", "/Users/ID", "/ServiceProviderConfig" */
        const char *body;
        size_t body_len;
        const char *token_name; /* the authenticated token's NAME, for the audit and logs */
        HubRole role;
        const char *base_url;   /* "https://HOST/scim/v2", from the Host header when it is sane */
        const char *if_match;   /* If-Match, or NULL */
        /* Query parameters (NULL: absent); has_cursor: `cursor` present, even without a value. */
        const char *filter, *start_index, *count, *cursor, *attributes, *excluded_attributes;
        bool has_cursor;
} HubRequest;

/* What a handler answers: a status and a JSON body (or none), optional ETag and Location. */
typedef struct HubReply {
        unsigned status;
        cJSON *json;
        char *etag;
        char *location;
} HubReply;

void hub_reply_done(HubReply *r);

/* Fills the reply with an RFC 7644 §3.12 error from err. */
void hub_reply_error(HubReply *reply, const ProvScimError *err);

/* The SCIM handlers (hub-handlers.c): routes a request below /scim/v2 and fills the reply. */
typedef struct HubContext {
        const HubConfig *config;
        HubTokens *tokens;
        HubStore *store;
} HubContext;
void hub_handle_scim(HubContext *ctx, const HubRequest *req, HubReply *reply);
/* The admin API (hub-admin.c), below /v1/admin; admin tokens only (checked by the HTTP layer). */
void hub_handle_admin(HubContext *ctx, const HubRequest *req, HubReply *reply);
/* POST /v1/acks (hub-admin.c): hosts report what they did about leavers (hub-fleet.h). */
void hub_handle_acks(HubContext *ctx, const HubRequest *req, HubReply *reply);

/* Binds the configured address, starts serving and returns the URL it listens on ("http://
 * 127.0.0.1:40123/"). Logs nothing: the caller logs "Listening on URL". */
int hub_server_start(HubContext *ctx, HubServer **ret, char **ret_url);
HubServer *hub_server_stop(HubServer *s);

/* Re-reads changed token files now (SIGHUP), between two requests; logs a refused file once.
 * 0, or -EPERM while a token file is refused (its role then has no tokens). */
int hub_server_reload_tokens(HubServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubServer *, hub_server_stop);
