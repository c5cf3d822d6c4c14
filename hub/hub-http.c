/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-feed.h"
#include "hub-fleet.h"
#include "hub-http-internal.h"
#include "hub-util.h"
#include "hub-web-internal.h"
#include "log.h"
#include "prov-ini.h"
#include "prov-time.h"

#define FEED_PREFIX "/v1/"
#define ADMIN_PREFIX "/v1/admin"
#define ERROR_SCHEMA "urn:ietf:params:scim:api:messages:2.0:Error"
/* A TLS certificate chain or key is a few KiB; anything this big is not one. */
#define PEM_MAX (1024 * 1024)
/* The serving loop wakes at least this often (ms), whatever libmicrohttpd's timeouts say. */
#define LOOP_WAKE_MS 1000
/* Descriptors kept beside the connections: the store's files (and a snapshot's connection each),
 * PostgreSQL's sockets, token files being read, the loop's own. */
#define FD_RESERVE 128
/* How long a stopping hub keeps answering what it has begun. */
#define STOP_DRAIN_USEC (5 * USEC_PER_SEC)

void hub_reply_done(HubReply *r) {
        if (r->json)
                cJSON_Delete(r->json);
        free(r->etag);
        free(r->location);
        *r = (HubReply) {};
}

void hub_reply_error(HubReply *reply, const ProvScimError *err) {
        cJSON *j;
        char status[16];

        hub_reply_done(reply);
        reply->status = err->status >= 400 && err->status < 600 ? (unsigned) err->status : 500;
        j = cJSON_CreateObject();
        if (!j)
                return;
        cJSON_AddItemToObject(j, "schemas", cJSON_CreateStringArray((const char *const[]) { ERROR_SCHEMA }, 1));
        snprintf(status, sizeof(status), "%u", reply->status);
        cJSON_AddStringToObject(j, "status", status);
        if (err->scim_type)
                cJSON_AddStringToObject(j, "scimType", err->scim_type);
        if (err->detail[0])
                cJSON_AddStringToObject(j, "detail", err->detail);
        reply->json = j;
}

/* RFC 7644 §3.12 wants "status" as a JSON string; Okta's documentation shows (and its tests
 * expect) an integer. A client that sent application/json rather than application/scim+json
 * gets the integer; everyone else gets the RFC's string. */
static void error_status_dialect(cJSON *json, bool integer) {
        cJSON *st, *schemas;

        if (!integer || !json || !cJSON_IsObject(json))
                return;
        schemas = cJSON_GetObjectItemCaseSensitive(json, "schemas");
        if (!cJSON_IsArray(schemas) || !cJSON_IsString(cJSON_GetArrayItem(schemas, 0)) ||
            !streq(cJSON_GetArrayItem(schemas, 0)->valuestring, ERROR_SCHEMA))
                return;
        st = cJSON_GetObjectItemCaseSensitive(json, "status");
        if (cJSON_IsString(st))
                cJSON_ReplaceItemInObjectCaseSensitive(json, "status", cJSON_CreateNumber(atoi(st->valuestring)));
}

static enum MHD_Result send_reply(struct MHD_Connection *c, HubReply *reply, bool integer_status,
                                  unsigned retry_after) {
        struct MHD_Response *resp;
        enum MHD_Result ret;
        char *text = NULL;
        size_t len = 0;

        if (reply->json) {
                error_status_dialect(reply->json, integer_status);
                text = cJSON_PrintUnformatted(reply->json);
                if (!text) {
                        log_oom();
                        return MHD_NO;
                }
                len = strlen(text);
        }
        resp = MHD_create_response_from_buffer(len, text ?: (char *) "", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        if (text)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/scim+json");
        if (reply->etag)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, reply->etag);
        if (reply->location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, reply->location);
        if (reply->status == 401)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"provision-hub\"");
        /* Refused for want of room: the connection goes too, whether or not the client closes it. */
        if (reply->status == 429)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        if (retry_after > 0) {
                char s[16];

                snprintf(s, sizeof(s), "%u", retry_after);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, s);
        }
        ret = MHD_queue_response(c, reply->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result hub_http_send_error(struct MHD_Connection *c, int status, const char *scim_type, const char *detail,
                                  bool integer_status, unsigned retry_after) {
        ProvScimError e = {};
        HubReply reply = {};
        enum MHD_Result ret;

        prov_scim_error_set(&e, status, scim_type, "%s", detail);
        hub_reply_error(&reply, &e);
        ret = send_reply(c, &reply, integer_status, retry_after);
        hub_reply_done(&reply);
        return ret;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        HubRequest *req = cls;

        if (!key)
                return MHD_YES;
        if (streq(key, "filter"))
                req->filter = value ?: "";
        else if (streq(key, "startIndex"))
                req->start_index = value ?: "";
        else if (streq(key, "count"))
                req->count = value ?: "";
        else if (streq(key, "cursor")) {
                req->cursor = value ?: "";
                req->has_cursor = true;
        } else if (streq(key, "attributes"))
                req->attributes = value ?: "";
        else if (streq(key, "excludedAttributes"))
                req->excluded_attributes = value ?: "";
        return MHD_YES;
}

/* A Host header we may echo in meta.location: a name or address and a port, nothing else. */
static bool host_sane(const char *h) {
        size_t n;

        if (!h)
                return false;
        n = strlen(h);
        if (n == 0 || n > 255)
                return false;
        for (const char *c = h; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr(".-:[]", *c)))
                        return false;
        return true;
}

/* "https://HOST/scim/v2" for meta.location and $ref, from a sane Host header. */
static char *base_url_for(HubServer *s, struct MHD_Connection *c) {
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        char *base;

        if (asprintf(&base, "%s://%s" SCIM_PREFIX, s->tls ? "https" : "http", host_sane(host) ? host : "localhost") < 0)
                return NULL;
        return base;
}

/* Re-reads changed token files, logging a failure once per new message. */
static void tokens_refresh(HubServer *s) {
        _cleanup_free_ char *err = NULL;
        int r;

        r = hub_tokens_refresh(s->ctx->tokens, &err);
        if (r < 0) {
                if (!streq_ptr(err, s->last_token_error)) {
                        log_error_errno(r, "Token file refused, its role has no tokens now: %s", err ?: "");
                        free(s->last_token_error);
                        s->last_token_error = TAKE_PTR(err);
                }
        } else if (s->last_token_error) {
                log_info("Token files are valid again.");
                free(s->last_token_error);
                s->last_token_error = NULL;
        }
}

/* "Bearer TOKEN" (scheme case-insensitive, one token of non-blank characters). */
static int authenticate(HubServer *s, struct MHD_Connection *c, HubRole *ret_role, const char **ret_name) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *t;
        size_t n;

        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return -EACCES;
        t = h + 7;
        while (*t == ' ')
                t++;
        n = strcspn(t, " \t");
        if (n == 0 || t[n + strspn(t + n, " \t")] != 0)
                return -EACCES;
        tokens_refresh(s);
        return hub_tokens_check(s->ctx->tokens, t, n, ret_role, ret_name);
}

/* The path for a log line: a segment that looks like one of our tokens (a client that put its
 * token in the URL) is replaced, so that no token reaches the journal whatever a client sends. */
static const char *url_for_log(const char *url, char *buf, size_t size) {
        if (!strstr(url, HUB_TOKEN_PREFIX))
                return url;
        snprintf(buf, size, "%.*s(redacted)", (int) (strstr(url, HUB_TOKEN_PREFIX) - url), url);
        return buf;
}

static bool content_type_is(struct MHD_Connection *c, const char *what) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

        return ct && strncasecmp(ct, what, strlen(what)) == 0;
}

static void unlock_tokensp(HubServer **s) {
        if (*s)
                (void) pthread_mutex_unlock(&(*s)->tokens_lock);
}

int hub_server_reload_tokens(HubServer *s) {
        _cleanup_(unlock_tokensp) HubServer *locked = NULL;

        if (!s)
                return -EINVAL;
        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = s;
        tokens_refresh(s);
        return s->last_token_error ? -EPERM : 0;
}

/* Logs a request's outcome and sends its answer. */
/* Counts a write's answer for its token (/metrics). */
static void count_push(HubServer *s, const char *who, unsigned status) {
        int64_t minute;
        size_t i;

        for (i = 0; i < s->n_pushes; i++)
                if (streq(s->pushes[i].name, who))
                        break;
        if (i == s->n_pushes) {
                char *name;

                if (s->n_pushes >= 1024 || /* token names are few; never grow without bound */
                    prov_grow((void **) &s->pushes, &s->allocated_pushes, s->n_pushes + 1, sizeof(*s->pushes)) < 0 ||
                    !(name = strdup(who)))
                        return;
                memset(&s->pushes[s->n_pushes], 0, sizeof(s->pushes[0]));
                s->pushes[s->n_pushes].name = name;
                s->n_pushes++;
        }
        minute = hub_now_usec() / (60 * USEC_PER_SEC_I64);
        if (s->pushes[i].minute[minute % 60] != minute) {
                s->pushes[i].minute[minute % 60] = minute;
                s->pushes[i].minute_ok[minute % 60] = s->pushes[i].minute_refused[minute % 60] = 0;
        }
        if (status < 300) {
                s->pushes[i].ok++;
                s->pushes[i].minute_ok[minute % 60]++;
        } else {
                s->pushes[i].refused++;
                s->pushes[i].minute_refused[minute % 60]++;
        }
}

static enum MHD_Result answer(struct MHD_Connection *c, Conn *conn, const char *url, const char *method,
                              HubReply *reply) {
        const char *who = conn->who ?: "?";
        char logbuf[128];

        if (!streq(method, "GET") && !streq(method, "HEAD") && strncmp(url, SCIM_PREFIX, strlen(SCIM_PREFIX)) == 0)
                count_push(conn->server, who, reply->status);
        url = url_for_log(url, logbuf, sizeof(logbuf));
        if (reply->status >= 500)
                log_error("%s %s by '%s' answered %u.", method, SAFE(url), who, reply->status);
        else if (!streq(method, "GET"))
                log_info("%s %s by '%s': %u.", method, SAFE(url), who, reply->status);
        else
                log_debug("%s %s by '%s': %u.", method, SAFE(url), who, reply->status);
        return send_reply(c, reply, conn->integer_status, reply->status == 503 ? 1 : 0);
}

/* Commits the open batch and resumes its requests, whose answers go out at their next callback:
 * as computed when the batch is on disk, 503 for those that changed something when it is not. */
void hub_http_commit_for_read(HubServer *s) {
        if (s->batch_dirty || hub_store_batch_lost(s->ctx->store))
                hub_http_batch_finish(s);
}

void hub_http_batch_finish(HubServer *s) {
        HubStore *store = s->ctx->store;
        unsigned n = s->n_held;
        Conn *conn;
        int r;

        if (!hub_store_batch_open(store) && !s->held)
                return;
        s->head_known = false;
        s->batch_dirty = false;
        r = hub_store_batch_commit(store);
        if (r < 0)
                log_error_errno(r, "Failed to commit the changes of %u request(s), answering them 503: %s", s->n_held,
                                hub_store_errmsg(store) ?: "");
        while ((conn = s->held)) {
                s->held = conn->next_held;
                conn->next_held = NULL;
                if (r < 0 && conn->reply.status < 400) {
                        ProvScimError e = {};

                        prov_scim_error_set(&e, 503, NULL, "The store could not keep the change; retry.");
                        hub_reply_error(&conn->reply, &e);
                }
                conn->held = false;
                conn->ready = true;
                MHD_resume_connection(conn->mhd);
        }
        s->n_held = 0;
        s->resumed += n;
        hub_web_changed(s);
}

/* Whether a held feed request's token still lets it in (a token removed from its file while the
 * request was held: its answer is 401, not the changes made since). */
static bool still_authenticated(HubServer *s, struct MHD_Connection *c, Conn *conn) {
        _cleanup_(unlock_tokensp) HubServer *locked = NULL;
        const char *name = NULL;
        HubRole role;

        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = s;
        if (hub_tokens_generation(s->ctx->tokens) == conn->token_generation)
                return true;
        if (authenticate(s, c, &role, &name) < 0 || role == HUB_ROLE_SCIM || !streq_ptr(name, conn->who))
                return false;
        conn->token_generation = hub_tokens_generation(s->ctx->tokens);
        return true;
}

static enum MHD_Result dispatch(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *url,
                                const char *method) {
        _cleanup_(unlock_tokensp) HubServer *locked = NULL;
        bool integer_status = content_type_is(c, "application/json");
        HubRequest req = { .method = method };
        _cleanup_free_ char *base = NULL;
        const char *name = NULL, *ct;
        char logbuf[128];
        HubReply reply = {};
        enum MHD_Result ret;
        HubRole role;
        void (*handler)(HubContext *ctx, const HubRequest *req, HubReply *reply) = hub_handle_scim;
        size_t prefix = strlen(SCIM_PREFIX);
        bool write;
        int r;

        if (hub_web_path(url))
                return hub_web_dispatch(s, c, conn, url, method);
        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = s;
        r = authenticate(s, c, &role, &name);
        if (r < 0)
                return hub_http_send_error(c, 401, NULL, "A valid bearer token is required.", integer_status, 0);

        conn->integer_status = integer_status;
        conn->token_generation = hub_tokens_generation(s->ctx->tokens);
        conn->who = strdup(name);
        if (!conn->who)
                return MHD_NO;
        base = base_url_for(s, c);
        if (!base)
                return MHD_NO;
        if (strncmp(url, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0 &&
            (url[strlen(ADMIN_PREFIX)] == '/' || url[strlen(ADMIN_PREFIX)] == 0)) {
                /* The admin API: admin tokens only. */
                if (role != HUB_ROLE_ADMIN) {
                        log_notice("Refused %s %s to %s token '%s'.", method,
                                   SAFE(url_for_log(url, logbuf, sizeof(logbuf))), hub_role_to_string(role), name);
                        return hub_http_send_error(c, 403, NULL, "The admin API needs an admin token.", integer_status, 0);
                }
                handler = hub_handle_admin;
                prefix = strlen(ADMIN_PREFIX);
        } else if (streq(url, "/metrics")) {
                if (role != HUB_ROLE_ADMIN)
                        return hub_http_send_error(c, 403, NULL, "Metrics need an admin token.", integer_status, 0);
                if (!streq(method, "GET"))
                        return hub_http_send_error(c, 405, NULL, "Method not allowed here.", integer_status, 0);
                return hub_http_metrics_serve(s, c, conn);
        } else if (streq(url, "/v1/acks")) {
                if (role == HUB_ROLE_SCIM)
                        return hub_http_send_error(c, 403, NULL, "Acks are for host tokens.", integer_status, 0);
                handler = hub_handle_acks;
                prefix = strlen("/v1");
        } else if (strncmp(url, FEED_PREFIX, strlen(FEED_PREFIX)) == 0)
                return hub_http_feed_dispatch(s, c, conn, url, method, role, base);
        else if (strncmp(url, SCIM_PREFIX, strlen(SCIM_PREFIX)) != 0 ||
                 (url[strlen(SCIM_PREFIX)] != '/' && url[strlen(SCIM_PREFIX)] != 0))
                return hub_http_send_error(c, 404, NULL, "No such endpoint.", integer_status, 0);

        /* Hosts read (and ack); identity providers and admins write. */
        if (role == HUB_ROLE_HOST && !streq(method, "GET") && !streq(method, "HEAD") && handler != hub_handle_acks) {
                log_notice("Refused %s %s to host token '%s'.", method, SAFE(url_for_log(url, logbuf, sizeof(logbuf))),
                           name);
                return hub_http_send_error(c, 403, NULL, "This token may only read.", integer_status, 0);
        }

        if (conn->too_large)
                return hub_http_send_error(c, 413, NULL, "The request body is too large.", integer_status, 0);

        ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (conn->len > 0 && ct && !strcasestr(ct, "json"))
                return hub_http_send_error(c, 415, "invalidSyntax", "The body must be application/scim+json or application/json.",
                                  integer_status, 0);

        req.path = url + prefix;
        req.body = conn->body ?: "";
        req.body_len = conn->len;
        req.token_name = name;
        req.role = role;
        req.base_url = base;
        req.if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &req);

        /* Group commit: a request that may change something joins the open batch (or opens
         * one), and its answer waits until the batch is on disk (hub_http_batch_finish(), after this round
         * of the serving loop). A read first commits the open batch: what it reads is durable,
         * and never part of a batch. */
        write = !streq(method, "GET") && !streq(method, "HEAD");
        if (!write)
                hub_http_commit_for_read(s);
        else {
                if (s->stopping)
                        return hub_http_send_error(c, 503, NULL, "The hub is stopping; retry.", integer_status, 1);
                /* A batch an I/O error rolled back is finished (its requests fail) before a new one. */
                if (hub_store_batch_lost(s->ctx->store))
                        hub_http_batch_finish(s);
                if (!hub_store_batch_open(s->ctx->store)) {
                        r = hub_store_batch_begin(s->ctx->store);
                        if (r < 0) {
                                log_error_errno(r, "Failed to begin a transaction: %s",
                                                hub_store_errmsg(s->ctx->store) ?: "");
                                return hub_http_send_error(c, 503, NULL, "The store is unavailable; retry.",
                                                           integer_status, 1);
                        }
                }
                s->batch_dirty = true;
        }

        handler(s->ctx, &req, &reply);
        if (reply.status == 0)
                reply.status = 500;

        if (write) {
                if (hub_store_batch_lost(s->ctx->store)) {
                        /* An I/O error or a full disk rolled the batch back: its requests and
                         * this one fail now. */
                        hub_http_batch_finish(s);
                        if (reply.status < 400) {
                                ProvScimError e = {};

                                prov_scim_error_set(&e, 503, NULL, "The store could not keep the change; retry.");
                                hub_reply_error(&reply, &e);
                        }
                } else {
                        conn->reply = reply;
                        conn->mhd = c;
                        conn->held = true;
                        conn->next_held = s->held;
                        s->held = conn;
                        s->n_held++;
                        MHD_suspend_connection(c);
                        return MHD_YES;
                }
        }
        ret = answer(c, conn, url, method, &reply);
        hub_reply_done(&reply);
        return ret;
}

/* The body of a request without credentials (the web page's sign-in form) is read up to this. */
#define ANONYMOUS_BODY_MAX 4096

/* Whether a request carries credentials that let it in somewhere: a token of any role, or a
 * live session of the web page. Only such requests are counted in flight and may send a body up
 * to max_body: 65 clients without a token that sent their bodies a byte a minute had every
 * request of the IdPs and the hosts answered 429. */
static bool has_credentials(HubServer *s, struct MHD_Connection *c, const char *url) {
        _cleanup_(unlock_tokensp) HubServer *locked = NULL;
        char cookie[WEB_ID_CHARS + 1];
        const char *name;
        HubRole role;

        if (hub_web_path(url) && web_session_find(s->web, web_session_cookie(c, cookie)))
                return true;
        (void) pthread_mutex_lock(&s->tokens_lock);
        locked = s;
        return authenticate(s, c, &role, &name) >= 0;
}

static size_t body_max(HubServer *s, const Conn *conn) {
        return conn->counted ? s->ctx->config->max_body : ANONYMOUS_BODY_MAX;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        HubServer *s = cls;
        Conn *conn = *con_cls;

        if (!conn) {
                const char *cl;

                conn = calloc(1, sizeof(*conn));
                if (!conn)
                        return MHD_NO;
                conn->server = s;
                *con_cls = conn;
                if (has_credentials(s, c, url)) {
                        conn->counted = true;
                        s->in_flight++;
                        if (s->in_flight > s->ctx->config->max_requests) {
                                conn->answered = true;
                                return hub_http_send_error(c, 429, NULL, "Too many requests in flight; retry later.",
                                                           content_type_is(c, "application/json"), 1);
                        }
                } else if (!hub_web_path(url)) {
                        conn->answered = true;
                        return hub_http_send_error(c, 401, NULL, "A valid bearer token is required.",
                                                   content_type_is(c, "application/json"), 0);
                }
                /* A declared length over the limit is refused before its body is read. */
                cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > body_max(s, conn)) {
                        conn->answered = true;
                        return hub_http_send_error(c, 413, NULL, "The request body is too large.",
                                          content_type_is(c, "application/json"), 0);
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (conn->answered || conn->too_large)
                        return MHD_YES; /* discarded */
                if (conn->len + n > body_max(s, conn)) {
                        conn->too_large = true;
                        free(conn->body);
                        conn->body = NULL;
                        conn->len = conn->allocated = 0;
                        return MHD_YES;
                }
                if (conn->len + n + 1 > conn->allocated) {
                        size_t want = conn->allocated ? conn->allocated * 2 : 4096;
                        char *b;

                        while (want < conn->len + n + 1)
                                want *= 2;
                        b = realloc(conn->body, want);
                        if (!b)
                                return MHD_NO;
                        conn->body = b;
                        conn->allocated = want;
                }
                memcpy(conn->body + conn->len, upload_data, n);
                conn->len += n;
                conn->body[conn->len] = 0;
                return MHD_YES;
        }

        if (conn->answered) {
                enum MHD_Result ret;

                if (conn->web_resumed) {
                        conn->web_resumed = false;
                        return hub_web_dispatch(s, c, conn, url, method);
                }
                if (conn->feed_resumed) {
                        _cleanup_free_ char *base = base_url_for(s, c);

                        conn->feed_resumed = false;
                        if (!base)
                                return MHD_NO;
                        if (!still_authenticated(s, c, conn))
                                return hub_http_send_error(c, 401, NULL, "A valid bearer token is required.",
                                                           conn->integer_status, 0);
                        hub_http_commit_for_read(s); /* what is read is committed */
                        return hub_http_feed_serve(s, c, conn, base);
                }
                if (!conn->ready)
                        return MHD_YES;
                /* Resumed after its batch: the held answer goes out now. */
                conn->ready = false;
                ret = answer(c, conn, url, method, &conn->reply);
                hub_reply_done(&conn->reply);
                return ret;
        }
        conn->answered = true;
        return dispatch(s, c, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        HubServer *s = cls;
        Conn *conn = *con_cls;

        if (!conn)
                return;
        assert(!conn->held && !conn->waiting);
        if (conn->counted && s->in_flight > 0)
                s->in_flight--;
        hub_reply_done(&conn->reply);
        free(conn->who);
        free(conn->body);
        free(conn);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("libmicrohttpd: %s", buf);
}

static int read_pem(const char *path, char **ret) {
        _cleanup_close_ int fd = -1;
        size_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return prov_read_bounded(fd, PEM_MAX - 1, ret, &n);
}

/* Retention, every PRUNE_EVERY_USEC between two rounds: changes older than [feed] retention (and
 * than the guard's window, which counts deletions in them), audit rows older than
 * [store] audit_retention. */
#define PRUNE_EVERY_USEC (600 * USEC_PER_SEC)

static void prune(HubServer *s) {
        const HubConfig *cfg = s->ctx->config;
        int64_t now = hub_now_usec(), keep = cfg->feed_retention > cfg->guard_window ? cfg->feed_retention : cfg->guard_window;
        int64_t changes = 0, audit = 0;
        int r;

        if (hub_monotonic_usec() < s->next_prune || hub_store_batch_open(s->ctx->store))
                return;
        s->next_prune = hub_monotonic_usec() + PRUNE_EVERY_USEC;
        r = hub_store_prune(s->ctx->store, now - keep * USEC_PER_SEC_I64,
                            cfg->audit_retention > 0 ? now - (int64_t) cfg->audit_retention * USEC_PER_SEC_I64 : 0, &changes,
                            &audit);
        if (r < 0)
                log_warning_errno(r, "Retention pass failed (retried in 10 minutes): %s",
                                  hub_store_errmsg(s->ctx->store) ?: "");
        else if (changes > 0 || audit > 0)
                log_info("Retention: forgot %" PRIi64 " change(s) and %" PRIi64 " audit row(s).", changes, audit);
}

/* The serving thread: libmicrohttpd's epoll set in our own loop, so that after each round of
 * requests (MHD_run() serves every connection that is ready) the batch they made commits with one
 * fsync before any of them is answered. With one client this is one commit per request, as
 * before; with many, the fsync is shared. */
static void *serve(void *userdata) {
        HubServer *s = userdata;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        struct pollfd p[3] = {
                { .fd = info ? info->epoll_fd : -1, .events = POLLIN },
                { .fd = s->stop_fd, .events = POLLIN },
                /* Other replicas' commits (PostgreSQL's LISTEN); -1: none, poll() skips it. */
                { .fd = -1, .events = POLLIN },
        };

        uint64_t feed_deadline = UINT64_MAX;

        for (;;) {
                MHD_UNSIGNED_LONG_LONG ms;
                int timeout = LOOP_WAKE_MS;

                /* Resumed connections are served by the next MHD_run(), which must not wait. */
                if (s->resumed > 0)
                        timeout = 0;
                else if (MHD_get_timeout(s->daemon, &ms) == MHD_YES && ms < LOOP_WAKE_MS)
                        timeout = (int) ms;
                if (feed_deadline != UINT64_MAX) {
                        uint64_t now = hub_monotonic_usec();
                        int until = feed_deadline <= now ? 0 : (int) ((feed_deadline - now + 999) / 1000);

                        if (until < timeout)
                                timeout = until;
                }
                p[2].fd = hub_store_watch_fd(s->ctx->store);
                if (poll(p, 3, timeout) < 0 && errno != EINTR) {
                        log_error_errno(negative_errno(), "poll() failed in the serving loop: %m");
                        (void) usleep(10 * 1000);
                }
                if (p[1].revents & POLLIN)
                        break;
                /* Another replica committed (or the listening connection is new): the head is
                 * read again, and held feed requests are answered when it moved. */
                if ((p[2].fd < 0 || (p[2].revents & (POLLIN | POLLHUP | POLLERR))) && hub_store_watch(s->ctx->store) > 0)
                        s->head_known = false;
                s->resumed = 0;
                (void) MHD_run(s->daemon);
                hub_http_batch_finish(s);
                prune(s);
                /* A committed change answers every held feed request. */
                feed_deadline = hub_http_feed_wake(s);
                (void) hub_web_wake(s);
        }

        /* Stopping: no new connection; new writes are refused (503), what was changed is
         * committed and answered, held feed requests are answered with what they have, until
         * nothing is held or suspended (libmicrohttpd must not be stopped with a suspended
         * connection), for at most STOP_DRAIN_USEC. */
        s->stopping = true;
        s->quiesced_fd = MHD_quiesce_daemon(s->daemon);
        for (uint64_t end = hub_monotonic_usec() + STOP_DRAIN_USEC;;) {
                hub_http_batch_finish(s);
                (void) hub_http_feed_wake(s);
                if (!s->held && !s->waiters && !hub_web_wake(s) && !hub_store_batch_open(s->ctx->store) && s->resumed == 0 &&
                    (s->in_flight == 0 || hub_monotonic_usec() >= end))
                        break;
                s->resumed = 0;
                (void) poll(p, 1, 10);
                (void) MHD_run(s->daemon);
        }
        return NULL;
}

HubServer *hub_server_stop(HubServer *s) {
        if (!s)
                return NULL;
        if (s->thread_started) {
                (void) eventfd_write(s->stop_fd, 1);
                (void) pthread_join(s->thread, NULL);
        }
        hub_http_feed_cache_drop(s);
        s->web = hub_web_free(s->web);
        free(s->feed_cache_base);
        for (size_t i = 0; i < s->n_pushes; i++)
                free(s->pushes[i].name);
        free(s->pushes);
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        if (s->stop_fd >= 0)
                close(s->stop_fd);
        if (s->quiesced_fd >= 0)
                close(s->quiesced_fd);
        if (s->fd >= 0)
                close(s->fd);
        if (s->key_pem) {
                explicit_bzero(s->key_pem, strlen(s->key_pem));
                free(s->key_pem);
        }
        free(s->cert_pem);
        free(s->last_token_error);
        pthread_mutex_destroy(&s->tokens_lock);
        free(s);
        return NULL;
}

int hub_server_start(HubContext *ctx, HubServer **ret, char **ret_url) {
        _cleanup_(hub_server_stopp) HubServer *s = NULL;
        const HubConfig *cfg = ctx->config;
        struct sockaddr_storage bound = {};
        socklen_t len = sizeof(bound);
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, conn_limit, others;
        struct rlimit rl;
        char addr[80];
        int one = 1, r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ctx = ctx;
        s->fd = -1;
        s->stop_fd = -1;
        s->quiesced_fd = -1;
        pthread_mutex_init(&s->tokens_lock, NULL);

        /* Our serving loop polls libmicrohttpd's epoll set (see serve()). */
        if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES)
                return log_error_errno(EOPNOTSUPP, "This libmicrohttpd has no epoll support, which provision-hub needs.");
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->stop_fd < 0)
                return log_error_errno(negative_errno(), "Failed to create an eventfd: %m");

        if (cfg->tls_cert_file) {
                r = read_pem(cfg->tls_cert_file, &s->cert_pem);
                if (r < 0)
                        return log_error_errno(r, "Failed to read tls_cert_file %s: %m", cfg->tls_cert_file);
                r = read_pem(cfg->tls_key_file, &s->key_pem);
                if (r < 0)
                        return log_error_errno(r, "Failed to read tls_key_file %s: %m", cfg->tls_key_file);
                s->tls = true;
                flags |= MHD_USE_TLS;
        }

        /* Our own socket: any address family, and the real port when the kernel picks it. */
        s->fd = socket(cfg->listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return log_error_errno(negative_errno(), "Failed to create the listening socket: %m");
        (void) setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s->fd, (const struct sockaddr *) &cfg->listen_addr, cfg->listen_addr_len) < 0)
                return log_error_errno(negative_errno(), "Failed to bind %s: %m", cfg->listen);
        if (listen(s->fd, 256) < 0)
                return log_error_errno(negative_errno(), "Failed to listen on %s: %m", cfg->listen);
        if (getsockname(s->fd, (struct sockaddr *) &bound, &len) < 0)
                return log_error_errno(negative_errno(), "Failed to read the bound address: %m");
        if (cfg->listen_addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;

        /* Connections within the descriptors we may open: past RLIMIT_NOFILE libmicrohttpd stops
         * accepting, and every new connection (an IdP's push, a host's poll) waited in the
         * listening queue until a held one ended. The soft limit is raised to the hard one as
         * needed; held feed requests leave the other requests their share of what remains, and
         * past the connection limit a new connection is closed at once. */
        conn_limit = cfg->max_requests * 4 + 16 + cfg->feed_max_waiters;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
                if (rl.rlim_cur < (rlim_t) conn_limit + FD_RESERVE && rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t) conn_limit + FD_RESERVE
                                              ? (rlim_t) conn_limit + FD_RESERVE
                                              : rl.rlim_max;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                        (void) getrlimit(RLIMIT_NOFILE, &rl);
                }
                if (rl.rlim_cur < (rlim_t) conn_limit + FD_RESERVE) {
                        unsigned fit = (unsigned) (rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2);

                        log_warning("RLIMIT_NOFILE is %llu: at most %u connections instead of %u (raise LimitNOFILE=).",
                                    (unsigned long long) rl.rlim_cur, fit, conn_limit);
                        conn_limit = fit;
                }
        }
        others = cfg->max_requests * 4 + 16;
        if (others > conn_limit / 2)
                others = conn_limit / 2;
        s->max_waiters = conn_limit - others < cfg->feed_max_waiters ? conn_limit - others : cfg->feed_max_waiters;

        s->daemon = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, s,
                MHD_OPTION_LISTEN_SOCKET, s->fd,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 60,
                /* Each connection's buffer for headers and the answer's head (bodies are ours,
                 * read through it in pieces): 8 KiB, request headers up to about 7.5 KiB, as
                 * 10,000 hosts each hold one. Behind TLS the whole buffer is resident (it reuses
                 * the pages of freed handshake buffers): 16 KiB made a held TLS request cost
                 * 26.7 KiB, 8 KiB makes it 18.8 (GnuTLS's session is most of the rest). A mapped
                 * buffer (above libmicrohttpd's 32 KiB) is resident only where touched, but
                 * answering touches more of it: the fan-out's peak grew. */
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (8 * 1024),
                MHD_OPTION_CONNECTION_LIMIT, conn_limit,
                s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert_pem,
                MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
                MHD_OPTION_END);
        if (!s->daemon)
                return log_error_errno(EINVAL, "Failed to start the HTTP server on %s (a bad TLS certificate or key?).",
                                       cfg->listen);
        s->fd = -1; /* the daemon closes it */

        /* The port as the daemon has it (the kernel's pick for port 0). */
        {
                const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);

                if (info && info->port != 0) {
                        if (bound.ss_family == AF_INET)
                                ((struct sockaddr_in *) &bound)->sin_port = htons(info->port);
                        else if (bound.ss_family == AF_INET6)
                                ((struct sockaddr_in6 *) &bound)->sin6_port = htons(info->port);
                }
        }

        r = -pthread_create(&s->thread, NULL, serve, s);
        if (r < 0)
                return log_error_errno(r, "Failed to start the serving thread: %m");
        s->thread_started = true;

        if (ret_url && asprintf(ret_url, "%s://%s/", s->tls ? "https" : "http",
                                hub_sockaddr_format(&bound, addr, sizeof(addr))) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}
