/* dur_int.h -- The context of a running handler, which the operations
 * (dur.c) and the executor (dur_exec.c) share and no other file may see.
 * Layers: dur_resume -> dur_exec -> dur (operations) -> Redis; no arrow
 * points upward. Include this only from lib/dur.c and lib/dur_exec.c. */
#ifndef AA_DUR_INT_H
#define AA_DUR_INT_H

#include <jansson.h>
#include <stdint.h>

struct rconn;
struct dur_limits;

struct dur_ctx {
    struct rconn *rc;
    const char *eid, *worker, *session, *trace;
    json_t *ops; /* object: "index" -> recorded operation */
    int next;
    int replay_ops; /* how many operations were recorded when we started */
    int64_t retry_after_ms;
    const struct dur_limits *lim;
    /* dur_callback_push on its first run: the callback, its push, the
     * submit record and the suspension wait for the end of the run, where
     * they are one script (cb_suspend.lua) */
    struct {
        int idx;
        char cbid[64], kind[48];
        char *name, *request; /* owned; request NULL: nothing staged */
        int64_t timeout_ms, heartbeat_ms;
    } staged;
    char err[512];
};

#endif
