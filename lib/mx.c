/* mx.c -- Worker metrics: atomic counters and fixed-bucket histograms, and a
 * one-thread HTTP endpoint that renders them. */
#include "mx.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NB 12
static const double bounds[NB] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,   0.25,   1,     5,    30};

static _Atomic unsigned long long counters[MX_COUNTERS];
static struct {
    _Atomic unsigned long long b[NB + 1];
    _Atomic unsigned long long sum_us;
} hists[MX_HISTS];

void mx_add(enum mx_counter c, unsigned long long n)
{
    atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void mx_observe(enum mx_hist h, double seconds)
{
    int i = 0;
    while (i < NB && seconds > bounds[i])
        i++;
    atomic_fetch_add_explicit(&hists[h].b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hists[h].sum_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->p = xrealloc(b->p, b->cap);
    }
}

static void put_hist(struct buf *b, const char *name, const char *help, enum mx_hist h,
                     const char *stream)
{
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (int i = 0; i <= NB; i++) {
        cum += atomic_load(&hists[h].b[i]);
        if (i < NB)
            put(b, "%s_bucket{stream=\"%s\",le=\"%g\"} %llu\n", name, stream, bounds[i], cum);
        else
            put(b, "%s_bucket{stream=\"%s\",le=\"+Inf\"} %llu\n", name, stream, cum);
    }
    put(b, "%s_sum{stream=\"%s\"} %.6f\n%s_count{stream=\"%s\"} %llu\n", name, stream,
        (double)atomic_load(&hists[h].sum_us) / 1e6, name, stream, cum);
}

static char *render(const char *stream, mx_extra_cb extra, void *arg)
{
    struct buf b = {xmalloc(4096), 0, 4096};
    static const char *outcomes[] = {"succeeded", "failed", "suspended", "skipped"};
    put(&b, "# HELP aa_jobs_total Stream entries run, by outcome.\n# TYPE aa_jobs_total counter\n");
    for (int i = 0; i < 4; i++)
        put(&b, "aa_jobs_total{stream=\"%s\",outcome=\"%s\"} %llu\n", stream, outcomes[i],
            atomic_load(&counters[MX_JOBS_SUCCEEDED + i]));
    static const char *causes[] = {"notification", "timer", "sweep"};
    put(&b, "# HELP aa_resumes_total Callbacks handed to their execution, by what noticed them.\n"
            "# TYPE aa_resumes_total counter\n");
    for (int i = 0; i < 3; i++)
        put(&b, "aa_resumes_total{cause=\"%s\"} %llu\n", causes[i],
            atomic_load(&counters[MX_RESUME_NOTIFICATION + i]));
    put(&b,
        "# TYPE aa_execution_timeouts_total counter\naa_execution_timeouts_total %llu\n"
        "# TYPE aa_reclaimed_total counter\naa_reclaimed_total{stream=\"%s\"} %llu\n"
        "# TYPE aa_dead_letters_total counter\naa_dead_letters_total{stream=\"%s\"} %llu\n"
        "# TYPE aa_model_calls_total counter\naa_model_calls_total %llu\n"
        "# TYPE aa_model_tokens_total counter\naa_model_tokens_total %llu\n"
        "# TYPE aa_redis_errors_total counter\naa_redis_errors_total %llu\n"
        "# TYPE aa_redis_reconnects_total counter\naa_redis_reconnects_total %llu\n"
        "# TYPE aa_redis_redirects_total counter\naa_redis_redirects_total %llu\n",
        atomic_load(&counters[MX_TIMEOUTS]), stream, atomic_load(&counters[MX_RECLAIMED]), stream,
        atomic_load(&counters[MX_DEAD_LETTERS]), atomic_load(&counters[MX_MODEL_CALLS]),
        atomic_load(&counters[MX_MODEL_TOKENS]), atomic_load(&counters[MX_REDIS_ERRORS]),
        atomic_load(&counters[MX_REDIS_RECONNECTS]), atomic_load(&counters[MX_REDIS_REDIRECTS]));
    put_hist(&b, "aa_handler_seconds", "Time a handler ran (one run or replay).", MX_H_HANDLER,
             stream);
    put_hist(&b, "aa_callback_roundtrip_seconds",
             "From a callback's creation to its outcome handed to the execution.", MX_H_CALLBACK_RT,
             stream);
    put_hist(&b, "aa_model_seconds", "Model calls.", MX_H_MODEL, stream);
    if (extra) {
        char *x = extra(arg);
        if (x) {
            put(&b, "%s", x);
            free(x);
        }
    }
    return b.p;
}

static struct {
    pthread_t thread;
    int fd, running;
    char stream[128];
    mx_extra_cb extra;
    void *arg;
} srv = {.fd = -1};

static void *serve_main(void *unused)
{
    (void)unused;
    while (srv.running) {
        struct pollfd p = {srv.fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[2048];
        struct timeval tv = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        /* the whole head before answering: a request may come in pieces, and
         * closing on unread bytes would reset the connection under the
         * client's next write */
        size_t have = 0;
        req[0] = '\0';
        while (have < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t n = recv(c, req + have, sizeof(req) - 1 - have, 0);
            if (n <= 0)
                break;
            have += (size_t)n;
            req[have] = '\0';
        }
        char *body;
        const char *status = "200 OK", *ctype = "text/plain; version=0.0.4";
        if (!strncmp(req, "GET /metrics", 12)) {
            body = render(srv.stream, srv.extra, srv.arg);
        } else if (!strncmp(req, "GET /healthz", 12)) {
            body = xstrdup("{\"status\":\"ok\"}");
            ctype = "application/json";
        } else {
            status = "404 Not Found";
            body = xstrdup("try /metrics or /healthz\n");
        }
        char hdr[256];
        int hl = snprintf(hdr, sizeof(hdr),
                          "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          status, ctype, strlen(body));
        if (send(c, hdr, (size_t)hl, MSG_NOSIGNAL) == hl)
            send(c, body, strlen(body), MSG_NOSIGNAL);
        free(body);
        close(c);
    }
    return NULL;
}

int mx_serve(const char *bind_addr, int port, const char *stream, mx_extra_cb extra, void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    srv.fd = fd;
    srv.running = 1;
    strlcpy_aa(srv.stream, stream, sizeof(srv.stream));
    srv.extra = extra;
    srv.arg = arg;
    if (pthread_create(&srv.thread, NULL, serve_main, NULL) != 0) {
        close(fd);
        srv.fd = -1;
        return -1;
    }
    return ntohs(a.sin_port);
}

void mx_stop(void)
{
    if (srv.fd < 0)
        return;
    srv.running = 0;
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    srv.fd = -1;
}
