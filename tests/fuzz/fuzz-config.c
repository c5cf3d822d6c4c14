/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_config_load() on arbitrary bytes. It takes a path, so the input goes to a memfd that is
 * loaded as /proc/self/fd/N. On success the configuration must be complete; on failure nothing is
 * returned and the error message is one bounded line. */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "prov-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_config_freep) ProvConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *snap = NULL, *store = NULL;
        _cleanup_close_ int fd = -1;
        char path[64];
        int r;

        if (size > PROV_CONFIG_MAX_SIZE + 1)
                return 0;
        fd = fuzz_memfd("fuzz-config", data, size);
        if (fd < 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        r = prov_config_load(path, &c, &error);
        if (r < 0) {
                FUZZ_CHECK(!c);
                /* The message quotes the file: it must stay one line. */
                FUZZ_CHECK(!error || !strchr(error, '\n'));
                return 0;
        }
        FUZZ_CHECK(c);
        FUZZ_CHECK(c->state_dir && c->state_dir[0] == '/');
        FUZZ_CHECK(c->home_base && c->default_shell);
        FUZZ_CHECK(c->allowed_shells && c->allowed_shells[0]);
        FUZZ_CHECK(c->uid_min <= c->uid_max);
        FUZZ_CHECK(c->source_type != PROV_SOURCE_FILE || c->source_path);
        FUZZ_CHECK(c->source_type != PROV_SOURCE_SCIM || c->url);
        snap = prov_config_snapshot_path(c);
        store = prov_config_store_path(c);
        FUZZ_CHECK(snap && store);
        return 0;
}
