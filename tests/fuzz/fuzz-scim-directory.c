/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_scim_parse_directory() on arbitrary bytes: a directory file as provision-syncd reads it. */

#include "fuzz-scim.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimParseOptions opts;

        fuzz_scim_options(size > 0 ? data[size - 1] : 0, &opts);
        if (prov_scim_parse_directory((const char *) data, size, &opts, &b) >= 0) {
                FUZZ_CHECK(b);
                fuzz_check_scim_batch(b);
        } else
                FUZZ_CHECK(!b);
        return 0;
}
