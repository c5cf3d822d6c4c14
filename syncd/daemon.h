/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The running daemon, as the D-Bus interface and the main loop see it. Every action runs
 * synchronously in the daemon's single thread: a D-Bus call that asks for a sync gets its
 * answer when the sync's transaction has committed and the snapshot is published. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "prov-config.h"
#include "sync.h" /* ProvActionResult, prov_sync_run() */

typedef struct ProvDaemon ProvDaemon;

/* The daemon: loads the configuration, syncs at once and then every interval (a full
 * reconcile every full_interval), serves D-Bus, handles SIGHUP/SIGUSR1/SIGTERM. */
int prov_daemon_main(const char *config_path);

/* Runs a sync now (full = a complete scan with reconciliation; else a delta where the source
 * supports it) and reschedules the periodic one. */
int prov_daemon_sync(ProvDaemon *d, bool full, ProvActionResult *ret);
/* The local kill switch: blocked wins over the source until unblocked. Enforcement runs at once
 * on block. -ENOENT for a user the store does not know. */
int prov_daemon_block(ProvDaemon *d, const char *user, bool block, ProvActionResult *ret);
/* Applies the pending hold with this id (0 = the newest pending one). -ENOENT if none. */
int prov_daemon_approve(ProvDaemon *d, int64_t hold_id, ProvActionResult *ret);
/* Re-reads the configuration file; the old one stays if the new one is invalid (-EINVAL). */
int prov_daemon_reload(ProvDaemon *d);

const ProvConfig *prov_daemon_config(const ProvDaemon *d);
/* Path of the store, for read-only status queries (open it read-only yourself). */
const char *prov_daemon_store_path(const ProvDaemon *d);
sd_event *prov_daemon_event(const ProvDaemon *d);
/* Last result of a periodic or requested sync, for the Status properties. */
const ProvActionResult *prov_daemon_last_result(const ProvDaemon *d);
uint64_t prov_daemon_last_sync_usec(const ProvDaemon *d); /* CLOCK_REALTIME µs, 0 = never */

/* Implemented by the D-Bus interface (syncd/bus.c): attaches to the system bus, exports the
 * object and takes the well-known name. The daemon calls prov_bus_sync_done() after every
 * sync so that the interface can emit its signal and property change. */
typedef struct ProvBus ProvBus;
int prov_bus_new(ProvDaemon *d, ProvBus **ret);
ProvBus *prov_bus_free(ProvBus *b);
void prov_bus_sync_done(ProvBus *b, bool full, const ProvActionResult *result);
