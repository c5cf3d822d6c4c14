/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* dlclose() of the NSS module releases its snapshot mapping and cache. glibc keeps NSS modules
 * loaded, but programs that load the module themselves (and tools like valgrind or LSan at exit)
 * see whatever it leaves behind: a mapping of a file that has been replaced many times over is
 * address space and disk space (an unlinked file stays allocated while mapped). Loads the module,
 * serves lookups until it maps the snapshot (the first ones only read it), unloads it, and checks
 * /proc/self/maps no longer maps the snapshot. Repeated,
 * so that a leak per load/unload cycle would show as mappings piling up. */

#include <dlfcn.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "../nss/nss-test-util.h"
#include "prov-snapshot.h"
#include "prov-util.h"

typedef enum nss_status (*getpwnam_t)(const char *, struct passwd *, char *, size_t, int *);

/* How many lines of /proc/self/maps name path. */
static int count_mappings(const char *path) {
        char line[4096];
        int n = 0;
        FILE *f = fopen("/proc/self/maps", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, path))
                        n++;
        fclose(f);
        return n;
}

int main(void) {
        _cleanup_free_ char *module = NULL, *snap = NULL;
        int failed = 0;

        if (test_nss_module_path(&module) < 0 || test_snap_fixture(&snap) < 0)
                return EXIT_FAILURE;
        setenv("PROVISION_SNAPSHOT", snap, 1);

        for (int round = 0; round < 3; round++) {
                struct passwd pw;
                char buf[1024];
                int e = 0, n;
                void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
                getpwnam_t getpwnam_r;

                if (!dl) {
                        fprintf(stderr, "dlopen(%s): %s\n", module, dlerror());
                        failed = 1;
                        break;
                }
                getpwnam_r = (getpwnam_t) dlsym(dl, "_nss_provision_getpwnam_r");
                /* The first PROV_CACHE_PEEKS lookups read the file without mapping it; the next
                 * one maps it. */
                for (unsigned i = 0; i <= PROV_CACHE_PEEKS; i++) {
                        if (!getpwnam_r || getpwnam_r("alice", &pw, buf, sizeof(buf), &e) != NSS_STATUS_SUCCESS) {
                                fprintf(stderr, "round %d: lookup of alice failed\n", round);
                                failed = 1;
                                break;
                        }
                        if (i == 0 && count_mappings(snap) != 0) {
                                fprintf(stderr, "round %d: the first lookup mapped the snapshot\n", round);
                                failed = 1;
                        }
                }
                if (count_mappings(snap) != 1) {
                        fprintf(stderr, "round %d: expected the snapshot mapped once while loaded\n", round);
                        failed = 1;
                }
                dlclose(dl);
                n = count_mappings(snap);
                if (n != 0) {
                        fprintf(stderr, "round %d: %d mapping(s) of %s left after dlclose()\n", round, n, snap);
                        failed = 1;
                }
        }
        test_snap_cleanup(snap);
        if (!failed)
                printf("ok: the snapshot is unmapped when the module is unloaded\n");
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
