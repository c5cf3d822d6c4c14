/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Refresh at sign-in (see refresh.h): a Unix stream socket on the daemon's event loop. One
 * request per connection; the refresh itself is a delta of one user and that user's groups,
 * applied, published and enforced like any other delta.
 *
 * Trade-off of running on the event loop: simple and race-free (syncs, D-Bus actions and
 * refreshes never touch the store or the snapshot at the same time, and enforcement stays on
 * the one thread it was written for), but one refresh at a time, and a refresh holds the loop
 * for as long as the client's deadline at most (2 s by default, REFRESH_MAX_USEC at worst). A
 * worker thread with its own curl handle and store connection would lift that; it would also
 * need the exports and enforcement to be serialised with the loop's syncs. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "enforce.h"
#include "local.h"
#include "log.h"
#include "prov-time.h"
#include "prov-validate.h"
#include "refresh.h"
#include "scim-source.h"
#include "store.h"
#include "sync.h"

#ifndef PROV_REFRESH_SOCKET
#define PROV_REFRESH_SOCKET "/run/provision/refresh.sock"
#endif

#define USEC_PER_MSEC UINT64_C(1000)
/* The longest a client may ask us to work on one refresh, whatever deadline it sends. */
#define REFRESH_MAX_USEC (10 * USEC_PER_SEC)
/* One name is asked from the source at most once in this time; later requests get "ok cached". */
#define REFRESH_PER_USER_USEC (5 * USEC_PER_SEC)
/* Refreshes of any names started in one second; more get "busy" (the socket is world-writable:
 * any local user may ask, for any name). */
#define REFRESH_PER_SECOND 4
/* Connections waiting for their request line, each for root's callers (the login services) and
 * for the others (whose requests are denied): more get "busy" at once. Apart, so that local users
 * holding connections open cannot make root's logins wait or fail (fail_closed). */
#define CONNS_MAX 16
/* A connection that sends no complete request line in this time is closed. */
#define CONN_IDLE_USEC (2 * USEC_PER_SEC)
#define RATE_SLOTS 64
#define REQUEST_MAX 320

typedef struct RateSlot {
        char name[256];
        uint64_t when; /* CLOCK_MONOTONIC µs of the last refresh started; 0 = free */
        bool failed;   /* that refresh failed: a repeat within the limit is told so, not "ok" */
} RateSlot;

typedef struct Conn Conn;

struct ProvRefresh {
        ProvDaemon *daemon;
        char *path;
        int fd;
        dev_t dev;
        ino_t ino;
        sd_event_source *listener;
        Conn *conns;
        unsigned n_conns[2]; /* [privileged] */
        RateSlot rate[RATE_SLOTS];
        uint64_t window_start;
        unsigned window_count;
};

struct Conn {
        ProvRefresh *owner;
        Conn *prev, *next;
        int fd;
        sd_event_source *io, *timer;
        struct ucred cred;
        char buf[REQUEST_MAX];
        size_t len;
};

static void conn_free(Conn *c) {
        if (!c)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->owner->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->owner->n_conns[c->cred.uid == 0]--;
        if (c->io) {
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                sd_event_source_unref(c->io);
        }
        if (c->timer) {
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                sd_event_source_unref(c->timer);
        }
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

/* The answer is one short line into an empty socket buffer: a non-blocking send that does not
 * go through is a client that left, nothing to wait for. */
static void answer(int fd, const char *line) {
        (void) send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Whether this name may be asked from the source now: then its slot is returned (the attempt
 * recorded); NULL when it was asked a moment ago, with *ret_failed telling how that went. */
static RateSlot *rate_allow(ProvRefresh *rf, const char *name, uint64_t now, bool *ret_failed) {
        RateSlot *oldest = &rf->rate[0];

        for (size_t i = 0; i < RATE_SLOTS; i++) {
                RateSlot *s = &rf->rate[i];

                if (s->when != 0 && streq(s->name, name)) {
                        if (now - s->when < REFRESH_PER_USER_USEC) {
                                *ret_failed = s->failed;
                                return NULL;
                        }
                        s->when = now;
                        s->failed = true; /* until it succeeds */
                        return s;
                }
                if (s->when < oldest->when)
                        oldest = s;
        }
        /* A name not seen lately takes the slot of the one refreshed longest ago. */
        (void) snprintf(oldest->name, sizeof(oldest->name), "%s", name);
        oldest->when = now;
        oldest->failed = true;
        return oldest;
}

/* The global limit: at most REFRESH_PER_SECOND refreshes started per second. */
static bool window_allow(ProvRefresh *rf, uint64_t now) {
        if (now - rf->window_start >= USEC_PER_SEC) {
                rf->window_start = now;
                rf->window_count = 0;
        }
        if (rf->window_count >= REFRESH_PER_SECOND)
                return false;
        rf->window_count++;
        return true;
}

/* Publishes what a refresh changed, as a sync does: the snapshot first. Returns < 0 when the
 * snapshot could not be written (the previous one stays in place). */
static int refresh_publish(const ProvConfig *config, ProvStore *store, const ProvLocalAccounts *local,
                           const ProvSyncResult *res) {
        int64_t published = -1;
        int r;

        if (prov_store_state_get_int(store, "published_generation", &published) < 0)
                published = -1;
        if (!res->changed && published == (int64_t) res->generation)
                return 0;
        r = prov_sync_export(store, config, local);
        if (r < 0)
                return log_error_errno(r, "Failed to publish the snapshot after a refresh: %m");
        r = prov_store_state_set_int(store, "published_generation", (int64_t) res->generation);
        if (r < 0)
                log_warning_errno(r, "Failed to record the published generation: %m");
        return 0;
}

/* One refresh: fetch, apply as a delta, publish, answer, then enforce (after the answer: killing
 * a leaver's sessions may take kill_grace seconds, and the login waiting for us is refused by
 * the snapshot already). */
static void refresh_one(ProvRefresh *rf, Conn *c, const char *name, uint64_t deadline, RateSlot *slot) {
        const ProvConfig *config = prov_daemon_config(rf->daemon);
        _cleanup_(prov_scim_client_freep) ProvScimClient *client = NULL;
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *batch = NULL;
        ProvLocalAccounts *local = NULL;
        ProvStore *store = NULL;
        ProvSyncResult res = {};
        ProvScimStats stats = {};
        ProvUserRecord known = {};
        uint64_t now = prov_now(CLOCK_MONOTONIC), fetch_deadline;
        char line[128];
        int r;

        /* A quarter of the time left is kept for applying and publishing. */
        fetch_deadline = now + (deadline - now) * 3 / 4;

        r = prov_local_load_config(config, &local);
        if (r < 0) {
                log_warning_errno(r, "Refresh of '%s': cannot read the local accounts: %m", SAFE(name));
                answer(c->fd, "error local\n");
                return;
        }
        r = prov_store_open(prov_daemon_store_path(rf->daemon), &store);
        if (r < 0) {
                log_warning_errno(r, "Refresh of '%s': cannot open the store: %m", SAFE(name));
                answer(c->fd, "error store\n");
                goto finish;
        }
        /* An account we serve is asked for by its SCIM id: with strip_domain the login name is
         * not the userName, and the source may have renamed it. */
        r = prov_store_user_get_by_name(store, name, &known);
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Refresh of '%s': store lookup failed, asking by name: %m", SAFE(name));

        r = prov_scim_client_new(config, &client);
        if (r < 0) {
                log_warning_errno(r, "Refresh of '%s': cannot set up the SCIM client: %m", SAFE(name));
                answer(c->fd, "error client\n");
                goto finish;
        }
        r = prov_scim_fetch_user(client, name, known.scim_id, fetch_deadline, &batch, &stats);
        if (r < 0) {
                log_warning_errno(r, "Refresh of '%s' for pid %d (uid %u) failed after %" PRIu64 " requests: %m",
                                  SAFE(name), (int) c->cred.pid, (unsigned) c->cred.uid, stats.requests);
                (void) snprintf(line, sizeof(line), "error %s\n",
                                r == -ETIMEDOUT ? "timeout" : r == -EBUSY ? "source busy" : "source");
                answer(c->fd, line);
                goto finish;
        }
        if (batch->n_users == 0) {
                log_info("Refresh of '%s' for pid %d (uid %u): the source does not know this %s.", SAFE(name),
                         (int) c->cred.pid, (unsigned) c->cred.uid, known.scim_id ? "account" : "name");
                answer(c->fd, "ok unknown\n");
                slot->failed = false;
                goto finish;
        }
        r = prov_sync_apply(store, config, local, batch, &(ProvSyncOptions) { .delta = true }, &res);
        if (r < 0) {
                log_warning_errno(r, "Refresh of '%s': applying failed, nothing changed: %m (%s)", SAFE(name),
                                  prov_store_errmsg(store));
                answer(c->fd, "error apply\n");
                goto finish;
        }
        r = refresh_publish(config, store, local, &res);
        if (r < 0) {
                answer(c->fd, "error publish\n");
                goto finish;
        }
        answer(c->fd, "ok\n");
        slot->failed = false;
        log_info("Refresh of '%s' for pid %d (uid %u): %zu users, %zu groups; %zu joined, %zu updated, %zu suspended, "
                 "%zu reactivated; generation %" PRIu64 ".",
                 SAFE(name), (int) c->cred.pid, (unsigned) c->cred.uid, res.users_seen, res.groups_seen, res.joiners,
                 res.updated, res.suspended, res.reactivated, res.generation);
        if (res.n_transitions > 0 &&
            prov_enforce_transitions(config, store, res.transitions, res.n_transitions) < 0)
                log_warning("Some enforcement steps of a refresh failed; they are retried on the next sync.");
finish:
        prov_sync_result_done(&res);
        prov_user_record_done(&known);
        prov_store_close(store);
        prov_local_free(local);
}

/* Parses "refresh NAME DEADLINE" and answers it. */
static void handle_request(ProvRefresh *rf, Conn *c, char *req) {
        const ProvConfig *config = prov_daemon_config(rf->daemon);
        char *name, *dl, *end = NULL, *save = NULL;
        unsigned long long deadline;
        uint64_t now = prov_now(CLOCK_MONOTONIC);
        RateSlot *slot;
        bool failed;

        if (strncmp(req, "refresh ", 8) != 0) {
                answer(c->fd, "error bad request\n");
                return;
        }
        name = strtok_r(req + 8, " ", &save);
        dl = strtok_r(NULL, " ", &save);
        if (!name || !dl || strtok_r(NULL, " ", &save) || dl[0] < '0' || dl[0] > '9' ||
            strlen(name) >= sizeof(rf->rate[0].name) || !prov_valid_user_name(name)) {
                answer(c->fd, "error bad request\n");
                return;
        }
        errno = 0;
        deadline = strtoull(dl, &end, 10);
        if (errno != 0 || !end || *end != '\0') {
                answer(c->fd, "error bad request\n");
                return;
        }
        if (deadline <= now) {
                /* The client stopped waiting while the request sat in the backlog. */
                log_debug("Refresh of '%s': the client's deadline passed before its turn.", SAFE(name));
                return;
        }
        if (deadline > now + REFRESH_MAX_USEC)
                deadline = now + REFRESH_MAX_USEC;

        if (config->source_type != PROV_SOURCE_SCIM) {
                answer(c->fd, "unsupported\n");
                return;
        }
        /* Only privileged callers (the login services pam_provision runs in) make us ask the
         * directory: an unprivileged one could use the answers to list who the directory knows,
         * or the daemon to load the source. Their PAM stacks decide on the snapshot as it is. */
        if (c->cred.uid != 0) {
                log_debug("Refresh of '%s' asked by pid %d (uid %u): not privileged, denied.", SAFE(name),
                          (int) c->cred.pid, (unsigned) c->cred.uid);
                answer(c->fd, "denied\n");
                return;
        }
        slot = rate_allow(rf, name, now, &failed);
        if (!slot) {
                log_debug("Refresh of '%s': asked a moment ago (%s).", SAFE(name), failed ? "failed" : "done");
                answer(c->fd, failed ? "error failed a moment ago\n" : "ok cached\n");
                return;
        }
        if (!window_allow(rf, now)) {
                log_info("Refresh of '%s' for pid %d (uid %u) refused: too many refreshes.", SAFE(name),
                         (int) c->cred.pid, (unsigned) c->cred.uid);
                slot->when = 0; /* not asked after all */
                answer(c->fd, "busy\n");
                return;
        }
        refresh_one(rf, c, name, deadline, slot);
}

static int on_conn_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        conn_free(userdata);
        return 0;
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char *nl;
        ssize_t n;

        n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                conn_free(c);
                return 0;
        }
        c->len += (size_t) n;
        c->buf[c->len] = '\0';
        nl = memchr(c->buf, '\n', c->len);
        if (!nl) {
                if (c->len >= sizeof(c->buf) - 1) {
                        answer(fd, "error bad request\n");
                        conn_free(c);
                }
                return 0;
        }
        *nl = '\0';
        if (memchr(c->buf, '\0', (size_t) (nl - c->buf)))
                answer(fd, "error bad request\n");
        else
                handle_request(c->owner, c, c->buf);
        conn_free(c);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ProvRefresh *rf = userdata;
        sd_event *e = prov_daemon_event(rf->daemon);

        for (unsigned i = 0; i < CONNS_MAX; i++) {
                socklen_t len = sizeof(struct ucred);
                Conn *c;
                int cfd, r;

                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "Failed to accept a refresh connection: %m");
                        return 0;
                }
                c = calloc(1, sizeof(Conn));
                if (!c) {
                        close(cfd);
                        return 0;
                }
                c->owner = rf;
                c->fd = cfd;
                c->cred = (struct ucred) { .pid = -1, .uid = (uid_t) -1, .gid = (gid_t) -1 };
                (void) getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len);
                if (rf->n_conns[c->cred.uid == 0] >= CONNS_MAX) {
                        answer(cfd, "busy\n");
                        close(cfd);
                        free(c);
                        continue;
                }
                c->next = rf->conns;
                if (rf->conns)
                        rf->conns->prev = c;
                rf->conns = c;
                rf->n_conns[c->cred.uid == 0]++;
                r = sd_event_add_io(e, &c->io, cfd, EPOLLIN, on_conn_io, c);
                if (r >= 0)
                        r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, CONN_IDLE_USEC, 0,
                                                       on_conn_timer, c);
                if (r < 0) {
                        log_warning_errno(r, "Failed to watch a refresh connection: %m");
                        conn_free(c);
                }
        }
        return 0;
}

/* Whether something listens on path: a live daemon's socket is never taken over. */
static bool socket_alive(const struct sockaddr_un *sa, socklen_t salen) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive;

        if (fd < 0)
                return false;
        alive = connect(fd, (const struct sockaddr *) sa, salen) == 0;
        close(fd);
        return alive;
}

int prov_refresh_new(ProvDaemon *d, ProvRefresh **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const ProvConfig *config = prov_daemon_config(d);
        const char *path = config->refresh_socket;
        _cleanup_free_ char *dir = NULL;
        ProvRefresh *rf;
        struct stat st;
        socklen_t salen;
        char *slash;
        int r;

        *ret = NULL;
        if (!config->refresh_on_login) {
                log_debug("Refresh at sign-in is switched off (refresh_on_login = no).");
                return 0;
        }
        if (!path || !path[0])
                path = PROV_REFRESH_SOCKET;
        if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(EINVAL, "Refresh socket path '%s' is not an absolute path short enough: %m",
                                       SAFE(path));
        strcpy(sa.sun_path, path);
        salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

        dir = strdup(path);
        if (!dir)
                return log_oom();
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) >= 0)
                        (void) chmod(dir, 0755); /* whatever the umask (the unit's is 0077) */
                else if (errno != EEXIST)
                        return log_warning_errno(errno, "Failed to create %s for the refresh socket: %m", dir);
        }

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_warning_errno(EEXIST, "%s exists and is not a socket, not listening: %m", path);
                if (socket_alive(&sa, salen))
                        return log_warning_errno(EADDRINUSE, "Another process listens on %s, not listening: %m",
                                                 path);
                if (unlink(path) < 0 && errno != ENOENT)
                        return log_warning_errno(errno, "Failed to remove the stale socket %s: %m", path);
        }

        rf = calloc(1, sizeof(ProvRefresh));
        if (!rf)
                return log_oom();
        rf->daemon = d;
        rf->fd = -1;
        rf->path = strdup(path);
        if (!rf->path) {
                prov_refresh_free(rf);
                return log_oom();
        }
        rf->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (rf->fd < 0) {
                r = log_warning_errno(errno, "Failed to create the refresh socket: %m");
                goto fail;
        }
        if (bind(rf->fd, (struct sockaddr *) &sa, salen) < 0) {
                r = log_warning_errno(errno, "Failed to bind the refresh socket %s: %m", path);
                goto fail;
        }
        if (stat(path, &st) == 0) {
                rf->dev = st.st_dev;
                rf->ino = st.st_ino;
        }
        /* Any local process may ask (pam_provision runs inside sshd, login, su ...); what it can
         * do is bounded by the rate limits, and its credentials are logged. */
        if (chmod(path, 0666) < 0) {
                r = log_warning_errno(errno, "Failed to make %s accessible: %m", path);
                goto fail;
        }
        if (listen(rf->fd, CONNS_MAX) < 0) {
                r = log_warning_errno(errno, "Failed to listen on %s: %m", path);
                goto fail;
        }
        r = sd_event_add_io(prov_daemon_event(d), &rf->listener, rf->fd, EPOLLIN, on_accept, rf);
        if (r < 0) {
                log_warning_errno(r, "Failed to watch the refresh socket: %m");
                goto fail;
        }
        log_info("Listening for refresh requests on %s.", path);
        *ret = rf;
        return 0;
fail:
        prov_refresh_free(rf);
        return r;
}

ProvRefresh *prov_refresh_free(ProvRefresh *rf) {
        struct stat st;

        if (!rf)
                return NULL;
        while (rf->conns)
                conn_free(rf->conns);
        if (rf->listener) {
                (void) sd_event_source_set_enabled(rf->listener, SD_EVENT_OFF);
                sd_event_source_unref(rf->listener);
        }
        if (rf->fd >= 0) {
                /* Only our own socket: a successor may have bound the path meanwhile. */
                if (rf->ino != 0 && stat(rf->path, &st) == 0 && st.st_dev == rf->dev && st.st_ino == rf->ino)
                        (void) unlink(rf->path);
                close(rf->fd);
        }
        free(rf->path);
        free(rf);
        return NULL;
}
