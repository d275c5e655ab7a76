/* check_wk_loop.c -- the consumer loop (wk_run) against a real redis-server
 * (AA_TEST_REDIS): a backlog of slow jobs is shared by the consumers, not
 * held by the first to read; a backlog of no-op jobs is read in growing
 * batches; every job runs once. */
#include "dur_exec.h"
#include "fixtures.h"
#include "suites.h"
#include "util.h"
#include "wk_loop.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM "t:wk"

static struct rconn *rc;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t ran_on[2];
static int ran[2], runs_total, slow_ms;

static void setup(void)
{
    rc = fixture_redis();
    freeReplyObject(rconn_cmd(rc, "CONFIG RESETSTAT"));
}

static void teardown(void)
{
    rconn_free(rc);
}

/* Counts its runs per consumer thread. */
static int job(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)input;
    (void)arg;
    if (slow_ms)
        usleep((useconds_t)slow_ms * 1000);
    pthread_mutex_lock(&mu);
    pthread_t me = pthread_self();
    for (int i = 0; i < 2; i++) {
        if (ran[i] && !pthread_equal(ran_on[i], me))
            continue;
        ran_on[i] = me;
        ran[i]++;
        break;
    }
    runs_total++;
    pthread_mutex_unlock(&mu);
    *result = xstrdup("");
    return DUR_OK;
}

static const struct dur_handler handlers[] = {{"job", job, NULL}, {NULL, NULL, NULL}};

static struct wk_opts opts;

static void *loop_main(void *arg)
{
    (void)arg;
    wk_run(&opts);
    return NULL;
}

/* Starts n jobs, runs a loop of two consumer threads until all ended.
 * Returns: the XREADGROUP calls it made. */
static long long run_jobs(int n)
{
    for (int i = 0; i < n; i++) {
        char eid[32];
        snprintf(eid, sizeof(eid), "j%d", i);
        ck_assert_int_eq(dur_start(rc, eid, "job", STREAM, "{}", "s1", "", 60000), 0);
    }
    opts = (struct wk_opts){.redis = fixture_redis_addr(),
                            .stream = STREAM,
                            .group = "g",
                            .name = "wk",
                            .handlers = handlers,
                            .limits = {60000, 5, 3600, 60000, NULL},
                            .threads = 2,
                            .claim_idle_ms = 30000,
                            .metrics_bind = "127.0.0.1",
                            .metrics_port = -1};
    long long reads0 = fixture_redis_calls(rc, "xreadgroup");
    pthread_t t;
    pthread_create(&t, NULL, loop_main, NULL);
    int64_t deadline = mono_us() + 20 * 1000000LL;
    for (;;) {
        redisReply *r = rconn_cmd(rc, "ZCARD aa:exec:deadlines");
        long long left = r ? r->integer : -1;
        freeReplyObject(r);
        if (left == 0 || mono_us() > deadline)
            break;
        usleep(5000);
    }
    long long reads = fixture_redis_calls(rc, "xreadgroup") - reads0;
    kill(getpid(), SIGTERM); /* wk_run drains and returns */
    pthread_join(t, NULL);
    ck_assert_int_eq(runs_total, n);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "aa:exec:j%d", i);
        redisReply *r = rconn_cmd(rc, "HGET %s status", key);
        ck_assert_msg(r && r->str && !strcmp(r->str, "succeeded"), "%s did not succeed", key);
        freeReplyObject(r);
    }
    return reads;
}

START_TEST(slow_jobs_are_shared)
{
    /* six jobs of 150 ms, waiting before either consumer reads: the first
     * to read takes one, not all six */
    slow_ms = 150;
    run_jobs(6);
    ck_assert_msg(ran[0] >= 2 && ran[1] >= 2, "the consumers ran %d and %d of 6", ran[0], ran[1]);
}
END_TEST

START_TEST(fast_jobs_are_read_in_batches)
{
    slow_ms = 0;
    long long reads = run_jobs(400);
    /* two consumers reading 1, 2, 4 ... 32 at a time: about 20 reads, plus
     * the blocking ones while idle */
    ck_assert_msg(reads < 60, "%lld reads for 400 jobs", reads);
}
END_TEST

Suite *wk_loop_suite(void)
{
    Suite *s = suite_create("wk_loop");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 60);
    tcase_add_test(core, slow_jobs_are_shared);
    tcase_add_test(limits, fast_jobs_are_read_in_batches);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}
