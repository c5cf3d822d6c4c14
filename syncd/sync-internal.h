/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to the sync (syncd/sync*.c): the run of one batch as map (sync-map.c) and apply
 * (sync-apply.c) share it, and the name rule that the export (sync-export.c) checks again.
 * sync.c holds the run's lookups and runs the steps in order. */

#include "idhash.h"
#include "sync.h"

#define USEC_PER_DAY (86400LL * 1000000LL)

/* A position in users[], groups[] or the stored groups, by SCIM id or name. */
typedef struct IdIndex {
        const char *id;
        size_t pos;
} IdIndex;

/* What the sync needs of the stored account of a directory user. The store is never loaded
 * whole: these facts come from one ordered pass over it (full scans) or point queries
 * (deltas). */
typedef struct OldUser {
        const char *name;       /* in the run's pool; NULL: no stored account */
        uint64_t fields_hash;   /* of gecos, home, shell and SSH keys: what a change compares */
        int64_t state_changed_usec;
        uint32_t uid;
        ProvState state;
        bool blocked, source_active;
} OldUser;

/* A directory user after mapping, before it is compared with the store. There are 100k of
 * these: what can be derived again (GECOS, shell, a home under home_base) is not kept. */
typedef struct MappedUser {
        const ProvScimUser *src;
        const char *name;       /* in the pool */
        int64_t ref;            /* its store row's: a stored account's, or a joiner's once written */
        uint32_t uid;
        bool in_scope;
        bool name_ok;  /* the login name passed the collision checks */
        bool own_home; /* its home is the source's homeDirectory (home_from_attribute) */
        bool accepted;
        OldUser old;
} MappedUser;

/* A stored account the scan did not return (full scans only). */
typedef struct StoredOnly {
        const char *scim_id, *name; /* in the pool */
        int64_t state_changed_usec;
        uint32_t uid;
        ProvState state;
        bool kept; /* missing from a full scan, but the source still has it (or cannot say) */
} StoredOnly;

typedef struct MappedGroup {
        const ProvScimGroup *src;
        char *name;
        uint32_t gid;
        char *local_name;
        bool accepted;
        ProvGroupRecord old;
} MappedGroup;

/* One membership that changed for an account that is not joining in this sync. */
typedef struct MemberDelta {
        const char *user;  /* SCIM id, in the pool */
        const char *group; /* name, for the audit detail */
        bool added;
} MemberDelta;

typedef struct GroupRule GroupRule;

typedef struct SyncRun {
        ProvStore *store;
        const ProvConfig *config;
        const ProvLocalAccounts *local;
        int64_t now;
        ProvArena pool;
        /* In SCIM id order: the pass over the store walks beside them, and joiners reach the
         * store's SCIM-id keyed b-trees (users, the ledger's owners) in key order. */
        MappedUser *users;
        size_t n_users;
        uint32_t *user_by_name; /* positions in users[] in the order of cmp_claim() */
        MappedGroup *groups;
        size_t n_groups;
        ProvIdHash user_hash;     /* users[] by SCIM id */
        IdIndex *group_index; /* groups[] by SCIM id */
        StoredOnly *stored_only;
        size_t n_stored_only, cap_stored_only;
        size_t n_live;        /* stored accounts not deprovisioned (full scans) */
        /* The store's groups as the sync found them (a few thousand): looked up in memory.
         * MappedGroup.old are shallow copies of these. */
        ProvGroupRecord *stored_groups;
        size_t n_stored_groups;
        IdIndex *stored_group_by_id, *stored_group_by_name;
        MemberDelta *deltas;
        size_t n_deltas, cap_deltas;
        size_t joiners_logged;
        ProvSyncResult *result;
        size_t cap_transitions;
        const ProvSyncOptions *opts;
        GroupRule *rules;       /* allow_groups, then map_groups */
        size_t n_rules;
} SyncRun;

/* sync.c: the run's lookups, and what every step may refuse. */

/* A record the directory sent that we will not serve: audited, logged and counted (0), or
 * < 0 on failure. It never stops the sync. */
int sync_reject(SyncRun *run, const char *kind, const char *scim_id, const char *name, const char *reason);
/* Index users[] and groups[] (those of batch) by SCIM id, once each is in its final order. */
int sync_index_users(SyncRun *run);
int sync_index_groups(SyncRun *run, const ProvScimBatch *batch);
MappedUser *sync_find_user(const SyncRun *run, const char *scim_id);
MappedGroup *sync_find_group(const SyncRun *run, const char *scim_id);
/* The store's groups as the sync found them, looked up by SCIM id or (scim_id NULL) name. */
int sync_load_stored_groups(SyncRun *run);
const ProvGroupRecord *sync_stored_group(const SyncRun *run, const char *scim_id, const char *name);
int sync_cmp_strp(const void *a, const void *b);
/* After a fetch: applies *batch (freed once it is in the store) with opts in one transaction,
 * records the attempt (and the confirmed contact unless the guard held it; delta_since_usec
 * too when delta_since >= 0), publishes the snapshot and enforces. kind names the sync in the
 * summary written to ret ("full", "delta", "snapshot", "feed"). Logs. */
int sync_apply_publish(const ProvConfig *config, ProvSyncState *st, ProvScimBatch **batch, const ProvSyncOptions *opts,
                       const char *kind, int64_t delta_since, ProvActionResult *ret);

/* sync-map.c */

/* A hash of the GECOS, home, shell and SSH keys: what tells an update from no change. */
uint64_t sync_fields_hash(const char *gecos, const char *home, const char *shell, const char *ssh_keys);
/* Why a directory login or group name may not be served on this host, or NULL. */
const char *sync_name_refused(const ProvConfig *c, const ProvLocalAccounts *local, const char *name);
const char *sync_id_refused(const ProvConfig *c, const ProvLocalAccounts *local, int64_t id);
/* The fields of an accepted user that are derived rather than kept. */
const char *sync_user_gecos(const MappedUser *u);
const char *sync_user_shell(const SyncRun *run, const MappedUser *u);
const char *sync_user_home(const SyncRun *run, const MappedUser *u, char *buf, size_t size);
int sync_rules_load(SyncRun *run);
int sync_rules_resolve(SyncRun *run, const ProvScimBatch *batch);
void sync_rules_done(SyncRun *run);
int sync_map_users(SyncRun *run, const ProvScimBatch *batch);
int sync_map_groups(SyncRun *run, const ProvScimBatch *batch);

/* sync.c */
/* Ends a transaction begun with prov_store_begin(): committed if r >= 0, then *ret takes
 * *result; else (or if the commit fails) rolled back and *result freed. Returns r or the
 * commit's error. */
int sync_transaction_end(ProvStore *store, int r, ProvSyncResult *result, ProvSyncResult *ret);

/* sync-apply.c */
/* Records a change of an account for enforcement and hooks; its strings go to the result. */
int sync_add_transition(SyncRun *run, const char *scim_id, const char *name, uint32_t uid, ProvState old_state,
                        ProvState new_state, const char *event);
int sync_apply_users(SyncRun *run);
int sync_apply_leavers(SyncRun *run);
int sync_apply_groups(SyncRun *run);
int sync_record_movers(SyncRun *run);
