/* rasync_cluster.c -- The routing rasync of a Redis Cluster: one plain
 * rasync per master (its nodes), each command sent to the master of its
 * slot, MOVED and ASK followed, commands held while the cluster settles
 * (failover, migration), the slot map read again through a control
 * connection, subscriptions kept on a primary node and sharded ones on the
 * master of their channel (lib/rcluster for the map and the parsing). */
#include "log.h"
#include "mx.h"
#include "rasync_int.h"
#include "rcluster.h"
#include "rslot.h"
#include "script.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a command waits for a cluster to settle (a failover, a
 * migration), and how often it is tried again meanwhile. */
#define CLUSTER_WAIT_US 5000000
#define CLUSTER_RETRY_MS 100
#define CLUSTER_MAX_REDIRECTS 16

/* A command on its way through a cluster: enough to send it again after a
 * redirection or once the cluster settles. */
struct routed {
    struct rasync *ra;
    struct routed *next; /* on the waiting list */
    rasync_reply_cb cb;
    void *arg;
    const struct script *script; /* NULL: a plain command */
    int nkeys, argc, slot, redirects;
    char **args;
    size_t *lens;
    int64_t until;
    char ask[RCLUSTER_ADDR_MAX];
};

static void routed_send(struct routed *r);
static void ssub_place_all(struct rasync *ra);
static void cluster_refresh(struct rasync *ra);
static void node_up(struct rasync *node, void *arg);
static void announce(struct rasync *ra);

static void routed_end(struct routed *r, redisReply *reply)
{
    if (r->cb)
        r->cb(r->ra, reply, r->arg);
    for (int i = 0; i < r->argc; i++)
        free(r->args[i]);
    free(r->args);
    free(r->lens);
    free(r);
}

static void settle_later(struct rasync *ra)
{
    struct timeval tv = {0, CLUSTER_RETRY_MS * 1000};
    if (!evtimer_pending(ra->settle_ev, NULL))
        evtimer_add(ra->settle_ev, &tv);
}

/* The cluster is not settled for r: try again later, or give up (NULL). */
static void routed_wait(struct routed *r)
{
    struct rasync *ra = r->ra;
    r->ask[0] = '\0';
    if (ra->closing || mono_us() >= r->until) {
        routed_end(r, NULL);
        return;
    }
    r->next = NULL;
    *ra->waiting_tail = r;
    ra->waiting_tail = &r->next;
    settle_later(ra);
}

static void on_routed(struct rasync *seen, redisReply *reply, void *arg)
{
    (void)seen;
    struct routed *r = arg;
    struct rasync *ra = r->ra;
    if (!reply || ra->closing) {
        ra->stale = 1;
        routed_wait(r);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        unsigned slot;
        char to[RCLUSTER_ADDR_MAX];
        int kind = rcluster_redirect(reply->str, reply->len, &slot, to, sizeof(to));
        if (kind && r->redirects++ < CLUSTER_MAX_REDIRECTS) {
            const char *from = r->slot >= 0 ? rcluster_node_of(ra->map, (unsigned)r->slot) : NULL;
            rcluster_full_addr(to, sizeof(to), from ? from : "127.0.0.1:0");
            mx_add(MX_REDIS_REDIRECTS, 1);
            if (kind == 2) {
                snprintf(r->ask, sizeof(r->ask), "%s", to);
            } else {
                rcluster_set(ra->map, slot, to);
                ra->stale = 1;
                settle_later(ra);
            }
            routed_send(r);
            return;
        }
        if (rcluster_transient(reply->str, reply->len) && mono_us() < r->until) {
            ra->stale = 1;
            routed_wait(r);
            return;
        }
    }
    routed_end(r, reply);
}

/* The node for addr, made (and connecting) when there is none. */
static struct rasync *node_for(struct rasync *ra, const char *addr)
{
    for (size_t i = 0; i < ra->n_nodes; i++)
        if (strcmp(ra->nodes[i]->addr, addr) == 0)
            return ra->nodes[i];
    char name[RCLUSTER_ADDR_MAX + 64];
    snprintf(name, sizeof(name), "%s@%s", ra->name, addr);
    struct rasync *node = rasync_new(ra->base, addr, name, node_up, ra);
    node->owner = ra;
    ra->nodes = xrealloc(ra->nodes, (ra->n_nodes + 1) * sizeof(*ra->nodes));
    ra->nodes[ra->n_nodes++] = node;
    return node;
}

static void routed_send(struct routed *r)
{
    struct rasync *ra = r->ra;
    if (ra->closing) {
        routed_end(r, NULL);
        return;
    }
    const char *to = r->ask[0]      ? r->ask
                     : r->slot >= 0 ? rcluster_node_of(ra->map, (unsigned)r->slot)
                                    : (ra->primary ? ra->primary->addr : NULL);
    if (!to) {
        ra->stale = 1;
        routed_wait(r);
        return;
    }
    struct rasync *node = node_for(ra, to);
    if (r->ask[0]) {
        const char *asking[] = {"ASKING"};
        rasync_cmdargv(node, NULL, NULL, 1, asking, NULL);
        r->ask[0] = '\0';
    }
    if (r->script)
        rasync_eval(node, on_routed, r, script_name(r->script), r->nkeys, r->argc,
                    (const char **)r->args, r->lens);
    else
        rasync_cmdargv(node, on_routed, r, r->argc, (const char **)r->args, r->lens);
}

void rasync_cluster_send(struct rasync *ra, rasync_reply_cb cb, void *arg,
                         const struct script *script, int nkeys, int argc, const char **args,
                         const size_t *lens)
{
    struct routed *r = xcalloc(1, sizeof(*r));
    r->ra = ra;
    r->cb = cb;
    r->arg = arg;
    r->script = script;
    r->nkeys = nkeys;
    r->argc = argc;
    r->args = xmalloc(sizeof(char *) * (size_t)(argc ? argc : 1));
    r->lens = xmalloc(sizeof(size_t) * (size_t)(argc ? argc : 1));
    for (int i = 0; i < argc; i++) {
        r->lens[i] = lens ? lens[i] : strlen(args[i]);
        r->args[i] = xstrndup(args[i], r->lens[i]);
    }
    if (script) {
        r->slot = nkeys > 0 && argc > 0 ? (int)rslot_of(r->args[0], r->lens[0]) : -1;
    } else {
        struct rcluster_arg *a = xmalloc(sizeof(*a) * (size_t)(argc ? argc : 1));
        for (int i = 0; i < argc; i++)
            a[i] = (struct rcluster_arg){r->args[i], r->lens[i]};
        r->slot = rcluster_cmd_slot(argc, a);
        free(a);
    }
    r->until = mono_us() + CLUSTER_WAIT_US;
    if (ra->stale && !ra->refreshing)
        cluster_refresh(ra);
    if (rcluster_masters(ra->map) == 0) /* no map yet */
        routed_wait(r);
    else
        routed_send(r);
}

static void on_slots(struct rasync *seen, redisReply *reply, void *arg)
{
    (void)seen;
    struct rasync *ra = arg;
    ra->refreshing = 0;
    if (ra->closing)
        return;
    char err[256], host[RCLUSTER_ADDR_MAX] = "127.0.0.1";
    if (ra->primary)
        snprintf(host, sizeof(host), "%.*s",
                 (int)(strrchr(ra->primary->addr, ':') - ra->primary->addr), ra->primary->addr);
    if (!reply || rcluster_load(ra->map, reply, host, err, sizeof(err)) < 0) {
        if (reply)
            log_warn("event=redis_cluster_unreadable conn=%s err=\"%s\"", ra->name, err);
        settle_later(ra);
        return;
    }
    ra->stale = 0;
    /* A master that is not connected may be dead, its replica about to take
     * over: the map is read again every 100 ms until every master is up. */
    ra->degraded = 0;
    struct rasync *up = NULL;
    for (size_t i = 0; i < rcluster_masters(ra->map); i++) {
        struct rasync *n = node_for(ra, rcluster_master(ra->map, i));
        if (!rasync_connected(n))
            ra->degraded = 1;
        else if (!up)
            up = n;
    }
    /* The primary (subscriptions, keyless commands) stays while it is a
     * master that is up; otherwise the first master that is up takes over,
     * and its connection tells the caller, who subscribes again. */
    int keep = 0;
    for (size_t i = 0; ra->primary && i < rcluster_masters(ra->map); i++)
        keep |= strcmp(rcluster_master(ra->map, i), ra->primary->addr) == 0;
    if (!keep || !rasync_connected(ra->primary)) {
        struct rasync *next = up ? up : node_for(ra, rcluster_master(ra->map, 0));
        if (next != ra->primary) {
            log_info("event=redis_cluster_primary conn=%s addr=%s", ra->name, next->addr);
            ra->primary = next;
            ra->connected = 0;
        }
    }
    announce(ra);
    ssub_place_all(ra);
    if (ra->waiting || ra->degraded)
        settle_later(ra);
}

/* Reads the slot map through the control connection, or else a connected
 * node without subscriptions. */
static void cluster_refresh(struct rasync *ra)
{
    struct rasync *via = ra->ctl && rasync_connected(ra->ctl) ? ra->ctl : NULL;
    for (size_t i = 0; !via && i < ra->n_nodes; i++)
        if (rasync_connected(ra->nodes[i]) && !ra->nodes[i]->subscribed)
            via = ra->nodes[i];
    if (!via)
        return; /* node_up reads it when one connects */
    const char *argv[] = {"CLUSTER", "SLOTS"};
    ra->refreshing = 1;
    rasync_cmdargv(via, on_slots, ra, 2, argv, NULL);
}

static void node_up(struct rasync *node, void *arg)
{
    struct rasync *ra = arg;
    if (ra->closing)
        return;
    if (ra->stale && !ra->refreshing)
        cluster_refresh(ra);
    if (node == ra->primary)
        announce(ra);
    if (!ra->stale)
        ssub_place_all(ra);
    if (ra->waiting)
        settle_later(ra);
}

void rasync_cluster_node_lost(struct rasync *ra, struct rasync *node)
{
    if (node == ra->primary)
        ra->connected = 0; /* its subscriptions ended */
    for (struct ssub *x = ra->ssubs; x; x = x->next)
        if (x->at == node)
            x->at = NULL;
    ra->stale = 1;
    settle_later(ra);
}

/* Tells the caller once per connection of the primary, when the map is
 * known (it subscribes then). */
static void announce(struct rasync *ra)
{
    if (ra->connected || ra->stale || !ra->primary || !rasync_connected(ra->primary))
        return;
    ra->connected = 1;
    if (ra->on_connect)
        ra->on_connect(ra, ra->arg);
}

/* The control connection (CLUSTER SLOTS) to addr. */
static struct rasync *ctl_new(struct rasync *ra, const char *addr)
{
    char name[RCLUSTER_ADDR_MAX + 64];
    snprintf(name, sizeof(name), "%s@%s/ctl", ra->name, addr);
    struct rasync *c = rasync_new(ra->base, addr, name, node_up, ra);
    c->owner = ra;
    return c;
}

/* Every 100 ms while the cluster is unsettled: read the map again, send
 * what waits, and close nodes that are neither masters nor up. */
static void settle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rasync *ra = arg;
    /* The control connection's node is gone: open it to a master that is up. */
    for (size_t i = 0; ra->ctl && !rasync_connected(ra->ctl) && i < rcluster_masters(ra->map);
         i++) {
        const char *a = rcluster_master(ra->map, i);
        if (strcmp(a, ra->ctl->addr) != 0 && rasync_connected(node_for(ra, a))) {
            rasync_free(ra->ctl);
            ra->ctl = ctl_new(ra, a);
        }
    }
    if ((ra->stale || ra->degraded) && !ra->refreshing)
        cluster_refresh(ra);
    if (!ra->stale) {
        size_t kept = 0;
        for (size_t i = 0; i < ra->n_nodes; i++) {
            struct rasync *n = ra->nodes[i];
            int master = 0;
            for (size_t j = 0; j < rcluster_masters(ra->map) && !master; j++)
                master = strcmp(rcluster_master(ra->map, j), n->addr) == 0;
            if (master || n == ra->primary || rasync_connected(n))
                ra->nodes[kept++] = n;
            else
                rasync_free(n);
        }
        ra->n_nodes = kept;
    }
    struct routed *r = ra->waiting;
    ra->waiting = NULL;
    ra->waiting_tail = &ra->waiting;
    while (r) {
        struct routed *next = r->next;
        if (mono_us() >= r->until)
            routed_end(r, NULL);
        else if (rcluster_masters(ra->map) == 0)
            routed_wait(r);
        else
            routed_send(r);
        r = next;
    }
    if (ra->stale || ra->degraded)
        settle_later(ra);
}

struct rasync *rasync_cluster_init(struct rasync *ra)
{
    ra->map = rcluster_new();
    ra->stale = 1;
    ra->waiting_tail = &ra->waiting;
    ra->settle_ev = evtimer_new(ra->base, settle_cb, ra);
    if (!ra->settle_ev)
        abort();
    char seed[RCLUSTER_ADDR_MAX];
    for (size_t i = 0; rcluster_seed(ra->addr, i, seed, sizeof(seed)) == 0; i++) {
        struct rasync *n = node_for(ra, seed);
        if (!ra->primary) {
            ra->primary = n;
            ra->ctl = ctl_new(ra, seed);
        }
    }
    if (!ra->primary)
        log_error("event=redis_bad_address addr=%s", ra->addr);
    return ra;
}

void rasync_cluster_free(struct rasync *ra)
{
    ra->closing = 1;
    for (size_t i = 0; i < ra->n_nodes; i++)
        rasync_free(ra->nodes[i]); /* what they hold ends with NULL */
    rasync_free(ra->ctl);
    while (ra->ssubs) {
        struct ssub *x = ra->ssubs;
        ra->ssubs = x->next;
        free(x->channel);
        free(x);
    }
    while (ra->waiting) {
        struct routed *r = ra->waiting;
        ra->waiting = r->next;
        routed_end(r, NULL);
    }
    free(ra->nodes);
    rcluster_free(ra->map);
    event_free(ra->settle_ev);
}

size_t rasync_masters(const struct rasync *ra)
{
    return ra->map ? rcluster_masters(ra->map) : 1;
}

void rasync_cmdargv_master(struct rasync *ra, size_t i, rasync_reply_cb cb, void *arg, int argc,
                           const char **argv, const size_t *lens)
{
    const char *a = ra->map ? rcluster_master(ra->map, i) : NULL;
    if (ra->map ? a != NULL : i == 0) {
        rasync_cmdargv(ra->map ? node_for(ra, a) : ra, cb, arg, argc, argv, lens);
        return;
    }
    rasync_fail_now(ra, cb, arg);
}

void rasync_wait(struct rasync *ra, const char *key, int replicas, int timeout_ms,
                 rasync_reply_cb cb, void *arg)
{
    char n[16], ms[16];
    snprintf(n, sizeof(n), "%d", replicas);
    snprintf(ms, sizeof(ms), "%d", timeout_ms);
    const char *argv[] = {"WAIT", n, ms};
    const char *a = ra->map ? rcluster_node_of(ra->map, rslot_of(key, strlen(key))) : NULL;
    if (!ra->map || a) {
        rasync_cmdargv(ra->map ? node_for(ra, a) : ra, cb, arg, 3, argv, NULL);
        return;
    }
    rasync_fail_now(ra, cb, arg);
}

/* Places every sharded subscription not placed on its slot's master. */
static void ssub_place_all(struct rasync *ra)
{
    for (struct ssub *x = ra->ssubs; x && !ra->closing; x = x->next) {
        if (x->at)
            continue;
        const char *a = rcluster_node_of(ra->map, rslot_of(x->channel, strlen(x->channel)));
        struct rasync *n = a ? node_for(ra, a) : NULL;
        if (n && rasync_ssub_send(n, x->channel, x->cb, x->arg, x) == 0)
            x->at = n;
    }
}

void rasync_ssubscribe(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *channel)
{
    if (!ra->map) {
        if (rasync_ssub_send(ra, channel, cb, arg, NULL) < 0)
            rasync_fail_now(ra, cb, arg);
        return;
    }
    struct ssub *x = ra->ssubs;
    while (x && (strcmp(x->channel, channel) || x->cb != cb || x->arg != arg))
        x = x->next;
    if (!x) {
        x = xcalloc(1, sizeof(*x));
        x->channel = xstrdup(channel);
        x->cb = cb;
        x->arg = arg;
        x->next = ra->ssubs;
        ra->ssubs = x;
    }
    if (!ra->stale)
        ssub_place_all(ra);
}

void rasync_cluster_unplace(struct rasync *node, struct ssub *sub)
{
    struct rasync *ra = node->owner;
    if (sub->at == node)
        sub->at = NULL;
    if (ra) {
        ra->stale = 1;
        settle_later(ra);
    }
}
