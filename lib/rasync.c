/* rasync.c -- Reconnecting async hiredis on libevent. hiredis frees its
 * context after the disconnect callback, so the pointer is cleared there and
 * a timer reconnects later (never from inside hiredis's own callback).
 * On a cluster, one such connection per master (the nodes, each an rasync
 * of its own) under a routing rasync (lib/rasync_cluster.c). */
#include "rasync.h"
#include "log.h"
#include "mx.h"
#include "rasync_int.h"
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

static void start_connect(struct rasync *ra);
static void pending_free(struct pending *p);

void rasync_fail_later(struct rasync *ra, struct pending *p)
{
    p->next = NULL;
    *ra->failed_tail = p;
    ra->failed_tail = &p->next;
    event_active(ra->fail_ev, EV_TIMEOUT, 0);
}

void rasync_fail_now(struct rasync *ra, rasync_reply_cb cb, void *arg)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    rasync_fail_later(ra, p);
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
            p->cb(rasync_seen_as(ra), NULL, p->arg);
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
    ra->subscribed = 0;
    ra->reconnects++;
    schedule_retry(ra);
    if (ra->owner)
        rasync_cluster_node_lost(ra->owner, ra);
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

int rasync_readable(const struct rasync *ra)
{
    if (ra->map) {
        int n = 0;
        for (size_t i = 0; i < ra->n_nodes; i++)
            n += rasync_readable(ra->nodes[i]);
        return n;
    }
    int n = 0;
    if (!ra->ac || !ra->connected || ioctl(ra->ac->c.fd, FIONREAD, &n) < 0)
        return 0;
    return n;
}

void rasync_read(struct rasync *ra)
{
    if (ra->map) {
        for (size_t i = 0; i < ra->n_nodes; i++)
            if (rasync_readable(ra->nodes[i]) > 0)
                rasync_read(ra->nodes[i]);
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
        return rasync_cluster_init(ra);
    start_connect(ra);
    return ra;
}

void rasync_free(struct rasync *ra)
{
    if (!ra)
        return;
    if (ra->map)
        rasync_cluster_free(ra);
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
        p->cb(rasync_seen_as(p->ra), reply, p->arg);
    pending_free(p);
}

void rasync_cmdargv(struct rasync *ra, rasync_reply_cb cb, void *arg, int argc, const char **argv,
                    const size_t *lens)
{
    if (ra->map) {
        rasync_cluster_send(ra, cb, arg, NULL, 0, argc, argv, lens);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    p->start_us = mono_us();
    if (!rasync_connected(ra) ||
        redisAsyncCommandArgv(ra->ac, on_reply, p, argc, argv, lens) != REDIS_OK)
        rasync_fail_later(ra, p);
}

void rasync_eval(struct rasync *ra, rasync_reply_cb cb, void *arg, const char *script, int nkeys,
                 int argc, const char **args, const size_t *arglens)
{
    const struct script *s = script_get(script);
    if (ra->map) {
        rasync_cluster_send(ra, cb, arg, s, nkeys, argc, args, arglens);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->arg = arg;
    p->start_us = mono_us();
    if (!rasync_connected(ra)) {
        rasync_fail_later(ra, p);
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
        rasync_fail_later(ra, p);
}

/* The kind of a subscription message ("message", "smessage", ...), or "". */
static const char *message_kind(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                   r->element[0]->type == REDIS_REPLY_STRING
               ? r->element[0]->str
               : "";
}

static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    const char *kind = message_kind(r);
    if (p->ssub && !strcmp(kind, "sunsubscribe")) {
        /* its slot moved to another master: drop the registration here
         * (its "unsubscribe" ends p) and place it again once the map is read */
        const redisReply *m = r;
        rasync_cluster_unplace(p->ra, p->ssub);
        p->ssub = NULL;
        redisAsyncCommand(ac, NULL, NULL, "UNSUBSCRIBE %b", m->element[1]->str, m->element[1]->len);
        return;
    }
    if (!strcmp(kind, "unsubscribe")) { /* hiredis forgets the channel: p ends */
        free(p);
        return;
    }
    if (p->cb && strcmp(kind, "ssubscribe") != 0)
        p->cb(rasync_seen_as(p->ra), r, p->arg);
    /* hiredis keeps calling this for every message; p lives as long as the
     * subscription, and is released when the reply is NULL (disconnect). */
    if (!r)
        free(p);
}

/* SSUBSCRIBE channel on the plain connection node. hiredis 0.14 knows
 * only SUBSCRIBE's messages: the SUBSCRIBE to the same name registers the
 * callback its "smessage"s find (nothing publishes to that classic
 * channel). Returns 0 / -1 (not connected). */
int rasync_ssub_send(struct rasync *node, const char *channel, rasync_reply_cb cb, void *arg,
                     struct ssub *sub)
{
    if (!rasync_connected(node) ||
        redisAsyncCommand(node->ac, NULL, NULL, "SSUBSCRIBE %s", channel) != REDIS_OK)
        return -1;
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ra = node;
    p->cb = cb;
    p->arg = arg;
    p->ssub = sub;
    if (redisAsyncCommand(node->ac, on_message, p, "SUBSCRIBE %s", channel) != REDIS_OK) {
        free(p);
        return -1;
    }
    node->subscribed = 1;
    return 0;
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
        rasync_fail_later(ra, p);
    else
        ra->subscribed = 1;
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
