/* rcluster.c -- Redis Cluster slot map, command slots and redirections. */
#include "rcluster.h"
#include "rslot.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_NODE 0xffff

struct rcluster {
    char (*nodes)[RCLUSTER_ADDR_MAX]; /* every address the map has named */
    size_t n_nodes, cap_nodes;
    uint16_t slot[RSLOT_COUNT]; /* index into nodes, NO_NODE when unknown */
};

int rcluster_is_cluster(const char *addr)
{
    return addr && strncmp(addr, RCLUSTER_PREFIX, sizeof(RCLUSTER_PREFIX) - 1) == 0;
}

/* 1 when s[0..n) is "host:port" (the host empty only when empty_host) with a
 * port 1-65535, and fits an address. */
static int valid_addr(const char *s, size_t n, int empty_host)
{
    if (n == 0 || n >= RCLUSTER_ADDR_MAX)
        return 0;
    const char *colon = memrchr(s, ':', n);
    if (!colon || colon == s + n - 1 || (colon == s && !empty_host))
        return 0;
    long port = 0;
    for (const char *p = colon + 1; p < s + n; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

int rcluster_seed(const char *addr, size_t i, char *buf, size_t len)
{
    if (!rcluster_is_cluster(addr))
        return -1;
    const char *p = addr + sizeof(RCLUSTER_PREFIX) - 1;
    for (; i > 0; i--) {
        p = strchr(p, ',');
        if (!p)
            return -1;
        p++;
    }
    size_t n = strcspn(p, ",");
    if (!valid_addr(p, n, 0) || n >= len)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

struct rcluster *rcluster_new(void)
{
    struct rcluster *m = xcalloc(1, sizeof(*m));
    memset(m->slot, 0xff, sizeof(m->slot));
    return m;
}

void rcluster_free(struct rcluster *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m);
}

/* The index of addr in the node table, added when new. */
static uint16_t node_index(struct rcluster *m, const char *addr)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i], addr) == 0)
            return (uint16_t)i;
    if (m->n_nodes == m->cap_nodes) {
        m->cap_nodes = m->cap_nodes ? m->cap_nodes * 2 : 8;
        m->nodes = xrealloc(m->nodes, m->cap_nodes * sizeof(*m->nodes));
    }
    snprintf(m->nodes[m->n_nodes], RCLUSTER_ADDR_MAX, "%s", addr);
    return (uint16_t)m->n_nodes++;
}

int rcluster_load(struct rcluster *m, const redisReply *r, const char *from_host, char *err,
                  size_t errlen)
{
    struct rcluster *next = rcluster_new();
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
        goto fail;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
            snprintf(err, errlen, "CLUSTER SLOTS: malformed range %zu", i);
            goto fail;
        }
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const char *host = e->element[2]->element[0]->str;
        long long port = e->element[2]->element[1]->integer;
        if (!*host || strcmp(host, "?") == 0)
            host = from_host;
        char addr[RCLUSTER_ADDR_MAX];
        int n = snprintf(addr, sizeof(addr), "%s:%lld", host, port);
        if (lo < 0 || hi >= RSLOT_COUNT || lo > hi || n < 0 || !valid_addr(addr, (size_t)n, 0)) {
            snprintf(err, errlen, "CLUSTER SLOTS: bad range %lld-%lld at %s", lo, hi, addr);
            goto fail;
        }
        uint16_t idx = node_index(next, addr);
        for (long long s = lo; s <= hi; s++)
            next->slot[s] = idx;
    }
    for (unsigned s = 0; s < RSLOT_COUNT; s++)
        if (next->slot[s] == NO_NODE) {
            snprintf(err, errlen, "CLUSTER SLOTS: slot %u is not served", s);
            goto fail;
        }
    free(m->nodes);
    *m = *next;
    free(next);
    return 0;
fail:
    rcluster_free(next);
    return -1;
}

const char *rcluster_node_of(const struct rcluster *m, unsigned slot)
{
    if (slot >= RSLOT_COUNT || m->slot[slot] == NO_NODE)
        return NULL;
    return m->nodes[m->slot[slot]];
}

int rcluster_set(struct rcluster *m, unsigned slot, const char *addr)
{
    if (slot >= RSLOT_COUNT || !valid_addr(addr, strlen(addr), 0))
        return -1;
    m->slot[slot] = node_index(m, addr);
    return 0;
}

/* 1 when node i serves a slot. */
static int serves(const struct rcluster *m, size_t i)
{
    for (unsigned s = 0; s < RSLOT_COUNT; s++)
        if (m->slot[s] == i)
            return 1;
    return 0;
}

size_t rcluster_masters(const struct rcluster *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_nodes; i++)
        n += (size_t)serves(m, i);
    return n;
}

const char *rcluster_master(const struct rcluster *m, size_t k)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (serves(m, i) && k-- == 0)
            return m->nodes[i];
    return NULL;
}

/* Reads "<digits>\r\n" at *p (below end) into *v. Returns 0 / -1. */
static int read_len(const char **p, const char *end, size_t *v)
{
    const char *s = *p;
    size_t n = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (n > (SIZE_MAX - 9) / 10)
            return -1;
        n = n * 10 + (size_t)(*s - '0');
    }
    if (end - s < 2 || s[0] != '\r' || s[1] != '\n')
        return -1;
    *p = s + 2;
    *v = n;
    return 0;
}

int rcluster_parse_cmd(const char *buf, size_t len, struct rcluster_arg *args, int max)
{
    const char *p = buf, *end = buf + len;
    size_t argc;
    if (len < 1 || *p++ != '*' || read_len(&p, end, &argc) < 0 || argc == 0 || argc > INT32_MAX)
        return -1;
    for (size_t i = 0; i < argc; i++) {
        size_t n;
        if (p >= end || *p++ != '$' || read_len(&p, end, &n) < 0 || (size_t)(end - p) < n ||
            end - p - (ptrdiff_t)n < 2 || p[n] != '\r' || p[n + 1] != '\n')
            return -1;
        if ((int)i < max) {
            args[i].p = p;
            args[i].len = n;
        }
        p += n + 2;
    }
    return p == end ? (int)argc : -1;
}

static int arg_is(const struct rcluster_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp(a->p, word, n) == 0;
}

/* Commands without keys, and commands whose first key is not argument 1. */
static const char *const keyless[] = {
    "PING",     "ECHO",    "INFO",      "SCRIPT",   "CLUSTER",   "CLIENT",     "CONFIG",  "DBSIZE",
    "FLUSHALL", "FLUSHDB", "TIME",      "PUBLISH",  "SUBSCRIBE", "PSUBSCRIBE", "COMMAND", "WAIT",
    "HELLO",    "AUTH",    "SELECT",    "READONLY", "READWRITE", "ASKING",     "MONITOR", "SLOWLOG",
    "SCAN",     "KEYS",    "RANDOMKEY", "LATENCY",  "MEMORY",    "FUNCTION",   "QUIT",    "RESET",
};

int rcluster_cmd_slot(int argc, const struct rcluster_arg *args)
{
    if (argc < 1)
        return -1;
    const struct rcluster_arg *a = &args[0];
    int key = 1;
    if (arg_is(a, "EVAL") || arg_is(a, "EVALSHA") || arg_is(a, "EVAL_RO") ||
        arg_is(a, "EVALSHA_RO") || arg_is(a, "FCALL") || arg_is(a, "FCALL_RO")) {
        if (argc < 3 || args[2].len == 0 || args[2].len > 9)
            return -1;
        long nkeys = 0;
        for (size_t i = 0; i < args[2].len; i++) {
            if (args[2].p[i] < '0' || args[2].p[i] > '9')
                return -1;
            nkeys = nkeys * 10 + (args[2].p[i] - '0');
        }
        if (nkeys == 0)
            return -1;
        key = 3;
    } else if (arg_is(a, "XREAD") || arg_is(a, "XREADGROUP")) {
        key = -1;
        for (int i = 1; i + 1 < argc; i++)
            if (arg_is(&args[i], "STREAMS")) {
                key = i + 1;
                break;
            }
    } else if (arg_is(a, "XINFO") || arg_is(a, "XGROUP") || arg_is(a, "OBJECT")) {
        key = 2;
    } else {
        for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
            if (arg_is(a, keyless[i]))
                return -1;
    }
    if (key < 0 || key >= argc)
        return -1;
    return (int)rslot_of(args[key].p, args[key].len);
}

int rcluster_formatted_slot(const char *cmd, size_t len)
{
    struct rcluster_arg args[16];
    int argc = rcluster_parse_cmd(cmd, len, args, 16);
    if (argc < 0)
        return -1;
    if (argc > 16) {
        /* A long command: its key is among the first arguments, except for
         * XREAD's, whose STREAMS may come later; parse them all then. */
        struct rcluster_arg *all = xmalloc(sizeof(*all) * (size_t)argc);
        rcluster_parse_cmd(cmd, len, all, argc);
        int slot = rcluster_cmd_slot(argc, all);
        free(all);
        return slot;
    }
    return rcluster_cmd_slot(argc, args);
}

int rcluster_redirect(const char *err, size_t errlen, unsigned *slot, char *addr, size_t len)
{
    int kind;
    const char *p;
    if (errlen > 6 && strncmp(err, "MOVED ", 6) == 0) {
        kind = 1;
        p = err + 6;
    } else if (errlen > 4 && strncmp(err, "ASK ", 4) == 0) {
        kind = 2;
        p = err + 4;
    } else {
        return 0;
    }
    const char *end = err + errlen;
    unsigned s = 0;
    const char *d = p;
    for (; p < end && *p >= '0' && *p <= '9' && p - d < 6; p++)
        s = s * 10 + (unsigned)(*p - '0');
    if (p == d || p >= end || *p != ' ' || s >= RSLOT_COUNT)
        return 0;
    p++;
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= len || n >= RCLUSTER_ADDR_MAX || memchr(p, ' ', n) || !valid_addr(p, n, 1))
        return 0;
    memcpy(addr, p, n);
    addr[n] = '\0';
    *slot = s;
    return kind;
}

void rcluster_full_addr(char *addr, size_t len, const char *from)
{
    const char *colon = strrchr(from, ':');
    if (addr[0] != ':' || !colon)
        return;
    char full[RCLUSTER_ADDR_MAX * 2];
    snprintf(full, sizeof(full), "%.*s%s", (int)(colon - from), from, addr);
    if (strlen(full) < len)
        memcpy(addr, full, strlen(full) + 1);
}

int rcluster_transient(const char *err, size_t errlen)
{
    static const char *const words[] = {"TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (errlen >= n && strncmp(err, words[i], n) == 0 && (errlen == n || err[n] == ' '))
            return 1;
    }
    return 0;
}
