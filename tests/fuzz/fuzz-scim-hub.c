/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub source's parsers on arbitrary bytes: an answer of GET /v1/feed?since=S
 * (prov_scim_parse_hub_feed(), S from the input's first byte) or of GET /v1/snapshot
 * (prov_scim_parse_hub_snapshot()), chosen by the last byte. What is accepted must keep the
 * promises of scim-parse.h: the seq never goes back, the deleted ids are counted and
 * NULL-terminated, every record is checked like any other source's. */

#include <string.h>

#include "fuzz-scim.h"
#include "fuzz.h"

static void check_ids(const char *const *ids, size_t n) {
        FUZZ_CHECK(n == 0 || ids);
        for (size_t i = 0; ids && i < n; i++)
                FUZZ_CHECK(ids[i] && ids[i][0] && strlen(ids[i]) < 65536);
        FUZZ_CHECK(!ids || !ids[n]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProvScimParseOptions opts;
        uint8_t sel = size > 0 ? data[size - 1] : 0;

        fuzz_scim_options(sel, &opts);
        if (sel & 0x80) {
                _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
                int64_t seq = -1;

                if (prov_scim_parse_hub_snapshot((const char *) data, size, &opts, &seq, &b) >= 0) {
                        FUZZ_CHECK(b);
                        FUZZ_CHECK(seq >= 0 && seq <= INT64_C(9007199254740992));
                        fuzz_check_scim_batch(b);
                } else
                        FUZZ_CHECK(!b);
        } else {
                _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
                _cleanup_free_ char *error = NULL;
                int64_t since = size > 0 ? data[0] % 8 : 0;
                int r;

                r = prov_scim_parse_hub_feed((const char *) data, size, &opts, since, &f, &error);
                if (r >= 0) {
                        FUZZ_CHECK(f && f->batch);
                        FUZZ_CHECK(f->seq >= since);
                        FUZZ_CHECK(f->n_events <= PROV_HUB_FEED_MAX_EVENTS);
                        FUZZ_CHECK(f->n_events > 0 || f->n_gone_users + f->n_gone_groups == 0);
                        check_ids(f->gone_users, f->n_gone_users);
                        check_ids(f->gone_groups, f->n_gone_groups);
                        fuzz_check_scim_batch(f->batch);
                } else {
                        FUZZ_CHECK(!f);
                        FUZZ_CHECK(r == -ENOMEM || r == -EFBIG || error); /* a refusal says why */
                }
        }
        return 0;
}
