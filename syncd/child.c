/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a program as a child of the daemon: no shell, nothing inherited beyond stdin
 * (/dev/null), stdout and stderr (a pipe into the log), a timeout that kills its process group.
 * See child.h. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "prov-time.h"

/* CLOCK_MONOTONIC in ms, and what is left of a deadline in it (for poll()). */
uint64_t prov_now_monotonic_msec(void) {
        return prov_now_msec(CLOCK_MONOTONIC);
}

int prov_msec_left(uint64_t deadline) {
        uint64_t now = prov_now_monotonic_msec();

        if (now >= deadline)
                return 0;
        return deadline - now > INT32_MAX ? INT32_MAX : (int) (deadline - now);
}

/* Makes one readable log line out of the child's output: at most PROV_CHILD_LINE_MAX bytes,
 * control characters and non-ASCII bytes replaced, so a child cannot forge log records. */
static void log_child_line(const ProvChildLog *s, const char *line, size_t n) {
        char clean[PROV_CHILD_LINE_MAX + 1];
        size_t k = 0;

        for (size_t i = 0; i < n && k < PROV_CHILD_LINE_MAX; i++) {
                unsigned char c = (unsigned char) line[i];
                clean[k++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        clean[k] = '\0';
        log_user(LOG_INFO, s->user, s->uid, s->event, "%s: %s", s->label, clean);
}

/* Cuts what the child wrote into log lines, up to PROV_CHILD_OUTPUT_MAX bytes in all. */
static void sink_feed(ProvChildLog *s, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (s->total >= PROV_CHILD_OUTPUT_MAX) {
                        if (!s->truncated)
                                log_user(LOG_INFO, s->user, s->uid, s->event, "%s: output truncated after %d bytes",
                                         s->label, PROV_CHILD_OUTPUT_MAX);
                        s->truncated = true;
                        return;
                }
                s->total++;
                if (buf[i] == '\n') {
                        log_child_line(s, s->line, s->n_line);
                        s->n_line = 0;
                        continue;
                }
                s->line[s->n_line++] = buf[i];
                if (s->n_line == sizeof(s->line)) {
                        log_child_line(s, s->line, s->n_line);
                        s->n_line = 0;
                }
        }
}

static void sink_flush(ProvChildLog *s) {
        if (s->n_line > 0 && !s->truncated)
                log_child_line(s, s->line, s->n_line);
        s->n_line = 0;
}

static int safe_close(int fd) {
        if (fd >= 0)
                close(fd);
        return -1;
}

static bool drain(int *fd, ProvChildLog *sink) {
        char buf[4096];
        ssize_t k;

        k = read(*fd, buf, sizeof(buf));
        if (k > 0) {
                if (sink)
                        sink_feed(sink, buf, (size_t) k);
                return true;
        }
        if (k < 0 && errno == EINTR)
                return true;
        if (k < 0 && errno == EAGAIN)
                return false; /* nothing more for now; the fd stays open */
        close(*fd);
        *fd = -1;
        return false;
}

/* Closes every fd from lowest up, except keep (-1: none). Runs in the child between fork() and
 * execve(), so only async-signal-safe calls: close_range() (Linux 5.9), else the fds listed by
 * /proc/self/fd read with getdents64 into a stack buffer, else every fd below RLIMIT_NOFILE. */
static void close_fds_from(int lowest, int keep) {
        int dfd;

        if (keep < lowest) {
                if (close_range((unsigned) lowest, ~0U, 0) == 0)
                        return;
        } else if ((keep == lowest || close_range((unsigned) lowest, (unsigned) keep - 1, 0) == 0) &&
                   close_range((unsigned) keep + 1, ~0U, 0) == 0)
                return;

        /* ENOSYS (older kernel) or EPERM (a seccomp filter): list what is open. */
        dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                bool ok = true;

                for (;;) {
                        _Alignas(struct dirent64) char buf[4096];
                        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));

                        if (n == 0)
                                break;
                        if (n < 0) {
                                ok = false;
                                break;
                        }
                        for (long off = 0; off < n;) {
                                const struct dirent64 *de = (const struct dirent64 *) (buf + off);
                                int fd = 0;
                                bool num = de->d_name[0] != '\0';

                                for (const char *q = de->d_name; *q && num; q++) {
                                        num = *q >= '0' && *q <= '9' && fd < INT_MAX / 10;
                                        fd = fd * 10 + (*q - '0');
                                }
                                if (num && fd >= lowest && fd != keep && fd != dfd)
                                        (void) close(fd);
                                off += de->d_reclen;
                        }
                }
                (void) close(dfd);
                if (ok)
                        return;
        }

        /* No /proc either: every possible fd. */
        struct rlimit rl;
        int max = 65536;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t) INT_MAX)
                max = (int) rl.rlim_cur;
        for (int fd = lowest; fd < max; fd++)
                if (fd != keep)
                        (void) close(fd);
}

/* The child side of spawn_program(): only async-signal-safe calls. An error before execve()
 * goes to the parent as an errno through err_fd (close-on-exec, so a successful execve() closes
 * it and the parent reads EOF). */
__attribute__((noreturn)) static void child_exec(const char *path, char *const argv[], char *const envp[], int out_fd,
                                  int err_fd) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;
        int null_fd, e;

        /* Our own process group, so that a timeout kills what the program started too. */
        if (setpgid(0, 0) < 0)
                goto fail;
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        null_fd = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (null_fd < 0)
                goto fail;
        if (null_fd != STDIN_FILENO) {
                if (dup2(null_fd, STDIN_FILENO) < 0)
                        goto fail;
                (void) close(null_fd);
        }
        if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
                goto fail;
        if (chdir("/") < 0)
                goto fail;
        /* Nothing of the daemon beyond 0-2: not the connection to the SCIM source, not the
         * store, not the bus, not whatever fd we were started with (issue 20.6). */
        close_fds_from(3, err_fd);

        execve(path, argv, envp);
fail:
        e = errno;
        while (write(err_fd, &e, sizeof(e)) < 0 && errno == EINTR)
                ;
        _exit(127);
}

/* Starts path with argv and envp and no shell: stdin /dev/null, stdout and stderr to out_fd,
 * every other fd closed, cwd /, default signal dispositions and an empty signal mask (the daemon
 * blocks the signals it waits for), and its own process group so that a timeout kills what it
 * started too. fork() and not posix_spawn(): the fds must be closed between fork and exec, and
 * posix_spawn() has no portable way to say so. Returns -errno when the program could not be
 * started (execve() failed in the child, which is then reaped). */
static int spawn_program(const char *path, char *const argv[], char *const envp[], int out_fd, pid_t *ret_pid) {
        _cleanup_close_ int err_r = -1, err_w = -1;
        int pipefd[2], e = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        err_r = pipefd[0];
        err_w = pipefd[1];

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                child_exec(path, argv, envp, out_fd, err_w);

        err_w = safe_close(err_w);
        do
                n = read(err_r, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(e)) {
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return e > 0 ? -e : -EIO;
        }
        *ret_pid = pid;
        return 0;
}

int prov_child_run(const char *path, char *const argv[], char *const envp[], unsigned timeout_sec,
                   ProvChildLog *sink, int *ret_status) {
        _cleanup_close_ int out_r = -1, out_w = -1, pidfd = -1;
        uint64_t deadline;
        bool exited = false, timed_out = false;
        pid_t pid = 0;
        int pipefd[2], status = 0, r = 0;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        out_r = pipefd[0];
        out_w = pipefd[1];

        r = spawn_program(path, argv, envp, out_w, &pid);
        if (r < 0)
                return r;
        out_w = safe_close(out_w);

        /* Our own unreaped child: its PID cannot be reused before we wait for it. Without
         * pidfds (kernels before 5.3, valgrind) the child is looked at every 100 ms instead,
         * with waitid(WNOWAIT) so that it stays unreaped until the end. */
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0 && errno != ENOSYS) {
                r = negative_errno();
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        (void) fcntl(out_r, F_SETFL, O_NONBLOCK);

        deadline = prov_now_monotonic_msec() + (uint64_t) timeout_sec * MSEC_PER_SEC;
        while (!exited) {
                struct pollfd pfd[2];
                int ipid = -1, iout = -1, np = 0, timeout = prov_msec_left(deadline), k;

                if (pidfd >= 0) {
                        ipid = np;
                        pfd[np++] = (struct pollfd) { .fd = pidfd, .events = POLLIN };
                } else if (timeout > 100)
                        timeout = 100;
                if (out_r >= 0) {
                        iout = np;
                        pfd[np++] = (struct pollfd) { .fd = out_r, .events = POLLIN };
                }
                k = poll(pfd, np, timeout);
                if (k < 0 && errno != EINTR) {
                        r = negative_errno();
                        timed_out = true; /* treat as a timeout: kill and reap */
                        break;
                }
                /* Bounded, so that a program writing without pause still meets its deadline. */
                if (k > 0 && iout >= 0 && (pfd[iout].revents & (POLLIN | POLLHUP | POLLERR)))
                        for (unsigned j = 0; j < 16 && out_r >= 0 && drain(&out_r, sink); j++)
                                ;
                if (ipid >= 0)
                        exited = k > 0 && (pfd[ipid].revents & POLLIN);
                else {
                        siginfo_t si = {};
                        exited = waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 && si.si_pid == pid;
                }
                if (!exited && prov_msec_left(deadline) == 0) {
                        timed_out = true;
                        break;
                }
        }
        if (timed_out) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL); /* if it left its process group; still unreaped */
        }
        /* The program is gone; what it wrote is in the pipe. Descendants that still hold the
         * pipe open are not waited for. */
        for (unsigned j = 0; j < 64 && out_r >= 0 && drain(&out_r, sink); j++)
                ;
        if (sink)
                sink_flush(sink);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (timed_out)
                return r < 0 ? r : -ETIME;
        *ret_status = status;
        return 0;
}

void prov_child_describe_status(int status, char *buf, size_t size) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by signal %s", sigabbrev_np(WTERMSIG(status)) ?: "?");
        else
                snprintf(buf, size, "wait status 0x%x", (unsigned) status);
}
