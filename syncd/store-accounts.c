/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Accounts, groups and memberships of the store. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/* ---- users ---- */

void prov_user_record_done(ProvUserRecord *u) {
        if (!u)
                return;
        free(u->scim_id);
        free(u->name);
        free(u->gecos);
        free(u->home);
        free(u->shell);
        free(u->ssh_keys);
        *u = (ProvUserRecord) {};
}

/* A text column that must not be NULL, borrowed from the statement: valid until the next step. */
static int column_view(ProvStore *s, sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *t = sqlite3_column_text(st, i);

        if (!t) {
                if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
                        return -ENOMEM;
                store_msg(s, "column %s is NULL", sqlite3_column_name(st, i));
                return -EBADMSG;
        }
        *ret = (char *) t;
        return 0;
}

/* Reads one row of USER_SELECT into u, its strings borrowed from the statement. */
static int user_row_view(ProvStore *s, sqlite3_stmt *st, ProvUserRecord *ret) {
        ProvUserRecord u = {};
        int64_t state;
        int r;

        if ((r = column_view(s, st, 0, &u.scim_id)) < 0 ||
            (r = column_view(s, st, 1, &u.name)) < 0 ||
            (r = column_id(s, st, 2, &u.uid)) < 0 ||
            (r = column_id(s, st, 3, &u.gid)) < 0 ||
            (r = column_view(s, st, 4, &u.gecos)) < 0 ||
            (r = column_view(s, st, 5, &u.home)) < 0 ||
            (r = column_view(s, st, 6, &u.shell)) < 0)
                return r;

        state = sqlite3_column_int64(st, 8);
        if (state < 0 || state >= _PROV_STATE_MAX) {
                store_msg(s, "invalid state %" PRIi64, state);
                return -EBADMSG;
        }
        u.source_active = sqlite3_column_int64(st, 7) != 0;
        u.state = (ProvState) state;
        u.blocked = sqlite3_column_int64(st, 9) != 0;
        u.created_usec = sqlite3_column_int64(st, 10);
        u.updated_usec = sqlite3_column_int64(st, 11);
        u.state_changed_usec = sqlite3_column_int64(st, 12);
        u.last_seen_usec = sqlite3_column_int64(st, 13);
        u.ref = sqlite3_column_int64(st, 14);
        /* NULL (no keys) is a NULL column, not an error. */
        u.ssh_keys = (char *) sqlite3_column_text(st, 15);
        if (!u.ssh_keys && sqlite3_column_type(st, 15) != SQLITE_NULL)
                return -ENOMEM;
        *ret = u;
        return 0;
}

/* Reads one row of USER_SELECT into a record that owns its strings. */
static int user_from_row(ProvStore *s, sqlite3_stmt *st, ProvUserRecord *ret) {
        _cleanup_(prov_user_record_done) ProvUserRecord u = {};
        ProvUserRecord view;
        int r;

        r = user_row_view(s, st, &view);
        if (r < 0)
                return r;
        u = view;
        u.scim_id = strdup(view.scim_id);
        u.name = strdup(view.name);
        u.gecos = strdup(view.gecos);
        u.home = strdup(view.home);
        u.shell = strdup(view.shell);
        u.ssh_keys = view.ssh_keys ? strdup(view.ssh_keys) : NULL;
        if (!u.scim_id || !u.name || !u.gecos || !u.home || !u.shell || (view.ssh_keys && !u.ssh_keys))
                return -ENOMEM;
        *ret = u;
        u = (ProvUserRecord) {};
        return 0;
}

/* The user a kept statement finds by its key (text, or number when text is NULL). */
static int user_get_by(ProvStore *s, StmtId id, const char *text, int64_t number, ProvUserRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = stmt_get_key(s, id, text, number, &st);
        if (r < 0)
                return r;
        r = stmt_step_row(s, st);
        if (r < 0)
                return r;
        return user_from_row(s, st, ret);
}

int prov_store_user_get(ProvStore *s, const char *scim_id, ProvUserRecord *ret) {
        return scim_id ? user_get_by(s, STMT_USER_GET, scim_id, 0, ret) : -EINVAL;
}

int prov_store_user_get_by_name(ProvStore *s, const char *name, ProvUserRecord *ret) {
        return name ? user_get_by(s, STMT_USER_GET_BY_NAME, name, 0, ret) : -EINVAL;
}

int prov_store_user_get_by_uid(ProvStore *s, uint32_t uid, ProvUserRecord *ret) {
        return user_get_by(s, STMT_USER_GET_BY_UID, NULL, uid, ret);
}

int prov_store_user_get_by_ref(ProvStore *s, int64_t ref, ProvUserRecord *ret) {
        return user_get_by(s, STMT_USER_GET_BY_REF, NULL, ref, ret);
}

static int user_write(ProvStore *s, StmtId id, const ProvUserRecord *u) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !u || !u->scim_id || !u->name || !u->home || !u->shell)
                return -EINVAL;
        if (u->uid == UINT32_MAX || u->gid == UINT32_MAX || u->state < 0 || u->state >= _PROV_STATE_MAX)
                return -EINVAL;
        /* The primary group is the private group: the ledger finds a user's gid by its uid. */
        if (u->gid != u->uid)
                return -EINVAL;

        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, u->scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, u->name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, u->uid) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, u->gid) != SQLITE_OK ||
            sqlite3_bind_text(st, 5, u->gecos ?: "", -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 6, u->home, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 7, u->shell, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int(st, 8, u->source_active) != SQLITE_OK ||
            sqlite3_bind_int(st, 9, (int) u->state) != SQLITE_OK ||
            sqlite3_bind_int(st, 10, u->blocked) != SQLITE_OK ||
            sqlite3_bind_int64(st, 11, u->created_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 12, u->updated_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 13, u->state_changed_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 14, u->last_seen_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 15, prov_now_usec()) != SQLITE_OK ||
            (u->ssh_keys && u->ssh_keys[0] ? sqlite3_bind_text(st, 16, u->ssh_keys, -1, SQLITE_STATIC)
                                           : sqlite3_bind_null(st, 16)) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_user_put(ProvStore *s, const ProvUserRecord *u) {
        return user_write(s, STMT_USER_PUT, u);
}

int prov_store_user_add(ProvStore *s, const ProvUserRecord *u, int64_t *ret_ref) {
        int r = user_write(s, STMT_USER_ADD, u);

        if (r < 0)
                return r;
        /* A plain INSERT: the rowid it made is the new row's ref. */
        if (ret_ref)
                *ret_ref = sqlite3_last_insert_rowid(s->db);
        return 0;
}

/* Runs a cached single-key DELETE; -ENOENT when nothing matched. */
static int delete_by_key(ProvStore *s, StmtId id, const char *key) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key)
                return -EINVAL;
        r = stmt_get_key(s, id, key, 0, &st);
        if (r < 0)
                return r;
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

/* Up to this many ids per statement: few statements, and a bounded JSON text beside them. */
#define IDS_PER_STATEMENT 2048u

/* Writes items [first, first + n) of a string array as a JSON array of strings into *buf
 * (grown as needed): what json_each() unrolls in the statements that take many ids at once.
 * Returns the length. */
static int json_id_array(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len) {
        char *const *ids = (char *const *) items + first;
        size_t len = 2, k = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                len += 3;
                for (const char *p = ids[i]; *p; p++)
                        len += *p == '"' || *p == '\\' ? 2 : (unsigned char) *p < 0x20 ? 6 : 1;
        }
        r = prov_grow((void **) buf, cap, len + 1, 1);
        if (r < 0)
                return r;
        char *json = *buf;
        json[k++] = '[';
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        json[k++] = ',';
                json[k++] = '"';
                for (const unsigned char *p = (const unsigned char *) ids[i]; *p; p++) {
                        if (*p == '"' || *p == '\\') {
                                json[k++] = '\\';
                                json[k++] = (char) *p;
                        } else if (*p < 0x20)
                                k += (size_t) snprintf(json + k, 7, "\\u%04x", *p);
                        else
                                json[k++] = (char) *p;
                }
                json[k++] = '"';
        }
        json[k++] = ']';
        json[k] = '\0';
        *ret_len = k;
        return 0;
}

/* The same for items of an int64_t array: a JSON array of numbers. */
static int json_ref_array(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len) {
        const int64_t *refs = (const int64_t *) items + first;
        size_t k = 0;
        int r;

        /* "-9223372036854775808," is 21 bytes. */
        r = prov_grow((void **) buf, cap, 2 + n * 21 + 1, 1);
        if (r < 0)
                return r;
        char *json = *buf;
        json[k++] = '[';
        for (size_t i = 0; i < n; i++)
                k += (size_t) snprintf(json + k, 22, i > 0 ? ",%" PRIi64 : "%" PRIi64, refs[i]);
        json[k++] = ']';
        json[k] = '\0';
        *ret_len = k;
        return 0;
}

typedef int (*JsonArrayWriter)(const void *items, size_t first, size_t n, char **buf, size_t *cap, size_t *ret_len);

/* Runs statement id once per IDS_PER_STATEMENT items, ?2 bound to them as a JSON array
 * written by json_array and ?1 to key (if not NULL). Each row it returns goes to row (if not
 * NULL) with the position of the chunk's first item. */
static int exec_with_ids(ProvStore *s, StmtId id, const char *key, const void *items, size_t n,
                         JsonArrayWriter json_array, int (*row)(sqlite3_stmt *st, size_t first, void *userdata),
                         void *userdata) {
        _cleanup_free_ char *json = NULL;
        size_t cap = 0;
        int r;

        for (size_t first = 0; first < n; first += IDS_PER_STATEMENT) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                size_t len;

                r = json_array(items, first, n - first < IDS_PER_STATEMENT ? n - first : IDS_PER_STATEMENT, &json,
                               &cap, &len);
                if (r < 0)
                        return r;
                r = stmt_get(s, id, &st);
                if (r < 0)
                        return r;
                if ((key && sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) ||
                    sqlite3_bind_text(st, 2, json, (int) len, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                while ((r = stmt_step(s, st)) > 0)
                        if (row && (r = row(st, first, userdata)) < 0)
                                return r;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int user_ref_row(sqlite3_stmt *st, size_t first, void *userdata) {
        int64_t *refs = userdata, k = sqlite3_column_int64(st, 0);

        if (k < 0 || k >= (int64_t) IDS_PER_STATEMENT)
                return -EBADMSG;
        refs[first + (size_t) k] = sqlite3_column_int64(st, 1);
        return 0;
}

int prov_store_user_refs(ProvStore *s, char *const *scim_ids, size_t n, int64_t *ret_refs) {
        if (!s || (n > 0 && (!scim_ids || !ret_refs)))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                ret_refs[i] = 0;
        return exec_with_ids(s, STMT_USER_REFS, NULL, scim_ids, n, json_id_array, user_ref_row, ret_refs);
}

int prov_store_users_purge(ProvStore *s, char *const *scim_ids, size_t n) {
        _cleanup_op_ Op op = {};
        size_t deleted = 0;
        int r;

        if (!s || (n > 0 && !scim_ids))
                return -EINVAL;
        if (n == 0)
                return 0;
        r = op_begin(s, &op);
        if (r < 0)
                return r;
        /* Memberships are indexed by group only: one pass over them per 2048 accounts. */
        r = exec_with_ids(s, STMT_MEMBERS_OF_USERS_CLEAR, NULL, scim_ids, n, json_id_array, NULL, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = delete_by_key(s, STMT_USER_DELETE, scim_ids[i]);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                deleted++;
        }
        r = op_commit(&op);
        if (r < 0)
                return r;
        return deleted > INT_MAX ? INT_MAX : (int) deleted;
}

int prov_store_user_delete(ProvStore *s, const char *scim_id) {
        int r;

        if (!scim_id)
                return -EINVAL;
        r = prov_store_users_purge(s, (char *const[]) { (char *) scim_id }, 1);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static int user_row(ProvStore *s, sqlite3_stmt *st, void *elem) {
        return user_from_row(s, st, elem);
}

static void user_done(void *elem) {
        prov_user_record_done(elem);
}

static const StoreRecordType user_records = { sizeof(ProvUserRecord), user_row, user_done };

void prov_user_records_free(ProvUserRecord *v, size_t n) {
        records_free(&user_records, v, n);
}

int prov_store_users_load(ProvStore *s, ProvUserRecord **ret, size_t *ret_n) {
        return records_query(s, "SELECT " USER_SELECT " FROM users ORDER BY uid", NULL, &user_records, (void **) ret,
                             ret_n);
}

int prov_store_users_foreach(ProvStore *s, ProvUserOrder order,
                             int (*cb)(const ProvUserRecord *u, void *userdata), void *userdata) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !cb)
                return -EINVAL;
        r = stmt_prepare(s,
                         order == PROV_USER_ORDER_SCIM_ID ? "SELECT " USER_SELECT " FROM users ORDER BY scim_id"
                         : order == PROV_USER_ORDER_UID   ? "SELECT " USER_SELECT " FROM users ORDER BY uid"
                         : order == PROV_USER_ORDER_REFUSED
                                 ? "SELECT " USER_SELECT " FROM users INDEXED BY users_refused WHERE state > 0"
                                                          : "SELECT " USER_SELECT " FROM users ORDER BY ref",
                         &st);
        if (r < 0)
                return r;
        for (;;) {
                ProvUserRecord u;

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = user_row_view(s, st, &u);
                if (r < 0)
                        return r;
                r = cb(&u, userdata);
                if (r < 0)
                        return r;
        }
}

/* ---- groups ---- */

void prov_group_record_done(ProvGroupRecord *g) {
        if (!g)
                return;
        free(g->scim_id);
        free(g->name);
        free(g->local_name);
        *g = (ProvGroupRecord) {};
}

static int group_from_row(ProvStore *s, sqlite3_stmt *st, ProvGroupRecord *ret) {
        _cleanup_(prov_group_record_done) ProvGroupRecord g = {};
        int r;

        if ((r = column_strdup(s, st, 0, false, &g.scim_id)) < 0 ||
            (r = column_strdup(s, st, 1, false, &g.name)) < 0 ||
            (r = column_id(s, st, 2, &g.gid)) < 0 ||
            (r = column_strdup(s, st, 3, true, &g.local_name)) < 0)
                return r;
        g.created_usec = sqlite3_column_int64(st, 4);
        g.updated_usec = sqlite3_column_int64(st, 5);
        g.last_seen_usec = sqlite3_column_int64(st, 6);
        g.ref = sqlite3_column_int64(st, 7);

        *ret = g;
        g = (ProvGroupRecord) {};
        return 0;
}

static int group_get_by(ProvStore *s, StmtId id, const char *key, ProvGroupRecord *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key || !ret)
                return -EINVAL;
        r = stmt_get_key(s, id, key, 0, &st);
        if (r < 0)
                return r;
        r = stmt_step_row(s, st);
        if (r < 0)
                return r;
        return group_from_row(s, st, ret);
}

int prov_store_group_get(ProvStore *s, const char *scim_id, ProvGroupRecord *ret) {
        return group_get_by(s, STMT_GROUP_GET, scim_id, ret);
}

int prov_store_group_get_by_name(ProvStore *s, const char *name, ProvGroupRecord *ret) {
        return group_get_by(s, STMT_GROUP_GET_BY_NAME, name, ret);
}

int prov_store_group_put(ProvStore *s, const ProvGroupRecord *g) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !g || !g->scim_id || !g->name || g->gid == UINT32_MAX)
                return -EINVAL;

        r = stmt_get(s, STMT_GROUP_PUT, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, g->scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, g->gid) != SQLITE_OK ||
            (g->local_name ? sqlite3_bind_text(st, 4, g->local_name, -1, SQLITE_STATIC)
                           : sqlite3_bind_null(st, 4)) != SQLITE_OK ||
            sqlite3_bind_int64(st, 5, g->created_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 6, g->updated_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 7, g->last_seen_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 8, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

/* The group and its memberships (what ON DELETE CASCADE would do), as one operation. */
int prov_store_group_delete(ProvStore *s, const char *scim_id) {
        _cleanup_op_ Op op = {};
        int r;

        if (!s || !scim_id)
                return -EINVAL;
        r = op_begin(s, &op);
        if (r < 0)
                return r;
        r = delete_by_key(s, STMT_MEMBERS_CLEAR, scim_id);
        if (r < 0 && r != -ENOENT)
                return r;
        r = delete_by_key(s, STMT_GROUP_DELETE, scim_id);
        if (r < 0)
                return r;
        return op_commit(&op);
}

static int group_row(ProvStore *s, sqlite3_stmt *st, void *elem) {
        return group_from_row(s, st, elem);
}

static void group_done(void *elem) {
        prov_group_record_done(elem);
}

static const StoreRecordType group_records = { sizeof(ProvGroupRecord), group_row, group_done };

void prov_group_records_free(ProvGroupRecord *v, size_t n) {
        records_free(&group_records, v, n);
}

static int groups_query(ProvStore *s, const char *sql, const char *key, ProvGroupRecord **ret, size_t *ret_n) {
        return records_query(s, sql, key, &group_records, (void **) ret, ret_n);
}

int prov_store_groups_load(ProvStore *s, ProvGroupRecord **ret, size_t *ret_n) {
        return groups_query(s, "SELECT " GROUP_SELECT " FROM groups ORDER BY gid", NULL, ret, ret_n);
}

int prov_store_user_groups_load(ProvStore *s, const char *user_scim_id, ProvGroupRecord **ret, size_t *ret_n) {
        if (!user_scim_id)
                return -EINVAL;
        /* Memberships have no index by user (schema 2): one pass over them, not a load of all of
         * them into memory as a caller joining in C would need. */
        return groups_query(s,
                            "SELECT " GROUP_SELECT " FROM groups WHERE ref IN "
                            "(SELECT m.group_ref FROM memberships m JOIN users u ON u.ref = m.user_ref "
                            "WHERE u.scim_id = ?1) ORDER BY gid",
                            user_scim_id, ret, ret_n);
}

/* ---- memberships ---- */

int prov_store_group_set_members(ProvStore *s, const char *group_scim_id, char *const *user_scim_ids,
                                 size_t n) {
        _cleanup_op_ Op op = {};
        int r;

        if (!s || !group_scim_id || (n > 0 && !user_scim_ids))
                return -EINVAL;

        r = op_begin(s, &op);
        if (r < 0)
                return r;

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = stmt_get_key(s, STMT_GROUP_EXISTS, group_scim_id, 0, &st);
                if (r < 0)
                        return r;
                r = stmt_step_row(s, st);
                if (r < 0)
                        return r;
        }
        r = delete_by_key(s, STMT_MEMBERS_CLEAR, group_scim_id);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                if (!user_scim_ids[i])
                        return -EINVAL;
                r = stmt_get(s, STMT_MEMBER_ADD, &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 2, user_scim_ids[i], -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        return op_commit(&op);
}

static void membership_done(void *elem) {
        ProvMembership *m = elem;

        free(m->group_scim_id);
        free(m->user_scim_id);
}

static int membership_row(ProvStore *s, sqlite3_stmt *st, void *elem) {
        ProvMembership *m = elem;
        int r;

        r = column_strdup(s, st, 0, false, &m->group_scim_id);
        if (r < 0)
                return r;
        return column_strdup(s, st, 1, false, &m->user_scim_id);
}

static const StoreRecordType membership_records = { sizeof(ProvMembership), membership_row, membership_done };

void prov_memberships_free(ProvMembership *v, size_t n) {
        records_free(&membership_records, v, n);
}

int prov_store_memberships_load(ProvStore *s, ProvMembership **ret, size_t *ret_n) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        r = stmt_get(s, STMT_MEMBERS_ALL, &st);
        if (r < 0)
                return r;
        return stmt_collect(s, st, &membership_records, (void **) ret, ret_n);
}

int prov_store_counts(ProvStore *s, size_t *ret_users, size_t *ret_groups, size_t *ret_memberships) {
        int64_t n[3];
        int r;

        r = query_row3(s, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM groups), "
                          "(SELECT count(*) FROM memberships)", (int64_t *[]) { &n[0], &n[1], &n[2] });
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        if (ret_users)
                *ret_users = (size_t) n[0];
        if (ret_groups)
                *ret_groups = (size_t) n[1];
        if (ret_memberships)
                *ret_memberships = (size_t) n[2];
        return 0;
}

int prov_store_state_counts(ProvStore *s, size_t by_state[static _PROV_STATE_MAX]) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !by_state)
                return -EINVAL;
        memset(by_state, 0, _PROV_STATE_MAX * sizeof(size_t));
        r = stmt_prepare(s, "SELECT state, count(*) FROM users GROUP BY state", &st);
        if (r < 0)
                return r;
        while ((r = stmt_step(s, st)) > 0) {
                int64_t state = sqlite3_column_int64(st, 0);

                if (state >= 0 && state < _PROV_STATE_MAX)
                        by_state[state] = (size_t) sqlite3_column_int64(st, 1);
        }
        return r;
}

int prov_store_members_add_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n) {
        if (!s || !group_scim_id || (n > 0 && !user_refs))
                return -EINVAL;
        return exec_with_ids(s, STMT_MEMBERS_ADD_REFS, group_scim_id, user_refs, n, json_ref_array, NULL, NULL);
}

int prov_store_members_remove_refs(ProvStore *s, const char *group_scim_id, const int64_t *user_refs, size_t n) {
        if (!s || !group_scim_id || (n > 0 && !user_refs))
                return -EINVAL;
        return exec_with_ids(s, STMT_MEMBERS_REMOVE_REFS, group_scim_id, user_refs, n, json_ref_array, NULL, NULL);
}

int prov_store_member_refs_foreach(ProvStore *s, const char *group_scim_id,
                                   int (*cb)(int64_t group_ref, int64_t user_ref, void *userdata), void *userdata) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !cb)
                return -EINVAL;
        r = stmt_get(s, group_scim_id ? STMT_MEMBER_REFS_OF : STMT_MEMBER_REFS, &st);
        if (r < 0)
                return r;
        if (group_scim_id && sqlite3_bind_text(st, 1, group_scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = cb(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), userdata);
                if (r < 0)
                        return r;
        }
}
