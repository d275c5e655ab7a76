/* dur_resume.c -- The resumer: hands suspended executions back when what
 * they wait for has happened (see dur_resume.h for the three paths), and
 * the two threads that drive it in a worker process. */
#include "dur_resume.h"
#include "dur_exec.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "rsub.h"
#include "script.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static enum mx_counter cause_counter(enum dur_cause c)
{
    return c == DUR_BY_NOTIFICATION ? MX_RESUME_NOTIFICATION
           : c == DUR_BY_TIMER      ? MX_RESUME_TIMER
                                    : MX_RESUME_SWEEP;
}

const char *dur_cb_tag(const char *cbid)
{
    const char *dot = strrchr(cbid, '.');
    return dot ? dot + 1 : NULL;
}

/* 1 when a cb_resume.lua reply says it resumed; records the round trip. */
static int count_resumed(const redisReply *r, enum dur_cause cause)
{
    if (!r->str || strncmp(r->str, "resumed", 7) != 0)
        return 0;
    mx_add(cause_counter(cause), 1);
    const char *colon = strchr(r->str, ':');
    long long created = colon ? atoll(colon + 1) : 0;
    if (created > 0)
        mx_observe(MX_H_CALLBACK_RT, (double)(wall_ms() - created) / 1000.0);
    return 1;
}

int dur_resume_take(struct rconn *rc, const char *cbid, int64_t retention_s, enum dur_cause cause,
                    const struct dur_take *t)
{
    char key[KEYS_MAX], completed[KEYS_MAX], deadlines[KEYS_MAX], stream[KEYS_MAX], now[24],
        ret[24], lease[24] = "", maxa[16] = "";
    if (!id_valid(cbid, 128))
        return 0;
    unsigned cell = keys_cell_of(cbid);
    keys_cb(key, sizeof(key), cbid);
    keys_in_cell(completed, sizeof(completed), KEYS_CB_COMPLETED, cell);
    keys_in_cell(deadlines, sizeof(deadlines), KEYS_CB_DEADLINES, cell);
    if (t)
        keys_in_cell(stream, sizeof(stream), t->stream, cell);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    if (t) {
        snprintf(lease, sizeof(lease), "%lld", (long long)t->lim->lease_ms);
        snprintf(maxa, sizeof(maxa), "%d", t->lim->max_attempts);
    }
    /* with t, the take's arguments: the script also claims the continuation */
    struct scripts_cb_resume a = {.cb = key,
                                  .completed = completed,
                                  .deadlines = deadlines,
                                  .cbid = cbid,
                                  .now = now,
                                  .retention_s = ret,
                                  .stream = t ? stream : NULL,
                                  .group = t ? t->group : NULL,
                                  .consumer = t ? t->consumer : NULL,
                                  .lease_ms = t ? lease : NULL,
                                  .max_attempts = t ? maxa : NULL};
    redisReply *r = scripts_cb_resume(rc, &a);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        int resumed = count_resumed(r, cause);
        if (r->type == REDIS_REPLY_ERROR)
            log_error("event=cb_resume_failed cb=%s err=\"%s\"", cbid, r->str);
        else
            log_debug("event=cb_resume cb=%s verdict=%s", cbid, r->str ? r->str : "?");
        freeReplyObject(r);
        return resumed;
    }
    int resumed = r->elements >= 4 && count_resumed(r->element[0], cause);
    if (r->elements >= 4 && r->element[1]->str && r->element[2]->str) {
        /* the continuation was taken: run it here, as a consumer would */
        char entry[64], eid[128];
        strlcpy_aa(entry, r->element[1]->str, sizeof(entry));
        strlcpy_aa(eid, r->element[2]->str, sizeof(eid));
        struct dur_ack ack = {stream, t->group, entry, 0};
        int rc_run = dur_exec_claimed(rc, t->consumer, t->handlers, t->lim, eid, &ack, r, 3);
        if (rc_run == 0 && !ack.done) {
            redisReply *a = rconn_cmd(rc, "XACK %s %s %s", stream, t->group, entry);
            if (a)
                freeReplyObject(a);
        }
    }
    freeReplyObject(r);
    return resumed;
}

int dur_resume_callback(struct rconn *rc, const char *cbid, int64_t retention_s,
                        enum dur_cause cause)
{
    return dur_resume_take(rc, cbid, retention_s, cause, NULL);
}

int dur_resume_callbacks(struct rconn *rc, const char (*ids)[128], int n, int64_t retention_s,
                         enum dur_cause cause)
{
    if (n == 1)
        return dur_resume_callback(rc, ids[0], retention_s, cause);
    if (rconn_connect(rc, NULL, 0) < 0)
        return -1;
    /* One pipeline per node: each callback's script goes to the master of
     * its cell (on one Redis, the one connection); replies come back in
     * order on each. What a node refuses (moved, cluster down, script
     * cache flushed) is resumed again one at a time, routed. */
    const struct script *s = script_get("cb_resume");
    char now[24], ret[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    redisContext **to = xcalloc((size_t)n, sizeof(*to));
    char *routed = xcalloc((size_t)n, 1); /* 1: not sent in a pipeline, resume it alone */
    int resumed = 0;
    for (int i = 0; i < n; i++) {
        char key[KEYS_MAX];
        if (!id_valid(ids[i], 127))
            continue;
        char completed[KEYS_MAX], deadlines[KEYS_MAX];
        keys_cb(key, sizeof(key), ids[i]);
        keys_in_cell(completed, sizeof(completed), KEYS_CB_COMPLETED, keys_cell_of(ids[i]));
        keys_in_cell(deadlines, sizeof(deadlines), KEYS_CB_DEADLINES, keys_cell_of(ids[i]));
        struct scripts_cb_resume a = {.cb = key,
                                      .completed = completed,
                                      .deadlines = deadlines,
                                      .cbid = ids[i],
                                      .now = now,
                                      .retention_s = ret};
        struct scripts_call call;
        scripts_cb_resume_pack(&call, &a);
        const char *argv[SCRIPTS_MAX_ARGS + 3];
        size_t lens[SCRIPTS_MAX_ARGS + 3];
        int na = script_argv(s, 0, call.nkeys, call.n, call.v, call.l, argv, lens);
        to[i] = rconn_ctx_for(rc, key);
        if (!to[i] || redisAppendCommandArgv(to[i], na, argv, lens) != REDIS_OK) {
            to[i] = NULL;
            routed[i] = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        void *rep = NULL;
        if (to[i] && redisGetReply(to[i], &rep) != REDIS_OK) {
            resumed = -1; /* that node's connection broke: the sweep resumes the rest */
            for (int j = n - 1; j >= i; j--)
                if (to[j] == to[i])
                    to[j] = NULL;
            continue;
        }
        redisReply *r = rep;
        if (r && r->type != REDIS_REPLY_ERROR) {
            if (resumed >= 0)
                resumed += count_resumed(r, cause);
        } else if (r || routed[i]) { /* refused, or not sent: again, routed */
            int k = dur_resume_callback(rc, ids[i], retention_s, cause);
            if (resumed >= 0 && k > 0)
                resumed += k;
        }
        if (r)
            freeReplyObject(r);
    }
    free(routed);
    free(to);
    return resumed;
}

/* Resumes the callbacks of a reply (an array of ids), pipelined. */
static int resume_reply(struct rconn *rc, redisReply *r, int64_t retention_s, enum dur_cause cause)
{
    int n = 0, k = 0;
    char(*ids)[128] = xmalloc(sizeof(*ids) * 256);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (!r->element[i]->str || strlen(r->element[i]->str) >= 128)
            continue;
        strcpy(ids[k++], r->element[i]->str);
        if (k == 256) {
            int x = dur_resume_callbacks(rc, (const char(*)[128])ids, k, retention_s, cause);
            n += x > 0 ? x : 0;
            k = 0;
        }
    }
    if (k) {
        int x = dur_resume_callbacks(rc, (const char(*)[128])ids, k, retention_s, cause);
        n += x > 0 ? x : 0;
    }
    free(ids);
    return n;
}

int dur_sweep(struct rconn *rc, int64_t retention_s, int64_t min_age_ms)
{
    int n = dur_fire_due(rc, retention_s, NULL, DUR_BY_SWEEP);
    if (n < 0)
        return -1;
    /* settled a while ago and still not handed over: the notification was
     * lost (or nobody was listening) */
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        char completed[KEYS_MAX];
        keys_in_cell(completed, sizeof(completed), KEYS_CB_COMPLETED, cell);
        redisReply *r = rconn_cmd(rc, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 1000", completed,
                                  (long long)(wall_ms() - min_age_ms));
        if (!r)
            return -1;
        n += resume_reply(rc, r, retention_s, DUR_BY_SWEEP);
        freeReplyObject(r);
    }
    if (n)
        log_info("event=sweep resumed=%d", n);
    return n;
}

/* The three sorted sets of due times, in each cell. */
enum due_kind { DUE_TIMERS, DUE_CALLBACKS, DUE_EXECUTIONS, DUE_KINDS };
static const char *const due_sets[DUE_KINDS] = {KEYS_TIMERS, KEYS_CB_DEADLINES,
                                                KEYS_EXEC_DEADLINES};

static int fire_list(struct rconn *rc, enum due_kind kind, const char *zset, int64_t now,
                     int64_t retention_s, enum dur_cause cause)
{
    redisReply *r = rconn_cmd(rc, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 500", zset, (long long)now);
    if (!r)
        return -1;
    int n = 0;
    char snow[24], ret[24];
    snprintf(snow, sizeof(snow), "%lld", (long long)now);
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    for (size_t i = 0; kind != DUE_CALLBACKS && r->type == REDIS_REPLY_ARRAY && i < r->elements;
         i++) {
        const char *m = r->element[i]->str;
        if (kind == DUE_TIMERS) {
            struct scripts_timer_fire a = {.timers = zset, .member = m, .now = snow};
            redisReply *x = scripts_timer_fire(rc, &a);
            n += x && x->str && !strcmp(x->str, "fired");
            if (x)
                freeReplyObject(x);
        } else {
            char msg[96];
            snprintf(msg, sizeof(msg), "execution timed out");
            log_warn("event=exec_timed_out exec=%s", m);
            mx_add(MX_TIMEOUTS, 1);
            n += dur_exec_finish(rc, m, "", "timed_out", msg, retention_s, NULL) == 0;
        }
    }
    if (kind == DUE_CALLBACKS) /* pipelined */
        n += resume_reply(rc, r, retention_s, cause);
    freeReplyObject(r);
    return n;
}

int dur_fire_due(struct rconn *rc, int64_t retention_s, int64_t *next_due_ms, enum dur_cause cause)
{
    int64_t now = wall_ms(), next = now + 1000;
    int total = 0;
    for (unsigned cell = 0; cell < keys_cells(); cell++)
        for (int i = 0; i < DUE_KINDS; i++) {
            char zset[KEYS_MAX];
            keys_in_cell(zset, sizeof(zset), due_sets[i], cell);
            int n = fire_list(rc, (enum due_kind)i, zset, now, retention_s, cause);
            if (n < 0)
                return -1;
            total += n;
            redisReply *r = rconn_cmd(rc, "ZRANGE %s 0 0 WITHSCORES", zset);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
                int64_t due = atoll(r->element[1]->str);
                if (due < next)
                    next = due;
            }
            if (r)
                freeReplyObject(r);
        }
    if (next_due_ms)
        *next_due_ms = next;
    return total;
}

/* Execution records keep their checkpoint log in the same hash; with JSON
 * operation records above Redis's default 64-byte listpack value limit the
 * hash would be converted to a (much larger) hash table. */
static void ensure_listpack_value(redisContext *c, const char *addr)
{
    redisReply *r = redisCommand(c, "CONFIG GET hash-max-listpack-value");
    long long have = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str)
        have = atoll(r->element[1]->str);
    if (r)
        freeReplyObject(r);
    if (have >= 512)
        return;
    r = redisCommand(c, "CONFIG SET hash-max-listpack-value 512");
    if (r && r->type != REDIS_REPLY_ERROR)
        log_warn("event=redis_config_set addr=%s hash-max-listpack-value=512 was=%lld", addr, have);
    else
        log_warn("event=redis_config addr=%s hash-max-listpack-value=%lld note=\"set it to 512 in "
                 "redis.conf: execution records use about 3x more memory below that\"",
                 addr, have);
    if (r)
        freeReplyObject(r);
}

/* The settings of one Redis (one master of a cluster: keyspace events are
 * each node's own). */
static int configure_node(redisContext *c, const char *addr, char *err, size_t errlen)
{
    ensure_listpack_value(c, addr);
    redisReply *r = redisCommand(c, "CONFIG GET notify-keyspace-events");
    if (!r) {
        snprintf(err, errlen, "%s: %s", addr, c->errstr);
        return -1;
    }
    char have[64] = "";
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str)
        strlcpy_aa(have, r->element[1]->str, sizeof(have));
    freeReplyObject(r);
    /* keyevents of hash commands (a callback's completion is its HINCRBY);
     * 'A' is an alias for "g$lshzxet", which covers h */
    int ok = strchr(have, 'E') && (strchr(have, 'h') || strchr(have, 'A'));
    if (ok)
        return 0;
    r = redisCommand(c, "CONFIG SET notify-keyspace-events %s", "KEA");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen,
                 "Redis %s has notify-keyspace-events='%s' but the runtime needs 'KEA' (or at "
                 "least 'Eh'), and CONFIG SET failed: %s; set it in redis.conf",
                 addr, have, r ? r->str : c->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    log_warn("event=redis_config_set addr=%s notify-keyspace-events=KEA was=\"%s\"", addr, have);
    return 0;
}

int dur_resume_configure(struct rconn *c, char *err, size_t errlen)
{
    size_t n = rconn_masters(c);
    for (size_t i = 0; i < n; i++) {
        const char *addr = NULL;
        redisContext *ctx = rconn_master_ctx(c, i, &addr);
        if (!ctx) {
            snprintf(err, errlen, "%s", rconn_error(c));
            return -1;
        }
        if (configure_node(ctx, addr ? addr : "?", err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The channel that names answered callbacks: keyevents of HINCRBY in the
 * database the connection uses. */
#define COMPLETION_CHANNEL_FMT "__keyevent@%d__:hincrby"

static int is_completion_channel(const char *ch)
{
    int db, n = 0;
    return sscanf(ch, "__keyevent@%d__:hincrby%n", &db, &n) == 1 && n > 0 && ch[n] == '\0';
}

enum dur_notice dur_notice_parse(const redisReply *r, char *text, size_t len)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || len == 0)
        return DUR_NOTICE_OTHER;
    const redisReply *kind = r->element[0], *ch = r->element[1], *msg = r->element[2];
    if (kind->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING ||
        msg->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0 || msg->len >= len ||
        strlen(msg->str) != msg->len)
        return DUR_NOTICE_OTHER;
    if (is_completion_channel(ch->str)) {
        const char *cbid = keys_id_of(msg->str, "cb:");
        if (!cbid)
            return DUR_NOTICE_OTHER;
        memcpy(text, cbid, strlen(cbid) + 1);
        return DUR_NOTICE_COMPLETION;
    }
    if (!strcmp(ch->str, KEYS_RESUMERS_GONE)) {
        if (!id_valid(msg->str, 7))
            return DUR_NOTICE_OTHER;
        memcpy(text, msg->str, msg->len + 1);
        return DUR_NOTICE_DEPARTURE;
    }
    if (!strcmp(ch->str, KEYS_TIMERS_SOON)) {
        memcpy(text, msg->str, msg->len + 1);
        return DUR_NOTICE_SOON;
    }
    return DUR_NOTICE_OTHER;
}

/* How many departed workers' tags a resumer remembers. */
#define GONE_TAGS 64

/* A thread with its own subscriptions (lib/rsub); it sees `stopping` within
 * one wait of rsub_wait. */
struct listener {
    struct dur_resumer *r;
    pthread_t thread;
    int started;
};

struct dur_resumer {
    struct dur_resume_opts o;
    char tag[8];
    int db; /* the database whose keyevents name completions */
    atomic_int stopping;
    struct listener notify, timers;
    char gone[GONE_TAGS][8]; /* tags of resumers that have left (a ring) */
    unsigned ngone;
};

/* 1 when this resumer acts on the completion of callback cbid: one it made,
 * an untagged one, or one made by a resumer that has left. */
static int ours(const struct dur_resumer *r, const char *cbid)
{
    const char *tag = dur_cb_tag(cbid);
    if (!tag || !r->tag[0] || !strcmp(tag, r->tag))
        return 1;
    for (int i = 0; i < GONE_TAGS; i++)
        if (!strcmp(r->gone[i], tag))
            return 1;
    return 0;
}

/* Completions: every resumer hears every completion and acts only on the
 * callbacks created in its own process: one resume per completion however
 * many workers run. A lone completion is resumed and its continuation run
 * on this thread (dur_resume_take); events that arrive together are resumed
 * in one pipeline and left to the consumer threads. After a departure the
 * callbacks of the one that left are ours too, and what it had not resumed
 * is swept at once. A worker that crashed says nothing: the timers and the
 * sweep catch its callbacks. */
struct notices {
    struct dur_resumer *r;
    char (*ids)[128];
    int n, gone;
};

static void on_notice(const redisReply *rep, void *arg)
{
    struct notices *x = arg;
    struct dur_resumer *r = x->r;
    char text[128];
    enum dur_notice k = dur_notice_parse(rep, text, sizeof(text));
    if (k == DUR_NOTICE_COMPLETION && ours(r, text)) {
        strcpy(x->ids[x->n++], text);
    } else if (k == DUR_NOTICE_COMPLETION) {
        log_debug("event=completion_left cb=%s reason=another_resumer", text);
    } else if (k == DUR_NOTICE_DEPARTURE && strcmp(text, r->tag) != 0) {
        for (int i = 0; i < GONE_TAGS; i++)
            if (!strcmp(r->gone[i], text))
                return; /* heard already (a cluster: once from each master) */
        strlcpy_aa(r->gone[r->ngone++ % GONE_TAGS], text, sizeof(r->gone[0]));
        log_info("event=resumer_gone tag=%s", text);
        x->gone = 1;
    }
}

static void *notify_main(void *arg)
{
    struct dur_resumer *r = arg;
    struct rconn *cmd = rconn_new(r->o.redis);
    char channel[64], sub_completions[96], sub_gone[96];
    snprintf(channel, sizeof(channel), COMPLETION_CHANNEL_FMT, r->db);
    snprintf(sub_completions, sizeof(sub_completions), "SUBSCRIBE %s", channel);
    snprintf(sub_gone, sizeof(sub_gone), "SUBSCRIBE %s", KEYS_RESUMERS_GONE);
    const char *const cmds[] = {sub_completions, sub_gone};
    const struct dur_take *take = r->o.take.handlers ? &r->o.take : NULL;
    int64_t ret = r->o.retention_s;
    enum { BATCH = 256 };
    struct notices x = {r, xmalloc(sizeof(*x.ids) * BATCH), 0, 0};
    /* keyspace events are each master's own: a subscription on every one */
    struct rsub *sub = rsub_new(r->o.redis, cmds, 2);
    while (!atomic_load(&r->stopping)) {
        int fresh = 0;
        x.n = x.gone = 0;
        rsub_wait(sub, 200, BATCH, on_notice, &x, &fresh);
        if (fresh) {
            log_info("event=notifications_listening channel=%s", channel);
            dur_sweep(cmd, ret, 0); /* what settled while we were away */
        }
        if (x.n == 1 && take)
            dur_resume_take(cmd, x.ids[0], ret, DUR_BY_NOTIFICATION, take);
        else if (x.n)
            dur_resume_callbacks(cmd, (const char(*)[128])x.ids, x.n, ret, DUR_BY_NOTIFICATION);
        if (x.gone) /* what the one that left had not resumed */
            dur_sweep(cmd, ret, 0);
    }
    rsub_free(sub);
    free(x.ids);
    rconn_free(cmd);
    return NULL;
}

static void on_soon(const redisReply *rep, void *arg)
{
    int64_t *first = arg;
    char text[32];
    if (dur_notice_parse(rep, text, sizeof(text)) == DUR_NOTICE_SOON) {
        int64_t at = atoll(text);
        *first = at < *first ? at : *first;
    }
}

/* Timers: sleeps until the earliest deadline, a second at most between
 * passes, and wakes early when a deadline due sooner than that is added
 * (KEYS_TIMERS_SOON). A later deadline wakes nobody; the next pass finds it
 * in time. */
static void *timer_main(void *arg)
{
    struct dur_resumer *r = arg;
    struct rconn *cmd = rconn_new(r->o.redis);
    const char *const cmds[] = {"SUBSCRIBE " KEYS_TIMERS_SOON};
    struct rsub *sub = rsub_new(r->o.redis, cmds, 1);
    while (!atomic_load(&r->stopping)) {
        int64_t next = 0;
        if (dur_fire_due(cmd, r->o.retention_s, &next, DUR_BY_TIMER) < 0)
            next = wall_ms() + 200;
        for (int64_t left; !atomic_load(&r->stopping) && (left = next - wall_ms()) > 0;) {
            int64_t first = INT64_MAX;
            int fresh = 0;
            rsub_wait(sub, (int)(left > 200 ? 200 : left), 64, on_soon, &first, &fresh);
            if (fresh)
                log_info("event=timers_armed");
            if (first < next || fresh)
                break;
        }
    }
    rsub_free(sub);
    rconn_free(cmd);
    return NULL;
}

/* The database of rc's connection (CLIENT INFO's db=), 0 when unknown. */
static int connection_db(struct rconn *rc)
{
    redisReply *rep = rconn_cmd(rc, "CLIENT INFO");
    int db = 0;
    const char *at = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, " db=") : NULL;
    if (at)
        db = atoi(at + 4);
    if (rep)
        freeReplyObject(rep);
    return db;
}

static void stop_listener(struct listener *l)
{
    if (!l->started)
        return;
    pthread_join(l->thread, NULL);
    l->started = 0;
}

struct dur_resumer *dur_resumer_start(const struct dur_resume_opts *o, char *err, size_t errlen)
{
    struct dur_resumer *r = xcalloc(1, sizeof(*r));
    r->o = *o;
    if (o->tag)
        strlcpy_aa(r->tag, o->tag, sizeof(r->tag));
    atomic_init(&r->stopping, 0);
    r->notify.r = r->timers.r = r;
    struct rconn *rc = rconn_new(o->redis);
    if (rconn_connect(rc, err, errlen) < 0 || dur_resume_configure(rc, err, errlen) < 0)
        goto fail;
    r->db = connection_db(rc);
    rconn_free(rc);
    rc = NULL;
    if (o->notifications &&
        !(r->notify.started = pthread_create(&r->notify.thread, NULL, notify_main, r) == 0)) {
        snprintf(err, errlen, "cannot start the notification thread");
        goto fail;
    }
    if (o->timers &&
        !(r->timers.started = pthread_create(&r->timers.thread, NULL, timer_main, r) == 0)) {
        snprintf(err, errlen, "cannot start the timer thread");
        goto fail;
    }
    return r;
fail:
    rconn_free(rc);
    dur_resumer_stop(r);
    return NULL;
}

void dur_resumer_stop(struct dur_resumer *r)
{
    if (!r)
        return;
    atomic_store(&r->stopping, 1);
    int handed = r->notify.started && r->tag[0];
    stop_listener(&r->notify);
    if (handed) {
        /* from now on the other resumers take the callbacks made here */
        struct rconn *bye = rconn_new(r->o.redis);
        redisReply *rep = rconn_cmd(bye, "PUBLISH %s %s", KEYS_RESUMERS_GONE, r->tag);
        log_info("event=resumer_leaving tag=%s told=%lld", r->tag,
                 rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1LL);
        if (rep)
            freeReplyObject(rep);
        rconn_free(bye);
    }
    stop_listener(&r->timers);
    free(r);
}
