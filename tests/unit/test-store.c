/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of the SQLite store (syncd/store.c). Each test gets a fresh store in its own
 * temporary directory under /tmp, removed afterwards. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "prov-util.h"
#include "store.h"

typedef struct Fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX];
        ProvStore *s;
} Fixture;

/* Removes a store file and the WAL companions SQLite may leave next to it. */
static void remove_store_files(const char *path) {
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

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        fixture_path(f, "store.db", f->path, sizeof(f->path));
        assert_int_equal(prov_store_open(f->path, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        static const char *const extra[] = { "a.db", "b.db", "mode.db", "old.db", "empty.db", "v1.db", "v6.db", "v7.db",
                                              "v8.db" };
        char p[PATH_MAX];

        f->s = prov_store_close(f->s);
        remove_store_files(f->path);
        for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                fixture_path(f, extra[i], p, sizeof(p));
                remove_store_files(p);
        }
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

static ProvUserRecord make_user(const char *scim_id, const char *name, uint32_t uid) {
        return (ProvUserRecord) {
                .scim_id = (char *) scim_id,
                .name = (char *) name,
                .uid = uid,
                .gid = uid,
                .gecos = (char *) "Some One",
                .home = (char *) "/home/x",
                .shell = (char *) "/bin/bash",
                .source_active = true,
                .state = PROV_STATE_ACTIVE,
                .last_seen_usec = 42,
        };
}

static ProvGroupRecord make_group(const char *scim_id, const char *name, uint32_t gid) {
        return (ProvGroupRecord) {
                .scim_id = (char *) scim_id,
                .name = (char *) name,
                .gid = gid,
        };
}

/* Sets PRAGMA user_version behind the store's back, as a newer or broken release would. */
static void set_user_version(const char *path, int v) {
        sqlite3 *db = NULL;
        char sql[64];

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                         SQLITE_OK);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_open_creates_current_and_reopen_keeps_data(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = make_user("id-1", "alice", 100000), got = {};

        assert_int_equal(prov_store_schema_version(f->s), PROV_STORE_SCHEMA_VERSION);
        assert_int_equal(PROV_STORE_SCHEMA_VERSION, 9);
        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        assert_int_equal(prov_store_state_set(f->s, "generation", "7"), 0);
        f->s = prov_store_close(f->s);
        assert_null(f->s);

        assert_int_equal(prov_store_open(f->path, &f->s), 0);
        assert_int_equal(prov_store_schema_version(f->s), PROV_STORE_SCHEMA_VERSION);
        assert_int_equal(prov_store_user_get(f->s, "id-1", &got), 0);
        assert_string_equal(got.name, "alice");
        assert_int_equal(got.uid, 100000);
        prov_user_record_done(&got);
        int64_t g = 0;
        assert_int_equal(prov_store_state_get_int(f->s, "generation", &g), 0);
        assert_int_equal(g, 7);

        /* Destructors accept NULL. */
        assert_null(prov_store_close(NULL));
        prov_user_record_done(NULL);
}

static int count_rows(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int n;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
        return n;
}

typedef struct Collected {
        char rows[8][128];
        size_t n;
} Collected;

/* Every membership as "group|user", in the order the store gives them. */
static void collect_memberships(ProvStore *s, Collected *c) {
        ProvMembership *v = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_memberships_load(s, &v, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (i < ELEMENTSOF(c->rows))
                        snprintf(c->rows[i], sizeof(c->rows[0]), "%s|%s", v[i].group_scim_id, v[i].user_scim_id);
        c->n = n;
        prov_memberships_free(v, n);
}

/* Makes the store `name` (its path in p) at schema version, then runs sql on it behind the store's
 * back, as the release of that version would have written it. */
static void make_old_store(Fixture *f, const char *name, int version, const char *sql, char *p, size_t size) {
        ProvStore *s = NULL;
        sqlite3 *db = NULL;

        fixture_path(f, name, p, size);
        assert_int_equal(prov_store_open_at_version(p, version, &s), 0);
        assert_int_equal(prov_store_schema_version(s), version);
        prov_store_close(s);
        assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A store written by the first release (schema 1: memberships by SCIM ids and also indexed by
 * user, no triggers) comes up as the current schema with its data. */
static void test_migrates_v1(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = {};
        char p[PATH_MAX], *owner = NULL;
        ProvStore *s = NULL;
        Collected c = {};

        make_old_store(f, "v1.db", 1,
                       "INSERT INTO users (scim_id, name, uid, gid, gecos, home, shell, source_active, state) "
                       "VALUES ('u-b', 'bob', 100002, 100002, '', '/home/bob', '/bin/sh', 1, 0),"
                       "       ('u-a', 'alice', 100001, 100001, '', '/home/alice', '/bin/sh', 1, 0);"
                       "INSERT INTO groups (scim_id, name, gid) VALUES ('g-1', 'devs', 200000);"
                       /* The last one's account is missing: it was never served. */
                       "INSERT INTO memberships VALUES ('g-1', 'u-a'), ('g-1', 'u-b'), ('g-1', 'ghost');"
                       "INSERT INTO id_ledger (kind, id, owner) VALUES ('uid', 100001, 'user:u-a'),"
                       "  ('gid', 100001, 'user:u-a');",
                       p, sizeof(p));
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'memberships_user'"), 1);

        assert_int_equal(prov_store_open(p, &s), 0);
        assert_int_equal(prov_store_schema_version(s), PROV_STORE_SCHEMA_VERSION);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'memberships_user'"), 0);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), 2);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'users_refused'"), 1);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v4'"), 0);
        assert_int_equal(prov_store_check_references(s), 0);
        collect_memberships(s, &c);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.rows[0], "g-1|u-a");
        assert_string_equal(c.rows[1], "g-1|u-b");
        assert_int_equal(prov_store_user_get(s, "u-a", &a), 0);
        assert_string_equal(a.name, "alice");
        assert_true(a.ref > 0);
        prov_user_record_done(&a);

        /* Deleting accounts still takes their memberships along... */
        assert_int_equal(prov_store_users_purge(s, (char *[]) { (char *) "u-a", (char *) "ghost" }, 2), 1);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM memberships"), 1);
        assert_int_equal(prov_store_check_references(s), 0);
        /* ... its ids stay in the ledger, and the new tables' triggers retire the next ones. */
        assert_int_equal(count_rows(p, "SELECT count(*) FROM id_ledger WHERE owner = 'user:u-a' AND id = 100001"), 2);
        assert_int_equal(prov_store_users_purge(s, (char *[]) { (char *) "u-b" }, 1), 1);
        assert_int_equal(prov_store_ledger_owner(s, PROV_ID_UID, 100002, &owner), 0);
        assert_string_equal(owner, "user:u-b");
        free(owner);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM memberships"), 0);
        prov_store_close(s);
}

static void test_file_mode_0600(void **state) {
        Fixture *f = *state;
        ProvStore *s = NULL;
        char p[PATH_MAX];
        struct stat st;
        mode_t old;

        /* A permissive umask must not leak into the new store. */
        fixture_path(f, "mode.db", p, sizeof(p));
        old = umask(0);
        assert_int_equal(prov_store_open(p, &s), 0);
        umask(old);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        s = prov_store_close(s);

        /* An existing store with a looser mode is tightened. */
        assert_int_equal(chmod(p, 0644), 0);
        assert_int_equal(prov_store_open(p, &s), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        s = prov_store_close(s);

        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_schema_too_new(void **state) {
        Fixture *f = *state;
        ProvStore *s = NULL;

        f->s = prov_store_close(f->s);
        set_user_version(f->path, PROV_STORE_SCHEMA_VERSION + 1);
        assert_int_equal(prov_store_open(f->path, &s), -EPROTONOSUPPORT);
        assert_null(s);
        assert_int_equal(prov_store_open_readonly(f->path, &s), -EPROTONOSUPPORT);
        assert_null(s);
}

static void test_readonly_refuses_unmigrated(void **state) {
        Fixture *f = *state;
        ProvStore *s = NULL;
        char p[PATH_MAX];

        fixture_path(f, "empty.db", p, sizeof(p));
        assert_int_equal(prov_store_open_readonly(p, &s), -ENOENT);
        set_user_version(p, 0);
        assert_int_equal(prov_store_open_readonly(p, &s), -ESTALE);
        assert_null(s);
}

static void test_open_refuses_garbage_and_symlinks(void **state) {
        Fixture *f = *state;
        static const char junk[] = "this is not an SQLite database, just some bytes that are long enough "
                                   "to fill the 100-byte header SQLite expects at the start of a file...";
        ProvStore *s = NULL;
        char p[PATH_MAX], l[PATH_MAX];
        FILE *fp;
        int r;

        fixture_path(f, "old.db", p, sizeof(p));
        fp = fopen(p, "we");
        assert_non_null(fp);
        assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(prov_store_open(p, &s), -EBADMSG);
        assert_null(s);
        r = prov_store_open_readonly(p, &s);
        assert_int_equal(r, -EBADMSG);
        assert_null(s);

        /* The store path itself must not be a symlink. */
        fixture_path(f, "mode.db", l, sizeof(l));
        assert_int_equal(symlink(f->path, l), 0);
        assert_int_equal(prov_store_open(l, &s), -ELOOP);
        assert_null(s);
}

static void assert_user_eq(const ProvUserRecord *a, const ProvUserRecord *b) {
        assert_string_equal(a->scim_id, b->scim_id);
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->uid, b->uid);
        assert_int_equal(a->gid, b->gid);
        assert_string_equal(a->gecos, b->gecos);
        assert_string_equal(a->home, b->home);
        assert_string_equal(a->shell, b->shell);
        assert_int_equal(a->source_active, b->source_active);
        assert_int_equal(a->state, b->state);
        assert_int_equal(a->blocked, b->blocked);
        assert_int_equal(a->last_seen_usec, b->last_seen_usec);
}

static void test_users_put_get_update_delete(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = make_user("id-1", "alice", 100000), got = {}, got2 = {};
        int64_t created, changed;

        assert_int_equal(prov_store_user_get(f->s, "id-1", &got), -ENOENT);
        assert_int_equal(prov_store_user_put(f->s, &u), 0);

        assert_int_equal(prov_store_user_get(f->s, "id-1", &got), 0);
        assert_user_eq(&got, &u);
        assert_true(got.created_usec > 0);
        assert_true(got.updated_usec > 0);
        assert_true(got.state_changed_usec > 0);
        created = got.created_usec;
        changed = got.state_changed_usec;
        prov_user_record_done(&got);
        assert_null(got.name);

        assert_int_equal(prov_store_user_get_by_name(f->s, "alice", &got), 0);
        assert_string_equal(got.scim_id, "id-1");
        prov_user_record_done(&got);
        assert_int_equal(prov_store_user_get_by_uid(f->s, 100000, &got), 0);
        assert_string_equal(got.scim_id, "id-1");
        prov_user_record_done(&got);
        assert_int_equal(prov_store_user_get_by_name(f->s, "bob", &got), -ENOENT);
        assert_int_equal(prov_store_user_get_by_uid(f->s, 1, &got), -ENOENT);

        /* Update: rename, suspend and block. created_usec stays, state_changed_usec moves. */
        u.name = (char *) "alice2";
        u.gecos = NULL;
        u.source_active = false;
        u.state = PROV_STATE_SUSPENDED;
        u.blocked = true;
        u.created_usec = 1;   /* ignored on update */
        u.updated_usec = changed + 1000;
        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        assert_int_equal(prov_store_user_get(f->s, "id-1", &got), 0);
        assert_string_equal(got.name, "alice2");
        assert_string_equal(got.gecos, "");
        assert_false(got.source_active);
        assert_int_equal(got.state, PROV_STATE_SUSPENDED);
        assert_true(got.blocked);
        assert_int_equal(got.created_usec, created);
        assert_int_equal(got.updated_usec, changed + 1000);
        assert_int_equal(got.state_changed_usec, changed + 1000);
        prov_user_record_done(&got);
        assert_int_equal(prov_store_user_get_by_name(f->s, "alice", &got), -ENOENT);

        /* Same state again: state_changed_usec stays. */
        u.updated_usec = changed + 5000;
        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        assert_int_equal(prov_store_user_get(f->s, "id-1", &got2), 0);
        assert_int_equal(got2.state_changed_usec, changed + 1000);
        assert_int_equal(got2.updated_usec, changed + 5000);
        prov_user_record_done(&got2);

        assert_int_equal(prov_store_user_delete(f->s, "id-1"), 0);
        assert_int_equal(prov_store_user_get(f->s, "id-1", &got), -ENOENT);
        assert_int_equal(prov_store_user_delete(f->s, "id-1"), -ENOENT);

        /* Missing required fields are refused. */
        u.home = NULL;
        assert_int_equal(prov_store_user_put(f->s, &u), -EINVAL);
}

static void test_users_conflict(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("id-a", "alice", 100000), b = make_user("id-b", "alice", 100001),
                       got = {};

        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), -EEXIST);
        assert_true(strlen(prov_store_errmsg(f->s)) > 0);
        b.name = (char *) "bob";
        b.uid = b.gid = 100000;
        assert_int_equal(prov_store_user_put(f->s, &b), -EEXIST);
        b.gid = 100001;
        assert_int_equal(prov_store_user_put(f->s, &b), -EINVAL); /* gid is the private group's, = uid */
        b.uid = 100001;
        assert_int_equal(prov_store_user_put(f->s, &b), 0);

        /* The conflicting puts left alice as she was. */
        assert_int_equal(prov_store_user_get(f->s, "id-a", &got), 0);
        assert_string_equal(got.name, "alice");
        assert_int_equal(got.uid, 100000);
        prov_user_record_done(&got);
}

static void test_users_load_ordered_by_uid(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("id-a", "alice", 100300), b = make_user("id-b", "bob", 100100),
                       c = make_user("id-c", "carol", 100200);
        ProvUserRecord *v = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_users_load(f->s, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_user_records_free(v, n);

        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &c), 0);
        assert_int_equal(prov_store_users_load(f->s, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].name, "bob");
        assert_string_equal(v[1].name, "carol");
        assert_string_equal(v[2].name, "alice");
        prov_user_records_free(v, n);
}

static void test_groups_put_get_update_delete(void **state) {
        Fixture *f = *state;
        ProvGroupRecord g = make_group("g-1", "devs", 200000), h = make_group("g-2", "ops", 199000),
                        got = {};
        ProvGroupRecord *v = NULL;
        size_t n = 0;
        int64_t created;

        assert_int_equal(prov_store_group_get(f->s, "g-1", &got), -ENOENT);
        assert_int_equal(prov_store_group_put(f->s, &g), 0);
        assert_int_equal(prov_store_group_get(f->s, "g-1", &got), 0);
        assert_string_equal(got.name, "devs");
        assert_int_equal(got.gid, 200000);
        assert_null(got.local_name);
        assert_true(got.created_usec > 0);
        created = got.created_usec;
        prov_group_record_done(&got);

        g.local_name = (char *) "sudo";
        g.name = (char *) "developers";
        assert_int_equal(prov_store_group_put(f->s, &g), 0);
        assert_int_equal(prov_store_group_get_by_name(f->s, "developers", &got), 0);
        assert_string_equal(got.scim_id, "g-1");
        assert_string_equal(got.local_name, "sudo");
        assert_int_equal(got.created_usec, created);
        prov_group_record_done(&got);

        /* Name or gid of another group: -EEXIST. */
        h.name = (char *) "developers";
        assert_int_equal(prov_store_group_put(f->s, &h), -EEXIST);
        h.name = (char *) "ops";
        h.gid = 200000;
        assert_int_equal(prov_store_group_put(f->s, &h), -EEXIST);
        h.gid = 199000;
        assert_int_equal(prov_store_group_put(f->s, &h), 0);

        assert_int_equal(prov_store_groups_load(f->s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "ops");
        assert_string_equal(v[1].name, "developers");
        prov_group_records_free(v, n);

        assert_int_equal(prov_store_group_delete(f->s, "g-1"), 0);
        assert_int_equal(prov_store_group_get(f->s, "g-1", &got), -ENOENT);
        assert_int_equal(prov_store_group_delete(f->s, "g-1"), -ENOENT);
}

/* provisionctl show: the groups of one user, from the store, ordered by gid. */
static void test_user_groups_load(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("u-a", "alice", 100001), b = make_user("u-b", "bob", 100002),
                       c = make_user("u-c", "carol", 100003);
        ProvGroupRecord g = make_group("g-1", "ops", 200005), h = make_group("g-2", "devs", 200001),
                        k = make_group("g-3", "qa", 200003);
        char *both[] = { (char *) "u-a", (char *) "u-b" };
        char *only_b[] = { (char *) "u-b" };
        ProvGroupRecord *v = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &c), 0);
        assert_int_equal(prov_store_group_put(f->s, &g), 0);
        assert_int_equal(prov_store_group_put(f->s, &h), 0);
        assert_int_equal(prov_store_group_put(f->s, &k), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "g-1", both, ELEMENTSOF(both)), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "g-2", both, ELEMENTSOF(both)), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "g-3", only_b, ELEMENTSOF(only_b)), 0);

        assert_int_equal(prov_store_user_groups_load(f->s, "u-a", &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "devs"); /* gid 200001 before 200005 */
        assert_string_equal(v[1].name, "ops");
        prov_group_records_free(v, n);

        assert_int_equal(prov_store_user_groups_load(f->s, "u-b", &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[1].name, "qa");
        prov_group_records_free(v, n);

        assert_int_equal(prov_store_user_groups_load(f->s, "u-c", &v, &n), 0);
        assert_int_equal(n, 0);
        prov_group_records_free(v, n);
        assert_int_equal(prov_store_user_groups_load(f->s, "nobody", &v, &n), 0);
        assert_int_equal(n, 0);
        prov_group_records_free(v, n);
}

static void test_memberships_replace(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("u-a", "alice", 100001), b = make_user("u-b", "bob", 100002),
                       c = make_user("u-c", "carol", 100003);
        ProvGroupRecord g = make_group("g-1", "devs", 200000), h = make_group("g-2", "ops", 200001);
        char *first[] = { (char *) "u-b", (char *) "ghost", (char *) "u-a", (char *) "u-a" };
        char *second[] = { (char *) "u-c" };
        ProvMembership *v = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &c), 0);
        assert_int_equal(prov_store_group_put(f->s, &g), 0);
        assert_int_equal(prov_store_group_put(f->s, &h), 0);

        /* Unknown ids and duplicates are skipped. */
        assert_int_equal(prov_store_group_set_members(f->s, "g-1", first, ELEMENTSOF(first)), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "g-2", second, ELEMENTSOF(second)), 0);
        assert_int_equal(prov_store_memberships_load(f->s, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].group_scim_id, "g-1");
        assert_string_equal(v[0].user_scim_id, "u-a");
        assert_string_equal(v[1].group_scim_id, "g-1");
        assert_string_equal(v[1].user_scim_id, "u-b");
        assert_string_equal(v[2].group_scim_id, "g-2");
        assert_string_equal(v[2].user_scim_id, "u-c");
        prov_memberships_free(v, n);

        /* Replaces, does not add. */
        assert_int_equal(prov_store_group_set_members(f->s, "g-1", second, ELEMENTSOF(second)), 0);
        assert_int_equal(prov_store_memberships_load(f->s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].group_scim_id, "g-1");
        assert_string_equal(v[0].user_scim_id, "u-c");
        prov_memberships_free(v, n);

        assert_int_equal(prov_store_group_set_members(f->s, "nope", second, ELEMENTSOF(second)), -ENOENT);

        /* Deleting a user or a group takes its memberships along. */
        assert_int_equal(prov_store_user_delete(f->s, "u-c"), 0);
        assert_int_equal(prov_store_memberships_load(f->s, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_memberships_free(v, n);
        assert_int_equal(prov_store_group_set_members(f->s, "g-2", first, ELEMENTSOF(first)), 0);
        assert_int_equal(prov_store_group_delete(f->s, "g-2"), 0);
        assert_int_equal(prov_store_memberships_load(f->s, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_memberships_free(v, n);

        /* Empty list clears. */
        assert_int_equal(prov_store_group_set_members(f->s, "g-1", first, ELEMENTSOF(first)), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "g-1", NULL, 0), 0);
        assert_int_equal(prov_store_memberships_load(f->s, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_memberships_free(v, n);
}

static int count_refs(int64_t group_ref, int64_t user_ref, void *userdata) {
        int64_t *want_group = userdata;

        /* Counts the rows of *want_group (and fails on a row of no group). */
        if (group_ref <= 0 || user_ref <= 0)
                return -EBADMSG;
        if (group_ref == want_group[0])
                want_group[1]++;
        return 0;
}

static void test_memberships_add_remove_bulk(void **state) {
        Fixture *f = *state;
        /* Ids JSON would need escaped: the one-by-one path and the purge hand them to SQLite as a
         * JSON array. */
        static const char *const ids[] = { "u \"quoted\"", "u\\back", "u-\xc3\xa9t\xc3\xa9", "u,comma]" };
        ProvGroupRecord g = make_group("g-1", "devs", 200000), stored_g = {};
        Collected c = {};
        int64_t refs[ELEMENTSOF(ids)];

        assert_int_equal(prov_store_group_put(f->s, &g), 0);
        assert_int_equal(prov_store_group_get(f->s, "g-1", &stored_g), 0);
        assert_true(stored_g.ref > 0);
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                ProvUserRecord u = make_user(ids[i], "x", 100001 + (uint32_t) i), back = {};
                char name[16];
                snprintf(name, sizeof(name), "user%zu", i);
                u.name = name;
                assert_int_equal(prov_store_user_add(f->s, &u, &refs[i]), 0);
                /* The ref the insert gave is the one reads give. */
                assert_int_equal(prov_store_user_get(f->s, ids[i], &back), 0);
                assert_true(back.ref == refs[i]);
                prov_user_record_done(&back);
        }
        assert_int_equal(prov_store_members_add_refs(f->s, "g-1", refs, ELEMENTSOF(refs)), 0);
        collect_memberships(f->s, &c);
        assert_int_equal(c.n, 4);
        /* Byte order: ' ' < ',' < '-' < '\\'. */
        assert_string_equal(c.rows[0], "g-1|u \"quoted\"");
        assert_string_equal(c.rows[1], "g-1|u,comma]");
        assert_string_equal(c.rows[2], "g-1|u-\xc3\xa9t\xc3\xa9");
        assert_string_equal(c.rows[3], "g-1|u\\back");
        assert_int_equal(prov_store_check_references(f->s), 0);
        /* An unknown group takes nobody. */
        assert_int_equal(prov_store_members_add_refs(f->s, "nope", refs, ELEMENTSOF(refs)), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM memberships"), 4);

        /* Removing what is absent and adding what is there change nothing; an unknown group
         * neither gains nor loses anyone. */
        assert_int_equal(prov_store_members_remove_refs(f->s, "g-1", &refs[0], 1), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM memberships"), 3);
        assert_int_equal(prov_store_members_remove_refs(f->s, "g-1", &refs[0], 1), 0);
        assert_int_equal(prov_store_members_remove_refs(f->s, "nope", &refs[1], 1), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM memberships"), 3);
        assert_int_equal(prov_store_members_add_refs(f->s, "g-1", refs, ELEMENTSOF(refs)), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM memberships"), 4);
        assert_int_equal(prov_store_check_references(f->s), 0);

        /* SCIM ids to refs, 0 for those not stored. */
        char *lookup[] = { (char *) ids[2], (char *) "ghost", (char *) ids[0] };
        int64_t found[ELEMENTSOF(lookup)] = { -1, -1, -1 };
        assert_int_equal(prov_store_user_refs(f->s, lookup, ELEMENTSOF(lookup), found), 0);
        assert_true(found[0] == refs[2] && found[1] == 0 && found[2] == refs[0]);
        ProvUserRecord by_ref = {};
        assert_int_equal(prov_store_user_get_by_ref(f->s, refs[3], &by_ref), 0);
        assert_string_equal(by_ref.scim_id, ids[3]);
        prov_user_record_done(&by_ref);
        assert_int_equal(prov_store_user_get_by_ref(f->s, refs[3] + 1000, &by_ref), -ENOENT);

        /* More members than one statement takes. */
        size_t n = 5000;
        int64_t *many = calloc(n, sizeof(int64_t)), rows[2] = { stored_g.ref, 0 };
        assert_non_null(many);
        assert_int_equal(prov_store_begin(f->s), 0);
        for (size_t i = 0; i < n; i++) {
                char id[32], name[32];
                snprintf(id, sizeof(id), "bulk-%05zu", i);
                snprintf(name, sizeof(name), "bulk%05zu", i);
                ProvUserRecord u = make_user(id, name, 110000 + (uint32_t) i);
                assert_int_equal(prov_store_user_add(f->s, &u, &many[i]), 0);
        }
        assert_int_equal(prov_store_members_add_refs(f->s, "g-1", many, n), 0);
        assert_int_equal(prov_store_commit(f->s), 0);
        /* The lookup of more ids than one statement takes puts each ref in its place. */
        char **bulk_ids = calloc(n, sizeof(char *));
        int64_t *bulk_refs = calloc(n, sizeof(int64_t));
        assert_true(bulk_ids && bulk_refs);
        for (size_t i = 0; i < n; i++)
                assert_true(asprintf(&bulk_ids[i], "bulk-%05zu", n - 1 - i) > 0);
        assert_int_equal(prov_store_user_refs(f->s, bulk_ids, n, bulk_refs), 0);
        for (size_t i = 0; i < n; i++) {
                assert_true(bulk_refs[i] == many[n - 1 - i]);
                free(bulk_ids[i]);
        }
        free(bulk_ids);
        free(bulk_refs);
        assert_int_equal(prov_store_member_refs_foreach(f->s, NULL, count_refs, rows), 0);
        assert_int_equal(rows[1], n + ELEMENTSOF(ids));
        size_t counts[3] = {};
        assert_int_equal(prov_store_counts(f->s, &counts[0], &counts[1], &counts[2]), 0);
        assert_int_equal(counts[0], n + ELEMENTSOF(ids));
        assert_int_equal(counts[1], 1);
        assert_int_equal(counts[2], n + ELEMENTSOF(ids));
        assert_int_equal(prov_store_check_references(f->s), 0);

        /* A ref that no account has is what the reference check finds. */
        int64_t dangling = many[n - 1] + 1000;
        assert_int_equal(prov_store_members_add_refs(f->s, "g-1", &dangling, 1), 0);
        assert_int_equal(prov_store_check_references(f->s), -EBADMSG);
        free(many);
        prov_group_record_done(&stored_g);
}

static void test_owner_hash_is_fnv1a64(void **state) {
        /* Published FNV-1a 64 test vectors: the mapping must never change. */
        assert_true(prov_store_owner_hash("") == UINT64_C(0xcbf29ce484222325));
        assert_true(prov_store_owner_hash("a") == UINT64_C(0xaf63dc4c8601ec8c));
        assert_true(prov_store_owner_hash("foobar") == UINT64_C(0x85944171f73967e8));
}

static uint32_t expected_start(const char *owner, uint32_t min, uint32_t max) {
        return (uint32_t) (min + prov_store_owner_hash(owner) % ((uint64_t) max - min + 1));
}

static void test_ledger_allocate_deterministic(void **state) {
        Fixture *f = *state;
        ProvStore *a = NULL, *b = NULL;
        char pa[PATH_MAX], pb[PATH_MAX];
        uint32_t ida = 0, idb = 0;

        fixture_path(f, "a.db", pa, sizeof(pa));
        fixture_path(f, "b.db", pb, sizeof(pb));
        assert_int_equal(prov_store_open(pa, &a), 0);
        assert_int_equal(prov_store_open(pb, &b), 0);

        /* Different history before it must not matter for an unclaimed slot. */
        assert_int_equal(prov_store_ledger_allocate(b, PROV_ID_UID, "user:zzz", "z", 60000, 60999, false,
                                                    NULL, NULL, NULL),
                         0);
        assert_int_equal(prov_store_ledger_allocate(a, PROV_ID_UID, "user:2819c223", "alice", 100000, 999999,
                                                    true, NULL, NULL, &ida),
                         0);
        assert_int_equal(prov_store_ledger_allocate(b, PROV_ID_UID, "user:2819c223", "alice", 100000, 999999,
                                                    true, NULL, NULL, &idb),
                         0);
        assert_int_equal(ida, idb);
        assert_int_equal(ida, expected_start("user:2819c223", 100000, 999999));

        a = prov_store_close(a);
        b = prov_store_close(b);
}

static void test_ledger_allocate_idempotent(void **state) {
        Fixture *f = *state;
        uint32_t id1 = 0, id2 = 0, looked = 0;
        _cleanup_free_ char *owner = NULL;

        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_GID, "group:g1", "devs", 200000, 299999,
                                                    false, NULL, NULL, &id1),
                         0);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_GID, "group:g1", "devs", 200000, 299999,
                                                    false, NULL, NULL, &id2),
                         0);
        assert_int_equal(id1, id2);
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_GID, "group:g1", &looked), 0);
        assert_int_equal(looked, id1);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_GID, id1, &owner), 0);
        assert_string_equal(owner, "group:g1");
        /* Kinds are separate. */
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_UID, "group:g1", &looked), -ENOENT);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_UID, id1, NULL), -ENOENT);
}

static void test_ledger_never_reuses_deleted_user(void **state) {
        Fixture *f = *state;
        uint32_t id = 0;
        ProvUserRecord u;

        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:x", "x", 1000, 1000, true, NULL,
                                                    NULL, &id),
                         0);
        assert_int_equal(id, 1000);
        u = make_user("x", "x", id);
        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        assert_int_equal(prov_store_user_delete(f->s, "x"), 0);

        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:y", "y", 1000, 1000, true, NULL,
                                                    NULL, &id),
                         -ENOSPC);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:y", "y", 1000, 1001, true, NULL,
                                                    NULL, &id),
                         0);
        assert_int_equal(id, 1001);
        /* The deleted user's row is still there. */
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_UID, "user:x", &id), 0);
        assert_int_equal(id, 1000);
}

static int count_cb(const ProvUserRecord *u, void *userdata) {
        size_t *n = userdata;
        assert_int_not_equal(u->state, PROV_STATE_ACTIVE);
        (*n)++;
        return 0;
}

/* The walk over refused accounts (each sync's enforcement retry) sees all of them, and only them. */
static void test_users_foreach_refused(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("a", "amy", 5000), b = make_user("b", "bo", 5001), c = make_user("c", "cy", 5002);
        size_t n = 0;

        b.state = PROV_STATE_SUSPENDED;
        c.state = PROV_STATE_DEPROVISIONED;
        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &c), 0);
        assert_int_equal(prov_store_users_foreach(f->s, PROV_USER_ORDER_REFUSED, count_cb, &n), 0);
        assert_int_equal(n, 2);
        /* Reactivated: out of it; blocked: in it. */
        b.state = PROV_STATE_ACTIVE;
        a.state = PROV_STATE_BLOCKED;
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        n = 0;
        assert_int_equal(prov_store_users_foreach(f->s, PROV_USER_ORDER_REFUSED, count_cb, &n), 0);
        assert_int_equal(n, 2);
}

/* Accounts written through the reservations have no ledger rows: their users row holds the
 * ids while it exists, and the ledger takes them when it goes or the ids change. */
static void test_user_ids_reserved_then_retired(void **state) {
        Fixture *f = *state;
        ProvUserRecord a = make_user("a", "alice", 5000);
        ProvIdKind conflict = PROV_ID_GID;
        uint32_t id = 0;
        char *owner = NULL;

        /* Only inside a transaction: the account's row must follow in it. */
        assert_int_equal(prov_store_user_ids_reserve(f->s, "a", 5000, 1000, 9999, &conflict), -EINVAL);
        assert_int_equal(prov_store_begin(f->s), 0);
        assert_int_equal(prov_store_user_ids_reserve(f->s, "a", 5000, 1000, 9999, &conflict), 0);
        /* Reserved for a, not written yet: nobody else gets it, as uid or as gid. */
        assert_int_equal(prov_store_user_ids_reserve(f->s, "b", 5000, 1000, 9999, &conflict), -EEXIST);
        assert_int_equal(conflict, PROV_ID_UID);
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_GID, 5000, "group:g", "g"), -EEXIST);
        assert_int_equal(prov_store_user_ids_reserve(f->s, "a", 10000, 1000, 9999, &conflict), -EINVAL);
        assert_int_equal(prov_store_user_add(f->s, &a, NULL), 0);
        assert_int_equal(prov_store_user_add(f->s, &a, NULL), -EEXIST);
        assert_int_equal(prov_store_commit(f->s), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM id_ledger"), 0);

        /* The row answers for the ledger. */
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_UID, 5000, &owner), 0);
        assert_string_equal(owner, "user:a");
        free(owner);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_GID, 5000, &owner), 0);
        assert_string_equal(owner, "user:a");
        free(owner);
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_GID, "user:a", &id), 0);
        assert_int_equal(id, 5000);
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, 5000, "user:b", "b"), -EEXIST);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_GID, "group:g", "g", 5000, 5000, false, NULL, NULL,
                                                    &id),
                         -ENOSPC);

        /* A new uid: the old one goes to the ledger, still a's. */
        a.uid = a.gid = 5001;
        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM id_ledger WHERE owner = 'user:a' AND id = 5000"), 2);
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_UID, "user:a", &id), 0);
        assert_int_equal(id, 5001);

        /* Gone: both ids stay a's for ever, and come back with it. */
        assert_int_equal(prov_store_users_purge(f->s, (char *[]) { (char *) "a" }, 1), 1);
        assert_int_equal(count_rows(f->path, "SELECT count(*) FROM id_ledger WHERE owner = 'user:a'"), 4);
        assert_int_equal(prov_store_begin(f->s), 0);
        assert_int_equal(prov_store_user_ids_reserve(f->s, "b", 5001, 1000, 9999, &conflict), -EEXIST);
        assert_int_equal(prov_store_user_ids_allocate(f->s, "c", 5000, 5001, NULL, NULL, &id), -ENOSPC);
        assert_int_equal(prov_store_user_ids_allocate(f->s, "a", 1000, 9999, NULL, NULL, &id), 0);
        assert_int_equal(id, 5001);
        assert_int_equal(prov_store_rollback(f->s), 0);
}

/* The reservation picks the id prov_store_ledger_allocate() would: hosts on either path agree. */
static void test_user_ids_allocate_matches_ledger(void **state) {
        Fixture *f = *state;
        uint32_t a = 0, b = 0, c = 0;

        assert_int_equal(prov_store_begin(f->s), 0);
        assert_int_equal(prov_store_user_ids_allocate(f->s, "2819c223", 100000, 999999, NULL, NULL, &a), 0);
        /* A second account hashing anywhere gets another id; the same owner twice, the same. */
        assert_int_equal(prov_store_user_ids_allocate(f->s, "other", 100000, 999999, NULL, NULL, &c), 0);
        assert_int_not_equal(a, c);
        assert_int_equal(prov_store_rollback(f->s), 0);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:2819c223", "alice", 100000, 999999, true,
                                                    NULL, NULL, &b),
                         0);
        assert_int_equal(a, b);
}

static uint32_t taken_cb(uint32_t id, void *userdata) {
        const uint32_t *taken = userdata;
        return id == *taken;
}

static void test_ledger_skips_taken(void **state) {
        Fixture *f = *state;
        const uint32_t min = 5000, max = 5009;
        uint32_t start = expected_start("user:t", min, max), id = 0;

        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:t", "t", min, max, false,
                                                    taken_cb, &start, &id),
                         0);
        assert_int_equal(id, start == max ? min : start + 1);
}

static void test_ledger_skips_other_owner(void **state) {
        Fixture *f = *state;
        const uint32_t min = 5000, max = 5009;
        uint32_t start = expected_start("user:o", min, max), id = 0;

        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, start, "user:someone-else", "else"), 0);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:o", "o", min, max, false, NULL,
                                                    NULL, &id),
                         0);
        assert_int_equal(id, start == max ? min : start + 1);
}

static void test_ledger_also_gid(void **state) {
        Fixture *f = *state;
        uint32_t id = 0, gid = 0;
        _cleanup_free_ char *owner = NULL;

        /* Only a group's gid row holds 8000: also_gid makes a user allocation skip it... */
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_GID, 8000, "group:g", "g"), 0);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:r", "r", 8000, 8000, true, NULL,
                                                    NULL, &id),
                         -ENOSPC);
        /* ...while without it the uid is free. */
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:q", "q", 8000, 8000, false,
                                                    NULL, NULL, &id),
                         0);
        assert_int_equal(id, 8000);
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_GID, "user:q", &gid), -ENOENT);

        /* With also_gid the private group's gid is recorded for the same owner. */
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:s", "s", 7000, 7000, true, NULL,
                                                    NULL, &id),
                         0);
        assert_int_equal(id, 7000);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_GID, 7000, &owner), 0);
        assert_string_equal(owner, "user:s");
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_GID, "user:s", &gid), 0);
        assert_int_equal(gid, 7000);
        /* A later group allocation does not land on that gid. */
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_GID, "group:h", "h", 7000, 7001, false,
                                                    NULL, NULL, &gid),
                         0);
        assert_int_equal(gid, 7001);
}

static void test_ledger_full_range(void **state) {
        Fixture *f = *state;
        uint32_t a = 0, b = 0, c = 0;

        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:1", "n1", 7000, 7001, false,
                                                    NULL, NULL, &a),
                         0);
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:2", "n2", 7000, 7001, false,
                                                    NULL, NULL, &b),
                         0);
        assert_int_not_equal(a, b);
        c = 12345;
        assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:3", "n3", 7000, 7001, false,
                                                    NULL, NULL, &c),
                         -ENOSPC);
        assert_int_equal(c, 12345);  /* untouched on failure */
        assert_int_equal(prov_store_ledger_lookup(f->s, PROV_ID_UID, "user:3", &c), -ENOENT);

        /* Nonsense ranges. */
        assert_int_equal(
                prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:3", "n3", 0, 10, false, NULL, NULL, &c),
                -EINVAL);
        assert_int_equal(
                prov_store_ledger_allocate(f->s, PROV_ID_UID, "user:3", "n3", 10, 9, false, NULL, NULL, &c),
                -EINVAL);
}

static void test_ledger_assign(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *owner = NULL;

        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, 4242, "user:a", "a"), 0);
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, 4242, "user:a", "a-renamed"), 0);
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, 4242, "user:b", "b"), -EEXIST);
        /* Same number, other kind: independent. */
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_GID, 4242, "group:b", "b"), 0);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_UID, 4242, &owner), 0);
        assert_string_equal(owner, "user:a");
}

static void test_rollback_discards(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = make_user("id-r", "rolf", 100500), w = make_user("id-w", "wanda", 100501),
                       got = {};

        assert_int_equal(prov_store_rollback(f->s), 0);  /* nothing open: fine */
        assert_false(prov_store_in_transaction(f->s));

        assert_int_equal(prov_store_begin(f->s), 0);
        assert_true(prov_store_in_transaction(f->s));
        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        assert_int_equal(prov_store_ledger_assign(f->s, PROV_ID_UID, 100500, "user:id-r", "rolf"), 0);
        assert_int_equal(prov_store_audit_add(f->s, "create", "rolf", "id-r", 100500, NULL, "ok", NULL), 0);
        assert_int_equal(prov_store_rollback(f->s), 0);
        assert_false(prov_store_in_transaction(f->s));
        assert_int_equal(prov_store_user_get(f->s, "id-r", &got), -ENOENT);
        assert_int_equal(prov_store_ledger_owner(f->s, PROV_ID_UID, 100500, NULL), -ENOENT);

        /* A failing multi-statement call inside the caller's transaction undoes only itself. */
        assert_int_equal(prov_store_begin(f->s), 0);
        assert_int_equal(prov_store_user_put(f->s, &w), 0);
        assert_int_equal(prov_store_group_set_members(f->s, "missing", NULL, 0), -ENOENT);
        assert_true(prov_store_in_transaction(f->s));
        assert_int_equal(prov_store_commit(f->s), 0);
        assert_int_equal(prov_store_user_get(f->s, "id-w", &got), 0);
        prov_user_record_done(&got);

        /* A commit without a transaction is an error, not a crash. */
        assert_true(prov_store_commit(f->s) < 0);
}

static void test_state_get_set(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *v = NULL, *v2 = NULL;
        int64_t i = 0;

        assert_int_equal(prov_store_state_get(f->s, "last_error", &v), -ENOENT);
        assert_null(v);
        assert_int_equal(prov_store_state_set(f->s, "last_error", "timeout"), 0);
        assert_int_equal(prov_store_state_get(f->s, "last_error", &v), 0);
        assert_string_equal(v, "timeout");
        assert_int_equal(prov_store_state_set(f->s, "last_error", "none"), 0);
        assert_int_equal(prov_store_state_get(f->s, "last_error", &v2), 0);
        assert_string_equal(v2, "none");

        assert_int_equal(prov_store_state_get_int(f->s, "last_success_usec", &i), -ENOENT);
        assert_int_equal(prov_store_state_set_int(f->s, "last_success_usec", INT64_C(1700000000000000)), 0);
        assert_int_equal(prov_store_state_get_int(f->s, "last_success_usec", &i), 0);
        assert_true(i == INT64_C(1700000000000000));
        assert_int_equal(prov_store_state_set_int(f->s, "neg", -5), 0);
        assert_int_equal(prov_store_state_get_int(f->s, "neg", &i), 0);
        assert_true(i == -5);

        i = 99;
        assert_int_equal(prov_store_state_get_int(f->s, "last_error", &i), -EBADMSG);
        assert_int_equal(prov_store_state_set(f->s, "junk", "12abc"), 0);
        assert_int_equal(prov_store_state_get_int(f->s, "junk", &i), -EBADMSG);
        assert_int_equal(prov_store_state_set(f->s, "huge", "99999999999999999999"), 0);
        assert_int_equal(prov_store_state_get_int(f->s, "huge", &i), -EBADMSG);
        assert_int_equal(prov_store_state_set(f->s, "empty", ""), 0);
        assert_int_equal(prov_store_state_get_int(f->s, "empty", &i), -EBADMSG);
        assert_true(i == 99);
}

static void test_audit_add_load(void **state) {
        Fixture *f = *state;
        ProvAuditEvent *v = NULL;
        size_t n = 0;
        int64_t before = prov_now_usec();

        assert_int_equal(prov_store_audit_add(f->s, "deprovision", "alice", "id-a", 100001, "terminate",
                                              "ok", "2 sessions"),
                         0);
        assert_int_equal(prov_store_audit_add(f->s, "sync", NULL, NULL, -1, NULL, "ok", NULL), 0);
        assert_int_equal(prov_store_audit_add(f->s, "suspend", "bob", "id-b", 100002, "store", "ok", NULL),
                         0);
        assert_int_equal(prov_store_audit_add(f->s, "deprovision", "alice", "id-a", 100001, "hooks",
                                              "failed", "exit 1"),
                         0);
        assert_int_equal(prov_store_audit_add(f->s, NULL, NULL, NULL, -1, NULL, NULL, NULL), -EINVAL);

        assert_int_equal(prov_store_audit_load(f->s, NULL, 0, 0, &v, &n), 0);
        assert_int_equal(n, 4);
        for (size_t i = 1; i < n; i++) {
                assert_true(v[i].seq > v[i - 1].seq);
                assert_true(v[i].time_usec >= v[i - 1].time_usec);
        }
        assert_true(v[0].time_usec >= before);
        assert_string_equal(v[0].event, "deprovision");
        assert_string_equal(v[0].user, "alice");
        assert_string_equal(v[0].scim_id, "id-a");
        assert_int_equal(v[0].uid, 100001);
        assert_string_equal(v[0].step, "terminate");
        assert_string_equal(v[0].outcome, "ok");
        assert_string_equal(v[0].detail, "2 sessions");
        assert_null(v[1].user);
        assert_null(v[1].scim_id);
        assert_int_equal(v[1].uid, -1);
        assert_null(v[1].step);
        assert_null(v[1].detail);
        prov_audit_events_free(v, n);

        assert_int_equal(prov_store_audit_load(f->s, "alice", 0, 0, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].step, "terminate");
        assert_string_equal(v[1].step, "hooks");
        prov_audit_events_free(v, n);

        /* limit: the newest ones, still oldest first. */
        assert_int_equal(prov_store_audit_load(f->s, NULL, 0, 2, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].event, "suspend");
        assert_string_equal(v[1].step, "hooks");
        prov_audit_events_free(v, n);

        /* since: nothing is newer than an hour ahead. */
        assert_int_equal(prov_store_audit_load(f->s, NULL, prov_now_usec() + INT64_C(3600000000), 0, &v, &n),
                         0);
        assert_int_equal(n, 0);
        prov_audit_events_free(v, n);
        assert_int_equal(prov_store_audit_load(f->s, "nobody", 0, 0, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_audit_events_free(v, n);

        /* Retention: nothing is older than `before`, everything is older than an hour ahead. */
        assert_int_equal(prov_store_audit_prune(f->s, before), 0);
        assert_int_equal(prov_store_audit_prune(f->s, prov_now_usec() + INT64_C(3600000000)), 4);
        assert_int_equal(prov_store_audit_load(f->s, NULL, 0, 0, &v, &n), 0);
        assert_int_equal(n, 0);
        prov_audit_events_free(v, n);
}

static void test_holds(void **state) {
        Fixture *f = *state;
        char *ids1[] = { (char *) "id-1", (char *) "id-2" };
        char *ids2[] = { (char *) "id-3" };
        char *bad[] = { (char *) "id\n4" };
        int64_t h1 = 0, h2 = 0, id = 0, dep = 0, total = 0;
        char **got = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_hold_pending(f->s, &id, &dep, &total), -ENOENT);
        assert_int_equal(prov_store_hold_add(f->s, 2, 10, "10%", ids1, ELEMENTSOF(ids1), &h1), 0);
        assert_int_equal(prov_store_hold_pending(f->s, &id, &dep, &total), 0);
        assert_true(id == h1);
        assert_true(dep == 2);
        assert_true(total == 10);

        assert_int_equal(prov_store_hold_scim_ids(f->s, h1, &got, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(got[0], "id-1");
        assert_string_equal(got[1], "id-2");
        assert_null(got[2]);
        for (size_t i = 0; i < n; i++)
                free(got[i]);
        free(got);

        /* A newer hold supersedes the older pending one. */
        assert_int_equal(prov_store_hold_add(f->s, 1, 3, "1", ids2, ELEMENTSOF(ids2), &h2), 0);
        assert_true(h2 > h1);
        assert_int_equal(prov_store_hold_pending(f->s, &id, &dep, &total), 0);
        assert_true(id == h2);
        assert_true(dep == 1);
        assert_true(total == 3);

        assert_int_equal(prov_store_hold_set_status(f->s, h2, "approved"), 0);
        assert_int_equal(prov_store_hold_pending(f->s, &id, NULL, NULL), -ENOENT);
        assert_int_equal(prov_store_hold_set_status(f->s, h2, "maybe"), -EINVAL);
        assert_int_equal(prov_store_hold_set_status(f->s, h2 + 100, "approved"), -ENOENT);
        assert_int_equal(prov_store_hold_scim_ids(f->s, h2 + 100, &got, &n), -ENOENT);
        assert_int_equal(prov_store_hold_add(f->s, 1, 3, NULL, bad, ELEMENTSOF(bad), &h2), -EINVAL);

        /* An empty hold still round-trips. */
        assert_int_equal(prov_store_hold_add(f->s, 0, 0, NULL, NULL, 0, &h2), 0);
        assert_int_equal(prov_store_hold_scim_ids(f->s, h2, &got, &n), 0);
        assert_int_equal(n, 0);
        assert_null(got[0]);
        free(got);
}

static void test_name_history(void **state) {
        Fixture *f = *state;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        assert_int_equal(prov_store_name_history_add(f->s, "id-1", "alice", "alice2"), 0);
        assert_int_equal(prov_store_name_history_add(f->s, "id-1", "alice2", "ali"), 0);
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM name_history WHERE scim_id = 'id-1'",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 2);
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_bulk_100k_users(void **state) {
        Fixture *f = *state;
        const size_t N = 100000;
        struct timespec t0, t1;
        ProvUserRecord *v = NULL;
        size_t n = 0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(prov_store_begin(f->s), 0);
        for (size_t i = 0; i < N; i++) {
                char id[32], name[32];
                ProvUserRecord u;

                snprintf(id, sizeof(id), "scim-%06zu", i);
                snprintf(name, sizeof(name), "user%06zu", i);
                u = make_user(id, name, (uint32_t) (200000 + i));
                assert_int_equal(prov_store_user_put(f->s, &u), 0);
        }
        assert_int_equal(prov_store_commit(f->s), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* Informational only: tests never assert wall-clock times. */
        print_message("100000 user puts in one transaction: %.3f s\n",
                      (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);

        assert_int_equal(prov_store_users_load(f->s, &v, &n), 0);
        assert_int_equal(n, N);
        assert_string_equal(v[0].name, "user000000");
        assert_string_equal(v[N - 1].name, "user099999");
        prov_user_records_free(v, n);
}

static void test_bulk_100k_allocations_distinct(void **state) {
        Fixture *f = *state;
        const uint32_t min = 100000, max = 999999, N = 100000;
        struct timespec t0, t1;
        uint8_t *seen;

        seen = calloc(max - min + 1, 1);
        assert_non_null(seen);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(prov_store_begin(f->s), 0);
        for (uint32_t i = 0; i < N; i++) {
                char owner[32];
                uint32_t id = 0;

                snprintf(owner, sizeof(owner), "user:scim-%06" PRIu32, i);
                assert_int_equal(prov_store_ledger_allocate(f->s, PROV_ID_UID, owner, NULL, min, max, true,
                                                            NULL, NULL, &id),
                                 0);
                assert_in_range(id, min, max);
                assert_int_equal(seen[id - min], 0);
                seen[id - min] = 1;
        }
        assert_int_equal(prov_store_commit(f->s), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("100000 uid+gid allocations in one transaction: %.3f s\n",
                      (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        free(seen);
}

static void test_readonly_after_writer_closed(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = make_user("id-1", "alice", 100000), got = {};
        ProvStore *ro = NULL;

        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        f->s = prov_store_close(f->s);
        assert_int_equal(prov_store_open_readonly(f->path, &ro), 0);
        assert_int_equal(prov_store_user_get(ro, "id-1", &got), 0);
        assert_string_equal(got.name, "alice");
        prov_user_record_done(&got);
        ro = prov_store_close(ro);
}

static void test_readonly_sees_committed_and_cannot_write(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = make_user("id-1", "alice", 100000), w = make_user("id-2", "bob", 100001),
                       got = {};
        ProvStore *ro = NULL;
        int r;

        assert_int_equal(prov_store_user_put(f->s, &u), 0);
        /* The writer stays open, as the daemon does. */
        assert_int_equal(prov_store_open_readonly(f->path, &ro), 0);
        assert_int_equal(prov_store_schema_version(ro), PROV_STORE_SCHEMA_VERSION);
        assert_int_equal(prov_store_user_get(ro, "id-1", &got), 0);
        assert_string_equal(got.name, "alice");
        prov_user_record_done(&got);

        /* Uncommitted writes are invisible; committed ones appear. */
        assert_int_equal(prov_store_begin(f->s), 0);
        assert_int_equal(prov_store_user_put(f->s, &w), 0);
        assert_int_equal(prov_store_user_get(ro, "id-2", &got), -ENOENT);
        assert_int_equal(prov_store_commit(f->s), 0);
        assert_int_equal(prov_store_user_get(ro, "id-2", &got), 0);
        prov_user_record_done(&got);

        r = prov_store_user_put(ro, &u);
        assert_true(r == -EROFS || r == -EPERM);
        r = prov_store_state_set(ro, "k", "v");
        assert_true(r == -EROFS || r == -EPERM);
        r = prov_store_ledger_assign(ro, PROV_ID_UID, 1234, "user:x", "x");
        assert_true(r == -EROFS || r == -EPERM);
        r = prov_store_group_set_members(ro, "g", NULL, 0);
        assert_true(r == -EROFS || r == -EPERM);
        assert_false(prov_store_in_transaction(ro));
        assert_int_equal(prov_store_user_get(ro, "id-1", &got), 0);
        prov_user_record_done(&got);

        ro = prov_store_close(ro);
}

/* A refusal is new once per (kind, id, reason); a prune forgets the ones not seen since. */
static void test_rejects_noted_once(void **state) {
        Fixture *f = *state;

        assert_int_equal(prov_store_reject_note(f->s, "user", "u-1", "bad name", 100), 1);
        assert_int_equal(prov_store_reject_note(f->s, "user", "u-1", "bad name", 200), 0);
        /* Another reason, kind or id is another refusal. */
        assert_int_equal(prov_store_reject_note(f->s, "user", "u-1", "bad shell", 200), 1);
        assert_int_equal(prov_store_reject_note(f->s, "group", "u-1", "bad name", 200), 1);
        /* No readable id. */
        assert_int_equal(prov_store_reject_note(f->s, "user", NULL, "resource is not an object", 200), 1);
        assert_int_equal(prov_store_reject_note(f->s, "user", NULL, "resource is not an object", 300), 0);
        /* Seen at 300: only that one survives a prune of what was not seen since 300. */
        assert_int_equal(prov_store_rejects_prune(f->s, 300), 3);
        assert_int_equal(prov_store_reject_note(f->s, "user", NULL, "resource is not an object", 400), 0);
        assert_int_equal(prov_store_reject_note(f->s, "user", "u-1", "bad name", 400), 1);
        assert_int_equal(prov_store_reject_note(f->s, NULL, "u-1", "x", 400), -EINVAL);
}

/* provisionctl status's counts come from the store without reading the rows. */
static void test_state_counts(void **state) {
        Fixture *f = *state;
        size_t by_state[_PROV_STATE_MAX];
        ProvUserRecord a = make_user("id-a", "alice", 100001), b = make_user("id-b", "bob", 100002),
                       c = make_user("id-c", "carol", 100003);

        b.state = PROV_STATE_SUSPENDED;
        c.state = PROV_STATE_SUSPENDED;
        assert_int_equal(prov_store_user_put(f->s, &a), 0);
        assert_int_equal(prov_store_user_put(f->s, &b), 0);
        assert_int_equal(prov_store_user_put(f->s, &c), 0);
        assert_int_equal(prov_store_state_counts(f->s, by_state), 0);
        assert_int_equal(by_state[PROV_STATE_ACTIVE], 1);
        assert_int_equal(by_state[PROV_STATE_SUSPENDED], 2);
        assert_int_equal(by_state[PROV_STATE_DEPROVISIONED], 0);
        assert_int_equal(by_state[PROV_STATE_BLOCKED], 0);
}

/* The queue of enforcement steps to retry: a failure adds or counts, anything else clears. */
static void test_pending_steps(void **state) {
        Fixture *f = *state;
        ProvPendingStep *v = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_pending_record(f->s, "u-1", "logind", 100001, "suspend", true), 0);
        assert_int_equal(prov_store_pending_record(f->s, "u-1", "logind", 100001, "deprovision", true), 0);
        assert_int_equal(prov_store_pending_record(f->s, "u-1", "kill", 100001, "suspend", true), 0);
        assert_int_equal(prov_store_pending_record(f->s, "u-2", "kill", 100002, "block", true), 0);
        assert_int_equal(prov_store_pending_record(f->s, "u-2", "kill", 100002, "block", false), 0);
        assert_int_equal(prov_store_pending_record(f->s, "u-3", "kill", 100003, "block", false), 0); /* none: fine */
        assert_int_equal(prov_store_pending_record(f->s, NULL, "kill", 1, "block", true), -EINVAL);
        assert_int_equal(prov_store_pending_load(f->s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].scim_id, "u-1");
        assert_string_equal(v[0].step, "kill");
        assert_int_equal(v[0].failures, 1);
        assert_string_equal(v[1].step, "logind");
        assert_int_equal(v[1].failures, 2);
        assert_string_equal(v[1].event, "deprovision"); /* the newest failure's */
        assert_int_equal(v[1].uid, 100001);
        prov_pending_steps_free(v, n);
}

/* A store of schema 6 keeps what its audit log says is to be retried: the steps whose newest row
 * failed, and no other. */
static void test_migrates_pending_from_audit(void **state) {
        Fixture *f = *state;
        ProvPendingStep *v = NULL;
        char p[PATH_MAX];
        ProvStore *s = NULL;
        size_t n = 0;

        make_old_store(f, "v6.db", 6,
                       "INSERT INTO audit (seq, time_usec, event, user, scim_id, uid, step, outcome) VALUES"
                       " (1, 1, 'suspend', 'a', 'u-a', 100001, 'logind', 'failed'),"
                       " (2, 2, 'suspend', 'a', 'u-a', 100001, 'logind', 'ok'),"
                       " (3, 3, 'suspend', 'b', 'u-b', 100002, 'logind', 'failed'),"
                       " (4, 4, 'suspend', 'b', 'u-b', 100002, 'kill', 'ok'),"
                       " (5, 5, 'suspend', 'b', 'u-b', 100002, 'hook:x', 'failed');",
                       p, sizeof(p));
        assert_int_equal(prov_store_open(p, &s), 0);
        assert_int_equal(prov_store_pending_load(s, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].scim_id, "u-b");
        assert_string_equal(v[0].step, "logind");
        prov_pending_steps_free(v, n);
        prov_store_close(s);
}

/* The migration keeps how many times in a row each step failed: a step given up on (failed
 * PROV_ENFORCE_MAX_RETRIES times, "left to the admin") is not retried again after the upgrade,
 * and the event and uid are those of the newest failure. */
static void test_migrates_pending_failures_in_a_row(void **state) {
        Fixture *f = *state;
        ProvPendingStep *v = NULL;
        char p[PATH_MAX];
        ProvStore *s = NULL;
        size_t n = 0;

        /* u-a: 12 failures of logind in a row; u-b: kill failed, then ok, then failed twice. */
        make_old_store(f, "v6.db", 6,
                       "WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < 12)"
                       " INSERT INTO audit (seq, time_usec, event, user, scim_id, uid, step, outcome)"
                       " SELECT k, k, 'suspend', 'a', 'u-a', 100001, 'logind', 'failed' FROM i;"
                       "INSERT INTO audit (seq, time_usec, event, user, scim_id, uid, step, outcome) VALUES"
                       " (20, 20, 'suspend', 'b', 'u-b', 100002, 'kill', 'failed'),"
                       " (21, 21, 'suspend', 'b', 'u-b', 100002, 'kill', 'ok'),"
                       " (22, 22, 'suspend', 'b', 'u-b', 100002, 'kill', 'failed'),"
                       " (23, 23, 'suspend', 'b', 'u-b', 100002, 'logind', 'ok'),"
                       " (24, 24, 'block', 'b', 'u-b', 100012, 'kill', 'failed');",
                       p, sizeof(p));
        assert_int_equal(prov_store_open(p, &s), 0);
        assert_int_equal(prov_store_pending_load(s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].scim_id, "u-a");
        assert_string_equal(v[0].step, "logind");
        assert_int_equal(v[0].failures, 12);
        assert_string_equal(v[1].scim_id, "u-b");
        assert_string_equal(v[1].step, "kill");
        assert_int_equal(v[1].failures, 2);
        assert_string_equal(v[1].event, "block");
        assert_int_equal(v[1].uid, 100012);
        prov_pending_steps_free(v, n);
        prov_store_close(s);
}

/* Schema 8 -> 9 drops the column removed of groups (never set) by rebuilding the table: every
 * group comes through with its key, which memberships hold, and its columns. */
static void test_migrates_groups_without_removed(void **state) {
        Fixture *f = *state;
        ProvGroupRecord *v = NULL, g = make_group("g-4", "devs", 200003);
        char p[PATH_MAX];
        ProvStore *s = NULL;
        Collected c = {};
        size_t n = 0;

        make_old_store(f, "v8.db", 8,
                       "INSERT INTO users (ref, scim_id, name, uid, gid, gecos, home, shell, source_active, state) "
                       "VALUES (7, 'u-a', 'alice', 100001, 100001, '', '/home/alice', '/bin/sh', 1, 0);"
                       "INSERT INTO groups (ref, scim_id, name, gid, local_name, created_usec, updated_usec,"
                       "  last_seen_usec, removed) VALUES"
                       " (3, 'g-1', 'devs', 200000, NULL, 11, 12, 13, 0),"
                       " (5, 'g-2', 'ops', 200001, 'wheel', 21, 22, 23, 1),"
                       " (9, 'g-3', 'empty', 200002, NULL, 31, 32, 33, 0);"
                       "INSERT INTO memberships VALUES (3, 7), (5, 7);",
                       p, sizeof(p));
        assert_int_equal(count_rows(p, "SELECT count(*) FROM pragma_table_info('groups') WHERE name = 'removed'"), 1);

        assert_int_equal(prov_store_open(p, &s), 0);
        assert_int_equal(prov_store_schema_version(s), PROV_STORE_SCHEMA_VERSION);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM pragma_table_info('groups') WHERE name = 'removed'"), 0);
        assert_int_equal(count_rows(p, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v9'"), 0);
        assert_int_equal(prov_store_check_references(s), 0);
        assert_int_equal(prov_store_groups_load(s, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].scim_id, "g-1");
        assert_string_equal(v[0].name, "devs");
        assert_null(v[0].local_name);
        assert_int_equal(v[0].ref, 3);
        assert_int_equal(v[0].created_usec, 11);
        assert_int_equal(v[0].updated_usec, 12);
        assert_int_equal(v[0].last_seen_usec, 13);
        assert_string_equal(v[1].scim_id, "g-2");
        assert_int_equal(v[1].gid, 200001);
        assert_string_equal(v[1].local_name, "wheel");
        assert_int_equal(v[1].ref, 5);
        assert_string_equal(v[2].scim_id, "g-3");
        assert_int_equal(v[2].ref, 9);
        assert_int_equal(v[2].last_seen_usec, 33);
        prov_group_records_free(v, n);
        collect_memberships(s, &c);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.rows[0], "g-1|u-a");
        assert_string_equal(c.rows[1], "g-2|u-a");
        /* The rebuilt table still takes writes and keeps its names unique. */
        assert_int_equal(prov_store_group_put(s, &g), -EEXIST);
        prov_store_close(s);
}

/* The oldest max acks waiting in the store are want (NULL: none), n of them; *ret_last their
 * last number. */
static void assert_acks(ProvStore *s, unsigned max, int n, const char *want, int64_t *ret_last) {
        char *a = NULL;
        int64_t last = 0;

        assert_int_equal(prov_store_acks_peek(s, max, &a, &last), n);
        if (want)
                assert_string_equal(a, want);
        else
                assert_null(a);
        free(a);
        if (ret_last)
                *ret_last = last;
}

/* The hub's acks wait in the store: a store of schema 7 gets the table, outcomes come back in
 * order as one JSON array, the oldest go beyond the bound, and a removal after a peek keeps
 * what was added meanwhile; they outlive the handle (a restart). */
static void test_hub_acks(void **state) {
        Fixture *f = *state;
        char p[PATH_MAX];
        ProvStore *s = NULL;
        int64_t last = 0;

        fixture_path(f, "v7.db", p, sizeof(p));
        assert_int_equal(prov_store_open_at_version(p, 7, &s), 0);
        s = prov_store_close(s);
        assert_int_equal(prov_store_open(p, &s), 0);
        assert_acks(s, 10, 0, NULL, NULL);
        assert_int_equal(prov_store_acks_add(s, "{\"id\":\"u-1\",\"seq\":5}", 3), 0);
        assert_int_equal(prov_store_acks_add(s, "{\"id\":\"u-2\",\"seq\":6}", 3), 0);
        assert_acks(s, 10, 2, "[{\"id\":\"u-1\",\"seq\":5},{\"id\":\"u-2\",\"seq\":6}]", NULL);
        assert_acks(s, 1, 1, "[{\"id\":\"u-1\",\"seq\":5}]", &last);
        /* Added after the peek: stays when what the peek returned goes. */
        assert_int_equal(prov_store_acks_add(s, "{\"id\":\"u-3\",\"seq\":7}", 3), 0);
        assert_int_equal(prov_store_acks_remove(s, last), 0);
        s = prov_store_close(s);
        assert_int_equal(prov_store_open(p, &s), 0);
        assert_acks(s, 10, 2, "[{\"id\":\"u-2\",\"seq\":6},{\"id\":\"u-3\",\"seq\":7}]", NULL);
        /* Bounded: a fourth beyond at most 3 drops the oldest. */
        assert_int_equal(prov_store_acks_add(s, "{\"id\":\"u-4\"}", 3), 0);
        assert_int_equal(prov_store_acks_add(s, "{\"id\":\"u-5\"}", 3), 1);
        assert_acks(s, 10, 3, "[{\"id\":\"u-3\",\"seq\":7},{\"id\":\"u-4\"},{\"id\":\"u-5\"}]", NULL);
        assert_int_equal(prov_store_acks_remove(s, INT64_MAX), 0);
        assert_acks(s, 10, 0, NULL, NULL);
        prov_store_close(s);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_open_creates_current_and_reopen_keeps_data),
                T(test_migrates_v1),
                T(test_migrates_pending_from_audit),
                T(test_migrates_pending_failures_in_a_row),
                T(test_hub_acks),
                T(test_migrates_groups_without_removed),
                T(test_pending_steps),
                T(test_state_counts),
                T(test_file_mode_0600),
                T(test_schema_too_new),
                T(test_readonly_refuses_unmigrated),
                T(test_open_refuses_garbage_and_symlinks),
                T(test_users_put_get_update_delete),
                T(test_users_conflict),
                T(test_users_load_ordered_by_uid),
                T(test_groups_put_get_update_delete),
                T(test_user_groups_load),
                T(test_memberships_replace),
                T(test_memberships_add_remove_bulk),
                T(test_owner_hash_is_fnv1a64),
                T(test_ledger_allocate_deterministic),
                T(test_ledger_allocate_idempotent),
                T(test_ledger_never_reuses_deleted_user),
                T(test_ledger_skips_taken),
                T(test_ledger_skips_other_owner),
                T(test_ledger_also_gid),
                T(test_ledger_full_range),
                T(test_ledger_assign),
                T(test_user_ids_reserved_then_retired),
                T(test_users_foreach_refused),
                T(test_user_ids_allocate_matches_ledger),
                T(test_rollback_discards),
                T(test_state_get_set),
                T(test_audit_add_load),
                T(test_holds),
                T(test_name_history),
                T(test_bulk_100k_users),
                T(test_bulk_100k_allocations_distinct),
                T(test_readonly_sees_committed_and_cannot_write),
                T(test_readonly_after_writer_closed),
                T(test_rejects_noted_once),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
