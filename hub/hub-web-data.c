/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub-fleet.h"
#include "hub-store-db.h"
#include "hub-web.h"
#include "prov-time.h"

/* What the fleet page reads from the store. Read-only queries, written once for both backends
 * (the SQL below is the same text on SQLite and PostgreSQL). The directory's tables are read
 * here, never written: every change goes through hub-store.c. */

static int cmp_int64_desc(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

        return x < y ? 1 : x > y ? -1 : 0;
}

int hub_web_leavers(HubStore *s, int64_t since, cJSON **ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray();
        HubDb *db = hub_store_db(s);
        char ids[HUB_WEB_MAX_LEAVERS][256];
        size_t n = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        /* The users whose audit moved last, newest first; the report says whether they left. */
        r = hub_db_prepare(db,
                           "SELECT id FROM audit WHERE kind = 'User' AND time_usec >= ?1"
                           " GROUP BY id ORDER BY max(seq) DESC LIMIT 200",
                           &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, since) < 0)
                return -EIO;
        while (n < HUB_WEB_MAX_LEAVERS && (r = hub_db_step(st)) > 0) {
                const char *id = hub_db_column_text(st, 0);

                if (!id || strlen(id) >= sizeof(ids[0]))
                        continue;
                strcpy(ids[n++], id);
        }
        if (r < 0)
                return r;
        hub_db_finalizep(&st);

        for (size_t i = 0; i < n; i++) {
                ProvScimError err = {};
                cJSON *report = NULL;
                const cJSON *state;

                r = hub_fleet_leaver_report(s, ids[i], &report, &err);
                if (r == -ENOENT || (r < 0 && err.status == 404))
                        continue;
                if (r < 0)
                        return r;
                state = cJSON_GetObjectItemCaseSensitive(report, "state");
                if (!cJSON_IsString(state) || streq(state->valuestring, "active")) {
                        cJSON_Delete(report);
                        continue;
                }
                cJSON_AddItemToArray(arr, report);
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

/* One SCIM token's writes, as the newest audit rows show them. */
typedef struct Source {
        char *name;
        int64_t last, last_hour;
        int64_t times[64]; /* distinct push times, newest first */
        size_t n_times;
} Source;

static bool is_idp_write(const char *method) {
        /* LOCK, UNLOCK and APPROVE are an admin's; the IdPs write with SCIM's methods. */
        return method && (streq(method, "POST") || streq(method, "PUT") || streq(method, "PATCH") ||
                          streq(method, "DELETE"));
}

static int64_t median_interval_usec(const Source *src) {
        int64_t d[63];
        size_t n = 0;

        for (size_t i = 1; i < src->n_times; i++)
                d[n++] = src->times[i - 1] - src->times[i];
        if (n == 0)
                return 0;
        qsort(d, n, sizeof(d[0]), cmp_int64_desc);
        return d[n / 2];
}

static void sources_free(Source *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].name);
        free(v);
}

static int source_cmp(const void *a, const void *b) {
        return strcmp(((const Source *) a)->name, ((const Source *) b)->name);
}

int hub_web_sources(HubStore *s, int64_t now, cJSON **ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray();
        HubDb *db = hub_store_db(s);
        Source *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        r = hub_db_prepare(db, "SELECT token_name, method, time_usec FROM audit ORDER BY seq DESC LIMIT ?1", &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, HUB_WEB_SOURCE_ROWS) < 0)
                return -EIO;
        while ((r = hub_db_step(st)) > 0) {
                const char *name = hub_db_column_text(st, 0);
                int64_t t = hub_db_column_int64(st, 2);
                size_t i;

                if (!name || !is_idp_write(hub_db_column_text(st, 1)))
                        continue;
                for (i = 0; i < n; i++)
                        if (streq(v[i].name, name))
                                break;
                if (i == n) {
                        if (n >= 256) /* token names are few; never grow without bound */
                                continue;
                        if (prov_grow((void **) &v, &allocated, n + 1, sizeof(*v)) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        v[n] = (Source) { .name = strdup(name), .last = t };
                        if (!v[n].name) {
                                r = -ENOMEM;
                                break;
                        }
                        n++;
                }
                if (t >= now - 3600 * USEC_PER_SEC_I64)
                        v[i].last_hour++;
                /* The rows of one request share its time: one push. */
                if (v[i].n_times < sizeof(v[i].times) / sizeof(v[i].times[0]) &&
                    (v[i].n_times == 0 || v[i].times[v[i].n_times - 1] != t))
                        v[i].times[v[i].n_times++] = t;
        }
        if (r < 0) {
                sources_free(v, n);
                return r;
        }
        if (n > 0)
                qsort(v, n, sizeof(*v), source_cmp);
        for (size_t i = 0; i < n; i++) {
                int64_t median = median_interval_usec(&v[i]), quiet = HUB_WEB_SILENT_FACTOR * median;
                cJSON *o = cJSON_CreateObject();

                if (quiet < HUB_WEB_SILENT_MIN_SEC * USEC_PER_SEC_I64)
                        quiet = HUB_WEB_SILENT_MIN_SEC * USEC_PER_SEC_I64;
                if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "name", v[i].name) ||
                    !cJSON_AddNumberToObject(o, "lastPush", (double) v[i].last) ||
                    !cJSON_AddNumberToObject(o, "lastHour", (double) v[i].last_hour) ||
                    !cJSON_AddNumberToObject(o, "pushes", (double) v[i].n_times) ||
                    !cJSON_AddNumberToObject(o, "medianInterval", (double) median / USEC_PER_SEC_I64) ||
                    /* Without two pushes there is no usual cycle to be late for. */
                    !cJSON_AddBoolToObject(o, "atRisk", median > 0 && now - v[i].last > quiet)) {
                        sources_free(v, n);
                        return -ENOMEM;
                }
        }
        sources_free(v, n);
        *ret = TAKE_PTR(arr);
        return 0;
}

/* q as a LIKE pattern "%q%" with LIKE's own characters escaped (ESCAPE '!'), folded to lower
 * case (ASCII) as lower() folds the column. */
static char *like_pattern(const char *q) {
        size_t n = strlen(q);
        char *p = malloc(2 * n + 3), *o = p;

        if (!p)
                return NULL;
        *o++ = '%';
        for (const char *c = q; *c; c++) {
                if (*c == '%' || *c == '_' || *c == '!')
                        *o++ = '!';
                *o++ = (*c >= 'A' && *c <= 'Z') ? (char) (*c - 'A' + 'a') : *c;
        }
        *o++ = '%';
        *o = 0;
        return p;
}

static bool contains_nocase(const char *hay, const char *needle) {
        size_t n = strlen(needle);

        if (!hay)
                return false;
        for (; *hay; hay++)
                if (strncasecmp(hay, needle, n) == 0)
                        return true;
        return false;
}

/* One match: the user as the IdP pushed it (pushed: the stored resource, or the last one before
 * its deletion), the hub's lock and hold, and the fleet report. */
static int search_result(HubStore *s, const char *id, const cJSON *pushed, const char *locked_by, bool held,
                         bool deleted, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        const cJSON *dn = cJSON_GetObjectItemCaseSensitive(pushed, "displayName");
        const cJSON *un = cJSON_GetObjectItemCaseSensitive(pushed, "userName");
        ProvScimError err = {};
        cJSON *idp, *report = NULL;
        int r;

        if (!o || !id)
                return -ENOMEM;
        idp = cJSON_AddObjectToObject(o, "idp");
        if (!idp || !cJSON_AddStringToObject(o, "id", id) ||
            !cJSON_AddStringToObject(o, "userName", cJSON_IsString(un) ? un->valuestring : "") ||
            (cJSON_IsString(dn) && !cJSON_AddStringToObject(o, "displayName", dn->valuestring)) ||
            /* As the IdP pushed it; the hub's lock and hold are beside it. */
            !cJSON_AddBoolToObject(idp, "active",
                                   !deleted && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pushed, "active"))) ||
            !cJSON_AddBoolToObject(idp, "deleted", deleted) || !cJSON_AddBoolToObject(o, "locked", locked_by != NULL) ||
            (locked_by && !cJSON_AddStringToObject(o, "lockedBy", locked_by)) || !cJSON_AddBoolToObject(o, "held", held))
                return -ENOMEM;
        r = hub_fleet_leaver_report(s, id, &report, &err);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(o, "report", report);
        *ret = TAKE_PTR(o);
        return 0;
}

/* Whether a resource's userName or displayName contains q. */
static bool names_match(const cJSON *pushed, const char *q) {
        const cJSON *un = cJSON_GetObjectItemCaseSensitive(pushed, "userName");
        const cJSON *dn = cJSON_GetObjectItemCaseSensitive(pushed, "displayName");

        return (cJSON_IsString(un) && contains_nocase(un->valuestring, q)) ||
               (cJSON_IsString(dn) && contains_nocase(dn->valuestring, q));
}

/* The users deleted at the IdP whose last pushed form matches (their audit row's before). */
static int search_deleted(HubStore *s, const char *like, const char *q, cJSON *arr, size_t *n) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        int r;

        r = hub_db_prepare(hub_store_db(s),
                           "SELECT id, before_json FROM audit WHERE kind = 'User' AND after_json IS NULL"
                           " AND before_json IS NOT NULL AND lower(before_json) LIKE ?1 ESCAPE '!'"
                           " ORDER BY seq DESC LIMIT 200",
                           &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, like)) < 0)
                return r;
        while (*n < HUB_WEB_MAX_RESULTS && (r = hub_db_step(st)) > 0) {
                _cleanup_(cJSON_Deletep) cJSON *pushed = cJSON_Parse(hub_db_column_text(st, 1) ?: "");
                const char *id = hub_db_column_text(st, 0);
                const cJSON *x;
                bool seen = false;
                cJSON *o = NULL;

                cJSON_ArrayForEach(x, arr)
                        seen = seen || streq(cJSON_GetObjectItemCaseSensitive(x, "id")->valuestring, id ?: "");
                if (!id || seen || !names_match(pushed, q))
                        continue;
                r = search_result(s, id, pushed, NULL, false, true, &o);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(arr, o);
                (*n)++;
        }
        return r;
}

int hub_web_search(HubStore *s, const char *q, cJSON **ret) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        _cleanup_(cJSON_Deletep) cJSON *arr = NULL;
        _cleanup_free_ char *like = NULL;
        HubDb *db = hub_store_db(s);
        size_t n = 0;
        int r;

        if (!q || !*q || strlen(q) > HUB_WEB_QUERY_MAX)
                return -EINVAL;
        like = like_pattern(q);
        arr = cJSON_CreateArray();
        if (!like || !arr)
                return -ENOMEM;
        /* userName by its column; displayName inside the stored JSON (checked again below, so
         * that a match elsewhere in the document does not count). */
        r = hub_db_prepare(db,
                           "SELECT id, user_name, json, locked_by, held_id FROM users"
                           " WHERE lower(user_name) LIKE ?1 ESCAPE '!' OR lower(json) LIKE ?1 ESCAPE '!'"
                           " ORDER BY user_name LIMIT 200",
                           &st);
        if (r < 0)
                return r;
        if ((r = hub_db_bind_text(st, 1, like)) < 0)
                return r;
        while (n < HUB_WEB_MAX_RESULTS && (r = hub_db_step(st)) > 0) {
                _cleanup_(cJSON_Deletep) cJSON *pushed = cJSON_Parse(hub_db_column_text(st, 2) ?: "");
                cJSON *o = NULL;

                if (!names_match(pushed, q))
                        continue;
                r = search_result(s, hub_db_column_text(st, 0), pushed, hub_db_column_text(st, 3),
                                  hub_db_column_int64(st, 4) > 0, false, &o);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(arr, o);
                n++;
        }
        if (r < 0)
                return r;
        hub_db_finalizep(&st);
        r = search_deleted(s, like, q, arr, &n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(arr);
        return 0;
}
