/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon.h"
#include "host-config.h"
#include "prov-snapshot.h"
#include "prov-time.h"
#include "log.h"
#include "refresh.h"
#include "sync.h"

/* Retry-After is honoured up to this long; a server asking for more is treated as down. */
#define RETRY_AFTER_MAX_USEC (3600ULL * USEC_PER_SEC)
/* The hub's feed after failures: backoff up to this long (its feed_wait is not an interval). */
#define HUB_BACKOFF_MAX_USEC (60ULL * USEC_PER_SEC)
/* After a feed request gave way to the event loop: ask again this soon. */
#define HUB_YIELD_USEC (50ULL * 1000)

struct ProvDaemon {
        char *config_path;
        ProvConfig *config;
        char *store_path;
        sd_event *event;
        sd_event_source *timer;
        ProvBus *bus;
        ProvRefresh *refresh;       /* refresh requests of pam_provision; NULL = none */
        ProvActionResult last;
        uint64_t last_sync_usec;    /* CLOCK_REALTIME of the last successful sync */
        uint64_t last_full_mono;    /* CLOCK_MONOTONIC of the last successful full sync; 0 = none yet */
        unsigned failures;          /* consecutive failed syncs, for the backoff */
        bool delta_unsupported;     /* the source cannot filter by meta.lastModified */
        bool hold_pending;          /* the guard holds deprovisions that wait for Approve */
        bool ready;
};

const ProvConfig *prov_daemon_config(const ProvDaemon *d) {
        return d->config;
}

const char *prov_daemon_store_path(const ProvDaemon *d) {
        return d->store_path;
}

sd_event *prov_daemon_event(const ProvDaemon *d) {
        return d->event;
}

const ProvActionResult *prov_daemon_last_result(const ProvDaemon *d) {
        return &d->last;
}

uint64_t prov_daemon_last_sync_usec(const ProvDaemon *d) {
        return d->last_sync_usec;
}

/* --- the daemon ---------------------------------------------------------------------------- */

static int schedule(ProvDaemon *d, uint64_t delay_usec);

static void notify_status(ProvDaemon *d) {
        sd_notifyf(false, "%sSTATUS=%s%s", d->ready ? "" : "READY=1\n",
                   d->last.error < 0 ? "Last sync failed: " : "Last sync: ", d->last.summary);
        d->ready = true;
}

/* Waits after a failure: 1 s, 2 s, 4 s ... up to the interval, with up to a second of jitter so
 * that a fleet of hosts does not hit the identity provider in step. */
static uint64_t backoff_usec(const ProvDaemon *d) {
        uint64_t cap = d->config->source_type == PROV_SOURCE_HUB ? HUB_BACKOFF_MAX_USEC
                                                                  : (uint64_t) d->config->interval_sec * USEC_PER_SEC;
        uint64_t base, jitter = 0;
        unsigned shift = d->failures > 20 ? 20 : d->failures;

        base = (USEC_PER_SEC << shift) / 2;
        if (getrandom(&jitter, sizeof(jitter), GRND_NONBLOCK) < 0)
                jitter = 0;
        base += jitter % USEC_PER_SEC;
        return base < cap ? base : cap;
}

/* Whether the event loop has something to dispatch (a signal, a D-Bus call, a refresh request):
 * a held feed request gives way to it (see hub_sync()). */
static bool loop_has_work(void *userdata) {
        ProvDaemon *d = userdata;
        struct pollfd p = { .fd = sd_event_get_fd(d->event), .events = POLLIN };

        return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/* The hub's feed is one request at a time that the hub holds up to feed_wait seconds. It runs
 * in this thread, inside the timer's dispatch, like every other sync: the store, the snapshot
 * and enforcement stay single-threaded. What keeps the daemon responsive meanwhile is that the
 * request is given up as soon as the event loop has work (curl's progress callback polls the
 * loop's fd about once a second): SIGTERM stops the daemon within a second or so, a D-Bus call
 * or SIGHUP is served, and the next request (nothing was applied) is sent when the loop is idle
 * again: the timer runs at idle priority. Only the timer's polls wait: a sync someone asks for
 * (D-Bus, SIGUSR1) polls with wait 0. */
static int hub_sync(ProvDaemon *d, bool snapshot, bool hold, uint64_t *ret_retry_after) {
        return prov_sync_run_hub(d->config, d->store_path, snapshot, hold ? d->config->feed_wait_sec : 0,
                                 hold ? loop_has_work : NULL, d, &d->last, ret_retry_after);
}

/* When to send the next feed request after an answer. The hub holds it itself: at once, unless
 * feed_wait = 0 (then we poll every [sync] interval), or the answer came back within a second
 * with nothing new though we asked it to wait (a hub that does not hold requests must not be
 * asked in a busy loop). */
static uint64_t hub_next_delay(const ProvDaemon *d, bool hold, uint64_t started, uint64_t previous_generation) {
        if (!hold)
                return 0;
        if (d->config->feed_wait_sec == 0)
                return (uint64_t) d->config->interval_sec * USEC_PER_SEC;
        if (d->last.generation == previous_generation && prov_now(CLOCK_MONOTONIC) - started < USEC_PER_SEC)
                return USEC_PER_SEC;
        return 0;
}

/* One sync; hold: the timer's, which lets the hub hold its feed request. */
static int daemon_sync_full(ProvDaemon *d, bool full, bool hold, ProvActionResult *ret) {
        uint64_t mono = prov_now(CLOCK_MONOTONIC), retry_after = 0, delay, previous_generation = d->last.generation;
        bool hub = d->config->source_type == PROV_SOURCE_HUB;
        int r;

        /* The hub's feed misses nothing: no periodic full scan, a snapshot only when asked. */
        if (!hub && !full && (d->last_full_mono == 0 || d->delta_unsupported ||
                              mono - d->last_full_mono >= (uint64_t) d->config->full_interval_sec * USEC_PER_SEC))
                full = true;

        if (hub) {
                ProvActionResult previous = d->last;

                r = hub_sync(d, full, hold, &retry_after);
                if (r == -ECANCELED) {
                        /* Given way to the event loop: not a failure, nothing to report. */
                        d->last = previous;
                        if (ret)
                                *ret = d->last;
                        (void) schedule(d, HUB_YIELD_USEC);
                        return 0;
                }
        } else
                r = prov_sync_run(d->config, d->store_path, full, &d->last, &retry_after);
        if (r == -EOPNOTSUPP && !full && !hub) {
                log_notice("The source cannot filter by meta.lastModified: every sync is a full scan from now on.");
                d->delta_unsupported = true;
                full = true;
                r = prov_sync_run(d->config, d->store_path, true, &d->last, &retry_after);
        }
        if (r >= 0) {
                d->failures = 0;
                d->last_sync_usec = prov_now(CLOCK_REALTIME);
                if (full)
                        d->last_full_mono = mono;
                delay = hub ? hub_next_delay(d, hold, mono, previous_generation)
                            : (uint64_t) d->config->interval_sec * USEC_PER_SEC;
        } else {
                d->failures++;
                delay = backoff_usec(d);
                if (retry_after > 0) {
                        uint64_t now = prov_now(CLOCK_MONOTONIC);
                        uint64_t wait = retry_after > now ? retry_after - now : 0;
                        if (wait > RETRY_AFTER_MAX_USEC)
                                wait = RETRY_AFTER_MAX_USEC;
                        if (wait > delay)
                                delay = wait;
                        log_info("The source asked us to retry in %" PRIu64 " s.", (uint64_t) (wait / USEC_PER_SEC));
                }
        }
        /* A hold stays pending until it is approved or a full scan within the limit supersedes
         * it; a delta scan (which never deprovisions) or a failed one leaves it as it is. What we
         * report as held is whether deprovisions wait for approval after this sync, so that the
         * HeldDeprovisions property does not turn false at the next delta while a hold waits. */
        if (r >= 0 && d->last.held)
                d->hold_pending = true;
        else if (r >= 0 && full)
                d->hold_pending = false;
        d->last.held = d->hold_pending;
        notify_status(d);
        if (d->bus)
                prov_bus_sync_done(d->bus, full, &d->last);
        if (ret)
                *ret = d->last;
        (void) schedule(d, delay);
        return r;
}

static int daemon_sync(ProvDaemon *d, bool full, ProvActionResult *ret) {
        return daemon_sync_full(d, full, false, ret);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        daemon_sync_full(userdata, false, true, NULL);
        return 0;
}

static int schedule(ProvDaemon *d, uint64_t delay_usec) {
        int r;

        if (!d->timer) {
                r = sd_event_add_time_relative(d->event, &d->timer, CLOCK_MONOTONIC, delay_usec, 0, on_timer, d);
                /* The hub's held request runs when nothing else waits (see hub_sync()). */
                if (r >= 0 && d->config->source_type == PROV_SOURCE_HUB)
                        r = sd_event_source_set_priority(d->timer, SD_EVENT_PRIORITY_IDLE);
                return r;
        }
        r = sd_event_source_set_priority(d->timer, d->config->source_type == PROV_SOURCE_HUB ? SD_EVENT_PRIORITY_IDLE
                                                                                             : SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_event_source_set_time_relative(d->timer, delay_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
        return r;
}

int prov_daemon_sync(ProvDaemon *d, bool full, ProvActionResult *ret) {
        return daemon_sync(d, full, ret);
}

int prov_daemon_reload(ProvDaemon *d) {
        ProvConfig *c = NULL;
        char *store_path;
        int r;

        sd_notify(false, "RELOADING=1");
        r = prov_host_config_load(d->config_path, true, &c);
        if (r >= 0) {
                store_path = prov_config_store_path(c);
                if (!store_path) {
                        prov_config_free(c);
                        r = log_oom();
                } else {
                        prov_config_free(d->config);
                        free(d->store_path);
                        d->config = c;
                        d->store_path = store_path;
                        d->delta_unsupported = false;
                        log_info("Configuration reloaded.");
                }
        } else
                log_warning("Keeping the previous configuration.");
        sd_notify(false, "READY=1");
        return r < 0 ? -EINVAL : 0;
}

/* Block, unblock and approve: one transaction, then the same publish and enforcement as a
 * sync. */
static int daemon_action(ProvDaemon *d, const char *what, int (*fn)(ProvStore *, const void *, ProvSyncResult *),
                         const void *arg, ProvActionResult *ret) {
        _cleanup_(prov_sync_state_done) ProvSyncState st = {};
        ProvSyncResult res = {};
        int r;

        *ret = (ProvActionResult) {};
        r = prov_sync_state_open(d->config, d->store_path, &st);
        if (r < 0)
                goto finish;
        r = fn(st.store, arg, &res);
        if (r < 0)
                goto finish;
        r = prov_sync_publish(d->config, st.store, st.local, &res, NULL);
        if (r < 0)
                goto finish;
        ret->generation = res.generation;
        /* The status properties follow the store: the action published a new generation. */
        d->last.generation = res.generation;
        snprintf(ret->summary, sizeof(ret->summary), "%s: %zu accounts changed", what, res.n_transitions);
        log_info("%s", ret->summary);
finish:
        if (r < 0) {
                ret->error = r;
                snprintf(ret->summary, sizeof(ret->summary), "%s failed: %s", what, strerror(-r));
        }
        prov_sync_result_done(&res);
        return r;
}

typedef struct BlockRequest {
        const char *user;
        bool block;
} BlockRequest;

static int do_block(ProvStore *store, const void *arg, ProvSyncResult *res) {
        const BlockRequest *b = arg;
        return prov_sync_set_blocked(store, b->user, b->block, res);
}

int prov_daemon_block(ProvDaemon *d, const char *user, bool block, ProvActionResult *ret) {
        return daemon_action(d, block ? "block" : "unblock", do_block, &(BlockRequest) { user, block }, ret);
}

static int do_approve(ProvStore *store, const void *arg, ProvSyncResult *res) {
        return prov_sync_approve_hold(store, *(const int64_t *) arg, res);
}

int prov_daemon_approve(ProvDaemon *d, int64_t hold_id, ProvActionResult *ret) {
        int r;

        r = daemon_action(d, "approve", do_approve, &hold_id, ret);
        if (r >= 0) {
                /* Only the newest pending hold can be approved: none waits any more. */
                d->hold_pending = false;
                d->last.held = false;
        }
        return r;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        ProvDaemon *d = userdata;

        switch (si->ssi_signo) {
        case SIGHUP:
                if (prov_daemon_reload(d) >= 0)
                        daemon_sync(d, true, NULL);
                break;
        case SIGUSR1:
                log_info("SIGUSR1: full sync now.");
                daemon_sync(d, true, NULL);
                break;
        default:
                log_info("Received %s, stopping.", strsignal((int) si->ssi_signo));
                sd_notify(false, "STOPPING=1");
                sd_event_exit(sd_event_source_get_event(s), 0);
        }
        return 0;
}

/* At start, before the first sync: the published snapshot is one this build cannot open (none,
 * another format version after a package upgrade, a corrupt file) while the store holds a
 * completed sync. Then the store is published as it is, so that NSS and PAM serve the directory
 * users even if the source does not answer the first sync. Nothing in the store changes: no
 * transitions, so only the enforcement steps that wait for a retry run, as after every publish.
 * The snapshot keeps the store's last-sync time: PAM's max_staleness sees how old it is. */
static void daemon_republish(ProvDaemon *d) {
        _cleanup_(prov_sync_state_done) ProvSyncState st = {};
        _cleanup_(prov_snapshot_closep) ProvSnapshot *snap = NULL;
        _cleanup_free_ char *path = NULL;
        ProvSyncResult res = { .changed = true };
        int64_t last = 0, gen = 0;
        struct stat sst;
        int r, reason;

        path = prov_config_snapshot_path(d->config);
        if (!path) {
                log_oom();
                return;
        }
        reason = prov_snapshot_open(path, &snap);
        if (reason >= 0)
                return;
        /* No store: never synced; opening it would create one. */
        if (stat(d->store_path, &sst) < 0)
                return;
        r = prov_sync_state_open(d->config, d->store_path, &st);
        if (r < 0)
                goto fail;
        if (prov_store_state_get_int(st.store, "last_success_usec", &last) < 0 || last <= 0)
                return;
        r = prov_store_state_get_int(st.store, "generation", &gen);
        if (r < 0 && r != -ENOENT)
                goto fail;
        res.generation = (uint64_t) gen;
        log_notice("The snapshot %s cannot be read (%s): publishing the store's generation %" PRIu64
                   " before the first sync.", path, reason == -ENOENT ? "missing" :
                   reason == -EBADMSG ? "another format version, or corrupt" : strerror(-reason),
                   res.generation);
        r = prov_sync_publish(d->config, st.store, st.local, &res, NULL);
        if (r >= 0)
                return;
fail:
        log_warning_errno(r, "Could not publish the store before the first sync, syncing anyway: %m");
}

static ProvDaemon *daemon_free(ProvDaemon *d) {
        if (!d)
                return NULL;
        prov_refresh_free(d->refresh);
        prov_bus_free(d->bus);
        sd_event_source_unref(d->timer);
        sd_event_unref(d->event);
        prov_config_free(d->config);
        free(d->store_path);
        free(d->config_path);
        free(d);
        return NULL;
}

int prov_daemon_main(const char *config_path) {
        ProvDaemon *d = calloc(1, sizeof(*d));
        sigset_t mask;
        int r;

        if (!d)
                return log_oom();
        d->config_path = strdup(config_path);
        if (!d->config_path) {
                daemon_free(d);
                return log_oom();
        }
        r = prov_host_config_load(config_path, true, &d->config);
        if (r < 0) {
                daemon_free(d);
                return r;
        }
        d->store_path = prov_config_store_path(d->config);
        if (!d->store_path) {
                daemon_free(d);
                return log_oom();
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = log_error_errno(errno, "Failed to block signals: %m");
                goto finish;
        }

        r = sd_event_default(&d->event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate the event loop: %m");
                goto finish;
        }
        (void) sd_event_set_watchdog(d->event, true);
        for (int sig = SIGHUP; sig < _NSIG; sig++) {
                if (!sigismember(&mask, sig))
                        continue;
                r = sd_event_add_signal(d->event, NULL, sig, on_signal, d);
                if (r < 0) {
                        log_error_errno(r, "Failed to watch signal %d: %m", sig);
                        goto finish;
                }
        }

        /* The control interface is optional: without a system bus (a container without D-Bus,
         * a test) the daemon still syncs. */
        r = prov_bus_new(d, &d->bus);
        if (r < 0)
                log_warning_errno(r, "D-Bus control interface not available, continuing without it: %m");

        /* Optional too: without it pam_provision decides on the snapshot as it is. */
        (void) prov_refresh_new(d, &d->refresh);

        /* The first sync runs before READY=1, so that a unit ordered after ours finds a
         * published snapshot. The hub's follows on from the seq the store holds (a snapshot
         * when it holds none). Before it, a snapshot this build cannot read is replaced by the
         * store's: an upgrade that changed the format must not wait for the source. */
        daemon_republish(d);
        daemon_sync(d, d->config->source_type != PROV_SOURCE_HUB, NULL);
        r = sd_event_loop(d->event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        daemon_free(d);
        return r;
}
