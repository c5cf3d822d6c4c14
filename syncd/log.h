/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging of provision-syncd and provisionctl: to the journal with structured fields when
 * stderr is connected to it (JOURNAL_STREAM), to stderr otherwise. Every log_*_errno()
 * returns a negative errno so that "log and fail" is one line. */

#include <syslog.h>

#include "prov-util.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Forces plain stderr output (tools such as provisionctl) or journal output. */
void log_set_target_journal(bool journal);
void log_open(void);

int log_internal(int level, int error, const char *user, int64_t uid, const char *event, const char *fmt, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, -1, NULL, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
/* An account event: the journal gets PROV_USER=, PROV_UID= and PROV_EVENT= fields. */
#define log_user(level, user, uid, event, ...) log_internal((level), 0, (user), (uid), (event), __VA_ARGS__)

/* Renders an untrusted string for a log line: at most 64 characters, anything outside
 * printable ASCII escaped as \xNN, so that a hostile directory cannot forge log lines. */
#define PROV_SAFE_MAX 64
typedef struct { char s[PROV_SAFE_MAX * 4 + 4]; } ProvSafeBuf;
const char *prov_safe(const char *s, ProvSafeBuf *buf);
#define SAFE(s) prov_safe((s), &(ProvSafeBuf) {})

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
