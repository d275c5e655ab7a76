/* fuzz_route.c -- libFuzzer target for the message router's parser: any
 * bytes as a client's WebSocket message. */
#include "gw_msg.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_msg m;
    const char *code, *why;
    gw_msg_parse((const char *)data, size, "s1", 64, 256, &m, &code, &why);
    gw_msg_free(&m);
    return 0;
}
