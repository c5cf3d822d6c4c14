/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One shared read-only mapping of the snapshot per process. Lookups hold the read lock while
 * they copy out of the mapping; a thread that finds the mapping replaced takes the write lock
 * and swaps it. A replacement is noticed by the writer's stale mark (one memory load per lookup,
 * made before the rename). Anything else, a file replaced by hand or the environment variable
 * changed, is noticed by a re-check of the path (stat, and $PROVISION_SNAPSHOT) that runs on
 * every 16th lookup at most once a second: a lookup itself reads neither the clock nor the
 * environment. Before the first mapping, a process's first PROV_CACHE_PEEKS passwd lookups peek
 * instead (prov_cache_peek_due()): most processes make a handful of lookups and exit, and for them
 * a mapping's page tables and first-touch faults cost more than a few pread() calls. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prov-snapshot.h"
#include "prov-util.h"

/* Lookups between two looks at the clock. */
#define CACHE_CHECK_EVERY 16u

static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static ProvSnapshot *cache_snap;        /* protected by cache_lock */
static char *cache_path;                /* protected by cache_lock */
static bool cache_default;              /* cache_path came from prov_cache_default_path() */
static int64_t cache_next_check;        /* CLOCK_MONOTONIC_COARSE seconds; atomic */
static unsigned cache_calls;            /* lookups, counted loosely (relaxed, lost updates are fine) */
static bool cache_mapped;               /* a mapping was made in this process; atomic */
static unsigned cache_peeks;            /* prov_cache_peek_due() calls before that; atomic */
static int64_t local_next_check;        /* the host's files' next look (see LocalDb); under cache_lock */

/* A child must not inherit a lock that another thread of the parent held at fork() time. The
 * mapping and the path are always either NULL or complete objects (they are swapped by a single
 * store), so the child can keep using them. */
static void cache_atfork_child(void) {
        pthread_rwlock_init(&cache_lock, NULL);
        __atomic_store_n(&cache_next_check, 0, __ATOMIC_RELAXED);
        local_next_check = 0;
}

/* The host's own names and ids, read from /etc/passwd and /etc/group without NSS: a name or an id
 * there is never served (a local account or group always wins), whatever the snapshot holds.
 * Loaded with the mapping and reloaded at the path re-check when a file changed (inode, size,
 * mtime); protected by cache_lock. */
typedef struct LocalDb {
        char *text;             /* the file, each name NUL-terminated in place */
        const char **names;     /* sorted, into text */
        uint32_t *ids;          /* sorted */
        size_t n;
        uint64_t name_bits[4];  /* name_key() of each name: most other names are told apart here */
        struct stat st;         /* of the file read */
} LocalDb;

/* A few bits of a name (first and last byte, length) for LocalDb.name_bits: a directory name whose
 * bit is clear is no local name, without a search (getpwent checks each of 100k users). */
static unsigned name_key(const char *name) {
        size_t n = strlen(name);

        return ((unsigned char) name[0] * 7u + (unsigned) n * 31u + (n > 0 ? (unsigned char) name[n - 1] : 0u)) & 255u;
}

/* A passwd or group file beyond this is not one we read in every process. */
#define LOCAL_FILE_MAX (64 * 1024 * 1024)

static const char *const local_paths[2] = { "/etc/passwd", "/etc/group" };
/* Each replaced by a single pointer store, so that a child forked meanwhile finds a complete table
 * (or the one before). NULL: the file is missing, or this process may not read it (then nss_files
 * serves nothing of it either, so no name of it can be shadowed). */
static LocalDb *local_dbs[2];

/* Reads the name and the numeric id (third field) of a passwd or group line into *ret_len and
 * *ret_id: false for a line that has no such fields (comments, NIS "+" lines, garbage). */
static bool local_line(const char *line, size_t *ret_len, uint32_t *ret_id) {
        const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        unsigned long v;
        char *end;

        if (!c1 || c1 == line || !c2 || c2[1] < '0' || c2[1] > '9' || line[0] == '+' || line[0] == '-')
                return false;
        errno = 0;
        v = strtoul(c2 + 1, &end, 10);
        if (errno != 0 || *end != ':' || v > UINT32_MAX)
                return false;
        *ret_len = (size_t) (c1 - line);
        *ret_id = (uint32_t) v;
        return true;
}

int prov_local_user_exists(const char *path, const char *name) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, len;
        uint32_t id;
        FILE *f;
        int r = 0;

        if (!name || !name[0] || strpbrk(name, ":\n"))
                return 0;       /* no line of a passwd file names such a user */
        f = fopen(path ?: "/etc/passwd", "re");
        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        while (getline(&line, &cap, f) >= 0)
                if (local_line(line, &len, &id) && len == strlen(name) && memcmp(line, name, len) == 0) {
                        r = 1;
                        break;
                }
        if (r == 0 && ferror(f))
                r = -EIO;
        fclose(f);
        return r;
}

static LocalDb *local_db_free(LocalDb *d) {
        if (d) {
                free(d->text);
                free(d->names);
                free(d->ids);
                free(d);
        }
        return NULL;
}

static void local_db_set(ProvLocal which, LocalDb *d) {
        LocalDb *old = local_dbs[which];

        local_dbs[which] = d;
        local_db_free(old);
}

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int cmp_id(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

/* Under the write lock: (re)reads one file if it changed since it was read. A missing file, or one
 * this process may not read, is empty. Any other error keeps the table read before (or none): the
 * check is a second line behind provision-syncd's, which leaves local names and ids out of what
 * it publishes, so a file that cannot be read now must not hide every directory account. No stdio
 * and four allocations: this runs in a process's first lookup. */
static int local_db_refresh(ProvLocal which) {
        const LocalDb *d = local_dbs[which];
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ uint32_t *ids = NULL;
        size_t len = 0, lines = 1, n = 0, l;
        struct stat st;
        LocalDb *nd;
        uint32_t id;

        fd = open(local_paths[which], O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT && errno != EACCES && errno != EPERM)
                        return negative_errno();
                local_db_set(which, NULL);
                return 0;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (d && st.st_dev == d->st.st_dev && st.st_ino == d->st.st_ino && st.st_size == d->st.st_size &&
            st.st_mtim.tv_sec == d->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == d->st.st_mtim.tv_nsec)
                return 0;
        if (st.st_size < 0 || st.st_size > LOCAL_FILE_MAX)
                return -EFBIG;
        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, text + len, (size_t) st.st_size - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        text[len] = '\0';
        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        names = malloc(lines * sizeof(*names));
        ids = malloc(lines * sizeof(*ids));
        if (!names || !ids)
                return -ENOMEM;
        for (char *p = text, *nl; p < text + len; p = nl ? nl + 1 : text + len) {
                nl = memchr(p, '\n', (size_t) (text + len - p));
                if (nl)
                        *nl = '\0';
                if (!local_line(p, &l, &id))
                        continue;
                p[l] = '\0';
                names[n] = p;
                ids[n++] = id;
        }
        qsort(names, n, sizeof(*names), cmp_name);
        qsort(ids, n, sizeof(*ids), cmp_id);
        nd = malloc(sizeof(*nd));
        if (!nd)
                return -ENOMEM;
        *nd = (LocalDb) { .n = n, .st = st };
        for (size_t i = 0; i < n; i++) {
                unsigned k = name_key(names[i]);

                nd->name_bits[k >> 6] |= UINT64_C(1) << (k & 63);
        }
        nd->text = TAKE_PTR(text);
        nd->names = TAKE_PTR(names);
        nd->ids = TAKE_PTR(ids);
        local_db_set(which, nd);
        return 0;
}

bool prov_cache_local(ProvLocal which, const char *name, uint32_t id) {
        const LocalDb *d = local_dbs[which];

        if (!d || d->n == 0)
                return false;
        if (name) {
                unsigned k = name_key(name);

                if (((d->name_bits[k >> 6] >> (k & 63)) & 1) && bsearch(&name, d->names, d->n, sizeof(*d->names), cmp_name))
                        return true;
        }
        /* Directory ids lie above the host's (by default from 200000): one comparison each, which
         * matters for initgroups of a user in hundreds of groups. */
        return id >= d->ids[0] && id <= d->ids[d->n - 1] && bsearch(&id, d->ids, d->n, sizeof(*d->ids), cmp_id);
}

uint32_t prov_cache_local_max_id(ProvLocal which) {
        const LocalDb *d = local_dbs[which];

        return d && d->n > 0 ? d->ids[d->n - 1] : 0;
}

bool prov_cache_local_user(const char *name, uint32_t uid, uint32_t gid) {
        return prov_cache_local(PROV_LOCAL_PASSWD, name, uid) || prov_cache_local(PROV_LOCAL_GROUP, NULL, gid);
}

static void cache_init_once(void) {
        (void) pthread_atfork(NULL, NULL, cache_atfork_child);
}

static int64_t now_sec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
                return 0;
        return ts.tv_sec;
}

const char *prov_cache_default_path(void) {
        const char *e = secure_getenv("PROVISION_SNAPSHOT");

        return e && e[0] == '/' ? e : PROV_SNAPSHOT_PATH;
}

/* Whether the mapping is the one asked for: path NULL means the default path as resolved at the
 * last check. Caller holds the lock (either mode). */
static bool cache_matches(const char *path) {
        if (!cache_snap || !cache_path)
                return false;
        return path ? streq(cache_path, path) : cache_default;
}

/* Whether the path is due for a re-check: every CACHE_CHECK_EVERY-th call, once a second. */
static bool cache_check_due(void) {
        unsigned n = __atomic_load_n(&cache_calls, __ATOMIC_RELAXED);

        __atomic_store_n(&cache_calls, n + 1, __ATOMIC_RELAXED);
        if (n % CACHE_CHECK_EVERY != 0)
                return false;
        return now_sec() >= __atomic_load_n(&cache_next_check, __ATOMIC_RELAXED);
}

/* Under the write lock: re-reads the host's files that changed (keeping a table that cannot be
 * read again, see local_db_refresh()); the next look at them is due a second later (a peek's,
 * before the mapping is made; after that, the path re-check's). */
static void local_dbs_refresh_locked(int64_t now) {
        (void) local_db_refresh(PROV_LOCAL_PASSWD);
        (void) local_db_refresh(PROV_LOCAL_GROUP);
        local_next_check = now + 1;
}

/* Under the write lock: re-checks the path and keeps, replaces or drops the mapping. */
static int cache_refresh_locked(const char *path) {
        ProvSnapshot *s = NULL, *old;
        const char *want = path ?: prov_cache_default_path();
        char *p;
        struct stat st;
        int r;

        local_dbs_refresh_locked(now_sec());

        /* The same file is still there: keep it, even when it is marked stale (the writer marks
         * it before the rename; until then the path still names it). */
        if (cache_snap && cache_path && streq(cache_path, want) && stat(want, &st) >= 0 &&
            prov_snapshot_same_file(cache_snap, (uint64_t) st.st_dev, (uint64_t) st.st_ino)) {
                if (!path)
                        cache_default = true;
                __atomic_store_n(&cache_next_check, now_sec() + 1, __ATOMIC_RELAXED);
                return 0;
        }

        r = prov_snapshot_open(want, &s);
        if (r < 0) {
                /* The file is gone or broken: stop serving the old one as well. */
                old = cache_snap;
                cache_snap = NULL;
                prov_snapshot_close(old);
                return r;
        }
        if (!cache_path || !streq(cache_path, want)) {
                p = strdup(want);
                if (!p) {
                        prov_snapshot_close(s);
                        return -ENOMEM;
                }
                free(cache_path);
                cache_path = p;
        }
        cache_default = !path;
        old = cache_snap;
        cache_snap = s;
        __atomic_store_n(&cache_mapped, true, __ATOMIC_RELAXED);
        prov_snapshot_close(old);
        __atomic_store_n(&cache_next_check, now_sec() + 1, __ATOMIC_RELAXED);
        return 0;
}

bool prov_cache_local_user_peek(const char *name, uint32_t uid, uint32_t gid) {
        int64_t now = now_sec();
        bool local;

        (void) pthread_once(&cache_once, cache_init_once);
        if (pthread_rwlock_wrlock(&cache_lock) != 0)
                return true;
        if (now >= local_next_check)
                local_dbs_refresh_locked(now);
        local = prov_cache_local_user(name, uid, gid);
        pthread_rwlock_unlock(&cache_lock);
        return local;
}

bool prov_cache_peek_due(void) {
        if (__atomic_load_n(&cache_mapped, __ATOMIC_RELAXED))
                return false;
        return __atomic_fetch_add(&cache_peeks, 1, __ATOMIC_RELAXED) < PROV_CACHE_PEEKS;
}

int prov_cache_acquire(const char *path, const ProvSnapshot **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        /* Before the lock is taken, in every call: a fork() while another thread holds the read
         * lock must find the child handler registered (it re-initializes the lock in the child). */
        (void) pthread_once(&cache_once, cache_init_once);

        r = pthread_rwlock_rdlock(&cache_lock);
        if (r != 0)
                return -r;
        if (cache_matches(path) && !prov_snapshot_is_stale(cache_snap) && !cache_check_due()) {
                *ret = cache_snap;
                return 0;
        }
        pthread_rwlock_unlock(&cache_lock);

        /* Between dropping the write lock and taking the read lock another thread may replace the
         * mapping again; whatever is there then is a complete snapshot of the path asked for. */
        for (unsigned attempt = 0; attempt < 3; attempt++) {
                r = pthread_rwlock_wrlock(&cache_lock);
                if (r != 0)
                        return -r;
                r = cache_refresh_locked(path);
                pthread_rwlock_unlock(&cache_lock);
                if (r < 0)
                        return r;

                r = pthread_rwlock_rdlock(&cache_lock);
                if (r != 0)
                        return -r;
                if (cache_matches(path)) {
                        *ret = cache_snap;
                        return 0;
                }
                pthread_rwlock_unlock(&cache_lock);
        }
        return -EAGAIN;
}

void prov_cache_release(void) {
        pthread_rwlock_unlock(&cache_lock);
}

void prov_cache_flush(void) {
        (void) pthread_once(&cache_once, cache_init_once);
        if (pthread_rwlock_wrlock(&cache_lock) != 0)
                return;
        cache_snap = prov_snapshot_close(cache_snap);
        local_db_set(PROV_LOCAL_PASSWD, NULL);
        local_db_set(PROV_LOCAL_GROUP, NULL);
        local_next_check = 0;
        free(cache_path);
        cache_path = NULL;
        cache_default = false;
        __atomic_store_n(&cache_next_check, 0, __ATOMIC_RELAXED);
        pthread_rwlock_unlock(&cache_lock);
}
