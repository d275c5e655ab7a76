/* main.c -- aa-gateway: the WebSocket and HTTP front door. One libevent
 * loop serves every connection; connections are registered in Redis, chat
 * turns go to the agent stream, pushes arrive on aa:push:{node}. */
#include "cfg.h"
#include "gw_conn.h"
#include "gw_mcp.h"
#include "gw_oauth.h"
#include "gw_router.h"
#include "gw_server.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "rcluster.h"
#include "scripts.h"
#include "tooldef.h"
#include "util.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cfg_opt opts[] = {
    {"bind", CFG_STR, "127.0.0.1", 0, 255, "address to listen on", NULL, 0},
    {"port", CFG_INT, "8080", 0, 65535, "port for WebSocket and HTTP (0: any free port)", NULL, 0},
    {"redis", CFG_STR, "127.0.0.1:6379", 0, 512,
     "Redis address (host:port, unix:/path or cluster:host:port,...)", NULL, 0},
    KEYS_CELLS_OPT,
    {"agent-stream", CFG_STR, KEYS_STREAM_AGENT, 0, 128, "stream the chat turns go to", NULL, 0},
    {"node", CFG_STR, "", 0, 64, "this gateway's node name (default: random)", NULL, 0},
    {"max-message", CFG_INT, "131072", 1024, 16777216, "bytes of one WebSocket message", NULL, 0},
    {"max-output", CFG_INT, "4194304", 65536, 1073741824, "bytes queued to one client", NULL, 0},
    {"max-prompt", CFG_INT, "32768", 1, 16777216, "bytes of a chat prompt", NULL, 0},
    {"max-callback", CFG_INT, "131072", 1, 16777216, "bytes of a callback's content", NULL, 0},
    {"idle-ms", CFG_INT, "600000", 1000, 86400000, "idle timeout of a WebSocket", NULL, 0},
    {"ping-ms", CFG_INT, "30000", 100, 3600000, "keepalive ping period", NULL, 0},
    {"header-timeout-ms", CFG_INT, "10000", 100, 600000, "time to send the request headers", NULL,
     0},
    {"turn-timeout-ms", CFG_INT, "900000", 1000, 31622400000LL, "execution timeout of a turn", NULL,
     0},
    {"redis-wait-replicas", CFG_INT, "0", 0, 16,
     "acknowledge a callback answer once this many replicas have it (WAIT; 0: at once)", NULL, 0},
    {"redis-wait-ms", CFG_INT, "500", 1, 60000, "how long an answer waits for those replicas", NULL,
     0},
    {"token-secret", CFG_STR, "", 0, 1024, "HS256 secret for bearer tokens (at least 32 bytes)",
     NULL, 0},
    {"issuer", CFG_STR, "agent-async", 0, 63, "token issuer (iss)", NULL, 0},
    {"dev-mode", CFG_BOOL, "false", 0, 0, "no secret: admit loopback peers without a token", NULL,
     0},
    {"tls-cert", CFG_STR, "", 0, 1024, "certificate chain (PEM): serve wss:// and https://", NULL,
     0},
    {"tls-key", CFG_STR, "", 0, 1024, "private key (PEM) of --tls-cert", NULL, 0},
    {"heartbeat-ms", CFG_INT, "10000", 100, 60000, "node heartbeat and dead-node reaping period",
     NULL, 0},
    {"rate-per-s", CFG_INT, "20", 1, 100000, "client messages per second (token bucket)", NULL, 0},
    {"rate-burst", CFG_INT, "40", 1, 100000, "client messages in a burst", NULL, 0},
    {"max-age-ms", CFG_INT, "0", 0, 604800000,
     "close connections older than this with 1001 (0: never)", NULL, 0},
    {"mcp-clients", CFG_STR, "", 0, 8192, "OAuth clients for /mcp: id:secret[:session],...", NULL,
     0},
    {"mcp-session-trust-ms", CFG_INT, "5000", 0, 60000,
     "trust an MCP session seen this recently without asking Redis (0: ask every time)", NULL, 0},
    {"port-file", CFG_STR, "", 0, 1024, "write the bound port to this file", NULL, 0},
    {"log-level", CFG_STR, "info", 0, 8, "debug, info, warn or error", NULL, 0},
    {"log-file", CFG_STR, "", 0, 1023, "append the log here (SIGHUP reopens it); default stderr",
     NULL, 0},
    CFG_END,
};

/* The heartbeat, one key per cell: the reaper of a cell reads it in the
 * script that removes the cell's connections of a dead gateway. */
static void heartbeat(struct gw_server *s)
{
    char key[KEYS_MAX];
    char px[24];
    snprintf(px, sizeof(px), "%lld", (long long)s->cfg.node_ttl_ms);
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        keys_node(key, sizeof(key), s->cfg.node, cell);
        const char *argv[] = {"SET", key, "alive", "PX", px};
        rasync_cmdargv(s->cmd, NULL, NULL, 5, argv, NULL);
    }
}

static void on_reaped(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    (void)arg;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        log_warn("event=reaped_dead_gateway connections=%lld", r->integer);
}

/* One master's SCAN of the connection sets (SCAN is each node's own). */
struct node_scan {
    struct gw_server *s;
    size_t master;
};

static void scan_master(struct gw_server *s, size_t master, const char *cursor);

/* Connection sets of nodes whose heartbeat key expired: that gateway died
 * without cleaning up; remove its records (node_reap.lua). */
static void on_node_scan(struct rasync *ra, redisReply *r, void *arg)
{
    struct node_scan *ns = arg;
    struct gw_server *s = ns->s;
    size_t master = ns->master;
    free(ns);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str; /* aa:[{ck}:]node:{node}:conns */
        size_t len = strlen(k);
        if (len <= 14 || len > 200)
            continue;
        char hb[200]; /* its cell's heartbeat: aa:[{ck}:]node:{node} */
        memcpy(hb, k, len - 6);
        hb[len - 6] = '\0';
        const char *name = strstr(hb, "node:");
        if (!name || !strcmp(name + 5, s->cfg.node))
            continue;
        struct scripts_node_reap a = {.node = hb, .node_conns = k};
        scripts_node_reap_async(ra, &a, on_reaped, s);
    }
    const char *cursor = r->element[0]->str;
    if (cursor && strcmp(cursor, "0") != 0)
        scan_master(s, master, cursor);
}

static void scan_master(struct gw_server *s, size_t master, const char *cursor)
{
    char pat[KEYS_MAX];
    keys_any_cell(pat, sizeof(pat), KEYS_NODE_CONNS_PATTERN);
    const char *argv[] = {"SCAN", cursor, "MATCH", pat, "COUNT", "100"};
    struct node_scan *ns = xmalloc(sizeof(*ns));
    *ns = (struct node_scan){s, master};
    rasync_cmdargv_master(s->cmd, master, on_node_scan, ns, 6, argv, NULL);
}

/* The tool catalog the tool workers publish (TOOLDEF_KEY): MCP's tools/list
 * and tools/call follow it. */
static void on_catalog(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    (void)arg;
    if (r && r->type == REDIS_REPLY_STRING)
        tooldef_follow(r->str);
}

static void fetch_catalog(struct gw_server *s)
{
    const char *argv[] = {"GET", TOOLDEF_KEY};
    rasync_cmdargv(s->cmd, on_catalog, s, 2, argv, NULL);
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_server *s = arg;
    if (!s->cells_known)
        return;
    heartbeat(s);
    fetch_catalog(s);
    for (size_t m = 0; m < rasync_masters(s->cmd); m++)
        scan_master(s, m, "0");
}

/* The deployment's cells (keys.h): until they are known, the gateway
 * answers only /healthz and /metrics (gw_router). A gateway asked for other
 * cells than the deployment has stops. */
static void on_cells(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_server *s = arg;
    char err[256];
    unsigned before = keys_cells();
    if (!r)
        return; /* the next connection asks again */
    if (keys_cells_adopt(r, s->cfg.cells,
                         keys_cells_default(rcluster_is_cluster(s->cfg.redis), s->cfg.cells), err,
                         sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        s->exit_code = 2;
        event_base_loopbreak(s->base);
        return;
    }
    if (s->cells_known && keys_cells() != before)
        log_error("event=cells_changed was=%u now=%u note=\"restart every program\"", before,
                  keys_cells());
    if (!s->cells_known)
        log_info("event=cells cells=%u", keys_cells());
    s->cells_known = 1;
    if (s->sub_waiting && rasync_connected(s->sub))
        gw_router_subscribed(s->sub, s);
    heartbeat(s);
    fetch_catalog(s);
}

static void on_cmd_connect(struct rasync *ra, void *arg)
{
    struct gw_server *s = arg;
    char dflt[16];
    snprintf(dflt, sizeof(dflt), "%u",
             keys_cells_default(rcluster_is_cluster(s->cfg.redis), s->cfg.cells));
    const char *argv[] = {"SET", KEYS_CELLS, dflt, "NX", "GET"};
    rasync_cmdargv(ra, on_cells, s, 5, argv, NULL);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr, int len,
                      void *arg)
{
    (void)l;
    struct gw_server *s = arg;
    gw_conns_accept(s->conns, fd, addr, len);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    log_warn("event=accept_error err=\"%s\"", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct gw_server *s = arg;
    if (s->stopping)
        return;
    s->stopping = 1;
    log_info("event=stopping signal=%d connections=%zu", (int)sig, gw_conns_open(s->conns));
    evconnlistener_disable(s->listener);
    struct gw_conn *c = gw_conns_first(s->conns);
    while (c) {
        struct gw_conn *next = gw_conn_next(c);
        gw_conn_close(c, 1001, "gateway shutting down");
        c = next;
    }
    char key[KEYS_MAX];
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        keys_node(key, sizeof(key), s->cfg.node, cell);
        const char *argv[] = {"DEL", key};
        rasync_cmdargv(s->cmd, NULL, NULL, 2, argv, NULL);
    }
    struct timeval grace = {0, 300000};
    event_base_loopexit(s->base, &grace);
}

int main(int argc, char **argv)
{
    cfg_parse_or_exit(opts, argc, argv,
                      "usage: aa-gateway [options]\n\nThe WebSocket + HTTP gateway: clients "
                      "connect to ws://HOST:PORT/ws?session_id=ID.");
    if (log_setup("gateway", cfg_str(opts, "log-level"), cfg_str(opts, "log-file")) < 0) {
        cfg_free(opts);
        return 2;
    }
    char node[80];
    if (cfg_str(opts, "node")[0]) {
        if (!id_valid(cfg_str(opts, "node"), 64)) {
            fprintf(stderr, "aa-gateway: --node must be 1-64 of A-Z a-z 0-9 . _ : -\n");
            return 2;
        }
        strlcpy_aa(node, cfg_str(opts, "node"), sizeof(node));
    } else {
        id_random(node, sizeof(node), "gw-", 6);
    }
    struct gw_server s;
    memset(&s, 0, sizeof(s));
    s.cfg.bind = cfg_str(opts, "bind");
    s.cfg.port = (int)cfg_int(opts, "port");
    s.cfg.redis = cfg_str(opts, "redis");
    s.cfg.cells = (unsigned)cfg_int(opts, "cells");
    s.cfg.agent_stream = cfg_str(opts, "agent-stream");
    s.cfg.node = node;
    s.cfg.max_message = (size_t)cfg_int(opts, "max-message");
    s.cfg.max_output = (size_t)cfg_int(opts, "max-output");
    s.cfg.max_prompt = (size_t)cfg_int(opts, "max-prompt");
    s.cfg.max_callback = (size_t)cfg_int(opts, "max-callback");
    s.cfg.idle_ms = cfg_int(opts, "idle-ms");
    s.cfg.ping_ms = cfg_int(opts, "ping-ms");
    s.cfg.header_timeout_ms = cfg_int(opts, "header-timeout-ms");
    s.cfg.turn_timeout_ms = cfg_int(opts, "turn-timeout-ms");
    s.cfg.wait_replicas = (int)cfg_int(opts, "redis-wait-replicas");
    s.cfg.wait_ms = (int)cfg_int(opts, "redis-wait-ms");
    s.cfg.node_ttl_ms = cfg_int(opts, "heartbeat-ms") * 3;
    s.cfg.rate_per_s = (double)cfg_int(opts, "rate-per-s");
    s.cfg.rate_burst = (double)cfg_int(opts, "rate-burst");
    s.cfg.max_age_ms = cfg_int(opts, "max-age-ms");
    s.cfg.mcp_session_trust_ms = cfg_int(opts, "mcp-session-trust-ms");
    s.cfg.token_secret = cfg_str(opts, "token-secret");
    s.cfg.issuer = cfg_str(opts, "issuer");
    s.cfg.dev_mode = (int)cfg_int(opts, "dev-mode");
    s.cfg.loopback_bind = !strncmp(s.cfg.bind, "127.", 4) || !strcmp(s.cfg.bind, "::1");
    if (s.cfg.token_secret[0] && strlen(s.cfg.token_secret) < 32) {
        fprintf(stderr, "aa-gateway: --token-secret must be at least 32 bytes\n");
        return 2;
    }
    char cerr[256];
    s.oauth = gw_oauth_new(cfg_str(opts, "mcp-clients"), cerr, sizeof(cerr));
    if (!s.oauth) {
        fprintf(stderr, "aa-gateway: --mcp-clients: %s\n", cerr);
        return 2;
    }
    if (!s.cfg.token_secret[0] && !s.cfg.dev_mode) {
        fprintf(stderr, "aa-gateway: set a token secret (--token-secret or AA_TOKEN_SECRET), or "
                        "pass --dev-mode to admit loopback clients without tokens\n");
        return 2;
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int sslen = sizeof(ss);
    char addrtxt[300];
    snprintf(addrtxt, sizeof(addrtxt), strchr(s.cfg.bind, ':') ? "[%s]:%d" : "%s:%d", s.cfg.bind,
             s.cfg.port);
    if (evutil_parse_sockaddr_port(s.cfg.bind, (struct sockaddr *)&ss, &sslen) < 0) {
        fprintf(stderr, "aa-gateway: --bind '%s' is not an IP address\n", s.cfg.bind);
        return 2;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)s.cfg.port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)s.cfg.port);
    signal(SIGPIPE, SIG_IGN);
    const char *cert = cfg_str(opts, "tls-cert"), *key = cfg_str(opts, "tls-key");
    if (!!cert[0] != !!key[0]) {
        fprintf(stderr, "aa-gateway: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (cert[0]) {
        s.tls = SSL_CTX_new(TLS_server_method());
        if (!s.tls || SSL_CTX_set_min_proto_version(s.tls, TLS1_2_VERSION) != 1 ||
            SSL_CTX_use_certificate_chain_file(s.tls, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(s.tls, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s.tls) != 1) {
            char e[256];
            ERR_error_string_n(ERR_get_error(), e, sizeof(e));
            fprintf(stderr, "aa-gateway: cannot use --tls-cert/--tls-key: %s\n", e);
            return 2;
        }
    }
    s.base = event_base_new();
    if (!s.base) {
        log_error("event=start_failed err=\"event_base_new\"");
        return 1;
    }
    s.sessions = strmap_new();
    s.mcp = gw_mcp_new();
    gw_router_start(&s);
    s.listener =
        evconnlistener_new_bind(s.base, accept_cb, &s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&ss, sslen);
    if (!s.listener) {
        log_error("event=start_failed err=\"cannot listen on %s: %s\"", addrtxt,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return 1;
    }
    evconnlistener_set_error_cb(s.listener, accept_error_cb);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(evconnlistener_get_fd(s.listener), (struct sockaddr *)&bound, &blen);
    int port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    if (cfg_str(opts, "port-file")[0]) {
        FILE *f = fopen(cfg_str(opts, "port-file"), "w");
        if (!f) {
            log_error("event=start_failed err=\"cannot write --port-file\"");
            return 1;
        }
        fprintf(f, "%d\n", port);
        fclose(f);
    }
    s.cmd = rasync_new(s.base, s.cfg.redis, "cmd", on_cmd_connect, &s);
    s.sub = rasync_new(s.base, s.cfg.redis, "sub", gw_router_subscribed, &s);
    s.heartbeat = event_new(s.base, -1, EV_PERSIST, heartbeat_cb, &s);
    if (!s.heartbeat) {
        log_error("event=start_failed err=\"libevent: cannot create events\"");
        return 1;
    }
    struct timeval hb = {cfg_int(opts, "heartbeat-ms") / 1000,
                         (cfg_int(opts, "heartbeat-ms") % 1000) * 1000};
    event_add(s.heartbeat, &hb);
    s.sig_term = evsignal_new(s.base, SIGTERM, signal_cb, &s);
    s.sig_int = evsignal_new(s.base, SIGINT, signal_cb, &s);
    event_add(s.sig_term, NULL);
    event_add(s.sig_int, NULL);
    log_info("event=listening addr=%s port=%d node=%s redis=%s auth=%s tls=%s", s.cfg.bind, port,
             node, s.cfg.redis, s.cfg.token_secret[0] ? "jwt" : "dev-mode", s.tls ? "on" : "off");
    if (!s.cfg.token_secret[0])
        log_warn("event=dev_mode note=\"NO AUTHENTICATION: loopback clients are admitted without "
                 "a token; set AA_TOKEN_SECRET for real use\"");
    event_base_dispatch(s.base);

    gw_mcp_free(s.mcp);
    s.mcp = NULL;
    gw_conns_free(s.conns);
    /* Let the unregister commands go out before closing Redis. */
    struct timeval flush = {0, 100000};
    event_base_loopexit(s.base, &flush);
    event_base_dispatch(s.base);
    rasync_free(s.cmd);
    rasync_free(s.sub);
    evconnlistener_free(s.listener);
    event_free(s.heartbeat);
    event_free(s.sig_term);
    event_free(s.sig_int);
    strmap_free(s.sessions);
    gw_oauth_free(s.oauth);
    event_base_free(s.base);
    if (s.tls)
        SSL_CTX_free(s.tls);
    cfg_free(opts);
    log_info("event=stopped");
    return s.exit_code;
}
