/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hub store's connection to its database, one interface over two backends: SQLite (one hub
 * process; common/prov-sql.h underneath) and PostgreSQL (several replicas; libpq, in
 * hub-store-pg.c). The store's files (hub-store*.c) and hub-fleet.c write their queries once
 * against this; only the schema and the few statements whose dialects differ are given per
 * backend.
 *
 * Statements are SQLite's text with numbered parameters (?1, ?2, ...); the PostgreSQL backend
 * rewrites them to $1, $2, ... A statement answers its whole result at once on PostgreSQL (the
 * caller may run other statements between two rows, as rendering does), row by row on SQLite;
 * either way hub_db_step() walks it and hub_db_reset() starts it again.
 *
 * Errors are negative errno values; the message of the last failure is kept for
 * hub_db_errmsg(). A lost PostgreSQL connection is -ECONNRESET (the next transaction connects
 * again); a database that does not answer is -ECONNREFUSED. A handle is used by one thread at a
 * time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov-util.h"

typedef struct HubDb HubDb;
typedef struct HubStmt HubStmt;

typedef struct HubDbSchema {
        /* migrations[i] moves the database from version i to i + 1, in a transaction of its own.
         * Both backends have the same number of versions. Append only. */
        const char *const *migrations;
        size_t n_migrations;
        /* The statements kept prepared, by index. */
        const char *const *statements;
        /* PostgreSQL's text where it differs (NULL entries: the same), or NULL. */
        const char *const *overrides;
        size_t n_statements;
} HubDbSchema;

int hub_db_open_sqlite(const char *path, const HubDbSchema *schema, int version, bool readonly, unsigned cache_kib,
                       HubDb **ret);
/* conninfo: libpq's ("host=/run/postgresql dbname=hub"), never holding a password (-EINVAL);
 * password_file: a file whose first line is the password, or NULL. readonly: migrates nothing
 * and needs the schema at exactly `version`. On failure, *ret_error (when not NULL) is libpq's or
 * our message, for the caller's log line. */
int hub_db_open_pg(const char *conninfo, const char *password_file, const HubDbSchema *schema, int version,
                   bool readonly, HubDb **ret, char **ret_error);
HubDb *hub_db_close(HubDb *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubDb *, hub_db_close);

/* Which backend: its statements (per backend where the dialects differ) are chosen with this. */
bool hub_db_is_pg(HubDb *db);

const char *hub_db_errmsg(HubDb *db);
/* Records a message of our own and returns r. */
int hub_db_failf(HubDb *db, int r, const char *fmt, ...) _printf_(3, 4);

/* A kept statement (prepared on first use); hold it in a _cleanup_db_reset_ variable. */
int hub_db_stmt(HubDb *db, unsigned id, HubStmt **ret);
void hub_db_reset(HubStmt *st);
void hub_db_resetp(HubStmt **st);
#define _cleanup_db_reset_ _cleanup_(hub_db_resetp)
/* A one-off statement (cold paths), freed by _cleanup_db_finalize_. */
int hub_db_prepare(HubDb *db, const char *sql, HubStmt **ret);
void hub_db_finalizep(HubStmt **st);
#define _cleanup_db_finalize_ _cleanup_(hub_db_finalizep)

/* Binding: text (NULL binds NULL), a number, NULL. -errno. */
int hub_db_bind_text(HubStmt *st, int i, const char *t);
int hub_db_bind_int64(HubStmt *st, int i, int64_t v);
int hub_db_bind_null(HubStmt *st, int i);

/* 1 with a row, 0 when done, < 0 on failure. */
int hub_db_step(HubStmt *st);
/* Runs a statement whose rows (if any) do not matter. */
int hub_db_run(HubStmt *st);
/* The current row's columns: a NULL number reads 0, a NULL text reads NULL. The text lives until
 * the next step or reset. */
int64_t hub_db_column_int64(HubStmt *st, int i);
const char *hub_db_column_text(HubStmt *st, int i);
bool hub_db_column_is_null(HubStmt *st, int i);
/* A copy of a text column; NULL only when nullable, else -EBADMSG. */
int hub_db_column_strdup(HubStmt *st, int i, bool nullable, char **ret);
/* Rows changed by the last statement run. */
int64_t hub_db_changes(HubDb *db);
/* The key the last INSERT gave its row (users.ref, holds.id). */
int hub_db_last_id(HubDb *db, int64_t *ret);
/* Runs SQL text without parameters. */
int hub_db_exec(HubDb *db, const char *sql);

/* A transaction scope: a transaction of its own when none is open, else a savepoint inside the
 * caller's; whatever is not committed is rolled back on scope exit. Declare it as
 * `_cleanup_db_tx_ HubDbTx tx = {};`. */
typedef struct HubDbTx {
        HubDb *db;
        bool own;
        bool open;
} HubDbTx;
int hub_db_begin(HubDb *db, HubDbTx *tx);
int hub_db_commit(HubDbTx *tx);
void hub_db_abort(HubDbTx *tx);
#define _cleanup_db_tx_ _cleanup_(hub_db_abort)

/* A transaction spanning calls (the hub's group commit). */
int hub_db_transaction_begin(HubDb *db);
int hub_db_transaction_commit(HubDb *db);
int hub_db_transaction_rollback(HubDb *db);
bool hub_db_in_transaction(HubDb *db);
/* A read-only transaction seeing one committed state (a snapshot). */
int hub_db_read_begin(HubDb *db);
void hub_db_read_end(HubDb *db);

/* Inside a writing transaction, before the change sequence or the modification times are
 * touched: the lock that orders writers. SQLite's BEGIN IMMEDIATE already holds it (0); on
 * PostgreSQL an advisory lock held to the end of the transaction, so that seq = head + 1 is in
 * commit order across replicas, and a NOTIFY that wakes the other replicas' held feed requests
 * when it commits: 1 when taken now (the caller re-reads what other replicas may
 * have changed), 0 when already held. */
int hub_db_write_lock(HubDb *db);

/* Whether a commit is durable when it returns (SQLite: synchronous FULL or EXTRA; PostgreSQL:
 * synchronous_commit on, fsync on). */
bool hub_db_durable(HubDb *db);

/* Wake-ups from other writers (PostgreSQL's LISTEN on a connection of its own; none on SQLite):
 * the descriptor to poll, or -1 when there is none right now (no backend, or reconnecting: call
 * hub_db_watch() again within a second). hub_db_watch() reads what arrived and reconnects a lost
 * connection; > 0 when the head may have moved (a notification, or a new connection, after
 * which the caller reads the head again), 0 when not, < 0 on failure. */
int hub_db_watch_fd(HubDb *db);
int hub_db_watch(HubDb *db);
