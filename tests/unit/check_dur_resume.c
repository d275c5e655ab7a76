/* check_dur_resume.c -- the resumer: reading notifications (a pure parser),
 * the rule that only a callback's completion HINCRBYs, and the resumer
 * threads against a real redis-server (AA_TEST_REDIS). */
#include "dur_exec.h"
#include "dur_resume.h"
#include "fixtures.h"
#include "keys.h"
#include "script.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A pub/sub message as hiredis hands it over: [kind, channel, payload]. */
struct msg {
    redisReply r, kind, ch, payload;
    redisReply *el[3];
};

static const redisReply *message(struct msg *m, const char *kind, const char *ch, const char *pl)
{
    memset(m, 0, sizeof(*m));
    redisReply *parts[3] = {&m->kind, &m->ch, &m->payload};
    const char *text[3] = {kind, ch, pl};
    for (int i = 0; i < 3; i++) {
        parts[i]->type = REDIS_REPLY_STRING;
        parts[i]->str = (char *)text[i];
        parts[i]->len = strlen(text[i]);
        m->el[i] = parts[i];
    }
    m->r.type = REDIS_REPLY_ARRAY;
    m->r.elements = 3;
    m->r.element = m->el;
    return &m->r;
}

START_TEST(notices_are_read)
{
    struct msg m;
    char t[128];
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", "__keyevent@0__:hincrby", "aa:cb:cb-x.T1"), t,
                         sizeof(t)),
        DUR_NOTICE_COMPLETION);
    ck_assert_str_eq(t, "cb-x.T1");
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", "__keyevent@12__:hincrby", "aa:cb:cb-y"), t,
                         sizeof(t)),
        DUR_NOTICE_COMPLETION);
    ck_assert_str_eq(t, "cb-y");
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", KEYS_RESUMERS_GONE, "Ab-_"), t, sizeof(t)),
        DUR_NOTICE_DEPARTURE);
    ck_assert_str_eq(t, "Ab-_");
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", KEYS_TIMERS_SOON, "1700000000123"), t, sizeof(t)),
        DUR_NOTICE_SOON);
    ck_assert_str_eq(t, "1700000000123");
    ck_assert_str_eq(dur_cb_tag("cb-abc.T1"), "T1");
    ck_assert_ptr_null(dur_cb_tag("cb-abc"));
}
END_TEST

START_TEST(notice_sizes)
{
    struct msg m;
    char t[16], key[64];
    /* the payload with its NUL must fit: 15 characters do, 16 do not */
    snprintf(key, sizeof(key), "aa:cb:%s", "123456789");
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", "__keyevent@0__:hincrby", key), t, sizeof(t)),
        DUR_NOTICE_COMPLETION);
    ck_assert_str_eq(t, "123456789");
    snprintf(key, sizeof(key), "aa:cb:%s", "1234567890");
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", "__keyevent@0__:hincrby", key), t, sizeof(t)),
        DUR_NOTICE_OTHER);
    /* a tag is at most 7 characters */
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", KEYS_RESUMERS_GONE, "1234567"), t, sizeof(t)),
        DUR_NOTICE_DEPARTURE);
    ck_assert_int_eq(
        dur_notice_parse(message(&m, "message", KEYS_RESUMERS_GONE, "12345678"), t, sizeof(t)),
        DUR_NOTICE_OTHER);
    ck_assert_int_eq(dur_notice_parse(message(&m, "message", KEYS_TIMERS_SOON, "1"), t, 1),
                     DUR_NOTICE_OTHER);
    ck_assert_int_eq(dur_notice_parse(message(&m, "message", KEYS_TIMERS_SOON, "1"), t, 0),
                     DUR_NOTICE_OTHER);
}
END_TEST

START_TEST(notices_that_are_not)
{
    struct msg m;
    char t[128];
    ck_assert_int_eq(dur_notice_parse(NULL, t, sizeof(t)), DUR_NOTICE_OTHER);
    const char *const bad[][3] = {
        {"subscribe", "__keyevent@0__:hincrby", "aa:cb:cb-x"},
        {"pmessage", "__keyevent@0__:hincrby", "aa:cb:cb-x"},
        {"message", "__keyevent@0__:hset", "aa:cb:cb-x"},
        {"message", "__keyevent@x__:hincrby", "aa:cb:cb-x"},
        {"message", "__keyevent@0__:hincrbyfloat", "aa:cb:cb-x"},
        {"message", "__keyevent@0__:hincrby", "aa:cb:"},
        {"message", "__keyevent@0__:hincrby", "aa:exec:e1"},
        {"message", KEYS_RESUMERS_GONE, ""},
        {"message", KEYS_RESUMERS_GONE, "a b"},
        {"message", "aa:other", "x"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dur_notice_parse(message(&m, bad[i][0], bad[i][1], bad[i][2]), t,
                                       sizeof(t)) == DUR_NOTICE_OTHER,
                      "case %zu", i);
    /* not an array of three strings */
    message(&m, "message", KEYS_TIMERS_SOON, "1");
    m.r.elements = 2;
    ck_assert_int_eq(dur_notice_parse(&m.r, t, sizeof(t)), DUR_NOTICE_OTHER);
    message(&m, "message", KEYS_TIMERS_SOON, "1");
    m.payload.type = REDIS_REPLY_INTEGER;
    ck_assert_int_eq(dur_notice_parse(&m.r, t, sizeof(t)), DUR_NOTICE_OTHER);
    /* a NUL inside the payload */
    message(&m, "message", "__keyevent@0__:hincrby", "aa:cb:cb-x");
    m.payload.len = 11;
    ck_assert_int_eq(dur_notice_parse(&m.r, t, sizeof(t)), DUR_NOTICE_OTHER);
}
END_TEST

/* The notification path hears HINCRBY keyevents: a second HINCRBY would
 * resume callbacks that were never answered, or nothing at all. */
START_TEST(only_a_completion_hincrbys)
{
    int seen = 0;
    for (size_t i = 0; i < script_count(); i++) {
        const struct script *s = script_at(i);
        const char *b = script_body(s);
        int has = 0;
        for (const char *p = b; *p; p++)
            if (!strncasecmp(p, "hincrby", 7) && strncasecmp(p, "hincrbyfloat", 12) != 0)
                has = 1;
        if (!strcmp(script_name(s), "cb_complete")) {
            ck_assert_msg(has, "cb_complete.lua must end a completion with HINCRBY");
            seen = 1;
        } else {
            ck_assert_msg(!has, "%s.lua uses HINCRBY, which the resumer reads as a completion",
                          script_name(s));
        }
    }
    ck_assert(seen);
}
END_TEST

static struct rconn *rc;
static const char *addr;
static const struct dur_limits lim = {60000, 5, 3600, 60000, "T1"};

static void setup(void)
{
    addr = fixture_redis_addr();
    rc = fixture_redis();
}

static void teardown(void)
{
    rconn_free(rc);
}

static char cbid[64];

static int remember(struct dur_ctx *ctx, const char *id, char **result, void *arg)
{
    (void)ctx;
    (void)arg;
    strlcpy_aa(cbid, id, sizeof(cbid));
    *result = xstrdup("sent");
    return DUR_OK;
}

static int waits(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    char *out = NULL;
    int rc_ = !strcmp(dur_exec_id(ctx), "timer")
                  ? dur_wait(ctx, "nap", 50)
                  : dur_callback(ctx, "cb", 60000, 0, remember, NULL, &out);
    if (rc_ == DUR_OK)
        *result = out ? out : xstrdup("woke");
    else
        free(out);
    return rc_;
}

static const struct dur_handler handlers[] = {{"waits", waits, NULL}, {NULL, NULL, NULL}};

static int status_is(const char *eid, const char *want)
{
    char key[KEYS_MAX];
    redisReply *r = rconn_cmd(rc, "HGET %s status", keys_exec(key, sizeof(key), eid));
    int ok = r && r->str && !strcmp(r->str, want);
    if (r)
        freeReplyObject(r);
    return ok;
}

static int poll_status(const char *eid, const char *want)
{
    for (int64_t until = mono_us() + 5000000; mono_us() < until; usleep(5000))
        if (status_is(eid, want))
            return 1;
    return 0;
}

static void suspend(const char *eid)
{
    ck_assert_int_eq(dur_start(rc, eid, "waits", "r:stream", "{}", "s1", "t", 600000), 0);
    ck_assert_int_eq(dur_run(rc, "w1", handlers, &lim, eid, NULL), 0);
    ck_assert(status_is(eid, "suspended"));
}

START_TEST(resumer_threads_resume_and_hand_over)
{
    char err[256] = "";
    struct dur_resume_opts o = {
        .redis = addr, .notifications = 1, .timers = 1, .retention_s = 3600, .tag = "T1"};
    struct dur_resumer *r = dur_resumer_start(&o, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    /* it configured the notifications it needs */
    redisReply *cfg = rconn_cmd(rc, "CONFIG GET notify-keyspace-events");
    ck_assert(strchr(cfg->element[1]->str, 'E') != NULL);
    freeReplyObject(cfg);
    /* the timer thread fires a durable timer */
    suspend("timer");
    ck_assert_msg(poll_status("timer", "ready"), "the timer did not fire");
    /* an answer is heard and the execution queued again (one that came
     * before the listener subscribed is swept when it does) */
    suspend("answered");
    ck_assert_str_eq(dur_cb_tag(cbid), "T1");
    redisReply *a = dur_complete(rc, cbid, "succeed", "s1", "yes", 3);
    ck_assert(a && a->type == REDIS_REPLY_ARRAY);
    freeReplyObject(a);
    ck_assert_msg(poll_status("answered", "ready"), "the completion was not resumed");
    ck_assert_int_eq(dur_run(rc, "w1", handlers, &lim, "answered", NULL), 0);
    ck_assert(status_is("answered", "succeeded"));
    /* on stop it hands its callbacks on */
    struct rconn *sub = rconn_new(addr);
    ck_assert_int_eq(rconn_connect(sub, err, sizeof(err)), 0);
    redisContext *c = rconn_ctx(sub);
    redisReply *s = redisCommand(c, "SUBSCRIBE %s", KEYS_RESUMERS_GONE);
    freeReplyObject(s);
    dur_resumer_stop(r);
    void *rep = NULL;
    ck_assert_int_eq(redisGetReply(c, &rep), REDIS_OK);
    char t[16];
    ck_assert_int_eq(dur_notice_parse(rep, t, sizeof(t)), DUR_NOTICE_DEPARTURE);
    ck_assert_str_eq(t, "T1");
    freeReplyObject(rep);
    rconn_free(sub);
    dur_resumer_stop(NULL);
}
END_TEST

START_TEST(resumer_without_redis)
{
    char err[256] = "";
    struct dur_resume_opts o = {.redis = "127.0.0.1:1", .notifications = 1, .retention_s = 1};
    ck_assert_ptr_null(dur_resumer_start(&o, err, sizeof(err)));
    ck_assert(err[0] != '\0');
}
END_TEST

Suite *dur_resume_suite(void)
{
    Suite *s = suite_create("dur_resume");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 20);
    tcase_add_test(core, notices_are_read);
    tcase_add_test(core, only_a_completion_hincrbys);
    tcase_add_test(core, resumer_threads_resume_and_hand_over);
    tcase_add_test(limits, notice_sizes);
    tcase_add_test(errs, notices_that_are_not);
    tcase_add_test(errs, resumer_without_redis);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
