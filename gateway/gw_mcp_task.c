/* gw_mcp_task.c -- MCP tasks (revision 2025-11-25): tasks/get,
 * tasks/result (held until the task ends), tasks/cancel and tasks/list over
 * the executions a tools/call with params.task started. */
#include "gw_mcp_int.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void on_task_get(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = mcp_rstr(r, 0);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32603, "Redis is unavailable"));
    else if (!owner || strcmp(owner, p->owner) != 0 || !mcp_rstr(r, 4))
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32602, "task not found"));
    else
        mcp_pending_reply(p, mcp_rpc_result(p->id, mcp_task_json(p->eid, mcp_rstr(r, 1),
                                                                 mcp_rstr(r, 2), mcp_rstr(r, 3),
                                                                 mcp_rstr(r, 4), mcp_rstr(r, 5))));
}

static void task_read(struct gw_server *s, struct pending *p, rasync_reply_cb cb)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), p->eid);
    const char *argv[] = {"HMGET",      key,          "owner",       "status",
                          "created_ms", "updated_ms", "task_ttl_ms", "result"};
    rasync_cmdargv(s->cmd, cb, p, 8, argv, NULL);
}

/* tasks/result: the held request becomes a call that waits for the end. */
static void on_task_result(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *owner = mcp_rstr(r, 0);
    if (!r || r->type != REDIS_REPLY_ARRAY || !owner || strcmp(owner, p->owner) != 0 ||
        !mcp_rstr(r, 4) || !gw_conn_http_pending(p->c)) {
        on_task_get(ra, r, p);
        return;
    }
    struct call *k = mcp_call_new(p->c, p->id, p->eid, K_TASK_RESULT);
    json_decref(p->id);
    free(p);
    mcp_call_watch(k, 5000);
    mcp_poll_now(k); /* answers at once when the task has ended */
}

static void on_task_cancel(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    const char *v =
        r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
    if (!v)
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32603, "Redis is unavailable"));
    else if (!strcmp(v, "notfound"))
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32602, "task not found"));
    else if (!strcmp(v, "lost"))
        mcp_pending_reply(
            p, mcp_rpc_error(p->id, -32602, "the task has already ended (terminal status)"));
    else
        task_read(gw_server_of(p->c), p, on_task_get);
}

static void on_task_list(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct pending *p = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        mcp_pending_reply(p, mcp_rpc_error(p->id, -32603, "Redis is unavailable"));
        return;
    }
    json_t *tasks = json_array();
    for (size_t i = 1; i + 5 < r->elements; i += 6)
        json_array_append_new(tasks, mcp_task_json(mcp_rstr(r, i), mcp_rstr(r, i + 1),
                                                   mcp_rstr(r, i + 2), mcp_rstr(r, i + 3),
                                                   mcp_rstr(r, i + 4), mcp_rstr(r, i + 5)));
    json_t *res = json_pack("{s:o}", "tasks", tasks);
    if (mcp_rstr(r, 0) && *mcp_rstr(r, 0))
        json_object_set_new(res, "nextCursor", json_string(mcp_rstr(r, 0)));
    mcp_pending_reply(p, mcp_rpc_result(p->id, res));
}

/* tasks/get, tasks/result, tasks/cancel and tasks/list. Called with the
 * request held; answers (now or later) and drops the hold. */
void mcp_tasks_method(struct gw_conn *c, const char *method, json_t *id, json_t *params,
                      const struct jwt_claims *cl)
{
    struct gw_server *s = gw_server_of(c);
    const char *tid = json_string_value(json_object_get(params, "taskId"));
    if (!strcmp(method, "tasks/list")) {
        json_t *cur = json_object_get(params, "cursor");
        const char *cs = json_string_value(cur);
        char off[24] = "0", page[16], index[KEYS_MAX];
        if (cur && (!cs || !*cs || strlen(cs) > 9 || strspn(cs, "0123456789") != strlen(cs))) {
            mcp_reply_held(c, 200, mcp_rpc_error(id, -32602, "invalid cursor"));
            return;
        }
        if (cs)
            strlcpy_aa(off, cs, sizeof(off));
        snprintf(page, sizeof(page), "%d", TASKS_PAGE);
        keys_mcp_tasks(index, sizeof(index), mcp_owner_of(cl));
        struct pending *p = mcp_pending_new(c, id, NULL, cl);
        struct scripts_task_list a = {.tasks = index, .offset = off, .count = page};
        scripts_task_list_async(s->cmd, &a, on_task_list, p);
        return;
    }
    if (!tid || !id_valid(tid, 63)) {
        mcp_reply_held(c, 200, mcp_rpc_error(id, -32602, "params.taskId is missing or malformed"));
        return;
    }
    struct pending *p = mcp_pending_new(c, id, tid, cl);
    if (!strcmp(method, "tasks/get")) {
        task_read(s, p, on_task_get);
    } else if (!strcmp(method, "tasks/result")) {
        task_read(s, p, on_task_result);
    } else {
        log_info("event=mcp_task_cancel exec=%s sub=%s", tid, cl->sub);
        mcp_cancel_exec(s, tid, p->owner, on_task_cancel, p);
    }
}