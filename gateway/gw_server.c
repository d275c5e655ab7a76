/* gw_server.c -- Delivery of pushed events to local connections, and the
 * Prometheus metrics text. */
#include "gw_server.h"
#include "gw_conn.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_server_deliver(struct gw_server *s, const char *sid, const char *id, const char *json,
                       size_t len)
{
    s->m.pushes_in++;
    struct gw_conn *c = strmap_get(s->sessions, sid);
    while (c) {
        struct gw_conn *next = gw_conn_next_in_session(c); /* c may close while sending */
        gw_conn_deliver(c, id, json, len);
        c = next;
    }
}

void gw_server_cork(struct gw_server *s)
{
    if (s->corked || !s->uncork || s->tls)
        return;
    s->corked = 1;
    event_active(s->uncork, EV_TIMEOUT, 0); /* runs after this turn's callbacks */
}

void gw_server_dirty(struct gw_server *s, struct gw_conn *c)
{
    if (s->ndirty == s->dirty_cap) {
        s->dirty_cap = s->dirty_cap ? 2 * s->dirty_cap : 256;
        s->dirty = xrealloc(s->dirty, s->dirty_cap * sizeof(*s->dirty));
    }
    gw_conn_ref(c);
    s->dirty[s->ndirty++] = c;
}

void gw_server_uncork(struct gw_server *s)
{
    s->corked = 0;
    for (size_t i = 0; i < s->ndirty; i++) {
        gw_conn_flush(s->dirty[i]);
        gw_conn_unref(s->dirty[i]);
    }
    s->ndirty = 0;
}

char *gw_server_metrics(struct gw_server *s)
{
    static const char *routes[GW_R_COUNT] = {"chat", "async_callback", "ping", "invalid"};
    unsigned long long replies, reconnects, sreplies, sreconnects;
    double rtt, srtt;
    rasync_stats(s->cmd, &replies, &rtt, &reconnects);
    rasync_stats(s->sub, &sreplies, &srtt, &sreconnects);
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
        s->nopen, s->nconns, strmap_size(s->sessions), s->m.conns_total, s->m.conns_rejected,
        s->m.http_requests);
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
                  "# TYPE aa_redis_up gauge\naa_redis_up %d\n",
                  s->m.events_out, s->m.pushes_in, s->m.errors_sent, s->m.auth_failures,
                  s->m.rate_limited, s->m.slow_closed, rtt, replies, reconnects + sreconnects,
                  rasync_connected(s->cmd) && rasync_connected(s->sub));
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
