/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the SCIM parser's documents (scim-parse-doc.c) use of its resources (scim-parse.c).
 * Private to those two files. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "scim-parse.h"

#define SCIM_ID_MAX 255
#define SCIM_DETAIL_MAX 400

/* The bounds and attribute paths of one parse (from ProvScimParseOptions, defaults filled in). */
typedef struct Limits {
        const char *uid_attribute;
        const char *gid_attribute;
        const char *ssh_keys_attribute;
        size_t max_depth;
        size_t max_string;
        size_t max_members;
        size_t max_bytes;
        const char *(*intern)(const char *id, void *userdata);
        void *intern_userdata;
} Limits;

Limits scim_limits_from(const ProvScimParseOptions *o);

/* One resource into b (a record, or a reject with why); < 0 only for ENOMEM. */
int scim_parse_resource(ProvScimBatch *b, const cJSON *res, bool groups, const Limits *l);
/* Each resource of a JSON array into b. */
int scim_parse_resources(ProvScimBatch *b, const cJSON *array, bool groups, const Limits *l);
/* An optional or required string attribute of obj: borrowed from the tree (NULL if absent or,
 * for an optional one, empty); -EBADMSG with a reason. */
int scim_get_string_ref(const cJSON *obj, const char *name, bool required, size_t max, const char **ret,
                        char **reason);
/* An integer as a JSON number (integral and exactly representable) or a numeric string. */
int scim_json_to_int64(const cJSON *v, int64_t *ret);
/* A User resource into *ret, its strings in arena; -EBADMSG with a reason. */
int scim_user_from_json(const cJSON *res, const Limits *l, ProvArena *arena, ProvScimUser *ret, char **reason);
/* The resource's "id" as it came (for a reject record), or NULL. */
const char *scim_raw_id(const cJSON *res);
