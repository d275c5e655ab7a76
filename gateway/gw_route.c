/* gw_route.c -- Client messages: chat turns go to the agent stream through
 * lua/chat.lua; async_callback answers go to lua/cb_complete.lua, which
 * checks atomically that the callback belongs to this connection's session. */
#include "gw_route.h"
#include "dur.h"
#include "ids.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reply_ctx {
    struct gw_conn *c;
    char id[64];
    char kind[16];
};

static void on_chat(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct reply_ctx *rc = arg;
    struct gw_conn *c = rc->c;
    if (gw_conn_is_open(c)) {
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            const char *st = r->element[0]->str;
            gw_conn_send_event(c, "chat_accepted",
                               json_pack("{s:s, s:s, s:I}", "turn_id", rc->id, "status", st,
                                         "ahead", (json_int_t)r->element[1]->integer));
        } else {
            log_warn("event=chat_failed conn=%s err=\"%s\"", gw_conn_id(c),
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
            gw_conn_send_error(c, "unavailable", "the chat could not be queued; try again");
        }
    }
    gw_conn_unref(c);
    free(rc);
}

static void route_chat(struct gw_conn *c, json_t *msg)
{
    struct gw_server *s = gw_conn_server(c);
    json_t *jp = json_object_get(msg, "prompt");
    const char *prompt = json_string_value(jp);
    const char *sid = json_string_value(json_object_get(msg, "session_id"));
    if (json_object_get(msg, "session_id") && (!sid || strcmp(sid, gw_conn_session(c)) != 0)) {
        gw_conn_send_error(c, "forbidden_session", "this connection belongs to another session_id");
        return;
    }
    if (!prompt || json_string_length(jp) == 0) {
        gw_conn_send_error(c, "invalid_prompt", "chat needs a non-empty string 'prompt'");
        return;
    }
    if (json_string_length(jp) > s->cfg.max_prompt) {
        char msgtxt[96];
        snprintf(msgtxt, sizeof(msgtxt), "prompt longer than %zu bytes", s->cfg.max_prompt);
        gw_conn_send_error(c, "prompt_too_large", msgtxt);
        return;
    }
    struct reply_ctx *rc = xcalloc(1, sizeof(*rc));
    char trace[32], key[96], active[192], queue[192], now[24], tmo[24];
    id_random(rc->id, sizeof(rc->id), "turn-", 12);
    id_random(trace, sizeof(trace), "tr-", 8);
    json_t *in = json_pack("{s:s, s:s, s:s}", "session_id", gw_conn_session(c), "prompt", prompt,
                           "trace", trace);
    char *input = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    snprintf(key, sizeof(key), "aa:exec:%s", rc->id);
    snprintf(active, sizeof(active), "aa:session:%s:active", gw_conn_session(c));
    snprintf(queue, sizeof(queue), "aa:session:%s:queue", gw_conn_session(c));
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)s->cfg.turn_timeout_ms);
    const char *args[] = {
        key,   active, queue, s->cfg.agent_stream, rc->id, gw_conn_session(c), input, now,
        trace, "turn", tmo};
    rc->c = c;
    gw_conn_ref(c);
    log_info("event=chat conn=%s session=%s turn=%s trace=%s bytes=%zu", gw_conn_id(c),
             gw_conn_session(c), rc->id, trace, strlen(prompt));
    if (rasync_eval(s->cmd, on_chat, rc, "chat", 4, 11, args, NULL) < 0) {
        gw_conn_unref(c);
        free(rc);
        gw_conn_send_error(c, "unavailable", "the gateway cannot reach Redis; try again");
    }
    free(input);
}

static void on_callback(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct reply_ctx *rc = arg;
    struct gw_conn *c = rc->c;
    if (gw_conn_is_open(c)) {
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            const char *verdict = r->element[0]->str, *what = r->element[1]->str;
            if (!strcmp(verdict, "ok")) {
                gw_conn_send_event(c, "callback_ack",
                                   json_pack("{s:s, s:s}", "callback_id", rc->id, "result", what));
            } else {
                char code[48];
                snprintf(code, sizeof(code), "callback_%s", what);
                const char *m = !strcmp(what, "not_found") ? "no such callback for this session"
                                : !strcmp(what, "expired")
                                    ? "the callback timed out or is already closed"
                                    : "the callback was already completed differently";
                gw_conn_send_error_about(c, code, m, "callback_id", rc->id);
            }
        } else {
            gw_conn_send_error_about(c, "unavailable",
                                     "the answer could not be recorded; send it again",
                                     "callback_id", rc->id);
        }
    }
    gw_conn_unref(c);
    free(rc);
}

static void route_callback(struct gw_conn *c, json_t *msg)
{
    struct gw_server *s = gw_conn_server(c);
    const char *cbid = json_string_value(json_object_get(msg, "callback_id"));
    if (!cbid || !id_valid(cbid, 128)) {
        gw_conn_send_error(c, "invalid_callback_id", "async_callback needs a valid 'callback_id'");
        return;
    }
    /* Forms: success {"content":"..."}; failure {"error":{"type","message"}} or
     * {"status":"failure"}; heartbeat {"heartbeat":true} or {"status":"heartbeat"}. */
    const char *status = json_string_value(json_object_get(msg, "status"));
    json_t *err = json_object_get(msg, "error");
    const char *kind = "succeed";
    char *payload = NULL;
    if (json_is_true(json_object_get(msg, "heartbeat")) || (status && !strcmp(status, "heartbeat")))
        kind = "heartbeat";
    else if (err || (status && (!strcmp(status, "failure") || !strcmp(status, "failed"))))
        kind = "fail";
    else if (status && strcmp(status, "success") && strcmp(status, "succeeded")) {
        gw_conn_send_error_about(c, "invalid_status",
                                 "status must be success, failure or heartbeat", "callback_id",
                                 cbid);
        return;
    }
    if (!strcmp(kind, "succeed")) {
        json_t *content = json_object_get(msg, "content");
        if (json_is_string(content))
            payload = xstrndup(json_string_value(content), json_string_length(content));
        else if (content)
            payload = json_dumps(content, JSON_COMPACT | JSON_ENCODE_ANY);
        else {
            gw_conn_send_error_about(c, "invalid_content", "async_callback needs 'content'",
                                     "callback_id", cbid);
            return;
        }
    } else if (!strcmp(kind, "fail")) {
        json_t *e = err ? json_deep_copy(err) : json_object();
        if (!json_is_object(e)) {
            json_decref(e);
            e = json_pack("{s:s}", "message", json_string_value(err) ? json_string_value(err) : "");
        }
        payload = json_dumps(e, JSON_COMPACT);
        json_decref(e);
    } else {
        payload = xstrdup("");
    }
    if (strlen(payload) > s->cfg.max_callback) {
        char m[96];
        snprintf(m, sizeof(m), "callback content longer than %zu bytes", s->cfg.max_callback);
        gw_conn_send_error_about(c, "content_too_large", m, "callback_id", cbid);
        free(payload);
        return;
    }
    struct reply_ctx *rc = xcalloc(1, sizeof(*rc));
    strlcpy_aa(rc->id, cbid, sizeof(rc->id));
    strlcpy_aa(rc->kind, kind, sizeof(rc->kind));
    struct dur_complete_args a;
    dur_complete_args(&a, cbid, kind, gw_conn_session(c), payload, strlen(payload));
    rc->c = c;
    gw_conn_ref(c);
    log_info("event=async_callback conn=%s session=%s cb=%s kind=%s bytes=%zu", gw_conn_id(c),
             gw_conn_session(c), cbid, kind, strlen(payload));
    if (rasync_eval(s->cmd, on_callback, rc, "cb_complete", DUR_COMPLETE_NKEYS, DUR_COMPLETE_NARGS,
                    a.argv, a.lens) < 0) {
        gw_conn_unref(c);
        free(rc);
        gw_conn_send_error_about(c, "unavailable", "the gateway cannot reach Redis; send it again",
                                 "callback_id", cbid);
    }
    free(payload);
}

void gw_route_message(struct gw_conn *c, const char *data, size_t len)
{
    struct gw_server *s = gw_conn_server(c);
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(msg)) {
        s->m.msgs_in[GW_R_INVALID]++;
        gw_conn_send_error(c, "invalid_json",
                           msg ? "the message must be a JSON object"
                               : "the message is not valid JSON");
        json_decref(msg);
        return;
    }
    const char *action = json_string_value(json_object_get(msg, "action"));
    if (action && !strcmp(action, "chat")) {
        s->m.msgs_in[GW_R_CHAT]++;
        route_chat(c, msg);
    } else if (action && !strcmp(action, "async_callback")) {
        s->m.msgs_in[GW_R_CALLBACK]++;
        route_callback(c, msg);
    } else if (action && !strcmp(action, "ping")) {
        s->m.msgs_in[GW_R_PING]++;
        gw_conn_send_event(c, "pong", json_pack("{s:I}", "ts", (json_int_t)wall_ms()));
    } else {
        s->m.msgs_in[GW_R_INVALID]++;
        gw_conn_send_error(c, "unknown_action",
                           action ? "unknown action (use chat, async_callback or ping)"
                                  : "the message needs an 'action'");
    }
    json_decref(msg);
}
