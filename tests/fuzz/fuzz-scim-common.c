/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Invariants of the SCIM parser's output, shared by the SCIM harnesses. Each string is read to its
 * end, so that a string that is not terminated inside its allocation is an ASan report. */

#include <string.h>

#include "fuzz-scim.h"
#include "fuzz.h"

/* Lengths promised by scim-parse.h; max_string is the default 4096 in every harness. */
#define ID_MAX 255
#define STRING_MAX 4096

void fuzz_check_scim_user(const ProvScimUser *u) {
        FUZZ_CHECK(u->id && u->id[0] && fuzz_clean_string(u->id, ID_MAX));
        if (u->unservable) {
                /* Only the id and active: the sync keeps the stored account as it is. */
                FUZZ_CHECK(u->unservable[0] && fuzz_clean_string(u->unservable, STRING_MAX));
                FUZZ_CHECK(!u->user_name && !u->display_name && !u->home && !u->shell && !u->has_uid && !u->has_gid);
                return;
        }
        FUZZ_CHECK(u->user_name && u->user_name[0] && fuzz_clean_string(u->user_name, ID_MAX));
        FUZZ_CHECK(!u->display_name || fuzz_clean_string(u->display_name, STRING_MAX));
        FUZZ_CHECK(!u->home || fuzz_clean_string(u->home, STRING_MAX));
        FUZZ_CHECK(!u->shell || fuzz_clean_string(u->shell, STRING_MAX));
}

static void check_group(const ProvScimGroup *g) {
        FUZZ_CHECK(g->id && g->id[0] && fuzz_clean_string(g->id, ID_MAX));
        FUZZ_CHECK(!g->external_id || (g->external_id[0] && fuzz_clean_string(g->external_id, ID_MAX)));
        if (g->unservable) {
                FUZZ_CHECK(g->unservable[0] && fuzz_clean_string(g->unservable, STRING_MAX));
                FUZZ_CHECK(!g->display_name && !g->has_gid);
        } else
                FUZZ_CHECK(g->display_name && g->display_name[0] && fuzz_clean_string(g->display_name, STRING_MAX));
        /* Members unknown only on an unservable group, and then there are none. */
        FUZZ_CHECK(!g->members_unknown || (g->unservable && !g->member_ids && g->n_members == 0));
        FUZZ_CHECK(g->n_members == 0 || g->member_ids);
        for (size_t i = 0; i < g->n_members; i++) {
                FUZZ_CHECK(g->member_ids[i] && fuzz_clean_string(g->member_ids[i], ID_MAX));
                /* sorted and deduplicated */
                FUZZ_CHECK(i == 0 || strcmp(g->member_ids[i - 1], g->member_ids[i]) < 0);
        }
}

void fuzz_check_scim_batch(const ProvScimBatch *b) {
        FUZZ_CHECK(b->n_users == 0 || b->users);
        FUZZ_CHECK(b->n_groups == 0 || b->groups);
        FUZZ_CHECK(b->n_rejects == 0 || b->rejects);
        for (size_t i = 0; i < b->n_users; i++)
                fuzz_check_scim_user(&b->users[i]);
        for (size_t i = 0; i < b->n_groups; i++)
                check_group(&b->groups[i]);
        for (size_t i = 0; i < b->n_rejects; i++) {
                const ProvScimReject *rj = &b->rejects[i];
                FUZZ_CHECK(rj->kind && (strcmp(rj->kind, "user") == 0 || strcmp(rj->kind, "group") == 0));
                /* The id is echoed into logs and the audit table: no control characters. */
                FUZZ_CHECK(!rj->id || fuzz_clean_string(rj->id, STRING_MAX));
                FUZZ_CHECK(rj->reason && fuzz_clean_string(rj->reason, STRING_MAX));
        }
        FUZZ_CHECK(!b->next_cursor || fuzz_clean_string(b->next_cursor, STRING_MAX));
}

void fuzz_scim_options(uint8_t selector, ProvScimParseOptions *ret) {
        static const char *const uid_paths[] = {
                NULL,
                "uidNumber",
                "urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                "a.b.c",
        };

        *ret = (ProvScimParseOptions) {
                .uid_attribute = uid_paths[selector % 5],
                .gid_attribute = (selector & 0x8) ? "gidNumber" : NULL,
                /* Small limits now and then, so that the limit paths are reached too. */
                .max_depth = (selector & 0x10) ? 4 : 0,
                .max_members = (selector & 0x20) ? 3 : 0,
        };
}
