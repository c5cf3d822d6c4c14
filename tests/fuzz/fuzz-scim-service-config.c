/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_scim_parse_service_config() on arbitrary bytes: GET /ServiceProviderConfig. */

#include "fuzz-scim.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProvScimServiceConfig c = {};

        (void) prov_scim_parse_service_config((const char *) data, size, &c);
        return 0;
}
