/* gw_mcp.c -- MCP over Streamable HTTP (revisions 2025-06-18 and
 * 2025-11-25) on the gateway's port: the /mcp endpoint (origin and token
 * checks, JSON-RPC validation), MCP sessions, initialize, ping and
 * tools/list. Tasks are gw_mcp_task.c's, held tools/call requests and
 * streams gw_mcp_call.c's, the JSON-RPC helpers gw_mcp_rpc.c's; tokens come
 * from gw_oauth.c. */
#include "gw_mcp.h"
#include "gw_auth.h"
#include "gw_mcp_int.h"
#include "gw_oauth.h"
#include "ids.h"
#include "jwt.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "tooldef.h"
#include "util.h"

#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const versions[] = {"2025-11-25", "2025-06-18", NULL};

/* ---- the state --------------------------------------------------------------- */

struct gw_mcp *gw_mcp_new(void)
{
    struct gw_mcp *m = xcalloc(1, sizeof(*m));
    m->known = strmap_new();
    m->calls = strmap_new();
    m->reqs = strmap_new();
    return m;
}

void gw_mcp_free(struct gw_mcp *m)
{
    if (!m)
        return;
    mcp_calls_end(m);
    strmap_free(m->calls);
    strmap_free(m->reqs);
    strmap_free_values(m->known);
    free(m);
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

/* DELETE /mcp: 200 when the caller's session ended, 404 when it had none. */
static void on_session_end(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (gw_conn_http_pending(p->c)) {
        if (!r || r->type == REDIS_REPLY_ERROR)
            gw_conn_http_json(p->c, 503, mcp_rpc_error(NULL, -32603, "Redis is unavailable"), NULL);
        else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            gw_conn_http_respond(p->c, 200, "application/json", "", 0, NULL);
        else
            gw_conn_http_json(p->c, 404,
                              mcp_rpc_error(NULL, -32001, "unknown or ended MCP session"), NULL);
    }
    mcp_pending_reply(p, NULL);
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
        mcp_reply_held(c, 503, mcp_rpc_error(id, -32603, "Redis is unavailable"));
    } else if (!exists) {
        mcp_reply_held(c, 404,
                       mcp_rpc_error(id, -32001, "unknown or ended MCP session: initialize again"));
    } else if (!x->msg) {
        char eid[64] = "";
        const char *slash = strrchr(req->last_event_id, '/');
        if (slash && (size_t)(slash - req->last_event_id) < sizeof(eid))
            memcpy(eid, req->last_event_id, (size_t)(slash - req->last_event_id));
        if (id_valid(eid, 63)) {
            struct pending *p = mcp_pending_new(c, NULL, eid, &x->cl);
            char key[KEYS_MAX];
            keys_exec(key, sizeof(key), eid);
            const char *argv[] = {"HMGET", key, "owner", "mcp_session", "rpc_id"};
            rasync_cmdargv(gw_server_of(c)->cmd, mcp_on_resume, p, 5, argv, NULL);
        } else {
            mcp_stream_open(c, req->mcp_session);
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
        mcp_reply_held(c, 200, mcp_rpc_result(id, json_object()));
    } else if (!strcmp(method, "tools/list")) {
        mcp_reply_held(c, 200, mcp_rpc_result(id, json_pack("{s:o}", "tools", tool_defs())));
    } else if (!strcmp(method, "tools/call")) {
        mcp_tools_call(c, id, params, &x->cl);
    } else if (!strcmp(method, "tasks/get") || !strcmp(method, "tasks/result") ||
               !strcmp(method, "tasks/cancel") || !strcmp(method, "tasks/list")) {
        mcp_tasks_method(c, method, id, params, &x->cl);
    } else {
        mcp_reply_held(c, 200, mcp_rpc_error(id, -32601, "method not found"));
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
        mcp_session_trust(gw_server_of(x->c), sid, r->str);
    else if (exists == 0)
        mcp_session_forget(gw_server_of(x->c)->mcp, sid);
    /* another subject's session is as good as unknown */
    if (exists == 1 && strcmp(r->str, mcp_owner_of(&x->cl)) != 0)
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
    if (mcp_session_trusted(gw_server_of(c)->mcp, req->mcp_session, mcp_owner_of(cl))) {
        session_checked(x, 1);
        return;
    }
    const char *argv[] = {"GET", key};
    rasync_cmdargv(gw_server_of(c)->cmd, on_session, x, 2, argv, NULL);
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
        gw_conn_http_json(c, 503, mcp_rpc_error(x->id, -32603, "Redis is unavailable"), NULL);
    } else {
        char hdr[128];
        mcp_session_trust(gw_server_of(c), x->sess, x->owner);
        snprintf(hdr, sizeof(hdr), "Mcp-Session-Id: %s\r\n", x->sess);
        gw_conn_http_json(
            c, 200,
            mcp_rpc_result(
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
    strlcpy_aa(x->owner, mcp_owner_of(cl), sizeof(x->owner));
    strlcpy_aa(x->version, want && version_ok(want) ? want : versions[0], sizeof(x->version));
    char key[200];
    keys_mcp_session(key, sizeof(key), x->sess);
    const char *argv[] = {"SET", key, x->owner, "EX", "86400"};
    gw_conn_ref(c);
    gw_conn_http_hold(c);
    rasync_cmdargv(gw_server_of(c)->cmd, on_session_stored, x, 5, argv, NULL);
}

static void mcp_endpoint(struct gw_conn *c, const struct gw_req *req)
{
    struct gw_server *s = gw_server_of(c);
    char base[600], hdr[900];
    gw_oauth_base_url(s, req, base, sizeof(base));
    /* DNS rebinding protection: on a gateway bound to loopback the Host must
     * name loopback, and a browser's Origin must be this server */
    if (s->cfg.loopback_bind && !gw_host_is_loopback(req->host)) {
        gw_conn_http_json(c, 403, mcp_rpc_error(NULL, -32600, "Host not allowed"), NULL);
        return;
    }
    if (req->origin[0] && !gw_origin_allowed(req->origin, s->tls != NULL, req->host)) {
        gw_conn_http_json(c, 403, mcp_rpc_error(NULL, -32600, "Origin not allowed"), NULL);
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
        gw_conn_http_json(c, ast, mcp_rpc_error(NULL, -32001, why), hdr);
        return;
    }
    if (req->method == HTTP_GET) {
        /* a stream of the session: task status notifications, or the
         * resumption of a tools/call stream (Last-Event-ID) */
        if (!strstr(req->accept, "text/event-stream")) {
            gw_conn_http_error(c, 406, NULL, "GET /mcp needs Accept: text/event-stream", NULL);
        } else if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
            gw_conn_http_json(
                c, 400, mcp_rpc_error(NULL, -32600, "missing Mcp-Session-Id (initialize first)"),
                NULL);
        } else {
            session_then(c, NULL, &cl);
        }
        return;
    }
    if (req->method == HTTP_DELETE) {
        if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
            gw_conn_http_json(c, 400, mcp_rpc_error(NULL, -32600, "missing Mcp-Session-Id"), NULL);
            return;
        }
        char key[300];
        keys_mcp_session(key, sizeof(key), req->mcp_session);
        struct scripts_mcp_session_end a = {
            .session = key, .subject = mcp_owner_of(&cl), .sid = req->mcp_session};
        gw_conn_ref(c);
        gw_conn_http_hold(c);
        struct pending *p = mcp_pending_new(c, NULL, "", &cl);
        mcp_session_forget(s->mcp, req->mcp_session);
        scripts_mcp_session_end_async(s->cmd, &a, on_session_end, p);
        return;
    }
    if (req->method != HTTP_POST) {
        gw_conn_http_error(c, 405, NULL, "use POST", "Allow: POST, DELETE\r\n");
        return;
    }
    if (req->mcp_version[0] && !version_ok(req->mcp_version) &&
        strcmp(req->mcp_version, "2025-03-26") != 0) {
        gw_conn_http_json(c, 400, mcp_rpc_error(NULL, -32600, "unsupported MCP-Protocol-Version"),
                          NULL);
        return;
    }
    json_t *msg = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    if (!msg) {
        gw_conn_http_json(c, 400, mcp_rpc_error(NULL, -32700, "parse error"), NULL);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!json_is_object(msg) || !jv || strcmp(jv, "2.0") != 0) {
        gw_conn_http_json(c, 400, mcp_rpc_error(NULL, -32600, "invalid JSON-RPC request"), NULL);
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
        gw_conn_http_json(c, 400, mcp_rpc_error(NULL, -32600, bad), NULL);
        json_decref(msg);
        return;
    }
    if (json_object_get(msg, "params") && !json_is_object(json_object_get(msg, "params"))) {
        gw_conn_http_json(c, 400, mcp_rpc_error(id, -32602, "params must be an object"), NULL);
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
        gw_conn_http_json(
            c, 400, mcp_rpc_error(id, -32600, "missing Mcp-Session-Id (initialize first)"), NULL);
    } else {
        session_then(c, msg, &cl);
    }
    json_decref(msg);
}

int gw_mcp_route(struct gw_server *s, struct gw_conn *c, const struct gw_req *req, const char *path)
{
    (void)s; /* the connection's server */
    if (strcmp(path, "/mcp") != 0)
        return 0;
    mcp_endpoint(c, req);
    return 1;
}

void gw_mcp_done(struct gw_server *s, const char *msg)
{
    mcp_calls_ended(s, msg);
}

void gw_mcp_cancelled(struct gw_server *s, const char *key)
{
    mcp_calls_cancelled(s, key);
}
