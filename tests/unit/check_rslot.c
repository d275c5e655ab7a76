/* check_rslot.c -- Redis Cluster hash slots: the CRC's check value, the
 * hash tag rules at their edges, and 5,000 keys (hash tags, braces, binary
 * bytes, lengths 0-300) against CLUSTER KEYSLOT of a real redis-server
 * started here with cluster-enabled, read through guard pages. */
#include "rconn.h"
#include "rslot.h"
#include "suites.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned slot(const char *s)
{
    size_t n = strlen(s);
    char *g = guard_alloc(s, n);
    unsigned v = rslot_of(g, n);
    guard_free(g, n);
    return v;
}

START_TEST(crc_and_known_slots)
{
    ck_assert_uint_eq(rslot_crc16("123456789", 9), 0x31c3);
    ck_assert_uint_eq(rslot_crc16("", 0), 0);
    /* slots as redis-server's CLUSTER KEYSLOT gives them */
    ck_assert_uint_eq(slot("somekey"), 11058);
    ck_assert_uint_eq(slot("{user1}.following"), 8106);
    ck_assert_uint_eq(slot("key"), 12539);
    ck_assert_uint_eq(slot("id:{key}"), 12539);
}
END_TEST

START_TEST(hash_tag_edges)
{
    const char *cases[][2] = {
        {"{user1000}.following", "user1000"},
        {"foo{}{bar}", "foo{}{bar}"}, /* an empty first tag: the whole key */
        {"foo{{bar}}zap", "{bar"},    /* up to the first '}' after the first '{' */
        {"foo{bar}{zap}", "bar"},     /* the first tag only */
        {"{}", "{}"},
        {"{", "{"},
        {"}{a}", "a"},
        {"a{b", "a{b"},
        {"", ""},
        {"{x}", "x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i][0]), tn;
        char *g = guard_alloc(cases[i][0], n);
        const char *t = rslot_hash_tag(g, n, &tn);
        ck_assert_msg(tn == strlen(cases[i][1]) && !memcmp(t, cases[i][1], tn),
                      "tag of '%s' is '%.*s', wanted '%s'", cases[i][0], (int)tn, t, cases[i][1]);
        guard_free(g, n);
    }
    ck_assert_uint_eq(slot("{c07}:exec:e1"), slot("{c07}:stream:tool"));
}
END_TEST

/* Starts a cluster-enabled redis-server on a unix socket in dir. Returns its
 * pid. */
static pid_t start_cluster_node(const char *dir, char *sock, size_t socklen)
{
    snprintf(sock, socklen, "%s/r.sock", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char conf[300];
        snprintf(conf, sizeof(conf), "%s/nodes.conf", dir);
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--dir", dir,
               "--cluster-enabled", "yes", "--cluster-config-file", conf, "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(against_cluster_keyslot)
{
    char dir[] = "/tmp/aa-rslot-XXXXXX", sock[300], addr[320];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pid_t pid = start_cluster_node(dir, sock, sizeof(sock));
    snprintf(addr, sizeof(addr), "unix:%s", sock);
    struct rconn *rc = rconn_new(addr);
    char err[256];
    int64_t until = mono_us() + 10 * 1000000LL;
    while (rconn_connect(rc, err, sizeof(err)) < 0) {
        ck_assert_msg(mono_us() < until, "redis-server --cluster-enabled: %s", err);
        usleep(20000);
    }
    srand(7);
    char key[320];
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)(i < 300 ? i : rand() % 300);
        for (size_t j = 0; j < n; j++) {
            int r = rand() % 10;
            key[j] = r == 0   ? '{'
                     : r == 1 ? '}'
                     : r == 2 ? (char)(rand() % 256)
                              : "abc:xyz9"[rand() % 8];
        }
        const char *argv[] = {"CLUSTER", "KEYSLOT", key};
        size_t lens[] = {7, 7, n};
        redisReply *r = rconn_cmdargv(rc, 3, argv, lens);
        ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER, "CLUSTER KEYSLOT: %s",
                      r && r->str ? r->str : rconn_error(rc));
        char *g = guard_alloc(key, n);
        ck_assert_uint_eq(rslot_of(g, n), (unsigned)r->integer);
        guard_free(g, n);
        freeReplyObject(r);
    }
    rconn_free(rc);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *rslot_suite(void)
{
    Suite *s = suite_create("rslot");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");
    tcase_add_test(core, crc_and_known_slots);
    tcase_add_test(limits, hash_tag_edges);
    tcase_add_test(limits, against_cluster_keyslot);
    tcase_set_timeout(limits, 60);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}
