/* gw_conn.h -- Client connections: HTTP/1.1 requests and, once the owner
 * upgrades one, WebSocket framing (wslay), with the output limit, the
 * message rate limit, keepalive and timeouts, and the corking of frames
 * written in one loop turn. What a request or a message means is the
 * owner's: it gives a handler table (gw_router). This module knows nothing
 * of Redis, sessions or routes. */
#ifndef AA_GW_CONN_H
#define AA_GW_CONN_H

#include "gw_http.h"

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct gw_conn;
struct gw_conns;
struct ssl_ctx_st;

/* What the owner does with a connection. Each runs on the event loop with
 * the connection referenced; a handler may drop or close it. */
struct gw_conn_handlers {
    /* A whole HTTP request; path is its path (no query). Answer it now, or
     * hold it (gw_conn_http_hold) and answer later. */
    void (*on_request)(struct gw_conn *c, const struct gw_req *req, const char *path, void *arg);
    /* A whole text message of an open WebSocket (within the rate limit). */
    void (*on_text)(struct gw_conn *c, const char *msg, size_t len, void *arg);
    /* The connection ended (once). Its memory lives on while referenced. */
    void (*on_close)(struct gw_conn *c, void *arg);
    /* Its memory goes now: release what gw_conn_set_data attached. */
    void (*on_free)(struct gw_conn *c, void *arg);
    /* Optional: a corked batch is about to be written (gw_conns_cork);
     * whatever else the owner takes in now joins it. */
    void (*on_uncork)(void *arg);
};

struct gw_conn_limits {
    size_t max_message; /* bytes of one WebSocket message */
    size_t max_output;  /* bytes queued to one client before it is dropped */
    int64_t idle_ms;    /* no traffic for this long closes with 1001 */
    int64_t ping_ms;    /* keepalive ping period */
    int64_t header_timeout_ms;
    int64_t max_age_ms; /* 0: no maximum age */
    double rate_per_s, rate_burst;
};

/* Counters of a set, for the metrics page. The owner may count its own
 * refusals in rejected. */
struct gw_conn_stats {
    unsigned long long accepted, rejected, http_requests, events_out, errors_sent, slow_closed,
        rate_limited;
};

/* The connections of one listener. tls (an SSL_CTX) may be NULL. Borrowed:
 * lim and h are copied; arg is handed to every handler.
 * Returns: owned, free with gw_conns_free. */
struct gw_conns *gw_conns_new(struct event_base *base, struct ssl_ctx_st *tls,
                              const struct gw_conn_limits *lim, const struct gw_conn_handlers *h,
                              void *arg);
/* Drops every connection and frees the set (once the memory of the last
 * referenced connection is released). */
void gw_conns_free(struct gw_conns *set);
/* Takes the accepted socket fd. Returns: the connection (owned by the set),
 * or NULL (the socket is closed). */
struct gw_conn *gw_conns_accept(struct gw_conns *set, evutil_socket_t fd,
                                const struct sockaddr *addr, int addrlen);
/* Borrowed: the first connection, then gw_conn_next. */
struct gw_conn *gw_conns_first(struct gw_conns *set);
struct gw_conn *gw_conn_next(struct gw_conn *c);
/* Sockets (HTTP and WebSocket), and open WebSockets. */
size_t gw_conns_count(const struct gw_conns *set);
size_t gw_conns_open(const struct gw_conns *set);
/* Borrowed: the set's counters. */
struct gw_conn_stats *gw_conns_stats(struct gw_conns *set);
/* Corking: frames sent to idle sockets from now on gather per connection
 * and go out in one write each when the current loop turn ends (or at
 * gw_conns_uncork), as Redis writes its replies before it sleeps. Not with
 * TLS. */
void gw_conns_cork(struct gw_conns *set);
void gw_conns_uncork(struct gw_conns *set);

/* Attaches the owner's state to c (released in on_free). */
void gw_conn_set_data(struct gw_conn *c, void *data);
/* Borrowed: what gw_conn_set_data attached, or NULL. */
void *gw_conn_data(const struct gw_conn *c);
/* Borrowed: the arg given to gw_conns_new. */
void *gw_conn_owner(const struct gw_conn *c);

/* Queues a text message. Returns 0 / -1 (the connection is closing). */
int gw_conn_send_text(struct gw_conn *c, const char *data, size_t len);
/* The same for the message pre + data (pre may be empty). */
int gw_conn_send_text2(struct gw_conn *c, const char *pre, size_t prelen, const char *data,
                       size_t len);
/* Sends a direct (not stored) event {"event":name,"data":data}. Steals: data. */
int gw_conn_send_event(struct gw_conn *c, const char *name, json_t *data);
/* Sends {"event":"error","data":{"code":..,"message":..}}. */
int gw_conn_send_error(struct gw_conn *c, const char *code, const char *message);
/* The same with one more string field in data (e.g. the callback_id). */
int gw_conn_send_error_about(struct gw_conn *c, const char *code, const char *message,
                             const char *key, const char *value);
/* Starts the close handshake with code (1000, 1001, 1008...). */
void gw_conn_close(struct gw_conn *c, int code, const char *reason);
/* Drops the connection now (no close handshake). Safe to call from any
 * callback: the memory is released when nothing refers to it any more. */
void gw_conn_drop(struct gw_conn *c, const char *why);

/* HTTP answers (status reason, Content-Length, keep-alive from the request). */
void gw_conn_http_respond(struct gw_conn *c, int status, const char *ctype, const char *body,
                          size_t len, const char *extra_headers);
/* A JSON answer. Steals: j. */
void gw_conn_http_json(struct gw_conn *c, int status, json_t *j, const char *extra_headers);
/* {"error":type,"message":message}; type NULL means the status reason (and
 * a 426 names the WebSocket version). */
void gw_conn_http_error(struct gw_conn *c, int status, const char *type, const char *message,
                        const char *extra_headers);
/* For an answer that needs Redis: hold stops reading and keeps c alive;
 * release (after responding, or after gw_conn_upgrade) goes on with the
 * next request, or with the WebSocket frames that came meanwhile. */
void gw_conn_http_hold(struct gw_conn *c);
void gw_conn_http_release(struct gw_conn *c);
/* Closes the connection once what is queued has been written. */
void gw_conn_http_close_after(struct gw_conn *c);
/* For a streamed answer (server-sent events) of a held request: raw bytes
 * after the headers, and the end (the connection closes once written). */
void gw_conn_http_write(struct gw_conn *c, const char *data, size_t len);
void gw_conn_http_end_stream(struct gw_conn *c);
/* 1 while a held HTTP request still waits for its answer. */
int gw_conn_http_pending(const struct gw_conn *c);
/* Turns the held request (a valid WebSocket handshake, gw_ws_check) into
 * an open WebSocket: the 101 answer, then the idle, keepalive and age
 * timers. The frames that came with it are read at gw_conn_http_release.
 * Returns 0, or -1 when the connection has gone. */
int gw_conn_upgrade(struct gw_conn *c);

/* Borrowed: the current request (NULL once upgraded). */
const struct gw_req *gw_conn_request(const struct gw_conn *c);
const char *gw_conn_remote(const struct gw_conn *c);
int gw_conn_is_loopback(const struct gw_conn *c);
/* Borrowed: the connection's id (c-...), valid while it lives. */
const char *gw_conn_id(const struct gw_conn *c);
/* 1 while the WebSocket is open. */
int gw_conn_is_open(const struct gw_conn *c);
/* 1 once the connection has ended. */
int gw_conn_is_dead(const struct gw_conn *c);
/* Keeps c allocated across an asynchronous call; gw_conn_unref releases. */
void gw_conn_ref(struct gw_conn *c);
void gw_conn_unref(struct gw_conn *c);

#endif
