/* dur_exec.h -- The executor of the durable runtime: starts an execution,
 * claims it from a stream entry, runs or replays its handler against the
 * checkpoint log, and suspends, finishes or cancels it (lua/exec_*.lua,
 * lua/cb_suspend.lua). The operations a handler calls are in dur.h; what
 * resumes a suspended execution is in dur_resume.h. */
#ifndef AA_DUR_EXEC_H
#define AA_DUR_EXEC_H

#include "dur.h"

/* The stream entry that delivered an execution: the script that suspends or
 * ends it also acknowledges the entry (one round trip less per run), and
 * sets done. */
struct dur_ack {
    const char *stream, *group, *id;
    int done;
};

/* Runs (or replays) execution eid with the handler its record names, on
 * its own: one exec_claim.lua, the run, one end. The workers go through
 * dur_run_entries instead; this is for a caller holding one id and perhaps
 * no stream entry (the unit tests use it). ack may be NULL. Returns 0 when
 * the stream entry may be acknowledged (the caller does it unless
 * ack->done), -1 when Redis was unreachable (leave it pending; it will be
 * reclaimed). */
int dur_run(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
            const struct dur_limits *lim, const char *eid, struct dur_ack *ack);

/* One entry of a stream read: its id and the execution it names (NULL:
 * none; it is acknowledged only). Borrowed. */
struct dur_entry {
    const char *id, *eid;
};

/* How dur_run_entries batches: at most DUR_BATCH_MAX claims or ends in one
 * round trip; an end waits to be sent with the next ones only while runs
 * take under DUR_BATCH_FAST_US (known from the same handler's last run),
 * and never longer than DUR_BATCH_DELAY_US before the next run starts. */
#define DUR_BATCH_MAX 32
#define DUR_BATCH_FAST_US 1000
#define DUR_BATCH_DELAY_US 1000

/* Runs the executions of e[0..n), the entries of one read of stream for
 * group, in order, as dur_run does one by one, with their claims and ends
 * in batches (exec_batch.lua): DUR_BATCH_MAX no-op runs cost Redis two
 * round trips (their claims, then their ends with the next claims), and a
 * run that takes time one (the previous end and the next claim). Every entry is
 * acknowledged once it has ended, suspended or been skipped. Returns 0, or
 * -1 when Redis was unreachable (the entries not acknowledged stay pending
 * and are reclaimed). */
int dur_run_entries(struct rconn *rc, const char *worker, const struct dur_handler *handlers,
                    const struct dur_limits *lim, const char *stream, const char *group,
                    const struct dur_entry *e, size_t n);

/* Starts execution eid of handler on stream (exec_start.lua). The id is an
 * idempotency key. Returns 0 started, 1 it already existed, -1 Redis error. */
int dur_start(struct rconn *rc, const char *eid, const char *handler, const char *stream,
              const char *input, const char *session, const char *trace, int64_t timeout_ms);

/* Ends an execution that has not ended as "cancelled": its handler is not
 * run again and a worker still running it loses it (its finish is refused).
 * Returns 1 cancelled, 0 it had ended or does not exist, -1 Redis error. */
int dur_cancel(struct rconn *rc, const char *eid, const char *reason, int64_t retention_s);

/* For the resumer (dur_resume.c), which runs what it takes: */
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
