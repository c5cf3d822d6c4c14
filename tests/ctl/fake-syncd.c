/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for provision-syncd's daemon object (syncd/daemon.h) with canned behaviour, so that
 * syncd/bus.c and provisionctl are tested on their own: it serves org.provision.Syncd1 through
 * the real bus code on $DBUS_SYSTEM_BUS_ADDRESS and acts on a real store, but a "sync" only
 * records an attempt and bumps the generation instead of fetching a directory.
 *
 *   fake-syncd CONFIG CALLS_FILE
 *
 * Every daemon call is appended to CALLS_FILE as one line ("sync full=1", "block ada",
 * "unblock ada", "approve 0", "reload"). A sync fails with -EIO while the file CALLS_FILE.fail
 * exists. SIGTERM or SIGINT stop it with exit 0. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon.h"
#include "prov-config.h"
#include "store.h"
#include "sync.h"

struct ProvDaemon {
        const char *config_path;
        const char *calls_path;
        ProvConfig *config;
        char *store_path;
        ProvStore *store;
        sd_event *event;
        ProvBus *bus;
        ProvActionResult last;
        uint64_t last_sync_usec;
};

static void record_call(ProvDaemon *d, const char *fmt, ...) _printf_(2, 3);
static void record_call(ProvDaemon *d, const char *fmt, ...) {
        FILE *f = fopen(d->calls_path, "ae");
        va_list ap;

        if (!f)
                return;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

static bool fail_requested(ProvDaemon *d) {
        char path[4096];

        snprintf(path, sizeof(path), "%s.fail", d->calls_path);
        return access(path, F_OK) == 0;
}

int prov_daemon_sync(ProvDaemon *d, bool full, ProvActionResult *ret) {
        ProvActionResult res = {};
        int64_t gen = 0, hold = 0, n = 0, total = 0;
        int r;

        record_call(d, "sync full=%d", full);
        if (fail_requested(d)) {
                res.error = -EIO;
                snprintf(res.summary, sizeof(res.summary), "fetching the directory failed");
                (void) prov_sync_record_attempt(d->store, res.error, res.summary);
        } else {
                (void) prov_store_state_get_int(d->store, "generation", &gen);
                r = prov_store_state_set_int(d->store, "generation", gen + 1);
                if (r < 0)
                        return r;
                res.generation = (uint64_t) gen + 1;
                res.held = prov_store_hold_pending(d->store, &hold, &n, &total) >= 0;
                snprintf(res.summary, sizeof(res.summary), "fake %s sync%s", full ? "full" : "delta",
                         res.held ? "; deprovisions HELD by the guard" : "");
                (void) prov_sync_record_attempt(d->store, 0, res.summary);
        }
        d->last = res;
        d->last_sync_usec = (uint64_t) prov_now_usec();
        prov_bus_sync_done(d->bus, full, &d->last);
        *ret = res;
        return res.error;
}

int prov_daemon_block(ProvDaemon *d, const char *user, bool block, ProvActionResult *ret) {
        ProvActionResult res = {};
        ProvUserRecord u = {};
        int r;

        record_call(d, "%s %s", block ? "block" : "unblock", user);
        r = prov_store_user_get_by_name(d->store, user, &u);
        if (r < 0)
                return r;
        u.blocked = block;
        u.state = block ? PROV_STATE_BLOCKED : u.source_active ? PROV_STATE_ACTIVE : PROV_STATE_SUSPENDED;
        r = prov_store_user_put(d->store, &u);
        if (r >= 0)
                r = prov_store_audit_add(d->store, block ? "block" : "unblock", u.name, u.scim_id, u.uid, NULL,
                                         "ok", "fake daemon");
        prov_user_record_done(&u);
        if (r < 0)
                return r;
        snprintf(res.summary, sizeof(res.summary), "%s %s", block ? "blocked" : "unblocked", user);
        *ret = res;
        return 0;
}

int prov_daemon_approve(ProvDaemon *d, int64_t hold_id, ProvActionResult *ret) {
        ProvActionResult res = {};
        int64_t id, n, total;
        int r;

        record_call(d, "approve %" PRIi64, hold_id);
        r = prov_store_hold_pending(d->store, &id, &n, &total);
        if (r < 0)
                return r;
        if (hold_id != 0 && hold_id != id)
                return -ENOENT;
        r = prov_store_hold_set_status(d->store, id, "approved");
        if (r < 0)
                return r;
        snprintf(res.summary, sizeof(res.summary), "approved hold %" PRIi64 ": %" PRIi64 " deprovisioned", id, n);
        d->last.held = false;
        *ret = res;
        return 0;
}

int prov_daemon_reload(ProvDaemon *d) {
        ProvConfig *c = NULL;
        int r;

        record_call(d, "reload");
        r = prov_config_load(d->config_path, &c, NULL);
        if (r < 0)
                return -EINVAL;
        prov_config_free(d->config);
        d->config = c;
        return 0;
}

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

int main(int argc, char *argv[]) {
        ProvDaemon d = {};
        sigset_t mask;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s CONFIG CALLS_FILE\n", argv[0]);
                return 2;
        }
        d.config_path = argv[1];
        d.calls_path = argv[2];

        r = prov_config_load(d.config_path, &d.config, NULL);
        if (r < 0) {
                fprintf(stderr, "fake-syncd: config %s: %s\n", d.config_path, strerror(-r));
                return 1;
        }
        d.store_path = prov_config_store_path(d.config);
        if (!d.store_path)
                return 1;
        r = prov_store_open(d.store_path, &d.store);
        if (r < 0) {
                fprintf(stderr, "fake-syncd: store %s: %s\n", d.store_path, strerror(-r));
                return 1;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_default(&d.event);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGINT, NULL, NULL);
        if (r < 0) {
                fprintf(stderr, "fake-syncd: event loop: %s\n", strerror(-r));
                return 1;
        }

        r = prov_bus_new(&d, &d.bus);
        if (r < 0) {
                fprintf(stderr, "fake-syncd: bus: %s\n", strerror(-r));
                return 1;
        }

        r = sd_event_loop(d.event);

        d.bus = prov_bus_free(d.bus);
        d.event = sd_event_unref(d.event);
        prov_store_close(d.store);
        free(d.store_path);
        prov_config_free(d.config);
        return r < 0 ? 1 : 0;
}
