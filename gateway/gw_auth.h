/* gw_auth.h -- Bearer-token authentication and route scopes for the
 * gateway: HS256 JWTs from the Authorization header (on /ws also an
 * access_token query parameter, for browsers, which cannot set headers).
 * Without a configured secret the gateway only runs in explicit dev mode,
 * which admits loopback peers without a token as subject "dev". */
#ifndef AA_GW_AUTH_H
#define AA_GW_AUTH_H

#include "gw_http.h"
#include "gw_server.h"
#include "jwt.h"

/* The scope each route requires; admin (minted only by aa-ctl) also lifts
 * the session-owner checks. */
#define GW_SCOPE_CLIENT "client"
#define GW_SCOPE_CALLBACKS "callbacks"
#define GW_SCOPE_MCP "mcp"
#define GW_SCOPE_ADMIN "admin"

/* Authenticates req for a route that needs scope; query_token allows
 * ?access_token=. Returns 0 and fills cl, 401 (no or bad token) or 403 (the
 * token lacks scope), with a reason in *why (static text). */
int gw_auth_check(const struct gw_server *s, const struct gw_req *req, int loopback,
                  const char *scope, int query_token, struct jwt_claims *cl, const char **why);

/* 1 when the token may act on every session (the admin scope). */
int gw_auth_is_admin(const struct jwt_claims *cl);

/* The WWW-Authenticate header line (with CRLF) for a 401. Borrowed: static. */
const char *gw_auth_challenge(void);

#endif
