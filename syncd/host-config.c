/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "host-config.h"
#include "local.h"
#include "log.h"
#include "prov-util.h"

/* Warns when uid_min..uid_max meets the ranges from which useradd(8) hands out subordinate ids:
 * the next local user created may then own ids of directory users. The sync never gives out nor
 * serves an id of a listed range, so this is advice, not an error: existing hosts keep working. */
static void warn_subid_overlap(const ProvConfig *c) {
        ProvSubidPolicy p;
        unsigned overlap;
        int r;

        r = prov_local_subid_policy_load(c->login_defs_file, &p);
        if (r < 0) {
                log_warning_errno(r, "Failed to read %s for the subordinate id ranges: %m", c->login_defs_file);
                return;
        }
        overlap = prov_local_subid_overlap(&p, c->uid_min, c->uid_max);
        if (overlap & PROV_SUBID_OVERLAP_UID)
                log_warning("uid_min..uid_max (%" PRIu32 "..%" PRIu32 ") meets SUB_UID_MIN..SUB_UID_MAX (%" PRIu64
                            "..%" PRIu64 ") of %s: useradd may give new local users subordinate uids of this range, "
                            "which are then never given to directory users (see ID RANGES in provision-syncd.conf(5)).",
                            c->uid_min, c->uid_max, p.uid_min, p.uid_max, c->login_defs_file);
        if (overlap & PROV_SUBID_OVERLAP_GID)
                log_warning("uid_min..uid_max (%" PRIu32 "..%" PRIu32 ") meets SUB_GID_MIN..SUB_GID_MAX (%" PRIu64
                            "..%" PRIu64 ") of %s: useradd may give new local users subordinate gids of this range, "
                            "which are then never given to directory users or groups (see ID RANGES in "
                            "provision-syncd.conf(5)).",
                            c->uid_min, c->uid_max, p.gid_min, p.gid_max, c->login_defs_file);
}

int prov_host_config_load(const char *path, bool warn_subid, ProvConfig **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = prov_config_load(path, ret, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error_errno(r, "Failed to load configuration %s: %m", path);
                return r;
        }
        if (warn_subid)
                warn_subid_overlap(*ret);
        return 0;
}
