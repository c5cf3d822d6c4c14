/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The snapshot cache and fork(): a child forked while another thread of its parent holds the
 * cache's read lock must not inherit that lock held (the thread does not exist in the child, so
 * the child's first write lock would wait forever). The child handler that re-initializes the lock
 * has to be registered before any lock is taken, including in a process's very first lookup.
 *
 * Linked with -Wl,--wrap=pthread_rwlock_rdlock: the wrapper holds the first read lock taken by
 * thread A until the main thread has forked. The child then looks up a snapshot, which takes the
 * write lock; under alarm(5) it must come back, with any answer. */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prov-snapshot.h"

int __real_pthread_rwlock_rdlock(pthread_rwlock_t *l);
int __wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l);

static int armed;
static int pipe_locked[2], pipe_forked[2];

/* Thread A's first read lock: tell the main thread it is held, wait until it has forked. */
int __wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l) {
        int r = __real_pthread_rwlock_rdlock(l);
        char c = 0;

        if (__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST)) {
                if (write(pipe_locked[1], &c, 1) != 1 || read(pipe_forked[0], &c, 1) != 1)
                        abort();
        }
        return r;
}

static void *thread_a(void *arg) {
        const ProvSnapshot *s;

        __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
        if (prov_cache_acquire("/nonexistent/provision-test-snapshot", &s) >= 0)
                prov_cache_release();
        return NULL;
}

int main(void) {
        pthread_t t;
        int status;
        pid_t pid;
        char c = 0;

        if (pipe(pipe_locked) < 0 || pipe(pipe_forked) < 0 || pthread_create(&t, NULL, thread_a, NULL) != 0) {
                perror("set-up");
                return 99;
        }
        if (read(pipe_locked[0], &c, 1) != 1)
                return 99;
        pid = fork();
        if (pid < 0)
                return 99;
        if (pid == 0) {
                const ProvSnapshot *s;

                alarm(5);
                if (prov_cache_acquire("/nonexistent/provision-test-snapshot", &s) >= 0)
                        prov_cache_release();
                _exit(0);
        }
        if (write(pipe_forked[1], &c, 1) != 1)
                return 99;
        pthread_join(t, NULL);
        if (waitpid(pid, &status, 0) < 0)
                return 99;
        if (WIFSIGNALED(status)) {
                fprintf(stderr, "FAIL: the child was killed by signal %d (SIGALRM: it waited forever for the "
                                "cache lock its parent's thread held at fork)\n", WTERMSIG(status));
                return 1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "FAIL: the child exited with status %d\n", status);
                return 1;
        }
        printf("PASS: a child forked while a thread held the cache's read lock looks up normally\n");
        return 0;
}
