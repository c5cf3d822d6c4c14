/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a SCIM service provider says about itself in GET /ServiceProviderConfig (RFC 7643 §5)
 * and its RFC 9865 "pagination" extension. Part of the JSON validation layer: kept apart from
 * scim-parse.c only because that file has its own owner; it belongs next to it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ProvScimServiceConfig {
        bool filter_supported;          /* filter.supported; false when absent */
        uint64_t filter_max_results;    /* filter.maxResults, 0 when absent or not a positive integer */
        bool cursor;                    /* pagination.cursor (RFC 9865) */
        bool index;                     /* pagination.index; true when "pagination" is absent */
        uint64_t max_page_size;         /* pagination.maxPageSize, 0 when absent */
} ProvScimServiceConfig;

/* Parses a ServiceProviderConfig body of at most 1 MiB. Fields of the wrong type are treated as
 * absent (a provider that gets them wrong gets the conservative behaviour). Returns 0, or
 * -EBADMSG if the body is not a JSON object, or -ENOMEM. */
int prov_scim_parse_service_config(const char *json, size_t len, ProvScimServiceConfig *ret);
