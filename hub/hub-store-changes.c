/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's change sequence and audit (hub-store.c): appending a change and its audit row,
 * the head, the changes since a seq (the feed), and retention. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-internal.h"

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
        r = hub_store_stmt_int(s, STMT_CHANGES_SINCE, since, &st);
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
                *what[i].ret = 0;
                if (what[i].before <= 0)
                        continue;
                r = hub_store_run_int(s, what[i].stmt, what[i].before);
                if (r < 0)
                        return r;
                *what[i].ret = hub_db_changes(s->db);
        }
        return hub_db_commit(&tx);
}

int hub_store_change_append(HubStore *s, ProvHubKind kind, const char *id, const char *op, int64_t usec) {
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
        r = hub_store_stmt_int(s, STMT_AUDIT_APPEND, usec, &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 2, who ? who->token_name : NULL)) < 0 ||
            (r = hub_db_bind_text(st, 3, who ? who->method : NULL)) < 0 ||
            (r = hub_db_bind_text(st, 4, hub_kind_to_string(kind))) < 0 ||
            (r = hub_db_bind_text(st, 5, id)) < 0 ||
            (r = hub_db_bind_text(st, 6, b)) < 0 || (r = hub_db_bind_text(st, 7, a)) < 0)
                return r;
        return hub_db_run(st);
}

/* A change as every write records it: the next seq for the resource and one audit row. */
int hub_store_record_change(HubStore *s, const HubActor *who, ProvHubKind kind, const char *id, const char *op,
                            const cJSON *before, const cJSON *after, int64_t usec) {
        int r;

        r = hub_store_change_append(s, kind, id, op, usec);
        if (r < 0)
                return r;
        return audit_append(s, who, kind, id, before, after, usec);
}
