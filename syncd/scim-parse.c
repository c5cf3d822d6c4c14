/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "prov-util.h"
#include "prov-validate.h"
#include "scim-json.h"
#include "scim-parse-internal.h"
#include "scim-parse.h"


#define SCIM_DATE_MAX 64
/* Integers a JSON number (a double in cJSON) holds exactly: beyond 2^53 we cannot tell
 * 9007199254740993 from 9007199254740992, so such values are rejected, not rounded. */
#define SCIM_EXACT_INT_MAX 9007199254740992.0

Limits scim_limits_from(const ProvScimParseOptions *o) {
        Limits l = {
                .max_depth = 32,
                .max_string = 4096,
                .max_members = 1000000,
                .max_bytes = 64u * 1024 * 1024,
        };

        if (!o)
                return l;
        l.uid_attribute = o->uid_attribute && o->uid_attribute[0] ? o->uid_attribute : NULL;
        l.gid_attribute = o->gid_attribute && o->gid_attribute[0] ? o->gid_attribute : NULL;
        l.ssh_keys_attribute = o->ssh_keys_attribute && o->ssh_keys_attribute[0] ? o->ssh_keys_attribute : NULL;
        if (o->max_depth > 0)
                l.max_depth = o->max_depth;
        if (o->max_string > 0)
                l.max_string = o->max_string;
        if (o->max_members > 0)
                l.max_members = o->max_members;
        if (o->max_bytes > 0)
                l.max_bytes = o->max_bytes;
        l.intern = o->intern_member_id;
        l.intern_userdata = o->intern_userdata;
        return l;
}

/* A string we keep: valid UTF-8 (cJSON passes raw bytes through), no control characters. */
static bool clean_string(const char *s, size_t len) {
        return prov_valid_text(s, len);
}

/* Copy of an untrusted id for a reject record: control bytes replaced, length capped. */
static char *sanitized_copy(ProvArena *arena, const char *s) {
        char *c;

        if (!s)
                return NULL;
        c = prov_arena_strndup(arena, s, SCIM_ID_MAX);
        if (!c)
                return NULL;
        for (char *p = c; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return c;
}

/* Builds the reason of a rejected resource. Returns -EBADMSG, or -ENOMEM. */
_printf_(2, 3)
static int fail(char **reason, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(reason, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *reason = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

/* Reads an optional or required string attribute of obj: a pointer into the JSON tree, borrowed
 * (NULL if absent or, for an optional one, empty). */
int scim_get_string_ref(const cJSON *obj, const char *name, bool required, size_t max, const char **ret,
                        char **reason) {
        const cJSON *v = NULL;
        size_t n;
        int r;

        r = json_get(obj, name, &v);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute '%s': given more than once", name);
        if (r == 0) {
                if (required)
                        return fail(reason, "attribute '%s': missing", name);
                *ret = NULL;
                return 0;
        }
        if (!cJSON_IsString(v) || !v->valuestring)
                return fail(reason, "attribute '%s': not a string", name);

        n = strlen(v->valuestring);
        if (n == 0) {
                if (required)
                        return fail(reason, "attribute '%s': empty", name);
                *ret = NULL;
                return 0;
        }
        if (n > max)
                return fail(reason, "attribute '%s': longer than %zu bytes", name, max);
        if (!clean_string(v->valuestring, n))
                return fail(reason, "attribute '%s': invalid UTF-8 or control character", name);

        *ret = v->valuestring;
        return 0;
}

/* Copies s, which may be NULL, into the arena. */
static int copy_string(ProvArena *arena, const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = prov_arena_strdup(arena, s);
        return *ret ? 0 : -ENOMEM;
}

/* scim_get_string_ref(), copied into the arena. */
static int get_string(const cJSON *obj, const char *name, bool required, size_t max, ProvArena *arena,
                      char **ret, char **reason) {
        const char *s = NULL;
        int r;

        r = scim_get_string_ref(obj, name, required, max, &s, reason);
        if (r < 0)
                return r;
        return copy_string(arena, s, ret);
}

/* Strict decimal: optional '-', 1..19 digits, nothing else, within int64. */
static int parse_int64_string(const char *s, int64_t *ret) {
        const char *d = s[0] == '-' ? s + 1 : s;
        long long v;
        char *end;

        if (!d[0] || strlen(d) > 19)
                return -EINVAL;
        for (const char *c = d; *c; c++)
                if (*c < '0' || *c > '9')
                        return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end)
                return -ERANGE;
        *ret = (int64_t) v;
        return 0;
}

/* An integer as a JSON number (integral and exactly representable) or a numeric string. */
int scim_json_to_int64(const cJSON *v, int64_t *ret) {
        if (cJSON_IsNumber(v)) {
                double d = v->valuedouble;
                int64_t i;

                /* The comparisons are false for NaN, so NaN is rejected too. */
                if (!(d >= -SCIM_EXACT_INT_MAX && d <= SCIM_EXACT_INT_MAX))
                        return -ERANGE;
                i = (int64_t) d;
                if ((double) i != d)
                        return -EINVAL;
                *ret = i;
                return 0;
        }
        if (cJSON_IsString(v) && v->valuestring)
                return parse_int64_string(v->valuestring, ret);
        return -EINVAL;
}

/* Walks a dotted path "a.b.c" from obj. Returns 1 and the item, 0 if some step is absent,
 * -EBADMSG with a reason if a step is of the wrong type or ambiguous. */
static int walk_dotted(const cJSON *obj, const char *path, const char *attr, const cJSON **ret, char **reason) {
        const cJSON *cur = obj;
        const char *p = path;

        for (;;) {
                const char *dot = strchr(p, '.');
                _cleanup_free_ char *name = dot ? strndup(p, (size_t) (dot - p)) : strdup(p);
                const cJSON *next = NULL;
                int r;

                if (!name)
                        return -ENOMEM;
                if (!cJSON_IsObject(cur))
                        return fail(reason, "attribute '%s': '%s' is not inside an object", attr, name);
                r = json_get(cur, name, &next);
                if (r == -ENOTUNIQ)
                        return fail(reason, "attribute '%s': '%s' given more than once", attr, name);
                if (r == 0)
                        return 0;
                cur = next;
                if (!dot)
                        break;
                p = dot + 1;
        }

        *ret = cur;
        return 1;
}

/* Finds the value at a configured attribute path (see ProvScimParseOptions). Returns 1 and the
 * item, 0 if absent, -EBADMSG with a reason if a step is of the wrong type or ambiguous. */
static int resolve_attribute(const cJSON *res, const char *attr, const cJSON **ret, char **reason) {
        const char *colon = strrchr(attr, ':');
        int r;

        if (colon) {
                _cleanup_free_ char *urn = strndup(attr, (size_t) (colon - attr));
                const cJSON *ext = NULL;

                if (!urn)
                        return -ENOMEM;
                r = json_get(res, urn, &ext);
                if (r == -ENOTUNIQ)
                        return fail(reason, "attribute '%s': schema given more than once", urn);
                if (r > 0) {
                        if (!cJSON_IsObject(ext))
                                return fail(reason, "attribute '%s': not an object", urn);
                        return walk_dotted(ext, colon + 1, attr, ret, reason);
                }
                /* Some servers flatten extension attributes into the root under their full URN
                 * name. */
                r = json_get(res, attr, ret);
                if (r == -ENOTUNIQ)
                        return fail(reason, "attribute '%s': given more than once", attr);
                return r;
        }
        return walk_dotted(res, attr, attr, ret, reason);
}

/* Resolves a configured uid/gid attribute path (see ProvScimParseOptions) to an integer. */
static int get_id_attribute(const cJSON *res, const char *attr, bool *has, int64_t *ret, char **reason) {
        const cJSON *v = NULL;
        int r;

        *has = false;
        if (!attr)
                return 0;

        r = resolve_attribute(res, attr, &v, reason);
        if (r <= 0)
                return r;

        if (scim_json_to_int64(v, ret) < 0)
                return fail(reason, "attribute '%s': not an integer", attr);
        *has = true;
        return 0;
}

/* One entry of the SSH keys attribute: a string, or (in an array) an object with a "value"
 * string. "" and a null value are skipped (*ret NULL). The text is kept raw, control characters
 * and all: the sync validates it as a key and skips it with an audit event when it is not one. */
static int ssh_key_entry(const cJSON *v, const char *attr, size_t i, bool in_array, const char **ret, char **reason) {
        const cJSON *value = NULL;
        size_t n;
        int r;

        *ret = NULL;
        if (in_array && cJSON_IsObject(v)) {
                r = json_get(v, "value", &value);
                if (r == -ENOTUNIQ)
                        return fail(reason, "attribute '%s': [%zu].value given more than once", attr, i);
                if (r == 0)
                        return 0;
                v = value;
        }
        if (!cJSON_IsString(v) || !v->valuestring)
                return in_array ? fail(reason, "attribute '%s': [%zu] is not a string", attr, i)
                                : fail(reason, "attribute '%s': not a string or an array", attr);
        n = strlen(v->valuestring);
        if (n > PROV_SSH_KEY_MAX)
                return fail(reason, "attribute '%s': a key longer than %u bytes", attr, PROV_SSH_KEY_MAX);
        *ret = n > 0 ? v->valuestring : NULL;
        return 0;
}

/* Reads the configured SSH keys attribute into u->ssh_keys (in the arena). */
static int get_ssh_keys(const cJSON *res, const char *attr, ProvArena *arena, ProvScimUser *u, char **reason) {
        const char *keys[PROV_SSH_KEYS_MAX];
        const cJSON *v = NULL, *i;
        size_t n = 0, k = 0;
        int r;

        u->ssh_keys = NULL;
        u->n_ssh_keys = 0;
        if (!attr)
                return 0;
        r = resolve_attribute(res, attr, &v, reason);
        if (r <= 0)
                return r;

        if (cJSON_IsArray(v)) {
                cJSON_ArrayForEach(i, v) {
                        const char *key;

                        r = ssh_key_entry(i, attr, k++, true, &key, reason);
                        if (r < 0)
                                return r;
                        if (!key)
                                continue;
                        if (n >= PROV_SSH_KEYS_MAX)
                                return fail(reason, "attribute '%s': more than %u keys", attr, PROV_SSH_KEYS_MAX);
                        keys[n++] = key;
                }
        } else {
                const char *key;

                r = ssh_key_entry(v, attr, 0, false, &key, reason);
                if (r < 0)
                        return r;
                if (key)
                        keys[n++] = key;
        }
        if (n == 0)
                return 0;

        u->ssh_keys = prov_arena_alloc(arena, n * sizeof(char *), alignof(char *));
        if (!u->ssh_keys)
                return -ENOMEM;
        for (size_t j = 0; j < n; j++) {
                u->ssh_keys[j] = prov_arena_strdup(arena, keys[j]);
                if (!u->ssh_keys[j])
                        return -ENOMEM;
        }
        u->n_ssh_keys = n;
        return 0;
}

/* "schemas", when present, must list the core schema of the resource type. */
static int check_schemas(const cJSON *res, const char *urn, char **reason) {
        const cJSON *s = NULL, *i;
        int r;

        r = json_get(res, "schemas", &s);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'schemas': given more than once");
        if (r == 0)
                return 0;
        if (!cJSON_IsArray(s))
                return fail(reason, "attribute 'schemas': not an array");
        cJSON_ArrayForEach(i, s)
                if (cJSON_IsString(i) && i->valuestring && strcasecmp(i->valuestring, urn) == 0)
                        return 0;
        return fail(reason, "attribute 'schemas': does not contain %s", urn);
}

static int get_active(const cJSON *res, bool *ret, char **reason) {
        const cJSON *v = NULL;
        int r;

        r = json_get(res, "active", &v);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'active': given more than once");
        if (r == 0) {
                *ret = true;
                return 0;
        }
        if (cJSON_IsBool(v)) {
                *ret = cJSON_IsTrue(v);
                return 0;
        }
        /* Entra ID sends "active": "False"; some servers send 0/1. */
        if (cJSON_IsString(v) && v->valuestring) {
                if (strcasecmp(v->valuestring, "true") == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v->valuestring, "false") == 0) {
                        *ret = false;
                        return 0;
                }
        }
        if (cJSON_IsNumber(v) && (v->valuedouble == 0.0 || v->valuedouble == 1.0)) {
                *ret = v->valuedouble == 1.0;
                return 0;
        }
        return fail(reason, "attribute 'active': not a boolean");
}

/* meta.lastModified is checked (a resource with a malformed one is not trusted) but not kept:
 * deltas are asked for by our own clock, so a copy per resource would only hold memory. */
static int check_meta_last_modified(const cJSON *res, char **reason) {
        const cJSON *meta = NULL;
        const char *s;
        int r;

        r = json_get(res, "meta", &meta);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'meta': given more than once");
        if (r == 0)
                return 0;
        if (!cJSON_IsObject(meta))
                return fail(reason, "attribute 'meta': not an object");
        return scim_get_string_ref(meta, "lastModified", false, SCIM_DATE_MAX, &s, reason);
}

/* homeDirectory/loginShell live in whatever POSIX extension the server uses, or at the root:
 * take the root first, then the first "urn:" extension object that has it. */
static int get_posix_string(const cJSON *res, const char *name, size_t max, ProvArena *arena, char **ret,
                            char **reason) {
        const char *s = NULL;
        const cJSON *i;
        int r;

        r = scim_get_string_ref(res, name, false, max, &s, reason);
        if (r < 0)
                return r;

        cJSON_ArrayForEach(i, res) {
                if (s)
                        break;
                if (!i->string || strncasecmp(i->string, "urn:", 4) != 0 || !cJSON_IsObject(i))
                        continue;
                r = scim_get_string_ref(i, name, false, max, &s, reason);
                if (r < 0)
                        return r;
        }
        return copy_string(arena, s, ret);
}

static int get_display_name(const cJSON *res, size_t max, ProvArena *arena, char **ret, char **reason) {
        const char *s = NULL, *given = NULL, *family = NULL;
        const cJSON *name = NULL;
        int r;

        *ret = NULL;
        r = scim_get_string_ref(res, "displayName", false, max, &s, reason);
        if (r < 0 || s)
                return r < 0 ? r : copy_string(arena, s, ret);

        r = json_get(res, "name", &name);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'name': given more than once");
        if (r == 0)
                return 0;
        if (!cJSON_IsObject(name))
                return fail(reason, "attribute 'name': not an object");

        r = scim_get_string_ref(name, "formatted", false, max, &s, reason);
        if (r < 0 || s)
                return r < 0 ? r : copy_string(arena, s, ret);
        r = scim_get_string_ref(name, "givenName", false, max, &given, reason);
        if (r < 0)
                return r;
        r = scim_get_string_ref(name, "familyName", false, max, &family, reason);
        if (r < 0)
                return r;

        if (given && family) {
                size_t g = strlen(given), f = strlen(family);
                char *p = prov_arena_alloc(arena, g + 1 + f + 1, 1);

                if (!p)
                        return -ENOMEM;
                memcpy(p, given, g);
                p[g] = ' ';
                memcpy(p + g + 1, family, f + 1);
                *ret = p;
                return 0;
        }
        return copy_string(arena, given ?: family, ret);
}

/* Turns a record whose id was read into an unservable one: only id and active are kept, the
 * rest is rolled back, and unservable says why (in the arena). */
static int user_unservable(ProvArena *arena, const ProvArenaMark *rest, ProvScimUser *u, const char *why) {
        prov_arena_rollback(arena, rest);
        *u = (ProvScimUser) { .id = u->id, .active = u->active };
        u->unservable = prov_arena_strdup(arena, why);
        return u->unservable ? 0 : -ENOMEM;
}

/* Fills *ret from one User resource, with its strings in the arena. The id is read first: a
 * resource without a readable one gives -EBADMSG and *reason, and the arena is left as it was.
 * With one, the record is never dropped: then active (false when unreadable), then the rest;
 * when any of that is unusable, *ret is unservable (see ProvScimUser) and 0 is returned. */
int scim_user_from_json(const cJSON *res, const Limits *l, ProvArena *arena, ProvScimUser *ret, char **reason) {
        ProvArenaMark mark = prov_arena_mark(arena), rest;
        _cleanup_free_ char *why = NULL;
        ProvScimUser u = {};
        int r;

        if (!cJSON_IsObject(res))
                return fail(reason, "resource is not an object");

        r = get_string(res, "id", true, SCIM_ID_MAX, arena, &u.id, reason);
        if (r < 0) {
                prov_arena_rollback(arena, &mark);
                return r;
        }
        rest = prov_arena_mark(arena);

        r = get_active(res, &u.active, &why);
        if (r == -EBADMSG)
                u.active = false; /* an unreadable "active" must not keep anyone active */
        else if (r >= 0 && ((r = check_schemas(res, PROV_SCIM_SCHEMA_USER, &why)) < 0 ||
                            (r = get_string(res, "userName", true, SCIM_ID_MAX, arena, &u.user_name, &why)) < 0 ||
                            (r = get_display_name(res, l->max_string, arena, &u.display_name, &why)) < 0 ||
                            (r = get_id_attribute(res, l->uid_attribute, &u.has_uid, &u.uid, &why)) < 0 ||
                            (r = get_id_attribute(res, l->gid_attribute, &u.has_gid, &u.gid, &why)) < 0 ||
                            (r = get_posix_string(res, "homeDirectory", l->max_string, arena, &u.home, &why)) < 0 ||
                            (r = get_posix_string(res, "loginShell", l->max_string, arena, &u.shell, &why)) < 0 ||
                            (r = get_ssh_keys(res, l->ssh_keys_attribute, arena, &u, &why)) < 0 ||
                            (r = check_meta_last_modified(res, &why)) < 0) &&
                 r != -EBADMSG) {
                prov_arena_rollback(arena, &mark);
                return r;
        }
        if (r == -EBADMSG) {
                r = user_unservable(arena, &rest, &u, why);
                if (r < 0) {
                        prov_arena_rollback(arena, &mark);
                        return r;
                }
        }

        *ret = u;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Bad member entries reported one by one per group; the rest are counted in one more reject. */
#define MEMBER_REJECTS_MAX 16

/* A bad entry of a group's members: skipped, and reported against the group. */
typedef struct MemberRejects {
        ProvScimBatch *batch; /* NULL: not reported */
        const char *group_id;
        size_t n;
} MemberRejects;

static int add_reject(ProvScimBatch *b, const char *kind, const char *id, const char *reason);

_printf_(2, 3)
static int member_reject(MemberRejects *mr, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int r;

        if (!mr->batch || mr->n++ >= MEMBER_REJECTS_MAX)
                return 0;
        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (r < 0) {
                reason = NULL;
                return -ENOMEM;
        }
        return add_reject(mr->batch, "group", mr->group_id, reason);
}

/* Fills g->member_ids (in the arena) from the "members" attribute. A bad entry (not an object,
 * an unusable value or type) is skipped and reported through mr; -EBADMSG and *reason only when
 * the attribute as a whole cannot be read. On error the caller rolls the arena back. */
static int get_members(const cJSON *res, const Limits *l, ProvArena *arena, ProvScimGroup *g, MemberRejects *mr,
                       char **reason) {
        const cJSON *members = NULL, *m;
        size_t total, n = 0, idx = 0, w;
        int r;

        r = json_get(res, "members", &members);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'members': given more than once");
        if (r == 0)
                return 0;
        if (!cJSON_IsArray(members))
                return fail(reason, "attribute 'members': not an array");
        total = (size_t) cJSON_GetArraySize(members);
        if (total > l->max_members)
                return fail(reason, "attribute 'members': more than %zu members", l->max_members);
        if (total >= SIZE_MAX / sizeof(char *))
                return -ENOMEM;

        g->member_ids = prov_arena_alloc(arena, (total + 1) * sizeof(char *), alignof(char *));
        if (!g->member_ids)
                return -ENOMEM;

        /* Collect borrowed pointers into the JSON tree first: only what survives the type filter
         * and the de-duplication is copied. A bad entry never makes someone a member; its value,
         * if any, could not match a user id anyway. */
        cJSON_ArrayForEach(m, members) {
                _cleanup_free_ char *why = NULL;
                const char *value = NULL, *type = NULL;

                idx++;
                if (!cJSON_IsObject(m)) {
                        r = member_reject(mr, "members[%zu]: not an object", idx - 1);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = scim_get_string_ref(m, "value", true, SCIM_ID_MAX, &value, &why);
                if (r >= 0)
                        r = scim_get_string_ref(m, "type", false, l->max_string, &type, &why);
                if (r == -EBADMSG) {
                        r = member_reject(mr, "members[%zu]: %s", idx - 1, why);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return r;

                /* Nested groups are not expanded: membership on the host is direct only. */
                if (type && strcasecmp(type, "User") != 0)
                        continue;
                g->member_ids[n++] = (char *) value; /* replaced by a copy below */
        }
        if (mr->batch && mr->n > MEMBER_REJECTS_MAX) {
                r = member_reject(&(MemberRejects) { .batch = mr->batch, .group_id = mr->group_id },
                                  "members: %zu more bad entries skipped", mr->n - MEMBER_REJECTS_MAX);
                if (r < 0)
                        return r;
        }

        /* Sort, drop repeats in place, then copy what is left. */
        qsort(g->member_ids, n, sizeof(char *), cmp_str);
        w = n > 0 ? 1 : 0;
        for (size_t i = 1; i < n; i++)
                if (!streq(g->member_ids[i], g->member_ids[w - 1]))
                        g->member_ids[w++] = g->member_ids[i];
        for (size_t i = 0; i < w; i++) {
                const char *same = l->intern ? l->intern(g->member_ids[i], l->intern_userdata) : NULL;
                g->member_ids[i] = same ? (char *) same : prov_arena_strdup(arena, g->member_ids[i]);
                if (!g->member_ids[i])
                        return -ENOMEM;
        }
        for (size_t i = w; i <= total; i++)
                g->member_ids[i] = NULL;
        g->n_members = w;
        return 0;
}

/* Keeps the first reason of an unservable record: takes *why over when *first is still NULL. */
static void first_reason(char **first, char **why) {
        if (!*first)
                *first = TAKE_PTR(*why);
        free(*why);
        *why = NULL;
}

/* Fills *ret from one Group resource, like scim_user_from_json(). With a readable id the record is
 * never dropped: what the sync keeps of an unservable group (externalId, members) is read on
 * its own after the rest, and bad member entries are skipped and reported in b (may be NULL). */
static int group_from_json(const cJSON *res, const Limits *l, ProvArena *arena, ProvScimBatch *b,
                           ProvScimGroup *ret, char **reason) {
        ProvArenaMark rest;
        _cleanup_free_ char *first = NULL, *why = NULL;
        ProvScimGroup g = {};
        MemberRejects mr = { .batch = b };
        int r;

        if (!cJSON_IsObject(res))
                return fail(reason, "resource is not an object");

        /* get_string() leaves the arena alone on failure. */
        r = get_string(res, "id", true, SCIM_ID_MAX, arena, &g.id, reason);
        if (r < 0)
                return r;
        rest = prov_arena_mark(arena);

        if ((r = check_schemas(res, PROV_SCIM_SCHEMA_GROUP, &why)) < 0 ||
            (r = get_string(res, "displayName", true, l->max_string, arena, &g.display_name, &why)) < 0 ||
            (r = get_id_attribute(res, l->gid_attribute, &g.has_gid, &g.gid, &why)) < 0 ||
            (r = check_meta_last_modified(res, &why)) < 0) {
                if (r != -EBADMSG)
                        goto fail;
                prov_arena_rollback(arena, &rest);
                g.display_name = NULL;
                g.has_gid = false;
                g.gid = 0;
                first_reason(&first, &why);
        }

        /* externalId: optional, but when given it follows the rules of id. */
        r = get_string(res, "externalId", false, SCIM_ID_MAX, arena, &g.external_id, &why);
        if (r == -EBADMSG) {
                g.external_id = NULL;
                first_reason(&first, &why);
        } else if (r < 0)
                goto fail;

        rest = prov_arena_mark(arena);
        mr.group_id = g.id;
        r = get_members(res, l, arena, &g, &mr, &why);
        if (r == -EBADMSG) {
                prov_arena_rollback(arena, &rest);
                g.member_ids = NULL;
                g.n_members = 0;
                g.members_unknown = true;
                first_reason(&first, &why);
        } else if (r < 0)
                goto fail;

        if (first) {
                g.display_name = NULL;
                g.has_gid = false;
                g.gid = 0;
                g.unservable = prov_arena_strdup(arena, first);
                if (!g.unservable) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        *ret = g;
        return 0;

fail:
        /* Only -ENOMEM and the like get here, and they fail the whole parse: the arena is not
         * rolled back, as it may hold this group's member rejects by now. */
        return r;
}

/* Appends a reject record; its strings are copied into the batch's arena. */
static int add_reject(ProvScimBatch *b, const char *kind, const char *id, const char *reason) {
        ProvScimReject rj;

        if (prov_grow((void **) &b->rejects, &b->cap_rejects, b->n_rejects + 1, sizeof(ProvScimReject)) < 0)
                return -ENOMEM;
        rj = (ProvScimReject) {
                .kind = prov_arena_strdup(&b->arena, kind),
                .id = sanitized_copy(&b->arena, id),
                .reason = reason ? prov_arena_strdup(&b->arena, reason) : NULL,
        };
        if (!rj.kind || (id && !rj.id) || (reason && !rj.reason))
                return -ENOMEM;
        b->rejects[b->n_rejects++] = rj;
        return 0;
}

/* The id of a resource for a reject record, if it has a string one. */
const char *scim_raw_id(const cJSON *res) {
        const cJSON *id = NULL;

        if (json_get(res, "id", &id) > 0 && cJSON_IsString(id))
                return id->valuestring;
        return NULL;
}

/* Parses one resource into b. A resource without a readable id is a reject; one with an id is
 * kept, and when it is unservable it is a reject as well, with the same reason. */
int scim_parse_resource(ProvScimBatch *b, const cJSON *res, bool groups, const Limits *l) {
        _cleanup_free_ char *reason = NULL;
        const char *kind = groups ? "group" : "user", *id = NULL, *unservable = NULL;
        int r;

        if (groups) {
                r = prov_grow((void **) &b->groups, &b->cap_groups, b->n_groups + 1, sizeof(ProvScimGroup));
                if (r < 0)
                        return r;
                r = group_from_json(res, l, &b->arena, b, &b->groups[b->n_groups], &reason);
                if (r >= 0) {
                        id = b->groups[b->n_groups].id;
                        unservable = b->groups[b->n_groups++].unservable;
                }
        } else {
                r = prov_grow((void **) &b->users, &b->cap_users, b->n_users + 1, sizeof(ProvScimUser));
                if (r < 0)
                        return r;
                r = scim_user_from_json(res, l, &b->arena, &b->users[b->n_users], &reason);
                if (r >= 0) {
                        id = b->users[b->n_users].id;
                        unservable = b->users[b->n_users++].unservable;
                }
        }
        if (r == -EBADMSG)
                return add_reject(b, kind, scim_raw_id(res), reason);
        if (r >= 0 && unservable)
                return add_reject(b, kind, id, unservable);
        return r;
}

/* Parses an array of resources into b, each with scim_parse_resource(). */
int scim_parse_resources(ProvScimBatch *b, const cJSON *array, bool groups, const Limits *l) {
        const cJSON *res;
        int r;

        cJSON_ArrayForEach(res, array) {
                r = scim_parse_resource(b, res, groups, l);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct IdIndex {
        const char *id;
        size_t index;
} IdIndex;

static int cmp_id_index(const void *a, const void *b) {
        const IdIndex *x = a, *y = b;
        int c = strcmp(x->id, y->id);

        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

static const char *record_id(const ProvScimBatch *b, bool groups, size_t i) {
        return groups ? b->groups[i].id : b->users[i].id;
}

/* The users (or groups) of a finished batch, in one sort by (id, position): a record whose id
 * an earlier one has is dropped with a reject (a server paging inconsistently repeats
 * resources, a hostile one repeats ids to shadow a user), the others close up in document
 * order, and *ret_order lists their new positions in id order. */
static int finish_records(ProvScimBatch *b, bool groups, uint32_t **ret_order) {
        _cleanup_free_ IdIndex *idx = NULL;
        _cleanup_free_ uint32_t *order = NULL, *pos = NULL;
        const uint32_t dropped = UINT32_MAX;
        size_t n = groups ? b->n_groups : b->n_users, w = 0;
        int r;

        if (n >= UINT32_MAX)
                return -E2BIG;
        idx = reallocarray(NULL, n ?: 1, sizeof(IdIndex));
        pos = reallocarray(NULL, n ?: 1, sizeof(uint32_t));
        order = reallocarray(NULL, n ?: 1, sizeof(uint32_t));
        if (!idx || !pos || !order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                idx[i] = (IdIndex) { record_id(b, groups, i), i };
        qsort(idx, n, sizeof(IdIndex), cmp_id_index);
        for (size_t k = 0; k < n; k++)
                pos[idx[k].index] = k > 0 && streq(idx[k].id, idx[k - 1].id) ? dropped : 0;

        /* The records own nothing (their strings are in the arena): dropping one is forgetting it. */
        for (size_t i = 0; i < n; i++) {
                if (pos[i] == dropped) {
                        r = add_reject(b, groups ? "group" : "user", record_id(b, groups, i),
                                       "duplicate id in the same batch (first one kept)");
                        if (r < 0)
                                return r;
                        continue;
                }
                if (groups)
                        b->groups[w] = b->groups[i];
                else
                        b->users[w] = b->users[i];
                pos[i] = (uint32_t) w++;
        }
        if (groups)
                b->n_groups = w;
        else
                b->n_users = w;

        w = 0;
        for (size_t k = 0; k < n; k++)
                if (pos[idx[k].index] != dropped)
                        order[w++] = pos[idx[k].index];
        free(*ret_order);
        *ret_order = TAKE_PTR(order);
        return 0;
}

int prov_scim_batch_finish(ProvScimBatch *b) {
        int r;

        if (!b)
                return -EINVAL;
        r = finish_records(b, false, &b->user_order);
        if (r < 0)
                return r;
        return finish_records(b, true, &b->group_order);
}

ProvScimBatch *prov_scim_batch_free(ProvScimBatch *b) {
        if (!b)
                return NULL;
        free(b->users);
        free(b->groups);
        free(b->rejects);
        free(b->user_order);
        free(b->group_order);
        free(b->next_cursor);
        prov_arena_done(&b->arena);
        free(b);
        return NULL;
}

/* --- ServiceProviderConfig (RFC 7643 §5, RFC 9865 pagination) ------------------------------ */
