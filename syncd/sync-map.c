/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Map: the directory's users and groups become POSIX accounts and groups. Group rules decide
 * scope and role mappings, names are checked against the host and each other, ids come from
 * the source or the ledger, homes are checked for uniqueness. What fails is rejected with a
 * reason (sync_reject()); what passes is marked accepted for sync-apply.c. */
#include <limits.h>
#include <stdio.h>
#include <strings.h>

#include "log.h"
#include "prov-validate.h"
#include "sync-internal.h"

/* 64-bit FNV-1a over the strings with their NULs: a change of any of them changes the hash
 * (a collision, 2^-64, would only delay an update of the GECOS/home/shell/keys to the next
 * change). No keys (NULL) hashes as "", as the store keeps "" as NULL. */
uint64_t sync_fields_hash(const char *gecos, const char *home, const char *shell, const char *ssh_keys) {
        const char *f[] = { gecos, home, shell, ssh_keys };
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                for (const unsigned char *p = (const unsigned char *) (f[i] ?: "");; p++) {
                        h ^= *p;
                        h *= UINT64_C(0x100000001b3);
                        if (!*p)
                                break;
                }
        return h;
}

static int old_from_record(SyncRun *run, const ProvUserRecord *rec, OldUser *ret) {
        const char *name = prov_arena_strdup(&run->pool, rec->name);

        if (!name)
                return -ENOMEM;
        *ret = (OldUser) {
                .name = name,
                .fields_hash = sync_fields_hash(rec->gecos, rec->home, rec->shell, rec->ssh_keys),
                .state_changed_usec = rec->state_changed_usec,
                .uid = rec->uid,
                .state = rec->state,
                .blocked = rec->blocked,
                .source_active = rec->source_active,
        };
        return 0;
}

typedef struct MergeState {
        SyncRun *run;
        size_t k; /* position in run->users */
} MergeState;

/* One stored account, in SCIM id order, against the scan's users in the same order. */
static int merge_stored_user(const ProvUserRecord *rec, void *userdata) {
        MergeState *m = userdata;
        SyncRun *run = m->run;
        int c = 1, r;

        while (m->k < run->n_users && (c = strcmp(run->users[m->k].src->id, rec->scim_id)) < 0)
                m->k++;
        if (rec->state != PROV_STATE_DEPROVISIONED)
                run->n_live++;
        if (m->k < run->n_users && c == 0) {
                run->users[m->k].ref = rec->ref;
                return old_from_record(run, rec, &run->users[m->k].old);
        }

        r = prov_grow((void **) &run->stored_only, &run->cap_stored_only, run->n_stored_only + 1, sizeof(StoredOnly));
        if (r < 0)
                return r;
        StoredOnly *s = &run->stored_only[run->n_stored_only];
        *s = (StoredOnly) {
                .scim_id = prov_arena_strdup(&run->pool, rec->scim_id),
                .name = prov_arena_strdup(&run->pool, rec->name),
                .state_changed_usec = rec->state_changed_usec,
                .uid = rec->uid,
                .state = rec->state,
        };
        if (!s->scim_id || !s->name)
                return -ENOMEM;
        run->n_stored_only++;
        return 0;
}

/* Fills users[].old from the store. A full scan walks the whole store once in SCIM id order
 * beside the scan's index, and so also finds the accounts the scan did not return; a delta
 * asks for its few accounts one by one. */
static int load_old_users(SyncRun *run) {
        int r;

        if (!run->opts->delta) {
                MergeState m = { .run = run };
                return prov_store_users_foreach(run->store, PROV_USER_ORDER_SCIM_ID, merge_stored_user, &m);
        }
        for (size_t i = 0; i < run->n_users; i++) {
                _cleanup_(prov_user_record_done) ProvUserRecord rec = {};

                r = prov_store_user_get(run->store, run->users[i].src->id, &rec);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                run->users[i].ref = rec.ref;
                r = old_from_record(run, &rec, &run->users[i].old);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Why a directory login or group name may not be served on this host, or NULL. The one rule of
 * mapping and export: local names win, system names (present or future) are never taken, and
 * the optional marks of directory names must be there. */
const char *sync_name_refused(const ProvConfig *c, const ProvLocalAccounts *local, const char *name) {
        if (prov_local_has_user_name(local, name) || prov_local_has_group_name(local, name))
                return "name exists in the local passwd or group file";
        if (prov_system_name(name))
                return "name is reserved for system accounts and groups";
        for (char **d = c->deny_names; d && *d; d++)
                if (strcasecmp(*d, name) == 0)
                        return "name is in deny_names";
        if (c->name_prefix && strncmp(name, c->name_prefix, strlen(c->name_prefix)) != 0)
                return "name does not start with name_prefix";
        if (c->require_dot && !strchr(name, '.'))
                return "name has no '.' (require_dot)";
        return NULL;
}

/* Why a directory uid or gid may not be served on this host, or NULL: the other half of the rule.
 * Ids outside uid_min..uid_max (which may have been narrowed since the id was handed out) and the
 * host's own ids (passwd, group, subordinate ranges) are never served. The snapshot writer checks
 * the range again as an invariant, and the NSS module is the last line of defence. */
const char *sync_id_refused(const ProvConfig *c, const ProvLocalAccounts *local, int64_t id) {
        if (id < (int64_t) c->uid_min || id > (int64_t) c->uid_max)
                return "its id is outside uid_min..uid_max";
        if (prov_local_id_taken((uint32_t) id, (void *) local))
                return "its id is a local id (passwd, group, or a subordinate range)";
        return NULL;
}

/* A rule of allow_groups or map_groups: it names exactly one directory group, by SCIM id, by
 * externalId, or by display name pinned to the id at the first full scan that finds exactly one
 * such group (provision-syncd.conf(5), GROUP RULES). */
typedef enum RuleKind {
        RULE_ID,
        RULE_EXTERNAL_ID,
        RULE_NAME,
} RuleKind;

struct GroupRule {
        char *key;                      /* "allow:ITEM" or "map:ITEM": what its pin is stored under */
        char *value;                    /* the id, externalId or name */
        const char *local;              /* map_groups: the local group name; NULL for scope */
        char *pinned;                   /* RULE_NAME: the SCIM id it is pinned to, or NULL */
        const ProvScimGroup *match;     /* this sync: the one group it names, if n_matches == 1 */
        size_t n_matches;
        RuleKind kind;
};

#define GROUP_PINS_KEY "group_pins"

void sync_rules_done(SyncRun *run) {
        for (size_t i = 0; i < run->n_rules; i++) {
                free(run->rules[i].key);
                free(run->rules[i].value);
                free(run->rules[i].pinned);
        }
        free(run->rules);
        run->rules = NULL;
        run->n_rules = 0;
}

static int rule_add(SyncRun *run, const char *list, const char *item, size_t item_len, const char *local) {
        GroupRule *g = &run->rules[run->n_rules];
        static const struct {
                const char *prefix;
                RuleKind kind;
        } prefixes[] = {
                { "id:", RULE_ID },
                { "externalId:", RULE_EXTERNAL_ID },
                { "name:", RULE_NAME },
        };
        size_t skip = 0;

        *g = (GroupRule) { .kind = RULE_NAME, .local = local };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t n = strlen(prefixes[i].prefix);
                if (item_len > n && strncasecmp(item, prefixes[i].prefix, n) == 0) {
                        g->kind = prefixes[i].kind;
                        skip = n;
                        break;
                }
        }
        g->value = strndup(item + skip, item_len - skip);
        if (!g->value || asprintf(&g->key, "%s:%.*s", list, (int) item_len, item) < 0) {
                g->key = NULL;
                free(g->value);
                return -ENOMEM;
        }
        run->n_rules++;
        return 0;
}

/* The rules of the configuration, with the pins the store holds for them. */
int sync_rules_load(SyncRun *run) {
        const ProvConfig *c = run->config;
        _cleanup_free_ char *pins = NULL;
        size_t n = 0;
        int r;

        for (char **a = c->allow_groups; a && *a; a++)
                n++;
        for (char **m = c->map_groups; m && *m; m++)
                n++;
        run->rules = calloc(n + 1, sizeof(GroupRule));
        if (!run->rules)
                return -ENOMEM;
        for (char **a = c->allow_groups; a && *a; a++) {
                r = rule_add(run, "allow", *a, strlen(*a), NULL);
                if (r < 0)
                        return r;
        }
        for (char **m = c->map_groups; m && *m; m++) {
                const char *eq = strrchr(*m, '='); /* the config parser made sure there is one */
                r = rule_add(run, "map", *m, eq ? (size_t) (eq - *m) : strlen(*m), eq ? eq + 1 : "");
                if (r < 0)
                        return r;
        }

        /* "KEY\tID\n" lines; pins of rules no longer configured are dropped when written. */
        r = prov_store_state_get(run->store, GROUP_PINS_KEY, &pins);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = pins, *next; line && *line; line = next) {
                char *tab, *nl = strchr(line, '\n');

                next = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = 0;
                tab = strchr(line, '\t');
                if (!tab)
                        continue;
                *tab = 0;
                for (size_t i = 0; i < run->n_rules; i++)
                        if (run->rules[i].kind == RULE_NAME && !run->rules[i].pinned && streq(run->rules[i].key, line)) {
                                run->rules[i].pinned = strdup(tab + 1);
                                if (!run->rules[i].pinned)
                                        return -ENOMEM;
                        }
        }
        return 0;
}

/* Writes the pins of the configured rules when they differ from the stored ones: a new pin, or
 * the pin of a rule that left the configuration dropped. */
static int rules_save(SyncRun *run) {
        _cleanup_free_ char *buf = NULL, *stored = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int r;

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_rules; i++)
                if (run->rules[i].pinned)
                        fprintf(f, "%s\t%s\n", run->rules[i].key, run->rules[i].pinned);
        if (fclose(f) != 0)
                return -ENOMEM;
        r = prov_store_state_get(run->store, GROUP_PINS_KEY, &stored);
        if (r < 0 && r != -ENOENT)
                return r;
        if (streq(stored ?: "", buf))
                return 0;
        return prov_store_state_set(run->store, GROUP_PINS_KEY, buf);
}

static bool rule_matches(const SyncRun *run, const GroupRule *rule, const ProvScimGroup *g) {
        switch (rule->kind) {
        case RULE_ID:
                return streq(g->id, rule->value);
        case RULE_EXTERNAL_ID:
                return g->external_id && streq(g->external_id, rule->value);
        case RULE_NAME:
                if (rule->pinned)
                        return streq(g->id, rule->pinned);
                /* Only a full scan sees every group that could claim the name. */
                return !run->opts->delta && g->display_name && strcasecmp(g->display_name, rule->value) == 0;
        }
        return false;
}

/* Finds the group each rule names in this batch. A rule that names two or more is reported and
 * names none; a name rule that names exactly one on a full scan is pinned to it. */
int sync_rules_resolve(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        for (size_t i = 0; i < run->n_rules; i++) {
                GroupRule *rule = &run->rules[i];
                const char *ids[3];

                for (size_t k = 0; k < batch->n_groups; k++) {
                        const ProvScimGroup *g = &batch->groups[k];
                        if (!rule_matches(run, rule, g))
                                continue;
                        if (rule->n_matches < ELEMENTSOF(ids))
                                ids[rule->n_matches] = g->id;
                        rule->n_matches++;
                        rule->match = g;
                }
                if (rule->n_matches > 1) {
                        char reason[512];
                        size_t shown = rule->n_matches < ELEMENTSOF(ids) ? rule->n_matches : ELEMENTSOF(ids);

                        rule->match = NULL;
                        qsort(ids, shown, sizeof(char *), sync_cmp_strp);
                        snprintf(reason, sizeof(reason), "names %zu directory groups (ids %.64s, %.64s%s%.64s): none is used",
                                 rule->n_matches, ids[0], ids[1], shown > 2 ? ", " : "", shown > 2 ? ids[2] : "");
                        r = sync_reject(run, "rule", rule->key, NULL, reason);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (rule->kind == RULE_NAME && !rule->pinned && rule->match) {
                        rule->pinned = strdup(rule->match->id);
                        if (!rule->pinned)
                                return -ENOMEM;
                        log_notice("Group rule '%s' pinned to the directory group id '%s'", SAFE(rule->key),
                                   SAFE(rule->pinned));
                        r = prov_store_audit_add(run->store, "pin", rule->match->display_name, rule->pinned, -1, "map",
                                                 "ok", rule->key);
                        if (r < 0)
                                return r;
                }
        }

        return rules_save(run);
}

/* How a rule set treats a group: 1 when a rule names it alone, 0 when no rule names it, -1 when
 * an ambiguous rule could mean it (then it keeps its stored state). For map rules, *ret_local
 * is set to the local group. */
static int rules_for_group(const SyncRun *run, bool map, const ProvScimGroup *g, const char **ret_local) {
        int result = 0;

        for (size_t i = 0; i < run->n_rules; i++) {
                const GroupRule *rule = &run->rules[i];
                if (!rule->local != !map)
                        continue;
                if (rule->n_matches > 1 && rule_matches(run, rule, g))
                        return -1;
                /* A delta cannot tell whether a name names one group: a group that an unpinned
                 * name rule may mean is left as the last full scan left it. */
                if (rule->kind == RULE_NAME && !rule->pinned && run->opts->delta && g->display_name &&
                    strcasecmp(g->display_name, rule->value) == 0)
                        return -1;
                if (result == 0 && rule->match == g) {
                        result = 1;
                        if (ret_local)
                                *ret_local = rule->local;
                }
        }
        return result;
}

/* True if a stored group is missing from this full scan while the source still has it (or
 * cannot say): a page that repeats or a totalResults that lies hides groups from a scan that
 * adds up, and an allow rule that names no group may mean one of them. */
static bool stored_group_missed(SyncRun *run, const ProvScimBatch *batch) {
        if (run->opts->delta || !run->opts->confirm_group_gone)
                return false;
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                const char *id = run->stored_groups[i].scim_id;
                size_t lo = 0, hi = batch->n_groups;

                /* group_order lists the batch's groups by id. */
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (strcmp(batch->groups[batch->group_order[mid]].id, id) < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                if (lo < batch->n_groups && streq(batch->groups[batch->group_order[lo]].id, id))
                        continue;
                if (run->opts->confirm_group_gone(id, run->opts->userdata) <= 0)
                        return true;
        }
        return false;
}

/* Scope of a full scan: members of the groups the allow rules name. A delta carries only the
 * groups that changed, so there an account we already serve stays in scope (a full reconcile
 * decides when it leaves), and a new one needs a changed allowed group that lists it — which
 * adding someone to a group always produces. When a rule is ambiguous or its group's members
 * cannot be read, the accounts we serve stay in scope as in a delta: nobody gains or loses
 * scope through a rule we cannot read. */
static void compute_scope(SyncRun *run, const ProvScimBatch *batch) {
        bool everyone = !run->config->allow_groups || !run->config->allow_groups[0];
        bool keep_stored = run->opts->delta, asked = false;

        for (size_t i = 0; i < run->n_rules; i++) {
                const GroupRule *rule = &run->rules[i];
                if (!rule->local && (rule->n_matches > 1 || (rule->match && rule->match->members_unknown)))
                        keep_stored = true;
                if (!rule->local && rule->n_matches == 0 && !keep_stored && !asked) {
                        asked = true;
                        keep_stored = stored_group_missed(run, batch);
                }
        }
        for (size_t i = 0; i < run->n_users; i++) {
                const MappedUser *u = &run->users[i];
                run->users[i].in_scope = everyone ||
                                         (keep_stored && u->old.name && u->old.state != PROV_STATE_DEPROVISIONED);
        }
        if (everyone)
                return;
        for (size_t g = 0; g < batch->n_groups; g++) {
                const ProvScimGroup *grp = &batch->groups[g];
                if (rules_for_group(run, false, grp, NULL) <= 0)
                        continue;
                for (size_t m = 0; m < grp->n_members; m++) {
                        MappedUser *u = sync_find_user(run, grp->member_ids[m]);
                        if (u)
                                u->in_scope = true;
                }
        }
}

const char *sync_user_gecos(const MappedUser *u) {
        return u->src->display_name ?: "";
}

const char *sync_user_shell(const SyncRun *run, const MappedUser *u) {
        return u->src->shell ?: run->config->default_shell;
}

/* home_base/name into buf; false if it does not fit. */
static bool home_under_base(const ProvConfig *c, const char *name, char *buf, size_t size) {
        size_t nb = strlen(c->home_base);
        int n = snprintf(buf, size, "%s%s%s", c->home_base, nb > 0 && c->home_base[nb - 1] == '/' ? "" : "/", name);
        return n > 0 && (size_t) n < size;
}

/* The home directory of a mapped user: home_base/NAME, or the source's when the admin opted in
 * and it passed the checks of map_user_fields() and check_homes(). */
const char *sync_user_home(const SyncRun *run, const MappedUser *u, char *buf, size_t size) {
        if (u->own_home)
                return u->src->home;
        return home_under_base(run->config, u->name, buf, size) ? buf : "";
}

/* A homeDirectory from the source may be used only under home_base, and never in a place that is
 * or could become another account's: its first component below home_base must not be a name
 * that another login could have (/home/alice/x belongs to alice's home, /home/newhire to a
 * future joiner). Uniqueness among stored accounts is checked by check_homes(). */
static bool home_attribute_ok(const ProvConfig *c, const char *name, const char *home) {
        size_t n = strlen(c->home_base);
        const char *rest, *slash;

        if (!prov_valid_home(home) || strncmp(home, c->home_base, n) != 0)
                return false;
        rest = home + n;
        if (n == 0 || c->home_base[n - 1] != '/') {
                if (*rest != '/')
                        return false;
                rest++;
        }
        if (!*rest)
                return false;
        slash = strchr(rest, '/');
        _cleanup_free_ char *first = slash ? strndup(rest, (size_t) (slash - rest)) : strdup(rest);
        if (!first)
                return false;
        return streq(first, name) || !prov_valid_user_name(first);
}

/* Fills the POSIX fields of one user and validates each of them. Returns 1 if accepted, 0
 * if rejected (already recorded), <0 on failure. */
static int map_user_fields(SyncRun *run, MappedUser *u) {
        const ProvConfig *c = run->config;
        const ProvScimUser *s = u->src;
        _cleanup_free_ char *name = NULL;
        const char *why;
        char home[PATH_MAX];
        int r;

        r = prov_login_name_from(s->user_name, c->strip_domain, &name);
        if (r < 0)
                return sync_reject(run, "user", s->id, s->user_name, "userName is not a valid login name") ?: 0;
        why = sync_name_refused(c, run->local, name);
        if (why)
                return sync_reject(run, "user", s->id, name, why) ?: 0;

        if (!prov_valid_gecos(sync_user_gecos(u)))
                return sync_reject(run, "user", s->id, name, "display name is not valid for the GECOS field") ?: 0;

        u->own_home = false;
        if (c->home_from_attribute && s->home) {
                if (!home_attribute_ok(c, name, s->home))
                        return sync_reject(run, "user", s->id, name,
                                      "homeDirectory is not under home_base or lies in another possible login's home") ?: 0;
                if (home_under_base(c, name, home, sizeof(home)) && streq(home, s->home))
                        ; /* the default one: unique with the name */
                else
                        u->own_home = true;
        } else if (!home_under_base(c, name, home, sizeof(home)) || !prov_valid_home(home))
                return sync_reject(run, "user", s->id, name, "home directory is not valid") ?: 0;

        if (prov_local_home_overlaps(run->local, u->own_home ? s->home : home, c->home_base))
                return sync_reject(run, "user", s->id, name, "home directory is, holds or lies in a local account's home") ?: 0;

        if (s->shell && !prov_valid_shell(s->shell, c->allowed_shells))
                return sync_reject(run, "user", s->id, name, "login shell is not in allowed_shells") ?: 0;

        u->name = prov_arena_strdup(&run->pool, name);
        if (!u->name)
                return -ENOMEM;
        return 1;
}

/* Gives the user a uid: the configured attribute's value if there is one, else the ledger's
 * deterministic allocation. Either way it is reserved as the uid and the gid of the user's
 * private group; sync_apply_users() writes the account in this transaction, and its row records them
 * (the ledger keeps them for ever once it goes). */
static int map_user_id(SyncRun *run, MappedUser *u) {
        const ProvConfig *c = run->config;
        const ProvScimUser *s = u->src;
        ProvIdKind conflict = PROV_ID_UID;
        uint32_t uid;
        int r;

        /* The usual case after the first sync: the account keeps the uid it has. */
        bool from_attribute = c->uid_attribute && s->has_uid;
        if (u->old.name && (!from_attribute || s->uid == (int64_t) u->old.uid)) {
                if (prov_local_id_taken(u->old.uid, (void *) run->local))
                        return sync_reject(run, "user", s->id, u->name, "its uid now exists locally") ?: 0;
                u->uid = u->old.uid;
                return 1;
        }

        if (from_attribute) {
                const char *why = sync_id_refused(c, run->local, s->uid);
                if (why)
                        return sync_reject(run, "user", s->id, u->name, why) ?: 0;
                uid = (uint32_t) s->uid;
                r = prov_store_user_ids_reserve(run->store, s->id, uid, c->uid_min, c->uid_max, &conflict);
        } else {
                r = prov_store_user_ids_allocate(run->store, s->id, c->uid_min, c->uid_max, prov_local_ids_taken,
                                                 (void *) run->local, &uid);
                if (r == -ENOSPC)
                        return sync_reject(run, "user", s->id, u->name, "no free uid left in uid_min..uid_max") ?: 0;
                if (r >= 0 && prov_local_id_taken(uid, (void *) run->local))
                        return sync_reject(run, "user", s->id, u->name, "its recorded uid now exists locally") ?: 0;
                conflict = PROV_ID_GID; /* a returning account's uid is its own */
        }
        if (r == -EEXIST)
                return sync_reject(run, "user", s->id, u->name,
                              conflict == PROV_ID_UID ? "uid was given to another identity before"
                                                      : "the private group's gid belongs to a group") ?: 0;
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

static int cmp_user_by_name(const void *a, const void *b, void *userdata) {
        const MappedUser *users = userdata;
        const MappedUser *x = &users[*(const uint32_t *) a], *y = &users[*(const uint32_t *) b];
        return cmp_claim(x->name, x->old.name, x->src->id, y->name, y->old.name, y->src->id);
}

/* The SCIM id of the stored account with that login name: 1 and *ret_other set when another
 * account than scim_id holds it, 0 when nobody or scim_id itself does. */
static int name_held_by_other(SyncRun *run, const char *name, const char *scim_id) {
        _cleanup_(prov_user_record_done) ProvUserRecord holder = {};
        int r;

        r = prov_store_user_get_by_name(run->store, name, &holder);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return !scim_id || !streq(holder.scim_id, scim_id);
}

typedef struct HomeClaim {
        const char *home;
        MappedUser *user;
        bool refused;
} HomeClaim;

static int cmp_home_claim(const void *a, const void *b) {
        const HomeClaim *x = a, *y = b;
        int c = strcmp(x->home, y->home);
        return c ? c : strcmp(x->user->src->id, y->user->src->id);
}

typedef struct HomeWalk {
        HomeClaim *claims;
        size_t n;
} HomeWalk;

static int home_held(const ProvUserRecord *rec, void *userdata) {
        HomeWalk *w = userdata;
        size_t lo = 0, hi = w->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(w->claims[mid].home, rec->home) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < w->n && streq(w->claims[lo].home, rec->home); lo++)
                if (!streq(w->claims[lo].user->src->id, rec->scim_id))
                        w->claims[lo].refused = true;
        return 0;
}

/* Homes taken from the source must be unique: among the stored accounts (deprovisioned ones
 * within retention included) and among this scan's users. Two claimants of one home both lose
 * it, whichever came first. Costs one pass over the store, only when some home is claimed. */
static int check_homes(SyncRun *run) {
        _cleanup_free_ HomeClaim *claims = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < run->n_users; i++)
                n += run->users[i].name && run->users[i].own_home;
        if (n == 0)
                return 0;
        claims = calloc(n, sizeof(HomeClaim));
        if (!claims)
                return -ENOMEM;
        n = 0;
        for (size_t i = 0; i < run->n_users; i++)
                if (run->users[i].name && run->users[i].own_home)
                        claims[n++] = (HomeClaim) { run->users[i].src->home, &run->users[i], false };
        qsort(claims, n, sizeof(HomeClaim), cmp_home_claim);
        for (size_t i = 1; i < n; i++)
                if (streq(claims[i].home, claims[i - 1].home))
                        claims[i].refused = claims[i - 1].refused = true;
        r = prov_store_users_foreach(run->store, PROV_USER_ORDER_REF, home_held, &(HomeWalk) { claims, n });
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                MappedUser *u = claims[i].user;
                if (!claims[i].refused)
                        continue;
                r = sync_reject(run, "user", u->src->id, u->name, "homeDirectory is another account's home");
                if (r < 0)
                        return r;
                u->name = NULL;
        }
        return 0;
}

int sync_map_users(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        run->users = calloc(batch->n_users ? batch->n_users : 1, sizeof(MappedUser));
        if (!run->users)
                return -ENOMEM;
        run->n_users = batch->n_users;
        /* In SCIM id order, each id once: what a finished batch guarantees (scim-parse.h). */
        for (size_t i = 0; i < batch->n_users; i++)
                run->users[i].src = &batch->users[batch->user_order[i]];
        r = load_old_users(run);
        if (r < 0)
                return r;
        r = sync_index_users(run);
        if (r < 0)
                return r;
        compute_scope(run, batch);

        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                /* An unservable record (the parser's reject already says why) keeps the stored
                 * account as it is; sync_apply_users() still honours its active: false. */
                if (!u->in_scope || u->src->unservable)
                        continue;
                r = map_user_fields(run, u);
                if (r < 0)
                        return r;
                if (r == 0)
                        u->name = NULL;
        }
        r = check_homes(run);
        if (r < 0)
                return r;

        /* Names: in an order where equal names sit together, the rightful holder first. */
        run->user_by_name = reallocarray(NULL, run->n_users ? run->n_users : 1, sizeof(uint32_t));
        if (!run->user_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_users; i++)
                run->user_by_name[i] = (uint32_t) i;
        qsort_r(run->user_by_name, run->n_users, sizeof(uint32_t), cmp_user_by_name, run->users);
        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[run->user_by_name[i]];
                const MappedUser *prev = i > 0 ? &run->users[run->user_by_name[i - 1]] : NULL;

                if (!u->name)
                        continue;
                if (prev && prev->name && streq(prev->name, u->name)) {
                        r = sync_reject(run, "user", u->src->id, u->name, "login name collides with another directory user");
                        if (r < 0)
                                return r;
                        continue;
                }
                /* A stored group keeps its name until a later sync renames or removes it: a
                 * user private group of the same name could not be served beside it. */
                if (sync_stored_group(run, NULL, u->name)) {
                        r = sync_reject(run, "user", u->src->id, u->name, "login name is the name of a group");
                        if (r < 0)
                                return r;
                        continue;
                }
                /* A new name (a joiner, a rename): nobody else may hold it in the store. The
                 * name may be freed in this very sync if its holder is renamed, but we take the
                 * safe way: it stays with its holder until then. */
                if (!streq_ptr(u->old.name, u->name)) {
                        r = name_held_by_other(run, u->name, u->src->id);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                r = sync_reject(run, "user", u->src->id, u->name, "login name belongs to another account");
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                u->name_ok = true;
        }

        /* Ids in SCIM id order: the ledger's owner index takes its rows in key order. Which
         * of two joiners whose allocations collide gets the first free id then depends on
         * their SCIM ids alone. */
        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];

                if (!u->name_ok)
                        continue;
                r = map_user_id(run, u);
                if (r < 0)
                        return r;
                u->accepted = r > 0;
        }
        return 0;
}

static const MappedUser *user_by_name_at(const SyncRun *run, size_t k) {
        return &run->users[run->user_by_name[k]];
}

/* True if an accepted directory user has that login name. */
static bool user_name_taken(const SyncRun *run, const char *name) {
        size_t lo = 0, hi = run->n_users;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *n = user_by_name_at(run, mid)->name;
                if (n && strcmp(n, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < run->n_users && user_by_name_at(run, lo)->name && streq(user_by_name_at(run, lo)->name, name); lo++)
                if (user_by_name_at(run, lo)->accepted)
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
        const char *local_name = NULL, *why;
        int r;

        r = rules_for_group(run, true, s, &local_name);
        if (r < 0)
                return 0; /* an ambiguous map rule may mean this group: it stays as stored */
        if (local_name) {
                /* Role mapping: served under the local group's own name and gid, so that glibc's
                 * [SUCCESS=merge] adds our members to it. */
                const ProvLocalGroup *lg = prov_local_group(run->local, local_name);
                if (!lg || lg->gid == 0)
                        return sync_reject(run, "group", s->id, s->display_name,
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
                return sync_reject(run, "group", s->id, s->display_name, "displayName is not a valid group name") ?: 0;
        why = sync_name_refused(run->config, run->local, g->name);
        if (why)
                return sync_reject(run, "group", s->id, g->name, why) ?: 0;
        return 1;
}

static char *owner_of(const char *kind, const char *scim_id) {
        char *s;
        if (asprintf(&s, "%s:%s", kind, scim_id) < 0)
                return NULL;
        return s;
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
                const char *why = sync_id_refused(c, run->local, s->gid);
                if (why)
                        return sync_reject(run, "group", s->id, g->name, why) ?: 0;
                g->gid = (uint32_t) s->gid;
                r = prov_store_ledger_assign(run->store, PROV_ID_GID, g->gid, owner, g->name);
        } else
                r = prov_store_ledger_allocate(run->store, PROV_ID_GID, owner, g->name, c->uid_min, c->uid_max, false,
                                               prov_local_ids_taken, (void *) run->local, &g->gid);
        if (r == -EEXIST)
                return sync_reject(run, "group", s->id, g->name, "gid is taken locally or by another identity") ?: 0;
        if (r == -ENOSPC)
                return sync_reject(run, "group", s->id, g->name, "no free gid left in uid_min..uid_max") ?: 0;
        if (r < 0)
                return r;
        if (prov_local_id_taken(g->gid, (void *) run->local))
                return sync_reject(run, "group", s->id, g->name, "its recorded gid now exists locally") ?: 0;
        return 1;
}

int sync_map_groups(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        run->groups = calloc(batch->n_groups ? batch->n_groups : 1, sizeof(MappedGroup));
        if (!run->groups)
                return -ENOMEM;
        run->n_groups = batch->n_groups;

        for (size_t i = 0; i < batch->n_groups; i++) {
                MappedGroup *g = &run->groups[i];
                g->src = &batch->groups[i];
                const ProvGroupRecord *old = sync_stored_group(run, g->src->id, NULL);
                if (old)
                        g->old = *old;
                if (g->src->unservable)
                        continue; /* kept as stored: sync_apply_groups() neither changes nor removes it */
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
                bool collides;

                if (!g->name)
                        continue;
                /* A stored account may be leaving the name in this very sync; we stay on the safe side. */
                collides = i > 0 && run->groups[i - 1].name && streq(run->groups[i - 1].name, g->name);
                if (!collides && !g->local_name) {
                        collides = user_name_taken(run, g->name);
                        if (!collides) {
                                r = name_held_by_other(run, g->name, NULL);
                                if (r < 0)
                                        return r;
                                collides = r > 0;
                        }
                }
                if (collides) {
                        r = sync_reject(run, "group", g->src->id, g->name, "name collides with a directory user or group");
                        if (r < 0)
                                return r;
                        continue;
                }
                r = map_group_id(run, g);
                if (r < 0)
                        return r;
                g->accepted = r > 0;
        }
        return sync_index_groups(run, batch);
}
