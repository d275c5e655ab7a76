/* gw_http.c -- http-parser callbacks that fill a struct gw_req. */
#include "gw_http.h"
#include "util.h"

#include <http_parser.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct gw_http {
    http_parser parser;
    http_parser_settings settings;
    struct gw_req req;
    char field[64];
    size_t field_len;
    int field_overflow;
    char *value; /* the slot the current header value goes to, or NULL */
    size_t value_cap, value_len;
    size_t header_bytes;
    size_t max_body;
    int done;
    int status; /* error status to answer */
};

static struct gw_http *H(http_parser *p)
{
    return p->data;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct gw_http *h = H(p);
    size_t cur = strlen(h->req.url);
    if (cur + len >= sizeof(h->req.url)) {
        h->status = 414;
        return 1;
    }
    memcpy(h->req.url + cur, at, len);
    h->req.url[cur + len] = '\0';
    return 0;
}

static int count(struct gw_http *h, size_t len)
{
    h->header_bytes += len;
    if (h->header_bytes > GW_HTTP_MAX_HEADER_BYTES) {
        h->status = 431;
        return 1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct gw_http *h = H(p);
    if (count(h, len))
        return 1;
    if (h->value) { /* a new field starts */
        h->value = NULL;
        h->field_len = 0;
        h->field_overflow = 0;
    }
    if (h->field_len + len >= sizeof(h->field)) {
        h->field_overflow = 1;
        return 0;
    }
    memcpy(h->field + h->field_len, at, len);
    h->field_len += len;
    h->field[h->field_len] = '\0';
    return 0;
}

static char *slot_for(struct gw_http *h, size_t *cap)
{
    static const struct {
        const char *name;
        size_t off, cap;
    } map[] = {
#define S(n, f) {n, offsetof(struct gw_req, f), sizeof(((struct gw_req *)0)->f)}
        S("upgrade", upgrade),
        S("connection", connection),
        S("sec-websocket-key", ws_key),
        S("sec-websocket-version", ws_version),
        S("sec-websocket-protocol", ws_protocol),
        S("authorization", authorization),
        S("origin", origin),
        S("host", host),
        S("content-type", content_type),
        S("accept", accept),
        S("last-event-id", last_event_id),
        S("mcp-session-id", mcp_session),
        S("mcp-protocol-version", mcp_version),
#undef S
    };
    if (h->field_overflow)
        return NULL;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(h->field, map[i].name) == 0) {
            *cap = map[i].cap;
            return (char *)&h->req + map[i].off;
        }
    }
    return NULL;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct gw_http *h = H(p);
    if (count(h, len))
        return 1;
    if (!h->value) {
        size_t cap = 0;
        char *slot = slot_for(h, &cap);
        h->value = slot ? slot : (char *)1; /* 1: a header we do not keep */
        h->value_cap = cap;
        h->value_len = 0;
        if (slot && slot[0]) { /* repeated header: join with ", " */
            h->value_len = strlen(slot);
            if (h->value_len + 2 < cap) {
                memcpy(slot + h->value_len, ", ", 3);
                h->value_len += 2;
            }
        }
    }
    if (h->value == (char *)1)
        return 0;
    if (h->value_len + len >= h->value_cap) {
        h->status = 431;
        return 1;
    }
    memcpy(h->value + h->value_len, at, len);
    h->value_len += len;
    h->value[h->value_len] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct gw_http *h = H(p);
    h->req.method = p->method;
    strlcpy_aa(h->req.method_name, http_method_str(p->method), sizeof(h->req.method_name));
    h->req.is_upgrade = p->upgrade;
    h->req.keep_alive = http_should_keep_alive(p);
    h->req.http_minor = p->http_minor;
    if (p->http_major != 1) {
        h->status = 505;
        return 3;
    }
    if (p->content_length != ULLONG_MAX && p->content_length > h->max_body) {
        h->status = 413;
        return 3; /* not 0, 1 or 2: an error for http-parser */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct gw_http *h = H(p);
    if (h->req.body_len + len > h->max_body) {
        h->status = 413;
        return 1;
    }
    h->req.body = xrealloc(h->req.body, h->req.body_len + len + 1);
    memcpy(h->req.body + h->req.body_len, at, len);
    h->req.body_len += len;
    h->req.body[h->req.body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct gw_http *h = H(p);
    h->done = 1;
    h->req.keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

struct gw_http *gw_http_new(size_t max_body)
{
    struct gw_http *h = xcalloc(1, sizeof(*h));
    h->max_body = max_body;
    h->settings.on_url = on_url;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_value = on_header_value;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    gw_http_reset(h);
    return h;
}

void gw_http_reset(struct gw_http *h)
{
    free(h->req.body);
    memset(&h->req, 0, sizeof(h->req));
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    h->field_len = 0;
    h->field_overflow = 0;
    h->value = NULL;
    h->header_bytes = 0;
    h->done = 0;
    h->status = 0;
}

void gw_http_free(struct gw_http *h)
{
    if (!h)
        return;
    free(h->req.body);
    free(h);
}

ssize_t gw_http_feed(struct gw_http *h, const char *data, size_t len, int *done, int *status)
{
    *done = 0;
    if (h->done) {
        *done = 1;
        return 0;
    }
    size_t n = http_parser_execute(&h->parser, &h->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
    if (h->done) {
        *done = 1;
        if (!h->req.body)
            h->req.body = xcalloc(1, 1);
        return (ssize_t)n;
    }
    if (e != HPE_OK) {
        *status = h->status ? h->status : 400;
        return -1;
    }
    if (h->parser.upgrade) { /* headers of an upgrade request are complete */
        h->done = 1;
        *done = 1;
        if (!h->req.body)
            h->req.body = xcalloc(1, 1);
        return (ssize_t)n;
    }
    return (ssize_t)n;
}

const struct gw_req *gw_http_req(const struct gw_http *h)
{
    return &h->req;
}

int gw_url_path(const char *url, char *out, size_t outlen)
{
    size_t n = strcspn(url, "?#");
    if (n >= outlen)
        return -1;
    memcpy(out, url, n);
    out[n] = '\0';
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t gw_pct_decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0)
                return -1;
            c = (char)(a * 16 + b);
            i += 2;
            if (c == '\0')
                return -1;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

int gw_url_query(const char *url, const char *name, char *out, size_t outlen)
{
    const char *q = strchr(url, '?');
    size_t nlen = strlen(name);
    if (!q)
        return 0;
    q++;
    while (*q && *q != '#') {
        size_t plen = strcspn(q, "&#");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (klen == nlen && strncmp(q, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : q + plen;
            size_t vlen = eq ? plen - klen - 1 : 0;
            return gw_pct_decode(v, vlen, out, outlen) < 0 ? -1 : 1;
        }
        q += plen;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* The length of the host in hostport when what follows it is nothing or
 * ":<1-5 digits>"; -1 otherwise. */
static int host_len(const char *hp)
{
    const char *end;
    if (hp[0] == '[') {
        end = strchr(hp, ']');
        if (!end)
            return -1;
        end++;
    } else {
        end = hp + strcspn(hp, ":/?#@ ");
    }
    if (end == hp)
        return -1;
    if (*end == ':') {
        size_t d = strspn(end + 1, "0123456789");
        if (d < 1 || d > 5 || end[1 + d] != '\0')
            return -1;
    } else if (*end != '\0') {
        return -1;
    }
    return (int)(end - hp);
}

int gw_host_is_loopback(const char *hp)
{
    static const char *const ok[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    int n = host_len(hp);
    for (int i = 0; n > 0 && ok[i]; i++)
        if ((size_t)n == strlen(ok[i]) && !strncasecmp(hp, ok[i], (size_t)n))
            return 1;
    return 0;
}

int gw_origin_allowed(const char *origin, int tls, const char *host)
{
    const char *hp;
    int https;
    if (!strncasecmp(origin, "http://", 7)) {
        hp = origin + 7;
        https = 0;
    } else if (!strncasecmp(origin, "https://", 8)) {
        hp = origin + 8;
        https = 1;
    } else {
        return 0;
    }
    if (host_len(hp) < 0)
        return 0;
    if (gw_host_is_loopback(hp))
        return 1;
    return https == (tls != 0) && host[0] && !strcasecmp(hp, host);
}

const char *gw_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}
