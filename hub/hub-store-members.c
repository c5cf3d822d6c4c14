/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The hub store's memberships (hub-store.c): a group's members as sorted sets of user refs, the
 * member rows written from the difference, its audit, and a deleted user leaving its groups. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub-store-internal.h"

void hub_store_refset_done(RefSet *set) {
        free(set->refs);
        *set = (RefSet) {};
}

static int refset_add(RefSet *set, int64_t ref) {
        if (prov_grow((void **) &set->refs, &set->allocated, set->n + 1, sizeof(int64_t)) < 0)
                return -ENOMEM;
        set->refs[set->n++] = ref;
        return 0;
}

static int cmp_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

/* Sorts and drops duplicates (a member listed twice is one member). */
static void refset_normalize(RefSet *set) {
        size_t k = 0;

        if (set->n == 0)
                return;
        qsort(set->refs, set->n, sizeof(int64_t), cmp_int64);
        for (size_t i = 1; i < set->n; i++)
                if (set->refs[i] != set->refs[k])
                        set->refs[++k] = set->refs[i];
        set->n = k + 1;
}

bool hub_store_refset_equal(const RefSet *a, const RefSet *b) {
        return a->n == b->n && (a->n == 0 || memcmp(a->refs, b->refs, a->n * sizeof(int64_t)) == 0);
}

void hub_store_idindex_done(IdIndex *x) {
        for (size_t i = 0; i < x->n; i++)
                free(x->items[i].id);
        free(x->items);
        *x = (IdIndex) {};
}

static int cmp_idref(const void *a, const void *b) {
        return strcmp(((const IdRef *) a)->id, ((const IdRef *) b)->id);
}

static bool idindex_find(const IdIndex *x, const char *id, int64_t *ret) {
        const IdRef key = { .id = (char *) id }, *found;

        if (!x || x->n == 0)
                return false;
        found = bsearch(&key, x->items, x->n, sizeof(IdRef), cmp_idref);
        if (!found)
                return false;
        *ret = found->ref;
        return true;
}

/* The stored members of a group, as refs (sorted) and as an id index. */
int hub_store_refset_load(HubStore *s, int64_t group_ref, RefSet *ret, IdIndex *ret_index) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        _cleanup_(hub_store_refset_done) RefSet set = {};
        _cleanup_(hub_store_idindex_done) IdIndex x = {};
        size_t cap = 0;
        int r;

        r = hub_store_stmt_int(s, STMT_MEMBER_REFS, group_ref, &st);
        if (r < 0)
                return r;
        while ((r = hub_db_step(st)) > 0) {
                int64_t ref = hub_db_column_int64(st, 0);

                if (refset_add(&set, ref) < 0)
                        return -ENOMEM;
                if (prov_grow((void **) &x.items, &cap, x.n + 1, sizeof(IdRef)) < 0)
                        return -ENOMEM;
                x.items[x.n] = (IdRef) { .ref = ref };
                r = hub_db_column_strdup(st, 1, false, &x.items[x.n].id);
                if (r < 0)
                        return r;
                x.n++;
        }
        if (r < 0)
                return r;
        if (x.n > 0)
                qsort(x.items, x.n, sizeof(IdRef), cmp_idref);
        *ret = set;
        set = (RefSet) {};
        *ret_index = x;
        x = (IdIndex) {};
        return 0;
}

static int user_ref_by_id(HubStore *s, const char *id, int64_t *ret) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_store_stmt_text(s, STMT_USER_REF_BY_ID, id, &st);
        if (r < 0)
                return r;
        r = hub_db_step(st);
        if (r <= 0)
                return r;
        *ret = hub_db_column_int64(st, 0);
        return 1;
}

/* An IdP's string for a log line: at most 64 characters, anything outside printable ASCII as
 * '?', so that a member id cannot forge log lines. */
static const char *log_safe(const char *in, char buf[static 65]) {
        size_t i;

        for (i = 0; in && in[i] && i < 64; i++)
                buf[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
        buf[i] = '\0';
        return buf;
}

/* Members left out of one write that are logged one by one; the rest are counted in one line. */
#define LEFT_OUT_LOGGED_MAX 8

/* The users a resource's members name. A member that names no user (an unknown id, a nested
 * group, which hosts do not resolve) is left out with a log line: an IdP pushes a group before
 * or after its users, and refusing the group would lose all of it. A group of 50,000 pushed
 * before its users would have logged 50,000 lines (4 MB, past journald's rate limit, which
 * then drops every other line of the hub for a while): the first few, then their number. */
int hub_store_refset_from_members(HubStore *s, const cJSON *resource, const char *group, const IdIndex *known,
                                  RefSet *ret) {
        _cleanup_(hub_store_refset_done) RefSet set = {};
        const cJSON *members = cJSON_GetObjectItemCaseSensitive(resource, "members"), *m;
        size_t left_out = 0;
        int r;

        cJSON_ArrayForEach(m, members) {
                const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "value"));
                int64_t ref;

                if (!value) {
                        if (left_out++ < LEFT_OUT_LOGGED_MAX)
                                fprintf(stderr, "<4>hub store: group %.64s: a member without a value, left out\n",
                                        group);
                        continue;
                }
                r = idindex_find(known, value, &ref) ? 1 : user_ref_by_id(s, value, &ref);
                if (r < 0)
                        return r;
                if (r == 0) {
                        char safe[65];

                        if (left_out++ < LEFT_OUT_LOGGED_MAX)
                                fprintf(stderr, "<4>hub store: group %s: member '%s' names no user, left out\n",
                                        group, log_safe(value, safe));
                        continue;
                }
                if (refset_add(&set, ref) < 0)
                        return -ENOMEM;
        }
        if (left_out > LEFT_OUT_LOGGED_MAX)
                fprintf(stderr, "<4>hub store: group %s: %zu more members left out\n", group,
                        left_out - LEFT_OUT_LOGGED_MAX);
        refset_normalize(&set);
        *ret = set;
        set = (RefSet) {};
        return 0;
}

static int member_set(HubStore *s, unsigned stmt, int64_t group_ref, int64_t user_ref) {
        _cleanup_db_reset_ HubStmt *st = NULL;
        int r;

        r = hub_db_stmt(s->db, stmt, &st);
        if (r < 0)
                return r;
        if (hub_db_bind_int64(st, 1, group_ref) < 0 ||
            hub_db_bind_int64(st, 2, user_ref) < 0)
                return -EIO;
        return hub_db_run(st);
}

/* Writes the member rows that differ between old and new (both sorted). */
static int members_apply(HubStore *s, int64_t group_ref, const RefSet *old, const RefSet *new) {
        size_t i = 0, j = 0;
        int r;

        while (i < old->n || j < new->n) {
                if (j >= new->n || (i < old->n && old->refs[i] < new->refs[j])) {
                        r = member_set(s, STMT_MEMBER_DELETE, group_ref, old->refs[i++]);
                } else if (i >= old->n || new->refs[j] < old->refs[i]) {
                        r = member_set(s, STMT_MEMBER_INSERT, group_ref, new->refs[j++]);
                } else {
                        i++, j++;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Adds the member ids that changed between old and new to an audit form. */
static int audit_add_member_delta(HubStore *s, cJSON *form, const RefSet *old, const RefSet *new) {
        _cleanup_db_finalize_ HubStmt *st = NULL;
        cJSON *added, *removed;
        size_t i = 0, j = 0;
        int r;

        if (hub_store_refset_equal(old, new))
                return 0;
        r = hub_db_prepare(s->db, "SELECT id FROM users WHERE ref = ?1", &st);
        if (r < 0)
                return r;
        added = cJSON_AddArrayToObject(form, "membersAdded");
        removed = cJSON_AddArrayToObject(form, "membersRemoved");
        if (!added || !removed)
                return -ENOMEM;
        while (i < old->n || j < new->n) {
                cJSON *to;
                int64_t ref;

                if (j >= new->n || (i < old->n && old->refs[i] < new->refs[j]))
                        to = removed, ref = old->refs[i++];
                else if (i >= old->n || new->refs[j] < old->refs[i])
                        to = added, ref = new->refs[j++];
                else {
                        i++, j++;
                        continue;
                }
                hub_db_reset(st);
                if (hub_db_bind_int64(st, 1, ref) < 0)
                        return -EIO;
                r = hub_db_step(st);
                if (r < 0)
                        return r;
                /* A user deleted in this transaction has no id any more: its ref says who. */
                if (r > 0 ? !cJSON_AddItemToArray(
                                    to, cJSON_CreateString(hub_db_column_text(st, 0)))
                          : !cJSON_AddItemToArray(to, cJSON_CreateNumber((double) ref)))
                        return -ENOMEM;
        }
        return 0;
}

int hub_store_members_write(HubStore *s, int64_t group_ref, const RefSet *old, const RefSet *new, cJSON *audit) {
        int r;

        r = members_apply(s, group_ref, old, new);
        if (r < 0)
                return r;
        return audit_add_member_delta(s, audit, old, new);
}

/* A group the deleted user was in. */
typedef struct GroupRef {
        int64_t ref;
        char *id;
} GroupRef;

/* A deleted user leaves its groups: each loses the member row and gets a new version and a
 * seq, so that hosts following the feed see the group without it. The ids go to audit. */
int hub_store_user_leave_groups(HubStore *s, int64_t user_ref, int64_t usec, cJSON *audit) {
        _cleanup_free_ GroupRef *groups = NULL;
        size_t n = 0, allocated = 0;
        cJSON *left;
        int r = 0;

        {
                _cleanup_db_reset_ HubStmt *st = NULL;

                r = hub_store_stmt_int(s, STMT_USER_GROUP_REFS, user_ref, &st);
                if (r < 0)
                        return r;
                while ((r = hub_db_step(st)) > 0) {
                        if (prov_grow((void **) &groups, &allocated, n + 1, sizeof(GroupRef)) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        groups[n] = (GroupRef) { .ref = hub_db_column_int64(st, 0) };
                        r = hub_db_column_strdup(st, 1, false, &groups[n].id);
                        if (r < 0)
                                break;
                        n++;
                }
        }
        if (r < 0)
                goto finish;

        left = n > 0 ? cJSON_AddArrayToObject(audit, "groupsLeft") : NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_db_reset_ HubStmt *st = NULL;

                r = member_set(s, STMT_MEMBER_DELETE, groups[i].ref, user_ref);
                if (r < 0)
                        goto finish;
                r = hub_db_stmt(s->db, STMT_GROUP_TOUCH, &st);
                if (r < 0)
                        goto finish;
                if (hub_db_bind_int64(st, 1, groups[i].ref) < 0 ||
                    hub_db_bind_int64(st, 2, usec) < 0) {
                        r = -EIO;
                        goto finish;
                }
                r = hub_db_run(st);
                if (r < 0)
                        goto finish;
                r = hub_store_change_append(s, PROV_HUB_GROUP, groups[i].id, "upsert", usec);
                if (r < 0)
                        goto finish;
                if (!left || !cJSON_AddItemToArray(left, cJSON_CreateString(groups[i].id))) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        r = 0;
finish:
        for (size_t i = 0; i < n; i++)
                free(groups[i].id);
        return r;
}
