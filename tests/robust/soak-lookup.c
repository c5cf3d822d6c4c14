/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* soak-lookup SECONDS FIRST LAST [GROUP]: for SECONDS, looks up users user<FIRST>..user<LAST>
 * (names user%06d, as tests/fixtures/scim/bench-gen.py makes them with strip_domain) through
 * glibc with the "provision" NSS service only: getpwnam, getpwuid of the uid found, getgrnam of
 * the private group, getgrouplist (initgroups), and every 50th round a full getpwent walk and
 * getgrnam(GROUP). These users are never removed or renamed by the soak's churn, so every lookup
 * must succeed: prints "lookups N failures F" and exits 1 if F > 0. LD_LIBRARY_PATH must name the
 * module's directory. Used by tests/robust/soak.sh. */

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long lookups, failures;

static void failed(const char *what, const char *name) {
        failures++;
        if (failures <= 10)
                fprintf(stderr, "soak-lookup: %s %s failed\n", what, name);
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void one_user(unsigned i) {
        char name[32];
        struct passwd *pw;
        struct group *gr;
        gid_t groups[64];
        int n = 64;
        uid_t uid;

        snprintf(name, sizeof(name), "user%06u", i);
        lookups += 4;
        pw = getpwnam(name);
        if (!pw || strcmp(pw->pw_name, name) != 0) {
                failed("getpwnam", name);
                return;
        }
        uid = pw->pw_uid;
        pw = getpwuid(uid);
        if (!pw || strcmp(pw->pw_name, name) != 0 || pw->pw_uid != uid)
                failed("getpwuid", name);
        gr = getgrnam(name);
        if (!gr || gr->gr_gid != uid)
                failed("getgrnam", name);
        if (getgrouplist(name, uid, groups, &n) < 0 || n < 1)
                failed("getgrouplist", name);
}

static void walk(const char *group) {
        struct passwd *pw;
        unsigned long n = 0;

        lookups++;
        setpwent();
        while ((pw = getpwent()))
                n++;
        endpwent();
        if (n == 0)
                failed("getpwent", "(walk)");
        if (group) {
                lookups++;
                if (!getgrnam(group))
                        failed("getgrnam", group);
        }
}

int main(int argc, char *argv[]) {
        double end;
        unsigned first, last, round = 0;

        if (argc < 4) {
                fprintf(stderr, "usage: %s SECONDS FIRST LAST [GROUP]\n", argv[0]);
                return 2;
        }
        end = now() + atof(argv[1]);
        first = (unsigned) strtoul(argv[2], NULL, 10);
        last = (unsigned) strtoul(argv[3], NULL, 10);
        if (first == 0 || last < first)
                return 2;
        __nss_configure_lookup("passwd", "provision");
        __nss_configure_lookup("group", "provision");
        __nss_configure_lookup("initgroups", "provision");

        while (now() < end) {
                for (unsigned i = first; i <= last; i++)
                        one_user(i);
                if (++round % 50 == 0)
                        walk(argc > 4 ? argv[4] : NULL);
        }
        printf("lookups %lu failures %lu\n", lookups, failures);
        return failures > 0;
}
