/* gw_auth.h -- Bearer-token authentication for the gateway's routes:
 * HS256 JWTs from the Authorization header (or an access_token query
 * parameter for clients that cannot set headers). Without a configured
 * secret the gateway only runs in explicit dev mode, which admits loopback
 * peers without a token. */
#ifndef AA_GW_AUTH_H
#define AA_GW_AUTH_H

#include "gw_http.h"
#include "gw_server.h"
#include "jwt.h"

/* Returns 0 and fills cl when the request may proceed; otherwise 401 with
 * a reason in *why (static text). */
int gw_auth_check(const struct gw_server *s, const struct gw_req *req, int loopback,
                  struct jwt_claims *cl, const char **why);

/* The WWW-Authenticate header line (with CRLF) for a 401. Borrowed: static. */
const char *gw_auth_challenge(void);

#endif
