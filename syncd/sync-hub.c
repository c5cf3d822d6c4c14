/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hub as a source ([source] type = hub): provision-hub's change feed (DESIGN.md, "Change
 * feed"). The first sync reads GET /v1/snapshot and applies it as a full scan; every later one
 * is one GET /v1/feed?since=SEQ that the hub holds until a change commits or feed_wait passes,
 * applied as a delta whose deletions deprovision, with the answer's seq stored in the same
 * transaction. A 410 (the hub no longer has what follows our seq, or our seq is ahead of it: a
 * restored hub) reads the snapshot again. The HTTP side is the SCIM source's client
 * (prov_scim_client_get_raw(): token, TLS, proxy, bounded bodies), the JSON side scim-parse's,
 * the apply and publish the common ones (sync_apply_publish()). What enforcement did for each
 * leaver goes back to the hub with POST /v1/acks (its fleet report). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "scim-source.h"
#include "sync-internal.h"

/* The store state that holds the seq of the hub's history applied last. */
#define HUB_SEQ_KEY "hub_seq"
/* A held feed request ends after wait + this: the hub answers by then unless it is gone. */
#define FEED_TIMEOUT_MARGIN_SEC 15
/* The snapshot of a big directory (100k users are ~90 MiB of SCIM): as a directory file, and
 * given at least this long to arrive whatever [source] timeout says. */
#define SNAPSHOT_TIMEOUT_MIN_SEC 300u
#define SNAPSHOT_MAX_BYTES (UINT64_C(1024) * 1024 * 1024)

/* free() that returns NULL, for "p = body_free(p);". */
static char *body_free(char *p) {
        free(p);
        return NULL;
}

/* The replica that answered last: the next request starts there rather than at the first
 * URL, which may be the one that is down. */
static size_t preferred_url;

/* This host's machine ID as the hub knows it ([source] host_id, else /etc/machine-id), or ""
 * when it has none the hub would take. */
static void host_id(const ProvConfig *config, char id[static 64]) {
        FILE *f;

        id[0] = '\0';
        if (config->host_id) {
                (void) snprintf(id, 64, "%s", config->host_id); /* checked when the config was read */
                return;
        }
        f = fopen("/etc/machine-id", "re");
        if (f) {
                if (!fgets(id, 64, f))
                        id[0] = '\0';
                fclose(f);
        }
        id[strcspn(id, "\n")] = '\0';
        if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
                id[0] = '\0';
}

/* "&host=MACHINE_ID&hostname=NAME&version=V": how the hub's fleet view knows this host. Parts
 * that would not pass the hub's checks are left out; a host without them is still served. */
static void host_params(const ProvConfig *config, char *buf, size_t size) {
        char id[64], name[256] = "";
        size_t n = 0;

        buf[0] = '\0';
        host_id(config, id);
        if (id[0])
                n += (size_t) snprintf(buf + n, size - n, "&host=%s", id);
        if (config->host_name)
                (void) snprintf(name, sizeof(name), "%s", config->host_name);
        else if (gethostname(name, sizeof(name) - 1) < 0 ||
                 strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(name))
                name[0] = '\0';
        if (n < size && name[0])
                n += (size_t) snprintf(buf + n, size - n, "&hostname=%s", name);
        if (n < size)
                (void) snprintf(buf + n, size - n, "&version=%s", PACKAGE_VERSION);
}

/* A status a replica may answer while another one works: try the next URL. */
static bool try_next_url(int r, long status) {
        if (r < 0)
                return r != -ECANCELED && r != -ENOMEM && r != -EFBIG;
        return status >= 500 && status != 503;
}

/* One GET of path_query (a POST of post when not NULL), at each URL in turn (from the one that
 * answered last) while the failure is one that another replica may not have. Returns 0 with the
 * status and the body of the answer, or the last failure. The URL that answered is named in
 * *ret_url. */
static int hub_request(const ProvConfig *config, const char *path_query, const char *extra_header, const char *post,
                       unsigned timeout_sec, bool (*interrupted)(void *userdata), void *userdata, uint64_t max_bytes,
                       char **ret_body, size_t *ret_len, long *ret_status, uint64_t *ret_retry_after,
                       const char **ret_url) {
        size_t n = 0;
        int r = -EIO;

        while (config->urls[n])
                n++;
        for (size_t k = 0; k < n; k++) {
                size_t i = (preferred_url + k) % n;
                _cleanup_(prov_scim_client_freep) ProvScimClient *client = NULL;
                ProvConfig one = *config;
                long status = 0;

                one.url = config->urls[i];
                r = prov_scim_client_new(&one, &client);
                if (r == -ENOKEY)
                        return log_error_errno(r, "No host token for the hub: set token_file or token_credential in [source].");
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the client for the hub %s: %m", one.url);
                r = prov_scim_client_set_limits(client, &(ProvScimLimits) { .max_response_bytes = max_bytes });
                if (r >= 0)
                        r = prov_scim_client_request_raw(client, path_query, extra_header, post, post ? strlen(post) : 0,
                                                         timeout_sec, interrupted, userdata, ret_body, ret_len, &status);
                if (r >= 0 && (status == 429 || status == 503) && ret_retry_after)
                        *ret_retry_after = prov_scim_client_retry_after(client);
                if (!try_next_url(r, status)) {
                        if (r >= 0) {
                                *ret_status = status;
                                *ret_url = config->urls[i];
                                preferred_url = i;
                        }
                        return r;
                }
                if (r >= 0) {
                        *ret_body = body_free(*ret_body);
                        r = -EIO;
                        log_warning("The hub %s answered %ld to %s%s", one.url, status, path_query,
                                    k + 1 < n ? "; trying the next URL." : ".");
                } else
                        log_warning_errno(r, "The hub %s did not answer %s: %m%s", one.url, path_query,
                                          k + 1 < n ? "; trying the next URL." : "");
        }
        return r;
}

/* ---- acks: what enforcement did for each leaver, for the hub's fleet report ---- */

/* Outcomes not yet taken by the hub, oldest first: collected here while a sync enforces, then
 * kept in the store (table hub_acks, so that a restart or a crash after the sync loses none)
 * and sent after the sync that enforced them, and again before and after each later sync
 * until the hub takes them. At most ACKS_PENDING_MAX wait (the oldest go first), the hub's
 * limit for one POST. */
#define ACKS_PENDING_MAX 1000
#define ACKS_TIMEOUT_SEC 10
static cJSON *pending_acks;

static const char *ack_result(const ProvEnforced *e) {
        if ((e->logind && streq(e->logind, "failed")) || (e->kill && streq(e->kill, "failed")))
                return "failed";
        return e->sessions > 0 || e->processes > 0 ? "terminated" : "none";
}

static void ack_collect(const ProvTransition *t, const ProvEnforced *e, void *userdata) {
        const int64_t *seq = userdata;
        cJSON *o, *steps;

        if (!t->scim_id)
                return;
        if (!pending_acks && !(pending_acks = cJSON_CreateArray()))
                goto oom;
        if (!(o = cJSON_CreateObject()))
                goto oom;
        cJSON_AddItemToArray(pending_acks, o);
        if (!cJSON_AddStringToObject(o, "id", t->scim_id) || !cJSON_AddNumberToObject(o, "seq", (double) *seq) ||
            !cJSON_AddNumberToObject(o, "sessions", e->sessions) ||
            !cJSON_AddStringToObject(o, "result", ack_result(e)) || !(steps = cJSON_AddObjectToObject(o, "steps")) ||
            (e->logind && !cJSON_AddStringToObject(steps, "logind", e->logind)) ||
            (e->kill && !cJSON_AddStringToObject(steps, "kill", e->kill)) ||
            (e->nscd && !cJSON_AddStringToObject(steps, "nscd", e->nscd)) ||
            (e->hooks && !cJSON_AddStringToObject(steps, "hooks", e->hooks))) {
                cJSON_DeleteItemFromArray(pending_acks, cJSON_GetArraySize(pending_acks) - 1);
                goto oom;
        }
        if (cJSON_GetArraySize(pending_acks) > ACKS_PENDING_MAX) {
                log_warning("More than %d enforcement outcomes wait for the hub: the oldest is not reported.",
                            ACKS_PENDING_MAX);
                cJSON_DeleteItemFromArray(pending_acks, 0);
        }
        return;
oom:
        log_warning("Out of memory: the enforcement of %s is not reported to the hub.", SAFE(t->name));
}

/* Moves the outcomes collected in memory to the store; what the store refuses stays in memory
 * for the next try. */
static void acks_save(ProvStore *store) {
        cJSON *o;

        while ((o = cJSON_GetArrayItem(pending_acks, 0))) {
                _cleanup_free_ char *text = cJSON_PrintUnformatted(o);
                int r;

                r = text ? prov_store_acks_add(store, text, ACKS_PENDING_MAX) : -ENOMEM;
                if (r < 0) {
                        log_warning_errno(r, "Failed to keep %d enforcement outcomes for the hub in the store: %m",
                                          cJSON_GetArraySize(pending_acks));
                        return;
                }
                if (r > 0)
                        log_warning("More than %d enforcement outcomes wait for the hub: the oldest is not reported.",
                                    ACKS_PENDING_MAX);
                cJSON_DeleteItemFromArray(pending_acks, 0);
        }
        pending_acks = (cJSON_Delete(pending_acks), NULL);
}

/* POST /v1/acks with what waits in the store; removed from it once the hub took it. */
static void acks_send(const ProvConfig *config, ProvStore *store, bool (*interrupted)(void *userdata),
                      void *userdata) {
        _cleanup_free_ char *text = NULL, *answer = NULL, *outcomes = NULL;
        const char *url = NULL;
        cJSON *doc = NULL, *array;
        char id[64];
        size_t len = 0;
        long status = 0;
        int64_t last = 0;
        int r, n;

        acks_save(store);
        n = prov_store_acks_peek(store, ACKS_PENDING_MAX, &outcomes, &last);
        if (n < 0)
                log_warning_errno(n, "Failed to read the enforcement outcomes that wait for the hub: %m");
        if (n <= 0)
                return;
        host_id(config, id);
        if (!id[0]) {
                log_notice("This host has no machine ID (/etc/machine-id or [source] host_id): the hub cannot be told "
                           "what enforcement did.");
                (void) prov_store_acks_remove(store, INT64_MAX);
                return;
        }
        doc = cJSON_CreateObject();
        array = cJSON_Parse(outcomes);
        if (!doc || !array || !cJSON_AddStringToObject(doc, "host", id) ||
            !cJSON_AddItemToObject(doc, "outcomes", array)) {
                cJSON_Delete(array);
                cJSON_Delete(doc);
                return;
        }
        text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!text)
                return;
        r = hub_request(config, "/v1/acks", "Content-Type: application/json", text, ACKS_TIMEOUT_SEC, interrupted,
                        userdata, 64 * 1024, &answer, &len, &status, NULL, &url);
        if (r < 0 || status < 200 || status > 299) {
                if (r >= 0 && (status == 400 || status == 413 || status == 422)) {
                        /* The hub will never take these: keeping them would block the ones after.
                         * A refused token (401, 403) or a hub without acks (404) may change: the
                         * outcomes wait for it. */
                        log_warning("The hub %s refused %d enforcement outcomes (HTTP %ld); not sent again.", url, n,
                                    status);
                        (void) prov_store_acks_remove(store, last);
                } else
                        log_notice("Could not report %d enforcement outcomes to the hub (%s); trying again with "
                                   "the next request.", n, r < 0 ? strerror(-r) : "busy or failing");
                return;
        }
        log_debug("Reported %d enforcement outcomes to the hub %s.", n, url);
        r = prov_store_acks_remove(store, last);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the enforcement outcomes the hub took from the store: %m");
}

/* The errno of an answer other than 200 (410 is the caller's); body: the answer, whose SCIM
 * error "detail" a refusal is logged with (a host token that belongs to another host). */
static int hub_status_error(const char *url, const char *what, long status, const char *body, size_t len) {
        if (status == 401 || status == 403) {
                cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
                const char *detail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "detail"));
                char said[256] = "";

                /* Printable ASCII only, bounded: it is the hub's text in our log. */
                for (size_t i = 0; detail && detail[i] && i < sizeof(said) - 1; i++)
                        said[i] = detail[i] >= ' ' && detail[i] < 127 ? detail[i] : '?';
                cJSON_Delete(j);
                return log_error_errno(-EACCES, "The hub %s refused our host token for %s (HTTP %ld%s%s): check "
                                       "[source] token_file (a host token made with provision-hub token-new).", url,
                                       what, status, said[0] ? ": " : "", said);
        }
        if (status == 429 || status == 503) {
                log_notice("The hub %s is busy (HTTP %ld to %s).", url, status, what);
                return -EBUSY;
        }
        return log_error_errno(-EIO, "The hub %s answered %s with HTTP %ld.", url, what, status);
}

int prov_sync_run_hub(const ProvConfig *config, const char *store_path, bool snapshot, unsigned wait_sec,
                      bool (*interrupted)(void *userdata), void *userdata, ProvActionResult *ret,
                      uint64_t *ret_retry_after) {
        _cleanup_(prov_sync_state_done) ProvSyncState st = {};
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *feed = NULL;
        _cleanup_free_ char *body = NULL, *error = NULL;
        ProvScimBatch *batch = NULL;
        const char *url = NULL;
        char path[512], params[400], prefer[64];
        int64_t since = 0, seq = 0;
        size_t len = 0;
        long status = 0;
        int r;

        *ret = (ProvActionResult) {};
        r = prov_sync_state_open(config, store_path, &st);
        if (r < 0)
                goto finish;

        ProvScimParseOptions popts = {
                .uid_attribute = config->uid_attribute,
                .gid_attribute = config->gid_attribute,
                .ssh_keys_attribute = config->ssh_keys_attribute,
        };
        host_params(config, params, sizeof(params));
        /* What the last sync could not report (its POST interrupted by the event loop's work,
         * or the hub busy) goes first: the next feed answer may be a held request away. */
        acks_send(config, st.store, interrupted, userdata);

        if (!snapshot) {
                r = prov_store_state_get_int(st.store, HUB_SEQ_KEY, &since);
                if (r == -ENOENT)
                        snapshot = true; /* first start: nothing to follow from */
                else if (r < 0)
                        goto finish;
        }

        if (!snapshot) {
                (void) snprintf(path, sizeof(path), "/v1/feed?since=%" PRIi64 "%s", since, params);
                (void) snprintf(prefer, sizeof(prefer), "Prefer: wait=%u", wait_sec);
                r = hub_request(config, path, prefer, NULL, wait_sec + FEED_TIMEOUT_MARGIN_SEC, interrupted, userdata,
                            PROV_SCIM_DEFAULT_MAX_RESPONSE_BYTES, &body, &len, &status, ret_retry_after, &url);
                if (r == -ECANCELED)
                        goto finish; /* the event loop has work: nothing happened, ask again */
                if (r < 0) {
                        prov_sync_record_attempt(st.store, r, "the hub's feed did not answer");
                        goto finish;
                }
                if (status == 410) {
                        log_notice("The hub %s no longer has the changes after seq %" PRIi64 " (or is behind it): "
                                   "reading its snapshot.", url, since);
                        snapshot = true;
                        body = body_free(body);
                } else if (status != 200) {
                        r = hub_status_error(url, "/v1/feed", status, body, len);
                        prov_sync_record_attempt(st.store, r, r == -EACCES ? "the hub refused the host token"
                                                                            : "the hub's feed failed");
                        goto finish;
                } else {
                        r = prov_scim_parse_hub_feed(body, len, &popts, since, &feed, &error);
                        if (r < 0) {
                                log_error_errno(r, "The hub %s sent a feed answer we refuse, nothing applied, staying at seq "
                                                "%" PRIi64 ": %s", url, since, error ?: strerror(-r));
                                prov_sync_record_attempt(st.store, r, "the hub's feed answer was refused");
                                goto finish;
                        }
                        body = body_free(body);
                        log_debug("Feed after %" PRIi64 ": %zu events up to seq %" PRIi64 ".", since, feed->n_events, feed->seq);
                        ProvSyncOptions opts = {
                                .delta = true,
                                .gone_users = feed->gone_users,
                                .n_gone_users = feed->n_gone_users,
                                .gone_groups = feed->gone_groups,
                                .n_gone_groups = feed->n_gone_groups,
                                .state_key = HUB_SEQ_KEY,
                                .state_value = feed->seq,
                                .enforced = ack_collect,
                                .enforced_userdata = &feed->seq,
                        };
                        /* An empty answer after the wait is contact too: it confirms the
                         * directory (PAM's max_staleness), and is applied (nothing) as such. */
                        r = sync_apply_publish(config, &st, &feed->batch, &opts, "feed", -1, ret);
                        if (r >= 0 && feed->n_events > 0)
                                log_info("Hub seq %" PRIi64 " -> %" PRIi64 " (%zu events).", since, feed->seq,
                                         feed->n_events);
                        goto finish;
                }
        }

        (void) snprintf(path, sizeof(path), "/v1/snapshot%s%s", params[0] ? "?" : "", params[0] ? params + 1 : "");
        unsigned snapshot_timeout = config->timeout_sec > SNAPSHOT_TIMEOUT_MIN_SEC ? config->timeout_sec
                                                                                    : SNAPSHOT_TIMEOUT_MIN_SEC;
        r = hub_request(config, path, NULL, NULL, snapshot_timeout, interrupted, userdata, SNAPSHOT_MAX_BYTES, &body, &len,
                    &status, ret_retry_after, &url);
        if (r == -ECANCELED)
                goto finish;
        if (r < 0) {
                prov_sync_record_attempt(st.store, r, "reading the hub's snapshot failed");
                goto finish;
        }
        if (status != 200) {
                r = hub_status_error(url, "/v1/snapshot", status, body, len);
                prov_sync_record_attempt(st.store, r, r == -EACCES ? "the hub refused the host token"
                                                                    : "reading the hub's snapshot failed");
                goto finish;
        }
        popts.max_bytes = SNAPSHOT_MAX_BYTES;
        r = prov_scim_parse_hub_snapshot(body, len, &popts, &seq, &batch);
        body = body_free(body);
        if (r < 0) {
                log_error_errno(r, "The hub %s sent a snapshot we refuse, nothing applied: %m", url);
                prov_sync_record_attempt(st.store, r, "the hub's snapshot was refused");
                goto finish;
        }
        /* The snapshot is the whole directory: a full scan without confirmations; the guard
         * holds its deprovisions as those of any full scan. */
        ProvSyncOptions opts = { .state_key = HUB_SEQ_KEY, .state_value = seq, .enforced = ack_collect,
                                 .enforced_userdata = &seq };
        r = sync_apply_publish(config, &st, &batch, &opts, "snapshot", -1, ret);
        if (r >= 0)
                log_info("Hub snapshot at seq %" PRIi64 " applied; following its feed from there.", seq);
finish:
        if (st.store) {
                if (r >= 0)
                        acks_send(config, st.store, interrupted, userdata);
                else
                        acks_save(st.store);
        }
        if (r < 0) {
                ret->error = r;
                snprintf(ret->summary, sizeof(ret->summary), "%s failed: %s", snapshot ? "hub snapshot" : "hub feed",
                         strerror(-r));
        }
        prov_scim_batch_free(batch);
        return r;
}
