/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
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
#include "scim-parse.h"


#define SCIM_ID_MAX 255
#define SCIM_DATE_MAX 64
#define SCIM_DETAIL_MAX 400
/* Integers a JSON number (a double in cJSON) holds exactly: beyond 2^53 we cannot tell
 * 9007199254740993 from 9007199254740992, so such values are rejected, not rounded. */
#define SCIM_EXACT_INT_MAX 9007199254740992.0

typedef struct Limits {
        const char *uid_attribute;
        const char *gid_attribute;
        const char *ssh_keys_attribute;
        size_t max_depth;
        size_t max_string;
        size_t max_members;
        size_t max_bytes;
        const char *(*intern)(const char *id, void *userdata);
        void *intern_userdata;
} Limits;

static Limits limits_from(const ProvScimParseOptions *o) {
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

/* The position of the first '"' or '\\' at or after i, or len. */
static size_t string_special(const char *json, size_t i, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);

        /* Eight bytes a step: a byte equal to c is a zero byte of w ^ c; the lowest flag of
         * the usual zero-byte test is always a real one. */
        for (; i + 8 <= len; i += 8) {
                uint64_t w, q, b, m;

                memcpy(&w, json + i, 8);
                q = w ^ (ones * '"');
                b = w ^ (ones * '\\');
                m = (((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
                if (m)
                        return i + (size_t) __builtin_ctzll(m) / 8;
        }
#endif
        while (i < len && json[i] != '"' && json[i] != '\\')
                i++;
        return i;
}

/* Whole-document failures that one attribute value of otherwise valid JSON (RFC 8259) could
 * cause, and what becomes of each. Every repair rewrites only that value, in a copy of the text
 * and keeping its length, into something cJSON accepts and our validation refuses: the value
 * reads as invalid ("invalid UTF-8 or control character", "not a string", "not an integer",
 * "not a boolean"), never as absent, null or another plausible value. A key is repaired the
 * same way and then names no attribute we read.
 *  - "\u0000": cJSON would end the string there ("alice\u0000x" read as "alice"). The escape
 *    becomes "\u001f".
 *  - A lone UTF-16 surrogate escape ("\ud800" as Node's JSON.stringify emits it, "\udc00", a
 *    high surrogate followed by anything but a low one): cJSON fails the whole parse. The
 *    escape becomes "\u001f"; a proper pair is kept.
 *  - A number token of 64 characters or more: cJSON 1.7.15 copies numbers into a 64-byte buffer
 *    and fails the parse on longer ones (Debian's fix of CVE-2023-26819 lifts that, but the
 *    library is shared and may be older on a host). The token becomes the string "\u001f"
 *    padded with blanks, whatever the library, so a uid there is "not an integer".
 *  - Nesting deeper than max_depth (cJSON recurses once per level): the container at depth
 *    max_depth that holds the deeper ones becomes a string of one control character padded with
 *    blanks (at least "[[]]", so '"', 0x1f, '"' always fits).
 * Not repaired, because the text is not JSON then and the document fails as before: a raw NUL
 * byte, an unterminated string, unbalanced brackets, and a "\u" escape without four hex digits
 * (cJSON would silently decode it as U+0000 and cut the string). Raw control characters and
 * invalid UTF-8 inside strings are passed through by cJSON and refused per value. Nothing else
 * in cJSON fails on a value: its nesting limit (1000) is above ours, and every other escape,
 * literal and number form parses. What still fails a page on purpose is its own structure: not
 * an object, not a ListResponse, a malformed totalResults/startIndex/itemsPerPage/nextCursor
 * (paging cannot be trusted), or "Resources"/"Users"/"Groups" of the wrong type. */

/* cJSON 1.7.15's buffer for a number token, NUL included. */
#define CJSON_NUMBER_MAX 64
/* What every repaired escape becomes: a control character, refused by prov_valid_text(). */
#define ESCAPE_INVALID "\\u001f"

/* The value of four hex digits, or -1. */
static int hex4(const char *p) {
        int v = 0;

        for (size_t k = 0; k < 4; k++) {
                char c = p[k];
                int d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                        d = (c | 0x20) - 'a' + 10;
                else
                        return -1;
                v = v * 16 + d;
        }
        return v;
}

/* Looks at the "\u" escape at json[i]. Returns how many bytes it spans (6, or 12 for a proper
 * surrogate pair) and sets *ret_bad if cJSON cannot take it as it is ("\u0000", a lone
 * surrogate); -EBADMSG if it is not four hex digits. */
static int unicode_escape(const char *json, size_t i, size_t len, bool *ret_bad) {
        int c, lo;

        if (len - i < 6 || (c = hex4(json + i + 2)) < 0)
                return -EBADMSG;
        *ret_bad = c == 0 || (c >= 0xdc00 && c <= 0xdfff);
        if (c < 0xd800 || c > 0xdbff)
                return 6;
        if (len - i >= 12 && json[i + 6] == '\\' && json[i + 7] == 'u' && (lo = hex4(json + i + 8)) >= 0xdc00 &&
            lo <= 0xdfff)
                return 12;
        *ret_bad = true;
        return 6;
}

/* The end of the run of number characters starting at json[i]. */
static size_t number_end(const char *json, size_t i, size_t len) {
        while (i < len && ((json[i] >= '0' && json[i] <= '9') || json[i] == '-' || json[i] == '+' || json[i] == '.' ||
                           json[i] == 'e' || json[i] == 'E'))
                i++;
        return i;
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?. Only long runs are checked:
 * a run that is no number is left for cJSON to refuse, never turned into a valid document. */
static bool json_number(const char *s, size_t n) {
        size_t i = 0, d;

        if (i < n && s[i] == '-')
                i++;
        if (i < n && s[i] == '0')
                i++;
        else if (i < n && s[i] >= '1' && s[i] <= '9')
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
        else
                return false;
        if (i < n && s[i] == '.') {
                for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return false;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return false;
        }
        return i == n;
}

/* Overwrites the value out[a..b] (both included, at least 3 bytes) with a string of one control
 * character and blanks. */
static void invalid_value(char *out, size_t a, size_t b) {
        size_t n = b - a + 1;

        assert(n >= 3);
        if (n >= 8)
                memcpy(out + a, "\"" ESCAPE_INVALID "\"", 8);
        else
                memcpy(out + a, "\"\x1f\"", 3);
        memset(out + a + (n >= 8 ? 8 : 3), ' ', n - (n >= 8 ? 8 : 3));
}

/* The bytes prescan() looks at outside strings. */
static const bool prescan_class[256] = {
        ['"'] = true, ['['] = true, ['{'] = true, [']'] = true, ['}'] = true, ['-'] = true,
        ['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true,
        ['5'] = true, ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true,
};

/* Checks the raw text before cJSON sees it, without recursion (see the list above). With out ==
 * NULL, returns 0 when cJSON may parse json as it is, 1 when a value needs a repair, -EBADMSG
 * when the text is not JSON. With out (a copy of json), makes the repairs there and returns 0 or
 * -EBADMSG. Syntax errors other than those are left to cJSON. */
static int prescan(const char *json, size_t len, size_t max_depth, char *out) {
        size_t depth = 0, start = 0, cut = SIZE_MAX;
        int r;

        if (memchr(json, 0, len))
                return -EBADMSG;

        for (size_t i = 0; i < len; i++) {
                /* Blanks, ':' and ',' are most of what lies between strings: one predictable
                 * branch for them, not a jump per byte. */
                if (!prescan_class[(unsigned char) json[i]])
                        continue;
                switch (json[i]) {
                case '"':
                        /* Most of a document is inside strings: a tight loop to their end. */
                        for (i++;; i++) {
                                bool bad = false;

                                i = string_special(json, i, len);
                                if (i >= len)
                                        return -EBADMSG;
                                if (json[i] == '"')
                                        break;
                                if (i + 1 >= len)
                                        return -EBADMSG;
                                if (json[i + 1] != 'u') {
                                        i++; /* the escaped character */
                                        continue;
                                }
                                r = unicode_escape(json, i, len, &bad);
                                if (r < 0)
                                        return r;
                                if (bad) {
                                        if (!out)
                                                return 1;
                                        memcpy(out + i, ESCAPE_INVALID, 6);
                                }
                                i += (size_t) r - 1;
                        }
                        break;
                case '[':
                case '{':
                        if (++depth == max_depth)
                                start = i;
                        else if (depth > max_depth) {
                                if (!out)
                                        return 1;
                                if (cut == SIZE_MAX)
                                        cut = start;
                        }
                        break;
                case ']':
                case '}':
                        if (depth == 0)
                                return -EBADMSG;
                        if (depth == max_depth && cut != SIZE_MAX) {
                                invalid_value(out, cut, i);
                                cut = SIZE_MAX;
                        }
                        depth--;
                        break;
                case '-':
                case '0' ... '9': {
                        size_t e = number_end(json, i, len);

                        if (e - i >= CJSON_NUMBER_MAX && json_number(json + i, e - i)) {
                                if (!out)
                                        return 1;
                                invalid_value(out, i, e - 1);
                        }
                        i = e - 1;
                        break;
                }
                }
        }

        return depth != 0 ? -EBADMSG : 0;
}

/* A parsed document: cJSON's tree, built in an arena of its own. A 3 MB page of groups is a
 * tree of a million nodes and strings; carving them from chunks saves the allocator's header on
 * each (a third of the tree) and a million calls to free(). */
typedef struct JsonTree {
        ProvArena arena;
} JsonTree;

static void json_tree_done(JsonTree *t) {
        prov_arena_done(&t->arena);
}

/* cJSON's allocation hooks are global: they point at this arena only while one document is
 * parsed (the daemon and the fuzzers parse in one thread), and cJSON's own frees of a tree
 * that fails to parse become no-ops, the arena going as a whole. */
static ProvArena *json_arena;

static void *json_malloc(size_t size) {
        return prov_arena_alloc(json_arena, size, alignof(max_align_t));
}

static void json_free(void *p) {
        (void) p;
}

static int parse_document(const char *json, size_t len, const Limits *l, JsonTree *tree, cJSON **ret) {
        _cleanup_free_ char *repaired = NULL;
        const char *end = NULL;
        cJSON *root;
        int r;

        if (!json || len > l->max_bytes)
                return -EBADMSG;

        r = prescan(json, len, l->max_depth, NULL);
        if (r < 0)
                return r;
        if (r > 0) {
                /* Rare: some value needs a repair. The caller's text is left alone. */
                repaired = malloc(len);
                if (!repaired)
                        return -ENOMEM;
                memcpy(repaired, json, len);
                r = prescan(json, len, l->max_depth, repaired);
                if (r < 0)
                        return r;
                json = repaired;
        }

        json_arena = &tree->arena;
        cJSON_InitHooks(&(cJSON_Hooks) { .malloc_fn = json_malloc, .free_fn = json_free });
        root = cJSON_ParseWithLengthOpts(json, len, &end, false);
        cJSON_InitHooks(NULL);
        json_arena = NULL;
        if (!root)
                return -EBADMSG; /* cJSON does not tell syntax errors from ENOMEM */

        /* Nothing but blanks may follow the value. (The tree holds copies of every string: the
         * repaired text may go.) */
        for (; end && end < json + len; end++)
                if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
                        return -EBADMSG;

        *ret = root;
        return 0;
}

/* Looks up an attribute of a JSON object case-insensitively (RFC 7643 §2.1). Returns 1 and
 * the item, 0 if absent, -ENOTUNIQ if the name is present twice (e.g. "active" and
 * "Active"): we cannot know which one the server meant. A JSON null counts as absent, as
 * RFC 7643 §2.5 makes null equivalent to unassigned. */
static int json_get(const cJSON *obj, const char *name, const cJSON **ret) {
        const cJSON *found = NULL, *i;

        if (!cJSON_IsObject(obj))
                return 0;

        cJSON_ArrayForEach(i, obj) {
                /* Names are ASCII (RFC 7643 §2.1): the first letter rules out most keys
                 * without a call. */
                if (!i->string || (i->string[0] | 0x20) != (name[0] | 0x20) || strcasecmp(i->string, name) != 0)
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = i;
        }
        if (!found || cJSON_IsNull(found))
                return 0;
        *ret = found;
        return 1;
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
static int get_string_ref(const cJSON *obj, const char *name, bool required, size_t max, const char **ret,
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

/* get_string_ref(), copied into the arena. */
static int get_string(const cJSON *obj, const char *name, bool required, size_t max, ProvArena *arena,
                      char **ret, char **reason) {
        const char *s = NULL;
        int r;

        r = get_string_ref(obj, name, required, max, &s, reason);
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
static int json_to_int64(const cJSON *v, int64_t *ret) {
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

        if (json_to_int64(v, ret) < 0)
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
 * deltas are asked for by our own clock, and 100k copies of it would be 2.5 MB. */
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
        return get_string_ref(meta, "lastModified", false, SCIM_DATE_MAX, &s, reason);
}

/* homeDirectory/loginShell live in whatever POSIX extension the server uses, or at the root:
 * take the root first, then the first "urn:" extension object that has it. */
static int get_posix_string(const cJSON *res, const char *name, size_t max, ProvArena *arena, char **ret,
                            char **reason) {
        const char *s = NULL;
        const cJSON *i;
        int r;

        r = get_string_ref(res, name, false, max, &s, reason);
        if (r < 0)
                return r;

        cJSON_ArrayForEach(i, res) {
                if (s)
                        break;
                if (!i->string || strncasecmp(i->string, "urn:", 4) != 0 || !cJSON_IsObject(i))
                        continue;
                r = get_string_ref(i, name, false, max, &s, reason);
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
        r = get_string_ref(res, "displayName", false, max, &s, reason);
        if (r < 0 || s)
                return r < 0 ? r : copy_string(arena, s, ret);

        r = json_get(res, "name", &name);
        if (r == -ENOTUNIQ)
                return fail(reason, "attribute 'name': given more than once");
        if (r == 0)
                return 0;
        if (!cJSON_IsObject(name))
                return fail(reason, "attribute 'name': not an object");

        r = get_string_ref(name, "formatted", false, max, &s, reason);
        if (r < 0 || s)
                return r < 0 ? r : copy_string(arena, s, ret);
        r = get_string_ref(name, "givenName", false, max, &given, reason);
        if (r < 0)
                return r;
        r = get_string_ref(name, "familyName", false, max, &family, reason);
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
static int user_from_json(const cJSON *res, const Limits *l, ProvArena *arena, ProvScimUser *ret,
                          char **reason) {
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
                r = get_string_ref(m, "value", true, SCIM_ID_MAX, &value, &why);
                if (r >= 0)
                        r = get_string_ref(m, "type", false, l->max_string, &type, &why);
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

/* Fills *ret from one Group resource, like user_from_json(). With a readable id the record is
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

/* Makes room for one more element in an array of n elements grown by doubling. */
static int grow(void **array, size_t n, size_t size) {
        void *a;
        size_t cap;

        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        cap = n == 0 ? 4 : n * 2;
        if (cap < n)
                return -ENOMEM;
        a = reallocarray(*array, cap, size);
        if (!a)
                return -ENOMEM;
        *array = a;
        return 0;
}

/* Appends a reject record; its strings are copied into the batch's arena. */
static int add_reject(ProvScimBatch *b, const char *kind, const char *id, const char *reason) {
        ProvScimReject rj;

        if (grow((void **) &b->rejects, b->n_rejects, sizeof(ProvScimReject)) < 0)
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
static const char *raw_id(const cJSON *res) {
        const cJSON *id = NULL;

        if (json_get(res, "id", &id) > 0 && cJSON_IsString(id))
                return id->valuestring;
        return NULL;
}

/* Parses one resource into b. A resource without a readable id is a reject; one with an id is
 * kept, and when it is unservable it is a reject as well, with the same reason. */
static int parse_resource(ProvScimBatch *b, const cJSON *res, bool groups, const Limits *l) {
        _cleanup_free_ char *reason = NULL;
        const char *kind = groups ? "group" : "user", *id = NULL, *unservable = NULL;
        int r;

        if (groups) {
                r = grow((void **) &b->groups, b->n_groups, sizeof(ProvScimGroup));
                if (r < 0)
                        return r;
                r = group_from_json(res, l, &b->arena, b, &b->groups[b->n_groups], &reason);
                if (r >= 0) {
                        id = b->groups[b->n_groups].id;
                        unservable = b->groups[b->n_groups++].unservable;
                }
        } else {
                r = grow((void **) &b->users, b->n_users, sizeof(ProvScimUser));
                if (r < 0)
                        return r;
                r = user_from_json(res, l, &b->arena, &b->users[b->n_users], &reason);
                if (r >= 0) {
                        id = b->users[b->n_users].id;
                        unservable = b->users[b->n_users++].unservable;
                }
        }
        if (r == -EBADMSG)
                return add_reject(b, kind, raw_id(res), reason);
        if (r >= 0 && unservable)
                return add_reject(b, kind, id, unservable);
        return r;
}

/* Parses an array of resources into b, each with parse_resource(). */
static int parse_resources(ProvScimBatch *b, const cJSON *array, bool groups, const Limits *l) {
        const cJSON *res;
        int r;

        cJSON_ArrayForEach(res, array) {
                r = parse_resource(b, res, groups, l);
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

/* Drops every resource whose id was already seen earlier in the batch, keeping the first,
 * in O(n log n): a server paging inconsistently repeats resources, a hostile one repeats
 * ids to shadow a user. */
static int dedup_ids(ProvScimBatch *b, bool groups) {
        _cleanup_free_ IdIndex *idx = NULL;
        _cleanup_free_ bool *drop = NULL;
        size_t n = groups ? b->n_groups : b->n_users, w = 0;
        int r;

        if (n < 2)
                return 0;

        idx = calloc(n, sizeof(IdIndex));
        drop = calloc(n, sizeof(bool));
        if (!idx || !drop)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                idx[i] = (IdIndex) { groups ? b->groups[i].id : b->users[i].id, i };
        qsort(idx, n, sizeof(IdIndex), cmp_id_index);
        for (size_t i = 1; i < n; i++)
                if (streq(idx[i].id, idx[i - 1].id))
                        drop[idx[i].index] = true;

        /* The records own nothing (their strings are in the arena): dropping one is forgetting it. */
        for (size_t i = 0; i < n; i++) {
                if (!drop[i]) {
                        if (groups)
                                b->groups[w++] = b->groups[i];
                        else
                                b->users[w++] = b->users[i];
                        continue;
                }

                r = add_reject(b, groups ? "group" : "user", groups ? b->groups[i].id : b->users[i].id,
                               "duplicate id in the same batch (first one kept)");
                if (r < 0)
                        return r;
        }
        if (groups)
                b->n_groups = w;
        else
                b->n_users = w;
        return 0;
}

static bool schemas_contain(const cJSON *obj, const char *urn, bool *ret_present) {
        const cJSON *s = NULL, *i;

        *ret_present = false;
        if (json_get(obj, "schemas", &s) <= 0)
                return false;
        *ret_present = true;
        if (!cJSON_IsArray(s))
                return false;
        cJSON_ArrayForEach(i, s)
                if (cJSON_IsString(i) && i->valuestring && strcasecmp(i->valuestring, urn) == 0)
                        return true;
        return false;
}

/* Optional integer field of a ListResponse; negative values are malformed. */
static int list_int(const cJSON *obj, const char *name, bool *has, int64_t *ret) {
        const cJSON *v = NULL;
        int r;

        *has = false;
        r = json_get(obj, name, &v);
        if (r < 0)
                return -EBADMSG;
        if (r == 0)
                return 0;
        if (json_to_int64(v, ret) < 0 || *ret < 0)
                return -EBADMSG;
        *has = true;
        return 0;
}

/* Parses a ListResponse object into b. strict: schemas must name ListResponse (a page from
 * the server); otherwise only checked when present (a directory file). */
static int parse_list_object(ProvScimBatch *b, const cJSON *obj, bool groups, bool strict, const Limits *l) {
        const cJSON *resources = NULL, *cursor = NULL;
        bool present, has;
        int64_t v;
        int r;

        if (!cJSON_IsObject(obj))
                return -EBADMSG;
        if (!schemas_contain(obj, PROV_SCIM_SCHEMA_LIST, &present) && (strict || present))
                return -EBADMSG;

        if (list_int(obj, "totalResults", &b->has_total_results, &b->total_results) < 0)
                return -EBADMSG;
        if (list_int(obj, "startIndex", &has, &v) < 0)
                return -EBADMSG;
        b->start_index = has ? v : 1;

        r = json_get(obj, "Resources", &resources);
        if (r < 0)
                return -EBADMSG;
        if (r == 0) {
                /* RFC 7644 §3.4.2: Resources is required when totalResults is non-zero. */
                if (strict && (!b->has_total_results || b->total_results != 0))
                        return -EBADMSG;
        } else if (!cJSON_IsArray(resources))
                return -EBADMSG;

        if (list_int(obj, "itemsPerPage", &has, &v) < 0)
                return -EBADMSG;
        b->items_per_page = has ? v : (resources ? cJSON_GetArraySize(resources) : 0);
        b->n_resources = resources ? (size_t) cJSON_GetArraySize(resources) : 0;

        r = json_get(obj, "nextCursor", &cursor);
        if (r < 0)
                return -EBADMSG;
        if (r > 0) {
                if (!cJSON_IsString(cursor) || !cursor->valuestring ||
                    strlen(cursor->valuestring) > l->max_string ||
                    !clean_string(cursor->valuestring, strlen(cursor->valuestring)))
                        return -EBADMSG;
                if (cursor->valuestring[0]) {
                        b->next_cursor = strdup(cursor->valuestring);
                        if (!b->next_cursor)
                                return -ENOMEM;
                }
        }

        if (!resources)
                return 0;
        return parse_resources(b, resources, groups, l);
}

/* The "Users" and "Groups" of a directory document (a file, the hub's snapshot) into a new batch. */
static int directory_from_root(const cJSON *root, const Limits *l, ProvScimBatch **ret) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        int r;

        if (!cJSON_IsObject(root))
                return -EBADMSG;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->start_index = 1;

        for (int k = 0; k < 2; k++) {
                bool groups = k == 1;
                const cJSON *v = NULL;
                ProvScimBatch part = {};

                r = json_get(root, groups ? "Groups" : "Users", &v);
                if (r < 0)
                        return -EBADMSG;
                if (r == 0)
                        continue;
                if (cJSON_IsArray(v))
                        r = parse_resources(b, v, groups, l);
                else if (cJSON_IsObject(v)) {
                        /* The list fields of a file are meaningless: parse into a scratch batch
                         * sharing our arrays and arena, then keep only those. */
                        part = *b;
                        r = parse_list_object(&part, v, groups, false, l);
                        free(part.next_cursor);
                        part.next_cursor = NULL;
                        part.total_results = b->total_results;
                        part.has_total_results = b->has_total_results;
                        part.start_index = b->start_index;
                        part.items_per_page = b->items_per_page;
                        part.n_resources = b->n_resources;
                        *b = part;
                } else
                        r = -EBADMSG;
                if (r < 0)
                        return r;
        }

        r = dedup_ids(b, false);
        if (r < 0)
                return r;
        r = dedup_ids(b, true);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

/* --- directories, and the hub's feed and snapshot (provision-hub, GET /v1/feed and /v1/snapshot) */

/* A "seq": an integer 0..2^53 (what a JSON number holds exactly). */
static int hub_seq(const cJSON *obj, int64_t *ret) {
        const cJSON *v = NULL;
        int64_t seq;

        if (json_get(obj, "seq", &v) <= 0 || !cJSON_IsNumber(v) || json_to_int64(v, &seq) < 0 || seq < 0)
                return -EBADMSG;
        *ret = seq;
        return 0;
}

/* A directory document: a file, or the hub's snapshot, whose seq goes to *ret_seq when ret_seq
 * is not NULL (then it is required). One parse of what may be 100 MB. */
static int parse_directory_document(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t *ret_seq,
                                    ProvScimBatch **ret) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        Limits l = limits_from(opts);
        int64_t seq = 0;
        int r;

        if (!ret)
                return -EINVAL;

        r = parse_document(json, len, &l, &tree, &root);
        if (r < 0)
                return r;
        if (ret_seq && hub_seq(root, &seq) < 0)
                return -EBADMSG;
        r = directory_from_root(root, &l, ret);
        if (r >= 0 && ret_seq)
                *ret_seq = seq;
        return r;
}

int prov_scim_parse_directory(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimBatch **ret) {
        return parse_directory_document(json, len, opts, NULL, ret);
}

int prov_scim_parse_hub_snapshot(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t *ret_seq,
                                 ProvScimBatch **ret) {
        if (!ret_seq)
                return -EINVAL;
        return parse_directory_document(json, len, opts, ret_seq, ret);
}

/* One event of a feed answer, checked. */
typedef struct HubEvent {
        int64_t seq;
        const char *id;
        const cJSON *resource; /* NULL: a delete */
        bool group;
        bool last;             /* the last event of its resource in the answer: the one that counts */
} HubEvent;

static int hub_event_cmp(const void *a, const void *b) {
        const HubEvent *x = *(const HubEvent *const *) a, *y = *(const HubEvent *const *) b;
        int c = x->group - y->group;

        if (c == 0)
                c = strcmp(x->id, y->id);
        return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The reason a feed answer is refused, for the caller's log (ret_error may be NULL). Returns
 * -EBADMSG. */
_printf_(2, 3)
static int hub_fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return -EBADMSG;
        free(*ret_error);
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EBADMSG;
}

/* Checks one event against its predecessor; fills *e with pointers into the tree. */
static int hub_event(const cJSON *ev, size_t i, int64_t prev, int64_t head, HubEvent *e, char **ret_error) {
        const cJSON *op = NULL, *type = NULL, *res = NULL;
        const char *id = NULL;
        char *why = NULL;
        bool upsert;

        if (!cJSON_IsObject(ev))
                return hub_fail(ret_error, "events[%zu]: not an object", i);
        if (hub_seq(ev, &e->seq) < 0)
                return hub_fail(ret_error, "events[%zu]: 'seq' missing or not a non-negative integer", i);
        if (e->seq <= prev || e->seq > head)
                return hub_fail(ret_error, "events[%zu]: seq %" PRIi64 " is not after %" PRIi64 " and at most the answer's %" PRIi64,
                                i, e->seq, prev, head);
        if (json_get(ev, "op", &op) <= 0 || !cJSON_IsString(op) ||
            (!streq(op->valuestring, "upsert") && !streq(op->valuestring, "delete")))
                return hub_fail(ret_error, "events[%zu]: 'op' must be \"upsert\" or \"delete\"", i);
        upsert = streq(op->valuestring, "upsert");
        if (json_get(ev, "resourceType", &type) <= 0 || !cJSON_IsString(type) ||
            (!streq(type->valuestring, "User") && !streq(type->valuestring, "Group")))
                return hub_fail(ret_error, "events[%zu]: 'resourceType' must be \"User\" or \"Group\"", i);
        e->group = streq(type->valuestring, "Group");
        if (get_string_ref(ev, "id", true, SCIM_ID_MAX, &id, &why) < 0) {
                _cleanup_free_ char *w = why;
                return hub_fail(ret_error, "events[%zu]: %s", i, w ?: "bad 'id'");
        }
        e->id = id;
        if (json_get(ev, "resource", &res) < 0)
                return hub_fail(ret_error, "events[%zu]: 'resource' given twice", i);
        if (upsert) {
                const char *rid = cJSON_IsObject(res) ? raw_id(res) : NULL;

                if (!rid || !streq(rid, id))
                        return hub_fail(ret_error, "events[%zu]: an upsert needs the resource with id '%.64s'", i, id);
                e->resource = res;
        } else
                e->resource = NULL;
        return 0;
}

ProvHubFeed *prov_hub_feed_free(ProvHubFeed *f) {
        if (!f)
                return NULL;
        prov_scim_batch_free(f->batch);
        free(f->gone_users);
        free(f->gone_groups);
        free(f);
        return NULL;
}

int prov_scim_parse_hub_feed(const char *json, size_t len, const ProvScimParseOptions *opts, int64_t since,
                             ProvHubFeed **ret, char **ret_error) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        _cleanup_(prov_hub_feed_freep) ProvHubFeed *f = NULL;
        _cleanup_free_ HubEvent *events = NULL;
        _cleanup_free_ HubEvent **order = NULL;
        const cJSON *root = NULL, *list = NULL, *ev;
        Limits l = limits_from(opts);
        size_t n = 0, i = 0;
        int64_t prev = since;
        int r;

        if (!ret || since < 0)
                return -EINVAL;

        r = parse_document(json, len, &l, &tree, (cJSON **) &root);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return hub_fail(ret_error, "not a JSON document of at most %zu bytes", l.max_bytes);
        if (!cJSON_IsObject(root))
                return hub_fail(ret_error, "not a JSON object");

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->batch = calloc(1, sizeof(*f->batch));
        if (!f->batch)
                return -ENOMEM;
        f->batch->start_index = 1;

        if (hub_seq(root, &f->seq) < 0)
                return hub_fail(ret_error, "'seq' missing or not a non-negative integer");
        /* The host's seq never goes back: an answer behind what it asked for is not this hub's
         * history (the hub answers 410 when it lost it). */
        if (f->seq < since)
                return hub_fail(ret_error, "'seq' %" PRIi64 " is behind since=%" PRIi64, f->seq, since);
        if (json_get(root, "events", &list) <= 0 || !cJSON_IsArray(list))
                return hub_fail(ret_error, "'events' missing or not an array");
        n = (size_t) cJSON_GetArraySize(list);
        if (n > PROV_HUB_FEED_MAX_EVENTS)
                return hub_fail(ret_error, "%zu events, more than %d", n, PROV_HUB_FEED_MAX_EVENTS);
        if (n > 0 && (uint64_t) n > (uint64_t) (f->seq - since))
                return hub_fail(ret_error, "%zu events between seq %" PRIi64 " and %" PRIi64, n, since, f->seq);

        events = calloc(n + 1, sizeof(HubEvent));
        order = calloc(n + 1, sizeof(HubEvent *));
        if (!events || !order)
                return -ENOMEM;
        /* Everything is checked before anything is kept: a malformed answer applies nothing. */
        cJSON_ArrayForEach(ev, list) {
                r = hub_event(ev, i, prev, f->seq, &events[i], ret_error);
                if (r < 0)
                        return r;
                prev = events[i].seq;
                order[i] = &events[i];
                i++;
        }

        /* Events of one resource collapse into its last: its resource is the state at the hub
         * when the answer was made, and a delete after an upsert is a delete. */
        qsort(order, n, sizeof(HubEvent *), hub_event_cmp);
        for (i = 0; i < n; i++)
                order[i]->last = i + 1 == n || order[i + 1]->group != order[i]->group ||
                                 !streq(order[i + 1]->id, order[i]->id);

        f->gone_users = calloc(n + 1, sizeof(char *));
        f->gone_groups = calloc(n + 1, sizeof(char *));
        if (!f->gone_users || !f->gone_groups)
                return -ENOMEM;
        /* In the order of the answer. */
        for (i = 0; i < n; i++) {
                const HubEvent *e = &events[i];

                if (!e->last)
                        continue;
                if (e->resource)
                        r = parse_resource(f->batch, e->resource, e->group, &l);
                else {
                        const char *id = prov_arena_strdup(&f->batch->arena, e->id);

                        if (!id)
                                return -ENOMEM;
                        if (e->group)
                                f->gone_groups[f->n_gone_groups++] = id;
                        else
                                f->gone_users[f->n_gone_users++] = id;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        f->n_events = n;
        *ret = TAKE_PTR(f);
        return 0;
}

int prov_scim_parse_list(const char *json, size_t len, bool groups, const ProvScimParseOptions *opts,
                         ProvScimBatch **ret) {
        _cleanup_(prov_scim_batch_freep) ProvScimBatch *b = NULL;
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        Limits l = limits_from(opts);
        int r;

        if (!ret)
                return -EINVAL;

        r = parse_document(json, len, &l, &tree, &root);
        if (r < 0)
                return r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        r = parse_list_object(b, root, groups, true, &l);
        if (r < 0)
                return r;
        r = dedup_ids(b, groups);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

/* A user of its own (prov_scim_parse_user()), with the arena holding its strings. */
typedef struct OwnedUser {
        ProvScimUser user;
        ProvArena arena;
} OwnedUser;

static OwnedUser *owned_user_free(OwnedUser *o) {
        if (!o)
                return NULL;
        prov_arena_done(&o->arena);
        free(o);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(OwnedUser *, owned_user_free);

int prov_scim_parse_user(const char *json, size_t len, const ProvScimParseOptions *opts, ProvScimUser **ret) {
        _cleanup_(owned_user_freep) OwnedUser *o = NULL;
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        _cleanup_free_ char *reason = NULL;
        Limits l = limits_from(opts);
        int r;

        if (!ret)
                return -EINVAL;

        r = parse_document(json, len, &l, &tree, &root);
        if (r < 0)
                return r;

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        /* An unservable user is a success: it exists, unlike a 404. */
        r = user_from_json(root, &l, &o->arena, &o->user, &reason);
        if (r < 0)
                return r;

        *ret = &TAKE_PTR(o)->user;
        return 0;
}

/* Appends s to the summary with control characters replaced and at most max bytes. */
static void append_clean(char *buf, size_t size, const char *s, size_t max) {
        size_t n = strlen(buf);

        for (size_t i = 0; s[i] && i < max && n + 1 < size; i++) {
                unsigned char c = (unsigned char) s[i];

                buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char) c;
        }
        buf[n] = 0;
}

int prov_scim_parse_error(const char *json, size_t len, char **ret_detail) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        Limits l = limits_from(NULL);
        const cJSON *status = NULL, *detail = NULL, *type = NULL;
        char buf[SCIM_DETAIL_MAX + 128] = "";
        int64_t code = 0;
        int r;

        if (!ret_detail)
                return -EINVAL;

        /* Error bodies are small; a huge one is not an error response. */
        l.max_bytes = 64 * 1024;
        r = parse_document(json, len, &l, &tree, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root))
                return -EBADMSG;

        if (json_get(root, "status", &status) > 0 && (json_to_int64(status, &code) < 0 || code < 100 || code > 599))
                code = 0;

        if (code > 0)
                snprintf(buf, sizeof(buf), "status %d", (int) code);
        else
                snprintf(buf, sizeof(buf), "status unknown");
        if (json_get(root, "scimType", &type) > 0 && cJSON_IsString(type) && type->valuestring[0]) {
                append_clean(buf, sizeof(buf), " (", 2);
                append_clean(buf, sizeof(buf), type->valuestring, 64);
                append_clean(buf, sizeof(buf), ")", 1);
        }
        if (json_get(root, "detail", &detail) > 0 && cJSON_IsString(detail) && detail->valuestring[0]) {
                append_clean(buf, sizeof(buf), ": ", 2);
                append_clean(buf, sizeof(buf), detail->valuestring, SCIM_DETAIL_MAX);
        }

        *ret_detail = strdup(buf);
        if (!*ret_detail)
                return -ENOMEM;
        return (int) code;
}

ProvScimUser *prov_scim_user_free(ProvScimUser *u) {
        if (!u)
                return NULL;
        owned_user_free((OwnedUser *) ((char *) u - offsetof(OwnedUser, user)));
        return NULL;
}

ProvScimBatch *prov_scim_batch_free(ProvScimBatch *b) {
        if (!b)
                return NULL;
        free(b->users);
        free(b->groups);
        free(b->rejects);
        free(b->next_cursor);
        prov_arena_done(&b->arena);
        free(b);
        return NULL;
}

/* --- ServiceProviderConfig (RFC 7643 §5, RFC 9865 pagination) ------------------------------ */

/* A boolean member, or def when it is absent, ambiguous or not a JSON boolean: a provider that
 * gets the type wrong gets the conservative behaviour. */
static bool spc_bool(const cJSON *obj, const char *name, bool def) {
        const cJSON *v = NULL;

        if (json_get(obj, name, &v) <= 0)
                return def;
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A positive integer member below 2^53, or 0. */
static uint64_t spc_uint(const cJSON *obj, const char *name) {
        const cJSON *v = NULL;

        if (json_get(obj, name, &v) <= 0 || !cJSON_IsNumber(v) ||
            !(v->valuedouble >= 1 && v->valuedouble < 9007199254740992.0) ||
            (double) (uint64_t) v->valuedouble != v->valuedouble)
                return 0;
        return (uint64_t) v->valuedouble;
}

int prov_scim_parse_service_config(const char *json, size_t len, ProvScimServiceConfig *ret) {
        _cleanup_(json_tree_done) JsonTree tree = {};
        cJSON *root = NULL;
        const cJSON *filter = NULL, *pagination = NULL;
        Limits l = limits_from(&(ProvScimParseOptions) { .max_bytes = 1024 * 1024 });
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_document(json, len, &l, &tree, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root))
                return -EBADMSG;
        if (json_get(root, "filter", &filter) <= 0)
                filter = NULL;
        if (json_get(root, "pagination", &pagination) <= 0)
                pagination = NULL;
        *ret = (ProvScimServiceConfig) {
                .filter_supported = spc_bool(filter, "supported", false),
                .filter_max_results = spc_uint(filter, "maxResults"),
                .cursor = spc_bool(pagination, "cursor", false),
                .index = spc_bool(pagination, "index", true),
                .max_page_size = spc_uint(pagination, "maxPageSize"),
        };
        return 0;
}
