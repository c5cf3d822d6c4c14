/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PAM module pam_provision: the "account" and "session" checks of leaver enforcement. It looks the
 * user up in the snapshot that provision-syncd publishes and refuses accounts the directory has
 * suspended or removed, or that an administrator blocked on this host. Users the snapshot does not
 * know are not ours and get PAM_IGNORE, so local and break-glass accounts keep working.
 *
 * The module links libc, libpam and libprovcache only. It provides no "auth" or "password"
 * functions: it decides nothing about credentials. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "prov-snapshot.h"
#include "prov-types.h"
#include "prov-util.h"

#define _public_ __attribute__((visibility("default")))

#define USEC_PER_SEC UINT64_C(1000000)

/* Longest user name we copy into a log line; longer ones are cut (STYLE §5). */
#define LOG_NAME_MAX 64

typedef struct ProvPamOpts {
        bool debug;
        bool quiet;
        bool fail_closed;
        uint64_t max_staleness_usec;    /* 0 = no staleness check */
        const char *snapshot;           /* NULL = $PROVISION_SNAPSHOT or the compiled-in path */
} ProvPamOpts;

/* Parses a positive number of seconds the way strtoul() should be used: digits only (strtoul
 * itself would accept "-1", " 5" or "5s"), no overflow, and small enough to be converted to
 * microseconds without wrapping. */
static int parse_seconds(const char *s, uint64_t *ret_usec) {
        unsigned long v;
        char *end = NULL;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (!end || *end != '\0')
                return -EINVAL;
        if (v == 0)
                return -EINVAL;
        if ((uint64_t) v > UINT64_MAX / USEC_PER_SEC)
                return -ERANGE;
        *ret_usec = (uint64_t) v * USEC_PER_SEC;
        return 0;
}

/* Fills a zeroed option set from the module arguments. Unknown or malformed arguments are logged
 * and skipped, as Linux-PAM's own modules do: a typo in a service file must not lock root out. */
static void parse_args(pam_handle_t *pamh, int argc, const char **argv, ProvPamOpts *opts) {
        *opts = (ProvPamOpts) {};

        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];

                if (!a)
                        continue;
                if (streq(a, "debug"))
                        opts->debug = true;
                else if (streq(a, "quiet"))
                        opts->quiet = true;
                else if (streq(a, "fail_closed"))
                        opts->fail_closed = true;
                else if (strncmp(a, "max_staleness=", 14) == 0) {
                        uint64_t usec = 0;

                        if (parse_seconds(a + 14, &usec) < 0)
                                pam_syslog(pamh, LOG_ERR, "invalid value, option ignored: %.80s", a);
                        else
                                opts->max_staleness_usec = usec;
                } else if (strncmp(a, "snapshot=", 9) == 0) {
                        if (a[9] != '/')
                                pam_syslog(pamh, LOG_ERR, "snapshot= needs an absolute path, option ignored: %.200s", a);
                        else
                                opts->snapshot = a + 9;
                } else
                        pam_syslog(pamh, LOG_ERR, "unknown option: %.80s", a);
        }
}

/* Copies a user name for a log line: at most LOG_NAME_MAX bytes, control characters and
 * non-ASCII replaced, because the name may come straight from a remote client. */
static const char *name_for_log(const char *name, char buf[static LOG_NAME_MAX + 1]) {
        size_t i;

        for (i = 0; name[i] && i < LOG_NAME_MAX; i++) {
                unsigned char c = (unsigned char) name[i];

                buf[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        buf[i] = '\0';
        return buf;
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Whether the last successful sync is older than the configured limit. A snapshot that never saw
 * a successful sync (0) is stale; a sync time ahead of our clock counts as fresh, since a clock
 * stepped back says nothing about the directory. */
static bool snapshot_too_old(const ProvSnapshot *s, const ProvPamOpts *opts, uint64_t *ret_age_usec) {
        uint64_t last = prov_snapshot_last_sync_usec(s), now;

        *ret_age_usec = 0;
        if (opts->max_staleness_usec == 0)
                return false;
        if (last == 0)
                return true;
        now = now_realtime_usec();
        if (now <= last)
                return false;
        *ret_age_usec = now - last;
        return *ret_age_usec > opts->max_staleness_usec;
}

/* The text shown to the user for a refused state; NULL for a state that is not refused. */
static const char *refusal_message(ProvState state) {
        switch (state) {
        case PROV_STATE_SUSPENDED:
                return "Your account has been suspended by your organisation's directory. "
                       "Contact your administrator.";
        case PROV_STATE_DEPROVISIONED:
                return "Your account has been removed from your organisation's directory. "
                       "Contact your administrator.";
        case PROV_STATE_BLOCKED:
                return "Your account has been blocked on this host by an administrator. "
                       "Contact your administrator.";
        default:
                return NULL;
        }
}

/* Sends an error message through the application's conversation, unless the administrator asked
 * for quiet or the application for silence. A failing conversation changes nothing: the decision
 * has been taken already. */
static void tell_user(pam_handle_t *pamh, int flags, const ProvPamOpts *opts, const char *msg) {
        if (opts->quiet || (flags & PAM_SILENT))
                return;
        (void) pam_error(pamh, "%s", msg);
}

/* The one translation of a snapshot failure into a PAM code (STYLE §3, §8). When the snapshot
 * cannot be read, NSS cannot resolve our users either, so by default the module steps aside
 * (PAM_IGNORE) and local accounts keep working; fail_closed makes it PAM_AUTHINFO_UNAVAIL for hosts
 * that prefer to refuse. */
static int pam_code_from_snapshot_error(pam_handle_t *pamh, const ProvPamOpts *opts, const char *path, int r) {
        pam_syslog(pamh, LOG_ERR, "cannot read snapshot %.200s: %s%s", path, strerror(-r),
                   opts->fail_closed ? " (fail_closed: refusing)" : "");
        return opts->fail_closed ? PAM_AUTHINFO_UNAVAIL : PAM_IGNORE;
}

/* Decides for one user against an open snapshot. */
static int check_user(pam_handle_t *pamh, int flags, const ProvPamOpts *opts, const ProvSnapshot *s,
                      const char *path, const char *user, const char *what) {
        char logname[LOG_NAME_MAX + 1];
        ProvSnapUserView u;
        uint64_t age_usec;
        const char *msg;
        int r;

        r = prov_snapshot_user_by_name(s, user, &u);
        if (r == -ENOENT) {
                if (opts->debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: user '%s' not in the snapshot, ignoring", what,
                                   name_for_log(user, logname));
                return PAM_IGNORE;
        }
        if (r < 0)
                return pam_code_from_snapshot_error(pamh, opts, path, r);

        /* An explicit refusal wins over staleness: an old snapshot that already says "suspended"
         * is still right about it. */
        msg = refusal_message(u.state);
        if (msg) {
                pam_syslog(pamh, LOG_AUTHPRIV | LOG_NOTICE, "%s: refusing user '%s': account %s", what,
                           name_for_log(user, logname), prov_state_to_string(u.state));
                tell_user(pamh, flags, opts, msg);
                return PAM_ACCT_EXPIRED;
        }
        if (u.state != PROV_STATE_ACTIVE) {
                /* The reader rejects states it does not know; this is only a guard against a newer
                 * writer. Our user, state unknown: refuse rather than guess. */
                pam_syslog(pamh, LOG_ERR, "%s: user '%s' has unknown state %d, refusing", what,
                           name_for_log(user, logname), (int) u.state);
                return PAM_AUTHINFO_UNAVAIL;
        }

        if (snapshot_too_old(s, opts, &age_usec)) {
                pam_syslog(pamh, LOG_AUTHPRIV | LOG_NOTICE,
                           "%s: refusing user '%s': snapshot last synced %s (max_staleness=%llu s)", what,
                           name_for_log(user, logname), age_usec == 0 ? "never" : "too long ago",
                           (unsigned long long) (opts->max_staleness_usec / USEC_PER_SEC));
                tell_user(pamh, flags, opts,
                          "The account information of this host is out of date. "
                          "Contact your administrator.");
                return PAM_AUTHINFO_UNAVAIL;
        }

        if (opts->debug)
                pam_syslog(pamh, LOG_DEBUG, "%s: user '%s' is active", what, name_for_log(user, logname));
        return PAM_SUCCESS;
}

/* The single worker behind pam_sm_acct_mgmt() and pam_sm_open_session(). The snapshot is opened
 * for this call and closed again instead of going through the process-wide cache: a module may be
 * unloaded with pam_end(), which would leak a cached mapping, and one open+mmap per login is
 * cheap and always sees the newest file. */
static int provision_check(pam_handle_t *pamh, int flags, int argc, const char **argv, const char *what) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        ProvPamOpts opts = {};
        const char *user = NULL, *path;
        int r;

        parse_args(pamh, argc, argv, &opts);

        r = pam_get_user(pamh, &user, NULL);
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "%s: cannot get the user name: %s", what, pam_strerror(pamh, r));
                return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : r;
        }
        if (!user || user[0] == '\0') {
                pam_syslog(pamh, LOG_ERR, "%s: empty user name", what);
                return PAM_USER_UNKNOWN;
        }
        /* root is never provisioned (the writer refuses uid 0); do not even read the snapshot. */
        if (streq(user, "root")) {
                if (opts.debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: root is never ours, ignoring", what);
                return PAM_IGNORE;
        }

        path = opts.snapshot ?: prov_cache_default_path();
        r = prov_snapshot_open(path, &s);
        if (r < 0)
                return pam_code_from_snapshot_error(pamh, &opts, path, r);

        return check_user(pamh, flags, &opts, s, path, user, what);
}

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return provision_check(pamh, flags, argc, argv, "account");
}

_public_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return provision_check(pamh, flags, argc, argv, "session");
}

/* Nothing to undo: opening a session allocates nothing that outlives the call. */
_public_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return PAM_SUCCESS;
}
