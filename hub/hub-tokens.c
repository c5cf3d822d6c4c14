/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub-tokens.h"
#include "prov-ini.h"
#include "hub-util.h"

/* A token file is a handful of lines; anything bigger is not one. */
#define TOKEN_FILE_MAX (1024 * 1024)

typedef struct HubTokenEntry {
        char name[HUB_TOKEN_NAME_MAX + 1];
        uint8_t hash[32];
        bool shared; /* a host token many hosts may use: every line but `NAME sha256:HEX bind` */
        unsigned line;
} HubTokenEntry;

typedef struct HubTokenFile {
        char *path;
        /* What was loaded: the file's identity when read (loaded = false: never, or failed). */
        bool loaded;
        dev_t dev;
        ino_t ino;
        off_t size;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec mtime, ctime; /* ctime: a chmod or chown changes what the file may grant */
        HubTokenEntry *entries;
        size_t n_entries;
} HubTokenFile;

struct HubTokens {
        HubTokenFile files[_HUB_ROLE_MAX];
        uint64_t generation; /* counts the refreshes that changed a file's tokens */
};

_printf_(2, 3)
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error || *ret_error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return 0;
}

bool hub_token_name_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > HUB_TOKEN_NAME_MAX || name[0] == '-' || name[0] == '.')
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '.' || *c == '_' || *c == '-' || *c == '@'))
                        return false;
        return true;
}

int hub_sha256_hex(const void *data, size_t len, char ret[static 65]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t d[32];

        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d) < 0)
                return -EIO;
        for (size_t i = 0; i < sizeof(d); i++) {
                ret[2 * i] = hex[d[i] >> 4];
                ret[2 * i + 1] = hex[d[i] & 15];
        }
        ret[64] = 0;
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int entry_cmp(const void *a, const void *b) {
        const HubTokenEntry *x = *(const HubTokenEntry *const *) a, *y = *(const HubTokenEntry *const *) b;
        int c = strcmp(x->name, y->name);

        return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Names must be unique: sorted by name and line, a repeated name sits next to its first line. The
 * error names the first line (in file order) that repeats a name. A file of 10,000 per-host
 * tokens is checked in n log n comparisons, not n^2 / 2 (50 million at each reload). */
static int check_duplicates(const HubTokenEntry *entries, size_t n, char **ret_error) {
        _cleanup_free_ const HubTokenEntry **sorted = NULL;
        const HubTokenEntry *dup = NULL;

        if (n < 2)
                return 0;
        sorted = malloc(n * sizeof(*sorted));
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = &entries[i];
        qsort(sorted, n, sizeof(*sorted), entry_cmp);
        for (size_t i = 1; i < n; i++)
                if (streq(sorted[i - 1]->name, sorted[i]->name) && (!dup || sorted[i]->line < dup->line))
                        dup = sorted[i];
        if (dup)
                return set_error(ret_error, "line %u: duplicate name '%s'", dup->line, dup->name), -EBADMSG;
        return 0;
}

/* Parses a token file's text into entries. Every line is a comment, blank, or `NAME
 * sha256:HEX` (a host token's optionally followed by `bind`); anything else fails the whole file, since a half-read file would quietly lock
 * out whoever is on the lines that were skipped (or worse, were meant to be removed). */
static int parse_text(const char *text, size_t size, HubTokenEntry **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ HubTokenEntry *entries = NULL;
        size_t n = 0, cap = 0;
        unsigned line = 0;
        int r;

        for (const char *p = text, *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char buf[256], name[HUB_TOKEN_NAME_MAX + 2], hexs[80], option[8], extra[2];
                int fields;
                HubTokenEntry *e;
                char *l;

                line++;
                if (len >= sizeof(buf))
                        return set_error(ret_error, "line %u is too long", line), -EBADMSG;
                memcpy(buf, p, len);
                buf[len] = 0;
                p += len + 1;
                if (memchr(buf, 0, len))
                        return set_error(ret_error, "line %u: NUL byte", line), -EBADMSG;

                l = buf + strspn(buf, " \t\r");
                if (!l[0] || l[0] == '#' || l[0] == '\r')
                        continue;

                fields = sscanf(l, "%65s %79s %7s %1s", name, hexs, option, extra);
                if (fields < 2 || fields > 3 || (fields == 3 && !streq(option, "bind")) ||
                    !hub_token_name_valid(name) || strncmp(hexs, "sha256:", 7) != 0 || strlen(hexs + 7) != 64)
                        return set_error(ret_error, "line %u is not 'NAME sha256:HEX' or 'NAME sha256:HEX bind'", line),
                               -EBADMSG;

                if (prov_grow((void **) &entries, &cap, n + 1, sizeof(*entries)) < 0)
                        return -ENOMEM;
                e = &entries[n];
                memcpy(e->name, name, strlen(name) + 1);
                e->shared = fields == 2;
                e->line = line;
                for (size_t i = 0; i < 32; i++) {
                        int hi = unhex(hexs[7 + 2 * i]), lo = unhex(hexs[7 + 2 * i + 1]);

                        if (hi < 0 || lo < 0)
                                return set_error(ret_error, "line %u: the hash is not hexadecimal", line), -EBADMSG;
                        e->hash[i] = (uint8_t) (hi << 4 | lo);
                }
                n++;
        }

        r = check_duplicates(entries, n, ret_error);
        if (r < 0)
                return r;
        if (ret)
                *ret = TAKE_PTR(entries);
        *ret_n = n;
        return 0;
}

int hub_tokens_parse_text(const char *text, size_t size, size_t *ret_n, char **ret_error) {
        return parse_text(text, size, NULL, ret_n, ret_error);
}

int hub_tokens_check_file(int fd, char **ret_error) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return set_error(ret_error, "not a regular file"), -EPERM;
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return set_error(ret_error, "owned by uid %u, not by root or uid %u", (unsigned) st.st_uid,
                                 (unsigned) geteuid()),
                       -EPERM;
        if (st.st_mode & (S_IRWXO | S_IWGRP))
                return set_error(ret_error, "mode %04o gives access to others (chmod 0600 it)",
                                 (unsigned) (st.st_mode & 07777)),
                       -EPERM;
        return 0;
}

int hub_tokens_new(char *const paths[_HUB_ROLE_MAX], HubTokens **ret) {
        _cleanup_(hub_tokens_freep) HubTokens *t = NULL;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < _HUB_ROLE_MAX; i++)
                if (paths[i]) {
                        t->files[i].path = strdup(paths[i]);
                        if (!t->files[i].path)
                                return -ENOMEM;
                }
        *ret = TAKE_PTR(t);
        return 0;
}

static void file_clear(HubTokenFile *f) {
        if (f->entries)
                explicit_bzero(f->entries, f->n_entries * sizeof(*f->entries));
        free(f->entries);
        f->entries = NULL;
        f->n_entries = 0;
        f->loaded = false;
}

HubTokens *hub_tokens_free(HubTokens *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < _HUB_ROLE_MAX; i++) {
                file_clear(&t->files[i]);
                free(t->files[i].path);
        }
        free(t);
        return NULL;
}

/* Re-reads one file when its identity changed. Missing: no tokens, not an error (the role is
 * simply not in use yet). Any failure: no tokens of the role. 1 (or a failure) when its tokens
 * may have changed, 0 when not. */
static int file_refresh(HubTokenFile *f, char **ret_error) {
        _cleanup_free_ HubTokenEntry *entries = NULL;
        _cleanup_free_ char *text = NULL, *msg = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t size, n;
        int r;

        if (!f->path)
                return 0;

        if (stat(f->path, &st) < 0) {
                if (errno != ENOENT) {
                        r = negative_errno();
                        file_clear(f);
                        return set_error(ret_error, "%s: %s", f->path, strerror(-r)), r;
                }
                if (!f->loaded)
                        return 0;
                file_clear(f);
                return 1;
        }
        if (f->loaded && st.st_dev == f->dev && st.st_mode == f->mode && st.st_uid == f->uid && st.st_gid == f->gid && st.st_ino == f->ino && st.st_size == f->size &&
            st.st_mtim.tv_sec == f->mtime.tv_sec && st.st_mtim.tv_nsec == f->mtime.tv_nsec)
                return 0;

        file_clear(f);
        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0) {
                r = negative_errno();
                if (r == -ENOENT)
                        return 1;
                return set_error(ret_error, "%s: %s", f->path, strerror(-r)), r;
        }
        r = hub_tokens_check_file(fd, &msg);
        if (r < 0)
                return set_error(ret_error, "%s: %s", f->path, msg ?: strerror(-r)), r;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        r = prov_read_bounded(fd, TOKEN_FILE_MAX, &text, &size);
        if (r < 0)
                return set_error(ret_error, "%s: %s", f->path, strerror(-r)), r;
        r = parse_text(text, size, &entries, &n, &msg);
        explicit_bzero(text, size);
        if (r < 0)
                return set_error(ret_error, "%s: %s", f->path, msg ?: strerror(-r)), r;

        f->entries = TAKE_PTR(entries);
        f->n_entries = n;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
        f->ctime = st.st_ctim;
        f->mode = st.st_mode;
        f->uid = st.st_uid;
        f->gid = st.st_gid;
        f->loaded = true;
        return 1;
}

int hub_tokens_refresh(HubTokens *t, char **ret_error) {
        int ret = 0;

        for (size_t i = 0; i < _HUB_ROLE_MAX; i++) {
                bool was_loaded = t->files[i].loaded;
                int r = file_refresh(&t->files[i], ret_error);

                if (r > 0 || (r < 0 && was_loaded))
                        t->generation++;
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

uint64_t hub_tokens_generation(const HubTokens *t) {
        return t ? t->generation : 0;
}

size_t hub_tokens_count(const HubTokens *t, HubRole role) {
        if (!t || role < 0 || role >= _HUB_ROLE_MAX)
                return 0;
        return t->files[role].n_entries;
}

int hub_tokens_find(const HubTokens *t, HubRole role, const char *name, bool *ret_shared) {
        if (!t || role < 0 || role >= _HUB_ROLE_MAX || !name)
                return -EINVAL;
        for (size_t j = 0; j < t->files[role].n_entries; j++)
                if (streq(t->files[role].entries[j].name, name)) {
                        if (ret_shared)
                                *ret_shared = t->files[role].entries[j].shared;
                        return 0;
                }
        return -ENOENT;
}

int hub_tokens_check(const HubTokens *t, const char *token, size_t len, HubRole *ret_role, const char **ret_name) {
        const HubTokenEntry *found = NULL;
        HubRole found_role = HUB_ROLE_SCIM;
        uint8_t d[32];

        if (!t || !token || len == 0 || len > 4096)
                return -EACCES;
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, d) < 0)
                return -EACCES;

        /* Every hash is compared in full, whichever matches: the time taken tells nothing
         * about which line, or how much of a hash, matched. */
        for (size_t i = 0; i < _HUB_ROLE_MAX; i++)
                for (size_t j = 0; j < t->files[i].n_entries; j++) {
                        const HubTokenEntry *e = &t->files[i].entries[j];
                        uint8_t diff = 0;

                        for (size_t k = 0; k < sizeof(d); k++)
                                diff |= (uint8_t) (d[k] ^ e->hash[k]);
                        if (diff == 0 && !found) {
                                found = e;
                                found_role = (HubRole) i;
                        }
                }
        explicit_bzero(d, sizeof(d));
        if (!found)
                return -EACCES;
        if (ret_role)
                *ret_role = found_role;
        if (ret_name)
                *ret_name = found->name;
        return 0;
}

bool hub_tokens_hash_loaded(const HubTokens *t, HubRole role, const uint8_t hash[static 32]) {
        uint8_t found = 0;

        if (!t || (unsigned) role >= _HUB_ROLE_MAX)
                return false;
        for (size_t j = 0; j < t->files[role].n_entries; j++) {
                uint8_t diff = 0;

                for (size_t k = 0; k < 32; k++)
                        diff |= (uint8_t) (hash[k] ^ t->files[role].entries[j].hash[k]);
                found |= (uint8_t) (diff == 0);
        }
        return found != 0;
}

/* Hands a file that root just created to the hub's system user, which reads it. */
static int give_to_hub_user(int fd) {
        struct passwd *pw;

        if (geteuid() != 0)
                return 0;
        pw = getpwnam(HUB_SYSTEM_USER);
        if (pw && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
                return negative_errno();
        return 0;
}

static int write_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, s, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

int hub_token_new(const char *path, const char *name, bool bind, char **ret_token, char **ret_error) {
        _cleanup_free_ char *text = NULL, *msg = NULL, *line = NULL;
        _cleanup_close_ int fd = -1;
        char hexd[65], token[HUB_TOKEN_LENGTH + 1];
        uint8_t raw[32];
        bool created = false;
        size_t size, n;
        char *copy;
        int r;

        if (!path || !ret_token)
                return -EINVAL;
        if (!hub_token_name_valid(name))
                return set_error(ret_error, "invalid token name '%.64s' (1..64 of A-Z a-z 0-9 . _ @ -)", name ?: ""),
                       -EINVAL;

        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
        if (fd >= 0)
                created = true;
        else if (errno == EEXIST)
                fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0) {
                r = negative_errno();
                return set_error(ret_error, "%s: %s", path, strerror(-r)), r;
        }
        /* Two token-new at once must not both pass the duplicate check. */
        if (flock(fd, LOCK_EX) < 0)
                return negative_errno();
        if (created) {
                /* 0600 whatever the umask said */
                if (fchmod(fd, 0600) < 0 || give_to_hub_user(fd) < 0) {
                        r = negative_errno();
                        return set_error(ret_error, "%s: %s", path, strerror(-r)), r;
                }
        }

        r = hub_tokens_check_file(fd, &msg);
        if (r < 0)
                return set_error(ret_error, "%s: %s", path, msg ?: strerror(-r)), r;
        r = prov_read_bounded(fd, TOKEN_FILE_MAX, &text, &size);
        if (r < 0)
                return set_error(ret_error, "%s: %s", path, strerror(-r)), r;
        r = parse_text(text, size, NULL, &n, &msg);
        if (r < 0)
                return set_error(ret_error, "%s: %s", path, msg ?: strerror(-r)), r;
        for (const char *p = text; p && *p;) {
                const char *l = p + strspn(p, " \t"), *e = strchr(p, '\n');
                size_t len = strlen(name);

                if (strncmp(l, name, len) == 0 && (l[len] == ' ' || l[len] == '\t'))
                        return set_error(ret_error, "%s: a token named '%s' exists already", path, name), -EEXIST;
                p = e ? e + 1 : NULL;
        }

        r = hub_random_bytes(raw, sizeof(raw));
        if (r < 0)
                return r;
        memcpy(token, HUB_TOKEN_PREFIX, strlen(HUB_TOKEN_PREFIX));
        hub_base64url(raw, sizeof(raw), token + strlen(HUB_TOKEN_PREFIX));
        explicit_bzero(raw, sizeof(raw));
        r = hub_sha256_hex(token, strlen(token), hexd);
        if (r < 0)
                return r;

        if (asprintf(&line, "%s%s sha256:%s%s\n", size > 0 && text[size - 1] != '\n' ? "\n" : "", name, hexd,
                     bind ? " bind" : "") < 0)
                return -ENOMEM;
        r = write_all(fd, line, strlen(line));
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0) {
                explicit_bzero(token, sizeof(token));
                return set_error(ret_error, "%s: %s", path, strerror(-r)), r;
        }

        copy = strdup(token);
        explicit_bzero(token, sizeof(token));
        if (!copy)
                return -ENOMEM;
        *ret_token = copy;
        return 0;
}
