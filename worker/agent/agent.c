/* agent.c -- The tool loop of one chat turn as a durable handler. */
#include "agent.h"
#include "keys.h"
#include "log.h"
#include "mx.h"
#include "push.h"
#include "rconn.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *agent_progress_text(const char *tool, const json_t *arguments)
{
    if (!strcmp(tool, "get_vpn_status"))
        return "Checking the VPN status on your computer...";
    if (!strcmp(tool, "analyze_logs")) {
        const char *t = json_string_value(json_object_get(arguments, "log_type"));
        if (t && !strcmp(t, "network"))
            return "Collecting network logs from your computer...";
        if (t && !strcmp(t, "system"))
            return "Collecting system logs from your computer...";
        return "Collecting VPN logs from your computer...";
    }
    return "Sending the command to your computer...";
}

struct model_arg {
    const struct provider *prov;
    const json_t *transcript;
    int round;
};

struct delta_arg {
    struct dur_ctx *ctx;
    int round;
};

/* A piece of the answer as the model writes it: a transient chat_delta
 * event (the model step is recorded, so a replay never streams again). */
static void on_delta(const char *text, size_t len, void *arg)
{
    struct delta_arg *d = arg;
    json_t *ev = json_pack("{s:s, s:{s:s%, s:s, s:i}}", "event", "chat_delta", "data", "text", text,
                           len, "turn_id", dur_exec_id(d->ctx), "model_call", d->round);
    if (ev)
        push_event(dur_rconn(d->ctx), dur_session(d->ctx), ev, 0, NULL, 0);
    json_decref(ev);
}

static int model_step(struct dur_ctx *ctx, char **result, void *arg)
{
    struct model_arg *m = arg;
    struct prov_status st;
    memset(&st, 0, sizeof(st));
    struct delta_arg da = {ctx, m->round};
    st.on_delta = on_delta;
    st.delta_arg = &da;
    int64_t t0 = mono_us();
    *result = m->prov->next(m->transcript, &st, m->prov->arg);
    int64_t us = mono_us() - t0;
    mx_add(MX_MODEL_CALLS, 1);
    mx_add(MX_MODEL_TOKENS, (unsigned long long)(st.input_tokens + st.output_tokens));
    mx_observe(MX_H_MODEL, (double)us / 1e6);
    log_info("event=model_call exec=%s trace=%s provider=%s us=%lld ok=%d", dur_exec_id(ctx),
             dur_trace(ctx), m->prov->name, (long long)us, *result != NULL);
    if (!*result) {
        log_warn("event=model_error exec=%s provider=%s retryable=%d err=\"%s\"", dur_exec_id(ctx),
                 m->prov->name, st.retryable, st.err);
        *result = xstrdup(st.err);
        /* a refused request is not retried; a busy or failing service is */
        dur_retry_after(ctx, st.retryable ? st.retry_after_ms : -1);
        return DUR_ERROR;
    }
    return DUR_OK;
}

/* Pushes an event as a recorded step (never twice). */
static int push_once(struct dur_ctx *ctx, const char *name, json_t *event)
{
    char *out = NULL;
    int rc = dur_push(ctx, name, event, 0, &out);
    free(out);
    json_decref(event);
    return rc;
}

/* Step: the session's memory (earlier turns), as a JSON array text. */
static int memory_step(struct dur_ctx *ctx, char **result, void *arg)
{
    const struct agent_cfg *cfg = arg;
    char key[KEYS_MAX];
    keys_session(key, sizeof(key), dur_session(ctx), "memory");
    redisReply *r = rconn_cmd(dur_rconn(ctx), "LRANGE %s %d -1", key, -cfg->memory_turns);
    if (!r)
        return DUR_FAIL;
    json_t *turns = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_t *t = json_loads(r->element[i]->str, 0, NULL);
        if (json_is_object(t))
            json_array_append_new(turns, t);
        else
            json_decref(t);
    }
    freeReplyObject(r);
    *result = json_dumps(turns, JSON_COMPACT);
    json_decref(turns);
    return DUR_OK;
}

/* A copy of at most max bytes of s, cut on a UTF-8 boundary, marked. */
static char *bounded(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return xstrdup(s);
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    char *cut = xstrndup(s, max);
    char *out = xasprintf("%s [...]", cut);
    free(cut);
    return out;
}

struct remember_arg {
    const struct agent_cfg *cfg;
    const char *prompt, *answer;
    const json_t *transcript;
};

/* Step: keep this turn (prompt, answer, tool results in a bounded form). */
static int remember_step(struct dur_ctx *ctx, char **result, void *arg)
{
    struct remember_arg *ra = arg;
    json_t *tools = json_array(), *e;
    size_t i;
    json_array_foreach(ra->transcript, i, e)
    {
        const char *role = json_string_value(json_object_get(e, "role"));
        if (!role || strcmp(role, "tool") != 0)
            continue;
        const char *res = json_string_value(json_object_get(e, "result"));
        char *b = bounded(res ? res : "", 1024);
        json_array_append_new(
            tools, json_pack("{s:O, s:s}", "name", json_object_get(e, "name"), "result", b));
        free(b);
    }
    char *p = bounded(ra->prompt, 4096), *a = bounded(ra->answer, 4096);
    json_t *turn = json_pack("{s:s, s:s, s:o}", "user", p, "assistant", a, "tools", tools);
    free(p);
    free(a);
    char *txt = json_dumps(turn, JSON_COMPACT);
    json_decref(turn);
    char key[KEYS_MAX], keep[16], ttl[24];
    keys_session(key, sizeof(key), dur_session(ctx), "memory");
    snprintf(keep, sizeof(keep), "%d", ra->cfg->memory_turns);
    snprintf(ttl, sizeof(ttl), "%lld", ra->cfg->memory_ttl_s);
    struct scripts_memory_append m = {.memory = key, .turn = txt, .keep = keep, .ttl_s = ttl};
    redisReply *r = scripts_memory_append(dur_rconn(ctx), &m);
    free(txt);
    if (!r)
        return DUR_FAIL;
    freeReplyObject(r);
    *result = xstrdup("");
    return DUR_OK;
}

int agent_turn(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    const struct agent_cfg *cfg = arg;
    json_t *in = json_loads(input, 0, NULL);
    const char *prompt = json_string_value(json_object_get(in, "prompt"));
    json_t *transcript = json_array();
    int rc = DUR_FAIL;
    char name[64];
    if (!prompt) {
        *result = xstrdup("turn input has no prompt");
        goto done;
    }
    if (cfg->memory_turns > 0) {
        char *mem = NULL;
        rc = dur_step(ctx, "memory", memory_step, (void *)cfg, &mem);
        if (rc != DUR_OK) {
            free(mem);
            goto done;
        }
        json_t *turns = json_loads(mem, 0, NULL), *t;
        size_t k;
        json_array_foreach(turns, k, t)
        {
            json_array_append_new(transcript, json_pack("{s:s, s:O}", "role", "user", "text",
                                                        json_object_get(t, "user")));
            json_array_append_new(transcript, json_pack("{s:s, s:O}", "role", "assistant", "text",
                                                        json_object_get(t, "assistant")));
        }
        json_decref(turns);
        free(mem);
    }
    json_array_append_new(transcript, json_pack("{s:s, s:s}", "role", "user", "text", prompt));
    for (int i = 0; i < cfg->max_iterations; i++) {
        struct model_arg m = {cfg->prov, transcript, i};
        char *decision_txt = NULL;
        snprintf(name, sizeof(name), "model.%d", i);
        static const struct dur_retry model_retry = {4, 1000, 30000, 2.0, 1};
        rc = dur_step_retry(ctx, name, model_step, &m, &model_retry, &decision_txt);
        if (rc == DUR_FAIL || rc == DUR_SUSPEND) /* a retry waits on its timer */
            goto done;
        json_t *decision = rc == DUR_OK ? json_loads(decision_txt, 0, NULL) : NULL;
        if (!decision) {
            char *msg = xasprintf("The model failed: %s",
                                  rc == DUR_OK ? "unreadable decision" : decision_txt);
            push_once(ctx, "error",
                      json_pack("{s:s, s:{s:s, s:s, s:s}}", "event", "error", "data", "code",
                                "model_error", "message", msg, "turn_id", dur_exec_id(ctx)));
            free(decision_txt);
            *result = msg;
            rc = DUR_ERROR;
            goto done;
        }
        free(decision_txt);
        const char *type = json_string_value(json_object_get(decision, "type"));
        if (type && !strcmp(type, "final")) {
            const char *text = json_string_value(json_object_get(decision, "text"));
            rc = push_once(ctx, "answer",
                           json_pack("{s:s, s:{s:s, s:s}}", "event", "chat_response", "data",
                                     "text", text ? text : "", "turn_id", dur_exec_id(ctx)));
            if (rc == DUR_OK && cfg->memory_turns > 0) {
                struct remember_arg ra = {cfg, prompt, text ? text : "", transcript};
                char *out = NULL;
                rc = dur_step(ctx, "remember", remember_step, &ra, &out);
                free(out);
            }
            if (rc == DUR_OK)
                *result = xstrdup(text ? text : "");
            json_decref(decision);
            goto done;
        }
        /* Tool uses: start them all (they run in parallel), then wait. */
        json_t *tools = json_object_get(decision, "tools");
        size_t ntools = json_array_size(tools);
        int suspended = 0;
        for (size_t j = 0; j < ntools; j++) {
            json_t *call = json_array_get(tools, j);
            const char *tname = json_string_value(json_object_get(call, "name"));
            json_t *targs = json_deep_copy(json_object_get(call, "arguments"));
            if (!json_is_object(targs)) {
                json_decref(targs);
                targs = json_object();
            }
            /* The session is the job's, never the model's. */
            json_object_set_new(targs, "session_id", json_string(dur_session(ctx)));
            if (tname && strcmp(tname, "run_client_command") != 0) {
                snprintf(name, sizeof(name), "progress.%d.%zu", i, j);
                rc = push_once(ctx, name,
                               json_pack("{s:s, s:{s:s, s:s, s:s}}", "event", "progress", "data",
                                         "text", agent_progress_text(tname, targs), "tool", tname,
                                         "turn_id", dur_exec_id(ctx)));
                if (rc == DUR_FAIL) {
                    json_decref(targs);
                    json_decref(decision);
                    goto done;
                }
            }
            json_t *tin = json_pack("{s:s, s:O, s:s}", "name", tname ? tname : "", "arguments",
                                    targs, "via", "chat");
            char *tin_txt = json_dumps(tin, JSON_COMPACT);
            char *tres = NULL;
            snprintf(name, sizeof(name), "tool.%d.%zu", i, j);
            rc = dur_invoke(ctx, name, "tool", cfg->tool_stream, tin_txt, &tres);
            free(tin_txt);
            json_decref(tin);
            if (rc == DUR_FAIL) {
                json_decref(targs);
                json_decref(decision);
                free(tres);
                goto done;
            }
            if (rc == DUR_SUSPEND)
                suspended = 1;
            else {
                const char *cid = json_string_value(json_object_get(call, "id"));
                json_array_append_new(
                    transcript, json_pack("{s:s, s:s, s:i, s:s, s:o, s:s}", "role", "tool", "id",
                                          cid ? cid : "", "round", i, "name", tname ? tname : "",
                                          "arguments", targs, "result", tres ? tres : ""));
            }
            if (rc == DUR_SUSPEND)
                json_decref(targs);
            free(tres);
        }
        json_decref(decision);
        if (suspended) {
            rc = DUR_SUSPEND;
            goto done;
        }
    }
    *result =
        xasprintf("The agent stopped after %d model calls without an answer.", cfg->max_iterations);
    push_once(ctx, "error",
              json_pack("{s:s, s:{s:s, s:s, s:s}}", "event", "error", "data", "code",
                        "too_many_iterations", "message", *result, "turn_id", dur_exec_id(ctx)));
    rc = DUR_ERROR;
done:
    json_decref(transcript);
    json_decref(in);
    return rc;
}
