/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Exact return codes and user messages of the built pam_provision.so, driven through real
 * Linux-PAM: pam_start_confdir() on a service directory in a temporary directory (Linux-PAM >= 1.4),
 * then
 *   - the module's pam_sm_* called directly (dlsym on the same .so that libpam loaded) with a real
 *     pam handle, so that the result is the module's own code, not the stack's verdict, and
 *   - pam_acct_mgmt()/pam_open_session() through a service file, for the stack's verdict.
 * The conversation function captures what the module tells the user. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"

typedef int (*pam_sm_fn)(pam_handle_t *pamh, int flags, int argc, const char **argv);

static char tmpdir[] = "/tmp/test-pam-direct.XXXXXX";
static char module_path[4096];
static pam_sm_fn sm_acct_mgmt, sm_open_session, sm_close_session;

static char captured[4096];
static int captured_style, n_messages;
static unsigned n_failed, n_checks;

#define check(cond, ...)                                                        \
        do {                                                                    \
                n_checks++;                                                     \
                if (!(cond)) {                                                  \
                        n_failed++;                                             \
                        fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                           \
                        fputc('\n', stderr);                                    \
                }                                                               \
        } while (0)

/* Appends every message to `captured`; answers nothing (the module only sends errors). */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        for (int i = 0; i < n; i++) {
                size_t l = strlen(captured);

                n_messages++;
                captured_style = msg[i]->msg_style;
                snprintf(captured + l, sizeof captured - l, "%s\n", msg[i]->msg);
        }
        *resp = NULL;
        return PAM_SUCCESS;
}

static const struct pam_conv pam_conversation = { conv, NULL };

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void tmp_path(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* Writes a snapshot with the four states of DESIGN.md and the given last sync time. */
static void write_snapshot(const char *path, uint64_t last_sync_usec) {
        static const ProvSnapUser users[] = {
                { "alice", 10001, 10001, "Alice", "/home/alice", "/bin/bash", PROV_STATE_ACTIVE, 0 },
                { "carol", 10003, 10003, "Carol", "/home/carol", "/usr/sbin/nologin", PROV_STATE_SUSPENDED, 0 },
                { "dave", 10004, 10004, "Dave", "/home/dave", "/usr/sbin/nologin", PROV_STATE_BLOCKED, 0 },
                { "erin", 10005, 10005, "Erin", "/home/erin", "/usr/sbin/nologin", PROV_STATE_DEPROVISIONED, 0 },
        };
        ProvSnapMeta meta = { .generation = 1, .last_sync_usec = last_sync_usec, .uid_min = 10000, .uid_max = 60000 };
        int r = prov_snapshot_write(path, &meta, users, ELEMENTSOF(users), NULL, 0);

        if (r < 0) {
                fprintf(stderr, "prov_snapshot_write(%s): %s\n", path, strerror(-r));
                exit(EXIT_FAILURE);
        }
}

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        if (!f || fputs(content, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s: %m\n", path);
                exit(EXIT_FAILURE);
        }
}

/* A service whose only account and session line is pam_provision with the given arguments. */
static void write_service(const char *service, const char *control, const char *args) {
        char path[4200], content[8192];

        tmp_path(path, sizeof path, service);
        if (snprintf(content, sizeof content,
                     "account %s %s %s\n"
                     "session %s %s %s\n",
                     control, module_path, args, control, module_path, args) >= (int) sizeof content)
                exit(EXIT_FAILURE);
        write_file(path, content);
}

static pam_handle_t *start(const char *service, const char *user) {
        pam_handle_t *pamh = NULL;
        int r;

        r = pam_start_confdir(service, user, &pam_conversation, tmpdir, &pamh);
        if (r != PAM_SUCCESS) {
                fprintf(stderr, "pam_start_confdir(%s): %d\n", service, r);
                exit(EXIT_FAILURE);
        }
        return pamh;
}

/* Calls fn of the module for user with the given arguments (NULL-terminated) and flags; returns
 * its code and leaves what it said to the user in `captured`. */
static int call(pam_sm_fn fn, const char *user, int flags, ...) {
        const char *argv[16];
        int argc = 0, r;
        pam_handle_t *pamh;
        va_list ap;

        va_start(ap, flags);
        for (const char *a; (a = va_arg(ap, const char *)) && argc < (int) ELEMENTSOF(argv);)
                argv[argc++] = a;
        va_end(ap);

        captured[0] = '\0';
        captured_style = 0;
        n_messages = 0;
        pamh = start("plain", user);
        r = fn(pamh, flags, argc, argv);
        pam_end(pamh, r);
        return r;
}

/* Through the stack of a service file: the application's view. */
static int stack(const char *service, const char *user, bool session) {
        pam_handle_t *pamh;
        int r;

        captured[0] = '\0';
        n_messages = 0;
        pamh = start(service, user);
        r = session ? pam_open_session(pamh, 0) : pam_acct_mgmt(pamh, 0);
        if (session && r == PAM_SUCCESS)
                pam_close_session(pamh, 0);
        pam_end(pamh, r);
        return r;
}

static void cleanup(void) {
        static const char *const names[] = { "snap", "stale", "never", "corrupt", "plain", "req", "real", "env" };
        char path[4200];

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                tmp_path(path, sizeof path, names[i]);
                (void) unlink(path);
        }
        (void) rmdir(tmpdir);
}

int main(void) {
        char snap[4200], stale[4200], never[4200], corrupt[4200], missing[4200], path[4200];
        char opt_snap[4300], opt_stale[4300], opt_never[4300], opt_corrupt[4300], opt_missing[4300];
        char args[20000];
        const char *top = getenv("top_builddir");
        void *dl;
        int r;

        snprintf(module_path, sizeof module_path, "%s/pam_provision/.libs/pam_provision.so", top ?: ".");
        if (access(module_path, R_OK) < 0) {
                fprintf(stderr, "%s: %m (module not built?)\n", module_path);
                return EXIT_FAILURE;
        }
        dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                fprintf(stderr, "dlopen: %s\n", dlerror());
                return EXIT_FAILURE;
        }
        sm_acct_mgmt = (pam_sm_fn) dlsym(dl, "pam_sm_acct_mgmt");
        sm_open_session = (pam_sm_fn) dlsym(dl, "pam_sm_open_session");
        sm_close_session = (pam_sm_fn) dlsym(dl, "pam_sm_close_session");
        if (!sm_acct_mgmt || !sm_open_session || !sm_close_session) {
                fprintf(stderr, "missing pam_sm_* entry points\n");
                return EXIT_FAILURE;
        }

        if (!mkdtemp(tmpdir)) {
                fprintf(stderr, "mkdtemp: %m\n");
                return EXIT_FAILURE;
        }
        atexit(cleanup);
        unsetenv("PROVISION_SNAPSHOT");

        tmp_path(snap, sizeof snap, "snap");
        tmp_path(stale, sizeof stale, "stale");
        tmp_path(never, sizeof never, "never");
        tmp_path(corrupt, sizeof corrupt, "corrupt");
        tmp_path(missing, sizeof missing, "missing");
        write_snapshot(snap, now_usec());
        write_snapshot(stale, now_usec() - UINT64_C(7200) * 1000000u);       /* two hours ago */
        write_snapshot(never, 0);
        write_file(corrupt, "this is not a snapshot, but long enough to look at its header........\n");
        snprintf(opt_snap, sizeof opt_snap, "snapshot=%s", snap);
        snprintf(opt_stale, sizeof opt_stale, "snapshot=%s", stale);
        snprintf(opt_never, sizeof opt_never, "snapshot=%s", never);
        snprintf(opt_corrupt, sizeof opt_corrupt, "snapshot=%s", corrupt);
        snprintf(opt_missing, sizeof opt_missing, "snapshot=%s", missing);
        tmp_path(path, sizeof path, "plain");
        write_file(path, "account required pam_permit.so\n");

        /* Users the snapshot does not know are not ours. */
        r = call(sm_acct_mgmt, "localuser", 0, opt_snap, NULL);
        check(r == PAM_IGNORE, "local user: %d", r);
        check(n_messages == 0, "local user told: %s", captured);

        r = call(sm_acct_mgmt, "alice", 0, opt_snap, NULL);
        check(r == PAM_SUCCESS, "active: %d", r);
        check(n_messages == 0, "active user told: %s", captured);

        /* Refused states: PAM_ACCT_EXPIRED and an error message naming what happened. */
        r = call(sm_acct_mgmt, "carol", 0, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED, "suspended: %d", r);
        check(n_messages == 1 && captured_style == PAM_ERROR_MSG, "suspended: %d messages", n_messages);
        check(strstr(captured, "Your account has been suspended by your organisation's directory.") &&
                      strstr(captured, "Contact your administrator."),
              "suspended message: %s", captured);

        r = call(sm_acct_mgmt, "erin", 0, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED, "deprovisioned: %d", r);
        check(strstr(captured, "removed from your organisation's directory"), "deprovisioned message: %s", captured);

        r = call(sm_acct_mgmt, "dave", 0, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED, "blocked: %d", r);
        check(strstr(captured, "blocked on this host"), "blocked message: %s", captured);

        /* quiet and PAM_SILENT keep the decision and drop the message. */
        r = call(sm_acct_mgmt, "carol", 0, opt_snap, "quiet", NULL);
        check(r == PAM_ACCT_EXPIRED && n_messages == 0, "quiet: %d, told: %s", r, captured);
        r = call(sm_acct_mgmt, "carol", PAM_SILENT, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED && n_messages == 0, "PAM_SILENT: %d, told: %s", r, captured);

        /* Unknown and malformed options are ignored, the known ones still apply. */
        r = call(sm_acct_mgmt, "carol", 0, "no_such_option", opt_snap, "debug", NULL);
        check(r == PAM_ACCT_EXPIRED, "unknown option: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, "no_such_option", opt_snap, NULL);
        check(r == PAM_SUCCESS, "unknown option, active: %d", r);

        /* Missing, corrupt: step aside by default, refuse with fail_closed. */
        r = call(sm_acct_mgmt, "alice", 0, opt_missing, NULL);
        check(r == PAM_IGNORE, "missing snapshot: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_missing, "fail_closed", NULL);
        check(r == PAM_AUTHINFO_UNAVAIL, "missing snapshot, fail_closed: %d", r);
        r = call(sm_acct_mgmt, "localuser", 0, opt_missing, "fail_closed", NULL);
        check(r == PAM_AUTHINFO_UNAVAIL, "missing snapshot, fail_closed, local user: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_corrupt, NULL);
        check(r == PAM_IGNORE, "corrupt snapshot: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_corrupt, "fail_closed", NULL);
        check(r == PAM_AUTHINFO_UNAVAIL, "corrupt snapshot, fail_closed: %d", r);

        /* root short-circuits before the snapshot is even opened. */
        r = call(sm_acct_mgmt, "root", 0, opt_missing, "fail_closed", NULL);
        check(r == PAM_IGNORE, "root: %d", r);

        /* Staleness: the snapshot is two hours old. */
        r = call(sm_acct_mgmt, "alice", 0, opt_stale, "max_staleness=3600", NULL);
        check(r == PAM_AUTHINFO_UNAVAIL, "stale, active user: %d", r);
        check(strstr(captured, "out of date"), "stale message: %s", captured);
        r = call(sm_acct_mgmt, "localuser", 0, opt_stale, "max_staleness=3600", NULL);
        check(r == PAM_IGNORE && n_messages == 0, "stale, local user: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_stale, "max_staleness=86400", NULL);
        check(r == PAM_SUCCESS, "within max_staleness: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_stale, NULL);
        check(r == PAM_SUCCESS, "no max_staleness: %d", r);
        r = call(sm_acct_mgmt, "carol", 0, opt_stale, "max_staleness=3600", NULL);
        check(r == PAM_ACCT_EXPIRED, "stale, suspended user: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_never, "max_staleness=86400", NULL);
        check(r == PAM_AUTHINFO_UNAVAIL, "never synced: %d", r);
        r = call(sm_acct_mgmt, "alice", 0, opt_snap, "max_staleness=3600", NULL);
        check(r == PAM_SUCCESS, "fresh snapshot: %d", r);

        /* Malformed max_staleness values are ignored (logged), so no staleness check happens. */
        static const char *const bad_values[] = {
                "max_staleness=", "max_staleness=-1", "max_staleness=+5", "max_staleness= 5",
                "max_staleness=5s", "max_staleness=0", "max_staleness=abc",
                "max_staleness=99999999999999999999999", "max_staleness=18446744073709551615",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                r = call(sm_acct_mgmt, "alice", 0, opt_never, bad_values[i], NULL);
                check(r == PAM_SUCCESS, "%s: %d", bad_values[i], r);
        }

        /* snapshot= wins over $PROVISION_SNAPSHOT; a relative snapshot= is ignored. */
        setenv("PROVISION_SNAPSHOT", missing, 1);
        r = call(sm_acct_mgmt, "carol", 0, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED, "snapshot= over env: %d", r);
        setenv("PROVISION_SNAPSHOT", snap, 1);
        r = call(sm_acct_mgmt, "carol", 0, NULL);
        check(r == PAM_ACCT_EXPIRED, "env: %d", r);
        r = call(sm_acct_mgmt, "carol", 0, "snapshot=relative/path", NULL);
        check(r == PAM_ACCT_EXPIRED, "relative snapshot= ignored: %d", r);
        unsetenv("PROVISION_SNAPSHOT");

        /* Sessions: open refuses like account, close always succeeds. */
        r = call(sm_open_session, "carol", 0, opt_snap, NULL);
        check(r == PAM_ACCT_EXPIRED, "session, suspended: %d", r);
        check(strstr(captured, "suspended"), "session message: %s", captured);
        r = call(sm_open_session, "alice", 0, opt_snap, NULL);
        check(r == PAM_SUCCESS, "session, active: %d", r);
        r = call(sm_open_session, "localuser", 0, opt_snap, NULL);
        check(r == PAM_IGNORE, "session, local: %d", r);
        r = call(sm_close_session, "carol", 0, opt_snap, NULL);
        check(r == PAM_SUCCESS, "close session: %d", r);

        /* The application's view through service files. "required" alone: refusals come out as
         * the module's code. */
        write_service("req", "required", opt_snap);
        r = stack("req", "carol", false);
        check(r == PAM_ACCT_EXPIRED, "stack, suspended: %d", r);
        check(strstr(captured, "suspended"), "stack message: %s", captured);
        r = stack("req", "alice", false);
        check(r == PAM_SUCCESS, "stack, active: %d", r);
        r = stack("req", "carol", true);
        check(r == PAM_ACCT_EXPIRED, "stack session, suspended: %d", r);

        /* A real stack: pam_permit before, as common-account would; IGNORE must pass. */
        if (snprintf(args, sizeof args,
                     "account required pam_permit.so\n"
                     "account required %s %s\n"
                     "session required pam_permit.so\n"
                     "session required %s %s\n",
                     module_path, opt_snap, module_path, opt_snap) >= (int) sizeof args)
                return EXIT_FAILURE;
        tmp_path(path, sizeof path, "real");
        write_file(path, args);
        r = stack("real", "localuser", false);
        check(r == PAM_SUCCESS, "real stack, local user: %d", r);
        r = stack("real", "alice", false);
        check(r == PAM_SUCCESS, "real stack, active: %d", r);
        r = stack("real", "erin", false);
        check(r == PAM_ACCT_EXPIRED, "real stack, deprovisioned: %d", r);
        r = stack("real", "localuser", true);
        check(r == PAM_SUCCESS, "real stack session, local user: %d", r);
        r = stack("real", "dave", true);
        check(r == PAM_ACCT_EXPIRED, "real stack session, blocked: %d", r);

        dlclose(dl);
        printf("%u checks, %u failed\n", n_checks, n_failed);
        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
