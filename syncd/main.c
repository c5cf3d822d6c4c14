/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon.h"
#include "host-config.h"
#include "log.h"

/* Exit codes, documented in provision-syncd(8). */
enum {
        EXIT_SYNC_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_HELD = 4,
};

static const char *arg_config = PROV_CONFIG_PATH;
static bool arg_once = false;
static bool arg_delta = false;
static bool arg_check_config = false;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Follows a SCIM 2.0 directory (or a directory file) and publishes its users and groups\n"
               "to the provision NSS and PAM modules.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -c --config=FILE     Configuration file (default: %s)\n"
               "     --once            Sync once (a full scan; the hub: one feed poll) and exit\n"
               "     --delta           With --once: only what changed since the last sync\n"
               "     --check-config    Load the configuration, say whether it is valid, and exit\n"
               "     --foreground      Stay in the foreground (the default; for symmetry with the unit)\n"
               "  -d --debug           Log debug messages\n",
               program_invocation_short_name, PROV_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_ONCE, ARG_DELTA, ARG_FOREGROUND, ARG_CHECK_CONFIG };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "once", no_argument, NULL, ARG_ONCE },
                { "delta", no_argument, NULL, ARG_DELTA },
                { "foreground", no_argument, NULL, ARG_FOREGROUND },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
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
                case ARG_DELTA:
                        arg_delta = true;
                        break;
                case ARG_FOREGROUND:
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
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
        if (arg_check_config && arg_once) {
                log_error("--check-config goes alone.");
                return -EINVAL;
        }
        if (arg_delta && !arg_once) {
                log_error("--delta goes with --once.");
                return -EINVAL;
        }
        return 1;
}

/* Loads the configuration the way the daemon does, and touches nothing: no store, no source. */
static int check_config(void) {
        ProvConfig *config = NULL;

        if (prov_host_config_load(arg_config, false, &config) < 0)
                return EXIT_USAGE;
        prov_config_free(config);
        printf("%s: valid\n", arg_config);
        return EXIT_SUCCESS;
}

static int run_once(void) {
        _cleanup_free_ char *store_path = NULL;
        ProvConfig *config = NULL;
        ProvActionResult res;
        int r;

        if (prov_host_config_load(arg_config, false, &config) < 0)
                return EXIT_USAGE;
        store_path = prov_config_store_path(config);
        if (!store_path) {
                prov_config_free(config);
                log_oom();
                return EXIT_FAILURE;
        }
        /* The hub's feed has no "full" poll: --once follows it from the stored seq (one poll that
         * does not wait), reading the snapshot only when there is none. */
        r = prov_sync_run(config, store_path, !arg_delta && config->source_type != PROV_SOURCE_HUB, &res, NULL);
        prov_config_free(config);
        if (r < 0)
                return EXIT_SYNC_FAILED;
        return res.held ? EXIT_HELD : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        int r;

        umask(0022);
        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        if (arg_check_config)
                return check_config();
        if (arg_once)
                return run_once();
        r = prov_daemon_main(arg_config);
        if (r == -EINVAL || r == -ENOENT || r == -EACCES)
                return EXIT_USAGE; /* the configuration could not be loaded */
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
