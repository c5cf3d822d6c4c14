/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "hub-util.h"
#include "prov-time.h"

int hub_random_bytes(void *buf, size_t n) {
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = getrandom(p, n, 0);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int hub_uuid4(char ret[static 37]) {
        uint8_t b[16];
        int r;

        r = hub_random_bytes(b, sizeof(b));
        if (r < 0)
                return r;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* variant 10 */
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

int64_t hub_now_usec(void) {
        return (int64_t) prov_usec_floor_msec(prov_now(CLOCK_REALTIME));
}

const char *hub_format_timestamp(int64_t usec, char buf[static HUB_TIMESTAMP_MAX]) {
        time_t sec = (time_t) (usec / (int64_t) USEC_PER_SEC);
        int ms = (int) ((usec % (int64_t) USEC_PER_SEC) / (int64_t) USEC_PER_MSEC);
        struct tm tm;

        if (usec < 0 || !gmtime_r(&sec, &tm)) {
                snprintf(buf, HUB_TIMESTAMP_MAX, "1970-01-01T00:00:00.000Z");
                return buf;
        }
        snprintf(buf, HUB_TIMESTAMP_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        return buf;
}

size_t hub_base64url(const uint8_t *in, size_t n, char *out) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0, i;

        for (i = 0; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = alphabet[(v >> 6) & 63];
                out[o++] = alphabet[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t) in[i] << 16;

                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
        } else if (n - i == 2) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;

                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = alphabet[(v >> 6) & 63];
        }
        out[o] = 0;
        return o;
}

uint64_t hub_monotonic_usec(void) {
        return prov_now(CLOCK_MONOTONIC);
}
