/* check_evstream.c -- the AWS event-stream parser: whole messages, every
 * partial prefix (in a buffer that ends at a guard page), and every kind of
 * malformed framing. */
#include "evstream.h"
#include "suites.h"

#include <stdint.h>
#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Builds a message with one string header name=value (name NULL: none)
 * around payload into out. Returns its length. */
static size_t build(unsigned char *out, const char *name, const char *value, const char *payload)
{
    size_t h = 0, pl = strlen(payload);
    unsigned char hdr[512];
    if (name) {
        size_t nl = strlen(name), vl = strlen(value);
        hdr[h++] = (unsigned char)nl;
        memcpy(hdr + h, name, nl);
        h += nl;
        hdr[h++] = 7;
        hdr[h++] = (unsigned char)(vl >> 8);
        hdr[h++] = (unsigned char)vl;
        memcpy(hdr + h, value, vl);
        h += vl;
    }
    size_t total = 16 + h + pl;
    put32(out, (uint32_t)total);
    put32(out + 4, (uint32_t)h);
    put32(out + 8, (uint32_t)evs_crc32(0, out, 8));
    memcpy(out + 12, hdr, h);
    memcpy(out + 12 + h, payload, pl);
    put32(out + total - 4, (uint32_t)evs_crc32(0, out, total - 4));
    return total;
}

/* fixes both CRCs after a change */
static void reseal(unsigned char *m, size_t total)
{
    put32(m + 8, (uint32_t)evs_crc32(0, m, 8));
    put32(m + total - 4, (uint32_t)evs_crc32(0, m, total - 4));
}

START_TEST(whole_messages)
{
    ck_assert_uint_eq(evs_crc32(0, (const unsigned char *)"123456789", 9), 0xCBF43926u);
    unsigned char buf[1024];
    size_t a = build(buf, ":event-type", "contentBlockDelta", "{\"x\":1}");
    size_t b = build(buf + a, ":exception-type", "throttlingException", "{}");
    struct evs_msg m;
    ck_assert_int_eq(evs_parse(buf, a + b, &m), (ssize_t)a);
    ck_assert_int_eq((int)m.type_len, 17);
    ck_assert_int_eq(memcmp(m.type, "contentBlockDelta", 17), 0);
    ck_assert_int_eq(m.exception, 0);
    ck_assert_int_eq((int)m.payload_len, 7);
    ck_assert_int_eq(memcmp(m.payload, "{\"x\":1}", 7), 0);
    ck_assert_int_eq(evs_parse(buf + a, b, &m), (ssize_t)b);
    ck_assert_int_eq(m.exception, 1);
    /* headers of other types are read and passed over: ":x" as bytes
     * (type 6) and a uuid (type 9) before the event type */
    unsigned char hdr[64], msg[128];
    size_t h = 0;
    memcpy(hdr + h,
           "\x02:x\x06\x00\x03"
           "abc",
           9);
    h += 9;
    memcpy(hdr + h, "\x01u\x09", 3);
    h += 3;
    memset(hdr + h, 0xab, 16);
    h += 16;
    memcpy(hdr + h, "\x0b:event-type\x07\x00\x08metadata", 23);
    h += 23;
    size_t total = 16 + h + 2;
    put32(msg, (uint32_t)total);
    put32(msg + 4, (uint32_t)h);
    memcpy(msg + 12, hdr, h);
    memcpy(msg + 12 + h, "{}", 2);
    reseal(msg, total);
    ck_assert_int_eq(evs_parse(msg, total, &m), (ssize_t)total);
    ck_assert_int_eq((int)m.type_len, 8);
    ck_assert_int_eq(memcmp(m.type, "metadata", 8), 0);
    ck_assert_int_eq((int)m.payload_len, 2);
    size_t c = build(buf, NULL, NULL, "");
    ck_assert_int_eq(evs_parse(buf, c, &m), 16);
    ck_assert_ptr_null(m.type);
    ck_assert_int_eq((int)m.payload_len, 0);
}
END_TEST

START_TEST(every_prefix_is_partial)
{
    unsigned char buf[1024];
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    size_t a = build(buf, name, "v", "{\"longer\":\"payload\"}");
    for (size_t len = 0; len <= a; len++) {
        char *g = guard_alloc(buf, len);
        struct evs_msg m;
        ssize_t n = evs_parse((const unsigned char *)g, len, &m);
        ck_assert_msg(n == (len == a ? (ssize_t)a : -2), "len %zu gave %zd", len, n);
        guard_free(g, len);
    }
}
END_TEST

START_TEST(malformed)
{
    unsigned char buf[1024], m2[1024];
    struct evs_msg m;
    size_t a = build(buf, ":event-type", "metadata", "{}");
    /* a wrong prelude CRC, a wrong message CRC */
    memcpy(m2, buf, a);
    m2[8] ^= 1;
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    memcpy(m2, buf, a);
    m2[a - 1] ^= 1;
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    /* a total below the minimum, headers longer than the message */
    memcpy(m2, buf, a);
    put32(m2, 15);
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    memcpy(m2, buf, a);
    put32(m2 + 4, (uint32_t)a);
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    /* a header whose value runs past the headers, a name past them, a
     * value type that is not a string */
    memcpy(m2, buf, a);
    m2[12 + 1 + 11 + 2] = 200;
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    memcpy(m2, buf, a);
    m2[12] = 250;
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    memcpy(m2, buf, a);
    m2[12 + 1 + 11] = 10;
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    /* an int32 header (type 4) whose 4 bytes run past the headers */
    memcpy(m2, buf, a);
    m2[12 + 1 + 11] = 4;
    m2[4 + 3] = 1 + 11 + 1 + 2; /* headers end inside the value */
    reseal(m2, a);
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
    /* an absurd total is refused before waiting for it */
    memcpy(m2, buf, a);
    put32(m2, 0x7fffffffu);
    put32(m2 + 8, (uint32_t)evs_crc32(0, m2, 8));
    ck_assert_int_eq(evs_parse(m2, a, &m), -1);
}
END_TEST

Suite *evstream_suite(void)
{
    Suite *s = suite_create("evstream");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, whole_messages);
    tcase_add_test(lim, every_prefix_is_partial);
    tcase_add_test(errs, malformed);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    suite_add_tcase(s, errs);
    return s;
}
