/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SCIM filters, the other half (scim-filter.c parses them): matching a parsed filter against a
 * resource, RFC 3339 timestamps, and what the store's indexes can answer. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prov-time.h"
#include "scim-filter.h"

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
                if (!(s[i] >= '0' && s[i] <= '9'))
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
                if (!(*p >= '0' && *p <= '9'))
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
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
        *ret_usec = t * USEC_PER_SEC_I64 + usec;
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
               strncasecmp(full_first, "meta.", 5) == 0 || strcasecmp(attr, "members.value") == 0;
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
