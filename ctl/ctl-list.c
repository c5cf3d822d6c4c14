/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl's listings, read from the store opened read-only: users, groups, one user
 * (show) and the audit log (events). */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl-util.h"
#include "ctl.h"
#include "log.h"

/* Events shown by `show`. */
#define SHOW_EVENTS 20

static int cmp_user_scim_id(const void *a, const void *b) {
        return strcmp((*(const ProvUserRecord *const *) a)->scim_id, (*(const ProvUserRecord *const *) b)->scim_id);
}

/* The loaded users (ordered by uid) by SCIM id, for find_user(). */
static const ProvUserRecord **users_by_scim_id(const ProvUserRecord *v, size_t n) {
        const ProvUserRecord **index = calloc(n + 1, sizeof(ProvUserRecord *));

        if (!index)
                return NULL;
        for (size_t i = 0; i < n; i++)
                index[i] = &v[i];
        qsort(index, n, sizeof(ProvUserRecord *), cmp_user_scim_id);
        return index;
}

static const ProvUserRecord *find_user(const ProvUserRecord *const *index, size_t n, const char *scim_id) {
        const ProvUserRecord key = { .scim_id = (char *) scim_id }, *k = &key, *const *found;

        found = bsearch(&k, index, n, sizeof(ProvUserRecord *), cmp_user_scim_id);
        return found ? *found : NULL;
}

/* The first of a group's memberships (ordered by group, then user, as loaded), or n. */
static size_t first_membership(const ProvMembership *ms, size_t n, const char *group_scim_id) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ms[mid].group_scim_id, group_scim_id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Opens the store read-only, runs load on it and closes it again: 0, or the exit code (a failure
 * of load logged as one to read what). */
static int read_store(int (*load)(ProvStore *store, void *userdata), void *userdata, const char *what) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        ProvStore *store = NULL;
        int r;

        r = setup_read(&c, &store);
        if (r != 0)
                return r;
        r = load(store, userdata);
        if (r < 0)
                log_error_errno(r, "Failed to read %s: %m (%s)", what, prov_store_errmsg(store));
        prov_store_close(store);
        return r < 0 ? EXIT_FAILED : 0;
}

/* A listing in JSON: an object with the array key, whose elements the caller writes between. */
static void json_list_begin(CtlJson *j, const char *key) {
        ctl_json_init(j, stdout);
        ctl_json_begin_object(j, NULL);
        ctl_json_begin_array(j, key);
}

static void json_list_end(CtlJson *j) {
        ctl_json_end_array(j);
        ctl_json_end_object(j);
        ctl_json_finish(j);
}

static void json_user(CtlJson *j, const char *key, const ProvUserRecord *u) {
        ctl_json_begin_object(j, key);
        ctl_json_str(j, "name", u->name);
        ctl_json_str(j, "scim_id", u->scim_id);
        ctl_json_uint(j, "uid", u->uid);
        ctl_json_uint(j, "gid", u->gid);
        ctl_json_str(j, "gecos", u->gecos);
        ctl_json_str(j, "home", u->home);
        ctl_json_str(j, "shell", u->shell);
        ctl_json_str(j, "state", prov_state_to_string(u->state));
        ctl_json_bool(j, "source_active", u->source_active);
        ctl_json_bool(j, "blocked", u->blocked);
        ctl_json_int(j, "created_usec", u->created_usec);
        ctl_json_int(j, "updated_usec", u->updated_usec);
        ctl_json_int(j, "state_changed_usec", u->state_changed_usec);
        ctl_json_int(j, "last_seen_usec", u->last_seen_usec);
        ctl_json_end_object(j);
}

typedef struct UserList {
        ProvUserRecord *v;
        size_t n;
} UserList;

static int load_users(ProvStore *store, void *userdata) {
        UserList *l = userdata;

        return prov_store_users_load(store, &l->v, &l->n);
}

int verb_users(char **args) {
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        UserList l = {};
        ProvState filter = _PROV_STATE_INVALID;
        int r;

        if (arg_state) {
                filter = prov_state_from_string(arg_state);
                if (filter < 0) {
                        log_error("Unknown state '%s' (active, suspended, deprovisioned, blocked).", SAFE(arg_state));
                        return EXIT_USAGE;
                }
        }
        r = read_store(load_users, &l, "users");
        if (r != 0)
                return r;

        if (arg_json) {
                CtlJson j;

                json_list_begin(&j, "users");
                for (size_t i = 0; i < l.n; i++)
                        if (filter < 0 || l.v[i].state == filter)
                                json_user(&j, NULL, &l.v[i]);
                json_list_end(&j);
                prov_user_records_free(l.v, l.n);
                return 0;
        }

        r = ctl_table_new(&t, 6, "NAME", "UID", "GID", "STATE", "GECOS", "HOME");
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                const ProvUserRecord *u = &l.v[i];
                char uid[16], gid[16];

                if (filter >= 0 && u->state != filter)
                        continue;
                snprintf(uid, sizeof(uid), "%" PRIu32, u->uid);
                snprintf(gid, sizeof(gid), "%" PRIu32, u->gid);
                r = ctl_table_add_row(t, u->name, uid, gid, prov_state_to_string(u->state), u->gecos, u->home);
                if (r >= 0)
                        r = ctl_table_set_color(t, 3, state_color(u->state));
        }
        prov_user_records_free(l.v, l.n);
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        ctl_table_print(t, stdout, arg_legend, use_color());
        if (arg_legend)
                printf("\n%zu users listed.\n", ctl_table_rows(t));
        return 0;
}

int verb_groups(char **args) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        ProvStore *store = NULL;
        ProvUserRecord *users = NULL;
        ProvGroupRecord *groups = NULL;
        ProvMembership *ms = NULL;
        const ProvUserRecord **by_scim = NULL;
        size_t n_users = 0, n_groups = 0, n_ms = 0;
        int r;

        r = setup_read(&c, &store);
        if (r != 0)
                return r;
        r = prov_store_users_load(store, &users, &n_users);
        if (r >= 0)
                r = prov_store_groups_load(store, &groups, &n_groups);
        if (r >= 0)
                r = prov_store_memberships_load(store, &ms, &n_ms);
        if (r < 0) {
                log_error_errno(r, "Failed to read groups: %m (%s)", prov_store_errmsg(store));
                r = EXIT_FAILED;
                goto finish;
        }
        /* Lookups by bisection: 350k memberships of 10k groups and 100k users are listed in a
         * second, not in minutes. */
        by_scim = users_by_scim_id(users, n_users);
        if (!by_scim) {
                log_oom();
                r = EXIT_FAILED;
                goto finish;
        }

        if (arg_json) {
                CtlJson j;

                json_list_begin(&j, "groups");
                for (size_t i = 0; i < n_groups; i++) {
                        ctl_json_begin_object(&j, NULL);
                        ctl_json_str(&j, "name", groups[i].name);
                        ctl_json_str(&j, "scim_id", groups[i].scim_id);
                        ctl_json_uint(&j, "gid", groups[i].gid);
                        ctl_json_str(&j, "local_name", groups[i].local_name);
                        ctl_json_begin_array(&j, "members");
                        for (size_t k = first_membership(ms, n_ms, groups[i].scim_id);
                             k < n_ms && streq(ms[k].group_scim_id, groups[i].scim_id); k++) {
                                const ProvUserRecord *u = find_user(by_scim, n_users, ms[k].user_scim_id);

                                if (u)
                                        ctl_json_str(&j, NULL, u->name);
                        }
                        ctl_json_end_array(&j);
                        ctl_json_end_object(&j);
                }
                json_list_end(&j);
                r = 0;
                goto finish;
        }

        r = ctl_table_new(&t, 4, "NAME", "GID", "SERVED AS", "MEMBERS");
        for (size_t i = 0; r >= 0 && i < n_groups; i++) {
                _cleanup_free_ char *members = NULL;
                size_t len = 0;
                char gid[16];
                FILE *f = open_memstream(&members, &len);

                if (!f) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t k = first_membership(ms, n_ms, groups[i].scim_id), first = 1;
                     k < n_ms && streq(ms[k].group_scim_id, groups[i].scim_id); k++) {
                        const ProvUserRecord *u = find_user(by_scim, n_users, ms[k].user_scim_id);

                        if (!u)
                                continue;
                        fprintf(f, "%s%s", first ? "" : ",", u->name);
                        first = 0;
                }
                if (fclose(f) != 0) {
                        r = -ENOMEM;
                        break;
                }
                snprintf(gid, sizeof(gid), "%" PRIu32, groups[i].gid);
                r = ctl_table_add_row(t, groups[i].name, gid, groups[i].local_name ?: "-", members[0] ? members : "-");
        }
        if (r < 0) {
                log_oom();
                r = EXIT_FAILED;
                goto finish;
        }
        ctl_table_print(t, stdout, arg_legend, use_color());
        if (arg_legend)
                printf("\n%zu groups listed.\n", ctl_table_rows(t));
        r = 0;
finish:
        free(by_scim);
        prov_user_records_free(users, n_users);
        prov_group_records_free(groups, n_groups);
        prov_memberships_free(ms, n_ms);
        prov_store_close(store);
        return r;
}

static void json_event(CtlJson *j, const ProvAuditEvent *e) {
        ctl_json_begin_object(j, NULL);
        ctl_json_int(j, "seq", e->seq);
        ctl_json_int(j, "time_usec", e->time_usec);
        ctl_json_str(j, "event", e->event);
        ctl_json_str(j, "user", e->user);
        ctl_json_str(j, "scim_id", e->scim_id);
        if (e->uid >= 0)
                ctl_json_int(j, "uid", e->uid);
        else
                ctl_json_null(j, "uid");
        ctl_json_str(j, "step", e->step);
        ctl_json_str(j, "outcome", e->outcome);
        ctl_json_str(j, "detail", e->detail);
        ctl_json_end_object(j);
}

/* An account's ids and names over time, as the arrays ids and names. */
static void json_history(CtlJson *j, const ProvUserHistory *h) {
        ctl_json_begin_array(j, "ids");
        for (size_t i = 0; i < h->n_ids; i++) {
                ctl_json_begin_object(j, NULL);
                ctl_json_str(j, "kind", h->ids[i].kind);
                ctl_json_uint(j, "id", h->ids[i].id);
                ctl_json_str(j, "name", h->ids[i].name);
                ctl_json_int(j, "assigned_usec", h->ids[i].assigned_usec);
                ctl_json_end_object(j);
        }
        ctl_json_end_array(j);
        ctl_json_begin_array(j, "names");
        for (size_t i = 0; i < h->n_names; i++) {
                ctl_json_begin_object(j, NULL);
                ctl_json_str(j, "old_name", h->names[i].old_name);
                ctl_json_str(j, "new_name", h->names[i].new_name);
                ctl_json_int(j, "changed_usec", h->names[i].changed_usec);
                ctl_json_end_object(j);
        }
        ctl_json_end_array(j);
}

static int print_events_table(const ProvAuditEvent *ev, size_t n) {
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        int r;

        r = ctl_table_new(&t, 7, "TIME", "EVENT", "USER", "UID", "STEP", "OUTCOME", "DETAIL");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char time[64], uid[24];

                ctl_format_time(ev[i].time_usec, time, sizeof(time));
                if (ev[i].uid >= 0)
                        snprintf(uid, sizeof(uid), "%" PRIi64, ev[i].uid);
                r = ctl_table_add_row(t, time, ev[i].event, ev[i].user, ev[i].uid >= 0 ? uid : NULL, ev[i].step,
                                      ev[i].outcome, ev[i].detail);
                if (r >= 0 && ev[i].outcome && !streq(ev[i].outcome, "ok"))
                        r = ctl_table_set_color(t, 5, ANSI_YELLOW);
        }
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        ctl_table_print(t, stdout, arg_legend, use_color());
        return 0;
}

int verb_show(char **args) {
        const char *who = args[0];
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        ProvStore *store = NULL;
        ProvUserRecord u = {};
        ProvGroupRecord *groups = NULL;
        ProvAuditEvent *ev = NULL;
        ProvUserHistory h = {};
        size_t n_groups = 0, n_ev = 0;
        int r;

        r = setup_read(&c, &store);
        if (r != 0)
                return r;

        /* A login name first, then a SCIM id, then a numeric uid. */
        r = prov_store_user_get_by_name(store, who, &u);
        if (r == -ENOENT)
                r = prov_store_user_get(store, who, &u);
        if (r == -ENOENT) {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(who, &end, 10);
                if (who[0] >= '0' && who[0] <= '9' && *end == '\0' && errno == 0 && v <= UINT32_MAX)
                        r = prov_store_user_get_by_uid(store, (uint32_t) v, &u);
        }
        if (r == -ENOENT) {
                log_error("No user '%s' in the store.", SAFE(who));
                prov_store_close(store);
                return EXIT_FAILED;
        }
        if (r >= 0)
                r = prov_store_user_groups_load(store, u.scim_id, &groups, &n_groups);
        if (r >= 0)
                r = prov_store_audit_load(store, u.name, 0, SHOW_EVENTS, &ev, &n_ev);
        if (r < 0) {
                log_error_errno(r, "Failed to read the store: %m (%s)", prov_store_errmsg(store));
                r = EXIT_FAILED;
                goto finish;
        }
        r = prov_store_user_history(store, u.scim_id, &h);
        if (r < 0) {
                log_error_errno(r, "Failed to read the id and name history: %m (%s)", prov_store_errmsg(store));
                r = EXIT_FAILED;
                goto finish;
        }

        if (arg_json) {
                CtlJson j;

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                json_user(&j, "user", &u);
                ctl_json_begin_array(&j, "groups");
                for (size_t i = 0; i < n_groups; i++)
                        ctl_json_str(&j, NULL, groups[i].name);
                ctl_json_end_array(&j);
                json_history(&j, &h);
                ctl_json_begin_array(&j, "events");
                for (size_t i = 0; i < n_ev; i++)
                        json_event(&j, &ev[i]);
                ctl_json_end_array(&j);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
        } else {
                bool color = use_color();
                int64_t now = prov_now_usec();
                char b1[64], b2[64];
                bool first = true;

                ctl_sanitize(u.name);
                ctl_sanitize(u.scim_id);
                ctl_sanitize(u.gecos);
                ctl_sanitize(u.home);
                ctl_sanitize(u.shell);
                for (size_t i = 0; i < n_groups; i++)
                        ctl_sanitize(groups[i].name);
                for (size_t i = 0; i < h.n_ids; i++)
                        ctl_sanitize(h.ids[i].name);
                for (size_t i = 0; i < h.n_names; i++) {
                        ctl_sanitize(h.names[i].old_name);
                        ctl_sanitize(h.names[i].new_name);
                }
                field("User", "%s (uid %" PRIu32 ", gid %" PRIu32 ")", u.name, u.uid, u.gid);
                field("SCIM id", "%s", u.scim_id);
                field("State", "%s%s%s%s", color ? state_color(u.state) : "", prov_state_to_string(u.state),
                      color ? ANSI_RESET : "", u.blocked ? " (blocked locally)" : "");
                field("Source", "%s", u.source_active ? "active" : "inactive");
                field("Gecos", "%s", u.gecos ?: "");
                field("Home", "%s", u.home);
                field("Shell", "%s", u.shell);
                field("State changed", "%s (%s)", ctl_format_time(u.state_changed_usec, b1, sizeof(b1)),
                      ctl_format_age(u.state_changed_usec, now, b2, sizeof(b2)));
                field("Last seen", "%s (%s)", ctl_format_time(u.last_seen_usec, b1, sizeof(b1)),
                      ctl_format_age(u.last_seen_usec, now, b2, sizeof(b2)));
                field("Created", "%s", ctl_format_time(u.created_usec, b1, sizeof(b1)));
                printf("%16s: ", "Groups");
                for (size_t i = 0; i < n_groups; i++) {
                        printf("%s%s", first ? "" : ", ", groups[i].name);
                        first = false;
                }
                printf("%s\n", first ? "-" : "");
                for (size_t i = 0; i < h.n_ids; i++)
                        field(i == 0 ? "Ids" : "", "%s %" PRIu32 " as %s since %s", h.ids[i].kind, h.ids[i].id,
                              h.ids[i].name ?: "-", ctl_format_time(h.ids[i].assigned_usec, b1, sizeof(b1)));
                for (size_t i = 0; i < h.n_names; i++)
                        field(i == 0 ? "Renamed" : "", "%s -> %s on %s", h.names[i].old_name ?: "-",
                              h.names[i].new_name ?: "-", ctl_format_time(h.names[i].changed_usec, b1, sizeof(b1)));
                if (n_ev > 0) {
                        printf("\nRecent events:\n");
                        r = print_events_table(ev, n_ev);
                        if (r != 0)
                                goto finish;
                }
        }
        r = 0;
finish:
        prov_user_history_done(&h);
        prov_audit_events_free(ev, n_ev);
        prov_group_records_free(groups, n_groups);
        prov_user_record_done(&u);
        prov_store_close(store);
        return r;
}

typedef struct EventList {
        int64_t since;
        ProvAuditEvent *v;
        size_t n;
} EventList;

static int load_events(ProvStore *store, void *userdata) {
        EventList *l = userdata;

        return prov_store_audit_load(store, arg_user, l->since, arg_limit, &l->v, &l->n);
}

static int print_events_json(const ProvAuditEvent *ev, size_t n) {
        CtlJson j;

        json_list_begin(&j, "events");
        for (size_t i = 0; i < n; i++)
                json_event(&j, &ev[i]);
        json_list_end(&j);
        return 0;
}

int verb_events(char **args) {
        EventList l = {};
        int r;

        if (arg_since) {
                r = ctl_parse_time(arg_since, prov_now_usec(), &l.since);
                if (r < 0) {
                        log_error("Cannot parse time '%s' (use RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or -1h).",
                                  SAFE(arg_since));
                        return EXIT_USAGE;
                }
        }
        r = read_store(load_events, &l, "the audit log");
        if (r != 0)
                return r;
        r = arg_json ? print_events_json(l.v, l.n) : print_events_table(l.v, l.n);
        prov_audit_events_free(l.v, l.n);
        return r;
}
