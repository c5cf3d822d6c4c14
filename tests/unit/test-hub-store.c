/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of the hub's store (hub/hub-store.c): create, get, modify (no-op and change),
 * delete, userName uniqueness, the gap-free change sequence and the audit rows (read back with a
 * second SQLite connection), If-Match, members and a deleted user leaving its groups, paging by
 * index and by cursor, filters served by an index and by a scan, the modified-since delta, the
 * file mode and durable commits. Each test gets its own directory under /tmp. */

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

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "hub-feed.h"
#include "hub-store.h"
#include "prov-util.h"

#define BASE_URL "https://hub.example.com/scim/v2"

static const HubRender how = { .base_url = BASE_URL, .with_members = true };
static const HubActor who = { .token_name = "entra", .method = "POST" };

typedef struct Fixture {
        char dir[64];
        char path[PATH_MAX];
        HubStore *s;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-hub-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        /* A directory that does not exist yet: the store creates it, 0700. */
        snprintf(f->path, sizeof(f->path), "%s/state/hub.db", f->dir);
        assert_int_equal(hub_store_open(f->path, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char p[PATH_MAX + 16];

        hub_store_close(f->s);
        (void)unlink(f->path);
        snprintf(p, sizeof(p), "%s-wal", f->path);
        (void)unlink(p);
        snprintf(p, sizeof(p), "%s-shm", f->path);
        (void)unlink(p);
        snprintf(p, sizeof(p), "%s/state", f->dir);
        (void)rmdir(p);
        (void)rmdir(f->dir);
        free(f);
        return 0;
}

/* One integer from the store's file, through a connection of our own. */
static int64_t db_int(const Fixture *f, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t v;

        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* One text from the store's file (a copy, NULL for NULL). */
static char *db_text(const Fixture *f, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *v;

        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_text(st, 0) ? strdup((const char *) sqlite3_column_text(st, 0)) : NULL;
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static int64_t head(const Fixture *f) {
        int64_t h = -1;
        assert_int_equal(hub_store_head(f->s, &h), 0);
        return h;
}

/* The change sequence has no gap: 1 .. head, each once. */
static void assert_gap_free(const Fixture *f) {
        int64_t h = head(f);

        assert_int_equal(db_int(f, "SELECT count(*) FROM changes"), h);
        assert_int_equal(db_int(f, "SELECT count(DISTINCT seq) FROM changes"), h);
        if (h > 0) {
                assert_int_equal(db_int(f, "SELECT min(seq) FROM changes"), 1);
                assert_int_equal(db_int(f, "SELECT max(seq) FROM changes"), h);
        }
}

static cJSON *user_json(const char *name, const char *external_id) {
        cJSON *u = cJSON_CreateObject();
        cJSON *schemas = cJSON_AddArrayToObject(u, "schemas");
        cJSON_AddItemToArray(schemas, cJSON_CreateString("urn:ietf:params:scim:schemas:core:2.0:User"));
        cJSON_AddStringToObject(u, "userName", name);
        if (external_id)
                cJSON_AddStringToObject(u, "externalId", external_id);
        cJSON_AddBoolToObject(u, "active", true);
        return u;
}

/* Creates a user and returns its id. */
static char *create_user(const Fixture *f, const char *name, const char *external_id) {
        cJSON *u = user_json(name, external_id), *out = NULL;
        ProvScimError err = {};
        char *id;

        assert_int_equal(hub_store_create(f->s, PROV_HUB_USER, u, &who, &how, &out, &err), 0);
        id = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "id")));
        cJSON_Delete(u);
        cJSON_Delete(out);
        return id;
}

static char *create_group(const Fixture *f, const char *name, const char *const *member_ids, size_t n) {
        cJSON *g = cJSON_CreateObject(), *out = NULL, *members;
        ProvScimError err = {};
        char *id;

        cJSON_AddStringToObject(g, "displayName", name);
        members = cJSON_AddArrayToObject(g, "members");
        for (size_t i = 0; i < n; i++) {
                cJSON *m = cJSON_CreateObject();
                cJSON_AddStringToObject(m, "value", member_ids[i]);
                cJSON_AddItemToArray(members, m);
        }
        assert_int_equal(hub_store_create(f->s, PROV_HUB_GROUP, g, &who, &how, &out, &err), 0);
        id = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "id")));
        cJSON_Delete(g);
        cJSON_Delete(out);
        return id;
}

static const char *meta_str(const cJSON *o, const char *key) {
        return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "meta"), key));
}

static void test_open(void **state) {
        Fixture *f = *state;
        char dir[PATH_MAX + 8];
        struct stat st;

        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        snprintf(dir, sizeof(dir), "%s/state", f->dir);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_true(hub_store_durable(f->s));
        assert_int_equal(head(f), 0);

        /* Reopening finds the same store. */
        _cleanup_free_ char *id = create_user(f, "alice", NULL);
        f->s = hub_store_close(f->s);
        assert_int_equal(hub_store_open(f->path, &f->s), 0);
        assert_int_equal(head(f), 1);
        cJSON *u = NULL;
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, id, &how, &u), 0);
        /* Times handed out keep growing across a reopen. */
        _cleanup_free_ char *bob = create_user(f, "bob", NULL);
        cJSON *b = NULL;
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, bob, &how, &b), 0);
        assert_true(strcmp(meta_str(b, "created"), meta_str(u, "created")) > 0);
        cJSON_Delete(b);
        cJSON_Delete(u);
}

static void test_create_get(void **state) {
        Fixture *f = *state;
        cJSON *in = user_json("Alice", "ext-1"), *out = NULL, *got = NULL;
        ProvScimError err = {};
        char location[256];

        cJSON_AddStringToObject(in, "displayName", "Alice A");
        assert_int_equal(hub_store_create(f->s, PROV_HUB_USER, in, &who, &how, &out, &err), 0);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(out, "id"));
        assert_non_null(id);
        assert_int_equal(strlen(id), 36);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "userName")), "Alice");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "externalId")), "ext-1");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(out, "active")));
        assert_non_null(cJSON_GetObjectItem(out, "schemas"));
        assert_string_equal(meta_str(out, "resourceType"), "User");
        assert_string_equal(meta_str(out, "version"), "W/\"1\"");
        snprintf(location, sizeof(location), BASE_URL "/Users/%s", id);
        assert_string_equal(meta_str(out, "location"), location);
        assert_string_equal(meta_str(out, "created"), meta_str(out, "lastModified"));
        /* RFC 3339 UTC with milliseconds */
        assert_int_equal(strlen(meta_str(out, "created")), strlen("2026-12-05T17:12:08.123Z"));

        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, id, &how, &got), 0);
        assert_true(cJSON_Compare(out, got, true));
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, "no-such-id", &how, &got), -ENOENT);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_GROUP, id, &how, &got), -ENOENT);

        assert_int_equal(head(f), 1);
        assert_int_equal(db_int(f, "SELECT count(*) FROM changes WHERE kind = 'User' AND op = 'upsert'"), 1);
        assert_int_equal(db_int(f,
                                "SELECT count(*) FROM audit WHERE token_name = 'entra' AND method = 'POST'"
                                " AND before_json IS NULL AND after_json LIKE '%\"Alice\"%'"),
                         1);

        cJSON_Delete(in);
        cJSON_Delete(out);
        cJSON_Delete(got);
}

static void test_unique(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *id = create_user(f, "Alice", NULL);
        cJSON *dup = user_json("aLICE", NULL), *out = NULL;
        ProvScimError err = {};

        assert_int_equal(hub_store_create(f->s, PROV_HUB_USER, dup, &who, &how, &out, &err), -EEXIST);
        assert_int_equal(err.status, 409);
        assert_string_equal(err.scim_type, "uniqueness");
        assert_null(out);
        /* Nothing written. */
        assert_int_equal(head(f), 1);
        assert_int_equal(db_int(f, "SELECT count(*) FROM users"), 1);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 1);
        cJSON_Delete(dup);
}

/* Group commit: the writes of a batch are invisible to other connections until it commits, a
 * refused request inside it changes nothing while the others stay, and they share one time. */
static void test_batch(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = NULL, *b = NULL;
        cJSON *dup = user_json("BATCH-A", NULL), *out = NULL;
        ProvScimError err = {};

        assert_false(hub_store_batch_open(f->s));
        assert_int_equal(hub_store_batch_commit(f->s), 0); /* none open: a no-op */
        assert_int_equal(hub_store_batch_begin(f->s), 0);
        assert_true(hub_store_batch_open(f->s));
        a = create_user(f, "batch-a", NULL);
        assert_int_equal(hub_store_create(f->s, PROV_HUB_USER, dup, &who, &how, &out, &err), -EEXIST);
        assert_int_equal(err.status, 409);
        b = create_user(f, "batch-b", NULL);
        assert_false(hub_store_batch_lost(f->s));
        /* Not committed: another connection sees nothing yet. */
        assert_int_equal(db_int(f, "SELECT count(*) FROM users"), 0);
        assert_int_equal(db_int(f, "SELECT count(*) FROM changes"), 0);

        assert_int_equal(hub_store_batch_commit(f->s), 0);
        assert_false(hub_store_batch_open(f->s));
        assert_int_equal(db_int(f, "SELECT count(*) FROM users"), 2);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 2);
        assert_int_equal(head(f), 2);
        assert_gap_free(f);
        assert_int_equal(db_int(f, "SELECT count(DISTINCT modified_usec) FROM users"), 1);

        /* The next write, outside a batch, is later than the whole batch. */
        _cleanup_free_ char *c = create_user(f, "after", NULL);
        assert_int_equal(db_int(f, "SELECT count(*) FROM users WHERE modified_usec > "
                                   "(SELECT max(modified_usec) FROM users WHERE user_name != 'after')"), 1);
        cJSON_Delete(dup);
}

/* Retention: changes older than the cutoff go (never the head's, which numbers the next), the
 * feed then refuses a since from before the oldest kept (410), and the audit goes only when told. */
static void test_prune(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = create_user(f, "p-a", NULL), *b = create_user(f, "p-b", NULL),
                            *c = create_user(f, "p-c", NULL);
        int64_t changes = -1, audit = -1, oldest = -1;
        ProvScimError err = {};
        char *text = NULL;
        size_t len = 0;

        assert_int_equal(hub_store_prune(f->s, 0, 0, &changes, &audit), 0);
        assert_int_equal(changes, 0);
        assert_int_equal(audit, 0);
        assert_int_equal(hub_feed_render(f->s, 0, 1000, BASE_URL, &text, &len, &err), 0);
        free(text);

        /* A cutoff after every change: all but the head's go; the audit stays. */
        assert_int_equal(hub_store_prune(f->s, INT64_MAX, 0, &changes, &audit), 0);
        assert_int_equal(changes, 2);
        assert_int_equal(audit, 0);
        assert_int_equal(head(f), 3);
        assert_int_equal(hub_store_oldest(f->s, &oldest), 0);
        assert_int_equal(oldest, 3);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 3);
        err = (ProvScimError) {};
        assert_int_equal(hub_feed_render(f->s, 1, 1000, BASE_URL, &text, &len, &err), -ESTALE);
        assert_int_equal(err.status, 410);
        assert_int_equal(hub_feed_render(f->s, 2, 1000, BASE_URL, &text, &len, &err), 0); /* the head's change is kept */
        free(text);
        /* The next change still gets the next number. */
        _cleanup_free_ char *d = create_user(f, "p-d", NULL);
        assert_int_equal(head(f), 4);
        assert_int_equal(hub_store_prune(f->s, 0, INT64_MAX, &changes, &audit), 0);
        assert_int_equal(audit, 4);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 0);
}

/* The number of resources of a list of every one, in SCIM's view or the fleet's. */
static int list_size(const Fixture *f, ProvHubKind kind, bool fleet, int64_t *ret_total) {
        const HubRender view = { .base_url = BASE_URL, .with_members = true, .fleet = fleet };
        HubQuery q = { .count = 100, .cursor = fleet };
        HubPage page = {};
        ProvScimError err = {};
        int n;

        assert_int_equal(hub_store_list(f->s, kind, &q, &view, &page, &err), 0);
        n = cJSON_GetArraySize(page.resources);
        if (ret_total)
                *ret_total = page.total;
        cJSON_Delete(page.resources);
        return n;
}

/* The number of members of a group in SCIM's view or the fleet's. */
static int member_count(const Fixture *f, const char *group, bool fleet) {
        const HubRender view = { .base_url = BASE_URL, .with_members = true, .fleet = fleet };
        cJSON *g = NULL;
        int n;

        assert_int_equal(hub_store_get(f->s, PROV_HUB_GROUP, group, &view, &g), 0);
        n = cJSON_GetArraySize(cJSON_GetObjectItem(g, "members"));
        cJSON_Delete(g);
        return n;
}

/* A deletion beyond the guard's share is held: SCIM no longer sees the user (404, its userName
 * free, lists skip it, a second DELETE 404), the fleet's view keeps it as it was and in its
 * group, retention does not lose it, and the approval publishes its deletion and its group's
 * change, gap-free. */
static void test_held_deletion(void **state) {
        Fixture *f = *state;
        const HubRender fleet = { .base_url = BASE_URL, .with_members = true, .fleet = true };
        _cleanup_free_ char *u0 = create_user(f, "d0", NULL), *u1 = create_user(f, "d1", NULL),
                            *u2 = create_user(f, "d2", NULL), *u3 = create_user(f, "d3", NULL),
                            *u4 = create_user(f, "d4", NULL), *again = NULL, *g = NULL;
        const char *const members[] = { u0, u1, u2 };
        ProvScimError err = {};
        cJSON *o = NULL, *held;
        int64_t h, released = 0, total = 0, changes, audit;
        char *text = NULL;
        size_t len = 0;

        g = create_group(f, "dgroup", members, 3);
        hub_store_set_guard(f->s, 20, INT64_C(3600000000), 3);
        /* 1 of 5 within the window: at the share (20%), published. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, u0, NULL, &who, &err), 0);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u0, &fleet, &o), -ENOENT);
        assert_int_equal(member_count(f, g, true), 2);

        /* 2 left of the 4 now there: held. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, u1, NULL, &who, &err), 0);
        h = head(f);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u1, &how, &o), -ENOENT);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u1, &fleet, &o), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "active")));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "groups")), 1);
        cJSON_Delete(o);
        o = NULL;
        assert_int_equal(member_count(f, g, false), 1);
        assert_int_equal(member_count(f, g, true), 2);
        assert_int_equal(list_size(f, PROV_HUB_USER, false, &total), 3);
        assert_int_equal(total, 3);
        assert_int_equal(list_size(f, PROV_HUB_USER, true, NULL), 4);
        err = (ProvScimError) {};
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, u1, NULL, &who, &err), -ENOENT);
        assert_int_equal(err.status, 404);
        assert_int_equal(head(f), h);

        /* The IdP creates the userName again: a new user beside the ghost. */
        again = create_user(f, "D1", NULL);
        assert_string_not_equal(again, u1);
        assert_int_equal(list_size(f, PROV_HUB_USER, true, NULL), 5);

        /* Retention keeps the ghost; the holds list names it. */
        assert_int_equal(hub_store_prune(f->s, INT64_MAX, INT64_MAX, &changes, &audit), 0);
        assert_int_equal(hub_store_holds(f->s, &o), 0);
        held = cJSON_GetObjectItem(o, "users");
        assert_int_equal(cJSON_GetArraySize(held), 1);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(held, 0), "id")), u1);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(held, 0), "kind")), "deletion");
        cJSON_Delete(o);
        o = NULL;

        h = head(f);
        assert_int_equal(hub_store_hold_approve(f->s, 0, -1, &who, &released, &err), 0);
        assert_int_equal(released, 1);
        assert_int_equal(head(f), h + 3); /* the group, the user, then the userName's new holder */
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u1, &fleet, &o), -ENOENT);
        assert_int_equal(member_count(f, g, true), 1);
        assert_int_equal(db_int(f, "SELECT count(*) FROM users WHERE deleted_usec IS NOT NULL"), 0);
        assert_int_equal(hub_feed_render(f->s, h, 1000, BASE_URL, &text, &len, &err), 0);
        assert_non_null(strstr(text, "\"op\":\"delete\",\"resourceType\":\"User\""));
        assert_non_null(strstr(text, u1));
        /* The user made with the ghost's userName reaches the fleet after the deletion. */
        assert_non_null(strstr(text, again));
        assert_true(strstr(text, again) > strstr(text, u1));
        free(text);
        (void) u2, (void) u3, (void) u4;
}

static int fn_noop(cJSON *resource, void *userdata, ProvScimError *err) {
        (void)resource, (void)userdata, (void)err;
        return 0;
}

static int fn_deactivate(cJSON *resource, void *userdata, ProvScimError *err) {
        (void)userdata, (void)err;
        cJSON_ReplaceItemInObject(resource, "active", cJSON_CreateFalse());
        return 0;
}

static int fn_rename(cJSON *resource, void *userdata, ProvScimError *err) {
        (void)err;
        cJSON_ReplaceItemInObject(resource, "userName", cJSON_CreateString(userdata));
        return 0;
}

static int fn_fail(cJSON *resource, void *userdata, ProvScimError *err) {
        (void)resource, (void)userdata;
        return prov_scim_error_set(err, 400, "invalidPath", "no");
}

/* Deleting a user whose deactivation the fleet already has is never held: as a ghost it would be
 * served active again. */
static void test_deleted_after_deactivation(void **state) {
        Fixture *f = *state;
        const HubRender fleet = { .base_url = BASE_URL, .with_members = true, .fleet = true };
        _cleanup_free_ char *u0 = create_user(f, "e0", NULL), *u1 = create_user(f, "e1", NULL),
                            *u2 = create_user(f, "e2", NULL), *u3 = create_user(f, "e3", NULL),
                            *u4 = create_user(f, "e4", NULL);
        ProvScimError err = {};
        cJSON *o = NULL, *out = NULL;
        bool changed = false;

        hub_store_set_guard(f->s, 20, INT64_C(3600000000), 3);
        /* 1 of 5: at the share, published. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, u0, NULL, fn_deactivate, NULL, &who, &how, &out,
                                          &changed, &err),
                         0);
        assert_true(changed);
        cJSON_Delete(out);
        /* A second leaver: held, a hold is open. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, u1, NULL, &who, &err), 0);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u1, &fleet, &o), 0);
        cJSON_Delete(o);
        o = NULL;
        /* The IdP's clean-up deletes the user who left: gone at once, not a ghost served active. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, u0, NULL, &who, &err), 0);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, u0, &fleet, &o), -ENOENT);
        assert_int_equal(hub_store_holds(f->s, &o), 0);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "users")), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "users"), 0), "id")),
                u1);
        cJSON_Delete(o);
        (void) u2, (void) u3, (void) u4;
}

static void test_modify(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *id = create_user(f, "alice", NULL);
        _cleanup_free_ char *bob = create_user(f, "bob", NULL);
        cJSON *out = NULL, *before = NULL;
        ProvScimError err = {};
        bool changed = true;

        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, id, &how, &before), 0);

        /* A re-sent PATCH: nothing written. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, NULL, fn_noop, NULL, &who, &how, &out,
                                          &changed, &err),
                         0);
        assert_false(changed);
        assert_true(cJSON_Compare(before, out, true));
        cJSON_Delete(out), out = NULL;
        assert_int_equal(head(f), 2);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 2);

        /* A failing fn changes nothing and passes its error on. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, NULL, fn_fail, NULL, &who, &how, &out,
                                          &changed, &err),
                         -EINVAL);
        assert_int_equal(err.status, 400);
        assert_int_equal(head(f), 2);

        /* A change. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, "W/\"1\"", fn_deactivate, NULL, &who,
                                          &how, &out, &changed, &err),
                         0);
        assert_true(changed);
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(out, "active")));
        assert_string_equal(meta_str(out, "version"), "W/\"2\"");
        assert_string_equal(meta_str(out, "created"), meta_str(before, "created"));
        assert_true(strcmp(meta_str(out, "lastModified"), meta_str(before, "lastModified")) > 0);
        cJSON_Delete(out), out = NULL;
        assert_int_equal(head(f), 3);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit WHERE before_json LIKE '%\"active\":true%'"
                                   " AND after_json LIKE '%\"active\":false%'"),
                         1);
        assert_int_equal(db_int(f, "SELECT max(change_seq) FROM audit"), 3);

        /* If-Match on the old version: 412, nothing written. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, "W/\"1\"", fn_noop, NULL, &who, &how,
                                          &out, &changed, &err),
                         -EINVAL);
        assert_int_equal(err.status, 412);
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, id, "W/\"1\"", &who, &err), -EINVAL);
        assert_int_equal(err.status, 412);
        assert_int_equal(head(f), 3);

        /* Renaming to a taken userName, in another case: 409; to its own name in another case: fine. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, NULL, fn_rename, (void *)"BOB", &who,
                                          &how, &out, &changed, &err),
                         -EEXIST);
        assert_int_equal(err.status, 409);
        assert_int_equal(head(f), 3);
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, id, "W/\"2\"", fn_rename, (void *)"ALICE",
                                          &who, &how, &out, &changed, &err),
                         0);
        assert_true(changed);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "userName")), "ALICE");
        cJSON_Delete(out), out = NULL;
        assert_int_equal(head(f), 4);

        /* Unknown id: 404. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, "nope", NULL, fn_noop, NULL, &who, &how, &out,
                                          &changed, &err),
                         -ENOENT);
        assert_int_equal(err.status, 404);
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, "nope", NULL, &who, &err), -ENOENT);
        assert_int_equal(err.status, 404);

        /* Delete with the right If-Match. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, id, "W/\"3\"", &who, &err), 0);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, id, &how, &out), -ENOENT);
        assert_int_equal(head(f), 5);
        assert_int_equal(
                db_int(f, "SELECT count(*) FROM changes WHERE seq = 5 AND op = 'delete' AND kind = 'User'"),
                1);
        assert_int_equal(
                db_int(f, "SELECT count(*) FROM audit WHERE after_json IS NULL AND before_json IS NOT NULL"),
                1);
        assert_gap_free(f);
        cJSON_Delete(before);
}

typedef struct MemberEdit {
        const char *remove, *add;
} MemberEdit;

static int fn_members(cJSON *resource, void *userdata, ProvScimError *err) {
        const MemberEdit *e = userdata;
        cJSON *members = cJSON_GetObjectItem(resource, "members"), *m;
        int i = 0;

        (void)err;
        cJSON_ArrayForEach(m, members) {
                if (e->remove && streq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "value")), e->remove)) {
                        cJSON_DeleteItemFromArray(members, i);
                        break;
                }
                i++;
        }
        if (e->add) {
                m = cJSON_CreateObject();
                cJSON_AddStringToObject(m, "value", e->add);
                cJSON_AddItemToArray(members, m);
        }
        return 0;
}

static bool has_member(const cJSON *group, const char *id) {
        const cJSON *m;
        cJSON_ArrayForEach(
                m,
                cJSON_GetObjectItem(
                        group, "members")) if (streq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "value")),
                                                     id)) return true;
        return false;
}

static void test_members(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = create_user(f, "a", NULL), *b = create_user(f, "b", NULL),
                            *c = create_user(f, "c", NULL);
        const char *ids[] = { a, b, "no-such-user", a };
        _cleanup_free_ char *g = create_group(f, "Staff", ids, ELEMENTSOF(ids));
        HubRender bare = { .base_url = BASE_URL, .with_members = false };
        cJSON *out = NULL;
        ProvScimError err = {};
        bool changed;

        assert_int_equal(head(f), 4);
        assert_int_equal(db_int(f, "SELECT count(*) FROM members"), 2);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_GROUP, g, &how, &out), 0);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "members")), 2);
        assert_true(has_member(out, a) && has_member(out, b));
        const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "members"), 0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "display")), "a");
        char ref[256];
        snprintf(ref, sizeof(ref), BASE_URL "/Users/%s", a);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "$ref")), ref);
        assert_string_equal(meta_str(out, "resourceType"), "Group");
        cJSON_Delete(out), out = NULL;

        /* excludedAttributes=members */
        assert_int_equal(hub_store_get(f->s, PROV_HUB_GROUP, g, &bare, &out), 0);
        assert_null(cJSON_GetObjectItem(out, "members"));
        cJSON_Delete(out), out = NULL;

        /* A user shows its groups. */
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, a, &how, &out), 0);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "groups")), 1);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
                                    cJSON_GetArrayItem(cJSON_GetObjectItem(out, "groups"), 0), "display")),
                            "Staff");
        cJSON_Delete(out), out = NULL;

        /* Remove a, add c: two member rows written, one new version, one seq. */
        MemberEdit e = { .remove = a, .add = c };
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_GROUP, g, "W/\"1\"", fn_members, &e, &who, &how,
                                          &out, &changed, &err),
                         0);
        assert_true(changed);
        assert_string_equal(meta_str(out, "version"), "W/\"2\"");
        assert_false(has_member(out, a));
        assert_true(has_member(out, b) && has_member(out, c));
        cJSON_Delete(out), out = NULL;
        assert_int_equal(head(f), 5);
        _cleanup_free_ char *after = db_text(f, "SELECT after_json FROM audit ORDER BY seq DESC LIMIT 1");
        cJSON *audit = cJSON_Parse(after);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(audit, "membersAdded"), 0)), c);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(audit, "membersRemoved"), 0)),
                a);
        assert_null(cJSON_GetObjectItem(audit, "members"));
        cJSON_Delete(audit);

        /* The same edit again changes nothing. */
        e = (MemberEdit) { .remove = NULL, .add = c };
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_GROUP, g, NULL, fn_members, &e, &who, &how, &out,
                                          &changed, &err),
                         0);
        assert_false(changed);
        cJSON_Delete(out), out = NULL;
        assert_int_equal(head(f), 5);

        /* A deleted user leaves its groups: the group gets a new version and a seq before the
         * user's delete. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, b, NULL, &who, &err), 0);
        assert_int_equal(head(f), 7);
        assert_int_equal(
                db_int(f, "SELECT count(*) FROM changes WHERE seq = 6 AND kind = 'Group' AND op = 'upsert'"),
                1);
        assert_int_equal(
                db_int(f, "SELECT count(*) FROM changes WHERE seq = 7 AND kind = 'User' AND op = 'delete'"),
                1);
        _cleanup_free_ char *left = db_text(f, "SELECT before_json FROM audit ORDER BY seq DESC LIMIT 1");
        cJSON *gone = cJSON_Parse(left);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(gone, "groupsLeft"), 0)), g);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(gone, "userName")), "b");
        cJSON_Delete(gone);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_GROUP, g, &how, &out), 0);
        assert_string_equal(meta_str(out, "version"), "W/\"3\"");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "members")), 1);
        assert_true(has_member(out, c));
        cJSON_Delete(out), out = NULL;

        /* Deleting the group takes its member rows. */
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_GROUP, g, "W/\"2\"", &who, &err), -EINVAL);
        assert_int_equal(err.status, 412);
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_GROUP, g, "W/\"3\"", &who, &err), 0);
        assert_int_equal(db_int(f, "SELECT count(*) FROM members"), 0);
        assert_int_equal(head(f), 8);
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, c, &how, &out), 0);
        assert_null(cJSON_GetObjectItem(out, "groups"));
        cJSON_Delete(out);

        /* The sequence has no gap, one audit row per request that changed something. */
        assert_int_equal(db_int(f, "SELECT count(*) FROM changes"), 8);
        assert_int_equal(db_int(f, "SELECT min(seq) FROM changes"), 1);
        assert_int_equal(db_int(f, "SELECT count(*) FROM audit"), 7);
        assert_gap_free(f);
}

/* A group larger than the first allocation of every array: a change of one member writes two
 * rows. */
static void test_big_group(void **state) {
        Fixture *f = *state;
        char *ids[150];
        cJSON *out = NULL;
        ProvScimError err = {};
        bool changed;

        for (int i = 0; i < 150; i++) {
                char name[16];
                snprintf(name, sizeof(name), "m%03d", i);
                ids[i] = create_user(f, name, NULL);
        }
        _cleanup_free_ char *g = create_group(f, "Big", (const char *const *) ids, 140);
        assert_int_equal(db_int(f, "SELECT count(*) FROM members"), 140);

        MemberEdit e = { .remove = ids[0], .add = ids[145] };
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_GROUP, g, NULL, fn_members, &e, &who, &how, &out,
                                          &changed, &err),
                         0);
        assert_true(changed);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "members")), 140);
        assert_false(has_member(out, ids[0]));
        assert_true(has_member(out, ids[145]) && has_member(out, ids[139]));
        cJSON_Delete(out);
        assert_int_equal(db_int(f, "SELECT count(*) FROM members"), 140);
        _cleanup_free_ char *after = db_text(f, "SELECT after_json FROM audit ORDER BY seq DESC LIMIT 1");
        cJSON *audit = cJSON_Parse(after);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(audit, "membersAdded")), 1);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(audit, "membersRemoved")), 1);
        cJSON_Delete(audit);
        assert_gap_free(f);

        for (int i = 0; i < 150; i++)
                free(ids[i]);
}

static ProvFilter *filter(const char *text) {
        ProvFilter *p = NULL;
        ProvScimError err = {};
        assert_int_equal(prov_filter_parse(text, &p, &err), 0);
        return p;
}

static int64_t list(const Fixture *f, ProvHubKind kind, const char *filter_text, const HubQuery *q0,
                    HubPage *page) {
        _cleanup_(prov_filter_freep) ProvFilter *p = filter_text ? filter(filter_text) : NULL;
        HubQuery q = *q0;
        ProvScimError err = {};

        q.filter = p;
        assert_int_equal(hub_store_list(f->s, kind, &q, &how, page, &err), 0);
        return page->total;
}

#define N_USERS 250

static void test_paging(void **state) {
        Fixture *f = *state;
        char *ids[N_USERS + 1] = {};
        bool seen[N_USERS + 1] = {};
        HubPage page = {};
        char name[32];

        for (int i = 0; i < N_USERS; i++) {
                snprintf(name, sizeof(name), "User%04d", i);
                snprintf(name + 16, 16, "ext%d", i);
                ids[i] = create_user(f, name, name + 16);
        }

        /* By index: 100, 100, 50, in creation order. */
        for (int start = 1; start <= N_USERS; start += 100) {
                HubQuery q = { .start_index = start, .count = 100 };
                assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), N_USERS);
                assert_int_equal(cJSON_GetArraySize(page.resources), start + 100 > N_USERS ? 50 : 100);
                for (int i = 0; i < cJSON_GetArraySize(page.resources); i++)
                        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
                                                    cJSON_GetArrayItem(page.resources, i), "id")),
                                            ids[start - 1 + i]);
                assert_int_equal(page.next_cursor, 0);
                cJSON_Delete(page.resources);
        }

        /* count 0: the total only. */
        HubQuery q0 = { .start_index = 1, .count = 0 };
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q0, &page), N_USERS);
        assert_int_equal(cJSON_GetArraySize(page.resources), 0);
        cJSON_Delete(page.resources);

        /* By cursor, changing resources during the walk: a changed one is not seen again, a
         * created one is seen at the end, a deleted one not yet reached is not seen. */
        ProvScimError err = {};
        bool changed;
        int64_t cursor = 0;
        int pages = 0, total_seen = 0;
        for (;;) {
                HubQuery q = { .cursor = true, .after_cursor = cursor, .count = 100 };
                list(f, PROV_HUB_USER, NULL, &q, &page);
                for (int i = 0; i < cJSON_GetArraySize(page.resources); i++) {
                        const char *id = cJSON_GetStringValue(
                                cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, i), "id"));
                        int k;
                        for (k = 0; k <= N_USERS; k++)
                                if (ids[k] && streq(ids[k], id))
                                        break;
                        assert_true(k <= N_USERS);
                        assert_false(seen[k]);
                        seen[k] = true;
                        total_seen++;
                }
                cJSON_Delete(page.resources);
                pages++;
                if (pages == 1) {
                        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, ids[3], NULL, fn_deactivate,
                                                          NULL, &who, &how, NULL, &changed, &err),
                                         0);
                        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, ids[200], NULL, &who, &err),
                                         0);
                        ids[N_USERS] = create_user(f, "late", NULL);
                }
                if (page.next_cursor == 0)
                        break;
                _cleanup_free_ char *text = hub_cursor_format(page.next_cursor);
                assert_int_equal(hub_cursor_parse(text, &cursor), 0);
                assert_int_equal(cursor, page.next_cursor);
        }
        assert_int_equal(pages, 3);
        assert_int_equal(total_seen, N_USERS);
        assert_false(seen[200]);
        assert_true(seen[N_USERS]);

        /* Filters an index serves, userName case-insensitively. */
        HubQuery q = { .start_index = 1, .count = 100 };
        assert_int_equal(list(f, PROV_HUB_USER, "userName eq \"user0042\"", &q, &page), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[42]);
        cJSON_Delete(page.resources);
        assert_int_equal(list(f, PROV_HUB_USER, "externalId eq \"ext7\"", &q, &page), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[7]);
        cJSON_Delete(page.resources);
        char text[128];
        snprintf(text, sizeof(text), "id eq \"%s\"", ids[9]);
        assert_int_equal(list(f, PROV_HUB_USER, text, &q, &page), 1);
        cJSON_Delete(page.resources);
        assert_int_equal(list(f, PROV_HUB_USER, "userName eq \"nobody\"", &q, &page), 0);
        assert_int_equal(cJSON_GetArraySize(page.resources), 0);
        cJSON_Delete(page.resources);

        /* A filter no index serves: a scan, paged. */
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, ids[100], NULL, fn_deactivate, NULL, &who,
                                          &how, NULL, &changed, &err),
                         0);
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, ids[150], NULL, fn_deactivate, NULL, &who,
                                          &how, NULL, &changed, &err),
                         0);
        HubQuery q2 = { .start_index = 2, .count = 1 };
        assert_int_equal(list(f, PROV_HUB_USER, "active eq false", &q2, &page), 3);
        assert_int_equal(cJSON_GetArraySize(page.resources), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[100]);
        cJSON_Delete(page.resources);
        /* One side served by an index, the rest matched on its rows. */
        assert_int_equal(list(f, PROV_HUB_USER, "userName eq \"USER0100\" and active eq false", &q, &page),
                         1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[100]);
        cJSON_Delete(page.resources);
        assert_int_equal(list(f, PROV_HUB_USER, "active eq false and userName eq \"user0101\"", &q, &page),
                         0);
        cJSON_Delete(page.resources);
        HubQuery q3 = { .cursor = true, .count = 2 };
        assert_int_equal(list(f, PROV_HUB_USER, "active eq false", &q3, &page), 3);
        assert_int_equal(cJSON_GetArraySize(page.resources), 2);
        assert_true(page.next_cursor > 0);
        q3.after_cursor = page.next_cursor;
        cJSON_Delete(page.resources);
        assert_int_equal(list(f, PROV_HUB_USER, "active eq false", &q3, &page), 3);
        assert_int_equal(cJSON_GetArraySize(page.resources), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[150]);
        assert_int_equal(page.next_cursor, 0);
        cJSON_Delete(page.resources);

        assert_gap_free(f);
        for (int i = 0; i <= N_USERS; i++)
                free(ids[i]);
}

static void test_modified_since(void **state) {
        Fixture *f = *state;
        char *ids[10];
        char shown[64], text[128];
        cJSON *out = NULL;
        HubPage page = {};
        ProvScimError err = {};
        bool changed;

        for (int i = 0; i < 10; i++) {
                char name[16];
                snprintf(name, sizeof(name), "u%d", i);
                ids[i] = create_user(f, name, NULL);
        }
        /* What a host saw last: user 6's lastModified. */
        assert_int_equal(hub_store_get(f->s, PROV_HUB_USER, ids[6], &how, &out), 0);
        snprintf(shown, sizeof(shown), "%s", meta_str(out, "lastModified"));
        cJSON_Delete(out);
        assert_int_equal(hub_store_modify(f->s, PROV_HUB_USER, ids[2], NULL, fn_deactivate, NULL, &who, &how,
                                          NULL, &changed, &err),
                         0);

        HubQuery q = { .start_index = 1, .count = 100 };
        snprintf(text, sizeof(text), "meta.lastModified gt \"%s\"", shown);
        assert_int_equal(list(f, PROV_HUB_USER, text, &q, &page), 4);
        const char *expect[] = { ids[2], ids[7], ids[8], ids[9] }; /* in creation order */
        for (int i = 0; i < 4; i++)
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
                                            cJSON_GetArrayItem(page.resources, i), "id")),
                                    expect[i]);
        cJSON_Delete(page.resources);

        snprintf(text, sizeof(text), "meta.lastModified ge \"%s\"", shown);
        assert_int_equal(list(f, PROV_HUB_USER, text, &q, &page), 5);
        cJSON_Delete(page.resources);

        /* Groups have their own. */
        assert_int_equal(list(f, PROV_HUB_GROUP, text, &q, &page), 0);
        cJSON_Delete(page.resources);

        for (int i = 0; i < 10; i++)
                free(ids[i]);
}

/* A walk by startIndex continues where the last page ended only while nothing changed: after a
 * delete, index n is again the n-th resource. */
static void test_index_walk(void **state) {
        Fixture *f = *state;
        char *ids[30];
        HubPage page = {};
        ProvScimError err = {};

        for (int i = 0; i < 30; i++) {
                char name[16];
                snprintf(name, sizeof(name), "w%02d", i);
                ids[i] = create_user(f, name, NULL);
        }
        HubQuery q = { .start_index = 1, .count = 10 };
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 30);
        cJSON_Delete(page.resources);
        q.start_index = 11;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 30);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[10]);
        cJSON_Delete(page.resources);
        /* Asking for the same page again, and out of order, gives the same answers. */
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 30);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[10]);
        cJSON_Delete(page.resources);
        q.start_index = 5;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 30);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[4]);
        cJSON_Delete(page.resources);

        q.start_index = 15;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 30);
        cJSON_Delete(page.resources);
        assert_int_equal(hub_store_delete(f->s, PROV_HUB_USER, ids[0], NULL, &who, &err), 0);
        q.start_index = 25;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 29);
        assert_int_equal(cJSON_GetArraySize(page.resources), 5);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")),
                ids[25]);
        cJSON_Delete(page.resources);
        q.start_index = 100;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 29);
        assert_int_equal(cJSON_GetArraySize(page.resources), 0);
        cJSON_Delete(page.resources);
        q.start_index = 100;
        assert_int_equal(list(f, PROV_HUB_USER, NULL, &q, &page), 29);
        assert_int_equal(cJSON_GetArraySize(page.resources), 0);
        cJSON_Delete(page.resources);

        for (int i = 0; i < 30; i++)
                free(ids[i]);
}

/* Groups: displayName through its index (case-insensitively), members through a scan, and a
 * list without members still filtering on them. */
static void test_group_filters(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = create_user(f, "a", NULL), *b = create_user(f, "b", NULL);
        const char *ga[] = { a }, *gb[] = { a, b };
        _cleanup_free_ char *g1 = create_group(f, "Ops", ga, 1), *g2 = create_group(f, "Dev", gb, 2);
        HubRender bare = { .base_url = BASE_URL, .with_members = false };
        HubQuery q = { .start_index = 1, .count = 10 };
        ProvScimError err = {};
        HubPage page = {};
        char text[128];

        assert_int_equal(list(f, PROV_HUB_GROUP, "displayName eq \"dev\"", &q, &page), 1);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(page.resources, 0), "id")), g2);
        cJSON_Delete(page.resources);
        assert_int_equal(list(f, PROV_HUB_GROUP, "userName eq \"a\"", &q, &page), 0);
        cJSON_Delete(page.resources);

        _cleanup_(prov_filter_freep) ProvFilter *p = NULL;
        snprintf(text, sizeof(text), "members[value eq \"%s\"]", b);
        assert_int_equal(prov_filter_parse(text, &p, &err), 0);
        q.filter = p;
        assert_int_equal(hub_store_list(f->s, PROV_HUB_GROUP, &q, &bare, &page, &err), 0);
        assert_int_equal(page.total, 1);
        const cJSON *g = cJSON_GetArrayItem(page.resources, 0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(g, "id")), g2);
        assert_null(cJSON_GetObjectItem(g, "members"));
        cJSON_Delete(page.resources);
        (void)g1;
}

static void test_cursor_text(void **state) {
        int64_t v;
        (void)state;

        assert_int_equal(hub_cursor_parse("42", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(hub_cursor_parse("", &v), -EINVAL);
        assert_int_equal(hub_cursor_parse("0", &v), -EINVAL);
        assert_int_equal(hub_cursor_parse("042", &v), -EINVAL);
        assert_int_equal(hub_cursor_parse("-1", &v), -EINVAL);
        assert_int_equal(hub_cursor_parse("1x", &v), -EINVAL);
        assert_int_equal(hub_cursor_parse("1234567890123456789", &v), -EINVAL);
        _cleanup_free_ char *s = hub_cursor_format(123);
        assert_string_equal(s, "123");
        assert_null(hub_cursor_format(0));
        assert_string_equal(hub_kind_to_string(PROV_HUB_GROUP), "Group");
        assert_string_equal(hub_kind_endpoint(PROV_HUB_USER), "Users");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unique, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_deletion, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deleted_after_deactivation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_members, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modified_since, setup, teardown),
                cmocka_unit_test_setup_teardown(test_big_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_index_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_filters, setup, teardown),
                cmocka_unit_test(test_cursor_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
