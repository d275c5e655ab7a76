/* gw_rest.c -- REST completion of durable callbacks through
 * lua/cb_complete.lua, the same script the WebSocket route uses. */
#include "gw_rest.h"
#include "dur.h"
#include "gw_actions.h"
#include "gw_auth.h"
#include "ids.h"
#include "log.h"
#include "util.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void aws_error(struct gw_conn *c, int status, const char *type, const char *message)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "x-amzn-ErrorType: %s\r\n%s", type,
             status == 401 ? gw_auth_challenge() : "");
    gw_conn_http_json(c, status, json_pack("{s:s, s:s}", "__type", type, "message", message), hdr);
}

static void on_complete(enum scripts_completion v, void *arg)
{
    struct gw_conn *c = arg;
    if (v == SCRIPTS_CB_UNAVAILABLE) {
        aws_error(c, 503, "ServiceUnavailableException", "Redis is unavailable; retry");
    } else if (v == SCRIPTS_CB_RECORDED || v == SCRIPTS_CB_DUPLICATE || v == SCRIPTS_CB_HEARTBEAT) {
        gw_conn_http_respond(c, 200, "application/json", "", 0, NULL);
    } else if (v == SCRIPTS_CB_NOT_FOUND) {
        aws_error(c, 404, "ResourceNotFoundException", "no such callback");
    } else if (v == SCRIPTS_CB_EXPIRED) {
        aws_error(c, 400, "CallbackTimeoutException", "the callback timed out");
    } else {
        aws_error(c, 409, "CallbackConflictException",
                  "the callback was already completed with a different outcome");
    }
    gw_conn_http_release(c);
}

void gw_rest_callback(struct gw_server *s, struct gw_conn *c, const struct gw_req *req,
                      const char *path)
{
    const char *rest = path + strlen(GW_REST_CALLBACK_PREFIX);
    const char *slash = strrchr(rest, '/');
    if (!slash || slash == rest) {
        aws_error(c, 404, "UnknownOperationException",
                  "use {id}/succeed, {id}/fail or {id}/heartbeat");
        return;
    }
    const char *op = slash + 1;
    const char *kind = !strcmp(op, "succeed")     ? "succeed"
                       : !strcmp(op, "fail")      ? "fail"
                       : !strcmp(op, "heartbeat") ? "heartbeat"
                                                  : NULL;
    if (!kind) {
        aws_error(c, 404, "UnknownOperationException",
                  "use {id}/succeed, {id}/fail or {id}/heartbeat");
        return;
    }
    if (req->method != HTTP_POST) {
        aws_error(c, 405, "MethodNotAllowedException", "use POST");
        return;
    }
    char cbid[1100];
    if (gw_pct_decode(rest, (size_t)(slash - rest), cbid, sizeof(cbid)) < 0 ||
        !id_callback_valid(cbid)) {
        aws_error(c, 400, "InvalidParameterValueException", "malformed CallbackId");
        return;
    }
    struct jwt_claims cl;
    const char *why = NULL;
    int ast = gw_auth_check(s, req, gw_conn_is_loopback(c), GW_SCOPE_CALLBACKS, 0, &cl, &why);
    if (ast) {
        aws_error(c, ast, ast == 401 ? "UnauthorizedException" : "AccessDeniedException", why);
        return;
    }
    /* the callback's session must be the token's (when it names one) and
     * belong to its subject; an admin token may complete any */
    struct dur_caller who = {cl.sid, cl.sub, gw_auth_is_admin(&cl)};
    char *payload;
    if (!strcmp(kind, "succeed")) {
        if (req->body_len > s->cfg.max_callback) {
            aws_error(c, 413, "RequestEntityTooLargeException", "result larger than the limit");
            return;
        }
        if (!utf8_text_valid(req->body ? req->body : "", req->body_len)) {
            /* the result is kept as JSON text: it could not be read back */
            aws_error(c, 400, "InvalidParameterValueException",
                      "the result must be UTF-8 text without NUL bytes");
            return;
        }
        payload = xstrndup(req->body ? req->body : "", req->body_len);
    } else if (!strcmp(kind, "fail")) {
        json_t *in = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : json_object();
        if (!json_is_object(in)) {
            json_decref(in);
            aws_error(c, 400, "InvalidParameterValueException",
                      "the body must be a JSON object with ErrorType, ErrorMessage, ErrorData");
            return;
        }
        json_t *e = json_object();
        const char *map[][2] = {{"ErrorType", "type"},
                                {"ErrorMessage", "message"},
                                {"ErrorData", "data"},
                                {"StackTrace", "stack_trace"}};
        for (int i = 0; i < 4; i++) {
            json_t *v = json_object_get(in, map[i][0]);
            if (v)
                json_object_set(e, map[i][1], v);
        }
        payload = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        json_decref(in);
        if (strlen(payload) > s->cfg.max_callback) {
            free(payload);
            aws_error(c, 413, "RequestEntityTooLargeException", "error larger than the limit");
            return;
        }
    } else {
        payload = xstrdup("");
    }
    struct dur_complete dc;
    dur_complete_prepare(&dc, cbid, kind, &who, payload,
                         !strcmp(kind, "succeed") ? req->body_len : strlen(payload));
    log_info("event=rest_callback cb=%s kind=%s sub=%s bytes=%zu", cbid, kind, cl.sub,
             dc.a.payload_len);
    gw_conn_http_hold(c);
    gw_actions_complete(s, &dc, on_complete, c);
    free(payload);
}
