/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Enforcement of leavers: what provision-syncd does after a sync has been committed and the
 * snapshot published (PAM refuses the account from that moment on). For every transition to a
 * refused state (suspended, deprovisioned, blocked), in this order:
 *   1. "logind": org.freedesktop.login1.Manager.TerminateUser(uid) on the system bus
 *      (terminate_sessions); no logind, no bus or no such user is "skipped";
 *   2. "kill": processes still running as the uid (real, effective, saved or fs uid) get SIGTERM,
 *      then SIGKILL after kill_grace_sec (kill_processes), through pidfds so that a recycled PID
 *      is never hit; never for uid 0 or a uid below uid_min;
 *   3. "nscd": nscd's passwd and group caches are invalidated when nscd runs;
 * then, for every transition (joiners, movers and reactivations too):
 *   4. "hook:NAME": each executable regular file of hooks_dir, in byte order of the names, runs
 *      with the event in its environment, no shell, stdin /dev/null, output into the log,
 *      killed after hook_timeout_sec.
 * Each step is an audit event (event = the transition's event, step as above, outcome "ok",
 * "failed" or "skipped", detail a short reason). A failure in one step never stops the others.
 *
 * Retries: a "logind" or "kill" step that failed is re-run by prov_enforce_retry_pending() on a
 * later sync, as long as the account is still refused with the same uid; the store's
 * enforce_pending table is the queue (a failure adds a row or counts one more, any other
 * outcome deletes it), the audit log stays the record for people. */

#include <stddef.h>

#include "prov-config.h"
#include "store.h"
#include "sync.h"

/* Where nscd listens, and how often a failed step is retried before it is left to the admin. */
#define PROV_NSCD_SOCKET "/var/run/nscd/socket"
#define PROV_ENFORCE_MAX_RETRIES 10

/* Runs the steps above for the n transitions t of a committed sync. Returns 0, or the first
 * negative errno of an infrastructure failure (the audit log could not be written, out of
 * memory, /proc unreadable); the steps themselves report through the audit log. */
int prov_enforce_transitions(const ProvConfig *config, ProvStore *store, const ProvTransition *t, size_t n);
/* The same, and ret (NULL, or n entries, cleared here) says what was done for each. */
int prov_enforce_transitions_report(const ProvConfig *config, ProvStore *store, const ProvTransition *t, size_t n,
                                    ProvEnforced *ret);

/* Re-runs the pending "logind" and "kill" steps of accounts that are still refused with the uid
 * the step was for, while they failed fewer than PROV_ENFORCE_MAX_RETRIES times in a row; drops
 * those of accounts that are gone, active again or renumbered. The retry is recorded like the
 * first attempt (same event, same step). Returns the number of accounts retried, or a negative
 * errno. */
int prov_enforce_retry_pending(const ProvConfig *config, ProvStore *store);
