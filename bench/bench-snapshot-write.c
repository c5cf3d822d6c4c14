/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot writer benchmark: prov_snapshot_write() at 100k users and 110k groups (100k private
 * groups without members, 10k groups with 350k memberships, one of them with 50k members). Not a
 * test: it prints the peak RSS the writer added on top of its input, and the time per publish.
 *
 *   bench-snapshot-write PATH [RUNS]   publish PATH RUNS times (default 5)
 *
 * Prints "input_rss_kib peak_rss_kib writer_rss_kib file_bytes min_ms median_ms". ru_maxrss is
 * a high-water mark, so writer_rss_kib is what the writer needed beyond the input. Put PATH on a
 * tmpfs to time the writer rather than the disk (it fsyncs). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"

#define N_USERS 100000u
#define N_GROUPS 10000u
#define UID_BASE 100000u
#define GID_BASE 200000u
#define BIG_GROUP 1u            /* g00001: 50k members */
#define BIG_MEMBERS 50000u
#define SMALL_MEMBERS 30u       /* every other group */
#define MAX_RUNS 100

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static long maxrss_kib(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return -1;
        return ru.ru_maxrss;
}

static _printf_(1, 2) char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                fputs("out of memory\n", stderr);
                exit(1);
        }
        return s;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        size_t n_groups = N_USERS + N_GROUPS, n_runs = 5;
        ProvSnapMeta meta = { .generation = 1, .last_sync_usec = 0, .uid_min = 1000 };
        ProvSnapUser *users;
        ProvSnapGroup *groups;
        const char **names;
        uint32_t *all;
        uint64_t t[MAX_RUNS];
        long input_rss;
        struct stat st;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s PATH [RUNS]\n", argv[0]);
                return 2;
        }
        if (argc == 3) {
                n_runs = strtoul(argv[2], NULL, 10);
                if (n_runs < 1 || n_runs > MAX_RUNS) {
                        fprintf(stderr, "RUNS must be 1..%d\n", MAX_RUNS);
                        return 2;
                }
        }

        users = calloc(N_USERS, sizeof(*users));
        groups = calloc(n_groups, sizeof(*groups));
        names = calloc(N_USERS, sizeof(*names));
        all = calloc(N_USERS, sizeof(*all));
        if (!users || !groups || !names || !all)
                return 1;
        for (unsigned i = 0; i < N_USERS; i++) {
                names[i] = xasprintf("u%06u", i);
                all[i] = i;
                users[i] = (ProvSnapUser) {
                        .name = names[i],
                        .uid = UID_BASE + i,
                        .gid = UID_BASE + i,
                        .gecos = xasprintf("User %06u", i),
                        .home = xasprintf("/home/u%06u", i),
                        .shell = "/bin/bash",
                        .state = PROV_STATE_ACTIVE,
                };
                groups[i] = (ProvSnapGroup) { .name = names[i], .gid = UID_BASE + i };
        }
        for (unsigned g = 0; g < N_GROUPS; g++) {
                ProvSnapGroup *gr = &groups[N_USERS + g];

                *gr = (ProvSnapGroup) { .name = xasprintf("g%05u", g), .gid = GID_BASE + g };
                if (g == BIG_GROUP) {
                        gr->members = all;
                        gr->n_members = BIG_MEMBERS;
                } else {
                        uint32_t *m = calloc(SMALL_MEMBERS, sizeof(*m));

                        if (!m)
                                return 1;
                        /* 3331 is prime to N_USERS: 30 distinct users per group, spread out. */
                        for (unsigned k = 0; k < SMALL_MEMBERS; k++)
                                m[k] = (g * 37u + k * 3331u) % N_USERS;
                        gr->members = m;
                        gr->n_members = SMALL_MEMBERS;
                }
        }

        input_rss = maxrss_kib();
        for (size_t i = 0; i < n_runs; i++) {
                uint64_t t0 = now_ns();
                int r = prov_snapshot_write(argv[1], &meta, users, N_USERS, groups, n_groups);

                t[i] = now_ns() - t0;
                if (r < 0) {
                        fprintf(stderr, "prov_snapshot_write: %s\n", strerror(-r));
                        return 1;
                }
                meta.generation++;
        }
        if (stat(argv[1], &st) < 0)
                return 1;
        qsort(t, n_runs, sizeof(t[0]), cmp_u64);
        printf("input_rss_kib %ld peak_rss_kib %ld writer_rss_kib %ld file_bytes %lld min_ms %.1f median_ms %.1f\n",
               input_rss, maxrss_kib(), maxrss_kib() - input_rss, (long long) st.st_size, t[0] / 1e6,
               t[n_runs / 2] / 1e6);
        return 0;
}
