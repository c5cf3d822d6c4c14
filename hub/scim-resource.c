/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prov-validate.h"
#include "scim-parse.h"
#include "scim-resource.h"

/* What the hub stores is one form of a resource, whatever dialect the client wrote it in:
 * canonical names, no nulls, no secrets, no attributes the hub owns. Normalising happens in two
 * passes over the tree: the first moves every value to where it belongs (URN-prefixed and dotted
 * keys into their objects, names canonical-cased, objects given twice merged), the second cleans
 * values (nulls, empty objects, string booleans, members). Then the host-side parser has the last
 * word, so that the hub never accepts what a host would refuse. */

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* cJSON has no call to delete a member by pointer; detaching it is O(1). */
static void drop(cJSON *parent, cJSON *item) {
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, item));
}

#define SCHEMA_CORE_USER PROV_SCIM_SCHEMA_USER
#define SCHEMA_CORE_GROUP PROV_SCIM_SCHEMA_GROUP
#define SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

/* One attribute of a schema (RFC 7643 §4, §8.7): its canonical name, its sub-attributes when it
 * is complex (for a multi-valued one: those of each element), and whether it is boolean. */
typedef struct Attr {
        const char *name;
        const struct Attr *sub;
        bool boolean;
        bool multi;
} Attr;

#define ATTR(n) { .name = (n) }
#define ATTR_BOOL(n) { .name = (n), .boolean = true }
#define ATTR_SUB(n, s) { .name = (n), .sub = (s) }
#define ATTR_MULTI(n, s) { .name = (n), .sub = (s), .multi = true }

static const Attr multi_sub[] = {
        ATTR("value"), ATTR("display"), ATTR("type"), ATTR_BOOL("primary"), ATTR("$ref"), {},
};
static const Attr name_sub[] = {
        ATTR("formatted"), ATTR("familyName"), ATTR("givenName"), ATTR("middleName"),
        ATTR("honorificPrefix"), ATTR("honorificSuffix"), {},
};
static const Attr address_sub[] = {
        ATTR("formatted"), ATTR("streetAddress"), ATTR("locality"), ATTR("region"), ATTR("postalCode"),
        ATTR("country"), ATTR("type"), ATTR_BOOL("primary"), {},
};
static const Attr manager_sub[] = { ATTR("value"), ATTR("$ref"), ATTR("displayName"), {} };
static const Attr meta_sub[] = {
        ATTR("resourceType"), ATTR("created"), ATTR("lastModified"), ATTR("location"), ATTR("version"), {},
};

static const Attr user_attrs[] = {
        ATTR("id"), ATTR("externalId"), ATTR_SUB("meta", meta_sub), ATTR("schemas"),
        ATTR("userName"), ATTR_SUB("name", name_sub), ATTR("displayName"), ATTR("nickName"),
        ATTR("profileUrl"), ATTR("title"), ATTR("userType"), ATTR("preferredLanguage"), ATTR("locale"),
        ATTR("timezone"), ATTR_BOOL("active"), ATTR("password"), ATTR_MULTI("emails", multi_sub),
        ATTR_MULTI("phoneNumbers", multi_sub), ATTR_MULTI("ims", multi_sub), ATTR_MULTI("photos", multi_sub),
        ATTR_MULTI("addresses", address_sub), ATTR_MULTI("groups", multi_sub), ATTR_MULTI("entitlements", multi_sub),
        ATTR_MULTI("roles", multi_sub), ATTR_MULTI("x509Certificates", multi_sub), {},
};
static const Attr group_attrs[] = {
        ATTR("id"), ATTR("externalId"), ATTR_SUB("meta", meta_sub), ATTR("schemas"),
        ATTR("displayName"), ATTR_MULTI("members", multi_sub), {},
};
static const Attr enterprise_attrs[] = {
        ATTR("employeeNumber"), ATTR("costCenter"), ATTR("organization"), ATTR("division"),
        ATTR("department"), ATTR_SUB("manager", manager_sub), {},
};

/* The attribute of table named s (n bytes), case-insensitively; NULL when table is NULL (an
 * unknown object) or does not have it. */
static const Attr *attr_find(const Attr *table, const char *s, size_t n) {
        for (const Attr *a = table; a && a->name; a++)
                if (strlen(a->name) == n && strncasecmp(a->name, s, n) == 0)
                        return a;
        return NULL;
}

static bool has_prefix_ci(const char *s, const char *prefix) {
        return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_urn(const char *s) {
        return has_prefix_ci(s, "urn:");
}

/* An ATTRNAME of RFC 7643 §2.1, or dotted ones ("name.givenName"): only such keys are split at
 * their dots, so that "urn:...:2.0:User" or "a.b.c.d" IP-like unknown keys are kept whole. */
static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool attr_name_ok(const char *s, size_t n) {
        if (n == 0 || !(is_alpha(s[0]) || s[0] == '$'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alpha(s[i]) && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '-' && s[i] != '$')
                        return false;
        return true;
}

static bool dotted_ok(const char *s) {
        for (;;) {
                const char *dot = strchr(s, '.');
                size_t n = dot ? (size_t) (dot - s) : strlen(s);

                if (!attr_name_ok(s, n))
                        return false;
                if (!dot)
                        return true;
                s = dot + 1;
        }
}

/* Gives item the name s (n bytes). cJSON owns a key unless it was added as a constant. */
static int set_key(cJSON *item, const char *s, size_t n) {
        char *k = strndup(s, n);

        if (!k)
                return -ENOMEM;
        if (!(item->type & cJSON_StringIsConst))
                free(item->string);
        item->type &= ~cJSON_StringIsConst;
        item->string = k;
        return 0;
}

/* The member of obj named s (n bytes), case-insensitively. */
static cJSON *child_n(const cJSON *obj, const char *s, size_t n) {
        cJSON *c;

        cJSON_ArrayForEach(c, obj)
                if (c->string && strlen(c->string) == n && strncasecmp(c->string, s, n) == 0)
                        return c;
        return NULL;
}

static cJSON *child(const cJSON *obj, const char *s) {
        return child_n(obj, s, strlen(s));
}

typedef struct Ctx {
        ProvScimError *err;
} Ctx;

static int oom(Ctx *c) {
        (void) prov_scim_error_set(c->err, 500, NULL, "out of memory");
        return -ENOMEM;
}

/* The object named s (n bytes, canonical name name) in dst, created empty when absent. A non-object
 * value of that name is a conflict: the client gave the attribute both whole and by parts. */
static int sub_object(Ctx *c, cJSON *dst, const char *s, size_t n, const char *name, cJSON **ret) {
        cJSON *o = child_n(dst, s, n);

        if (o && cJSON_IsNull(o)) {
                /* "name": null and "name.givenName": "x": the parts win over the null. */
                drop(dst, o);
                o = NULL;
        }
        if (!o) {
                o = cJSON_CreateObject();
                if (!o)
                        return oom(c);
                if (!cJSON_AddItemToObject(dst, name, o)) {
                        cJSON_Delete(o);
                        return oom(c);
                }
        } else if (!cJSON_IsObject(o))
                return prov_scim_error_set(c->err, 400, "invalidValue",
                                           "attribute '%.64s': given both as a value and by its sub-attributes",
                                           name);
        *ret = o;
        return 0;
}

/* Moves item (detached, owned) into dst, whose attributes are described by table (NULL: unknown,
 * names kept as sent): a dotted key goes into its sub-object, a known name is canonical-cased,
 * and an object given twice is merged. Two values of one name otherwise are an error, as the
 * hosts' parser refuses them: nobody can tell which one the client meant. */
static int put(Ctx *c, cJSON *dst, const Attr *table, cJSON *item_owned, unsigned depth) {
        _cleanup_(cJSON_Deletep) cJSON *item = item_owned;
        const char *key = item->string, *dot;
        const Attr *a;
        cJSON *old;
        int r;

        if (depth > PROV_SCIM_JSON_DEPTH_MAX)
                return prov_scim_error_set(c->err, 400, "invalidValue", "nested too deeply");

        dot = strchr(key, '.');
        if (dot && dotted_ok(key)) {
                size_t n = (size_t) (dot - key);
                _cleanup_free_ char *first = strndup(key, n);
                cJSON *o;

                if (!first)
                        return oom(c);
                a = attr_find(table, key, n);
                r = sub_object(c, dst, key, n, a ? a->name : first, &o);
                if (r < 0)
                        return r;
                r = set_key(item, dot + 1, strlen(dot + 1));
                if (r < 0)
                        return oom(c);
                return put(c, o, a ? a->sub : NULL, TAKE_PTR(item), depth + 1);
        }

        a = attr_find(table, key, strlen(key));
        if (a && !streq(a->name, key) && set_key(item, a->name, strlen(a->name)) < 0)
                return oom(c);

        old = child(dst, item->string);
        if (old && cJSON_IsNull(old)) {
                drop(dst, old);
                old = NULL;
        }
        if (old && cJSON_IsNull(item))
                return 0;
        if (old && cJSON_IsObject(old) && cJSON_IsObject(item)) {
                while (item->child) {
                        cJSON *x = cJSON_DetachItemViaPointer(item, item->child);

                        r = put(c, old, a ? a->sub : NULL, x, depth + 1);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (old)
                return prov_scim_error_set(c->err, 400, "invalidValue", "attribute '%.64s': given more than once",
                                           item->string);
        cJSON_AddItemToArray(dst, TAKE_PTR(item));
        return 0;
}

/* Moves every member of src (an extension object as sent) into ext. */
static int put_all(Ctx *c, cJSON *ext, const Attr *table, cJSON *src) {
        while (src->child) {
                cJSON *x = cJSON_DetachItemViaPointer(src, src->child);
                int r = put(c, ext, table, x, 1);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* First pass, one member x of the resource as sent, moved into root. Keys under a schema URN:
 * the core schema's attributes go to the root, the enterprise extension's into its object; an
 * unknown extension's object is kept under its URN (a POSIX extension the hosts read
 * homeDirectory from, say), and a flat "urn:...:attr" key is folded into the object of the URN
 * before its last ':'.
 *
 * What the core schema's object or a "<core URN>:" prefix holds lands at the root, so it is
 * dispatched again from here, exactly as if it had been sent at the root: put() alone would keep
 * a URN-prefixed key whole ("urn:acme:x" under the core URN) or leave an extension's attributes
 * as sent, and the next normalisation, seeing that key at the root, would fold it. The stored
 * form must be a fixed point. */
static int fold_member(Ctx *c, cJSON *root, cJSON *item_owned, ProvHubKind kind, unsigned depth) {
        _cleanup_(cJSON_Deletep) cJSON *x = item_owned;
        const Attr *core = kind == PROV_HUB_USER ? user_attrs : group_attrs;
        const char *core_urn = kind == PROV_HUB_USER ? SCHEMA_CORE_USER : SCHEMA_CORE_GROUP;
        size_t core_len = strlen(core_urn);
        const char *key = x->string, *colon;
        _cleanup_free_ char *urn = NULL;
        cJSON *ext;
        int r;

        if (depth > PROV_SCIM_JSON_DEPTH_MAX)
                return prov_scim_error_set(c->err, 400, "invalidValue", "nested too deeply");
        if (!key)
                return 0;

        /* "<core URN>:attr" is attr at the root; a loop, as the prefix may be repeated. */
        while (has_prefix_ci(key, core_urn) && key[core_len] == ':') {
                if (set_key(x, key + core_len + 1, strlen(key + core_len + 1)) < 0)
                        return oom(c);
                key = x->string;
        }

        if (!is_urn(key))
                return put(c, root, core, TAKE_PTR(x), depth);

        if (strcasecmp(key, core_urn) == 0) {
                if (!cJSON_IsObject(x))
                        return 0; /* a null or a misplaced value of a schema: nothing to keep */
                while (x->child) {
                        r = fold_member(c, root, cJSON_DetachItemViaPointer(x, x->child), kind, depth + 1);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        if (strcasecmp(key, SCHEMA_ENTERPRISE) == 0) {
                if (!cJSON_IsObject(x))
                        return 0;
                r = sub_object(c, root, key, strlen(key), SCHEMA_ENTERPRISE, &ext);
                if (r < 0)
                        return r;
                return put_all(c, ext, enterprise_attrs, x);
        }

        if (has_prefix_ci(key, SCHEMA_ENTERPRISE ":")) {
                r = sub_object(c, root, SCHEMA_ENTERPRISE, strlen(SCHEMA_ENTERPRISE), SCHEMA_ENTERPRISE,
                               &ext);
                if (r < 0)
                        return r;
                if (set_key(x, key + strlen(SCHEMA_ENTERPRISE ":"),
                            strlen(key + strlen(SCHEMA_ENTERPRISE ":"))) < 0)
                        return oom(c);
                return put(c, ext, enterprise_attrs, TAKE_PTR(x), 1);
        }

        if (cJSON_IsObject(x)) {
                r = sub_object(c, root, key, strlen(key), key, &ext);
                if (r < 0)
                        return r;
                return put_all(c, ext, NULL, x);
        }

        colon = strrchr(key, ':');
        if (!dotted_ok(colon + 1)) {
                /* Not "URN:attribute": kept as sent. */
                if (child(root, key))
                        return prov_scim_error_set(c->err, 400, "invalidValue",
                                                   "attribute '%.64s': given more than once", key);
                cJSON_AddItemToArray(root, TAKE_PTR(x));
                return 0;
        }
        urn = strndup(key, (size_t) (colon - key));
        if (!urn)
                return oom(c);
        r = sub_object(c, root, urn, strlen(urn), urn, &ext);
        if (r < 0)
                return r;
        if (set_key(x, colon + 1, strlen(colon + 1)) < 0)
                return oom(c);
        return put(c, ext, NULL, TAKE_PTR(x), 1);
}

/* First pass, at the root: every member of old (the resource as sent, emptied) moved into root. */
static int fold_root(Ctx *c, cJSON *root, cJSON *old, ProvHubKind kind) {
        while (old->child) {
                int r = fold_member(c, root, cJSON_DetachItemViaPointer(old, old->child), kind, 0);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* "True"/"false" in any case, as Entra ID and templates of OneLogin/JumpCloud send them, and
 * 1/0, which the hosts' parser reads as booleans too: stored as what they mean, so that a GET
 * after a deactivation shows "active": false whatever the client wrote. */
static int coerce_bool(Ctx *c, cJSON *obj, cJSON *v) {
        cJSON *b;

        if (cJSON_IsNumber(v) && (v->valuedouble == 0.0 || v->valuedouble == 1.0))
                b = cJSON_CreateBool(v->valuedouble == 1.0);
        else if (!cJSON_IsString(v))
                return 0;
        else if (strcasecmp(v->valuestring, "true") == 0)
                b = cJSON_CreateTrue();
        else if (strcasecmp(v->valuestring, "false") == 0)
                b = cJSON_CreateFalse();
        else
                return 0; /* left as it is: the hosts' parser says what is wrong with it */
        /* ReplaceItemViaPointer() does not carry the key over. */
        if (!b || (v->string && set_key(b, v->string, strlen(v->string)) < 0)) {
                cJSON_Delete(b);
                return oom(c);
        }
        if (!cJSON_ReplaceItemViaPointer(obj, v, b)) {
                cJSON_Delete(b);
                return oom(c);
        }
        return 0;
}

static void delete_wiped(cJSON *obj, cJSON *v) {
        /* A secret is wiped before its memory goes back to the allocator. */
        if (cJSON_IsString(v))
                explicit_bzero(v->valuestring, strlen(v->valuestring));
        drop(obj, v);
}

static int clean_value(Ctx *c, cJSON *parent, cJSON *v, const Attr *a, unsigned depth);

/* Second pass over an object: nulls and empty objects out, string booleans coerced, recursively. */
static int clean_object(Ctx *c, cJSON *obj, const Attr *table, unsigned depth) {
        cJSON *v, *next;
        int r;

        if (depth > PROV_SCIM_JSON_DEPTH_MAX)
                return prov_scim_error_set(c->err, 400, "invalidValue", "nested too deeply");
        for (v = obj->child; v; v = next) {
                const Attr *a = v->string ? attr_find(table, v->string, strlen(v->string)) : NULL;

                next = v->next;
                /* Keys of the elements of multi-valued attributes ("Value", "Primary") are
                 * canonical-cased here, the first pass having stopped at arrays. */
                if (a && !streq(a->name, v->string) && set_key(v, a->name, strlen(a->name)) < 0)
                        return oom(c);
                r = clean_value(c, obj, v, a, depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One value v of parent (an object, or an array for elements), described by a (NULL: unknown). */
static int clean_value(Ctx *c, cJSON *parent, cJSON *v, const Attr *a, unsigned depth) {
        cJSON *e, *next;
        int r;

        if (cJSON_IsNull(v)) {
                drop(parent, v);
                return 0;
        }
        if (a && a->boolean)
                return coerce_bool(c, parent, v);
        if (a && a->multi && !cJSON_IsArray(v)) {
                /* One value where a list belongs ("emails": {...}, or what a PATCH "add" of one
                 * element to an absent attribute leaves): the list of that one value. */
                cJSON *list = cJSON_CreateArray(), *one = cJSON_Duplicate(v, true);

                if (one) {
                        if (!(one->type & cJSON_StringIsConst))
                                free(one->string);
                        one->string = NULL;
                        one->type &= ~cJSON_StringIsConst;
                }
                if (!list || !one) {
                        cJSON_Delete(list);
                        cJSON_Delete(one);
                        return oom(c);
                }
                cJSON_AddItemToArray(list, one);
                if (set_key(list, v->string, strlen(v->string)) < 0) {
                        cJSON_Delete(list);
                        return oom(c);
                }
                /* ReplaceItemViaPointer() frees v. */
                if (!cJSON_ReplaceItemViaPointer(parent, v, list)) {
                        cJSON_Delete(list);
                        return oom(c);
                }
                v = list;
        }
        if (cJSON_IsObject(v)) {
                r = clean_object(c, v, a ? a->sub : NULL, depth + 1);
                if (r < 0)
                        return r;
                if (!v->child)
                        drop(parent, v);
                return 0;
        }
        if (!cJSON_IsArray(v))
                return 0;
        if (depth + 1 > PROV_SCIM_JSON_DEPTH_MAX)
                return prov_scim_error_set(c->err, 400, "invalidValue", "nested too deeply");
        for (e = v->child; e; e = next) {
                next = e->next;
                if (cJSON_IsNull(e)) {
                        drop(v, e);
                        continue;
                }
                if (!cJSON_IsObject(e))
                        continue;
                r = clean_object(c, e, a ? a->sub : NULL, depth + 2);
                if (r < 0)
                        return r;
                if (!e->child)
                        drop(v, e);
        }
        return 0;
}

/* A group's members as the hub keeps them: {"value": id} plus "display" when given, once per
 * id. The rest ("$ref": null from Entra, "type", anything else) is dropped: the hub derives
 * $ref, and the hosts only read value. An element that is not an object, or has no string
 * value, stays for the hosts' parser to refuse. Repeats are found by sorting (by id, then
 * position), not against every earlier element: a PATCH of a 50,000-member group normalises
 * all of them, on the one serving thread. */
typedef struct MemberRef {
        const char *value;
        size_t index;
        cJSON *item;
} MemberRef;

static int member_ref_cmp(const void *a, const void *b) {
        const MemberRef *x = a, *y = b;
        int r = strcmp(x->value, y->value);

        if (r != 0)
                return r;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int reduce_members(Ctx *c, cJSON *members) {
        _cleanup_free_ MemberRef *refs = NULL;
        const MemberRef *keep = NULL;
        size_t n = 0, i = 0;
        cJSON *m;

        if (!cJSON_IsArray(members))
                return 0;
        cJSON_ArrayForEach(m, members) {
                cJSON *k, *knext;

                if (!cJSON_IsObject(m))
                        continue;
                for (k = m->child; k; k = knext) {
                        knext = k->next;
                        if (!streq(k->string, "value") && !streq(k->string, "display"))
                                drop(m, k);
                }
                n++;
        }
        if (n < 2)
                return 0;
        refs = calloc(n, sizeof(MemberRef));
        if (!refs)
                return oom(c);
        n = 0;
        cJSON_ArrayForEach(m, members) {
                cJSON *value = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, "value") : NULL;

                if (cJSON_IsString(value))
                        refs[n++] = (MemberRef) { .value = value->valuestring, .index = i, .item = m };
                i++;
        }
        qsort(refs, n, sizeof(MemberRef), member_ref_cmp);
        /* A repeat of an earlier element's id goes; the first of each id (never dropped) stays. */
        for (i = 0; i < n; i++)
                if (keep && streq(refs[i].value, keep->value))
                        drop(members, refs[i].item);
                else
                        keep = &refs[i];
        return 0;
}

/* "schemas": the core schema and the extension objects present, as their URNs are spelled in
 * the resource; put first, where readers look. What the client listed does not count: unknown
 * and misspelled URNs are dropped rather than refused, as Entra sends some. */
static int set_schemas(Ctx *c, cJSON *root, ProvHubKind kind) {
        cJSON *s, *x;

        s = cJSON_CreateArray();
        if (!s || set_key(s, "schemas", 7) < 0)
                goto fail;
        if (!cJSON_AddItemToArray(s, cJSON_CreateString(kind == PROV_HUB_USER ? SCHEMA_CORE_USER : SCHEMA_CORE_GROUP)))
                goto fail;
        cJSON_ArrayForEach(x, root)
                if (is_urn(x->string) && cJSON_IsObject(x) &&
                    !cJSON_AddItemToArray(s, cJSON_CreateString(x->string)))
                        goto fail;
        if (!(root->child ? cJSON_InsertItemInArray(root, 0, s) : cJSON_AddItemToArray(root, s)))
                goto fail;
        return 0;
fail:
        cJSON_Delete(s);
        return oom(c);
}

/* The last word is the hosts': the resource is printed and given to the parser the hosts use,
 * with a placeholder id (the hub assigns the real one). Whatever it would skip or serve as
 * "unservable" is refused here with its reason. */
static int validate_with_host_parser(Ctx *c, const cJSON *root, ProvHubKind kind) {
        _cleanup_(cJSON_Deletep) cJSON *copy = NULL, *dir = NULL;
        _cleanup_free_ char *json = NULL;
        cJSON *groups;
        int r;

        copy = cJSON_Duplicate(root, true);
        if (!copy || !cJSON_AddStringToObject(copy, "id", "validation"))
                return oom(c);

        if (kind == PROV_HUB_USER) {
                _cleanup_(prov_scim_user_freep) ProvScimUser *u = NULL;

                json = cJSON_PrintUnformatted(copy);
                if (!json)
                        return oom(c);
                r = prov_scim_parse_user(json, strlen(json), NULL, &u);
                if (r == -ENOMEM)
                        return oom(c);
                if (r < 0)
                        return prov_scim_error_set(c->err, 400, "invalidValue", "not a valid user");
                if (u->unservable)
                        return prov_scim_error_set(c->err, 400, "invalidValue", "%s", u->unservable);
                return 0;
        }

        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;

        dir = cJSON_CreateObject();
        groups = cJSON_AddArrayToObject(dir, "Groups");
        if (!groups)
                return oom(c);
        cJSON_AddItemToArray(groups, TAKE_PTR(copy));
        json = cJSON_PrintUnformatted(dir);
        if (!json)
                return oom(c);
        r = prov_scim_parse_directory(json, strlen(json), NULL, &b);
        if (r == -ENOMEM)
                return oom(c);
        if (r < 0 || b->n_groups != 1)
                return prov_scim_error_set(c->err, 400, "invalidValue", "not a valid group");
        if (b->groups[0].unservable)
                return prov_scim_error_set(c->err, 400, "invalidValue", "%s", b->groups[0].unservable);
        /* A member entry the hosts would skip ("members[2]: attribute 'value': missing"). */
        if (b->n_rejects > 0)
                return prov_scim_error_set(c->err, 400, "invalidValue", "%s", b->rejects[0].reason);
        return 0;
}

static bool objects_small(const cJSON *j, unsigned depth) {
        const cJSON *x;
        int n = 0;

        if (depth > PROV_SCIM_JSON_DEPTH_MAX)
                return true; /* too deep, which normalisation refuses in its own words */
        cJSON_ArrayForEach(x, j) {
                if (cJSON_IsObject(j) && ++n > PROV_SCIM_OBJECT_MEMBERS_MAX)
                        return false;
                if ((cJSON_IsObject(x) || cJSON_IsArray(x)) && !objects_small(x, depth + 1))
                        return false;
        }
        return true;
}

bool prov_scim_objects_small(const cJSON *j) {
        return objects_small(j, 0);
}

int prov_scim_resource_normalize(cJSON *resource, ProvHubKind kind, ProvScimError *err) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL, *old = NULL;
        const Attr *core = kind == PROV_HUB_USER ? user_attrs : group_attrs;
        Ctx C = { .err = err };
        const char *required = kind == PROV_HUB_USER ? "userName" : "displayName";
        cJSON *x;
        int r;

        if (!cJSON_IsObject(resource))
                return prov_scim_error_set(err, 400, "invalidSyntax", "a resource is a JSON object");
        if (kind != PROV_HUB_USER && kind != PROV_HUB_GROUP)
                return prov_scim_error_set(err, 400, "invalidValue", "unknown resource type");

        /* Work on a copy: on failure the caller's resource is as it was. */
        old = cJSON_Duplicate(resource, true);
        root = cJSON_CreateObject();
        if (!old || !root)
                return oom(&C);

        r = fold_root(&C, root, old, kind);
        if (r < 0)
                return r;
        if (!prov_scim_objects_small(root))
                return prov_scim_error_set(err, 400, "invalidValue", "an object with more than %d attributes",
                                           PROV_SCIM_OBJECT_MEMBERS_MAX);

        /* What the hub owns or never keeps. */
        while ((x = child(root, "id")))
                drop(root, x);
        while ((x = child(root, "meta")))
                drop(root, x);
        while ((x = child(root, "schemas")))
                drop(root, x);
        if (kind == PROV_HUB_USER) {
                while ((x = child(root, "password")))
                        delete_wiped(root, x);
                while ((x = child(root, "groups")))
                        drop(root, x);
        }

        r = clean_object(&C, root, core, 0);
        if (r < 0)
                return r;

        if (kind == PROV_HUB_GROUP)
                r = reduce_members(&C, child(root, "members"));
        else if (!child(root, "active") && !cJSON_AddTrueToObject(root, "active"))
                return oom(&C);
        if (r < 0)
                return r;

        x = child(root, required);
        if (!x)
                return prov_scim_error_set(err, 400, "invalidValue", "attribute '%s': missing", required);
        if (!cJSON_IsString(x) || !x->valuestring[0])
                return prov_scim_error_set(err, 400, "invalidValue", "attribute '%s': not a non-empty string",
                                           required);

        r = set_schemas(&C, root, kind);
        if (r < 0)
                return r;

        r = validate_with_host_parser(&C, root, kind);
        if (r < 0)
                return r;

        /* Swap: the normalised members become the caller's. */
        while (resource->child)
                drop(resource, resource->child);
        while (root->child)
                cJSON_AddItemToArray(resource, cJSON_DetachItemViaPointer(root, root->child));
        return 0;
}

/* Whether s (n bytes, at a backslash) starts a "\u" escape that cJSON reads as a character other
 * than U+0000: four hex digits, not "0000". cJSON decodes a "\u" without four hex digits as
 * U+0000 too, silently. */
static bool unicode_escape_ok(const char *s, size_t n) {
        unsigned v = 0;

        if (n < 6)
                return false;
        for (size_t i = 2; i < 6; i++) {
                char ch = s[i];

                if (ch >= '0' && ch <= '9')
                        v = v * 16 + (unsigned) (ch - '0');
                else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
                        v = v * 16 + (unsigned) ((ch | 0x20) - 'a' + 10);
                else
                        return false;
        }
        return v != 0;
}

/* JSON nesting of body, counted outside strings; -E2BIG as soon as it passes max. -EINVAL on
 * what cJSON would silently cut a string at: a raw NUL byte (not JSON, yet cJSON keeps it inside
 * a string, so "urn:...:core:2.0:User\0junk" would read as the core schema's URN), a "\u0000"
 * escape, or a "\u" escape without four hex digits. The hosts' parser refuses the same
 * (syncd/scim-parse.c, prescan()). Unbalanced brackets are left for cJSON to refuse. */
static int prescan(const char *body, size_t len, unsigned max) {
        unsigned depth = 0;
        bool in_string = false;

        if (memchr(body, 0, len))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                char ch = body[i];

                if (in_string) {
                        if (ch == '\\') {
                                if (i + 1 < len && body[i + 1] == 'u' &&
                                    !unicode_escape_ok(body + i, len - i))
                                        return -EINVAL;
                                i++;
                        } else if (ch == '"')
                                in_string = false;
                        continue;
                }
                if (ch == '"')
                        in_string = true;
                else if (ch == '{' || ch == '[') {
                        if (++depth > max)
                                return -E2BIG;
                } else if ((ch == '}' || ch == ']') && depth > 0)
                        depth--;
        }
        return 0;
}

int prov_scim_json_parse(const char *body, size_t len, cJSON **ret, ProvScimError *err) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *end = NULL;
        int r;

        if (!ret)
                return prov_scim_error_set(err, 500, NULL, "no place for the result");
        if (len > PROV_SCIM_BODY_MAX)
                return prov_scim_error_set(err, 413, NULL, "request body larger than %d bytes", PROV_SCIM_BODY_MAX);
        if (!body || len == 0)
                return prov_scim_error_set(err, 400, "invalidSyntax", "empty request body");
        r = prescan(body, len, PROV_SCIM_JSON_DEPTH_MAX);
        if (r == -E2BIG)
                return prov_scim_error_set(err, 400, "invalidSyntax", "JSON nested deeper than %d levels",
                                           PROV_SCIM_JSON_DEPTH_MAX);
        if (r < 0)
                return prov_scim_error_set(err, 400, "invalidSyntax",
                                           "a NUL byte, \\u0000, or a \\u escape without four hex digits");
        /* Also in attributes the hosts do not read: the store serves them back in every GET,
         * list page and feed event, which must stay JSON (RFC 8259 §8.1). */
        if (!prov_valid_utf8(body, len))
                return prov_scim_error_set(err, 400, "invalidSyntax", "the request body is not valid UTF-8");

        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        if (!root)
                return prov_scim_error_set(err, 400, "invalidSyntax", "not JSON (at byte %zu)",
                                           end && end >= body ? (size_t) (end - body) : (size_t) 0);
        /* Trailing garbage. */
        while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
                end++;
        if (end != body + len)
                return prov_scim_error_set(err, 400, "invalidSyntax", "unexpected data after the JSON value (at byte %zu)",
                                           (size_t) (end - body));
        if (!cJSON_IsObject(root))
                return prov_scim_error_set(err, 400, "invalidSyntax", "the request body is not a JSON object");
        if (!prov_scim_objects_small(root))
                return prov_scim_error_set(err, 400, "invalidValue", "an object with more than %d members",
                                           PROV_SCIM_OBJECT_MEMBERS_MAX);
        *ret = TAKE_PTR(root);
        return 0;
}
