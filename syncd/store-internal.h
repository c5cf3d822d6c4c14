/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the store (syncd/store*.c) share and nothing else sees: the handle, the ids
 * of the kept statements, the column lists, and the store's names for the SQLite core's calls
 * (common/prov-sql.h). See store.h for the contract.
 *
 *   store.c           open, close, version, transactions, handle-wide pragmas
 *   store-schema.c    migrations and the text of the kept statements
 *   store-accounts.c  users, groups, memberships
 *   store-ledger.c    the UID/GID ledger, allocation, an account's history
 *   store-log.c       sync state, audit, rejects, holds */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "prov-sql.h"
#include "prov-util.h"
#include "store.h"

#define USER_COLUMNS                                                                            \
        "scim_id, name, uid, gid, gecos, home, shell, source_active, state, blocked, "          \
        "created_usec, updated_usec, state_changed_usec, last_seen_usec"
#define GROUP_COLUMNS "scim_id, name, gid, local_name, created_usec, updated_usec, last_seen_usec"
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

extern const ProvSqlSchema store_schema;

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

#define _cleanup_reset_ _cleanup_sql_reset_
#define _cleanup_finalize_ _cleanup_sql_finalize_

/* store.c */
void id_bitmaps_drop(ProvStore *s);
int query_row3(ProvStore *s, const char *sql, int64_t *ret[3]);

/* The store's names for the SQLite core's calls (common/sql.c), which maps result codes to
 * -errno in one place and keeps the message of the last failure. */
static inline int store_fail_last(ProvStore *s) {
        return prov_sql_fail(s->sql, 0);
}

/* Hands out the kept statement `id`, preparing it on first use. The caller holds it in a
 * _cleanup_reset_ variable. */
static inline int stmt_get(ProvStore *s, StmtId id, sqlite3_stmt **ret) {
        return prov_sql_stmt(s->sql, id, ret);
}

/* Prepares a one-off statement (cold paths: loads, holds). */
static inline int stmt_prepare(ProvStore *s, const char *sql, sqlite3_stmt **ret) {
        return prov_sql_prepare(s->sql, sql, ret);
}

/* Steps a statement that returns no row. */
static inline int stmt_exec(ProvStore *s, sqlite3_stmt *st) {
        return prov_sql_run(s->sql, st);
}

/* Steps a statement that returns at most one row: 1 with a row, 0 without. */
static inline int stmt_step(ProvStore *s, sqlite3_stmt *st) {
        return prov_sql_step(s->sql, st);
}

/* Steps a statement that must return a row: 0 with it, -ENOENT without. */
static inline int stmt_step_row(ProvStore *s, sqlite3_stmt *st) {
        int r = stmt_step(s, st);

        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

/* Hands out the kept statement `id` with ?1 bound to text, or to number when text is NULL (the
 * caller's string, until the reset). The caller holds it in a _cleanup_reset_ variable. */
int stmt_get_key(ProvStore *s, StmtId id, const char *text, int64_t number, sqlite3_stmt **ret);

/* Prepares a one-off statement with ?1 bound to number. */
int stmt_prepare_int(ProvStore *s, const char *sql, int64_t number, sqlite3_stmt **ret);

/* Runs a one-off statement with ?1 bound to number: how many rows it changed. */
int exec_int(ProvStore *s, const char *sql, int64_t number);

/* How the rows of a query become an array of records: a record's size, how a row fills one
 * (zeroed before), and how one is released. */
typedef struct StoreRecordType {
        size_t size;
        int (*from_row)(ProvStore *s, sqlite3_stmt *st, void *elem);
        void (*done)(void *elem);
} StoreRecordType;

/* Releases each of the n records of v, then v. */
void records_free(const StoreRecordType *t, void *v, size_t n);

/* Steps st to its end, reading each row into a new record of a growing array: 0 with *ret and
 * *ret_n set, or the failure (with what was read freed and *ret, *ret_n untouched). */
int stmt_collect(ProvStore *s, sqlite3_stmt *st, const StoreRecordType *t, void **ret, size_t *ret_n);

/* Loads the records a one-off query selects, ?1 bound to key when given (stmt_collect()). */
int records_query(ProvStore *s, const char *sql, const char *key, const StoreRecordType *t, void **ret,
                  size_t *ret_n);

static inline int exec_sql(ProvStore *s, const char *sql) {
        return prov_sql_exec(s->sql, sql);
}

static inline int column_strdup(ProvStore *s, sqlite3_stmt *st, int i, bool nullable, char **ret) {
        return prov_sql_column_strdup(s->sql, st, i, nullable, ret);
}

/* Reads a column that must hold a uid_t/gid_t value; anything else is corruption. */
static inline int column_id(ProvStore *s, sqlite3_stmt *st, int i, uint32_t *ret) {
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

static inline const char *kind_to_string(ProvIdKind k) {
        return k == PROV_ID_GID ? "gid" : "uid";
}

/* Multi-statement operations are transaction scopes of the SQLite core: their own transaction
 * when none is open, else a savepoint inside the caller's, so that a failure never leaves half
 * an operation behind either way. A rollback drops the id bitmaps (the rows they saw may be
 * gone): id_bitmaps_drop() is the core's rollback hook. */
typedef ProvSqlTx Op;
#define _cleanup_op_ _cleanup_sql_tx_

static inline int op_begin(ProvStore *s, Op *op) {
        return prov_sql_begin(s->sql, op);
}

static inline int op_commit(Op *op) {
        return prov_sql_commit(op);
}
