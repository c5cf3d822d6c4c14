/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* NSS lookup benchmark: provision vs nss_files vs libnss-cache vs SSSD at 100k users / 10k groups,
 * all through real glibc dispatch (__nss_configure_lookup), and SQLite opened the best way an NSS
 * module could (immutable=1, mmap, statements prepared once; called directly, without glibc's
 * dispatch, so its figures are a lower bound). Not a test: it prints figures.
 *
 *   bench-nss gen DIR            write DIR/{passwd,group} (to append to copies of /etc/passwd and
 *                                /etc/group), DIR/{passwd,group}.cache + indexes, DIR/snapshot,
 *                                DIR/nss.sqlite, DIR/users.ldif (rfc2307, for slapadd); prints the
 *                                snapshot publish time
 *   bench-nss run SERVICE [LABEL]  time lookups with passwd/group/initgroups routed to SERVICE
 *                                ("sqlite": the database $PROV_BENCH_SQLITE, no NSS)
 *   bench-nss first SERVICE NAME one getpwnam() in this fresh process, then 19 more of other
 *                                users; prints nanoseconds for the first and for all 20
 *   bench-nss loop SERVICE OP N  run operation OP (as named by "run") N times, for perf stat or
 *                                cachegrind; prints nothing
 *   bench-nss warm SERVICE       look the keys "run" uses up once (fills SSSD's caches), or with
 *                                $BENCH_WARM_ALL=1 every user and group; prints the time it took
 *
 * $BENCH_USERS=N restricts point lookups to the first N users and runs only the passwd operations
 * (for a peer that holds only those, such as a partly warmed SSSD); "warm" then picks among those
 * users only.
 *
 * bench/run-nss.sh drives it inside a private mount namespace. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prov-snapshot-write.h"
#include "prov-util.h"

#define N_USERS 100000u
#define N_GROUPS 10000u
#define UID_BASE 100000u
#define GID_BASE 200000u
#define BIG_GROUP 1u            /* g00001: 50k members */
#define BIG_MEMBERS 50000u
#define SAMPLED_USERS 100u      /* u000000..u000099 are in 200 groups each */
#define SAMPLED_GROUPS 200u     /* g00002..g00201 */

extern int __nss_configure_lookup(const char *db, const char *service_line);

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        return n ? v[n / 2] : 0;
}

/* Members of group j, in the synthetic directory. */
static size_t group_members(unsigned j, unsigned *out, size_t cap) {
        size_t n = 0;

        if (j == BIG_GROUP) {
                for (unsigned i = 0; i < BIG_MEMBERS && n < cap; i++)
                        out[n++] = i;
        } else if (j >= 2 && j < 2 + SAMPLED_GROUPS) {
                for (unsigned i = 0; i < SAMPLED_USERS && n < cap; i++)
                        out[n++] = i;
        } else if (j > 0) {
                for (unsigned k = 0; k < 5 && n < cap; k++)
                        out[n++] = (j * 7919u + k * 104729u) % N_USERS;
        }
        return n;
}

typedef struct Index {
        char key[16];
        long offset;
} Index;

static int cmp_index(const void *a, const void *b) {
        return strcmp(((const Index *) a)->key, ((const Index *) b)->key);
}

/* libnss-cache's index: fixed-width lines "key NUL offset NUL-padding \n", sorted by strcmp. */
static int write_index(const char *path, Index *ix, size_t n) {
        size_t width = 0;
        FILE *f;

        qsort(ix, n, sizeof(*ix), cmp_index);
        for (size_t i = 0; i < n; i++) {
                char tmp[64];
                size_t w = strlen(ix[i].key) + 1 + (size_t) snprintf(tmp, sizeof(tmp), "%ld", ix[i].offset) + 1;
                if (w > width)
                        width = w;
        }
        f = fopen(path, "we");
        if (!f)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                char line[64] = {};
                size_t k = strlen(ix[i].key);
                memcpy(line, ix[i].key, k);
                snprintf(line + k + 1, sizeof(line) - k - 1, "%ld", ix[i].offset);
                line[width - 1] = '\n';
                fwrite(line, 1, width, f);
        }
        return fclose(f) == 0 ? 0 : -errno;
}

/* The same directory as an SQLite database laid out for the lookups an NSS module makes: one
 * b-tree per key (WITHOUT ROWID), group members as (gid, name) rows plus the reverse index. */
static int gen_sqlite(const char *dir, const ProvSnapUser *users, const ProvSnapGroup *groups) {
        static const char schema[] =
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=4096;"
                "CREATE TABLE passwd(name TEXT PRIMARY KEY, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
                " gecos TEXT NOT NULL, dir TEXT NOT NULL, shell TEXT NOT NULL) WITHOUT ROWID;"
                "CREATE TABLE groups(name TEXT PRIMARY KEY, gid INTEGER NOT NULL) WITHOUT ROWID;"
                "CREATE TABLE members(gid INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY(gid, name))"
                " WITHOUT ROWID;"
                "BEGIN;";
        char path[4096];
        sqlite3 *db = NULL;
        sqlite3_stmt *pu = NULL, *pg = NULL, *pm = NULL;
        int r = -EIO;

        snprintf(path, sizeof(path), "%s/nss.sqlite", dir);
        (void) unlink(path);
        if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO passwd VALUES(?,?,?,?,?,?)", -1, &pu, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO groups VALUES(?,?)", -1, &pg, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO members VALUES(?,?)", -1, &pm, NULL) != SQLITE_OK)
                goto finish;
        for (unsigned i = 0; i < N_USERS; i++) {
                sqlite3_bind_text(pu, 1, users[i].name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(pu, 2, users[i].uid);
                sqlite3_bind_int64(pu, 3, users[i].gid);
                sqlite3_bind_text(pu, 4, users[i].gecos, -1, SQLITE_STATIC);
                sqlite3_bind_text(pu, 5, users[i].home, -1, SQLITE_STATIC);
                sqlite3_bind_text(pu, 6, users[i].shell, -1, SQLITE_STATIC);
                if (sqlite3_step(pu) != SQLITE_DONE)
                        goto finish;
                sqlite3_reset(pu);
        }
        for (unsigned j = 0; j < N_GROUPS; j++) {
                sqlite3_bind_text(pg, 1, groups[j].name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(pg, 2, groups[j].gid);
                if (sqlite3_step(pg) != SQLITE_DONE)
                        goto finish;
                sqlite3_reset(pg);
                for (size_t k = 0; k < groups[j].n_members; k++) {
                        sqlite3_bind_int64(pm, 1, groups[j].gid);
                        sqlite3_bind_text(pm, 2, users[groups[j].members[k]].name, -1, SQLITE_STATIC);
                        if (sqlite3_step(pm) != SQLITE_DONE)
                                goto finish;
                        sqlite3_reset(pm);
                }
        }
        if (sqlite3_exec(db,
                         "CREATE UNIQUE INDEX passwd_uid ON passwd(uid);"
                         "CREATE UNIQUE INDEX groups_gid ON groups(gid);"
                         "CREATE INDEX members_name ON members(name, gid);"
                         "COMMIT; ANALYZE;",
                         NULL, NULL, NULL) != SQLITE_OK)
                goto finish;
        r = 0;
finish:
        if (r < 0)
                fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(pu);
        sqlite3_finalize(pg);
        sqlite3_finalize(pm);
        sqlite3_close(db);
        return r;
}

/* The same directory in rfc2307 (posixAccount, posixGroup with memberUid) for slapadd, under
 * dc=bench,dc=test: the LDAP server behind the SSSD peer (bench/run-sssd.sh). */
static int gen_ldif(const char *dir, const ProvSnapUser *users, const ProvSnapGroup *groups) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/users.ldif", dir);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs("dn: dc=bench,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n\n"
              "dn: ou=people,dc=bench,dc=test\nobjectClass: organizationalUnit\nou: people\n\n"
              "dn: ou=groups,dc=bench,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n",
              f);
        for (unsigned i = 0; i < N_USERS; i++)
                fprintf(f,
                        "dn: uid=%s,ou=people,dc=bench,dc=test\nobjectClass: account\nobjectClass: posixAccount\n"
                        "uid: %s\ncn: %s\nuidNumber: %u\ngidNumber: %u\ngecos: %s\nhomeDirectory: %s\n"
                        "loginShell: %s\n\n",
                        users[i].name, users[i].name, users[i].gecos, users[i].uid, users[i].gid, users[i].gecos,
                        users[i].home, users[i].shell);
        for (unsigned j = 0; j < N_GROUPS; j++) {
                fprintf(f, "dn: cn=%s,ou=groups,dc=bench,dc=test\nobjectClass: posixGroup\ncn: %s\ngidNumber: %u\n",
                        groups[j].name, groups[j].name, groups[j].gid);
                for (size_t k = 0; k < groups[j].n_members; k++)
                        fprintf(f, "memberUid: %s\n", users[groups[j].members[k]].name);
                fputc('\n', f);
        }
        return fclose(f) == 0 ? 0 : -errno;
}

static int gen(const char *dir) {
        static char names[N_USERS][8], gnames[N_GROUPS][8];
        ProvSnapUser *users = calloc(N_USERS, sizeof(ProvSnapUser));
        ProvSnapGroup *groups = calloc(N_GROUPS, sizeof(ProvSnapGroup));
        uint32_t *members = calloc(BIG_MEMBERS + SAMPLED_GROUPS * SAMPLED_USERS + 5 * N_GROUPS, sizeof(uint32_t));
        unsigned *tmp = calloc(BIG_MEMBERS, sizeof(unsigned));
        Index *ix_name = calloc(N_USERS, sizeof(Index)), *ix_id = calloc(N_USERS, sizeof(Index));
        ProvSnapMeta meta = { .generation = 1, .last_sync_usec = 1, .uid_min = UID_BASE, .uid_max = 4000000 };
        char path[4096], home[32];
        uint64_t t[3];
        size_t used = 0;
        FILE *pf, *gf, *pc, *gc;
        int r;

        if (!users || !groups || !members || !tmp || !ix_name || !ix_id)
                return -ENOMEM;
        snprintf(path, sizeof(path), "%s/passwd", dir);
        pf = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/passwd.cache", dir);
        pc = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/group", dir);
        gf = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/group.cache", dir);
        gc = fopen(path, "we");
        if (!pf || !pc || !gf || !gc)
                return -errno;

        for (unsigned i = 0; i < N_USERS; i++) {
                snprintf(names[i], sizeof(names[i]), "u%06u", i);
                snprintf(home, sizeof(home), "/home/%s", names[i]);
                users[i] = (ProvSnapUser) { names[i], UID_BASE + i, GID_BASE, "Bench User", NULL, "/bin/bash",
                                            PROV_STATE_ACTIVE, 19000 };
                users[i].home = strdup(home);
                fprintf(pf, "%s:x:%u:%u:Bench User:%s:/bin/bash\n", names[i], UID_BASE + i, GID_BASE, home);
                snprintf(ix_name[i].key, sizeof(ix_name[i].key), "%s", names[i]);
                snprintf(ix_id[i].key, sizeof(ix_id[i].key), "%u", UID_BASE + i);
                ix_name[i].offset = ix_id[i].offset = ftell(pc);
                fprintf(pc, "%s:x:%u:%u:Bench User:%s:/bin/bash\n", names[i], UID_BASE + i, GID_BASE, home);
        }
        fclose(pf);
        fclose(pc);
        snprintf(path, sizeof(path), "%s/passwd.cache.ixname", dir);
        if ((r = write_index(path, ix_name, N_USERS)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/passwd.cache.ixuid", dir);
        if ((r = write_index(path, ix_id, N_USERS)) < 0)
                return r;

        for (unsigned j = 0; j < N_GROUPS; j++) {
                size_t n = group_members(j, tmp, BIG_MEMBERS);
                snprintf(gnames[j], sizeof(gnames[j]), "g%05u", j);
                groups[j] = (ProvSnapGroup) { .name = gnames[j], .gid = GID_BASE + j, .members = members + used,
                                              .n_members = n };
                snprintf(ix_name[j].key, sizeof(ix_name[j].key), "%s", gnames[j]);
                snprintf(ix_id[j].key, sizeof(ix_id[j].key), "%u", GID_BASE + j);
                ix_name[j].offset = ix_id[j].offset = ftell(gc);
                fprintf(gf, "%s:x:%u:", gnames[j], GID_BASE + j);
                fprintf(gc, "%s:x:%u:", gnames[j], GID_BASE + j);
                for (size_t k = 0; k < n; k++) {
                        members[used++] = tmp[k];
                        fprintf(gf, "%s%s", k ? "," : "", names[tmp[k]]);
                        fprintf(gc, "%s%s", k ? "," : "", names[tmp[k]]);
                }
                fputc('\n', gf);
                fputc('\n', gc);
        }
        fclose(gf);
        fclose(gc);
        snprintf(path, sizeof(path), "%s/group.cache.ixname", dir);
        if ((r = write_index(path, ix_name, N_GROUPS)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/group.cache.ixgid", dir);
        if ((r = write_index(path, ix_id, N_GROUPS)) < 0)
                return r;

        r = gen_sqlite(dir, users, groups);
        if (r < 0)
                return r;
        r = gen_ldif(dir, users, groups);
        if (r < 0)
                return r;

        snprintf(path, sizeof(path), "%s/snapshot", dir);
        for (unsigned k = 0; k < ELEMENTSOF(t); k++) {
                uint64_t t0 = now_ns();
                r = prov_snapshot_write(path, &meta, users, N_USERS, groups, N_GROUPS);
                t[k] = now_ns() - t0;
                if (r < 0)
                        return r;
        }
        printf("snapshot publish (100k users, 10k groups, incl. fsync): median %.1f ms\n", median(t, 3) / 1e6);
        return 0;
}

/* Times op() repeatedly within a budget and returns the median in nanoseconds. */
static uint64_t bench(int (*op)(unsigned k), unsigned max_samples, uint64_t budget_ns, int *ret_err) {
        uint64_t *v = calloc(max_samples, sizeof(uint64_t)), start = now_ns(), m;
        size_t n = 0;

        *ret_err = 0;
        while (n < max_samples && (n < 3 || now_ns() - start < budget_ns)) {
                uint64_t t0 = now_ns();
                if (op((unsigned) n) < 0)
                        (*ret_err)++;
                v[n++] = now_ns() - t0;
        }
        m = median(v, n);
        free(v);
        return m;
}

/* $BENCH_USERS=N (a peer whose cache holds only the first N users, such as SSSD partly warmed):
 * point lookups pick among those users only, and only the passwd operations run. */
static unsigned n_picked = N_USERS;

static unsigned pick(unsigned k) {
        return (k * 2654435761u) % n_picked;
}

static int op_pwnam_hit(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "u%06u", pick(k));
        return getpwnam(name) ? 0 : -1;
}

static int op_pwnam_miss(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "x%06u", pick(k));
        return getpwnam(name) ? -1 : 0;
}

static int op_pwuid(unsigned k) {
        return getpwuid(UID_BASE + pick(k)) ? 0 : -1;
}

static int op_grouplist(unsigned k) {
        static gid_t list[1024];
        char name[16];
        int n = ELEMENTSOF(list);

        snprintf(name, sizeof(name), "u%06u", k % SAMPLED_USERS);
        return getgrouplist(name, GID_BASE, list, &n) >= (int) SAMPLED_GROUPS ? 0 : -1;
}

static int op_grnam_big(unsigned k) {
        struct group *g = getgrnam("g00001");
        size_t n = 0;

        if (!g)
                return -1;
        while (g->gr_mem[n])
                n++;
        return n == BIG_MEMBERS ? 0 : -1;
}

static int op_getpwent(unsigned k) {
        size_t n = 0;

        setpwent();
        while (getpwent())
                n++;
        endpwent();
        return n >= N_USERS ? 0 : -1;
}

static int op_getgrent(unsigned k) {
        size_t n = 0;

        setgrent();
        while (getgrent())
                n++;
        endgrent();
        return n >= N_GROUPS ? 0 : -1;
}

/* SQLite, the best an NSS module on it could do: immutable=1 (no locking, no journal checks),
 * the file memory-mapped, statements prepared once; rows copied out as a module would. */
static struct {
        sqlite3 *db;
        sqlite3_stmt *pwnam, *pwuid, *pwall, *grnam, *grall, *members, *grouplist;
} sql;

static char sql_buf[1u << 20];

static int sql_open(void) {
        const char *path = getenv("PROV_BENCH_SQLITE");
        char uri[4200];

        if (!path)
                return -EINVAL;
        snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
        if (sqlite3_open_v2(uri, &sql.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) !=
                    SQLITE_OK ||
            sqlite3_exec(sql.db, "PRAGMA mmap_size=1073741824;", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name, uid, gid, gecos, dir, shell FROM passwd WHERE name = ?", -1,
                               SQLITE_PREPARE_PERSISTENT, &sql.pwnam, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name, uid, gid, gecos, dir, shell FROM passwd WHERE uid = ?", -1,
                               SQLITE_PREPARE_PERSISTENT, &sql.pwuid, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name, uid, gid, gecos, dir, shell FROM passwd", -1,
                               SQLITE_PREPARE_PERSISTENT, &sql.pwall, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name, gid FROM groups WHERE name = ?", -1, SQLITE_PREPARE_PERSISTENT,
                               &sql.grnam, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name, gid FROM groups", -1, SQLITE_PREPARE_PERSISTENT, &sql.grall,
                               NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT name FROM members WHERE gid = ?", -1, SQLITE_PREPARE_PERSISTENT,
                               &sql.members, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(sql.db, "SELECT gid FROM members WHERE name = ?", -1, SQLITE_PREPARE_PERSISTENT,
                               &sql.grouplist, NULL) != SQLITE_OK) {
                fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(sql.db));
                return -EIO;
        }
        return 0;
}

/* Copies column i of the current row into the buffer at *p; returns the copy. */
static char *sql_copy(sqlite3_stmt *st, int i, char **p) {
        const char *v = (const char *) sqlite3_column_text(st, i);
        size_t n = (size_t) sqlite3_column_bytes(st, i);
        char *r = *p;

        memcpy(r, v ? v : "", n);
        r[n] = '\0';
        *p += n + 1;
        return r;
}

/* Steps a passwd statement once and packs the row into a struct passwd. */
static int sql_pw_row(sqlite3_stmt *st, struct passwd *pw) {
        char *p = sql_buf;

        if (sqlite3_step(st) != SQLITE_ROW)
                return -ENOENT;
        pw->pw_name = sql_copy(st, 0, &p);
        pw->pw_passwd = memcpy(p, "x", 2), p += 2;
        pw->pw_uid = (uid_t) sqlite3_column_int64(st, 1);
        pw->pw_gid = (gid_t) sqlite3_column_int64(st, 2);
        pw->pw_gecos = sql_copy(st, 3, &p);
        pw->pw_dir = sql_copy(st, 4, &p);
        pw->pw_shell = sql_copy(st, 5, &p);
        return 0;
}

static int sql_pwnam(const char *name) {
        struct passwd pw;
        int r;

        sqlite3_bind_text(sql.pwnam, 1, name, -1, SQLITE_STATIC);
        r = sql_pw_row(sql.pwnam, &pw);
        sqlite3_reset(sql.pwnam);
        return r;
}

static int sql_pwnam_hit(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "u%06u", pick(k));
        return sql_pwnam(name);
}

static int sql_pwnam_miss(unsigned k) {
        char name[16];
        snprintf(name, sizeof(name), "x%06u", pick(k));
        return sql_pwnam(name) < 0 ? 0 : -1;
}

static int sql_pwuid(unsigned k) {
        struct passwd pw;
        int r;

        sqlite3_bind_int64(sql.pwuid, 1, UID_BASE + pick(k));
        r = sql_pw_row(sql.pwuid, &pw);
        sqlite3_reset(sql.pwuid);
        return r;
}

static int sql_grouplist(unsigned k) {
        static gid_t list[1024];
        char name[16];
        int n = 0;

        snprintf(name, sizeof(name), "u%06u", k % SAMPLED_USERS);
        sqlite3_bind_text(sql.grouplist, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(sql.grouplist) == SQLITE_ROW && n < (int) ELEMENTSOF(list))
                list[n++] = (gid_t) sqlite3_column_int64(sql.grouplist, 0);
        sqlite3_reset(sql.grouplist);
        return n >= (int) SAMPLED_GROUPS ? 0 : -1;
}

/* Packs the group of the current row of st (name, gid) with its members, as getgrnam_r would. */
static int sql_gr_row(sqlite3_stmt *st, size_t *ret_n) {
        static char *mem[BIG_MEMBERS + 1];
        char *p = sql_buf;
        size_t n = 0;

        (void) sql_copy(st, 0, &p);
        sqlite3_bind_int64(sql.members, 1, sqlite3_column_int64(st, 1));
        while (sqlite3_step(sql.members) == SQLITE_ROW && n < BIG_MEMBERS)
                mem[n++] = sql_copy(sql.members, 0, &p);
        mem[n] = NULL;
        sqlite3_reset(sql.members);
        *ret_n = mem[0] ? n : 0;
        return 0;
}

static int sql_grnam_big(unsigned k) {
        size_t n = 0;

        sqlite3_bind_text(sql.grnam, 1, "g00001", -1, SQLITE_STATIC);
        if (sqlite3_step(sql.grnam) == SQLITE_ROW)
                (void) sql_gr_row(sql.grnam, &n);
        sqlite3_reset(sql.grnam);
        return n == BIG_MEMBERS ? 0 : -1;
}

static int sql_getpwent(unsigned k) {
        struct passwd pw;
        size_t n = 0;

        while (sql_pw_row(sql.pwall, &pw) >= 0)
                n++;
        sqlite3_reset(sql.pwall);
        return n >= N_USERS ? 0 : -1;
}

static int sql_getgrent(unsigned k) {
        size_t n = 0, m;

        while (sqlite3_step(sql.grall) == SQLITE_ROW) {
                (void) sql_gr_row(sql.grall, &m);
                n++;
        }
        sqlite3_reset(sql.grall);
        return n >= N_GROUPS ? 0 : -1;
}

static const struct {
        const char *what;
        int (*op)(unsigned);
        int (*sql)(unsigned);
        unsigned samples;
} ops[] = {
        { "getpwnam hit", op_pwnam_hit, sql_pwnam_hit, 20000 },
        { "getpwnam miss", op_pwnam_miss, sql_pwnam_miss, 20000 },
        { "getpwuid hit", op_pwuid, sql_pwuid, 20000 },
        { "getgrouplist (>=200 groups)", op_grouplist, sql_grouplist, 2000 },
        { "getgrnam (50k members)", op_grnam_big, sql_grnam_big, 200 },
        { "getpwent full enumeration", op_getpwent, sql_getpwent, 20 },
        { "getgrent full enumeration", op_getgrent, sql_getgrent, 20 },
};

static void configure(const char *service) {
        __nss_configure_lookup("passwd", service);
        __nss_configure_lookup("group", service);
        __nss_configure_lookup("initgroups", service);
}

/* Sets up SERVICE: routes NSS to it, or opens the SQLite database. */
static int service_setup(const char *service) {
        if (streq(service, "sqlite"))
                return sql_open();
        configure(service);
        return 0;
}

static int (*service_op(const char *service, size_t i))(unsigned) {
        return streq(service, "sqlite") ? ops[i].sql : ops[i].op;
}

#define FIRST_LOOKUPS 20u
/* The user whose getpwnam is a fresh process's first lookup (then pick(1) .. pick(19)). */
#define FIRST_USER (54321u % n_picked)

static int run(const char *self, const char *service, const char *label) {
        uint64_t first[15], few[ELEMENTSOF(first)], whole[ELEMENTSOF(first)];
        char first_name[16];
        int r;

        snprintf(first_name, sizeof(first_name), "u%06u", FIRST_USER);
        r = service_setup(service);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                int errors;
                uint64_t m;

                /* The floor module (bench/nss-floor.c) answers passwd point lookups only; SSSD
                 * (bench/run-sssd.sh) runs with enumerate = false, so it enumerates nothing. */
                if ((streq(service, "floor") || n_picked < N_USERS) && ops[i].op != op_pwnam_hit &&
                    ops[i].op != op_pwnam_miss && ops[i].op != op_pwuid)
                        continue;
                if (streq(service, "sss") && (ops[i].op == op_getpwent || ops[i].op == op_getgrent))
                        continue;
                m = bench(service_op(service, i), ops[i].samples, 2000000000u, &errors);
                printf("%-14s %-30s %12.2f us%s\n", label, ops[i].what, m / 1e3, errors ? "  (ERRORS)" : "");
                fflush(stdout);
        }

        /* First lookup in a fresh process: module load, open, map (or parse) and one answer, as
         * the process measures it; and the whole fork, exec, lookup and exit, as seen from here. */
        for (size_t i = 0; i < ELEMENTSOF(first); i++) {
                int p[2], status;
                pid_t pid;
                char buf[64] = {};
                uint64_t t0 = now_ns();

                if (pipe(p) < 0)
                        return -errno;
                pid = fork();
                if (pid == 0) {
                        dup2(p[1], STDOUT_FILENO);
                        execl(self, self, "first", service, first_name, (char *) NULL);
                        _exit(127);
                }
                close(p[1]);
                if (read(p[0], buf, sizeof(buf) - 1) < 0)
                        buf[0] = '\0';
                close(p[0]);
                waitpid(pid, &status, 0);
                whole[i] = now_ns() - t0;
                {
                        char *end;
                        first[i] = strtoull(buf, &end, 10);
                        few[i] = strtoull(end, NULL, 10);
                }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        first[i] = few[i] = whole[i] = UINT64_MAX / 2;
        }
        printf("%-14s %-30s %12.2f us\n", label, "first getpwnam, fresh process", median(first, ELEMENTSOF(first)) / 1e3);
        printf("%-14s %-30s %12.2f us\n", label, "first 20 getpwnam, fresh proc.", median(few, ELEMENTSOF(few)) / 1e3);
        printf("%-14s %-30s %12.2f us\n", label, "fork+exec+first getpwnam+exit", median(whole, ELEMENTSOF(whole)) / 1e3);
        return 0;
}

static int first(const char *service, const char *name) {
        uint64_t t0, t1;
        bool found;
        int r;

        /* SQLite's open and prepare are part of its first lookup; routing NSS is not. */
        if (!streq(service, "sqlite"))
                configure(service);
        t0 = now_ns();
        r = streq(service, "sqlite") ? sql_open() : 0;
        if (r < 0)
                return 1;
        if (streq(service, "sqlite"))
                found = sql_pwnam(name) >= 0;
        else
                found = getpwnam(name) != NULL;
        t1 = now_ns();
        /* Then 19 more users: what a process that makes a few lookups pays in all. */
        for (unsigned k = 1; k < FIRST_LOOKUPS && found; k++)
                found = streq(service, "sqlite") ? sql_pwnam_hit(k) >= 0 : op_pwnam_hit(k) >= 0;
        printf("%llu %llu\n", (unsigned long long) (t1 - t0), (unsigned long long) (now_ns() - t0));
        return found ? 0 : 1;
}

/* Runs one operation n times after one warm-up call (perf stat, cachegrind). */
static int loop(const char *service, const char *what, unsigned long n) {
        int r;

        r = service_setup(service);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                int (*op)(unsigned) = service_op(service, i);
                unsigned errors = 0;

                if (!streq(ops[i].what, what))
                        continue;
                (void) op(0);
                for (unsigned long k = 0; k < n; k++)
                        errors += op((unsigned) k) < 0;
                if (errors)
                        fprintf(stderr, "%u errors\n", errors);
                return errors ? -EIO : 0;
        }
        return -EINVAL;
}

/* Fills a caching daemon (SSSD) with the keys "run" looks up, and only those: the users that the
 * getpwnam hit and getpwuid operations pick for their samples (bench() takes at most ops[].samples,
 * so k stays below it; both pick the same users), the fresh process's first user, and unless
 * BENCH_USERS restricts the run, the 50k-member group and the sampled users' group lists. Each user
 * by name first, then by uid: SSSD's memory cache keeps one passwd record under both keys, so the
 * uid pass should be all hits (its time says whether it was). The unknown names of getpwnam miss
 * too (SSSD's negative cache). $BENCH_WARM_ALL=1 instead looks every user and every group up by
 * name once (hours with SSSD at 100k users). */
static int warm(const char *service) {
        static bool want[N_USERS];
        unsigned n_keys = 0, max_samples = 0, missing = 0;
        const char *e = getenv("BENCH_WARM_ALL");
        bool all = e && *e, groups = n_picked == N_USERS;
        char name[16];
        uint64_t t0, t1, t2, t3, t4;

        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (ops[i].op == op_pwnam_hit || ops[i].op == op_pwuid)
                        max_samples = ops[i].samples > max_samples ? ops[i].samples : max_samples;
        for (unsigned k = 0; k < (all ? n_picked : max_samples); k++)
                want[all ? k : pick(k)] = true;
        want[FIRST_USER] = true;
        for (unsigned i = 0; i < n_picked; i++)
                n_keys += want[i];
        printf("warm-up through %s: %u users (%s)\n", service, n_keys,
               all ? "all" : "the keys of getpwnam hit, getpwuid and the first lookup");
        fflush(stdout);

        configure(service);
        t0 = now_ns();
        for (unsigned i = 0, done = 0; i < n_picked; i++) {
                if (!want[i])
                        continue;
                snprintf(name, sizeof(name), "u%06u", i);
                missing += !getpwnam(name);
                if (++done % 2000 == 0) {
                        printf("warm-up: %u users, %.1f s\n", done, (now_ns() - t0) / 1e9);
                        fflush(stdout);
                }
        }
        t1 = now_ns();
        for (unsigned i = 0; i < n_picked; i++)
                if (want[i])
                        missing += !getpwuid(UID_BASE + i);
        t2 = now_ns();
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                for (unsigned k = 0; ops[i].op == op_pwnam_miss && k < ops[i].samples; k++)
                        missing += op_pwnam_miss(k) < 0;
        t3 = now_ns();
        if (groups && all)
                for (unsigned j = 0; j < N_GROUPS; j++) {
                        snprintf(name, sizeof(name), "g%05u", j);
                        missing += !getgrnam(name);
                }
        else if (groups) {
                missing += op_grnam_big(0) < 0;
                for (unsigned k = 0; k < SAMPLED_USERS; k++)
                        missing += op_grouplist(k) < 0;
        }
        t4 = now_ns();
        printf("warm-up through %s: %u getpwnam %.1f s, then getpwuid of the same %.3f s, the unknown names of "
               "getpwnam miss %.1f s, groups (%s) %.1f s%s\n",
               service, n_keys, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9,
               !groups ? "none" : all ? "every getgrnam" : "50k-member getgrnam, 100 getgrouplist", (t4 - t3) / 1e9,
               missing ? " (some not found)" : "");
        return 0;
}

int main(int argc, char *argv[]) {
        const char *e = getenv("BENCH_USERS");
        int r;

        if (e && strtoul(e, NULL, 10) > 0 && strtoul(e, NULL, 10) < N_USERS)
                n_picked = (unsigned) strtoul(e, NULL, 10);

        if (argc == 3 && streq(argv[1], "gen")) {
                r = gen(argv[2]);
                if (r < 0)
                        fprintf(stderr, "gen: %s\n", strerror(-r));
                return r < 0;
        }
        if ((argc == 3 || argc == 4) && streq(argv[1], "run"))
                return run("/proc/self/exe", argv[2], argc == 4 ? argv[3] : argv[2]) < 0;
        if (argc == 4 && streq(argv[1], "first"))
                return first(argv[2], argv[3]);
        if (argc == 3 && streq(argv[1], "warm"))
                return warm(argv[2]) < 0;
        if (argc == 5 && streq(argv[1], "loop"))
                return loop(argv[2], argv[3], strtoul(argv[4], NULL, 10)) < 0;
        fprintf(stderr, "usage: %s gen DIR | run SERVICE [LABEL] | first SERVICE NAME | loop SERVICE OP N | warm SERVICE\n",
                argv[0]);
        return 2;
}
