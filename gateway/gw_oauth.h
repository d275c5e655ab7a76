/* gw_oauth.h -- OAuth 2.0 client credentials on the gateway's port, as the
 * original's Cognito: POST /oauth2/token (client_secret_basic and
 * client_secret_post) issues short-lived JWT access tokens with the "mcp"
 * scope to registered clients, and the protected-resource and
 * authorization-server metadata documents (RFC 9728, RFC 8414) point MCP
 * clients to it. */
#ifndef AA_GW_OAUTH_H
#define AA_GW_OAUTH_H

#include "gw_conn.h"
#include "gw_server.h"

#include <stddef.h>

struct gw_oauth;

/* The clients of "id:secret[:session[:user]],..." (AA_MCP_CLIENTS), and
 * the throttle of failed attempts. A client's tokens act for user (default:
 * the client id): on the sessions that subject owns, and with a session on
 * that one only. Returns: owned, free with gw_oauth_free; NULL with err. */
struct gw_oauth *gw_oauth_new(const char *spec, char *err, size_t errlen);
void gw_oauth_free(struct gw_oauth *o);

/* Handles /oauth2/token and /.well-known/oauth-* with s->oauth. Returns 1
 * when the path was one of them (answered), 0 otherwise. */
int gw_oauth_route(struct gw_server *s, struct gw_conn *c, const struct gw_req *req,
                   const char *path);

/* The server's base URL as the request names it ("http://host[:port]"). */
void gw_oauth_base_url(const struct gw_server *s, const struct gw_req *req, char *out, size_t len);

#endif
