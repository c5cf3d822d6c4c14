/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SCIM filters (RFC 7644 §3.4.2.2): parsed once into a tree, matched against stored resources
 * (cJSON in the hub's normalised form). Pure functions, no I/O. */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "prov-util.h"
#include "scim-error.h"

typedef enum ProvFilterOp { PROV_FILTER_EQ, PROV_FILTER_NE, PROV_FILTER_CO, PROV_FILTER_SW, PROV_FILTER_EW, PROV_FILTER_GT, PROV_FILTER_GE, PROV_FILTER_LT, PROV_FILTER_LE, PROV_FILTER_PR, PROV_FILTER_AND, PROV_FILTER_OR, PROV_FILTER_NOT, PROV_FILTER_VALUE_PATH } ProvFilterOp;

typedef struct ProvFilter {
        ProvFilterOp op;
        char *attr;   /* comparisons, PR, VALUE_PATH: the attribute path with the core schema URN prefix removed ("userName", "name.givenName", "emails", "meta.lastModified"; an extension attribute keeps its URN: "urn:...:enterprise:2.0:User:employeeNumber") */
        cJSON *value; /* comparisons: string, number, true/false or null. An unquoted bare word (Entra sends `externalId eq jyoung`) is a string. */
        struct ProvFilter *left, *right; /* AND/OR: both; NOT: left; VALUE_PATH: left = the filter inside [...], its attrs relative to attr, and attr may carry a sub-attribute after ']' in `sub` */
        char *sub;    /* VALUE_PATH: "value" in emails[type eq "work"].value, else NULL */
} ProvFilter;

#define PROV_FILTER_TEXT_MAX 4096
#define PROV_FILTER_DEPTH_MAX 32

/* 400 invalidFilter on anything unparsable; text ≤ 4096 bytes, nesting ≤ 32 */
int prov_filter_parse(const char *text, ProvFilter **ret, ProvScimError *err);

/* attribute names case-insensitive; string compare case-insensitive except caseExact attributes
 * (id, externalId, meta.*, $ref and value of members); gt/ge/lt/le on meta.lastModified/created
 * compare as RFC 3339 timestamps; multi-valued attributes match when any element matches */
bool prov_filter_match(const ProvFilter *f, const cJSON *resource);

ProvFilter *prov_filter_free(ProvFilter *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvFilter *, prov_filter_free);

/* For the store's indexes: when f is `ATTR eq "string"` (ATTR one of id, userName, externalId,
 * displayName — case-insensitively) returns true with *ret_attr the canonical name
 * ("id","userName","externalId","displayName") and *ret_value the string (borrowed from f). */
bool prov_filter_simple_eq(const ProvFilter *f, const char **ret_attr, const char **ret_value);

/* When f is exactly `meta.lastModified gt|ge TIMESTAMP`: true, with *ret_usec the timestamp in
 * µs since the epoch and *ret_inclusive true for ge. */
bool prov_filter_modified_since(const ProvFilter *f, int64_t *ret_usec, bool *ret_inclusive); /* true only when f is exactly that comparison */

/* For the PATCH engine: parses a PATCH "path" (RFC 7644 §3.5.2: attrPath, or
 * attrPath "[" valFilter "]" ["." subAttr]). A plain attribute path comes back as a PR node (only
 * attr set), a filtered one as a VALUE_PATH node (attr, left, sub). 400 invalidPath otherwise. */
int prov_filter_parse_path(const char *text, ProvFilter **ret, ProvScimError *err);

/* For the PATCH engine: whether one element of the multi-valued attribute attr ("emails",
 * "members") matches f, the filter between the brackets of a value path (its attrs relative to
 * the element; members[value eq ...] compares ids case-exactly). */
bool prov_filter_match_element(const ProvFilter *f, const cJSON *element, const char *attr);

/* An RFC 3339 timestamp ("2026-01-01T00:00:00Z", fractions and offsets allowed) in µs since the
 * epoch; -EINVAL when s is not one. */
int prov_scim_timestamp_parse(const char *s, int64_t *ret_usec);
