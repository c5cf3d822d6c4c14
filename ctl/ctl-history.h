/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Read-only queries provisionctl needs and syncd/store.h does not offer (yet): a user's id
 * ledger rows and name history, for `provisionctl show`. Opens its own read-only SQLite
 * connection to the store; nothing is ever written. */

#include <stddef.h>
#include <stdint.h>

typedef struct CtlIdRecord {
        char *kind;                     /* "uid" or "gid" */
        uint32_t id;
        char *name;                     /* name at assignment, or NULL */
        int64_t assigned_usec;
} CtlIdRecord;

typedef struct CtlNameChange {
        char *old_name, *new_name;      /* may be NULL */
        int64_t changed_usec;
} CtlNameChange;

typedef struct CtlHistory {
        CtlIdRecord *ids;
        size_t n_ids;
        CtlNameChange *names;
        size_t n_names;
} CtlHistory;

/* Ledger rows owned by "user:<scim_id>" (ordered by assignment) and the name changes of that
 * SCIM id (oldest first). -ENOENT for a missing store, -EIO or -ENOMEM otherwise. */
int ctl_history_load(const char *store_path, const char *scim_id, CtlHistory *ret);
void ctl_history_done(CtlHistory *h);
