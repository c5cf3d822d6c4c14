/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub's store (see hub-store.h) on one database interface (hub-store-db.h): SQLite through
 * the shared core (common/prov-sql.h), or PostgreSQL (hub-store-pg.c), with the schema and the
 * few statements whose dialects differ given per backend in hub-store-schema.c.
 *
 * A resource is one row: the columns the store searches and pages by (ref, id, userName or
 * displayName, externalId, modification time) beside the resource as stored (`json`: the
 * normalised resource without id, meta, members and the derived groups). Rendering adds id, meta,
 * members and groups back. Members are rows of their own (group_ref, user_ref).
 *
 * Every change runs in one transaction (SQLite: BEGIN IMMEDIATE, committed with synchronous=FULL;
 * PostgreSQL: under the writers' advisory lock, write_begin()), which also appends to `changes`
 * (seq = head + 1, so the sequence is gap-free and in commit order) and to `audit`. Lists page by ref, a number that never changes and is never reused (AUTOINCREMENT),
 * so that a walk by cursor neither loses nor repeats a resource. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hub-store-internal.h"
#include "hub-util.h"
#include "hub-store-db.h"

/* The page cache of the hub's connection: the indexes of 100k users fit, the JSON streams. */
#define HUB_STORE_CACHE_KIB 8192

void hub_store_row_done(Row *r) {
        free(r->id);
        free(r->json);
        free(r->locked_by);
        *r = (Row) {};
}

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static const char *const kind_names[] = { [PROV_HUB_USER] = "User", [PROV_HUB_GROUP] = "Group" };
static const char *const kind_endpoints[] = { [PROV_HUB_USER] = "Users", [PROV_HUB_GROUP] = "Groups" };
static const char *const kind_schemas[] = {
        [PROV_HUB_USER] = "urn:ietf:params:scim:schemas:core:2.0:User",
        [PROV_HUB_GROUP] = "urn:ietf:params:scim:schemas:core:2.0:Group",
};

const char *hub_kind_to_string(ProvHubKind kind) {
        return (unsigned) kind < ELEMENTSOF(kind_names) ? kind_names[kind] : NULL;
}

const char *hub_kind_endpoint(ProvHubKind kind) {
        return (unsigned) kind < ELEMENTSOF(kind_endpoints) ? kind_endpoints[kind] : NULL;
}

bool hub_store_kind_valid(ProvHubKind kind) {
        return kind == PROV_HUB_USER || kind == PROV_HUB_GROUP;
}

/* ---- opening ---- */

/* Creates the missing directories above path, 0700 (the store holds who may log in where). */
static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;

        for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return negative_errno();
                *slash = '/';
        }
        return 0;
}

/* A kept statement with ?1 bound to arg. */
static int stmt_int(HubStore *s, unsigned id, int64_t arg, HubStmt **ret) {
        int r;

        r = hub_db_stmt(s->db, id, ret);
        if (r < 0)
                return r;
        return hub_db_bind_int64(*ret, 1, arg);
}

/* The one number a statement answers (0 for no row), with ?1 bound to arg when bind is true. */
static int store_get_int_full(HubStore *s, unsigned id, bool bind, int64_t arg, int64_t *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = bind ? stmt_int(s, id, arg, &st) : hub_db_stmt(s->db, id, &st);
        if (r < 0)
                return r;
        r = hub_db_step(st);
        if (r < 0)
                return r;
        *ret = r > 0 ? hub_db_column_int64(st, 0) : 0;
        return 0;
}

static int store_get_int_bound(HubStore *s, unsigned id, int64_t arg, int64_t *ret) {
        return store_get_int_full(s, id, true, arg, ret);
}

int hub_store_get_int(HubStore *s, unsigned id, int64_t *ret) {
        return store_get_int_full(s, id, false, 0, ret);
}

int hub_store_open_spec(const HubStoreSpec *spec, bool readonly, HubStore **ret, char **ret_error) {
        _cleanup_(hub_store_closep) HubStore *s = NULL;
        int r;

        if (!spec || !ret)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->type = spec->type;
        if ((spec->path && !(s->path = strdup(spec->path))) ||
            (spec->conninfo && !(s->conninfo = strdup(spec->conninfo))) ||
            (spec->password_file && !(s->password_file = strdup(spec->password_file))))
                return -ENOMEM;
        switch (spec->type) {
        case HUB_STORE_SQLITE:
                if (!spec->path)
                        return -EINVAL;
                if (!readonly) {
                        r = mkdir_parents(spec->path);
                        if (r < 0)
                                return r;
                }
                r = hub_db_open_sqlite(spec->path, &hub_store_sqlite_schema, HUB_STORE_VERSION, readonly, HUB_STORE_CACHE_KIB,
                                       &s->db);
                break;
        case HUB_STORE_POSTGRESQL:
                if (!spec->conninfo)
                        return -EINVAL;
                r = hub_db_open_pg(spec->conninfo, spec->password_file, &hub_store_pg_schema, HUB_STORE_VERSION, readonly,
                                   &s->db, ret_error);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        r = hub_store_get_int(s, STMT_LAST_MODIFIED, &s->last_usec);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int hub_store_reopen(HubStore *s, bool readonly, HubStore **ret) {
        if (!s)
                return -EINVAL;
        return hub_store_open_spec(&(const HubStoreSpec) { .type = s->type, .path = s->path, .conninfo = s->conninfo,
                                                           .password_file = s->password_file },
                                   readonly, ret, NULL);
}

int hub_store_open_full(const char *path, bool readonly, HubStore **ret) {
        return hub_store_open_spec(&(const HubStoreSpec) { .type = HUB_STORE_SQLITE, .path = path }, readonly, ret,
                                   NULL);
}

int hub_store_open(const char *path, HubStore **ret) {
        return hub_store_open_full(path, false, ret);
}

HubStore *hub_store_close(HubStore *s) {
        if (!s)
                return NULL;
        hub_store_view_end(s);
        hub_db_close(s->view_db);
        hub_db_close(s->db);
        free(s->path);
        free(s->conninfo);
        free(s->password_file);
        free(s);
        return NULL;
}

HubDb *hub_store_db(HubStore *s) {
        return s ? s->db : NULL;
}


const char *hub_store_errmsg(HubStore *s) {
        return s ? hub_db_errmsg(s->db) : NULL;
}

bool hub_store_durable(HubStore *s) {
        return s && hub_db_durable(s->db);
}

int hub_store_watch_fd(HubStore *s) {
        return s ? hub_db_watch_fd(s->db) : -1;
}

int hub_store_watch(HubStore *s) {
        return s ? hub_db_watch(s->db) : 0;
}

int hub_store_head(HubStore *s, int64_t *ret) {
        if (!s || !ret)
                return -EINVAL;
        return hub_store_get_int(s, STMT_HEAD, ret);
}

int hub_store_changes(HubStore *s, int64_t since, HubChangeFn fn, void *userdata) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        if (!s || since < 0 || !fn)
                return -EINVAL;
        r = stmt_int(s, STMT_CHANGES_SINCE, since, &st);
        if (r < 0)
                return r;
        while ((r = hub_db_step(st)) > 0) {
                const char *kind = hub_db_column_text(st, 1);
                const char *id = hub_db_column_text(st, 2);

                if (!kind || !id)
                        return hub_db_failf(s->db, -EBADMSG, "a change without kind or id");
                r = fn(hub_db_column_int64(st, 0),
                       streq(kind, hub_kind_to_string(PROV_HUB_GROUP)) ? PROV_HUB_GROUP : PROV_HUB_USER, id, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

int hub_store_oldest(HubStore *s, int64_t *ret) {
        if (!s || !ret)
                return -EINVAL;
        return hub_store_get_int(s, STMT_OLDEST, ret);
}

int hub_store_prune(HubStore *s, int64_t changes_before_usec, int64_t audit_before_usec, int64_t *ret_changes,
                    int64_t *ret_audit) {
        _cleanup_db_tx_ HubDbTx tx = {};
        const struct {
                unsigned stmt;
                int64_t before;
                int64_t *ret;
        } what[] = {
                { STMT_PRUNE_CHANGES, changes_before_usec, ret_changes },
                { STMT_PRUNE_AUDIT, audit_before_usec, ret_audit },
        };
        int r;

        if (!s)
                return -EINVAL;
        r = hub_db_begin(s->db, &tx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(what); i++) {
                _cleanup_db_reset_ HubStmt *st = NULL;

                *what[i].ret = 0;
                if (what[i].before <= 0)
                        continue;
                r = stmt_int(s, what[i].stmt, what[i].before, &st);
                if (r < 0)
                        return r;
                r = hub_db_run(st);
                if (r < 0)
                        return r;
                *what[i].ret = hub_db_changes(s->db);
        }
        return hub_db_commit(&tx);
}

int hub_store_view_begin(HubStore *s) {
        HubDb *view = NULL;
        int r;

        if (!s || s->main_db)
                return -EBUSY;
        if (!hub_db_is_pg(s->db))
                return 0; /* this process is the only writer */
        if (!s->view_db) {
                r = hub_db_open_pg(s->conninfo, s->password_file, &hub_store_pg_schema, HUB_STORE_VERSION, true, &view, NULL);
                if (r < 0)
                        return hub_db_failf(s->db, r, "%s", view ? hub_db_errmsg(view) : "PostgreSQL: no connection for reads");
                s->view_db = view;
        }
        r = hub_db_read_begin(s->view_db);
        if (r < 0) {
                (void) hub_db_failf(s->db, r, "%s", hub_db_errmsg(s->view_db) ?: "");
                return r;
        }
        s->main_db = s->db;
        s->db = s->view_db;
        return 0;
}

void hub_store_view_end(HubStore *s) {
        if (!s || !s->main_db)
                return;
        hub_db_read_end(s->view_db);
        s->db = TAKE_PTR(s->main_db);
}

int hub_store_read_begin(HubStore *s) {
        if (!s || s->in_batch || hub_db_in_transaction(s->db))
                return -EBUSY;
        return hub_db_read_begin(s->db);
}

void hub_store_read_end(HubStore *s) {
        if (s && !s->in_batch && hub_db_in_transaction(s->db))
                hub_db_read_end(s->db);
}

int hub_store_batch_begin(HubStore *s) {
        int r;

        assert(s);
        assert(!s->in_batch);
        r = hub_db_transaction_begin(s->db);
        if (r < 0)
                return r;
        s->in_batch = true;
        s->batch_usec = 0;
        return 0;
}

bool hub_store_batch_open(HubStore *s) {
        return s && s->in_batch;
}

bool hub_store_batch_lost(HubStore *s) {
        return s && s->in_batch && !hub_db_in_transaction(s->db);
}

int hub_store_batch_commit(HubStore *s) {
        int r;

        assert(s);
        if (!s->in_batch)
                return 0;
        s->in_batch = false;
        if (!hub_db_in_transaction(s->db))
                return -EIO; /* an I/O error or a full disk rolled it back already */
        r = hub_db_transaction_commit(s->db);
        if (r < 0) {
                char saved[256];

                /* The rollback's message must not replace the commit's. */
                snprintf(saved, sizeof(saved), "%s", hub_db_errmsg(s->db) ?: "");
                (void) hub_db_transaction_rollback(s->db);
                (void) hub_db_failf(s->db, r, "%s", saved);
        }
        return r;
}

/* The next modification time (see HubStore.last_usec and batch_usec). */
static int64_t store_stamp(HubStore *s) {
        int64_t now;

        if (s->in_batch && s->batch_usec > 0)
                return s->batch_usec;
        now = hub_now_usec();
        if (now <= s->last_usec)
                now = s->last_usec + 1000;
        s->last_usec = now;
        if (s->in_batch)
                s->batch_usec = now;
        return now;
}

/* The start of a change of the directory: its transaction scope and the lock that orders
 * writers (hub_db_write_lock()). When the lock is taken now, another replica may have written
 * since this one last did: the times handed out continue after its. */
static int write_begin(HubStore *s, HubDbTx *tx) {
        int64_t last;
        int r;

        r = hub_db_begin(s->db, tx);
        if (r < 0)
                return r;
        r = hub_db_write_lock(s->db);
        if (r <= 0)
                return r;
        r = hub_store_get_int(s, STMT_LAST_MODIFIED, &last);
        if (r < 0)
                return r;
        if (last > s->last_usec)
                s->last_usec = last;
        if (s->in_batch && s->batch_usec > 0 && s->batch_usec <= last)
                s->batch_usec = 0;
        return 0;
}

/* ---- rows ---- */

int hub_store_row_read(HubStore *s, HubStmt *st, Row *ret) {
        Row row = {
                .ref = hub_db_column_int64(st, 0),
                .created_usec = hub_db_column_int64(st, 2),
                .modified_usec = hub_db_column_int64(st, 3),
                .version = hub_db_column_int64(st, 4),
        };
        int r;

        r = hub_db_column_strdup(st, 1, false, &row.id);
        if (r < 0)
                return r;
        row.held_id = hub_db_column_int64(st, 7); /* NULL reads 0 */
        row.ghost = hub_db_column_int64(st, 8) > 0;
        r = hub_db_column_strdup(st, 5, false, &row.json);
        if (r >= 0)
                r = hub_db_column_strdup(st, 6, true, &row.locked_by);
        if (r < 0) {
                hub_store_row_done(&row);
                return r;
        }
        *ret = row;
        return 0;
}

/* The row of the resource with this id: 1 found, 0 none. A ghost (a held deletion) is found
 * only for the fleet's view. */
static int row_by_id(HubStore *s, ProvHubKind kind, const char *id, bool fleet, Row *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db,
                        kind == PROV_HUB_GROUP ? STMT_GROUP_BY_ID : fleet ? STMT_USER_BY_ID_FLEET : STMT_USER_BY_ID,
                        &st);
        if (r < 0)
                return r;
        r = hub_db_bind_text(st, 1, id);
        if (r < 0)
                return r;
        r = hub_db_step(st);
        if (r <= 0)
                return r;
        r = hub_store_row_read(s, st, ret);
        if (r < 0)
                return r;
        return 1;
}

static int user_ref_by_id(HubStore *s, const char *id, int64_t *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, STMT_USER_REF_BY_ID, &st);
        if (r < 0)
                return r;
        r = hub_db_bind_text(st, 1, id);
        if (r < 0)
                return r;
        r = hub_db_step(st);
        if (r <= 0)
                return r;
        *ret = hub_db_column_int64(st, 0);
        return 1;
}

/* ---- rendering ---- */

static const char *etag_format(int64_t version, char buf[static 32]) {
        snprintf(buf, 32, "W/\"%" PRId64 "\"", version);
        return buf;
}

static int json_add_string(cJSON *o, const char *key, const char *value) {
        return cJSON_AddStringToObject(o, key, value) ? 0 : -ENOMEM;
}

/* base_url/Users/id, or NULL (-ENOMEM aside) when there is no base URL. */
static int ref_format(const HubRender *how, ProvHubKind kind, const char *id, char **ret) {
        if (!how || !how->base_url) {
                *ret = NULL;
                return 0;
        }
        if (asprintf(ret, "%s/%s/%s", how->base_url, hub_kind_endpoint(kind), id) < 0)
                return -ENOMEM;
        return 0;
}

/* [{value, display, $ref}] of a group's members (users) or of a user's groups. */
static int render_links(HubStore *s, unsigned stmt, ProvHubKind target, int64_t ref, const HubRender *how,
                        cJSON **ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *a = NULL;
        int r;

        r = hub_db_stmt(s->db, stmt, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, ref) < 0)
                return -EIO;
        a = cJSON_CreateArray();
        if (!a)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *url = NULL;
                const char *id, *display;
                cJSON *m;

                r = hub_db_step(st);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                id = hub_db_column_text(st, 0);
                display = hub_db_column_text(st, 1);
                if (!id)
                        return hub_db_failf(s->db, -EBADMSG, "member without id");
                m = cJSON_CreateObject();
                if (!m || !cJSON_AddItemToArray(a, m))
                        return cJSON_Delete(m), -ENOMEM;
                if (json_add_string(m, "value", id) < 0)
                        return -ENOMEM;
                if (display && json_add_string(m, "display", display) < 0)
                        return -ENOMEM;
                r = ref_format(how, target, id, &url);
                if (r < 0)
                        return r;
                if (url && json_add_string(m, "$ref", url) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* The resource of a row as clients see it: schemas, id, the stored attributes, members or
 * groups, meta. with_members false leaves a group's members out (a user's groups are always
 * there: few, and one indexed query). */
/* The resource as served; with as_stored, as the IdP last left it (what a PUT or PATCH
 * changes), else with a lock applied: a locked user is served "active": false, whatever the IdP
 * says, until it is unlocked. */
static int render_row_full(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                           bool as_stored, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *stored = NULL, *o = NULL;
        _cleanup_free_ char *location = NULL;
        char ts[HUB_TIMESTAMP_MAX], etag[32];
        cJSON *item, *meta, *schemas;
        int r;

        stored = cJSON_Parse(row->json);
        if (!stored || !cJSON_IsObject(stored))
                return hub_db_failf(s->db, -EBADMSG, "%s %s: stored JSON is not an object",
                                      hub_kind_to_string(kind), row->id);
        o = cJSON_CreateObject();
        if (!o)
                return -ENOMEM;

        schemas = cJSON_DetachItemFromObjectCaseSensitive(stored, "schemas");
        if (!schemas) {
                const char *core = kind_schemas[kind];
                schemas = cJSON_CreateStringArray(&core, 1);
                if (!schemas)
                        return -ENOMEM;
        }
        cJSON_AddItemToObject(o, "schemas", schemas);
        if (json_add_string(o, "id", row->id) < 0)
                return -ENOMEM;
        while ((item = stored->child)) {
                cJSON_DetachItemViaPointer(stored, item);
                cJSON_AddItemToObject(o, item->string, item); /* keeps its key */
        }
        /* A lock wins; a held deactivation is served as before it, until approved. */
        if (kind == PROV_HUB_USER && !as_stored && (row->locked_by || row->held_id > 0) &&
            !cJSON_ReplaceItemInObjectCaseSensitive(o, "active", row->locked_by ? cJSON_CreateFalse() : cJSON_CreateTrue()))
                return -ENOMEM;

        if (kind == PROV_HUB_GROUP ? with_members : true) {
                cJSON *links = NULL;

                if (kind == PROV_HUB_GROUP)
                        r = render_links(s, how && how->fleet ? STMT_GROUP_MEMBERS_FLEET : STMT_GROUP_MEMBERS,
                                         PROV_HUB_USER, row->ref, how, &links);
                else
                        r = render_links(s, STMT_USER_GROUPS, PROV_HUB_GROUP, row->ref, how, &links);
                if (r < 0)
                        return r;
                /* A group always shows its members (an empty array too); a user shows groups
                 * only when it is in one, as most providers do. */
                if (kind == PROV_HUB_USER && cJSON_GetArraySize(links) == 0)
                        cJSON_Delete(links);
                else
                        cJSON_AddItemToObject(o, kind == PROV_HUB_GROUP ? "members" : "groups", links);
        }

        meta = cJSON_AddObjectToObject(o, "meta");
        if (!meta)
                return -ENOMEM;
        if (json_add_string(meta, "resourceType", hub_kind_to_string(kind)) < 0 ||
            json_add_string(meta, "created", hub_format_timestamp(row->created_usec, ts)) < 0 ||
            json_add_string(meta, "lastModified", hub_format_timestamp(row->modified_usec, ts)) < 0)
                return -ENOMEM;
        r = ref_format(how, kind, row->id, &location);
        if (r < 0)
                return r;
        if (location && json_add_string(meta, "location", location) < 0)
                return -ENOMEM;
        if (json_add_string(meta, "version", etag_format(row->version, etag)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

int hub_store_render_row(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                      cJSON **ret) {
        return render_row_full(s, kind, row, how, with_members, false, ret);
}

int hub_store_get(HubStore *s, ProvHubKind kind, const char *id, const HubRender *how, cJSON **ret) {
        _cleanup_(hub_store_row_done) Row row = {};
        int r;

        if (!s || !hub_store_kind_valid(kind) || !id || !ret)
                return -EINVAL;
        r = row_by_id(s, kind, id, how && how->fleet, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return hub_store_render_row(s, kind, &row, how, how ? how->with_members : true, ret);
}

/* ---- writing ---- */

/* A sorted set of user refs: a group's members. */
typedef struct RefSet {
        int64_t *refs;
        size_t n, allocated;
} RefSet;

static void refset_done(RefSet *set) {
        free(set->refs);
        *set = (RefSet) {};
}

static int refset_add(RefSet *set, int64_t ref) {
        if (prov_grow((void **) &set->refs, &set->allocated, set->n + 1, sizeof(int64_t)) < 0)
                return -ENOMEM;
        set->refs[set->n++] = ref;
        return 0;
}

static int cmp_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Sorts and drops duplicates (a member listed twice is one member). */
static void refset_normalize(RefSet *set) {
        size_t k = 0;

        if (set->n == 0)
                return;
        qsort(set->refs, set->n, sizeof(int64_t), cmp_int64);
        for (size_t i = 1; i < set->n; i++)
                if (set->refs[i] != set->refs[k])
                        set->refs[++k] = set->refs[i];
        set->n = k + 1;
}

static bool refset_equal(const RefSet *a, const RefSet *b) {
        return a->n == b->n && (a->n == 0 || memcmp(a->refs, b->refs, a->n * sizeof(int64_t)) == 0);
}

/* The ids of a group's current members with their refs, sorted by id: a PATCH of a 50,000-member
 * group names them all again, and finding them here costs no query each. */
typedef struct IdRef {
        char *id;
        int64_t ref;
} IdRef;

typedef struct IdIndex {
        IdRef *items;
        size_t n;
} IdIndex;

static void idindex_done(IdIndex *x) {
        for (size_t i = 0; i < x->n; i++)
                free(x->items[i].id);
        free(x->items);
        *x = (IdIndex) {};
}

static int cmp_idref(const void *a, const void *b) {
        return strcmp(((const IdRef *) a)->id, ((const IdRef *) b)->id);
}

static bool idindex_find(const IdIndex *x, const char *id, int64_t *ret) {
        const IdRef key = { .id = (char *) id }, *found;

        if (!x || x->n == 0)
                return false;
        found = bsearch(&key, x->items, x->n, sizeof(IdRef), cmp_idref);
        if (!found)
                return false;
        *ret = found->ref;
        return true;
}

/* The stored members of a group, as refs (sorted) and as an id index. */
static int refset_load(HubStore *s, int64_t group_ref, RefSet *ret, IdIndex *ret_index) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(refset_done) RefSet set = {};
        _cleanup_(idindex_done) IdIndex x = {};
        size_t cap = 0;
        int r;

        r = hub_db_stmt(s->db, STMT_MEMBER_REFS, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, group_ref) < 0)
                return -EIO;
        while ((r = hub_db_step(st)) > 0) {
                int64_t ref = hub_db_column_int64(st, 0);

                if (refset_add(&set, ref) < 0)
                        return -ENOMEM;
                if (prov_grow((void **) &x.items, &cap, x.n + 1, sizeof(IdRef)) < 0)
                        return -ENOMEM;
                x.items[x.n] = (IdRef) { .ref = ref };
                r = hub_db_column_strdup(st, 1, false, &x.items[x.n].id);
                if (r < 0)
                        return r;
                x.n++;
        }
        if (r < 0)
                return r;
        if (x.n > 0)
                qsort(x.items, x.n, sizeof(IdRef), cmp_idref);
        *ret = set;
        set = (RefSet) {};
        *ret_index = x;
        x = (IdIndex) {};
        return 0;
}

/* An IdP's string for a log line: at most 64 characters, anything outside printable ASCII as
 * '?', so that a member id cannot forge log lines. */
static const char *log_safe(const char *in, char buf[static 65]) {
        size_t i;

        for (i = 0; in && in[i] && i < 64; i++)
                buf[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
        buf[i] = '\0';
        return buf;
}

/* The users a resource's members name. A member that names no user (an unknown id, a nested
 * group, which hosts do not resolve) is left out with a log line: an IdP pushes a group before
 * or after its users, and refusing the group would lose all of it. */
static int refset_from_members(HubStore *s, const cJSON *resource, const char *group, const IdIndex *known,
                               RefSet *ret) {
        _cleanup_(refset_done) RefSet set = {};
        const cJSON *members = cJSON_GetObjectItemCaseSensitive(resource, "members"), *m;
        int r;

        cJSON_ArrayForEach(m, members) {
                const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "value"));
                int64_t ref;

                if (!value) {
                        fprintf(stderr, "<4>hub store: group %.64s: a member without a value, left out\n",
                                group);
                        continue;
                }
                r = idindex_find(known, value, &ref) ? 1 : user_ref_by_id(s, value, &ref);
                if (r < 0)
                        return r;
                if (r == 0) {
                        char safe[65];

                        fprintf(stderr, "<4>hub store: group %s: member '%s' names no user, left out\n",
                                group, log_safe(value, safe));
                        continue;
                }
                if (refset_add(&set, ref) < 0)
                        return -ENOMEM;
        }
        refset_normalize(&set);
        *ret = set;
        set = (RefSet) {};
        return 0;
}

static int member_set(HubStore *s, unsigned stmt, int64_t group_ref, int64_t user_ref) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, stmt, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, group_ref) < 0 ||
            hub_db_bind_int64(st, 2, user_ref) < 0)
                return -EIO;
        return hub_db_run(st);
}

/* Writes the member rows that differ between old and new (both sorted). */
static int members_apply(HubStore *s, int64_t group_ref, const RefSet *old, const RefSet *new) {
        size_t i = 0, j = 0;
        int r;

        while (i < old->n || j < new->n) {
                if (j >= new->n || (i < old->n && old->refs[i] < new->refs[j])) {
                        r = member_set(s, STMT_MEMBER_DELETE, group_ref, old->refs[i++]);
                } else if (i >= old->n || new->refs[j] < old->refs[i]) {
                        r = member_set(s, STMT_MEMBER_INSERT, group_ref, new->refs[j++]);
                } else {
                        i++, j++;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The resource as stored: without what the store renders itself (id, meta, members, the
 * derived groups). */
static int stored_form(ProvHubKind kind, const cJSON *resource, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        const char *links = kind == PROV_HUB_GROUP ? "members" : "groups";
        const cJSON *item;

        if (!o)
                return -ENOMEM;
        /* Item by item, so that 50,000 members are not copied only to be dropped. */
        cJSON_ArrayForEach(item, resource) {
                cJSON *copy;

                if (!item->string || streq(item->string, "id") || streq(item->string, "meta") ||
                    streq(item->string, links))
                        continue;
                copy = cJSON_Duplicate(item, true);
                if (!copy)
                        return -ENOMEM;
                cJSON_AddItemToObject(o, item->string, copy);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* The searchable columns of a stored resource. */
typedef struct Columns {
        const char *name; /* userName, displayName */
        const char *external_id;
        bool active;
} Columns;

static int columns_of(ProvHubKind kind, const cJSON *stored, Columns *ret, ProvScimError *err) {
        const char *key = kind == PROV_HUB_USER ? "userName" : "displayName";
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(stored, key);
        const cJSON *external_id = cJSON_GetObjectItemCaseSensitive(stored, "externalId");
        const cJSON *active = cJSON_GetObjectItemCaseSensitive(stored, "active");

        if (!cJSON_IsString(name) || !name->valuestring[0])
                return prov_scim_error_set(err, 400, "invalidValue", "%s is required", key);
        if (external_id && !cJSON_IsString(external_id))
                return prov_scim_error_set(err, 400, "invalidValue", "externalId must be a string");
        *ret = (Columns) {
                .name = name->valuestring,
                .external_id = cJSON_GetStringValue(external_id),
                .active = !cJSON_IsFalse(active),
        };
        return 0;
}

/* 409 when another user (not exclude_ref) has this userName, case-insensitively. */
static int check_user_name(HubStore *s, const char *user_name, int64_t exclude_ref, ProvScimError *err) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, STMT_USER_NAME_TAKEN, &st);
        if (r < 0)
                return r;
        r = hub_db_bind_text(st, 1, user_name);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 2, exclude_ref) < 0)
                return -EIO;
        r = hub_db_step(st);
        if (r < 0)
                return r;
        if (r > 0)
                return prov_scim_error_set(err, 409, "uniqueness", "userName '%.64s' is taken", user_name);
        return 0;
}

static int change_append(HubStore *s, ProvHubKind kind, const char *id, const char *op, int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, STMT_CHANGE_APPEND, &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, hub_kind_to_string(kind))) < 0 ||
            (r = hub_db_bind_text(st, 2, id)) < 0 ||
            (r = hub_db_bind_text(st, 3, op)) < 0)
                return r;
        if (hub_db_bind_int64(st, 4, usec) < 0)
                return -EIO;
        return hub_db_run(st);
}

/* One audit row per request: who, what, before and after (the stored forms; a group's members
 * as the ids added and removed, not the whole list). */
static int audit_append(HubStore *s, const HubActor *who, ProvHubKind kind, const char *id,
                        const cJSON *before, const cJSON *after, int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_free_ char *b = NULL, *a = NULL;
        int r;

        if (before && !(b = cJSON_PrintUnformatted(before)))
                return -ENOMEM;
        if (after && !(a = cJSON_PrintUnformatted(after)))
                return -ENOMEM;
        r = hub_db_stmt(s->db, STMT_AUDIT_APPEND, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, usec) < 0)
                return -EIO;
        if ((r = hub_db_bind_text(st, 2, who ? who->token_name : NULL)) < 0 ||
            (r = hub_db_bind_text(st, 3, who ? who->method : NULL)) < 0 ||
            (r = hub_db_bind_text(st, 4, hub_kind_to_string(kind))) < 0 ||
            (r = hub_db_bind_text(st, 5, id)) < 0 ||
            (r = hub_db_bind_text(st, 6, b)) < 0 || (r = hub_db_bind_text(st, 7, a)) < 0)
                return r;
        return hub_db_run(st);
}

/* A change as every write records it: the next seq for the resource and one audit row. */
static int record_change(HubStore *s, const HubActor *who, ProvHubKind kind, const char *id, const char *op,
                         const cJSON *before, const cJSON *after, int64_t usec) {
        int r;

        r = change_append(s, kind, id, op, usec);
        if (r < 0)
                return r;
        return audit_append(s, who, kind, id, before, after, usec);
}

/* Adds the member ids that changed between old and new to an audit form. */
static int audit_add_member_delta(HubStore *s, cJSON *form, const RefSet *old, const RefSet *new) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        cJSON *added, *removed;
        size_t i = 0, j = 0;
        int r;

        if (refset_equal(old, new))
                return 0;
        r = hub_db_prepare(s->db, "SELECT id FROM users WHERE ref = ?1", &st);
        if (r < 0)
                return r;
        added = cJSON_AddArrayToObject(form, "membersAdded");
        removed = cJSON_AddArrayToObject(form, "membersRemoved");
        if (!added || !removed)
                return -ENOMEM;
        while (i < old->n || j < new->n) {
                cJSON *to;
                int64_t ref;

                if (j >= new->n || (i < old->n && old->refs[i] < new->refs[j]))
                        to = removed, ref = old->refs[i++];
                else if (i >= old->n || new->refs[j] < old->refs[i])
                        to = added, ref = new->refs[j++];
                else {
                        i++, j++;
                        continue;
                }
                hub_db_reset(st);
                if (hub_db_bind_int64(st, 1, ref) < 0)
                        return -EIO;
                r = hub_db_step(st);
                if (r < 0)
                        return r;
                /* A user deleted in this transaction has no id any more: its ref says who. */
                if (r > 0 ? !cJSON_AddItemToArray(
                                    to, cJSON_CreateString(hub_db_column_text(st, 0)))
                          : !cJSON_AddItemToArray(to, cJSON_CreateNumber((double) ref)))
                        return -ENOMEM;
        }
        return 0;
}

/* The columns of STMT_*_INSERT and STMT_*_UPDATE after ?1: name, externalId, (a user's active,)
 * the time and the stored JSON. */
static int row_bind(HubStore *s, HubStmt *st, ProvHubKind kind, const Columns *c, const char *json,
                    int64_t usec) {
        int r;

        if ((r = hub_db_bind_text(st, 2, c->name)) < 0 ||
            (r = hub_db_bind_text(st, 3, c->external_id)) < 0)
                return r;
        if (kind == PROV_HUB_USER) {
                if (hub_db_bind_int64(st, 4, c->active) < 0 ||
                    hub_db_bind_int64(st, 5, usec) < 0)
                        return -EIO;
                r = hub_db_bind_text(st, 6, json);
        } else {
                if (hub_db_bind_int64(st, 4, usec) < 0)
                        return -EIO;
                r = hub_db_bind_text(st, 5, json);
        }
        if (r < 0)
                return r;
        return 0;
}

static int row_insert(HubStore *s, ProvHubKind kind, const char *id, const Columns *c, const char *json,
                      int64_t usec, int64_t *ret_ref) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, kind == PROV_HUB_USER ? STMT_USER_INSERT : STMT_GROUP_INSERT, &st);
        if (r < 0)
                return r;
        r = hub_db_bind_text(st, 1, id);
        if (r < 0)
                return r;
        r = row_bind(s, st, kind, c, json, usec);
        if (r < 0)
                return r;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        r = hub_db_last_id(s->db, ret_ref);
        if (r < 0)
                return r;
        return 0;
}

static int row_update(HubStore *s, ProvHubKind kind, int64_t ref, const Columns *c, const char *json,
                      int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, kind == PROV_HUB_USER ? STMT_USER_UPDATE : STMT_GROUP_UPDATE, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, ref) < 0)
                return -EIO;
        r = row_bind(s, st, kind, c, json, usec);
        if (r < 0)
                return r;
        return hub_db_run(st);
}

/* Renders the row with this ref's id again, after a write. */
static int render_by_id(HubStore *s, ProvHubKind kind, const char *id, const HubRender *how, cJSON **ret) {
        _cleanup_(hub_store_row_done) Row row = {};
        int r;

        r = row_by_id(s, kind, id, false, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return hub_db_failf(s->db, -EIO, "%s %s vanished", hub_kind_to_string(kind), id);
        return hub_store_render_row(s, kind, &row, how, how ? how->with_members : true, ret);
}

/* The end of a create or modify inside tx: the member rows that changed (members NULL: none
 * did), the change and its audit row (audit: the stored form after, which gets the member
 * delta), the rendered resource for ret (when not NULL), and the commit. */
static int write_finish(HubStore *s, HubDbTx *tx, const HubActor *who, ProvHubKind kind, const char *id,
                        int64_t ref, const RefSet *old_members, const RefSet *members, const cJSON *before,
                        cJSON *audit, int64_t usec, const HubRender *how, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *rendered = NULL;
        int r;

        if (members) {
                r = members_apply(s, ref, old_members, members);
                if (r < 0)
                        return r;
                r = audit_add_member_delta(s, audit, old_members, members);
                if (r < 0)
                        return r;
        }
        r = record_change(s, who, kind, id, "upsert", before, audit, usec);
        if (r < 0)
                return r;
        if (ret) {
                r = render_by_id(s, kind, id, how, &rendered);
                if (r < 0)
                        return r;
        }
        r = hub_db_commit(tx);
        if (r < 0)
                return r;
        if (ret)
                *ret = TAKE_PTR(rendered);
        return 0;
}

int hub_store_create(HubStore *s, ProvHubKind kind, const cJSON *resource, const HubActor *who,
                     const HubRender *how, cJSON **ret, ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_(cJSON_Deletep) cJSON *stored = NULL, *audit = NULL;
        _cleanup_(refset_done) RefSet members = {};
        _cleanup_free_ char *json = NULL;
        char id[37];
        Columns c;
        int64_t ref = 0, usec;
        int r;

        if (!s || !hub_store_kind_valid(kind) || !cJSON_IsObject(resource))
                return -EINVAL;

        r = stored_form(kind, resource, &stored);
        if (r < 0)
                return r;
        r = columns_of(kind, stored, &c, err);
        if (r < 0)
                return r;
        json = cJSON_PrintUnformatted(stored);
        if (!json)
                return -ENOMEM;
        r = hub_uuid4(id);
        if (r < 0)
                return r;

        r = write_begin(s, &tx);
        if (r < 0)
                return r;
        if (kind == PROV_HUB_USER) {
                r = check_user_name(s, c.name, 0, err);
                if (r < 0)
                        return r;
        }
        usec = store_stamp(s);
        r = row_insert(s, kind, id, &c, json, usec, &ref);
        if (r < 0)
                return r;
        audit = cJSON_Duplicate(stored, true);
        if (!audit)
                return -ENOMEM;
        if (kind == PROV_HUB_GROUP) {
                r = refset_from_members(s, resource, id, NULL, &members);
                if (r < 0)
                        return r;
        }
        return write_finish(s, &tx, who, kind, id, ref, &(const RefSet) {}, kind == PROV_HUB_GROUP ? &members : NULL,
                            NULL, audit, usec, how, ret);
}

/* If-Match: "*", or the current ETag (weak or not: clients echo what they got, some drop W/). */
static bool if_match_ok(const char *if_match, int64_t version) {
        char etag[32];

        if (!if_match || streq(if_match, "*"))
                return true;
        etag_format(version, etag);
        return streq(if_match, etag) || streq(if_match, etag + 2);
}

/* Reads a row for a change: 404 when there is none (a ghost only for the fleet), 412 when
 * If-Match fails. */
static int row_for_change(HubStore *s, ProvHubKind kind, const char *id, const char *if_match, bool fleet, Row *ret,
                          ProvScimError *err) {
        _cleanup_(hub_store_row_done) Row row = {};
        char etag[32];
        int r;

        r = row_by_id(s, kind, id, fleet, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return prov_scim_error_set(err, 404, NULL, "%s %.64s not found", hub_kind_to_string(kind),
                                           id);
        if (!if_match_ok(if_match, row.version))
                return prov_scim_error_set(err, 412, NULL, "If-Match %.64s is not the current version %s",
                                           if_match, etag_format(row.version, etag));
        *ret = row;
        row = (Row) {};
        return 0;
}

static int stored_parse(HubStore *s, ProvHubKind kind, const Row *row, cJSON **ret) {
        cJSON *o = cJSON_Parse(row->json);
        if (!o || !cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return hub_db_failf(s->db, -EBADMSG, "%s %s: stored JSON is not an object",
                                      hub_kind_to_string(kind), row->id);
        }
        *ret = o;
        return 0;
}

void hub_store_set_guard(HubStore *s, unsigned percent, int64_t window_usec, unsigned min_users) {
        s->guard_percent = percent;
        s->guard_window_usec = window_usec;
        s->guard_min_users = min_users;
}

static bool stored_inactive(const cJSON *stored) {
        return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(stored, "active"));
}

/* Whether a user leaving now (deactivated or deleted) is held: when the users who left within
 * the window (this one included, deletions too) would be more than guard_percent of all users,
 * *ret_hold is the open hold (opened now when none is), else 0. */
static int guard_hold(HubStore *s, int64_t usec, int64_t *ret_hold) {
        int64_t left = 0, total = 0, hold = 0;
        int r;

        *ret_hold = 0;
        if (s->guard_percent == 0)
                return 0;
        r = store_get_int_bound(s, STMT_LEAVERS_SINCE, usec - s->guard_window_usec, &left);
        if (r < 0)
                return r;
        r = hub_store_get_int(s, STMT_USER_COUNT, &total);
        if (r < 0)
                return r;
        if (total < (int64_t) s->guard_min_users || (left + 1) * 100 <= (int64_t) s->guard_percent * total)
                return 0;
        r = hub_store_get_int(s, STMT_HOLD_OPEN, &hold);
        if (r < 0)
                return r;
        if (hold == 0) {
                _cleanup_db_reset_ HubStmt *ins = NULL;

                r = stmt_int(s, STMT_HOLD_NEW, usec, &ins);
                if (r < 0)
                        return r;
                r = hub_db_run(ins);
                if (r < 0)
                        return r;
                r = hub_db_last_id(s->db, &hold);
                if (r < 0)
                        return r;
        }
        *ret_hold = hold;
        return 0;
}

/* A user's change as the guard sees it: a user that becomes inactive has left now, and is held
 * when guard_hold() says so; one that becomes active again is neither. */
static int guard_user(HubStore *s, const Row *row, const cJSON *old, const cJSON *new, int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int64_t hold = 0;
        int r;

        if (stored_inactive(old) == stored_inactive(new))
                return 0;
        if (stored_inactive(new)) {
                r = guard_hold(s, usec, &hold);
                if (r < 0)
                        return r;
        }
        r = hub_db_stmt(s->db, STMT_USER_LEFT, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, row->ref) < 0 ||
            (stored_inactive(new) ? hub_db_bind_int64(st, 2, usec) : hub_db_bind_null(st, 2)) < 0 ||
            (hold > 0 ? hub_db_bind_int64(st, 3, hold) : hub_db_bind_null(st, 3)) < 0)
                return -EIO;
        return hub_db_run(st);
}

/* The start of a change of one resource: its transaction (or savepoint), its row (404 for no such
 * id, 412 for a failed If-Match) and its stored form. */
static int change_begin(HubStore *s, HubDbTx *tx, ProvHubKind kind, const char *id, const char *if_match, Row *row,
                        cJSON **ret_old, ProvScimError *err) {
        int r;

        r = write_begin(s, tx);
        if (r < 0)
                return r;
        r = row_for_change(s, kind, id, if_match, false, row, err);
        if (r < 0)
                return r;
        return stored_parse(s, kind, row, ret_old);
}

int hub_store_modify(HubStore *s, ProvHubKind kind, const char *id, const char *if_match, HubModifyFn fn,
                     void *userdata, const HubActor *who, const HubRender *how, cJSON **ret,
                     bool *ret_changed, ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_(hub_store_row_done) Row row = {};
        _cleanup_(cJSON_Deletep) cJSON *cur = NULL, *old = NULL, *new = NULL, *rendered = NULL,
                                       *audit = NULL;
        _cleanup_(refset_done) RefSet old_members = {}, new_members = {};
        _cleanup_(idindex_done) IdIndex known = {};
        _cleanup_free_ char *json = NULL;
        bool json_changed, members_changed = false;
        Columns c;
        int64_t usec;
        int r;

        if (!s || !hub_store_kind_valid(kind) || !id || !fn)
                return -EINVAL;

        r = change_begin(s, &tx, kind, id, if_match, &row, &old, err);
        if (r < 0)
                return r;
        r = render_row_full(s, kind, &row, how, true, true, &cur);
        if (r < 0)
                return r;
        r = fn(cur, userdata, err);
        if (r < 0)
                return r;

        r = stored_form(kind, cur, &new);
        if (r < 0)
                return r;
        r = columns_of(kind, new, &c, err);
        if (r < 0)
                return r;
        json_changed = !cJSON_Compare(old, new, true);
        if (kind == PROV_HUB_GROUP) {
                r = refset_load(s, row.ref, &old_members, &known);
                if (r < 0)
                        return r;
                r = refset_from_members(s, cur, id, &known, &new_members);
                if (r < 0)
                        return r;
                members_changed = !refset_equal(&old_members, &new_members);
        }

        if (!json_changed && !members_changed) {
                /* A re-sent PATCH: nothing written, the transaction only read. */
                if (ret) {
                        r = hub_store_render_row(s, kind, &row, how, how ? how->with_members : true, &rendered);
                        if (r < 0)
                                return r;
                }
                hub_db_abort(&tx);
                if (ret)
                        *ret = TAKE_PTR(rendered);
                if (ret_changed)
                        *ret_changed = false;
                return 0;
        }

        if (kind == PROV_HUB_USER) {
                r = check_user_name(s, c.name, row.ref, err);
                if (r < 0)
                        return r;
        }
        json = cJSON_PrintUnformatted(new);
        if (!json)
                return -ENOMEM;
        usec = store_stamp(s);
        r = row_update(s, kind, row.ref, &c, json, usec);
        if (r < 0)
                return r;
        if (kind == PROV_HUB_USER) {
                r = guard_user(s, &row, old, new, usec);
                if (r < 0)
                        return r;
        }
        audit = cJSON_Duplicate(new, true);
        if (!audit)
                return -ENOMEM;
        r = write_finish(s, &tx, who, kind, id, row.ref, &old_members, members_changed ? &new_members : NULL, old, audit,
                         usec, how, ret);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = true;
        return 0;
}

/* A group the deleted user was in. */
typedef struct GroupRef {
        int64_t ref;
        char *id;
} GroupRef;

/* A deleted user leaves its groups: each loses the member row and gets a new version and a
 * seq, so that hosts following the feed see the group without it. The ids go to audit. */
static int user_leave_groups(HubStore *s, int64_t user_ref, int64_t usec, cJSON *audit) {
        _cleanup_free_ GroupRef *groups = NULL;
        size_t n = 0, allocated = 0;
        cJSON *left;
        int r = 0;

        {
                _cleanup_db_reset_ HubStmt *st = NULL;

                r = hub_db_stmt(s->db, STMT_USER_GROUP_REFS, &st);
                if (r < 0)
                        return r;
                if (hub_db_bind_int64(st, 1, user_ref) < 0)
                        return -EIO;
                while ((r = hub_db_step(st)) > 0) {
                        if (prov_grow((void **) &groups, &allocated, n + 1, sizeof(GroupRef)) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        groups[n] = (GroupRef) { .ref = hub_db_column_int64(st, 0) };
                        r = hub_db_column_strdup(st, 1, false, &groups[n].id);
                        if (r < 0)
                                break;
                        n++;
                }
        }
        if (r < 0)
                goto finish;

        left = n > 0 ? cJSON_AddArrayToObject(audit, "groupsLeft") : NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_db_reset_ HubStmt *st = NULL;

                r = member_set(s, STMT_MEMBER_DELETE, groups[i].ref, user_ref);
                if (r < 0)
                        goto finish;
                r = hub_db_stmt(s->db, STMT_GROUP_TOUCH, &st);
                if (r < 0)
                        goto finish;
                if (hub_db_bind_int64(st, 1, groups[i].ref) < 0 ||
                    hub_db_bind_int64(st, 2, usec) < 0) {
                        r = -EIO;
                        goto finish;
                }
                r = hub_db_run(st);
                if (r < 0)
                        goto finish;
                r = change_append(s, PROV_HUB_GROUP, groups[i].id, "upsert", usec);
                if (r < 0)
                        goto finish;
                if (!left || !cJSON_AddItemToArray(left, cJSON_CreateString(groups[i].id))) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        r = 0;
finish:
        for (size_t i = 0; i < n; i++)
                free(groups[i].id);
        return r;
}

/* A held deletion: the user's row stays as a ghost (SCIM: gone, its userName free; the fleet:
 * the user as it was, in its groups) until the hold is approved (hub_store_hold_approve()). The
 * change it records serves the fleet the user unchanged; the audit row says it was held. */
static int user_ghost(HubStore *s, const HubActor *who, const Row *row, const cJSON *old, int64_t hold,
                      int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *after = NULL;
        int r;

        r = hub_db_stmt(s->db, STMT_USER_GHOST, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, row->ref) < 0 || hub_db_bind_int64(st, 2, usec) < 0 ||
            hub_db_bind_int64(st, 3, hold) < 0)
                return -EIO;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        after = cJSON_CreateObject();
        if (!after || !cJSON_AddBoolToObject(after, "deleted", true) || !cJSON_AddNumberToObject(after, "held", (double) hold))
                return -ENOMEM;
        return record_change(s, who, PROV_HUB_USER, row->id, "upsert", old, after, usec);
}

/* An approved held deletion: the ghost leaves its groups and goes, each a change of its own. A
 * live user the IdP made meanwhile with the ghost's userName is recorded again after the
 * deletion: hosts refused it while the ghost held the name, and would not hear of it again
 * until the IdP changes it. */
static int ghost_delete(HubStore *s, const HubActor *who, int64_t ref, const char *id, const char *user_name,
                        const cJSON *before, int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL, *taken = NULL;
        _cleanup_free_ char *heir = NULL;
        _cleanup_(cJSON_Deletep) cJSON *after = NULL;
        int r;

        after = cJSON_CreateObject();
        if (!after || !cJSON_AddBoolToObject(after, "held", false) || !cJSON_AddBoolToObject(after, "deleted", true))
                return -ENOMEM;
        r = user_leave_groups(s, ref, usec, after);
        if (r < 0)
                return r;
        r = hub_db_stmt(s->db, STMT_USER_NAME_TAKEN, &taken);
        if (r < 0)
                return r;
        r = hub_db_bind_text(taken, 1, user_name);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(taken, 2, ref) < 0)
                return -EIO;
        r = hub_db_step(taken);
        if (r < 0)
                return r;
        if (r > 0) {
                r = hub_db_column_strdup(taken, 0, false, &heir);
                if (r < 0)
                        return r;
        }
        r = stmt_int(s, STMT_USER_DELETE, ref, &st);
        if (r < 0)
                return r;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        r = record_change(s, who, PROV_HUB_USER, id, "delete", before, after, usec);
        if (r < 0 || !heir)
                return r;
        return change_append(s, PROV_HUB_USER, heir, "upsert", usec);
}

int hub_store_delete(HubStore *s, ProvHubKind kind, const char *id, const char *if_match,
                     const HubActor *who, ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(hub_store_row_done) Row row = {};
        _cleanup_(cJSON_Deletep) cJSON *old = NULL;
        int64_t usec;
        int r;

        if (!s || !hub_store_kind_valid(kind) || !id)
                return -EINVAL;

        r = change_begin(s, &tx, kind, id, if_match, &row, &old, err);
        if (r < 0)
                return r;
        usec = store_stamp(s);
        if (kind == PROV_HUB_USER) {
                /* A user whose deactivation is held, or whose deletion the guard holds, becomes
                 * a ghost in that hold. */
                int64_t hold = row.held_id;

                /* A user whose deactivation the fleet already has goes at once: as a ghost it
                 * would be served active again (only a held deactivation is). */
                if (hold == 0 && !stored_inactive(old)) {
                        r = guard_hold(s, usec, &hold);
                        if (r < 0)
                                return r;
                }
                if (hold > 0) {
                        r = user_ghost(s, who, &row, old, hold, usec);
                        if (r < 0)
                                return r;
                        return hub_db_commit(&tx);
                }
                r = user_leave_groups(s, row.ref, usec, old);
                if (r < 0)
                        return r;
        }
        /* A group's member rows go with it (ON DELETE CASCADE). */
        r = hub_db_stmt(s->db, kind == PROV_HUB_USER ? STMT_USER_DELETE : STMT_GROUP_DELETE, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, row.ref) < 0)
                return -EIO;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        r = record_change(s, who, kind, id, "delete", old, NULL, usec);
        if (r < 0)
                return r;
        return hub_db_commit(&tx);
}

int hub_store_holds(HubStore *s, cJSON **ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        cJSON *users;
        int64_t hold;
        int r;

        r = hub_store_get_int(s, STMT_HOLD_OPEN, &hold);
        if (r < 0)
                return r;
        o = cJSON_CreateObject();
        if (!o || !(users = cJSON_AddArrayToObject(o, "users")))
                return -ENOMEM;
        if (hold > 0 && !cJSON_AddNumberToObject(o, "hold", (double) hold))
                return -ENOMEM;
        r = stmt_int(s, STMT_HELD_USERS, hold, &st);
        if (r < 0)
                return r;
        while ((r = hub_db_step(st)) > 0) {
                cJSON *u = cJSON_CreateObject();

                if (!u || !cJSON_AddItemToArray(users, u) ||
                    !cJSON_AddStringToObject(u, "id", hub_db_column_text(st, 1)) ||
                    !cJSON_AddStringToObject(u, "userName", hub_db_column_text(st, 2)) ||
                    !cJSON_AddStringToObject(u, "kind", hub_db_column_int64(st, 3) > 0 ? "deletion" : "deactivation"))
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int hub_store_hold_approve(HubStore *s, int64_t hold, const HubActor *who, int64_t *ret_released,
                           ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *before = NULL, *after = NULL;
        int64_t open_hold, n = 0;
        int r;

        r = write_begin(s, &tx);
        if (r < 0)
                return r;
        r = hub_store_get_int(s, STMT_HOLD_OPEN, &open_hold);
        if (r < 0)
                return r;
        if (open_hold == 0 || (hold > 0 && hold != open_hold))
                return prov_scim_error_set(err, 404, NULL, "No such open hold.");
        before = cJSON_CreateObject();
        after = cJSON_CreateObject();
        if (!before || !after || !cJSON_AddBoolToObject(before, "held", true) || !cJSON_AddBoolToObject(after, "held", false))
                return -ENOMEM;

        r = stmt_int(s, STMT_HELD_USERS, open_hold, &st);
        if (r < 0)
                return r;
        /* One held user at a time, the walk started again after each update: SQLite does not
         * say whether a row changed under a running walk is visited again or skipped. */
        while ((r = hub_db_step(st)) > 0) {
                _cleanup_db_reset_ HubStmt *up = NULL;
                _cleanup_free_ char *id = NULL, *user_name = NULL;
                int64_t usec = store_stamp(s), ref = hub_db_column_int64(st, 0);
                bool ghost = hub_db_column_int64(st, 3) > 0;

                r = hub_db_column_strdup(st, 1, false, &id);
                if (r < 0)
                        return r;
                r = hub_db_column_strdup(st, 2, false, &user_name);
                if (r < 0)
                        return r;
                /* A reset clears the bindings of a cached statement: the walk needs its hold. */
                hub_db_reset(st);
                if (hub_db_bind_int64(st, 1, open_hold) < 0)
                        return -EIO;
                if (ghost) {
                        r = ghost_delete(s, who, ref, id, user_name, before, usec);
                        if (r < 0)
                                return r;
                        n++;
                        continue;
                }
                r = hub_db_stmt(s->db, STMT_USER_RELEASE, &up);
                if (r < 0)
                        return r;
                if (hub_db_bind_int64(up, 1, ref) < 0 ||
                    hub_db_bind_int64(up, 2, usec) < 0)
                        return -EIO;
                r = hub_db_run(up);
                if (r < 0)
                        return r;
                r = record_change(s, who, PROV_HUB_USER, id, "upsert", before, after, usec);
                if (r < 0)
                        return r;
                n++;
        }
        if (r < 0)
                return r;
        hub_db_reset(st);
        {
                _cleanup_db_reset_ HubStmt *ap = NULL;

                r = hub_db_stmt(s->db, STMT_HOLD_APPROVE, &ap);
                if (r < 0)
                        return r;
                if (hub_db_bind_int64(ap, 1, open_hold) < 0 || hub_db_bind_int64(ap, 2, hub_now_usec()) < 0 ||
                    (r = hub_db_bind_text(ap, 3, who->token_name)) < 0)
                        return r < 0 ? r : -EIO;
                r = hub_db_run(ap);
                if (r < 0)
                        return r;
        }
        r = hub_db_commit(&tx);
        if (r < 0)
                return r;
        *ret_released = n;
        return 0;
}

int hub_store_lock(HubStore *s, const char *id, bool lock, const HubActor *who, bool *ret_changed,
                   ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *before = NULL, *after = NULL;
        _cleanup_(hub_store_row_done) Row row = {};
        int64_t usec;
        int r;

        if (!s || !id || !who || !ret_changed)
                return -EINVAL;
        *ret_changed = false;
        r = write_begin(s, &tx);
        if (r < 0)
                return r;
        /* A ghost too: a lock is never held, and the fleet still has the user. */
        r = row_for_change(s, PROV_HUB_USER, id, NULL, true, &row, err);
        if (r < 0)
                return r;
        if (!!row.locked_by == lock)
                return hub_db_commit(&tx); /* already so: nothing recorded */

        usec = store_stamp(s);
        r = hub_db_stmt(s->db, STMT_USER_LOCK, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, row.ref) < 0 ||
            (r = hub_db_bind_text(st, 2, lock ? (who->token_name ?: "admin") : NULL)) < 0 ||
            hub_db_bind_int64(st, 3, usec) < 0)
                return r < 0 ? r : -EIO;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        before = cJSON_CreateObject();
        after = cJSON_CreateObject();
        if (!before || !after || !cJSON_AddBoolToObject(before, "locked", !lock) ||
            !cJSON_AddBoolToObject(after, "locked", lock))
                return -ENOMEM;
        r = record_change(s, who, PROV_HUB_USER, id, "upsert", before, after, usec);
        if (r < 0)
                return r;
        r = hub_db_commit(&tx);
        if (r < 0)
                return r;
        *ret_changed = true;
        return 0;
}
