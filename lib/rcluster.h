/* rcluster.h -- Redis Cluster routing, shared by the blocking (rconn) and
 * the libevent (rasync) connections: the slot map of a cluster (which master
 * serves each of the 16384 slots, from CLUSTER SLOTS), the slot a command
 * goes to (its first key's), and the MOVED and ASK redirections. No I/O:
 * the connections are the callers'. Issue #19; docs/ARCHITECTURE.md
 * ("Redis Cluster"). */
#ifndef AA_RCLUSTER_H
#define AA_RCLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* Bytes of a node address "host:port", the NUL included. */
#define RCLUSTER_ADDR_MAX 64
/* The prefix of a cluster address: "cluster:host:port[,host:port...]". */
#define RCLUSTER_PREFIX "cluster:"

struct rcluster;

/* 1 when addr names a cluster (starts with RCLUSTER_PREFIX), else 0. */
int rcluster_is_cluster(const char *addr);
/* The i-th seed "host:port" of a cluster address into buf (len bytes).
 * Returns 0, or -1 when there is no i-th seed or it is not host:port. */
int rcluster_seed(const char *addr, size_t i, char *buf, size_t len);

/* Returns: owned, free with rcluster_free. Knows no slot yet. */
struct rcluster *rcluster_new(void);
void rcluster_free(struct rcluster *m);
/* Replaces the map with the masters of a CLUSTER SLOTS reply; a node listed
 * without an address (""/"?") is taken to be on from_host. Returns 0, or -1
 * with err filled and the map unchanged (a malformed reply, or a slot no
 * master serves). */
int rcluster_load(struct rcluster *m, const redisReply *slots, const char *from_host, char *err,
                  size_t errlen);
/* Borrowed, valid until the map changes: the master serving slot, or NULL. */
const char *rcluster_node_of(const struct rcluster *m, unsigned slot);
/* Records that slot moved to addr (a MOVED reply). Returns 0 / -1 (bad addr). */
int rcluster_set(struct rcluster *m, unsigned slot, const char *addr);
/* The masters that serve at least one slot, in the order first seen. */
size_t rcluster_masters(const struct rcluster *m);
/* Borrowed, valid until the map changes: the i-th master, NULL past the end. */
const char *rcluster_master(const struct rcluster *m, size_t i);

/* Pure: the arguments of a command as hiredis formats it (a RESP array of
 * bulk strings): fills args[0..max) with pointers into buf. Returns the
 * command's argc (which may exceed max; the rest is checked, not stored),
 * or -1 when buf[0..len) is not exactly one such command. */
struct rcluster_arg {
    const char *p;
    size_t len;
};
int rcluster_parse_cmd(const char *buf, size_t len, struct rcluster_arg *args, int max);
/* The slot of a command's first key (EVAL/EVALSHA: the first of KEYS;
 * XREAD/XREADGROUP: the first stream). Returns 0-16383, or -1 when the
 * command has no key, so any node serves it (PING, SCRIPT, INFO, PUBLISH,
 * EVALSHA with no keys...). */
int rcluster_cmd_slot(int argc, const struct rcluster_arg *args);
/* The same for a formatted command; -1 also when it does not parse. */
int rcluster_formatted_slot(const char *cmd, size_t len);

/* An error reply's redirection: "MOVED <slot> <host:port>" gives 1, "ASK
 * <slot> <host:port>" gives 2, fills *slot and addr (len bytes; host may be
 * empty: the node that answered). Any other text gives 0. */
int rcluster_redirect(const char *err, size_t errlen, unsigned *slot, char *addr, size_t len);
/* Makes a redirection's address whole in place: an empty host (":port")
 * is the host of from, the node that answered. */
void rcluster_full_addr(char *addr, size_t len, const char *from);
/* 1 for the errors that pass once the cluster settles (TRYAGAIN,
 * CLUSTERDOWN, LOADING, MASTERDOWN): retry the command later. */
int rcluster_transient(const char *err, size_t errlen);

#endif
