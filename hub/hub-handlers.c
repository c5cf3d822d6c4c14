/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub-http.h"
#include "log.h"
#include "scim-filter.h"
#include "scim-patch.h"
#include "scim-resource.h"

/* One handler per resource and method, each: bound and parse the body → validate once (the
 * SCIM engine, with the hosts' own rules) → one store transaction → serialise the answer.
 * Authentication and roles were checked by the HTTP layer. */

#define LIST_SCHEMA "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define CORE_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define CORE_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define ENTERPRISE_USER "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define DEFAULT_COUNT 100
#define MAX_COUNT 1000
/* The largest startIndex echoed: cJSON prints an integer of more digits with an exponent
 * ("1e+17"), which clients read as a float. Any index past the end is the same empty page. */
#define MAX_START_INDEX INT64_C(999999999999999)

static int fail(HubReply *reply, int status, const char *scim_type, const char *detail) {
        ProvScimError e = {};

        prov_scim_error_set(&e, status, scim_type, "%s", detail);
        hub_reply_error(reply, &e);
        return -EINVAL;
}

/* A store failure without a SCIM error of its own: 404/409 where the errno says so. Anything
 * else is the store's I/O (busy, disk full, read-only, an I/O error): 503, to which the HTTP
 * layer adds Retry-After, so that an IdP retries rather than quarantining the job. Nothing was
 * committed, so a retry is safe. */
static void store_failed(HubStore *store, HubReply *reply, int r, ProvScimError *err) {
        if (err->status >= 400) {
                hub_reply_error(reply, err);
                return;
        }
        if (r == -ENOENT)
                fail(reply, 404, NULL, "No such resource.");
        else if (r == -EEXIST)
                fail(reply, 409, "uniqueness", "The resource exists already.");
        else {
                log_error_errno(r, "Store failure: %s (%m)", hub_store_errmsg(store) ?: "");
                fail(reply, 503, NULL, "The store is unavailable; retry.");
        }
}

/* True when name is in the comma-separated list (case-insensitive, core URN prefix ignored);
 * with parent, also when one of its sub-attributes is ("name.givenName" for name, "<extension
 * URN>:department" for the extension), which asks for name, in part. */
static bool list_has(const char *list, const char *name, bool parent) {
        if (!list)
                return false;
        for (const char *p = list; *p;) {
                size_t n = strcspn(p, ",");
                const char *item = p;
                size_t len = n;

                while (len > 0 && *item == ' ')
                        item++, len--;
                while (len > 0 && item[len - 1] == ' ')
                        len--;
                for (const char *urn = CORE_USER ":"; len > strlen(urn) && strncasecmp(item, urn, strlen(urn)) == 0;) {
                        item += strlen(urn);
                        len -= strlen(urn);
                        break;
                }
                for (const char *urn = CORE_GROUP ":"; len > strlen(urn) && strncasecmp(item, urn, strlen(urn)) == 0;) {
                        item += strlen(urn);
                        len -= strlen(urn);
                        break;
                }
                if (len == strlen(name) && strncasecmp(item, name, len) == 0)
                        return true;
                if (parent && len > strlen(name) && strncasecmp(item, name, strlen(name)) == 0 &&
                    (item[strlen(name)] == '.' || item[strlen(name)] == ':'))
                        return true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* attributes / excludedAttributes (RFC 7644 §3.9) on top-level attributes: id, schemas and meta
 * are always returned. */
static void project(cJSON *res, const HubRequest *req) {
        cJSON *item, *next;

        if (!res || (!req->attributes && !req->excluded_attributes))
                return;
        for (item = res->child; item; item = next) {
                bool keep;

                next = item->next;
                if (streq(item->string, "id") || streq(item->string, "schemas") || streq(item->string, "meta"))
                        continue;
                if (req->attributes && req->attributes[0])
                        /* "name.givenName" keeps "name" */
                        keep = list_has(req->attributes, item->string, true);
                else
                        keep = !list_has(req->excluded_attributes, item->string, false);
                if (!keep)
                        cJSON_Delete(cJSON_DetachItemViaPointer(res, item));
        }
}

static bool wants_members(const HubRequest *req) {
        if (req->excluded_attributes && list_has(req->excluded_attributes, "members", false))
                return false;
        if (req->attributes && req->attributes[0] && !list_has(req->attributes, "members", true))
                return false;
        return true;
}

static void reply_resource(HubReply *reply, unsigned status, cJSON *res, const HubRequest *req) {
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(res, "meta");
        cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, "version");
        cJSON *loc = cJSON_GetObjectItemCaseSensitive(meta, "location");

        if (cJSON_IsString(v))
                reply->etag = strdup(v->valuestring);
        if (status == 201 && cJSON_IsString(loc))
                reply->location = strdup(loc->valuestring);
        project(res, req);
        reply->status = status;
        reply->json = res;
}

/* Parses an integer query parameter; NULL keeps the default. One past 64 bits is still an
 * integer: strtoll() saturates it, and the caller clamps it into range as RFC 7644 §3.4.2.4 says. */
static int parse_int_param(const char *s, int64_t *ret) {
        char *end;
        long long v;

        if (!s)
                return 0;
        if (!(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if ((errno && errno != ERANGE) || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* A comparison of meta.created or meta.lastModified with something that is not a timestamp can
 * never match: it is a client's mistake (a delta query with a broken "since"), answered 400
 * rather than an empty list that reads as "nothing changed". */
static bool filter_timestamps_valid(const ProvFilter *f) {
        int64_t usec;

        if (!f)
                return true;
        switch (f->op) {
        case PROV_FILTER_AND:
        case PROV_FILTER_OR:
                return filter_timestamps_valid(f->left) && filter_timestamps_valid(f->right);
        case PROV_FILTER_NOT:
                return filter_timestamps_valid(f->left);
        case PROV_FILTER_EQ:
        case PROV_FILTER_NE:
        case PROV_FILTER_GT:
        case PROV_FILTER_GE:
        case PROV_FILTER_LT:
        case PROV_FILTER_LE:
                if (f->attr && (strcasecmp(f->attr, "meta.lastModified") == 0 || strcasecmp(f->attr, "meta.created") == 0))
                        return cJSON_IsString(f->value) && prov_scim_timestamp_parse(f->value->valuestring, &usec) >= 0;
                return true;
        default:
                return true;
        }
}

static void handle_list(HubContext *ctx, const HubRequest *req, ProvHubKind kind, HubReply *reply) {
        _cleanup_(prov_filter_freep) ProvFilter *filter = NULL;
        HubRender how = { .base_url = req->base_url, .with_members = kind == PROV_HUB_GROUP && wants_members(req) };
        HubQuery q = { .start_index = 1, .count = DEFAULT_COUNT };
        ProvScimError err = {};
        int64_t start = 1, count = DEFAULT_COUNT;
        HubPage page = {};
        cJSON *j, *item;
        int r;

        if (req->filter && req->filter[0]) {
                r = prov_filter_parse(req->filter, &filter, &err);
                if (r < 0) {
                        hub_reply_error(reply, &err);
                        return;
                }
                if (!filter_timestamps_valid(filter)) {
                        fail(reply, 400, "invalidFilter", "meta.created and meta.lastModified compare with RFC 3339 timestamps.");
                        return;
                }
                q.filter = filter;
        }
        if (parse_int_param(req->start_index, &start) < 0 || parse_int_param(req->count, &count) < 0) {
                fail(reply, 400, "invalidValue", "startIndex and count must be integers.");
                return;
        }
        /* RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0. */
        q.start_index = start < 1 ? 1 : start > MAX_START_INDEX ? MAX_START_INDEX : start;
        q.count = count < 0 ? 0 : count > MAX_COUNT ? MAX_COUNT : (unsigned) count;
        if (req->has_cursor) {
                q.cursor = true;
                if (req->cursor[0] && hub_cursor_parse(req->cursor, &q.after_cursor) < 0) {
                        fail(reply, 400, "invalidCursor", "The cursor is not one this hub gave out.");
                        return;
                }
        }

        r = hub_store_list(ctx->store, kind, &q, &how, &page, &err);
        if (r < 0) {
                store_failed(ctx->store, reply, r, &err);
                return;
        }

        j = cJSON_CreateObject();
        if (!j) {
                cJSON_Delete(page.resources);
                fail(reply, 500, NULL, "Out of memory.");
                return;
        }
        cJSON_AddItemToObject(j, "schemas", cJSON_CreateStringArray((const char *const[]) { LIST_SCHEMA }, 1));
        cJSON_AddNumberToObject(j, "totalResults", (double) page.total);
        cJSON_AddNumberToObject(j, "itemsPerPage", cJSON_GetArraySize(page.resources));
        if (!q.cursor)
                cJSON_AddNumberToObject(j, "startIndex", (double) q.start_index);
        cJSON_ArrayForEach(item, page.resources)
                project(item, req);
        cJSON_AddItemToObject(j, "Resources", page.resources);
        if (q.cursor && page.next_cursor > 0) {
                _cleanup_free_ char *c = hub_cursor_format(page.next_cursor);

                if (c)
                        cJSON_AddStringToObject(j, "nextCursor", c);
        }
        reply->status = 200;
        reply->json = j;
}

static void handle_get(HubContext *ctx, const HubRequest *req, ProvHubKind kind, const char *id, HubReply *reply) {
        HubRender how = { .base_url = req->base_url, .with_members = kind == PROV_HUB_GROUP && wants_members(req) };
        ProvScimError err = {};
        cJSON *res = NULL;
        int r;

        r = hub_store_get(ctx->store, kind, id, &how, &res);
        if (r < 0) {
                store_failed(ctx->store, reply, r, &err);
                return;
        }
        reply_resource(reply, 200, res, req);
}

/* Parses and normalises a POST or PUT body. */
static int read_resource(const HubRequest *req, ProvHubKind kind, cJSON **ret, HubReply *reply) {
        ProvScimError err = {};
        cJSON *json = NULL;
        int r;

        r = prov_scim_json_parse(req->body, req->body_len, &json, &err);
        if (r >= 0)
                r = prov_scim_resource_normalize(json, kind, &err);
        if (r < 0) {
                if (json)
                        cJSON_Delete(json);
                if (err.status < 400)
                        prov_scim_error_set(&err, 400, "invalidSyntax", "The body is not a valid resource.");
                hub_reply_error(reply, &err);
                return r;
        }
        *ret = json;
        return 0;
}

static void handle_post(HubContext *ctx, const HubRequest *req, ProvHubKind kind, HubReply *reply) {
        HubRender how = { .base_url = req->base_url, .with_members = true };
        HubActor who = { .token_name = req->token_name, .method = req->method };
        ProvScimError err = {};
        cJSON *json = NULL, *res = NULL;
        int r;

        if (read_resource(req, kind, &json, reply) < 0)
                return;
        r = hub_store_create(ctx->store, kind, json, &who, &how, &res, &err);
        cJSON_Delete(json);
        if (r < 0) {
                store_failed(ctx->store, reply, r, &err);
                return;
        }
        reply_resource(reply, 201, res, req);
}

/* PUT: the stored resource becomes the (normalised) body; id and meta.created stay the hub's. */
static int replace_with(cJSON *resource, void *userdata, ProvScimError *err) {
        cJSON *body = userdata, *item;

        while (resource->child)
                cJSON_Delete(cJSON_DetachItemViaPointer(resource, resource->child));
        while ((item = body->child)) {
                cJSON_DetachItemViaPointer(body, item);
                cJSON_AddItemToObject(resource, item->string, item);
                /* AddItemToObject copied the key; the detached item keeps its own string */
        }
        return 0;
}

/* PATCH: the engine applies the operations, then the result is normalised and validated as a
 * POST body would be. */
typedef struct PatchInput {
        const cJSON *body;
        ProvHubKind kind;
} PatchInput;

static int patch_with(cJSON *resource, void *userdata, ProvScimError *err) {
        const PatchInput *in = userdata;
        int r;

        r = prov_scim_patch_apply(resource, in->body, in->kind, err);
        if (r < 0)
                return r;
        return prov_scim_resource_normalize(resource, in->kind, err);
}

static void handle_modify(HubContext *ctx, const HubRequest *req, ProvHubKind kind, const char *id, bool patch,
                          HubReply *reply) {
        HubRender how = { .base_url = req->base_url, .with_members = true };
        HubActor who = { .token_name = req->token_name, .method = req->method };
        ProvScimError err = {};
        cJSON *json = NULL, *res = NULL;
        bool changed = false;
        int r;

        if (patch) {
                r = prov_scim_json_parse(req->body, req->body_len, &json, &err);
                if (r < 0) {
                        hub_reply_error(reply, &err);
                        return;
                }
        } else if (read_resource(req, kind, &json, reply) < 0)
                return;

        PatchInput in = { .body = json, .kind = kind };
        r = hub_store_modify(ctx->store, kind, id, req->if_match, patch ? patch_with : replace_with,
                             patch ? (void *) &in : (void *) json, &who, &how, &res, &changed, &err);
        cJSON_Delete(json);
        if (r < 0) {
                store_failed(ctx->store, reply, r, &err);
                return;
        }
        /* A group's PATCH answers 204 (RFC 7644 §3.5.2 allows it): echoing 50,000 members back to
         * every membership change would cost more than the change. */
        if (patch && kind == PROV_HUB_GROUP && !req->attributes) {
                cJSON *meta = cJSON_GetObjectItemCaseSensitive(res, "meta");
                cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, "version");

                if (cJSON_IsString(v))
                        reply->etag = strdup(v->valuestring);
                cJSON_Delete(res);
                reply->status = 204;
                return;
        }
        reply_resource(reply, 200, res, req);
}

static void handle_delete(HubContext *ctx, const HubRequest *req, ProvHubKind kind, const char *id, HubReply *reply) {
        HubActor who = { .token_name = req->token_name, .method = req->method };
        ProvScimError err = {};
        int r;

        r = hub_store_delete(ctx->store, kind, id, req->if_match, &who, &err);
        if (r < 0) {
                store_failed(ctx->store, reply, r, &err);
                return;
        }
        reply->status = 204;
}

/* The discovery documents (RFC 7644 §4, RFC 9865 for "pagination"). */
static const char service_provider_config[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig\"],"
        "\"documentationUri\":\"man:provision-hub(8)\","
        "\"patch\":{\"supported\":true},"
        "\"bulk\":{\"supported\":false,\"maxOperations\":0,\"maxPayloadSize\":0},"
        "\"filter\":{\"supported\":true,\"maxResults\":1000},"
        "\"changePassword\":{\"supported\":false},"
        "\"sort\":{\"supported\":false},"
        "\"etag\":{\"supported\":true},"
        "\"pagination\":{\"cursor\":true,\"index\":true,\"defaultPaginationMethod\":\"index\","
        "\"defaultPageSize\":100,\"maxPageSize\":1000},"
        "\"authenticationSchemes\":[{\"type\":\"oauthbearertoken\",\"name\":\"OAuth Bearer Token\","
        "\"description\":\"A bearer token made by provision-hub token-new\",\"primary\":true}],"
        "\"meta\":{\"resourceType\":\"ServiceProviderConfig\"}}";

static const char resource_types[] =
        "[{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"User\",\"name\":\"User\","
        "\"endpoint\":\"/Users\",\"description\":\"User Account\",\"schema\":\"" CORE_USER "\","
        "\"schemaExtensions\":[{\"schema\":\"" ENTERPRISE_USER "\",\"required\":false}],"
        "\"meta\":{\"resourceType\":\"ResourceType\"}},"
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"Group\",\"name\":\"Group\","
        "\"endpoint\":\"/Groups\",\"description\":\"Group\",\"schema\":\"" CORE_GROUP "\","
        "\"meta\":{\"resourceType\":\"ResourceType\"}}]";

#define ATTR(name, type, multi, req, uniq) \
        "{\"name\":\"" name "\",\"type\":\"" type "\",\"multiValued\":" multi ",\"required\":" req \
        ",\"caseExact\":false,\"mutability\":\"readWrite\",\"returned\":\"default\",\"uniqueness\":\"" uniq "\"}"

/* One schema of /Schemas, its attributes (ATTR()s separated by commas) given. */
#define SCHEMA(id, name, description, attributes)                                                          \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" id "\",\"name\":\"" name \
        "\",\"description\":\"" description "\",\"attributes\":[" attributes "],"                                \
        "\"meta\":{\"resourceType\":\"Schema\"}}"
/* A single-valued attribute that is neither required nor unique, and a multi-valued one. */
#define ATTR_ONE(name, type) ATTR(name, type, "false", "false", "none")
#define ATTR_MANY(name) ATTR(name, "complex", "true", "false", "none")

static const char schemas[] =
        "[" SCHEMA(CORE_USER, "User", "User Account",
                   ATTR("userName", "string", "false", "true", "server") "," ATTR_ONE("externalId", "string") ","
                   ATTR_ONE("name", "complex") "," ATTR_ONE("displayName", "string") "," ATTR_ONE("title", "string") ","
                   ATTR_ONE("active", "boolean") "," ATTR_MANY("emails") "," ATTR_MANY("phoneNumbers") ","
                   ATTR_MANY("groups")) ","
        SCHEMA(CORE_GROUP, "Group", "Group",
               ATTR("displayName", "string", "false", "true", "none") "," ATTR_ONE("externalId", "string") ","
               ATTR_MANY("members")) ","
        SCHEMA(ENTERPRISE_USER, "EnterpriseUser", "Enterprise User",
               ATTR_ONE("employeeNumber", "string") "," ATTR_ONE("department", "string") ","
               ATTR_ONE("manager", "complex")) "]";

/* /Schemas and /ResourceTypes: a ListResponse, or the one entry whose id follows the slash. */
static void handle_discovery_list(const char *text, const char *id, HubReply *reply) {
        cJSON *all = cJSON_Parse(text), *item, *j;

        if (!all) {
                fail(reply, 500, NULL, "Out of memory.");
                return;
        }
        if (id) {
                cJSON_ArrayForEach(item, all) {
                        cJSON *i = cJSON_GetObjectItemCaseSensitive(item, "id");

                        if (cJSON_IsString(i) && strcasecmp(i->valuestring, id) == 0) {
                                reply->status = 200;
                                reply->json = cJSON_DetachItemViaPointer(all, item);
                                cJSON_Delete(all);
                                return;
                        }
                }
                cJSON_Delete(all);
                fail(reply, 404, NULL, "No such schema or resource type.");
                return;
        }
        j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "schemas", cJSON_CreateStringArray((const char *const[]) { LIST_SCHEMA }, 1));
        cJSON_AddNumberToObject(j, "totalResults", cJSON_GetArraySize(all));
        cJSON_AddNumberToObject(j, "itemsPerPage", cJSON_GetArraySize(all));
        cJSON_AddNumberToObject(j, "startIndex", 1);
        cJSON_AddItemToObject(j, "Resources", all);
        reply->status = 200;
        reply->json = j;
}

/* "/Users/ID" → "Users" and "ID"; an id has no further slash. The endpoint's name matches
 * case-insensitively ("/users/" too: some IdP templates lowercase it), the id exactly. */
static bool split_path(const char *path, const char *what, const char **ret_id) {
        size_t n = strlen(what);

        if (path[0] != '/' || strncasecmp(path + 1, what, n) != 0)
                return false;
        if (path[1 + n] == 0 || (path[1 + n] == '/' && path[2 + n] == 0)) {
                *ret_id = NULL;
                return true;
        }
        if (path[1 + n] != '/' || strchr(path + 2 + n, '/'))
                return false;
        *ret_id = path + 2 + n;
        return true;
}

void hub_handle_scim(HubContext *ctx, const HubRequest *req, HubReply *reply) {
        static const struct {
                const char *name;
                ProvHubKind kind;
        } kinds[] = { { "Users", PROV_HUB_USER }, { "Groups", PROV_HUB_GROUP } };
        const char *m = req->method, *id;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                if (!split_path(req->path, kinds[i].name, &id))
                        continue;
                if (!id) {
                        if (streq(m, "GET"))
                                handle_list(ctx, req, kinds[i].kind, reply);
                        else if (streq(m, "POST"))
                                handle_post(ctx, req, kinds[i].kind, reply);
                        else
                                fail(reply, 405, NULL, "Method not allowed here.");
                        return;
                }
                if (streq(m, "GET"))
                        handle_get(ctx, req, kinds[i].kind, id, reply);
                else if (streq(m, "PUT"))
                        handle_modify(ctx, req, kinds[i].kind, id, false, reply);
                else if (streq(m, "PATCH"))
                        handle_modify(ctx, req, kinds[i].kind, id, true, reply);
                else if (streq(m, "DELETE"))
                        handle_delete(ctx, req, kinds[i].kind, id, reply);
                else
                        fail(reply, 405, NULL, "Method not allowed here.");
                return;
        }

        if (split_path(req->path, "ServiceProviderConfig", &id) && !id) {
                if (!streq(m, "GET")) {
                        fail(reply, 405, NULL, "Method not allowed here.");
                        return;
                }
                reply->json = cJSON_Parse(service_provider_config);
                reply->status = reply->json ? 200 : 500;
                return;
        }
        if (split_path(req->path, "Schemas", &id) || split_path(req->path, "ResourceTypes", &id)) {
                if (!streq(m, "GET")) {
                        fail(reply, 405, NULL, "Method not allowed here.");
                        return;
                }
                handle_discovery_list(strncasecmp(req->path, "/Schemas", 8) == 0 ? schemas : resource_types, id, reply);
                return;
        }
        fail(reply, 404, NULL, "No such endpoint.");
}
