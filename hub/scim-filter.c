/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SCIM filters and PATCH paths parsed into ProvFilter trees (scim-filter-match.c matches them). */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim-filter.h"

/* The grammar of RFC 7644 §3.4.2.2, read by recursive descent with the usual precedence (not,
 * then and, then or). Real clients stray from it in small ways that we accept because the intent
 * is clear: operators and keywords in any case, several spaces, and a bare word as a value
 * (Entra ID: `externalId eq jyoung`). Everything else is 400 invalidFilter (invalidPath for a
 * PATCH path), never a guess. */

#define SCHEMA_CORE_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCHEMA_CORE_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

typedef struct Parser {
        const char *p;
        unsigned depth;
        bool in_brackets;       /* inside [...]: no nested value paths (RFC valFilter) */
        const char *scim_type;  /* "invalidFilter" or "invalidPath" */
        ProvScimError *err;
} Parser;

static const struct {
        const char *name;
        ProvFilterOp op;
} compare_ops[] = {
        { "eq", PROV_FILTER_EQ }, { "ne", PROV_FILTER_NE }, { "co", PROV_FILTER_CO },
        { "sw", PROV_FILTER_SW }, { "ew", PROV_FILTER_EW }, { "gt", PROV_FILTER_GT },
        { "ge", PROV_FILTER_GE }, { "lt", PROV_FILTER_LT }, { "le", PROV_FILTER_LE },
        { "pr", PROV_FILTER_PR },
};

ProvFilter *prov_filter_free(ProvFilter *f) {
        if (!f)
                return NULL;
        free(f->attr);
        free(f->sub);
        cJSON_Delete(f->value);
        prov_filter_free(f->left);
        prov_filter_free(f->right);
        free(f);
        return NULL;
}

static ProvFilter *filter_new(ProvFilterOp op) {
        ProvFilter *f = calloc(1, sizeof(ProvFilter));

        if (f)
                f->op = op;
        return f;
}

_printf_(2, 3) static int parse_error(Parser *P, const char *fmt, ...) {
        char buf[200];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return prov_scim_error_set(P->err, 400, P->scim_type, "%s", buf);
}

static int oom(Parser *P) {
        (void) prov_scim_error_set(P->err, 500, NULL, "out of memory");
        return -ENOMEM;
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(Parser *P) {
        while (is_ws(*P->p))
                P->p++;
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_name_char(char c) {
        return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '$';
}

/* One segment of a dotted attribute name: ATTRNAME of RFC 7643 §2.1 ("$ref" included). */
static bool valid_attr_name(const char *s, size_t n) {
        if (n == 0 || !(is_alpha(s[0]) || s[0] == '$'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_name_char(s[i]))
                        return false;
        return true;
}

static bool valid_dotted(const char *s) {
        for (;;) {
                const char *dot = strchr(s, '.');
                size_t n = dot ? (size_t) (dot - s) : strlen(s);

                if (!valid_attr_name(s, n))
                        return false;
                if (!dot)
                        return true;
                s = dot + 1;
        }
}

static bool has_prefix_ci(const char *s, const char *prefix) {
        return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Turns an attribute path as written into the form of ProvFilter.attr: the core schema URN
 * removed, the enterprise URN in its canonical case, the rest as written (lookups are
 * case-insensitive). A bare extension URN (a PATCH of the whole extension) stays as it is. */
static int attr_canonical(Parser *P, const char *s, size_t n, char **ret) {
        _cleanup_free_ char *t = strndup(s, n);
        const char *rest;
        char *out;

        if (!t)
                return oom(P);
        if (strncasecmp(t, "urn:", 4) != 0) {
                if (!valid_dotted(t))
                        return parse_error(P, "invalid attribute name '%.64s'", t);
                *ret = TAKE_PTR(t);
                return 0;
        }
        if (strcasecmp(t, SCHEMA_ENTERPRISE) == 0) {
                out = strdup(SCHEMA_ENTERPRISE);
                if (!out)
                        return oom(P);
                *ret = out;
                return 0;
        }
        if (strcasecmp(t, SCHEMA_CORE_USER) == 0 || strcasecmp(t, SCHEMA_CORE_GROUP) == 0)
                return parse_error(P, "a schema URN is not an attribute: '%.64s'", t);
        if (has_prefix_ci(t, SCHEMA_CORE_USER ":") || has_prefix_ci(t, SCHEMA_CORE_GROUP ":")) {
                rest = strrchr(t, ':') + 1;
                if (!valid_dotted(rest))
                        return parse_error(P, "invalid attribute name '%.64s'", t);
                out = strdup(rest);
        } else if (has_prefix_ci(t, SCHEMA_ENTERPRISE ":")) {
                rest = t + strlen(SCHEMA_ENTERPRISE ":");
                if (!valid_dotted(rest))
                        return parse_error(P, "invalid attribute name '%.64s'", t);
                if (asprintf(&out, "%s:%s", SCHEMA_ENTERPRISE, rest) < 0)
                        out = NULL;
        } else {
                /* Another extension: URN ":" attribute, the attribute after the last ':'. */
                rest = strrchr(t, ':') + 1;
                if (!valid_dotted(rest))
                        return parse_error(P, "invalid attribute name '%.64s'", t);
                out = strdup(t);
        }
        if (!out)
                return oom(P);
        *ret = out;
        return 0;
}

/* Reads an attribute path (with its URN, if any) up to the first character that cannot be part
 * of one: a space, '[', ']', '(' ... */
static int read_attr_path(Parser *P, char **ret) {
        const char *s = P->p;

        while (is_name_char(*P->p) || *P->p == ':' || *P->p == '.')
                P->p++;
        if (P->p == s)
                return parse_error(P, "attribute name expected at '%.32s'", s);
        return attr_canonical(P, s, (size_t) (P->p - s), ret);
}

/* A keyword (operator, and/or/not) ends at a space, a parenthesis or the end. */
static size_t word_len(const char *s) {
        size_t n = 0;

        while (is_alpha(s[n]))
                n++;
        return n;
}

static bool word_is(const char *s, size_t n, const char *kw) {
        return n == strlen(kw) && strncasecmp(s, kw, n) == 0;
}

static bool word_ends(char c) {
        return c == 0 || is_ws(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"';
}

static int compare_op_of(const char *s, size_t n, ProvFilterOp *ret) {
        for (size_t i = 0; i < ELEMENTSOF(compare_ops); i++)
                if (word_is(s, n, compare_ops[i].name)) {
                        *ret = compare_ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

static bool looks_like_number(const char *s, size_t n) {
        size_t i = 0;

        if (i < n && s[i] == '-')
                i++;
        if (i >= n || !is_digit(s[i]))
                return false;
        while (i < n && is_digit(s[i]))
                i++;
        if (i < n && s[i] == '.') {
                i++;
                if (i >= n || !is_digit(s[i]))
                        return false;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= n || !is_digit(s[i]))
                        return false;
                while (i < n && is_digit(s[i]))
                        i++;
        }
        return i == n;
}

/* compValue: a JSON string, number, true, false or null; or, outside the grammar, a bare word,
 * which is read as the string it spells. */
static int read_value(Parser *P, cJSON **ret) {
        const char *s = P->p;
        cJSON *v;

        if (*s == '"') {
                _cleanup_free_ char *lit = NULL;
                const char *e = s + 1;

                while (*e && *e != '"') {
                        if (*e == '\\') {
                                if (!e[1])
                                        break;
                                e++;
                        }
                        e++;
                }
                if (*e != '"')
                        return parse_error(P, "unterminated string at '%.32s'", s);
                lit = strndup(s, (size_t) (e - s + 1));
                if (!lit)
                        return oom(P);
                v = cJSON_Parse(lit);
                if (!v || !cJSON_IsString(v)) {
                        cJSON_Delete(v);
                        return parse_error(P, "invalid string at '%.32s'", s);
                }
                P->p = e + 1;
                *ret = v;
                return 0;
        }

        while (*P->p && !is_ws(*P->p) && *P->p != ')' && *P->p != ']' && *P->p != '(' && *P->p != '[' &&
               *P->p != '"' && (unsigned char) *P->p >= 0x20)
                P->p++;
        size_t n = (size_t) (P->p - s);
        if (n == 0)
                return parse_error(P, "value expected at '%.32s'", s);
        if (word_is(s, n, "true"))
                v = cJSON_CreateTrue();
        else if (word_is(s, n, "false"))
                v = cJSON_CreateFalse();
        else if (word_is(s, n, "null"))
                v = cJSON_CreateNull();
        else if (looks_like_number(s, n)) {
                _cleanup_free_ char *t = strndup(s, n);
                double d;

                if (!t)
                        return oom(P);
                d = strtod(t, NULL);
                if (!isfinite(d))
                        return parse_error(P, "number out of range at '%.32s'", s);
                v = cJSON_CreateNumber(d);
        } else {
                _cleanup_free_ char *t = strndup(s, n);

                if (!t)
                        return oom(P);
                v = cJSON_CreateString(t);
        }
        if (!v)
                return oom(P);
        *ret = v;
        return 0;
}

static int parse_or(Parser *P, ProvFilter **ret);

/* After an attribute path: "pr", or an operator, a space and a value. */
static int parse_comparison(Parser *P, char *attr_owned, ProvFilter **ret) {
        _cleanup_free_ char *attr = attr_owned;
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        const char *s;
        ProvFilterOp op;
        size_t n;
        int r;

        if (!is_ws(*P->p))
                return parse_error(P, "operator expected after '%.64s'", attr);
        skip_ws(P);
        s = P->p;
        n = word_len(s);
        if (compare_op_of(s, n, &op) < 0 || !word_ends(s[n]))
                return parse_error(P, "unknown operator at '%.32s'", s);
        P->p += n;
        f = filter_new(op);
        if (!f)
                return oom(P);
        f->attr = TAKE_PTR(attr);
        if (op != PROV_FILTER_PR) {
                if (!is_ws(*P->p))
                        return parse_error(P, "value expected after '%.*s'", (int) n, s);
                skip_ws(P);
                r = read_value(P, &f->value);
                if (r < 0)
                        return r;
                if (op >= PROV_FILTER_GT && op <= PROV_FILTER_LE && (cJSON_IsBool(f->value) || cJSON_IsNull(f->value)))
                        return parse_error(P, "'%.*s' cannot compare with true, false or null", (int) n, s);
        }
        *ret = TAKE_PTR(f);
        return 0;
}

/* attrPath "[" valFilter "]" ["." subAttr]: the filter inside the brackets, with its attribute
 * names relative to attr. */
static int parse_value_path(Parser *P, char *attr_owned, ProvFilter **ret) {
        _cleanup_free_ char *attr = attr_owned;
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        int r;

        assert(*P->p == '[');
        if (P->in_brackets)
                return parse_error(P, "a value filter cannot nest another one");
        if (++P->depth > PROV_FILTER_DEPTH_MAX)
                return parse_error(P, "nested too deeply");
        P->p++;
        f = filter_new(PROV_FILTER_VALUE_PATH);
        if (!f)
                return oom(P);
        f->attr = TAKE_PTR(attr);
        /* "urn:...:2.0:User:addresses[...]" is fine (the dot is the schema version's), not
         * "urn:...:User:manager.value[...]", and no more "name.givenName[...]": a filter applies
         * to the elements of an attribute, not to a sub-attribute. */
        if (strchr(strncasecmp(f->attr, "urn:", 4) == 0 ? strrchr(f->attr, ':') : f->attr, '.'))
                return parse_error(P, "a value filter applies to an attribute, not '%.64s'", f->attr);
        P->in_brackets = true;
        r = parse_or(P, &f->left);
        P->in_brackets = false;
        if (r < 0)
                return r;
        skip_ws(P);
        if (*P->p != ']')
                return parse_error(P, "']' expected at '%.32s'", P->p);
        P->p++;
        P->depth--;
        if (*P->p == '.') {
                const char *s = ++P->p;

                while (is_name_char(*P->p))
                        P->p++;
                if (!valid_attr_name(s, (size_t) (P->p - s)))
                        return parse_error(P, "sub-attribute expected at '%.32s'", s);
                f->sub = strndup(s, (size_t) (P->p - s));
                if (!f->sub)
                        return oom(P);
        }
        *ret = TAKE_PTR(f);
        return 0;
}

static int parse_primary(Parser *P, ProvFilter **ret) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        _cleanup_free_ char *attr = NULL;
        const char *s;
        size_t n;
        int r;

        skip_ws(P);
        s = P->p;
        n = word_len(s);
        if (*s == '(' || (word_is(s, n, "not") && (is_ws(s[n]) || s[n] == '('))) {
                bool negate = *s != '(';

                if (negate) {
                        P->p += n;
                        skip_ws(P);
                        if (*P->p != '(')
                                return parse_error(P, "'(' expected after 'not'");
                }
                if (++P->depth > PROV_FILTER_DEPTH_MAX)
                        return parse_error(P, "nested too deeply");
                P->p++;
                r = parse_or(P, &f);
                if (r < 0)
                        return r;
                skip_ws(P);
                if (*P->p != ')')
                        return parse_error(P, "')' expected at '%.32s'", P->p);
                P->p++;
                P->depth--;
                if (negate) {
                        ProvFilter *nf = filter_new(PROV_FILTER_NOT);

                        if (!nf)
                                return oom(P);
                        nf->left = TAKE_PTR(f);
                        f = nf;
                }
                *ret = TAKE_PTR(f);
                return 0;
        }

        r = read_attr_path(P, &attr);
        if (r < 0)
                return r;
        if (*P->p != '[')
                return parse_comparison(P, TAKE_PTR(attr), ret);

        r = parse_value_path(P, TAKE_PTR(attr), &f);
        if (r < 0)
                return r;
        if (!f->sub) {
                *ret = TAKE_PTR(f);
                return 0;
        }
        /* emails[type eq "work"].value eq "a@b": some element matches both, which is the inner
         * filter AND-ed with the comparison on the sub-attribute. */
        {
                _cleanup_(prov_filter_freep) ProvFilter *cmp = NULL, *both = NULL;

                r = parse_comparison(P, TAKE_PTR(f->sub), &cmp);
                if (r < 0)
                        return r;
                both = filter_new(PROV_FILTER_AND);
                if (!both)
                        return oom(P);
                both->left = TAKE_PTR(f->left);
                both->right = TAKE_PTR(cmp);
                f->left = TAKE_PTR(both);
        }
        *ret = TAKE_PTR(f);
        return 0;
}

/* One level of a left-associative chain: and-chains of primaries, or or-chains of and-chains.
 * Chains are loops, not recursion, so only parentheses and brackets count against the depth. */
static int parse_chain(Parser *P, const char *kw, ProvFilterOp op, int (*sub)(Parser *, ProvFilter **),
                       ProvFilter **ret) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        int r;

        r = sub(P, &f);
        if (r < 0)
                return r;
        for (;;) {
                const char *save = P->p;
                ProvFilter *both;
                size_t n;

                skip_ws(P);
                n = word_len(P->p);
                if (P->p == save || !word_is(P->p, n, kw) || !(is_ws(P->p[n]) || P->p[n] == '(')) {
                        P->p = save;
                        break;
                }
                P->p += n;
                both = filter_new(op);
                if (!both)
                        return oom(P);
                both->left = TAKE_PTR(f);
                f = both;
                r = sub(P, &f->right);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(f);
        return 0;
}

static int parse_and(Parser *P, ProvFilter **ret) {
        return parse_chain(P, "and", PROV_FILTER_AND, parse_primary, ret);
}

static int parse_or(Parser *P, ProvFilter **ret) {
        return parse_chain(P, "or", PROV_FILTER_OR, parse_and, ret);
}

static int check_text(Parser *P, const char *text) {
        size_t n = strnlen(text, PROV_FILTER_TEXT_MAX + 1);

        if (n > PROV_FILTER_TEXT_MAX)
                return parse_error(P, "longer than %d bytes", PROV_FILTER_TEXT_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) text[i] < 0x20 && !is_ws(text[i]))
                        return parse_error(P, "control character at offset %zu", i);
        return 0;
}

/* The end of the text: nothing but spaces may follow what was parsed. */
static int parse_end(Parser *P) {
        skip_ws(P);
        if (*P->p)
                return parse_error(P, "unexpected '%.32s'", P->p);
        return 0;
}

int prov_filter_parse(const char *text, ProvFilter **ret, ProvScimError *err) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        Parser P = { .p = text, .scim_type = "invalidFilter", .err = err };
        int r;

        if (!text || !ret)
                return prov_scim_error_set(err, 400, "invalidFilter", "no filter");
        r = check_text(&P, text);
        if (r < 0)
                return r;
        r = parse_or(&P, &f);
        if (r < 0)
                return r;
        r = parse_end(&P);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}

int prov_filter_parse_path(const char *text, ProvFilter **ret, ProvScimError *err) {
        _cleanup_(prov_filter_freep) ProvFilter *f = NULL;
        _cleanup_free_ char *attr = NULL;
        Parser P = { .p = text, .scim_type = "invalidPath", .err = err };
        int r;

        if (!text || !ret)
                return prov_scim_error_set(err, 400, "invalidPath", "no path");
        r = check_text(&P, text);
        if (r < 0)
                return r;
        skip_ws(&P);
        r = read_attr_path(&P, &attr);
        if (r < 0)
                return r;
        if (*P.p == '[') {
                r = parse_value_path(&P, TAKE_PTR(attr), &f);
                if (r < 0)
                        return r;
        } else {
                f = filter_new(PROV_FILTER_PR);
                if (!f)
                        return oom(&P);
                f->attr = TAKE_PTR(attr);
        }
        r = parse_end(&P);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}
