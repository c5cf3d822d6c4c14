/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "hub-fleet.h"
#include "hub-http.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* The admin API below /v1/admin (admin tokens only; the HTTP layer checked the role):
 *   POST /users/{id}/lock     the fleet-wide kill switch: the user is served inactive
 *   POST /users/{id}/unlock   everywhere at once, whatever the IdP sends, until unlocked.
 *   GET /leavers/{id}         "is their access gone?" (hub_fleet_leaver_report())
 *   GET /hosts                every host following the feed, its seq and lag
 *   GET /holds                deactivations and deletions held by the mass-deactivation guard
 *   POST /holds/approve       releases them to the fleet (hub_store_hold_approve())
 * Answers {"id", "locked", "changed", "seq"}: changed false when it was so already. The change is
 * committed like any other (group commit, answered once on disk) and audited with the admin
 * token's NAME. */

static void admin_fail(HubReply *reply, int status, const char *detail) {
        ProvScimError e = {};

        prov_scim_error_set(&e, status, NULL, "%s", detail);
        hub_reply_error(reply, &e);
}

/* "/users/ID/VERB": the id (copied into buf) and the verb; false for any other path. */
static bool split_user_verb(const char *path, char *buf, size_t size, const char **ret_verb) {
        const char *id, *slash;

        if (strncmp(path, "/users/", 7) != 0)
                return false;
        id = path + 7;
        slash = strchr(id, '/');
        if (!slash || slash == id || (size_t) (slash - id) >= size || strchr(slash + 1, '/'))
                return false;
        memcpy(buf, id, slash - id);
        buf[slash - id] = 0;
        *ret_verb = slash + 1;
        return true;
}

static void handle_lock(HubContext *ctx, const HubRequest *req, const char *id, bool lock, HubReply *reply) {
        const HubActor who = { .token_name = req->token_name, .method = lock ? "LOCK" : "UNLOCK" };
        ProvScimError err = {};
        bool changed = false;
        int64_t head = 0;
        cJSON *j;
        int r;

        r = hub_store_lock(ctx->store, id, lock, &who, &changed, &err);
        if (r < 0) {
                if (err.status >= 400)
                        hub_reply_error(reply, &err);
                else if (r == -ENOENT)
                        admin_fail(reply, 404, "No such user.");
                else {
                        log_error_errno(r, "Store failure: %s (%m)", hub_store_errmsg(ctx->store) ?: "");
                        admin_fail(reply, 503, "The store is unavailable; retry.");
                }
                return;
        }
        if (changed)
                log_notice("User %s %s fleet-wide by admin token '%s'.", id, lock ? "locked" : "unlocked",
                           req->token_name);
        (void) hub_store_head(ctx->store, &head);
        j = cJSON_CreateObject();
        if (!j || !cJSON_AddStringToObject(j, "id", id) || !cJSON_AddBoolToObject(j, "locked", lock) ||
            !cJSON_AddBoolToObject(j, "changed", changed) || !cJSON_AddNumberToObject(j, "seq", (double) head)) {
                cJSON_Delete(j);
                admin_fail(reply, 500, "Out of memory.");
                return;
        }
        reply->json = j;
        reply->status = 200;
}

/* A report: 200 with it, or the error. */
static void reply_report(HubContext *ctx, int r, cJSON *json, const ProvScimError *err, HubReply *reply) {
        if (r >= 0) {
                reply->json = json;
                reply->status = 200;
        } else if (err && err->status >= 400)
                hub_reply_error(reply, err);
        else {
                log_error_errno(r, "Store failure: %s (%m)", hub_store_errmsg(ctx->store) ?: "");
                admin_fail(reply, 503, "The store is unavailable; retry.");
        }
}

void hub_handle_acks(HubContext *ctx, const HubRequest *req, HubReply *reply) {
        ProvScimError err = {};
        int r;

        if (!streq(req->path, "/acks")) {
                admin_fail(reply, 404, "No such endpoint.");
                return;
        }
        if (!streq(req->method, "POST")) {
                admin_fail(reply, 405, "Method not allowed here.");
                return;
        }
        r = hub_fleet_acks(ctx->store, ctx->tokens, req->role == HUB_ROLE_HOST ? req->token_name : NULL, req->body,
                           req->body_len, &err);
        if (r < 0) {
                reply_report(ctx, r, NULL, &err, reply);
                return;
        }
        reply->status = 204;
}

/* The optional body of POST /holds/approve: {"hold": N, "count": N}, the hold and how many held
 * users the admin reviewed (hub_store_hold_approve() checks both); an empty body approves
 * whichever hold is open, unchecked. -EINVAL for anything else. */
static int approve_args(const HubRequest *req, int64_t *ret_hold, int64_t *ret_count) {
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        const cJSON *hold, *count;

        if (req->body_len == 0)
                return 0;
        body = cJSON_ParseWithLength(req->body, req->body_len);
        if (!cJSON_IsObject(body) || cJSON_GetArraySize(body) != 2)
                return -EINVAL;
        hold = cJSON_GetObjectItemCaseSensitive(body, "hold");
        count = cJSON_GetObjectItemCaseSensitive(body, "count");
        if (!cJSON_IsNumber(hold) || !cJSON_IsNumber(count) || hold->valuedouble < 1 || hold->valuedouble > 1e15 ||
            hold->valuedouble != (double) (int64_t) hold->valuedouble || count->valuedouble < 0 ||
            count->valuedouble > 1e15 || count->valuedouble != (double) (int64_t) count->valuedouble)
                return -EINVAL;
        *ret_hold = (int64_t) hold->valuedouble;
        *ret_count = (int64_t) count->valuedouble;
        return 0;
}

void hub_handle_admin(HubContext *ctx, const HubRequest *req, HubReply *reply) {
        ProvScimError err = {};
        cJSON *json = NULL;
        char id[256];
        const char *verb;
        int r;

        if (strncmp(req->path, "/leavers/", 9) == 0 && req->path[9] && !strchr(req->path + 9, '/')) {
                if (!streq(req->method, "GET")) {
                        admin_fail(reply, 405, "Method not allowed here.");
                        return;
                }
                r = hub_fleet_leaver_report(ctx->store, req->path + 9, &json, &err);
                reply_report(ctx, r, json, &err, reply);
                return;
        }
        if (streq(req->path, "/holds") || streq(req->path, "/holds/approve")) {
                const HubActor who = { .token_name = req->token_name, .method = "APPROVE" };
                int64_t released = 0, hold = 0, count = -1;
                bool approve = streq(req->path, "/holds/approve");

                if (!streq(req->method, approve ? "POST" : "GET")) {
                        admin_fail(reply, 405, "Method not allowed here.");
                        return;
                }
                if (!approve) {
                        r = hub_store_holds(ctx->store, &json);
                        reply_report(ctx, r, json, NULL, reply);
                        return;
                }
                r = approve_args(req, &hold, &count);
                if (r < 0) {
                        admin_fail(reply, 400, "The body must be empty or {\"hold\": N, \"count\": N}.");
                        return;
                }
                r = hub_store_hold_approve(ctx->store, hold, count, &who, &released, &err);
                if (r >= 0) {
                        log_notice("Held deactivations approved by admin token '%s': %" PRIi64 " user(s) released.",
                                   req->token_name, released);
                        json = cJSON_CreateObject();
                        if (!json || !cJSON_AddNumberToObject(json, "released", (double) released)) {
                                cJSON_Delete(json);
                                r = -ENOMEM;
                        }
                }
                reply_report(ctx, r, json, &err, reply);
                return;
        }
        if (streq(req->path, "/hosts")) {
                if (!streq(req->method, "GET")) {
                        admin_fail(reply, 405, "Method not allowed here.");
                        return;
                }
                r = hub_fleet_hosts(ctx->store, &json);
                reply_report(ctx, r, json, NULL, reply);
                return;
        }

        if (split_user_verb(req->path, id, sizeof(id), &verb) && (streq(verb, "lock") || streq(verb, "unlock"))) {
                if (!streq(req->method, "POST")) {
                        admin_fail(reply, 405, "Method not allowed here.");
                        return;
                }
                handle_lock(ctx, req, id, streq(verb, "lock"), reply);
                return;
        }
        admin_fail(reply, 404, "No such endpoint.");
}
