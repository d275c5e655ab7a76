/* check_gw_ws.c -- the opening handshake (RFC 6455 section 4) and frame
 * headers (section 5.2), read from a buffer that ends at a guard page. */
#include "gw_ws.h"
#include "suites.h"

#include <http_parser.h>
#include <stdint.h>
#include <string.h>

static const unsigned char *text_byte(void)
{
    static const unsigned char b[] = {0x81};
    return b;
}

static struct gw_req good(void)
{
    struct gw_req r;
    memset(&r, 0, sizeof(r));
    r.method = HTTP_GET;
    r.http_minor = 1;
    strcpy(r.upgrade, "WebSocket");
    strcpy(r.connection, "keep-alive, Upgrade");
    strcpy(r.ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
    strcpy(r.ws_version, "13");
    return r;
}

START_TEST(accept_key_rfc_example)
{
    char out[29];
    ck_assert_int_eq(gw_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const char *why;
    struct gw_req r = good();
    ck_assert_int_eq(gw_ws_check(&r, &why), 0);
}
END_TEST

START_TEST(tokens)
{
    ck_assert(gw_header_has_token("keep-alive,  upgrade ", "Upgrade"));
    ck_assert(!gw_header_has_token("upgraded", "upgrade"));
    ck_assert(!gw_header_has_token("", "upgrade"));
}
END_TEST

START_TEST(bad_handshakes)
{
    const char *why;
    struct gw_req r = good();
    r.method = HTTP_POST;
    ck_assert_int_eq(gw_ws_check(&r, &why), 405);
    r = good();
    r.upgrade[0] = '\0';
    ck_assert_int_eq(gw_ws_check(&r, &why), 426);
    r = good();
    strcpy(r.connection, "close");
    ck_assert_int_eq(gw_ws_check(&r, &why), 400);
    r = good();
    strcpy(r.ws_version, "8");
    ck_assert_int_eq(gw_ws_check(&r, &why), 426);
    r = good();
    strcpy(r.ws_key, "short==");
    ck_assert_int_eq(gw_ws_check(&r, &why), 400);
    r = good();
    strcpy(r.ws_key, "dGhlIHNhbXBsZSBub25jZQ!=");
    ck_assert_int_eq(gw_ws_check(&r, &why), 400);
    r = good();
    r.http_minor = 0;
    ck_assert_int_eq(gw_ws_check(&r, &why), 400);
}
END_TEST

/* Reads a header from a copy of buf that ends at a guard page. */
static ssize_t header(const unsigned char *buf, size_t len, struct gw_ws_frame *f)
{
    char *g = guard_alloc(buf, len);
    ssize_t n = gw_ws_frame_header((const unsigned char *)g, len, f);
    guard_free(g, len);
    return n;
}

START_TEST(frame_headers)
{
    struct gw_ws_frame f;
    const unsigned char text[] = {0x81, 0x85, 1, 2, 3, 4};
    ck_assert_int_eq(header(text, sizeof(text), &f), 6);
    ck_assert(f.fin && f.masked);
    ck_assert_int_eq(f.opcode, 1);
    ck_assert_uint_eq(f.payload_len, 5);
    const unsigned char close_unmasked[] = {0x88, 0x02};
    ck_assert_int_eq(header(close_unmasked, 2, &f), 2);
    ck_assert(!f.masked);
    ck_assert_int_eq(f.opcode, 8);
    const unsigned char cont[] = {0x00, 0x80, 0, 0, 0, 0};
    ck_assert_int_eq(header(cont, sizeof(cont), &f), 6);
    ck_assert(!f.fin);
    ck_assert_int_eq(f.opcode, 0);
}
END_TEST

START_TEST(frame_header_lengths)
{
    struct gw_ws_frame f;
    /* 125 in the byte, 126 and 65535 in 16 bits, 65536 and 2^63 in 64 */
    const unsigned char l125[] = {0x82, 0x7d};
    ck_assert_int_eq(header(l125, 2, &f), 2);
    ck_assert_uint_eq(f.payload_len, 125);
    const unsigned char l126[] = {0x82, 0x7e, 0x00, 0x7e};
    ck_assert_int_eq(header(l126, 4, &f), 4);
    ck_assert_uint_eq(f.payload_len, 126);
    const unsigned char l65535[] = {0x82, 0xfe, 0xff, 0xff, 9, 9, 9, 9};
    ck_assert_int_eq(header(l65535, 8, &f), 8);
    ck_assert_uint_eq(f.payload_len, 65535);
    const unsigned char l65536[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    ck_assert_int_eq(header(l65536, 10, &f), 10);
    ck_assert_uint_eq(f.payload_len, 65536);
    const unsigned char lmax[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    ck_assert_int_eq(header(lmax, 14, &f), 14);
    ck_assert_uint_eq(f.payload_len, (uint64_t)1 << 63);
    /* every prefix shorter than the whole header is partial */
    for (size_t n = 0; n < sizeof(lmax); n++)
        ck_assert_int_eq(header(lmax, n, &f), -2);
    for (size_t n = 0; n < sizeof(l126); n++)
        ck_assert_int_eq(header(l126, n, &f), -2);
    ck_assert_int_eq(header(text_byte(), 1, &f), -2);
}
END_TEST

Suite *gw_ws_suite(void)
{
    Suite *s = suite_create("gw_ws");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, accept_key_rfc_example);
    tcase_add_test(core, frame_headers);
    tcase_add_test(limits, frame_header_lengths);
    tcase_add_test(limits, tokens);
    tcase_add_test(errs, bad_handshakes);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
