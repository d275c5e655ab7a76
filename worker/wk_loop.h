/* wk_loop.h -- The loop every worker process runs: read its stream with a
 * consumer group, run durable executions, reclaim entries of crashed workers
 * (XAUTOCLAIM), resume callbacks from keyspace notifications and a periodic
 * sweep, and drain on SIGTERM. */
#ifndef AA_WK_LOOP_H
#define AA_WK_LOOP_H

#include "dur.h"

struct wk_opts {
    const char *redis;  /* address */
    const char *stream; /* e.g. aa:stream:tool */
    const char *group;  /* consumer group */
    const char *name;   /* worker name prefix; the consumer is name-host-pid */
    const struct dur_handler *handlers;
    struct dur_limits limits;
    int resumer;       /* run the notification listener and the sweep */
    int claim_idle_ms; /* XAUTOCLAIM entries idle this long */
    int sweep_ms;      /* sweep period */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int wk_run(const struct wk_opts *o);

#endif
