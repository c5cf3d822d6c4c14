/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nss-test-util.h"
#include "prov-snapshot-write.h"
#include "prov-util.h"

/* Everything parsed from one description; strings are owned by `lines`. */
typedef struct Desc {
        char **lines;
        size_t n_lines;
        ProvSnapMeta meta;
        ProvSnapUser *users;
        size_t n_users;
        ProvSnapGroup *groups;
        size_t n_groups;
        char ***members;        /* per group, its members' names */
        uint32_t **member_idx;  /* per group, the same as indexes into users */
} Desc;

static void desc_done(Desc *d) {
        for (size_t i = 0; i < d->n_groups; i++) {
                free(d->members[i]);
                free(d->member_idx ? d->member_idx[i] : NULL);
        }
        free(d->members);
        free(d->member_idx);
        for (size_t i = 0; i < d->n_lines; i++)
                free(d->lines[i]);
        free(d->lines);
        free(d->users);
        free(d->groups);
}

static int parse_u32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_line(Desc *d, char *line) {
        char *f[10] = {};
        size_t n = 0;
        char *p = line;

        while (p && n < ELEMENTSOF(f))
                f[n++] = strsep(&p, ":");
        if (streq(f[0], "M") && n == 5) {
                if (parse_u32(f[3], &d->meta.uid_min) < 0 || parse_u32(f[4], &d->meta.uid_max) < 0)
                        return -EINVAL;
                d->meta.generation = strtoull(f[1], NULL, 10);
                if (streq(f[2], "now")) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        d->meta.last_sync_usec = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
                } else
                        d->meta.last_sync_usec = strtoull(f[2], NULL, 10);
                return 0;
        }
        if (streq(f[0], "U") && n == 9) {
                ProvSnapUser *u;
                void *a = realloc(d->users, sizeof(ProvSnapUser) * (d->n_users + 1));
                if (!a)
                        return -ENOMEM;
                d->users = a;
                u = &d->users[d->n_users];
                *u = (ProvSnapUser) { .name = f[1], .gecos = f[4], .home = f[5], .shell = f[6] };
                u->state = prov_state_from_string(f[7]);
                if (parse_u32(f[2], &u->uid) < 0 || parse_u32(f[3], &u->gid) < 0 ||
                    parse_u32(f[8], &u->lastchg_days) < 0 || u->state < 0)
                        return -EINVAL;
                d->n_users++;
                return 0;
        }
        if (streq(f[0], "G") && n == 5) {
                ProvSnapGroup *g;
                char **m = NULL;
                size_t nm = 0;
                void *a = realloc(d->groups, sizeof(ProvSnapGroup) * (d->n_groups + 1));
                if (!a)
                        return -ENOMEM;
                d->groups = a;
                a = realloc(d->members, sizeof(char **) * (d->n_groups + 1));
                if (!a)
                        return -ENOMEM;
                d->members = a;
                for (char *q = f[4]; q && *q;) {
                        char *name = strsep(&q, ",");
                        a = realloc(m, sizeof(char *) * (nm + 1));
                        if (!a) {
                                free(m);
                                return -ENOMEM;
                        }
                        m = a;
                        m[nm++] = name;
                }
                d->members[d->n_groups] = m;
                g = &d->groups[d->n_groups];
                *g = (ProvSnapGroup) { .name = f[1], .n_members = nm };
                d->n_groups++;
                if (parse_u32(f[2], &g->gid) < 0 || parse_u32(f[3], &g->flags) < 0)
                        return -EINVAL;
                return 0;
        }
        return -EINVAL;
}

/* The writer takes members as indexes into the users: a name that is no user of the description
 * is left out, as the sync leaves out the accounts it does not serve. */
static int resolve_members(Desc *d) {
        d->member_idx = calloc(d->n_groups + 1, sizeof(uint32_t *));
        if (!d->member_idx)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_groups; i++) {
                ProvSnapGroup *g = &d->groups[i];
                size_t n = 0;

                d->member_idx[i] = calloc(g->n_members + 1, sizeof(uint32_t));
                if (!d->member_idx[i])
                        return -ENOMEM;
                for (size_t j = 0; j < g->n_members; j++)
                        for (uint32_t u = 0; u < d->n_users; u++)
                                if (streq(d->users[u].name, d->members[i][j])) {
                                        d->member_idx[i][n++] = u;
                                        break;
                                }
                g->members = d->member_idx[i];
                g->n_members = n;
        }
        return 0;
}

int test_snap_from_text(const char *out_path, FILE *in) {
        _cleanup_(desc_done) Desc d = {};
        char *line = NULL;
        size_t cap = 0;
        ssize_t k;
        int r = 0;

        while ((k = getline(&line, &cap, in)) >= 0) {
                void *a;

                if (k > 0 && line[k - 1] == '\n')
                        line[--k] = '\0';
                if (line[0] == '#' || line[0] == '\0')
                        continue;
                a = realloc(d.lines, sizeof(char *) * (d.n_lines + 1));
                if (!a) {
                        r = -ENOMEM;
                        break;
                }
                d.lines = a;
                d.lines[d.n_lines++] = line;
                r = parse_line(&d, line);
                line = NULL;
                cap = 0;
                if (r < 0)
                        break;
        }
        free(line);
        if (r < 0)
                return r;
        r = resolve_members(&d);
        if (r < 0)
                return r;
        return prov_snapshot_write(out_path, &d.meta, d.users, d.n_users, d.groups, d.n_groups);
}

int test_snap_fixture(char **ret_path) {
        _cleanup_free_ char *src = NULL, *dir = NULL, *out = NULL;
        const char *top = getenv("top_srcdir");
        FILE *f;
        int r;

        if (asprintf(&src, "%s/tests/nss/fixture.txt", top ? top : "..") < 0)
                return -ENOMEM;
        dir = strdup("/tmp/prov-nss-test.XXXXXX");
        if (!dir || !mkdtemp(dir))
                return -errno;
        /* Readable by an unprivileged child of the concurrency test. */
        if (chmod(dir, 0755) < 0)
                return -errno;
        if (asprintf(&out, "%s/snapshot", dir) < 0)
                return -ENOMEM;
        f = fopen(src, "re");
        if (!f)
                return -errno;
        r = test_snap_from_text(out, f);
        fclose(f);
        if (r < 0)
                return r;
        *ret_path = TAKE_PTR(out);
        return 0;
}

int test_nss_module_path(char **ret_path) {
        const char *top = getenv("top_builddir");

        if (asprintf(ret_path, "%s/nss_provision/.libs/libnss_provision.so.2", top ? top : ".") < 0)
                return -ENOMEM;
        return 0;
}

void test_snap_cleanup(const char *path) {
        _cleanup_free_ char *copy = NULL;

        if (!path)
                return;
        (void) unlink(path);
        copy = strdup(path);
        if (copy)
                (void) rmdir(dirname(copy));
}
