/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* NSS lookup benchmark: provision vs nss_files vs libnss-cache at 100k users / 10k groups, all
 * through real glibc dispatch (__nss_configure_lookup). Not a test: it prints figures.
 *
 *   bench-nss gen DIR            write DIR/{passwd,group} (to append to copies of /etc/passwd and
 *                                /etc/group), DIR/{passwd,group}.cache + indexes, DIR/snapshot;
 *                                prints the snapshot publish time
 *   bench-nss run SERVICE        time lookups with passwd/group/initgroups routed to SERVICE
 *   bench-nss first SERVICE NAME one getpwnam() in this fresh process; prints nanoseconds
 *
 * bench/run-nss.sh drives it inside a private mount namespace. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"

#define N_USERS 100000u
#define N_GROUPS 10000u
#define UID_BASE 100000u
#define GID_BASE 200000u
#define BIG_GROUP 1u            /* g00001: 50k members */
#define BIG_MEMBERS 50000u
#define SAMPLED_USERS 100u      /* u000000..u000099 are in 200 groups each */
#define SAMPLED_GROUPS 200u     /* g00002..g00201 */

extern int __nss_configure_lookup(const char *db, const char *service_line);

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        return n ? v[n / 2] : 0;
}

/* Members of group j, in the synthetic directory. */
static size_t group_members(unsigned j, unsigned *out, size_t cap) {
        size_t n = 0;

        if (j == BIG_GROUP) {
                for (unsigned i = 0; i < BIG_MEMBERS && n < cap; i++)
                        out[n++] = i;
        } else if (j >= 2 && j < 2 + SAMPLED_GROUPS) {
                for (unsigned i = 0; i < SAMPLED_USERS && n < cap; i++)
                        out[n++] = i;
        } else if (j > 0) {
                for (unsigned k = 0; k < 5 && n < cap; k++)
                        out[n++] = (j * 7919u + k * 104729u) % N_USERS;
        }
        return n;
}

typedef struct Index {
        char key[16];
        long offset;
} Index;

static int cmp_index(const void *a, const void *b) {
        return strcmp(((const Index *) a)->key, ((const Index *) b)->key);
}

/* libnss-cache's index: fixed-width lines "key NUL offset NUL-padding \n", sorted by strcmp. */
static int write_index(const char *path, Index *ix, size_t n) {
        size_t width = 0;
        FILE *f;

        qsort(ix, n, sizeof(*ix), cmp_index);
        for (size_t i = 0; i < n; i++) {
                char tmp[64];
                size_t w = strlen(ix[i].key) + 1 + (size_t) snprintf(tmp, sizeof(tmp), "%ld", ix[i].offset) + 1;
                if (w > width)
                        width = w;
        }
        f = fopen(path, "we");
        if (!f)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                char line[64] = {};
                size_t k = strlen(ix[i].key);
                memcpy(line, ix[i].key, k);
                snprintf(line + k + 1, sizeof(line) - k - 1, "%ld", ix[i].offset);
                line[width - 1] = '\n';
                fwrite(line, 1, width, f);
        }
        return fclose(f) == 0 ? 0 : -errno;
}

static int gen(const char *dir) {
        static char names[N_USERS][8], gnames[N_GROUPS][8];
        ProvSnapUser *users = calloc(N_USERS, sizeof(ProvSnapUser));
        ProvSnapGroup *groups = calloc(N_GROUPS, sizeof(ProvSnapGroup));
        const char **members = calloc(BIG_MEMBERS + SAMPLED_GROUPS * SAMPLED_USERS + 5 * N_GROUPS, sizeof(char *));
        unsigned *tmp = calloc(BIG_MEMBERS, sizeof(unsigned));
        Index *ix_name = calloc(N_USERS, sizeof(Index)), *ix_id = calloc(N_USERS, sizeof(Index));
        ProvSnapMeta meta = { .generation = 1, .last_sync_usec = 1, .uid_min = UID_BASE, .uid_max = 4000000 };
        char path[4096], home[32];
        uint64_t t[3];
        size_t used = 0;
        FILE *pf, *gf, *pc, *gc;
        int r;

        if (!users || !groups || !members || !tmp || !ix_name || !ix_id)
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/passwd", dir);
        pf = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/passwd.cache", dir);
        pc = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/group", dir);
        gf = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/group.cache", dir);
        gc = fopen(path, "we");
        if (!pf || !pc || !gf || !gc)
                return -errno;

        for (unsigned i = 0; i < N_USERS; i++) {
                snprintf(names[i], sizeof(names[i]), "u%06u", i);
                snprintf(home, sizeof(home), "/home/%s", names[i]);
                users[i] = (ProvSnapUser) { names[i], UID_BASE + i, GID_BASE, "Bench User", NULL, "/bin/bash",
                                            PROV_STATE_ACTIVE, 19000 };
                users[i].home = strdup(home);
                fprintf(pf, "%s:x:%u:%u:Bench User:%s:/bin/bash\n", names[i], UID_BASE + i, GID_BASE, home);
                snprintf(ix_name[i].key, sizeof(ix_name[i].key), "%s", names[i]);
                snprintf(ix_id[i].key, sizeof(ix_id[i].key), "%u", UID_BASE + i);
                ix_name[i].offset = ix_id[i].offset = ftell(pc);
                fprintf(pc, "%s:x:%u:%u:Bench User:%s:/bin/bash\n", names[i], UID_BASE + i, GID_BASE, home);
        }
        fclose(pf);
        fclose(pc);
        snprintf(path, sizeof(path), "%s/passwd.cache.ixname", dir);
        if ((r = write_index(path, ix_name, N_USERS)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/passwd.cache.ixuid", dir);
        if ((r = write_index(path, ix_id, N_USERS)) < 0)
                return r;

        for (unsigned j = 0; j < N_GROUPS; j++) {
                size_t n = group_members(j, tmp, BIG_MEMBERS);
                snprintf(gnames[j], sizeof(gnames[j]), "g%05u", j);
                groups[j] = (ProvSnapGroup) { .name = gnames[j], .gid = GID_BASE + j, .members = members + used,
                                              .n_members = n };
                snprintf(ix_name[j].key, sizeof(ix_name[j].key), "%s", gnames[j]);
                snprintf(ix_id[j].key, sizeof(ix_id[j].key), "%u", GID_BASE + j);
                ix_name[j].offset = ix_id[j].offset = ftell(gc);
                fprintf(gf, "%s:x:%u:", gnames[j], GID_BASE + j);
                fprintf(gc, "%s:x:%u:", gnames[j], GID_BASE + j);
                for (size_t k = 0; k < n; k++) {
                        members[used++] = names[tmp[k]];
                        fprintf(gf, "%s%s", k ? "," : "", names[tmp[k]]);
                        fprintf(gc, "%s%s", k ? "," : "", names[tmp[k]]);
                }
                fputc('\n', gf);
                fputc('\n', gc);
        }
        fclose(gf);
        fclose(gc);
        snprintf(path, sizeof(path), "%s/group.cache.ixname", dir);
        if ((r = write_index(path, ix_name, N_GROUPS)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/group.cache.ixgid", dir);
        if ((r = write_index(path, ix_id, N_GROUPS)) < 0)
                return r;

        snprintf(path, sizeof(path), "%s/snapshot", dir);
        for (unsigned k = 0; k < ELEMENTSOF(t); k++) {
                uint64_t t0 = now_ns();
                r = prov_snapshot_write(path, &meta, users, N_USERS, groups, N_GROUPS);
                t[k] = now_ns() - t0;
                if (r < 0)
                        return r;
        }
        printf("snapshot publish (100k users, 10k groups, incl. fsync): median %.1f ms\n", median(t, 3) / 1e6);
        return 0;
}

/* Times op() repeatedly within a budget and returns the median in nanoseconds. */
static uint64_t bench(int (*op)(unsigned k), unsigned max_samples, uint64_t budget_ns, int *ret_err) {
        uint64_t *v = calloc(max_samples, sizeof(uint64_t)), start = now_ns(), m;
        size_t n = 0;

        *ret_err = 0;
        while (n < max_samples && (n < 3 || now_ns() - start < budget_ns)) {
                uint64_t t0 = now_ns();
                if (op((unsigned) n) < 0)
                        (*ret_err)++;
                v[n++] = now_ns() - t0;
        }
        m = median(v, n);
        free(v);
        return m;
}

static unsigned pick(unsigned k) {
        return (k * 2654435761u) % N_USERS;
}

static int op_pwnam_hit(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "u%06u", pick(k));
        return getpwnam(name) ? 0 : -1;
}

static int op_pwnam_miss(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "x%06u", pick(k));
        return getpwnam(name) ? -1 : 0;
}

static int op_pwuid(unsigned k) {
        return getpwuid(UID_BASE + pick(k)) ? 0 : -1;
}

static int op_grouplist(unsigned k) {
        static gid_t list[1024];
        char name[16];
        int n = ELEMENTSOF(list);

        snprintf(name, sizeof(name), "u%06u", k % SAMPLED_USERS);
        return getgrouplist(name, GID_BASE, list, &n) >= (int) SAMPLED_GROUPS ? 0 : -1;
}

static int op_grnam_big(unsigned k) {
        struct group *g = getgrnam("g00001");
        size_t n = 0;

        if (!g)
                return -1;
        while (g->gr_mem[n])
                n++;
        return n == BIG_MEMBERS ? 0 : -1;
}

static int op_getpwent(unsigned k) {
        size_t n = 0;

        setpwent();
        while (getpwent())
                n++;
        endpwent();
        return n >= N_USERS ? 0 : -1;
}

static void configure(const char *service) {
        __nss_configure_lookup("passwd", service);
        __nss_configure_lookup("group", service);
        __nss_configure_lookup("initgroups", service);
}

static int run(const char *self, const char *service) {
        static const struct {
                const char *what;
                int (*op)(unsigned);
                unsigned samples;
        } ops[] = {
                { "getpwnam hit", op_pwnam_hit, 20000 },
                { "getpwnam miss", op_pwnam_miss, 20000 },
                { "getpwuid hit", op_pwuid, 20000 },
                { "getgrouplist (>=200 groups)", op_grouplist, 2000 },
                { "getgrnam (50k members)", op_grnam_big, 200 },
                { "getpwent full enumeration", op_getpwent, 20 },
        };
        uint64_t first[15];

        configure(service);
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                int errors;
                uint64_t m = bench(ops[i].op, ops[i].samples, 2000000000u, &errors);
                printf("%-10s %-30s %12.1f us%s\n", service, ops[i].what, m / 1e3, errors ? "  (ERRORS)" : "");
                fflush(stdout);
        }

        /* First lookup in a fresh process: module load, open, map (or parse) and one answer. */
        for (size_t i = 0; i < ELEMENTSOF(first); i++) {
                int p[2], status;
                pid_t pid;
                char buf[64] = {};

                if (pipe(p) < 0)
                        return -errno;
                pid = fork();
                if (pid == 0) {
                        dup2(p[1], STDOUT_FILENO);
                        execl(self, self, "first", service, "u054321", (char *) NULL);
                        _exit(127);
                }
                close(p[1]);
                if (read(p[0], buf, sizeof(buf) - 1) < 0)
                        buf[0] = '\0';
                close(p[0]);
                waitpid(pid, &status, 0);
                first[i] = strtoull(buf, NULL, 10);
        }
        printf("%-10s %-30s %12.1f us\n", service, "first getpwnam, fresh process", median(first, ELEMENTSOF(first)) / 1e3);
        return 0;
}

static int first(const char *service, const char *name) {
        uint64_t t0;
        struct passwd *pw;

        configure(service);
        t0 = now_ns();
        pw = getpwnam(name);
        printf("%llu\n", (unsigned long long) (now_ns() - t0));
        return pw ? 0 : 1;
}

int main(int argc, char *argv[]) {
        int r;

        if (argc == 3 && streq(argv[1], "gen")) {
                r = gen(argv[2]);
                if (r < 0)
                        fprintf(stderr, "gen: %s\n", strerror(-r));
                return r < 0;
        }
        if (argc == 3 && streq(argv[1], "run"))
                return run("/proc/self/exe", argv[2]) < 0;
        if (argc == 4 && streq(argv[1], "first"))
                return first(argv[2], argv[3]);
        fprintf(stderr, "usage: %s gen DIR | run SERVICE | first SERVICE NAME\n", argv[0]);
        return 2;
}
