/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl status: what the store, the snapshot, the bus and login.defs say is collected
 * into a StatusInfo first, then rendered as text or JSON (the shape of systemctl's StatusInfo
 * and print_status_info()). */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "ctl-util.h"
#include "ctl.h"
#include "local.h"
#include "log.h"
#include "prov-snapshot.h"

typedef struct StatusInfo {
        ProvConfig *config;
        ProvSnapshot *snap;
        char *source, *snap_path, *last_error, *last_result;
        size_t n_users, n_groups;
        size_t by_state[_PROV_STATE_MAX];
        int64_t now, last_attempt, last_success, generation;
        int64_t hub_seq;        /* the hub's history applied (type = hub); -1: none yet */
        int64_t confirmed;      /* when the source last confirmed the directory: for the hub, when
                                 * the host was last at its head (0: never) */
        int64_t hold_id, hold_n, hold_total, snap_time;
        bool hold, failed, stale;
        int running;            /* the daemon: 1 yes, 0 no, < 0 the bus cannot tell */
        int subid_r;            /* < 0: login.defs could not be read */
        ProvSubidPolicy subid;
        unsigned subid_overlap;
} StatusInfo;

/* Frees what status_collect() gathered. */
static void status_info_done(StatusInfo *s) {
        prov_config_free(s->config);
        prov_snapshot_close(s->snap);
        free(s->source);
        free(s->snap_path);
        free(s->last_error);
        free(s->last_result);
}

/* A value of the store's sync state; NULL (0 below) when it is absent or there is no store. */
static char *state_get(ProvStore *s, const char *key) {
        char *v = NULL;

        if (s && prov_store_state_get(s, key, &v) < 0)
                return NULL;
        return v;
}

static int64_t state_get_int(ProvStore *s, const char *key) {
        int64_t v = 0;

        if (!s || prov_store_state_get_int(s, key, &v) < 0)
                return 0;
        return v;
}

/* Whether the daemon is running, for status: 1 yes, 0 no, -errno when the bus cannot tell. */
static int daemon_running(void) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r, has_owner = 0;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", BUS_NAME);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has_owner);
        return r < 0 ? r : !!has_owner;
}

/* Fills s. Logs; returns an exit code (0 on success). */
static int status_collect(StatusInfo *s) {
        ProvStore *store = NULL;
        int r, ret;

        s->now = prov_now_usec();
        r = load_config(&s->config);
        if (r < 0)
                return r == -EACCES ? EXIT_DENIED : EXIT_USAGE;
        ret = open_store(s->config, true, &store);
        if (ret != 0)
                return ret;

        /* Every URL of a hub, redacted as a SCIM source's one. */
        for (char **u = s->config->urls; u && *u && s->config->source_type != PROV_SOURCE_FILE; u++) {
                _cleanup_free_ char *one = NULL;
                char *joined;

                r = ctl_redact_url(*u, &one);
                if (r < 0 || asprintf(&joined, "%s%s%s", s->source ?: "", s->source ? "," : "", one) < 0)
                        return log_oom(), EXIT_FAILED;
                free(s->source);
                s->source = joined;
        }

        s->last_attempt = state_get_int(store, "last_attempt_usec");
        s->last_success = state_get_int(store, "last_success_usec");
        s->confirmed = state_get_int(store, "last_confirmed_usec");
        s->generation = state_get_int(store, "generation");
        s->hub_seq = -1;
        if (store && prov_store_state_get_int(store, "hub_seq", &s->hub_seq) < 0)
                s->hub_seq = -1;
        s->last_error = state_get(store, "last_error");
        s->last_result = state_get(store, "last_result");
        if (store) {
                /* Counted by the store: status reads no account's row. */
                r = prov_store_counts(store, &s->n_users, &s->n_groups, NULL);
                if (r >= 0)
                        r = prov_store_state_counts(store, s->by_state);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the store: %m (%s)", prov_store_errmsg(store));
                        prov_store_close(store);
                        return EXIT_FAILED;
                }
                s->hold = prov_store_hold_pending(store, &s->hold_id, &s->hold_n, &s->hold_total) >= 0;
        }
        prov_store_close(store);

        s->snap_path = prov_config_snapshot_path(s->config);
        if (!s->snap_path)
                return log_oom(), EXIT_FAILED;
        r = prov_snapshot_open(s->snap_path, &s->snap);
        if (r >= 0) {
                /* The writer stamps the time of the sync it comes from; a quiet directory need not
                 * rewrite the file, so the newer of the two says how current it is. */
                s->snap_time = (int64_t) prov_snapshot_created_usec(s->snap);
                if ((int64_t) prov_snapshot_last_sync_usec(s->snap) > s->snap_time)
                        s->snap_time = (int64_t) prov_snapshot_last_sync_usec(s->snap);
        }
        s->running = daemon_running();
        /* Advice only, like the daemon's warning at start: the sync never gives out an id of a
         * listed subordinate range, whatever login.defs says. */
        s->subid_r = prov_local_subid_policy_load(s->config->login_defs_file, &s->subid);
        if (s->subid_r >= 0)
                s->subid_overlap = prov_local_subid_overlap(&s->subid, s->config->uid_min, s->config->uid_max);

        s->failed = s->last_error && s->last_error[0];
        s->stale = !s->snap || s->snap_time < s->now - (int64_t) s->config->interval_sec * 3 * 1000000;
        return 0;
}

static const char *source_type_name(ProvSourceType t) {
        return t == PROV_SOURCE_SCIM ? "scim" : t == PROV_SOURCE_HUB ? "hub" : "file";
}

/* The same facts for programs; "healthy" is what the exit code says. */
static void print_status_json(const StatusInfo *s) {
        CtlJson j;

        ctl_json_init(&j, stdout);
        ctl_json_begin_object(&j, NULL);
        ctl_json_begin_object(&j, "source");
        ctl_json_str(&j, "type", source_type_name(s->config->source_type));
        ctl_json_str(&j, "url", s->source);
        if (s->config->source_type == PROV_SOURCE_HUB) {
                if (s->hub_seq < 0)
                        ctl_json_null(&j, "seq");
                else
                        ctl_json_int(&j, "seq", s->hub_seq);
                /* How far behind the hub this host may be: since it was last at the head. */
                if (s->confirmed > 0)
                        ctl_json_int(&j, "at_head_usec", s->confirmed);
                else
                        ctl_json_null(&j, "at_head_usec");
        }
        ctl_json_str(&j, "path", s->config->source_type == PROV_SOURCE_FILE ? s->config->source_path : NULL);
        ctl_json_end_object(&j);
        if (s->running < 0)
                ctl_json_null(&j, "daemon_running");
        else
                ctl_json_bool(&j, "daemon_running", s->running);
        ctl_json_int(&j, "last_attempt_usec", s->last_attempt);
        ctl_json_int(&j, "last_success_usec", s->last_success);
        ctl_json_str(&j, "last_result", s->last_result ?: "");
        ctl_json_str(&j, "last_error", s->last_error ?: "");
        ctl_json_int(&j, "generation", s->generation);
        ctl_json_begin_object(&j, "users");
        ctl_json_uint(&j, "total", s->n_users);
        for (ProvState st = 0; st < _PROV_STATE_MAX; st++)
                ctl_json_uint(&j, prov_state_to_string(st), s->by_state[st]);
        ctl_json_end_object(&j);
        ctl_json_begin_object(&j, "groups");
        ctl_json_uint(&j, "total", s->n_groups);
        ctl_json_end_object(&j);
        ctl_json_begin_object(&j, "snapshot");
        ctl_json_str(&j, "path", s->snap_path);
        ctl_json_bool(&j, "present", s->snap);
        ctl_json_uint(&j, "generation", s->snap ? prov_snapshot_generation(s->snap) : 0);
        ctl_json_int(&j, "time_usec", s->snap_time);
        ctl_json_bool(&j, "stale", s->stale);
        ctl_json_end_object(&j);
        if (s->hold) {
                ctl_json_begin_object(&j, "hold");
                ctl_json_int(&j, "id", s->hold_id);
                ctl_json_int(&j, "deprovisions", s->hold_n);
                ctl_json_int(&j, "total", s->hold_total);
                ctl_json_end_object(&j);
        } else
                ctl_json_null(&j, "hold");
        ctl_json_begin_object(&j, "subordinate_ids");
        ctl_json_str(&j, "login_defs", s->config->login_defs_file);
        if (s->subid_r < 0) {
                ctl_json_null(&j, "overlap");
                ctl_json_str(&j, "error", strerror(-s->subid_r));
        } else {
                ctl_json_bool(&j, "overlap", s->subid_overlap != 0);
                ctl_json_bool(&j, "uid_overlap", s->subid_overlap & PROV_SUBID_OVERLAP_UID);
                ctl_json_bool(&j, "gid_overlap", s->subid_overlap & PROV_SUBID_OVERLAP_GID);
                ctl_json_uint(&j, "sub_uid_min", s->subid.uid_min);
                ctl_json_uint(&j, "sub_uid_max", s->subid.uid_max);
                ctl_json_uint(&j, "sub_gid_min", s->subid.gid_min);
                ctl_json_uint(&j, "sub_gid_max", s->subid.gid_max);
        }
        ctl_json_end_object(&j);
        ctl_json_bool(&j, "healthy", !s->failed && !s->stale && !s->hold);
        ctl_json_end_object(&j);
        ctl_json_finish(&j);
}

/* The text view, field by field like systemctl status. */
static void print_status_info(const StatusInfo *s) {
        char b1[64], b2[64];
        bool color = use_color();
        const char *red = color ? ANSI_RED : "", *green = color ? ANSI_GREEN : "",
                   *yellow = color ? ANSI_YELLOW : "", *reset = color ? ANSI_RESET : "";

        if (s->config->source_type == PROV_SOURCE_SCIM)
                field("Source", "scim %s", ctl_sanitize(s->source));
        else if (s->config->source_type == PROV_SOURCE_HUB && s->hub_seq >= 0 && s->confirmed > 0)
                field("Source", "hub %s (seq %" PRIi64 ", at the hub's head %s)", ctl_sanitize(s->source), s->hub_seq,
                      ctl_format_age(s->confirmed, s->now, b1, sizeof(b1)));
        else if (s->config->source_type == PROV_SOURCE_HUB && s->hub_seq >= 0)
                field("Source", "hub %s (seq %" PRIi64 ")", ctl_sanitize(s->source), s->hub_seq);
        else if (s->config->source_type == PROV_SOURCE_HUB)
                field("Source", "hub %s (no snapshot read yet)", ctl_sanitize(s->source));
        else
                field("Source", "file %s", s->config->source_path);
        field("Daemon", "%s%s%s", s->running > 0 ? green : red,
              s->running > 0 ? "running" : s->running == 0 ? "not running" : "unknown (no system bus)", reset);
        field("Last attempt", "%s (%s)", ctl_format_time(s->last_attempt, b1, sizeof(b1)),
              ctl_format_age(s->last_attempt, s->now, b2, sizeof(b2)));
        field("Last success", "%s (%s)", ctl_format_time(s->last_success, b1, sizeof(b1)),
              ctl_format_age(s->last_success, s->now, b2, sizeof(b2)));
        if (s->last_result && s->last_result[0])
                field("Last result", "%s", ctl_sanitize(s->last_result));
        if (s->failed)
                field("Last error", "%s%s%s", red, ctl_sanitize(s->last_error), reset);
        field("Users", "%zu (%zu active, %zu suspended, %zu deprovisioned, %zu blocked)", s->n_users,
              s->by_state[PROV_STATE_ACTIVE], s->by_state[PROV_STATE_SUSPENDED],
              s->by_state[PROV_STATE_DEPROVISIONED], s->by_state[PROV_STATE_BLOCKED]);
        field("Groups", "%zu", s->n_groups);
        if (s->subid_r < 0)
                field("Subordinate ids", "unknown (%s: %s)", s->config->login_defs_file, strerror(-s->subid_r));
        else if (s->subid_overlap)
                field("Subordinate ids", "%suid_min..uid_max %" PRIu32 "..%" PRIu32 " meets %s%s%s of %s: "
                      "useradd may give local users ids of this range (never given to directory "
                      "accounts)%s",
                      yellow, s->config->uid_min, s->config->uid_max,
                      s->subid_overlap & PROV_SUBID_OVERLAP_UID ? "SUB_UID_MIN..SUB_UID_MAX" : "",
                      s->subid_overlap == (PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID) ? " and " : "",
                      s->subid_overlap & PROV_SUBID_OVERLAP_GID ? "SUB_GID_MIN..SUB_GID_MAX" : "",
                      s->config->login_defs_file, reset);
        else
                field("Subordinate ids", "uid_min..uid_max clear of useradd's ranges in %s",
                      s->config->login_defs_file);
        if (s->snap)
                field("Snapshot", "%sgeneration %" PRIu64 ", %s (%s)%s%s", s->stale ? red : "",
                      prov_snapshot_generation(s->snap), ctl_format_time(s->snap_time, b1, sizeof(b1)),
                      ctl_format_age(s->snap_time, s->now, b2, sizeof(b2)), s->stale ? ", stale" : "", reset);
        else
                field("Snapshot", "%smissing (%s)%s", red, s->snap_path, reset);
        if (s->hold)
                field("Held", "%s%" PRIi64 " of %" PRIi64 " users would be deprovisioned (hold %" PRIi64
                      "); review with 'provisionctl approve'%s",
                      red, s->hold_n, s->hold_total, s->hold_id, reset);
        else
                field("Held", "none");
}

int verb_status(char **args) {
        _cleanup_(status_info_done) StatusInfo s = {};
        int r;

        r = status_collect(&s);
        if (r != 0)
                return r;
        if (arg_json)
                print_status_json(&s);
        else
                print_status_info(&s);

        if (s.failed)
                return EXIT_FAILED;
        if (s.stale)
                return EXIT_STALE;
        if (s.hold)
                return EXIT_HELD;
        return 0;
}
