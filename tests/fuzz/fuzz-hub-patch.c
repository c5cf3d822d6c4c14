/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A PATCH request body of arbitrary bytes, read as the hub reads it (prov_scim_json_parse()) and
 * applied to a stored user and a stored group. The first byte picks the resource. A failed patch
 * must leave the resource exactly as it was and say why (a status and, for 400, a scimType); a
 * successful one leaves an object that normalisation then accepts or refuses cleanly. */

#include <string.h>

#include "fuzz.h"
#include "scim-patch.h"
#include "scim-resource.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static const char user_json[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
        "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
        "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}],"
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"Tours\"}}";
static const char group_json[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
        "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u1\"},{\"value\":\"u2\",\"display\":\"Two\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *res = NULL, *orig = NULL;
        ProvScimError err = {};
        ProvHubKind kind;

        if (size < 1)
                return 0;
        kind = data[0] & 1 ? PROV_HUB_GROUP : PROV_HUB_USER;
        if (prov_scim_json_parse((const char *) data + 1, size - 1, &body, &err) < 0) {
                FUZZ_CHECK(!body);
                FUZZ_CHECK(err.status == 400 || err.status == 413);
                return 0;
        }
        FUZZ_CHECK(cJSON_IsObject(body));

        res = cJSON_Parse(kind == PROV_HUB_GROUP ? group_json : user_json);
        orig = cJSON_Duplicate(res, true);
        FUZZ_CHECK(res && orig);
        err = (ProvScimError) {};
        if (prov_scim_patch_apply(res, body, kind, &err) < 0) {
                FUZZ_CHECK(cJSON_Compare(res, orig, true));
                FUZZ_CHECK(err.status == 400 || err.status == 500);
                FUZZ_CHECK(err.status != 400 || err.scim_type);
                FUZZ_CHECK(memchr(err.detail, 0, sizeof(err.detail)));
                return 0;
        }
        FUZZ_CHECK(cJSON_IsObject(res));
        /* The id is the hub's: no patch changes it. */
        FUZZ_CHECK(cJSON_Compare(cJSON_GetObjectItem(res, "id"), cJSON_GetObjectItem(orig, "id"), true));

        err = (ProvScimError) {};
        if (prov_scim_resource_normalize(res, kind, &err) < 0)
                FUZZ_CHECK(err.status >= 400 && err.status <= 500);
        return 0;
}
