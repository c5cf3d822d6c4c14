/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "idhash.h"
#include "log.h"
#include "prov-snapshot-write.h"
#include "prov-sshkeys.h"
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

/* What the sync needs of the stored account of a directory user. The store is never loaded
 * whole: these facts come from one ordered pass over it (full scans) or point queries
 * (deltas). */
typedef struct OldUser {
        const char *name;       /* in the run's pool; NULL: no stored account */
        uint64_t fields_hash;   /* of gecos, home, shell and SSH keys: what a change compares */
        int64_t state_changed_usec;
        uint32_t uid;
        ProvState state;
        bool blocked, source_active;
} OldUser;

/* A directory user after mapping, before it is compared with the store. There are 100k of
 * these: what can be derived again (GECOS, shell, a home under home_base) is not kept. */
typedef struct MappedUser {
        const ProvScimUser *src;
        const char *name;       /* in the pool */
        int64_t ref;            /* its store row's: a stored account's, or a joiner's once written */
        uint32_t uid;
        bool in_scope;
        bool name_ok;  /* the login name passed the collision checks */
        bool own_home; /* its home is the source's homeDirectory (home_from_attribute) */
        bool accepted;
        OldUser old;
} MappedUser;

/* A stored account the scan did not return (full scans only). */
typedef struct StoredOnly {
        const char *scim_id, *name; /* in the pool */
        int64_t state_changed_usec;
        uint32_t uid;
        ProvState state;
} StoredOnly;

typedef struct MappedGroup {
        const ProvScimGroup *src;
        char *name;
        uint32_t gid;
        char *local_name;
        bool accepted;
        ProvGroupRecord old;
} MappedGroup;

/* One membership that changed for an account that is not joining in this sync. */
typedef struct MemberDelta {
        const char *user;  /* SCIM id, in the pool */
        const char *group; /* name, for the audit detail */
        bool added;
} MemberDelta;

typedef struct GroupRule GroupRule;

typedef struct SyncRun {
        ProvStore *store;
        const ProvConfig *config;
        const ProvLocalAccounts *local;
        int64_t now;
        ProvArena pool;
        /* In SCIM id order: the pass over the store walks beside them, and joiners reach the
         * store's SCIM-id keyed b-trees (users, the ledger's owners) in key order. */
        MappedUser *users;
        size_t n_users;
        uint32_t *user_by_name; /* positions in users[] in the order of cmp_claim() */
        MappedGroup *groups;
        size_t n_groups;
        ProvIdHash user_hash;     /* users[] by SCIM id */
        IdIndex *group_index; /* groups[] by SCIM id */
        StoredOnly *stored_only;
        size_t n_stored_only, cap_stored_only;
        size_t n_live;        /* stored accounts not deprovisioned (full scans) */
        /* The store's groups as the sync found them (a few thousand): looked up in memory.
         * MappedGroup.old are shallow copies of these. */
        ProvGroupRecord *stored_groups;
        size_t n_stored_groups;
        IdIndex *stored_group_by_id, *stored_group_by_name;
        MemberDelta *deltas;
        size_t n_deltas, cap_deltas;
        size_t joiners_logged;
        ProvSyncResult *result;
        size_t cap_transitions;
        const ProvSyncOptions *opts;
        GroupRule *rules;       /* allow_groups, then map_groups */
        size_t n_rules;
} SyncRun;

/* Joiners logged one by one per sync; the rest are counted (the audit log has them all). */
#define JOINERS_LOGGED_MAX 100u

/* Grows an array to hold one more element than n, by half again of its capacity. */
static int grow_array(void **array, size_t *cap, size_t n, size_t size) {
        size_t want;
        void *p;

        if (n < *cap)
                return 0;
        want = *cap ? *cap + *cap / 2 : 64;
        if (want > SIZE_MAX / size)
                return -ENOMEM;
        p = reallocarray(*array, want, size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *cap = want;
        return 0;
}

void prov_sync_result_done(ProvSyncResult *r) {
        free(r->transitions);
        prov_arena_done(&r->strings);
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

        int r;

        r = grow_array((void **) &res->transitions, &run->cap_transitions, res->n_transitions, sizeof(*t));
        if (r < 0)
                return r;
        t = &res->transitions[res->n_transitions];
        *t = (ProvTransition) {
                .scim_id = prov_arena_strdup(&res->strings, scim_id),
                .name = prov_arena_strdup(&res->strings, name),
                .uid = uid,
                .old_state = old_state,
                .new_state = new_state,
                .event = event,
        };
        if (!t->scim_id || !t->name)
                return -ENOMEM;
        res->n_transitions++;
        return 0;
}

/* A record the directory sent that we will not serve: recorded in the audit log with the
 * reason, logged, and counted. It never stops the sync. */
static int reject(SyncRun *run, const char *kind, const char *scim_id, const char *name, const char *reason) {
        char detail[512];
        int r;

        run->result->rejected++;
        /* Audited (and logged above debug) once, when it first appears or its reason changes:
         * a bad record comes back with every full scan. */
        r = prov_store_reject_note(run->store, kind, scim_id, reason, run->now);
        if (r <= 0) {
                if (r == 0)
                        log_debug("Still skipping %s id='%s' name='%s': %s", kind, SAFE(scim_id), SAFE(name), reason);
                return r;
        }
        snprintf(detail, sizeof(detail), "%s: %s", kind, reason);
        log_warning("Skipping %s id='%s' name='%s': %s", kind, SAFE(scim_id), SAFE(name), reason);
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
static int build_index(IdIndex **index, size_t n, ProvIdAt id_at, const void *ctx) {
        IdIndex *x = reallocarray(*index, n ? n : 1, sizeof(IdIndex));

        if (!x)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                x[i] = (IdIndex) { .id = id_at(ctx, i), .pos = i };
        qsort(x, n, sizeof(IdIndex), cmp_idindex);
        *index = x;
        return 0;
}

static const char *user_id_at(const void *ctx, size_t i) {
        return ((const SyncRun *) ctx)->users[i].src->id;
}

static const char *group_id_at(const void *ctx, size_t i) {
        return ((const SyncRun *) ctx)->groups[i].src->id;
}

static MappedUser *find_user(const SyncRun *run, const char *scim_id) {
        ssize_t i = prov_id_hash_find(&run->user_hash, scim_id, user_id_at, run);
        return i >= 0 ? &run->users[i] : NULL;
}

static MappedGroup *find_group(const SyncRun *run, const char *scim_id) {
        IdIndex key = { .id = scim_id }, *hit;

        hit = bsearch(&key, run->group_index, run->n_groups, sizeof(IdIndex), cmp_idindex);
        return hit ? &run->groups[hit->pos] : NULL;
}


static int load_stored_groups(SyncRun *run) {
        int r;

        r = prov_store_groups_load(run->store, &run->stored_groups, &run->n_stored_groups);
        if (r < 0)
                return r;
        run->stored_group_by_id = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        run->stored_group_by_name = calloc(run->n_stored_groups + 1, sizeof(IdIndex));
        if (!run->stored_group_by_id || !run->stored_group_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                run->stored_group_by_id[i] = (IdIndex) { run->stored_groups[i].scim_id, i };
                run->stored_group_by_name[i] = (IdIndex) { run->stored_groups[i].name, i };
        }
        qsort(run->stored_group_by_id, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        qsort(run->stored_group_by_name, run->n_stored_groups, sizeof(IdIndex), cmp_idindex);
        return 0;
}

static const IdIndex *index_find(const IdIndex *index, size_t n, const char *key) {
        IdIndex k = { .id = key };
        return bsearch(&k, index, n, sizeof(IdIndex), cmp_idindex);
}

static const ProvGroupRecord *stored_group(const SyncRun *run, const char *scim_id, const char *name) {
        const IdIndex *x = scim_id ? index_find(run->stored_group_by_id, run->n_stored_groups, scim_id)
                                   : index_find(run->stored_group_by_name, run->n_stored_groups, name);
        return x ? &run->stored_groups[x->pos] : NULL;
}

/* 64-bit FNV-1a over the strings with their NULs: a change of any of them changes the hash
 * (a collision, 2^-64, would only delay an update of the GECOS/home/shell/keys to the next
 * change). No keys (NULL) hashes as "", as the store keeps "" as NULL. */
static uint64_t fields_hash(const char *gecos, const char *home, const char *shell, const char *ssh_keys) {
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
                .fields_hash = fields_hash(rec->gecos, rec->home, rec->shell, rec->ssh_keys),
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

        r = grow_array((void **) &run->stored_only, &run->cap_stored_only, run->n_stored_only, sizeof(StoredOnly));
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
static const char *name_refused(const ProvConfig *c, const ProvLocalAccounts *local, const char *name) {
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

static void rules_done(SyncRun *run) {
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
static int rules_load(SyncRun *run) {
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

static int cmp_strp_sync(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Finds the group each rule names in this batch. A rule that names two or more is reported and
 * names none; a name rule that names exactly one on a full scan is pinned to it. */
static int rules_resolve(SyncRun *run, const ProvScimBatch *batch) {
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
                        qsort(ids, shown, sizeof(char *), cmp_strp_sync);
                        snprintf(reason, sizeof(reason), "names %zu directory groups (ids %.64s, %.64s%s%.64s): none is used",
                                 rule->n_matches, ids[0], ids[1], shown > 2 ? ", " : "", shown > 2 ? ids[2] : "");
                        r = reject(run, "rule", rule->key, NULL, reason);
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

/* Scope of a full scan: members of the groups the allow rules name. A delta carries only the
 * groups that changed, so there an account we already serve stays in scope (a full reconcile
 * decides when it leaves), and a new one needs a changed allowed group that lists it — which
 * adding someone to a group always produces. When a rule is ambiguous or its group's members
 * cannot be read, the accounts we serve stay in scope as in a delta: nobody gains or loses
 * scope through a rule we cannot read. */
static void compute_scope(SyncRun *run, const ProvScimBatch *batch) {
        bool everyone = !run->config->allow_groups || !run->config->allow_groups[0];
        bool keep_stored = run->opts->delta;

        for (size_t i = 0; i < run->n_rules; i++) {
                const GroupRule *rule = &run->rules[i];
                if (!rule->local && (rule->n_matches > 1 || (rule->match && rule->match->members_unknown)))
                        keep_stored = true;
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
                        MappedUser *u = find_user(run, grp->member_ids[m]);
                        if (u)
                                u->in_scope = true;
                }
        }
}

static const char *user_gecos(const MappedUser *u) {
        return u->src->display_name ?: "";
}

static const char *user_shell(const SyncRun *run, const MappedUser *u) {
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
static const char *user_home(const SyncRun *run, const MappedUser *u, char *buf, size_t size) {
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
                return reject(run, "user", s->id, s->user_name, "userName is not a valid login name") ?: 0;
        why = name_refused(c, run->local, name);
        if (why)
                return reject(run, "user", s->id, name, why) ?: 0;

        if (!prov_valid_gecos(user_gecos(u)))
                return reject(run, "user", s->id, name, "display name is not valid for the GECOS field") ?: 0;

        u->own_home = false;
        if (c->home_from_attribute && s->home) {
                if (!home_attribute_ok(c, name, s->home))
                        return reject(run, "user", s->id, name,
                                      "homeDirectory is not under home_base or lies in another possible login's home") ?: 0;
                if (home_under_base(c, name, home, sizeof(home)) && streq(home, s->home))
                        ; /* the default one: unique with the name */
                else
                        u->own_home = true;
        } else if (!home_under_base(c, name, home, sizeof(home)) || !prov_valid_home(home))
                return reject(run, "user", s->id, name, "home directory is not valid") ?: 0;

        if (s->shell && !prov_valid_shell(s->shell, c->allowed_shells))
                return reject(run, "user", s->id, name, "login shell is not in allowed_shells") ?: 0;

        u->name = prov_arena_strdup(&run->pool, name);
        if (!u->name)
                return -ENOMEM;
        return 1;
}

/* Gives the user a uid: the configured attribute's value if there is one, else the ledger's
 * deterministic allocation. Either way it is reserved as the uid and the gid of the user's
 * private group; apply_users() writes the account in this transaction, and its row records them
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
                        return reject(run, "user", s->id, u->name, "its uid now exists locally") ?: 0;
                u->uid = u->old.uid;
                return 1;
        }

        if (from_attribute) {
                if (s->uid < (int64_t) c->uid_min || s->uid > (int64_t) c->uid_max)
                        return reject(run, "user", s->id, u->name, "uid attribute is outside uid_min..uid_max") ?: 0;
                uid = (uint32_t) s->uid;
                if (prov_local_id_taken(uid, (void *) run->local))
                        return reject(run, "user", s->id, u->name, "uid is a local id (passwd, group, or a subordinate range)") ?: 0;
                r = prov_store_user_ids_reserve(run->store, s->id, uid, c->uid_min, c->uid_max, &conflict);
        } else {
                r = prov_store_user_ids_allocate(run->store, s->id, c->uid_min, c->uid_max, prov_local_ids_taken,
                                                 (void *) run->local, &uid);
                if (r == -ENOSPC)
                        return reject(run, "user", s->id, u->name, "no free uid left in uid_min..uid_max") ?: 0;
                if (r >= 0 && prov_local_id_taken(uid, (void *) run->local))
                        return reject(run, "user", s->id, u->name, "its recorded uid now exists locally") ?: 0;
                conflict = PROV_ID_GID; /* a returning account's uid is its own */
        }
        if (r == -EEXIST)
                return reject(run, "user", s->id, u->name,
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

static int cmp_user_src_id(const void *a, const void *b) {
        return strcmp(((const MappedUser *) a)->src->id, ((const MappedUser *) b)->src->id);
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
                r = reject(run, "user", u->src->id, u->name, "homeDirectory is another account's home");
                if (r < 0)
                        return r;
                u->name = NULL;
        }
        return 0;
}

static int map_users(SyncRun *run, const ProvScimBatch *batch) {
        int r;

        run->users = calloc(batch->n_users ? batch->n_users : 1, sizeof(MappedUser));
        if (!run->users)
                return -ENOMEM;
        run->n_users = batch->n_users;
        bool sorted = true;
        for (size_t i = 0; i < batch->n_users; i++) {
                run->users[i].src = &batch->users[i];
                sorted = sorted && (i == 0 || strcmp(batch->users[i - 1].id, batch->users[i].id) < 0);
        }
        /* The parser hands them so; a batch built otherwise is put in order here. */
        if (!sorted)
                qsort(run->users, run->n_users, sizeof(MappedUser), cmp_user_src_id);
        r = load_old_users(run);
        if (r < 0)
                return r;
        r = prov_id_hash_build(&run->user_hash, run->n_users, user_id_at, run);
        if (r < 0)
                return r;
        compute_scope(run, batch);

        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                /* An unservable record (the parser's reject already says why) keeps the stored
                 * account as it is; apply_users() still honours its active: false. */
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
                /* A new name (a joiner, a rename): nobody else may hold it in the store. The
                 * name may be freed in this very sync if its holder is renamed, but we take the
                 * safe way: it stays with its holder until then. */
                if (!streq_ptr(u->old.name, u->name)) {
                        r = name_held_by_other(run, u->name, u->src->id);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                r = reject(run, "user", u->src->id, u->name, "login name belongs to another account");
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
        why = name_refused(run->config, run->local, g->name);
        if (why)
                return reject(run, "group", s->id, g->name, why) ?: 0;
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
                                               prov_local_ids_taken, (void *) run->local, &g->gid);
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
                if (g->src->unservable)
                        continue; /* kept as stored: apply_groups() neither changes nor removes it */
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
        if (u->old.name && u->old.blocked)
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


/* Explicit deactivation of an account whose record we cannot serve as it is now: the rest
 * of the stored account stays. */
static int suspend_unaccepted(SyncRun *run, const MappedUser *u) {
        _cleanup_(prov_user_record_done) ProvUserRecord rec = {};
        int r;

        r = prov_store_user_get(run->store, u->src->id, &rec);
        if (r < 0)
                return r;
        rec.source_active = false;
        rec.state = PROV_STATE_SUSPENDED;
        rec.updated_usec = rec.state_changed_usec = run->now;
        r = prov_store_user_put(run->store, &rec);
        if (r < 0)
                return r;
        run->result->suspended++;
        r = prov_store_audit_add(run->store, "suspend", rec.name, rec.scim_id, rec.uid, "store", "ok",
                                 "active=false at the source");
        if (r < 0)
                return r;
        return add_transition(run, rec.scim_id, rec.name, rec.uid, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
}

/* The valid SSH keys of a directory user, joined by '\n' into *ret (malloc'ed; NULL when none).
 * An invalid key is skipped and audited once (reject()), the others are kept: one bad line
 * pasted into a profile must not lock its owner out of the keys that work. */
static int user_ssh_keys(SyncRun *run, const MappedUser *u, char **ret) {
        const ProvScimUser *s = u->src;
        _cleanup_free_ char *joined = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        for (size_t i = 0; i < s->n_ssh_keys; i++) {
                const char *why = NULL;
                char reason[128];
                size_t n;

                if (!prov_valid_ssh_key(s->ssh_keys[i], &why)) {
                        snprintf(reason, sizeof(reason), "SSH key %zu of %zu skipped: %s", i + 1, s->n_ssh_keys, why);
                        r = reject(run, "user", s->id, u->name, reason);
                        if (r < 0)
                                return r;
                        continue;
                }
                n = strlen(s->ssh_keys[i]);
                char *p = realloc(joined, len + (len > 0) + n + 1);
                if (!p)
                        return -ENOMEM;
                joined = p;
                if (len > 0)
                        joined[len++] = '\n';
                memcpy(joined + len, s->ssh_keys[i], n + 1);
                len += n;
        }
        *ret = TAKE_PTR(joined);
        return 0;
}

static int apply_users(SyncRun *run) {
        ProvSyncResult *res = run->result;
        size_t joiners = 0;
        int r;

        /* A first sync has a transition per account: one allocation for all of them. */
        for (size_t i = 0; i < run->n_users; i++)
                joiners += run->users[i].accepted && !run->users[i].old.name;
        if (joiners > run->cap_transitions) {
                ProvTransition *t = reallocarray(res->transitions, joiners + 16, sizeof(ProvTransition));
                if (!t)
                        return -ENOMEM;
                res->transitions = t;
                run->cap_transitions = joiners + 16;
        }

        for (size_t i = 0; i < run->n_users; i++) {
                MappedUser *u = &run->users[i];
                ProvState want;
                const char *event;

                if (!u->accepted) {
                        /* Present at the source but not servable (invalid, colliding): keep what
                         * we have, but an explicit deactivation still applies at once. */
                        if (u->old.name && !u->src->active && u->old.state == PROV_STATE_ACTIVE && u->in_scope) {
                                r = suspend_unaccepted(run, u);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }

                want = wanted_state(u);
                char home[PATH_MAX];
                _cleanup_free_ char *ssh_keys = NULL;
                r = user_ssh_keys(run, u, &ssh_keys);
                if (r < 0)
                        return r;
                ProvUserRecord rec = {
                        .scim_id = (char *) u->src->id,
                        .name = (char *) u->name,
                        .uid = u->uid,
                        .gid = u->uid,
                        .gecos = (char *) user_gecos(u),
                        .home = (char *) user_home(run, u, home, sizeof(home)),
                        .shell = (char *) user_shell(run, u),
                        .source_active = u->src->active,
                        .state = want,
                        .blocked = u->old.name ? u->old.blocked : false,
                        /* 0 for a stored account: the store keeps its creation time. */
                        .created_usec = u->old.name ? 0 : run->now,
                        .updated_usec = run->now,
                        .state_changed_usec = u->old.name && u->old.state == want ? u->old.state_changed_usec : run->now,
                        .last_seen_usec = run->now,
                        .ssh_keys = ssh_keys,
                };

                if (!u->old.name) {
                        r = prov_store_user_add(run->store, &rec, &u->ref);
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
                        if (run->joiners_logged++ < JOINERS_LOGGED_MAX)
                                log_user(LOG_INFO, rec.name, rec.uid, "joiner", "Joiner %s (uid %" PRIu32 ")", rec.name,
                                         rec.uid);
                        continue;
                }

                bool renamed = !streq(u->old.name, rec.name);
                bool changed = renamed || u->old.uid != rec.uid ||
                               u->old.fields_hash != fields_hash(rec.gecos, rec.home, rec.shell, rec.ssh_keys) ||
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
        if (run->joiners_logged > JOINERS_LOGGED_MAX)
                log_info("... and %zu more joiners ('provisionctl events' lists them all)",
                         run->joiners_logged - JOINERS_LOGGED_MAX);
        return 0;
}

/* A stored account about to be deprovisioned or purged: either one the scan returned out of
 * scope, or one it did not return. */
typedef struct Leaver {
        const char *scim_id, *name;
        uint32_t uid;
        ProvState state;
        int64_t state_changed_usec;
        bool in_scan;
} Leaver;

/* Accounts of the store that this scan did not return (or returned out of scope) and that are
 * not deprovisioned yet: the leavers, counted first so that the guard can hold them as a
 * whole. With deprovisioned = true instead: the deprovisioned accounts this scan does not
 * bring back, for the retention purge. */
static int collect_leavers(SyncRun *run, bool deprovisioned, Leaver **ret, size_t *ret_n) {
        _cleanup_free_ Leaver *v = NULL;
        size_t n = 0, cap = 0;
        int r;

        for (size_t i = 0; i < run->n_users; i++) {
                const MappedUser *u = &run->users[i];
                if (!u->old.name || (u->old.state == PROV_STATE_DEPROVISIONED) != deprovisioned)
                        continue;
                /* Deprovisioned and back in this scan: apply_users() has reactivated it. */
                if (deprovisioned ? u->accepted && u->in_scope : u->in_scope)
                        continue;
                r = grow_array((void **) &v, &cap, n, sizeof(Leaver));
                if (r < 0)
                        return r;
                v[n++] = (Leaver) { u->src->id, u->old.name, u->old.uid, u->old.state, u->old.state_changed_usec, true };
        }
        for (size_t i = 0; i < run->n_stored_only; i++) {
                const StoredOnly *s = &run->stored_only[i];
                if ((s->state == PROV_STATE_DEPROVISIONED) != deprovisioned)
                        continue;
                r = grow_array((void **) &v, &cap, n, sizeof(Leaver));
                if (r < 0)
                        return r;
                v[n++] = (Leaver) { s->scim_id, s->name, s->uid, s->state, s->state_changed_usec, false };
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
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

static int deprovision(SyncRun *run, const Leaver *l, const char *detail) {
        _cleanup_(prov_user_record_done) ProvUserRecord u = {};
        int r;

        r = prov_store_user_get(run->store, l->scim_id, &u);
        if (r < 0)
                return r;
        u.state = PROV_STATE_DEPROVISIONED;
        u.updated_usec = u.state_changed_usec = run->now;
        r = prov_store_user_put(run->store, &u);
        if (r < 0)
                return r;
        run->result->deprovisioned++;
        r = prov_store_audit_add(run->store, "deprovision", u.name, u.scim_id, u.uid, "store", "ok", detail);
        if (r >= 0)
                r = add_transition(run, u.scim_id, u.name, u.uid, l->state, PROV_STATE_DEPROVISIONED, "deprovision");
        if (r < 0)
                return r;
        log_user(LOG_NOTICE, u.name, u.uid, "deprovision", "User %s deprovisioned", u.name);
        return 0;
}

static int apply_leavers(SyncRun *run) {
        const ProvConfig *c = run->config;
        ProvSyncResult *res = run->result;
        _cleanup_free_ Leaver *leavers = NULL, *gone = NULL;
        size_t n_leavers = 0, n_gone = 0;
        int r;

        if (run->opts->delta)
                return 0; /* a delta cannot tell who is gone: only full scans deprovision */

        /* The accounts the sync started from: the ones missing from the scan were not touched
         * by apply_users(). */
        r = collect_leavers(run, false, &leavers, &n_leavers);
        if (r < 0)
                return r;

        if (guard_trips(c, n_leavers, run->n_live, res->users_seen)) {
                _cleanup_free_ char **ids = calloc(n_leavers, sizeof(char *));
                char threshold[32];
                int64_t hold_id;

                if (!ids)
                        return -ENOMEM;
                for (size_t i = 0; i < n_leavers; i++)
                        ids[i] = (char *) leavers[i].scim_id;
                snprintf(threshold, sizeof(threshold), "%u%s", c->max_deprovision, c->max_deprovision_percent ? "%" : "");
                r = prov_store_hold_add(run->store, (int64_t) n_leavers, (int64_t) run->n_live, threshold, ids, n_leavers,
                                        &hold_id);
                if (r < 0)
                        return r;
                res->held = true;
                res->held_deprovisions = n_leavers;
                log_error("Holding %zu deprovisions of %zu accounts (max_deprovision=%s): approve with "
                          "'provisionctl approve' if the directory is right",
                          n_leavers, run->n_live, threshold);
                return prov_store_audit_add(run->store, "hold", NULL, NULL, -1, "guard", "held", threshold);
        }

        /* A scan within the limit supersedes an older pending hold: approving it later must not
         * deprovision people the directory has since shown again. */
        int64_t pending = 0, pdep = 0, ptotal = 0;
        r = prov_store_hold_pending(run->store, &pending, &pdep, &ptotal);
        if (r >= 0)
                r = prov_store_hold_set_status(run->store, pending, "superseded");
        if (r < 0 && r != -ENOENT)
                return r;

        for (size_t k = 0; k < n_leavers; k++) {
                const Leaver *u = &leavers[k];

                /* Gone from the scan (rather than out of scope): ask the source about this one
                 * account before acting on its absence. */
                if (run->opts->confirm_gone && !u->in_scan) {
                        r = run->opts->confirm_gone(u->scim_id, run->opts->userdata);
                        if (r <= 0) {
                                log_warning("Not deprovisioning '%s': %s", SAFE(u->name),
                                            r == 0 ? "the source still has the account" : "the source could not confirm its removal");
                                r = prov_store_audit_add(run->store, "deprovision", u->name, u->scim_id, u->uid, "confirm",
                                                         r == 0 ? "skipped" : "failed",
                                                         r == 0 ? "missing from the scan but still at the source"
                                                                : "removal not confirmed, retried next full sync");
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                r = deprovision(run, u, "gone from the source or out of scope");
                if (r < 0)
                        return r;
        }

        /* Retention: deprovisioned accounts disappear after retention_days; their ids stay in
         * the ledger for ever. */
        r = collect_leavers(run, true, &gone, &n_gone);
        if (r < 0)
                return r;
        size_t n_due = 0;
        for (size_t i = 0; i < n_gone; i++)
                if (run->now - gone[i].state_changed_usec >= (int64_t) c->retention_days * USEC_PER_DAY)
                        gone[n_due++] = gone[i];
        if (n_due == 0)
                return 0;
        _cleanup_free_ char **ids = calloc(n_due, sizeof(char *));
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n_due; i++)
                ids[i] = (char *) gone[i].scim_id;
        /* All at once: memberships are read once per 2048 accounts, not once per account. */
        r = prov_store_users_purge(run->store, ids, n_due);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_due; i++) {
                r = prov_store_audit_add(run->store, "purge", gone[i].name, gone[i].scim_id, gone[i].uid, "store", "ok",
                                         "retention elapsed");
                if (r < 0)
                        return r;
                res->purged++;
        }
        return 0;
}

/* Records that an account's groups changed, for the mover events; a joiner's first groups are
 * part of joining, not a move. */
static int member_delta(SyncRun *run, const char *user_scim_id, const char *group_name, bool added) {
        const MappedUser *u = find_user(run, user_scim_id);
        int r;

        if (u && !u->old.name)
                return 0;
        r = grow_array((void **) &run->deltas, &run->cap_deltas, run->n_deltas, sizeof(MemberDelta));
        if (r < 0)
                return r;
        const char *user = prov_arena_strdup(&run->pool, user_scim_id);
        if (!user)
                return -ENOMEM;
        run->deltas[run->n_deltas++] = (MemberDelta) { user, group_name, added };
        return 0;
}

/* A member of the scan that joined in this sync: stored by now (its ref is known), and no
 * mover. */
static bool member_is_joiner(const MappedUser *u) {
        return u && !u->old.name && u->ref > 0;
}

/* A member a group of the scan lists, by its store row. */
typedef struct WantedMember {
        int64_t ref;            /* 0: no stored account */
        const char *scim_id;
        const MappedUser *user; /* NULL: not in the scan (a delta's, a held scan's member) */
} WantedMember;

static int cmp_wanted(const void *a, const void *b) {
        int64_t x = ((const WantedMember *) a)->ref, y = ((const WantedMember *) b)->ref;
        return (x > y) - (x < y);
}

/* The account refs a group has in the store, in order. */
typedef struct RefList {
        int64_t *refs;
        size_t n, cap;
} RefList;

static int ref_list_add(int64_t group_ref, int64_t user_ref, void *userdata) {
        RefList *l = userdata;
        int r;

        (void) group_ref;
        r = grow_array((void **) &l->refs, &l->cap, l->n, sizeof(int64_t));
        if (r < 0)
                return r;
        l->refs[l->n++] = user_ref;
        return 0;
}

/* A stored member removed from a group, for the mover events. */
static int member_removed(SyncRun *run, int64_t ref, const char *group_name) {
        _cleanup_(prov_user_record_done) ProvUserRecord u = {};
        int r = prov_store_user_get_by_ref(run->store, ref, &u);

        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : member_delta(run, u.scim_id, group_name, false);
}

/* The refs of the members that are not in the scan, from the store (0 for unknown ones: a
 * directory's group may list a user it does not have, or one this host never stored). */
static int resolve_unscanned(SyncRun *run, WantedMember *want, size_t n) {
        _cleanup_free_ char **ids = NULL;
        _cleanup_free_ int64_t *refs = NULL;
        size_t k = 0;
        int r;

        for (size_t j = 0; j < n; j++)
                k += !want[j].user;
        if (k == 0)
                return 0;
        ids = calloc(k, sizeof(char *));
        refs = calloc(k, sizeof(int64_t));
        if (!ids || !refs)
                return -ENOMEM;
        k = 0;
        for (size_t j = 0; j < n; j++)
                if (!want[j].user)
                        ids[k++] = (char *) want[j].scim_id;
        r = prov_store_user_refs(run->store, ids, k, refs);
        if (r < 0)
                return r;
        k = 0;
        for (size_t j = 0; j < n; j++)
                if (!want[j].user)
                        want[j].ref = refs[k++];
        return 0;
}

/* Brings the stored members of one group to the wanted ones, compared by ref: only the
 * differences are written, so that the 50k members of a big group are not rewritten on every
 * sync. With keep, nobody is removed. want is reordered. */
static int sync_members(SyncRun *run, const MappedGroup *g, WantedMember *want, size_t n_want, bool keep) {
        _cleanup_free_ int64_t *add = NULL, *drop = NULL;
        RefList have = {};
        size_t i = 0, j = 0, n_add = 0, n_drop = 0;
        int r;

        r = resolve_unscanned(run, want, n_want);
        if (r < 0)
                return r;
        /* Members come in SCIM id order, and so do the refs of accounts first stored together. */
        for (size_t k = 1; k < n_want; k++)
                if (want[k - 1].ref > want[k].ref) {
                        qsort(want, n_want, sizeof(WantedMember), cmp_wanted);
                        break;
                }
        if (g->old.scim_id) {
                r = prov_store_member_refs_foreach(run->store, g->src->id, ref_list_add, &have);
                if (r < 0)
                        goto finish;
        }
        add = calloc(n_want + 1, sizeof(int64_t));
        drop = calloc(have.n + 1, sizeof(int64_t));
        if (!add || !drop) {
                r = -ENOMEM;
                goto finish;
        }
        /* Unknown accounts (ref 0) sort first and drop out. */
        while (j < n_want && want[j].ref <= 0)
                j++;
        while (i < have.n || j < n_want) {
                if (j > 0 && j < n_want && want[j].ref == want[j - 1].ref) {
                        j++; /* listed twice */
                        continue;
                }
                int c = i >= have.n ? 1 : j >= n_want ? -1 : (have.refs[i] > want[j].ref) - (have.refs[i] < want[j].ref);
                if (c == 0) {
                        i++, j++;
                } else if (c < 0) {
                        if (!keep) {
                                drop[n_drop++] = have.refs[i];
                                r = member_removed(run, have.refs[i], g->name);
                                if (r < 0)
                                        goto finish;
                        }
                        i++;
                } else {
                        add[n_add++] = want[j].ref;
                        if (!member_is_joiner(want[j].user)) {
                                r = member_delta(run, want[j].scim_id, g->name, true);
                                if (r < 0)
                                        goto finish;
                        }
                        j++;
                }
        }
        r = prov_store_members_remove_refs(run->store, g->src->id, drop, n_drop);
        if (r >= 0)
                r = prov_store_members_add_refs(run->store, g->src->id, add, n_add);
finish:
        free(have.refs);
        return r;
}

/* Applies the groups of the scan. While the guard holds the scan's deprovisions, its
 * removals are held too: a directory that suddenly lists nobody must not strip everyone of
 * their groups (sudo included) while it keeps their accounts. Additions still apply. */
static int apply_groups(SyncRun *run) {
        ProvSyncResult *res = run->result;
        _cleanup_free_ WantedMember *members = NULL;
        size_t cap = 0;
        int r = 0;

        /* In SCIM id order: a first sync appends to the memberships' b-tree. */
        for (size_t i = 0; i < run->n_groups; i++) {
                MappedGroup *g = &run->groups[run->group_index[i].pos];
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
                if (g->old.scim_id && changed) {
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

                if (g->src->n_members > cap) {
                        WantedMember *p = reallocarray(members, g->src->n_members, sizeof(WantedMember));
                        if (!p)
                                return -ENOMEM;
                        members = p;
                        cap = g->src->n_members;
                }
                for (size_t m = 0; m < g->src->n_members; m++) {
                        const MappedUser *u = find_user(run, g->src->member_ids[m]);
                        /* A delta lists every member of a changed group but only the users that
                         * changed: the others keep their accounts (ids the store lacks drop out).
                         * The same holds for a scan whose deprovisions the guard held: a member
                         * missing from it keeps the account, and so the membership.
                         * An account whose record is unservable this time keeps what the group
                         * says, as it keeps everything else. */
                        if (u ? (u->accepted || (u->src->unservable && u->ref > 0)) && u->in_scope
                              : run->opts->delta || res->held)
                                members[n++] = (WantedMember) { u ? u->ref : 0, g->src->member_ids[m], u };
                }
                r = sync_members(run, g, members, n, res->held);
                if (r < 0)
                        return r;
        }

        if (run->opts->delta || res->held)
                return 0; /* only a full scan within the guard's limits removes groups */

        /* Groups gone from the source lose their members at once (demotion); the gid stays
         * in the ledger. A group the source still has but that we could not map this time
         * stays as it was. */
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                const ProvGroupRecord *sg = &run->stored_groups[i];
                RefList had = {};

                if (find_group(run, sg->scim_id))
                        continue;
                r = prov_store_member_refs_foreach(run->store, sg->scim_id, ref_list_add, &had);
                for (size_t m = 0; r >= 0 && m < had.n; m++)
                        r = member_removed(run, had.refs[m], sg->name);
                free(had.refs);
                if (r >= 0)
                        r = prov_store_group_delete(run->store, sg->scim_id);
                if (r >= 0)
                        r = prov_store_audit_add(run->store, "group-remove", sg->name, sg->scim_id, sg->gid, "store",
                                                 "ok", NULL);
                if (r < 0)
                        return r;
                res->groups_removed++;
        }
        return 0;
}

static int cmp_delta(const void *a, const void *b) {
        const MemberDelta *x = a, *y = b;
        int c = strcmp(x->user, y->user);
        return c ? c : strcmp(x->group, y->group);
}

/* Movers: accounts whose set of groups changed, from the memberships this sync added and
 * removed (exactly what NSS will serve differently). One event per account. */
static int record_movers(SyncRun *run) {
        int r = 0;

        if (run->n_deltas > 0)
                qsort(run->deltas, run->n_deltas, sizeof(MemberDelta), cmp_delta);
        for (size_t i = 0; i < run->n_deltas && r >= 0;) {
                const char *user = run->deltas[i].user;
                char detail[1024] = "";
                size_t len = 0;

                for (; i < run->n_deltas && streq(run->deltas[i].user, user); i++)
                        if (len < sizeof(detail) - 80)
                                len += (size_t) snprintf(detail + len, sizeof(detail) - len, "%s%c%.64s",
                                                         len ? " " : "", run->deltas[i].added ? '+' : '-',
                                                         run->deltas[i].group);

                _cleanup_(prov_user_record_done) ProvUserRecord u = {};
                if (prov_store_user_get(run->store, user, &u) < 0)
                        continue;
                run->result->movers++;
                r = prov_store_audit_add(run->store, "mover", u.name, u.scim_id, u.uid, "store", "ok", detail);
                if (r >= 0)
                        r = add_transition(run, u.scim_id, u.name, u.uid, u.state, u.state, "mover");
        }
        return r;
}

static void run_done(SyncRun *run) {
        for (size_t i = 0; i < run->n_groups; i++) {
                free(run->groups[i].name);
                free(run->groups[i].local_name);
        }
        free(run->users);
        free(run->user_by_name);
        free(run->groups);
        prov_id_hash_done(&run->user_hash);
        free(run->group_index);
        free(run->stored_only);
        free(run->deltas);
        prov_group_records_free(run->stored_groups, run->n_stored_groups);
        free(run->stored_group_by_id);
        free(run->stored_group_by_name);
        prov_arena_done(&run->pool);
        rules_done(run);
}

static int apply_batch(SyncRun *run, const ProvScimBatch *batch) {
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

        r = load_stored_groups(run);
        if (r >= 0)
                r = rules_load(run);
        if (r >= 0)
                r = rules_resolve(run, batch);
        if (r >= 0)
                r = map_users(run, batch);
        if (r >= 0)
                r = map_groups(run, batch);
        if (r >= 0)
                r = apply_users(run);
        if (r >= 0)
                r = apply_leavers(run);
        if (r >= 0)
                r = apply_groups(run);
        if (r >= 0)
                r = record_movers(run);
        /* A full scan has seen every record: refusals it did not repeat are forgotten, and
         * audited again should they come back. */
        if (r >= 0 && !run->opts->delta)
                r = prov_store_rejects_prune(run->store, run->now);
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

static int cmp_snap_user_uid(const void *a, const void *b) {
        return cmp_u32p(&((const ProvSnapUser *) a)->uid, &((const ProvSnapUser *) b)->uid);
}

/* Every stored account by ref: what memberships are resolved against. */
typedef struct ExportUser {
        int64_t ref;
        const char *name; /* NULL: not served, or not active (then a member of nothing) */
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
        size_t *first, *count;  /* per groups[] entry: its slice of names */
        const char **names;
        size_t n_names, cap_names;
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
        free(e->names);
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
        int r;

        /* Defence in depth: the host's own accounts always win, even if /etc/passwd gained a
         * name or id after the account was mapped. */
        if (name_refused(e->config, e->local, u->name) || prov_local_id_taken(u->uid, (void *) e->local) ||
            u->uid < e->config->uid_min || u->uid > e->config->uid_max)
                log_warning("Not serving '%s' (uid %" PRIu32 "): %s", SAFE(u->name), u->uid,
                            name_refused(e->config, e->local, u->name) ?: "its uid is a local id or out of range");
        else {
                r = grow_array((void **) &e->su, &e->cap_su, e->nu, sizeof(ProvSnapUser));
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
                /* Keys only for who may log in: the same rule as the shell. */
                if (u->state == PROV_STATE_ACTIVE && u->ssh_keys && u->ssh_keys[0]) {
                        r = grow_array((void **) &e->keys, &e->cap_keys, e->n_keys, sizeof(ProvSshKeysRecord));
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
        r = grow_array((void **) &e->by_ref, &e->cap_by_ref, e->n_by_ref, sizeof(ExportUser));
        if (r < 0)
                return r;
        /* Demotion: only active accounts are members of anything. */
        e->by_ref[e->n_by_ref++] = (ExportUser) { u->ref, u->state == PROV_STATE_ACTIVE ? name : NULL };
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

/* Memberships are read by ref: each group's members end up in one slice of names. */
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
        if (!u || !u->name)
                return 0;
        r = grow_array((void **) &e->names, &e->cap_names, e->n_names, sizeof(char *));
        if (r < 0)
                return r;
        if (e->count[g] == 0)
                e->first[g] = e->n_names;
        e->names[e->n_names++] = u->name;
        e->count[g]++;
        return 0;
}

/* Reads the store in one pass per table, keeping only what the snapshot serves. */
static int export_collect(Export *e, ProvStore *store) {
        int r;

        size_t n_users = 0, n_memberships = 0;

        /* Arrays sized once: at 100k accounts growing them would cost half as much again. */
        r = prov_store_counts(store, &n_users, NULL, &n_memberships);
        if (r < 0)
                return r;
        e->su = reallocarray(NULL, n_users + 1, sizeof(ProvSnapUser));
        e->by_ref = reallocarray(NULL, n_users + 1, sizeof(ExportUser));
        e->names = reallocarray(NULL, n_memberships + 1, sizeof(char *));
        if (!e->su || !e->by_ref || !e->names)
                return -ENOMEM;
        e->cap_su = e->cap_by_ref = n_users + 1;
        e->cap_names = n_memberships + 1;

        /* In storage order, not through the uid index: that would be a random read of the
         * table per account. The snapshot lists them by uid. */
        r = prov_store_users_foreach(store, PROV_USER_ORDER_REF, export_user, e);
        if (r < 0)
                return r;
        qsort(e->su, e->nu, sizeof(ProvSnapUser), cmp_snap_user_uid);

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

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
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
        qsort(served_names, e.nu, sizeof(char *), cmp_strp);
        qsort(served_ids, e.nu, sizeof(uint32_t), cmp_u32p);

        for (size_t i = 0; i < e.n_groups; i++) {
                const ProvGroupRecord *g = &e.groups[i];
                bool mapped = g->local_name != NULL;

                if (!mapped && (name_refused(config, local, g->name) || prov_local_id_taken(g->gid, (void *) local))) {
                        log_warning("Not serving group '%s': %s", SAFE(g->name),
                                    name_refused(config, local, g->name) ?: "its gid is a local id");
                        continue;
                }
                if (!mapped && (bsearch(&g->name, served_names, e.nu, sizeof(char *), cmp_strp) ||
                                bsearch(&g->gid, served_ids, e.nu, sizeof(uint32_t), cmp_u32p))) {
                        log_warning("Not serving group '%s': its name or gid is a user's private group", SAFE(g->name));
                        continue;
                }
                sg[ng++] = (ProvSnapGroup) {
                        .name = g->name,
                        .gid = g->gid,
                        .members = e.names + e.first[i],
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
