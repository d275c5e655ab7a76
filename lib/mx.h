/* mx.h -- Prometheus metrics of a worker process: counters and histograms
 * updated lock-free from any thread, rendered as the text format by a small
 * HTTP endpoint (mx_serve). */
#ifndef AA_MX_H
#define AA_MX_H

#include <stddef.h>

enum mx_counter {
    MX_JOBS_SUCCEEDED,
    MX_JOBS_FAILED,
    MX_JOBS_SUSPENDED,
    MX_JOBS_SKIPPED,
    MX_RESUME_NOTIFICATION,
    MX_RESUME_TIMER,
    MX_RESUME_SWEEP,
    MX_TIMEOUTS,
    MX_RECLAIMED,
    MX_DEAD_LETTERS,
    MX_MODEL_CALLS,
    MX_MODEL_TOKENS,
    MX_REDIS_ERRORS,
    MX_REDIS_RECONNECTS,
    MX_REDIS_REDIRECTS,
    MX_COUNTERS
};

enum mx_hist { MX_H_HANDLER, MX_H_CALLBACK_RT, MX_H_MODEL, MX_HISTS };

void mx_add(enum mx_counter c, unsigned long long n);
void mx_observe(enum mx_hist h, double seconds);

/* Extra text appended to every scrape (gauges read from Redis at scrape
 * time). Returns: owned text, or NULL. */
typedef char *(*mx_extra_cb)(void *arg);

/* Serves GET /metrics and /healthz on port (0: any free port) in a thread.
 * Returns the bound port, or -1. stop with mx_stop. */
int mx_serve(const char *bind_addr, int port, const char *stream, mx_extra_cb extra, void *arg);
void mx_stop(void);

#endif
