/* gw_msg.h -- A client's WebSocket message, parsed and validated: the
 * action, and for each action its fields within their limits. */
#ifndef AA_GW_MSG_H
#define AA_GW_MSG_H

#include <jansson.h>
#include <stddef.h>

enum gw_action { GW_ACT_CHAT, GW_ACT_CALLBACK, GW_ACT_PING };

struct gw_msg {
    enum gw_action action;
    json_t *root;       /* owned */
    const char *prompt; /* chat: borrowed from root */
    size_t prompt_len;
    const char *callback_id; /* async_callback: borrowed from root */
    const char *kind;        /* "succeed", "fail" or "heartbeat" (static) */
    char *payload;           /* owned: the content, or the error JSON */
    size_t payload_len;
};

/* Parses and validates one message for a connection of session. Returns 0
 * with m filled (free with gw_msg_free), or -1 with a machine code and a
 * human reason (static text); m->callback_id is set when the message named
 * a valid one. */
int gw_msg_parse(const char *data, size_t len, const char *session, size_t max_prompt,
                 size_t max_callback, struct gw_msg *m, const char **code, const char **why);
void gw_msg_free(struct gw_msg *m);

#endif
