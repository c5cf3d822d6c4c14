/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_scim_parse_list() on arbitrary bytes: one page of GET /Users or /Groups from a server we
 * do not trust. The first byte picks users or groups and the parse options. */

#include "fuzz-scim.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        ProvScimParseOptions opts;
        uint8_t sel;

        if (size < 1)
                return 0;
        sel = data[0];
        fuzz_scim_options(sel >> 1, &opts);
        if (prov_scim_parse_list((const char *) data + 1, size - 1, sel & 1, &opts, &b) >= 0) {
                FUZZ_CHECK(b);
                fuzz_check_scim_batch(b);
                /* Paging must never be steered by a negative figure. */
                FUZZ_CHECK(b->start_index >= 0 && b->total_results >= 0 && b->items_per_page >= 0);
        }
        return 0;
}
