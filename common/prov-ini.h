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
        /* Optional: the checks that concern the whole, after the last assignment (prov_ini_load()). */
        int (*validate)(ProvIni *ini);
        void *userdata;
        /* The caller's table of known keys (prov_ini_key()): n_keys entries of key_size bytes,
         * each starting with its names, `const char *section, *key;` (key names unique across
         * sections); key_lines[i] is the line that set entry i, 0 while it keeps its default. */
        const void *keys;
        size_t n_keys, key_size;
        unsigned *key_lines;
};

/* In a ProvIni initializer: the known sections (an array), and the key table (an array) with
 * its line numbers (an array of as many unsigned). */
#define PROV_INI_SECTIONS(array) .sections = (array), .n_sections = ELEMENTSOF(array)
#define PROV_INI_KEYS(array, lines) \
        .keys = (array), .n_keys = ELEMENTSOF(array), .key_size = sizeof((array)[0]), .key_lines = (lines)

/* Records the first error with its location (line 0: no particular line) and returns -EINVAL,
 * so that every check can end in `return prov_ini_error(...)`. */
int prov_ini_error(ProvIni *ini, unsigned line, const char *fmt, ...) _printf_(3, 4);

/* Reads ini->path (a regular file of at most ini->max_size bytes) into a NUL-terminated buffer. */
int prov_ini_read_file(ProvIni *ini, char **ret, size_t *ret_size);

/* Parses buf (modified in place), calling ini->assign for each assignment. */
int prov_ini_parse(ProvIni *ini, char *buf, size_t size);

/* The index in ini->keys of key in section, set on line: an unknown key, and a key set twice
 * (with "last wins" a forgotten earlier line would silently stop doing what it says), are
 * errors. */
int prov_ini_key(ProvIni *ini, const char *section, unsigned line, const char *key, size_t *ret_index);
/* The line that set key, for errors that concern several keys; 0 while it keeps its default. */
unsigned prov_ini_key_line(const ProvIni *ini, const char *key);

/* Parses text (size bytes, copied), or ini->path when text is NULL, then checks the whole with
 * ini->validate. On failure *ret_error (when not NULL) gets the message. */
int prov_ini_load(ProvIni *ini, const char *text, size_t size, char **ret_error);

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

/* Replaces the string *field with a copy of v (NULL: none). */
int prov_ini_set_string(char **field, const char *v);

/* yes/no, true/false, on/off, 1/0. */
int prov_parse_bool(const char *s, bool *ret);
