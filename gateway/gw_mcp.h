/* gw_mcp.h -- The MCP endpoint (Streamable HTTP) serving the tool catalog
 * to outside agents, with tokens from gw_oauth.h. tools/call runs the tool
 * as a durable execution on the tool stream; the HTTP response is held on
 * the event loop (no thread) until the execution ends. Its state is a
 * struct gw_mcp that the server owns (s->mcp). */
#ifndef AA_GW_MCP_H
#define AA_GW_MCP_H

#include "gw_conn.h"
#include "gw_server.h"

struct gw_mcp;

/* Returns: owned, free with gw_mcp_free (which ends every held request and
 * stream). */
struct gw_mcp *gw_mcp_new(void);
void gw_mcp_free(struct gw_mcp *m);

/* Handles /mcp. Returns 1 when the path was it (answered or held), 0
 * otherwise. */
int gw_mcp_route(struct gw_server *s, struct gw_conn *c, const struct gw_req *req,
                 const char *path);

/* The end of an execution started by tools/call (from aa:mcp:done, which
 * every gateway hears: "{eid}\n{status}\n{result}", or just the id):
 * answers the requests waiting on it. */
void gw_mcp_done(struct gw_server *s, const char *msg);
/* A message of aa:mcp:cancel: notifications/cancelled (the MCP session and
 * the request id's JSON, joined by a newline), or the MCP session alone when
 * it was ended by DELETE on any gateway. */
void gw_mcp_cancelled(struct gw_server *s, const char *key);

#endif
