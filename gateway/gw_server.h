/* gw_server.h -- The gateway's shared state (internal to gateway/): the
 * configuration, the listener and its connections, the Redis connections,
 * the session index, the MCP and OAuth state, and the counters. A header
 * only: each module above gw_conn reads it; gw_router and main.c own it. */
#ifndef AA_GW_SERVER_H
#define AA_GW_SERVER_H

#include "gw_conn.h"
#include "rasync.h"
#include "strmap.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct gw_mcp;
struct gw_oauth;

struct gw_config {
    const char *bind;
    int port;
    const char *redis;
    unsigned cells; /* --cells: 0 takes the deployment's */
    const char *agent_stream;
    const char *node;
    size_t max_message;  /* bytes of one WebSocket message */
    size_t max_output;   /* bytes queued to one client before it is dropped */
    size_t max_prompt;   /* bytes of a chat prompt */
    size_t max_callback; /* bytes of a callback's content */
    int64_t idle_ms;     /* no traffic for this long closes with 1001 */
    int64_t ping_ms;     /* keepalive ping period */
    int64_t header_timeout_ms;
    int64_t turn_timeout_ms;
    int wait_replicas;   /* a callback completion is acknowledged once this many replicas have it */
    int wait_ms;         /* ... or refused after this long */
    int64_t node_ttl_ms; /* heartbeat key TTL; a dead node is reaped after it */
    double rate_per_s, rate_burst;
    int64_t max_age_ms;
    int64_t mcp_session_trust_ms; /* an MCP session seen this recently is not looked up */
    const char *token_secret;     /* "" when none (dev mode only) */
    const char *issuer;
    int dev_mode;
    int loopback_bind; /* listening on loopback only: /mcp checks Host too */
};

enum gw_route_id {
    GW_R_CHAT,
    GW_R_CALLBACK,
    GW_R_PING,
    GW_R_INVALID,
    GW_R_COUNT,
};

#define GW_LAT_BUCKETS 9
extern const double gw_lat_bounds_ms[GW_LAT_BUCKETS];

/* The gateway's own counters; the connections' are gw_conn_stats. */
struct gw_metrics {
    unsigned long long msgs_in[GW_R_COUNT], pushes_in, auth_failures;
    unsigned long long wait_short; /* completions refused: too few replicas had them in time */
    /* outbox append (the event id's time) -> queued on the socket, ms */
    unsigned long long push_lat[GW_LAT_BUCKETS + 1];
    double push_lat_sum;
};

struct gw_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct gw_conns *conns;  /* every connection (gw_router_start) */
    struct rasync *cmd;      /* commands and scripts */
    struct rasync *sub;      /* SUBSCRIBE aa:push:{node}, aa:mcp:done, aa:mcp:cancel */
    struct strmap *sessions; /* session id -> the first connection's gw_session state */
    struct gw_mcp *mcp;      /* held MCP calls, streams and the session cache */
    struct gw_oauth *oauth;  /* the registered OAuth clients */
    struct gw_config cfg;
    struct gw_metrics m;
    struct event *heartbeat, *sig_term, *sig_int;
    struct ssl_ctx_st *tls; /* SSL_CTX when a certificate is configured */
    int64_t subscribed_us;  /* when the pushes were last subscribed (0: never) */
    int sub_waiting;        /* the subscriber connected before the cells were known */
    int cells_known;        /* the deployment's cells read (keys_cells) */
    int stopping;
    int exit_code;
};

/* Borrowed: the server a connection belongs to. */
static inline struct gw_server *gw_server_of(const struct gw_conn *c)
{
    return gw_conn_owner(c);
}

#endif
