/* gw_ws.c -- Handshake validation and accept key (RFC 6455 section 4.2),
 * and frame headers (section 5.2). */
#include "gw_ws.h"

#include <ctype.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

int gw_ws_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char buf[128 + sizeof(guid)], digest[SHA_DIGEST_LENGTH];
    size_t klen = strlen(key);
    if (klen == 0 || klen > 128)
        return -1;
    memcpy(buf, key, klen);
    memcpy(buf + klen, guid, sizeof(guid) - 1);
    SHA1(buf, klen + sizeof(guid) - 1, digest);
    if (EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH) != 28)
        return -1;
    return 0;
}

int gw_header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

/* A valid key is base64 of 16 bytes: 22 chars + "==". */
static int key_valid(const char *k)
{
    if (strlen(k) != 24 || k[22] != '=' || k[23] != '=')
        return 0;
    for (int i = 0; i < 22; i++)
        if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
            return 0;
    return 1;
}

int gw_ws_check(const struct gw_req *req, const char **why)
{
    if (req->method != HTTP_GET) {
        *why = "WebSocket handshake must use GET";
        return 405;
    }
    if (req->http_minor < 1) {
        *why = "WebSocket handshake needs HTTP/1.1";
        return 400;
    }
    if (!gw_header_has_token(req->upgrade, "websocket")) {
        *why = "missing 'Upgrade: websocket'";
        return 426;
    }
    if (!gw_header_has_token(req->connection, "upgrade")) {
        *why = "missing 'Connection: Upgrade'";
        return 400;
    }
    if (strcmp(req->ws_version, "13") != 0) {
        *why = "unsupported Sec-WebSocket-Version (13 is required)";
        return 426;
    }
    if (!key_valid(req->ws_key)) {
        *why = "missing or malformed Sec-WebSocket-Key";
        return 400;
    }
    return 0;
}

ssize_t gw_ws_frame_header(const unsigned char *buf, size_t len, struct gw_ws_frame *f)
{
    if (len < 2)
        return -2;
    f->fin = (buf[0] & 0x80) != 0;
    f->opcode = buf[0] & 0x0f;
    f->masked = (buf[1] & 0x80) != 0;
    uint64_t n = buf[1] & 0x7f;
    size_t hl = 2;
    if (n == 126) {
        if (len < 4)
            return -2;
        n = (uint64_t)buf[2] << 8 | buf[3];
        hl = 4;
    } else if (n == 127) {
        if (len < 10)
            return -2;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | buf[i];
        hl = 10;
    }
    if (f->masked)
        hl += 4;
    if (len < hl)
        return -2;
    f->payload_len = n;
    return (ssize_t)hl;
}
