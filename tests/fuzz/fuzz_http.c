/* fuzz_http.c -- libFuzzer target for the gateway's request path: the HTTP
 * reader fed in fuzzer-chosen chunks, then the WebSocket handshake checks,
 * the accept key and the query parser on whatever was read. */
#include "gw_http.h"
#include "gw_ws.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct gw_http *h = gw_http_new(4096);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        int done = 0, status = 0;
        ssize_t used = gw_http_feed(h, (const char *)data + off, n, &done, &status);
        if (used < 0)
            break;
        off += (size_t)used;
        if (done) {
            const struct gw_req *r = gw_http_req(h);
            const char *why;
            char out[29], q[256], path[256];
            if (gw_ws_check(r, &why) == 0)
                gw_ws_accept(r->ws_key, out);
            gw_url_query(r->url, "session_id", q, sizeof(q));
            gw_url_path(r->url, path, sizeof(path));
            gw_http_reset(h);
        } else if (used == 0) {
            break;
        }
    }
    gw_http_free(h);
    return 0;
}
