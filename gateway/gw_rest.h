/* gw_rest.h -- The callback completion REST API in AWS's shape (API version
 * 2025-12-01): POST .../durable-execution-callbacks/{id}/succeed (raw body),
 * /fail (JSON ErrorType, ErrorMessage, ErrorData, StackTrace) and
 * /heartbeat. Answers: 200 recorded (or an identical repeat), 400
 * CallbackTimeoutException (expired), 404 ResourceNotFoundException,
 * 409 CallbackConflictException (completed differently), 400
 * InvalidParameterValueException, 401/403, 413, 503. */
#ifndef AA_GW_REST_H
#define AA_GW_REST_H

#include "gw_conn.h"
#include "gw_server.h"

#define GW_REST_CALLBACK_PREFIX "/2025-12-01/durable-execution-callbacks/"

void gw_rest_callback(struct gw_server *s, struct gw_conn *c, const struct gw_req *req,
                      const char *path);

#endif
