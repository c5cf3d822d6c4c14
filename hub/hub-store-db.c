/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hub-store-db.h: the calls every backend answers, the transaction scopes built on them, and the
 * SQLite backend (common/prov-sql.h: opening, migrations, kept statements, errno mapping). The
 * PostgreSQL backend is hub-store-pg.c. */

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-db-backend.h"
#include "prov-sql.h"

/* ---- dispatch ---- */

HubDb *hub_db_close(HubDb *db) {
        return db ? db->ops->close(db) : NULL;
}

const char *hub_db_errmsg(HubDb *db) {
        return db ? db->ops->errmsg(db) : NULL;
}

int hub_db_failf(HubDb *db, int r, const char *fmt, ...) {
        char buf[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        db->ops->set_errmsg(db, buf);
        return r;
}

int hub_db_stmt(HubDb *db, unsigned id, HubStmt **ret) {
        return db->ops->stmt(db, id, ret);
}

int hub_db_prepare(HubDb *db, const char *sql, HubStmt **ret) {
        return db->ops->prepare(db, sql, ret);
}

void hub_db_reset(HubStmt *st) {
        if (st)
                st->db->ops->reset(st);
}

void hub_db_resetp(HubStmt **st) {
        hub_db_reset(*st);
}

void hub_db_finalizep(HubStmt **st) {
        if (*st)
                (*st)->db->ops->finalize(*st);
        *st = NULL;
}

int hub_db_bind_text(HubStmt *st, int i, const char *t) {
        return st->db->ops->bind_text(st, i, t);
}

int hub_db_bind_int64(HubStmt *st, int i, int64_t v) {
        return st->db->ops->bind_int64(st, i, v);
}

int hub_db_bind_null(HubStmt *st, int i) {
        return st->db->ops->bind_null(st, i);
}

int hub_db_step(HubStmt *st) {
        return st->db->ops->step(st);
}

int hub_db_run(HubStmt *st) {
        int r = st->db->ops->step(st);
        return r < 0 ? r : 0;
}

int64_t hub_db_column_int64(HubStmt *st, int i) {
        return st->db->ops->column_int64(st, i);
}

const char *hub_db_column_text(HubStmt *st, int i) {
        return st->db->ops->column_text(st, i);
}

bool hub_db_column_is_null(HubStmt *st, int i) {
        return st->db->ops->column_null(st, i);
}

int hub_db_column_strdup(HubStmt *st, int i, bool nullable, char **ret) {
        const char *t = st->db->ops->column_text(st, i);
        char *c;

        if (!t) {
                if (!nullable || !st->db->ops->column_null(st, i))
                        return hub_db_failf(st->db, -EBADMSG, "column %d is NULL", i);
                *ret = NULL;
                return 0;
        }
        c = strdup(t);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int64_t hub_db_changes(HubDb *db) {
        return db->ops->changes(db);
}

int hub_db_last_id(HubDb *db, int64_t *ret) {
        return db->ops->last_id(db, ret);
}

int hub_db_exec(HubDb *db, const char *sql) {
        return db->ops->exec(db, sql);
}

int hub_db_write_lock(HubDb *db) {
        return db->ops->write_lock(db);
}

bool hub_db_durable(HubDb *db) {
        return db && db->ops->durable(db);
}

int hub_db_watch_fd(HubDb *db) {
        return db ? db->ops->watch_fd(db) : -1;
}

int hub_db_watch(HubDb *db) {
        return db ? db->ops->watch(db) : 0;
}

/* ---- transactions ---- */

int hub_db_begin(HubDb *db, HubDbTx *tx) {
        int r;

        assert(db);
        assert(tx);
        *tx = (HubDbTx) { .db = db, .own = !db->ops->in_transaction(db) };
        r = tx->own ? db->ops->begin(db) : db->ops->exec(db, "SAVEPOINT hub_tx");
        if (r < 0)
                return r;
        tx->open = true;
        return 0;
}

int hub_db_commit(HubDbTx *tx) {
        int r;

        assert(tx);
        assert(tx->open);
        r = tx->db->ops->exec(tx->db, tx->own ? "COMMIT" : "RELEASE hub_tx");
        if (r < 0)
                return r; /* hub_db_abort() on scope exit rolls back */
        tx->open = false;
        if (tx->own)
                tx->db->ops->tx_ended(tx->db, false);
        return 0;
}

void hub_db_abort(HubDbTx *tx) {
        HubDb *db = tx->db;
        char saved[256];

        if (!tx->open)
                return;
        /* The message of the failure that got us here, not the rollback's. */
        snprintf(saved, sizeof(saved), "%s", db->ops->errmsg(db) ?: "");
        if (tx->own) {
                /* Some errors (a full disk, an I/O error, a lost connection) already ended the
                 * transaction. */
                if (db->ops->in_transaction(db))
                        (void) db->ops->exec(db, "ROLLBACK");
        } else {
                (void) db->ops->exec(db, "ROLLBACK TO hub_tx");
                (void) db->ops->exec(db, "RELEASE hub_tx");
        }
        db->ops->tx_ended(db, !tx->own);
        db->ops->set_errmsg(db, saved);
        tx->open = false;
}

int hub_db_transaction_begin(HubDb *db) {
        return db->ops->begin(db);
}

int hub_db_transaction_commit(HubDb *db) {
        int r = db->ops->exec(db, "COMMIT");

        if (r >= 0)
                db->ops->tx_ended(db, false);
        return r;
}

int hub_db_transaction_rollback(HubDb *db) {
        int r = 0;

        if (db->ops->in_transaction(db))
                r = db->ops->exec(db, "ROLLBACK");
        db->ops->tx_ended(db, false);
        return r;
}

bool hub_db_in_transaction(HubDb *db) {
        return db->ops->in_transaction(db);
}

int hub_db_read_begin(HubDb *db) {
        return db->ops->read_begin(db);
}

void hub_db_read_end(HubDb *db) {
        if (db->ops->in_transaction(db))
                (void) db->ops->exec(db, "ROLLBACK");
        db->ops->tx_ended(db, false);
}

/* ---- SQLite ---- */

typedef struct SqliteStmt {
        HubStmt base;
        sqlite3_stmt *st;
        bool one_off;
} SqliteStmt;

typedef struct SqliteDb {
        HubDb base;
        ProvSql *sql;
        ProvSqlSchema schema;
        SqliteStmt *kept; /* schema.n_statements */
} SqliteDb;

#define SQ(db) ((SqliteDb *) (db))
#define SQS(st) ((SqliteStmt *) (st))

static HubDb *sq_close(HubDb *db) {
        prov_sql_close(SQ(db)->sql);
        free(SQ(db)->kept);
        free(db);
        return NULL;
}

static const char *sq_errmsg(HubDb *db) {
        return prov_sql_errmsg(SQ(db)->sql);
}

static void sq_set_errmsg(HubDb *db, const char *msg) {
        (void) prov_sql_failf(SQ(db)->sql, 0, "%s", msg);
}

static int sq_stmt(HubDb *db, unsigned id, HubStmt **ret) {
        SqliteStmt *k;
        int r;

        assert(id < SQ(db)->schema.n_statements);
        k = &SQ(db)->kept[id];
        if (!k->st) {
                r = prov_sql_stmt(SQ(db)->sql, id, &k->st);
                if (r < 0)
                        return r;
                k->base.db = db;
        }
        *ret = &k->base;
        return 0;
}

static int sq_prepare(HubDb *db, const char *sql, HubStmt **ret) {
        SqliteStmt *o = calloc(1, sizeof(*o));
        int r;

        if (!o)
                return -ENOMEM;
        r = prov_sql_prepare(SQ(db)->sql, sql, &o->st);
        if (r < 0) {
                free(o);
                return r;
        }
        o->base.db = db;
        o->one_off = true;
        *ret = &o->base;
        return 0;
}

static void sq_reset(HubStmt *st) {
        sqlite3_reset(SQS(st)->st);
        if (!SQS(st)->one_off)
                sqlite3_clear_bindings(SQS(st)->st);
}

static void sq_finalize(HubStmt *st) {
        if (SQS(st)->one_off) {
                sqlite3_finalize(SQS(st)->st);
                free(st);
        } else
                sq_reset(st);
}

static int sq_bind_text(HubStmt *st, int i, const char *t) {
        return prov_sql_bind_text(SQ(st->db)->sql, SQS(st)->st, i, t);
}

static int sq_bind_int64(HubStmt *st, int i, int64_t v) {
        int rc = sqlite3_bind_int64(SQS(st)->st, i, v);
        return rc == SQLITE_OK ? 0 : prov_sql_fail(SQ(st->db)->sql, rc);
}

static int sq_bind_null(HubStmt *st, int i) {
        int rc = sqlite3_bind_null(SQS(st)->st, i);
        return rc == SQLITE_OK ? 0 : prov_sql_fail(SQ(st->db)->sql, rc);
}

static int sq_step(HubStmt *st) {
        return prov_sql_step(SQ(st->db)->sql, SQS(st)->st);
}

static int64_t sq_column_int64(HubStmt *st, int i) {
        return sqlite3_column_int64(SQS(st)->st, i);
}

static const char *sq_column_text(HubStmt *st, int i) {
        return (const char *) sqlite3_column_text(SQS(st)->st, i);
}

static bool sq_column_null(HubStmt *st, int i) {
        return sqlite3_column_type(SQS(st)->st, i) == SQLITE_NULL;
}

static int64_t sq_changes(HubDb *db) {
        return sqlite3_changes(prov_sql_db(SQ(db)->sql));
}

static int sq_last_id(HubDb *db, int64_t *ret) {
        *ret = sqlite3_last_insert_rowid(prov_sql_db(SQ(db)->sql));
        return 0;
}

static int sq_exec(HubDb *db, const char *sql) {
        return prov_sql_exec(SQ(db)->sql, sql);
}

static int sq_begin(HubDb *db) {
        return prov_sql_transaction_begin(SQ(db)->sql);
}

static bool sq_in_transaction(HubDb *db) {
        return prov_sql_in_transaction(SQ(db)->sql);
}

static int sq_read_begin(HubDb *db) {
        return prov_sql_exec(SQ(db)->sql, "BEGIN DEFERRED");
}

static int sq_write_lock(HubDb *db) {
        (void) db;
        return 0; /* BEGIN IMMEDIATE took it */
}

static void sq_tx_ended(HubDb *db, bool savepoint) {
        (void) db;
        (void) savepoint;
}

static bool sq_durable(HubDb *db) {
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;

        if (prov_sql_prepare(SQ(db)->sql, "PRAGMA synchronous", &st) < 0 || prov_sql_step(SQ(db)->sql, st) <= 0)
                return false;
        return sqlite3_column_int(st, 0) >= 2; /* FULL or EXTRA */
}

static int sq_watch_fd(HubDb *db) {
        (void) db;
        return -1; /* one process writes: it knows when it committed */
}

static int sq_watch(HubDb *db) {
        (void) db;
        return 0;
}

static const HubDbOps sqlite_ops = {
        .close = sq_close,
        .errmsg = sq_errmsg,
        .set_errmsg = sq_set_errmsg,
        .stmt = sq_stmt,
        .prepare = sq_prepare,
        .reset = sq_reset,
        .finalize = sq_finalize,
        .bind_text = sq_bind_text,
        .bind_int64 = sq_bind_int64,
        .bind_null = sq_bind_null,
        .step = sq_step,
        .column_int64 = sq_column_int64,
        .column_text = sq_column_text,
        .column_null = sq_column_null,
        .changes = sq_changes,
        .last_id = sq_last_id,
        .exec = sq_exec,
        .begin = sq_begin,
        .in_transaction = sq_in_transaction,
        .read_begin = sq_read_begin,
        .write_lock = sq_write_lock,
        .tx_ended = sq_tx_ended,
        .durable = sq_durable,
        .watch_fd = sq_watch_fd,
        .watch = sq_watch,
};

int hub_db_open_sqlite(const char *path, const HubDbSchema *schema, int version, bool readonly, unsigned cache_kib,
                       HubDb **ret) {
        SqliteDb *db;
        int r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->base.ops = &sqlite_ops;
        db->schema = (ProvSqlSchema) {
                .migrations = schema->migrations,
                .n_migrations = schema->n_migrations,
                .statements = schema->statements,
                .n_statements = schema->n_statements,
                .what = "hub store",
        };
        db->kept = calloc(schema->n_statements, sizeof(SqliteStmt));
        if (!db->kept) {
                free(db);
                return -ENOMEM;
        }
        r = prov_sql_open(path, &db->schema, version, readonly ? PROV_SQL_READONLY : PROV_SQL_DURABLE, cache_kib,
                          &db->sql);
        if (r < 0) {
                free(db->kept);
                free(db);
                return r;
        }
        *ret = &db->base;
        return 0;
}

bool hub_db_is_pg(HubDb *db) {
        return db && db->ops != &sqlite_ops;
}
