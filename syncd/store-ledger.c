/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The UID/GID ledger of the store: ids given for ever, their allocation, and an account's
 * history of ids and names. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

static void id_bitmap_set(ProvStore *s, unsigned k, uint32_t id) {
        IdBitmap *b = &s->used[k];
        if (b->valid && id >= b->min && id <= b->max)
                b->bits[(id - b->min) / 64] |= UINT64_C(1) << ((id - b->min) % 64);
}

/* 1 if the bitmap has id, 0 if it shows id free, -1 if it does not cover id. */
static int id_bitmap_test(const ProvStore *s, unsigned k, uint32_t id) {
        const IdBitmap *b = &s->used[k];
        if (!b->valid || id < b->min || id > b->max)
                return -1;
        return !!(b->bits[(id - b->min) / 64] & (UINT64_C(1) << ((id - b->min) % 64)));
}

/* The 64 bits starting at id, which need not be aligned in b. */
static uint64_t id_bitmap_word(const IdBitmap *b, uint32_t id) {
        uint64_t off = id - b->min, w = b->bits[off / 64] >> (off % 64);
        if (off % 64 && off / 64 + 1 <= (uint64_t) (b->max - b->min) / 64)
                w |= b->bits[off / 64 + 1] << (64 - off % 64);
        return w;
}

static bool id_bitmap_get(const IdBitmap *b, uint32_t id) {
        return b->bits[(id - b->min) / 64] & (UINT64_C(1) << ((id - b->min) % 64));
}

/* ---- UID/GID ledger ---- */

/* An id is taken for ever once given: by a ledger row, or while its account or group exists by
 * that row (a user's uid, and its private group's gid, which is the same number). Accounts
 * written after schema 3 have no ledger rows until their row goes: the triggers of migration
 * 2 -> 3 record them then. */

uint64_t prov_store_owner_hash(const char *owner) {
        /* 64-bit FNV-1a: fixed, unseeded and documented, so that every host maps the same
         * directory to the same ids. Do not change: it would move every allocation. */
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const unsigned char *p = (const unsigned char *) owner; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Runs a cached one-column query keyed by text or by number (at ?2 after the kind k at ?1 when
 * k is given, else at ?1): 1 and the column (as an id in *ret_id, or a copy in *ret_text) if
 * there is a row, 0 if not. */
static int query_one(ProvStore *s, StmtId id, const ProvIdKind *k, const char *text, int64_t number,
                     uint32_t *ret_id, char **ret_text) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r, i = 1;

        r = stmt_get(s, id, &st);
        if (r < 0)
                return r;
        if (k && sqlite3_bind_text(st, i++, kind_to_string(*k), -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        if ((text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_int64(st, i, number)) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_step(s, st);
        if (r <= 0)
                return r;
        r = ret_text ? column_strdup(s, st, 0, false, ret_text) : column_id(s, st, 0, ret_id);
        return r < 0 ? r : 1;
}

/* The id of kind k that the existing account or group of owner holds: 1, or 0 if none. */
static int live_id(ProvStore *s, ProvIdKind k, const char *owner, uint32_t *ret_id) {
        const char *user = startswith(owner, "user:"), *group = startswith(owner, "group:");

        if (user)
                return query_one(s, STMT_LIVE_USER_UID, NULL, user, 0, ret_id, NULL);
        if (group && k == PROV_ID_GID)
                return query_one(s, STMT_LIVE_GROUP_GID, NULL, group, 0, ret_id, NULL);
        return 0;
}

/* The owner of (k, id) among the existing accounts and groups: 1, or 0 if none. */
static int live_owner(ProvStore *s, ProvIdKind k, uint32_t id, char **ret_owner) {
        int r = query_one(s, STMT_LIVE_USER_BY_UID, NULL, NULL, id, NULL, ret_owner);

        if (r == 0 && k == PROV_ID_GID)
                r = query_one(s, STMT_LIVE_GROUP_BY_GID, NULL, NULL, id, NULL, ret_owner);
        return r;
}

int prov_store_ledger_lookup(ProvStore *s, ProvIdKind k, const char *owner, uint32_t *ret_id) {
        uint32_t id;
        int r;

        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        /* The existing account's ids first: they are its current ones. */
        r = live_id(s, k, owner, &id);
        if (r == 0)
                r = query_one(s, STMT_LEDGER_LOOKUP, &k, owner, 0, &id, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_ledger_owner(ProvStore *s, ProvIdKind k, uint32_t id, char **ret_owner) {
        char *owner = NULL;
        int r;

        if (!s || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        r = query_one(s, STMT_LEDGER_OWNER, &k, NULL, id, NULL, &owner);
        if (r == 0)
                r = live_owner(s, k, id, &owner);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (ret_owner)
                *ret_owner = owner;
        else
                free(owner);
        return 0;
}

/* Inserts a ledger row unless (kind, id) exists: 1 if inserted, 0 if it existed. */
static int ledger_insert(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = stmt_get(s, STMT_LEDGER_INSERT, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, kind_to_string(k), -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, id) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
            (name ? sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4)) !=
                    SQLITE_OK ||
            sqlite3_bind_int64(st, 5, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        r = stmt_exec(s, st);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) == 0)
                return 0;
        id_bitmap_set(s, k, id);
        return 1;
}

/* Whether owner may have (k, id): 0 if it is free or owner's own, -EEXIST (with the store's
 * message set) if another owner holds it, or an account reserved it earlier in this
 * transaction. */
static int id_check(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner) {
        _cleanup_free_ char *current = NULL;
        int r;

        if (id_bitmap_test(s, k, id) == 0)
                return 0; /* the bitmap knows every holder */
        r = prov_store_ledger_owner(s, k, id, &current);
        if (r == -ENOENT) {
                if (id_bitmap_test(s, k, id) <= 0)
                        return 0;
                store_msg(s, "%s %" PRIu32 " is reserved for another account",
                         kind_to_string(k), id);
                return -EEXIST;
        }
        if (r < 0)
                return r;
        if (!streq(current, owner)) {
                store_msg(s, "%s %" PRIu32 " belongs to %.64s", kind_to_string(k), id,
                         current);
                return -EEXIST;
        }
        return 0;
}

/* Records (k, id) for owner: 0 if recorded now or already owner's, -EEXIST if someone else's. */
static int ledger_claim(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        int r;

        r = id_check(s, k, id, owner);
        if (r < 0)
                return r;
        r = ledger_insert(s, k, id, owner, name);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Rows are never deleted: the row that stopped the insert is still there. */
        return id_check(s, k, id, owner);
}

int prov_store_ledger_assign(ProvStore *s, ProvIdKind k, uint32_t id, const char *owner, const char *name) {
        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID) || id == UINT32_MAX)
                return -EINVAL;
        return ledger_claim(s, k, id, owner, name);
}

/* Loads the bitmap of kind k for [min, max], unless it already covers exactly that range. */
static int id_bitmap_load(ProvStore *s, ProvIdKind k, uint32_t min, uint32_t max) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        IdBitmap *b = &s->used[k];
        size_t words = ((size_t) max - min) / 64 + 1;
        int r;

        if (b->valid && b->min == min && b->max == max)
                return 0;
        free(b->bits);
        *b = (IdBitmap) { .min = min, .max = max, .bits = calloc(words, sizeof(uint64_t)) };
        if (!b->bits)
                return -ENOMEM;
        /* A user's gid is its uid: the users' uids count for both kinds. */
        r = stmt_prepare(s,
                         k == PROV_ID_UID
                                 ? "SELECT id FROM id_ledger WHERE kind = 'uid' AND id BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT uid FROM users WHERE uid BETWEEN ?1 AND ?2"
                                 : "SELECT id FROM id_ledger WHERE kind = 'gid' AND id BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT uid FROM users WHERE uid BETWEEN ?1 AND ?2 "
                                   "UNION ALL SELECT gid FROM groups WHERE gid BETWEEN ?1 AND ?2",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_int64(st, 1, min) != SQLITE_OK || sqlite3_bind_int64(st, 2, max) != SQLITE_OK)
                return store_fail_last(s);
        while ((r = stmt_step(s, st)) > 0) {
                uint32_t id = (uint32_t) sqlite3_column_int64(st, 0);
                b->bits[(id - min) / 64] |= UINT64_C(1) << ((id - min) % 64);
        }
        if (r < 0)
                return r;
        b->valid = true;
        return 0;
}

/* The first id in [from, to] with no ledger row of kind k (nor of kind gid when both is set)
 * that is_taken does not claim; -ENOSPC if there is none. The bitmaps cover [from, to]. When
 * is_taken claims id, it says how many ids from id on it claims, and those are skipped in one
 * step: the same id comes out as probing each, without 65536 calls per subordinate range. */
static int ledger_first_free(ProvStore *s, ProvIdKind k, bool both, uint32_t from, uint32_t to,
                             uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret) {
        const IdBitmap *a = &s->used[k], *g = &s->used[PROV_ID_GID];

        for (uint64_t cand = from; cand <= to; cand++) {
                uint32_t id = (uint32_t) cand;
                /* A block of 64 taken ids at once (long runs of taken directory uids are common). */
                if ((id - a->min) % 64 == 0 && (uint64_t) id + 63 <= to) {
                        uint64_t w = a->bits[(id - a->min) / 64];
                        if (both)
                                w |= id_bitmap_word(g, id);
                        if (w == UINT64_MAX) {
                                cand += 63;
                                continue;
                        }
                }
                if (id_bitmap_get(a, id) || (both && id_bitmap_get(g, id)))
                        continue;
                uint32_t n = is_taken ? is_taken(id, userdata) : 0;
                if (n > 0) {
                        cand += n - 1;
                        continue;
                }
                *ret = id;
                return 0;
        }
        return -ENOSPC;
}

/* The deterministic choice of prov_store_ledger_allocate(), on loaded bitmaps. */
static int pick_free(ProvStore *s, ProvIdKind k, bool both, const char *owner, uint32_t min, uint32_t max,
                     uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret) {
        uint64_t range = (uint64_t) max - min + 1, start = min + prov_store_owner_hash(owner) % range;
        int r;

        /* Start at the owner's hash and take the first free id, wrapping around once. */
        r = ledger_first_free(s, k, both, (uint32_t) start, max, is_taken, userdata, ret);
        if (r == -ENOSPC && start > min)
                r = ledger_first_free(s, k, both, min, (uint32_t) (start - 1), is_taken, userdata, ret);
        if (r == -ENOSPC)
                store_msg(s, "no free %s in %" PRIu32 "..%" PRIu32, kind_to_string(k),
                         min, max);
        return r;
}

int prov_store_ledger_allocate(ProvStore *s, ProvIdKind k, const char *owner, const char *name, uint32_t min,
                               uint32_t max, bool also_gid, uint32_t (*is_taken)(uint32_t id, void *userdata),
                               void *userdata, uint32_t *ret_id) {
        _cleanup_op_ Op op = {};
        bool both;
        uint32_t id;
        int r;

        if (!s || !owner || (k != PROV_ID_UID && k != PROV_ID_GID))
                return -EINVAL;
        if (min == 0 || min > max || max == UINT32_MAX)
                return -EINVAL;
        both = also_gid && k == PROV_ID_UID;

        /* The common case on every sync after the first: already ours, a single read, no
         * transaction of our own. Its private group row is the caller's business then: the id may
         * have come from prov_store_ledger_assign() with a directory attribute. */
        if (prov_sql_in_transaction(s->sql)) {
                r = prov_store_ledger_lookup(s, k, owner, &id);
                if (r >= 0) {
                        if (ret_id)
                                *ret_id = id;
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
        }

        r = op_begin(s, &op);
        if (r < 0)
                return r;

        /* Again inside our own transaction: with none open above, another writer may have got
         * here first. */
        r = prov_store_ledger_lookup(s, k, owner, &id);
        if (r >= 0) {
                r = op_commit(&op);
                if (r < 0)
                        return r;
                if (ret_id)
                        *ret_id = id;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        r = id_bitmap_load(s, k, min, max);
        if (r >= 0 && both)
                r = id_bitmap_load(s, PROV_ID_GID, min, max);
        if (r >= 0)
                r = pick_free(s, k, both, owner, min, max, is_taken, userdata, &id);
        if (r >= 0)
                r = ledger_claim(s, k, id, owner, name);
        if (r >= 0 && both)
                r = ledger_claim(s, PROV_ID_GID, id, owner, name);
        if (r >= 0)
                r = op_commit(&op);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

/* Marks id taken in both bitmaps for the account about to be written. */
static void reserve_both(ProvStore *s, uint32_t id) {
        id_bitmap_set(s, PROV_ID_UID, id);
        id_bitmap_set(s, PROV_ID_GID, id);
}

static int reservation_begin(ProvStore *s, const char *scim_id, uint32_t min, uint32_t max, char **ret_owner) {
        int r;

        if (!s || !scim_id || min == 0 || min > max || max == UINT32_MAX)
                return -EINVAL;
        /* Nothing is recorded until the caller writes the account: only inside its transaction. */
        if (!prov_sql_in_transaction(s->sql)) {
                store_msg(s, "id reservation outside a transaction");
                return -EINVAL;
        }
        r = id_bitmap_load(s, PROV_ID_UID, min, max);
        if (r >= 0)
                r = id_bitmap_load(s, PROV_ID_GID, min, max);
        if (r < 0)
                return r;
        if (asprintf(ret_owner, "user:%s", scim_id) < 0)
                return -ENOMEM;
        return 0;
}

int prov_store_user_ids_reserve(ProvStore *s, const char *scim_id, uint32_t id, uint32_t min, uint32_t max,
                                ProvIdKind *ret_conflict) {
        _cleanup_free_ char *owner = NULL;
        int r;

        if (id < min || id > max)
                return -EINVAL;
        r = reservation_begin(s, scim_id, min, max, &owner);
        if (r < 0)
                return r;
        /* The usual joiner: neither bitmap has the id, nothing to read. */
        for (ProvIdKind k = PROV_ID_UID; k <= PROV_ID_GID; k++) {
                r = id_check(s, k, id, owner);
                if (r == -EEXIST && ret_conflict)
                        *ret_conflict = k;
                if (r < 0)
                        return r;
        }
        reserve_both(s, id);
        return 0;
}

int prov_store_user_ids_allocate(ProvStore *s, const char *scim_id, uint32_t min, uint32_t max,
                                 uint32_t (*is_taken)(uint32_t id, void *userdata), void *userdata, uint32_t *ret_id) {
        _cleanup_free_ char *owner = NULL;
        uint32_t id;
        int r;

        r = reservation_begin(s, scim_id, min, max, &owner);
        if (r < 0)
                return r;
        /* An account that comes back gets the uid it had. */
        r = prov_store_ledger_lookup(s, PROV_ID_UID, owner, &id);
        if (r == -ENOENT)
                r = pick_free(s, PROV_ID_UID, true, owner, min, max, is_taken, userdata, &id);
        else if (r >= 0)
                r = id_check(s, PROV_ID_GID, id, owner);
        if (r < 0)
                return r;
        reserve_both(s, id);
        if (ret_id)
                *ret_id = id;
        return 0;
}

int prov_store_name_history_add(ProvStore *s, const char *scim_id, const char *old_name,
                                const char *new_name) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !scim_id)
                return -EINVAL;
        r = stmt_prepare(s, "INSERT INTO name_history (scim_id, old_name, new_name, changed_usec) "
                            "VALUES (?1, ?2, ?3, ?4)", &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK ||
            (old_name ? sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2)) !=
                    SQLITE_OK ||
            (new_name ? sqlite3_bind_text(st, 3, new_name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 3)) !=
                    SQLITE_OK ||
            sqlite3_bind_int64(st, 4, prov_now_usec()) != SQLITE_OK)
                return store_fail_last(s);
        return stmt_exec(s, st);
}

/* ---- history of an account ---- */

static int history_ids(ProvStore *s, const char *owner, const char *scim_id, ProvUserHistory *h) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        /* An existing account's ids are in its row until it goes (schema 3): those without a
         * ledger row are listed from it, under the account's first name, since its creation. */
        r = stmt_prepare(s,
                         "SELECT kind, id, name_at_assignment, assigned_usec FROM id_ledger WHERE owner = ?1 "
                         "UNION ALL "
                         "SELECT k.kind, u.uid, coalesce((SELECT old_name FROM name_history "
                         "                                WHERE scim_id = u.scim_id "
                         "                                ORDER BY changed_usec, rowid LIMIT 1), u.name), "
                         "       u.created_usec "
                         "FROM users u, (SELECT 'uid' AS kind UNION ALL SELECT 'gid') k "
                         "WHERE u.scim_id = ?2 "
                         "  AND NOT EXISTS (SELECT 1 FROM id_ledger l WHERE l.kind = k.kind AND l.id = u.uid) "
                         "ORDER BY 4, 1 DESC, 2",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                ProvIdRecord rec = {};

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = prov_grow((void **) &h->ids, &allocated, h->n_ids + 1, sizeof(*h->ids));
                if (r < 0)
                        return r;
                if ((r = column_id(s, st, 1, &rec.id)) < 0 ||
                    (r = column_strdup(s, st, 0, false, &rec.kind)) < 0 ||
                    (r = column_strdup(s, st, 2, true, &rec.name)) < 0) {
                        free(rec.kind);
                        return r;
                }
                rec.assigned_usec = sqlite3_column_int64(st, 3);
                h->ids[h->n_ids++] = rec;
        }
}

static int history_names(ProvStore *s, const char *scim_id, ProvUserHistory *h) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        r = stmt_prepare(s,
                         "SELECT old_name, new_name, changed_usec FROM name_history "
                         "WHERE scim_id = ?1 ORDER BY changed_usec, rowid",
                         &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_text(st, 1, scim_id, -1, SQLITE_STATIC) != SQLITE_OK)
                return store_fail_last(s);
        for (;;) {
                ProvNameChange c = {};

                r = stmt_step(s, st);
                if (r <= 0)
                        return r;
                r = prov_grow((void **) &h->names, &allocated, h->n_names + 1, sizeof(*h->names));
                if (r < 0)
                        return r;
                if ((r = column_strdup(s, st, 0, true, &c.old_name)) < 0 ||
                    (r = column_strdup(s, st, 1, true, &c.new_name)) < 0) {
                        free(c.old_name);
                        return r;
                }
                c.changed_usec = sqlite3_column_int64(st, 2);
                h->names[h->n_names++] = c;
        }
}

int prov_store_user_history(ProvStore *s, const char *scim_id, ProvUserHistory *ret) {
        _cleanup_free_ char *owner = NULL;
        ProvUserHistory h = {};
        int r;

        if (!s || !scim_id || !ret)
                return -EINVAL;
        if (asprintf(&owner, "user:%s", scim_id) < 0)
                return -ENOMEM;
        r = history_ids(s, owner, scim_id, &h);
        if (r >= 0)
                r = history_names(s, scim_id, &h);
        if (r < 0) {
                prov_user_history_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

void prov_user_history_done(ProvUserHistory *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n_ids; i++) {
                free(h->ids[i].kind);
                free(h->ids[i].name);
        }
        free(h->ids);
        for (size_t i = 0; i < h->n_names; i++) {
                free(h->names[i].old_name);
                free(h->names[i].new_name);
        }
        free(h->names);
        *h = (ProvUserHistory) {};
}
