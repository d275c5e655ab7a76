/* main.c -- aa-client: the desktop client. It chats with the agent over one
 * WebSocket (libwebsockets), runs the configured local actions the agent
 * asks for, answers callbacks, reconnects with backoff and resumes after its
 * last event id. Interactive on a terminal; --json for scripts; --prompt
 * for one question and exit. */
#include "cfg.h"
#include "cl_exec.h"
#include "ids.h"
#include "util.h"

#include <editline/readline.h>
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Default commands behind each action. macOS: the original's Cisco Secure
 * Client commands. Linux: Cisco's `vpn` CLI when it is installed (chosen at
 * start), otherwise NetworkManager. All of them are configuration. */
#define CISCO "/opt/cisco/secureclient/bin/vpn"
#define CISCO_OLD "/opt/cisco/anyconnect/bin/vpn"
#ifdef __APPLE__
#define D_CONNECT "open -a 'Cisco Secure Client'"
#define D_DISCONNECT CISCO " disconnect"
#define D_STATUS CISCO " state"
#define D_LOG_VPN CISCO " state; " CISCO " stats"
#define D_LOG_NET "ifconfig; netstat -rn"
#define D_LOG_SYS "log show --last 10m --style compact --predicate 'process CONTAINS \"vpn\"'"
#else
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
    {"cmd-logs-vpn", CFG_STR, D_LOG_VPN, 0, 4096, "commands collecting vpn logs", NULL, 0},
    {"cmd-logs-network", CFG_STR, D_LOG_NET, 0, 4096, "commands collecting network logs", NULL, 0},
    {"cmd-logs-system", CFG_STR, D_LOG_SYS, 0, 4096, "commands collecting system logs", NULL, 0},
    {"action-timeout-ms", CFG_INT, "30000", 100, 3600000, "time limit of one action", NULL, 0},
    {"log-limit", CFG_INT, "65536", 256, 16777216, "bytes of command output sent", NULL, 0},
    {"heartbeat-ms", CFG_INT, "10000", 100, 3600000, "heartbeat period while collecting logs", NULL,
     0},
    {"quiet", CFG_BOOL, "false", 0, 0, "print only answers", NULL, 0},
    CFG_END,
};

struct outmsg {
    struct outmsg *next;
    size_t len;
    char data[];
};

/* An answer to a callback, kept until the gateway acknowledges it, and sent
 * again after a reconnect or when the gateway could not record it. */
struct answer {
    struct answer *next;
    char cbid[64];
    int64_t resend_at; /* 0: waiting for the ack */
    char *text;
};

struct inflight {
    struct inflight *next;
    char cbid[64];
};

static struct {
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t reconnect_sul, heartbeat_sul, timeout_sul;
    int backoff_ms;
    int connected, ever_connected;
    char last_id[48];
    char session[129];
    char host[256], path[2048], token[4096];
    int port, tls;
    int json, quiet, tty;
    const char *prompt;
    int prompt_sent;
    char turn_id[64];
    _Atomic int outstanding; /* answers awaited: the input thread adds, the loop takes */
    struct answer *answers;  /* our callback answers not yet acknowledged; guarded by lock */
    lws_sorted_usec_list_t resend_sul;
    int jobs;                 /* actions still running */
    int streamed;             /* the current answer is being shown as it streams */
    _Atomic int stdin_closed; /* set by the input thread */
    volatile sig_atomic_t done;
    int exit_code;
    char *rx;
    size_t rx_len;
    pthread_mutex_t lock;
    struct outmsg *out_head, *out_tail; /* guarded by lock */
    struct inflight *inflight;          /* guarded by lock */
} app;

/* ---- output queue (any thread) ------------------------------------------ */

static void enqueue(const char *data, size_t len)
{
    struct outmsg *m = xmalloc(sizeof(*m) + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, data, len);
    pthread_mutex_lock(&app.lock);
    if (app.out_tail)
        app.out_tail->next = m;
    else
        app.out_head = m;
    app.out_tail = m;
    pthread_mutex_unlock(&app.lock);
    lws_cancel_service(app.ctx);
}

static void enqueue_json(json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    enqueue(txt, strlen(txt));
    free(txt);
    json_decref(j);
}

/* Sends an answer to a callback and keeps it until it is acknowledged.
 * Steals: j. */
static void send_answer(const char *cbid, json_t *j)
{
    struct answer *a = xcalloc(1, sizeof(*a));
    strlcpy_aa(a->cbid, cbid, sizeof(a->cbid));
    a->text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    pthread_mutex_lock(&app.lock);
    a->next = app.answers;
    app.answers = a;
    pthread_mutex_unlock(&app.lock);
    enqueue(a->text, strlen(a->text));
}

/* What to do with a reply about callback cbid: 0 not ours; 1 ours. With
 * done, the answer is forgotten; with retry, it is sent again soon. */
static int answer_reply(const char *cbid, int done, int retry)
{
    int ours = 0;
    pthread_mutex_lock(&app.lock);
    for (struct answer **pp = &app.answers; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->cbid, cbid) != 0)
            continue;
        ours = 1;
        if (retry) {
            (*pp)->resend_at = mono_us() / 1000 + 500;
        } else if (done) {
            struct answer *a = *pp;
            *pp = a->next;
            free(a->text);
            free(a);
        }
        break;
    }
    for (struct inflight *f = app.inflight; f && !ours; f = f->next)
        ours = !strcmp(f->cbid, cbid); /* a heartbeat's reply */
    pthread_mutex_unlock(&app.lock);
    return ours;
}

/* Sends again the answers that are due (retry) or all of them (reconnect). */
static void resend_answers(int all)
{
    int64_t now = mono_us() / 1000;
    pthread_mutex_lock(&app.lock);
    for (struct answer *a = app.answers; a; a = a->next) {
        if (all || (a->resend_at && a->resend_at <= now)) {
            a->resend_at = 0;
            pthread_mutex_unlock(&app.lock);
            enqueue(a->text, strlen(a->text));
            pthread_mutex_lock(&app.lock);
        }
    }
    pthread_mutex_unlock(&app.lock);
}

static void resend_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (app.connected)
        resend_answers(0);
    lws_sul_schedule(app.ctx, 0, &app.resend_sul, resend_cb, 250 * 1000);
}

static int line_editing; /* readline owns the terminal's last line */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *color, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *color, const char *fmt, ...)
{
    va_list ap;
    FILE *f = app.json ? stderr : stdout;
    if (app.quiet && color && strcmp(color, "answer") != 0)
        return;
    pthread_mutex_lock(&out_lock);
    if (line_editing)
        fputs("\r\033[K", f); /* our line goes above the prompt */
    if (app.tty && !app.json && color)
        fputs(!strcmp(color, "answer")   ? "\033[1;36m"
              : !strcmp(color, "error")  ? "\033[1;31m"
              : !strcmp(color, "action") ? "\033[33m"
                                         : "\033[2m",
              f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (app.tty && !app.json && color)
        fputs("\033[0m", f);
    fputc('\n', f);
    fflush(f);
    if (line_editing)
        rl_forced_update_display(); /* the prompt and what was typed, again */
    pthread_mutex_unlock(&out_lock);
}

/* ---- actions (worker threads) ------------------------------------------ */

struct job {
    char kind[32]; /* command, status, logs */
    char name[32]; /* connect_vpn, vpn, ... */
    char cbid[64];
    const char *cmd;
};

static void inflight_add(const char *cbid)
{
    struct inflight *f = xcalloc(1, sizeof(*f));
    strlcpy_aa(f->cbid, cbid, sizeof(f->cbid));
    pthread_mutex_lock(&app.lock);
    f->next = app.inflight;
    app.inflight = f;
    pthread_mutex_unlock(&app.lock);
}

static void inflight_remove(const char *cbid)
{
    pthread_mutex_lock(&app.lock);
    for (struct inflight **pp = &app.inflight; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->cbid, cbid)) {
            struct inflight *f = *pp;
            *pp = f->next;
            free(f);
            break;
        }
    }
    pthread_mutex_unlock(&app.lock);
}

static void answer_failure(const char *cbid, const char *type, const char *message)
{
    json_t *probe = json_string(message);
    if (!probe)
        message = "the command output is not valid UTF-8";
    json_decref(probe);
    send_answer(cbid, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "action", "async_callback",
                                "callback_id", cbid, "status", "failure", "error", "type", type,
                                "message", message));
}

static int vpn_connected(const char *out)
{
    char *l = xstrdup(out);
    for (char *p = l; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    int on = (strstr(l, "connected") && !strstr(l, "disconnected")) ||
             strstr(l, ":vpn:activated") || strstr(l, "state: connected");
    free(l);
    return on;
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    struct cl_exec_result res;
    int rc = cl_exec_run(j->cmd, (int)cfg_int(opts, "action-timeout-ms"),
                         (size_t)cfg_int(opts, "log-limit"), &res);
    if (!strcmp(j->kind, "command")) {
        say("action", "* ran %s: %s (exit %d)", j->name, rc == 0 ? "ok" : "failed", res.status);
    } else if (res.timed_out) {
        say("action", "* %s timed out", j->name);
        answer_failure(j->cbid, "Timeout", "the command did not finish in time");
    } else if (rc != 0) {
        /* a command that could not run or exited non-zero: a failure with
         * its exit status and output, never silence */
        char *m = res.spawn_failed
                      ? xasprintf("could not run: %s", res.output)
                      : xasprintf("failed (exit status %d): %s", res.status, res.output);
        answer_failure(j->cbid, "CommandFailed", m);
        if (res.spawn_failed)
            say("action", "* %s: the command could not run", j->name);
        else
            say("action", "* %s failed (exit %d)", j->name, res.status);
        free(m);
    } else if (!strcmp(j->kind, "status")) {
        {
            const char *st = vpn_connected(res.output) ? "connected" : "disconnected";
            json_t *content = json_pack("{s:s, s:s, s:i}", "status", st, "details", res.output,
                                        "exit_status", res.status);
            if (!content) /* output not UTF-8 */
                content = json_pack("{s:s, s:i}", "status", st, "exit_status", res.status);
            char *c = json_dumps(content, JSON_COMPACT);
            json_decref(content);
            send_answer(j->cbid, json_pack("{s:s, s:s, s:s}", "action", "async_callback",
                                           "callback_id", j->cbid, "content", c));
            free(c);
            say("action", "* VPN status: %s", st);
        }
    } else {
        json_t *m = json_pack("{s:s, s:s, s:s}", "action", "async_callback", "callback_id", j->cbid,
                              "content", res.output);
        if (!m) {
            answer_failure(j->cbid, "InvalidOutput", "the log output is not valid UTF-8");
        } else {
            send_answer(j->cbid, m);
            say("action", "* sent %zu bytes of %s logs%s", res.len, j->name,
                res.truncated ? " (truncated)" : "");
        }
    }
    if (j->cbid[0])
        inflight_remove(j->cbid);
    free(res.output);
    free(j);
    __atomic_sub_fetch(&app.jobs, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void start_job(const char *kind, const char *name, const char *cbid, const char *cmd)
{
    struct job *j = xcalloc(1, sizeof(*j));
    strlcpy_aa(j->kind, kind, sizeof(j->kind));
    strlcpy_aa(j->name, name, sizeof(j->name));
    strlcpy_aa(j->cbid, cbid ? cbid : "", sizeof(j->cbid));
    j->cmd = cmd;
    if (cbid)
        inflight_add(cbid);
    __atomic_add_fetch(&app.jobs, 1, __ATOMIC_SEQ_CST);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, job_main, j) != 0) {
        if (cbid) {
            answer_failure(cbid, "ClientError", "cannot start a thread");
            inflight_remove(cbid);
        }
        __atomic_sub_fetch(&app.jobs, 1, __ATOMIC_SEQ_CST);
        free(j);
    }
    pthread_attr_destroy(&attr);
}

/* Only configured actions run: the server names an action, never a command. */
static void handle_request(json_t *msg)
{
    const char *action = json_string_value(json_object_get(msg, "action"));
    const char *cbid = json_string_value(json_object_get(msg, "callback_id"));
    if (!action)
        return;
    if (!cbid || !id_valid(cbid, 128)) {
        say("error", "! request '%s' without a valid callback_id ignored", action);
        return;
    }
    if (!strcmp(action, "get_vpn_status")) {
        say("action", "* checking the VPN status...");
        start_job("status", "vpn_status", cbid, cfg_str(opts, "cmd-vpn-status"));
    } else if (!strcmp(action, "request_logs")) {
        const char *t = json_string_value(json_object_get(msg, "log_type"));
        const char *cmd = !t                      ? NULL
                          : !strcmp(t, "vpn")     ? cfg_str(opts, "cmd-logs-vpn")
                          : !strcmp(t, "network") ? cfg_str(opts, "cmd-logs-network")
                          : !strcmp(t, "system")  ? cfg_str(opts, "cmd-logs-system")
                                                  : NULL;
        if (!cmd || !*cmd) {
            answer_failure(cbid, "NotConfigured", "this log type is not configured on the client");
            return;
        }
        say("action", "* collecting %s logs...", t);
        start_job("logs", t, cbid, cmd);
    } else {
        answer_failure(cbid, "NotConfigured", "this action is not configured on the client");
    }
}

static void handle_client_action(json_t *data)
{
    const char *action = json_string_value(json_object_get(data, "action"));
    const char *command = json_string_value(json_object_get(data, "command"));
    if (!action || strcmp(action, "run_client_command") != 0 || !command) {
        say("error", "! unsupported client action ignored");
        return;
    }
    const char *cmd = !strcmp(command, "connect_vpn")      ? cfg_str(opts, "cmd-connect-vpn")
                      : !strcmp(command, "disconnect_vpn") ? cfg_str(opts, "cmd-disconnect-vpn")
                                                           : NULL;
    if (!cmd || !*cmd) {
        say("error", "! command '%s' is not configured on this client; refused", command);
        return;
    }
    say("action", "* running %s", command);
    start_job("command", command, NULL, cmd);
}

/* ---- events from the gateway -------------------------------------------- */

static void finish(int code)
{
    app.exit_code = code;
    app.done = 1;
    lws_cancel_service(app.ctx);
}

/* One awaited answer came (a turn's end, or the direct reply to a message
 * sent as is). Headless runs whose stdin has ended exit after the last one. */
static void answered(void)
{
    int n = atomic_load(&app.outstanding);
    while (n > 0 && !atomic_compare_exchange_weak(&app.outstanding, &n, n - 1))
        ;
    /* sequentially consistent: this or the input thread sees both updates */
    if (!app.prompt && atomic_load(&app.stdin_closed) && atomic_load(&app.outstanding) == 0)
        finish(0);
}

static void handle_message(const char *txt, size_t len)
{
    json_t *msg = json_loadb(txt, len, 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return;
    }
    if (app.json) {
        fwrite(txt, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    const char *id = json_string_value(json_object_get(msg, "id"));
    if (id && stream_id_cmp(id, app.last_id) > 0)
        strlcpy_aa(app.last_id, id, sizeof(app.last_id));
    const char *event = json_string_value(json_object_get(msg, "event"));
    json_t *data = json_object_get(msg, "data");
    const char *turn = json_string_value(json_object_get(data, "turn_id"));
    if (!event) {
        handle_request(msg);
    } else if (!strcmp(event, "chat_response")) {
        const char *text = json_string_value(json_object_get(data, "text"));
        if (!app.json && app.streamed) {
            fputs(app.tty ? "\033[0m\n" : "\n", stdout); /* the answer was shown as it came */
            fflush(stdout);
        } else if (!app.json)
            say("answer", "agent> %s", text ? text : "");
        app.streamed = 0;
        if (app.prompt && (!app.turn_id[0] || (turn && !strcmp(turn, app.turn_id))))
            finish(0);
        answered();
    } else if (!strcmp(event, "chat_delta")) {
        if (!app.json && !app.quiet) {
            if (!app.streamed)
                fputs(app.tty ? "\033[1;36magent> " : "agent> ", stdout);
            app.streamed = 1;
            fputs(json_string_value(json_object_get(data, "text")) ?: "", stdout);
            fflush(stdout);
        }
    } else if (!strcmp(event, "progress")) {
        if (!app.json)
            say("progress", "... %s", json_string_value(json_object_get(data, "text")) ?: "");
    } else if (!strcmp(event, "client_action")) {
        handle_client_action(data);
    } else if (!strcmp(event, "chat_accepted")) {
        if (app.prompt && !app.turn_id[0] && turn)
            strlcpy_aa(app.turn_id, turn, sizeof(app.turn_id));
    } else if (!strcmp(event, "error")) {
        const char *code = json_string_value(json_object_get(data, "code"));
        const char *m = json_string_value(json_object_get(data, "message"));
        if (!app.json)
            say("error", "! %s: %s", code ? code : "error", m ? m : "");
        const char *cb = json_string_value(json_object_get(data, "callback_id"));
        int retry = code && !strcmp(code, "unavailable");
        int own = cb && answer_reply(cb, 1, retry);
        if (app.prompt && !own && (!turn || (app.turn_id[0] && !strcmp(turn, app.turn_id))))
            finish(1);
        if (!own)
            answered();
    } else if (!strcmp(event, "callback_ack")) {
        const char *cb = json_string_value(json_object_get(data, "callback_id"));
        if (!cb || !answer_reply(cb, 1, 0))
            answered();
    } else if (!strcmp(event, "pong")) {
        answered();
    }
    json_decref(msg);
}

/* ---- stdin (a thread) --------------------------------------------------- */

/* One line from the user: with line editing and history on a terminal
 * (libedit), plain reads otherwise. Returns: owned, or NULL at the end. */
static char *read_line(void)
{
    static char hist[1200];
    if (app.tty && !app.json && isatty(0)) {
        if (!hist[0]) {
            const char *x = getenv("XDG_CONFIG_HOME");
            if (x && *x)
                snprintf(hist, sizeof(hist), "%s/agent-async/history", x);
            else
                snprintf(hist, sizeof(hist), "%s/.config/agent-async/history",
                         getenv("HOME") ? getenv("HOME") : ".");
            stifle_history(1000);
            read_history(hist);
        }
        line_editing = 1;
        char *l = readline("you> ");
        line_editing = 0;
        if (l && *l) {
            add_history(l);
            write_history(hist);
        }
        return l;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static void *stdin_main(void *arg)
{
    (void)arg;
    char *line;
    if (app.tty && !app.json)
        say(NULL, "Type a message, /help for commands.");
    while ((line = read_line()) != NULL) {
        size_t n = strlen(line);
        if (n == 0) {
            free(line);
            continue;
        }
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
            free(line);
            finish(0);
            return NULL;
        }
        if (!strcmp(line, "/help")) {
            say(NULL, "Commands: /status (connection and session), /quit. Anything else is sent "
                      "to the agent.");
            free(line);
            continue;
        }
        if (!strcmp(line, "/status")) {
            say(NULL, "session %s, %s, last event %s, gateway %s", app.session,
                app.connected ? "connected" : "reconnecting", app.last_id[0] ? app.last_id : "-",
                cfg_str(opts, "url"));
            free(line);
            continue;
        }
        if (app.json && line[0] == '{') {
            /* headless: a line starting with '{' is sent verbatim (scripts
             * and protocol tests); the gateway judges it */
            atomic_fetch_add(&app.outstanding, 1);
            enqueue(line, n);
            free(line);
            continue;
        }
        json_t *m = json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", line, "session_id",
                              app.session);
        free(line);
        if (!m) {
            say("error", "! the message is not valid UTF-8");
            continue;
        }
        atomic_fetch_add(&app.outstanding, 1);
        enqueue_json(m);
    }
    atomic_store(&app.stdin_closed, 1);
    if (!app.prompt && (app.json ? atomic_load(&app.outstanding) == 0 : 1))
        finish(0);
    else
        lws_cancel_service(app.ctx);
    return NULL;
}

/* ---- libwebsockets ------------------------------------------------------ */

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_reconnect(void)
{
    if (app.done)
        return;
    int jitter = app.backoff_ms / 2 ? (int)(random() % (app.backoff_ms / 2 + 1)) : 0;
    int delay = app.backoff_ms / 2 + jitter;
    if (!app.quiet)
        say(NULL, "... reconnecting in %d ms", delay);
    lws_sul_schedule(app.ctx, 0, &app.reconnect_sul, connect_now, (lws_usec_t)delay * 1000);
    app.backoff_ms = app.backoff_ms * 2 > 10000 ? 10000 : app.backoff_ms * 2;
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    static char path[2300];
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    char sep = strchr(app.path, '?') ? '&' : '?';
    if (app.last_id[0])
        snprintf(path, sizeof(path), "%s%csession_id=%s&last_event_id=%s", app.path, sep,
                 app.session, app.last_id);
    else
        snprintf(path, sizeof(path), "%s%csession_id=%s", app.path, sep, app.session);
    ci.context = app.ctx;
    ci.address = app.host;
    ci.port = app.port;
    ci.path = path;
    ci.host = app.host;
    ci.origin = app.host;
    ci.ssl_connection = app.tls ? LCCSCF_USE_SSL : 0;
    if (app.tls && cfg_int(opts, "insecure"))
        ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    ci.local_protocol_name = "aa";
    ci.pwsi = &app.wsi;
    if (!lws_client_connect_via_info(&ci)) {
        app.wsi = NULL;
        schedule_reconnect();
    }
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    pthread_mutex_lock(&app.lock);
    char ids[32][64];
    int n = 0;
    for (struct inflight *f = app.inflight; f && n < 32; f = f->next)
        strlcpy_aa(ids[n++], f->cbid, 64);
    pthread_mutex_unlock(&app.lock);
    for (int i = 0; i < n; i++)
        enqueue_json(json_pack("{s:s, s:s, s:s}", "action", "async_callback", "callback_id", ids[i],
                               "status", "heartbeat"));
    lws_sul_schedule(app.ctx, 0, &app.heartbeat_sul, heartbeat_cb,
                     (lws_usec_t)cfg_int(opts, "heartbeat-ms") * 1000);
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    say("error", "! no answer within %lld ms", cfg_int(opts, "timeout-ms"));
    finish(3);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (app.token[0]) {
            unsigned char **p = in, *end = *p + len;
            char v[4200];
            snprintf(v, sizeof(v), "Bearer %s", app.token);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v,
                                             (int)strlen(v), p, end))
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        app.connected = 1;
        app.backoff_ms = 250;
        if (!app.quiet)
            say(NULL, "... connected as session %s%s", app.session,
                app.ever_connected ? " (resumed)" : "");
        if (app.ever_connected)
            resend_answers(1); /* answers not acknowledged before the drop */
        app.ever_connected = 1;
        if (app.prompt && !app.prompt_sent) {
            app.prompt_sent = 1;
            atomic_fetch_add(&app.outstanding, 1);
            enqueue_json(json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", app.prompt,
                                   "session_id", app.session));
        }
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (lws_is_first_fragment(wsi))
            app.rx_len = 0;
        app.rx = xrealloc(app.rx, app.rx_len + len + 1);
        memcpy(app.rx + app.rx_len, in, len);
        app.rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            app.rx[app.rx_len] = '\0';
            handle_message(app.rx, app.rx_len);
            app.rx_len = 0;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        pthread_mutex_lock(&app.lock);
        struct outmsg *m = app.out_head;
        if (m) {
            app.out_head = m->next;
            if (!app.out_head)
                app.out_tail = NULL;
        }
        int more = app.out_head != NULL;
        pthread_mutex_unlock(&app.lock);
        if (m) {
            int n = lws_write(wsi, (unsigned char *)m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
            if (n < (int)m->len) {
                /* put it back: it goes out after the reconnect */
                pthread_mutex_lock(&app.lock);
                m->next = app.out_head;
                app.out_head = m;
                if (!app.out_tail)
                    app.out_tail = m;
                pthread_mutex_unlock(&app.lock);
                return -1;
            }
            free(m);
        }
        if (more)
            lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!app.quiet)
            say("error", "! cannot connect: %s", in ? (const char *)in : "error");
        app.wsi = NULL;
        app.connected = 0;
        schedule_reconnect();
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!app.quiet)
            say(NULL, "... disconnected");
        app.wsi = NULL;
        app.connected = 0;
        schedule_reconnect();
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (app.wsi && app.connected)
            lws_callback_on_writable(app.wsi);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"aa", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The token from a file (its first line), so that it never shows in ps.
 * Returns 0 / -1 (said on stderr). */
static int read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "aa-client: --token-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[sizeof(app.token) + 2] = "";
    int ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !line[0] || strlen(line) >= sizeof(app.token)) {
        fprintf(stderr, "aa-client: --token-file %s holds no token\n", path);
        return -1;
    }
    strlcpy_aa(app.token, line, sizeof(app.token));
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    app.done = 1;
    if (app.ctx)
        lws_cancel_service(app.ctx);
}

static int load_session(void)
{
    const char *sid = cfg_str(opts, "session");
    if (sid[0]) {
        if (!id_valid(sid, 128)) {
            fprintf(stderr, "aa-client: --session must be 1-128 of A-Z a-z 0-9 . _ : -\n");
            return -1;
        }
        strlcpy_aa(app.session, sid, sizeof(app.session));
        return 0;
    }
    char path[1200];
    const char *sf = cfg_str(opts, "state-file");
    const char *home = getenv("XDG_CONFIG_HOME");
    if (sf[0])
        strlcpy_aa(path, sf, sizeof(path));
    else if (home && home[0])
        snprintf(path, sizeof(path), "%s/agent-async/session", home);
    else
        snprintf(path, sizeof(path), "%s/.config/agent-async/session",
                 getenv("HOME") ? getenv("HOME") : ".");
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[160] = "";
        if (fgets(buf, sizeof(buf), f)) {
            buf[strcspn(buf, "\r\n")] = '\0';
            if (id_valid(buf, 128))
                strlcpy_aa(app.session, buf, sizeof(app.session));
        }
        fclose(f);
    }
    if (app.session[0])
        return 0;
    id_random(app.session, sizeof(app.session), "s-", 12);
    /* best effort: create the folder and keep the id */
    char dir[1200];
    strlcpy_aa(dir, path, sizeof(dir));
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", app.session);
        fclose(f);
    }
    return 0;
}

static void set_default(const char *name, const char *def)
{
    for (struct cfg_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            o->def = def;
}

/* The configuration file: --config / AA_CONFIG, else the XDG default
 * (which may be absent). */
static const char *config_path(int argc, char **argv, char *buf, size_t len, int *explicit_)
{
    *explicit_ = 1;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
    }
    if (getenv("AA_CONFIG") && *getenv("AA_CONFIG"))
        return getenv("AA_CONFIG");
    *explicit_ = 0;
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x)
        snprintf(buf, len, "%s/agent-async/client.conf", x);
    else
        snprintf(buf, len, "%s/.config/agent-async/client.conf",
                 getenv("HOME") ? getenv("HOME") : ".");
    return buf;
}

int main(int argc, char **argv)
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
    }
#endif
    static const char usage[] = "usage: aa-client [options]\n\nThe agent-async desktop client: "
                                "chat with the agent; it runs only the configured local actions.\n"
                                "Settings come from the configuration file (name = value lines, "
                                "names as the flags), then AA_* variables, then flags.";
    char pathbuf[1200], err[1400];
    int explicit_;
    const char *conf = config_path(argc, argv, pathbuf, sizeof(pathbuf), &explicit_);
    int prc = cfg_parse_file(opts, argc, argv, usage, conf, !explicit_, err, sizeof(err));
    if (prc != 0) {
        if (prc < 0)
            fprintf(stderr, "aa-client: %s\n", err);
        cfg_free(opts);
        return prc < 0 ? 2 : 0;
    }
    app.json = (int)cfg_int(opts, "json");
    app.quiet = (int)cfg_int(opts, "quiet");
    app.tty = isatty(1);
    app.prompt = cfg_str(opts, "prompt")[0] ? cfg_str(opts, "prompt") : NULL;
    app.backoff_ms = 250;
    strlcpy_aa(app.token, cfg_str(opts, "token"), sizeof(app.token));
    if (cfg_str(opts, "token-file")[0] && read_token(cfg_str(opts, "token-file")) < 0) {
        cfg_free(opts);
        return 2;
    }
    pthread_mutex_init(&app.lock, NULL);
    srandom((unsigned)(getpid() ^ mono_us()));
    if (load_session() < 0) {
        cfg_free(opts);
        return 2;
    }
    char url[2100];
    const char *proto, *addr, *path;
    strlcpy_aa(url, cfg_str(opts, "url"), sizeof(url));
    if (lws_parse_uri(url, &proto, &addr, &app.port, &path) ||
        (strcmp(proto, "ws") && strcmp(proto, "wss"))) {
        fprintf(stderr, "aa-client: --url must look like ws://host:port/ws or wss://...\n");
        cfg_free(opts);
        return 2;
    }
    app.tls = !strcmp(proto, "wss");
    strlcpy_aa(app.host, addr, sizeof(app.host));
    snprintf(app.path, sizeof(app.path), "/%s", path);

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (cfg_str(opts, "ca-file")[0])
        info.client_ssl_ca_filepath = cfg_str(opts, "ca-file");
    info.gid = -1;
    info.uid = -1;
    app.ctx = lws_create_context(&info);
    if (!app.ctx) {
        fprintf(stderr, "aa-client: cannot create the libwebsockets context\n");
        cfg_free(opts);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    connect_now(NULL);
    lws_sul_schedule(app.ctx, 0, &app.heartbeat_sul, heartbeat_cb,
                     (lws_usec_t)cfg_int(opts, "heartbeat-ms") * 1000);
    lws_sul_schedule(app.ctx, 0, &app.resend_sul, resend_cb, 250 * 1000);
    if (app.prompt)
        lws_sul_schedule(app.ctx, 0, &app.timeout_sul, timeout_cb,
                         (lws_usec_t)cfg_int(opts, "timeout-ms") * 1000);
    else {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &attr, stdin_main, NULL);
        pthread_attr_destroy(&attr);
    }
    while (!app.done)
        lws_service(app.ctx, 0);
    /* Let actions that were started finish (bounded by their timeout). */
    int64_t until = mono_us() + cfg_int(opts, "action-timeout-ms") * 1000;
    while (__atomic_load_n(&app.jobs, __ATOMIC_SEQ_CST) > 0 && mono_us() < until)
        usleep(10000);
    lws_context_destroy(app.ctx);
    pthread_mutex_lock(&app.lock);
    while (app.out_head) {
        struct outmsg *m = app.out_head;
        app.out_head = m->next;
        free(m);
    }
    while (app.answers) {
        struct answer *a = app.answers;
        app.answers = a->next;
        free(a->text);
        free(a);
    }
    pthread_mutex_unlock(&app.lock);
    free(app.rx);
    cfg_free(opts);
    return app.exit_code;
}
