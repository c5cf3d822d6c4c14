/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PATCH engine (RFC 7644 §3.5.2). Every IdP dialect (Entra's capitalised ops and string
 * booleans, Okta's path-less replaces, ...) is input to this one engine: a path is parsed once
 * into (attribute, optional [filter], optional sub-attribute) and applied to the resource tree. */

#include <cjson/cJSON.h>

#include "scim-error.h"

/* Applies a PatchOp body (RFC 7644 §3.5.2) to `resource` in place. 0 on success (resource possibly unchanged: the caller compares), < 0 with *err set (400 invalidSyntax/invalidPath/noTarget/invalidValue, mutability for id/meta/schemas/members on Users). Nothing is modified on failure (work on a copy and swap). */
int prov_scim_patch_apply(cJSON *resource, const cJSON *body, ProvHubKind kind, ProvScimError *err);
