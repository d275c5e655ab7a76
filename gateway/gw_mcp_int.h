/* gw_mcp_int.h -- What the three files of the MCP endpoint share and no
 * other file may see: its state (struct gw_mcp, owned by the server), the
 * held requests, and the JSON-RPC helpers. Include only from gw_mcp*.c.
 * gw_mcp.c: endpoint, JSON-RPC, sessions; gw_mcp_call.c: held calls and
 * streams; gw_mcp_task.c: tasks. */
#ifndef AA_GW_MCP_INT_H
#define AA_GW_MCP_INT_H

#include "gw_conn.h"
#include "gw_server.h"
#include "jwt.h"
#include "strmap.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#define RELATED_TASK "io.modelcontextprotocol/related-task"
#define NOT_YOURS "this token may not act on that session (it is not its subject's)"
#define TASK_TTL_DEFAULT_MS 86400000LL
#define TASK_TTL_MIN_MS 60000LL
#define TASK_TTL_MAX_MS (7 * 86400000LL)
#define TASK_POLL_MS 1000
#define TASKS_PAGE 100
#define KEEPALIVE_S 15

struct call;
struct stream;

struct gw_mcp {
    struct strmap *known;   /* MCP session id -> struct known_session (owned) */
    struct strmap *calls;   /* eid -> first struct call waiting on it */
    struct strmap *reqs;    /* "mcp session \n request id" -> struct call */
    struct call *all_calls; /* every held request */
    struct stream *streams; /* GET streams */
    struct event *keepalive;
};

enum call_kind {
    K_CALL,        /* tools/call: the CallToolResult */
    K_TASK_RESULT, /* tasks/result: the same, with the related-task _meta */
    K_RESUME,      /* GET with Last-Event-ID: a tools/call stream, resumed */
};

/* A held HTTP request waiting on an execution. Owns the request's hold and
 * a reference to the connection. */
struct call {
    struct gw_mcp *m;
    struct gw_conn *c;
    json_t *id;
    char eid[64];
    int kind;
    struct event *timer; /* safety net: looks at the execution now and then */
    int polls;           /* status reads in flight */
    int ended;           /* answered; freed when no read is in flight */
    int sse;             /* the answer is a stream of server-sent events */
    int events;          /* event ids sent: {eid}/{n} */
    json_t *progress_token;
    int progress;
    char *req_key;                /* mcp session + request id (notifications/cancelled) */
    struct call *next;            /* other requests waiting on the same execution */
    struct call *a_prev, *a_next; /* every held request */
};

/* A request whose answer needs one more Redis read. Owns the hold. */
struct pending {
    struct gw_conn *c;
    json_t *id;
    char eid[64];
    char owner[129];
    long long ttl_ms;
};

/* gw_mcp_rpc.c. JSON-RPC messages and tool results. Returns: owned. */
json_t *mcp_rpc_result(json_t *id, json_t *result);
json_t *mcp_rpc_error(json_t *id, int code, const char *message);
/* A CallToolResult reporting a tool error (isError). */
json_t *mcp_tool_error(const char *text);
/* The CallToolResult of an ended execution. */
json_t *mcp_tool_result(const char *status, const char *result);
/* A Task from the execution's fields. */
json_t *mcp_task_json(const char *eid, const char *st, const char *created, const char *updated,
                      const char *ttl, const char *result);
/* 1 for the status of an execution that has ended. */
int mcp_ended(const char *st);
/* Borrowed: the string of element i of an array reply, or NULL. */
const char *mcp_rstr(const redisReply *r, size_t i);
/* Borrowed: who owns MCP sessions, calls and tasks (azp, else sub, else "-"). */
const char *mcp_owner_of(const struct jwt_claims *cl);
/* 1 for a script's "forbidden" verdict (another subject's session). */
int mcp_forbidden_reply(const redisReply *r);

/* Answers a held request and ends the hold. Steals: j. */
void mcp_reply_held(struct gw_conn *c, int status, json_t *j);
/* Returns: owned, ended by mcp_pending_reply. */
struct pending *mcp_pending_new(struct gw_conn *c, json_t *id, const char *eid,
                                const struct jwt_claims *cl);
/* Answers (when the request is still there), ends the hold and frees p.
 * Steals: msg (may be NULL). */
void mcp_pending_reply(struct pending *p, json_t *msg);

/* The session cache: an MCP session Redis said exists is trusted for
 * --mcp-session-trust-ms; 1 when sid is trusted and belongs to owner. */
void mcp_session_forget(struct gw_mcp *m, const char *sid);
void mcp_session_trust(const struct gw_server *s, const char *sid, const char *owner);
int mcp_session_trusted(struct gw_mcp *m, const char *sid, const char *owner);

/* Held calls (gw_mcp_call.c). Returns: owned by the state, ended by
 * mcp_call_done. */
struct call *mcp_call_new(struct gw_conn *c, json_t *id, const char *eid, int kind);
void mcp_call_done(struct call *k);
/* Polls the execution every period_ms (a lost notification, progress). */
void mcp_call_watch(struct call *k, int period_ms);
void mcp_poll_now(struct call *k);
void mcp_sse_begin(struct call *k);
void mcp_sse_progress(struct call *k, const char *message);
/* Answers a held call. Steals: msg. */
void mcp_call_answer(struct call *k, json_t *msg);
/* A GET stream of session: keepalives and task status notes. */
void mcp_stream_open(struct gw_conn *c, const char *session);
/* Ends execution eid as cancelled (owner "" = any). cb (may be NULL) gets
 * the script's reply, NULL when Redis could not be asked. */
void mcp_cancel_exec(struct gw_server *s, const char *eid, const char *owner, rasync_reply_cb cb,
                     void *arg);
/* tools/call, with the request held: kept until the execution ends, or
 * answered at once. */
void mcp_tools_call(struct gw_conn *c, json_t *id, json_t *params, const struct jwt_claims *cl);
/* The HMGET owner mcp_session rpc_id of a stream to resume (arg: a pending). */
void mcp_on_resume(struct rasync *ra, redisReply *r, void *arg);
/* Ends every held call and stream. */
void mcp_calls_end(struct gw_mcp *m);
/* gw_mcp_done and gw_mcp_cancelled (gw_mcp.h). */
void mcp_calls_ended(struct gw_server *s, const char *msg);
void mcp_calls_cancelled(struct gw_server *s, const char *key);

/* tasks/get, tasks/result, tasks/cancel, tasks/list (gw_mcp_task.c), with
 * the request held. */
void mcp_tasks_method(struct gw_conn *c, const char *method, json_t *id, json_t *params,
                      const struct jwt_claims *cl);

#endif
