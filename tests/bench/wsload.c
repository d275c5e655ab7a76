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
 *       receipt) at the clients.
 *   aa-wsload turns --port P --token T --n 500
 *       chat turns end to end on one connection (built-in provider). */
#include "cfg.h"
#include "keys.h"
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
    KEYS_CELLS_OPT,
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

/* CPU seconds (user + system) a process has used, from /proc. */
static double cpu_seconds(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
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
    double cpu0 = pid ? cpu_seconds(pid) : -1;
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
    double cpu = pid ? cpu_seconds(pid) - cpu0 : -1;
    pthread_join(pt, NULL);
    qsort(lat, (size_t)got, sizeof(*lat), cmp_i64);
    (void)after;
    (void)before;
    printf("%s: %d clients, %s: %ld/%ld events delivered in %.2f s: %.0f events/s; latency "
           "p50=%.2f ms p99=%.2f ms p99.9=%.2f ms; server CPU %.2f s: %.0f events per CPU "
           "second\n",
           cfg_str(opts, "label"), n, cfg_int(opts, "rate") ? "paced" : "as fast as possible", got,
           msgs, dt, got / dt, got ? lat[got / 2] / 1000.0 : -1,
           got ? lat[got * 99 / 100] / 1000.0 : -1, got ? lat[got * 999 / 1000] / 1000.0 : -1, cpu,
           cpu > 0 ? got / cpu : -1);
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    free(lat);
    return got == msgs ? 0 : 1;
}

/* Sends one masked text frame (clients must mask, RFC 6455 5.3). */
static int send_text(int fd, const char *txt)
{
    size_t n = strlen(txt), hl = n < 126 ? 2 : 4;
    unsigned char *f = xmalloc(n + 8), mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = 0x81;
    if (n < 126) {
        f[1] = (unsigned char)(0x80 | n);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(n >> 8);
        f[3] = (unsigned char)n;
    }
    memcpy(f + hl, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[hl + 4 + i] = (unsigned char)txt[i] ^ mask[i % 4];
    ssize_t w = write(fd, f, hl + 4 + n);
    free(f);
    return w == (ssize_t)(hl + 4 + n) ? 0 : -1;
}

/* Waits for a text frame containing needle. Returns 0 / -1. */
static int wait_for_text(struct wc *c, const char *needle)
{
    for (;;) {
        size_t off = 0;
        while (c->len - off >= 2) {
            size_t plen = c->buf[off + 1] & 0x7f, hdr = 2;
            if (plen == 126) {
                if (c->len - off < 4)
                    break;
                plen =
                    ((size_t)(unsigned char)c->buf[off + 2] << 8) | (unsigned char)c->buf[off + 3];
                hdr = 4;
            }
            if (c->len - off < hdr + plen)
                break;
            int hit = memmem(c->buf + off + hdr, plen, needle, strlen(needle)) != NULL;
            off += hdr + plen;
            if (hit) {
                memmove(c->buf, c->buf + off, c->len - off);
                c->len -= off;
                return 0;
            }
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

/* Chat turns end to end with the built-in provider: the prompt goes in, the
 * client_action push and the answer come back. */
static int turns(void)
{
    int n = (int)cfg_int(opts, "n");
    double secs;
    struct wc *c = open_all(1, (int)cfg_int(opts, "port"), cfg_str(opts, "token"), &secs);
    int64_t *lat = xcalloc((size_t)n, sizeof(*lat));
    const char *msg = "{\"action\":\"chat\",\"prompt\":\"Help me connect to my VPN\"}";
    for (int i = -50; i < n; i++) { /* 50 warm-up turns */
        int64_t t0 = mono_us();
        if (send_text(c->fd, msg) < 0 || wait_for_text(c, "\"event\":\"chat_response\"") < 0) {
            fprintf(stderr, "aa-wsload: the turn failed\n");
            return 1;
        }
        if (i >= 0)
            lat[i] = mono_us() - t0;
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    printf("%s: %d chat turns (prompt -> model -> tool -> push -> model -> answer, built-in "
           "provider): p50=%.2f ms p90=%.2f ms p99=%.2f ms p99.9=%.2f ms max=%.2f ms\n",
           cfg_str(opts, "label"), n, lat[n / 2] / 1000.0, lat[n * 9 / 10] / 1000.0,
           lat[n * 99 / 100] / 1000.0, lat[n * 999 / 1000] / 1000.0, lat[n - 1] / 1000.0);
    close(c->fd);
    free(c);
    free(lat);
    return 0;
}

static long long redis_int(struct rconn *rc, const char *cmd, const char *field)
{
    redisReply *r = rconn_cmd(rc, cmd);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->str && field) {
        const char *p = strstr(r->str, field);
        if (p)
            v = atoll(p + strlen(field));
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
               r->element[0]->type == REDIS_REPLY_INTEGER)
        v = r->element[0]->integer; /* XPENDING summary: the count */
    if (r)
        freeReplyObject(r);
    return v;
}

/* n sessions each with a turn waiting on a slow desktop: what it costs while
 * they wait, and how fast they all finish once the desktops answer. */
static int waiting(void)
{
    int n = (int)cfg_int(opts, "n");
    double secs;
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    long long mem0 = redis_int(rc, "INFO memory", "used_memory:");
    struct wc *cs = open_all(n, (int)cfg_int(opts, "port"), cfg_str(opts, "token"), &secs);
    const char *msg = "{\"action\":\"chat\",\"prompt\":\"What's my VPN status?\"}";
    char(*cb)[64] = xcalloc((size_t)n, sizeof(*cb));
    int64_t t0 = mono_us();
    for (int i = 0; i < n; i++)
        send_text(cs[i].fd, msg);
    for (int i = 0; i < n; i++) {
        if (wait_for_text(&cs[i], "\"action\":\"get_vpn_status\"") < 0)
            return 1;
        /* the request frame was consumed; find its callback id in what we saw */
    }
    double t_wait = (double)(mono_us() - t0) / 1e6;
    usleep(200000);
    long long mem1 = redis_int(rc, "INFO memory", "used_memory:");
    long long pa = redis_int(rc, "XPENDING aa:stream:agent agent-workers", NULL);
    long long pt = redis_int(rc, "XPENDING aa:stream:tool tool-workers", NULL);
    long long open_ = redis_int(rc, "ZCARD aa:exec:deadlines", NULL);
    long long cbs = redis_int(rc, "ZCARD aa:cb:deadlines", NULL);
    printf("%s: %d sessions waiting on their desktop (%lld executions open, %lld callbacks) after "
           "%.2f s; stream entries held by workers: agent %lld, tool %lld; Redis memory +%.1f "
           "KiB per waiting session\n",
           cfg_str(opts, "label"), n, open_, cbs, t_wait, pa, pt,
           (double)(mem1 - mem0) / 1024.0 / n);
    /* every desktop answers: complete the callbacks by session */
    redisReply *r = rconn_cmd(rc, "ZRANGE aa:cb:deadlines 0 -1");
    for (size_t i = 0; r && i < r->elements; i++) {
        redisReply *x = rconn_cmd(rc, "HGET aa:cb:%s session", r->element[i]->str);
        int idx = x && x->str && x->str[0] == 'w' ? atoi(x->str + 1) : -1;
        if (idx >= 0 && idx < n) {
            char ans[256];
            snprintf(ans, sizeof(ans),
                     "{\"action\":\"async_callback\",\"callback_id\":\"%s\",\"content\":"
                     "\"connected\"}",
                     r->element[i]->str);
            send_text(cs[idx].fd, ans);
        }
        if (x)
            freeReplyObject(x);
    }
    if (r)
        freeReplyObject(r);
    int64_t t1 = mono_us();
    for (int i = 0; i < n; i++)
        if (wait_for_text(&cs[i], "\"event\":\"chat_response\"") < 0)
            return 1;
    printf("%s: all %d answered %.2f s after the desktops answered\n", cfg_str(opts, "label"), n,
           (double)(mono_us() - t1) / 1e6);
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    free(cb);
    rconn_free(rc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = cfg_subcommand_or_exit(opts, argc, argv,
                                             "usage: aa-wsload idle|push|turns|waiting [options]");
    char err[512];
    if (keys_cells_start(cfg_str(opts, "redis"), (unsigned)cfg_int(opts, "cells"), 10000, err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "aa-wsload: %s\n", err);
        cfg_free(opts);
        return 1;
    }
    int rc = !strcmp(cmd, "idle")      ? idle()
             : !strcmp(cmd, "push")    ? push()
             : !strcmp(cmd, "turns")   ? turns()
             : !strcmp(cmd, "waiting") ? waiting()
                                       : 2;
    cfg_free(opts);
    return rc;
}
