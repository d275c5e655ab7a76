/* log.h -- One line per event, key=value, with the level checked before any
 * argument is evaluated. */
#ifndef AA_LOG_H
#define AA_LOG_H

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

extern int log_min_level;

/* Sets the program name and the minimum level ("debug", "info", "warn",
 * "error"). Returns 0 / -1 for an unknown level. */
int log_init(const char *prog, const char *level);
/* Sends the log to path (appending) instead of stderr, and installs a
 * SIGHUP handler that reopens it (for log rotation). An empty path keeps
 * stderr; SIGHUP is then ignored. Returns 0 / -1. */
int log_open(const char *path);

/* log_init and log_open together for a program's start: on a bad level or
 * file, prints why to stderr and returns -1 (exit with status 2). */
int log_setup(const char *prog, const char *level, const char *file);

/* Writes "ts=... level=... prog=... " then the formatted text, one line. */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= log_min_level)                                                                \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)

#endif
