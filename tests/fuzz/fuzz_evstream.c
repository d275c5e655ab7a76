/* fuzz_evstream.c -- libFuzzer target for the AWS event-stream parser (a
 * model's streamed answer from Bedrock): any bytes, read message after
 * message as the provider does. Half the inputs get valid CRCs so that the
 * fuzzer reaches the headers. */
#include "evstream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int seal = data[0] & 1;
    unsigned char *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    size_t len = size - 1, off = 0;
    if (seal && len >= 16) {
        /* a single message of the whole input, with the CRCs it needs */
        put32(buf, (uint32_t)len);
        put32(buf + 8, (uint32_t)evs_crc32(0, buf, 8));
        put32(buf + len - 4, (uint32_t)evs_crc32(0, buf, len - 4));
    }
    for (;;) {
        struct evs_msg m;
        ssize_t n = evs_parse(buf + off, len - off, &m);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(buf);
    return 0;
}
