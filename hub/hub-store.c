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
 * PostgreSQL: under the writers' advisory lock, hub_store_write_begin()), which also appends to
 * `changes` (seq = head + 1, so the sequence is gap-free and in commit order) and to `audit`.
 * Lists page by ref, a number that never changes and is never reused (AUTOINCREMENT), so that a
 * walk by cursor neither loses nor repeats a resource.
 *
 * This file: opening, transactions, batches and modification times. The rest, sharing
 * hub-store-internal.h: rows and rendering (hub-store-render.c), writes from the IdPs
 * (hub-store-write.c), memberships (hub-store-members.c), the change sequence and audit
 * (hub-store-changes.c), the guard and the lock (hub-store-guard.c), lists (hub-store-list.c),
 * the schema (hub-store-schema.c). */

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
int hub_store_stmt_int(HubStore *s, unsigned id, int64_t arg, HubStmt **ret) {
        int r;

        r = hub_db_stmt(s->db, id, ret);
        if (r < 0)
                return r;
        return hub_db_bind_int64(*ret, 1, arg);
}

/* Runs a kept statement with ?1 bound to arg. */
int hub_store_run_int(HubStore *s, unsigned id, int64_t arg) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_int(s, id, arg, &st);
        if (r < 0)
                return r;
        return hub_db_run(st);
}

/* A kept statement with ?1 bound to text. */
int hub_store_stmt_text(HubStore *s, unsigned id, const char *text, HubStmt **ret) {
        int r;

        r = hub_db_stmt(s->db, id, ret);
        if (r < 0)
                return r;
        return hub_db_bind_text(*ret, 1, text);
}

/* The one number a statement answers (0 for no row), with ?1 bound to arg when bind is true. */
static int store_get_int_full(HubStore *s, unsigned id, bool bind, int64_t arg, int64_t *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = bind ? hub_store_stmt_int(s, id, arg, &st) : hub_db_stmt(s->db, id, &st);
        if (r < 0)
                return r;
        r = hub_db_step(st);
        if (r < 0)
                return r;
        *ret = r > 0 ? hub_db_column_int64(st, 0) : 0;
        return 0;
}

int hub_store_get_int_bound(HubStore *s, unsigned id, int64_t arg, int64_t *ret) {
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
int64_t hub_store_stamp(HubStore *s) {
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
int hub_store_write_begin(HubStore *s, HubDbTx *tx) {
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
