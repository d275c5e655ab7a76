/* script.c -- Lua script table built from lua/ (see the generated
 * lua_sources.c) with SHA-1 digests computed once. */
#include "script.h"
#include "util.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lua_source {
    const char *name;
    const char *body;
};
extern const struct lua_source lua_sources[];
extern const size_t lua_sources_count;

struct script {
    const char *name;
    const char *body;
    char sha[41];
};

static struct script *table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    table = xcalloc(lua_sources_count, sizeof(*table));
    for (size_t i = 0; i < lua_sources_count; i++) {
        unsigned char d[SHA_DIGEST_LENGTH];
        table[i].name = lua_sources[i].name;
        table[i].body = lua_sources[i].body;
        SHA1((const unsigned char *)table[i].body, strlen(table[i].body), d);
        for (int j = 0; j < SHA_DIGEST_LENGTH; j++)
            snprintf(table[i].sha + 2 * j, 3, "%02x", d[j]);
    }
}

size_t script_count(void)
{
    return lua_sources_count;
}

const struct script *script_at(size_t i)
{
    pthread_once(&once, init);
    return i < lua_sources_count ? &table[i] : NULL;
}

const struct script *script_get(const char *name)
{
    pthread_once(&once, init);
    for (size_t i = 0; i < lua_sources_count; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    fprintf(stderr, "fatal: no Lua script named '%s'\n", name);
    abort();
}

const char *script_name(const struct script *s)
{
    return s->name;
}

const char *script_sha(const struct script *s)
{
    return s->sha;
}

const char *script_body(const struct script *s)
{
    return s->body;
}

int script_argv(const struct script *s, int use_body, int nkeys, int argc, const char **args,
                const size_t *arglens, const char **argv, size_t *lens)
{
    static const char *const counts[] = {"0", "1", "2",  "3",  "4",  "5",  "6",  "7",
                                         "8", "9", "10", "11", "12", "13", "14", "15"};
    if (nkeys < 0 || nkeys > 15 || nkeys > argc)
        abort(); /* a programming error */
    argv[0] = use_body ? "EVAL" : "EVALSHA";
    argv[1] = use_body ? s->body : s->sha;
    argv[2] = counts[nkeys];
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < argc; i++) {
        argv[3 + i] = args[i];
        lens[3 + i] = arglens ? arglens[i] : strlen(args[i]);
    }
    return argc + 3;
}
