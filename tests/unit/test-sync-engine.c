/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sync engine end to end below the daemon: directory JSON -> mapping -> store -> snapshot,
 * read back through the snapshot reader that NSS uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "prov-config.h"
#include "prov-snapshot.h"
#include "prov-sshkeys.h"
#include "prov-validate.h"
#include "sync.h"

typedef struct Fixture {
        char dir[64];
        ProvConfig *config;
        ProvLocalAccounts *local;
        ProvStore *store;
} Fixture;

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void set_str(char **field, const char *value) {
        free(*field);
        *field = value ? strdup(value) : NULL;
}

static char **strv(const char *a, const char *b) {
        char **v = calloc(3, sizeof(char *));
        v[0] = a ? strdup(a) : NULL;
        v[1] = b ? strdup(b) : NULL;
        return v;
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        char path[128];

        strcpy(f->dir, "/tmp/test-sync-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(path, sizeof(path), "%s/passwd", f->dir);
        write_file(path, "root:x:0:0:root:/root:/bin/bash\n"
                         "localuser:x:1000:1000:Local:/home/localuser:/bin/bash\n"
                         "squatter:x:200500:200500::/:/bin/sh\n");
        snprintf(path, sizeof(path), "%s/group", f->dir);
        write_file(path, "root:x:0:\nsudo:x:27:localuser\nlocalgrp:x:1000:\n");

        assert_int_equal(prov_config_new(&f->config), 0);
        set_str(&f->config->state_dir, f->dir);
        snprintf(path, sizeof(path), "%s/passwd", f->dir);
        set_str(&f->config->passwd_file, path);
        snprintf(path, sizeof(path), "%s/group", f->dir);
        set_str(&f->config->group_file, path);
        f->config->max_deprovision = 40;
        f->config->strip_domain = true;
        f->config->max_deprovision_percent = true;
        assert_int_equal(prov_local_load(f->config->passwd_file, f->config->group_file, &f->local), 0);
        snprintf(path, sizeof(path), "%s/store.db", f->dir);
        assert_int_equal(prov_store_open(path, &f->store), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        prov_store_close(f->store);
        prov_local_free(f->local);
        prov_config_free(f->config);
        /* Only files we created: the store, its WAL, the snapshot, the local files. */
        const char *names[] = { "store.db", "store.db-wal", "store.db-shm", "snapshot", "ssh-keys", "passwd", "group" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(cmd, sizeof(cmd), "%s/%s", f->dir, names[i]);
                unlink(cmd);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Runs one full sync of the given directory JSON and publishes the snapshot. */
static int sync_json(Fixture *f, const char *json, ProvSyncResult *ret) {
        ProvScimBatch *batch = NULL;
        ProvScimParseOptions opts = { .uid_attribute = f->config->uid_attribute,
                                      .gid_attribute = f->config->gid_attribute };
        int r;

        r = prov_scim_parse_directory(json, strlen(json), &opts, &batch);
        if (r < 0)
                return r;
        r = prov_sync_apply_full(f->store, f->config, f->local, batch, ret);
        prov_scim_batch_free(batch);
        if (r < 0)
                return r;
        /* SQLite does not enforce the foreign keys (see prov_store_open()): the store must. */
        assert_int_equal(prov_store_check_references(f->store), 0);
        return prov_sync_export(f->store, f->config, f->local);
}

static ProvSnapshot *open_snapshot(Fixture *f) {
        char path[128];
        ProvSnapshot *s = NULL;

        snprintf(path, sizeof(path), "%s/snapshot", f->dir);
        assert_int_equal(prov_snapshot_open(path, &s), 0);
        return s;
}

/* True if the snapshot lists user `name` as a member of group `group`. */
static bool snap_is_member(ProvSnapshot *s, const char *group, const char *name) {
        ProvSnapGroupView g;
        if (prov_snapshot_group_by_name(s, group, &g) < 0)
                return false;
        for (uint32_t i = 0; i < g.n_members; i++) {
                const char *m = NULL;
                assert_int_equal(prov_snapshot_group_member(s, &g, i, &m), 0);
                if (strcmp(m, name) == 0)
                        return true;
        }
        return false;
}

static size_t count_audit(Fixture *f, const char *event) {
        ProvAuditEvent *ev = NULL;
        size_t n = 0, c = 0;
        assert_int_equal(prov_store_audit_load(f->store, NULL, 0, 100000, &ev, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(ev[i].event, event) == 0)
                        c++;
        prov_audit_events_free(ev, n);
        return c;
}

#define USER(id, name, active) \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"" id "\",\"userName\":\"" name \
        "\",\"displayName\":\"User " id "\",\"active\":" active "}"
#define GROUP(id, name, members) \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"" id "\",\"displayName\":\"" name \
        "\",\"members\":[" members "]}"
#define M(id) "{\"value\":\"" id "\"}"

static const char *dir_v1 =
        "{\"Users\":[" USER("u1", "Alice@example.com", "true") "," USER("u2", "bob", "true") "," USER("u3", "carol", "true")
        "," USER("u4", "dave", "true") "],"
        "\"Groups\":[" GROUP("g1", "Engineering", M("u1") "," M("u2")) "," GROUP("g2", "Sales", M("u3")) "]}";

static void test_joiners(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        ProvSnapGroupView g;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        assert_int_equal(res.joiners, 4);
        assert_int_equal(res.rejected, 0);
        assert_false(res.held);
        prov_sync_result_done(&res);

        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "alice", &u), 0);
        assert_true(u.uid >= f->config->uid_min && u.uid <= f->config->uid_max);
        assert_int_equal(u.gid, u.uid); /* user private group */
        assert_string_equal(u.home, "/home/alice");
        assert_string_equal(u.shell, "/bin/bash");
        assert_string_equal(u.gecos, "User u1");
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        assert_int_equal(prov_snapshot_group_by_name(s, "alice", &g), 0);
        assert_int_equal(g.gid, u.uid);
        assert_true(snap_is_member(s, "engineering", "alice"));
        assert_true(snap_is_member(s, "engineering", "bob"));
        assert_false(snap_is_member(s, "engineering", "carol"));
        assert_true(snap_is_member(s, "sales", "carol"));
        assert_int_equal(u.n_gids, 1);
        assert_int_equal(count_audit(f, "joiner"), 4);
        prov_snapshot_close(s);
}

static void test_uid_deterministic_across_hosts(void **state) {
        Fixture *f = *state;
        void *other_state = NULL;
        ProvSyncResult res = {};
        ProvSnapUserView a, b;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        setup(&other_state);
        Fixture *o = other_state;
        assert_int_equal(sync_json(o, dir_v1, &res), 0);
        prov_sync_result_done(&res);

        ProvSnapshot *s1 = open_snapshot(f), *s2 = open_snapshot(o);
        for (const char *const *n = (const char *const[]) { "bob", "carol", "dave", NULL }; *n; n++) {
                assert_int_equal(prov_snapshot_user_by_name(s1, *n, &a), 0);
                assert_int_equal(prov_snapshot_user_by_name(s2, *n, &b), 0);
                assert_int_equal(a.uid, b.uid);
        }
        prov_snapshot_close(s1);
        prov_snapshot_close(s2);
        teardown(&other_state);
}

static void test_mover_rename_suspend_reactivate(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        uint32_t bob_uid;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        bob_uid = u.uid;
        prov_snapshot_close(s);

        /* bob moves to Sales and is renamed robert; carol is deactivated the Entra way. */
        const char *v2 =
                "{\"Users\":[" USER("u1", "alice@example.com", "true") "," USER("u2", "robert", "true") ","
                USER("u3", "carol", "\"False\"") "," USER("u4", "dave", "true") "],"
                "\"Groups\":[" GROUP("g1", "Engineering", M("u1")) "," GROUP("g2", "Sales", M("u3") "," M("u2")) "]}";
        assert_int_equal(sync_json(f, v2, &res), 0);
        assert_int_equal(res.renamed, 1);
        assert_int_equal(res.suspended, 1);
        assert_true(res.movers >= 1);
        prov_sync_result_done(&res);

        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "robert", &u), 0);
        assert_int_equal(u.uid, bob_uid); /* a rename keeps the uid */
        assert_false(snap_is_member(s, "engineering", "robert"));
        assert_true(snap_is_member(s, "sales", "robert"));
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), 0);
        assert_int_equal(u.state, PROV_STATE_SUSPENDED);
        assert_string_equal(u.shell, "/usr/sbin/nologin");
        assert_int_equal(u.n_gids, 0);                       /* demoted */
        assert_false(snap_is_member(s, "sales", "carol"));
        prov_snapshot_close(s);
        assert_int_equal(count_audit(f, "rename"), 1);
        assert_int_equal(count_audit(f, "suspend"), 1);
        assert_true(count_audit(f, "mover") >= 1);

        /* Reactivation restores shell and groups. */
        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        assert_int_equal(res.reactivated, 1);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        assert_string_equal(u.shell, "/bin/bash");
        assert_true(snap_is_member(s, "sales", "carol"));
        prov_snapshot_close(s);
}

static void test_deprovision_and_guard(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);

        /* An empty directory is an outage: held, nobody lost. */
        assert_int_equal(sync_json(f, "{\"Users\":[],\"Groups\":[]}", &res), 0);
        assert_true(res.held);
        assert_int_equal(res.deprovisioned, 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        /* Nor do they lose their groups: the outage's removals are held with its deprovisions. */
        assert_true(snap_is_member(s, "engineering", "alice"));
        assert_true(snap_is_member(s, "engineering", "bob"));
        assert_true(snap_is_member(s, "sales", "carol"));
        prov_snapshot_close(s);
        int64_t id, dep, total;
        assert_int_equal(prov_store_hold_pending(f->store, &id, &dep, &total), 0);
        assert_int_equal(dep, 4);

        /* A 50% drop is held too (max_deprovision = 40%). */
        const char *half = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") "]}";
        assert_int_equal(sync_json(f, half, &res), 0);
        assert_true(res.held);
        assert_int_equal(res.deprovisioned, 0);
        prov_sync_result_done(&res);

        /* One leaver of four (25%) is within the limit and applied. */
        const char *one_gone = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") ","
                               USER("u3", "carol", "true") "]}";
        assert_int_equal(sync_json(f, one_gone, &res), 0);
        assert_false(res.held);
        assert_int_equal(res.deprovisioned, 1);
        assert_int_equal(res.n_transitions > 0, 1);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_DEPROVISIONED);
        assert_string_equal(u.shell, "/usr/sbin/nologin");
        prov_snapshot_close(s);
}

static void test_hostile_records_skipped(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        set_str(&f->config->uid_attribute, "urn:ietf:params:scim:schemas:extension:posix:2.0:User:uidNumber");
        f->config->home_from_attribute = true;
        const char *posix = "\"urn:ietf:params:scim:schemas:extension:posix:2.0:User\":";
        char json[4096];
        snprintf(json, sizeof(json),
                 "{\"Users\":["
                 "{\"id\":\"h1\",\"userName\":\"root\"},"                     /* local name */
                 "{\"id\":\"h2\",\"userName\":\"a:b\"},"                      /* not POSIX */
                 "{\"id\":\"h3\",\"userName\":\"zero\",%s{\"uidNumber\":0}},"  /* uid 0 */
                 "{\"id\":\"h4\",\"userName\":\"dup1\",%s{\"uidNumber\":300000}},"
                 "{\"id\":\"h5\",\"userName\":\"dup2\",%s{\"uidNumber\":300000}}," /* duplicate uid */
                 "{\"id\":\"h6\",\"userName\":\"squat\",%s{\"uidNumber\":200500}}," /* local uid */
                 "{\"id\":\"h7\",\"userName\":\"evilhome\",\"homeDirectory\":\"/etc/../root\"},"
                 "{\"id\":\"h8\",\"userName\":\"evilshell\",\"loginShell\":\"/tmp/sh\"},"
                 "{\"id\":\"h9\",\"userName\":\"Good\",\"displayName\":\"Good, Person\"},"
                 "{\"id\":\"h99\",\"userName\":\"good\"}," /* case-only collision with h9 */
                 "{\"id\":\"h11\",\"userName\":\"-dash\"},"
                 "{\"id\":\"h12\",\"userName\":\"12345\"}"
                 "],\"Groups\":[" GROUP("g1", "root", M("h9")) "," GROUP("g2", "team", M("h9")) "]}",
                 posix, posix, posix, posix);
        assert_int_equal(sync_json(f, json, &res), 0);
        prov_sync_result_done(&res);

        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "root", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "zero", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "squat", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "evilhome", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "evilshell", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "-dash", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "12345", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_uid(s, 0, &u), -ENOENT);
        /* Exactly one of the two claimants of uid 300000 and of the name "good". */
        int dups = (prov_snapshot_user_by_name(s, "dup1", &u) == 0) + (prov_snapshot_user_by_name(s, "dup2", &u) == 0);
        assert_int_equal(dups, 1);
        assert_int_equal(prov_snapshot_user_by_name(s, "good", &u), 0);
        assert_string_equal(u.gecos, "Good, Person");
        ProvSnapGroupView g;
        assert_int_equal(prov_snapshot_group_by_name(s, "team", &g), 0);
        assert_int_equal(prov_snapshot_group_by_gid(s, 0, &g), -ENOENT);
        /* The group named root is a local name: never served, never gid 0. */
        assert_int_equal(prov_snapshot_group_by_name(s, "root", &g), -ENOENT);
        prov_snapshot_close(s);
        assert_true(count_audit(f, "reject") >= 10);
}

/* uid_min..uid_max narrowed after ids were handed out: what now falls outside is not served, and
 * the rest of the snapshot still publishes (an unmapped group's recorded gid used to reach the
 * snapshot writer, which refused the whole write). */
#define RANGE_MAX(a, b) ((a) > (b) ? (a) : (b))
static void test_narrowed_range_still_publishes(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        ProvSnapGroupView g;
        uint32_t top = 0, gid_eng;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_group_by_name(s, "engineering", &g), 0);
        gid_eng = g.gid;
        const char *names[] = { "alice", "bob", "carol", "dave" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_int_equal(prov_snapshot_user_by_name(s, names[i], &u), 0);
                top = RANGE_MAX(top, u.uid);
        }
        prov_snapshot_close(s);

        /* Every group's gid above the users' uids: only the groups fall outside. */
        f->config->uid_max = RANGE_MAX(top, f->config->uid_min);
        if (gid_eng <= f->config->uid_max)
                f->config->uid_max = gid_eng - 1;
        assert_true(f->config->uid_max >= f->config->uid_min);
        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_group_by_name(s, "engineering", &g), -ENOENT);
        assert_int_equal(prov_snapshot_group_by_gid(s, gid_eng, &g), -ENOENT);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (prov_snapshot_user_by_name(s, names[i], &u) == 0)
                        assert_true(u.uid <= f->config->uid_max);
        prov_snapshot_close(s);
}

/* A joiner's uid and private gid are held by its row, not by ledger rows: a group asking for
 * that gid in the same sync, and later an account asking for a uid given up, are refused. */
static void test_ids_held_without_ledger_rows(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        ProvSnapGroupView g;
        char *owner = NULL;

        set_str(&f->config->uid_attribute, "uidNumber");
        set_str(&f->config->gid_attribute, "gidNumber");
        assert_int_equal(sync_json(f,
                                   "{\"Users\":[{\"id\":\"a\",\"userName\":\"amy\",\"uidNumber\":300000}],"
                                   "\"Groups\":[{\"id\":\"g\",\"displayName\":\"squatters\",\"gidNumber\":300000,"
                                   "\"members\":[" M("a") "]}]}",
                                   &res),
                         0);
        assert_int_equal(res.joiners, 1);
        assert_int_equal(res.rejected, 1);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_uid(s, 300000, &u), 0);
        assert_string_equal(u.name, "amy");
        assert_int_equal(prov_snapshot_group_by_name(s, "squatters", &g), -ENOENT);
        prov_snapshot_close(s);
        assert_int_equal(prov_store_ledger_owner(f->store, PROV_ID_GID, 300000, &owner), 0);
        assert_string_equal(owner, "user:a");
        free(owner);

        /* amy moves to another uid; bo may not have the one she left. */
        assert_int_equal(sync_json(f,
                                   "{\"Users\":[{\"id\":\"a\",\"userName\":\"amy\",\"uidNumber\":300001},"
                                   "{\"id\":\"b\",\"userName\":\"bo\",\"uidNumber\":300000}],\"Groups\":[]}",
                                   &res),
                         0);
        assert_int_equal(res.joiners, 0);
        assert_int_equal(res.rejected, 1);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_uid(s, 300001, &u), 0);
        assert_string_equal(u.name, "amy");
        assert_int_equal(prov_snapshot_user_by_uid(s, 300000, &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "bo", &u), -ENOENT);
        prov_snapshot_close(s);
        assert_int_equal(prov_store_ledger_owner(f->store, PROV_ID_UID, 300000, &owner), 0);
        assert_string_equal(owner, "user:a");
        free(owner);
}

static void test_scope_and_role_mapping(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        ProvSnapGroupView g;

        strv_free(f->config->allow_groups);
        f->config->allow_groups = strv("Engineering", "Admins");
        strv_free(f->config->map_groups);
        f->config->map_groups = strv("Admins=sudo", NULL);
        const char *dir =
                "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") "," USER("u3", "carol", "true")
                "],\"Groups\":[" GROUP("g1", "Engineering", M("u1") "," M("u2")) "," GROUP("g2", "Sales", M("u3")) ","
                GROUP("g3", "Admins", M("u1")) "]}";
        assert_int_equal(sync_json(f, dir, &res), 0);
        assert_int_equal(res.joiners, 2);
        prov_sync_result_done(&res);

        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), -ENOENT); /* out of scope */
        assert_int_equal(prov_snapshot_group_by_name(s, "sudo", &g), 0);
        assert_int_equal(g.gid, 27);
        assert_true(g.flags & PROV_SNAP_GROUP_MAPPED);
        assert_true(snap_is_member(s, "sudo", "alice"));
        assert_false(snap_is_member(s, "sudo", "bob"));
        prov_snapshot_close(s);

        /* Demotion: alice leaves Admins, so she is no longer in sudo. bob leaves scope. */
        f->config->max_deprovision = 100;
        const char *dir2 =
                "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") "," USER("u3", "carol", "true")
                "],\"Groups\":[" GROUP("g1", "Engineering", M("u1")) "," GROUP("g2", "Sales", M("u3")) ","
                GROUP("g3", "Admins", "") "]}";
        assert_int_equal(sync_json(f, dir2, &res), 0);
        assert_int_equal(res.deprovisioned, 1);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_false(snap_is_member(s, "sudo", "alice"));
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        assert_int_equal(u.state, PROV_STATE_DEPROVISIONED);
        prov_snapshot_close(s);
}

static void test_malformed_directory_changes_nothing(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvScimBatch *batch = NULL;
        const char *bad = "{\"Users\":[{\"id\":\"u1\",\"userName\":\"alice\"";

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        assert_true(prov_scim_parse_directory(bad, strlen(bad), &(ProvScimParseOptions) {}, &batch) < 0);
        assert_null(batch);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_n_users(s), 4);
        prov_snapshot_close(s);
}

static int sync_with(Fixture *f, const char *json, const ProvSyncOptions *opts, ProvSyncResult *ret) {
        ProvScimBatch *batch = NULL;
        int r;

        r = prov_scim_parse_directory(json, strlen(json), &(ProvScimParseOptions) {}, &batch);
        if (r < 0)
                return r;
        r = prov_sync_apply(f->store, f->config, f->local, batch, opts, ret);
        prov_scim_batch_free(batch);
        if (r < 0)
                return r;
        assert_int_equal(prov_store_check_references(f->store), 0);
        return prov_sync_export(f->store, f->config, f->local);
}

static void test_delta_never_deprovisions(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);

        /* A delta with one changed user (suspended) and one new one: the absent users stay,
         * the new user joins, and the group listed in the delta keeps its unchanged members. */
        const char *delta = "{\"Users\":[" USER("u3", "carol", "false") "," USER("u5", "erin", "true") "],"
                            "\"Groups\":[" GROUP("g1", "Engineering", M("u1") "," M("u2") "," M("u5")) "]}";
        assert_int_equal(sync_with(f, delta, &(ProvSyncOptions) { .delta = true }, &res), 0);
        assert_int_equal(res.deprovisioned, 0);
        assert_int_equal(res.suspended, 1);
        assert_int_equal(res.joiners, 1);
        assert_false(res.held);
        prov_sync_result_done(&res);

        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), 0);
        assert_int_equal(u.state, PROV_STATE_SUSPENDED);
        assert_true(snap_is_member(s, "engineering", "alice"));
        assert_true(snap_is_member(s, "engineering", "bob"));
        assert_true(snap_is_member(s, "engineering", "erin"));
        assert_int_equal(prov_snapshot_group_by_name(s, "sales", &(ProvSnapGroupView) {}), 0);
        prov_snapshot_close(s);

        /* A delta that lists only a group: its members are all stored accounts the delta does
         * not carry (and one id nobody has). bob leaves it and dave joins it: two movers. */
        delta = "{\"Users\":[],\"Groups\":[" GROUP("g1", "Engineering", M("u1") "," M("u4") "," M("u5") "," M("nobody")) "]}";
        assert_int_equal(sync_with(f, delta, &(ProvSyncOptions) { .delta = true }, &res), 0);
        assert_int_equal(res.movers, 2);
        assert_int_equal(res.deprovisioned, 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_true(snap_is_member(s, "engineering", "alice"));
        assert_false(snap_is_member(s, "engineering", "bob"));
        assert_true(snap_is_member(s, "engineering", "dave"));
        assert_true(snap_is_member(s, "engineering", "erin"));
        prov_snapshot_close(s);
        assert_int_equal(prov_store_check_references(f->store), 0);
}

/* A delta that names its deletions (the hub's feed): a deleted user is deprovisioned by the
 * full scan's path (same state, audit, transition), a deleted group removed; unknown ids are
 * ignored; the state value lands in the same transaction. */
static void test_delta_deletions(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        int64_t seq = 0;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit(f, "deprovision"), 0);

        const char *gone_users[] = { "u4", "nobody", NULL };
        const char *gone_groups[] = { "g2", NULL };
        ProvSyncOptions opts = {
                .delta = true,
                .gone_users = gone_users,
                .n_gone_users = 2,
                .gone_groups = gone_groups,
                .n_gone_groups = 1,
                .state_key = "hub_seq",
                .state_value = 17,
        };
        assert_int_equal(sync_with(f, "{\"Users\":[],\"Groups\":[]}", &opts, &res), 0);
        assert_int_equal(res.deprovisioned, 1);
        assert_int_equal(res.groups_removed, 1);
        assert_false(res.held);
        assert_int_equal(res.n_transitions >= 1, 1);
        bool found = false;
        for (size_t i = 0; i < res.n_transitions; i++)
                if (strcmp(res.transitions[i].scim_id, "u4") == 0) {
                        assert_string_equal(res.transitions[i].event, "deprovision");
                        assert_int_equal(res.transitions[i].new_state, PROV_STATE_DEPROVISIONED);
                        found = true;
                }
        assert_true(found);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit(f, "deprovision"), 1);
        assert_int_equal(count_audit(f, "group-remove"), 1);
        assert_int_equal(prov_store_state_get_int(f->store, "hub_seq", &seq), 0);
        assert_int_equal(seq, 17);

        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_DEPROVISIONED);
        assert_string_equal(u.shell, "/usr/sbin/nologin");
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE); /* not named: untouched */
        assert_true(prov_snapshot_group_by_name(s, "sales", &(ProvSnapGroupView) {}) < 0);
        assert_true(snap_is_member(s, "engineering", "alice"));
        prov_snapshot_close(s);

        /* Named again (an answer applied twice): nothing more happens. */
        assert_int_equal(sync_with(f, "{\"Users\":[],\"Groups\":[]}", &opts, &res), 0);
        assert_int_equal(res.deprovisioned, 0);
        assert_int_equal(res.groups_removed, 0);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit(f, "deprovision"), 1);

        /* A user brought back by the same delta is not deleted. */
        const char *back[] = { "u3" };
        opts = (ProvSyncOptions) { .delta = true, .gone_users = back, .n_gone_users = 1 };
        assert_int_equal(sync_with(f, "{\"Users\":[" USER("u3", "carol", "true") "]}", &opts, &res), 0);
        assert_int_equal(res.deprovisioned, 0);
        prov_sync_result_done(&res);
        assert_int_equal(prov_store_check_references(f->store), 0);
}

static int confirm_answer;
static int confirm_calls;
static int fake_confirm(const char *scim_id, void *userdata) {
        confirm_calls++;
        return confirm_answer;
}

static void test_absence_needs_confirmation(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        const char *without_dave = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") ","
                                   USER("u3", "carol", "true") "]}";
        ProvSyncOptions opts = { .confirm_gone = fake_confirm };

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);

        /* The source says dave still exists (a flaky scan): nothing happens. Unknown: same. */
        for (int answer = 0; answer >= -1; answer--) {
                confirm_answer = answer == 0 ? 0 : -EIO;
                confirm_calls = 0;
                assert_int_equal(sync_with(f, without_dave, &opts, &res), 0);
                assert_int_equal(confirm_calls, 1);
                assert_int_equal(res.deprovisioned, 0);
                prov_sync_result_done(&res);
        }
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        prov_snapshot_close(s);

        /* Confirmed gone: deprovisioned. */
        confirm_answer = 1;
        assert_int_equal(sync_with(f, without_dave, &opts, &res), 0);
        assert_int_equal(res.deprovisioned, 1);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dave", &u), 0);
        assert_int_equal(u.state, PROV_STATE_DEPROVISIONED);
        prov_snapshot_close(s);
}

static void test_block_wins_over_source(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(prov_sync_set_blocked(f->store, "nobody-here", true, &res), -ENOENT);
        assert_int_equal(prov_sync_set_blocked(f->store, "bob", true, &res), 0);
        assert_int_equal(res.n_transitions, 1);
        assert_int_equal(res.transitions[0].new_state, PROV_STATE_BLOCKED);
        prov_sync_result_done(&res);
        assert_int_equal(prov_sync_export(f->store, f->config, f->local), 0);

        /* The source still says active: blocked stays. */
        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        assert_int_equal(u.state, PROV_STATE_BLOCKED);
        assert_false(snap_is_member(s, "engineering", "bob"));
        prov_snapshot_close(s);

        assert_int_equal(prov_sync_set_blocked(f->store, "bob", false, &res), 0);
        assert_int_equal(res.transitions[0].new_state, PROV_STATE_ACTIVE);
        prov_sync_result_done(&res);
        assert_int_equal(prov_sync_export(f->store, f->config, f->local), 0);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        assert_true(snap_is_member(s, "engineering", "bob"));
        prov_snapshot_close(s);
        assert_int_equal(count_audit(f, "block"), 1);
        assert_int_equal(count_audit(f, "unblock"), 1);
}

static void test_approve_applies_newest_hold_only(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        int64_t id, dep, total;

        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(prov_sync_approve_hold(f->store, 0, &res), -ENOENT);

        assert_int_equal(sync_json(f, "{\"Users\":[]}", &res), 0);
        assert_true(res.held);
        prov_sync_result_done(&res);
        assert_int_equal(prov_store_hold_pending(f->store, &id, &dep, &total), 0);
        assert_int_equal(prov_sync_approve_hold(f->store, id + 1, &res), -ENOENT);
        assert_int_equal(prov_sync_approve_hold(f->store, id, &res), 0);
        assert_int_equal(res.deprovisioned, 4);
        prov_sync_result_done(&res);
        assert_int_equal(prov_store_hold_pending(f->store, &id, &dep, &total), -ENOENT);
        assert_int_equal(prov_sync_export(f->store, f->config, f->local), 0);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "alice", &u), 0);
        assert_int_equal(u.state, PROV_STATE_DEPROVISIONED);
        prov_snapshot_close(s);

        /* A hold that a later, normal scan superseded cannot be approved any more. */
        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(sync_json(f, "{\"Users\":[]}", &res), 0);
        assert_true(res.held);
        prov_sync_result_done(&res);
        assert_int_equal(sync_json(f, dir_v1, &res), 0);
        assert_false(res.held);
        prov_sync_result_done(&res);
        assert_int_equal(prov_sync_approve_hold(f->store, 0, &res), -ENOENT);
}

#define GROUPX(id, ext, name, members) \
        "{\"id\":\"" id "\",\"externalId\":\"" ext "\",\"displayName\":\"" name "\",\"members\":[" members "]}"

static size_t count_audit_detail(Fixture *f, const char *event, const char *detail_part) {
        ProvAuditEvent *ev = NULL;
        size_t n = 0, c = 0;
        assert_int_equal(prov_store_audit_load(f->store, NULL, 0, 100000, &ev, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(ev[i].event, event) == 0 && ev[i].detail && strstr(ev[i].detail, detail_part))
                        c++;
        prov_audit_events_free(ev, n);
        return c;
}

/* A second group with the mapped display name (in another case, with a smaller SCIM id) on a
 * fresh host: neither is mapped onto sudo; once only one remains the rule is pinned to it, and a
 * look-alike that comes back later gains nothing. */
static void test_map_rule_never_trusts_a_second_name(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};

        strv_free(f->config->map_groups);
        f->config->map_groups = strv("admins=sudo", NULL);
        const char *two =
                "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "mallory", "true") "],"
                "\"Groups\":[" GROUP("g-real", "admins", M("u1")) "," GROUP("a-evil", "ADMINS", M("u2")) "]}";
        assert_int_equal(sync_json(f, two, &res), 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_false(snap_is_member(s, "sudo", "alice"));
        assert_false(snap_is_member(s, "sudo", "mallory"));
        prov_snapshot_close(s);
        assert_int_equal(count_audit_detail(f, "reject", "names 2 directory groups"), 1);
        /* The same ambiguity on the next scan is not audited again. */
        assert_int_equal(sync_json(f, two, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit_detail(f, "reject", "names 2 directory groups"), 1);
        /* A delta sees one of them only: it cannot tell the name is ambiguous, so the group is
         * left alone (neither mapped nor served under its own name). */
        const char *delta = "{\"Users\":[],\"Groups\":[" GROUP("a-evil", "ADMINS", M("u2")) "]}";
        assert_int_equal(sync_with(f, delta, &(ProvSyncOptions) { .delta = true }, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        ProvSnapGroupView gv;
        assert_false(snap_is_member(s, "sudo", "mallory"));
        assert_int_equal(prov_snapshot_group_by_name(s, "admins", &gv), -ENOENT);
        prov_snapshot_close(s);

        /* Only the real one: pinned, mapped. */
        const char *one = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "mallory", "true") "],"
                          "\"Groups\":[" GROUP("g-real", "admins", M("u1")) "]}";
        assert_int_equal(sync_json(f, one, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_true(snap_is_member(s, "sudo", "alice"));
        prov_snapshot_close(s);
        assert_int_equal(count_audit(f, "pin"), 1);

        /* The look-alike is back, and the real group is renamed: the pin follows the id. */
        const char *back =
                "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "mallory", "true") "],"
                "\"Groups\":[" GROUP("g-real", "Platform Admins", M("u1")) "," GROUP("a-evil", "Admins", M("u2")) "]}";
        assert_int_equal(sync_json(f, back, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_true(snap_is_member(s, "sudo", "alice"));
        assert_false(snap_is_member(s, "sudo", "mallory"));
        prov_snapshot_close(s);

        /* A rule that leaves the configuration takes its pin with it. */
        strv_free(f->config->map_groups);
        f->config->map_groups = strv("id:g-real=sudo", NULL);
        assert_int_equal(sync_json(f, back, &res), 0);
        prov_sync_result_done(&res);
        char *pins = NULL;
        assert_int_equal(prov_store_state_get(f->store, "group_pins", &pins), 0);
        assert_string_equal(pins, "");
        free(pins);
        s = open_snapshot(f);
        assert_true(snap_is_member(s, "sudo", "alice"));
        prov_snapshot_close(s);
}

/* Rules by externalId; two groups with one externalId name none, and the stored state stays:
 * the scope rule neither adds nor drops anyone while it is ambiguous. */
static void test_scope_rule_by_external_id(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        strv_free(f->config->allow_groups);
        f->config->allow_groups = strv("externalId:eng", NULL);
        f->config->max_deprovision = 100;
        const char *v1 = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") ","
                         USER("u3", "carol", "true") "],"
                         "\"Groups\":[" GROUPX("g1", "eng", "Engineering", M("u1") "," M("u2")) ","
                         GROUPX("g2", "sales", "engineering", M("u3")) "]}";
        assert_int_equal(sync_json(f, v1, &res), 0);
        assert_int_equal(res.joiners, 2);
        prov_sync_result_done(&res);

        const char *v2 = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") ","
                         USER("u3", "carol", "true") "],"
                         "\"Groups\":[" GROUPX("g1", "eng", "Engineering", M("u1")) ","
                         GROUPX("g9", "eng", "Eng 2", M("u3")) "]}";
        assert_int_equal(sync_json(f, v2, &res), 0);
        assert_int_equal(res.joiners, 0);
        assert_int_equal(res.deprovisioned, 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "bob", &u), 0);
        assert_int_equal(u.state, PROV_STATE_ACTIVE);
        assert_int_equal(prov_snapshot_user_by_name(s, "carol", &u), -ENOENT);
        prov_snapshot_close(s);
        assert_int_equal(count_audit_detail(f, "reject", "names 2 directory groups"), 1);

        /* Unambiguous again: bob leaves scope. */
        assert_int_equal(sync_json(f, v1 /* g1 lists u1, u2 */, &res), 0);
        prov_sync_result_done(&res);
        const char *v3 = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "bob", "true") "],"
                         "\"Groups\":[" GROUPX("g1", "eng", "Engineering", M("u1")) "]}";
        assert_int_equal(sync_json(f, v3, &res), 0);
        assert_int_equal(res.deprovisioned, 1);
        prov_sync_result_done(&res);
}

/* Names of system accounts and groups that packages create later, the admin's own list, and the
 * marks that keep directory names apart. */
static void test_system_names_refused(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;
        ProvSnapGroupView g;

        strv_free(f->config->deny_names);
        f->config->deny_names = strv("Acme-Ops", NULL);
        const char *dir = "{\"Users\":[" USER("u1", "postgres", "true") "," USER("u2", "systemd-x", "true") ","
                          USER("u3", "_svc", "true") "," USER("u4", "acme-ops", "true") "," USER("u5", "jane", "true")
                          "],\"Groups\":[" GROUP("g1", "docker", M("u5")) "," GROUP("g2", "libvirt", M("u5")) ","
                          GROUP("g3", "wireshark", M("u5")) "," GROUP("g4", "devs", M("u5")) "]}";
        assert_int_equal(sync_json(f, dir, &res), 0);
        assert_int_equal(res.joiners, 1);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        for (const char *const *n = (const char *const[]) { "postgres", "systemd-x", "_svc", "acme-ops", NULL }; *n; n++)
                assert_int_equal(prov_snapshot_user_by_name(s, *n, &u), -ENOENT);
        for (const char *const *n = (const char *const[]) { "docker", "libvirt", "wireshark", NULL }; *n; n++)
                assert_int_equal(prov_snapshot_group_by_name(s, *n, &g), -ENOENT);
        assert_true(snap_is_member(s, "devs", "jane"));
        prov_snapshot_close(s);

        /* A name the admin denies later is no longer served, though the account stays stored. */
        strv_free(f->config->deny_names);
        f->config->deny_names = strv("jane", NULL);
        assert_int_equal(sync_json(f, dir, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "jane", &u), -ENOENT);
        prov_snapshot_close(s);

        /* With require_dot and a prefix only marked names are served. */
        strv_free(f->config->deny_names);
        f->config->deny_names = NULL;
        f->config->require_dot = true;
        set_str(&f->config->name_prefix, "d_");
        const char *marked = "{\"Users\":[" USER("m1", "d_jo.ann", "true") "," USER("m2", "d_plain", "true") ","
                             USER("m3", "no.prefix", "true") "]}";
        f->config->max_deprovision = 100;
        assert_int_equal(sync_json(f, marked, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "d_jo.ann", &u), 0);
        assert_int_equal(prov_snapshot_user_by_name(s, "d_plain", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "no.prefix", &u), -ENOENT);
        prov_snapshot_close(s);
}

#define USERH(id, name, home) \
        "{\"id\":\"" id "\",\"userName\":\"" name "\",\"homeDirectory\":\"" home "\"}"

/* homeDirectory is ignored unless the admin opts in; then it may not be another account's home,
 * nor the default home of any possible login name, nor shared. */
static void test_home_directory_rules(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvSnapUserView u;

        const char *dir = "{\"Users\":[" USERH("u1", "mallory", "/home/alice") "]}";
        assert_int_equal(sync_json(f, dir, &res), 0);
        prov_sync_result_done(&res);
        ProvSnapshot *s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "mallory", &u), 0);
        assert_string_equal(u.home, "/home/mallory");
        prov_snapshot_close(s);

        f->config->home_from_attribute = true;
        const char *dir2 = "{\"Users\":[" USERH("u1", "mallory", "/home/mallory/own") "," USERH("u2", "eve", "/home/newhire") ","
                           USERH("u3", "trudy", "/home/alice/inside") "," USERH("u4", "ann", "/home/Shared/x") ","
                           USERH("u5", "ben", "/home/Shared/x") "," USERH("u6", "cat", "/home/Projects/cat") "]}";
        assert_int_equal(sync_json(f, dir2, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "mallory", &u), 0);
        assert_string_equal(u.home, "/home/mallory/own");
        assert_int_equal(prov_snapshot_user_by_name(s, "eve", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "trudy", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "ann", &u), -ENOENT); /* shared: neither */
        assert_int_equal(prov_snapshot_user_by_name(s, "ben", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "cat", &u), 0);
        assert_string_equal(u.home, "/home/Projects/cat");
        prov_snapshot_close(s);

        /* A stored account's home, deprovisioned or not, is never given to another. */
        const char *dir3 = "{\"Users\":[" USERH("u1", "mallory", "/home/mallory/own") "," USERH("u6", "cat", "/home/Projects/cat")
                           "," USERH("u7", "dan", "/home/Projects/cat") "]}";
        assert_int_equal(sync_json(f, dir3, &res), 0);
        prov_sync_result_done(&res);
        s = open_snapshot(f);
        assert_int_equal(prov_snapshot_user_by_name(s, "dan", &u), -ENOENT);
        assert_int_equal(prov_snapshot_user_by_name(s, "cat", &u), 0);
        prov_snapshot_close(s);
}

/* A refused record is audited when it first appears, not on every scan, and again when it comes
 * back after a scan without it. */
static void test_reject_audited_once(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        const char *bad = "{\"Users\":[" USER("u1", "alice", "true") "," USER("u2", "a:b", "true") "]}";
        const char *good = "{\"Users\":[" USER("u1", "alice", "true") "]}";

        for (int i = 0; i < 3; i++) {
                assert_int_equal(sync_json(f, bad, &res), 0);
                assert_int_equal(res.rejected, 1);
                prov_sync_result_done(&res);
        }
        assert_int_equal(count_audit(f, "reject"), 1);
        assert_int_equal(sync_json(f, good, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(sync_json(f, bad, &res), 0);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit(f, "reject"), 2);
}

#define SSH_KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKGY9I6wI1IhlJ6tfn6VMdMTostAdtF9ipPR7LU6v2G a@x"
#define SSH_KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDSy6iuF0z5tI1wsdzf3vafu3CYkidUC/6w4hiildjp1 b@y"
#define SSH_EXT "urn:example:params:scim:schemas:extension:ssh:2.0:User"
#define SSH_ATTR SSH_EXT ":sshPublicKeys"
/* A user with an ssh_keys_attribute value (JSON text). */
#define USER_KEYS(id, name, active, keys)                                                                  \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"" id "\",\"userName\":\"" name \
        "\",\"active\":" active ",\"" SSH_EXT "\":{\"sshPublicKeys\":" keys "}}"

/* One full sync with ssh_keys_attribute set, as the daemon parses it. */
static int sync_json_keys(Fixture *f, const char *json, ProvSyncResult *ret) {
        ProvScimBatch *batch = NULL;
        ProvScimParseOptions opts = { .ssh_keys_attribute = SSH_ATTR };
        int r;

        r = prov_scim_parse_directory(json, strlen(json), &opts, &batch);
        if (r < 0)
                return r;
        r = prov_sync_apply_full(f->store, f->config, f->local, batch, ret);
        prov_scim_batch_free(batch);
        if (r < 0)
                return r;
        return prov_sync_export(f->store, f->config, f->local);
}

/* The keys the published file gives name, or NULL; checks that the file is the snapshot's. */
static char *published_keys(Fixture *f, const char *name) {
        char path[128];
        ProvSshKeys *k = NULL;
        ProvSnapshot *s = open_snapshot(f);
        const char *keys = NULL;
        char *copy = NULL;
        uint32_t uid;

        snprintf(path, sizeof(path), "%s/ssh-keys", f->dir);
        assert_int_equal(prov_sshkeys_open(path, &k), 0);
        assert_int_equal(prov_sshkeys_generation(k), prov_snapshot_generation(s));
        if (prov_sshkeys_lookup(k, name, &uid, &keys, NULL) == 0) {
                ProvSnapUserView u;
                assert_int_equal(prov_snapshot_user_by_name(s, name, &u), 0);
                assert_int_equal(u.uid, uid);
                assert_int_equal(u.state, PROV_STATE_ACTIVE);
                copy = strdup(keys);
        }
        prov_sshkeys_close(k);
        prov_snapshot_close(s);
        return copy;
}

static void assert_keys(Fixture *f, const char *name, const char *want) {
        char *got = published_keys(f, name);
        if (want)
                assert_string_equal(got, want);
        else
                assert_null(got);
        free(got);
}

static void test_ssh_keys(void **state) {
        Fixture *f = *state;
        ProvSyncResult res = {};
        ProvUserRecord rec = {};
        /* ada: objects with "value", one line that is no key; bo: a plain string; cy: suspended
         * at the source; dee: the attribute of the wrong type (unservable, so never joins); eve:
         * no attribute at all; fay: a DSA key only. */
        const char *dir1 = "{\"Users\":["
                USER_KEYS("u1", "ada", "true", "[{\"value\":\"" SSH_KEY_A "\"},{\"value\":\"not a key\"},\"" SSH_KEY_B "\"]") ","
                USER_KEYS("u2", "bo", "true", "\"" SSH_KEY_B "\"") ","
                USER_KEYS("u3", "cy", "false", "[\"" SSH_KEY_A "\"]") ","
                USER_KEYS("u4", "dee", "true", "42") ","
                USER("u5", "eve", "true") ","
                USER_KEYS("u6", "fay", "true", "[\"ssh-dss AAAAB3NzaC1kc3MAAACBAPspseWa92G\"]") "]}";

        assert_int_equal(sync_json_keys(f, dir1, &res), 0);
        assert_int_equal(res.joiners, 5);
        /* dee (unservable) and one bad key each of ada and fay. */
        assert_int_equal(res.rejected, 3);
        prov_sync_result_done(&res);
        assert_keys(f, "ada", SSH_KEY_A "\n" SSH_KEY_B);
        assert_keys(f, "bo", SSH_KEY_B);
        assert_keys(f, "cy", NULL);
        assert_keys(f, "dee", NULL);
        assert_keys(f, "eve", NULL);
        assert_keys(f, "fay", NULL);
        assert_int_equal(prov_store_user_get(f->store, "u1", &rec), 0);
        assert_string_equal(rec.ssh_keys, SSH_KEY_A "\n" SSH_KEY_B);
        prov_user_record_done(&rec);
        assert_int_equal(prov_store_user_get(f->store, "u3", &rec), 0);
        assert_string_equal(rec.ssh_keys, SSH_KEY_A); /* stored, but not published while suspended */
        prov_user_record_done(&rec);
        assert_int_equal(prov_store_user_get(f->store, "u5", &rec), 0);
        assert_null(rec.ssh_keys);
        prov_user_record_done(&rec);

        /* The same directory again: nothing written, each bad key audited once only. */
        size_t rejects = count_audit(f, "reject");
        assert_int_equal(sync_json_keys(f, dir1, &res), 0);
        assert_int_equal(res.updated, 0);
        assert_false(res.changed);
        prov_sync_result_done(&res);
        assert_int_equal(count_audit(f, "reject"), rejects);

        /* A key change alone is an update; ada suspended loses her keys with the same publication. */
        const char *dir2 = "{\"Users\":["
                USER_KEYS("u1", "ada", "false", "[{\"value\":\"" SSH_KEY_A "\"}]") ","
                USER_KEYS("u2", "bo", "true", "[\"" SSH_KEY_A "\"]") ","
                USER_KEYS("u3", "cy", "true", "[\"" SSH_KEY_A "\"]") ","
                USER("u5", "eve", "true") "]}";
        assert_int_equal(sync_json_keys(f, dir2, &res), 0);
        assert_int_equal(res.updated, 1);
        assert_int_equal(res.suspended, 1);
        assert_int_equal(res.reactivated, 1);
        prov_sync_result_done(&res);
        assert_keys(f, "ada", NULL);
        assert_keys(f, "bo", SSH_KEY_A);
        assert_keys(f, "cy", SSH_KEY_A);

        /* The attribute of the wrong type later: the account keeps its last good keys (as any
         * unservable record keeps its fields) and an "active": false still suspends it. */
        const char *dir3 = "{\"Users\":["
                USER_KEYS("u2", "bo", "true", "{\"value\":1}") ","
                USER_KEYS("u3", "cy", "false", "[[1]]") ","
                USER("u5", "eve", "true") "]}";
        f->config->max_deprovision = 100;
        assert_int_equal(sync_json_keys(f, dir3, &res), 0);
        prov_sync_result_done(&res);
        assert_keys(f, "bo", SSH_KEY_A);
        assert_keys(f, "cy", NULL);

        /* More than 32 keys, or one longer than 16 KiB: unservable, bo keeps his keys. */
        char *many = malloc(40 * (sizeof(SSH_KEY_B) + 3) + 4096);
        assert_non_null(many);
        /* Built by hand: USER_KEYS takes its value as a literal. */
        strcpy(many, "{\"Users\":[{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u2\","
                     "\"userName\":\"bo\",\"active\":true,\"" SSH_EXT "\":{\"sshPublicKeys\":[");
        for (int i = 0; i < 33; i++)
                strcat(many, i ? ",\"" SSH_KEY_B "\"" : "\"" SSH_KEY_B "\"");
        strcat(many, "]}}," USER("u5", "eve", "true") "]}");
        assert_int_equal(sync_json_keys(f, many, &res), 0);
        assert_int_equal(res.rejected, 1);
        prov_sync_result_done(&res);
        assert_keys(f, "bo", SSH_KEY_A);
        free(many);

        size_t big = PROV_SSH_KEY_MAX + 1;
        char *longkey = malloc(big + 1024);
        assert_non_null(longkey);
        strcpy(longkey, "{\"Users\":[" USER_KEYS("u2", "bo", "true", "\"@@\"") "]}");
        char *at = strstr(longkey, "@@");
        memmove(at + big, at + 2, strlen(at + 2) + 1);
        memset(at, 'A', big);
        assert_int_equal(sync_json_keys(f, longkey, &res), 0);
        assert_int_equal(res.rejected, 1);
        prov_sync_result_done(&res);
        assert_keys(f, "bo", SSH_KEY_A);
        free(longkey);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_joiners, setup, teardown),
                cmocka_unit_test_setup_teardown(test_narrowed_range_still_publishes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uid_deterministic_across_hosts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mover_rename_suspend_reactivate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deprovision_and_guard, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_records_skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ids_held_without_ledger_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scope_and_role_mapping, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_directory_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delta_never_deprovisions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delta_deletions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_absence_needs_confirmation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_block_wins_over_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_approve_applies_newest_hold_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_map_rule_never_trusts_a_second_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scope_rule_by_external_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_names_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_home_directory_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reject_audited_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ssh_keys, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
