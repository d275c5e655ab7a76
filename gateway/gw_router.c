/* gw_router.c -- The gateway's routes and deliveries: the handler table of
 * its connections (requests by path, WebSocket messages by action, ends),
 * the node's subscriptions (pushes to sessions, MCP ends and
 * cancellations), /healthz and /metrics. */
#include "gw_router.h"
#include "gw_actions.h"
#include "gw_mcp.h"
#include "gw_oauth.h"
#include "gw_rest.h"
#include "gw_session.h"
#include "keys.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_request(struct gw_conn *c, const struct gw_req *req, const char *path, void *arg)
{
    struct gw_server *s = arg;
    int wants_ws = req->is_upgrade || req->upgrade[0] || req->ws_key[0];
    if (!s->cells_known && strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0) {
        /* no Redis name can be made before the deployment's cells are read */
        gw_conn_http_error(c, 503, "unavailable", "Redis is unavailable; try again", NULL);
    } else if (!strcmp(path, "/ws") || (!strcmp(path, "/") && wants_ws)) {
        gw_session_upgrade(s, c, req);
    } else if (!strcmp(path, "/healthz")) {
        int ok = rasync_connected(s->cmd) && rasync_connected(s->sub) && s->cells_known;
        gw_conn_http_json(c, ok ? 200 : 503,
                          json_pack("{s:s, s:b, s:s, s:I}", "status", ok ? "ok" : "degraded",
                                    "redis", ok, "node", s->cfg.node, "connections",
                                    (json_int_t)gw_conns_open(s->conns)),
                          NULL);
    } else if (!strcmp(path, "/metrics")) {
        char *body = gw_router_metrics(s);
        gw_conn_http_respond(c, 200, "text/plain; version=0.0.4", body, strlen(body), NULL);
        free(body);
    } else if (gw_mcp_route(s, c, req, path) || gw_oauth_route(s, c, req, path)) {
        ;
    } else if (!strncmp(path, GW_REST_CALLBACK_PREFIX, strlen(GW_REST_CALLBACK_PREFIX))) {
        gw_rest_callback(s, c, req, path);
    } else {
        gw_conn_http_error(c, 404, NULL, "no such route (try /ws, /healthz, /metrics)", NULL);
    }
}

static void on_text(struct gw_conn *c, const char *msg, size_t len, void *arg)
{
    gw_actions_message(arg, c, msg, len);
}

static void on_close(struct gw_conn *c, void *arg)
{
    (void)arg;
    gw_session_closed(c);
}

static void on_free(struct gw_conn *c, void *arg)
{
    (void)arg;
    gw_session_free(c);
}

/* Before a batch of pushes is written, take in whatever else has arrived
 * on the subscription (bounded): under load one write per connection then
 * carries many events. */
static void on_uncork(void *arg)
{
    struct gw_server *s = arg;
    for (int i = 0; i < 64 && rasync_readable(s->sub) > 0; i++)
        rasync_read(s->sub);
}

static const struct gw_conn_handlers handlers = {on_request, on_text, on_close, on_free, on_uncork};

/* A message of aa:push:{node} (or, with cells, of the cell's sharded
 * aa:{cK}:push:{node}): "session \n event id \n event JSON". A sharded
 * subscription placed again on another master (failover, reshard) says
 * "subscribe" again: what was published meanwhile is in the outboxes. */
static void on_push(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_server *s = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    if (!strcmp(r->element[0]->str, "subscribe") && s->subscribed_us &&
        mono_us() - s->subscribed_us > 1000000) {
        log_info("event=push_subscription_moved channel=%s", r->element[1]->str);
        gw_session_resync_all(s);
        return;
    }
    if (strcmp(r->element[0]->str, "message") != 0 && strcmp(r->element[0]->str, "smessage") != 0)
        return;
    const char *p = r->element[2]->str, *end = p + r->element[2]->len;
    const char *nl1 = memchr(p, '\n', (size_t)(end - p));
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2 || nl1 - p > 128 || nl2 - nl1 - 1 > 47)
        return;
    char sid[129], id[48];
    memcpy(sid, p, (size_t)(nl1 - p));
    sid[nl1 - p] = '\0';
    memcpy(id, nl1 + 1, (size_t)(nl2 - nl1 - 1));
    id[nl2 - nl1 - 1] = '\0';
    gw_conns_cork(s->conns);
    gw_session_deliver(s, sid, id, nl2 + 1, (size_t)(end - nl2 - 1));
}

static void on_done(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        !strcmp(r->element[0]->str, "message") && r->element[2]->str)
        gw_mcp_done(arg, r->element[2]->str);
}

static void on_cancel(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        !strcmp(r->element[0]->str, "message") && r->element[2]->str)
        gw_mcp_cancelled(arg, r->element[2]->str);
}

void gw_router_subscribed(struct rasync *ra, void *arg)
{
    struct gw_server *s = arg;
    if (!s->cells_known) { /* the push channels depend on the cells: on_cells subscribes */
        s->sub_waiting = 1;
        return;
    }
    s->sub_waiting = 0;
    char ch[KEYS_MAX];
    if (keys_cells() == 1) {
        keys_push(ch, sizeof(ch), s->cfg.node, 0);
        rasync_subscribe(ra, on_push, s, "SUBSCRIBE", ch);
    } else {
        for (unsigned k = 0; k < keys_cells(); k++)
            rasync_ssubscribe(ra, on_push, s, keys_push(ch, sizeof(ch), s->cfg.node, k));
    }
    rasync_subscribe(ra, on_done, s, "SUBSCRIBE", KEYS_MCP_DONE);
    rasync_subscribe(ra, on_cancel, s, "SUBSCRIBE", KEYS_MCP_CANCEL);
    if (s->subscribed_us) /* pushes published while we were away are in the outboxes */
        gw_session_resync_all(s);
    s->subscribed_us = mono_us();
}

void gw_router_start(struct gw_server *s)
{
    struct gw_conn_limits lim = {
        .max_message = s->cfg.max_message,
        .max_output = s->cfg.max_output,
        .idle_ms = s->cfg.idle_ms,
        .ping_ms = s->cfg.ping_ms,
        .header_timeout_ms = s->cfg.header_timeout_ms,
        .max_age_ms = s->cfg.max_age_ms,
        .rate_per_s = s->cfg.rate_per_s,
        .rate_burst = s->cfg.rate_burst,
    };
    s->conns = gw_conns_new(s->base, s->tls, &lim, &handlers, s);
}

char *gw_router_metrics(struct gw_server *s)
{
    static const char *routes[GW_R_COUNT] = {"chat", "async_callback", "ping", "invalid"};
    unsigned long long replies, reconnects, sreplies, sreconnects;
    double rtt, srtt;
    rasync_stats(s->cmd, &replies, &rtt, &reconnects);
    rasync_stats(s->sub, &sreplies, &srtt, &sreconnects);
    const struct gw_conn_stats *cs = gw_conns_stats(s->conns);
    size_t cap = 8192;
    char *out = xmalloc(cap);
    int n = snprintf(
        out, cap,
        "# HELP aa_gateway_connections Open WebSocket connections.\n"
        "# TYPE aa_gateway_connections gauge\naa_gateway_connections %zu\n"
        "# HELP aa_gateway_sockets Open sockets (HTTP and WebSocket).\n"
        "# TYPE aa_gateway_sockets gauge\naa_gateway_sockets %zu\n"
        "# HELP aa_gateway_sessions Sessions with a connection on this gateway.\n"
        "# TYPE aa_gateway_sessions gauge\naa_gateway_sessions %zu\n"
        "# TYPE aa_gateway_connections_total counter\naa_gateway_connections_total %llu\n"
        "# TYPE aa_gateway_upgrades_rejected_total counter\n"
        "aa_gateway_upgrades_rejected_total %llu\n"
        "# TYPE aa_gateway_http_requests_total counter\naa_gateway_http_requests_total %llu\n"
        "# HELP aa_gateway_messages_in_total Client messages by route.\n"
        "# TYPE aa_gateway_messages_in_total counter\n",
        gw_conns_open(s->conns), gw_conns_count(s->conns), gw_session_count(s), cs->accepted,
        cs->rejected, cs->http_requests);
    for (int i = 0; i < GW_R_COUNT; i++)
        n += snprintf(out + n, cap - (size_t)n, "aa_gateway_messages_in_total{route=\"%s\"} %llu\n",
                      routes[i], s->m.msgs_in[i]);
    n += snprintf(out + n, cap - (size_t)n,
                  "# TYPE aa_gateway_messages_out_total counter\n"
                  "aa_gateway_messages_out_total %llu\n"
                  "# TYPE aa_gateway_pushes_received_total counter\n"
                  "aa_gateway_pushes_received_total %llu\n"
                  "# TYPE aa_gateway_errors_sent_total counter\naa_gateway_errors_sent_total %llu\n"
                  "# TYPE aa_gateway_auth_failures_total counter\n"
                  "aa_gateway_auth_failures_total %llu\n"
                  "# TYPE aa_gateway_rate_limited_total counter\n"
                  "aa_gateway_rate_limited_total %llu\n"
                  "# TYPE aa_gateway_slow_clients_closed_total counter\n"
                  "aa_gateway_slow_clients_closed_total %llu\n"
                  "# HELP aa_redis_round_trip_seconds Redis command round trips.\n"
                  "# TYPE aa_redis_round_trip_seconds summary\n"
                  "aa_redis_round_trip_seconds_sum %.6f\naa_redis_round_trip_seconds_count %llu\n"
                  "# TYPE aa_redis_reconnects_total counter\naa_redis_reconnects_total %llu\n"
                  "# TYPE aa_redis_up gauge\naa_redis_up %d\n"
                  "# HELP aa_gateway_answers_not_replicated_total Callback answers refused "
                  "because fewer than --redis-wait-replicas replicas had them in time.\n"
                  "# TYPE aa_gateway_answers_not_replicated_total counter\n"
                  "aa_gateway_answers_not_replicated_total %llu\n",
                  cs->events_out, s->m.pushes_in, cs->errors_sent, s->m.auth_failures,
                  cs->rate_limited, cs->slow_closed, rtt, replies, reconnects + sreconnects,
                  rasync_connected(s->cmd) && rasync_connected(s->sub), s->m.wait_short);
    n += snprintf(out + n, cap - (size_t)n,
                  "# HELP aa_gateway_push_latency_seconds From the outbox append to the socket.\n"
                  "# TYPE aa_gateway_push_latency_seconds histogram\n");
    unsigned long long cum = 0;
    for (int b = 0; b <= GW_LAT_BUCKETS; b++) {
        cum += s->m.push_lat[b];
        if (b < GW_LAT_BUCKETS)
            n += snprintf(out + n, cap - (size_t)n,
                          "aa_gateway_push_latency_seconds_bucket{le=\"%g\"} %llu\n",
                          gw_lat_bounds_ms[b] / 1000.0, cum);
        else
            n += snprintf(out + n, cap - (size_t)n,
                          "aa_gateway_push_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
                          "aa_gateway_push_latency_seconds_sum %.6f\n"
                          "aa_gateway_push_latency_seconds_count %llu\n",
                          cum, s->m.push_lat_sum, cum);
    }
    return out;
}
