/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hub's store: SCIM Users and Groups, group members, the change sequence and the audit log,
 * in SQLite (one hub process) or PostgreSQL (several replicas on one database), behind one
 * database interface (hub-store-db.h). Handlers never see SQL nor which backend: they hand over
 * normalised resources (scim-resource.h) and get rendered ones back.
 *
 * Invariants (both backends):
 * - Every call that changes something runs in ONE transaction, committed durably (SQLite:
 *   synchronous = FULL; PostgreSQL: its commit) before it returns: when a handler answers 2xx
 *   the change is on disk. Inside a batch
 *   (group commit, below) that transaction is a savepoint, and the change is on disk when the
 *   batch commits: the HTTP layer holds every answer of a batch until then.
 * - In that same transaction every changed resource gets the next number of one gap-free
 *   sequence (table `changes`: seq, kind, id, op = upsert|delete), in commit order across
 *   replicas (writers take one lock first) — the change feed follows it —
 *   and the request gets one audit row (who: the token's NAME; what; before and after).
 * - A request that changes nothing (a re-sent PATCH) writes nothing: no version, no seq, no audit.
 * - Members live in their own table (group, user), so that a membership change of a 50,000-member
 *   group writes the rows that changed, not the group.
 * - userName is unique case-insensitively (ASCII, as SQLite's NOCASE and the filters compare).
 * - Order of lists: creation order (a row number that never changes), so that paging is stable
 *   and a resource changed during a walk is neither lost nor seen twice. */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "prov-util.h"
#include "scim-error.h"
#include "scim-filter.h"

typedef struct HubStore HubStore;

/* Who asked, for the audit log. */
typedef struct HubActor {
        const char *token_name;
        const char *method;
} HubActor;

/* Where the store is: a SQLite file (one hub process), or a PostgreSQL database (several
 * replicas; libpq's conninfo, the password read from password_file, never from conninfo). */
typedef enum HubStoreType {
        HUB_STORE_SQLITE,
        HUB_STORE_POSTGRESQL,
} HubStoreType;

typedef struct HubStoreSpec {
        HubStoreType type;
        const char *path;          /* SQLite */
        const char *conninfo;      /* PostgreSQL */
        const char *password_file; /* PostgreSQL, or NULL */
} HubStoreSpec;

/* Opens and migrates the store described by spec (readonly: see hub_store_open_full()). On
 * failure, *ret_error (when not NULL) says why in the database's words (never a password). */
int hub_store_open_spec(const HubStoreSpec *spec, bool readonly, HubStore **ret, char **ret_error);
/* Another connection to the same store (a snapshot's read transaction). */
int hub_store_reopen(HubStore *s, bool readonly, HubStore **ret);

/* Opens (creating it 0600, its directory 0700 when missing) and migrates the store. A HubStore is
 * used by one thread at a time (the hub's handlers run on libmicrohttpd's one polling thread). */
int hub_store_open(const char *path, HubStore **ret);
/* readonly: never creates, migrates or writes anything (the store must exist at this version);
 * for the command line beside a running hub, which owns the files. */
int hub_store_open_full(const char *path, bool readonly, HubStore **ret);
HubStore *hub_store_close(HubStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubStore *, hub_store_close);

/* How resources are rendered: base_url ("https://hub.example.com/scim/v2") for meta.location and
 * members' $ref; with_members false leaves a group's members out (excludedAttributes=members),
 * which then costs nothing. fleet: the view of the feed and the snapshot, where a user whose
 * deletion the guard holds (a ghost) is still served as it was, in its groups; SCIM (fleet
 * false) never sees a ghost. */
typedef struct HubRender {
        const char *base_url;
        bool with_members;
        bool fleet;
} HubRender;

const char *hub_kind_to_string(ProvHubKind kind); /* "User", "Group" */
const char *hub_kind_endpoint(ProvHubKind kind);  /* "Users", "Groups" */

/* The resource with this id, rendered; -ENOENT when there is none. */
int hub_store_get(HubStore *s, ProvHubKind kind, const char *id, const HubRender *how, cJSON **ret);

/* Creates a resource from a normalised one (borrowed; id and meta are the hub's). Groups' members
 * referring to no user are left out, with a log line. 409 uniqueness for a taken userName. ret may
 * be NULL (nothing rendered). Errors that carry an HTTP status fill err (and return -EEXIST for
 * 409, -ENOENT for 404, -EINVAL otherwise); any other negative errno is a store failure
 * (hub_store_errmsg()). */
int hub_store_create(HubStore *s, ProvHubKind kind, const cJSON *resource, const HubActor *who,
                     const HubRender *how, cJSON **ret, ProvScimError *err);

/* Changes a resource inside one transaction: fn gets the current resource rendered with its
 * members (id and meta included) and must leave in it the normalised new one (PUT: the body;
 * PATCH: the patched, normalised resource). When it differs from the stored one it is written
 * with a new version; *ret_changed says whether it did. if_match (an ETag, or NULL): 412 when it
 * is not the current version ("*" and the ETag without W/ match too). 404 for an unknown id. fn's
 * own error is passed on and nothing is written. A change of members alone writes only the
 * member rows that changed (and the group's version). */
typedef int (*HubModifyFn)(cJSON *resource, void *userdata, ProvScimError *err);
int hub_store_modify(HubStore *s, ProvHubKind kind, const char *id, const char *if_match, HubModifyFn fn,
                     void *userdata, const HubActor *who, const HubRender *how, cJSON **ret,
                     bool *ret_changed, ProvScimError *err);

/* Deletes a resource (a user leaves every group it was in: each such group changes). 404 for an
 * unknown id, 412 for a failed If-Match. A user's deletion the guard holds (hub_store_set_guard())
 * leaves a ghost instead: gone for SCIM (404, its userName free), served as it was to the fleet
 * (HubRender.fleet) until the hold is approved. */
int hub_store_delete(HubStore *s, ProvHubKind kind, const char *id, const char *if_match,
                     const HubActor *who, ProvScimError *err);

/* The fleet-wide lock of a user (POST /v1/admin/users/{id}/lock): while locked the user is
 * served "active": false everywhere (SCIM and feed), whatever the IdP sends, until unlocked; the
 * IdP's own value is kept and is served again then. Each change of the lock is a change of the
 * user (a new version and seq) and an audit row naming the admin token ({"locked": ...} before
 * and after); locking a locked user changes nothing (*ret_changed false). 404 for no such user. */
int hub_store_lock(HubStore *s, const char *id, bool lock, const HubActor *who, bool *ret_changed,
                   ProvScimError *err);

/* The mass-deactivation guard: when a user becomes inactive and the users who left within
 * window_usec (it included; deleted users count too) would be more than percent of the users
 * (those active now and those who left within the window: users inactive already are not, and
 * deletions do not shrink it; and there are at least min_users), its deactivation is
 * held: stored as the IdP sent it and served as active (SCIM and feed) until an admin approves
 * the open hold. An IdP re-activation releases it; a lock is never held. A deletion the same
 * count trips, or of a held user, is held in the same hold (hub_store_delete()). The window
 * starts after the last approval at the latest: the leavers an admin approved count towards no
 * later hold. percent 0: off. */
void hub_store_set_guard(HubStore *s, unsigned percent, int64_t window_usec, unsigned min_users);
/* {"hold": N, "users": [{"id", "userName", "kind": "deactivation"|"deletion"}]}: the open hold
 * (no "hold" when none). */
int hub_store_holds(HubStore *s, cJSON **ret);
/* Approves the open hold (hold: its number, or 0 for whichever is open; 404 when it is not
 * open): each held user becomes a change of its own (served inactive now), audited with who.
 * count: how many held users the admin was shown, checked under the writers' lock (another
 * replica may have added to the hold since): 409 when the hold holds another number now; -1
 * for no check. */
int hub_store_hold_approve(HubStore *s, int64_t hold, int64_t count, const HubActor *who, int64_t *ret_released,
                           ProvScimError *err);

/* A list request. Paging by index (start_index >= 1) or, when cursor is true, by the RFC 9865
 * cursor after_cursor (0 = from the start). count 0 gives the total only. */
typedef struct HubQuery {
        const ProvFilter *filter; /* or NULL */
        int64_t start_index;
        unsigned count;
        bool cursor;
        int64_t after_cursor;
} HubQuery;

typedef struct HubPage {
        cJSON *resources; /* array, owned by the caller */
        int64_t total;       /* every match of the filter, whatever the page */
        int64_t next_cursor; /* cursor paging only: the cursor of the next page; 0: none follows */
} HubPage;

/* Filters `id|userName|externalId|displayName eq "x"` and `meta.lastModified gt|ge T` are
 * answered from an index, as is an `and` with one such side (the rest matched on its rows); other
 * filters read every resource of the kind. Paging never keeps more than one page in memory; a
 * walk by cursor is linear, and so is a walk by startIndex while nothing changes. Times handed
 * out as lastModified grow with every write, so that `meta.lastModified gt T` is an exact
 * delta. */

int hub_store_list(HubStore *s, ProvHubKind kind, const HubQuery *q, const HubRender *how, HubPage *ret,
                   ProvScimError *err);

/* Cursors as they appear in nextCursor; parsing fails (-EINVAL) for anything else. */
int hub_cursor_parse(const char *s, int64_t *ret);
char *hub_cursor_format(int64_t n);

/* Group commit: the changes of several requests in one transaction and one fsync. Between
 * hub_store_batch_begin() and hub_store_batch_commit() every changing call runs in a savepoint
 * of its own (a refused request still changes nothing) and all of them share one modification
 * time. Reads must not run inside a batch (the caller commits first): what a client reads is
 * always committed, and never part of a batch.
 * hub_store_batch_lost(): an I/O error or a full disk rolled the whole batch back (its changes
 * are gone; every request in it must be answered as failed).
 * hub_store_batch_commit(): 0 when every change of the batch is on disk; otherwise negative, and
 * the batch is rolled back. A no-op when no batch is open. */
int hub_store_batch_begin(HubStore *s);
bool hub_store_batch_open(HubStore *s);
bool hub_store_batch_lost(HubStore *s);
int hub_store_batch_commit(HubStore *s);

/* The feed: calls fn for each resource changed after seq `since`, once, with the seq of its last
 * change, in ascending order of that seq (the resource's state is read by the caller with
 * hub_store_get(); -ENOENT there means it has been deleted). fn's negative return stops the
 * walk and is returned. */
typedef int (*HubChangeFn)(int64_t seq, ProvHubKind kind, const char *id, void *userdata);
int hub_store_changes(HubStore *s, int64_t since, HubChangeFn fn, void *userdata);

/* The oldest change kept (0: none): a feed from before it cannot be answered. */
int hub_store_oldest(HubStore *s, int64_t *ret);
/* Retention: forgets the changes older than changes_before_usec (never the head's, which
 * numbers the next) and the audit rows older than audit_before_usec (<= 0: keeps them all). */
int hub_store_prune(HubStore *s, int64_t changes_before_usec, int64_t audit_before_usec, int64_t *ret_changes,
                    int64_t *ret_audit);

/* Reads that must see one committed state while other processes write (a feed answer: its head,
 * its changes and their resources), until hub_store_view_end(): on PostgreSQL a read-only
 * REPEATABLE READ transaction on a connection of the store's own for them (the main one may be
 * inside a batch); nothing on SQLite, where this process is the only writer. No write between. */
int hub_store_view_begin(HubStore *s);
void hub_store_view_end(HubStore *s);

/* A read transaction: every read until hub_store_read_end() sees one committed state (the
 * snapshot's consistency, on a connection of its own). -EBUSY inside a batch or transaction. */
int hub_store_read_begin(HubStore *s);
void hub_store_read_end(HubStore *s);

/* The head of the change sequence (0 when nothing changed yet).
 *
 * Audit rows hold the stored forms (no id, meta, members): a group's member changes appear as
 * "membersAdded"/"membersRemoved" arrays of user ids in after_json, a deleted user's groups as
 * "groupsLeft" in before_json; change_seq is the head after the request. */
int hub_store_head(HubStore *s, int64_t *ret);

/* The connection, for the fleet's tables (hub-fleet.c) only: the directory's tables are this
 * file's alone. */
typedef struct HubDb HubDb;
HubDb *hub_store_db(HubStore *s);

/* Wake-ups when another replica commits (PostgreSQL's LISTEN; SQLite has one writer and none):
 * the descriptor to poll (-1: none now; call hub_store_watch() again within a second), and
 * what arrived on it: > 0 when the head may have moved (read it again), 0 when not. */
int hub_store_watch_fd(HubStore *s);
int hub_store_watch(HubStore *s);

/* The database of the last failure, for the caller's log line (library code does not log
 * above debug). */
const char *hub_store_errmsg(HubStore *s);

/* Whether the connection commits durably (synchronous = FULL or EXTRA), as the invariants above
 * promise: for tests and a start-up check. */
bool hub_store_durable(HubStore *s);
