/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A POST/PUT body of arbitrary bytes, read as the hub reads it (prov_scim_json_parse()) and
 * normalised as a user or a group (the first byte picks). What normalisation accepts must be in
 * the stored form: schemas first, nothing the hub owns or never keeps (id, meta, password, a
 * user's groups), active a boolean, no nulls, and normalising it again changes nothing. What it
 * refuses it refuses with a 400 and a scimType, leaving the resource as it was. */

#include <string.h>

#include "fuzz.h"
#include "scim-resource.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* No JSON null anywhere under v. */
static bool null_free(const cJSON *v) {
        const cJSON *c;

        if (cJSON_IsNull(v))
                return false;
        cJSON_ArrayForEach(c, v)
                if (!null_free(c))
                        return false;
        return true;
}

/* Whether a and b print the same: cJSON_Compare() looks members up by name, so it finds two
 * copies of an object holding one name twice ({"a":1,"a":2}) different. */
static bool same(const cJSON *a, const cJSON *b) {
        _cleanup_free_ char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);

        FUZZ_CHECK(x && y);
        return streq(x, y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(cJSON_Deletep) cJSON *res = NULL, *orig = NULL, *again = NULL;
        ProvScimError err = {};
        ProvHubKind kind;

        if (size < 1)
                return 0;
        kind = data[0] & 1 ? PROV_HUB_GROUP : PROV_HUB_USER;
        if (prov_scim_json_parse((const char *) data + 1, size - 1, &res, &err) < 0) {
                FUZZ_CHECK(!res);
                FUZZ_CHECK(err.status == 400 || err.status == 413);
                return 0;
        }
        FUZZ_CHECK(cJSON_IsObject(res));
        orig = cJSON_Duplicate(res, true);
        FUZZ_CHECK(orig);

        err = (ProvScimError) {};
        if (prov_scim_resource_normalize(res, kind, &err) < 0) {
                FUZZ_CHECK(err.status == 400 || err.status == 500);
                FUZZ_CHECK(err.status != 400 || err.scim_type);
                FUZZ_CHECK(memchr(err.detail, 0, sizeof(err.detail)));
                FUZZ_CHECK(same(res, orig));
                return 0;
        }

        FUZZ_CHECK(res->child && res->child->string && streq(res->child->string, "schemas"));
        FUZZ_CHECK(!cJSON_GetObjectItem(res, "id") && !cJSON_GetObjectItem(res, "meta"));
        FUZZ_CHECK(null_free(res));
        if (kind == PROV_HUB_USER) {
                FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItem(res, "userName")));
                FUZZ_CHECK(cJSON_IsBool(cJSON_GetObjectItem(res, "active")));
                FUZZ_CHECK(!cJSON_GetObjectItem(res, "password") && !cJSON_GetObjectItem(res, "groups"));
        } else
                FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItem(res, "displayName")));

        again = cJSON_Duplicate(res, true);
        FUZZ_CHECK(again);
        err = (ProvScimError) {};
        FUZZ_CHECK(prov_scim_resource_normalize(again, kind, &err) == 0);
        FUZZ_CHECK(same(again, res));
        return 0;
}
