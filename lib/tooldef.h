/* tooldef.h -- The three tools (run_client_command, get_vpn_status,
 * analyze_logs): their specs and how arguments route to them, as in the
 * original (command, query == "vpn_status", log_type). */
#ifndef AA_TOOLDEF_H
#define AA_TOOLDEF_H

#include <jansson.h>

/* A chat message that starts with this is the desktop client's report of
 * what happened to a fire-and-forget action (it failed, or the user denied
 * it), not a request from the user. The client sends it; the agent explains
 * it and does not retry unasked. */
#define TOOLDEF_REPORT_PREFIX "[report from the client]"

/* Which tool the arguments route to ("" when none). Borrowed: static. */
const char *tooldef_route(const json_t *arguments);

/* Tool specs (name, description, input_schema as JSON Schema).
 * Returns: owned, free with json_decref. */
json_t *tooldef_specs(void);

#endif
