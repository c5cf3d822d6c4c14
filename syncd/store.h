/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SQLite store of provision-syncd: the source of truth on the host for accounts, states,
 * memberships, the UID/GID ledger, sync state, audit events and held deprovisions. Only the
 * daemon writes it; provisionctl opens it read-only. NSS and PAM never see it (they read the
 * snapshot).
 *
 * Foreign keys are declared in the schema but kept by this file, not by SQLite (see
 * prov_store_open()): deleting an account or a group deletes its memberships.
 *
 * Every function returns 0 (or a non-negative value) on success and -errno on failure; SQLite
 * result codes are mapped once, here:
 *   SQLITE_BUSY, SQLITE_LOCKED        -> -EBUSY
 *   SQLITE_FULL                       -> -ENOSPC
 *   SQLITE_CORRUPT, SQLITE_NOTADB     -> -EBADMSG
 *   SQLITE_CONSTRAINT                 -> -EEXIST
 *   SQLITE_READONLY                   -> -EROFS
 *   SQLITE_CANTOPEN                   -> -ENOENT or -EACCES
 *   SQLITE_NOMEM                      -> -ENOMEM
 *   anything else                     -> -EIO
 * prov_store_errmsg() gives SQLite's message of the last failure so that the caller can log it.
 * Strings are copied in and out; records returned are owned by the caller. Out-parameters are
 * written only on success. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov-types.h"

/* Schema version this code writes (PRAGMA user_version). */
#define PROV_STORE_SCHEMA_VERSION 9

typedef struct ProvStore ProvStore;

typedef struct ProvUserRecord {
        char *scim_id, *name;
        uint32_t uid, gid;
        char *gecos, *home, *shell;
        bool source_active;     /* what the source says */
        ProvState state;        /* effective state */
        bool blocked;           /* local kill switch; wins over the source */
        int64_t created_usec, updated_usec, state_changed_usec, last_seen_usec;
        int64_t ref;            /* the row's key in the store, by which memberships refer to it:
                                 * set by reads, ignored by writes */
        char *ssh_keys;         /* validated OpenSSH public keys joined by '\n'; NULL (or "", written
                                 * as NULL) when none */
} ProvUserRecord;

typedef struct ProvGroupRecord {
        char *scim_id, *name;
        uint32_t gid;
        char *local_name;       /* NULL, or the local group this IdP group is served as */
        int64_t created_usec, updated_usec, last_seen_usec;
        int64_t ref;            /* as for users */
} ProvGroupRecord;

typedef struct ProvMembership {
        char *group_scim_id, *user_scim_id;
} ProvMembership;

typedef enum ProvIdKind {
        PROV_ID_UID,
        PROV_ID_GID,
} ProvIdKind;

typedef struct ProvAuditEvent {
        int64_t seq, time_usec;
        char *event, *user, *scim_id;   /* user and scim_id may be NULL */
        int64_t uid;                    /* -1: none */
        char *step, *outcome, *detail;  /* may be NULL */
} ProvAuditEvent;

/* Opens (creating it with mode 0600 if missing) and migrates the store read-write: WAL,
 * synchronous=FULL, busy_timeout 5000 ms, foreign keys not enforced by SQLite (see above). An
 * existing file is chmod'ed to 0600. The path must not be a symlink (-ELOOP). A store written by newer code: -EPROTONOSUPPORT. */
int prov_store_open(const char *path, ProvStore **ret);
/* For the tests of the migrations: the same, migrating a new or older store only up to version.
 * Such a handle is for writing rows of that schema by hand; the other functions here expect the
 * current one. */
int prov_store_open_at_version(const char *path, int version, ProvStore **ret);
/* Opens an existing store read-only (for provisionctl); works while the daemon writes.
 * Missing file: -ENOENT. Schema newer than this code: -EPROTONOSUPPORT; older (not yet
 * migrated by the daemon, or never initialised): -ESTALE. Writes fail with -EROFS. */
int prov_store_open_readonly(const char *path, ProvStore **ret);
ProvStore *prov_store_close(ProvStore *s);
/* The store's PRAGMA user_version, or -errno. Only the tests call this. */
int prov_store_schema_version(ProvStore *s);
/* The message of the last failed SQLite call on this handle ("" if none). Never NULL. */
const char *prov_store_errmsg(ProvStore *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Functions that need several statements run inside the
 * caller's transaction when one is open (as a savepoint), else in their own. */
int prov_store_begin(ProvStore *s);
int prov_store_commit(ProvStore *s);
int prov_store_rollback(ProvStore *s);  /* safe to call when no transaction is open */
bool prov_store_in_transaction(ProvStore *s);  /* only the tests call this */

void prov_user_record_done(ProvUserRecord *u);   /* frees the strings, zeroes; NULL is fine */
void prov_group_record_done(ProvGroupRecord *g);

/* -ENOENT when absent. */
int prov_store_user_get(ProvStore *s, const char *scim_id, ProvUserRecord *ret);
int prov_store_user_get_by_name(ProvStore *s, const char *name, ProvUserRecord *ret);
int prov_store_user_get_by_uid(ProvStore *s, uint32_t uid, ProvUserRecord *ret);
int prov_store_user_get_by_ref(ProvStore *s, int64_t ref, ProvUserRecord *ret);
/* The refs of the accounts with these SCIM ids into ret_refs[0..n-1], 0 for those not stored:
 * one statement per 2048 ids. */
int prov_store_user_refs(ProvStore *s, char *const *scim_ids, size_t n, int64_t *ret_refs);
/* Inserts or updates by scim_id; -EEXIST when name or uid belongs to another scim_id; -EINVAL
 * unless gid equals uid (the primary group is the user's private group).
 * Timestamps: created_usec is kept from an existing row (on insert: the given value, or now if
 * 0); updated_usec is the given value or now if 0; state_changed_usec is the given value if not
 * 0, else now on insert or when state changes, else kept. gecos NULL is stored as "". */
int prov_store_user_put(ProvStore *s, const ProvUserRecord *u);
/* The same for an account that is not in the store: -EEXIST if its scim_id is too. The new
 * row's ref in *ret_ref (may be NULL). */
int prov_store_user_add(ProvStore *s, const ProvUserRecord *u, int64_t *ret_ref);
/* For the retention purge: memberships go with it, ledger and name history rows stay.
 * -ENOENT when absent. Each call reads every membership: for many, prov_store_users_purge(),
 * which the daemon uses; only the tests call this one. */
int prov_store_user_delete(ProvStore *s, const char *scim_id);
/* Deletes these accounts and their memberships as one operation, reading the memberships once
 * per 2048 accounts. Unknown ids are skipped. Returns how many accounts went. */
int prov_store_users_purge(ProvStore *s, char *const *scim_ids, size_t n);
int prov_store_users_load(ProvStore *s, ProvUserRecord **ret, size_t *ret_n);   /* ordered by uid */
typedef enum ProvUserOrder {
        PROV_USER_ORDER_UID,
        PROV_USER_ORDER_SCIM_ID,        /* byte order (SQLite BINARY = strcmp()) */
        PROV_USER_ORDER_REF,            /* storage order (by ref): one sequential read of the table */
        PROV_USER_ORDER_REFUSED,        /* only the accounts that are not active, in no order */
} ProvUserOrder;
/* Streams every user to cb without loading them all: the record's strings are borrowed and
 * valid during the call only. cb must not write the users table. A negative return of cb
 * stops the walk and is returned; otherwise 0. */
int prov_store_users_foreach(ProvStore *s, ProvUserOrder order,
                             int (*cb)(const ProvUserRecord *u, void *userdata), void *userdata);
void prov_user_records_free(ProvUserRecord *v, size_t n);

/* One group by SCIM id or by name; -ENOENT. Only the tests call these. */
int prov_store_group_get(ProvStore *s, const char *scim_id, ProvGroupRecord *ret);
int prov_store_group_get_by_name(ProvStore *s, const char *name, ProvGroupRecord *ret);
/* Inserts or updates by scim_id; -EEXIST when name or gid belongs to another scim_id.
 * Timestamps as for users (created kept, updated now if 0). */
int prov_store_group_put(ProvStore *s, const ProvGroupRecord *g);
int prov_store_group_delete(ProvStore *s, const char *scim_id);     /* -ENOENT; memberships go too */
int prov_store_groups_load(ProvStore *s, ProvGroupRecord **ret, size_t *ret_n);  /* ordered by gid */
/* An account's ids and names through time (provisionctl show). */
typedef struct ProvIdRecord {
        char *kind;                     /* "uid" or "gid" */
        uint32_t id;
        char *name;                     /* name at assignment, or NULL */
        int64_t assigned_usec;
} ProvIdRecord;

typedef struct ProvNameChange {
        char *old_name, *new_name;      /* may be NULL */
        int64_t changed_usec;
} ProvNameChange;

typedef struct ProvUserHistory {
        ProvIdRecord *ids;              /* ledger rows of "user:<scim_id>" and the live ids, by assignment */
        size_t n_ids;
        ProvNameChange *names;          /* oldest first */
        size_t n_names;
} ProvUserHistory;

int prov_store_user_history(ProvStore *s, const char *scim_id, ProvUserHistory *ret);
void prov_user_history_done(ProvUserHistory *h);

/* The groups that list the user with this SCIM id, ordered by gid (none: 0 and an empty set). */
int prov_store_user_groups_load(ProvStore *s, const char *user_scim_id, ProvGroupRecord **ret, size_t *ret_n);
void prov_group_records_free(ProvGroupRecord *v, size_t n);
/* Replaces the members of a group; ids not in users (and duplicates) are skipped. The group must
 * exist (-ENOENT). Atomic. Only the tests call this: the sync writes members by ref. */
int prov_store_group_set_members(ProvStore *s, const char *group_scim_id, char *const *user_scim_ids,
                                 size_t n);
/* Shrinks the page cache to a size for streaming reads (the snapshot export) for the rest of
 * this handle's life, and gives back the memory above it. */
int prov_store_cache_for_streaming(ProvStore *s);
/* PRAGMA foreign_key_check: 0 when every membership has its account and group, -EBADMSG (with
 * the first offender in prov_store_errmsg()) otherwise. Only the tests call this. */
int prov_store_check_references(ProvStore *s);
/* Row counts, for sizing arrays before a walk; any of the pointers may be NULL. */
int prov_store_counts(ProvStore *s, size_t *ret_users, size_t *ret_groups, size_t *ret_memberships);
/* Accounts by state (by_state[state]; rows of an unknown state are not counted): what
 * provisionctl status shows, without reading the rows. */
int prov_store_state_counts(ProvStore *s, size_t by_state[static _PROV_STATE_MAX]);
/* Adds the memberships of a stored group and accounts known by their refs (from
 * prov_store_user_add() or a read), that nobody needs to hear about one by one: one statement
 * per 2048. Refs that no account has must not be given (prov_store_check_references() would
 * find them); an unknown group adds nothing. */
int prov_store_members_add_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n);
/* Removes the memberships of a group and accounts known by their refs; absent ones are
 * skipped. */
int prov_store_members_remove_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n);
/* Streams the memberships of one group (ordered by account ref) or of all (NULL, in no order)
 * as the refs of their group and account. cb must not write the memberships table; a negative
 * return of it stops the walk and is returned. */
int prov_store_member_refs_foreach(ProvStore *s, const char *group_scim_id,
                                   int (*cb)(int64_t group_ref, int64_t user_ref, void *userdata), void *userdata);
/* Ordered by group, then user. */
int prov_store_memberships_load(ProvStore *s, ProvMembership **ret, size_t *ret_n);
void prov_memberships_free(ProvMembership *v, size_t n);

/* The UID/GID ledger: an id once given is never given to another owner. Owners are
 * "user:<scim id>" or "group:<scim id>"; a user private group's gid is the user's uid, owned by
 * "user:<scim id>". An existing account's row holds its ids; the ledger's rows (never deleted)
 * hold those of accounts that are gone or changed ids, and those recorded by the calls below.
 * The lookups see both. */
/* The id of kind k that owner holds now, else the one most recently recorded for it; and the
 * owner of an id; -ENOENT. Only the tests call these (the sync allocates through the calls below). */
int prov_store_ledger_lookup(ProvStore *s, ProvIdKind k, const char *owner, uint32_t *ret_id);
int prov_store_ledger_owner(ProvStore *s, ProvIdKind k, uint32_t id, char **ret_owner);
/* 0, or -EEXIST if id belongs to another owner (idempotent for the same owner). */
int prov_store_ledger_assign(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name);
/* Deterministic allocation. If owner already has an id of kind k, returns it. Otherwise starts
 * at min + (fnv1a64(owner) % (max - min + 1)), where fnv1a64 is 64-bit FNV-1a (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3) over the bytes of owner without its NUL, and probes
 * upwards, wrapping to min after max, for the first id with no ledger row of kind k — and, when
 * also_gid is set for kind UID, no 'gid' row either — for which is_taken(id, userdata) (may be
 * NULL) returns 0. A non-zero return n says that id and the n - 1 ids after it are all taken
 * (prov_local_ids_taken()), and the probe goes on at id + n: the result is the same as probing
 * each id, in one call per taken run. Records it (with also_gid: the 'gid' row of the private
 * group too, same owner) and returns it. -ENOSPC when the range is full; -EINVAL if min is 0,
 * min > max or max is (uint32_t) -1. */
int prov_store_ledger_allocate(ProvStore *s, ProvIdKind k, const char *owner, const char *name, uint32_t min,
                               uint32_t max, bool also_gid, uint32_t (*is_taken)(uint32_t id, void *userdata),
                               void *userdata, uint32_t *ret_id);
/* For an account the caller writes with prov_store_user_put() in the same (open) transaction:
 * its row then records the ids, and nothing is written now. Reserves id in [min, max] as the
 * account's uid and private gid: 0 if both are free or already the account's; -EEXIST (and
 * *ret_conflict: which kind) if another owner holds either or another account reserved it in
 * this transaction; -EINVAL outside a transaction or the range. */
int prov_store_user_ids_reserve(ProvStore *s, const char *scim_id, uint32_t id, uint32_t min, uint32_t max,
                                ProvIdKind *ret_conflict);
/* The same with the id chosen as prov_store_ledger_allocate() with also_gid chooses it (an
 * account that held one before gets it back). -ENOSPC when the range is full; -EEXIST when the
 * account's earlier id is now another owner's gid. */
int prov_store_user_ids_allocate(ProvStore *s, const char *scim_id, uint32_t min, uint32_t max,
                                 uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret_id);
/* The hash used above, exposed for the tests (only they call this). */
uint64_t prov_store_owner_hash(const char *owner);
int prov_store_name_history_add(ProvStore *s, const char *scim_id, const char *old_name,
                                const char *new_name);

/* Key/value sync state: last_attempt_usec, last_success_usec, last_error, generation, ... */
int prov_store_state_get(ProvStore *s, const char *key, char **ret_value);   /* -ENOENT */
int prov_store_state_set(ProvStore *s, const char *key, const char *value);
int prov_store_state_get_int(ProvStore *s, const char *key, int64_t *ret);   /* -ENOENT, -EBADMSG */
int prov_store_state_set_int(ProvStore *s, const char *key, int64_t value);

/* time = now (CLOCK_REALTIME µs); uid -1 = none; user, scim_id, step, outcome, detail may be NULL. */
int prov_store_audit_add(ProvStore *s, const char *event, const char *user, const char *scim_id, int64_t uid,
                         const char *step, const char *outcome, const char *detail);
/* Events with time_usec >= since_usec, for one user name or all (NULL); with limit > 0 the newest
 * `limit` of them. Always ordered by seq ascending. */
int prov_store_audit_load(ProvStore *s, const char *user, int64_t since_usec, size_t limit,
                          ProvAuditEvent **ret, size_t *ret_n);
void prov_audit_events_free(ProvAuditEvent *v, size_t n);
/* Deletes events older than before_usec (retention); returns how many went. */
int prov_store_audit_prune(ProvStore *s, int64_t before_usec);

/* Enforcement steps to retry (enforce.c): one per account and step ("logind", "kill"). */
typedef struct ProvPendingStep {
        char *scim_id, *step, *event;
        uint32_t uid;
        unsigned failures;      /* in a row */
} ProvPendingStep;

/* Records a step's outcome: a failure adds one to the account's row for the step (creating it
 * with uid and event), anything else deletes the row. */
int prov_store_pending_record(ProvStore *s, const char *scim_id, const char *step, uint32_t uid, const char *event,
                              bool failed);
/* Every pending step, in (scim_id, step) order. */
int prov_store_pending_load(ProvStore *s, ProvPendingStep **ret, size_t *ret_n);
void prov_pending_steps_free(ProvPendingStep *v, size_t n);

/* Enforcement outcomes for the hub ([source] type = hub): kept until the hub takes them, across
 * restarts. Adding one (a JSON object's text) drops the oldest beyond max; returns how many
 * went. */
int prov_store_acks_add(ProvStore *s, const char *outcome, unsigned max);
/* The oldest max outcomes as one JSON array's text (*ret_array; NULL when none) and the number
 * of the last one (for prov_store_acks_remove()); returns how many. */
int prov_store_acks_peek(ProvStore *s, unsigned max, char **ret_array, int64_t *ret_last);
/* Removes the outcomes up to last (those a peek returned), or every one for INT64_MAX. */
int prov_store_acks_remove(ProvStore *s, int64_t last);

/* Held deprovisions (mass-deprovision guard). Adding a hold marks every older pending hold
 * 'superseded'. scim_ids must not contain '\n' (-EINVAL); they are stored one per line. */
int prov_store_hold_add(ProvStore *s, int64_t deprovisions, int64_t total, const char *threshold,
                        char *const *scim_ids, size_t n, int64_t *ret_id);
/* The newest pending hold; -ENOENT. */
int prov_store_hold_pending(ProvStore *s, int64_t *ret_id, int64_t *ret_deprovisions, int64_t *ret_total);
/* The scim ids recorded with a hold, in the order given to prov_store_hold_add(); -ENOENT. */
int prov_store_hold_scim_ids(ProvStore *s, int64_t id, char ***ret_ids, size_t *ret_n);
/* status: "pending", "approved" or "superseded" (-EINVAL otherwise); -ENOENT for no such hold.
 * Sets decided_usec to now for the latter two. */
int prov_store_hold_set_status(ProvStore *s, int64_t id, const char *status);

/* Records that the sync refused a record (kind "user", "group" or "rule"; scim_id NULL for a
 * record without a readable id) for reason, seen at now_usec. Returns 1 when this (kind,
 * scim_id, reason) was not recorded before (the caller audits it), 0 when it was (only its
 * last sighting is updated). */
int prov_store_reject_note(ProvStore *s, const char *kind, const char *scim_id, const char *reason,
                           int64_t now_usec);
/* Forgets the refusals not seen since before_usec (a full scan no longer produces them), so that
 * they are audited again should they come back. Returns how many went. */
int prov_store_rejects_prune(ProvStore *s, int64_t before_usec);

int64_t prov_now_usec(void);  /* CLOCK_REALTIME µs */
