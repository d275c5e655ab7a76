/* gw_session.c -- Client sessions on one gateway: the /ws upgrade with its
 * authorization and registration in Redis, the index of connections by
 * session, and the delivery of pushed events with their outbox ids (in
 * order, each once, catching up from the outbox). */
#include "gw_session.h"
#include "gw_auth.h"
#include "gw_ws.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending_event {
    struct pending_event *next;
    char id[48];
    size_t len;
    char json[];
};

/* The session state of one connection (gw_conn_data). */
struct sess {
    struct gw_conn *c;
    struct gw_server *srv;
    int registering; /* conn_open.lua has not answered yet */
    int registered;  /* the Redis record exists (or is being written) */
    int indexed;     /* in srv->sessions */
    int catching_up; /* events wait in pending until the outbox read ends */
    int resync_again;
    char session[129], user[129], last_id[48];
    struct pending_event *pending, *pending_tail;
    struct sess *s_prev, *s_next; /* the same session's connections here */
};

static struct sess *sess_of(const struct gw_conn *c)
{
    return gw_conn_data(c);
}

const char *gw_session_id(const struct gw_conn *c)
{
    const struct sess *x = sess_of(c);
    return x ? x->session : "";
}

size_t gw_session_count(const struct gw_server *s)
{
    return strmap_size(s->sessions);
}

/* ---- the index ------------------------------------------------------------ */

static void index_add(struct sess *x)
{
    struct sess *head = strmap_get(x->srv->sessions, x->session);
    x->s_prev = NULL;
    x->s_next = head;
    if (head)
        head->s_prev = x;
    strmap_set(x->srv->sessions, x->session, x);
    x->indexed = 1;
}

static void index_remove(struct sess *x)
{
    if (!x->indexed)
        return;
    x->indexed = 0;
    if (x->s_prev)
        x->s_prev->s_next = x->s_next;
    else if (x->s_next)
        strmap_set(x->srv->sessions, x->session, x->s_next);
    else if (strmap_get(x->srv->sessions, x->session) == x)
        strmap_del(x->srv->sessions, x->session);
    if (x->s_next)
        x->s_next->s_prev = x->s_prev;
    x->s_prev = x->s_next = NULL;
}

static void pending_clear(struct sess *x)
{
    while (x->pending) {
        struct pending_event *p = x->pending;
        x->pending = p->next;
        free(p);
    }
    x->pending_tail = NULL;
}

static void on_unregistered(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    (void)arg;
    if (!r)
        log_warn("event=unregister_deferred note=\"redis down; the reaper removes the record\"");
}

static void unregister(struct sess *x)
{
    char k1[KEYS_MAX], k2[KEYS_MAX], k3[KEYS_MAX];
    if (!x->registered)
        return;
    x->registered = 0;
    const char *cid = gw_conn_id(x->c);
    unsigned cell = keys_cell_of(x->session);
    keys_conn(k1, sizeof(k1), cid, cell);
    keys_session(k2, sizeof(k2), x->session, "conns");
    keys_node_conns(k3, sizeof(k3), x->srv->cfg.node, cell);
    struct scripts_conn_close a = {.conn = k1, .session_conns = k2, .node_conns = k3, .cid = cid};
    scripts_conn_close_async(x->srv->cmd, &a, on_unregistered, NULL);
}

void gw_session_closed(struct gw_conn *c)
{
    struct sess *x = sess_of(c);
    if (!x)
        return;
    if (x->session[0])
        log_debug("event=session_left conn=%s session=%s", gw_conn_id(c), x->session);
    unregister(x);
    index_remove(x);
}

void gw_session_free(struct gw_conn *c)
{
    struct sess *x = sess_of(c);
    if (!x)
        return;
    pending_clear(x);
    free(x);
    gw_conn_set_data(c, NULL);
}

/* ---- delivery --------------------------------------------------------------- */

const double gw_lat_bounds_ms[GW_LAT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 1000};

/* The time from the outbox append (the event id's time) to the socket. */
static void observe_push(struct gw_server *s, const char *id)
{
    uint64_t ms, seq;
    if (stream_id_parse(id, &ms, &seq) < 0)
        return;
    double lat = (double)(wall_ms() - (int64_t)ms);
    if (lat < 0)
        lat = 0;
    int b = 0;
    while (b < GW_LAT_BUCKETS && lat > gw_lat_bounds_ms[b])
        b++;
    s->m.push_lat[b]++;
    s->m.push_lat_sum += lat / 1000.0;
}

static void send_with_id(struct sess *x, const char *id, const char *json, size_t len)
{
    if (stream_id_cmp(id, x->last_id) <= 0)
        return; /* already delivered */
    if (len < 2 || json[0] != '{')
        return;
    /* {"id":"<id>", then the event's own fields */
    char pre[80];
    size_t idlen = strlen(id), n = 0;
    if (idlen > 48)
        return;
    memcpy(pre, "{\"id\":\"", 7);
    memcpy(pre + 7, id, idlen);
    n = 7 + idlen;
    pre[n++] = '"';
    if (json[1] != '}')
        pre[n++] = ',';
    gw_conn_send_text2(x->c, pre, n, json + 1, len - 1);
    observe_push(x->srv, id);
    strlcpy_aa(x->last_id, id, sizeof(x->last_id));
}

static void pending_add(struct sess *x, const char *id, const char *json, size_t len)
{
    struct pending_event *p = xmalloc(sizeof(*p) + len + 1);
    p->next = NULL;
    strlcpy_aa(p->id, id, sizeof(p->id));
    p->len = len;
    memcpy(p->json, json, len);
    p->json[len] = '\0';
    if (x->pending_tail)
        x->pending_tail->next = p;
    else
        x->pending = p;
    x->pending_tail = p;
}

static void deliver_one(struct sess *x, const char *id, const char *json, size_t len)
{
    if (gw_conn_is_dead(x->c))
        return;
    if (x->registering || x->catching_up) {
        pending_add(x, id, json, len);
        return;
    }
    send_with_id(x, id, json, len);
}

void gw_session_deliver(struct gw_server *s, const char *sid, const char *id, const char *json,
                        size_t len)
{
    s->m.pushes_in++;
    struct sess *x = strmap_get(s->sessions, sid);
    while (x) {
        struct sess *next = x->s_next; /* x may close while sending */
        deliver_one(x, id, json, len);
        x = next;
    }
}

static void catchup_read(struct sess *x);

static void on_catchup(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_conn *c = arg;
    struct sess *x = sess_of(c);
    int more = 0;
    if (gw_conn_is_open(c) && r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements < 2)
                continue;
            send_with_id(x, e->element[0]->str, e->element[1]->element[1]->str,
                         e->element[1]->element[1]->len);
            if (!gw_conn_is_open(c))
                break;
        }
        more = r->elements == 500;
    }
    if (gw_conn_is_open(c) && (more || x->resync_again)) {
        x->resync_again = 0;
        catchup_read(x);
    } else if (gw_conn_is_open(c)) {
        x->catching_up = 0;
        while (x->pending && gw_conn_is_open(c)) {
            struct pending_event *p = x->pending;
            x->pending = p->next;
            send_with_id(x, p->id, p->json, p->len);
            free(p);
        }
        if (!x->pending)
            x->pending_tail = NULL;
    }
    gw_conn_unref(c);
}

static void catchup_read(struct sess *x)
{
    char key[KEYS_MAX], start[64];
    keys_outbox(key, sizeof(key), x->session);
    snprintf(start, sizeof(start), "(%s", x->last_id[0] ? x->last_id : "0-0");
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", "500"};
    x->catching_up = 1;
    gw_conn_ref(x->c);
    rasync_cmdargv(x->srv->cmd, on_catchup, x->c, 6, argv, NULL);
}

void gw_session_resync_all(struct gw_server *s)
{
    for (struct gw_conn *c = gw_conns_first(s->conns); c; c = gw_conn_next(c)) {
        struct sess *x = sess_of(c);
        if (!x || !gw_conn_is_open(c))
            continue;
        if (x->catching_up)
            x->resync_again = 1;
        else
            catchup_read(x);
    }
}

/* ---- the upgrade ---------------------------------------------------------------- */

static void refuse(struct gw_server *s, struct gw_conn *c, int status, const char *type,
                   const char *why)
{
    gw_conns_stats(s->conns)->rejected++;
    gw_conn_http_error(c, status, type, why, NULL);
}

static void on_registered(struct rasync *ra, redisReply *r, void *arg)
{
    (void)ra;
    struct gw_conn *c = arg;
    struct sess *x = sess_of(c);
    x->registering = 0;
    if (gw_conn_is_dead(c)) {
        gw_conn_http_release(c);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        int forbidden = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1;
        if (forbidden)
            log_info("event=session_forbidden remote=%s session=%s sub=%s", gw_conn_remote(c),
                     x->session, x->user);
        else
            log_warn("event=register_failed conn=%s err=\"%s\"", gw_conn_id(c),
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
        /* unwind: out of the session index, and what was pushed meanwhile */
        x->registered = 0;
        index_remove(x);
        pending_clear(x);
        x->session[0] = '\0';
        if (forbidden)
            refuse(x->srv, c, 403, "forbidden", "this session belongs to another subject");
        else
            gw_conn_http_error(c, 503, NULL, "the gateway cannot reach Redis; try again", NULL);
        gw_conn_http_close_after(c);
        gw_conn_http_release(c);
        return;
    }
    /* Events after this id reach the connection; with a last event id from
     * the client, everything after that one. An id past the newest event
     * (another outbox's, or made up) would silence the connection: it is
     * refused with an error event and delivery starts from now. */
    const char *newest = r->element[1]->str ? r->element[1]->str : "";
    int ahead = x->last_id[0] && stream_id_cmp(x->last_id, newest[0] ? newest : "0-0") > 0;
    if (!x->last_id[0] || ahead)
        strlcpy_aa(x->last_id, newest[0] ? newest : "0-0", sizeof(x->last_id));
    if (gw_conn_upgrade(c) < 0) {
        gw_conn_http_release(c);
        return;
    }
    log_info("event=conn_open conn=%s session=%s remote=%s session_conns=%lld", gw_conn_id(c),
             x->session, gw_conn_remote(c), (long long)r->element[0]->integer);
    if (ahead)
        gw_conn_send_error(c, "last_event_id_ahead",
                           "last_event_id is past this session's newest event; "
                           "delivering from now on");
    catchup_read(x);         /* also flushes what arrived while registering */
    gw_conn_http_release(c); /* and reads the frames that came with the handshake */
}

void gw_session_upgrade(struct gw_server *s, struct gw_conn *c, const struct gw_req *req)
{
    const char *why = NULL;
    int st = gw_ws_check(req, &why);
    if (st) {
        refuse(s, c, st, NULL, why);
        return;
    }
    struct jwt_claims cl;
    int ast = gw_auth_check(s, req, gw_conn_is_loopback(c), GW_SCOPE_CLIENT, 1, &cl, &why);
    if (ast) {
        s->m.auth_failures++;
        log_info("event=auth_failed remote=%s route=/ws why=\"%s\"", gw_conn_remote(c), why);
        gw_conns_stats(s->conns)->rejected++;
        gw_conn_http_error(c, ast, ast == 401 ? "unauthorized" : "forbidden", why,
                           ast == 401 ? gw_auth_challenge() : NULL);
        return;
    }
    char sid[129], last[64];
    int q = gw_url_query(req->url, "session_id", sid, sizeof(sid));
    if (q != 1 || !id_valid(sid, 128)) {
        refuse(s, c, 400, NULL,
               "the WebSocket URL needs ?session_id=<id> (1-128 of A-Z a-z 0-9 . _ : -)");
        return;
    }
    int l = gw_url_query(req->url, "last_event_id", last, sizeof(last));
    if (l == 0 && req->last_event_id[0]) {
        strlcpy_aa(last, req->last_event_id, sizeof(last));
        l = 1;
    }
    uint64_t a, b;
    if (l < 0 || (l == 1 && stream_id_parse(last, &a, &b) < 0)) {
        refuse(s, c, 400, NULL, "last_event_id must be an event id such as 1700000000000-0");
        return;
    }
    if (cl.sid[0] && strcmp(cl.sid, sid) != 0) {
        refuse(s, c, 403, "forbidden", "the token is bound to another session_id");
        return;
    }
    if (!rasync_connected(s->cmd)) {
        gw_conn_http_error(c, 503, NULL, "the gateway cannot reach Redis; try again", NULL);
        return;
    }
    struct sess *x = sess_of(c);
    if (!x) {
        x = xcalloc(1, sizeof(*x));
        x->c = c;
        x->srv = s;
        gw_conn_set_data(c, x);
    }
    strlcpy_aa(x->user, cl.sub, sizeof(x->user));
    strlcpy_aa(x->session, sid, sizeof(x->session));
    if (l == 1)
        strlcpy_aa(x->last_id, last, sizeof(x->last_id));
    const char *cid = gw_conn_id(c);
    char k1[KEYS_MAX], k2[KEYS_MAX], k3[KEYS_MAX], k4[KEYS_MAX], k5[KEYS_MAX], now[24];
    unsigned cell = keys_cell_of(x->session);
    keys_conn(k1, sizeof(k1), cid, cell);
    keys_session(k2, sizeof(k2), x->session, "conns");
    keys_node_conns(k3, sizeof(k3), s->cfg.node, cell);
    keys_outbox(k4, sizeof(k4), x->session);
    keys_session(k5, sizeof(k5), x->session, "owner");
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    struct scripts_conn_open args = {.conn = k1,
                                     .session_conns = k2,
                                     .node_conns = k3,
                                     .outbox = k4,
                                     .owner = k5,
                                     .cid = cid,
                                     .sid = x->session,
                                     .node = s->cfg.node,
                                     .remote = gw_conn_remote(c),
                                     .now = now,
                                     .user = x->user,
                                     .admin = gw_auth_is_admin(&cl) ? "1" : ""};
    x->registering = 1;
    x->registered = 1;
    index_add(x); /* pushes that race the registration wait in pending */
    gw_conn_http_hold(c);
    scripts_conn_open_async(s->cmd, &args, on_registered, c);
}
