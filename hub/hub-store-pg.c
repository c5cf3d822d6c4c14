/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The PostgreSQL backend of hub-store-db.h (libpq), for several hub replicas over one database.
 *
 * - Statements are SQLite's text with ?N rewritten to $N, prepared on the server on first use
 *   (with the types of their first binding: text, bigint, or NULL left to the server) and run
 *   with text values; a result is read whole, so that the caller can run other statements
 *   between two of its rows.
 * - Writers are ordered by one advisory lock held to the end of their transaction
 *   (hub_db_write_lock()): seq = head + 1 is then assigned in commit order, which a sequence or
 *   bigserial is not (a follower would skip an event that commits late). The same statement
 *   queues a NOTIFY, sent by PostgreSQL only when the transaction commits.
 * - A dedicated connection LISTENs for those (hub_db_watch()): a wake-up only, the events are
 *   read from the table, so a lost notification costs latency, never an event; after a
 *   reconnect the caller reads the head again.
 * - A lost connection fails the statement (-ECONNRESET) and whatever transaction it was in; the
 *   next statement outside a transaction connects again (at most once a second while the
 *   server does not answer: -ECONNREFUSED in between), and a statement outside a transaction
 *   that found the connection dead is run once more on the new one.
 * - The password comes from a file, is kept only to reconnect and wiped on close; conninfo may
 *   not hold one, and neither is ever in a message. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "hub-store-db-backend.h"
#include "hub-util.h"

/* The advisory lock keys: writers of the directory, and migrations ("prov", "prom"). */
#define PG_WRITE_LOCK_KEY "1886547830"
#define PG_MIGRATE_LOCK_KEY "1886547821"
/* The channel writers notify and replicas listen on. */
#define PG_CHANNEL "provision_hub_feed"
/* The most parameters a statement of the store has. */
#define PG_MAX_PARAMS 16
/* How long to wait between two attempts to reach a server that did not answer (each attempt
 * blocks the serving thread for up to PG_CONNECT_TIMEOUT when the server's machine is gone). */
#define PG_RETRY_USEC (250 * 1000)
#define PG_CONNECT_TIMEOUT "2"
/* See pg_ensure() and pg_write_lock(). */
#define PG_LOCK_TIMEOUT "'3s'"
#define PG_IDLE_TX_TIMEOUT "'15s'"
#define PG_PASSWORD_MAX 1024

/* Type OIDs (pg_type.h, stable since forever). */
#define PG_OID_INT8 20
#define PG_OID_TEXT 25

typedef struct PgStmt {
        HubStmt base;
        bool one_off;
        char *sql;               /* with $N */
        int n_params;            /* the highest N */
        unsigned prepared_gen;   /* the connection generation it is prepared on (0: none) */
        char name[24];
        const char *values[PG_MAX_PARAMS];
        char numbers[PG_MAX_PARAMS][24];
        Oid types[PG_MAX_PARAMS];
        PGresult *res;
        int row;                 /* the current row; -1 before the first */
} PgStmt;

typedef struct PgDb {
        HubDb base;
        PGconn *conn;
        unsigned gen; /* bumped on each new connection: statements are prepared again */
        char *conninfo;
        char *password;
        const HubDbSchema *schema;
        PgStmt *kept;
        int64_t changes;
        bool locked; /* the writers' lock is held by the open transaction */
        uint64_t retry_after; /* monotonic usec: no connection attempt before */
        PGconn *listen;
        uint64_t listen_retry_after;
        char errmsg[256];
} PgDb;

#define PG(db) ((PgDb *) (db))
#define PGS(st) ((PgStmt *) (st))

static void pg_set_errmsg(HubDb *db, const char *msg) {
        snprintf(PG(db)->errmsg, sizeof(PG(db)->errmsg), "%s", msg ?: "");
}

static const char *pg_errmsg(HubDb *db) {
        return PG(db)->errmsg;
}

/* Keeps the first line of libpq's message (never holding the password: libpq does not echo
 * it). */
static void set_msg_line(PgDb *db, const char *prefix, const char *msg) {
        snprintf(db->errmsg, sizeof(db->errmsg), "%s%s", prefix, msg ?: "");
        db->errmsg[strcspn(db->errmsg, "\n")] = 0;
}

/* The -errno of a failed result (or of the connection when res is NULL), its message kept. */
static int pg_fail(PgDb *db, PGresult *res) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
                set_msg_line(db, "PostgreSQL: ", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        else
                set_msg_line(db, "PostgreSQL: ", db->conn ? PQerrorMessage(db->conn) : "no connection");
        if (!db->conn || PQstatus(db->conn) != CONNECTION_OK)
                return -ECONNRESET;
        if (!state)
                return -EIO;
        if (streq(state, "23505"))
                return -EEXIST;
        if (streq(state, "40001") || streq(state, "40P01") || streq(state, "55P03"))
                return -EBUSY;
        if (streq(state, "53100"))
                return -ENOSPC;
        if (streq(state, "53200"))
                return -ENOMEM;
        if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
                return -ECONNRESET;
        if (strncmp(state, "23", 2) == 0)
                return -EINVAL;
        return -EIO;
}

/* Reads the password file: its first line, at most PG_PASSWORD_MAX bytes. */
static int read_password(const char *path, char **ret) {
        _cleanup_close_ int fd = -1;
        char buf[PG_PASSWORD_MAX + 2];
        ssize_t n;
        char *p;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        if (strlen(buf) > PG_PASSWORD_MAX) {
                explicit_bzero(buf, sizeof(buf));
                return -EFBIG;
        }
        p = strdup(buf);
        explicit_bzero(buf, sizeof(buf));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* A new connection with the conninfo and the password. */
/* libpq prints the server's notices (a FATAL on shutdown) to stderr by default: not ours to
 * log, the failure of the statement says it. */
static void notice_ignore(void *arg, const char *message) {
        (void) arg;
        (void) message;
}

static PGconn *pg_connect(PgDb *db) {
        /* Defaults before conninfo, which overrides them: a server whose machine is gone is
         * noticed by TCP within about 10 s rather than never (the serving thread waits on it). */
        const char *keys[] = { "connect_timeout", "fallback_application_name", "keepalives_idle", "keepalives_interval",
                               "keepalives_count", "tcp_user_timeout", "dbname", "password", NULL };
        const char *values[] = { PG_CONNECT_TIMEOUT, "provision-hub", "5", "2", "3", "10000", db->conninfo, db->password,
                                 NULL };
        PGconn *c;

        if (!db->password)
                keys[7] = NULL;
        c = PQconnectdbParams(keys, values, 1);
        if (c)
                PQsetNoticeProcessor(c, notice_ignore, NULL);
        return c;
}

/* A working connection for the next statement: the one we have, or a new one when it is lost
 * and no transaction was open on it (a transaction dies with its connection). */
static int pg_ensure(PgDb *db) {
        PGresult *res;
        PGconn *c;

        if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
                return 0;
        if (hub_monotonic_usec() < db->retry_after)
                return hub_db_failf(&db->base, -ECONNREFUSED, "PostgreSQL: not reachable; retrying shortly");
        c = pg_connect(db);
        if (!c)
                return -ENOMEM;
        if (PQstatus(c) != CONNECTION_OK) {
                set_msg_line(db, "PostgreSQL: ", PQerrorMessage(c));
                PQfinish(c);
                db->retry_after = hub_monotonic_usec() + PG_RETRY_USEC;
                return -ECONNREFUSED;
        }
        /* The serving thread waits on what it asks: a replica frozen inside a writing
         * transaction (the writers' lock held) must cost the others a 503 after PG_LOCK_TIMEOUT,
         * not a hung hub (and see pg_write_lock()). */
        res = PQexec(c, "SET lock_timeout = " PG_LOCK_TIMEOUT);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                set_msg_line(db, "PostgreSQL: ", PQerrorMessage(c));
                PQclear(res);
                PQfinish(c);
                return -EIO;
        }
        PQclear(res);
        if (db->conn)
                PQfinish(db->conn);
        db->conn = c;
        db->gen++;
        db->locked = false;
        return 0;
}

/* Rewrites ?N to $N outside quotes; the highest N in *ret_n. */
static int translate(const char *in, char **ret, int *ret_n) {
        size_t len = strlen(in);
        char *out = malloc(len + 1), *o = out;
        bool quoted = false;
        int max = 0;

        if (!out)
                return -ENOMEM;
        for (const char *p = in; *p; p++) {
                if (*p == '\'')
                        quoted = !quoted;
                if (!quoted && *p == '?' && p[1] >= '0' && p[1] <= '9') {
                        int n = 0;

                        *o++ = '$';
                        for (p++; *p >= '0' && *p <= '9'; p++) {
                                n = n * 10 + (*p - '0');
                                *o++ = *p;
                        }
                        p--;
                        if (n > max)
                                max = n;
                        continue;
                }
                *o++ = *p;
        }
        *o = 0;
        if (max > PG_MAX_PARAMS) {
                free(out);
                return -E2BIG;
        }
        *ret = out;
        *ret_n = max;
        return 0;
}

static int stmt_init(PgDb *db, PgStmt *st, const char *sql) {
        st->base.db = &db->base;
        st->row = -1;
        return translate(sql, &st->sql, &st->n_params);
}

static int pg_stmt(HubDb *d, unsigned id, HubStmt **ret) {
        PgDb *db = PG(d);
        PgStmt *st;
        int r;

        assert(id < db->schema->n_statements);
        st = &db->kept[id];
        if (!st->sql) {
                const char *sql = db->schema->overrides && db->schema->overrides[id] ? db->schema->overrides[id]
                                                                                      : db->schema->statements[id];

                r = stmt_init(db, st, sql);
                if (r < 0)
                        return r;
                snprintf(st->name, sizeof(st->name), "hub_%u", id);
        }
        *ret = &st->base;
        return 0;
}

static int pg_prepare(HubDb *d, const char *sql, HubStmt **ret) {
        PgStmt *st = calloc(1, sizeof(*st));
        int r;

        if (!st)
                return -ENOMEM;
        r = stmt_init(PG(d), st, sql);
        if (r < 0) {
                free(st);
                return r;
        }
        st->one_off = true;
        *ret = &st->base;
        return 0;
}

static void result_drop(PgStmt *st) {
        if (st->res)
                PQclear(st->res);
        st->res = NULL;
        st->row = -1;
}

static void pg_reset(HubStmt *s) {
        PgStmt *st = PGS(s);

        result_drop(st);
        if (!st->one_off)
                for (int i = 0; i < st->n_params; i++) {
                        st->values[i] = NULL;
                        st->types[i] = 0;
                }
}

static void pg_finalize(HubStmt *s) {
        PgStmt *st = PGS(s);

        result_drop(st);
        if (st->one_off) {
                free(st->sql);
                free(st);
        } else
                pg_reset(s);
}

static int param_index(PgStmt *st, int i) {
        if (i < 1 || i > st->n_params)
                return hub_db_failf(st->base.db, -ERANGE, "parameter %d out of range", i);
        result_drop(st);
        return i - 1;
}

static int pg_bind_text(HubStmt *s, int i, const char *t) {
        PgStmt *st = PGS(s);
        int k = param_index(st, i);

        if (k < 0)
                return k;
        st->values[k] = t;
        st->types[k] = t ? PG_OID_TEXT : 0;
        return 0;
}

static int pg_bind_int64(HubStmt *s, int i, int64_t v) {
        PgStmt *st = PGS(s);
        int k = param_index(st, i);

        if (k < 0)
                return k;
        snprintf(st->numbers[k], sizeof(st->numbers[k]), "%" PRIi64, v);
        st->values[k] = st->numbers[k];
        st->types[k] = PG_OID_INT8;
        return 0;
}

static int pg_bind_null(HubStmt *s, int i) {
        PgStmt *st = PGS(s);
        int k = param_index(st, i);

        if (k < 0)
                return k;
        st->values[k] = NULL;
        st->types[k] = 0;
        return 0;
}

/* Runs the statement once: prepared on the connection first when kept. */
static PGresult *stmt_exec(PgDb *db, PgStmt *st) {
        if (st->one_off)
                return PQexecParams(db->conn, st->sql, st->n_params, st->types, st->values, NULL, NULL, 0);
        if (st->prepared_gen != db->gen) {
                PGresult *p = PQprepare(db->conn, st->name, st->sql, st->n_params, st->types);

                if (PQresultStatus(p) != PGRES_COMMAND_OK)
                        return p;
                PQclear(p);
                st->prepared_gen = db->gen;
        }
        return PQexecPrepared(db->conn, st->name, st->n_params, st->values, NULL, NULL, 0);
}

static int pg_step(HubStmt *s) {
        PgStmt *st = PGS(s);
        PgDb *db = PG(s->db);
        int r;

        if (!st->res) {
                bool idle;

                r = pg_ensure(db);
                if (r < 0)
                        return r;
                idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
                for (int attempt = 0;; attempt++) {
                        ExecStatusType status;

                        st->res = stmt_exec(db, st);
                        status = PQresultStatus(st->res);
                        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
                                break;
                        r = pg_fail(db, st->res);
                        result_drop(st);
                        /* Outside a transaction, a connection found dead is replaced and the
                         * statement run once more: nothing of it happened on the old one. */
                        if (r != -ECONNRESET || !idle || attempt > 0 || pg_ensure(db) < 0)
                                return r;
                }
                db->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
                st->row = -1;
        }
        if (st->row + 1 >= PQntuples(st->res)) {
                st->row = PQntuples(st->res);
                return 0;
        }
        st->row++;
        return 1;
}

static int64_t pg_column_int64(HubStmt *s, int i) {
        PgStmt *st = PGS(s);

        if (!st->res || st->row < 0 || st->row >= PQntuples(st->res) || PQgetisnull(st->res, st->row, i))
                return 0;
        return strtoll(PQgetvalue(st->res, st->row, i), NULL, 10);
}

static const char *pg_column_text(HubStmt *s, int i) {
        PgStmt *st = PGS(s);

        if (!st->res || st->row < 0 || st->row >= PQntuples(st->res) || PQgetisnull(st->res, st->row, i))
                return NULL;
        return PQgetvalue(st->res, st->row, i);
}

static bool pg_column_null(HubStmt *s, int i) {
        PgStmt *st = PGS(s);

        return !st->res || st->row < 0 || st->row >= PQntuples(st->res) || PQgetisnull(st->res, st->row, i);
}

static int64_t pg_changes(HubDb *db) {
        return PG(db)->changes;
}

static int pg_exec_conn(PgDb *db, const char *sql) {
        PGresult *res;
        ExecStatusType status;
        int r = 0;

        res = PQexec(db->conn, sql);
        status = PQresultStatus(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
                r = pg_fail(db, res);
        PQclear(res);
        return r;
}

static int pg_exec(HubDb *d, const char *sql) {
        PgDb *db = PG(d);
        bool idle;
        int r;

        r = pg_ensure(db);
        if (r < 0)
                return r;
        /* A COMMIT of a transaction a statement failed in rolls back without an error. */
        if (strncmp(sql, "COMMIT", 6) == 0 && PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
                (void) pg_exec_conn(db, "ROLLBACK");
                return hub_db_failf(d, -EIO, "PostgreSQL: a statement of the transaction failed; rolled back");
        }
        /* Outside a transaction (a BEGIN), a connection the server closed since its last use
         * (a restart) is replaced and the statement run once more. */
        idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
        r = pg_exec_conn(db, sql);
        if (r == -ECONNRESET && idle && pg_ensure(db) >= 0)
                r = pg_exec_conn(db, sql);
        return r;
}

static int pg_last_id(HubDb *d, int64_t *ret) {
        PgDb *db = PG(d);
        PGresult *res;
        int r;

        res = PQexec(db->conn, "SELECT lastval()");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                r = pg_fail(db, res);
                PQclear(res);
                return r;
        }
        *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return 0;
}

static int pg_begin(HubDb *d) {
        PG(d)->locked = false;
        return pg_exec(d, "BEGIN");
}

static bool pg_in_transaction(HubDb *d) {
        PgDb *db = PG(d);

        if (!db->conn || PQstatus(db->conn) != CONNECTION_OK)
                return false;
        switch (PQtransactionStatus(db->conn)) {
        case PQTRANS_ACTIVE:
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR:
                return true;
        default:
                return false;
        }
}

static int pg_read_begin(HubDb *d) {
        PG(d)->locked = false;
        return pg_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

static int pg_write_lock(HubDb *d) {
        PgDb *db = PG(d);
        int r;

        if (db->locked)
                return 0;
        /* The server ends a writing transaction idle for PG_IDLE_TX_TIMEOUT (a batch never is for
         * longer than one round of requests): a replica frozen with the lock cannot keep it.
         * Read transactions (a snapshot streamed to a slow host) have no such limit. */
        r = pg_exec(d, "SET LOCAL idle_in_transaction_session_timeout = " PG_IDLE_TX_TIMEOUT ";"
                       " SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK_KEY "); NOTIFY " PG_CHANNEL);
        if (r < 0)
                return r;
        db->locked = true;
        return 1;
}

static void pg_tx_ended(HubDb *d, bool savepoint) {
        /* A savepoint rolled back may have taken the lock (and queued the NOTIFY) with it. */
        (void) savepoint;
        PG(d)->locked = false;
}

/* One setting's value is one of the allowed words. */
static bool setting_in(PgDb *db, const char *name, const char *const *allowed) {
        _cleanup_free_ char *q = NULL;
        PGresult *res;
        bool ok = false;

        if (asprintf(&q, "SHOW %s", name) < 0)
                return false;
        res = PQexec(db->conn, q);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
                for (const char *const *a = allowed; *a; a++)
                        if (streq(PQgetvalue(res, 0, 0), *a))
                                ok = true;
        PQclear(res);
        return ok;
}

static bool pg_durable(HubDb *d) {
        PgDb *db = PG(d);

        if (pg_ensure(db) < 0)
                return false;
        return setting_in(db, "fsync", (const char *const[]) { "on", NULL }) &&
               setting_in(db, "synchronous_commit",
                          (const char *const[]) { "on", "remote_apply", "remote_write", "local", NULL });
}

/* ---- wake-ups ---- */

static void listen_drop(PgDb *db) {
        if (db->listen)
                PQfinish(db->listen);
        db->listen = NULL;
}

static int pg_watch_fd(HubDb *d) {
        PgDb *db = PG(d);

        return db->listen && PQstatus(db->listen) == CONNECTION_OK ? PQsocket(db->listen) : -1;
}

static int pg_watch(HubDb *d) {
        PgDb *db = PG(d);
        PGnotify *n;
        int woken = 0;

        if (!db->listen || PQstatus(db->listen) != CONNECTION_OK) {
                PGresult *res;

                listen_drop(db);
                if (hub_monotonic_usec() < db->listen_retry_after)
                        return 0;
                db->listen_retry_after = hub_monotonic_usec() + PG_RETRY_USEC;
                db->listen = pg_connect(db);
                if (!db->listen)
                        return -ENOMEM;
                if (PQstatus(db->listen) != CONNECTION_OK) {
                        set_msg_line(db, "PostgreSQL (listening): ", PQerrorMessage(db->listen));
                        listen_drop(db);
                        return -ECONNREFUSED;
                }
                res = PQexec(db->listen, "LISTEN " PG_CHANNEL);
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                        set_msg_line(db, "PostgreSQL (listening): ", PQerrorMessage(db->listen));
                        PQclear(res);
                        listen_drop(db);
                        return -EIO;
                }
                PQclear(res);
                if (PQsetnonblocking(db->listen, 1) < 0) {
                        listen_drop(db);
                        return -EIO;
                }
                /* Listening again: whatever committed while we were not is read from the head. */
                return 1;
        }
        if (!PQconsumeInput(db->listen)) {
                set_msg_line(db, "PostgreSQL (listening): ", PQerrorMessage(db->listen));
                listen_drop(db);
                return 1; /* reconnected on the next call; the head is read again meanwhile */
        }
        while ((n = PQnotifies(db->listen))) {
                woken = 1;
                PQfreemem(n);
        }
        return woken;
}

/* ---- opening ---- */

static HubDb *pg_close(HubDb *d) {
        PgDb *db = PG(d);

        if (db->kept)
                for (size_t i = 0; i < db->schema->n_statements; i++) {
                        result_drop(&db->kept[i]);
                        free(db->kept[i].sql);
                }
        free(db->kept);
        listen_drop(db);
        if (db->conn)
                PQfinish(db->conn);
        if (db->password) {
                explicit_bzero(db->password, strlen(db->password));
                free(db->password);
        }
        free(db->conninfo);
        free(db);
        return NULL;
}

static const HubDbOps pg_ops = {
        .close = pg_close,
        .errmsg = pg_errmsg,
        .set_errmsg = pg_set_errmsg,
        .stmt = pg_stmt,
        .prepare = pg_prepare,
        .reset = pg_reset,
        .finalize = pg_finalize,
        .bind_text = pg_bind_text,
        .bind_int64 = pg_bind_int64,
        .bind_null = pg_bind_null,
        .step = pg_step,
        .column_int64 = pg_column_int64,
        .column_text = pg_column_text,
        .column_null = pg_column_null,
        .changes = pg_changes,
        .last_id = pg_last_id,
        .exec = pg_exec,
        .begin = pg_begin,
        .in_transaction = pg_in_transaction,
        .read_begin = pg_read_begin,
        .write_lock = pg_write_lock,
        .tx_ended = pg_tx_ended,
        .durable = pg_durable,
        .watch_fd = pg_watch_fd,
        .watch = pg_watch,
};

/* The schema's version (0: none yet). */
static int schema_version(PgDb *db, int64_t *ret) {
        PGresult *res = PQexec(db->conn, "SELECT coalesce(max(version), 0) FROM hub_schema");
        int r = 0;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
                r = pg_fail(db, res);
        else
                *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return r;
}

/* Brings the schema to `version` in one transaction, under a lock of its own so that replicas
 * starting together migrate once. */
static int migrate(PgDb *db, int version) {
        int64_t have = 0;
        int r;

        r = pg_exec_conn(db, "BEGIN");
        if (r < 0)
                return r;
        r = pg_exec_conn(db, "SET LOCAL lock_timeout = 0; SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK_KEY ");"
                             "CREATE TABLE IF NOT EXISTS hub_schema (version bigint NOT NULL)");
        if (r >= 0)
                r = schema_version(db, &have);
        if (r >= 0 && have > version)
                r = hub_db_failf(&db->base, -EPROTONOSUPPORT,
                                 "the hub store's schema is version %" PRIi64 ", newer than this hub's %d", have,
                                 version);
        for (int64_t v = have; r >= 0 && v < version; v++)
                r = pg_exec_conn(db, db->schema->migrations[v]);
        if (r >= 0 && have < version) {
                char q[96];

                snprintf(q, sizeof(q), "DELETE FROM hub_schema; INSERT INTO hub_schema VALUES (%d)", version);
                r = pg_exec_conn(db, q);
        }
        if (r < 0) {
                (void) pg_exec_conn(db, "ROLLBACK");
                return r;
        }
        return pg_exec_conn(db, "COMMIT");
}

/* What hub_db_open_pg() failed with, for the caller: the message of the attempt. */
static int open_failed(HubDb *d, int r, char **ret_error) {
        if (ret_error && d && hub_db_errmsg(d)[0])
                *ret_error = strdup(hub_db_errmsg(d));
        return r;
}

int hub_db_open_pg(const char *conninfo, const char *password_file, const HubDbSchema *schema, int version,
                   bool readonly, HubDb **ret, char **ret_error) {
        _cleanup_(hub_db_closep) HubDb *d = NULL;
        PQconninfoOption *opts;
        char *err = NULL;
        PgDb *db;
        int r;

        assert(conninfo);
        assert(schema);
        assert(version >= 0 && (size_t) version <= schema->n_migrations);

        /* conninfo is in a configuration file others may read: the password is not. */
        opts = PQconninfoParse(conninfo, &err);
        if (!opts) {
                PQfreemem(err); /* may quote conninfo, a password too: not passed on */
                if (ret_error)
                        *ret_error = strdup("conninfo is not a valid libpq connection string");
                return -EINVAL;
        }
        for (PQconninfoOption *o = opts; o->keyword; o++)
                if (streq(o->keyword, "password") && o->val) {
                        PQconninfoFree(opts);
                        if (ret_error)
                                *ret_error = strdup("conninfo holds a password: put it in password_file");
                        return -EPERM;
                }
        PQconninfoFree(opts);

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        d = &db->base;
        db->base.ops = &pg_ops;
        db->schema = schema;
        db->conninfo = strdup(conninfo);
        db->kept = calloc(schema->n_statements, sizeof(PgStmt));
        if (!db->conninfo || !db->kept)
                return -ENOMEM;
        if (password_file) {
                r = read_password(password_file, &db->password);
                if (r < 0)
                        return open_failed(d, hub_db_failf(d, r, "PostgreSQL: cannot read the password file"),
                                           ret_error);
        }
        r = pg_ensure(db);
        if (r < 0)
                return open_failed(d, r, ret_error);
        if (readonly) {
                int64_t have = 0;

                r = schema_version(db, &have);
                if (r < 0)
                        return open_failed(d, r, ret_error);
                if (have != version)
                        return open_failed(d,
                                           hub_db_failf(d, have < version ? -ESTALE : -EPROTONOSUPPORT,
                                                        "the hub store's schema is version %" PRIi64 ", not %d",
                                                        have, version),
                                           ret_error);
        } else {
                r = migrate(db, version);
                if (r < 0)
                        return open_failed(d, r, ret_error);
        }
        *ret = TAKE_PTR(d);
        return 0;
}
