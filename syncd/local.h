/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host's own accounts, read straight from the passwd and group files (never through NSS,
 * so that provision-syncd cannot recurse into nss_provision). A name or id found here is never
 * given to a directory account. */

#include <stdbool.h>
#include <stdint.h>

typedef struct ProvLocalGroup {
        char *name;
        uint32_t gid;
} ProvLocalGroup;

typedef struct ProvLocalAccounts ProvLocalAccounts;

int prov_local_load(const char *passwd_file, const char *group_file, ProvLocalAccounts **ret);
ProvLocalAccounts *prov_local_free(ProvLocalAccounts *l);

bool prov_local_has_user_name(const ProvLocalAccounts *l, const char *name);
bool prov_local_has_uid(const ProvLocalAccounts *l, uint32_t uid);
bool prov_local_has_group_name(const ProvLocalAccounts *l, const char *name);
bool prov_local_has_gid(const ProvLocalAccounts *l, uint32_t gid);
/* The local group of that name, for role mapping onto groups such as sudo; NULL if none. */
const ProvLocalGroup *prov_local_group(const ProvLocalAccounts *l, const char *name);
/* True if the id is used locally as a uid or a gid: directory users get a private group with
 * the same number, so both spaces must be free. */
bool prov_local_id_taken(uint32_t id, void *userdata);
