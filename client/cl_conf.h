/* cl_conf.h -- The desktop side's settings, one table for aa-client and
 * aa-desktop: the configuration file (name = value lines, names as the
 * flags), then AA_* variables, then flags. Also the bearer token (from a file,
 * never a command line), the session id kept between runs, and saving a
 * setting back to the file (the preferences dialog, "always allow"). */
#ifndef AA_CL_CONF_H
#define AA_CL_CONF_H

#include <stddef.h>

/* Parses the settings of program prog. Returns 0 to run, 1 when --help was
 * printed (exit 0), -1 with err filled (exit 2). */
int cl_conf_load(int argc, char **argv, const char *prog, const char *usage, char *err,
                 size_t errlen);

/* Borrowed: valid until cl_conf_free or a cl_conf_set of the same name. */
const char *cl_conf_str(const char *name);
long long cl_conf_int(const char *name);

/* The configuration file in use (it may not exist yet). Borrowed. */
const char *cl_conf_path(void);

/* Which commands the actions run, in words, for the start banner: the
 * built-in defaults of this platform or the configuration. Borrowed. */
const char *cl_conf_profile(void);

/* The bearer token: --token-file's first line, else --token / AA_TOKEN.
 * Returns 0 (buf may be empty: no token) / -1 with err filled. */
int cl_conf_token(char *buf, size_t len, char *err, size_t errlen);

/* The session id: --session, else the state file's, else a new one kept
 * there. Returns 0 / -1 with err filled. */
int cl_conf_session(char *buf, size_t len, char *err, size_t errlen);

/* Sets a setting for this run and writes it to the configuration file
 * (its line replaced, or added; the file is created 0600). value is checked
 * as at start. Returns 0 / -1 with err filled (nothing changed). */
int cl_conf_set(const char *name, const char *value, char *err, size_t errlen);

/* An action the user declared in the configuration file, beside the
 * built-in ones (connect_vpn, disconnect_vpn, vpn_status, logs_*):
 *   action.NAME = command list          (required)
 *   action.NAME.title = what it does    (shown when asking; default NAME)
 *   action.NAME.changes = true|false    (it changes the machine: ask first;
 *                                        default true)
 *   action.NAME.timeout-ms = N          (default: action-timeout-ms)
 *   action.NAME.limit = N               (bytes of output; default log-limit)
 * NAME is 1-31 of A-Z a-z 0-9 _ -. The server's tool catalog names NAME as
 * a tool's client action. */
struct cl_conf_action {
    char name[32], title[64];
    char cmd[4100];
    int changes;
    long long timeout_ms, limit; /* 0: the defaults */
};

/* The declared action called name. Borrowed: valid until cl_conf_free;
 * NULL when there is none. */
const struct cl_conf_action *cl_conf_action(const char *name);
/* How many are declared; the i-th. */
size_t cl_conf_action_count(void);
const struct cl_conf_action *cl_conf_action_at(size_t i);

void cl_conf_free(void);

#endif
