/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Time in µs, one way for every part of provision. libc only: the PAM module includes this. */

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define MSEC_PER_SEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
/* For the signed µs of the stores and the wire (CLOCK_REALTIME, differences). */
#define USEC_PER_SEC_I64 ((int64_t) USEC_PER_SEC)

/* clock in µs; 0 if it cannot be read (not for the clocks provision uses). */
static inline uint64_t prov_now(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* clock in ms (deadlines for poll()). */
static inline uint64_t prov_now_msec(clockid_t clock) {
        return prov_now(clock) / USEC_PER_MSEC;
}

/* usec rounded down to a whole millisecond (SCIM timestamps, and the times compared with them,
 * carry milliseconds). */
static inline uint64_t prov_usec_floor_msec(uint64_t usec) {
        return usec - usec % USEC_PER_MSEC;
}
