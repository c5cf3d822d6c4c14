/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The store's schema: the migrations (shipped text: append only, never edit a step) and the
 * statements kept prepared, by StmtId. */

#include "store-internal.h"

/* The triggers that hand an account's ids to the ledger (2 -> 3), created again when 3 -> 4
 * rebuilds the users table. Shipped text: never edit. */
#define USERS_RETIRE_TRIGGERS                                                                   \
        "CREATE TRIGGER users_retire_ids AFTER DELETE ON users BEGIN"                           \
        "  INSERT INTO id_ledger (kind, id, owner, name_at_assignment, assigned_usec)"          \
        "  VALUES ('uid', OLD.uid, 'user:' || OLD.scim_id, OLD.name, OLD.created_usec),"        \
        "         ('gid', OLD.gid, 'user:' || OLD.scim_id, OLD.name, OLD.created_usec)"         \
        "  ON CONFLICT (kind, id) DO NOTHING;"                                                  \
        "END;"                                                                                  \
        "CREATE TRIGGER users_retire_changed_ids AFTER UPDATE OF uid, gid ON users"             \
        "  WHEN OLD.uid != NEW.uid OR OLD.gid != NEW.gid BEGIN"                                 \
        "  INSERT INTO id_ledger (kind, id, owner, name_at_assignment, assigned_usec)"          \
        "  VALUES ('uid', OLD.uid, 'user:' || OLD.scim_id, OLD.name, OLD.created_usec),"        \
        "         ('gid', OLD.gid, 'user:' || OLD.scim_id, OLD.name, OLD.created_usec)"         \
        "  ON CONFLICT (kind, id) DO NOTHING;"                                                  \
        "END;"

/* The columns that 0 -> 1 created and later steps rebuilding a table restate (after their new
 * key). Shipped text: never edit. */
#define USERS_COLUMNS_V1                                                                        \
        "  name TEXT UNIQUE NOT NULL,"                                                          \
        "  uid INTEGER UNIQUE NOT NULL,"                                                        \
        "  gid INTEGER NOT NULL,"                                                               \
        "  gecos TEXT NOT NULL,"                                                                \
        "  home TEXT NOT NULL,"                                                                 \
        "  shell TEXT NOT NULL,"                                                                \
        "  source_active INTEGER NOT NULL,"                                                     \
        "  state INTEGER NOT NULL,"                                                             \
        "  blocked INTEGER NOT NULL DEFAULT 0,"                                                 \
        "  created_usec INTEGER NOT NULL DEFAULT 0,"                                            \
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"                                            \
        "  state_changed_usec INTEGER NOT NULL DEFAULT 0,"                                      \
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0"
#define GROUPS_COLUMNS_V1                                                                       \
        "  name TEXT UNIQUE NOT NULL,"                                                          \
        "  gid INTEGER UNIQUE NOT NULL,"                                                        \
        "  local_name TEXT,"                                                                    \
        "  created_usec INTEGER NOT NULL DEFAULT 0,"                                            \
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"                                            \
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0"
#define AUDIT_COLUMNS_V1                                                                        \
        "  time_usec INTEGER NOT NULL,"                                                         \
        "  event TEXT NOT NULL,"                                                                \
        "  user TEXT,"                                                                          \
        "  scim_id TEXT,"                                                                       \
        "  uid INTEGER,"                                                                        \
        "  step TEXT,"                                                                          \
        "  outcome TEXT,"                                                                       \
        "  detail TEXT"

/* Schema migrations: migrations[i] moves a store from user_version i to i + 1. Each runs in its
 * own transaction together with the user_version bump. Append only; never edit a step that has
 * shipped. */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE users ("
        "  scim_id TEXT PRIMARY KEY NOT NULL,"
        USERS_COLUMNS_V1
        ");"
        "CREATE TABLE groups ("
        "  scim_id TEXT PRIMARY KEY NOT NULL,"
        GROUPS_COLUMNS_V1 ","
        "  removed INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE memberships ("
        "  group_scim_id TEXT NOT NULL REFERENCES groups(scim_id) ON DELETE CASCADE,"
        "  user_scim_id TEXT NOT NULL REFERENCES users(scim_id) ON DELETE CASCADE,"
        "  PRIMARY KEY (group_scim_id, user_scim_id)"
        ") WITHOUT ROWID;"
        /* Deleting a user cascades through this index instead of scanning every membership. */
        "CREATE INDEX memberships_user ON memberships(user_scim_id);"
        "CREATE TABLE id_ledger ("
        "  kind TEXT NOT NULL CHECK (kind IN ('uid', 'gid')),"
        "  id INTEGER NOT NULL,"
        "  owner TEXT NOT NULL,"
        "  name_at_assignment TEXT,"
        "  assigned_usec INTEGER NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (kind, id)"
        ");"
        "CREATE INDEX id_ledger_owner ON id_ledger(kind, owner);"
        "CREATE TABLE name_history ("
        "  scim_id TEXT NOT NULL,"
        "  old_name TEXT,"
        "  new_name TEXT,"
        "  changed_usec INTEGER NOT NULL"
        ");"
        "CREATE INDEX name_history_scim_id ON name_history(scim_id);"
        "CREATE TABLE sync_state ("
        "  key TEXT PRIMARY KEY NOT NULL,"
        "  value TEXT"
        ");"
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        AUDIT_COLUMNS_V1
        ");"
        "CREATE INDEX audit_time ON audit(time_usec);"
        "CREATE INDEX audit_user ON audit(user);"
        "CREATE TABLE holds ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  created_usec INTEGER NOT NULL,"
        "  deprovisions INTEGER NOT NULL,"
        "  total INTEGER NOT NULL,"
        "  threshold TEXT,"
        "  scim_ids TEXT NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'superseded')),"
        "  decided_usec INTEGER"
        ");",
        /* 1 -> 2: memberships are looked up by group only. The index by user cost a random
         * b-tree insert (and its pages) per membership, and only deleting an account used it:
         * purges now take all their accounts in one pass instead. */
        "DROP INDEX memberships_user;",
        /* 2 -> 3: an account's uid and private gid are recorded by its users row while it
         * exists (no ledger rows written per joiner: they were a third of a first sync's
         * writes); the ledger receives them when the row goes or its ids change, so that they
         * are never given to anyone else. Rows written before stay as they are. */
        USERS_RETIRE_TRIGGERS
        /* The audit log without AUTOINCREMENT (an update of sqlite_sequence per event) and
         * without the index by time (a b-tree insert per event, for the rare prune): events are
         * only appended, so seq grows with time anyway. */
        "CREATE TABLE audit_v3 ("
        "  seq INTEGER PRIMARY KEY,"
        AUDIT_COLUMNS_V1
        ");"
        "INSERT INTO audit_v3 SELECT seq, time_usec, event, user, scim_id, uid, step, outcome, detail FROM audit;"
        "DROP TABLE audit;"
        "ALTER TABLE audit_v3 RENAME TO audit;"
        "CREATE INDEX audit_user ON audit(user);"
        /* The accounts that are not active (few among all of them), which every sync's
         * enforcement retry reads: a partial index costs nothing when an active one is written. */
        "CREATE INDEX users_refused ON users(state) WHERE state > 0;",
        /* 3 -> 4: memberships refer to their account and group by an integer key (ref, the
         * rowid made explicit so that a VACUUM cannot renumber it) instead of two SCIM ids. With
         * UUID ids a membership took ~85 bytes, 350k of them 30 MB: half of the store, written
         * twice by every first sync (WAL, then checkpoint) and read whole by every export.
         * SQLite cannot add a key to a table: users and groups are rebuilt with the columns of
         * 0 -> 1. */
        "CREATE TABLE users_v4 ("
        "  ref INTEGER PRIMARY KEY,"
        "  scim_id TEXT UNIQUE NOT NULL,"
        USERS_COLUMNS_V1
        ");"
        "INSERT INTO users_v4 SELECT rowid, scim_id, name, uid, gid, gecos, home, shell, source_active, state,"
        "  blocked, created_usec, updated_usec, state_changed_usec, last_seen_usec FROM users;"
        "CREATE TABLE groups_v4 ("
        "  ref INTEGER PRIMARY KEY,"
        "  scim_id TEXT UNIQUE NOT NULL,"
        GROUPS_COLUMNS_V1 ","
        "  removed INTEGER NOT NULL DEFAULT 0"
        ");"
        "INSERT INTO groups_v4 SELECT rowid, scim_id, name, gid, local_name, created_usec, updated_usec,"
        "  last_seen_usec, removed FROM groups;"
        "CREATE TABLE memberships_v4 ("
        "  group_ref INTEGER NOT NULL REFERENCES groups(ref) ON DELETE CASCADE,"
        "  user_ref INTEGER NOT NULL REFERENCES users(ref) ON DELETE CASCADE,"
        "  PRIMARY KEY (group_ref, user_ref)"
        ") WITHOUT ROWID;"
        /* A membership whose account or group was missing was not served: it goes. */
        "INSERT OR IGNORE INTO memberships_v4 SELECT g.ref, u.ref FROM memberships m"
        "  JOIN groups_v4 g ON g.scim_id = m.group_scim_id JOIN users_v4 u ON u.scim_id = m.user_scim_id;"
        "DROP TABLE memberships;"
        "DROP TABLE users;"
        "DROP TABLE groups;"
        "ALTER TABLE users_v4 RENAME TO users;"
        "ALTER TABLE groups_v4 RENAME TO groups;"
        "ALTER TABLE memberships_v4 RENAME TO memberships;"
        USERS_RETIRE_TRIGGERS
        "CREATE INDEX users_refused ON users(state) WHERE state > 0;",
        /* 4 -> 5: the records the sync refused, so that each is audited once (when it first
         * appears or its reason changes), not on every scan. */
        "CREATE TABLE rejects ("
        "  kind TEXT NOT NULL,"
        "  scim_id TEXT NOT NULL,"          /* '' when the record had no readable id */
        "  reason TEXT NOT NULL,"
        "  first_usec INTEGER NOT NULL,"
        "  seen_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (kind, scim_id, reason)"
        ") WITHOUT ROWID;",
        /* 5 -> 6: the OpenSSH public keys the directory gives an account (ssh_keys_attribute),
         * validated, joined by '\n'; NULL when none. */
        "ALTER TABLE users ADD COLUMN ssh_keys TEXT;",
        /* 6 -> 7: the enforcement steps that failed and are to be retried (enforce.c), one row
         * per account and step, instead of rebuilding them from each refused account's audit
         * rows on every sync. Seeded with the steps whose newest audit row is a failure, with
         * the uid and event of that row and the failures in a row that end the step's rows (a
         * step given up on stays given up on). One sort of the steps' rows: audit has no index
         * by scim_id. */
        "CREATE TABLE enforce_pending ("
        "  scim_id TEXT NOT NULL,"
        "  step TEXT NOT NULL,"
        "  uid INTEGER NOT NULL,"
        "  event TEXT NOT NULL,"
        "  failures INTEGER NOT NULL,"
        "  PRIMARY KEY (scim_id, step)"
        ") WITHOUT ROWID;"
        "INSERT INTO enforce_pending SELECT scim_id, step, newest_uid, newest_event, count(*) FROM ("
        "  SELECT scim_id, step, first_value(uid) OVER w AS newest_uid, first_value(event) OVER w AS newest_event,"
        "    sum(outcome IS NOT 'failed') OVER w AS others_since"
        "  FROM audit WHERE step IN ('logind', 'kill') AND scim_id IS NOT NULL AND uid IS NOT NULL"
        "  WINDOW w AS (PARTITION BY scim_id, step ORDER BY seq DESC))"
        "  WHERE others_since = 0 GROUP BY scim_id, step;",
        /* 7 -> 8: what enforcement did for each leaver, not yet taken by the hub ([source] type
         * = hub, POST /v1/acks), one JSON object per row in the order produced; n never reused,
         * so that the rows a POST carried can be removed whatever was added meanwhile. */
        "CREATE TABLE hub_acks ("
        "  n INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  outcome TEXT NOT NULL);",
        /* 8 -> 9: groups without the column removed, which nothing ever set (SQLite before 3.35
         * cannot drop a column: the table is rebuilt, its refs kept, which memberships hold). */
        "CREATE TABLE groups_v9 ("
        "  ref INTEGER PRIMARY KEY,"
        "  scim_id TEXT UNIQUE NOT NULL,"
        GROUPS_COLUMNS_V1
        ");"
        "INSERT INTO groups_v9 SELECT ref, scim_id, name, gid, local_name, created_usec, updated_usec,"
        "  last_seen_usec FROM groups;"
        "DROP TABLE groups;"
        "ALTER TABLE groups_v9 RENAME TO groups;",
};

_Static_assert(ELEMENTSOF(migrations) == PROV_STORE_SCHEMA_VERSION, "one migration step per schema version");
_Static_assert(PROV_STATE_ACTIVE == 0, "the index users_refused holds the accounts with state > 0");

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_USER_GET] = "SELECT " USER_SELECT " FROM users WHERE scim_id = ?1",
        [STMT_USER_GET_BY_NAME] = "SELECT " USER_SELECT " FROM users WHERE name = ?1",
        [STMT_USER_GET_BY_UID] = "SELECT " USER_SELECT " FROM users WHERE uid = ?1",
        [STMT_USER_GET_BY_REF] = "SELECT " USER_SELECT " FROM users WHERE ref = ?1",
        /* key: the position in the JSON array. */
        [STMT_USER_REFS] = "SELECT j.key, u.ref FROM json_each(?2) j JOIN users u ON u.scim_id = j.value",
        /* An upsert, not INSERT OR REPLACE: REPLACE would silently delete another row that holds
         * the same name or uid, and delete-then-insert would drop this user's memberships. */
#define USER_INSERT                                                                             \
        "INSERT INTO users (" USER_COLUMNS ", ssh_keys) "                                        \
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "                                     \
        "        CASE WHEN ?11 != 0 THEN ?11 ELSE ?15 END, "                                    \
        "        CASE WHEN ?12 != 0 THEN ?12 ELSE ?15 END, "                                    \
        "        CASE WHEN ?13 != 0 THEN ?13 ELSE ?15 END, ?14, ?16) "
        /* Without the upsert: an UPDATE trigger (migration 2 -> 3) costs every upsert a
         * statement journal, a third of a first sync's inserts. */
        [STMT_USER_ADD] = USER_INSERT,
        [STMT_USER_PUT] =
                USER_INSERT
                "ON CONFLICT (scim_id) DO UPDATE SET "
                "  name = excluded.name, uid = excluded.uid, gid = excluded.gid, gecos = excluded.gecos, "
                "  home = excluded.home, shell = excluded.shell, source_active = excluded.source_active, "
                "  ssh_keys = excluded.ssh_keys, "
                "  state_changed_usec = CASE WHEN ?13 != 0 THEN ?13 "
                "                            WHEN users.state != excluded.state THEN excluded.updated_usec "
                "                            ELSE users.state_changed_usec END, "
                "  state = excluded.state, blocked = excluded.blocked, "
                "  updated_usec = excluded.updated_usec, last_seen_usec = excluded.last_seen_usec",
        [STMT_USER_DELETE] = "DELETE FROM users WHERE scim_id = ?1",
        [STMT_GROUP_GET] = "SELECT " GROUP_SELECT " FROM groups WHERE scim_id = ?1",
        [STMT_GROUP_GET_BY_NAME] = "SELECT " GROUP_SELECT " FROM groups WHERE name = ?1",
        [STMT_GROUP_PUT] =
                "INSERT INTO groups (" GROUP_COLUMNS ") "
                "VALUES (?1, ?2, ?3, ?4, "
                "        CASE WHEN ?5 != 0 THEN ?5 ELSE ?8 END, "
                "        CASE WHEN ?6 != 0 THEN ?6 ELSE ?8 END, ?7) "
                "ON CONFLICT (scim_id) DO UPDATE SET "
                "  name = excluded.name, gid = excluded.gid, local_name = excluded.local_name, "
                "  updated_usec = excluded.updated_usec, "
                "  last_seen_usec = excluded.last_seen_usec",
        [STMT_GROUP_DELETE] = "DELETE FROM groups WHERE scim_id = ?1",
        [STMT_GROUP_EXISTS] = "SELECT 1 FROM groups WHERE scim_id = ?1",
        /* Memberships hold refs; those taking SCIM ids find the refs by the ids' indexes. */
#define GROUP_REF "(SELECT ref FROM groups WHERE scim_id = ?1)"
        [STMT_MEMBERS_CLEAR] = "DELETE FROM memberships WHERE group_ref = " GROUP_REF,
        /* The join makes unknown ids drop out instead of adding a dangling reference. */
        [STMT_MEMBER_ADD] = "INSERT OR IGNORE INTO memberships (group_ref, user_ref) "
                            "SELECT g.ref, u.ref FROM groups g, users u WHERE g.scim_id = ?1 AND u.scim_id = ?2",
        /* Rows are never deleted, so the highest rowid is the latest assignment; the owner index
         * ends in rowid and answers this without a sort. */
        [STMT_LEDGER_LOOKUP] = "SELECT id FROM id_ledger WHERE kind = ?1 AND owner = ?2 "
                               "ORDER BY rowid DESC LIMIT 1",
        [STMT_LEDGER_OWNER] = "SELECT owner FROM id_ledger WHERE kind = ?1 AND id = ?2",
        /* A user's gid is its private group's, equal to its uid (prov_store_user_put() checks). */
        [STMT_LIVE_USER_BY_UID] = "SELECT 'user:' || scim_id FROM users WHERE uid = ?1",
        [STMT_LIVE_GROUP_BY_GID] = "SELECT 'group:' || scim_id FROM groups WHERE gid = ?1",
        [STMT_LIVE_USER_UID] = "SELECT uid FROM users WHERE scim_id = ?1",
        [STMT_LIVE_GROUP_GID] = "SELECT gid FROM groups WHERE scim_id = ?1",
        [STMT_LEDGER_INSERT] = "INSERT INTO id_ledger (kind, id, owner, name_at_assignment, assigned_usec) "
                               "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, id) DO NOTHING",
        [STMT_STATE_GET] = "SELECT value FROM sync_state WHERE key = ?1",
        [STMT_STATE_SET] = "INSERT INTO sync_state (key, value) VALUES (?1, ?2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [STMT_AUDIT_ADD] = "INSERT INTO audit (time_usec, event, user, scim_id, uid, step, outcome, detail) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [STMT_MEMBERS_ALL] = "SELECT g.scim_id, u.scim_id FROM memberships m "
                             "JOIN groups g ON g.ref = m.group_ref JOIN users u ON u.ref = m.user_ref "
                             "ORDER BY g.scim_id, u.scim_id",
        [STMT_MEMBER_REFS] = "SELECT group_ref, user_ref FROM memberships",
        [STMT_MEMBER_REFS_OF] = "SELECT group_ref, user_ref FROM memberships WHERE group_ref = " GROUP_REF
                                " ORDER BY user_ref",
        [STMT_MEMBERS_REMOVE_REFS] = "DELETE FROM memberships WHERE group_ref = " GROUP_REF " "
                                     "AND user_ref IN (SELECT value FROM json_each(?2))",
        [STMT_MEMBERS_OF_USERS_CLEAR] = "DELETE FROM memberships WHERE user_ref IN "
                                        "(SELECT ref FROM users WHERE scim_id IN (SELECT value FROM json_each(?2)))",
        [STMT_MEMBERS_ADD_REFS] = "INSERT OR IGNORE INTO memberships (group_ref, user_ref) "
                                  "SELECT " GROUP_REF ", value FROM json_each(?2)",
#undef GROUP_REF
};

const ProvSqlSchema store_schema = {
        .migrations = migrations,
        .n_migrations = ELEMENTSOF(migrations),
        .statements = stmt_sql,
        .n_statements = _STMT_MAX,
        .what = "store",
};
