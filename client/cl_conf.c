/* cl_conf.c -- The option table of the desktop side and its files. */
#include "cl_conf.h"
#include "cfg.h"
#include "ids.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Default commands behind each action. macOS: the original's Cisco Secure
 * Client commands. Linux: Cisco's `vpn` CLI when it is installed (chosen at
 * start), otherwise a NetworkManager connection named "vpn". All of them are
 * configuration: docs/client/ has a commented sample per platform. */
#define CISCO "/opt/cisco/secureclient/bin/vpn"
#define CISCO_OLD "/opt/cisco/anyconnect/bin/vpn"
#ifdef __APPLE__
#define D_PROFILE "the macOS defaults: Cisco Secure Client (" CISCO ")"
#define D_CONNECT "open -a 'Cisco Secure Client'"
#define D_DISCONNECT CISCO " disconnect"
#define D_STATUS CISCO " state"
#define D_LOG_VPN CISCO " state; " CISCO " stats"
#define D_LOG_NET "ifconfig; netstat -rn"
#define D_LOG_SYS "log show --last 10m --style compact --predicate 'process CONTAINS \"vpn\"'"
#else
#define D_PROFILE "the Linux defaults: the NetworkManager connection named 'vpn' (nmcli)"
#define D_CONNECT "nmcli connection up id vpn"
#define D_DISCONNECT "nmcli connection down id vpn"
#define D_STATUS "nmcli -t -f NAME,TYPE,STATE connection show --active"
#define D_LOG_VPN                                                                                  \
    "nmcli -t -f NAME,TYPE,STATE connection show --active; journalctl -u NetworkManager -n 200 "   \
    "--no-pager"
#define D_LOG_NET "ip addr; ip route; cat /etc/resolv.conf"
#define D_LOG_SYS                                                                                  \
    "journalctl -n 200 --no-pager -u NetworkManager -u openvpn -u openconnect -u vpnagentd -u "    \
    "strongswan"
#endif

static struct cfg_opt opts[] = {
    {"config", CFG_STR, "", 0, 1024,
     "configuration file (default $XDG_CONFIG_HOME/agent-async/client.conf)", NULL, 0},
    {"url", CFG_STR, "ws://127.0.0.1:8080/ws", 0, 2048, "gateway WebSocket URL (ws:// or wss://)",
     NULL, 0},
    {"ca-file", CFG_STR, "", 0, 1024, "CA certificates (PEM) for wss://", NULL, 0},
    {"insecure", CFG_BOOL, "false", 0, 0, "wss://: accept self-signed certificates", NULL, 0},
    {"session", CFG_STR, "", 0, 128, "session id (default: kept in the state file)", NULL, 0},
    {"state-file", CFG_STR, "", 0, 1024,
     "where the session id is kept (default ~/.config/agent-async/session)", NULL, 0},
    {"token", CFG_STR, "", 0, 4096, "bearer token for the gateway (AA_TOKEN; better --token-file)",
     NULL, 0},
    {"token-file", CFG_STR, "", 0, 1024, "read the bearer token from this file (keep it 0600)",
     NULL, 0},
    {"prompt", CFG_STR, "", 0, 32768, "ask one question, print the answer and exit", NULL, 0},
    {"json", CFG_BOOL, "false", 0, 0, "headless: events as JSON lines on stdout, prompts on stdin",
     NULL, 0},
    {"timeout-ms", CFG_INT, "120000", 100, 86400000, "with --prompt: give up after this long", NULL,
     0},
    {"cmd-connect-vpn", CFG_STR, D_CONNECT, 0, 4096, "command for connect_vpn", NULL, 0},
    {"cmd-disconnect-vpn", CFG_STR, D_DISCONNECT, 0, 4096, "command for disconnect_vpn", NULL, 0},
    {"cmd-vpn-status", CFG_STR, D_STATUS, 0, 4096, "command whose output tells the VPN status",
     NULL, 0},
    {"status-connected-match", CFG_STR, "", 0, 256,
     "the status output means connected when a line starts with this (any case); empty: "
     "it says 'connected' (not 'disconnected') or nmcli's ':vpn:activated'",
     NULL, 0},
    {"cmd-logs-vpn", CFG_STR, D_LOG_VPN, 0, 4096, "commands collecting vpn logs", NULL, 0},
    {"cmd-logs-network", CFG_STR, D_LOG_NET, 0, 4096, "commands collecting network logs", NULL, 0},
    {"cmd-logs-system", CFG_STR, D_LOG_SYS, 0, 4096, "commands collecting system logs", NULL, 0},
    {"approve-changes", CFG_STR, "ask", 0, 8,
     "actions that change the machine (connect, disconnect): ask, allow or deny; a client "
     "with no one to ask (--json, --prompt, no terminal) denies 'ask'",
     NULL, 0},
    {"approve-reads", CFG_STR, "allow", 0, 8, "reading actions (status, logs): allow or ask", NULL,
     0},
    {"always-allow", CFG_STR, "", 0, 1024,
     "actions allowed without asking, comma-separated (\"always\" answers add to it)", NULL, 0},
    {"action-timeout-ms", CFG_INT, "30000", 100, 3600000, "time limit of one action", NULL, 0},
    {"log-limit", CFG_INT, "65536", 256, 16777216, "bytes of command output sent", NULL, 0},
    {"heartbeat-ms", CFG_INT, "10000", 100, 3600000, "heartbeat period while collecting logs", NULL,
     0},
    {"quiet", CFG_BOOL, "false", 0, 0, "print only answers", NULL, 0},
    {"terminal", CFG_BOOL, "false", 0, 0, "aa-desktop: run the terminal client instead", NULL, 0},
    {"screenshot-dir", CFG_STR, "", 0, 1024, "aa-desktop: save the window as PNG there on changes",
     NULL, 0},
    {"state-dump", CFG_STR, "", 0, 1024,
     "aa-desktop: write what the window shows as JSON to this file on changes (tests)", NULL, 0},
    CFG_END,
};

static char conf_path[1200];
static struct cl_conf_action *actions;
static size_t nactions;

#define MAX_ACTIONS 64
static char profile[600];

static void set_default(const char *name, const char *def)
{
    for (struct cfg_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            o->def = def;
}

static void platform_defaults(void)
{
#ifndef __APPLE__
    const char *cisco = access(CISCO, X_OK) == 0       ? CISCO
                        : access(CISCO_OLD, X_OK) == 0 ? CISCO_OLD
                                                       : NULL;
    static char c_conn[300], c_disc[300], c_stat[300], c_logs[700];
    if (cisco) {
        snprintf(c_conn, sizeof(c_conn), "%s connect vpn", cisco);
        snprintf(c_disc, sizeof(c_disc), "%s disconnect", cisco);
        snprintf(c_stat, sizeof(c_stat), "%s state", cisco);
        snprintf(c_logs, sizeof(c_logs), "%s state; %s stats", cisco, cisco);
        set_default("cmd-connect-vpn", c_conn);
        set_default("cmd-disconnect-vpn", c_disc);
        set_default("cmd-vpn-status", c_stat);
        set_default("cmd-logs-vpn", c_logs);
        snprintf(profile, sizeof(profile), "the Linux defaults for Cisco Secure Client (%s)",
                 cisco);
        return;
    }
#endif
    snprintf(profile, sizeof(profile), "%s", D_PROFILE);
}

static const char *home_path(char *buf, size_t len, const char *leaf)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x)
        snprintf(buf, len, "%s/agent-async/%s", x, leaf);
    else
        snprintf(buf, len, "%s/.config/agent-async/%s", getenv("HOME") ? getenv("HOME") : ".",
                 leaf);
    return buf;
}

/* --config / AA_CONFIG, else the XDG default (which may be absent). */
static int find_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--config=", 9)) {
            strlcpy_aa(conf_path, argv[i] + 9, sizeof(conf_path));
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            strlcpy_aa(conf_path, argv[i + 1], sizeof(conf_path));
            return 1;
        }
    }
    if (getenv("AA_CONFIG") && *getenv("AA_CONFIG")) {
        strlcpy_aa(conf_path, getenv("AA_CONFIG"), sizeof(conf_path));
        return 1;
    }
    home_path(conf_path, sizeof(conf_path), "client.conf");
    return 0;
}

static int one_of(const char *v, const char *const *ok)
{
    for (; *ok; ok++)
        if (!strcmp(v, *ok))
            return 1;
    return 0;
}

static int check_values(char *err, size_t errlen)
{
    static const char *const changes[] = {"ask", "allow", "deny", NULL};
    static const char *const reads[] = {"ask", "allow", NULL};
    if (!one_of(cfg_str(opts, "approve-changes"), changes)) {
        snprintf(err, errlen, "approve-changes must be ask, allow or deny");
        return -1;
    }
    if (!one_of(cfg_str(opts, "approve-reads"), reads)) {
        snprintf(err, errlen, "approve-reads must be ask or allow");
        return -1;
    }
    const char *sid = cfg_str(opts, "session");
    if (sid[0] && !id_valid(sid, 128)) {
        snprintf(err, errlen, "--session must be 1-128 of A-Z a-z 0-9 . _ : -");
        return -1;
    }
    return 0;
}

static int action_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static const char *const builtin_actions[] = {
    "connect_vpn", "disconnect_vpn", "vpn_status", "logs_vpn", "logs_network", "logs_system", NULL};

/* "action.NAME[.field] = value" lines of the configuration file. */
static int action_line(const char *name, const char *value, char *err, size_t errlen, void *arg)
{
    (void)arg;
    const char *n = name + strlen("action.");
    const char *dot = strchr(n, '.');
    size_t len = dot ? (size_t)(dot - n) : strlen(n);
    if (!action_name_ok(n, len)) {
        snprintf(err, errlen, "'%s': an action's name is 1-31 of A-Z a-z 0-9 _ -", name);
        return -1;
    }
    for (int i = 0; builtin_actions[i]; i++) {
        if (strlen(builtin_actions[i]) == len && !strncmp(builtin_actions[i], n, len)) {
            snprintf(err, errlen, "'%s': %s is built in (set its cmd-* setting instead)", name,
                     builtin_actions[i]);
            return -1;
        }
    }
    struct cl_conf_action *a = NULL;
    for (size_t i = 0; i < nactions; i++)
        if (strlen(actions[i].name) == len && !strncmp(actions[i].name, n, len))
            a = &actions[i];
    if (!a) {
        if (nactions == MAX_ACTIONS) {
            snprintf(err, errlen, "at most %d declared actions", MAX_ACTIONS);
            return -1;
        }
        actions = xrealloc(actions, (nactions + 1) * sizeof(*actions));
        a = &actions[nactions++];
        memset(a, 0, sizeof(*a));
        snprintf(a->name, sizeof(a->name), "%.*s", (int)len, n);
        strlcpy_aa(a->title, a->name, sizeof(a->title));
        a->changes = 1;
    }
    const char *field = dot ? dot + 1 : "";
    char *end;
    if (!field[0]) {
        if (strlen(value) >= sizeof(a->cmd)) {
            snprintf(err, errlen, "'%s': the command is longer than %zu", name, sizeof(a->cmd) - 1);
            return -1;
        }
        strlcpy_aa(a->cmd, value, sizeof(a->cmd));
    } else if (!strcmp(field, "title")) {
        if (!value[0] || strlen(value) >= sizeof(a->title)) {
            snprintf(err, errlen, "'%s': a title is 1-63 characters", name);
            return -1;
        }
        strlcpy_aa(a->title, value, sizeof(a->title));
    } else if (!strcmp(field, "changes")) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(err, errlen, "'%s' must be true or false", name);
            return -1;
        }
        a->changes = !strcmp(value, "true");
    } else if (!strcmp(field, "timeout-ms") || !strcmp(field, "limit")) {
        long long v = strtoll(value, &end, 10);
        long long lo = field[0] == 't' ? 100 : 256, hi = field[0] == 't' ? 3600000 : 16777216;
        if (!value[0] || *end || v < lo || v > hi) {
            snprintf(err, errlen, "'%s' must be an integer in [%lld, %lld]", name, lo, hi);
            return -1;
        }
        if (field[0] == 't')
            a->timeout_ms = v;
        else
            a->limit = v;
    } else {
        snprintf(err, errlen, "'%s': an action has a command, title, changes, timeout-ms, limit",
                 name);
        return -1;
    }
    return 0;
}

const struct cl_conf_action *cl_conf_action(const char *name)
{
    for (size_t i = 0; i < nactions; i++)
        if (!strcmp(actions[i].name, name))
            return &actions[i];
    return NULL;
}

size_t cl_conf_action_count(void)
{
    return nactions;
}

const struct cl_conf_action *cl_conf_action_at(size_t i)
{
    return i < nactions ? &actions[i] : NULL;
}

int cl_conf_load(int argc, char **argv, const char *prog, const char *usage, char *err,
                 size_t errlen)
{
    platform_defaults();
    cfg_on_prefix("action.", action_line, NULL);
    int explicit_ = find_config(argc, argv);
    int rc = cfg_parse_file(opts, argc, argv, usage, conf_path, !explicit_, err, errlen);
    if (rc == 0)
        rc = check_values(err, errlen);
    for (size_t i = 0; rc == 0 && i < nactions; i++) {
        if (!actions[i].cmd[0]) {
            snprintf(err, errlen, "%s: action.%s has no command (action.%s = ...)", conf_path,
                     actions[i].name, actions[i].name);
            rc = -1;
        }
    }
    if (rc < 0) {
        char m[1400];
        snprintf(m, sizeof(m), "%s: %s", prog, err);
        strlcpy_aa(err, m, errlen);
    }
    /* say which commands are in use: the defaults, or the configuration */
    static const char *const cmds[] = {"cmd-connect-vpn",
                                       "cmd-disconnect-vpn",
                                       "cmd-vpn-status",
                                       "cmd-logs-vpn",
                                       "cmd-logs-network",
                                       "cmd-logs-system",
                                       NULL};
    int changed = 0;
    for (const struct cfg_opt *o = opts; rc == 0 && o->name; o++)
        for (int i = 0; cmds[i]; i++)
            if (!strcmp(o->name, cmds[i]) && strcmp(o->sval ? o->sval : "", o->def ? o->def : ""))
                changed++;
    if (rc == 0 && changed) {
        char d[sizeof(profile)];
        strlcpy_aa(d, profile, sizeof(d));
        const char *src = access(conf_path, R_OK) == 0 ? conf_path : "flags or AA_* variables";
        if (changed == 6)
            snprintf(profile, sizeof(profile), "the commands configured in %.300s", src);
        else
            snprintf(profile, sizeof(profile),
                     "%d of 6 commands from %.300s, the others from %.200s", changed, src, d);
    }
    if (rc == 0 && nactions) {
        size_t o = strlen(profile);
        o += (size_t)snprintf(profile + o, sizeof(profile) - o, "; declared actions:");
        for (size_t i = 0; i < nactions && o < sizeof(profile); i++)
            o += (size_t)snprintf(profile + o, sizeof(profile) - o, " %s", actions[i].name);
    }
    return rc;
}

const char *cl_conf_str(const char *name)
{
    return cfg_str(opts, name);
}

long long cl_conf_int(const char *name)
{
    return cfg_int(opts, name);
}

const char *cl_conf_path(void)
{
    return conf_path;
}

const char *cl_conf_profile(void)
{
    return profile;
}

/* A path setting with a leading "~/" made absolute. Returns buf. */
static const char *expand_home(const char *path, char *buf, size_t len)
{
    if (!strncmp(path, "~/", 2) && getenv("HOME"))
        snprintf(buf, len, "%s/%s", getenv("HOME"), path + 2);
    else
        strlcpy_aa(buf, path, len);
    return buf;
}

int cl_conf_token(char *buf, size_t len, char *err, size_t errlen)
{
    char pathbuf[1200];
    const char *path = expand_home(cfg_str(opts, "token-file"), pathbuf, sizeof(pathbuf));
    strlcpy_aa(buf, cfg_str(opts, "token"), len);
    if (!path[0])
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--token-file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4200] = "";
    int ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !line[0] || strlen(line) >= len) {
        snprintf(err, errlen, "--token-file %s holds no token", path);
        return -1;
    }
    strlcpy_aa(buf, line, len);
    return 0;
}

static void make_dirs(const char *path)
{
    char dir[1200];
    strlcpy_aa(dir, path, sizeof(dir));
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
}

int cl_conf_session(char *buf, size_t len, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const char *sid = cfg_str(opts, "session");
    if (sid[0]) {
        strlcpy_aa(buf, sid, len);
        return 0;
    }
    char path[1200];
    const char *sf = cfg_str(opts, "state-file");
    if (sf[0])
        expand_home(sf, path, sizeof(path));
    else
        home_path(path, sizeof(path), "session");
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        char line[160] = "";
        if (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (id_valid(line, 128))
                strlcpy_aa(buf, line, len);
        }
        fclose(f);
    }
    if (buf[0])
        return 0;
    id_random(buf, len, "s-", 12);
    make_dirs(path); /* best effort: keep the id for the next run */
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", buf);
        fclose(f);
    }
    return 0;
}

int cl_conf_set(const char *name, const char *value, char *err, size_t errlen)
{
    if (strchr(value, '\n') || strchr(value, '\r')) {
        snprintf(err, errlen, "%s: a value is one line", name);
        return -1;
    }
    char *old = xstrdup(cfg_str(opts, name)); /* aborts on an unknown name */
    if (cfg_set(opts, name, value, err, errlen) < 0 || check_values(err, errlen) < 0) {
        char e2[64];
        cfg_set(opts, name, old, e2, sizeof(e2));
        free(old);
        return -1;
    }
    free(old);
    /* rewrite the file: this setting's line replaced (or added), the rest kept */
    char *text = NULL;
    size_t tlen = 0;
    FILE *in = fopen(conf_path, "r");
    FILE *mem = open_memstream(&text, &tlen);
    int done = 0;
    if (in) {
        char line[8300];
        size_t nlen = strlen(name);
        while (fgets(line, sizeof(line), in)) {
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (!strncmp(p, name, nlen) && (p[nlen] == ' ' || p[nlen] == '=' || p[nlen] == '\t')) {
                if (!done)
                    fprintf(mem, "%s = %s\n", name, value);
                done = 1;
                continue;
            }
            fputs(line, mem);
        }
        fclose(in);
    } else {
        fprintf(mem, "# agent-async client settings (name = value, names as the flags)\n");
    }
    if (!done)
        fprintf(mem, "%s = %s\n", name, value);
    fclose(mem);
    make_dirs(conf_path);
    char tmp[1300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", conf_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, text, tlen) == (ssize_t)tlen && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, conf_path) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", conf_path, strerror(errno));
        unlink(tmp);
    }
    int rc = ok ? 0 : -1;
    free(text);
    return rc;
}

void cl_conf_free(void)
{
    cfg_free(opts);
    free(actions);
    actions = NULL;
    nactions = 0;
}
