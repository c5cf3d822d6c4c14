/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "scim-error.h"

int prov_scim_error_set(ProvScimError *e, int status, const char *scim_type, const char *fmt, ...) {
        int r = status == 404 ? -ENOENT : status == 409 ? -EEXIST : -EINVAL;
        va_list ap;

        if (!e)
                return r;
        e->status = status;
        e->scim_type = scim_type;
        va_start(ap, fmt);
        /* Truncation is fine: detail is for people, and it always ends in a NUL. */
        (void) vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
        va_end(ap);
        return r;
}
