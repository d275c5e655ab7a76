/* rconn.c -- Reconnecting blocking hiredis connection with script loading. */
#include "rconn.h"
#include "log.h"
#include "mx.h"
#include "script.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rconn {
    char *addr;
    redisContext *ctx;
    char err[256];
};

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
    return c;
}

void rconn_free(struct rconn *c)
{
    if (!c)
        return;
    if (c->ctx)
        redisFree(c->ctx);
    free(c->addr);
    free(c);
}

const char *rconn_error(const struct rconn *c)
{
    return c->err;
}

redisContext *rconn_ctx(struct rconn *c)
{
    return c->ctx;
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

int rconn_connect(struct rconn *c, char *err, size_t errlen)
{
    char host[256];
    int port, is_unix;
    if (c->ctx && !c->ctx->err)
        return 0;
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
        mx_add(MX_REDIS_RECONNECTS, 1);
    }
    if (rconn_parse_addr(c->addr, host, sizeof(host), &port, &is_unix) < 0) {
        snprintf(c->err, sizeof(c->err), "bad Redis address '%s'", c->addr);
        goto fail;
    }
    struct timeval tv = {2, 0};
    c->ctx =
        is_unix ? redisConnectUnixWithTimeout(host, tv) : redisConnectWithTimeout(host, port, tv);
    if (!c->ctx || c->ctx->err) {
        snprintf(c->err, sizeof(c->err), "connect %s: %s", c->addr,
                 c->ctx ? c->ctx->errstr : "out of memory");
        goto fail;
    }
    struct timeval rw = {30, 0}; /* BLOCK timeouts are shorter than this */
    redisSetTimeout(c->ctx, rw);
    if (load_scripts(c->ctx, c->err, sizeof(c->err)) < 0)
        goto fail;
    c->err[0] = '\0';
    return 0;
fail:
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    if (err)
        snprintf(err, errlen, "%s", c->err);
    return -1;
}

/* Sends a formatted command; on an I/O error reconnects once and retries.
 * Steals: cmd (hiredis-formatted, freed with redisFreeCommand). */
static redisReply *send_formatted(struct rconn *c, char *cmd, long long len)
{
    redisReply *r = NULL;
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
