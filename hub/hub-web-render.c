/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub-util.h"
#include "hub-web.h"
#include "prov-time.h"

/* The fleet page's HTML: server-rendered tables that read without JavaScript, landmarks
 * (header, nav, main), table headers with scope, labels on every control. Every string that
 * comes from the store (names are the IdP's, hostnames and versions the hosts') goes through
 * hub_web_escape(); the only unescaped text is this file's own. No inline script or style: the
 * Content-Security-Policy forbids both. */

void hub_web_escape(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static const char *str(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t num(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) ? (int64_t) v->valuedouble : 0;
}

static int count(const cJSON *o, const char *key) {
        return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* A text cell, escaped; "—" when there is nothing. */
static void cell(FILE *f, const char *s) {
        fputs("<td>", f);
        if (s && *s)
                hub_web_escape(f, s);
        else
                fputs("&mdash;", f);
        fputs("</td>", f);
}

static void csrf_field(FILE *f, const HubWebPage *p) {
        fputs("<input type=\"hidden\" name=\"csrf\" value=\"", f);
        hub_web_escape(f, p->csrf);
        fputs("\">", f);
}

/* "3 min ago" beside the time stamp, as people read the page. */
static void ago(FILE *f, int64_t now, int64_t usec) {
        char ts[HUB_TIMESTAMP_MAX];
        int64_t s = (now - usec) / USEC_PER_SEC_I64;

        if (usec <= 0) {
                fputs("never", f);
                return;
        }
        fprintf(f, "<time datetime=\"%s\">", hub_format_timestamp(usec, ts));
        if (s < 0)
                s = 0;
        if (s < 120)
                fprintf(f, "%" PRIi64 " s ago", s);
        else if (s < 7200)
                fprintf(f, "%" PRIi64 " min ago", s / 60);
        else if (s < 2 * 86400)
                fprintf(f, "%" PRIi64 " h ago", s / 3600);
        else
                fprintf(f, "%" PRIi64 " days ago", s / 86400);
        fputs("</time>", f);
}

void hub_web_render_head(FILE *f, const HubWebPage *p) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
              f);
        hub_web_escape(f, p->title);
        fputs(" &middot; provision-hub</title><link rel=\"icon\" href=\"/ui/static/favicon.svg\"><link rel=\"stylesheet\" href=\"/ui/static/hub-web.css\">"
              "<script src=\"/ui/static/hub-web.js\" defer></script></head><body>"
              "<header><p class=\"brand\"><a href=\"/ui/\">provision-hub</a></p>",
              f);
        if (p->csrf) {
                fputs("<nav aria-label=\"Sections\"><ul><li><a href=\"/ui/#leavers\">Leavers</a></li>"
                      "<li><a href=\"/ui/#sources\">Sources</a></li><li><a href=\"/ui/#fleet\">Fleet</a></li>"
                      "<li><a href=\"/ui/#holds\">Held changes</a></li></ul></nav>"
                      "<form class=\"search\" role=\"search\" method=\"get\" action=\"/ui/search\">"
                      "<label for=\"q\">Find a person</label><input id=\"q\" name=\"q\" type=\"search\" "
                      "maxlength=\"128\" placeholder=\"userName or displayName\" value=\"",
                      f);
                hub_web_escape(f, p->query);
                fputs("\"><button type=\"submit\">Search</button></form>"
                      "<form class=\"logout\" method=\"post\" action=\"/ui/logout\">",
                      f);
                csrf_field(f, p);
                fputs("<span>Signed in as <strong>", f);
                hub_web_escape(f, p->who);
                fputs("</strong></span> <button type=\"submit\">Sign out</button></form>", f);
        }
        fputs("</header>\n", f);
        /* Outside <main>: the script swaps <main> with the view as it is now, the notice of
         * what was just done stays. */
        if (p->notice) {
                fputs("<p class=\"notice\" role=\"status\">", f);
                hub_web_escape(f, p->notice);
                fputs("</p>", f);
        }
        fputs("<main id=\"main\"", f);
        if (p->live) {
                fputs(" data-live=\"", f);
                hub_web_escape(f, p->live);
                fputs("\"", f);
        }
        fputs(">", f);
}

void hub_web_render_tail(FILE *f, const HubWebPage *p) {
        fputs("</main>\n<footer><p id=\"live-status\" aria-live=\"polite\">", f);
        if (p->live)
                fputs("This page shows the state when it was loaded; with JavaScript it follows the hub.", f);
        fputs("</p></footer></body></html>\n", f);
}

void hub_web_render_login(FILE *f, const char *error) {
        fputs("<h1>Sign in</h1>", f);
        if (error) {
                fputs("<p class=\"error\" role=\"alert\">", f);
                hub_web_escape(f, error);
                fputs("</p>", f);
        }
        fputs("<form class=\"login\" method=\"post\" action=\"/ui/login\">"
              "<label for=\"token\">Admin token</label>"
              "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>"
              "<button type=\"submit\">Sign in</button></form>"
              "<p>Only an admin token of this hub opens a session (<code>provision-hub token-new admin NAME</code>).</p>",
              f);
}

const char *hub_web_progress(const cJSON *report, char *buf, size_t size) {
        const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(report, "hosts");
        int64_t live = num(hosts, "live"), applied = num(hosts, "applied");
        int silent = count(report, "silent");

        if (!hosts)
                return "Not a leaver";
        if (live == 0 && silent == 0)
                snprintf(buf, size, "No host follows the feed yet");
        else if (applied >= live && silent == 0)
                snprintf(buf, size, "Gone on all hosts (%" PRIi64 " of %" PRIi64 ")", applied, live);
        else if (applied >= live)
                snprintf(buf, size, "Gone on all %" PRIi64 " live hosts; %d silent", live, silent);
        else
                snprintf(buf, size, "Applied on %" PRIi64 " of %" PRIi64 " live hosts", applied, live);
        return buf;
}

/* The hosts named in a report's array (lagging, silent), or "none". */
static void host_names(FILE *f, const cJSON *report, const char *key) {
        const cJSON *h, *hosts = cJSON_GetObjectItemCaseSensitive(report, key);
        int n = 0;

        cJSON_ArrayForEach(h, hosts) {
                if (n == HUB_WEB_MAX_HOST_NAMES) {
                        fprintf(f, " and %d more", cJSON_GetArraySize(hosts) - n);
                        break;
                }
                if (n > 0)
                        fputs(", ", f);
                hub_web_escape(f, str(h, "hostname") ?: str(h, "host"));
                n++;
        }
        if (n == 0)
                fputs("none", f);
}

static void leaver_link(FILE *f, const cJSON *r) {
        fputs("<a href=\"/ui/leaver?id=", f);
        /* SCIM ids are the hub's own UUIDs; escaped all the same. */
        hub_web_escape(f, str(r, "id"));
        fputs("\">", f);
        hub_web_escape(f, str(r, "userName") ?: str(r, "id"));
        fputs("</a>", f);
}

static void render_leavers(FILE *f, const HubWebPage *p, const cJSON *leavers) {
        const cJSON *r;
        char buf[128];

        fputs("<section id=\"leavers\" aria-labelledby=\"leavers-h\"><h2 id=\"leavers-h\">Leavers</h2>", f);
        if (cJSON_GetArraySize(leavers) == 0) {
                fputs("<p>No deactivation, deletion or lock in the last 7 days.</p></section>", f);
                return;
        }
        fputs("<table><caption>Deactivations, deletions and locks of the last 7 days, newest first</caption>"
              "<thead><tr><th scope=\"col\">User</th><th scope=\"col\">What</th><th scope=\"col\">When</th>"
              "<th scope=\"col\">By</th><th scope=\"col\">Progress</th><th scope=\"col\">Sessions ended on</th>"
              "<th scope=\"col\">Lagging</th><th scope=\"col\">Silent</th></tr></thead><tbody>",
              f);
        cJSON_ArrayForEach(r, leavers) {
                const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(r, "hosts");
                const char *progress = hub_web_progress(r, buf, sizeof(buf));

                fputs("<tr><th scope=\"row\">", f);
                leaver_link(f, r);
                fputs("</th>", f);
                cell(f, str(r, "state"));
                fputs("<td>", f);
                hub_web_escape(f, str(r, "at") ?: "at creation");
                fputs("</td>", f);
                cell(f, str(r, "by"));
                fprintf(f, "<td class=\"%s\">", strncmp(progress, "Gone on all hosts", 17) == 0 ? "done" : "pending");
                hub_web_escape(f, progress);
                fprintf(f, "</td><td>%" PRIi64 " host(s)</td><td>", num(hosts, "sessionsTerminated"));
                host_names(f, r, "lagging");
                fputs("</td><td>", f);
                host_names(f, r, "silent");
                fputs("</td></tr>", f);
        }
        fputs("</tbody></table></section>", f);
        (void) p;
}

static void render_sources(FILE *f, const HubWebPage *p, const cJSON *sources) {
        const cJSON *s;

        fputs("<section id=\"sources\" aria-labelledby=\"sources-h\"><h2 id=\"sources-h\">Sources</h2>", f);
        if (cJSON_GetArraySize(sources) == 0) {
                fputs("<p>No identity provider has pushed a change yet.</p></section>", f);
                return;
        }
        fputs("<table><caption>Each identity provider token that pushed changes: when it last did, how often, and "
              "whether it is silent for longer than its usual cycle</caption><thead><tr>"
              "<th scope=\"col\">Token</th><th scope=\"col\">Last push</th><th scope=\"col\">Changes (last hour)</th>"
              "<th scope=\"col\">Write requests (last hour)</th><th scope=\"col\">Refused (last hour)</th>"
              "<th scope=\"col\">Usual interval</th>"
              "<th scope=\"col\">Quarantine risk</th></tr></thead><tbody>",
              f);
        cJSON_ArrayForEach(s, sources) {
                const cJSON *median = cJSON_GetObjectItemCaseSensitive(s, "medianInterval");

                fputs("<tr><th scope=\"row\">", f);
                hub_web_escape(f, str(s, "name"));
                fputs("</th><td>", f);
                ago(f, p->now, num(s, "lastPush"));
                fprintf(f, "</td><td>%" PRIi64 "</td><td>%" PRIi64 "</td><td class=\"%s\">%" PRIi64 "</td><td>",
                        num(s, "lastHour"), num(s, "requestsHour"), num(s, "errorsHour") > 0 ? "warn" : "done",
                        num(s, "errorsHour"));
                if (num(s, "pushes") >= 2 && cJSON_IsNumber(median))
                        fprintf(f, "%.1f s", median->valuedouble);
                else
                        fputs("unknown (one push)", f);
                fputs("</td>", f);
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "atRisk")))
                        fputs("<td class=\"warn\">Silent for longer than its usual cycle</td></tr>", f);
                else
                        fputs("<td class=\"done\">No</td></tr>", f);
        }
        fputs("</tbody></table></section>", f);
}

/* Hosts by lag as an inline SVG bar chart (no chart library), with the numbers as text too. */
static void render_lag_chart(FILE *f, const cJSON *hosts) {
        static const char *const labels[] = { "at head", "1-10", "11-1000", ">1000", "silent" };
        int64_t bins[5] = {}, max = 1;
        const cJSON *h;

        cJSON_ArrayForEach(h, hosts) {
                int64_t behind = num(h, "behind");

                if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "live")))
                        bins[4]++;
                else
                        bins[behind == 0 ? 0 : behind <= 10 ? 1 : behind <= 1000 ? 2 : 3]++;
        }
        for (size_t i = 0; i < 5; i++)
                if (bins[i] > max)
                        max = bins[i];
        fprintf(f,
                "<figure><svg class=\"chart\" viewBox=\"0 0 500 160\" width=\"500\" height=\"160\" role=\"img\" "
                "aria-labelledby=\"lag-t\"><title id=\"lag-t\">Hosts by changes behind the head: %" PRIi64
                " at head, %" PRIi64 " 1-10 behind, %" PRIi64 " 11-1000 behind, %" PRIi64 " more, %" PRIi64
                " silent</title>",
                bins[0], bins[1], bins[2], bins[3], bins[4]);
        for (size_t i = 0; i < 5; i++) {
                int64_t hgt = bins[i] * 110 / max;

                fprintf(f,
                        "<rect class=\"bar%s\" x=\"%zu\" y=\"%" PRIi64 "\" width=\"70\" height=\"%" PRIi64 "\"></rect>"
                        "<text x=\"%zu\" y=\"%" PRIi64 "\" text-anchor=\"middle\">%" PRIi64 "</text>"
                        "<text x=\"%zu\" y=\"155\" text-anchor=\"middle\">%s</text>",
                        i == 4 ? " silent" : i > 0 ? " behind" : "", 15 + i * 95, 130 - hgt, hgt, 50 + i * 95,
                        125 - hgt, bins[i], 50 + i * 95, labels[i]);
        }
        fputs("</svg><figcaption>Hosts by how many changes they are behind</figcaption></figure>", f);
}

static void render_fleet(FILE *f, const HubWebPage *p, const cJSON *fleet) {
        const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(fleet, "hosts"), *h;

        fprintf(f, "<section id=\"fleet\" aria-labelledby=\"fleet-h\"><h2 id=\"fleet-h\">Fleet</h2>"
                   "<p>Head of the change feed: %" PRIi64 ". Hosts following it: %d.</p>",
                num(fleet, "seq"), cJSON_GetArraySize(hosts));
        if (cJSON_GetArraySize(hosts) == 0) {
                fputs("<p>No host has polled the feed yet.</p></section>", f);
                return;
        }
        render_lag_chart(f, hosts);
        fputs("<table><caption>Every host following the feed</caption><thead><tr><th scope=\"col\">Host</th>"
              "<th scope=\"col\">Machine id</th><th scope=\"col\">Version</th><th scope=\"col\">Applied</th>"
              "<th scope=\"col\">Behind</th><th scope=\"col\">Last seen</th><th scope=\"col\">State</th></tr>"
              "</thead><tbody>",
              f);
        cJSON_ArrayForEach(h, hosts) {
                bool live = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "live"));

                fputs("<tr><th scope=\"row\">", f);
                hub_web_escape(f, str(h, "hostname") ?: "(unnamed)");
                fputs("</th>", f);
                cell(f, str(h, "host"));
                cell(f, str(h, "version"));
                fprintf(f, "<td>%" PRIi64 "</td><td>%" PRIi64 "</td>", num(h, "appliedSeq"), num(h, "behind"));
                cell(f, str(h, "lastSeen"));
                fprintf(f, "<td class=\"%s\">%s</td></tr>", live ? "done" : "warn", live ? "live" : "silent");
        }
        fputs("</tbody></table></section>", f);
        (void) p;
}

static void render_holds(FILE *f, const HubWebPage *p, const cJSON *holds) {
        const cJSON *users = cJSON_GetObjectItemCaseSensitive(holds, "users"), *u;

        fputs("<section id=\"holds\" aria-labelledby=\"holds-h\"><h2 id=\"holds-h\">Held changes</h2>", f);
        if (cJSON_GetArraySize(users) == 0) {
                fputs("<p>The guard holds nothing.</p></section>", f);
                return;
        }
        fprintf(f, "<p>The mass-deactivation guard holds %d deactivation(s) from the fleet until an admin approves.</p>"
                   "<table><caption>Held deactivations</caption><thead><tr><th scope=\"col\">User</th>"
                   "<th scope=\"col\">SCIM id</th></tr></thead><tbody>",
                cJSON_GetArraySize(users));
        cJSON_ArrayForEach(u, users) {
                fputs("<tr><th scope=\"row\">", f);
                hub_web_escape(f, str(u, "userName"));
                fputs("</th>", f);
                cell(f, str(u, "id"));
                fputs("</tr>", f);
        }
        fputs("</tbody></table><form method=\"post\" action=\"/ui/approve\">", f);
        csrf_field(f, p);
        fputs("<button type=\"submit\">Approve&hellip;</button></form></section>", f);
}

void hub_web_render_dashboard(FILE *f, const HubWebPage *p, const cJSON *leavers, const cJSON *sources,
                              const cJSON *hosts, const cJSON *holds) {
        fputs("<h1>Is their access gone?</h1>", f);
        render_leavers(f, p, leavers);
        render_holds(f, p, holds);
        render_sources(f, p, sources);
        render_fleet(f, p, hosts);
}

static void lock_form(FILE *f, const HubWebPage *p, const char *id, bool lock) {
        fputs("<form method=\"post\" action=\"/ui/lock\">", f);
        csrf_field(f, p);
        fputs("<input type=\"hidden\" name=\"id\" value=\"", f);
        hub_web_escape(f, id);
        fprintf(f, "\"><input type=\"hidden\" name=\"action\" value=\"%s\"><button type=\"submit\">%s&hellip;</button></form>",
                lock ? "lock" : "unlock", lock ? "Lock now" : "Unlock");
}

/* One host table of a report: its outcomes (what each host acked). */
static void render_outcomes(FILE *f, const cJSON *report) {
        const cJSON *o;

        if (count(report, "outcomes") == 0) {
                fputs("<p>No host has acked this change yet.</p>", f);
                return;
        }
        fputs("<table><caption>What each host reported</caption><thead><tr><th scope=\"col\">Host</th>"
              "<th scope=\"col\">Result</th><th scope=\"col\">Sessions</th><th scope=\"col\">Steps</th>"
              "<th scope=\"col\">Applied</th></tr></thead><tbody>",
              f);
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(report, "outcomes")) {
                const cJSON *step;
                bool first = true;

                fputs("<tr><th scope=\"row\">", f);
                hub_web_escape(f, str(o, "hostname") ?: str(o, "host"));
                fputs("</th>", f);
                cell(f, str(o, "result"));
                fprintf(f, "<td>%" PRIi64 "</td><td>", num(o, "sessions"));
                cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(o, "steps")) {
                        if (!first)
                                fputs(", ", f);
                        hub_web_escape(f, step->string);
                        fputs(": ", f);
                        hub_web_escape(f, cJSON_IsString(step) ? step->valuestring : "?");
                        first = false;
                }
                fprintf(f, "</td><td>%" PRIi64 "</td></tr>", num(o, "appliedSeq"));
        }
        fputs("</tbody></table>", f);
}

void hub_web_render_leaver(FILE *f, const HubWebPage *p, const cJSON *r) {
        const char *state = str(r, "state");
        char buf[128];

        fputs("<h1>", f);
        hub_web_escape(f, str(r, "userName") ?: str(r, "id"));
        fputs("</h1><dl class=\"facts\"><dt>SCIM id</dt><dd>", f);
        hub_web_escape(f, str(r, "id"));
        fputs("</dd><dt>State at the hub</dt><dd>", f);
        hub_web_escape(f, state);
        fputs("</dd>", f);
        if (state && !streq(state, "active")) {
                fputs("<dt>When</dt><dd>", f);
                hub_web_escape(f, str(r, "at") ?: "at creation");
                fputs("</dd><dt>By</dt><dd>", f);
                hub_web_escape(f, str(r, "by") ?: "-");
                fputs("</dd><dt>Progress</dt><dd class=\"progress\">", f);
                hub_web_escape(f, hub_web_progress(r, buf, sizeof(buf)));
                fprintf(f, "</dd><dt>Sessions ended on</dt><dd>%" PRIi64 " host(s)</dd><dt>Lagging</dt><dd>",
                        num(cJSON_GetObjectItemCaseSensitive(r, "hosts"), "sessionsTerminated"));
                host_names(f, r, "lagging");
                fputs("</dd><dt>Silent</dt><dd>", f);
                host_names(f, r, "silent");
                fputs("</dd></dl>", f);
                render_outcomes(f, r);
        } else
                fputs("</dl>", f);
        if (state && !streq(state, "deleted"))
                lock_form(f, p, str(r, "id"), !streq(state, "locked"));
}

void hub_web_render_search(FILE *f, const HubWebPage *p, const cJSON *results) {
        const cJSON *u;
        char buf[128];

        fputs("<h1>Search: ", f);
        hub_web_escape(f, p->query);
        fputs("</h1>", f);
        if (cJSON_GetArraySize(results) == 0) {
                fputs("<p>Nobody of that userName or displayName.</p>", f);
                return;
        }
        fputs("<table><caption>Each match at the identity provider, at the hub and on the hosts</caption><thead><tr>"
              "<th scope=\"col\">User</th><th scope=\"col\">Display name</th><th scope=\"col\">At the IdP</th>"
              "<th scope=\"col\">At the hub</th><th scope=\"col\">On the hosts</th><th scope=\"col\">Lagging</th>"
              "<th scope=\"col\">Silent</th></tr></thead><tbody>",
              f);
        cJSON_ArrayForEach(u, results) {
                const cJSON *report = cJSON_GetObjectItemCaseSensitive(u, "report");
                const char *state = str(report, "state");
                const cJSON *idp = cJSON_GetObjectItemCaseSensitive(u, "idp");
                bool idp_active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(idp, "active"));
                bool idp_deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(idp, "deleted"));

                fputs("<tr><th scope=\"row\">", f);
                leaver_link(f, u);
                fputs("</th>", f);
                cell(f, str(u, "displayName"));
                cell(f, idp_deleted ? "deleted" : idp_active ? "active" : "inactive");
                fputs("<td>", f);
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "locked"))) {
                        fputs("locked by ", f);
                        hub_web_escape(f, str(u, "lockedBy"));
                } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "held")))
                        fputs("deactivation held by the guard", f);
                else
                        hub_web_escape(f, state);
                fputs("</td>", f);
                if (state && streq(state, "active"))
                        cell(f, "active (nothing to take away)");
                else
                        cell(f, hub_web_progress(report, buf, sizeof(buf)));
                fputs("<td>", f);
                host_names(f, report, "lagging");
                fputs("</td><td>", f);
                host_names(f, report, "silent");
                fputs("</td></tr>", f);
        }
        fputs("</tbody></table>", f);
}

void hub_web_render_confirm_approve(FILE *f, const HubWebPage *p, const cJSON *holds, const char *digest) {
        const cJSON *users = cJSON_GetObjectItemCaseSensitive(holds, "users"), *u;

        if (cJSON_GetArraySize(users) == 0) {
                fputs("<h1>Approve the held changes?</h1><p>The guard holds nothing now.</p>"
                      "<p><a href=\"/ui/#holds\">Back to the fleet</a></p>",
                      f);
                return;
        }
        fprintf(f, "<h1>Approve the held changes?</h1><p>This releases %d held deactivation(s) to every host: "
                   "the users below lose their access everywhere. It is recorded in the hub's audit under your "
                   "token's name.</p><ul>",
                cJSON_GetArraySize(users));
        cJSON_ArrayForEach(u, users) {
                fputs("<li>", f);
                hub_web_escape(f, str(u, "userName"));
                fputs("</li>", f);
        }
        fputs("</ul><form method=\"post\" action=\"/ui/approve\">", f);
        csrf_field(f, p);
        fprintf(f, "<input type=\"hidden\" name=\"hold\" value=\"%" PRIi64 "\"><input type=\"hidden\" name=\"count\" "
                   "value=\"%d\"><input type=\"hidden\" name=\"digest\" value=\"",
                num(holds, "hold"), cJSON_GetArraySize(users));
        hub_web_escape(f, digest);
        fputs("\"><input type=\"hidden\" name=\"confirm\" value=\"yes\"><button type=\"submit\" class=\"danger\">"
              "Approve and release</button> <a href=\"/ui/#holds\">Cancel</a></form>",
              f);
}

void hub_web_render_confirm_lock(FILE *f, const HubWebPage *p, const char *id, const char *user_name, bool lock) {
        fprintf(f, "<h1>%s ", lock ? "Lock" : "Unlock");
        hub_web_escape(f, user_name ?: id);
        fputs(lock ? "?</h1><p>The user is served inactive to every host at once, whatever the identity provider "
                     "sends, until unlocked. Recorded in the hub's audit under your token's name.</p>"
                   : "?</h1><p>The user is served as the identity provider has them again.</p>",
              f);
        fputs("<form method=\"post\" action=\"/ui/lock\">", f);
        csrf_field(f, p);
        fputs("<input type=\"hidden\" name=\"id\" value=\"", f);
        hub_web_escape(f, id);
        fprintf(f, "\"><input type=\"hidden\" name=\"action\" value=\"%s\"><input type=\"hidden\" name=\"confirm\" "
                   "value=\"yes\"><button type=\"submit\" class=\"danger\">%s</button> <a href=\"/ui/\">Cancel</a></form>",
                lock ? "lock" : "unlock", lock ? "Lock now" : "Unlock");
}
