/* gw_mcp_call.c -- MCP requests held on the event loop (no thread) until
 * their execution ends: tools/call answered as JSON or as a stream of
 * server-sent events with progress, resumable with Last-Event-ID; the GET
 * streams of a session (keepalives, task status notifications); the ends
 * and cancellations every gateway hears. */
#include "dur_exec.h"
#include "gw_auth.h"
#include "gw_mcp_int.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "tooldef.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- MCP: requests held until an execution ends ---------------------------- */

static void calls_unlink(struct call *k)
{
    struct strmap *calls = k->m->calls;
    struct call *head = strmap_get(calls, k->eid);
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

struct call *mcp_call_new(struct gw_conn *c, json_t *id, const char *eid, int kind)
{
    struct gw_mcp *m = gw_server_of(c)->mcp;
    struct call *k = xcalloc(1, sizeof(*k));
    k->m = m;
    k->c = c;
    k->id = json_incref(id ? id : json_null());
    k->kind = kind;
    strlcpy_aa(k->eid, eid, sizeof(k->eid));
    k->next = strmap_get(m->calls, eid);
    strmap_set(m->calls, eid, k);
    k->a_next = m->all_calls;
    if (m->all_calls)
        m->all_calls->a_prev = k;
    m->all_calls = k;
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
void mcp_call_done(struct call *k)
{
    if (k->ended)
        return;
    k->ended = 1;
    calls_unlink(k);
    if (k->req_key) {
        if (strmap_get(k->m->reqs, k->req_key) == k)
            strmap_del(k->m->reqs, k->req_key);
        free(k->req_key);
        k->req_key = NULL;
    }
    if (k->a_prev)
        k->a_prev->a_next = k->a_next;
    else
        k->m->all_calls = k->a_next;
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
void mcp_sse_begin(struct call *k)
{
    gw_conn_http_write(k->c, sse_headers, sizeof(sse_headers) - 1);
    char prime[128];
    snprintf(prime, sizeof(prime), "id: %s/%d\nretry: 1000\ndata: \n\n", k->eid, k->events);
    gw_conn_http_write(k->c, prime, strlen(prime));
    k->sse = 1;
}

void mcp_sse_progress(struct call *k, const char *message)
{
    k->progress++;
    sse_send(k, json_pack("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
                          "notifications/progress", "params", "progressToken", k->progress_token,
                          "progress", k->progress, "message", message));
}

/* Answers a held request. Steals: msg. */
void mcp_call_answer(struct call *k, json_t *msg)
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
        json_t *res = status ? mcp_tool_result(status, result)
                             : mcp_tool_error("Redis is unavailable: ask again (tasks/result)");
        if (k->kind == K_TASK_RESULT)
            json_object_set_new(res, "_meta",
                                json_pack("{s:{s:s}}", RELATED_TASK, "taskId", k->eid));
        mcp_call_answer(k, mcp_rpc_result(k->id, res));
    }
    mcp_call_done(k);
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
    call_finish_with(k, r && r->type == REDIS_REPLY_ARRAY ? mcp_rstr(r, 0) : NULL, mcp_rstr(r, 1));
}

/* The execution ended: read its outcome and answer. */
static void finish_call(struct gw_server *s, struct call *k)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), k->eid);
    const char *argv[] = {"HMGET", key, "status", "result"};
    calls_unlink(k); /* no second answer from a late notification */
    k->polls++;
    rasync_cmdargv(s->cmd, on_result, k, 4, argv, NULL);
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
        mcp_call_done(k);
        return;
    }
    const char *st = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    if (k->progress_token && k->progress < 2 && st && !strcmp(st, "suspended"))
        mcp_sse_progress(k, "waiting for the desktop client to answer");
    if (r && r->type == REDIS_REPLY_NIL) {
        mcp_call_answer(k, mcp_rpc_error(k->id, -32602, "the execution is unknown or has expired"));
        mcp_call_done(k);
    } else if (mcp_ended(st)) {
        finish_call(gw_server_of(k->c), k);
    }
}

void mcp_poll_now(struct call *k)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), k->eid);
    const char *argv[] = {"HGET", key, "status"};
    k->polls++;
    rasync_cmdargv(gw_server_of(k->c)->cmd, on_poll, k, 3, argv, NULL);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct call *k = arg;
    if (k->sse && !k->progress_token)
        gw_conn_http_write(k->c, ": keepalive\n\n", 13);
    mcp_poll_now(k);
}

void mcp_call_watch(struct call *k, int period_ms)
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

/* Unlinks *p from streams and lets its connection go. */
static void stream_drop(struct stream **p)
{
    struct stream *st = *p;
    *p = st->next;
    gw_conn_http_release(st->c);
    gw_conn_unref(st->c);
    free(st);
}

static void streams_prune(struct gw_mcp *m, int all)
{
    for (struct stream **p = &m->streams; *p;) {
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
    struct gw_mcp *m = arg;
    streams_prune(m, 0);
    for (struct stream *st = m->streams; st; st = st->next)
        gw_conn_http_write(st->c, ": keepalive\n\n", 13);
}

void mcp_stream_open(struct gw_conn *c, const char *session)
{
    struct gw_mcp *m = gw_server_of(c)->mcp;
    static const char open[] = "retry: 1000\n: stream open\n\n";
    gw_conn_http_write(c, sse_headers, sizeof(sse_headers) - 1);
    gw_conn_http_write(c, open, sizeof(open) - 1);
    struct stream *st = xcalloc(1, sizeof(*st));
    st->c = c;
    strlcpy_aa(st->session, session, sizeof(st->session));
    st->next = m->streams;
    m->streams = st;
    if (!m->keepalive) {
        m->keepalive = event_new(gw_server_of(c)->base, -1, EV_PERSIST, keepalive_cb, m);
        struct timeval every = {KEEPALIVE_S, 0};
        if (m->keepalive)
            event_add(m->keepalive, &every);
    }
}

struct status_note {
    struct gw_mcp *m;
    char eid[64];
};

/* A task ended: tell the GET streams of its MCP session. */
static void on_status_note(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct status_note *n = arg;
    const char *session = mcp_rstr(r, 0);
    if (session && mcp_rstr(r, 3)) {
        for (struct stream *st = n->m->streams; st; st = st->next) {
            if (strcmp(st->session, session) != 0 || !gw_conn_http_pending(st->c))
                continue;
            sse_write(st->c, NULL,
                      json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
                                "notifications/tasks/status", "params",
                                mcp_task_json(n->eid, mcp_rstr(r, 1), mcp_rstr(r, 2),
                                              mcp_rstr(r, 4), mcp_rstr(r, 3), mcp_rstr(r, 5))));
        }
    }
    free(n);
}

void mcp_calls_ended(struct gw_server *s, const char *msg)
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
    struct gw_mcp *m = s->mcp;
    struct call *k;
    while ((k = strmap_get(m->calls, eid)) != NULL) {
        if (mcp_ended(status))
            call_finish_with(k, status, nl2 + 1);
        else
            finish_call(s, k);
    }
    if (m->streams && !strncmp(eid, "mcpt-", 5)) { /* only tasks have status notes */
        struct status_note *n = xcalloc(1, sizeof(*n));
        n->m = m;
        strlcpy_aa(n->eid, eid, sizeof(n->eid));
        char key[KEYS_MAX];
        keys_exec(key, sizeof(key), eid);
        const char *argv[] = {"HMGET",      key,           "mcp_session", "status",
                              "created_ms", "task_ttl_ms", "updated_ms",  "result"};
        rasync_cmdargv(s->cmd, on_status_note, n, 8, argv, NULL);
    }
}

/* Ends execution eid as cancelled (exec_finish.lua; owner "" = any). cb gets
 * the script's reply: "ok", "lost" (it had ended) or "notfound"; NULL when
 * Redis could not be asked. */
void mcp_cancel_exec(struct gw_server *s, const char *eid, const char *owner, rasync_reply_cb cb,
                     void *arg)
{
    char key[KEYS_MAX], now[24];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    struct scripts_exec_finish a = {.exec = key,
                                    .eid = eid,
                                    .worker = "",
                                    .status = "cancelled",
                                    .result = "cancelled by the MCP client",
                                    .now = now,
                                    .retention_s = "86400",
                                    .owner = owner};
    scripts_exec_finish_async(s->cmd, &a, cb, arg);
}

/* notifications/cancelled, from any gateway: the held tools/call it names
 * ends without an answer and its execution is cancelled. */
void mcp_calls_cancelled(struct gw_server *s, const char *key)
{
    struct gw_mcp *m = s->mcp;
    if (!strchr(key, '\n')) { /* a session ended: so do its GET streams here */
        mcp_session_forget(m, key);
        for (struct stream **p = &m->streams; *p;) {
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
    struct call *k = strmap_get(m->reqs, key);
    if (!k)
        return;
    mcp_cancel_exec(s, k->eid, "", NULL, NULL);
    log_info("event=mcp_call_cancelled exec=%s", k->eid);
    gw_conn_drop(k->c, "MCP request cancelled by the client");
    mcp_call_done(k);
}

void mcp_calls_end(struct gw_mcp *m)
{
    while (m->all_calls)
        mcp_call_done(m->all_calls);
    streams_prune(m, 1);
    if (m->keepalive) {
        event_free(m->keepalive);
        m->keepalive = NULL;
    }
}

static void on_started(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct call *k = arg;
    if ((!r || r->type == REDIS_REPLY_ERROR || mcp_forbidden_reply(r)) && !k->ended) {
        if (gw_conn_http_pending(k->c))
            mcp_call_answer(k, mcp_forbidden_reply(r)
                                   ? mcp_rpc_result(k->id, mcp_tool_error(NOT_YOURS))
                                   : mcp_rpc_error(k->id, -32603, "the tool could not be started"));
        mcp_call_done(k);
    }
}

static void on_task_started(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (mcp_forbidden_reply(r)) {
        mcp_pending_reply(p, mcp_rpc_result(p->id, mcp_tool_error(NOT_YOURS)));
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32603, "the task could not be started"));
        return;
    }
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", p->ttl_ms);
    mcp_pending_reply(
        p, mcp_rpc_result(p->id, json_pack("{s:o}", "task",
                                           mcp_task_json(p->eid, "ready", now, now, ttl, NULL))));
}

/* Called with the request held (gw_conn_http_hold + a reference): keeps
 * them until the execution ends, or answers at once and drops them. */
void mcp_tools_call(struct gw_conn *c, json_t *id, json_t *params, const struct jwt_claims *cl)
{
    struct gw_server *s = gw_server_of(c);
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    json_t *task = json_object_get(params, "task");
    struct tooldef def;
    if (!name || tooldef_find(name, &def) < 0) {
        mcp_reply_held(c, 200, mcp_rpc_error(id, -32602, "unknown tool"));
        return;
    }
    int pushes = def.mode == TOOLDEF_PUSH || !strcmp(name, "run_client_command");
    if (task && (!json_is_object(task) || pushes)) {
        char m[200];
        snprintf(m, sizeof(m), "%s does not run as a task (execution.taskSupport is forbidden)",
                 name);
        mcp_reply_held(c, 200,
                       mcp_rpc_error(id, json_is_object(task) ? -32601 : -32602,
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
        mcp_reply_held(c, 200, mcp_rpc_result(id, mcp_tool_error(msg)));
        return;
    }
    if (cl->sid[0] && strcmp(cl->sid, sid) != 0) {
        mcp_reply_held(
            c, 200, mcp_rpc_result(id, mcp_tool_error("this token is bound to another session")));
        return;
    }
    char eid[64];
    unsigned cell = keys_cell_of(sid); /* the execution lives with its session */
    keys_random_id(eid, sizeof(eid), task ? "mcpt-" : "mcp-", 12, 0, cell);
    char via[160];
    snprintf(via, sizeof(via), "mcp:%s", mcp_owner_of(cl));
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
    char stream[KEYS_MAX];
    keys_in_cell(stream, sizeof(stream), KEYS_STREAM_TOOL, cell);
    keys_mcp_tasks(index, sizeof(index), mcp_owner_of(cl), cell);
    /* the session must be the token subject's (exec_start checks its
     * owner), unless the token is an admin's */
    const char *must_own = gw_auth_is_admin(cl) ? "" : cl->sub;
    struct scripts_exec_start a = {.exec = key,
                                   .stream = stream,
                                   .tasks = index,
                                   .eid = eid,
                                   .handler = "tool",
                                   .input = input,
                                   .session = sid,
                                   .trace = trace,
                                   .now = now,
                                   .timeout_ms = TOOLDEF_EXEC_TIMEOUT_MS,
                                   .done_channel = KEYS_MCP_DONE,
                                   .owner = mcp_owner_of(cl),
                                   .mcp_session = req->mcp_session,
                                   .rpc_id = rpc_id,
                                   .task_ttl_ms = ttl,
                                   .must_own = must_own};
    log_info("event=mcp_call tool=%s session=%s exec=%s trace=%s sub=%s task=%d", name, sid, eid,
             trace, cl->sub, task != NULL);
    if (task) {
        struct pending *p = mcp_pending_new(c, id, eid, cl);
        p->ttl_ms = ttl_ms;
        scripts_exec_start_async(s->cmd, &a, on_task_started, p);
    } else {
        struct call *k = mcp_call_new(c, id, eid, K_CALL);
        char rk[400];
        snprintf(rk, sizeof(rk), "%s\n%s", req->mcp_session, rpc_id);
        k->req_key = xstrdup(rk);
        strmap_set(s->mcp->reqs, rk, k);
        json_t *tokv = json_object_get(json_object_get(params, "_meta"), "progressToken");
        if (tokv && (json_is_string(tokv) || json_is_integer(tokv)) &&
            strstr(req->accept, "text/event-stream")) {
            /* stream the answer: progress while the tool waits, then the result */
            k->progress_token = json_incref(tokv);
            mcp_sse_begin(k);
            char msg[96];
            snprintf(msg, sizeof(msg), "%s started", name);
            mcp_sse_progress(k, msg);
        }
        mcp_call_watch(k, k->progress_token ? 250 : 5000);
        scripts_exec_start_async(s->cmd, &a, on_started, k);
    }
    free(rpc_id);
    free(input);
}

/* GET with Last-Event-ID: the stream of a tools/call, resumed. */
void mcp_on_resume(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = mcp_rstr(r, 0), *session = mcp_rstr(r, 1), *rpc_id = mcp_rstr(r, 2);
    json_t *id = rpc_id ? json_loads(rpc_id, JSON_DECODE_ANY, NULL) : NULL;
    if (!gw_conn_http_pending(p->c) || !owner || strcmp(owner, p->owner) != 0 || !session ||
        strcmp(session, gw_conn_request(p->c)->mcp_session) != 0 || !id) {
        if (gw_conn_http_pending(p->c))
            gw_conn_http_error(p->c, 404, NULL, "no stream to resume for that Last-Event-ID", NULL);
        json_decref(id);
        mcp_pending_reply(p, NULL);
        return;
    }
    struct call *k = mcp_call_new(p->c, id, p->eid, K_RESUME);
    json_decref(id);
    const char *slash = strrchr(gw_conn_request(p->c)->last_event_id, '/');
    k->events = slash ? atoi(slash + 1) : 0;
    json_decref(p->id);
    free(p);
    mcp_sse_begin(k);
    mcp_call_watch(k, 5000);
    mcp_poll_now(k);
}