/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the hub's store share (see hub-store.c for which holds what): the handle, a
 * row, the kept statements, and the helpers one file gives the others. */

#include "hub-store-db.h"
#include "hub-store.h"

typedef enum ListCond {
        COND_ALL,
        COND_ID,
        COND_NAME, /* userName (Users), displayName (Groups) */
        COND_EXTERNAL_ID,
        COND_MODIFIED_GT,
        COND_MODIFIED_GE,
        _COND_MAX,
} ListCond;

enum {
        STMT_USER_BY_ID,
        STMT_USER_BY_ID_FLEET,
        STMT_GROUP_BY_ID,
        STMT_USER_REF_BY_ID,
        STMT_USER_NAME_TAKEN,
        STMT_USER_INSERT,
        STMT_GROUP_INSERT,
        STMT_USER_UPDATE,
        STMT_GROUP_UPDATE,
        STMT_GROUP_TOUCH,
        STMT_USER_LOCK,
        STMT_USER_LEFT,
        STMT_USER_GHOST,
        STMT_LEAVERS_SINCE,
        STMT_USER_COUNT,
        STMT_HOLD_OPEN,
        STMT_HOLD_NEW,
        STMT_HOLD_APPROVE,
        STMT_HOLD_LAST_APPROVED,
        STMT_HELD_USERS,
        STMT_HELD_COUNT,
        STMT_USER_RELEASE,
        STMT_USER_DELETE,
        STMT_GROUP_DELETE,
        STMT_MEMBER_INSERT,
        STMT_MEMBER_DELETE,
        STMT_MEMBER_REFS,
        STMT_GROUP_MEMBERS,
        STMT_GROUP_MEMBERS_FLEET,
        STMT_USER_GROUPS,
        STMT_USER_GROUP_REFS,
        STMT_CHANGE_APPEND,
        STMT_AUDIT_APPEND,
        STMT_HEAD,
        STMT_CHANGES_SINCE,
        STMT_OLDEST,
        STMT_PRUNE_CHANGES,
        STMT_PRUNE_AUDIT,
        STMT_LAST_MODIFIED,
        _STMT_LIST_BASE,
        /* then per kind (User, Group), per ListCond: the page, then the count */
        _STMT_MAX = _STMT_LIST_BASE + 2 * _COND_MAX * 2,
};

#define STMT_LIST(kind, cond, count) (_STMT_LIST_BASE + ((kind) * _COND_MAX + (cond)) * 2 + (count))

struct HubStore {
        HubDb *db;
        /* Where it is, to open another connection to it (hub_store_reopen()). */
        HubStoreType type;
        char *path, *conninfo, *password_file;
        /* hub_store_view_begin(): the connection of consistent reads (PostgreSQL), and the main
         * one while it is in use. */
        HubDb *view_db, *main_db;
        /* The last modification time handed out: times only grow, one millisecond at least
         * per write, and are taken inside the writing transaction, so that they follow commit
         * order and `meta.lastModified gt T` returns exactly what changed after T was shown. */
        int64_t last_usec;
        /* Inside a batch (hub_store_batch_begin()): the one time every write of it gets, 0 until
         * its first write. A batch commits at once and no read runs inside one, so no client can
         * see part of a batch: sharing a time keeps `gt T` exact, and the times handed out keep
         * pace with the clock at any write rate. */
        int64_t batch_usec;
        bool in_batch;
        /* The mass-deactivation guard (hub_store_set_guard()); percent 0: off. */
        unsigned guard_percent, guard_min_users;
        int64_t guard_window_usec;
        /* Per kind, the unfiltered list as of change head `head`: its total, and where the last
         * page by index ended, so that a client walking by startIndex (Okta, provision-syncd's
         * pull) costs one page per request, not the rows before it, while nothing changed. */
        struct {
                bool valid;
                int64_t head;
                int64_t total;
                int64_t next_index;
                int64_t after_ref;
        } walk[2];
};

/* The schema version both backends migrate to, and each one's schema (hub-store-schema.c). */
#define HUB_STORE_VERSION 7
extern const HubDbSchema hub_store_sqlite_schema, hub_store_pg_schema;

/* One resource's row (ROW_COLUMNS in hub-store-schema.c). */
typedef struct Row {
        int64_t ref;
        char *id;
        int64_t created_usec;
        int64_t modified_usec;
        int64_t version;
        char *json;
        char *locked_by; /* users: the admin token NAME that locked it, or NULL */
        int64_t held_id; /* users: the guard's hold keeping its deactivation back, or 0 */
        bool ghost;      /* users: deleted by the IdP, the deletion held (held_id) */
} Row;

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* ---- hub-store.c: the connection, transactions and times ---- */

/* The one number a kept statement without parameters answers (0 for no row). */
int hub_store_get_int(HubStore *s, unsigned id, int64_t *ret);
/* The same with ?1 bound to arg. */
int hub_store_get_int_bound(HubStore *s, unsigned id, int64_t arg, int64_t *ret);
/* A kept statement with ?1 bound to arg, or to text. */
int hub_store_stmt_int(HubStore *s, unsigned id, int64_t arg, HubStmt **ret);
int hub_store_stmt_text(HubStore *s, unsigned id, const char *text, HubStmt **ret);
/* Runs a kept statement with ?1 bound to arg. */
int hub_store_run_int(HubStore *s, unsigned id, int64_t arg);
/* The next modification time (see HubStore.last_usec and batch_usec). */
int64_t hub_store_stamp(HubStore *s);
/* The start of a change of the directory: its transaction scope and the writers' lock. */
int hub_store_write_begin(HubStore *s, HubDbTx *tx);

/* ---- hub-store-render.c: rows and rendering ---- */

void hub_store_row_done(Row *r);
bool hub_store_kind_valid(ProvHubKind kind);
/* The row a statement stepped to (ROW_COLUMNS). */
int hub_store_row_read(HubStore *s, HubStmt *st, Row *ret);
/* The row of the resource with this id: 1 found, 0 none. A ghost only for the fleet. */
int hub_store_row_by_id(HubStore *s, ProvHubKind kind, const char *id, bool fleet, Row *ret);
/* W/"version" into buf. */
const char *hub_store_etag_format(int64_t version, char buf[static 32]);
/* The resource as served (a lock or a hold applied); with as_stored, as the IdP last left it. */
int hub_store_render_row_full(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                              bool as_stored, cJSON **ret);
int hub_store_render_row(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                         cJSON **ret);

/* ---- hub-store-members.c: memberships ---- */

/* A sorted set of user refs: a group's members. */
typedef struct RefSet {
        int64_t *refs;
        size_t n, allocated;
} RefSet;

/* The ids of a group's current members with their refs, sorted by id: a PATCH of a 50,000-member
 * group names them all again, and finding them here costs no query each. */
typedef struct IdRef {
        char *id;
        int64_t ref;
} IdRef;

typedef struct IdIndex {
        IdRef *items;
        size_t n;
} IdIndex;

void hub_store_refset_done(RefSet *set);
bool hub_store_refset_equal(const RefSet *a, const RefSet *b);
void hub_store_idindex_done(IdIndex *x);
/* The stored members of a group, as refs (sorted) and as an id index. */
int hub_store_refset_load(HubStore *s, int64_t group_ref, RefSet *ret, IdIndex *ret_index);
/* The users a resource's members name (known: ids already looked up, or NULL). */
int hub_store_refset_from_members(HubStore *s, const cJSON *resource, const char *group, const IdIndex *known,
                                  RefSet *ret);
/* Writes the member rows that differ between old and new (both sorted), and adds the member
 * ids that changed to the audit form. */
int hub_store_members_write(HubStore *s, int64_t group_ref, const RefSet *old, const RefSet *new, cJSON *audit);
/* A deleted user leaves its groups, each a change of its own; their ids go to audit. */
int hub_store_user_leave_groups(HubStore *s, int64_t user_ref, int64_t usec, cJSON *audit);

/* ---- hub-store-changes.c: the change sequence and audit ---- */

int hub_store_change_append(HubStore *s, ProvHubKind kind, const char *id, const char *op, int64_t usec);
/* A change as every write records it: the next seq for the resource and one audit row. */
int hub_store_record_change(HubStore *s, const HubActor *who, ProvHubKind kind, const char *id, const char *op,
                            const cJSON *before, const cJSON *after, int64_t usec);

/* ---- hub-store-write.c: the IdPs' writes ---- */

/* Reads a row for a change: 404 when there is none (a ghost only for the fleet), 412 when
 * If-Match fails. */
int hub_store_row_for_change(HubStore *s, ProvHubKind kind, const char *id, const char *if_match, bool fleet, Row *ret,
                             ProvScimError *err);
/* The live user other than exclude_ref with this userName (case-insensitively): 1 and its id in
 * *ret_id (when not NULL), or 0. */
int hub_store_user_name_holder(HubStore *s, const char *user_name, int64_t exclude_ref, char **ret_id);

/* ---- hub-store-guard.c: the guard and the lock ---- */

bool hub_store_stored_inactive(const cJSON *stored);
/* Whether a user leaving now is held: *ret_hold the open hold, or 0. */
int hub_store_guard_hold(HubStore *s, int64_t usec, bool still_active, int64_t *ret_hold);
/* A user's change of "active" as the guard sees it (left_usec, held_id). */
int hub_store_guard_user(HubStore *s, const Row *row, const cJSON *old, const cJSON *new, int64_t usec);
/* A held deletion: the user's row stays as a ghost in the hold. */
int hub_store_user_ghost(HubStore *s, const HubActor *who, const Row *row, const cJSON *old, int64_t hold,
                         int64_t usec);
