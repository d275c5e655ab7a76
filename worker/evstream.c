/* evstream.c -- The AWS event-stream framing, parsed without allocating. */
#include "evstream.h"

#include <stdint.h>
#include <string.h>

unsigned long evs_crc32(unsigned long crc, const unsigned char *p, size_t len)
{
    uint32_t c = ~(uint32_t)crc;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ssize_t evs_parse(const unsigned char *buf, size_t len, struct evs_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < 12)
        return -2;
    uint32_t total = be32(buf), hlen = be32(buf + 4);
    if (total < 16 || hlen > total - 16 || total > 16 * 1024 * 1024)
        return -1;
    if (evs_crc32(0, buf, 8) != be32(buf + 8))
        return -1;
    if (len < total)
        return -2;
    if (evs_crc32(0, buf, total - 4) != be32(buf + total - 4))
        return -1;
    /* headers: name length (1), name, value type (1), then for a string
     * (type 7) its length (2) and bytes; nothing else is expected here */
    size_t h = 12, end = 12 + (size_t)hlen;
    while (h < end) {
        size_t nl = buf[h];
        if (h + 1 + nl + 3 > end || buf[h + 1 + nl] != 7)
            return -1;
        const char *name = (const char *)buf + h + 1;
        size_t vl = (size_t)buf[h + 2 + nl] << 8 | buf[h + 3 + nl];
        if (h + 4 + nl + vl > end)
            return -1;
        const char *v = (const char *)buf + h + 4 + nl;
        int ev = nl == 11 && !memcmp(name, ":event-type", 11);
        int ex = nl == 15 && !memcmp(name, ":exception-type", 15);
        if (ev || ex) {
            m->type = v;
            m->type_len = vl;
            m->exception = ex;
        }
        h += 4 + nl + vl;
    }
    m->payload = (const char *)buf + end;
    m->payload_len = total - 16 - hlen;
    return (ssize_t)total;
}
