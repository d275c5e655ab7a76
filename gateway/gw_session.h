/* gw_session.h -- The client sessions of one gateway: a WebSocket request
 * for /ws?session_id=ID is authenticated, registered in Redis
 * (lua/conn_open.lua, which also checks the session's owner) and upgraded;
 * then the session's pushed events reach it in order, each once, with its
 * outbox id, catching up from the outbox after a reconnect or a lost
 * subscription. The connection itself (framing, limits) is gw_conn's. */
#ifndef AA_GW_SESSION_H
#define AA_GW_SESSION_H

#include "gw_conn.h"
#include "gw_server.h"

#include <stddef.h>

/* Handles a request for /ws: answers it with an HTTP error, or holds it
 * while the connection is registered and then upgrades it. */
void gw_session_upgrade(struct gw_server *s, struct gw_conn *c, const struct gw_req *req);

/* The session's connection ended: unregisters it (gw_conn's on_close). */
void gw_session_closed(struct gw_conn *c);
/* Frees the session state of c (gw_conn's on_free). */
void gw_session_free(struct gw_conn *c);

/* Borrowed: the session id of an upgraded connection, or "" for none. */
const char *gw_session_id(const struct gw_conn *c);

/* Delivers a pushed event (outbox id, JSON object text) to the session's
 * connections on this gateway. */
void gw_session_deliver(struct gw_server *s, const char *sid, const char *id, const char *json,
                        size_t len);
/* Every open connection catches up from its outbox (after the
 * subscription to pushes was lost). */
void gw_session_resync_all(struct gw_server *s);
/* How many sessions have a connection here. */
size_t gw_session_count(const struct gw_server *s);

#endif
