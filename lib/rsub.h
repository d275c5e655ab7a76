/* rsub.h -- Blocking subscriptions on every master: on one Redis, one
 * connection; on a cluster, one per master, since keyspace notifications
 * (and sharded channels) are each node's own. Follows the topology: when a
 * connection breaks or the set of masters changes, it subscribes again
 * everywhere and says so, so that the caller can catch up on what it may
 * have missed. One thread; not thread-safe. */
#ifndef AA_RSUB_H
#define AA_RSUB_H

#include <hiredis/hiredis.h>

struct rsub;

/* A message (or subscription reply) from one master. Borrowed: valid
 * during the call. */
typedef void (*rsub_msg_cb)(const redisReply *msg, void *arg);

/* cmds: the subscription commands ("SUBSCRIBE ch", "PSUBSCRIBE pat") each
 * master is sent. Connects lazily. Returns: owned, free with rsub_free.
 * Borrowed: cmds, valid as long as the rsub. */
struct rsub *rsub_new(const char *addr, const char *const *cmds, int ncmds);
void rsub_free(struct rsub *s);

/* Waits up to timeout_ms for messages and hands each to cb (the messages
 * that arrived together, up to max). Subscribes first where it is not (yet,
 * or again): *fresh is then set to 1 (else 0). Returns the number of
 * messages, 0 on timeout, -1 when some master could not be subscribed (it
 * has paused, 100 ms to 2 s, before returning; call again). */
int rsub_wait(struct rsub *s, int timeout_ms, int max, rsub_msg_cb cb, void *arg, int *fresh);

#endif
