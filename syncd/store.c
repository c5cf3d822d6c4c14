/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The SQLite store of provision-syncd. See store.h for the contract.
 *
 * Opening, migrations, errors and transactions go through the SQLite core (common/prov-sql.h),
 * shared with the hub. Hot paths (the statements a 100k-user sync runs once per record) are kept
 * prepared by the core, by StmtId; every use resets and clears them on scope exit, so that a
 * statement never holds a read transaction open or a pointer to a caller's string. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prov-sql.h"
#include "prov-util.h"
#include "store.h"

/* The page cache of the read-write handle, KiB: what a 100k-account sync needs without
 * spilling much, within the daemon's 64 MiB. Since memberships are integer pairs (schema 4)
 * 6 MiB cost no more CPU than 8 MiB in interleaved runs, and the first sync peaks 1.5 MiB
 * lower; 4-5 MiB gained nothing more (the scan then has the peak). */
#define PROV_STORE_CACHE_KIB 6144
/* For reads that visit each page once (the snapshot export): the cache would only hold memory. */
#define PROV_STORE_STREAM_CACHE_KIB 1024

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

/* Schema migrations: migrations[i] moves a store from user_version i to i + 1. Each runs in its
 * own transaction together with the user_version bump. Append only; never edit a step that has
 * shipped. */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE users ("
        "  scim_id TEXT PRIMARY KEY NOT NULL,"
        "  name TEXT UNIQUE NOT NULL,"
        "  uid INTEGER UNIQUE NOT NULL,"
        "  gid INTEGER NOT NULL,"
        "  gecos TEXT NOT NULL,"
        "  home TEXT NOT NULL,"
        "  shell TEXT NOT NULL,"
        "  source_active INTEGER NOT NULL,"
        "  state INTEGER NOT NULL,"
        "  blocked INTEGER NOT NULL DEFAULT 0,"
        "  created_usec INTEGER NOT NULL DEFAULT 0,"
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"
        "  state_changed_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE groups ("
        "  scim_id TEXT PRIMARY KEY NOT NULL,"
        "  name TEXT UNIQUE NOT NULL,"
        "  gid INTEGER UNIQUE NOT NULL,"
        "  local_name TEXT,"
        "  created_usec INTEGER NOT NULL DEFAULT 0,"
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0,"
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
        "  time_usec INTEGER NOT NULL,"
        "  event TEXT NOT NULL,"
        "  user TEXT,"
        "  scim_id TEXT,"
        "  uid INTEGER,"
        "  step TEXT,"
        "  outcome TEXT,"
        "  detail TEXT"
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
         * b-tree insert per membership (with UUID ids, 30 MB at 100k users), and only deleting
         * an account used it: purges now take all their accounts in one pass instead. */
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
        "  time_usec INTEGER NOT NULL,"
        "  event TEXT NOT NULL,"
        "  user TEXT,"
        "  scim_id TEXT,"
        "  uid INTEGER,"
        "  step TEXT,"
        "  outcome TEXT,"
        "  detail TEXT"
        ");"
        "INSERT INTO audit_v3 SELECT seq, time_usec, event, user, scim_id, uid, step, outcome, detail FROM audit;"
        "DROP TABLE audit;"
        "ALTER TABLE audit_v3 RENAME TO audit;"
        "CREATE INDEX audit_user ON audit(user);"
        /* The accounts that are not active (a handful among 100k), which every sync's
         * enforcement retry reads: a partial index costs nothing when an active one is written. */
        "CREATE INDEX users_refused ON users(state) WHERE state > 0;",
        /* 3 -> 4: memberships refer to their account and group by an integer key (ref, the
         * rowid made explicit so that a VACUUM cannot renumber it) instead of two SCIM ids. With
         * UUID ids a membership took ~85 bytes, 350k of them 30 MB: half of the store, written
         * twice by every first sync (WAL, then checkpoint) and read whole by every export.
         * SQLite cannot add a key to a table: users and groups are rebuilt, their columns
         * restated here rather than shared with 0 -> 1, so that no later edit can change what a
         * shipped step creates. */
        "CREATE TABLE users_v4 ("
        "  ref INTEGER PRIMARY KEY,"
        "  scim_id TEXT UNIQUE NOT NULL,"
        "  name TEXT UNIQUE NOT NULL,"
        "  uid INTEGER UNIQUE NOT NULL,"
        "  gid INTEGER NOT NULL,"
        "  gecos TEXT NOT NULL,"
        "  home TEXT NOT NULL,"
        "  shell TEXT NOT NULL,"
        "  source_active INTEGER NOT NULL,"
        "  state INTEGER NOT NULL,"
        "  blocked INTEGER NOT NULL DEFAULT 0,"
        "  created_usec INTEGER NOT NULL DEFAULT 0,"
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"
        "  state_changed_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0"
        ");"
        "INSERT INTO users_v4 SELECT rowid, scim_id, name, uid, gid, gecos, home, shell, source_active, state,"
        "  blocked, created_usec, updated_usec, state_changed_usec, last_seen_usec FROM users;"
        "CREATE TABLE groups_v4 ("
        "  ref INTEGER PRIMARY KEY,"
        "  scim_id TEXT UNIQUE NOT NULL,"
        "  name TEXT UNIQUE NOT NULL,"
        "  gid INTEGER UNIQUE NOT NULL,"
        "  local_name TEXT,"
        "  created_usec INTEGER NOT NULL DEFAULT 0,"
        "  updated_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_seen_usec INTEGER NOT NULL DEFAULT 0,"
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
};

_Static_assert(ELEMENTSOF(migrations) == PROV_STORE_SCHEMA_VERSION, "one migration step per schema version");
_Static_assert(PROV_STATE_ACTIVE == 0, "the index users_refused holds the accounts with state > 0");

#define USER_COLUMNS                                                                            \
        "scim_id, name, uid, gid, gecos, home, shell, source_active, state, blocked, "          \
        "created_usec, updated_usec, state_changed_usec, last_seen_usec"
#define GROUP_COLUMNS "scim_id, name, gid, local_name, removed, created_usec, updated_usec, last_seen_usec"
/* What the reads select: the written columns, then the row's key, then the columns added
 * later (each written by its own parameter after ?15). */
#define USER_SELECT USER_COLUMNS ", ref, ssh_keys"
#define GROUP_SELECT GROUP_COLUMNS ", ref"
#define AUDIT_COLUMNS "seq, time_usec, event, user, scim_id, uid, step, outcome, detail"

/* Statements kept prepared for the lifetime of the handle. */
typedef enum StmtId {
        STMT_USER_GET,
        STMT_USER_GET_BY_NAME,
        STMT_USER_GET_BY_UID,
        STMT_USER_GET_BY_REF,
        STMT_USER_REFS,
        STMT_USER_ADD,
        STMT_USER_PUT,
        STMT_USER_DELETE,
        STMT_GROUP_GET,
        STMT_GROUP_GET_BY_NAME,
        STMT_GROUP_PUT,
        STMT_GROUP_DELETE,
        STMT_GROUP_EXISTS,
        STMT_MEMBERS_CLEAR,
        STMT_MEMBER_ADD,
        STMT_LEDGER_LOOKUP,
        STMT_LEDGER_OWNER,
        STMT_LIVE_USER_BY_UID,
        STMT_LIVE_GROUP_BY_GID,
        STMT_LIVE_USER_UID,
        STMT_LIVE_GROUP_GID,
        STMT_LEDGER_INSERT,
        STMT_STATE_GET,
        STMT_STATE_SET,
        STMT_AUDIT_ADD,
        STMT_MEMBERS_ALL,
        STMT_MEMBER_REFS,
        STMT_MEMBER_REFS_OF,
        STMT_MEMBERS_REMOVE_REFS,
        STMT_MEMBERS_OF_USERS_CLEAR,
        STMT_MEMBERS_ADD_REFS,
        _STMT_MAX,
} StmtId;

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
                "VALUES (?1, ?2, ?3, ?4, ?5, "
                "        CASE WHEN ?6 != 0 THEN ?6 ELSE ?9 END, "
                "        CASE WHEN ?7 != 0 THEN ?7 ELSE ?9 END, ?8) "
                "ON CONFLICT (scim_id) DO UPDATE SET "
                "  name = excluded.name, gid = excluded.gid, local_name = excluded.local_name, "
                "  removed = excluded.removed, updated_usec = excluded.updated_usec, "
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

/* The ids of one kind taken within [min, max], one bit each: those of the ledger, of the
 * accounts and groups, and those reserved in the open transaction for accounts about to be
 * written. Allocation scans it instead of the indexes, so that finding a free id after a dense
 * block of directory uids costs a word scan, not a query per id. Built on first use, kept in
 * step by ledger_insert() and the reservations, and dropped on every rollback (the rows it saw
 * may be gone). */
typedef struct IdBitmap {
        bool valid;
        uint32_t min, max;
        uint64_t *bits;
} IdBitmap;

struct ProvStore {
        ProvSql *sql;   /* opening, kept statements, errors and transactions (common/sql.c) */
        sqlite3 *db;    /* prov_sql_db(sql), for changes and rowids */
        IdBitmap used[2]; /* by ProvIdKind */
};

/* Records a message of the store's own for prov_store_errmsg(). */
#define store_msg(s, ...) ((void) prov_sql_failf((s)->sql, 0, __VA_ARGS__))

static void id_bitmaps_drop(ProvStore *s) {
        for (size_t i = 0; i < ELEMENTSOF(s->used); i++) {
                free(s->used[i].bits);
                s->used[i] = (IdBitmap) {};
        }
}

static void id_bitmap_set(ProvStore *s, unsigned k, uint32_t id) {
        IdBitmap *b = &s->used[k];
        if (b->valid && id >= b->min && id <= b->max)
                b->bits[(id - b->min) / 64] |= UINT64_C(1) << ((id - b->min) % 64);
}

/* 1 if the bitmap has id, 0 if it shows id free, -1 if it does not cover id. */
static int id_bitmap_test(const ProvStore *s, unsigned k, uint32_t id) {
        const IdBitmap *b = &s->used[k];
        if (!b->valid || id < b->min || id > b->max)
                return -1;
        return !!(b->bits[(id - b->min) / 64] & (UINT64_C(1) << ((id - b->min) % 64)));
}

/* The 64 bits starting at id, which need not be aligned in b. */
static uint64_t id_bitmap_word(const IdBitmap *b, uint32_t id) {
        uint64_t off = id - b->min, w = b->bits[off / 64] >> (off % 64);
        if (off % 64 && off / 64 + 1 <= (uint64_t) (b->max - b->min) / 64)
                w |= b->bits[off / 64 + 1] << (64 - off % 64);
        return w;
}

static bool id_bitmap_get(const IdBitmap *b, uint32_t id) {
        return b->bits[(id - b->min) / 64] & (UINT64_C(1) << ((id - b->min) % 64));
}

int64_t prov_now_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (int64_t) ts.tv_sec * INT64_C(1000000) + ts.tv_nsec / 1000;
}

/* The store's names for the SQLite core's calls (common/sql.c), which maps result codes to
 * -errno in one place and keeps the message of the last failure. */
static int store_fail_last(ProvStore *s) {
        return prov_sql_fail(s->sql, 0);
}

const char *prov_store_errmsg(ProvStore *s) {
        return s ? prov_sql_errmsg(s->sql) : "";
}

#define _cleanup_reset_ _cleanup_sql_reset_
#define _cleanup_finalize_ _cleanup_sql_finalize_

/* Hands out the kept statement `id`, preparing it on first use. The caller holds it in a
 * _cleanup_reset_ variable. */
static int stmt_get(ProvStore *s, StmtId id, sqlite3_stmt **ret) {
        return prov_sql_stmt(s->sql, id, ret);
}

/* Prepares a one-off statement (cold paths: loads, holds). */
static int stmt_prepare(ProvStore *s, const char *sql, sqlite3_stmt **ret) {
        return prov_sql_prepare(s->sql, sql, ret);
}

/* Steps a statement that returns no row. */
static int stmt_exec(ProvStore *s, sqlite3_stmt *st) {
        return prov_sql_run(s->sql, st);
}

/* Steps a statement that returns at most one row: 1 with a row, 0 without. */
static int stmt_step(ProvStore *s, sqlite3_stmt *st) {
        return prov_sql_step(s->sql, st);
}

static int exec_sql(ProvStore *s, const char *sql) {
        return prov_sql_exec(s->sql, sql);
}

static int column_strdup(ProvStore *s, sqlite3_stmt *st, int i, bool nullable, char **ret) {
        return prov_sql_column_strdup(s->sql, st, i, nullable, ret);
}

/* Reads a column that must hold a uid_t/gid_t value; anything else is corruption. */
static int column_id(ProvStore *s, sqlite3_stmt *st, int i, uint32_t *ret) {
        int64_t v;

        if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
                goto bad;
        v = sqlite3_column_int64(st, i);
        if (v < 0 || v >= (int64_t) UINT32_MAX)
                goto bad;
        *ret = (uint32_t) v;
        return 0;
bad:
        store_msg(s, "column %s is not a valid id", sqlite3_column_name(st, i));
        return -EBADMSG;
}

static const char *kind_to_string(ProvIdKind k) {
        return k == PROV_ID_GID ? "gid" : "uid";
}

/* Multi-statement operations are transaction scopes of the SQLite core: their own transaction
 * when none is open, else a savepoint inside the caller's, so that a failure never leaves half
 * an operation behind either way. A rollback drops the id bitmaps (the rows they saw may be
 * gone): id_bitmaps_drop() is the core's rollback hook. */
typedef ProvSqlTx Op;
#define _cleanup_op_ _cleanup_sql_tx_

static int op_begin(ProvStore *s, Op *op) {
        return prov_sql_begin(s->sql, op);
}

static int op_commit(Op *op) {
        return prov_sql_commit(op);
}

static const ProvSqlSchema store_schema = {
        .migrations = migrations,
        .n_migrations = ELEMENTSOF(migrations),
        .statements = stmt_sql,
        .n_statements = _STMT_MAX,
        .what = "store",
};

static void store_rollback_hook(void *userdata) {
        id_bitmaps_drop(userdata);
}

ProvStore *prov_store_close(ProvStore *s) {
        if (!s)
                return NULL;

        id_bitmaps_drop(s);
        /* Rolls back a transaction left open. */
        prov_sql_close(s->sql);
        free(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(ProvStore *, prov_store_close);

static int store_new(const char *path, int version, unsigned flags, unsigned cache_kib, ProvStore **ret) {
        _cleanup_(prov_store_closep) ProvStore *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        r = prov_sql_open(path, &store_schema, version, flags, cache_kib, &s->sql);
        if (r < 0)
                return r;
        s->db = prov_sql_db(s->sql);
        prov_sql_set_rollback_hook(s->sql, store_rollback_hook, s);
        *ret = TAKE_PTR(s);
        return 0;
}

int prov_store_open(const char *path, ProvStore **ret) {
        return prov_store_open_at_version(path, PROV_STORE_SCHEMA_VERSION, ret);
}

int prov_store_open_at_version(const char *path, int version, ProvStore **ret) {
        _cleanup_(prov_store_closep) ProvStore *s = NULL;
        int r;

        if (!path || !ret || version < 0 || version > PROV_STORE_SCHEMA_VERSION)
                return -EINVAL;

        /* WAL lets provisionctl read while we write; DURABLE (synchronous=FULL) makes every
         * commit (a deprovision above all) survive power loss, not only a crash of the
         * process. */
        r = store_new(path, version, PROV_SQL_DURABLE, PROV_STORE_CACHE_KIB, &s);
        if (r < 0)
                return r;

        /* Foreign keys are not enforced by SQLite here: checking the two parents of every
         * membership doubled the cost of a 100k-user first sync. The store keeps them itself:
         * memberships are only added for accounts it has (or that the sync just wrote), and
         * deleting an account or a group deletes its memberships in the same operation.
         * tests/unit/test-sync.c checks PRAGMA foreign_key_check after every kind of change. */
        r = exec_sql(s, "PRAGMA foreign_keys = OFF");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int prov_store_open_readonly(const char *path, ProvStore **ret) {
        if (!path || !ret)
                return -EINVAL;
        /* Refuses a store at another version: -EPROTONOSUPPORT newer, -ESTALE older. */
        return store_new(path, PROV_STORE_SCHEMA_VERSION, PROV_SQL_READONLY, 0, ret);
}

int prov_store_schema_version(ProvStore *s) {
        int v, r;

        if (!s)
                return -EINVAL;
        r = prov_sql_version(s->sql, &v);
        if (r < 0)
                return r;
        return v;
}

int prov_store_begin(ProvStore *s) {
        if (!s)
                return -EINVAL;
        /* Another process (provision-syncd --once beside the daemon) may have written the
         * ledger since our last transaction: start from the database. */
        id_bitmaps_drop(s);
        return prov_sql_transaction_begin(s->sql);
}

int prov_store_commit(ProvStore *s) {
        if (!s)
                return -EINVAL;
        return prov_sql_transaction_commit(s->sql);
}

int prov_store_rollback(ProvStore *s) {
        if (!s)
                return -EINVAL;
        id_bitmaps_drop(s);
        return prov_sql_transaction_rollback(s->sql);
}

bool prov_store_in_transaction(ProvStore *s) {
        return s && prov_sql_in_transaction(s->sql);
}

/* ---- users ---- */

void prov_user_record_done(ProvUserRecord *u) {
        if (!u)
                return;
        free(u->scim_id);
        free(u->name);
        free(u->gecos);
        free(u->home);
        free(u->shell);
        free(u->ssh_keys);
        *u = (ProvUserRecord) {};
}

void prov_user_records_free(ProvUserRecord *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                prov_user_record_done(&v[i]);
        free(v);
}

/* A text column that must not be NULL, borrowed from the statement: valid until the next step. */
static int column_view(ProvStore *s, sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *t = sqlite3_column_text(st, i);

        if (!t) {
                if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
                        return -ENOMEM;
                store_msg(s, "column %s is NULL", sqlite3_column_name(st, i));
                return -EBADMSG;
        }
        *ret = (char *) t;
        return 0;
}

/* Reads one row of USER_SELECT into u, its strings borrowed from the statement. */
static int user_row_view(ProvStore *s, sqlite3_stmt *st, ProvUserRecord *ret) {
        ProvUserRecord u = {};
        int64_t state;
        int r;

        if ((r = column_view(s, st, 0, &u.scim_id)) < 0 ||
            (r = column_view(s, st, 1, &u.name)) < 0 ||
            (r = column_id(s, st, 2, &u.uid)) < 0 ||
            (r = column_id(s, st, 3, &u.gid)) < 0 ||
            (r = column_view(s, st, 4, &u.gecos)) < 0 ||
            (r = column_view(s, st, 5, &u.home)) < 0 ||
            (r = column_view(s, st, 6, &u.shell)) < 0)
                return r;

        state = sqlite3_column_int64(st, 8);
        if (state < 0 || state >= _PROV_STATE_MAX) {
                store_msg(s, "invalid state %" PRIi64, state);
                return -EBADMSG;
        }
        u.source_active = sqlite3_column_int64(st, 7) != 0;
        u.state = (ProvState) state;
        u.blocked = sqlite3_column_int64(st, 9) != 0;
        u.created_usec = sqlite3_column_int64(st, 10);
        u.updated_usec = sqlite3_column_int64(st, 11);
        u.state_changed_usec = sqlite3_column_int64(st, 12);
        u.last_seen_usec = sqlite3_column_int64(st, 13);
        u.ref = sqlite3_column_int64(st, 14);
        /* NULL (no keys) is a NULL column, not an error. */
        u.ssh_keys = (char *) sqlite3_column_text(st, 15);
        if (!u.ssh_keys && sqlite3_column_type(st, 15) != SQLITE_NULL)
                return -ENOMEM;
        *ret = u;
        return 0;
}

/* Reads one row of USER_SELECT into a record that owns its strings. */
static int user_from_row(ProvStore *s, sqlite3_stmt *st, ProvUserRecord *ret) {
        _cleanup_(prov_user_record_done) ProvUserRecord u = {};
        ProvUserRecord view;
        int r;

        r = user_row_view(s, st, &view);
        if (r < 0)
                return r;
        u = view;
        u.scim_id = strdup(view.scim_id);
        u.name = strdup(view.name);
        u.gecos = strdup(view.gecos);
        u.home = strdup(view.home);
        u.shell = strdup(view.shell);
        u.ssh_keys = view.ssh_keys ? strdup(view.ssh_keys) : NULL;
        if (!u.scim_id || !u.name || !u.gecos || !u.home || !u.shell || (view.ssh_keys && !u.ssh_keys))
                return -ENOMEM;
        *ret = u;
        u = (ProvUserRecord) {};
        return 0;
}

static int user_get_one(ProvStore *s, sqlite3_stmt *st, ProvUserRecord *ret) {
        int r;

        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return user_from_row(s, st, ret);
}

int prov_store_user_get(ProvStore *s, const char *scim_id, ProvUserRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !scim_id || !ret)
                return -EINVAL;
        r = stmt_get(s, STMT_USER_GET, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        return user_get_one(s, st, ret);
}

int prov_store_user_get_by_name(ProvStore *s, const char *name, ProvUserRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !name || !ret)
                return -EINVAL;
        r = stmt_get(s, STMT_USER_GET_BY_NAME, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        return user_get_one(s, st, ret);
}

static int user_get_by_int(ProvStore *s, StmtId id, int64_t key, ProvUserRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, key) != SQLITE_OK)
                return store_fail_last(s);
        return user_get_one(s, st, ret);
}

int prov_store_user_get_by_uid(ProvStore *s, uint32_t uid, ProvUserRecord *ret) {
        return user_get_by_int(s, STMT_USER_GET_BY_UID, uid, ret);
}

int prov_store_user_get_by_ref(ProvStore *s, int64_t ref, ProvUserRecord *ret) {
        return user_get_by_int(s, STMT_USER_GET_BY_REF, ref, ret);
}

static int user_write(ProvStore *s, StmtId id, const ProvUserRecord *u) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !u || !u->scim_id || !u->name || !u->home || !u->shell)
                return -EINVAL;
        if (u->uid == UINT32_MAX || u->gid == UINT32_MAX || u->state < 0 || u->state >= _PROV_STATE_MAX)
                return -EINVAL;
        /* The primary group is the private group: the ledger finds a user's gid by its uid. */
        if (u->gid != u->uid)
                return -EINVAL;

        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, u->scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, u->name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, u->uid) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, u->gid) != SQLITE_OK ||
            sqlite3_bind_text(st, 5, u->gecos ?: "", -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 6, u->home, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 7, u->shell, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int(st, 8, u->source_active) != SQLITE_OK ||
            sqlite3_bind_int(st, 9, (int) u->state) != SQLITE_OK ||
            sqlite3_bind_int(st, 10, u->blocked) != SQLITE_OK ||
            sqlite3_bind_int64(st, 11, u->created_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 12, u->updated_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 13, u->state_changed_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 14, u->last_seen_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 15, prov_now_usec()) != SQLITE_OK ||
            (u->ssh_keys && u->ssh_keys[0] ? sqlite3_bind_text(st, 16, u->ssh_keys, -1, SQLITE_STATIC)
                                           : sqlite3_bind_null(st, 16)) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_user_put(ProvStore *s, const ProvUserRecord *u) {
        return user_write(s, STMT_USER_PUT, u);
}

int prov_store_user_add(ProvStore *s, const ProvUserRecord *u, int64_t *ret_ref) {
        int r = user_write(s, STMT_USER_ADD, u);

        if (r < 0)
                return r;
        /* A plain INSERT: the rowid it made is the new row's ref. */
        if (ret_ref)
                *ret_ref = sqlite3_last_insert_rowid(s->db);
        return 0;
}

/* Runs a cached single-key DELETE; -ENOENT when nothing matched. */
static int delete_by_key(ProvStore *s, StmtId id, const char *key) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key)
                return -EINVAL;
        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

/* Up to this many ids per statement: few statements, and a bounded JSON text beside them. */
#define IDS_PER_STATEMENT 2048u

/* Makes room for len + 1 bytes in *buf. */
static int json_reserve(char **buf, size_t *cap, size_t len) {
        if (len + 1 > *cap) {
                char *p = realloc(*buf, len + 1);
                if (!p)
                        return -ENOMEM;
                *buf = p;
                *cap = len + 1;
        }
        return 0;
}

/* Writes items [first, first + n) of a string array as a JSON array of strings into *buf
 * (grown as needed): what json_each() unrolls in the statements that take many ids at once.
 * Returns the length. */
static int json_id_array(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len) {
        char *const *ids = (char *const *) items + first;
        size_t len = 2, k = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                len += 3;
                for (const char *p = ids[i]; *p; p++)
                        len += *p == '"' || *p == '\\' ? 2 : (unsigned char) *p < 0x20 ? 6 : 1;
        }
        r = json_reserve(buf, cap, len);
        if (r < 0)
                return r;
        char *json = *buf;
        json[k++] = '[';
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        json[k++] = ',';
                json[k++] = '"';
                for (const unsigned char *p = (const unsigned char *) ids[i]; *p; p++) {
                        if (*p == '"' || *p == '\\') {
                                json[k++] = '\\';
                                json[k++] = (char) *p;
                        } else if (*p < 0x20)
                                k += (size_t) snprintf(json + k, 7, "\\u%04x", *p);
                        else
                                json[k++] = (char) *p;
                }
                json[k++] = '"';
        }
        json[k++] = ']';
        json[k] = '\0';
        *ret_len = k;
        return 0;
}

/* The same for items of an int64_t array: a JSON array of numbers. */
static int json_ref_array(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len) {
        const int64_t *refs = (const int64_t *) items + first;
        size_t k = 0;
        int r;

        /* "-9223372036854775808," is 21 bytes. */
        r = json_reserve(buf, cap, 2 + n * 21);
        if (r < 0)
                return r;
        char *json = *buf;
        json[k++] = '[';
        for (size_t i = 0; i < n; i++)
                k += (size_t) snprintf(json + k, 22, i > 0 ? ",%" PRIi64 : "%" PRIi64, refs[i]);
        json[k++] = ']';
        json[k] = '\0';
        *ret_len = k;
        return 0;
}

typedef int (*JsonArrayWriter)(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len);

/* Runs statement id once per IDS_PER_STATEMENT items, ?2 bound to them as a JSON array
 * written by json_array and ?1 to key (if not NULL). Each row it returns goes to row (if not
 * NULL) with the position of the chunk's first item. */
static int exec_with_ids(ProvStore *s, StmtId id, const char *key, const void *items, size_t n,
                         JsonArrayWriter json_array, int (*row)(sqlite3_stmt *st, size_t first, void *userdata),
                         void *userdata) {
        _cleanup_free_ char *json = NULL;
        size_t cap = 0;
        int r;

        for (size_t first = 0; first < n; first += IDS_PER_STATEMENT) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                size_t len;

                r = json_array(items, first, n - first < IDS_PER_STATEMENT ? n - first : IDS_PER_STATEMENT, &json,
                               &cap, &len);
                if (r < 0)
                        return r;
                r = stmt_get(s, id, &st);
                if (r < 0)
                        return r;
                if ((key && sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) ||
                    sqlite3_bind_text(st, 2, json, (int) len, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                while ((r = stmt_step(s, st)) > 0)
                        if (row && (r = row(st, first, userdata)) < 0)
                                return r;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int user_ref_row(sqlite3_stmt *st, size_t first, void *userdata) {
        int64_t *refs = userdata, k = sqlite3_column_int64(st, 0);

        if (k < 0 || k >= (int64_t) IDS_PER_STATEMENT)
                return -EBADMSG;
        refs[first + (size_t) k] = sqlite3_column_int64(st, 1);
        return 0;
}

int prov_store_user_refs(ProvStore *s, char *const *scim_ids, size_t n, int64_t *ret_refs) {
        if (!s || (n > 0 && (!scim_ids || !ret_refs)))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                ret_refs[i] = 0;
        return exec_with_ids(s, STMT_USER_REFS, NULL, scim_ids, n, json_id_array, user_ref_row, ret_refs);
}

int prov_store_users_purge(ProvStore *s, char *const *scim_ids, size_t n) {
        _cleanup_op_ Op op = {};
        size_t deleted = 0;
        int r;

        if (!s || (n > 0 && !scim_ids))
                return -EINVAL;
        if (n == 0)
                return 0;
        r = op_begin(s, &op);
        if (r < 0)
                return r;
        /* Memberships are indexed by group only: one pass over them per 2048 accounts. */
        r = exec_with_ids(s, STMT_MEMBERS_OF_USERS_CLEAR, NULL, scim_ids, n, json_id_array, NULL, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = delete_by_key(s, STMT_USER_DELETE, scim_ids[i]);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                deleted++;
        }
        r = op_commit(&op);
        if (r < 0)
                return r;
        return deleted > INT_MAX ? INT_MAX : (int) deleted;
}

int prov_store_user_delete(ProvStore *s, const char *scim_id) {
        int r;

        if (!scim_id)
                return -EINVAL;
        r = prov_store_users_purge(s, (char *const[]) { (char *) scim_id }, 1);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int prov_store_users_load(ProvStore *s, ProvUserRecord **ret, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        ProvUserRecord *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = stmt_prepare(s, "SELECT " USER_SELECT " FROM users ORDER BY uid", &st);
        if (r < 0)
                return r;
        for (;;) {
                r = stmt_step(s, st);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                r = prov_grow((void **) &v, &allocated, n + 1, sizeof(*v));
                if (r < 0)
                        goto fail;
                r = user_from_row(s, st, &v[n]);
                if (r < 0)
                        goto fail;
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        prov_user_records_free(v, n);
        return r;
}

int prov_store_users_foreach(ProvStore *s, ProvUserOrder order,
                             int (*cb)(const ProvUserRecord *u, void *userdata), void *userdata) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !cb)
                return -EINVAL;
        r = stmt_prepare(s,
                         order == PROV_USER_ORDER_SCIM_ID ? "SELECT " USER_SELECT " FROM users ORDER BY scim_id"
                         : order == PROV_USER_ORDER_UID   ? "SELECT " USER_SELECT " FROM users ORDER BY uid"
                         : order == PROV_USER_ORDER_REFUSED
                                 ? "SELECT " USER_SELECT " FROM users INDEXED BY users_refused WHERE state > 0"
                                                          : "SELECT " USER_SELECT " FROM users ORDER BY ref",
                         &st);
        if (r < 0)
                return r;
        for (;;) {
                ProvUserRecord u;

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = user_row_view(s, st, &u);
                if (r < 0)
                        return r;
                r = cb(&u, userdata);
                if (r < 0)
                        return r;
        }
}

/* ---- groups ---- */

void prov_group_record_done(ProvGroupRecord *g) {
        if (!g)
                return;
        free(g->scim_id);
        free(g->name);
        free(g->local_name);
        *g = (ProvGroupRecord) {};
}

void prov_group_records_free(ProvGroupRecord *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                prov_group_record_done(&v[i]);
        free(v);
}

static int group_from_row(ProvStore *s, sqlite3_stmt *st, ProvGroupRecord *ret) {
        _cleanup_(prov_group_record_done) ProvGroupRecord g = {};
        int r;

        if ((r = column_strdup(s, st, 0, false, &g.scim_id)) < 0 ||
            (r = column_strdup(s, st, 1, false, &g.name)) < 0 ||
            (r = column_id(s, st, 2, &g.gid)) < 0 ||
            (r = column_strdup(s, st, 3, true, &g.local_name)) < 0)
                return r;
        g.removed = sqlite3_column_int64(st, 4) != 0;
        g.created_usec = sqlite3_column_int64(st, 5);
        g.updated_usec = sqlite3_column_int64(st, 6);
        g.last_seen_usec = sqlite3_column_int64(st, 7);
        g.ref = sqlite3_column_int64(st, 8);

        *ret = g;
        g = (ProvGroupRecord) {};
        return 0;
}

static int group_get_by(ProvStore *s, StmtId id, const char *key, ProvGroupRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key || !ret)
                return -EINVAL;
        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return group_from_row(s, st, ret);
}

int prov_store_group_get(ProvStore *s, const char *scim_id, ProvGroupRecord *ret) {
        return group_get_by(s, STMT_GROUP_GET, scim_id, ret);
}

int prov_store_group_get_by_name(ProvStore *s, const char *name, ProvGroupRecord *ret) {
        return group_get_by(s, STMT_GROUP_GET_BY_NAME, name, ret);
}

int prov_store_group_put(ProvStore *s, const ProvGroupRecord *g) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !g || !g->scim_id || !g->name || g->gid == UINT32_MAX)
                return -EINVAL;

        r = stmt_get(s, STMT_GROUP_PUT, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, g->scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, g->gid) != SQLITE_OK ||
            (g->local_name ? sqlite3_bind_text(st, 4, g->local_name, -1, SQLITE_STATIC)
                           : sqlite3_bind_null(st, 4)) != SQLITE_OK ||
            sqlite3_bind_int(st, 5, g->removed) != SQLITE_OK ||
            sqlite3_bind_int64(st, 6, g->created_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 7, g->updated_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 8, g->last_seen_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 9, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

/* The group and its memberships (what ON DELETE CASCADE would do), as one operation. */
int prov_store_group_delete(ProvStore *s, const char *scim_id) {
        _cleanup_op_ Op op = {};
        int r;

        if (!s || !scim_id)
                return -EINVAL;
        r = op_begin(s, &op);
        if (r < 0)
                return r;
        r = delete_by_key(s, STMT_MEMBERS_CLEAR, scim_id);
        if (r < 0 && r != -ENOENT)
                return r;
        r = delete_by_key(s, STMT_GROUP_DELETE, scim_id);
        if (r < 0)
                return r;
        return op_commit(&op);
}

/* Loads the groups a one-off query selects (GROUP_SELECT columns; ?1 bound to key when given). */
static int groups_query(ProvStore *s, const char *sql, const char *key, ProvGroupRecord **ret, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        ProvGroupRecord *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = stmt_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if (key && sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                r = stmt_step(s, st);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                r = prov_grow((void **) &v, &allocated, n + 1, sizeof(*v));
                if (r < 0)
                        goto fail;
                r = group_from_row(s, st, &v[n]);
                if (r < 0)
                        goto fail;
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        prov_group_records_free(v, n);
        return r;
}

int prov_store_groups_load(ProvStore *s, ProvGroupRecord **ret, size_t *ret_n) {
        return groups_query(s, "SELECT " GROUP_SELECT " FROM groups ORDER BY gid", NULL, ret, ret_n);
}

int prov_store_user_groups_load(ProvStore *s, const char *user_scim_id, ProvGroupRecord **ret, size_t *ret_n) {
        if (!user_scim_id)
                return -EINVAL;
        /* Memberships have no index by user (schema 2): one pass over them, not a load of all of
         * them into memory as a caller joining in C would need. */
        return groups_query(s,
                            "SELECT " GROUP_SELECT " FROM groups WHERE ref IN "
                            "(SELECT m.group_ref FROM memberships m JOIN users u ON u.ref = m.user_ref "
                            "WHERE u.scim_id = ?1) ORDER BY gid",
                            user_scim_id, ret, ret_n);
}

/* ---- history of an account ---- */

static int history_ids(ProvStore *s, const char *owner, const char *scim_id, ProvUserHistory *h) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        /* An existing account's ids are in its row until it goes (schema 3): those without a
         * ledger row are listed from it, under the account's first name, since its creation. */
        r = stmt_prepare(s,
                         "SELECT kind, id, name_at_assignment, assigned_usec FROM id_ledger WHERE owner = ?1 "
                         "UNION ALL "
                         "SELECT k.kind, u.uid, coalesce((SELECT old_name FROM name_history "
                         "                                WHERE scim_id = u.scim_id "
                         "                                ORDER BY changed_usec, rowid LIMIT 1), u.name), "
                         "       u.created_usec "
                         "FROM users u, (SELECT 'uid' AS kind UNION ALL SELECT 'gid') k "
                         "WHERE u.scim_id = ?2 "
                         "  AND NOT EXISTS (SELECT 1 FROM id_ledger l WHERE l.kind = k.kind AND l.id = u.uid) "
                         "ORDER BY 4, 1 DESC, 2",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                ProvIdRecord rec = {};

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = prov_grow((void **) &h->ids, &allocated, h->n_ids + 1, sizeof(*h->ids));
                if (r < 0)
                        return r;
                if ((r = column_id(s, st, 1, &rec.id)) < 0 ||
                    (r = column_strdup(s, st, 0, false, &rec.kind)) < 0 ||
                    (r = column_strdup(s, st, 2, true, &rec.name)) < 0) {
                        free(rec.kind);
                        return r;
                }
                rec.assigned_usec = sqlite3_column_int64(st, 3);
                h->ids[h->n_ids++] = rec;
        }
}

static int history_names(ProvStore *s, const char *scim_id, ProvUserHistory *h) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        r = stmt_prepare(s,
                         "SELECT old_name, new_name, changed_usec FROM name_history "
                         "WHERE scim_id = ?1 ORDER BY changed_usec, rowid",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                ProvNameChange c = {};

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = prov_grow((void **) &h->names, &allocated, h->n_names + 1, sizeof(*h->names));
                if (r < 0)
                        return r;
                if ((r = column_strdup(s, st, 0, true, &c.old_name)) < 0 ||
                    (r = column_strdup(s, st, 1, true, &c.new_name)) < 0) {
                        free(c.old_name);
                        return r;
                }
                c.changed_usec = sqlite3_column_int64(st, 2);
                h->names[h->n_names++] = c;
        }
}

int prov_store_user_history(ProvStore *s, const char *scim_id, ProvUserHistory *ret) {
        _cleanup_free_ char *owner = NULL;
        ProvUserHistory h = {};
        int r;

        if (!s || !scim_id || !ret)
                return -EINVAL;
        if (asprintf(&owner, "user:%s", scim_id) < 0)
                return -ENOMEM;
        r = history_ids(s, owner, scim_id, &h);
        if (r >= 0)
                r = history_names(s, scim_id, &h);
        if (r < 0) {
                prov_user_history_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

void prov_user_history_done(ProvUserHistory *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n_ids; i++) {
                free(h->ids[i].kind);
                free(h->ids[i].name);
        }
        free(h->ids);
        for (size_t i = 0; i < h->n_names; i++) {
                free(h->names[i].old_name);
                free(h->names[i].new_name);
        }
        free(h->names);
        *h = (ProvUserHistory) {};
}

/* ---- memberships ---- */

int prov_store_group_set_members(ProvStore *s, const char *group_scim_id, char *const *user_scim_ids,
                                 size_t n) {
        _cleanup_op_ Op op = {};
        int r;

        if (!s || !group_scim_id || (n > 0 && !user_scim_ids))
                return -EINVAL;

        r = op_begin(s, &op);
        if (r < 0)
                return r;

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = stmt_get(s, STMT_GROUP_EXISTS, &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_step(s, st);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ENOENT;
        }
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = stmt_get(s, STMT_MEMBERS_CLEAR, &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                if (!user_scim_ids[i])
                        return -EINVAL;
                r = stmt_get(s, STMT_MEMBER_ADD, &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 2, user_scim_ids[i], -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        return op_commit(&op);
}

void prov_memberships_free(ProvMembership *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++) {
                free(v[i].group_scim_id);
                free(v[i].user_scim_id);
        }
        free(v);
}

int prov_store_memberships_load(ProvStore *s, ProvMembership **ret, size_t *ret_n) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        ProvMembership *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = stmt_get(s, STMT_MEMBERS_ALL, &st);
        if (r < 0)
                return r;
        for (;;) {
                r = stmt_step(s, st);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                r = prov_grow((void **) &v, &allocated, n + 1, sizeof(*v));
                if (r < 0)
                        goto fail;
                v[n] = (ProvMembership) {};
                n++;
                if ((r = column_strdup(s, st, 0, false, &v[n - 1].group_scim_id)) < 0 ||
                    (r = column_strdup(s, st, 1, false, &v[n - 1].user_scim_id)) < 0)
                        goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        prov_memberships_free(v, n);
        return r;
}

/* The three integer columns of the first row of sql into the non-NULL ret[]: 0, or -ENOENT
 * when there is no row. */
static int query_row3(ProvStore *s, const char *sql, int64_t *ret[3]) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        r = stmt_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        for (int i = 0; i < 3; i++)
                if (ret[i])
                        *ret[i] = sqlite3_column_int64(st, i);
        return 0;
}

int prov_store_counts(ProvStore *s, size_t *ret_users, size_t *ret_groups, size_t *ret_memberships) {
        int64_t n[3];
        int r;

        r = query_row3(s, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM groups), "
                          "(SELECT count(*) FROM memberships)", (int64_t *[]) { &n[0], &n[1], &n[2] });
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        if (ret_users)
                *ret_users = (size_t) n[0];
        if (ret_groups)
                *ret_groups = (size_t) n[1];
        if (ret_memberships)
                *ret_memberships = (size_t) n[2];
        return 0;
}

int prov_store_members_add_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n) {
        if (!s || !group_scim_id || (n > 0 && !user_refs))
                return -EINVAL;
        return exec_with_ids(s, STMT_MEMBERS_ADD_REFS, group_scim_id, user_refs, n, json_ref_array, NULL, NULL);
}

int prov_store_members_remove_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n) {
        if (!s || !group_scim_id || (n > 0 && !user_refs))
                return -EINVAL;
        return exec_with_ids(s, STMT_MEMBERS_REMOVE_REFS, group_scim_id, user_refs, n, json_ref_array, NULL, NULL);
}

int prov_store_member_refs_foreach(ProvStore *s, const char *group_scim_id,
                                   int (*cb)(int64_t group_ref, int64_t user_ref, void *userdata), void *userdata) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !cb)
                return -EINVAL;
        r = stmt_get(s, group_scim_id ? STMT_MEMBER_REFS_OF : STMT_MEMBER_REFS, &st);
        if (r < 0)
                return r;
        if (group_scim_id && sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = cb(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), userdata);
                if (r < 0)
                        return r;
        }
}

/* ---- UID/GID ledger ---- */

/* An id is taken for ever once given: by a ledger row, or while its account or group exists by
 * that row (a user's uid, and its private group's gid, which is the same number). Accounts
 * written after schema 3 have no ledger rows until their row goes: the triggers of migration
 * 2 -> 3 record them then. */

uint64_t prov_store_owner_hash(const char *owner) {
        /* 64-bit FNV-1a: fixed, unseeded and documented, so that every host maps the same
         * directory to the same ids. Do not change: it would move every allocation. */
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const unsigned char *p = (const unsigned char *) owner; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Runs a cached one-column query keyed by text or by number (at ?2 after the kind k at ?1 when
 * k is given, else at ?1): 1 and the column (as an id in *ret_id, or a copy in *ret_text) if
 * there is a row, 0 if not. */
static int query_one(ProvStore *s, StmtId id, const ProvIdKind *k, const char *text, int64_t number,
                     uint32_t *ret_id, char **ret_text) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r, i = 1;

        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (k && sqlite3_bind_text(st, i++, kind_to_string(*k), -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        if ((text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_int64(st, i, number)) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_step(s, st);
        if (r <= 0)
                return r;
        r = ret_text ? column_strdup(s, st, 0, false, ret_text) : column_id(s, st, 0, ret_id);
        return r < 0 ? r : 1;
}

/* The id of kind k that the existing account or group of owner holds: 1, or 0 if none. */
static int live_id(ProvStore *s, ProvIdKind k, const char *owner, uint32_t *ret_id) {
        const char *user = startswith(owner, "user:"), *group = startswith(owner, "group:");

        if (user)
                return query_one(s, STMT_LIVE_USER_UID, NULL, user, 0, ret_id, NULL);
        if (group && k == PROV_ID_GID)
                return query_one(s, STMT_LIVE_GROUP_GID, NULL, group, 0, ret_id, NULL);
        return 0;
}

/* The owner of (k, id) among the existing accounts and groups: 1, or 0 if none. */
static int live_owner(ProvStore *s, ProvIdKind k, uint32_t id, char **ret_owner) {
        int r = query_one(s, STMT_LIVE_USER_BY_UID, NULL, NULL, id, NULL, ret_owner);

        if (r == 0 && k == PROV_ID_GID)
                r = query_one(s, STMT_LIVE_GROUP_BY_GID, NULL, NULL, id, NULL, ret_owner);
        return r;
}

int prov_store_ledger_lookup(ProvStore *s, ProvIdKind k, const char *owner, uint32_t *ret_id) {
        uint32_t id;
        int r;

        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        /* The existing account's ids first: they are its current ones. */
        r = live_id(s, k, owner, &id);
        if (r == 0)
                r = query_one(s, STMT_LEDGER_LOOKUP, &k, owner, 0, &id, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_ledger_owner(ProvStore *s, ProvIdKind k, uint32_t id, char **ret_owner) {
        char *owner = NULL;
        int r;

        if (!s || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        r = query_one(s, STMT_LEDGER_OWNER, &k, NULL, id, NULL, &owner);
        if (r == 0)
                r = live_owner(s, k, id, &owner);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (ret_owner)
                *ret_owner = owner;
        else
                free(owner);
        return 0;
}

/* Inserts a ledger row unless (kind, id) exists: 1 if inserted, 0 if it existed. */
static int ledger_insert(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_get(s, STMT_LEDGER_INSERT, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, kind_to_string(k), -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, id) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
            (name ? sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4)) !=
                    SQLITE_OK ||
            sqlite3_bind_int64(st, 5, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) == 0)
                return 0;
        id_bitmap_set(s, k, id);
        return 1;
}

/* Whether owner may have (k, id): 0 if it is free or owner's own, -EEXIST (with the store's
 * message set) if another owner holds it, or an account reserved it earlier in this
 * transaction. */
static int id_check(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner) {
        _cleanup_free_ char *current = NULL;
        int r;

        if (id_bitmap_test(s, k, id) == 0)
                return 0; /* the bitmap knows every holder */
        r = prov_store_ledger_owner(s, k, id, &current);
        if (r == -ENOENT) {
                if (id_bitmap_test(s, k, id) <= 0)
                        return 0;
                store_msg(s, "%s %" PRIu32 " is reserved for another account",
                         kind_to_string(k), id);
                return -EEXIST;
        }
        if (r < 0)
                return r;
        if (!streq(current, owner)) {
                store_msg(s, "%s %" PRIu32 " belongs to %.64s", kind_to_string(k), id,
                         current);
                return -EEXIST;
        }
        return 0;
}

/* Records (k, id) for owner: 0 if recorded now or already owner's, -EEXIST if someone else's. */
static int ledger_claim(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        int r;

        r = id_check(s, k, id, owner);
        if (r < 0)
                return r;
        r = ledger_insert(s, k, id, owner, name);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Rows are never deleted: the row that stopped the insert is still there. */
        return id_check(s, k, id, owner);
}

int prov_store_ledger_assign(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID) || id == UINT32_MAX)
                return -EINVAL;
        return ledger_claim(s, k, id, owner, name);
}

/* Loads the bitmap of kind k for [min, max], unless it already covers exactly that range. */
static int id_bitmap_load(ProvStore *s, ProvIdKind k, uint32_t min, uint32_t max) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        IdBitmap *b = &s->used[k];
        size_t words = ((size_t) max - min) / 64 + 1;
        int r;

        if (b->valid && b->min == min && b->max == max)
                return 0;
        free(b->bits);
        *b = (IdBitmap) { .min = min, .max = max, .bits = calloc(words, sizeof(uint64_t)) };
        if (!b->bits)
                return -ENOMEM;
        /* A user's gid is its uid: the users' uids count for both kinds. */
        r = stmt_prepare(s,
                         k == PROV_ID_UID
                                 ? "SELECT id FROM id_ledger WHERE kind = 'uid' AND id BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT uid FROM users WHERE uid BETWEEN ?1 AND ?2"
                                 : "SELECT id FROM id_ledger WHERE kind = 'gid' AND id BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT uid FROM users WHERE uid BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT gid FROM groups WHERE gid BETWEEN ?1 AND ?2",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, min) != SQLITE_OK || sqlite3_bind_int64(st, 2, max) != SQLITE_OK)
                return store_fail_last(s);
        while ((r = stmt_step(s, st)) > 0) {
                uint32_t id = (uint32_t) sqlite3_column_int64(st, 0);
                b->bits[(id - min) / 64] |= UINT64_C(1) << ((id - min) % 64);
        }
        if (r < 0)
                return r;
        b->valid = true;
        return 0;
}

/* The first id in [from, to] with no ledger row of kind k (nor of kind gid when both is set)
 * that is_taken does not claim; -ENOSPC if there is none. The bitmaps cover [from, to]. When
 * is_taken claims id, it says how many ids from id on it claims, and those are skipped in one
 * step: the same id comes out as probing each, without 65536 calls per subordinate range. */
static int ledger_first_free(ProvStore *s, ProvIdKind k, bool both, uint32_t from, uint32_t to,
                             uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret) {
        const IdBitmap *a = &s->used[k], *g = &s->used[PROV_ID_GID];

        for (uint64_t cand = from; cand <= to; cand++) {
                uint32_t id = (uint32_t) cand;
                /* A block of 64 taken ids (100k directory uids in a row are common) at once. */
                if ((id - a->min) % 64 == 0 && (uint64_t) id + 63 <= to) {
                        uint64_t w = a->bits[(id - a->min) / 64];
                        if (both)
                                w |= id_bitmap_word(g, id);
                        if (w == UINT64_MAX) {
                                cand += 63;
                                continue;
                        }
                }
                if (id_bitmap_get(a, id) || (both && id_bitmap_get(g, id)))
                        continue;
                uint32_t n = is_taken ? is_taken(id, userdata) : 0;
                if (n > 0) {
                        cand += n - 1;
                        continue;
                }
                *ret = id;
                return 0;
        }
        return -ENOSPC;
}

/* The deterministic choice of prov_store_ledger_allocate(), on loaded bitmaps. */
static int pick_free(ProvStore *s, ProvIdKind k, bool both, const char *owner, uint32_t min, uint32_t max,
                     uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret) {
        uint64_t range = (uint64_t) max - min + 1, start = min + prov_store_owner_hash(owner) % range;
        int r;

        /* Start at the owner's hash and take the first free id, wrapping around once. */
        r = ledger_first_free(s, k, both, (uint32_t) start, max, is_taken, userdata, ret);
        if (r == -ENOSPC && start > min)
                r = ledger_first_free(s, k, both, min, (uint32_t) (start - 1), is_taken, userdata, ret);
        if (r == -ENOSPC)
                store_msg(s, "no free %s in %" PRIu32 "..%" PRIu32, kind_to_string(k),
                         min, max);
        return r;
}

int prov_store_ledger_allocate(ProvStore *s, ProvIdKind k, const char *owner, const char *name, uint32_t min,
                               uint32_t max, bool also_gid, uint32_t (*is_taken)(uint32_t id, void *userdata),
                               void *userdata, uint32_t *ret_id) {
        _cleanup_op_ Op op = {};
        bool both;
        uint32_t id;
        int r;

        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        if (min == 0 || min > max || max == UINT32_MAX)
                return -EINVAL;
        both = also_gid && k == PROV_ID_UID;

        /* The common case on every sync after the first: already ours, a single read, no
         * transaction of our own. Its private group row is the caller's business then: the id may
         * have come from prov_store_ledger_assign() with a directory attribute. */
        if (prov_sql_in_transaction(s->sql)) {
                r = prov_store_ledger_lookup(s, k, owner, &id);
                if (r >= 0) {
                        if (ret_id)
                                *ret_id = id;
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
        }

        r = op_begin(s, &op);
        if (r < 0)
                return r;

        /* Again inside our own transaction: with none open above, another writer may have got
         * here first. */
        r = prov_store_ledger_lookup(s, k, owner, &id);
        if (r >= 0) {
                r = op_commit(&op);
                if (r < 0)
                        return r;
                if (ret_id)
                        *ret_id = id;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        r = id_bitmap_load(s, k, min, max);
        if (r >= 0 && both)
                r = id_bitmap_load(s, PROV_ID_GID, min, max);
        if (r >= 0)
                r = pick_free(s, k, both, owner, min, max, is_taken, userdata, &id);
        if (r >= 0)
                r = ledger_claim(s, k, id, owner, name);
        if (r >= 0 && both)
                r = ledger_claim(s, PROV_ID_GID, id, owner, name);
        if (r >= 0)
                r = op_commit(&op);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

/* Marks id taken in both bitmaps for the account about to be written. */
static void reserve_both(ProvStore *s, uint32_t id) {
        id_bitmap_set(s, PROV_ID_UID, id);
        id_bitmap_set(s, PROV_ID_GID, id);
}

static int reservation_begin(ProvStore *s, const char *scim_id, uint32_t min, uint32_t max, char **ret_owner) {
        int r;

        if (!s || !scim_id || min == 0 || min > max || max == UINT32_MAX)
                return -EINVAL;
        /* Nothing is recorded until the caller writes the account: only inside its transaction. */
        if (!prov_sql_in_transaction(s->sql)) {
                store_msg(s, "id reservation outside a transaction");
                return -EINVAL;
        }
        r = id_bitmap_load(s, PROV_ID_UID, min, max);
        if (r >= 0)
                r = id_bitmap_load(s, PROV_ID_GID, min, max);
        if (r < 0)
                return r;
        if (asprintf(ret_owner, "user:%s", scim_id) < 0)
                return -ENOMEM;
        return 0;
}

int prov_store_user_ids_reserve(ProvStore *s, const char *scim_id, uint32_t id, uint32_t min, uint32_t max,
                                ProvIdKind *ret_conflict) {
        _cleanup_free_ char *owner = NULL;
        int r;

        if (id < min || id > max)
                return -EINVAL;
        r = reservation_begin(s, scim_id, min, max, &owner);
        if (r < 0)
                return r;
        /* The usual joiner: neither bitmap has the id, nothing to read. */
        for (ProvIdKind k = PROV_ID_UID; k <= PROV_ID_GID; k++) {
                r = id_check(s, k, id, owner);
                if (r == -EEXIST && ret_conflict)
                        *ret_conflict = k;
                if (r < 0)
                        return r;
        }
        reserve_both(s, id);
        return 0;
}

int prov_store_user_ids_allocate(ProvStore *s, const char *scim_id, uint32_t min, uint32_t max,
                                 uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret_id) {
        _cleanup_free_ char *owner = NULL;
        uint32_t id;
        int r;

        r = reservation_begin(s, scim_id, min, max, &owner);
        if (r < 0)
                return r;
        /* An account that comes back gets the uid it had. */
        r = prov_store_ledger_lookup(s, PROV_ID_UID, owner, &id);
        if (r == -ENOENT)
                r = pick_free(s, PROV_ID_UID, true, owner, min, max, is_taken, userdata, &id);
        else if (r >= 0)
                r = id_check(s, PROV_ID_GID, id, owner);
        if (r < 0)
                return r;
        reserve_both(s, id);
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_name_history_add(ProvStore *s, const char *scim_id, const char *old_name,
                                const char *new_name) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !scim_id)
                return -EINVAL;
        r = stmt_prepare(s, "INSERT INTO name_history (scim_id, old_name, new_name, changed_usec) "
                            "VALUES (?1, ?2, ?3, ?4)", &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            (old_name ? sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2)) !=
                    SQLITE_OK ||
            (new_name ? sqlite3_bind_text(st, 3, new_name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 3)) !=
                    SQLITE_OK ||
            sqlite3_bind_int64(st, 4, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

/* ---- sync state ---- */

int prov_store_state_get(ProvStore *s, const char *key, char **ret_value) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        char *v;
        int r;

        if (!s || !key || !ret_value)
                return -EINVAL;
        r = stmt_get(s, STMT_STATE_GET, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        r = column_strdup(s, st, 0, false, &v);
        if (r < 0)
                return r;
        *ret_value = v;
        return 0;
}

int prov_store_state_set(ProvStore *s, const char *key, const char *value) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key || !value)
                return -EINVAL;
        r = stmt_get(s, STMT_STATE_SET, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_state_get_int(ProvStore *s, const char *key, int64_t *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        long long l;
        int r;

        if (!ret)
                return -EINVAL;
        r = prov_store_state_get(s, key, &v);
        if (r < 0)
                return r;
        errno = 0;
        l = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || v[0] == ' ' || v[0] == '\t' || v[0] == '+')
                return -EBADMSG;
        *ret = (int64_t) l;
        return 0;
}

int prov_store_state_set_int(ProvStore *s, const char *key, int64_t value) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIi64, value);
        return prov_store_state_set(s, key, buf);
}

/* ---- audit ---- */

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *t) {
        return t ? sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int prov_store_audit_add(ProvStore *s, const char *event, const char *user, const char *scim_id, int64_t uid,
                         const char *step, const char *outcome, const char *detail) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !event)
                return -EINVAL;
        r = stmt_get(s, STMT_AUDIT_ADD, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, prov_now_usec()) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC) != SQLITE_OK ||
            bind_text_or_null(st, 3, user) != SQLITE_OK ||
            bind_text_or_null(st, 4, scim_id) != SQLITE_OK ||
            (uid >= 0 ? sqlite3_bind_int64(st, 5, uid) : sqlite3_bind_null(st, 5)) != SQLITE_OK ||
            bind_text_or_null(st, 6, step) != SQLITE_OK ||
            bind_text_or_null(st, 7, outcome) != SQLITE_OK ||
            bind_text_or_null(st, 8, detail) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_cache_for_streaming(ProvStore *s) {
        if (!s)
                return -EINVAL;
        return exec_sql(s, "PRAGMA cache_size = -" STRINGIFY(PROV_STORE_STREAM_CACHE_KIB) "; PRAGMA shrink_memory;");
}

int prov_store_check_references(ProvStore *s) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        r = stmt_prepare(s, "PRAGMA foreign_key_check", &st);
        if (r < 0)
                return r;
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r > 0) {
                store_msg(s, "%s row %" PRIi64 " references a missing %s row",
                         (const char *) sqlite3_column_text(st, 0) ?: "?", (int64_t) sqlite3_column_int64(st, 1),
                         (const char *) sqlite3_column_text(st, 2) ?: "?");
                return -EBADMSG;
        }
        return 0;
}

int prov_store_audit_prune(ProvStore *s, int64_t before_usec) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        r = stmt_prepare(s, "DELETE FROM audit WHERE time_usec < ?1", &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, before_usec) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db);
}

int prov_store_reject_note(ProvStore *s, const char *kind, const char *scim_id, const char *reason,
                           int64_t now_usec) {
        static const char *const sql[] = {
                "UPDATE rejects SET seen_usec = ?4 WHERE kind = ?1 AND scim_id = ?2 AND reason = ?3",
                "INSERT INTO rejects (kind, scim_id, reason, first_usec, seen_usec) VALUES (?1, ?2, ?3, ?4, ?4)",
        };
        int r;

        if (!s || !kind || !reason)
                return -EINVAL;
        /* An update first: a refusal seen before is the common case of every scan. */
        for (size_t i = 0; i < ELEMENTSOF(sql); i++) {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;

                r = stmt_prepare(s, sql[i], &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 2, scim_id ?: "", -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 4, now_usec) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
                if (sqlite3_changes(s->db) > 0)
                        return (int) i;
        }
        return -EIO; /* the insert changed nothing: cannot happen */
}

int prov_store_rejects_prune(ProvStore *s, int64_t before_usec) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        r = stmt_prepare(s, "DELETE FROM rejects WHERE seen_usec < ?1", &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, before_usec) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db);
}

void prov_audit_events_free(ProvAuditEvent *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++) {
                free(v[i].event);
                free(v[i].user);
                free(v[i].scim_id);
                free(v[i].step);
                free(v[i].outcome);
                free(v[i].detail);
        }
        free(v);
}

int prov_store_audit_load(ProvStore *s, const char *user, int64_t since_usec, size_t limit,
                          ProvAuditEvent **ret, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        ProvAuditEvent *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        /* The newest `limit` events, handed out oldest first, as a log reads. Two texts rather
         * than "?1 IS NULL OR user = ?1", so that the user filter can use its index. */
        r = stmt_prepare(
                s,
                user ? "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit "
                       "WHERE user = ?1 AND time_usec >= ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq"
                     : "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit "
                       "WHERE ?1 IS NULL AND time_usec >= ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
                &st);
        if (r < 0)
                return r;
        if (bind_text_or_null(st, 1, user) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, since_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3,
                               limit > 0 && (uint64_t)limit <= (uint64_t)INT64_MAX ? (int64_t)limit : -1) !=
                    SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                ProvAuditEvent *e;

                r = stmt_step(s, st);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                r = prov_grow((void **) &v, &allocated, n + 1, sizeof(*v));
                if (r < 0)
                        goto fail;
                e = &v[n++];
                *e = (ProvAuditEvent) {
                        .seq = sqlite3_column_int64(st, 0),
                        .time_usec = sqlite3_column_int64(st, 1),
                        .uid = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5),
                };
                if ((r = column_strdup(s, st, 2, false, &e->event)) < 0 ||
                    (r = column_strdup(s, st, 3, true, &e->user)) < 0 ||
                    (r = column_strdup(s, st, 4, true, &e->scim_id)) < 0 ||
                    (r = column_strdup(s, st, 6, true, &e->step)) < 0 ||
                    (r = column_strdup(s, st, 7, true, &e->outcome)) < 0 ||
                    (r = column_strdup(s, st, 8, true, &e->detail)) < 0)
                        goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        prov_audit_events_free(v, n);
        return r;
}

/* ---- holds ---- */

int prov_store_hold_add(ProvStore *s, int64_t deprovisions, int64_t total, const char *threshold,
                        char *const *scim_ids, size_t n, int64_t *ret_id) {
        _cleanup_op_ Op op = {};
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        int64_t now;
        int r;

        if (!s || (n > 0 && !scim_ids))
                return -EINVAL;

        /* One id per line: ids are validated SCIM ids, which never contain a newline. */
        for (size_t i = 0; i < n; i++) {
                size_t l;

                if (!scim_ids[i] || strchr(scim_ids[i], '\n'))
                        return -EINVAL;
                l = strlen(scim_ids[i]);
                if (len > SIZE_MAX - l - 2)
                        return -ENOMEM;
                len += l + 1;
        }
        list = malloc(len + 1);
        if (!list)
                return -ENOMEM;
        {
                char *p = list;
                for (size_t i = 0; i < n; i++) {
                        p = stpcpy(p, scim_ids[i]);
                        *p++ = '\n';
                }
                *p = '\0';
        }

        r = op_begin(s, &op);
        if (r < 0)
                return r;
        now = prov_now_usec();
        {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;

                r = stmt_prepare(s, "UPDATE holds SET status = 'superseded', decided_usec = ?1 "
                                    "WHERE status = 'pending'", &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;

                r = stmt_prepare(
                        s,
                        "INSERT INTO holds (created_usec, deprovisions, total, threshold, scim_ids, status) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                        &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 2, deprovisions) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 3, total) != SQLITE_OK ||
                    bind_text_or_null(st, 4, threshold) != SQLITE_OK ||
                    sqlite3_bind_text(st, 5, list, -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        int64_t id = sqlite3_last_insert_rowid(s->db);
        r = op_commit(&op);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_hold_pending(ProvStore *s, int64_t *ret_id, int64_t *ret_deprovisions, int64_t *ret_total) {
        return query_row3(s, "SELECT id, deprovisions, total FROM holds WHERE status = 'pending' "
                             "ORDER BY id DESC LIMIT 1",
                          (int64_t *[]) { ret_id, ret_deprovisions, ret_total });
}

static void strv_freep(char ***p) {
        if (*p)
                for (char **i = *p; *i; i++)
                        free(*i);
        free(*p);
}

int prov_store_hold_scim_ids(ProvStore *s, int64_t id, char ***ret_ids, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_(strv_freep) char **v = NULL;
        _cleanup_free_ char *list = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret_ids)
                return -EINVAL;
        r = stmt_prepare(s, "SELECT scim_ids FROM holds WHERE id = ?1", &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        r = column_strdup(s, st, 0, false, &list);
        if (r < 0)
                return r;

        r = prov_grow((void **) &v, &allocated, 1, sizeof(*v));
        if (r < 0)
                return r;
        v[0] = NULL;
        for (char *p = list, *nl; *p; p = nl + 1) {
                nl = strchr(p, '\n');
                if (!nl) {
                        store_msg(s, "hold %" PRIi64 ": unterminated id list", id);
                        return -EBADMSG;
                }
                r = prov_grow((void **) &v, &allocated, n + 2, sizeof(*v));
                if (r < 0)
                        return r;
                v[n] = strndup(p, (size_t) (nl - p));
                if (!v[n])
                        return -ENOMEM;
                v[++n] = NULL;
        }

        *ret_ids = TAKE_PTR(v);
        if (ret_n)
                *ret_n = n;
        return 0;
}

int prov_store_hold_set_status(ProvStore *s, int64_t id, const char *status) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !status)
                return -EINVAL;
        if (!streq(status, "pending") && !streq(status, "approved") && !streq(status, "superseded"))
                return -EINVAL;
        r = stmt_prepare(s,
                         "UPDATE holds SET status = ?2, "
                         "decided_usec = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?3 END WHERE id = ?1",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}
