/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libnss_floor.so.2: the cheapest NSS module glibc can dispatch to, for bench/run-nss.sh. It
 * answers getpwnam_r/getpwuid_r for the benchmark's names ("u" and six digits) and uids with one
 * fixed record of the same shape as the benchmark's users (one memcpy of the strings), and
 * NOTFOUND for anything else, without looking anything up. Whatever a lookup through it costs is
 * glibc's dispatch (getpwnam's lock and buffer, nsswitch state, the module's function table) plus
 * one copy: a floor that no module reached through glibc can go under. Its first lookup in a fresh
 * process is likewise the floor of loading a module. Not installed, not a test.
 *
 * With $NSS_FLOOR_TOUCH naming a file (the benchmark's snapshot), a name lookup also reads one
 * 64-byte line among the first 100k lines of that file (6.4 MB: one line per user, the least room
 * 100k passwd records take), picked by a hash of the name, through a mapping made at the first
 * call: the one cache miss that any module keeping 100k records in memory pays for a random user,
 * and nothing else. */

#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define _public_ __attribute__((visibility("default")))

/* "u000000\0x\0Bench User\0/home/u000000\0/bin/bash\0", name patched in. */
static const char record[] = "u000000\0x\0Bench User\0/home/u000000\0/bin/bash";

static pthread_once_t touch_once = PTHREAD_ONCE_INIT;
static const unsigned char *touch_map;
static size_t touch_lines;

static void touch_init(void) {
        const char *path = getenv("NSS_FLOOR_TOUCH");
        struct stat st;
        void *p;
        int fd;

        if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return;
        if (fstat(fd, &st) == 0 && st.st_size >= 64) {
                p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
                if (p != MAP_FAILED) {
                        touch_map = p;
                        touch_lines = (size_t) st.st_size / 64;
                        if (touch_lines > 100000)
                                touch_lines = 100000;
                }
        }
        close(fd);
}

/* Reads one line of the touched file, chosen by the name (FNV-1a, then a multiplicative mix). */
static unsigned touch(const char *name) {
        uint32_t h = 2166136261u;

        (void) pthread_once(&touch_once, touch_init);
        if (!touch_map)
                return 0;
        for (const char *c = name; *c; c++)
                h = (h ^ (unsigned char) *c) * 16777619u;
        h ^= h >> 15;
        h *= 0x2c1b3c6du;
        h ^= h >> 12;
        return *(const volatile unsigned char *) (touch_map + (h % touch_lines) * 64);
}

static enum nss_status fill(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                            int *errnop) {
        if (buflen < sizeof(record)) {
                *errnop = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        }
        memcpy(buf, record, sizeof(record));
        memcpy(buf, name, 7);
        memcpy(buf + 27, name + 1, 6);
        pw->pw_name = buf;
        pw->pw_passwd = buf + 8;
        pw->pw_gecos = buf + 10;
        pw->pw_dir = buf + 21;
        pw->pw_shell = buf + 35;
        pw->pw_uid = uid;
        pw->pw_gid = 100000;
        return NSS_STATUS_SUCCESS;
}

_public_ enum nss_status _nss_floor_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                               int *errnop) {
        unsigned v = 0;

        if (name[0] != 'u' || strlen(name) != 7) {
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        }
        for (int i = 1; i < 7; i++)
                v = v * 10 + (unsigned) (name[i] - '0');
        v += touch(name) & 0;   /* read, not used */
        return fill(name, 100000 + v, pw, buf, buflen, errnop);
}

_public_ enum nss_status _nss_floor_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                               int *errnop) {
        char name[8] = "u000000";

        if (uid < 100000 || uid >= 200000) {
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        }
        for (unsigned v = uid - 100000, i = 6; i > 0; i--, v /= 10)
                name[i] = (char) ('0' + v % 10);
        return fill(name, uid, pw, buf, buflen, errnop);
}
