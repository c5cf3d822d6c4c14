/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enforcement of leavers against a python-dbusmock logind on a private system bus (started by
 * test-enforce.sh, which exports DBUS_SYSTEM_BUS_ADDRESS and LOGIND_MOCK_CALLS), with hooks in a
 * temporary directory and the real store. Cases that need the mock skip without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "enforce.h"

#define U_LEAVER 200100

typedef struct Fixture {
        char dir[64];
        char hooks[128];
        ProvConfig *config;
        ProvStore *store;
} Fixture;

static const char *mock_calls(void) {
        const char *p = getenv("LOGIND_MOCK_CALLS");
        return p && *p ? p : NULL;
}

static void write_file(const char *path, const char *content, mode_t mode) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(content, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static char *read_all(const char *path) {
        char *s = NULL;
        size_t n = 0;

        if (prov_read_file_bounded(path, 1 << 20, &s, &n) < 0)
                return NULL;
        return s;
}

static void set_str(char **field, const char *value) {
        free(*field);
        *field = value ? strdup(value) : NULL;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        char path[160];

        strcpy(f->dir, "/tmp/test-enforce-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(chmod(f->dir, 0755), 0);
        snprintf(f->hooks, sizeof(f->hooks), "%s/hooks.d", f->dir);
        assert_int_equal(mkdir(f->hooks, 0755), 0);
        assert_int_equal(chmod(f->hooks, 0755), 0);

        assert_int_equal(prov_config_new(&f->config), 0);
        set_str(&f->config->state_dir, f->dir);
        f->config->terminate_sessions = true;
        f->config->kill_processes = false;
        f->config->hook_timeout_sec = 30;
        snprintf(path, sizeof(path), "%s/store.db", f->dir);
        assert_int_equal(prov_store_open(path, &f->store), 0);
        if (mock_calls())
                write_file(mock_calls(), "", 0644);
        if (getenv("LOGIND_MOCK_FAIL"))
                (void) unlink(getenv("LOGIND_MOCK_FAIL"));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[256];

        prov_store_close(f->store);
        prov_config_free(f->config);
        snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", f->dir, f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static ProvTransition transition(const char *name, uint32_t uid, ProvState old, ProvState new, const char *event) {
        return (ProvTransition) {
                .scim_id = (char *) name, /* scim id = name, good enough here */
                .name = (char *) name,
                .uid = uid,
                .old_state = old,
                .new_state = new,
                .event = event,
        };
}

/* The newest audit row of user with this step, or NULL. */
static const ProvAuditEvent *find_audit(ProvAuditEvent *ev, size_t n, const char *step) {
        for (size_t i = n; i > 0; i--)
                if (streq_ptr(ev[i - 1].step, step))
                        return &ev[i - 1];
        return NULL;
}

static size_t count_audit(ProvAuditEvent *ev, size_t n, const char *step) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(ev[i].step, step))
                        c++;
        return c;
}

static size_t count_lines(const char *s, const char *line) {
        size_t c = 0, k = strlen(line);

        for (const char *p = s; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                if (len == k && strncmp(p, line, k) == 0)
                        c++;
                p = nl ? nl + 1 : p + len;
        }
        return c;
}

static void test_deprovision_terminates_once(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("alice", U_LEAVER, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision");
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        _cleanup_free_ char *calls = NULL;
        size_t n = 0;

        if (!mock_calls())
                skip();
        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        calls = read_all(mock_calls());
        assert_non_null(calls);
        assert_string_equal(calls, "TerminateUser 200100\n");

        assert_int_equal(prov_store_audit_load(f->store, "alice", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "logind");
        assert_non_null(a);
        assert_string_equal(a->event, "deprovision");
        assert_string_equal(a->outcome, "ok");
        assert_int_equal(a->uid, U_LEAVER);
        assert_int_equal(count_audit(ev, n, "logind"), 1);
        /* kill_processes is off: recorded as skipped; nscd does not run here. */
        assert_string_equal(find_audit(ev, n, "kill")->outcome, "skipped");
        assert_non_null(find_audit(ev, n, "nscd"));
        prov_audit_events_free(ev, n);
}

static void test_suspend_and_block_terminate(void **state) {
        Fixture *f = *state;
        ProvTransition t[] = {
                transition("bob", 200101, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend"),
                transition("carol", 200102, PROV_STATE_ACTIVE, PROV_STATE_BLOCKED, "block"),
                /* A rename of an account that stays suspended was enforced before. */
                transition("dave", 200103, PROV_STATE_SUSPENDED, PROV_STATE_SUSPENDED, "rename"),
        };
        _cleanup_free_ char *calls = NULL;

        if (!mock_calls())
                skip();
        assert_int_equal(prov_enforce_transitions(f->config, f->store, t, ELEMENTSOF(t)), 0);
        calls = read_all(mock_calls());
        assert_string_equal(calls, "TerminateUser 200101\nTerminateUser 200102\n");
}

static void test_joiner_mover_no_terminate(void **state) {
        Fixture *f = *state;
        ProvTransition t[] = {
                transition("erin", 200104, _PROV_STATE_INVALID, PROV_STATE_ACTIVE, "joiner"),
                transition("frank", 200105, PROV_STATE_ACTIVE, PROV_STATE_ACTIVE, "mover"),
                transition("gina", 200106, _PROV_STATE_INVALID, PROV_STATE_SUSPENDED, "joiner"),
                transition("hank", 200107, PROV_STATE_SUSPENDED, PROV_STATE_ACTIVE, "reactivate"),
        };
        ProvAuditEvent *ev = NULL;
        _cleanup_free_ char *calls = NULL;
        size_t n = 0;

        if (!mock_calls())
                skip();
        assert_int_equal(prov_enforce_transitions(f->config, f->store, t, ELEMENTSOF(t)), 0);
        calls = read_all(mock_calls());
        assert_string_equal(calls, "");
        assert_int_equal(prov_store_audit_load(f->store, NULL, 0, 0, &ev, &n), 0);
        assert_int_equal(count_audit(ev, n, "logind"), 0);
        assert_int_equal(count_audit(ev, n, "kill"), 0);
        prov_audit_events_free(ev, n);
}

static void test_no_such_user_is_skipped(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("ivan", 200999, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;

        if (!mock_calls())
                skip();
        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        assert_int_equal(prov_store_audit_load(f->store, "ivan", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "logind");
        assert_non_null(a);
        assert_string_equal(a->outcome, "skipped");
        assert_string_equal(a->detail, "no sessions");
        prov_audit_events_free(ev, n);
}

/* Without any system bus the logind step is skipped, and the hooks still run. */
static void test_no_bus_hooks_still_run(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("judy", 200108, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision");
        _cleanup_free_ char *saved = getenv("DBUS_SYSTEM_BUS_ADDRESS") ? strdup(getenv("DBUS_SYSTEM_BUS_ADDRESS")) : NULL;
        char hook[256], script[512], marker[160], bus[200];
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;
        struct stat st;

        snprintf(bus, sizeof(bus), "unix:path=%s/no-such-bus-socket", f->dir);
        assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", bus, 1), 0);
        snprintf(marker, sizeof(marker), "%s/hook-ran", f->dir);
        snprintf(hook, sizeof(hook), "%s/10-mark", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\necho \"$PROVISION_USER\" > %s\n", marker);
        write_file(hook, script, 0755);
        set_str(&f->config->hooks_dir, f->hooks);

        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        if (saved)
                setenv("DBUS_SYSTEM_BUS_ADDRESS", saved, 1);
        else
                unsetenv("DBUS_SYSTEM_BUS_ADDRESS");

        assert_int_equal(prov_store_audit_load(f->store, "judy", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "logind");
        assert_non_null(a);
        assert_true(streq(a->outcome, "skipped") || streq(a->outcome, "failed"));
        a = find_audit(ev, n, "hook:10-mark");
        assert_non_null(a);
        assert_string_equal(a->outcome, "ok");
        assert_int_equal(stat(marker, &st), 0);
        prov_audit_events_free(ev, n);
        if (mock_calls()) {
                _cleanup_free_ char *calls = read_all(mock_calls());
                assert_string_equal(calls, "");
        }
}

/* Issue 20.6: a hook inherits no fd of ours beyond 0-2, although the daemon holds fds without
 * close-on-exec at the time (here a file and a connected socket, as a leaked or inherited fd
 * would be; the store is open too). The hook lists /proc/self/fd: "N -> target" per fd, and
 * "N gone" for the one its own listing used, closed by the time it reads the links. */
static void test_hook_inherits_no_fds(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("mona", 200111, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        char hook[256], script[1024], out[160];
        _cleanup_free_ char *list = NULL;
        int file_fd, sv[2], gone = 0;
        const char *p;

        file_fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, on purpose */
        assert_true(file_fd >= 3);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(dup2(sv[0], 77), 77); /* and one far above the others */
        f->config->terminate_sessions = false;
        snprintf(out, sizeof(out), "%s/fds.out", f->dir);
        snprintf(hook, sizeof(hook), "%s/30-fds", f->hooks);
        snprintf(script, sizeof(script),
                 "#!/usr/bin/python3 -I\n"
                 "import os\n"
                 "with open('%s', 'w') as out:\n"
                 "    for fd in sorted(int(x) for x in os.listdir('/proc/self/fd')):\n"
                 "        try:\n"
                 "            out.write(f'{fd} -> {os.readlink(f\"/proc/self/fd/{fd}\")}\\n')\n"
                 "        except OSError:\n"
                 "            out.write(f'{fd} gone\\n')\n", out);
        write_file(hook, script, 0755);
        set_str(&f->config->hooks_dir, f->hooks);

        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        close(file_fd);
        close(sv[0]);
        close(sv[1]);
        close(77);

        list = read_all(out);
        assert_non_null(list);
        for (p = list; *p; p = strchr(p, '\n') + 1) {
                int fd = atoi(p);

                /* The output file is the hook's own; 0-2 are /dev/null and the log pipe. */
                if (fd > 2 && !strstr(p, "gone") && strncmp(strchr(p, '>') + 2, out, strlen(out)) != 0)
                        fail_msg("the hook inherited an fd:\n%s", list);
                gone += fd > 2 && strstr(p, "gone") && strstr(p, "gone") < strchr(p, '\n');
        }
        assert_true(gone <= 1);
        assert_null(strstr(list, "socket:"));
        assert_null(strstr(list, "store.db"));
}

/* The hook sees exactly the documented environment: nothing of ours leaks. */
static void test_hook_environment(void **state) {
        Fixture *f = *state;
        ProvTransition t[] = {
                transition("kate", 200109, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision"),
                transition("leo", 200110, _PROV_STATE_INVALID, PROV_STATE_ACTIVE, "joiner"),
        };
        char hook[256], script[512], out[160];
        _cleanup_free_ char *env = NULL;
        const char *expected[] = {
                "PROVISION_EVENT=deprovision", "PROVISION_USER=kate", "PROVISION_UID=200109",
                "PROVISION_OLD_STATE=active", "PROVISION_NEW_STATE=deprovisioned",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "PROVISION_EVENT=joiner", "PROVISION_USER=leo", "PROVISION_UID=200110",
                "PROVISION_OLD_STATE=none", "PROVISION_NEW_STATE=active",
        };
        size_t lines = 0;

        assert_int_equal(setenv("SCIM_BEARER_TOKEN", "secret-token", 1), 0);
        assert_int_equal(setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent", 1), 0);
        snprintf(out, sizeof(out), "%s/env.out", f->dir);
        snprintf(hook, sizeof(hook), "%s/50-env", f->hooks);
        /* /proc/$$/environ is what execve() handed over, before the shell adds anything. */
        snprintf(script, sizeof(script), "#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ >> %s\n", out);
        write_file(hook, script, 0755);
        set_str(&f->config->hooks_dir, f->hooks);

        assert_int_equal(prov_enforce_transitions(f->config, f->store, t, ELEMENTSOF(t)), 0);
        unsetenv("SCIM_BEARER_TOKEN");
        unsetenv("DBUS_SESSION_BUS_ADDRESS");

        env = read_all(out);
        assert_non_null(env);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                assert_int_not_equal(count_lines(env, expected[i]), 0);
        for (const char *p = env; *p; p++)
                if (*p == '\n')
                        lines++;
        assert_int_equal(lines, 12); /* six variables, two runs */
        assert_null(strstr(env, "DBUS"));
        assert_null(strstr(env, "TOKEN"));
        assert_null(strstr(env, "secret"));
        assert_null(strstr(env, "LOGIND_MOCK"));
}

/* Hooks run in byte order of their names; their output goes into the log, prefixed. */
static void test_hooks_order_and_output(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("mia", 200111, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        char hook[256], script[512], out[160], logpath[160];
        _cleanup_free_ char *order = NULL, *log = NULL;
        int saved_stderr, fd;

        snprintf(out, sizeof(out), "%s/order.out", f->dir);
        snprintf(hook, sizeof(hook), "%s/20-b", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\necho 20-b >> %s\necho hello from b\necho oops >&2\nexit 3\n", out);
        write_file(hook, script, 0755);
        snprintf(hook, sizeof(hook), "%s/10-a", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\necho 10-a >> %s\n", out);
        write_file(hook, script, 0755);
        snprintf(hook, sizeof(hook), "%s/README", f->hooks);
        write_file(hook, "not a hook\n", 0644);
        snprintf(hook, sizeof(hook), "%s/.hidden", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\necho hidden >> %s\n", out);
        write_file(hook, script, 0755);
        set_str(&f->config->hooks_dir, f->hooks);

        snprintf(logpath, sizeof(logpath), "%s/stderr.log", f->dir);
        fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        fflush(stderr);
        assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
        close(saved_stderr);

        order = read_all(out);
        assert_string_equal(order, "10-a\n20-b\n");
        log = read_all(logpath);
        assert_non_null(log);
        assert_non_null(strstr(log, "hook 20-b: hello from b"));
        assert_non_null(strstr(log, "hook 20-b: oops"));

        ProvAuditEvent *ev = NULL;
        size_t n = 0;
        assert_int_equal(prov_store_audit_load(f->store, "mia", 0, 0, &ev, &n), 0);
        assert_string_equal(find_audit(ev, n, "hook:10-a")->outcome, "ok");
        assert_string_equal(find_audit(ev, n, "hook:20-b")->outcome, "failed");
        assert_string_equal(find_audit(ev, n, "hook:20-b")->detail, "exit status 3");
        assert_null(find_audit(ev, n, "hook:README"));
        assert_null(find_audit(ev, n, "hook:.hidden"));
        prov_audit_events_free(ev, n);
}

static void test_world_writable_hooks_dir_refused(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("nina", 200112, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision");
        char hook[256], script[512], marker[160];
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;
        struct stat st;

        snprintf(marker, sizeof(marker), "%s/hook-ran", f->dir);
        snprintf(hook, sizeof(hook), "%s/10-mark", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\ntouch %s\n", marker);
        write_file(hook, script, 0755);
        assert_int_equal(chmod(f->hooks, 0777), 0);
        set_str(&f->config->hooks_dir, f->hooks);

        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        assert_int_equal(stat(marker, &st), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(prov_store_audit_load(f->store, "nina", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "hooks");
        assert_non_null(a);
        assert_string_equal(a->outcome, "skipped");
        assert_non_null(strstr(a->detail, "world writable"));
        assert_null(find_audit(ev, n, "hook:10-mark"));
        prov_audit_events_free(ev, n);
}

static void test_group_writable_hook_refused(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("otto", 200113, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        char hook[256], script[512], marker[160];
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;
        struct stat st;

        snprintf(marker, sizeof(marker), "%s/hook-ran", f->dir);
        snprintf(hook, sizeof(hook), "%s/10-mark", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\ntouch %s\n", marker);
        write_file(hook, script, 0775);
        set_str(&f->config->hooks_dir, f->hooks);

        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        assert_int_equal(stat(marker, &st), -1);
        assert_int_equal(prov_store_audit_load(f->store, "otto", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "hook:10-mark");
        assert_non_null(a);
        assert_string_equal(a->outcome, "skipped");
        assert_non_null(strstr(a->detail, "writable"));
        prov_audit_events_free(ev, n);
}

/* A hook past hook_timeout_sec is killed, with what it started. */
static void test_hook_timeout_killed(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("pia", 200114, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        char hook[256], script[512], pidfile[160], after[160];
        _cleanup_free_ char *pidtxt = NULL;
        ProvAuditEvent *ev = NULL;
        const ProvAuditEvent *a;
        size_t n = 0;
        struct stat st;
        pid_t child;

        snprintf(pidfile, sizeof(pidfile), "%s/sleep.pid", f->dir);
        snprintf(after, sizeof(after), "%s/after", f->dir);
        snprintf(hook, sizeof(hook), "%s/10-slow", f->hooks);
        snprintf(script, sizeof(script), "#!/bin/sh\nsleep 600 &\necho $! > %s\nwait\ntouch %s\n", pidfile, after);
        write_file(hook, script, 0755);
        set_str(&f->config->hooks_dir, f->hooks);
        f->config->hook_timeout_sec = 1;

        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        assert_int_equal(prov_store_audit_load(f->store, "pia", 0, 0, &ev, &n), 0);
        a = find_audit(ev, n, "hook:10-slow");
        assert_non_null(a);
        assert_string_equal(a->outcome, "failed");
        assert_non_null(strstr(a->detail, "timeout"));
        prov_audit_events_free(ev, n);
        assert_int_equal(stat(after, &st), -1);

        /* Its background sleep went with it (the whole process group is killed); it may be a
         * zombie for a moment until init reaps it. */
        pidtxt = read_all(pidfile);
        assert_non_null(pidtxt);
        child = (pid_t) atoi(pidtxt);
        assert_true(child > 1);
        for (int i = 0; i < 100; i++) {
                char path[64], buf[512];
                _cleanup_free_ char *status = NULL;
                const char *s;

                snprintf(path, sizeof(path), "/proc/%d/status", (int) child);
                status = read_all(path);
                if (!status)
                        return; /* gone */
                s = strstr(status, "State:");
                if (s && strchr(s, 'Z') && strchr(s, 'Z') < strchr(s, '\n'))
                        return; /* dead, not yet reaped */
                if (!strstr(status, "Name:\tsleep"))
                        return; /* the PID belongs to something else now */
                (void) buf;
                usleep(50 * 1000);
        }
        fail_msg("the hook's background process %d survived its timeout", (int) child);
}

/* A failed TerminateUser is retried by prov_enforce_retry_pending() while the account stays
 * refused, and no more once it succeeded. */
static void test_retry_failed_logind(void **state) {
        Fixture *f = *state;
        ProvTransition t = transition("quinn", 200115, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision");
        ProvUserRecord u = {
                .scim_id = (char *) "quinn", .name = (char *) "quinn", .uid = 200115, .gid = 200115,
                .home = (char *) "/home/quinn", .shell = (char *) "/bin/bash",
                .state = PROV_STATE_DEPROVISIONED,
        };
        ProvUserRecord v = {
                .scim_id = (char *) "ruth", .name = (char *) "ruth", .uid = 200116, .gid = 200116,
                .home = (char *) "/home/ruth", .shell = (char *) "/bin/bash",
                .state = PROV_STATE_ACTIVE, .source_active = true,
        };
        ProvTransition tv = transition("ruth", 200116, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
        _cleanup_free_ char *calls = NULL;
        ProvAuditEvent *ev = NULL;
        size_t n = 0;
        const char *fail = getenv("LOGIND_MOCK_FAIL");

        if (!mock_calls() || !fail)
                skip();
        assert_int_equal(prov_store_user_put(f->store, &u), 0);
        /* ruth failed while suspended but has been reactivated since: never retried. */
        assert_int_equal(prov_store_user_put(f->store, &v), 0);
        write_file(fail, "", 0644);
        assert_int_equal(prov_enforce_transitions(f->config, f->store, &t, 1), 0);
        assert_int_equal(prov_enforce_transitions(f->config, f->store, &tv, 1), 0);
        assert_int_equal(prov_store_audit_load(f->store, "quinn", 0, 0, &ev, &n), 0);
        assert_string_equal(find_audit(ev, n, "logind")->outcome, "failed");
        prov_audit_events_free(ev, n);

        /* Still failing: retried, still failed. */
        assert_int_equal(prov_enforce_retry_pending(f->config, f->store), 1);
        assert_int_equal(unlink(fail), 0);
        assert_int_equal(prov_enforce_retry_pending(f->config, f->store), 1);
        assert_int_equal(prov_store_audit_load(f->store, "quinn", 0, 0, &ev, &n), 0);
        assert_int_equal(count_audit(ev, n, "logind"), 3);
        assert_string_equal(find_audit(ev, n, "logind")->outcome, "ok");
        assert_string_equal(find_audit(ev, n, "logind")->event, "deprovision");
        prov_audit_events_free(ev, n);
        assert_int_equal(prov_enforce_retry_pending(f->config, f->store), 0);

        calls = read_all(mock_calls());
        assert_int_equal(count_lines(calls, "TerminateUser 200115"), 3);
        assert_int_equal(count_lines(calls, "TerminateUser 200116"), 1);
}

/* A step given up on (PROV_ENFORCE_MAX_RETRIES failures) of an account that is active again or
 * gone leaves the queue like any other: were it kept, the account's next departure would start
 * at the old count and a single failure would never be retried. Needs no logind: nothing runs. */
static void test_retry_drops_given_up_steps(void **state) {
        Fixture *f = *state;
        ProvUserRecord u = {
                .scim_id = (char *) "sam", .name = (char *) "sam", .uid = 200117, .gid = 200117,
                .home = (char *) "/home/sam", .shell = (char *) "/bin/bash",
                .state = PROV_STATE_ACTIVE, .source_active = true,
        };
        ProvPendingStep *p = NULL;
        size_t n = 0;

        assert_int_equal(prov_store_user_put(f->store, &u), 0);
        for (int i = 0; i < PROV_ENFORCE_MAX_RETRIES; i++) {
                assert_int_equal(prov_store_pending_record(f->store, "sam", "logind", 200117, "suspend", true), 0);
                assert_int_equal(prov_store_pending_record(f->store, "gone", "kill", 200118, "suspend", true), 0);
        }
        assert_int_equal(prov_enforce_retry_pending(f->config, f->store), 0);
        assert_int_equal(prov_store_pending_load(f->store, &p, &n), 0);
        assert_int_equal(n, 0);
        prov_pending_steps_free(p, n);
}

/* uid 0 and uids below uid_min are never acted on, whatever the transition says. */
static void test_low_uid_refused(void **state) {
        Fixture *f = *state;
        ProvTransition t[] = {
                transition("root", 0, PROV_STATE_ACTIVE, PROV_STATE_DEPROVISIONED, "deprovision"),
                transition("local", 1000, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend"),
        };
        ProvAuditEvent *ev = NULL;
        size_t n = 0;

        assert_int_equal(prov_enforce_transitions(f->config, f->store, t, ELEMENTSOF(t)), 0);
        if (mock_calls()) {
                _cleanup_free_ char *calls = read_all(mock_calls());
                assert_string_equal(calls, "");
        }
        assert_int_equal(prov_store_audit_load(f->store, NULL, 0, 0, &ev, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(ev[i].step, "logind") || streq_ptr(ev[i].step, "kill"))
                        assert_string_equal(ev[i].outcome, "skipped");
        assert_int_equal(count_audit(ev, n, "logind"), 2);
        prov_audit_events_free(ev, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_deprovision_terminates_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_suspend_and_block_terminate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_joiner_mover_no_terminate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_such_user_is_skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_bus_hooks_still_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_inherits_no_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hooks_order_and_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_world_writable_hooks_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_writable_hook_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_timeout_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_failed_logind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_drops_given_up_steps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_low_uid_refused, setup, teardown),
        };

        if (!mock_calls())
                printf("# LOGIND_MOCK_CALLS is not set: the logind cases skip (run through test-enforce.sh)\n");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
