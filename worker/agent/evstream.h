/* evstream.h -- A pure parser of the AWS event-stream framing that
 * Bedrock's ConverseStream answers with (picohttpparser style: no
 * allocation, pointers into the caller's buffer). A message is: total
 * length, headers length, prelude CRC-32, headers, payload, message CRC-32;
 * both CRCs are checked. */
#ifndef AA_EVSTREAM_H
#define AA_EVSTREAM_H

#include <stddef.h>
#include <sys/types.h>

struct evs_msg {
    /* the ":event-type" header, or ":exception-type" (then exception is 1);
     * NULL with len 0 when the message has neither */
    const char *type;
    size_t type_len;
    int exception;
    const char *payload;
    size_t payload_len;
};

/* Parses the message at the start of buf. Returns the bytes it takes, -2
 * when buf holds only part of it, -1 when it is malformed (lengths that do
 * not fit, a header running past the headers, an unknown header value type,
 * a wrong CRC). Headers of every type are read; only the two string ones
 * above are kept. Borrowed: the pointers in m point into buf. */
ssize_t evs_parse(const unsigned char *buf, size_t len, struct evs_msg *m);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of len bytes, continuing from crc
 * (0 to start). */
unsigned long evs_crc32(unsigned long crc, const unsigned char *p, size_t len);

#endif
