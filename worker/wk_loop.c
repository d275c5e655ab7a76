/* wk_loop.c -- Stream consumer loop shared by the agent and tool workers,
 * with the resumer threads (notifications, timers). */
#include "wk_loop.h"
#include "cfg.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
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

/* How many departed workers' tags a resumer remembers. */
#define GONE_TAGS 64

/* A thread with its own subscriber connection; stop() shuts its socket. */
struct listener {
    const struct wk_opts *o;
    pthread_t thread;
    atomic_int fd;
    int started;
    char name[192];          /* the notification thread's consumer name */
    char gone[GONE_TAGS][8]; /* resumer tags of workers that have left (a ring) */
    unsigned ngone;
};

/* Where a worker that stops announces its resumer tag: the others then
 * resume the callbacks it made (see ours). */

static struct rconn *subscribe(const struct wk_opts *o, const char *const *cmds, int ncmds)
{
    int backoff = 100;
    while (!stopping) {
        struct rconn *sub = rconn_new(o->redis);
        char err[256];
        if (rconn_connect(sub, err, sizeof(err)) == 0) {
            redisContext *c = rconn_ctx(sub);
            struct timeval none = {0, 0};
            redisSetTimeout(c, none);
            int ok = 1;
            for (int i = 0; i < ncmds && ok; i++) {
                redisReply *r = redisCommand(c, cmds[i]);
                ok = r != NULL;
                if (r)
                    freeReplyObject(r);
            }
            if (ok)
                return sub;
        }
        rconn_free(sub);
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
    return NULL;
}

/* Returns the callback id of a "hincrby" keyevent notification for
 * aa:cb:{id} (the last command of cb_complete.lua, and the only HINCRBY of
 * the system), copied into id; NULL for anything else. */
static const char *completion_id(redisReply *r, char *id, size_t idlen)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || strcmp(r->element[0]->str, "message"))
        return NULL;
    const char *key = r->element[2]->str;
    size_t pre = strlen(KEYS_CB_PREFIX);
    if (!key || strncmp(key, KEYS_CB_PREFIX, pre) != 0 || strlen(key + pre) >= idlen)
        return NULL;
    strcpy(id, key + pre);
    return id;
}

/* 1 when this resumer acts on the completion of callback cbid: one it made,
 * an untagged one, or one made by a worker that has left. */
static int ours(const struct listener *l, const char *cbid)
{
    const char *tag = dur_cb_tag(cbid), *mine = l->o->limits.cb_tag;
    if (!tag || !mine || !*mine || !strcmp(tag, mine))
        return 1;
    for (int i = 0; i < GONE_TAGS; i++)
        if (!strcmp(l->gone[i], tag))
            return 1;
    return 0;
}

/* A departure on KEYS_RESUMERS_GONE: notes the tag. Returns 1 for one, else 0. */
static int departure(struct listener *l, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !r->element[1]->str ||
        strcmp(r->element[1]->str, KEYS_RESUMERS_GONE) != 0 || !r->element[2]->str)
        return 0;
    const char *tag = r->element[2]->str, *mine = l->o->limits.cb_tag;
    if (!id_valid(tag, sizeof(l->gone[0]) - 1) || (mine && !strcmp(tag, mine)))
        return 0;
    strlcpy_aa(l->gone[l->ngone++ % GONE_TAGS], tag, sizeof(l->gone[0]));
    log_info("event=resumer_gone tag=%s", tag);
    return 1;
}

/* Completions: keyspace events of callback records. Every resumer hears
 * every completion, and acts only on the callbacks created in its own
 * process (their ids carry its tag): one resume per completion however many
 * workers run, and the continuation runs where its callback was made. A lone
 * completion is resumed and its continuation run on this thread
 * (dur_resume_take); events that arrive together are resumed in one pipeline
 * and left to the consumer threads. A worker that stops says so on
 * KEYS_RESUMERS_GONE, and from then on the others resume its callbacks (and at
 * once sweep what was answered meanwhile). Notifications are at-most-once,
 * and a worker that crashed says nothing: the timers and the sweep catch
 * both. */
static void *notify_main(void *arg)
{
    struct listener *l = arg;
    struct rconn *cmd = rconn_new(l->o->redis);
    static const char *const cmds[] = {"SUBSCRIBE __keyevent@0__:hincrby",
                                       "SUBSCRIBE " KEYS_RESUMERS_GONE};
    enum { BATCH = 256 };
    char(*ids)[128] = xmalloc(sizeof(*ids) * BATCH);
    while (!stopping) {
        struct rconn *sub = subscribe(l->o, cmds, sizeof(cmds) / sizeof(cmds[0]));
        if (!sub)
            break;
        redisContext *c = rconn_ctx(sub);
        atomic_store(&l->fd, c->fd);
        log_info("event=notifications_listening");
        dur_sweep(cmd, l->o->limits.retention_s, 0); /* what settled while we were away */
        void *rep;
        while (!stopping && redisGetReply(c, &rep) == REDIS_OK) {
            int n = 0, gone = 0;
            do {
                if (!completion_id(rep, ids[n], sizeof(ids[n]))) {
                    gone |= departure(l, rep);
                } else if (ours(l, ids[n])) {
                    n++;
                } else {
                    /* another resumer's callback is its own to resume */
                    log_debug("event=completion_left cb=%s reason=another_resumer", ids[n]);
                }
                freeReplyObject(rep);
                rep = NULL;
            } while (n < BATCH && redisGetReplyFromReader(c, &rep) == REDIS_OK && rep);
            if (rep)
                freeReplyObject(rep);
            if (n == 1 && l->o->handlers) {
                /* a lone completion: resume it and run its continuation
                 * here; a burst is pipelined and left to the consumers */
                struct dur_take t = {l->o->stream, l->o->group, l->name, l->o->handlers,
                                     &l->o->limits};
                dur_resume_take(cmd, ids[0], l->o->limits.retention_s, MX_RESUME_NOTIFICATION, &t);
            } else if (n) {
                dur_resume_callbacks(cmd, (const char(*)[128])ids, n, l->o->limits.retention_s,
                                     MX_RESUME_NOTIFICATION);
            }
            if (gone) /* what the one that left had not resumed */
                dur_sweep(cmd, l->o->limits.retention_s, 0);
        }
        atomic_store(&l->fd, -1);
        rconn_free(sub);
    }
    free(ids);
    rconn_free(cmd);
    return NULL;
}

/* Timers: sleeps until the earliest deadline of aa:timers, aa:cb:deadlines
 * and aa:exec:deadlines, a second at most between passes, and wakes early
 * when a deadline due sooner than that is added: the scripts that add one
 * publish its time on aa:timers:soon (lua/_deadline.lua). A later deadline
 * wakes nobody; the next pass finds it in time. */
static int64_t soon(redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !r->element[2]->str)
        return INT64_MAX;
    return atoll(r->element[2]->str);
}

static void *timer_main(void *arg)
{
    struct listener *l = arg;
    struct rconn *cmd = rconn_new(l->o->redis);
    static const char *const cmds[] = {"SUBSCRIBE aa:timers:soon"};
    while (!stopping) {
        struct rconn *sub = subscribe(l->o, cmds, sizeof(cmds) / sizeof(cmds[0]));
        if (!sub)
            break;
        redisContext *c = rconn_ctx(sub);
        atomic_store(&l->fd, c->fd);
        log_info("event=timers_armed");
        int broken = 0;
        while (!stopping && !broken) {
            int64_t next = 0;
            if (dur_fire_due(cmd, l->o->limits.retention_s, &next, MX_RESUME_TIMER) < 0)
                next = wall_ms() + 200;
            for (int64_t left; !stopping && (left = next - wall_ms()) > 0;) {
                struct pollfd pfd = {c->fd, POLLIN, 0};
                int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
                if (pr < 0 && errno != EINTR) {
                    broken = 1;
                } else if (pr > 0) {
                    if (redisBufferRead(c) != REDIS_OK) {
                        broken = 1;
                        break;
                    }
                    int64_t first = INT64_MAX;
                    void *rep;
                    while (redisGetReplyFromReader(c, &rep) == REDIS_OK && rep) {
                        int64_t at = soon(rep);
                        first = at < first ? at : first;
                        freeReplyObject(rep);
                    }
                    if (first < next)
                        break;
                }
                if (broken)
                    break;
            }
        }
        atomic_store(&l->fd, -1);
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

/* Runs the entries of one stream reply ([[id, [field, value, ...]], ...])
 * and acknowledges them together. */
static int run_entries(struct rconn *rc, const struct wk_opts *o, const char *consumer,
                       redisReply *entries)
{
    int n = 0, nack = 0;
    if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return 0;
    const char **argv = xmalloc(sizeof(char *) * (entries->elements + 3));
    argv[0] = "XACK";
    argv[1] = o->stream;
    argv[2] = o->group;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        const char *eid = NULL;
        redisReply *f = e->element[1];
        for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
            if (strcmp(f->element[j]->str, "exec") == 0)
                eid = f->element[j + 1]->str;
        struct dur_ack ack = {o->stream, o->group, e->element[0]->str, 0};
        if ((eid ? dur_run(rc, consumer, o->handlers, &o->limits, eid, &ack) : 0) == 0 && !ack.done)
            argv[3 + nack++] = e->element[0]->str;
        n++;
    }
    if (nack) {
        redisReply *a = rconn_cmdargv(rc, 3 + nack, argv, NULL);
        if (a)
            freeReplyObject(a);
    }
    free(argv);
    return n;
}

/* Removes stream entries every group has read and acknowledged: below the
 * oldest pending entry and below every group's last delivered id. Job
 * streams are never trimmed by length, so no entry is lost unread. */
static void trim_stream(struct rconn *rc, const struct wk_opts *o)
{
    char safe[48] = "";
    redisReply *g = rconn_cmd(rc, "XINFO GROUPS %s", o->stream);
    for (size_t i = 0; g && g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
        redisReply *e = g->element[i];
        const char *name = NULL, *last = NULL;
        for (size_t k = 0; k + 1 < e->elements; k += 2) {
            if (!strcmp(e->element[k]->str, "name"))
                name = e->element[k + 1]->str;
            else if (!strcmp(e->element[k]->str, "last-delivered-id"))
                last = e->element[k + 1]->str;
        }
        if (!name || !last)
            continue;
        const char *low = last;
        redisReply *p = rconn_cmd(rc, "XPENDING %s %s", o->stream, name);
        if (p && p->type == REDIS_REPLY_ARRAY && p->elements >= 2 && p->element[0]->integer > 0 &&
            p->element[1]->str && stream_id_cmp(p->element[1]->str, low) < 0)
            low = p->element[1]->str;
        if (!safe[0] || stream_id_cmp(low, safe) < 0)
            strlcpy_aa(safe, low, sizeof(safe));
        if (p)
            freeReplyObject(p);
    }
    if (g)
        freeReplyObject(g);
    if (safe[0] && strcmp(safe, "0-0") != 0) {
        redisReply *t = rconn_cmd(rc, "XTRIM %s MINID %s", o->stream, safe);
        if (t)
            freeReplyObject(t);
    }
}

struct consumer {
    const struct wk_opts *o;
    struct consumer *first; /* only the first consumer sweeps */
    char name[192];
    pthread_t thread;
};

static void *consume_main(void *arg)
{
    struct consumer *cs = arg;
    const struct wk_opts *o = cs->o;
    struct rconn *rc = rconn_new(o->redis);
    int64_t next_sweep = 0, next_claim = 0, next_trim = 0;
    while (!stopping) {
        redisReply *r = rconn_cmd(rc, "XREADGROUP GROUP %s %s COUNT 16 BLOCK 500 STREAMS %s >",
                                  o->group, cs->name, o->stream);
        if (!r) {
            usleep(200000);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            char err[256];
            log_warn("event=xreadgroup_error err=\"%s\"", r->str);
            if (strncmp(r->str, "NOGROUP", 7) == 0)
                ensure_group(rc, o, err, sizeof(err));
            else
                usleep(200000);
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2)
                    run_entries(rc, o, cs->name, r->element[i]->element[1]);
        }
        freeReplyObject(r);
        int64_t now = mono_us() / 1000;
        if (o->sweep_ms > 0 && cs == cs->first && now >= next_sweep) {
            /* a full batch means a backlog: keep going for up to 200 ms */
            int64_t until = now + 200;
            while (dur_sweep(rc, o->limits.retention_s, 1000) >= 500 && mono_us() / 1000 < until)
                ;
            next_sweep = now + o->sweep_ms;
        }
        if (cs == cs->first && now >= next_trim) {
            trim_stream(rc, o);
            next_trim = now + 5000;
        }
        if (now >= next_claim) {
            /* Entries delivered to a worker that died are taken over. */
            r = rconn_cmd(rc, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 16", o->stream, o->group, cs->name,
                          o->claim_idle_ms);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
                int n = run_entries(rc, o, cs->name, r->element[1]);
                if (n) {
                    log_info("event=reclaimed entries=%d consumer=%s", n, cs->name);
                    mx_add(MX_RECLAIMED, (unsigned long long)n);
                }
            }
            if (r)
                freeReplyObject(r);
            next_claim = now + 1000;
        }
    }
    rconn_free(rc);
    return NULL;
}

/* Gauges read from Redis at scrape time: the stream, its group, and what is
 * waiting. Returns: owned text. */
static char *gauges(void *arg)
{
    const struct wk_opts *o = arg;
    struct rconn *rc = rconn_new(o->redis);
    long long len = -1, lag = -1, pending = -1, cbs = -1, timers = -1, execs = -1;
    redisReply *r = rconn_cmd(rc, "XLEN %s", o->stream);
    if (r && r->type == REDIS_REPLY_INTEGER)
        len = r->integer;
    if (r)
        freeReplyObject(r);
    r = rconn_cmd(rc, "XINFO GROUPS %s", o->stream);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        int mine = 0;
        long long l = -1, p = -1;
        for (size_t k = 0; k + 1 < e->elements; k += 2) {
            const char *key = e->element[k]->str;
            redisReply *v = e->element[k + 1];
            if (!strcmp(key, "name") && v->str && !strcmp(v->str, o->group))
                mine = 1;
            else if (!strcmp(key, "lag") && v->type == REDIS_REPLY_INTEGER)
                l = v->integer;
            else if (!strcmp(key, "pending") && v->type == REDIS_REPLY_INTEGER)
                p = v->integer;
        }
        if (mine) {
            lag = l;
            pending = p;
        }
    }
    if (r)
        freeReplyObject(r);
    const char *zs[] = {KEYS_CB_DEADLINES, KEYS_TIMERS, KEYS_EXEC_DEADLINES};
    long long *out[] = {&cbs, &timers, &execs};
    for (int i = 0; i < 3; i++) {
        r = rconn_cmd(rc, "ZCARD %s", zs[i]);
        if (r && r->type == REDIS_REPLY_INTEGER)
            *out[i] = r->integer;
        if (r)
            freeReplyObject(r);
    }
    rconn_free(rc);
    return xasprintf("# HELP aa_stream_length Entries in the job stream.\n"
                     "# TYPE aa_stream_length gauge\naa_stream_length{stream=\"%s\"} %lld\n"
                     "# HELP aa_stream_lag Entries not yet delivered to the group.\n"
                     "# TYPE aa_stream_lag gauge\naa_stream_lag{stream=\"%s\"} %lld\n"
                     "# HELP aa_stream_pending Entries delivered, not yet acknowledged.\n"
                     "# TYPE aa_stream_pending gauge\naa_stream_pending{stream=\"%s\"} %lld\n"
                     "# HELP aa_waiting_callbacks Suspended operations waiting for the desktop.\n"
                     "# TYPE aa_waiting_callbacks gauge\naa_waiting_callbacks %lld\n"
                     "# TYPE aa_waiting_timers gauge\naa_waiting_timers %lld\n"
                     "# HELP aa_executions_open Executions not ended (running, ready, suspended).\n"
                     "# TYPE aa_executions_open gauge\naa_executions_open %lld\n",
                     o->stream, len, o->stream, lag, o->stream, pending, cbs, timers, execs);
}

static void stop_listener(struct listener *l)
{
    if (!l->started)
        return;
    int fd = atomic_load(&l->fd);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    pthread_join(l->thread, NULL);
}

int wk_opts_from_cfg(struct wk_opts *o, const struct cfg_opt *tab, const char *prog)
{
    if (log_setup(prog, cfg_str(tab, "log-level"), cfg_str(tab, "log-file")) < 0)
        return -1;
    o->redis = cfg_str(tab, "redis");
    o->stream = cfg_str(tab, "stream");
    o->group = cfg_str(tab, "group");
    o->threads = (int)cfg_int(tab, "threads");
    o->claim_idle_ms = (int)cfg_int(tab, "claim-idle-ms");
    o->limits.lease_ms = cfg_int(tab, "lease-ms");
    o->limits.max_attempts = (int)cfg_int(tab, "max-attempts");
    o->limits.retention_s = cfg_int(tab, "retention-s");
    o->metrics_bind = cfg_str(tab, "metrics-bind");
    o->metrics_port = (int)cfg_int(tab, "metrics-port");
    return 0;
}

int wk_run(const struct wk_opts *opts)
{
    char host[64] = "host", err[512], tag[8] = "";
    struct wk_opts run = *opts;
    const struct wk_opts *o = &run;
    /* with a resumer here, the callbacks made here are its own */
    if (run.notifications && id_random_b64(tag, sizeof(tag), "", 3) == 0)
        run.limits.cb_tag = tag;
    gethostname(host, sizeof(host) - 1);
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
    if ((o->notifications || o->timers) && rconn_ensure_notifications(rc, err, sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        rconn_free(rc);
        return 1;
    }
    if (ensure_group(rc, o, err, sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        rconn_free(rc);
        return 1;
    }
    rconn_free(rc);
    struct listener notify = {.o = o}, timers = {.o = o};
    atomic_init(&notify.fd, -1);
    atomic_init(&timers.fd, -1);
    snprintf(notify.name, sizeof(notify.name), "%s-%s-%d-resumer", o->name, host, (int)getpid());
    if (o->notifications)
        notify.started = pthread_create(&notify.thread, NULL, notify_main, &notify) == 0;
    if (o->timers)
        timers.started = pthread_create(&timers.thread, NULL, timer_main, &timers) == 0;
    if (o->metrics_port >= 0) {
        int port = mx_serve(o->metrics_bind, o->metrics_port, o->stream, gauges, (void *)o);
        if (port < 0) {
            log_error("event=start_failed err=\"cannot serve metrics on %s:%d\"", o->metrics_bind,
                      o->metrics_port);
            return 1;
        }
        log_info("event=metrics_listening addr=%s port=%d", o->metrics_bind, port);
    }
    int n = o->threads > 0 ? o->threads : 1;
    struct consumer *cs = xcalloc((size_t)n, sizeof(*cs));
    for (int i = 0; i < n; i++) {
        cs[i].o = o;
        cs[i].first = &cs[0];
        snprintf(cs[i].name, sizeof(cs[i].name), "%s-%s-%d-%d", o->name, host, (int)getpid(), i);
    }
    log_info("event=worker_started consumer=%s threads=%d stream=%s group=%s notifications=%d "
             "resumer_tag=%s timers=%d sweep_ms=%d",
             cs[0].name, n, o->stream, o->group, o->notifications, tag, o->timers, o->sweep_ms);
    for (int i = 1; i < n; i++)
        if (pthread_create(&cs[i].thread, NULL, consume_main, &cs[i]) != 0)
            cs[i].thread = 0;
    consume_main(&cs[0]);
    log_info("event=worker_stopping consumer=%s", cs[0].name);
    for (int i = 1; i < n; i++)
        if (cs[i].thread)
            pthread_join(cs[i].thread, NULL);
    stop_listener(&notify);
    if (tag[0]) {
        /* from now on the other resumers take the callbacks made here */
        struct rconn *bye = rconn_new(o->redis);
        redisReply *r = rconn_cmd(bye, "PUBLISH %s %s", KEYS_RESUMERS_GONE, tag);
        log_info("event=resumer_leaving tag=%s told=%lld", tag,
                 r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL);
        if (r)
            freeReplyObject(r);
        rconn_free(bye);
    }
    stop_listener(&timers);
    mx_stop();
    free(cs);
    log_info("event=worker_stopped");
    return 0;
}
