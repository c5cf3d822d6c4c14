/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A generic helper for the programs provision-syncd runs (nscd, hooks): prov_child_run() starts
 * one without a shell, stdin /dev/null, stdout and stderr into the log line by line, every
 * other fd closed (close_range(), else /proc/self/fd, else up to RLIMIT_NOFILE), cwd /, default
 * signal dispositions and an empty mask, in its own process group; and kills that group when it
 * runs past its timeout. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A child's output goes to the log line by line: lines are cut at PROV_CHILD_LINE_MAX, and past
 * PROV_CHILD_OUTPUT_MAX bytes the rest is read and dropped, so a chatty program cannot flood the
 * journal nor block on a full pipe. */
#define PROV_CHILD_LINE_MAX 512
#define PROV_CHILD_OUTPUT_MAX (16 * 1024)

/* Where a child's output is logged: "LABEL: LINE" as an event of that account (log_user()).
 * Fill in the first four; the rest is the helper's. */
typedef struct ProvChildLog {
        const char *user;
        uint32_t uid;
        const char *event;
        const char *label;
        char line[PROV_CHILD_LINE_MAX];
        size_t n_line;
        size_t total;
        bool truncated;
} ProvChildLog;

/* Runs path with argv and envp (as above) with its output into log (dropped when NULL) and waits
 * for it at most timeout_sec. Returns 0 with the wait status in *ret_status, -ETIME when it was
 * killed after the timeout, or -errno when it could not be started. */
int prov_child_run(const char *path, char *const argv[], char *const envp[], unsigned timeout_sec,
                   ProvChildLog *log, int *ret_status);

/* "exit status N", "killed by signal NAME" or the raw wait status, into buf. */
void prov_child_describe_status(int status, char *buf, size_t size);

/* CLOCK_MONOTONIC in ms, and the ms left until deadline (0 when passed; capped for poll()). */
uint64_t prov_now_monotonic_msec(void);
int prov_msec_left(uint64_t deadline);
