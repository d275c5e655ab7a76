/* gw_oauth.c -- The OAuth 2.0 client-credentials token endpoint and its
 * metadata documents. */
#include "gw_oauth.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "strmap.h"
#include "util.h"

#include <http_parser.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct oclient {
    char id[128], secret[256], session[129], user[129];
};

/* Failed attempts per client id and per remote address: after
 * THROTTLE_FAILS within THROTTLE_MS every attempt (even a right one) gets
 * 429 until THROTTLE_MS after the last failure. */
#define THROTTLE_FAILS 10
#define THROTTLE_MS 60000
#define THROTTLE_KEYS 10000
struct attempts {
    int fails;
    int64_t last_ms;
};

struct gw_oauth {
    struct oclient *clients;
    size_t nclients;
    struct strmap *attempts; /* "c:<client id>" or "r:<address>" -> struct attempts */
};

void gw_oauth_free(struct gw_oauth *o)
{
    if (!o)
        return;
    free(o->clients);
    strmap_free_values(o->attempts);
    free(o);
}

struct gw_oauth *gw_oauth_new(const char *spec, char *err, size_t errlen)
{
    struct gw_oauth *o = xcalloc(1, sizeof(*o));
    o->attempts = strmap_new();
    char *copy = xstrdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *f[4] = {tok, NULL, NULL, NULL};
        for (int i = 1; i < 4 && f[i - 1]; i++) {
            f[i] = strchr(f[i - 1], ':');
            if (f[i])
                *f[i]++ = '\0';
        }
        const char *sess = f[2] ? f[2] : "", *user = f[3] ? f[3] : "";
        if (!f[1] || !f[1][0] || !id_valid(f[0], 127) || strchr(user, ':') ||
            (sess[0] && !id_valid(sess, 128)) || (user[0] && !id_valid(user, 128))) {
            snprintf(err, errlen,
                     "MCP client '%s' must be id:secret[:session[:user]] (ids of A-Z a-z 0-9 . _ "
                     ": -; no wildcard)",
                     f[0]);
            free(copy);
            gw_oauth_free(o);
            return NULL;
        }
        o->clients = xrealloc(o->clients, sizeof(*o->clients) * (o->nclients + 1));
        struct oclient *c = &o->clients[o->nclients++];
        memset(c, 0, sizeof(*c));
        strlcpy_aa(c->id, f[0], sizeof(c->id));
        strlcpy_aa(c->secret, f[1], sizeof(c->secret));
        strlcpy_aa(c->session, sess, sizeof(c->session));
        strlcpy_aa(c->user, user[0] ? user : f[0], sizeof(c->user));
    }
    free(copy);
    return o;
}

/* The attempts of key, forgotten once THROTTLE_MS have passed. */
static struct attempts *attempts_of(struct gw_oauth *o, const char *key, int64_t now)
{
    if (strmap_size(o->attempts) >= THROTTLE_KEYS) {
        strmap_free_values(o->attempts); /* a flood of made-up ids: start over */
        o->attempts = strmap_new();
    }
    struct attempts *a = strmap_get(o->attempts, key);
    if (!a) {
        a = xcalloc(1, sizeof(*a));
        strmap_set(o->attempts, key, a);
    }
    if (now - a->last_ms > THROTTLE_MS)
        a->fails = 0;
    return a;
}

/* Seconds until key may try again, 0 when it may now. */
static int throttled(struct gw_oauth *o, const char *key, int64_t now)
{
    struct attempts *a = attempts_of(o, key, now);
    return a->fails >= THROTTLE_FAILS ? (int)((a->last_ms + THROTTLE_MS - now) / 1000) + 1 : 0;
}

static const struct oclient *find_client(const struct gw_oauth *o, const char *id,
                                         const char *secret)
{
    for (size_t i = 0; i < o->nclients; i++) {
        size_t a = strlen(o->clients[i].secret), b = strlen(secret);
        if (!strcmp(o->clients[i].id, id) && a == b &&
            CRYPTO_memcmp(o->clients[i].secret, secret, a) == 0)
            return &o->clients[i];
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
static void token_endpoint(struct gw_server *s, struct gw_conn *c, const struct gw_req *req)
{
    struct gw_oauth *o = s->oauth;
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
    char kc[160], kr[80];
    const char *remote = gw_conn_remote(c), *port = strrchr(remote, ':');
    snprintf(kc, sizeof(kc), "c:%s", id);
    snprintf(kr, sizeof(kr), "r:%.*s", (int)(port ? port - remote : (long)strlen(remote)), remote);
    int64_t now = mono_us() / 1000;
    int wait_s = throttled(o, kc, now);
    if (!wait_s)
        wait_s = throttled(o, kr, now);
    if (wait_s) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", wait_s);
        log_warn("event=oauth_throttled client=%s remote=%s retry_after_s=%d", id, remote, wait_s);
        gw_conn_http_json(c, 429,
                          json_pack("{s:s, s:s}", "error", "slow_down", "error_description",
                                    "too many failed attempts; try again later"),
                          hdr);
        return;
    }
    const struct oclient *oc = id[0] ? find_client(o, id, secret) : NULL;
    if (!oc || !s->cfg.token_secret[0]) {
        struct attempts *a = attempts_of(o, kc, now), *b = attempts_of(o, kr, now);
        a->fails++;
        b->fails++;
        a->last_ms = b->last_ms = now;
        log_warn("event=oauth_failed client=%s remote=%s why=\"%s\" fails=%d", id, remote,
                 !s->cfg.token_secret[0] ? "no token secret" : "unknown client or wrong secret",
                 a->fails);
        oauth_error(c, 401, "invalid_client", "unknown client or wrong secret");
        return;
    }
    free(strmap_del(o->attempts, kc)); /* the right secret: start afresh */
    free(strmap_del(o->attempts, kr));
    struct jwt_claims cl;
    memset(&cl, 0, sizeof(cl));
    strlcpy_aa(cl.iss, s->cfg.issuer, sizeof(cl.iss));
    strlcpy_aa(cl.sub, oc->user, sizeof(cl.sub)); /* whose sessions it acts on */
    strlcpy_aa(cl.azp, oc->id, sizeof(cl.azp));   /* who it is */
    strlcpy_aa(cl.sid, oc->session, sizeof(cl.sid));
    strlcpy_aa(cl.scope, "mcp", sizeof(cl.scope));
    cl.iat = wall_ms() / 1000;
    cl.exp = cl.iat + 3600;
    char tok[4096];
    jwt_mint(s->cfg.token_secret, &cl, tok, sizeof(tok));
    log_info("event=oauth_token client=%s sub=%s", oc->id, oc->user);
    gw_conn_http_json(c, 200,
                      json_pack("{s:s, s:s, s:i, s:s}", "access_token", tok, "token_type", "Bearer",
                                "expires_in", 3600, "scope", cl.scope),
                      "Cache-Control: no-store\r\n");
}

void gw_oauth_base_url(const struct gw_server *s, const struct gw_req *req, char *out, size_t len)
{
    snprintf(out, len, "%s://%s", s->tls ? "https" : "http",
             req->host[0] ? req->host : "127.0.0.1");
}

int gw_oauth_route(struct gw_server *s, struct gw_conn *c, const struct gw_req *req,
                   const char *path)
{
    char base[600];
    gw_oauth_base_url(s, req, base, sizeof(base));
    if (!strcmp(path, "/oauth2/token")) {
        token_endpoint(s, c, req);
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
