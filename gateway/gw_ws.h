/* gw_ws.h -- The RFC 6455 opening handshake (request checks, the
 * Sec-WebSocket-Accept value) and a pure reader of frame headers, with
 * which the gateway hands wslay whole frames. Framing is wslay's job. */
#ifndef AA_GW_WS_H
#define AA_GW_WS_H

#include "gw_http.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes base64(SHA-1(key + GUID)) (28 chars + NUL) into out. Returns 0 / -1. */
int gw_ws_accept(const char *key, char out[29]);

/* Checks a request that asks for an upgrade. Returns 0 when it is a valid
 * WebSocket handshake, else the HTTP status to answer (400, 405 or 426)
 * with a reason in why. */
int gw_ws_check(const struct gw_req *req, const char **why);

/* 1 when the comma-separated header value contains token (case-insensitive). */
int gw_header_has_token(const char *value, const char *token);

/* A frame header (RFC 6455 5.2). */
struct gw_ws_frame {
    int fin, opcode, masked;
    uint64_t payload_len;
};
/* Reads the frame header at buf (picohttpparser style: no allocation).
 * Returns the header's length in bytes (2 to 14), or -2 when len holds
 * less than the whole header. Every header is readable; what it says is
 * the caller's to judge. */
ssize_t gw_ws_frame_header(const unsigned char *buf, size_t len, struct gw_ws_frame *f);

#endif
