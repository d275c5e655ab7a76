/* tooldef.c -- The three tools' definitions: JSON Schemas and routing by
 * arguments, shared by the tool worker, the agent and the MCP endpoint. */
#include "tooldef.h"

#include <string.h>

const char *tooldef_route(const json_t *args)
{
    if (!json_is_object(args))
        return "";
    if (json_object_get(args, "command"))
        return "run_client_command";
    const char *q = json_string_value(json_object_get(args, "query"));
    if (q && strcmp(q, "vpn_status") == 0)
        return "get_vpn_status";
    if (json_object_get(args, "log_type"))
        return "analyze_logs";
    return "";
}

json_t *tooldef_specs(void)
{
    return json_pack(
        "[{s:s, s:s, s:{s:s, s:{s:{s:s, s:[s,s]}}, s:[s]}},"
        " {s:s, s:s, s:{s:s, s:{s:{s:s, s:[s]}}, s:[s]}},"
        " {s:s, s:s, s:{s:s, s:{s:{s:s, s:[s,s,s]}}, s:[s]}}]",
        "name", "run_client_command", "description",
        "Run a command on the user's desktop client (fire-and-forget).", "input_schema", "type",
        "object", "properties", "command", "type", "string", "enum", "connect_vpn",
        "disconnect_vpn", "required", "command", "name", "get_vpn_status", "description",
        "Ask the user's desktop client for the live VPN status.", "input_schema", "type", "object",
        "properties", "query", "type", "string", "enum", "vpn_status", "required", "query", "name",
        "analyze_logs", "description", "Collect logs from the user's desktop client for analysis.",
        "input_schema", "type", "object", "properties", "log_type", "type", "string", "enum", "vpn",
        "network", "system", "required", "log_type");
}
