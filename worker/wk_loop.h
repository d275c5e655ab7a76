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
    unsigned cells;     /* 0: the deployment's (keys_cells_setup) */
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

/* The options every worker program has, as entries of its cfg table (the
 * table itself comes first: stream and group defaults differ). */
#define WK_COMMON_OPTS                                                                              \
    {"redis", CFG_STR, "127.0.0.1:6379",                                                            \
     0,       512,     "Redis address (host:port, unix:/path or cluster:host:port,...)",            \
     NULL,    0},                                                                                   \
        KEYS_CELLS_OPT, {"threads", CFG_INT, "1", 1, 256, "consumer threads", NULL, 0},             \
        {"claim-idle-ms",                                                                           \
         CFG_INT,                                                                                   \
         "30000",                                                                                   \
         100,                                                                                       \
         3600000,                                                                                   \
         "reclaim entries idle this long",                                                          \
         NULL,                                                                                      \
         0},                                                                                        \
        {"lease-ms", CFG_INT, "60000", 100, 3600000, "exclusive claim of an execution", NULL, 0},   \
        {"max-attempts", CFG_INT, "5", 1, 100, "claims before the dead-letter stream", NULL, 0},    \
        {"retention-s", CFG_INT, "86400", 1, 90 * 86400, "keep ended executions this long",         \
         NULL,          0},                                                                         \
        {"metrics-bind", CFG_STR, "127.0.0.1", 0, 64, "address of the /metrics endpoint", NULL, 0}, \
        {"metrics-port", CFG_INT, "0", -1, 65535, "port of /metrics (0: any free port, -1: off)",   \
         NULL,           0},                                                                        \
        {"log-level", CFG_STR, "info", 0, 8, "debug, info, warn or error", NULL, 0},                \
    {                                                                                               \
        "log-file", CFG_STR, "", 0, 1023,                                                           \
            "append the log here (SIGHUP reopens it); default stderr", NULL, 0                      \
    }

struct cfg_opt;
/* Fills the common fields of o from a table holding WK_COMMON_OPTS and
 * "stream" and "group"; sets up logging as prog. Returns 0, or -1 after
 * printing why (exit 2). */
int wk_opts_from_cfg(struct wk_opts *o, const struct cfg_opt *tab, const char *prog);

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int wk_run(const struct wk_opts *o);

#endif
