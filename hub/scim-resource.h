/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the hub stores: a client's resource normalised to one form, and validated once with the
 * host-side parser, so that nothing the hub accepts is refused later by a host. */

#include <stddef.h>

#include <cjson/cJSON.h>

#include "scim-error.h"

/* Normalizes what a client sent (POST/PUT body, or the result of a PATCH) into the form the hub stores: attribute names canonical-cased per the RFC 7643 core/enterprise schemas (userName, displayName, externalId, name.givenName ...; unknown attributes kept as sent), null attributes and empty objects removed, "password" removed (never stored), client-supplied "id"/"meta" removed (the hub sets them), "True"/"False"/"true"/"false" strings coerced to booleans in boolean attributes (active, primary), URN-prefixed keys folded into their extension object ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" → the enterprise extension object), dotted keys ("name.givenName") folded into sub-objects, "schemas" set to the known URNs actually present (unknown or misspelled schema URNs in the request are dropped, not an error), Users: "groups" removed (read-only, derived), "active" defaults true; Groups: members reduced to {"value": id} (plus "display" when given; "$ref": null dropped). Then validates every field once with the same rules the hosts apply: it must pass the host-side parser `prov_scim_parse_user()` / the group parser of syncd/scim-parse.h (call them on the normalized JSON; an unservable resource, e.g. a userName with control characters, invalid UTF-8 or over the length limits, is 400 invalidValue with the parser's reason). Required: userName (User), displayName (Group). */
int prov_scim_resource_normalize(cJSON *resource, ProvHubKind kind, ProvScimError *err);

/* The most members one JSON object may have, in a request body and in a stored resource: cJSON
 * finds a member by walking them all, so an object of 80,000 attributes (870 kB) took 24 s to
 * normalise and each later PATCH of its user 70 s, on the hub's one serving thread. A group's
 * members are elements of an array, which this does not limit. */
#define PROV_SCIM_OBJECT_MEMBERS_MAX 512

/* Whether every object in j has at most PROV_SCIM_OBJECT_MEMBERS_MAX members. */
bool prov_scim_objects_small(const cJSON *j);

/* The largest request body the engine reads (max_bytes below); a larger one is 413. */
#define PROV_SCIM_BODY_MAX (1024 * 1024)
#define PROV_SCIM_JSON_DEPTH_MAX 32

/* Reads a request body: ≤ max_bytes, JSON depth ≤ 32, an object; 400 invalidSyntax otherwise. */
int prov_scim_json_parse(const char *body, size_t len, cJSON **ret, ProvScimError *err);
