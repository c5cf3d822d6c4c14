/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kill_processes for real: processes running as a leaver's uid are terminated (SIGTERM, then
 * SIGKILL after the grace period for one that ignores SIGTERM), a process of another uid and
 * one of a uid below uid_min survive. Needs root to run processes as other uids: exits 77
 * otherwise. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "enforce.h"

#define U_LEAVER 200777
#define U_OTHER 200778
#define U_LOW 1777

extern char **environ;

static int failures;
#define check(expr)                                                             \
        do {                                                                    \
                if (!(expr)) {                                                  \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        failures++;                                             \
                }                                                               \
        } while (0)

/* Starts "setpriv --reuid=uid --regid=uid --clear-groups CMD..." and waits until the process
 * runs CMD as uid, so that enforcement cannot see it half-way. */
static pid_t start_as(uid_t uid, const char *shell_cmd) {
        char reuid[32], regid[32], path[64];
        char *argv[] = { (char *) "setpriv", reuid, regid, (char *) "--clear-groups", (char *) "/bin/sh", (char *) "-c",
                         (char *) shell_cmd, NULL };
        pid_t pid;

        snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned) uid);
        snprintf(regid, sizeof(regid), "--regid=%u", (unsigned) uid);
        if (posix_spawnp(&pid, "setpriv", NULL, NULL, argv, environ) != 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        for (int i = 0; i < 1000; i++) {
                char *s = NULL, want[64];
                size_t n = 0;
                bool ready;

                if (prov_read_file_bounded(path, 1 << 16, &s, &n) < 0)
                        break;
                snprintf(want, sizeof(want), "\nUid:\t%u\t", (unsigned) uid);
                ready = strstr(s, want) && strstr(s, "Name:\tsleep");
                free(s);
                if (ready)
                        return pid;
                usleep(10 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

static const ProvAuditEvent *find_audit(ProvAuditEvent *ev, size_t n, const char *step) {
        for (size_t i = n; i > 0; i--)
                if (streq_ptr(ev[i - 1].step, step))
                        return &ev[i - 1];
        return NULL;
}

int main(void) {
        char dir[] = "/tmp/test-enforce-kill-XXXXXX", path[128], cmd[128];
        ProvConfig *config = NULL;
        ProvStore *store = NULL;
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;
        pid_t term, stubborn, other, low;
        int status;

        if (geteuid() != 0) {
                printf("test-enforce-kill: SKIP: needs root to run processes as other uids\n");
                return 77;
        }
        if (access("/usr/bin/setpriv", X_OK) < 0) {
                printf("test-enforce-kill: SKIP: no /usr/bin/setpriv\n");
                return 77;
        }
        if (!mkdtemp(dir) || prov_config_new(&config) < 0)
                return 99;
        snprintf(path, sizeof(path), "%s/store.db", dir);
        if (prov_store_open(path, &store) < 0)
                return 99;
        config->terminate_sessions = false;
        config->kill_processes = true;
        config->kill_grace_sec = 1;

        term = start_as(U_LEAVER, "exec sleep 600");
        stubborn = start_as(U_LEAVER, "trap '' TERM; exec sleep 600");
        other = start_as(U_OTHER, "exec sleep 600");
        low = start_as(U_LOW, "exec sleep 600");
        if (term < 0 || stubborn < 0 || other < 0 || low < 0) {
                printf("test-enforce-kill: could not start the test processes\n");
                return 99;
        }

        ProvTransition t[] = {
                { .scim_id = (char *) "leaver", .name = (char *) "leaver", .uid = U_LEAVER,
                  .old_state = PROV_STATE_ACTIVE, .new_state = PROV_STATE_DEPROVISIONED, .event = "deprovision" },
                { .scim_id = (char *) "low", .name = (char *) "low", .uid = U_LOW,
                  .old_state = PROV_STATE_ACTIVE, .new_state = PROV_STATE_SUSPENDED, .event = "suspend" },
        };
        check(prov_enforce_transitions(config, store, t, ELEMENTSOF(t)) == 0);

        check(waitpid(term, &status, 0) == term);
        check(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        check(waitpid(stubborn, &status, 0) == stubborn);
        check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* Still running: another uid, and a uid below uid_min. */
        check(waitpid(other, &status, WNOHANG) == 0);
        check(waitpid(low, &status, WNOHANG) == 0);

        check(prov_store_audit_load(store, "leaver", 0, 0, &ev, &n) == 0);
        a = find_audit(ev, n, "kill");
        check(a && streq(a->outcome, "ok"));
        check(a && a->detail && streq(a->detail, "2 sent SIGTERM, 1 sent SIGKILL"));
        if (a)
                printf("# kill audit: %s %s\n", a->outcome, a->detail);
        prov_audit_events_free(ev, n);
        check(prov_store_audit_load(store, "low", 0, 0, &ev, &n) == 0);
        a = find_audit(ev, n, "kill");
        check(a && streq(a->outcome, "skipped"));
        prov_audit_events_free(ev, n);

        kill(other, SIGKILL);
        kill(low, SIGKILL);
        waitpid(other, NULL, 0);
        waitpid(low, NULL, 0);
        prov_store_close(store);
        prov_config_free(config);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                failures++;
        printf("test-enforce-kill: %s\n", failures ? "FAIL" : "PASS");
        return failures ? 1 : 0;
}
