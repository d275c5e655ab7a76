/* gw_msg.c -- Parsing and validation of client messages (no connection,
 * no Redis): what gw_route acts on, and what the fuzzer and unit tests
 * exercise. */
#include "gw_msg.h"
#include "ids.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void gw_msg_free(struct gw_msg *m)
{
    json_decref(m->root);
    free(m->payload);
    memset(m, 0, sizeof(*m));
}

static int parse_callback(struct gw_msg *m, size_t max_callback, const char **code,
                          const char **why)
{
    json_t *msg = m->root;
    const char *cbid = json_string_value(json_object_get(msg, "callback_id"));
    if (!cbid || !id_callback_valid(cbid)) {
        *code = "invalid_callback_id";
        *why = "async_callback needs a valid 'callback_id'";
        return -1;
    }
    m->callback_id = cbid;
    /* Forms: success {"content":"..."}; failure {"error":{"type","message"}} or
     * {"status":"failure"}; heartbeat {"heartbeat":true} or {"status":"heartbeat"}. */
    const char *status = json_string_value(json_object_get(msg, "status"));
    json_t *err = json_object_get(msg, "error");
    m->kind = "succeed";
    if (json_is_true(json_object_get(msg, "heartbeat")) || (status && !strcmp(status, "heartbeat")))
        m->kind = "heartbeat";
    else if (err || (status && (!strcmp(status, "failure") || !strcmp(status, "failed"))))
        m->kind = "fail";
    else if (status && strcmp(status, "success") && strcmp(status, "succeeded")) {
        *code = "invalid_status";
        *why = "status must be success, failure or heartbeat";
        return -1;
    }
    if (!strcmp(m->kind, "succeed")) {
        json_t *content = json_object_get(msg, "content");
        if (json_is_string(content)) {
            m->payload_len = json_string_length(content);
            m->payload = xstrndup(json_string_value(content), m->payload_len);
        } else if (json_is_null(content)) {
            *code = "invalid_content";
            *why = "'content' is null: send the answer as a string (or a JSON value)";
            return -1;
        } else if (content) {
            m->payload = json_dumps(content, JSON_COMPACT | JSON_ENCODE_ANY);
            m->payload_len = strlen(m->payload);
        } else {
            *code = "invalid_content";
            *why = "async_callback needs 'content'";
            return -1;
        }
    } else if (!strcmp(m->kind, "fail")) {
        json_t *e = err ? json_deep_copy(err) : json_object();
        if (!json_is_object(e)) {
            json_decref(e);
            const char *text = json_string_value(err);
            e = json_pack("{s:s}", "message", text ? text : "");
        }
        m->payload = json_dumps(e, JSON_COMPACT);
        m->payload_len = strlen(m->payload);
        json_decref(e);
    } else {
        m->payload = xstrdup("");
    }
    if (m->payload_len > max_callback) {
        *code = "content_too_large";
        *why = "callback content larger than the limit";
        return -1;
    }
    return 0;
}

int gw_msg_parse(const char *data, size_t len, const char *session, size_t max_prompt,
                 size_t max_callback, struct gw_msg *m, const char **code, const char **why)
{
    json_error_t jerr;
    memset(m, 0, sizeof(*m));
    m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(m->root)) {
        *code = "invalid_json";
        *why = m->root ? "the message must be a JSON object" : "the message is not valid JSON";
        return -1;
    }
    const char *action = json_string_value(json_object_get(m->root, "action"));
    if (!action) {
        *code = "unknown_action";
        *why = "the message needs an 'action'";
        return -1;
    }
    if (!strcmp(action, "ping")) {
        m->action = GW_ACT_PING;
        return 0;
    }
    if (!strcmp(action, "async_callback")) {
        m->action = GW_ACT_CALLBACK;
        return parse_callback(m, max_callback, code, why);
    }
    if (strcmp(action, "chat") != 0) {
        *code = "unknown_action";
        *why = "unknown action (use chat, async_callback or ping)";
        return -1;
    }
    m->action = GW_ACT_CHAT;
    json_t *sidv = json_object_get(m->root, "session_id");
    const char *sid = json_string_value(sidv);
    if (sidv && (!sid || strcmp(sid, session) != 0)) {
        *code = "forbidden_session";
        *why = "this connection belongs to another session_id";
        return -1;
    }
    json_t *jp = json_object_get(m->root, "prompt");
    m->prompt = json_string_value(jp);
    m->prompt_len = json_string_length(jp);
    if (!m->prompt || m->prompt_len == 0) {
        *code = "invalid_prompt";
        *why = "chat needs a non-empty string 'prompt'";
        return -1;
    }
    if (m->prompt_len > max_prompt) {
        *code = "prompt_too_large";
        *why = "the prompt is larger than the limit";
        return -1;
    }
    return 0;
}
