/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-fleet.h"
#include "hub-store-db.h"
#include "hub-util.h"
#include "log.h"
#include "prov-time.h"
#include "scim-resource.h"

/* Outcomes in one POST /v1/acks. */
#define ACKS_MAX 1000

/* The enforcement steps a host may report of a leaver (syncd's enforce.h), and their outcomes. */
static const char *const ack_steps[] = { "logind", "kill", "nscd", "hooks" };
static const char *const ack_step_outcomes[] = { "ok", "failed", "skipped" };

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static bool chars_in(const char *s, size_t min, size_t max, const char *extra) {
        size_t n = 0;

        for (const char *c = s; *c; c++, n++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr(extra, *c)))
                        return false;
        return n >= min && n <= max;
}

static bool machine_id_valid(const char *s) {
        size_t n = 0;

        for (const char *c = s; *c; c++, n++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return n == 32;
}

int hub_fleet_poll_parse(const char *host_id, const char *hostname, const char *version, HubHostPoll *ret,
                         ProvScimError *err) {
        if (host_id && !machine_id_valid(host_id))
                return prov_scim_error_set(err, 400, NULL, "host= must be a machine ID (32 lowercase hex digits).");
        if (hostname && !chars_in(hostname, 1, 253, ".-_"))
                return prov_scim_error_set(err, 400, NULL, "hostname= is not a host name.");
        if (version && !chars_in(version, 1, 64, ".+~_-"))
                return prov_scim_error_set(err, 400, NULL, "version= is not a version.");
        ret->host_id = host_id;
        ret->hostname = hostname;
        ret->version = version;
        return 0;
}

/* The one text a statement answers with ?1 (and ?2) bound: 1 found, 0 none. */
static int bound_text(HubDb *db, const char *sql, const char *a, const char *b, char **ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        int r;

        *ret = NULL;
        r = hub_db_prepare(db, sql, &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, a)) < 0 || (b && (r = hub_db_bind_text(st, 2, b)) < 0))
                return r;
        r = hub_db_step(st);
        if (r <= 0)
                return r;
        r = hub_db_column_strdup(st, 0, false, ret);
        return r < 0 ? r : 1;
}

static int token_taken(ProvScimError *err, const char *token_name, const char *owner) {
        return prov_scim_error_set(err, 403, NULL,
                                   "The host token '%s' is marked 'bind' and belongs to another host (%s): give this "
                                   "host its own token.",
                                   token_name, owner);
}

int hub_fleet_bind(HubStore *s, const HubTokens *tokens, const char *token_name, const char *host_id,
                   ProvScimError *err) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_free_ char *bound = NULL, *owner = NULL;
        HubDb *db = hub_store_db(s);
        bool shared = false, owner_shared = false;
        int r;

        if (!host_id || !token_name)
                return 0;
        /* A scope of its own, as a poll's record (hub_fleet_host_seen()). */
        r = hub_db_begin(db, &tx);
        if (r < 0)
                return r;
        (void) hub_tokens_find(tokens, HUB_ROLE_HOST, token_name, &shared);
        r = bound_text(db, "SELECT host_id FROM token_hosts WHERE token_name = ?1", token_name, NULL, &bound);
        if (r < 0)
                return r;
        if (r > 0 && !shared && !streq(bound, host_id))
                return token_taken(err, token_name, bound);
        /* A host bound to another token: refused while that token is loaded and marked bind (a
         * host whose token was replaced, or whose token no longer binds, is bound again to the
         * new one). */
        r = bound_text(db, "SELECT token_name FROM token_hosts WHERE host_id = ?1 AND token_name != ?2", host_id,
                       token_name, &owner);
        if (r < 0)
                return r;
        if (r > 0 && hub_tokens_find(tokens, HUB_ROLE_HOST, owner, &owner_shared) >= 0 && !owner_shared)
                return prov_scim_error_set(err, 403, NULL,
                                           "Host %s belongs to the host token '%s': a host reports with its own token "
                                           "only.", host_id, owner);
        if (shared || (bound && streq(bound, host_id)))
                return hub_db_commit(&tx);
        /* The first binder wins: another replica may have bound the token since it was read
         * above. Its uncommitted row makes this INSERT wait for its commit and then do nothing;
         * the owner is read again (READ COMMITTED: a new snapshot) and this host refused. */
        r = hub_db_prepare(db,
                           "INSERT INTO token_hosts (token_name, host_id, bound_usec) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (token_name) DO NOTHING",
                           &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, token_name)) < 0 || (r = hub_db_bind_text(st, 2, host_id)) < 0)
                return r;
        if (hub_db_bind_int64(st, 3, hub_now_usec()) < 0)
                return -EIO;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        if (hub_db_changes(db) == 0) {
                _cleanup_free_ char *winner = NULL;

                r = bound_text(db, "SELECT host_id FROM token_hosts WHERE token_name = ?1", token_name, NULL, &winner);
                if (r < 0)
                        return r;
                if (r == 0 || !streq(winner, host_id))
                        return token_taken(err, token_name, winner ?: "another");
                return hub_db_commit(&tx);
        }
        if (owner) {
                /* The replaced token's binding goes: its host is this token's now. */
                _cleanup_db_finalize_ HubStmt *del = NULL;

                r = hub_db_prepare(db, "DELETE FROM token_hosts WHERE token_name = ?1", &del);
                if (r < 0)
                        return r;
                if ((r = hub_db_bind_text(del, 1, owner)) < 0)
                        return r;
                r = hub_db_run(del);
                if (r < 0)
                        return r;
        }
        r = hub_db_commit(&tx);
        if (r < 0)
                return r;
        log_info("Host token '%s' is now bound to host %s.", token_name, host_id);
        return 0;
}

int hub_fleet_host_seen(HubStore *s, const HubHostPoll *poll) {
        _cleanup_db_tx_ HubDbTx tx = {};
        _cleanup_db_finalize_ HubStmt *st = NULL;
        HubDb *db = hub_store_db(s);
        int64_t now = hub_now_usec();
        int r;

        if (!poll->host_id)
                return 0;
        /* A scope of its own (a savepoint in the batch): on PostgreSQL a failed statement
         * aborts the transaction it runs in, and a poll's record must not take the batch's
         * changes with it. */
        r = hub_db_begin(db, &tx);
        if (r < 0)
                return r;
        r = hub_db_prepare(db,
                           "INSERT INTO hosts (host_id, hostname, version, token_name, applied_seq, first_seen_usec,"
                           " last_seen_usec, due_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT (host_id)"
                           " DO UPDATE SET hostname = coalesce(?2, hosts.hostname),"
                           " version = coalesce(?3, hosts.version), token_name = ?4, applied_seq = ?5, last_seen_usec = ?6, due_usec = ?7",
                           &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, poll->host_id)) < 0 ||
            (r = hub_db_bind_text(st, 2, poll->hostname)) < 0 ||
            (r = hub_db_bind_text(st, 3, poll->version)) < 0 ||
            (r = hub_db_bind_text(st, 4, poll->token_name)) < 0)
                return r;
        if (hub_db_bind_int64(st, 5, poll->applied) < 0 || hub_db_bind_int64(st, 6, now) < 0 ||
            hub_db_bind_int64(st, 7, now + ((int64_t) poll->wait + HUB_FLEET_MARGIN_SEC) * USEC_PER_SEC_I64) < 0)
                return -EIO;
        r = hub_db_run(st);
        if (r < 0)
                return r;
        return hub_db_commit(&tx);
}

static bool one_of(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

/* An outcome's optional "steps": an object of known steps with known outcomes. Rendered anew
 * (compact, known keys only) into *ret, or NULL when absent. */
static int ack_steps_render(const cJSON *steps, char **ret) {
        const cJSON *step;

        *ret = NULL;
        if (!steps)
                return 0;
        if (!cJSON_IsObject(steps) || cJSON_GetArraySize(steps) > (int) ELEMENTSOF(ack_steps))
                return -EINVAL;
        cJSON_ArrayForEach(step, steps)
                if (!step->string || !one_of(step->string, ack_steps, ELEMENTSOF(ack_steps)) ||
                    cJSON_GetObjectItemCaseSensitive(steps, step->string) != step || /* twice */
                    !cJSON_IsString(step) || !one_of(step->valuestring, ack_step_outcomes, ELEMENTSOF(ack_step_outcomes)))
                        return -EINVAL;
        *ret = cJSON_PrintUnformatted(steps);
        return *ret ? 0 : -ENOMEM;
}

int hub_fleet_acks(HubStore *s, const HubTokens *tokens, const char *token_name, const char *body, size_t len,
                   ProvScimError *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_db_tx_ HubDbTx tx = {};
        HubDb *db = hub_store_db(s);
        const cJSON *host, *outcomes, *o;
        int64_t now = hub_now_usec(), head;
        int r;

        r = prov_scim_json_parse(body, len, &doc, err);
        if (r < 0)
                return r;
        host = cJSON_GetObjectItemCaseSensitive(doc, "host");
        outcomes = cJSON_GetObjectItemCaseSensitive(doc, "outcomes");
        if (!cJSON_IsString(host) || !machine_id_valid(host->valuestring))
                return prov_scim_error_set(err, 400, "invalidValue", "\"host\" must be a machine ID.");
        if (!cJSON_IsArray(outcomes) || cJSON_GetArraySize(outcomes) > ACKS_MAX)
                return prov_scim_error_set(err, 400, "invalidValue", "\"outcomes\" must be an array of at most %d.",
                                           ACKS_MAX);
        /* Everything is checked before anything is written. */
        cJSON_ArrayForEach(o, outcomes) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
                const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
                const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(o, "sessions");
                const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "result");
                _cleanup_free_ char *steps = NULL;

                r = ack_steps_render(cJSON_GetObjectItemCaseSensitive(o, "steps"), &steps);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return prov_scim_error_set(err, 400, "invalidValue",
                                                   "An outcome's \"steps\" maps logind, kill, nscd or hooks to ok, "
                                                   "failed or skipped.");
                if (!cJSON_IsString(id) || !chars_in(id->valuestring, 1, 255, "-_.:@") || !cJSON_IsNumber(seq) ||
                    seq->valuedouble < 0 || seq->valuedouble > 9007199254740991.0 || !cJSON_IsNumber(sessions) ||
                    sessions->valuedouble < 0 || sessions->valuedouble > 1000000 || !cJSON_IsString(result) ||
                    !(streq(result->valuestring, "terminated") || streq(result->valuestring, "none") ||
                      streq(result->valuestring, "failed")))
                        return prov_scim_error_set(err, 400, "invalidValue",
                                                   "An outcome needs \"id\", \"seq\", \"sessions\" and \"result\" "
                                                   "(terminated, none or failed).");
        }
        /* An outcome is of a change the host has: one past the head would be kept over every
         * later ack of the user by the host (a lower seq) and reported for its next leave. */
        r = hub_store_head(s, &head);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(o, outcomes)
                if (cJSON_GetObjectItemCaseSensitive(o, "seq")->valuedouble > (double) head)
                        return prov_scim_error_set(err, 400, "invalidValue",
                                                   "An outcome's \"seq\" is past this hub's head %" PRIi64 ".", head);

        r = hub_db_begin(db, &tx);
        if (r < 0)
                return r;
        r = hub_fleet_bind(s, tokens, token_name, host->valuestring, err);
        if (r < 0)
                return r;
        r = hub_db_prepare(db,
                           "INSERT INTO outcomes (host_id, user_id, seq, sessions, result, time_usec, steps)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (user_id, host_id) DO UPDATE SET"
                           " seq = ?3, sessions = ?4, result = ?5, time_usec = ?6, steps = ?7"
                           " WHERE ?3 >= outcomes.seq",
                           &st);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(o, outcomes) {
                _cleanup_free_ char *steps = NULL;

                hub_db_reset(st);
                r = ack_steps_render(cJSON_GetObjectItemCaseSensitive(o, "steps"), &steps);
                if (r < 0)
                        return r; /* checked above: out of memory */
                if ((r = hub_db_bind_text(st, 7, steps)) < 0 ||
                    (r = hub_db_bind_text(st, 1, host->valuestring)) < 0 ||
                    (r = hub_db_bind_text(st, 2, cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring)) < 0 ||
                    (r = hub_db_bind_text(st, 5, cJSON_GetObjectItemCaseSensitive(o, "result")->valuestring)) < 0)
                        return r;
                if (hub_db_bind_int64(st, 3, (int64_t) cJSON_GetObjectItemCaseSensitive(o, "seq")->valuedouble) < 0 ||
                    hub_db_bind_int64(st, 4, (int64_t) cJSON_GetObjectItemCaseSensitive(o, "sessions")->valuedouble) < 0 ||
                    hub_db_bind_int64(st, 6, now) < 0)
                        return -EIO;
                r = hub_db_run(st);
                if (r < 0)
                        return r;
        }
        return hub_db_commit(&tx);
}

/* ---- reports ---- */

static int add_time(cJSON *o, const char *key, int64_t usec) {
        char ts[HUB_TIMESTAMP_MAX];

        return cJSON_AddStringToObject(o, key, hub_format_timestamp(usec, ts)) ? 0 : -ENOMEM;
}

static int host_json(HubStmt *st, int64_t head, bool live, cJSON **ret) {
        cJSON *h = cJSON_CreateObject();
        const char *name = hub_db_column_text(st, 1);
        const char *version = hub_db_column_text(st, 2);
        int64_t applied = hub_db_column_int64(st, 3);

        if (!h || !cJSON_AddStringToObject(h, "host", hub_db_column_text(st, 0)) ||
            (name && !cJSON_AddStringToObject(h, "hostname", name)) ||
            (version && !cJSON_AddStringToObject(h, "version", version)) ||
            !cJSON_AddNumberToObject(h, "appliedSeq", (double) applied) ||
            (head >= 0 && !cJSON_AddNumberToObject(h, "behind", (double) (head > applied ? head - applied : 0))) ||
            add_time(h, "lastSeen", hub_db_column_int64(st, 4)) < 0 || !cJSON_AddBoolToObject(h, "live", live)) {
                cJSON_Delete(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

#define HOST_COLUMNS "host_id, hostname, version, applied_seq, last_seen_usec, due_usec"

int hub_fleet_hosts(HubStore *s, cJSON **ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        HubDb *db = hub_store_db(s);
        int64_t head = 0, now = hub_now_usec();
        cJSON *arr;
        int r;

        r = hub_store_head(s, &head);
        if (r < 0)
                return r;
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "seq", (double) head) || !(arr = cJSON_AddArrayToObject(o, "hosts")))
                return -ENOMEM;
        r = hub_db_prepare(db, "SELECT " HOST_COLUMNS " FROM hosts ORDER BY hostname NULLS FIRST, host_id", &st);
        if (r < 0)
                return r;
        while ((r = hub_db_step(st)) > 0) {
                cJSON *h;

                r = host_json(st, head, hub_db_column_int64(st, 5) >= now, &h);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(arr, h);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int hub_fleet_lag(HubStore *s, int64_t head, HubFleetLag *ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        HubDb *db = hub_store_db(s);
        int r;

        r = hub_db_prepare(db,
                           "SELECT count(*) FILTER (WHERE due_usec >= ?2 AND ?1 - applied_seq <= 0),"
                           " count(*) FILTER (WHERE due_usec >= ?2 AND ?1 - applied_seq BETWEEN 1 AND 10),"
                           " count(*) FILTER (WHERE due_usec >= ?2 AND ?1 - applied_seq BETWEEN 11 AND 1000),"
                           " count(*) FILTER (WHERE due_usec >= ?2 AND ?1 - applied_seq > 1000),"
                           " count(*) FILTER (WHERE due_usec < ?2) FROM hosts",
                           &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, head) < 0 || hub_db_bind_int64(st, 2, hub_now_usec()) < 0)
                return -EIO;
        r = hub_db_step(st);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        *ret = (HubFleetLag) {
                .current = (uint64_t) hub_db_column_int64(st, 0),
                .behind_10 = (uint64_t) hub_db_column_int64(st, 1),
                .behind_1000 = (uint64_t) hub_db_column_int64(st, 2),
                .behind_more = (uint64_t) hub_db_column_int64(st, 3),
                .silent = (uint64_t) hub_db_column_int64(st, 4),
        };
        return 0;
}

/* What took the user's access away, most recent first: a delete (after NULL), a lock (after
 * {"locked": true}) or a deactivation (after active false, before not). */
typedef struct Leave {
        const char *what;
        int64_t seq, usec;
        char *by;
} Leave;

static const char *leave_kind(const char *before, const char *after) {
        _cleanup_(cJSON_Deletep) cJSON *b = before ? cJSON_Parse(before) : NULL, *a = after ? cJSON_Parse(after) : NULL;
        const cJSON *locked, *active_a, *active_b;

        if (!after)
                return "deleted";
        locked = cJSON_GetObjectItemCaseSensitive(a, "locked");
        if (cJSON_IsTrue(locked))
                return "locked";
        active_a = cJSON_GetObjectItemCaseSensitive(a, "active");
        active_b = cJSON_GetObjectItemCaseSensitive(b, "active");
        if (cJSON_IsFalse(active_a) && !cJSON_IsFalse(active_b) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "locked")))
                return "deactivated";
        return NULL;
}

static int find_leave(HubStore *s, const char *user_id, Leave *ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        HubDb *db = hub_store_db(s);
        int r;

        r = hub_db_prepare(db,
                           "SELECT change_seq, time_usec, token_name, before_json, after_json FROM audit"
                           " WHERE id = ?1 AND kind = 'User' ORDER BY seq DESC",
                           &st);
        if (r < 0)
                return r;
        r = hub_db_bind_text(st, 1, user_id);
        if (r < 0)
                return r;
        while ((r = hub_db_step(st)) > 0) {
                const char *what = leave_kind(hub_db_column_text(st, 3),
                                              hub_db_column_text(st, 4));

                if (!what)
                        continue;
                *ret = (Leave) { .what = what, .seq = hub_db_column_int64(st, 0), .usec = hub_db_column_int64(st, 1) };
                r = hub_db_column_strdup(st, 2, true, &ret->by);
                return r < 0 ? r : 1;
        }
        return r;
}

int hub_fleet_leaver_report(HubStore *s, const char *user_id, cJSON **ret,
                            ProvScimError *err) {
        const HubRender how = { .base_url = NULL, .with_members = false, .fleet = true };
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = NULL, *user = NULL;
        cJSON *hosts, *lagging, *silent, *outcomes;
        HubDb *db = hub_store_db(s);
        int64_t now = hub_now_usec(), known = 0, live = 0, applied = 0, terminated = 0;
        Leave leave = {};
        int r;

        r = hub_store_get(s, PROV_HUB_USER, user_id, &how, &user);
        if (r < 0 && r != -ENOENT)
                return r;
        r = find_leave(s, user_id, &leave);
        if (r < 0)
                return r;
        if (!user && r == 0)
                return prov_scim_error_set(err, 404, NULL, "This hub never knew that user.");

        o = cJSON_CreateObject();
        if (!o || !cJSON_AddStringToObject(o, "id", user_id))
                goto oom;
        if (user && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(user, "userName")) &&
            !cJSON_AddStringToObject(o, "userName", cJSON_GetObjectItemCaseSensitive(user, "userName")->valuestring))
                goto oom;
        if (user && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(user, "active"))) {
                /* Served active: not a leaver (now). */
                free(leave.by);
                if (!cJSON_AddStringToObject(o, "state", "active"))
                        return -ENOMEM;
                *ret = TAKE_PTR(o);
                return 0;
        }
        if (r == 0) {
                /* Inactive since it was created: nothing was taken away, every host has it so. */
                leave = (Leave) { .what = "deactivated", .seq = 0 };
        }
        if (!cJSON_AddStringToObject(o, "state", leave.what) || !cJSON_AddNumberToObject(o, "seq", (double) leave.seq) ||
            (leave.usec > 0 && add_time(o, "at", leave.usec) < 0) || (leave.by && !cJSON_AddStringToObject(o, "by", leave.by)))
                goto oom;
        free(leave.by);
        leave.by = NULL;

        hosts = cJSON_AddObjectToObject(o, "hosts");
        lagging = cJSON_AddArrayToObject(o, "lagging");
        silent = cJSON_AddArrayToObject(o, "silent");
        outcomes = cJSON_AddArrayToObject(o, "outcomes");
        if (!hosts || !lagging || !silent || !outcomes)
                return -ENOMEM;

        r = hub_db_prepare(db,
                           "SELECT h.host_id, h.hostname, h.version, h.applied_seq, h.last_seen_usec,"
                           " h.due_usec, o.sessions, o.result, o.steps FROM hosts h LEFT JOIN outcomes o"
                           " ON o.host_id = h.host_id AND o.user_id = ?1 AND o.seq >= ?2 ORDER BY h.hostname NULLS FIRST, h.host_id",
                           &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, user_id)) < 0)
                return r;
        if (hub_db_bind_int64(st, 2, leave.seq) < 0)
                return -EIO;
        while ((r = hub_db_step(st)) > 0) {
                bool is_live = hub_db_column_int64(st, 5) >= now;
                bool has_applied = hub_db_column_int64(st, 3) >= leave.seq;
                cJSON *h;

                known++;
                live += is_live;
                applied += is_live && has_applied;
                if (!hub_db_column_is_null(st, 6)) {
                        const char *result = hub_db_column_text(st, 7);
                        const char *steps = hub_db_column_text(st, 8);
                        cJSON *steps_json = steps ? cJSON_Parse(steps) : NULL;

                        terminated += result && streq(result, "terminated");
                        r = host_json(st, -1, is_live, &h);
                        if (r < 0) {
                                cJSON_Delete(steps_json);
                                return r;
                        }
                        if (!cJSON_AddNumberToObject(h, "sessions", (double) hub_db_column_int64(st, 6)) ||
                            !cJSON_AddStringToObject(h, "result", result ?: "") ||
                            (steps_json && !cJSON_AddItemToObject(h, "steps", steps_json))) {
                                cJSON_Delete(steps_json);
                                cJSON_Delete(h);
                                return -ENOMEM;
                        }
                        cJSON_AddItemToArray(outcomes, h);
                }
                if (has_applied)
                        continue;
                r = host_json(st, -1, is_live, &h);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(is_live ? lagging : silent, h);
        }
        if (r < 0)
                return r;
        if (!cJSON_AddNumberToObject(hosts, "known", (double) known) || !cJSON_AddNumberToObject(hosts, "live", (double) live) ||
            !cJSON_AddNumberToObject(hosts, "applied", (double) applied) ||
            !cJSON_AddNumberToObject(hosts, "sessionsTerminated", (double) terminated))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
oom:
        free(leave.by);
        return -ENOMEM;
}
