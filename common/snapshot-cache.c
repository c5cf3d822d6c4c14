/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One shared read-only mapping of the snapshot per process. Lookups hold the read lock while
 * they copy out of the mapping; a thread that finds the mapping replaced takes the write lock
 * and swaps it. A replacement is noticed by the writer's stale mark (one memory load), and, at
 * most once per second, by comparing the path's inode with the mapped one, in case the writer
 * died between the rename and the mark. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "prov-snapshot.h"
#include "prov-util.h"

static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static ProvSnapshot *cache_snap;        /* protected by cache_lock */
static char *cache_path;                /* protected by cache_lock */
static int64_t cache_next_check;        /* CLOCK_MONOTONIC_COARSE seconds; atomic */

/* A child must not inherit a lock that another thread of the parent held at fork() time. The
 * mapping and the path are always either NULL or complete objects (they are swapped by a single
 * store), so the child can keep using them. */
static void cache_atfork_child(void) {
        pthread_rwlock_init(&cache_lock, NULL);
        __atomic_store_n(&cache_next_check, 0, __ATOMIC_RELAXED);
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

/* Whether the current mapping can serve a lookup for path without a syscall. Caller holds the
 * lock (either mode). */
static bool cache_usable(const char *path) {
        return cache_snap && cache_path && streq(cache_path, path) && !prov_snapshot_is_stale(cache_snap) &&
               now_sec() < __atomic_load_n(&cache_next_check, __ATOMIC_RELAXED);
}

/* Under the write lock: re-validates or replaces the mapping. */
static int cache_refresh_locked(const char *path) {
        ProvSnapshot *s = NULL, *old;
        char *p;
        struct stat st;
        int r;

        if (cache_usable(path))
                return 0;

        if (cache_snap && cache_path && streq(cache_path, path) && !prov_snapshot_is_stale(cache_snap) &&
            stat(path, &st) >= 0 &&
            prov_snapshot_same_file(cache_snap, (uint64_t) st.st_dev, (uint64_t) st.st_ino)) {
                __atomic_store_n(&cache_next_check, now_sec() + 1, __ATOMIC_RELAXED);
                return 0;
        }

        r = prov_snapshot_open(path, &s);
        if (r < 0) {
                /* The file is gone or broken: stop serving the old one as well. */
                old = cache_snap;
                cache_snap = NULL;
                prov_snapshot_close(old);
                return r;
        }
        if (!cache_path || !streq(cache_path, path)) {
                p = strdup(path);
                if (!p) {
                        prov_snapshot_close(s);
                        return -ENOMEM;
                }
                free(cache_path);
                cache_path = p;
        }
        old = cache_snap;
        cache_snap = s;
        prov_snapshot_close(old);
        __atomic_store_n(&cache_next_check, now_sec() + 1, __ATOMIC_RELAXED);
        return 0;
}

int prov_cache_acquire(const char *path, const ProvSnapshot **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        if (!path)
                path = prov_cache_default_path();
        (void) pthread_once(&cache_once, cache_init_once);

        /* Between dropping the write lock and taking the read lock another thread may replace the
         * mapping again; retry a few times, then serve what is there (it is a complete snapshot). */
        for (unsigned attempt = 0;; attempt++) {
                r = pthread_rwlock_rdlock(&cache_lock);
                if (r != 0)
                        return -r;
                if (cache_usable(path) ||
                    (attempt >= 3 && cache_snap && cache_path && streq(cache_path, path))) {
                        *ret = cache_snap;
                        return 0;
                }
                pthread_rwlock_unlock(&cache_lock);

                r = pthread_rwlock_wrlock(&cache_lock);
                if (r != 0)
                        return -r;
                r = cache_refresh_locked(path);
                pthread_rwlock_unlock(&cache_lock);
                if (r < 0)
                        return r;
        }
}

void prov_cache_release(void) {
        pthread_rwlock_unlock(&cache_lock);
}

void prov_cache_flush(void) {
        if (pthread_rwlock_wrlock(&cache_lock) != 0)
                return;
        cache_snap = prov_snapshot_close(cache_snap);
        free(cache_path);
        cache_path = NULL;
        __atomic_store_n(&cache_next_check, 0, __ATOMIC_RELAXED);
        pthread_rwlock_unlock(&cache_lock);
}
