/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provisionctl: the administrator's view of provision-syncd. Read commands go straight to the
 * store, opened read-only (that works while the daemon writes it); actions go to the daemon over
 * D-Bus, never to the store, so that nothing races the daemon's own writes. Exit codes are
 * documented in provisionctl(8).
 *
 * This file: the command line, the verb table and what every verb shares. The verbs: status in
 * ctl-status.c, listings in ctl-list.c, actions in ctl-actions.c. */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-util.h"
#include "ctl.h"
#include "host-config.h"
#include "log.h"
#include "prov-types.h"
#include "store.h"

const char *arg_config = PROV_CONFIG_PATH;
bool arg_json = false;
bool arg_legend = true;
bool arg_color = true;
bool arg_full = false;
bool arg_yes = false;
const char *arg_state = NULL;
const char *arg_user = NULL;
const char *arg_since = NULL;
unsigned arg_limit = 0;

bool use_color(void) {
        return arg_color && !arg_json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

const char *state_color(ProvState s) {
        switch (s) {
        case PROV_STATE_ACTIVE:
                return ANSI_GREEN;
        case PROV_STATE_SUSPENDED:
                return ANSI_YELLOW;
        default:
                return ANSI_RED;
        }
}

void field(const char *label, const char *fmt, ...) {
        va_list ap;

        if (label[0])
                printf("%16s: ", label);
        else
                printf("%18s", "");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

int exit_code_from_errno(int r) {
        return r == -EACCES || r == -EPERM ? EXIT_DENIED : EXIT_FAILED;
}

/* --- configuration and store --------------------------------------------------------------- */

int load_config(ProvConfig **ret) {
        int r;

        r = prov_host_config_load(arg_config, false, ret);
        if (r < 0)
                return r == -EACCES ? -EACCES : -EINVAL;
        return 0;
}

int open_store(const ProvConfig *c, bool missing_ok, ProvStore **ret) {
        _cleanup_free_ char *path = prov_config_store_path(c);
        int r;

        if (!path)
                return log_oom(), EXIT_FAILED;
        r = prov_store_open_readonly(path, ret);
        if (r == -ENOENT && missing_ok) {
                *ret = NULL;
                return 0;
        }
        if (r == -ENOENT) {
                log_error("No store at %s: provision-syncd has not synced yet.", path);
                return EXIT_FAILED;
        }
        if (r == -ESTALE) {
                log_error("The store %s has not been initialised, or brought to this release's schema, by provision-syncd yet.", path);
                return EXIT_FAILED;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to open the store %s read-only: %m", path);
                return exit_code_from_errno(r);
        }
        return 0;
}

int setup_read(ProvConfig **ret_config, ProvStore **ret_store) {
        ProvConfig *c = NULL;
        int r;

        r = load_config(&c);
        if (r < 0)
                return r == -EACCES ? EXIT_DENIED : EXIT_USAGE;
        r = open_store(c, false, ret_store);
        if (r != 0) {
                prov_config_free(c);
                return r;
        }
        *ret_config = c;
        return 0;
}

/* --- command line -------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Shows and controls provision-syncd.\n\n"
               "Commands:\n"
               "  status                 Source, last syncs, counts, snapshot, holds, last error\n"
               "  users [--state STATE]  List users\n"
               "  groups                 List groups and their members\n"
               "  show USER              Show one user: attributes, groups, id history, events\n"
               "  events [--user USER] [--since TIME] [--limit N]\n"
               "                         Show the audit log\n"
               "  sync [--full]          Sync now and wait for the result\n"
               "  block USER             Block a user locally (wins over the directory)\n"
               "  unblock USER           Lift a local block\n"
               "  approve [--yes]        Apply the held mass deprovision after review\n"
               "  reload                 Make the daemon re-read its configuration\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "  -c --config=FILE       Configuration file (default: %s)\n"
               "     --json              JSON output\n"
               "     --no-legend         No table headers and footers\n"
               "     --no-color          No colours (also: NO_COLOR set, or not a terminal)\n",
               program_invocation_short_name, PROV_CONFIG_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_COLOR,
                ARG_FULL,
                ARG_YES,
                ARG_STATE,
                ARG_USER,
                ARG_SINCE,
                ARG_LIMIT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "full", no_argument, NULL, ARG_FULL },
                { "yes", no_argument, NULL, ARG_YES },
                { "state", required_argument, NULL, ARG_STATE },
                { "user", required_argument, NULL, ARG_USER },
                { "since", required_argument, NULL, ARG_SINCE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("provisionctl %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_COLOR:
                        arg_color = false;
                        break;
                case ARG_FULL:
                        arg_full = true;
                        break;
                case ARG_YES:
                        arg_yes = true;
                        break;
                case ARG_STATE:
                        arg_state = optarg;
                        break;
                case ARG_USER:
                        arg_user = optarg;
                        break;
                case ARG_SINCE:
                        arg_since = optarg;
                        break;
                case ARG_LIMIT: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v > 1000000) {
                                log_error("Invalid --limit '%s'.", SAFE(optarg));
                                return -EINVAL;
                        }
                        arg_limit = (unsigned) v;
                        break;
                }
                default:
                        return -EINVAL;
                }
        return 1;
}

/* Checks the number of operands of a command and that its options belong to it. */
static bool check_args(const char *verb, int n_args, int want, bool state, bool events, bool full, bool yes) {
        if (n_args != want) {
                log_error("'%s' takes %s.", verb, want == 0 ? "no arguments" : "exactly one argument");
                return false;
        }
        if ((arg_state && !state) || ((arg_user || arg_since || arg_limit) && !events) || (arg_full && !full) ||
            (arg_yes && !yes)) {
                log_error("An option given does not apply to '%s'.", verb);
                return false;
        }
        return true;
}

/* The verbs, their number of operands and the options that apply to them. */
typedef struct Verb {
        const char *name;
        int n_args;
        bool state, events, full, yes;
        int (*run)(char **args);
} Verb;

static const Verb verbs[] = {
        { "status", 0, false, false, false, false, verb_status },
        { "users", 0, true, false, false, false, verb_users },
        { "groups", 0, false, false, false, false, verb_groups },
        { "show", 1, false, false, false, false, verb_show },
        { "events", 0, false, true, false, false, verb_events },
        { "sync", 0, false, false, true, false, verb_sync },
        { "block", 1, false, false, false, false, verb_block },
        { "unblock", 1, false, false, false, false, verb_unblock },
        { "approve", 0, false, false, false, true, verb_approve },
        { "reload", 0, false, false, false, false, verb_reload },
};

int main(int argc, char *argv[]) {
        const char *verb;
        char **args;
        int n_args, r;

        log_set_target_journal(false);
        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;

        verb = optind < argc ? argv[optind] : "status";
        args = argv + optind + (optind < argc);
        n_args = argc - optind - (optind < argc);

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const Verb *v = &verbs[i];

                if (!streq(verb, v->name))
                        continue;
                if (!check_args(verb, n_args, v->n_args, v->state, v->events, v->full, v->yes))
                        return EXIT_USAGE;
                return v->run(args);
        }
        log_error("Unknown command '%s'; see --help.", SAFE(verb));
        return EXIT_USAGE;
}
