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

/* tasks/list with several cells: an owner's tasks are indexed in the cells
 * of their sessions, so each cell gives its newest (offset + one page), and
 * the page is cut from them merged, newest first. */
struct task_gather {
    struct pending *p;
    unsigned left;
    long off;
    int failed;
    json_t *rows; /* [created_ms, task] */
};

static int newest_first(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double cx = json_number_value(json_array_get(x, 0)),
           cy = json_number_value(json_array_get(y, 0));
    return cx < cy ? 1 : cx > cy ? -1 : 0;
}

static void on_cell_tasks(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct task_gather *g = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        g->failed = 1;
    for (size_t i = 1; !g->failed && i + 5 < r->elements; i += 6) {
        const char *created = mcp_rstr(r, i + 2);
        json_array_append_new(
            g->rows,
            json_pack("[f,o]", created ? atof(created) : 0.0,
                      mcp_task_json(mcp_rstr(r, i), mcp_rstr(r, i + 1), created, mcp_rstr(r, i + 3),
                                    mcp_rstr(r, i + 4), mcp_rstr(r, i + 5))));
    }
    if (--g->left > 0)
        return;
    if (g->failed) {
        mcp_pending_reply(g->p, mcp_rpc_error(g->p->id, -32603, "Redis is unavailable"));
    } else {
        size_t n = json_array_size(g->rows);
        json_t **rows = xmalloc(sizeof(*rows) * (n ? n : 1));
        for (size_t i = 0; i < n; i++)
            rows[i] = json_array_get(g->rows, i);
        qsort(rows, n, sizeof(*rows), newest_first);
        json_t *tasks = json_array();
        for (size_t i = (size_t)g->off; i < n && i < (size_t)g->off + TASKS_PAGE; i++)
            json_array_append(tasks, json_array_get(rows[i], 1));
        json_t *res = json_pack("{s:o}", "tasks", tasks);
        if (n > (size_t)g->off + TASKS_PAGE) {
            char next[24];
            snprintf(next, sizeof(next), "%ld", g->off + TASKS_PAGE);
            json_object_set_new(res, "nextCursor", json_string(next));
        }
        free(rows);
        mcp_pending_reply(g->p, mcp_rpc_result(g->p->id, res));
    }
    json_decref(g->rows);
    free(g);
}

static void task_list_cells(struct gw_server *s, struct pending *p, const char *owner, long off)
{
    struct task_gather *g = xcalloc(1, sizeof(*g));
    g->p = p;
    g->off = off;
    g->left = keys_cells();
    g->rows = json_array();
    char count[24];
    snprintf(count, sizeof(count), "%ld", off + TASKS_PAGE);
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        char index[KEYS_MAX];
        keys_mcp_tasks(index, sizeof(index), owner, cell);
        struct scripts_task_list a = {.tasks = index, .offset = "0", .count = count};
        scripts_task_list_async(s->cmd, &a, on_cell_tasks, g);
    }
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
        struct pending *p = mcp_pending_new(c, id, NULL, cl);
        if (keys_cells() > 1) {
            task_list_cells(s, p, mcp_owner_of(cl), atol(off));
            return;
        }
        keys_mcp_tasks(index, sizeof(index), mcp_owner_of(cl), 0);
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