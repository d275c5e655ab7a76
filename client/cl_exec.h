/* cl_exec.h -- Runs the local commands behind a configured action: no shell,
 * a timeout, output captured up to a limit with a truncation marker, and the
 * exit status reported. A command list is "cmd arg arg; cmd arg" (each part
 * split on blanks, with 'single' or "double" quotes for arguments that hold
 * blanks); the outputs of the parts are joined under "$ cmd" headers. */
#ifndef AA_CL_EXEC_H
#define AA_CL_EXEC_H

#include <stddef.h>

struct cl_exec_result {
    char *output; /* owned, NUL-terminated */
    size_t len;
    int status; /* exit status of the last failing part, else 0 */
    int timed_out;
    int truncated;
    int spawn_failed; /* a program could not be started */
};

/* Splits one command into argv (at most max-1 words + NULL) in buf.
 * Returns the word count, or -1 (unbalanced quotes, too many words). */
int cl_exec_split(const char *cmd, char *buf, size_t buflen, char **argv, int max);

/* Runs the command list. Returns 0 when every part ran and exited 0,
 * else -1; res is always filled (free res->output). */
int cl_exec_run(const char *cmdlist, int timeout_ms, size_t limit, struct cl_exec_result *res);

#endif
