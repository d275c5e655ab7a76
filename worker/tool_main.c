/* tool_main.c -- aa-tool-worker: runs tool calls from the tool stream and
 * resumes suspended executions when their callbacks are answered. */
#include "cfg.h"
#include "log.h"
#include "tools.h"
#include "wk_loop.h"

#include <stdio.h>

static struct cfg_opt opts[] = {
    {"redis", CFG_STR, "127.0.0.1:6379", 0, 512, "Redis address (host:port or unix:/path)", NULL,
     0},
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
    {"threads", CFG_INT, "1", 1, 256, "consumer threads", NULL, 0},
    {"claim-idle-ms", CFG_INT, "30000", 100, 3600000, "reclaim entries idle this long", NULL, 0},
    {"lease-ms", CFG_INT, "60000", 100, 3600000, "exclusive claim of an execution", NULL, 0},
    {"max-attempts", CFG_INT, "5", 1, 100, "claims before the dead-letter stream", NULL, 0},
    {"retention-s", CFG_INT, "86400", 1, 90 * 86400, "keep ended executions this long", NULL, 0},
    {"metrics-bind", CFG_STR, "127.0.0.1", 0, 64, "address of the /metrics endpoint", NULL, 0},
    {"metrics-port", CFG_INT, "0", -1, 65535, "port of /metrics (0: any free port, -1: off)", NULL,
     0},
    {"log-level", CFG_STR, "info", 0, 8, "debug, info, warn or error", NULL, 0},
    {"log-file", CFG_STR, "", 0, 1023, "append the log here (SIGHUP reopens it); default stderr",
     NULL, 0},
    CFG_END,
};

int main(int argc, char **argv)
{
    cfg_parse_or_exit(opts, argc, argv,
                      "usage: aa-tool-worker [options]\n\nRuns the desktop tools "
                      "(run_client_command, get_vpn_status, analyze_logs) as durable executions.");
    if (log_init("tool-worker", cfg_str(opts, "log-level")) < 0) {
        fprintf(stderr, "aa-tool-worker: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    if (log_open(cfg_str(opts, "log-file")) < 0) {
        fprintf(stderr, "aa-tool-worker: cannot open --log-file '%s'\n", cfg_str(opts, "log-file"));
        return 2;
    }
    struct tools_cfg tcfg = {cfg_str(opts, "client-commands"), cfg_int(opts, "status-timeout-ms"),
                             cfg_int(opts, "logs-timeout-ms"), cfg_int(opts, "logs-heartbeat-ms"),
                             cfg_int(opts, "log-limit")};
    struct dur_handler handlers[] = {{"tool", tools_handler, &tcfg}, {NULL, NULL, NULL}};
    struct wk_opts o = {
        .redis = cfg_str(opts, "redis"),
        .stream = cfg_str(opts, "stream"),
        .group = cfg_str(opts, "group"),
        .name = "tool",
        .handlers = handlers,
        .limits = {cfg_int(opts, "lease-ms"), (int)cfg_int(opts, "max-attempts"),
                   cfg_int(opts, "retention-s"), 900000},
        .threads = (int)cfg_int(opts, "threads"),
        .notifications = (int)cfg_int(opts, "notifications"),
        .timers = (int)cfg_int(opts, "timers"),
        .claim_idle_ms = (int)cfg_int(opts, "claim-idle-ms"),
        .metrics_bind = cfg_str(opts, "metrics-bind"),
        .metrics_port = (int)cfg_int(opts, "metrics-port"),
        .sweep_ms = (int)cfg_int(opts, "sweep-ms"),
    };
    int rc = wk_run(&o);
    cfg_free(opts);
    return rc;
}
