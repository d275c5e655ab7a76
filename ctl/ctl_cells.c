/* ctl_cells.c -- aa-ctl cells show|balance. A cell is one hash slot (the
 * slot of its tag {cK}); the even slot ranges of `redis-cli --cluster
 * create` leave some masters more cells than others (CRC16 of the short
 * sequential tags clusters), and a cluster's throughput is that of its
 * busiest master. balance moves whole cells, live: IMPORTING on the new
 * master, MIGRATING on the old, its keys MIGRATEd in batches, then SETSLOT
 * NODE on every master; the programs follow MOVED, ASK and TRYAGAIN. */
#include "ctl_cells.h"
#include "keys.h"
#include "rslot.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct master {
    const char *addr;
    redisContext *ctx;
    char id[64];
    int cells;
};

struct cell {
    unsigned slot;
    int at; /* index in the masters */
};

/* The masters and where each cell is. Returns the number of masters, or -1
 * (*cs and *ms owned: free them). */
static int survey(struct rconn *rc, struct master **ms, struct cell **cs)
{
    size_t n = rconn_masters(rc);
    *ms = xcalloc(n ? n : 1, sizeof(**ms));
    *cs = xcalloc(keys_cells(), sizeof(**cs));
    for (size_t i = 0; i < n; i++) {
        struct master *m = &(*ms)[i];
        m->ctx = rconn_master_ctx(rc, i, &m->addr);
        redisReply *r = m->ctx ? redisCommand(m->ctx, "CLUSTER MYID") : NULL;
        if (!r || r->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "aa-ctl: master %s: %s\n", m->addr ? m->addr : "?",
                    r && r->str ? r->str : "unreachable");
            if (r)
                freeReplyObject(r);
            return -1;
        }
        strlcpy_aa(m->id, r->str, sizeof(m->id));
        freeReplyObject(r);
    }
    for (unsigned k = 0; k < keys_cells(); k++) {
        char name[KEYS_MAX];
        keys_in_cell(name, sizeof(name), KEYS_CB_DEADLINES, k); /* any name: the slot of {cK} */
        redisContext *owner = rconn_ctx_for(rc, name);
        (*cs)[k].slot = rslot_of(name, strlen(name));
        (*cs)[k].at = -1;
        for (size_t i = 0; i < n; i++)
            if ((*ms)[i].ctx == owner)
                (*cs)[k].at = (int)i;
        if ((*cs)[k].at < 0) {
            fprintf(stderr, "aa-ctl: no master serves cell %u (slot %u)\n", k, (*cs)[k].slot);
            return -1;
        }
        (*ms)[(*cs)[k].at].cells++;
    }
    return (int)n;
}

static long long keys_in_slot(redisContext *ctx, unsigned slot)
{
    redisReply *r = redisCommand(ctx, "CLUSTER COUNTKEYSINSLOT %u", slot);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

int ctl_cells_show(struct rconn *rc)
{
    if (!rconn_is_cluster(rc)) {
        printf("one Redis: every cell is on it (%u cells)\n", keys_cells());
        return 0;
    }
    struct master *ms;
    struct cell *cs;
    int n = survey(rc, &ms, &cs), rcode = n < 0 ? 1 : 0;
    if (n >= 0) {
        printf("%-6s %-6s %-22s %s\n", "CELL", "SLOT", "MASTER", "KEYS");
        for (unsigned k = 0; k < keys_cells(); k++)
            printf("c%-5u %-6u %-22s %lld\n", k, cs[k].slot, ms[cs[k].at].addr,
                   keys_in_slot(ms[cs[k].at].ctx, cs[k].slot));
        for (int i = 0; i < n; i++)
            printf("# %s: %d cells\n", ms[i].addr, ms[i].cells);
    }
    free(ms);
    free(cs);
    return rcode;
}

/* A reply of the wanted type, or NULL (freed) with the error printed. */
static redisReply *expect(redisReply *r, int type, const char *what)
{
    if (r && r->type == type)
        return r;
    fprintf(stderr, "aa-ctl: %s: %s\n", what, r && r->str ? r->str : "no reply");
    if (r)
        freeReplyObject(r);
    return NULL;
}

static int ok(redisReply *r, const char *what)
{
    r = expect(r, REDIS_REPLY_STATUS, what);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

/* Moves slot from master a to master b with its keys. Returns keys moved,
 * or -1. */
static long long move_slot(struct master *ms, int n, unsigned slot, int a, int b)
{
    struct master *src = &ms[a], *dst = &ms[b];
    char host[256];
    int port, is_unix;
    if (rconn_parse_addr(dst->addr, host, sizeof(host), &port, &is_unix) < 0)
        return -1;
    if (ok(redisCommand(dst->ctx, "CLUSTER SETSLOT %u IMPORTING %s", slot, src->id), "IMPORTING") <
            0 ||
        ok(redisCommand(src->ctx, "CLUSTER SETSLOT %u MIGRATING %s", slot, dst->id), "MIGRATING") <
            0)
        return -1;
    long long moved = 0;
    for (;;) {
        redisReply *r = expect(redisCommand(src->ctx, "CLUSTER GETKEYSINSLOT %u 100", slot),
                               REDIS_REPLY_ARRAY, "GETKEYSINSLOT");
        if (!r)
            return -1;
        size_t k = r->elements;
        if (k > 0) {
            const char **argv = xcalloc(k + 7, sizeof(*argv));
            size_t *lens = xcalloc(k + 7, sizeof(*lens));
            char portbuf[16];
            snprintf(portbuf, sizeof(portbuf), "%d", port);
            const char *head[] = {"MIGRATE", host, portbuf, "", "0", "10000", "KEYS"};
            for (int i = 0; i < 7; i++)
                argv[i] = head[i];
            for (size_t i = 0; i < k; i++) {
                argv[7 + i] = r->element[i]->str;
                lens[7 + i] = r->element[i]->len;
            }
            for (int i = 0; i < 7; i++)
                lens[i] = strlen(argv[i]);
            int rc_ = ok(redisCommandArgv(src->ctx, (int)k + 7, argv, lens), "MIGRATE");
            free(argv);
            free(lens);
            if (rc_ < 0) {
                freeReplyObject(r);
                return -1;
            }
            moved += (long long)k;
        }
        freeReplyObject(r);
        if (k == 0)
            break;
    }
    /* the new owner first, then the old, then the others */
    if (ok(redisCommand(dst->ctx, "CLUSTER SETSLOT %u NODE %s", slot, dst->id), "SETSLOT") < 0 ||
        ok(redisCommand(src->ctx, "CLUSTER SETSLOT %u NODE %s", slot, dst->id), "SETSLOT") < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (i != a && i != b &&
            ok(redisCommand(ms[i].ctx, "CLUSTER SETSLOT %u NODE %s", slot, dst->id), "SETSLOT") < 0)
            return -1;
    return moved;
}

int ctl_cells_balance(struct rconn *rc, int dry_run)
{
    if (!rconn_is_cluster(rc)) {
        fprintf(stderr, "aa-ctl: cells balance: not a cluster (one Redis holds every cell)\n");
        return 2;
    }
    struct master *ms;
    struct cell *cs;
    int n = survey(rc, &ms, &cs), rcode = n < 0 ? 1 : 0, moves = 0;
    while (n > 1 && rcode == 0) {
        int hi = 0, lo = 0;
        for (int i = 1; i < n; i++) {
            if (ms[i].cells > ms[hi].cells)
                hi = i;
            if (ms[i].cells < ms[lo].cells)
                lo = i;
        }
        if (ms[hi].cells - ms[lo].cells <= 1)
            break;
        unsigned k = 0;
        while (cs[k].at != hi)
            k++;
        long long keys =
            dry_run ? keys_in_slot(ms[hi].ctx, cs[k].slot) : move_slot(ms, n, cs[k].slot, hi, lo);
        if (keys < 0) {
            rcode = 1;
            break;
        }
        printf("%s cell c%u (slot %u, %lld keys) from %s to %s\n", dry_run ? "would move" : "moved",
               k, cs[k].slot, keys, ms[hi].addr, ms[lo].addr);
        cs[k].at = lo;
        ms[hi].cells--;
        ms[lo].cells++;
        moves++;
    }
    if (n > 0 && rcode == 0) {
        int mn = ms[0].cells, mx = ms[0].cells;
        for (int i = 1; i < n; i++) {
            mn = ms[i].cells < mn ? ms[i].cells : mn;
            mx = ms[i].cells > mx ? ms[i].cells : mx;
        }
        printf("cells balance: moved %d; %u cells on %d masters, %d to %d each\n", moves,
               keys_cells(), n, mn, mx);
    }
    if (!dry_run && moves)
        rconn_refresh(rc);
    free(ms);
    free(cs);
    return rcode;
}
