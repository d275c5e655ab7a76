/* tools.c -- The tools that act on the desktop client through pushes and
 * durable callbacks. */
#include "tools.h"
#include "log.h"
#include "tooldef.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tools_result(json_t *payload, int is_error)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    json_t *res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
                            "isError", is_error);
    char *out = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    json_decref(payload);
    free(text);
    return out;
}

static char *error_result(const char *code, const char *message)
{
    return tools_result(
        json_pack("{s:s, s:s, s:s}", "status", "error", "error", code, "message", message), 1);
}

static int command_allowed(const char *list, const char *cmd)
{
    size_t n = strlen(cmd);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, cmd, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* The client's failure payload is JSON {"type","message"}; use its message. */
static char *client_failure(const char *what, const char *payload)
{
    json_t *j = json_loads(payload, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    char *msg = xasprintf("%s: %s", what, m ? m : payload);
    char *r = error_result("client_failed", msg);
    free(msg);
    json_decref(j);
    return r;
}

static char *not_connected(void)
{
    return error_result("client_not_connected",
                        "The desktop client for this session is not connected; ask the user to "
                        "open the client and try again.");
}

static int run_client_command(struct dur_ctx *ctx, const struct tools_cfg *cfg, json_t *args,
                              const char *via, char **result)
{
    const char *cmd = json_string_value(json_object_get(args, "command"));
    if (!cmd || !command_allowed(cfg->commands, cmd)) {
        char *msg = xasprintf("Unknown command '%s'; allowed: %s", cmd ? cmd : "", cfg->commands);
        *result = error_result("invalid_command", msg);
        free(msg);
        return DUR_OK;
    }
    json_t *ev = json_pack("{s:s, s:{s:s, s:s, s:s}}", "event", "client_action", "data", "action",
                           "run_client_command", "command", cmd, "requested_by", via);
    char *out = NULL;
    int rc = dur_push(ctx, "push", ev, 1, &out);
    json_decref(ev);
    if (rc == DUR_OK)
        *result = tools_result(json_pack("{s:s, s:s, s:s, s:s}", "status", "sent_to_client",
                                         "command", cmd, "session_id", dur_session(ctx), "message",
                                         "Command sent to the desktop client."),
                               0);
    else if (rc == DUR_ERROR)
        *result = not_connected();
    free(out);
    return rc == DUR_ERROR ? DUR_OK : rc;
}

/* The result for a callback that failed (rc DUR_ERROR) or timed out
 * (DUR_TIMEOUT): not connected, too late, or the client's own failure.
 * Steals: out. */
static char *callback_error(int rc, char *out, const char *late, const char *what)
{
    char *r;
    if (out && strcmp(out, "client_not_connected") == 0)
        r = not_connected();
    else if (rc == DUR_TIMEOUT)
        r = error_result("client_timeout", late);
    else
        r = client_failure(what, out ? out : "");
    free(out);
    return r;
}

/* The VPN state named by s (trimmed, any case): "connected", "disconnected"
 * or a state in between, as static text; NULL when it names none. */
static const char *vpn_state(const char *s, char *buf, size_t len)
{
    static const char *const states[] = {"connected",     "disconnected", "connecting",
                                         "disconnecting", "reconnecting", NULL};
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = 0;
    while (s[n] && n + 1 < len && s[n] != '\n' && s[n] != '\r') {
        buf[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] - 'A' + 'a' : s[n]);
        n++;
    }
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '.'))
        n--;
    buf[n] = '\0';
    for (int i = 0; states[i]; i++)
        if (!strcmp(buf, states[i]))
            return states[i];
    return NULL;
}

static int get_vpn_status(struct dur_ctx *ctx, const struct tools_cfg *cfg, const char *via,
                          char **result)
{
    json_t *req = json_pack("{s:s, s:s}", "action", "get_vpn_status", "requested_by", via);
    char *out = NULL;
    int rc = dur_callback_push(ctx, "vpn_status", cfg->status_timeout_ms, 0, req, &out);
    json_decref(req);
    if (rc == DUR_SUSPEND || rc == DUR_FAIL) {
        free(out);
        return rc;
    }
    if (rc == DUR_ERROR || rc == DUR_TIMEOUT) {
        *result =
            callback_error(rc, out, "The desktop client did not report the VPN status in time.",
                           "The desktop client could not get the VPN status");
        return DUR_OK;
    }
    /* The answer: the original client's JSON string {"vpn_status": "connected"},
     * an object with "status", or a bare word. */
    json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);
    const char *st = json_string_value(j);
    if (!st)
        st = json_string_value(json_object_get(j, "vpn_status"));
    if (!st)
        st = json_string_value(json_object_get(j, "status"));
    if (!st && !json_is_object(j) && !json_is_array(j))
        st = out;
    char status[32];
    const char *known = vpn_state(st ? st : "", status, sizeof(status));
    json_t *payload = json_pack("{s:s, s:s}", "status", known ? known : "unknown", "message",
                                known ? "VPN status retrieved from client."
                                      : "The client's answer names no VPN state.");
    if (!known) {
        char raw[201];
        strlcpy_aa(raw, out, sizeof(raw));
        json_object_set_new(payload, "reported", json_string(raw));
    }
    json_t *details = j ? json_object_get(j, "details") : NULL;
    if (details)
        json_object_set(payload, "details", details);
    *result = tools_result(payload, 0);
    json_decref(j);
    free(out);
    return DUR_OK;
}

static int analyze_logs(struct dur_ctx *ctx, const struct tools_cfg *cfg, json_t *args,
                        const char *via, char **result)
{
    const char *type = json_string_value(json_object_get(args, "log_type"));
    if (!type || (strcmp(type, "vpn") && strcmp(type, "network") && strcmp(type, "system"))) {
        *result = error_result("invalid_log_type", "log_type must be vpn, network or system");
        return DUR_OK;
    }
    json_t *req = json_pack("{s:s, s:s, s:s}", "action", "request_logs", "log_type", type,
                            "requested_by", via);
    char *out = NULL;
    int rc =
        dur_callback_push(ctx, "logs", cfg->logs_timeout_ms, cfg->logs_heartbeat_ms, req, &out);
    json_decref(req);
    if (rc == DUR_SUSPEND || rc == DUR_FAIL) {
        free(out);
        return rc;
    }
    if (rc == DUR_ERROR || rc == DUR_TIMEOUT) {
        char *what = xasprintf("The desktop client could not collect %s logs", type);
        *result =
            callback_error(rc, out, "The desktop client did not send the logs in time.", what);
        free(what);
        return DUR_OK;
    }
    size_t len = strlen(out);
    int truncated = len > (size_t)cfg->log_limit;
    if (truncated) {
        /* cut on a UTF-8 boundary */
        size_t cut = (size_t)cfg->log_limit;
        while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
            cut--;
        out[cut] = '\0';
    }
    char *data = truncated ? xasprintf("%s\n[... truncated at %lld bytes]", out, cfg->log_limit)
                           : xstrdup(out);
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:b}", "status", "logs_received", "log_type",
                                type, "log_data", data, "message",
                                "Please analyze the log_data for issues.", "truncated", truncated);
    if (!json_is_object(payload)) {
        /* invalid UTF-8 from the client */
        *result = error_result("invalid_log_data", "The client's log data is not valid UTF-8.");
    } else {
        *result = tools_result(payload, 0);
    }
    free(data);
    free(out);
    return DUR_OK;
}

/* A catalog tool (tooldef): its client action, pushed fire-and-forget, or
 * requested through a callback and answered with the action's output. The
 * model's arguments are not passed on: the desktop runs what it configured
 * for the action, never a command line from the server. */
static int catalog_tool(struct dur_ctx *ctx, const struct tooldef *d, const char *via,
                        char **result)
{
    char *out = NULL;
    if (d->mode == TOOLDEF_PUSH) {
        json_t *ev =
            json_pack("{s:s, s:{s:s, s:s, s:s}}", "event", "client_action", "data", "action",
                      "run_client_command", "command", d->client_action, "requested_by", via);
        int rc = dur_push(ctx, "push", ev, 1, &out);
        json_decref(ev);
        if (rc == DUR_OK)
            *result = tools_result(
                json_pack("{s:s, s:s, s:s, s:s}", "status", "sent_to_client", "tool", d->name,
                          "client_action", d->client_action, "message",
                          "Sent to the desktop client; it reports a failure or a denial in the "
                          "chat."),
                0);
        else if (rc == DUR_ERROR)
            *result = not_connected();
        free(out);
        return rc == DUR_ERROR ? DUR_OK : rc;
    }
    json_t *req = json_pack("{s:s, s:s, s:s}", "action", "run_action", "name", d->client_action,
                            "requested_by", via);
    int rc = dur_callback_push(ctx, "action", d->timeout_ms, 0, req, &out);
    json_decref(req);
    if (rc == DUR_SUSPEND || rc == DUR_FAIL) {
        free(out);
        return rc;
    }
    if (rc == DUR_ERROR || rc == DUR_TIMEOUT) {
        char *what = xasprintf("The desktop client could not %s", d->title);
        *result = callback_error(rc, out, "The desktop client did not answer in time.", what);
        free(what);
        return DUR_OK;
    }
    char *msg = xasprintf("The desktop client ran %s.", d->title);
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s}", "status", "done", "tool", d->name, "output",
                                out, "message", msg);
    free(msg);
    *result = payload ? tools_result(payload, 0)
                      : error_result("invalid_output", "The client's output is not valid UTF-8.");
    free(out);
    return DUR_OK;
}

/* Who asked for the tool, told to the desktop so that the user sees it: the
 * input's "via" ("chat" from the agent, "mcp:<client>" from the MCP
 * endpoint) when it is short printable ASCII, else "agent". Borrowed. */
static const char *requested_by(const char *via)
{
    size_t n = via ? strlen(via) : 0;
    if (n == 0 || n > 80)
        return "agent";
    for (size_t i = 0; i < n; i++)
        if (via[i] <= ' ' || via[i] >= 127)
            return "agent";
    return via;
}

int tools_handler(struct dur_ctx *ctx, const char *input, char **result, void *arg)
{
    const struct tools_cfg *cfg = arg;
    json_error_t jerr;
    json_t *in = json_loads(input, 0, &jerr);
    json_t *args = in ? json_object_get(in, "arguments") : NULL;
    int rc = DUR_OK;
    if (!json_is_object(args)) {
        *result = error_result("invalid_arguments", "tool input needs an 'arguments' object");
        goto done;
    }
    const char *sid = json_string_value(json_object_get(args, "session_id"));
    if (sid && strcmp(sid, dur_session(ctx)) != 0) {
        *result =
            error_result("session_mismatch", "session_id does not match the caller's session");
        goto done;
    }
    const char *tool = tooldef_route(args);
    const char *want = json_string_value(json_object_get(in, "name"));
    struct tooldef d;
    if (want && tooldef_find(want, &d) == 0 && d.mode != TOOLDEF_BUILTIN) {
        if (*tool) {
            char *msg = xasprintf("arguments route to %s, not %s", tool, want);
            *result = error_result("invalid_arguments", msg);
            free(msg);
        } else {
            rc = catalog_tool(ctx, &d, requested_by(json_string_value(json_object_get(in, "via"))),
                              result);
        }
        goto done;
    }
    if (want && *tool && strcmp(want, tool) != 0) {
        char *msg = xasprintf("arguments route to %s, not %s", tool, want);
        *result = error_result("invalid_arguments", msg);
        free(msg);
        goto done;
    }
    const char *via = requested_by(json_string_value(json_object_get(in, "via")));
    if (strcmp(tool, "run_client_command") == 0)
        rc = run_client_command(ctx, cfg, args, via, result);
    else if (strcmp(tool, "get_vpn_status") == 0)
        rc = get_vpn_status(ctx, cfg, via, result);
    else if (strcmp(tool, "analyze_logs") == 0)
        rc = analyze_logs(ctx, cfg, args, via, result);
    else
        *result = error_result("unknown_tool",
                               "arguments match no tool (command, query=vpn_status or log_type)");
done:
    json_decref(in);
    return rc;
}
