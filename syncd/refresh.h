/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Refresh at sign-in: the Unix socket on which pam_provision(8) with refresh_on_login asks the
 * daemon to fetch one user (and that user's groups) from the SCIM source and publish the result
 * before it decides. Protocol, one request per connection, one line each way:
 *
 *     -> "refresh NAME DEADLINE\n"   NAME a POSIX user name, DEADLINE CLOCK_MONOTONIC µs of the
 *                                     client (the same clock on one host), when it stops waiting
 *     <- "ok\n"                       refreshed and published (or nothing changed)
 *        "ok cached\n"                this name was refreshed a moment ago: nothing asked
 *        "ok unknown\n"               the source does not know the name
 *        "busy\n"                     too many requests: nothing asked
 *        "unsupported\n"              the source is not SCIM
 *        "denied\n"                   the peer (SO_PEERCRED) is not root
 *        "error TEXT\n"               the source failed or answered too late
 *
 * The refresh runs on the event loop, synchronously: every SCIM request of it ends at the
 * client's deadline (never later than REFRESH_MAX_USEC from now), so the loop is held at most
 * that long per request; requests that arrive meanwhile wait in the socket's backlog and are
 * dropped unanswered when their own deadline passed before their turn. */

#include "daemon.h"

typedef struct ProvRefresh ProvRefresh;

/* Listens on refresh_socket of the configuration (provision-syncd.conf(5)) when refresh_on_login
 * is set; otherwise *ret is NULL and 0 is returned. Both are read once, at start. A socket path on
 * which another process still listens is left alone (-EADDRINUSE). */
int prov_refresh_new(ProvDaemon *d, ProvRefresh **ret);

/* Accepts NULL; returns NULL. Removes the socket it created. */
ProvRefresh *prov_refresh_free(ProvRefresh *r);
