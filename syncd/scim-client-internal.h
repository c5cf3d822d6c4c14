/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SCIM client's HTTP side (scim-client.c: token, URL checks, curl, requests, Retry-After
 * and backoff, the ServiceProviderConfig) as the fetches of scim-source.c use it. Private to
 * those two files. */

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scim-source.h"

/* RFC 7643 §3.1 leaves ids open; ours are bounded by the parser at 255 bytes. */
#define SCIM_ID_MAX 255

struct ProvScimClient {
        CURL *curl;
        char *base;                     /* base URL without trailing '/' */
        struct curl_slist *headers;     /* Accept and Authorization: wiped before they are freed */
        char errbuf[CURL_ERROR_SIZE];
        char retry_after_hdr[64];       /* Retry-After of the current response, "" if none */
        ProvScimParseOptions popts;
        ProvScimLimits limits;
        uint64_t retry_after;           /* CLOCK_MONOTONIC µs, 0 = never asked */
        uint64_t retry_budget;          /* retry_budget of the config, µs */
        uint64_t budget_left;           /* what the current scan may still spend waiting, µs */
        bool spc_known;
        bool users_endpoint_ok;         /* GET /Users answered a ListResponse once */
        ProvScimServiceConfig spc;
        ProvScimStats stats;            /* counters of the current fetch */
        uint64_t deadline;              /* CLOCK_MONOTONIC µs no request may run past; 0 = none
                                         * (prov_scim_fetch_user()) */
        long timeout;                   /* the configured timeout, seconds */
};

/* A response body, growing up to max bytes; always NUL terminated for the debug log. */
typedef struct Body {
        char *data;
        size_t len, cap, max;
        bool too_big, oom;
} Body;

void scim_body_done(Body *b);

/* GET base + path?query, waiting out 429/503 within the scan's retry budget (Retry-After, or
 * backoff with jitter); the last status is handed back like any other. -ECANCELED on SIGTERM. */
int scim_get_patient(ProvScimClient *c, const char *path, const char *query, Body *body, long *ret_status);
/* A non-2xx status as an errno (Retry-After recorded, the server's detail logged at debug). */
int scim_http_error(ProvScimClient *c, long status, const Body *b);
/* Whether a 400 response is a SCIM "invalidFilter" error. */
bool scim_is_invalid_filter(const Body *b);
/* GET /ServiceProviderConfig once per client (defaults when the server has none). */
int scim_load_service_config(ProvScimClient *c);
/* The count= of a list request: the configured page size within what the server allows. */
unsigned scim_page_size(const ProvScimClient *c);
