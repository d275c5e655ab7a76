/* rconn.c -- Reconnecting blocking hiredis connection with script loading;
 * to one Redis, or to the masters of a Redis Cluster, routed by slot. */
#include "rconn.h"
#include "log.h"
#include "mx.h"
#include "rcluster.h"
#include "rslot.h"
#include "script.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a command waits for a cluster to settle (a failover, a slot in
 * migration) before it fails as unreachable, and the pause between tries. */
#define CLUSTER_WAIT_US 5000000
#define CLUSTER_PAUSE_US 100000
/* Redirections followed for one command before it fails. */
#define CLUSTER_MAX_REDIRECTS 16

/* One connection to one cluster node. */
struct node {
    char addr[RCLUSTER_ADDR_MAX];
    redisContext *ctx;
};

struct rconn {
    char *addr;
    redisContext *ctx; /* one Redis */
    char err[256];
    /* A cluster: the slot map, a connection per node used, and whether the
     * map must be read again (after a redirection or a lost node). */
    struct rcluster *map;
    struct node *nodes;
    size_t n_nodes;
    int stale;
};

static redisContext *node_ctx(struct rconn *c, const char *addr);
static int refresh(struct rconn *c);

int rconn_parse_addr(const char *addr, char *host, size_t hostlen, int *port, int *is_unix)
{
    if (!addr || !*addr)
        return -1;
    if (strncmp(addr, "unix:", 5) == 0 || addr[0] == '/') {
        const char *p = addr[0] == '/' ? addr : addr + 5;
        if (!*p || strlen(p) >= hostlen)
            return -1;
        strcpy(host, p);
        *is_unix = 1;
        *port = 0;
        return 0;
    }
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= hostlen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (int)p;
    *is_unix = 0;
    return 0;
}

struct rconn *rconn_new(const char *addr)
{
    struct rconn *c = xcalloc(1, sizeof(*c));
    c->addr = xstrdup(addr);
    if (rcluster_is_cluster(addr)) {
        c->map = rcluster_new();
        c->stale = 1;
    }
    return c;
}

void rconn_free(struct rconn *c)
{
    if (!c)
        return;
    if (c->ctx)
        redisFree(c->ctx);
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].ctx)
            redisFree(c->nodes[i].ctx);
    free(c->nodes);
    rcluster_free(c->map);
    free(c->addr);
    free(c);
}

int rconn_is_cluster(const struct rconn *c)
{
    return c->map != NULL;
}

const char *rconn_error(const struct rconn *c)
{
    return c->err;
}

/* The first master that answers (one may be down while its replica takes
 * over). Returns: borrowed, or NULL with c->err filled. */
static redisContext *any_master(struct rconn *c)
{
    redisContext *ctx = NULL;
    for (size_t i = 0; !ctx && i < rcluster_masters(c->map); i++)
        ctx = node_ctx(c, rcluster_master(c->map, i));
    if (!ctx && !c->err[0])
        snprintf(c->err, sizeof(c->err), "no master of the cluster answers");
    return ctx;
}

redisContext *rconn_ctx(struct rconn *c)
{
    return c->map ? any_master(c) : c->ctx;
}

redisContext *rconn_ctx_for(struct rconn *c, const char *key)
{
    if (!c->map)
        return rconn_connect(c, NULL, 0) == 0 ? c->ctx : NULL;
    if (c->stale)
        refresh(c);
    const char *a = rcluster_node_of(c->map, rslot_of(key, strlen(key)));
    return a ? node_ctx(c, a) : NULL;
}

int rconn_refresh(struct rconn *c)
{
    return c->map ? refresh(c) : 0;
}

size_t rconn_masters(struct rconn *c)
{
    if (!c->map)
        return 1;
    if (c->stale)
        refresh(c);
    return rcluster_masters(c->map);
}

redisContext *rconn_master_ctx(struct rconn *c, size_t i, const char **addr)
{
    if (!c->map) {
        if (addr)
            *addr = c->addr;
        if (i > 0 || rconn_connect(c, NULL, 0) < 0)
            return NULL;
        return c->ctx;
    }
    if (c->stale)
        refresh(c);
    const char *a = rcluster_master(c->map, i);
    if (addr)
        *addr = a;
    return a ? node_ctx(c, a) : NULL;
}

static int load_scripts(redisContext *ctx, char *err, size_t errlen)
{
    for (size_t i = 0; i < script_count(); i++) {
        const struct script *s = script_at(i);
        redisReply *r = redisCommand(ctx, "SCRIPT LOAD %s", script_body(s));
        if (!r) {
            snprintf(err, errlen, "SCRIPT LOAD %s: %s", script_name(s), ctx->errstr);
            return -1;
        }
        int bad = r->type != REDIS_REPLY_STRING || strcmp(r->str, script_sha(s)) != 0;
        if (bad)
            snprintf(err, errlen, "SCRIPT LOAD %s: %s", script_name(s),
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (bad)
            return -1;
    }
    return 0;
}

/* A new connection to addr with the scripts loaded. Returns: owned, or
 * NULL with c->err filled. */
static redisContext *dial(struct rconn *c, const char *addr)
{
    char host[256];
    int port, is_unix;
    redisContext *ctx = NULL;
    if (rconn_parse_addr(addr, host, sizeof(host), &port, &is_unix) < 0) {
        snprintf(c->err, sizeof(c->err), "bad Redis address '%s'", addr);
        goto fail;
    }
    struct timeval tv = {2, 0};
    ctx = is_unix ? redisConnectUnixWithTimeout(host, tv) : redisConnectWithTimeout(host, port, tv);
    if (!ctx || ctx->err) {
        snprintf(c->err, sizeof(c->err), "connect %s: %s", addr,
                 ctx ? ctx->errstr : "out of memory");
        goto fail;
    }
    struct timeval rw = {30, 0}; /* BLOCK timeouts are shorter than this */
    redisSetTimeout(ctx, rw);
    if (load_scripts(ctx, c->err, sizeof(c->err)) < 0)
        goto fail;
    return ctx;
fail:
    if (ctx)
        redisFree(ctx);
    return NULL;
}

/* The connection to cluster node addr, made when there is none. Returns:
 * borrowed, or NULL with c->err filled. */
static redisContext *node_ctx(struct rconn *c, const char *addr)
{
    struct node *n = NULL;
    for (size_t i = 0; i < c->n_nodes && !n; i++)
        if (strcmp(c->nodes[i].addr, addr) == 0)
            n = &c->nodes[i];
    if (!n) {
        c->nodes = xrealloc(c->nodes, (c->n_nodes + 1) * sizeof(*c->nodes));
        n = &c->nodes[c->n_nodes++];
        snprintf(n->addr, sizeof(n->addr), "%s", addr);
        n->ctx = NULL;
    }
    if (n->ctx && n->ctx->err) {
        redisFree(n->ctx);
        n->ctx = NULL;
        mx_add(MX_REDIS_RECONNECTS, 1);
    }
    if (!n->ctx)
        n->ctx = dial(c, addr);
    return n->ctx;
}

/* Closes the connection to node addr (it failed); the map is read again. */
static void node_drop(struct rconn *c, const char *addr)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].addr, addr) == 0 && c->nodes[i].ctx) {
            redisFree(c->nodes[i].ctx);
            c->nodes[i].ctx = NULL;
        }
    c->stale = 1;
}

/* Reads the slot map from the first node that gives one: the known masters,
 * then the seeds. Returns 0 / -1 with c->err filled (the old map kept). */
static int refresh(struct rconn *c)
{
    size_t nm = rcluster_masters(c->map);
    char addr[RCLUSTER_ADDR_MAX], tried[RCLUSTER_ADDR_MAX * 4] = "";
    for (size_t i = 0;; i++) {
        if (i < nm)
            snprintf(addr, sizeof(addr), "%s", rcluster_master(c->map, i));
        else if (rcluster_seed(c->addr, i - nm, addr, sizeof(addr)) < 0)
            break;
        redisContext *ctx = node_ctx(c, addr);
        if (!ctx)
            continue;
        redisReply *r = redisCommand(ctx, "CLUSTER SLOTS");
        if (!r) {
            node_drop(c, addr);
            continue;
        }
        char host[RCLUSTER_ADDR_MAX];
        snprintf(host, sizeof(host), "%.*s", (int)(strrchr(addr, ':') - addr), addr);
        int rc = rcluster_load(c->map, r, host, c->err, sizeof(c->err));
        freeReplyObject(r);
        if (rc == 0) {
            c->stale = 0;
            return 0;
        }
        snprintf(tried, sizeof(tried), "%s", c->err);
    }
    if (tried[0])
        snprintf(c->err, sizeof(c->err), "%s", tried);
    log_warn("event=redis_cluster_unreadable addr=%s err=\"%s\"", c->addr, c->err);
    return -1;
}

int rconn_connect(struct rconn *c, char *err, size_t errlen)
{
    if (c->map) {
        if (c->stale)
            refresh(c);
        if (c->stale || !any_master(c))
            goto fail;
        c->err[0] = '\0';
        return 0;
    }
    if (c->ctx && !c->ctx->err)
        return 0;
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
        mx_add(MX_REDIS_RECONNECTS, 1);
    }
    c->ctx = dial(c, c->addr);
    if (!c->ctx)
        goto fail;
    c->err[0] = '\0';
    return 0;
fail:
    if (err)
        snprintf(err, errlen, "%s", c->err);
    return -1;
}

static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Sends cmd to node at (after ASKING when asking). Returns: owned reply, or
 * NULL when the node could not be reached (its connection dropped). */
static redisReply *node_call(struct rconn *c, const char *at, int asking, const char *cmd,
                             size_t len)
{
    redisContext *ctx = node_ctx(c, at);
    void *rep = NULL;
    if (!ctx) {
        c->stale = 1;
        return NULL;
    }
    if ((asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(ctx, cmd, len) != REDIS_OK)
        goto fail;
    if (asking) {
        if (redisGetReply(ctx, &rep) != REDIS_OK)
            goto fail;
        freeReplyObject(rep);
    }
    if (redisGetReply(ctx, &rep) != REDIS_OK)
        goto fail;
    return rep;
fail:
    snprintf(c->err, sizeof(c->err), "redis %s: %s", at, ctx->errstr);
    log_warn("event=redis_error addr=%s err=\"%s\"", at, ctx->errstr);
    mx_add(MX_REDIS_ERRORS, 1);
    node_drop(c, at);
    return NULL;
}

/* Sends a formatted command to the master serving its slot, following
 * MOVED and ASK, and waiting out a failover or a migration (a lost master,
 * TRYAGAIN, CLUSTERDOWN) for up to CLUSTER_WAIT_US. Borrowed: cmd. */
static redisReply *send_cluster(struct rconn *c, const char *cmd, size_t len)
{
    int slot = rcluster_formatted_slot(cmd, len);
    int64_t until = mono_us() + CLUSTER_WAIT_US;
    char ask[RCLUSTER_ADDR_MAX] = "", at[RCLUSTER_ADDR_MAX];
    int redirects = 0, first = 1;
    for (;;) {
        if (c->stale)
            refresh(c);
        const char *to = ask[0]      ? ask
                         : slot >= 0 ? rcluster_node_of(c->map, (unsigned)slot)
                                     : rcluster_master(c->map, 0);
        redisReply *r = NULL;
        if (to) {
            snprintf(at, sizeof(at), "%s", to);
            r = node_call(c, at, ask[0] != '\0', cmd, len);
        } else {
            snprintf(c->err, sizeof(c->err), "no node of %s serves slot %d", c->addr, slot);
        }
        if (r && r->type == REDIS_REPLY_ERROR) {
            unsigned s;
            char to_addr[RCLUSTER_ADDR_MAX];
            int kind = rcluster_redirect(r->str, r->len, &s, to_addr, sizeof(to_addr));
            if (kind && redirects++ < CLUSTER_MAX_REDIRECTS) {
                rcluster_full_addr(to_addr, sizeof(to_addr), at);
                mx_add(MX_REDIS_REDIRECTS, 1);
                freeReplyObject(r);
                ask[0] = '\0';
                if (kind == 2) {
                    snprintf(ask, sizeof(ask), "%s", to_addr);
                } else {
                    rcluster_set(c->map, s, to_addr);
                    c->stale = 1; /* a reshard moves more than one slot */
                }
                continue;
            }
            if (rcluster_transient(r->str, r->len) && mono_us() < until) {
                freeReplyObject(r);
                r = NULL;
            } else {
                return r;
            }
        } else if (r) {
            return r;
        }
        /* Lost, unserved or unsettled: again at once the first time (a
         * connection that had gone stale), then after a pause. */
        ask[0] = '\0';
        c->stale = 1;
        if (mono_us() >= until)
            return NULL;
        if (!first)
            pause_us(CLUSTER_PAUSE_US);
        first = 0;
    }
}

/* Sends a formatted command; on an I/O error reconnects once and retries.
 * Steals: cmd (hiredis-formatted, freed with redisFreeCommand). */
static redisReply *send_formatted(struct rconn *c, char *cmd, long long len)
{
    redisReply *r = NULL;
    if (c->map) {
        r = len > 0 ? send_cluster(c, cmd, (size_t)len) : NULL;
        redisFreeCommand(cmd);
        return r;
    }
    for (int attempt = 0; attempt < 2 && !r && len > 0; attempt++) {
        if (rconn_connect(c, NULL, 0) < 0)
            continue;
        void *rep = NULL;
        if (redisAppendFormattedCommand(c->ctx, cmd, (size_t)len) == REDIS_OK &&
            redisGetReply(c->ctx, &rep) == REDIS_OK) {
            r = rep;
            break;
        }
        snprintf(c->err, sizeof(c->err), "redis: %s", c->ctx->errstr);
        log_warn("event=redis_error addr=%s err=\"%s\"", c->addr, c->ctx->errstr);
        mx_add(MX_REDIS_ERRORS, 1);
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    redisFreeCommand(cmd);
    return r;
}

redisReply *rconn_cmdargv(struct rconn *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    return send_formatted(c, cmd, len);
}

redisReply *rconn_cmd(struct rconn *c, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return send_formatted(c, cmd, len);
}

redisReply *rconn_eval(struct rconn *c, const char *name, int nkeys, int argc, const char **args,
                       const size_t *lens)
{
    const struct script *s = script_get(name);
    const char **argv = xmalloc(sizeof(char *) * (size_t)(argc + 3));
    size_t *alens = xmalloc(sizeof(size_t) * (size_t)(argc + 3));
    int n = script_argv(s, 0, nkeys, argc, args, lens, argv, alens);
    redisReply *r = rconn_cmdargv(c, n, argv, alens);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        n = script_argv(s, 1, nkeys, argc, args, lens, argv, alens);
        r = rconn_cmdargv(c, n, argv, alens);
    }
    free(argv);
    free(alens);
    return r;
}
