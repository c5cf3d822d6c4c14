/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SCIM source's fetches (scim-source.h): paged full and delta scans merged and checked,
 * one user at sign-in, and the confirmation that a missing user is gone; the HTTP side is
 * scim-client.c's. */

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "idhash.h"
#include "prov-time.h"
#include "scim-client-internal.h"
#include "scim-source.h"

/* The most records one list's totalResults may reserve room for up front: beyond that the
 * figure is more likely a lie than a directory, and the arrays grow as pages arrive. */
#define RESERVE_MAX (UINT64_C(4) * 1024 * 1024)

/* ---------------------------------------------------------------- paging */

/* Room for the whole list up front when its first page announces a plausible totalResults: one
 * allocation of the right size instead of a series of reallocs, each copying everything so far.
 * Only a hint: pages beyond it still grow the array, and trim() gives back what did not come. */
static int reserve(ProvScimBatch *b, bool groups, const ProvScimBatch *first) {
        if (!first->has_total_results || first->total_results <= 0 ||
            (uint64_t) first->total_results > RESERVE_MAX)
                return 0;
        if (groups)
                return prov_grow((void **) &b->groups, &b->cap_groups, b->n_groups + (size_t) first->total_results,
                                 sizeof(ProvScimGroup));
        return prov_grow((void **) &b->users, &b->cap_users, b->n_users + (size_t) first->total_results,
                         sizeof(ProvScimUser));
}

/* After a list: gives back the room reserved for records that never came, when that is more
 * slack than growing by half would have left. */
static int trim(void **array, size_t *cap, size_t n, size_t size) {
        void *p;

        if (*cap - n <= n / 2)
                return 0;
        p = reallocarray(*array, n ?: 1, size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *cap = n ?: 1;
        return 0;
}

/* Appends the records of a page to the walk's batch b: the record structs are copied, the arena
 * chunks holding their strings change hands without copying. On error nothing has moved; on
 * success the page is left with no records and an empty arena. */
static int take_page(ProvScimBatch *b, ProvScimBatch *page) {
        int r;

        r = prov_grow((void **) &b->users, &b->cap_users, b->n_users + page->n_users, sizeof(ProvScimUser));
        if (r < 0)
                return r;
        r = prov_grow((void **) &b->groups, &b->cap_groups, b->n_groups + page->n_groups, sizeof(ProvScimGroup));
        if (r < 0)
                return r;
        r = prov_grow((void **) &b->rejects, &b->cap_rejects, b->n_rejects + page->n_rejects, sizeof(ProvScimReject));
        if (r < 0)
                return r;

        if (page->n_users > 0)
                memcpy(b->users + b->n_users, page->users, page->n_users * sizeof(ProvScimUser));
        b->n_users += page->n_users;
        page->n_users = 0;
        if (page->n_groups > 0)
                memcpy(b->groups + b->n_groups, page->groups, page->n_groups * sizeof(ProvScimGroup));
        b->n_groups += page->n_groups;
        page->n_groups = 0;
        if (page->n_rejects > 0)
                memcpy(b->rejects + b->n_rejects, page->rejects, page->n_rejects * sizeof(ProvScimReject));
        b->n_rejects += page->n_rejects;
        page->n_rejects = 0;
        prov_arena_move(&b->arena, &page->arena);
        return 0;
}

/* Walks one list endpoint (/Users or /Groups) to its end, appending to batch. filter is already
 * percent-encoded, or NULL. *ret_consistent tells whether the walk added up: the resources
 * received match totalResults, and totalResults did not move between the first and last page. */
static int walk(ProvScimClient *c, bool groups, const char *filter, ProvScimBatch *batch, bool *ret_consistent) {
        const char *path = groups ? "/Groups" : "/Users";
        const bool cursor_mode = c->spc.cursor;
        const unsigned count = scim_page_size(c);
        _cleanup_free_ char *cursor = cursor_mode ? strdup("") : NULL;
        int64_t start = 1, total_first = -1, total_last = -1;
        uint64_t received = 0, pages = 0;
        bool has_total = true;
        int r;

        if (cursor_mode && !cursor)
                return -ENOMEM;

        for (;;) {
                _cleanup_(prov_scim_batch_freep) ProvScimBatch *page = NULL;
                _cleanup_free_ char *query = NULL, *esc = NULL;
                Body b = {};
                long status;
                size_t n;

                if (pages >= c->limits.max_pages) {
                        log_debug("SCIM %s: more than %" PRIu64 " pages, giving up.", path, pages);
                        return -E2BIG;
                }

                if (cursor_mode) {
                        esc = curl_easy_escape(c->curl, cursor, 0);
                        if (!esc)
                                return -ENOMEM;
                        r = asprintf(&query, "cursor=%s&count=%u%s%s", esc, count,
                                     filter ? "&filter=" : "", filter ?: "");
                } else
                        r = asprintf(&query, "startIndex=%" PRIi64 "&count=%u%s%s", start, count,
                                     filter ? "&filter=" : "", filter ?: "");
                if (r < 0)
                        return -ENOMEM;

                r = scim_get_patient(c, path, query, &b, &status);
                if (r < 0)
                        return r;
                if (status < 200 || status >= 300) {
                        r = status == 400 && filter && scim_is_invalid_filter(&b) ? -EOPNOTSUPP
                                                                             : scim_http_error(c, status, &b);
                        scim_body_done(&b);
                        return r;
                }
                r = prov_scim_parse_page(b.data ?: "", b.len, groups, &c->popts, &page);
                scim_body_done(&b);
                if (r < 0) {
                        log_debug("SCIM %s: page %" PRIu64 " is not a valid ListResponse.", path, pages + 1);
                        return r;
                }
                pages++;
                c->stats.pages++;

                n = page->n_resources;
                if (!page->has_total_results)
                        has_total = false;
                if (pages == 1) {
                        total_first = page->total_results;
                        r = reserve(batch, groups, page);
                        if (r < 0)
                                return r;
                }
                total_last = page->total_results;

                r = take_page(batch, page);
                if (r < 0)
                        return r;
                received += n;

                if (n == 0)
                        break;
                if (cursor_mode) {
                        if (!page->next_cursor || !page->next_cursor[0])
                                break;
                        free(cursor);
                        cursor = TAKE_PTR(page->next_cursor);
                        continue;
                }
                /* Advance by what we got, never by itemsPerPage: servers get that wrong. */
                start += (int64_t) n;
                if (has_total && received >= (uint64_t) (total_last > 0 ? total_last : 0))
                        break;
        }

        r = groups ? trim((void **) &batch->groups, &batch->cap_groups, batch->n_groups, sizeof(ProvScimGroup))
                   : trim((void **) &batch->users, &batch->cap_users, batch->n_users, sizeof(ProvScimUser));
        if (r < 0)
                return r;

        *ret_consistent = !has_total ||
                (total_first == total_last && received == (uint64_t) (total_last > 0 ? total_last : 0));
        if (!*ret_consistent)
                log_debug("SCIM %s: received %" PRIu64 " resources, totalResults %" PRIi64 " at the start and %"
                          PRIi64 " at the end.", path, received, total_first, total_last);
        return 0;
}

/* One pass over /Users then /Groups into a fresh batch. */
static const char *user_id_at(const void *ctx, size_t i) {
        return ((const ProvScimBatch *) ctx)->users[i].id;
}

typedef struct Interner {
        const ProvScimBatch *batch;
        ProvIdHash ids;
} Interner;

/* A group member that is a user of this pass: its id string, owned by the same batch. */
static const char *intern_member_id(const char *id, void *userdata) {
        const Interner *in = userdata;
        ssize_t i = prov_id_hash_find(&in->ids, id, user_id_at, in->batch);
        return i >= 0 ? in->batch->users[i].id : NULL;
}

/* Walks /Groups (with filter, may be NULL) into batch, with the members that are users of the
 * batch pointing at the batch's own id strings. */
static int walk_groups_interned(ProvScimClient *c, ProvScimBatch *batch, const char *filter, bool *ret_ok) {
        Interner in = { .batch = batch };
        int r;

        r = prov_id_hash_build(&in.ids, batch->n_users, user_id_at, batch);
        if (r < 0)
                return r;
        c->popts.intern_member_id = intern_member_id;
        c->popts.intern_userdata = &in;
        r = walk(c, true, filter, batch, ret_ok);
        c->popts.intern_member_id = NULL;
        c->popts.intern_userdata = NULL;
        prov_id_hash_done(&in.ids);
        return r;
}

static int pass(ProvScimClient *c, const char *filter, ProvScimBatch **ret, bool *ret_consistent) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *batch = NULL;
        bool users_ok = false, groups_ok = false;
        int r;

        batch = calloc(1, sizeof(ProvScimBatch));
        if (!batch)
                return -ENOMEM;
        c->stats.passes++;

        r = walk(c, false, filter, batch, &users_ok);
        if (r < 0)
                return r;
        /* Groups list users by id: point their members at the ids the users brought. */
        r = walk_groups_interned(c, batch, filter, &groups_ok);
        if (r < 0)
                return r;

        *ret_consistent = users_ok && groups_ok;
        *ret = TAKE_PTR(batch);
        return 0;
}

/* The end of a fetch, r its outcome so far: on success the walks are over and the batch is
 * complete, finished here, once (scim-parse.h), and handed to *ret; the counters of the call go
 * to *stats either way. */
static int fetch_end(ProvScimClient *c, int r, ProvScimBatch **batch, ProvScimBatch **ret, ProvScimStats *stats) {
        ProvScimBatch *b = *batch;

        if (r >= 0)
                r = prov_scim_batch_finish(b);
        if (r >= 0) {
                b->total_results = (int64_t) (b->n_users + b->n_groups);
                b->has_total_results = true;
                b->start_index = 1;
                b->items_per_page = b->total_results;
                *ret = TAKE_PTR(*batch);
                r = 0;
        }
        if (stats)
                *stats = c->stats;
        return r;
}

int prov_scim_fetch_full(ProvScimClient *c, ProvScimBatch **ret, ProvScimStats *stats) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *batch = NULL;
        bool consistent = false;
        int r;

        if (!c || !ret)
                return -EINVAL;
        c->stats = (ProvScimStats) {};
        c->budget_left = c->retry_budget;

        /* Re-read each full scan: page size limits and paging modes may change on the server. */
        r = scim_load_service_config(c);
        if (r < 0)
                goto finish;

        for (unsigned attempt = 0; attempt < 2 && !consistent; attempt++) {
                batch = prov_scim_batch_free(batch);
                r = pass(c, NULL, &batch, &consistent);
                if (r < 0)
                        goto finish;
                if (!consistent)
                        log_debug("SCIM full scan pass %u did not add up, the directory changed while paging.",
                                  attempt + 1);
        }
        if (!consistent)
                r = -EAGAIN;
finish:
        return fetch_end(c, r, &batch, ret, stats);
}

/* Appends s to a SCIM filter string literal (RFC 7644 §3.4.2.2: a JSON string): quote and
 * backslash escaped, control characters refused (a POSIX user name has none anyway). */
static int filter_literal(const char *s, char *buf, size_t size) {
        size_t n = 0;

        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;

                if (ch < 0x20 || ch == 0x7f)
                        return -EINVAL;
                if (ch == '"' || ch == '\\') {
                        if (n + 1 >= size)
                                return -ENAMETOOLONG;
                        buf[n++] = '\\';
                }
                if (n + 1 >= size)
                        return -ENAMETOOLONG;
                buf[n++] = (char) ch;
        }
        buf[n] = '\0';
        return 0;
}

/* The filter PREFIX"VALUE"SUFFIX, VALUE a string literal of at most 255 bytes, percent-encoded
 * for the query. */
static int quoted_filter(ProvScimClient *c, const char *prefix, const char *value, const char *suffix, char **ret) {
        char lit[2 * 256 + 1], expr[sizeof(lit) + 64];
        int r;

        r = filter_literal(value, lit, sizeof(lit));
        if (r < 0)
                return r;
        (void) snprintf(expr, sizeof(expr), "%s\"%s\"%s", prefix, lit, suffix);
        *ret = curl_easy_escape(c->curl, expr, 0);
        return *ret ? 0 : -ENOMEM;
}

/* RFC 3339 UTC with milliseconds: "2026-11-22T16:00:00.123Z". Rounded down, so that a
 * resource stamped in the same millisecond still matches "ge". */
static int format_rfc3339(int64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        if (snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) ((usec % USEC_PER_SEC) / USEC_PER_MSEC)) >= (int) size)
                return -EINVAL;
        return 0;
}

int prov_scim_fetch_delta(ProvScimClient *c, int64_t since_usec, ProvScimBatch **ret, ProvScimStats *stats) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *batch = NULL;
        _cleanup_free_ char *filter = NULL;
        char ts[64];
        bool consistent;
        int r;

        if (!c || !ret || since_usec < 0)
                return -EINVAL;
        c->stats = (ProvScimStats) {};
        c->budget_left = c->retry_budget;

        if (!c->spc_known) {
                r = scim_load_service_config(c);
                if (r < 0)
                        goto finish;
        }
        if (c->spc_known && !c->spc.filter_supported) {
                r = -EOPNOTSUPP;
                goto finish;
        }

        r = format_rfc3339(since_usec, ts, sizeof(ts));
        if (r >= 0)
                r = quoted_filter(c, "meta.lastModified ge ", ts, "", &filter);
        /* One pass: a resource that moves while we page is caught by the next, overlapping delta. */
        if (r >= 0)
                r = pass(c, filter, &batch, &consistent);
finish:
        return fetch_end(c, r, &batch, ret, stats);
}

/* GET /Users?count=0 once per client: the endpoint answers a ListResponse. */
static int check_users_endpoint(ProvScimClient *c) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *page = NULL;
        Body b = {};
        long status;
        int r;

        if (c->users_endpoint_ok)
                return 0;
        r = scim_get_patient(c, "/Users", "startIndex=1&count=0", &b, &status);
        if (r < 0)
                return r;
        if (status < 200 || status >= 300) {
                r = scim_http_error(c, status, &b);
                scim_body_done(&b);
                return r;
        }
        r = prov_scim_parse_list(b.data ?: "", b.len, false, &c->popts, &page);
        scim_body_done(&b);
        if (r < 0)
                return r;
        c->users_endpoint_ok = true;
        return 0;
}

/* GET /Users/{id} or /Groups/{id}: 1 when the answer proves the resource gone (see
 * prov_scim_confirm_user_gone()), 0 with the 2xx answer in *b, or a negative errno. For a group
 * too, /Users answering a ListResponse is what tells a 404 from a wrong base URL. */
static int get_resource(ProvScimClient *c, const char *kind, const char *id, Body *b) {
        _cleanup_free_ char *esc = NULL, *path = NULL, *detail = NULL;
        long status;
        int r;

        if (!c || !id || !id[0] || strlen(id) > SCIM_ID_MAX)
                return -EINVAL;

        esc = curl_easy_escape(c->curl, id, 0);
        if (!esc || asprintf(&path, "/%s/%s", kind, esc) < 0)
                return -ENOMEM;

        r = scim_get_patient(c, path, NULL, b, &status);
        if (r < 0)
                return r;

        if (status == 404) {
                /* Only a SCIM Error saying 404 (or an empty 404) proves the resource is gone; an
                 * HTML 404 from a proxy must never deprovision anybody. */
                r = b->len == 0 ? 404 : prov_scim_parse_error(b->data, b->len, &detail);
                scim_body_done(b);
                if (r != 404)
                        return -ENOENT;
                /* And only if /Users itself exists: a wrong base URL answers 404 for everybody,
                 * on some servers with a proper SCIM Error. */
                r = check_users_endpoint(c);
                return r < 0 ? r : 1;
        }
        if (status < 200 || status >= 300) {
                r = scim_http_error(c, status, b);
                scim_body_done(b);
                return r;
        }
        return 0;
}

int prov_scim_confirm_user_gone(ProvScimClient *c, const char *id, ProvScimUser **ret_user) {
        _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;
        Body b = {};
        int r;

        r = get_resource(c, "Users", id, &b);
        if (r != 0)
                return r;
        r = prov_scim_parse_user(b.data ?: "", b.len, &c->popts, &u);
        scim_body_done(&b);
        if (r < 0)
                return r;
        if (!streq(u->id, id)) {
                log_debug("SCIM GET /Users/%s answered with another id.", SAFE(id));
                return -EBADMSG;
        }
        if (ret_user)
                *ret_user = TAKE_PTR(u);
        return 0;
}

int prov_scim_confirm_group_gone(ProvScimClient *c, const char *id) {
        _cleanup_free_ char *got = NULL;
        Body b = {};
        int r;

        r = get_resource(c, "Groups", id, &b);
        if (r != 0)
                return r;
        r = prov_scim_parse_resource_id(b.data ?: "", b.len, &c->popts, &got);
        scim_body_done(&b);
        if (r < 0)
                return r;
        if (!streq(got, id)) {
                log_debug("SCIM GET /Groups/%s answered with another id.", SAFE(id));
                return -EBADMSG;
        }
        return 0;
}

/* Walks /Users with the filter ATTR_EQ"VALUE" (e.g. ATTR_EQ = "id eq ") into batch. */
static int walk_users_eq(ProvScimClient *c, const char *attr_eq, const char *value, ProvScimBatch *batch) {
        _cleanup_free_ char *filter = NULL;
        bool consistent;
        int r;

        r = quoted_filter(c, attr_eq, value, "", &filter);
        if (r < 0)
                return r;
        return walk(c, false, filter, batch, &consistent);
}

int prov_scim_fetch_user(ProvScimClient *c, const char *user_name, const char *scim_id, uint64_t deadline_usec,
                         ProvScimBatch **ret, ProvScimStats *stats) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *batch = NULL;
        _cleanup_free_ char *filter = NULL;
        bool consistent;
        int r;

        if (!c || !user_name || !user_name[0] || strlen(user_name) > 255 || !ret ||
            (scim_id && (!scim_id[0] || strlen(scim_id) > SCIM_ID_MAX)))
                return -EINVAL;
        c->stats = (ProvScimStats) {};
        /* No waiting out a 429/503 on someone's sign-in: the first one fails the refresh. */
        c->budget_left = 0;
        c->deadline = deadline_usec;

        batch = calloc(1, sizeof(ProvScimBatch));
        if (!batch) {
                r = -ENOMEM;
                goto finish;
        }
        c->stats.passes++;
        /* By id when the caller knows it: it survives a rename and strip_domain (the login name
         * is then not the userName); a server that cannot filter by id is asked by userName. */
        r = scim_id ? walk_users_eq(c, "id eq ", scim_id, batch) : -EOPNOTSUPP;
        if (r == -EOPNOTSUPP)
                r = walk_users_eq(c, "userName eq ", user_name, batch);
        if (r < 0)
                goto finish;

        /* userName is unique at the source (RFC 7643 §4.1.1); a server that answers more than one
         * record is not trusted with the groups of any of them. */
        if (batch->n_users == 1) {
                r = quoted_filter(c, "members[value eq ", batch->users[0].id, "]", &filter);
                if (r < 0)
                        goto finish;
                r = walk_groups_interned(c, batch, filter, &consistent);
                if (r == -EOPNOTSUPP) {
                        /* The server cannot filter groups by member: the user alone, the groups
                         * follow with the next regular sync. */
                        log_debug("SCIM /Groups refuses a members filter: refreshing the user only.");
                        r = 0;
                }
        }
finish:
        c->deadline = 0;
        c->budget_left = c->retry_budget;
        return fetch_end(c, r, &batch, ret, stats);
}
