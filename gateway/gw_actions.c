/* gw_actions.c -- What a client's WebSocket message asks for: chat turns
 * go to the agent stream through lua/chat.lua; async_callback answers go to
 * lua/cb_complete.lua, which checks atomically that the callback belongs to
 * this connection's session; ping gets pong. */
#include "gw_actions.h"
#include "dur.h"
#include "gw_msg.h"
#include "gw_session.h"
#include "ids.h"
#include "keys.h"
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

static void route_chat(struct gw_conn *c, const struct gw_msg *m)
{
    struct gw_server *s = gw_server_of(c);
    struct reply_ctx *rc = xcalloc(1, sizeof(*rc));
    char trace[32], key[KEYS_MAX], active[KEYS_MAX], queue[KEYS_MAX], stream[KEYS_MAX], now[24],
        tmo[24];
    unsigned cell = keys_cell_of(gw_session_id(c)); /* the turn lives with its session */
    keys_random_id(rc->id, sizeof(rc->id), "turn-", 12, 0, cell);
    keys_in_cell(stream, sizeof(stream), s->cfg.agent_stream, cell);
    id_random(trace, sizeof(trace), "tr-", 8);
    json_t *in = json_pack("{s:s, s:s%, s:s}", "session_id", gw_session_id(c), "prompt", m->prompt,
                           m->prompt_len, "trace", trace);
    char *input = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    keys_exec(key, sizeof(key), rc->id);
    keys_session(active, sizeof(active), gw_session_id(c), "active");
    keys_session(queue, sizeof(queue), gw_session_id(c), "queue");
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    snprintf(tmo, sizeof(tmo), "%lld", (long long)s->cfg.turn_timeout_ms);
    struct scripts_chat a = {.exec = key,
                             .active = active,
                             .queue = queue,
                             .stream = stream,
                             .eid = rc->id,
                             .sid = gw_session_id(c),
                             .input = input,
                             .now = now,
                             .trace = trace,
                             .handler = "turn",
                             .timeout_ms = tmo};
    rc->c = c;
    gw_conn_ref(c);
    log_info("event=chat conn=%s session=%s turn=%s trace=%s bytes=%zu", gw_conn_id(c),
             gw_session_id(c), rc->id, trace, m->prompt_len);
    scripts_chat_async(s->cmd, &a, on_chat, rc);
    free(input);
}

struct complete_ctx {
    struct gw_server *s;
    char key[KEYS_MAX];
    enum scripts_completion v;
    gw_complete_cb cb;
    void *arg;
};

static void on_waited(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct complete_ctx *cc = arg;
    int want = cc->s->cfg.wait_replicas;
    long long got = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (got < want) {
        cc->s->m.wait_short++;
        log_warn("event=completion_not_replicated key=%s replicas=%lld want=%d", cc->key, got,
                 want);
        cc->v = SCRIPTS_CB_UNAVAILABLE;
    }
    cc->cb(cc->v, cc->arg);
    free(cc);
}

static void on_completed(struct rasync *ra, redisReply *r, void *arg)
{
    struct complete_ctx *cc = arg;
    cc->v = scripts_cb_complete_reply(r);
    if (cc->s->cfg.wait_replicas > 0 &&
        (cc->v == SCRIPTS_CB_RECORDED || cc->v == SCRIPTS_CB_DUPLICATE)) {
        rasync_wait(ra, cc->key, cc->s->cfg.wait_replicas, cc->s->cfg.wait_ms, on_waited, cc);
        return;
    }
    cc->cb(cc->v, cc->arg);
    free(cc);
}

void gw_actions_complete(struct gw_server *s, const struct dur_complete *dc, gw_complete_cb cb,
                         void *arg)
{
    struct complete_ctx *cc = xcalloc(1, sizeof(*cc));
    cc->s = s;
    strlcpy_aa(cc->key, dc->key, sizeof(cc->key));
    cc->cb = cb;
    cc->arg = arg;
    scripts_cb_complete_async(s->cmd, &dc->a, on_completed, cc);
}

static void on_callback(enum scripts_completion v, void *arg)
{
    struct reply_ctx *rc = arg;
    struct gw_conn *c = rc->c;
    if (gw_conn_is_open(c)) {
        if (v == SCRIPTS_CB_RECORDED || v == SCRIPTS_CB_DUPLICATE || v == SCRIPTS_CB_HEARTBEAT) {
            gw_conn_send_event(c, "callback_ack",
                               json_pack("{s:s, s:s}", "callback_id", rc->id, "result",
                                         scripts_completion_name(v)));
        } else if (v == SCRIPTS_CB_UNAVAILABLE) {
            gw_conn_send_error_about(c, "unavailable",
                                     "the answer could not be recorded; send it again",
                                     "callback_id", rc->id);
        } else {
            char code[48];
            snprintf(code, sizeof(code), "callback_%s", scripts_completion_name(v));
            const char *m = v == SCRIPTS_CB_NOT_FOUND ? "no such callback for this session"
                            : v == SCRIPTS_CB_EXPIRED
                                ? "the callback timed out or is already closed"
                                : "the callback was already completed differently";
            gw_conn_send_error_about(c, code, m, "callback_id", rc->id);
        }
    }
    gw_conn_unref(c);
    free(rc);
}

static void route_callback(struct gw_conn *c, struct gw_msg *m)
{
    struct gw_server *s = gw_server_of(c);
    struct reply_ctx *rc = xcalloc(1, sizeof(*rc));
    strlcpy_aa(rc->id, m->callback_id, sizeof(rc->id));
    strlcpy_aa(rc->kind, m->kind, sizeof(rc->kind));
    struct dur_complete dc;
    struct dur_caller who = {gw_session_id(c), "", 0}; /* its owner connected */
    dur_complete_prepare(&dc, m->callback_id, m->kind, &who, m->payload, m->payload_len);
    rc->c = c;
    gw_conn_ref(c);
    log_info("event=async_callback conn=%s session=%s cb=%s kind=%s bytes=%zu", gw_conn_id(c),
             gw_session_id(c), m->callback_id, m->kind, m->payload_len);
    gw_actions_complete(s, &dc, on_callback, rc);
}

void gw_actions_message(struct gw_server *s, struct gw_conn *c, const char *data, size_t len)
{
    struct gw_msg m;
    const char *code = NULL, *why = NULL;
    if (gw_msg_parse(data, len, gw_session_id(c), s->cfg.max_prompt, s->cfg.max_callback, &m, &code,
                     &why) < 0) {
        s->m.msgs_in[GW_R_INVALID]++;
        gw_conn_send_error_about(c, code, why, "callback_id", m.callback_id);
        gw_msg_free(&m);
        return;
    }
    switch (m.action) {
    case GW_ACT_CHAT:
        s->m.msgs_in[GW_R_CHAT]++;
        route_chat(c, &m);
        break;
    case GW_ACT_CALLBACK:
        s->m.msgs_in[GW_R_CALLBACK]++;
        route_callback(c, &m);
        break;
    case GW_ACT_PING:
        s->m.msgs_in[GW_R_PING]++;
        gw_conn_send_event(c, "pong", json_pack("{s:I}", "ts", (json_int_t)wall_ms()));
        break;
    }
    gw_msg_free(&m);
}
