/* prov_builtin.c -- The offline provider: a rule-based model that maps clear
 * intents to the three tools and turns their results into helpful answers.
 * It needs no network and no key; it is not a language model. */
#include "provider.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has(const char *text, const char *word)
{
    return strstr(text, word) != NULL;
}

static char *lower(const char *s)
{
    char *l = xstrdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

static const char *log_type_for(const char *p)
{
    if (has(p, "system") || has(p, "kernel") || has(p, "journal"))
        return "system";
    if (has(p, "network") || has(p, "dns") || has(p, "wifi") || has(p, "wi-fi") ||
        has(p, "internet") || has(p, "route"))
        return "network";
    return "vpn";
}

/* Returns the tool call for a prompt, or NULL when no intent is clear. */
static json_t *intent(const char *prompt)
{
    char *p = lower(prompt);
    json_t *call = NULL;
    if (has(p, "log") || has(p, "drop") || has(p, "keeps") || has(p, "troubleshoot") ||
        has(p, "diagnos") || has(p, "analy") || has(p, "why") || has(p, "slow") ||
        has(p, "unstable"))
        call = json_pack("{s:s, s:{s:s}}", "name", "analyze_logs", "arguments", "log_type",
                         log_type_for(p));
    else if (has(p, "status") || has(p, "am i connected") || has(p, "is my vpn") ||
             has(p, "connected?") || has(p, "state of"))
        call = json_pack("{s:s, s:{s:s}}", "name", "get_vpn_status", "arguments", "query",
                         "vpn_status");
    else if (has(p, "disconnect") || has(p, "turn off") || has(p, "stop the vpn") ||
             has(p, "stop my vpn"))
        call = json_pack("{s:s, s:{s:s}}", "name", "run_client_command", "arguments", "command",
                         "disconnect_vpn");
    else if (has(p, "connect") || has(p, "turn on") || has(p, "start the vpn") ||
             has(p, "start my vpn"))
        call = json_pack("{s:s, s:{s:s}}", "name", "run_client_command", "arguments", "command",
                         "connect_vpn");
    free(p);
    return call;
}

struct rule {
    const char *pattern[4]; /* any of these (lowercase) */
    const char *finding;
    const char *advice;
};

static const struct rule rules[] = {
    {{"auth", "login failed", "invalid credentials", "401"},
     "Authentication failures",
     "Check your username and password (or token) and whether your account is locked or needs "
     "MFA."},
    {{"certificate", "x509", "cert ", "untrusted"},
     "Certificate problems",
     "The server certificate is not trusted or has expired: update the VPN profile or the CA "
     "certificates, and check the system clock."},
    {{"dns", "resolv", "name resolution", "nxdomain"},
     "DNS resolution failures",
     "Check the DNS servers the VPN pushes, and try flushing the resolver cache."},
    {{"mtu", "fragment", "packet too big", NULL},
     "MTU / fragmentation issues",
     "Lower the VPN interface MTU (for example to 1350) to avoid fragmented packets being "
     "dropped."},
    {{"no route", "unreachable", "route ", NULL},
     "Routing problems",
     "Check the routes the VPN installs (split tunnel settings) and that the default route is "
     "correct."},
    {{"timeout", "timed out", "keepalive", "dpd"},
     "Timeouts / dead peer detection",
     "The tunnel loses its peer: check Wi-Fi or network stability, and disable power saving on "
     "the network adapter."},
    {{"disconnected", "reconnect", "connection lost", "dropped"},
     "Repeated disconnects",
     "The tunnel drops and reconnects: compare the times with network changes (Wi-Fi roaming, "
     "sleep)."},
};

char *builtin_analyze_logs(const char *log_type, const char *log_data)
{
    char *l = lower(log_data);
    size_t cap = 1024, len = 0;
    char *out = xmalloc(cap);
    int found = 0;
    len += (size_t)snprintf(out, cap, "I analyzed your %s logs (%zu bytes).", log_type,
                            strlen(log_data));
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        int hit = 0;
        for (int j = 0; j < 4 && rules[i].pattern[j]; j++)
            if (has(l, rules[i].pattern[j]))
                hit = 1;
        if (!hit)
            continue;
        char *line = xasprintf("%s\n- %s: %s", found ? "" : "\nFindings:", rules[i].finding,
                               rules[i].advice);
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = xrealloc(out, cap);
        }
        memcpy(out + len, line, n + 1);
        len += n;
        free(line);
        found++;
    }
    if (!found) {
        const char *none = " I found no known failure pattern (authentication, certificates, DNS, "
                           "MTU, routes, timeouts, disconnects); the connection looks healthy "
                           "in these logs.";
        size_t n = strlen(none);
        out = xrealloc(out, len + n + 1);
        memcpy(out + len, none, n + 1);
    }
    free(l);
    return out;
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
        if (cmd && !strcmp(cmd, "connect_vpn"))
            out = xstrdup("I've asked your computer to connect to the VPN (connect_vpn). The VPN "
                          "client should be connecting now; ask me for the VPN status to "
                          "confirm.");
        else
            out = xasprintf("I've sent '%s' to your computer.", cmd ? cmd : "the command");
    } else if (!strcmp(name, "get_vpn_status")) {
        const char *st = json_string_value(json_object_get(payload, "status"));
        if (st && !strcmp(st, "connected"))
            out = xstrdup("Your VPN is currently connected.");
        else if (st && !strcmp(st, "disconnected"))
            out = xstrdup("Your VPN is currently disconnected. Say \"connect my VPN\" and I'll "
                          "connect it.");
        else
            out = xasprintf("Your VPN client reports the status '%s'.", st ? st : "unknown");
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
    if (role && !strcmp(role, "tool")) {
        char *text = answer_for(last);
        decision = json_pack("{s:s, s:s}", "type", "final", "text", text);
        free(text);
    } else {
        const char *prompt = json_string_value(json_object_get(last, "text"));
        json_t *call = intent(prompt ? prompt : "");
        if (call) {
            json_object_set_new(call, "id", json_string("builtin-0"));
            decision = json_pack("{s:s, s:[o]}", "type", "tool_use", "tools", call);
        } else
            decision = json_pack(
                "{s:s, s:s}", "type", "final", "text",
                "I can help with your VPN: I can connect or disconnect it, check its live "
                "status, and collect and analyze VPN, network or system logs from your "
                "computer. Try \"connect my VPN\", \"what's my VPN status?\" or \"my VPN "
                "keeps dropping, check the logs\".");
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
