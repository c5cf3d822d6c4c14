/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_scim_parse_user() and prov_scim_parse_error() on arbitrary bytes: GET /Users/{id} and the
 * error bodies of a server we do not trust. */

#include "fuzz-scim.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;
        _cleanup_free_ char *detail = NULL;
        ProvScimParseOptions opts;
        int r;

        fuzz_scim_options(size > 0 ? data[0] : 0, &opts);
        if (prov_scim_parse_user((const char *) data, size, &opts, &u) >= 0) {
                FUZZ_CHECK(u);
                fuzz_check_scim_user(u);
        }

        r = prov_scim_parse_error((const char *) data, size, &detail);
        if (r >= 0) {
                FUZZ_CHECK(r == 0 || (r >= 100 && r <= 599));
                /* One line, logged as is: bounded and free of control characters. */
                FUZZ_CHECK(detail && fuzz_clean_string(detail, 1024));
        }
        return 0;
}
