/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hub's fleet page (issue 18): a read-only web view for the people who ask "is their access
 * gone?", below /ui on the hub's own listener. Three parts:
 *   hub-web.c         the door: sessions made from an admin token, CSRF, security headers,
 *                     routing, the two write actions (approve held changes, lock a user);
 *   hub-web-data.c    what the page shows, read from the store (recent leavers, the IdP tokens'
 *                     pushes, the search) as cJSON, the same shapes the admin API answers;
 *   hub-web-render.c  that data as server-rendered HTML, every string escaped.
 * The page works without JavaScript; hub-web.js only fetches the same view's <main> again
 * (GET /ui/fragment/...) and swaps it in when it changed. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "hub-store.h"
#include "prov-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* ------------------------------------------------------------------ data (hub-web-data.c) */

/* How many leavers and search results a page shows at most. */
#define HUB_WEB_MAX_LEAVERS 50
#define HUB_WEB_MAX_RESULTS 20
/* How many lagging or silent hosts a leaver's row names (then "and N more"). */
#define HUB_WEB_MAX_HOST_NAMES 10
/* The audit rows the sources are computed from, newest first. */
#define HUB_WEB_SOURCE_ROWS 5000
/* An IdP is at risk of quarantine when silent for this many of its usual (median) intervals
 * between pushes, and at least HUB_WEB_SILENT_MIN_SEC. */
#define HUB_WEB_SILENT_FACTOR 3
#define HUB_WEB_SILENT_MIN_SEC 60

/* The users who left (deactivated, deleted or locked) since `since` (µs), newest first: an array
 * of hub_fleet_leaver_report() objects. */
int hub_web_leavers(HubStore *s, int64_t since, cJSON **ret);

/* Per SCIM token NAME that wrote in the newest HUB_WEB_SOURCE_ROWS audit rows: an array of
 * {"name", "lastPush" (µs), "lastHour" (writes), "pushes" (distinct request times seen, at most
 *  64), "medianInterval" (s between them), "atRisk" (bool)}, by name. */
int hub_web_sources(HubStore *s, int64_t now, cJSON **ret);

/* Users whose userName or displayName contains q (case-insensitive, ASCII): an array of
 * {"id", "userName", "displayName"?, "idp": {"active", "deleted"}, "locked"?, "lockedBy"?,
 *  "held", "report": hub_fleet_leaver_report()}. -EINVAL for an empty or too long q. */
#define HUB_WEB_QUERY_MAX 128
int hub_web_search(HubStore *s, const char *q, cJSON **ret);

/* ------------------------------------------------------------------ HTML (hub-web-render.c) */

/* What a page needs besides its data. */
typedef struct HubWebPage {
        const char *title;
        const char *csrf;       /* the session's CSRF token, NULL on the login page */
        const char *who;        /* the admin token's NAME */
        const char *live;       /* the fragment URL hub-web.js follows, or NULL */
        const char *notice;     /* a line to show above the content, or NULL */
        const char *query;      /* the search box's value, or NULL */
        int64_t now;            /* µs */
        uint64_t generation;    /* the hub's commits the view has seen (hub-web.c) */
        unsigned retry_after;   /* s hub-web.js waits before asking again (a fragment not held), or 0 */
} HubWebPage;

/* Writes s with <, >, &, " and ' escaped (an IdP may name a user anything). */
void hub_web_escape(FILE *f, const char *s);

void hub_web_render_head(FILE *f, const HubWebPage *p);
void hub_web_render_tail(FILE *f, const HubWebPage *p);
void hub_web_render_login(FILE *f, const char *error);
/* The dashboard's sections: leavers, sources, fleet, held changes. */
void hub_web_render_dashboard(FILE *f, const HubWebPage *p, const cJSON *leavers, const cJSON *sources,
                              const cJSON *hosts, const cJSON *holds);
void hub_web_render_leaver(FILE *f, const HubWebPage *p, const cJSON *report);
void hub_web_render_search(FILE *f, const HubWebPage *p, const cJSON *results);
/* The confirmation step of a write: what it will do, and the form that does it. The approval's
 * form carries the hold's number, how many users it showed and digest (of their ids, hub-web.c):
 * the second step approves only that hold as it was shown. */
void hub_web_render_confirm_approve(FILE *f, const HubWebPage *p, const cJSON *holds, const char *digest);
void hub_web_render_confirm_lock(FILE *f, const HubWebPage *p, const char *id, const char *user_name, bool lock);
/* A leaver's progress in words: "Gone on all hosts", "Applied on 2 of 3 live hosts", ... */
const char *hub_web_progress(const cJSON *report, char *buf, size_t size);
