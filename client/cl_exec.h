/* cl_exec.h -- Runs the local commands behind a configured action on the GLib
 * main loop: no shell, no thread, a time limit, output captured up to a limit
 * with a truncation marker, and the real outcome of every part (exit status,
 * signal, could not start and why, timed out). A command list is
 * "cmd arg arg; cmd arg" (each part split on blanks, with 'single' or
 * "double" quotes for arguments that hold blanks); the parts run one after
 * the other, every one of them even when an earlier one failed, and their
 * outputs are joined under "$ cmd" headers. */
#ifndef AA_CL_EXEC_H
#define AA_CL_EXEC_H

#include <stddef.h>
#include <stdint.h>

#define CL_EXEC_MAX_PARTS 16

enum cl_exec_outcome {
    CL_EXEC_OK,      /* exited 0 */
    CL_EXEC_EXIT,    /* exited non-zero: code */
    CL_EXEC_SIGNAL,  /* killed by signal code */
    CL_EXEC_NOSTART, /* could not start: reason */
    CL_EXEC_TIMEOUT, /* stopped at the time limit */
    CL_EXEC_SKIPPED, /* not run: the time limit had passed */
};

struct cl_exec_part {
    char cmd[160]; /* the part as configured (cut to fit) */
    enum cl_exec_outcome outcome;
    int code;         /* exit status or signal number */
    char reason[200]; /* NOSTART: why, in words */
};

struct cl_exec_result {
    char *output; /* NUL-terminated; owned by the runner */
    size_t len;
    int truncated;
    int nparts, nfailed; /* parts run and parts that did not end with exit 0 */
    struct cl_exec_part parts[CL_EXEC_MAX_PARTS];
    int64_t elapsed_ms;
};

/* Borrowed: res is valid during the callback only. */
typedef void (*cl_exec_cb)(const struct cl_exec_result *res, void *arg);

struct cl_exec;

/* Splits one command into argv (at most max-1 words + NULL) in buf.
 * Returns the word count, or -1 (unbalanced quotes, too many words). */
int cl_exec_split(const char *cmd, char *buf, size_t buflen, char **argv, int max);

/* Starts the command list on the thread-default GLib main context; cb runs
 * exactly once, from the loop, never from inside this call. Returns: owned by
 * the runner (freed after cb returns); the handle may be passed to
 * cl_exec_cancel until then. */
struct cl_exec *cl_exec_start(const char *cmdlist, int timeout_ms, size_t limit, cl_exec_cb cb,
                              void *arg);

/* Stops a running list now (the running part is killed); cb still runs once,
 * with the remaining parts SKIPPED. */
void cl_exec_cancel(struct cl_exec *x);

/* The outcome of the whole list in words: "ok", "exit status 3 (nmcli ...)",
 * "could not start: ...", "killed by signal 9", "timed out after 30 s".
 * Returns buf. */
const char *cl_exec_describe(const struct cl_exec_result *res, char *buf, size_t len);

/* One part's outcome in words. Returns buf. */
const char *cl_exec_part_describe(const struct cl_exec_part *p, char *buf, size_t len);

/* Runs a list to its end on a private main context (tests, scripts).
 * Returns 0 when every part exited 0, else -1; res is filled and res->output
 * is then owned by the caller (free it). */
int cl_exec_run_sync(const char *cmdlist, int timeout_ms, size_t limit, struct cl_exec_result *res);

#endif
