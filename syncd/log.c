/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static int use_journal = -1; /* -1: not decided yet */

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_target_journal(bool journal) {
        use_journal = journal;
}

/* Our stderr goes to the journal when systemd says so in JOURNAL_STREAM ("DEV:INO") and the
 * device and inode still match fd 2 (they would not if stderr was redirected since). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_open(void) {
        if (use_journal < 0)
                use_journal = stderr_is_journal();
}

const char *prov_safe(const char *s, ProvSafeBuf *buf) {
        char *p = buf->s;
        size_t n = 0;

        if (!s)
                return "(null)";
        for (; *s && n < PROV_SAFE_MAX; s++, n++) {
                unsigned char c = (unsigned char) *s;
                if (c >= 0x20 && c < 0x7f && c != '\\')
                        *p++ = (char) c;
                else
                        p += sprintf(p, "\\x%02x", c);
        }
        if (*s) {
                memcpy(p, "...", 3);
                p += 3;
        }
        *p = '\0';
        return buf->s;
}

int log_internal(int level, int error, const char *user, int64_t uid, const char *event, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* Let %m in the format refer to the error that is being logged. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        log_open();
        if (use_journal > 0) {
                char uidbuf[32];
                snprintf(uidbuf, sizeof(uidbuf), "%lld", (long long) uid);
                if (user)
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=%s", program_invocation_short_name,
                                        "PROV_USER=%s", user, "PROV_UID=%s", uidbuf,
                                        "PROV_EVENT=%s", event ? event : "", NULL);
                else if (error)
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=%s", program_invocation_short_name,
                                        "ERRNO=%i", error, NULL);
                else
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=%s", program_invocation_short_name, NULL);
        } else
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg);

        errno = saved;
        return -error;
}
