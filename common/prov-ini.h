/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The reader of provision's INI files (syncd.conf, hub.conf): "[section]" headers, "key = value"
 * lines, comment lines starting with '#' or ';', a UTF-8 byte order mark ignored. No end-of-line
 * comments: a value is everything after the '=' (blanks around it stripped). Unknown sections,
 * NUL bytes and overlong lines are errors. What a key means is the caller's: every assignment
 * goes to its assign() callback. libc only. */

#include <stdbool.h>
#include <stddef.h>

#include "prov-util.h"

typedef struct ProvIni ProvIni;
struct ProvIni {
        const char *path;                       /* for messages */
        char *error;                            /* the first error: "PATH:LINE: message" (malloc'ed) */
        const char *const *sections;            /* the known section names */
        size_t n_sections;
        size_t max_size, max_line;              /* bytes */
        /* One assignment, with the section (one of sections[]) and the line it is on. */
        int (*assign)(ProvIni *ini, const char *section, unsigned line, const char *key, const char *value);
        void *userdata;
};

/* Records the first error with its location (line 0: no particular line) and returns -EINVAL,
 * so that every check can end in `return prov_ini_error(...)`. */
int prov_ini_error(ProvIni *ini, unsigned line, const char *fmt, ...) _printf_(3, 4);

/* Reads ini->path (a regular file of at most ini->max_size bytes) into a NUL-terminated buffer. */
int prov_ini_read_file(ProvIni *ini, char **ret, size_t *ret_size);

/* Parses buf (modified in place), calling ini->assign for each assignment. */
int prov_ini_parse(ProvIni *ini, char *buf, size_t size);

/* Reads at most max bytes from fd into a NUL-terminated buffer: -EFBIG for more. */
int prov_read_bounded(int fd, size_t max, char **ret, size_t *ret_size);

/* Space, tab, CR, VT, FF: what a configuration value is stripped of. */
static inline bool prov_is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Blanks off both ends, in place. */
char *prov_strip(char *s);

/* A fully checked unsigned decimal: digits only (no sign, no blank, no "0x"), no overflow,
 * within [min, max]; -ERANGE outside, -EINVAL otherwise. */
int prov_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret);

/* yes/no, true/false, on/off, 1/0. */
int prov_parse_bool(const char *s, bool *ret);
