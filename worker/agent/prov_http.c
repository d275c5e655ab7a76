/* prov_http.c -- Real model providers over libcurl: the Anthropic Messages
 * API, OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, llama.cpp)
 * and Amazon Bedrock's Converse API signed with SigV4 by libcurl. Each turns
 * the agent's transcript into its wire format with the three tools, and the
 * reply into a decision (tool uses or a final answer). */
#include "evstream.h"
#include "log.h"
#include "provider.h"
#include "sigv4.h"
#include "tooldef.h"
#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { P_ANTHROPIC, P_OPENAI, P_BEDROCK };

struct http_prov {
    struct provider pub;
    enum kind kind;
    char *url, *model, *key, *secret, *session_token, *region;
    long timeout_ms;
};

const char *provider_system_prompt(void)
{
    return "You are a VPN support assistant for the user of this desktop computer. You can act "
           "on their computer only through the tools: run_client_command (connect_vpn or "
           "disconnect_vpn), get_vpn_status (query vpn_status) and analyze_logs (log_type vpn, "
           "network or system). Use a tool when the user asks for an action or when live status "
           "or logs would answer the question. When logs come back, analyze them and give "
           "concrete findings (authentication, certificates, DNS, MTU, routes, timeouts) and "
           "recommendations. A user message that starts with " TOOLDEF_REPORT_PREFIX " is the "
           "desktop client's automatic report that an action failed or was declined: explain it "
           "to the user and do not retry unless they ask. Be brief and clear.";
}

/* ---- HTTP ----------------------------------------------------------------- */

/* A streamed reply being assembled: SSE lines (Anthropic, OpenAI) or AWS
 * event-stream messages (Bedrock ConverseStream). */
struct stream {
    enum kind kind;
    char *buf;
    size_t len;
    char *text;    /* the answer so far */
    json_t *tools; /* [{id, name, json}] by block index */
    long in_tokens, out_tokens;
    char err[200];
    int events;
    struct prov_status *st;
};

struct body {
    char *p;
    size_t len;
    struct stream *s;
};

static void stream_text(struct stream *s, const char *t, size_t n)
{
    if (!n)
        return;
    size_t cur = s->text ? strlen(s->text) : 0;
    s->text = xrealloc(s->text, cur + n + 1);
    memcpy(s->text + cur, t, n);
    s->text[cur + n] = '\0';
    if (s->st->on_delta)
        s->st->on_delta(t, n, s->st->delta_arg);
}

/* The tool accumulator for block/choice index i. */
static json_t *stream_tool(struct stream *s, size_t i)
{
    while (json_array_size(s->tools) <= i)
        json_array_append_new(s->tools, json_null());
    json_t *t = json_array_get(s->tools, i);
    if (!json_is_object(t)) {
        t = json_pack("{s:s, s:s, s:s}", "id", "", "name", "", "json", "");
        json_array_set_new(s->tools, i, t);
    }
    return t;
}

static void append_json(json_t *tool, const char *part)
{
    const char *cur = json_string_value(json_object_get(tool, "json"));
    char *j = xasprintf("%s%s", cur ? cur : "", part ? part : "");
    json_object_set_new(tool, "json", json_string(j));
    free(j);
}

static void set_str(json_t *tool, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(tool, k, json_string(v));
}

/* One event of a stream (parsed JSON). */
static void stream_event(struct stream *s, const char *etype, json_t *e)
{
    s->events++;
    if (s->kind == P_ANTHROPIC) {
        const char *type = json_string_value(json_object_get(e, "type"));
        size_t idx = (size_t)json_integer_value(json_object_get(e, "index"));
        if (!type)
            return;
        if (!strcmp(type, "message_start")) {
            json_t *u = json_object_get(json_object_get(e, "message"), "usage");
            s->in_tokens = (long)json_integer_value(json_object_get(u, "input_tokens"));
        } else if (!strcmp(type, "content_block_start")) {
            json_t *b = json_object_get(e, "content_block");
            const char *bt = json_string_value(json_object_get(b, "type"));
            if (bt && !strcmp(bt, "tool_use")) {
                json_t *t = stream_tool(s, idx);
                set_str(t, "id", json_string_value(json_object_get(b, "id")));
                set_str(t, "name", json_string_value(json_object_get(b, "name")));
            }
        } else if (!strcmp(type, "content_block_delta")) {
            json_t *d = json_object_get(e, "delta");
            const char *dt = json_string_value(json_object_get(d, "type"));
            if (dt && !strcmp(dt, "text_delta")) {
                json_t *tx = json_object_get(d, "text");
                stream_text(s, json_string_value(tx), json_string_length(tx));
            } else if (dt && !strcmp(dt, "input_json_delta")) {
                append_json(stream_tool(s, idx),
                            json_string_value(json_object_get(d, "partial_json")));
            }
        } else if (!strcmp(type, "message_delta")) {
            json_t *u = json_object_get(e, "usage");
            s->out_tokens = (long)json_integer_value(json_object_get(u, "output_tokens"));
        } else if (!strcmp(type, "error")) {
            const char *m =
                json_string_value(json_object_get(json_object_get(e, "error"), "message"));
            snprintf(s->err, sizeof(s->err), "%s", m ? m : "stream error");
        }
    } else if (s->kind == P_OPENAI) {
        json_t *u = json_object_get(e, "usage");
        if (json_is_object(u)) {
            s->in_tokens = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
            s->out_tokens = (long)json_integer_value(json_object_get(u, "completion_tokens"));
        }
        json_t *d = json_object_get(json_array_get(json_object_get(e, "choices"), 0), "delta");
        json_t *c = json_object_get(d, "content");
        if (json_is_string(c))
            stream_text(s, json_string_value(c), json_string_length(c));
        size_t i;
        json_t *tc;
        json_array_foreach(json_object_get(d, "tool_calls"), i, tc)
        {
            json_t *t = stream_tool(s, (size_t)json_integer_value(json_object_get(tc, "index")));
            json_t *fn = json_object_get(tc, "function");
            set_str(t, "id", json_string_value(json_object_get(tc, "id")));
            set_str(t, "name", json_string_value(json_object_get(fn, "name")));
            append_json(t, json_string_value(json_object_get(fn, "arguments")));
        }
    } else {
        size_t idx = (size_t)json_integer_value(json_object_get(e, "contentBlockIndex"));
        if (etype && !strcmp(etype, "contentBlockStart")) {
            json_t *tu = json_object_get(json_object_get(e, "start"), "toolUse");
            if (tu) {
                json_t *t = stream_tool(s, idx);
                set_str(t, "id", json_string_value(json_object_get(tu, "toolUseId")));
                set_str(t, "name", json_string_value(json_object_get(tu, "name")));
            }
        } else if (etype && !strcmp(etype, "contentBlockDelta")) {
            json_t *d = json_object_get(e, "delta");
            json_t *tx = json_object_get(d, "text");
            if (json_is_string(tx))
                stream_text(s, json_string_value(tx), json_string_length(tx));
            json_t *tu = json_object_get(d, "toolUse");
            if (tu)
                append_json(stream_tool(s, idx), json_string_value(json_object_get(tu, "input")));
        } else if (etype && !strcmp(etype, "metadata")) {
            json_t *u = json_object_get(e, "usage");
            s->in_tokens = (long)json_integer_value(json_object_get(u, "inputTokens"));
            s->out_tokens = (long)json_integer_value(json_object_get(u, "outputTokens"));
        } else if (etype && strstr(etype, "Exception")) {
            const char *m = json_string_value(json_object_get(e, "message"));
            snprintf(s->err, sizeof(s->err), "%s: %s", etype, m ? m : "");
        }
    }
}

/* Consumes what it can of s->buf. */
static void stream_feed(struct stream *s)
{
    size_t off = 0;
    if (s->kind == P_BEDROCK) {
        for (;;) {
            struct evs_msg m;
            ssize_t n = evs_parse((const unsigned char *)s->buf + off, s->len - off, &m);
            if (n == -2)
                break;
            if (n < 0) {
                /* the framing is lost: nothing after this can be read */
                if (!s->err[0])
                    snprintf(s->err, sizeof(s->err), "malformed event stream from the model");
                off = s->len;
                break;
            }
            char etype[64];
            snprintf(etype, sizeof(etype), "%.*s", (int)m.type_len, m.type ? m.type : "");
            json_t *e = json_loadb(m.payload, m.payload_len, 0, NULL);
            if (e)
                stream_event(s, etype, e);
            json_decref(e);
            off += (size_t)n;
        }
    } else {
        for (;;) {
            char *nl = memchr(s->buf + off, '\n', s->len - off);
            if (!nl)
                break;
            size_t ll = (size_t)(nl - (s->buf + off));
            char *line = s->buf + off;
            if (ll > 6 && !strncmp(line, "data: ", 6) && strncmp(line + 6, "[DONE]", 6) != 0) {
                json_t *e = json_loadb(line + 6, ll - 6 - (line[ll - 1] == '\r'), 0, NULL);
                if (e)
                    stream_event(s, NULL, e);
                json_decref(e);
            }
            off += ll + 1;
        }
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
}

/* The streamed reply as the non-streamed reply of the same provider. */
static json_t *stream_reply(struct stream *s)
{
    json_t *blocks = json_array(), *t;
    size_t i;
    const char *text = s->text ? s->text : "";
    json_array_foreach(s->tools, i, t)
    {
        if (!json_is_object(t))
            continue;
        json_t *args = json_loads(json_string_value(json_object_get(t, "json")), 0, NULL);
        if (!json_is_object(args)) {
            json_decref(args);
            args = json_object();
        }
        if (s->kind == P_ANTHROPIC)
            json_array_append_new(blocks, json_pack("{s:s, s:O, s:O, s:o}", "type", "tool_use",
                                                    "id", json_object_get(t, "id"), "name",
                                                    json_object_get(t, "name"), "input", args));
        else if (s->kind == P_BEDROCK)
            json_array_append_new(blocks, json_pack("{s:{s:O, s:O, s:o}}", "toolUse", "toolUseId",
                                                    json_object_get(t, "id"), "name",
                                                    json_object_get(t, "name"), "input", args));
        else {
            char *a = json_dumps(args, JSON_COMPACT);
            json_decref(args);
            json_array_append_new(blocks, json_pack("{s:O, s:s, s:{s:O, s:s}}", "id",
                                                    json_object_get(t, "id"), "type", "function",
                                                    "function", "name", json_object_get(t, "name"),
                                                    "arguments", a));
            free(a);
        }
    }
    if (s->kind == P_ANTHROPIC) {
        if (*text)
            json_array_insert_new(blocks, 0, json_pack("{s:s, s:s}", "type", "text", "text", text));
        return json_pack("{s:o, s:{s:i, s:i}}", "content", blocks, "usage", "input_tokens",
                         (int)s->in_tokens, "output_tokens", (int)s->out_tokens);
    }
    if (s->kind == P_BEDROCK) {
        if (*text)
            json_array_insert_new(blocks, 0, json_pack("{s:s}", "text", text));
        return json_pack("{s:{s:{s:o}}, s:{s:i, s:i}}", "output", "message", "content", blocks,
                         "usage", "inputTokens", (int)s->in_tokens, "outputTokens",
                         (int)s->out_tokens);
    }
    json_t *msg = json_pack("{s:s}", "content", text);
    if (json_array_size(blocks))
        json_object_set_new(msg, "tool_calls", blocks);
    else
        json_decref(blocks);
    return json_pack("{s:[{s:o}], s:{s:i, s:i}}", "choices", "message", msg, "usage",
                     "prompt_tokens", (int)s->in_tokens, "completion_tokens", (int)s->out_tokens);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t add = size * n;
    if (b->s) {
        struct stream *s = b->s;
        if (s->len + add > 8 * 1024 * 1024)
            return 0;
        s->buf = xrealloc(s->buf, s->len + add + 1);
        memcpy(s->buf + s->len, ptr, add);
        s->len += add;
        stream_feed(s);
    }
    if (b->len + add > 8 * 1024 * 1024)
        return 0; /* refuse absurd replies */
    /* the raw body is kept too: an error reply is not a stream */
    b->p = xrealloc(b->p, b->len + add + 1);
    memcpy(b->p + b->len, ptr, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *arg)
{
    int64_t *retry_after = arg;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(ptr, "retry-after:", 12))
        *retry_after = atoll(ptr + 12) * 1000;
    return len;
}

/* POSTs body; fills *status and the reply. Returns 0, or -1 on a transport
 * error (st filled, retryable). */
static int post(const struct http_prov *p, const char *url, struct curl_slist *headers,
                const char *body, long *status, struct body *reply, struct prov_status *st)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(st->err, sizeof(st->err), "cannot create an HTTP client");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st->retry_after_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(st->err, sizeof(st->err), "%s: %s", p->pub.name, curl_easy_strerror(rc));
        st->retryable = 1;
        return -1;
    }
    return 0;
}

/* ---- the transcript in each wire format ----------------------------------- */

static json_t *tool_list(enum kind k)
{
    json_t *specs = tooldef_specs(), *out = json_array(), *s;
    size_t i;
    json_array_foreach(specs, i, s)
    {
        json_t *name = json_object_get(s, "name"), *desc = json_object_get(s, "description"),
               *schema = json_object_get(s, "input_schema");
        if (k == P_ANTHROPIC)
            json_array_append(out, s);
        else if (k == P_OPENAI)
            json_array_append_new(out, json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "function",
                                                 "function", "name", name, "description", desc,
                                                 "parameters", schema));
        else
            json_array_append_new(out,
                                  json_pack("{s:{s:O, s:O, s:{s:O}}}", "toolSpec", "name", name,
                                            "description", desc, "inputSchema", "json", schema));
    }
    json_decref(specs);
    return out;
}

/* The text a tool result gives the model: the MCP result's text. */
static const char *result_text(const json_t *entry)
{
    const char *r = json_string_value(json_object_get(entry, "result"));
    return r ? r : "";
}

static json_t *tool_args(const json_t *entry)
{
    json_t *a = json_deep_copy(json_object_get(entry, "arguments"));
    if (!json_is_object(a)) {
        json_decref(a);
        a = json_object();
    }
    json_object_del(a, "session_id"); /* the agent's, not the model's */
    return a;
}

static json_t *messages(enum kind k, const json_t *transcript)
{
    json_t *msgs = json_array();
    if (k == P_OPENAI)
        json_array_append_new(
            msgs, json_pack("{s:s, s:s}", "role", "system", "content", provider_system_prompt()));
    size_t n = json_array_size(transcript);
    for (size_t i = 0; i < n;) {
        const json_t *e = json_array_get(transcript, i);
        const char *role = json_string_value(json_object_get(e, "role"));
        if (role && !strcmp(role, "user")) {
            const char *text = json_string_value(json_object_get(e, "text"));
            if (k == P_BEDROCK)
                json_array_append_new(msgs, json_pack("{s:s, s:[{s:s}]}", "role", "user", "content",
                                                      "text", text ? text : ""));
            else
                json_array_append_new(
                    msgs, json_pack("{s:s, s:s}", "role", "user", "content", text ? text : ""));
            i++;
            continue;
        }
        if (role && !strcmp(role, "assistant")) { /* an earlier turn's answer */
            const char *text = json_string_value(json_object_get(e, "text"));
            if (k == P_BEDROCK)
                json_array_append_new(msgs, json_pack("{s:s, s:[{s:s}]}", "role", "assistant",
                                                      "content", "text", text ? text : ""));
            else
                json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content",
                                                      text ? text : ""));
            i++;
            continue;
        }
        /* a model turn's tool uses, then their results */
        json_int_t round = json_integer_value(json_object_get(e, "round"));
        size_t j = i;
        json_t *uses = json_array(), *results = json_array();
        for (; j < n; j++) {
            const json_t *t = json_array_get(transcript, j);
            const char *r = json_string_value(json_object_get(t, "role"));
            if (!r || strcmp(r, "tool") || json_integer_value(json_object_get(t, "round")) != round)
                break;
            const char *id = json_string_value(json_object_get(t, "id"));
            const char *name = json_string_value(json_object_get(t, "name"));
            json_t *args = tool_args(t);
            if (k == P_ANTHROPIC) {
                json_array_append_new(uses, json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use",
                                                      "id", id ? id : "", "name", name ? name : "",
                                                      "input", args));
                json_array_append_new(results, json_pack("{s:s, s:s, s:s}", "type", "tool_result",
                                                         "tool_use_id", id ? id : "", "content",
                                                         result_text(t)));
            } else if (k == P_OPENAI) {
                char *a = json_dumps(args, JSON_COMPACT);
                json_array_append_new(uses, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id",
                                                      id ? id : "", "type", "function", "function",
                                                      "name", name ? name : "", "arguments", a));
                free(a);
                json_decref(args);
                json_array_append_new(results,
                                      json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
                                                id ? id : "", "content", result_text(t)));
            } else {
                json_array_append_new(uses, json_pack("{s:{s:s, s:s, s:o}}", "toolUse", "toolUseId",
                                                      id ? id : "", "name", name ? name : "",
                                                      "input", args));
                json_array_append_new(results,
                                      json_pack("{s:{s:s, s:[{s:s}]}}", "toolResult", "toolUseId",
                                                id ? id : "", "content", "text", result_text(t)));
            }
        }
        if (k == P_OPENAI) {
            json_array_append_new(msgs, json_pack("{s:s, s:n, s:o}", "role", "assistant", "content",
                                                  "tool_calls", uses));
            json_array_extend(msgs, results);
            json_decref(results);
        } else {
            json_array_append_new(msgs,
                                  json_pack("{s:s, s:o}", "role", "assistant", "content", uses));
            json_array_append_new(msgs,
                                  json_pack("{s:s, s:o}", "role", "user", "content", results));
        }
        i = j > i ? j : i + 1;
    }
    return msgs;
}

/* ---- replies into decisions ------------------------------------------------ */

static json_t *decision_from(enum kind k, json_t *reply, struct prov_status *st)
{
    json_t *tools = json_array();
    char *text = xstrdup("");
    json_t *blocks = NULL;
    if (k == P_ANTHROPIC) {
        blocks = json_object_get(reply, "content");
        json_t *u = json_object_get(reply, "usage");
        st->input_tokens = (long)json_integer_value(json_object_get(u, "input_tokens"));
        st->output_tokens = (long)json_integer_value(json_object_get(u, "output_tokens"));
    } else if (k == P_BEDROCK) {
        blocks = json_object_get(json_object_get(json_object_get(reply, "output"), "message"),
                                 "content");
        json_t *u = json_object_get(reply, "usage");
        st->input_tokens = (long)json_integer_value(json_object_get(u, "inputTokens"));
        st->output_tokens = (long)json_integer_value(json_object_get(u, "outputTokens"));
    }
    size_t i;
    json_t *b;
    if (k == P_OPENAI) {
        json_t *msg =
            json_object_get(json_array_get(json_object_get(reply, "choices"), 0), "message");
        json_t *u = json_object_get(reply, "usage");
        st->input_tokens = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
        st->output_tokens = (long)json_integer_value(json_object_get(u, "completion_tokens"));
        const char *c = json_string_value(json_object_get(msg, "content"));
        free(text);
        text = xstrdup(c ? c : "");
        json_array_foreach(json_object_get(msg, "tool_calls"), i, b)
        {
            json_t *fn = json_object_get(b, "function");
            const char *a = json_string_value(json_object_get(fn, "arguments"));
            json_t *args = a ? json_loads(a, 0, NULL) : NULL;
            json_array_append_new(tools,
                                  json_pack("{s:O?, s:O?, s:o}", "id", json_object_get(b, "id"),
                                            "name", json_object_get(fn, "name"), "arguments",
                                            json_is_object(args) ? args : json_object()));
            if (!json_is_object(args))
                json_decref(args);
        }
        if (!json_is_object(msg)) {
            json_decref(tools);
            free(text);
            return NULL;
        }
    } else {
        if (!json_is_array(blocks)) {
            json_decref(tools);
            free(text);
            return NULL;
        }
        json_array_foreach(blocks, i, b)
        {
            const char *t = json_string_value(json_object_get(b, "text"));
            const char *type = json_string_value(json_object_get(b, "type"));
            if (t && (k == P_BEDROCK || (type && !strcmp(type, "text")))) {
                char *joined = xasprintf("%s%s", text, t);
                free(text);
                text = joined;
            }
            json_t *use = k == P_BEDROCK                        ? json_object_get(b, "toolUse")
                          : (type && !strcmp(type, "tool_use")) ? b
                                                                : NULL;
            if (use)
                json_array_append_new(
                    tools, json_pack("{s:O?, s:O?, s:O?}", "id",
                                     json_object_get(use, k == P_BEDROCK ? "toolUseId" : "id"),
                                     "name", json_object_get(use, "name"), "arguments",
                                     json_object_get(use, "input")));
        }
    }
    json_t *d;
    if (json_array_size(tools))
        d = json_pack("{s:s, s:o}", "type", "tool_use", "tools", tools);
    else {
        d = json_pack("{s:s, s:s}", "type", "final", "text", text);
        json_decref(tools);
    }
    free(text);
    return d;
}

static char *http_next(const json_t *transcript, struct prov_status *st, void *arg)
{
    struct http_prov *p = arg;
    json_t *req;
    json_t *tools = tool_list(p->kind), *msgs = messages(p->kind, transcript);
    if (p->kind == P_ANTHROPIC)
        req = json_pack("{s:s, s:i, s:s, s:o, s:o}", "model", p->model, "max_tokens", 2048,
                        "system", provider_system_prompt(), "tools", tools, "messages", msgs);
    else if (p->kind == P_OPENAI)
        req = json_pack("{s:s, s:o, s:o}", "model", p->model, "tools", tools, "messages", msgs);
    else
        req = json_pack("{s:[{s:s}], s:o, s:{s:o}, s:{s:i}}", "system", "text",
                        provider_system_prompt(), "messages", msgs, "toolConfig", "tools", tools,
                        "inferenceConfig", "maxTokens", 2048);
    int streaming = st->on_delta != NULL;
    if (streaming && p->kind == P_ANTHROPIC)
        json_object_set_new(req, "stream", json_true());
    else if (streaming && p->kind == P_OPENAI)
        json_object_set_new(req, "stream", json_true()),
            json_object_set_new(req, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char hdr[4200], url[2048];
    if (p->kind == P_ANTHROPIC) {
        snprintf(hdr, sizeof(hdr), "x-api-key: %s", p->key);
        h = curl_slist_append(h, hdr);
        h = curl_slist_append(h, "anthropic-version: 2023-06-01");
        snprintf(url, sizeof(url), "%s/v1/messages", p->url);
    } else if (p->kind == P_OPENAI) {
        if (p->key[0]) {
            snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", p->key);
            h = curl_slist_append(h, hdr);
        }
        snprintf(url, sizeof(url), "%s/chat/completions", p->url);
    } else {
        char *enc = curl_easy_escape(NULL, p->model, 0);
        snprintf(url, sizeof(url), "%s/model/%s/%s", p->url, enc ? enc : p->model,
                 streaming ? "converse-stream" : "converse");
        curl_free(enc);
        /* signed here, as the AWS SDKs sign (sigv4.h), not by libcurl */
        char host[512], date[17], auth[1024];
        const char *path = sigv4_host_of(url, host, sizeof(host));
        sigv4_amz_date(time(NULL), date);
        struct sigv4_req sr = {"POST", host,         path ? path : "", "application/json",
                               body,   strlen(body), p->region,        "bedrock",
                               p->key, p->secret,    p->session_token, date};
        if (!path || sigv4_authorization(&sr, auth, sizeof(auth)) < 0) {
            snprintf(st->err, sizeof(st->err), "%s: cannot sign the request", p->pub.name);
            curl_slist_free_all(h);
            free(body);
            return NULL;
        }
        snprintf(hdr, sizeof(hdr), "Host: %s", host);
        h = curl_slist_append(h, hdr);
        snprintf(hdr, sizeof(hdr), "X-Amz-Date: %s", date);
        h = curl_slist_append(h, hdr);
        if (p->session_token[0]) {
            snprintf(hdr, sizeof(hdr), "X-Amz-Security-Token: %s", p->session_token);
            h = curl_slist_append(h, hdr);
        }
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        h = curl_slist_append(h, hdr);
    }
    long status = 0;
    struct stream strm = {.kind = p->kind, .tools = json_array(), .st = st};
    struct body reply = {NULL, 0, streaming ? &strm : NULL};
    int rc = post(p, url, h, body, &status, &reply, st);
    curl_slist_free_all(h);
    free(body);
    char *out = NULL;
    if (rc == 0) {
        json_t *j = reply.p ? json_loads(reply.p, 0, NULL) : NULL;
        if (status == 429 || status >= 500) {
            snprintf(st->err, sizeof(st->err), "%s answered HTTP %ld", p->pub.name, status);
            st->retryable = 1;
        } else if (status != 200) {
            const char *m =
                json_string_value(json_object_get(json_object_get(j, "error"), "message"));
            if (!m)
                m = json_string_value(json_object_get(j, "message"));
            snprintf(st->err, sizeof(st->err), "%s refused the request (HTTP %ld)%s%s", p->pub.name,
                     status, m ? ": " : "", m ? m : "");
        } else if (streaming && strm.err[0]) {
            snprintf(st->err, sizeof(st->err), "%s stream: %s", p->pub.name, strm.err);
            st->retryable = 1;
        } else if (streaming && strm.events == 0) {
            snprintf(st->err, sizeof(st->err), "%s sent a reply that is not a %s stream",
                     p->pub.name, p->pub.name);
            st->retryable = 1;
        } else {
            if (streaming) {
                json_decref(j);
                j = stream_reply(&strm);
            }
            json_t *d = j ? decision_from(p->kind, j, st) : NULL;
            if (d) {
                out = json_dumps(d, JSON_COMPACT);
                json_decref(d);
            } else {
                snprintf(st->err, sizeof(st->err), "%s sent a reply that is not %s JSON",
                         p->pub.name, p->pub.name);
                st->retryable = 1;
            }
        }
        json_decref(j);
    }
    free(reply.p);
    free(strm.buf);
    free(strm.text);
    json_decref(strm.tools);
    return out;
}

static char *env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return xstrdup(v && *v ? v : def);
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct provider *provider_new(const char *name, const char *model, long timeout_ms, char *err,
                              size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    err[0] = '\0';
    if (!strcmp(name, "builtin"))
        return NULL;
    struct http_prov *p = xcalloc(1, sizeof(*p));
    p->timeout_ms = timeout_ms;
    p->pub.next = http_next;
    p->pub.arg = p;
    p->secret = xstrdup("");
    p->session_token = xstrdup("");
    p->region = xstrdup("");
    if (!strcmp(name, "anthropic")) {
        p->kind = P_ANTHROPIC;
        p->pub.name = "anthropic";
        p->url = env("ANTHROPIC_BASE_URL", "https://api.anthropic.com");
        p->key = env("ANTHROPIC_API_KEY", "");
        p->model = xstrdup(model[0] ? model : "claude-sonnet-4-20250514");
        if (!p->key[0])
            snprintf(err, errlen, "AA_LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY");
    } else if (!strcmp(name, "openai")) {
        p->kind = P_OPENAI;
        p->pub.name = "openai";
        p->url = env("OPENAI_BASE_URL", "https://api.openai.com/v1");
        p->key = env("OPENAI_API_KEY", ""); /* local servers need none */
        p->model = xstrdup(model[0] ? model : "gpt-4o-mini");
    } else if (!strcmp(name, "bedrock")) {
        p->kind = P_BEDROCK;
        p->pub.name = "bedrock";
        free(p->region);
        p->region = env("AWS_REGION",
                        getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1");
        char def[256];
        snprintf(def, sizeof(def), "https://bedrock-runtime.%s.amazonaws.com", p->region);
        p->url = env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", def);
        p->key = env("AWS_ACCESS_KEY_ID", "");
        free(p->secret);
        p->secret = env("AWS_SECRET_ACCESS_KEY", "");
        free(p->session_token);
        p->session_token = env("AWS_SESSION_TOKEN", "");
        p->model = xstrdup(model[0] ? model : "us.anthropic.claude-sonnet-4-20250514-v1:0");
        if (!p->key[0] || !p->secret[0])
            snprintf(err, errlen,
                     "AA_LLM_PROVIDER=bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    } else {
        snprintf(err, errlen, "unknown provider '%s' (builtin, anthropic, openai, bedrock)", name);
    }
    if (err[0]) {
        provider_free(&p->pub);
        return NULL;
    }
    return &p->pub;
}

void provider_free(struct provider *pub)
{
    if (!pub)
        return;
    struct http_prov *p = (struct http_prov *)pub;
    free(p->url);
    free(p->model);
    free(p->key);
    free(p->secret);
    free(p->session_token);
    free(p->region);
    free(p);
}
