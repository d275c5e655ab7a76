/* log.c -- Structured key=value log lines on stderr. */
#include "log.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_LVL_INFO;
static char log_path[1024];

static int reopen(void)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    dup2(fd, 2); /* stderr is the log: async-signal-safe to swap */
    close(fd);
    return 0;
}

static void on_hup(int sig)
{
    (void)sig;
    if (log_path[0])
        reopen();
}

int log_open(const char *path)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    if (!path || !*path)
        return 0;
    if (strlen(path) >= sizeof(log_path))
        return -1;
    strcpy(log_path, path);
    return reopen();
}
static const char *log_prog = "aa";

int log_init(const char *prog, const char *level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    log_prog = prog;
    for (int i = 0; i < 4; i++) {
        if (level && strcmp(level, names[i]) == 0) {
            log_min_level = i;
            return 0;
        }
    }
    return -1;
}

void log_write(int level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), names[level & 3], log_prog);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

int log_setup(const char *prog, const char *level, const char *file)
{
    if (log_init(prog, level) < 0) {
        fprintf(stderr, "aa-%s: --log-level must be debug, info, warn or error\n", prog);
        return -1;
    }
    if (log_open(file) < 0) {
        fprintf(stderr, "aa-%s: cannot open --log-file '%s'\n", prog, file);
        return -1;
    }
    return 0;
}
