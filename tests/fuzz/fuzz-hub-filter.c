/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* prov_filter_parse() and prov_filter_parse_path() on arbitrary bytes: the ?filter= of any
 * authenticated IdP, and the paths of its PATCH operations. A parse either fails with 400 and a
 * scimType, returning nothing, or returns a tree whose every node is complete; matching it
 * against a resource and asking the index questions must then hold up. */

#include <string.h>

#include "fuzz.h"
#include "scim-filter.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static const char resource_json[] =
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"externalId\":\"jy\","
        "\"userName\":\"jo@example.com\",\"active\":true,\"name\":{\"givenName\":\"Jo\"},"
        "\"emails\":[{\"type\":\"work\",\"value\":\"a@b\",\"primary\":true},\"odd\",3,null],"
        "\"members\":[{\"value\":\"u2\"}],"
        "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"7\","
        "\"manager\":{\"value\":\"m\"}},\"meta\":{\"lastModified\":\"2026-01-01T00:00:00Z\"}}";

/* Every node has what its op needs, and nothing deeper than the parser allows. */
static void check_tree(const ProvFilter *f, bool in_brackets, unsigned depth) {
        FUZZ_CHECK(f);
        FUZZ_CHECK(depth <= 4 * PROV_FILTER_TEXT_MAX);
        switch (f->op) {
        case PROV_FILTER_AND:
        case PROV_FILTER_OR:
                FUZZ_CHECK(f->left && f->right && !f->attr && !f->value);
                check_tree(f->left, in_brackets, depth + 1);
                check_tree(f->right, in_brackets, depth + 1);
                break;
        case PROV_FILTER_NOT:
                FUZZ_CHECK(f->left && !f->right && !f->attr);
                check_tree(f->left, in_brackets, depth + 1);
                break;
        case PROV_FILTER_VALUE_PATH:
                FUZZ_CHECK(!in_brackets && f->attr && f->attr[0] && f->left && !f->right);
                check_tree(f->left, true, depth + 1);
                break;
        case PROV_FILTER_PR:
                FUZZ_CHECK(f->attr && f->attr[0] && !f->value && !f->left);
                break;
        default:
                FUZZ_CHECK(f->op <= PROV_FILTER_LE);
                FUZZ_CHECK(f->attr && f->attr[0] && f->value && !f->left && !f->right);
                FUZZ_CHECK(cJSON_IsString(f->value) || cJSON_IsNumber(f->value) || cJSON_IsBool(f->value) ||
                           cJSON_IsNull(f->value));
                break;
        }
}

static void check_error(const ProvScimError *e, const char *scim_type) {
        FUZZ_CHECK(e->status == 400 || e->status == 500);
        FUZZ_CHECK(e->status == 500 || (e->scim_type && strcmp(e->scim_type, scim_type) == 0));
        FUZZ_CHECK(memchr(e->detail, 0, sizeof(e->detail)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL, *p = NULL;
        _cleanup_(cJSON_Deletep) cJSON *res = NULL;
        _cleanup_free_ char *text = NULL;
        ProvScimError err = {};
        const char *attr, *value;
        int64_t usec;
        bool inclusive;

        if (size > 2 * PROV_FILTER_TEXT_MAX)
                return 0;
        text = strndup((const char *) data, size); /* a NUL byte ends the text, as in a URL */
        res = cJSON_Parse(resource_json);
        FUZZ_CHECK(text && res);

        if (prov_filter_parse(text, &f, &err) < 0) {
                FUZZ_CHECK(!f);
                check_error(&err, "invalidFilter");
        } else {
                check_tree(f, false, 0);
                (void) prov_filter_match(f, res);
                if (prov_filter_simple_eq(f, &attr, &value))
                        FUZZ_CHECK(attr && value && f->op == PROV_FILTER_EQ);
                if (prov_filter_modified_since(f, &usec, &inclusive))
                        FUZZ_CHECK(f->op == PROV_FILTER_GT || f->op == PROV_FILTER_GE);
        }

        err = (ProvScimError) {};
        if (prov_filter_parse_path(text, &p, &err) < 0) {
                FUZZ_CHECK(!p);
                check_error(&err, "invalidPath");
        } else {
                FUZZ_CHECK(p->op == PROV_FILTER_PR || p->op == PROV_FILTER_VALUE_PATH);
                FUZZ_CHECK(p->attr && p->attr[0]);
                if (p->op == PROV_FILTER_VALUE_PATH) {
                        check_tree(p->left, true, 1);
                        (void) prov_filter_match_element(p->left, res, p->attr);
                }
        }
        return 0;
}
