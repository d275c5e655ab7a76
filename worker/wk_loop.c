/* wk_loop.c -- Stream consumer loop shared by the agent and tool workers. */
#include "wk_loop.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

struct resumer {
    const struct wk_opts *o;
    pthread_t thread;
    atomic_int running;
    atomic_int fd;
};

/* Listens for "hincrby" keyspace events on callback records (completions)
 * and for expired timer keys; each runs cb_resume.lua. Notifications are
 * at-most-once: the sweep in the main loop catches what this misses. */
static void *resumer_main(void *arg)
{
    struct resumer *rs = arg;
    struct rconn *cmd = rconn_new(rs->o->redis);
    int backoff = 100;
    while (atomic_load(&rs->running)) {
        struct rconn *sub = rconn_new(rs->o->redis);
        char err[256];
        if (rconn_connect(sub, err, sizeof(err)) < 0) {
            rconn_free(sub);
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
            continue;
        }
        backoff = 100;
        redisContext *c = rconn_ctx(sub);
        struct timeval none = {0, 0};
        redisSetTimeout(c, none);
        atomic_store(&rs->fd, c->fd);
        redisReply *r = redisCommand(c, "PSUBSCRIBE __keyspace@0__:aa:cb:*");
        if (r)
            freeReplyObject(r);
        r = redisCommand(c, "SUBSCRIBE __keyevent@0__:expired");
        if (r)
            freeReplyObject(r);
        log_info("event=resumer_listening");
        /* Catch up on anything that settled while we were not listening. */
        dur_sweep(cmd, rs->o->limits.retention_s);
        void *rep;
        while (atomic_load(&rs->running) && redisGetReply(c, &rep) == REDIS_OK) {
            r = rep;
            const char *cbid = NULL;
            char id[160];
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
                strcmp(r->element[0]->str, "pmessage") == 0 &&
                strcmp(r->element[3]->str, "hincrby") == 0) {
                const char *key = strstr(r->element[2]->str, "aa:cb:");
                if (key && strlen(key + 6) < sizeof(id)) {
                    strcpy(id, key + 6);
                    cbid = id;
                }
            } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                       strcmp(r->element[0]->str, "message") == 0) {
                const char *key = r->element[2]->str;
                size_t n = strlen(key);
                if (strncmp(key, "aa:cb:", 6) == 0 && n > 12 && n - 12 < sizeof(id) &&
                    strcmp(key + n - 6, ":timer") == 0) {
                    memcpy(id, key + 6, n - 12);
                    id[n - 12] = '\0';
                    cbid = id;
                }
            }
            if (cbid)
                dur_resume_callback(cmd, cbid, rs->o->limits.retention_s);
            freeReplyObject(r);
        }
        atomic_store(&rs->fd, -1);
        rconn_free(sub);
    }
    rconn_free(cmd);
    return NULL;
}

static int ensure_group(struct rconn *rc, const struct wk_opts *o, char *err, size_t errlen)
{
    redisReply *r = rconn_cmd(rc, "XGROUP CREATE %s %s 0 MKSTREAM", o->stream, o->group);
    if (!r) {
        snprintf(err, errlen, "%s", rconn_error(rc));
        return -1;
    }
    int ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
    if (!ok)
        snprintf(err, errlen, "XGROUP CREATE %s: %s", o->stream, r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Runs the entries of one stream reply ([[id, [field, value, ...]], ...]). */
static int run_entries(struct rconn *rc, const struct wk_opts *o, const char *consumer,
                       redisReply *entries)
{
    int n = 0;
    for (size_t i = 0; entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
         i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        const char *entry_id = e->element[0]->str;
        const char *eid = NULL;
        redisReply *f = e->element[1];
        for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
            if (strcmp(f->element[j]->str, "exec") == 0)
                eid = f->element[j + 1]->str;
        int rc_run = eid ? dur_run(rc, consumer, o->handlers, &o->limits, eid) : 0;
        if (rc_run == 0) {
            redisReply *a = rconn_cmd(rc, "XACK %s %s %s", o->stream, o->group, entry_id);
            if (a)
                freeReplyObject(a);
        }
        n++;
    }
    return n;
}

int wk_run(const struct wk_opts *o)
{
    char consumer[192], host[64] = "host", err[512];
    gethostname(host, sizeof(host) - 1);
    snprintf(consumer, sizeof(consumer), "%s-%s-%d", o->name, host, (int)getpid());

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rconn *rc = rconn_new(o->redis);
    int64_t give_up = mono_us() + 10 * 1000000LL;
    while (rconn_connect(rc, err, sizeof(err)) < 0) {
        if (mono_us() > give_up || stopping) {
            log_error("event=start_failed err=\"%s\"", err);
            rconn_free(rc);
            return 1;
        }
        usleep(200000);
    }
    if (o->resumer && rconn_ensure_notifications(rc, err, sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        rconn_free(rc);
        return 1;
    }
    if (ensure_group(rc, o, err, sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        rconn_free(rc);
        return 1;
    }
    struct resumer rs = {.o = o};
    atomic_init(&rs.running, 1);
    atomic_init(&rs.fd, -1);
    if (o->resumer && pthread_create(&rs.thread, NULL, resumer_main, &rs) != 0) {
        log_error("event=start_failed err=\"cannot start the resumer thread\"");
        rconn_free(rc);
        return 1;
    }
    log_info("event=worker_started consumer=%s stream=%s group=%s resumer=%d", consumer, o->stream,
             o->group, o->resumer);

    int64_t next_sweep = 0, next_claim = 0;
    while (!stopping) {
        redisReply *r = rconn_cmd(rc, "XREADGROUP GROUP %s %s COUNT 16 BLOCK 500 STREAMS %s >",
                                  o->group, consumer, o->stream);
        if (!r) {
            usleep(200000);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            log_warn("event=xreadgroup_error err=\"%s\"", r->str);
            if (strncmp(r->str, "NOGROUP", 7) == 0)
                ensure_group(rc, o, err, sizeof(err));
            else
                usleep(200000);
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2)
                    run_entries(rc, o, consumer, r->element[i]->element[1]);
        }
        freeReplyObject(r);
        int64_t now = mono_us() / 1000;
        if (o->resumer && now >= next_sweep) {
            dur_sweep(rc, o->limits.retention_s);
            next_sweep = now + o->sweep_ms;
        }
        if (now >= next_claim) {
            /* Entries delivered to a worker that died are taken over. */
            r = rconn_cmd(rc, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 16", o->stream, o->group, consumer,
                          o->claim_idle_ms);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
                int n = run_entries(rc, o, consumer, r->element[1]);
                if (n)
                    log_info("event=reclaimed entries=%d", n);
            }
            if (r)
                freeReplyObject(r);
            next_claim = now + 1000;
        }
    }
    log_info("event=worker_stopping consumer=%s", consumer);
    if (o->resumer) {
        atomic_store(&rs.running, 0);
        int fd = atomic_load(&rs.fd);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
        pthread_join(rs.thread, NULL);
    }
    rconn_free(rc);
    log_info("event=worker_stopped consumer=%s", consumer);
    return 0;
}
