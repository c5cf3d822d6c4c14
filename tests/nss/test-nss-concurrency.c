/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Readers never see half a sync: 4 threads and 2 child processes (one of them running as
 * nobody) look users and groups up while the parent republishes the snapshot 200 times. Every
 * generation writes its number into each user's gecos and home and into the group's name, so a
 * lookup that mixed two files would be caught. No lookup may fail. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss-test-util.h"
#include "prov-snapshot-write.h"
#include "prov-snapshot.h"
#include "prov-util.h"

#define N_USERS 64
#define N_PUBLISH 200
#define GROUP_GID 20000

typedef enum nss_status (*getpwnam_t)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_t)(gid_t, struct group *, char *, size_t, int *);

static getpwnam_t mod_getpwnam_r;
static getgrgid_t mod_getgrgid_r;
static char snap_path[256];
static volatile int stop_flag;

typedef struct Stats {
        unsigned long lookups, failures, generations_seen;
        uint64_t last_gen;
} Stats;

static void fail(Stats *st, const char *what) {
        if (st->failures++ < 5)
                fprintf(stderr, "[%d] %s\n", (int) getpid(), what);
}

static int publish(uint64_t gen) {
        static char names[N_USERS][16], gecos[N_USERS][32], homes[N_USERS][48];
        static uint32_t members[N_USERS];
        ProvSnapUser users[N_USERS];
        char gname[32];
        ProvSnapGroup group = { .name = gname, .gid = GROUP_GID, .members = members, .n_members = N_USERS };
        ProvSnapMeta meta = { .generation = gen, .last_sync_usec = gen, .uid_min = 10000, .uid_max = 60000 };

        snprintf(gname, sizeof(gname), "team-%llu", (unsigned long long) gen);
        for (unsigned i = 0; i < N_USERS; i++) {
                snprintf(names[i], sizeof(names[i]), "u%u", i);
                snprintf(gecos[i], sizeof(gecos[i]), "gen=%llu", (unsigned long long) gen);
                snprintf(homes[i], sizeof(homes[i]), "/home/u%u/%llu", i, (unsigned long long) gen);
                members[i] = i;
                users[i] = (ProvSnapUser) { names[i], 10000 + i, 10000 + i, gecos[i], homes[i], "/bin/sh",
                                            PROV_STATE_ACTIVE, 0 };
        }
        return prov_snapshot_write(snap_path, &meta, users, N_USERS, &group, 1);
}

/* One round through the NSS entry points: each answer must be complete and internally
 * consistent. */
static void nss_round(Stats *st, unsigned k) {
        char name[16], buf[8192], home[64];
        struct passwd pw;
        struct group gr;
        unsigned long long g1, g2;
        int e;
        size_t n;

        snprintf(name, sizeof(name), "u%u", k % N_USERS);
        st->lookups++;
        if (mod_getpwnam_r(name, &pw, buf, sizeof(buf), &e) != NSS_STATUS_SUCCESS) {
                fail(st, "getpwnam_r failed");
                return;
        }
        if (sscanf(pw.pw_gecos, "gen=%llu", &g1) != 1 || sscanf(pw.pw_dir, "/home/%*[^/]/%llu", &g2) != 1 ||
            g1 != g2 || pw.pw_uid != 10000 + k % N_USERS) {
                fail(st, "inconsistent passwd entry");
                return;
        }
        snprintf(home, sizeof(home), "/home/%s/%llu", name, g1);
        if (!streq(home, pw.pw_dir))
                fail(st, "passwd entry of another user");

        st->lookups++;
        if (mod_getgrgid_r(GROUP_GID, &gr, buf, sizeof(buf), &e) != NSS_STATUS_SUCCESS) {
                fail(st, "getgrgid_r failed");
                return;
        }
        for (n = 0; gr.gr_mem[n]; n++)
                ;
        if (strncmp(gr.gr_name, "team-", 5) != 0 || n != N_USERS || !streq(gr.gr_mem[0], "u0"))
                fail(st, "inconsistent group entry");
}

/* One round through the library: user, group and header read under one acquisition must all
 * come from the same generation. */
static void lib_round(Stats *st, unsigned k) {
        const ProvSnapshot *s;
        ProvSnapUserView u;
        ProvSnapGroupView g;
        char name[16];
        unsigned long long ug, gg;
        uint64_t gen;
        int r;

        snprintf(name, sizeof(name), "u%u", k % N_USERS);
        st->lookups++;
        r = prov_cache_acquire(snap_path, &s);
        if (r < 0) {
                fail(st, "prov_cache_acquire failed");
                return;
        }
        gen = prov_snapshot_generation(s);
        if (prov_snapshot_user_by_name(s, name, &u) < 0 || prov_snapshot_group_by_gid(s, GROUP_GID, &g) < 0)
                fail(st, "library lookup failed");
        else if (sscanf(u.gecos, "gen=%llu", &ug) != 1 || sscanf(g.name, "team-%llu", &gg) != 1 || ug != gen ||
                 gg != gen)
                fail(st, "mixed generations within one acquisition");
        prov_cache_release();
        if (gen < st->last_gen)
                fail(st, "generation went backwards");
        if (gen != st->last_gen)
                st->generations_seen++;
        st->last_gen = gen;
}

static void *thread_main(void *arg) {
        Stats *st = arg;

        for (unsigned k = 0; !__atomic_load_n(&stop_flag, __ATOMIC_RELAXED); k++) {
                nss_round(st, k);
                lib_round(st, k);
        }
        return NULL;
}

/* Child: look up until the parent closes the pipe; exit 0 only without a failure. */
static int child_main(int stop_fd, bool drop_privileges) {
        Stats st = {};

        if (drop_privileges && geteuid() == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
                        perror("dropping privileges");
                        return 2;
                }
        }
        for (unsigned k = 0;; k++) {
                struct pollfd p = { .fd = stop_fd, .events = POLLIN };
                if (poll(&p, 1, 0) > 0)
                        break;
                nss_round(&st, k);
                lib_round(&st, k);
        }
        fprintf(stderr, "child%s: %lu lookups, %lu generations seen, %lu failures\n",
                drop_privileges ? " (nobody)" : "", st.lookups, st.generations_seen, st.failures);
        return st.failures == 0 && st.lookups > 0 ? 0 : 1;
}

int main(void) {
        _cleanup_free_ char *module = NULL;
        char dir[] = "/tmp/prov-nss-conc.XXXXXX";
        pthread_t threads[4];
        Stats stats[4] = {};
        pid_t children[2];
        int stop_pipe[2], failures = 0, r;
        void *dl;

        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        snprintf(snap_path, sizeof(snap_path), "%s/snapshot", dir);
        r = publish(1);
        if (r < 0) {
                fprintf(stderr, "publish: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        setenv("PROVISION_SNAPSHOT", snap_path, 1);

        if (test_nss_module_path(&module) < 0)
                return EXIT_FAILURE;
        dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                fprintf(stderr, "dlopen: %s\n", dlerror());
                return EXIT_FAILURE;
        }
        mod_getpwnam_r = (getpwnam_t) dlsym(dl, "_nss_provision_getpwnam_r");
        mod_getgrgid_r = (getgrgid_t) dlsym(dl, "_nss_provision_getgrgid_r");
        if (!mod_getpwnam_r || !mod_getgrgid_r)
                return EXIT_FAILURE;
        if (geteuid() != 0)
                printf("not root: the second child keeps our uid instead of nobody\n");

        if (pipe2(stop_pipe, O_CLOEXEC) < 0)
                return EXIT_FAILURE;
        for (unsigned i = 0; i < 2; i++) {
                children[i] = fork();
                if (children[i] < 0)
                        return EXIT_FAILURE;
                if (children[i] == 0) {
                        close(stop_pipe[1]);
                        _exit(child_main(stop_pipe[0], i == 1));
                }
        }
        close(stop_pipe[0]);
        for (unsigned i = 0; i < 4; i++)
                if (pthread_create(&threads[i], NULL, thread_main, &stats[i]) != 0)
                        return EXIT_FAILURE;

        for (uint64_t gen = 2; gen <= N_PUBLISH + 1; gen++) {
                r = publish(gen);
                if (r < 0) {
                        fprintf(stderr, "publish %llu: %s\n", (unsigned long long) gen, strerror(-r));
                        failures++;
                }
                if (gen % 4 == 0)
                        usleep(1000); /* let readers run between some publications */
        }

        __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < 4; i++) {
                pthread_join(threads[i], NULL);
                fprintf(stderr, "thread %u: %lu lookups, %lu generations seen, %lu failures\n", i,
                        stats[i].lookups, stats[i].generations_seen, stats[i].failures);
                if (stats[i].failures > 0 || stats[i].lookups == 0)
                        failures++;
        }
        close(stop_pipe[1]);
        for (unsigned i = 0; i < 2; i++) {
                int status;
                if (waitpid(children[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "child %u failed\n", i);
                        failures++;
                }
        }

        /* After the last publication every reader path serves the last generation. */
        {
                const ProvSnapshot *s;
                char buf[4096];
                struct passwd pw;
                int e;

                if (prov_cache_acquire(snap_path, &s) < 0)
                        failures++;
                else {
                        if (prov_snapshot_generation(s) != N_PUBLISH + 1)
                                failures++;
                        prov_cache_release();
                }
                if (mod_getpwnam_r("u1", &pw, buf, sizeof(buf), &e) != NSS_STATUS_SUCCESS ||
                    strcmp(pw.pw_gecos, "gen=201") != 0)
                        failures++;
        }

        prov_cache_flush();
        dlclose(dl);
        unlink(snap_path);
        rmdir(dir);
        if (failures > 0) {
                fprintf(stderr, "%d failure(s)\n", failures);
                return EXIT_FAILURE;
        }
        printf("no failed or mixed lookups across %d publications\n", N_PUBLISH);
        return EXIT_SUCCESS;
}
