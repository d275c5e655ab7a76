/* gw_http.h -- HTTP/1.1 request reading on top of http-parser: one request
 * at a time, with bounded header and body sizes, keeping only the headers
 * the gateway uses. */
#ifndef AA_GW_HTTP_H
#define AA_GW_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#define GW_HTTP_MAX_HEADER_BYTES 16384

struct gw_req {
    int method; /* http-parser's enum http_method */
    char method_name[16];
    char url[4096];
    char upgrade[64], connection[256], ws_key[128], ws_version[16], ws_protocol[512];
    char authorization[2048], origin[512], host[512], content_type[256], accept[512];
    char last_event_id[64], mcp_session[256], mcp_version[64];
    char *body; /* owned by the reader; NUL-terminated */
    size_t body_len;
    int is_upgrade;
    int keep_alive;
    int http_minor;
};

struct gw_http;

/* Returns: owned, free with gw_http_free. */
struct gw_http *gw_http_new(size_t max_body);
void gw_http_free(struct gw_http *h);
/* Forgets the last request and gets ready for the next one. */
void gw_http_reset(struct gw_http *h);

/* Feeds bytes. Returns how many were consumed; *done is set when a whole
 * request has been read (bytes after it are not consumed). Returns -1 on a
 * malformed or oversized request, with the HTTP status to answer in *status
 * (400, 413 or 431). */
ssize_t gw_http_feed(struct gw_http *h, const char *data, size_t len, int *done, int *status);
/* Borrowed: valid until the next reset. */
const struct gw_req *gw_http_req(const struct gw_http *h);

/* Copies the path of url (without the query) into out. Returns 0 / -1. */
int gw_url_path(const char *url, char *out, size_t outlen);
/* Finds query parameter name in url, percent-decoded into out.
 * Returns 1 found, 0 absent, -1 malformed or too long. */
int gw_url_query(const char *url, const char *name, char *out, size_t outlen);
/* 1 when hostport ("host", "host:port", "[v6]:port") names this machine's
 * loopback (localhost, 127.0.0.1, [::1]), with nothing else after it. */
int gw_host_is_loopback(const char *hostport);
/* 1 when a browser's Origin ("scheme://host[:port]") may call this server:
 * its scheme, host and port equal those the request reached (https when
 * tls, and the Host header), or it is a loopback origin. Compared whole,
 * never by prefix. */
int gw_origin_allowed(const char *origin, int tls, const char *host);
/* Percent-decodes [s, s+len) into out. Returns the length, or -1. */
ssize_t gw_pct_decode(const char *s, size_t len, char *out, size_t outlen);

/* Borrowed: static. The reason phrase of an HTTP status ("Error" for one
 * the gateway never sends). */
const char *gw_http_reason(int status);

#endif
