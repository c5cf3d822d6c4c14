/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of provisionctl that have no business with the store or the bus: time parsing and
 * formatting, URL redaction, a small JSON writer and aligned tables. libc only, unit-tested in
 * tests/unit/test-ctl-util.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prov-util.h"

/* Parses a point in time for `events --since`: RFC 3339 ("2024-05-01T10:00:00Z", with an
 * optional fraction and a "+HH:MM"/"-HH:MM" offset), "YYYY-MM-DD HH:MM[:SS]" and "YYYY-MM-DD" in
 * local time, "@SECONDS" since the epoch, or a relative "-N<unit>" before now_usec with unit s, m,
 * h, d or w ("-90m", "-1h", "-2d"). Returns 0 and CLOCK_REALTIME µs, or -EINVAL. */
int ctl_parse_time(const char *s, int64_t now_usec, int64_t *ret_usec);

/* "YYYY-MM-DD HH:MM:SS TZ" in local time into buf; "never" for 0 or less. Returns buf. */
const char *ctl_format_time(int64_t usec, char *buf, size_t size);
/* A short age such as "42s ago", "5min ago", "3h 2min ago", "4d 1h ago" ("in the future" when
 * usec is after now_usec); "never" for 0 or less. Returns buf. */
const char *ctl_format_age(int64_t usec, int64_t now_usec, char *buf, size_t size);

/* A URL without what must not be shown: userinfo ("user:pass@"), query and fragment are
 * dropped. malloc'ed into *ret; -ENOMEM. Strings that are not URLs are returned as they are
 * minus anything after '?' or '#'. */
int ctl_redact_url(const char *url, char **ret);

/* Writes s as a JSON string literal (with quotes), escaping '"', '\\' and every control
 * character; NULL is written as null. Bytes >= 0x80 pass through (the store holds UTF-8). */
void ctl_json_string(FILE *f, const char *s);

/* A streaming JSON writer with two-space indentation. Keys are given for members of objects and
 * NULL for elements of arrays and the top level value. Nesting deeper than CTL_JSON_DEPTH is our
 * bug (assert). */
#define CTL_JSON_DEPTH 16
typedef struct CtlJson {
        FILE *f;
        unsigned depth;
        bool need_comma[CTL_JSON_DEPTH];
} CtlJson;

void ctl_json_init(CtlJson *j, FILE *f);
void ctl_json_begin_object(CtlJson *j, const char *key);
void ctl_json_end_object(CtlJson *j);
void ctl_json_begin_array(CtlJson *j, const char *key);
void ctl_json_end_array(CtlJson *j);
void ctl_json_str(CtlJson *j, const char *key, const char *value);   /* NULL -> null */
void ctl_json_int(CtlJson *j, const char *key, int64_t value);
void ctl_json_uint(CtlJson *j, const char *key, uint64_t value);
void ctl_json_bool(CtlJson *j, const char *key, bool value);
void ctl_json_null(CtlJson *j, const char *key);
/* Ends the top level value with a newline. */
void ctl_json_finish(CtlJson *j);

/* Replaces in place each control character of s (C0, DEL, and C1 as UTF-8) by '?', one per byte,
 * so that text from the store or the directory never reaches a terminal as an escape sequence.
 * Returns s (NULL stays NULL). */
char *ctl_sanitize(char *s);

/* An aligned text table. Cells are copied and sanitized (ctl_sanitize()). Widths count UTF-8 code points, not bytes. */
typedef struct CtlTable CtlTable;

int ctl_table_new(CtlTable **ret, size_t n_columns, ...);   /* n_columns header strings */
CtlTable *ctl_table_free(CtlTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CtlTable *, ctl_table_free);
/* Appends one row of exactly n_columns cells (NULL is shown as "-"). -ENOMEM. */
int ctl_table_add_row(CtlTable *t, ...);
/* Sets an ANSI colour sequence (e.g. "\033[31m") for one cell of the last row, or NULL. */
int ctl_table_set_color(CtlTable *t, size_t column, const char *color);
size_t ctl_table_rows(const CtlTable *t);
/* Prints the table; legend: print the header line; color: use the cell colours and a bold header.
 * The last column is not padded. */
void ctl_table_print(const CtlTable *t, FILE *f, bool legend, bool color);
