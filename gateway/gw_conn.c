/* gw_conn.c -- Connection lifecycle: HTTP, the upgrade, WebSocket framing
 * through wslay, registration in Redis, delivery with outbox catch-up, and
 * deferred freeing (never inside the connection's own callbacks). */
#include "gw_conn.h"
#include "gw_auth.h"
#include "gw_http.h"
#include "gw_mcp.h"
#include "gw_oauth.h"
#include "gw_rest.h"
#include "gw_route.h"
#include "gw_ws.h"
#include "ids.h"
#include "keys.h"
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

enum conn_state { CS_HTTP, CS_REGISTERING, CS_OPEN, CS_DEAD };

struct pending_event {
    struct pending_event *next;
    char id[48];
    size_t len;
    char json[];
};

struct gw_conn {
    struct gw_server *srv;
    struct bufferevent *bev;
    struct gw_http *http;
    wslay_event_context_ptr ws;
    enum conn_state state;
    int refs;
    int in_ws; /* inside wslay_event_recv: no freeing */
    int close_after_write;
    int http_busy;   /* an HTTP answer is on its way (Redis); no reading */
    int registered;  /* the Redis record exists (or is being written) */
    int catching_up; /* events wait in pending until the outbox read ends */
    int resync_again;
    char cid[48], session[129], remote[64], last_id[48], user[129];
    int loopback;
    struct pending_event *pending, *pending_tail;
    struct gw_conn *s_prev, *s_next; /* same session */
    struct gw_conn *prev, *next;     /* all connections */
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

const double gw_lat_bounds_ms[GW_LAT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 1000};

static void observe_push(struct gw_server *s, const char *id)
{
    uint64_t ms, seq;
    if (stream_id_parse(id, &ms, &seq) < 0)
        return;
    double lat = (double)(wall_ms() - (int64_t)ms);
    if (lat < 0)
        lat = 0;
    int b = 0;
    while (b < GW_LAT_BUCKETS && lat > gw_lat_bounds_ms[b])
        b++;
    s->m.push_lat[b]++;
    s->m.push_lat_sum += lat / 1000.0;
}

static void http_read(struct gw_conn *c);
static void head_timer_arm(struct gw_conn *c);
void gw_conn_http_hold(struct gw_conn *c);
static void ws_pump(struct gw_conn *c);
static void maybe_free(struct gw_conn *c);

const char *gw_conn_session(const struct gw_conn *c)
{
    return c->session;
}

const char *gw_conn_id(const struct gw_conn *c)
{
    return c->cid;
}

struct gw_server *gw_conn_server(struct gw_conn *c)
{
    return c->srv;
}

struct gw_conn *gw_conn_next_in_session(struct gw_conn *c)
{
    return c->s_next;
}

struct gw_conn *gw_conn_next(struct gw_conn *c)
{
    return c->next;
}

int gw_conn_is_open(const struct gw_conn *c)
{
    return c->state == CS_OPEN;
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

/* ---- session index ---------------------------------------------------- */

static void session_add(struct gw_conn *c)
{
    struct gw_conn *head = strmap_get(c->srv->sessions, c->session);
    c->s_prev = NULL;
    c->s_next = head;
    if (head)
        head->s_prev = c;
    strmap_set(c->srv->sessions, c->session, c);
}

static void session_remove(struct gw_conn *c)
{
    if (!c->session[0])
        return;
    if (c->s_prev)
        c->s_prev->s_next = c->s_next;
    else if (c->s_next)
        strmap_set(c->srv->sessions, c->session, c->s_next);
    else if (strmap_get(c->srv->sessions, c->session) == c)
        strmap_del(c->srv->sessions, c->session);
    if (c->s_next)
        c->s_next->s_prev = c->s_prev;
    c->s_prev = c->s_next = NULL;
}

/* ---- freeing ------------------------------------------------------------ */

static void pending_clear(struct gw_conn *c)
{
    while (c->pending) {
        struct pending_event *p = c->pending;
        c->pending = p->next;
        free(p);
    }
    c->pending_tail = NULL;
}

static void maybe_free(struct gw_conn *c)
{
    if (c->state != CS_DEAD || c->refs > 0 || c->in_ws)
        return;
    if (c->ws)
        wslay_event_context_free(c->ws);
    gw_http_free(c->http);
    pending_clear(c);
    free(c);
}

static void unregister(struct gw_conn *c)
{
    char k1[KEYS_MAX], k2[KEYS_MAX], k3[KEYS_MAX];
    if (!c->registered)
        return;
    c->registered = 0;
    keys_conn(k1, sizeof(k1), c->cid);
    keys_session(k2, sizeof(k2), c->session, "conns");
    keys_node_conns(k3, sizeof(k3), c->srv->cfg.node);
    const char *args[] = {k1, k2, k3, c->cid};
    if (rasync_eval(c->srv->cmd, NULL, NULL, "conn_close", 3, 4, args, NULL) < 0)
        log_warn("event=unregister_deferred conn=%s note=\"redis down; the reaper removes it\"",
                 c->cid);
}

void gw_conn_drop(struct gw_conn *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    int was_open = c->state == CS_OPEN;
    c->state = CS_DEAD;
    log_info("event=conn_closed conn=%s session=%s remote=%s why=\"%s\" age_ms=%lld", c->cid,
             c->session, c->remote, why,
             (long long)(c->connected_ms ? wall_ms() - c->connected_ms : 0));
    unregister(c);
    session_remove(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->srv->nconns--;
    if (was_open)
        c->srv->nopen--;
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
    if (queued > c->srv->cfg.max_output) {
        c->srv->m.slow_closed++;
        gw_conn_drop(c, "client does not read: output limit reached");
        return 1;
    }
    return 0;
}

static const char *reason_for(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
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
                        status, reason_for(status), ctype, len, keep ? "keep-alive" : "close",
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
    gw_conn_http_json(
        c, status,
        json_pack("{s:s, s:s}", "error", type ? type : reason_for(status), "message", message),
        extra_headers);
}

static void http_error(struct gw_conn *c, int status, const char *message)
{
    gw_conn_http_error(c, status, NULL, message,
                       status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL);
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
    }
    gw_conn_unref(c);
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
        if (avail < 2 || evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(in, &p, h, n) < (ssize_t)n)
            break;
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2 + ((h[1] & 0x80) ? 4 : 0);
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl += 2;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | h[i];
            hl += 8;
        }
        int op = h[0] & 0x0f;
        if (op >= 8 && (len > 125 || !(h[0] & 0x80) || (op == 8 && len == 1))) {
            /* RFC 6455 5.5: wslay fails these with a close that has no
             * code; answer 1002 ourselves, after the frames before it */
            if (off == 0)
                c->proto_error = 1;
            break;
        }
        if (len > c->srv->cfg.max_message) {
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
    wslay_event_config_set_max_recv_msg_length(c->ws, c->srv->cfg.max_message);
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
    c->tokens += (double)(now - c->refill_us) / 1e6 * c->srv->cfg.rate_per_s;
    if (c->tokens > c->srv->cfg.rate_burst)
        c->tokens = c->srv->cfg.rate_burst;
    c->refill_us = now;
    if (c->tokens < 1.0) {
        c->srv->m.rate_limited++;
        if (++c->violations > 10) {
            c->close_pending = 1008; /* after the error events already queued */
            return;
        }
        gw_conn_send_error(c, "rate_limited", "too many messages; slow down");
        return;
    }
    c->tokens -= 1.0;
    if (arg->opcode == WSLAY_TEXT_FRAME)
        gw_route_message(c, (const char *)arg->msg, arg->msg_length);
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
    if (c->srv->corked && evbuffer_get_length(out) == 0) { /* never with TLS */
        /* gather: the batch's frames for this connection go out together */
        if (!c->cork) {
            c->cork = evbuffer_new();
            if (!c->cork)
                abort();
            gw_server_dirty(c->srv, c);
        }
        evbuffer_add(c->cork, h, hl);
        evbuffer_add(c->cork, pre, prelen);
        evbuffer_add(c->cork, data, len);
        return;
    }
    if (!c->srv->tls && evbuffer_get_length(out) == 0) {
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

void gw_conn_flush(struct gw_conn *c)
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

/* Sends pre + data as one text message (pre may be empty). */
static int send_text2(struct gw_conn *c, const char *pre, size_t prelen, const char *data,
                      size_t len)
{
    if (c->state != CS_OPEN || !c->bev)
        return -1;
    c->srv->m.events_out++;
    if (!c->ws || (wslay_event_get_queued_msg_count(c->ws) == 0 &&
                   !wslay_event_get_close_sent(c->ws) && !c->close_pending)) {
        write_text_frame(c, pre, prelen, data, len);
        return over_cap(c) ? -1 : 0;
    }
    gw_conn_flush(c); /* frames gathered earlier go first */
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
    return send_text2(c, "", 0, data, len);
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
    c->srv->m.errors_sent++;
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

/* ---- delivery ----------------------------------------------------------- */

static void send_with_id(struct gw_conn *c, const char *id, const char *json, size_t len)
{
    if (stream_id_cmp(id, c->last_id) <= 0)
        return; /* already delivered */
    if (len < 2 || json[0] != '{')
        return;
    /* {"id":"<id>", then the event's own fields */
    char pre[80];
    size_t idlen = strlen(id), n = 0;
    if (idlen > 48)
        return;
    memcpy(pre, "{\"id\":\"", 7);
    memcpy(pre + 7, id, idlen);
    n = 7 + idlen;
    pre[n++] = '"';
    if (json[1] != '}')
        pre[n++] = ',';
    send_text2(c, pre, n, json + 1, len - 1);
    observe_push(c->srv, id);
    strlcpy_aa(c->last_id, id, sizeof(c->last_id));
}

static void pending_add(struct gw_conn *c, const char *id, const char *json, size_t len)
{
    struct pending_event *p = xmalloc(sizeof(*p) + len + 1);
    p->next = NULL;
    strlcpy_aa(p->id, id, sizeof(p->id));
    p->len = len;
    memcpy(p->json, json, len);
    p->json[len] = '\0';
    if (c->pending_tail)
        c->pending_tail->next = p;
    else
        c->pending = p;
    c->pending_tail = p;
}

void gw_conn_deliver(struct gw_conn *c, const char *id, const char *json, size_t len)
{
    if (c->state == CS_DEAD)
        return;
    if (c->state == CS_REGISTERING || c->catching_up) {
        pending_add(c, id, json, len);
        return;
    }
    send_with_id(c, id, json, len);
}

static void catchup_read(struct gw_conn *c);

static void on_catchup(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_conn *c = arg;
    int more = 0;
    if (c->state == CS_OPEN && r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements < 2)
                continue;
            send_with_id(c, e->element[0]->str, e->element[1]->element[1]->str,
                         e->element[1]->element[1]->len);
            if (c->state != CS_OPEN)
                break;
        }
        more = r->elements == 500;
    }
    if (c->state == CS_OPEN && (more || c->resync_again)) {
        c->resync_again = 0;
        catchup_read(c);
    } else if (c->state == CS_OPEN) {
        c->catching_up = 0;
        while (c->pending && c->state == CS_OPEN) {
            struct pending_event *p = c->pending;
            c->pending = p->next;
            send_with_id(c, p->id, p->json, p->len);
            free(p);
        }
        if (!c->pending)
            c->pending_tail = NULL;
    }
    gw_conn_unref(c);
}

static void catchup_read(struct gw_conn *c)
{
    char key[KEYS_MAX], start[64];
    keys_outbox(key, sizeof(key), c->session);
    snprintf(start, sizeof(start), "(%s", c->last_id[0] ? c->last_id : "0-0");
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", "500"};
    c->catching_up = 1;
    gw_conn_ref(c);
    if (rasync_cmdargv(c->srv->cmd, on_catchup, c, 6, argv, NULL) < 0) {
        gw_conn_unref(c);
        c->catching_up = 0;
    }
}

void gw_conn_resync(struct gw_conn *c)
{
    if (c->state != CS_OPEN)
        return;
    if (c->catching_up)
        c->resync_again = 1;
    else
        catchup_read(c);
}

/* ---- upgrade ------------------------------------------------------------ */

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

static void on_registered(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_conn *c = arg;
    if (c->state != CS_REGISTERING) {
        gw_conn_unref(c);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        int forbidden = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1;
        if (forbidden)
            log_info("event=session_forbidden remote=%s session=%s sub=%s", c->remote, c->session,
                     c->user);
        else
            log_warn("event=register_failed conn=%s err=\"%s\"", c->cid,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
        /* unwind: out of the session index, and what was pushed meanwhile */
        c->registered = 0;
        session_remove(c);
        pending_clear(c);
        c->session[0] = '\0';
        c->state = CS_HTTP;
        if (forbidden) {
            c->srv->m.conns_rejected++;
            gw_conn_http_error(c, 403, "forbidden", "this session belongs to another subject",
                               NULL);
        } else {
            http_error(c, 503, "the gateway cannot reach Redis; try again");
        }
        c->close_after_write = 1;
        gw_conn_unref(c);
        return;
    }
    /* Events after this id reach the connection; with a last event id from
     * the client, everything after that one. An id past the newest event
     * (another outbox's, or made up) would silence the connection: it is
     * refused with an error event and delivery starts from now. */
    const char *newest = r->element[1]->str ? r->element[1]->str : "";
    int ahead = c->last_id[0] && stream_id_cmp(c->last_id, newest[0] ? newest : "0-0") > 0;
    if (!c->last_id[0] || ahead)
        strlcpy_aa(c->last_id, newest[0] ? newest : "0-0", sizeof(c->last_id));
    const struct gw_req *req = gw_http_req(c->http);
    char accept[29];
    gw_ws_accept(req->ws_key, accept);
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                        accept);
    gw_http_free(c->http); /* the request is done with: keep idle connections small */
    c->http = NULL;
    c->state = CS_OPEN;
    c->srv->nopen++;
    c->connected_ms = wall_ms();
    struct timeval idle = {c->srv->cfg.idle_ms / 1000, (c->srv->cfg.idle_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_enable(c->bev, EV_READ);
    c->ping = event_new(c->srv->base, -1, EV_PERSIST, ping_cb, c);
    struct timeval pt = {c->srv->cfg.ping_ms / 1000, (c->srv->cfg.ping_ms % 1000) * 1000};
    if (c->ping)
        event_add(c->ping, &pt);
    c->tokens = c->srv->cfg.rate_burst;
    c->refill_us = mono_us();
    if (c->srv->cfg.max_age_ms > 0) {
        c->max_age = evtimer_new(c->srv->base, max_age_cb, c);
        struct timeval ma = {c->srv->cfg.max_age_ms / 1000, (c->srv->cfg.max_age_ms % 1000) * 1000};
        if (c->max_age)
            evtimer_add(c->max_age, &ma);
    }
    log_info("event=conn_open conn=%s session=%s remote=%s session_conns=%lld", c->cid, c->session,
             c->remote, (long long)r->element[0]->integer);
    if (ahead)
        gw_conn_send_error(c, "last_event_id_ahead",
                           "last_event_id is past this session's newest event; "
                           "delivering from now on");
    catchup_read(c); /* also flushes what arrived while registering */
    ws_pump(c);      /* frames that came with the handshake */
    gw_conn_unref(c);
}

static void start_upgrade(struct gw_conn *c, const struct gw_req *req)
{
    const char *why = NULL;
    int st = gw_ws_check(req, &why);
    if (st) {
        c->srv->m.conns_rejected++;
        http_error(c, st, why);
        return;
    }
    struct jwt_claims cl;
    int ast = gw_auth_check(c->srv, req, c->loopback, GW_SCOPE_CLIENT, 1, &cl, &why);
    if (ast) {
        c->srv->m.conns_rejected++;
        c->srv->m.auth_failures++;
        log_info("event=auth_failed remote=%s route=/ws why=\"%s\"", c->remote, why);
        gw_conn_http_error(c, ast, ast == 401 ? "unauthorized" : "forbidden", why,
                           ast == 401 ? gw_auth_challenge() : NULL);
        return;
    }
    char sid[129], last[64];
    int q = gw_url_query(req->url, "session_id", sid, sizeof(sid));
    if (q != 1 || !id_valid(sid, 128)) {
        c->srv->m.conns_rejected++;
        http_error(c, 400,
                   "the WebSocket URL needs ?session_id=<id> (1-128 of A-Z a-z 0-9 . _ : -)");
        return;
    }
    int l = gw_url_query(req->url, "last_event_id", last, sizeof(last));
    if (l == 0 && req->last_event_id[0]) {
        strlcpy_aa(last, req->last_event_id, sizeof(last));
        l = 1;
    }
    uint64_t a, b;
    if (l < 0 || (l == 1 && stream_id_parse(last, &a, &b) < 0)) {
        c->srv->m.conns_rejected++;
        http_error(c, 400, "last_event_id must be an event id such as 1700000000000-0");
        return;
    }
    if (cl.sid[0] && strcmp(cl.sid, sid) != 0) {
        c->srv->m.conns_rejected++;
        gw_conn_http_error(c, 403, "forbidden", "the token is bound to another session_id", NULL);
        return;
    }
    if (!rasync_connected(c->srv->cmd)) {
        http_error(c, 503, "the gateway cannot reach Redis; try again");
        return;
    }
    strlcpy_aa(c->user, cl.sub, sizeof(c->user));
    strlcpy_aa(c->session, sid, sizeof(c->session));
    if (l == 1)
        strlcpy_aa(c->last_id, last, sizeof(c->last_id));
    id_random(c->cid, sizeof(c->cid), "c-", 12);
    char k1[KEYS_MAX], k2[KEYS_MAX], k3[KEYS_MAX], k4[KEYS_MAX], k5[KEYS_MAX], now[24];
    keys_conn(k1, sizeof(k1), c->cid);
    keys_session(k2, sizeof(k2), c->session, "conns");
    keys_node_conns(k3, sizeof(k3), c->srv->cfg.node);
    keys_outbox(k4, sizeof(k4), c->session);
    keys_session(k5, sizeof(k5), c->session, "owner");
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    const char *args[] = {k1,        k2,     k3,         k4,
                          k5,        c->cid, c->session, c->srv->cfg.node,
                          c->remote, now,    c->user,    gw_auth_is_admin(&cl) ? "1" : ""};
    c->state = CS_REGISTERING;
    c->registered = 1;
    session_add(c); /* pushes that race the registration wait in pending */
    bufferevent_disable(c->bev, EV_READ);
    gw_conn_ref(c);
    if (rasync_eval(c->srv->cmd, on_registered, c, "conn_open", 5, 12, args, NULL) < 0) {
        gw_conn_unref(c);
        c->registered = 0;
        session_remove(c);
        c->state = CS_HTTP;
        http_error(c, 503, "the gateway cannot reach Redis; try again");
    }
}

/* ---- HTTP --------------------------------------------------------------- */

static void handle_request(struct gw_conn *c)
{
    const struct gw_req *req = gw_http_req(c->http);
    char path[1024];
    c->srv->m.http_requests++;
    if (gw_url_path(req->url, path, sizeof(path)) < 0) {
        http_error(c, 414, "URL too long");
        return;
    }
    int wants_ws = req->is_upgrade || req->upgrade[0] || req->ws_key[0];
    if (!strcmp(path, "/ws") || (!strcmp(path, "/") && wants_ws)) {
        start_upgrade(c, req);
        return;
    }
    if (!strcmp(path, "/healthz")) {
        int ok = rasync_connected(c->srv->cmd) && rasync_connected(c->srv->sub);
        gw_conn_http_json(c, ok ? 200 : 503,
                          json_pack("{s:s, s:b, s:s, s:I}", "status", ok ? "ok" : "degraded",
                                    "redis", ok, "node", c->srv->cfg.node, "connections",
                                    (json_int_t)c->srv->nopen),
                          NULL);
        return;
    }
    if (!strcmp(path, "/metrics")) {
        char *body = gw_server_metrics(c->srv);
        gw_conn_http_respond(c, 200, "text/plain; version=0.0.4", body, strlen(body), NULL);
        free(body);
        return;
    }
    if (gw_mcp_route(c, req, path) || gw_oauth_route(c, req, path))
        return;
    if (!strncmp(path, GW_REST_CALLBACK_PREFIX, strlen(GW_REST_CALLBACK_PREFIX))) {
        gw_rest_callback(c, req, path);
        return;
    }
    http_error(c, 404, "no such route (try /ws, /healthz, /metrics)");
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
        c->srv->m.conns_rejected++;
        gw_conn_drop(c, "header timeout: the request did not arrive in time");
    }
}

static void head_timer_arm(struct gw_conn *c)
{
    if (!c->head_timer)
        return;
    int64_t ms = c->srv->cfg.header_timeout_ms;
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

struct gw_conn *gw_conn_new(struct gw_server *s, evutil_socket_t fd, const struct sockaddr *addr,
                            int addrlen)
{
    (void)addrlen;
    struct gw_conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->state = CS_HTTP;
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
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->m.conns_total++;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    c->head_timer = evtimer_new(s->base, head_timer_cb, c);
    if (!c->head_timer)
        abort(); /* out of memory */
    head_timer_arm(c);
    struct timeval ht = {s->cfg.header_timeout_ms / 1000, (s->cfg.header_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &ht, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}
