/* check_gw_http.c -- HTTP request reading: whole, byte by byte, oversize,
 * malformed; every buffer ends at a guard page. */
#include "gw_http.h"
#include "suites.h"

#include <stdio.h>
#include <string.h>

static const char upgrade_req[] = "GET /ws?session_id=abc%2D1&last_event_id=1-0 HTTP/1.1\r\n"
                                  "Host: localhost\r\nUpgrade: websocket\r\n"
                                  "Connection: keep-alive, Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";

static ssize_t feed_all(struct gw_http *h, const char *s, size_t len, int *done, int *status)
{
    char *g = guard_alloc(s, len);
    ssize_t n = gw_http_feed(h, g, len, done, status);
    guard_free(g, len);
    return n;
}

START_TEST(whole_request)
{
    struct gw_http *h = gw_http_new(1024);
    int done = 0, status = 0;
    ssize_t n = feed_all(h, upgrade_req, strlen(upgrade_req), &done, &status);
    ck_assert_int_eq(n, (ssize_t)strlen(upgrade_req));
    ck_assert_int_eq(done, 1);
    const struct gw_req *r = gw_http_req(h);
    ck_assert_str_eq(r->ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
    ck_assert_str_eq(r->upgrade, "websocket");
    ck_assert(r->is_upgrade);
    char sid[64];
    ck_assert_int_eq(gw_url_query(r->url, "session_id", sid, sizeof(sid)), 1);
    ck_assert_str_eq(sid, "abc-1");
    char path[64];
    gw_url_path(r->url, path, sizeof(path));
    ck_assert_str_eq(path, "/ws");
    gw_http_free(h);
}
END_TEST

START_TEST(byte_by_byte_with_body)
{
    const char req[] = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET";
    struct gw_http *h = gw_http_new(1024);
    int done = 0, status = 0;
    size_t i = 0;
    for (; i < sizeof(req) - 1 && !done; i++) {
        ssize_t n = feed_all(h, req + i, 1, &done, &status);
        ck_assert_int_eq(n, 1);
    }
    ck_assert(done);
    ck_assert_uint_eq(i, sizeof(req) - 1 - 3); /* "GET" of the next request is left */
    ck_assert_str_eq(gw_http_req(h)->body, "hello");
    ck_assert(gw_http_req(h)->keep_alive);
    gw_http_reset(h);
    ck_assert_uint_eq(gw_http_req(h)->body_len, 0);
    gw_http_free(h);
}
END_TEST

START_TEST(limits_body_and_headers)
{
    struct gw_http *h = gw_http_new(4);
    int done = 0, status = 0;
    const char big[] = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    ck_assert_int_eq(feed_all(h, big, strlen(big), &done, &status), -1);
    ck_assert_int_eq(status, 413);
    gw_http_free(h);

    h = gw_http_new(4);
    char hdr[GW_HTTP_MAX_HEADER_BYTES + 200];
    int n = snprintf(hdr, sizeof(hdr), "GET / HTTP/1.1\r\nX-Big: ");
    memset(hdr + n, 'a', sizeof(hdr) - (size_t)n - 5);
    memcpy(hdr + sizeof(hdr) - 5, "\r\n\r\n", 5);
    ck_assert_int_eq(feed_all(h, hdr, strlen(hdr), &done, &status), -1);
    ck_assert_int_eq(status, 431);
    gw_http_free(h);

    h = gw_http_new(4);
    char key[600];
    n = snprintf(key, sizeof(key), "GET / HTTP/1.1\r\nSec-WebSocket-Key: ");
    memset(key + n, 'k', 300);
    memcpy(key + n + 300, "\r\n\r\n", 5);
    ck_assert_int_eq(feed_all(h, key, strlen(key), &done, &status), -1);
    ck_assert_int_eq(status, 431);
    gw_http_free(h);
}
END_TEST

START_TEST(origins_and_hosts)
{
    ck_assert(gw_host_is_loopback("localhost"));
    ck_assert(gw_host_is_loopback("127.0.0.1:8080"));
    ck_assert(gw_host_is_loopback("[::1]:1"));
    ck_assert(!gw_host_is_loopback("localhost.evil.example"));
    ck_assert(!gw_host_is_loopback("127.0.0.1.evil"));
    ck_assert(!gw_host_is_loopback("localhost:80x"));
    ck_assert(!gw_host_is_loopback("localhost:123456"));
    ck_assert(!gw_host_is_loopback("localhost@evil"));
    ck_assert(gw_origin_allowed("http://localhost:3000", 0, "example.org"));
    ck_assert(gw_origin_allowed("https://127.0.0.1", 0, "example.org"));
    ck_assert(gw_origin_allowed("http://gw.example:8080", 0, "gw.example:8080"));
    ck_assert(gw_origin_allowed("https://gw.example", 1, "GW.example"));
    /* never by prefix, and scheme and port count */
    ck_assert(!gw_origin_allowed("http://localhost.evil.example", 0, "x"));
    ck_assert(!gw_origin_allowed("http://gw.example:8080.evil", 0, "gw.example:8080"));
    ck_assert(!gw_origin_allowed("http://gw.example:8081", 0, "gw.example:8080"));
    ck_assert(!gw_origin_allowed("http://gw.example", 1, "gw.example"));
    ck_assert(!gw_origin_allowed("https://gw.example", 0, "gw.example"));
    ck_assert(!gw_origin_allowed("http://localhost/x", 0, "x"));
    ck_assert(!gw_origin_allowed("null", 0, "x"));
    ck_assert(!gw_origin_allowed("ftp://localhost", 0, "x"));
    ck_assert(!gw_origin_allowed("http://", 0, ""));
}
END_TEST

START_TEST(errors_malformed)
{
    int done = 0, status = 0;
    struct gw_http *v = gw_http_new(64);
    const char *v9 = "GET / HTTP/9.9\r\n\r\n";
    ck_assert_int_eq(feed_all(v, v9, strlen(v9), &done, &status), -1);
    ck_assert_int_eq(status, 505);
    gw_http_free(v);
    const char *bad[] = {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                         "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "\x01\x02\x03"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_http *h = gw_http_new(64);
        ck_assert_int_eq(feed_all(h, bad[i], strlen(bad[i]), &done, &status), -1);
        ck_assert_int_eq(status, 400);
        gw_http_free(h);
    }
    char out[8];
    ck_assert_int_eq(gw_url_query("/ws?session_id=%zz", "session_id", out, sizeof(out)), -1);
    ck_assert_int_eq(gw_url_query("/ws?session_id=%00", "session_id", out, sizeof(out)), -1);
    ck_assert_int_eq(gw_url_query("/ws?session_id=%4", "session_id", out, sizeof(out)), -1);
    ck_assert_int_eq(gw_url_query("/ws?session_id=123456789", "session_id", out, sizeof(out)), -1);
    ck_assert_int_eq(gw_url_query("/ws?other=1", "session_id", out, sizeof(out)), 0);
}
END_TEST

Suite *gw_http_suite(void)
{
    Suite *s = suite_create("gw_http");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, whole_request);
    tcase_add_test(core, byte_by_byte_with_body);
    tcase_add_test(limits, limits_body_and_headers);
    tcase_add_test(errs, errors_malformed);
    tcase_add_test(errs, origins_and_hosts);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
