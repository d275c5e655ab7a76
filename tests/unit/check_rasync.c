/* check_rasync.c -- the gateway's asynchronous Redis connection against a
 * real redis-server (AA_TEST_REDIS): replies, scripts with the NOSCRIPT
 * fallback, and the contract that every callback runs exactly once, with
 * NULL when the command could not be sent or its connection was lost, and
 * never from inside the call that sent it. */
#include "fixtures.h"
#include "rasync.h"
#include "rconn.h"
#include "suites.h"
#include "util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

static struct event_base *base;
static struct rconn *admin;
static const char *addr;

struct seen {
    int calls, nulls, connects;
    long long integer;
    char str[64];
};

static void on_reply(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct seen *s = arg;
    s->calls++;
    if (!r) {
        s->nulls++;
        return;
    }
    s->integer = r->integer;
    if (r->str)
        strlcpy_aa(s->str, r->str, sizeof(s->str));
}

static void on_connect(struct rasync *ra, void *arg)
{
    (void)ra;
    ((struct seen *)arg)->connects++;
}

/* Runs the loop until *flag is at least want, 5 s at most. */
static int spin_until(const int *flag, int want)
{
    for (int64_t until = mono_us() + 5000000; *flag < want && mono_us() < until;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return *flag >= want;
}

static void setup(void)
{
    addr = fixture_redis_addr();
    base = event_base_new();
    admin = rconn_new(addr);
    char err[256];
    ck_assert_msg(rconn_connect(admin, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
    rconn_free(admin);
    event_base_free(base);
}

START_TEST(replies_and_scripts)
{
    struct seen conn = {0}, a = {0}, b = {0};
    struct rasync *ra = rasync_new(base, addr, "t", on_connect, &conn);
    ck_assert(spin_until(&conn.connects, 1));
    ck_assert(rasync_connected(ra));
    const char *argv[] = {"ECHO", "hello"};
    rasync_cmdargv(ra, on_reply, &a, 2, argv, NULL);
    ck_assert_int_eq(a.calls, 0); /* never from inside the call */
    ck_assert(spin_until(&a.calls, 1));
    ck_assert_str_eq(a.str, "hello");
    /* a script after the cache was flushed: EVALSHA fails, EVAL runs it */
    freeReplyObject(rconn_cmd(admin, "SCRIPT FLUSH"));
    const char *args[] = {"t:timers", "nobody", "0"};
    rasync_eval(ra, on_reply, &b, "timer_fire", 1, 3, args, NULL);
    ck_assert(spin_until(&b.calls, 1));
    ck_assert_int_eq(b.nulls, 0);
    ck_assert(strstr(b.str, "NOSCRIPT") == NULL);
    rasync_free(ra);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 1);
}
END_TEST

static void on_smessage(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct seen *s = arg;
    if (!r) {
        s->nulls++;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
               !strcmp(r->element[0]->str, "smessage")) {
        strlcpy_aa(s->str, r->element[2]->str, sizeof(s->str));
        s->calls++;
    }
}

/* On one Redis a sharded subscription is the connection's (hiredis 0.14
 * learns of its messages through a SUBSCRIBE of the same name); the
 * connection ending ends it with NULL. */
START_TEST(sharded_subscription)
{
    struct seen conn = {0}, m = {0};
    struct rasync *ra = rasync_new(base, addr, "t", on_connect, &conn);
    ck_assert(spin_until(&conn.connects, 1));
    rasync_ssubscribe(ra, on_smessage, &m, "t:{x}:push");
    for (int64_t until = mono_us() + 5000000; m.calls == 0 && mono_us() < until;) {
        freeReplyObject(rconn_cmd(admin, "SPUBLISH t:{x}:push hello"));
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    ck_assert_int_ge(m.calls, 1);
    ck_assert_str_eq(m.str, "hello");
    /* a classic PUBLISH of the same name is not a sharded message (more
     * "hello"s of the loop may still arrive meanwhile) */
    freeReplyObject(rconn_cmd(admin, "PUBLISH t:{x}:push classic"));
    for (int64_t until = mono_us() + 200000; mono_us() < until;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ck_assert_str_eq(m.str, "hello");
    rasync_free(ra);
    ck_assert_int_eq(m.nulls, 1);
}
END_TEST

START_TEST(unsent_commands_fail_once_later)
{
    struct seen a = {0}, b = {0}, c = {0};
    struct rasync *ra = rasync_new(base, "127.0.0.1:1", "down", NULL, NULL);
    ck_assert(!rasync_connected(ra));
    const char *argv[] = {"PING"};
    rasync_cmdargv(ra, on_reply, &a, 1, argv, NULL);
    const char *args[] = {"k", "m", "0"};
    rasync_eval(ra, on_reply, &b, "timer_fire", 1, 3, args, NULL);
    rasync_subscribe(ra, on_reply, &c, "SUBSCRIBE", "nothing");
    ck_assert_int_eq(a.calls + b.calls + c.calls, 0);
    ck_assert(spin_until(&c.calls, 1));
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.nulls, 1);
    ck_assert_int_eq(b.nulls, 1);
    ck_assert_int_eq(c.nulls, 1);
    rasync_cmdargv(ra, NULL, NULL, 1, argv, NULL); /* no callback: nothing to run */
    struct seen d = {0};
    rasync_cmdargv(ra, on_reply, &d, 1, argv, NULL);
    rasync_free(ra); /* what is still queued runs now, once */
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.nulls, 1);
    ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(a_lost_connection_fails_once)
{
    struct seen conn = {0}, id = {0}, blocked = {0}, after = {0};
    struct rasync *ra = rasync_new(base, addr, "t", on_connect, &conn);
    ck_assert(spin_until(&conn.connects, 1));
    const char *cid[] = {"CLIENT", "ID"};
    rasync_cmdargv(ra, on_reply, &id, 2, cid, NULL);
    ck_assert(spin_until(&id.calls, 1));
    const char *blpop[] = {"BLPOP", "t:never", "10"};
    rasync_cmdargv(ra, on_reply, &blocked, 3, blpop, NULL);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    redisReply *k = rconn_cmd(admin, "CLIENT KILL ID %lld", id.integer);
    ck_assert(k && k->type == REDIS_REPLY_INTEGER && k->integer == 1);
    freeReplyObject(k);
    ck_assert(spin_until(&blocked.calls, 1));
    ck_assert_int_eq(blocked.nulls, 1);
    /* it reconnects by itself, and commands work again */
    ck_assert(spin_until(&conn.connects, 2));
    const char *argv[] = {"ECHO", "again"};
    rasync_cmdargv(ra, on_reply, &after, 2, argv, NULL);
    ck_assert(spin_until(&after.calls, 1));
    ck_assert_str_eq(after.str, "again");
    unsigned long long replies, reconnects;
    double secs;
    rasync_stats(ra, &replies, &secs, &reconnects);
    ck_assert_uint_ge(reconnects, 1);
    rasync_free(ra);
    ck_assert_int_eq(blocked.calls, 1);
}
END_TEST

Suite *rasync_suite(void)
{
    Suite *s = suite_create("rasync");
    TCase *core = tcase_create("core"), *errs = tcase_create("errors");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_set_timeout(errs, 20);
    tcase_add_test(core, replies_and_scripts);
    tcase_add_test(core, sharded_subscription);
    tcase_add_test(errs, unsent_commands_fail_once_later);
    tcase_add_test(errs, a_lost_connection_fails_once);
    suite_add_tcase(s, core);
    suite_add_tcase(s, errs);
    return s;
}
