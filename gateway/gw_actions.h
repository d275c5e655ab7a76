/* gw_actions.h -- The actions of a client's WebSocket message, routed on
 * its "action" field (like API Gateway's $request.body.action): chat,
 * async_callback, ping; anything else gets an error event and the
 * connection stays open. The message is parsed and validated by gw_msg. */
#ifndef AA_GW_ACTIONS_H
#define AA_GW_ACTIONS_H

#include "dur.h"
#include "gw_conn.h"
#include "gw_server.h"
#include "scripts.h"

#include <stddef.h>

/* Handles one complete text message of c, a connection of server s. */
void gw_actions_message(struct gw_server *s, struct gw_conn *c, const char *msg, size_t len);

/* What a callback completion came to: lua/cb_complete.lua's verdict, or
 * SCRIPTS_CB_UNAVAILABLE when it was recorded but fewer than
 * --redis-wait-replicas replicas had it within --redis-wait-ms (the caller
 * says "send it again": the answer is acknowledged only once it would
 * survive a failover). */
typedef void (*gw_complete_cb)(enum scripts_completion v, void *arg);

/* Completes a callback (the WebSocket and REST routes). Borrowed: dc,
 * during the call. cb runs once, from the loop. */
void gw_actions_complete(struct gw_server *s, const struct dur_complete *dc, gw_complete_cb cb,
                         void *arg);

#endif
