/* sigv4.h -- AWS Signature Version 4 for one request to the Bedrock
 * runtime, as the AWS SDKs and botocore compute it: the canonical URI is
 * the path as sent, URI-encoded once more (every service but S3 signs it
 * so: a model id's ":" is "%3A" on the wire and "%253A" in the signature),
 * and the signed headers are content-type, host, x-amz-date and, with
 * temporary credentials, x-amz-security-token. (Debian 12's libcurl signs
 * the path as sent, which Bedrock refuses.) */
#ifndef AA_SIGV4_H
#define AA_SIGV4_H

#include <stddef.h>
#include <time.h>

struct sigv4_req {
    const char *method;       /* "POST" */
    const char *host;         /* the Host header: host, or host:port when not the default */
    const char *path;         /* as sent: already percent-encoded */
    const char *content_type; /* the Content-Type header */
    const char *payload;
    size_t payload_len;
    const char *region, *service;
    const char *key, *secret;
    const char *token;    /* "" or NULL without a session token */
    const char *amz_date; /* X-Amz-Date: YYYYMMDDTHHMMSSZ */
};

/* Writes the Authorization header's value into out. Returns 0 / -1 (out too
 * small, a field missing). */
int sigv4_authorization(const struct sigv4_req *r, char *out, size_t outlen);

/* The X-Amz-Date of t (UTC) into out (17 bytes with the NUL). */
void sigv4_amz_date(time_t t, char out[17]);

/* host[:port] of an http(s) URL, without the default port, into out.
 * Returns a pointer to the path in url ("" when none), or NULL. */
const char *sigv4_host_of(const char *url, char *out, size_t outlen);

#endif
