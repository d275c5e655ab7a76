/* tools.h -- The three tools (run_client_command, get_vpn_status,
 * analyze_logs) as one durable handler on the tool stream, routed by their
 * arguments as in the original. Results are MCP-style:
 * {"content":[{"type":"text","text":"<json>"}],"isError":bool}. */
#ifndef AA_TOOLS_H
#define AA_TOOLS_H

#include "dur.h"
#include "tooldef.h"

#include <jansson.h>

struct tools_cfg {
    const char *commands; /* comma-separated commands run_client_command may send */
    long long status_timeout_ms;
    long long logs_timeout_ms;
    long long logs_heartbeat_ms; /* 0: no heartbeat deadline */
    long long log_limit;         /* bytes of log_data kept; the rest is cut with a marker */
};

/* The handler (name "tool"); arg is a struct tools_cfg. */
int tools_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg);

/* Returns: owned, the MCP result text for a JSON payload. Steals: payload. */
char *tools_result(json_t *payload, int is_error);

#endif
