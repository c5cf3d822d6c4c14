/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's writes from the IdPs (hub-store.c): create, modify (PUT and PATCH) and delete
 * of users and groups, each one transaction with its change and audit row. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-internal.h"
#include "hub-util.h"

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

int hub_store_user_name_holder(HubStore *s, const char *user_name, int64_t exclude_ref, char **ret_id) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_text(s, STMT_USER_NAME_TAKEN, user_name, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 2, exclude_ref) < 0)
                return -EIO;
        r = hub_db_step(st);
        if (r <= 0 || !ret_id)
                return r;
        r = hub_db_column_strdup(st, 0, false, ret_id);
        return r < 0 ? r : 1;
}

/* 409 when another user (not exclude_ref) has this userName, case-insensitively. */
static int check_user_name(HubStore *s, const char *user_name, int64_t exclude_ref, ProvScimError *err) {
        int r;

        r = hub_store_user_name_holder(s, user_name, exclude_ref, NULL);
        if (r < 0)
                return r;
        if (r > 0)
                return prov_scim_error_set(err, 409, "uniqueness", "userName '%.64s' is taken", user_name);
        return 0;
}

/* Binds the columns of STMT_*_INSERT and STMT_*_UPDATE after ?1 (name, externalId, a user's
 * active, the time and the stored JSON) and runs it. */
static int row_bind_run(HubStore *s, HubStmt *st, ProvHubKind kind, const Columns *c, const char *json,
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
        return hub_db_run(st);
}

static int row_insert(HubStore *s, ProvHubKind kind, const char *id, const Columns *c, const char *json,
                      int64_t usec, int64_t *ret_ref) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_text(s, kind == PROV_HUB_USER ? STMT_USER_INSERT : STMT_GROUP_INSERT, id, &st);
        if (r < 0)
                return r;
        r = row_bind_run(s, st, kind, c, json, usec);
        if (r < 0)
                return r;
        return hub_db_last_id(s->db, ret_ref);
}

static int row_update(HubStore *s, ProvHubKind kind, int64_t ref, const Columns *c, const char *json,
                      int64_t usec) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_int(s, kind == PROV_HUB_USER ? STMT_USER_UPDATE : STMT_GROUP_UPDATE, ref, &st);
        if (r < 0)
                return r;
        return row_bind_run(s, st, kind, c, json, usec);
}

/* Renders the row with this ref's id again, after a write. */
static int render_by_id(HubStore *s, ProvHubKind kind, const char *id, const HubRender *how, cJSON **ret) {
        _cleanup_(hub_store_row_done) Row row = {};
        int r;

        r = hub_store_row_by_id(s, kind, id, false, &row);
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
                r = hub_store_members_write(s, ref, old_members, members, audit);
                if (r < 0)
                        return r;
        }
        r = hub_store_record_change(s, who, kind, id, "upsert", before, audit, usec);
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
        _cleanup_(hub_store_refset_done) RefSet members = {};
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

        r = hub_store_write_begin(s, &tx);
        if (r < 0)
                return r;
        if (kind == PROV_HUB_USER) {
                r = check_user_name(s, c.name, 0, err);
                if (r < 0)
                        return r;
        }
        usec = hub_store_stamp(s);
        r = row_insert(s, kind, id, &c, json, usec, &ref);
        if (r < 0)
                return r;
        audit = cJSON_Duplicate(stored, true);
        if (!audit)
                return -ENOMEM;
        if (kind == PROV_HUB_GROUP) {
                r = hub_store_refset_from_members(s, resource, id, NULL, &members);
                if (r < 0)
                        return r;
        }
        return write_finish(s, &tx, who, kind, id, ref, &(const RefSet) {}, kind == PROV_HUB_GROUP ? &members : NULL,
                            NULL, audit, usec, how, ret);
}

/* If-Match: "*", or a list of ETags (RFC 7232 §3.1) one of which is the current one (weak or
 * not: clients echo what they got, some drop W/). */
static bool if_match_ok(const char *if_match, int64_t version) {
        char etag[32];

        if (!if_match)
                return true;
        hub_store_etag_format(version, etag);
        for (const char *p = if_match;;) {
                size_t n;

                p += strspn(p, " \t");
                n = strcspn(p, ",");
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                if ((n == 1 && p[0] == '*') || (n == strlen(etag) && strncmp(p, etag, n) == 0) ||
                    (n == strlen(etag + 2) && strncmp(p, etag + 2, n) == 0))
                        return true;
                p = strchr(p, ',');
                if (!p)
                        return false;
                p++;
        }
}

/* Reads a row for a change: 404 when there is none (a ghost only for the fleet), 412 when
 * If-Match fails. */
int hub_store_row_for_change(HubStore *s, ProvHubKind kind, const char *id, const char *if_match, bool fleet, Row *ret,
                             ProvScimError *err) {
        _cleanup_(hub_store_row_done) Row row = {};
        char etag[32];
        int r;

        r = hub_store_row_by_id(s, kind, id, fleet, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return prov_scim_error_set(err, 404, NULL, "%s %.64s not found", hub_kind_to_string(kind),
                                           id);
        if (!if_match_ok(if_match, row.version))
                return prov_scim_error_set(err, 412, NULL, "If-Match %.64s is not the current version %s",
                                           if_match, hub_store_etag_format(row.version, etag));
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

/* The start of a change of one resource: its transaction (or savepoint), its row (404 for no such
 * id, 412 for a failed If-Match) and its stored form. */
static int change_begin(HubStore *s, HubDbTx *tx, ProvHubKind kind, const char *id, const char *if_match, Row *row,
                        cJSON **ret_old, ProvScimError *err) {
        int r;

        r = hub_store_write_begin(s, tx);
        if (r < 0)
                return r;
        r = hub_store_row_for_change(s, kind, id, if_match, false, row, err);
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
        _cleanup_(hub_store_refset_done) RefSet old_members = {}, new_members = {};
        _cleanup_(hub_store_idindex_done) IdIndex known = {};
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
        r = hub_store_render_row_full(s, kind, &row, how, true, true, &cur);
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
                r = hub_store_refset_load(s, row.ref, &old_members, &known);
                if (r < 0)
                        return r;
                r = hub_store_refset_from_members(s, cur, id, &known, &new_members);
                if (r < 0)
                        return r;
                members_changed = !hub_store_refset_equal(&old_members, &new_members);
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
        usec = hub_store_stamp(s);
        r = row_update(s, kind, row.ref, &c, json, usec);
        if (r < 0)
                return r;
        if (kind == PROV_HUB_USER) {
                r = hub_store_guard_user(s, &row, old, new, usec);
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

int hub_store_delete(HubStore *s, ProvHubKind kind, const char *id, const char *if_match,
                     const HubActor *who, ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_(hub_store_row_done) Row row = {};
        _cleanup_(cJSON_Deletep) cJSON *old = NULL;
        int64_t usec;
        int r;

        if (!s || !hub_store_kind_valid(kind) || !id)
                return -EINVAL;

        r = change_begin(s, &tx, kind, id, if_match, &row, &old, err);
        if (r < 0)
                return r;
        usec = hub_store_stamp(s);
        if (kind == PROV_HUB_USER) {
                /* A user whose deactivation is held, or whose deletion the guard holds, becomes
                 * a ghost in that hold. */
                int64_t hold = row.held_id;

                /* A user whose deactivation the fleet already has goes at once: as a ghost it
                 * would be served active again (only a held deactivation is). */
                if (hold == 0 && !hub_store_stored_inactive(old)) {
                        r = hub_store_guard_hold(s, usec, /* still_active= */ true, &hold);
                        if (r < 0)
                                return r;
                }
                if (hold > 0) {
                        r = hub_store_user_ghost(s, who, &row, old, hold, usec);
                        if (r < 0)
                                return r;
                        return hub_db_commit(&tx);
                }
                r = hub_store_user_leave_groups(s, row.ref, usec, old);
                if (r < 0)
                        return r;
        }
        /* A group's member rows go with it (ON DELETE CASCADE). */
        r = hub_store_run_int(s, kind == PROV_HUB_USER ? STMT_USER_DELETE : STMT_GROUP_DELETE, row.ref);
        if (r < 0)
                return r;
        r = hub_store_record_change(s, who, kind, id, "delete", old, NULL, usec);
        if (r < 0)
                return r;
        return hub_db_commit(&tx);
}
