/* wk_loop.c -- The stream consumer loop shared by the agent and tool
 * workers: one consumer per thread, reclaiming, trimming and the periodic
 * sweep. With several cells (keys.h), each cell has its stream, and a
 * doorbell thread per process tells the consumers which cells have new
 * entries (keyspace events of the streams, on every master). The resumer
 * threads are dur_resume.c's. */
#include "wk_loop.h"
#include "cfg.h"
#include "dur_exec.h"
#include "dur_resume.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "rsub.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int ensure_group(struct rconn *rc, const struct wk_opts *o, const char *stream, char *err,
                        size_t errlen)
{
    redisReply *r = rconn_cmd(rc, "XGROUP CREATE %s %s 0 MKSTREAM", stream, o->group);
    if (!r) {
        snprintf(err, errlen, "%s", rconn_error(rc));
        return -1;
    }
    int ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
    if (!ok)
        snprintf(err, errlen, "XGROUP CREATE %s: %s", stream, r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ---- The doorbell: which cells' streams have entries to read ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t rung[KEYS_CELLS_MAX / 64];
    unsigned next; /* where the next take starts looking */
    pthread_t thread;
    int started;
} bell = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static void bell_ring(unsigned cell)
{
    pthread_mutex_lock(&bell.mu);
    bell.rung[cell / 64] |= 1ull << (cell % 64);
    pthread_cond_signal(&bell.cv);
    pthread_mutex_unlock(&bell.mu);
}

static void bell_ring_all(void)
{
    pthread_mutex_lock(&bell.mu);
    for (unsigned c = 0; c < keys_cells(); c++)
        bell.rung[c / 64] |= 1ull << (c % 64);
    pthread_cond_broadcast(&bell.cv);
    pthread_mutex_unlock(&bell.mu);
}

/* A cell rung and not yet taken (its bell is cleared: the taker reads it),
 * waiting up to timeout_ms. Returns the cell, or -1. */
static int bell_take(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    until.tv_sec += timeout_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    unsigned n = keys_cells();
    int cell = -1;
    pthread_mutex_lock(&bell.mu);
    for (;;) {
        for (unsigned k = 0; k < n && cell < 0; k++) {
            unsigned c = (bell.next + k) % n;
            if (bell.rung[c / 64] >> (c % 64) & 1) {
                bell.rung[c / 64] &= ~(1ull << (c % 64));
                bell.next = c + 1;
                cell = (int)c;
            }
        }
        if (cell >= 0 || stopping || pthread_cond_timedwait(&bell.cv, &bell.mu, &until) != 0)
            break;
    }
    for (unsigned c = 0; cell >= 0 && c < n; c++)
        if (bell.rung[c / 64] >> (c % 64) & 1) { /* more: another consumer's turn */
            pthread_cond_signal(&bell.cv);
            break;
        }
    pthread_mutex_unlock(&bell.mu);
    return cell;
}

static void on_ring(const redisReply *m, void *arg)
{
    (void)arg;
    /* ["message", "__keyspace@0__:aa:{ck}:stream:...", "xadd"] */
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 || !m->element[1]->str ||
        !m->element[2]->str || strcmp(m->element[2]->str, "xadd") != 0)
        return;
    const char *key = strstr(m->element[1]->str, "__:");
    int cell = key ? keys_cell_in(key + 3) : -1;
    if (cell >= 0)
        bell_ring((unsigned)cell);
}

/* Listens for entries added to the cells' streams, on every master. Every
 * cell is rung after each (re)subscription and once a second, for anything
 * a lost subscription missed. */
static void *bell_main(void *arg)
{
    const struct wk_opts *o = arg;
    /* one SUBSCRIBE of every cell's stream by name: a pattern would be
     * matched by Redis against every keyspace event of every write */
    size_t cap = 16 + (size_t)keys_cells() * (KEYS_MAX + 20), len = 0;
    char *cmd = xmalloc(cap), name[KEYS_MAX];
    len += (size_t)snprintf(cmd, cap, "SUBSCRIBE");
    for (unsigned c = 0; c < keys_cells(); c++)
        len += (size_t)snprintf(cmd + len, cap - len, " __keyspace@0__:%s",
                                keys_in_cell(name, sizeof(name), o->stream, c));
    const char *cmds[] = {cmd};
    struct rsub *sub = rsub_new(o->redis, cmds, 1);
    int64_t next_all = 0;
    while (!stopping) {
        int fresh = 0;
        rsub_wait(sub, 250, 512, on_ring, NULL, &fresh);
        if (fresh || mono_us() >= next_all) {
            bell_ring_all();
            next_all = mono_us() + 1000000;
        }
    }
    rsub_free(sub);
    free(cmd);
    pthread_mutex_lock(&bell.mu);
    pthread_cond_broadcast(&bell.cv);
    pthread_mutex_unlock(&bell.mu);
    return NULL;
}

/* Runs the entries of one stream reply ([[id, [field, value, ...]], ...])
 * in order (dur_run_entries: their claims, ends and acknowledgements go in
 * batches). Returns: the number of entries. */
static int run_entries(struct rconn *rc, const struct wk_opts *o, const char *stream,
                       const char *consumer, redisReply *entries)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return 0;
    struct dur_entry *e = xcalloc(entries->elements, sizeof(*e));
    size_t n = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *x = entries->element[i];
        /* XAUTOCLAIM gives nil for an entry deleted since its delivery */
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 || !x->element[0]->str)
            continue;
        e[n].id = x->element[0]->str;
        redisReply *f = x->element[1];
        for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
            if (f->element[j]->str && strcmp(f->element[j]->str, "exec") == 0)
                e[n].eid = f->element[j + 1]->str;
        n++;
    }
    dur_run_entries(rc, consumer, o->handlers, &o->limits, stream, o->group, e, n);
    free(e);
    return (int)n;
}

/* Removes stream entries every group has read and acknowledged: below the
 * oldest pending entry and below every group's last delivered id. Job
 * streams are never trimmed by length, so no entry is lost unread. */
static void trim_stream(struct rconn *rc, const char *stream)
{
    char safe[48] = "";
    redisReply *g = rconn_cmd(rc, "XINFO GROUPS %s", stream);
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
        redisReply *p = rconn_cmd(rc, "XPENDING %s %s", stream, name);
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
        redisReply *t = rconn_cmd(rc, "XTRIM %s MINID %s", stream, safe);
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
    /* Entries read are this consumer's until it runs them: the read grows
     * (1, 2, 4 ... DUR_BATCH_MAX) while runs take no time and falls back to
     * one behind a slow run, so that a backlog of slow jobs is shared by
     * every idle consumer, not held by the first to read. */
    int count = 1;
    unsigned cells = keys_cells();
    char stream[KEYS_MAX];
    while (!stopping) {
        /* One cell: block on its stream. Several: read the cell rung. */
        int cell = cells == 1 ? 0 : bell_take(500);
        redisReply *r = NULL;
        if (cell >= 0) {
            keys_in_cell(stream, sizeof(stream), o->stream, (unsigned)cell);
            r = cells == 1 ? rconn_cmd(rc, "XREADGROUP GROUP %s %s COUNT %d BLOCK 500 STREAMS %s >",
                                       o->group, cs->name, count, stream)
                           : rconn_cmd(rc, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s >", o->group,
                                       cs->name, count, stream);
            if (!r) {
                if (cells > 1)
                    bell_ring((unsigned)cell);
                usleep(200000);
                continue;
            }
        }
        if (r && r->type == REDIS_REPLY_ERROR) {
            char err[256];
            log_warn("event=xreadgroup_error stream=%s err=\"%s\"", stream, r->str);
            if (strncmp(r->str, "NOGROUP", 7) == 0)
                ensure_group(rc, o, stream, err, sizeof(err));
            else
                usleep(200000);
            if (cells > 1)
                bell_ring((unsigned)cell);
        } else if (r && r->type == REDIS_REPLY_ARRAY) {
            int64_t t0 = mono_us();
            int n = 0, read = 0;
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2) {
                    redisReply *e = r->element[i]->element[1];
                    read += e->type == REDIS_REPLY_ARRAY ? (int)e->elements : 0;
                    n += run_entries(rc, o, stream, cs->name, e);
                }
            if (cells > 1 && read >= count)
                bell_ring((unsigned)cell); /* a full read: there may be more */
            if (n && mono_us() - t0 < (int64_t)n * DUR_BATCH_FAST_US)
                count = count * 2 > DUR_BATCH_MAX ? DUR_BATCH_MAX : count * 2;
            else if (n)
                count = 1;
        }
        if (r)
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
            for (unsigned c = 0; c < cells; c++) {
                keys_in_cell(stream, sizeof(stream), o->stream, c);
                trim_stream(rc, stream);
            }
            next_trim = now + 5000;
        }
        if (now >= next_claim) {
            /* Entries delivered to a worker that died are taken over. */
            for (unsigned c = 0; c < cells; c++) {
                keys_in_cell(stream, sizeof(stream), o->stream, c);
                r = rconn_cmd(rc, "XAUTOCLAIM %s %s %s %d 0-0 COUNT 16", stream, o->group, cs->name,
                              o->claim_idle_ms);
                if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
                    int n = run_entries(rc, o, stream, cs->name, r->element[1]);
                    if (n) {
                        log_info("event=reclaimed entries=%d consumer=%s stream=%s", n, cs->name,
                                 stream);
                        mx_add(MX_RECLAIMED, (unsigned long long)n);
                    }
                }
                if (r)
                    freeReplyObject(r);
            }
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
    long long len = 0, lag = 0, pending = 0, cbs = 0, timers = 0, execs = 0;
    int ok = 1;
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        char stream[KEYS_MAX];
        keys_in_cell(stream, sizeof(stream), o->stream, cell);
        redisReply *r = rconn_cmd(rc, "XLEN %s", stream);
        if (r && r->type == REDIS_REPLY_INTEGER)
            len += r->integer;
        else
            ok = 0;
        if (r)
            freeReplyObject(r);
        r = rconn_cmd(rc, "XINFO GROUPS %s", stream);
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            redisReply *e = r->element[i];
            int mine = 0;
            long long l = 0, p = 0;
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
                lag += l;
                pending += p;
            }
        }
        if (r)
            freeReplyObject(r);
        const char *zs[] = {KEYS_CB_DEADLINES, KEYS_TIMERS, KEYS_EXEC_DEADLINES};
        long long *out[] = {&cbs, &timers, &execs};
        for (int i = 0; i < 3; i++) {
            char z[KEYS_MAX];
            keys_in_cell(z, sizeof(z), zs[i], cell);
            r = rconn_cmd(rc, "ZCARD %s", z);
            if (r && r->type == REDIS_REPLY_INTEGER)
                *out[i] += r->integer;
            else
                ok = 0;
            if (r)
                freeReplyObject(r);
        }
    }
    if (!ok) /* unreadable: say so, as before, rather than a part */
        len = lag = pending = cbs = timers = execs = -1;
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

int wk_opts_from_cfg(struct wk_opts *o, const struct cfg_opt *tab, const char *prog)
{
    if (log_setup(prog, cfg_str(tab, "log-level"), cfg_str(tab, "log-file")) < 0)
        return -1;
    o->redis = cfg_str(tab, "redis");
    o->cells = (unsigned)cfg_int(tab, "cells");
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
    if (keys_cells_setup(rc, o->cells, err, sizeof(err)) < 0) {
        log_error("event=start_failed err=\"%s\"", err);
        rconn_free(rc);
        return 1;
    }
    for (unsigned c = 0; c < keys_cells(); c++) {
        char stream[KEYS_MAX];
        keys_in_cell(stream, sizeof(stream), o->stream, c);
        if (ensure_group(rc, o, stream, err, sizeof(err)) < 0) {
            log_error("event=start_failed err=\"%s\"", err);
            rconn_free(rc);
            return 1;
        }
    }
    rconn_free(rc);
    struct dur_resumer *resumer = NULL;
    char resumer_name[192];
    snprintf(resumer_name, sizeof(resumer_name), "%s-%s-%d-resumer", o->name, host, (int)getpid());
    if (o->notifications || o->timers) {
        struct dur_resume_opts ro = {
            .redis = o->redis,
            .notifications = o->notifications,
            .timers = o->timers,
            .retention_s = o->limits.retention_s,
            .tag = tag,
            .take = {o->stream, o->group, resumer_name, o->handlers, &o->limits},
        };
        resumer = dur_resumer_start(&ro, err, sizeof(err));
        if (!resumer) {
            log_error("event=start_failed err=\"%s\"", err);
            return 1;
        }
    }
    if (o->metrics_port >= 0) {
        int port = mx_serve(o->metrics_bind, o->metrics_port, o->stream, gauges, (void *)o);
        if (port < 0) {
            log_error("event=start_failed err=\"cannot serve metrics on %s:%d\"", o->metrics_bind,
                      o->metrics_port);
            dur_resumer_stop(resumer);
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
    if (keys_cells() > 1)
        bell.started = pthread_create(&bell.thread, NULL, bell_main, (void *)o) == 0;
    for (int i = 1; i < n; i++)
        if (pthread_create(&cs[i].thread, NULL, consume_main, &cs[i]) != 0)
            cs[i].thread = 0;
    consume_main(&cs[0]);
    log_info("event=worker_stopping consumer=%s", cs[0].name);
    for (int i = 1; i < n; i++)
        if (cs[i].thread)
            pthread_join(cs[i].thread, NULL);
    if (bell.started)
        pthread_join(bell.thread, NULL);
    dur_resumer_stop(resumer);
    mx_stop();
    free(cs);
    log_info("event=worker_stopped");
    return 0;
}
