/* check_gw_conn.c -- client connections on their own: a gw_conns set with
 * a test handler table, one end of a socketpair accepted, the other end
 * speaking raw HTTP and WebSocket frames. No Redis: gw_conn knows none. */
#include "gw_conn.h"
#include "gw_ws.h"
#include "suites.h"
#include "util.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct event_base *base;
static struct gw_conns *set;
static int peer = -1;
static struct gw_conn *last;

/* What the handlers saw. */
static struct {
    int requests, texts, closes, frees, upgrade;
    char path[256], text[70000];
    size_t text_len;
} seen;

static void on_request(struct gw_conn *c, const struct gw_req *req, const char *path, void *arg)
{
    (void)req;
    (void)arg;
    seen.requests++;
    strlcpy_aa(seen.path, path, sizeof(seen.path));
    if (seen.upgrade && gw_ws_check(req, &(const char *){NULL}) == 0) {
        gw_conn_http_hold(c);
        ck_assert_int_eq(gw_conn_upgrade(c), 0);
        gw_conn_http_release(c);
        return;
    }
    gw_conn_http_respond(c, 200, "text/plain", path, strlen(path), NULL);
}

static void on_text(struct gw_conn *c, const char *msg, size_t len, void *arg)
{
    (void)arg;
    seen.texts++;
    ck_assert_uint_lt(len, sizeof(seen.text));
    memcpy(seen.text, msg, len);
    seen.text_len = len;
    if (len == 4 && !memcmp(msg, "echo", 4))
        gw_conn_send_text(c, "echoed", 6);
}

static void on_close(struct gw_conn *c, void *arg)
{
    (void)c;
    (void)arg;
    seen.closes++;
}

static void on_free(struct gw_conn *c, void *arg)
{
    (void)c;
    (void)arg;
    seen.frees++;
}

static const struct gw_conn_handlers handlers = {on_request, on_text, on_close, on_free, NULL};

static void start(const struct gw_conn_limits *lim)
{
    memset(&seen, 0, sizeof(seen));
    base = event_base_new();
    set = gw_conns_new(base, NULL, lim, &handlers, NULL);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    peer = sv[1];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    last = gw_conns_accept(set, sv[0], (struct sockaddr *)&a, sizeof(a));
    ck_assert_ptr_nonnull(last);
    ck_assert(gw_conn_is_loopback(last));
}

static const struct gw_conn_limits defaults = {
    .max_message = 65536,
    .max_output = 1 << 20,
    .idle_ms = 60000,
    .ping_ms = 60000,
    .header_timeout_ms = 5000,
    .rate_per_s = 1000,
    .rate_burst = 1000,
};

static void setup(void)
{
    start(&defaults);
}

static void teardown(void)
{
    gw_conns_free(set);
    event_base_free(base);
    if (peer >= 0)
        close(peer);
    peer = -1;
}

/* The set again with other limits. */
static void restart(struct gw_conn_limits lim)
{
    teardown();
    start(&lim);
}

/* The code of the close frame the server sent first in buf (n bytes). */
static int close_code(const char *buf, size_t n)
{
    ck_assert_uint_ge(n, 4);
    ck_assert_int_eq((unsigned char)buf[0], 0x88);
    return ((unsigned char)buf[2] << 8) | (unsigned char)buf[3];
}

static void spin(int ms)
{
    for (int64_t until = mono_us() + ms * 1000LL; mono_us() < until;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void put(const void *data, size_t len)
{
    ck_assert_int_eq(write(peer, data, len), (ssize_t)len);
}

/* Reads what the connection wrote within ms, or until want bytes came. */
static size_t get(char *buf, size_t cap, size_t want, int ms)
{
    size_t n = 0;
    for (int64_t until = mono_us() + ms * 1000LL; mono_us() < until && n < want;) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t r = read(peer, buf + n, cap - n - 1);
        if (r > 0)
            n += (size_t)r;
        else if (r == 0)
            break;
    }
    buf[n] = '\0';
    return n;
}

/* 1 when the peer sees the end of the stream within ms. */
static int closed_by_server(int ms)
{
    char b[4096];
    for (int64_t until = mono_us() + ms * 1000LL; mono_us() < until;) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t r = read(peer, b, sizeof(b));
        if (r == 0)
            return 1;
    }
    return 0;
}

/* A masked client frame. Returns its length in out. */
static size_t frame(unsigned char *out, int fin_op, const char *data, size_t len)
{
    size_t h = 0;
    out[h++] = (unsigned char)fin_op;
    if (len < 126) {
        out[h++] = 0x80 | (unsigned char)len;
    } else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(len >> 8);
        out[h++] = (unsigned char)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        out[h + i] = (unsigned char)data[i] ^ mask[i % 4];
    return h + len;
}

static const char handshake[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

static void open_ws(void)
{
    char buf[1024];
    seen.upgrade = 1;
    put(handshake, sizeof(handshake) - 1);
    get(buf, sizeof(buf), 129, 2000);
    ck_assert_msg(strstr(buf, "HTTP/1.1 101 Switching Protocols") != NULL, "%s", buf);
    ck_assert(strstr(buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL);
    ck_assert(gw_conn_is_open(last));
    ck_assert_uint_eq(gw_conns_open(set), 1);
}

START_TEST(http_requests_pipelined)
{
    char buf[4096];
    const char *two =
        "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two%20x HTTP/1.1\r\nHost: x\r\n\r\n";
    put(two, strlen(two));
    size_t n = get(buf, sizeof(buf), 10000, 300);
    ck_assert_int_eq(seen.requests, 2);
    ck_assert_str_eq(seen.path, "/two%20x"); /* the path as sent */
    char *second = strstr(buf + 1, "HTTP/1.1 200 OK");
    ck_assert(n > 0 && strstr(buf, "/one") && second && strstr(second, "/two%20x"));
    ck_assert(strstr(buf, "Connection: keep-alive") != NULL);
    ck_assert_uint_eq(gw_conns_stats(set)->http_requests, 2);
}
END_TEST

START_TEST(upgrade_then_messages)
{
    unsigned char f[256];
    char buf[256];
    /* a frame in the same write as the handshake is read after the upgrade */
    size_t n = frame(f, 0x81, "echo", 4);
    char both[512];
    memcpy(both, handshake, sizeof(handshake) - 1);
    memcpy(both + sizeof(handshake) - 1, f, n);
    seen.upgrade = 1;
    put(both, sizeof(handshake) - 1 + n);
    size_t got = get(buf, sizeof(buf), 129 + 8, 2000);
    ck_assert_int_eq(seen.texts, 1);
    const char *reply = memmem(buf, got,
                               "\x81\x06"
                               "echoed",
                               8);
    ck_assert_msg(reply != NULL, "no echo among %zu bytes", got);
    /* a fragmented message arrives whole */
    n = frame(f, 0x01, "hel", 3);
    n += frame(f + n, 0x80, "lo", 2);
    put(f, n);
    spin(50);
    ck_assert_int_eq(seen.texts, 2);
    ck_assert_uint_eq(seen.text_len, 5);
    ck_assert(!memcmp(seen.text, "hello", 5));
    /* the server closes: a close frame, then the socket */
    gw_conn_close(last, 1000, "bye");
    n = get(buf, sizeof(buf), 2, 500);
    ck_assert_uint_ge(n, 4);
    ck_assert_int_eq((unsigned char)buf[0], 0x88);
    n = frame(f, 0x88, "\x03\xe8", 2);
    put(f, n);
    ck_assert(closed_by_server(1000));
    ck_assert_int_eq(seen.closes, 1);
    ck_assert_int_eq(seen.frees, 1);
    ck_assert_uint_eq(gw_conns_count(set), 0);
}
END_TEST

START_TEST(corked_frames_go_out_together)
{
    char buf[256];
    open_ws();
    gw_conns_cork(set);
    gw_conn_send_text(last, "one", 3);
    gw_conn_send_text(last, "two", 3);
    ck_assert_int_eq(read(peer, buf, sizeof(buf)), -1); /* nothing yet */
    size_t n = get(buf, sizeof(buf), 10, 500);
    ck_assert_uint_eq(n, 10);
    ck_assert(!memcmp(buf, "\x81\x03one\x81\x03two", 10));
}
END_TEST

START_TEST(message_size_limit)
{
    struct gw_conn_limits lim = defaults;
    lim.max_message = 4096;
    restart(lim);
    open_ws();
    static char data[4097];
    memset(data, 'a', sizeof(data));
    static unsigned char f[8200];
    size_t n = frame(f, 0x81, data, 4096); /* the maximum passes */
    put(f, n);
    spin(50);
    ck_assert_int_eq(seen.texts, 1);
    ck_assert_uint_eq(seen.text_len, 4096);
    n = frame(f, 0x81, data, 4097); /* one more closes with 1009 */
    put(f, n);
    char buf[256];
    n = get(buf, sizeof(buf), 4, 500);
    ck_assert_int_eq(close_code(buf, n), 1009);
    ck_assert_int_eq(seen.texts, 1);
}
END_TEST

START_TEST(rate_limit)
{
    struct gw_conn_limits lim = defaults;
    lim.rate_per_s = 1;
    lim.rate_burst = 3;
    restart(lim);
    open_ws();
    unsigned char f[64];
    for (int i = 0; i < 4; i++) {
        size_t n = frame(f, 0x81, "x", 1);
        put(f, n);
    }
    char buf[512];
    get(buf, sizeof(buf), 30, 300);
    ck_assert_int_eq(seen.texts, 3);
    ck_assert(strstr(buf + 2, "rate_limited") != NULL);
    ck_assert_uint_eq(gw_conns_stats(set)->rate_limited, 1);
}
END_TEST

START_TEST(a_peer_that_does_not_read_is_dropped)
{
    struct gw_conn_limits lim = defaults;
    lim.max_output = 65536;
    restart(lim);
    open_ws();
    static char big[16384];
    memset(big, 'b', sizeof(big));
    int sent = 0;
    while (gw_conn_send_text(last, big, sizeof(big)) == 0 && sent < 1000)
        sent++;
    ck_assert_int_lt(sent, 1000);
    ck_assert_uint_eq(gw_conns_stats(set)->slow_closed, 1);
    ck_assert_int_eq(seen.closes, 1);
}
END_TEST

START_TEST(bad_requests)
{
    char buf[4096];
    put("NOT HTTP\r\n\r\n", 12);
    get(buf, sizeof(buf), 12, 300);
    ck_assert(strstr(buf, "HTTP/1.1 400") != NULL);
    ck_assert(closed_by_server(500));
    ck_assert_int_eq(seen.requests, 0);
}
END_TEST

START_TEST(long_url)
{
    static char req[3000];
    int n = snprintf(req, sizeof(req), "GET /%02000d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    put(req, (size_t)n);
    char buf[4096];
    get(buf, sizeof(buf), 12, 300);
    ck_assert_msg(strstr(buf, "HTTP/1.1 414") != NULL, "%s", buf);
    ck_assert_int_eq(seen.requests, 0);
}
END_TEST

START_TEST(protocol_errors)
{
    open_ws();
    /* an unmasked frame from a client: 1002 */
    put("\x81\x02hi", 4);
    char buf[256];
    size_t n = get(buf, sizeof(buf), 4, 500);
    ck_assert_int_eq(close_code(buf, n), 1002);
    ck_assert_int_eq(seen.texts, 0);
}
END_TEST

START_TEST(binary_is_refused)
{
    open_ws();
    unsigned char f[64];
    size_t n = frame(f, 0x82, "\x01\x02", 2);
    put(f, n);
    char buf[512];
    get(buf, sizeof(buf), 40, 300);
    ck_assert(strstr(buf + 2, "binary_not_supported") != NULL);
    ck_assert(gw_conn_is_open(last));
}
END_TEST

START_TEST(header_timeout)
{
    struct gw_conn_limits lim = defaults;
    lim.header_timeout_ms = 150;
    restart(lim);
    put("GET / HTTP/1.1\r\n", 16); /* and nothing more */
    ck_assert(closed_by_server(2000));
    ck_assert_int_eq(seen.requests, 0);
    ck_assert_int_eq(seen.closes, 1);
    ck_assert_int_eq(seen.frees, 1);
}
END_TEST

Suite *gw_conn_suite(void)
{
    Suite *s = suite_create("gw_conn");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    TCase *all[] = {core, limits, errs};
    for (int i = 0; i < 3; i++)
        tcase_add_checked_fixture(all[i], setup, teardown);
    tcase_add_test(core, http_requests_pipelined);
    tcase_add_test(core, upgrade_then_messages);
    tcase_add_test(core, corked_frames_go_out_together);
    tcase_add_test(limits, message_size_limit);
    tcase_add_test(limits, rate_limit);
    tcase_add_test(limits, a_peer_that_does_not_read_is_dropped);
    tcase_add_test(errs, bad_requests);
    tcase_add_test(errs, long_url);
    tcase_add_test(errs, protocol_errors);
    tcase_add_test(errs, binary_is_refused);
    tcase_add_test(errs, header_timeout);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
