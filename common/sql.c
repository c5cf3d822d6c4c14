/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The one way into SQLite (see prov-sql.h): opening, migrations, kept statements, the mapping
 * of result codes to -errno, and transaction scopes. Shared by the host's store and the hub's,
 * so that both open, migrate and fail the same way. Nothing here logs: the message of the last
 * failure is kept for the caller. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-sql.h"
#include "prov-util.h"

/* How long a statement waits for another connection's lock before it fails with -EBUSY. */
#define PROV_SQL_BUSY_TIMEOUT_MS 5000

/* The statements of transactions and scopes, kept prepared beside the schema's. */
typedef enum TxStmt {
        TX_BEGIN,
        TX_COMMIT,
        TX_ROLLBACK,
        TX_SAVEPOINT,
        TX_RELEASE,
        TX_ROLLBACK_TO,
        _TX_MAX,
} TxStmt;

static const char *const tx_sql[_TX_MAX] = {
        /* IMMEDIATE: the write lock up front, so that a transaction never fails half-way with
         * SQLITE_BUSY when it upgrades from reading to writing. */
        [TX_BEGIN] = "BEGIN IMMEDIATE",
        [TX_COMMIT] = "COMMIT",
        [TX_ROLLBACK] = "ROLLBACK",
        [TX_SAVEPOINT] = "SAVEPOINT prov_sql_tx",
        [TX_RELEASE] = "RELEASE prov_sql_tx",
        [TX_ROLLBACK_TO] = "ROLLBACK TO prov_sql_tx",
};

struct ProvSql {
        sqlite3 *db;
        const ProvSqlSchema *schema;
        unsigned flags;
        sqlite3_stmt **stmts; /* schema->n_statements, each prepared on first use */
        sqlite3_stmt *tx_stmts[_TX_MAX];
        void (*rollback_hook)(void *userdata);
        void *rollback_userdata;
        char errmsg[256];
};

/* Maps a SQLite result code (extended or primary) to -errno: the one place where this
 * happens. */
int prov_sql_errno(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CANTOPEN:
                return db && sqlite3_system_errno(db) == ENOENT ? -ENOENT : -EACCES;
        case SQLITE_IOERR: {
                /* The file system's own reason (ENOSPC, EROFS, EDQUOT...) says more than "I/O
                 * error" to whoever reads the log or provisionctl status. */
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : -EIO;
        }
        default:
                return -EIO;
        }
}

int prov_sql_fail(ProvSql *s, int rc) {
        const char *m;

        assert(s);
        /* The error code of the last failed call on the connection, for bind and column
         * failures that do not return one themselves. */
        if (rc == SQLITE_OK && s->db)
                rc = sqlite3_errcode(s->db);
        m = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", m ?: "");
        return prov_sql_errno(s->db, rc) ?: -EIO;
}

int prov_sql_failf(ProvSql *s, int r, const char *fmt, ...) {
        va_list ap;

        assert(s);
        va_start(ap, fmt);
        (void) vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
        va_end(ap);
        return r;
}

const char *prov_sql_errmsg(ProvSql *s) {
        return s ? s->errmsg : "";
}

sqlite3 *prov_sql_db(ProvSql *s) {
        return s ? s->db : NULL;
}

bool prov_sql_readonly(ProvSql *s) {
        return s && (s->flags & PROV_SQL_READONLY);
}

void prov_sql_resetp(sqlite3_stmt **st) {
        if (*st) {
                /* The step's error was already handled; reset returns it again. */
                (void) sqlite3_reset(*st);
                (void) sqlite3_clear_bindings(*st);
        }
}

void prov_sql_finalizep(sqlite3_stmt **st) {
        if (*st)
                (void) sqlite3_finalize(*st);
}

/* Prepares *slot on first use: persistent, since it lives as long as the handle. */
static int stmt_keep(ProvSql *s, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **ret) {
        if (!*slot) {
                int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
                if (rc != SQLITE_OK)
                        return prov_sql_fail(s, rc);
        }
        *ret = *slot;
        return 0;
}

int prov_sql_stmt(ProvSql *s, unsigned id, sqlite3_stmt **ret) {
        assert(s);
        assert(id < s->schema->n_statements);
        return stmt_keep(s, &s->stmts[id], s->schema->statements[id], ret);
}

int prov_sql_prepare(ProvSql *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        assert(s);
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return prov_sql_fail(s, rc);
        *ret = st;
        return 0;
}

int prov_sql_step(ProvSql *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return prov_sql_fail(s, rc);
}

int prov_sql_run(ProvSql *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return prov_sql_fail(s, rc);
        return 0;
}

int prov_sql_exec(ProvSql *s, const char *sql) {
        char *err = NULL;
        int rc;

        assert(s);
        rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
        sqlite3_free(err);
        if (rc != SQLITE_OK)
                return prov_sql_fail(s, rc);
        return 0;
}

/* Runs a kept statement of ours once. */
static int tx_exec(ProvSql *s, TxStmt id) {
        _cleanup_sql_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_keep(s, &s->tx_stmts[id], tx_sql[id], &st);
        if (r < 0)
                return r;
        return prov_sql_run(s, st);
}

int prov_sql_exec_stmt(ProvSql *s, unsigned id) {
        _cleanup_sql_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = prov_sql_stmt(s, id, &st);
        if (r < 0)
                return r;
        return prov_sql_run(s, st);
}

int prov_sql_bind_text(ProvSql *s, sqlite3_stmt *st, int i, const char *t) {
        int rc;

        /* SQLITE_STATIC: the caller's string outlives the step, and _cleanup_sql_reset_
         * unbinds it before it can dangle. */
        rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
        if (rc != SQLITE_OK)
                return prov_sql_fail(s, rc);
        return 0;
}

/* A NULL value is returned as NULL when nullable, else it is corruption (or an out-of-memory
 * that SQLite signals the same way). */
int prov_sql_column_strdup(ProvSql *s, sqlite3_stmt *st, int i, bool nullable, char **ret) {
        const unsigned char *t;
        char *c;

        t = sqlite3_column_text(st, i);
        if (!t) {
                if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
                        return -ENOMEM;
                if (!nullable || sqlite3_column_type(st, i) != SQLITE_NULL)
                        return prov_sql_failf(s, -EBADMSG, "column %s is NULL", sqlite3_column_name(st, i));
                *ret = NULL;
                return 0;
        }
        c = strdup((const char *) t);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

/* ---- transactions ---- */

int prov_sql_begin(ProvSql *s, ProvSqlTx *tx) {
        int r;

        assert(s);
        assert(tx);
        *tx = (ProvSqlTx) { .s = s, .own = sqlite3_get_autocommit(s->db) };
        r = tx_exec(s, tx->own ? TX_BEGIN : TX_SAVEPOINT);
        if (r < 0)
                return r;
        tx->open = true;
        return 0;
}

int prov_sql_commit(ProvSqlTx *tx) {
        int r;

        assert(tx);
        assert(tx->open);
        r = tx_exec(tx->s, tx->own ? TX_COMMIT : TX_RELEASE);
        if (r < 0)
                return r; /* prov_sql_abort() on scope exit rolls back */
        tx->open = false;
        return 0;
}

void prov_sql_abort(ProvSqlTx *tx) {
        ProvSql *s = tx->s;

        if (!tx->open)
                return;

        /* The message of the failure that got us here, not the rollback's. */
        char saved[sizeof(s->errmsg)];
        memcpy(saved, s->errmsg, sizeof(saved));
        if (tx->own) {
                /* Some errors (SQLITE_FULL, an I/O error) already rolled the whole transaction
                 * back. */
                if (!sqlite3_get_autocommit(s->db))
                        (void) tx_exec(s, TX_ROLLBACK);
        } else {
                (void) tx_exec(s, TX_ROLLBACK_TO);
                (void) tx_exec(s, TX_RELEASE);
        }
        if (s->rollback_hook)
                s->rollback_hook(s->rollback_userdata);
        memcpy(s->errmsg, saved, sizeof(saved));
        tx->open = false;
}

void prov_sql_set_rollback_hook(ProvSql *s, void (*hook)(void *userdata), void *userdata) {
        assert(s);
        s->rollback_hook = hook;
        s->rollback_userdata = userdata;
}

int prov_sql_transaction_begin(ProvSql *s) {
        assert(s);
        return tx_exec(s, TX_BEGIN);
}

int prov_sql_transaction_commit(ProvSql *s) {
        assert(s);
        return tx_exec(s, TX_COMMIT);
}

int prov_sql_transaction_rollback(ProvSql *s) {
        int r;

        assert(s);
        if (sqlite3_get_autocommit(s->db))
                return 0;
        r = tx_exec(s, TX_ROLLBACK);
        if (s->rollback_hook)
                s->rollback_hook(s->rollback_userdata);
        return r;
}

bool prov_sql_in_transaction(ProvSql *s) {
        return s && !sqlite3_get_autocommit(s->db);
}

/* ---- opening and migrations ---- */

int prov_sql_version(ProvSql *s, int *ret) {
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;
        int64_t v;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = prov_sql_prepare(s, "PRAGMA user_version", &st);
        if (r < 0)
                return r;
        r = prov_sql_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        v = sqlite3_column_int64(st, 0);
        if (v < 0 || v > INT_MAX)
                return prov_sql_failf(s, -EBADMSG, "%s schema version %" PRIi64 " is invalid", s->schema->what, v);
        *ret = (int) v;
        return 0;
}

/* Brings the schema up to target, one step per transaction. The version is re-read inside each
 * transaction, since another process may have migrated meanwhile. */
static int sql_migrate(ProvSql *s, int target) {
        for (;;) {
                _cleanup_sql_tx_ ProvSqlTx tx = {};
                char bump[64];
                int v, r;

                r = prov_sql_begin(s, &tx);
                if (r < 0)
                        return r;
                r = prov_sql_version(s, &v);
                if (r < 0)
                        return r;
                if ((size_t) v > s->schema->n_migrations)
                        return prov_sql_failf(s, -EPROTONOSUPPORT, "%s schema version %d is newer than %zu",
                                              s->schema->what, v, s->schema->n_migrations);
                if (v >= target)
                        return prov_sql_commit(&tx);

                r = prov_sql_exec(s, s->schema->migrations[v]);
                if (r < 0)
                        return r;
                /* PRAGMA takes no bound parameters; v is our own integer. */
                snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
                r = prov_sql_exec(s, bump);
                if (r < 0)
                        return r;
                r = prov_sql_commit(&tx);
                if (r < 0)
                        return r;
        }
}

ProvSql *prov_sql_close(ProvSql *s) {
        if (!s)
                return NULL;

        if (s->stmts)
                for (size_t i = 0; i < s->schema->n_statements; i++)
                        sqlite3_finalize(s->stmts[i]);
        free(s->stmts);
        for (size_t i = 0; i < _TX_MAX; i++)
                sqlite3_finalize(s->tx_stmts[i]);
        /* sqlite3_close_v2() rolls back a transaction left open. */
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
}

/* Makes sure the file exists with mode 0600 before SQLite opens it: SQLite would create it with
 * the process umask, and creates -wal and -shm with the mode of the main file. */
static int sql_prepare_file(const char *path) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                return negative_errno();
        return 0;
}

/* Before SQLite initialises (at its first open): no memory statistics, which nothing here reads
 * and which cost a mutex and two counters on every allocation (3% of a first sync's
 * instructions). It fails harmlessly if the process used SQLite before. */
static void sql_configure_once(void) {
        (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sql_new(const char *path, const ProvSqlSchema *schema, unsigned flags, ProvSql **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        _cleanup_(prov_sql_closep) ProvSql *s = NULL;
        bool readonly = flags & PROV_SQL_READONLY;
        int rc;

        (void) pthread_once(&once, sql_configure_once);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->schema = schema;
        s->flags = flags;
        if (schema->n_statements > 0) {
                s->stmts = calloc(schema->n_statements, sizeof(*s->stmts));
                if (!s->stmts)
                        return -ENOMEM;
        }

        /* NOMUTEX: a handle is used by one thread at a time. */
        rc = sqlite3_open_v2(path, &s->db,
                             (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOFOLLOW |
                                     SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                if (!s->db)
                        return -ENOMEM;
                return prov_sql_fail(s, rc);
        }
        (void) sqlite3_extended_result_codes(s->db, 1);
        rc = sqlite3_busy_timeout(s->db, PROV_SQL_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return prov_sql_fail(s, rc);

        *ret = TAKE_PTR(s);
        return 0;
}

static int sql_set_cache(ProvSql *s, unsigned cache_kib) {
        char sql[64];

        if (cache_kib == 0)
                return 0;
        /* Negative: KiB rather than pages. */
        snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%u", cache_kib);
        return prov_sql_exec(s, sql);
}

/* WAL lets readers (provisionctl) read while the writer writes. */
static int sql_set_wal(ProvSql *s) {
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;
        const char *mode;
        int r;

        r = prov_sql_prepare(s, "PRAGMA journal_mode = WAL", &st);
        if (r < 0)
                return r;
        r = prov_sql_step(s, st);
        if (r < 0)
                return r;
        mode = r > 0 ? (const char *) sqlite3_column_text(st, 0) : NULL;
        if (!mode || strcasecmp(mode, "wal") != 0)
                return prov_sql_failf(s, -EIO, "cannot switch to WAL journal mode");
        return 0;
}

static int sql_open_readwrite(ProvSql *s, int version, unsigned cache_kib) {
        int r;

        /* Finalized before anything else runs: a statement left mid-way would keep the
         * connection busy. */
        r = sql_set_wal(s);
        if (r < 0)
                return r;

        /* FULL makes every commit survive power loss, not only a crash of the process: what a
         * deprovision on a host or an acknowledged IdP write on the hub needs. NORMAL (in WAL
         * mode: no sync per commit, a crash of the process loses nothing) otherwise. */
        r = prov_sql_exec(s, s->flags & PROV_SQL_DURABLE ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        if (r < 0)
                return r;
        r = prov_sql_exec(s, "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;");
        if (r < 0)
                return r;
        r = sql_set_cache(s, cache_kib);
        if (r < 0)
                return r;
        r = sql_migrate(s, version);
        if (r < 0)
                return r;
        return prov_sql_exec(s, "PRAGMA foreign_keys = ON");
}

static int sql_open_readonly(ProvSql *s, int version, unsigned cache_kib) {
        int v, r;

        /* query_only guards against a write sneaking through even if the file is writable to
         * us. */
        r = prov_sql_exec(s, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;");
        if (r < 0)
                return r;
        r = sql_set_cache(s, cache_kib);
        if (r < 0)
                return r;
        r = prov_sql_version(s, &v);
        if (r < 0)
                return r;
        if (v > version)
                return prov_sql_failf(s, -EPROTONOSUPPORT, "%s schema version %d is newer than %d",
                                      s->schema->what, v, version);
        if (v < version)
                return prov_sql_failf(s, -ESTALE, "%s schema version %d is older than %d", s->schema->what, v,
                                      version);
        return 0;
}

int prov_sql_open(const char *path, const ProvSqlSchema *schema, int version, unsigned flags, unsigned cache_kib,
                  ProvSql **ret) {
        _cleanup_(prov_sql_closep) ProvSql *s = NULL;
        int r;

        if (!path || !schema || !ret || version < 0 || (size_t) version > schema->n_migrations)
                return -EINVAL;

        if (flags & PROV_SQL_READONLY) {
                /* Without this SQLite says only "unable to open", for which we could not tell
                 * missing from forbidden. */
                if (access(path, F_OK) < 0)
                        return negative_errno();
        } else {
                r = sql_prepare_file(path);
                if (r < 0)
                        return r;
        }

        r = sql_new(path, schema, flags, &s);
        if (r < 0)
                return r;
        r = flags & PROV_SQL_READONLY ? sql_open_readonly(s, version, cache_kib)
                                      : sql_open_readwrite(s, version, cache_kib);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}
