/* tooldef.c -- The catalog: the three built-in tools, the custom entries of
 * a catalog file, their specs and routing. */
#include "tooldef.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CUSTOM 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *custom; /* array of validated entries; guarded by lock */

static const struct tooldef builtins[] = {
    {"run_client_command", "Run a command on the desktop", "",
     "Run a command on the user's desktop client (fire-and-forget).", TOOLDEF_BUILTIN, 0, 1},
    {"get_vpn_status", "Live VPN status", "",
     "Ask the user's desktop client for the live VPN status.", TOOLDEF_BUILTIN, 30000, 0},
    {"analyze_logs", "Collect and analyze logs", "",
     "Collect logs from the user's desktop client for analysis.", TOOLDEF_BUILTIN, 120000, 0},
};

const char *tooldef_route(const json_t *args)
{
    if (!json_is_object(args))
        return "";
    if (json_object_get(args, "command"))
        return "run_client_command";
    const char *q = json_string_value(json_object_get(args, "query"));
    if (q && strcmp(q, "vpn_status") == 0)
        return "get_vpn_status";
    if (json_object_get(args, "log_type"))
        return "analyze_logs";
    return "";
}

static json_t *builtin_specs(void)
{
    return json_pack(
        "[{s:s, s:s, s:{s:s, s:{s:{s:s, s:[s,s]}}, s:[s]}},"
        " {s:s, s:s, s:{s:s, s:{s:{s:s, s:[s]}}, s:[s]}},"
        " {s:s, s:s, s:{s:s, s:{s:{s:s, s:[s,s,s]}}, s:[s]}}]",
        "name", "run_client_command", "description", builtins[0].description, "input_schema",
        "type", "object", "properties", "command", "type", "string", "enum", "connect_vpn",
        "disconnect_vpn", "required", "command", "name", "get_vpn_status", "description",
        builtins[1].description, "input_schema", "type", "object", "properties", "query", "type",
        "string", "enum", "vpn_status", "required", "query", "name", "analyze_logs", "description",
        builtins[2].description, "input_schema", "type", "object", "properties", "log_type", "type",
        "string", "enum", "vpn", "network", "system", "required", "log_type");
}

json_t *tooldef_specs(void)
{
    json_t *out = builtin_specs(), *e;
    size_t i;
    pthread_mutex_lock(&lock);
    json_array_foreach(custom, i, e)
    {
        json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "name", json_object_get(e, "name"),
                                             "description", json_object_get(e, "description"),
                                             "input_schema", json_object_get(e, "input_schema")));
    }
    pthread_mutex_unlock(&lock);
    return out;
}

static void fill(const json_t *e, struct tooldef *out)
{
    memset(out, 0, sizeof(*out));
    strlcpy_aa(out->name, json_string_value(json_object_get(e, "name")), sizeof(out->name));
    strlcpy_aa(out->title, json_string_value(json_object_get(e, "title")), sizeof(out->title));
    strlcpy_aa(out->description, json_string_value(json_object_get(e, "description")),
               sizeof(out->description));
    strlcpy_aa(out->client_action, json_string_value(json_object_get(e, "client_action")),
               sizeof(out->client_action));
    const char *mode = json_string_value(json_object_get(e, "mode"));
    out->mode = !strcmp(mode, "push") ? TOOLDEF_PUSH : TOOLDEF_CALLBACK;
    out->timeout_ms = json_integer_value(json_object_get(e, "timeout_ms"));
    out->changes = json_is_true(json_object_get(e, "changes_machine"));
}

int tooldef_find(const char *name, struct tooldef *out)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (!strcmp(builtins[i].name, name)) {
            *out = builtins[i];
            return 0;
        }
    }
    int rc = -1;
    json_t *e;
    size_t i;
    pthread_mutex_lock(&lock);
    json_array_foreach(custom, i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "name")), name)) {
            fill(e, out);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int name_ok(const char *s, size_t max, const char *extra)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              (extra && strchr(extra, c))))
            return 0;
    }
    return 1;
}

/* One entry checked and completed with its defaults. Returns: owned, or
 * NULL with err filled. */
static json_t *entry(const json_t *e, size_t idx, const json_t *seen, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!json_is_object(e) || !name_ok(name, 63, NULL)) {
        snprintf(err, errlen, "entry %zu: \"name\" must be 1-63 of a-z 0-9 _", idx);
        return NULL;
    }
    struct tooldef d;
    if (tooldef_find(name, &d) == 0 && d.mode == TOOLDEF_BUILTIN) {
        snprintf(err, errlen, "entry %zu: %s is a built-in tool", idx, name);
        return NULL;
    }
    size_t k;
    json_t *s;
    json_array_foreach(seen, k, s)
    {
        if (!strcmp(json_string_value(json_object_get(s, "name")), name)) {
            snprintf(err, errlen, "entry %zu: %s is listed twice", idx, name);
            return NULL;
        }
    }
    static const char *const known[] = {"name",         "title",           "description",
                                        "input_schema", "client_action",   "mode",
                                        "timeout_ms",   "changes_machine", NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)e, key, v)
    {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(known[i], key);
        if (!ok) {
            snprintf(err, errlen, "%s: unknown field \"%.40s\"", name, key);
            return NULL;
        }
    }
    const char *desc = json_string_value(json_object_get(e, "description"));
    if (!desc || !desc[0] || strlen(desc) > 500) {
        snprintf(err, errlen, "%s: \"description\" (1-500 characters) tells the model what it does",
                 name);
        return NULL;
    }
    const char *title = json_string_value(json_object_get(e, "title"));
    if (json_object_get(e, "title") && (!title || strlen(title) > 90)) {
        snprintf(err, errlen, "%s: \"title\" must be a string of at most 90 characters", name);
        return NULL;
    }
    const char *ca = json_string_value(json_object_get(e, "client_action"));
    if (json_object_get(e, "client_action") && !name_ok(ca, 31, "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")) {
        snprintf(err, errlen, "%s: \"client_action\" must be 1-31 of A-Z a-z 0-9 _ . -", name);
        return NULL;
    }
    const char *mode = json_string_value(json_object_get(e, "mode"));
    if (!mode || (strcmp(mode, "push") && strcmp(mode, "callback"))) {
        snprintf(err, errlen, "%s: \"mode\" must be \"push\" or \"callback\"", name);
        return NULL;
    }
    json_t *tmo = json_object_get(e, "timeout_ms");
    if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 100 ||
                json_integer_value(tmo) > 86400000)) {
        snprintf(err, errlen, "%s: \"timeout_ms\" must be an integer in [100, 86400000]", name);
        return NULL;
    }
    json_t *ch = json_object_get(e, "changes_machine");
    if (ch && !json_is_boolean(ch)) {
        snprintf(err, errlen, "%s: \"changes_machine\" must be true or false", name);
        return NULL;
    }
    json_t *schema = json_object_get(e, "input_schema");
    if (schema && (!json_is_object(schema) ||
                   strcmp(json_string_value(json_object_get(schema, "type")) ?: "", "object"))) {
        snprintf(err, errlen,
                 "%s: \"input_schema\" must be an object schema ({\"type\":\"object\"})", name);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:b}", "name", name, "title",
                     title ? title : name, "description", desc, "input_schema",
                     schema ? json_incref(schema)
                            : json_pack("{s:s, s:{}}", "type", "object", "properties"),
                     "client_action", ca ? ca : name, "mode", mode, "timeout_ms",
                     (json_int_t)(tmo ? json_integer_value(tmo) : 30000), "changes_machine",
                     ch ? json_is_true(ch) : 1);
}

static int load(json_t *doc, char *err, size_t errlen)
{
    if (!json_is_array(doc)) {
        snprintf(err, errlen, "the catalog must be a JSON array of tools");
        json_decref(doc);
        return -1;
    }
    if (json_array_size(doc) > MAX_CUSTOM) {
        snprintf(err, errlen, "at most %d tools in a catalog", MAX_CUSTOM);
        json_decref(doc);
        return -1;
    }
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(doc, i, e)
    {
        json_t *ok = entry(e, i, out, err, errlen);
        if (!ok) {
            json_decref(out);
            json_decref(doc);
            return -1;
        }
        json_array_append_new(out, ok);
    }
    json_decref(doc);
    pthread_mutex_lock(&lock);
    json_t *old = custom;
    custom = out;
    pthread_mutex_unlock(&lock);
    json_decref(old);
    return 0;
}

int tooldef_load_file(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    char e2[300];
    if (load(doc, e2, sizeof(e2)) < 0) {
        snprintf(err, errlen, "%s: %s", path, e2);
        return -1;
    }
    return 0;
}

int tooldef_load_json(const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "%s", je.text);
        return -1;
    }
    return load(doc, err, errlen);
}

void tooldef_follow(const char *text)
{
    static char *last; /* guarded by follow_lock */
    static pthread_mutex_t follow_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&follow_lock);
    if (!last || strcmp(last, text) != 0) {
        char err[300];
        if (tooldef_load_json(text, err, sizeof(err)) < 0)
            log_warn("event=tool_catalog_unreadable key=%s err=\"%s\"", TOOLDEF_KEY, err);
        else
            log_info("event=tool_catalog tools=%zu", tooldef_count());
        free(last);
        last = xstrdup(text);
    }
    pthread_mutex_unlock(&follow_lock);
}

char *tooldef_catalog_json(void)
{
    pthread_mutex_lock(&lock);
    char *s = custom ? json_dumps(custom, JSON_COMPACT) : xstrdup("[]");
    pthread_mutex_unlock(&lock);
    return s;
}

size_t tooldef_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = sizeof(builtins) / sizeof(builtins[0]) + json_array_size(custom);
    pthread_mutex_unlock(&lock);
    return n;
}
