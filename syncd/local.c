/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "local.h"
#include "prov-util.h"

/* An inclusive range of ids. */
typedef struct ProvIdRange {
        uint32_t first, last;
} ProvIdRange;

struct ProvLocalAccounts {
        char **user_names;
        size_t n_user_names;
        char **homes; /* the local users' homes, without a trailing '/' */
        size_t n_homes;
        uint32_t *uids;
        size_t n_uids;
        ProvLocalGroup *groups;
        size_t n_groups;
        uint32_t *gids; /* sorted copy of the groups' gids */
        ProvIdRange *subids; /* the subuid and subgid ranges, sorted, merged, disjoint */
        size_t n_subids;
        ProvIdRange *taken; /* all of the above as ranges: the allocator skips each in one step */
        size_t n_taken;
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_group(const void *a, const void *b) {
        return strcmp(((const ProvLocalGroup *) a)->name, ((const ProvLocalGroup *) b)->name);
}

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* fgetpwent()/fgetgrent() parse one file without NSS. A missing file counts as empty: a
 * test tree or a minimal container may lack /etc/group, and nothing is lost by that. */
static int load_passwd(ProvLocalAccounts *l, const char *path) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        size_t cap_n = 0, cap_u = 0, cap_h = 0;
        struct passwd *pw;

        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        errno = 0;
        while ((pw = fgetpwent(f))) {
                if (prov_grow((void **) &l->user_names, &cap_n, l->n_user_names + 1, sizeof(char *)) < 0 ||
                    prov_grow((void **) &l->uids, &cap_u, l->n_uids + 1, sizeof(uint32_t)) < 0)
                        return -ENOMEM;
                l->user_names[l->n_user_names] = strdup(pw->pw_name);
                if (!l->user_names[l->n_user_names])
                        return -ENOMEM;
                l->n_user_names++;
                l->uids[l->n_uids++] = pw->pw_uid;
                if (!pw->pw_dir || pw->pw_dir[0] != '/')
                        continue;
                if (prov_grow((void **) &l->homes, &cap_h, l->n_homes + 1, sizeof(char *)) < 0)
                        return -ENOMEM;
                char *h = strdup(pw->pw_dir);
                if (!h)
                        return -ENOMEM;
                for (size_t n = strlen(h); n > 1 && h[n - 1] == '/'; n--)
                        h[n - 1] = '\0';
                l->homes[l->n_homes++] = h;
        }
        return 0;
}

static int load_group(ProvLocalAccounts *l, const char *path) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        size_t cap_g = 0;
        struct group *gr;

        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        while ((gr = fgetgrent(f))) {
                if (prov_grow((void **) &l->groups, &cap_g, l->n_groups + 1, sizeof(ProvLocalGroup)) < 0)
                        return -ENOMEM;
                l->groups[l->n_groups].name = strdup(gr->gr_name);
                if (!l->groups[l->n_groups].name)
                        return -ENOMEM;
                l->groups[l->n_groups++].gid = gr->gr_gid;
        }
        l->gids = calloc(l->n_groups ? l->n_groups : 1, sizeof(uint32_t));
        if (!l->gids)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_groups; i++)
                l->gids[i] = l->groups[i].gid;
        return 0;
}

static int cmp_range(const void *a, const void *b) {
        const ProvIdRange *x = a, *y = b;
        if (x->first != y->first)
                return x->first < y->first ? -1 : 1;
        return x->last < y->last ? -1 : x->last > y->last;
}

static int range_add(ProvIdRange **ranges, size_t *n, size_t *cap, uint32_t first, uint32_t last) {
        if (prov_grow((void **) ranges, cap, *n + 1, sizeof(ProvIdRange)) < 0)
                return -ENOMEM;
        (*ranges)[(*n)++] = (ProvIdRange) { .first = first, .last = last };
        return 0;
}

/* Sorts the ranges and merges those that overlap or touch, so that a lookup finds at most one
 * range and the run of taken ids from any id ends where its range ends. */
static void ranges_normalize(ProvIdRange *ranges, size_t *n) {
        size_t out = 0;

        if (*n == 0)
                return;
        qsort(ranges, *n, sizeof(ProvIdRange), cmp_range);
        for (size_t i = 1; i < *n; i++) {
                ProvIdRange *cur = &ranges[out];
                if ((uint64_t) ranges[i].first <= (uint64_t) cur->last + 1) {
                        if (ranges[i].last > cur->last)
                                cur->last = ranges[i].last;
                } else
                        ranges[++out] = ranges[i];
        }
        *n = out + 1;
}

/* The range holding id, or NULL. */
static const ProvIdRange *ranges_find(const ProvIdRange *ranges, size_t n, uint32_t id) {
        size_t lo = 0, hi = n;

        /* The last range that starts at or before id. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ranges[mid].first <= id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo > 0 && ranges[lo - 1].last >= id ? &ranges[lo - 1] : NULL;
}

/* Parses one number of a subordinate id line, which may be surrounded by blanks. Stores every
 * value it can be read as: decimal, and for a leading 0 also as strtoul() base 0 reads it (octal
 * or hex), because shadow's own parser has used base 0: an id that either reading covers is
 * treated as taken. Returns how many values were stored (0: malformed). */
static size_t subid_number(const char *s, uint64_t ret[static 2]) {
        static const int bases[] = { 10, 0 };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                const char *p = s;
                char *end;
                unsigned long long v;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (!isdigit((unsigned char) *p))
                        return n; /* no sign, no empty field */
                errno = 0;
                v = strtoull(p, &end, bases[i]);
                if (errno != 0 || end == p)
                        continue;
                while (*end == ' ' || *end == '\t' || *end == '\r')
                        end++;
                if (*end != '\0')
                        continue;
                if (n == 0 || ret[0] != v)
                        ret[n++] = v;
        }
        return n;
}

/* Parses one line of subuid(5) format, "owner:start:count", into ranges clipped to the 32-bit
 * id space (a range reaching past it still covers the ids below). Blank lines, comments and
 * malformed lines (wrong number of fields, empty owner, a field that is not a number, count 0,
 * start past the id space) add nothing: newuidmap(1) grants nothing from them either. */
static int subid_line(char *line, ProvIdRange **ranges, size_t *n, size_t *cap) {
        char *owner, *start_s, *count_s;
        uint64_t starts[2], counts[2];
        size_t n_starts, n_counts;
        int r;

        line[strcspn(line, "\n")] = '\0';
        owner = line + strspn(line, " \t");
        if (*owner == '\0' || *owner == '#')
                return 0;
        start_s = strchr(owner, ':');
        if (!start_s || start_s == owner)
                return 0;
        *start_s++ = '\0';
        count_s = strchr(start_s, ':');
        if (!count_s)
                return 0;
        *count_s++ = '\0';
        if (strchr(count_s, ':'))
                return 0;
        n_starts = subid_number(start_s, starts);
        n_counts = subid_number(count_s, counts);
        for (size_t i = 0; i < n_starts; i++)
                for (size_t j = 0; j < n_counts; j++) {
                        uint64_t start = starts[i], count = counts[j], last;
                        if (count == 0 || start > UINT32_MAX)
                                continue;
                        last = count - 1 > UINT32_MAX - start ? UINT32_MAX : start + count - 1;
                        r = range_add(ranges, n, cap, (uint32_t) start, (uint32_t) last);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Reads a subuid or subgid file into the ranges. A missing file is empty: most hosts without
 * rootless containers have none. */
static int load_subids(ProvLocalAccounts *l, const char *path, size_t *cap) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return 0;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        errno = 0;
        while (getline(&line, &size, f) >= 0) {
                r = subid_line(line, &l->subids, &l->n_subids, cap);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* Every taken id as one list of merged ranges: the local uids and gids (one id each) and the
 * subordinate ranges. */
static int build_taken(ProvLocalAccounts *l) {
        size_t cap = 0;
        int r;

        for (size_t i = 0; i < l->n_uids; i++)
                if ((r = range_add(&l->taken, &l->n_taken, &cap, l->uids[i], l->uids[i])) < 0)
                        return r;
        for (size_t i = 0; i < l->n_groups; i++)
                if ((r = range_add(&l->taken, &l->n_taken, &cap, l->gids[i], l->gids[i])) < 0)
                        return r;
        for (size_t i = 0; i < l->n_subids; i++)
                if ((r = range_add(&l->taken, &l->n_taken, &cap, l->subids[i].first, l->subids[i].last)) < 0)
                        return r;
        ranges_normalize(l->taken, &l->n_taken);
        return 0;
}

int prov_local_load_files(const char *passwd_file, const char *group_file, const char *subuid_file,
                          const char *subgid_file, ProvLocalAccounts **ret) {
        ProvLocalAccounts *l;
        size_t cap_s = 0;
        int r;

        if (!passwd_file || !group_file || !ret)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = load_passwd(l, passwd_file);
        if (r >= 0)
                r = load_group(l, group_file);
        if (r >= 0)
                r = load_subids(l, subuid_file, &cap_s);
        if (r >= 0)
                r = load_subids(l, subgid_file, &cap_s);
        if (r >= 0) {
                qsort(l->user_names, l->n_user_names, sizeof(char *), cmp_str);
                qsort(l->uids, l->n_uids, sizeof(uint32_t), cmp_u32);
                qsort(l->groups, l->n_groups, sizeof(ProvLocalGroup), cmp_group);
                qsort(l->gids, l->n_groups, sizeof(uint32_t), cmp_u32);
                ranges_normalize(l->subids, &l->n_subids);
                r = build_taken(l);
        }
        if (r < 0) {
                prov_local_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int prov_local_load(const char *passwd_file, const char *group_file, ProvLocalAccounts **ret) {
        return prov_local_load_files(passwd_file, group_file, NULL, NULL, ret);
}

int prov_local_load_config(const ProvConfig *c, ProvLocalAccounts **ret) {
        if (!c)
                return -EINVAL;
        return prov_local_load_files(c->passwd_file, c->group_file, c->subuid_file, c->subgid_file, ret);
}

ProvLocalAccounts *prov_local_free(ProvLocalAccounts *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_user_names; i++)
                free(l->user_names[i]);
        for (size_t i = 0; i < l->n_homes; i++)
                free(l->homes[i]);
        free(l->homes);
        for (size_t i = 0; i < l->n_groups; i++)
                free(l->groups[i].name);
        free(l->user_names);
        free(l->uids);
        free(l->groups);
        free(l->gids);
        free(l->subids);
        free(l->taken);
        free(l);
        return NULL;
}

bool prov_local_has_user_name(const ProvLocalAccounts *l, const char *name) {
        return bsearch(&name, l->user_names, l->n_user_names, sizeof(char *), cmp_str);
}

/* True if child lies strictly inside the directory parent ("/" holds every other path). */
static bool path_inside(const char *parent, const char *child) {
        size_t n = strlen(parent);

        if (streq(parent, "/"))
                return child[0] == '/' && child[1] != '\0';
        return strncmp(child, parent, n) == 0 && child[n] == '/' && child[n + 1] != '\0';
}

bool prov_local_home_overlaps(const ProvLocalAccounts *l, const char *home, const char *base) {
        for (size_t i = 0; i < l->n_homes; i++) {
                const char *h = l->homes[i];

                if (streq(h, home) || path_inside(home, h))
                        return true;
                /* Inside a local home: only one below home_base counts ("/", "/home" hold all). */
                if (path_inside(base, h) && path_inside(h, home))
                        return true;
        }
        return false;
}

bool prov_local_has_uid(const ProvLocalAccounts *l, uint32_t uid) {
        return bsearch(&uid, l->uids, l->n_uids, sizeof(uint32_t), cmp_u32);
}

const ProvLocalGroup *prov_local_group(const ProvLocalAccounts *l, const char *name) {
        ProvLocalGroup key = { .name = (char *) name };
        return bsearch(&key, l->groups, l->n_groups, sizeof(ProvLocalGroup), cmp_group);
}

bool prov_local_has_group_name(const ProvLocalAccounts *l, const char *name) {
        return prov_local_group(l, name);
}

bool prov_local_has_gid(const ProvLocalAccounts *l, uint32_t gid) {
        return bsearch(&gid, l->gids, l->n_groups, sizeof(uint32_t), cmp_u32);
}

bool prov_local_in_subid_range(const ProvLocalAccounts *l, uint32_t id) {
        return ranges_find(l->subids, l->n_subids, id);
}

size_t prov_local_n_subid_ranges(const ProvLocalAccounts *l) {
        return l->n_subids;
}

bool prov_local_id_taken(uint32_t id, void *userdata) {
        return prov_local_ids_taken(id, userdata) > 0;
}

uint32_t prov_local_ids_taken(uint32_t id, void *userdata) {
        const ProvLocalAccounts *l = userdata;
        const ProvIdRange *r = ranges_find(l->taken, l->n_taken, id);
        uint64_t n;

        if (!r)
                return 0;
        /* Merged ranges never touch, so the run ends with this range. */
        n = (uint64_t) r->last - id + 1;
        return n > UINT32_MAX ? UINT32_MAX : (uint32_t) n;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                h ^= ((const unsigned char *) p)[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

uint64_t prov_local_digest(const ProvLocalAccounts *l) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < l->n_user_names; i++)
                h = fnv1a(h, l->user_names[i], strlen(l->user_names[i]) + 1);
        /* The homes too: a directory user whose home a local account's now is, holds or lies in
         * is no longer served (sync-export.c). */
        h = fnv1a(h, &l->n_homes, sizeof(l->n_homes));
        for (size_t i = 0; i < l->n_homes; i++)
                h = fnv1a(h, l->homes[i], strlen(l->homes[i]) + 1);
        for (size_t i = 0; i < l->n_groups; i++) {
                h = fnv1a(h, l->groups[i].name, strlen(l->groups[i].name) + 1);
                h = fnv1a(h, &l->groups[i].gid, sizeof(l->groups[i].gid));
        }
        return fnv1a(h, l->taken, l->n_taken * sizeof(ProvIdRange));
}

/* ---- login.defs ---- */

/* Reads one login.defs value as shadow's getdef does: an optionally double-quoted word, a
 * number in C notation (base 0). false if it is not a number. */
static bool defs_number(const char *value, uint64_t *ret) {
        char buf[64], *end;
        size_t n = strcspn(value, " \t\r\n");
        unsigned long long v;

        if (value[0] == '"') {
                value++;
                n = strcspn(value, "\"");
        }
        if (n == 0 || n >= sizeof(buf) || !isdigit((unsigned char) value[0]))
                return false;
        memcpy(buf, value, n);
        buf[n] = '\0';
        errno = 0;
        v = strtoull(buf, &end, 0);
        if (errno != 0 || *end != '\0')
                return false;
        *ret = v;
        return true;
}

int prov_local_subid_policy_load(const char *login_defs_file, ProvSubidPolicy *ret) {
        ProvSubidPolicy p = {
                /* shadow's defaults (useradd.c, find_new_sub_uids()). */
                .uid_min = 100000, .uid_max = 600100000, .uid_count = 65536,
                .gid_min = 100000, .gid_max = 600100000, .gid_count = 65536,
        };
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "SUB_UID_MIN", offsetof(ProvSubidPolicy, uid_min) },
                { "SUB_UID_MAX", offsetof(ProvSubidPolicy, uid_max) },
                { "SUB_UID_COUNT", offsetof(ProvSubidPolicy, uid_count) },
                { "SUB_GID_MIN", offsetof(ProvSubidPolicy, gid_min) },
                { "SUB_GID_MAX", offsetof(ProvSubidPolicy, gid_max) },
                { "SUB_GID_COUNT", offsetof(ProvSubidPolicy, gid_count) },
        };
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        if (!login_defs_file || !ret)
                return -EINVAL;
        f = fopen(login_defs_file, "re");
        if (!f && errno != ENOENT)
                return negative_errno();
        errno = 0;
        while (f && getline(&line, &size, f) >= 0) {
                char *key = line + strspn(line, " \t"), *value;
                size_t n = strcspn(key, " \t\r\n");

                if (*key == '#' || n == 0)
                        continue;
                value = key + n + strspn(key + n, " \t");
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        uint64_t v;
                        /* The last of repeated keys counts, as in shadow; a bad value keeps
                         * what was there, as shadow falls back to its default. */
                        if (strlen(keys[i].key) == n && strncmp(key, keys[i].key, n) == 0 &&
                            defs_number(value, &v))
                                *(uint64_t *) ((char *) &p + keys[i].offset) = v;
                }
        }
        if (f && ferror(f))
                return errno > 0 ? -errno : -EIO;
        *ret = p;
        return 0;
}

unsigned prov_local_subid_overlap(const ProvSubidPolicy *p, uint32_t min, uint32_t max) {
        unsigned mask = 0;

        if (!p || min > max)
                return 0;
        if (p->uid_count > 0 && p->uid_min <= p->uid_max && p->uid_min <= max && p->uid_max >= min)
                mask |= PROV_SUBID_OVERLAP_UID;
        if (p->gid_count > 0 && p->gid_min <= p->gid_max && p->gid_min <= max && p->gid_max >= min)
                mask |= PROV_SUBID_OVERLAP_GID;
        return mask;
}
