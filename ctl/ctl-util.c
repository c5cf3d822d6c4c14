/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl-util.h"
#include "prov-time.h"

/* Times here are signed (before 1970, ages, offsets): prov-time.h's unsigned constant as such. */

/* Reads exactly n decimal digits at *p and advances; false if any is not a digit. */
static bool read_digits(const char **p, unsigned n, int *ret) {
        int v = 0;

        for (unsigned i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* "-N<unit>": N seconds, minutes, hours, days or weeks before now. */
static int parse_relative(const char *s, int64_t now_usec, int64_t *ret_usec) {
        static const struct {
                char unit;
                int64_t sec;
        } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
        char *end;
        unsigned long long n;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        n = strtoull(s, &end, 10);
        if (errno != 0 || end[0] == '\0' || end[1] != '\0')
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (units[i].unit == end[0]) {
                        /* Anything past a few thousand years is a typo, not a time. */
                        if (n > (unsigned long long) (INT64_C(100000) * 365 * 86400) / (unsigned long long) units[i].sec)
                                return -EINVAL;
                        *ret_usec = now_usec - (int64_t) n * units[i].sec * USEC_PER_SEC_I64;
                        return 0;
                }
        return -EINVAL;
}

int ctl_parse_time(const char *s, int64_t now_usec, int64_t *ret_usec) {
        struct tm tm = {}, check;
        const char *p = s;
        int year, mon, day, hour = 0, min = 0, sec = 0, usec = 0;
        bool zone = false;
        int offset_sec = 0;
        time_t t;

        if (!s || !ret_usec)
                return -EINVAL;

        if (s[0] == '-')
                return parse_relative(s + 1, now_usec, ret_usec);
        if (s[0] == '@') {
                char *end;
                long long v;

                if (s[1] < '0' || s[1] > '9')
                        return -EINVAL;
                errno = 0;
                v = strtoll(s + 1, &end, 10);
                if (errno != 0 || *end != '\0' || v > INT64_MAX / USEC_PER_SEC_I64)
                        return -EINVAL;
                *ret_usec = (int64_t) v * USEC_PER_SEC_I64;
                return 0;
        }

        if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &mon) || *p++ != '-' ||
            !read_digits(&p, 2, &day))
                return -EINVAL;
        if (*p == 'T' || *p == 't' || *p == ' ') {
                p++;
                if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &min))
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (!read_digits(&p, 2, &sec))
                                return -EINVAL;
                        if (*p == '.') {
                                int scale = 100000, digits = 0;

                                p++;
                                for (; *p >= '0' && *p <= '9'; p++, digits++)
                                        if (scale > 0) {
                                                usec += (*p - '0') * scale;
                                                scale /= 10;
                                        }
                                if (digits == 0)
                                        return -EINVAL;
                        }
                }
                if (*p == 'Z' || *p == 'z') {
                        zone = true;
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p == '-' ? -1 : 1, oh, om;

                        p++;
                        if (!read_digits(&p, 2, &oh) || *p++ != ':' || !read_digits(&p, 2, &om) || oh > 23 ||
                            om > 59)
                                return -EINVAL;
                        zone = true;
                        offset_sec = sign * (oh * 3600 + om * 60);
                }
        }
        if (*p != '\0')
                return -EINVAL;
        /* 60 is a leap second in RFC 3339; time_t has none, it folds into the next minute. */
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        tm = (struct tm) {
                .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                .tm_hour = hour, .tm_min = min, .tm_sec = sec, .tm_isdst = -1,
        };
        check = tm;
        t = zone ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1 && (tm.tm_year != 69 || tm.tm_mon != 11 || tm.tm_mday != 31))
                return -EINVAL;
        /* Normalisation moved the day: a date such as February 30 does not exist. */
        if (tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon)
                return -EINVAL;

        *ret_usec = ((int64_t) t - offset_sec) * USEC_PER_SEC_I64 + usec;
        return 0;
}

const char *ctl_format_time(int64_t usec, char *buf, size_t size) {
        struct tm tm;
        time_t t;

        if (usec <= 0) {
                snprintf(buf, size, "never");
                return buf;
        }
        t = (time_t) (usec / USEC_PER_SEC_I64);
        if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "@%" PRIi64, usec / USEC_PER_SEC_I64);
        return buf;
}

const char *ctl_format_age(int64_t usec, int64_t now_usec, char *buf, size_t size) {
        int64_t s;

        if (usec <= 0) {
                snprintf(buf, size, "never");
                return buf;
        }
        if (usec > now_usec + USEC_PER_SEC_I64) {
                snprintf(buf, size, "in the future");
                return buf;
        }
        s = usec > now_usec ? 0 : (now_usec - usec) / USEC_PER_SEC_I64;
        if (s < 60)
                snprintf(buf, size, "%" PRIi64 "s ago", s);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIi64 "min ago", s / 60);
        else if (s < 86400)
                snprintf(buf, size, "%" PRIi64 "h %" PRIi64 "min ago", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%" PRIi64 "d %" PRIi64 "h ago", s / 86400, s % 86400 / 3600);
        return buf;
}

int ctl_redact_url(const char *url, char **ret) {
        const char *scheme_end, *host, *at, *path_start;
        size_t end;
        char *s;

        if (!url || !ret)
                return -EINVAL;

        end = strcspn(url, "?#");
        scheme_end = strstr(url, "://");
        if (!scheme_end || (size_t) (scheme_end - url) >= end) {
                s = strndup(url, end);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }

        host = scheme_end + 3;
        path_start = host + strcspn(host, "/?#");
        /* The last '@' before the path ends the userinfo (a password may contain '@' unencoded). */
        at = NULL;
        for (const char *p = host; p < path_start; p++)
                if (*p == '@')
                        at = p;

        size_t scheme_len = (size_t) (host - url);
        const char *rest = at ? at + 1 : host;
        size_t rest_len = (size_t) (url + end - rest);

        s = malloc(scheme_len + rest_len + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, url, scheme_len);
        memcpy(s + scheme_len, rest, rest_len);
        s[scheme_len + rest_len] = '\0';
        *ret = s;
        return 0;
}

void ctl_json_string(FILE *f, const char *s) {
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}

void ctl_json_init(CtlJson *j, FILE *f) {
        *j = (CtlJson) { .f = f };
}

/* Starts a value: the comma after the previous sibling, the newline and indentation, the key. */
static void json_value_start(CtlJson *j, const char *key) {
        if (j->depth > 0) {
                if (j->need_comma[j->depth])
                        fputc(',', j->f);
                fputc('\n', j->f);
                for (unsigned i = 0; i < j->depth; i++)
                        fputs("  ", j->f);
        }
        j->need_comma[j->depth] = true;
        if (key) {
                ctl_json_string(j->f, key);
                fputs(": ", j->f);
        }
}

static void json_open(CtlJson *j, const char *key, char c) {
        json_value_start(j, key);
        fputc(c, j->f);
        assert(j->depth + 1 < CTL_JSON_DEPTH);
        j->depth++;
        j->need_comma[j->depth] = false;
}

static void json_close(CtlJson *j, char c) {
        bool empty;

        assert(j->depth > 0);
        empty = !j->need_comma[j->depth];
        j->depth--;
        if (!empty) {
                fputc('\n', j->f);
                for (unsigned i = 0; i < j->depth; i++)
                        fputs("  ", j->f);
        }
        fputc(c, j->f);
}

void ctl_json_begin_object(CtlJson *j, const char *key) {
        json_open(j, key, '{');
}

void ctl_json_end_object(CtlJson *j) {
        json_close(j, '}');
}

void ctl_json_begin_array(CtlJson *j, const char *key) {
        json_open(j, key, '[');
}

void ctl_json_end_array(CtlJson *j) {
        json_close(j, ']');
}

void ctl_json_str(CtlJson *j, const char *key, const char *value) {
        json_value_start(j, key);
        ctl_json_string(j->f, value);
}

void ctl_json_int(CtlJson *j, const char *key, int64_t value) {
        json_value_start(j, key);
        fprintf(j->f, "%" PRIi64, value);
}

void ctl_json_uint(CtlJson *j, const char *key, uint64_t value) {
        json_value_start(j, key);
        fprintf(j->f, "%" PRIu64, value);
}

void ctl_json_bool(CtlJson *j, const char *key, bool value) {
        json_value_start(j, key);
        fputs(value ? "true" : "false", j->f);
}

void ctl_json_null(CtlJson *j, const char *key) {
        json_value_start(j, key);
        fputs("null", j->f);
}

void ctl_json_finish(CtlJson *j) {
        assert(j->depth == 0);
        fputc('\n', j->f);
}

/* --- tables ------------------------------------------------------------------------------- */

char *ctl_sanitize(char *s) {
        unsigned char *p = (unsigned char *) s;

        for (; p && *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        *p = '?';
                else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        p[0] = p[1] = '?';
        return s;
}

struct CtlTable {
        size_t n_columns;
        char **cells;           /* header row first, then rows, n_columns each */
        const char **colors;    /* per cell, NULL = none */
        size_t n_rows;          /* including the header */
        size_t cells_allocated, colors_allocated;
};

/* Makes room for one more row. */
static int table_grow(CtlTable *t) {
        size_t need = (t->n_rows + 1) * t->n_columns;
        int r;

        r = prov_grow((void **) &t->cells, &t->cells_allocated, need, sizeof(*t->cells));
        if (r < 0)
                return r;
        return prov_grow((void **) &t->colors, &t->colors_allocated, need, sizeof(*t->colors));
}

/* Adds a row of cells from a va_list; on failure the table is as before. */
static int table_add_va(CtlTable *t, va_list ap) {
        size_t base;
        int r;

        r = table_grow(t);
        if (r < 0)
                return r;
        base = t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                const char *s = va_arg(ap, const char *);

                t->cells[base + i] = ctl_sanitize(strdup(s ?: "-"));
                t->colors[base + i] = NULL;
                if (!t->cells[base + i]) {
                        while (i > 0)
                                free(t->cells[base + --i]);
                        return -ENOMEM;
                }
        }
        t->n_rows++;
        return 0;
}

int ctl_table_new(CtlTable **ret, size_t n_columns, ...) {
        CtlTable *t;
        va_list ap;
        int r;

        if (!ret || n_columns == 0)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->n_columns = n_columns;
        va_start(ap, n_columns);
        r = table_add_va(t, ap);
        va_end(ap);
        if (r < 0) {
                ctl_table_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

CtlTable *ctl_table_free(CtlTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
        free(t);
        return NULL;
}

int ctl_table_add_row(CtlTable *t, ...) {
        va_list ap;
        int r;

        va_start(ap, t);
        r = table_add_va(t, ap);
        va_end(ap);
        return r;
}

int ctl_table_set_color(CtlTable *t, size_t column, const char *color) {
        if (column >= t->n_columns || t->n_rows < 2)
                return -EINVAL;
        t->colors[(t->n_rows - 1) * t->n_columns + column] = color;
        return 0;
}

size_t ctl_table_rows(const CtlTable *t) {
        return t->n_rows - 1;
}

/* Display width: code points, counting every byte that does not continue a UTF-8 sequence. */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

void ctl_table_print(const CtlTable *t, FILE *f, bool legend, bool color) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

        if (!width)
                return;
        for (size_t r = legend ? 0 : 1; r < t->n_rows; r++)
                for (size_t c = 0; c < t->n_columns; c++) {
                        size_t w = text_width(t->cells[r * t->n_columns + c]);
                        if (w > width[c])
                                width[c] = w;
                }

        for (size_t r = legend ? 0 : 1; r < t->n_rows; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *cell = t->cells[r * t->n_columns + c];
                        const char *col = r == 0 ? "\033[1m" : t->colors[r * t->n_columns + c];
                        bool last = c + 1 == t->n_columns;

                        if (color && col)
                                fprintf(f, "%s%s\033[0m", col, cell);
                        else
                                fputs(cell, f);
                        if (!last)
                                fprintf(f, "%*s", (int) (width[c] - text_width(cell) + 1), "");
                }
                fputc('\n', f);
        }
}
