/* provider.h -- The model behind the agent. A provider looks at the turn's
 * transcript and decides the next move: call tools, or answer. */
#ifndef AA_PROVIDER_H
#define AA_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

/* transcript: a JSON array of {"role":"user","text":...},
 * {"role":"assistant","text":...} (earlier turns, from the session memory) and
 * {"role":"tool","id":...,"round":N,"name":...,"arguments":{...},
 *  "result":"<MCP result text>"} (tool uses of one model turn share N).
 * A decision is {"type":"tool_use","tools":[{"id":...,"name":...,
 * "arguments":{...}}]} or {"type":"final","text":"..."}. */
struct prov_status {
    char err[256];          /* why it failed (never contains a key) */
    int retryable;          /* 429, 5xx, timeouts */
    int64_t retry_after_ms; /* the server's Retry-After, or 0 */
    long input_tokens, output_tokens;
    /* Set by the caller to stream the answer: called with each piece of
     * text as the model generates it (tool arguments are not streamed). */
    void (*on_delta)(const char *text, size_t len, void *arg);
    void *delta_arg;
};
typedef char *(*provider_next_cb)(const json_t *transcript, struct prov_status *st, void *arg);

struct provider {
    const char *name;
    /* Returns: owned decision JSON text, or NULL with err filled. */
    provider_next_cb next;
    void *arg;
};

/* The offline, rule-based provider (the default). Borrowed: static. */
const struct provider *provider_builtin(void);

/* A provider chosen by name ("builtin", "anthropic", "openai", "bedrock"),
 * configured from the usual environment of its ecosystem
 * (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL; OPENAI_API_KEY, OPENAI_BASE_URL;
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME) and model. Returns: owned, NULL with
 * err filled when something required is missing. */
struct provider *provider_new(const char *name, const char *model, long timeout_ms, char *err,
                              size_t errlen);
void provider_free(struct provider *p);

/* The system prompt the agent gives real models. Borrowed: static. */
const char *provider_system_prompt(void);

/* The built-in log analysis: findings and recommendations for log text.
 * Returns: owned text. */
char *builtin_analyze_logs(const char *log_type, const char *log_data);

#endif
