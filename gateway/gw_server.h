/* gw_server.h -- The gateway's shared state (internal to gateway/): the
 * listener, the Redis connections, the connection registry by session, the
 * configuration and the metrics. */
#ifndef AA_GW_SERVER_H
#define AA_GW_SERVER_H

#include "rasync.h"
#include "strmap.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct gw_conn;

struct gw_config {
    const char *bind;
    int port;
    const char *redis;
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

struct gw_metrics {
    unsigned long long conns_total, conns_rejected, msgs_in[GW_R_COUNT], events_out, pushes_in,
        http_requests, errors_sent, slow_closed, auth_failures, rate_limited;
    /* outbox append (the event id's time) -> queued on the socket, ms */
    unsigned long long push_lat[GW_LAT_BUCKETS + 1];
    double push_lat_sum;
};

struct gw_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct rasync *cmd;      /* commands and scripts */
    struct rasync *sub;      /* SUBSCRIBE aa:push:{node} */
    struct strmap *sessions; /* session id -> first struct gw_conn of the session */
    struct gw_conn *conns;   /* every connection */
    size_t nconns, nopen;
    struct gw_config cfg;
    struct gw_metrics m;
    struct event *heartbeat, *sig_term, *sig_int;
    struct ssl_ctx_st *tls; /* SSL_CTX when a certificate is configured */
    int sub_connected_once;
    int stopping;
    /* Corking: while pushes from one read of the subscription are
     * delivered, frames gather per connection and go out in one write each
     * when the batch ends (gw_server_uncork), as Redis writes its replies
     * before it sleeps. Under load a batch spans everything that has
     * arrived; when idle it is one message and nothing waits. */
    int corked;
    struct gw_conn **dirty;
    size_t ndirty, dirty_cap;
    struct event *uncork;
};

/* Delivers a pushed event (from the node channel) to the session's
 * connections. */
void gw_server_deliver(struct gw_server *s, const char *sid, const char *id, const char *json,
                       size_t len);
/* Starts a batch of deliveries (if none is open) whose frames are written
 * when the current event-loop turn ends. */
void gw_server_cork(struct gw_server *s);
/* Notes c as holding corked frames. Takes a reference, dropped on uncork. */
void gw_server_dirty(struct gw_server *s, struct gw_conn *c);
/* Ends the batch: writes every dirty connection's frames. */
void gw_server_uncork(struct gw_server *s);

/* Answers GET /metrics. Returns: owned text. */
char *gw_server_metrics(struct gw_server *s);

#endif
