/* dur_int.h -- What the three layers of the durable runtime share and no
 * other file may see: the context of a running handler, and the two
 * executor entry points the resumer calls. Layers: dur_resume -> dur_exec
 * -> dur (operations) -> Redis; no arrow points upward. Include this only
 * from lib/dur*.c. */
#ifndef AA_DUR_INT_H
#define AA_DUR_INT_H

#include "dur.h"
#include "dur_exec.h"

#include <jansson.h>

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

/* Runs (or replays) execution eid, claimed by worker: r->element[at] is the
 * claim's verdict ("ok" followed by the record's fields and values, or why
 * not). Returns as dur_run. Borrowed: r. */
int dur_exec_claimed(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                     const struct dur_limits *lim, const char *eid, struct dur_ack *ack,
                     const redisReply *r, size_t at);

/* Ends eid with status and result (exec_finish.lua), acknowledging ack's
 * entry when given. Returns 0, or -1 when Redis is unreachable. */
int dur_exec_finish(struct rconn *rc, const char *eid, const char *worker, const char *status,
                    const char *result, int64_t retention_s, struct dur_ack *ack);

#endif
