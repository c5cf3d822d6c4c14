/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>

#include "local.h"
#include "prov-util.h"

struct ProvLocalAccounts {
        char **user_names;
        size_t n_user_names;
        uint32_t *uids;
        size_t n_uids;
        ProvLocalGroup *groups;
        size_t n_groups;
        uint32_t *gids; /* sorted copy of the groups' gids */
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

/* Grows an array by one element, doubling its capacity; -ENOMEM on failure. */
static int grow(void **p, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? *cap * 2 : 64;
        void *q = reallocarray(*p, c, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = c;
        return 0;
}

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* fgetpwent()/fgetgrent() parse one file without NSS. A missing file counts as empty: a
 * test tree or a minimal container may lack /etc/group, and nothing is lost by that. */
static int load_passwd(ProvLocalAccounts *l, const char *path) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        size_t cap_n = 0, cap_u = 0;
        struct passwd *pw;

        if (!f)
                return errno == ENOENT ? 0 : negative_errno();
        errno = 0;
        while ((pw = fgetpwent(f))) {
                if (grow((void **) &l->user_names, &cap_n, l->n_user_names, sizeof(char *)) < 0 ||
                    grow((void **) &l->uids, &cap_u, l->n_uids, sizeof(uint32_t)) < 0)
                        return -ENOMEM;
                l->user_names[l->n_user_names] = strdup(pw->pw_name);
                if (!l->user_names[l->n_user_names])
                        return -ENOMEM;
                l->n_user_names++;
                l->uids[l->n_uids++] = pw->pw_uid;
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
                if (grow((void **) &l->groups, &cap_g, l->n_groups, sizeof(ProvLocalGroup)) < 0)
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

int prov_local_load(const char *passwd_file, const char *group_file, ProvLocalAccounts **ret) {
        ProvLocalAccounts *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return -ENOMEM;
        r = load_passwd(l, passwd_file);
        if (r >= 0)
                r = load_group(l, group_file);
        if (r < 0) {
                prov_local_free(l);
                return r;
        }
        qsort(l->user_names, l->n_user_names, sizeof(char *), cmp_str);
        qsort(l->uids, l->n_uids, sizeof(uint32_t), cmp_u32);
        qsort(l->groups, l->n_groups, sizeof(ProvLocalGroup), cmp_group);
        qsort(l->gids, l->n_groups, sizeof(uint32_t), cmp_u32);
        *ret = l;
        return 0;
}

ProvLocalAccounts *prov_local_free(ProvLocalAccounts *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_user_names; i++)
                free(l->user_names[i]);
        for (size_t i = 0; i < l->n_groups; i++)
                free(l->groups[i].name);
        free(l->user_names);
        free(l->uids);
        free(l->groups);
        free(l->gids);
        free(l);
        return NULL;
}

bool prov_local_has_user_name(const ProvLocalAccounts *l, const char *name) {
        return bsearch(&name, l->user_names, l->n_user_names, sizeof(char *), cmp_str);
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

bool prov_local_id_taken(uint32_t id, void *userdata) {
        const ProvLocalAccounts *l = userdata;
        return prov_local_has_uid(l, id) || prov_local_has_gid(l, id);
}
