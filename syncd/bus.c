/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's control interface on the system bus: org.provision.Syncd1. provisionctl's actions
 * (sync now, block, unblock, approve, reload) arrive here and run synchronously in the daemon's
 * single thread; the status properties mirror the last sync. The bus policy file allows only root
 * to call methods; every method checks the caller's uid again (as the bus driver knows it), so
 * that a permissive or broken policy does not hand the kill switch to everybody. Nothing here logs above debug: errors go
 * back to the caller as D-Bus errors. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "daemon.h"
#include "prov-util.h"

/* Longest user argument accepted; login names are at most 32 bytes, this leaves room for a SCIM
 * userName without letting a caller hand us megabytes. */
#define BUS_USER_MAX 256

struct ProvBus {
        ProvDaemon *daemon;
        sd_bus *bus;
        sd_bus_slot *vtable_slot;
};

/* Refuses every caller whose uid is not 0, after the bus policy (the first gate) let the call
 * through. The uid is the one the bus driver took from SO_PEERCRED when the caller connected
 * (the effective uid at connect time), asked with GetConnectionUnixUser for the message's unique
 * sender name: the caller cannot forge it, and it is not read from /proc/PID/status, as
 * sd_bus_query_sender_creds(SD_BUS_CREDS_EUID) would on a dbus-daemon or dbus-broker bus (the
 * driver supplies no EUID, so sd-bus augments it from /proc, racing with the PID being reused
 * or the process exec'ing something else). A message without a sender (a direct connection, no
 * bus driver to vouch for it) is refused. */
static int check_root(sd_bus_message *m, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *sender = sd_bus_message_get_sender(m);
        uint32_t uid;
        int r;

        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may control provision-syncd (caller unknown).");
        r = sd_bus_call_method(sd_bus_message_get_bus(m), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionUnixUser", &e, &reply, "s", sender);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot determine the caller's user: %s",
                                               e.message ?: strerror(-r));
        if (uid != 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may control provision-syncd.");
        return 0;
}

/* Turns a failed action into a D-Bus error whose name follows the errno (sd-bus's mapping) and
 * whose message says what failed, with the daemon's own summary when it gave one. */
static int action_error(sd_bus_error *error, int r, const char *what, const ProvActionResult *res) {
        if (res && res->summary[0])
                return sd_bus_error_set_errnof(error, r, "%s failed: %s (%s)", what, res->summary, strerror(-r));
        return sd_bus_error_set_errnof(error, r, "%s failed: %s", what, strerror(-r));
}

/* A user argument is a login name as the store knows it: short, printable, no separators. The
 * daemon validates it against the store; this keeps garbage out of its error messages and logs. */
static bool user_arg_ok(const char *user) {
        size_t n = strnlen(user, BUS_USER_MAX + 1);

        if (n == 0 || n > BUS_USER_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *) user; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == ':' || *p == '/')
                        return false;
        return true;
}

static void emit_status_changed(ProvBus *b) {
        /* Best effort: a failed signal must not fail the action that caused it. */
        (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, BUS_INTERFACE, "LastSyncUsec", "LastResult",
                                              "LastError", "Generation", "HeldDeprovisions", NULL);
}

static int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ProvBus *b = userdata;
        ProvActionResult res = {};
        int full, r;

        r = sd_bus_message_read(m, "b", &full);
        if (r < 0)
                return r;
        r = check_root(m, error);
        if (r < 0)
                return r;

        r = prov_daemon_sync(b->daemon, full, &res);
        if (r >= 0 && res.error < 0)
                r = res.error;
        if (r < 0)
                return action_error(error, r, full ? "Full sync" : "Sync", &res);

        return sd_bus_reply_method_return(m, "bts", (int) res.held, res.generation, res.summary);
}

static int block_common(sd_bus_message *m, ProvBus *b, bool block, sd_bus_error *error) {
        ProvActionResult res = {};
        const char *user;
        int r;

        r = sd_bus_message_read(m, "s", &user);
        if (r < 0)
                return r;
        r = check_root(m, error);
        if (r < 0)
                return r;
        if (!user_arg_ok(user))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid user name.");

        r = prov_daemon_block(b->daemon, user, block, &res);
        if (r >= 0 && res.error < 0)
                r = res.error;
        if (r == -ENOENT)
                return sd_bus_error_set_errnof(error, r, "No user '%s' in the store.", user);
        if (r < 0)
                return action_error(error, r, block ? "Block" : "Unblock", &res);

        emit_status_changed(b);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_block(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return block_common(m, userdata, true, error);
}

static int method_unblock(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return block_common(m, userdata, false, error);
}

static int method_approve(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ProvBus *b = userdata;
        ProvActionResult res = {};
        int64_t hold_id;
        int r;

        r = sd_bus_message_read(m, "x", &hold_id);
        if (r < 0)
                return r;
        r = check_root(m, error);
        if (r < 0)
                return r;
        if (hold_id < 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid hold id.");

        r = prov_daemon_approve(b->daemon, hold_id, &res);
        if (r >= 0 && res.error < 0)
                r = res.error;
        if (r == -ENOENT)
                return hold_id == 0 ? sd_bus_error_set_errnof(error, r, "No deprovisions are held.")
                                    : sd_bus_error_set_errnof(error, r, "No pending hold %" PRIi64 ".", hold_id);
        if (r < 0)
                return action_error(error, r, "Approve", &res);

        emit_status_changed(b);
        return sd_bus_reply_method_return(m, "s", res.summary);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ProvBus *b = userdata;
        int r;

        r = check_root(m, error);
        if (r < 0)
                return r;

        r = prov_daemon_reload(b->daemon);
        if (r == -EINVAL)
                return sd_bus_error_set_errnof(error, r,
                                               "The configuration file is invalid; the running configuration stays.");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Reload failed: %s", strerror(-r));

        return sd_bus_reply_method_return(m, NULL);
}

static int property_get(sd_bus *bus _unused_, const char *path _unused_, const char *interface _unused_,
                        const char *property, sd_bus_message *reply, void *userdata,
                        sd_bus_error *error _unused_) {
        ProvBus *b = userdata;
        const ProvActionResult *res = prov_daemon_last_result(b->daemon);
        static const ProvActionResult none = {};

        if (!res)
                res = &none;

        if (streq(property, "LastSyncUsec"))
                return sd_bus_message_append(reply, "t", prov_daemon_last_sync_usec(b->daemon));
        if (streq(property, "LastResult"))
                return sd_bus_message_append(reply, "s", res->summary);
        if (streq(property, "LastError"))
                return sd_bus_message_append(reply, "s", res->error < 0 ? strerror(-res->error) : "");
        if (streq(property, "Generation"))
                return sd_bus_message_append(reply, "t", res->generation);
        if (streq(property, "HeldDeprovisions"))
                return sd_bus_message_append(reply, "b", (int) res->held);
        return -ENOENT;
}

static const sd_bus_vtable syncd_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("LastSyncUsec", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastResult", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastError", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Generation", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HeldDeprovisions", "b", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_NAMES("Sync", "b", SD_BUS_PARAM(full), "bts",
                                 SD_BUS_PARAM(held) SD_BUS_PARAM(generation) SD_BUS_PARAM(summary),
                                 method_sync, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Block", "s", SD_BUS_PARAM(user), "", , method_block,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Unblock", "s", SD_BUS_PARAM(user), "", , method_unblock,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Approve", "x", SD_BUS_PARAM(hold_id), "s", SD_BUS_PARAM(summary),
                                 method_approve, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("SyncCompleted", "bbbts",
                                 SD_BUS_PARAM(full) SD_BUS_PARAM(ok) SD_BUS_PARAM(held) SD_BUS_PARAM(generation)
                                 SD_BUS_PARAM(summary), 0),
        SD_BUS_VTABLE_END
};

int prov_bus_new(ProvDaemon *d, ProvBus **ret) {
        ProvBus *b;
        int r;

        if (!d || !ret)
                return -EINVAL;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->daemon = d;

        /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS, which the tests use for a private bus. */
        r = sd_bus_open_system(&b->bus);
        if (r < 0)
                goto fail;
        r = sd_bus_add_object_vtable(b->bus, &b->vtable_slot, BUS_PATH, BUS_INTERFACE, syncd_vtable, b);
        if (r < 0)
                goto fail;
        /* Without flags the request fails with -EEXIST when another daemon owns the name: two
         * daemons writing one store must not both answer. */
        r = sd_bus_request_name(b->bus, BUS_NAME, 0);
        if (r < 0)
                goto fail;
        r = sd_bus_attach_event(b->bus, prov_daemon_event(d), SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;

        *ret = b;
        return 0;

fail:
        prov_bus_free(b);
        return r;
}

ProvBus *prov_bus_free(ProvBus *b) {
        if (!b)
                return NULL;
        b->vtable_slot = sd_bus_slot_unref(b->vtable_slot);
        if (b->bus) {
                sd_bus_detach_event(b->bus);
                /* Sends what is queued (a last SyncCompleted) before the connection goes. */
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
        free(b);
        return NULL;
}

void prov_bus_sync_done(ProvBus *b, bool full, const ProvActionResult *result) {
        if (!b || !result)
                return;

        (void) sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, "SyncCompleted", "bbbts", (int) full,
                                  (int) (result->error == 0), (int) result->held, result->generation,
                                  result->summary);
        emit_status_changed(b);
}
