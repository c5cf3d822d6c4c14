/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot writer and reader: round trip, rejected input, truncated and corrupted files, the
 * stale mark on replacement, and the process-wide cache following replacements. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "prov-snapshot-write.h"
#include "prov-snapshot.h"
#include "prov-util.h"
#include "snapshot-format.h"

static char dir[] = "/tmp/prov-snap-test.XXXXXX";
static char path[sizeof(dir) + 16];

/* Members are indexes into users[]: alice 0, bob 1, carol 2. */
static const uint32_t devs_members[] = { 0, 1, 2, 0 };
static const uint32_t ops_members[] = { 1 };
static const uint32_t sudo_members[] = { 1, 0 };
static const uint32_t two_members[] = { 0, 1 };

static const ProvSnapUser users[] = {
        { "alice", 10001, 10001, "Alice A", "/home/alice", "/bin/bash", PROV_STATE_ACTIVE, 19000 },
        { "bob", 10002, 10002, "", "/home/bob", "/bin/sh", PROV_STATE_ACTIVE, 0 },
        { "carol", 10003, 10003, "Carol", "/home/carol", "/usr/sbin/nologin", PROV_STATE_SUSPENDED, 5 },
};
static const ProvSnapGroup groups[] = {
        { "devs", 20000, devs_members, ELEMENTSOF(devs_members), 0 },
        { "ops", 20001, ops_members, ELEMENTSOF(ops_members), 0 },
        { "sudo", 27, sudo_members, ELEMENTSOF(sudo_members), PROV_SNAP_GROUP_MAPPED },
        { "empty", 20002, NULL, 0, 0 },
};
static const ProvSnapMeta meta = {
        .generation = 42, .last_sync_usec = 1234567, .uid_min = 10000, .uid_max = 60000,
};

static int setup(void **state) {
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof(path), "%s/snapshot", dir);
        return 0;
}

static int teardown(void **state) {
        DIR *d = opendir(dir);
        struct dirent *de;

        prov_cache_flush();
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        rmdir(dir);
        return 0;
}

/* Number of entries in the test directory: the writer must not leave temp files behind. */
static unsigned dir_entries(void) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void write_fixture(uint64_t generation) {
        ProvSnapMeta m = meta;

        m.generation = generation;
        assert_int_equal(prov_snapshot_write(path, &m, users, ELEMENTSOF(users), groups, ELEMENTSOF(groups)), 0);
}

static void test_round_trip(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        ProvSnapUserView u;
        ProvSnapGroupView g;
        const char *m;
        uint32_t gid;
        struct stat st;

        write_fixture(42);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(dir_entries(), 1);

        assert_int_equal(prov_snapshot_open(path, &s), 0);
        assert_int_equal(prov_snapshot_generation(s), 42);
        assert_int_equal(prov_snapshot_last_sync_usec(s), 1234567);
        assert_true(prov_snapshot_created_usec(s) > 0);
        assert_int_equal(prov_snapshot_uid_min(s), 10000);
        assert_int_equal(prov_snapshot_uid_max(s), 60000);
        assert_int_equal(prov_snapshot_n_users(s), 3);
        assert_int_equal(prov_snapshot_n_groups(s), 4);
        assert_false(prov_snapshot_is_stale(s));

        for (size_t i = 0; i < ELEMENTSOF(users); i++) {
                assert_int_equal(prov_snapshot_user_by_name(s, users[i].name, &u), 0);
                assert_string_equal(u.name, users[i].name);
                assert_int_equal(u.uid, users[i].uid);
                assert_int_equal(u.gid, users[i].gid);
                assert_string_equal(u.gecos, users[i].gecos);
                assert_string_equal(u.home, users[i].home);
                assert_string_equal(u.shell, users[i].shell);
                assert_int_equal(u.state, users[i].state);
                assert_int_equal(u.lastchg_days, users[i].lastchg_days);
                assert_int_equal(u.index, i);
                assert_int_equal(prov_snapshot_user_by_uid(s, users[i].uid, &u), 0);
                assert_string_equal(u.name, users[i].name);
                assert_int_equal(prov_snapshot_user_at(s, i, &u), 0);
                assert_string_equal(u.name, users[i].name);
        }
        assert_int_equal(prov_snapshot_user_by_name(s, "ghost", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "alic", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_uid(s, 10004, &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_at(s, 3, &u), -ENOENT);

        /* initgroups: alice in devs and sudo, sorted; bob in devs, ops, sudo; carol (suspended) none. */
        assert_int_equal(prov_snapshot_user_by_name(s, "alice", &u), 0);
        assert_int_equal(u.n_gids, 2);
        assert_int_equal(prov_snapshot_user_gid(s, &u, 0, &gid), 0);
        assert_int_equal(gid, 27);
        assert_int_equal(prov_snapshot_user_gid(s, &u, 1, &gid), 0);
        assert_int_equal(gid, 20000);
        assert_int_equal(prov_snapshot_user_gid(s, &u, 2, &gid), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        assert_int_equal(u.n_gids, 3);
        assert_int_equal(prov_snapshot_user_gid(s, &u, 0, &gid), 0);
        assert_int_equal(gid, 27);
        assert_int_equal(prov_snapshot_user_gid(s, &u, 2, &gid), 0);
        assert_int_equal(gid, 20001);
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), 0);
        assert_int_equal(u.n_gids, 0);

        /* Members: refused (carol) and repeated ones dropped, order kept. */
        assert_int_equal(prov_snapshot_group_by_name(s, "devs", &g), 0);
        assert_int_equal(g.gid, 20000);
        assert_int_equal(g.flags, 0);
        assert_int_equal(g.n_members, 2);
        assert_int_equal(prov_snapshot_group_member(s, &g, 0, &m), 0);
        assert_string_equal(m, "alice");
        assert_int_equal(prov_snapshot_group_member(s, &g, 1, &m), 0);
        assert_string_equal(m, "bob");
        assert_int_equal(prov_snapshot_group_member(s, &g, 2, &m), -ENOENT);
        assert_int_equal(prov_snapshot_group_by_gid(s, 27, &g), 0);
        assert_string_equal(g.name, "sudo");
        assert_int_equal(g.flags, PROV_SNAP_GROUP_MAPPED);
        assert_int_equal(g.n_members, 2);
        assert_int_equal(prov_snapshot_group_member(s, &g, 0, &m), 0);
        assert_string_equal(m, "bob");
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                assert_int_equal(prov_snapshot_group_at(s, i, &g), 0);
                assert_string_equal(g.name, groups[i].name);
                assert_int_equal(prov_snapshot_group_by_gid(s, groups[i].gid, &g), 0);
                assert_string_equal(g.name, groups[i].name);
        }
        assert_int_equal(prov_snapshot_group_at(s, 4, &g), -ENOENT);
        assert_int_equal(prov_snapshot_group_by_name(s, "nope", &g), -ENOENT);
        assert_int_equal(prov_snapshot_group_by_gid(s, 20003, &g), -ENOENT);
}

static void test_empty(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        ProvSnapUserView u;

        assert_int_equal(prov_snapshot_write(path, &meta, NULL, 0, NULL, 0), 0);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        assert_int_equal(prov_snapshot_n_users(s), 0);
        assert_int_equal(prov_snapshot_user_by_name(s, "alice", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_at(s, 0, &u), -ENOENT);
}

static void test_many(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        enum { N = 5000 };
        static char names[N][16];
        static ProvSnapUser many[N];
        ProvSnapUserView u;

        for (unsigned i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "u%u", i);
                many[i] = (ProvSnapUser) { names[i], 10000 + i * 7, 10000 + i * 7, "", "/home/x", "/bin/sh",
                                           PROV_STATE_ACTIVE, 0 };
        }
        assert_int_equal(prov_snapshot_write(path, &meta, many, N, NULL, 0), 0);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        for (unsigned i = 0; i < N; i++) {
                assert_int_equal(prov_snapshot_user_by_name(s, names[i], &u), 0);
                assert_int_equal(u.uid, 10000 + i * 7);
                assert_int_equal(prov_snapshot_user_by_uid(s, 10000 + i * 7, &u), 0);
                assert_string_equal(u.name, names[i]);
        }
        assert_int_equal(prov_snapshot_user_by_uid(s, 10001, &u), -ENOENT);
}

/* Writes users/groups that must be refused, and checks that nothing reached the directory. */
static void expect_rejected(const ProvSnapMeta *m, const ProvSnapUser *u, size_t nu, const ProvSnapGroup *g,
                            size_t ng) {
        unsigned before = dir_entries();

        assert_int_equal(prov_snapshot_write(path, m, u, nu, g, ng), -EINVAL);
        assert_int_equal(dir_entries(), before);
}

static void test_rejects(void **state) {
        ProvSnapUser u[2];
        ProvSnapGroup g[2];
        ProvSnapMeta m;
        const uint32_t out_of_range[] = { 0, 2 };

        write_fixture(1); /* an existing snapshot must survive a rejected write untouched */

#define RESET() (u[0] = users[0], u[1] = users[1], g[0] = groups[0], g[1] = groups[1], m = meta, \
                 g[0].members = two_members, g[0].n_members = ELEMENTSOF(two_members))
        RESET();
        assert_int_equal(prov_snapshot_write(path, &m, u, 2, g, 2), 0);  /* what each case below breaks */
        write_fixture(1);
        RESET(), u[1].name = "alice";
        expect_rejected(&m, u, 2, g, 2);                /* duplicate user name */
        RESET(), u[1].uid = u[0].uid;
        expect_rejected(&m, u, 2, g, 2);                /* duplicate uid */
        RESET(), g[1].name = "devs";
        expect_rejected(&m, u, 2, g, 2);                /* duplicate group name */
        RESET(), g[1].gid = g[0].gid;
        expect_rejected(&m, u, 2, g, 2);                /* duplicate gid */
        RESET(), u[0].uid = 0;
        expect_rejected(&m, u, 2, g, 2);                /* root */
        RESET(), u[0].gid = 0;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), g[0].gid = 0, g[0].flags = PROV_SNAP_GROUP_MAPPED;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].uid = 999;
        expect_rejected(&m, u, 2, g, 2);                /* below uid_min */
        RESET(), u[0].uid = 60001;
        expect_rejected(&m, u, 2, g, 2);                /* above uid_max */
        RESET(), g[0].gid = 27;
        expect_rejected(&m, u, 2, g, 2);                /* below uid_min and not mapped */
        RESET(), g[0].flags = 0x80;
        expect_rejected(&m, u, 2, g, 2);                /* unknown flag */
        RESET(), u[0].gecos = NULL;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].shell = NULL;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].name = "";
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].gecos = "a:b";
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].home = "/home/a\nroot:x:0:0::/:/bin/sh";
        expect_rejected(&m, u, 2, g, 2);
        RESET(), g[0].name = "de:vs";
        expect_rejected(&m, u, 2, g, 2);
        RESET(), u[0].state = (ProvState) 7;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), g[0].members = out_of_range, g[0].n_members = 2;
        expect_rejected(&m, u, 2, g, 2);                /* a member that is no user of the snapshot */
        RESET(), g[0].members = NULL;
        expect_rejected(&m, u, 2, g, 2);
        RESET(), m.uid_min = 0;
        expect_rejected(&m, u, 2, g, 2);
        RESET();
        assert_int_equal(prov_snapshot_write(path, NULL, u, 2, g, 2), -EINVAL);
#undef RESET

        /* The old snapshot is still the published one. */
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        assert_int_equal(prov_snapshot_generation(s), 1);
        assert_false(prov_snapshot_is_stale(s));
}

static uint8_t *read_file(const char *p, size_t *ret_size) {
        struct stat st;
        uint8_t *data;
        int fd = open(p, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        data = malloc((size_t) st.st_size);
        assert_non_null(data);
        assert_int_equal(read(fd, data, (size_t) st.st_size), st.st_size);
        close(fd);
        *ret_size = (size_t) st.st_size;
        return data;
}

static void write_raw(const char *p, const uint8_t *data, size_t size) {
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        close(fd);
}

/* Touches everything a reader can reach; every call must return 0 or an error, never crash or
 * read outside the mapping. Returns the number of errors seen. */
static unsigned exercise(const ProvSnapshot *s) {
        unsigned errors = 0;
        ProvSnapUserView u;
        ProvSnapGroupView g;
        const char *m;
        uint32_t gid;

        for (size_t i = 0; i < prov_snapshot_n_users(s) && i < 64; i++) {
                if (prov_snapshot_user_at(s, i, &u) < 0) {
                        errors++;
                        continue;
                }
                for (size_t j = 0; j < u.n_gids && j < 64; j++)
                        errors += prov_snapshot_user_gid(s, &u, j, &gid) < 0;
        }
        for (size_t i = 0; i < prov_snapshot_n_groups(s) && i < 64; i++) {
                if (prov_snapshot_group_at(s, i, &g) < 0) {
                        errors++;
                        continue;
                }
                for (size_t j = 0; j < g.n_members && j < 64; j++)
                        errors += prov_snapshot_group_member(s, &g, j, &m) < 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(users); i++) {
                errors += prov_snapshot_user_by_name(s, users[i].name, &u) < 0;
                errors += prov_snapshot_user_by_uid(s, users[i].uid, &u) < 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                if (prov_snapshot_group_by_name(s, groups[i].name, &g) < 0)
                        errors++;
                else
                        for (size_t j = 0; j < g.n_members && j < 64; j++)
                                errors += prov_snapshot_group_member(s, &g, j, &m) < 0;
                errors += prov_snapshot_group_by_gid(s, groups[i].gid, &g) < 0;
        }
        errors += prov_snapshot_user_by_name(s, "ghost", &u) != -ENOENT;
        return errors;
}

/* A peek (pread, no mapping) must answer exactly as the mapped reader where the mapped reader
 * answers: the same record bytes, or no such user. Returns the number of disagreements. */
static unsigned peek_disagreements(const char *p, const ProvSnapshot *s, const char *name, uint32_t uid) {
        static char buf[70000];
        ProvSnapPasswd m, k;
        uint32_t uid_min;
        unsigned bad = 0;
        int r, q;

        r = prov_snapshot_passwd_by_name(s, name, &m);
        q = prov_snapshot_peek_passwd_by_name(p, name, buf, sizeof(buf), &k, &uid_min);
        if (r == 0)
                bad += q != 1 || k.text != buf || k.size != m.size || memcmp(k.text, m.text, m.size) != 0 ||
                       k.uid != m.uid || k.gid != m.gid || k.index != m.index || uid_min != prov_snapshot_uid_min(s);
        else if (r == -ENOENT)
                bad += q != 0;
        r = prov_snapshot_passwd_by_uid(s, uid, &m);
        q = prov_snapshot_peek_passwd_by_uid(p, uid, buf, sizeof(buf), &k, &uid_min);
        if (r == 0)
                bad += q != 1 || k.size != m.size || memcmp(k.text, m.text, m.size) != 0;
        else if (r == -ENOENT)
                bad += q != 0;
        return bad;
}

static void test_truncated(void **state) {
        _cleanup_free_ uint8_t *data = NULL;
        char tpath[sizeof(path) + 8];
        size_t size;

        write_fixture(3);
        data = read_file(path, &size);
        snprintf(tpath, sizeof(tpath), "%s.trunc", path);
        for (size_t len = 0; len < size; len++) {
                ProvSnapshot *s = NULL;

                write_raw(tpath, data, len);
                assert_int_equal(prov_snapshot_open(tpath, &s), -EBADMSG);
                assert_null(s);
                {
                        char buf[256];
                        ProvSnapPasswd k;
                        uint32_t uid_min;

                        assert_int_equal(prov_snapshot_peek_passwd_by_name(tpath, "alice", buf, sizeof(buf), &k,
                                                                           &uid_min),
                                         -EBADMSG);
                }
        }
        {
                _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
                write_raw(tpath, data, size);
                assert_int_equal(prov_snapshot_open(tpath, &s), 0);
                assert_int_equal(exercise(s), 0);
        }
        unlink(tpath);
}

/* xorshift: a fixed seed keeps failures reproducible. */
static uint32_t rnd(void) {
        static uint32_t x = 2463534242u;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
}

static void test_corrupt(void **state) {
        _cleanup_free_ uint8_t *data = NULL, *copy = NULL;
        char cpath[sizeof(path) + 8];
        unsigned opened = 0, detected = 0;
        size_t size;

        write_fixture(4);
        data = read_file(path, &size);
        copy = malloc(size);
        assert_non_null(copy);
        snprintf(cpath, sizeof(cpath), "%s.bad", path);
        for (unsigned iter = 0; iter < 3000; iter++) {
                ProvSnapshot *s = NULL;
                unsigned flips = 1 + rnd() % 4;
                int r;

                memcpy(copy, data, size);
                for (unsigned k = 0; k < flips; k++) {
                        /* Half of the flips hit the header, the rest anywhere in the body. */
                        size_t at = iter % 2 ? rnd() % sizeof(SnapHeader)
                                             : sizeof(SnapHeader) + rnd() % (size - sizeof(SnapHeader));
                        copy[at] ^= (uint8_t) (1u << (rnd() % 8));
                }
                write_raw(cpath, copy, size);
                r = prov_snapshot_open(cpath, &s);
                if (r < 0) {
                        char buf[256];
                        ProvSnapPasswd k;
                        uint32_t uid_min;

                        assert_int_equal(r, -EBADMSG);
                        assert_int_equal(prov_snapshot_peek_passwd_by_uid(cpath, 10001, buf, sizeof(buf), &k, &uid_min),
                                         -EBADMSG);
                        continue;
                }
                opened++;
                detected += exercise(s) > 0;
                for (size_t i = 0; i < ELEMENTSOF(users); i++)
                        assert_int_equal(peek_disagreements(cpath, s, users[i].name, users[i].uid), 0);
                assert_int_equal(peek_disagreements(cpath, s, "ghost", 10004), 0);
                prov_snapshot_close(s);
        }
        /* Body flips in strings or indexes are caught at access (or are harmless). */
        assert_true(opened > 0);
        print_message("corrupt: %u of 3000 opened, %u with errors at access\n", opened, detected);
        unlink(cpath);
}

static void test_missing(void **state) {
        ProvSnapshot *s = NULL;
        const ProvSnapshot *cs = NULL;
        char mpath[sizeof(path) + 8];

        snprintf(mpath, sizeof(mpath), "%s.none", path);
        assert_int_equal(prov_snapshot_open(mpath, &s), -ENOENT);
        assert_int_equal(prov_cache_acquire(mpath, &cs), -ENOENT);
        assert_int_equal(prov_snapshot_open(dir, &s), -EBADMSG); /* a directory */
}

/* Format 3: records as getpwnam_r/getgrnam_r lay them out, and small passwd records inside one
 * cache line. */
static void test_stored_form(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        ProvSnapPasswd p;
        ProvSnapGroupRecord g;
        static const char alice[] = "alice\0x\0Alice A\0/home/alice\0/bin/bash";
        static const char devs[] = "devs\0x\0alice\0bob";

        write_fixture(1);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        assert_int_equal(prov_snapshot_passwd_by_name(s, "alice", &p), 0);
        assert_int_equal(p.size, sizeof(alice));
        assert_memory_equal(p.text, alice, sizeof(alice));
        assert_int_equal(p.name_len, 5);
        assert_int_equal(p.uid, 10001);
        assert_int_equal(p.index, 0);
        /* Header and text in one 64-byte line. */
        assert_int_equal(((uintptr_t) p.text - sizeof(SnapPasswd)) / 64, ((uintptr_t) p.text + p.size - 1) / 64);
        assert_int_equal(prov_snapshot_passwd_by_uid(s, 10002, &p), 0);
        assert_string_equal(p.text, "bob");
        assert_int_equal(prov_snapshot_passwd_at(s, 2, &p), 0);
        assert_string_equal(p.text, "carol");
        assert_int_equal(prov_snapshot_passwd_by_name(s, "alic", &p), -ENOENT);
        assert_int_equal(prov_snapshot_passwd_at(s, 3, &p), -ENOENT);

        /* devs: carol suspended, alice listed twice. */
        assert_int_equal(prov_snapshot_group_record_by_name(s, "devs", &g), 0);
        assert_int_equal(g.size, sizeof(devs));
        assert_memory_equal(g.text, devs, sizeof(devs));
        assert_int_equal(g.n_members, 2);
        assert_int_equal(g.member_bytes, strlen("alice") + 1 + strlen("bob") + 1);
        assert_int_equal(g.member_off[0], 0);
        assert_int_equal(g.member_off[1], 6);
        assert_int_equal(prov_snapshot_group_record_by_gid(s, 27, &g), 0);
        assert_string_equal(g.text, "sudo");
        assert_int_equal(g.flags, PROV_SNAP_GROUP_MAPPED);
        assert_int_equal(prov_snapshot_group_record_at(s, 3, &g), 0);
        assert_string_equal(g.text, "empty");
        assert_int_equal(g.n_members, 0);
        assert_int_equal(g.member_bytes, 0);
}

/* Peeks: the first lookups of a process read the file instead of mapping it. Same answers as the
 * mapping, records longer than the first read, short buffers, misses, probe runs over many
 * slots and around the end of the table, files that cannot be used. */
static void test_peek(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        enum { N = 3000 };
        static char names[N][16], gecos[N][200];
        static ProvSnapUser many[N];
        char buf[512], mpath[sizeof(path) + 8];
        ProvSnapPasswd k;
        uint32_t uid_min = 0;
        size_t size;

        write_fixture(1);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        for (size_t i = 0; i < ELEMENTSOF(users); i++)
                assert_int_equal(peek_disagreements(path, s, users[i].name, users[i].uid), 0);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "alice", buf, sizeof(buf), &k, &uid_min), 1);
        assert_ptr_equal(k.text, buf);
        assert_memory_equal(buf, "alice\0x\0Alice A\0/home/alice\0/bin/bash", k.size);
        assert_int_equal(uid_min, 10000);
        /* The text needs k.size bytes: one less is ERANGE, exactly that much is enough. */
        size = k.size;
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "alice", buf, size - 1, &k, &uid_min), -ERANGE);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "alice", buf, size, &k, &uid_min), 1);
        assert_int_equal(prov_snapshot_peek_passwd_by_uid(path, 10003, buf, sizeof(buf), &k, &uid_min), 1);
        assert_string_equal(k.text, "carol");
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "alic", buf, sizeof(buf), &k, &uid_min), 0);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "", buf, sizeof(buf), &k, &uid_min), 0);
        assert_int_equal(prov_snapshot_peek_passwd_by_uid(path, 10004, buf, sizeof(buf), &k, &uid_min), 0);
        /* A file that cannot be used is an error, never "no such user". */
        snprintf(mpath, sizeof(mpath), "%s.none", path);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(mpath, "alice", buf, sizeof(buf), &k, &uid_min), -ENOENT);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(dir, "alice", buf, sizeof(buf), &k, &uid_min), -EBADMSG);
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, NULL, buf, sizeof(buf), &k, &uid_min), -EINVAL);
        s = prov_snapshot_close(s);

        /* Many users, some with records longer than the 128 bytes a peek reads first. */
        for (unsigned i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "p%u", i);
                snprintf(gecos[i], sizeof(gecos[i]), "%.*s", (int) (i % 7 == 0 ? 150 + i % 40 : i % 30),
                         "A long GECOS field, room 123, building 4, telephone +49 30 1234567, other "
                         "A long GECOS field, room 123, building 4, telephone +49 30 1234567, other "
                         "A long GECOS field, room 123, building 4");
                many[i] = (ProvSnapUser) { names[i], 10000 + i * 3, 10000 + i * 3, gecos[i], "/home/x", "/bin/sh",
                                           PROV_STATE_ACTIVE, 0 };
        }
        assert_int_equal(prov_snapshot_write(path, &meta, many, N, NULL, 0), 0);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        for (unsigned i = 0; i < N; i++) {
                assert_int_equal(peek_disagreements(path, s, names[i], 10000 + i * 3), 0);
                assert_int_equal(peek_disagreements(path, s, "nosuch", 10001 + i * 3), 0);
        }
        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, "p7", buf, 100, &k, &uid_min), -ERANGE);
}

/* The name hash reads a name by words and its last bytes by overlapping reads: names of every
 * length up to 64 bytes, each in a buffer of exactly its size (so that ASan and valgrind see a
 * read past the end), are found by the mapping and by a peek, and a name that differs from one of
 * them in any single byte is not. */
static void test_names_of_every_length(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *s = NULL;
        enum { N = 64 };
        char *names[N] = {}, buf[512];
        ProvSnapUser us[N];
        ProvSnapPasswd p;
        uint32_t uid_min;

        for (size_t i = 0; i < N; i++) {
                size_t len = i + 1;

                names[i] = malloc(len + 1);
                assert_non_null(names[i]);
                for (size_t j = 0; j < len; j++)
                        names[i][j] = (char) ('a' + (i + j) % 26);
                names[i][len] = '\0';
                us[i] = (ProvSnapUser) { names[i], 20000 + i, 20000 + i, "", "/home/x", "/bin/sh", PROV_STATE_ACTIVE, 0 };
        }
        assert_int_equal(prov_snapshot_write(path, &meta, us, N, NULL, 0), 0);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        for (size_t i = 0; i < N; i++) {
                size_t len = i + 1;

                assert_int_equal(prov_snapshot_passwd_by_name(s, names[i], &p), 0);
                assert_int_equal(p.uid, 20000 + i);
                assert_int_equal(peek_disagreements(path, s, names[i], 20000 + i), 0);
                assert_int_equal(prov_snapshot_peek_passwd_by_name(path, names[i], buf, sizeof(buf), &p, &uid_min), 1);
                assert_int_equal(p.uid, 20000 + i);
                for (size_t j = 0; j < len; j++) {
                        char saved = names[i][j];

                        names[i][j] = 'Z';
                        assert_int_equal(prov_snapshot_passwd_by_name(s, names[i], &p), -ENOENT);
                        assert_int_equal(prov_snapshot_peek_passwd_by_name(path, names[i], buf, sizeof(buf), &p, &uid_min), 0);
                        names[i][j] = saved;
                }
        }
        for (size_t i = 0; i < N; i++)
                free(names[i]);
}

/* A file of another format version (3, the one before) is refused cleanly, and a sync that
 * changed nothing cannot merely touch it: it must be written again in this format. */
static void test_other_version(void **state) {
        _cleanup_free_ uint8_t *data = NULL;
        ProvSnapshot *s = NULL;
        size_t size;

        for (uint32_t v = 1; v <= PROV_SNAP_VERSION + 1; v++) {
                if (v == PROV_SNAP_VERSION)
                        continue;
                write_fixture(1);
                free(data);
                data = read_file(path, &size);
                memcpy(data + offsetof(SnapHeader, version), &v, sizeof(v));
                write_raw(path, data, size);
                assert_int_equal(prov_snapshot_open(path, &s), -EBADMSG);
                assert_null(s);
                assert_int_equal(prov_snapshot_touch(path, 5), -ENOENT);
        }
}

static void test_stale_on_replace(void **state) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *a = NULL, *b = NULL;

        write_fixture(10);
        assert_int_equal(prov_snapshot_open(path, &a), 0);
        assert_false(prov_snapshot_is_stale(a));
        write_fixture(11);
        /* The old mapping sees the writer's mark without any syscall. */
        assert_true(prov_snapshot_is_stale(a));
        assert_int_equal(prov_snapshot_generation(a), 10);
        assert_int_equal(exercise(a), 0); /* still fully readable */
        assert_int_equal(prov_snapshot_open(path, &b), 0);
        assert_false(prov_snapshot_is_stale(b));
        assert_int_equal(prov_snapshot_generation(b), 11);
        assert_int_equal(dir_entries(), 1);
}

static uint64_t cache_generation(void) {
        const ProvSnapshot *s;
        uint64_t gen;

        assert_int_equal(prov_cache_acquire(path, &s), 0);
        gen = prov_snapshot_generation(s);
        prov_cache_release();
        return gen;
}

static void test_cache_remap(void **state) {
        _cleanup_free_ uint8_t *data = NULL;
        char tpath[sizeof(path) + 8];
        size_t size;

        write_fixture(20);
        assert_int_equal(cache_generation(), 20);
        assert_int_equal(cache_generation(), 20);
        write_fixture(21);
        assert_int_equal(cache_generation(), 21);

        /* A writer that died between rename and marking: the file is replaced without the mark.
         * The cache must notice by inode on its periodic stat. */
        write_fixture(22);
        data = read_file(path, &size);
        write_fixture(21);
        assert_int_equal(cache_generation(), 21);
        snprintf(tpath, sizeof(tpath), "%s.new", path);
        write_raw(tpath, data, size);
        assert_int_equal(rename(tpath, path), 0);
        bool seen = false;
        for (unsigned i = 0; i < 100 && !seen; i++) { /* the check runs at most once a second */
                seen = cache_generation() == 22;
                if (!seen)
                        usleep(100 * 1000);
        }
        assert_true(seen);

        /* The file disappears: the cache stops serving the old one. */
        assert_int_equal(unlink(path), 0);
        const ProvSnapshot *s;
        int r = -1;
        for (unsigned i = 0; i < 100 && r != -ENOENT; i++) {
                r = prov_cache_acquire(path, &s);
                if (r >= 0) {
                        prov_cache_release();
                        usleep(100 * 1000);
                }
        }
        assert_int_equal(r, -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_many),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_missing),
                cmocka_unit_test(test_stored_form),
                cmocka_unit_test(test_peek),
                cmocka_unit_test(test_names_of_every_length),
                cmocka_unit_test(test_other_version),
                cmocka_unit_test(test_stale_on_replace),
                cmocka_unit_test(test_cache_remap),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
