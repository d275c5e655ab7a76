/* agent_main.c -- aa-agent-worker: runs chat turns from the agent stream. */
#include "agent.h"
#include "cfg.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "tooldef.h"
#include "util.h"
#include "wk_loop.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cfg_opt opts[] = {
    {"stream", CFG_STR, KEYS_STREAM_AGENT, 0, 128, "stream of turns", NULL, 0},
    {"group", CFG_STR, "agent-workers", 0, 128, "consumer group", NULL, 0},
    {"tool-stream", CFG_STR, KEYS_STREAM_TOOL, 0, 128, "stream the tools run on", NULL, 0},
    {"llm-provider", CFG_STR, "builtin", 0, 32,
     "model provider: builtin, anthropic, openai, bedrock", NULL, 0},
    {"anthropic-model", CFG_STR, "claude-sonnet-4-20250514", 0, 200, "model for anthropic", NULL,
     0},
    {"openai-model", CFG_STR, "gpt-4o-mini", 0, 200, "model for openai (or the local server's)",
     NULL, 0},
    {"bedrock-model", CFG_STR, "us.anthropic.claude-sonnet-4-20250514-v1:0", 0, 200,
     "model id for bedrock", NULL, 0},
    {"llm-timeout-ms", CFG_INT, "120000", 1000, 600000, "time limit of one model call", NULL, 0},
    {"max-iterations", CFG_INT, "8", 1, 100, "model calls per turn at most", NULL, 0},
    {"memory-turns", CFG_INT, "10", 0, 1000, "earlier turns of a session given to the model", NULL,
     0},
    {"memory-ttl-s", CFG_INT, "86400", 1, 31536000, "how long a session's memory is kept", NULL, 0},
    {"turn-timeout-ms", CFG_INT, TOOLDEF_EXEC_TIMEOUT_MS, 1000, 31622400000LL,
     "execution timeout of a tool call", NULL, 0},
    WK_COMMON_OPTS,
    CFG_END,
};

/* Follows the tool catalog the tool workers publish (TOOLDEF_KEY): the
 * model is offered its tools. A thread with its own connection; it reads
 * every two seconds until the process ends. */
static void *catalog_main(void *arg)
{
    struct rconn *rc = rconn_new(arg);
    for (;;) {
        redisReply *r = rconn_cmd(rc, "GET %s", TOOLDEF_KEY);
        if (r && r->type == REDIS_REPLY_STRING)
            tooldef_follow(r->str);
        freeReplyObject(r);
        sleep(2);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    cfg_parse_or_exit(opts, argc, argv,
                      "usage: aa-agent-worker [options]\n\nRuns the agent's chat turns (the tool "
                      "loop) from the agent stream.");
    struct wk_opts o = {.name = "agent"};
    if (wk_opts_from_cfg(&o, opts, "agent-worker") < 0) {
        cfg_free(opts);
        return 2;
    }
    const char *pname = cfg_str(opts, "llm-provider");
    const struct provider *prov = provider_builtin();
    struct provider *http = NULL;
    if (strcmp(pname, "builtin") != 0) {
        char model_opt[64], err[256];
        snprintf(model_opt, sizeof(model_opt), "%s-model", pname);
        int known =
            !strcmp(pname, "anthropic") || !strcmp(pname, "openai") || !strcmp(pname, "bedrock");
        http = known ? provider_new(pname, cfg_str(opts, model_opt),
                                    (long)cfg_int(opts, "llm-timeout-ms"), err, sizeof(err))
                     : NULL;
        if (!http) {
            fprintf(stderr, "aa-agent-worker: %s\n",
                    known ? err : "--llm-provider must be builtin, anthropic, openai or bedrock");
            cfg_free(opts);
            return 2;
        }
        prov = http;
        log_info("event=provider name=%s model=%s", pname, cfg_str(opts, model_opt));
    } else {
        log_warn("event=provider name=builtin note=\"rule-based offline provider, not a language "
                 "model\"");
    }
    struct agent_cfg acfg = {prov, (int)cfg_int(opts, "max-iterations"),
                             cfg_str(opts, "tool-stream"), (int)cfg_int(opts, "memory-turns"),
                             cfg_int(opts, "memory-ttl-s")};
    struct dur_handler handlers[] = {{"turn", agent_turn, &acfg}, {NULL, NULL, NULL}};
    o.handlers = handlers;
    o.limits.child_timeout_ms = cfg_int(opts, "turn-timeout-ms");
    pthread_t cat;
    if (pthread_create(&cat, NULL, catalog_main, (void *)o.redis) == 0)
        pthread_detach(cat);
    int rc = wk_run(&o);
    provider_free(http);
    cfg_free(opts);
    return rc;
}
