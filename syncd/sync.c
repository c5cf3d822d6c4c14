/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One sync of a batch: map the directory (sync-map.c), apply it to the store (sync-apply.c),
 * all in one transaction; the snapshot is exported from the store afterwards (sync-export.c). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "sync-internal.h"

/* Frees what the run of one batch allocated; the result is the caller's. */
static void run_done(SyncRun *run) {
        for (size_t i = 0; i < run->n_groups; i++) {
                free(run->groups[i].name);
                free(run->groups[i].local_name);
        }
        free(run->users);
        free(run->user_by_name);
        free(run->groups);
        prov_id_hash_done(&run->user_hash);
        free(run->group_index);
        free(run->stored_only);
        free(run->deltas);
        prov_group_records_free(run->stored_groups, run->n_stored_groups);
        free(run->stored_group_by_id);
        free(run->stored_group_by_name);
        prov_arena_done(&run->pool);
        sync_rules_done(run);
}

/* The steps of one batch, in the caller's transaction: the directory's refusals, the group rules,
 * map users and groups, apply users, leavers and groups, the movers; then the generation. */
static int apply_batch(SyncRun *run, const ProvScimBatch *batch) {
        int64_t gen = 0;
        int r;

        for (size_t i = 0; i < batch->n_rejects; i++) {
                const ProvScimReject *rj = &batch->rejects[i];
                r = sync_reject(run, rj->kind, rj->id, NULL, rj->reason);
                if (r < 0)
                        return r;
        }
        /* The common delta: nothing changed at the source. Nothing to compare either. */
        if (run->opts->delta && batch->n_users == 0 && batch->n_groups == 0) {
                r = prov_store_state_get_int(run->store, "generation", &gen);
                if (r < 0 && r != -ENOENT)
                        return r;
                run->result->generation = (uint64_t) gen;
                return 0;
        }

        r = sync_load_stored_groups(run);
        if (r >= 0)
                r = sync_rules_load(run);
        if (r >= 0)
                r = sync_rules_resolve(run, batch);
        if (r >= 0)
                r = sync_map_users(run, batch);
        if (r >= 0)
                r = sync_map_groups(run, batch);
        if (r >= 0)
                r = sync_apply_users(run);
        if (r >= 0)
                r = sync_apply_leavers(run);
        if (r >= 0)
                r = sync_apply_groups(run);
        if (r >= 0)
                r = sync_record_movers(run);
        /* A full scan has seen every record: refusals it did not repeat are forgotten, and
         * audited again should they come back. */
        if (r >= 0 && !run->opts->delta)
                r = prov_store_rejects_prune(run->store, run->now);
        if (r < 0)
                return r;

        ProvSyncResult *res = run->result;
        res->changed = res->joiners || res->updated || res->renamed || res->movers || res->suspended ||
                       res->reactivated || res->deprovisioned || res->purged || res->groups_added ||
                       res->groups_removed || res->groups_updated;
        r = prov_store_state_get_int(run->store, "generation", &gen);
        if (r < 0 && r != -ENOENT)
                return r;
        if (!res->changed) {
                res->generation = (uint64_t) gen;
                return 0;
        }
        res->generation = (uint64_t) gen + 1;
        return prov_store_state_set_int(run->store, "generation", gen + 1);
}

int prov_sync_apply_full(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                         const ProvScimBatch *batch, ProvSyncResult *ret) {
        return prov_sync_apply(store, config, local, batch, &(ProvSyncOptions) {}, ret);
}

int prov_sync_apply(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                    const ProvScimBatch *batch, const ProvSyncOptions *opts, ProvSyncResult *ret) {
        ProvSyncResult result = {};
        SyncRun run = {
                .store = store,
                .config = config,
                .local = local,
                .now = prov_now_usec(),
                .result = &result,
                .opts = opts,
        };
        int r;

        result.users_seen = batch->n_users;
        result.groups_seen = batch->n_groups;

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = apply_batch(&run, batch);
        run_done(&run);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(&result);
                return r;
        }
        r = prov_store_commit(store);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(&result);
                return r;
        }
        *ret = result;
        return 0;
}

void prov_sync_result_done(ProvSyncResult *r) {
        free(r->transitions);
        prov_arena_done(&r->strings);
        *r = (ProvSyncResult) {};
}

int prov_sync_record_attempt(ProvStore *store, int error, const char *message) {
        _cleanup_free_ char *full = NULL;
        int64_t now = prov_now_usec();
        int r;

        /* A failure is recorded with its cause ("...: No space left on device"), which is what
         * an administrator reading provisionctl status needs first. */
        if (error && message) {
                if (asprintf(&full, "%s: %s", message, strerror(-error)) < 0)
                        full = NULL;
                else
                        message = full;
        }

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = prov_store_state_set_int(store, "last_attempt_usec", now);
        if (r >= 0 && error == 0)
                r = prov_store_state_set_int(store, "last_success_usec", now);
        if (r >= 0)
                r = prov_store_state_set(store, "last_error", error ? (message ?: strerror(-error)) : "");
        if (r >= 0)
                r = prov_store_state_set(store, "last_result", message ?: "");
        if (r < 0) {
                prov_store_rollback(store);
                return r;
        }
        return prov_store_commit(store);
}

int prov_sync_record_confirmed(ProvStore *store) {
        return prov_store_state_set_int(store, "last_confirmed_usec", prov_now_usec());
}

/* --- what the steps share ------------------------------------------------------------------ */

/* A record the directory sent that we will not serve: recorded in the audit log with the
 * reason, logged, and counted. It never stops the sync. */
int sync_reject(SyncRun *run, const char *kind, const char *scim_id, const char *name, const char *reason) {
        char detail[512];
        int r;

        run->result->rejected++;
        /* Audited (and logged above debug) once, when it first appears or its reason changes:
         * a bad record comes back with every full scan. */
        r = prov_store_reject_note(run->store, kind, scim_id, reason, run->now);
        if (r <= 0) {
                if (r == 0)
                        log_debug("Still skipping %s id='%s' name='%s': %s", kind, SAFE(scim_id), SAFE(name), reason);
                return r;
        }
        snprintf(detail, sizeof(detail), "%s: %s", kind, reason);
        log_warning("Skipping %s id='%s' name='%s': %s", kind, SAFE(scim_id), SAFE(name), reason);
        return prov_store_audit_add(run->store, "reject", name, scim_id, -1, "map", "skipped", detail);
}

static int cmp_idindex(const void *a, const void *b) {
        return strcmp(((const IdIndex *) a)->id, ((const IdIndex *) b)->id);
}

/* (Re)builds a sorted index by SCIM id over users[] or groups[], for lookups that would
 * otherwise be quadratic at 100k users. */
static int build_index(IdIndex **index, size_t n, ProvIdAt id_at, const void *ctx) {
        IdIndex *x = reallocarray(*index, n ? n : 1, sizeof(IdIndex));

        if (!x)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                x[i] = (IdIndex) { .id = id_at(ctx, i), .pos = i };
        qsort(x, n, sizeof(IdIndex), cmp_idindex);
        *index = x;
        return 0;
}

static const char *user_id_at(const void *ctx, size_t i) {
        return ((const SyncRun *) ctx)->users[i].src->id;
}

static const char *group_id_at(const void *ctx, size_t i) {
        return ((const SyncRun *) ctx)->groups[i].src->id;
}

int sync_index_users(SyncRun *run) {
        return prov_id_hash_build(&run->user_hash, run->n_users, user_id_at, run);
}

int sync_index_groups(SyncRun *run) {
        return build_index(&run->group_index, run->n_groups, group_id_at, run);
}

MappedUser *sync_find_user(const SyncRun *run, const char *scim_id) {
        ssize_t i = prov_id_hash_find(&run->user_hash, scim_id, user_id_at, run);
        return i >= 0 ? &run->users[i] : NULL;
}

MappedGroup *sync_find_group(const SyncRun *run, const char *scim_id) {
        IdIndex key = { .id = scim_id }, *hit;

        hit = bsearch(&key, run->group_index, run->n_groups, sizeof(IdIndex), cmp_idindex);
        return hit ? &run->groups[hit->pos] : NULL;
}

int sync_load_stored_groups(SyncRun *run) {
        int r;

        r = prov_store_groups_load(run->store, &run->stored_groups, &run->n_stored_groups);
        if (r < 0)
                return r;
        run->stored_group_by_id = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        run->stored_group_by_name = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        if (!run->stored_group_by_id || !run->stored_group_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                run->stored_group_by_id[i] = (IdIndex) { run->stored_groups[i].scim_id, i };
                run->stored_group_by_name[i] = (IdIndex) { run->stored_groups[i].name, i };
        }
        qsort(run->stored_group_by_id, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        qsort(run->stored_group_by_name, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        return 0;
}

static const IdIndex *index_find(const IdIndex *index, size_t n, const char *key) {
        IdIndex k = { .id = key };
        return bsearch(&k, index, n, sizeof(IdIndex), cmp_idindex);
}

const ProvGroupRecord *sync_stored_group(const SyncRun *run, const char *scim_id, const char *name) {
        const IdIndex *x = scim_id ? index_find(run->stored_group_by_id, run->n_stored_groups, scim_id)
                                   : index_find(run->stored_group_by_name, run->n_stored_groups, name);
        return x ? &run->stored_groups[x->pos] : NULL;
}

int sync_cmp_strp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int prov_read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        struct stat st;

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        cap = (size_t) st.st_size + 1;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len + 1 >= cap) {
                        /* The file grew while we read it: keep reading up to the limit. */
                        if (cap > max)
                                return -EFBIG;
                        size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}
