/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Lists of the hub's store (see hub-store.h): pages by index or cursor, filters served by an
 * index where one fits, and the cursors' text form. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub-store-internal.h"

/* Whether the filter looks at attr (members of a group, which a list without members does not
 * render). */
static bool filter_mentions(const ProvFilter *f, const char *attr) {
        size_t n = strlen(attr);

        if (!f)
                return false;
        if (f->attr && strncasecmp(f->attr, attr, n) == 0 &&
            (f->attr[n] == '\0' || f->attr[n] == '.' || f->attr[n] == '['))
                return true;
        return filter_mentions(f->left, attr) || filter_mentions(f->right, attr);
}

/* The index that serves exactly this filter, or _COND_MAX. */
static ListCond list_cond_one(ProvHubKind kind, const ProvFilter *f, const char **ret_value,
                              int64_t *ret_usec) {
        const char *attr, *value;
        int64_t usec;
        bool inclusive;

        if (prov_filter_simple_eq(f, &attr, &value)) {
                *ret_value = value;
                if (streq(attr, "id"))
                        return COND_ID;
                if (streq(attr, "externalId"))
                        return COND_EXTERNAL_ID;
                if (streq(attr, kind == PROV_HUB_USER ? "userName" : "displayName"))
                        return COND_NAME;
        } else if (prov_filter_modified_since(f, &usec, &inclusive)) {
                *ret_usec = usec;
                return inclusive ? COND_MODIFIED_GE : COND_MODIFIED_GT;
        }
        return _COND_MAX;
}

/* Which index serves the filter. *ret_match says that its rows are only candidates, each to be
 * matched against the whole filter: `userName eq "x" and active eq true` reads the rows of
 * userName "x"; a filter with no indexed side reads all (COND_ALL). */
static ListCond list_cond(ProvHubKind kind, const ProvFilter *f, const char **ret_value, int64_t *ret_usec,
                          bool *ret_match) {
        ListCond c;

        *ret_match = false;
        if (!f)
                return COND_ALL;
        c = list_cond_one(kind, f, ret_value, ret_usec);
        if (c != _COND_MAX)
                return c;
        *ret_match = true;
        if (f->op == PROV_FILTER_AND) {
                c = list_cond_one(kind, f->left, ret_value, ret_usec);
                if (c == _COND_MAX)
                        c = list_cond_one(kind, f->right, ret_value, ret_usec);
                if (c != _COND_MAX)
                        return c;
        }
        return COND_ALL;
}

/* Binds the condition's value (?1; the count of all has none; the page of all: not NULL for
 * the fleet's view, with ghosts) and, for a page, the ref to start after (?2). */
static int list_bind(HubStore *s, HubStmt *st, ListCond cond, const char *value, int64_t usec,
                     int64_t after, bool count, bool fleet) {
        int r = 0;

        if (cond == COND_MODIFIED_GT || cond == COND_MODIFIED_GE)
                r = hub_db_bind_int64(st, 1, usec);
        else if (cond != COND_ALL)
                r = hub_db_bind_text(st, 1, value);
        else if (!count)
                r = fleet ? hub_db_bind_text(st, 1, "fleet") : hub_db_bind_null(st, 1);
        if (r < 0)
                return r;
        if (!count && hub_db_bind_int64(st, 2, after) < 0)
                return -EIO;
        return 0;
}

/* Adds a rendered resource to the page. */
static int page_add(cJSON *resources, cJSON *o) {
        if (!cJSON_AddItemToArray(resources, o)) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        return 0;
}

/* A list served by an index (or none: all, in ref order): the count, then one page, reading no
 * more rows than it returns (plus one in cursor mode, to know whether more follow). */
static int list_indexed(HubStore *s, ProvHubKind kind, const HubQuery *q, ListCond cond, const char *value,
                        int64_t usec, const HubRender *how, HubPage *page) {
        _cleanup_db_reset_ HubStmt *count = NULL, *st = NULL;
        int64_t n = 0, last_ref = 0, head = 0, start = q->start_index > 1 ? q->start_index : 1, after,
                offset;
        bool memo = false, fleet = how && how->fleet;
        int r;

        /* The walk memo is SCIM's: the fleet's view (ghosts too) walks by cursor. */
        if (cond == COND_ALL && !fleet) {
                r = hub_store_get_int(s, STMT_HEAD, &head);
                if (r < 0)
                        return r;
                memo = !s->in_batch && s->walk[kind].valid && s->walk[kind].head == head;
        }

        if (memo)
                page->total = s->walk[kind].total;
        else {
                r = hub_db_stmt(s->db, STMT_LIST(kind, cond, 1), &count);
                if (r < 0)
                        return r;
                r = list_bind(s, count, cond, value, usec, 0, true, fleet);
                if (r < 0)
                        return r;
                r = hub_db_step(count);
                if (r < 0)
                        return r;
                page->total = r > 0 ? hub_db_column_int64(count, 0) : 0;
        }
        if (q->count == 0)
                return 0;

        if (q->cursor)
                after = q->after_cursor, offset = 0;
        else if (memo && start == s->walk[kind].next_index)
                after = s->walk[kind].after_ref, offset = 0;
        else
                after = 0, offset = start - 1;

        r = hub_db_stmt(s->db, STMT_LIST(kind, cond, 0), &st);
        if (r < 0)
                return r;
        r = list_bind(s, st, cond, value, usec, after, false, fleet);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 3, (int64_t) q->count + (q->cursor ? 1 : 0)) < 0 ||
            hub_db_bind_int64(st, 4, offset) < 0)
                return -EIO;
        for (;;) {
                _cleanup_(hub_store_row_done) Row row = {};
                cJSON *o;

                r = hub_db_step(st);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n == (int64_t) q->count) {
                        page->next_cursor = last_ref; /* one more follows */
                        break;
                }
                r = hub_store_row_read(s, st, &row);
                if (r < 0)
                        return r;
                r = hub_store_render_row(s, kind, &row, how, how ? how->with_members : true, &o);
                if (r < 0)
                        return r;
                r = page_add(page->resources, o);
                if (r < 0)
                        return r;
                last_ref = row.ref;
                n++;
        }

        if (cond == COND_ALL && !fleet) {
                bool walked = !q->cursor && n > 0;

                s->walk[kind].valid = true;
                s->walk[kind].head = head;
                s->walk[kind].total = page->total;
                s->walk[kind].next_index = walked ? start + n : 0; /* 0: no index walk to continue */
                s->walk[kind].after_ref = walked ? last_ref : 0;
        }
        return 0;
}

/* A filter no index serves exactly: every candidate the index gives (every resource for
 * COND_ALL) in ref order, matched one by one. The total needs all of them; the page keeps only
 * its own. */
static int list_scan(HubStore *s, ProvHubKind kind, const HubQuery *q, ListCond cond, const char *value,
                     int64_t usec, const HubRender *how, HubPage *page) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        bool with_members = how ? how->with_members : true;
        bool need_members = kind == PROV_HUB_GROUP && filter_mentions(q->filter, "members");
        int64_t start = q->start_index > 1 ? q->start_index : 1, n = 0, last_ref = 0;
        int r;

        page->total = 0;
        r = hub_db_stmt(s->db, STMT_LIST(kind, cond, 0), &st);
        if (r < 0)
                return r;
        r = list_bind(s, st, cond, value, usec, 0, false, how && how->fleet);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 3, -1) < 0 || hub_db_bind_int64(st, 4, 0) < 0)
                return -EIO;
        for (;;) {
                _cleanup_(hub_store_row_done) Row row = {};
                _cleanup_(cJSON_Deletep) cJSON *o = NULL;
                bool in_page;

                r = hub_db_step(st);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = hub_store_row_read(s, st, &row);
                if (r < 0)
                        return r;
                r = hub_store_render_row(s, kind, &row, how, with_members || need_members, &o);
                if (r < 0)
                        return r;
                if (!prov_filter_match(q->filter, o))
                        continue;
                page->total++;

                if (q->cursor)
                        in_page = row.ref > q->after_cursor && n < (int64_t) q->count;
                else
                        in_page = page->total >= start && n < (int64_t) q->count;
                if (q->cursor && row.ref > q->after_cursor && n == (int64_t) q->count &&
                    page->next_cursor == 0)
                        page->next_cursor = last_ref;
                if (!in_page)
                        continue;
                if (!with_members)
                        cJSON_DeleteItemFromObjectCaseSensitive(o, "members");
                r = page_add(page->resources, TAKE_PTR(o));
                if (r < 0)
                        return r;
                last_ref = row.ref;
                n++;
        }
        return 0;
}

int hub_store_list(HubStore *s, ProvHubKind kind, const HubQuery *q, const HubRender *how, HubPage *ret,
                   ProvScimError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resources = NULL;
        HubPage page = {};
        const char *value = NULL;
        int64_t usec = 0;
        ListCond cond;
        bool match;
        int r;

        if (!s || !hub_store_kind_valid(kind) || !q || !ret)
                return -EINVAL;
        if (q->cursor && q->after_cursor < 0)
                return prov_scim_error_set(err, 400, "invalidCursor", "cursor out of range");

        resources = cJSON_CreateArray();
        if (!resources)
                return -ENOMEM;
        page.resources = resources;

        cond = list_cond(kind, q->filter, &value, &usec, &match);
        if (match)
                r = list_scan(s, kind, q, cond, value, usec, how, &page);
        else
                r = list_indexed(s, kind, q, cond, value, usec, how, &page);
        if (r < 0)
                return r;
        if (!q->cursor)
                page.next_cursor = 0;

        page.resources = TAKE_PTR(resources);
        *ret = page;
        return 0;
}

/* ---- cursors ---- */

/* A cursor is the ref of the last resource of the previous page, in decimal: 1 to 18 digits,
 * no sign, no leading zero. */
int hub_cursor_parse(const char *s, int64_t *ret) {
        int64_t v = 0;
        size_t n;

        if (!s || !ret)
                return -EINVAL;
        n = strlen(s);
        if (n == 0 || n > 18 || s[0] == '0')
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return 0;
}

char *hub_cursor_format(int64_t n) {
        char *p;

        if (n <= 0)
                return NULL;
        if (asprintf(&p, "%" PRId64, n) < 0)
                return NULL;
        return p;
}
