/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of the SQLite core (common/sql.c): migrations, file mode, read-only handles,
 * transaction scopes, the errno mapping and kept statements. Each test gets its own temporary
 * directory under /tmp, removed afterwards. */

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "prov-sql.h"
#include "prov-util.h"

static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);",
        /* 1 -> 2 */
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent(id));",
        /* 2 -> 3 */
        "ALTER TABLE t ADD COLUMN note TEXT;",
};

enum {
        STMT_INSERT,
        STMT_SELECT,
        STMT_COUNT,
        _STMT_MAX,
};

static const char *const statements[_STMT_MAX] = {
        [STMT_INSERT] = "INSERT INTO t (name) VALUES (?1)",
        [STMT_SELECT] = "SELECT name FROM t WHERE ?1 IS NULL OR name = ?1 ORDER BY id",
        [STMT_COUNT] = "SELECT count(*) FROM t",
};

static const ProvSqlSchema schema = {
        .migrations = migrations,
        .n_migrations = ELEMENTSOF(migrations),
        .statements = statements,
        .n_statements = ELEMENTSOF(statements),
        .what = "test store",
};

typedef struct Fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX];
        ProvSql *s;
        unsigned rollbacks; /* calls of the rollback hook */
} Fixture;

static void remove_db_files(const char *path) {
        char p[PATH_MAX];

        (void) unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        (void) unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        (void) unlink(p);
}

static void fixture_path(const Fixture *f, const char *name, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s", f->dir, name);
        assert_true(n > 0 && (size_t) n < size);
}

static void count_rollback(void *userdata) {
        Fixture *f = userdata;
        f->rollbacks++;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-sql-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        fixture_path(f, "sql.db", f->path, sizeof(f->path));
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, 0, 0, &f->s), 0);
        prov_sql_set_rollback_hook(f->s, count_rollback, f);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        static const char *const extra[] = { "a.db", "link.db", "mode.db", "ro.db" };
        char p[PATH_MAX];

        f->s = prov_sql_close(f->s);
        remove_db_files(f->path);
        for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                fixture_path(f, extra[i], p, sizeof(p));
                remove_db_files(p);
        }
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

/* One integer from a query, on any handle. */
static int64_t query_int(ProvSql *s, const char *sql) {
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;

        assert_int_equal(prov_sql_prepare(s, sql, &st), 0);
        assert_int_equal(prov_sql_step(s, st), 1);
        return sqlite3_column_int64(st, 0);
}

static bool table_exists(ProvSql *s, const char *name) {
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;

        assert_int_equal(prov_sql_prepare(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &st),
                         0);
        assert_int_equal(prov_sql_bind_text(s, st, 1, name), 0);
        return prov_sql_step(s, st) == 1;
}

static int insert_name(ProvSql *s, const char *name) {
        _cleanup_sql_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = prov_sql_stmt(s, STMT_INSERT, &st);
        if (r < 0)
                return r;
        r = prov_sql_bind_text(s, st, 1, name);
        if (r < 0)
                return r;
        return prov_sql_run(s, st);
}

static int64_t count_rows(ProvSql *s) {
        return query_int(s, "SELECT count(*) FROM t");
}

static void set_user_version(const char *path, int v) {
        sqlite3 *db = NULL;
        char sql[64];

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ---- migrations ---- */

static void test_migrations_step_by_step(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX];
        int v;

        fixture_path(f, "a.db", path, sizeof(path));
        for (int target = 0; target <= (int) schema.n_migrations; target++) {
                _cleanup_(prov_sql_closep) ProvSql *s = NULL;

                assert_int_equal(prov_sql_open(path, &schema, target, 0, 0, &s), 0);
                assert_int_equal(prov_sql_version(s, &v), 0);
                assert_int_equal(v, target);
                /* Exactly the steps up to target have run. */
                assert_int_equal(table_exists(s, "t"), target >= 1);
                assert_int_equal(table_exists(s, "parent"), target >= 2);
                if (target >= 3)
                        assert_int_equal(query_int(s, "SELECT count(*) FROM pragma_table_info('t') WHERE name = 'note'"),
                                         1);
                if (target == 1)
                        assert_int_equal(insert_name(s, "kept across steps"), 0);
        }
        {
                _cleanup_(prov_sql_closep) ProvSql *s = NULL;

                /* Opening at an older version than the file's leaves the file alone. */
                assert_int_equal(prov_sql_open(path, &schema, 1, 0, 0, &s), 0);
                assert_int_equal(prov_sql_version(s, &v), 0);
                assert_int_equal(v, (int) schema.n_migrations);
                assert_int_equal(count_rows(s), 1);
        }
}

static void test_migration_failure_keeps_earlier_steps(void **state) {
        static const char *const bad[] = {
                "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);",
                "CREATE TABLE half (x INTEGER); CREATE TABLE t (x INTEGER);", /* t exists: fails */
        };
        static const ProvSqlSchema bad_schema = {
                .migrations = bad,
                .n_migrations = ELEMENTSOF(bad),
                .what = "bad store",
        };
        Fixture *f = *state;
        _cleanup_(prov_sql_closep) ProvSql *s = NULL;
        char path[PATH_MAX];
        int v;

        fixture_path(f, "a.db", path, sizeof(path));
        assert_int_equal(prov_sql_open(path, &bad_schema, 2, 0, 0, &s), -EIO);
        assert_null(s);
        /* Step 0 -> 1 committed; the failed step left nothing behind, not even its first table. */
        assert_int_equal(prov_sql_open(path, &bad_schema, 1, 0, 0, &s), 0);
        assert_int_equal(prov_sql_version(s, &v), 0);
        assert_int_equal(v, 1);
        assert_true(table_exists(s, "t"));
        assert_false(table_exists(s, "half"));
}

static void test_newer_version_refused(void **state) {
        Fixture *f = *state;
        ProvSql *s = NULL;

        f->s = prov_sql_close(f->s);
        set_user_version(f->path, (int) schema.n_migrations + 1);
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, 0, 0, &s), -EPROTONOSUPPORT);
        assert_null(s);
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, PROV_SQL_READONLY, 0, &s),
                         -EPROTONOSUPPORT);
        assert_null(s);
        /* A version the schema does not have is a caller's bug. */
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations + 1, 0, 0, &s), -EINVAL);
        assert_int_equal(prov_sql_open(f->path, &schema, -1, 0, 0, &s), -EINVAL);
}

/* ---- the file ---- */

static void test_file_mode_0600(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX];
        struct stat st;
        mode_t old;

        fixture_path(f, "mode.db", path, sizeof(path));
        /* Created 0600 whatever the umask. */
        old = umask(0);
        {
                _cleanup_(prov_sql_closep) ProvSql *s = NULL;
                assert_int_equal(prov_sql_open(path, &schema, 1, 0, 0, &s), 0);
                assert_int_equal(insert_name(s, "x"), 0);
        }
        umask(old);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* An existing file with a wider mode is narrowed. */
        assert_int_equal(chmod(path, 0644), 0);
        {
                _cleanup_(prov_sql_closep) ProvSql *s = NULL;
                assert_int_equal(prov_sql_open(path, &schema, 1, 0, 0, &s), 0);
        }
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_symlink_refused(void **state) {
        Fixture *f = *state;
        ProvSql *s = NULL;
        char link[PATH_MAX];

        fixture_path(f, "link.db", link, sizeof(link));
        assert_int_equal(symlink(f->path, link), 0);
        assert_int_equal(prov_sql_open(link, &schema, 1, 0, 0, &s), -ELOOP);
        assert_null(s);
}

static void test_pragmas(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX];

        assert_int_equal(query_int(f->s, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
        assert_int_equal(query_int(f->s, "PRAGMA foreign_keys"), 1);
        assert_int_equal(query_int(f->s, "PRAGMA synchronous"), 1); /* NORMAL */
        assert_int_equal(query_int(f->s, "PRAGMA temp_store"), 2);  /* MEMORY */
        /* Foreign keys are enforced on the handle (they were off during migrations). */
        assert_int_equal(prov_sql_exec(f->s, "INSERT INTO child (parent) VALUES (42)"), -EEXIST);

        fixture_path(f, "a.db", path, sizeof(path));
        {
                _cleanup_(prov_sql_closep) ProvSql *s = NULL;
                assert_int_equal(prov_sql_open(path, &schema, 1, PROV_SQL_DURABLE, 2048, &s), 0);
                assert_int_equal(query_int(s, "PRAGMA synchronous"), 2); /* FULL */
                assert_int_equal(query_int(s, "PRAGMA cache_size"), -2048);
                assert_false(prov_sql_readonly(s));
        }
}

/* ---- read-only ---- */

static void test_readonly_refuses_writes(void **state) {
        Fixture *f = *state;
        _cleanup_(prov_sql_closep) ProvSql *ro = NULL;
        ProvSqlTx tx = {};
        int v;

        assert_int_equal(insert_name(f->s, "before"), 0);
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, PROV_SQL_READONLY, 0, &ro), 0);
        assert_true(prov_sql_readonly(ro));
        assert_int_equal(prov_sql_version(ro, &v), 0);
        assert_int_equal(v, (int) schema.n_migrations);
        assert_int_equal(count_rows(ro), 1);

        assert_int_equal(insert_name(ro, "after"), -EROFS);
        assert_int_equal(prov_sql_exec(ro, "DELETE FROM t"), -EROFS);
        assert_true(strlen(prov_sql_errmsg(ro)) > 0);
        /* A scope cannot take the write lock either. */
        assert_int_equal(prov_sql_begin(ro, &tx), -EROFS);
        assert_false(tx.open);
        assert_int_equal(count_rows(f->s), 1);
}

static void test_readonly_needs_the_exact_version(void **state) {
        Fixture *f = *state;
        ProvSql *s = NULL;
        char path[PATH_MAX];
        struct stat st;

        fixture_path(f, "ro.db", path, sizeof(path));
        /* Missing: not created. */
        assert_int_equal(prov_sql_open(path, &schema, 1, PROV_SQL_READONLY, 0, &s), -ENOENT);
        assert_int_equal(stat(path, &st), -1);
        assert_null(s);
        /* Older than asked: never migrated by a reader. */
        assert_int_equal(prov_sql_open(path, &schema, 1, 0, 0, &s), 0);
        s = prov_sql_close(s);
        assert_int_equal(prov_sql_open(path, &schema, 2, PROV_SQL_READONLY, 0, &s), -ESTALE);
        assert_null(s);
        assert_int_equal(prov_sql_open(path, &schema, 1, PROV_SQL_READONLY, 0, &s), 0);
        s = prov_sql_close(s);
}

/* ---- transactions ---- */

/* Inserts names in a scope and fails after the last one when fail is set. */
static int insert_in_scope(ProvSql *s, const char *const *names, size_t n, bool fail) {
        _cleanup_sql_tx_ ProvSqlTx tx = {};
        int r;

        r = prov_sql_begin(s, &tx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = insert_name(s, names[i]);
                if (r < 0)
                        return r;
        }
        if (fail)
                return prov_sql_failf(s, -EBADMSG, "failing on purpose");
        return prov_sql_commit(&tx);
}

static void test_tx_own_rolls_back_on_scope_exit(void **state) {
        Fixture *f = *state;

        assert_false(prov_sql_in_transaction(f->s));
        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "a", "b" }, 2, true), -EBADMSG);
        assert_false(prov_sql_in_transaction(f->s));
        assert_int_equal(count_rows(f->s), 0);
        assert_int_equal(f->rollbacks, 1u);
        /* The message is the failure's, not the rollback's. */
        assert_string_equal(prov_sql_errmsg(f->s), "failing on purpose");

        /* A failing statement inside: the earlier insert goes too, with the statement's error. */
        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "c", "c" }, 2, false), -EEXIST);
        assert_int_equal(count_rows(f->s), 0);
        assert_int_equal(f->rollbacks, 2u);
        assert_non_null(strstr(prov_sql_errmsg(f->s), "UNIQUE"));

        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "d" }, 1, false), 0);
        assert_false(prov_sql_in_transaction(f->s));
        assert_int_equal(count_rows(f->s), 1);
        assert_int_equal(f->rollbacks, 2u);
}

static void test_tx_nested_savepoint_rolls_back_only_itself(void **state) {
        Fixture *f = *state;

        /* Inside a scope of the caller's. */
        {
                _cleanup_sql_tx_ ProvSqlTx outer = {};

                assert_int_equal(prov_sql_begin(f->s, &outer), 0);
                assert_true(outer.own);
                assert_int_equal(insert_name(f->s, "outer"), 0);
                assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "inner-1", "inner-2" }, 2, true),
                                 -EBADMSG);
                /* Only the savepoint went: the outer transaction is open with its row. */
                assert_true(prov_sql_in_transaction(f->s));
                assert_int_equal(count_rows(f->s), 1);
                assert_int_equal(f->rollbacks, 1u);
                assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "inner-3" }, 1, false), 0);
                assert_true(prov_sql_in_transaction(f->s));
                assert_int_equal(prov_sql_commit(&outer), 0);
        }
        assert_false(prov_sql_in_transaction(f->s));
        assert_int_equal(count_rows(f->s), 2);

        /* Inside a transaction that spans calls; its rollback undoes the committed savepoints. */
        assert_int_equal(prov_sql_transaction_begin(f->s), 0);
        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "e" }, 1, false), 0);
        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "f" }, 1, true), -EBADMSG);
        assert_true(prov_sql_in_transaction(f->s));
        assert_int_equal(count_rows(f->s), 3);
        assert_int_equal(f->rollbacks, 2u);
        assert_int_equal(prov_sql_transaction_rollback(f->s), 0);
        assert_int_equal(f->rollbacks, 3u);
        assert_false(prov_sql_in_transaction(f->s));
        assert_int_equal(count_rows(f->s), 2);
        /* Nothing open: nothing to undo, no hook. */
        assert_int_equal(prov_sql_transaction_rollback(f->s), 0);
        assert_int_equal(f->rollbacks, 3u);

        assert_int_equal(prov_sql_transaction_begin(f->s), 0);
        assert_int_equal(insert_in_scope(f->s, (const char *const[]) { "g" }, 1, false), 0);
        assert_int_equal(prov_sql_transaction_commit(f->s), 0);
        assert_int_equal(count_rows(f->s), 3);
}

/* ---- errors ---- */

static void test_errno_mapping(void **state) {
        Fixture *f = *state;
        _cleanup_(prov_sql_closep) ProvSql *other = NULL;

        assert_int_equal(prov_sql_errno(NULL, SQLITE_OK), 0);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_ROW), 0);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_DONE), 0);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_BUSY), -EBUSY);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_BUSY_SNAPSHOT), -EBUSY);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_LOCKED), -EBUSY);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_FULL), -ENOSPC);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_CORRUPT), -EBADMSG);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_NOTADB), -EBADMSG);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_CONSTRAINT), -EEXIST);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_READONLY), -EROFS);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_NOMEM), -ENOMEM);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_CANTOPEN), -EACCES);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_IOERR), -EIO);
        assert_int_equal(prov_sql_errno(NULL, SQLITE_ERROR), -EIO);

        /* A constraint through a kept statement, with SQLite's message kept. */
        assert_int_equal(insert_name(f->s, "same"), 0);
        assert_int_equal(insert_name(f->s, "same"), -EEXIST);
        assert_non_null(strstr(prov_sql_errmsg(f->s), "UNIQUE constraint failed"));
        assert_int_equal(prov_sql_exec(f->s, "INSERT INTO t (name) VALUES (NULL)"), -EEXIST);
        /* Bad SQL is an I/O error to the caller, never 0. */
        assert_int_equal(prov_sql_exec(f->s, "SELEC nothing"), -EIO);
        assert_int_equal(prov_sql_failf(f->s, -EBADMSG, "row %d is bad", 7), -EBADMSG);
        assert_string_equal(prov_sql_errmsg(f->s), "row 7 is bad");

        /* Another writer holding the lock: -EBUSY once the timeout (set to 0 here) runs out. */
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, 0, 0, &other), 0);
        assert_int_equal(prov_sql_transaction_begin(f->s), 0);
        assert_int_equal(sqlite3_busy_timeout(prov_sql_db(other), 0), SQLITE_OK);
        assert_int_equal(prov_sql_transaction_begin(other), -EBUSY);
        assert_int_equal(prov_sql_transaction_commit(f->s), 0);
        assert_int_equal(prov_sql_transaction_begin(other), 0);
        assert_int_equal(prov_sql_transaction_commit(other), 0);
}

static void test_column_strdup(void **state) {
        Fixture *f = *state;
        _cleanup_sql_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = (char *) "untouched";

        assert_int_equal(prov_sql_prepare(f->s, "SELECT 'text', NULL", &st), 0);
        assert_int_equal(prov_sql_step(f->s, st), 1);
        assert_int_equal(prov_sql_column_strdup(f->s, st, 0, false, &a), 0);
        assert_string_equal(a, "text");
        assert_int_equal(prov_sql_column_strdup(f->s, st, 1, true, &b), 0);
        assert_null(b);
        assert_int_equal(prov_sql_column_strdup(f->s, st, 1, false, &c), -EBADMSG);
        assert_string_equal(c, "untouched");
        assert_non_null(strstr(prov_sql_errmsg(f->s), "is NULL"));
}

/* ---- kept statements ---- */

/* Steps the kept SELECT bound to name once, leaving it mid-result; returns it. */
static sqlite3_stmt *select_first(ProvSql *s, const char *name) {
        _cleanup_sql_reset_ sqlite3_stmt *st = NULL;

        assert_int_equal(prov_sql_stmt(s, STMT_SELECT, &st), 0);
        assert_int_equal(prov_sql_bind_text(s, st, 1, name), 0);
        assert_int_equal(prov_sql_step(s, st), 1);
        assert_true(sqlite3_stmt_busy(st));
        return st; /* still reset on the way out: the variable is cleaned up, not the pointer */
}

static void test_kept_statement_reset_on_scope_exit(void **state) {
        Fixture *f = *state;
        _cleanup_(prov_sql_closep) ProvSql *other = NULL;
        sqlite3_stmt *st, *again = NULL;

        assert_int_equal(insert_name(f->s, "one"), 0);
        assert_int_equal(insert_name(f->s, "two"), 0);

        st = select_first(f->s, "two");
        /* Reset: no read transaction held open ... */
        assert_false(sqlite3_stmt_busy(st));
        assert_false(prov_sql_in_transaction(f->s));
        /* ... and unbound: ?1 is NULL again, so that every row matches. */
        assert_int_equal(prov_sql_stmt(f->s, STMT_SELECT, &again), 0);
        assert_ptr_equal(again, st); /* prepared once, kept */
        assert_int_equal(prov_sql_step(f->s, again), 1);
        assert_string_equal((const char *) sqlite3_column_text(again, 0), "one");
        prov_sql_resetp(&again);

        /* A writer can checkpoint the whole WAL: no reader of ours pins it. */
        st = select_first(f->s, NULL);
        assert_int_equal(prov_sql_open(f->path, &schema, (int) schema.n_migrations, 0, 0, &other), 0);
        assert_int_equal(insert_name(other, "three"), 0);
        {
                int log = -1, done = -1;
                assert_int_equal(sqlite3_wal_checkpoint_v2(prov_sql_db(other), NULL, SQLITE_CHECKPOINT_TRUNCATE, &log,
                                                           &done),
                                 SQLITE_OK);
                assert_int_equal(log, 0);
        }
        assert_int_equal(prov_sql_exec_stmt(f->s, STMT_COUNT), 0);
        assert_int_equal(count_rows(f->s), 3);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_migrations_step_by_step),
                T(test_migration_failure_keeps_earlier_steps),
                T(test_newer_version_refused),
                T(test_file_mode_0600),
                T(test_symlink_refused),
                T(test_pragmas),
                T(test_readonly_refuses_writes),
                T(test_readonly_needs_the_exact_version),
                T(test_tx_own_rolls_back_on_scope_exit),
                T(test_tx_nested_savepoint_rolls_back_only_itself),
                T(test_errno_mapping),
                T(test_column_strdup),
                T(test_kept_statement_reset_on_scope_exit),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
