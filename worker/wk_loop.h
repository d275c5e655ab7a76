/* wk_loop.h -- The loop every worker process runs: read its stream with a
 * consumer group (one consumer per thread), run durable executions, reclaim
 * entries of crashed workers (XAUTOCLAIM), and, where enabled, resume
 * callbacks from keyspace notifications, fire timers on time, and sweep.
 * SIGTERM drains: the current handlers finish or suspend, then it exits. */
#ifndef AA_WK_LOOP_H
#define AA_WK_LOOP_H

#include "dur.h"

struct wk_opts {
    const char *redis;  /* address */
    const char *stream; /* e.g. aa:stream:tool */
    const char *group;  /* consumer group */
    const char *name;   /* worker name prefix; consumers are name-host-pid-thread */
    const struct dur_handler *handlers;
    struct dur_limits limits;
    int threads;       /* consumer threads */
    int notifications; /* listen to keyspace notifications of callback records */
    int timers;        /* fire durable timers and deadlines when due */
    int claim_idle_ms; /* XAUTOCLAIM entries idle this long */
    int sweep_ms;      /* sweep period (0: no sweep) */
    const char *metrics_bind;
    int metrics_port; /* Prometheus /metrics (0: any free port, -1: off) */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int wk_run(const struct wk_opts *o);

#endif
