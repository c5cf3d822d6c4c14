/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "hub-config.h"
#include "hub-fleet.h"
#include "hub-http.h"
#include "hub-store.h"
#include "hub-tokens.h"
#include "log.h"
#include "prov-time.h"

/* Exit codes, documented in provision-hub(8). */
enum {
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
};

#ifndef PROV_HUB_CONFIG_PATH
#define PROV_HUB_CONFIG_PATH "/etc/provision/hub.conf"
#endif

static const char *arg_config = PROV_HUB_CONFIG_PATH;
static bool arg_json = false;

static void help(void) {
        printf("%s [OPTIONS...] [token-new ROLE NAME [bind] | leaver ID | hosts | holds]\n\n"
               "The organisation's SCIM 2.0 service provider: identity providers push users and groups\n"
               "to it, hosts read them.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "  -c --config=FILE     Configuration file (default: %s)\n"
               "  -d --debug           Log debug messages\n"
               "     --json            Print reports as JSON\n\n"
               "Commands:\n"
               "  token-new ROLE NAME [bind]\n"
               "                       Print a new bearer token of ROLE (scim, host, admin) once and\n"
               "                       add its hash under NAME to that role's token file; a host\n"
               "                       token made with bind belongs to the first host it names\n"
               "  leaver ID            Is this user's access gone? (as GET /v1/admin/leavers/ID)\n"
               "  hosts                The hosts that follow the feed (as GET /v1/admin/hosts)\n"
               "  holds                What the guard holds back from the fleet (as GET /v1/admin/holds)\n",
               program_invocation_short_name, PROV_HUB_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "debug", no_argument, NULL, 'd' },
                { "json", no_argument, NULL, ARG_JSON },
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
                case ARG_JSON:
                        arg_json = true;
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

/* `token-new ROLE NAME [bind]`: the token goes to stdout once, and nowhere else. */
static int token_new(const char *role_s, const char *name, const char *option) {
        _cleanup_(hub_config_freep) HubConfig *config = NULL;
        _cleanup_free_ char *error = NULL;
        char *token = NULL;
        HubRole role;
        int r;

        if (hub_role_from_string(role_s, &role) < 0) {
                log_error("Unknown role '%s': scim, host or admin.", SAFE(role_s));
                return EXIT_USAGE;
        }
        if (option && (!streq(option, "bind") || role != HUB_ROLE_HOST)) {
                log_error("Unexpected '%s': only a host token takes 'bind' (it then belongs to the first host "
                          "it names).", option);
                return EXIT_USAGE;
        }
        if (load_config(&config) < 0)
                return EXIT_USAGE;
        if (!config->token_files[role]) {
                log_error("%s names no %s_token_file.", arg_config, role_s);
                return EXIT_USAGE;
        }
        r = hub_token_new(config->token_files[role], name, !!option, &token, &error);
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

/* One host of a report, as a line. */
static void print_host(const cJSON *h) {
        printf("  %s (%s): seq %.0f, last seen %s%s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "hostname")) ?: "?",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "host")) ?: "?",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "appliedSeq")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "lastSeen")) ?: "?",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "live")) ? "" : " (silent)");
}

/* What one host reported of a leaver: "  web1: terminated, 2 sessions (logind ok, kill ok)". */
static void print_outcome(const cJSON *h) {
        const cJSON *step;
        const char *sep = " (";

        double sessions = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "sessions"));

        printf("  %s: %s, %.0f session%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "hostname")) ?: "?",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "result")) ?: "?", sessions,
               sessions == 1 ? "" : "s");
        cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(h, "steps")) {
                printf("%s%s %s", sep, step->string, cJSON_GetStringValue(step) ?: "?");
                sep = ", ";
        }
        printf("%s\n", streq(sep, ", ") ? ")" : "");
}

static int print_report(const cJSON *j, bool leaver) {
        const cJSON *h, *hosts = cJSON_GetObjectItemCaseSensitive(j, "hosts");
        const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "state"));

        if (arg_json || !leaver) {
                char *t = cJSON_Print(j);

                if (!t)
                        return log_oom(), EXIT_RUNTIME;
                if (arg_json)
                        printf("%s\n", t);
                free(t);
                if (arg_json)
                        return EXIT_SUCCESS;
                printf("head seq %.0f\n", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "seq")));
                cJSON_ArrayForEach(h, hosts)
                        print_host(h);
                return EXIT_SUCCESS;
        }
        printf("%s (%s): %s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "userName")) ?: "(deleted)",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id")), state ?: "?");
        if (!state || streq(state, "active")) {
                printf(": not a leaver\n");
                return EXIT_SUCCESS;
        }
        printf(" at %s by '%s' (seq %.0f)\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "at")) ?: "?",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "by")) ?: "?",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "seq")));
        printf("applied on %.0f of %.0f live hosts (%.0f known); sessions terminated on %.0f\n",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hosts, "applied")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hosts, "live")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hosts, "known")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hosts, "sessionsTerminated")));
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "outcomes")) > 0)
                printf("enforced:\n");
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "outcomes"))
                print_outcome(h);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "lagging")) > 0)
                printf("lagging:\n");
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "lagging"))
                print_host(h);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "silent")) > 0)
                printf("silent:\n");
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "silent"))
                print_host(h);
        return EXIT_SUCCESS;
}

/* Where the configuration puts the store. */
static HubStoreSpec store_spec(const HubConfig *c) {
        if (c->store_postgresql)
                return (HubStoreSpec) { .type = HUB_STORE_POSTGRESQL, .conninfo = c->store_conninfo,
                                        .password_file = c->store_password_file };
        return (HubStoreSpec) { .type = HUB_STORE_SQLITE, .path = c->store_path };
}

/* The store named in messages: the SQLite file, or "PostgreSQL" (conninfo stays out of logs). */
static const char *store_name(const HubConfig *c) {
        return c->store_postgresql ? "(PostgreSQL)" : c->store_path;
}

/* The open hold: "hold 3: 2 users" and one line each, "  alice@example.com (ID): deletion". */
static int print_holds(const cJSON *j) {
        const cJSON *u, *users = cJSON_GetObjectItemCaseSensitive(j, "users");

        if (arg_json) {
                char *t = cJSON_Print(j);

                if (!t)
                        return log_oom(), EXIT_RUNTIME;
                printf("%s\n", t);
                free(t);
                return EXIT_SUCCESS;
        }
        if (!cJSON_GetObjectItemCaseSensitive(j, "hold")) {
                printf("no open hold\n");
                return EXIT_SUCCESS;
        }
        printf("hold %.0f: %d held\n", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "hold")),
               cJSON_GetArraySize(users));
        cJSON_ArrayForEach(u, users)
                printf("  %s (%s): %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "userName")) ?: "?",
                       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "id")) ?: "?",
                       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "kind")) ?: "?");
        return EXIT_SUCCESS;
}

/* `leaver ID`, `hosts` and `holds`: the admin API's reports, read from the store beside the
 * running hub. */
static int report(const char *verb, const char *user_id) {
        _cleanup_(hub_config_freep) HubConfig *config = NULL;
        _cleanup_(hub_store_closep) HubStore *store = NULL;
        ProvScimError err = {};
        _cleanup_free_ char *why = NULL;
        HubStoreSpec spec;
        cJSON *j = NULL;
        int r, ret;

        if (load_config(&config) < 0)
                return EXIT_USAGE;
        spec = store_spec(config);
        r = hub_store_open_spec(&spec, true, &store, &why);
        if (r < 0) {
                log_error_errno(r, "Failed to open the store %s read-only: %s%s%m%s", store_name(config), why ?: "",
                                why ? " (" : "", why ? ")" : "");
                return EXIT_RUNTIME;
        }
        if (streq(verb, "holds"))
                r = hub_store_holds(store, &j);
        else
                r = user_id ? hub_fleet_leaver_report(store, user_id, &j, &err) : hub_fleet_hosts(store, &j);
        if (r < 0) {
                if (err.status >= 400)
                        log_error("%s", err.detail);
                else
                        log_error_errno(r, "Failed to read the report: %s", hub_store_errmsg(store) ?: "");
                return err.status == 404 ? EXIT_USAGE : EXIT_RUNTIME;
        }
        ret = streq(verb, "holds") ? print_holds(j) : print_report(j, user_id);
        cJSON_Delete(j);
        return ret;
}

static int run(void) {
        _cleanup_(hub_config_freep) HubConfig *config = NULL;
        _cleanup_(hub_tokens_freep) HubTokens *tokens = NULL;
        _cleanup_(hub_store_closep) HubStore *store = NULL;
        _cleanup_(hub_server_stopp) HubServer *server = NULL;
        _cleanup_free_ char *error = NULL, *url = NULL, *why = NULL;
        HubContext ctx = {};
        HubStoreSpec spec;
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

        spec = store_spec(config);
        r = hub_store_open_spec(&spec, false, &store, &why);
        if (r < 0) {
                log_error_errno(r, "Failed to open the store %s: %s%s%m%s", store_name(config), why ?: "",
                                why ? " (" : "", why ? ")" : "");
                return EXIT_RUNTIME;
        }

        hub_store_set_guard(store, config->guard_percent, (int64_t) config->guard_window * USEC_PER_SEC_I64,
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
                if (streq(argv[optind], "token-new") && (argc - optind == 3 || argc - optind == 4))
                        return token_new(argv[optind + 1], argv[optind + 2], argc - optind == 4 ? argv[optind + 3] : NULL);
                if (streq(argv[optind], "leaver") && argc - optind == 2)
                        return report("leaver", argv[optind + 1]);
                if ((streq(argv[optind], "hosts") || streq(argv[optind], "holds")) && argc - optind == 1)
                        return report(argv[optind], NULL);
                log_error("Unexpected arguments; usage: %s [--config FILE] [token-new ROLE NAME [bind] | leaver ID | hosts | holds]",
                          program_invocation_short_name);
                return EXIT_USAGE;
        }
        return run();
}
