/* rasync.c -- Reconnecting async hiredis on libevent. hiredis frees its
 * context after the disconnect callback, so the pointer is cleared there and
 * a timer reconnects later (never from inside hiredis's own callback).
 * On a cluster, one such connection per master (the nodes, each an rasync
 * of its own) under a routing rasync that sends each command to the master
 * of its slot and follows MOVED and ASK (lib/rcluster). */
#include "rasync.h"
#include "log.h"
#include "mx.h"
#include "rcluster.h"
#include "rconn.h"
#include "rslot.h"
#include "script.h"
#include "util.h"

#include <hiredis/adapters/libevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct pending;
struct routed;

/* How long a command waits for a cluster to settle (a failover, a
 * migration), and how often it is tried again meanwhile. */
#define CLUSTER_WAIT_US 5000000
#define CLUSTER_RETRY_MS 100
#define CLUSTER_MAX_REDIRECTS 16

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
};

/* Who a callback is told its reply came from: the routing rasync. */
static struct rasync *seen_as(struct rasync *ra)
{
    return ra->owner ? ra->owner : ra;
}

struct pending {
    struct rasync *ra;
    struct pending *next; /* on the failed list */
    rasync_reply_cb cb;
    void *arg;
    int64_t start_us;
    /* For EVALSHA: enough to retry with EVAL on NOSCRIPT. */
    const struct script *script;
    int nkeys, argc;
    char **args;
    size_t *lens;
};

static void start_connect(struct rasync *ra);
static void pending_free(struct pending *p);
static void cluster_node_lost(struct rasync *ra, struct rasync *node);

/* A command that could not be sent: its callback runs with a NULL reply
 * from the loop, never from inside the call that sent it (h2o style). */
static void fail_later(struct rasync *ra, struct pending *p)
{
    p->next = NULL;
    *ra->failed_tail = p;
    ra->failed_tail = &p->next;
    event_active(ra->fail_ev, EV_TIMEOUT, 0);
}

/* Runs the failed callbacks; those a callback adds run on the next turn. */
static void run_failed(struct rasync *ra)
{
    struct pending *p = ra->failed;
    ra->failed = NULL;
    ra->failed_tail = &ra->failed;
    while (p) {
        struct pending *next = p->next;
        if (p->cb)
            p->cb(seen_as(ra), NULL, p->arg);
        pending_free(p);
        p = next;
    }
}

static void fail_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_failed(arg);
}

static void schedule_retry(struct rasync *ra)
{
    struct timeval tv = {ra->backoff_ms / 1000, (ra->backoff_ms % 1000) * 1000};
    evtimer_add(ra->retry, &tv);
    ra->backoff_ms = ra->backoff_ms * 2 > 2000 ? 2000 : ra->backoff_ms * 2;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_connect(arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rasync *ra = ac->data;
    if (!ra)
        return;
    log_warn("event=redis_disconnected conn=%s status=%d err=\"%s\"", ra->name, status, ac->errstr);
    ra->ac = NULL; /* hiredis frees it after this callback */
    ra->connected = 0;
    ra->reconnects++;
    schedule_retry(ra);
    if (ra->owner)
        cluster_node_lost(ra->owner, ra);
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_error("event=script_load_failed err=\"%s\"", reply->str);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rasync *ra = ac->data;
    if (!ra)
        return;
    if (status != REDIS_OK) {
        log_warn("event=redis_connect_failed conn=%s addr=%s err=\"%s\"", ra->name, ra->addr,
                 ac->errstr);
        ra->ac = NULL; /* freed by hiredis */
        schedule_retry(ra);
        return;
    }
    for (size_t i = 0; i < script_count(); i++) {
        const struct script *s = script_at(i);
        redisAsyncCommand(ra->ac, on_script_loaded, NULL, "SCRIPT LOAD %s", script_body(s));
    }
    ra->connected = 1;
    ra->backoff_ms = 100;
    log_info("event=redis_connected conn=%s addr=%s", ra->name, ra->addr);
    if (ra->on_connect)
        ra->on_connect(ra, ra->arg);
}

static void start_connect(struct rasync *ra)
{
    char host[256];
    int port, is_unix;
    if (rconn_parse_addr(ra->addr, host, sizeof(host), &port, &is_unix) < 0) {
        log_error("event=redis_bad_address addr=%s", ra->addr);
        return;
    }
    ra->ac = is_unix ? redisAsyncConnectUnix(host) : redisAsyncConnect(host, port);
    if (!ra->ac || ra->ac->err) {
        log_warn("event=redis_connect_failed conn=%s err=\"%s\"", ra->name,
                 ra->ac ? ra->ac->errstr : "oom");
        if (ra->ac)
            redisAsyncFree(ra->ac);
        ra->ac = NULL;
        schedule_retry(ra);
        return;
    }
    ra->ac->data = ra;
    redisLibeventAttach(ra->ac, ra->base);
    redisAsyncSetConnectCallback(ra->ac, on_connect);
    redisAsyncSetDisconnectCallback(ra->ac, on_disconnect);
}

/* ---- A cluster: the routing rasync and its nodes ---- */

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

/* Routes a command (script: NULL for a plain one). Copies args. */
static void cluster_send(struct rasync *ra, rasync_reply_cb cb, void *arg,
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
    if (ra->waiting || ra->degraded)
        settle_later(ra);
}

/* Reads the slot map through a connected node, the primary first. */
static void cluster_refresh(struct rasync *ra)
{
    struct rasync *via = ra->primary && rasync_connected(ra->primary) ? ra->primary : NULL;
    for (size_t i = 0; !via && i < ra->n_nodes; i++)
        if (rasync_connected(ra->nodes[i]))
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
    if (ra->waiting)
        settle_later(ra);
}

static void cluster_node_lost(struct rasync *ra, struct rasync *node)
{
    if (node == ra->primary)
        ra->connected = 0; /* its subscriptions ended */
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

/* Every 100 ms while the cluster is unsettled: read the map again, send
 * what waits, and close nodes that are neither masters nor up. */
static void settle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rasync *ra = arg;
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

static struct rasync *cluster_new(struct rasync *ra)
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
        if (!ra->primary)
            ra->primary = n;
    }
    if (!ra->primary)
        log_error("event=redis_bad_address addr=%s", ra->addr);
    return ra;
}

static void cluster_free(struct rasync *ra)
{
    ra->closing = 1;
    for (size_t i = 0; i < ra->n_nodes; i++)
        rasync_free(ra->nodes[i]); /* what they hold ends with NULL */
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
    struct pending *p = xcalloc(1, sizeof(*p)); /* no such master */
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    fail_later(ra, p);
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
    struct pending *p = xcalloc(1, sizeof(*p)); /* no master known for it */
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    fail_later(ra, p);
}

int rasync_readable(const struct rasync *ra)
{
    if (ra->map)
        return ra->primary ? rasync_readable(ra->primary) : 0;
    int n = 0;
    if (!ra->ac || !ra->connected || ioctl(ra->ac->c.fd, FIONREAD, &n) < 0)
        return 0;
    return n;
}

void rasync_read(struct rasync *ra)
{
    if (ra->map) {
        if (ra->primary)
            rasync_read(ra->primary);
        return;
    }
    if (ra->ac && ra->connected)
        redisAsyncHandleRead(ra->ac);
}

struct rasync *rasync_new(struct event_base *base, const char *addr, const char *name,
                          rasync_connect_cb cb, void *arg)
{
    struct rasync *ra = xcalloc(1, sizeof(*ra));
    ra->base = base;
    ra->addr = xstrdup(addr);
    ra->name = xstrdup(name);
    ra->on_connect = cb;
    ra->arg = arg;
    ra->backoff_ms = 100;
    ra->retry = evtimer_new(base, retry_cb, ra);
    ra->fail_ev = event_new(base, -1, 0, fail_cb, ra);
    ra->failed_tail = &ra->failed;
    if (!ra->retry || !ra->fail_ev)
        abort();
    if (rcluster_is_cluster(addr))
        return cluster_new(ra);
    start_connect(ra);
    return ra;
}

void rasync_free(struct rasync *ra)
{
    if (!ra)
        return;
    if (ra->map)
        cluster_free(ra);
    if (ra->ac) {
        ra->ac->data = NULL;
        redisAsyncFree(ra->ac); /* pending callbacks run with NULL replies */
    }
    for (int i = 0; ra->failed && i < 100; i++) /* a callback may send again */
        run_failed(ra);
    event_free(ra->fail_ev);
    event_free(ra->retry);
    free(ra->addr);
    free(ra->name);
    free(ra);
}

int rasync_connected(const struct rasync *ra)
{
    if (ra->map)
        return !ra->stale && ra->primary && rasync_connected(ra->primary);
    return ra->connected && ra->ac;
}

static void pending_free(struct pending *p)
{
    if (p->args) {
        for (int i = 0; i < p->argc; i++)
            free(p->args[i]);
        free(p->args);
        free(p->lens);
    }
    free(p);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    redisReply *reply = r;
    struct rasync *ra = ac->data ? ac->data : NULL;
    if (ra && reply) {
        ra->replies++;
        ra->rtt_total += (double)(mono_us() - p->start_us) / 1e6;
    }
    if (reply && p->script && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && ra && ra->connected) {
        const char **argv = xmalloc(sizeof(char *) * (size_t)(p->argc + 3));
        size_t *lens = xmalloc(sizeof(size_t) * (size_t)(p->argc + 3));
        int n = script_argv(p->script, 1, p->nkeys, p->argc, (const char **)p->args, p->lens, argv,
                            lens);
        p->script = NULL;
        int rc = redisAsyncCommandArgv(ac, on_reply, p, n, argv, lens);
        free(argv);
        free(lens);
        if (rc == REDIS_OK)
            return;
        reply = NULL;
    }
    if (p->cb)
        p->cb(seen_as(p->ra), reply, p->arg);
    pending_free(p);
}

void rasync_cmdargv(struct rasync *ra, rasync_reply_cb cb, void *arg, int argc, const char **argv,
                    const size_t *lens)
{
    if (ra->map) {
        cluster_send(ra, cb, arg, NULL, 0, argc, argv, lens);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    p->start_us = mono_us();
    if (!rasync_connected(ra) ||
        redisAsyncCommandArgv(ra->ac, on_reply, p, argc, argv, lens) != REDIS_OK)
        fail_later(ra, p);
}

void rasync_eval(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *script, int nkeys,
                 int argc, const char **args, const size_t *arglens)
{
    const struct script *s = script_get(script);
    if (ra->map) {
        cluster_send(ra, cb, arg, s, nkeys, argc, args, arglens);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    p->start_us = mono_us();
    if (!rasync_connected(ra)) {
        fail_later(ra, p);
        return;
    }
    p->script = s;
    p->nkeys = nkeys;
    p->argc = argc;
    p->args = xmalloc(sizeof(char *) * (size_t)argc);
    p->lens = xmalloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p->lens[i] = arglens ? arglens[i] : strlen(args[i]);
        p->args[i] = xstrndup(args[i], p->lens[i]);
    }
    const char **argv = xmalloc(sizeof(char *) * (size_t)(argc + 3));
    size_t *lens = xmalloc(sizeof(size_t) * (size_t)(argc + 3));
    int n = script_argv(s, 0, nkeys, argc, (const char **)p->args, p->lens, argv, lens);
    int rc = redisAsyncCommandArgv(ra->ac, on_reply, p, n, argv, lens);
    free(argv);
    free(lens);
    if (rc != REDIS_OK)
        fail_later(ra, p);
}

static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    (void)ac;
    if (p->cb)
        p->cb(seen_as(p->ra), r, p->arg);
    /* hiredis keeps calling this for every message; p lives as long as the
     * subscription, and is released when the reply is NULL (disconnect). */
    if (!r)
        free(p);
}

void rasync_subscribe(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *cmd,
                      const char *channel)
{
    if (ra->map && ra->primary) {
        rasync_subscribe(ra->primary, cb, arg, cmd, channel);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    if (!rasync_connected(ra) ||
        redisAsyncCommand(ra->ac, on_message, p, "%s %s", cmd, channel) != REDIS_OK)
        fail_later(ra, p);
}

void rasync_stats(const struct rasync *ra, unsigned long long *replies, double *total_seconds,
                  unsigned long long *reconnects)
{
    *replies = ra->replies;
    *total_seconds = ra->rtt_total;
    *reconnects = ra->reconnects;
    for (size_t i = 0; i < ra->n_nodes; i++) {
        unsigned long long n, k;
        double t;
        rasync_stats(ra->nodes[i], &n, &t, &k);
        *replies += n;
        *total_seconds += t;
        *reconnects += k;
    }
}
