/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What hub-store.c (rows, rendering, writes, lock and guard) shares with hub-store-list.c
 * (lists and cursors) and hub-store-schema.c (migrations and statements): the handle, a row,
 * and the kept statements. */

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
        STMT_HELD_USERS,
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

void hub_store_row_done(Row *r);
/* The row a statement stepped to (ROW_COLUMNS). */
int hub_store_row_read(HubStore *s, HubStmt *st, Row *ret);
/* The resource as served (a lock or a hold applied). */
int hub_store_render_row(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                         cJSON **ret);
/* The one number a kept statement without parameters answers. */
int hub_store_get_int(HubStore *s, unsigned id, int64_t *ret);
bool hub_store_kind_valid(ProvHubKind kind);
