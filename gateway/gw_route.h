/* gw_route.h -- Routes a client's WebSocket message on its "action" field
 * (like API Gateway's $request.body.action): chat, async_callback, ping;
 * anything else gets an error event and the connection stays open. The
 * message is parsed and validated by gw_msg first. */
#ifndef AA_GW_ROUTE_H
#define AA_GW_ROUTE_H

#include "gw_conn.h"

#include <stddef.h>

/* Handles one complete text message. */
void gw_route_message(struct gw_conn *c, const char *msg, size_t len);

#endif
