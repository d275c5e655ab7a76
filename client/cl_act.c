/* cl_act.c -- Requests from the agent, the user's approval, the commands
 * and the answers. */
#include "cl_act.h"
#include "cl_conf.h"
#include "cl_exec.h"
#include "ids.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ACTIVITIES 1000

struct action_def {
    const char *name, *title, *opt, *kind; /* kind: command, status, logs */
    int changes;
};

static const struct action_def actions[] = {
    {"connect_vpn", "connect the VPN", "cmd-connect-vpn", "command", 1},
    {"disconnect_vpn", "disconnect the VPN", "cmd-disconnect-vpn", "command", 1},
    {"vpn_status", "check the VPN status", "cmd-vpn-status", "status", 0},
    {"logs_vpn", "collect the vpn logs", "cmd-logs-vpn", "logs", 0},
    {"logs_network", "collect the network logs", "cmd-logs-network", "logs", 0},
    {"logs_system", "collect the system logs", "cmd-logs-system", "logs", 0},
    {NULL, NULL, NULL, NULL, 0},
};

struct rec {
    struct cl_activity pub;
    char kind[16];               /* command (fire-and-forget), status, logs, output */
    long long timeout_ms, limit; /* 0: the defaults */
    char *output;
    int superseded; /* the gateway took another answer: ours is not used */
    struct job *job;
};

struct job {
    struct cl_act *a; /* NULL once cl_act_free has let go of it */
    struct rec *r;
    struct cl_exec *x;
};

static int detached; /* jobs let go of by cl_act_free, not yet called back */

struct cl_act {
    struct cl_conn *conn;
    const struct cl_act_ui *ui;
    void *arg;
    struct rec **recs;
    size_t n, cap;
    unsigned next_id;
    unsigned asking; /* the activity whose question the user has now, or 0 */
    int denying;     /* cl_act_deny_all: ask nothing more */
    int jobs;
};

static const struct action_def *find_def(const char *name)
{
    for (const struct action_def *d = actions; d->name; d++)
        if (!strcmp(d->name, name))
            return d;
    return NULL;
}

static void changed(struct cl_act *a, struct rec *r)
{
    r->pub.output = r->output;
    if (a->ui && a->ui->changed)
        a->ui->changed(&r->pub, a->arg);
}

static void say(struct cl_act *a, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct cl_act *a, const char *level, const char *fmt, ...)
{
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (a->ui && a->ui->say)
        a->ui->say(level, text, a->arg);
}

static struct rec *by_cbid(struct cl_act *a, const char *cbid)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->recs[i]->pub.cbid[0] && !strcmp(a->recs[i]->pub.cbid, cbid))
            return a->recs[i];
    return NULL;
}

static struct rec *by_id(const struct cl_act *a, unsigned id)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->recs[i]->pub.id == id)
            return a->recs[i];
    return NULL;
}

static void drop_oldest_done(struct cl_act *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->recs[i]->pub.phase == CL_ACT_DONE) {
            free(a->recs[i]->output);
            free(a->recs[i]);
            memmove(a->recs + i, a->recs + i + 1, (a->n - i - 1) * sizeof(*a->recs));
            a->n--;
            return;
        }
    }
}

/* Who asked, from the push's requested_by ("chat", "mcp:<client>"). */
static void who(const char *rb, char *out, size_t len)
{
    int ok = rb && rb[0] && strlen(rb) < 80;
    for (const char *p = rb; ok && *p; p++)
        ok = *p > ' ' && *p < 127;
    if (!ok)
        snprintf(out, len, "the agent");
    else if (!strcmp(rb, "chat"))
        snprintf(out, len, "the chat");
    else if (!strncmp(rb, "mcp:", 4))
        snprintf(out, len, "MCP client %s", rb + 4);
    else
        snprintf(out, len, "%s", rb);
}

/* A new activity for action name; kind says how it is answered: "command"
 * (fire-and-forget, reported when it fails), "output" (a callback answered
 * with the output), or the built-in action's own. Unknown actions get an
 * empty command (refused). */
static struct rec *new_rec(struct cl_act *a, const char *name, const char *kind, const char *cbid,
                           const char *requested_by)
{
    if (a->n == MAX_ACTIVITIES)
        drop_oldest_done(a);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->recs = xrealloc(a->recs, a->cap * sizeof(*a->recs));
    }
    struct rec *r = xcalloc(1, sizeof(*r));
    a->recs[a->n++] = r;
    r->pub.id = ++a->next_id;
    strlcpy_aa(r->pub.action, name, sizeof(r->pub.action));
    const struct action_def *d = find_def(name);
    const struct cl_conf_action *c = d ? NULL : cl_conf_action(name);
    strlcpy_aa(r->kind, d ? d->kind : kind, sizeof(r->kind));
    if (d) {
        strlcpy_aa(r->pub.title, d->title, sizeof(r->pub.title));
        strlcpy_aa(r->pub.cmd, cl_conf_str(d->opt), sizeof(r->pub.cmd));
        r->pub.changes = d->changes;
    } else if (c) {
        strlcpy_aa(r->pub.title, c->title, sizeof(r->pub.title));
        strlcpy_aa(r->pub.cmd, c->cmd, sizeof(r->pub.cmd));
        r->pub.changes = c->changes;
        r->timeout_ms = c->timeout_ms;
        r->limit = c->limit;
    } else {
        snprintf(r->pub.title, sizeof(r->pub.title), "%.40s", name);
    }
    strlcpy_aa(r->pub.cbid, cbid ? cbid : "", sizeof(r->pub.cbid));
    who(requested_by, r->pub.requested_by, sizeof(r->pub.requested_by));
    r->pub.started_ms = mono_us() / 1000;
    return r;
}

/* ---- answers and reports ----------------------------------------------- */

static void answer_failure(struct cl_act *a, struct rec *r, const char *type, const char *message)
{
    json_t *m =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "action", "async_callback", "callback_id",
                  r->pub.cbid, "status", "failure", "error", "type", type, "message", message);
    if (!m) /* not UTF-8 */
        m = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "action", "async_callback", "callback_id",
                      r->pub.cbid, "status", "failure", "error", "type", type, "message",
                      "the command's output is not valid UTF-8");
    cl_conn_answer(a->conn, r->pub.cbid, m);
}

/* A fire-and-forget command's failure or denial, told to the agent as a
 * chat message so that it (and the user) hear what really happened. */
static void report(struct cl_act *a, struct rec *r, const char *what)
{
    char *text = xasprintf("%s %s (%s) %s", CL_ACT_REPORT, r->pub.action, r->pub.title, what);
    json_t *m = json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", text, "session_id",
                          cl_conn_session(a->conn));
    if (m)
        cl_conn_send_json(a->conn, m);
    free(text);
}

static void finish(struct cl_act *a, struct rec *r, int ok, const char *outcome)
{
    r->pub.phase = CL_ACT_DONE;
    r->pub.ok = ok;
    r->pub.elapsed_ms = mono_us() / 1000 - r->pub.started_ms;
    strlcpy_aa(r->pub.outcome, outcome, sizeof(r->pub.outcome));
    if (r->pub.cbid[0])
        cl_conn_heartbeat_remove(a->conn, r->pub.cbid);
    changed(a, r);
}

static void deny(struct cl_act *a, struct rec *r, const char *why)
{
    r->pub.denied = 1;
    char out[400];
    snprintf(out, sizeof(out), "denied: %s", why);
    if (r->pub.cbid[0]) {
        char *m = xasprintf("The user's computer did not %s: %s.", r->pub.title, why);
        answer_failure(a, r, "denied_by_user", m);
        free(m);
    } else {
        char what[500];
        snprintf(what, sizeof(what), "did not run on this computer: %s. Nothing was changed.", why);
        report(a, r, what);
    }
    finish(a, r, 0, out);
}

/* ---- running ------------------------------------------------------------- */

/* The first failing part's type for a failure answer. */
static const char *failure_type(const struct cl_exec_result *res)
{
    for (int i = 0; i < res->nparts; i++) {
        switch (res->parts[i].outcome) {
        case CL_EXEC_TIMEOUT:
        case CL_EXEC_SKIPPED:
            return "Timeout";
        case CL_EXEC_NOSTART:
            return "CouldNotStart";
        case CL_EXEC_EXIT:
        case CL_EXEC_SIGNAL:
            return "CommandFailed";
        case CL_EXEC_OK:
            break;
        }
    }
    return "CommandFailed";
}

/* Answers r's callback as a failure: what did not work, and how. */
static void answer_failed(struct cl_act *a, struct rec *r, const struct cl_exec_result *res,
                          const char *what, const char *how)
{
    char *m = xasprintf("%s: %s", what, how);
    answer_failure(a, r, failure_type(res), m);
    free(m);
    char out[700];
    snprintf(out, sizeof(out), "failed: %.500s", how);
    finish(a, r, 0, out);
}

/* Answers r's callback with the output. Returns 0, or -1 when the output is
 * not UTF-8 (then answered as a failure, and r finished). */
static int answer_content(struct cl_act *a, struct rec *r, const struct cl_exec_result *res)
{
    json_t *m = json_pack("{s:s, s:s, s:s}", "action", "async_callback", "callback_id", r->pub.cbid,
                          "content", res->output);
    if (!m) {
        answer_failure(a, r, "InvalidOutput", "the output is not valid UTF-8");
        finish(a, r, 0, "failed: the output is not valid UTF-8");
        return -1;
    }
    cl_conn_answer(a->conn, r->pub.cbid, m);
    r->pub.bytes = res->len;
    return 0;
}

static void done_command(struct cl_act *a, struct rec *r, const struct cl_exec_result *res,
                         const char *how)
{
    if (!res->nfailed) {
        finish(a, r, 1, "done (exit status 0)");
        return;
    }
    char what[700];
    snprintf(what, sizeof(what), "failed on this computer: %s.", how);
    report(a, r, what);
    char out[600];
    snprintf(out, sizeof(out), "failed: %.500s", how);
    finish(a, r, 0, out);
}

static void done_status(struct cl_act *a, struct rec *r, const struct cl_exec_result *res,
                        const char *how)
{
    char out[600];
    if (res->nfailed) {
        answer_failed(a, r, res, "the status command failed", how);
        return;
    }
    const char *st = cl_act_vpn_connected(res->output, cl_conf_str("status-connected-match"))
                         ? "connected"
                         : "disconnected";
    json_t *content =
        json_pack("{s:s, s:s, s:i}", "status", st, "details", res->output, "exit_status", 0);
    if (!content) /* output not UTF-8 */
        content = json_pack("{s:s, s:i}", "status", st, "exit_status", 0);
    char *c = json_dumps(content, JSON_COMPACT);
    json_decref(content);
    cl_conn_answer(a->conn, r->pub.cbid,
                   json_pack("{s:s, s:s, s:s}", "action", "async_callback", "callback_id",
                             r->pub.cbid, "content", c));
    free(c);
    strlcpy_aa(r->pub.status, st, sizeof(r->pub.status));
    snprintf(out, sizeof(out), "VPN %s", st);
    finish(a, r, 1, out);
}

static void done_logs(struct cl_act *a, struct rec *r, const struct cl_exec_result *res,
                      const char *how)
{
    if (res->nparts - res->nfailed <= 0) {
        answer_failed(a, r, res, "no log command worked", how);
        return;
    }
    if (answer_content(a, r, res) < 0)
        return;
    char out[700];
    if (res->nfailed)
        snprintf(out, sizeof(out), "sent %zu bytes%s; %d of %d commands failed: %s", res->len,
                 res->truncated ? " (truncated)" : "", res->nfailed, res->nparts, how);
    else
        snprintf(out, sizeof(out), "sent %zu bytes%s", res->len,
                 res->truncated ? " (truncated)" : "");
    finish(a, r, 1, out);
}

/* A declared action asked for through a callback: its output, or a failure
 * in words. */
static void done_output(struct cl_act *a, struct rec *r, const struct cl_exec_result *res,
                        const char *how)
{
    if (res->nfailed) {
        char what[64];
        snprintf(what, sizeof(what), "%s failed", r->pub.action);
        answer_failed(a, r, res, what, how);
        return;
    }
    if (answer_content(a, r, res) < 0)
        return;
    char out[200];
    snprintf(out, sizeof(out), "done, sent %zu bytes of output%s", res->len,
             res->truncated ? " (truncated)" : "");
    finish(a, r, 1, out);
}

static void job_done(const struct cl_exec_result *res, void *arg)
{
    struct job *j = arg;
    struct cl_act *a = j->a;
    if (!a) {
        detached--;
        free(j);
        return;
    }
    a->jobs--;
    struct rec *r = j->r;
    r->job = NULL;
    free(j);
    r->output = xstrndup(res->output, res->len);
    char how[600];
    cl_exec_describe(res, how, sizeof(how));
    if (r->superseded) {
        finish(a, r, 0, "not used: the request was answered elsewhere");
        return;
    }
    if (!strcmp(r->kind, "command"))
        done_command(a, r, res, how);
    else if (!strcmp(r->kind, "status"))
        done_status(a, r, res, how);
    else if (!strcmp(r->kind, "output"))
        done_output(a, r, res, how);
    else
        done_logs(a, r, res, how);
}

static void run(struct cl_act *a, struct rec *r)
{
    r->pub.phase = CL_ACT_RUNNING;
    r->pub.started_ms = mono_us() / 1000;
    struct job *j = xcalloc(1, sizeof(*j));
    j->a = a;
    j->r = r;
    r->job = j;
    a->jobs++;
    if (r->pub.cbid[0])
        cl_conn_heartbeat_add(a->conn, r->pub.cbid);
    j->x = cl_exec_start(r->pub.cmd,
                         (int)(r->timeout_ms ? r->timeout_ms : cl_conf_int("action-timeout-ms")),
                         (size_t)(r->limit ? r->limit : cl_conf_int("log-limit")), job_done, j);
    changed(a, r);
}

static int always_allowed(const char *name)
{
    const char *list = cl_conf_str("always-allow");
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n) {
        int start = p == list || p[-1] == ',' || p[-1] == ' ';
        int end = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
        if (start && end)
            return 1;
    }
    return 0;
}

/* Puts the oldest waiting question to the user, one at a time. */
static void ask_next(struct cl_act *a)
{
    if (a->asking || a->denying)
        return;
    for (size_t i = 0; i < a->n; i++) {
        if (a->recs[i]->pub.phase == CL_ACT_ASKING) {
            a->asking = a->recs[i]->pub.id;
            a->ui->ask(&a->recs[i]->pub, a->arg);
            return;
        }
    }
}

unsigned cl_act_asking(const struct cl_act *a)
{
    return a->asking;
}

void cl_act_deny_all(struct cl_act *a)
{
    a->denying = 1;
    for (size_t i = 0; i < a->n; i++) {
        struct rec *r = a->recs[i];
        if (r->pub.phase == CL_ACT_ASKING) {
            a->asking = r->pub.id;
            cl_act_decide(a, r->pub.id, CL_ACT_DENY);
        }
    }
    a->denying = 0;
}

/* The policy for r: run it, deny it, or ask. */
static void admit(struct cl_act *a, struct rec *r)
{
    const char *policy = always_allowed(r->pub.action) ? "allow"
                         : r->pub.changes              ? cl_conf_str("approve-changes")
                                                       : cl_conf_str("approve-reads");
    if (!strcmp(policy, "allow")) {
        run(a, r);
    } else if (!strcmp(policy, "deny")) {
        deny(a, r,
             r->pub.changes ? "the client's settings deny it (approve-changes = deny)"
                            : "the client's settings deny it");
    } else if (!a->ui || !a->ui->ask) {
        deny(a, r,
             r->pub.changes ? "no one was there to approve it (a headless client; set "
                              "approve-changes = allow to let it run unasked)"
                            : "no one was there to approve it (a headless client; set "
                              "approve-reads = allow)");
    } else {
        r->pub.phase = CL_ACT_ASKING;
        if (r->pub.cbid[0])
            cl_conn_heartbeat_add(a->conn, r->pub.cbid); /* the user may take a while */
        changed(a, r);
        ask_next(a);
    }
}

static void decide(struct cl_act *a, struct rec *r, enum cl_act_decision d);

void cl_act_decide(struct cl_act *a, unsigned id, enum cl_act_decision d)
{
    struct rec *r = by_id(a, id);
    if (!r || r->pub.phase != CL_ACT_ASKING || id != a->asking)
        return;
    decide(a, r, d);
    a->asking = 0;
    ask_next(a);
}

static void decide(struct cl_act *a, struct rec *r, enum cl_act_decision d)
{
    if (r->pub.cbid[0])
        cl_conn_heartbeat_remove(a->conn, r->pub.cbid);
    if (r->superseded) {
        finish(a, r, 0, "not used: the request was answered elsewhere");
        return;
    }
    if (d == CL_ACT_DENY) {
        deny(a, r, "the user denied it");
        return;
    }
    if (d == CL_ACT_ALLOW_ALWAYS && !always_allowed(r->pub.action)) {
        const char *old = cl_conf_str("always-allow");
        char *list = old[0] ? xasprintf("%s,%s", old, r->pub.action) : xstrdup(r->pub.action);
        char err[1400];
        if (cl_conf_set("always-allow", list, err, sizeof(err)) < 0)
            say(a, "error", "could not keep \"always allow %s\": %s", r->pub.action, err);
        else
            say(a, "info", "%s will run without asking from now on (always-allow in %s)",
                r->pub.action, cl_conf_path());
        free(list);
    }
    run(a, r);
}

/* ---- requests ------------------------------------------------------------ */

static void request(struct cl_act *a, const char *name, const char *kind, const char *cbid,
                    const char *rb)
{
    if (cbid && by_cbid(a, cbid))
        return; /* delivered again after a reconnect: it is being handled */
    struct rec *r = new_rec(a, name, kind, cbid, rb);
    if (!r->pub.cmd[0]) {
        const char *why = "this action is not configured on the client";
        if (cbid)
            answer_failure(a, r, "NotConfigured", why);
        else
            report(a, r, "is not configured on this computer; nothing ran.");
        finish(a, r, 0, "refused: not configured on this client");
        return;
    }
    admit(a, r);
}

/* The gateway's reply about one of our answers. */
static void reply(struct cl_act *a, json_t *msg)
{
    json_t *data = json_object_get(msg, "data");
    const char *cb = json_string_value(json_object_get(data, "callback_id"));
    const char *code = json_string_value(json_object_get(data, "code"));
    const char *event = json_string_value(json_object_get(msg, "event"));
    struct rec *r = cb ? by_cbid(a, cb) : NULL;
    if (!r || !event || strcmp(event, "error") != 0 || !code || r->superseded)
        return;
    const char *why = !strcmp(code, "callback_conflict")
                          ? "was already answered from elsewhere (an operator or another client)"
                      : !strcmp(code, "callback_expired")   ? "had already timed out on the server"
                      : !strcmp(code, "callback_not_found") ? "is no longer known to the server"
                                                            : NULL;
    if (!why)
        return; /* unavailable: cl_conn sends the answer again */
    r->superseded = 1;
    cl_conn_heartbeat_remove(a->conn, cb);
    cl_conn_answer_drop(a->conn, cb);
    say(a, "info", "The request to %s %s; this computer's answer was not used.", r->pub.title, why);
    if (r->job)
        cl_exec_cancel(r->job->x);
    else if (r->pub.phase == CL_ACT_DONE) {
        r->pub.ok = 0;
        snprintf(r->pub.outcome, sizeof(r->pub.outcome), "not used: the request %s", why);
        changed(a, r);
    }
}

int cl_act_handle(struct cl_act *a, json_t *msg, int own)
{
    const char *event = json_string_value(json_object_get(msg, "event"));
    if (own) {
        reply(a, msg);
        return 1;
    }
    if (event && !strcmp(event, "client_action")) {
        json_t *data = json_object_get(msg, "data");
        const char *action = json_string_value(json_object_get(data, "action"));
        const char *command = json_string_value(json_object_get(data, "command"));
        const char *rb = json_string_value(json_object_get(data, "requested_by"));
        if (!action || strcmp(action, "run_client_command") != 0 || !command ||
            !id_valid(command, 31)) {
            say(a, "error", "The server asked for an action this client does not know; ignored.");
            return 1;
        }
        if (strcmp(command, "connect_vpn") && strcmp(command, "disconnect_vpn") &&
            !cl_conf_action(command)) {
            struct rec *r = new_rec(a, command, "command", NULL, rb);
            report(a, r, "is not an action this computer offers; nothing ran.");
            finish(a, r, 0, "refused: not an action of this client");
            return 1;
        }
        request(a, command, "command", NULL, rb);
        return 1;
    }
    if (event)
        return 0;
    const char *action = json_string_value(json_object_get(msg, "action"));
    const char *cbid = json_string_value(json_object_get(msg, "callback_id"));
    const char *rb = json_string_value(json_object_get(msg, "requested_by"));
    if (!action)
        return 0;
    if (!cbid || !id_valid(cbid, 63)) {
        say(a, "error", "A request '%.40s' without a valid callback id was ignored.", action);
        return 1;
    }
    if (!strcmp(action, "get_vpn_status")) {
        request(a, "vpn_status", "status", cbid, rb);
    } else if (!strcmp(action, "request_logs")) {
        const char *t = json_string_value(json_object_get(msg, "log_type"));
        char name[32];
        snprintf(name, sizeof(name), "logs_%.20s", t && id_valid(t, 20) ? t : "unknown");
        request(a, name, "logs", cbid, rb);
    } else if (!strcmp(action, "run_action")) {
        /* a declared action, through the server's tool catalog */
        const char *n = json_string_value(json_object_get(msg, "name"));
        if (n && id_valid(n, 31) && cl_conf_action(n)) {
            request(a, n, "output", cbid, rb);
        } else {
            struct rec *r = new_rec(a, n && id_valid(n, 31) ? n : "unknown", "output", cbid, rb);
            answer_failure(a, r, "NotConfigured",
                           "this action is not declared on the client (action.NAME in its "
                           "configuration)");
            finish(a, r, 0, "refused: not declared on this client");
        }
    } else {
        struct rec *r = new_rec(a, action, "output", cbid, rb);
        answer_failure(a, r, "NotConfigured", "this action is not configured on the client");
        finish(a, r, 0, "refused: not an action of this client");
    }
    return 1;
}

int cl_act_busy(const struct cl_act *a)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->recs[i]->pub.phase != CL_ACT_DONE;
    return n;
}

const struct cl_activity *cl_act_get(const struct cl_act *a, unsigned id)
{
    struct rec *r = by_id(a, id);
    if (r)
        r->pub.output = r->output;
    return r ? &r->pub : NULL;
}

/* Does a line of out start with m (any case, leading blanks ignored)? */
static int line_starts_with(const char *out, const char *m)
{
    size_t n = strlen(m);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (!strncasecmp(l, m, n))
            return 1;
    }
    return 0;
}

int cl_act_vpn_connected(const char *out, const char *match)
{
    if (match && match[0])
        return line_starts_with(out, match);
    char *l = xstrdup(out);
    for (char *p = l; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    int on = (strstr(l, "connected") && !strstr(l, "disconnected")) ||
             strstr(l, ":vpn:activated") || strstr(l, "state: connected");
    free(l);
    return on;
}

struct cl_act *cl_act_new(struct cl_conn *conn, const struct cl_act_ui *ui, void *arg)
{
    struct cl_act *a = xcalloc(1, sizeof(*a));
    a->conn = conn;
    a->ui = ui;
    a->arg = arg;
    return a;
}

void cl_act_free(struct cl_act *a)
{
    if (!a)
        return;
    /* what still runs is killed; its runner calls back once, from the loop */
    for (size_t i = 0; i < a->n; i++) {
        struct rec *r = a->recs[i];
        if (r->job) {
            r->job->a = NULL;
            cl_exec_cancel(r->job->x);
            detached++;
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->recs[i]->output);
        free(a->recs[i]);
    }
    free(a->recs);
    free(a);
    int64_t until = mono_us() + 2000000;
    while (detached > 0 && mono_us() < until) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    }
}
