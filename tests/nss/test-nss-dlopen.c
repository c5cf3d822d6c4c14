/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Loads the built libnss_provision.so.2 with dlopen(RTLD_NOW) and drives every entry point
 * directly, with buffers from 1 byte upward: below the required size the answer must be
 * TRYAGAIN/ERANGE, at it SUCCESS with the exact content. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nss-test-util.h"
#include "prov-util.h"
#include "snapshot-format.h"

static int failures;

#define CHECK(cond)                                                                              \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        failures++;                                                              \
                }                                                                                \
        } while (0)

typedef enum nss_status (*getpwnam_t)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_t)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_t)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_t)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*getspnam_t)(const char *, struct spwd *, char *, size_t, int *);
typedef enum nss_status (*setent_t)(int);
typedef enum nss_status (*endent_t)(void);
typedef enum nss_status (*getent_t)(void *, char *, size_t, int *);
typedef enum nss_status (*initgroups_t)(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

static struct {
        getpwnam_t getpwnam_r;
        getpwuid_t getpwuid_r;
        setent_t setpwent;
        getent_t getpwent_r;
        endent_t endpwent;
        getgrnam_t getgrnam_r;
        getgrgid_t getgrgid_r;
        setent_t setgrent;
        getent_t getgrent_r;
        endent_t endgrent;
        initgroups_t initgroups_dyn;
        getspnam_t getspnam_r;
        setent_t setspent;
        getent_t getspent_r;
        endent_t endspent;
} nss;

static void *sym(void *dl, const char *name) {
        void *p = dlsym(dl, name);
        if (!p) {
                fprintf(stderr, "missing symbol %s\n", name);
                exit(EXIT_FAILURE);
        }
        return p;
}

/* One call shape for every "get one" entry point, so that the buffer walk is written once. */
typedef enum nss_status (*call_t)(const void *key, void *result, char *buf, size_t len, int *errnop);

static enum nss_status call_pwnam(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getpwnam_r(k, r, b, l, e);
}
static enum nss_status call_pwuid(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getpwuid_r(*(const uid_t *) k, r, b, l, e);
}
static enum nss_status call_grnam(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getgrnam_r(k, r, b, l, e);
}
static enum nss_status call_grgid(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getgrgid_r(*(const gid_t *) k, r, b, l, e);
}
static enum nss_status call_spnam(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getspnam_r(k, r, b, l, e);
}
static enum nss_status call_pwent(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getpwent_r(r, b, l, e);
}
static enum nss_status call_grent(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getgrent_r(r, b, l, e);
}
static enum nss_status call_spent(const void *k, void *r, char *b, size_t l, int *e) {
        return nss.getspent_r(r, b, l, e);
}

/* Calls with buffers of 1, 2, ... bytes (each freshly allocated at that exact size, at an odd
 * address every other time so that gr_mem alignment is exercised) until the answer is not
 * TRYAGAIN. Returns the final status; *ret_buf keeps the successful buffer. */
static enum nss_status walk(call_t call, const void *key, void *result, char **ret_buf, size_t *ret_len) {
        for (size_t len = 1; len < 1 << 20; len++) {
                bool odd = len % 2;
                char *raw = malloc(len + odd);
                int e = 0;
                enum nss_status st;

                if (!raw)
                        abort();
                memset(raw, 0x5a, len + odd);
                st = call(key, result, raw + odd, len, &e);
                if (st == NSS_STATUS_TRYAGAIN) {
                        CHECK(e == ERANGE);
                        /* Nothing may be written below the required size. */
                        for (size_t i = 0; i < len + odd; i++)
                                if (raw[i] != 0x5a) {
                                        CHECK(!"buffer written on ERANGE");
                                        break;
                                }
                        free(raw);
                        continue;
                }
                if (st == NSS_STATUS_SUCCESS) {
                        /* Everything returned must point into the caller's buffer: copy. */
                        *ret_buf = raw;
                        *ret_len = len;
                } else {
                        CHECK(e == ENOENT || st == NSS_STATUS_UNAVAIL);
                        free(raw);
                        *ret_buf = NULL;
                }
                return st;
        }
        CHECK(!"buffer walk did not terminate");
        return NSS_STATUS_UNAVAIL;
}

static size_t strsz(const char *s) {
        return strlen(s) + 1;
}

static void check_passwd(const struct passwd *pw, const char *name, uid_t uid, const char *gecos,
                         const char *home, const char *shell) {
        CHECK(streq(pw->pw_name, name));
        CHECK(streq(pw->pw_passwd, "x"));
        CHECK(pw->pw_uid == uid && pw->pw_gid == uid);
        CHECK(streq(pw->pw_gecos, gecos));
        CHECK(streq(pw->pw_dir, home));
        CHECK(streq(pw->pw_shell, shell));
}

static void test_passwd(void) {
        struct passwd pw;
        char *buf;
        size_t len;
        uid_t uid = 10001, missing_uid = 10999;

        CHECK(walk(call_pwnam, "alice", &pw, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                check_passwd(&pw, "alice", 10001, "Alice Example", "/home/alice", "/bin/bash");
                CHECK(len == strsz("alice") + 2 + strsz("Alice Example") + strsz("/home/alice") +
                                     strsz("/bin/bash"));
                free(buf);
        }
        CHECK(walk(call_pwuid, &uid, &pw, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                check_passwd(&pw, "alice", 10001, "Alice Example", "/home/alice", "/bin/bash");
                free(buf);
        }
        /* Suspended users still resolve (files keep their owners). */
        CHECK(walk(call_pwnam, "carol", &pw, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                check_passwd(&pw, "carol", 10003, "", "/home/carol", "/usr/sbin/nologin");
                free(buf);
        }
        CHECK(walk(call_pwnam, "nobody-here", &pw, &buf, &len) == NSS_STATUS_NOTFOUND);
        CHECK(walk(call_pwuid, &missing_uid, &pw, &buf, &len) == NSS_STATUS_NOTFOUND);
        uid = 0;
        CHECK(walk(call_pwuid, &uid, &pw, &buf, &len) == NSS_STATUS_NOTFOUND);
        CHECK(walk(call_pwnam, "root", &pw, &buf, &len) == NSS_STATUS_NOTFOUND);
}

static void check_members(const struct group *gr, const char *const *want, size_t n) {
        size_t i;

        for (i = 0; gr->gr_mem[i]; i++)
                CHECK(i < n && streq(gr->gr_mem[i], want[i]));
        CHECK(i == n);
        CHECK((uintptr_t) gr->gr_mem % alignof(char *) == 0);
}

static void test_group(void) {
        static const char *const devs[] = { "alice", "bob" }; /* carol suspended, ghost unknown, dup */
        struct group gr;
        char *buf;
        size_t len;
        gid_t gid = 20000;

        CHECK(walk(call_grnam, "devs", &gr, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(streq(gr.gr_name, "devs") && gr.gr_gid == 20000 && streq(gr.gr_passwd, "x"));
                check_members(&gr, devs, ELEMENTSOF(devs));
                free(buf);
        }
        CHECK(walk(call_grgid, &gid, &gr, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(streq(gr.gr_name, "devs"));
                check_members(&gr, devs, ELEMENTSOF(devs));
                free(buf);
        }
        CHECK(walk(call_grnam, "empty", &gr, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(gr.gr_gid == 20002 && gr.gr_mem[0] == NULL);
                free(buf);
        }
        /* A mapped group below uid_min is served. */
        gid = 27;
        CHECK(walk(call_grgid, &gid, &gr, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                static const char *const sudo[] = { "alice" };
                CHECK(streq(gr.gr_name, "provsudo"));
                check_members(&gr, sudo, 1);
                free(buf);
        }
        CHECK(walk(call_grnam, "nope", &gr, &buf, &len) == NSS_STATUS_NOTFOUND);
        gid = 0;
        CHECK(walk(call_grgid, &gid, &gr, &buf, &len) == NSS_STATUS_NOTFOUND);
}

static void test_shadow(void) {
        struct spwd sp;
        char *buf;
        size_t len;

        CHECK(walk(call_spnam, "alice", &sp, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(streq(sp.sp_namp, "alice") && streq(sp.sp_pwdp, "*"));
                CHECK(sp.sp_lstchg == 19000 && sp.sp_expire == -1 && sp.sp_min == -1 && sp.sp_max == -1 &&
                      sp.sp_warn == -1 && sp.sp_inact == -1);
                CHECK(len == strsz("alice") + strsz("*"));
                free(buf);
        }
        CHECK(walk(call_spnam, "bob", &sp, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(sp.sp_lstchg == -1 && sp.sp_expire == -1);
                free(buf);
        }
        CHECK(walk(call_spnam, "carol", &sp, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(streq(sp.sp_pwdp, "!*") && sp.sp_expire == 1 && sp.sp_lstchg == 19500);
                free(buf);
        }
        CHECK(walk(call_spnam, "dave", &sp, &buf, &len) == NSS_STATUS_SUCCESS);
        if (buf) {
                CHECK(streq(sp.sp_pwdp, "!*") && sp.sp_expire == 1);
                free(buf);
        }
        CHECK(walk(call_spnam, "ghost", &sp, &buf, &len) == NSS_STATUS_NOTFOUND);
}

/* Enumerates one database, walking the buffer size up from 1 byte for every entry: each entry
 * must come exactly once, in record order, ERANGE retries notwithstanding. */
static void enumerate(setent_t set, endent_t end, call_t call, void *result, const char *(*name_of)(void *),
                      const char *const *want, size_t n_want) {
        size_t n = 0;
        char *buf;
        size_t len;

        CHECK(set(0) == NSS_STATUS_SUCCESS);
        for (;;) {
                enum nss_status st = walk(call, NULL, result, &buf, &len);
                if (st != NSS_STATUS_SUCCESS) {
                        CHECK(st == NSS_STATUS_NOTFOUND);
                        break;
                }
                CHECK(n < n_want && streq(name_of(result), want[n]));
                n++;
                free(buf);
        }
        CHECK(n == n_want);
        /* A zero-sized buffer is ERANGE, not a crash. */
        int e = 0;
        CHECK(set(0) == NSS_STATUS_SUCCESS);
        CHECK(call(NULL, result, NULL, 0, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
        CHECK(end() == NSS_STATUS_SUCCESS);
}

static const char *pw_name_of(void *p) {
        return ((struct passwd *) p)->pw_name;
}
static const char *gr_name_of(void *p) {
        return ((struct group *) p)->gr_name;
}
static const char *sp_name_of(void *p) {
        return ((struct spwd *) p)->sp_namp;
}

static void test_enumeration(void) {
        static const char *const users[] = { "alice", "bob", "carol", "dave" };
        static const char *const groups[] = { "alice", "bob", "carol", "dave", "devs", "ops", "provsudo", "empty" };
        struct passwd pw;
        struct group gr;
        struct spwd sp;

        enumerate(nss.setpwent, nss.endpwent, call_pwent, &pw, pw_name_of, users, ELEMENTSOF(users));
        enumerate(nss.setgrent, nss.endgrent, call_grent, &gr, gr_name_of, groups, ELEMENTSOF(groups));
        enumerate(nss.setspent, nss.endspent, call_spent, &sp, sp_name_of, users, ELEMENTSOF(users));
}

static void test_initgroups(void) {
        long int start, size;
        gid_t *groups;
        int e = 0;

        /* glibc passes the primary group in slot 0 and asks to skip it. */
        start = 1, size = 1;
        groups = malloc(sizeof(gid_t));
        groups[0] = 10001;
        CHECK(nss.initgroups_dyn("alice", 10001, &start, &size, &groups, 0, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 3 && size >= 3 && groups[0] == 10001 && groups[1] == 27 && groups[2] == 20000);
        /* The limit caps the list. */
        start = 1, size = 1;
        groups[0] = 10001;
        CHECK(nss.initgroups_dyn("alice", 10001, &start, &size, &groups, 2, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 2 && size == 2 && groups[1] == 27);
        /* Already present gids are not added twice. */
        start = 2, size = 2;
        groups[0] = 10002, groups[1] = 20001;
        CHECK(nss.initgroups_dyn("bob", 10002, &start, &size, &groups, 0, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 3 && groups[2] == 20000);
        /* Suspended users have no memberships; unknown users none either. */
        start = 0;
        CHECK(nss.initgroups_dyn("carol", 10003, &start, &size, &groups, 0, &e) == NSS_STATUS_NOTFOUND &&
              start == 0);
        CHECK(nss.initgroups_dyn("ghost", 10003, &start, &size, &groups, 0, &e) == NSS_STATUS_NOTFOUND &&
              start == 0);
        free(groups);
}

/* Rewrites the snapshot with a larger uid_min in the header (the writer would refuse such
 * records): the module must hide users and unmapped groups below it. */
static void use_snapshot(const char *snap);

static void test_uid_min_filter(const char *path) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_free_ char *data = NULL;
        struct passwd pw;
        struct group gr;
        char *buf;
        size_t len;
        uint32_t uid_min = 10002;
        FILE *f;
        long size;

        f = fopen(path, "re");
        CHECK(f);
        if (!f)
                return;
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        rewind(f);
        data = malloc((size_t) size);
        CHECK(fread(data, 1, (size_t) size, f) == (size_t) size);
        fclose(f);
        memcpy(data + offsetof(SnapHeader, uid_min), &uid_min, sizeof(uid_min));
        CHECK(asprintf(&copy, "%s.minuid", path) > 0);
        f = fopen(copy, "we");
        CHECK(fwrite(data, 1, (size_t) size, f) == (size_t) size);
        fclose(f);

        use_snapshot(copy);
        CHECK(walk(call_pwnam, "alice", &pw, &buf, &len) == NSS_STATUS_NOTFOUND);
        CHECK(walk(call_pwnam, "bob", &pw, &buf, &len) == NSS_STATUS_SUCCESS);
        free(buf);
        CHECK(walk(call_grnam, "alice", &gr, &buf, &len) == NSS_STATUS_NOTFOUND);
        CHECK(walk(call_grnam, "provsudo", &gr, &buf, &len) == NSS_STATUS_SUCCESS);
        free(buf);
        use_snapshot(path);
        unlink(copy);
}

static void test_unavailable(const char *path) {
        _cleanup_free_ char *bad = NULL;
        struct passwd pw;
        struct group gr;
        char buf[1024];
        long int start = 0, size = 1;
        gid_t *groups = malloc(sizeof(gid_t));
        int e = 0, fd;

        use_snapshot("/nonexistent/provision/snapshot");
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof(buf), &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.getgrgid_r(20000, &gr, buf, sizeof(buf), &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.setpwent(0) == NSS_STATUS_SUCCESS);
        CHECK(nss.getpwent_r(&pw, buf, sizeof(buf), &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.initgroups_dyn("alice", 1, &start, &size, &groups, 0, &e) == NSS_STATUS_UNAVAIL);

        /* A file that is not a snapshot. */
        CHECK(asprintf(&bad, "%s.bad", path) > 0);
        fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && write(fd, "root:x:0:0::/root:/bin/sh\n", 26) == 26);
        close(fd);
        use_snapshot(bad);
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof(buf), &e) == NSS_STATUS_UNAVAIL);
        unlink(bad);
        use_snapshot(path);
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS);
        free(groups);
}

/* glibc passes &errno as errnop: ERANGE must arrive there, and a success must leave errno as is. */
static void test_errno(void) {
        struct passwd pw;
        char buf[1024];

        errno = 4242;
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof(buf), &errno) == NSS_STATUS_SUCCESS);
        CHECK(errno == 4242);
        errno = 0;
        CHECK(nss.getpwnam_r("alice", &pw, buf, 3, &errno) == NSS_STATUS_TRYAGAIN);
        CHECK(errno == ERANGE);
        errno = 0;
        CHECK(nss.getpwnam_r("ghost", &pw, buf, sizeof(buf), &errno) == NSS_STATUS_NOTFOUND);
        CHECK(errno == ENOENT);
}

static void *loaded;
static const char *loaded_path;

/* Loads the module with RTLD_NOW and resolves every entry point; NULL on failure. */
static void *load_module(const char *module) {
        void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);

        if (!dl) {
                fprintf(stderr, "dlopen(%s, RTLD_NOW): %s\n", module, dlerror());
                return NULL;
        }
        nss.getpwnam_r = (getpwnam_t) sym(dl, "_nss_provision_getpwnam_r");
        nss.getpwuid_r = (getpwuid_t) sym(dl, "_nss_provision_getpwuid_r");
        nss.setpwent = (setent_t) sym(dl, "_nss_provision_setpwent");
        nss.getpwent_r = (getent_t) sym(dl, "_nss_provision_getpwent_r");
        nss.endpwent = (endent_t) sym(dl, "_nss_provision_endpwent");
        nss.getgrnam_r = (getgrnam_t) sym(dl, "_nss_provision_getgrnam_r");
        nss.getgrgid_r = (getgrgid_t) sym(dl, "_nss_provision_getgrgid_r");
        nss.setgrent = (setent_t) sym(dl, "_nss_provision_setgrent");
        nss.getgrent_r = (getent_t) sym(dl, "_nss_provision_getgrent_r");
        nss.endgrent = (endent_t) sym(dl, "_nss_provision_endgrent");
        nss.initgroups_dyn = (initgroups_t) sym(dl, "_nss_provision_initgroups_dyn");
        nss.getspnam_r = (getspnam_t) sym(dl, "_nss_provision_getspnam_r");
        nss.setspent = (setent_t) sym(dl, "_nss_provision_setspent");
        nss.getspent_r = (getent_t) sym(dl, "_nss_provision_getspent_r");
        nss.endspent = (endent_t) sym(dl, "_nss_provision_endspent");
        loaded = dl;
        loaded_path = module;
        return dl;
}

/* Points the module at another snapshot: it reads $PROVISION_SNAPSHOT when it re-checks the path
 * (at most once a second), not on every lookup, so the test unloads it (its destructor drops the
 * mapping) and loads it again, as a fresh process would. */
static void use_snapshot(const char *snap) {
        setenv("PROVISION_SNAPSHOT", snap, 1);
        dlclose(loaded);
        CHECK(load_module(loaded_path));
}

int main(void) {
        _cleanup_free_ char *module = NULL, *path = NULL;
        void *dl;
        int r;

        r = test_nss_module_path(&module);
        if (r < 0)
                return EXIT_FAILURE;
        dl = load_module(module);
        if (!dl)
                return EXIT_FAILURE;
        /* Internal symbols must not leak. */
        CHECK(!dlsym(dl, "prov_cache_acquire"));
        CHECK(!dlsym(dl, "prov_snapshot_open"));

        r = test_snap_fixture(&path);
        if (r < 0) {
                fprintf(stderr, "writing the fixture snapshot: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        setenv("PROVISION_SNAPSHOT", path, 1);

        test_passwd();
        test_group();
        test_shadow();
        test_enumeration();
        test_initgroups();
        test_errno();
        test_uid_min_filter(path);
        test_unavailable(path);

        dlclose(loaded);
        test_snap_cleanup(path);
        if (failures > 0) {
                fprintf(stderr, "%d check(s) failed\n", failures);
                return EXIT_FAILURE;
        }
        printf("all NSS entry points behave\n");
        return EXIT_SUCCESS;
}
