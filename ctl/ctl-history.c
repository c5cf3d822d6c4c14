/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-history.h"
#include "prov-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3 *, sqlite3_close);
DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);

static int errno_from_sqlite(int rc) {
        switch (rc) {
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        default:
                return -EIO;
        }
}

/* strdup of a nullable column. Sets *ok to false when the copy failed. */
static char *column_dup(sqlite3_stmt *st, int col, bool *ok) {
        const unsigned char *s = sqlite3_column_text(st, col);
        char *d;

        if (!s)
                return NULL;
        d = strdup((const char *) s);
        if (!d)
                *ok = false;
        return d;
}

static int load_ids(sqlite3 *db, const char *owner, const char *scim_id, CtlHistory *h) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        /* An existing account's ids are in its row until it goes (schema 3): those without a
         * ledger row are listed from it, under the account's first name, since its creation. */
        rc = sqlite3_prepare_v2(db,
                                "SELECT kind, id, name_at_assignment, assigned_usec FROM id_ledger WHERE owner = ?1 "
                                "UNION ALL "
                                "SELECT k.kind, u.uid, coalesce((SELECT old_name FROM name_history "
                                "                                WHERE scim_id = u.scim_id "
                                "                                ORDER BY changed_usec, rowid LIMIT 1), u.name), "
                                "       u.created_usec "
                                "FROM users u, (SELECT 'uid' AS kind UNION ALL SELECT 'gid') k "
                                "WHERE u.scim_id = ?2 "
                                "  AND NOT EXISTS (SELECT 1 FROM id_ledger l WHERE l.kind = k.kind AND l.id = u.uid) "
                                "ORDER BY 4, 1 DESC, 2",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc);
        if (sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, scim_id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                CtlIdRecord *v = reallocarray(h->ids, h->n_ids + 1, sizeof(*v));
                bool ok = true;
                sqlite3_int64 id = sqlite3_column_int64(st, 1);

                if (!v)
                        return -ENOMEM;
                h->ids = v;
                if (id < 0 || id > UINT32_MAX)
                        continue; /* the store's CHECKs never let this in; do not narrow garbage */
                v[h->n_ids] = (CtlIdRecord) {
                        .kind = column_dup(st, 0, &ok),
                        .id = (uint32_t) id,
                        .name = column_dup(st, 2, &ok),
                        .assigned_usec = sqlite3_column_int64(st, 3),
                };
                h->n_ids++;
                if (!ok)
                        return -ENOMEM;
        }
        return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

static int load_names(sqlite3 *db, const char *scim_id, CtlHistory *h) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db,
                                "SELECT old_name, new_name, changed_usec FROM name_history "
                                "WHERE scim_id = ?1 ORDER BY changed_usec, rowid",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc);
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                CtlNameChange *v = reallocarray(h->names, h->n_names + 1, sizeof(*v));
                bool ok = true;

                if (!v)
                        return -ENOMEM;
                h->names = v;
                v[h->n_names] = (CtlNameChange) {
                        .old_name = column_dup(st, 0, &ok),
                        .new_name = column_dup(st, 1, &ok),
                        .changed_usec = sqlite3_column_int64(st, 2),
                };
                h->n_names++;
                if (!ok)
                        return -ENOMEM;
        }
        return rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

int ctl_history_load(const char *store_path, const char *scim_id, CtlHistory *ret) {
        _cleanup_(sqlite3_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *owner = NULL;
        CtlHistory h = {};
        int rc, r;

        if (!store_path || !scim_id || !ret)
                return -EINVAL;
        if (asprintf(&owner, "user:%s", scim_id) < 0)
                return -ENOMEM;

        rc = sqlite3_open_v2(store_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc);
        sqlite3_busy_timeout(db, 5000);

        r = load_ids(db, owner, scim_id, &h);
        if (r >= 0)
                r = load_names(db, scim_id, &h);
        if (r < 0) {
                ctl_history_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

void ctl_history_done(CtlHistory *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n_ids; i++) {
                free(h->ids[i].kind);
                free(h->ids[i].name);
        }
        free(h->ids);
        for (size_t i = 0; i < h->n_names; i++) {
                free(h->names[i].old_name);
                free(h->names[i].new_name);
        }
        free(h->names);
        *h = (CtlHistory) {};
}
