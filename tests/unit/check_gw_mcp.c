/* check_gw_mcp.c -- the MCP endpoint through a real gateway connection
 * (gw_router's handler table on a socketpair) and a real redis-server
 * (AA_TEST_REDIS): initialize, sessions, ping, tools/list and DELETE, and
 * what every malformed or unauthorized request gets. No tool worker runs
 * here; the tools themselves are tested end to end (tests/e2e/mcp.sh). */
#include "fixtures.h"
#include "gw_conn.h"
#include "gw_mcp.h"
#include "gw_oauth.h"
#include "gw_router.h"
#include "gw_server.h"
#include "jwt.h"
#include "rconn.h"
#include "suites.h"
#include "util.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "0123456789abcdef0123456789abcdef"

static struct gw_server srv;
static int peer = -1;
static char token[2048], other[2048], noscope[2048];

static void mint(char *out, size_t len, const char *azp, const char *scope)
{
    struct jwt_claims cl;
    memset(&cl, 0, sizeof(cl));
    strcpy(cl.iss, "agent-async");
    strcpy(cl.sub, "alice");
    strlcpy_aa(cl.azp, azp, sizeof(cl.azp));
    strlcpy_aa(cl.scope, scope, sizeof(cl.scope));
    cl.iat = wall_ms() / 1000;
    cl.exp = cl.iat + 600;
    ck_assert_int_gt(jwt_mint(SECRET, &cl, out, len), 0);
}

static void spin_once(void)
{
    event_base_loop(srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void setup(void)
{
    const char *addr = fixture_redis_addr();
    struct rconn *admin = rconn_new(addr);
    freeReplyObject(rconn_cmd(admin, "FLUSHALL"));
    rconn_free(admin);
    memset(&srv, 0, sizeof(srv));
    srv.base = event_base_new();
    srv.sessions = strmap_new();
    srv.cfg = (struct gw_config){.bind = "127.0.0.1",
                                 .redis = addr,
                                 .agent_stream = "aa:stream:agent",
                                 .node = "unit",
                                 .max_message = 65536,
                                 .max_output = 1 << 20,
                                 .max_prompt = 32768,
                                 .max_callback = 65536,
                                 .idle_ms = 60000,
                                 .ping_ms = 60000,
                                 .header_timeout_ms = 5000,
                                 .turn_timeout_ms = 60000,
                                 .node_ttl_ms = 30000,
                                 .rate_per_s = 1000,
                                 .rate_burst = 1000,
                                 .mcp_session_trust_ms = 0,
                                 .token_secret = SECRET,
                                 .issuer = "agent-async",
                                 .loopback_bind = 1};
    char err[256];
    srv.oauth = gw_oauth_new("", err, sizeof(err));
    srv.mcp = gw_mcp_new();
    gw_router_start(&srv);
    srv.cells_known = 1;
    srv.cmd = rasync_new(srv.base, addr, "cmd", NULL, NULL);
    srv.sub = rasync_new(srv.base, addr, "sub", NULL, NULL);
    for (int64_t until = mono_us() + 5000000; !rasync_connected(srv.cmd) && mono_us() < until;)
        spin_once();
    ck_assert(rasync_connected(srv.cmd));
    mint(token, sizeof(token), "agent-1", "mcp");
    mint(other, sizeof(other), "agent-2", "mcp");
    mint(noscope, sizeof(noscope), "agent-1", "client");
}

static void teardown(void)
{
    if (peer >= 0)
        close(peer);
    peer = -1;
    gw_mcp_free(srv.mcp);
    gw_conns_free(srv.conns);
    rasync_free(srv.cmd);
    rasync_free(srv.sub);
    gw_oauth_free(srv.oauth);
    strmap_free(srv.sessions);
    event_base_free(srv.base);
}

struct answer {
    int status;
    char headers[4096];
    json_t *body; /* NULL when the body is not JSON */
};

static void answer_free(struct answer *a)
{
    json_decref(a->body);
}

/* Sends one request on a new connection and reads the answer (5 s at
 * most). method, path, extra headers (CRLF-terminated), body. */
static struct answer request(const char *method, const char *hdrs, const char *body)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_ptr_nonnull(gw_conns_accept(srv.conns, sv[0], (struct sockaddr *)&a, sizeof(a)));
    char *req = xasprintf("%s /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
                          method, strlen(body), hdrs, body);
    ck_assert_int_eq(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    static char buf[65536];
    size_t n = 0;
    for (int64_t until = mono_us() + 5000000; mono_us() < until;) {
        spin_once();
        ssize_t r = read(sv[1], buf + n, sizeof(buf) - n - 1);
        if (r > 0)
            n += (size_t)r;
        else if (r == 0)
            break;
    }
    buf[n] = '\0';
    close(sv[1]);
    struct answer ans = {0};
    sscanf(buf, "HTTP/1.1 %d", &ans.status);
    char *end = strstr(buf, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no answer: '%s'", buf);
    size_t hl = (size_t)(end - buf);
    memcpy(ans.headers, buf, hl < sizeof(ans.headers) - 1 ? hl : sizeof(ans.headers) - 1);
    ans.body = json_loads(end + 4, 0, NULL);
    return ans;
}

static char *auth(const char *tok, const char *session)
{
    return xasprintf("Authorization: Bearer %s\r\n%s%s%s", tok, session ? "Mcp-Session-Id: " : "",
                     session ? session : "", session ? "\r\n" : "");
}

/* The JSON-RPC error code of an answer, 0 when it has none. */
static int rpc_code(const struct answer *a)
{
    return (int)json_integer_value(json_object_get(json_object_get(a->body, "error"), "code"));
}

/* initialize as tok; the session id into sid. */
static void initialize(const char *tok, char *sid, size_t len)
{
    char *h = auth(tok, NULL);
    struct answer a = request("POST", h,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                              "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                              "\"clientInfo\":{\"name\":\"unit\",\"version\":\"1\"}}}");
    free(h);
    ck_assert_int_eq(a.status, 200);
    const char *p = strcasestr(a.headers, "Mcp-Session-Id: ");
    ck_assert_ptr_nonnull(p);
    sscanf(p + 16, "%63[^\r]", sid);
    (void)len;
    json_t *res = json_object_get(a.body, "result");
    ck_assert_str_eq(json_string_value(json_object_get(res, "protocolVersion")), "2025-06-18");
    answer_free(&a);
}

START_TEST(initialize_list_ping_delete)
{
    char sid[64];
    initialize(token, sid, sizeof(sid));
    char *h = auth(token, sid);
    struct answer a =
        request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    ck_assert_int_eq(a.status, 200);
    json_t *tools = json_object_get(json_object_get(a.body, "result"), "tools");
    ck_assert_uint_ge(json_array_size(tools), 3);
    int found = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        if (!strcmp(json_string_value(json_object_get(t, "name")), "get_vpn_status")) {
            found = 1;
            json_t *req = json_object_get(json_object_get(t, "inputSchema"), "required"), *r;
            size_t k;
            int has = 0;
            json_array_foreach(req, k, r) has |= !strcmp(json_string_value(r), "session_id");
            ck_assert(has);
        }
    }
    ck_assert(found);
    answer_free(&a);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 200);
    ck_assert(json_is_object(json_object_get(a.body, "result")));
    ck_assert_str_eq(json_string_value(json_object_get(a.body, "id")), "p");
    answer_free(&a);
    a = request("DELETE", h, "");
    ck_assert_int_eq(a.status, 200);
    answer_free(&a);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 404); /* the session has ended */
    answer_free(&a);
    free(h);
}
END_TEST

START_TEST(versions)
{
    char sid[64];
    char *h = auth(token, NULL);
    /* a version the server does not speak: it answers with its own */
    struct answer a = request("POST", h,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                              "{\"protocolVersion\":\"1999-01-01\"}}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(a.body, "result"), "protocolVersion")),
        "2025-11-25");
    answer_free(&a);
    free(h);
    initialize(token, sid, sizeof(sid));
    char *h2 = auth(token, sid), *h3 = xasprintf("%sMCP-Protocol-Version: 1999-01-01\r\n", h2);
    a = request("POST", h3, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 400);
    answer_free(&a);
    free(h2);
    free(h3);
}
END_TEST

START_TEST(unauthorized)
{
    struct answer a = request("POST", "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 401);
    ck_assert(strstr(a.headers, "resource_metadata=\"http://127.0.0.1/.well-known/"
                                "oauth-protected-resource\"") != NULL);
    answer_free(&a);
    char *h = auth(noscope, NULL);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 403);
    ck_assert(strstr(a.headers, "insufficient_scope") != NULL);
    answer_free(&a);
    free(h);
    h = xasprintf("Authorization: Bearer %sx\r\n", token); /* a bad signature */
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 401);
    answer_free(&a);
    free(h);
    /* another client's session is unknown to this one */
    char sid[64];
    initialize(token, sid, sizeof(sid));
    h = auth(other, sid);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    ck_assert_int_eq(a.status, 404);
    answer_free(&a);
    a = request("DELETE", h, "");
    ck_assert_int_eq(a.status, 404);
    answer_free(&a);
    free(h);
}
END_TEST

START_TEST(malformed)
{
    char sid[64];
    initialize(token, sid, sizeof(sid));
    char *h = auth(token, sid);
    static const struct {
        const char *body;
        int status, code;
    } cases[] = {
        {"{", 400, -32700},
        {"[1,2]", 400, -32600},
        {"{\"id\":1,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}", 400, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", 400, -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"no/such\"}", 200, -32601},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}",
         200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/get\",\"params\":{}}", 200, -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/list\",\"params\":{\"cursor\":\"x\"}}",
         200, -32602},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct answer a = request("POST", h, cases[i].body);
        ck_assert_msg(a.status == cases[i].status && rpc_code(&a) == cases[i].code, "%s: %d %d",
                      cases[i].body, a.status, rpc_code(&a));
        answer_free(&a);
    }
    /* a tool call whose arguments do not fit: a tool error, not a protocol one */
    struct answer a =
        request("POST", h,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                "{\"name\":\"get_vpn_status\",\"arguments\":{\"session_id\":\"a b\"}}}");
    ck_assert_int_eq(a.status, 200);
    ck_assert(json_is_true(json_object_get(json_object_get(a.body, "result"), "isError")));
    answer_free(&a);
    /* a response from the client, and a notification: 202, nothing to say */
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");
    ck_assert_int_eq(a.status, 202);
    answer_free(&a);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    ck_assert_int_eq(a.status, 202);
    answer_free(&a);
    free(h);
    /* no session, an unknown session, the wrong method, the wrong Accept */
    h = auth(token, NULL);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 400);
    answer_free(&a);
    free(h);
    h = auth(token, "mcp-s-nosuchsession");
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 404);
    answer_free(&a);
    a = request("PUT", h, "");
    ck_assert_int_eq(a.status, 405);
    answer_free(&a);
    a = request("GET", h, "");
    ck_assert_int_eq(a.status, 406);
    answer_free(&a);
    free(h);
    /* DNS rebinding: a gateway on loopback answers only loopback names */
    h = xasprintf("Authorization: Bearer %s\r\nOrigin: http://evil.example\r\n", token);
    a = request("POST", h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    ck_assert_int_eq(a.status, 403);
    answer_free(&a);
    free(h);
}
END_TEST

Suite *gw_mcp_suite(void)
{
    Suite *s = suite_create("gw_mcp");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    TCase *all[] = {core, limits, errs};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 30);
    }
    tcase_add_test(core, initialize_list_ping_delete);
    tcase_add_test(limits, versions);
    tcase_add_test(errs, unauthorized);
    tcase_add_test(errs, malformed);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
