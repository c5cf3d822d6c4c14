/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The JSON layer of the SCIM parser (scim-parse.c): a bounded, checked parse of an untrusted
 * document into cJSON's tree, and the case-insensitive attribute lookup of RFC 7643. Private to
 * the parser's files. */

#include <stddef.h>

#include <cjson/cJSON.h>

#include "arena.h"

/* A parsed document: cJSON's tree, built in an arena of its own. A 3 MB page of groups is a
 * tree of a million nodes and strings; carving them from chunks saves the allocator's header on
 * each (a third of the tree) and a million calls to free(). */
typedef struct JsonTree {
        ProvArena arena;
} JsonTree;

void json_tree_done(JsonTree *t);

/* Parses len bytes of json into tree: at most max_bytes and max_depth deep, strings checked
 * and repaired where a value needs it (the caller's text is left alone), nothing but blanks
 * after the value. -EBADMSG for anything else, -ENOMEM. */
int scim_json_parse(const char *json, size_t len, size_t max_depth, size_t max_bytes, JsonTree *tree, cJSON **ret);

/* Looks up an attribute of a JSON object case-insensitively (RFC 7643 §2.1). Returns 1 and
 * the item, 0 if absent, -ENOTUNIQ if the name is present twice (e.g. "active" and
 * "Active"): we cannot know which one the server meant. A JSON null counts as absent, as
 * RFC 7643 §2.5 makes null equivalent to unassigned. */
int json_get(const cJSON *obj, const char *name, const cJSON **ret);
