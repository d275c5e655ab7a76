/* gw_conn.h -- One client connection: HTTP requests until it upgrades, then
 * a WebSocket session (framing by wslay) registered in Redis. */
#ifndef AA_GW_CONN_H
#define AA_GW_CONN_H

#include "gw_http.h"
#include "gw_server.h"

#include <event2/util.h>
#include <jansson.h>
#include <sys/socket.h>

struct gw_conn;

/* Takes the accepted socket fd. Returns: owned by the server; freed when
 * the connection ends. */
struct gw_conn *gw_conn_new(struct gw_server *s, evutil_socket_t fd, const struct sockaddr *addr,
                            int addrlen);
/* Queues a text message. Returns 0 / -1 (the connection is closing). */
int gw_conn_send_text(struct gw_conn *c, const char *data, size_t len);
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

/* A pushed event with its outbox id. */
void gw_conn_deliver(struct gw_conn *c, const char *id, const char *json, size_t len);
/* Catches up from the outbox (after the Redis subscription was lost). */
void gw_conn_resync(struct gw_conn *c);
/* Writes the frames gathered while the server was corked. */
void gw_conn_flush(struct gw_conn *c);

/* HTTP answers (status reason, Content-Length, keep-alive from the request). */
void gw_conn_http_respond(struct gw_conn *c, int status, const char *ctype, const char *body,
                          size_t len, const char *extra_headers);
/* A JSON answer. Steals: j. */
void gw_conn_http_json(struct gw_conn *c, int status, json_t *j, const char *extra_headers);
/* {"error":type,"message":message}; type NULL means the status reason. */
void gw_conn_http_error(struct gw_conn *c, int status, const char *type, const char *message,
                        const char *extra_headers);
/* For an answer that needs Redis: hold stops reading and keeps c alive;
 * release (after responding) resumes with the next request. */
void gw_conn_http_hold(struct gw_conn *c);
void gw_conn_http_release(struct gw_conn *c);
/* For a streamed answer (server-sent events) of a held request: raw bytes
 * after the headers, and the end (the connection closes once written). */
void gw_conn_http_write(struct gw_conn *c, const char *data, size_t len);
void gw_conn_http_end_stream(struct gw_conn *c);
/* 1 while a held HTTP request still waits for its answer. */
int gw_conn_http_pending(const struct gw_conn *c);
/* Borrowed: the current request. */
const struct gw_req *gw_conn_request(const struct gw_conn *c);
const char *gw_conn_remote(const struct gw_conn *c);
int gw_conn_is_loopback(const struct gw_conn *c);

/* Borrowed: valid while the connection lives. */
const char *gw_conn_session(const struct gw_conn *c);
const char *gw_conn_id(const struct gw_conn *c);
struct gw_server *gw_conn_server(struct gw_conn *c);
struct gw_conn *gw_conn_next_in_session(struct gw_conn *c);
struct gw_conn *gw_conn_next(struct gw_conn *c);
int gw_conn_is_open(const struct gw_conn *c);
/* Keeps c allocated across an asynchronous call; gw_conn_unref releases. */
void gw_conn_ref(struct gw_conn *c);
void gw_conn_unref(struct gw_conn *c);

#endif
