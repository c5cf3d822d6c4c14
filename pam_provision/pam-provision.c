/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PAM module pam_provision: the "account" and "session" checks of leaver enforcement. It looks the
 * user up in the snapshot that provision-syncd publishes and refuses accounts the directory has
 * suspended or removed, or that an administrator blocked on this host. Users the snapshot does not
 * know are not ours and get PAM_IGNORE, so local and break-glass accounts keep working.
 *
 * The module links libc, libpam and libprovcache only. It provides no "auth" or "password"
 * functions: it decides nothing about credentials. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "prov-snapshot.h"
#include "prov-time.h"
#include "prov-types.h"
#include "prov-util.h"

#define _public_ __attribute__((visibility("default")))


#ifndef PROV_REFRESH_SOCKET
#define PROV_REFRESH_SOCKET "/run/provision/refresh.sock"
#endif
/* refresh_timeout= default and upper bound, milliseconds. */
#define REFRESH_TIMEOUT_DEFAULT_MS 2000u
#define REFRESH_TIMEOUT_MAX_MS 10000u
/* The longest name a refresh is asked for: what the daemon accepts as a POSIX name. */
#define REFRESH_NAME_MAX 255

/* Longest user name we copy into a log line; longer ones are cut (STYLE §5). */
#define LOG_NAME_MAX 64

typedef struct ProvPamOpts {
        bool debug;
        bool quiet;
        bool fail_closed;
        uint64_t max_staleness_usec;    /* 0 = no staleness check */
        const char *snapshot;           /* NULL = $PROVISION_SNAPSHOT or the compiled-in path */
        bool refresh_on_login;          /* ask provision-syncd to refresh the user at "account" */
        unsigned refresh_timeout_ms;    /* 0 = REFRESH_TIMEOUT_DEFAULT_MS */
        const char *refresh_socket;     /* NULL = $PROVISION_REFRESH_SOCKET or PROV_REFRESH_SOCKET */
} ProvPamOpts;

/* Parses a number the way strtoul() should be used: digits only (strtoul itself would accept
 * "-1", " 5" or "5s"), no overflow, 1..max. */
static int parse_positive(const char *s, unsigned long max, unsigned long *ret) {
        unsigned long v;
        char *end = NULL;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (!end || *end != '\0' || v == 0)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Seconds, small enough to be converted to microseconds without wrapping. */
static int parse_seconds(const char *s, uint64_t *ret_usec) {
        const unsigned long max = UINT64_MAX / USEC_PER_SEC > ULONG_MAX ? ULONG_MAX
                                                                        : (unsigned long) (UINT64_MAX / USEC_PER_SEC);
        unsigned long v;
        int r;

        r = parse_positive(s, max, &v);
        if (r < 0)
                return r;
        *ret_usec = (uint64_t) v * USEC_PER_SEC;
        return 0;
}

/* refresh_timeout=: 1..REFRESH_TIMEOUT_MAX_MS milliseconds. */
static int parse_millis(const char *s, unsigned *ret_ms) {
        unsigned long v;
        int r;

        r = parse_positive(s, REFRESH_TIMEOUT_MAX_MS, &v);
        if (r < 0)
                return -EINVAL;
        *ret_ms = (unsigned) v;
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
                } else if (streq(a, "refresh_on_login"))
                        opts->refresh_on_login = true;
                else if (strncmp(a, "refresh_timeout=", 16) == 0) {
                        unsigned ms = 0;

                        if (parse_millis(a + 16, &ms) < 0)
                                pam_syslog(pamh, LOG_ERR, "invalid value (1..%u ms), option ignored: %.80s",
                                           REFRESH_TIMEOUT_MAX_MS, a);
                        else
                                opts->refresh_timeout_ms = ms;
                } else if (strncmp(a, "refresh_socket=", 15) == 0) {
                        if (a[15] != '/' || strlen(a + 15) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                                pam_syslog(pamh, LOG_ERR, "refresh_socket= needs a short absolute path, option ignored: %.200s", a);
                        else
                                opts->refresh_socket = a + 15;
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
        now = prov_now(CLOCK_REALTIME);
        if (now <= last)
                return false;
        *ret_age_usec = now - last;
        return *ret_age_usec > opts->max_staleness_usec;
}

/* A name we may send to the daemon: the POSIX portable set [A-Za-z0-9._-], not starting with
 * '-', at most REFRESH_NAME_MAX bytes, with at most one '$' at the end (Samba machine accounts).
 * Anything else is not a directory user and is never asked for. */
static bool refresh_name_ok(const char *name) {
        size_t n = 0;

        if (!name || name[0] == '\0' || name[0] == '-')
                return false;
        for (; name[n]; n++) {
                char c = name[n];

                if (n >= REFRESH_NAME_MAX)
                        return false;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-')
                        continue;
                if (c == '$' && name[n + 1] == '\0')
                        continue;
                return false;
        }
        return !streq(name, ".") && !streq(name, "..");
}

/* Waits for events on fd until the monotonic deadline: 0 when they came, -ETIMEDOUT when the
 * deadline passed first. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t now = prov_now(CLOCK_MONOTONIC);
                int k;

                if (now >= deadline)
                        return -ETIMEDOUT;
                k = poll(&p, 1, (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        continue; /* the loop re-checks the deadline */
                if (p.revents & (POLLERR | POLLNVAL))
                        return -EIO;
                return 0;
        }
}

/* What a send() or recv() on the non-blocking fd that returned n leaves to do: 1 if it moved n
 * bytes, 0 if it would have blocked and fd is now ready for events (try again), or -errno. */
static int io_done(int fd, ssize_t n, short events, uint64_t deadline) {
        int r;

        if (n >= 0)
                return 1;
        if (errno != EAGAIN && errno != EINTR)
                return -errno;
        r = wait_fd(fd, events, deadline);
        return r < 0 ? r : 0;
}

/* Asks provision-syncd to refresh one user from the directory now, and waits for its one-line
 * answer until the deadline: a Unix stream socket, non-blocking throughout, nothing but libc.
 * Returns 0 when the daemon refreshed the user (or did a moment ago, or the directory does not
 * know the name), -EOPNOTSUPP when its source cannot refresh, -EPERM when it takes no requests
 * from this process (not root), -ETIMEDOUT, -EBUSY, or another
 * negative errno; *ret_answer gets the answer line for the log. */
static int refresh_user(const char *socket_path, const char *user, unsigned timeout_ms, char *ret_answer,
                        size_t answer_size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t deadline = prov_now(CLOCK_MONOTONIC) + (uint64_t) timeout_ms * USEC_PER_MSEC;
        char req[REFRESH_NAME_MAX + 64], buf[128];
        size_t len = 0, sent = 0, reqlen;
        int fd, r;

        ret_answer[0] = '\0';
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        /* The deadline travels with the request (CLOCK_MONOTONIC is one clock per host): the
         * daemon drops a request whose client stopped waiting before its turn came. */
        r = snprintf(req, sizeof(req), "refresh %s %llu\n", user, (unsigned long long) deadline);
        if (r < 0 || (size_t) r >= sizeof(req))
                return -ENAMETOOLONG;
        reqlen = (size_t) r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno == EAGAIN)
                        r = -EBUSY; /* the daemon's backlog is full */
                else if (errno != EINPROGRESS)
                        r = -errno;
                else {
                        int err = 0;
                        socklen_t l = sizeof(err);

                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                                r = -errno;
                        else if (r >= 0 && err != 0)
                                r = -err;
                }
                if (r < 0)
                        goto finish;
        }
        while (sent < reqlen) {
                ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

                r = io_done(fd, n, POLLOUT, deadline);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        sent += (size_t) n;
        }
        for (;;) {
                ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
                char *nl;

                r = io_done(fd, n, POLLIN, deadline);
                if (r < 0)
                        goto finish;
                if (r == 0)
                        continue;
                if (n == 0) {
                        r = -ECONNRESET; /* closed without an answer */
                        goto finish;
                }
                len += (size_t) n;
                buf[len] = '\0';
                nl = memchr(buf, '\n', len);
                if (!nl) {
                        if (len >= sizeof(buf) - 1) {
                                r = -EBADMSG;
                                goto finish;
                        }
                        continue;
                }
                *nl = '\0';
                break;
        }
        for (char *p = buf; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = '?';
        (void) snprintf(ret_answer, answer_size, "%s", buf);
        if (streq(buf, "ok") || strncmp(buf, "ok ", 3) == 0)
                r = 0;
        else if (streq(buf, "unsupported"))
                r = -EOPNOTSUPP;
        else if (streq(buf, "denied"))
                r = -EPERM;
        else if (streq(buf, "busy"))
                r = -EBUSY;
        else
                r = -EIO;
finish:
        close(fd);
        return r;
}

/* The refresh at "account" with its outcome in the log. Returns true when the decision may go
 * ahead on the snapshot, false when a failed refresh must refuse an account of ours
 * (fail_closed); the caller finds out whether the user is ours. */
static bool refresh_before_deciding(pam_handle_t *pamh, const ProvPamOpts *opts, const char *user,
                                    const char *what) {
        char logname[LOG_NAME_MAX + 1], ans[128];
        const char *path = opts->refresh_socket;
        int r;

        if (!path) {
                path = secure_getenv("PROVISION_REFRESH_SOCKET");
                if (!path || path[0] != '/')
                        path = PROV_REFRESH_SOCKET;
        }
        if (!refresh_name_ok(user)) {
                if (opts->debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: '%s' is not a POSIX name, no refresh", what,
                                   name_for_log(user, logname));
                return true;
        }
        r = refresh_user(path, user, opts->refresh_timeout_ms ?: REFRESH_TIMEOUT_DEFAULT_MS, ans, sizeof(ans));
        if (r >= 0) {
                if (opts->debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: refresh of '%s': %s", what, name_for_log(user, logname),
                                   ans);
                return true;
        }
        if (r == -EOPNOTSUPP || r == -EPERM) {
                /* Not a failure: the daemon's source cannot refresh (a directory file), or this
                 * process is not privileged enough to ask (a screen locker running as the user). */
                if (opts->debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: no refresh of '%s': %s", what, name_for_log(user, logname),
                                   r == -EPERM ? "the daemon takes requests from root only"
                                               : "the daemon's source cannot refresh");
                return true;
        }
        if (r == -ETIMEDOUT)
                pam_syslog(pamh, LOG_WARNING,
                           "%s: refresh of '%s' via %.200s timed out after %u ms, request abandoned; deciding on the "
                           "snapshot as it is%s", what, name_for_log(user, logname), path,
                           opts->refresh_timeout_ms ?: REFRESH_TIMEOUT_DEFAULT_MS,
                           opts->fail_closed ? " (fail_closed: refusing the directory's users)" : "");
        else
                pam_syslog(pamh, LOG_WARNING,
                           "%s: refresh of '%s' via %.200s failed: %.100s; deciding on the snapshot as it is%s", what,
                           name_for_log(user, logname), path, ans[0] ? ans : strerror(-r),
                           opts->fail_closed ? " (fail_closed: refusing the directory's users)" : "");
        return !opts->fail_closed;
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
        if (r < 0) {
                ProvSnapPasswd p;

                /* The user's passwd record is readable (NSS serves it) but not the rest: ours, in an
                 * unknown state. Refused whatever fail_closed says. */
                if (prov_snapshot_passwd_by_name(s, user, &p) >= 0) {
                        pam_syslog(pamh, LOG_ERR, "%s: refusing user '%s': its state in snapshot %.200s cannot be "
                                   "read: %s", what, name_for_log(user, logname), path, strerror(-r));
                        return PAM_AUTHINFO_UNAVAIL;
                }
                return pam_code_from_snapshot_error(pamh, opts, path, r);
        }

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
        char logname[LOG_NAME_MAX + 1];
        const char *user = NULL, *path;
        bool refresh_ok = true;
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
        /* Nor is an account of /etc/passwd, whatever the snapshot says about its name (the writer
         * never serves a local name, but the file may have gained it since), and whether or not
         * the snapshot can be read (fail_closed). Unreadable: decided on the snapshot. */
        if (prov_local_user_exists(NULL, user) > 0) {
                if (opts.debug)
                        pam_syslog(pamh, LOG_DEBUG, "%s: '%s' is an account of /etc/passwd, ignoring", what,
                                   name_for_log(user, logname));
                return PAM_IGNORE;
        }

        /* Before the snapshot is opened, so that what the refresh published is what we read. */
        if (opts.refresh_on_login && streq(what, "account"))
                refresh_ok = refresh_before_deciding(pamh, &opts, user, what);

        path = opts.snapshot ?: prov_cache_default_path();
        r = prov_snapshot_open(path, &s);
        if (r < 0)
                return pam_code_from_snapshot_error(pamh, &opts, path, r);

        r = check_user(pamh, flags, &opts, s, path, user, what);
        /* fail_closed after a failed refresh refuses the users the snapshot knows; a user it
         * does not know is not ours (local accounts keep working), and a refusal stays one. */
        if (!refresh_ok && r == PAM_SUCCESS) {
                pam_syslog(pamh, LOG_AUTHPRIV | LOG_NOTICE, "%s: refusing user '%s': refresh failed (fail_closed)",
                           what, name_for_log(user, logname));
                return PAM_AUTHINFO_UNAVAIL;
        }
        return r;
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
