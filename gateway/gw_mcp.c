/* gw_mcp.c -- MCP over Streamable HTTP (revisions 2025-06-18 and
 * 2025-11-25) and OAuth client credentials, on the gateway's port. */
#include "gw_mcp.h"
#include "dur.h"
#include "gw_auth.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "tooldef.h"
#include "util.h"

#include <http_parser.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const versions[] = {"2025-11-25", "2025-06-18", NULL};

/* ---- OAuth clients -------------------------------------------------------- */

struct oclient {
    char id[128], secret[256], session[129];
};
static struct oclient *clients;
static size_t nclients;

int gw_mcp_clients(const char *spec, char *err, size_t errlen)
{
    char *copy = xstrdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *a = strchr(tok, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!a || a == tok || !a[1]) {
            snprintf(err, errlen, "MCP client '%s' must be id:secret[:session]", tok);
            free(copy);
            return -1;
        }
        clients = xrealloc(clients, sizeof(*clients) * (nclients + 1));
        struct oclient *c = &clients[nclients++];
        memset(c, 0, sizeof(*c));
        *a = '\0';
        if (b)
            *b = '\0';
        strlcpy_aa(c->id, tok, sizeof(c->id));
        strlcpy_aa(c->secret, a + 1, sizeof(c->secret));
        if (b)
            strlcpy_aa(c->session, b + 1, sizeof(c->session));
    }
    free(copy);
    return 0;
}

static const struct oclient *find_client(const char *id, const char *secret)
{
    for (size_t i = 0; i < nclients; i++) {
        size_t a = strlen(clients[i].secret), b = strlen(secret);
        if (!strcmp(clients[i].id, id) && a == b &&
            CRYPTO_memcmp(clients[i].secret, secret, a) == 0)
            return &clients[i];
    }
    return NULL;
}

static void json_reply(struct gw_conn *c, int status, json_t *j, const char *extra)
{
    char *body = json_dumps(j, JSON_COMPACT);
    gw_conn_http_respond(c, status, "application/json", body, strlen(body), extra);
    free(body);
    json_decref(j);
}

static void oauth_error(struct gw_conn *c, int status, const char *code, const char *desc)
{
    json_reply(c, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc),
               status == 401 ? "WWW-Authenticate: Basic realm=\"agent-async\"\r\n" : NULL);
}

/* POST /oauth2/token, grant_type=client_credentials, client_secret_basic or
 * client_secret_post. */
static void token_endpoint(struct gw_conn *c, const struct gw_req *req)
{
    struct gw_server *s = gw_conn_server(c);
    if (req->method != HTTP_POST) {
        oauth_error(c, 405, "invalid_request", "use POST");
        return;
    }
    char grant[64] = "", id[128] = "", secret[256] = "", form[4200];
    snprintf(form, sizeof(form), "/?%.*s", (int)(req->body_len < 4000 ? req->body_len : 4000),
             req->body ? req->body : "");
    gw_url_query(form, "grant_type", grant, sizeof(grant));
    gw_url_query(form, "client_id", id, sizeof(id));
    gw_url_query(form, "client_secret", secret, sizeof(secret));
    if (!strncasecmp(req->authorization, "Basic ", 6)) {
        unsigned char dec[512];
        const char *b64 = req->authorization + 6;
        int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
        if (n > 0 && n < (int)sizeof(dec)) {
            dec[n] = '\0';
            char *colon = strchr((char *)dec, ':');
            if (colon) {
                *colon = '\0';
                /* form-urlencoded per RFC 6749 2.3.1 */
                gw_pct_decode((char *)dec, strlen((char *)dec), id, sizeof(id));
                gw_pct_decode(colon + 1, strlen(colon + 1), secret, sizeof(secret));
            }
        }
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(c, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }
    const struct oclient *oc = id[0] ? find_client(id, secret) : NULL;
    if (!oc || !s->cfg.token_secret[0]) {
        oauth_error(c, 401, "invalid_client", "unknown client or wrong secret");
        return;
    }
    struct jwt_claims cl;
    memset(&cl, 0, sizeof(cl));
    strlcpy_aa(cl.iss, s->cfg.issuer, sizeof(cl.iss));
    strlcpy_aa(cl.sub, oc->id, sizeof(cl.sub));
    strlcpy_aa(cl.sid, oc->session, sizeof(cl.sid));
    strlcpy_aa(cl.scope, oc->session[0] ? "mcp" : "mcp any-session", sizeof(cl.scope));
    cl.iat = wall_ms() / 1000;
    cl.exp = cl.iat + 3600;
    char tok[4096];
    jwt_mint(s->cfg.token_secret, &cl, tok, sizeof(tok));
    log_info("event=oauth_token client=%s", oc->id);
    json_reply(c, 200,
               json_pack("{s:s, s:s, s:i, s:s}", "access_token", tok, "token_type", "Bearer",
                         "expires_in", 3600, "scope", cl.scope),
               "Cache-Control: no-store\r\n");
}

static void base_url(const struct gw_req *req, char *out, size_t len)
{
    snprintf(out, len, "http://%s", req->host[0] ? req->host : "127.0.0.1");
}

/* ---- MCP ------------------------------------------------------------------ */

struct call {
    struct gw_conn *c;
    json_t *id;
    char eid[64];
    char tool[32];
    struct event *timer;
    int polls;              /* status reads in flight */
    int ended;              /* answered; freed when no read is in flight */
    json_t *progress_token; /* set: the answer is an SSE stream with progress */
    int progress;
};

/* One server-sent event carrying a JSON-RPC message. Steals: j. */
static void sse_send(struct gw_conn *c, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    char *ev = xasprintf("event: message\ndata: %s\n\n", txt);
    gw_conn_http_write(c, ev, strlen(ev));
    free(ev);
    free(txt);
    json_decref(j);
}

static void sse_progress(struct call *k, const char *message)
{
    k->progress++;
    sse_send(k->c, json_pack("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
                             "notifications/progress", "params", "progressToken", k->progress_token,
                             "progress", k->progress, "message", message));
}

static struct strmap *calls; /* eid -> struct call */

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

static json_t *tool_defs(void)
{
    json_t *specs = tooldef_specs(), *out = json_array(), *t;
    size_t i;
    static const char *titles[] = {"Run a command on the desktop", "Live VPN status",
                                   "Collect and analyze logs"};
    json_array_foreach(specs, i, t)
    {
        json_t *schema = json_deep_copy(json_object_get(t, "input_schema"));
        json_object_set_new(json_object_get(schema, "properties"), "session_id",
                            json_pack("{s:s, s:s}", "type", "string", "description",
                                      "the desktop client's session"));
        json_array_append_new(json_object_get(schema, "required"), json_string("session_id"));
        json_t *out_schema = json_pack("{s:s, s:{s:{s:s}, s:{s:s}}, s:[s]}", "type", "object",
                                       "properties", "status", "type", "string", "message", "type",
                                       "string", "required", "status");
        json_array_append_new(
            out, json_pack("{s:O, s:s, s:O, s:o, s:o, s:{s:b, s:b}}", "name",
                           json_object_get(t, "name"), "title", titles[i % 3], "description",
                           json_object_get(t, "description"), "inputSchema", schema, "outputSchema",
                           out_schema, "annotations", "readOnlyHint", i != 0, "openWorldHint", 1));
    }
    json_decref(specs);
    return out;
}

static void call_free(struct call *k)
{
    if (k->timer) {
        event_free(k->timer);
        k->timer = NULL;
    }
    k->ended = 1;
    if (k->polls > 0)
        return; /* on_poll frees it */
    json_decref(k->id);
    json_decref(k->progress_token);
    free(k);
}

static void on_result(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct call *k = arg;
    if (!gw_conn_http_pending(k->c)) {
        gw_conn_unref(k->c);
        call_free(k);
        return;
    }
    json_t *resp;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->str &&
        !strcmp(r->element[0]->str, "succeeded")) {
        json_t *res = json_loads(r->element[1]->str ? r->element[1]->str : "", 0, NULL);
        const char *text = json_string_value(
            json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
        json_t *structured = text ? json_loads(text, 0, NULL) : NULL;
        if (json_is_object(res) && json_is_object(structured))
            json_object_set_new(res, "structuredContent", structured);
        else
            json_decref(structured);
        resp = rpc_result(
            k->id, json_is_object(res) ? res : json_pack("{s:[], s:b}", "content", "isError", 1));
        if (!json_is_object(res))
            json_decref(res);
    } else {
        const char *why =
            r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str
                ? r->element[1]->str
                : "the tool execution failed";
        resp = rpc_result(k->id, json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
                                           "text", why, "isError", 1));
    }
    if (k->progress_token) {
        sse_send(k->c, resp);
        gw_conn_http_end_stream(k->c);
    } else {
        json_reply(k->c, 200, resp, NULL);
    }
    gw_conn_http_release(k->c);
    gw_conn_unref(k->c);
    call_free(k);
}

static void finish_call(struct gw_server *s, struct call *k)
{
    char key[96];
    snprintf(key, sizeof(key), "aa:exec:%s", k->eid);
    const char *argv[] = {"HMGET", key, "status", "result"};
    if (rasync_cmdargv(s->cmd, on_result, k, 4, argv, NULL) < 0)
        on_result(NULL, NULL, k);
}

void gw_mcp_done(struct gw_server *s, const char *eid)
{
    struct call *k = calls ? strmap_del(calls, eid) : NULL;
    if (k)
        finish_call(s, k);
}

/* Safety net for a lost notification: look at the execution every 5 s. */
static void on_poll(struct rasync *ra, redisReply *r, void *arg)
{
    struct call *k = arg;
    (void)ra;
    k->polls--;
    if (k->ended) {
        call_free(k);
        return;
    }
    struct gw_server *s = gw_conn_server(k->c);
    if (k->progress_token && k->progress < 2 && r && r->str && !strcmp(r->str, "suspended") &&
        gw_conn_http_pending(k->c))
        sse_progress(k, "waiting for the desktop client to answer");
    if (r && r->str && strcmp(r->str, "succeeded") && strcmp(r->str, "failed") &&
        strcmp(r->str, "timed_out") && gw_conn_http_pending(k->c))
        return;
    if (strmap_get(calls, k->eid) == k) {
        strmap_del(calls, k->eid);
        finish_call(s, k);
    }
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct call *k = arg;
    char key[96];
    snprintf(key, sizeof(key), "aa:exec:%s", k->eid);
    const char *argv[] = {"HGET", key, "status"};
    if (rasync_cmdargv(gw_conn_server(k->c)->cmd, on_poll, k, 3, argv, NULL) == 0)
        k->polls++;
}

static void on_started(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct call *k = arg;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (strmap_get(calls, k->eid) == k)
            strmap_del(calls, k->eid);
        if (gw_conn_http_pending(k->c)) {
            json_t *e = rpc_error(k->id, -32603, "the tool could not be started");
            if (k->progress_token) {
                sse_send(k->c, e);
                gw_conn_http_end_stream(k->c);
            } else {
                json_reply(k->c, 200, e, NULL);
            }
            gw_conn_http_release(k->c);
        }
        gw_conn_unref(k->c);
        call_free(k);
    }
}

/* Answers and ends the hold the session check took. */
static void reply_held(struct gw_conn *c, int status, json_t *j)
{
    json_reply(c, status, j, NULL);
    gw_conn_http_release(c);
    gw_conn_unref(c);
}

/* Called with the request held (gw_conn_http_hold + a reference): keeps
 * them until the execution ends, or answers at once and drops them. */
static void tools_call(struct gw_conn *c, json_t *id, json_t *params, const struct jwt_claims *cl)
{
    struct gw_server *s = gw_conn_server(c);
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!name || (strcmp(name, "run_client_command") && strcmp(name, "get_vpn_status") &&
                  strcmp(name, "analyze_logs"))) {
        reply_held(c, 200, rpc_error(id, -32602, "unknown tool"));
        return;
    }
    const char *sid = json_string_value(json_object_get(args, "session_id"));
    const char *route = tooldef_route(args);
    if (!json_is_object(args) || !sid || !id_valid(sid, 128) || strcmp(route, name) != 0) {
        reply_held(
            c, 200,
            rpc_result(id, json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                                     "invalid arguments: see the tool's inputSchema "
                                     "(session_id is required)",
                                     "isError", 1)));
        return;
    }
    if (!(cl->sid[0] ? !strcmp(cl->sid, sid) : jwt_has_scope(cl, "any-session"))) {
        reply_held(
            c, 200,
            rpc_result(id, json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                                     "this token may not act on that session", "isError", 1)));
        return;
    }
    struct call *k = xcalloc(1, sizeof(*k));
    k->c = c;
    k->id = json_incref(id);
    strlcpy_aa(k->tool, name, sizeof(k->tool));
    id_random(k->eid, sizeof(k->eid), "mcp-", 12);
    json_t *in = json_pack("{s:s, s:O}", "name", name, "arguments", args);
    char *input = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    char key[96], now[24], channel[128], trace[32];
    id_random(trace, sizeof(trace), "tr-", 8);
    snprintf(key, sizeof(key), "aa:exec:%s", k->eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(channel, sizeof(channel), "aa:done:%s", s->cfg.node);
    const char *argv[] = {key, "aa:stream:tool", k->eid, "tool", input, sid, trace,
                          now, "900000",         channel};
    if (!calls)
        calls = strmap_new();
    strmap_set(calls, k->eid, k);
    log_info("event=mcp_call tool=%s session=%s exec=%s trace=%s sub=%s", name, sid, k->eid, trace,
             cl->sub);
    json_t *tokv = json_object_get(json_object_get(params, "_meta"), "progressToken");
    const struct gw_req *req = gw_conn_request(c);
    if (tokv && (json_is_string(tokv) || json_is_integer(tokv)) &&
        strstr(req->accept, "text/event-stream")) {
        /* stream the answer: progress while the tool waits, then the result */
        k->progress_token = json_incref(tokv);
        static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                  "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
        gw_conn_http_write(c, hdr, sizeof(hdr) - 1);
        char msg[96];
        snprintf(msg, sizeof(msg), "%s started", name);
        sse_progress(k, msg);
    }
    k->timer = event_new(s->base, -1, EV_PERSIST, poll_cb, k);
    struct timeval every = {k->progress_token ? 0 : 5, k->progress_token ? 250000 : 0};
    if (k->timer)
        event_add(k->timer, &every);
    if (rasync_eval(s->cmd, on_started, k, "exec_start", 2, 10, argv, NULL) < 0)
        on_started(NULL, NULL, k);
    free(input);
}

struct rpc_ctx {
    struct gw_conn *c;
    json_t *msg;
    struct jwt_claims cl;
};

/* The session exists (or not): dispatch the held request. */
static void on_session(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct rpc_ctx *x = arg;
    struct gw_conn *c = x->c;
    json_t *id = json_object_get(x->msg, "id");
    const char *method = json_string_value(json_object_get(x->msg, "method"));
    if (!gw_conn_http_pending(c)) {
        gw_conn_unref(c);
    } else if (!r || r->type == REDIS_REPLY_ERROR) {
        reply_held(c, 503, rpc_error(id, -32603, "Redis is unavailable"));
    } else if (r->type != REDIS_REPLY_STRING) {
        reply_held(c, 404, rpc_error(id, -32001, "unknown or ended MCP session: initialize again"));
    } else if (!strcmp(method, "ping")) {
        reply_held(c, 200, rpc_result(id, json_object()));
    } else if (!strcmp(method, "tools/list")) {
        reply_held(c, 200, rpc_result(id, json_pack("{s:o}", "tools", tool_defs())));
    } else if (!strcmp(method, "tools/call")) {
        tools_call(c, id, json_object_get(x->msg, "params"), &x->cl);
    } else {
        reply_held(c, 200, rpc_error(id, -32601, "method not found"));
    }
    json_decref(x->msg);
    free(x);
}

static int version_ok(const char *v)
{
    for (int i = 0; versions[i]; i++)
        if (!strcmp(v, versions[i]))
            return 1;
    return 0;
}

static int loopback_host(const char *h)
{
    static const char *const ok[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (int i = 0; ok[i]; i++) {
        size_t n = strlen(ok[i]);
        if (!strncasecmp(h, ok[i], n) && (h[n] == '\0' || h[n] == ':'))
            return 1;
    }
    return 0;
}

static void mcp_endpoint(struct gw_conn *c, const struct gw_req *req)
{
    struct gw_server *s = gw_conn_server(c);
    char base[600], hdr[900];
    base_url(req, base, sizeof(base));
    /* DNS rebinding protection: on a gateway bound to loopback the Host must
     * name loopback, and a browser's Origin must be this server */
    if (s->cfg.loopback_bind && !loopback_host(req->host)) {
        json_reply(c, 403, rpc_error(NULL, -32600, "Host not allowed"), NULL);
        return;
    }
    if (req->origin[0]) {
        const char *o = req->origin;
        int local = !strncmp(o, "http://127.0.0.1", 16) || !strncmp(o, "http://localhost", 16) ||
                    !strncmp(o, "https://127.0.0.1", 17) || !strncmp(o, "https://localhost", 17) ||
                    !strcmp(o, base);
        if (!local) {
            json_reply(c, 403, rpc_error(NULL, -32600, "Origin not allowed"), NULL);
            return;
        }
    }
    struct jwt_claims cl;
    const char *why = NULL;
    if (gw_auth_check(s, req, gw_conn_is_loopback(c), &cl, &why) ||
        (s->cfg.token_secret[0] && !jwt_has_scope(&cl, "mcp"))) {
        snprintf(hdr, sizeof(hdr),
                 "WWW-Authenticate: Bearer resource_metadata=\"%s/.well-known/"
                 "oauth-protected-resource\"\r\n",
                 base);
        json_reply(c, 401, rpc_error(NULL, -32001, why ? why : "the token lacks the mcp scope"),
                   hdr);
        return;
    }
    if (req->method == HTTP_GET) {
        gw_conn_http_error(c, 405, NULL, "no server-initiated stream; POST JSON-RPC messages",
                           "Allow: POST, DELETE\r\n");
        return;
    }
    if (req->method == HTTP_DELETE) {
        if (req->mcp_session[0] && id_valid(req->mcp_session, 128)) {
            char key[300];
            snprintf(key, sizeof(key), "aa:mcp:session:%s", req->mcp_session);
            const char *argv[] = {"DEL", key};
            rasync_cmdargv(s->cmd, NULL, NULL, 2, argv, NULL);
        }
        gw_conn_http_respond(c, req->mcp_session[0] ? 200 : 400, "application/json", "", 0, NULL);
        return;
    }
    if (req->method != HTTP_POST) {
        gw_conn_http_error(c, 405, NULL, "use POST", "Allow: POST, DELETE\r\n");
        return;
    }
    if (req->mcp_version[0] && !version_ok(req->mcp_version)) {
        json_reply(c, 400, rpc_error(NULL, -32600, "unsupported MCP-Protocol-Version"), NULL);
        return;
    }
    json_t *msg = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    if (!msg) {
        json_reply(c, 400, rpc_error(NULL, -32700, "parse error"), NULL);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!json_is_object(msg) || !jv || strcmp(jv, "2.0") != 0) {
        json_reply(c, 400, rpc_error(NULL, -32600, "invalid JSON-RPC request"), NULL);
        json_decref(msg);
        return;
    }
    if (!method) { /* a response from the client: nothing to do */
        gw_conn_http_respond(c, 202, "application/json", "", 0, NULL);
        json_decref(msg);
        return;
    }
    if (!id) { /* a notification */
        gw_conn_http_respond(c, 202, "application/json", "", 0, NULL);
        json_decref(msg);
        return;
    }
    json_t *params = json_object_get(msg, "params");
    if (!strcmp(method, "initialize")) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        char sess[64];
        id_random(sess, sizeof(sess), "mcp-s-", 16);
        snprintf(hdr, sizeof(hdr), "Mcp-Session-Id: %s\r\n", sess);
        char key[200];
        snprintf(key, sizeof(key), "aa:mcp:session:%s", sess);
        const char *argv[] = {"SET", key, cl.sub[0] ? cl.sub : "-", "EX", "86400"};
        rasync_cmdargv(s->cmd, NULL, NULL, 5, argv, NULL);
        json_reply(
            c, 200,
            rpc_result(id,
                       json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
                                 want && version_ok(want) ? want : versions[0], "capabilities",
                                 "tools", "listChanged", 0, "serverInfo", "name", "agent-async",
                                 "title", "agent-async desktop tools", "version", "0.1.0",
                                 "instructions",
                                 "Tools that act on a user's desktop through the "
                                 "agent-async client of a session: pass session_id.")),
            hdr);
    } else if (!req->mcp_session[0] || !id_valid(req->mcp_session, 128)) {
        json_reply(c, 400, rpc_error(id, -32600, "missing Mcp-Session-Id (initialize first)"),
                   NULL);
    } else {
        char key[300];
        snprintf(key, sizeof(key), "aa:mcp:session:%s", req->mcp_session);
        struct rpc_ctx *x = xcalloc(1, sizeof(*x));
        x->c = c;
        x->msg = json_incref(msg);
        x->cl = cl;
        gw_conn_ref(c);
        gw_conn_http_hold(c);
        const char *argv[] = {"GET", key};
        if (rasync_cmdargv(s->cmd, on_session, x, 2, argv, NULL) < 0)
            on_session(NULL, NULL, x);
    }
    json_decref(msg);
}

int gw_mcp_route(struct gw_conn *c, const struct gw_req *req, const char *path)
{
    char base[600];
    base_url(req, base, sizeof(base));
    if (!strcmp(path, "/mcp")) {
        mcp_endpoint(c, req);
    } else if (!strcmp(path, "/oauth2/token")) {
        token_endpoint(c, req);
    } else if (!strcmp(path, "/.well-known/oauth-protected-resource") ||
               !strcmp(path, "/.well-known/oauth-protected-resource/mcp")) {
        char res[700];
        snprintf(res, sizeof(res), "%s/mcp", base);
        json_reply(c, 200,
                   json_pack("{s:s, s:[s], s:[s], s:[s]}", "resource", res, "authorization_servers",
                             base, "bearer_methods_supported", "header", "scopes_supported", "mcp"),
                   NULL);
    } else if (!strcmp(path, "/.well-known/oauth-authorization-server")) {
        char tok[700];
        snprintf(tok, sizeof(tok), "%s/oauth2/token", base);
        json_reply(c, 200,
                   json_pack("{s:s, s:s, s:[s], s:[s,s], s:[s]}", "issuer", base, "token_endpoint",
                             tok, "grant_types_supported", "client_credentials",
                             "token_endpoint_auth_methods_supported", "client_secret_basic",
                             "client_secret_post", "scopes_supported", "mcp"),
                   NULL);
    } else {
        return 0;
    }
    return 1;
}
