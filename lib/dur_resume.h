/* dur_resume.h -- The resumer of the durable runtime: what hands a
 * suspended execution back to a worker when what it waits for has happened.
 *
 * Three paths, each idempotent (lua/cb_resume.lua, lua/timer_fire.lua):
 *  - notifications: a callback's completion ends with the only HINCRBY of
 *    the system (the "completions" field of aa:cb:{id}, lua/cb_complete.lua),
 *    so the keyevent channel __keyevent@<db>__:hincrby names exactly the
 *    callbacks that were answered. No other script or command may HINCRBY
 *    a key (tests/unit/check_dur_resume.c checks the scripts);
 *  - timers: durable timers, callback deadlines and execution timeouts fire
 *    when due (KEYS_TIMERS, KEYS_CB_DEADLINES, KEYS_EXEC_DEADLINES), woken
 *    early by KEYS_TIMERS_SOON;
 *  - the sweep: what the notifications missed (they are at-most-once).
 *
 * Callback ids made in a process with a resumer carry its tag
 * (cb-<random>.<tag>); only that resumer acts on their completion, so the
 * continuation runs where the callback was made. A resumer that stops
 * publishes its tag on KEYS_RESUMERS_GONE and the others take over. */
#ifndef AA_DUR_RESUME_H
#define AA_DUR_RESUME_H

#include "dur.h"

#include <stdint.h>

/* Why something was resumed (each is counted in the worker's metrics). */
enum dur_cause { DUR_BY_NOTIFICATION, DUR_BY_TIMER, DUR_BY_SWEEP };

/* The resumer tag of callback id cbid (cb-<random>.<tag>), NULL when it has
 * none. Borrowed: points into cbid. */
const char *dur_cb_tag(const char *cbid);

/* Resumes callback cbid if it is settled or past its deadline.
 * Returns 1 resumed, 0 nothing to do, -1 Redis error. */
int dur_resume_callback(struct rconn *rc, const char *cbid, int64_t retention_s,
                        enum dur_cause cause);
/* A resumer that can run what it resumes: its stream, group and consumer
 * name (also its worker id), and the handlers and limits to run with. */
struct dur_take {
    const char *stream, *group, *consumer;
    const struct dur_handler *handlers;
    const struct dur_limits *lim;
};
/* dur_resume_callback; with t, when that queued the execution on t's
 * stream, the same script also reads the stream's next entry for t's
 * consumer and claims its execution, which is then run here (one round trip
 * and one hand-off less than leaving it to a consumer thread). The entry
 * stays pending until the run ends, so a crash is recovered as for any
 * consumer. Returns 1 resumed, 0 nothing to do, -1 Redis error. */
int dur_resume_take(struct rconn *rc, const char *cbid, int64_t retention_s, enum dur_cause cause,
                    const struct dur_take *t);
/* The same for n callbacks in one pipeline. Returns how many resumed, or -1. */
int dur_resume_callbacks(struct rconn *rc, const char (*ids)[128], int n, int64_t retention_s,
                         enum dur_cause cause);
/* Resumes everything the notifications may have missed: what is due (see
 * dur_fire_due) and callbacks settled at least min_age_ms ago but not yet
 * handed over. Returns how many were resumed, or -1. */
int dur_sweep(struct rconn *rc, int64_t retention_s, int64_t min_age_ms);
/* Fires what is due now: durable timers, callback deadlines and execution
 * timeouts. *next_due_ms (may be NULL) gets the earliest future deadline
 * (or now + 1 s). Returns how many fired, or -1 on a Redis error. */
int dur_fire_due(struct rconn *rc, int64_t retention_s, int64_t *next_due_ms, enum dur_cause cause);

/* Makes Redis send the keyspace notifications the resumer needs (E
 * keyevents, h hash commands) and checks the hash encoding limits the
 * execution records rely on. Returns 0 / -1 with err filled. */
int dur_resume_configure(struct rconn *rc, char *err, size_t errlen);

/* What a message on a resumer's subscriber connection says. */
enum dur_notice {
    DUR_NOTICE_OTHER,      /* not for the resumer (a subscribe reply, another key) */
    DUR_NOTICE_COMPLETION, /* text: the id of the callback that was answered */
    DUR_NOTICE_DEPARTURE,  /* text: the tag of a resumer that stopped */
    DUR_NOTICE_SOON,       /* text: the time (ms) of a deadline just added */
};
/* Reads one pub/sub message (["message", channel, payload]) into text (a
 * copy, NUL-terminated). A payload that does not fit, or a departure tag
 * that is not a valid id, is DUR_NOTICE_OTHER. Pure: no allocation. */
enum dur_notice dur_notice_parse(const redisReply *r, char *text, size_t len);

/* The resumer threads of one process. */
struct dur_resume_opts {
    const char *redis;   /* address */
    int notifications;   /* a thread resumes answered callbacks */
    int timers;          /* a thread fires timers and deadlines when due */
    int64_t retention_s; /* how long ended executions are kept */
    const char *tag;     /* the tag of the callbacks made here; NULL or "": none */
    /* Optional (take.handlers NULL: off): a lone completion's continuation
     * is run on the notification thread as take.consumer. */
    struct dur_take take;
};
struct dur_resumer;
/* Configures Redis (dur_resume_configure) and starts the threads. Copies
 * o but not the strings or handlers it points to, which must outlive the
 * resumer. Returns: owned, stop with dur_resumer_stop; NULL with err filled. */
struct dur_resumer *dur_resumer_start(const struct dur_resume_opts *o, char *err, size_t errlen);
/* Stops the notification thread, hands this process's callbacks on
 * (KEYS_RESUMERS_GONE), stops the timer thread and frees r (NULL: nothing). */
void dur_resumer_stop(struct dur_resumer *r);

#endif
