/* sigv4.c -- AWS Signature Version 4 (see sigv4.h): canonical request,
 * string to sign, the derived key (HMAC-SHA256 chain) and the signature,
 * with OpenSSL. Pure: no I/O, no allocation. */
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char x[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(d, n, md);
    hex(md, sizeof(md), out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

/* Appends s URI-encoded (RFC 3986 unreserved kept, and "/") to out. */
static int encode_path(const char *s, char *out, size_t outlen)
{
    static const char x[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
                   *p == '/';
        if (o + 4 > outlen)
            return -1;
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = x[*p >> 4];
            out[o++] = x[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

int sigv4_authorization(const struct sigv4_req *r, char *out, size_t outlen)
{
    if (!r->method || !r->host || !r->path || !r->content_type || !r->region || !r->service ||
        !r->key || !r->secret || !r->amz_date || strlen(r->amz_date) != 16)
        return -1;
    int token = r->token && r->token[0];
    char uri[4096], payload_hash[65], day[9];
    if (encode_path(r->path[0] ? r->path : "/", uri, sizeof(uri)) < 0)
        return -1;
    sha256_hex(r->payload ? r->payload : "", r->payload ? r->payload_len : 0, payload_hash);
    memcpy(day, r->amz_date, 8);
    day[8] = '\0';
    const char *signed_headers = token ? "content-type;host;x-amz-date;x-amz-security-token"
                                       : "content-type;host;x-amz-date";
    char creq[12288];
    int n = snprintf(
        creq, sizeof(creq), "%s\n%s\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n%s%s%s\n%s\n%s",
        r->method, uri, r->content_type, r->host, r->amz_date, token ? "x-amz-security-token:" : "",
        token ? r->token : "", token ? "\n" : "", signed_headers, payload_hash);
    if (n < 0 || (size_t)n >= sizeof(creq))
        return -1;
    char creq_hash[65], scope[160], sts[400];
    sha256_hex(creq, (size_t)n, creq_hash);
    n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, r->region, r->service);
    if (n < 0 || (size_t)n >= sizeof(scope))
        return -1;
    n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return -1;
    unsigned char k[32], k2[32];
    char seed[300];
    n = snprintf(seed, sizeof(seed), "AWS4%s", r->secret);
    if (n < 0 || (size_t)n >= sizeof(seed))
        return -1;
    hmac((unsigned char *)seed, (size_t)n, day, k);
    hmac(k, 32, r->region, k2);
    hmac(k2, 32, r->service, k);
    hmac(k, 32, "aws4_request", k2);
    unsigned char sig[32];
    hmac(k2, 32, sts, sig);
    char sighex[65];
    hex(sig, 32, sighex);
    n = snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 r->key, scope, signed_headers, sighex);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

const char *sigv4_host_of(const char *url, char *out, size_t outlen)
{
    int https;
    const char *p;
    if (!strncasecmp(url, "https://", 8)) {
        https = 1;
        p = url + 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        https = 0;
        p = url + 7;
    } else {
        return NULL;
    }
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= outlen)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    char *colon = strrchr(out, ':');
    if (colon && !strchr(colon, ']') &&
        ((https && !strcmp(colon, ":443")) || (!https && !strcmp(colon, ":80"))))
        *colon = '\0';
    return p + n;
}
