/* rsub.c -- Subscriptions on every master, following the topology. */
#include "rsub.h"
#include "log.h"
#include "rcluster.h"
#include "rconn.h"
#include "util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often the set of masters is read again. */
#define TOPOLOGY_CHECK_US 2000000

struct sub_node {
    char addr[RCLUSTER_ADDR_MAX + 200];
    redisContext *ctx;
};

struct rsub {
    char *addr;
    const char *const *cmds;
    int ncmds;
    struct rconn *ctl; /* the topology */
    struct sub_node *nodes;
    size_t n;
    int subscribed, backoff_ms;
    int64_t next_check_us;
};

struct rsub *rsub_new(const char *addr, const char *const *cmds, int ncmds)
{
    struct rsub *s = xcalloc(1, sizeof(*s));
    s->addr = xstrdup(addr);
    s->cmds = cmds;
    s->ncmds = ncmds;
    s->ctl = rconn_new(addr);
    s->backoff_ms = 100;
    return s;
}

static void close_all(struct rsub *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].ctx)
            redisFree(s->nodes[i].ctx);
    free(s->nodes);
    s->nodes = NULL;
    s->n = 0;
    s->subscribed = 0;
}

void rsub_free(struct rsub *s)
{
    if (!s)
        return;
    close_all(s);
    rconn_free(s->ctl);
    free(s->addr);
    free(s);
}

/* A plain connection to addr (no scripts: it only subscribes). */
static redisContext *dial(const char *addr)
{
    char host[256];
    int port, is_unix;
    if (rconn_parse_addr(addr, host, sizeof(host), &port, &is_unix) < 0)
        return NULL;
    struct timeval tv = {2, 0};
    redisContext *c =
        is_unix ? redisConnectUnixWithTimeout(host, tv) : redisConnectWithTimeout(host, port, tv);
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* Subscribes on every master. Returns 0 / -1 (closed again). */
static int subscribe_all(struct rsub *s)
{
    close_all(s);
    if (rconn_refresh(s->ctl) < 0 || rconn_connect(s->ctl, NULL, 0) < 0)
        return -1;
    size_t n = rconn_masters(s->ctl);
    s->nodes = xcalloc(n ? n : 1, sizeof(*s->nodes));
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL;
        if (!rconn_master_ctx(s->ctl, i, &a) || !a)
            goto fail;
        snprintf(s->nodes[i].addr, sizeof(s->nodes[i].addr), "%s", a);
        s->n++;
        redisContext *c = dial(a);
        s->nodes[i].ctx = c;
        if (!c)
            goto fail;
        for (int k = 0; k < s->ncmds; k++) {
            redisReply *r = redisCommand(c, s->cmds[k]);
            if (!r)
                goto fail;
            freeReplyObject(r);
        }
    }
    s->subscribed = 1;
    s->next_check_us = mono_us() + TOPOLOGY_CHECK_US;
    return 0;
fail:
    close_all(s);
    return -1;
}

/* 1 when the masters are no longer those subscribed. */
static int topology_changed(struct rsub *s)
{
    if (!rconn_is_cluster(s->ctl))
        return 0;
    if (rconn_refresh(s->ctl) < 0)
        return 0; /* unreadable now: the connections will tell */
    size_t n = rconn_masters(s->ctl);
    if (n != s->n)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL;
        rconn_master_ctx(s->ctl, i, &a);
        int found = 0;
        for (size_t j = 0; a && j < s->n && !found; j++)
            found = strcmp(s->nodes[j].addr, a) == 0;
        if (!found)
            return 1;
    }
    return 0;
}

/* Hands over the replies already read from node i. Returns how many, or -1
 * when the connection broke. */
static int drain(struct rsub *s, size_t i, int max, rsub_msg_cb cb, void *arg)
{
    int got = 0;
    void *rep = NULL;
    while (got < max) {
        if (redisGetReplyFromReader(s->nodes[i].ctx, &rep) != REDIS_OK)
            return -1;
        if (!rep)
            break;
        cb(rep, arg);
        freeReplyObject(rep);
        got++;
    }
    return got;
}

int rsub_wait(struct rsub *s, int timeout_ms, int max, rsub_msg_cb cb, void *arg, int *fresh)
{
    *fresh = 0;
    if (s->subscribed && mono_us() >= s->next_check_us) {
        s->next_check_us = mono_us() + TOPOLOGY_CHECK_US;
        if (topology_changed(s)) {
            log_info("event=subscriptions_follow addr=%s note=\"the masters changed\"", s->addr);
            close_all(s);
        }
    }
    if (!s->subscribed) {
        if (subscribe_all(s) < 0) {
            log_warn("event=subscribe_failed addr=%s", s->addr);
            usleep((useconds_t)s->backoff_ms * 1000);
            s->backoff_ms = s->backoff_ms * 2 > 2000 ? 2000 : s->backoff_ms * 2;
            return -1;
        }
        s->backoff_ms = 100;
        *fresh = 1;
    }
    int got = 0;
    for (size_t i = 0; i < s->n && got < max; i++) { /* read with the subscribe replies */
        int k = drain(s, i, max - got, cb, arg);
        if (k < 0)
            goto broken;
        got += k;
    }
    if (got)
        return got;
    struct pollfd *p = xcalloc(s->n, sizeof(*p));
    for (size_t i = 0; i < s->n; i++)
        p[i] = (struct pollfd){.fd = s->nodes[i].ctx->fd, .events = POLLIN};
    int ready = poll(p, (nfds_t)s->n, timeout_ms);
    for (size_t i = 0; ready > 0 && i < s->n && got < max; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        int k = redisBufferRead(s->nodes[i].ctx) == REDIS_OK ? drain(s, i, max - got, cb, arg) : -1;
        if (k < 0) {
            free(p);
            goto broken;
        }
        got += k;
    }
    free(p);
    return got;
broken:
    log_warn("event=subscription_lost addr=%s", s->addr);
    close_all(s);
    return got ? got : -1;
}
