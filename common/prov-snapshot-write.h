/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Writer of the snapshot read by libnss_provision and pam_provision (see prov-snapshot.h). */

#include <stddef.h>
#include <stdint.h>

#include "prov-snapshot.h"
#include "prov-types.h"

typedef struct ProvSnapUser {
        const char *name;
        uint32_t uid, gid;
        const char *gecos, *home, *shell;
        ProvState state;
        uint32_t lastchg_days; /* shadow sp_lstchg, 0 = unknown */
} ProvSnapUser;

typedef struct ProvSnapGroup {
        const char *name;
        uint32_t gid;
        const uint32_t *members;    /* member users: indexes into the users of the same write */
        size_t n_members;
        uint32_t flags;             /* PROV_SNAP_GROUP_* */
} ProvSnapGroup;

typedef struct ProvSnapMeta {
        uint64_t generation;
        uint64_t last_sync_usec;
        uint32_t uid_min, uid_max;
} ProvSnapMeta;

/* Validates the records and atomically replaces the snapshot at path: temp file in the same
 * directory, fsync, rename, fsync of the directory, then the replaced file is marked stale so
 * that processes which mapped it re-map. Returns 0 or -errno: -EINVAL for invalid or duplicate
 * records, or a member index not below n_users (nothing is written then). Members whose account
 * is refused (suspended, deprovisioned, blocked), and a member given twice, are dropped; each
 * user's initgroups list is derived from the remaining memberships. */
int prov_snapshot_write(const char *path, const ProvSnapMeta *meta,
                        const ProvSnapUser *users, size_t n_users,
                        const ProvSnapGroup *groups, size_t n_groups);

/* Records a successful sync that changed nothing: updates only last_sync_usec in the published
 * snapshot, in place, so that PAM's staleness check sees a confirmed directory without every
 * process re-mapping a new file. -ENOENT if there is no valid snapshot at path. */
int prov_snapshot_touch(const char *path, uint64_t last_sync_usec);
