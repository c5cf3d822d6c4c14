/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scim-patch.h"
#include "scim-resource.h"
#include "scim-resource.h"

/* Each test applies one PATCH body, in the dialect of the IdP it is named after, and compares the
 * whole resulting resource with the expected JSON (member order aside). */

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define USER                                                                                          \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\"," \
        "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"                      \
        "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}]}"
#define GROUP                                                                                         \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","                 \
        "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u1\"},{\"value\":\"u2\"}]}"
#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define PATCH(ops) "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[" ops "]}"

static void patch_ok(ProvHubKind kind, const char *resource, const char *body, const char *expected) {
        _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(resource), *b = cJSON_Parse(body), *e = cJSON_Parse(expected);
        ProvScimError err = {};

        assert_non_null(r);
        assert_non_null(b);
        assert_non_null(e);
        if (prov_scim_patch_apply(r, b, kind, &err) < 0)
                fail_msg("patch failed: %d %s: %s", err.status, err.scim_type ?: "-", err.detail);
        if (!cJSON_Compare(r, e, true)) {
                _cleanup_free_ char *got = cJSON_PrintUnformatted(r);

                fail_msg("got      %s\nexpected %s", got, expected);
        }
}

/* The patch fails with status and scimType, and the resource is left exactly as it was. */
static void patch_fails(ProvHubKind kind, const char *resource, const char *body, const char *scim_type) {
        _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(resource), *b = cJSON_Parse(body), *orig = NULL;
        ProvScimError err = {};

        assert_non_null(r);
        assert_non_null(b);
        orig = cJSON_Duplicate(r, true);
        if (prov_scim_patch_apply(r, b, kind, &err) >= 0) {
                _cleanup_free_ char *got = cJSON_PrintUnformatted(r);

                fail_msg("patch succeeded: %s", got);
        }
        assert_int_equal(err.status, 400);
        assert_non_null(err.scim_type);
        assert_string_equal(err.scim_type, scim_type);
        assert_true(cJSON_Compare(r, orig, true));
}

static void test_entra_capitalised_ops_string_bool(void **state) {
        (void) state;
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"},"
                       "{\"op\":\"Add\",\"path\":\"displayName\",\"value\":\"Jo Y\"}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":false,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}],\"displayName\":\"Jo Y\"}");
}

static void test_entra_member_remove_by_value(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP,
                 PATCH("{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"u1\"}]}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u2\"}]}");
}

static void test_entra_member_add_null_ref(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP,
                 PATCH("{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"$ref\":null,\"value\":\"u3\"}]}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u1\"},{\"value\":\"u2\"},{\"value\":\"u3\"}]}");
}

static void test_entra_email_value_path_creates(void **state) {
        (void) state;
        /* No work address yet: the element the filter describes is created. */
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"jo@work\"}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"},{\"type\":\"work\",\"value\":\"jo@work\"}]}");
        /* There is a home address: it is the one changed. */
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"home\\\"].value\",\"value\":\"jo@new\"}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@new\"}]}");
}

static void test_entra_name_and_enterprise_paths(void **state) {
        (void) state;
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"Replace\",\"path\":\"name.givenName\",\"value\":\"Joanna\"},"
                       "{\"op\":\"Add\",\"path\":\"" ENT ":manager\",\"value\":\"m1\"},"
                       "{\"op\":\"Add\",\"path\":\"" ENT ":department\",\"value\":\"Tours\"}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":true,\"name\":{\"givenName\":\"Joanna\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}],"
                 "\"" ENT "\":{\"manager\":\"m1\",\"department\":\"Tours\"}}");
}

static void test_entra_compliant_filter_remove(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP, PATCH("{\"op\":\"remove\",\"path\":\"members[value eq \\\"u2\\\"]\"}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u1\"}]}");
}

static void test_entra_compliant_pathless_dotted_urn(void **state) {
        (void) state;
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"replace\",\"value\":{\"active\":false,\"name.givenName\":\"Joanna\","
                       "\"" ENT ":employeeNumber\":\"42\"}}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":false,\"name\":{\"givenName\":\"Joanna\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}],\"" ENT "\":{\"employeeNumber\":\"42\"}}");
}

static void test_entra_compliant_pathless_value_path_key(void **state) {
        (void) state;
        /* A key of a path-less value may itself be a value path. */
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"replace\",\"value\":{\"emails[type eq \\\"work\\\"].value\":\"jo@work\","
                       "\"emails[type eq \\\"home\\\"].value\":\"jo@new\",\"name.familyName\":\"Y\"}}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Y\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@new\"},{\"type\":\"work\",\"value\":\"jo@work\"}]}");
}

/* What matters most: every deactivation shape, once the hub has normalised the result, leaves
 * active a boolean false (and a re-activation true). */
static void test_deactivations_after_normalize(void **state) {
        static const char *const bodies[] = {
                PATCH("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}"),
                PATCH("{\"op\":\"replace\",\"path\":\"active\",\"value\":false}"),
                PATCH("{\"op\":\"replace\",\"value\":{\"active\":false}}"),
                PATCH("{\"op\":\"Replace\",\"value\":{\"active\":\"false\"}}"),
                PATCH("{\"op\":\"Add\",\"path\":\"active\",\"value\":\"FALSE\"}"),
                PATCH("{\"op\":\"replace\",\"path\":\"urn:ietf:params:scim:schemas:core:2.0:User:active\",\"value\":false}"),
                PATCH("{\"op\":\"replace\",\"value\":{\"urn:ietf:params:scim:schemas:core:2.0:User:active\":\"False\"}}"),
                PATCH("{\"op\":\"replace\",\"value\":{\"urn:ietf:params:scim:schemas:core:2.0:User\":{\"active\":false}}}"),
                PATCH("{\"op\":\"replace\",\"value\":{\"id\":\"u1\",\"ACTIVE\":false}}"),
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(USER), *b = cJSON_Parse(bodies[i]);
                ProvScimError err = {};

                assert_non_null(b);
                if (prov_scim_patch_apply(r, b, PROV_HUB_USER, &err) < 0 ||
                    prov_scim_resource_normalize(r, PROV_HUB_USER, &err) < 0)
                        fail_msg("%s: %d %s", bodies[i], err.status, err.detail);
                if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "active")))
                        fail_msg("%s did not deactivate", bodies[i]);

                /* Re-activation. */
                cJSON_Delete(b);
                b = cJSON_Parse(PATCH("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"True\"}"));
                assert_int_equal(prov_scim_patch_apply(r, b, PROV_HUB_USER, &err), 0);
                assert_int_equal(prov_scim_resource_normalize(r, PROV_HUB_USER, &err), 0);
                assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "active")));
        }
}

/* A group emptied and filled again by PATCHes stays servable for the hosts; one member added to
 * no members becomes a list of one. */
static void test_group_members_after_normalize(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(GROUP), *b = NULL;
        ProvScimError err = {};
        const cJSON *m;

        (void) state;
        b = cJSON_Parse(PATCH("{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"u1\"},{\"value\":\"u2\"}]}"));
        assert_int_equal(prov_scim_patch_apply(r, b, PROV_HUB_GROUP, &err), 0);
        assert_int_equal(prov_scim_resource_normalize(r, PROV_HUB_GROUP, &err), 0);
        cJSON_Delete(b);
        b = cJSON_Parse(PATCH("{\"op\":\"add\",\"path\":\"members\",\"value\":{\"value\":\"u9\",\"$ref\":null}}"));
        assert_int_equal(prov_scim_patch_apply(r, b, PROV_HUB_GROUP, &err), 0);
        assert_int_equal(prov_scim_resource_normalize(r, PROV_HUB_GROUP, &err), 0);
        m = cJSON_GetObjectItemCaseSensitive(r, "members");
        assert_true(cJSON_IsArray(m));
        assert_int_equal(cJSON_GetArraySize(m), 1);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(m->child, "value")->valuestring, "u9");
        assert_null(cJSON_GetObjectItemCaseSensitive(m->child, "$ref"));
}

static void test_okta_pathless_deactivate(void **state) {
        (void) state;
        patch_ok(PROV_HUB_USER, USER, PATCH("{\"op\":\"replace\",\"value\":{\"active\":false}}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":false,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"}]}");
}

static void test_okta_group_push_remove_and_add(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP,
                 PATCH("{\"op\":\"remove\",\"path\":\"members[value eq \\\"u1\\\"]\"},"
                       "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"u3\",\"display\":\"Three\"}]}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u2\"},{\"value\":\"u3\",\"display\":\"Three\"}]}");
}

static void test_okta_rename_same_id(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP,
                 PATCH("{\"op\":\"replace\",\"value\":{\"id\":\"g1\",\"displayName\":\"Tour Guides\"}}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Tour Guides\",\"members\":[{\"value\":\"u1\"},{\"value\":\"u2\"}]}");
        patch_fails(PROV_HUB_GROUP, GROUP,
                    PATCH("{\"op\":\"replace\",\"value\":{\"id\":\"g2\",\"displayName\":\"Tour Guides\"}}"),
                    "mutability");
}

static void test_member_add_present_remove_absent_noop(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP,
                 PATCH("{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"u1\"}]},"
                       "{\"op\":\"remove\",\"path\":\"members[value eq \\\"u9\\\"]\"},"
                       "{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"u9\"}]}"),
                 GROUP);
        /* members.value is caseExact: U1 is another member. */
        patch_ok(PROV_HUB_GROUP, GROUP, PATCH("{\"op\":\"remove\",\"path\":\"members[value eq \\\"U1\\\"]\"}"), GROUP);
}

static void test_remove_without_path(void **state) {
        (void) state;
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"remove\"}"), "noTarget");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"remove\",\"value\":{\"active\":true}}"), "noTarget");
}

static void test_add_appends_without_duplicates(void **state) {
        (void) state;
        patch_ok(PROV_HUB_USER, USER,
                 PATCH("{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"type\":\"home\",\"value\":\"jo@home\"},"
                       "{\"type\":\"work\",\"value\":\"jo@work\"}]}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\",\"userName\":\"jo\","
                 "\"active\":true,\"name\":{\"givenName\":\"Jo\",\"familyName\":\"Young\"},"
                 "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"},{\"type\":\"work\",\"value\":\"jo@work\"}]}");
}

static void test_replace_whole_multivalued(void **state) {
        (void) state;
        patch_ok(PROV_HUB_GROUP, GROUP, PATCH("{\"op\":\"replace\",\"path\":\"members\",\"value\":[{\"value\":\"u7\"}]}"),
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"g1\","
                 "\"displayName\":\"Guides\",\"members\":[{\"value\":\"u7\"}]}");
}

static void test_filter_no_match(void **state) {
        (void) state;
        /* remove: nothing to do. */
        patch_ok(PROV_HUB_USER, USER, PATCH("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"]\"}"), USER);
        /* replace with a filter that does not describe one element: nothing to create. */
        patch_fails(PROV_HUB_USER, USER,
                    PATCH("{\"op\":\"replace\",\"path\":\"emails[value co \\\"x\\\"].type\",\"value\":\"work\"}"),
                    "noTarget");
}

static void test_mutability(void **state) {
        (void) state;
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"replace\",\"path\":\"id\",\"value\":\"u2\"}"), "mutability");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"replace\",\"path\":\"meta.created\",\"value\":\"x\"}"),
                    "mutability");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"g\"}]}"),
                    "mutability");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"remove\",\"path\":\"schemas\"}"), "mutability");
        /* An earlier operation that succeeded is not kept either. */
        patch_fails(PROV_HUB_USER, USER,
                    PATCH("{\"op\":\"replace\",\"path\":\"active\",\"value\":false},"
                          "{\"op\":\"replace\",\"path\":\"id\",\"value\":\"u2\"}"),
                    "mutability");
}

static void test_bad_bodies(void **state) {
        (void) state;
        patch_fails(PROV_HUB_USER, USER, "{\"Operations\":{}}", "invalidSyntax");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"move\",\"path\":\"active\"}"), "invalidSyntax");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"add\",\"path\":\"emails[type eq\",\"value\":1}"),
                    "invalidPath");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"add\",\"path\":\"active\"}"), "invalidValue");
        patch_fails(PROV_HUB_USER, USER, PATCH("{\"op\":\"replace\",\"value\":\"x\"}"), "invalidValue");
}

/* What the hub does with a PATCH: apply, then normalise what results (the handler sets id and meta
 * again). Entra's default dialect ends as the one stored form. */
static void test_entra_patch_then_normalize(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(USER), *b = NULL, *e = NULL;
        ProvScimError err = {};

        (void) state;
        b = cJSON_Parse(PATCH("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"},"
                              "{\"op\":\"Add\",\"path\":\"" ENT ":manager\",\"value\":\"m1\"},"
                              "{\"op\":\"Remove\",\"path\":\"name.givenName\"},"
                              "{\"op\":\"Remove\",\"path\":\"name.familyName\"},"
                              "{\"op\":\"Add\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"jo@work\"}"));
        e = cJSON_Parse("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"" ENT "\"],"
                        "\"userName\":\"jo\",\"active\":false,"
                        "\"emails\":[{\"type\":\"home\",\"value\":\"jo@home\"},{\"type\":\"work\",\"value\":\"jo@work\"}],"
                        "\"" ENT "\":{\"manager\":\"m1\"}}");
        assert_non_null(r);
        assert_non_null(b);
        assert_non_null(e);
        if (prov_scim_patch_apply(r, b, PROV_HUB_USER, &err) < 0)
                fail_msg("patch failed: %s", err.detail);
        if (prov_scim_resource_normalize(r, PROV_HUB_USER, &err) < 0)
                fail_msg("normalize failed: %s", err.detail);
        if (!cJSON_Compare(r, e, true)) {
                _cleanup_free_ char *got = cJSON_PrintUnformatted(r);

                fail_msg("got %s", got);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entra_capitalised_ops_string_bool),
                cmocka_unit_test(test_entra_member_remove_by_value),
                cmocka_unit_test(test_entra_member_add_null_ref),
                cmocka_unit_test(test_entra_email_value_path_creates),
                cmocka_unit_test(test_entra_name_and_enterprise_paths),
                cmocka_unit_test(test_entra_compliant_filter_remove),
                cmocka_unit_test(test_entra_compliant_pathless_dotted_urn),
                cmocka_unit_test(test_entra_compliant_pathless_value_path_key),
                cmocka_unit_test(test_deactivations_after_normalize),
                cmocka_unit_test(test_group_members_after_normalize),
                cmocka_unit_test(test_okta_pathless_deactivate),
                cmocka_unit_test(test_okta_group_push_remove_and_add),
                cmocka_unit_test(test_okta_rename_same_id),
                cmocka_unit_test(test_member_add_present_remove_absent_noop),
                cmocka_unit_test(test_remove_without_path),
                cmocka_unit_test(test_add_appends_without_duplicates),
                cmocka_unit_test(test_replace_whole_multivalued),
                cmocka_unit_test(test_filter_no_match),
                cmocka_unit_test(test_mutability),
                cmocka_unit_test(test_bad_bodies),
                cmocka_unit_test(test_entra_patch_then_normalize),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
