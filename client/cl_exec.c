/* cl_exec.c -- fork/exec with pipes, poll() and a deadline. */
#include "cl_exec.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

struct outbuf {
    char *data;
    size_t len, cap, limit;
    int truncated;
};

static void out_add(struct outbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->limit) {
        b->truncated = 1;
        n = b->limit > b->len ? b->limit - b->len : 0;
    }
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static int64_t now_ms(void)
{
    return mono_us() / 1000;
}

/* Runs one command. Returns its exit status, -2 on timeout, -3 when it
 * could not start. */
static int run_one(char **argv, int64_t deadline, struct outbuf *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -3;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -3;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(errpipe[0]);
        close(errpipe[1]);
        return -3;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execvp(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    close(fds[1]);
    close(errpipe[1]);
    int e = 0;
    ssize_t en = read(errpipe[0], &e, sizeof(e));
    close(errpipe[0]);
    if (en == (ssize_t)sizeof(e)) {
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "cannot run %s: %s\n", argv[0], strerror(e));
        out_add(out, msg, (size_t)n);
        close(fds[0]);
        waitpid(pid, NULL, 0);
        return -3;
    }
    char buf[4096];
    int timed_out = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out_add(out, buf, (size_t)n);
    }
    close(fds[0]);
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return -2;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int cl_exec_run(const char *cmdlist, int timeout_ms, size_t limit, struct cl_exec_result *res)
{
    struct outbuf out = {xcalloc(1, 1), 0, 1, limit, 0};
    memset(res, 0, sizeof(*res));
    int64_t deadline = now_ms() + timeout_ms;
    char *list = xstrdup(cmdlist), *save = NULL;
    int parts = 0, failed = 0;
    for (char *cmd = strtok_r(list, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
        char buf[4096], *argv[64];
        int n = cl_exec_split(cmd, buf, sizeof(buf), argv, 64);
        if (n == 0)
            continue;
        parts++;
        if (n < 0) {
            out_add(&out, "bad command line in configuration\n", 34);
            res->spawn_failed = 1;
            failed = 1;
            break;
        }
        if (strchr(cmdlist, ';')) {
            char hdr[300];
            int h = snprintf(hdr, sizeof(hdr), "%s$ %s\n", out.len ? "\n" : "", cmd);
            out_add(&out, hdr, (size_t)(h < (int)sizeof(hdr) ? h : (int)sizeof(hdr) - 1));
        }
        int st = run_one(argv, deadline, &out);
        if (st == -2) {
            res->timed_out = 1;
            failed = 1;
            break;
        }
        if (st == -3) {
            res->spawn_failed = 1;
            failed = 1;
            continue;
        }
        if (st != 0) {
            res->status = st;
            failed = 1;
        }
    }
    free(list);
    if (!parts) {
        out_add(&out, "no command configured\n", 22);
        res->spawn_failed = 1;
        failed = 1;
    }
    res->truncated = out.truncated;
    if (out.truncated) {
        const char *mark = "\n[... output truncated]";
        size_t m = strlen(mark);
        out.data = xrealloc(out.data, out.len + m + 1);
        memcpy(out.data + out.len, mark, m + 1);
        out.len += m;
    }
    res->output = out.data;
    res->len = out.len;
    return failed ? -1 : 0;
}
