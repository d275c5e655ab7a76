/* dur.c -- The operations of the durable runtime, as a handler calls them:
 * steps (with retries), durable timers, child executions, callbacks and
 * pushes, each recorded in the checkpoint log or replayed from it. The
 * executor that runs handlers is dur_exec.c; the resumer is dur_resume.c. */
#include "dur.h"
#include "dur_int.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "push.h"
#include "scripts.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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
    char ops[KEYS_MAX], timers[KEYS_MAX], sidx[16], sdue[24];
    keys_exec(ops, sizeof(ops), ctx->eid);
    keys_in_cell(timers, sizeof(timers), KEYS_TIMERS, keys_cell_of(ctx->eid));
    snprintf(sidx, sizeof(sidx), "%d", idx);
    snprintf(sdue, sizeof(sdue), "%lld", (long long)due);
    json_object_set_new(rec, "due", json_integer(due));
    char *txt = json_dumps(rec, JSON_COMPACT);
    char snow[24];
    snprintf(snow, sizeof(snow), "%lld", (long long)wall_ms());
    struct scripts_timer_set a = {.exec = ops,
                                  .timers = timers,
                                  .eid = ctx->eid,
                                  .op = sidx,
                                  .record = txt,
                                  .due = sdue,
                                  .now = snow};
    redisReply *r = scripts_timer_set(ctx->rc, &a);
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
    char child[192], ops[KEYS_MAX], ckey[KEYS_MAX], cstream[KEYS_MAX], sidx[16], now[24], tmo[24];
    snprintf(child, sizeof(child), "%s.%d", ctx->eid, idx); /* in the parent's cell */
    keys_exec(ops, sizeof(ops), ctx->eid);
    keys_exec(ckey, sizeof(ckey), child);
    keys_in_cell(cstream, sizeof(cstream), stream, keys_cell_of(ctx->eid));
    snprintf(sidx, sizeof(sidx), "%d", idx);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)ctx->lim->child_timeout_ms);
    struct scripts_invoke a = {.parent = ops,
                               .child = ckey,
                               .stream = cstream,
                               .child_id = child,
                               .op = sidx,
                               .handler = handler,
                               .input = input,
                               .session = ctx->session,
                               .trace = ctx->trace,
                               .now = now,
                               .name = name,
                               .parent_id = ctx->eid,
                               .timeout_ms = tmo};
    redisReply *r = scripts_invoke(ctx->rc, &a);
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

void dur_complete_prepare(struct dur_complete *c, const char *cbid, const char *kind,
                          const struct dur_caller *who, const char *payload, size_t len)
{
    keys_cb(c->key, sizeof(c->key), cbid);
    keys_in_cell(c->completed, sizeof(c->completed), KEYS_CB_COMPLETED, keys_cell_of(cbid));
    keys_in_cell(c->deadlines, sizeof(c->deadlines), KEYS_CB_DEADLINES, keys_cell_of(cbid));
    snprintf(c->now, sizeof(c->now), "%lld", (long long)wall_ms());
    c->a = (struct scripts_cb_complete){.cb = c->key,
                                        .completed = c->completed,
                                        .deadlines = c->deadlines,
                                        .cbid = cbid,
                                        .kind = kind,
                                        .session = who->session,
                                        .payload = payload,
                                        .payload_len = len,
                                        .now = c->now,
                                        .subject = who->subject,
                                        .admin = who->admin ? "1" : ""};
}

redisReply *dur_complete_as(struct rconn *rc, const char *cbid, const char *kind,
                            const struct dur_caller *who, const char *payload, size_t len)
{
    struct dur_complete c;
    dur_complete_prepare(&c, cbid, kind, who, payload, len);
    return scripts_cb_complete(rc, &c.a);
}

redisReply *dur_complete(struct rconn *rc, const char *cbid, const char *kind, const char *session,
                         const char *payload, size_t len)
{
    struct dur_caller who = {session, "", 0};
    return dur_complete_as(rc, cbid, kind, &who, payload, len);
}

/* A new callback id, cb-<random>[.<the resumer tag>], in the execution's
 * cell. Returns 0 / -1. */
static int new_cbid(struct dur_ctx *ctx, char *out, size_t len)
{
    const char *tag = ctx->lim->cb_tag;
    if (keys_random_id(out, len, "cb-", 12, 1, keys_cell_of(ctx->eid)) < 0 ||
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

int dur_callback(struct dur_ctx *ctx, const char *name, int64_t timeout_ms, int64_t heartbeat_ms,
                 dur_submit_cb submit, void *arg, char **out)
{
    int idx = ctx->next, bad;
    char sidx[16];
    ctx->next += 2; /* the callback, then the submit step */
    *out = NULL;
    snprintf(sidx, sizeof(sidx), "%d", idx);
    json_t *op = recorded(ctx, idx, "cb", name, &bad);
    if (bad)
        return DUR_FAIL;
    char cbid[64];
    if (op) {
        strlcpy_aa(cbid, jstr(op, "cb"), sizeof(cbid));
    } else {
        char key[KEYS_MAX], ops[KEYS_MAX], deadlines[KEYS_MAX], now[24], tmo[24], hb[24];
        if (new_cbid(ctx, cbid, sizeof(cbid)) < 0)
            return DUR_FAIL;
        keys_cb(key, sizeof(key), cbid);
        keys_in_cell(deadlines, sizeof(deadlines), KEYS_CB_DEADLINES, keys_cell_of(cbid));
        keys_exec(ops, sizeof(ops), ctx->eid);
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
        snprintf(tmo, sizeof(tmo), "%lld", (long long)timeout_ms);
        snprintf(hb, sizeof(hb), "%lld", (long long)heartbeat_ms);
        struct scripts_cb_create a = {.cb = key,
                                      .exec = ops,
                                      .deadlines = deadlines,
                                      .cbid = cbid,
                                      .eid = ctx->eid,
                                      .op = sidx,
                                      .session = ctx->session,
                                      .now = now,
                                      .timeout_ms = tmo,
                                      .heartbeat_ms = hb,
                                      .name = name};
        redisReply *r = scripts_cb_create(ctx->rc, &a);
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
    int rc = outcome(op, out);
    return rc == DUR_ERROR && strcmp(s, "timeout") == 0 ? DUR_TIMEOUT : rc;
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
    return DUR_SUSPEND;
}
