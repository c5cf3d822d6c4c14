/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The NSS entry points of nss_provision on a fuzzed snapshot with fuzzed buffer sizes, as glibc
 * calls them. Input: 4 bytes of parameters, then the snapshot file. Each result buffer is
 * allocated at exactly the fuzzed size, so that a write past it is an ASan report; every pointer
 * a SUCCESS hands back must lie inside the caller's buffer. The snapshot is put in a memfd and
 * named by PROVISION_SNAPSHOT=/proc/self/fd/N; the process-wide cache is flushed for each input. */

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "prov-snapshot.h"

enum nss_status _nss_provision_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                          int *errnop);
enum nss_status _nss_provision_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_provision_setpwent(int stayopen);
enum nss_status _nss_provision_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_provision_endpwent(void);
enum nss_status _nss_provision_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen,
                                          int *errnop);
enum nss_status _nss_provision_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_provision_setgrent(int stayopen);
enum nss_status _nss_provision_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_provision_endgrent(void);
enum nss_status _nss_provision_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                              gid_t **groupsp, long int limit, int *errnop);
enum nss_status _nss_provision_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t buflen,
                                          int *errnop);
enum nss_status _nss_provision_setspent(int stayopen);
enum nss_status _nss_provision_getspent_r(struct spwd *sp, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_provision_endspent(void);

/* Enumeration stops after this many records: a fuzzed file holds at most a few thousand. */
#define MAX_ENT 4096

typedef struct Buf {
        char *p;
        size_t len;
} Buf;

/* Whether the string s lies, with its NUL, inside b. */
static bool in_buf(const Buf *b, const char *s) {
        if (!s || !b->p || s < b->p || s >= b->p + b->len)
                return false;
        return memchr(s, 0, (size_t) (b->p + b->len - s)) != NULL;
}

static void check_status(enum nss_status st, int e) {
        FUZZ_CHECK(st == NSS_STATUS_SUCCESS || st == NSS_STATUS_NOTFOUND || st == NSS_STATUS_TRYAGAIN ||
                   st == NSS_STATUS_UNAVAIL);
        /* A short buffer is TRYAGAIN/ERANGE, never ENOMEM (glibc would not retry). */
        FUZZ_CHECK(st != NSS_STATUS_TRYAGAIN || e == ERANGE || e == EAGAIN);
}

static void check_pw(const Buf *b, const struct passwd *pw) {
        FUZZ_CHECK(in_buf(b, pw->pw_name) && in_buf(b, pw->pw_passwd) && in_buf(b, pw->pw_gecos) &&
                   in_buf(b, pw->pw_dir) && in_buf(b, pw->pw_shell));
        /* Defence in depth in the module: never root. */
        FUZZ_CHECK(pw->pw_uid != 0 && pw->pw_gid != 0);
}

static void check_gr(const Buf *b, const struct group *gr) {
        FUZZ_CHECK(in_buf(b, gr->gr_name) && in_buf(b, gr->gr_passwd));
        FUZZ_CHECK(gr->gr_gid != 0);
        FUZZ_CHECK((char *) gr->gr_mem >= b->p && (char *) gr->gr_mem < b->p + b->len);
        for (size_t i = 0;; i++) {
                FUZZ_CHECK((char *) (gr->gr_mem + i + 1) <= b->p + b->len);
                if (!gr->gr_mem[i])
                        break;
                FUZZ_CHECK(in_buf(b, gr->gr_mem[i]));
        }
}

static void lookup_user(const char *name, uid_t uid, Buf *b, long int limit) {
        struct passwd pw;
        struct spwd sp;
        enum nss_status st;
        int e = 0;
        long int start = 1, size = 1;
        gid_t *groups = malloc(sizeof(gid_t));

        st = _nss_provision_getpwnam_r(name, &pw, b->p, b->len, &e);
        check_status(st, e);
        if (st == NSS_STATUS_SUCCESS)
                check_pw(b, &pw);
        st = _nss_provision_getpwuid_r(uid, &pw, b->p, b->len, &e);
        check_status(st, e);
        if (st == NSS_STATUS_SUCCESS)
                check_pw(b, &pw);
        st = _nss_provision_getspnam_r(name, &sp, b->p, b->len, &e);
        check_status(st, e);
        if (st == NSS_STATUS_SUCCESS)
                FUZZ_CHECK(in_buf(b, sp.sp_namp) && in_buf(b, sp.sp_pwdp));

        if (!groups)
                return;
        groups[0] = 12345;
        st = _nss_provision_initgroups_dyn(name, 12345, &start, &size, &groups, limit, &e);
        check_status(st, e);
        FUZZ_CHECK(start >= 1 && start <= size && groups[0] == 12345);
        FUZZ_CHECK(limit <= 0 || size <= (limit > 1 ? limit : 1));
        for (long int i = 1; i < start; i++)
                FUZZ_CHECK(groups[i] != 0 && groups[i] != 12345);
        free(groups);
}

static void lookup_group(const char *name, gid_t gid, Buf *b) {
        struct group gr;
        enum nss_status st;
        int e = 0;

        st = _nss_provision_getgrnam_r(name, &gr, b->p, b->len, &e);
        check_status(st, e);
        if (st == NSS_STATUS_SUCCESS)
                check_gr(b, &gr);
        st = _nss_provision_getgrgid_r(gid, &gr, b->p, b->len, &e);
        check_status(st, e);
        if (st == NSS_STATUS_SUCCESS)
                check_gr(b, &gr);
}

/* One getXXent_r step as glibc does it: on ERANGE, again with a large buffer (the cursor must
 * not have moved). Returns the status of the last call and which buffer holds the result. */
#define ENT_STEP(call_fn, result, b, big, used)                                                 \
        ({                                                                                      \
                int _e = 0;                                                                     \
                enum nss_status _st = call_fn(result, (b)->p, (b)->len, &_e);                   \
                check_status(_st, _e);                                                          \
                *(used) = (b);                                                                  \
                if (_st == NSS_STATUS_TRYAGAIN && _e == ERANGE) {                               \
                        _st = call_fn(result, (big)->p, (big)->len, &_e);                       \
                        check_status(_st, _e);                                                  \
                        *(used) = (big);                                                        \
                }                                                                               \
                _st;                                                                            \
        })

/* Enumerates passwd and shadow; every user is looked up again by name and uid with b2. */
static void enumerate_users(Buf *b, Buf *b2, Buf *big, long int limit) {
        struct passwd pw;
        struct spwd sp;
        Buf *used;

        _nss_provision_setpwent(0);
        for (size_t n = 0; n < MAX_ENT; n++) {
                char name[256];

                if (ENT_STEP(_nss_provision_getpwent_r, &pw, b, big, &used) != NSS_STATUS_SUCCESS)
                        break;
                check_pw(used, &pw);
                snprintf(name, sizeof(name), "%s", pw.pw_name);
                lookup_user(name, pw.pw_uid, b2, limit);
        }
        _nss_provision_endpwent();

        _nss_provision_setspent(0);
        for (size_t n = 0; n < MAX_ENT; n++) {
                if (ENT_STEP(_nss_provision_getspent_r, &sp, b, big, &used) != NSS_STATUS_SUCCESS)
                        break;
                FUZZ_CHECK(in_buf(used, sp.sp_namp) && in_buf(used, sp.sp_pwdp));
        }
        _nss_provision_endspent();
}

static void enumerate_groups(Buf *b, Buf *b2, Buf *big) {
        struct group gr;
        Buf *used;

        _nss_provision_setgrent(0);
        for (size_t n = 0; n < MAX_ENT; n++) {
                char name[256];

                if (ENT_STEP(_nss_provision_getgrent_r, &gr, b, big, &used) != NSS_STATUS_SUCCESS)
                        break;
                check_gr(used, &gr);
                snprintf(name, sizeof(name), "%s", gr.gr_name);
                lookup_group(name, gr.gr_gid, b2);
        }
        _nss_provision_endgrent();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_close_ int fd = -1;
        char path[64];
        Buf b = {}, b2 = {}, big = { .len = 256 * 1024 };
        long int limit;

        if (size < 4)
                return 0;
        /* Buffer sizes 0..2047 (0 = NULL buffer), and the initgroups limit -1..6. */
        b.len = ((size_t) data[0] << 3 | (data[2] & 7)) & 2047;
        b2.len = ((size_t) data[1] << 3 | (data[2] >> 3 & 7)) & 2047;
        limit = (long int) (data[3] % 8) - 1;
        data += 4, size -= 4;

        fd = fuzz_memfd("fuzz-nss", data, size);
        if (fd < 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (setenv("PROVISION_SNAPSHOT", path, 1) < 0)
                return 0;
        prov_cache_flush();

        b.p = b.len > 0 ? malloc(b.len) : NULL;
        b2.p = b2.len > 0 ? malloc(b2.len) : NULL;
        big.p = malloc(big.len);
        if ((b.len > 0 && !b.p) || (b2.len > 0 && !b2.p) || !big.p)
                goto finish;

        enumerate_users(&b, &b2, &big, limit);
        enumerate_groups(&b, &b2, &big);
        /* Names and ids that are not served, whatever the file says. */
        lookup_user("root", 0, &b2, limit);
        lookup_user("", (uid_t) -1, &b2, limit);
        lookup_group("root", 0, &b2);
finish:
        free(b.p);
        free(b2.p);
        free(big.p);
        prov_cache_flush();
        return 0;
}
