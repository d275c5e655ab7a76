/* jwt.c -- HS256 with OpenSSL's HMAC and a constant-time comparison. */
#include "jwt.h"
#include "util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (need > outlen)
        return -1;
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
    return n;
}

/* Base64 of either alphabet into out, bounded by outlen. url: "-_" and no
 * padding; else "+/" with its padding "=" (RFC 4648). Returns the length or
 * -1. */
static int b64_any_decode(const char *in, size_t len, unsigned char *out, size_t outlen, int url)
{
    size_t pad = 0;
    if (!url)
        while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
            pad++;
    if (len > 8192 || (url ? len % 4 == 1 : len % 4 != 0))
        return -1;
    size_t padded = (len + 3) / 4 * 4;
    if (padded / 4 * 3 > outlen)
        return -1;
    char *buf = xmalloc(padded + 1);
    for (size_t i = 0; i < padded; i++) {
        char c = i < len - pad ? in[i] : '=';
        if (url && c == '-')
            c = '+';
        else if (url && c == '_')
            c = '/';
        int ok = c == '=' ? i >= len - pad
                          : (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok || (url && i < len && (in[i] == '+' || in[i] == '/'))) {
            free(buf);
            return -1;
        }
        buf[i] = c;
    }
    int n = EVP_DecodeBlock(out, (unsigned char *)buf, (int)padded);
    free(buf);
    if (n < 0)
        return -1;
    return n - (int)(padded - (len - pad)); /* EVP counts the padding as zero bytes */
}

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
    return b64_any_decode(in, len, out, outlen, 1);
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
    return b64_any_decode(in, len, out, outlen, 0);
}

static int sign(const char *secret, const char *data, size_t len, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)data, len, mac,
              &maclen))
        return -1;
    return b64url_encode(mac, maclen, out, outlen);
}

int jwt_mint(const char *secret, const struct jwt_claims *c, char *out, size_t outlen)
{
    if (!secret || !*secret)
        return -1;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    json_t *p = json_pack("{s:s, s:s, s:I, s:I}", "iss", c->iss, "sub", c->sub, "iat",
                          (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    if (c->sid[0])
        json_object_set_new(p, "sid", json_string(c->sid));
    if (c->scope[0])
        json_object_set_new(p, "scope", json_string(c->scope));
    if (c->azp[0])
        json_object_set_new(p, "azp", json_string(c->azp));
    char *payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    char h64[64], *p64 = xmalloc(strlen(payload) * 2 + 8);
    b64url_encode((const unsigned char *)header, strlen(header), h64, sizeof(h64));
    b64url_encode((const unsigned char *)payload, strlen(payload), p64, strlen(payload) * 2 + 8);
    free(payload);
    int n = snprintf(out, outlen, "%s.%s.", h64, p64);
    free(p64);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    int s = sign(secret, out, (size_t)n - 1, out + n, outlen - (size_t)n);
    return s < 0 ? -1 : n + s;
}

static int copy_claim(json_t *o, const char *k, char *dst, size_t dstlen, int required)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return required ? -1 : 0;
    if (!json_is_string(v) || json_string_length(v) >= dstlen)
        return -1;
    strlcpy_aa(dst, json_string_value(v), dstlen);
    return 0;
}

int jwt_verify(const char *secret, const char *token, const char *issuer, int64_t now_s,
               struct jwt_claims *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = "malformed token";
    if (!secret || !*secret || !token)
        return -1;
    size_t tlen = strlen(token);
    if (tlen > 4096)
        return -1;
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return -1;
    char sig[128];
    if (sign(secret, token, (size_t)(d2 - token), sig, sizeof(sig)) < 0)
        return -1;
    size_t siglen = strlen(d2 + 1);
    if (siglen != strlen(sig) || CRYPTO_memcmp(sig, d2 + 1, siglen) != 0) {
        *why = "bad signature";
        return -1;
    }
    unsigned char buf[4096];
    int n = b64url_decode(token, (size_t)(d1 - token), buf, sizeof(buf) - 1);
    if (n < 0)
        return -1;
    json_t *h = json_loadb((const char *)buf, (size_t)n, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    int alg_ok = alg && !strcmp(alg, "HS256");
    json_decref(h);
    if (!alg_ok) {
        *why = "unsupported alg (HS256 only)";
        return -1;
    }
    n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf) - 1);
    if (n < 0)
        return -1;
    json_t *p = json_loadb((const char *)buf, (size_t)n, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return -1;
    }
    int bad = copy_claim(p, "iss", out->iss, sizeof(out->iss), 1) ||
              copy_claim(p, "sub", out->sub, sizeof(out->sub), 1) ||
              copy_claim(p, "sid", out->sid, sizeof(out->sid), 0) ||
              copy_claim(p, "scope", out->scope, sizeof(out->scope), 0) ||
              copy_claim(p, "azp", out->azp, sizeof(out->azp), 0);
    json_t *exp = json_object_get(p, "exp"), *iat = json_object_get(p, "iat");
    if (!json_is_integer(exp) || (iat && !json_is_integer(iat)))
        bad = 1;
    out->exp = json_integer_value(exp);
    out->iat = iat ? json_integer_value(iat) : 0;
    json_decref(p);
    if (bad) {
        *why = "missing or malformed claims";
        return -1;
    }
    if (strcmp(out->iss, issuer) != 0) {
        *why = "wrong issuer";
        return -1;
    }
    if (out->exp <= now_s) {
        *why = "token expired";
        return -1;
    }
    if (out->iat > now_s + 60) {
        *why = "token issued in the future";
        return -1;
    }
    *why = NULL;
    return 0;
}

int jwt_has_scope(const struct jwt_claims *c, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = c->scope; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == n && !strncmp(p, word, n))
            return 1;
        p = e;
    }
    return 0;
}
