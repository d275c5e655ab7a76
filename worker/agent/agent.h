/* agent.h -- The agent's turn: a durable handler that runs the tool loop
 * (model, tools, model, ... answer). Each model call is a recorded step and
 * each tool call is a child execution on the tool stream, so a turn that
 * waits on a tool holds no agent worker, and a replay never repeats a model
 * call or a push. */
#ifndef AA_AGENT_H
#define AA_AGENT_H

#include "dur.h"
#include "provider.h"

struct agent_cfg {
    const struct provider *prov;
    int max_iterations;
    const char *tool_stream;
    int memory_turns; /* earlier turns of the session given to the model */
    long long memory_ttl_s;
};

/* The handler (name "turn"); arg is a struct agent_cfg. Input:
 * {"session_id":"...","prompt":"..."}. */
int agent_turn(struct dur_ctx *ctx, const char *input, char **result, void *arg);

/* The progress text shown while a tool waits. Borrowed: static. */
const char *agent_progress_text(const char *tool, const json_t *arguments);

#endif
