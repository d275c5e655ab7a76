/* prov_builtin.c -- The offline provider: a rule-based model that maps clear
 * intents to the three tools and turns their results into helpful answers.
 * It needs no network and no key; it is not a language model. */
#include "intent.h"
#include "loganalysis.h"
#include "provider.h"
#include "tooldef.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tool call for a prompt; NULL with *reply set (static text, or NULL
 * for the help text) when nothing is to be run. */
static json_t *intent(const char *prompt, const char **reply)
{
    struct intent in;
    intent_parse(prompt, &in);
    *reply = in.reply;
    switch (in.kind) {
    case INTENT_CONNECT:
    case INTENT_DISCONNECT:
        return json_pack("{s:s, s:{s:s}}", "name", "run_client_command", "arguments", "command",
                         in.kind == INTENT_CONNECT ? "connect_vpn" : "disconnect_vpn");
    case INTENT_STATUS:
        return json_pack("{s:s, s:{s:s}}", "name", "get_vpn_status", "arguments", "query",
                         "vpn_status");
    case INTENT_LOGS:
        return json_pack("{s:s, s:{s:s}}", "name", "analyze_logs", "arguments", "log_type",
                         in.log_type);
    default:
        return NULL;
    }
}

char *builtin_analyze_logs(const char *log_type, const char *log_data)
{
    return logs_analyze(log_type, log_data, strlen(log_data));
}

/* Turns a tool result into an answer. */
static char *answer_for(const json_t *tool)
{
    const char *name = json_string_value(json_object_get(tool, "name"));
    const char *result = json_string_value(json_object_get(tool, "result"));
    json_t *mcp = result ? json_loads(result, 0, NULL) : NULL;
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(mcp, "content"), 0), "text"));
    json_t *payload = text ? json_loads(text, 0, NULL) : NULL;
    int is_error = json_is_true(json_object_get(mcp, "isError"));
    char *out;
    const char *msg = json_string_value(json_object_get(payload, "message"));
    if (!payload) {
        out = xstrdup("The tool returned no readable result.");
    } else if (is_error) {
        out = xasprintf("I could not complete that: %s", msg ? msg : "the tool failed.");
    } else if (!strcmp(name, "run_client_command")) {
        const char *cmd = json_string_value(json_object_get(payload, "command"));
        /* sent is not done: the client has not reported the outcome yet */
        if (cmd && !strcmp(cmd, "connect_vpn"))
            out = xstrdup("I've sent connect_vpn to your computer. It has not reported the "
                          "outcome yet; ask me for the VPN status in a moment to see whether it "
                          "connected.");
        else if (cmd && !strcmp(cmd, "disconnect_vpn"))
            out = xstrdup("I've sent disconnect_vpn to your computer. It has not reported the "
                          "outcome yet; ask me for the VPN status in a moment to see whether it "
                          "disconnected.");
        else
            out = xasprintf("I've sent '%s' to your computer; it has not reported the outcome "
                            "yet.",
                            cmd ? cmd : "the command");
    } else if (!strcmp(name, "get_vpn_status")) {
        const char *st = json_string_value(json_object_get(payload, "status"));
        if (st && !strcmp(st, "connected"))
            out = xstrdup("Your VPN is currently connected.");
        else if (st && !strcmp(st, "disconnected"))
            out = xstrdup("Your VPN is currently disconnected. Say \"connect my VPN\" and I'll "
                          "connect it.");
        else if (st && strcmp(st, "unknown") != 0)
            out = xasprintf("Your VPN is %s (the client is between states; ask again in a "
                            "moment).",
                            st);
        else
            out = xstrdup("I asked your computer for the VPN status, but its answer did not say "
                          "connected or disconnected. Look at the VPN client's window, or ask me "
                          "to check the VPN logs.");
    } else if (!strcmp(name, "analyze_logs")) {
        const char *type = json_string_value(json_object_get(payload, "log_type"));
        const char *data = json_string_value(json_object_get(payload, "log_data"));
        out = builtin_analyze_logs(type ? type : "vpn", data ? data : "");
    } else {
        out = xasprintf("The %s tool finished.", name ? name : "");
    }
    json_decref(payload);
    json_decref(mcp);
    return out;
}

/* The answer to the client's report of a failed or denied action; NULL
 * when prompt is not such a report. Returns: owned. */
static char *report_text(const char *prompt)
{
    size_t n = strlen(TOOLDEF_REPORT_PREFIX);
    if (!prompt || strncmp(prompt, TOOLDEF_REPORT_PREFIX, n) != 0)
        return NULL;
    const char *what = prompt + n;
    while (*what == ' ')
        what++;
    if (strstr(what, "did not run on this computer"))
        return xasprintf("Understood: %s Tell me when you want to try again.", what);
    return xasprintf("Your computer reports a problem: %s So it did not happen; I will not retry "
                     "on my own. Check the command configured for it on the client (its sample "
                     "configurations are in docs/client/), or ask me to check the VPN logs.",
                     what);
}

static char *builtin_next(const json_t *transcript, struct prov_status *st, void *arg)
{
    (void)arg;
    size_t n = json_array_size(transcript);
    if (n == 0) {
        snprintf(st->err, sizeof(st->err), "empty transcript");
        return NULL;
    }
    const json_t *last = json_array_get(transcript, n - 1);
    const char *role = json_string_value(json_object_get(last, "role"));
    json_t *decision;
    char *report = NULL;
    if (role && !strcmp(role, "tool")) {
        char *text = answer_for(last);
        decision = json_pack("{s:s, s:s}", "type", "final", "text", text);
        free(text);
    } else if ((report = report_text(json_string_value(json_object_get(last, "text"))))) {
        decision = json_pack("{s:s, s:s}", "type", "final", "text", report);
        free(report);
    } else {
        const char *prompt = json_string_value(json_object_get(last, "text"));
        const char *reply = NULL;
        json_t *call = intent(prompt ? prompt : "", &reply);
        if (call) {
            json_object_set_new(call, "id", json_string("builtin-0"));
            decision = json_pack("{s:s, s:[o]}", "type", "tool_use", "tools", call);
        } else
            decision = json_pack(
                "{s:s, s:s}", "type", "final", "text",
                reply ? reply
                      : "I can help with your VPN: I can connect or disconnect it, check its "
                        "live status, and collect and analyze VPN, network or system logs from "
                        "your computer. Try \"connect my VPN\", \"what's my VPN status?\" or "
                        "\"my VPN keeps dropping, check the logs\".");
    }
    char *out = json_dumps(decision, JSON_COMPACT);
    json_decref(decision);
    return out;
}

const struct provider *provider_builtin(void)
{
    static const struct provider p = {"builtin", builtin_next, NULL};
    return &p;
}
