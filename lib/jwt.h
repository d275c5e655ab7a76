/* jwt.h -- HS256 JSON Web Tokens (RFC 7519) for the gateway: minted by
 * `aa-ctl token`, checked on WebSocket upgrade and on the REST routes.
 * Only HS256 is accepted ("none" and every other alg are refused). */
#ifndef AA_JWT_H
#define AA_JWT_H

#include <stddef.h>
#include <stdint.h>

struct jwt_claims {
    char iss[64];
    char sub[129];   /* who: a user or an OAuth client id */
    char sid[129];   /* optional: the only session this token may act for */
    char scope[256]; /* space-separated: "client", "callbacks", "mcp", "admin" */
    char azp[128];   /* optional: the OAuth client that obtained the token */
    int64_t iat, exp;
};

/* Writes the token into out. Returns its length, or -1 (out too small,
 * secret empty). */
int jwt_mint(const char *secret, const struct jwt_claims *c, char *out, size_t outlen);

/* Verifies signature, alg, issuer and expiry (exp > now_s; iat not in the
 * future beyond 60 s of skew) and fills out. Returns 0, or -1 with a short
 * reason in *why (static text). */
int jwt_verify(const char *secret, const char *token, const char *issuer, int64_t now_s,
               struct jwt_claims *out, const char **why);

/* 1 when the space-separated scope list contains word. */
int jwt_has_scope(const struct jwt_claims *c, const char *word);

/* Base64url without padding. Return the output length, or -1. */
int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen);
/* Base64 with "+/" and padding (RFC 4648 section 4), as in HTTP Basic
 * credentials. Writes at most outlen bytes. Returns the length, or -1. */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

#endif
