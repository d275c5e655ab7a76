/* gw_router.h -- What the gateway serves, in one table: the HTTP routes
 * (/ws, /healthz, /metrics, /mcp, /oauth2 and the well-known documents,
 * the callback REST API), the WebSocket actions, and the delivery of what
 * Redis publishes to this node (pushes, MCP ends and cancellations). It
 * gives gw_conn its handler table. */
#ifndef AA_GW_ROUTER_H
#define AA_GW_ROUTER_H

#include "gw_server.h"

/* Creates s->conns with the router's handlers, and the subscriptions of
 * s->sub (call before the loop runs; s->base, s->tls and s->cfg set). */
void gw_router_start(struct gw_server *s);
/* The subscriber connection (re)connected: subscribes, and after a loss
 * every connection catches up from its outbox (rasync's connect callback). */
void gw_router_subscribed(struct rasync *ra, void *arg);
/* The Prometheus text of GET /metrics. Returns: owned text. */
char *gw_router_metrics(struct gw_server *s);

#endif
