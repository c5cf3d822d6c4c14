/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's rows and how a resource is served (hub-store.c): reading a row, rendering it
 * with id, meta, members or groups, a lock or a hold applied, and GET by id. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-internal.h"
#include "hub-util.h"

void hub_store_row_done(Row *r) {
        free(r->id);
        free(r->json);
        free(r->locked_by);
        *r = (Row) {};
}

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
int hub_store_row_by_id(HubStore *s, ProvHubKind kind, const char *id, bool fleet, Row *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_text(s,
                                kind == PROV_HUB_GROUP ? STMT_GROUP_BY_ID : fleet ? STMT_USER_BY_ID_FLEET : STMT_USER_BY_ID,
                                id, &st);
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

/* ---- rendering ---- */

const char *hub_store_etag_format(int64_t version, char buf[static 32]) {
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

        r = hub_store_stmt_int(s, stmt, ref, &st);
        if (r < 0)
                return r;
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
int hub_store_render_row_full(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
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
        if (json_add_string(meta, "version", hub_store_etag_format(row->version, etag)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

int hub_store_render_row(HubStore *s, ProvHubKind kind, const Row *row, const HubRender *how, bool with_members,
                      cJSON **ret) {
        return hub_store_render_row_full(s, kind, row, how, with_members, false, ret);
}

int hub_store_get(HubStore *s, ProvHubKind kind, const char *id, const HubRender *how, cJSON **ret) {
        _cleanup_(hub_store_row_done) Row row = {};
        int r;

        if (!s || !hub_store_kind_valid(kind) || !id || !ret)
                return -EINVAL;
        r = hub_store_row_by_id(s, kind, id, how && how->fleet, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return hub_store_render_row(s, kind, &row, how, how ? how->with_members : true, ret);
}
