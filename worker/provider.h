/* provider.h -- The model behind the agent. A provider looks at the turn's
 * transcript and decides the next move: call tools, or answer. */
#ifndef AA_PROVIDER_H
#define AA_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

/* transcript: a JSON array of {"role":"user","text":...} and
 * {"role":"tool","name":...,"arguments":{...},"result":"<MCP result text>"}.
 * A decision is {"type":"tool_use","tools":[{"name":...,"arguments":{...}}]}
 * or {"type":"final","text":"..."}. */
typedef char *(*provider_next_cb)(const json_t *transcript, char *err, size_t errlen, void *arg);

struct provider {
    const char *name;
    /* Returns: owned decision JSON text, or NULL with err filled. */
    provider_next_cb next;
    void *arg;
};

/* The offline, rule-based provider (the default). Borrowed: static. */
const struct provider *provider_builtin(void);

/* The built-in log analysis: findings and recommendations for log text.
 * Returns: owned text. */
char *builtin_analyze_logs(const char *log_type, const char *log_data);

#endif
