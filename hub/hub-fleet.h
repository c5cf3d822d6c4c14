/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fleet as the hub sees it (issue "Real time for a whole fleet"): which hosts follow the
 * feed, what each has applied, what each did about a leaver, and the report that answers "is
 * their access gone?".
 *
 * A host names itself on each feed poll (`host=` its /etc/machine-id, `hostname=`, `version=`);
 * its since= is what it has applied. It reports enforcement with POST /v1/acks:
 *   {"host": MACHINE-ID, "outcomes": [{"id": SCIM-ID, "seq": N, "sessions": K,
 *                                      "result": "terminated"|"none"|"failed",
 *                                      "steps": {"logind"|"kill"|"nscd"|"hooks": "ok"|"failed"|"skipped"}}]}
 * ("steps" optional).
 * A host is live until its poll's wait plus HUB_FLEET_MARGIN_SEC has passed: a host that holds
 * a request re-polls within that. */

#include <stdint.h>

#include <cjson/cJSON.h>

#include "hub-store.h"
#include "hub-tokens.h"
#include "scim-error.h"

#define HUB_FLEET_MARGIN_SEC 30

typedef struct HubHostPoll {
        const char *host_id;  /* 32 lowercase hex digits; NULL: the host did not name itself */
        const char *hostname; /* or NULL */
        const char *version;  /* or NULL */
        const char *token_name;
        int64_t applied;
        unsigned wait;        /* its Prefer: wait= */
} HubHostPoll;

/* Validates what a poll says of its host (400 with a detail for a malformed value). */
int hub_fleet_poll_parse(const char *host_id, const char *hostname, const char *version, HubHostPoll *ret,
                         ProvScimError *err);

/* Binds host ids and host tokens, so that a host token writes one host's record only: the
 * first host id a token marked `bind` names, on a feed poll or in acks, is recorded for its
 * NAME, and another host id with it is refused (403); a host id bound to a token that is still
 * loaded is refused to any other token (403), unmarked ones included. An unmarked (shared,
 * enrolment) token binds nothing. Runs in the caller's transaction or batch; tokens: the hub's set, to look the
 * names up in. */
int hub_fleet_bind(HubStore *s, const HubTokens *tokens, const char *token_name, const char *host_id,
                   ProvScimError *err);

/* Records a poll (no-op without host_id). Runs in the caller's transaction or batch. */
int hub_fleet_host_seen(HubStore *s, const HubHostPoll *poll);

/* Records the outcomes of a POST /v1/acks body (400 for a malformed one: nothing recorded). A
 * host token (token_name not NULL) must be bound to the body's host (hub_fleet_bind()). */
int hub_fleet_acks(HubStore *s, const HubTokens *tokens, const char *token_name, const char *body, size_t len,
                   ProvScimError *err);

/* GET /v1/admin/leavers/{id}: 404 when the hub never knew the user. */
int hub_fleet_leaver_report(HubStore *s, const char *user_id, cJSON **ret, ProvScimError *err);

/* Hosts by how far behind head they are (live ones) and the silent ones, for /metrics. */
typedef struct HubFleetLag {
        uint64_t current, behind_10, behind_1000, behind_more, silent;
} HubFleetLag;
int hub_fleet_lag(HubStore *s, int64_t head, HubFleetLag *ret);

/* GET /v1/admin/hosts: every host, with applied seq, lag behind the head, last seen, live. */
int hub_fleet_hosts(HubStore *s, cJSON **ret);
