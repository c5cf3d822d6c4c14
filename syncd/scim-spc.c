/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <cjson/cJSON.h>
#include <errno.h>
#include <strings.h>

#include "scim-spc.h"
#include "prov-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define SPC_MAX_BYTES (1024 * 1024)

/* Case-insensitive member lookup (RFC 7643 §2.1); NULL when absent, null or ambiguous. */
static const cJSON *spc_get(const cJSON *obj, const char *name) {
        const cJSON *found = NULL, *i;

        if (!cJSON_IsObject(obj))
                return NULL;
        cJSON_ArrayForEach(i, obj) {
                if (!i->string || strcasecmp(i->string, name) != 0)
                        continue;
                if (found)
                        return NULL;
                found = i;
        }
        return found && !cJSON_IsNull(found) ? found : NULL;
}

/* A boolean member, or def when it is absent or not a JSON boolean. */
static bool spc_bool(const cJSON *obj, const char *name, bool def) {
        const cJSON *v = spc_get(obj, name);

        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A positive integer member below 2^53, or 0. */
static uint64_t spc_uint(const cJSON *obj, const char *name) {
        const cJSON *v = spc_get(obj, name);

        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble < 9007199254740992.0) ||
            (double) (uint64_t) v->valuedouble != v->valuedouble)
                return 0;
        return (uint64_t) v->valuedouble;
}

int prov_scim_parse_service_config(const char *json, size_t len, ProvScimServiceConfig *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const cJSON *filter, *pagination;

        if (!json || !ret || len > SPC_MAX_BYTES)
                return -EBADMSG;

        root = cJSON_ParseWithLength(json, len);
        if (!cJSON_IsObject(root))
                return -EBADMSG;

        filter = spc_get(root, "filter");
        pagination = spc_get(root, "pagination");
        *ret = (ProvScimServiceConfig) {
                .filter_supported = spc_bool(filter, "supported", false),
                .filter_max_results = spc_uint(filter, "maxResults"),
                .cursor = spc_bool(pagination, "cursor", false),
                .index = spc_bool(pagination, "index", true),
                .max_page_size = spc_uint(pagination, "maxPageSize"),
        };
        return 0;
}
