/* bench.c -- aa-bench: measures the durable callback path on one machine.
 *
 *   aa-bench roundtrip --url WS --redis ADDR --token T [--n 2000]
 *       A handler creates a callback and pushes the request through the
 *       gateway to a WebSocket client (this process) that answers at once;
 *       the time from the handler's first run to its resumed end is one
 *       round trip. Prints p50/p90/p99/p99.9/max in ms.
 *   aa-bench desk --url WS --token T --session S
 *       A headless desktop client for session S that answers every
 *       get_vpn_status request at once ("connected"), until SIGTERM: the
 *       desktop side of the MCP benchmark (tests/bench/mcp/bench.mjs).
 *   aa-bench worker --redis ADDR
 *       A worker process for `suspend` (handler "bench" on aa:stream:bench).
 *   aa-bench suspend --redis ADDR [--n 100000]
 *       Starts n executions that each suspend on a callback, measures Redis
 *       memory per suspended execution, then completes every callback at
 *       once and measures resumes per second until all have ended. */
#include "cfg.h"
#include "dur_exec.h"
#include "dur_resume.h"
#include "keys.h"
#include "log.h"
#include "script.h"
#include "util.h"
#include "wk_loop.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cfg_opt opts[] = {
    {"redis", CFG_STR, "127.0.0.1:6379", 0, 512, "Redis address", NULL, 0},
    KEYS_CELLS_OPT,
    {"url", CFG_STR, "ws://127.0.0.1:8080/ws", 0, 1024, "gateway URL (roundtrip)", NULL, 0},
    {"token", CFG_STR, "", 0, 4096, "client token (roundtrip)", NULL, 0},
    {"n", CFG_INT, "2000", 1, 10000000, "how many", NULL, 0},
    {"warmup", CFG_INT, "100", 0, 100000, "round trips not counted", NULL, 0},
    {"threads", CFG_INT, "1", 1, 64, "worker threads", NULL, 0},
    {"session", CFG_STR, "bench-desk", 1, 128, "session (desk)", NULL, 0},
    CFG_END,
};

#define SESSION "bench-session"
#define STREAM "aa:stream:bench"

/* Everything a benchmark makes is in its session's cell (one cell on one
 * Redis: today's names; on a cluster, one master serves it all). */
static unsigned cell;

static const char *in_cell(char *buf, size_t len, const char *name)
{
    return keys_in_cell(buf, len, name, cell);
}

/* ---- the handler ---------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int64_t t_start_us, t_end_us;
static int done_flag;

/* The suspend benchmark's submitter: nothing to send (no desktop). */
static int submit_none(struct dur_ctx *ctx, const char *cbid, char **result, void *arg)
{
    (void)ctx;
    (void)cbid;
    (void)arg;
    *result = xstrdup("");
    return DUR_OK;
}

static int bench_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)input;
    (void)arg;
    if (!dur_replaying(ctx)) {
        pthread_mutex_lock(&mu);
        t_start_us = mono_us();
        pthread_mutex_unlock(&mu);
    }
    char *out = NULL;
    json_t *req = json_pack("{s:s}", "action", "bench_ping");
    int rc = dur_callback_push(ctx, "ping", 30000, 0, req, &out);
    json_decref(req);
    if (rc == DUR_SUSPEND || rc == DUR_FAIL) {
        free(out);
        return rc;
    }
    *result = out ? out : xstrdup("");
    pthread_mutex_lock(&mu);
    t_end_us = mono_us();
    done_flag = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return DUR_OK;
}

static const struct dur_handler handlers[] = {{"bench", bench_handler, NULL}, {NULL, NULL, NULL}};

static struct wk_opts worker_opts(void)
{
    struct wk_opts o = {
        .redis = cfg_str(opts, "redis"),
        .stream = STREAM,
        .group = "bench-workers",
        .name = "bench",
        .handlers = handlers,
        .limits = {60000, 5, 3600, 60000},
        .threads = (int)cfg_int(opts, "threads"),
        .notifications = 1,
        .timers = 1,
        .claim_idle_ms = 30000,
        .sweep_ms = 500,
        .metrics_bind = "127.0.0.1",
        .metrics_port = -1,
    };
    return o;
}

static void *worker_thread(void *arg)
{
    struct wk_opts *o = arg;
    wk_run(o);
    return NULL;
}

static int start_exec(struct rconn *rc, const char *eid)
{
    char stream[KEYS_MAX];
    return dur_start(rc, eid, "bench", in_cell(stream, sizeof(stream), STREAM), "{}", SESSION, "",
                     900000) < 0
               ? -1
               : 0;
}

/* ---- the WebSocket side (roundtrip) -------------------------------------- */

static struct lws_context *lctx;
static volatile int finished;
static struct lws *lwsi;
static int ws_ready;
static char pending_answer[256];
static size_t pending_len;
static char rx[4096];
static size_t rx_len;

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (cfg_str(opts, "token")[0]) {
            unsigned char **p = in, *end = *p + len;
            char v[4200];
            snprintf(v, sizeof(v), "Bearer %s", cfg_str(opts, "token"));
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v,
                                             (int)strlen(v), p, end))
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ws_ready = 1;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi))
            rx_len = 0;
        if (rx_len + len < sizeof(rx)) {
            memcpy(rx + rx_len, in, len);
            rx_len += len;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            json_t *m = json_loadb(rx, rx_len, 0, NULL);
            const char *a = json_string_value(json_object_get(m, "action"));
            const char *cb = json_string_value(json_object_get(m, "callback_id"));
            if (a && cb && !strcmp(a, "bench_ping")) {
                pending_len = (size_t)snprintf(
                    pending_answer + LWS_PRE, sizeof(pending_answer) - LWS_PRE,
                    "{\"action\":\"async_callback\",\"callback_id\":\"%s\",\"content\":\"pong\"}",
                    cb);
                lws_callback_on_writable(wsi);
            } else if (a && cb && !strcmp(a, "get_vpn_status")) {
                pending_len = (size_t)snprintf(
                    pending_answer + LWS_PRE, sizeof(pending_answer) - LWS_PRE,
                    "{\"action\":\"async_callback\",\"callback_id\":\"%s\",\"content\":"
                    "\"{\\\"status\\\":\\\"connected\\\",\\\"details\\\":\\\"  >> state: "
                    "Connected\\\",\\\"exit_status\\\":0}\"}",
                    cb);
                lws_callback_on_writable(wsi);
            }
            json_decref(m);
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (pending_len) {
            lws_write(wsi, (unsigned char *)pending_answer + LWS_PRE, pending_len, LWS_WRITE_TEXT);
            pending_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!finished) {
            fprintf(stderr, "aa-bench: websocket closed\n");
            exit(1);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {{"bench", ws_cb, 0, 4096, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_stats(const char *what, int64_t *us, int n)
{
    qsort(us, (size_t)n, sizeof(*us), cmp_i64);
    printf("%s n=%d p50=%.3f ms p90=%.3f ms p99=%.3f ms p99.9=%.3f ms max=%.3f ms\n", what, n,
           (double)us[n / 2] / 1000.0, (double)us[n * 9 / 10] / 1000.0,
           (double)us[n * 99 / 100] / 1000.0, (double)us[n * 999 / 1000] / 1000.0,
           (double)us[n - 1] / 1000.0);
}

static void *driver_main(void *arg)
{
    (void)arg;
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    int n = (int)cfg_int(opts, "n"), warm = (int)cfg_int(opts, "warmup");
    int64_t *lat = xcalloc((size_t)n, sizeof(*lat));
    char eid[64];
    for (int i = 0; i < warm + n; i++) {
        keys_random_id(eid, sizeof(eid), "bench-", 12, 0, cell);
        pthread_mutex_lock(&mu);
        done_flag = 0;
        pthread_mutex_unlock(&mu);
        if (start_exec(rc, eid) < 0) {
            fprintf(stderr, "aa-bench: redis: %s\n", rconn_error(rc));
            exit(1);
        }
        pthread_mutex_lock(&mu);
        while (!done_flag)
            pthread_cond_wait(&cv, &mu);
        if (i >= warm)
            lat[i - warm] = t_end_us - t_start_us;
        pthread_mutex_unlock(&mu);
    }
    print_stats("callback round trip (create, push via gateway, WebSocket answer, resume)", lat, n);
    free(lat);
    rconn_free(rc);
    finished = 1;
    lws_cancel_service(lctx);
    return NULL;
}

/* Connects the WebSocket client for session sid. Returns 0 / -1. */
static int ws_open(const char *sid)
{
    char url[1100];
    const char *proto, *addr, *path;
    int port;
    strlcpy_aa(url, cfg_str(opts, "url"), sizeof(url));
    if (lws_parse_uri(url, &proto, &addr, &port, &path)) {
        fprintf(stderr, "aa-bench: bad --url\n");
        return -1;
    }
    char fullpath[1200];
    snprintf(fullpath, sizeof(fullpath), "/%s?session_id=%s", path, sid);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    lctx = lws_create_context(&info);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = lctx;
    ci.address = addr;
    ci.port = port;
    ci.path = fullpath;
    ci.host = addr;
    ci.origin = addr;
    ci.local_protocol_name = "bench";
    ci.pwsi = &lwsi;
    lws_client_connect_via_info(&ci);
    int64_t until = mono_us() + 10000000;
    while (!ws_ready && mono_us() < until)
        lws_service(lctx, 0);
    if (!ws_ready) {
        fprintf(stderr, "aa-bench: cannot connect to %s\n", cfg_str(opts, "url"));
        return -1;
    }
    return 0;
}

static void on_term(int sig)
{
    (void)sig;
    finished = 1;
    if (lctx)
        lws_cancel_service(lctx);
}

/* The headless desktop of the MCP benchmark. */
static int desk(void)
{
    if (ws_open(cfg_str(opts, "session")) < 0)
        return 1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    while (!finished)
        lws_service(lctx, 0);
    lws_context_destroy(lctx);
    return 0;
}

static int roundtrip(void)
{
    static struct wk_opts o;
    o = worker_opts();
    pthread_t wt, dt;
    pthread_create(&wt, NULL, worker_thread, &o);

    if (ws_open(SESSION) < 0)
        return 1;
    pthread_create(&dt, NULL, driver_main, NULL);
    while (!finished)
        lws_service(lctx, 0);
    pthread_join(dt, NULL);
    kill(getpid(), SIGTERM); /* stops the worker loop */
    pthread_join(wt, NULL);
    lws_context_destroy(lctx);
    return 0;
}

/* Starts n executions <prefix><random id in the cell> of handler on the
 * cell's stream through exec_start.lua, pipelined in chunks of 1,000 to
 * the master of the cell, as any caller would; the first id in first.
 * Returns 0 / -1 (Redis failed). */
static int start_pipelined(struct rconn *rc, long long n, const char *prefix, const char *handler,
                           const char *stream, char *first, size_t firstlen)
{
    if (keys_random_id(first, firstlen, prefix, 9, 1, cell) < 0)
        return -1;
    char cstream[KEYS_MAX];
    in_cell(cstream, sizeof(cstream), stream);
    redisContext *c = rconn_ctx_for(rc, cstream);
    if (!c)
        return -1;
    const struct script *start = script_get("exec_start");
    for (long long i = 0; i < n; i++) {
        char eid[64], key[KEYS_MAX], now[24];
        if (i == 0)
            snprintf(eid, sizeof(eid), "%s", first);
        else
            keys_random_id(eid, sizeof(eid), prefix, 9, 1, cell);
        keys_exec(key, sizeof(key), eid);
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
        struct scripts_exec_start a = {.exec = key,
                                       .stream = cstream,
                                       .eid = eid,
                                       .handler = handler,
                                       .input = "{}",
                                       .session = SESSION,
                                       .trace = "",
                                       .now = now,
                                       .timeout_ms = "900000"};
        struct scripts_call call;
        scripts_exec_start_pack(&call, &a);
        const char *argv[SCRIPTS_MAX_ARGS + 3];
        size_t lens[SCRIPTS_MAX_ARGS + 3];
        int na = script_argv(start, 0, call.nkeys, call.n, call.v, call.l, argv, lens);
        redisAppendCommandArgv(c, na, argv, lens);
        if (i % 1000 == 999 || i == n - 1) {
            for (long long j = 0; j < (i % 1000) + 1; j++) {
                void *rep;
                if (redisGetReply(c, &rep) != REDIS_OK) {
                    fprintf(stderr, "aa-bench: redis error\n");
                    return -1;
                }
                freeReplyObject(rep);
            }
        }
    }
    return 0;
}

/* used_memory of the node behind ctx (the cell's master on a cluster). */
static long long used_memory(redisContext *ctx)
{
    redisReply *r = ctx ? redisCommand(ctx, "INFO memory") : NULL;
    long long v = -1;
    const char *p = r && r->str ? strstr(r->str, "used_memory:") : NULL;
    if (p)
        v = atoll(p + 12);
    if (r)
        freeReplyObject(r);
    return v;
}

static long long zcard(struct rconn *rc, const char *key)
{
    redisReply *r = rconn_cmd(rc, "ZCARD %s", key);
    long long v = r ? r->integer : 0;
    if (r)
        freeReplyObject(r);
    return v;
}

/* The suspend benchmark's handler: one callback, nothing else. Progress is
 * read from Redis (callbacks waiting, executions not ended), so several
 * worker processes can be measured together. */
static int counted_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    char *out = NULL;
    (void)input;
    (void)arg;
    int rc = dur_callback(ctx, "ping", 600000, 0, submit_none, NULL, &out);
    if (rc == DUR_SUSPEND || rc == DUR_FAIL) {
        free(out);
        return rc;
    }
    *result = out;
    return DUR_OK;
}

static const struct dur_handler counted[] = {{"bench", counted_handler, NULL}, {NULL, NULL, NULL}};

static int worker(void)
{
    struct wk_opts o = worker_opts();
    o.handlers = counted;
    o.limits.retention_s = 600;
    return wk_run(&o);
}

/* Commands run (scripts' own included) and CPU seconds used so far by the
 * node behind ctx. */
static void redis_totals(redisContext *ctx, long long *calls, double *cpu_s)
{
    *calls = 0;
    *cpu_s = 0;
    redisReply *r = ctx ? redisCommand(ctx, "INFO commandstats") : NULL;
    for (const char *p = r && r->str ? r->str : ""; (p = strstr(p, "calls=")) != NULL; p += 6)
        *calls += atoll(p + 6);
    if (r)
        freeReplyObject(r);
    r = ctx ? redisCommand(ctx, "INFO cpu") : NULL;
    const char *u = r && r->str ? strstr(r->str, "used_cpu_user:") : NULL;
    const char *y = r && r->str ? strstr(r->str, "used_cpu_sys:") : NULL;
    *cpu_s = (u ? atof(u + 14) : 0) + (y ? atof(y + 13) : 0);
    if (r)
        freeReplyObject(r);
}

static int suspend_bench(void)
{
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    char err[256];
    if (rconn_connect(rc, err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-bench: %s\n", err);
        return 1;
    }
    long long n = cfg_int(opts, "n");
    redisReply *r;
    char stream[KEYS_MAX], cbd[KEYS_MAX], exd[KEYS_MAX], first[64], key[KEYS_MAX], cbk[KEYS_MAX];
    in_cell(stream, sizeof(stream), STREAM);
    in_cell(cbd, sizeof(cbd), KEYS_CB_DEADLINES);
    in_cell(exd, sizeof(exd), KEYS_EXEC_DEADLINES);
    redisContext *node = rconn_ctx_for(rc, stream);
    long long before = used_memory(node);
    int64_t t0 = mono_us();
    /* create in pipelined batches, through exec_start.lua as any caller */
    if (start_pipelined(rc, n, "b", "bench", STREAM, first, sizeof(first)) < 0)
        return 1;
    while (zcard(rc, cbd) < n)
        usleep(20000);
    int64_t t1 = mono_us();
    /* stream entries were consumed and acknowledged: trim them as an
     * operator would, so the figure is what suspended executions hold */
    r = rconn_cmd(rc, "XTRIM %s MAXLEN 0", stream);
    freeReplyObject(r);
    long long after = used_memory(rconn_ctx_for(rc, stream));
    /* where the bytes are: one execution's keys */
    keys_exec(key, sizeof(key), first);
    r = rconn_cmd(rc, "HGET %s op:0", key);
    json_t *op = r && r->str ? json_loads(r->str, 0, NULL) : NULL;
    const char *cb0 = json_string_value(json_object_get(op, "cb"));
    if (cb0) {
        keys_cb(cbk, sizeof(cbk), cb0);
        redisReply *a = rconn_cmd(rc, "MEMORY USAGE %s", key);
        redisReply *b = rconn_cmd(rc, "MEMORY USAGE %s", cbk);
        redisReply *z1 = rconn_cmd(rc, "MEMORY USAGE %s SAMPLES 0", cbd);
        redisReply *z2 = rconn_cmd(rc, "MEMORY USAGE %s SAMPLES 0", exd);
        printf("one suspended execution: execution hash %lld B, callback hash %lld B, deadline "
               "entries %.0f + %.0f B\n",
               a ? a->integer : -1, b ? b->integer : -1, z1 ? (double)z1->integer / (double)n : -1,
               z2 ? (double)z2->integer / (double)n : -1);
        freeReplyObject(a);
        freeReplyObject(b);
        freeReplyObject(z1);
        freeReplyObject(z2);
    }
    json_decref(op);
    if (r)
        freeReplyObject(r);
    printf("suspended %lld executions in %.2f s (%.0f/s); Redis memory %.1f MiB -> %.1f MiB: "
           "%.0f bytes per suspended execution\n",
           n, (double)(t1 - t0) / 1e6, (double)n / ((double)(t1 - t0) / 1e6),
           (double)before / 1048576.0, (double)after / 1048576.0,
           (double)(after - before) / (double)n);
    /* complete every callback at once: cb_complete.lua, pipelined */
    r = rconn_cmd(rc, "ZRANGE %s 0 -1", cbd);
    redisContext *c = rconn_ctx_for(rc, cbd);
    long long calls0, calls1;
    double cpu0, cpu1;
    redis_totals(c, &calls0, &cpu0);
    const struct script *sc = script_get("cb_complete");
    int64_t t2 = mono_us();
    size_t sent = 0, got = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const char *id = r->element[i]->str;
        struct dur_complete dc;
        struct dur_caller who = {SESSION, "", 0};
        dur_complete_prepare(&dc, id, "succeed", &who, "pong", 4);
        struct scripts_call call;
        scripts_cb_complete_pack(&call, &dc.a);
        const char *argv2[SCRIPTS_MAX_ARGS + 3];
        size_t lens[SCRIPTS_MAX_ARGS + 3];
        int na = script_argv(sc, 0, call.nkeys, call.n, call.v, call.l, argv2, lens);
        redisAppendCommandArgv(c, na, argv2, lens);
        sent++;
        while (sent - got > 1000) {
            void *rep;
            if (redisGetReply(c, &rep) != REDIS_OK)
                return 1;
            freeReplyObject(rep);
            got++;
        }
    }
    while (got < sent) {
        void *rep;
        if (redisGetReply(c, &rep) != REDIS_OK)
            return 1;
        freeReplyObject(rep);
        got++;
    }
    int64_t t3 = mono_us();
    freeReplyObject(r);
    while (zcard(rc, exd) > 0)
        usleep(5000);
    int64_t t4 = mono_us();
    redis_totals(rconn_ctx_for(rc, cbd), &calls1, &cpu1);
    printf("completed %lld callbacks in %.2f s; all %lld executions resumed and ended %.2f s "
           "after the first completion: %.0f resumes/s\n",
           n, (double)(t3 - t2) / 1e6, n, (double)(t4 - t2) / 1e6,
           (double)n / ((double)(t4 - t2) / 1e6));
    printf("per completion and resume, on the cell's master: %.1f Redis commands, %.1f us of "
           "Redis CPU\n",
           (double)(calls1 - calls0) / (double)n, (cpu1 - cpu0) * 1e6 / (double)n);
    rconn_free(rc);
    return 0;
}

/* ---- dispatch: jobs through the queue, side by side with BullMQ --------- */

#define DISPATCH_STREAM "aa:stream:bench-dispatch"

static atomic_long dispatched;

static int noop_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    (void)ctx;
    (void)input;
    (void)arg;
    *result = xstrdup("");
    atomic_fetch_add(&dispatched, 1);
    return DUR_OK;
}

static const struct dur_handler noop_handlers[] = {{"noop", noop_handler, NULL},
                                                   {NULL, NULL, NULL}};

/* Redis's totals: commands run (those of scripts included) and CPU
 * seconds (user + system), from INFO. */
/* N no-op jobs: started through exec_start.lua pipelined in chunks of
 * 1,000 (add), then run by one worker process's consumer loop (process).
 * Prints the rates, and Redis commands and CPU per job of each phase. */
static int dispatch_bench(void)
{
    long long n = cfg_int(opts, "n");
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    char err[256];
    if (rconn_connect(rc, err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-bench: %s\n", err);
        return 1;
    }
    char dstream[KEYS_MAX], exd[KEYS_MAX], first[64];
    in_cell(dstream, sizeof(dstream), DISPATCH_STREAM);
    in_cell(exd, sizeof(exd), KEYS_EXEC_DEADLINES);
    freeReplyObject(rconn_cmd(rc, "XGROUP CREATE %s bench-dispatch 0 MKSTREAM", dstream));
    long long calls0, calls1, calls2;
    double cpu0, cpu1, cpu2;
    redisContext *node = rconn_ctx_for(rc, dstream);
    redis_totals(node, &calls0, &cpu0);
    int64_t t0 = mono_us();
    if (start_pipelined(rc, n, "d", "noop", DISPATCH_STREAM, first, sizeof(first)) < 0)
        return 1;
    int64_t t1 = mono_us();
    redis_totals(node, &calls1, &cpu1);
    static struct wk_opts o;
    o = worker_opts();
    o.stream = DISPATCH_STREAM;
    o.group = "bench-dispatch";
    o.handlers = noop_handlers;
    o.notifications = 0;
    o.timers = 0;
    o.sweep_ms = 0;
    pthread_t wt;
    int64_t t2 = mono_us();
    pthread_create(&wt, NULL, worker_thread, &o);
    while (atomic_load(&dispatched) < n)
        usleep(1000);
    /* processed means ended: every end is recorded (a batch's last ends go
     * after its last run) */
    while (zcard(rc, exd) > 0)
        usleep(500);
    int64_t t3 = mono_us();
    redis_totals(node, &calls2, &cpu2);
    kill(getpid(), SIGTERM); /* stops the worker loop */
    pthread_join(wt, NULL);
    double add_s = (double)(t1 - t0) / 1e6, run_s = (double)(t3 - t2) / 1e6;
    printf("dispatch agent-async n=%lld add=%.0f jobs/s process=%.0f jobs/s "
           "commands/job add=%.1f process=%.1f redis_cpu_us/job add=%.1f process=%.1f\n",
           n, (double)n / add_s, (double)n / run_s, (double)(calls1 - calls0 - 2) / (double)n,
           (double)(calls2 - calls1 - 2) / (double)n, (cpu1 - cpu0) * 1e6 / (double)n,
           (cpu2 - cpu1) * 1e6 / (double)n);
    rconn_free(rc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = cfg_subcommand_or_exit(
        opts, argc, argv, "usage: aa-bench roundtrip|desk|worker|suspend|dispatch [options]");
    log_init("bench", "warn");
    signal(SIGPIPE, SIG_IGN);
    int rc = 2;
    char err[512];
    if (strcmp(cmd, "desk") != 0 &&
        keys_cells_start(cfg_str(opts, "redis"), (unsigned)cfg_int(opts, "cells"), 10000, err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "aa-bench: %s\n", err);
        cfg_free(opts);
        return 1;
    }
    cell = keys_cell_of(SESSION);
    if (!strcmp(cmd, "roundtrip"))
        rc = roundtrip();
    else if (!strcmp(cmd, "desk"))
        rc = desk();
    else if (!strcmp(cmd, "worker"))
        rc = worker();
    else if (!strcmp(cmd, "suspend"))
        rc = suspend_bench();
    else if (!strcmp(cmd, "dispatch"))
        rc = dispatch_bench();
    else
        fprintf(stderr, "aa-bench: unknown command '%s'\n", cmd);
    cfg_free(opts);
    return rc;
}
