/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the fleet page's door (hub-web.c: answers, views, dispatch) shares with its sessions and
 * request checks (hub-web-auth.c). Private to those two files. */

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub-http-internal.h"
#include "hub-web.h"
#include "prov-time.h"

#define WEB_PREFIX "/ui"
#define WEB_COOKIE "provision_session"
#define WEB_MAX_SESSIONS 64
#define WEB_ID_CHARS 43 /* base64url of 32 bytes */
#define WEB_LEAVERS_DAYS 7
#define WEB_FORM_VALUE_MAX 256

typedef struct WebSession {
        bool used;
        char id[WEB_ID_CHARS + 1];
        char csrf[WEB_ID_CHARS + 1];
        char name[HUB_TOKEN_NAME_MAX + 1];
        uint8_t token_hash[32]; /* of the admin token it was made from: removed, the session ends */
        uint64_t expires;       /* CLOCK_MONOTONIC µs */
} WebSession;

/* A fragment request that says which generation it shows (after=N) is held until a commit moves
 * the generation, for at most WEB_HOLD_USEC; at most WEB_MAX_WAITERS at once (then answered at
 * once). The feed's mechanism (libmicrohttpd's suspend and resume), not a thread per page. */
#define WEB_HOLD_USEC (25 * USEC_PER_SEC)
#define WEB_MAX_WAITERS 256
/* At most this many held per session; beyond, answered at once with Retry-After WEB_RETRY_SEC. */
#define WEB_MAX_WAITERS_SESSION 4
#define WEB_RETRY_SEC 5

struct HubWeb {
        WebSession sessions[WEB_MAX_SESSIONS];
        uint64_t generation; /* commits since the page's first request */
        Conn *waiters;
        unsigned n_waiters;
};

/* Who a request is, once let in. */
typedef struct WebAuth {
        char name[HUB_TOKEN_NAME_MAX + 1];
        const char *csrf; /* the session's; NULL for a bearer request (no CSRF: not ambient) */
        WebSession *session;
} WebAuth;

/* hub-web-auth.c */
bool web_ct_equal(const char *a, const char *b, size_t n);
const char *web_session_cookie(struct MHD_Connection *c, char buf[static WEB_ID_CHARS + 1]);
WebSession *web_session_find(HubWeb *w, const char *cookie);
int web_session_new(HubWeb *w, const char *name, const uint8_t token_hash[static 32], unsigned lifetime,
                    WebSession **ret);
unsigned web_session_waiters(HubWeb *w, const WebSession *x);
bool web_form_value(const char *body, size_t len, const char *key, char *out, size_t size);
bool web_origin_ok(HubServer *s, struct MHD_Connection *c);
int web_check_token(HubServer *s, const char *t, size_t n, char name[static HUB_TOKEN_NAME_MAX + 1]);

/* Lets a request in (0, *ret filled), or says how it was refused: -EACCES nothing valid,
 * -EPERM a token of another role. */
int web_authenticate(HubServer *s, struct MHD_Connection *c, WebAuth *ret);
