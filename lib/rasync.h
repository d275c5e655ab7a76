/* rasync.h -- An asynchronous hiredis connection on a libevent base that
 * reconnects with backoff, loads the Lua scripts on each new connection and
 * runs them with EVALSHA (EVAL on NOSCRIPT). Used by the gateway. */
#ifndef AA_RASYNC_H
#define AA_RASYNC_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <stddef.h>

struct rasync;

/* Called after each (re)connection, once scripts are loaded. */
typedef void (*rasync_connect_cb)(struct rasync *ra, void *arg);
/* A command's reply; reply is NULL when the connection was lost.
 * Borrowed: reply is valid during the callback only. */
typedef void (*rasync_reply_cb)(struct rasync *ra, redisReply *reply, void *arg);

/* Returns: owned, free with rasync_free. Starts connecting at once. */
struct rasync *rasync_new(struct event_base *base, const char *addr, const char *name,
                          rasync_connect_cb on_connect, void *arg);
void rasync_free(struct rasync *ra);
int rasync_connected(const struct rasync *ra);

/* Sends a command. cb may be NULL. Returns 0, or -1 when not connected
 * (cb is then not called). */
int rasync_cmdargv(struct rasync *ra, rasync_reply_cb cb, void *arg, int argc, const char **argv,
                   const size_t *lens);
int rasync_eval(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *script, int nkeys,
                int argc, const char **args, const size_t *lens);
/* For SUBSCRIBE-style commands whose callback fires for every message. */
int rasync_subscribe(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *cmd,
                     const char *channel);

/* Bytes waiting on the connection's socket, 0 when none or not connected
 * (for callers that batch their work over everything that has arrived). */
int rasync_readable(const struct rasync *ra);
/* Reads and handles what is waiting now, as the read event would. Not from
 * inside one of this connection's reply callbacks. */
void rasync_read(struct rasync *ra);

/* Round trips measured on this connection (for /metrics). */
void rasync_stats(const struct rasync *ra, unsigned long long *replies, double *total_seconds,
                  unsigned long long *reconnects);

#endif
