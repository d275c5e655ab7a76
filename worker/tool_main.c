/* tool_main.c -- aa-tool-worker: runs tool calls from the tool stream and
 * resumes suspended executions when their callbacks are answered. */
#include "cfg.h"
#include "log.h"
#include "tools.h"
#include "wk_loop.h"

#include <stdio.h>

static struct cfg_opt opts[] = {
    {"stream", CFG_STR, "aa:stream:tool", 0, 128, "stream of tool calls", NULL, 0},
    {"group", CFG_STR, "tool-workers", 0, 128, "consumer group", NULL, 0},
    {"client-commands", CFG_STR, "connect_vpn,disconnect_vpn", 0, 1024,
     "commands run_client_command may send", NULL, 0},
    {"status-timeout-ms", CFG_INT, "30000", 100, 86400000, "get_vpn_status callback timeout", NULL,
     0},
    {"logs-timeout-ms", CFG_INT, "120000", 100, 86400000, "analyze_logs callback timeout", NULL, 0},
    {"logs-heartbeat-ms", CFG_INT, "0", 0, 86400000, "analyze_logs heartbeat timeout (0: none)",
     NULL, 0},
    {"log-limit", CFG_INT, "65536", 256, 16777216, "bytes of log data kept", NULL, 0},
    {"notifications", CFG_BOOL, "true", 0, 0, "resume callbacks on keyspace notifications", NULL,
     0},
    {"timers", CFG_BOOL, "true", 0, 0, "fire timers and deadlines on time", NULL, 0},
    {"sweep-ms", CFG_INT, "500", 0, 60000, "sweep period (0: no sweep)", NULL, 0},
    WK_COMMON_OPTS,
    CFG_END,
};

int main(int argc, char **argv)
{
    cfg_parse_or_exit(opts, argc, argv,
                      "usage: aa-tool-worker [options]\n\nRuns the desktop tools "
                      "(run_client_command, get_vpn_status, analyze_logs) as durable executions.");
    struct wk_opts o = {.name = "tool", .limits.child_timeout_ms = 900000};
    if (wk_opts_from_cfg(&o, opts, "tool-worker") < 0) {
        cfg_free(opts);
        return 2;
    }
    struct tools_cfg tcfg = {cfg_str(opts, "client-commands"), cfg_int(opts, "status-timeout-ms"),
                             cfg_int(opts, "logs-timeout-ms"), cfg_int(opts, "logs-heartbeat-ms"),
                             cfg_int(opts, "log-limit")};
    struct dur_handler handlers[] = {{"tool", tools_handler, &tcfg}, {NULL, NULL, NULL}};
    o.handlers = handlers;
    o.notifications = (int)cfg_int(opts, "notifications");
    o.timers = (int)cfg_int(opts, "timers");
    o.sweep_ms = (int)cfg_int(opts, "sweep-ms");
    int rc = wk_run(&o);
    cfg_free(opts);
    return rc;
}
