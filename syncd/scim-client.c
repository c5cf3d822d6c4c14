/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SCIM client's HTTP side (scim-client-internal.h). */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "idhash.h"
#include "prov-time.h"
#include "scim-client-internal.h"
#include "scim-source.h"

#define CONNECT_TIMEOUT_MAX_SEC 10
/* A Retry-After beyond a day is a server bug; never wait longer than that. */
#define RETRY_AFTER_MAX_SEC 86400
/* The longest one wait inside a scan: a server asking for more is asked again after this long
 * (it may have a shorter answer by then), as long as the retry budget lasts. */
#define RETRY_WAIT_MAX_SEC 120
/* 429/503 without a Retry-After we can read: 0.5 s, 1 s, 2 s ... up to 30 s, plus up to a
 * quarter of that of jitter, so that a fleet of hosts does not come back in step. */
#define BACKOFF_FIRST_USEC (UINT64_C(500) * 1000)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

/* curl_global_init() is not thread-safe and must run once per process. */
static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------- token */

/* Reads a secret from an open fd: at most PROV_SCIM_TOKEN_MAX bytes, trailing whitespace
 * stripped, only visible ASCII (anything else could inject headers). Wipes what it drops. */
static int read_token_fd(int fd, char **ret) {
        char *buf;
        size_t len = 0;
        int r = 0;

        buf = malloc(PROV_SCIM_TOKEN_MAX + 2);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                ssize_t n = read(fd, buf + len, PROV_SCIM_TOKEN_MAX + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > PROV_SCIM_TOKEN_MAX) {
                        r = -EFBIG;
                        goto fail;
                }
        }
        while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
                len--;
        buf[len] = '\0';
        if (len == 0) {
                r = -EINVAL;
                goto fail;
        }
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) buf[i] <= 0x20 || (unsigned char) buf[i] >= 0x7f) {
                        r = -EINVAL;
                        goto fail;
                }
        *ret = buf;
        return 0;
fail:
        explicit_bzero(buf, PROV_SCIM_TOKEN_MAX + 2);
        free(buf);
        return r;
}

/* The bearer token: a systemd credential if configured and present (systemd already made it
 * private to us), else token_file with the ownership and mode rules of the header. */
static int read_token(const ProvConfig *config, char **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *cred_path = NULL;
        const char *creds = secure_getenv("CREDENTIALS_DIRECTORY");
        struct stat st;

        if (config->token_credential && creds && creds[0] == '/') {
                const char *name = config->token_credential;

                if (!name[0] || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                        return -EINVAL;
                if (asprintf(&cred_path, "%s/%s", creds, name) < 0)
                        return -ENOMEM;
                fd = open(cred_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                if (fd < 0)
                        return negative_errno();
                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (!S_ISREG(st.st_mode))
                        return -EPERM;
                return read_token_fd(fd, ret);
        }

        if (!config->token_file)
                return -ENOKEY;

        fd = open(config->token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return errno == ELOOP ? -EPERM : negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode)) {
                log_debug("Token file is not a regular file.");
                return -EPERM;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                log_debug("Token file is owned by uid %u, neither root nor us.", (unsigned) st.st_uid);
                return -EPERM;
        }
        if (st.st_mode & 0077) {
                log_debug("Token file has mode %04o, group or others may read it.", (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return read_token_fd(fd, ret);
}

/* ---------------------------------------------------------------- URL */

static bool host_is_loopback(const char *host) {
        struct in_addr a4;
        struct in6_addr a6;
        char buf[INET6_ADDRSTRLEN + 2];
        size_t l = strlen(host);

        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (l >= 2 && l < sizeof(buf) && host[0] == '[' && host[l - 1] == ']') {
                memcpy(buf, host + 1, l - 2);
                buf[l - 2] = '\0';
                return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        return false;
}

/* Accepts https, and plain http only when allowed and only to a loopback host: a token sent in
 * clear over a real network is never what an administrator wants, even with the flag set. */
static int check_url(const char *url, bool allow_http) {
        CURLU *u;
        char *scheme = NULL, *host = NULL;
        int r = -EPROTONOSUPPORT;

        if (!url)
                return -EINVAL;
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                r = -EINVAL;
                goto finish;
        }
        if (strcasecmp(scheme, "https") == 0)
                r = 0;
        else if (strcasecmp(scheme, "http") == 0 && allow_http && host_is_loopback(host))
                r = 0;
finish:
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

/* A proxy sees the requests of a plain http:// source in clear, bearer token included: that is
 * accepted only when the proxy is on the loopback interface too (a test setup). Through an
 * https:// source the proxy only relays a TLS tunnel. */
static int check_proxy(const char *url, const char *proxy) {
        CURLU *u;
        char *host = NULL;
        int r = -EPROTONOSUPPORT;

        if (!proxy)
                return 0;
        if (strncasecmp(url, "https://", strlen("https://")) == 0)
                return 0;
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, proxy, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                r = -EINVAL;
                goto finish;
        }
        if (host_is_loopback(host))
                r = 0;
finish:
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

/* ---------------------------------------------------------------- client */

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Body *b = userdata;
        size_t n = size * nmemb;

        /* Refusing here, not after the transfer, is what bounds memory against a hostile server. */
        if (n > b->max - b->len) {
                b->too_big = true;
                return 0;
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64 * 1024;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                if (cap > b->max + 1)
                        cap = b->max + 1;
                p = realloc(b->data, cap);
                if (!p) {
                        b->oom = true;
                        return 0;
                }
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, ptr, n);
        b->len += n;
        b->data[b->len] = '\0';
        return n;
}

/* Keeps the Retry-After header of the response; curl calls this once per header line. */
static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        ProvScimClient *c = userdata;
        size_t n = size * nmemb, k = strlen("Retry-After:");

        if (n > k && strncasecmp(ptr, "Retry-After:", k) == 0) {
                const char *v = ptr + k;
                size_t l = n - k;

                while (l > 0 && (*v == ' ' || *v == '\t'))
                        v++, l--;
                while (l > 0 && strchr(" \t\r\n", v[l - 1]))
                        l--;
                if (l >= sizeof(c->retry_after_hdr))
                        l = sizeof(c->retry_after_hdr) - 1;
                memcpy(c->retry_after_hdr, v, l);
                c->retry_after_hdr[l] = '\0';
        }
        return n;
}

/* The seconds the Retry-After of the last response asks for (delta-seconds or an HTTP date, at
 * most RETRY_AFTER_MAX_SEC), or -1 when it has none we can read. */
static int64_t retry_after_sec(const ProvScimClient *c) {
        const char *v = c->retry_after_hdr;
        int64_t sec;

        if (!v[0])
                return -1;
        if (strspn(v, "0123456789") == strlen(v)) {
                sec = strlen(v) > 6 ? RETRY_AFTER_MAX_SEC : strtoll(v, NULL, 10);
        } else {
                time_t t = curl_getdate(v, NULL);

                if (t == (time_t) -1)
                        return -1;
                sec = (int64_t) t - (int64_t) time(NULL);
                if (sec < 0)
                        sec = 0;
        }
        return sec > RETRY_AFTER_MAX_SEC ? RETRY_AFTER_MAX_SEC : sec;
}

/* Turns the Retry-After of the last response into a monotonic deadline; an unparsable value is
 * ignored and the caller's own backoff applies. */
static void record_retry_after(ProvScimClient *c) {
        int64_t sec = retry_after_sec(c);

        if (sec >= 0)
                c->retry_after = prov_now(CLOCK_MONOTONIC) + (uint64_t) sec * USEC_PER_SEC;
}

/* libcurl creates its sockets without SOCK_CLOEXEC: ours are, so that no program the daemon
 * starts (hooks, nscd) inherits the connection to the source even if it escaped the fd cleanup
 * after fork(). */
static curl_socket_t open_socket_cloexec(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        (void) clientp;
        (void) purpose;
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void wipe_headers(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                if (i->data)
                        explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

ProvScimClient *prov_scim_client_free(ProvScimClient *c) {
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        wipe_headers(c->headers);
        free(c->base);
        free(c);
        return NULL;
}

int prov_scim_client_set_limits(ProvScimClient *c, const ProvScimLimits *limits) {
        ProvScimLimits l = limits ? *limits : (ProvScimLimits) {};

        if (!c)
                return -EINVAL;
        /* l.count == 0: discovered from /ServiceProviderConfig on each full scan */
        if (l.max_pages == 0)
                l.max_pages = PROV_SCIM_DEFAULT_MAX_PAGES;
        if (l.max_response_bytes == 0)
                l.max_response_bytes = PROV_SCIM_DEFAULT_MAX_RESPONSE_BYTES;
        if (l.max_total_bytes == 0)
                l.max_total_bytes = PROV_SCIM_DEFAULT_MAX_TOTAL_BYTES;
        if (l.max_response_bytes > SIZE_MAX / 2)
                return -EINVAL;
        c->limits = l;
        return 0;
}

int prov_scim_client_new(const ProvConfig *config, ProvScimClient **ret) {
        _cleanup_(prov_scim_client_freep) ProvScimClient *c = NULL;
        char *token = NULL, *auth = NULL;
        struct curl_slist *l;
        size_t n;
        long timeout;
        int r;

        if (!config || !ret)
                return -EINVAL;

        r = check_url(config->url, config->allow_insecure_http);
        if (r < 0)
                return r;
        r = check_proxy(config->url, config->proxy);
        if (r < 0)
                return r;

        (void) pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK)
                return -ENOMEM;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        (void) prov_scim_client_set_limits(c, NULL);
        c->retry_budget = (uint64_t) config->retry_budget_sec * USEC_PER_SEC;
        c->budget_left = c->retry_budget;
        c->popts = (ProvScimParseOptions) {
                .uid_attribute = config->uid_attribute,
                .gid_attribute = config->gid_attribute,
                .ssh_keys_attribute = config->ssh_keys_attribute,
        };

        c->base = strdup(config->url);
        if (!c->base)
                return -ENOMEM;
        n = strlen(c->base);
        while (n > 0 && c->base[n - 1] == '/')
                c->base[--n] = '\0';

        r = read_token(config, &token);
        if (r < 0)
                return r;
        r = asprintf(&auth, "Authorization: Bearer %s", token);
        explicit_bzero(token, strlen(token));
        free(token);
        if (r < 0)
                return -ENOMEM;
        l = curl_slist_append(NULL, "Accept: application/scim+json");
        if (l)
                c->headers = l;
        l = l ? curl_slist_append(c->headers, auth) : NULL;
        explicit_bzero(auth, strlen(auth));
        free(auth);
        if (!l)
                return -ENOMEM;

        c->curl = curl_easy_init();
        if (!c->curl)
                return -ENOMEM;

        timeout = config->timeout_sec > 0 ? (long) config->timeout_sec : 30;
        c->timeout = timeout;
#if LIBCURL_VERSION_NUM >= 0x075500
        const char *protocols = config->allow_insecure_http ? "http,https" : "https";
        if (curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK)
                return -EIO;
#else
        long protocols = CURLPROTO_HTTPS | (config->allow_insecure_http ? CURLPROTO_HTTP : 0);
        if (curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, protocols) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS, (long) CURLPROTO_HTTPS) != CURLE_OK)
                return -EIO;
#endif
        if (curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
            (config->ca_file && curl_easy_setopt(c->curl, CURLOPT_CAINFO, config->ca_file) != CURLE_OK) ||
            curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT,
                             timeout < CONNECT_TIMEOUT_MAX_SEC ? timeout : (long) CONNECT_TIMEOUT_MAX_SEC) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "provision-syncd/" PACKAGE_VERSION) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, body_write) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_OPENSOCKETFUNCTION, open_socket_cloexec) != CURLE_OK)
                return -EIO;
        /* Set either way: libcurl reads http_proxy, https_proxy, ALL_PROXY and no_proxy from the
         * environment unless told otherwise, and the bearer token must never go to a proxy
         * nobody configured here. "" means no proxy at all; an empty NOPROXY means no host
         * bypasses the configured one (no_proxy from the environment is not read either). */
        if (curl_easy_setopt(c->curl, CURLOPT_PROXY, config->proxy ?: "") != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "") != CURLE_OK)
                return -EIO;

        *ret = TAKE_PTR(c);
        return 0;
}

uint64_t prov_scim_client_retry_after(const ProvScimClient *c) {
        return c ? c->retry_after : 0;
}

/* ---------------------------------------------------------------- requests */

static int curl_to_errno(CURLcode code, const Body *b) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_USE_SSL_FAILED:
                return -EPROTO;
        case CURLE_WRITE_ERROR:
                return b->too_big ? -EFBIG : b->oom ? -ENOMEM : -EIO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        default:
                return -EIO;
        }
}

/* GET base + path [+ "?" + query]. Returns 0 with the HTTP status in *ret_status and the body
 * in *body (whatever the status), or a negative errno for a transport failure. */
/* One request: a GET, or a POST of post (post_len bytes) when post is not NULL. */
static int scim_request(ProvScimClient *c, const char *path, const char *query, const char *post, size_t post_len,
                        Body *body, long *ret_status) {
        _cleanup_free_ char *url = NULL;
        uint64_t room, start;
        long status = 0;
        CURLcode code;
        int r;

        *body = (Body) {};
        if (c->stats.bytes >= c->limits.max_total_bytes)
                return -EFBIG;
        room = c->limits.max_total_bytes - c->stats.bytes;
        body->max = (size_t) (room < c->limits.max_response_bytes ? room : c->limits.max_response_bytes);

        if (asprintf(&url, "%s%s%s%s", c->base, path, query ? "?" : "", query ?: "") < 0)
                return -ENOMEM;

        c->retry_after_hdr[0] = '\0';
        c->errbuf[0] = '\0';
        if (c->deadline > 0) {
                /* A request on someone's sign-in: whatever the configured timeout, it ends when
                 * the caller's deadline does (CURLOPT_TIMEOUT_MS wins over CURLOPT_TIMEOUT). */
                uint64_t now = prov_now(CLOCK_MONOTONIC);

                if (now >= c->deadline)
                        return -ETIMEDOUT;
                if (curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long) ((c->deadline - now + 999) / 1000)) != CURLE_OK)
                        return -EIO;
        }
        if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK ||
            (post ? curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) post_len) != CURLE_OK ||
                            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, post) != CURLE_OK
                  : curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK) ||
            curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, body) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) body->max) != CURLE_OK)
                return -EIO;

        start = prov_now(CLOCK_MONOTONIC);
        code = curl_easy_perform(c->curl);
        c->stats.requests++;
        c->stats.bytes += body->len;
        (void) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        r = curl_to_errno(code, body);

        if (post) /* the next request is a GET again, and post is the caller's */
                (void) curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        log_debug("SCIM %s %s%s%.200s: %s%ld, %zu bytes, %" PRIu64 " ms%s%s", post ? "POST" : "GET", path,
                  query ? "?" : "",
                  query ?: "", r < 0 ? "failed, status " : "status ", status, body->len,
                  (prov_now(CLOCK_MONOTONIC) - start) / 1000, r < 0 ? ": " : "",
                  r < 0 ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(code)) : "");
        if (r < 0) {
                scim_body_done(body);
                return r;
        }
        *ret_status = status;
        return 0;
}

static int scim_get(ProvScimClient *c, const char *path, const char *query, Body *body, long *ret_status) {
        return scim_request(c, path, query, NULL, 0, body, ret_status);
}

typedef struct Interrupt {
        bool (*interrupted)(void *userdata);
        void *userdata;
} Interrupt;

/* curl calls this about once a second while a request runs: a non-zero answer ends it
 * (CURLE_ABORTED_BY_CALLBACK). */
static int interrupt_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        const Interrupt *i = clientp;

        (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
        return i->interrupted(i->userdata) ? 1 : 0;
}

int prov_scim_client_get_raw(ProvScimClient *c, const char *path_query, const char *extra_header, unsigned timeout_sec,
                             bool (*interrupted)(void *userdata), void *userdata, char **ret_body, size_t *ret_len,
                             long *ret_status) {
        return prov_scim_client_request_raw(c, path_query, extra_header, NULL, 0, timeout_sec, interrupted, userdata,
                                            ret_body, ret_len, ret_status);
}

int prov_scim_client_request_raw(ProvScimClient *c, const char *path_query, const char *extra_header, const char *post,
                                 size_t post_len, unsigned timeout_sec, bool (*interrupted)(void *userdata),
                                 void *userdata, char **ret_body, size_t *ret_len, long *ret_status) {
        struct curl_slist *headers = NULL;
        Interrupt intr = { interrupted, userdata };
        Body body = {};
        long status = 0;
        int r = -ENOMEM;

        if (!c || !path_query || !ret_body || !ret_len || !ret_status)
                return -EINVAL;

        /* This request's headers: the client's (Accept, Authorization) and the extra one. */
        for (struct curl_slist *i = c->headers; i; i = i->next) {
                struct curl_slist *l = curl_slist_append(headers, i->data);
                if (!l)
                        goto finish;
                headers = l;
        }
        if (extra_header) {
                struct curl_slist *l = curl_slist_append(headers, extra_header);
                if (!l)
                        goto finish;
                headers = l;
        }
        r = -EIO;
        if (curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
            (timeout_sec > 0 && curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long) timeout_sec) != CURLE_OK) ||
            (interrupted && (curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, interrupt_cb) != CURLE_OK ||
                             curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &intr) != CURLE_OK ||
                             curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK)))
                goto finish;

        r = scim_request(c, path_query, NULL, post, post_len, &body, &status);
        if (r >= 0 && (status == 429 || status == 503))
                record_retry_after(c);
        if (r >= 0 && !body.data) {
                body.data = strdup("");
                if (!body.data)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                *ret_len = body.len;
                *ret_body = TAKE_PTR(body.data);
                *ret_status = status;
        }
finish:
        /* Back to what every other request of this client sends. */
        (void) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        (void) curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout);
        (void) curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
        wipe_headers(headers);
        scim_body_done(&body);
        return r;
}

/* Maps a non-2xx status to an errno, records Retry-After, and logs the SCIM error detail at
 * debug level (it comes from the server: prov_scim_parse_error() cleaned it). */
int scim_http_error(ProvScimClient *c, long status, const Body *b) {
        _cleanup_free_ char *detail = NULL;

        if (b->data && prov_scim_parse_error(b->data, b->len, &detail) >= 0)
                log_debug("SCIM error: %s", detail);

        switch (status) {
        case 401:
        case 403:
                log_debug("SCIM authentication failed (status %ld).", status);
                return -EACCES;
        case 404:
                return -ENOENT;
        case 429:
        case 503:
                record_retry_after(c);
                return -EBUSY;
        case 501:
                return -EOPNOTSUPP;
        default:
                return -EIO;
        }
}

/* Sleeps usec, or less when SIGTERM or SIGINT arrives meanwhile: then -ECANCELED. The daemon
 * blocks these signals and reads them through sd-event's signalfd, so a signal that ends the wait
 * stays pending here (a signalfd of our own only polls it, never reads it) and stops the daemon
 * as soon as the failed scan returns to the event loop. Where they are not blocked (--once) their
 * default action ends the process anyway. Keeps the service manager's watchdog fed meanwhile: a
 * scan may wait longer than WatchdogSec= in all. */
static int wait_interruptible(uint64_t usec) {
        _cleanup_close_ int sfd = -1;
        uint64_t deadline = prov_now(CLOCK_MONOTONIC) + usec, watchdog = 0;
        sigset_t blocked, watch;

        sigemptyset(&watch);
        if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) == 0) {
                if (sigismember(&blocked, SIGTERM) == 1)
                        sigaddset(&watch, SIGTERM);
                if (sigismember(&blocked, SIGINT) == 1)
                        sigaddset(&watch, SIGINT);
        }
        if (!sigisemptyset(&watch))
                sfd = signalfd(-1, &watch, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sd_watchdog_enabled(false, &watchdog) <= 0)
                watchdog = 0;

        for (;;) {
                struct pollfd pfd = { .fd = sfd, .events = POLLIN };
                uint64_t now = prov_now(CLOCK_MONOTONIC), slice;
                int k;

                if (now >= deadline)
                        return 0;
                slice = deadline - now;
                if (watchdog > 0 && slice > watchdog / 2)
                        slice = watchdog / 2;
                k = poll(&pfd, sfd >= 0 ? 1 : 0, (int) ((slice + 999) / 1000));
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k > 0 && (pfd.revents & POLLIN))
                        return -ECANCELED;
                if (watchdog > 0)
                        (void) sd_notify(false, "WATCHDOG=1");
        }
}

/* The wait before asking again after the attempt-th 429/503 in a row without a usable
 * Retry-After: exponential, with jitter. */
static uint64_t backoff_usec(unsigned attempt) {
        uint64_t base = attempt >= 16 ? BACKOFF_MAX_USEC : BACKOFF_FIRST_USEC << attempt, jitter = 0;

        if (base > BACKOFF_MAX_USEC)
                base = BACKOFF_MAX_USEC;
        if (getrandom(&jitter, sizeof(jitter), GRND_NONBLOCK) != sizeof(jitter))
                jitter = 0;
        return base + jitter % (base / 4 + 1);
}

/* scim_get() that waits out throttling: a 429 or 503 is asked again, the same request (the same
 * page of a walk), after the time its Retry-After names (at most RETRY_WAIT_MAX_SEC per wait) or
 * after backoff_usec() when it names none, for as long as the retry budget of the current scan
 * covers the wait. When it does not, the last 429/503 is handed back like any other status (the
 * caller's scim_http_error() makes it -EBUSY and records Retry-After for the daemon's schedule), and
 * the reason is logged with the budget's name: it is the one figure an administrator can change.
 * -ECANCELED when SIGTERM or SIGINT came during a wait. */
int scim_get_patient(ProvScimClient *c, const char *path, const char *query, Body *body,
                            long *ret_status) {
        for (unsigned attempt = 0;; attempt++) {
                uint64_t wait, started;
                int64_t ra;
                long status;
                int r;

                r = scim_get(c, path, query, body, &status);
                if (r < 0)
                        return r;
                if (status != 429 && status != 503) {
                        *ret_status = status;
                        return 0;
                }

                ra = retry_after_sec(c);
                if (ra > 0)
                        wait = (uint64_t) (ra < RETRY_WAIT_MAX_SEC ? ra : RETRY_WAIT_MAX_SEC) * USEC_PER_SEC;
                else
                        wait = backoff_usec(attempt); /* none, or "0": never a busy loop */
                if (wait > c->budget_left) {
                        log_warning("SCIM GET %s%s%.200s answered %ld%s%s%s; the retry budget of this scan "
                                    "(retry_budget = %" PRIu64 " s) has %" PRIu64 " s left, not enough to wait "
                                    "%" PRIu64 " s: giving up on the scan.",
                                    path, query ? "?" : "", query ?: "", status,
                                    ra >= 0 ? " with Retry-After: " : "", ra >= 0 ? SAFE(c->retry_after_hdr) : "",
                                    ra >= 0 ? "" : " without Retry-After", c->retry_budget / USEC_PER_SEC,
                                    c->budget_left / USEC_PER_SEC, (wait + USEC_PER_SEC - 1) / USEC_PER_SEC);
                        *ret_status = status;
                        return 0;
                }
                log_info("SCIM GET %s%s%.200s answered %ld; asking again in %" PRIu64 ".%03" PRIu64 " s (%s), %"
                         PRIu64 " s of the retry budget left.", path, query ? "?" : "", query ?: "", status,
                         wait / USEC_PER_SEC, wait % USEC_PER_SEC / 1000,
                         ra > 0 ? "Retry-After" : "backoff", (c->budget_left - wait) / USEC_PER_SEC);
                scim_body_done(body);
                started = prov_now(CLOCK_MONOTONIC);
                r = wait_interruptible(wait);
                /* What the wait really took, so that a scan never overdraws its budget. */
                wait = prov_now(CLOCK_MONOTONIC) - started;
                c->budget_left = wait < c->budget_left ? c->budget_left - wait : 0;
                c->stats.waits++;
                c->stats.waited_usec += wait;
                if (r < 0) {
                        log_info("Stopping the wait for the SCIM source: the daemon is asked to stop.");
                        return r;
                }
        }
}

/* Whether a 400 response is a SCIM "invalidFilter" error. */
bool scim_is_invalid_filter(const Body *b) {
        _cleanup_free_ char *detail = NULL;

        if (!b->data || prov_scim_parse_error(b->data, b->len, &detail) < 0)
                return false;
        return strstr(detail, "(invalidFilter)") != NULL;
}

/* GET /ServiceProviderConfig. A server without one (or with a broken one) gets the
 * conservative defaults; authentication, throttling and transport errors are real errors. */
int scim_load_service_config(ProvScimClient *c) {
        Body b = {};
        long status;
        int r;

        r = scim_get_patient(c, "/ServiceProviderConfig", NULL, &b, &status);
        if (r < 0)
                return r;
        if (status >= 200 && status < 300)
                r = prov_scim_parse_service_config(b.data ?: "", b.len, &c->spc);
        else {
                r = scim_http_error(c, status, &b);
                /* Credentials and throttling would fail the walk anyway: say so now. */
                if (r == -EACCES || r == -EBUSY) {
                        scim_body_done(&b);
                        return r;
                }
        }
        scim_body_done(&b);
        c->spc_known = r >= 0;
        if (!c->spc_known)
                c->spc = (ProvScimServiceConfig) { .index = true };
        log_debug("SCIM service provider: %s filter %s (maxResults %" PRIu64 "), cursor paging %s.",
                  c->spc_known ? "advertised" : "no usable ServiceProviderConfig,",
                  c->spc.filter_supported ? "supported" : "unsupported", c->spc.filter_max_results,
                  c->spc.cursor ? "supported" : "unsupported");
        return 0;
}

unsigned scim_page_size(const ProvScimClient *c) {
        uint64_t n = PROV_SCIM_DEFAULT_COUNT;

        if (c->limits.count > 0)
                return c->limits.count;
        if (c->spc.max_page_size > 0 && c->spc.max_page_size < n)
                n = c->spc.max_page_size;
        if (c->spc.filter_max_results > 0 && c->spc.filter_max_results < n)
                n = c->spc.filter_max_results;
        return (unsigned) n;
}

void scim_body_done(Body *b) {
        free(b->data);
        *b = (Body) {};
}
