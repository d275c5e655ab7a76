/* cfg.c -- Flag and environment parsing against a per-program table. */
#include "cfg.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cfg_opt *find(const struct cfg_opt *tab, const char *name, size_t len)
{
    for (const struct cfg_opt *o = tab; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return (struct cfg_opt *)o;
    return NULL;
}

static int set_value(struct cfg_opt *o, const char *v, const char *src, char *err, size_t errlen)
{
    if (o->type == CFG_INT) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not an integer", src, v);
            return -1;
        }
        if (x < o->min || x > o->max) {
            snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", src, x, o->min, o->max);
            return -1;
        }
        o->ival = x;
    } else if (o->type == CFG_BOOL) {
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            o->ival = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
            o->ival = 0;
        else {
            snprintf(err, errlen, "%s: '%s' is not a boolean (true/false)", src, v);
            return -1;
        }
    } else if (o->max > 0 && (long long)strlen(v) > o->max) {
        snprintf(err, errlen, "%s: value longer than %lld characters", src, o->max);
        return -1;
    }
    free(o->sval);
    o->sval = xstrdup(v);
    return 0;
}

static void env_name(const char *name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "AA_%s", name);
    for (size_t i = 3; i < n && i < outlen; i++)
        out[i] = out[i] == '-' ? '_' : (char)toupper((unsigned char)out[i]);
}

static const char *extra_prefix;
static cfg_extra_cb extra_cb;
static void *extra_arg;

void cfg_on_prefix(const char *prefix, cfg_extra_cb cb, void *arg)
{
    extra_prefix = prefix;
    extra_cb = cb;
    extra_arg = arg;
}

static int load_file(struct cfg_opt *tab, const char *file, int missing_ok, char *err,
                     size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        if (missing_ok && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    char line[8192], src[1200];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line, *end;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", file, lineno);
            rc = -1;
            break;
        }
        char *name_end = eq;
        while (name_end > p && isspace((unsigned char)name_end[-1]))
            name_end--;
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        struct cfg_opt *o = find(tab, p, (size_t)(name_end - p));
        if (!o && extra_prefix && !strncmp(p, extra_prefix, strlen(extra_prefix))) {
            char name[256], e2[400];
            snprintf(name, sizeof(name), "%.*s", (int)(name_end - p), p);
            if (extra_cb(name, v, e2, sizeof(e2), extra_arg) < 0) {
                snprintf(err, errlen, "%s:%d: %s", file, lineno, e2);
                rc = -1;
                break;
            }
            continue;
        }
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown setting '%.*s'", file, lineno,
                     (int)(name_end - p), p);
            rc = -1;
            break;
        }
        snprintf(src, sizeof(src), "%s:%d", file, lineno);
        rc = set_value(o, v, src, err, errlen);
    }
    fclose(f);
    return rc;
}

int cfg_parse(struct cfg_opt *tab, int argc, char **argv, const char *usage, char *err,
              size_t errlen)
{
    return cfg_parse_file(tab, argc, argv, usage, NULL, 0, err, errlen);
}

int cfg_parse_file(struct cfg_opt *tab, int argc, char **argv, const char *usage, const char *file,
                   int missing_ok, char *err, size_t errlen)
{
    char src[128];
    for (struct cfg_opt *o = tab; o->name; o++) {
        if (o->type != CFG_STR && (!o->def || !*o->def)) {
            free(o->sval);
            o->sval = xstrdup("");
            o->ival = 0;
        } else if (set_value(o, o->def ? o->def : "", o->name, err, errlen) < 0) {
            return -1; /* a bad default is a programming error; say so */
        }
    }
    if (file && load_file(tab, file, missing_ok, err, errlen) < 0)
        return -1;
    for (struct cfg_opt *o = tab; o->name; o++) {
        env_name(o->name, src, sizeof(src));
        const char *v = getenv(src);
        if (v && set_value(o, v, src, err, errlen) < 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cfg_usage(tab, usage);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        struct cfg_opt *o = find(tab, name, len);
        if (!o) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)len, name);
            return -1;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (o->type == CFG_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
            v = "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            snprintf(err, errlen, "flag '--%s' needs a value", o->name);
            return -1;
        }
        snprintf(src, sizeof(src), "--%s", o->name);
        if (set_value(o, v, src, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void cfg_parse_or_exit(struct cfg_opt *tab, int argc, char **argv, const char *usage)
{
    char err[256];
    int rc = cfg_parse(tab, argc, argv, usage, err, sizeof(err));
    if (rc == 1) {
        cfg_free(tab);
        exit(0);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        cfg_free(tab);
        exit(2);
    }
}

const char *cfg_subcommand_or_exit(struct cfg_opt *tab, int argc, char **argv, const char *usage)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "%s\n", usage);
        exit(2);
    }
    const char *cmd = argv[1];
    argv[1] = argv[0];
    cfg_parse_or_exit(tab, argc - 1, argv + 1, usage);
    return cmd;
}

int cfg_set(struct cfg_opt *tab, const char *name, const char *value, char *err, size_t errlen)
{
    struct cfg_opt *o = find(tab, name, strlen(name));
    if (!o) {
        snprintf(err, errlen, "unknown setting '%s'", name);
        return -1;
    }
    return set_value(o, value, name, err, errlen);
}

static const struct cfg_opt *must(const struct cfg_opt *tab, const char *name)
{
    const struct cfg_opt *o = find(tab, name, strlen(name));
    if (!o) {
        fprintf(stderr, "fatal: no configuration option '%s'\n", name);
        abort();
    }
    return o;
}

const char *cfg_str(const struct cfg_opt *tab, const char *name)
{
    const struct cfg_opt *o = must(tab, name);
    return o->sval ? o->sval : "";
}

long long cfg_int(const struct cfg_opt *tab, const char *name)
{
    return must(tab, name)->ival;
}

void cfg_usage(const struct cfg_opt *tab, const char *usage)
{
    char env[128];
    printf("%s\n\nOptions (flag / environment, default):\n", usage);
    for (const struct cfg_opt *o = tab; o->name; o++) {
        env_name(o->name, env, sizeof(env));
        const char *t = o->type == CFG_INT ? "N" : o->type == CFG_BOOL ? "BOOL" : "STR";
        printf("  --%-22s %-4s %s", o->name, t, o->help ? o->help : "");
        if (o->type == CFG_INT)
            printf(" [%lld..%lld]", o->min, o->max);
        printf("\n  %-27s      env %s, default '%s'\n", "", env, o->def ? o->def : "");
    }
    printf("  --%-22s      show this help\n", "help");
}

void cfg_free(struct cfg_opt *tab)
{
    for (struct cfg_opt *o = tab; o->name; o++) {
        free(o->sval);
        o->sval = NULL;
    }
}
