/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub-fleet.h"
#include "hub-http-internal.h"
#include "hub-util.h"
#include "hub-web-internal.h"
#include "log.h"

/* The fleet page's door (see hub-web.h). Who gets in: a session made from an admin token posted
 * to /ui/login (never in a URL), or a request with "Authorization: Bearer ADMIN-TOKEN". Host and
 * IdP tokens are refused. A session is 32 random bytes (getrandom) in an HttpOnly, SameSite=Strict
 * cookie scoped to /ui (Secure under TLS), compared in constant time with every live session,
 * dropped at logout, after [web] session_lifetime, or when its admin token leaves the token file;
 * at most WEB_MAX_SESSIONS live at once (the one nearest its end makes room). Every POST of a
 * session carries the session's CSRF token in its form (compared in constant time) and, when the
 * browser says where it comes from, Origin and Sec-Fetch-Site must say this hub. The two writes (approve held changes, lock a user) are
 * two-step: the first POST answers a confirmation page, the second does it. */

/* The assets, compiled in (hub-web-assets.c, generated from hub/web/ by hub/web/embed.sh). */
extern const unsigned char hub_web_css[], hub_web_js[], hub_web_icon[];
extern const size_t hub_web_css_len, hub_web_js_len, hub_web_icon_len;

void hub_web_changed(HubServer *s) {
        if (s->web)
                s->web->generation++;
}

bool hub_web_wake(HubServer *s) {
        uint64_t now = hub_monotonic_usec();
        Conn **p;

        if (!s->web)
                return false;
        for (p = &s->web->waiters; *p;) {
                Conn *conn = *p;

                if (s->stopping || conn->since != (int64_t) s->web->generation || conn->deadline <= now) {
                        *p = conn->next_waiter;
                        conn->next_waiter = NULL;
                        conn->waiting = false;
                        conn->web_resumed = true;
                        s->web->n_waiters--;
                        s->resumed++;
                        MHD_resume_connection(conn->mhd);
                        continue;
                }
                p = &conn->next_waiter;
        }
        return s->web->waiters != NULL;
}

HubWeb *hub_web_free(HubWeb *w) {
        if (w)
                explicit_bzero(w, sizeof(*w));
        free(w);
        return NULL;
}

bool hub_web_path(const char *url) {
        return strncmp(url, WEB_PREFIX, strlen(WEB_PREFIX)) == 0 &&
               (url[strlen(WEB_PREFIX)] == 0 || url[strlen(WEB_PREFIX)] == '/');
}

/* ------------------------------------------------------------------ answers */

/* Every answer below /ui carries these: nothing inline runs, nothing from elsewhere loads, the
 * page is framed by nobody, and no copy is kept. */
static void security_headers(struct MHD_Response *resp) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* Sends body (taken: freed here) with the headers above. */
static enum MHD_Result web_send_generation(struct MHD_Connection *c, unsigned status, const char *ctype,
                                           char *body, size_t len, const char *location, const char *cookie,
                                           const char *generation, unsigned retry_after) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(len, body ?: (char *) "", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        security_headers(resp);
        if (ctype)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        if (location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
        if (cookie)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
        if (generation)
                MHD_add_response_header(resp, "X-Hub-Generation", generation);
        if (retry_after > 0) {
                char v[16];

                snprintf(v, sizeof(v), "%u", retry_after);
                MHD_add_response_header(resp, "Retry-After", v);
        }
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result web_send(struct MHD_Connection *c, unsigned status, const char *ctype, char *body,
                                size_t len, const char *location, const char *cookie) {
        return web_send_generation(c, status, ctype, body, len, location, cookie, NULL, 0);
}

static enum MHD_Result web_text(struct MHD_Connection *c, unsigned status, const char *text) {
        char *b = strdup(text);

        if (!b)
                return MHD_NO;
        return web_send(c, status, "text/plain; charset=utf-8", b, strlen(b), NULL, NULL);
}

static enum MHD_Result web_redirect(struct MHD_Connection *c, const char *to, const char *cookie) {
        return web_send(c, 303, NULL, NULL, 0, to, cookie);
}

static enum MHD_Result web_asset(struct MHD_Connection *c, const unsigned char *data, size_t len, const char *ctype) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *) data, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!resp)
                return MHD_NO;
        security_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* A page: head, the view's content, tail; a fragment is the content only (what <main> holds). */
typedef void (*WebView)(FILE *f, const HubWebPage *p, void *userdata);

static enum MHD_Result web_page(struct MHD_Connection *c, unsigned status, const HubWebPage *p, bool fragment,
                                WebView view, void *userdata, const char *cookie) {
        char *text = NULL, generation[24];
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return MHD_NO;
        if (!fragment)
                hub_web_render_head(f, p);
        view(f, p, userdata);
        if (!fragment)
                hub_web_render_tail(f, p);
        if (fclose(f) != 0) {
                free(text);
                return MHD_NO;
        }
        snprintf(generation, sizeof(generation), "%" PRIu64, p->generation);
        return web_send_generation(c, status, "text/html; charset=utf-8", text, size, NULL, cookie,
                                   fragment ? generation : NULL, fragment ? p->retry_after : 0);
}

static void view_login(FILE *f, const HubWebPage *p, void *userdata) {
        hub_web_render_login(f, userdata);
}

static char *url_encode(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(3 * n + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("-._~", *s))
                        *o++ = *s;
                else
                        o += sprintf(o, "%%%02X", (unsigned char) *s);
        }
        *o = 0;
        return out;
}

/* prefix (a path and a query's "key=") followed by value, percent-encoded; NULL when out of memory. */
static char *url_with(const char *prefix, const char *value) {
        _cleanup_free_ char *enc = url_encode(value);
        char *url;

        if (!enc || asprintf(&url, "%s%s", prefix, enc) < 0)
                return NULL;
        return url;
}

/* ------------------------------------------------------------------ views */

typedef struct Dashboard {
        cJSON *leavers, *sources, *hosts, *holds;
} Dashboard;

static void view_dashboard(FILE *f, const HubWebPage *p, void *userdata) {
        Dashboard *d = userdata;

        hub_web_render_dashboard(f, p, d->leavers, d->sources, d->hosts, d->holds);
}

static void view_leaver(FILE *f, const HubWebPage *p, void *userdata) {
        hub_web_render_leaver(f, p, userdata);
}

static void view_search(FILE *f, const HubWebPage *p, void *userdata) {
        hub_web_render_search(f, p, userdata);
}

typedef struct ApproveView {
        const cJSON *holds;
        const char *digest;
} ApproveView;

static void view_approve(FILE *f, const HubWebPage *p, void *userdata) {
        const ApproveView *a = userdata;

        hub_web_render_confirm_approve(f, p, a->holds, a->digest);
}

typedef struct LockView {
        const char *id, *user_name;
        bool lock;
} LockView;

static void view_lock(FILE *f, const HubWebPage *p, void *userdata) {
        const LockView *l = userdata;

        hub_web_render_confirm_lock(f, p, l->id, l->user_name, l->lock);
}

static enum MHD_Result store_failed(HubServer *s, struct MHD_Connection *c, int r) {
        log_error_errno(r, "The web page's store read failed: %s (%m)", hub_store_errmsg(s->ctx->store) ?: "");
        return web_text(c, 503, "The store is unavailable; retry.");
}

/* Adds each source's write requests and refusals of the last hour (the serving thread's
 * counters, by minute; a restart starts them again). */
static void sources_add_requests(HubServer *s, cJSON *sources, int64_t now) {
        int64_t minute = now / (60 * USEC_PER_SEC_I64);
        cJSON *o;

        cJSON_ArrayForEach(o, sources) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
                uint64_t ok = 0, refused = 0;

                for (size_t i = 0; i < s->n_pushes; i++) {
                        if (!cJSON_IsString(name) || !streq(s->pushes[i].name, name->valuestring))
                                continue;
                        for (size_t m = 0; m < 60; m++)
                                if (s->pushes[i].minute[m] > minute - 60) {
                                        ok += s->pushes[i].minute_ok[m];
                                        refused += s->pushes[i].minute_refused[m];
                                }
                }
                cJSON_AddNumberToObject(o, "requestsHour", (double) (ok + refused));
                cJSON_AddNumberToObject(o, "errorsHour", (double) refused);
        }
}

static enum MHD_Result serve_dashboard(HubServer *s, struct MHD_Connection *c, HubWebPage *p, bool fragment) {
        HubStore *store = s->ctx->store;
        Dashboard d = {};
        enum MHD_Result ret;
        int r;

        if ((r = hub_web_leavers(store, p->now - WEB_LEAVERS_DAYS * 86400 * USEC_PER_SEC_I64, &d.leavers)) < 0 ||
            (r = hub_web_sources(store, p->now, &d.sources)) < 0 || (r = hub_fleet_hosts(store, &d.hosts)) < 0 ||
            (r = hub_store_holds(store, &d.holds)) < 0) {
                ret = store_failed(s, c, r);
                goto done;
        }
        sources_add_requests(s, d.sources, p->now);
        p->title = "Fleet";
        p->live = "/ui/fragment/";
        ret = web_page(c, 200, p, fragment, view_dashboard, &d, NULL);
done:
        cJSON_Delete(d.leavers);
        cJSON_Delete(d.sources);
        cJSON_Delete(d.hosts);
        cJSON_Delete(d.holds);
        return ret;
}

/* A page titled title that keeps itself live from its fragment at live_prefix and value
 * (percent-encoded). */
static enum MHD_Result web_live_page(struct MHD_Connection *c, HubWebPage *p, bool fragment, const char *title,
                                     const char *live_prefix, const char *value, WebView view, void *userdata) {
        _cleanup_free_ char *live = url_with(live_prefix, value);

        if (!live)
                return MHD_NO;
        p->title = title;
        p->live = live;
        return web_page(c, 200, p, fragment, view, userdata, NULL);
}

static enum MHD_Result serve_leaver(HubServer *s, struct MHD_Connection *c, HubWebPage *p, bool fragment) {
        const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
        _cleanup_(cJSON_Deletep) cJSON *report = NULL;
        ProvScimError err = {};
        int r;

        if (!id || !*id || strlen(id) > 255)
                return web_text(c, 400, "Which user? (id=)");
        r = hub_fleet_leaver_report(s->ctx->store, id, &report, &err);
        if (r < 0 && err.status == 404)
                return web_text(c, 404, "This hub never knew that user.");
        if (r < 0)
                return store_failed(s, c, r);
        return web_live_page(c, p, fragment, "Leaver", "/ui/fragment/leaver?id=", id, view_leaver, report);
}

static enum MHD_Result serve_search(HubServer *s, struct MHD_Connection *c, HubWebPage *p, bool fragment) {
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
        _cleanup_(cJSON_Deletep) cJSON *results = NULL;
        int r;

        if (!q || !*q)
                return web_redirect(c, "/ui/", NULL);
        if (strlen(q) > HUB_WEB_QUERY_MAX)
                return web_text(c, 400, "The search is too long.");
        r = hub_web_search(s->ctx->store, q, &results);
        if (r < 0)
                return store_failed(s, c, r);
        p->query = q;
        return web_live_page(c, p, fragment, "Search", "/ui/fragment/search?q=", q, view_search, results);
}

/* Runs one change of an admin as its own commit (not part of the IdPs' open batch), so that the
 * page says what happened only once it is on disk. */
static int web_commit_begin(HubServer *s) {
        if (s->stopping)
                return -ESHUTDOWN;
        hub_http_batch_finish(s); /* whatever is open commits first, for its own requests */
        return hub_store_batch_begin(s->ctx->store);
}

static int web_commit_end(HubServer *s, int r) {
        int k = hub_store_batch_commit(s->ctx->store);

        s->head_known = false;
        s->batch_dirty = false;
        hub_web_changed(s); /* the page's held requests show it now, not at the next commit */
        return r < 0 ? r : k;
}

/* base64url of SHA-256 over the held users' ids, each ended by a newline, in the store's order. */
static int holds_digest(const cJSON *holds, char ret[static WEB_ID_CHARS + 1]) {
        gnutls_hash_hd_t h;
        uint8_t d[32];
        const cJSON *u;

        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
                return -ENOMEM;
        cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(holds, "users")) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(u, "id");
                const char *v = cJSON_IsString(id) ? id->valuestring : "";

                (void) gnutls_hash(h, v, strlen(v));
                (void) gnutls_hash(h, "\n", 1);
        }
        gnutls_hash_deinit(h, d);
        hub_base64url(d, sizeof(d), ret);
        return 0;
}

static enum MHD_Result serve_approve(HubServer *s, struct MHD_Connection *c, Conn *conn, HubWebPage *p,
                                     const WebAuth *auth) {
        const HubActor who = { .token_name = auth->name, .method = "APPROVE" };
        _cleanup_(cJSON_Deletep) cJSON *holds = NULL;
        char confirm[8], notice[128];
        ProvScimError err = {};
        int64_t released = 0;
        const char *body = conn->body ?: "";
        char hold_s[24], count_s[16], digest_s[WEB_ID_CHARS + 2], digest[WEB_ID_CHARS + 1];
        const cJSON *hold;
        bool same;
        int r;

        /* What the confirmation shows, or what the approval checks against it. Read on the serving
         * thread, which also runs the IdPs' writes: nothing joins the hold between this read and
         * the approval. */
        hub_http_commit_for_read(s);
        r = hub_store_holds(s->ctx->store, &holds);
        if (r >= 0)
                r = holds_digest(holds, digest);
        if (r < 0)
                return store_failed(s, c, r);
        if (!web_form_value(body, conn->len, "confirm", confirm, sizeof(confirm)) || !streq(confirm, "yes")) {
                p->title = "Approve held changes";
                return web_page(c, 200, p, false, view_approve, &(ApproveView) { holds, digest }, NULL);
        }
        /* Only the hold as the confirmation showed it: deactivations joining it since (or another
         * hold) go back to a confirmation. */
        hold = cJSON_GetObjectItemCaseSensitive(holds, "hold");
        snprintf(count_s, sizeof(count_s), "%d", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(holds, "users")));
        {
                char form_count[16];

                same = cJSON_IsNumber(hold) && hold->valuedouble >= 1 &&
                       web_form_value(body, conn->len, "hold", hold_s, sizeof(hold_s)) && *hold_s &&
                       strspn(hold_s, "0123456789") == strlen(hold_s) &&
                       strtoll(hold_s, NULL, 10) == (int64_t) hold->valuedouble &&
                       web_form_value(body, conn->len, "count", form_count, sizeof(form_count)) && streq(form_count, count_s) &&
                       web_form_value(body, conn->len, "digest", digest_s, sizeof(digest_s)) && strlen(digest_s) == WEB_ID_CHARS &&
                       streq(digest_s, digest);
        }
        if (!same) {
                log_notice("An approval on the web page by admin token '%s' was of held changes that changed since; "
                           "asked again.", auth->name);
                p->title = "Approve held changes";
                p->notice = "The held changes changed since you looked: check them again.";
                return web_page(c, 409, p, false, view_approve, &(ApproveView) { holds, digest }, NULL);
        }
        r = web_commit_begin(s);
        if (r >= 0)
                r = web_commit_end(s, hub_store_hold_approve(s->ctx->store, (int64_t) hold->valuedouble,
                                                         strtoll(count_s, NULL, 10), &who, &released, &err));
        if (r < 0) {
                log_error_errno(r, "Approving held changes from the web page failed: %s", hub_store_errmsg(s->ctx->store) ?: "");
                return web_text(c, err.status >= 400 ? (unsigned) err.status : 503,
                                err.detail[0] ? err.detail : "The store could not keep the approval; retry.");
        }
        log_notice("Held deactivations approved by admin token '%s' on the web page: %" PRIi64 " user(s) released.",
                   auth->name, released);
        snprintf(notice, sizeof(notice), "/ui/?approved=%" PRIi64 "#holds", released);
        return web_redirect(c, notice, NULL);
}

static enum MHD_Result serve_lock(HubServer *s, struct MHD_Connection *c, Conn *conn, HubWebPage *p,
                                  const WebAuth *auth) {
        char id[WEB_FORM_VALUE_MAX], action[16], confirm[8];
        _cleanup_(cJSON_Deletep) cJSON *report = NULL;
        _cleanup_free_ char *to = NULL;
        const char *body = conn->body ?: "";
        ProvScimError err = {};
        bool lock, changed = false;
        HubActor who = { .token_name = auth->name };
        int r;

        if (!web_form_value(body, conn->len, "id", id, sizeof(id)) || !*id ||
            !web_form_value(body, conn->len, "action", action, sizeof(action)) ||
            (!streq(action, "lock") && !streq(action, "unlock")))
                return web_text(c, 400, "Which user, and lock or unlock?");
        lock = streq(action, "lock");
        who.method = lock ? "LOCK" : "UNLOCK";
        if (!web_form_value(body, conn->len, "confirm", confirm, sizeof(confirm)) || !streq(confirm, "yes")) {
                const cJSON *name;

                hub_http_commit_for_read(s);
                r = hub_fleet_leaver_report(s->ctx->store, id, &report, &err);
                if (r < 0 && err.status == 404)
                        return web_text(c, 404, "This hub never knew that user.");
                if (r < 0)
                        return store_failed(s, c, r);
                name = cJSON_GetObjectItemCaseSensitive(report, "userName");
                p->title = lock ? "Lock" : "Unlock";
                return web_page(c, 200, p, false, view_lock,
                                &(LockView) { .id = id, .user_name = cJSON_IsString(name) ? name->valuestring : NULL, .lock = lock },
                                NULL);
        }
        r = web_commit_begin(s);
        if (r >= 0)
                r = web_commit_end(s, hub_store_lock(s->ctx->store, id, lock, &who, &changed, &err));
        if (r < 0) {
                if (err.status >= 400 || r == -ENOENT)
                        return web_text(c, err.status >= 400 ? (unsigned) err.status : 404,
                                        err.detail[0] ? err.detail : "No such user.");
                log_error_errno(r, "A lock from the web page failed: %s", hub_store_errmsg(s->ctx->store) ?: "");
                return web_text(c, 503, "The store could not keep the lock; retry.");
        }
        if (changed)
                log_notice("User %s %s fleet-wide by admin token '%s' on the web page.", id, lock ? "locked" : "unlocked",
                           auth->name);
        to = url_with("/ui/leaver?id=", id);
        if (!to)
                return MHD_NO;
        return web_redirect(c, to, NULL);
}

static enum MHD_Result serve_login(HubServer *s, struct MHD_Connection *c, Conn *conn, bool post) {
        HubWebPage p = { .title = "Sign in", .now = hub_now_usec() };
        char token[WEB_FORM_VALUE_MAX], name[HUB_TOKEN_NAME_MAX + 1], cookie[256];
        uint8_t token_hash[32];
        WebSession *x;
        int r;

        if (!post)
                return web_page(c, 200, &p, false, view_login, NULL, NULL);
        if (!web_origin_ok(s, c))
                return web_text(c, 403, "Cross-site request refused.");
        if (!web_form_value(conn->body ?: "", conn->len, "token", token, sizeof(token)))
                return web_page(c, 400, &p, false, view_login, (void *) "Enter an admin token.", NULL);
        r = web_check_token(s, token, strlen(token), name);
        if (r >= 0 && gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), token_hash) < 0)
                r = -EACCES;
        explicit_bzero(token, sizeof(token));
        if (r < 0) {
                log_notice("Web sign-in refused (%s).", r == -EPERM ? "not an admin token" : "no such token");
                return web_page(c, 401, &p, false, view_login,
                                (void *) (r == -EPERM ? "Only an admin token opens this page." : "That token is not valid."),
                                NULL);
        }
        r = web_session_new(s->web, name, token_hash, s->ctx->config->web_session_lifetime, &x);
        explicit_bzero(token_hash, sizeof(token_hash));
        if (r < 0)
                return web_text(c, 503, "No randomness for a session; retry.");
        snprintf(cookie, sizeof(cookie), WEB_COOKIE "=%s; Path=" WEB_PREFIX "; HttpOnly; SameSite=Strict; Max-Age=%u%s",
                 x->id, s->ctx->config->web_session_lifetime, s->tls ? "; Secure" : "");
        log_info("Web session opened by admin token '%s'.", name);
        return web_redirect(c, "/ui/", cookie);
}

enum MHD_Result hub_web_dispatch(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *url,
                                 const char *method) {
        bool get = streq(method, "GET") || streq(method, "HEAD"), post = streq(method, "POST"), fragment = false;
        const char *page = url + strlen(WEB_PREFIX);
        HubWebPage p = { .now = hub_now_usec() };
        char csrf[WEB_ID_CHARS + 2];
        WebAuth auth;
        int r;

        if (!s->ctx->config->web_enabled)
                return web_text(c, 404, "The web page is off ([web] enabled = no).");
        if (!s->web) {
                s->web = calloc(1, sizeof(*s->web));
                if (!s->web)
                        return MHD_NO;
        }
        if (!get && !post)
                return web_text(c, 405, "Method not allowed here.");
        if (conn->too_large)
                return web_text(c, 413, "The request body is too large.");

        /* What needs no session: the assets and the sign-in form. */
        if (get && streq(page, "/static/hub-web.css"))
                return web_asset(c, hub_web_css, hub_web_css_len, "text/css; charset=utf-8");
        if (get && streq(page, "/static/hub-web.js"))
                return web_asset(c, hub_web_js, hub_web_js_len, "text/javascript; charset=utf-8");
        if (get && streq(page, "/static/favicon.svg"))
                return web_asset(c, hub_web_icon, hub_web_icon_len, "image/svg+xml");
        if (streq(page, "/login"))
                return serve_login(s, c, conn, post);
        if (get && streq(page, ""))
                return web_redirect(c, "/ui/", NULL);

        r = web_authenticate(s, c, &auth);
        if (r == -EPERM)
                return web_text(c, 403, "Only an admin token opens this page.");
        if (r < 0) {
                if (get && strncmp(page, "/fragment/", 10) != 0)
                        return web_redirect(c, "/ui/login", NULL);
                return web_text(c, 401, "Sign in first.");
        }
        p.who = auth.name;
        p.csrf = auth.csrf ?: "";

        if (post) {
                /* A session's POST proves it comes from our own form; a bearer request is not
                 * something a browser sends by itself. */
                if (auth.session && (!web_origin_ok(s, c) ||
                                     !web_form_value(conn->body ?: "", conn->len, "csrf", csrf, sizeof(csrf)) ||
                                     strlen(csrf) != WEB_ID_CHARS || !web_ct_equal(csrf, auth.csrf, WEB_ID_CHARS))) {
                        log_notice("Refused a web POST %s by '%s': no valid CSRF token or a foreign origin.", SAFE(page),
                                   auth.name);
                        return web_text(c, 403, "Cross-site request refused (no valid CSRF token).");
                }
                if (streq(page, "/logout")) {
                        if (auth.session)
                                explicit_bzero(auth.session, sizeof(*auth.session));
                        log_info("Web session of admin token '%s' closed.", auth.name);
                        return web_redirect(c, "/ui/login", WEB_COOKIE "=; Path=" WEB_PREFIX "; HttpOnly; SameSite=Strict; Max-Age=0");
                }
                if (streq(page, "/approve"))
                        return serve_approve(s, c, conn, &p, &auth);
                if (streq(page, "/lock"))
                        return serve_lock(s, c, conn, &p, &auth);
                return web_text(c, 404, "No such page.");
        }

        if (strncmp(page, "/fragment/", 10) == 0) {
                const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
                char *end;
                unsigned long long gen;

                fragment = true;
                page += strlen("/fragment");
                /* The view as of generation `after`: held until a commit may have changed it. */
                bool current = after && *after && !conn->web_held_once &&
                               (errno = 0, gen = strtoull(after, &end, 10), errno == 0 && *end == 0) &&
                               gen == s->web->generation;

                /* Full (the hub's waiters or this session's): answered now, and the script waits. */
                if (current && (s->stopping || s->web->n_waiters >= WEB_MAX_WAITERS ||
                                web_session_waiters(s->web, auth.session) >= WEB_MAX_WAITERS_SESSION)) {
                        current = false;
                        p.retry_after = WEB_RETRY_SEC;
                }
                if (current) {
                        conn->web_held_once = true;
                        conn->since = (int64_t) gen;
                        conn->deadline = hub_monotonic_usec() + WEB_HOLD_USEC;
                        conn->mhd = c;
                        conn->waiting = true;
                        conn->next_waiter = s->web->waiters;
                        s->web->waiters = conn;
                        s->web->n_waiters++;
                        /* A held request is not in flight (as the feed's). */
                        if (conn->counted) {
                                conn->counted = false;
                                s->in_flight--;
                        }
                        MHD_suspend_connection(c);
                        return MHD_YES;
                }
        }
        p.generation = s->web->generation;
        hub_http_commit_for_read(s); /* what the page shows is committed */
        if (streq(page, "/")) {
                const char *approved = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "approved");
                char notice[96];

                if (approved && *approved && strlen(approved) < 20 && strspn(approved, "0123456789") == strlen(approved)) {
                        snprintf(notice, sizeof(notice), "Approved: %s held user(s) released to the fleet.", approved);
                        p.notice = notice;
                }
                return serve_dashboard(s, c, &p, fragment);
        }
        if (streq(page, "/leaver"))
                return serve_leaver(s, c, &p, fragment);
        if (streq(page, "/search"))
                return serve_search(s, c, &p, fragment);
        return web_text(c, 404, "No such page.");
}
