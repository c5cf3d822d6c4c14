/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The store's records of the sync: its state, the audit log, refused records and held
 * deprovisions. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/* ---- sync state ---- */

int prov_store_state_get(ProvStore *s, const char *key, char **ret_value) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        char *v;
        int r;

        if (!s || !key || !ret_value)
                return -EINVAL;
        r = stmt_get_key(s, STMT_STATE_GET, key, 0, &st);
        if (r < 0)
                return r;
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        r = column_strdup(s, st, 0, false, &v);
        if (r < 0)
                return r;
        *ret_value = v;
        return 0;
}

int prov_store_state_set(ProvStore *s, const char *key, const char *value) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !key || !value)
                return -EINVAL;
        r = stmt_get(s, STMT_STATE_SET, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_state_get_int(ProvStore *s, const char *key, int64_t *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        long long l;
        int r;

        if (!ret)
                return -EINVAL;
        r = prov_store_state_get(s, key, &v);
        if (r < 0)
                return r;
        errno = 0;
        l = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || v[0] == ' ' || v[0] == '\t' || v[0] == '+')
                return -EBADMSG;
        *ret = (int64_t) l;
        return 0;
}

int prov_store_state_set_int(ProvStore *s, const char *key, int64_t value) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIi64, value);
        return prov_store_state_set(s, key, buf);
}

/* ---- audit ---- */

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *t) {
        return t ? sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int prov_store_audit_add(ProvStore *s, const char *event, const char *user, const char *scim_id, int64_t uid,
                         const char *step, const char *outcome, const char *detail) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !event)
                return -EINVAL;
        r = stmt_get(s, STMT_AUDIT_ADD, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, prov_now_usec()) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC) != SQLITE_OK ||
            bind_text_or_null(st, 3, user) != SQLITE_OK ||
            bind_text_or_null(st, 4, scim_id) != SQLITE_OK ||
            (uid >= 0 ? sqlite3_bind_int64(st, 5, uid) : sqlite3_bind_null(st, 5)) != SQLITE_OK ||
            bind_text_or_null(st, 6, step) != SQLITE_OK ||
            bind_text_or_null(st, 7, outcome) != SQLITE_OK ||
            bind_text_or_null(st, 8, detail) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

int prov_store_audit_prune(ProvStore *s, int64_t before_usec) {
        if (!s)
                return -EINVAL;
        return exec_int(s, "DELETE FROM audit WHERE time_usec < ?1", before_usec);
}

int prov_store_reject_note(ProvStore *s, const char *kind, const char *scim_id, const char *reason,
                           int64_t now_usec) {
        static const char *const sql[] = {
                "UPDATE rejects SET seen_usec = ?4 WHERE kind = ?1 AND scim_id = ?2 AND reason = ?3",
                "INSERT INTO rejects (kind, scim_id, reason, first_usec, seen_usec) VALUES (?1, ?2, ?3, ?4, ?4)",
        };
        int r;

        if (!s || !kind || !reason)
                return -EINVAL;
        /* An update first: a refusal seen before is the common case of every scan. */
        for (size_t i = 0; i < ELEMENTSOF(sql); i++) {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;

                r = stmt_prepare(s, sql[i], &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 2, scim_id ?: "", -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 4, now_usec) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
                if (sqlite3_changes(s->db) > 0)
                        return (int) i;
        }
        return -EIO; /* the insert changed nothing: cannot happen */
}

int prov_store_rejects_prune(ProvStore *s, int64_t before_usec) {
        if (!s)
                return -EINVAL;
        return exec_int(s, "DELETE FROM rejects WHERE seen_usec < ?1", before_usec);
}

static void audit_event_done(void *elem) {
        ProvAuditEvent *e = elem;

        free(e->event);
        free(e->user);
        free(e->scim_id);
        free(e->step);
        free(e->outcome);
        free(e->detail);
}

static int audit_row(ProvStore *s, sqlite3_stmt *st, void *elem) {
        ProvAuditEvent *e = elem;
        int r;

        *e = (ProvAuditEvent) {
                .seq = sqlite3_column_int64(st, 0),
                .time_usec = sqlite3_column_int64(st, 1),
                .uid = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5),
        };
        if ((r = column_strdup(s, st, 2, false, &e->event)) < 0 ||
            (r = column_strdup(s, st, 3, true, &e->user)) < 0 ||
            (r = column_strdup(s, st, 4, true, &e->scim_id)) < 0 ||
            (r = column_strdup(s, st, 6, true, &e->step)) < 0 ||
            (r = column_strdup(s, st, 7, true, &e->outcome)) < 0)
                return r;
        return column_strdup(s, st, 8, true, &e->detail);
}

static const StoreRecordType audit_records = { sizeof(ProvAuditEvent), audit_row, audit_event_done };

void prov_audit_events_free(ProvAuditEvent *v, size_t n) {
        records_free(&audit_records, v, n);
}

int prov_store_audit_load(ProvStore *s, const char *user, int64_t since_usec, size_t limit,
                          ProvAuditEvent **ret, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        /* The newest `limit` events, handed out oldest first, as a log reads. Two texts rather
         * than "?1 IS NULL OR user = ?1", so that the user filter can use its index. */
        r = stmt_prepare(
                s,
                user ? "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit "
                       "WHERE user = ?1 AND time_usec >= ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq"
                     : "SELECT * FROM (SELECT " AUDIT_COLUMNS " FROM audit "
                       "WHERE ?1 IS NULL AND time_usec >= ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
                &st);
        if (r < 0)
                return r;
        if (bind_text_or_null(st, 1, user) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, since_usec) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3,
                               limit > 0 && (uint64_t)limit <= (uint64_t)INT64_MAX ? (int64_t)limit : -1) !=
                    SQLITE_OK)
                return store_fail_last(s);
        return stmt_collect(s, st, &audit_records, (void **) ret, ret_n);
}

/* ---- enforcement steps to retry ---- */

int prov_store_pending_record(ProvStore *s, const char *scim_id, const char *step, uint32_t uid, const char *event,
                              bool failed) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !scim_id || !step || !event)
                return -EINVAL;
        r = stmt_prepare(s,
                         failed ? "INSERT INTO enforce_pending (scim_id, step, uid, event, failures)"
                                  " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (scim_id, step) DO UPDATE SET"
                                  " uid = ?3, event = ?4, failures = failures + 1"
                                : "DELETE FROM enforce_pending WHERE scim_id = ?1 AND step = ?2",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC) != SQLITE_OK ||
            (failed && (sqlite3_bind_int64(st, 3, uid) != SQLITE_OK ||
                        sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC) != SQLITE_OK)))
                return store_fail_last(s);
        return stmt_exec(s, st);
}

static void pending_step_done(void *elem) {
        ProvPendingStep *p = elem;

        free(p->scim_id);
        free(p->step);
        free(p->event);
}

static int pending_row(ProvStore *s, sqlite3_stmt *st, void *elem) {
        ProvPendingStep *p = elem;
        int64_t failures = sqlite3_column_int64(st, 4);
        int r;

        if ((r = column_strdup(s, st, 0, false, &p->scim_id)) < 0 ||
            (r = column_strdup(s, st, 1, false, &p->step)) < 0 ||
            (r = column_id(s, st, 2, &p->uid)) < 0)
                return r;
        p->failures = failures < 0 ? 0 : failures > UINT_MAX ? UINT_MAX : (unsigned) failures;
        return column_strdup(s, st, 3, false, &p->event);
}

static const StoreRecordType pending_records = { sizeof(ProvPendingStep), pending_row, pending_step_done };

void prov_pending_steps_free(ProvPendingStep *v, size_t n) {
        records_free(&pending_records, v, n);
}

int prov_store_pending_load(ProvStore *s, ProvPendingStep **ret, size_t *ret_n) {
        return records_query(s, "SELECT scim_id, step, uid, event, failures FROM enforce_pending ORDER BY scim_id, step",
                             NULL, &pending_records, (void **) ret, ret_n);
}

/* ---- enforcement outcomes for the hub ---- */

int prov_store_acks_add(ProvStore *s, const char *outcome, unsigned max) {
        _cleanup_finalize_ sqlite3_stmt *ins = NULL;
        int r;

        if (!s || !outcome || max == 0)
                return -EINVAL;
        r = stmt_prepare(s, "INSERT INTO hub_acks (outcome) VALUES (?1)", &ins);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(ins, 1, outcome, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, ins);
        if (r < 0)
                return r;
        return exec_int(s, "DELETE FROM hub_acks WHERE n <= (SELECT max(n) FROM hub_acks) - ?1", max);
}

int prov_store_acks_peek(ProvStore *s, unsigned max, char **ret_array, int64_t *ret_last) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int64_t n;
        int r;

        if (!s || max == 0 || !ret_array || !ret_last)
                return -EINVAL;
        *ret_array = NULL;
        *ret_last = 0;
        r = stmt_prepare_int(s,
                             "SELECT count(*), max(n), json_group_array(json(outcome)) FROM"
                             " (SELECT n, outcome FROM hub_acks ORDER BY n LIMIT ?1)",
                             max, &st);
        if (r < 0)
                return r;
        r = stmt_step(s, st);
        if (r < 0)
                return r;
        n = r > 0 ? sqlite3_column_int64(st, 0) : 0;
        if (n == 0)
                return 0;
        r = column_strdup(s, st, 2, false, ret_array);
        if (r < 0)
                return r;
        *ret_last = sqlite3_column_int64(st, 1);
        return (int) n;
}

int prov_store_acks_remove(ProvStore *s, int64_t last) {
        int r;

        if (!s)
                return -EINVAL;
        r = exec_int(s, "DELETE FROM hub_acks WHERE n <= ?1", last);
        return r < 0 ? r : 0;
}

/* ---- holds ---- */

int prov_store_hold_add(ProvStore *s, int64_t deprovisions, int64_t total, const char *threshold,
                        char *const *scim_ids, size_t n, int64_t *ret_id) {
        _cleanup_op_ Op op = {};
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        int64_t now;
        int r;

        if (!s || (n > 0 && !scim_ids))
                return -EINVAL;

        /* One id per line: ids are validated SCIM ids, which never contain a newline. */
        for (size_t i = 0; i < n; i++) {
                size_t l;

                if (!scim_ids[i] || strchr(scim_ids[i], '\n'))
                        return -EINVAL;
                l = strlen(scim_ids[i]);
                if (len > SIZE_MAX - l - 2)
                        return -ENOMEM;
                len += l + 1;
        }
        list = malloc(len + 1);
        if (!list)
                return -ENOMEM;
        {
                char *p = list;
                for (size_t i = 0; i < n; i++) {
                        p = stpcpy(p, scim_ids[i]);
                        *p++ = '\n';
                }
                *p = '\0';
        }

        r = op_begin(s, &op);
        if (r < 0)
                return r;
        now = prov_now_usec();
        r = exec_int(s, "UPDATE holds SET status = 'superseded', decided_usec = ?1 WHERE status = 'pending'", now);
        if (r < 0)
                return r;
        {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;

                r = stmt_prepare(
                        s,
                        "INSERT INTO holds (created_usec, deprovisions, total, threshold, scim_ids, status) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                        &st);
                if (r < 0)
                        return r;
                if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 2, deprovisions) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 3, total) != SQLITE_OK ||
                    bind_text_or_null(st, 4, threshold) != SQLITE_OK ||
                    sqlite3_bind_text(st, 5, list, -1, SQLITE_STATIC) != SQLITE_OK)
                        return store_fail_last(s);
                r = stmt_exec(s, st);
                if (r < 0)
                        return r;
        }
        int64_t id = sqlite3_last_insert_rowid(s->db);
        r = op_commit(&op);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_hold_pending(ProvStore *s, int64_t *ret_id, int64_t *ret_deprovisions, int64_t *ret_total) {
        return query_row3(s, "SELECT id, deprovisions, total FROM holds WHERE status = 'pending' "
                             "ORDER BY id DESC LIMIT 1",
                          (int64_t *[]) { ret_id, ret_deprovisions, ret_total });
}

static void strv_freep(char ***p) {
        if (*p)
                for (char **i = *p; *i; i++)
                        free(*i);
        free(*p);
}

int prov_store_hold_scim_ids(ProvStore *s, int64_t id, char ***ret_ids, size_t *ret_n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_(strv_freep) char **v = NULL;
        _cleanup_free_ char *list = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!s || !ret_ids)
                return -EINVAL;
        r = stmt_prepare_int(s, "SELECT scim_ids FROM holds WHERE id = ?1", id, &st);
        if (r < 0)
                return r;
        r = stmt_step_row(s, st);
        if (r < 0)
                return r;
        r = column_strdup(s, st, 0, false, &list);
        if (r < 0)
                return r;

        r = prov_grow((void **) &v, &allocated, 1, sizeof(*v));
        if (r < 0)
                return r;
        v[0] = NULL;
        for (char *p = list, *nl; *p; p = nl + 1) {
                nl = strchr(p, '\n');
                if (!nl) {
                        store_msg(s, "hold %" PRIi64 ": unterminated id list", id);
                        return -EBADMSG;
                }
                r = prov_grow((void **) &v, &allocated, n + 2, sizeof(*v));
                if (r < 0)
                        return r;
                v[n] = strndup(p, (size_t) (nl - p));
                if (!v[n])
                        return -ENOMEM;
                v[++n] = NULL;
        }

        *ret_ids = TAKE_PTR(v);
        if (ret_n)
                *ret_n = n;
        return 0;
}

int prov_store_hold_set_status(ProvStore *s, int64_t id, const char *status) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !status)
                return -EINVAL;
        if (!streq(status, "pending") && !streq(status, "approved") && !streq(status, "superseded"))
                return -EINVAL;
        r = stmt_prepare(s,
                         "UPDATE holds SET status = ?2, "
                         "decided_usec = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?3 END WHERE id = ?1",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}
