/* dur.c -- Durable executions: claim, replay against the checkpoint log,
 * suspend or finish; callbacks; the sweep. All multi-key changes are the Lua
 * scripts of lua/. */
#include "dur.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "push.h"
#include "script.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct dur_ctx {
    struct rconn *rc;
    const char *eid, *worker, *session, *trace;
    json_t *ops; /* object: "index" -> recorded operation */
    int next;
    int replay_ops; /* how many operations were recorded when we started */
    int timed_out;
    int64_t retry_after_ms;
    const struct dur_limits *lim;
    /* dur_callback_push on its first run: the callback, its push, the
     * submit record and the suspension wait for the end of the run, where
     * they are one script (cb_suspend.lua) */
    struct {
        int idx;
        char cbid[64], kind[48];
        char *name, *request; /* owned; request NULL: nothing staged */
        int64_t timeout_ms, heartbeat_ms;
    } staged;
    char err[512];
};

const char *dur_exec_id(const struct dur_ctx *ctx)
{
    return ctx->eid;
}

const char *dur_session(const struct dur_ctx *ctx)
{
    return ctx->session;
}

const char *dur_trace(const struct dur_ctx *ctx)
{
    return ctx->trace;
}

struct rconn *dur_rconn(struct dur_ctx *ctx)
{
    return ctx->rc;
}

int dur_replaying(const struct dur_ctx *ctx)
{
    return ctx->next < ctx->replay_ops;
}

void dur_retry_after(struct dur_ctx *ctx, int64_t ms)
{
    ctx->retry_after_ms = ms;
}

int dur_last_timed_out(const struct dur_ctx *ctx)
{
    return ctx->timed_out;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Looks up operation idx. Returns the recorded op (borrowed), NULL when
 * absent; on a type/name mismatch fills ctx->err and sets *bad. */
static json_t *recorded(struct dur_ctx *ctx, int idx, const char *type, const char *name, int *bad)
{
    char key[16];
    snprintf(key, sizeof(key), "%d", idx);
    json_t *op = json_object_get(ctx->ops, key);
    *bad = 0;
    if (!op)
        return NULL;
    const char *t = jstr(op, "t"), *n = jstr(op, "n");
    if (strcmp(t, type) != 0 || (name && strcmp(n, name) != 0)) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "non-deterministic replay: operation %d was %s '%s' but the handler now asks for "
                 "%s '%s'",
                 idx, t, n, type, name ? name : "");
        log_error("event=replay_mismatch exec=%s op=%d recorded=%s/%s wanted=%s/%s", ctx->eid, idx,
                  t, n, type, name ? name : "");
        *bad = 1;
    }
    return op;
}

static int record(struct dur_ctx *ctx, int idx, json_t *op)
{
    char key[16], ekey[256];
    snprintf(key, sizeof(key), "%d", idx);
    keys_exec(ekey, sizeof(ekey), ctx->eid);
    char *txt = json_dumps(op, JSON_COMPACT);
    redisReply *r = rconn_cmd(ctx->rc, "HSET %s op:%s %s", ekey, key, txt);
    free(txt);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        snprintf(ctx->err, sizeof(ctx->err), "cannot record operation %d: %s", idx,
                 rconn_error(ctx->rc));
        return -1;
    }
    json_object_set(ctx->ops, key, op);
    return 0;
}

static int outcome(json_t *op, char **out)
{
    const char *s = jstr(op, "s");
    *out = xstrdup(jstr(op, "r"));
    return strcmp(s, "ok") == 0 ? DUR_OK : DUR_ERROR;
}

static int arm_timer(struct dur_ctx *ctx, int idx, json_t *rec, int64_t due)
{
    char ops[KEYS_MAX], sidx[16], sdue[24];
    keys_exec(ops, sizeof(ops), ctx->eid);
    snprintf(sidx, sizeof(sidx), "%d", idx);
    snprintf(sdue, sizeof(sdue), "%lld", (long long)due);
    json_object_set_new(rec, "due", json_integer(due));
    char *txt = json_dumps(rec, JSON_COMPACT);
    char snow[24];
    snprintf(snow, sizeof(snow), "%lld", (long long)wall_ms());
    const char *args[] = {ops, KEYS_TIMERS, ctx->eid, sidx, txt, sdue, snow};
    redisReply *r = rconn_eval(ctx->rc, "timer_set", 2, 7, args, NULL);
    free(txt);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(ctx->err, sizeof(ctx->err), "cannot arm a timer for operation %d: %s", idx,
                 r && r->str ? r->str : rconn_error(ctx->rc));
    if (r)
        freeReplyObject(r);
    if (ok)
        json_object_set(ctx->ops, sidx, rec);
    return ok ? 0 : -1;
}

static int64_t backoff_ms(const struct dur_retry *p, int attempt)
{
    double d = (double)p->initial_ms;
    for (int i = 1; i < attempt && d < (double)p->max_ms; i++)
        d *= p->rate;
    if (d > (double)p->max_ms)
        d = (double)p->max_ms;
    if (p->jitter) {
        unsigned int r;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (unsigned int)mono_us();
        d = d * ((double)r / 4294967295.0);
    }
    return (int64_t)d;
}

int dur_step_retry(struct dur_ctx *ctx, const char *name, dur_step_cb fn, void *arg,
                   const struct dur_retry *policy, char **out)
{
    int idx = ctx->next++, bad, attempt = 1;
    *out = NULL;
    json_t *op = recorded(ctx, idx, "step", name, &bad);
    if (bad)
        return DUR_FAIL;
    if (op) {
        const char *st = jstr(op, "s");
        if (!strcmp(st, "retry"))
            return DUR_SUSPEND; /* its timer has not fired yet */
        if (strcmp(st, "ready") != 0)
            return outcome(op, out);
        attempt = (int)json_integer_value(json_object_get(op, "a")) + 1;
    }
    char *res = NULL;
    ctx->retry_after_ms = 0;
    int rc = fn(ctx, &res, arg);
    if (rc == DUR_FAIL) {
        free(res);
        return DUR_FAIL;
    }
    int max = policy ? policy->max_attempts : 1;
    if (rc == DUR_ERROR && attempt < max && ctx->retry_after_ms >= 0) {
        int64_t delay = backoff_ms(policy, attempt);
        if (ctx->retry_after_ms > delay)
            delay = ctx->retry_after_ms;
        int64_t due = wall_ms() + delay;
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:i}", "t", "step", "n", name, "s", "retry",
                                "r", res ? res : "", "a", attempt);
        int e = arm_timer(ctx, idx, rec, due);
        json_decref(rec);
        log_info("event=step_retry exec=%s op=%d step=%s attempt=%d due_in_ms=%lld err=\"%s\"",
                 ctx->eid, idx, name, attempt, (long long)(due - wall_ms()), res ? res : "");
        free(res);
        return e < 0 ? DUR_FAIL : DUR_SUSPEND;
    }
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:i}", "t", "step", "n", name, "s",
                            rc == DUR_OK ? "ok" : "fail", "r", res ? res : "", "a", attempt);
    int e = record(ctx, idx, rec);
    json_decref(rec);
    if (e < 0) {
        free(res);
        return DUR_FAIL;
    }
    *out = res ? res : xstrdup("");
    return rc == DUR_OK ? DUR_OK : DUR_ERROR;
}

int dur_step(struct dur_ctx *ctx, const char *name, dur_step_cb fn, void *arg, char **out)
{
    return dur_step_retry(ctx, name, fn, arg, NULL, out);
}

int dur_wait(struct dur_ctx *ctx, const char *name, int64_t ms)
{
    int idx = ctx->next++, bad;
    json_t *op = recorded(ctx, idx, "wait", name, &bad);
    if (bad)
        return DUR_FAIL;
    if (op) {
        if (!strcmp(jstr(op, "s"), "ok"))
            return DUR_OK;
        return wall_ms() >= json_integer_value(json_object_get(op, "due")) ? DUR_OK : DUR_SUSPEND;
    }
    json_t *rec = json_pack("{s:s, s:s, s:s}", "t", "wait", "n", name, "s", "pending");
    int e = arm_timer(ctx, idx, rec, wall_ms() + ms);
    json_decref(rec);
    return e < 0 ? DUR_FAIL : DUR_SUSPEND;
}

int dur_invoke(struct dur_ctx *ctx, const char *name, const char *handler, const char *stream,
               const char *input, char **out)
{
    int idx = ctx->next++, bad;
    *out = NULL;
    json_t *op = recorded(ctx, idx, "invoke", name, &bad);
    if (bad)
        return DUR_FAIL;
    if (op) {
        if (strcmp(jstr(op, "s"), "pending") == 0)
            return DUR_SUSPEND;
        return outcome(op, out);
    }
    char child[192], ops[KEYS_MAX], ckey[KEYS_MAX], sidx[16], now[24], tmo[24];
    snprintf(child, sizeof(child), "%s.%d", ctx->eid, idx);
    keys_exec(ops, sizeof(ops), ctx->eid);
    keys_exec(ckey, sizeof(ckey), child);
    snprintf(sidx, sizeof(sidx), "%d", idx);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)ctx->lim->child_timeout_ms);
    const char *args[] = {ops,          ckey,       stream, child, sidx,     handler, input,
                          ctx->session, ctx->trace, now,    name,  ctx->eid, tmo};
    redisReply *r = rconn_eval(ctx->rc, "invoke", 3, 13, args, NULL);
    int ok = r && r->type == REDIS_REPLY_STATUS ? 1 : r && r->type == REDIS_REPLY_STRING;
    if (!ok)
        snprintf(ctx->err, sizeof(ctx->err), "invoke %s: %s", name,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : rconn_error(ctx->rc));
    if (r)
        freeReplyObject(r);
    if (!ok)
        return DUR_FAIL;
    json_t *rec =
        json_pack("{s:s, s:s, s:s, s:s}", "t", "invoke", "n", name, "s", "pending", "child", child);
    json_object_set_new(ctx->ops, sidx, rec);
    log_info("event=invoke exec=%s trace=%s op=%d child=%s handler=%s", ctx->eid, ctx->trace, idx,
             child, handler);
    return DUR_SUSPEND;
}

void dur_complete_args(struct dur_complete_args *a, const char *cbid, const char *kind,
                       const struct dur_caller *who, const char *payload, size_t len)
{
    keys_cb(a->key, sizeof(a->key), cbid);
    snprintf(a->now, sizeof(a->now), "%lld", (long long)wall_ms());
    const char *v[DUR_COMPLETE_NARGS] = {
        a->key, KEYS_CB_COMPLETED, KEYS_CB_DEADLINES,    cbid, kind, who->session, payload,
        a->now, who->subject,      who->admin ? "1" : ""};
    for (int i = 0; i < DUR_COMPLETE_NARGS; i++) {
        a->argv[i] = v[i];
        a->lens[i] = i == 6 ? len : strlen(v[i]);
    }
}

redisReply *dur_complete_as(struct rconn *rc, const char *cbid, const char *kind,
                            const struct dur_caller *who, const char *payload, size_t len)
{
    struct dur_complete_args a;
    dur_complete_args(&a, cbid, kind, who, payload, len);
    return rconn_eval(rc, "cb_complete", DUR_COMPLETE_NKEYS, DUR_COMPLETE_NARGS, a.argv, a.lens);
}

redisReply *dur_complete(struct rconn *rc, const char *cbid, const char *kind, const char *session,
                         const char *payload, size_t len)
{
    struct dur_caller who = {session, "", 0};
    return dur_complete_as(rc, cbid, kind, &who, payload, len);
}

/* A new callback id, cb-<random>[.<the resumer tag>]. Returns 0 / -1. */
static int new_cbid(struct dur_ctx *ctx, char *out, size_t len)
{
    const char *tag = ctx->lim->cb_tag;
    if (id_random_b64(out, len, "cb-", 12) < 0 ||
        (tag && *tag && strlen(out) + strlen(tag) + 2 > len)) {
        snprintf(ctx->err, sizeof(ctx->err), "cannot make a callback id");
        return -1;
    }
    if (tag && *tag) {
        strcat(out, ".");
        strcat(out, tag);
    }
    return 0;
}

const char *dur_cb_tag(const char *cbid)
{
    const char *dot = strrchr(cbid, '.');
    return dot ? dot + 1 : NULL;
}

int dur_callback(struct dur_ctx *ctx, const char *name, int64_t timeout_ms, int64_t heartbeat_ms,
                 dur_submit_cb submit, void *arg, char **out)
{
    int idx = ctx->next, bad;
    char sidx[16];
    ctx->next += 2; /* the callback, then the submit step */
    ctx->timed_out = 0;
    *out = NULL;
    snprintf(sidx, sizeof(sidx), "%d", idx);
    json_t *op = recorded(ctx, idx, "cb", name, &bad);
    if (bad)
        return DUR_FAIL;
    char cbid[64];
    if (op) {
        strlcpy_aa(cbid, jstr(op, "cb"), sizeof(cbid));
    } else {
        char key[KEYS_MAX], ops[KEYS_MAX], now[24], tmo[24], hb[24];
        if (new_cbid(ctx, cbid, sizeof(cbid)) < 0)
            return DUR_FAIL;
        keys_cb(key, sizeof(key), cbid);
        keys_exec(ops, sizeof(ops), ctx->eid);
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
        snprintf(tmo, sizeof(tmo), "%lld", (long long)timeout_ms);
        snprintf(hb, sizeof(hb), "%lld", (long long)heartbeat_ms);
        const char *args[] = {
            key, ops, KEYS_CB_DEADLINES, cbid, ctx->eid, sidx, ctx->session, now, tmo, hb, name};
        redisReply *r = rconn_eval(ctx->rc, "cb_create", 3, 11, args, NULL);
        int ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
        if (!ok)
            snprintf(ctx->err, sizeof(ctx->err), "create callback %s: %s", name,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : rconn_error(ctx->rc));
        if (r)
            freeReplyObject(r);
        if (!ok)
            return DUR_FAIL;
        op = json_pack("{s:s, s:s, s:s, s:s}", "t", "cb", "n", name, "s", "pending", "cb", cbid);
        json_object_set_new(ctx->ops, sidx, op);
        log_info("event=callback_created exec=%s trace=%s op=%d cb=%s timeout_ms=%lld", ctx->eid,
                 ctx->trace, idx, cbid, (long long)timeout_ms);
    }
    /* The submit step: recorded once, never run again on replay. */
    json_t *sub = recorded(ctx, idx + 1, "submit", name, &bad);
    if (bad)
        return DUR_FAIL;
    if (!sub) {
        char *res = NULL;
        int rc = submit(ctx, cbid, &res, arg);
        if (rc == DUR_FAIL) {
            free(res);
            return DUR_FAIL;
        }
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "t", "submit", "n", name, "s",
                                rc == DUR_OK ? "ok" : "fail", "r", res ? res : "");
        int e = record(ctx, idx + 1, rec);
        json_decref(rec);
        if (e < 0) {
            free(res);
            return DUR_FAIL;
        }
        if (rc != DUR_OK) {
            /* Settle the callback now so nothing waits for an answer that
             * can never come. */
            struct dur_caller runtime = {"", "", 1};
            redisReply *r = dur_complete_as(ctx->rc, cbid, "fail", &runtime, res ? res : "",
                                            res ? strlen(res) : 0);
            if (r)
                freeReplyObject(r);
            *out = res ? res : xstrdup("submit failed");
            return DUR_ERROR;
        }
        free(res);
        sub = json_object_get(ctx->ops, (snprintf(sidx, sizeof(sidx), "%d", idx + 1), sidx));
    }
    if (strcmp(jstr(sub, "s"), "ok") != 0) {
        *out = xstrdup(jstr(sub, "r"));
        return DUR_ERROR;
    }
    const char *s = jstr(op, "s");
    if (strcmp(s, "pending") == 0)
        return DUR_SUSPEND;
    ctx->timed_out = strcmp(s, "timeout") == 0;
    return outcome(op, out);
}

/* Pushes event to the execution's session (lua/push.lua) and logs it. With
 * require_conn, a session without a connection stores nothing and gives
 * DUR_ERROR "client_not_connected". DUR_OK: *result is the event id (owned);
 * DUR_FAIL: Redis failed. */
static int push_now(struct dur_ctx *ctx, const json_t *event, int require_conn, char **result)
{
    char id[64];
    int n = push_event(ctx->rc, ctx->session, event, require_conn, id, sizeof(id));
    const char *kind = json_string_value(json_object_get(event, "event"));
    log_info("event=push exec=%s trace=%s session=%s id=%s kind=%s connections=%d", ctx->eid,
             ctx->trace, ctx->session, id, kind ? kind : jstr(event, "action"), n);
    if (n < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "push: %s", rconn_error(ctx->rc));
        return DUR_FAIL;
    }
    if (n == 0 && require_conn) {
        *result = xstrdup("client_not_connected");
        return DUR_ERROR;
    }
    *result = xstrdup(id);
    return DUR_OK;
}

struct push_arg {
    const json_t *event;
    int require_conn;
};

static int push_body(struct dur_ctx *ctx, char **result, void *arg)
{
    const struct push_arg *pa = arg;
    return push_now(ctx, pa->event, pa->require_conn, result);
}

int dur_push(struct dur_ctx *ctx, const char *name, const json_t *event, int require_conn,
             char **out)
{
    struct push_arg pa = {event, require_conn};
    return dur_step(ctx, name, push_body, &pa, out);
}

/* dur_callback_push's submitter when the callback cannot wait for the end
 * of the run: the request with the callback id, pushed now. */
static int push_submit(struct dur_ctx *ctx, const char *cbid, char **result, void *arg)
{
    json_t *ev = json_deep_copy(arg);
    json_object_set_new(ev, "callback_id", json_string(cbid));
    int rc = push_now(ctx, ev, 1, result);
    json_decref(ev);
    return rc;
}

int dur_callback_push(struct dur_ctx *ctx, const char *name, int64_t timeout_ms,
                      int64_t heartbeat_ms, const json_t *request, char **out)
{
    char sidx[16];
    snprintf(sidx, sizeof(sidx), "%d", ctx->next);
    *out = NULL;
    /* replaying, or a second callback in one run: the operations one by one */
    if (ctx->staged.request || json_object_get(ctx->ops, sidx))
        return dur_callback(ctx, name, timeout_ms, heartbeat_ms, push_submit, (void *)request, out);
    if (new_cbid(ctx, ctx->staged.cbid, sizeof(ctx->staged.cbid)) < 0)
        return DUR_FAIL;
    json_t *ev = json_deep_copy(request);
    json_object_set_new(ev, "callback_id", json_string(ctx->staged.cbid));
    ctx->staged.request = json_dumps(ev, JSON_COMPACT);
    strlcpy_aa(ctx->staged.kind, jstr(ev, "action"), sizeof(ctx->staged.kind));
    json_decref(ev);
    ctx->staged.idx = ctx->next;
    ctx->staged.name = xstrdup(name);
    ctx->staged.timeout_ms = timeout_ms;
    ctx->staged.heartbeat_ms = heartbeat_ms;
    ctx->next += 2; /* the callback, then the submit step */
    ctx->timed_out = 0;
    return DUR_SUSPEND;
}

static void staged_clear(struct dur_ctx *ctx)
{
    free(ctx->staged.name);
    free(ctx->staged.request);
    ctx->staged.name = ctx->staged.request = NULL;
}

/* Evaluates script name with its keys, then the stream of ack's entry (when
 * ack is set: the script acknowledges the entry), its args, then the entry's
 * group and id. Returns: owned reply, or NULL when Redis is unreachable. */
static redisReply *eval_acked(struct rconn *rc, const char *name, const char *const *keys,
                              int nkeys, const char *const *args, int nargs,
                              const struct dur_ack *ack)
{
    const char *a[32];
    int n = 0;
    for (int i = 0; i < nkeys; i++)
        a[n++] = keys[i];
    if (ack)
        a[n++] = ack->stream;
    int k = n;
    for (int i = 0; i < nargs; i++)
        a[n++] = args[i];
    if (ack) {
        a[n++] = ack->group;
        a[n++] = ack->id;
    }
    return rconn_eval(rc, name, k, n, a, NULL);
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
    const char *keys[] = {key};
    const char *args[] = {eid, worker, status, result, now, ret, owner};
    return eval_acked(rc, "exec_finish", keys, 1, args, 7, ack);
}

static int finish(struct rconn *rc, const char *eid, const char *worker, const char *status,
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
    char cbkey[KEYS_MAX], outbox[KEYS_MAX], conns[KEYS_MAX], now[24], sidx[16], tmo[24], hb[24],
        maxlen[16], ttl[16];
    keys_cb(cbkey, sizeof(cbkey), ctx->staged.cbid);
    keys_outbox(outbox, sizeof(outbox), ctx->session);
    keys_session(conns, sizeof(conns), ctx->session, "conns");
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(sidx, sizeof(sidx), "%d", ctx->staged.idx);
    snprintf(tmo, sizeof(tmo), "%lld", (long long)ctx->staged.timeout_ms);
    snprintf(hb, sizeof(hb), "%lld", (long long)ctx->staged.heartbeat_ms);
    snprintf(maxlen, sizeof(maxlen), "%d", PUSH_OUTBOX_MAXLEN);
    snprintf(ttl, sizeof(ttl), "%d", PUSH_OUTBOX_TTL_S);
    const char *keys[] = {key, stream, cbkey, KEYS_CB_DEADLINES, outbox, conns};
    const char *args[] = {ctx->eid,     ctx->worker, now, ctx->staged.cbid, sidx,
                          ctx->session, tmo,         hb,  ctx->staged.name, ctx->staged.request,
                          maxlen,       ttl};
    redisReply *r = eval_acked(ctx->rc, "cb_suspend", keys, 6, args, 12, ack);
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

/* Runs (or replays) execution eid, claimed by worker: r->element[at] is the
 * claim's verdict ("ok" followed by the record's fields and values, or why
 * not). Returns as dur_run. Borrowed: r. */
static int run_claimed(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                       const struct dur_limits *lim, const char *eid, struct dur_ack *ack,
                       const redisReply *r, size_t at)
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
        redisReply *d = rconn_cmd(rc, "XADD aa:stream:dead MAXLEN ~ 10000 * exec %s error %s", eid,
                                  "maximum attempts reached");
        if (d)
            freeReplyObject(d);
        finish(rc, eid, "", "failed", "maximum attempts reached", lim->retention_s, ack);
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
        const char *keys[] = {key, stream}, *args[] = {eid, worker, now2};
        redisReply *x = eval_acked(rc, "exec_suspend", keys, 2, args, 3, ack);
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
        ret = finish(rc, eid, worker, "succeeded", result ? result : "", lim->retention_s, ack);
    } else {
        const char *why = ctx.err[0] ? ctx.err : (result ? result : "handler failed");
        log_warn("event=exec_failed exec=%s handler=%s trace=%s err=\"%s\"", eid, hname, ctx.trace,
                 why);
        ret = finish(rc, eid, worker, "failed", why, lim->retention_s, ack);
    }
    free(result);
    json_decref(ctx.ops);
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
    const char *args[] = {key, worker, now, lease, maxa};
    redisReply *r = rconn_eval(rc, "exec_claim", 1, 5, args, NULL);
    if (!r)
        return -1;
    int ret = run_claimed(rc, worker, handlers, lim, eid, ack, r, 0);
    freeReplyObject(r);
    return ret;
}

/* 1 when a cb_resume.lua reply says it resumed; records the round trip. */
static int count_resumed(const redisReply *r, int cause)
{
    if (!r->str || strncmp(r->str, "resumed", 7) != 0)
        return 0;
    mx_add((enum mx_counter)cause, 1);
    const char *colon = strchr(r->str, ':');
    long long created = colon ? atoll(colon + 1) : 0;
    if (created > 0)
        mx_observe(MX_H_CALLBACK_RT, (double)(wall_ms() - created) / 1000.0);
    return 1;
}

int dur_resume_take(struct rconn *rc, const char *cbid, int64_t retention_s, int cause,
                    const struct dur_take *t)
{
    char key[KEYS_MAX], now[24], ret[24], lease[24] = "", maxa[16] = "";
    if (!id_valid(cbid, 128))
        return 0;
    keys_cb(key, sizeof(key), cbid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    if (t) {
        snprintf(lease, sizeof(lease), "%lld", (long long)t->lim->lease_ms);
        snprintf(maxa, sizeof(maxa), "%d", t->lim->max_attempts);
    }
    const char *args[] = {key,
                          KEYS_CB_COMPLETED,
                          KEYS_CB_DEADLINES,
                          cbid,
                          now,
                          ret,
                          t ? t->stream : NULL,
                          t ? t->group : NULL,
                          t ? t->consumer : NULL,
                          lease,
                          maxa};
    redisReply *r = rconn_eval(rc, "cb_resume", 3, t ? 11 : 6, args, NULL);
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
        struct dur_ack ack = {t->stream, t->group, entry, 0};
        int rc_run = run_claimed(rc, t->consumer, t->handlers, t->lim, eid, &ack, r, 3);
        if (rc_run == 0 && !ack.done) {
            redisReply *a = rconn_cmd(rc, "XACK %s %s %s", t->stream, t->group, entry);
            if (a)
                freeReplyObject(a);
        }
    }
    freeReplyObject(r);
    return resumed;
}

int dur_resume_callback(struct rconn *rc, const char *cbid, int64_t retention_s, int cause)
{
    return dur_resume_take(rc, cbid, retention_s, cause, NULL);
}

int dur_resume_callbacks(struct rconn *rc, const char (*ids)[128], int n, int64_t retention_s,
                         int cause)
{
    if (n == 1)
        return dur_resume_callback(rc, ids[0], retention_s, cause);
    if (rconn_connect(rc, NULL, 0) < 0)
        return -1;
    redisContext *c = rconn_ctx(rc);
    const struct script *s = script_get("cb_resume");
    char now[24], ret[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    int sent = 0, resumed = 0;
    for (int i = 0; i < n; i++) {
        char key[KEYS_MAX];
        if (!id_valid(ids[i], 127))
            continue;
        keys_cb(key, sizeof(key), ids[i]);
        const char *args[] = {key, KEYS_CB_COMPLETED, KEYS_CB_DEADLINES, ids[i], now, ret};
        const char *argv[9];
        size_t lens[9];
        int na = script_argv(s, 0, 3, 6, args, NULL, argv, lens);
        redisAppendCommandArgv(c, na, argv, lens);
        sent++;
    }
    for (int i = 0; i < sent; i++) {
        void *rep;
        if (redisGetReply(c, &rep) != REDIS_OK)
            return -1;
        redisReply *r = rep;
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
            freeReplyObject(r);
            /* the script cache was flushed: fall back to one at a time */
            for (int j = i + 1; j < sent; j++)
                if (redisGetReply(c, &rep) == REDIS_OK)
                    freeReplyObject(rep);
            int total = 0;
            for (int j = 0; j < n; j++)
                total += dur_resume_callback(rc, ids[j], retention_s, cause) > 0;
            return total;
        }
        resumed += count_resumed(r, cause);
        freeReplyObject(r);
    }
    return resumed;
}

/* Resumes the callbacks of a reply (an array of ids), pipelined. */
static int resume_reply(struct rconn *rc, redisReply *r, int64_t retention_s, int cause)
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
    int n = dur_fire_due(rc, retention_s, NULL, MX_RESUME_SWEEP);
    if (n < 0)
        return -1;
    /* settled a while ago and still not handed over: the notification was
     * lost (or nobody was listening) */
    redisReply *r = rconn_cmd(rc, "ZRANGEBYSCORE aa:cb:completed -inf %lld LIMIT 0 1000",
                              (long long)(wall_ms() - min_age_ms));
    if (!r)
        return -1;
    n += resume_reply(rc, r, retention_s, MX_RESUME_SWEEP);
    freeReplyObject(r);
    if (n)
        log_info("event=sweep resumed=%d", n);
    return n;
}

static int fire_list(struct rconn *rc, const char *zset, int64_t now, int64_t retention_s,
                     int cause)
{
    redisReply *r = rconn_cmd(rc, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 500", zset, (long long)now);
    if (!r)
        return -1;
    int n = 0;
    char snow[24], ret[24];
    snprintf(snow, sizeof(snow), "%lld", (long long)now);
    snprintf(ret, sizeof(ret), "%lld", (long long)retention_s);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const char *m = r->element[i]->str;
        if (!strcmp(zset, KEYS_CB_DEADLINES)) {
            continue; /* below, pipelined */
        } else if (!strcmp(zset, KEYS_TIMERS)) {
            const char *args[] = {KEYS_TIMERS, m, snow};
            redisReply *x = rconn_eval(rc, "timer_fire", 1, 3, args, NULL);
            n += x && x->str && !strcmp(x->str, "fired");
            if (x)
                freeReplyObject(x);
        } else {
            char msg[96];
            snprintf(msg, sizeof(msg), "execution timed out");
            log_warn("event=exec_timed_out exec=%s", m);
            mx_add(MX_TIMEOUTS, 1);
            n += finish(rc, m, "", "timed_out", msg, retention_s, NULL) == 0;
        }
    }
    if (!strcmp(zset, KEYS_CB_DEADLINES))
        n += resume_reply(rc, r, retention_s, cause);
    freeReplyObject(r);
    return n;
}

int dur_fire_due(struct rconn *rc, int64_t retention_s, int64_t *next_due_ms, int cause)
{
    static const char *zsets[] = {KEYS_TIMERS, KEYS_CB_DEADLINES, KEYS_EXEC_DEADLINES};
    int64_t now = wall_ms(), next = now + 1000;
    int total = 0;
    for (int i = 0; i < 3; i++) {
        int n = fire_list(rc, zsets[i], now, retention_s, cause);
        if (n < 0)
            return -1;
        total += n;
        redisReply *r = rconn_cmd(rc, "ZRANGE %s 0 0 WITHSCORES", zsets[i]);
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

int dur_start(struct rconn *rc, const char *eid, const char *handler, const char *stream,
              const char *input, const char *session, const char *trace, int64_t timeout_ms)
{
    char key[KEYS_MAX], now[24], tmo[24];
    keys_exec(key, sizeof(key), eid);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)timeout_ms);
    const char *args[] = {key, stream, eid, handler, input, session, trace, now, tmo};
    redisReply *r = rconn_eval(rc, "exec_start", 2, 9, args, NULL);
    int rc_ = r && r->str ? (!strcmp(r->str, "started") ? 0 : 1) : -1;
    if (r)
        freeReplyObject(r);
    return rc_;
}
