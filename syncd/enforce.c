/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "child.h"
#include "enforce.h"
#include "log.h"
#include "prov-time.h"

#define LOGIND_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define NSCD_TIMEOUT_SEC 10
/* A hook's output goes to the log line by line, cut and capped (PROV_CHILD_*_MAX in child.h). */
#define HOOK_NAME_MAX 64
#define HOOKS_MAX 256
/* Processes of one uid handled per round, and rounds of SIGKILL for those forked meanwhile. */
#define KILL_BATCH_MAX 4096
#define KILL_ROUNDS 3
#define KILL_CONFIRM_MSEC 2000
#define PROC_STATUS_MAX 4096

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

static const char hook_path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

typedef enum Outcome {
        OUTCOME_OK,
        OUTCOME_FAILED,
        OUTCOME_SKIPPED,
} Outcome;

static const char *outcome_to_string(Outcome o) {
        return o == OUTCOME_OK ? "ok" : o == OUTCOME_FAILED ? "failed" : "skipped";
}

typedef struct Enforcer {
        const ProvConfig *config;
        ProvStore *store;
        sd_bus *bus;
        int bus_error;          /* < 0: the system bus could not be opened (not tried again) */
        int first_error;        /* first infrastructure failure, returned to the caller */
        const ProvTransition *t; /* the transitions of this run, and what was done for each */
        ProvEnforced *report;   /* (NULL: nobody asks; retries are not reported) */
        size_t n;
} Enforcer;

/* What record() tells the report of t: each step's outcome, hooks folded into one. */
static void report_step(Enforcer *e, const ProvTransition *t, const char *step, Outcome o) {
        ProvEnforced *r;

        if (!e->report || t < e->t || t >= e->t + e->n)
                return;
        r = &e->report[t - e->t];
        if (streq(step, "logind"))
                r->logind = outcome_to_string(o);
        else if (streq(step, "kill"))
                r->kill = outcome_to_string(o);
        else if (streq(step, "nscd"))
                r->nscd = outcome_to_string(o);
        else if (strncmp(step, "hook", 4) == 0) { /* "hooks" and each "hook:NAME" */
                if (o == OUTCOME_FAILED || !r->hooks || (o == OUTCOME_OK && !streq(r->hooks, "failed")))
                        r->hooks = outcome_to_string(o);
        }
}

static ProvEnforced *report_of(Enforcer *e, const ProvTransition *t) {
        return e->report && t >= e->t && t < e->t + e->n ? &e->report[t - e->t] : NULL;
}

static void enforcer_error(Enforcer *e, int r) {
        if (r < 0 && e->first_error == 0)
                e->first_error = r;
}

/* Writes one audit row and the matching log line. Failed steps are warnings, since an admin
 * has to look; skipped and ok steps are routine. */
_printf_(6, 7)
static void record(Enforcer *e, const ProvTransition *t, const char *step, Outcome o, int level, const char *fmt, ...) {
        char detail[256];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);

        r = prov_store_audit_add(e->store, t->event, t->name, t->scim_id, t->uid, step, outcome_to_string(o), detail);
        if (r < 0) {
                log_error_errno(r, "Failed to record audit event %s/%s for %s: %m (%s)", t->event, step,
                                SAFE(t->name), prov_store_errmsg(e->store));
                enforcer_error(e, r);
        }
        log_user(level, t->name, t->uid, t->event, "%s %s: %s %s (%s)", t->event, SAFE(t->name), step,
                 outcome_to_string(o), detail);
        report_step(e, t, step, o);
        /* What is to be retried: the steps that end sessions and processes. */
        if (t->scim_id && (streq(step, "logind") || streq(step, "kill"))) {
                r = prov_store_pending_record(e->store, t->scim_id, step, t->uid, t->event, o == OUTCOME_FAILED);
                if (r < 0) {
                        log_error_errno(r, "Failed to record the %s step of %s for a retry: %m (%s)", step,
                                        SAFE(t->name), prov_store_errmsg(e->store));
                        enforcer_error(e, r);
                }
        }
}

static bool transition_is_leaver(const ProvTransition *t) {
        /* A joiner created in a refused state never had a session; a rename or mover of an
         * account that stays refused was enforced when it became refused. */
        return prov_state_is_refused(t->new_state) && t->old_state != _PROV_STATE_INVALID &&
               t->old_state != t->new_state;
}

static bool uid_may_be_enforced(const ProvConfig *config, uint32_t uid) {
        return uid != 0 && uid >= config->uid_min && uid != (uint32_t) -1;
}

/* ---- 1. logind ---- */

static bool bus_error_is_absent(int r, const sd_bus_error *error) {
        /* No bus socket, or nobody owns org.freedesktop.login1: a host without logind. */
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return true;
        if (sd_bus_error_is_set(error))
                return false;
        return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTCONN || r == -ECONNRESET || r == -EHOSTDOWN ||
               r == -ENXIO;
}

/* How many sessions logind has for uid (ListSessions), or -1 when it does not say. */
static int count_sessions(sd_bus *bus, uint32_t uid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *user, *seat, *path;
        uint32_t u;
        int r, n = 0;

        r = sd_bus_call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1",
                               "org.freedesktop.login1.Manager", "ListSessions", &error, &reply, NULL);
        if (r < 0)
                return -1;
        r = sd_bus_message_enter_container(reply, 'a', "(susso)");
        if (r < 0)
                return -1;
        while ((r = sd_bus_message_read(reply, "(susso)", &id, &u, &user, &seat, &path)) > 0)
                n += u == uid;
        return r < 0 ? -1 : n;
}

static void step_logind(Enforcer *e, const ProvTransition *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ProvEnforced *rep = report_of(e, t);
        int r, sessions;

        if (!e->config->terminate_sessions) {
                record(e, t, "logind", OUTCOME_SKIPPED, LOG_DEBUG, "terminate_sessions is off");
                return;
        }
        if (!e->bus && e->bus_error == 0) {
                r = sd_bus_open_system(&e->bus);
                if (r < 0)
                        e->bus_error = r;
                else
                        (void) sd_bus_set_method_call_timeout(e->bus, LOGIND_TIMEOUT_USEC);
        }
        if (!e->bus) {
                record(e, t, "logind", OUTCOME_SKIPPED, LOG_NOTICE, "no system bus: %s", strerror(-e->bus_error));
                return;
        }

        /* Only to say how many: TerminateUser ends them all whatever this counts. */
        sessions = count_sessions(e->bus, t->uid);
        r = sd_bus_call_method(e->bus, "org.freedesktop.login1", "/org/freedesktop/login1",
                               "org.freedesktop.login1.Manager", "TerminateUser", &error, NULL, "u", t->uid);
        if (r >= 0 && rep)
                rep->sessions = sessions > 0 ? (unsigned) sessions : 0;
        if (r >= 0 && sessions >= 0)
                record(e, t, "logind", OUTCOME_OK, LOG_INFO, "%d sessions of uid %" PRIu32 " terminated", sessions,
                       t->uid);
        else if (r >= 0)
                record(e, t, "logind", OUTCOME_OK, LOG_INFO, "sessions of uid %" PRIu32 " terminated", t->uid);
        else if (sd_bus_error_has_name(&error, "org.freedesktop.login1.NoSuchUser"))
                record(e, t, "logind", OUTCOME_SKIPPED, LOG_INFO, "no sessions");
        else if (bus_error_is_absent(r, &error))
                record(e, t, "logind", OUTCOME_SKIPPED, LOG_NOTICE, "logind not running: %s",
                       error.name ?: strerror(-r));
        else
                record(e, t, "logind", OUTCOME_FAILED, LOG_WARNING, "TerminateUser: %s: %.120s",
                       error.name ?: "error", error.message ?: strerror(-r));
}

/* ---- 2. kill ---- */

typedef struct PidSet {
        int fds[KILL_BATCH_MAX];
        pid_t pids[KILL_BATCH_MAX];
        size_t n;
} PidSet;

static void pid_set_clear(PidSet *s) {
        for (size_t i = 0; i < s->n; i++)
                if (s->fds[i] >= 0)
                        close(s->fds[i]);
        s->n = 0;
}

/* Reads /proc/PID/status and tells whether any of its four uids is uid, and whether it is a
 * zombie (which only its parent can make go away: nothing to kill). 1 = match, 0 = no match or
 * gone, -errno for anything else. */
static int proc_status_matches(pid_t pid, uid_t uid, bool *ret_zombie) {
        char path[64], buf[PROC_STATUS_MAX];
        unsigned long ids[4];
        const char *p;
        ssize_t k;
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? 0 : negative_errno();
        k = read(fd, buf, sizeof(buf) - 1);
        if (k < 0)
                return errno == ESRCH ? 0 : negative_errno();
        buf[k] = '\0';

        p = strstr(buf, "\nState:");
        if (p) {
                p += strlen("\nState:");
                p += strspn(p, " \t");
        }
        *ret_zombie = p && (*p == 'Z' || *p == 'X');
        p = strstr(buf, "\nUid:");
        if (!p)
                return -EBADMSG;
        p += 5;
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                char *end;

                errno = 0;
                ids[i] = strtoul(p, &end, 10);
                if (errno != 0 || end == p)
                        return -EBADMSG;
                p = end;
        }
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                if (ids[i] == (unsigned long) uid)
                        return 1;
        return 0;
}

/* Collects pidfds of the live processes that run as uid. The pidfd is opened first and the
 * process checked afterwards: if the pidfd still reaches a live process after /proc said it
 * runs as uid, that was this process and not a later one that reused the PID. */
static int collect_processes(uid_t uid, PidSet *set) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        pid_t self = getpid();

        d = opendir("/proc");
        if (!d)
                return negative_errno();
        while ((de = readdir(d)) && set->n < KILL_BATCH_MAX) {
                bool zombie = false;
                char *end;
                long pid;
                int fd, r;

                errno = 0;
                pid = strtol(de->d_name, &end, 10);
                if (errno != 0 || *end != '\0' || end == de->d_name || pid <= 1 || pid > INT32_MAX || pid == self)
                        continue;
                fd = pidfd_open((pid_t) pid, 0);
                if (fd < 0) {
                        if (errno == ESRCH)
                                continue;
                        if (errno == EMFILE || errno == ENFILE)
                                break; /* handle what we have; the next round gets the rest */
                        return negative_errno();
                }
                r = proc_status_matches((pid_t) pid, uid, &zombie);
                if (r <= 0 || zombie || pidfd_send_signal(fd, 0, NULL, 0) < 0) {
                        close(fd);
                        if (r < 0 && r != -EBADMSG)
                                return r;
                        continue;
                }
                set->fds[set->n] = fd;
                set->pids[set->n] = (pid_t) pid;
                set->n++;
        }
        return 0;
}

/* Waits until every process of the set has exited or the deadline passes; returns how many are
 * still running. A pidfd polls readable when its process has exited. */
static size_t wait_exited(PidSet *set, uint64_t deadline) {
        struct pollfd pfd[KILL_BATCH_MAX];
        size_t running;

        for (;;) {
                int k;

                running = 0;
                for (size_t i = 0; i < set->n; i++)
                        if (set->fds[i] >= 0)
                                pfd[running++] = (struct pollfd) { .fd = set->fds[i], .events = POLLIN };
                if (running == 0)
                        return 0;
                k = poll(pfd, running, prov_msec_left(deadline));
                if (k < 0 && errno != EINTR)
                        return running;
                if (k == 0 && prov_msec_left(deadline) == 0)
                        return running;
                for (size_t j = 0; j < running; j++) {
                        if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        for (size_t i = 0; i < set->n; i++)
                                if (set->fds[i] == pfd[j].fd) {
                                        close(set->fds[i]);
                                        set->fds[i] = -1;
                                }
                }
        }
}

static size_t signal_all(PidSet *set, int sig) {
        size_t sent = 0;

        for (size_t i = 0; i < set->n; i++) {
                if (set->fds[i] < 0)
                        continue;
                if (pidfd_send_signal(set->fds[i], sig, NULL, 0) >= 0)
                        sent++;
        }
        return sent;
}

static void step_kill(Enforcer *e, const ProvTransition *t) {
        _cleanup_free_ PidSet *set = NULL;
        size_t terminated = 0, killed = 0, left;
        int r;

        if (!e->config->kill_processes) {
                record(e, t, "kill", OUTCOME_SKIPPED, LOG_DEBUG, "kill_processes is off");
                return;
        }
        set = calloc(1, sizeof(PidSet));
        if (!set) {
                enforcer_error(e, -ENOMEM);
                record(e, t, "kill", OUTCOME_FAILED, LOG_WARNING, "out of memory");
                return;
        }

        r = collect_processes(t->uid, set);
        if (r < 0)
                goto fail;
        if (set->n == 0) {
                record(e, t, "kill", OUTCOME_OK, LOG_INFO, "no processes");
                return;
        }
        terminated = signal_all(set, SIGTERM);
        left = wait_exited(set, prov_now_monotonic_msec() + (uint64_t) e->config->kill_grace_sec * 1000ULL);
        if (left > 0) {
                killed += signal_all(set, SIGKILL);
                (void) wait_exited(set, prov_now_monotonic_msec() + KILL_CONFIRM_MSEC);
        }
        pid_set_clear(set);

        /* Whatever forked during the grace period, or was past the batch limit. */
        for (unsigned round = 0; round < KILL_ROUNDS; round++) {
                r = collect_processes(t->uid, set);
                if (r < 0)
                        goto fail;
                if (set->n == 0)
                        break;
                killed += signal_all(set, SIGKILL);
                (void) wait_exited(set, prov_now_monotonic_msec() + KILL_CONFIRM_MSEC);
                pid_set_clear(set);
        }

        r = collect_processes(t->uid, set);
        if (r < 0)
                goto fail;
        if (set->n > 0) {
                record(e, t, "kill", OUTCOME_FAILED, LOG_WARNING, "%zu processes survive (first pid %d)", set->n,
                       (int) set->pids[0]);
                pid_set_clear(set);
                return;
        }
        record(e, t, "kill", OUTCOME_OK, LOG_INFO, "%zu sent SIGTERM, %zu sent SIGKILL", terminated, killed);
        if (report_of(e, t))
                report_of(e, t)->processes = (unsigned) (terminated + killed > UINT_MAX ? UINT_MAX : terminated + killed);
        return;
fail:
        pid_set_clear(set);
        enforcer_error(e, r);
        record(e, t, "kill", OUTCOME_FAILED, LOG_WARNING, "scanning /proc: %s", strerror(-r));
}

/* ---- 3. nscd ---- */

static bool nscd_running(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (stat(PROV_NSCD_SOCKET, &st) < 0 || !S_ISSOCK(st.st_mode))
                return false;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        strncpy(sa.sun_path, PROV_NSCD_SOCKET, sizeof(sa.sun_path) - 1);
        return connect(fd, (struct sockaddr *) &sa, sizeof(sa)) >= 0;
}

/* Returns the outcome and writes a reason into detail. */
static Outcome nscd_invalidate(char *detail, size_t size) {
        static const char *const binaries[] = { "/usr/sbin/nscd", "/sbin/nscd" };
        static const char *const tables[] = { "passwd", "group" };
        char *const envp[] = { NULL };
        const char *nscd = NULL;

        if (!nscd_running()) {
                snprintf(detail, size, "nscd not running");
                return OUTCOME_SKIPPED;
        }
        for (size_t i = 0; i < ELEMENTSOF(binaries) && !nscd; i++)
                if (access(binaries[i], X_OK) >= 0)
                        nscd = binaries[i];
        if (!nscd) {
                snprintf(detail, size, "nscd socket present but no nscd binary");
                return OUTCOME_FAILED;
        }
        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                char *const argv[] = { (char *) "nscd", (char *) "-i", (char *) tables[i], NULL };
                char how[64];
                int status = 0, r;

                r = prov_child_run(nscd, argv, envp, NSCD_TIMEOUT_SEC, NULL, &status);
                if (r < 0) {
                        snprintf(detail, size, "nscd -i %s: %s", tables[i], r == -ETIME ? "timed out" : strerror(-r));
                        return OUTCOME_FAILED;
                }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        prov_child_describe_status(status, how, sizeof(how));
                        snprintf(detail, size, "nscd -i %s: %s", tables[i], how);
                        return OUTCOME_FAILED;
                }
        }
        snprintf(detail, size, "passwd and group caches invalidated");
        return OUTCOME_OK;
}

/* ---- 4. hooks ---- */

typedef struct HookList {
        char *names[HOOKS_MAX];
        size_t n;
        /* Set when the directory itself is refused: every transition gets an audit row. */
        char refused[160];
        /* Entries that look like hooks but are refused, with why, for the audit log. */
        char *bad_names[HOOKS_MAX];
        char *bad_reasons[HOOKS_MAX];
        size_t n_bad;
        bool truncated;
} HookList;

static void hook_list_done(HookList *h) {
        for (size_t i = 0; i < h->n; i++)
                free(h->names[i]);
        for (size_t i = 0; i < h->n_bad; i++) {
                free(h->bad_names[i]);
                free(h->bad_reasons[i]);
        }
        *h = (HookList) {};
}

static bool owner_ok(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

/* run-parts' rule for names: no dot files, editor backups or package manager leftovers like
 * "x.dpkg-old~", and nothing that needs quoting in a log line. */
static bool hook_name_ok(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > HOOK_NAME_MAX || name[0] == '.')
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int hook_add_bad(HookList *h, const char *name, const char *reason) {
        if (h->n_bad >= HOOKS_MAX)
                return 0;
        h->bad_names[h->n_bad] = strdup(name);
        h->bad_reasons[h->n_bad] = strdup(reason);
        if (!h->bad_names[h->n_bad] || !h->bad_reasons[h->n_bad]) {
                free(h->bad_names[h->n_bad]);
                free(h->bad_reasons[h->n_bad]);
                return -ENOMEM;
        }
        h->n_bad++;
        return 0;
}

/* Lists the hooks of dir once per enforcement run. The directory must be owned by root (or by
 * us, for tests as non-root) and writable by nobody else, and so must every hook; a hook that is
 * not executable is ignored without a word (a README), anything else refused is reported. */
static int hooks_load(const char *dir, HookList *h) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_close_ int dfd = -1;
        struct dirent *de;
        struct stat st;
        int r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                snprintf(h->refused, sizeof(h->refused), "hooks_dir %.100s: %s", dir, strerror(errno));
                return 0;
        }
        if (fstat(dfd, &st) < 0)
                return negative_errno();
        if (!owner_ok(st.st_uid)) {
                snprintf(h->refused, sizeof(h->refused), "hooks_dir %.100s is owned by uid %u", dir,
                         (unsigned) st.st_uid);
                return 0;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                snprintf(h->refused, sizeof(h->refused), "hooks_dir %.100s is group or world writable (%04o)", dir,
                         (unsigned) (st.st_mode & 07777));
                return 0;
        }

        d = fdopendir(dfd);
        if (!d)
                return negative_errno();
        dfd = -1; /* owned by d now; dirfd(d) below */
        while ((de = readdir(d))) {
                if (!hook_name_ok(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        continue;
                if (!S_ISREG(st.st_mode))
                        r = hook_add_bad(h, de->d_name, "not a regular file");
                else if (!(st.st_mode & 0111))
                        continue;
                else if (!owner_ok(st.st_uid))
                        r = hook_add_bad(h, de->d_name, "not owned by root");
                else if (st.st_mode & (S_IWGRP | S_IWOTH))
                        r = hook_add_bad(h, de->d_name, "group or world writable");
                else if (h->n >= HOOKS_MAX) {
                        h->truncated = true;
                        continue;
                } else {
                        h->names[h->n] = strdup(de->d_name);
                        r = h->names[h->n] ? 0 : -ENOMEM;
                        if (r >= 0)
                                h->n++;
                }
                if (r < 0)
                        return r;
        }
        qsort(h->names, h->n, sizeof(char *), cmp_str);
        return 0;
}

static void run_hook(Enforcer *e, const ProvTransition *t, const char *dir, const char *hook) {
        char step[8 + HOOK_NAME_MAX], path[PATH_MAX], uid[16];
        char env_event[64], env_user[300], env_uid[32], env_old[48], env_new[48], how[64];
        char label[8 + HOOK_NAME_MAX];
        ProvChildLog sink = { .user = t->name, .uid = t->uid, .event = t->event, .label = label };
        int status = 0, r;

        snprintf(step, sizeof(step), "hook:%s", hook);
        snprintf(label, sizeof(label), "hook %s", hook);
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, hook) >= sizeof(path)) {
                record(e, t, step, OUTCOME_FAILED, LOG_WARNING, "path too long");
                return;
        }
        snprintf(uid, sizeof(uid), "%" PRIu32, t->uid);
        snprintf(env_event, sizeof(env_event), "PROVISION_EVENT=%s", t->event);
        snprintf(env_user, sizeof(env_user), "PROVISION_USER=%s", t->name);
        snprintf(env_uid, sizeof(env_uid), "PROVISION_UID=%s", uid);
        snprintf(env_old, sizeof(env_old), "PROVISION_OLD_STATE=%s", prov_state_to_string(t->old_state) ?: "none");
        snprintf(env_new, sizeof(env_new), "PROVISION_NEW_STATE=%s", prov_state_to_string(t->new_state) ?: "none");

        char *const argv[] = { path, NULL };
        char *const envp[] = { env_event, env_user, env_uid, env_old, env_new, (char *) hook_path_env, NULL };

        r = prov_child_run(path, argv, envp, e->config->hook_timeout_sec, &sink, &status);
        if (r == -ETIME)
                record(e, t, step, OUTCOME_FAILED, LOG_WARNING, "killed after the timeout of %us",
                       e->config->hook_timeout_sec);
        else if (r < 0)
                record(e, t, step, OUTCOME_FAILED, LOG_WARNING, "could not run: %s", strerror(-r));
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                record(e, t, step, OUTCOME_OK, LOG_INFO, "exit status 0");
        else {
                prov_child_describe_status(status, how, sizeof(how));
                record(e, t, step, OUTCOME_FAILED, LOG_WARNING, "%s", how);
        }
}

static void step_hooks(Enforcer *e, const ProvTransition *t, const HookList *h) {
        const char *dir = e->config->hooks_dir;

        if (h->refused[0]) {
                record(e, t, "hooks", OUTCOME_SKIPPED, LOG_ERR, "%s", h->refused);
                return;
        }
        for (size_t i = 0; i < h->n_bad; i++) {
                char step[8 + HOOK_NAME_MAX];

                snprintf(step, sizeof(step), "hook:%s", h->bad_names[i]);
                record(e, t, step, OUTCOME_SKIPPED, LOG_ERR, "refused: %s", h->bad_reasons[i]);
        }
        for (size_t i = 0; i < h->n; i++)
                run_hook(e, t, dir, h->names[i]);
}

/* ---- the whole run ---- */

static void enforce_leaver(Enforcer *e, const ProvTransition *t) {
        if (!uid_may_be_enforced(e->config, t->uid)) {
                /* The sync engine never maps such a uid; this is a last line of defence. */
                record(e, t, "logind", OUTCOME_SKIPPED, LOG_ERR, "uid %" PRIu32 " is below uid_min", t->uid);
                record(e, t, "kill", OUTCOME_SKIPPED, LOG_ERR, "uid %" PRIu32 " is below uid_min", t->uid);
                return;
        }
        step_logind(e, t);
        step_kill(e, t);
}

static void enforcer_done(Enforcer *e) {
        e->bus = sd_bus_flush_close_unref(e->bus);
}

int prov_enforce_transitions(const ProvConfig *config, ProvStore *store, const ProvTransition *t, size_t n) {
        return prov_enforce_transitions_report(config, store, t, n, NULL);
}

int prov_enforce_transitions_report(const ProvConfig *config, ProvStore *store, const ProvTransition *t, size_t n,
                                    ProvEnforced *ret) {
        Enforcer e = { .config = config, .store = store, .t = t, .report = ret, .n = n };
        HookList hooks = {};
        bool any_leaver = false;
        int r;

        if (!config || !store || (!t && n > 0))
                return -EINVAL;
        if (n == 0)
                return 0;

        if (ret)
                memset(ret, 0, n * sizeof(*ret));
        for (size_t i = 0; i < n; i++)
                if (transition_is_leaver(&t[i])) {
                        any_leaver = true;
                        if (ret)
                                ret[i].leaver = true;
                        enforce_leaver(&e, &t[i]);
                }
        enforcer_done(&e);

        /* Joiners and movers change what nscd would answer as much as leavers do, so the caches
         * go whenever anything changed; the audit log records it with the leavers. */
        {
                char detail[200];
                Outcome o = nscd_invalidate(detail, sizeof(detail));

                if (any_leaver)
                        for (size_t i = 0; i < n; i++)
                                if (transition_is_leaver(&t[i]))
                                        record(&e, &t[i], "nscd", o, o == OUTCOME_FAILED ? LOG_WARNING : LOG_DEBUG,
                                               "%s", detail);
                if (o == OUTCOME_FAILED && !any_leaver)
                        log_warning("Failed to invalidate the nscd caches: %s", detail);
        }

        if (config->hooks_dir) {
                r = hooks_load(config->hooks_dir, &hooks);
                if (r < 0) {
                        enforcer_error(&e, r);
                        snprintf(hooks.refused, sizeof(hooks.refused), "listing hooks_dir: %s", strerror(-r));
                }
                if (hooks.truncated)
                        log_warning("More than %d hooks in %s, running the first ones only.", HOOKS_MAX,
                                    config->hooks_dir);
                for (size_t i = 0; i < n; i++)
                        step_hooks(&e, &t[i], &hooks);
                hook_list_done(&hooks);
        }
        return e.first_error;
}

/* ---- retries ---- */

int prov_enforce_retry_pending(const ProvConfig *config, ProvStore *store) {
        Enforcer e = { .config = config, .store = store };
        ProvPendingStep *p = NULL;
        const char *last = NULL;
        size_t n = 0;
        int r, retried = 0;

        if (!config || !store)
                return -EINVAL;
        r = prov_store_pending_load(store, &p, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(prov_user_record_done) ProvUserRecord u = {};
                bool logind = streq(p[i].step, "logind");

                r = prov_store_user_get(store, p[i].scim_id, &u);
                if (r < 0 && r != -ENOENT)
                        break;
                if (r == -ENOENT || !prov_state_is_refused(u.state) || u.uid != p[i].uid ||
                    !uid_may_be_enforced(config, u.uid) || (!logind && !streq(p[i].step, "kill"))) {
                        /* Gone, reactivated, renumbered or never ours: nothing to end any more. */
                        r = prov_store_pending_record(store, p[i].scim_id, p[i].step, p[i].uid, p[i].event, false);
                        if (r < 0)
                                break;
                        continue;
                }
                /* Checked after the above, so that a step given up on also leaves the queue once
                 * its account is gone or active again: a later departure starts counting anew. */
                if (p[i].failures >= PROV_ENFORCE_MAX_RETRIES) {
                        r = 0;
                        continue; /* left to the admin: the audit log says so */
                }
                ProvTransition t = {
                        .scim_id = u.scim_id,
                        .name = u.name,
                        .uid = u.uid,
                        .old_state = u.state,
                        .new_state = u.state,
                        .event = p[i].event,
                };
                log_user(LOG_INFO, u.name, u.uid, t.event, "Retrying the %s step for %s", p[i].step, SAFE(u.name));
                if (logind)
                        step_logind(&e, &t);
                else
                        step_kill(&e, &t);
                /* Rows come by account: count each account once. */
                retried += !last || !streq(last, p[i].scim_id);
                last = p[i].scim_id;
                r = 0;
        }
        enforcer_done(&e);
        prov_pending_steps_free(p, n);
        if (r < 0)
                return r;
        if (e.first_error < 0)
                return e.first_error;
        return retried;
}
