/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reader of the snapshot that provision-syncd publishes for the NSS and PAM modules, and the
 * process-wide cached mapping of it. libc only: this is linked into every process on the host.
 *
 * Errors: -ENOENT (no such file, or no such record), -EBADMSG (foreign, truncated or corrupt file;
 * detected at open for the header and section bounds, and lazily at access for every record,
 * string and array touched), other -errno from open/fstat/mmap. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov-types.h"

/* Group flag: served under an existing local group's name/gid, for glibc [SUCCESS=merge]. */
#define PROV_SNAP_GROUP_MAPPED 0x1u

typedef struct ProvSnapshot ProvSnapshot;

/* A user record. Pointers borrow from the mapping: valid while the snapshot is open (or, for the
 * cache, until prov_cache_release()). */
typedef struct ProvSnapUserView {
        const char *name, *gecos, *home, *shell;
        uint32_t uid, gid;
        ProvState state;
        uint32_t lastchg_days;          /* shadow sp_lstchg, 0 = unknown */
        uint32_t n_gids;                /* supplementary groups, read with prov_snapshot_user_gid() */
        uint32_t index;                 /* record index, enumeration order */
        uint32_t _gids_index;           /* private */
} ProvSnapUserView;

typedef struct ProvSnapGroupView {
        const char *name;
        uint32_t gid;
        uint32_t flags;                 /* PROV_SNAP_GROUP_* */
        uint32_t n_members;             /* read with prov_snapshot_group_member() */
        uint32_t member_bytes;          /* sum of (strlen + 1) of the members as the writer stated
                                         * it: a sizing hint, not trusted for memory safety */
        uint32_t index;
        uint32_t _members_index;        /* private: the record's ref */
} ProvSnapGroupView;

/* A passwd record as stored: text is "name\0x\0gecos\0home\0shell\0" (size bytes, the last a
 * NUL), the strings of struct passwd in the order getpwnam_r lays them out, so that a lookup is one
 * bounded copy. Checked by the reader: the NULs after the name and "x" and at the end. */
typedef struct ProvSnapPasswd {
        const char *text;
        size_t size;
        size_t name_len;
        uint32_t uid, gid;
        uint32_t index;                 /* record index, enumeration order */
} ProvSnapPasswd;

/* A group record as stored: text is "name\0x\0" followed by the member names, each with its NUL
 * (size bytes), as getgrnam_r lays them out after the gr_mem array; member i starts at
 * text + name_len + 3 + member_off[i]. The reader checked the text's NULs and the array's bounds,
 * not the offsets: each must be checked against member_bytes where it is used. */
typedef struct ProvSnapGroupRecord {
        const char *text;
        size_t size;
        size_t name_len;
        size_t member_bytes;            /* size - name_len - 3 */
        const uint32_t *member_off;     /* n_members entries */
        uint32_t n_members;
        uint32_t gid;
        uint32_t flags;                 /* PROV_SNAP_GROUP_* */
        uint32_t index;
        uint32_t _ref;                  /* private */
} ProvSnapGroupRecord;

/* 0 when a file's owner and mode say only root wrote it (or, for an unprivileged process that is
 * not setuid, its own user), else -EPERM: the snapshot and the SSH keys file are refused then. */
struct stat;
int prov_file_trusted(const struct stat *st);

int prov_snapshot_open(const char *path, ProvSnapshot **ret);
ProvSnapshot *prov_snapshot_close(ProvSnapshot *s);
static inline void prov_snapshot_closep(ProvSnapshot **s) {
        if (*s)
                *s = prov_snapshot_close(*s);
}

uint64_t prov_snapshot_generation(const ProvSnapshot *s);
uint64_t prov_snapshot_created_usec(const ProvSnapshot *s);
uint64_t prov_snapshot_last_sync_usec(const ProvSnapshot *s);
uint32_t prov_snapshot_uid_min(const ProvSnapshot *s);
uint32_t prov_snapshot_uid_max(const ProvSnapshot *s);
size_t prov_snapshot_n_users(const ProvSnapshot *s);
size_t prov_snapshot_n_groups(const ProvSnapshot *s);
/* True once the writer has replaced this file by a newer one (one memory load, no syscall). */
bool prov_snapshot_is_stale(const ProvSnapshot *s);
/* Whether the mapped file is the one with this device and inode. */
bool prov_snapshot_same_file(const ProvSnapshot *s, uint64_t dev, uint64_t ino);

int prov_snapshot_user_by_name(const ProvSnapshot *s, const char *name, ProvSnapUserView *ret);
int prov_snapshot_user_by_uid(const ProvSnapshot *s, uint32_t uid, ProvSnapUserView *ret);
int prov_snapshot_user_at(const ProvSnapshot *s, size_t index, ProvSnapUserView *ret);
/* i-th supplementary gid of a user (sorted ascending, no duplicates). */
int prov_snapshot_user_gid(const ProvSnapshot *s, const ProvSnapUserView *u, size_t i, uint32_t *ret);

int prov_snapshot_group_by_name(const ProvSnapshot *s, const char *name, ProvSnapGroupView *ret);
int prov_snapshot_group_by_gid(const ProvSnapshot *s, uint32_t gid, ProvSnapGroupView *ret);
int prov_snapshot_group_at(const ProvSnapshot *s, size_t index, ProvSnapGroupView *ret);
/* i-th member login name of a group. */
int prov_snapshot_group_member(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                               const char **ret);
/* Same, also returning strlen() of the name (verified against the string table). */
int prov_snapshot_group_member_len(const ProvSnapshot *s, const ProvSnapGroupView *g, size_t i,
                                   const char **ret, size_t *ret_len);

/* The same records in their stored form, for the NSS module: no string is measured or resolved
 * separately. */
int prov_snapshot_passwd_by_name(const ProvSnapshot *s, const char *name, ProvSnapPasswd *ret);
int prov_snapshot_passwd_by_uid(const ProvSnapshot *s, uint32_t uid, ProvSnapPasswd *ret);
int prov_snapshot_passwd_at(const ProvSnapshot *s, size_t index, ProvSnapPasswd *ret);
int prov_snapshot_group_record_by_name(const ProvSnapshot *s, const char *name, ProvSnapGroupRecord *ret);
int prov_snapshot_group_record_by_gid(const ProvSnapshot *s, uint32_t gid, ProvSnapGroupRecord *ret);
int prov_snapshot_group_record_at(const ProvSnapshot *s, size_t index, ProvSnapGroupRecord *ret);

/* One passwd lookup without mapping the file: opens path, reads its header, the index slots and
 * the record with pread() (the same checks as prov_snapshot_open() and the lookups above), copies
 * the record's text into buf (ret->text == buf) and closes the file. Returns 1 when found, with the
 * file's uid_min; 0 when the file holds no such user; -ERANGE when buf is shorter than the text;
 * any other -errno when the file cannot be used (the caller then maps it, which reports why). For a
 * process's first few lookups: it touches no new memory, where a mapping costs a page table and a
 * page fault for each 2 MiB of it that a lookup touches first. buf's contents are unspecified
 * unless 1 is returned. */
int prov_snapshot_peek_passwd_by_name(const char *path, const char *name, char *buf, size_t buflen,
                                      ProvSnapPasswd *ret, uint32_t *ret_uid_min);
int prov_snapshot_peek_passwd_by_uid(const char *path, uint32_t uid, char *buf, size_t buflen,
                                     ProvSnapPasswd *ret, uint32_t *ret_uid_min);

/* Whether the passwd file at path (NULL: /etc/passwd) has a line for exactly this name, read
 * without NSS: 1 if it has, 0 if not (or the file is missing), -errno if it cannot be read. The
 * host's own accounts are never the directory's, whatever a snapshot says (PAM, SSH keys). */
int prov_local_user_exists(const char *path, const char *name);

/* Whether /etc/passwd (PROV_LOCAL_PASSWD) or /etc/group (PROV_LOCAL_GROUP) has the name (NULL: not
 * asked) or the id, as read with the cached mapping: the caller holds prov_cache_acquire()'s lock. */
typedef enum ProvLocal {
        PROV_LOCAL_PASSWD,
        PROV_LOCAL_GROUP,
} ProvLocal;
bool prov_cache_local(ProvLocal which, const char *name, uint32_t id);
/* The highest id of the file (0 when it has none): an id above it is not local, whatever the
 * name. Under the same lock. */
uint32_t prov_cache_local_max_id(ProvLocal which);
/* A user record's name, uid or primary gid is the host's own (/etc/passwd's name or uid, or a gid
 * of /etc/group). The same for a peek's answer, without the cache acquired: the files are re-read
 * if they changed (one that this process may not read is empty, one that fails otherwise keeps
 * what was read before). */
bool prov_cache_local_user(const char *name, uint32_t uid, uint32_t gid);
bool prov_cache_local_user_peek(const char *name, uint32_t uid, uint32_t gid);

/* Process-wide shared read-only mapping. On success *ret is valid, and the caller holds a read
 * lock, until prov_cache_release(); on failure no lock is held. path NULL means
 * $PROVISION_SNAPSHOT (secure_getenv) or PROV_SNAPSHOT_PATH, read when the mapping is (re)checked,
 * not on every call. The mapping is replaced when the writer marked it stale (one memory load per
 * call), or when a stat shows another inode: that check runs on every 64th call at most once a
 * second, so that a lookup reads neither the clock nor the environment. */
int prov_cache_acquire(const char *path, const ProvSnapshot **ret);
void prov_cache_release(void);
/* Drops the cached mapping (tests, and modules being unloaded). Must not be called with the
 * cache acquired. */
void prov_cache_flush(void);
/* The path prov_cache_acquire(NULL, ...) uses. */
const char *prov_cache_default_path(void);
/* Whether this lookup should peek (prov_snapshot_peek_passwd_*) at the default path instead of
 * acquiring the mapping: true for the first PROV_CACHE_PEEKS calls of a process that has not
 * mapped the snapshot yet. A process that makes a few lookups never maps the file; one that
 * makes more maps it once its lookups would pay for that. A peek is six system calls (13 us each
 * in a fresh process on the benchmark's VM, a few us on bare metal); the first lookups through a
 * mapping fault in a page table and pages for each 2 MiB stretch they touch (100-200 us each
 * there): on that VM 20 lookups by peek cost 0.54 ms, through the mapping 1.0-1.5 ms. */
#define PROV_CACHE_PEEKS 32u
bool prov_cache_peek_due(void);
