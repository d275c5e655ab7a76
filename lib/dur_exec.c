/* dur_exec.c -- The executor: claims an execution, runs or replays its
 * handler against the checkpoint log, and suspends it (exec_suspend.lua, or
 * cb_suspend.lua with the callback the run staged), finishes it or sends it
 * to the dead letters. Starting and cancelling are here too. */
#include "dur_exec.h"
#include "dur_int.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "push.h"
#include "scripts.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void staged_clear(struct dur_ctx *ctx)
{
    free(ctx->staged.name);
    free(ctx->staged.request);
    ctx->staged.name = ctx->staged.request = NULL;
}

/* Runs exec_finish.lua: ends eid with status and result; owner "" or the
 * owner it must have; with ack, the script also acknowledges the stream
 * entry. Returns: owned reply, or NULL when Redis is unreachable. */
static redisReply *eval_finish(struct rconn *rc, const char *eid, const char *worker,
                               const char *status, const char *result, int64_t retention_s,
                               const char *owner, const struct dur_ack *ack)
{
    char key[KEYS_MAX], now[24], ret[24];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    /* with ack, the script also acknowledges the entry (its last arguments) */
    struct scripts_exec_finish a = {.exec = key,
                                    .ack_stream = ack ? ack->stream : NULL,
                                    .eid = eid,
                                    .worker = worker,
                                    .status = status,
                                    .result = result,
                                    .now = now,
                                    .retention_s = ret,
                                    .owner = owner,
                                    .group = ack ? ack->group : NULL,
                                    .entry = ack ? ack->id : NULL};
    return scripts_exec_finish(rc, &a);
}

int dur_exec_finish(struct rconn *rc, const char *eid, const char *worker, const char *status,
                    const char *result, int64_t retention_s, struct dur_ack *ack)
{
    redisReply *r = eval_finish(rc, eid, worker, status, result, retention_s, "", ack);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ERROR)
        log_error("event=exec_finish_failed exec=%s err=\"%s\"", eid, r->str);
    else if (ack)
        ack->done = 1;
    freeReplyObject(r);
    return 0;
}

int dur_cancel(struct rconn *rc, const char *eid, const char *reason, int64_t retention_s)
{
    redisReply *r = eval_finish(rc, eid, "", "cancelled", reason, retention_s, "", NULL);
    if (!r)
        return -1;
    int ok =
        r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING ? !strcmp(r->str, "ok") : -1;
    if (ok == 1)
        log_info("event=exec_cancelled exec=%s", eid);
    freeReplyObject(r);
    return ok;
}

static const struct dur_handler *find_handler(const struct dur_handler *h, const char *name)
{
    for (; h->name; h++)
        if (strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

/* Runs cb_suspend.lua for the staged callback of a run that suspended.
 * Returns 0 done (suspended, queued again, or lost to another worker: the
 * script's verdict is copied into verdict), 1 the session has no connection
 * (the failed operations are recorded: replay), -1 Redis unreachable, -2 an
 * error (ctx->err says which). */
static int run_staged(struct dur_ctx *ctx, const char *key, const char *stream, struct dur_ack *ack,
                      char *verdict_out, size_t verdict_len)
{
    char cbkey[KEYS_MAX], deadlines[KEYS_MAX], outbox[KEYS_MAX], conns[KEYS_MAX], now[24], sidx[16],
        tmo[24], hb[24], maxlen[16], ttl[16];
    keys_cb(cbkey, sizeof(cbkey), ctx->staged.cbid);
    keys_in_cell(deadlines, sizeof(deadlines), KEYS_CB_DEADLINES, keys_cell_of(ctx->staged.cbid));
    keys_outbox(outbox, sizeof(outbox), ctx->session);
    keys_session(conns, sizeof(conns), ctx->session, "conns");
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(sidx, sizeof(sidx), "%d", ctx->staged.idx);
    snprintf(tmo, sizeof(tmo), "%lld", (long long)ctx->staged.timeout_ms);
    snprintf(hb, sizeof(hb), "%lld", (long long)ctx->staged.heartbeat_ms);
    snprintf(maxlen, sizeof(maxlen), "%d", PUSH_OUTBOX_MAXLEN);
    snprintf(ttl, sizeof(ttl), "%d", PUSH_OUTBOX_TTL_S);
    struct scripts_cb_suspend a = {.exec = key,
                                   .stream = stream,
                                   .cb = cbkey,
                                   .deadlines = deadlines,
                                   .outbox = outbox,
                                   .conns = conns,
                                   .ack_stream = ack ? ack->stream : NULL,
                                   .eid = ctx->eid,
                                   .worker = ctx->worker,
                                   .now = now,
                                   .cbid = ctx->staged.cbid,
                                   .op = sidx,
                                   .session = ctx->session,
                                   .timeout_ms = tmo,
                                   .heartbeat_ms = hb,
                                   .name = ctx->staged.name,
                                   .request = ctx->staged.request,
                                   .maxlen = maxlen,
                                   .ttl_s = ttl,
                                   .group = ack ? ack->group : NULL,
                                   .entry = ack ? ack->id : NULL};
    redisReply *r = scripts_cb_suspend(ctx->rc, &a);
    if (!r)
        return -1;
    const char *verdict =
        r->type == REDIS_REPLY_ARRAY && r->elements == 3 ? r->element[0]->str : NULL;
    int ret = 0;
    if (!verdict || !strcmp(verdict, "exists")) {
        snprintf(ctx->err, sizeof(ctx->err), "callback %s: %s", ctx->staged.name,
                 verdict                        ? "the callback id is taken"
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "bad reply from cb_suspend");
        ret = -2;
    } else if (!strcmp(verdict, "not_connected")) {
        const char *name = ctx->staged.name, *why = "client_not_connected";
        json_object_set_new(ctx->ops, sidx,
                            json_pack("{s:s, s:s, s:s, s:s, s:s}", "t", "cb", "n", name, "s",
                                      "fail", "cb", ctx->staged.cbid, "r", why));
        snprintf(sidx, sizeof(sidx), "%d", ctx->staged.idx + 1);
        json_object_set_new(
            ctx->ops, sidx,
            json_pack("{s:s, s:s, s:s, s:s}", "t", "submit", "n", name, "s", "fail", "r", why));
        ret = 1;
    } else {
        strlcpy_aa(verdict_out, verdict, verdict_len);
        if (ack)
            ack->done = 1;
    }
    if (verdict && (!strcmp(verdict, "suspended") || !strcmp(verdict, "requeued")))
        log_info("event=callback_created exec=%s trace=%s op=%d cb=%s timeout_ms=%lld", ctx->eid,
                 ctx->trace, ctx->staged.idx, ctx->staged.cbid, (long long)ctx->staged.timeout_ms);
    if (verdict && strcmp(verdict, "exists") != 0 && strcmp(verdict, "lost") != 0)
        log_info("event=push exec=%s trace=%s session=%s id=%s kind=%s connections=%lld cb=%s "
                 "verdict=%s",
                 ctx->eid, ctx->trace, ctx->session, r->element[1]->str ? r->element[1]->str : "",
                 ctx->staged.kind, r->element[2]->integer, ctx->staged.cbid, verdict);
    freeReplyObject(r);
    return ret;
}

/* The handler a claim reply's record names, or NULL (not claimed, or no
 * such handler here). */
static const struct dur_handler *claimed_handler(const struct dur_handler *handlers,
                                                 const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || !r->elements || !r->element[0]->str ||
        strcmp(r->element[0]->str, "ok") != 0)
        return NULL;
    for (size_t i = 1; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && !strcmp(r->element[i]->str, "handler"))
            return r->element[i + 1]->str ? find_handler(handlers, r->element[i + 1]->str) : NULL;
    return NULL;
}

/* An end whose exec_finish is left to the caller (the batch runner sends it
 * with the next claims). */
struct end {
    const char *eid, *entry; /* borrowed: the stream read's */
    const char *status;      /* static */
    char *result;            /* owned */
    int plain;               /* its record has no parent, lane, notify channel, owner or task ttl */
};

/* dur_exec_claimed, but with end non-NULL a run that succeeded or failed is
 * not ended here: its end is filled in (end->status set) for the caller. */
static int run_claimed(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                       const struct dur_limits *lim, const char *eid, struct dur_ack *ack,
                       const redisReply *r, size_t at, struct end *end)
{
    char key[KEYS_MAX];
    int ret = 0;
    keys_exec(key, sizeof(key), eid);
    if (r->type != REDIS_REPLY_ARRAY || r->elements <= at || !r->element[at]->str) {
        log_error("event=claim_failed exec=%s err=\"%s\"", eid,
                  r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return 0;
    }
    const char *verdict = r->element[at]->str;
    if (strcmp(verdict, "exhausted") == 0) {
        log_error("event=exec_dead_letter exec=%s reason=max_attempts", eid);
        mx_add(MX_DEAD_LETTERS, 1);
        char dead[KEYS_MAX];
        keys_in_cell(dead, sizeof(dead), KEYS_STREAM_DEAD, keys_cell_of(eid));
        redisReply *d = rconn_cmd(rc, "XADD %s MAXLEN ~ 10000 * exec %s error %s", dead, eid,
                                  "maximum attempts reached");
        if (d)
            freeReplyObject(d);
        dur_exec_finish(rc, eid, "", "failed", "maximum attempts reached", lim->retention_s, ack);
        return 0;
    }
    if (strcmp(verdict, "ok") != 0) {
        mx_add(MX_JOBS_SKIPPED, 1);
        log_debug("event=claim_skipped exec=%s verdict=%s", eid, verdict);
        return 0;
    }
    struct dur_ctx ctx = {0};
    ctx.rc = rc;
    ctx.eid = eid;
    ctx.worker = worker;
    ctx.lim = lim;
    ctx.ops = json_object();
    const char *hname = "", *input = "", *stream = "";
    int plain = 1;
    char unreadable[24] = ""; /* the first operation record that is not JSON */
    ctx.session = ctx.trace = "";
    for (size_t i = at + 1; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (!strncmp(k, "op:", 3)) {
            json_t *op = json_loads(v, 0, NULL);
            if (op)
                json_object_set_new(ctx.ops, k + 3, op);
            else if (!unreadable[0])
                strlcpy_aa(unreadable, k, sizeof(unreadable));
        } else if (!strcmp(k, "handler"))
            hname = v;
        else if (!strcmp(k, "input"))
            input = v;
        else if (!strcmp(k, "session"))
            ctx.session = v;
        else if (!strcmp(k, "trace"))
            ctx.trace = v;
        else if (!strcmp(k, "stream"))
            stream = v;
        else if (!strcmp(k, "parent") || !strcmp(k, "lane") || !strcmp(k, "notify") ||
                 !strcmp(k, "owner") || !strcmp(k, "task_ttl_ms"))
            plain = 0; /* fields set at the start only, so still absent at the end */
    }
    ctx.replay_ops = (int)json_object_size(ctx.ops);
    const struct dur_handler *h = find_handler(handlers, hname);
    char *result = NULL;
    int rc_h;
    char staged[16] = ""; /* the verdict of cb_suspend.lua when it ended the run */
    int64_t t0 = mono_us();
    for (int pass = 0;; pass++) {
        if (unreadable[0]) {
            /* replaying without it would redo what it recorded (a push, a
             * callback): fail the execution, loudly */
            snprintf(ctx.err, sizeof(ctx.err), "operation record %s is unreadable (not JSON)",
                     unreadable);
            log_error("event=record_unreadable exec=%s field=%s", eid, unreadable);
            rc_h = DUR_FAIL;
            break;
        }
        if (!h) {
            snprintf(ctx.err, sizeof(ctx.err), "no handler named '%s' on this worker", hname);
            rc_h = DUR_FAIL;
            break;
        }
        rc_h = h->fn(&ctx, input, &result, h->arg);
        if (!ctx.staged.request)
            break;
        if (rc_h != DUR_SUSPEND) {
            log_warn("event=callback_dropped exec=%s op=%d reason=\"the handler did not suspend\"",
                     eid, ctx.staged.idx);
            staged_clear(&ctx);
            break;
        }
        int v = run_staged(&ctx, key, stream, ack, staged, sizeof(staged));
        staged_clear(&ctx);
        if (v != 1) {
            rc_h = v == -2 ? DUR_FAIL : rc_h;
            ret = v == -1 ? -1 : 0;
            break;
        }
        /* no connection: replay at once; the failed callback is recorded */
        free(result);
        result = NULL;
        ctx.next = 0;
        ctx.replay_ops = (int)json_object_size(ctx.ops);
        if (pass == 64) {
            snprintf(ctx.err, sizeof(ctx.err), "too many callbacks without a connection");
            rc_h = DUR_FAIL;
            break;
        }
    }
    long long us = (long long)(mono_us() - t0);
    mx_observe(MX_H_HANDLER, (double)us / 1e6);
    mx_add(rc_h == DUR_SUSPEND ? MX_JOBS_SUSPENDED
           : rc_h == DUR_OK    ? MX_JOBS_SUCCEEDED
                               : MX_JOBS_FAILED,
           1);
    if (rc_h == DUR_SUSPEND && (staged[0] || ret < 0)) {
        log_info("event=exec_suspended exec=%s handler=%s trace=%s ops=%d us=%lld verdict=%s", eid,
                 hname, ctx.trace, ctx.next, us, ret < 0 ? "error" : staged);
    } else if (rc_h == DUR_SUSPEND) {
        char now2[24];
        snprintf(now2, sizeof(now2), "%lld", (long long)wall_ms());
        struct scripts_exec_suspend a = {.exec = key,
                                         .stream = stream,
                                         .ack_stream = ack ? ack->stream : NULL,
                                         .eid = eid,
                                         .worker = worker,
                                         .now = now2,
                                         .group = ack ? ack->group : NULL,
                                         .entry = ack ? ack->id : NULL};
        redisReply *x = scripts_exec_suspend(rc, &a);
        if (x && x->type != REDIS_REPLY_ERROR && ack)
            ack->done = 1;
        log_info("event=exec_suspended exec=%s handler=%s trace=%s ops=%d us=%lld verdict=%s", eid,
                 hname, ctx.trace, ctx.next, us, x && x->str ? x->str : "error");
        if (!x)
            ret = -1;
        if (x)
            freeReplyObject(x);
    } else if (rc_h == DUR_OK) {
        log_info("event=exec_succeeded exec=%s handler=%s trace=%s ops=%d us=%lld", eid, hname,
                 ctx.trace, ctx.next, us);
        if (end) {
            end->plain = plain;
            end->status = "succeeded";
            end->result = result ? result : xstrdup("");
            result = NULL;
        } else {
            ret = dur_exec_finish(rc, eid, worker, "succeeded", result ? result : "",
                                  lim->retention_s, ack);
        }
    } else {
        const char *why = ctx.err[0] ? ctx.err : (result ? result : "handler failed");
        log_warn("event=exec_failed exec=%s handler=%s trace=%s err=\"%s\"", eid, hname, ctx.trace,
                 why);
        if (end) {
            end->plain = plain;
            end->status = "failed";
            end->result = xstrdup(why);
        } else {
            ret = dur_exec_finish(rc, eid, worker, "failed", why, lim->retention_s, ack);
        }
    }
    free(result);
    json_decref(ctx.ops);
    return ret;
}

int dur_exec_claimed(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                     const struct dur_limits *lim, const char *eid, struct dur_ack *ack,
                     const redisReply *r, size_t at)
{
    return run_claimed(rc, worker, handlers, lim, eid, ack, r, at, NULL);
}

/* The ends a batch runner has not sent yet. */
struct batch {
    struct rconn *rc;
    const char *worker, *stream, *group;
    const struct dur_limits *lim;
    struct end ends[DUR_BATCH_MAX];
    int nend;
    int64_t first_end_us; /* when the oldest of them was made */
};

/* Sends the ends waiting in b (exec_batch.lua) and claims the executions of
 * e[0..nclaim). Returns: owned reply, {ends' verdicts, claim reply...}; or
 * NULL when Redis is unreachable or refused (logged; the ends are dropped:
 * their entries stay pending, to be reclaimed). */
static redisReply *batch_send(struct batch *b, const struct dur_entry *e, int nclaim)
{
    const char *items[DUR_BATCH_MAX * 6];
    int n = 0;
    for (int i = 0; i < b->nend; i++) {
        items[n++] = b->ends[i].eid;
        items[n++] = b->ends[i].status;
        items[n++] = b->ends[i].result ? b->ends[i].result : "";
        items[n++] = b->ends[i].entry;
        items[n++] = b->ends[i].plain ? "1" : "";
    }
    for (int i = 0; i < nclaim; i++)
        items[n++] = e[i].eid ? e[i].eid : "";
    char now[24], lease[24], maxa[16], ret[24], nend[16];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(lease, sizeof(lease), "%lld", (long long)b->lim->lease_ms);
    snprintf(maxa, sizeof(maxa), "%d", b->lim->max_attempts);
    snprintf(ret, sizeof(ret), "%lld", (long long)b->lim->retention_s);
    snprintf(nend, sizeof(nend), "%d", b->nend);
    struct scripts_exec_batch a = {.stream = b->stream,
                                   .group = b->group,
                                   .worker = b->worker,
                                   .now = now,
                                   .lease_ms = lease,
                                   .max_attempts = maxa,
                                   .retention_s = ret,
                                   .nend = nend,
                                   .items = items,
                                   .items_n = n};
    redisReply *r = scripts_exec_batch(b->rc, &a);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 + (size_t)nclaim;
    if (!ok)
        log_error("event=exec_batch_failed stream=%s ends=%d claims=%d err=\"%s\"", b->stream,
                  b->nend, nclaim,
                  !r                             ? rconn_error(b->rc)
                  : r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "bad reply");
    for (int i = 0; i < b->nend; i++)
        free(b->ends[i].result);
    b->nend = 0;
    if (!ok && r)
        freeReplyObject(r);
    return ok ? r : NULL;
}

int dur_run_entries(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                    const struct dur_limits *lim, const char *stream, const char *group,
                    const struct dur_entry *e, size_t n)
{
    struct batch b = {.rc = rc, .worker = worker, .stream = stream, .group = group, .lim = lim};
    /* a claim taken ahead is used while it is young, so that a run starts
     * with at least 90% of its lease, as one claimed at its start does */
    int64_t stale_us = (lim->lease_ms < 10000 ? lim->lease_ms / 10 : 1000) * 1000;
    size_t nh = 0;
    while (handlers[nh].name)
        nh++;
    /* the handlers that ran in no time here: ends wait only for those */
    unsigned char *fast = xcalloc(nh + 1, 1);
    int last_fast = 1, ret = 0;
    redisReply *cur = NULL; /* the claims of e[base .. base + k) */
    size_t base = 0, k = 0;
    int64_t claimed_us = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t now = mono_us();
        int have = cur && i < base + k && now - claimed_us <= stale_us;
        const redisReply *cl = have ? cur->element[1 + i - base] : NULL;
        const struct dur_handler *h = cl ? claimed_handler(handlers, cl) : NULL;
        int wait = b.nend && (!h || !fast[h - handlers] ||
                              now - b.first_end_us > DUR_BATCH_DELAY_US || b.nend == DUR_BATCH_MAX);
        if (!have || wait) {
            /* claim ahead only behind runs that take no time: a slow run
             * ages the claims that wait for it */
            size_t want = have ? 0 : last_fast ? n - i : 1;
            if (want > DUR_BATCH_MAX)
                want = DUR_BATCH_MAX;
            redisReply *r = batch_send(&b, e + i, (int)want);
            if (!r) {
                ret = -1;
                break;
            }
            if (want) {
                if (cur)
                    freeReplyObject(cur);
                cur = r;
                base = i;
                k = want;
                claimed_us = mono_us();
                cl = cur->element[1];
                h = claimed_handler(handlers, cl);
            } else {
                freeReplyObject(r);
            }
        }
        struct dur_ack ack = {stream, group, e[i].id, 0};
        struct end end = {e[i].eid, e[i].id, NULL, NULL, 0};
        int64_t t0 = mono_us();
        int rv = e[i].eid ? run_claimed(rc, worker, handlers, lim, e[i].eid, &ack, cl, 0, &end) : 0;
        last_fast = mono_us() - t0 < DUR_BATCH_FAST_US;
        if (h)
            fast[h - handlers] = (unsigned char)last_fast;
        if (rv < 0) {
            free(end.result);
            ret = -1;
            break;
        }
        if (!ack.done) {
            /* not ended by its run (a suspension acknowledges its entry
             * itself): an end to send, or an entry to acknowledge only */
            if (!end.status)
                end.status = "";
            if (!b.nend)
                b.first_end_us = mono_us();
            b.ends[b.nend++] = end;
        }
    }
    if (b.nend) {
        /* also after a run that could not reach Redis: these runs ended,
         * and a failure may have been brief */
        redisReply *r = batch_send(&b, NULL, 0);
        if (r)
            freeReplyObject(r);
        else
            ret = -1;
    }
    if (cur)
        freeReplyObject(cur);
    free(fast);
    return ret;
}

int dur_run(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
            const struct dur_limits *lim, const char *eid, struct dur_ack *ack)
{
    char key[KEYS_MAX], now[24], lease[24], maxa[16];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(lease, sizeof(lease), "%lld", (long long)lim->lease_ms);
    snprintf(maxa, sizeof(maxa), "%d", lim->max_attempts);
    struct scripts_exec_claim a = {
        .exec = key, .worker = worker, .now = now, .lease_ms = lease, .max_attempts = maxa};
    redisReply *r = scripts_exec_claim(rc, &a);
    if (!r)
        return -1;
    int ret = dur_exec_claimed(rc, worker, handlers, lim, eid, ack, r, 0);
    freeReplyObject(r);
    return ret;
}

int dur_start(struct rconn *rc, const char *eid, const char *handler, const char *stream,
              const char *input, const char *session, const char *trace, int64_t timeout_ms)
{
    char key[KEYS_MAX], now[24], tmo[24];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)timeout_ms);
    struct scripts_exec_start a = {.exec = key,
                                   .stream = stream,
                                   .eid = eid,
                                   .handler = handler,
                                   .input = input,
                                   .session = session,
                                   .trace = trace,
                                   .now = now,
                                   .timeout_ms = tmo};
    redisReply *r = scripts_exec_start(rc, &a);
    int rc_ = r && r->str ? (!strcmp(r->str, "started") ? 0 : 1) : -1;
    if (r)
        freeReplyObject(r);
    return rc_;
}
