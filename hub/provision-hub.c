/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "hub-config.h"
#include "hub-http.h"
#include "hub-store.h"
#include "hub-tokens.h"
#include "log.h"

/* Exit codes, documented in provision-hub(8). */
enum {
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
};

#ifndef PROV_HUB_CONFIG_PATH
#define PROV_HUB_CONFIG_PATH "/etc/provision/hub.conf"
#endif

static const char *arg_config = PROV_HUB_CONFIG_PATH;

static void help(void) {
        printf("%s [OPTIONS...] [token-new ROLE NAME]\n\n"
               "The organisation's SCIM 2.0 service provider: identity providers push users and groups\n"
               "to it, hosts read them.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -c --config=FILE     Configuration file (default: %s)\n"
               "  -d --debug           Log debug messages\n\n"
               "Commands:\n"
               "  token-new ROLE NAME  Print a new bearer token of ROLE (scim, host, admin) once and\n"
               "                       add its hash under NAME to that role's token file\n",
               program_invocation_short_name, PROV_HUB_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
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
                        printf("provision-hub %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

static int load_config(HubConfig **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = hub_config_load(arg_config, ret, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                return log_error_errno(r, "Failed to load configuration %s: %m", arg_config);
        }
        return 0;
}

/* `token-new ROLE NAME`: the token goes to stdout once, and nowhere else. */
static int token_new(const char *role_s, const char *name) {
        _cleanup_(hub_config_freep) HubConfig *config = NULL;
        _cleanup_free_ char *error = NULL;
        char *token = NULL;
        HubRole role;
        int r;

        if (hub_role_from_string(role_s, &role) < 0) {
                log_error("Unknown role '%s': scim, host or admin.", SAFE(role_s));
                return EXIT_USAGE;
        }
        if (load_config(&config) < 0)
                return EXIT_USAGE;
        if (!config->token_files[role]) {
                log_error("%s names no %s_token_file.", arg_config, role_s);
                return EXIT_USAGE;
        }
        r = hub_token_new(config->token_files[role], name, &token, &error);
        if (r < 0) {
                log_error_errno(r, "Cannot make a token: %s", error ?: strerror(-r));
                return r == -EINVAL || r == -EEXIST ? EXIT_USAGE : EXIT_RUNTIME;
        }
        printf("%s\n", token);
        fflush(stdout);
        explicit_bzero(token, strlen(token));
        free(token);
        log_info("Added %s token '%s' to %s.", role_s, name, config->token_files[role]);
        return EXIT_SUCCESS;
}

static int run(void) {
        _cleanup_(hub_config_freep) HubConfig *config = NULL;
        _cleanup_(hub_tokens_freep) HubTokens *tokens = NULL;
        _cleanup_(hub_store_closep) HubStore *store = NULL;
        _cleanup_(hub_server_stopp) HubServer *server = NULL;
        _cleanup_free_ char *error = NULL, *url = NULL;
        HubContext ctx = {};
        sigset_t mask;
        int r, sig;

        if (load_config(&config) < 0)
                return EXIT_USAGE;

        r = hub_tokens_new(config->token_files, &tokens);
        if (r < 0)
                return log_oom(), EXIT_RUNTIME;
        /* A token file with a wrong owner or mode stops the start: the operator must see it. */
        r = hub_tokens_refresh(tokens, &error);
        if (r < 0) {
                log_error_errno(r, "Refusing to start: %s", error ?: "");
                return EXIT_USAGE;
        }
        if (hub_tokens_count(tokens, HUB_ROLE_SCIM) + hub_tokens_count(tokens, HUB_ROLE_ADMIN) == 0)
                log_warning("No scim or admin token yet: make one with '%s --config %s token-new scim NAME'.",
                            program_invocation_short_name, arg_config);

        r = hub_store_open(config->store_path, &store);
        if (r < 0) {
                log_error_errno(r, "Failed to open the store %s: %m", config->store_path);
                return EXIT_RUNTIME;
        }

        hub_store_set_guard(store, config->guard_percent, (int64_t) config->guard_window * 1000000,
                            config->guard_min_users);

        /* SIGTERM/SIGINT end the hub; they are taken by sigwait() here, never by the HTTP
         * thread, which inherits the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        ctx = (HubContext) { .config = config, .tokens = tokens, .store = store };
        r = hub_server_start(&ctx, &server, &url);
        if (r < 0)
                return EXIT_RUNTIME;
        log_info("Listening on %s", url);
        (void) sd_notifyf(false, "READY=1\nSTATUS=Listening on %s", url);

        for (;;) {
                if (sigwait(&mask, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        /* Token files are also re-read when they change, at the next request;
                         * SIGHUP does it now, so that a refused file is reported at once. */
                        if (hub_server_reload_tokens(server) >= 0)
                                log_info("SIGHUP: token files re-read.");
                        continue;
                }
                break;
        }
        (void) sd_notify(false, "STOPPING=1");
        log_info("Stopping.");
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        int r;

        umask(0077);
        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        if (optind < argc) {
                if (streq(argv[optind], "token-new") && argc - optind == 3)
                        return token_new(argv[optind + 1], argv[optind + 2]);
                log_error("Unexpected arguments; usage: %s [--config FILE] [token-new ROLE NAME]",
                          program_invocation_short_name);
                return EXIT_USAGE;
        }
        return run();
}
