/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Real glibc dispatch: __nss_configure_lookup() routes passwd, group, shadow and initgroups to
 * the "provision" service only, and the public libc calls must answer from the test snapshot.
 * glibc loads libnss_provision.so.2 by soname, so the program re-executes itself with
 * LD_LIBRARY_PATH pointing at the build tree. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nss-test-util.h"
#include "prov-util.h"

extern int __nss_configure_lookup(const char *db, const char *service_line);

static int failures;

#define CHECK(cond)                                                                              \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        failures++;                                                              \
                }                                                                                \
        } while (0)

/* Makes sure LD_LIBRARY_PATH names the module's directory at process start (the dynamic loader
 * reads it only then). */
static void reexec_with_library_path(char **argv) {
        const char *top = getenv("top_builddir");
        _cleanup_free_ char *want = NULL;
        const char *cur = getenv("LD_LIBRARY_PATH");

        if (asprintf(&want, "%s/nss_provision/.libs", top ? top : ".") < 0)
                exit(EXIT_FAILURE);
        if (cur && strstr(cur, want))
                return;
        setenv("LD_LIBRARY_PATH", want, 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        exit(EXIT_FAILURE);
}

static bool has_gid(const gid_t *l, int n, gid_t g) {
        for (int i = 0; i < n; i++)
                if (l[i] == g)
                        return true;
        return false;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *path = NULL;
        struct passwd *pw;
        struct group *gr;
        struct spwd *sp;
        int r;

        reexec_with_library_path(argv);

        r = test_snap_fixture(&path);
        if (r < 0) {
                fprintf(stderr, "writing the fixture snapshot: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        setenv("PROVISION_SNAPSHOT", path, 1);
        CHECK(__nss_configure_lookup("passwd", "provision") == 0);
        CHECK(__nss_configure_lookup("group", "provision") == 0);
        CHECK(__nss_configure_lookup("shadow", "provision") == 0);
        CHECK(__nss_configure_lookup("initgroups", "provision") == 0);

        pw = getpwnam("alice");
        CHECK(pw && pw->pw_uid == 10001 && pw->pw_gid == 10001 && streq(pw->pw_gecos, "Alice Example") &&
              streq(pw->pw_dir, "/home/alice") && streq(pw->pw_shell, "/bin/bash"));
        pw = getpwuid(10002);
        CHECK(pw && streq(pw->pw_name, "bob"));
        CHECK(!getpwnam("root")); /* only the provision service is configured */
        CHECK(!getpwuid(0));
        CHECK(!getpwnam("ghost"));

        /* glibc's reentrant API with a short buffer reports ERANGE, not a missing user. */
        {
                struct passwd pwbuf, *res = NULL;
                char small[8], big[512];
                CHECK(getpwnam_r("alice", &pwbuf, small, sizeof(small), &res) == ERANGE && !res);
                CHECK(getpwnam_r("alice", &pwbuf, big, sizeof(big), &res) == 0 && res == &pwbuf);
        }

        gr = getgrnam("devs");
        CHECK(gr && gr->gr_gid == 20000 && gr->gr_mem[0] && streq(gr->gr_mem[0], "alice") && gr->gr_mem[1] &&
              streq(gr->gr_mem[1], "bob") && !gr->gr_mem[2]);
        gr = getgrgid(20001);
        CHECK(gr && streq(gr->gr_name, "ops"));
        gr = getgrgid(27);
        CHECK(gr && streq(gr->gr_name, "provsudo"));
        CHECK(!getgrnam("root"));

        {
                gid_t list[16];
                int n = ELEMENTSOF(list);
                CHECK(getgrouplist("alice", 10001, list, &n) == 3);
                CHECK(n == 3 && has_gid(list, n, 10001) && has_gid(list, n, 27) && has_gid(list, n, 20000));
                n = ELEMENTSOF(list);
                CHECK(getgrouplist("carol", 10003, list, &n) == 1 && list[0] == 10003);
                n = 1; /* too small: glibc reports -1 and the needed count */
                r = getgrouplist("bob", 10002, list, &n);
                CHECK(r == -1 && n == 3);
                if (r != -1 || n != 3)
                        fprintf(stderr, "getgrouplist(bob, n=1) = %d, n=%d\n", r, n);
        }
        if (geteuid() == 0) {
                gid_t list[16];
                int n;
                CHECK(initgroups("alice", 10001) == 0);
                n = getgroups(ELEMENTSOF(list), list);
                CHECK(n == 3 && has_gid(list, n, 10001) && has_gid(list, n, 27) && has_gid(list, n, 20000));
        } else
                printf("initgroups() not checked: needs root\n");

        sp = getspnam("alice");
        CHECK(sp && streq(sp->sp_pwdp, "*") && sp->sp_lstchg == 19000 && sp->sp_expire == -1);
        sp = getspnam("carol");
        CHECK(sp && streq(sp->sp_pwdp, "!*") && sp->sp_expire == 1);

        {
                static const char *const want[] = { "alice", "bob", "carol", "dave" };
                size_t n = 0;
                setpwent();
                while ((pw = getpwent())) {
                        CHECK(n < ELEMENTSOF(want) && streq(pw->pw_name, want[n]));
                        n++;
                }
                endpwent();
                CHECK(n == ELEMENTSOF(want));
        }
        {
                size_t n = 0;
                setgrent();
                while ((gr = getgrent()))
                        n++;
                endgrent();
                CHECK(n == 8);
        }
        {
                size_t n = 0;
                setspent();
                while ((sp = getspent()))
                        n++;
                endspent();
                CHECK(n == 4);
        }

        test_snap_cleanup(path);
        if (failures > 0) {
                fprintf(stderr, "%d check(s) failed\n", failures);
                return EXIT_FAILURE;
        }
        printf("glibc dispatch through nss_provision works\n");
        return EXIT_SUCCESS;
}
