/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The change feed that hosts follow (DESIGN.md, "Change feed"): what GET /v1/feed and
 * GET /v1/snapshot answer. Holding a feed request until a change commits is the HTTP layer's
 * (hub-http.c); this file renders.
 *
 * An answer to `since=S` always reaches the head H of the store when it is made:
 *   {"seq": H, "events": [{"seq": n, "op": "upsert"|"delete", "resourceType": "User"|"Group",
 *                          "id": "...", "resource": {...}}, ...]}
 * Each resource changed after S appears once, at the seq of its last change, in ascending seq;
 * "resource" is its state at H (an upsert's resource is never older than its event), and a
 * resource that no longer exists is a "delete". Applied in one transaction, an answer takes a
 * host from the state at S to the state at H. 410 Gone when S is more than max_events behind H
 * (the host reads the snapshot) or ahead of H (a hub whose store was replaced). */

#include <stdint.h>
#include <sys/types.h>

#include "hub-store.h"
#include "scim-error.h"

/* since= (a decimal seq >= 0, required) and Prefer: wait=N (RFC 7240; seconds, capped at
 * max_wait; 0 when absent). 400 with a detail on a bad value. */
int hub_feed_parse(const char *since, const char *prefer, unsigned max_wait, int64_t *ret_since,
                   unsigned *ret_wait, ProvScimError *err);

/* The answer for since at the current head, as JSON text (malloc'ed, *ret_len bytes). 410 (err
 * filled, -ESTALE) past the window; other negative errnos are store failures. */
int hub_feed_render(HubStore *s, int64_t since, unsigned max_events, const char *base_url, char **ret,
                    size_t *ret_len, ProvScimError *err);

/* GET /v1/snapshot, streamed: {"seq": H, "Users": [...], "Groups": [...]} read from a store
 * connection of its own inside one read transaction, so that it is one committed state however
 * long the client takes, and never more than a page of resources in memory. */
typedef struct HubSnapshot HubSnapshot;
int hub_snapshot_open(HubStore *store, const char *base_url, HubSnapshot **ret);
/* Up to max bytes of the document into buf: > 0 bytes, 0 at its end, < 0 on a store failure. */
ssize_t hub_snapshot_read(HubSnapshot *snap, char *buf, size_t max);
int64_t hub_snapshot_seq(const HubSnapshot *snap);
HubSnapshot *hub_snapshot_free(HubSnapshot *snap);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubSnapshot *, hub_snapshot_free);
