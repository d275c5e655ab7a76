/* gw_conn.c -- Client connections: HTTP requests, the upgrade the owner
 * asks for, WebSocket framing through wslay, output limits and corking, and
 * deferred freeing (never inside the connection's own callbacks). What a
 * request or message means is the owner's (gw_conn_handlers).
 * About 1,000 lines, on purpose: it is one state machine (HTTP, upgrade,
 * WebSocket, closing) with one reference count, and every part of it
 * decides when the memory may go; split across files those invariants
 * would be too. What needs no connection state is elsewhere: gw_http.c
 * (requests), gw_ws.c (handshake, frame headers). */
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_ws.h"
#include "ids.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <wslay/wslay.h>

enum conn_state { CS_HTTP, CS_OPEN, CS_DEAD };

struct gw_conns {
    struct event_base *base;
    struct ssl_ctx_st *tls;
    struct gw_conn_limits lim;
    struct gw_conn_handlers h;
    void *arg;
    struct gw_conn *head; /* every connection */
    size_t nconns, nopen;
    size_t allocated; /* connections whose memory is not released yet */
    int freeing;      /* gw_conns_free ran: the last release frees the set */
    struct gw_conn_stats stats;
    /* corking: connections holding gathered frames, written at uncork */
    int corked;
    struct gw_conn **dirty;
    size_t ndirty, dirty_cap;
    struct event *uncork;
};

struct gw_conn {
    struct gw_conns *set;
    void *data; /* the owner's (gw_conn_set_data) */
    struct bufferevent *bev;
    struct gw_http *http;
    wslay_event_context_ptr ws;
    enum conn_state state;
    int refs;
    int in_ws; /* inside wslay_event_recv: no freeing */
    int close_after_write;
    int http_busy; /* an HTTP answer is on its way (Redis); no reading */
    int closed;    /* on_close has run */
    char cid[48], remote[64];
    int loopback;
    struct gw_conn *prev, *next; /* all connections */
    struct event *ping, *max_age;
    struct event *head_timer; /* bounds the whole of each HTTP request */
    int64_t connected_ms;
    double tokens; /* rate limit: token bucket */
    int64_t refill_us;
    int violations;
    struct evbuffer *cork; /* frames gathered while the server is corked */
    int close_pending;     /* a close code to send once queued data is out */
    int frag;              /* inside a fragmented message */
    size_t feed_left;      /* bytes of a whole frame still to hand to wslay */
    int proto_error;       /* a frame wslay would fail without a close code */
};

static void http_read(struct gw_conn *c);
static void head_timer_arm(struct gw_conn *c);
static void ws_pump(struct gw_conn *c);
static void maybe_free(struct gw_conn *c);
static void cork_dirty(struct gw_conns *set, struct gw_conn *c);
static void set_release(struct gw_conns *set);

const char *gw_conn_id(const struct gw_conn *c)
{
    return c->cid;
}

void *gw_conn_owner(const struct gw_conn *c)
{
    return c->set->arg;
}

void gw_conn_set_data(struct gw_conn *c, void *data)
{
    c->data = data;
}

void *gw_conn_data(const struct gw_conn *c)
{
    return c->data;
}

struct gw_conn *gw_conn_next(struct gw_conn *c)
{
    return c->next;
}

int gw_conn_is_open(const struct gw_conn *c)
{
    return c->state == CS_OPEN;
}

int gw_conn_is_dead(const struct gw_conn *c)
{
    return c->state == CS_DEAD;
}

void gw_conn_ref(struct gw_conn *c)
{
    c->refs++;
}

void gw_conn_unref(struct gw_conn *c)
{
    c->refs--;
    maybe_free(c);
}

/* ---- freeing ------------------------------------------------------------ */

static void maybe_free(struct gw_conn *c)
{
    if (c->state != CS_DEAD || c->refs > 0 || c->in_ws)
        return;
    struct gw_conns *set = c->set;
    if (set->h.on_free)
        set->h.on_free(c, set->arg);
    if (c->ws)
        wslay_event_context_free(c->ws);
    gw_http_free(c->http);
    free(c);
    if (--set->allocated == 0 && set->freeing)
        set_release(set);
}

void gw_conn_drop(struct gw_conn *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    int was_open = c->state == CS_OPEN;
    c->state = CS_DEAD;
    log_info("event=conn_closed conn=%s remote=%s why=\"%s\" age_ms=%lld", c->cid, c->remote, why,
             (long long)(c->connected_ms ? wall_ms() - c->connected_ms : 0));
    if (!c->closed && c->set->h.on_close) {
        c->closed = 1;
        c->refs++; /* on_close may ref and unref */
        c->set->h.on_close(c, c->set->arg);
        c->refs--;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        c->set->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->set->nconns--;
    if (was_open)
        c->set->nopen--;
    if (c->ping) {
        event_free(c->ping);
        c->ping = NULL;
    }
    if (c->max_age) {
        event_free(c->max_age);
        c->max_age = NULL;
    }
    if (c->head_timer) {
        event_free(c->head_timer);
        c->head_timer = NULL;
    }
    if (c->bev) {
        bufferevent_free(c->bev); /* libevent defers this safely inside callbacks */
        c->bev = NULL;
    }
    if (c->cork) {
        evbuffer_free(c->cork);
        c->cork = NULL;
    }
    maybe_free(c);
}

/* ---- output ------------------------------------------------------------- */

static int over_cap(struct gw_conn *c)
{
    if (!c->bev)
        return 1;
    size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev)) +
                    (c->cork ? evbuffer_get_length(c->cork) : 0);
    if (queued > c->set->lim.max_output) {
        c->set->stats.slow_closed++;
        gw_conn_drop(c, "client does not read: output limit reached");
        return 1;
    }
    return 0;
}

void gw_conn_http_respond(struct gw_conn *c, int status, const char *ctype, const char *body,
                          size_t len, const char *extra_headers)
{
    if (c->state == CS_DEAD || !c->bev)
        return;
    int keep = gw_http_req(c->http)->keep_alive && status < 500 && status != 400 && status != 413 &&
               status != 431 && status != 414 && status != 505 && status != 426 && status != 405;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Connection: %s\r\n%s\r\n",
                        status, gw_http_reason(status), ctype, len, keep ? "keep-alive" : "close",
                        extra_headers ? extra_headers : "");
    evbuffer_add(out, body, len);
    if (!keep)
        c->close_after_write = 1;
}

void gw_conn_http_json(struct gw_conn *c, int status, json_t *j, const char *extra_headers)
{
    char *body = json_dumps(j, JSON_COMPACT);
    gw_conn_http_respond(c, status, "application/json", body, strlen(body), extra_headers);
    free(body);
    json_decref(j);
}

void gw_conn_http_error(struct gw_conn *c, int status, const char *type, const char *message,
                        const char *extra_headers)
{
    if (!type && !extra_headers && status == 426)
        extra_headers = "Sec-WebSocket-Version: 13\r\n";
    gw_conn_http_json(
        c, status,
        json_pack("{s:s, s:s}", "error", type ? type : gw_http_reason(status), "message", message),
        extra_headers);
}

static void http_error(struct gw_conn *c, int status, const char *message)
{
    gw_conn_http_error(c, status, NULL, message, NULL);
}

void gw_conn_http_hold(struct gw_conn *c)
{
    c->http_busy = 1;
    gw_conn_ref(c);
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ);
}

void gw_conn_http_release(struct gw_conn *c)
{
    c->http_busy = 0;
    if (c->state == CS_HTTP && c->bev && !c->close_after_write) {
        gw_http_reset(c->http);
        head_timer_arm(c);
        bufferevent_enable(c->bev, EV_READ);
        http_read(c); /* a pipelined request may be waiting */
    } else if (c->state == CS_OPEN && c->bev) {
        bufferevent_enable(c->bev, EV_READ);
        ws_pump(c); /* frames that came with the handshake */
    }
    gw_conn_unref(c);
}

void gw_conn_http_close_after(struct gw_conn *c)
{
    c->close_after_write = 1;
    if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        gw_conn_drop(c, "closed after response");
}

void gw_conn_http_write(struct gw_conn *c, const char *data, size_t len)
{
    if (c->state == CS_HTTP && c->bev)
        evbuffer_add(bufferevent_get_output(c->bev), data, len);
}

void gw_conn_http_end_stream(struct gw_conn *c)
{
    c->close_after_write = 1;
}

int gw_conn_http_pending(const struct gw_conn *c)
{
    return c->state == CS_HTTP && c->http_busy && c->bev;
}

const struct gw_req *gw_conn_request(const struct gw_conn *c)
{
    return gw_http_req(c->http);
}

int gw_conn_is_loopback(const struct gw_conn *c)
{
    return c->loopback;
}

const char *gw_conn_remote(const struct gw_conn *c)
{
    return c->remote;
}

/* ---- wslay glue ------------------------------------------------------- */

/* How many bytes of in to hand to wslay, at most want. wslay is only ever
 * given whole frames, so that between messages it holds no partial input
 * and its context can be released (see ws_sleep). A whole frame larger than
 * want (wslay reads into a 4 KiB buffer) is handed on in pieces: feed_left
 * counts what is left of it. A frame larger than the message limit is passed
 * on as it comes: wslay refuses it with 1009. A malformed control frame is
 * never handed on: proto_error makes ws_pump close with 1002. */
static size_t feedable(struct gw_conn *c, struct evbuffer *in, size_t want)
{
    size_t total = evbuffer_get_length(in), off = 0;
    if (c->feed_left) {
        size_t n = c->feed_left < want ? c->feed_left : want;
        n = n < total ? n : total;
        c->feed_left -= n;
        return n;
    }
    while (off < total) {
        unsigned char h[14];
        struct evbuffer_ptr p;
        size_t avail = total - off, n = avail < sizeof(h) ? avail : sizeof(h);
        struct gw_ws_frame f;
        if (avail < 2 || evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(in, &p, h, n) < (ssize_t)n)
            break;
        ssize_t hdr = gw_ws_frame_header(h, n, &f);
        if (hdr < 0)
            break; /* the rest of the header has not come yet */
        uint64_t len = f.payload_len;
        size_t hl = (size_t)hdr;
        int op = f.opcode;
        if (op >= 8 && (len > 125 || !f.fin || (op == 8 && len == 1))) {
            /* RFC 6455 5.5: wslay fails these with a close that has no
             * code; answer 1002 ourselves, after the frames before it */
            if (off == 0)
                c->proto_error = 1;
            break;
        }
        if (len > c->set->lim.max_message) {
            if (off > 0)
                break; /* the whole frames before it first */
            return want < total ? want : total;
        }
        if (hl > avail || len > avail - hl)
            break; /* not all here yet */
        size_t fl = hl + (size_t)len;
        if (fl <= want - off) {
            off += fl;
            continue;
        }
        if (off == 0) { /* one whole frame larger than wslay's buffer */
            c->feed_left = fl - want;
            return want;
        }
        break;
    }
    return off;
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    (void)flags;
    struct gw_conn *c = user;
    struct evbuffer *in = c->bev ? bufferevent_get_input(c->bev) : NULL;
    size_t n = in ? feedable(c, in, len) : 0;
    if (n == 0 || evbuffer_remove(in, buf, n) != (int)n) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return (ssize_t)n;
}

/* Tracks whether a fragmented message is in progress. */
static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ctx;
    struct gw_conn *c = user;
    if (arg->opcode < 8)
        c->frag = !arg->fin;
}

static const struct wslay_event_callbacks ws_callbacks;

/* A WebSocket context exists only while a connection has something going
 * on; an idle connection holds none (wslay's context is about 9 KB). */
static int ws_wake(struct gw_conn *c)
{
    if (c->ws)
        return 0;
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        c->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, c->set->lim.max_message);
    return 0;
}

static void ws_sleep(struct gw_conn *c)
{
    if (!c->ws || c->in_ws || c->state != CS_OPEN || c->frag || c->feed_left || c->close_pending ||
        wslay_event_get_queued_msg_count(c->ws) != 0 || !wslay_event_want_read(c->ws) ||
        wslay_event_get_close_sent(c->ws) || wslay_event_get_close_received(c->ws) ||
        (c->bev && evbuffer_get_length(bufferevent_get_input(c->bev)) != 0))
        return;
    wslay_event_context_free(c->ws);
    c->ws = NULL;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    (void)flags;
    struct gw_conn *c = user;
    if (!c->bev || evbuffer_add(bufferevent_get_output(c->bev), data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user);

static const struct wslay_event_callbacks ws_callbacks = {
    ws_recv_cb, ws_send_cb, NULL, ws_frame_start_cb, NULL, NULL, ws_msg_cb};

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)ctx;
    struct gw_conn *c = user;
    if (c->state != CS_OPEN)
        return;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    /* token bucket: rate_per_s, up to rate_burst at once */
    int64_t now = mono_us();
    c->tokens += (double)(now - c->refill_us) / 1e6 * c->set->lim.rate_per_s;
    if (c->tokens > c->set->lim.rate_burst)
        c->tokens = c->set->lim.rate_burst;
    c->refill_us = now;
    if (c->tokens < 1.0) {
        c->set->stats.rate_limited++;
        if (++c->violations > 10) {
            c->close_pending = 1008; /* after the error events already queued */
            return;
        }
        gw_conn_send_error(c, "rate_limited", "too many messages; slow down");
        return;
    }
    c->tokens -= 1.0;
    if (arg->opcode == WSLAY_TEXT_FRAME)
        c->set->h.on_text(c, (const char *)arg->msg, arg->msg_length, c->set->arg);
    else if (arg->opcode == WSLAY_BINARY_FRAME)
        gw_conn_send_error(c, "binary_not_supported", "send JSON text messages");
}

static void ws_pump(struct gw_conn *c)
{
    if (c->state != CS_OPEN || ws_wake(c) < 0)
        return;
    c->in_ws = 1;
    int rrc = wslay_event_recv(c->ws);
    if (c->proto_error && rrc == 0) {
        wslay_event_shutdown_read(c->ws);
        rrc = WSLAY_ERR_PROTO;
    }
    if (rrc != 0 && !wslay_event_get_close_sent(c->ws)) {
        /* a protocol error wslay reports without closing: close with 1002 */
        wslay_event_queue_close(c->ws, 1002, (const uint8_t *)"protocol error", 14);
    }
    if (c->state == CS_OPEN && wslay_event_send(c->ws) != 0) {
        c->in_ws = 0;
        gw_conn_drop(c, "websocket send error");
        return;
    }
    if (c->state == CS_OPEN && c->close_pending && !wslay_event_get_close_sent(c->ws)) {
        const char *why = "message rate limit exceeded";
        wslay_event_queue_close(c->ws, (uint16_t)c->close_pending, (const uint8_t *)why,
                                strlen(why));
        wslay_event_send(c->ws);
    }
    c->in_ws = 0;
    if (c->state != CS_OPEN) {
        maybe_free(c);
        return;
    }
    if (over_cap(c))
        return;
    if (rrc != 0 || (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws))) {
        /* close handshake done, or a protocol error was answered */
        c->close_after_write = 1;
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            gw_conn_drop(c, rrc != 0 ? "protocol error" : "closed");
        return;
    }
    ws_sleep(c);
}

/* Writes one unfragmented, unmasked text frame (RFC 6455 5.2) straight to
 * the socket's output, for when wslay has nothing queued ahead of it. */
static void write_text_frame(struct gw_conn *c, const char *pre, size_t prelen, const char *data,
                             size_t len)
{
    unsigned char h[10];
    size_t hl, total = prelen + len;
    h[0] = 0x81; /* FIN, text */
    if (total < 126) {
        h[1] = (unsigned char)total;
        hl = 2;
    } else if (total < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(total >> 8);
        h[3] = (unsigned char)total;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)total >> (56 - 8 * i));
        hl = 10;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct iovec iov[3] = {{h, hl}, {(void *)pre, prelen}, {(void *)data, len}};
    size_t done = 0;
    if (c->set->corked && evbuffer_get_length(out) == 0) { /* never with TLS */
        /* gather: the batch's frames for this connection go out together */
        if (!c->cork) {
            c->cork = evbuffer_new();
            if (!c->cork)
                abort();
            cork_dirty(c->set, c);
        }
        evbuffer_add(c->cork, h, hl);
        evbuffer_add(c->cork, pre, prelen);
        evbuffer_add(c->cork, data, len);
        return;
    }
    if (!c->set->tls && evbuffer_get_length(out) == 0) {
        /* Nothing queued: write now, as libuv does, instead of arming a write
         * event (two epoll_ctl calls and a loop turn per event). */
        ssize_t w = writev(bufferevent_getfd(c->bev), iov, 3);
        if (w > 0)
            done = (size_t)w;
        if (done == hl + total)
            return;
    }
    for (int i = 0; i < 3; i++) { /* what was not written waits in the buffer */
        size_t skip = done < iov[i].iov_len ? done : iov[i].iov_len;
        done -= skip;
        if (iov[i].iov_len > skip)
            evbuffer_add(out, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
    }
}

static void cork_flush(struct gw_conn *c)
{
    struct evbuffer *cork = c->cork;
    if (!cork)
        return;
    c->cork = NULL;
    if (c->state != CS_DEAD && c->bev) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (evbuffer_get_length(out) == 0)
            evbuffer_write(cork, bufferevent_getfd(c->bev)); /* one writev */
        if (evbuffer_get_length(cork) > 0)
            evbuffer_add_buffer(out, cork); /* the rest waits for the socket */
    }
    evbuffer_free(cork);
}

int gw_conn_send_text2(struct gw_conn *c, const char *pre, size_t prelen, const char *data,
                       size_t len)
{
    if (c->state != CS_OPEN || !c->bev)
        return -1;
    c->set->stats.events_out++;
    if (!c->ws || (wslay_event_get_queued_msg_count(c->ws) == 0 &&
                   !wslay_event_get_close_sent(c->ws) && !c->close_pending)) {
        write_text_frame(c, pre, prelen, data, len);
        return over_cap(c) ? -1 : 0;
    }
    cork_flush(c); /* frames gathered earlier go first */
    char *joined = xmalloc(prelen + len + 1);
    memcpy(joined, pre, prelen);
    memcpy(joined + prelen, data, len);
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)joined, prelen + len};
    int rc = wslay_event_queue_msg(c->ws, &msg); /* wslay copies the message */
    free(joined);
    if (rc != 0)
        return -1;
    if (!c->in_ws) {
        if (wslay_event_send(c->ws) != 0) {
            gw_conn_drop(c, "websocket send error");
            return -1;
        }
        if (over_cap(c))
            return -1;
        ws_sleep(c);
    }
    return 0;
}

int gw_conn_send_text(struct gw_conn *c, const char *data, size_t len)
{
    return gw_conn_send_text2(c, "", 0, data, len);
}

int gw_conn_send_event(struct gw_conn *c, const char *name, json_t *data)
{
    json_t *ev = json_pack("{s:s, s:o}", "event", name, "data", data ? data : json_object());
    char *txt = json_dumps(ev, JSON_COMPACT);
    int rc = gw_conn_send_text(c, txt, strlen(txt));
    free(txt);
    json_decref(ev);
    return rc;
}

int gw_conn_send_error(struct gw_conn *c, const char *code, const char *message)
{
    return gw_conn_send_error_about(c, code, message, NULL, NULL);
}

int gw_conn_send_error_about(struct gw_conn *c, const char *code, const char *message,
                             const char *key, const char *value)
{
    c->set->stats.errors_sent++;
    log_debug("event=error_sent conn=%s code=%s", c->cid, code);
    json_t *d = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (key && value)
        json_object_set_new(d, key, json_string(value));
    return gw_conn_send_event(c, "error", d);
}

void gw_conn_close(struct gw_conn *c, int code, const char *reason)
{
    if (c->state != CS_OPEN || ws_wake(c) < 0) {
        gw_conn_drop(c, reason);
        return;
    }
    wslay_event_queue_close(c->ws, (uint16_t)code, (const uint8_t *)reason, strlen(reason));
    if (!c->in_ws)
        ws_pump(c);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_conn *c = arg;
    if (c->state != CS_OPEN)
        return;
    if (ws_wake(c) < 0)
        return;
    struct wslay_event_msg msg = {WSLAY_PING, (const uint8_t *)"", 0};
    wslay_event_queue_msg(c->ws, &msg);
    ws_pump(c);
}

static void max_age_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_conn *c = arg;
    if (c->state == CS_OPEN)
        gw_conn_close(c, 1001, "maximum connection age reached");
}

int gw_conn_upgrade(struct gw_conn *c)
{
    if (c->state != CS_HTTP || !c->bev || !c->http)
        return -1;
    struct gw_conns *set = c->set;
    char accept[29];
    gw_ws_accept(gw_http_req(c->http)->ws_key, accept);
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                        accept);
    gw_http_free(c->http); /* the request is done with: keep idle connections small */
    c->http = NULL;
    if (c->head_timer) {
        event_free(c->head_timer);
        c->head_timer = NULL;
    }
    c->state = CS_OPEN;
    set->nopen++;
    c->connected_ms = wall_ms();
    struct timeval idle = {set->lim.idle_ms / 1000, (set->lim.idle_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    c->ping = event_new(set->base, -1, EV_PERSIST, ping_cb, c);
    struct timeval pt = {set->lim.ping_ms / 1000, (set->lim.ping_ms % 1000) * 1000};
    if (c->ping)
        event_add(c->ping, &pt);
    c->tokens = set->lim.rate_burst;
    c->refill_us = mono_us();
    if (set->lim.max_age_ms > 0) {
        c->max_age = evtimer_new(set->base, max_age_cb, c);
        struct timeval ma = {set->lim.max_age_ms / 1000, (set->lim.max_age_ms % 1000) * 1000};
        if (c->max_age)
            evtimer_add(c->max_age, &ma);
    }
    /* reading resumes when the owner releases its hold */
    return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

static void handle_request(struct gw_conn *c)
{
    const struct gw_req *req = gw_http_req(c->http);
    char path[1024];
    c->set->stats.http_requests++;
    if (gw_url_path(req->url, path, sizeof(path)) < 0) {
        http_error(c, 414, "URL too long");
        return;
    }
    c->set->h.on_request(c, req, path, c->set->arg);
}

/* A request must arrive whole within the header timeout from its start,
 * however its bytes trickle (the bufferevent's read timeout only bounds the
 * silence between them). */
static void head_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_conn *c = arg;
    if (c->state == CS_HTTP && !c->http_busy) {
        c->set->stats.rejected++;
        gw_conn_drop(c, "header timeout: the request did not arrive in time");
    }
}

static void head_timer_arm(struct gw_conn *c)
{
    if (!c->head_timer)
        return;
    int64_t ms = c->set->lim.header_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->head_timer, &tv);
}

static void http_read(struct gw_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state == CS_HTTP && !c->close_after_write && !c->http_busy) {
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            return;
        const char *data = (const char *)evbuffer_pullup(in, -1);
        int done = 0, status = 0;
        ssize_t n = gw_http_feed(c->http, data, avail, &done, &status);
        if (n < 0) {
            http_error(c, status, "malformed HTTP request");
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        evbuffer_drain(in, (size_t)n);
        if (!done)
            return;
        if (c->head_timer)
            evtimer_del(c->head_timer);
        handle_request(c);
        if (c->state != CS_HTTP || c->http_busy)
            return;
        gw_http_reset(c->http);
        head_timer_arm(c);
    }
}

/* ---- bufferevent callbacks ------------------------------------------ */

/* Each entry point holds a reference while it runs: whatever it calls may
 * drop the connection, and the memory goes only when it returns (as
 * hiredis's REDIS_IN_CALLBACK). */
static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct gw_conn *c = arg;
    gw_conn_ref(c);
    if (c->state == CS_HTTP)
        http_read(c);
    else if (c->state == CS_OPEN)
        ws_pump(c);
    gw_conn_unref(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct gw_conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && c->close_after_write)
        gw_conn_drop(c, "closed after response");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct gw_conn *c = arg;
    gw_conn_ref(c);
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->state == CS_OPEN) {
            gw_conn_close(c, 1001, "idle timeout");
            if (c->state != CS_DEAD && c->bev) { /* a grace period for the peer's close */
                c->close_after_write = 1;
                struct timeval grace = {2, 0};
                bufferevent_set_timeouts(c->bev, &grace, &grace);
                bufferevent_enable(c->bev, EV_READ);
            }
        } else {
            gw_conn_drop(c, c->state == CS_HTTP ? "header timeout" : "timeout");
        }
    } else if (what & BEV_EVENT_EOF) {
        gw_conn_drop(c, "peer closed");
    } else if (what & BEV_EVENT_ERROR) {
        gw_conn_drop(c, "socket error");
    }
    gw_conn_unref(c);
}

struct gw_conn *gw_conns_accept(struct gw_conns *s, evutil_socket_t fd, const struct sockaddr *addr,
                                int addrlen)
{
    (void)addrlen;
    struct gw_conn *c = xcalloc(1, sizeof(*c));
    c->set = s;
    c->state = CS_HTTP;
    id_random(c->cid, sizeof(c->cid), "c-", 12);
    c->http = gw_http_new(262144 + 4096);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        c->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        c->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    snprintf(c->remote, sizeof(c->remote), "%s:%d", ip, port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* small frames go out now */
    if (s->tls) {
        SSL *ssl = SSL_new(s->tls);
        c->bev = ssl ? bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!c->bev && ssl)
            SSL_free(ssl);
    } else {
        c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev) {
        evutil_closesocket(fd);
        gw_http_free(c->http);
        free(c);
        return NULL;
    }
    c->next = s->head;
    if (s->head)
        s->head->prev = c;
    s->head = c;
    s->nconns++;
    s->allocated++;
    s->stats.accepted++;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    c->head_timer = evtimer_new(s->base, head_timer_cb, c);
    if (!c->head_timer)
        abort(); /* out of memory */
    head_timer_arm(c);
    struct timeval ht = {s->lim.header_timeout_ms / 1000, (s->lim.header_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &ht, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

/* ---- the set and its corking --------------------------------------------- */

/* The end of the loop turn that corked: the owner may take in more first,
 * so that under load one write per connection carries many frames. */
static void uncork_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_conns *set = arg;
    if (set->h.on_uncork)
        set->h.on_uncork(set->arg);
    gw_conns_uncork(set);
}

struct gw_conns *gw_conns_new(struct event_base *base, struct ssl_ctx_st *tls,
                              const struct gw_conn_limits *lim, const struct gw_conn_handlers *h,
                              void *arg)
{
    struct gw_conns *set = xcalloc(1, sizeof(*set));
    set->base = base;
    set->tls = tls;
    set->lim = *lim;
    set->h = *h;
    set->arg = arg;
    set->uncork = event_new(base, -1, 0, uncork_cb, set);
    if (!set->uncork)
        abort(); /* out of memory */
    return set;
}

static void set_release(struct gw_conns *set)
{
    event_free(set->uncork);
    free(set->dirty);
    free(set);
}

void gw_conns_free(struct gw_conns *set)
{
    if (!set)
        return;
    while (set->head)
        gw_conn_drop(set->head, "gateway stopped");
    gw_conns_uncork(set);
    set->freeing = 1;
    if (set->allocated == 0) /* else when the last referenced one goes */
        set_release(set);
}

struct gw_conn *gw_conns_first(struct gw_conns *set)
{
    return set->head;
}

size_t gw_conns_count(const struct gw_conns *set)
{
    return set->nconns;
}

size_t gw_conns_open(const struct gw_conns *set)
{
    return set->nopen;
}

struct gw_conn_stats *gw_conns_stats(struct gw_conns *set)
{
    return &set->stats;
}

void gw_conns_cork(struct gw_conns *set)
{
    if (set->corked || set->tls)
        return;
    set->corked = 1;
    event_active(set->uncork, EV_TIMEOUT, 0); /* runs after this turn's callbacks */
}

/* Notes c as holding corked frames; holds a reference until uncork. */
static void cork_dirty(struct gw_conns *set, struct gw_conn *c)
{
    if (set->ndirty == set->dirty_cap) {
        set->dirty_cap = set->dirty_cap ? 2 * set->dirty_cap : 256;
        set->dirty = xrealloc(set->dirty, set->dirty_cap * sizeof(*set->dirty));
    }
    gw_conn_ref(c);
    set->dirty[set->ndirty++] = c;
}

void gw_conns_uncork(struct gw_conns *set)
{
    set->corked = 0;
    for (size_t i = 0; i < set->ndirty; i++) {
        cork_flush(set->dirty[i]);
        gw_conn_unref(set->dirty[i]);
    }
    set->ndirty = 0;
}
