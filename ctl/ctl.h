/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of provisionctl share: the command line's options, exit codes, colours, and
 * the start of every read command (configuration, store). The verbs live in ctl-status.c,
 * ctl-list.c and ctl-actions.c; main() and the verb table in provisionctl.c. */

#include <stdbool.h>

#include "prov-config.h"
#include "prov-types.h"
#include "bus-names.h"
#include "prov-util.h"
#include "store.h"

/* Exit codes, documented in provisionctl(8). */
enum {
        EXIT_FAILED = 1,        /* an action or query failed; status: the last sync failed */
        EXIT_USAGE = 2,         /* bad command line or configuration */
        EXIT_HELD = 3,          /* status: deprovisions held by the guard; sync: this sync was held */
        EXIT_STALE = 4,         /* status: the snapshot is missing or older than 3 x interval */
        EXIT_NO_DAEMON = 5,     /* actions: provision-syncd is not running */
        EXIT_DENIED = 6,        /* permission denied (not root) */
};

#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"

/* The options of the command line (provisionctl.c). */
extern const char *arg_config;
extern bool arg_json;
extern bool arg_legend;
extern bool arg_color;
extern bool arg_full;
extern bool arg_yes;
extern const char *arg_state;
extern const char *arg_user;
extern const char *arg_since;
extern unsigned arg_limit;

/* provisionctl.c: what every verb uses. */
bool use_color(void);
const char *state_color(ProvState s);
/* Prints "label: value" with the label right-aligned, like systemctl status. */
void field(const char *label, const char *fmt, ...) _printf_(2, 3);
/* Maps an errno from the store or the bus to our exit codes. */
int exit_code_from_errno(int r);
int load_config(ProvConfig **ret);
/* Opens the configured store read-only. Logs; returns an exit code (0 on success). */
int open_store(const ProvConfig *c, bool missing_ok, ProvStore **ret);
/* Common start of the read commands: configuration and store. Returns an exit code. */
int setup_read(ProvConfig **ret_config, ProvStore **ret_store);

/* ctl-status.c */
int verb_status(char **args);

/* ctl-list.c */
int verb_users(char **args);
int verb_groups(char **args);
int verb_show(char **args);
int verb_events(char **args);

/* ctl-actions.c */
int verb_sync(char **args);
int verb_block(char **args);
int verb_unblock(char **args);
int verb_approve(char **args);
int verb_reload(char **args);
