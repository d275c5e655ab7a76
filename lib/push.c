/* push.c -- Outbox append + publish through lua/push.lua. */
#include "push.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int push_event(struct rconn *rc, const char *session, const json_t *event, int require_conn,
               char *id, size_t idlen)
{
    char outbox[KEYS_MAX], conns[KEYS_MAX], maxlen[16], ttl[16];
    keys_outbox(outbox, sizeof(outbox), session);
    keys_session(conns, sizeof(conns), session, "conns");
    snprintf(maxlen, sizeof(maxlen), "%d", PUSH_OUTBOX_MAXLEN);
    snprintf(ttl, sizeof(ttl), "%d", PUSH_OUTBOX_TTL_S);
    char *txt = json_dumps(event, JSON_COMPACT);
    struct scripts_push a = {.outbox = outbox,
                             .conns = conns,
                             .sid = session,
                             .event = txt,
                             .maxlen = maxlen,
                             .require_conn = require_conn ? "1" : "0",
                             .ttl_s = ttl};
    redisReply *r = scripts_push(rc, &a);
    free(txt);
    int ret = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        if (id)
            strlcpy_aa(id, r->element[0]->str ? r->element[0]->str : "", idlen);
        ret = (int)r->element[1]->integer;
    } else {
        log_error("event=push_failed session=%s err=\"%s\"", session,
                  r && r->type == REDIS_REPLY_ERROR ? r->str : rconn_error(rc));
    }
    if (r)
        freeReplyObject(r);
    return ret;
}
