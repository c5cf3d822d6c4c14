/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one way into SQLite, shared by the host's store (syncd/store-*.c) and the hub's
 * (hub/hub-store.c): opening with the file mode, WAL and busy timeout set, schema migrations
 * run one step per transaction, statements kept prepared by index, SQLite result codes mapped
 * to -errno in one place, and a transaction scope that rolls back whatever was not committed.
 *
 * Errors are negative errno values; the SQLite message of the last failure is kept for
 * prov_sql_errmsg(). A handle is used by one thread at a time. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov-util.h"

typedef struct ProvSql ProvSql;

typedef struct ProvSqlSchema {
        /* migrations[i] moves a database from user_version i to i + 1; each runs in its own
         * transaction with the version bump. Append only. */
        const char *const *migrations;
        size_t n_migrations;
        /* The statements kept prepared, by index (prov_sql_stmt()). */
        const char *const *statements;
        size_t n_statements;
        /* For messages: "store", "hub store". */
        const char *what;
} ProvSqlSchema;

typedef enum ProvSqlFlags {
        PROV_SQL_READONLY = 1 << 0, /* never writes, never migrates; refuses another version */
        PROV_SQL_DURABLE = 1 << 1,  /* synchronous=FULL: a commit is on disk when it returns */
} ProvSqlFlags;

/* Opens `path` (read-write: created mode 0600 when missing, the mode set to 0600 when not,
 * WAL, foreign keys on) and migrates it to `version` (<= schema->n_migrations). cache_kib > 0
 * sets the page cache. -EPROTONOSUPPORT when the file's version is newer than the schema's.
 *
 * The path must not be a symlink (-ELOOP). Every handle has a busy timeout of 5 s, extended
 * result codes and temp_store=MEMORY. Migrations run with foreign keys off, as SQLite's
 * procedure for schema changes wants (rebuilding a table would otherwise cascade or fail);
 * they are on once the handle is returned. A read-only handle (PROV_SQL_READONLY) needs an
 * existing file (-ENOENT) at exactly `version`: -ESTALE when older. */
int prov_sql_open(const char *path, const ProvSqlSchema *schema, int version, unsigned flags, unsigned cache_kib,
                  ProvSql **ret);
ProvSql *prov_sql_close(ProvSql *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvSql *, prov_sql_close);

sqlite3 *prov_sql_db(ProvSql *s);
const char *prov_sql_errmsg(ProvSql *s);
int prov_sql_version(ProvSql *s, int *ret);
bool prov_sql_readonly(ProvSql *s);

/* Maps a SQLite result code to -errno (0 for OK, ROW and DONE). */
int prov_sql_errno(sqlite3 *db, int rc);
/* Records SQLite's message for rc (or for the connection's last error when rc is 0) and
 * returns the mapped -errno, never 0. */
int prov_sql_fail(ProvSql *s, int rc);
/* Records a message of our own (a corrupt row, a version mismatch) and returns r. */
int prov_sql_failf(ProvSql *s, int r, const char *fmt, ...) _printf_(3, 4);

/* A kept statement, prepared on first use. Hold it in a _cleanup_sql_reset_ variable: it is
 * reset and unbound on scope exit, so that it never holds a read transaction open or points
 * at a caller's string. */
int prov_sql_stmt(ProvSql *s, unsigned id, sqlite3_stmt **ret);
void prov_sql_resetp(sqlite3_stmt **st);
#define _cleanup_sql_reset_ _cleanup_(prov_sql_resetp)
/* A one-off statement (cold paths), finalized by _cleanup_sql_finalize_. */
int prov_sql_prepare(ProvSql *s, const char *sql, sqlite3_stmt **ret);
void prov_sql_finalizep(sqlite3_stmt **st);
#define _cleanup_sql_finalize_ _cleanup_(prov_sql_finalizep)

/* Steps a statement: 1 with a row, 0 when done, < 0 on failure. */
int prov_sql_step(ProvSql *s, sqlite3_stmt *st);
/* Steps a statement that returns no row (a row is not an error). */
int prov_sql_run(ProvSql *s, sqlite3_stmt *st);
/* Runs SQL text (no parameters). */
int prov_sql_exec(ProvSql *s, const char *sql);
/* Runs the kept statement id once. */
int prov_sql_exec_stmt(ProvSql *s, unsigned id);

/* Binds text, or NULL when t is NULL; returns -errno. */
int prov_sql_bind_text(ProvSql *s, sqlite3_stmt *st, int i, const char *t);
/* A copy of a text column; NULL only when nullable, else -EBADMSG for a NULL. */
int prov_sql_column_strdup(ProvSql *s, sqlite3_stmt *st, int i, bool nullable, char **ret);

/* A transaction scope: its own transaction (BEGIN IMMEDIATE) when none is open, else a
 * savepoint inside the caller's, so that a failure never leaves half an operation behind.
 * Declare it as `_cleanup_sql_tx_ ProvSqlTx tx = {};`: whatever is not committed is rolled
 * back on scope exit, keeping the message of the failure that got there. */
typedef struct ProvSqlTx {
        ProvSql *s;
        bool own; /* a transaction, not a savepoint */
        bool open;
} ProvSqlTx;
int prov_sql_begin(ProvSql *s, ProvSqlTx *tx);
int prov_sql_commit(ProvSqlTx *tx);
void prov_sql_abort(ProvSqlTx *tx);
#define _cleanup_sql_tx_ _cleanup_(prov_sql_abort)
/* Called by prov_sql_abort() after a rollback (the host store drops its id bitmaps there). */
void prov_sql_set_rollback_hook(ProvSql *s, void (*hook)(void *userdata), void *userdata);

/* A transaction that spans calls (the host store's prov_store_begin() ... prov_store_commit()
 * around a whole sync): BEGIN IMMEDIATE and COMMIT on kept statements. Scopes opened inside it
 * are savepoints. The rollback is a no-op when no transaction is open, and calls the rollback
 * hook when it rolled one back. */
int prov_sql_transaction_begin(ProvSql *s);
int prov_sql_transaction_commit(ProvSql *s);
int prov_sql_transaction_rollback(ProvSql *s);
bool prov_sql_in_transaction(ProvSql *s);
