/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "prov-config.h"

/* The one way provision-syncd (the daemon at start and on reload, --once, --check-config) and
 * provisionctl load the host's configuration: on failure the parser's message (or, without one,
 * the errno) is logged once. With warn_subid, a uid_min..uid_max that meets the ranges from
 * which useradd(8) hands out subordinate ids is warned about (advice, never an error).
 * Returns 0 or the parser's -errno (-EACCES, -ENOENT, -EINVAL...). */
int prov_host_config_load(const char *path, bool warn_subid, ProvConfig **ret);
