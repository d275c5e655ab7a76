/* fixtures.h -- reading the test tables under tests/fixtures (TSV: a key,
 * a TAB, a value; lines starting with # are comments), and the test
 * redis-server that tests/run.sh starts (its address in AA_TEST_REDIS). */
#ifndef AA_TEST_FIXTURES_H
#define AA_TEST_FIXTURES_H

#include <stdio.h>

/* Opens tests/fixtures/<name> (the tests run from the repository root);
 * fails the test when it is missing. Returns: owned, fclose. */
FILE *fixture_open(const char *name);
/* The next row into line (len bytes): *key and *value point into it.
 * Returns 1, or 0 at the end. */
int fixture_row(FILE *f, char *line, size_t len, const char **key, const char **value);

/* The test redis-server's address; fails the test when it is not set.
 * Borrowed: the environment's. */
const char *fixture_redis_addr(void);
struct rconn;
/* A connection to the test redis-server, emptied (FLUSHALL); fails the
 * test when it cannot connect. Returns: owned, free with rconn_free. */
struct rconn *fixture_redis(void);
/* How many times Redis has run command cmd (lower case, as INFO
 * commandstats names it: "evalsha", "xreadgroup"), those run inside scripts
 * included; 0 when none or unreadable. */
long long fixture_redis_calls(struct rconn *rc, const char *cmd);

/* Starts a private Redis Cluster of masters x (1 + replicas) nodes on
 * loopback (ops/redis-cluster.sh) with its files in a new directory, and
 * fills dir (at least 64 bytes) and addr (its "cluster:..." seed address,
 * addrlen bytes); fails the test when it cannot. Stop with
 * fixture_cluster_stop, which removes dir. */
void fixture_cluster_start(int masters, int replicas, char *dir, char *addr, size_t addrlen);
void fixture_cluster_stop(const char *dir);

#endif
