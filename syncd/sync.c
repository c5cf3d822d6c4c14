/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "prov-snapshot-write.h"
#include "prov-validate.h"
#include "sync.h"

#define NOLOGIN_SHELL "/usr/sbin/nologin"
#define USEC_PER_DAY (86400LL * 1000000LL)

typedef struct IdIndex {
        const char *id;
        size_t pos;
} IdIndex;

static int cmp_idindex(const void *a, const void *b) {
        return strcmp(((const IdIndex *) a)->id, ((const IdIndex *) b)->id);
}

/* A directory user after mapping, before it is compared with the store. */
typedef struct MappedUser {
        const ProvScimUser *src;
        char *name;
        char *gecos, *home, *shell;
        uint32_t uid;
        bool in_scope;
        bool accepted;
        ProvUserRecord old; /* from the store; old.scim_id == NULL for a joiner */
} MappedUser;

typedef struct MappedGroup {
        const ProvScimGroup *src;
        char *name;
        uint32_t gid;
        char *local_name;
        bool accepted;
        ProvGroupRecord old;
} MappedGroup;

typedef struct SyncRun {
        ProvStore *store;
        const ProvConfig *config;
        const ProvLocalAccounts *local;
        int64_t now;
        MappedUser *users;
        size_t n_users;
        MappedGroup *groups;
        size_t n_groups;
        IdIndex *user_index;  /* users[] by SCIM id */
        IdIndex *group_index; /* groups[] by SCIM id */
        /* The store's accounts and groups as the sync found them, loaded once: looked up in
         * memory instead of a query per directory record. MappedUser.old and MappedGroup.old
         * are shallow copies of these. */
        ProvUserRecord *stored_users;
        size_t n_stored_users;
        ProvGroupRecord *stored_groups;
        size_t n_stored_groups;
        IdIndex *stored_user_by_id, *stored_user_by_name;
        IdIndex *stored_group_by_id, *stored_group_by_name;
        ProvSyncResult *result;
        size_t cap_transitions;
        const ProvSyncOptions *opts;
} SyncRun;

void prov_sync_result_done(ProvSyncResult *r) {
        for (size_t i = 0; i < r->n_transitions; i++) {
                free(r->transitions[i].scim_id);
                free(r->transitions[i].name);
        }
        free(r->transitions);
        *r = (ProvSyncResult) {};
}

int prov_read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        struct stat st;

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        cap = (size_t) st.st_size + 1;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len + 1 >= cap) {
                        /* The file grew while we read it: keep reading up to the limit. */
                        if (cap > max)
                                return -EFBIG;
                        size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int add_transition(SyncRun *run, const char *scim_id, const char *name, uint32_t uid, ProvState old_state,
                          ProvState new_state, const char *event) {
        ProvSyncResult *res = run->result;
        ProvTransition *t;

        if (res->n_transitions >= run->cap_transitions) {
                size_t c = run->cap_transitions ? run->cap_transitions * 2 : 16;
                t = reallocarray(res->transitions, c, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                res->transitions = t;
                run->cap_transitions = c;
        }
        t = &res->transitions[res->n_transitions];
        *t = (ProvTransition) {
                .scim_id = strdup(scim_id),
                .name = strdup(name),
                .uid = uid,
                .old_state = old_state,
                .new_state = new_state,
                .event = event,
        };
        if (!t->scim_id || !t->name) {
                free(t->scim_id);
                free(t->name);
                return -ENOMEM;
        }
        res->n_transitions++;
        return 0;
}

/* A record the directory sent that we will not serve: recorded in the audit log with the
 * reason, logged, and counted. It never stops the sync. */
static int reject(SyncRun *run, const char *kind, const char *scim_id, const char *name, const char *reason) {
        char detail[512];

        snprintf(detail, sizeof(detail), "%s: %s", kind, reason);
        log_warning("Skipping %s id='%s' name='%s': %s", kind, SAFE(scim_id), SAFE(name), reason);
        run->result->rejected++;
        return prov_store_audit_add(run->store, "reject", name, scim_id, -1, "map", "skipped", detail);
}

static char *owner_of(const char *kind, const char *scim_id) {
        char *s;
        if (asprintf(&s, "%s:%s", kind, scim_id) < 0)
                return NULL;
        return s;
}

/* (Re)builds a sorted index by SCIM id over users[] or groups[], for lookups that would
 * otherwise be quadratic at 100k users. */
static int build_index(IdIndex **index, size_t n, const char *(*id_at)(const SyncRun *, size_t), const SyncRun *run) {
        IdIndex *x = reallocarray(*index, n ? n : 1, sizeof(IdIndex));

        if (!x)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                x[i] = (IdIndex) { .id = id_at(run, i), .pos = i };
        qsort(x, n, sizeof(IdIndex), cmp_idindex);
        *index = x;
        return 0;
}

static const char *user_id_at(const SyncRun *run, size_t i) {
        return run->users[i].src->id;
}

static const char *group_id_at(const SyncRun *run, size_t i) {
        return run->groups[i].src->id;
}

static MappedUser *find_user(const SyncRun *run, const char *scim_id) {
        IdIndex key = { .id = scim_id }, *hit;

        hit = bsearch(&key, run->user_index, run->n_users, sizeof(IdIndex), cmp_idindex);
        return hit ? &run->users[hit->pos] : NULL;
}

static MappedGroup *find_group(const SyncRun *run, const char *scim_id) {
        IdIndex key = { .id = scim_id }, *hit;

        hit = bsearch(&key, run->group_index, run->n_groups, sizeof(IdIndex), cmp_idindex);
        return hit ? &run->groups[hit->pos] : NULL;
}

static int load_stored(SyncRun *run) {
        int r;

        r = prov_store_users_load(run->store, &run->stored_users, &run->n_stored_users);
        if (r < 0)
                return r;
        r = prov_store_groups_load(run->store, &run->stored_groups, &run->n_stored_groups);
        if (r < 0)
                return r;
        run->stored_user_by_id = calloc(run->n_stored_users + 1, sizeof(IdIndex));
        run->stored_user_by_name = calloc(run->n_stored_users + 1, sizeof(IdIndex));
        run->stored_group_by_id = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        run->stored_group_by_name = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        if (!run->stored_user_by_id || !run->stored_user_by_name || !run->stored_group_by_id ||
            !run->stored_group_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_stored_users; i++) {
                run->stored_user_by_id[i] = (IdIndex) { run->stored_users[i].scim_id, i };
                run->stored_user_by_name[i] = (IdIndex) { run->stored_users[i].name, i };
        }
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                run->stored_group_by_id[i] = (IdIndex) { run->stored_groups[i].scim_id, i };
                run->stored_group_by_name[i] = (IdIndex) { run->stored_groups[i].name, i };
        }
        qsort(run->stored_user_by_id, run->n_stored_users, sizeof(IdIndex), cmp_idindex);
        qsort(run->stored_user_by_name, run->n_stored_users, sizeof(IdIndex), cmp_idindex);
        qsort(run->stored_group_by_id, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        qsort(run->stored_group_by_name, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        return 0;
}

static const IdIndex *index_find(const IdIndex *index, size_t n, const char *key) {
        IdIndex k = { .id = key };
        return bsearch(&k, index, n, sizeof(IdIndex), cmp_idindex);
}

/* The stored account of that SCIM id or login name, or NULL. */
static const ProvUserRecord *stored_user(const SyncRun *run, const char *scim_id, const char *name) {
        const IdIndex *x = scim_id ? index_find(run->stored_user_by_id, run->n_stored_users, scim_id)
                                   : index_find(run->stored_user_by_name, run->n_stored_users, name);
        return x ? &run->stored_users[x->pos] : NULL;
}

static const ProvGroupRecord *stored_group(const SyncRun *run, const char *scim_id, const char *name) {
        const IdIndex *x = scim_id ? index_find(run->stored_group_by_id, run->n_stored_groups, scim_id)
                                   : index_find(run->stored_group_by_name, run->n_stored_groups, name);
        return x ? &run->stored_groups[x->pos] : NULL;
}

/* True if the account is in this host's scope: no allow_groups means everyone; otherwise
 * the user must be a member of one of the listed groups (by the group's directory name). */
static bool group_allows(const ProvConfig *c, const ProvScimGroup *g) {
        for (char **a = c->allow_groups; a && *a; a++)
                if (strcasecmp(*a, g->display_name) == 0)
                        return true;
        return false;
}

/* Scope of a full scan: members of the allowed groups. A delta carries only the groups that
 * changed, so there an account we already serve stays in scope (a full reconcile decides when
 * it leaves), and a new one needs a changed allowed group that lists it — which adding
 * someone to a group always produces. */
static void compute_scope(SyncRun *run, const ProvScimBatch *batch) {
        bool everyone = !run->config->allow_groups || !run->config->allow_groups[0];

        for (size_t i = 0; i < run->n_users; i++) {
                const MappedUser *u = &run->users[i];
                run->users[i].in_scope = everyone ||
                                         (run->opts->delta && u->old.scim_id && u->old.state != PROV_STATE_DEPROVISIONED);
        }
        if (everyone)
                return;
        for (size_t g = 0; g < batch->n_groups; g++) {
                const ProvScimGroup *grp = &batch->groups[g];
                if (!group_allows(run->config, grp))
                        continue;
                for (size_t m = 0; m < grp->n_members; m++) {
                        MappedUser *u = find_user(run, grp->member_ids[m]);
                        if (u)
                                u->in_scope = true;
                }
        }
}

/* The role mapping of an IdP group onto a local group ("idpgroup=localgroup"), or NULL. */
static const char *mapped_local_name(const ProvConfig *c, const char *display_name) {
        for (char **m = c->map_groups; m && *m; m++) {
                const char *eq = strchr(*m, '=');
                if (!eq)
                        continue;
                if (strlen(display_name) == (size_t) (eq - *m) && strncasecmp(*m, display_name, eq - *m) == 0)
                        return eq + 1;
        }
        return NULL;
}

/* Fills the POSIX fields of one user and validates each of them. Returns 1 if accepted, 0
 * if rejected (already recorded), <0 on failure. */
static int map_user_fields(SyncRun *run, MappedUser *u) {
        const ProvConfig *c = run->config;
        const ProvScimUser *s = u->src;
        int r;

        r = prov_login_name_from(s->user_name, c->strip_domain, &u->name);
        if (r < 0)
                return reject(run, "user", s->id, s->user_name, "userName is not a valid login name") ?: 0;
        if (prov_local_has_user_name(run->local, u->name) || prov_local_has_group_name(run->local, u->name))
                return reject(run, "user", s->id, u->name, "name exists in the local passwd or group file") ?: 0;

        u->gecos = strdup(s->display_name ? s->display_name : "");
        if (!u->gecos)
                return -ENOMEM;
        if (!prov_valid_gecos(u->gecos))
                return reject(run, "user", s->id, u->name, "display name is not valid for the GECOS field") ?: 0;

        if (s->home) {
                size_t n = strlen(c->home_base);
                if (!prov_valid_home(s->home) || strncmp(s->home, c->home_base, n) != 0 ||
                    (s->home[n] != '/' && !(n > 0 && c->home_base[n - 1] == '/')) || !s->home[n] || !s->home[n + 1])
                        return reject(run, "user", s->id, u->name, "home directory is not valid or not under home_base") ?: 0;
                u->home = strdup(s->home);
        } else {
                const char *sep = c->home_base[strlen(c->home_base) - 1] == '/' ? "" : "/";
                if (asprintf(&u->home, "%s%s%s", c->home_base, sep, u->name) < 0)
                        u->home = NULL;
        }
        if (!u->home)
                return -ENOMEM;
        if (!prov_valid_home(u->home))
                return reject(run, "user", s->id, u->name, "home directory is not valid") ?: 0;

        if (s->shell && !prov_valid_shell(s->shell, c->allowed_shells))
                return reject(run, "user", s->id, u->name, "login shell is not in allowed_shells") ?: 0;
        u->shell = strdup(s->shell ? s->shell : c->default_shell);
        if (!u->shell)
                return -ENOMEM;
        return 1;
}

/* Gives the user a uid: the configured attribute's value if there is one, else the ledger's
 * deterministic allocation. Either way the id is recorded for ever, as a uid and as the gid
 * of the user's private group. */
static int map_user_id(SyncRun *run, MappedUser *u) {
        const ProvConfig *c = run->config;
        const ProvScimUser *s = u->src;
        _cleanup_free_ char *owner = NULL;
        uint32_t uid;
        int r;

        /* The usual case after the first sync: the account keeps the uid it has, recorded in
         * the ledger (with its private group's gid) when it was given. */
        bool from_attribute = c->uid_attribute && s->has_uid;
        if (u->old.scim_id && (!from_attribute || s->uid == (int64_t) u->old.uid)) {
                if (prov_local_id_taken(u->old.uid, (void *) run->local))
                        return reject(run, "user", s->id, u->name, "its uid now exists locally") ?: 0;
                u->uid = u->old.uid;
                return 1;
        }

        owner = owner_of("user", s->id);
        if (!owner)
                return -ENOMEM;

        if (from_attribute) {
                if (s->uid < (int64_t) c->uid_min || s->uid > (int64_t) c->uid_max)
                        return reject(run, "user", s->id, u->name, "uid attribute is outside uid_min..uid_max") ?: 0;
                uid = (uint32_t) s->uid;
                if (prov_local_id_taken(uid, (void *) run->local))
                        return reject(run, "user", s->id, u->name, "uid exists in the local passwd or group file") ?: 0;
                r = prov_store_ledger_assign(run->store, PROV_ID_UID, uid, owner, u->name);
                if (r == -EEXIST)
                        return reject(run, "user", s->id, u->name, "uid was given to another identity before") ?: 0;
                if (r < 0)
                        return r;
        } else {
                r = prov_store_ledger_allocate(run->store, PROV_ID_UID, owner, u->name, c->uid_min, c->uid_max,
                                               true, prov_local_id_taken, (void *) run->local, &uid);
                if (r == -ENOSPC)
                        return reject(run, "user", s->id, u->name, "no free uid left in uid_min..uid_max") ?: 0;
                if (r < 0)
                        return r;
                if (prov_local_id_taken(uid, (void *) run->local))
                        return reject(run, "user", s->id, u->name, "its recorded uid now exists locally") ?: 0;
        }

        r = prov_store_ledger_assign(run->store, PROV_ID_GID, uid, owner, u->name);
        if (r == -EEXIST)
                return reject(run, "user", s->id, u->name, "the private group's gid belongs to a group") ?: 0;
        if (r < 0)
                return r;
        u->uid = uid;
        return 1;
}

/* Orders claimants of login or group names: equal names together, unmapped ones last, and
 * among equals whoever holds the name in the store already first, then the smaller SCIM id —
 * so that a collision is resolved the same way on every host and every sync. */
static int cmp_claim(const char *name_x, const char *old_x, const char *id_x, const char *name_y, const char *old_y,
                     const char *id_y) {
        int c;

        if (!name_x || !name_y)
                return !name_x - !name_y;
        c = strcmp(name_x, name_y);
        if (c != 0)
                return c;
        bool hx = streq_ptr(old_x, name_x), hy = streq_ptr(old_y, name_y);
        if (hx != hy)
                return hy - hx;
        return strcmp(id_x, id_y);
}

static int cmp_mapped_user(const void *a, const void *b) {
        const MappedUser *x = a, *y = b;
        return cmp_claim(x->name, x->old.name, x->src->id, y->name, y->old.name, y->src->id);
}

static int map_users(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        run->users = calloc(batch->n_users ? batch->n_users : 1, sizeof(MappedUser));
        if (!run->users)
                return -ENOMEM;
        run->n_users = batch->n_users;
        for (size_t i = 0; i < batch->n_users; i++) {
                MappedUser *u = &run->users[i];
                u->src = &batch->users[i];
                const ProvUserRecord *old = stored_user(run, u->src->id, NULL);
                if (old)
                        u->old = *old;
        }
        r = build_index(&run->user_index, run->n_users, user_id_at, run);
        if (r < 0)
                return r;
        compute_scope(run, batch);

        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                if (!u->in_scope)
                        continue;
                r = map_user_fields(run, u);
                if (r < 0)
                        return r;
                if (r == 0) {
                        free(u->name);
                        u->name = NULL;
                }
        }

        /* Names: sort so that equal names sit together, the rightful holder first. */
        qsort(run->users, run->n_users, sizeof(MappedUser), cmp_mapped_user);
        r = build_index(&run->user_index, run->n_users, user_id_at, run);
        if (r < 0)
                return r;
        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                const ProvUserRecord *holder;

                if (!u->name)
                        continue;
                if (i > 0 && run->users[i - 1].name && streq(run->users[i - 1].name, u->name)) {
                        r = reject(run, "user", u->src->id, u->name, "login name collides with another directory user");
                        if (r < 0)
                                return r;
                        continue;
                }
                /* A stored group keeps its name until a later sync renames or removes it: a
                 * user private group of the same name could not be served beside it. */
                if (stored_group(run, NULL, u->name)) {
                        r = reject(run, "user", u->src->id, u->name, "login name is the name of a group");
                        if (r < 0)
                                return r;
                        continue;
                }
                holder = stored_user(run, NULL, u->name);
                if (holder && !streq(holder->scim_id, u->src->id)) {
                        /* The name may be freed in this very sync if its holder is renamed, but we
                         * take the safe way: it stays with its holder until then. */
                        r = reject(run, "user", u->src->id, u->name, "login name belongs to another account");
                        if (r < 0)
                                return r;
                        continue;
                }

                r = map_user_id(run, u);
                if (r < 0)
                        return r;
                u->accepted = r > 0;
        }
        return 0;
}

/* True if an accepted directory user has that login name (users[] is sorted by name). */
static bool user_name_taken(const SyncRun *run, const char *name) {
        size_t lo = 0, hi = run->n_users;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *n = run->users[mid].name;
                if (n && strcmp(n, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < run->n_users && run->users[lo].name && streq(run->users[lo].name, name); lo++)
                if (run->users[lo].accepted)
                        return true;
        return false;
}

static int cmp_mapped_group(const void *a, const void *b) {
        const MappedGroup *x = a, *y = b;
        return cmp_claim(x->name, x->old.name, x->src->id, y->name, y->old.name, y->src->id);
}

/* First pass over one group: its name, or the local group it is mapped onto. Returns 1 if
 * it may go on, 0 if rejected. */
static int map_group_name(SyncRun *run, MappedGroup *g) {
        const ProvScimGroup *s = g->src;
        const char *local_name = mapped_local_name(run->config, s->display_name);
        int r;

        if (local_name) {
                /* Role mapping: served under the local group's own name and gid, so that glibc's
                 * [SUCCESS=merge] adds our members to it. */
                const ProvLocalGroup *lg = prov_local_group(run->local, local_name);
                if (!lg || lg->gid == 0)
                        return reject(run, "group", s->id, s->display_name,
                                      "map_groups names a local group that does not exist (or is gid 0)") ?: 0;
                g->name = strdup(lg->name);
                g->local_name = strdup(lg->name);
                if (!g->name || !g->local_name)
                        return -ENOMEM;
                g->gid = lg->gid;
                return 1;
        }

        r = prov_login_name_from(s->display_name, false, &g->name);
        if (r < 0)
                return reject(run, "group", s->id, s->display_name, "displayName is not a valid group name") ?: 0;
        if (prov_local_has_group_name(run->local, g->name) || prov_local_has_user_name(run->local, g->name))
                return reject(run, "group", s->id, g->name, "name exists in the local passwd or group file") ?: 0;
        return 1;
}

/* Second pass: a gid from the configured attribute or from the ledger. */
static int map_group_id(SyncRun *run, MappedGroup *g) {
        const ProvConfig *c = run->config;
        const ProvScimGroup *s = g->src;
        _cleanup_free_ char *owner = owner_of("group", s->id);
        int r;

        if (!owner)
                return -ENOMEM;
        if (g->local_name)
                return 1;
        if (c->gid_attribute && s->has_gid) {
                if (s->gid < (int64_t) c->uid_min || s->gid > (int64_t) c->uid_max)
                        return reject(run, "group", s->id, g->name, "gid attribute is outside uid_min..uid_max") ?: 0;
                g->gid = (uint32_t) s->gid;
                if (prov_local_id_taken(g->gid, (void *) run->local))
                        r = -EEXIST;
                else
                        r = prov_store_ledger_assign(run->store, PROV_ID_GID, g->gid, owner, g->name);
        } else
                r = prov_store_ledger_allocate(run->store, PROV_ID_GID, owner, g->name, c->uid_min, c->uid_max, false,
                                               prov_local_id_taken, (void *) run->local, &g->gid);
        if (r == -EEXIST)
                return reject(run, "group", s->id, g->name, "gid is taken locally or by another identity") ?: 0;
        if (r == -ENOSPC)
                return reject(run, "group", s->id, g->name, "no free gid left in uid_min..uid_max") ?: 0;
        if (r < 0)
                return r;
        if (prov_local_id_taken(g->gid, (void *) run->local))
                return reject(run, "group", s->id, g->name, "its recorded gid now exists locally") ?: 0;
        return 1;
}

static int map_groups(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        run->groups = calloc(batch->n_groups ? batch->n_groups : 1, sizeof(MappedGroup));
        if (!run->groups)
                return -ENOMEM;
        run->n_groups = batch->n_groups;

        for (size_t i = 0; i < batch->n_groups; i++) {
                MappedGroup *g = &run->groups[i];
                g->src = &batch->groups[i];
                const ProvGroupRecord *old = stored_group(run, g->src->id, NULL);
                if (old)
                        g->old = *old;
                r = map_group_name(run, g);
                if (r < 0)
                        return r;
                if (r == 0) {
                        free(g->name);
                        g->name = NULL;
                }
        }

        qsort(run->groups, run->n_groups, sizeof(MappedGroup), cmp_mapped_group);
        for (size_t i = 0; i < run->n_groups; i++) {
                MappedGroup *g = &run->groups[i];

                if (!g->name)
                        continue;
                /* A stored account may be leaving the name in this very sync; we stay on the safe side. */
                if ((i > 0 && run->groups[i - 1].name && streq(run->groups[i - 1].name, g->name)) ||
                    (!g->local_name && (user_name_taken(run, g->name) || stored_user(run, NULL, g->name)))) {
                        r = reject(run, "group", g->src->id, g->name, "name collides with a directory user or group");
                        if (r < 0)
                                return r;
                        continue;
                }
                r = map_group_id(run, g);
                if (r < 0)
                        return r;
                g->accepted = r > 0;
        }
        return build_index(&run->group_index, run->n_groups, group_id_at, run);
}

static ProvState wanted_state(const MappedUser *u) {
        if (u->old.scim_id && u->old.blocked)
                return PROV_STATE_BLOCKED;
        return u->src->active ? PROV_STATE_ACTIVE : PROV_STATE_SUSPENDED;
}

static const char *transition_event(ProvState old, ProvState new) {
        if (new == old)
                return NULL;
        switch (new) {
        case PROV_STATE_ACTIVE:
                return "reactivate";
        case PROV_STATE_SUSPENDED:
                return "suspend";
        case PROV_STATE_DEPROVISIONED:
                return "deprovision";
        case PROV_STATE_BLOCKED:
                return "block";
        default:
                return "update";
        }
}

static int apply_users(SyncRun *run) {
        ProvSyncResult *res = run->result;
        int r;

        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                ProvState want;
                const char *event;

                if (!u->accepted) {
                        /* Present at the source but not servable (invalid, colliding): keep what
                         * we have, but an explicit deactivation still applies at once. */
                        if (u->old.scim_id && !u->src->active && u->old.state == PROV_STATE_ACTIVE && u->in_scope) {
                                ProvUserRecord rec = u->old;
                                rec.source_active = false;
                                rec.state = PROV_STATE_SUSPENDED;
                                rec.updated_usec = rec.state_changed_usec = run->now;
                                r = prov_store_user_put(run->store, &rec);
                                if (r < 0)
                                        return r;
                                res->suspended++;
                                r = prov_store_audit_add(run->store, "suspend", rec.name, rec.scim_id, rec.uid, "store",
                                                         "ok", "active=false at the source");
                                if (r < 0)
                                        return r;
                                r = add_transition(run, rec.scim_id, rec.name, rec.uid, PROV_STATE_ACTIVE,
                                                   PROV_STATE_SUSPENDED, "suspend");
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }

                want = wanted_state(u);
                ProvUserRecord rec = {
                        .scim_id = (char *) u->src->id,
                        .name = u->name,
                        .uid = u->uid,
                        .gid = u->uid,
                        .gecos = u->gecos,
                        .home = u->home,
                        .shell = u->shell,
                        .source_active = u->src->active,
                        .state = want,
                        .blocked = u->old.scim_id ? u->old.blocked : false,
                        .created_usec = u->old.scim_id ? u->old.created_usec : run->now,
                        .updated_usec = run->now,
                        .state_changed_usec = u->old.scim_id && u->old.state == want ? u->old.state_changed_usec : run->now,
                        .last_seen_usec = run->now,
                };

                if (!u->old.scim_id) {
                        r = prov_store_user_put(run->store, &rec);
                        if (r < 0)
                                return r;
                        res->joiners++;
                        r = prov_store_audit_add(run->store, "joiner", rec.name, rec.scim_id, rec.uid, "store", "ok",
                                                 want == PROV_STATE_ACTIVE ? "active" : "created suspended");
                        if (r >= 0)
                                r = add_transition(run, rec.scim_id, rec.name, rec.uid, _PROV_STATE_INVALID, want,
                                                   "joiner");
                        if (r < 0)
                                return r;
                        log_user(LOG_INFO, rec.name, rec.uid, "joiner", "Joiner %s (uid %" PRIu32 ")", rec.name, rec.uid);
                        continue;
                }

                bool renamed = !streq(u->old.name, rec.name);
                bool changed = renamed || u->old.uid != rec.uid || !streq(u->old.gecos, rec.gecos) ||
                               !streq(u->old.home, rec.home) || !streq(u->old.shell, rec.shell) ||
                               u->old.state != rec.state || u->old.source_active != rec.source_active;
                if (!changed)
                        continue; /* nothing to write: a full sync of an unchanged directory writes no user */
                r = prov_store_user_put(run->store, &rec);
                if (r < 0)
                        return r;
                if (renamed) {
                        res->renamed++;
                        r = prov_store_name_history_add(run->store, rec.scim_id, u->old.name, rec.name);
                        if (r >= 0)
                                r = prov_store_audit_add(run->store, "rename", rec.name, rec.scim_id, rec.uid, "store",
                                                         "ok", u->old.name);
                        if (r >= 0)
                                r = add_transition(run, rec.scim_id, rec.name, rec.uid, u->old.state, rec.state,
                                                   "rename");
                        if (r < 0)
                                return r;
                }
                event = transition_event(u->old.state, rec.state);
                if (event) {
                        if (rec.state == PROV_STATE_ACTIVE)
                                res->reactivated++;
                        else if (rec.state == PROV_STATE_SUSPENDED)
                                res->suspended++;
                        r = prov_store_audit_add(run->store, event, rec.name, rec.scim_id, rec.uid, "store", "ok",
                                                 prov_state_to_string(u->old.state));
                        if (r >= 0)
                                r = add_transition(run, rec.scim_id, rec.name, rec.uid, u->old.state, rec.state, event);
                        if (r < 0)
                                return r;
                        log_user(LOG_NOTICE, rec.name, rec.uid, event, "User %s: %s -> %s", rec.name,
                                 prov_state_to_string(u->old.state), prov_state_to_string(rec.state));
                } else if (!renamed) {
                        res->updated++;
                        r = prov_store_audit_add(run->store, "update", rec.name, rec.scim_id, rec.uid, "store", "ok",
                                                 NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Users of the store that this scan did not return (or returned out of scope) are leavers.
 * Counted first, so the guard can hold them back as a whole. */
static int collect_leavers(SyncRun *run, ProvUserRecord *all, size_t n_all, size_t **ret_idx, size_t *ret_n, size_t *ret_live) {
        _cleanup_free_ size_t *idx = calloc(n_all ? n_all : 1, sizeof(size_t));
        size_t n = 0, live = 0;

        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < n_all; i++) {
                if (all[i].state == PROV_STATE_DEPROVISIONED)
                        continue;
                live++;
                const MappedUser *u = find_user(run, all[i].scim_id);
                if (u && u->in_scope)
                        continue;
                idx[n++] = i;
        }
        *ret_idx = TAKE_PTR(idx);
        *ret_n = n;
        *ret_live = live;
        return 0;
}

static bool guard_trips(const ProvConfig *c, size_t leavers, size_t live, size_t seen_users) {
        size_t limit;

        if (leavers == 0)
                return false;
        /* An empty answer while we know people is an outage, whatever the threshold says. */
        if (seen_users == 0)
                return true;
        if (c->max_deprovision_percent)
                limit = (live * c->max_deprovision) / 100;
        else
                limit = c->max_deprovision;
        return leavers > limit;
}

static int apply_leavers(SyncRun *run) {
        const ProvConfig *c = run->config;
        ProvSyncResult *res = run->result;
        ProvUserRecord *all = run->stored_users;
        size_t n_all = run->n_stored_users, n_leavers = 0, live = 0;
        _cleanup_free_ size_t *leavers = NULL;
        int r;

        if (run->opts->delta)
                return 0; /* a delta cannot tell who is gone: only full scans deprovision */

        /* The accounts the sync started from: the ones missing from the scan were not touched
         * by apply_users(). */
        r = collect_leavers(run, all, n_all, &leavers, &n_leavers, &live);
        if (r < 0)
                goto finish;

        if (guard_trips(c, n_leavers, live, res->users_seen)) {
                _cleanup_free_ char **ids = calloc(n_leavers, sizeof(char *));
                char threshold[32];
                int64_t hold_id;

                if (!ids) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < n_leavers; i++)
                        ids[i] = all[leavers[i]].scim_id;
                snprintf(threshold, sizeof(threshold), "%u%s", c->max_deprovision, c->max_deprovision_percent ? "%" : "");
                r = prov_store_hold_add(run->store, (int64_t) n_leavers, (int64_t) live, threshold, ids, n_leavers,
                                        &hold_id);
                if (r < 0)
                        goto finish;
                res->held = true;
                res->held_deprovisions = n_leavers;
                log_error("Holding %zu deprovisions of %zu accounts (max_deprovision=%s): approve with "
                          "'provisionctl approve' if the directory is right",
                          n_leavers, live, threshold);
                r = prov_store_audit_add(run->store, "hold", NULL, NULL, -1, "guard", "held", threshold);
                goto finish;
        }

        /* A scan within the limit supersedes an older pending hold: approving it later must not
         * deprovision people the directory has since shown again. */
        int64_t pending = 0, pdep = 0, ptotal = 0;
        r = prov_store_hold_pending(run->store, &pending, &pdep, &ptotal);
        if (r >= 0)
                r = prov_store_hold_set_status(run->store, pending, "superseded");
        if (r < 0 && r != -ENOENT)
                goto finish;

        for (size_t k = 0; k < n_leavers; k++) {
                ProvUserRecord *u = &all[leavers[k]];
                ProvState old = u->state;

                /* Gone from the scan (rather than out of scope): ask the source about this one
                 * account before acting on its absence. */
                if (run->opts->confirm_gone && !find_user(run, u->scim_id)) {
                        r = run->opts->confirm_gone(u->scim_id, run->opts->userdata);
                        if (r <= 0) {
                                log_warning("Not deprovisioning '%s': %s", SAFE(u->name),
                                            r == 0 ? "the source still has the account" : "the source could not confirm its removal");
                                r = prov_store_audit_add(run->store, "deprovision", u->name, u->scim_id, u->uid, "confirm",
                                                         r == 0 ? "skipped" : "failed",
                                                         r == 0 ? "missing from the scan but still at the source"
                                                                : "removal not confirmed, retried next full sync");
                                if (r < 0)
                                        goto finish;
                                continue;
                        }
                }

                u->state = PROV_STATE_DEPROVISIONED;
                u->updated_usec = u->state_changed_usec = run->now;
                r = prov_store_user_put(run->store, u);
                if (r < 0)
                        goto finish;
                res->deprovisioned++;
                r = prov_store_audit_add(run->store, "deprovision", u->name, u->scim_id, u->uid, "store", "ok",
                                         "gone from the source or out of scope");
                if (r >= 0)
                        r = add_transition(run, u->scim_id, u->name, u->uid, old, PROV_STATE_DEPROVISIONED,
                                           "deprovision");
                if (r < 0)
                        goto finish;
                log_user(LOG_NOTICE, u->name, u->uid, "deprovision", "User %s deprovisioned", u->name);
        }

        /* Retention: deprovisioned accounts disappear after retention_days; their ids stay in
         * the ledger for ever. */
        for (size_t i = 0; i < n_all; i++) {
                ProvUserRecord *u = &all[i];
                if (u->state != PROV_STATE_DEPROVISIONED)
                        continue;
                /* Back in this scan: apply_users() has reactivated it already. */
                const MappedUser *m = find_user(run, u->scim_id);
                if (m && m->accepted && m->in_scope)
                        continue;
                if (run->now - u->state_changed_usec < (int64_t) c->retention_days * USEC_PER_DAY)
                        continue;
                r = prov_store_user_delete(run->store, u->scim_id);
                if (r >= 0)
                        r = prov_store_audit_add(run->store, "purge", u->name, u->scim_id, u->uid, "store", "ok",
                                                 "retention elapsed");
                if (r < 0)
                        goto finish;
                res->purged++;
        }
        r = 0;
finish:
        return r;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The first membership of a group in a list sorted by group SCIM id. */
static size_t membership_lower_bound(const ProvMembership *m, size_t n, const char *group_scim_id) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m[mid].group_scim_id, group_scim_id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Applies the groups of the scan. While the guard holds the scan's deprovisions, its
 * removals are held too: a directory that suddenly lists nobody must not strip everyone of
 * their groups (sudo included) while it keeps their accounts. Additions still apply. */
static int apply_groups(SyncRun *run, const ProvMembership *before, size_t n_before) {
        ProvSyncResult *res = run->result;
        ProvGroupRecord *all = NULL;
        size_t n_all = 0;
        int r = 0;

        for (size_t i = 0; i < run->n_groups; i++) {
                MappedGroup *g = &run->groups[i];
                _cleanup_free_ char **members = NULL;
                size_t n = 0;

                if (!g->accepted)
                        continue;
                ProvGroupRecord rec = {
                        .scim_id = (char *) g->src->id,
                        .name = g->name,
                        .gid = g->gid,
                        .local_name = g->local_name,
                        .created_usec = g->old.scim_id ? g->old.created_usec : run->now,
                        .updated_usec = run->now,
                        .last_seen_usec = run->now,
                };
                bool changed = !g->old.scim_id || !streq(g->old.name, g->name) || g->old.gid != g->gid ||
                               !streq_ptr(g->old.local_name, g->local_name);
                r = changed ? prov_store_group_put(run->store, &rec) : 0;
                if (r == -EEXIST) {
                        r = reject(run, "group", g->src->id, g->name, "name or gid held by another stored group");
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;
                if (g->old.scim_id && (!streq(g->old.name, g->name) || g->old.gid != g->gid ||
                                       !streq_ptr(g->old.local_name, g->local_name))) {
                        res->groups_updated++;
                        r = prov_store_audit_add(run->store, "group-update", g->name, g->src->id, g->gid, "store",
                                                 "ok", g->old.name);
                        if (r < 0)
                                return r;
                }
                if (!g->old.scim_id) {
                        res->groups_added++;
                        r = prov_store_audit_add(run->store, "group-add", g->name, g->src->id, g->gid, "store", "ok",
                                                 NULL);
                        if (r < 0)
                                return r;
                }

                size_t first = membership_lower_bound(before, n_before, g->src->id), kept = 0;
                if (res->held)
                        for (size_t m = first; m < n_before && streq(before[m].group_scim_id, g->src->id); m++)
                                kept++;
                members = calloc(g->src->n_members + kept + 1, sizeof(char *));
                if (!members)
                        return -ENOMEM;
                for (size_t m = 0; m < kept; m++)
                        members[n++] = before[first + m].user_scim_id; /* duplicates are ignored by the store */
                for (size_t m = 0; m < g->src->n_members; m++) {
                        const MappedUser *u = find_user(run, g->src->member_ids[m]);
                        /* A delta lists every member of a changed group but only the users that
                         * changed: the others keep their accounts (the store ignores unknown ids).
                         * The same holds for a scan whose deprovisions the guard held: a member
                         * missing from it keeps the account, and so the membership. */
                        if (u ? u->accepted && u->in_scope : run->opts->delta || res->held)
                                members[n++] = g->src->member_ids[m];
                }
                /* Most groups keep their members from one sync to the next: write only the ones
                 * that changed (the 50k members of a big group are not rewritten every sync). */
                qsort(members, n, sizeof(char *), cmp_strp);
                size_t w = 0;
                for (size_t m = 0; m < n; m++)
                        if (w == 0 || !streq(members[w - 1], members[m]))
                                members[w++] = members[m];
                n = w;
                size_t old_n = 0;
                while (first + old_n < n_before && streq(before[first + old_n].group_scim_id, g->src->id))
                        old_n++;
                bool same = g->old.scim_id && old_n == n;
                for (size_t m = 0; same && m < n; m++)
                        same = streq(before[first + m].user_scim_id, members[m]);
                if (same)
                        continue;
                r = prov_store_group_set_members(run->store, g->src->id, members, n);
                if (r < 0)
                        return r;
        }

        if (run->opts->delta || res->held)
                return 0; /* only a full scan within the guard's limits removes groups */

        /* Groups gone from the source lose their members at once (demotion); the gid stays
         * in the ledger. A group the source still has but that we could not map this time
         * stays as it was. */
        all = run->stored_groups;
        n_all = run->n_stored_groups;
        for (size_t i = 0; i < n_all; i++) {
                if (find_group(run, all[i].scim_id))
                        continue;
                r = prov_store_group_delete(run->store, all[i].scim_id);
                if (r >= 0)
                        r = prov_store_audit_add(run->store, "group-remove", all[i].name, all[i].scim_id, all[i].gid,
                                                 "store", "ok", NULL);
                if (r < 0)
                        break;
                res->groups_removed++;
        }
        return r < 0 ? r : 0;
}

typedef struct MemberPair {
        const char *user;
        const char *group;
} MemberPair;

static int cmp_pair(const void *a, const void *b) {
        const MemberPair *x = a, *y = b;
        int c = strcmp(x->user, y->user);
        return c ? c : strcmp(x->group, y->group);
}

/* Movers: users whose set of groups changed. Compared on the store's memberships before and
 * after the sync, so that it sees exactly what NSS will serve. */
static int record_movers(SyncRun *run, ProvMembership *before, size_t n_before) {
        ProvMembership *after = NULL;
        size_t n_after = 0, i = 0, j = 0;
        _cleanup_free_ MemberPair *a = NULL, *b = NULL;
        int r;

        r = prov_store_memberships_load(run->store, &after, &n_after);
        if (r < 0)
                return r;
        a = calloc(n_before + 1, sizeof(MemberPair));
        b = calloc(n_after + 1, sizeof(MemberPair));
        if (!a || !b) {
                prov_memberships_free(after, n_after);
                return -ENOMEM;
        }
        for (size_t k = 0; k < n_before; k++)
                a[k] = (MemberPair) { before[k].user_scim_id, before[k].group_scim_id };
        for (size_t k = 0; k < n_after; k++)
                b[k] = (MemberPair) { after[k].user_scim_id, after[k].group_scim_id };
        qsort(a, n_before, sizeof(MemberPair), cmp_pair);
        qsort(b, n_after, sizeof(MemberPair), cmp_pair);

        /* Walk both sorted lists user by user. */
        r = 0;
        while ((i < n_before || j < n_after) && r >= 0) {
                const char *user = i < n_before && (j >= n_after || strcmp(a[i].user, b[j].user) <= 0) ? a[i].user
                                                                                                        : b[j].user;
                char detail[1024] = "";
                size_t len = 0;
                bool moved = false;

                while (i < n_before || j < n_after) {
                        bool ai = i < n_before && streq(a[i].user, user), bj = j < n_after && streq(b[j].user, user);
                        int c;
                        if (!ai && !bj)
                                break;
                        c = !ai ? 1 : !bj ? -1 : strcmp(a[i].group, b[j].group);
                        if (c == 0) {
                                i++, j++;
                                continue;
                        }
                        const char *gid = c < 0 ? a[i].group : b[j].group;
                        const MappedGroup *mg = find_group(run, gid);
                        moved = true;
                        if (len < sizeof(detail) - 80)
                                len += (size_t) snprintf(detail + len, sizeof(detail) - len, "%s%c%.64s",
                                                         len ? " " : "", c < 0 ? '-' : '+',
                                                         mg && mg->name ? mg->name : gid);
                        if (c < 0)
                                i++;
                        else
                                j++;
                }
                if (!moved)
                        continue;
                ProvUserRecord u = {};
                if (prov_store_user_get(run->store, user, &u) < 0)
                        continue;
                if (u.created_usec == run->now) {
                        /* A joiner's first groups are part of joining, not a move. */
                        prov_user_record_done(&u);
                        continue;
                }
                run->result->movers++;
                r = prov_store_audit_add(run->store, "mover", u.name, u.scim_id, u.uid, "store", "ok", detail);
                if (r >= 0)
                        r = add_transition(run, u.scim_id, u.name, u.uid, u.state, u.state, "mover");
                prov_user_record_done(&u);
        }
        prov_memberships_free(after, n_after);
        return r;
}

static void run_done(SyncRun *run) {
        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                free(u->name);
                free(u->gecos);
                free(u->home);
                free(u->shell);
        }
        for (size_t i = 0; i < run->n_groups; i++) {
                free(run->groups[i].name);
                free(run->groups[i].local_name);
        }
        free(run->users);
        free(run->groups);
        free(run->user_index);
        free(run->group_index);
        prov_user_records_free(run->stored_users, run->n_stored_users);
        prov_group_records_free(run->stored_groups, run->n_stored_groups);
        free(run->stored_user_by_id);
        free(run->stored_user_by_name);
        free(run->stored_group_by_id);
        free(run->stored_group_by_name);
}

static int apply_batch(SyncRun *run, const ProvScimBatch *batch) {
        ProvMembership *before = NULL;
        size_t n_before = 0;
        int64_t gen = 0;
        int r;

        for (size_t i = 0; i < batch->n_rejects; i++) {
                const ProvScimReject *rj = &batch->rejects[i];
                r = reject(run, rj->kind, rj->id, NULL, rj->reason);
                if (r < 0)
                        return r;
        }
        /* The common delta: nothing changed at the source. Nothing to compare either. */
        if (run->opts->delta && batch->n_users == 0 && batch->n_groups == 0) {
                r = prov_store_state_get_int(run->store, "generation", &gen);
                if (r < 0 && r != -ENOENT)
                        return r;
                run->result->generation = (uint64_t) gen;
                return 0;
        }
        r = prov_store_memberships_load(run->store, &before, &n_before);
        if (r < 0)
                return r;

        r = load_stored(run);
        if (r >= 0)
                r = map_users(run, batch);
        if (r >= 0)
                r = map_groups(run, batch);
        if (r >= 0)
                r = apply_users(run);
        if (r >= 0)
                r = apply_leavers(run);
        if (r >= 0)
                r = apply_groups(run, before, n_before);
        if (r >= 0)
                r = record_movers(run, before, n_before);
        prov_memberships_free(before, n_before);
        if (r < 0)
                return r;

        ProvSyncResult *res = run->result;
        res->changed = res->joiners || res->updated || res->renamed || res->movers || res->suspended ||
                       res->reactivated || res->deprovisioned || res->purged || res->groups_added ||
                       res->groups_removed || res->groups_updated;
        r = prov_store_state_get_int(run->store, "generation", &gen);
        if (r < 0 && r != -ENOENT)
                return r;
        if (!res->changed) {
                res->generation = (uint64_t) gen;
                return 0;
        }
        res->generation = (uint64_t) gen + 1;
        return prov_store_state_set_int(run->store, "generation", gen + 1);
}

int prov_sync_apply_full(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                         const ProvScimBatch *batch, ProvSyncResult *ret) {
        return prov_sync_apply(store, config, local, batch, &(ProvSyncOptions) {}, ret);
}

int prov_sync_apply(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local,
                    const ProvScimBatch *batch, const ProvSyncOptions *opts, ProvSyncResult *ret) {
        ProvSyncResult result = {};
        SyncRun run = {
                .store = store,
                .config = config,
                .local = local,
                .now = prov_now_usec(),
                .result = &result,
                .opts = opts,
        };
        int r;

        result.users_seen = batch->n_users;
        result.groups_seen = batch->n_groups;

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = apply_batch(&run, batch);
        run_done(&run);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(&result);
                return r;
        }
        r = prov_store_commit(store);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(&result);
                return r;
        }
        *ret = result;
        return 0;
}

int prov_sync_record_attempt(ProvStore *store, int error, const char *message) {
        _cleanup_free_ char *full = NULL;
        int64_t now = prov_now_usec();
        int r;

        /* A failure is recorded with its cause ("...: No space left on device"), which is what
         * an administrator reading provisionctl status needs first. */
        if (error && message) {
                if (asprintf(&full, "%s: %s", message, strerror(-error)) < 0)
                        full = NULL;
                else
                        message = full;
        }

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = prov_store_state_set_int(store, "last_attempt_usec", now);
        if (r >= 0 && error == 0)
                r = prov_store_state_set_int(store, "last_success_usec", now);
        if (r >= 0)
                r = prov_store_state_set(store, "last_error", error ? (message ?: strerror(-error)) : "");
        if (r >= 0)
                r = prov_store_state_set(store, "last_result", message ?: "");
        if (r < 0) {
                prov_store_rollback(store);
                return r;
        }
        return prov_store_commit(store);
}

int prov_sync_record_confirmed(ProvStore *store) {
        return prov_store_state_set_int(store, "last_confirmed_usec", prov_now_usec());
}

/* Runs fn in one transaction with a fresh result and a SyncRun for transitions. */
static int in_transaction(ProvStore *store, int (*fn)(SyncRun *run, const void *arg), const void *arg,
                          ProvSyncResult *ret) {
        ProvSyncResult result = {};
        SyncRun run = { .store = store, .now = prov_now_usec(), .result = &result };
        int64_t gen = 0;
        int r;

        r = prov_store_begin(store);
        if (r < 0)
                return r;
        r = fn(&run, arg);
        if (r >= 0) {
                r = prov_store_state_get_int(store, "generation", &gen);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0) {
                result.changed = true;
                result.generation = (uint64_t) gen + 1;
                r = prov_store_state_set_int(store, "generation", gen + 1);
        }
        if (r >= 0)
                r = prov_store_commit(store);
        if (r < 0) {
                prov_store_rollback(store);
                prov_sync_result_done(&result);
                return r;
        }
        *ret = result;
        return 0;
}

typedef struct BlockArg {
        const char *name;
        bool block;
} BlockArg;

static int do_set_blocked(SyncRun *run, const void *p) {
        const BlockArg *a = p;
        ProvUserRecord u = {};
        ProvState old;
        int r;

        r = prov_store_user_get_by_name(run->store, a->name, &u);
        if (r < 0)
                return r;
        old = u.state;
        if (u.blocked == a->block) {
                prov_user_record_done(&u);
                return 0;
        }
        u.blocked = a->block;
        if (a->block && u.state != PROV_STATE_DEPROVISIONED)
                u.state = PROV_STATE_BLOCKED;
        else if (!a->block && u.state == PROV_STATE_BLOCKED)
                u.state = u.source_active ? PROV_STATE_ACTIVE : PROV_STATE_SUSPENDED;
        u.updated_usec = run->now;
        if (u.state != old)
                u.state_changed_usec = run->now;
        r = prov_store_user_put(run->store, &u);
        if (r >= 0)
                r = prov_store_audit_add(run->store, a->block ? "block" : "unblock", u.name, u.scim_id, u.uid, "store",
                                         "ok", prov_state_to_string(u.state));
        if (r >= 0)
                r = add_transition(run, u.scim_id, u.name, u.uid, old, u.state, a->block ? "block" : "unblock");
        if (r >= 0)
                log_user(LOG_NOTICE, u.name, u.uid, a->block ? "block" : "unblock", "User %s %s (now %s)", u.name,
                         a->block ? "blocked" : "unblocked", prov_state_to_string(u.state));
        prov_user_record_done(&u);
        return r;
}

int prov_sync_set_blocked(ProvStore *store, const char *name, bool block, ProvSyncResult *ret) {
        return in_transaction(store, do_set_blocked, &(BlockArg) { name, block }, ret);
}

static int do_approve(SyncRun *run, const void *p) {
        int64_t id = *(const int64_t *) p, dep = 0, total = 0;
        char **ids = NULL;
        size_t n = 0;
        char detail[64];
        int r;

        /* Only the newest pending hold can be approved: older ones were superseded by a
         * later scan, whose view of the directory is the one that counts. */
        int64_t pending = 0;
        r = prov_store_hold_pending(run->store, &pending, &dep, &total);
        if (r < 0)
                return r;
        if (id != 0 && id != pending)
                return -ENOENT;
        id = pending;
        r = prov_store_hold_scim_ids(run->store, id, &ids, &n);
        if (r < 0)
                return r;
        snprintf(detail, sizeof(detail), "approved hold %" PRIi64, id);
        for (size_t i = 0; i < n && r >= 0; i++) {
                ProvUserRecord u = {};
                ProvState old;

                r = prov_store_user_get(run->store, ids[i], &u);
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                old = u.state;
                if (old != PROV_STATE_DEPROVISIONED) {
                        u.state = PROV_STATE_DEPROVISIONED;
                        u.updated_usec = u.state_changed_usec = run->now;
                        r = prov_store_user_put(run->store, &u);
                        if (r >= 0)
                                r = prov_store_audit_add(run->store, "deprovision", u.name, u.scim_id, u.uid, "store",
                                                         "ok", detail);
                        if (r >= 0)
                                r = add_transition(run, u.scim_id, u.name, u.uid, old, u.state, "deprovision");
                        run->result->deprovisioned++;
                }
                prov_user_record_done(&u);
        }
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        if (r >= 0)
                r = prov_store_hold_set_status(run->store, id, "approved");
        if (r >= 0)
                r = prov_store_audit_add(run->store, "approve", NULL, NULL, -1, "guard", "ok", detail);
        return r;
}

int prov_sync_approve_hold(ProvStore *store, int64_t hold_id, ProvSyncResult *ret) {
        return in_transaction(store, do_approve, &hold_id, ret);
}

/* --- export ------------------------------------------------------------------------------- */


static int cmp_u32p(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

typedef struct ExportUser {
        const ProvUserRecord *rec;
        bool served;
} ExportUser;

static int cmp_user_by_scim(const void *a, const void *b) {
        return strcmp(((const ExportUser *) a)->rec->scim_id, ((const ExportUser *) b)->rec->scim_id);
}


int prov_sync_export(ProvStore *store, const ProvConfig *config, const ProvLocalAccounts *local) {
        ProvUserRecord *users = NULL;
        ProvGroupRecord *groups = NULL;
        ProvMembership *members = NULL;
        size_t n_users = 0, n_groups = 0, n_members = 0, nu = 0, ng = 0;
        _cleanup_free_ ProvSnapUser *su = NULL;
        _cleanup_free_ ProvSnapGroup *sg = NULL;
        _cleanup_free_ ExportUser *by_scim = NULL;
        _cleanup_free_ const char **names = NULL, **served_names = NULL;
        _cleanup_free_ uint32_t *served_ids = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t gen = 0, last_success = 0;
        int r;

        path = prov_config_snapshot_path(config);
        if (!path)
                return -ENOMEM;

        r = prov_store_users_load(store, &users, &n_users);
        if (r >= 0)
                r = prov_store_groups_load(store, &groups, &n_groups);
        if (r >= 0)
                r = prov_store_memberships_load(store, &members, &n_members);
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
                goto finish;

        su = calloc(n_users + 1, sizeof(ProvSnapUser));
        sg = calloc(n_groups + n_users + 1, sizeof(ProvSnapGroup));
        by_scim = calloc(n_users + 1, sizeof(ExportUser));
        names = calloc(n_members + 1, sizeof(char *));
        if (!su || !sg || !by_scim || !names) {
                r = -ENOMEM;
                goto finish;
        }

        for (size_t i = 0; i < n_users; i++) {
                const ProvUserRecord *u = &users[i];
                by_scim[i].rec = u;
                /* Defence in depth: the host's own accounts always win, even if /etc/passwd
                 * gained a name or id after the account was mapped. */
                if (prov_local_has_user_name(local, u->name) || prov_local_has_group_name(local, u->name) ||
                    prov_local_id_taken(u->uid, (void *) local) || u->uid < config->uid_min || u->uid > config->uid_max) {
                        log_warning("Not serving '%s' (uid %" PRIu32 "): collides with a local account or is out of range",
                                    SAFE(u->name), u->uid);
                        continue;
                }
                by_scim[i].served = true;
                su[nu++] = (ProvSnapUser) {
                        .name = u->name,
                        .uid = u->uid,
                        .gid = u->gid,
                        .gecos = u->gecos,
                        .home = u->home,
                        .shell = u->state == PROV_STATE_ACTIVE ? u->shell : NOLOGIN_SHELL,
                        .state = u->state,
                        .lastchg_days = (uint32_t) (u->updated_usec / USEC_PER_DAY),
                };
                /* The user private group. */
                sg[ng++] = (ProvSnapGroup) { .name = u->name, .gid = u->gid };
        }
        qsort(by_scim, n_users, sizeof(ExportUser), cmp_user_by_scim);

        /* Served user names and uids (= private group names and gids): a directory group may
         * not shadow them. Mapping prevents it; this keeps a snapshot publishable whatever
         * the store holds. */
        served_names = calloc(nu + 1, sizeof(char *));
        served_ids = calloc(nu + 1, sizeof(uint32_t));
        if (!served_names || !served_ids) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < nu; i++) {
                served_names[i] = su[i].name;
                served_ids[i] = su[i].uid;
        }
        qsort(served_names, nu, sizeof(char *), cmp_strp);
        qsort(served_ids, nu, sizeof(uint32_t), cmp_u32p);

        /* Memberships are ordered by group SCIM id, then user; groups by gid. */
        size_t nn = 0;
        for (size_t i = 0; i < n_groups; i++) {
                const ProvGroupRecord *g = &groups[i];
                size_t first = nn, m = membership_lower_bound(members, n_members, g->scim_id);
                bool mapped = g->local_name != NULL;

                for (; m < n_members && streq(members[m].group_scim_id, g->scim_id); m++) {
                        ExportUser key = { .rec = &(ProvUserRecord) { .scim_id = members[m].user_scim_id } };
                        ExportUser *hit = bsearch(&key, by_scim, n_users, sizeof(ExportUser), cmp_user_by_scim);
                        /* Demotion: only active accounts are members of anything. */
                        if (hit && hit->served && hit->rec->state == PROV_STATE_ACTIVE)
                                names[nn++] = hit->rec->name;
                }
                if (!mapped && (prov_local_has_group_name(local, g->name) || prov_local_id_taken(g->gid, (void *) local))) {
                        log_warning("Not serving group '%s': collides with a local group", SAFE(g->name));
                        continue;
                }
                if (!mapped && (bsearch(&g->name, served_names, nu, sizeof(char *), cmp_strp) ||
                                bsearch(&g->gid, served_ids, nu, sizeof(uint32_t), cmp_u32p))) {
                        log_warning("Not serving group '%s': its name or gid is a user's private group", SAFE(g->name));
                        continue;
                }
                sg[ng++] = (ProvSnapGroup) {
                        .name = g->name,
                        .gid = g->gid,
                        .members = names + first,
                        .n_members = nn - first,
                        .flags = mapped ? PROV_SNAP_GROUP_MAPPED : 0,
                };
        }

        ProvSnapMeta meta = {
                .generation = (uint64_t) gen,
                .last_sync_usec = (uint64_t) last_success,
                .uid_min = config->uid_min,
                .uid_max = config->uid_max,
        };
        r = prov_snapshot_write(path, &meta, su, nu, sg, ng);
finish:
        prov_user_records_free(users, n_users);
        prov_group_records_free(groups, n_groups);
        prov_memberships_free(members, n_members);
        return r;
}
