/* tool_main.c -- aa-tool-worker: runs tool calls from the tool stream and
 * resumes suspended executions when their callbacks are answered. */
#include "cfg.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "tooldef.h"
#include "tools.h"
#include "wk_loop.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <unistd.h>

static struct cfg_opt opts[] = {
    {"stream", CFG_STR, KEYS_STREAM_TOOL, 0, 128, "stream of tool calls", NULL, 0},
    {"group", CFG_STR, "tool-workers", 0, 128, "consumer group", NULL, 0},
    {"client-commands", CFG_STR, "connect_vpn,disconnect_vpn", 0, 1024,
     "commands run_client_command may send", NULL, 0},
    {"status-timeout-ms", CFG_INT, "30000", 100, 86400000, "get_vpn_status callback timeout", NULL,
     0},
    {"logs-timeout-ms", CFG_INT, "120000", 100, 86400000, "analyze_logs callback timeout", NULL, 0},
    {"logs-heartbeat-ms", CFG_INT, "0", 0, 86400000, "analyze_logs heartbeat timeout (0: none)",
     NULL, 0},
    {"log-limit", CFG_INT, "65536", 256, 16777216, "bytes of log data kept", NULL, 0},
    {"tool-catalog", CFG_STR, "", 0, 1024,
     "JSON file of more tools (client actions), published in Redis for the agent and MCP", NULL, 0},
    {"notifications", CFG_BOOL, "true", 0, 0, "resume callbacks on keyspace notifications", NULL,
     0},
    {"timers", CFG_BOOL, "true", 0, 0, "fire timers and deadlines on time", NULL, 0},
    {"sweep-ms", CFG_INT, "500", 0, 60000, "sweep period (0: no sweep)", NULL, 0},
    WK_COMMON_OPTS,
    CFG_END,
};

/* Writes the catalog's custom entries to TOOLDEF_KEY (an empty list when
 * there are none, so that a catalog removed from the configuration goes away
 * too). Returns 0 / -1 with err filled. */
static int publish_catalog(const char *addr, char *err, size_t errlen)
{
    struct rconn *rc = rconn_new(addr);
    int ok = -1;
    for (int tries = 0; tries < 50 && ok < 0; tries++) {
        if (rconn_connect(rc, err, errlen) == 0) {
            char *json = tooldef_catalog_json();
            redisReply *r = rconn_cmd(rc, "SET %s %s", TOOLDEF_KEY, json);
            ok = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
            if (ok < 0)
                snprintf(err, errlen, "SET %s: %s", TOOLDEF_KEY,
                         r && r->str ? r->str : rconn_error(rc));
            freeReplyObject(r);
            if (ok == 0)
                log_info("event=tool_catalog_published key=%s tools=%zu", TOOLDEF_KEY,
                         tooldef_count());
            free(json);
        }
        if (ok < 0)
            usleep(100000); /* Redis may still be starting */
    }
    rconn_free(rc);
    return ok;
}

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
    char err[600];
    const char *catalog = cfg_str(opts, "tool-catalog");
    if (catalog[0] && tooldef_load_file(catalog, err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-tool-worker: --tool-catalog: %s\n", err);
        cfg_free(opts);
        return 2;
    }
    if (publish_catalog(o.redis, err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-tool-worker: cannot publish the tool catalog: %s\n", err);
        cfg_free(opts);
        return 1;
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
