/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SSH keys file (common/sshkeys-*.c): round trip, refusal of truncated and corrupt files
 * without a crash, and provision-ssh-keys run against a snapshot and a keys file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "prov-snapshot-write.h"
#include "prov-sshkeys.h"
#include "prov-util.h"

#define KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKGY9I6wI1IhlJ6tfn6VMdMTostAdtF9ipPR7LU6v2G a@x"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDSy6iuF0z5tI1wsdzf3vafu3CYkidUC/6w4hiildjp1 b@y"

typedef struct Fixture {
        char dir[64];
        char keys[128], snap[128];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-sshkeys-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->keys, sizeof(f->keys), "%s/ssh-keys", f->dir);
        snprintf(f->snap, sizeof(f->snap), "%s/snapshot", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        unlink(f->keys);
        unlink(f->snap);
        rmdir(f->dir);
        free(f);
        return 0;
}

static void read_all(const char *path, uint8_t **ret, size_t *ret_n) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        *ret = malloc((size_t) st.st_size + 1);
        assert_non_null(*ret);
        assert_int_equal(read(fd, *ret, (size_t) st.st_size), st.st_size);
        *ret_n = (size_t) st.st_size;
        close(fd);
}

static void write_all(const char *path, const uint8_t *buf, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, n), (ssize_t) n);
        close(fd);
}

static void test_round_trip(void **state) {
        Fixture *f = *state;
        ProvSshKeysRecord recs[] = {
                { .name = "zed", .keys = KEY_A, .uid = 200003 },
                { .name = "ada", .keys = KEY_A "\n" KEY_B, .uid = 200001 },
                { .name = "mo", .keys = KEY_B, .uid = 200002 },
        };
        ProvSshKeys *k = NULL;
        const char *keys;
        uint32_t uid;
        size_t len;
        struct stat st;

        assert_int_equal(prov_sshkeys_write(f->keys, 42, recs, ELEMENTSOF(recs)), 0);
        assert_int_equal(stat(f->keys, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);

        assert_int_equal(prov_sshkeys_open(f->keys, &k), 0);
        assert_int_equal(prov_sshkeys_generation(k), 42);
        assert_int_equal(prov_sshkeys_count(k), 3);
        assert_int_equal(prov_sshkeys_lookup(k, "ada", &uid, &keys, &len), 0);
        assert_int_equal(uid, 200001);
        assert_string_equal(keys, KEY_A "\n" KEY_B);
        assert_int_equal(len, strlen(KEY_A "\n" KEY_B));
        assert_int_equal(prov_sshkeys_lookup(k, "mo", &uid, &keys, NULL), 0);
        assert_int_equal(uid, 200002);
        assert_string_equal(keys, KEY_B);
        assert_int_equal(prov_sshkeys_lookup(k, "zed", &uid, &keys, NULL), 0);
        assert_int_equal(uid, 200003);
        assert_int_equal(prov_sshkeys_lookup(k, "bob", &uid, &keys, NULL), -ENOENT);
        assert_int_equal(prov_sshkeys_lookup(k, "", &uid, &keys, NULL), -ENOENT);
        assert_int_equal(prov_sshkeys_lookup(k, "zzz", &uid, &keys, NULL), -ENOENT);
        assert_int_equal(prov_sshkeys_lookup(k, "ad", &uid, &keys, NULL), -ENOENT);
        assert_int_equal(prov_sshkeys_lookup(k, "adaa", &uid, &keys, NULL), -ENOENT);
        k = prov_sshkeys_close(k);
        assert_null(k);

        /* No records: a valid, empty file. */
        assert_int_equal(prov_sshkeys_write(f->keys, 43, NULL, 0), 0);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), 0);
        assert_int_equal(prov_sshkeys_count(k), 0);
        assert_int_equal(prov_sshkeys_generation(k), 43);
        assert_int_equal(prov_sshkeys_lookup(k, "ada", &uid, &keys, NULL), -ENOENT);
        prov_sshkeys_close(k);

        /* A name twice, an empty name or keys: refused, and the file in place is kept. */
        ProvSshKeysRecord dup[] = { { .name = "a", .keys = KEY_A, .uid = 1 }, { .name = "a", .keys = KEY_B, .uid = 2 } };
        assert_int_equal(prov_sshkeys_write(f->keys, 44, dup, 2), -EINVAL);
        ProvSshKeysRecord empty[] = { { .name = "a", .keys = "", .uid = 1 } };
        assert_int_equal(prov_sshkeys_write(f->keys, 44, empty, 1), -EINVAL);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), 0);
        assert_int_equal(prov_sshkeys_generation(k), 43);
        prov_sshkeys_close(k);

        assert_int_equal(prov_sshkeys_open("/nonexistent/ssh-keys", &k), -ENOENT);

        /* Many records: collisions, probes that wrap around the table. */
        enum { MANY = 3000 };
        ProvSshKeysRecord *many = calloc(MANY, sizeof(*many));
        char (*names)[16] = calloc(MANY, 16);
        assert_non_null(many);
        assert_non_null(names);
        for (size_t i = 0; i < MANY; i++) {
                snprintf(names[i], 16, "u%zu", i);
                many[i] = (ProvSshKeysRecord) { .name = names[i], .keys = i % 2 ? KEY_A : KEY_B, .uid = (uint32_t) i };
        }
        assert_int_equal(prov_sshkeys_write(f->keys, 9, many, MANY), 0);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), 0);
        for (size_t i = 0; i < MANY; i++) {
                char n[16];
                snprintf(n, sizeof(n), "u%zu", i);
                assert_int_equal(prov_sshkeys_lookup(k, n, &uid, &keys, NULL), 0);
                assert_int_equal(uid, i);
                assert_string_equal(keys, i % 2 ? KEY_A : KEY_B);
                snprintf(n, sizeof(n), "x%zu", i);
                assert_int_equal(prov_sshkeys_lookup(k, n, &uid, &keys, NULL), -ENOENT);
        }
        prov_sshkeys_close(k);
        free(many);
        free(names);
}

/* Every lookup a reader could make on a damaged file: must fail or answer, never crash (valgrind
 * watches the reads). */
static void probe(const char *path) {
        static const char *const names[] = { "ada", "mo", "zed", "bob", "" };
        ProvSshKeys *k = NULL;
        const char *keys;
        uint32_t uid;
        size_t len;

        if (prov_sshkeys_open(path, &k) < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (prov_sshkeys_lookup(k, names[i], &uid, &keys, &len) == 0)
                        assert_true(strlen(keys) == len && len > 0);
        prov_sshkeys_close(k);
}

static void test_truncated_and_corrupt(void **state) {
        Fixture *f = *state;
        ProvSshKeysRecord recs[] = {
                { .name = "ada", .keys = KEY_A "\n" KEY_B, .uid = 200001 },
                { .name = "mo", .keys = KEY_B, .uid = 200002 },
                { .name = "zed", .keys = KEY_A, .uid = 200003 },
        };
        _cleanup_free_ uint8_t *good = NULL;
        _cleanup_free_ uint8_t *bad = NULL;
        ProvSshKeys *k = NULL;
        size_t n;

        assert_int_equal(prov_sshkeys_write(f->keys, 7, recs, ELEMENTSOF(recs)), 0);
        read_all(f->keys, &good, &n);
        bad = malloc(n + 16);
        assert_non_null(bad);

        /* Every truncation is refused at open: the header states the size. */
        for (size_t len = 0; len < n; len++) {
                write_all(f->keys, good, len);
                assert_int_equal(prov_sshkeys_open(f->keys, &k), -EBADMSG);
        }
        /* So is an extended one, another magic, another version. */
        memcpy(bad, good, n);
        memset(bad + n, 'x', 16);
        write_all(f->keys, bad, n + 16);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), -EBADMSG);
        memcpy(bad, good, n);
        bad[0] = 'X';
        write_all(f->keys, bad, n);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), -EBADMSG);
        memcpy(bad, good, n);
        bad[8] = 2;
        write_all(f->keys, bad, n);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), -EBADMSG);

        /* Every single byte set to a few hostile values, everywhere: no crash, no read outside. */
        static const uint8_t values[] = { 0x00, 0xff, 0x7f, 0x01, '\n' };
        for (size_t i = 0; i < n; i++)
                for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                        memcpy(bad, good, n);
                        bad[i] = values[v];
                        write_all(f->keys, bad, n);
                        probe(f->keys);
                }

        /* A record count beyond the file is refused at open. */
        memcpy(bad, good, n);
        bad[12] = 0xff;
        bad[13] = 0xff;
        write_all(f->keys, bad, n);
        assert_int_equal(prov_sshkeys_open(f->keys, &k), -EBADMSG);
}

/* Runs provision-ssh-keys USER with the fixture's files; its stdout in out (NUL-terminated), the
 * exit code returned. */
static int run_helper(Fixture *f, const char *user, char *out, size_t size) {
        const char *top = getenv("top_builddir");
        char helper[512];
        int fds[2], status;
        size_t n = 0;
        ssize_t k;
        pid_t pid;

        snprintf(helper, sizeof(helper), "%s/sshkeys/provision-ssh-keys", top ?: ".");
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                setenv("PROVISION_SNAPSHOT", f->snap, 1);
                setenv("PROVISION_SSH_KEYS", f->keys, 1);
                execl(helper, helper, user, (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        while (n + 1 < size && (k = read(fds[0], out + n, size - 1 - n)) > 0)
                n += (size_t) k;
        out[n] = '\0';
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void write_snapshot(Fixture *f, uint64_t generation) {
        ProvSnapUser users[] = {
                { .name = "ada", .uid = 200001, .gid = 200001, .gecos = "", .home = "/home/ada", .shell = "/bin/bash",
                  .state = PROV_STATE_ACTIVE },
                { .name = "mo", .uid = 200002, .gid = 200002, .gecos = "", .home = "/home/mo",
                  .shell = "/usr/sbin/nologin", .state = PROV_STATE_SUSPENDED },
                { .name = "zed", .uid = 200003, .gid = 200003, .gecos = "", .home = "/home/zed", .shell = "/bin/bash",
                  .state = PROV_STATE_ACTIVE },
                { .name = "bo", .uid = 200004, .gid = 200004, .gecos = "", .home = "/home/bo",
                  .shell = "/usr/sbin/nologin", .state = PROV_STATE_BLOCKED },
        };
        ProvSnapGroup groups[ELEMENTSOF(users)];
        ProvSnapMeta meta = { .generation = generation, .uid_min = 200000, .uid_max = 300000 };

        for (size_t i = 0; i < ELEMENTSOF(users); i++)
                groups[i] = (ProvSnapGroup) { .name = users[i].name, .gid = users[i].gid };
        assert_int_equal(prov_snapshot_write(f->snap, &meta, users, ELEMENTSOF(users), groups, ELEMENTSOF(groups)), 0);
}

static void test_helper(void **state) {
        Fixture *f = *state;
        ProvSshKeysRecord recs[] = {
                /* A line that is no key (the file is trusted only so far): never printed. */
                { .name = "ada", .keys = KEY_A "\ncommand=\"/bin/sh\" " KEY_B "\n" KEY_B, .uid = 200001 },
                /* Only active accounts get a record from the daemon; were one there, the
                 * snapshot's state still decides. */
                { .name = "mo", .keys = KEY_B, .uid = 200002 },
                { .name = "bo", .keys = KEY_B, .uid = 200004 },
                /* Another uid than the snapshot's: not this account's keys. */
                { .name = "zed", .keys = KEY_A, .uid = 200099 },
                { .name = "localuser", .keys = KEY_A, .uid = 1000 },
        };
        char out[4096];

        /* No snapshot, no keys file: nothing, success. */
        assert_int_equal(run_helper(f, "ada", out, sizeof(out)), 0);
        assert_string_equal(out, "");

        write_snapshot(f, 5);
        assert_int_equal(run_helper(f, "ada", out, sizeof(out)), 0);
        assert_string_equal(out, "");

        assert_int_equal(prov_sshkeys_write(f->keys, 5, recs, ELEMENTSOF(recs)), 0);
        assert_int_equal(run_helper(f, "ada", out, sizeof(out)), 0);
        assert_string_equal(out, KEY_A "\n" KEY_B "\n");
        assert_int_equal(run_helper(f, "mo", out, sizeof(out)), 0); /* suspended */
        assert_string_equal(out, "");
        assert_int_equal(run_helper(f, "bo", out, sizeof(out)), 0); /* blocked */
        assert_string_equal(out, "");
        assert_int_equal(run_helper(f, "zed", out, sizeof(out)), 0); /* uid differs */
        assert_string_equal(out, "");
        assert_int_equal(run_helper(f, "localuser", out, sizeof(out)), 0); /* not in the snapshot */
        assert_string_equal(out, "");
        assert_int_equal(run_helper(f, "nobody-at-all", out, sizeof(out)), 0);
        assert_string_equal(out, "");

        /* A snapshot of another generation than the keys file (between the two renames of an
         * export): nothing. */
        write_snapshot(f, 6);
        assert_int_equal(run_helper(f, "ada", out, sizeof(out)), 0);
        assert_string_equal(out, "");
        assert_int_equal(prov_sshkeys_write(f->keys, 6, recs, ELEMENTSOF(recs)), 0);
        assert_int_equal(run_helper(f, "ada", out, sizeof(out)), 0);
        assert_string_equal(out, KEY_A "\n" KEY_B "\n");

        /* A corrupt keys file: nothing printed. */
        write_all(f->keys, (const uint8_t *) "PROVSSHK garbage", 16);
        assert_int_not_equal(run_helper(f, "ada", out, sizeof(out)), 127);
        assert_string_equal(out, "");

        /* Usage. */
        assert_int_equal(run_helper(f, "", out, sizeof(out)), 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncated_and_corrupt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_helper, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
