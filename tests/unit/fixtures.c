/* fixtures.c -- the test tables' reader (see fixtures.h). */
#include "fixtures.h"
#include "rconn.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

const char *fixture_redis_addr(void)
{
    const char *addr = getenv("AA_TEST_REDIS");
    ck_assert_msg(addr && *addr, "AA_TEST_REDIS is not set: run the unit tests with tests/run.sh");
    return addr;
}

struct rconn *fixture_redis(void)
{
    struct rconn *rc = rconn_new(fixture_redis_addr());
    char err[256];
    ck_assert_msg(rconn_connect(rc, err, sizeof(err)) == 0, "%s", err);
    redisReply *r = rconn_cmd(rc, "FLUSHALL");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "FLUSHALL: %s", rconn_error(rc));
    freeReplyObject(r);
    return rc;
}

long long fixture_redis_calls(struct rconn *rc, const char *cmd)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    redisReply *r = rconn_cmd(rc, "INFO commandstats");
    const char *p = r && r->str ? strstr(r->str, pat) : NULL;
    long long n = p ? atoll(p + strlen(pat)) : 0;
    if (r)
        freeReplyObject(r);
    return n;
}

FILE *fixture_open(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: run from the repository root", path);
    return f;
}

int fixture_row(FILE *f, char *line, size_t len, const char **key, const char **value)
{
    while (fgets(line, (int)len, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = '\0';
        *key = line;
        *value = tab + 1;
        return 1;
    }
    return 0;
}

void fixture_cluster_start(int masters, int replicas, char *dir, char *addr, size_t addrlen)
{
    strcpy(dir, "/tmp/aa-cluster-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "bash ops/redis-cluster.sh start %s %d %d", dir, masters, replicas);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char *got = fgets(addr, (int)addrlen, f);
    int rc = pclose(f);
    ck_assert_msg(rc == 0 && got && strncmp(addr, "cluster:", 8) == 0, "%s: exit %d", cmd, rc);
    addr[strcspn(addr, "\n")] = '\0';
}

void fixture_cluster_stop(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "bash ops/redis-cluster.sh stop %s && rm -rf %s", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}
