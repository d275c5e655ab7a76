/* wsload.c -- aa-wsload: many WebSocket client connections from one process
 * (epoll, raw sockets), for the gateway benchmarks.
 *
 *   aa-wsload idle --port P --n 10000 --token T --server-pid PID
 *       opens n connections, reports connections accepted per second and
 *       the server's resident memory per connection (from /proc).
 *   aa-wsload push --port P --n 1000 --token T --redis ADDR --channel CH
 *           --msgs 100000 --server-pid PID
 *       opens n connections (sessions w0..w{n-1}), publishes msgs events to
 *       CH in the gateway's push format (round robin over the sessions) and
 *       measures delivered messages per second and latency (publish to
 *       receipt) at the clients. */
#include "cfg.h"
#include "rconn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct cfg_opt opts[] = {
    {"port", CFG_INT, "8080", 1, 65535, "server port", NULL, 0},
    {"n", CFG_INT, "1000", 1, 200000, "connections", NULL, 0},
    {"token", CFG_STR, "", 0, 4096, "bearer token", NULL, 0},
    {"redis", CFG_STR, "127.0.0.1:6379", 0, 512, "Redis (push)", NULL, 0},
    {"channel", CFG_STR, "", 0, 256, "channel the server subscribes to (push)", NULL, 0},
    {"msgs", CFG_INT, "100000", 1, 100000000, "events to publish (push)", NULL, 0},
    {"rate", CFG_INT, "0", 0, 10000000, "push: events per second (0: as fast as possible)", NULL,
     0},
    {"server-pid", CFG_INT, "0", 0, 4194304, "server process, for its memory", NULL, 0},
    {"label", CFG_STR, "server", 0, 64, "name printed with the figures", NULL, 0},
    CFG_END,
};

struct wc {
    int fd;
    int open;
    char buf[8192];
    size_t len;
};

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

static int connect_one(int port, int i, const char *token)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char req[5000];
    int n = snprintf(req, sizeof(req),
                     "GET /ws?session_id=w%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
                     i, token);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the end of the 101 response; leaves any frame bytes in c. */
static int finish_handshake(struct wc *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
        c->buf[c->len] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (end) {
            if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0)
                return -1;
            size_t used = (size_t)(end + 4 - c->buf);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return 0;
        }
    }
}

static struct wc *open_all(int n, int port, const char *token, double *secs)
{
    struct wc *cs = xcalloc((size_t)n, sizeof(*cs));
    int64_t t0 = mono_us();
    /* pipelined: send the handshakes in waves of 500, then read the answers */
    for (int base = 0; base < n; base += 500) {
        int top = base + 500 < n ? base + 500 : n;
        for (int i = base; i < top; i++) {
            cs[i].fd = connect_one(port, i, token);
            if (cs[i].fd < 0) {
                fprintf(stderr, "aa-wsload: connect %d: %s\n", i, strerror(errno));
                exit(1);
            }
        }
        for (int i = base; i < top; i++) {
            if (finish_handshake(&cs[i]) < 0) {
                fprintf(stderr, "aa-wsload: handshake %d failed\n", i);
                exit(1);
            }
            cs[i].open = 1;
        }
    }
    *secs = (double)(mono_us() - t0) / 1e6;
    return cs;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int idle(void)
{
    int n = (int)cfg_int(opts, "n"), pid = (int)cfg_int(opts, "server-pid");
    long before = pid ? rss_kib(pid) : -1;
    double secs;
    struct wc *cs = open_all(n, (int)cfg_int(opts, "port"), cfg_str(opts, "token"), &secs);
    usleep(300000);
    long after = pid ? rss_kib(pid) : -1;
    printf("%s: %d idle connections in %.2f s (%.0f connections/s); resident memory %.1f MiB -> "
           "%.1f MiB: %.1f KiB per connection\n",
           cfg_str(opts, "label"), n, secs, n / secs, before / 1024.0, after / 1024.0,
           (double)(after - before) / n);
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    return 0;
}

struct pub_arg {
    int n;
    long msgs;
};

static void *publisher(void *arg)
{
    struct pub_arg *pa = arg;
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    char err[256];
    if (rconn_connect(rc, err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-wsload: %s\n", err);
        exit(1);
    }
    redisContext *c = rconn_ctx(rc);
    const char *ch = cfg_str(opts, "channel");
    long inflight = 0, rate = cfg_int(opts, "rate");
    int64_t start = mono_us();
    for (long k = 0; k < pa->msgs; k++) {
        if (rate > 0) {
            int64_t due = start + k * 1000000 / rate;
            int64_t now = mono_us();
            if (due > now) {
                for (; inflight; inflight--) {
                    void *rep;
                    if (redisGetReply(c, &rep) != REDIS_OK)
                        exit(1);
                    freeReplyObject(rep);
                }
                usleep((useconds_t)(due - now));
            }
        }
        char payload[256];
        snprintf(payload, sizeof(payload), "w%ld\n1-%ld\n{\"event\":\"bench\",\"t\":%lld}",
                 k % pa->n, k + 1, (long long)mono_us());
        redisAppendCommand(c, "PUBLISH %s %s", ch, payload);
        if (++inflight == 200) {
            for (; inflight; inflight--) {
                void *rep;
                if (redisGetReply(c, &rep) != REDIS_OK)
                    exit(1);
                freeReplyObject(rep);
            }
        }
    }
    for (; inflight; inflight--) {
        void *rep;
        if (redisGetReply(c, &rep) == REDIS_OK)
            freeReplyObject(rep);
    }
    rconn_free(rc);
    return NULL;
}

static int push(void)
{
    int n = (int)cfg_int(opts, "n"), pid = (int)cfg_int(opts, "server-pid");
    long msgs = cfg_int(opts, "msgs");
    double secs;
    long before = pid ? rss_kib(pid) : -1;
    struct wc *cs = open_all(n, (int)cfg_int(opts, "port"), cfg_str(opts, "token"), &secs);
    usleep(300000);
    long after = pid ? rss_kib(pid) : -1;
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    int64_t *lat = xcalloc((size_t)msgs, sizeof(*lat));
    long got = 0;
    pthread_t pt;
    struct pub_arg pa = {n, msgs};
    int64_t t0 = mono_us(), last = t0;
    pthread_create(&pt, NULL, publisher, &pa);
    struct epoll_event evs[256];
    while (got < msgs && mono_us() - last < 5000000) {
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int e = 0; e < k; e++) {
            struct wc *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
            if (r <= 0)
                continue;
            c->len += (size_t)r;
            size_t off = 0;
            /* server frames: unmasked, FIN text, length < 126 here */
            while (c->len - off >= 2) {
                size_t plen = c->buf[off + 1] & 0x7f, hdr = 2;
                if (plen == 126) {
                    if (c->len - off < 4)
                        break;
                    plen = ((size_t)(unsigned char)c->buf[off + 2] << 8) |
                           (unsigned char)c->buf[off + 3];
                    hdr = 4;
                }
                if (c->len - off < hdr + plen)
                    break;
                const char *p = memmem(c->buf + off + hdr, plen, "\"t\":", 4);
                if (p && got < msgs) {
                    lat[got++] = mono_us() - atoll(p + 4);
                    last = mono_us();
                }
                off += hdr + plen;
            }
            memmove(c->buf, c->buf + off, c->len - off);
            c->len -= off;
        }
    }
    double dt = (double)(last - t0) / 1e6;
    pthread_join(pt, NULL);
    qsort(lat, (size_t)got, sizeof(*lat), cmp_i64);
    (void)after;
    (void)before;
    printf("%s: %d clients, %s: %ld/%ld events delivered in %.2f s: %.0f events/s; latency "
           "p50=%.2f ms p99=%.2f ms\n",
           cfg_str(opts, "label"), n, cfg_int(opts, "rate") ? "paced" : "as fast as possible", got,
           msgs, dt, got / dt, got ? lat[got / 2] / 1000.0 : -1,
           got ? lat[got * 99 / 100] / 1000.0 : -1);
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    free(lat);
    return got == msgs ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: aa-wsload idle|push [options]\n");
        return 2;
    }
    const char *cmd = argv[1];
    argv[1] = argv[0];
    cfg_parse_or_exit(opts, argc - 1, argv + 1, "usage: aa-wsload idle|push [options]");
    int rc = !strcmp(cmd, "idle") ? idle() : !strcmp(cmd, "push") ? push() : 2;
    cfg_free(opts);
    return rc;
}
