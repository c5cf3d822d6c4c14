/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SCIM parser's documents (scim-parse.h): a directory file, the hub's snapshot and feed
 * answers, a ListResponse page, one User, an error and the ServiceProviderConfig. Each is parsed
 * once (scim-json.h) and its resources read by scim-parse.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "prov-util.h"
#include "prov-validate.h"
#include "scim-json.h"
#include "scim-parse-internal.h"

/* The start of every document: its limits from opts, and its tree. -EINVAL without ret. */
static int document_parse(const char *json, size_t len, const ProvScimParseOptions *opts, const void *ret, Limits *l,
                          JsonTree *tree, cJSON **root) {
        *l = scim_limits_from(opts);
        if (!ret)
                return -EINVAL;
        return scim_json_parse(json, len, l->max_depth, l->max_bytes, tree, root);
}

static bool schemas_contain(const cJSON *obj, const char *urn, bool *ret_present) {
        const cJSON *s = NULL, *i;

        *ret_present = false;
        if (json_get(obj, "schemas", &s) <= 0)
                return false;
        *ret_present = true;
        if (!cJSON_IsArray(s))
                return false;
        cJSON_ArrayForEach(i, s)
                if (cJSON_IsString(i) && i->valuestring && strcasecmp(i->valuestring, urn) == 0)
                        return true;
        return false;
}

/* Optional integer field of a ListResponse; negative values are malformed. */
static int list_int(const cJSON *obj, const char *name, bool *has, int64_t *ret) {
        const cJSON *v = NULL;
        int r;

        *has = false;
        r = json_get(obj, name, &v);
        if (r < 0)
                return -EBADMSG;
        if (r == 0)
                return 0;
        if (scim_json_to_int64(v, ret) < 0 || *ret < 0)
                return -EBADMSG;
        *has = true;
        return 0;
}

/* Parses a ListResponse object into b. strict: schemas must name ListResponse (a page from
 * the server); otherwise only checked when present (a directory file). */
static int parse_list_object(ProvScimBatch *b, const cJSON *obj, bool groups, bool strict, const Limits *l) {
        const cJSON *resources = NULL, *cursor = NULL;
        bool present, has;
        int64_t v;
        int r;

        if (!cJSON_IsObject(obj))
                return -EBADMSG;
        if (!schemas_contain(obj, PROV_SCIM_SCHEMA_LIST, &present) && (strict || present))
                return -EBADMSG;

        if (list_int(obj, "totalResults", &b->has_total_results, &b->total_results) < 0)
                return -EBADMSG;
        if (list_int(obj, "startIndex", &has, &v) < 0)
                return -EBADMSG;
        b->start_index = has ? v : 1;

        r = json_get(obj, "Resources", &resources);
        if (r < 0)
                return -EBADMSG;
        if (r == 0) {
                /* RFC 7644 §3.4.2: Resources is required when totalResults is non-zero. */
                if (strict && (!b->has_total_results || b->total_results != 0))
                        return -EBADMSG;
        } else if (!cJSON_IsArray(resources))
                return -EBADMSG;

        if (list_int(obj, "itemsPerPage", &has, &v) < 0)
                return -EBADMSG;
        b->items_per_page = has ? v : (resources ? cJSON_GetArraySize(resources) : 0);
        b->n_resources = resources ? (size_t) cJSON_GetArraySize(resources) : 0;

        r = json_get(obj, "nextCursor", &cursor);
        if (r < 0)
                return -EBADMSG;
        if (r > 0) {
                if (!cJSON_IsString(cursor) || !cursor->valuestring ||
                    strlen(cursor->valuestring) > l->max_string ||
                    !prov_valid_text(cursor->valuestring, strlen(cursor->valuestring)))
                        return -EBADMSG;
                if (cursor->valuestring[0]) {
                        b->next_cursor = strdup(cursor->valuestring);
                        if (!b->next_cursor)
                                return -ENOMEM;
                }
        }

        if (!resources)
                return 0;
        return scim_parse_resources(b, resources, groups, l);
}

/* Hands a complete batch to *ret, finished (scim-parse.h). */
static int finished(ProvScimBatch **b, ProvScimBatch **ret) {
        int r = prov_scim_batch_finish(*b);

        if (r < 0)
                return r;
        *ret = TAKE_PTR(*b);
        return 0;
}

/* The "Users" and "Groups" of a directory document (a file, the hub's snapshot) into a new batch. */
static int directory_from_root(const cJSON *root, const Limits *l, ProvScimBatch **ret) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        int r;

        if (!cJSON_IsObject(root))
                return -EBADMSG;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->start_index = 1;

        for (int k = 0; k < 2; k++) {
                bool groups = k == 1;
                const cJSON *v = NULL;
                ProvScimBatch part = {};

                r = json_get(root, groups ? "Groups" : "Users", &v);
                if (r < 0)
                        return -EBADMSG;
                if (r == 0)
                        continue;
                if (cJSON_IsArray(v))
                        r = scim_parse_resources(b, v, groups, l);
                else if (cJSON_IsObject(v)) {
                        /* The list fields of a file are meaningless: parse into a scratch batch
                         * sharing our arrays and arena, then keep only those. */
                        part = *b;
                        r = parse_list_object(&part, v, groups, false, l);
                        free(part.next_cursor);
                        part.next_cursor = NULL;
                        part.total_results = b->total_results;
                        part.has_total_results = b->has_total_results;
                        part.start_index = b->start_index;
                        part.items_per_page = b->items_per_page;
                        part.n_resources = b->n_resources;
                        *b = part;
                } else
                        r = -EBADMSG;
                if (r < 0)
                        return r;
        }

        /* A directory is a whole batch. */
        return finished(&b, ret);
}

/* --- directories, and the hub's feed and snapshot (provision-hub, GET /v1/feed and /v1/snapshot) */

/* A "seq": an integer 0..2^53 (what a JSON number holds exactly). */
static int hub_seq(const cJSON *obj, int64_t *ret) {
        const cJSON *v = NULL;
        int64_t seq;

        if (json_get(obj, "seq", &v) <= 0 || !cJSON_IsNumber(v) || scim_json_to_int64(v, &seq) < 0 || seq < 0)
                return -EBADMSG;
        *ret = seq;
        return 0;
}

/* A directory document: a file, or the hub's snapshot, whose seq goes to *ret_seq when ret_seq
 * is not NULL (then it is required). One parse of what may be 100 MB. */
static int parse_directory_document(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t *ret_seq,
                                    ProvScimBatch **ret) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        int64_t seq = 0;
        Limits l;
        int r;

        r = document_parse(json, len, opts, ret, &l, &tree, &root);
        if (r < 0)
                return r;
        if (ret_seq && hub_seq(root, &seq) < 0)
                return -EBADMSG;
        r = directory_from_root(root, &l, ret);
        if (r >= 0 && ret_seq)
                *ret_seq = seq;
        return r;
}

int prov_scim_parse_directory(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimBatch **ret) {
        return parse_directory_document(json, len, opts, NULL, ret);
}

int prov_scim_parse_hub_snapshot(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t *ret_seq,
                                 ProvScimBatch **ret) {
        if (!ret_seq)
                return -EINVAL;
        return parse_directory_document(json, len, opts, ret_seq, ret);
}

/* One event of a feed answer, checked. */
typedef struct HubEvent {
        int64_t seq;
        const char *id;
        const cJSON *resource; /* NULL: a delete */
        bool group;
        bool last;             /* the last event of its resource in the answer: the one that counts */
} HubEvent;

static int hub_event_cmp(const void *a, const void *b) {
        const HubEvent *x = *(const HubEvent *const *) a, *y = *(const HubEvent *const *) b;
        int c = x->group - y->group;

        if (c == 0)
                c = strcmp(x->id, y->id);
        return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The reason a feed answer is refused, for the caller's log (ret_error may be NULL). Returns
 * -EBADMSG. */
_printf_(2, 3)
static int hub_fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return -EBADMSG;
        free(*ret_error);
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EBADMSG;
}

/* Checks one event against its predecessor; fills *e with pointers into the tree. */
static int hub_event(const cJSON *ev, size_t i, int64_t prev, int64_t head, HubEvent *e, char **ret_error) {
        const cJSON *op = NULL, *type = NULL, *res = NULL;
        const char *id = NULL;
        char *why = NULL;
        bool upsert;

        if (!cJSON_IsObject(ev))
                return hub_fail(ret_error, "events[%zu]: not an object", i);
        if (hub_seq(ev, &e->seq) < 0)
                return hub_fail(ret_error, "events[%zu]: 'seq' missing or not a non-negative integer", i);
        if (e->seq <= prev || e->seq > head)
                return hub_fail(ret_error, "events[%zu]: seq %" PRIi64 " is not after %" PRIi64 " and at most the answer's %" PRIi64,
                                i, e->seq, prev, head);
        if (json_get(ev, "op", &op) <= 0 || !cJSON_IsString(op) ||
            (!streq(op->valuestring, "upsert") && !streq(op->valuestring, "delete")))
                return hub_fail(ret_error, "events[%zu]: 'op' must be \"upsert\" or \"delete\"", i);
        upsert = streq(op->valuestring, "upsert");
        if (json_get(ev, "resourceType", &type) <= 0 || !cJSON_IsString(type) ||
            (!streq(type->valuestring, "User") && !streq(type->valuestring, "Group")))
                return hub_fail(ret_error, "events[%zu]: 'resourceType' must be \"User\" or \"Group\"", i);
        e->group = streq(type->valuestring, "Group");
        if (scim_get_string_ref(ev, "id", true, SCIM_ID_MAX, &id, &why) < 0) {
                _cleanup_free_ char *w = why;
                return hub_fail(ret_error, "events[%zu]: %s", i, w ?: "bad 'id'");
        }
        e->id = id;
        if (json_get(ev, "resource", &res) < 0)
                return hub_fail(ret_error, "events[%zu]: 'resource' given twice", i);
        if (upsert) {
                const char *rid = cJSON_IsObject(res) ? scim_raw_id(res) : NULL;

                if (!rid || !streq(rid, id))
                        return hub_fail(ret_error, "events[%zu]: an upsert needs the resource with id '%.64s'", i, id);
                e->resource = res;
        } else
                e->resource = NULL;
        return 0;
}

ProvHubFeed *prov_hub_feed_free(ProvHubFeed *f) {
        if (!f)
                return NULL;
        prov_scim_batch_free(f->batch);
        free(f->gone_users);
        free(f->gone_groups);
        free(f);
        return NULL;
}

int prov_scim_parse_hub_feed(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t since,
                             ProvHubFeed **ret, char **ret_error) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
        _cleanup_free_ HubEvent *events = NULL;
        _cleanup_free_ HubEvent **order = NULL;
        const cJSON *root = NULL, *list = NULL, *ev;
        Limits l = scim_limits_from(opts);
        size_t n = 0, i = 0;
        int64_t prev = since;
        int r;

        if (!ret || since < 0)
                return -EINVAL;

        r = scim_json_parse(json, len, l.max_depth, l.max_bytes, &tree, (cJSON **) &root);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return hub_fail(ret_error, "not a JSON document of at most %zu bytes", l.max_bytes);
        if (!cJSON_IsObject(root))
                return hub_fail(ret_error, "not a JSON object");

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->batch = calloc(1, sizeof(*f->batch));
        if (!f->batch)
                return -ENOMEM;
        f->batch->start_index = 1;

        if (hub_seq(root, &f->seq) < 0)
                return hub_fail(ret_error, "'seq' missing or not a non-negative integer");
        /* The host's seq never goes back: an answer behind what it asked for is not this hub's
         * history (the hub answers 410 when it lost it). */
        if (f->seq < since)
                return hub_fail(ret_error, "'seq' %" PRIi64 " is behind since=%" PRIi64, f->seq, since);
        if (json_get(root, "events", &list) <= 0 || !cJSON_IsArray(list))
                return hub_fail(ret_error, "'events' missing or not an array");
        n = (size_t) cJSON_GetArraySize(list);
        if (n > PROV_HUB_FEED_MAX_EVENTS)
                return hub_fail(ret_error, "%zu events, more than %d", n, PROV_HUB_FEED_MAX_EVENTS);
        if (n > 0 && (uint64_t) n > (uint64_t) (f->seq - since))
                return hub_fail(ret_error, "%zu events between seq %" PRIi64 " and %" PRIi64, n, since, f->seq);

        events = calloc(n + 1, sizeof(HubEvent));
        order = calloc(n + 1, sizeof(HubEvent *));
        if (!events || !order)
                return -ENOMEM;
        /* Everything is checked before anything is kept: a malformed answer applies nothing. */
        cJSON_ArrayForEach(ev, list) {
                r = hub_event(ev, i, prev, f->seq, &events[i], ret_error);
                if (r < 0)
                        return r;
                prev = events[i].seq;
                order[i] = &events[i];
                i++;
        }

        /* Events of one resource collapse into its last: its resource is the state at the hub
         * when the answer was made, and a delete after an upsert is a delete. */
        qsort(order, n, sizeof(HubEvent *), hub_event_cmp);
        for (i = 0; i < n; i++)
                order[i]->last = i + 1 == n || order[i + 1]->group != order[i]->group ||
                                 !streq(order[i + 1]->id, order[i]->id);

        f->gone_users = calloc(n + 1, sizeof(char *));
        f->gone_groups = calloc(n + 1, sizeof(char *));
        if (!f->gone_users || !f->gone_groups)
                return -ENOMEM;
        /* In the order of the answer. */
        for (i = 0; i < n; i++) {
                const HubEvent *e = &events[i];

                if (!e->last)
                        continue;
                if (e->resource)
                        r = scim_parse_resource(f->batch, e->resource, e->group, &l);
                else {
                        const char *id = prov_arena_strdup(&f->batch->arena, e->id);

                        if (!id)
                                return -ENOMEM;
                        if (e->group)
                                f->gone_groups[f->n_gone_groups++] = id;
                        else
                                f->gone_users[f->n_gone_users++] = id;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        /* Only the last event of a resource counts: the finish finds no repeated id, but
         * orders the batch for the sync. */
        r = prov_scim_batch_finish(f->batch);
        if (r < 0)
                return r;
        f->n_events = n;
        *ret = TAKE_PTR(f);
        return 0;
}

int prov_scim_parse_page(const char *json, size_t len, bool groups, const ProvScimParseOptions *opts,
                         ProvScimBatch **ret) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        Limits l;
        int r;

        r = document_parse(json, len, opts, ret, &l, &tree, &root);
        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        r = parse_list_object(b, root, groups, true, &l);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

int prov_scim_parse_list(const char *json, size_t len, bool groups, const ProvScimParseOptions *opts,
                         ProvScimBatch **ret) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = prov_scim_parse_page(json, len, groups, opts, &b);
        if (r < 0)
                return r;
        return finished(&b, ret);
}

/* A user of its own (prov_scim_parse_user()), with the arena holding its strings. */
typedef struct OwnedUser {
        ProvScimUser user;
        ProvArena arena;
} OwnedUser;

static OwnedUser *owned_user_free(OwnedUser *o) {
        if (!o)
                return NULL;
        prov_arena_done(&o->arena);
        free(o);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(OwnedUser *, owned_user_free);

ProvScimUser *prov_scim_user_free(ProvScimUser *u) {
        if (!u)
                return NULL;
        owned_user_free((OwnedUser *) ((char *) u - offsetof(OwnedUser, user)));
        return NULL;
}

int prov_scim_parse_user(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimUser **ret) {
        _cleanup_(owned_user_freep) OwnedUser *o = NULL;
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        _cleanup_free_ char *reason = NULL;
        Limits l;
        int r;

        r = document_parse(json, len, opts, ret, &l, &tree, &root);
        if (r < 0)
                return r;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        /* An unservable user is a success: it exists, unlike a 404. */
        r = scim_user_from_json(root, &l, &o->arena, &o->user, &reason);
        if (r < 0)
                return r;

        *ret = &TAKE_PTR(o)->user;
        return 0;
}

/* The id of one resource (GET /Groups/{id}): a JSON object with a string "id". */
int prov_scim_parse_resource_id(const char *json, size_t len, const ProvScimParseOptions *opts, char **ret_id) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        const cJSON *id = NULL;
        cJSON *root = NULL;
        Limits l;
        int r;

        r = document_parse(json, len, opts, ret_id, &l, &tree, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root) || json_get(root, "id", &id) <= 0 || !cJSON_IsString(id) || !id->valuestring)
                return -EBADMSG;
        *ret_id = strdup(id->valuestring);
        return *ret_id ? 0 : -ENOMEM;
}

/* Appends s to the summary with control characters replaced and at most max bytes. */
static void append_clean(char *buf, size_t size, const char *s, size_t max) {
        size_t n = strlen(buf);

        for (size_t i = 0; s[i] && i < max && n + 1 < size; i++) {
                unsigned char c = (unsigned char) s[i];

                buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char) c;
        }
        buf[n] = 0;
}

int prov_scim_parse_error(const char *json, size_t len, char **ret_detail) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        Limits l = scim_limits_from(NULL);
        const cJSON *status = NULL, *detail = NULL, *type = NULL;
        char buf[SCIM_DETAIL_MAX + 128] = "";
        int64_t code = 0;
        int r;

        if (!ret_detail)
                return -EINVAL;

        /* Error bodies are small; a huge one is not an error response. */
        l.max_bytes = 64 * 1024;
        r = scim_json_parse(json, len, l.max_depth, l.max_bytes, &tree, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root))
                return -EBADMSG;

        if (json_get(root, "status", &status) > 0 && (scim_json_to_int64(status, &code) < 0 || code < 100 || code > 599))
                code = 0;

        if (code > 0)
                snprintf(buf, sizeof(buf), "status %d", (int) code);
        else
                snprintf(buf, sizeof(buf), "status unknown");
        if (json_get(root, "scimType", &type) > 0 && cJSON_IsString(type) && type->valuestring[0]) {
                append_clean(buf, sizeof(buf), " (", 2);
                append_clean(buf, sizeof(buf), type->valuestring, 64);
                append_clean(buf, sizeof(buf), ")", 1);
        }
        if (json_get(root, "detail", &detail) > 0 && cJSON_IsString(detail) && detail->valuestring[0]) {
                append_clean(buf, sizeof(buf), ": ", 2);
                append_clean(buf, sizeof(buf), detail->valuestring, SCIM_DETAIL_MAX);
        }

        *ret_detail = strdup(buf);
        if (!*ret_detail)
                return -ENOMEM;
        return (int) code;
}

/* A boolean member, or def when it is absent, ambiguous or not a JSON boolean: a provider that
 * gets the type wrong gets the conservative behaviour. */
static bool spc_bool(const cJSON *obj, const char *name, bool def) {
        const cJSON *v = NULL;

        if (json_get(obj, name, &v) <= 0)
                return def;
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A positive integer member below 2^53, or 0. */
static uint64_t spc_uint(const cJSON *obj, const char *name) {
        const cJSON *v = NULL;

        if (json_get(obj, name, &v) <= 0 || !cJSON_IsNumber(v) ||
            !(v->valuedouble >= 1 && v->valuedouble < 9007199254740992.0) ||
            (double) (uint64_t) v->valuedouble != v->valuedouble)
                return 0;
        return (uint64_t) v->valuedouble;
}

int prov_scim_parse_service_config(const char *json, size_t len, ProvScimServiceConfig *ret) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        const cJSON *filter = NULL, *pagination = NULL;
        Limits l = scim_limits_from(&(ProvScimParseOptions) { .max_bytes = 1024 * 1024 });
        int r;

        if (!ret)
                return -EINVAL;
        r = scim_json_parse(json, len, l.max_depth, l.max_bytes, &tree, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root))
                return -EBADMSG;
        if (json_get(root, "filter", &filter) <= 0)
                filter = NULL;
        if (json_get(root, "pagination", &pagination) <= 0)
                pagination = NULL;
        *ret = (ProvScimServiceConfig) {
                .filter_supported = spc_bool(filter, "supported", false),
                .filter_max_results = spc_uint(filter, "maxResults"),
                .cursor = spc_bool(pagination, "cursor", false),
                .index = spc_bool(pagination, "index", true),
                .max_page_size = spc_uint(pagination, "maxPageSize"),
        };
        return 0;
}
