/* gw_mcp_rpc.c -- The ground floor of the MCP endpoint: JSON-RPC messages,
 * tool results and Task objects, the held-request helpers, and the cache
 * of MCP sessions. Everything above uses it; it calls nothing above it
 * (gw_mcp.c -> gw_mcp_task.c -> gw_mcp_call.c -> gw_mcp_rpc.c). */
#include "gw_mcp_int.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the session cache ------------------------------------------------------- */

/* MCP sessions known to exist, so that a request need not ask Redis each
 * time: an entry is trusted for --mcp-session-trust-ms after Redis said so,
 * and is dropped at once when any gateway ends the session (DELETE publishes
 * the end on KEYS_MCP_CANCEL). A session belongs to the token subject that
 * opened it; for any other it is unknown. */
#define SESSION_TRUST_MAX 10000
struct known_session {
    int64_t until_ms;
    char owner[128];
};

void mcp_session_forget(struct gw_mcp *m, const char *sid)
{
    free(strmap_del(m->known, sid));
}

void mcp_session_trust(const struct gw_server *s, const char *sid, const char *owner)
{
    struct gw_mcp *m = s->mcp;
    if (s->cfg.mcp_session_trust_ms <= 0)
        return;
    if (strmap_size(m->known) >= SESSION_TRUST_MAX) {
        strmap_free_values(m->known);
        m->known = strmap_new();
    }
    mcp_session_forget(m, sid);
    struct known_session *k = xmalloc(sizeof(*k));
    k->until_ms = mono_us() / 1000 + s->cfg.mcp_session_trust_ms;
    strlcpy_aa(k->owner, owner, sizeof(k->owner));
    strmap_set(m->known, sid, k);
}

/* 1 when sid is trusted and belongs to owner. */
int mcp_session_trusted(struct gw_mcp *m, const char *sid, const char *owner)
{
    struct known_session *k = strmap_get(m->known, sid);
    if (k && k->until_ms <= mono_us() / 1000) {
        mcp_session_forget(m, sid);
        k = NULL;
    }
    return k && !strcmp(k->owner, owner);
}

/* ---- JSON-RPC and tool results ---------------------------------------------- */

json_t *mcp_rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                     result);
}

json_t *mcp_rpc_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

/* A CallToolResult reporting a tool error (isError, as the spec wants for
 * errors the model can act on). */
json_t *mcp_tool_error(const char *text)
{
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError",
                     1);
}

static void iso_time(const char *ms_text, char *out, size_t len)
{
    long long ms = ms_text ? atoll(ms_text) : 0;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03lldZ", ms % 1000);
}

/* A Task from the execution's fields. Returns: owned. */
json_t *mcp_task_json(const char *eid, const char *st, const char *created, const char *updated,
                      const char *ttl, const char *result)
{
    const char *status = "working", *msg = "a tool worker is running it";
    if (!st || !strcmp(st, "ready")) {
        msg = "queued for a tool worker";
    } else if (!strcmp(st, "suspended")) {
        msg = "waiting for the desktop client to answer";
    } else if (!strcmp(st, "succeeded")) {
        status = "completed";
        msg = "the result is ready (tasks/result)";
    } else if (!strcmp(st, "cancelled")) {
        status = "cancelled";
        msg = result && *result ? result : "cancelled";
    } else if (mcp_ended(st)) {
        status = "failed";
        msg = result && *result ? result : st;
    }
    char c[40], u[40];
    iso_time(created, c, sizeof(c));
    iso_time(updated ? updated : created, u, sizeof(u));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i}", "taskId", eid, "status", status,
                     "statusMessage", msg, "createdAt", c, "lastUpdatedAt", u, "ttl",
                     (json_int_t)(ttl ? atoll(ttl) : TASK_TTL_DEFAULT_MS), "pollInterval",
                     TASK_POLL_MS);
}

int mcp_ended(const char *st)
{
    return st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "timed_out") ||
                  !strcmp(st, "cancelled"));
}

/* The CallToolResult of an ended execution. Returns: owned. */
json_t *mcp_tool_result(const char *status, const char *result)
{
    if (!status || strcmp(status, "succeeded") != 0)
        return mcp_tool_error(result && *result ? result : "the tool execution failed");
    json_t *res = json_loads(result ? result : "", 0, NULL);
    if (!json_is_object(res)) {
        json_decref(res);
        return mcp_tool_error("the tool returned no result");
    }
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
    json_t *structured = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(structured))
        json_object_set_new(res, "structuredContent", structured);
    else
        json_decref(structured);
    return res;
}

/* The string of element i of an array reply, or NULL. Borrowed. */
const char *mcp_rstr(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* The owner an MCP request acts as: the token's subject ("-" in dev mode). */
/* Who owns MCP sessions, calls and tasks: the OAuth client (azp) that got
 * the token, else its subject. */
const char *mcp_owner_of(const struct jwt_claims *cl)
{
    return cl->azp[0] ? cl->azp : cl->sub[0] ? cl->sub : "-";
}

int mcp_forbidden_reply(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           !strcmp(r->str, "forbidden");
}

/* ---- MCP: methods -------------------------------------------------------- */

/* Answers and ends the hold the session check took. */
void mcp_reply_held(struct gw_conn *c, int status, json_t *j)
{
    gw_conn_http_json(c, status, j, NULL);
    gw_conn_http_release(c);
    gw_conn_unref(c);
}

/* A request whose answer needs one more Redis read. Owns the hold. */
struct pending *mcp_pending_new(struct gw_conn *c, json_t *id, const char *eid,
                                const struct jwt_claims *cl)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->id = json_incref(id ? id : json_null());
    strlcpy_aa(p->eid, eid ? eid : "", sizeof(p->eid));
    strlcpy_aa(p->owner, mcp_owner_of(cl), sizeof(p->owner));
    return p;
}

/* Answers (when the request is still there) and frees. Steals: msg. */
void mcp_pending_reply(struct pending *p, json_t *msg)
{
    if (msg && gw_conn_http_pending(p->c))
        gw_conn_http_json(p->c, 200, msg, NULL);
    else
        json_decref(msg);
    gw_conn_http_release(p->c);
    gw_conn_unref(p->c);
    json_decref(p->id);
    free(p);
}
