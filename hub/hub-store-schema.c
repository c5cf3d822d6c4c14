/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's schema (hub-store.c): each backend's migrations, one per version, and the
 * statements the store keeps prepared (STMT_*, hub-store-internal.h), with the few whose
 * PostgreSQL dialect differs. */

#include "hub-store-internal.h"

static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE users ("
        "  ref INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  user_name TEXT NOT NULL COLLATE NOCASE,"
        "  external_id TEXT,"
        "  active INTEGER NOT NULL,"
        "  created_usec INTEGER NOT NULL,"
        "  modified_usec INTEGER NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  json TEXT NOT NULL);"
        "CREATE UNIQUE INDEX users_user_name ON users (user_name);"
        "CREATE INDEX users_external_id ON users (external_id);"
        "CREATE INDEX users_modified ON users (modified_usec);"
        "CREATE TABLE groups ("
        "  ref INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  display_name TEXT NOT NULL COLLATE NOCASE,"
        "  external_id TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  modified_usec INTEGER NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  json TEXT NOT NULL);"
        "CREATE INDEX groups_display_name ON groups (display_name);"
        "CREATE INDEX groups_external_id ON groups (external_id);"
        "CREATE INDEX groups_modified ON groups (modified_usec);"
        "CREATE TABLE members ("
        "  group_ref INTEGER NOT NULL REFERENCES groups (ref) ON DELETE CASCADE,"
        "  user_ref INTEGER NOT NULL REFERENCES users (ref) ON DELETE CASCADE,"
        "  PRIMARY KEY (group_ref, user_ref)) WITHOUT ROWID;"
        "CREATE INDEX members_user ON members (user_ref, group_ref);"
        /* No AUTOINCREMENT: seq is set to head + 1 inside the writing transaction. */
        "CREATE TABLE changes ("
        "  seq INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL,"
        "  id TEXT NOT NULL,"
        "  op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),"
        "  time_usec INTEGER NOT NULL);"
        /* change_seq: the head after the request, to find its changes. */
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time_usec INTEGER NOT NULL,"
        "  token_name TEXT,"
        "  method TEXT,"
        "  kind TEXT NOT NULL,"
        "  id TEXT NOT NULL,"
        "  change_seq INTEGER NOT NULL,"
        "  before_json TEXT,"
        "  after_json TEXT);",
        /* 1 -> 2: the fleet-wide lock (hub_store_lock()); groups get the column too, so that
         * one row query serves both tables. */
        "ALTER TABLE users ADD COLUMN locked_by TEXT;"
        "ALTER TABLE groups ADD COLUMN locked_by TEXT;",
        /* 2 -> 3: the fleet (hub-fleet.c): each host as it last polled the feed (applied_seq:
         * the since= it polled with, what it has applied), and what each host reported of a
         * leaver's enforcement. */
        "CREATE TABLE hosts ("
        "  host_id TEXT PRIMARY KEY,"
        "  hostname TEXT,"
        "  version TEXT,"
        "  token_name TEXT,"
        "  applied_seq INTEGER NOT NULL,"
        "  first_seen_usec INTEGER NOT NULL,"
        "  last_seen_usec INTEGER NOT NULL,"
        "  due_usec INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE outcomes ("
        "  host_id TEXT NOT NULL,"
        "  user_id TEXT NOT NULL,"
        "  seq INTEGER NOT NULL,"
        "  sessions INTEGER NOT NULL,"
        "  result TEXT NOT NULL,"
        "  time_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (user_id, host_id)) WITHOUT ROWID;"
        "CREATE INDEX audit_id ON audit (id, seq);",
        /* 3 -> 4: the mass-deactivation guard (hub_store_set_guard()): when a user left
         * (left_usec) and the hold that keeps the deactivation from the fleet (held_id). */
        "ALTER TABLE users ADD COLUMN left_usec INTEGER;"
        "ALTER TABLE users ADD COLUMN held_id INTEGER;"
        "ALTER TABLE groups ADD COLUMN held_id INTEGER;"
        "CREATE INDEX users_left ON users (left_usec) WHERE left_usec IS NOT NULL;"
        "CREATE INDEX users_held ON users (held_id) WHERE held_id IS NOT NULL;"
        "CREATE TABLE holds ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  opened_usec INTEGER NOT NULL,"
        "  approved_usec INTEGER,"
        "  approved_by TEXT);",
        /* 4 -> 5: each enforcement step a host reported of a leaver (hub-fleet.c), as the JSON
         * object it sent ({"logind": "ok", "kill": "ok", "hooks": "failed"}). */
        "ALTER TABLE outcomes ADD COLUMN steps TEXT;",
        /* 5 -> 6: held deletions (hub_store_delete()): a user whose deletion the guard holds
         * stays as a ghost (deleted_usec) that SCIM no longer sees, its userName free again,
         * while the fleet keeps it until approval. Groups get the column too (one row query). */
        "ALTER TABLE users ADD COLUMN deleted_usec INTEGER;"
        "ALTER TABLE groups ADD COLUMN deleted_usec INTEGER;"
        "DROP INDEX users_user_name;"
        "CREATE UNIQUE INDEX users_user_name ON users (user_name) WHERE deleted_usec IS NULL;"
        "CREATE INDEX users_ghosts ON users (ref) WHERE deleted_usec IS NOT NULL;"
        "CREATE INDEX groups_ghosts ON groups (ref) WHERE deleted_usec IS NOT NULL;",
        /* 6 -> 7: the host each host token writes for (hub_fleet_bind()). */
        "CREATE TABLE token_hosts ("
        "  token_name TEXT PRIMARY KEY,"
        "  host_id TEXT NOT NULL,"
        "  bound_usec INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX token_hosts_host ON token_hosts (host_id);",
};

_Static_assert(ELEMENTSOF(migrations) == HUB_STORE_VERSION, "one migration per schema version");

/* The columns every row query returns, in this order (see Row). */
#define ROW_COLUMNS "ref, id, created_usec, modified_usec, version, json, locked_by, held_id, deleted_usec"

/* The page and count statements of lists, per table and per indexed condition. ?1 the value, ?2
 * the ref to start after, ?3 LIMIT, ?4 OFFSET; a count counts every match (?1 only). INDEXED BY makes
 * preparing fail rather than silently scanning when the index cannot serve the condition. */
#define LIST_PAGE(table, cond)                                                                              \
        "SELECT " ROW_COLUMNS " FROM " table " WHERE " cond " AND ref > ?2 ORDER BY ref LIMIT ?3 OFFSET ?4"
#define LIST_COUNT(table, cond) "SELECT count(*) FROM " table " WHERE " cond
/* SCIM never sees a ghost (a held deletion); the all-rows page shows them when ?1 is not NULL
 * (the fleet's snapshot), its count never. */
#define LIVE " AND deleted_usec IS NULL"
#define ALL_PAGE_COND "(?1 IS NOT NULL OR deleted_usec IS NULL)"
#define ALL_COUNT(table)                                                                                    \
        "SELECT (SELECT count(*) FROM " table ") - (SELECT count(*) FROM " table " WHERE deleted_usec IS NOT NULL)"




#define LIST_STATEMENTS(table, name_col)                                                                    \
        /* all: a count without WHERE, which SQLite answers from the smallest index */                      \
        LIST_PAGE(table, ALL_PAGE_COND), ALL_COUNT(table), LIST_PAGE(table, "id = ?1" LIVE),                \
                LIST_COUNT(table, "id = ?1" LIVE),                                                          \
                LIST_PAGE(table " INDEXED BY " table "_" name_col, name_col " = ?1" LIVE),                  \
                LIST_COUNT(table " INDEXED BY " table "_" name_col, name_col " = ?1" LIVE),                 \
                LIST_PAGE(table " INDEXED BY " table "_external_id", "external_id = ?1" LIVE),              \
                LIST_COUNT(table " INDEXED BY " table "_external_id", "external_id = ?1" LIVE),             \
                LIST_PAGE(table " INDEXED BY " table "_modified", "modified_usec > ?1" LIVE),               \
                LIST_COUNT(table " INDEXED BY " table "_modified", "modified_usec > ?1" LIVE),              \
                LIST_PAGE(table " INDEXED BY " table "_modified", "modified_usec >= ?1" LIVE),              \
                LIST_COUNT(table " INDEXED BY " table "_modified", "modified_usec >= ?1" LIVE)

static const char *const statements[_STMT_MAX] = {
        [STMT_USER_BY_ID] = "SELECT " ROW_COLUMNS " FROM users WHERE id = ?1" LIVE,
        [STMT_USER_BY_ID_FLEET] = "SELECT " ROW_COLUMNS " FROM users WHERE id = ?1",
        [STMT_GROUP_BY_ID] = "SELECT " ROW_COLUMNS " FROM groups WHERE id = ?1",
        [STMT_USER_REF_BY_ID] = "SELECT ref FROM users WHERE id = ?1" LIVE,
        [STMT_USER_NAME_TAKEN] = "SELECT id FROM users WHERE user_name = ?1 AND ref != ?2" LIVE,
        [STMT_USER_INSERT] =
                "INSERT INTO users (id, user_name, external_id, active, created_usec, modified_usec,"
                " version, json) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6)",
        [STMT_GROUP_INSERT] =
                "INSERT INTO groups (id, display_name, external_id, created_usec, modified_usec,"
                " version, json) VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5)",
        [STMT_USER_UPDATE] =
                "UPDATE users SET user_name = ?2, external_id = ?3, active = ?4, modified_usec = ?5,"
                " version = version + 1, json = ?6 WHERE ref = ?1",
        [STMT_GROUP_UPDATE] = "UPDATE groups SET display_name = ?2, external_id = ?3, modified_usec = ?4,"
                              " version = version + 1, json = ?5 WHERE ref = ?1",
        [STMT_GROUP_TOUCH] = "UPDATE groups SET modified_usec = ?2, version = version + 1 WHERE ref = ?1",
        [STMT_USER_LOCK] = "UPDATE users SET locked_by = ?2, modified_usec = ?3, version = version + 1 WHERE ref = ?1",
        [STMT_USER_LEFT] = "UPDATE users SET left_usec = ?2, held_id = ?3 WHERE ref = ?1",
        [STMT_USER_GHOST] = "UPDATE users SET deleted_usec = ?2, left_usec = coalesce(left_usec, ?2), held_id = ?3"
                            " WHERE ref = ?1",
        /* Users who left within the window (held ones too), and users deleted within it. */
        [STMT_LEAVERS_SINCE] = "SELECT (SELECT count(*) FROM users WHERE left_usec >= ?1) +"
                               " (SELECT count(*) FROM changes WHERE time_usec >= ?1 AND op = 'delete' AND kind = 'User')",
        /* The users who have not left: live and active. With the leavers of the window they are
         * the users the guard's share is of (a ghost, a held deletion, is a leaver). */
        [STMT_USER_COUNT] = "SELECT count(*) FROM users WHERE deleted_usec IS NULL AND active <> 0",
        [STMT_HOLD_OPEN] = "SELECT coalesce(max(id), 0) FROM holds WHERE approved_usec IS NULL",
        [STMT_HOLD_NEW] = "INSERT INTO holds (opened_usec) VALUES (?1)",
        [STMT_HOLD_APPROVE] = "UPDATE holds SET approved_usec = ?2, approved_by = ?3 WHERE id = ?1 AND approved_usec IS NULL",
        [STMT_HOLD_LAST_APPROVED] = "SELECT coalesce(max(approved_usec), 0) FROM holds",
        [STMT_HELD_COUNT] = "SELECT count(*) FROM users WHERE held_id = ?1",
        [STMT_HELD_USERS] = "SELECT ref, id, user_name, deleted_usec FROM users WHERE held_id = ?1 ORDER BY ref",
        [STMT_USER_RELEASE] = "UPDATE users SET held_id = NULL, modified_usec = ?2, version = version + 1 WHERE ref = ?1",
        [STMT_USER_DELETE] = "DELETE FROM users WHERE ref = ?1",
        [STMT_GROUP_DELETE] = "DELETE FROM groups WHERE ref = ?1",
        [STMT_MEMBER_INSERT] = "INSERT OR IGNORE INTO members (group_ref, user_ref) VALUES (?1, ?2)",
        [STMT_MEMBER_DELETE] = "DELETE FROM members WHERE group_ref = ?1 AND user_ref = ?2",
        /* A ghost's member rows stay until its deletion is approved: the IdP's writes of the
         * group neither see nor drop them, the fleet's view shows them. */
        [STMT_MEMBER_REFS] = "SELECT m.user_ref, u.id FROM members m JOIN users u ON u.ref = m.user_ref"
                             " WHERE m.group_ref = ?1 AND u.deleted_usec IS NULL ORDER BY m.user_ref",
        [STMT_GROUP_MEMBERS] = "SELECT u.id, u.user_name FROM members m JOIN users u ON u.ref = m.user_ref"
                               " WHERE m.group_ref = ?1 AND u.deleted_usec IS NULL ORDER BY m.user_ref",
        [STMT_GROUP_MEMBERS_FLEET] = "SELECT u.id, u.user_name FROM members m JOIN users u ON u.ref = m.user_ref"
                                     " WHERE m.group_ref = ?1 ORDER BY m.user_ref",
        [STMT_USER_GROUPS] =
                "SELECT g.id, g.display_name FROM members m JOIN groups g ON g.ref = m.group_ref"
                " WHERE m.user_ref = ?1 ORDER BY m.group_ref",
        [STMT_USER_GROUP_REFS] = "SELECT g.ref, g.id FROM members m JOIN groups g ON g.ref = m.group_ref"
                                 " WHERE m.user_ref = ?1 ORDER BY m.group_ref",
        [STMT_CHANGE_APPEND] = "INSERT INTO changes (seq, kind, id, op, time_usec)"
                               " SELECT coalesce(max(seq), 0) + 1, ?1, ?2, ?3, ?4 FROM changes",
        [STMT_AUDIT_APPEND] =
                "INSERT INTO audit (time_usec, token_name, method, kind, id, change_seq, before_json,"
                " after_json) SELECT ?1, ?2, ?3, ?4, ?5, coalesce(max(seq), 0), ?6, ?7 FROM changes",
        [STMT_HEAD] = "SELECT coalesce(max(seq), 0) FROM changes",
        [STMT_OLDEST] = "SELECT coalesce(min(seq), 0) FROM changes",
        /* Retention: never the head's row, which numbers the next change. */
        [STMT_PRUNE_CHANGES] = "DELETE FROM changes WHERE time_usec < ?1 AND seq < (SELECT max(seq) FROM changes)",
        [STMT_PRUNE_AUDIT] = "DELETE FROM audit WHERE time_usec < ?1",
        /* The feed: each resource changed after ?1 once, at its last change, in that order. */
        [STMT_CHANGES_SINCE] = "SELECT max(seq) AS last, kind, id FROM changes WHERE seq > ?1"
                               " GROUP BY kind, id ORDER BY last",
        /* The last time handed out, deletions (the last change's) and approvals included, across
         * restarts and replicas. */
        [STMT_LAST_MODIFIED] = "SELECT max(coalesce((SELECT max(modified_usec) FROM users), 0),"
                               " coalesce((SELECT max(modified_usec) FROM groups), 0),"
                               " coalesce((SELECT time_usec FROM changes ORDER BY seq DESC LIMIT 1), 0),"
                               " coalesce((SELECT max(approved_usec) FROM holds), 0))",
        LIST_STATEMENTS("users", "user_name"),
        LIST_STATEMENTS("groups", "display_name"),
};

const HubDbSchema hub_store_sqlite_schema = {
        .migrations = migrations,
        .n_migrations = ELEMENTSOF(migrations),
        .statements = statements,
        .n_statements = ELEMENTSOF(statements),
};

/* PostgreSQL (several replicas, hub-store-pg.c): the same tables and versions in its types.
 * userName and displayName compare case-insensitively as SQLite's NOCASE does, ASCII letters
 * only (PG_NOCASE(): lower() would fold other letters too, by the database's locale);
 * refs and audit seqs come from identity columns, changes' seq is head + 1 as above, under the
 * writers' lock (hub_db_write_lock()). */
#define PG_NOCASE(x) "translate(" x ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"

static const char *const pg_migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE users ("
        "  ref bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  id text NOT NULL UNIQUE,"
        "  user_name text NOT NULL,"
        "  external_id text,"
        "  active bigint NOT NULL,"
        "  created_usec bigint NOT NULL,"
        "  modified_usec bigint NOT NULL,"
        "  version bigint NOT NULL,"
        "  json text NOT NULL);"
        "CREATE UNIQUE INDEX users_user_name ON users (" PG_NOCASE("user_name") ");"
        "CREATE INDEX users_external_id ON users (external_id);"
        "CREATE INDEX users_modified ON users (modified_usec);"
        "CREATE TABLE groups ("
        "  ref bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  id text NOT NULL UNIQUE,"
        "  display_name text NOT NULL,"
        "  external_id text,"
        "  created_usec bigint NOT NULL,"
        "  modified_usec bigint NOT NULL,"
        "  version bigint NOT NULL,"
        "  json text NOT NULL);"
        "CREATE INDEX groups_display_name ON groups (" PG_NOCASE("display_name") ");"
        "CREATE INDEX groups_external_id ON groups (external_id);"
        "CREATE INDEX groups_modified ON groups (modified_usec);"
        "CREATE TABLE members ("
        "  group_ref bigint NOT NULL REFERENCES groups (ref) ON DELETE CASCADE,"
        "  user_ref bigint NOT NULL REFERENCES users (ref) ON DELETE CASCADE,"
        "  PRIMARY KEY (group_ref, user_ref));"
        "CREATE INDEX members_user ON members (user_ref, group_ref);"
        "CREATE TABLE changes ("
        "  seq bigint PRIMARY KEY,"
        "  kind text NOT NULL,"
        "  id text NOT NULL,"
        "  op text NOT NULL CHECK (op IN ('upsert', 'delete')),"
        "  time_usec bigint NOT NULL);"
        "CREATE TABLE audit ("
        "  seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  time_usec bigint NOT NULL,"
        "  token_name text,"
        "  method text,"
        "  kind text NOT NULL,"
        "  id text NOT NULL,"
        "  change_seq bigint NOT NULL,"
        "  before_json text,"
        "  after_json text);",
        /* 1 -> 2 */
        "ALTER TABLE users ADD COLUMN locked_by text;"
        "ALTER TABLE groups ADD COLUMN locked_by text;",
        /* 2 -> 3 */
        "CREATE TABLE hosts ("
        "  host_id text PRIMARY KEY,"
        "  hostname text,"
        "  version text,"
        "  token_name text,"
        "  applied_seq bigint NOT NULL,"
        "  first_seen_usec bigint NOT NULL,"
        "  last_seen_usec bigint NOT NULL,"
        "  due_usec bigint NOT NULL);"
        "CREATE TABLE outcomes ("
        "  host_id text NOT NULL,"
        "  user_id text NOT NULL,"
        "  seq bigint NOT NULL,"
        "  sessions bigint NOT NULL,"
        "  result text NOT NULL,"
        "  time_usec bigint NOT NULL,"
        "  PRIMARY KEY (user_id, host_id));"
        "CREATE INDEX audit_id ON audit (id, seq);",
        /* 3 -> 4 */
        "ALTER TABLE users ADD COLUMN left_usec bigint;"
        "ALTER TABLE users ADD COLUMN held_id bigint;"
        "ALTER TABLE groups ADD COLUMN held_id bigint;"
        "CREATE INDEX users_left ON users (left_usec) WHERE left_usec IS NOT NULL;"
        "CREATE INDEX users_held ON users (held_id) WHERE held_id IS NOT NULL;"
        "CREATE TABLE holds ("
        "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  opened_usec bigint NOT NULL,"
        "  approved_usec bigint,"
        "  approved_by text);",
        /* 4 -> 5 */
        "ALTER TABLE outcomes ADD COLUMN steps text;",
        /* 5 -> 6 */
        "ALTER TABLE users ADD COLUMN deleted_usec bigint;"
        "ALTER TABLE groups ADD COLUMN deleted_usec bigint;"
        "DROP INDEX users_user_name;"
        "CREATE UNIQUE INDEX users_user_name ON users (" PG_NOCASE("user_name") ") WHERE deleted_usec IS NULL;"
        "CREATE INDEX users_ghosts ON users (ref) WHERE deleted_usec IS NOT NULL;"
        "CREATE INDEX groups_ghosts ON groups (ref) WHERE deleted_usec IS NOT NULL;",
        /* 6 -> 7 */
        "CREATE TABLE token_hosts ("
        "  token_name text PRIMARY KEY,"
        "  host_id text NOT NULL,"
        "  bound_usec bigint NOT NULL);"
        "CREATE INDEX token_hosts_host ON token_hosts (host_id);",
};
_Static_assert(ELEMENTSOF(pg_migrations) == HUB_STORE_VERSION, "the same versions on both backends");

/* Lists on PostgreSQL: no INDEXED BY (its planner picks the index), a negative LIMIT (a scan)
 * means none, and the all-rows page says what type its NULL is. */
#define PG_LIST_PAGE(table, cond)                                                                           \
        "SELECT " ROW_COLUMNS " FROM " table " WHERE " cond " AND ref > ?2 ORDER BY ref"                    \
        " LIMIT CASE WHEN ?3 < 0 THEN NULL ELSE ?3 END OFFSET ?4"
#define PG_LIST_STATEMENTS(table, name_col)                                                                 \
        PG_LIST_PAGE(table, "(?1::text IS NOT NULL OR deleted_usec IS NULL)"), ALL_COUNT(table),            \
                PG_LIST_PAGE(table, "id = ?1" LIVE), LIST_COUNT(table, "id = ?1" LIVE),                     \
                PG_LIST_PAGE(table, PG_NOCASE(name_col) " = " PG_NOCASE("?1") LIVE),                        \
                LIST_COUNT(table, PG_NOCASE(name_col) " = " PG_NOCASE("?1") LIVE),                          \
                PG_LIST_PAGE(table, "external_id = ?1" LIVE), LIST_COUNT(table, "external_id = ?1" LIVE),   \
                PG_LIST_PAGE(table, "modified_usec > ?1" LIVE), LIST_COUNT(table, "modified_usec > ?1" LIVE), \
                PG_LIST_PAGE(table, "modified_usec >= ?1" LIVE), LIST_COUNT(table, "modified_usec >= ?1" LIVE)

/* The statements whose text differs on PostgreSQL; NULL: the same as SQLite's. */
static const char *const pg_statements[_STMT_MAX] = {
        [STMT_USER_NAME_TAKEN] =
                "SELECT id FROM users WHERE " PG_NOCASE("user_name") " = " PG_NOCASE("?1") " AND ref != ?2" LIVE,
        [STMT_MEMBER_INSERT] = "INSERT INTO members (group_ref, user_ref) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        [STMT_LAST_MODIFIED] = "SELECT greatest(coalesce((SELECT max(modified_usec) FROM users), 0),"
                               " coalesce((SELECT max(modified_usec) FROM groups), 0),"
                               " coalesce((SELECT time_usec FROM changes ORDER BY seq DESC LIMIT 1), 0),"
                               " coalesce((SELECT max(approved_usec) FROM holds), 0))",
        [_STMT_LIST_BASE] = PG_LIST_STATEMENTS("users", "user_name"),
        PG_LIST_STATEMENTS("groups", "display_name"),
};

const HubDbSchema hub_store_pg_schema = {
        .migrations = pg_migrations,
        .n_migrations = ELEMENTSOF(pg_migrations),
        .statements = statements,
        .overrides = pg_statements,
        .n_statements = ELEMENTSOF(statements),
};
