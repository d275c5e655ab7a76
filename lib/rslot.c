/* rslot.c -- Redis Cluster hash slots (see rslot.h). The CRC is computed a
 * byte at a time from a table made once, at first use. */
#include "rslot.h"

#include <pthread.h>
#include <string.h>

static uint16_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_make(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int bit = 0; bit < 8; bit++)
            c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
        table[i] = c;
    }
}

uint16_t rslot_crc16(const void *p, size_t len)
{
    pthread_once(&table_once, table_make);
    const unsigned char *b = p;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ table[((crc >> 8) ^ b[i]) & 0xff]);
    return crc;
}

const char *rslot_hash_tag(const char *key, size_t len, size_t *tag_len)
{
    const char *open = len ? memchr(key, '{', len) : NULL;
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            *tag_len = (size_t)(close - open - 1);
            return open + 1;
        }
    }
    *tag_len = len;
    return key;
}

unsigned rslot_of(const char *key, size_t len)
{
    size_t n;
    const char *tag = rslot_hash_tag(key, len, &n);
    return rslot_crc16(tag, n) & (RSLOT_COUNT - 1);
}
