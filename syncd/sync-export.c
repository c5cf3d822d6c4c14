/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Export: the store becomes the snapshot that NSS and PAM serve, and the SSH keys file beside
 * it. The store is read in one pass per table; what mapping allowed is checked again here, so
 * that a snapshot is publishable whatever the store holds. */
#include <inttypes.h>

#include "log.h"
#include "prov-snapshot-write.h"
#include "prov-sshkeys.h"
#include "sync-internal.h"

#define NOLOGIN_SHELL "/usr/sbin/nologin"

static int cmp_u32p(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_snap_user_uid(const void *a, const void *b) {
        return cmp_u32p(&((const ProvSnapUser *) a)->uid, &((const ProvSnapUser *) b)->uid);
}

#define NOT_A_MEMBER UINT32_MAX

/* Every stored account by ref: what memberships are resolved against. */
typedef struct ExportUser {
        int64_t ref;
        /* Its position in the snapshot's users (by uid), once they are sorted; until then its
         * uid. NOT_A_MEMBER: not served, or not active (then a member of nothing). */
        uint32_t index;
} ExportUser;

/* A group's position in Export.groups, by ref. */
typedef struct ExportGroup {
        int64_t ref;
        size_t pos;
} ExportGroup;

typedef struct Export {
        const ProvConfig *config;
        const ProvLocalAccounts *local;
        ProvArena pool;
        ProvSnapUser *su;
        size_t nu, cap_su;
        ExportUser *by_ref;     /* sorted by ref */
        size_t n_by_ref, cap_by_ref;
        const char *shells[8];
        size_t n_shells;
        ProvGroupRecord *groups;
        size_t n_groups;
        ExportGroup *group_refs; /* sorted by ref */
        const ExportGroup *last_group; /* that of the last membership row */
        size_t *first, *count;  /* per groups[] entry: its slice of members */
        uint32_t *members;      /* indexes into su[] */
        size_t n_members, cap_members;
        ProvSshKeysRecord *keys; /* served, active accounts with keys */
        size_t n_keys, cap_keys;
} Export;

static void export_done(Export *e) {
        prov_arena_done(&e->pool);
        free(e->su);
        free(e->by_ref);
        prov_group_records_free(e->groups, e->n_groups);
        free(e->group_refs);
        free(e->first);
        free(e->count);
        free(e->members);
        free(e->keys);
}

/* Shells repeat: the few distinct ones are kept once. */
static const char *export_shell(Export *e, const char *shell) {
        for (size_t i = 0; i < e->n_shells; i++)
                if (streq(e->shells[i], shell))
                        return e->shells[i];
        char *c = prov_arena_strdup(&e->pool, shell);
        if (c && e->n_shells < ELEMENTSOF(e->shells))
                e->shells[e->n_shells++] = c;
        return c;
}

static int export_user(const ProvUserRecord *u, void *userdata) {
        Export *e = userdata;
        const char *name = NULL;
        bool member = false;
        int r;

        /* Defence in depth: the host's own accounts always win, even if /etc/passwd gained a
         * name or id after the account was mapped. */
        const char *why = sync_name_refused(e->config, e->local, u->name) ?: sync_id_refused(e->config, e->local, u->uid);
        if (!why && u->home && prov_local_home_overlaps(e->local, u->home, e->config->home_base))
                why = "its home is a local account's home, holds one or lies in one";
        if (why)
                log_warning("Not serving '%s' (uid %" PRIu32 "): %s", SAFE(u->name), u->uid, why);
        else {
                r = prov_grow((void **) &e->su, &e->cap_su, e->nu + 1, sizeof(ProvSnapUser));
                if (r < 0)
                        return r;
                ProvSnapUser *s = &e->su[e->nu];
                *s = (ProvSnapUser) {
                        .name = name = prov_arena_strdup(&e->pool, u->name),
                        .uid = u->uid,
                        .gid = u->gid,
                        .gecos = prov_arena_strdup(&e->pool, u->gecos),
                        .home = prov_arena_strdup(&e->pool, u->home),
                        .shell = u->state == PROV_STATE_ACTIVE ? export_shell(e, u->shell) : NOLOGIN_SHELL,
                        .state = u->state,
                        .lastchg_days = (uint32_t) (u->updated_usec / USEC_PER_DAY),
                };
                if (!s->name || !s->gecos || !s->home || !s->shell)
                        return -ENOMEM;
                e->nu++;
                /* Demotion: only active accounts are members of anything. */
                member = u->state == PROV_STATE_ACTIVE;
                /* Keys only for who may log in: the same rule as the shell. */
                if (u->state == PROV_STATE_ACTIVE && u->ssh_keys && u->ssh_keys[0]) {
                        r = prov_grow((void **) &e->keys, &e->cap_keys, e->n_keys + 1, sizeof(ProvSshKeysRecord));
                        if (r < 0)
                                return r;
                        e->keys[e->n_keys] = (ProvSshKeysRecord) {
                                .name = name,
                                .keys = prov_arena_strdup(&e->pool, u->ssh_keys),
                                .uid = u->uid,
                        };
                        if (!e->keys[e->n_keys].keys)
                                return -ENOMEM;
                        e->n_keys++;
                }
        }
        /* The walk is by ref: by_ref[] comes out sorted. */
        if (e->n_by_ref > 0 && e->by_ref[e->n_by_ref - 1].ref >= u->ref)
                return -EBADMSG;
        r = prov_grow((void **) &e->by_ref, &e->cap_by_ref, e->n_by_ref + 1, sizeof(ExportUser));
        if (r < 0)
                return r;
        e->by_ref[e->n_by_ref++] = (ExportUser) { u->ref, member ? u->uid : NOT_A_MEMBER };
        return 0;
}

/* Both ExportUser and ExportGroup start with their ref. */
static int cmp_ref(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

/* Refs are the rowids SQLite gave, 1, 2, 3...: unless many accounts were purged, an account's
 * place in by_ref[] is its ref less the first one, and the search is only the way back. */
static const ExportUser *export_user_by_ref(const Export *e, int64_t ref) {
        if (e->n_by_ref > 0 && ref >= e->by_ref[0].ref) {
                uint64_t guess = (uint64_t) ref - (uint64_t) e->by_ref[0].ref;
                if (guess < e->n_by_ref && e->by_ref[guess].ref == ref)
                        return &e->by_ref[guess];
        }
        return bsearch(&ref, e->by_ref, e->n_by_ref, sizeof(ExportUser), cmp_ref);
}

/* Memberships are read by ref: each group's members end up in one slice of members[]. */
static int export_membership(int64_t group_ref, int64_t user_ref, void *userdata) {
        Export *e = userdata;
        const ExportUser *u;
        size_t g;
        int r;

        /* Rows come grouped: one lookup per group, not per row. */
        if (!e->last_group || e->last_group->ref != group_ref)
                e->last_group = bsearch(&group_ref, e->group_refs, e->n_groups, sizeof(ExportGroup), cmp_ref);
        if (!e->last_group)
                return 0;
        g = e->last_group->pos;
        u = export_user_by_ref(e, user_ref);
        if (!u || u->index == NOT_A_MEMBER)
                return 0;
        r = prov_grow((void **) &e->members, &e->cap_members, e->n_members + 1, sizeof(uint32_t));
        if (r < 0)
                return r;
        if (e->count[g] == 0)
                e->first[g] = e->n_members;
        e->members[e->n_members++] = u->index;
        e->count[g]++;
        return 0;
}

/* Reads the store in one pass per table, keeping only what the snapshot serves. */
static int export_collect(Export *e, ProvStore *store) {
        int r;

        size_t n_users = 0, n_memberships = 0;

        /* Arrays sized once from the store's counts: no copy of them while they grow. */
        r = prov_store_counts(store, &n_users, NULL, &n_memberships);
        if (r < 0)
                return r;
        e->su = reallocarray(NULL, n_users + 1, sizeof(ProvSnapUser));
        e->by_ref = reallocarray(NULL, n_users + 1, sizeof(ExportUser));
        e->members = reallocarray(NULL, n_memberships + 1, sizeof(uint32_t));
        if (!e->su || !e->by_ref || !e->members)
                return -ENOMEM;
        e->cap_su = e->cap_by_ref = n_users + 1;
        e->cap_members = n_memberships + 1;

        /* In storage order, not through the uid index: that would be a random read of the
         * table per account. The snapshot lists them by uid. */
        r = prov_store_users_foreach(store, PROV_USER_ORDER_REF, export_user, e);
        if (r < 0)
                return r;
        qsort(e->su, e->nu, sizeof(ProvSnapUser), cmp_snap_user_uid);
        /* Members go to the writer as positions in su[]: each member's, found once by its uid
         * (unique, or the writer refuses the snapshot anyway). */
        for (size_t i = 0; i < e->n_by_ref; i++) {
                ExportUser *x = &e->by_ref[i];
                const ProvSnapUser key = { .uid = x->index }, *s;

                if (x->index == NOT_A_MEMBER)
                        continue;
                s = bsearch(&key, e->su, e->nu, sizeof(ProvSnapUser), cmp_snap_user_uid);
                x->index = s ? (uint32_t) (s - e->su) : NOT_A_MEMBER;
        }

        r = prov_store_groups_load(store, &e->groups, &e->n_groups);
        if (r < 0)
                return r;
        e->first = calloc(e->n_groups + 1, sizeof(size_t));
        e->count = calloc(e->n_groups + 1, sizeof(size_t));
        e->group_refs = calloc(e->n_groups + 1, sizeof(ExportGroup));
        if (!e->first || !e->count || !e->group_refs)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_groups; i++)
                e->group_refs[i] = (ExportGroup) { e->groups[i].ref, i };
        qsort(e->group_refs, e->n_groups, sizeof(ExportGroup), cmp_ref);
        return prov_store_member_refs_foreach(store, NULL, export_membership, e);
}

int prov_sync_export(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local) {
        _cleanup_(export_done) Export e = { .config = config, .local = local };
        _cleanup_free_ ProvSnapGroup *sg = NULL;
        _cleanup_free_ const char **served_names = NULL;
        _cleanup_free_ uint32_t *served_ids = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t gen = 0, last_success = 0;
        size_t ng = 0;
        int r;

        path = prov_config_snapshot_path(config);
        if (!path)
                return -ENOMEM;

        r = export_collect(&e, store);
        if (r >= 0) {
                r = prov_store_state_get_int(store, "generation", &gen);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0) {
                r = prov_store_state_get_int(store, "last_confirmed_usec", &last_success);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0)
                return r;

        /* The user private groups, then the directory's groups. */
        sg = calloc(e.nu + e.n_groups + 1, sizeof(ProvSnapGroup));
        served_names = calloc(e.nu + 1, sizeof(char *));
        served_ids = calloc(e.nu + 1, sizeof(uint32_t));
        if (!sg || !served_names || !served_ids)
                return -ENOMEM;
        for (size_t i = 0; i < e.nu; i++) {
                sg[ng++] = (ProvSnapGroup) { .name = e.su[i].name, .gid = e.su[i].gid };
                served_names[i] = e.su[i].name;
                served_ids[i] = e.su[i].uid;
        }

        /* Served user names and uids (= private group names and gids): a directory group may
         * not shadow them. Mapping prevents it; this keeps a snapshot publishable whatever
         * the store holds. */
        qsort(served_names, e.nu, sizeof(char *), sync_cmp_strp);
        qsort(served_ids, e.nu, sizeof(uint32_t), cmp_u32p);

        for (size_t i = 0; i < e.n_groups; i++) {
                const ProvGroupRecord *g = &e.groups[i];
                bool mapped = g->local_name != NULL;

                const ProvLocalGroup *lg = mapped ? prov_local_group(local, g->local_name) : NULL;
                /* A mapped group only merges into the local group it names, as it is now: once
                 * that is gone (or renumbered) it would be a system name and gid on its own. */
                const char *why = mapped ? (!lg || lg->gid == 0 || lg->gid != g->gid || !streq(g->name, lg->name)
                                                    ? "the local group it is mapped onto is gone or has another gid"
                                                    : NULL)
                                         : sync_name_refused(config, local, g->name) ?: sync_id_refused(config, local, g->gid);
                if (why) {
                        log_warning("Not serving group '%s' (gid %" PRIu32 "): %s", SAFE(g->name), g->gid, why);
                        continue;
                }
                if (!mapped && (bsearch(&g->name, served_names, e.nu, sizeof(char *), sync_cmp_strp) ||
                                bsearch(&g->gid, served_ids, e.nu, sizeof(uint32_t), cmp_u32p))) {
                        log_warning("Not serving group '%s': its name or gid is a user's private group", SAFE(g->name));
                        continue;
                }
                sg[ng++] = (ProvSnapGroup) {
                        .name = g->name,
                        .gid = g->gid,
                        .members = e.members + e.first[i],
                        .n_members = e.count[i],
                        .flags = mapped ? PROV_SNAP_GROUP_MAPPED : 0,
                };
        }
        /* What the writer does not need goes before it allocates its own tables. */
        free(TAKE_PTR(served_names));
        free(TAKE_PTR(served_ids));
        free(TAKE_PTR(e.by_ref));

        ProvSnapMeta meta = {
                .generation = (uint64_t) gen,
                .last_sync_usec = (uint64_t) last_success,
                .uid_min = config->uid_min,
                .uid_max = config->uid_max,
        };
        r = prov_snapshot_write(path, &meta, e.su, e.nu, sg, ng);
        if (r < 0)
                return r;

        /* The keys file follows the snapshot, with its generation: provision-ssh-keys decides by
         * the snapshot's state and prints keys only from the file of the same generation, so a
         * leaver's keys end with the snapshot's rename, and in the moment between the two
         * renames nobody's keys are printed rather than stale ones. */
        _cleanup_free_ char *keys_path = prov_sshkeys_path_beside(path);
        if (!keys_path)
                return -ENOMEM;
        r = prov_sshkeys_write(keys_path, (uint64_t) gen, e.keys, e.n_keys);
        if (r < 0) {
                /* The snapshot is out; the old keys file carries the old generation, so no key
                 * is printed until a later export writes this one. */
                log_error_errno(r, "The snapshot is published, but writing %s failed, so no SSH keys are served until the next sync: %m",
                                keys_path);
                return 1;
        }
        return 0;
}
