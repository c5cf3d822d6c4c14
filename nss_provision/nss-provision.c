/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* glibc NSS module "provision": passwd, group, shadow and initgroups from the snapshot that
 * provision-syncd publishes. Runs inside every process on the host, setuid programs included, so
 * it links libc only, logs nothing, allocates nothing for point lookups, and never resolves
 * anything through NSS itself. Each entry point is a one-line call into a body shared by the
 * databases: lookup(), ent_next() or initgroups_body(), given errno as on entry by nss_call(). */

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "prov-snapshot.h"
#include "prov-util.h"

#define _public_ __attribute__((visibility("default")))

typedef enum Key {
        BY_NAME,
        BY_ID,
} Key;

typedef enum Db {
        DB_PASSWD,
        DB_SHADOW,
        DB_GROUP,
} Db;

/* The one translation of -errno into an NSS status (STYLE §6). Errors of acquiring the snapshot
 * are passed as `unavail`: a missing or corrupt snapshot is UNAVAIL, never NOTFOUND, so that
 * glibc's [NOTFOUND=return] does not hide it. */
static enum nss_status nss_status_from_errno(int r, bool unavail, int *errnop) {
        if (r >= 0)
                return NSS_STATUS_SUCCESS;
        if (unavail) {
                *errnop = -r;
                return NSS_STATUS_UNAVAIL;
        }
        switch (r) {
        case -ENOENT:
                *errnop = ENOENT;
                return NSS_STATUS_NOTFOUND;
        case -ERANGE:
                *errnop = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        case -EAGAIN:
        case -ENOMEM:
                *errnop = -r;
                return NSS_STATUS_TRYAGAIN;
        default:
                *errnop = -r;
                return NSS_STATUS_UNAVAIL;
        }
}

/* An entry point's call: errno as it was on entry, which glibc's callers expect kept when the
 * call succeeds, and where the caller wants the error. nss_call() is the first thing an entry
 * point evaluates, nss_end() the last step of its body. */
typedef struct NssCall {
        int entry_errno;
        int *errnop;
} NssCall;

static NssCall nss_call(int *errnop) {
        return (NssCall) { .entry_errno = errno, .errnop = errnop };
}

/* Ends a call whose result is r (as nss_status_from_errno() reads it): on success errno is put
 * back as on entry; on failure the error is both *errnop and errno (errnop is usually &errno). */
static enum nss_status nss_end(NssCall call, int r, bool unavail) {
        int e = 0;
        enum nss_status st = nss_status_from_errno(r, unavail, &e);

        if (st == NSS_STATUS_SUCCESS) {
                errno = call.entry_errno;
                return st;
        }
        errno = e;
        *call.errnop = e;
        return st;
}

/* Defence in depth: whatever the file says, never serve root or an id below the managed range. */
static bool ids_servable_min(uint32_t uid_min, uint32_t uid, uint32_t gid) {
        return uid != 0 && gid != 0 && uid >= uid_min;
}

static bool ids_servable(const ProvSnapshot *s, uint32_t uid, uint32_t gid) {
        return ids_servable_min(prov_snapshot_uid_min(s), uid, gid);
}

static bool group_servable(const ProvSnapshot *s, uint32_t gid, uint32_t flags) {
        return gid != 0 && (gid >= prov_snapshot_uid_min(s) || (flags & PROV_SNAP_GROUP_MAPPED));
}

/* The host's own accounts and groups always win (DESIGN: a name or id of /etc/passwd or /etc/group
 * is never served), whatever the snapshot holds: a user whose name or uid is local, or whose
 * primary gid is a local group's; a group whose name or gid is local, unless it is served under a
 * local group on purpose (MAPPED, for [SUCCESS=merge]). Under the cache's lock. */
static bool user_ours(const ProvSnapshot *s, const char *name, uint32_t uid, uint32_t gid) {
        return ids_servable(s, uid, gid) && !prov_cache_local_user(name, uid, gid);
}

static bool group_ours(const ProvSnapshot *s, const char *name, uint32_t gid, uint32_t flags) {
        return group_servable(s, gid, flags) &&
               ((flags & PROV_SNAP_GROUP_MAPPED) || !prov_cache_local(PROV_LOCAL_GROUP, name, gid));
}

/* Copies a passwd record into struct passwd: the record's text is already laid out as the
 * strings go into buf, so this is one bounded copy; then the pointers. Writes nothing on -ERANGE,
 * and pw only on success. */
static int pack_passwd(const ProvSnapPasswd *p, struct passwd *pw, char *buf, size_t buflen) {
        char *gecos, *home, *shell, *end;

        if (!buf || buflen < p->size)
                return -ERANGE;
        if (p->text != buf)     /* a peek read it into buf already */
                memcpy(buf, p->text, p->size);
        /* The reader checked the NULs after the name, after "x" and at the end, so each strlen()
         * stops inside the copy; each string must start before its end. */
        end = buf + p->size;
        gecos = buf + p->name_len + 3;
        home = gecos + strlen(gecos) + 1;
        if (home >= end)
                return -EBADMSG;
        shell = home + strlen(home) + 1;
        if (shell >= end)
                return -EBADMSG;
        pw->pw_name = buf;
        pw->pw_passwd = buf + p->name_len + 1;
        pw->pw_gecos = gecos;
        pw->pw_dir = home;
        pw->pw_shell = shell;
        pw->pw_uid = p->uid;
        pw->pw_gid = p->gid;
        return 0;
}

static int pack_spwd(const ProvSnapUserView *u, struct spwd *sp, char *buf, size_t buflen) {
        bool refused = prov_state_is_refused(u->state);
        const char *pwd = refused ? "!*" : "*";
        size_t l_name = strlen(u->name) + 1, l_pwd = strlen(pwd) + 1;
        char *p = buf;

        if (!buf || buflen < l_name + l_pwd)
                return -ERANGE;
        *sp = (struct spwd) {
                .sp_namp = memcpy(p, u->name, l_name),
                .sp_pwdp = memcpy(p + l_name, pwd, l_pwd),
                .sp_lstchg = u->lastchg_days > 0 ? (long) u->lastchg_days : -1,
                .sp_min = -1,
                .sp_max = -1,
                .sp_warn = -1,
                .sp_inact = -1,
                /* Day 1 of the epoch: expired, so that even a PAM stack without pam_provision
                 * refuses the account through pam_unix. */
                .sp_expire = refused ? 1 : -1,
                .sp_flag = (unsigned long) -1,
        };
        return 0;
}

/* Copies a group record into struct group: the gr_mem pointer array first (aligned), then the
 * record's text, which is already "name\0x\0" and the member names as they go into buf: one
 * bounded copy, then one pointer per member from the stored offsets. The size is known before
 * anything is written, so that a short buffer is refused in O(1) (glibc retries with doubled
 * buffers). Each offset is checked against the members' bytes; the text ends with a NUL, so every
 * member string ends inside the copy. gr is written only on success. */
static int pack_group(const ProvSnapGroupRecord *g, struct group *gr, char *buf, size_t buflen) {
        size_t pad, required;
        char **mem, *p, *members;
        uint32_t bad = 0;

        if (!buf)
                return -ERANGE;
        pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        if (__builtin_mul_overflow((size_t) g->n_members + 1, sizeof(char *), &required) ||
            __builtin_add_overflow(required, pad + g->size, &required))
                return -EBADMSG;
        if (buflen < required)
                return -ERANGE;

        mem = (char **) (void *) (buf + pad);
        p = (char *) (mem + g->n_members + 1);
        memcpy(p, g->text, g->size);
        members = p + g->name_len + 3;
        for (size_t i = 0; i < g->n_members; i++) {
                uint32_t off = g->member_off[i];

                bad |= off >= g->member_bytes;  /* no branch: the loop stays a straight pass */
                mem[i] = members + off;
        }
        if (bad)
                return -EBADMSG;
        mem[g->n_members] = NULL;
        gr->gr_name = p;
        gr->gr_passwd = p + g->name_len + 1;
        gr->gr_mem = mem;
        gr->gr_gid = g->gid;
        return 0;
}

/* Finds a user's passwd record by name or uid in the cached snapshot, filtered like every
 * answer. */
static int find_passwd(const ProvSnapshot *s, Key key, const char *name, uint32_t id, ProvSnapPasswd *p) {
        int r;

        if (key == BY_NAME) {
                if (!name)
                        return -ENOENT;
                r = prov_snapshot_passwd_by_name(s, name, p);
        } else
                r = prov_snapshot_passwd_by_uid(s, id, p);
        if (r < 0)
                return r;
        return user_ours(s, p->text, p->uid, p->gid) ? 0 : -ENOENT;
}

/* The full view of a user by name (shadow, initgroups). */
static int find_user(const ProvSnapshot *s, const char *name, ProvSnapUserView *u) {
        int r;

        if (!name)
                return -ENOENT;
        r = prov_snapshot_user_by_name(s, name, u);
        if (r < 0)
                return r;
        return user_ours(s, u->name, u->uid, u->gid) ? 0 : -ENOENT;
}

static int find_group(const ProvSnapshot *s, Key key, const char *name, uint32_t id, ProvSnapGroupRecord *g) {
        int r;

        if (key == BY_NAME) {
                if (!name)
                        return -ENOENT;
                r = prov_snapshot_group_record_by_name(s, name, g);
        } else
                r = prov_snapshot_group_record_by_gid(s, id, g);
        if (r < 0)
                return r;
        return group_ours(s, g->text, g->gid, g->flags) ? 0 : -ENOENT;
}

/* A process's first lookups read the file instead of mapping it (prov_cache_peek_due()). Returns
 * 1 when the peek answered (*ret_r is the lookup's result, as find_passwd() + pack_passwd() give
 * it), 0 when the caller must use the mapping (the file could not be used this way, and the
 * mapping reports why). */
static int pw_peek(Key key, const char *name, uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                   int *ret_r) {
        ProvSnapPasswd p;
        uint32_t uid_min;
        int r;

        if (!buf || (key == BY_NAME && !name))
                return 0;
        if (key == BY_NAME)
                r = prov_snapshot_peek_passwd_by_name(prov_cache_default_path(), name, buf, buflen, &p, &uid_min);
        else
                r = prov_snapshot_peek_passwd_by_uid(prov_cache_default_path(), uid, buf, buflen, &p, &uid_min);
        if (r > 0)
                r = ids_servable_min(uid_min, p.uid, p.gid) && !prov_cache_local_user_peek(p.text, p.uid, p.gid)
                            ? pack_passwd(&p, pw, buf, buflen)
                            : -ENOENT;
        else if (r == 0)
                r = -ENOENT;
        else if (r != -ERANGE)
                return 0;
        *ret_r = r;
        return 1;
}

/* Shared body of the lookups by name or id (getpwnam_r ... getgrgid_r, getspnam_r by name only):
 * the servable record of db that key finds, packed into result. Inlined into each entry point, so
 * that each keeps only its own database's path (getpwnam_r's is the hot one). */
static inline __attribute__((always_inline)) enum nss_status lookup(NssCall call, Db db, Key key, const char *name,
                                                                    uint32_t id, void *result, char *buf,
                                                                    size_t buflen) {
        const ProvSnapshot *s;
        int r;

        if (db == DB_PASSWD && prov_cache_peek_due() && pw_peek(key, name, id, result, buf, buflen, &r) > 0)
                return nss_end(call, r, false);

        r = prov_cache_acquire(NULL, &s);
        if (r < 0)
                return nss_end(call, r, true);
        if (db == DB_GROUP) {
                ProvSnapGroupRecord g;

                r = find_group(s, key, name, id, &g);
                if (r >= 0)
                        r = pack_group(&g, result, buf, buflen);
        } else if (db == DB_PASSWD) {
                ProvSnapPasswd p;

                r = find_passwd(s, key, name, id, &p);
                if (r >= 0)
                        r = pack_passwd(&p, result, buf, buflen);
        } else {
                ProvSnapUserView u;

                r = find_user(s, name, &u);
                if (r >= 0)
                        r = pack_spwd(&u, result, buf, buflen);
        }
        prov_cache_release();
        return nss_end(call, r, false);
}

/* Enumeration cursors: one per database, each with its own mutex. The position advances only
 * after an entry was copied, so that a TRYAGAIN/ERANGE retry with a larger buffer gets the same
 * entry. */
typedef struct Cursor {
        pthread_mutex_t lock;
        size_t index;
} Cursor;

static Cursor pw_cursor = { PTHREAD_MUTEX_INITIALIZER, 0 };
static Cursor gr_cursor = { PTHREAD_MUTEX_INITIALIZER, 0 };
static Cursor sp_cursor = { PTHREAD_MUTEX_INITIALIZER, 0 };

/* A child forked while another thread enumerated must not inherit a locked cursor. */
static void cursors_atfork_child(void) {
        pthread_mutex_init(&pw_cursor.lock, NULL);
        pthread_mutex_init(&gr_cursor.lock, NULL);
        pthread_mutex_init(&sp_cursor.lock, NULL);
}

/* glibc drops atfork handlers of a DSO when it is unloaded, so registering at load is safe. */
__attribute__((constructor)) static void nss_provision_init(void) {
        (void) pthread_atfork(NULL, NULL, cursors_atfork_child);
}

/* On dlclose() the cached snapshot mapping and its path would otherwise stay behind for
 * the life of the process, one set per load (programs that load the module themselves, PAM-style
 * load/unload cycles, valgrind and LSan at exit). No lookup can run while the module is unloaded. */
__attribute__((destructor)) static void nss_provision_fini(void) {
        prov_cache_flush();
}

static void mutex_unlockp(pthread_mutex_t **m) {
        if (*m)
                pthread_mutex_unlock(*m);
}

static pthread_mutex_t *mutex_lock(pthread_mutex_t *m) {
        pthread_mutex_lock(m);
        return m;
}

static enum nss_status cursor_reset(Cursor *c) {
        _cleanup_(mutex_unlockp) _unused_ pthread_mutex_t *l = mutex_lock(&c->lock);

        c->index = 0;
        return NSS_STATUS_SUCCESS;
}


/* Shared body of getpwent_r/getspent_r/getgrent_r: the next servable record from the cursor. */
static enum nss_status ent_next(NssCall call, Db db, Cursor *c, void *result, char *buf, size_t buflen) {
        _cleanup_(mutex_unlockp) _unused_ pthread_mutex_t *l = mutex_lock(&c->lock);
        const ProvSnapshot *s;
        int r;

        if (!buf || buflen == 0)
                return nss_end(call, -ERANGE, false);

        r = prov_cache_acquire(NULL, &s);
        if (r < 0)
                return nss_end(call, r, true);
        for (;; c->index++) {
                if (db == DB_GROUP) {
                        ProvSnapGroupRecord g;

                        r = prov_snapshot_group_record_at(s, c->index, &g);
                        if (r < 0)
                                break;
                        if (!group_ours(s, g.text, g.gid, g.flags))
                                continue;
                        r = pack_group(&g, result, buf, buflen);
                } else if (db == DB_PASSWD) {
                        ProvSnapPasswd p;

                        r = prov_snapshot_passwd_at(s, c->index, &p);
                        if (r < 0)
                                break;
                        if (!user_ours(s, p.text, p.uid, p.gid))
                                continue;
                        r = pack_passwd(&p, result, buf, buflen);
                } else {
                        ProvSnapUserView u;

                        r = prov_snapshot_user_at(s, c->index, &u);
                        if (r < 0)
                                break;
                        if (!user_ours(s, u.name, u.uid, u.gid))
                                continue;
                        r = pack_spwd(&u, result, buf, buflen);
                }
                if (r >= 0)
                        c->index++;
                break;
        }
        prov_cache_release();
        return nss_end(call, r, false);
}

/* Appends the user's supplementary groups to glibc's array, skipping the primary group and gids
 * already present, growing it up to limit. The slice is sorted and duplicate-free as written, so
 * only the entries that were in the array before this call are searched for duplicates (usually
 * one or two), and a slice that is not strictly ascending is -EBADMSG. A gid in the managed range
 * is servable by its value alone; only a gid below it needs its group record (the MAPPED flag). The
 * array is grown once, to the size needed. */
static enum nss_status initgroups_body(NssCall call, const char *user, gid_t skip, long int *start,
                                       long int *size, gid_t **groupsp, long int limit) {
        const ProvSnapshot *s;
        ProvSnapUserView u;
        long int orig_start = *start;
        uint32_t uid_min, local_max, prev = 0;
        bool added = false;
        int r;

        r = prov_cache_acquire(NULL, &s);
        if (r < 0)
                return nss_end(call, r, true);
        uid_min = prov_snapshot_uid_min(s);
        local_max = prov_cache_local_max_id(PROV_LOCAL_GROUP);
        r = find_user(s, user, &u);
        if (r >= 0 && u.n_gids > 0 && *size - *start < (long int) u.n_gids &&
            (limit <= 0 || *size < limit)) {
                long int n = *start + (long int) u.n_gids;
                gid_t *a;

                if (limit > 0 && n > limit)
                        n = limit;
                a = realloc(*groupsp, sizeof(gid_t) * (size_t) n);
                if (a) {
                        *groupsp = a;
                        *size = n;
                } else
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < u.n_gids; i++) {
                ProvSnapGroupView g;
                uint32_t gid;
                bool dup = false;

                r = prov_snapshot_user_gid(s, &u, i, &gid);
                if (r < 0)
                        break;
                if (i > 0 && gid <= prev) {
                        r = -EBADMSG;
                        break;
                }
                prev = gid;
                if (gid == skip || gid == 0)
                        continue;
                if ((gid < uid_min || (gid <= local_max && prov_cache_local(PROV_LOCAL_GROUP, NULL, gid))) &&
                    (prov_snapshot_group_by_gid(s, gid, &g) < 0 || !group_ours(s, g.name, g.gid, g.flags)))
                        continue;
                for (long int k = 0; k < orig_start && !dup; k++)
                        dup = (*groupsp)[k] == gid;
                if (dup)
                        continue;
                if (*start >= *size)
                        break;  /* at limit */
                (*groupsp)[(*start)++] = gid;
                added = true;
        }
        prov_cache_release();
        if (r >= 0 && !added)
                r = -ENOENT;
        return nss_end(call, r, false);
}

/* setent/endent have no error to report: errno as on entry. */
static enum nss_status cursor_reset_keep_errno(Cursor *c) {
        int entry_errno = errno;
        enum nss_status st = cursor_reset(c);

        errno = entry_errno;
        return st;
}

_public_ enum nss_status _nss_provision_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                                                   size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                                   int *errnop);
_public_ enum nss_status _nss_provision_setpwent(int stayopen);
_public_ enum nss_status _nss_provision_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_endpwent(void);
_public_ enum nss_status _nss_provision_getgrnam_r(const char *name, struct group *gr, char *buf,
                                                   size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                                   int *errnop);
_public_ enum nss_status _nss_provision_setgrent(int stayopen);
_public_ enum nss_status _nss_provision_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_endgrent(void);
_public_ enum nss_status _nss_provision_initgroups_dyn(const char *user, gid_t group, long int *start,
                                                       long int *size, gid_t **groupsp, long int limit,
                                                       int *errnop);
_public_ enum nss_status _nss_provision_getspnam_r(const char *name, struct spwd *sp, char *buf,
                                                   size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_setspent(int stayopen);
_public_ enum nss_status _nss_provision_getspent_r(struct spwd *sp, char *buf, size_t buflen, int *errnop);
_public_ enum nss_status _nss_provision_endspent(void);

enum nss_status _nss_provision_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                          int *errnop) {
        return lookup(nss_call(errnop), DB_PASSWD, BY_NAME, name, 0, pw, buf, buflen);
}

enum nss_status _nss_provision_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                          int *errnop) {
        return lookup(nss_call(errnop), DB_PASSWD, BY_ID, NULL, uid, pw, buf, buflen);
}

enum nss_status _nss_provision_setpwent(int stayopen) {
        return cursor_reset_keep_errno(&pw_cursor);
}

enum nss_status _nss_provision_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop) {
        return ent_next(nss_call(errnop), DB_PASSWD, &pw_cursor, pw, buf, buflen);
}

enum nss_status _nss_provision_endpwent(void) {
        return cursor_reset_keep_errno(&pw_cursor);
}

enum nss_status _nss_provision_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen,
                                          int *errnop) {
        return lookup(nss_call(errnop), DB_GROUP, BY_NAME, name, 0, gr, buf, buflen);
}

enum nss_status _nss_provision_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                          int *errnop) {
        return lookup(nss_call(errnop), DB_GROUP, BY_ID, NULL, gid, gr, buf, buflen);
}

enum nss_status _nss_provision_setgrent(int stayopen) {
        return cursor_reset_keep_errno(&gr_cursor);
}

enum nss_status _nss_provision_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop) {
        return ent_next(nss_call(errnop), DB_GROUP, &gr_cursor, gr, buf, buflen);
}

enum nss_status _nss_provision_endgrent(void) {
        return cursor_reset_keep_errno(&gr_cursor);
}

enum nss_status _nss_provision_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                              gid_t **groupsp, long int limit, int *errnop) {
        return initgroups_body(nss_call(errnop), user, group, start, size, groupsp, limit);
}

enum nss_status _nss_provision_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t buflen,
                                          int *errnop) {
        return lookup(nss_call(errnop), DB_SHADOW, BY_NAME, name, 0, sp, buf, buflen);
}

enum nss_status _nss_provision_setspent(int stayopen) {
        return cursor_reset_keep_errno(&sp_cursor);
}

enum nss_status _nss_provision_getspent_r(struct spwd *sp, char *buf, size_t buflen, int *errnop) {
        return ent_next(nss_call(errnop), DB_SHADOW, &sp_cursor, sp, buf, buflen);
}

enum nss_status _nss_provision_endspent(void) {
        return cursor_reset_keep_errno(&sp_cursor);
}
