/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "prov-types.h"

static const char *const state_table[_PROV_STATE_MAX] = {
        [PROV_STATE_ACTIVE] = "active",
        [PROV_STATE_SUSPENDED] = "suspended",
        [PROV_STATE_DEPROVISIONED] = "deprovisioned",
        [PROV_STATE_BLOCKED] = "blocked",
};

const char *prov_state_to_string(ProvState s) {
        if (s < 0 || s >= _PROV_STATE_MAX)
                return NULL;
        return state_table[s];
}

ProvState prov_state_from_string(const char *s) {
        if (!s)
                return _PROV_STATE_INVALID;
        for (int i = 0; i < _PROV_STATE_MAX; i++)
                if (strcmp(state_table[i], s) == 0)
                        return (ProvState) i;
        return _PROV_STATE_INVALID;
}
