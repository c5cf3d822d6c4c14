/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub-util.h"
#include "hub-web-internal.h"
#include "log.h"

/* The fleet page's sessions and the checks every request passes (see hub-web.c for who gets in). */

/* Equal in constant time (for a given length): no early exit on the first difference. */
bool web_ct_equal(const char *a, const char *b, size_t n) {
        unsigned char d = 0;

        for (size_t i = 0; i < n; i++)
                d |= (unsigned char) a[i] ^ (unsigned char) b[i];
        return d == 0;
}

static int random_id(char ret[static WEB_ID_CHARS + 1]) {
        uint8_t raw[32];
        int r;

        r = hub_random_bytes(raw, sizeof(raw));
        if (r < 0)
                return r;
        hub_base64url(raw, sizeof(raw), ret);
        explicit_bzero(raw, sizeof(raw));
        return 0;
}

typedef struct CookieScan {
        const char *value;
        size_t len;
        unsigned n;
} CookieScan;

static enum MHD_Result cookie_scan(void *userdata, enum MHD_ValueKind kind, const char *key, const char *value) {
        CookieScan *scan = userdata;
        size_t klen = strlen(WEB_COOKIE);

        (void) kind;
        if (!key || strcasecmp(key, MHD_HTTP_HEADER_COOKIE) != 0 || !value)
                return MHD_YES;
        for (const char *v = value; *v;) {
                size_t n;

                v += strspn(v, " \t;");
                n = strcspn(v, ";");
                if (n > klen && strncmp(v, WEB_COOKIE, klen) == 0 && v[klen] == '=') {
                        scan->value = v + klen + 1;
                        scan->len = strcspn(scan->value, "; \t");
                        scan->n++;
                }
                v += n;
        }
        return MHD_YES;
}

/* The session cookie's value (into buf) when the request sends it exactly once in its raw Cookie
 * headers, else NULL: a second one (tossed in by a sibling domain or a narrower path; libmicrohttpd
 * would give the first) refuses the session. */
const char *web_session_cookie(struct MHD_Connection *c, char buf[static WEB_ID_CHARS + 1]) {
        CookieScan scan = {};

        MHD_get_connection_values(c, MHD_HEADER_KIND, cookie_scan, &scan);
        if (scan.n != 1 || scan.len != WEB_ID_CHARS)
                return NULL;
        memcpy(buf, scan.value, WEB_ID_CHARS);
        buf[WEB_ID_CHARS] = 0;
        return buf;
}

/* The live session whose id the cookie holds, comparing with every slot whatever matches. */
WebSession *web_session_find(HubWeb *w, const char *cookie) {
        WebSession *found = NULL;
        uint64_t now = hub_monotonic_usec();

        if (!w || !cookie || strlen(cookie) != WEB_ID_CHARS)
                return NULL;
        for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
                WebSession *x = &w->sessions[i];
                bool eq = web_ct_equal(x->id, cookie, WEB_ID_CHARS);

                if (eq && x->used && !found)
                        found = x;
        }
        if (found && found->expires <= now) {
                explicit_bzero(found, sizeof(*found));
                return NULL;
        }
        return found;
}

int web_session_new(HubWeb *w, const char *name, const uint8_t token_hash[static 32], unsigned lifetime,
                       WebSession **ret) {
        uint64_t now = hub_monotonic_usec();
        WebSession *slot = NULL;
        int r;

        for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
                WebSession *x = &w->sessions[i];

                if (!x->used || x->expires <= now) {
                        slot = x;
                        break;
                }
                if (!slot || x->expires < slot->expires)
                        slot = x;
        }
        explicit_bzero(slot, sizeof(*slot));
        if ((r = random_id(slot->id)) < 0 || (r = random_id(slot->csrf)) < 0)
                return r;
        snprintf(slot->name, sizeof(slot->name), "%s", name);
        memcpy(slot->token_hash, token_hash, sizeof(slot->token_hash));
        slot->expires = now + (uint64_t) lifetime * USEC_PER_SEC;
        slot->used = true;
        *ret = slot;
        return 0;
}

/* How many held fragment requests are the session's (by their cookie); 0 for none. */
unsigned web_session_waiters(HubWeb *w, const WebSession *x) {
        char cookie[WEB_ID_CHARS + 1];
        unsigned n = 0;

        if (!x)
                return 0;
        for (Conn *conn = w->waiters; conn; conn = conn->next_waiter)
                if (web_session_cookie(conn->mhd, cookie) && web_ct_equal(cookie, x->id, WEB_ID_CHARS))
                        n++;
        return n;
}


/* ------------------------------------------------------------------ requests */

static int hex_value(char ch) {
        return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* One x-www-form-urlencoded field of body, decoded into out; false when absent, malformed or
 * too long (or holding a NUL). */
bool web_form_value(const char *body, size_t len, const char *key, char *out, size_t size) {
        size_t klen = strlen(key);

        for (size_t i = 0; i < len;) {
                size_t end = i;

                while (end < len && body[end] != '&')
                        end++;
                if (end - i > klen && strncmp(body + i, key, klen) == 0 && body[i + klen] == '=') {
                        size_t o = 0;

                        for (size_t j = i + klen + 1; j < end; j++) {
                                char ch = body[j];

                                if (ch == '+')
                                        ch = ' ';
                                else if (ch == '%') {
                                        if (j + 2 >= end || hex_value(body[j + 1]) < 0 || hex_value(body[j + 2]) < 0)
                                                return false;
                                        ch = (char) (hex_value(body[j + 1]) << 4 | hex_value(body[j + 2]));
                                        j += 2;
                                }
                                if (ch == 0 || o + 1 >= size)
                                        return false;
                                out[o++] = ch;
                        }
                        out[o] = 0;
                        return true;
                }
                i = end + 1;
        }
        return false;
}

/* Whether a POST comes from this hub's own pages: Sec-Fetch-Site same-origin, or an Origin of
 * this hub as the browser addressed it, or neither header (not a browser). */
bool web_origin_ok(HubServer *s, struct MHD_Connection *c) {
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        const char *scheme = s->tls ? "https://" : "http://";

        /* Under Referrer-Policy: no-referrer a browser sends "Origin: null" with a form's POST;
         * Sec-Fetch-Site still says where it comes from. */
        if (site)
                return streq(site, "same-origin") &&
                       (!origin || streq(origin, "null") ||
                        (host && strncmp(origin, scheme, strlen(scheme)) == 0 && streq(origin + strlen(scheme), host)));
        if (!origin)
                return true; /* not a browser that says; the CSRF token decides */
        return host && strncmp(origin, scheme, strlen(scheme)) == 0 && streq(origin + strlen(scheme), host);
}

static void unlock_tokens(pthread_mutex_t **m) {
        if (*m)
                (void) pthread_mutex_unlock(*m);
}

/* Checks a presented token: 0 for an admin token (its NAME copied), -EPERM for another role,
 * -EACCES for none. */
int web_check_token(HubServer *s, const char *t, size_t n, char name[static HUB_TOKEN_NAME_MAX + 1]) {
        _cleanup_(unlock_tokens) pthread_mutex_t *locked = NULL;
        const char *found = NULL;
        HubRole role;
        int r;

        (void) hub_server_reload_tokens(s);
        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = &s->tokens_lock;
        r = hub_tokens_check(s->ctx->tokens, t, n, &role, &found);
        if (r < 0)
                return r;
        if (role != HUB_ROLE_ADMIN) {
                log_notice("Refused the web page to %s token '%s'.", hub_role_to_string(role), found);
                return -EPERM;
        }
        snprintf(name, HUB_TOKEN_NAME_MAX + 1, "%s", found);
        return 0;
}

/* Whether the admin token a session was made from is still in the admin token file. */
static bool admin_token_loaded(HubServer *s, const uint8_t hash[static 32]) {
        _cleanup_(unlock_tokens) pthread_mutex_t *locked = NULL;

        (void) hub_server_reload_tokens(s);
        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = &s->tokens_lock;
        return hub_tokens_hash_loaded(s->ctx->tokens, HUB_ROLE_ADMIN, hash);
}

/* Lets a request in (0, *ret filled), or says how it was refused: -EACCES nothing valid,
 * -EPERM a token of another role. */
int web_authenticate(HubServer *s, struct MHD_Connection *c, WebAuth *ret) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        char cookie[WEB_ID_CHARS + 1];
        WebSession *x;

        if (h) {
                const char *t;
                size_t n;

                if (strncasecmp(h, "Bearer ", 7) != 0)
                        return -EACCES;
                for (t = h + 7; *t == ' '; t++)
                        ;
                n = strcspn(t, " \t");
                if (n == 0 || t[n] != 0)
                        return -EACCES;
                *ret = (WebAuth) {};
                return web_check_token(s, t, n, ret->name);
        }
        x = web_session_find(s->web, web_session_cookie(c, cookie));
        if (!x)
                return -EACCES;
        if (!admin_token_loaded(s, x->token_hash)) {
                log_notice("Web session of admin token '%s' ended: the token was removed.", x->name);
                explicit_bzero(x, sizeof(*x));
                return -EACCES;
        }
        *ret = (WebAuth) { .csrf = x->csrf, .session = x };
        snprintf(ret->name, sizeof(ret->name), "%s", x->name);
        return 0;
}

