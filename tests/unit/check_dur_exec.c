/* check_dur_exec.c -- the batch runner (dur_run_entries, exec_batch.lua)
 * against a real redis-server (AA_TEST_REDIS): every entry of a read runs
 * once, in order, and ends or suspends with its entry acknowledged; claims
 * and ends go in batches behind runs that take no time, and never wait
 * behind a slow run; claims taken ahead that grew old are renewed, not
 * attempted again; another worker's lease, exhausted attempts, entries for
 * nothing, a cancel while claimed ahead, and an unreachable Redis. */
#include "dur_exec.h"
#include "fixtures.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM "t:batch"
#define GROUP "g"

static struct rconn *rc;
static struct dur_limits lim = {60000, 5, 3600, 60000, NULL};
static char order[4096];
static int runs;
static char seen_before_slow[32];

static void setup(void)
{
    rc = fixture_redis();
    freeReplyObject(rconn_cmd(rc, "XGROUP CREATE " STREAM " " GROUP " 0 MKSTREAM"));
    order[0] = '\0';
    runs = 0;
    seen_before_slow[0] = '\0';
    lim.lease_ms = 60000;
    lim.max_attempts = 5;
}

static void teardown(void)
{
    rconn_free(rc);
}

static char *hget(const char *eid, const char *field)
{
    redisReply *r = rconn_cmd(rc, "HGET aa:exec:%s %s", eid, field);
    char *v = r && r->str ? xstrdup(r->str) : NULL;
    if (r)
        freeReplyObject(r);
    return v;
}

static void assert_field(const char *eid, const char *field, const char *want)
{
    char *v = hget(eid, field);
    ck_assert_msg(v && !strcmp(v, want), "aa:exec:%s %s: '%s', wanted '%s'", eid, field,
                  v ? v : "(nil)", want);
    free(v);
}

static long long integer(const char *fmt, const char *arg)
{
    redisReply *r = rconn_cmd(rc, fmt, arg);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* An execution ready to run, and its stream entry. */
static void new_exec(const char *eid, const char *handler)
{
    freeReplyObject(rconn_cmd(rc,
                              "HSET aa:exec:%s handler %s stream " STREAM " input %s session s1 "
                              "status ready created_ms 1",
                              eid, handler, eid));
    freeReplyObject(rconn_cmd(rc, "ZADD aa:exec:deadlines 99999999999999 %s", eid));
    freeReplyObject(rconn_cmd(rc, "XADD " STREAM " * exec %s kind start", eid));
}

static long long pending(void)
{
    redisReply *r = rconn_cmd(rc, "XPENDING " STREAM " " GROUP);
    long long n = r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0]->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

/* Reads everything on the stream as worker and runs it. Returns as
 * dur_run_entries; *n is the number of entries read. */
static int read_and_run(struct rconn *c, const char *worker, const struct dur_handler *h, size_t *n)
{
    redisReply *r =
        rconn_cmd(rc, "XREADGROUP GROUP " GROUP " %s COUNT 1000 STREAMS " STREAM " >", worker);
    ck_assert_ptr_nonnull(r);
    struct dur_entry e[1000];
    size_t k = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        redisReply *es = r->element[0]->element[1];
        for (size_t i = 0; i < es->elements && k < 1000; i++, k++) {
            redisReply *f = es->element[i]->element[1];
            e[k].id = es->element[i]->element[0]->str;
            e[k].eid = NULL;
            for (size_t j = 0; j + 1 < f->elements; j += 2)
                if (!strcmp(f->element[j]->str, "exec"))
                    e[k].eid = f->element[j + 1]->str;
        }
    }
    int ret = dur_run_entries(c, worker, h, &lim, STREAM, GROUP, e, k);
    freeReplyObject(r);
    if (n)
        *n = k;
    return ret;
}

static int fast_fn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    runs++;
    strlcpy_aa(order + strlen(order), input, sizeof(order) - strlen(order));
    strlcpy_aa(order + strlen(order), " ", sizeof(order) - strlen(order));
    *result = xasprintf("did %s", input);
    return DUR_OK;
}

static int fail_fn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)input;
    (void)arg;
    runs++;
    *result = xstrdup("it broke");
    return DUR_FAIL;
}

/* Slow, and looks at the execution the run before it ended. */
static int slow_fn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    runs++;
    char *st = hget((const char *)arg ? (const char *)arg : "b0", "status");
    strlcpy_aa(seen_before_slow, st ? st : "(nil)", sizeof(seen_before_slow));
    free(st);
    usleep(50000);
    *result = xasprintf("slowly %s", input);
    return DUR_OK;
}

/* Waits (a timer): the run suspends, and its entry is acknowledged by the
 * suspension. */
static int wait_fn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    runs++;
    int rc_ = dur_wait(ctx, "nap", 3600 * 1000);
    if (rc_ != DUR_OK)
        return rc_;
    *result = xstrdup("rested");
    return DUR_OK;
}

/* Cancels the execution claimed after it. */
static int cancel_next_fn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    runs++;
    ck_assert_int_eq(dur_cancel(dur_rconn(ctx), "c1", "stop", 3600), 1);
    *result = xstrdup("");
    return DUR_OK;
}

static const struct dur_handler handlers[] = {
    {"fast", fast_fn, NULL}, {"fail", fail_fn, NULL},          {"slow", slow_fn, "b0"},
    {"wait", wait_fn, NULL}, {"cancel", cancel_next_fn, NULL}, {NULL, NULL, NULL}};

START_TEST(batch_runs_every_entry_once_in_order)
{
    char eid[16], want[4096] = "";
    for (int i = 0; i < 70; i++) {
        snprintf(eid, sizeof(eid), "e%d", i);
        new_exec(eid, i == 5 ? "fail" : "fast");
        if (i != 5)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s ", eid);
    }
    long long calls0 = fixture_redis_calls(rc, "evalsha");
    size_t n;
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, &n), 0);
    long long calls = fixture_redis_calls(rc, "evalsha") - calls0;
    ck_assert_int_eq(n, 70);
    ck_assert_int_eq(runs, 70);
    ck_assert_str_eq(order, want);
    /* 70 runs that take no time: claims of 32, 32 and 6, each sent with
     * the ends before them, and the last ends; plus one: the ends before
     * e5 went first, its handler not having run here yet */
    ck_assert_msg(calls == 5, "%lld scripts for 70 runs", calls);
    ck_assert_int_eq(pending(), 0);
    for (int i = 0; i < 70; i++) {
        snprintf(eid, sizeof(eid), "e%d", i);
        assert_field(eid, "status", i == 5 ? "failed" : "succeeded");
        assert_field(eid, "attempts", "1");
        assert_field(eid, "worker", "w1");
        char *res = hget(eid, "result");
        char wantres[32];
        snprintf(wantres, sizeof(wantres), "did %s", eid);
        ck_assert_str_eq(res, i == 5 ? "it broke" : wantres);
        free(res);
        char key[32];
        snprintf(key, sizeof(key), "aa:exec:%s", eid);
        long long ttl = integer("TTL %s", key);
        ck_assert_msg(ttl > 3500 && ttl <= 3600, "%s kept for %lld s", key, ttl);
    }
    ck_assert_int_eq(integer("ZCARD %s", "aa:exec:deadlines"), 0);
    /* read again: nothing is delivered twice */
    runs = 0;
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(runs, 0);
}
END_TEST

START_TEST(an_end_never_waits_behind_a_slow_run)
{
    new_exec("b0", "fast");
    new_exec("b1", "slow");
    new_exec("b2", "fast");
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    /* the slow run saw the fast one before it ended already */
    ck_assert_str_eq(seen_before_slow, "succeeded");
    assert_field("b1", "status", "succeeded");
    assert_field("b2", "status", "succeeded");
    ck_assert_int_eq(pending(), 0);
}
END_TEST

/* Ends of records with a parent or a lane, taken with runs that take no
 * time, still hand the result up and free the lane. */
START_TEST(ends_with_a_parent_or_a_lane)
{
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:p1 handler fast stream " STREAM " status "
                                  "suspended op:0 {\"t\":\"invoke\",\"child\":\"k1\",\"s\":"
                                  "\"pending\"}"));
    new_exec("k1", "fast");
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:k1 parent p1 parent_op 0"));
    new_exec("l1", "fast");
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:l1 lane sess1"));
    freeReplyObject(rconn_cmd(rc, "SET aa:session:sess1:active l1"));
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:l2 handler fast stream " STREAM " status queued "
                                  "lane sess1"));
    freeReplyObject(rconn_cmd(rc, "RPUSH aa:session:sess1:queue l2"));
    new_exec("n1", "fast"); /* plain */
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    char *op = hget("p1", "op:0");
    ck_assert_ptr_nonnull(op);
    ck_assert_ptr_nonnull(strstr(op, "\"s\":\"ok\""));
    ck_assert_ptr_nonnull(strstr(op, "did k1"));
    free(op);
    assert_field("p1", "status", "ready"); /* woken: its continuation is queued */
    redisReply *r = rconn_cmd(rc, "GET aa:session:sess1:active");
    ck_assert_str_eq(r->str, "l2");
    freeReplyObject(r);
    assert_field("l2", "status", "ready");
    assert_field("n1", "status", "succeeded");
    ck_assert_int_eq(pending(), 0);
    /* the continuation and the next turn were queued on the stream */
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    assert_field("p1", "status", "succeeded");
    assert_field("l2", "status", "succeeded");
}
END_TEST

START_TEST(suspensions_in_a_batch)
{
    new_exec("s0", "fast");
    new_exec("s1", "wait");
    new_exec("s2", "fast");
    new_exec("s3", "wait");
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    assert_field("s0", "status", "succeeded");
    assert_field("s1", "status", "suspended");
    assert_field("s2", "status", "succeeded");
    assert_field("s3", "status", "suspended");
    ck_assert_int_eq(pending(), 0);
    ck_assert_int_eq(integer("ZCARD %s", "aa:timers"), 2);
}
END_TEST

START_TEST(old_claims_are_renewed_not_attempted_again)
{
    /* a 300 ms lease: a claim taken ahead is used for 30 ms; the slow run
     * (50 ms) ages those behind it */
    lim.lease_ms = 300;
    new_exec("b0", "fast");
    new_exec("r1", "slow");
    new_exec("r2", "fast");
    new_exec("r3", "fast");
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    ck_assert_int_eq(runs, 4);
    const char *all[] = {"b0", "r1", "r2", "r3"};
    for (int i = 0; i < 4; i++) {
        assert_field(all[i], "status", "succeeded");
        assert_field(all[i], "attempts", "1");
    }
    ck_assert_int_eq(pending(), 0);
}
END_TEST

START_TEST(another_workers_lease_and_exhausted_attempts)
{
    new_exec("o1", "fast");
    new_exec("x1", "fast");
    new_exec("o2", "fast");
    char until[24];
    snprintf(until, sizeof(until), "%lld", (long long)wall_ms() + 60000);
    freeReplyObject(rconn_cmd(rc,
                              "HSET aa:exec:o1 status running worker w-other lease_until %s "
                              "attempts 1",
                              until));
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:x1 attempts 5"));
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    ck_assert_int_eq(runs, 1); /* o2 only */
    assert_field("o1", "status", "running");
    assert_field("o1", "worker", "w-other");
    assert_field("x1", "status", "failed");
    assert_field("x1", "result", "maximum attempts reached");
    assert_field("o2", "status", "succeeded");
    ck_assert_int_eq(integer("XLEN %s", "aa:stream:dead"), 1);
    ck_assert_int_eq(pending(), 0);
}
END_TEST

START_TEST(entries_for_nothing_are_acknowledged)
{
    freeReplyObject(rconn_cmd(rc, "XADD " STREAM " * kind start"));
    freeReplyObject(rconn_cmd(rc, "XADD " STREAM " * exec missing kind start"));
    freeReplyObject(rconn_cmd(rc, "XADD " STREAM " * exec %s kind start", "bad id\n!"));
    new_exec("u1", "no-such-handler");
    new_exec("d1", "fast");
    freeReplyObject(rconn_cmd(rc, "HSET aa:exec:d1 status succeeded"));
    new_exec("k1", "fast");
    size_t n;
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(runs, 1);
    assert_field("u1", "status", "failed");
    assert_field("d1", "status", "succeeded");
    assert_field("k1", "status", "succeeded");
    ck_assert_int_eq(integer("EXISTS %s", "aa:exec:missing"), 0);
    ck_assert_int_eq(pending(), 0);
}
END_TEST

START_TEST(a_cancel_while_claimed_ahead_stands)
{
    new_exec("c0", "cancel");
    new_exec("c1", "fast");
    ck_assert_int_eq(read_and_run(rc, "w1", handlers, NULL), 0);
    /* c1 was claimed with c0, so its handler ran; its end was refused */
    assert_field("c1", "status", "cancelled");
    assert_field("c1", "result", "stop");
    ck_assert_int_eq(pending(), 0);
}
END_TEST

START_TEST(unreachable_redis_leaves_entries_pending)
{
    new_exec("p1", "fast");
    new_exec("p2", "fast");
    struct rconn *dead = rconn_new("unix:/nonexistent/redis.sock");
    ck_assert_int_eq(read_and_run(dead, "w1", handlers, NULL), -1);
    rconn_free(dead);
    ck_assert_int_eq(runs, 0);
    ck_assert_int_eq(pending(), 2);
    assert_field("p1", "status", "ready");
    /* what the next reader (XAUTOCLAIM) gets runs normally */
    struct dur_entry none[1];
    ck_assert_int_eq(dur_run_entries(rc, "w1", handlers, &lim, STREAM, GROUP, none, 0), 0);
}
END_TEST

Suite *dur_exec_suite(void)
{
    Suite *s = suite_create("dur_exec");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    TCase *all[] = {core, limits, errs};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 30);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(core, batch_runs_every_entry_once_in_order);
    tcase_add_test(core, an_end_never_waits_behind_a_slow_run);
    tcase_add_test(core, suspensions_in_a_batch);
    tcase_add_test(core, ends_with_a_parent_or_a_lane);
    tcase_add_test(limits, old_claims_are_renewed_not_attempted_again);
    tcase_add_test(limits, another_workers_lease_and_exhausted_attempts);
    tcase_add_test(errs, entries_for_nothing_are_acknowledged);
    tcase_add_test(errs, a_cancel_while_claimed_ahead_stands);
    tcase_add_test(errs, unreachable_redis_leaves_entries_pending);
    return s;
}
