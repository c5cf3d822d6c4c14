/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The error every part of the hub's SCIM engine reports: an HTTP status, the RFC 7644 §3.12
 * scimType and a human-readable detail. The handlers serialise it as an Error message; the
 * engine never does I/O itself. */

#include <stdbool.h>

#include "prov-util.h"

typedef struct ProvScimError {
        int status;             /* HTTP status: 400, 404, 409, 412, 413 ... */
        const char *scim_type;  /* RFC 7644 §3.12 scimType: "invalidFilter", "invalidPath", "noTarget", "invalidValue", "invalidSyntax", "mutability", "uniqueness", "tooMany", or NULL */
        char detail[256];
} ProvScimError;

/* Fills *e (when not NULL) and returns the errno that goes with the status: -ENOENT for 404,
 * -EEXIST for 409, -EINVAL otherwise, so that `return prov_scim_error_set(...)` is one line. */
int prov_scim_error_set(ProvScimError *e, int status, const char *scim_type, const char *fmt, ...) _printf_(4, 5);

typedef enum ProvHubKind { PROV_HUB_USER, PROV_HUB_GROUP } ProvHubKind;
