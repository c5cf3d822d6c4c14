/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's mass-deprovision guard and lock (hub-store.c): holding deactivations and
 * deletions beyond the configured share, ghosts, approving a hold, and the fleet-wide lock. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-internal.h"
#include "hub-util.h"

void hub_store_set_guard(HubStore *s, unsigned percent, int64_t window_usec, unsigned min_users) {
        s->guard_percent = percent;
        s->guard_window_usec = window_usec;
        s->guard_min_users = min_users;
}

bool hub_store_stored_inactive(const cJSON *stored) {
        return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(stored, "active"));
}

/* Whether a user leaving now (deactivated or deleted) is held: when the users who left within
 * the window (this one included, deletions too) would be more than guard_percent of the users,
 * *ret_hold is the open hold (opened now when none is), else 0.
 *
 * The users the share is of are those active now plus those who left within the window (held,
 * ghosts or published): so each departure leaves the base as it was, and neither deletions (a
 * base that shrank with each one fell below min_users and let the rest through) nor users who
 * were inactive already (a directory that keeps its deactivated users) move the threshold
 * (still_active: whether the leaving user's row still counts among the active). The
 * window starts after the
 * last approval at the latest: the leavers an admin approved (those held and those published
 * before them, up to the share) are the mass change approved, and count towards no later one,
 * else the next ordinary leaver would be held again. */
int hub_store_guard_hold(HubStore *s, int64_t usec, bool still_active, int64_t *ret_hold) {
        int64_t left = 0, total = 0, hold = 0, since = usec - s->guard_window_usec, approved = 0;
        int r;

        *ret_hold = 0;
        if (s->guard_percent == 0)
                return 0;
        r = hub_store_get_int(s, STMT_HOLD_LAST_APPROVED, &approved);
        if (r < 0)
                return r;
        if (approved >= since)
                since = approved + 1;
        r = hub_store_get_int_bound(s, STMT_LEAVERS_SINCE, since, &left);
        if (r < 0)
                return r;
        r = hub_store_get_int(s, STMT_USER_COUNT, &total);
        if (r < 0)
                return r;
        total += left + !still_active; /* the user leaving now, when its row already says inactive */
        if (total < (int64_t) s->guard_min_users || (left + 1) * 100 <= (int64_t) s->guard_percent * total)
                return 0;
        r = hub_store_get_int(s, STMT_HOLD_OPEN, &hold);
        if (r < 0)
                return r;
        if (hold == 0) {
                r = hub_store_run_int(s, STMT_HOLD_NEW, usec);
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
 * when hub_store_guard_hold() says so; one that becomes active again is neither. */
int hub_store_guard_user(HubStore *s, const Row *row, const cJSON *old, const cJSON *new, int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int64_t hold = 0;
        int r;

        if (hub_store_stored_inactive(old) == hub_store_stored_inactive(new))
                return 0;
        if (hub_store_stored_inactive(new)) {
                r = hub_store_guard_hold(s, usec, /* still_active= */ false, &hold);
                if (r < 0)
                        return r;
        }
        r = hub_db_stmt(s->db, STMT_USER_LEFT, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, row->ref) < 0 ||
            (hub_store_stored_inactive(new) ? hub_db_bind_int64(st, 2, usec) : hub_db_bind_null(st, 2)) < 0 ||
            (hold > 0 ? hub_db_bind_int64(st, 3, hold) : hub_db_bind_null(st, 3)) < 0)
                return -EIO;
        return hub_db_run(st);
}

/* A held deletion: the user's row stays as a ghost (SCIM: gone, its userName free; the fleet:
 * the user as it was, in its groups) until the hold is approved (hub_store_hold_approve()). The
 * change it records serves the fleet the user unchanged; the audit row says it was held. */
int hub_store_user_ghost(HubStore *s, const HubActor *who, const Row *row, const cJSON *old, int64_t hold,
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
        return hub_store_record_change(s, who, PROV_HUB_USER, row->id, "upsert", old, after, usec);
}

/* An approved held deletion: the ghost leaves its groups and goes, each a change of its own. A
 * live user the IdP made meanwhile with the ghost's userName is recorded again after the
 * deletion: hosts refused it while the ghost held the name, and would not hear of it again
 * until the IdP changes it. */
static int ghost_delete(HubStore *s, const HubActor *who, int64_t ref, const char *id, const char *user_name,
                        const cJSON *before, int64_t usec) {
        _cleanup_free_ char *heir = NULL;
        _cleanup_(cJSON_Deletep) cJSON *after = NULL;
        int r;

        after = cJSON_CreateObject();
        if (!after || !cJSON_AddBoolToObject(after, "held", false) || !cJSON_AddBoolToObject(after, "deleted", true))
                return -ENOMEM;
        r = hub_store_user_leave_groups(s, ref, usec, after);
        if (r < 0)
                return r;
        r = hub_store_user_name_holder(s, user_name, ref, &heir);
        if (r < 0)
                return r;
        r = hub_store_run_int(s, STMT_USER_DELETE, ref);
        if (r < 0)
                return r;
        r = hub_store_record_change(s, who, PROV_HUB_USER, id, "delete", before, after, usec);
        if (r < 0 || !heir)
                return r;
        return hub_store_change_append(s, PROV_HUB_USER, heir, "upsert", usec);
}

/* The audit forms of a change of one flag: {key: was} before, {key: is} after. */
static int flag_forms(const char *key, bool was, bool is, cJSON **ret_before, cJSON **ret_after) {
        _cleanup_(cJSON_Deletep) cJSON *before = cJSON_CreateObject(), *after = cJSON_CreateObject();

        if (!before || !after || !cJSON_AddBoolToObject(before, key, was) || !cJSON_AddBoolToObject(after, key, is))
                return -ENOMEM;
        *ret_before = TAKE_PTR(before);
        *ret_after = TAKE_PTR(after);
        return 0;
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
        r = hub_store_stmt_int(s, STMT_HELD_USERS, hold, &st);
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

int hub_store_hold_approve(HubStore *s, int64_t hold, int64_t count, const HubActor *who, int64_t *ret_released,
                           ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *before = NULL, *after = NULL;
        int64_t open_hold, n = 0;
        int r;

        r = hub_store_write_begin(s, &tx);
        if (r < 0)
                return r;
        r = hub_store_get_int(s, STMT_HOLD_OPEN, &open_hold);
        if (r < 0)
                return r;
        if (open_hold == 0 || (hold > 0 && hold != open_hold))
                return prov_scim_error_set(err, 404, NULL, "No such open hold.");
        if (count >= 0) {
                int64_t held = 0;

                r = hub_store_get_int_bound(s, STMT_HELD_COUNT, open_hold, &held);
                if (r < 0)
                        return r;
                if (held != count)
                        return prov_scim_error_set(err, 409, NULL,
                                                   "The hold holds %" PRIi64 " users now, not %" PRIi64 ": review it again.",
                                                   held, count);
        }
        r = flag_forms("held", true, false, &before, &after);
        if (r < 0)
                return r;

        r = hub_store_stmt_int(s, STMT_HELD_USERS, open_hold, &st);
        if (r < 0)
                return r;
        /* One held user at a time, the walk started again after each update: SQLite does not
         * say whether a row changed under a running walk is visited again or skipped. */
        while ((r = hub_db_step(st)) > 0) {
                _cleanup_db_reset_ HubStmt *up = NULL;
                _cleanup_free_ char *id = NULL, *user_name = NULL;
                int64_t usec = hub_store_stamp(s), ref = hub_db_column_int64(st, 0);
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
                r = hub_store_record_change(s, who, PROV_HUB_USER, id, "upsert", before, after, usec);
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
                /* A time after every release's (the guard's window starts after it). */
                if (hub_db_bind_int64(ap, 1, open_hold) < 0 || hub_db_bind_int64(ap, 2, hub_store_stamp(s)) < 0 ||
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
        r = hub_store_write_begin(s, &tx);
        if (r < 0)
                return r;
        /* A ghost too: a lock is never held, and the fleet still has the user. */
        r = hub_store_row_for_change(s, PROV_HUB_USER, id, NULL, true, &row, err);
        if (r < 0)
                return r;
        if (!!row.locked_by == lock)
                return hub_db_commit(&tx); /* already so: nothing recorded */

        usec = hub_store_stamp(s);
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
        r = flag_forms("locked", !lock, lock, &before, &after);
        if (r < 0)
                return r;
        r = hub_store_record_change(s, who, PROV_HUB_USER, id, "upsert", before, after, usec);
        if (r < 0)
                return r;
        r = hub_db_commit(&tx);
        if (r < 0)
                return r;
        *ret_changed = true;
        return 0;
}
