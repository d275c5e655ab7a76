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

/* Sends a command. cb (may be NULL) runs exactly once: with the reply, or
 * with NULL when the command could not be sent (not connected) or the
 * connection was lost before the reply. A NULL for a command that was
 * never sent comes from the loop, after the call has returned. Borrowed:
 * argv and lens (copied as needed). */
void rasync_cmdargv(struct rasync *ra, rasync_reply_cb cb, void *arg, int argc, const char **argv,
                    const size_t *lens);
/* The same for Lua script `script` with nkeys keys first. */
void rasync_eval(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *script, int nkeys,
                 int argc, const char **args, const size_t *lens);
/* For SUBSCRIBE-style commands: cb runs for every message, and a last time
 * with NULL when the connection is lost (or the command could not be sent). */
void rasync_subscribe(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *cmd,
                      const char *channel);

/* SSUBSCRIBE channel (sharded pub/sub, Redis 7): cb runs for every
 * "smessage", and with NULL when the connection holding it is lost. On a
 * cluster it is held on the master of the channel's slot and placed again
 * by itself when that changes (failover, reshard); cb then sees a
 * "subscribe" message again (the caller may catch up on what it missed).
 * On one Redis, the caller subscribes again after a reconnection, as with
 * rasync_subscribe. */
void rasync_ssubscribe(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *channel);

/* The masters a command for every node goes to (SCAN): 1 for one Redis;
 * on a cluster, those of the slot map (0 before it is read). */
size_t rasync_masters(const struct rasync *ra);
/* rasync_cmdargv on the i-th master, whatever the command's keys; cb gets
 * NULL when there is no such master. */
void rasync_cmdargv_master(struct rasync *ra, size_t i, rasync_reply_cb cb, void *arg, int argc,
                           const char **argv, const size_t *lens);

/* WAIT replicas timeout_ms on the connection that wrote key (on a cluster,
 * its slot's master): cb gets the number of replicas that have every write
 * made on it so far, or NULL. WAIT holds that connection's later commands
 * until it returns. */
void rasync_wait(struct rasync *ra, const char *key, int replicas, int timeout_ms,
                 rasync_reply_cb cb, void *arg);

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
