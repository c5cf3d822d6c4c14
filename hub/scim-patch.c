/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim-filter.h"
#include "scim-patch.h"
#include "scim-resource.h"

/* One engine for every dialect: each operation is (op, optional parsed path, value), applied to a
 * copy of the resource; the copy replaces the resource only when every operation succeeded.
 * What the dialects differ in is read as input, not branched on per IdP:
 *  - op names in any case ("Replace", "replace");
 *  - "True"/"False" strings for the boolean attributes (active, primary);
 *  - a path-less add/replace whose value has dotted ("name.givenName") or URN-prefixed keys, which
 *    are read as paths;
 *  - removal of members by a value array (Entra) or by a filter (members[value eq "x"]);
 *  - add/replace on emails[type eq "work"].value with no such element creates it from the
 *    filter's equalities. */

#define SCHEMA_CORE_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCHEMA_CORE_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

typedef enum PatchOp { OP_ADD, OP_REPLACE, OP_REMOVE } PatchOp;

typedef struct Ctx {
        cJSON *res;
        ProvHubKind kind;
        ProvScimError *err;
} Ctx;

static int oom(Ctx *c) {
        (void) prov_scim_error_set(c->err, 500, NULL, "out of memory");
        return -ENOMEM;
}

/* Removes null members of objects (and null elements of arrays) from a value: a null says "no
 * value", which for add and replace is nothing to store (Entra's "$ref": null). */
static void strip_nulls(cJSON *v) {
        cJSON *c = v ? v->child : NULL;

        while (c) {
                cJSON *next = c->next;

                if (cJSON_IsNull(c))
                        cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
                else
                        strip_nulls(c);
                c = next;
        }
}

/* Entra's default dialect sends booleans as "True"/"False". */
static void coerce_bool(const char *key, cJSON *v) {
        if (!key || !cJSON_IsString(v))
                return;
        if (strcasecmp(key, "active") != 0 && strcasecmp(key, "primary") != 0)
                return;
        if (strcasecmp(v->valuestring, "true") == 0 || strcasecmp(v->valuestring, "false") == 0) {
                bool b = strcasecmp(v->valuestring, "true") == 0;

                free(v->valuestring);
                v->valuestring = NULL;
                v->type = (v->type & ~0xff) | (b ? cJSON_True : cJSON_False);
        }
}

static void coerce_tree(const char *key, cJSON *v) {
        cJSON *c;

        coerce_bool(key, v);
        if (cJSON_IsArray(v))
                cJSON_ArrayForEach(c, v) coerce_tree(key, c);
        else if (cJSON_IsObject(v))
                cJSON_ArrayForEach(c, v) coerce_tree(c->string, c);
}

/* Two elements of a multi-valued attribute are the same value when their "value" sub-attributes
 * are equal (and their types, when both have one): {"value":"u1","$ref":null} is member u1. */
static bool element_same(const cJSON *a, const cJSON *b) {
        if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
                const cJSON *va = cJSON_GetObjectItem(a, "value"), *vb = cJSON_GetObjectItem(b, "value");
                const cJSON *ta = cJSON_GetObjectItem(a, "type"), *tb = cJSON_GetObjectItem(b, "type");

                if (va && vb) {
                        if (!cJSON_Compare(va, vb, true))
                                return false;
                        return !(cJSON_IsString(ta) && cJSON_IsString(tb)) ||
                               strcasecmp(ta->valuestring, tb->valuestring) == 0;
                }
        }
        return cJSON_Compare(a, b, true);
}

/* Before a member is added to parent: see PROV_SCIM_OBJECT_MEMBERS_MAX. Many operations, each
 * within the limit, would otherwise grow one object without bound. */
static int check_room(Ctx *c, const cJSON *parent) {
        if (cJSON_GetArraySize(parent) >= PROV_SCIM_OBJECT_MEMBERS_MAX)
                return prov_scim_error_set(c->err, 400, "invalidValue", "an object with more than %d attributes",
                                           PROV_SCIM_OBJECT_MEMBERS_MAX);
        return 0;
}

/* Sets parent[key] (found case-insensitively, keeping the stored spelling and position) to
 * value, which it takes. */
static int set_member(Ctx *c, cJSON *parent, const char *key, cJSON *value) {
        cJSON *existing = cJSON_GetObjectItem(parent, key);

        if (existing) {
                char *k = strdup(existing->string);

                if (!k) {
                        cJSON_Delete(value);
                        return oom(c);
                }
                if (value->string && !(value->type & cJSON_StringIsConst))
                        free(value->string);
                value->string = k;
                value->type &= ~cJSON_StringIsConst;
                (void) cJSON_ReplaceItemViaPointer(parent, existing, value);
                return 0;
        }
        if (check_room(c, parent) < 0) {
                cJSON_Delete(value);
                return -EINVAL;
        }
        if (!cJSON_AddItemToObject(parent, key, value)) {
                cJSON_Delete(value);
                return oom(c);
        }
        return 0;
}

/* The elements of a multi-valued attribute seen so far, as a set of keys, so that adding or
 * removing m elements of an n-element list (a group's members: Okta and Entra send thousands in
 * one operation) costs n + m lookups rather than n × m calls of element_same(). An element with
 * a "value" has the keys V 0x01 type (lowercased, when it has a string type) or V 0x02 (when
 * not), and V 0x03, V its printed value; one without has 0x04 and itself printed (objects with
 * their members sorted). Printed JSON holds no raw control character, so keys of different forms
 * never collide. */
typedef struct ElementSet {
        char **slots;
        size_t mask;
} ElementSet;

/* Up to this many elements added or removed in one operation are compared with every element
 * of the list, which costs less than a set of the list's keys. */
#define ELEMENTS_COMPARED_MAX 8

static void element_set_done(ElementSet *set) {
        for (size_t i = 0; set->slots && i <= set->mask; i++)
                free(set->slots[i]);
        free(set->slots);
        *set = (ElementSet) {};
}

static int element_set_init(ElementSet *set, size_t n) {
        size_t cap = 16;

        while (cap < 4 * n + 8)
                cap *= 2;
        set->slots = calloc(cap, sizeof(char *));
        set->mask = cap - 1;
        return set->slots ? 0 : -ENOMEM;
}

static size_t key_hash(const char *k) {
        size_t h = 14695981039346656037ULL;

        for (; *k; k++)
                h = (h ^ (unsigned char) *k) * 1099511628211ULL;
        return h;
}

/* Whether the set has key k; with add, k (which it then owns) is added when not. */
static bool element_set_has(ElementSet *set, char *k, bool add) {
        size_t i = key_hash(k) & set->mask;

        for (; set->slots[i]; i = (i + 1) & set->mask)
                if (streq(set->slots[i], k)) {
                        if (add)
                                free(k);
                        return true;
                }
        if (add)
                set->slots[i] = k;
        return false;
}

/* The keys of e (see ElementSet): *ret_match is what an equal element was added as, *ret_any
 * (NULL for an element without a value) what every element with that value was added as. */
static int member_name_cmp(const void *a, const void *b) {
        return strcmp((*(cJSON *const *) a)->string, (*(cJSON *const *) b)->string);
}

/* Sorts the members of every object in j by name: printed, j is then the same text whatever the
 * order its members came in, as cJSON_Compare() holds such objects equal. */
static int sort_members(cJSON *j) {
        _cleanup_free_ cJSON **v = NULL;
        size_t n = 0, i = 0;
        cJSON *c;

        for (c = j->child; c; c = c->next, n++)
                if (sort_members(c) < 0)
                        return -ENOMEM;
        if (!cJSON_IsObject(j) || n < 2)
                return 0;
        v = calloc(n, sizeof(cJSON *));
        if (!v)
                return -ENOMEM;
        for (c = j->child; c; c = c->next)
                v[i++] = c;
        qsort(v, n, sizeof(cJSON *), member_name_cmp);
        for (i = 0; i < n; i++) {
                v[i]->prev = v[i > 0 ? i - 1 : n - 1];
                v[i]->next = i + 1 < n ? v[i + 1] : NULL;
        }
        j->child = v[0];
        return 0;
}

/* x printed, objects in it with their members sorted by name. */
static char *print_sorted(const cJSON *x) {
        _cleanup_(cJSON_Deletep) cJSON *copy = NULL;

        if (!cJSON_IsObject(x) && !cJSON_IsArray(x))
                return cJSON_PrintUnformatted(x);
        copy = cJSON_Duplicate(x, true);
        if (!copy || sort_members(copy) < 0)
                return NULL;
        return cJSON_PrintUnformatted(copy);
}

static int element_keys(const cJSON *e, char **ret_match, char **ret_any) {
        const cJSON *v = cJSON_IsObject(e) ? cJSON_GetObjectItem(e, "value") : NULL;
        const cJSON *t = cJSON_GetObjectItem(e, "type");
        _cleanup_free_ char *p = print_sorted(v ?: e), *match = NULL, *any = NULL;

        *ret_match = *ret_any = NULL;
        if (!p)
                return -ENOMEM;
        /* asprintf() leaves its pointer undefined when it fails. */
        if ((!v ? asprintf(&match, "\x04%s", p) :
             cJSON_IsString(t) ? asprintf(&match, "%s\x01%s", p, t->valuestring) :
             asprintf(&match, "%s\x02", p)) < 0) {
                match = NULL;
                return -ENOMEM;
        }
        if (v && cJSON_IsString(t))
                for (char *q = match + strlen(p); *q; q++)
                        if (*q >= 'A' && *q <= 'Z')
                                *q = (char) (*q - 'A' + 'a');
        if (v && asprintf(&any, "%s\x03", p) < 0) {
                any = NULL;
                return -ENOMEM;
        }
        *ret_match = TAKE_PTR(match);
        *ret_any = TAKE_PTR(any);
        return 0;
}

/* Adds e's keys to set. */
static int element_set_add(ElementSet *set, const cJSON *e) {
        char *match, *any;

        if (element_keys(e, &match, &any) < 0)
                return -ENOMEM;
        (void) element_set_has(set, match, true);
        if (any)
                (void) element_set_has(set, any, true);
        return 0;
}

/* Whether set has an element that element_same() calls equal to e: one of its value and type,
 * or one of its value without a type; for e without a type, any of its value. */
static int element_set_find(ElementSet *set, const cJSON *e) {
        _cleanup_free_ char *match = NULL, *any = NULL;
        char *sep;

        if (element_keys(e, &match, &any) < 0)
                return -ENOMEM;
        if (!any)
                return element_set_has(set, match, false);
        sep = strchr(match, '\x01');
        if (!sep)
                return element_set_has(set, any, false);
        if (element_set_has(set, match, false))
                return true;
        /* V 0x01 type → V 0x02: an element of that value without a type. */
        sep[0] = '\x02';
        sep[1] = 0;
        return element_set_has(set, match, false);
}

/* Appends to arr each element of items (an array, or one value) that arr does not hold yet. */
static int append_unique(Ctx *c, cJSON *arr, const cJSON *items) {
        _cleanup_(element_set_done) ElementSet set = {};
        size_t m = cJSON_IsArray(items) ? (size_t) cJSON_GetArraySize(items) : 1;
        const cJSON *e, *v;
        int r;

        if (m > ELEMENTS_COMPARED_MAX) {
                if (element_set_init(&set, (size_t) cJSON_GetArraySize(arr) + m) < 0)
                        return oom(c);
                cJSON_ArrayForEach(e, arr)
                        if (element_set_add(&set, e) < 0)
                                return oom(c);
        }
        for (v = cJSON_IsArray(items) ? items->child : items; v; v = cJSON_IsArray(items) ? v->next : NULL) {
                cJSON *d;

                if (set.slots)
                        r = element_set_find(&set, v);
                else {
                        r = 0;
                        cJSON_ArrayForEach(e, arr)
                                if ((r = element_same(e, v)))
                                        break;
                }
                if (r < 0)
                        return oom(c);
                if (r > 0)
                        continue;
                d = cJSON_Duplicate(v, true);
                if (!d || !cJSON_AddItemToArray(arr, d)) {
                        cJSON_Delete(d);
                        return oom(c);
                }
                if (set.slots && element_set_add(&set, d) < 0)
                        return oom(c);
        }
        return 0;
}

/* add or replace of parent[key] with a (null-free, coerced) value, RFC 7644 §3.5.2.1/3:
 * multi-valued: add appends what is not there yet, replace replaces the whole list; complex:
 * sub-attributes are merged, the others left alone; anything else is set. */
static int apply_value(Ctx *c, cJSON *parent, const char *key, const cJSON *value, PatchOp op) {
        cJSON *existing = cJSON_GetObjectItem(parent, key);
        const cJSON *v;
        int r;

        if (cJSON_IsNull(value)) {
                cJSON_DeleteItemFromObject(parent, key);
                return 0;
        }
        if (op == OP_ADD && (cJSON_IsArray(existing) || (!existing && cJSON_IsArray(value)))) {
                if (!existing) {
                        if (check_room(c, parent) < 0)
                                return -EINVAL;
                        existing = cJSON_AddArrayToObject(parent, key);
                        if (!existing)
                                return oom(c);
                }
                return append_unique(c, existing, value);
        }
        if (cJSON_IsObject(existing) && cJSON_IsObject(value)) {
                cJSON_ArrayForEach(v, value) {
                        r = apply_value(c, existing, v->string, v, op);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        cJSON *d;
        if (cJSON_IsArray(existing) && !cJSON_IsArray(value)) {
                d = cJSON_CreateArray();
                if (d && !cJSON_AddItemToArray(d, cJSON_Duplicate(value, true)))
                        d = (cJSON_Delete(d), NULL);
        } else
                d = cJSON_Duplicate(value, true);
        if (!d)
                return oom(c);
        return set_member(c, parent, key, d);
}

static bool is_urn(const char *s) {
        return strncasecmp(s, "urn:", 4) == 0;
}

/* Finds the object that holds attr's last segment, and that segment: "name.givenName" → name,
 * "givenName"; "urn:...:User:manager" → the extension object, "manager"; "urn:...:User" (the whole
 * extension) → the resource itself. With create, missing objects on the way are made; without,
 * *ret_parent is NULL when one is missing. */
static int resolve(Ctx *c, const char *attr, bool create, cJSON **ret_parent, char **ret_key) {
        cJSON *parent = c->res, *x;
        _cleanup_free_ char *rest = NULL;
        char *seg, *dot;

        *ret_parent = NULL;
        *ret_key = NULL;
        if (is_urn(attr)) {
                cJSON *found = NULL;
                const char *tail = NULL;

                if (strcasecmp(attr, SCHEMA_ENTERPRISE) == 0 || cJSON_GetObjectItem(c->res, attr)) {
                        *ret_key = strdup(attr);
                        if (!*ret_key)
                                return oom(c);
                        *ret_parent = c->res;
                        return 0;
                }
                cJSON_ArrayForEach(x, c->res) {
                        size_t n = x->string ? strlen(x->string) : 0;

                        if (n && cJSON_IsObject(x) && strncasecmp(x->string, attr, n) == 0 && attr[n] == ':') {
                                found = x;
                                tail = attr + n + 1;
                        }
                }
                if (!found) {
                        const char *colon = strrchr(attr, ':');
                        _cleanup_free_ char *urn = strndup(attr, (size_t) (colon - attr));

                        if (!urn)
                                return oom(c);
                        if (!create)
                                return 0;
                        if (check_room(c, c->res) < 0)
                                return -EINVAL;
                        found = cJSON_AddObjectToObject(c->res, urn);
                        if (!found)
                                return oom(c);
                        tail = colon + 1;
                }
                parent = found;
                rest = strdup(tail);
        } else
                rest = strdup(attr);
        if (!rest)
                return oom(c);

        seg = rest;
        while ((dot = strchr(seg, '.'))) {
                *dot = 0;
                x = cJSON_GetObjectItem(parent, seg);
                if (!x) {
                        if (!create)
                                return 0;
                        if (check_room(c, parent) < 0)
                                return -EINVAL;
                        x = cJSON_AddObjectToObject(parent, seg);
                        if (!x)
                                return oom(c);
                } else if (!cJSON_IsObject(x))
                        return prov_scim_error_set(c->err, 400, "invalidPath",
                                                   "'%.64s' is not a complex attribute in '%.128s'", seg, attr);
                parent = x;
                seg = dot + 1;
        }
        *ret_key = strdup(seg);
        if (!*ret_key)
                return oom(c);
        *ret_parent = parent;
        return 0;
}

/* Attributes a client may not write: the hub sets id, meta and schemas; a user's groups are
 * derived from the groups' members. An id equal to the current one is no change (Okta sends the
 * id back in a rename). Returns 1 when the operation is to be skipped. */
static int check_mutable(Ctx *c, const char *attr, PatchOp op, const cJSON *value) {
        size_t n = strcspn(attr, ".");

        if (n == 2 && strncasecmp(attr, "id", 2) == 0 && !attr[2]) {
                const cJSON *id = cJSON_GetObjectItem(c->res, "id");

                if (op != OP_REMOVE && cJSON_IsString(value) && cJSON_IsString(id) &&
                    streq(value->valuestring, id->valuestring))
                        return 1;
                return prov_scim_error_set(c->err, 400, "mutability", "'id' cannot be changed");
        }
        if ((n == 4 && strncasecmp(attr, "meta", 4) == 0) || (n == 7 && strncasecmp(attr, "schemas", 7) == 0) ||
            (c->kind == PROV_HUB_USER && ((n == 6 && strncasecmp(attr, "groups", 6) == 0) ||
                                          (n == 7 && strncasecmp(attr, "members", 7) == 0))))
                return prov_scim_error_set(c->err, 400, "mutability", "'%.*s' is read-only", (int) n, attr);
        return 0;
}

/* add/replace/remove at a plain attribute path. */
static int apply_plain(Ctx *c, PatchOp op, const char *attr, const cJSON *value) {
        _cleanup_free_ char *key = NULL;
        cJSON *parent, *existing;
        int r;

        r = check_mutable(c, attr, op, value);
        if (r != 0)
                return r > 0 ? 0 : r;
        r = resolve(c, attr, op != OP_REMOVE, &parent, &key);
        if (r < 0)
                return r;
        if (!parent)
                return 0; /* removing what is not there */
        if (op != OP_REMOVE)
                return apply_value(c, parent, key, value, op);

        existing = cJSON_GetObjectItem(parent, key);
        if (!existing)
                return 0;
        if (value && !cJSON_IsNull(value) && cJSON_IsArray(existing)) {
                /* Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes those. */
                _cleanup_(element_set_done) ElementSet set = {};
                size_t m = cJSON_IsArray(value) ? (size_t) cJSON_GetArraySize(value) : 1;
                cJSON *e = existing->child;
                const cJSON *v;

                if (m > ELEMENTS_COMPARED_MAX) {
                        if (element_set_init(&set, m) < 0)
                                return oom(c);
                        for (v = value->child; v; v = v->next)
                                if (element_set_add(&set, v) < 0)
                                        return oom(c);
                }
                while (e) {
                        cJSON *next = e->next;

                        if (set.slots)
                                r = element_set_find(&set, e);
                        else if (cJSON_IsArray(value)) {
                                r = 0;
                                cJSON_ArrayForEach(v, value) r = r || element_same(e, v);
                        } else
                                r = element_same(e, value);
                        if (r < 0)
                                return oom(c);
                        if (r > 0)
                                cJSON_Delete(cJSON_DetachItemViaPointer(existing, e));
                        e = next;
                }
                if (cJSON_GetArraySize(existing) > 0)
                        return 0;
        }
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, existing));
        return 0;
}

/* The element a filter describes, when it is a conjunction of `sub eq value`: emails[type eq
 * "work"] → {"type":"work"}. Returns -ENOENT for any other filter. */
static int element_from_filter(const ProvFilter *f, cJSON *into) {
        int r;

        if (f->op == PROV_FILTER_AND) {
                r = element_from_filter(f->left, into);
                return r < 0 ? r : element_from_filter(f->right, into);
        }
        if (f->op != PROV_FILTER_EQ || strchr(f->attr, '.') || is_urn(f->attr) || cJSON_IsNull(f->value) ||
            cJSON_GetObjectItem(into, f->attr))
                return -ENOENT;
        if (!cJSON_AddItemToObject(into, f->attr, cJSON_Duplicate(f->value, true)))
                return -ENOMEM;
        return 0;
}

/* attr[filter] or attr[filter].sub. */
static int apply_value_path(Ctx *c, PatchOp op, const ProvFilter *path, const cJSON *value) {
        _cleanup_free_ char *key = NULL;
        cJSON *parent, *arr, *e;
        bool matched = false;
        int r;

        r = check_mutable(c, path->attr, op, NULL);
        if (r != 0)
                return r > 0 ? 0 : r;
        r = resolve(c, path->attr, op != OP_REMOVE, &parent, &key);
        if (r < 0)
                return r;
        if (!parent)
                return 0;
        arr = cJSON_GetObjectItem(parent, key);
        if (arr && !cJSON_IsArray(arr))
                return prov_scim_error_set(c->err, 400, "invalidPath", "'%.64s' is not multi-valued", path->attr);
        if (op != OP_REMOVE && !path->sub && !cJSON_IsObject(value))
                return prov_scim_error_set(c->err, 400, "invalidValue",
                                           "a value filter without a sub-attribute takes an object");

        e = arr ? arr->child : NULL;
        while (e) {
                cJSON *next = e->next;

                if (prov_filter_match_element(path->left, e, path->attr)) {
                        matched = true;
                        if (op == OP_REMOVE) {
                                if (path->sub)
                                        cJSON_DeleteItemFromObject(e, path->sub);
                                else
                                        cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
                        } else if (path->sub) {
                                r = apply_value(c, e, path->sub, value, op);
                        } else {
                                const cJSON *v;

                                cJSON_ArrayForEach(v, value) {
                                        r = apply_value(c, e, v->string, v, op);
                                        if (r < 0)
                                                break;
                                }
                        }
                        if (r < 0)
                                return r;
                }
                e = next;
        }
        if (op == OP_REMOVE) {
                /* A filter that matches nothing removes nothing; an emptied list is unassigned. */
                if (arr && cJSON_GetArraySize(arr) == 0)
                        cJSON_Delete(cJSON_DetachItemViaPointer(parent, arr));
                return 0;
        }
        if (matched)
                return 0;

        /* No such element: create the one the filter describes, with the value on it. */
        _cleanup_(cJSON_Deletep) cJSON *n = cJSON_CreateObject();
        if (!n)
                return oom(c);
        r = element_from_filter(path->left, n);
        if (r == -ENOMEM)
                return oom(c);
        if (r < 0)
                return prov_scim_error_set(c->err, 400, "noTarget", "no element of '%.64s' matches the filter",
                                           path->attr);
        if (path->sub)
                r = apply_value(c, n, path->sub, value, OP_REPLACE);
        else {
                const cJSON *v;

                cJSON_ArrayForEach(v, value) {
                        r = apply_value(c, n, v->string, v, OP_REPLACE);
                        if (r < 0)
                                break;
                }
        }
        if (r < 0)
                return r;
        if (!arr) {
                if (check_room(c, parent) < 0)
                        return -EINVAL;
                arr = cJSON_AddArrayToObject(parent, key);
                if (!arr)
                        return oom(c);
        }
        if (!cJSON_AddItemToArray(arr, n))
                return oom(c);
        n = NULL;
        return 0;
}

static int apply_path(Ctx *c, PatchOp op, const char *text, const cJSON *value) {
        _cleanup_(prov_filter_freep) ProvFilter *path = NULL;
        int r;

        r = prov_filter_parse_path(text, &path, c->err);
        if (r < 0)
                return r;
        if (path->op == PROV_FILTER_VALUE_PATH)
                return apply_value_path(c, op, path, value);
        return apply_plain(c, op, path->attr, value);
}

/* A path-less add or replace: each key of the value object is a path of its own (Entra's
 * compliant dialect sends "name.givenName" and "urn:...:User:department" keys). */
static int apply_pathless(Ctx *c, PatchOp op, const cJSON *value) {
        const cJSON *v;
        int r;

        if (!cJSON_IsObject(value))
                return prov_scim_error_set(c->err, 400, "invalidValue",
                                           "an operation without a path takes an object value");
        cJSON_ArrayForEach(v, value) {
                const char *k = v->string;

                if (strcasecmp(k, "schemas") == 0)
                        continue; /* the hub sets schemas from what the resource holds */
                if (strcasecmp(k, SCHEMA_CORE_USER) == 0 || strcasecmp(k, SCHEMA_CORE_GROUP) == 0) {
                        r = apply_pathless(c, op, v);
                } else if (is_urn(k) && cJSON_IsObject(v) &&
                           (strcasecmp(k, SCHEMA_ENTERPRISE) == 0 || cJSON_IsObject(cJSON_GetObjectItem(c->res, k)))) {
                        r = apply_plain(c, op, k, v);
                } else {
                        _cleanup_(prov_filter_freep) ProvFilter *path = NULL;

                        /* A key may be a value path too: Entra's compliant dialect replaces
                         * {"emails[type eq \"work\"].value": "x", "name.givenName": "y"}. */
                        r = prov_filter_parse_path(k, &path, c->err);
                        if (r >= 0)
                                r = path->op == PROV_FILTER_VALUE_PATH ? apply_value_path(c, op, path, v)
                                                                       : apply_plain(c, op, path->attr, v);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Whether obj has a member named name more than once (case-insensitively): the first would be
 * used, where other JSON readers (a proxy, an audit tool) take the last. */
static bool key_repeated(const cJSON *obj, const char *name) {
        const cJSON *k;
        unsigned n = 0;

        cJSON_ArrayForEach(k, obj)
                if (k->string && strcasecmp(k->string, name) == 0 && ++n > 1)
                        return true;
        return false;
}

static int apply_one(Ctx *c, const cJSON *operation, size_t i) {
        static const char *const op_keys[] = { "op", "path", "value" };
        const cJSON *o = cJSON_GetObjectItem(operation, "op"), *p = cJSON_GetObjectItem(operation, "path");
        const cJSON *v = cJSON_GetObjectItem(operation, "value");
        _cleanup_(cJSON_Deletep) cJSON *value = NULL;
        PatchOp op;

        if (!cJSON_IsObject(operation))
                return prov_scim_error_set(c->err, 400, "invalidSyntax", "Operations[%zu] is not an object", i);
        for (size_t k = 0; k < ELEMENTSOF(op_keys); k++)
                if (key_repeated(operation, op_keys[k]))
                        return prov_scim_error_set(c->err, 400, "invalidSyntax",
                                                   "Operations[%zu]: \"%s\" given more than once", i, op_keys[k]);
        if (!cJSON_IsString(o))
                return prov_scim_error_set(c->err, 400, "invalidSyntax", "Operations[%zu]: no \"op\"", i);
        if (strcasecmp(o->valuestring, "add") == 0)
                op = OP_ADD;
        else if (strcasecmp(o->valuestring, "replace") == 0)
                op = OP_REPLACE;
        else if (strcasecmp(o->valuestring, "remove") == 0)
                op = OP_REMOVE;
        else
                return prov_scim_error_set(c->err, 400, "invalidSyntax", "Operations[%zu]: unknown op '%.32s'", i,
                                           o->valuestring);
        if (p && !cJSON_IsNull(p) && !cJSON_IsString(p))
                return prov_scim_error_set(c->err, 400, "invalidPath", "Operations[%zu]: \"path\" is not a string", i);
        if (cJSON_IsString(p) && !p->valuestring[0])
                p = NULL;
        if (op != OP_REMOVE && !v)
                return prov_scim_error_set(c->err, 400, "invalidValue", "Operations[%zu]: no \"value\"", i);
        if (op == OP_REMOVE && !cJSON_IsString(p))
                return prov_scim_error_set(c->err, 400, "noTarget", "Operations[%zu]: remove needs a path", i);

        if (v) {
                value = cJSON_Duplicate(v, true);
                if (!value)
                        return oom(c);
                strip_nulls(value);
                coerce_tree(cJSON_IsString(p) ? strrchr(p->valuestring, '.') ? strrchr(p->valuestring, '.') + 1
                                                                              : p->valuestring
                                              : NULL,
                            value);
        }
        if (!cJSON_IsString(p))
                return apply_pathless(c, op, value);
        return apply_path(c, op, p->valuestring, value);
}

/* Okta removes a group's members with one operation each, {"op":"remove","path":"members[value
 * eq \"id\"]"}: each one walked all the members, so that 3,000 of them on a 50,000-member group
 * took 9 s. A run of such operations is applied as one walk that removes the members whose value
 * is one of the run's, which is what the operations one after the other do. */

/* Whether operation o is such an operation. */
static bool member_removal(Ctx *c, const cJSON *o) {
        _cleanup_(prov_filter_freep) ProvFilter *path = NULL;
        const cJSON *op = cJSON_GetObjectItem(o, "op"), *p = cJSON_GetObjectItem(o, "path");
        ProvScimError ignored = {};

        if (c->kind != PROV_HUB_GROUP || !cJSON_IsObject(o) || !cJSON_IsString(op) ||
            strcasecmp(op->valuestring, "remove") != 0 || !cJSON_IsString(p) || key_repeated(o, "op") ||
            key_repeated(o, "path") || key_repeated(o, "value"))
                return false;
        return prov_filter_parse_path(p->valuestring, &path, &ignored) >= 0 && path->op == PROV_FILTER_VALUE_PATH &&
               strcasecmp(path->attr, "members") == 0 && !path->sub && path->left->op == PROV_FILTER_EQ &&
               strcasecmp(path->left->attr, "value") == 0 && cJSON_IsString(path->left->value);
}

/* Whether `members[value eq "<one of set>"]` holds for element e (members.value is caseExact):
 * visited as the filter does, through arrays, and a complex value for its "value". */
static bool member_value_in(ElementSet *set, const cJSON *v, bool top) {
        const cJSON *x;

        if (cJSON_IsArray(v)) {
                cJSON_ArrayForEach(x, v)
                        if (member_value_in(set, x, top))
                                return true;
                return false;
        }
        if (top || cJSON_IsObject(v)) {
                x = cJSON_GetObjectItem(v, "value");
                if (!x)
                        return false;
                if (!top && (cJSON_IsObject(x) || cJSON_IsArray(x)))
                        return false;
                return member_value_in(set, x, false);
        }
        return cJSON_IsString(v) && element_set_has(set, v->valuestring, false);
}

/* Applies the n member removals from o on (see member_removal()). */
static int apply_member_removals(Ctx *c, const cJSON *o, size_t n) {
        _cleanup_(element_set_done) ElementSet set = {};
        _cleanup_free_ char *key = NULL;
        cJSON *parent, *arr, *e;
        int r;

        if (element_set_init(&set, n) < 0)
                return oom(c);
        for (size_t k = 0; k < n; k++, o = o->next) {
                _cleanup_(prov_filter_freep) ProvFilter *path = NULL;
                char *id;

                r = prov_filter_parse_path(cJSON_GetObjectItem(o, "path")->valuestring, &path, c->err);
                if (r < 0)
                        return r;
                id = strdup(path->left->value->valuestring);
                if (!id)
                        return oom(c);
                (void) element_set_has(&set, id, true);
        }
        r = resolve(c, "members", false, &parent, &key);
        if (r < 0)
                return r;
        arr = parent ? cJSON_GetObjectItem(parent, key) : NULL;
        if (!arr)
                return 0;
        if (!cJSON_IsArray(arr))
                return prov_scim_error_set(c->err, 400, "invalidPath", "'members' is not multi-valued");
        for (e = arr->child; e;) {
                cJSON *next = e->next;

                if (member_value_in(&set, e, true))
                        cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
                e = next;
        }
        if (cJSON_GetArraySize(arr) == 0)
                cJSON_Delete(cJSON_DetachItemViaPointer(parent, arr));
        return 0;
}

int prov_scim_patch_apply(cJSON *resource, const cJSON *body, ProvHubKind kind, ProvScimError *err) {
        _cleanup_(cJSON_Deletep) cJSON *work = NULL;
        const cJSON *ops, *o;
        cJSON *swap;
        size_t i = 0;
        int r;

        if (!cJSON_IsObject(resource))
                return prov_scim_error_set(err, 500, NULL, "no resource to patch");
        if (!cJSON_IsObject(body))
                return prov_scim_error_set(err, 400, "invalidSyntax", "a PatchOp body is an object");
        ops = cJSON_GetObjectItem(body, "Operations");
        if (key_repeated(body, "Operations"))
                return prov_scim_error_set(err, 400, "invalidSyntax", "\"Operations\" given more than once");
        if (!cJSON_IsArray(ops))
                return prov_scim_error_set(err, 400, "invalidSyntax", "\"Operations\" is not an array");
        work = cJSON_Duplicate(resource, true);
        if (!work)
                return prov_scim_error_set(err, 500, NULL, "out of memory");

        Ctx c = { .res = work, .kind = kind, .err = err };
        for (o = ops->child; o;) {
                const cJSON *end = o;
                size_t n = 0;

                while (end && member_removal(&c, end))
                        end = end->next, n++;
                if (n > ELEMENTS_COMPARED_MAX) {
                        r = apply_member_removals(&c, o, n);
                        o = end, i += n;
                } else
                        r = apply_one(&c, o, i++), o = o->next;
                if (r < 0)
                        return r;
        }
        /* All operations held: the copy's members become the resource's. */
        swap = resource->child;
        resource->child = work->child;
        work->child = swap;
        return 0;
}
