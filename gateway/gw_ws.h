/* gw_ws.h -- The RFC 6455 opening handshake: request checks and the
 * Sec-WebSocket-Accept value. Framing itself is wslay's job. */
#ifndef AA_GW_WS_H
#define AA_GW_WS_H

#include "gw_http.h"

#include <stddef.h>

/* Writes base64(SHA-1(key + GUID)) (28 chars + NUL) into out. Returns 0 / -1. */
int gw_ws_accept(const char *key, char out[29]);

/* Checks a request that asks for an upgrade. Returns 0 when it is a valid
 * WebSocket handshake, else the HTTP status to answer (400, 405 or 426)
 * with a reason in why. */
int gw_ws_check(const struct gw_req *req, const char **why);

/* 1 when the comma-separated header value contains token (case-insensitive). */
int gw_header_has_token(const char *value, const char *token);

#endif
