/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host's own accounts, read straight from the passwd and group files (never through NSS,
 * so that provision-syncd cannot recurse into nss_provision), and the subordinate id ranges of
 * the subuid and subgid files. A name or id found here is never given to a directory account:
 * a local user who owns a subordinate range can run processes with any uid of it through
 * newuidmap(1), so an id in such a range is as good as a local one. */

#include <stdbool.h>
#include <stdint.h>

#include "prov-config.h"

typedef struct ProvLocalGroup {
        char *name;
        uint32_t gid;
} ProvLocalGroup;

typedef struct ProvLocalAccounts ProvLocalAccounts;

/* Reads the passwd and group files only (no subordinate ranges). A missing file is empty. */
int prov_local_load(const char *passwd_file, const char *group_file, ProvLocalAccounts **ret);
/* Reads all four: passwd and group, and the subuid and subgid files (either may be NULL: not
 * read). A missing file is empty; comments, blank and malformed lines of the subordinate files
 * are skipped. */
int prov_local_load_files(const char *passwd_file, const char *group_file, const char *subuid_file,
                          const char *subgid_file, ProvLocalAccounts **ret);
/* The same with the files the configuration names (passwd_file, group_file, subuid_file,
 * subgid_file). */
int prov_local_load_config(const ProvConfig *c, ProvLocalAccounts **ret);
ProvLocalAccounts *prov_local_free(ProvLocalAccounts *l);

bool prov_local_has_user_name(const ProvLocalAccounts *l, const char *name);
/* True if home is a local user's home, holds one, or lies inside one that is itself below base
 * (home_base). */
bool prov_local_home_overlaps(const ProvLocalAccounts *l, const char *home, const char *base);
bool prov_local_has_uid(const ProvLocalAccounts *l, uint32_t uid);
bool prov_local_has_group_name(const ProvLocalAccounts *l, const char *name);
bool prov_local_has_gid(const ProvLocalAccounts *l, uint32_t gid);
/* True if id lies in a range of the subuid or subgid file (either: user private groups have
 * gid = uid, so both files guard both spaces). */
bool prov_local_in_subid_range(const ProvLocalAccounts *l, uint32_t id);
/* How many subordinate ranges were read (after merging overlapping ones), for logs and tests. */
size_t prov_local_n_subid_ranges(const ProvLocalAccounts *l);
/* The local group of that name, for role mapping onto groups such as sudo; NULL if none. */
/* A digest of what decides what the host may serve: its user names, its groups and their gids,
 * every taken id (passwd, group, subordinate ranges). */
uint64_t prov_local_digest(const ProvLocalAccounts *l);
const ProvLocalGroup *prov_local_group(const ProvLocalAccounts *l, const char *name);
/* True if the id is used locally as a uid or a gid, or lies in a subordinate range: directory
 * users get a private group with the same number, so both spaces must be free. userdata is the
 * ProvLocalAccounts. */
bool prov_local_id_taken(uint32_t id, void *userdata);
/* The allocator's form of prov_local_id_taken(): how many consecutive ids from id on are taken
 * (0: id is free; at most UINT32_MAX), so that a subordinate range of 65536 ids is skipped in one
 * step instead of one probe per id. */
uint32_t prov_local_ids_taken(uint32_t id, void *userdata);

/* The ranges from which useradd(8) hands out subordinate ids, from login.defs(5): SUB_UID_MIN,
 * SUB_UID_MAX, SUB_UID_COUNT and the SUB_GID_ ones, shadow's defaults (100000, 600100000, 65536)
 * for those absent or unparsable. */
typedef struct ProvSubidPolicy {
        uint64_t uid_min, uid_max, uid_count;
        uint64_t gid_min, gid_max, gid_count;
} ProvSubidPolicy;

/* Reads login_defs_file (a missing file gives the defaults). 0 or -errno. */
int prov_local_subid_policy_load(const char *login_defs_file, ProvSubidPolicy *ret);

enum {
        PROV_SUBID_OVERLAP_UID = 1 << 0,
        PROV_SUBID_OVERLAP_GID = 1 << 1,
};

/* Which of the policy's ranges meets [min, max]: a mask of PROV_SUBID_OVERLAP_*, 0 for none. A
 * kind with count 0 hands out nothing and meets nothing. */
unsigned prov_local_subid_overlap(const ProvSubidPolicy *p, uint32_t min, uint32_t max);
