/* rasync_int.h -- What lib/rasync.c (one reconnecting connection) and
 * lib/rasync_cluster.c (the routing over a cluster's nodes) share: the
 * structures and the few functions each calls in the other. Not for other
 * modules. */
#ifndef AA_RASYNC_INT_H
#define AA_RASYNC_INT_H

#include "rasync.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <stdint.h>

struct routed;

struct rasync {
    struct event_base *base;
    char *addr, *name;
    redisAsyncContext *ac;
    int connected;
    int backoff_ms;
    struct event *retry;
    struct event *fail_ev;                 /* runs the callbacks of what could not be sent */
    struct pending *failed, **failed_tail; /* in the order they were sent */
    rasync_connect_cb on_connect;
    void *arg;
    unsigned long long replies, reconnects;
    double rtt_total;
    /* A node of a cluster: the routing rasync it serves (callbacks see it). */
    struct rasync *owner;
    /* A cluster (the routing rasync): the slot map, a node per master (and
     * per seed), the commands waiting for the cluster to settle, and the
     * node that has the subscriptions and the commands without a key. */
    struct rcluster *map;
    struct rasync **nodes;
    size_t n_nodes;
    int stale, refreshing, closing;
    int degraded; /* a master in the map is not connected */
    struct routed *waiting, **waiting_tail;
    struct event *settle_ev;
    struct rasync *primary;
    /* The cluster's sharded subscriptions (SSUBSCRIBE), each placed on the
     * master of its channel's slot, and the connection that reads the slot
     * map (a subscribed connection cannot). */
    struct ssub *ssubs;
    struct rasync *ctl;
    /* A plain connection: it has subscriptions (it takes no other command). */
    int subscribed;
};

/* A sharded subscription of a cluster: where it is placed now (NULL: not
 * placed, as after its master was lost or its slot moved). */
struct ssub {
    char *channel;
    rasync_reply_cb cb;
    void *arg;
    struct rasync *at;
    struct ssub *next;
};

/* Who a callback is told its reply came from: the routing rasync. */
static inline struct rasync *rasync_seen_as(struct rasync *ra)
{
    return ra->owner ? ra->owner : ra;
}

struct pending {
    struct rasync *ra;
    struct pending *next; /* on the failed list */
    rasync_reply_cb cb;
    void *arg;
    int64_t start_us;
    /* For a sharded subscription: which one (its end places it again). */
    struct ssub *ssub;
    /* For EVALSHA: enough to retry with EVAL on NOSCRIPT. */
    const struct script *script;
    int nkeys, argc;
    char **args;
    size_t *lens;
};

/* ---- lib/rasync.c ---- */

/* A command that could not be sent: its callback runs with a NULL reply
 * from the loop, never from inside the call that sent it (h2o style). */
void rasync_fail_later(struct rasync *ra, struct pending *p);
/* The same for a command never made into a pending one: cb(NULL) later. */
void rasync_fail_now(struct rasync *ra, rasync_reply_cb cb, void *arg);
/* SSUBSCRIBE channel on the plain connection node (sub: the cluster's
 * record of it, or NULL). Returns 0 / -1 (not connected). */
int rasync_ssub_send(struct rasync *node, const char *channel, rasync_reply_cb cb, void *arg,
                     struct ssub *sub);

/* ---- lib/rasync_cluster.c ---- */

/* Makes ra (addr "cluster:...") the routing rasync of its seeds. Returns ra. */
struct rasync *rasync_cluster_init(struct rasync *ra);
void rasync_cluster_free(struct rasync *ra);
/* Routes a command (script: NULL for a plain one). Copies args. */
void rasync_cluster_send(struct rasync *ra, rasync_reply_cb cb, void *arg,
                         const struct script *script, int nkeys, int argc, const char **args,
                         const size_t *lens);
/* Node of ra lost its connection. */
void rasync_cluster_node_lost(struct rasync *ra, struct rasync *node);
/* The slot of node's sharded subscription sub moved away: placed again once
 * the map is read. */
void rasync_cluster_unplace(struct rasync *node, struct ssub *sub);

#endif
