/* check_rcluster.c -- the Redis Cluster routing layer: the pure parts of
 * lib/rcluster (command parsing through guard pages, slots of commands,
 * redirections, seeds), then rconn against real clusters that
 * ops/redis-cluster.sh starts: keys spread over every master, MOVED after a
 * slot moves, ASK while it migrates, CROSSSLOT passed through, and a master
 * killed with SIGKILL while its replica takes over. */
#include "fixtures.h"
#include "rasync.h"
#include "rcluster.h"
#include "rconn.h"
#include "rslot.h"
#include "script.h"
#include "suites.h"
#include "util.h"

#include <check.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], addr[512];

static void cluster_up(void)
{
    fixture_cluster_start(3, 0, dir, addr, sizeof(addr));
}

static void cluster_up_replicas(void)
{
    fixture_cluster_start(3, 1, dir, addr, sizeof(addr));
}

static void cluster_down(void)
{
    fixture_cluster_stop(dir);
}

/* The slot a formatted command goes to, parsed from a guard-page buffer. */
static int slot_of_cmd(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    ck_assert_int_gt(len, 0);
    char *g = guard_alloc(cmd, (size_t)len);
    int slot = rcluster_formatted_slot(g, (size_t)len);
    guard_free(g, (size_t)len);
    redisFreeCommand(cmd);
    return slot;
}

static unsigned kslot(const char *k)
{
    return rslot_of(k, strlen(k));
}

START_TEST(command_slots)
{
    ck_assert_int_eq(slot_of_cmd("GET foo"), (int)kslot("foo"));
    ck_assert_int_eq(slot_of_cmd("HSET %s a b", "aa:exec:{c07}e1"), (int)kslot("{c07}"));
    ck_assert_int_eq(slot_of_cmd("EVALSHA abc 2 k1 k2 x"), (int)kslot("k1"));
    ck_assert_int_eq(slot_of_cmd("evalsha abc 0 x y"), -1);
    ck_assert_int_eq(slot_of_cmd("XREADGROUP GROUP g c COUNT 1 BLOCK 0 STREAMS s1 >"),
                     (int)kslot("s1"));
    ck_assert_int_eq(slot_of_cmd("XREAD COUNT 1 STREAMS s2 0"), (int)kslot("s2"));
    ck_assert_int_eq(slot_of_cmd("XGROUP CREATE s3 g $ MKSTREAM"), (int)kslot("s3"));
    ck_assert_int_eq(slot_of_cmd("XINFO STREAM s4"), (int)kslot("s4"));
    ck_assert_int_eq(slot_of_cmd("SPUBLISH ch x"), (int)kslot("ch"));
    ck_assert_int_eq(slot_of_cmd("PING"), -1);
    ck_assert_int_eq(slot_of_cmd("SCRIPT LOAD x"), -1);
    ck_assert_int_eq(slot_of_cmd("PUBLISH ch x"), -1);
    ck_assert_int_eq(slot_of_cmd("SCAN 0 MATCH aa:*"), -1);
    ck_assert_int_eq(slot_of_cmd("GET"), -1); /* no key given */
    /* A command longer than the first parse: EVALSHA with 40 arguments, and
     * an XREADGROUP whose STREAMS comes after the 16th argument. */
    const char *argv[44];
    size_t lens[44];
    argv[0] = "EVALSHA", argv[1] = "sha", argv[2] = "1", argv[3] = "thekey";
    for (int i = 4; i < 44; i++)
        argv[i] = "v";
    for (int i = 0; i < 44; i++)
        lens[i] = strlen(argv[i]);
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, 44, argv, lens);
    ck_assert_int_eq(rcluster_formatted_slot(cmd, (size_t)len), (int)kslot("thekey"));
    redisFreeCommand(cmd);
    const char *x[24] = {"XREADGROUP", "GROUP", "g", "c"};
    for (int i = 4; i < 21; i++)
        x[i] = "NOACK";
    x[21] = "STREAMS", x[22] = "late", x[23] = ">";
    for (int i = 0; i < 24; i++)
        lens[i] = strlen(x[i]);
    len = redisFormatCommandArgv(&cmd, 24, x, lens);
    ck_assert_int_eq(rcluster_formatted_slot(cmd, (size_t)len), (int)kslot("late"));
    redisFreeCommand(cmd);
}
END_TEST

START_TEST(redirects_and_seeds)
{
    unsigned slot = 0;
    char a[RCLUSTER_ADDR_MAX];
    const char *m = "MOVED 3999 127.0.0.1:6381";
    ck_assert_int_eq(rcluster_redirect(m, strlen(m), &slot, a, sizeof(a)), 1);
    ck_assert_uint_eq(slot, 3999);
    ck_assert_str_eq(a, "127.0.0.1:6381");
    const char *k = "ASK 16383 :7000";
    ck_assert_int_eq(rcluster_redirect(k, strlen(k), &slot, a, sizeof(a)), 2);
    ck_assert_uint_eq(slot, 16383);
    ck_assert_str_eq(a, ":7000");
    const char *bad[] = {"MOVED 16384 h:1",
                         "MOVED x h:1",
                         "MOVED 1",
                         "MOVED 1 h",
                         "MOVED 1 h:0",
                         "MOVED 1 h:70000",
                         "ASK 1 h:1 x",
                         "ERR MOVED 1 h:1",
                         "MOVED  1 h:1",
                         "MOVED 1 ",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(rcluster_redirect(bad[i], strlen(bad[i]), &slot, a, sizeof(a)) == 0, "%s",
                      bad[i]);
    ck_assert(rcluster_transient("TRYAGAIN Multiple keys request during rehashing", 47));
    ck_assert(rcluster_transient("CLUSTERDOWN", 11));
    ck_assert(!rcluster_transient("TRYAGAINX", 9));
    ck_assert(!rcluster_transient("CROSSSLOT Keys", 14));

    ck_assert(rcluster_is_cluster("cluster:h:1"));
    ck_assert(!rcluster_is_cluster("unix:/x"));
    ck_assert_int_eq(rcluster_seed("cluster:h:1,10.0.0.2:6380", 1, a, sizeof(a)), 0);
    ck_assert_str_eq(a, "10.0.0.2:6380");
    ck_assert_int_eq(rcluster_seed("cluster:h:1,10.0.0.2:6380", 2, a, sizeof(a)), -1);
    ck_assert_int_eq(rcluster_seed("cluster:", 0, a, sizeof(a)), -1);
    ck_assert_int_eq(rcluster_seed("cluster::1", 0, a, sizeof(a)), -1);
    ck_assert_int_eq(rcluster_seed("cluster:h:1,,h:2", 1, a, sizeof(a)), -1);
    ck_assert_int_eq(rcluster_seed("h:1", 0, a, sizeof(a)), -1);
}
END_TEST

START_TEST(parse_every_prefix)
{
    const char *argv[] = {"SET", "", "a\r\nb", "$3\r\n"};
    size_t lens[] = {3, 0, 4, 4};
    char *cmd = NULL;
    long long len = redisFormatCommandArgv(&cmd, 4, argv, lens);
    struct rcluster_arg args[4];
    for (long long n = 0; n < len; n++) {
        char *g = guard_alloc(cmd, (size_t)n);
        ck_assert_int_eq(rcluster_parse_cmd(g, (size_t)n, args, 4), -1);
        guard_free(g, (size_t)n);
    }
    char *g = guard_alloc(cmd, (size_t)len);
    ck_assert_int_eq(rcluster_parse_cmd(g, (size_t)len, args, 4), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(args[i].len, lens[i]);
        ck_assert(memcmp(args[i].p, argv[i], lens[i]) == 0);
    }
    ck_assert_int_eq(rcluster_parse_cmd(g, (size_t)len, args, 1), 4); /* argc beyond max */
    guard_free(g, (size_t)len);
    redisFreeCommand(cmd);
    const char *junk[] = {"*1\r\n$3\r\nGET\r\nX",
                          "*0\r\n",
                          "*1\r\n$99999999999999999999\r\n",
                          "*1\r\n$3\r\nGETX\n",
                          "*-1\r\n",
                          "GET foo\r\n",
                          "*1\n$3\nGET\n",
                          "*2\r\n$3\r\nGET\r\n"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        size_t n = strlen(junk[i]);
        char *j = guard_alloc(junk[i], n);
        ck_assert_msg(rcluster_parse_cmd(j, n, args, 4) == -1, "%s", junk[i]);
        guard_free(j, n);
    }
}
END_TEST

/* A connection to one node, not routed: for the tests' admin commands. */
static struct rconn *node(const char *a)
{
    struct rconn *rc = rconn_new(a);
    char err[256];
    ck_assert_msg(rconn_connect(rc, err, sizeof(err)) == 0, "%s", err);
    return rc;
}

static redisReply *must(redisReply *r, int type)
{
    ck_assert_msg(r && r->type == type, "reply %d: %s", r ? r->type : -1,
                  r && r->type == REDIS_REPLY_ERROR ? r->str : "");
    return r;
}

START_TEST(keys_on_every_master)
{
    struct rconn *rc = rconn_new(addr);
    char err[256], k[64], v[64];
    ck_assert_msg(rconn_connect(rc, err, sizeof(err)) == 0, "%s", err);
    ck_assert(rconn_is_cluster(rc));
    ck_assert_uint_eq(rconn_masters(rc), 3);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof(k), "aa:session:s%d:owner", i);
        snprintf(v, sizeof(v), "u%d", i);
        freeReplyObject(must(rconn_cmd(rc, "SET %s %s", k, v), REDIS_REPLY_STATUS));
    }
    long long total = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *a;
        redisContext *ctx = rconn_master_ctx(rc, i, &a);
        ck_assert_ptr_nonnull(ctx);
        redisReply *r = must(redisCommand(ctx, "DBSIZE"), REDIS_REPLY_INTEGER);
        ck_assert_msg(r->integer > 800, "master %s holds %lld of 3000 keys", a, r->integer);
        total += r->integer;
        freeReplyObject(r);
        /* The scripts were loaded on every master the connection used. */
        r = must(redisCommand(ctx, "SCRIPT EXISTS %s", script_sha(script_at(0))),
                 REDIS_REPLY_ARRAY);
        ck_assert_int_eq(r->element[0]->integer, 1);
        freeReplyObject(r);
    }
    ck_assert_int_eq(total, 3000);
    for (int i = 0; i < 3000; i += 7) {
        snprintf(k, sizeof(k), "aa:session:s%d:owner", i);
        snprintf(v, sizeof(v), "u%d", i);
        redisReply *r = must(rconn_cmd(rc, "GET %s", k), REDIS_REPLY_STRING);
        ck_assert_str_eq(r->str, v);
        freeReplyObject(r);
        r = must(rconn_cmd(rc, "EVAL %s 1 %s", "return redis.call('GET', KEYS[1])", k),
                 REDIS_REPLY_STRING);
        ck_assert_str_eq(r->str, v);
        freeReplyObject(r);
    }
    /* Keys of one hash tag may go together; others are refused as is. */
    freeReplyObject(must(rconn_cmd(rc, "MSET {c1}a 1 {c1}b 2"), REDIS_REPLY_STATUS));
    redisReply *r = must(rconn_cmd(rc, "MSET a 1 b 2"), REDIS_REPLY_ERROR);
    ck_assert_msg(strncmp(r->str, "CROSSSLOT", 9) == 0, "%s", r->str);
    freeReplyObject(r);
    freeReplyObject(must(rconn_cmd(rc, "PING"), REDIS_REPLY_STATUS));
    rconn_free(rc);
}
END_TEST

/* The address and node id of the master serving slot. */
static void master_of(struct rconn *rc, unsigned slot, char *a, size_t alen, char *id, size_t idlen)
{
    for (size_t i = 0; i < rconn_masters(rc); i++) {
        const char *ma;
        redisContext *ctx = rconn_master_ctx(rc, i, &ma);
        ck_assert_ptr_nonnull(ctx);
        redisReply *r = must(redisCommand(ctx, "CLUSTER MYID"), REDIS_REPLY_STRING);
        redisReply *s = must(redisCommand(ctx, "CLUSTER SLOTS"), REDIS_REPLY_ARRAY);
        int serves = 0;
        for (size_t j = 0; j < s->elements; j++) {
            redisReply *e = s->element[j];
            if ((unsigned)e->element[0]->integer <= slot &&
                slot <= (unsigned)e->element[1]->integer &&
                strcmp(e->element[2]->element[2]->str, r->str) == 0)
                serves = 1;
        }
        if (serves) {
            snprintf(a, alen, "%s", ma);
            snprintf(id, idlen, "%s", r->str);
        }
        freeReplyObject(s);
        freeReplyObject(r);
    }
}

START_TEST(moved_and_ask)
{
    struct rconn *rc = rconn_new(addr);
    char err[256], k[64];
    ck_assert_msg(rconn_connect(rc, err, sizeof(err)) == 0, "%s", err);
    /* Twenty keys of one slot, through the routed connection. */
    unsigned slot = kslot("{mv}");
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "{mv}k%d", i);
        freeReplyObject(must(rconn_cmd(rc, "SET %s v%d", k, i), REDIS_REPLY_STATUS));
    }
    char from[64], from_id[64], to[64] = "", to_id[64] = "";
    master_of(rc, slot, from, sizeof(from), from_id, sizeof(from_id));
    for (size_t i = 0; i < 3 && !to[0]; i++) {
        const char *ma;
        redisContext *ctx = rconn_master_ctx(rc, i, &ma);
        if (strcmp(ma, from) == 0)
            continue;
        redisReply *r = must(redisCommand(ctx, "CLUSTER MYID"), REDIS_REPLY_STRING);
        snprintf(to, sizeof(to), "%s", ma);
        snprintf(to_id, sizeof(to_id), "%s", r->str);
        freeReplyObject(r);
    }
    struct rconn *src = node(from), *dst = node(to);
    /* Migrating: half of the keys moved. */
    freeReplyObject(
        must(rconn_cmd(dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, from_id), REDIS_REPLY_STATUS));
    freeReplyObject(
        must(rconn_cmd(src, "CLUSTER SETSLOT %u MIGRATING %s", slot, to_id), REDIS_REPLY_STATUS));
    char host[64];
    int port, is_unix;
    ck_assert_int_eq(rconn_parse_addr(to, host, sizeof(host), &port, &is_unix), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "{mv}k%d", i);
        redisReply *r =
            must(rconn_cmd(src, "MIGRATE %s %d %s 0 5000", host, port, k), REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "{mv}k%d", i);
        redisReply *r = must(rconn_cmd(rc, "GET %s", k), REDIS_REPLY_STRING);
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        ck_assert_str_eq(r->str, want);
        freeReplyObject(r);
    }
    /* A new key of a migrating slot is made on the importing node (ASK). */
    freeReplyObject(must(rconn_cmd(rc, "SET {mv}new n"), REDIS_REPLY_STATUS));
    /* The rest moved, the slot given to its new master on every node. */
    for (int i = 10; i < 20; i++) {
        snprintf(k, sizeof(k), "{mv}k%d", i);
        freeReplyObject(
            must(rconn_cmd(src, "MIGRATE %s %d %s 0 5000", host, port, k), REDIS_REPLY_STATUS));
    }
    for (size_t i = 0; i < 3; i++) {
        redisContext *ctx = rconn_master_ctx(rc, i, NULL);
        freeReplyObject(
            must(redisCommand(ctx, "CLUSTER SETSLOT %u NODE %s", slot, to_id), REDIS_REPLY_STATUS));
    }
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "{mv}k%d", i);
        freeReplyObject(must(rconn_cmd(rc, "GET %s", k), REDIS_REPLY_STRING));
    }
    redisReply *r = must(rconn_cmd(rc, "GET {mv}new"), REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "n");
    freeReplyObject(r);
    /* The routed connection learnt the move: the slot's keys are on dst. */
    r = must(rconn_cmd(dst, "CLUSTER COUNTKEYSINSLOT %u", slot), REDIS_REPLY_INTEGER);
    ck_assert_int_eq(r->integer, 21);
    freeReplyObject(r);
    rconn_free(src);
    rconn_free(dst);
    rconn_free(rc);
}
END_TEST

START_TEST(master_killed)
{
    struct rconn *rc = rconn_new(addr);
    char err[256], k[64], v[64];
    ck_assert_msg(rconn_connect(rc, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 600; i++) {
        snprintf(k, sizeof(k), "fo%d", i);
        freeReplyObject(must(rconn_cmd(rc, "SET %s v%d", k, i), REDIS_REPLY_STATUS));
    }
    /* Every write on a replica before the kill (what WAIT gives). */
    for (size_t i = 0; i < 3; i++) {
        redisContext *ctx = rconn_master_ctx(rc, i, NULL);
        redisReply *r = must(redisCommand(ctx, "WAIT 1 5000"), REDIS_REPLY_INTEGER);
        ck_assert_int_eq(r->integer, 1);
        freeReplyObject(r);
    }
    char victim[64], id[64], pidfile[256];
    master_of(rc, kslot("fo0"), victim, sizeof(victim), id, sizeof(id));
    snprintf(pidfile, sizeof(pidfile), "%s/%s/redis.pid", dir, strrchr(victim, ':') + 1);
    FILE *f = fopen(pidfile, "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int64_t t0 = mono_us(), until = t0 + 30 * 1000000LL;
    int unreachable = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(k, sizeof(k), "fo%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        redisReply *r;
        while (!(r = rconn_cmd(rc, "GET %s", k))) {
            unreachable++;
            ck_assert_msg(mono_us() < until, "GET %s: %s", k, rconn_error(rc));
        }
        must(r, REDIS_REPLY_STRING);
        ck_assert_str_eq(r->str, v);
        freeReplyObject(r);
    }
    fprintf(stderr,
            "# rcluster: master %s killed; all 600 keys read back after %.1f s (%d "
            "commands gave up first)\n",
            victim, (double)(mono_us() - t0) / 1e6, unreachable);
    ck_assert_uint_eq(rconn_masters(rc), 3);
    for (size_t i = 0; i < 3; i++) {
        const char *a;
        rconn_master_ctx(rc, i, &a);
        ck_assert_str_ne(a, victim);
    }
    rconn_free(rc);
}
END_TEST

/* Moves slot (its keys too) to another master, as a reshard does. */
static void move_slot(struct rconn *rc, unsigned slot)
{
    char from[64], from_id[64], to[64] = "", to_id[64] = "";
    master_of(rc, slot, from, sizeof(from), from_id, sizeof(from_id));
    for (size_t i = 0; i < rconn_masters(rc) && !to[0]; i++) {
        const char *ma;
        redisContext *ctx = rconn_master_ctx(rc, i, &ma);
        if (strcmp(ma, from) == 0)
            continue;
        redisReply *r = must(redisCommand(ctx, "CLUSTER MYID"), REDIS_REPLY_STRING);
        snprintf(to, sizeof(to), "%s", ma);
        snprintf(to_id, sizeof(to_id), "%s", r->str);
        freeReplyObject(r);
    }
    struct rconn *src = node(from), *dst = node(to);
    freeReplyObject(
        must(rconn_cmd(dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, from_id), REDIS_REPLY_STATUS));
    freeReplyObject(
        must(rconn_cmd(src, "CLUSTER SETSLOT %u MIGRATING %s", slot, to_id), REDIS_REPLY_STATUS));
    char host[64];
    int port, is_unix;
    ck_assert_int_eq(rconn_parse_addr(to, host, sizeof(host), &port, &is_unix), 0);
    for (;;) {
        redisReply *r =
            must(rconn_cmd(src, "CLUSTER GETKEYSINSLOT %u 100", slot), REDIS_REPLY_ARRAY);
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++)
            freeReplyObject(
                must(rconn_cmd(src, "MIGRATE %s %d %s 0 5000", host, port, r->element[i]->str),
                     REDIS_REPLY_STATUS));
        freeReplyObject(r);
        if (n == 0)
            break;
    }
    for (size_t i = 0; i < rconn_masters(rc); i++)
        freeReplyObject(must(
            redisCommand(rconn_master_ctx(rc, i, NULL), "CLUSTER SETSLOT %u NODE %s", slot, to_id),
            REDIS_REPLY_STATUS));
    rconn_free(src);
    rconn_free(dst);
}

struct tally {
    int connects, replies, nulls, errors, messages, onces;
    char last[64];
};

static void on_tally(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct tally *t = arg;
    t->replies++;
    if (!r)
        t->nulls++;
    else if (r->type == REDIS_REPLY_ERROR)
        t->errors++;
    else if (r->type == REDIS_REPLY_STRING)
        snprintf(t->last, sizeof(t->last), "%s", r->str);
}

static void on_up(struct rasync *ra, void *arg)
{
    (void)ra;
    ((struct tally *)arg)->connects++;
}

static void on_message(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        strcmp(r->element[0]->str, "message") == 0)
        ((struct tally *)arg)->messages++;
}

/* Runs base's loop until *v reaches want or ms pass. */
static int spin(struct event_base *base, const int *v, int want, int ms)
{
    for (int64_t until = mono_us() + ms * 1000LL; *v < want && mono_us() < until;)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return *v >= want;
}

/* n SETs (or GETs) of keys prefix0.. through ra; returns when all replied. */
static void async_keys(struct event_base *base, struct rasync *ra, const char *verb,
                       const char *prefix, int n, struct tally *t)
{
    int before = t->replies;
    for (int i = 0; i < n; i++) {
        char k[64];
        snprintf(k, sizeof(k), "%s%d", prefix, i);
        const char *argv[] = {verb, k, k};
        rasync_cmdargv(ra, on_tally, t, strcmp(verb, "SET") == 0 ? 3 : 2, argv, NULL);
    }
    ck_assert_msg(spin(base, &t->replies, before + n, 20000), "%d of %d replies",
                  t->replies - before, n);
}

START_TEST(async_routes_and_follows)
{
    struct event_base *base = event_base_new();
    struct tally t = {0};
    struct rasync *ra = rasync_new(base, addr, "test", on_up, &t);
    ck_assert(spin(base, &t.connects, 1, 10000));
    ck_assert(rasync_connected(ra));
    async_keys(base, ra, "SET", "as", 2000, &t);
    ck_assert_int_eq(t.nulls + t.errors, 0);
    struct rconn *rc = rconn_new(addr);
    for (size_t i = 0; i < 3; i++) {
        redisReply *r =
            must(redisCommand(rconn_master_ctx(rc, i, NULL), "DBSIZE"), REDIS_REPLY_INTEGER);
        ck_assert_int_gt(r->integer, 500);
        freeReplyObject(r);
    }
    /* A script with a key, through a node's EVALSHA (and EVAL on NOSCRIPT). */
    const char *ev[] = {"EVAL", "return redis.call('GET', KEYS[1])", "1", "as7"};
    rasync_cmdargv(ra, on_tally, &t, 4, ev, NULL);
    int want = t.replies + 1;
    ck_assert(spin(base, &t.replies, want, 5000));
    ck_assert_str_eq(t.last, "as7");
    /* Slots moved under the connection: MOVED is followed, nothing lost. */
    for (int i = 0; i < 2000; i += 400) {
        char k[16];
        snprintf(k, sizeof(k), "as%d", i);
        move_slot(rc, kslot(k));
    }
    async_keys(base, ra, "GET", "as", 2000, &t);
    ck_assert_int_eq(t.nulls + t.errors, 0);
    /* Subscriptions live on one node; PUBLISH reaches them from any. */
    rasync_subscribe(ra, on_message, &t, "SUBSCRIBE", "aa:test:chan");
    for (int64_t until = mono_us() + 5000000; t.messages == 0 && mono_us() < until;) {
        freeReplyObject(must(rconn_cmd(rc, "PUBLISH aa:test:chan hi"), REDIS_REPLY_INTEGER));
        int none = 0;
        spin(base, &none, 1, 50);
    }
    ck_assert_int_ge(t.messages, 1);
    ck_assert_int_eq(t.connects, 1);
    rasync_free(ra);
    rconn_free(rc);
    event_base_free(base);
}
END_TEST

static void on_smessage(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        strcmp(r->element[0]->str, "smessage") == 0) {
        ((struct tally *)arg)->messages++;
        ((struct tally *)arg)->onces += strcmp(r->element[2]->str, "once") == 0;
    }
}

/* SPUBLISH ch until t has want messages (5 s at most). */
static int spublish_until(struct event_base *base, struct rconn *rc, const char *ch,
                          struct tally *t, int want)
{
    for (int64_t until = mono_us() + 5000000; t->messages < want && mono_us() < until;) {
        redisReply *r = rconn_cmd(rc, "SPUBLISH %s hi", ch);
        if (r)
            freeReplyObject(r);
        int none = 0;
        spin(base, &none, 1, 50);
    }
    return t->messages >= want;
}

START_TEST(async_sharded_follows)
{
    struct event_base *base = event_base_new();
    struct tally t = {0};
    struct rasync *ra = rasync_new(base, addr, "test", on_up, &t);
    ck_assert(spin(base, &t.connects, 1, 10000));
    struct rconn *rc = rconn_new(addr);
    const char *ch = "aa:{shard}:chan";
    rasync_ssubscribe(ra, on_smessage, &t, ch);
    ck_assert_msg(spublish_until(base, rc, ch, &t, 1), "no smessage on its slot's master");
    /* Its slot moves (Redis says sunsubscribe): held again on the new master. */
    move_slot(rc, kslot(ch));
    int had = t.messages;
    ck_assert_msg(spublish_until(base, rc, ch, &t, had + 1), "no smessage after the slot moved");
    /* Subscribing again (a caller after a reconnection) holds it once. */
    rasync_ssubscribe(ra, on_smessage, &t, ch);
    freeReplyObject(must(rconn_cmd(rc, "SPUBLISH %s once", ch), REDIS_REPLY_INTEGER));
    int none = 0;
    spin(base, &none, 1, 300);
    ck_assert_int_eq(t.onces, 1);
    rasync_free(ra);
    rconn_free(rc);
    event_base_free(base);
}
END_TEST

START_TEST(async_master_killed)
{
    struct event_base *base = event_base_new();
    struct tally t = {0};
    struct rasync *ra = rasync_new(base, addr, "test", on_up, &t);
    ck_assert(spin(base, &t.connects, 1, 10000));
    async_keys(base, ra, "SET", "ak", 600, &t);
    ck_assert_int_eq(t.nulls + t.errors, 0);
    struct rconn *rc = rconn_new(addr);
    for (size_t i = 0; i < 3; i++)
        freeReplyObject(
            must(redisCommand(rconn_master_ctx(rc, i, NULL), "WAIT 1 5000"), REDIS_REPLY_INTEGER));
    /* Kill the master the subscriptions are on (the first seed's). */
    char victim[64], pidfile[256];
    ck_assert_int_eq(rcluster_seed(addr, 0, victim, sizeof(victim)), 0);
    snprintf(pidfile, sizeof(pidfile), "%s/%s/redis.pid", dir, strrchr(victim, ':') + 1);
    FILE *f = fopen(pidfile, "r");
    ck_assert_ptr_nonnull(f);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int64_t t0 = mono_us();
    /* Every GET is answered (each waits up to 5 s), those of the dead
     * master's keys by its replica once promoted; sent again on NULL. */
    int got = 0;
    for (int round = 0; round < 10 && got < 600; round++) {
        t.nulls = 0;
        int before = t.replies;
        async_keys(base, ra, "GET", "ak", 600, &t);
        got = t.replies - before - t.nulls;
    }
    ck_assert_int_eq(got, 600);
    ck_assert_int_eq(t.errors, 0);
    /* The subscriber moved to a live master and said so. */
    ck_assert_msg(spin(base, &t.connects, 2, 10000), "connects %d", t.connects);
    fprintf(stderr, "# rcluster: async: master %s killed; 600 GETs answered after %.1f s\n", victim,
            (double)(mono_us() - t0) / 1e6);
    rasync_free(ra);
    rconn_free(rc);
    event_base_free(base);
}
END_TEST

Suite *rcluster_suite(void)
{
    Suite *s = suite_create("rcluster");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *cluster = tcase_create("cluster"), *failover = tcase_create("failover");
    tcase_add_test(core, command_slots);
    tcase_add_test(core, redirects_and_seeds);
    tcase_add_test(limits, parse_every_prefix);
    tcase_add_unchecked_fixture(cluster, cluster_up, cluster_down);
    tcase_add_test(cluster, keys_on_every_master);
    tcase_add_test(cluster, moved_and_ask);
    tcase_add_test(cluster, async_routes_and_follows);
    tcase_add_test(cluster, async_sharded_follows);
    tcase_set_timeout(cluster, 60);
    tcase_add_checked_fixture(failover, cluster_up_replicas, cluster_down); /* one each */
    tcase_add_test(failover, master_killed);
    tcase_add_test(failover, async_master_killed);
    tcase_set_timeout(failover, 90);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, cluster);
    suite_add_tcase(s, failover);
    return s;
}
