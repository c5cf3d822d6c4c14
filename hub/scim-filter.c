/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
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
        skip_ws(&P);
        if (*P.p)
                return parse_error(&P, "unexpected '%.32s'", P.p);
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
        skip_ws(&P);
        if (*P.p)
                return parse_error(&P, "unexpected '%.32s'", P.p);
        *ret = TAKE_PTR(f);
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return true;
}

int prov_scim_timestamp_parse(const char *s, int64_t *ret_usec) {
        unsigned Y, M, D, h, m, sec, oh = 0, om = 0;
        int64_t usec = 0, scale = 100000, t;
        const char *p;

        if (!s || strlen(s) < 20)
                return -EINVAL;
        if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
            !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
            !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
            !digits(s + 17, 2, &sec))
                return -EINVAL;
        if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
                return -EINVAL;
        p = s + 19;
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                for (; is_digit(*p); p++) {
                        usec += (*p - '0') * scale;
                        scale /= 10;
                }
        }
        t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + (sec == 60 ? 59 : sec);
        if (*p == 'Z' || *p == 'z')
                p++;
        else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' && digits(p + 4, 2, &om) &&
                 oh <= 23 && om <= 59) {
                int64_t off = (int64_t) oh * 3600 + om * 60;

                t += *p == '+' ? -off : off;
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret_usec = t * 1000000 + usec;
        return 0;
}

/* Matching. Attribute lookups are case-insensitive (RFC 7643 §2.1); values are visited one by one,
 * through multi-valued attributes at any step, so "any element matches" falls out of the walk. */

typedef bool (*ValuePred)(const cJSON *v, void *userdata);

static const cJSON *member_n(const cJSON *obj, const char *name, size_t n) {
        const cJSON *c;

        if (!cJSON_IsObject(obj))
                return NULL;
        cJSON_ArrayForEach(c, obj)
                if (c->string && strlen(c->string) == n && strncasecmp(c->string, name, n) == 0)
                        return c;
        return NULL;
}

static bool visit_dotted(const cJSON *node, const char *path, ValuePred pred, void *userdata) {
        const char *dot;
        const cJSON *c;

        if (cJSON_IsArray(node)) {
                cJSON_ArrayForEach(c, node)
                        if (visit_dotted(c, path, pred, userdata))
                                return true;
                return false;
        }
        if (!path) {
                /* A complex value compared as a whole stands for its "value" sub-attribute
                 * (RFC 7644 §3.4.2.2, `emails co "x"`). One without "value" (name) is given
                 * whole: only "pr" holds on an object. */
                if (cJSON_IsObject(node)) {
                        c = member_n(node, "value", 5);
                        if (c)
                                return !cJSON_IsObject(c) && !cJSON_IsArray(c) && pred(c, userdata);
                }
                return pred(node, userdata);
        }
        dot = strchr(path, '.');
        c = member_n(node, path, dot ? (size_t) (dot - path) : strlen(path));
        if (!c)
                return false;
        return visit_dotted(c, dot ? dot + 1 : NULL, pred, userdata);
}

/* An attribute of an extension is found under its URN object ("urn:...:User" → {"manager": ...}),
 * or, in a resource nobody normalised, as a flat "urn:...:User:manager" key. */
static bool visit_attr(const cJSON *resource, const char *attr, ValuePred pred, void *userdata) {
        const cJSON *c;

        if (strncasecmp(attr, "urn:", 4) != 0)
                return visit_dotted(resource, attr, pred, userdata);
        cJSON_ArrayForEach(c, resource) {
                size_t n;

                if (!c->string)
                        continue;
                n = strlen(c->string);
                if (cJSON_IsObject(c) && strncasecmp(c->string, attr, n) == 0 && attr[n] == ':')
                        return visit_dotted(c, attr + n + 1, pred, userdata);
                if (strcasecmp(c->string, attr) == 0)
                        return visit_dotted(c, NULL, pred, userdata);
        }
        return false;
}

static bool ends_with_ci(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* caseExact attributes of RFC 7643 (id, externalId, meta.*, every $ref) and members.value,
 * which is an id. prefix is the attribute of an enclosing value filter, or NULL. */
static bool attr_case_exact(const char *prefix, const char *attr) {
        const char *full_first = prefix ?: attr;

        if (ends_with_ci(attr, "$ref"))
                return true;
        if (prefix)
                return strcasecmp(prefix, "members") == 0 && strcasecmp(attr, "value") == 0;
        return strcasecmp(full_first, "id") == 0 || strcasecmp(full_first, "externalId") == 0 ||
               has_prefix_ci(full_first, "meta.") || strcasecmp(attr, "members.value") == 0;
}

static bool attr_is_timestamp(const char *prefix, const char *attr) {
        if (prefix)
                return strcasecmp(prefix, "meta") == 0 &&
                       (strcasecmp(attr, "lastModified") == 0 || strcasecmp(attr, "created") == 0);
        return strcasecmp(attr, "meta.lastModified") == 0 || strcasecmp(attr, "meta.created") == 0;
}

typedef struct Compare {
        ProvFilterOp op;
        const cJSON *value;
        bool exact;
        bool timestamp;
} Compare;

static int cmp_str(const char *a, const char *b, bool exact) {
        return exact ? strcmp(a, b) : strcasecmp(a, b);
}

static bool str_contains(const char *hay, const char *needle, bool exact) {
        size_t n = strlen(needle);

        for (const char *p = hay; *p; p++)
                if ((exact ? strncmp(p, needle, n) : strncasecmp(p, needle, n)) == 0)
                        return true;
        return n == 0;
}

static bool order_holds(ProvFilterOp op, int c) {
        switch (op) {
        case PROV_FILTER_GT:
                return c > 0;
        case PROV_FILTER_GE:
                return c >= 0;
        case PROV_FILTER_LT:
                return c < 0;
        case PROV_FILTER_LE:
                return c <= 0;
        default:
                return false;
        }
}

static bool compare_pred(const cJSON *v, void *userdata) {
        const Compare *C = userdata;
        const cJSON *w = C->value;

        if (C->op == PROV_FILTER_PR) {
                if (cJSON_IsNull(v))
                        return false;
                if (cJSON_IsString(v))
                        return v->valuestring[0] != 0;
                if (cJSON_IsObject(v))
                        return v->child != NULL;
                return true;
        }
        if (cJSON_IsNull(w))
                return C->op == PROV_FILTER_EQ && cJSON_IsNull(v);
        if (cJSON_IsBool(w))
                return C->op == PROV_FILTER_EQ && cJSON_IsBool(v) && cJSON_IsTrue(v) == cJSON_IsTrue(w);
        if (cJSON_IsNumber(w)) {
                if (!cJSON_IsNumber(v))
                        return false;
                if (C->op == PROV_FILTER_EQ)
                        return v->valuedouble == w->valuedouble;
                return order_holds(C->op, v->valuedouble < w->valuedouble ? -1 : v->valuedouble > w->valuedouble);
        }
        if (!cJSON_IsString(w) || !cJSON_IsString(v))
                return false;

        const char *a = v->valuestring, *b = w->valuestring;
        size_t la = strlen(a), lb = strlen(b);

        switch (C->op) {
        case PROV_FILTER_EQ:
                return cmp_str(a, b, C->exact) == 0;
        case PROV_FILTER_CO:
                return str_contains(a, b, C->exact);
        case PROV_FILTER_SW:
                return la >= lb && (C->exact ? strncmp(a, b, lb) : strncasecmp(a, b, lb)) == 0;
        case PROV_FILTER_EW:
                return la >= lb && cmp_str(a + la - lb, b, C->exact) == 0;
        case PROV_FILTER_GT:
        case PROV_FILTER_GE:
        case PROV_FILTER_LT:
        case PROV_FILTER_LE:
                if (C->timestamp) {
                        int64_t ta, tb;

                        if (prov_scim_timestamp_parse(a, &ta) < 0 || prov_scim_timestamp_parse(b, &tb) < 0)
                                return false;
                        return order_holds(C->op, ta < tb ? -1 : ta > tb);
                }
                return order_holds(C->op, cmp_str(a, b, C->exact));
        default:
                return false;
        }
}

typedef struct ElementMatch {
        const ProvFilter *inner;
        const char *prefix;
} ElementMatch;

static bool match_in(const ProvFilter *f, const cJSON *node, const char *prefix);

static bool element_pred(const cJSON *v, void *userdata) {
        const ElementMatch *E = userdata;

        return match_in(E->inner, v, E->prefix);
}

static bool visit_attr_in(const cJSON *node, const char *prefix, const char *attr, ValuePred pred, void *ud) {
        return prefix ? visit_dotted(node, attr, pred, ud) : visit_attr(node, attr, pred, ud);
}

/* node: the resource (prefix NULL) or one element of the multi-valued attribute `prefix`. */
static bool match_in(const ProvFilter *f, const cJSON *node, const char *prefix) {
        switch (f->op) {
        case PROV_FILTER_AND:
                return match_in(f->left, node, prefix) && match_in(f->right, node, prefix);
        case PROV_FILTER_OR:
                return match_in(f->left, node, prefix) || match_in(f->right, node, prefix);
        case PROV_FILTER_NOT:
                return !match_in(f->left, node, prefix);
        case PROV_FILTER_VALUE_PATH: {
                /* Each element of attr on its own (visit_dotted does not flatten objects here:
                 * the predicate gets whole elements). */
                ElementMatch E = { .inner = f->left, .prefix = f->attr };
                const cJSON *c = NULL;

                if (prefix)
                        return false;
                if (strncasecmp(f->attr, "urn:", 4) == 0) {
                        const cJSON *x;

                        cJSON_ArrayForEach(x, node) {
                                size_t n = x->string ? strlen(x->string) : 0;

                                if (n && cJSON_IsObject(x) && strncasecmp(x->string, f->attr, n) == 0 &&
                                    f->attr[n] == ':')
                                        c = member_n(x, f->attr + n + 1, strlen(f->attr + n + 1));
                        }
                } else
                        c = member_n(node, f->attr, strlen(f->attr));
                if (!c)
                        return false;
                if (cJSON_IsArray(c)) {
                        const cJSON *e;

                        cJSON_ArrayForEach(e, c)
                                if (element_pred(e, &E))
                                        return true;
                        return false;
                }
                return element_pred(c, &E);
        }
        case PROV_FILTER_NE: {
                ProvFilter eq = *f;

                eq.op = PROV_FILTER_EQ;
                return !match_in(&eq, node, prefix);
        }
        default: {
                Compare C = {
                        .op = f->op,
                        .value = f->value,
                        .exact = attr_case_exact(prefix, f->attr),
                        .timestamp = attr_is_timestamp(prefix, f->attr),
                };
                bool any = visit_attr_in(node, prefix, f->attr, compare_pred, &C);

                /* `attr eq null` holds for an absent attribute too. */
                if (!any && f->op == PROV_FILTER_EQ && cJSON_IsNull(f->value)) {
                        Compare P = { .op = PROV_FILTER_PR };

                        return !visit_attr_in(node, prefix, f->attr, compare_pred, &P);
                }
                return any;
        }
        }
}

bool prov_filter_match(const ProvFilter *f, const cJSON *resource) {
        if (!f || !cJSON_IsObject(resource))
                return false;
        return match_in(f, resource, NULL);
}

bool prov_filter_match_element(const ProvFilter *f, const cJSON *element, const char *attr) {
        if (!f || !element || !attr)
                return false;
        return match_in(f, element, attr);
}

bool prov_filter_simple_eq(const ProvFilter *f, const char **ret_attr, const char **ret_value) {
        static const char *const indexed[] = { "id", "userName", "externalId", "displayName" };

        if (!f || f->op != PROV_FILTER_EQ || !cJSON_IsString(f->value))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(indexed); i++)
                if (strcasecmp(f->attr, indexed[i]) == 0) {
                        if (ret_attr)
                                *ret_attr = indexed[i];
                        if (ret_value)
                                *ret_value = f->value->valuestring;
                        return true;
                }
        return false;
}

bool prov_filter_modified_since(const ProvFilter *f, int64_t *ret_usec, bool *ret_inclusive) {
        int64_t t;

        if (!f || (f->op != PROV_FILTER_GT && f->op != PROV_FILTER_GE) || !cJSON_IsString(f->value) ||
            strcasecmp(f->attr, "meta.lastModified") != 0)
                return false;
        if (prov_scim_timestamp_parse(f->value->valuestring, &t) < 0)
                return false;
        if (ret_usec)
                *ret_usec = t;
        if (ret_inclusive)
                *ret_inclusive = f->op == PROV_FILTER_GE;
        return true;
}
