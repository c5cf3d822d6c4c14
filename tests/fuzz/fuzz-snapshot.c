/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The snapshot reader on arbitrary bytes: open, then touch every record, string, gid and member
 * through every accessor, and look each record up again by name and by id. Whatever the file
 * holds, the reader may fail (-EBADMSG) but never read outside the mapping. Peeks (pread, no
 * mapping) must agree with the mapped lookups. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "prov-snapshot.h"

/* Reads a borrowed string to its end (ASan catches a string that runs off the mapping). */
static size_t touch(const char *s) {
        FUZZ_CHECK(s);
        return strlen(s);
}

/* A peek (pread, no mapping) answers as the mapped reader wherever the mapped reader answers:
 * the same bytes, or no such user. */
static void peek_agrees(const char *path, const ProvSnapshot *s, const char *name, uint32_t uid) {
        static char buf[70000];
        ProvSnapPasswd m, k;
        uint32_t uid_min;
        int r, q;

        r = prov_snapshot_passwd_by_name(s, name, &m);
        q = prov_snapshot_peek_passwd_by_name(path, name, buf, sizeof(buf), &k, &uid_min);
        if (r == 0)
                FUZZ_CHECK(q == 1 && k.size == m.size && memcmp(k.text, m.text, m.size) == 0);
        else if (r == -ENOENT)
                FUZZ_CHECK(q == 0);
        r = prov_snapshot_passwd_by_uid(s, uid, &m);
        q = prov_snapshot_peek_passwd_by_uid(path, uid, buf, sizeof(buf), &k, &uid_min);
        if (r == 0)
                FUZZ_CHECK(q == 1 && k.size == m.size && memcmp(k.text, m.text, m.size) == 0);
        else if (r == -ENOENT)
                FUZZ_CHECK(q == 0);
}

static void walk_users(const char *path, const ProvSnapshot *s) {
        size_t n = prov_snapshot_n_users(s);

        for (size_t i = 0; i < n; i++) {
                ProvSnapUserView u, again;
                uint32_t gid;

                if (prov_snapshot_user_at(s, i, &u) < 0)
                        continue;
                (void) (touch(u.name) + touch(u.gecos) + touch(u.home) + touch(u.shell));
                for (size_t k = 0; k < u.n_gids; k++)
                        if (prov_snapshot_user_gid(s, &u, k, &gid) < 0)
                                break;
                if (prov_snapshot_user_by_name(s, u.name, &again) >= 0)
                        (void) touch(again.name);
                if (prov_snapshot_user_by_uid(s, u.uid, &again) >= 0)
                        (void) touch(again.name);
        }
        /* Out of range is an error, not a read. */
        FUZZ_CHECK(prov_snapshot_user_at(s, n, &(ProvSnapUserView) {}) < 0);

        /* The stored form: the whole text is readable and ends with a NUL. */
        for (size_t i = 0; i < n; i++) {
                ProvSnapPasswd p, again;

                if (prov_snapshot_passwd_at(s, i, &p) < 0)
                        continue;
                FUZZ_CHECK(p.size > p.name_len + 2 && p.text[p.size - 1] == '\0');
                FUZZ_CHECK(memchr(p.text, '\0', p.size) != NULL);
                if (prov_snapshot_passwd_by_name(s, p.text, &again) >= 0)
                        FUZZ_CHECK(again.text[again.size - 1] == '\0');
                if (prov_snapshot_passwd_by_uid(s, p.uid, &again) >= 0)
                        FUZZ_CHECK(again.uid == p.uid);
                if (i < 64)
                        peek_agrees(path, s, p.text, p.uid);
        }
}

/* A group's stored form: text and offset array readable; members where the offsets allow. */
static void walk_group_records(const ProvSnapshot *s) {
        size_t n = prov_snapshot_n_groups(s);

        for (size_t i = 0; i < n; i++) {
                ProvSnapGroupRecord g, again;
                size_t sum = 0;

                if (prov_snapshot_group_record_at(s, i, &g) < 0)
                        continue;
                FUZZ_CHECK(g.size == g.name_len + 3 + g.member_bytes && g.text[g.size - 1] == '\0');
                for (size_t k = 0; k < g.n_members; k++)
                        if (g.member_off[k] < g.member_bytes)
                                sum += strlen(g.text + g.name_len + 3 + g.member_off[k]);
                (void) sum;
                if (prov_snapshot_group_record_by_name(s, g.text, &again) >= 0)
                        FUZZ_CHECK(again.text[again.size - 1] == '\0');
                if (prov_snapshot_group_record_by_gid(s, g.gid, &again) >= 0)
                        FUZZ_CHECK(again.gid == g.gid);
        }
        FUZZ_CHECK(prov_snapshot_group_record_at(s, n, &(ProvSnapGroupRecord) {}) < 0);
}

static void walk_groups(const ProvSnapshot *s) {
        size_t n = prov_snapshot_n_groups(s);

        for (size_t i = 0; i < n; i++) {
                ProvSnapGroupView g, again;
                const char *m;
                size_t len;

                if (prov_snapshot_group_at(s, i, &g) < 0)
                        continue;
                (void) touch(g.name);
                for (size_t k = 0; k < g.n_members; k++) {
                        if (prov_snapshot_group_member(s, &g, k, &m) < 0)
                                break;
                        (void) touch(m);
                        if (prov_snapshot_group_member_len(s, &g, k, &m, &len) >= 0)
                                FUZZ_CHECK(strlen(m) == len);
                }
                if (prov_snapshot_group_by_name(s, g.name, &again) >= 0)
                        (void) touch(again.name);
                if (prov_snapshot_group_by_gid(s, g.gid, &again) >= 0)
                        (void) touch(again.name);
        }
        FUZZ_CHECK(prov_snapshot_group_at(s, n, &(ProvSnapGroupView) {}) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        _cleanup_close_ int fd = -1;
        char path[64];
        ProvSnapUserView u;
        ProvSnapGroupView g;

        fd = fuzz_memfd("fuzz-snapshot", data, size);
        if (fd < 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (prov_snapshot_open(path, &s) < 0) {
                char buf[256];
                ProvSnapPasswd k;
                uint32_t uid_min;

                FUZZ_CHECK(!s);
                /* What the mapping refuses at open, a peek refuses too. */
                FUZZ_CHECK(prov_snapshot_peek_passwd_by_uid(path, 1000, buf, sizeof(buf), &k, &uid_min) < 0);
                return 0;
        }
        (void) prov_snapshot_generation(s);
        (void) prov_snapshot_is_stale(s);
        walk_users(path, s);
        peek_agrees(path, s, "nosuchuser", UINT32_MAX);
        walk_groups(s);
        walk_group_records(s);
        /* Names and ids that are not in the file, including the empty name. */
        (void) prov_snapshot_user_by_name(s, "", &u);
        (void) prov_snapshot_user_by_name(s, "nosuchuser", &u);
        (void) prov_snapshot_user_by_uid(s, 0, &u);
        (void) prov_snapshot_user_by_uid(s, UINT32_MAX, &u);
        (void) prov_snapshot_group_by_name(s, "", &g);
        (void) prov_snapshot_group_by_gid(s, UINT32_MAX, &g);
        return 0;
}
