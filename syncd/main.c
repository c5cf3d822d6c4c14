/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "enforce.h"
#include "prov-config.h"
#include "scim-source.h"
#include "sync.h"

/* Exit codes, documented in provision-syncd(8). */
enum {
        EXIT_SYNC_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_HELD = 4,
};

/* A directory file larger than this is refused rather than read: 100k users in SCIM shape
 * take about 60 MiB. */
#define DIRECTORY_FILE_MAX (1024ULL * 1024 * 1024)

static const char *arg_config = PROV_CONFIG_PATH;
static bool arg_once = false;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Follows a SCIM 2.0 directory (or a directory file) and publishes its users and groups\n"
               "to the provision NSS and PAM modules.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -c --config=FILE     Configuration file (default: %s)\n"
               "     --once            Sync once and exit\n"
               "     --foreground      Stay in the foreground (the default; for symmetry with the unit)\n"
               "  -d --debug           Log debug messages\n",
               program_invocation_short_name, PROV_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_ONCE, ARG_FOREGROUND };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "once", no_argument, NULL, ARG_ONCE },
                { "foreground", no_argument, NULL, ARG_FOREGROUND },
                { "debug", no_argument, NULL, 'd' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:d", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("provision-syncd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_ONCE:
                        arg_once = true;
                        break;
                case ARG_FOREGROUND:
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("Unexpected argument '%s'.", SAFE(argv[optind]));
                return -EINVAL;
        }
        return 1;
}

/* The state directory holds the store (0600) and the snapshot (0644, read by every process
 * through NSS), so the directory itself is 0755. */
static int ensure_state_dir(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create state directory %s: %m", path);
        return 0;
}

/* Fetches a complete scan of the directory: the whole file, or every page of /Users and
 * /Groups from the SCIM service provider. */
static int fetch_directory(const ProvConfig *config, ProvScimBatch **ret) {
        _cleanup_free_ char *json = NULL;
        size_t len = 0;
        int r;

        if (config->source_type == PROV_SOURCE_SCIM) {
                ProvScimClient *client = NULL;
                ProvScimStats stats = {};

                r = prov_scim_client_new(config, &client);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up the SCIM client for %s: %m", config->url);
                r = prov_scim_fetch_full(client, ret, &stats);
                prov_scim_client_free(client);
                if (r < 0)
                        return log_error_errno(r, "Full scan of %s failed, nothing applied: %m", config->url);
                log_debug("Full scan: %" PRIu64 " requests, %" PRIu64 " bytes", stats.requests, stats.bytes);
                return 0;
        }

        r = prov_read_file_bounded(config->source_path, DIRECTORY_FILE_MAX, &json, &len);
        if (r == -EFBIG)
                return log_error_errno(r, "Directory file %s is larger than %llu bytes, refusing it.",
                                       config->source_path, DIRECTORY_FILE_MAX);
        if (r < 0)
                return log_error_errno(r, "Failed to read directory file %s: %m", config->source_path);

        ProvScimParseOptions opts = {
                .uid_attribute = config->uid_attribute,
                .gid_attribute = config->gid_attribute,
                .max_bytes = DIRECTORY_FILE_MAX,
        };
        r = prov_scim_parse_directory(json, len, &opts, ret);
        if (r < 0)
                return log_error_errno(r, "Directory file %s is not a valid SCIM directory, nothing applied: %m",
                                       config->source_path);
        return 0;
}

static void format_summary(const ProvSyncResult *res, char *buf, size_t size) {
        snprintf(buf, size,
                 "%zu users, %zu groups seen; %zu joined, %zu updated, %zu renamed, %zu moved, %zu suspended, "
                 "%zu reactivated, %zu deprovisioned, %zu rejected%s",
                 res->users_seen, res->groups_seen, res->joiners, res->updated, res->renamed, res->movers,
                 res->suspended, res->reactivated, res->deprovisioned, res->rejected,
                 res->held ? "; deprovisions HELD by the guard" : "");
}

/* One complete sync: fetch, apply in one transaction, publish the snapshot, record the
 * outcome. Returns 0, 1 when deprovisions were held, or a negative errno. */
static int sync_once(const ProvConfig *config, char *summary, size_t summary_size) {
        ProvLocalAccounts *local = NULL;
        ProvStore *store = NULL;
        ProvScimBatch *batch = NULL;
        ProvSyncResult res = {};
        _cleanup_free_ char *store_path = prov_config_store_path(config);
        int r;

        snprintf(summary, summary_size, "failed");
        if (!store_path)
                return log_oom();

        r = ensure_state_dir(config->state_dir);
        if (r < 0)
                return r;
        r = prov_local_load(config->passwd_file, config->group_file, &local);
        if (r < 0)
                return log_error_errno(r, "Failed to read local accounts from %s and %s: %m", config->passwd_file,
                                       config->group_file);
        r = prov_store_open(store_path, &store);
        if (r < 0) {
                log_error_errno(r, "Failed to open store %s: %m", store_path);
                goto finish;
        }

        r = fetch_directory(config, &batch);
        if (r < 0) {
                prov_sync_record_attempt(store, r, "fetching the directory failed");
                goto finish;
        }

        r = prov_sync_apply_full(store, config, local, batch, &res);
        if (r < 0) {
                log_error_errno(r, "Failed to apply the directory, nothing changed: %m (%s)", prov_store_errmsg(store));
                prov_sync_record_attempt(store, r, "applying the directory failed");
                goto finish;
        }
        format_summary(&res, summary, summary_size);

        r = prov_sync_record_attempt(store, 0, summary);
        if (r < 0)
                log_warning_errno(r, "Failed to record the sync result: %m");
        r = prov_sync_export(store, config, local);
        if (r < 0) {
                log_error_errno(r, "Failed to publish the snapshot, the previous one stays in place: %m");
                prov_sync_record_attempt(store, r, "publishing the snapshot failed");
                goto finish;
        }
        log_info("Sync complete (generation %" PRIu64 "): %s", res.generation, summary);

        /* Enforcement runs only now that the snapshot refuses the leavers: PAM will not let
         * them back in while their sessions are being terminated. A failed step is recorded
         * and retried on the next sync; it never fails the sync itself. */
        if (prov_enforce_retry_pending(config, store) < 0)
                log_warning("Retrying earlier enforcement steps failed; trying again on the next sync.");
        if (prov_enforce_transitions(config, store, res.transitions, res.n_transitions) < 0)
                log_warning("Some enforcement steps failed; they are retried on the next sync.");
        r = res.held ? 1 : 0;
finish:
        prov_sync_result_done(&res);
        prov_scim_batch_free(batch);
        prov_store_close(store);
        prov_local_free(local);
        return r;
}

static int load_config(ProvConfig **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = prov_config_load(arg_config, ret, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                return log_error_errno(r, "Failed to load configuration %s: %m", arg_config);
        }
        return 0;
}

/* The daemon loop: a sync every interval; SIGHUP re-reads the configuration, SIGTERM and
 * SIGINT stop between syncs (a sync in progress always finishes its transaction). */
static int run_daemon(ProvConfig *config) {
        sigset_t mask;
        bool ready = false;
        uint64_t watchdog_usec = 0;
        char summary[512];
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        if (sd_watchdog_enabled(false, &watchdog_usec) <= 0)
                watchdog_usec = 0;

        for (;;) {
                struct timespec deadline, now;
                r = sync_once(config, summary, sizeof(summary));
                sd_notifyf(false, "%sSTATUS=%s%s", ready ? "" : "READY=1\n",
                           r < 0 ? "Last sync failed: " : "Last sync: ", summary);
                ready = true;

                clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_sec += config->interval_sec;
                for (;;) {
                        siginfo_t si;
                        struct timespec wait;
                        int64_t left_ns;

                        clock_gettime(CLOCK_MONOTONIC, &now);
                        left_ns = (int64_t) (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
                        if (left_ns <= 0)
                                break;
                        /* Wake at half the watchdog period to ping it. */
                        if (watchdog_usec > 0 && (uint64_t) left_ns > watchdog_usec * 500)
                                left_ns = (int64_t) watchdog_usec * 500;
                        wait = (struct timespec) { left_ns / 1000000000LL, left_ns % 1000000000LL };
                        r = sigtimedwait(&mask, &si, &wait);
                        if (watchdog_usec > 0)
                                sd_notify(false, "WATCHDOG=1");
                        if (r < 0)
                                continue; /* EAGAIN (timeout) or EINTR */
                        if (si.si_signo == SIGHUP) {
                                ProvConfig *c = NULL;
                                sd_notify(false, "RELOADING=1");
                                if (load_config(&c) >= 0) {
                                        prov_config_free(config);
                                        config = c;
                                        log_info("Configuration reloaded.");
                                } else
                                        log_warning("Keeping the previous configuration.");
                                sd_notify(false, "READY=1");
                                break; /* sync now with the new configuration */
                        }
                        log_info("Received %s, stopping.", strsignal(si.si_signo));
                        sd_notify(false, "STOPPING=1");
                        prov_config_free(config);
                        return 0;
                }
        }
}

int main(int argc, char *argv[]) {
        ProvConfig *config = NULL;
        char summary[512];
        int r;

        umask(0022);
        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        r = load_config(&config);
        if (r < 0)
                return EXIT_USAGE;

        if (!arg_once)
                return run_daemon(config) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = sync_once(config, summary, sizeof(summary));
        prov_config_free(config);
        if (r < 0)
                return EXIT_SYNC_FAILED;
        return r > 0 ? EXIT_HELD : EXIT_SUCCESS;
}
