/* dur.h -- The durable-execution runtime (replay model, as in Lambda durable
 * functions). A handler is a C function run with a durable context; every
 * operation it performs is recorded in the execution's checkpoint log in
 * Redis (fields op:0, op:1, ... of aa:exec:{id}). When a handler must wait (a child execution, a
 * callback from the desktop client) it returns DUR_SUSPEND: the worker is
 * released at once and nothing is held while waiting. When the awaited
 * result arrives, a Lua script re-queues the execution and a worker replays
 * the handler from the top: recorded operations return their recorded
 * results without running again.
 *
 * This header is what a handler uses (the operations, lib/dur.c); the
 * executor is dur_exec.h, the resumer dur_resume.h. */
#ifndef AA_DUR_H
#define AA_DUR_H

#include "keys.h"
#include "rconn.h"
#include "scripts.h"

#include <jansson.h>
#include <stdint.h>

enum dur_rc {
    DUR_FAIL = -1,   /* the execution must fail (Redis lost, replay mismatch) */
    DUR_OK = 0,      /* the operation's result is in *out */
    DUR_SUSPEND = 1, /* not there yet: return DUR_SUSPEND from the handler */
    DUR_ERROR = 2,   /* the operation failed; *out holds the error text */
    DUR_TIMEOUT = 3, /* a callback's deadline passed; *out holds the error text */
};

struct dur_ctx;

/* A handler. On DUR_OK *result is the execution's result (owned by the
 * runtime once returned). On DUR_ERROR/DUR_FAIL *result may hold a message. */
typedef int (*dur_handler_cb)(struct dur_ctx *ctx, const char *input, char **result, void *arg);
/* A step body: DUR_OK with *result set (owned, malloc'd), or DUR_ERROR with
 * *result holding the error text. Runs once; its outcome is recorded. */
typedef int (*dur_step_cb)(struct dur_ctx *ctx, char **result, void *arg);
/* Sends the request that the callback will answer (the push to the client). */
typedef int (*dur_submit_cb)(struct dur_ctx *ctx, const char *callback_id, char **result,
                             void *arg);

struct dur_handler {
    const char *name;
    dur_handler_cb fn;
    void *arg;
};

struct dur_limits {
    int64_t lease_ms;    /* how long a claim is exclusive */
    int max_attempts;    /* claims before an execution goes to the dead letters */
    int64_t retention_s; /* how long ended executions are kept */
    int64_t child_timeout_ms;
    /* The resumer tag of this process: callbacks created here get ids
     * cb-<random>.<tag>, and only the resumer with that tag acts on the
     * keyspace notification of their completion (dur_cb_tag). NULL or "":
     * untagged ids, which every resumer acts on. */
    const char *cb_tag;
};

/* A retry policy for steps (as in Lambda durable functions: exponential
 * backoff with full jitter). Retries wait durably: no worker is held. */
struct dur_retry {
    int max_attempts;   /* 1: no retry */
    int64_t initial_ms; /* first delay */
    int64_t max_ms;     /* cap of one delay */
    double rate;        /* growth per attempt, e.g. 2.0 */
    int jitter;         /* 1: full jitter, a random delay in [0, delay] */
};

/* Operations. out is owned by the caller (free it) whenever it is set. */
int dur_step(struct dur_ctx *ctx, const char *name, dur_step_cb fn, void *arg, char **out);
/* A step retried on DUR_ERROR by the policy; the last error is the outcome. */
int dur_step_retry(struct dur_ctx *ctx, const char *name, dur_step_cb fn, void *arg,
                   const struct dur_retry *policy, char **out);
/* From inside a step body: the next retry must wait at least ms (a
 * server's Retry-After); -1: this error is final, do not retry. */
void dur_retry_after(struct dur_ctx *ctx, int64_t ms);
/* A durable timer: suspends until ms have passed (millisecond resolution). */
int dur_wait(struct dur_ctx *ctx, const char *name, int64_t ms);
/* Starts handler `handler` as a child execution on `stream` and waits for
 * its result (its result text, or its error text with DUR_ERROR). */
int dur_invoke(struct dur_ctx *ctx, const char *name, const char *handler, const char *stream,
               const char *input, char **out);
/* wait_for_callback: creates a callback, runs submit inside a step (never
 * twice, even on replay), then waits for the answer. A failure gives
 * DUR_ERROR, a deadline that passed DUR_TIMEOUT, each with the text. */
int dur_callback(struct dur_ctx *ctx, const char *name, int64_t timeout_ms, int64_t heartbeat_ms,
                 dur_submit_cb submit, void *arg, char **out);
/* A push of event to the execution's session (lua/push.lua), as a step
 * named name (never twice, even on replay). With require_conn, a session
 * without a connection stores nothing and gives DUR_ERROR
 * "client_not_connected". DUR_OK: *out is the event id. */
int dur_push(struct dur_ctx *ctx, const char *name, const json_t *event, int require_conn,
             char **out);
/* wait_for_callback whose request is request (a JSON object; borrowed)
 * with "callback_id" added, pushed to the execution's session. On its first
 * run it returns DUR_SUSPEND at once, and the callback, the push, the submit
 * record and the suspension are one script (lua/cb_suspend.lua) when the
 * handler returns: one round trip instead of four. No connection gives
 * DUR_ERROR "client_not_connected" (the handler is replayed at once). */
int dur_callback_push(struct dur_ctx *ctx, const char *name, int64_t timeout_ms,
                      int64_t heartbeat_ms, const json_t *request, char **out);

/* Borrowed: valid while the handler runs. */
const char *dur_exec_id(const struct dur_ctx *ctx);
const char *dur_session(const struct dur_ctx *ctx);
const char *dur_trace(const struct dur_ctx *ctx);
struct rconn *dur_rconn(struct dur_ctx *ctx);
/* 1 when the handler is replaying recorded operations (useful for logs). */
int dur_replaying(const struct dur_ctx *ctx);

/* Who completes a callback. session: the caller's session, or "" for
 * none; subject: the caller, whose session the callback's must be (its
 * aa:session:<sid>:owner), or "" for none; admin: neither is checked (an
 * operator). A caller with neither and no admin may complete nothing. */
struct dur_caller {
    const char *session;
    const char *subject;
    int admin;
};

/* The arguments of lua/cb_complete.lua (a, for scripts_cb_complete or
 * scripts_cb_complete_async) with the key and time they point to, shared
 * by every caller (the gateway's WebSocket and REST routes, the CLI,
 * tests); scripts_cb_complete_reply reads the answer. Borrowed: the
 * strings passed in must outlive the call that uses a. */
struct dur_complete {
    char key[KEYS_MAX], completed[KEYS_MAX], deadlines[KEYS_MAX];
    char now[24];
    struct scripts_cb_complete a;
};
void dur_complete_prepare(struct dur_complete *c, const char *cbid, const char *kind,
                          const struct dur_caller *who, const char *payload, size_t len);

/* Completes a callback as a connection of session does (for tests).
 * Returns: owned reply. */
redisReply *dur_complete(struct rconn *rc, const char *cbid, const char *kind, const char *session,
                         const char *payload, size_t len);
/* The same for any caller (the CLI: an admin). Returns: owned reply. */
redisReply *dur_complete_as(struct rconn *rc, const char *cbid, const char *kind,
                            const struct dur_caller *who, const char *payload, size_t len);

#endif
