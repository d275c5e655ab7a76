/* keys.c -- The per-object Redis names, and the cells they live in. */
#include "keys.h"
#include "ids.h"
#include "log.h"
#include "rconn.h"
#include "rslot.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned n_cells = 1;

int keys_set_cells(unsigned n)
{
    if (n < 1 || n > KEYS_CELLS_MAX)
        return -1;
    n_cells = n;
    return 0;
}

unsigned keys_cells(void)
{
    return n_cells;
}

unsigned keys_cell_of(const char *id)
{
    if (n_cells == 1)
        return 0;
    return rslot_crc16(id, strcspn(id, ".")) % n_cells;
}

const char *keys_cell_prefix(char *buf, size_t len, unsigned cell)
{
    if (n_cells == 1)
        snprintf(buf, len, "aa:");
    else
        snprintf(buf, len, "aa:{c%u}:", cell);
    return buf;
}

/* Fills buf with "aa:" + rest in cell, formatted; a name that would not fit
 * is KEYS_NONE: a name no record has, so the caller finds nothing (never a
 * cut name that could be another's). */
static const char *build(char *buf, size_t len, unsigned cell, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const char *build(char *buf, size_t len, unsigned cell, const char *fmt, ...)
{
    char pre[24];
    keys_cell_prefix(pre, sizeof(pre), cell);
    int p = snprintf(buf, len, "%s", pre);
    va_list ap;
    va_start(ap, fmt);
    int n = p < 0 || (size_t)p >= len ? -1 : vsnprintf(buf + p, len - (size_t)p, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)(p + n) >= len) {
        snprintf(buf, len, "%s", KEYS_NONE);
        log_warn("event=key_too_long format=\"%s\" max=%zu", fmt, len);
    }
    return buf;
}

const char *keys_in_cell(char *buf, size_t len, const char *name, unsigned cell)
{
    if (strncmp(name, "aa:", 3) == 0)
        return build(buf, len, cell, "%s", name + 3);
    /* a name of the operator's (--stream): the tag in front */
    int n =
        n_cells == 1 ? snprintf(buf, len, "%s", name) : snprintf(buf, len, "{c%u}:%s", cell, name);
    if (n < 0 || (size_t)n >= len)
        snprintf(buf, len, "%s", KEYS_NONE);
    return buf;
}

const char *keys_any_cell(char *buf, size_t len, const char *name)
{
    int aa = strncmp(name, "aa:", 3) == 0;
    int n = n_cells == 1 ? snprintf(buf, len, "%s", name)
            : aa         ? snprintf(buf, len, "aa:{c*}:%s", name + 3)
                         : snprintf(buf, len, "{c*}:%s", name);
    if (n < 0 || (size_t)n >= len)
        snprintf(buf, len, "%s", KEYS_NONE);
    return buf;
}

int keys_cell_in(const char *name)
{
    if (n_cells == 1)
        return strncmp(name, "aa:", 3) == 0 ? 0 : -1;
    const char *p = strncmp(name, "aa:", 3) == 0 ? name + 3 : name;
    char *end;
    if (strncmp(p, "{c", 2) != 0 || p[2] < '0' || p[2] > '9')
        return -1;
    long cell = strtol(p + 2, &end, 10);
    if (strncmp(end, "}:", 2) != 0 || cell >= (long)n_cells)
        return -1;
    return (int)cell;
}

const char *keys_id_of(const char *name, const char *kind)
{
    if (strncmp(name, "aa:", 3) != 0)
        return NULL;
    const char *p = name + 3;
    long cell = 0;
    if (n_cells > 1) {
        char *end;
        if (strncmp(p, "{c", 2) != 0 || p[2] < '0' || p[2] > '9')
            return NULL;
        cell = strtol(p + 2, &end, 10);
        if (strncmp(end, "}:", 2) != 0)
            return NULL;
        p = end + 2;
    }
    size_t k = strlen(kind);
    if (strncmp(p, kind, k) != 0 || !p[k] || keys_cell_of(p + k) != (unsigned)cell)
        return NULL;
    return p + k;
}

unsigned keys_cells_default(int cluster, unsigned want)
{
    return want ? want : cluster ? 16 : 1;
}

int keys_cells_adopt(const redisReply *r, unsigned want, unsigned dflt, char *err, size_t errlen)
{
    if (!r || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING)) {
        snprintf(err, errlen, "reading %s: %s", KEYS_CELLS,
                 !r                             ? "Redis is unreachable"
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "not a string");
        return -1;
    }
    char *end = NULL;
    unsigned long have = r->type == REDIS_REPLY_NIL ? dflt : strtoul(r->str, &end, 10);
    if ((end && *end) || have < 1 || have > KEYS_CELLS_MAX) {
        snprintf(err, errlen, "%s holds '%s', not a number of cells 1-%d", KEYS_CELLS, r->str,
                 KEYS_CELLS_MAX);
        return -1;
    }
    if (want && have != want) {
        snprintf(err, errlen,
                 "this deployment has %lu cells (%s), not the %u asked for: cells are fixed "
                 "when a deployment starts",
                 have, KEYS_CELLS, want);
        return -1;
    }
    keys_set_cells((unsigned)have);
    return 0;
}

int keys_cells_setup(struct rconn *rc, unsigned want, char *err, size_t errlen)
{
    unsigned dflt = keys_cells_default(rconn_is_cluster(rc), want);
    redisReply *r = rconn_cmd(rc, "SET %s %u NX GET", KEYS_CELLS, dflt);
    if (!r) {
        snprintf(err, errlen, "reading %s: %s", KEYS_CELLS, rconn_error(rc));
        return -1;
    }
    int ok = keys_cells_adopt(r, want, dflt, err, errlen);
    freeReplyObject(r);
    return ok;
}

int keys_cells_read(struct rconn *rc, unsigned want, char *err, size_t errlen)
{
    unsigned dflt = keys_cells_default(rconn_is_cluster(rc), want);
    redisReply *r = rconn_cmd(rc, "GET %s", KEYS_CELLS);
    if (!r) {
        snprintf(err, errlen, "reading %s: %s", KEYS_CELLS, rconn_error(rc));
        return -1;
    }
    int ok = keys_cells_adopt(r, want, dflt, err, errlen);
    freeReplyObject(r);
    return ok;
}

int keys_cells_start(const char *addr, unsigned want, int wait_ms, char *err, size_t errlen)
{
    struct rconn *rc = rconn_new(addr);
    int64_t until = mono_us() + (int64_t)wait_ms * 1000;
    int rc_ok;
    while ((rc_ok = rconn_connect(rc, err, errlen)) < 0 && mono_us() < until)
        usleep(200000);
    if (rc_ok == 0)
        rc_ok = keys_cells_setup(rc, want, err, errlen);
    rconn_free(rc);
    return rc_ok;
}

const char *keys_exec(char *buf, size_t len, const char *eid)
{
    return build(buf, len, keys_cell_of(eid), "exec:%s", eid);
}

const char *keys_cb(char *buf, size_t len, const char *cbid)
{
    return build(buf, len, keys_cell_of(cbid), "cb:%s", cbid);
}

const char *keys_outbox(char *buf, size_t len, const char *sid)
{
    return build(buf, len, keys_cell_of(sid), "outbox:%s", sid);
}

const char *keys_session(char *buf, size_t len, const char *sid, const char *what)
{
    return build(buf, len, keys_cell_of(sid), "session:%s:%s", sid, what);
}

const char *keys_conn(char *buf, size_t len, const char *cid, unsigned cell)
{
    return build(buf, len, cell, "conn:%s", cid);
}

const char *keys_node(char *buf, size_t len, const char *node, unsigned cell)
{
    return build(buf, len, cell, "node:%s", node);
}

const char *keys_node_conns(char *buf, size_t len, const char *node, unsigned cell)
{
    return build(buf, len, cell, "node:%s:conns", node);
}

const char *keys_push(char *buf, size_t len, const char *node, unsigned cell)
{
    return build(buf, len, cell, "push:%s", node);
}

const char *keys_mcp_session(char *buf, size_t len, const char *id)
{
    return build(buf, len, keys_cell_of(id), "mcp:session:%s", id);
}

const char *keys_mcp_tasks(char *buf, size_t len, const char *owner, unsigned cell)
{
    return build(buf, len, cell, "mcp:tasks:%s", owner);
}

int keys_random_id(char *out, size_t outlen, const char *prefix, size_t nbytes, int b64,
                   unsigned cell)
{
    if (cell >= keys_cells())
        return -1;
    for (int i = 0; i < 64 * KEYS_CELLS_MAX; i++) {
        int rc = b64 ? id_random_b64(out, outlen, prefix, nbytes)
                     : id_random(out, outlen, prefix, nbytes);
        if (rc < 0)
            return -1;
        if (keys_cell_of(out) == cell)
            return 0;
    }
    return -1;
}
