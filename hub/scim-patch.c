/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the engine lands: the library links, every call is 501. */
#include "scim-patch.h"
int prov_scim_patch_apply(cJSON *resource, const cJSON *body, ProvHubKind kind, ProvScimError *err) {
        (void) resource; (void) body; (void) kind;
        return prov_scim_error_set(err, 501, NULL, "not yet");
}
