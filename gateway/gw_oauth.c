/* gw_oauth.c -- The OAuth 2.0 client-credentials token endpoint and its
 * metadata documents. */
#include "gw_oauth.h"
#include "jwt.h"
#include "log.h"
#include "util.h"

#include <http_parser.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct oclient {
    char id[128], secret[256], session[129];
};
static struct oclient *clients;
static size_t nclients;

int gw_oauth_clients(const char *spec, char *err, size_t errlen)
{
    char *copy = xstrdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *a = strchr(tok, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!a || a == tok || !a[1]) {
            snprintf(err, errlen, "MCP client '%s' must be id:secret[:session]", tok);
            free(copy);
            return -1;
        }
        clients = xrealloc(clients, sizeof(*clients) * (nclients + 1));
        struct oclient *c = &clients[nclients++];
        memset(c, 0, sizeof(*c));
        *a = '\0';
        if (b)
            *b = '\0';
        strlcpy_aa(c->id, tok, sizeof(c->id));
        strlcpy_aa(c->secret, a + 1, sizeof(c->secret));
        if (b)
            strlcpy_aa(c->session, b + 1, sizeof(c->session));
    }
    free(copy);
    return 0;
}

static const struct oclient *find_client(const char *id, const char *secret)
{
    for (size_t i = 0; i < nclients; i++) {
        size_t a = strlen(clients[i].secret), b = strlen(secret);
        if (!strcmp(clients[i].id, id) && a == b &&
            CRYPTO_memcmp(clients[i].secret, secret, a) == 0)
            return &clients[i];
    }
    return NULL;
}

static void oauth_error(struct gw_conn *c, int status, const char *code, const char *desc)
{
    gw_conn_http_json(c, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc),
                      status == 401 ? "WWW-Authenticate: Basic realm=\"agent-async\"\r\n" : NULL);
}

/* POST /oauth2/token, grant_type=client_credentials, client_secret_basic or
 * client_secret_post. */
static void token_endpoint(struct gw_conn *c, const struct gw_req *req)
{
    struct gw_server *s = gw_conn_server(c);
    if (req->method != HTTP_POST) {
        oauth_error(c, 405, "invalid_request", "use POST");
        return;
    }
    char grant[64] = "", id[128] = "", secret[256] = "", form[4200];
    snprintf(form, sizeof(form), "/?%.*s", (int)(req->body_len < 4000 ? req->body_len : 4000),
             req->body ? req->body : "");
    gw_url_query(form, "grant_type", grant, sizeof(grant));
    gw_url_query(form, "client_id", id, sizeof(id));
    gw_url_query(form, "client_secret", secret, sizeof(secret));
    if (!strncasecmp(req->authorization, "Basic ", 6)) {
        unsigned char dec[512];
        const char *b64 = req->authorization + 6;
        /* longer than dec: refused like a wrong credential */
        int n = b64_decode(b64, strlen(b64), dec, sizeof(dec) - 1);
        if (n > 0) {
            dec[n] = '\0';
            char *colon = strchr((char *)dec, ':');
            if (colon) {
                *colon = '\0';
                /* form-urlencoded per RFC 6749 2.3.1 */
                gw_pct_decode((char *)dec, strlen((char *)dec), id, sizeof(id));
                gw_pct_decode(colon + 1, strlen(colon + 1), secret, sizeof(secret));
            }
        }
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(c, 400, "unsupported_grant_type", "only client_credentials is supported");
        return;
    }
    const struct oclient *oc = id[0] ? find_client(id, secret) : NULL;
    if (!oc || !s->cfg.token_secret[0]) {
        oauth_error(c, 401, "invalid_client", "unknown client or wrong secret");
        return;
    }
    struct jwt_claims cl;
    memset(&cl, 0, sizeof(cl));
    strlcpy_aa(cl.iss, s->cfg.issuer, sizeof(cl.iss));
    strlcpy_aa(cl.sub, oc->id, sizeof(cl.sub));
    strlcpy_aa(cl.sid, oc->session, sizeof(cl.sid));
    strlcpy_aa(cl.scope, oc->session[0] ? "mcp" : "mcp any-session", sizeof(cl.scope));
    cl.iat = wall_ms() / 1000;
    cl.exp = cl.iat + 3600;
    char tok[4096];
    jwt_mint(s->cfg.token_secret, &cl, tok, sizeof(tok));
    log_info("event=oauth_token client=%s", oc->id);
    gw_conn_http_json(c, 200,
                      json_pack("{s:s, s:s, s:i, s:s}", "access_token", tok, "token_type", "Bearer",
                                "expires_in", 3600, "scope", cl.scope),
                      "Cache-Control: no-store\r\n");
}

void gw_oauth_base_url(const struct gw_req *req, char *out, size_t len)
{
    snprintf(out, len, "http://%s", req->host[0] ? req->host : "127.0.0.1");
}

int gw_oauth_route(struct gw_conn *c, const struct gw_req *req, const char *path)
{
    char base[600];
    gw_oauth_base_url(req, base, sizeof(base));
    if (!strcmp(path, "/oauth2/token")) {
        token_endpoint(c, req);
    } else if (!strcmp(path, "/.well-known/oauth-protected-resource") ||
               !strcmp(path, "/.well-known/oauth-protected-resource/mcp")) {
        char res[700];
        snprintf(res, sizeof(res), "%s/mcp", base);
        gw_conn_http_json(c, 200,
                          json_pack("{s:s, s:[s], s:[s], s:[s]}", "resource", res,
                                    "authorization_servers", base, "bearer_methods_supported",
                                    "header", "scopes_supported", "mcp"),
                          NULL);
    } else if (!strcmp(path, "/.well-known/oauth-authorization-server")) {
        char tok[700];
        snprintf(tok, sizeof(tok), "%s/oauth2/token", base);
        gw_conn_http_json(c, 200,
                          json_pack("{s:s, s:s, s:[s], s:[s,s], s:[s]}", "issuer", base,
                                    "token_endpoint", tok, "grant_types_supported",
                                    "client_credentials", "token_endpoint_auth_methods_supported",
                                    "client_secret_basic", "client_secret_post", "scopes_supported",
                                    "mcp"),
                          NULL);
    } else {
        return 0;
    }
    return 1;
}
