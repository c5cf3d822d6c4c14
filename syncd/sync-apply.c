/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Apply: the mapped state goes into the store, as the differences to what it holds. Joiners,
 * updates, renames and state changes of the accounts; the leavers, held as a whole by the
 * mass-deprovision guard when too many; the groups and their members; the movers. Each change
 * is audited and becomes a transition for enforcement. The admin's actions on the store (block,
 * unblock, the approval of a held sync) are in sync-actions.c. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "log.h"
#include "prov-validate.h"
#include "sync-internal.h"

/* Joiners logged one by one per sync; the rest are counted (the audit log has them all). */
#define JOINERS_LOGGED_MAX 100u

int sync_add_transition(SyncRun *run, const char *scim_id, const char *name, uint32_t uid, ProvState old_state,
                        ProvState new_state, const char *event) {
        ProvSyncResult *res = run->result;
        ProvTransition *t;

        int r;

        r = prov_grow((void **) &res->transitions, &run->cap_transitions, res->n_transitions + 1, sizeof(*t));
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
        return sync_add_transition(run, rec.scim_id, rec.name, rec.uid, PROV_STATE_ACTIVE, PROV_STATE_SUSPENDED, "suspend");
}

/* The valid SSH keys of a directory user, joined by '\n' into *ret (malloc'ed; NULL when none).
 * An invalid key is skipped and audited once (sync_reject()), the others are kept: one bad line
 * pasted into a profile must not lock its owner out of the keys that work. */
static int user_ssh_keys(SyncRun *run, const MappedUser *u, char **ret) {
        const ProvScimUser *s = u->src;
        _cleanup_free_ char *joined = NULL;
        size_t len = 0, cap = 0;
        int r;

        *ret = NULL;
        for (size_t i = 0; i < s->n_ssh_keys; i++) {
                const char *why = NULL;
                char reason[128];
                size_t n;

                if (!prov_valid_ssh_key(s->ssh_keys[i], &why)) {
                        snprintf(reason, sizeof(reason), "SSH key %zu of %zu skipped: %s", i + 1, s->n_ssh_keys, why);
                        r = sync_reject(run, "user", s->id, u->name, reason);
                        if (r < 0)
                                return r;
                        continue;
                }
                n = strlen(s->ssh_keys[i]);
                r = prov_grow((void **) &joined, &cap, len + (len > 0) + n + 1, 1);
                if (r < 0)
                        return r;
                if (len > 0)
                        joined[len++] = '\n';
                memcpy(joined + len, s->ssh_keys[i], n + 1);
                len += n;
        }
        *ret = TAKE_PTR(joined);
        return 0;
}

int sync_apply_users(SyncRun *run) {
        ProvSyncResult *res = run->result;
        size_t joiners = 0;
        int r;

        /* A first sync has a transition per account: one allocation for all of them. */
        for (size_t i = 0; i < run->n_users; i++)
                joiners += run->users[i].accepted && !run->users[i].old.name;
        if (joiners > run->cap_transitions) {
                r = prov_grow((void **) &res->transitions, &run->cap_transitions, joiners + 16, sizeof(ProvTransition));
                if (r < 0)
                        return r;
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
                        .gecos = (char *) sync_user_gecos(u),
                        .home = (char *) sync_user_home(run, u, home, sizeof(home)),
                        .shell = (char *) sync_user_shell(run, u),
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
                                r = sync_add_transition(run, rec.scim_id, rec.name, rec.uid, _PROV_STATE_INVALID, want,
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
                               u->old.fields_hash != sync_fields_hash(rec.gecos, rec.home, rec.shell, rec.ssh_keys) ||
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
                                r = sync_add_transition(run, rec.scim_id, rec.name, rec.uid, u->old.state, rec.state,
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
                                r = sync_add_transition(run, rec.scim_id, rec.name, rec.uid, u->old.state, rec.state, event);
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
        StoredOnly *stored_only; /* when not in the scan */
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
                /* Deprovisioned and back in this scan: sync_apply_users() has reactivated it. */
                if (deprovisioned ? u->accepted && u->in_scope : u->in_scope)
                        continue;
                r = prov_grow((void **) &v, &cap, n + 1, sizeof(Leaver));
                if (r < 0)
                        return r;
                v[n++] = (Leaver) { u->src->id, u->old.name, u->old.uid, u->old.state, u->old.state_changed_usec, true };
        }
        for (size_t i = 0; i < run->n_stored_only; i++) {
                StoredOnly *s = &run->stored_only[i];
                if ((s->state == PROV_STATE_DEPROVISIONED) != deprovisioned)
                        continue;
                r = prov_grow((void **) &v, &cap, n + 1, sizeof(Leaver));
                if (r < 0)
                        return r;
                v[n++] = (Leaver) { s->scim_id, s->name, s->uid, s->state, s->state_changed_usec, false, s };
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
                r = sync_add_transition(run, u.scim_id, u.name, u.uid, l->state, PROV_STATE_DEPROVISIONED, "deprovision");
        if (r < 0)
                return r;
        log_user(LOG_NOTICE, u.name, u.uid, "deprovision", "User %s deprovisioned", u.name);
        return 0;
}

/* The accounts a delta names as deleted at the source (the hub's feed): deprovisioned by the
 * same deprovision() as the leavers of a full scan. One the batch brings back is not gone. The
 * mass-deprovision guard is the hub's here: its deletes come one by one, as its IdPs send them. */
static int apply_deleted_users(SyncRun *run) {
        int r;

        for (size_t i = 0; i < run->opts->n_gone_users; i++) {
                _cleanup_(prov_user_record_done) ProvUserRecord u = {};
                const char *id = run->opts->gone_users[i];

                if (sync_find_user(run, id))
                        continue;
                r = prov_store_user_get(run->store, id, &u);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (u.state == PROV_STATE_DEPROVISIONED)
                        continue;
                r = deprovision(run, &(Leaver) { u.scim_id, u.name, u.uid, u.state, u.state_changed_usec, false },
                                "deleted at the source");
                if (r < 0)
                        return r;
        }
        return 0;
}

int sync_apply_leavers(SyncRun *run) {
        const ProvConfig *c = run->config;
        ProvSyncResult *res = run->result;
        _cleanup_free_ Leaver *leavers = NULL, *gone = NULL;
        size_t n_leavers = 0, n_gone = 0;
        int r;

        /* A delta cannot tell who is gone: only full scans deprovision, and deltas that name
         * their deletions. */
        if (run->opts->delta)
                return apply_deleted_users(run);

        /* The accounts the sync started from: the ones missing from the scan were not touched
         * by sync_apply_users(). */
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
                                /* Still an account of the source: its groups still count. */
                                u->stored_only->kept = true;
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
        const MappedUser *u = sync_find_user(run, user_scim_id);
        int r;

        if (u && !u->old.name)
                return 0;
        r = prov_grow((void **) &run->deltas, &run->cap_deltas, run->n_deltas + 1, sizeof(MemberDelta));
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
        r = prov_grow((void **) &l->refs, &l->cap, l->n + 1, sizeof(int64_t));
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

/* A stored group gone from the source: its members lose it at once (demotion), its gid stays
 * in the ledger. */
static int remove_group(SyncRun *run, const ProvGroupRecord *sg) {
        RefList had = {};
        int r;

        r = prov_store_member_refs_foreach(run->store, sg->scim_id, ref_list_add, &had);
        for (size_t m = 0; r >= 0 && m < had.n; m++)
                r = member_removed(run, had.refs[m], sg->name);
        free(had.refs);
        if (r >= 0)
                r = prov_store_group_delete(run->store, sg->scim_id);
        if (r >= 0)
                r = prov_store_audit_add(run->store, "group-remove", sg->name, sg->scim_id, sg->gid, "store", "ok", NULL);
        if (r < 0)
                return r;
        run->result->groups_removed++;
        return 0;
}

/* True if that member, missing from this full scan, is a stored account the source still has. */
static bool stored_kept(const SyncRun *run, const char *scim_id) {
        size_t lo = 0, hi = run->n_stored_only;

        /* stored_only[] is in SCIM id order (load_old_users()). */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(run->stored_only[mid].scim_id, scim_id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < run->n_stored_only && streq(run->stored_only[lo].scim_id, scim_id) && run->stored_only[lo].kept;
}

/* Applies the groups of the scan. While the guard holds the scan's deprovisions, its
 * removals are held too: a directory that suddenly lists nobody must not strip everyone of
 * their groups (sudo included) while it keeps their accounts. Additions still apply. */
int sync_apply_groups(SyncRun *run) {
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
                        r = sync_reject(run, "group", g->src->id, g->name, "name or gid held by another stored group");
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

                r = prov_grow((void **) &members, &cap, g->src->n_members, sizeof(WantedMember));
                if (r < 0)
                        return r;
                for (size_t m = 0; m < g->src->n_members; m++) {
                        const MappedUser *u = sync_find_user(run, g->src->member_ids[m]);
                        /* A delta lists every member of a changed group but only the users that
                         * changed: the others keep their accounts (ids the store lacks drop out).
                         * The same holds for a scan whose deprovisions the guard held: a member
                         * missing from it keeps the account, and so the membership.
                         * An account whose record is unservable this time keeps what the group
                         * says, as it keeps everything else. */
                        if (u ? (u->accepted || (u->src->unservable && u->ref > 0)) && u->in_scope
                              : run->opts->delta || res->held || stored_kept(run, g->src->member_ids[m]))
                                members[n++] = (WantedMember) { u ? u->ref : 0, g->src->member_ids[m], u };
                }
                r = sync_members(run, g, members, n, res->held);
                if (r < 0)
                        return r;
        }

        if (run->opts->delta) {
                /* A delta removes only the groups it names as deleted. */
                for (size_t i = 0; i < run->opts->n_gone_groups; i++) {
                        const ProvGroupRecord *sg = sync_stored_group(run, run->opts->gone_groups[i], NULL);

                        if (sg && !sync_find_group(run, sg->scim_id)) {
                                r = remove_group(run, sg);
                                if (r < 0)
                                        return r;
                        }
                }
                return 0;
        }
        if (res->held)
                return 0; /* only a full scan within the guard's limits removes groups */

        /* Groups gone from the source lose their members at once (demotion); the gid stays
         * in the ledger. A group the source still has but that we could not map this time
         * stays as it was. */
        for (size_t i = 0; i < run->n_stored_groups; i++) {
                const ProvGroupRecord *sg = &run->stored_groups[i];

                if (sync_find_group(run, sg->scim_id))
                        continue;
                /* A page that repeats or a totalResults that lies leaves groups out of a scan
                 * that adds up: ask the source about each one, as about a missing user. */
                if (run->opts->confirm_group_gone) {
                        r = run->opts->confirm_group_gone(sg->scim_id, run->opts->userdata);
                        if (r <= 0) {
                                log_warning("Not removing group '%s': %s", SAFE(sg->name),
                                            r == 0 ? "the source still has it" : "the source could not confirm its removal");
                                r = prov_store_audit_add(run->store, "group-remove", sg->name, sg->scim_id, sg->gid,
                                                         "confirm", r == 0 ? "skipped" : "failed",
                                                         r == 0 ? "missing from the scan but still at the source"
                                                                : "removal not confirmed, retried next full sync");
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                r = remove_group(run, sg);
                if (r < 0)
                        return r;
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
int sync_record_movers(SyncRun *run) {
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
                        r = sync_add_transition(run, u.scim_id, u.name, u.uid, u.state, u.state, "mover");
        }
        return r;
}
