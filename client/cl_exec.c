/* cl_exec.c -- Local commands as GLib sources: a child watch, a pipe watch
 * and a deadline per part; the caller's callback from an idle source. */
#include "cl_exec.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int cl_exec_split(const char *cmd, char *buf, size_t buflen, char **argv, int max)
{
    int n = 0;
    size_t o = 0;
    const char *p = cmd;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n >= max - 1)
            return -1;
        argv[n++] = buf + o;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                while (*p && *p != q) {
                    if (o + 1 >= buflen)
                        return -1;
                    buf[o++] = *p++;
                }
                if (*p != q)
                    return -1;
                p++;
            } else {
                if (o + 1 >= buflen)
                    return -1;
                buf[o++] = *p++;
            }
        }
        if (o + 1 >= buflen)
            return -1;
        buf[o++] = '\0';
    }
    argv[n] = NULL;
    return n;
}

struct cl_exec {
    char *parts[CL_EXEC_MAX_PARTS]; /* the list, split on ';' (blank parts dropped) */
    int total, cur, multi;
    int64_t start_ms, deadline_ms;
    size_t cap, limit;
    struct cl_exec_result res;
    GMainContext *ctx;
    GPid pid;
    int fd;
    GSource *out_src, *child_src, *timer_src, *idle_src;
    int running, exited, timed_out, cancelled, wait_status;
    cl_exec_cb cb;
    void *arg;
};

static int64_t now_ms(void)
{
    return mono_us() / 1000;
}

static void out_add(struct cl_exec *x, const char *s, size_t n)
{
    struct cl_exec_result *r = &x->res;
    if (r->len + n > x->limit) {
        r->truncated = 1;
        n = x->limit > r->len ? x->limit - r->len : 0;
    }
    if (r->len + n + 1 > x->cap) {
        x->cap = (r->len + n + 1) * 2;
        r->output = xrealloc(r->output, x->cap);
    }
    memcpy(r->output + r->len, s, n);
    r->len += n;
    r->output[r->len] = '\0';
}

static void out_printf(struct cl_exec *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_printf(struct cl_exec *x, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        out_add(x, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static GSource *attach(struct cl_exec *x, GSource *s, GSourceFunc fn)
{
    g_source_set_callback(s, fn, x, NULL);
    g_source_attach(s, x->ctx);
    return s;
}

static void drop(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static gboolean on_finish(gpointer p);
static void start_next(struct cl_exec *x);

static struct cl_exec_part *new_part(struct cl_exec *x, const char *cmd)
{
    struct cl_exec_part *p = &x->res.parts[x->res.nparts++];
    strlcpy_aa(p->cmd, cmd, sizeof(p->cmd));
    return p;
}

static void part_failed(struct cl_exec *x, struct cl_exec_part *p)
{
    char why[300];
    x->res.nfailed++;
    if (x->multi || p->outcome == CL_EXEC_NOSTART || p->outcome == CL_EXEC_TIMEOUT)
        out_printf(x, "%s[%s]\n", x->res.len && x->res.output[x->res.len - 1] != '\n' ? "\n" : "",
                   cl_exec_part_describe(p, why, sizeof(why)));
}

static void read_some(struct cl_exec *x)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(x->fd, buf, sizeof(buf));
        if (n > 0) {
            out_add(x, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        break; /* end of output, or an error: the pipe is done */
    }
    drop(&x->out_src);
    close(x->fd);
    x->fd = -1;
}

/* The running part has exited (or was killed): record it, go on. */
static void part_done(struct cl_exec *x)
{
    if (x->fd >= 0)
        read_some(
            x); /* what is already in the pipe; a grandchild's later output is not waited for */
    if (x->fd >= 0) {
        drop(&x->out_src);
        close(x->fd);
        x->fd = -1;
    }
    drop(&x->timer_src);
    drop(&x->child_src);
    struct cl_exec_part *p = &x->res.parts[x->res.nparts - 1];
    int st = x->wait_status;
    if (x->timed_out) {
        p->outcome = CL_EXEC_TIMEOUT;
    } else if (x->cancelled) {
        p->outcome = CL_EXEC_SIGNAL;
        p->code = SIGKILL;
        strlcpy_aa(p->reason, "cancelled", sizeof(p->reason));
    } else if (WIFEXITED(st)) {
        p->code = WEXITSTATUS(st);
        p->outcome = p->code == 0 ? CL_EXEC_OK : CL_EXEC_EXIT;
    } else {
        p->outcome = CL_EXEC_SIGNAL;
        p->code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    }
    if (p->outcome != CL_EXEC_OK)
        part_failed(x, p);
    x->running = 0;
    x->cur++;
    start_next(x);
}

static gboolean on_output(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd;
    (void)cond;
    struct cl_exec *x = data;
    read_some(x);
    return x->fd >= 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void on_child(GPid pid, gint status, gpointer data)
{
    struct cl_exec *x = data;
    g_spawn_close_pid(pid);
    x->exited = 1;
    x->wait_status = status;
    part_done(x);
}

static void kill_part(struct cl_exec *x)
{
    if (x->running && !x->exited) {
        kill(-x->pid, SIGKILL); /* the part's whole process group */
        kill(x->pid, SIGKILL);
    }
}

static gboolean on_deadline(gpointer data)
{
    struct cl_exec *x = data;
    x->timed_out = 1;
    g_source_unref(x->timer_src);
    x->timer_src = NULL;
    kill_part(x); /* the child watch then ends the part */
    return G_SOURCE_REMOVE;
}

static void child_setup(gpointer data)
{
    (void)data;
    setpgid(0, 0); /* a time limit kills everything the part started */
}

static void spawn_failed(struct cl_exec_part *p, const char *prog, const GError *e)
{
    p->outcome = CL_EXEC_NOSTART;
    const char *why = !e                                ? "cannot start"
                      : e->code == G_SPAWN_ERROR_NOENT  ? "not found"
                      : e->code == G_SPAWN_ERROR_ACCES  ? "permission denied"
                      : e->code == G_SPAWN_ERROR_NOEXEC ? "not an executable"
                                                        : e->message;
    snprintf(p->reason, sizeof(p->reason), "%s: %s", prog, why);
}

static void start_next(struct cl_exec *x)
{
    while (!x->running && x->cur < x->total) {
        const char *cmd = x->parts[x->cur];
        struct cl_exec_part *p = new_part(x, cmd);
        if (x->timed_out || x->cancelled || now_ms() >= x->deadline_ms) {
            p->outcome = CL_EXEC_SKIPPED;
            x->res.nfailed++;
            x->cur++;
            continue;
        }
        if (x->multi)
            out_printf(x, "%s$ %.300s\n", x->res.len ? "\n" : "", cmd);
        char buf[4096], *argv[64];
        int n = cl_exec_split(cmd, buf, sizeof(buf), argv, 64);
        if (n <= 0) {
            p->outcome = CL_EXEC_NOSTART;
            strlcpy_aa(p->reason, "bad command line in the configuration (unbalanced quotes?)",
                       sizeof(p->reason));
            part_failed(x, p);
            x->cur++;
            continue;
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            p->outcome = CL_EXEC_NOSTART;
            snprintf(p->reason, sizeof(p->reason), "pipe: %s", strerror(errno));
            part_failed(x, p);
            x->cur++;
            continue;
        }
        GError *e = NULL;
        gboolean ok = g_spawn_async_with_pipes_and_fds(
            NULL, (const gchar *const *)argv, NULL,
            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
            child_setup, NULL, -1, fds[1], fds[1], NULL, NULL, 0, &x->pid, NULL, NULL, NULL, &e);
        close(fds[1]);
        if (!ok) {
            close(fds[0]);
            spawn_failed(p, argv[0], e);
            g_clear_error(&e);
            part_failed(x, p);
            x->cur++;
            continue;
        }
        x->fd = fds[0];
        fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) | O_NONBLOCK);
        x->running = 1;
        x->exited = 0;
        x->wait_status = 0;
        x->out_src = g_unix_fd_source_new(x->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
        attach(x, x->out_src, (GSourceFunc)(void (*)(void))on_output);
        x->child_src = g_child_watch_source_new(x->pid);
        attach(x, x->child_src, (GSourceFunc)(void (*)(void))on_child);
        x->timer_src = g_timeout_source_new((guint)(x->deadline_ms - now_ms()));
        attach(x, x->timer_src, on_deadline);
        return;
    }
    if (!x->running && !x->idle_src) {
        x->idle_src = g_idle_source_new();
        attach(x, x->idle_src, on_finish);
    }
}

static gboolean on_start(gpointer data)
{
    struct cl_exec *x = data;
    drop(&x->idle_src);
    start_next(x);
    return G_SOURCE_REMOVE;
}

static gboolean on_finish(gpointer data)
{
    struct cl_exec *x = data;
    drop(&x->idle_src);
    if (x->res.truncated) {
        const char *mark = "\n[... output truncated]";
        size_t m = strlen(mark);
        x->res.output = xrealloc(x->res.output, x->res.len + m + 1);
        memcpy(x->res.output + x->res.len, mark, m + 1);
        x->res.len += m;
    }
    x->res.elapsed_ms = now_ms() - x->start_ms;
    x->cb(&x->res, x->arg);
    for (int i = 0; i < x->total; i++)
        free(x->parts[i]);
    free(x->res.output);
    g_main_context_unref(x->ctx);
    free(x);
    return G_SOURCE_REMOVE;
}

struct cl_exec *cl_exec_start(const char *cmdlist, int timeout_ms, size_t limit, cl_exec_cb cb,
                              void *arg)
{
    struct cl_exec *x = xcalloc(1, sizeof(*x));
    x->cb = cb;
    x->arg = arg;
    x->fd = -1;
    x->limit = limit;
    x->cap = 1;
    x->res.output = xcalloc(1, 1);
    x->start_ms = now_ms();
    x->deadline_ms = x->start_ms + timeout_ms;
    x->ctx = g_main_context_ref_thread_default();
    char *list = xstrdup(cmdlist ? cmdlist : ""), *save = NULL;
    for (char *c = strtok_r(list, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
        while (*c == ' ' || *c == '\t')
            c++;
        size_t n = strlen(c);
        while (n && (c[n - 1] == ' ' || c[n - 1] == '\t'))
            c[--n] = '\0';
        if (!n)
            continue;
        if (x->total == CL_EXEC_MAX_PARTS)
            break;
        x->parts[x->total++] = xstrdup(c);
    }
    free(list);
    x->multi = x->total > 1;
    if (!x->total) {
        struct cl_exec_part *p = new_part(x, "");
        p->outcome = CL_EXEC_NOSTART;
        strlcpy_aa(p->reason, "no command configured", sizeof(p->reason));
        x->res.nfailed = 1;
        x->cur = x->total;
    }
    x->idle_src = g_idle_source_new();
    attach(x, x->idle_src, on_start);
    return x;
}

void cl_exec_cancel(struct cl_exec *x)
{
    x->cancelled = 1;
    kill_part(x);
}

const char *cl_exec_part_describe(const struct cl_exec_part *p, char *buf, size_t len)
{
    switch (p->outcome) {
    case CL_EXEC_OK:
        snprintf(buf, len, "ok");
        break;
    case CL_EXEC_EXIT:
        snprintf(buf, len, "exit status %d", p->code);
        break;
    case CL_EXEC_SIGNAL:
        if (p->reason[0])
            snprintf(buf, len, "%s", p->reason);
        else
            snprintf(buf, len, "killed by signal %d (%s)", p->code, strsignal(p->code));
        break;
    case CL_EXEC_NOSTART:
        snprintf(buf, len, "could not start %s", p->reason);
        break;
    case CL_EXEC_TIMEOUT:
        snprintf(buf, len, "timed out");
        break;
    case CL_EXEC_SKIPPED:
        snprintf(buf, len, "not run (no time left)");
        break;
    }
    return buf;
}

const char *cl_exec_describe(const struct cl_exec_result *res, char *buf, size_t len)
{
    if (!res->nfailed) {
        snprintf(buf, len, "ok");
        return buf;
    }
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < res->nparts && o + 1 < len; i++) {
        const struct cl_exec_part *p = &res->parts[i];
        if (p->outcome == CL_EXEC_OK)
            continue;
        char one[300];
        cl_exec_part_describe(p, one, sizeof(one));
        if (p->outcome == CL_EXEC_TIMEOUT)
            snprintf(one, sizeof(one), "timed out after %.1f s", (double)res->elapsed_ms / 1000);
        int n = res->nparts > 1 && p->outcome != CL_EXEC_NOSTART
                    ? snprintf(buf + o, len - o, "%s%s (%s)", o ? "; " : "", one, p->cmd)
                    : snprintf(buf + o, len - o, "%s%s", o ? "; " : "", one);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (o >= len)
        buf[len - 1] = '\0';
    return buf;
}

struct sync_wait {
    struct cl_exec_result *res;
    int done;
};

static void sync_done(const struct cl_exec_result *res, void *arg)
{
    struct sync_wait *w = arg;
    *w->res = *res;
    w->res->output = xstrndup(res->output, res->len);
    w->done = 1;
}

int cl_exec_run_sync(const char *cmdlist, int timeout_ms, size_t limit, struct cl_exec_result *res)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    struct sync_wait w = {res, 0};
    cl_exec_start(cmdlist, timeout_ms, limit, sync_done, &w);
    while (!w.done)
        g_main_context_iteration(ctx, TRUE);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    return res->nfailed ? -1 : 0;
}
