/* tooldef.h -- The tool catalog: the tools the agent and MCP callers may use
 * on the desktop. The three original tools (run_client_command,
 * get_vpn_status, analyze_logs) are built-in entries and keep their names,
 * arguments, routing by arguments (command, query == "vpn_status",
 * log_type) and results. More entries come from the tool worker's
 * --tool-catalog file (JSON), without recompiling: each names a client
 * action the desktop has configured, pushed fire-and-forget or answered
 * through a callback. The tool worker publishes the catalog in Redis
 * (TOOLDEF_KEY); the agent worker and the gateway read it from there, so one
 * file configures every process. Thread-safe: the catalog is swapped whole
 * under a lock. */
#ifndef AA_TOOLDEF_H
#define AA_TOOLDEF_H

#include "keys.h"

#include <jansson.h>
#include <stddef.h>

/* A chat message that starts with this is the desktop client's report of
 * what happened to a fire-and-forget action (it failed, or the user denied
 * it), not a request from the user. The client sends it; the agent explains
 * it and does not retry unasked. */
#define TOOLDEF_REPORT_PREFIX "[report from the client]"

/* The time limit of one tool call's execution (ms, as text): the agent's
 * default for the tool calls of a turn, and MCP's for tools/call. */
#define TOOLDEF_EXEC_TIMEOUT_MS "900000"

/* Where the tool worker publishes the catalog (a JSON array, as
 * tooldef_catalog_json returns). */
#define TOOLDEF_KEY KEYS_TOOL_CATALOG

enum tooldef_mode {
    TOOLDEF_BUILTIN,  /* one of the three originals */
    TOOLDEF_PUSH,     /* pushes a client_action, returns at once */
    TOOLDEF_CALLBACK, /* pushes {"action":"run_action"}, waits for the answer */
};

/* One entry, copied out of the catalog. */
struct tooldef {
    char name[64], title[96], client_action[32];
    char description[512];
    enum tooldef_mode mode;
    long long timeout_ms;
    int changes; /* it changes the user's machine (not read-only) */
};

/* Which built-in tool the arguments route to ("" when none). Borrowed:
 * static. */
const char *tooldef_route(const json_t *arguments);

/* Tool specs (name, description, input_schema as JSON Schema), the
 * built-in ones first. Returns: owned, free with json_decref. */
json_t *tooldef_specs(void);

/* The entry called name. Returns 0 with *out filled, -1 when unknown. */
int tooldef_find(const char *name, struct tooldef *out);

/* Reads a catalog file: a JSON array of {"name", "title", "description",
 * "input_schema" (an object schema; default no arguments), "client_action"
 * (default: name), "mode" ("push" | "callback"), "timeout_ms" (callback;
 * default 30000), "changes_machine" (default true)}. Names must be new
 * ([a-z0-9_], 1-63), client actions [A-Za-z0-9_.-]. Replaces the custom
 * entries. Returns 0 / -1 with err filled (the catalog unchanged). */
int tooldef_load_file(const char *path, char *err, size_t errlen);

/* The same from the published text (TOOLDEF_KEY). Returns 0 / -1. */
int tooldef_load_json(const char *text, char *err, size_t errlen);

/* Follows the published catalog (the text of TOOLDEF_KEY, as the agent
 * workers and gateways read it): loads it when it differs from the last
 * text seen, and logs the change (event=tool_catalog) or why it cannot be
 * read (event=tool_catalog_unreadable), once per text. */
void tooldef_follow(const char *text);

/* The custom entries as JSON text, for TOOLDEF_KEY. Returns: owned. */
char *tooldef_catalog_json(void);

/* How many entries, the built-in ones included. */
size_t tooldef_count(void);

#endif
