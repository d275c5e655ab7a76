/* check_dur.c -- the durable runtime against a real redis-server (started by
 * tests/run.sh; its address is in AA_TEST_REDIS): replay, mismatch,
 * callbacks (success, failure, timeout, heartbeat, early, duplicate,
 * conflicting, foreign session) and child executions. */
#include "dur_exec.h"
#include "dur_resume.h"
#include "fixtures.h"
#include "mx.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct rconn *rc;
static const struct dur_limits lim = {60000, 5, 3600, 60000, NULL};
static int step_runs, submit_runs, mismatch_flag;
static char last_cb[64];
static int64_t cb_timeout = 30000, cb_heartbeat = 0;
static int answer_early;

static void setup(void)
{
    rc = fixture_redis();
    step_runs = submit_runs = mismatch_flag = answer_early = 0;
    cb_timeout = 30000;
    cb_heartbeat = 0;
    last_cb[0] = '\0';
}

static void teardown(void)
{
    rconn_free(rc);
}

static char *hget(const char *key, const char *field)
{
    redisReply *r = rconn_cmd(rc, "HGET %s %s", key, field);
    char *v = r && r->str ? xstrdup(r->str) : NULL;
    if (r)
        freeReplyObject(r);
    return v;
}

static long long xlen(const char *key)
{
    redisReply *r = rconn_cmd(rc, "XLEN %s", key);
    long long n = r ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

static void new_exec(const char *eid, const char *handler)
{
    redisReply *r = rconn_cmd(rc,
                              "HSET aa:exec:%s handler %s stream t:stream input {} session s1 "
                              "status ready attempts 0",
                              eid, handler);
    freeReplyObject(r);
}

static int step_fn(struct dur_ctx *ctx, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    step_runs++;
    *result = xstrdup("stepped");
    return DUR_OK;
}

static int submit_fn(struct dur_ctx *ctx, const char *cbid, char **result, void *arg)
{
    (void)arg;
    submit_runs++;
    strlcpy_aa(last_cb, cbid, sizeof(last_cb));
    if (answer_early) {
        redisReply *r = dur_complete(dur_rconn(ctx), cbid, "succeed", "s1", "early", 5);
        freeReplyObject(r);
        dur_resume_callback(dur_rconn(ctx), cbid, 3600, DUR_BY_NOTIFICATION);
    }
    *result = xstrdup("sent");
    return DUR_OK;
}

static int handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    char *a = NULL, *b = NULL;
    int rc1 = dur_step(ctx, mismatch_flag ? "renamed" : "a", step_fn, NULL, &a);
    if (rc1 != DUR_OK) {
        free(a);
        return rc1;
    }
    int rc2 = dur_callback(ctx, "cb", cb_timeout, cb_heartbeat, submit_fn, NULL, &b);
    if (rc2 == DUR_SUSPEND || rc2 == DUR_FAIL) {
        free(a);
        free(b);
        return rc2;
    }
    *result = xasprintf("%s+%s:%s%s", a, rc2 == DUR_OK ? "ok" : "err", b,
                        rc2 == DUR_TIMEOUT ? ":timeout" : "");
    free(a);
    free(b);
    return DUR_OK;
}

static int child_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    *result = xasprintf("child saw %s", input);
    return DUR_OK;
}

static int parent_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    char *x = NULL, *y = NULL;
    int r1 = dur_invoke(ctx, "c1", "child", "t:stream", "one", &x);
    int r2 = dur_invoke(ctx, "c2", "child", "t:stream", "two", &y);
    int rc_ = DUR_OK;
    if (r1 == DUR_FAIL || r2 == DUR_FAIL)
        rc_ = DUR_FAIL;
    else if (r1 == DUR_SUSPEND || r2 == DUR_SUSPEND)
        rc_ = DUR_SUSPEND;
    else
        *result = xasprintf("%s|%s", x, y);
    free(x);
    free(y);
    return rc_;
}

static int fails_left;

static int flaky_fn(struct dur_ctx *ctx, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    step_runs++;
    if (fails_left > 0) {
        fails_left--;
        *result = xstrdup("temporary failure");
        return DUR_ERROR;
    }
    *result = xstrdup("worked");
    return DUR_OK;
}

static int retry_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    static const struct dur_retry policy = {3, 20, 1000, 2.0, 0};
    char *out = NULL;
    int rc_ = dur_step_retry(ctx, "flaky", flaky_fn, NULL, &policy, &out);
    if (rc_ == DUR_OK || rc_ == DUR_ERROR)
        *result = xasprintf("%s:%s", rc_ == DUR_OK ? "ok" : "err", out);
    free(out);
    return rc_ == DUR_ERROR ? DUR_OK : rc_;
}

static int wait_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    int rc_ = dur_wait(ctx, "nap", 80);
    if (rc_ != DUR_OK)
        return rc_;
    *result = xstrdup("rested");
    return DUR_OK;
}

static int noop_submit(struct dur_ctx *ctx, const char *cbid, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    (void)cbid;
    *result = xstrdup("");
    return DUR_OK;
}

static int fanout_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    int pending = 0, done = 0;
    char name[32];
    for (int i = 0; i < 1000; i++) {
        char *out = NULL;
        snprintf(name, sizeof(name), "cb%d", i);
        int rc_ = dur_callback(ctx, name, 60000, 0, noop_submit, NULL, &out);
        free(out);
        if (rc_ == DUR_FAIL)
            return DUR_FAIL;
        if (rc_ == DUR_SUSPEND)
            pending++;
        else
            done++;
    }
    if (pending)
        return DUR_SUSPEND;
    *result = xasprintf("%d done", done);
    return DUR_OK;
}

static int steal_lease; /* push_handler: another worker takes the run before it suspends */

static int push_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    json_t *req = json_pack("{s:s}", "action", "probe");
    char *out = NULL;
    int rc_ = dur_callback_push(ctx, "probe", 30000, 0, req, &out);
    json_decref(req);
    if (rc_ == DUR_SUSPEND && steal_lease) {
        redisReply *r = rconn_cmd(dur_rconn(ctx), "HSET aa:exec:%s worker w2", dur_exec_id(ctx));
        freeReplyObject(r);
    }
    if (rc_ == DUR_SUSPEND || rc_ == DUR_FAIL) {
        free(out);
        return rc_;
    }
    *result = xasprintf("%s:%s", rc_ == DUR_OK ? "ok" : "err", out);
    free(out);
    return DUR_OK;
}

static const struct dur_handler handlers[] = {
    {"push", push_handler, NULL},
    {"retry", retry_handler, NULL},
    {"wait", wait_handler, NULL},
    {"fanout", fanout_handler, NULL},
    {"h", handler, NULL},
    {"child", child_handler, NULL},
    {"parent", parent_handler, NULL},
    {NULL, NULL, NULL},
};

static void run(const char *eid)
{
    ck_assert_int_eq(dur_run(rc, "w1", handlers, &lim, eid, NULL), 0);
}

static void assert_field(const char *key, const char *field, const char *want)
{
    char *v = hget(key, field);
    ck_assert_msg(v && !strcmp(v, want), "%s %s = '%s', want '%s'", key, field, v ? v : "(nil)",
                  want);
    free(v);
}

START_TEST(callback_success_replays_without_repeating)
{
    new_exec("e1", "h");
    run("e1");
    assert_field("aa:exec:e1", "status", "suspended");
    ck_assert_int_eq(step_runs, 1);
    ck_assert_int_eq(submit_runs, 1);
    redisReply *r = dur_complete(rc, last_cb, "succeed", "s1", "connected", 9);
    ck_assert_str_eq(r->element[1]->str, "recorded");
    freeReplyObject(r);
    ck_assert_int_eq(dur_resume_callback(rc, last_cb, 3600, DUR_BY_NOTIFICATION), 1);
    ck_assert_int_eq(dur_resume_callback(rc, last_cb, 3600, DUR_BY_NOTIFICATION),
                     0); /* exactly once */
    ck_assert_int_eq(xlen("t:stream"), 1);
    assert_field("aa:exec:e1", "status", "ready");
    run("e1");
    assert_field("aa:exec:e1", "status", "succeeded");
    assert_field("aa:exec:e1", "result", "stepped+ok:connected");
    ck_assert_int_eq(step_runs, 1);
    ck_assert_int_eq(submit_runs, 1);
}
END_TEST

static long long count_keys(const char *pattern)
{
    redisReply *r = rconn_cmd(rc, "KEYS %s", pattern);
    long long n = (long long)r->elements;
    freeReplyObject(r);
    return n;
}

/* The callback id of operation 0 of execution eid. */
static void cb_of(const char *eid, char *cbid, size_t len)
{
    char key[64];
    snprintf(key, sizeof(key), "aa:exec:%s", eid);
    char *op = hget(key, "op:0");
    json_t *j = json_loads(op, 0, NULL);
    strlcpy_aa(cbid, json_string_value(json_object_get(j, "cb")), len);
    json_decref(j);
    free(op);
}

/* Runs a new push execution eid until it waits, then answers its callback. */
static void suspend_and_answer(const char *eid, const char *payload, char *cbid, size_t len)
{
    new_exec(eid, "push");
    run(eid);
    cb_of(eid, cbid, len);
    redisReply *r = dur_complete(rc, cbid, "succeed", "s1", payload, strlen(payload));
    freeReplyObject(r);
}

/* dur_callback_push: the callback, its push, the submit record and the
 * suspension are one script; no connection fails the callback at once */
START_TEST(push_callback_in_one_script)
{
    new_exec("p1", "push");
    run("p1");
    assert_field("aa:exec:p1", "status", "succeeded");
    assert_field("aa:exec:p1", "result", "err:client_not_connected");
    ck_assert_int_eq(count_keys("aa:cb:cb-*"), 0);
    ck_assert_int_eq(count_keys("aa:outbox:*"), 0);

    redisReply *r = rconn_cmd(rc, "HSET aa:conn:c1 node n1");
    freeReplyObject(r);
    r = rconn_cmd(rc, "SADD aa:session:s1:conns c1");
    freeReplyObject(r);
    /* the run arrives through a stream entry, which the script acknowledges */
    r = rconn_cmd(rc, "XGROUP CREATE t:stream g 0 MKSTREAM");
    freeReplyObject(r);
    r = rconn_cmd(rc, "XADD t:stream * exec p2");
    char entry[64];
    strlcpy_aa(entry, r->str, sizeof(entry));
    freeReplyObject(r);
    r = rconn_cmd(rc, "XREADGROUP GROUP g w1 COUNT 1 STREAMS t:stream >");
    freeReplyObject(r);
    new_exec("p2", "push");
    struct dur_ack ack = {"t:stream", "g", entry, 0};
    ck_assert_int_eq(dur_run(rc, "w1", handlers, &lim, "p2", &ack), 0);
    ck_assert_int_eq(ack.done, 1);
    r = rconn_cmd(rc, "XPENDING t:stream g");
    ck_assert_int_eq(r->element[0]->integer, 0);
    freeReplyObject(r);
    assert_field("aa:exec:p2", "status", "suspended");
    ck_assert_int_eq(xlen("aa:outbox:s1"), 1);
    char cbid[64];
    cb_of("p2", cbid, sizeof(cbid));
    char key[128];
    snprintf(key, sizeof(key), "aa:cb:%s", cbid);
    assert_field(key, "status", "pending");
    assert_field(key, "exec", "p2");
    r = rconn_cmd(rc, "XRANGE aa:outbox:s1 - +");
    ck_assert(strstr(r->element[0]->element[1]->element[1]->str, cbid) != NULL);
    char *op = hget("aa:exec:p2", "op:1");
    ck_assert(strstr(op, r->element[0]->element[0]->str) != NULL); /* the submit record */
    free(op);
    freeReplyObject(r);
    r = dur_complete(rc, cbid, "succeed", "s1", "pong", 4);
    freeReplyObject(r);
    ck_assert_int_eq(dur_resume_callback(rc, cbid, 3600, DUR_BY_NOTIFICATION), 1);
    run("p2");
    assert_field("aa:exec:p2", "result", "ok:pong");
    ck_assert_int_eq(xlen("aa:outbox:s1"), 1); /* replayed, never pushed again */

    /* a resumer that can run it takes the continuation in the same script
     * and runs it; its stream entry is acknowledged at the end */
    suspend_and_answer("p4", "taken", cbid, sizeof(cbid));
    /* what is queued before it goes elsewhere (the resumer takes the
     * stream's next entry, whichever it is) */
    r = rconn_cmd(rc, "XREADGROUP GROUP g elsewhere COUNT 100 STREAMS t:stream >");
    freeReplyObject(r);
    struct dur_take take = {"t:stream", "g", "resumer", handlers, &lim};
    ck_assert_int_eq(dur_resume_take(rc, cbid, 3600, DUR_BY_NOTIFICATION, &take), 1);
    assert_field("aa:exec:p4", "status", "succeeded");
    assert_field("aa:exec:p4", "result", "ok:taken");
    r = rconn_cmd(rc, "XPENDING t:stream g - + 10 resumer");
    ck_assert_int_eq((int)r->elements, 0);
    freeReplyObject(r);
    /* one for another stream, or a stream without the group, is only queued */
    struct dur_take other = {"other:stream", "g", "resumer", handlers, &lim};
    struct dur_take nogroup = {"t:stream", "no-such-group", "resumer", handlers, &lim};
    suspend_and_answer("p5", "queued", cbid, sizeof(cbid));
    ck_assert_int_eq(dur_resume_take(rc, cbid, 3600, DUR_BY_NOTIFICATION, &other), 1);
    assert_field("aa:exec:p5", "status", "ready");
    suspend_and_answer("p6", "queued", cbid, sizeof(cbid));
    ck_assert_int_eq(dur_resume_take(rc, cbid, 3600, DUR_BY_NOTIFICATION, &nogroup), 1);
    assert_field("aa:exec:p6", "status", "ready");

    /* another worker took it before it suspended: nothing is pushed */
    steal_lease = 1;
    new_exec("p3", "push");
    run("p3");
    steal_lease = 0;
    assert_field("aa:exec:p3", "worker", "w2");
    assert_field("aa:exec:p3", "status", "running");
    ck_assert_int_eq(xlen("aa:outbox:s1"), 4);
    ck_assert_int_eq(count_keys("aa:cb:cb-*"), 4);
}
END_TEST

/* A process with a resumer tags the ids of the callbacks it makes (its
 * resumer acts on their completions; see wk_loop.c) */
START_TEST(callback_ids_carry_the_resumer_tag)
{
    const struct dur_limits tagged = {60000, 5, 3600, 60000, "Ab-_"};
    redisReply *r = rconn_cmd(rc, "HSET aa:conn:c1 node n1");
    freeReplyObject(r);
    r = rconn_cmd(rc, "SADD aa:session:s1:conns c1");
    freeReplyObject(r);
    new_exec("t1", "h");    /* dur_callback */
    new_exec("t2", "push"); /* dur_callback_push, one script */
    const char *eids[] = {"t1", "t2"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(dur_run(rc, "w1", handlers, &tagged, eids[i], NULL), 0);
        char key[32], cbid[64];
        snprintf(key, sizeof(key), "aa:exec:%s", eids[i]);
        assert_field(key, "status", "suspended");
        if (i == 0)
            strlcpy_aa(cbid, last_cb, sizeof(cbid));
        else
            cb_of(eids[i], cbid, sizeof(cbid));
        const char *dot = strrchr(cbid, '.');
        ck_assert_msg(dot && !strcmp(dot, ".Ab-_") && !strncmp(cbid, "cb-", 3), "id %s", cbid);
        ck_assert_str_eq(dur_cb_tag(cbid), "Ab-_");
        /* a tagged id is an id like any other for the completion and the resume */
        r = dur_complete(rc, cbid, "succeed", "s1", "connected", 9);
        ck_assert_str_eq(r->element[1]->str, "recorded");
        freeReplyObject(r);
        ck_assert_int_eq(dur_resume_callback(rc, cbid, 3600, DUR_BY_NOTIFICATION), 1);
        ck_assert_int_eq(dur_run(rc, "w1", handlers, &tagged, eids[i], NULL), 0);
        assert_field(key, "status", "succeeded");
    }
    assert_field("aa:exec:t2", "result", "ok:connected");
    /* a process without a resumer makes untagged ids */
    new_exec("t3", "push");
    run("t3");
    char cbid[64];
    cb_of("t3", cbid, sizeof(cbid));
    ck_assert_ptr_null(dur_cb_tag(cbid));
}
END_TEST

START_TEST(callback_failure)
{
    new_exec("e2", "h");
    run("e2");
    redisReply *r = dur_complete(rc, last_cb, "fail", "s1", "{\"message\":\"no vpn\"}", 20);
    freeReplyObject(r);
    dur_sweep(rc, 3600, 0); /* no notification listener here: the sweep resumes it */
    run("e2");
    assert_field("aa:exec:e2", "result", "stepped+err:{\"message\":\"no vpn\"}");
}
END_TEST

START_TEST(unreadable_record_fails_loudly)
{
    new_exec("e8", "h");
    run("e8");
    int submits = submit_runs;
    /* what a result that is not UTF-8 once became: a record jansson refuses */
    redisReply *r =
        rconn_cmd(rc, "HSET aa:exec:e8 op:1 %b", "{\"t\":\"cb\",\"r\":\"\xff\"}", (size_t)16);
    freeReplyObject(r);
    r = rconn_cmd(rc, "HSET aa:exec:e8 status ready");
    freeReplyObject(r);
    run("e8");
    assert_field("aa:exec:e8", "status", "failed");
    char *res = hget("aa:exec:e8", "result");
    ck_assert_ptr_nonnull(strstr(res, "operation record op:1 is unreadable"));
    free(res);
    ck_assert_int_eq(submit_runs, submits); /* nothing pushed again */
}
END_TEST

START_TEST(completion_by_subject)
{
    new_exec("e9", "h");
    run("e9");
    struct dur_caller bob = {"", "bob", 0}, alice = {"", "alice", 0}, nobody = {"", "", 0},
                      alice_other = {"s2", "alice", 0};
    redisReply *r = rconn_cmd(rc, "SET aa:session:s1:owner alice");
    freeReplyObject(r);
    const struct dur_caller *refused[] = {&bob, &nobody, &alice_other};
    for (int i = 0; i < 3; i++) {
        r = dur_complete_as(rc, last_cb, "succeed", refused[i], "x", 1);
        ck_assert_str_eq(r->element[1]->str, "not_found");
        freeReplyObject(r);
    }
    r = dur_complete_as(rc, last_cb, "succeed", &alice, "x", 1);
    ck_assert_str_eq(r->element[1]->str, "recorded");
    freeReplyObject(r);
}
END_TEST

START_TEST(completion_rules)
{
    new_exec("e3", "h");
    run("e3");
    redisReply *r = dur_complete(rc, last_cb, "succeed", "other-session", "x", 1);
    ck_assert_str_eq(r->element[1]->str, "not_found");
    freeReplyObject(r);
    r = dur_complete(rc, "cb-unknown", "succeed", "s1", "x", 1);
    ck_assert_str_eq(r->element[1]->str, "not_found");
    freeReplyObject(r);
    r = dur_complete(rc, last_cb, "succeed", "s1", "a", 1);
    ck_assert_str_eq(r->element[1]->str, "recorded");
    freeReplyObject(r);
    r = dur_complete(rc, last_cb, "succeed", "s1", "a", 1);
    ck_assert_str_eq(r->element[0]->str, "ok");
    ck_assert_str_eq(r->element[1]->str, "duplicate");
    freeReplyObject(r);
    r = dur_complete(rc, last_cb, "succeed", "s1", "b", 1);
    ck_assert_str_eq(r->element[1]->str, "conflict");
    freeReplyObject(r);
    r = dur_complete(rc, last_cb, "fail", "s1", "a", 1);
    ck_assert_str_eq(r->element[1]->str, "conflict");
    freeReplyObject(r);
}
END_TEST

START_TEST(timeout_and_heartbeat)
{
    cb_timeout = 150;
    new_exec("e4", "h");
    run("e4");
    /* too early: nothing to resume */
    ck_assert_int_eq(dur_sweep(rc, 3600, 0), 0);
    usleep(200000);
    ck_assert_int_eq(dur_sweep(rc, 3600, 0), 1);
    redisReply *r = dur_complete(rc, last_cb, "succeed", "s1", "late", 4);
    ck_assert_str_eq(r->element[1]->str, "expired");
    freeReplyObject(r);
    run("e4");
    assert_field("aa:exec:e4", "result", "stepped+err:callback timed out:timeout");

    /* a heartbeat pushes the heartbeat deadline out */
    cb_timeout = 5000;
    cb_heartbeat = 300;
    new_exec("e5", "h");
    run("e5");
    for (int i = 0; i < 4; i++) {
        usleep(150000);
        r = dur_complete(rc, last_cb, "heartbeat", "s1", "", 0);
        ck_assert_str_eq(r->element[1]->str, "heartbeat");
        freeReplyObject(r);
        ck_assert_int_eq(dur_sweep(rc, 3600, 0), 0);
    }
    usleep(400000);
    ck_assert_int_eq(dur_sweep(rc, 3600, 0), 1); /* no heartbeat: timed out */
}
END_TEST

START_TEST(early_completion_is_kept)
{
    answer_early = 1;
    new_exec("e6", "h");
    run("e6");
    /* the answer came before the handler suspended: queued again, not lost */
    assert_field("aa:exec:e6", "status", "ready");
    ck_assert_int_eq(xlen("t:stream"), 1);
    run("e6");
    assert_field("aa:exec:e6", "result", "stepped+ok:early");
    ck_assert_int_eq(submit_runs, 1);
}
END_TEST

/* a callback record that names no execution (made by hand) is settled and
 * resumed into nothing, without a script error */
START_TEST(callback_without_execution)
{
    redisReply *r = rconn_cmd(rc, "HSET aa:cb:cb-bare session s1 status pending "
                                  "next_deadline_ms 99999999999999 deadline_ms 99999999999999");
    freeReplyObject(r);
    r = dur_complete(rc, "cb-bare", "succeed", "s1", "x", 1);
    ck_assert_str_eq(r->element[1]->str, "recorded");
    freeReplyObject(r);
    struct scripts_cb_resume res = {.cb = "aa:cb:cb-bare",
                                    .completed = "aa:cb:completed",
                                    .deadlines = "aa:cb:deadlines",
                                    .cbid = "cb-bare",
                                    .now = "1",
                                    .retention_s = "3600"};
    r = scripts_cb_resume(rc, &res);
    ck_assert_msg(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING, "%s",
                  r->str ? r->str : "?");
    ck_assert_str_eq(r->str, "gone");
    freeReplyObject(r);
    assert_field("aa:cb:cb-bare", "resumed", "1");
    ck_assert_int_eq(dur_resume_callback(rc, "cb-bare", 3600, DUR_BY_NOTIFICATION), 0);
    ck_assert_int_eq(dur_sweep(rc, 3600, 0), 0);
}
END_TEST

START_TEST(replay_mismatch_fails_loudly)
{
    new_exec("e7", "h");
    run("e7");
    redisReply *r = dur_complete(rc, last_cb, "succeed", "s1", "x", 1);
    freeReplyObject(r);
    dur_resume_callback(rc, last_cb, 3600, DUR_BY_NOTIFICATION);
    mismatch_flag = 1;
    run("e7");
    assert_field("aa:exec:e7", "status", "failed");
    char *res = hget("aa:exec:e7", "result");
    ck_assert_ptr_nonnull(strstr(res, "non-deterministic replay: operation 0"));
    free(res);
}
END_TEST

START_TEST(children_in_parallel)
{
    new_exec("p1", "parent");
    run("p1");
    assert_field("aa:exec:p1", "status", "suspended");
    ck_assert_int_eq(xlen("t:stream"), 2);
    run("p1.0");
    assert_field("aa:exec:p1", "status", "ready");
    run("p1"); /* one child done, one pending: suspends again */
    assert_field("aa:exec:p1", "status", "suspended");
    run("p1.1");
    run("p1");
    assert_field("aa:exec:p1", "status", "succeeded");
    assert_field("aa:exec:p1", "result", "child saw one|child saw two");
}
END_TEST

START_TEST(durable_wait_and_retries)
{
    new_exec("w1", "wait");
    run("w1");
    assert_field("aa:exec:w1", "status", "suspended");
    int64_t next = 0;
    ck_assert_int_eq(dur_fire_due(rc, 3600, &next, DUR_BY_TIMER), 0);
    ck_assert_int_gt(next, wall_ms());
    usleep((useconds_t)(next - wall_ms() + 5) * 1000);
    ck_assert_int_eq(dur_fire_due(rc, 3600, &next, DUR_BY_TIMER), 1);
    run("w1");
    assert_field("aa:exec:w1", "result", "rested");

    fails_left = 2;
    new_exec("r1", "retry");
    for (int i = 0; i < 2; i++) {
        run("r1");
        assert_field("aa:exec:r1", "status", "suspended");
        while (dur_fire_due(rc, 3600, NULL, DUR_BY_TIMER) == 0)
            usleep(5000);
    }
    run("r1");
    assert_field("aa:exec:r1", "result", "ok:worked");
    ck_assert_int_eq(step_runs, 3);

    fails_left = 10;
    step_runs = 0;
    new_exec("r2", "retry");
    for (int i = 0; i < 2; i++) {
        run("r2");
        while (dur_fire_due(rc, 3600, NULL, DUR_BY_TIMER) == 0)
            usleep(5000);
    }
    run("r2");
    assert_field("aa:exec:r2", "result", "err:temporary failure");
    ck_assert_int_eq(step_runs, 3);
}
END_TEST

START_TEST(execution_timeout)
{
    new_exec("t1", "h");
    redisReply *r = rconn_cmd(rc, "ZADD aa:exec:deadlines %lld t1", (long long)wall_ms() + 50);
    freeReplyObject(r);
    run("t1");
    assert_field("aa:exec:t1", "status", "suspended");
    usleep(60000);
    ck_assert_int_ge(dur_fire_due(rc, 3600, NULL, DUR_BY_TIMER), 1);
    assert_field("aa:exec:t1", "status", "timed_out");
    /* a late answer changes nothing */
    run("t1");
    assert_field("aa:exec:t1", "status", "timed_out");
}
END_TEST

/* Completes every waiting callback (there must be `want` of them). */
static void complete_all(size_t want)
{
    redisReply *r = rconn_cmd(rc, "ZRANGE aa:cb:deadlines 0 -1");
    ck_assert_uint_eq(r->elements, want);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *x = dur_complete(rc, r->element[i]->str, "succeed", "s1", "v", 1);
        freeReplyObject(x);
    }
    freeReplyObject(r);
}

static void resume_all(void)
{
    int n;
    do {
        n = dur_sweep(rc, 3600, 0);
        ck_assert_int_ge(n, 0);
    } while (n > 0);
}

START_TEST(thousand_callbacks)
{
    /* one execution fanning out to 1,000 callbacks */
    new_exec("f1", "fanout");
    run("f1");
    assert_field("aa:exec:f1", "status", "suspended");
    complete_all(1000);
    resume_all();
    run("f1");
    assert_field("aa:exec:f1", "result", "1000 done");

    /* 1,000 executions each waiting on one callback */
    char eid[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(eid, sizeof(eid), "m%d", i);
        new_exec(eid, "h");
        run(eid);
    }
    complete_all(1000);
    resume_all();
    ck_assert_int_eq(xlen("t:stream"), 1001);
    for (int i = 0; i < 1000; i++) {
        snprintf(eid, sizeof(eid), "m%d", i);
        run(eid);
        char key[48];
        snprintf(key, sizeof(key), "aa:exec:%s", eid);
        assert_field(key, "status", "succeeded");
    }
}
END_TEST

START_TEST(crash_while_running)
{
    /* worker "w-dead" claims e9 and dies in the middle of the handler */
    new_exec("e9", "h");
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    struct scripts_exec_claim claim = {.exec = "aa:exec:e9",
                                       .worker = "w-dead",
                                       .now = now,
                                       .lease_ms = "300",
                                       .max_attempts = "5"};
    redisReply *r = scripts_exec_claim(rc, &claim);
    ck_assert_str_eq(r->element[0]->str, "ok");
    freeReplyObject(r);
    /* while its lease lasts nobody else runs it */
    run("e9");
    ck_assert_int_eq(step_runs, 0);
    assert_field("aa:exec:e9", "worker", "w-dead");
    usleep(350000);
    run("e9"); /* the reclaimed entry: runs to the wait */
    ck_assert_int_eq(step_runs, 1);
    assert_field("aa:exec:e9", "status", "suspended");
    char *a = hget("aa:exec:e9", "attempts");
    ck_assert_ptr_null(a); /* cleared on suspend */
}
END_TEST

START_TEST(unknown_handler_and_stale_entries)
{
    new_exec("e8", "nope");
    run("e8");
    assert_field("aa:exec:e8", "status", "failed");
    /* an entry for a finished or missing execution is acknowledged and ignored */
    run("e8");
    run("does-not-exist");
    ck_assert_int_eq(dur_resume_callback(rc, "cb-missing", 3600, DUR_BY_NOTIFICATION), 0);
    ck_assert_int_eq(dur_resume_callback(rc, "bad id!", 3600, DUR_BY_NOTIFICATION), 0);
}
END_TEST

START_TEST(cancel_while_suspended_and_while_running)
{
    /* suspended on a callback: cancelled, and the late answer wakes nothing */
    new_exec("ec1", "h");
    run("ec1");
    assert_field("aa:exec:ec1", "status", "suspended");
    ck_assert_int_eq(dur_cancel(rc, "ec1", "changed my mind", 3600), 1);
    assert_field("aa:exec:ec1", "status", "cancelled");
    assert_field("aa:exec:ec1", "result", "changed my mind");
    ck_assert_int_eq(dur_cancel(rc, "ec1", "again", 3600), 0); /* ended: nothing to do */
    ck_assert_int_eq(dur_cancel(rc, "nope", "x", 3600), 0);
    redisReply *r = dur_complete(rc, last_cb, "succeed", "s1", "late", 4);
    freeReplyObject(r);
    dur_sweep(rc, 3600, 0);
    ck_assert_int_eq(xlen("t:stream"), 0);
    run("ec1");
    assert_field("aa:exec:ec1", "status", "cancelled");
    ck_assert_int_eq(submit_runs, 1);
    /* running in a worker: its finish is refused, the cancel stands */
    new_exec("ec2", "h");
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    struct scripts_exec_claim claim = {.exec = "aa:exec:ec2",
                                       .worker = "w-1",
                                       .now = now,
                                       .lease_ms = "30000",
                                       .max_attempts = "5"};
    r = scripts_exec_claim(rc, &claim);
    ck_assert_str_eq(r->element[0]->str, "ok");
    freeReplyObject(r);
    ck_assert_int_eq(dur_cancel(rc, "ec2", "stop", 3600), 1);
    struct scripts_exec_finish fin = {.exec = "aa:exec:ec2",
                                      .eid = "ec2",
                                      .worker = "w-1",
                                      .status = "succeeded",
                                      .result = "done",
                                      .now = now,
                                      .retention_s = "3600"};
    r = scripts_exec_finish(rc, &fin);
    ck_assert_str_eq(r->str, "lost");
    freeReplyObject(r);
    assert_field("aa:exec:ec2", "status", "cancelled");
}
END_TEST

Suite *dur_suite(void)
{
    Suite *s = suite_create("dur");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_test(core, callback_success_replays_without_repeating);
    tcase_add_test(core, callback_failure);
    tcase_add_test(core, push_callback_in_one_script);
    tcase_add_test(core, callback_ids_carry_the_resumer_tag);
    tcase_add_test(core, early_completion_is_kept);
    tcase_add_test(core, children_in_parallel);
    tcase_add_test(core, cancel_while_suspended_and_while_running);
    tcase_add_test(limits, timeout_and_heartbeat);
    tcase_add_test(limits, durable_wait_and_retries);
    tcase_add_test(limits, execution_timeout);
    tcase_add_test(limits, thousand_callbacks);
    tcase_set_timeout(limits, 60);
    tcase_add_test(errs, completion_rules);
    tcase_add_test(errs, replay_mismatch_fails_loudly);
    tcase_add_test(errs, unreadable_record_fails_loudly);
    tcase_add_test(errs, completion_by_subject);
    tcase_add_test(errs, callback_without_execution);
    tcase_add_test(errs, unknown_handler_and_stale_entries);
    tcase_add_test(errs, crash_while_running);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
