/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl: the administrator's view of provision-syncd. Read commands go straight to the
 * store, opened read-only (that works while the daemon writes it); actions go to the daemon over
 * D-Bus, never to the store, so that nothing races the daemon's own writes. Exit codes are
 * documented in provisionctl(8). */

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "ctl-util.h"
#include "local.h"
#include "log.h"
#include "prov-config.h"
#include "prov-snapshot.h"
#include "prov-types.h"
#include "store.h"

#define BUS_NAME "org.provision.Syncd1"
#define BUS_PATH "/org/provision/Syncd1"
#define BUS_INTERFACE "org.provision.Syncd1"

/* Syncs and approvals run a whole directory scan inside the daemon before they answer. */
#define ACTION_TIMEOUT_USEC (UINT64_C(15) * 60 * 1000000)
/* Events shown by `show`. */
#define SHOW_EVENTS 20

/* Exit codes, documented in provisionctl(8). */
enum {
        EXIT_FAILED = 1,        /* an action or query failed; status: the last sync failed */
        EXIT_USAGE = 2,         /* bad command line or configuration */
        EXIT_HELD = 3,          /* status: deprovisions held by the guard; sync: this sync was held */
        EXIT_STALE = 4,         /* status: the snapshot is missing or older than 3 x interval */
        EXIT_NO_DAEMON = 5,     /* actions: provision-syncd is not running */
        EXIT_DENIED = 6,        /* permission denied (not root) */
};

#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"

static const char *arg_config = PROV_CONFIG_PATH;
static bool arg_json = false;
static bool arg_legend = true;
static bool arg_color = true;
static bool arg_full = false;
static bool arg_yes = false;
static const char *arg_state = NULL;
static const char *arg_user = NULL;
static const char *arg_since = NULL;
static unsigned arg_limit = 0;

static bool use_color(void) {
        return arg_color && !arg_json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

static const char *state_color(ProvState s) {
        switch (s) {
        case PROV_STATE_ACTIVE:
                return ANSI_GREEN;
        case PROV_STATE_SUSPENDED:
                return ANSI_YELLOW;
        default:
                return ANSI_RED;
        }
}

/* Prints "label: value" with the label right-aligned, like systemctl status. */
static void field(const char *label, const char *fmt, ...) _printf_(2, 3);
static void field(const char *label, const char *fmt, ...) {
        va_list ap;

        if (label[0])
                printf("%16s: ", label);
        else
                printf("%18s", "");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* Maps an errno from the store or the bus to our exit codes. */
static int exit_code_from_errno(int r) {
        return r == -EACCES || r == -EPERM ? EXIT_DENIED : EXIT_FAILED;
}

/* --- configuration and store --------------------------------------------------------------- */

static int load_config(ProvConfig **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = prov_config_load(arg_config, ret, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error_errno(r, "Failed to load configuration %s: %m", arg_config);
                return r == -EACCES ? -EACCES : -EINVAL;
        }
        return 0;
}

/* Opens the configured store read-only. Logs; returns an exit code (0 on success). */
static int open_store(const ProvConfig *c, bool missing_ok, ProvStore **ret) {
        _cleanup_free_ char *path = prov_config_store_path(c);
        int r;

        if (!path)
                return log_oom(), EXIT_FAILED;
        r = prov_store_open_readonly(path, ret);
        if (r == -ENOENT && missing_ok) {
                *ret = NULL;
                return 0;
        }
        if (r == -ENOENT) {
                log_error("No store at %s: provision-syncd has not synced yet.", path);
                return EXIT_FAILED;
        }
        if (r == -ESTALE) {
                log_error("The store %s has not been initialised, or brought to this release's schema, by provision-syncd yet.", path);
                return EXIT_FAILED;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to open the store %s read-only: %m", path);
                return exit_code_from_errno(r);
        }
        return 0;
}

/* Common start of the read commands: configuration and store. Returns an exit code. */
static int setup_read(ProvConfig **ret_config, ProvStore **ret_store) {
        ProvConfig *c = NULL;
        int r;

        r = load_config(&c);
        if (r < 0)
                return r == -EACCES ? EXIT_DENIED : EXIT_USAGE;
        r = open_store(c, false, ret_store);
        if (r != 0) {
                prov_config_free(c);
                return r;
        }
        *ret_config = c;
        return 0;
}

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

/* --- the bus ----------------------------------------------------------------------------- */

/* Connects to the system bus and checks that the daemon owns its name. Logs; returns an exit
 * code (0 when the daemon runs). */
static int connect_daemon(sd_bus **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r, has_owner = 0;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "provision-syncd is not running (cannot connect to the system bus: %m).");
                return EXIT_NO_DAEMON;
        }
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", BUS_NAME);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has_owner);
        if (r < 0) {
                log_error("Failed to ask the system bus for %s: %s", BUS_NAME, error.message ?: strerror(-r));
                return EXIT_FAILED;
        }
        if (!has_owner) {
                log_error("provision-syncd is not running (no owner of %s on the system bus).", BUS_NAME);
                return EXIT_NO_DAEMON;
        }
        *ret = TAKE_PTR(bus);
        return 0;
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

/* Calls a method of the daemon and waits for the reply. Logs the error and returns an exit
 * code: EXIT_DENIED when the bus or the daemon refused the caller. */
static int call_daemon(sd_bus *bus, const char *method, sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0) {
                log_error_errno(r, "Failed to build the %s call: %m", method);
                return EXIT_FAILED;
        }
        r = sd_bus_call(bus, m, ACTION_TIMEOUT_USEC, &error, ret_reply);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED) || r == -EACCES || r == -EPERM) {
                        log_error("Permission denied: %s", error.message ?: strerror(-r));
                        return EXIT_DENIED;
                }
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                        log_error("provision-syncd is not running (no owner of %s on the system bus).", BUS_NAME);
                        return EXIT_NO_DAEMON;
                }
                log_error("%s failed: %s", method, error.message ?: strerror(-r));
                return EXIT_FAILED;
        }
        return 0;
}

/* --- status -------------------------------------------------------------------------------- */

static int verb_status(void) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_(prov_snapshot_closep) ProvSnapshot *snap = NULL;
        _cleanup_free_ char *source = NULL, *snap_path = NULL, *last_error = NULL, *last_result = NULL;
        ProvStore *store = NULL;
        ProvUserRecord *users = NULL;
        ProvGroupRecord *groups = NULL;
        size_t n_users = 0, n_groups = 0, n_groups_removed = 0;
        size_t by_state[_PROV_STATE_MAX] = {};
        int64_t now = prov_now_usec(), last_attempt, last_success, generation;
        int64_t hold_id = 0, hold_n = 0, hold_total = 0, snap_time = 0;
        bool hold = false, failed, stale;
        int running, r, ret, subid_r;
        char b1[64], b2[64];
        ProvSubidPolicy subid = {};
        unsigned subid_overlap = 0;

        r = load_config(&c);
        if (r < 0)
                return r == -EACCES ? EXIT_DENIED : EXIT_USAGE;
        ret = open_store(c, true, &store);
        if (ret != 0)
                return ret;

        if (c->source_type == PROV_SOURCE_SCIM) {
                r = ctl_redact_url(c->url ?: "", &source);
                if (r < 0)
                        return log_oom(), EXIT_FAILED;
        }

        last_attempt = state_get_int(store, "last_attempt_usec");
        last_success = state_get_int(store, "last_success_usec");
        generation = state_get_int(store, "generation");
        last_error = state_get(store, "last_error");
        last_result = state_get(store, "last_result");
        if (store) {
                r = prov_store_users_load(store, &users, &n_users);
                if (r >= 0)
                        r = prov_store_groups_load(store, &groups, &n_groups);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the store: %m (%s)", prov_store_errmsg(store));
                        prov_user_records_free(users, n_users);
                        prov_store_close(store);
                        return EXIT_FAILED;
                }
                hold = prov_store_hold_pending(store, &hold_id, &hold_n, &hold_total) >= 0;
        }
        for (size_t i = 0; i < n_users; i++)
                if (users[i].state >= 0 && users[i].state < _PROV_STATE_MAX)
                        by_state[users[i].state]++;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i].removed)
                        n_groups_removed++;
        prov_user_records_free(users, n_users);
        prov_group_records_free(groups, n_groups);
        prov_store_close(store);

        snap_path = prov_config_snapshot_path(c);
        if (!snap_path)
                return log_oom(), EXIT_FAILED;
        r = prov_snapshot_open(snap_path, &snap);
        if (r >= 0) {
                /* The writer stamps the time of the sync it comes from; a quiet directory need not
                 * rewrite the file, so the newer of the two says how current it is. */
                snap_time = (int64_t) prov_snapshot_created_usec(snap);
                if ((int64_t) prov_snapshot_last_sync_usec(snap) > snap_time)
                        snap_time = (int64_t) prov_snapshot_last_sync_usec(snap);
        }
        running = daemon_running();
        /* Advice only, like the daemon's warning at start: the sync never gives out an id of a
         * listed subordinate range, whatever login.defs says. */
        subid_r = prov_local_subid_policy_load(c->login_defs_file, &subid);
        if (subid_r >= 0)
                subid_overlap = prov_local_subid_overlap(&subid, c->uid_min, c->uid_max);

        failed = last_error && last_error[0];
        stale = !snap || snap_time < now - (int64_t) c->interval_sec * 3 * 1000000;

        if (arg_json) {
                CtlJson j;

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                ctl_json_begin_object(&j, "source");
                ctl_json_str(&j, "type", c->source_type == PROV_SOURCE_SCIM ? "scim" : "file");
                ctl_json_str(&j, "url", source);
                ctl_json_str(&j, "path", c->source_type == PROV_SOURCE_FILE ? c->source_path : NULL);
                ctl_json_end_object(&j);
                if (running < 0)
                        ctl_json_null(&j, "daemon_running");
                else
                        ctl_json_bool(&j, "daemon_running", running);
                ctl_json_int(&j, "last_attempt_usec", last_attempt);
                ctl_json_int(&j, "last_success_usec", last_success);
                ctl_json_str(&j, "last_result", last_result ?: "");
                ctl_json_str(&j, "last_error", last_error ?: "");
                ctl_json_int(&j, "generation", generation);
                ctl_json_begin_object(&j, "users");
                ctl_json_uint(&j, "total", n_users);
                for (ProvState s = 0; s < _PROV_STATE_MAX; s++)
                        ctl_json_uint(&j, prov_state_to_string(s), by_state[s]);
                ctl_json_end_object(&j);
                ctl_json_begin_object(&j, "groups");
                ctl_json_uint(&j, "total", n_groups - n_groups_removed);
                ctl_json_uint(&j, "removed", n_groups_removed);
                ctl_json_end_object(&j);
                ctl_json_begin_object(&j, "snapshot");
                ctl_json_str(&j, "path", snap_path);
                ctl_json_bool(&j, "present", snap);
                ctl_json_uint(&j, "generation", snap ? prov_snapshot_generation(snap) : 0);
                ctl_json_int(&j, "time_usec", snap_time);
                ctl_json_bool(&j, "stale", stale);
                ctl_json_end_object(&j);
                if (hold) {
                        ctl_json_begin_object(&j, "hold");
                        ctl_json_int(&j, "id", hold_id);
                        ctl_json_int(&j, "deprovisions", hold_n);
                        ctl_json_int(&j, "total", hold_total);
                        ctl_json_end_object(&j);
                } else
                        ctl_json_null(&j, "hold");
                ctl_json_begin_object(&j, "subordinate_ids");
                ctl_json_str(&j, "login_defs", c->login_defs_file);
                if (subid_r < 0) {
                        ctl_json_null(&j, "overlap");
                        ctl_json_str(&j, "error", strerror(-subid_r));
                } else {
                        ctl_json_bool(&j, "overlap", subid_overlap != 0);
                        ctl_json_bool(&j, "uid_overlap", subid_overlap & PROV_SUBID_OVERLAP_UID);
                        ctl_json_bool(&j, "gid_overlap", subid_overlap & PROV_SUBID_OVERLAP_GID);
                        ctl_json_uint(&j, "sub_uid_min", subid.uid_min);
                        ctl_json_uint(&j, "sub_uid_max", subid.uid_max);
                        ctl_json_uint(&j, "sub_gid_min", subid.gid_min);
                        ctl_json_uint(&j, "sub_gid_max", subid.gid_max);
                }
                ctl_json_end_object(&j);
                ctl_json_bool(&j, "healthy", !failed && !stale && !hold);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
        } else {
                bool color = use_color();
                const char *red = color ? ANSI_RED : "", *green = color ? ANSI_GREEN : "",
                           *yellow = color ? ANSI_YELLOW : "", *reset = color ? ANSI_RESET : "";

                if (c->source_type == PROV_SOURCE_SCIM)
                        field("Source", "scim %s", source);
                else
                        field("Source", "file %s", c->source_path);
                field("Daemon", "%s%s%s", running > 0 ? green : red,
                      running > 0 ? "running" : running == 0 ? "not running" : "unknown (no system bus)", reset);
                field("Last attempt", "%s (%s)", ctl_format_time(last_attempt, b1, sizeof(b1)),
                      ctl_format_age(last_attempt, now, b2, sizeof(b2)));
                field("Last success", "%s (%s)", ctl_format_time(last_success, b1, sizeof(b1)),
                      ctl_format_age(last_success, now, b2, sizeof(b2)));
                if (last_result && last_result[0])
                        field("Last result", "%s", last_result);
                if (failed)
                        field("Last error", "%s%s%s", red, last_error, reset);
                field("Users", "%zu (%zu active, %zu suspended, %zu deprovisioned, %zu blocked)", n_users,
                      by_state[PROV_STATE_ACTIVE], by_state[PROV_STATE_SUSPENDED],
                      by_state[PROV_STATE_DEPROVISIONED], by_state[PROV_STATE_BLOCKED]);
                field("Groups", "%zu", n_groups - n_groups_removed);
                if (subid_r < 0)
                        field("Subordinate ids", "unknown (%s: %s)", c->login_defs_file, strerror(-subid_r));
                else if (subid_overlap)
                        field("Subordinate ids", "%suid_min..uid_max %" PRIu32 "..%" PRIu32 " meets %s%s%s of %s: "
                              "useradd may give local users ids of this range (never given to directory "
                              "accounts)%s",
                              yellow, c->uid_min, c->uid_max,
                              subid_overlap & PROV_SUBID_OVERLAP_UID ? "SUB_UID_MIN..SUB_UID_MAX" : "",
                              subid_overlap == (PROV_SUBID_OVERLAP_UID | PROV_SUBID_OVERLAP_GID) ? " and " : "",
                              subid_overlap & PROV_SUBID_OVERLAP_GID ? "SUB_GID_MIN..SUB_GID_MAX" : "",
                              c->login_defs_file, reset);
                else
                        field("Subordinate ids", "uid_min..uid_max clear of useradd's ranges in %s",
                              c->login_defs_file);
                if (snap)
                        field("Snapshot", "%sgeneration %" PRIu64 ", %s (%s)%s%s", stale ? red : "",
                              prov_snapshot_generation(snap), ctl_format_time(snap_time, b1, sizeof(b1)),
                              ctl_format_age(snap_time, now, b2, sizeof(b2)), stale ? ", stale" : "", reset);
                else
                        field("Snapshot", "%smissing (%s)%s", red, snap_path, reset);
                if (hold)
                        field("Held", "%s%" PRIi64 " of %" PRIi64 " users would be deprovisioned (hold %" PRIi64
                              "); review with 'provisionctl approve'%s",
                              red, hold_n, hold_total, hold_id, reset);
                else
                        field("Held", "none");
        }

        if (failed)
                return EXIT_FAILED;
        if (stale)
                return EXIT_STALE;
        if (hold)
                return EXIT_HELD;
        return 0;
}

/* --- users, groups, show, events ----------------------------------------------------------- */

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

static int verb_users(void) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        ProvStore *store = NULL;
        ProvUserRecord *users = NULL;
        size_t n = 0;
        ProvState filter = _PROV_STATE_INVALID;
        int r;

        if (arg_state) {
                filter = prov_state_from_string(arg_state);
                if (filter < 0) {
                        log_error("Unknown state '%s' (active, suspended, deprovisioned, blocked).", SAFE(arg_state));
                        return EXIT_USAGE;
                }
        }
        r = setup_read(&c, &store);
        if (r != 0)
                return r;
        r = prov_store_users_load(store, &users, &n);
        if (r < 0) {
                log_error_errno(r, "Failed to read users: %m (%s)", prov_store_errmsg(store));
                prov_store_close(store);
                return EXIT_FAILED;
        }
        prov_store_close(store);

        if (arg_json) {
                CtlJson j;

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                ctl_json_begin_array(&j, "users");
                for (size_t i = 0; i < n; i++)
                        if (filter < 0 || users[i].state == filter)
                                json_user(&j, NULL, &users[i]);
                ctl_json_end_array(&j);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
                prov_user_records_free(users, n);
                return 0;
        }

        r = ctl_table_new(&t, 6, "NAME", "UID", "GID", "STATE", "GECOS", "HOME");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char uid[16], gid[16];

                if (filter >= 0 && users[i].state != filter)
                        continue;
                snprintf(uid, sizeof(uid), "%" PRIu32, users[i].uid);
                snprintf(gid, sizeof(gid), "%" PRIu32, users[i].gid);
                r = ctl_table_add_row(t, users[i].name, uid, gid, prov_state_to_string(users[i].state),
                                      users[i].gecos, users[i].home);
                if (r >= 0)
                        r = ctl_table_set_color(t, 3, state_color(users[i].state));
        }
        prov_user_records_free(users, n);
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        ctl_table_print(t, stdout, arg_legend, use_color());
        if (arg_legend)
                printf("\n%zu users listed.\n", ctl_table_rows(t));
        return 0;
}

static int verb_groups(void) {
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

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                ctl_json_begin_array(&j, "groups");
                for (size_t i = 0; i < n_groups; i++) {
                        ctl_json_begin_object(&j, NULL);
                        ctl_json_str(&j, "name", groups[i].name);
                        ctl_json_str(&j, "scim_id", groups[i].scim_id);
                        ctl_json_uint(&j, "gid", groups[i].gid);
                        ctl_json_str(&j, "local_name", groups[i].local_name);
                        ctl_json_bool(&j, "removed", groups[i].removed);
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
                ctl_json_end_array(&j);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
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
                r = ctl_table_add_row(t, groups[i].removed ? "(removed)" : groups[i].name, gid,
                                      groups[i].local_name ?: "-", members[0] ? members : "-");
                if (r >= 0 && groups[i].removed)
                        r = ctl_table_set_color(t, 0, ANSI_RED);
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

static int verb_show(const char *who) {
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
                ctl_json_begin_array(&j, "ids");
                for (size_t i = 0; i < h.n_ids; i++) {
                        ctl_json_begin_object(&j, NULL);
                        ctl_json_str(&j, "kind", h.ids[i].kind);
                        ctl_json_uint(&j, "id", h.ids[i].id);
                        ctl_json_str(&j, "name", h.ids[i].name);
                        ctl_json_int(&j, "assigned_usec", h.ids[i].assigned_usec);
                        ctl_json_end_object(&j);
                }
                ctl_json_end_array(&j);
                ctl_json_begin_array(&j, "names");
                for (size_t i = 0; i < h.n_names; i++) {
                        ctl_json_begin_object(&j, NULL);
                        ctl_json_str(&j, "old_name", h.names[i].old_name);
                        ctl_json_str(&j, "new_name", h.names[i].new_name);
                        ctl_json_int(&j, "changed_usec", h.names[i].changed_usec);
                        ctl_json_end_object(&j);
                }
                ctl_json_end_array(&j);
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

static int verb_events(void) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        ProvStore *store = NULL;
        ProvAuditEvent *ev = NULL;
        int64_t since = 0;
        size_t n = 0;
        int r;

        if (arg_since) {
                r = ctl_parse_time(arg_since, prov_now_usec(), &since);
                if (r < 0) {
                        log_error("Cannot parse time '%s' (use RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or -1h).",
                                  SAFE(arg_since));
                        return EXIT_USAGE;
                }
        }
        r = setup_read(&c, &store);
        if (r != 0)
                return r;
        r = prov_store_audit_load(store, arg_user, since, arg_limit, &ev, &n);
        if (r < 0) {
                log_error_errno(r, "Failed to read the audit log: %m (%s)", prov_store_errmsg(store));
                prov_store_close(store);
                return EXIT_FAILED;
        }
        prov_store_close(store);

        if (arg_json) {
                CtlJson j;

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                ctl_json_begin_array(&j, "events");
                for (size_t i = 0; i < n; i++)
                        json_event(&j, &ev[i]);
                ctl_json_end_array(&j);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
                r = 0;
        } else
                r = print_events_table(ev, n);
        prov_audit_events_free(ev, n);
        return r;
}

/* --- actions ------------------------------------------------------------------------------- */

static int verb_sync(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *summary;
        uint64_t generation;
        int held, r;

        r = connect_daemon(&bus);
        if (r != 0)
                return r;
        r = call_daemon(bus, "Sync", &reply, "b", (int) arg_full);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "bts", &held, &generation, &summary);
        if (r < 0) {
                log_error_errno(r, "Unexpected reply from provision-syncd: %m");
                return EXIT_FAILED;
        }
        if (arg_json) {
                CtlJson j;

                ctl_json_init(&j, stdout);
                ctl_json_begin_object(&j, NULL);
                ctl_json_bool(&j, "held", held);
                ctl_json_uint(&j, "generation", generation);
                ctl_json_str(&j, "summary", summary);
                ctl_json_end_object(&j);
                ctl_json_finish(&j);
        } else {
                printf("Sync complete (generation %" PRIu64 "): %s\n", generation, summary);
                if (held)
                        printf("Deprovisions are held by the guard; review them with 'provisionctl approve'.\n");
        }
        return held ? EXIT_HELD : 0;
}

static int verb_block(const char *user, bool block) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = connect_daemon(&bus);
        if (r != 0)
                return r;
        r = call_daemon(bus, block ? "Block" : "Unblock", NULL, "s", user);
        if (r != 0)
                return r;
        if (block)
                printf("Blocked %s: logins are refused and sessions are terminated until 'provisionctl unblock %s'.\n",
                       SAFE(user), SAFE(user));
        else
                printf("Unblocked %s: the directory decides its state again.\n", SAFE(user));
        return 0;
}

static int verb_reload(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = connect_daemon(&bus);
        if (r != 0)
                return r;
        r = call_daemon(bus, "Reload", NULL, NULL);
        if (r != 0)
                return r;
        printf("Configuration reloaded.\n");
        return 0;
}

/* Reads a yes/no answer from the terminal; anything but "y" or "yes" is no. */
static bool ask_yes(const char *question) {
        char line[16];

        printf("%s [y/N] ", question);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
                return false;
        line[strcspn(line, "\n")] = '\0';
        return streq(line, "y") || streq(line, "Y") || streq(line, "yes");
}

/* Shows the pending hold and the users it would deprovision, then asks the daemon to apply
 * exactly that hold (by id), so that a newer hold that appeared meanwhile is not approved
 * unseen. */
static int verb_approve(void) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        ProvStore *store = NULL;
        int64_t id, n, total;
        char **ids = NULL;
        size_t n_ids = 0;
        const char *summary;
        int r;

        if (!arg_yes && !isatty(STDIN_FILENO)) {
                log_error("Refusing to approve without --yes when standard input is not a terminal.");
                return EXIT_USAGE;
        }
        r = connect_daemon(&bus);
        if (r != 0)
                return r;
        r = setup_read(&c, &store);
        if (r != 0)
                return r;
        r = prov_store_hold_pending(store, &id, &n, &total);
        if (r == -ENOENT) {
                prov_store_close(store);
                log_error("No deprovisions are held.");
                return EXIT_FAILED;
        }
        if (r >= 0)
                r = prov_store_hold_scim_ids(store, id, &ids, &n_ids);
        if (r < 0) {
                log_error_errno(r, "Failed to read the held deprovisions: %m (%s)", prov_store_errmsg(store));
                prov_store_close(store);
                return EXIT_FAILED;
        }

        r = ctl_table_new(&t, 4, "NAME", "UID", "STATE", "SCIM ID");
        for (size_t i = 0; r >= 0 && i < n_ids; i++) {
                ProvUserRecord u = {};
                char uid[16];

                if (prov_store_user_get(store, ids[i], &u) >= 0) {
                        snprintf(uid, sizeof(uid), "%" PRIu32, u.uid);
                        r = ctl_table_add_row(t, u.name, uid, prov_state_to_string(u.state), ids[i]);
                } else
                        r = ctl_table_add_row(t, NULL, NULL, NULL, ids[i]);
                prov_user_record_done(&u);
        }
        for (size_t i = 0; i < n_ids; i++)
                free(ids[i]);
        free(ids);
        prov_store_close(store);
        if (r < 0)
                return log_oom(), EXIT_FAILED;

        printf("Hold %" PRIi64 ": the directory sync would deprovision %" PRIi64 " of %" PRIi64 " users:\n\n", id, n,
               total);
        ctl_table_print(t, stdout, arg_legend, use_color());
        putchar('\n');
        if (!arg_yes && !ask_yes("Deprovision these users now?")) {
                printf("Not approved; the hold stays.\n");
                return EXIT_FAILED;
        }

        r = call_daemon(bus, "Approve", &reply, "x", id);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "s", &summary);
        if (r < 0) {
                log_error_errno(r, "Unexpected reply from provision-syncd: %m");
                return EXIT_FAILED;
        }
        printf("Approved: %s\n", summary);
        return 0;
}

/* --- command line -------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Shows and controls provision-syncd.\n\n"
               "Commands:\n"
               "  status                 Source, last syncs, counts, snapshot, holds, last error\n"
               "  users [--state STATE]  List users\n"
               "  groups                 List groups and their members\n"
               "  show USER              Show one user: attributes, groups, id history, events\n"
               "  events [--user USER] [--since TIME] [--limit N]\n"
               "                         Show the audit log\n"
               "  sync [--full]          Sync now and wait for the result\n"
               "  block USER             Block a user locally (wins over the directory)\n"
               "  unblock USER           Lift a local block\n"
               "  approve [--yes]        Apply the held mass deprovision after review\n"
               "  reload                 Make the daemon re-read its configuration\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "  -c --config=FILE       Configuration file (default: %s)\n"
               "     --json              JSON output\n"
               "     --no-legend         No table headers and footers\n"
               "     --no-color          No colours (also: NO_COLOR set, or not a terminal)\n",
               program_invocation_short_name, PROV_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_COLOR,
                ARG_FULL,
                ARG_YES,
                ARG_STATE,
                ARG_USER,
                ARG_SINCE,
                ARG_LIMIT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "full", no_argument, NULL, ARG_FULL },
                { "yes", no_argument, NULL, ARG_YES },
                { "state", required_argument, NULL, ARG_STATE },
                { "user", required_argument, NULL, ARG_USER },
                { "since", required_argument, NULL, ARG_SINCE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("provisionctl %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_COLOR:
                        arg_color = false;
                        break;
                case ARG_FULL:
                        arg_full = true;
                        break;
                case ARG_YES:
                        arg_yes = true;
                        break;
                case ARG_STATE:
                        arg_state = optarg;
                        break;
                case ARG_USER:
                        arg_user = optarg;
                        break;
                case ARG_SINCE:
                        arg_since = optarg;
                        break;
                case ARG_LIMIT: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v > 1000000) {
                                log_error("Invalid --limit '%s'.", SAFE(optarg));
                                return -EINVAL;
                        }
                        arg_limit = (unsigned) v;
                        break;
                }
                default:
                        return -EINVAL;
                }
        return 1;
}

/* Checks the number of operands of a command and that its options belong to it. */
static bool check_args(const char *verb, int n_args, int want, bool state, bool events, bool full, bool yes) {
        if (n_args != want) {
                log_error("'%s' takes %s.", verb, want == 0 ? "no arguments" : "exactly one argument");
                return false;
        }
        if ((arg_state && !state) || ((arg_user || arg_since || arg_limit) && !events) || (arg_full && !full) ||
            (arg_yes && !yes)) {
                log_error("An option given does not apply to '%s'.", verb);
                return false;
        }
        return true;
}

int main(int argc, char *argv[]) {
        const char *verb;
        char **args;
        int n_args, r;

        log_set_target_journal(false);
        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;

        verb = optind < argc ? argv[optind] : "status";
        args = argv + optind + (optind < argc);
        n_args = argc - optind - (optind < argc);

        if (streq(verb, "status")) {
                if (!check_args(verb, n_args, 0, false, false, false, false))
                        return EXIT_USAGE;
                return verb_status();
        }
        if (streq(verb, "users")) {
                if (!check_args(verb, n_args, 0, true, false, false, false))
                        return EXIT_USAGE;
                return verb_users();
        }
        if (streq(verb, "groups")) {
                if (!check_args(verb, n_args, 0, false, false, false, false))
                        return EXIT_USAGE;
                return verb_groups();
        }
        if (streq(verb, "show")) {
                if (!check_args(verb, n_args, 1, false, false, false, false))
                        return EXIT_USAGE;
                return verb_show(args[0]);
        }
        if (streq(verb, "events")) {
                if (!check_args(verb, n_args, 0, false, true, false, false))
                        return EXIT_USAGE;
                return verb_events();
        }
        if (streq(verb, "sync")) {
                if (!check_args(verb, n_args, 0, false, false, true, false))
                        return EXIT_USAGE;
                return verb_sync();
        }
        if (streq(verb, "block") || streq(verb, "unblock")) {
                if (!check_args(verb, n_args, 1, false, false, false, false))
                        return EXIT_USAGE;
                return verb_block(args[0], streq(verb, "block"));
        }
        if (streq(verb, "approve")) {
                if (!check_args(verb, n_args, 0, false, false, false, true))
                        return EXIT_USAGE;
                return verb_approve();
        }
        if (streq(verb, "reload")) {
                if (!check_args(verb, n_args, 0, false, false, false, false))
                        return EXIT_USAGE;
                return verb_reload();
        }
        log_error("Unknown command '%s'; see --help.", SAFE(verb));
        return EXIT_USAGE;
}
