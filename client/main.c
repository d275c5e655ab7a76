/* main.c -- aa-client: the terminal client. It chats with the agent over the
 * shared connection (cl_conn), runs the actions the agent asks for after the
 * user's approval (cl_act), and shows what happens. One thread: GLib's main
 * loop runs libwebsockets, the commands and the input (libedit's callback
 * interface on a terminal, plain lines otherwise). Interactive on a
 * terminal; --json for scripts; --prompt for one question and exit. */
#include "cl_act.h"
#include "cl_conf.h"
#include "cl_conn.h"
#include "util.h"

#include <editline/readline.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    GMainLoop *loop;
    struct cl_conn *conn;
    struct cl_act *act;
    int json, quiet, tty;
    _Atomic int editing; /* the input thread is in readline() */
    const char *prompt;
    int prompt_sent;
    char turn_id[64];
    int outstanding;  /* answers awaited for what was sent */
    int stdin_closed; /* no more input */
    int streamed;     /* the current answer is being shown as it streams */
    int quitting, exit_code;
    guint stdin_src, quit_src;
    int64_t quit_deadline_us;
    char inbuf[65536 + 2];
    size_t inlen;
    int in_overflow;
    char hist[1200];
} app;

/* ---- output -------------------------------------------------------------- */

static void say(const char *color, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *color, const char *fmt, ...)
{
    va_list ap;
    FILE *f = app.json ? stderr : stdout;
    if (app.quiet && color && strcmp(color, "answer") != 0 && strcmp(color, "ask") != 0)
        return;
    if (app.streamed && !app.json) { /* end the answer being streamed first */
        fputs(app.tty ? "\033[0m\n" : "\n", stdout);
        app.streamed = 0;
    }
    if (app.editing)
        fputs("\r\033[K", f); /* our line goes above the prompt */
    int colored = app.tty && !app.json && color;
    if (colored)
        fputs(!strcmp(color, "answer")   ? "\033[1;36m"
              : !strcmp(color, "error")  ? "\033[1;31m"
              : !strcmp(color, "action") ? "\033[33m"
              : !strcmp(color, "ask")    ? "\033[1;33m"
                                         : "\033[2m",
              f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (colored)
        fputs("\033[0m", f);
    fputc('\n', f);
    fflush(f);
    if (app.editing)
        rl_forced_update_display(); /* the prompt and what was typed, again */
}

/* ---- leaving ------------------------------------------------------------- */

static gboolean quit_tick(gpointer p);

static gboolean leave_now(gpointer p)
{
    (void)p;
    app.quit_src = 0;
    g_main_loop_quit(app.loop);
    return G_SOURCE_REMOVE;
}

/* Stops reading, lets actions that run finish (bounded by their time
 * limit), sends everything queued, closes with 1000, then exits. */
static void quit(int code)
{
    if (app.quitting)
        return;
    app.quitting = 1;
    app.exit_code = code;
    cl_act_deny_all(app.act); /* the user left */
    if (app.stdin_src) {
        g_source_remove(app.stdin_src);
        app.stdin_src = 0;
    }
    app.quit_deadline_us = mono_us() + cl_conf_int("action-timeout-ms") * 1000;
    app.quit_src = g_timeout_add(10, quit_tick, NULL);
}

static gboolean quit_tick(gpointer p)
{
    (void)p;
    if (cl_act_busy(app.act) > 0 && mono_us() < app.quit_deadline_us)
        return G_SOURCE_CONTINUE;
    cl_conn_close(app.conn); /* CL_CONN_CLOSED ends the loop */
    app.quit_src = g_timeout_add(3000, leave_now, NULL);
    return G_SOURCE_REMOVE;
}

/* One awaited answer came (a turn's end, or the direct reply to a message
 * sent as is). Headless runs whose input has ended exit after the last. */
static void answered(void)
{
    if (app.outstanding > 0)
        app.outstanding--;
    if (!app.prompt && app.stdin_closed && app.outstanding == 0)
        quit(0);
}

/* ---- actions ------------------------------------------------------------- */

static void act_changed(const struct cl_activity *a, void *arg)
{
    (void)arg;
    double secs = (double)a->elapsed_ms / 1000;
    switch (a->phase) {
    case CL_ACT_ASKING:
        break;
    case CL_ACT_RUNNING:
        say("action", "* %s (asked by %s): %s", a->title, a->requested_by, a->cmd);
        break;
    case CL_ACT_DONE:
        if (!strcmp(a->action, "vpn_status") && a->ok)
            say("action", "* VPN status: %s", a->status);
        else
            say(a->ok ? "action" : "error", "* %s: %s (%.1f s)", a->title, a->outcome, secs);
        break;
    }
}

/* One question at a time (cl_act): asked inline, answered by the next line. */
static void act_ask(const struct cl_activity *a, void *arg)
{
    (void)arg;
    say("ask",
        "? %s wants to %s on this computer by running:\n    %s\n  Allow it? [y] once, [a] "
        "always, [n] no",
        a->requested_by, a->title, a->cmd);
}

static void act_say(const char *level, const char *text, void *arg)
{
    (void)arg;
    say(!strcmp(level, "error") ? "error" : "progress", "%s %s",
        !strcmp(level, "error") ? "!" : "...", text);
}

static const struct cl_act_ui term_ui = {act_changed, act_ask, act_say};
static const struct cl_act_ui headless_ui = {act_changed, NULL, act_say};

/* An answer to the oldest question. Returns 1 when line was one. */
static int answer_ask(const char *line)
{
    unsigned id = cl_act_asking(app.act);
    if (!id)
        return 0;
    enum cl_act_decision d;
    if (!strcasecmp(line, "y") || !strcasecmp(line, "yes"))
        d = CL_ACT_ALLOW_ONCE;
    else if (!strcasecmp(line, "a") || !strcasecmp(line, "always"))
        d = CL_ACT_ALLOW_ALWAYS;
    else if (!strcasecmp(line, "n") || !strcasecmp(line, "no"))
        d = CL_ACT_DENY;
    else {
        say("ask", "? answer y (once), a (always) or n (no)");
        return 1;
    }
    cl_act_decide(app.act, id, d);
    return 1;
}

/* ---- events from the gateway -------------------------------------------- */

static void on_event(json_t *msg, const char *raw, size_t len, int own, void *arg)
{
    (void)arg;
    if (app.json) {
        fwrite(raw, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    if (cl_act_handle(app.act, msg, own))
        return;
    const char *event = json_string_value(json_object_get(msg, "event"));
    json_t *data = json_object_get(msg, "data");
    const char *turn = json_string_value(json_object_get(data, "turn_id"));
    if (!event)
        return;
    if (!strcmp(event, "chat_response")) {
        const char *text = json_string_value(json_object_get(data, "text"));
        if (!app.json && app.streamed) {
            fputs(app.tty ? "\033[0m\n" : "\n", stdout); /* the answer was shown as it came */
            fflush(stdout);
            app.streamed = 0;
            if (app.editing)
                rl_forced_update_display();
        } else if (!app.json)
            say("answer", "agent> %s", text ? text : "");
        if (app.prompt && (!app.turn_id[0] || (turn && !strcmp(turn, app.turn_id))))
            quit(0);
        answered();
    } else if (!strcmp(event, "chat_delta")) {
        if (!app.json && !app.quiet) {
            if (!app.streamed) {
                if (app.editing)
                    fputs("\r\033[K", stdout);
                fputs(app.tty ? "\033[1;36magent> " : "agent> ", stdout);
            }
            app.streamed = 1;
            fputs(json_string_value(json_object_get(data, "text")) ?: "", stdout);
            fflush(stdout);
        }
    } else if (!strcmp(event, "progress")) {
        if (!app.json)
            say("progress", "... %s", json_string_value(json_object_get(data, "text")) ?: "");
    } else if (!strcmp(event, "chat_accepted")) {
        if (app.prompt && !app.turn_id[0] && turn)
            strlcpy_aa(app.turn_id, turn, sizeof(app.turn_id));
    } else if (!strcmp(event, "error")) {
        const char *code = json_string_value(json_object_get(data, "code"));
        const char *m = json_string_value(json_object_get(data, "message"));
        if (!app.json)
            say("error", "! %s (%s)", m ? m : "the gateway refused it", code ? code : "error");
        if (app.prompt && (!turn || (app.turn_id[0] && !strcmp(turn, app.turn_id))))
            quit(1);
        answered();
    } else if (!strcmp(event, "pong")) {
        answered();
    }
}

static void on_state(enum cl_conn_state st, const char *detail, void *arg)
{
    (void)arg;
    switch (st) {
    case CL_CONN_CONNECTING:
        break;
    case CL_CONN_UP:
        if (!app.quiet)
            say(NULL, "... connected as session %s%s", cl_conn_session(app.conn),
                detail[0] ? " (resumed)" : "");
        if (app.prompt && !app.prompt_sent) {
            app.prompt_sent = 1;
            app.outstanding++;
            cl_conn_send_json(app.conn,
                              json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", app.prompt,
                                        "session_id", cl_conn_session(app.conn)));
        }
        break;
    case CL_CONN_DOWN:
        if (!app.quiet)
            say(app.quitting ? NULL : "error", "! %s", detail);
        break;
    case CL_CONN_CLOSED:
        g_main_loop_quit(app.loop);
        break;
    }
}

/* ---- input --------------------------------------------------------------- */

static void line_text(const char *line)
{
    size_t n = strlen(line);
    if (n == 0)
        return;
    if (answer_ask(line))
        return;
    if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) {
        quit(0);
        return;
    }
    if (!strcmp(line, "/help")) {
        say(NULL, "Commands: /status (connection and session), /quit. Anything else is sent "
                  "to the agent.");
        return;
    }
    if (!strcmp(line, "/status")) {
        say(NULL, "session %s, %s, last event %s, gateway %s; actions: %s",
            cl_conn_session(app.conn), cl_conn_is_up(app.conn) ? "connected" : "reconnecting",
            cl_conn_last_id(app.conn)[0] ? cl_conn_last_id(app.conn) : "-", cl_conf_str("url"),
            cl_conf_profile());
        return;
    }
    if (app.json && line[0] == '{') {
        /* headless: a line starting with '{' is sent verbatim (scripts
         * and protocol tests); the gateway judges it */
        app.outstanding++;
        cl_conn_send(app.conn, line, n);
        return;
    }
    json_t *m = json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", line, "session_id",
                          cl_conn_session(app.conn));
    if (!m) {
        say("error", "! the message is not valid UTF-8; not sent");
        return;
    }
    app.outstanding++;
    cl_conn_send_json(app.conn, m);
}

static void input_ended(void)
{
    app.stdin_closed = 1;
    app.stdin_src = 0;
    if (!app.prompt && (!app.json || app.outstanding == 0))
        quit(0);
}

/* A terminal: libedit's readline() in a thread of its own (its callback
 * interface corrupts the heap on lines over 1 KiB). The thread only reads;
 * each line goes to the main loop with g_main_context_invoke, which wakes
 * the loop, and is handled there. */
static gboolean on_tty_line(gpointer p)
{
    char *line = p;
    if (!line) {
        input_ended();
        return G_SOURCE_REMOVE;
    }
    if (!app.quitting)
        line_text(line);
    free(line);
    return G_SOURCE_REMOVE;
}

static gpointer tty_main(gpointer p)
{
    (void)p;
    for (;;) {
        atomic_store(&app.editing, 1);
        char *line = readline("you> ");
        atomic_store(&app.editing, 0);
        if (line && *line) {
            add_history(line);
            write_history(app.hist);
        }
        int last = !line || !strcmp(line, "/quit") || !strcmp(line, "/exit");
        g_main_context_invoke(NULL, on_tty_line, line);
        if (last)
            return NULL;
    }
}

/* Plain lines (pipes, files, --json). A line longer than the buffer is
 * refused whole. */
static gboolean on_stdin(gint fd, GIOCondition cond, gpointer p)
{
    (void)cond;
    (void)p;
    ssize_t n = read(fd, app.inbuf + app.inlen, sizeof(app.inbuf) - 1 - app.inlen);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        if (app.inlen && !app.in_overflow) {
            app.inbuf[app.inlen] = '\0';
            line_text(app.inbuf);
        }
        app.inlen = 0;
        input_ended();
        return G_SOURCE_REMOVE;
    }
    app.inlen += (size_t)n;
    char *start = app.inbuf, *nl;
    while ((nl = memchr(start, '\n', app.inlen - (size_t)(start - app.inbuf))) != NULL) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r')
            nl[-1] = '\0';
        if (app.in_overflow)
            app.in_overflow = 0;
        else
            line_text(start);
        start = nl + 1;
        if (app.quitting)
            return G_SOURCE_REMOVE;
    }
    size_t rest = app.inlen - (size_t)(start - app.inbuf);
    memmove(app.inbuf, start, rest);
    app.inlen = rest;
    if (app.inlen == sizeof(app.inbuf) - 1) {
        if (!app.in_overflow)
            say("error", "! a line longer than %zu bytes was not sent", sizeof(app.inbuf) - 2);
        app.in_overflow = 1;
        app.inlen = 0;
    }
    return G_SOURCE_CONTINUE;
}

static void start_input(void)
{
    if (app.tty && !app.json && isatty(0)) {
        const char *x = getenv("XDG_CONFIG_HOME");
        if (x && *x)
            snprintf(app.hist, sizeof(app.hist), "%s/agent-async/history", x);
        else
            snprintf(app.hist, sizeof(app.hist), "%s/.config/agent-async/history",
                     getenv("HOME") ? getenv("HOME") : ".");
        stifle_history(1000);
        read_history(app.hist);
        say(NULL, "Type a message, /help for commands.");
        g_thread_unref(g_thread_new("input", tty_main, NULL));
        return;
    }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    app.stdin_src = g_unix_fd_add(0, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
}

static gboolean on_signal(gpointer p)
{
    (void)p;
    if (app.quitting) /* a second Ctrl-C: leave now */
        g_main_loop_quit(app.loop);
    quit(0);
    return G_SOURCE_CONTINUE;
}

static gboolean prompt_timeout(gpointer p)
{
    (void)p;
    say("error", "! no answer within %lld ms", cl_conf_int("timeout-ms"));
    quit(3);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    static const char usage[] = "usage: aa-client [options]\n\nThe agent-async terminal client: "
                                "chat with the agent; it runs only the configured local actions, "
                                "and asks before one that changes the machine.\n"
                                "Settings come from the configuration file (name = value lines, "
                                "names as the flags), then AA_* variables, then flags.";
    char err[1500], token[4200], session[160];
    int rc = cl_conf_load(argc, argv, "aa-client", usage, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "%s\n", err);
        cl_conf_free();
        return rc < 0 ? 2 : 0;
    }
    if (cl_conf_token(token, sizeof(token), err, sizeof(err)) < 0 ||
        cl_conf_session(session, sizeof(session), err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-client: %s\n", err);
        cl_conf_free();
        return 2;
    }
    app.json = (int)cl_conf_int("json");
    app.quiet = (int)cl_conf_int("quiet");
    app.tty = isatty(1);
    app.prompt = cl_conf_str("prompt")[0] ? cl_conf_str("prompt") : NULL;
    signal(SIGPIPE, SIG_IGN);
    app.loop = g_main_loop_new(NULL, FALSE);
    struct cl_conn_opts co = {cl_conf_str("url"),
                              token,
                              session,
                              cl_conf_str("ca-file"),
                              (int)cl_conf_int("insecure"),
                              (int)cl_conf_int("heartbeat-ms")};
    app.conn = cl_conn_new(&co, on_state, on_event, NULL, err, sizeof(err));
    if (!app.conn) {
        fprintf(stderr, "aa-client: %s\n", err);
        g_main_loop_unref(app.loop);
        cl_conf_free();
        return 2;
    }
    int interactive = app.tty && !app.json && !app.prompt && isatty(0);
    app.act = cl_act_new(app.conn, interactive ? &term_ui : &headless_ui, NULL);
    if (!app.quiet)
        say(NULL, "... actions: %s", cl_conf_profile());
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    if (app.prompt)
        g_timeout_add((guint)cl_conf_int("timeout-ms"), prompt_timeout, NULL);
    else
        start_input();
    g_main_loop_run(app.loop);
    cl_act_free(app.act);
    cl_conn_free(app.conn);
    g_main_loop_unref(app.loop);
    cl_conf_free();
    return app.exit_code;
}
