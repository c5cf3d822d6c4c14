/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the D-Bus control interface lands: the daemon runs without it. */
#include <errno.h>

#include "daemon.h"

int prov_bus_new(ProvDaemon *d, ProvBus **ret) {
        return -EOPNOTSUPP;
}

ProvBus *prov_bus_free(ProvBus *b) {
        return NULL;
}

void prov_bus_sync_done(ProvBus *b, bool full, const ProvActionResult *result) {
}
