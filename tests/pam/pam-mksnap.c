/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pam-mksnap OUTPUT: writes a snapshot with prov_snapshot_write() from a text description on
 * stdin, for tests/pam/test-pam.sh. The format is the one of the NSS tests' fixture.txt, so that
 * one helper can serve both once they meet:
 *
 *   # comment
 *   M:generation:last_sync_usec:uid_min:uid_max        (last_sync_usec "now" = current time)
 *   U:name:uid:gid:gecos:home:shell:state:lastchg_days
 *   G:name:gid:flags:member,member,...
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"

#define MAX_RECORDS 64
#define MAX_MEMBERS 16
#define MAX_FIELDS 9

/* Splits line at ':' into at most MAX_FIELDS fields; returns their number. */
static size_t split(char *line, char *fields[static MAX_FIELDS]) {
        size_t n = 0;
        char *p = line;

        while (p && n < MAX_FIELDS)
                fields[n++] = strsep(&p, ":");
        return p ? MAX_FIELDS + 1 : n;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;

        if (parse_u64(s, &v) < 0 || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int main(int argc, char *argv[]) {
        static ProvSnapUser users[MAX_RECORDS];
        static ProvSnapGroup groups[MAX_RECORDS];
        static const char *members[MAX_RECORDS][MAX_MEMBERS];
        ProvSnapMeta meta = { .generation = 1, .last_sync_usec = now_usec(), .uid_min = 1000, .uid_max = 60000 };
        size_t n_users = 0, n_groups = 0, lineno = 0;
        char line[1024];
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s OUTPUT < DESCRIPTION\n", argv[0]);
                return 2;
        }

        while (fgets(line, sizeof line, stdin)) {
                char *f[MAX_FIELDS + 1];
                size_t n, l = strlen(line);
                bool bad = false;

                lineno++;
                if (l > 0 && line[l - 1] == '\n')
                        line[--l] = '\0';
                if (l == 0 || line[0] == '#')
                        continue;
                n = split(line, f);

                if (streq(f[0], "M") && n == 5) {
                        if (streq(f[2], "now"))
                                meta.last_sync_usec = now_usec();
                        else
                                bad = parse_u64(f[2], &meta.last_sync_usec) < 0;
                        bad = bad || parse_u64(f[1], &meta.generation) < 0 ||
                              parse_u32(f[3], &meta.uid_min) < 0 || parse_u32(f[4], &meta.uid_max) < 0;
                } else if (streq(f[0], "U") && n == 9 && n_users < MAX_RECORDS) {
                        ProvSnapUser *u = &users[n_users++];

                        *u = (ProvSnapUser) {
                                .name = strdup(f[1]), .gecos = strdup(f[4]), .home = strdup(f[5]),
                                .shell = strdup(f[6]), .state = prov_state_from_string(f[7]),
                        };
                        bad = !u->name || !u->gecos || !u->home || !u->shell || u->state < 0 ||
                              parse_u32(f[2], &u->uid) < 0 || parse_u32(f[3], &u->gid) < 0 ||
                              parse_u32(f[8], &u->lastchg_days) < 0;
                } else if (streq(f[0], "G") && n == 5 && n_groups < MAX_RECORDS) {
                        ProvSnapGroup *g = &groups[n_groups];
                        char *list = strdup(f[4]), *p = list, *m;
                        size_t k = 0;

                        *g = (ProvSnapGroup) { .name = strdup(f[1]), .members = members[n_groups] };
                        bad = !list || !g->name || parse_u32(f[2], &g->gid) < 0 || parse_u32(f[3], &g->flags) < 0;
                        while (!bad && p && (m = strsep(&p, ","))) {
                                if (m[0] == '\0')
                                        continue;
                                if (k >= MAX_MEMBERS) {
                                        bad = true;
                                        break;
                                }
                                members[n_groups][k++] = m;
                        }
                        g->n_members = k;
                        n_groups++;
                } else
                        bad = true;

                if (bad) {
                        fprintf(stderr, "pam-mksnap: line %zu: malformed or too many records\n", lineno);
                        return 1;
                }
        }

        r = prov_snapshot_write(argv[1], &meta, users, n_users, groups, n_groups);
        if (r < 0) {
                fprintf(stderr, "pam-mksnap: %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
