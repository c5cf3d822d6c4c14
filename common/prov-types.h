/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Types every part agrees on: account states and their names. libc only. */

#include <stdint.h>

/* Account states of DESIGN.md. Values are stored in the SQLite store and in the
 * snapshot: never renumber them. */
typedef enum ProvState {
        PROV_STATE_ACTIVE = 0,
        PROV_STATE_SUSPENDED = 1,
        PROV_STATE_DEPROVISIONED = 2,
        PROV_STATE_BLOCKED = 3,
        _PROV_STATE_MAX,
        _PROV_STATE_INVALID = -1,
} ProvState;

const char *prov_state_to_string(ProvState s);
ProvState prov_state_from_string(const char *s);

/* True for the states that PAM refuses and enforcement acts on. */
static inline int prov_state_is_refused(ProvState s) {
        return s == PROV_STATE_SUSPENDED || s == PROV_STATE_DEPROVISIONED || s == PROV_STATE_BLOCKED;
}
