/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the engine lands: the library links, every call is 501. */
#include "scim-resource.h"
int prov_scim_resource_normalize(cJSON *resource, ProvHubKind kind, ProvScimError *err) {
        (void) resource; (void) kind;
        return prov_scim_error_set(err, 501, NULL, "not yet");
}
int prov_scim_json_parse(const char *body, size_t len, cJSON **ret, ProvScimError *err) {
        (void) body; (void) len; (void) ret;
        return prov_scim_error_set(err, 501, NULL, "not yet");
}
