/* tls_echo_client: closed-loop load generator for TLS echo servers, the TLS
 * twin of peers/loadgen/echo_client (same flags, same result line).
 *
 *   tls_echo_client --port P [--mode echo] --conns 100 --size 64 --seconds 5
 *   tls_echo_client --port P --mode handshake --conns 100 --seconds 5
 *
 * One thread, epoll, non-blocking sockets under non-blocking SSL objects: an
 * SSL call that cannot go on says whether it waits to read or to write, and
 * the connection's epoll interest becomes exactly that until it is retried.
 * Each step runs until OpenSSL asks to wait or a message is sent, so no
 * decrypted byte is left in an SSL buffer without a readiness event still to
 * come, and no connection does more than one round trip per event.
 *
 * echo:      every connection handshakes once; the measured window starts
 *            when all have, then each sends `size` bytes, waits for the full
 *            echo (content checked), repeats.
 *            Prints  req/s=<n> p50_us=<x> p99_us=<y>
 * handshake: every connection repeatedly connects, does a full handshake
 *            (no session is ever offered for resumption), echoes one message
 *            to prove the channel works and closes with close_notify. The
 *            latency is connect to verified echo.
 *            Prints  handshakes/s=<n> p50_us=<x> p99_us=<y>
 *
 * TLS 1.3 only unless --tls12 (then 1.2 only). --cafile verifies the
 * server's certificate against that CA and for --servername (localhost).
 * Exit 2: usage; exit 1: a connection or TLS failure, a wrong echo, the
 * server closing, no completed round trip — one line naming it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_ECHO, MODE_HANDSHAKE };

enum phase {
    CONNECTING, /* non-blocking connect() in progress */
    HANDSHAKING,
    READY, /* echo mode: handshake done, waiting for the measured window */
    SENDING,
    RECEIVING,
};

struct conn {
    int fd;
    SSL* ssl;
    enum phase phase;
    size_t recvd;      /* bytes of the current echo read */
    uint64_t t0;       /* echo: message start; handshake: connect start (ns) */
    uint32_t interest; /* epoll events registered */
    int registered;    /* fd is in the epoll set */
};

static const char* prog = "tls_echo_client";
static const char* host = "127.0.0.1";
static const char* port = "8443";
static const char* cafile;
static const char* servername = "localhost";
static enum mode mode = MODE_ECHO;
static int tls12;
static int nconns = 100;
static size_t msg_size = 64;
static double seconds = 5.0;

static int ep;
static SSL_CTX* ctx;
static struct addrinfo* addr; /* the first address of --host that accepts a connection */
static struct conn* conns;
static char* msg;     /* payload */
static char* rbuf;    /* per-connection receive buffers, nconns * msg_size */
static uint32_t* lat; /* latency samples, ns (saturated at UINT32_MAX) */
static size_t nlat, caplat;
static uint64_t deadline = UINT64_MAX; /* end of the measured window */
static uint64_t done;                  /* round trips or handshakes inside it */
static int nready;                     /* echo mode: connections past their handshake */

/* Echo mode: how long the first handshakes may take before the run is
 * called off (a server that accepts and never answers). */
static const double setup_limit_s = 10.0;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn, format(printf, 1, 2))) static void usage_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "\nusage: %s [--mode echo|handshake] [--host H] [--port P] [--conns C] "
            "[--size BYTES] [--seconds S] [--cafile FILE] [--servername NAME] [--tls12]\n",
            prog);
    exit(2);
}

/* A failure of the run: one line, exit 1. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void* xmalloc(size_t n) {
    void* p = malloc(n);
    if (!p) fail("out of memory");
    return p;
}

static long parse_long(const char* flag, const char* v, long lo, long hi) {
    char* end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        usage_error("%s: must be a whole number from %ld to %ld, got '%s'", flag, lo, hi, v);
    return x;
}

static void record(uint64_t ns) {
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 20;
        lat = realloc(lat, caplat * sizeof *lat);
        if (!lat) fail("out of memory");
    }
    lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void* a, const void* b) {
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
    return (x > y) - (x < y);
}

/* Level-triggered interest in exactly `events` (EPOLLIN, EPOLLOUT or 0). */
static void set_interest(struct conn* c, int idx, uint32_t events) {
    if (c->registered && c->interest == events) return;
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)idx};
    if (epoll_ctl(ep, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
    c->registered = 1;
    c->interest = events;
}

/* OpenSSL's reason for the error at the front of its queue. */
static const char* ssl_reason(void) {
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e) return "no reason given";
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

/* After an SSL call on c returned rc <= 0: waits for the readiness it asks
 * for, or ends the run naming what went wrong during `what`. */
static void wait_or_fail(struct conn* c, int idx, int rc, const char* what) {
    int saved_errno = errno;
    switch (SSL_get_error(c->ssl, rc)) {
        case SSL_ERROR_WANT_READ:
            set_interest(c, idx, EPOLLIN);
            return;
        case SSL_ERROR_WANT_WRITE:
            set_interest(c, idx, EPOLLOUT);
            return;
        case SSL_ERROR_ZERO_RETURN:
            fail("conn %d: server closed the connection (close_notify) during %s", idx, what);
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error()) fail("conn %d: %s failed: %s", idx, what, ssl_reason());
            if (rc == 0 || saved_errno == 0)
                fail("conn %d: server closed the connection (no close_notify) during %s", idx,
                     what);
            fail("conn %d: %s failed: %s", idx, what, strerror(saved_errno));
        default: {
            /* OpenSSL 3 reports a TCP end without close_notify as an error */
            if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                fail("conn %d: server closed the connection (no close_notify) during %s", idx,
                     what);
            long verify = SSL_get_verify_result(c->ssl);
            if (verify != X509_V_OK)
                fail("conn %d: %s failed: certificate verify failed: %s", idx, what,
                     X509_verify_cert_error_string(verify));
            fail("conn %d: %s failed: %s", idx, what, ssl_reason());
        }
    }
}

static int socket_for(const struct addrinfo* ai) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The first address of --host that accepts a connection, tried blocking so
 * that a wrong host or port is one clear message before any load. */
static void resolve(void) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) fail("cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
    int err = 0;
    for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            close(fd);
            addr = xmalloc(sizeof *addr);
            *addr = *ai;
            addr->ai_addr = xmalloc(ai->ai_addrlen);
            memcpy(addr->ai_addr, ai->ai_addr, ai->ai_addrlen);
            addr->ai_next = NULL;
            freeaddrinfo(res);
            return;
        }
        err = errno;
        close(fd);
    }
    fail("cannot connect to %s:%s: %s", host, port, strerror(err));
}

/* Starts c's connection: a non-blocking connect, then its handshake. */
static void start_conn(struct conn* c, int idx);

static void close_conn(struct conn* c, int send_close_notify) {
    if (send_close_notify) {
        /* One call: close_notify is written (a few bytes, into an empty
         * socket buffer); the server's answer is not waited for. */
        SSL_shutdown(c->ssl);
    }
    ERR_clear_error();
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd); /* leaves the epoll set with it */
    c->fd = -1;
    c->registered = 0;
}

static void start_msg(struct conn* c) {
    c->phase = SENDING;
    c->recvd = 0;
    if (mode == MODE_ECHO) c->t0 = now_ns();
}

/* Runs c as far as it goes without waiting, then sets the interest it waits on. */
static void step(struct conn* c, int idx) {
    int rc;
    for (;;) {
        switch (c->phase) {
            case CONNECTING: {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
                if (err) fail("conn %d: connect to %s:%s: %s", idx, host, port, strerror(err));
                c->ssl = SSL_new(ctx);
                if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) fail("SSL_new: %s", ssl_reason());
                SSL_set_connect_state(c->ssl);
                SSL_set_tlsext_host_name(c->ssl, servername);
                if (cafile && !SSL_set1_host(c->ssl, servername))
                    fail("SSL_set1_host: %s", ssl_reason());
                c->phase = HANDSHAKING;
                break;
            }
            case HANDSHAKING:
                rc = SSL_do_handshake(c->ssl);
                if (rc != 1) {
                    wait_or_fail(c, idx, rc, "TLS handshake");
                    return;
                }
                if (mode == MODE_HANDSHAKE) {
                    start_msg(c);
                    break;
                }
                c->phase = READY;
                nready++;
                /* Nothing to do until the window opens; a session ticket the
                 * server sends meanwhile is read with the first echo. */
                set_interest(c, idx, 0);
                return;
            case READY:
                return;
            case SENDING:
                /* The message is one record: SSL_write writes it whole or
                 * asks to be called again with the same buffer. */
                rc = SSL_write(c->ssl, msg, (int)msg_size);
                if (rc <= 0) {
                    wait_or_fail(c, idx, rc, "write");
                    return;
                }
                c->phase = RECEIVING;
                /* One round trip per readiness event, as echo_client does: a
                 * connection whose echo is back before it reads (the client
                 * preempted after its write) would otherwise go on round
                 * after round here and starve the other connections. Only a
                 * record OpenSSL has already taken from the socket would get
                 * no event: read that now. */
                if (SSL_has_pending(c->ssl)) break;
                set_interest(c, idx, EPOLLIN);
                return;
            case RECEIVING: {
                char* buf = rbuf + (size_t)idx * msg_size;
                rc = SSL_read(c->ssl, buf + c->recvd, (int)(msg_size - c->recvd));
                if (rc <= 0) {
                    wait_or_fail(c, idx, rc, "read");
                    return;
                }
                c->recvd += (size_t)rc;
                if (c->recvd < msg_size) break;
                uint64_t t1 = now_ns();
                if (memcmp(buf, msg, msg_size) != 0) fail("conn %d: echo content mismatch", idx);
                if (t1 <= deadline) {
                    done++;
                    record(t1 - c->t0);
                }
                if (mode == MODE_ECHO) {
                    start_msg(c);
                    break;
                }
                close_conn(c, 1);
                if (t1 < deadline) start_conn(c, idx);
                return;
            }
        }
    }
}

static void start_conn(struct conn* c, int idx) {
    c->t0 = now_ns();
    c->fd = socket_for(addr);
    c->registered = 0;
    c->phase = CONNECTING;
    if (connect(c->fd, addr->ai_addr, addr->ai_addrlen) == 0) {
        step(c, idx);
    } else if (errno == EINPROGRESS) {
        set_interest(c, idx, EPOLLOUT);
    } else {
        fail("conn %d: connect to %s:%s: %s", idx, host, port, strerror(errno));
    }
}

static void setup_tls(void) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) fail("SSL_CTX_new: %s", ssl_reason());
    int version = tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    if (!SSL_CTX_set_min_proto_version(ctx, version) ||
        !SSL_CTX_set_max_proto_version(ctx, version))
        fail("cannot restrict TLS to one version: %s", ssl_reason());
    /* AES-128-GCM first, as Go's own order (on AES hardware) has it: a
     * server that follows the client's order (OpenSSL's default) then
     * negotiates the same suite as one that follows its own (Go's), and
     * both servers do the same cryptographic work. */
    if (!tls12 && !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                                 "TLS_CHACHA20_POLY1305_SHA256"))
        fail("cannot set the TLS 1.3 cipher suites: %s", ssl_reason());
    /* Every handshake a full one: no session is kept to offer again (and
     * none is set on an SSL object), and no ticket is asked for in 1.2. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (cafile) {
        if (!SSL_CTX_load_verify_locations(ctx, cafile, NULL))
            fail("--cafile %s: cannot load: %s", cafile, ssl_reason());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
}

static void parse_args(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "--tls12")) {
            tls12 = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf(
                "usage: %s [--mode echo|handshake] [--host H] [--port P] [--conns C] "
                "[--size BYTES] [--seconds S] [--cafile FILE] [--servername NAME] "
                "[--tls12]\n",
                prog);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) usage_error("unexpected argument '%s'", a);
        if (strcmp(a, "--mode") && strcmp(a, "--host") && strcmp(a, "--port") &&
            strcmp(a, "--conns") && strcmp(a, "--size") && strcmp(a, "--seconds") &&
            strcmp(a, "--cafile") && strcmp(a, "--servername"))
            usage_error("unknown option '%s'", a);
        if (i + 1 >= argc) usage_error("%s needs a value", a);
        const char* v = argv[++i];
        if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "echo"))
                mode = MODE_ECHO;
            else if (!strcmp(v, "handshake"))
                mode = MODE_HANDSHAKE;
            else
                usage_error("--mode: must be echo or handshake, got '%s'", v);
        } else if (!strcmp(a, "--host")) {
            host = v;
        } else if (!strcmp(a, "--port")) {
            parse_long(a, v, 1, 65535);
            port = v;
        } else if (!strcmp(a, "--conns")) {
            nconns = (int)parse_long(a, v, 1, 100000);
        } else if (!strcmp(a, "--size")) {
            /* up to one TLS record, so that a message is one SSL_write */
            msg_size = (size_t)parse_long(a, v, 1, 16384);
        } else if (!strcmp(a, "--seconds")) {
            char* end;
            errno = 0;
            seconds = strtod(v, &end);
            if (errno || end == v || *end || !(seconds > 0 && seconds <= 86400))
                usage_error("--seconds: must be a number above 0 and up to 86400, got '%s'", v);
        } else if (!strcmp(a, "--cafile")) {
            cafile = v;
        } else {
            servername = v;
        }
    }
}

int main(int argc, char** argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    msg = xmalloc(msg_size);
    rbuf = xmalloc((size_t)nconns * msg_size);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns) fail("out of memory");
    for (size_t i = 0; i < msg_size; i++)
        msg[i] = (char)('a' + i % 26);

    setup_tls();
    resolve();
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));

    uint64_t start = 0;
    if (mode == MODE_HANDSHAKE) {
        /* Handshakes are what is measured: the window opens now. */
        start = now_ns();
        deadline = start + (uint64_t)(seconds * 1e9);
    }
    for (int i = 0; i < nconns; i++)
        start_conn(&conns[i], i);

    enum { MAXEV = 256 };
    struct epoll_event evs[MAXEV];
    const uint64_t setup_deadline = now_ns() + (uint64_t)(setup_limit_s * 1e9);
    for (;;) {
        if (mode == MODE_ECHO && deadline == UINT64_MAX && nready == nconns) {
            /* All connections are up: the measured window opens. */
            start = now_ns();
            deadline = start + (uint64_t)(seconds * 1e9);
            for (int i = 0; i < nconns; i++) {
                start_msg(&conns[i]);
                step(&conns[i], i);
            }
        }
        uint64_t t = now_ns();
        if (t >= deadline) break;
        if (deadline == UINT64_MAX && t >= setup_deadline)
            fail("%d of %d connections finished their TLS handshake within %.0f s", nready, nconns,
                 setup_limit_s);
        int ms = deadline == UINT64_MAX ? 1000 : (int)((deadline - t) / 1000000) + 1;
        int n = epoll_wait(ep, evs, MAXEV, ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait: %s", strerror(errno));
        }
        for (int k = 0; k < n; k++) {
            int idx = (int)evs[k].data.u32;
            step(&conns[idx], idx);
        }
    }
    double elapsed = (double)(deadline - start) / 1e9;

    for (int i = 0; i < nconns; i++) {
        struct conn* c = &conns[i];
        if (c->fd < 0) continue;
        if (c->ssl)
            close_conn(c, SSL_is_init_finished(c->ssl));
        else
            close(c->fd);
    }
    close(ep);
    SSL_CTX_free(ctx);

    if (done == 0) fail(mode == MODE_ECHO ? "no round trips completed" : "no handshakes completed");
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double p50 = lat[(size_t)((double)(nlat - 1) * 0.50)] / 1000.0;
    double p99 = lat[(size_t)((double)(nlat - 1) * 0.99)] / 1000.0;
    printf("%s=%.0f p50_us=%.1f p99_us=%.1f\n", mode == MODE_ECHO ? "req/s" : "handshakes/s",
           (double)done / elapsed, p50, p99);
    return 0;
}
