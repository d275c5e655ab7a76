/* cfg.h -- One configuration table per program: each option has a name, a
 * type, a default and bounds, and is read from --flags and AA_* environment
 * variables (flags win). Values are validated at start; a bad value fails
 * fast with a clear message. */
#ifndef AA_CFG_H
#define AA_CFG_H

#include <stddef.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_opt {
    const char *name; /* flag "--name", environment "AA_NAME" ('-' becomes '_') */
    enum cfg_type type;
    const char *def;    /* default as text; NULL means empty string */
    long long min, max; /* bounds for CFG_INT; maximum length for CFG_STR when max > 0 */
    const char *help;
    /* Filled by cfg_parse. */
    char *sval;
    long long ival;
};

#define CFG_END                                                                                    \
    {                                                                                              \
        NULL, CFG_STR, NULL, 0, 0, NULL, NULL, 0                                                   \
    }

/* Parses environment then argv into tab. Returns 0 when the program should
 * run, 1 when --help was printed (exit 0), -1 on a bad flag or value with a
 * message in err (exit 2). Positional arguments are refused. */
int cfg_parse(struct cfg_opt *tab, int argc, char **argv, const char *usage, char *err,
              size_t errlen);
/* The same, with a configuration file read between the defaults and the
 * environment: lines "name = value" (names as the flags, without "--"),
 * '#' comments, blank lines. file NULL: none; missing_ok: an absent file is
 * not an error. */
int cfg_parse_file(struct cfg_opt *tab, int argc, char **argv, const char *usage, const char *file,
                   int missing_ok, char *err, size_t errlen);

/* For "prog COMMAND [options]": checks a command is there, parses the options
 * after it (exits like cfg_parse_or_exit) and returns the command
 * (borrowed from argv). Without a command: prints usage, exits 2. */
const char *cfg_subcommand_or_exit(struct cfg_opt *tab, int argc, char **argv, const char *usage);

/* Lines of a configuration file whose name starts with prefix (for example
 * "action.") go to cb instead of the table: a program's own structured
 * settings. cb returns 0, or -1 with err filled (the file is refused).
 * One prefix per process; NULL removes it. */
typedef int (*cfg_extra_cb)(const char *name, const char *value, char *err, size_t errlen,
                            void *arg);
void cfg_on_prefix(const char *prefix, cfg_extra_cb cb, void *arg);

/* Sets one option as a flag would, after parsing. Returns 0 / -1 with err
 * filled (the old value kept). */
int cfg_set(struct cfg_opt *tab, const char *name, const char *value, char *err, size_t errlen);

/* Borrowed: valid until cfg_free. Aborts on an unknown name (a programming error). */
const char *cfg_str(const struct cfg_opt *tab, const char *name);
long long cfg_int(const struct cfg_opt *tab, const char *name);
/* Prints the option table as help text to stdout. */
void cfg_usage(const struct cfg_opt *tab, const char *usage);
void cfg_free(struct cfg_opt *tab);

/* Runs cfg_parse and exits the process with 0 (help) or 2 (error, printed
 * to stderr) when the program should not run. */
void cfg_parse_or_exit(struct cfg_opt *tab, int argc, char **argv, const char *usage);

#endif
