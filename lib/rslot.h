/* rslot.h -- Redis Cluster hash slots: which of the 16384 slots a key
 * belongs to (CRC16, the XMODEM variant, of the key or of its hash tag).
 * The first piece of the cluster routing layer (issue #19); pure, no
 * allocation, no Redis. */
#ifndef AA_RSLOT_H
#define AA_RSLOT_H

#include <stddef.h>
#include <stdint.h>

#define RSLOT_COUNT 16384

/* CRC16 (polynomial 0x1021, initial value 0, not reflected, no final xor)
 * of p[0..len). "123456789" gives 0x31c3. */
uint16_t rslot_crc16(const void *p, size_t len);

/* The part of key[0..len) that decides its slot: the bytes between its first
 * '{' and the first '}' after it, when there are any; otherwise the whole
 * key. Sets *tag_len. Returns: a pointer into key. */
const char *rslot_hash_tag(const char *key, size_t len, size_t *tag_len);

/* The slot of key[0..len), 0 to 16383, as CLUSTER KEYSLOT gives it. */
unsigned rslot_of(const char *key, size_t len);

#endif
