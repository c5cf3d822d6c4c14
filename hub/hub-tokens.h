/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bearer tokens of the hub, by role. At rest they are hashes only: each role's file holds lines
 * `NAME sha256:HEX` (HEX: lowercase SHA-256 of the whole token string, "prov_..."), `#` comments
 * and blank lines. A host token's line may end in `bind`: the token then belongs to the first
 * host it names (hub-fleet.h, hub_fleet_bind()); without it, any number of hosts may use it. A token is shown once, by `provision-hub token-new ROLE NAME`, and never
 * again; the hub logs a token's NAME, never the token.
 *
 * A token file must be a regular file owned by root or by the hub's own user, neither
 * world-accessible nor group-writable: anyone who can add a line can grant themselves access.
 * The files are re-read when they change (inode, size, times, owner or mode), so that a new token works
 * without a restart; a file that became unreadable or invalid grants nothing (fail closed). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hub-config.h"
#include "prov-util.h"

#define HUB_TOKEN_PREFIX "prov_"
/* "prov_" + 43 base64url characters of 32 random bytes. */
#define HUB_TOKEN_LENGTH (5 + 43)
#define HUB_TOKEN_NAME_MAX 64
/* The system user the packaged unit runs the hub as: token-new run by root hands it the files
 * it creates. */
#define HUB_SYSTEM_USER "provision-hub"

typedef struct HubTokens HubTokens;

/* A token set reading the given file per role (a NULL path: no tokens of that role). Nothing is
 * read until hub_tokens_refresh(). */
int hub_tokens_new(char *const paths[_HUB_ROLE_MAX], HubTokens **ret);
HubTokens *hub_tokens_free(HubTokens *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(HubTokens *, hub_tokens_free);

/* Re-reads every file that changed since the last call. A missing file is no tokens of that
 * role (0). Returns the first error (-EPERM for ownership or mode, -EBADMSG for a malformed
 * line, -errno otherwise) with a malloc'ed "PATH: message" in *ret_error; the role of a failing
 * file then has no tokens at all, the others are still refreshed. */
int hub_tokens_refresh(HubTokens *t, char **ret_error);
/* Changes at each refresh that may have changed the tokens: a request authenticated at the same
 * generation is still authenticated. */
uint64_t hub_tokens_generation(const HubTokens *t);

/* Number of tokens of a role currently loaded. */
size_t hub_tokens_count(const HubTokens *t, HubRole role);

/* Looks a presented bearer token up: its SHA-256 is compared in constant time with every
 * loaded hash, whatever matches first. 0 with the role and the NAME (borrowed, valid until the
 * next refresh) on a match, -EACCES otherwise. */
int hub_tokens_check(const HubTokens *t, const char *token, size_t len, HubRole *ret_role, const char **ret_name);

/* Whether a token of that role and NAME is loaded now (0, with whether it is shared: not marked `bind`), or
 * -ENOENT. */
int hub_tokens_find(const HubTokens *t, HubRole role, const char *name, bool *ret_shared);

/* Whether a token whose SHA-256 is hash is loaded for role now, compared in constant time (the
 * fleet page's sessions end when the admin token they were made from is removed). */
bool hub_tokens_hash_loaded(const HubTokens *t, HubRole role, const uint8_t hash[static 32]);

/* Parses one token file's text (for tests): the number of tokens, or -EBADMSG with a message. */
int hub_tokens_parse_text(const char *text, size_t size, size_t *ret_n, char **ret_error);

/* Checks the owner and mode of an open token file (regular, owned by root or geteuid(), no
 * access for others, not group-writable). 0 or -EPERM with a message. */
int hub_tokens_check_file(int fd, char **ret_error);

/* `token-new`: makes a token ("prov_" + 43 base64url characters of 32 getrandom() bytes),
 * appends `NAME sha256:HEX` (with ` bind` when bind: a host token bound to its first host) to path (created 0600; handed to HUB_SYSTEM_USER when that user
 * exists and we are root), fsyncs it, and returns the token (to print once). -EEXIST when NAME
 * is already in the file, -EINVAL for an invalid NAME, -EPERM for a file with a wrong owner or
 * mode, -EBADMSG for a malformed existing file; *ret_error says which. */
int hub_token_new(const char *path, const char *name, bool bind, char **ret_token, char **ret_error);

/* NAME: 1..64 of [A-Za-z0-9._@-], not starting with '-' or '.'. */
bool hub_token_name_valid(const char *name);

/* SHA-256 of data as 64 lowercase hex digits (+ NUL). */
int hub_sha256_hex(const void *data, size_t len, char ret[static 65]);
