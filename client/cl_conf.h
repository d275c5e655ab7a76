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

void cl_conf_free(void);

#endif
