/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers of the hub: randomness, clocks and time stamps. libc only. */

#include <stddef.h>
#include <stdint.h>

#include "prov-util.h"

/* Fills buf with n bytes from getrandom() (blocking until the pool is initialised, retrying
 * short reads and EINTR). 0 or -errno. */
int hub_random_bytes(void *buf, size_t n);

/* A random (version 4, RFC 9562) UUID in its 36-character lowercase form. */
int hub_uuid4(char ret[static 37]);

/* CLOCK_REALTIME in µs, truncated to whole milliseconds: what the hub stamps in meta and
 * shows with millisecond precision, so that a `gt` filter on a shown time stamp never returns
 * the resource that carried it. */
int64_t hub_now_usec(void);

/* CLOCK_MONOTONIC in µs: deadlines. */
uint64_t hub_monotonic_usec(void);

/* Formats µs since the epoch as RFC 3339 UTC with milliseconds: "2026-12-05T17:12:08.123Z". */
#define HUB_TIMESTAMP_MAX 80
const char *hub_format_timestamp(int64_t usec, char buf[static HUB_TIMESTAMP_MAX]);

/* base64url without padding (RFC 4648 §5) of n bytes into out, which holds 4*ceil(n/3)+1
 * bytes; returns the length written. */
size_t hub_base64url(const uint8_t *in, size_t n, char *out);
