/* push.h -- Send a server event to a session: appended to the session's
 * outbox stream and published to the gateways holding its connections
 * (lua/push.lua). Used by the workers. */
#ifndef AA_PUSH_H
#define AA_PUSH_H

#include "rconn.h"

#include <jansson.h>

/* Default bounds of an outbox. */
#define PUSH_OUTBOX_MAXLEN 1000
#define PUSH_OUTBOX_TTL_S 86400

/* Pushes event (a JSON object without "id"). With require_conn, nothing is
 * stored when the session has no live connection. Returns the number of live
 * connections (>= 0), or -1 on a Redis error. id (may be NULL) receives the
 * event id ("" when nothing was stored). */
int push_event(struct rconn *rc, const char *session, const json_t *event, int require_conn,
               char *id, size_t idlen);

#endif
