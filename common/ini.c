/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-ini.h"

int prov_ini_error(ProvIni *ini, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (ini->error)
                return -EINVAL;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        if (line > 0)
                r = asprintf(&ini->error, "%s:%u: %s", ini->path, line, msg);
        else
                r = asprintf(&ini->error, "%s: %s", ini->path, msg);
        if (r < 0) {
                ini->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

int prov_read_bounded(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        /* One byte past the limit tells that it is too big, whatever the file does meanwhile. */
        buf = malloc(max + 2);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int prov_ini_read_file(ProvIni *ini, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = open(ini->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = negative_errno();
                prov_ini_error(ini, 0, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode)) {
                prov_ini_error(ini, 0, "not a regular file");
                return -EINVAL;
        }
        r = prov_read_bounded(fd, ini->max_size, ret, ret_size);
        if (r == -EFBIG)
                prov_ini_error(ini, 0, "file is larger than %zu bytes", ini->max_size);
        return r;
}

char *prov_strip(char *s) {
        size_t n;

        while (prov_is_blank(*s))
                s++;
        n = strlen(s);
        while (n > 0 && prov_is_blank(s[n - 1]))
                s[--n] = 0;
        return s;
}

int prov_ini_parse(ProvIni *ini, char *buf, size_t size) {
        const char *section = NULL;
        unsigned line = 0;
        char *pos = buf, *end = buf + size;
        int r;

        /* A UTF-8 byte order mark, as some Windows editors write, is not part of line 1. */
        if (size >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
                pos += 3;

        while (pos < end) {
                char *nl = memchr(pos, '\n', (size_t) (end - pos));
                char *l, *eq, *key, *value;
                size_t len = nl ? (size_t) (nl - pos) : (size_t) (end - pos);

                line++;
                if (len > ini->max_line)
                        return prov_ini_error(ini, line, "line longer than %zu bytes", ini->max_line);
                if (memchr(pos, 0, len))
                        return prov_ini_error(ini, line, "NUL byte");
                pos[len] = 0;
                l = prov_strip(pos);
                pos += len + 1;

                if (!l[0] || l[0] == '#' || l[0] == ';')
                        continue;

                if (l[0] == '[') {
                        size_t n = strlen(l);
                        char *name;

                        if (l[n - 1] != ']')
                                return prov_ini_error(ini, line, "invalid section header");
                        l[n - 1] = 0;
                        name = prov_strip(l + 1);
                        section = NULL;
                        for (size_t i = 0; i < ini->n_sections; i++)
                                if (streq(ini->sections[i], name))
                                        section = ini->sections[i];
                        if (!section)
                                return prov_ini_error(ini, line, "unknown section [%.64s]", name);
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq)
                        return prov_ini_error(ini, line, "expected 'key = value'");
                *eq = 0;
                key = prov_strip(l);
                value = prov_strip(eq + 1);
                if (!key[0])
                        return prov_ini_error(ini, line, "missing key before '='");
                if (!section)
                        return prov_ini_error(ini, line, "key '%.64s' outside of any [section]", key);

                r = ini->assign(ini, section, line, key, value);
                if (r < 0)
                        return r;
        }

        return 0;
}

/* The names an entry of ini->keys starts with: [0] its section, [1] its key. */
static const char *const *key_names(const ProvIni *ini, size_t i) {
        return (const char *const *) ((const char *) ini->keys + i * ini->key_size);
}

int prov_ini_key(ProvIni *ini, const char *section, unsigned line, const char *key, size_t *ret_index) {
        for (size_t i = 0; i < ini->n_keys; i++) {
                const char *const *names = key_names(ini, i);

                if (!streq(names[0], section) || !streq(names[1], key))
                        continue;
                if (ini->key_lines[i] > 0)
                        return prov_ini_error(ini, line, "duplicate key '%s' in [%s] (first set on line %u)", key,
                                              section, ini->key_lines[i]);
                ini->key_lines[i] = line;
                *ret_index = i;
                return 0;
        }
        return prov_ini_error(ini, line, "unknown key '%.64s' in [%s]", key, section);
}

unsigned prov_ini_key_line(const ProvIni *ini, const char *key) {
        for (size_t i = 0; i < ini->n_keys; i++)
                if (streq(key_names(ini, i)[1], key))
                        return ini->key_lines[i];
        return 0;
}

int prov_ini_load(ProvIni *ini, const char *text, size_t size, char **ret_error) {
        _cleanup_free_ char *buf = NULL;
        int r = 0;

        if (text) {
                buf = malloc(size + 1);
                if (!buf)
                        return -ENOMEM;
                memcpy(buf, text, size);
                buf[size] = 0;
        } else
                r = prov_ini_read_file(ini, &buf, &size);
        if (r >= 0)
                r = prov_ini_parse(ini, buf, size);
        if (r >= 0 && ini->validate)
                r = ini->validate(ini);
        if (r < 0 && ret_error && ini->error)
                *ret_error = TAKE_PTR(ini->error);
        free(ini->error);
        ini->error = NULL;
        return r;
}

int prov_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *ret) {
        unsigned long long v;
        char *end;

        if (!s[0])
                return -EINVAL;
        for (const char *c = s; *c; c++)
                if (*c < '0' || *c > '9')
                        return -EINVAL;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v < min || v > max)
                return -ERANGE;
        *ret = (unsigned long) v;
        return 0;
}

int prov_ini_set_string(char **field, const char *v) {
        char *copy = NULL;

        if (v) {
                copy = strdup(v);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

int prov_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "1", "on" };
        static const char *const no[] = { "no", "false", "0", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}
