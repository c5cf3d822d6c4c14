/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl's actions: they go to the daemon over D-Bus, never to the store, so that nothing
 * races the daemon's own writes. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "ctl-util.h"
#include "ctl.h"
#include "log.h"

/* Syncs and approvals run a whole directory scan inside the daemon before they answer. */
#define ACTION_TIMEOUT_USEC (UINT64_C(15) * 60 * 1000000)

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

int verb_sync(char **args) {
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

static int block_user(const char *user, bool block) {
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

int verb_block(char **args) {
        return block_user(args[0], true);
}

int verb_unblock(char **args) {
        return block_user(args[0], false);
}

int verb_reload(char **args) {
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
int verb_approve(char **args) {
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
