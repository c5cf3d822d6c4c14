/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub-feed.h"
#include "prov-ini.h"

/* Resources per store read while streaming the snapshot. */
#define SNAPSHOT_PAGE 500

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static int parse_seq(const char *s, int64_t *ret) {
        unsigned long v;

        if (!s || prov_parse_ulong(s, 0, INT64_MAX, &v) < 0)
                return -EINVAL;
        *ret = (int64_t) v;
        return 0;
}

int hub_feed_parse(const char *since, const char *prefer, unsigned max_wait, int64_t *ret_since,
                   unsigned *ret_wait, ProvScimError *err) {
        unsigned long wait = 0;

        if (parse_seq(since, ret_since) < 0)
                return prov_scim_error_set(err, 400, NULL, "since= must be the last seq applied (a decimal number).");

        /* Prefer: a list of preferences separated by ',' each with ';' parameters; only wait. */
        for (const char *p = prefer ?: ""; *p;) {
                size_t n = strcspn(p, ",;");
                char token[32];

                while (n > 0 && (*p == ' ' || *p == '\t'))
                        p++, n--;
                if (n > 5 && n < sizeof(token) && strncasecmp(p, "wait=", 5) == 0) {
                        memcpy(token, p + 5, n - 5);
                        token[n - 5] = 0;
                        token[strcspn(token, " \t")] = 0;
                        if (prov_parse_ulong(token, 0, 86400, &wait) < 0)
                                return prov_scim_error_set(err, 400, NULL, "Prefer: wait= must be a number of seconds.");
                }
                p += n;
                if (*p)
                        p++;
        }
        *ret_wait = wait > max_wait ? max_wait : (unsigned) wait;
        return 0;
}

typedef struct Render {
        HubStore *store;
        const HubRender *how;
        cJSON *events;
} Render;

static int add_event(int64_t seq, ProvHubKind kind, const char *id, void *userdata) {
        Render *rd = userdata;
        cJSON *ev, *res = NULL;
        int r;

        r = hub_store_get(rd->store, kind, id, rd->how, &res);
        if (r < 0 && r != -ENOENT)
                return r;
        ev = cJSON_CreateObject();
        if (!ev || !cJSON_AddItemToArray(rd->events, ev)) {
                cJSON_Delete(ev);
                cJSON_Delete(res);
                return -ENOMEM;
        }
        if (!cJSON_AddNumberToObject(ev, "seq", (double) seq) ||
            !cJSON_AddStringToObject(ev, "op", res ? "upsert" : "delete") ||
            !cJSON_AddStringToObject(ev, "resourceType", hub_kind_to_string(kind)) ||
            !cJSON_AddStringToObject(ev, "id", id)) {
                cJSON_Delete(res);
                return -ENOMEM;
        }
        if (res && !cJSON_AddItemToObject(ev, "resource", res)) {
                cJSON_Delete(res);
                return -ENOMEM;
        }
        return 0;
}

static int feed_render(HubStore *s, int64_t since, unsigned max_events, const char *base_url, char **ret,
                       size_t *ret_len, ProvScimError *err) {
        const HubRender how = { .base_url = base_url, .with_members = true, .fleet = true };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        int64_t head, oldest;
        char *text;
        int r;

        r = hub_store_head(s, &head);
        if (r < 0)
                return r;
        if (since > head) {
                prov_scim_error_set(err, 410, NULL,
                                    "since=%" PRIi64 " is ahead of this hub's head %" PRIi64 "; read /v1/snapshot.", since, head);
                return -ESTALE;
        }
        r = hub_store_oldest(s, &oldest);
        if (r < 0)
                return r;
        if (since < head && since < oldest - 1) {
                prov_scim_error_set(err, 410, NULL, "since=%" PRIi64 " is older than the changes this hub keeps; read /v1/snapshot.",
                                    since);
                return -ESTALE;
        }
        if (head - since > (int64_t) max_events) {
                prov_scim_error_set(err, 410, NULL, "since=%" PRIi64 " is more than %u changes behind; read /v1/snapshot.",
                                    since, max_events);
                return -ESTALE;
        }

        answer = cJSON_CreateObject();
        if (!answer || !cJSON_AddNumberToObject(answer, "seq", (double) head))
                return -ENOMEM;
        Render rd = { .store = s, .how = &how, .events = cJSON_AddArrayToObject(answer, "events") };
        if (!rd.events)
                return -ENOMEM;
        if (since < head) {
                r = hub_store_changes(s, since, add_event, &rd);
                if (r < 0)
                        return r;
        }
        text = cJSON_PrintUnformatted(answer);
        if (!text)
                return -ENOMEM;
        *ret_len = strlen(text);
        *ret = text;
        return 0;
}

/* The answer's head, changes and resources are read as one committed state: with replicas
 * writing beside this process, a change committed between two of its reads would otherwise be
 * an event past the answer's seq, or a resource newer than its event. */
int hub_feed_render(HubStore *s, int64_t since, unsigned max_events, const char *base_url, char **ret,
                    size_t *ret_len, ProvScimError *err) {
        int r;

        r = hub_store_view_begin(s);
        if (r < 0)
                return r;
        r = feed_render(s, since, max_events, base_url, ret, ret_len, err);
        hub_store_view_end(s);
        return r;
}

/* ---- the snapshot ---- */

typedef enum SnapshotPhase {
        PHASE_USERS,
        PHASE_GROUPS,
        PHASE_END,
} SnapshotPhase;

struct HubSnapshot {
        HubStore *store;
        char *base_url;
        int64_t seq;
        SnapshotPhase phase;
        int64_t after;     /* cursor in the current phase; 0 from the start */
        bool first;        /* no resource written yet in this phase */
        bool more;         /* the current phase has pages left */
        char *pending;     /* text rendered and not yet handed out */
        size_t pending_len, pending_pos;
};

HubSnapshot *hub_snapshot_free(HubSnapshot *snap) {
        if (!snap)
                return NULL;
        hub_store_read_end(snap->store);
        hub_store_close(snap->store);
        free(snap->base_url);
        free(snap->pending);
        free(snap);
        return NULL;
}

int hub_snapshot_open(HubStore *store, const char *base_url, HubSnapshot **ret) {
        _cleanup_(hub_snapshot_freep) HubSnapshot *snap = NULL;
        int r;

        snap = calloc(1, sizeof(*snap));
        if (!snap)
                return -ENOMEM;
        snap->base_url = strdup(base_url);
        if (!snap->base_url)
                return -ENOMEM;
        r = hub_store_reopen(store, false, &snap->store);
        if (r < 0)
                return r;
        r = hub_store_read_begin(snap->store);
        if (r < 0)
                return r;
        r = hub_store_head(snap->store, &snap->seq); /* the first read fixes the state read */
        if (r < 0)
                return r;
        if (asprintf(&snap->pending, "{\"seq\":%" PRIi64 ",\"Users\":[", snap->seq) < 0) {
                snap->pending = NULL;
                return -ENOMEM;
        }
        snap->pending_len = strlen(snap->pending);
        snap->phase = PHASE_USERS;
        snap->first = true;
        snap->more = true;
        *ret = TAKE_PTR(snap);
        return 0;
}

int64_t hub_snapshot_seq(const HubSnapshot *snap) {
        return snap ? snap->seq : -1;
}

/* Renders the next page of the current phase (or the text between phases) into pending. */
static int snapshot_fill(HubSnapshot *snap) {
        const HubRender how = { .base_url = snap->base_url, .with_members = true, .fleet = true };
        ProvHubKind kind = snap->phase == PHASE_USERS ? PROV_HUB_USER : PROV_HUB_GROUP;
        HubQuery q = { .count = SNAPSHOT_PAGE, .cursor = true, .after_cursor = snap->after };
        HubPage page = {};
        ProvScimError err = {};
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        cJSON *res;
        int r;

        free(snap->pending);
        snap->pending = NULL;
        snap->pending_len = snap->pending_pos = 0;

        if (!snap->more) {
                /* The end of a phase. */
                if (snap->phase == PHASE_USERS) {
                        snap->phase = PHASE_GROUPS;
                        snap->after = 0;
                        snap->first = true;
                        snap->more = true;
                        snap->pending = strdup("],\"Groups\":[");
                } else {
                        snap->phase = PHASE_END;
                        snap->pending = strdup("]}\n");
                }
                if (!snap->pending)
                        return -ENOMEM;
                snap->pending_len = strlen(snap->pending);
                return 0;
        }

        r = hub_store_list(snap->store, kind, &q, &how, &page, &err);
        if (r < 0)
                return r;
        f = open_memstream(&buf, &size);
        if (!f) {
                cJSON_Delete(page.resources);
                return -ENOMEM;
        }
        cJSON_ArrayForEach(res, page.resources) {
                char *t = cJSON_PrintUnformatted(res);

                if (!t) {
                        r = -ENOMEM;
                        break;
                }
                if (!snap->first)
                        fputc(',', f);
                fputs(t, f);
                free(t);
                snap->first = false;
        }
        cJSON_Delete(page.resources);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        snap->pending = buf;
        snap->pending_len = size;
        snap->after = page.next_cursor;
        snap->more = page.next_cursor > 0;
        return 0;
}

ssize_t hub_snapshot_read(HubSnapshot *snap, char *buf, size_t max) {
        int r;

        while (snap->pending_pos >= snap->pending_len) {
                if (snap->phase == PHASE_END && snap->pending)
                        return 0;
                r = snapshot_fill(snap);
                if (r < 0)
                        return r;
        }
        size_t n = snap->pending_len - snap->pending_pos;
        if (n > max)
                n = max;
        memcpy(buf, snap->pending + snap->pending_pos, n);
        snap->pending_pos += n;
        return (ssize_t) n;
}
