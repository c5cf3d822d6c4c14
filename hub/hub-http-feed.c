/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-feed.h"
#include "hub-fleet.h"
#include "hub-http-internal.h"
#include "hub-util.h"
#include "log.h"
#include "prov-time.h"

/* Snapshots streamed at once (each holds a store connection and a read transaction). */
#define MAX_SNAPSHOTS 8
#define SNAPSHOT_BLOCK (64 * 1024)

void hub_http_feed_cache_drop(HubServer *s) {
        if (s->feed_cache)
                MHD_destroy_response(s->feed_cache);
        s->feed_cache = NULL;
}

/* The change head, read from the store once per commit. */
static int head_get(HubServer *s, int64_t *ret) {
        int r;

        if (!s->head_known) {
                r = hub_store_head(s->ctx->store, &s->head);
                if (r < 0)
                        return r;
                s->head_known = true;
        }
        *ret = s->head;
        return 0;
}

/* Held requests whose waits end within this much of each other are answered in one round: with
 * 10,000 hosts' waits ending at random, the rounds that resume some (each of which has
 * libmicrohttpd walk every suspended connection) are at most 20 a second. */
#define FEED_WAKE_SLACK_USEC (50ULL * 1000ULL)

/* Holds a feed request: in the list in deadline order, almost always at its end (the hosts ask
 * for the same wait), so that a round finds the requests due at the list's head. */
static void waiter_add(HubServer *s, Conn *conn) {
        Conn **p = &s->waiters;

        if (s->waiters_tail && s->waiters_tail->deadline > conn->deadline)
                while ((*p)->deadline <= conn->deadline)
                        p = &(*p)->next_waiter;
        else if (s->waiters_tail)
                p = &s->waiters_tail->next_waiter;
        conn->next_waiter = *p;
        *p = conn;
        if (!conn->next_waiter)
                s->waiters_tail = conn;
        conn->waiting = true;
        s->n_waiters++;
}

/* Resumes held feed requests: all of them when the head moved (or the hub is stopping), else
 * those whose wait is over (or ends within FEED_WAKE_SLACK_USEC). Returns the earliest deadline
 * left (UINT64_MAX: none). */
uint64_t hub_http_feed_wake(HubServer *s) {
        uint64_t due = hub_monotonic_usec() + FEED_WAKE_SLACK_USEC;
        bool all = s->stopping;
        int64_t head;
        Conn *conn;

        if (!s->waiters)
                return UINT64_MAX;
        if (!all && head_get(s, &head) >= 0 && head != s->waiters_head)
                all = true;
        /* The token files as they are now, once for all the requests resumed (each is checked
         * against them again when they changed). */
        if (all || s->waiters->deadline <= due)
                (void) hub_server_reload_tokens(s);
        while ((conn = s->waiters) && (all || conn->deadline <= due)) {
                s->waiters = conn->next_waiter;
                conn->next_waiter = NULL;
                conn->waiting = false;
                conn->feed_resumed = true;
                s->n_waiters--;
                s->resumed++;
                MHD_resume_connection(conn->mhd);
        }
        if (!s->waiters) {
                s->waiters_tail = NULL;
                return UINT64_MAX;
        }
        return s->waiters->deadline;
}

/* Held requests whose client has gone (closed, or at least said it sends nothing more): a
 * suspended connection is not watched by libmicrohttpd, so a host that reconnects in a loop
 * left one held request per attempt until its wait ended, and filled max_waiters for every
 * other host. Called when they are full: those are answered now (their wait ends), which frees
 * their places. Returns how many. */
static unsigned waiters_reap(HubServer *s) {
        _cleanup_free_ struct pollfd *p = NULL;
        unsigned n = 0, i = 0, reaped = 0;
        Conn *conn, **link;

        p = calloc(s->n_waiters, sizeof(*p));
        if (!p)
                return 0;
        for (conn = s->waiters; conn && n < s->n_waiters; conn = conn->next_waiter) {
                const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);

                p[n++] = (struct pollfd) { .fd = info ? info->connect_fd : -1, .events = POLLRDHUP };
        }
        if (poll(p, n, 0) <= 0)
                return 0;
        for (link = &s->waiters; (conn = *link); i++) {
                if (i >= n || !(p[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                        s->waiters_tail = conn;
                        link = &conn->next_waiter;
                        continue;
                }
                *link = conn->next_waiter;
                conn->next_waiter = NULL;
                conn->waiting = false;
                conn->feed_resumed = true;
                conn->deadline = 0;
                s->n_waiters--;
                s->resumed++;
                reaped++;
                MHD_resume_connection(conn->mhd);
        }
        if (!s->waiters)
                s->waiters_tail = NULL;
        return reaped;
}

/* Answers 200 with *text (LEN bytes, taken) of TYPE. */
static enum MHD_Result send_text(struct MHD_Connection *c, char **text, size_t len, const char *type) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(len, *text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
                return MHD_NO;
        *text = NULL;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Answers a feed request, or holds it while nothing changed after its since and its wait lasts. */
enum MHD_Result hub_http_feed_serve(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *base_url) {
        ProvScimError err = {};
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        enum MHD_Result ret;
        bool unknown;
        int64_t head;
        int r;

        /* A store that does not answer (PostgreSQL down): the request is held as if nothing
         * changed, and answered with what is known when its wait ends — no event after its
         * since — so that hosts keep their one held request instead of polling in a loop. */
        r = head_get(s, &head);
        unknown = r < 0;
        if (unknown) {
                log_warning_errno(r, "Failed to read the change head: %s", hub_store_errmsg(s->ctx->store) ?: "");
                head = conn->since;
        }
        if (head == conn->since && !s->stopping && hub_monotonic_usec() + FEED_WAKE_SLACK_USEC < conn->deadline) {
                if (s->n_waiters >= s->max_waiters && waiters_reap(s) == 0)
                        return hub_http_send_error(c, 429, NULL, "Too many held feed requests; retry later.", conn->integer_status, 5);
                if (!s->waiters)
                        s->waiters_head = head;
                conn->mhd = c;
                waiter_add(s, conn);
                /* A held request is not in flight: max_requests is for work, not for waiting. */
                if (conn->counted) {
                        conn->counted = false;
                        s->in_flight--;
                }
                MHD_suspend_connection(c);
                return MHD_YES;
        }

        if (unknown) {
                if (asprintf(&text, "{\"seq\":%" PRIi64 ",\"events\":[]}", conn->since) < 0)
                        return MHD_NO;
                return send_text(c, &text, strlen(text), "application/json");
        }
        if (!s->feed_cache || s->feed_cache_since != conn->since || s->feed_cache_head != head ||
            !streq_ptr(s->feed_cache_base, base_url)) {
                hub_http_feed_cache_drop(s);
                r = hub_feed_render(s->ctx->store, conn->since, s->ctx->config->feed_max_events, base_url, &text, &len,
                                    &err);
                if (r == -ESTALE)
                        return hub_http_send_error(c, 410, NULL, err.detail, conn->integer_status, 0);
                if (r < 0) {
                        log_error_errno(r, "Failed to render the feed after %" PRIi64 ": %s", conn->since,
                                        hub_store_errmsg(s->ctx->store) ?: "");
                        return hub_http_send_error(c, 503, NULL, "The store is unavailable; retry.", conn->integer_status, 1);
                }
                s->feed_cache = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
                if (!s->feed_cache)
                        return MHD_NO;
                TAKE_PTR(text);
                MHD_add_response_header(s->feed_cache, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                s->feed_cache_since = conn->since;
                s->feed_cache_head = head;
                free(s->feed_cache_base);
                s->feed_cache_base = strdup(base_url);
                if (!s->feed_cache_base) {
                        hub_http_feed_cache_drop(s);
                        return MHD_NO;
                }
        }
        log_debug("Feed after %" PRIi64 " to '%s': head %" PRIi64 ".", conn->since, conn->who ?: "?", head);
        s->feed_answers++;
        ret = MHD_queue_response(c, MHD_HTTP_OK, s->feed_cache);
        return ret;
}

static ssize_t snapshot_reader(void *cls, uint64_t pos, char *buf, size_t max) {
        ssize_t n = hub_snapshot_read(cls, buf, max);

        (void) pos;
        if (n < 0) {
                log_error_errno((int) n, "Snapshot stream failed: %m");
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

typedef struct SnapshotStream {
        HubServer *server;
        HubSnapshot *snap;
} SnapshotStream;

static ssize_t snapshot_stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
        return snapshot_reader(((SnapshotStream *) cls)->snap, pos, buf, max);
}

static void snapshot_stream_free(void *cls) {
        SnapshotStream *st = cls;

        hub_snapshot_free(st->snap);
        st->server->n_snapshots--;
        free(st);
}

static enum MHD_Result snapshot_serve(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *base_url) {
        _cleanup_(hub_snapshot_freep) HubSnapshot *snap = NULL;
        struct MHD_Response *resp;
        SnapshotStream *st;
        enum MHD_Result ret;
        int r;

        if (s->n_snapshots >= MAX_SNAPSHOTS)
                return hub_http_send_error(c, 429, NULL, "Too many snapshots being read; retry later.", conn->integer_status, 5);
        r = hub_snapshot_open(s->ctx->store, base_url, &snap);
        if (r < 0) {
                log_error_errno(r, "Failed to open a snapshot of the store: %m");
                return hub_http_send_error(c, 503, NULL, "The store is unavailable; retry.", conn->integer_status, 1);
        }
        st = malloc(sizeof(*st));
        if (!st)
                return MHD_NO;
        *st = (SnapshotStream) { .server = s, .snap = TAKE_PTR(snap) };
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SNAPSHOT_BLOCK, snapshot_stream_reader, st,
                                                 snapshot_stream_free);
        if (!resp) {
                hub_snapshot_free(st->snap);
                free(st);
                return MHD_NO;
        }
        s->n_snapshots++;
        log_info("Snapshot at seq %" PRIi64 " to '%s'.", hub_snapshot_seq(st->snap), conn->who ?: "?");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* GET /metrics (admin tokens): Prometheus text format 0.0.4. */
enum MHD_Result hub_http_metrics_serve(HubServer *s, struct MHD_Connection *c, Conn *conn) {
        _cleanup_free_ char *text = NULL;
        cJSON *held = NULL;
        int n_held;
        HubFleetLag lag = {};
        size_t size = 0;
        int64_t head = 0;
        FILE *f;

        hub_http_commit_for_read(s);
        if (head_get(s, &head) < 0 || hub_fleet_lag(s->ctx->store, head, &lag) < 0 ||
            hub_store_holds(s->ctx->store, &held) < 0)
                return hub_http_send_error(c, 503, NULL, "The store is unavailable; retry.", conn->integer_status, 1);
        n_held = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(held, "users"));
        cJSON_Delete(held);
        f = open_memstream(&text, &size);
        if (!f)
                return MHD_NO;
        fprintf(f, "# HELP provision_hub_held_users Deactivations held by the guard.\n"
                   "# TYPE provision_hub_held_users gauge\nprovision_hub_held_users %d\n", n_held);
        fputs("# HELP provision_hub_pushes_total Writes by identity providers (and admins), by token and outcome.\n"
              "# TYPE provision_hub_pushes_total counter\n", f);
        for (size_t i = 0; i < s->n_pushes; i++)
                fprintf(f, "provision_hub_pushes_total{token=\"%s\",outcome=\"ok\"} %" PRIu64 "\n"
                           "provision_hub_pushes_total{token=\"%s\",outcome=\"refused\"} %" PRIu64 "\n",
                        s->pushes[i].name, s->pushes[i].ok, s->pushes[i].name, s->pushes[i].refused);
        fprintf(f, "# HELP provision_hub_head_seq The last change's number.\n# TYPE provision_hub_head_seq gauge\n"
                   "provision_hub_head_seq %" PRIi64 "\n"
                   "# HELP provision_hub_feed_waiters Feed requests held now.\n# TYPE provision_hub_feed_waiters gauge\n"
                   "provision_hub_feed_waiters %u\n"
                   "# HELP provision_hub_feed_answers_total Feed answers sent.\n"
                   "# TYPE provision_hub_feed_answers_total counter\nprovision_hub_feed_answers_total %" PRIu64 "\n"
                   "# HELP provision_hub_requests_in_flight Requests being handled now.\n"
                   "# TYPE provision_hub_requests_in_flight gauge\nprovision_hub_requests_in_flight %u\n"
                   "# HELP provision_hub_hosts Hosts that follow the feed, by how far behind the head they are.\n"
                   "# TYPE provision_hub_hosts gauge\n"
                   "provision_hub_hosts{lag=\"0\"} %" PRIu64 "\nprovision_hub_hosts{lag=\"1-10\"} %" PRIu64 "\n"
                   "provision_hub_hosts{lag=\"11-1000\"} %" PRIu64 "\nprovision_hub_hosts{lag=\"1001+\"} %" PRIu64 "\n"
                   "provision_hub_hosts{lag=\"silent\"} %" PRIu64 "\n",
                head, s->n_waiters, s->feed_answers, s->in_flight, lag.current, lag.behind_10, lag.behind_1000,
                lag.behind_more, lag.silent);
        if (fclose(f) != 0)
                return MHD_NO;
        return send_text(c, &text, size, "text/plain; version=0.0.4");
}

/* GET /v1/feed and /v1/snapshot: host and admin tokens. */
enum MHD_Result hub_http_feed_dispatch(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *url,
                                     const char *method, HubRole role, const char *base_url) {
        ProvScimError err = {};
        HubHostPoll poll = {};
        int64_t head;
        unsigned wait;
        int r;

        if (role == HUB_ROLE_SCIM)
                return hub_http_send_error(c, 403, NULL, "The feed is for host tokens.", conn->integer_status, 0);
        if (!streq(url, "/v1/feed") && !streq(url, "/v1/snapshot"))
                return hub_http_send_error(c, 404, NULL, "No such endpoint.", conn->integer_status, 0);
        if (!streq(method, "GET"))
                return hub_http_send_error(c, 405, NULL, "Method not allowed here.", conn->integer_status, 0);
        /* What is read is committed. */
        hub_http_commit_for_read(s);
        if (streq(url, "/v1/snapshot"))
                return snapshot_serve(s, c, conn, base_url);

        if (hub_feed_parse(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since"),
                           MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Prefer"), s->ctx->config->feed_max_wait,
                           &conn->since, &wait, &err) < 0)
                return hub_http_send_error(c, err.status, NULL, err.detail, conn->integer_status, 0);
        poll.token_name = conn->who;
        poll.applied = conn->since;
        poll.wait = wait;
        if (hub_fleet_poll_parse(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "host"),
                                 MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hostname"),
                                 MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version"), &poll, &err) < 0)
                return hub_http_send_error(c, err.status, NULL, err.detail, conn->integer_status, 0);
        /* A host token names one host only (hub_fleet_bind()); a store failure here leaves the
         * poll unrecorded, not the host without its answer. */
        if (poll.host_id && role == HUB_ROLE_HOST && !s->stopping) {
                r = hub_store_batch_open(s->ctx->store) ? 0 : hub_store_batch_begin(s->ctx->store);
                if (r >= 0)
                        r = hub_fleet_bind(s->ctx->store, s->ctx->tokens, conn->who, poll.host_id, &err);
                if (r < 0 && err.status == 403) {
                        log_notice("Refused the feed to host token '%s': %s", conn->who, err.detail);
                        return hub_http_send_error(c, 403, NULL, err.detail, conn->integer_status, 0);
                }
                if (r < 0) {
                        log_warning("Failed to check host %s's token: %s", poll.host_id,
                                    hub_store_errmsg(s->ctx->store) ?: "");
                        poll.host_id = NULL;
                }
                if (hub_store_batch_lost(s->ctx->store))
                        hub_http_batch_finish(s);
        }
        /* What the host has applied, in the open batch (or a new one): it is committed at the end
         * of the round, with one flush for every poll of it, and a failure to record it does not
         * keep the host from its answer. A since ahead of the head (answered 410) is not
         * recorded: no host is reported past a change it cannot have. */
        if (poll.host_id && head_get(s, &head) >= 0 && poll.applied <= head && !s->stopping) {
                if ((!hub_store_batch_open(s->ctx->store) && hub_store_batch_begin(s->ctx->store) < 0) ||
                    hub_fleet_host_seen(s->ctx->store, &poll) < 0)
                        log_warning("Failed to record host %s's poll: %s", poll.host_id,
                                    hub_store_errmsg(s->ctx->store) ?: "");
                if (hub_store_batch_lost(s->ctx->store))
                        hub_http_batch_finish(s);
        }
        conn->feed = true;
        conn->deadline = hub_monotonic_usec() + (uint64_t) wait * USEC_PER_SEC;
        return hub_http_feed_serve(s, c, conn, base_url);
}
