/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one validation layer for SCIM 2.0 input (RFC 7643 resources, RFC 7644 list responses),
 * whether it comes from the network or from a directory file. This is the only place in the
 * project that sees JSON: everything it returns is typed, bounded and free of control
 * characters.
 *
 * Errors are split in three, so that no single attribute value can stop a sync:
 *  - a document that cannot be trusted as a whole fails the whole call with -EBADMSG: not JSON
 *    (truncated, a raw NUL byte, a "\u" escape without four hex digits), larger than max_bytes,
 *    or of the wrong shape (not an object, not a ListResponse, malformed paging fields);
 *  - a value that JSON allows but cJSON cannot take or would mangle ("\u0000", a lone UTF-16
 *    surrogate escape, a number of 64+ characters, nesting deeper than max_depth) is read as an
 *    invalid value of its attribute, never as absent or as another value: the document parses,
 *    and the attribute is refused like any other bad value (scim-parse.c lists them);
 *  - a resource without a readable id (a string of 1..255 bytes, UTF-8, no control characters)
 *    is skipped and reported as a ProvScimReject. One with a readable id is never dropped: when
 *    anything else it carries is unusable it is returned "unservable" (with its id and active),
 *    and reported as a reject too. A bad entry of a group's members is skipped and reported
 *    against the group.
 * Attribute names are matched case-insensitively (RFC 7643 §2.1); an attribute present twice
 * under different case is a bad value. POSIX rules (names, uid ranges) are not checked here but
 * in the mapping. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "prov-util.h"

#define PROV_SCIM_SCHEMA_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define PROV_SCIM_SCHEMA_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define PROV_SCIM_SCHEMA_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define PROV_SCIM_SCHEMA_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"

/* Records of a batch are plain structs: every string in them, and every member_ids array, lives
 * in the batch's arena and is freed with the batch, never on its own. Fields are ordered by size
 * to keep the structs free of padding. */
typedef struct ProvScimUser {
        char *id;              /* required, 1..255 bytes, UTF-8 without control chars */
        char *user_name;       /* required, 1..255 bytes, no control chars (POSIX validation happens later, in mapping) */
        char *display_name;    /* displayName, else name.formatted, else "givenName familyName"; NULL if none */
        char *home, *shell;    /* homeDirectory / loginShell at the root or in any "urn:" extension, else NULL */
        int64_t uid;           /* if has_uid: value at the configured uid attribute path (number or
                                * numeric string) */
        int64_t gid;           /* if has_gid: same for the gid attribute path */
        bool has_uid;
        bool has_gid;
        bool active;           /* default true when absent or null; true/false, "true"/"false" (any
                                * case), 1/0; false when unreadable */
        /* NULL, or why the record cannot be served ("attribute 'displayName': ..."): the
         * resource has a readable id, but some other attribute it carries is unusable. Then
         * only id and active are set (every other field is NULL/0): the sync keeps the stored
         * account as it was, and suspends it when active is false. Such a record is also listed
         * in the batch's rejects, with the same reason. */
        char *unservable;
        /* The raw lines of the ssh_keys_attribute (ProvScimParseOptions.ssh_keys_attribute), in
         * the order given: at most PROV_SSH_KEYS_MAX, each 1..PROV_SSH_KEY_MAX bytes, NULL when
         * the attribute is absent, unset or empty. Not validated as keys here (the sync skips
         * the invalid ones with an audit event); an attribute of the wrong type, more keys or a
         * longer one make the record unservable. */
        char **ssh_keys;
        size_t n_ssh_keys;
} ProvScimUser;

typedef struct ProvScimGroup {
        char *id;              /* required, same rules as ProvScimUser.id */
        char *display_name;    /* required, 1..max_string bytes, no control chars */
        char **member_ids;     /* members[].value whose type is absent or "User" (any case); sorted,
                                * deduplicated, NULL-terminated; NULL when there is no "members" */
        size_t n_members;
        char *external_id;     /* externalId, or NULL (absent or ""); otherwise same rules as id,
                                * a bad one makes the group unservable */
        int64_t gid;           /* if has_gid */
        bool has_gid;
        /* As ProvScimUser.unservable: only id (and external_id and the members when those could
         * be read) are set, and the sync keeps the stored group as it is. */
        char *unservable;
        /* The members attribute itself could not be read (not an array...): member_ids is NULL
         * and says nothing about who is a member. Only ever set with unservable. */
        bool members_unknown;
} ProvScimGroup;

/* A resource skipped for want of a readable id, an unservable one (its reason is the record's
 * unservable), a duplicate id, or a skipped member entry of a group ("members[3]: ..."; at most
 * 16 per group, then one "members: N more bad entries skipped"). */
typedef struct ProvScimReject {
        char *kind;            /* "user" or "group" */
        char *id;              /* SCIM id, control characters replaced by '?', may be NULL */
        char *reason;          /* e.g. "attribute 'userName': missing" */
} ProvScimReject;

/* A batch is what one sync applies: a directory file, the hub's snapshot or feed answer, or the
 * pages of one SCIM walk merged. It is finished once it is complete (prov_scim_batch_finish(): by
 * every prov_scim_parse_*() that returns a batch but prov_scim_parse_page(), and by the SCIM
 * source after the last page of a walk), and a finished batch guarantees, so that the sync
 * checks neither again:
 *  - each id once among users[] and once among groups[]: of records with the same id the first
 *    (in document, page and event order) is kept, and every later one is dropped and listed in
 *    rejects[] as "duplicate id in the same batch (first one kept)";
 *  - users[] and groups[] stay in document order, and user_order[] and group_order[] list their
 *    positions in id order (strcmp(), no two equal).
 * A batch that is not finished has user_order and group_order NULL. */
typedef struct ProvScimBatch {
        ProvScimUser *users;    /* malloc'ed arrays of n_* records, room for cap_* */
        size_t n_users, cap_users;
        ProvScimGroup *groups;
        size_t n_groups, cap_groups;
        ProvScimReject *rejects;
        size_t n_rejects, cap_rejects;
        uint32_t *user_order;   /* n_users positions in users[], by id; malloc'ed */
        uint32_t *group_order;  /* n_groups positions in groups[], by id; malloc'ed */
        /* ListResponse fields when parsing a page (prov_scim_parse_list()); a directory leaves
         * them at 0/false, start_index 1: */
        int64_t total_results;  /* 0 when absent */
        int64_t start_index;    /* 1 when absent */
        int64_t items_per_page; /* number of Resources when absent; never trust it for paging */
        /* Elements of Resources on this page (a list page; 0 for a directory): what paging
         * advances by. Not n_users + n_rejects: an unservable record is in both, and a group's
         * bad member is a reject of its own. */
        size_t n_resources;
        bool has_total_results;
        char *next_cursor;      /* RFC 9865 nextCursor, NULL if none; malloc'ed, not in the arena */
        ProvArena arena;        /* owns every string of users[], groups[] and rejects[] and every
                                 * member_ids array; whoever moves records to another batch moves
                                 * the arena with them (prov_arena_move()) */
} ProvScimBatch;

typedef struct ProvScimParseOptions {
        /* NULL, or "uidNumber", or "urn:...:User:employeeNumber", or a dotted path "a.b.c".
         * With a ':' the part before the last ':' is a schema URN key at the resource root
         * (then, if that object is missing, the whole string is tried as a flat root key);
         * the rest is a dotted path inside it. Without ':' it is a dotted path from the root. */
        const char *uid_attribute;
        const char *gid_attribute;
        /* NULL, or a path as for uid_attribute to the user's OpenSSH public keys: a string, an
         * array of strings, or an array of objects with a "value" string (RFC 7643 multi-valued
         * attributes). */
        const char *ssh_keys_attribute;
        size_t max_depth;       /* default 32: deepest nesting of arrays/objects in a document; a
                                 * container that goes deeper is read as an invalid value */
        size_t max_string;      /* default 4096: longest string we keep (id/userName: 255) */
        size_t max_members;     /* default 1000000: members per group */
        size_t max_bytes;       /* default 64 MiB: longest document (len) accepted */
        /* Optional: a string equal to a group member's id that lives at least as long as the
         * batch being parsed (the id of a user parsed before), or NULL. Such member ids are not
         * copied: a directory of 100k users would otherwise hold every user id twice or more.
         * The batch does not own what it returns. */
        const char *(*intern_member_id)(const char *id, void *userdata);
        void *intern_userdata;
} ProvScimParseOptions;

/* A directory file: {"Users":[...],"Groups":[...]}, each value an array of resources or a
 * ListResponse object; keys case-insensitive; either may be missing (= empty). */
int prov_scim_parse_directory(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimBatch **ret);

/* The hub's GET /v1/snapshot: {"seq": N, "Users": [...], "Groups": [...]}, read as a directory,
 * and its seq (an integer 0..2^53) in *ret_seq. -EBADMSG as for a directory, or without seq. */
int prov_scim_parse_hub_snapshot(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t *ret_seq,
                                 ProvScimBatch **ret);

/* An answer of the hub's GET /v1/feed?since=S: {"seq": H, "events": [{"seq": n, "op":
 * "upsert"|"delete", "resourceType": "User"|"Group", "id": "...", "resource": {...}}]}. */
typedef struct ProvHubFeed {
        int64_t seq;                    /* H: what the host has applied once this answer is */
        size_t n_events;
        /* The upserted resources, parsed like any other source's (rejects included): for each
         * resource, the last of its events in the answer counts, in the answer's order. */
        ProvScimBatch *batch;
        /* SCIM ids of the deleted users and groups (strings in batch->arena), NULL-terminated. */
        const char **gone_users;
        size_t n_gone_users;
        const char **gone_groups;
        size_t n_gone_groups;
} ProvHubFeed;

#define PROV_HUB_FEED_MAX_EVENTS 1000000

/* Parses and checks a whole feed answer before anything is kept: H >= since (a seq never goes
 * back), at most PROV_HUB_FEED_MAX_EVENTS events, their seqs strictly increasing in (since, H],
 * each with a known op and resourceType and a readable id, an upsert with its resource of the
 * same id. Any violation is -EBADMSG with a malloc'ed one-line reason in *ret_error (when
 * ret_error is not NULL): the caller applies nothing and keeps its seq. A bad resource in a
 * well-formed event is a reject, as everywhere else. */
int prov_scim_parse_hub_feed(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t since,
                             ProvHubFeed **ret, char **ret_error);
ProvHubFeed *prov_hub_feed_free(ProvHubFeed *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvHubFeed *, prov_hub_feed_free);

/* One ListResponse page of GET /Users (groups = false) or /Groups (groups = true), as a batch of
 * its own (finished). schemas must contain the ListResponse URN; Resources may be absent only
 * when totalResults is 0. */
int prov_scim_parse_list(const char *json, size_t len, bool groups, const ProvScimParseOptions *opts,
                         ProvScimBatch **ret);
/* The same, for one page of a walk whose pages the caller merges into one batch (moving records
 * and arena, as scim-source.c does): not finished, so that the merged batch is finished once,
 * after the last page. */
int prov_scim_parse_page(const char *json, size_t len, bool groups, const ProvScimParseOptions *opts,
                         ProvScimBatch **ret);

/* Finishes a complete batch (see ProvScimBatch): drops the later records of a repeated id, with
 * a reject each, and sets user_order and group_order. Once per batch. 0, -ENOMEM, or -E2BIG
 * beyond UINT32_MAX records. */
int prov_scim_batch_finish(ProvScimBatch *b);

/* One User resource (GET /Users/{id}). One whose id is readable is returned even when it is
 * unservable (check ->unservable): it exists, which a 404 would deny. -EBADMSG when the document
 * fails as a whole or the id cannot be read. The user owns its strings (in an arena of its own):
 * free it with prov_scim_user_free(), which must never be given a user of a batch. */
int prov_scim_parse_user(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimUser **ret);

/* The "id" of one resource (GET /Groups/{id}), malloc'ed in *ret_id; -EBADMSG if the document
 * is not an object with a string id. */
int prov_scim_parse_resource_id(const char *json, size_t len, const ProvScimParseOptions *opts, char **ret_id);

/* A SCIM error response. On success returns the "status" (100..599, number or string) or 0 if
 * it has none, and a malloc'ed one-line, control-character-free, at most ~512 byte summary
 * "status 409 (uniqueness): detail" in *ret_detail. -EBADMSG if it is not a JSON object. */
int prov_scim_parse_error(const char *json, size_t len, char **ret_detail);

/* Frees the record arrays, the arena with every string of the records, and next_cursor. */
ProvScimBatch *prov_scim_batch_free(ProvScimBatch *b);
/* Only for users from prov_scim_parse_user(). */
ProvScimUser *prov_scim_user_free(ProvScimUser *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvScimBatch *, prov_scim_batch_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProvScimUser *, prov_scim_user_free);

/* What a SCIM service provider says about itself in GET /ServiceProviderConfig (RFC 7643 §5)
 * and its RFC 9865 "pagination" extension. */
typedef struct ProvScimServiceConfig {
        bool filter_supported;          /* filter.supported; false when absent */
        uint64_t filter_max_results;    /* filter.maxResults, 0 when absent or not a positive integer */
        bool cursor;                    /* pagination.cursor (RFC 9865) */
        bool index;                     /* pagination.index; true when "pagination" is absent */
        uint64_t max_page_size;         /* pagination.maxPageSize, 0 when absent */
} ProvScimServiceConfig;

/* Parses a ServiceProviderConfig body of at most 1 MiB. Fields of the wrong type are treated as
 * absent. Returns 0, or -EBADMSG if the body is not a JSON object. */
int prov_scim_parse_service_config(const char *json, size_t len, ProvScimServiceConfig *ret);
