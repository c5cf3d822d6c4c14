/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One sync: a complete scan of the directory (a batch of parsed SCIM resources) is mapped
 * onto POSIX accounts, compared with the store, applied in one transaction, and published
 * as a new snapshot. */

#include "arena.h"
#include "local.h"
#include "prov-config.h"
#include "prov-types.h"
#include "scim-parse.h"
#include "store.h"

/* One account whose state or groups changed; what enforcement and hooks act on. */
typedef struct ProvTransition {
        char *scim_id;
        char *name;
        uint32_t uid;
        ProvState old_state; /* _PROV_STATE_INVALID for a joiner */
        ProvState new_state;
        const char *event;   /* "joiner", "mover", "rename", "suspend", "deprovision", "reactivate", "block",
                                "unblock", "update" */
} ProvTransition;

/* What enforcement did for one transition (enforce.c), for a caller that reports it: the
 * hub's acks. Outcomes are "ok", "failed", "skipped", or NULL for a step that did not run. */
typedef struct ProvEnforced {
        bool leaver;          /* the leaver's steps ran: a transition to a refused state */
        unsigned sessions;    /* logind sessions the uid had when TerminateUser was called */
        unsigned processes;   /* processes the kill step signalled */
        const char *logind, *kill, *nscd;
        const char *hooks;    /* all hooks: "failed" if one failed, else "ok" if one ran */
} ProvEnforced;

typedef struct ProvSyncResult {
        size_t users_seen, groups_seen;
        size_t joiners, updated, renamed, movers, suspended, deprovisioned, reactivated, purged;
        size_t rejected;
        size_t groups_added, groups_removed, groups_updated;
        bool changed;              /* anything that the snapshot serves changed */
        bool held;                 /* deprovisions held back by the mass-deprovision guard */
        size_t held_deprovisions;
        uint64_t generation;       /* of the store after the sync */
        ProvTransition *transitions;
        size_t n_transitions;
        ProvArena strings;         /* the transitions' strings */
} ProvSyncResult;

void prov_sync_result_done(ProvSyncResult *r);

typedef struct ProvSyncOptions {
        /* The batch holds only what changed since the last sync: nobody is deprovisioned and
         * no group removed on the strength of it. */
        bool delta;
        /* For a full scan: asks the source whether an account missing from the scan is really
         * gone (1), still there (0), or unknown (<0). Only 1 deprovisions. NULL: trust the scan. */
        int (*confirm_gone)(const char *scim_id, void *userdata);
        /* The same for a stored group missing from a full scan: only 1 removes it. */
        int (*confirm_group_gone)(const char *scim_id, void *userdata);
        void *userdata;
        /* Delta only: SCIM ids the source says were deleted (the hub's feed). A stored account
         * among them is deprovisioned exactly as one gone from a full scan (the same steps,
         * audit and transitions), a stored group removed as one gone from a full scan; ids the
         * store does not know are ignored. */
        const char *const *gone_users;
        size_t n_gone_users;
        const char *const *gone_groups;
        size_t n_gone_groups;
        /* When not NULL: the store state state_key is set to state_value in the same
         * transaction as the batch (the hub's seq: applied and remembered together, or not at
         * all). */
        const char *state_key;
        int64_t state_value;
        /* When not NULL: told, after enforcement, what was done for each leaver of the sync
         * (sync_apply_publish()); the hub source reports it in its acks. */
        void (*enforced)(const ProvTransition *t, const ProvEnforced *e, void *userdata);
        void *enforced_userdata;
} ProvSyncOptions;

/* Applies a scan of the directory in one transaction. Rejected records become audit events;
 * nothing is written when the function fails. The caller holds no transaction. */
int prov_sync_apply(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                    const ProvScimBatch *batch, const ProvSyncOptions *opts, ProvSyncResult *ret);
/* The same for a complete scan whose absences need no confirmation (a directory file). */
int prov_sync_apply_full(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                         const ProvScimBatch *batch, ProvSyncResult *ret);

/* The local kill switch: sets or clears `blocked` on the account of that login name.
 * -ENOENT if the store does not know it. Transitions go to ret for enforcement. */
int prov_sync_set_blocked(ProvStore *store, const char *name, bool block, ProvSyncResult *ret);

/* Applies the deprovisions of a held sync (hold_id 0: the newest pending hold): the admin's
 * approval. -ENOENT if there is no such pending hold. */
int prov_sync_approve_hold(ProvStore *store, int64_t hold_id, ProvSyncResult *ret);

/* Writes the snapshot from the store (what NSS and PAM serve), then the SSH keys file beside
 * it. < 0: the snapshot was not written and the previous one stays in place; 1: the snapshot
 * is published but the keys file is not (no keys are served until the next export). */
int prov_sync_export(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local);

/* Records the outcome of a sync attempt in the store's sync state (last attempt, last
 * success, last error). error == 0 means success. */
int prov_sync_record_attempt(ProvStore *store, int error, const char *message);

/* Records that the directory was confirmed now: a successful sync that the guard did not
 * hold. Its time is the snapshot's last-sync time, what PAM's max_staleness checks, so that a
 * directory that keeps answering "nobody" looks as stale as one that does not answer. */
int prov_sync_record_confirmed(ProvStore *store);

/* Reads a file of bounded size into memory (NUL-terminated). -EFBIG past max bytes. */
int prov_read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len);

/* What a sync, a block or an approval ended with; summary is a one-line human text. */
typedef struct ProvActionResult {
        int error;         /* 0 or a negative errno */
        bool held;         /* deprovisions held by the guard */
        uint64_t generation;
        char summary[512];
} ProvActionResult;

/* The state a sync or an action works on: the host's local accounts and the store. */
typedef struct ProvSyncState {
        ProvLocalAccounts *local;
        ProvStore *store;
} ProvSyncState;

/* Creates the state directory, reads the local accounts and opens the store. Logs. */
int prov_sync_state_open(const ProvConfig *config, const char *store_path, ProvSyncState *ret);
/* Closes both and clears them; may run twice. */
void prov_sync_state_done(ProvSyncState *s);

/* Everything after a committed change: the snapshot first (PAM refuses leavers from then on),
 * then enforcement. Returns < 0 only when the snapshot could not be written. ret_enforced (or
 * NULL) has res->n_transitions entries: what enforcement did for each (all zero when the
 * snapshot failed and nothing was enforced). */
int prov_sync_publish(const ProvConfig *config, ProvStore *store, const ProvLocalAccounts *local,
                      const ProvSyncResult *res, ProvEnforced *ret_enforced);

/* One sync from the hub ([source] type = hub, sync-hub.c): with snapshot, or when the store
 * holds no hub seq yet, GET /v1/snapshot applied as a full scan; else one GET /v1/feed?since=SEQ
 * that the hub may hold for wait_sec (the request times out 15 s later), its events applied as a
 * delta with their deletions; a 410 reads the snapshot instead. The hub's seq is stored in the
 * apply's transaction: a failed or refused answer applies nothing and keeps the old seq. URLs
 * are tried in turn on connection failures and 5xx. When interrupted is not NULL, it is asked
 * about once a second during a request and a true answer ends the sync with -ECANCELED,
 * nothing applied (the daemon's event loop has work). -EACCES: the hub refused the token;
 * -EBUSY: 429/503, with its Retry-After in *ret_retry_after when non-NULL. */
int prov_sync_run_hub(const ProvConfig *config, const char *store_path, bool snapshot, unsigned wait_sec,
                      bool (*interrupted)(void *userdata), void *userdata, ProvActionResult *ret,
                      uint64_t *ret_retry_after);

/* One sync, in the daemon or for provision-syncd --once: fetch (full scan, or delta since the
 * last success), apply in one transaction, publish the snapshot, enforce. A 429/503 answer's
 * Retry-After (CLOCK_MONOTONIC µs) goes to ret_retry_after when non-NULL. */
int prov_sync_run(const ProvConfig *config, const char *store_path, bool full, ProvActionResult *ret,
                  uint64_t *ret_retry_after);
