/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON layer of the SCIM parser (scim-json.h): an untrusted document is first scanned in
 * one pass (depth, strings, escapes, numbers), then handed to cJSON with its allocations carved
 * from an arena. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prov-util.h"
#include "prov-validate.h"
#include "scim-json.h"

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

void json_tree_done(JsonTree *t) {
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

int scim_json_parse(const char *json, size_t len, size_t max_depth, size_t max_bytes, JsonTree *tree, cJSON **ret) {
        _cleanup_free_ char *repaired = NULL;
        const char *end = NULL;
        cJSON *root;
        int r;

        if (!json || len > max_bytes)
                return -EBADMSG;

        r = prescan(json, len, max_depth, NULL);
        if (r < 0)
                return r;
        if (r > 0) {
                /* Rare: some value needs a repair. The caller's text is left alone. */
                repaired = malloc(len);
                if (!repaired)
                        return -ENOMEM;
                memcpy(repaired, json, len);
                r = prescan(json, len, max_depth, repaired);
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

int json_get(const cJSON *obj, const char *name, const cJSON **ret) {
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
