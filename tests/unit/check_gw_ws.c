/* check_gw_ws.c -- the opening handshake (RFC 6455 section 4). */
#include "gw_ws.h"
#include "suites.h"

#include <http_parser.h>
#include <string.h>

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

Suite *gw_ws_suite(void)
{
    Suite *s = suite_create("gw_ws");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, accept_key_rfc_example);
    tcase_add_test(limits, tokens);
    tcase_add_test(errs, bad_handshakes);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
