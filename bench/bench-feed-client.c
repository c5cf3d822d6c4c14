/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The fleet simulator of bench/bench-feed.py: COUNT hosts each holding one
 * GET /v1/feed?since=SINCE (Prefer: wait=WAIT, Connection: close) on 127.0.0.1:PORT, in plain HTTP
 * or, with CAFILE, TLS (GnuTLS, the hub's certificate checked against CAFILE). A C client on one
 * epoll set, so that reading 10,000 answers costs the machine little beside the hub: the Python
 * simulator spent more CPU decrypting them than the hub did encrypting them.
 *
 *   bench-feed-client PORT SINCE COUNT TOKEN WAIT [CAFILE]
 *
 * Connects and sends the COUNT requests (one at a time, each after its handshake), prints
 * "ready" on stdout, then reads every answer: an answer is had when its headers and its
 * Content-Length bytes of body are read (or, without one, at the end of the connection) and its
 * body parsed (status 200, "seq":N). Then prints "cpu NS", the CPU time it spent on the answers,
 * and one line per host, "MONOTONIC_NS SEQ" (SEQ -1:
 * no valid answer), in the order they completed, with CLOCK_MONOTONIC (Python's
 * time.monotonic()) so that the driver subtracts its own start. Exits 0 when every host has its
 * answer (or failed), 1 on a setup failure. */

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX (64 * 1024)
#define GIVE_UP_SEC 120

typedef struct Host {
        int fd;
        gnutls_session_t tls;
        char *buf;
        size_t len;
        bool done;
} Host;

typedef struct Done {
        uint64_t ns;
        long long seq;
} Done;

static uint64_t clock_ns(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* The answer's seq when it is whole (status 200 and a body with "seq":N), -1 when it is whole
 * but not that; 0 (and *whole false) while more is to come. at_end: the connection ended. */
static long long parse(const Host *h, bool at_end, bool *whole) {
        const char *end, *cl, *seq;
        size_t head, body;

        *whole = at_end;
        end = memmem(h->buf, h->len, "\r\n\r\n", 4);
        if (!end)
                return -1;
        head = (size_t) (end - h->buf) + 4;
        body = h->len - head;
        cl = memmem(h->buf, head, "\r\nContent-Length:", 17);
        if (cl && !at_end) {
                if (body < strtoull(cl + 17, NULL, 10))
                        return 0;
                *whole = true;
        }
        if (!*whole)
                return 0;
        if (strncmp(h->buf, "HTTP/1.1 200 ", 13) != 0)
                return -1;
        seq = memmem(h->buf + head, body, "\"seq\":", 6);
        return seq ? strtoll(seq + 6, NULL, 10) : -1;
}

static int hold(Host *h, int port, const char *req, gnutls_certificate_credentials_t cred) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        size_t n = strlen(req);
        int r;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (h->fd < 0 || connect(h->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (!cred)
                return write(h->fd, req, n) == (ssize_t) n ? 0 : -EIO;
        if (gnutls_init(&h->tls, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(h->tls) < 0 ||
            gnutls_credentials_set(h->tls, GNUTLS_CRD_CERTIFICATE, cred) < 0)
                return -ENOMEM;
        gnutls_session_set_verify_cert(h->tls, NULL, 0);
        gnutls_transport_set_int(h->tls, h->fd);
        do
                r = gnutls_handshake(h->tls);
        while (r < 0 && !gnutls_error_is_fatal(r));
        if (r < 0) {
                fprintf(stderr, "TLS handshake failed: %s\n", gnutls_strerror(r));
                return -EPROTO;
        }
        return gnutls_record_send(h->tls, req, n) == (ssize_t) n ? 0 : -EIO;
}

/* Reads what is there; true when the host is done (answer whole, or the connection failed). */
static bool drain(Host *h, Done *d) {
        for (;;) {
                ssize_t n;
                bool whole;
                long long seq;

                if (h->len == ANSWER_MAX) {
                        d->seq = -1;
                        return true;
                }
                if (h->tls)
                        n = gnutls_record_recv(h->tls, h->buf + h->len, ANSWER_MAX - h->len);
                else {
                        n = read(h->fd, h->buf + h->len, ANSWER_MAX - h->len);
                        if (n < 0)
                                n = errno == EAGAIN ? GNUTLS_E_AGAIN : errno == EINTR ? GNUTLS_E_INTERRUPTED : -1;
                }
                if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                        return false;
                if (n > 0)
                        h->len += (size_t) n;
                seq = parse(h, n <= 0, &whole);
                if (whole) {
                        d->ns = clock_ns(CLOCK_MONOTONIC);
                        d->seq = seq;
                        return true;
                }
        }
}

int main(int argc, char **argv) {
        gnutls_certificate_credentials_t cred = NULL;
        struct epoll_event ev[256];
        int port, count, ep, left;
        char req[1024];
        Host *hosts;
        Done *done;
        size_t n_done = 0;
        uint64_t give_up, cpu;

        if (argc < 6) {
                fprintf(stderr, "usage: %s PORT SINCE COUNT TOKEN WAIT [CAFILE]\n", argv[0]);
                return 1;
        }
        port = atoi(argv[1]);
        count = atoi(argv[3]);
        snprintf(req, sizeof(req),
                 "GET /v1/feed?since=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "Prefer: wait=%s\r\nConnection: close\r\n\r\n",
                 argv[2], argv[4], argv[5]);
        if (argc > 6 && (gnutls_certificate_allocate_credentials(&cred) < 0 ||
                         gnutls_certificate_set_x509_trust_file(cred, argv[6], GNUTLS_X509_FMT_PEM) <= 0)) {
                fprintf(stderr, "Cannot load %s\n", argv[6]);
                return 1;
        }
        hosts = calloc((size_t) count, sizeof(Host));
        done = calloc((size_t) count, sizeof(Done));
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (!hosts || !done || ep < 0)
                return 1;
        for (int i = 0; i < count; i++) {
                Host *h = &hosts[i];
                /* Edge-triggered: a host done is not reported again by the end of its connection. */
                struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.ptr = h };
                int r = hold(h, port, req, cred);

                if (r < 0) {
                        fprintf(stderr, "Host %d could not send its request: %s\n", i, strerror(-r));
                        return 1;
                }
                h->buf = malloc(ANSWER_MAX);
                if (!h->buf || fcntl(h->fd, F_SETFL, O_NONBLOCK) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &e) < 0)
                        return 1;
        }
        printf("ready\n");
        fflush(stdout);
        cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

        give_up = clock_ns(CLOCK_MONOTONIC) + GIVE_UP_SEC * 1000000000ULL;
        for (left = count; left > 0 && clock_ns(CLOCK_MONOTONIC) < give_up;) {
                int n = epoll_wait(ep, ev, 256, 1000);

                for (int i = 0; i < n; i++) {
                        Host *h = ev[i].data.ptr;

                        if (h->done || !drain(h, &done[n_done]))
                                continue;
                        h->done = true;
                        n_done++;
                        left--;
                }
        }
        cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu;
        /* Closed once all have their answer: what is timed is the hub's fan-out, not our teardown. */
        for (int i = 0; i < count; i++) {
                if (hosts[i].tls)
                        gnutls_deinit(hosts[i].tls);
                close(hosts[i].fd);
                free(hosts[i].buf);
        }
        printf("cpu %llu\n", (unsigned long long) cpu);
        for (size_t i = 0; i < n_done; i++)
                printf("%llu %lld\n", (unsigned long long) done[i].ns, done[i].seq);
        return 0;
}
