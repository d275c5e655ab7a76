/* keys.c -- The per-object Redis names. */
#include "keys.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *build(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *build(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        /* an id too long for any record: a name no record has, so the
         * caller finds nothing (never a cut name that could be another's) */
        snprintf(buf, len, "%s", KEYS_NONE);
        log_warn("event=key_too_long format=\"%s\" max=%zu", fmt, len);
    }
    return buf;
}

const char *keys_exec(char *buf, size_t len, const char *eid)
{
    return build(buf, len, "aa:exec:%s", eid);
}

const char *keys_cb(char *buf, size_t len, const char *cbid)
{
    return build(buf, len, "aa:cb:%s", cbid);
}

const char *keys_outbox(char *buf, size_t len, const char *sid)
{
    return build(buf, len, "aa:outbox:%s", sid);
}

const char *keys_session(char *buf, size_t len, const char *sid, const char *what)
{
    return build(buf, len, "aa:session:%s:%s", sid, what);
}

const char *keys_conn(char *buf, size_t len, const char *cid)
{
    return build(buf, len, "aa:conn:%s", cid);
}

const char *keys_node(char *buf, size_t len, const char *node)
{
    return build(buf, len, "aa:node:%s", node);
}

const char *keys_node_conns(char *buf, size_t len, const char *node)
{
    return build(buf, len, "aa:node:%s:conns", node);
}

const char *keys_push(char *buf, size_t len, const char *node)
{
    return build(buf, len, "aa:push:%s", node);
}

const char *keys_mcp_session(char *buf, size_t len, const char *id)
{
    return build(buf, len, "aa:mcp:session:%s", id);
}

const char *keys_mcp_tasks(char *buf, size_t len, const char *owner)
{
    return build(buf, len, "aa:mcp:tasks:%s", owner);
}
