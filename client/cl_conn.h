/* cl_conn.h -- The desktop side's one WebSocket to the gateway, on the GLib
 * main loop (libwebsockets' GLib event library): one thread, no wakeups
 * across threads. It connects with the bearer token, reconnects with
 * backoff and resumes after the last event id it saw; messages go out in
 * order as soon as they are queued; answers to callbacks are kept until the
 * gateway acknowledges them and sent again after a reconnect or when the
 * gateway could not record them; callbacks still being worked on get
 * heartbeats. */
#ifndef AA_CL_CONN_H
#define AA_CL_CONN_H

#include <jansson.h>
#include <stddef.h>

enum cl_conn_state {
    CL_CONN_CONNECTING, /* detail: the URL */
    CL_CONN_UP,         /* detail: "resumed" after a reconnect, else "" */
    CL_CONN_DOWN,       /* detail: why, and when the next attempt is */
    CL_CONN_CLOSED,     /* after cl_conn_close: everything queued was sent */
};

/* Borrowed: detail valid during the callback. */
typedef void (*cl_conn_state_cb)(enum cl_conn_state st, const char *detail, void *arg);
/* One message from the gateway. own: it is the gateway's reply about one of
 * our callback answers or heartbeats (callback_ack, or an error naming the
 * callback), not something the user asked for. Borrowed: msg, raw. */
typedef void (*cl_conn_event_cb)(json_t *msg, const char *raw, size_t len, int own, void *arg);

struct cl_conn_opts {
    const char *url; /* ws://host:port/path or wss://... */
    const char *token, *session, *ca_file;
    int insecure;
    int heartbeat_ms;
};

struct cl_conn;

/* Checks the URL and creates the libwebsockets context on the default GLib
 * main context; connecting starts at once. Returns: owned, free with
 * cl_conn_free; NULL with err filled. */
struct cl_conn *cl_conn_new(const struct cl_conn_opts *o, cl_conn_state_cb on_state,
                            cl_conn_event_cb on_event, void *arg, char *err, size_t errlen);

/* Queues a text message; it is written as soon as the socket allows (after
 * the reconnect when down). */
void cl_conn_send(struct cl_conn *c, const char *text, size_t len);
/* Steals: j. */
void cl_conn_send_json(struct cl_conn *c, json_t *j);

/* Sends an answer to callback cbid and keeps it until acknowledged.
 * Steals: j. */
void cl_conn_answer(struct cl_conn *c, const char *cbid, json_t *j);
/* Forgets the answer to cbid (someone else answered it). */
void cl_conn_answer_drop(struct cl_conn *c, const char *cbid);

/* Heartbeats for a callback being worked on, every heartbeat_ms. */
void cl_conn_heartbeat_add(struct cl_conn *c, const char *cbid);
void cl_conn_heartbeat_remove(struct cl_conn *c, const char *cbid);

int cl_conn_is_up(const struct cl_conn *c);
/* Borrowed. */
const char *cl_conn_last_id(const struct cl_conn *c);
const char *cl_conn_session(const struct cl_conn *c);
/* Messages queued and not yet written, answers not yet acknowledged. */
size_t cl_conn_queued(const struct cl_conn *c);
size_t cl_conn_unacked(const struct cl_conn *c);

/* Sends what is queued, then closes with 1000 and reports CL_CONN_CLOSED;
 * does not reconnect. When down, reports CL_CONN_CLOSED at once (from the
 * loop). */
void cl_conn_close(struct cl_conn *c);

void cl_conn_free(struct cl_conn *c);

#endif
