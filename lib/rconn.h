/* rconn.h -- A blocking Redis connection for workers and tools that
 * reconnects by itself, loads the Lua scripts on every new connection and
 * runs them with EVALSHA (EVAL on NOSCRIPT). Not thread-safe: one per thread.
 * Given a cluster address it holds a connection per master and sends each
 * command to the master of its first key's slot (lib/rcluster). */
#ifndef AA_RCONN_H
#define AA_RCONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

struct rconn;

/* addr is "host:port", "unix:/path", "/path", or a Redis Cluster:
 * "cluster:host:port[,host:port...]" (seeds; the rest is discovered).
 * Connects lazily.
 * Returns: owned, free with rconn_free. */
struct rconn *rconn_new(const char *addr);
void rconn_free(struct rconn *c);
/* Connects now (or checks the connection). Returns 0 / -1 with err filled. */
int rconn_connect(struct rconn *c, char *err, size_t errlen);

/* Runs one command; on an I/O error reconnects once and retries. On a
 * cluster: follows MOVED and ASK, and waits up to 5 s for a failover or a
 * migration to settle. A command whose keys span slots gets CROSSSLOT.
 * Returns: owned reply, free with freeReplyObject; NULL when Redis is
 * unreachable (rconn_error tells why). A Redis error reply is returned as is. */
redisReply *rconn_cmd(struct rconn *c, const char *fmt, ...);
redisReply *rconn_cmdargv(struct rconn *c, int argc, const char **argv, const size_t *lens);
/* Runs Lua script `name` with nkeys keys followed by the other arguments. */
redisReply *rconn_eval(struct rconn *c, const char *name, int nkeys, int argc, const char **args,
                       const size_t *lens);
/* Borrowed: the last connection error, or "". */
const char *rconn_error(const struct rconn *c);
/* Borrowed: the underlying context (NULL when not connected); on a cluster,
 * the first master's that answers. */
redisContext *rconn_ctx(struct rconn *c);
/* Borrowed: the context that serves key (on a cluster, its slot's master),
 * for a caller that pipelines commands of one slot; NULL when it cannot
 * connect. */
redisContext *rconn_ctx_for(struct rconn *c, const char *key);
/* On a cluster, reads the slot map again now (a failover or a reshard
 * may have changed it). Returns 0 / -1 (unreadable; the old map kept). */
int rconn_refresh(struct rconn *c);
/* 1 when connected to a cluster. */
int rconn_is_cluster(const struct rconn *c);
/* The masters: 1 for one Redis; on a cluster, those of the slot map (read
 * when stale). */
size_t rconn_masters(struct rconn *c);
/* Borrowed: a connection to the i-th master (for commands every node must
 * run: SCAN, SUBSCRIBE to keyspace events), and its address in *addr (may
 * be NULL). Returns NULL when it cannot connect or there is no such master. */
redisContext *rconn_master_ctx(struct rconn *c, size_t i, const char **addr);

/* Parses addr into host/port or a unix path. Returns 0 / -1. */
int rconn_parse_addr(const char *addr, char *host, size_t hostlen, int *port, int *is_unix);

#endif
