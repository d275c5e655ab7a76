/* gw_auth.c -- token extraction and verification. */
#include "gw_auth.h"
#include "util.h"

#include <string.h>
#include <strings.h>

const char *gw_auth_challenge(void)
{
    return "WWW-Authenticate: Bearer realm=\"agent-async\"\r\n";
}

int gw_auth_is_admin(const struct jwt_claims *cl)
{
    return jwt_has_scope(cl, GW_SCOPE_ADMIN);
}

int gw_auth_check(const struct gw_server *s, const struct gw_req *req, int loopback,
                  const char *scope, int query_token, struct jwt_claims *cl, const char **why)
{
    char token[4200] = "";
    memset(cl, 0, sizeof(*cl));
    if (!query_token && gw_url_query(req->url, "access_token", token, sizeof(token)) != 0) {
        *why = "tokens go in the Authorization header only";
        return 401;
    }
    if (!strncasecmp(req->authorization, "Bearer ", 7)) {
        const char *t = req->authorization + 7;
        while (*t == ' ')
            t++;
        strlcpy_aa(token, t, sizeof(token));
    } else if (req->authorization[0]) {
        *why = "Authorization must be 'Bearer <token>'";
        return 401;
    } else {
        if (query_token && gw_url_query(req->url, "access_token", token, sizeof(token)) < 0) {
            *why = "malformed access_token";
            return 401;
        }
    }
    if (!token[0]) {
        if (!s->cfg.token_secret[0] && s->cfg.dev_mode && loopback) {
            strlcpy_aa(cl->sub, "dev", sizeof(cl->sub));
            strlcpy_aa(cl->scope, "client callbacks mcp", sizeof(cl->scope));
            return 0;
        }
        *why = "missing bearer token";
        return 401;
    }
    if (!s->cfg.token_secret[0]) {
        *why = "this gateway has no token secret (dev mode admits loopback peers without a token)";
        return 401;
    }
    if (jwt_verify(s->cfg.token_secret, token, s->cfg.issuer, wall_ms() / 1000, cl, why) < 0)
        return 401;
    if (!jwt_has_scope(cl, scope)) {
        *why = !strcmp(scope, GW_SCOPE_CLIENT)      ? "the token lacks the 'client' scope"
               : !strcmp(scope, GW_SCOPE_CALLBACKS) ? "the token lacks the 'callbacks' scope"
                                                    : "the token lacks the 'mcp' scope";
        return 403;
    }
    return 0;
}
