/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* snapcheck SNAPSHOT [--dump]: opens a snapshot, reads every record through every accessor, checks
 * that each user and group is found again by name and by id, and prints
 *     generation G users U groups N digest D
 * where D is a hash of the content (not of the bytes: the creation time and the last-sync time are
 * left out), so that two syncs that converged print the same line. --dump also prints every record
 * as passwd and group lines. Exit 0 if the file is valid, 1 if it is not (with the reason), 2 on
 * usage errors. Used by the crash-consistency, hostile-input and disk-full tests. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "prov-snapshot.h"
#include "prov-util.h"

static uint64_t digest = 14695981039346656037ULL;

/* FNV-1a over the bytes and a separator, so that ("ab", "c") and ("a", "bc") differ. */
static void mix(const void *p, size_t n) {
        const unsigned char *c = p;

        for (size_t i = 0; i < n; i++)
                digest = (digest ^ c[i]) * 1099511628211ULL;
        digest = (digest ^ 0xff) * 1099511628211ULL;
}

static void mix_str(const char *s) {
        mix(s, strlen(s));
}

static void mix_u32(uint32_t v) {
        mix(&v, sizeof(v));
}

static int fail(const char *what, size_t index) {
        fprintf(stderr, "snapcheck: %s (record %zu)\n", what, index);
        return 1;
}

static int check_users(const ProvSnapshot *s, bool dump) {
        for (size_t i = 0; i < prov_snapshot_n_users(s); i++) {
                ProvSnapUserView u, again;
                uint32_t gid;

                if (prov_snapshot_user_at(s, i, &u) < 0)
                        return fail("user record unreadable", i);
                if (prov_snapshot_user_by_name(s, u.name, &again) < 0 || again.index != u.index)
                        return fail("user not found by name", i);
                if (prov_snapshot_user_by_uid(s, u.uid, &again) < 0 || again.index != u.index)
                        return fail("user not found by uid", i);
                mix_str(u.name), mix_str(u.gecos), mix_str(u.home), mix_str(u.shell);
                mix_u32(u.uid), mix_u32(u.gid), mix_u32((uint32_t) u.state);
                if (dump)
                        printf("passwd %s:x:%" PRIu32 ":%" PRIu32 ":%s:%s:%s:%s", u.name, u.uid, u.gid, u.gecos,
                               u.home, u.shell, prov_state_to_string(u.state));
                for (size_t k = 0; k < u.n_gids; k++) {
                        if (prov_snapshot_user_gid(s, &u, k, &gid) < 0)
                                return fail("supplementary gid unreadable", i);
                        mix_u32(gid);
                        if (dump)
                                printf("%s%" PRIu32, k == 0 ? ":" : ",", gid);
                }
                if (dump)
                        putchar('\n');
        }
        return 0;
}

static int check_groups(const ProvSnapshot *s, bool dump) {
        for (size_t i = 0; i < prov_snapshot_n_groups(s); i++) {
                ProvSnapGroupView g, again;
                const char *m;

                if (prov_snapshot_group_at(s, i, &g) < 0)
                        return fail("group record unreadable", i);
                if (prov_snapshot_group_by_name(s, g.name, &again) < 0 || again.index != g.index)
                        return fail("group not found by name", i);
                if (prov_snapshot_group_by_gid(s, g.gid, &again) < 0 || again.index != g.index)
                        return fail("group not found by gid", i);
                mix_str(g.name), mix_u32(g.gid), mix_u32(g.flags);
                if (dump)
                        printf("group %s:x:%" PRIu32 ":", g.name, g.gid);
                for (size_t k = 0; k < g.n_members; k++) {
                        if (prov_snapshot_group_member(s, &g, k, &m) < 0)
                                return fail("group member unreadable", i);
                        mix_str(m);
                        if (dump)
                                printf("%s%s", k == 0 ? "" : ",", m);
                }
                if (dump)
                        putchar('\n');
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        bool dump = argc == 3 && strcmp(argv[2], "--dump") == 0;
        int r;

        if (argc < 2 || (argc == 3 && !dump) || argc > 3) {
                fprintf(stderr, "usage: %s SNAPSHOT [--dump]\n", argv[0]);
                return 2;
        }
        r = prov_snapshot_open(argv[1], &s);
        if (r < 0) {
                fprintf(stderr, "snapcheck: %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        if (check_users(s, dump) || check_groups(s, dump))
                return 1;
        printf("generation %" PRIu64 " users %zu groups %zu digest %016" PRIx64 "\n", prov_snapshot_generation(s),
               prov_snapshot_n_users(s), prov_snapshot_n_groups(s), digest);
        return 0;
}
