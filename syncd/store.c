/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The SQLite store of provision-syncd. See store.h for the contract.
 *
 * Opening, migrations, errors and transactions go through the SQLite core (common/prov-sql.h),
 * shared with the hub. Hot paths (the statements a sync runs once per record) are kept
 * prepared by the core, by StmtId; every use resets and clears them on scope exit, so that a
 * statement never holds a read transaction open or a pointer to a caller's string. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prov-time.h"
#include "store-internal.h"

/* The page cache of the read-write handle, KiB: what a large directory's sync needs without
 * spilling much, within the daemon's 64 MiB. More costs memory at the first sync's peak and
 * gains no CPU; less gains no memory, since the scan, not the store, then has the peak. */
#define PROV_STORE_CACHE_KIB 6144
/* For reads that visit each page once (the snapshot export): the cache would only hold memory. */
#define PROV_STORE_STREAM_CACHE_KIB 1024

void id_bitmaps_drop(ProvStore *s) {
        for (size_t i = 0; i < ELEMENTSOF(s->used); i++) {
                free(s->used[i].bits);
                s->used[i] = (IdBitmap) {};
        }
}

int64_t prov_now_usec(void) {
        return (int64_t) prov_now(CLOCK_REALTIME);
}

const char *prov_store_errmsg(ProvStore *s) {
        return s ? prov_sql_errmsg(s->sql) : "";
}

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
         * membership costs as much as the rest of a first sync. The store keeps them itself:
         * memberships are only added for accounts it has (or that the sync just wrote), and
         * deleting an account or a group deletes its memberships in the same operation.
         * tests/unit/test-sync-engine.c checks PRAGMA foreign_key_check after every kind of change. */
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

/* The three integer columns of the first row of sql into the non-NULL ret[]: 0, or -ENOENT
 * when there is no row. */
int query_row3(ProvStore *s, const char *sql, int64_t *ret[3]) {
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

int stmt_get_key(ProvStore *s, StmtId id, const char *text, int64_t number, sqlite3_stmt **ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if ((text ? sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC) : sqlite3_bind_int64(st, 1, number)) != SQLITE_OK)
                return store_fail_last(s);
        *ret = TAKE_PTR(st);
        return 0;
}

int stmt_prepare_int(ProvStore *s, const char *sql, int64_t number, sqlite3_stmt **ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, number) != SQLITE_OK)
                return store_fail_last(s);
        *ret = TAKE_PTR(st);
        return 0;
}

int exec_int(ProvStore *s, const char *sql, int64_t number) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_prepare_int(s, sql, number, &st);
        if (r < 0)
                return r;
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db);
}

void records_free(const StoreRecordType *t, void *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                t->done((char *) v + i * t->size);
        free(v);
}

int stmt_collect(ProvStore *s, sqlite3_stmt *st, const StoreRecordType *t, void **ret, size_t *ret_n) {
        void *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        while ((r = stmt_step(s, st)) > 0) {
                char *e;

                r = prov_grow(&v, &allocated, n + 1, t->size);
                if (r < 0)
                        break;
                e = (char *) v + n * t->size;
                memset(e, 0, t->size);
                n++;
                r = t->from_row(s, st, e);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                records_free(t, v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int records_query(ProvStore *s, const char *sql, const char *key, const StoreRecordType *t, void **ret,
                  size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = stmt_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if (key && sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_collect(s, st, t, ret, ret_n);
}
