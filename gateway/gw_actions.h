/* gw_actions.h -- The actions of a client's WebSocket message, routed on
 * its "action" field (like API Gateway's $request.body.action): chat,
 * async_callback, ping; anything else gets an error event and the
 * connection stays open. The message is parsed and validated by gw_msg. */
#ifndef AA_GW_ACTIONS_H
#define AA_GW_ACTIONS_H

#include "gw_conn.h"
#include "gw_server.h"

#include <stddef.h>

/* Handles one complete text message of c, a connection of server s. */
void gw_actions_message(struct gw_server *s, struct gw_conn *c, const char *msg, size_t len);

#endif
