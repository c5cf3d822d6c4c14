/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin's actions on the store, each one transaction that bumps the snapshot generation and
 * returns its transitions for the same publish and enforcement as a sync: block and unblock of
 * one account, the approval of a sync held by the mass-deprovision guard. */
#include <inttypes.h>
#include <stdio.h>

#include "log.h"
#include "sync-internal.h"

/* Runs fn in one transaction with a fresh result and a SyncRun for transitions. */
static int in_transaction(ProvStore *store, int (*fn)(SyncRun *run, const void *arg), const void *arg,
                          ProvSyncResult *ret) {
        ProvSyncResult result = {};
        SyncRun run = { .store = store, .now = prov_now_usec(), .result = &result };
        int64_t gen = 0;
        int r;

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = fn(&run, arg);
        if (r >= 0) {
                r = prov_store_state_get_int(store, "generation", &gen);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0) {
                result.changed = true;
                result.generation = (uint64_t) gen + 1;
                r = prov_store_state_set_int(store, "generation", gen + 1);
        }
        return sync_transaction_end(store, r, &result, ret);
}

typedef struct BlockArg {
        const char *name;
        bool block;
} BlockArg;

static int do_set_blocked(SyncRun *run, const void *p) {
        const BlockArg *a = p;
        ProvUserRecord u = {};
        ProvState old;
        int r;

        r = prov_store_user_get_by_name(run->store, a->name, &u);
        if (r < 0)
                return r;
        old = u.state;
        if (u.blocked == a->block) {
                prov_user_record_done(&u);
                return 0;
        }
        u.blocked = a->block;
        if (a->block && u.state != PROV_STATE_DEPROVISIONED)
                u.state = PROV_STATE_BLOCKED;
        else if (!a->block && u.state == PROV_STATE_BLOCKED)
                u.state = u.source_active ? PROV_STATE_ACTIVE : PROV_STATE_SUSPENDED;
        u.updated_usec = run->now;
        if (u.state != old)
                u.state_changed_usec = run->now;
        r = prov_store_user_put(run->store, &u);
        if (r >= 0)
                r = prov_store_audit_add(run->store, a->block ? "block" : "unblock", u.name, u.scim_id, u.uid, "store",
                                         "ok", prov_state_to_string(u.state));
        if (r >= 0)
                r = sync_add_transition(run, u.scim_id, u.name, u.uid, old, u.state, a->block ? "block" : "unblock");
        if (r >= 0)
                log_user(LOG_NOTICE, u.name, u.uid, a->block ? "block" : "unblock", "User %s %s (now %s)", u.name,
                         a->block ? "blocked" : "unblocked", prov_state_to_string(u.state));
        prov_user_record_done(&u);
        return r;
}

int prov_sync_set_blocked(ProvStore *store, const char *name, bool block, ProvSyncResult *ret) {
        return in_transaction(store, do_set_blocked, &(BlockArg) { name, block }, ret);
}

static int do_approve(SyncRun *run, const void *p) {
        int64_t id = *(const int64_t *) p, dep = 0, total = 0;
        char **ids = NULL;
        size_t n = 0;
        char detail[64];
        int r;

        /* Only the newest pending hold can be approved: older ones were superseded by a
         * later scan, whose view of the directory is the one that counts. */
        int64_t pending = 0;
        r = prov_store_hold_pending(run->store, &pending, &dep, &total);
        if (r < 0)
                return r;
        if (id != 0 && id != pending)
                return -ENOENT;
        id = pending;
        r = prov_store_hold_scim_ids(run->store, id, &ids, &n);
        if (r < 0)
                return r;
        snprintf(detail, sizeof(detail), "approved hold %" PRIi64, id);
        for (size_t i = 0; i < n && r >= 0; i++) {
                ProvUserRecord u = {};
                ProvState old;

                r = prov_store_user_get(run->store, ids[i], &u);
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                old = u.state;
                if (old != PROV_STATE_DEPROVISIONED) {
                        u.state = PROV_STATE_DEPROVISIONED;
                        u.updated_usec = u.state_changed_usec = run->now;
                        r = prov_store_user_put(run->store, &u);
                        if (r >= 0)
                                r = prov_store_audit_add(run->store, "deprovision", u.name, u.scim_id, u.uid, "store",
                                                         "ok", detail);
                        if (r >= 0)
                                r = sync_add_transition(run, u.scim_id, u.name, u.uid, old, u.state, "deprovision");
                        run->result->deprovisioned++;
                }
                prov_user_record_done(&u);
        }
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        if (r >= 0)
                r = prov_store_hold_set_status(run->store, id, "approved");
        if (r >= 0)
                r = prov_store_audit_add(run->store, "approve", NULL, NULL, -1, "guard", "ok", detail);
        return r;
}

int prov_sync_approve_hold(ProvStore *store, int64_t hold_id, ProvSyncResult *ret) {
        return in_transaction(store, do_approve, &hold_id, ret);
}
