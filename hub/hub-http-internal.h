/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What hub-http.c (the door: connections, authentication, SCIM and admin dispatch, group commit,
 * the serving loop) shares with hub-http-feed.c (the feed, the snapshot and /metrics). */

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hub-http.h"

#define SCIM_PREFIX "/scim/v2"

typedef struct Conn Conn;
typedef struct HubWeb HubWeb;

struct HubServer {
        HubContext *ctx;
        struct MHD_Daemon *daemon;
        int fd;
        bool tls;
        char *cert_pem, *key_pem;
        unsigned in_flight; /* requests begun and not completed; only the polling thread touches it */
        char *last_token_error; /* so that a bad token file is logged once per change, not per request */
        /* Held by the polling thread for a whole request (the token NAME it logs and audits is
         * borrowed from the token set) and by hub_server_reload_tokens() (SIGHUP, main thread). */
        pthread_mutex_t tokens_lock;
        /* The serving thread (see serve()) and the eventfd that stops it. */
        pthread_t thread;
        bool thread_started;
        int stop_fd;
        /* The requests of the open batch (hub_store_batch_begin()), suspended with their answers
         * until it commits; newest first. */
        Conn *held;
        unsigned n_held;
        /* The open batch holds a change of the directory (not only the fleet's poll records):
         * a read must commit it first. */
        bool batch_dirty;
        /* Feed requests held until a change commits or their deadline (see feed_serve()), in
         * the order of their deadlines (a loop's round looks only at those due), the head they
         * were held at, and the last answer made (its bytes are shared by every host asking for
         * the same since at the same head). */
        Conn *waiters, *waiters_tail;
        unsigned n_waiters, max_waiters; /* [feed] max_waiters, or fewer when descriptors are few */
        int64_t waiters_head;
        struct MHD_Response *feed_cache;
        char *feed_cache_base; /* the base URL its meta.location and $ref carry */
        int64_t feed_cache_since, feed_cache_head;
        unsigned n_snapshots;
        bool stopping;
        int quiesced_fd; /* the listening socket, ours to close once MHD_quiesce_daemon() gave it back */
        /* The change head as of the last commit (head_known false: read it again): every held
         * feed request looks at it when it is resumed, 10,000 of them after one commit. */
        int64_t head;
        bool head_known;
        /* Connections resumed since the last MHD_run(): the next one must come without waiting
         * (a read can finish a batch in the middle of a round). */
        unsigned resumed;
        /* For /metrics: writes answered per token NAME since the start (2xx and not). */
        struct {
                char *name;
                uint64_t ok, refused;
                /* The last hour by minute, for the fleet page: slot m % 60 counts minute m
                 * (since the epoch) when minute[m % 60] == m. */
                int64_t minute[60];
                uint32_t minute_ok[60], minute_refused[60];
        } *pushes;
        size_t n_pushes, allocated_pushes;
        uint64_t feed_answers;
        uint64_t next_prune; /* CLOCK_MONOTONIC µs of the next retention pass */
        HubWeb *web; /* the fleet page's sessions (hub-web.c), made at the first sign-in */
};

/* One request's state, from its first callback to MHD's completion notice. */
struct Conn {
        HubServer *server;
        char *body;
        size_t len, allocated;
        bool too_large;
        bool answered;
        bool counted;
        /* An answer computed in a batch waits here (the connection suspended) until the batch
         * has committed; ready: resumed, to be sent at the next callback. */
        struct MHD_Connection *mhd;
        HubReply reply;
        bool held, ready, integer_status;
        char *who; /* the token's NAME, for the log line when the answer goes out */
        uint64_t token_generation; /* the token set it was authenticated by (hub_tokens_generation()) */
        Conn *next_held;
        /* A feed request: what it asked for, when its wait ends (CLOCK_MONOTONIC µs), whether
         * it is held (in HubServer.waiters, suspended) or resumed to be looked at again. */
        bool feed, waiting, feed_resumed;
        bool web_resumed, web_held_once; /* a held /ui/fragment request (hub-web.c): to answer now; was held */
        int64_t since;
        uint64_t deadline;
        Conn *next_waiter;
};

/* An RFC 7644 §3.12 error answer (integer "status" for application/json clients). */
enum MHD_Result hub_http_send_error(struct MHD_Connection *c, int status, const char *scim_type, const char *detail,
                                    bool integer_status, unsigned retry_after);

/* Commits the open batch and resumes its requests (group commit): what is read after it is
 * committed. */
void hub_http_batch_finish(HubServer *s);
/* Before a read: commits the open batch when it holds a change of the directory (or was lost),
 * so that a read sees only committed changes; the fleet's poll records may stay open until the
 * end of the round. */
void hub_http_commit_for_read(HubServer *s);

/* GET /v1/feed and /v1/snapshot (host and admin tokens; role checked here). */
enum MHD_Result hub_http_feed_dispatch(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *url,
                                       const char *method, HubRole role, const char *base_url);
/* Answers a feed request, or holds it (suspended) while nothing changed and its wait lasts. */
enum MHD_Result hub_http_feed_serve(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *base_url);
/* Resumes held feed requests (all when the head moved or the hub stops, else those whose wait
 * is over); returns the earliest deadline left (CLOCK_MONOTONIC µs, UINT64_MAX: none). */
uint64_t hub_http_feed_wake(HubServer *s);
void hub_http_feed_cache_drop(HubServer *s);
/* GET /metrics (admin tokens, checked by the caller). */
enum MHD_Result hub_http_metrics_serve(HubServer *s, struct MHD_Connection *c, Conn *conn);

/* The fleet page below /ui (hub-web.c): its own authentication (a session or an admin bearer
 * token), answers and headers. */
bool hub_web_path(const char *url);
enum MHD_Result hub_web_dispatch(HubServer *s, struct MHD_Connection *c, Conn *conn, const char *url,
                                 const char *method);
HubWeb *hub_web_free(HubWeb *w);
/* A commit happened (the fleet page's views may have changed). */
void hub_web_changed(HubServer *s);
/* Resumes the held fragment requests whose view may have changed, whose wait is over, or all
 * when the hub stops; true while some are still held. */
bool hub_web_wake(HubServer *s);
