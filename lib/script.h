/* script.h -- The Lua scripts of lua/, compiled into every program. Each
 * script is known by its file name without ".lua"; its SHA-1 is computed at
 * start, SCRIPT LOAD runs on every new Redis connection, and calls use
 * EVALSHA with an EVAL fallback on NOSCRIPT. */
#ifndef AA_SCRIPT_H
#define AA_SCRIPT_H

#include <stddef.h>

struct script;

/* Borrowed: static. Aborts on an unknown name (a programming error). */
const struct script *script_get(const char *name);
const char *script_name(const struct script *s);
const char *script_sha(const struct script *s);
const char *script_body(const struct script *s);
/* Number of scripts, and the i-th one (for loading them all). */
size_t script_count(void);
const struct script *script_at(size_t i);

/* Builds the argument vector of "EVALSHA sha nkeys args..." (or "EVAL body
 * nkeys args..." when use_body) into argv/lens, which must hold argc + 3
 * slots. Returns the number of arguments written. */
int script_argv(const struct script *s, int use_body, int nkeys, int argc, const char **args,
                const size_t *arglens, const char **argv, size_t *lens);

#endif
