/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sync, as a pipeline (prov_sync_run()): fetch the directory (a SCIM scan or a directory
 * file); map it onto POSIX accounts (sync-map.c) and apply it to the store (sync-apply.c) in one
 * transaction; publish the snapshot from the store (sync-export.c); enforce the transitions
 * (enforce.c). */
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/stat.h>

#include "enforce.h"
#include "log.h"
#include "prov-snapshot-write.h"
#include "prov-time.h"
#include "scim-source.h"
#include "sync-internal.h"

/* A directory file larger than this is refused rather than read: 100k users in SCIM shape
 * take about 90 MiB. */
#define DIRECTORY_FILE_MAX (1024ULL * 1024 * 1024)

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

/* Whether the host's own accounts moved since the last sync (a useradd, a delgroup, a new
 * subordinate range): then what the snapshot may serve changed even if the directory did not,
 * and it is published again. The digest is stored with the batch. */
static int local_moved(SyncRun *run, bool *ret) {
        int64_t was = 0, now = (int64_t) prov_local_digest(run->local);
        int r;

        r = prov_store_state_get_int(run->store, "local_digest", &was);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret = r == -ENOENT || was != now;
        return *ret ? prov_store_state_set_int(run->store, "local_digest", now) : 0;
}

/* The steps of one batch, in the caller's transaction: the directory's refusals, the group rules,
 * map users and groups, apply users, leavers and groups, the movers; then the generation. */
static int apply_batch(SyncRun *run, const ProvScimBatch *batch) {
        bool local_changed = false;
        int64_t gen = 0;
        int r;

        r = local_moved(run, &local_changed);
        if (r < 0)
                return r;
        for (size_t i = 0; i < batch->n_rejects; i++) {
                const ProvScimReject *rj = &batch->rejects[i];
                r = sync_reject(run, rj->kind, rj->id, NULL, rj->reason);
                if (r < 0)
                        return r;
        }
        /* The common delta: nothing changed at the source. Nothing to compare either. */
        if (run->opts->delta && batch->n_users == 0 && batch->n_groups == 0 && run->opts->n_gone_users == 0 &&
            run->opts->n_gone_groups == 0 && !local_changed) {
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
                       res->groups_removed || res->groups_updated || local_changed;
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

        /* The steps rely on what a finished batch guarantees (scim-parse.h). */
        if ((batch->n_users > 0 && !batch->user_order) || (batch->n_groups > 0 && !batch->group_order))
                return -EINVAL;

        result.users_seen = batch->n_users;
        result.groups_seen = batch->n_groups;

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = apply_batch(&run, batch);
        if (r >= 0 && opts->state_key)
                r = prov_store_state_set_int(store, opts->state_key, opts->state_value);
        run_done(&run);
        return sync_transaction_end(store, r, &result, ret);
}

int sync_transaction_end(ProvStore *store, int r, ProvSyncResult *result, ProvSyncResult *ret) {
        if (r >= 0)
                r = prov_store_commit(store);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(result);
                return r;
        }
        *ret = *result;
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

/* --- the pipeline: fetch, map and apply, publish, enforce ----------------------------------- */

/* True if another user than root (or the daemon's own user) may write the file or directory. */
static bool others_may_write(const struct stat *st) {
        return (st->st_uid != 0 && st->st_uid != geteuid()) || (st->st_mode & S_IWOTH) ||
               ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid());
}

/* The state directory holds the store (0600) and the snapshot (0644, read by every process
 * through NSS), so the directory itself is 0755. The snapshot that NSS and PAM trust is
 * published there: another user who may write in it could put a snapshot of their own in its
 * place. */
static int ensure_state_dir(const char *path) {
        struct stat st;

        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create state directory %s: %m", path);
        if (stat(path, &st) < 0)
                return log_error_errno(errno, "Failed to check state directory %s: %m", path);
        if (!S_ISDIR(st.st_mode) || others_may_write(&st))
                return log_error_errno(-EPERM,
                                       "State directory %s (owner %u, group %u, mode %04o) may be written by other users "
                                       "than root, refusing to publish a snapshot there.",
                                       path, (unsigned) st.st_uid, (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777));
        return 0;
}

static int read_fd_bounded(int fd, size_t max, char **ret, size_t *ret_len);

/* Whoever can write the directory file chooses this host's accounts and their groups (sudo
 * through map_groups): only root (or the daemon's own user) may, as for the token file. */
static int check_directory_file(int fd, const char *path) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (others_may_write(&st))
                return log_error_errno(-EPERM,
                                       "Directory file %s (owner %u, group %u, mode %04o) may be written by other users "
                                       "than root, refusing it, nothing applied.",
                                       path, (unsigned) st.st_uid, (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777));
        return 0;
}

static int read_directory_file(const ProvConfig *config, ProvScimBatch **ret) {
        /* O_NONBLOCK: a FIFO in its place fails the regular-file check instead of blocking the
         * daemon, and every leaver with it, in open(). Regular files read as before. */
        _cleanup_close_ int fd = open(config->source_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_free_ char *json = NULL;
        size_t len = 0;
        int r;

        r = fd < 0 ? negative_errno() : check_directory_file(fd, config->source_path);
        if (r == -EPERM)
                return r;
        if (r >= 0)
                r = read_fd_bounded(fd, DIRECTORY_FILE_MAX, &json, &len);
        if (r == -EFBIG)
                return log_error_errno(r, "Directory file %s is larger than %llu bytes, refusing it.",
                                       config->source_path, DIRECTORY_FILE_MAX);
        if (r < 0)
                return log_error_errno(r, "Failed to read directory file %s: %m", config->source_path);

        ProvScimParseOptions opts = {
                .uid_attribute = config->uid_attribute,
                .gid_attribute = config->gid_attribute,
                .ssh_keys_attribute = config->ssh_keys_attribute,
                .max_bytes = DIRECTORY_FILE_MAX,
        };
        r = prov_scim_parse_directory(json, len, &opts, ret);
        if (r < 0)
                return log_error_errno(r, "Directory file %s is not a valid SCIM directory, nothing applied: %m",
                                       config->source_path);
        return 0;
}

static int confirm_gone(const char *scim_id, void *userdata) {
        ProvScimClient *client = userdata;
        int r = prov_scim_confirm_user_gone(client, scim_id, NULL);
        if (r < 0)
                log_warning_errno(r, "Could not confirm that '%s' is gone from the source: %m", SAFE(scim_id));
        return r;
}

static int confirm_group_gone(const char *scim_id, void *userdata) {
        int r = prov_scim_confirm_group_gone(userdata, scim_id);
        if (r < 0)
                log_warning_errno(r, "Could not confirm that the group '%s' is gone from the source: %m", SAFE(scim_id));
        return r;
}

static void format_summary(const ProvSyncResult *res, const char *kind, char *buf, size_t size) {
        snprintf(buf, size,
                 "%s: %zu users, %zu groups seen; %zu joined, %zu updated, %zu renamed, %zu moved, %zu suspended, "
                 "%zu reactivated, %zu deprovisioned, %zu rejected%s",
                 kind, res->users_seen, res->groups_seen, res->joiners, res->updated, res->renamed,
                 res->movers, res->suspended, res->reactivated, res->deprovisioned, res->rejected,
                 res->held ? "; deprovisions HELD by the guard" : "");
}

/* Everything after a committed change: the snapshot first (PAM refuses leavers from this
 * moment), then enforcement. A failed enforcement step is recorded and retried on the next
 * sync; it never fails the change itself. */
int prov_sync_publish(const ProvConfig *config, ProvStore *store, const ProvLocalAccounts *local,
                      const ProvSyncResult *res, ProvEnforced *ret_enforced) {
        int r;

        int64_t published = -1;
        if (prov_store_state_get_int(store, "published_generation", &published) < 0)
                published = -1;
        if (!res->changed && published == (int64_t) res->generation) {
                /* Nothing that NSS serves changed since the published snapshot: only tell PAM's
                 * staleness check that the directory was confirmed, instead of making every
                 * process re-map a new file. */
                _cleanup_free_ char *path = prov_config_snapshot_path(config);
                int64_t last = 0;
                if (!path)
                        return log_oom();
                if (prov_store_state_get_int(store, "last_confirmed_usec", &last) >= 0 &&
                    prov_snapshot_touch(path, (uint64_t) last) >= 0)
                        goto enforce;
        }
        r = prov_sync_export(store, config, local);
        if (r < 0) {
                log_error_errno(r, "Failed to publish the snapshot, the previous one stays in place: %m");
                prov_sync_record_attempt(store, r, "publishing the snapshot failed");
                return r;
        }
        if (r > 0)
                prov_sync_record_attempt(store, -EIO, "the snapshot is published, writing the SSH keys file failed");
        r = prov_store_state_set_int(store, "published_generation", (int64_t) res->generation);
        if (r < 0)
                log_warning_errno(r, "Failed to record the published generation: %m");
enforce:
        if (prov_enforce_retry_pending(config, store) < 0)
                log_warning("Retrying earlier enforcement steps failed; trying again on the next sync.");
        if (prov_enforce_transitions_report(config, store, res->transitions, res->n_transitions, ret_enforced) < 0)
                log_warning("Some enforcement steps failed; they are retried on the next sync.");
        return 0;
}

/* Also the cleanup of a ProvSyncState: clears what it frees, so that the cleanup after a failed
 * prov_sync_state_open() (which already called it) frees nothing twice. */
void prov_sync_state_done(ProvSyncState *o) {
        o->store = prov_store_close(o->store);
        o->local = prov_local_free(o->local);
}

int prov_sync_state_open(const ProvConfig *config, const char *store_path, ProvSyncState *ret) {
        int r;

        r = ensure_state_dir(config->state_dir);
        if (r < 0)
                return r;
        r = prov_local_load_config(config, &ret->local);
        if (r < 0)
                return log_error_errno(r, "Failed to read local accounts from %s, %s, %s and %s: %m",
                                       config->passwd_file, config->group_file, config->subuid_file,
                                       config->subgid_file);
        r = prov_store_open(store_path, &ret->store);
        if (r < 0) {
                prov_sync_state_done(ret);
                return log_error_errno(r, "Failed to open store %s: %m", store_path);
        }
        return 0;
}

/* The audit log keeps [sync] audit_retention days: pruned after a sync, at most once a day (the
 * delete scans the table). */
static void audit_prune_daily(const ProvConfig *config, ProvStore *store) {
        const int64_t day = INT64_C(86400) * (int64_t) USEC_PER_SEC;
        int64_t last = 0, now = prov_now_usec();
        int r;

        if (config->audit_retention_days == 0)
                return;
        if (prov_store_state_get_int(store, "audit_pruned_usec", &last) >= 0 && now >= last && now - last < day)
                return;
        r = prov_store_audit_prune(store, now - (int64_t) config->audit_retention_days * day);
        if (r < 0) {
                log_warning_errno(r, "Failed to prune the audit log: %m (%s)", prov_store_errmsg(store));
                return;
        }
        if (r > 0)
                log_info("Pruned %d audit events older than %u days (audit_retention).", r,
                         config->audit_retention_days);
        if (prov_store_state_set_int(store, "audit_pruned_usec", now) < 0)
                log_warning("Failed to record when the audit log was pruned: %s", prov_store_errmsg(store));
}

int sync_apply_publish(const ProvConfig *config, ProvSyncState *st, ProvScimBatch **batch, const ProvSyncOptions *opts,
                       const char *kind, int64_t delta_since, ProvActionResult *ret) {
        _cleanup_free_ ProvEnforced *enforced = NULL;
        ProvSyncResult res = {};
        int r;

        r = prov_sync_apply(st->store, config, st->local, *batch, opts, &res);
        if (r < 0) {
                log_error_errno(r, "Failed to apply the directory, nothing changed: %m (%s)", prov_store_errmsg(st->store));
                prov_sync_record_attempt(st->store, r, "applying the directory failed");
                return r;
        }
        /* The scan is in the store now: its memory goes before the snapshot is built, and so
         * does the page cache the writes needed (the export reads each page once). */
        *batch = prov_scim_batch_free(*batch);
        if (prov_store_cache_for_streaming(st->store) < 0)
                log_debug("Could not shrink the store's page cache: %s", prov_store_errmsg(st->store));
        malloc_trim(0);
        format_summary(&res, kind, ret->summary, sizeof(ret->summary));
        ret->held = res.held;
        ret->generation = res.generation;

        r = prov_sync_record_attempt(st->store, 0, ret->summary);
        if (r >= 0 && !res.held)
                r = prov_sync_record_confirmed(st->store);
        if (r >= 0 && delta_since >= 0)
                r = prov_store_state_set_int(st->store, "delta_since_usec", delta_since);
        if (r < 0)
                log_warning_errno(r, "Failed to record the sync result: %m");
        audit_prune_daily(config, st->store);
        if (opts->enforced && res.n_transitions > 0) {
                enforced = calloc(res.n_transitions, sizeof(ProvEnforced));
                if (!enforced)
                        log_warning("Out of memory: what enforcement does in this sync is not reported.");
        }
        r = prov_sync_publish(config, st->store, st->local, &res, enforced);
        if (r >= 0) {
                log_info("Sync complete (generation %" PRIu64 "): %s", res.generation, ret->summary);
                r = 0;
                for (size_t i = 0; enforced && i < res.n_transitions; i++)
                        if (enforced[i].leaver)
                                opts->enforced(&res.transitions[i], &enforced[i], opts->enforced_userdata);
        }
        prov_sync_result_done(&res);
        return r;
}

int prov_sync_run(const ProvConfig *config, const char *store_path, bool full, ProvActionResult *ret,
                  uint64_t *ret_retry_after) {
        _cleanup_(prov_sync_state_done) ProvSyncState st = {};
        ProvScimClient *client = NULL;
        ProvScimBatch *batch = NULL;
        ProvScimStats stats = {};
        uint64_t started = (uint64_t) prov_now_usec();
        int64_t since = 0;
        int r;

        /* The hub's feed: a snapshot when asked for a full sync (or when none was read yet),
         * else one poll that does not wait. */
        if (config->source_type == PROV_SOURCE_HUB)
                return prov_sync_run_hub(config, store_path, full, 0, NULL, NULL, ret, ret_retry_after);

        *ret = (ProvActionResult) {};
        snprintf(ret->summary, sizeof(ret->summary), "failed");
        if (config->source_type == PROV_SOURCE_FILE)
                full = true; /* a file is always a complete scan */

        r = prov_sync_state_open(config, store_path, &st);
        if (r < 0)
                goto finish;

        if (config->source_type == PROV_SOURCE_SCIM) {
                r = prov_scim_client_new(config, &client);
                if (r == -ENOKEY) {
                        log_error("No bearer token for %s: set token_file or token_credential in [source].", config->url);
                        prov_sync_record_attempt(st.store, r, "no bearer token: set token_file or token_credential in [source]");
                        goto finish;
                }
                if (r < 0) {
                        log_error_errno(r, "Failed to set up the SCIM client for %s: %m", config->url);
                        prov_sync_record_attempt(st.store, r, "setting up the SCIM client failed");
                        goto finish;
                }
                if (!full) {
                        r = prov_store_state_get_int(st.store, "delta_since_usec", &since);
                        if (r == -ENOENT)
                                full = true; /* never synced: nothing to compare a delta against */
                        else if (r < 0)
                                goto finish;
                }
                if (full)
                        r = prov_scim_fetch_full(client, &batch, &stats);
                else
                        r = prov_scim_fetch_delta(client, since - (int64_t) config->overlap_sec * (int64_t) USEC_PER_SEC,
                                                  &batch, &stats);
                if (r == -EBUSY && ret_retry_after)
                        *ret_retry_after = prov_scim_client_retry_after(client);
                if (r < 0) {
                        if (r != -EOPNOTSUPP)
                                log_error_errno(r, "%s scan of %s failed, nothing applied: %m", full ? "Full" : "Delta",
                                                config->url);
                        prov_sync_record_attempt(st.store, r, r == -EACCES ? "authentication failed" : "fetching the directory failed");
                        goto finish;
                }
                log_debug("%s scan: %" PRIu64 " requests, %" PRIu64 " bytes", full ? "Full" : "Delta", stats.requests,
                          stats.bytes);
        } else {
                r = read_directory_file(config, &batch);
                if (r < 0) {
                        prov_sync_record_attempt(st.store, r, "reading the directory file failed");
                        goto finish;
                }
        }

        ProvSyncOptions opts = {
                .delta = !full,
                .confirm_gone = client ? confirm_gone : NULL,
                .confirm_group_gone = client ? confirm_group_gone : NULL,
                .userdata = client,
        };
        r = sync_apply_publish(config, &st, &batch, &opts, full ? "full" : "delta", (int64_t) started, ret);
finish:
        if (r < 0) {
                ret->error = r;
                snprintf(ret->summary, sizeof(ret->summary), "%s sync failed: %s", full ? "full" : "delta",
                         strerror(-r));
        }
        prov_scim_batch_free(batch);
        prov_scim_client_free(client);
        /* A daemon that just handled a large directory should not sit on its memory until the
         * next sync. */
        malloc_trim(0);
        return r;
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

static const char *user_id_at(const void *ctx, size_t i) {
        return ((const SyncRun *) ctx)->users[i].src->id;
}

int sync_index_users(SyncRun *run) {
        return prov_id_hash_build(&run->user_hash, run->n_users, user_id_at, run);
}

/* groups[] are in the order of their names by now: the index by SCIM id is the batch's own
 * order (scim-parse.h), each entry pointing at where its group went. */
int sync_index_groups(SyncRun *run, const ProvScimBatch *batch) {
        _cleanup_free_ size_t *at = NULL;

        at = reallocarray(NULL, run->n_groups ?: 1, sizeof(size_t));
        run->group_index = reallocarray(NULL, run->n_groups ?: 1, sizeof(IdIndex));
        if (!at || !run->group_index)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_groups; i++)
                at[run->groups[i].src - batch->groups] = i;
        for (size_t k = 0; k < run->n_groups; k++) {
                const ProvScimGroup *g = &batch->groups[batch->group_order[k]];
                run->group_index[k] = (IdIndex) { g->id, at[batch->group_order[k]] };
        }
        return 0;
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

static int read_fd_bounded(int fd, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        struct stat st;

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

int prov_read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return read_fd_bounded(fd, max, ret, ret_len);
}
