/* gw_mcp.c -- MCP over Streamable HTTP (revisions 2025-06-18 and
 * 2025-11-25) on the gateway's port; its tokens come from gw_oauth.c. */
#include "gw_mcp.h"
#include "dur_exec.h"
#include "gw_auth.h"
#include "gw_oauth.h"
#include "ids.h"
#include "jwt.h"
#include "keys.h"
#include "log.h"
#include "tooldef.h"
#include "util.h"

#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const versions[] = {"2025-11-25", "2025-06-18", NULL};

/* ---- MCP: JSON-RPC helpers ------------------------------------------------ */

#define RELATED_TASK "io.modelcontextprotocol/related-task"

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
static struct strmap *known; /* sid -> struct known_session (owned) */

static void session_forget(const char *sid)
{
    if (known)
        free(strmap_del(known, sid));
}

static void session_trust(const struct gw_server *s, const char *sid, const char *owner)
{
    if (s->cfg.mcp_session_trust_ms <= 0)
        return;
    if (!known || strmap_size(known) >= SESSION_TRUST_MAX) {
        strmap_free_values(known);
        known = strmap_new();
    }
    session_forget(sid);
    struct known_session *k = xmalloc(sizeof(*k));
    k->until_ms = mono_us() / 1000 + s->cfg.mcp_session_trust_ms;
    strlcpy_aa(k->owner, owner, sizeof(k->owner));
    strmap_set(known, sid, k);
}

/* 1 when sid is trusted and belongs to owner. */
static int session_trusted(const char *sid, const char *owner)
{
    struct known_session *k = known ? strmap_get(known, sid) : NULL;
    if (k && k->until_ms <= mono_us() / 1000) {
        session_forget(sid);
        k = NULL;
    }
    return k && !strcmp(k->owner, owner);
}
#define TASK_TTL_DEFAULT_MS 86400000LL
#define TASK_TTL_MIN_MS 60000LL
#define TASK_TTL_MAX_MS (7 * 86400000LL)
#define TASK_POLL_MS 1000
#define TASKS_PAGE 100
#define KEEPALIVE_S 15

static json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                     result);
}

static json_t *rpc_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

/* A CallToolResult reporting a tool error (isError, as the spec wants for
 * errors the model can act on). */
static json_t *tool_error(const char *text)
{
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError",
                     1);
}

/* The catalog as MCP tools: the built-in three and the custom entries
 * (tooldef), each with a session_id argument. */
static json_t *tool_defs(void)
{
    json_t *specs = tooldef_specs(), *out = json_array(), *t;
    size_t i;
    json_array_foreach(specs, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        struct tooldef d;
        if (tooldef_find(name, &d) < 0)
            continue;
        json_t *schema = json_deep_copy(json_object_get(t, "input_schema"));
        json_t *props = json_object_get(schema, "properties");
        if (!json_is_object(props)) {
            props = json_object();
            json_object_set_new(schema, "properties", props);
        }
        json_object_set_new(props, "session_id",
                            json_pack("{s:s, s:s}", "type", "string", "description",
                                      "the desktop client's session"));
        if (!json_is_array(json_object_get(schema, "required")))
            json_object_set_new(schema, "required", json_array());
        json_array_append_new(json_object_get(schema, "required"), json_string("session_id"));
        json_t *out_schema = json_pack("{s:s, s:{s:{s:s}, s:{s:s}}, s:[s]}", "type", "object",
                                       "properties", "status", "type", "string", "message", "type",
                                       "string", "required", "status");
        /* what waits for the desktop may run as a task; a push answers at once */
        int waits = d.mode == TOOLDEF_CALLBACK ||
                    (d.mode == TOOLDEF_BUILTIN && strcmp(name, "run_client_command") != 0);
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:O, s:o, s:o, s:{s:b, s:b}, s:{s:s}}", "name", name,
                           "title", d.title, "description", json_object_get(t, "description"),
                           "inputSchema", schema, "outputSchema", out_schema, "annotations",
                           "readOnlyHint", !d.changes, "openWorldHint", 1, "execution",
                           "taskSupport", waits ? "optional" : "forbidden"));
    }
    json_decref(specs);
    return out;
}

static int ended(const char *st)
{
    return st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "timed_out") ||
                  !strcmp(st, "cancelled"));
}

/* The CallToolResult of an ended execution. Returns: owned. */
static json_t *tool_result(const char *status, const char *result)
{
    if (!status || strcmp(status, "succeeded") != 0)
        return tool_error(result && *result ? result : "the tool execution failed");
    json_t *res = json_loads(result ? result : "", 0, NULL);
    if (!json_is_object(res)) {
        json_decref(res);
        return tool_error("the tool returned no result");
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
static json_t *task_json(const char *eid, const char *st, const char *created, const char *updated,
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
    } else if (ended(st)) {
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

/* The string of element i of an array reply, or NULL. Borrowed. */
static const char *rstr(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* The owner an MCP request acts as: the token's subject ("-" in dev mode). */
/* Who owns MCP sessions, calls and tasks: the OAuth client (azp) that got
 * the token, else its subject. */
static const char *owner_of(const struct jwt_claims *cl)
{
    return cl->azp[0] ? cl->azp : cl->sub[0] ? cl->sub : "-";
}

#define NOT_YOURS "this token may not act on that session (it is not its subject's)"

static int forbidden_reply(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           !strcmp(r->str, "forbidden");
}

/* ---- MCP: requests held until an execution ends ---------------------------- */

enum call_kind {
    K_CALL,        /* tools/call: the CallToolResult */
    K_TASK_RESULT, /* tasks/result: the same, with the related-task _meta */
    K_RESUME,      /* GET with Last-Event-ID: a tools/call stream, resumed */
};

/* A held HTTP request waiting on an execution. Owns the request's hold and
 * a reference to the connection. */
struct call {
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

static struct strmap *calls; /* eid -> first struct call */
static struct strmap *reqs;  /* req_key -> struct call */
static struct call *all_calls;

static void calls_unlink(struct call *k)
{
    struct call *head = calls ? strmap_get(calls, k->eid) : NULL;
    if (head == k) {
        if (k->next)
            strmap_set(calls, k->eid, k->next);
        else
            strmap_del(calls, k->eid);
    } else {
        for (; head; head = head->next)
            if (head->next == k) {
                head->next = k->next;
                break;
            }
    }
    k->next = NULL;
}

static struct call *call_new(struct gw_conn *c, json_t *id, const char *eid, int kind)
{
    struct call *k = xcalloc(1, sizeof(*k));
    k->c = c;
    k->id = json_incref(id ? id : json_null());
    k->kind = kind;
    strlcpy_aa(k->eid, eid, sizeof(k->eid));
    if (!calls) {
        calls = strmap_new();
        reqs = strmap_new();
    }
    k->next = strmap_get(calls, eid);
    strmap_set(calls, eid, k);
    k->a_next = all_calls;
    if (all_calls)
        all_calls->a_prev = k;
    all_calls = k;
    return k;
}

static void call_maybe_free(struct call *k)
{
    if (!k->ended || k->polls > 0)
        return;
    json_decref(k->id);
    json_decref(k->progress_token);
    free(k);
}

/* Ends the hold and forgets the call (freed now, or when its reads return). */
static void call_done(struct call *k)
{
    if (k->ended)
        return;
    k->ended = 1;
    calls_unlink(k);
    if (k->req_key) {
        if (strmap_get(reqs, k->req_key) == k)
            strmap_del(reqs, k->req_key);
        free(k->req_key);
        k->req_key = NULL;
    }
    if (k->a_prev)
        k->a_prev->a_next = k->a_next;
    else
        all_calls = k->a_next;
    if (k->a_next)
        k->a_next->a_prev = k->a_prev;
    if (k->timer) {
        event_free(k->timer);
        k->timer = NULL;
    }
    gw_conn_http_release(k->c);
    gw_conn_unref(k->c);
    call_maybe_free(k);
}

static const char sse_headers[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                  "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";

/* Writes one server-sent event carrying a JSON-RPC message; id may be NULL.
 * Steals: j. */
static void sse_write(struct gw_conn *c, const char *id, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    char *ev = xasprintf("%s%s%sevent: message\ndata: %s\n\n", id ? "id: " : "", id ? id : "",
                         id ? "\n" : "", txt);
    gw_conn_http_write(c, ev, strlen(ev));
    free(ev);
    free(txt);
    json_decref(j);
}

/* One event of a call's stream, with a resumable id. Steals: j. */
static void sse_send(struct call *k, json_t *j)
{
    char id[96];
    snprintf(id, sizeof(id), "%s/%d", k->eid, ++k->events);
    sse_write(k->c, id, j);
}

/* Starts an SSE answer: the headers, then a priming event (an id and no data)
 * so that a client that loses the stream can resume it with Last-Event-ID. */
static void sse_begin(struct call *k)
{
    gw_conn_http_write(k->c, sse_headers, sizeof(sse_headers) - 1);
    char prime[128];
    snprintf(prime, sizeof(prime), "id: %s/%d\nretry: 1000\ndata: \n\n", k->eid, k->events);
    gw_conn_http_write(k->c, prime, strlen(prime));
    k->sse = 1;
}

static void sse_progress(struct call *k, const char *message)
{
    k->progress++;
    sse_send(k, json_pack("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
                          "notifications/progress", "params", "progressToken", k->progress_token,
                          "progress", k->progress, "message", message));
}

/* Answers a held request. Steals: msg. */
static void call_answer(struct call *k, json_t *msg)
{
    if (k->sse) {
        sse_send(k, msg);
        gw_conn_http_end_stream(k->c);
    } else {
        gw_conn_http_json(k->c, 200, msg, NULL);
    }
}

/* Answers a waiting request with the outcome of its execution. */
static void call_finish_with(struct call *k, const char *status, const char *result)
{
    if (gw_conn_http_pending(k->c)) {
        json_t *res = status ? tool_result(status, result)
                             : tool_error("Redis is unavailable: ask again (tasks/result)");
        if (k->kind == K_TASK_RESULT)
            json_object_set_new(res, "_meta",
                                json_pack("{s:{s:s}}", RELATED_TASK, "taskId", k->eid));
        call_answer(k, rpc_result(k->id, res));
    }
    call_done(k);
}

static void on_result(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct call *k = arg;
    k->polls--;
    if (k->ended) {
        call_maybe_free(k);
        return;
    }
    call_finish_with(k, r && r->type == REDIS_REPLY_ARRAY ? rstr(r, 0) : NULL, rstr(r, 1));
}

/* The execution ended: read its outcome and answer. */
static void finish_call(struct gw_server *s, struct call *k)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), k->eid);
    const char *argv[] = {"HMGET", key, "status", "result"};
    calls_unlink(k); /* no second answer from a late notification */
    k->polls++;
    if (rasync_cmdargv(s->cmd, on_result, k, 4, argv, NULL) < 0)
        on_result(NULL, NULL, k);
}

/* Safety net for a lost notification, and progress for a streamed call. */
static void on_poll(struct rasync *ra, redisReply *r, void *arg)
{
    struct call *k = arg;
    (void)ra;
    k->polls--;
    if (k->ended) {
        call_maybe_free(k);
        return;
    }
    if (!gw_conn_http_pending(k->c)) {
        call_done(k);
        return;
    }
    const char *st = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    if (k->progress_token && k->progress < 2 && st && !strcmp(st, "suspended"))
        sse_progress(k, "waiting for the desktop client to answer");
    if (r && r->type == REDIS_REPLY_NIL) {
        call_answer(k, rpc_error(k->id, -32602, "the execution is unknown or has expired"));
        call_done(k);
    } else if (ended(st)) {
        finish_call(gw_server_of(k->c), k);
    }
}

static void poll_now(struct call *k)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), k->eid);
    const char *argv[] = {"HGET", key, "status"};
    if (rasync_cmdargv(gw_server_of(k->c)->cmd, on_poll, k, 3, argv, NULL) == 0)
        k->polls++;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct call *k = arg;
    if (k->sse && !k->progress_token)
        gw_conn_http_write(k->c, ": keepalive\n\n", 13);
    poll_now(k);
}

static void call_watch(struct call *k, int period_ms)
{
    k->timer = event_new(gw_server_of(k->c)->base, -1, EV_PERSIST, poll_cb, k);
    struct timeval every = {period_ms / 1000, (period_ms % 1000) * 1000};
    if (k->timer)
        event_add(k->timer, &every);
}

/* ---- MCP: GET streams ------------------------------------------------------ */

/* A standalone GET stream of a session: keepalives, and task status
 * notifications for the session's tasks. Owns the hold and a reference. */
struct stream {
    struct gw_conn *c;
    char session[129];
    struct stream *next;
};
static struct stream *streams;
static struct event *keepalive;

/* Unlinks *p from streams and lets its connection go. */
static void stream_drop(struct stream **p)
{
    struct stream *st = *p;
    *p = st->next;
    gw_conn_http_release(st->c);
    gw_conn_unref(st->c);
    free(st);
}

static void streams_prune(int all)
{
    for (struct stream **p = &streams; *p;) {
        if (all || !gw_conn_http_pending((*p)->c))
            stream_drop(p);
        else
            p = &(*p)->next;
    }
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    streams_prune(0);
    for (struct stream *st = streams; st; st = st->next)
        gw_conn_http_write(st->c, ": keepalive\n\n", 13);
}

static void stream_open(struct gw_conn *c, const char *session)
{
    static const char open[] = "retry: 1000\n: stream open\n\n";
    gw_conn_http_write(c, sse_headers, sizeof(sse_headers) - 1);
    gw_conn_http_write(c, open, sizeof(open) - 1);
    struct stream *st = xcalloc(1, sizeof(*st));
    st->c = c;
    strlcpy_aa(st->session, session, sizeof(st->session));
    st->next = streams;
    streams = st;
    if (!keepalive) {
        keepalive = event_new(gw_server_of(c)->base, -1, EV_PERSIST, keepalive_cb, NULL);
        struct timeval every = {KEEPALIVE_S, 0};
        if (keepalive)
            event_add(keepalive, &every);
    }
}

struct status_note {
    char eid[64];
};

/* A task ended: tell the GET streams of its MCP session. */
static void on_status_note(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct status_note *n = arg;
    const char *session = rstr(r, 0);
    if (session && rstr(r, 3)) {
        for (struct stream *st = streams; st; st = st->next) {
            if (strcmp(st->session, session) != 0 || !gw_conn_http_pending(st->c))
                continue;
            sse_write(st->c, NULL,
                      json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
                                "notifications/tasks/status", "params",
                                task_json(n->eid, rstr(r, 1), rstr(r, 2), rstr(r, 4), rstr(r, 3),
                                          rstr(r, 5))));
        }
    }
    free(n);
}

void gw_mcp_done(struct gw_server *s, const char *msg)
{
    /* "{eid}\n{status}\n{result}": the outcome comes with the news */
    char eid[64], status[16];
    const char *nl = strchr(msg, '\n'), *nl2 = nl ? strchr(nl + 1, '\n') : NULL;
    size_t n = nl ? (size_t)(nl - msg) : strlen(msg);
    if (n >= sizeof(eid))
        return;
    memcpy(eid, msg, n);
    eid[n] = '\0';
    if (!id_valid(eid, 63))
        return;
    status[0] = '\0';
    if (nl2 && (size_t)(nl2 - nl - 1) < sizeof(status)) {
        memcpy(status, nl + 1, (size_t)(nl2 - nl - 1));
        status[nl2 - nl - 1] = '\0';
    }
    struct call *k;
    while (calls && (k = strmap_get(calls, eid)) != NULL) {
        if (ended(status))
            call_finish_with(k, status, nl2 + 1);
        else
            finish_call(s, k);
    }
    if (streams && !strncmp(eid, "mcpt-", 5)) { /* only tasks have status notes */
        struct status_note *n = xcalloc(1, sizeof(*n));
        strlcpy_aa(n->eid, eid, sizeof(n->eid));
        char key[KEYS_MAX];
        keys_exec(key, sizeof(key), eid);
        const char *argv[] = {"HMGET",      key,           "mcp_session", "status",
                              "created_ms", "task_ttl_ms", "updated_ms",  "result"};
        if (rasync_cmdargv(s->cmd, on_status_note, n, 8, argv, NULL) < 0)
            free(n);
    }
}

/* Ends execution eid as cancelled (exec_finish.lua; owner "" = any). cb gets
 * the script's reply: "ok", "lost" (it had ended) or "notfound". Returns 0 /
 * -1 (not sent: cb is not called). */
static int cancel_exec(struct gw_server *s, const char *eid, const char *owner, rasync_reply_cb cb,
                       void *arg)
{
    char key[KEYS_MAX], now[24];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    const char *argv[] = {key, eid,     "",   "cancelled", "cancelled by the MCP client",
                          now, "86400", owner};
    return rasync_eval(s->cmd, cb, arg, "exec_finish", 1, 8, argv, NULL);
}

/* notifications/cancelled, from any gateway: the held tools/call it names
 * ends without an answer and its execution is cancelled. */
void gw_mcp_cancelled(struct gw_server *s, const char *key)
{
    if (!strchr(key, '\n')) { /* a session ended: so do its GET streams here */
        session_forget(key);
        for (struct stream **p = &streams; *p;) {
            struct stream *st = *p;
            if (strcmp(st->session, key) != 0) {
                p = &st->next;
                continue;
            }
            if (gw_conn_http_pending(st->c)) {
                static const char bye[] = ": session ended\n\n";
                gw_conn_http_write(st->c, bye, sizeof(bye) - 1);
                gw_conn_http_end_stream(st->c);
            }
            stream_drop(p);
        }
        return;
    }
    struct call *k = reqs ? strmap_get(reqs, key) : NULL;
    if (!k)
        return;
    cancel_exec(s, k->eid, "", NULL, NULL);
    log_info("event=mcp_call_cancelled exec=%s", k->eid);
    gw_conn_drop(k->c, "MCP request cancelled by the client");
    call_done(k);
}

void gw_mcp_shutdown(void)
{
    while (all_calls)
        call_done(all_calls);
    streams_prune(1);
    if (keepalive) {
        event_free(keepalive);
        keepalive = NULL;
    }
    strmap_free(calls);
    strmap_free(reqs);
    strmap_free_values(known);
    calls = reqs = known = NULL;
}

/* ---- MCP: methods -------------------------------------------------------- */

/* Answers and ends the hold the session check took. */
static void reply_held(struct gw_conn *c, int status, json_t *j)
{
    gw_conn_http_json(c, status, j, NULL);
    gw_conn_http_release(c);
    gw_conn_unref(c);
}

/* A request whose answer needs one more Redis read. Owns the hold. */
struct pending {
    struct gw_conn *c;
    json_t *id;
    char eid[64];
    char owner[129];
    long long ttl_ms;
};

static struct pending *pending_new(struct gw_conn *c, json_t *id, const char *eid,
                                   const struct jwt_claims *cl)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->id = json_incref(id ? id : json_null());
    strlcpy_aa(p->eid, eid ? eid : "", sizeof(p->eid));
    strlcpy_aa(p->owner, owner_of(cl), sizeof(p->owner));
    return p;
}

/* Answers (when the request is still there) and frees. Steals: msg. */
static void pending_reply(struct pending *p, json_t *msg)
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

static void on_started(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct call *k = arg;
    if ((!r || r->type == REDIS_REPLY_ERROR || forbidden_reply(r)) && !k->ended) {
        if (gw_conn_http_pending(k->c))
            call_answer(k, forbidden_reply(r)
                               ? rpc_result(k->id, tool_error(NOT_YOURS))
                               : rpc_error(k->id, -32603, "the tool could not be started"));
        call_done(k);
    }
}

static void on_task_started(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (forbidden_reply(r)) {
        pending_reply(p, rpc_result(p->id, tool_error(NOT_YOURS)));
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        pending_reply(p, rpc_error(p->id, -32603, "the task could not be started"));
        return;
    }
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", p->ttl_ms);
    pending_reply(p, rpc_result(p->id, json_pack("{s:o}", "task",
                                                 task_json(p->eid, "ready", now, now, ttl, NULL))));
}

/* Called with the request held (gw_conn_http_hold + a reference): keeps
 * them until the execution ends, or answers at once and drops them. */
static void tools_call(struct gw_conn *c, json_t *id, json_t *params, const struct jwt_claims *cl)
{
    struct gw_server *s = gw_server_of(c);
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    json_t *task = json_object_get(params, "task");
    struct tooldef def;
    if (!name || tooldef_find(name, &def) < 0) {
        reply_held(c, 200, rpc_error(id, -32602, "unknown tool"));
        return;
    }
    int pushes = def.mode == TOOLDEF_PUSH || !strcmp(name, "run_client_command");
    if (task && (!json_is_object(task) || pushes)) {
        char m[200];
        snprintf(m, sizeof(m), "%s does not run as a task (execution.taskSupport is forbidden)",
                 name);
        reply_held(c, 200,
                   rpc_error(id, json_is_object(task) ? -32601 : -32602,
                             json_is_object(task) ? m : "params.task must be an object"));
        return;
    }
    const char *sid = json_string_value(json_object_get(args, "session_id"));
    /* built-in tools route by their arguments; a catalog tool's arguments
     * must not look like a built-in's */
    const char *route = tooldef_route(args);
    if (def.mode != TOOLDEF_BUILTIN && !route[0])
        route = name;
    const char *bad = !json_is_object(args) ? "arguments must be an object"
                      : !sid                ? "session_id (a string) is required"
                      : !id_valid(sid, 128)
                          ? "session_id must be 1-128 characters of A-Z a-z 0-9 . _ : -"
                      : strcmp(route, name) != 0 ? "they do not fit the tool"
                                                 : NULL;
    if (bad) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid arguments: %s (see the tool's inputSchema)", bad);
        reply_held(c, 200, rpc_result(id, tool_error(msg)));
        return;
    }
    if (cl->sid[0] && strcmp(cl->sid, sid) != 0) {
        reply_held(c, 200, rpc_result(id, tool_error("this token is bound to another session")));
        return;
    }
    char eid[64];
    id_random(eid, sizeof(eid), task ? "mcpt-" : "mcp-", 12);
    char via[160];
    snprintf(via, sizeof(via), "mcp:%s", owner_of(cl));
    json_t *in = json_pack("{s:s, s:O, s:s}", "name", name, "arguments", args, "via", via);
    char *input = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    char *rpc_id = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
    const struct gw_req *req = gw_conn_request(c);
    char key[KEYS_MAX], now[24], trace[32], ttl[24] = "", index[KEYS_MAX];
    id_random(trace, sizeof(trace), "tr-", 8);
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    long long ttl_ms = 0;
    if (task) {
        json_int_t want = json_integer_value(json_object_get(task, "ttl"));
        ttl_ms = want > 0 ? (long long)want : TASK_TTL_DEFAULT_MS;
        ttl_ms = ttl_ms < TASK_TTL_MIN_MS   ? TASK_TTL_MIN_MS
                 : ttl_ms > TASK_TTL_MAX_MS ? TASK_TTL_MAX_MS
                                            : ttl_ms;
        snprintf(ttl, sizeof(ttl), "%lld", ttl_ms);
    }
    keys_mcp_tasks(index, sizeof(index), owner_of(cl));
    /* the session must be the token subject's (exec_start checks its
     * owner), unless the token is an admin's */
    const char *must_own = gw_auth_is_admin(cl) ? "" : cl->sub;
    const char *argv[] = {key,
                          KEYS_STREAM_TOOL,
                          index,
                          eid,
                          "tool",
                          input,
                          sid,
                          trace,
                          now,
                          "900000",
                          KEYS_MCP_DONE,
                          owner_of(cl),
                          req->mcp_session,
                          rpc_id,
                          ttl,
                          must_own};
    log_info("event=mcp_call tool=%s session=%s exec=%s trace=%s sub=%s task=%d", name, sid, eid,
             trace, cl->sub, task != NULL);
    if (task) {
        struct pending *p = pending_new(c, id, eid, cl);
        p->ttl_ms = ttl_ms;
        if (rasync_eval(s->cmd, on_task_started, p, "exec_start", 3, 16, argv, NULL) < 0)
            on_task_started(NULL, NULL, p);
    } else {
        struct call *k = call_new(c, id, eid, K_CALL);
        char rk[400];
        snprintf(rk, sizeof(rk), "%s\n%s", req->mcp_session, rpc_id);
        k->req_key = xstrdup(rk);
        strmap_set(reqs, rk, k);
        json_t *tokv = json_object_get(json_object_get(params, "_meta"), "progressToken");
        if (tokv && (json_is_string(tokv) || json_is_integer(tokv)) &&
            strstr(req->accept, "text/event-stream")) {
            /* stream the answer: progress while the tool waits, then the result */
            k->progress_token = json_incref(tokv);
            sse_begin(k);
            char msg[96];
            snprintf(msg, sizeof(msg), "%s started", name);
            sse_progress(k, msg);
        }
        call_watch(k, k->progress_token ? 250 : 5000);
        if (rasync_eval(s->cmd, on_started, k, "exec_start", 3, 16, argv, NULL) < 0)
            on_started(NULL, NULL, k);
    }
    free(rpc_id);
    free(input);
}

static void on_task_get(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = rstr(r, 0);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        pending_reply(p, rpc_error(p->id, -32603, "Redis is unavailable"));
    else if (!owner || strcmp(owner, p->owner) != 0 || !rstr(r, 4))
        pending_reply(p, rpc_error(p->id, -32602, "task not found"));
    else
        pending_reply(p, rpc_result(p->id, task_json(p->eid, rstr(r, 1), rstr(r, 2), rstr(r, 3),
                                                     rstr(r, 4), rstr(r, 5))));
}

static void task_read(struct gw_server *s, struct pending *p, rasync_reply_cb cb)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), p->eid);
    const char *argv[] = {"HMGET",      key,          "owner",       "status",
                          "created_ms", "updated_ms", "task_ttl_ms", "result"};
    if (rasync_cmdargv(s->cmd, cb, p, 8, argv, NULL) < 0)
        cb(NULL, NULL, p);
}

/* tasks/result: the held request becomes a call that waits for the end. */
static void on_task_result(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = rstr(r, 0);
    if (!r || r->type != REDIS_REPLY_ARRAY || !owner || strcmp(owner, p->owner) != 0 ||
        !rstr(r, 4) || !gw_conn_http_pending(p->c)) {
        on_task_get(ra, r, p);
        return;
    }
    struct call *k = call_new(p->c, p->id, p->eid, K_TASK_RESULT);
    json_decref(p->id);
    free(p);
    call_watch(k, 5000);
    poll_now(k); /* answers at once when the task has ended */
}

static void on_task_cancel(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *v =
        r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
    if (!v)
        pending_reply(p, rpc_error(p->id, -32603, "Redis is unavailable"));
    else if (!strcmp(v, "notfound"))
        pending_reply(p, rpc_error(p->id, -32602, "task not found"));
    else if (!strcmp(v, "lost"))
        pending_reply(p, rpc_error(p->id, -32602, "the task has already ended (terminal status)"));
    else
        task_read(gw_server_of(p->c), p, on_task_get);
}

static void on_task_list(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        pending_reply(p, rpc_error(p->id, -32603, "Redis is unavailable"));
        return;
    }
    json_t *tasks = json_array();
    for (size_t i = 1; i + 5 < r->elements; i += 6)
        json_array_append_new(tasks, task_json(rstr(r, i), rstr(r, i + 1), rstr(r, i + 2),
                                               rstr(r, i + 3), rstr(r, i + 4), rstr(r, i + 5)));
    json_t *res = json_pack("{s:o}", "tasks", tasks);
    if (rstr(r, 0) && *rstr(r, 0))
        json_object_set_new(res, "nextCursor", json_string(rstr(r, 0)));
    pending_reply(p, rpc_result(p->id, res));
}

/* tasks/get, tasks/result, tasks/cancel and tasks/list. Called with the
 * request held; answers (now or later) and drops the hold. */
static void tasks_method(struct gw_conn *c, const char *method, json_t *id, json_t *params,
                         const struct jwt_claims *cl)
{
    struct gw_server *s = gw_server_of(c);
    const char *tid = json_string_value(json_object_get(params, "taskId"));
    if (!strcmp(method, "tasks/list")) {
        json_t *cur = json_object_get(params, "cursor");
        const char *cs = json_string_value(cur);
        char off[24] = "0", page[16], index[KEYS_MAX];
        if (cur && (!cs || !*cs || strlen(cs) > 9 || strspn(cs, "0123456789") != strlen(cs))) {
            reply_held(c, 200, rpc_error(id, -32602, "invalid cursor"));
            return;
        }
        if (cs)
            strlcpy_aa(off, cs, sizeof(off));
        snprintf(page, sizeof(page), "%d", TASKS_PAGE);
        keys_mcp_tasks(index, sizeof(index), owner_of(cl));
        struct pending *p = pending_new(c, id, NULL, cl);
        const char *argv[] = {index, off, page};
        if (rasync_eval(s->cmd, on_task_list, p, "task_list", 1, 3, argv, NULL) < 0)
            on_task_list(NULL, NULL, p);
        return;
    }
    if (!tid || !id_valid(tid, 63)) {
        reply_held(c, 200, rpc_error(id, -32602, "params.taskId is missing or malformed"));
        return;
    }
    struct pending *p = pending_new(c, id, tid, cl);
    if (!strcmp(method, "tasks/get")) {
        task_read(s, p, on_task_get);
    } else if (!strcmp(method, "tasks/result")) {
        task_read(s, p, on_task_result);
    } else {
        log_info("event=mcp_task_cancel exec=%s sub=%s", tid, cl->sub);
        if (cancel_exec(s, tid, p->owner, on_task_cancel, p) < 0)
            on_task_cancel(NULL, NULL, p);
    }
}

/* GET with Last-Event-ID: the stream of a tools/call, resumed. */
static void on_resume(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = rstr(r, 0), *session = rstr(r, 1), *rpc_id = rstr(r, 2);
    json_t *id = rpc_id ? json_loads(rpc_id, JSON_DECODE_ANY, NULL) : NULL;
    if (!gw_conn_http_pending(p->c) || !owner || strcmp(owner, p->owner) != 0 || !session ||
        strcmp(session, gw_conn_request(p->c)->mcp_session) != 0 || !id) {
        if (gw_conn_http_pending(p->c))
            gw_conn_http_error(p->c, 404, NULL, "no stream to resume for that Last-Event-ID", NULL);
        json_decref(id);
        pending_reply(p, NULL);
        return;
    }
    struct call *k = call_new(p->c, id, p->eid, K_RESUME);
    json_decref(id);
    const char *slash = strrchr(gw_conn_request(p->c)->last_event_id, '/');
    k->events = slash ? atoi(slash + 1) : 0;
    json_decref(p->id);
    free(p);
    sse_begin(k);
    call_watch(k, 5000);
    poll_now(k);
}

/* DELETE /mcp: 200 when the caller's session ended, 404 when it had none. */
static void on_session_end(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (gw_conn_http_pending(p->c)) {
        if (!r || r->type == REDIS_REPLY_ERROR)
            gw_conn_http_json(p->c, 503, rpc_error(NULL, -32603, "Redis is unavailable"), NULL);
        else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            gw_conn_http_respond(p->c, 200, "application/json", "", 0, NULL);
        else
            gw_conn_http_json(p->c, 404, rpc_error(NULL, -32001, "unknown or ended MCP session"),
                              NULL);
    }
    pending_reply(p, NULL);
}

struct rpc_ctx {
    struct gw_conn *c;
    json_t *msg; /* NULL for a GET stream */
    struct jwt_claims cl;
};

/* The session exists (1), does not (0) or Redis failed (-1): dispatch the
 * held request. */
static void session_checked(struct rpc_ctx *x, int exists)
{
    struct gw_conn *c = x->c;
    json_t *id = json_object_get(x->msg, "id");
    const char *method = x->msg ? json_string_value(json_object_get(x->msg, "method")) : "GET";
    json_t *params = json_object_get(x->msg, "params");
    const struct gw_req *req = gw_conn_request(c);
    if (!gw_conn_http_pending(c)) {
        gw_conn_http_release(c);
        gw_conn_unref(c);
    } else if (exists < 0) {
        reply_held(c, 503, rpc_error(id, -32603, "Redis is unavailable"));
    } else if (!exists) {
        reply_held(c, 404, rpc_error(id, -32001, "unknown or ended MCP session: initialize again"));
    } else if (!x->msg) {
        char eid[64] = "";
        const char *slash = strrchr(req->last_event_id, '/');
        if (slash && (size_t)(slash - req->last_event_id) < sizeof(eid))
            memcpy(eid, req->last_event_id, (size_t)(slash - req->last_event_id));
        if (id_valid(eid, 63)) {
            struct pending *p = pending_new(c, NULL, eid, &x->cl);
            char key[KEYS_MAX];
            keys_exec(key, sizeof(key), eid);
            const char *argv[] = {"HMGET", key, "owner", "mcp_session", "rpc_id"};
            if (rasync_cmdargv(gw_server_of(c)->cmd, on_resume, p, 5, argv, NULL) < 0)
                on_resume(NULL, NULL, p);
        } else {
            stream_open(c, req->mcp_session);
        }
    } else if (!id) { /* notifications/cancelled, of the caller's own session */
        /* the gateway holding that request may be another one */
        char *rk = json_dumps(json_object_get(params, "requestId"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *note = xasprintf("%s\n%s", req->mcp_session, rk);
        const char *argv[] = {"PUBLISH", KEYS_MCP_CANCEL, note};
        rasync_cmdargv(gw_server_of(c)->cmd, NULL, NULL, 3, argv, NULL);
        free(note);
        free(rk);
        gw_conn_http_respond(c, 202, "application/json", "", 0, NULL);
        gw_conn_http_release(c);
        gw_conn_unref(c);
    } else if (!strcmp(method, "ping")) {
        reply_held(c, 200, rpc_result(id, json_object()));
    } else if (!strcmp(method, "tools/list")) {
        reply_held(c, 200, rpc_result(id, json_pack("{s:o}", "tools", tool_defs())));
    } else if (!strcmp(method, "tools/call")) {
        tools_call(c, id, params, &x->cl);
    } else if (!strcmp(method, "tasks/get") || !strcmp(method, "tasks/result") ||
               !strcmp(method, "tasks/cancel") || !strcmp(method, "tasks/list")) {
        tasks_method(c, method, id, params, &x->cl);
    } else {
        reply_held(c, 200, rpc_error(id, -32601, "method not found"));
    }
    json_decref(x->msg);
    free(x);
}

static void on_session(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct rpc_ctx *x = arg;
    const char *sid = gw_conn_request(x->c)->mcp_session;
    int exists = !r || r->type == REDIS_REPLY_ERROR ? -1 : r->type == REDIS_REPLY_STRING;
    if (exists == 1)
        session_trust(gw_server_of(x->c), sid, r->str);
    else if (exists == 0)
        session_forget(sid);
    /* another subject's session is as good as unknown */
    if (exists == 1 && strcmp(r->str, owner_of(&x->cl)) != 0)
        exists = 0;
    session_checked(x, exists);
}

/* Holds the request, checks its MCP session, then dispatches it (msg NULL:
 * a GET stream). */
static void session_then(struct gw_conn *c, json_t *msg, const struct jwt_claims *cl)
{
    const struct gw_req *req = gw_conn_request(c);
    char key[300];
    keys_mcp_session(key, sizeof(key), req->mcp_session);
    struct rpc_ctx *x = xcalloc(1, sizeof(*x));
    x->c = c;
    x->msg = json_incref(msg);
    x->cl = *cl;
    gw_conn_ref(c);
    gw_conn_http_hold(c);
    if (session_trusted(req->mcp_session, owner_of(cl))) {
        session_checked(x, 1);
        return;
    }
    const char *argv[] = {"GET", key};
    if (rasync_cmdargv(gw_server_of(c)->cmd, on_session, x, 2, argv, NULL) < 0)
        on_session(NULL, NULL, x);
}

static int version_ok(const char *v)
{
    for (int i = 0; versions[i]; i++)
        if (!strcmp(v, versions[i]))
            return 1;
    return 0;
}

struct init_ctx {
    struct gw_conn *c;
    json_t *id;
    char sess[64], owner[129], version[32];
};

/* The session record is written: only now is the answer sent, so the
 * client's next request finds it on any gateway. */
static void on_session_stored(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct init_ctx *x = arg;
    struct gw_conn *c = x->c;
    if (!gw_conn_http_pending(c)) {
        /* the client went away */
    } else if (!r || r->type == REDIS_REPLY_ERROR) {
        gw_conn_http_json(c, 503, rpc_error(x->id, -32603, "Redis is unavailable"), NULL);
    } else {
        char hdr[128];
        session_trust(gw_server_of(c), x->sess, x->owner);
        snprintf(hdr, sizeof(hdr), "Mcp-Session-Id: %s\r\n", x->sess);
        gw_conn_http_json(
            c, 200,
            rpc_result(
                x->id,
                json_pack(
                    "{s:s, s:{s:{s:b}, s:{s:{}, s:{}, s:{s:{s:{}}}}}, s:{s:s, s:s, s:s}, s:s}",
                    "protocolVersion", x->version, "capabilities", "tools", "listChanged", 0,
                    "tasks", "list", "cancel", "requests", "tools", "call", "serverInfo", "name",
                    "agent-async", "title", "agent-async desktop tools", "version", "0.1.0",
                    "instructions",
                    "Tools that act on a user's desktop through the "
                    "agent-async client of a session: pass session_id.")),
            hdr);
    }
    gw_conn_http_release(c);
    gw_conn_unref(c);
    json_decref(x->id);
    free(x);
}

static void initialize(struct gw_conn *c, json_t *id, json_t *params, const struct jwt_claims *cl)
{
    const char *want = json_string_value(json_object_get(params, "protocolVersion"));
    struct init_ctx *x = xcalloc(1, sizeof(*x));
    x->c = c;
    x->id = json_incref(id);
    id_random(x->sess, sizeof(x->sess), "mcp-s-", 16);
    strlcpy_aa(x->owner, owner_of(cl), sizeof(x->owner));
    strlcpy_aa(x->version, want && version_ok(want) ? want : versions[0], sizeof(x->version));
    char key[200];
    keys_mcp_session(key, sizeof(key), x->sess);
    const char *argv[] = {"SET", key, x->owner, "EX", "86400"};
    gw_conn_ref(c);
    gw_conn_http_hold(c);
    if (rasync_cmdargv(gw_server_of(c)->cmd, on_session_stored, x, 5, argv, NULL) < 0)
        on_session_stored(NULL, NULL, x);
}

static void mcp_endpoint(struct gw_conn *c, const struct gw_req *req)
{
    struct gw_server *s = gw_server_of(c);
    char base[600], hdr[900];
    gw_oauth_base_url(s, req, base, sizeof(base));
    /* DNS rebinding protection: on a gateway bound to loopback the Host must
     * name loopback, and a browser's Origin must be this server */
    if (s->cfg.loopback_bind && !gw_host_is_loopback(req->host)) {
        gw_conn_http_json(c, 403, rpc_error(NULL, -32600, "Host not allowed"), NULL);
        return;
    }
    if (req->origin[0] && !gw_origin_allowed(req->origin, s->tls != NULL, req->host)) {
        gw_conn_http_json(c, 403, rpc_error(NULL, -32600, "Origin not allowed"), NULL);
        return;
    }
    struct jwt_claims cl;
    const char *why = NULL;
    int ast = gw_auth_check(s, req, gw_conn_is_loopback(c), GW_SCOPE_MCP, 0, &cl, &why);
    if (ast) {
        snprintf(hdr, sizeof(hdr),
                 "WWW-Authenticate: Bearer %sresource_metadata=\"%s/.well-known/"
                 "oauth-protected-resource\"\r\n",
                 ast == 403 ? "error=\"insufficient_scope\", scope=\"mcp\", " : "", base);
        gw_conn_http_json(c, ast, rpc_error(NULL, -32001, why), hdr);
        return;
    }
    if (req->method == HTTP_GET) {
        /* a stream of the session: task status notifications, or the
         * resumption of a tools/call stream (Last-Event-ID) */
        if (!strstr(req->accept, "text/event-stream")) {
            gw_conn_http_error(c, 406, NULL, "GET /mcp needs Accept: text/event-stream", NULL);
        } else if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
            gw_conn_http_json(
                c, 400, rpc_error(NULL, -32600, "missing Mcp-Session-Id (initialize first)"), NULL);
        } else {
            session_then(c, NULL, &cl);
        }
        return;
    }
    if (req->method == HTTP_DELETE) {
        if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
            gw_conn_http_json(c, 400, rpc_error(NULL, -32600, "missing Mcp-Session-Id"), NULL);
            return;
        }
        char key[300];
        keys_mcp_session(key, sizeof(key), req->mcp_session);
        const char *argv[] = {key, owner_of(&cl), req->mcp_session};
        gw_conn_ref(c);
        gw_conn_http_hold(c);
        struct pending *p = pending_new(c, NULL, "", &cl);
        session_forget(req->mcp_session);
        if (rasync_eval(s->cmd, on_session_end, p, "mcp_session_end", 1, 3, argv, NULL) < 0)
            on_session_end(NULL, NULL, p);
        return;
    }
    if (req->method != HTTP_POST) {
        gw_conn_http_error(c, 405, NULL, "use POST", "Allow: POST, DELETE\r\n");
        return;
    }
    if (req->mcp_version[0] && !version_ok(req->mcp_version) &&
        strcmp(req->mcp_version, "2025-03-26") != 0) {
        gw_conn_http_json(c, 400, rpc_error(NULL, -32600, "unsupported MCP-Protocol-Version"),
                          NULL);
        return;
    }
    json_t *msg = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    if (!msg) {
        gw_conn_http_json(c, 400, rpc_error(NULL, -32700, "parse error"), NULL);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!json_is_object(msg) || !jv || strcmp(jv, "2.0") != 0) {
        gw_conn_http_json(c, 400, rpc_error(NULL, -32600, "invalid JSON-RPC request"), NULL);
        json_decref(msg);
        return;
    }
    /* MCP: a request's id is a string or an integer, never null; params
     * are an object; a message without a method is a response (whose id
     * may be null: an error about a request the client could not read) */
    const char *bad = NULL;
    if (!method && json_object_get(msg, "method"))
        bad = "method must be a string";
    else if (method && id && !json_is_string(id) && !json_is_integer(id))
        bad = "id must be a string or an integer";
    else if (!method &&
             (!id || (!json_object_get(msg, "result") && !json_object_get(msg, "error"))))
        bad = "neither a request, a notification nor a response";
    if (bad) {
        gw_conn_http_json(c, 400, rpc_error(NULL, -32600, bad), NULL);
        json_decref(msg);
        return;
    }
    if (json_object_get(msg, "params") && !json_is_object(json_object_get(msg, "params"))) {
        gw_conn_http_json(c, 400, rpc_error(id, -32602, "params must be an object"), NULL);
        json_decref(msg);
        return;
    }
    if (!method) { /* a response from the client: nothing to do */
        gw_conn_http_respond(c, 202, "application/json", "", 0, NULL);
        json_decref(msg);
        return;
    }
    if (!id) { /* a notification */
        json_t *rid = json_object_get(json_object_get(msg, "params"), "requestId");
        if (!strcmp(method, "notifications/cancelled") && rid && req->mcp_session[0] &&
            id_valid(req->mcp_session, 128)) {
            /* only the session's own client may cancel its requests */
            session_then(c, msg, &cl);
        } else {
            gw_conn_http_respond(c, 202, "application/json", "", 0, NULL);
        }
        json_decref(msg);
        return;
    }
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "initialize")) {
        initialize(c, id, params, &cl);
    } else if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
        gw_conn_http_json(c, 400,
                          rpc_error(id, -32600, "missing Mcp-Session-Id (initialize first)"), NULL);
    } else {
        session_then(c, msg, &cl);
    }
    json_decref(msg);
}

int gw_mcp_route(struct gw_server *s, struct gw_conn *c, const struct gw_req *req, const char *path)
{
    (void)s;
    if (strcmp(path, "/mcp") != 0)
        return 0;
    mcp_endpoint(c, req);
    return 1;
}
