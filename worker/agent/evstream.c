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
    /* headers: name length (1), name, value type (1), value: fixed sizes
     * for types 0-5, 8 and 9; a 2-byte length and the bytes for 6 (bytes)
     * and 7 (string) */
    static const signed char fixed[10] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};
    size_t h = 12, end = 12 + (size_t)hlen;
    while (h < end) {
        size_t nl = buf[h];
        if (h + 1 + nl + 1 > end)
            return -1;
        const char *name = (const char *)buf + h + 1;
        unsigned type = buf[h + 1 + nl];
        size_t at = h + 2 + nl, vl;
        if (type > 9)
            return -1;
        if (fixed[type] < 0) {
            if (at + 2 > end)
                return -1;
            vl = (size_t)buf[at] << 8 | buf[at + 1];
            at += 2;
        } else {
            vl = (size_t)fixed[type];
        }
        if (at + vl > end)
            return -1;
        int ev = type == 7 && nl == 11 && !memcmp(name, ":event-type", 11);
        int ex = type == 7 && nl == 15 && !memcmp(name, ":exception-type", 15);
        if (ev || ex) {
            m->type = (const char *)buf + at;
            m->type_len = vl;
            m->exception = ex;
        }
        h = at + vl;
    }
    m->payload = (const char *)buf + end;
    m->payload_len = total - 16 - hlen;
    return (ssize_t)total;
}
