/* cl_conn.c -- libwebsockets client on GLib: queue, outbox, heartbeats,
 * reconnect with backoff and resume. */
#include "cl_conn.h"
#include "util.h"

#include <glib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outmsg {
    struct outmsg *next;
    size_t len;
    char data[]; /* LWS_PRE bytes, then the message */
};

/* An answer to a callback, kept until the gateway acknowledges it. */
struct answer {
    struct answer *next;
    char cbid[64];
    int64_t resend_at_ms; /* 0: waiting for the ack */
    char *text;
};

struct beat {
    struct beat *next;
    char cbid[64];
};

struct cl_conn {
    struct lws_context *ctx;
    struct lws *wsi;
    GMainLoop *loop; /* not run by us: it names the default context for lws */
    char host[256], path[2048], session[129], token[4200], last_id[48];
    int port, tls, insecure;
    int heartbeat_ms;
    int up, ever_up, closing, closed, freeing;
    int backoff_ms;
    guint reconnect_src, heartbeat_src, resend_src, closed_src;
    struct outmsg *out_head, *out_tail;
    size_t queued;
    struct answer *answers;
    struct beat *beats;
    char *rx;
    size_t rx_len;
    cl_conn_state_cb on_state;
    cl_conn_event_cb on_event;
    void *arg;
};

static int64_t now_ms(void)
{
    return mono_us() / 1000;
}

static void queue_msg(struct cl_conn *c, const char *text, size_t len, int front)
{
    struct outmsg *m = xmalloc(sizeof(*m) + LWS_PRE + len);
    m->len = len;
    memcpy(m->data + LWS_PRE, text, len);
    if (front) {
        m->next = c->out_head;
        c->out_head = m;
        if (!c->out_tail)
            c->out_tail = m;
    } else {
        m->next = NULL;
        if (c->out_tail)
            c->out_tail->next = m;
        else
            c->out_head = m;
        c->out_tail = m;
    }
    c->queued++;
    if (c->wsi && c->up)
        lws_callback_on_writable(c->wsi);
}

void cl_conn_send(struct cl_conn *c, const char *text, size_t len)
{
    queue_msg(c, text, len, 0);
}

void cl_conn_send_json(struct cl_conn *c, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!txt)
        return;
    cl_conn_send(c, txt, strlen(txt));
    free(txt);
}

void cl_conn_answer(struct cl_conn *c, const char *cbid, json_t *j)
{
    struct answer *a = xcalloc(1, sizeof(*a));
    strlcpy_aa(a->cbid, cbid, sizeof(a->cbid));
    a->text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!a->text) {
        free(a);
        return;
    }
    a->next = c->answers;
    c->answers = a;
    cl_conn_send(c, a->text, strlen(a->text));
}

void cl_conn_answer_drop(struct cl_conn *c, const char *cbid)
{
    for (struct answer **pp = &c->answers; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->cbid, cbid)) {
            struct answer *a = *pp;
            *pp = a->next;
            free(a->text);
            free(a);
            return;
        }
    }
}

void cl_conn_heartbeat_add(struct cl_conn *c, const char *cbid)
{
    struct beat *b = xcalloc(1, sizeof(*b));
    strlcpy_aa(b->cbid, cbid, sizeof(b->cbid));
    b->next = c->beats;
    c->beats = b;
}

void cl_conn_heartbeat_remove(struct cl_conn *c, const char *cbid)
{
    for (struct beat **pp = &c->beats; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->cbid, cbid)) {
            struct beat *b = *pp;
            *pp = b->next;
            free(b);
            return;
        }
    }
}

/* Is this gateway message about one of our answers or heartbeats? Acks and
 * final errors forget the answer; "unavailable" sends it again soon. */
static int own_reply(struct cl_conn *c, json_t *msg)
{
    const char *event = json_string_value(json_object_get(msg, "event"));
    json_t *data = json_object_get(msg, "data");
    const char *cb = json_string_value(json_object_get(data, "callback_id"));
    if (!event || !cb || (strcmp(event, "callback_ack") && strcmp(event, "error")))
        return 0;
    const char *code = json_string_value(json_object_get(data, "code"));
    int retry = !strcmp(event, "error") && code && !strcmp(code, "unavailable");
    const char *result = json_string_value(json_object_get(data, "result"));
    int beat_ack = result && !strcmp(result, "heartbeat"); /* not the answer's ack */
    for (struct answer *a = c->answers; a; a = a->next) {
        if (strcmp(a->cbid, cb) != 0)
            continue;
        if (retry)
            a->resend_at_ms = now_ms() + 500;
        else if (!beat_ack)
            cl_conn_answer_drop(c, cb);
        return 1;
    }
    for (struct beat *b = c->beats; b; b = b->next)
        if (!strcmp(b->cbid, cb))
            return 1;
    return 0;
}

static void resend_answers(struct cl_conn *c, int all)
{
    int64_t now = now_ms();
    for (struct answer *a = c->answers; a; a = a->next) {
        if (all || (a->resend_at_ms && a->resend_at_ms <= now)) {
            a->resend_at_ms = 0;
            cl_conn_send(c, a->text, strlen(a->text));
        }
    }
}

static gboolean resend_tick(gpointer p)
{
    struct cl_conn *c = p;
    if (c->up)
        resend_answers(c, 0);
    return G_SOURCE_CONTINUE;
}

static gboolean heartbeat_tick(gpointer p)
{
    struct cl_conn *c = p;
    for (struct beat *b = c->beats; b && c->up; b = b->next)
        cl_conn_send_json(c, json_pack("{s:s, s:s, s:s}", "action", "async_callback", "callback_id",
                                       b->cbid, "status", "heartbeat"));
    return G_SOURCE_CONTINUE;
}

static void state(struct cl_conn *c, enum cl_conn_state st, const char *detail)
{
    if (c->on_state)
        c->on_state(st, detail, c->arg);
}

static gboolean report_closed(gpointer p)
{
    struct cl_conn *c = p;
    c->closed_src = 0;
    if (!c->closed) {
        c->closed = 1;
        state(c, CL_CONN_CLOSED, "");
    }
    return G_SOURCE_REMOVE;
}

static gboolean connect_now(gpointer p);

static void schedule_reconnect(struct cl_conn *c, const char *why)
{
    if (c->closing) {
        if (!c->closed_src)
            c->closed_src = g_idle_add(report_closed, c);
        return;
    }
    if (c->reconnect_src)
        return;
    int jitter = c->backoff_ms / 2 ? g_random_int_range(0, c->backoff_ms / 2 + 1) : 0;
    int delay = c->backoff_ms / 2 + jitter;
    char d[400];
    snprintf(d, sizeof(d), "%s; reconnecting in %d ms", why, delay);
    state(c, CL_CONN_DOWN, d);
    c->reconnect_src = g_timeout_add((guint)delay, connect_now, c);
    c->backoff_ms = c->backoff_ms * 2 > 10000 ? 10000 : c->backoff_ms * 2;
}

static gboolean connect_now(gpointer p)
{
    struct cl_conn *c = p;
    c->reconnect_src = 0;
    char path[2400];
    char sep = strchr(c->path, '?') ? '&' : '?';
    if (c->last_id[0])
        snprintf(path, sizeof(path), "%s%csession_id=%s&last_event_id=%s", c->path, sep, c->session,
                 c->last_id);
    else
        snprintf(path, sizeof(path), "%s%csession_id=%s", c->path, sep, c->session);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = c->ctx;
    ci.address = c->host;
    ci.port = c->port;
    ci.path = path;
    ci.host = c->host;
    ci.origin = c->host;
    ci.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
    if (c->tls && c->insecure)
        ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    ci.local_protocol_name = "aa";
    ci.pwsi = &c->wsi;
    ci.userdata = c;
    char d[2400];
    snprintf(d, sizeof(d), "%s://%s:%d%s", c->tls ? "wss" : "ws", c->host, c->port, c->path);
    state(c, CL_CONN_CONNECTING, d);
    if (!lws_client_connect_via_info(&ci)) {
        c->wsi = NULL;
        schedule_reconnect(c, "cannot start a connection");
    }
    return G_SOURCE_REMOVE;
}

static void received(struct cl_conn *c, const char *txt, size_t len)
{
    json_t *msg = json_loadb(txt, len, 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return;
    }
    const char *id = json_string_value(json_object_get(msg, "id"));
    if (id && strlen(id) < sizeof(c->last_id) && stream_id_cmp(id, c->last_id) > 0)
        strlcpy_aa(c->last_id, id, sizeof(c->last_id));
    int own = own_reply(c, msg);
    if (c->on_event)
        c->on_event(msg, txt, len, own, c->arg);
    json_decref(msg);
}

static int write_one(struct cl_conn *c, struct lws *wsi)
{
    struct outmsg *m = c->out_head;
    if (!m) {
        if (c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        return 0;
    }
    c->out_head = m->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->queued--;
    int n = lws_write(wsi, (unsigned char *)m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
    if (n < (int)m->len) {
        /* back to the front of the queue: it goes out after the reconnect */
        m->next = c->out_head;
        c->out_head = m;
        if (!c->out_tail)
            c->out_tail = m;
        c->queued++;
        return -1;
    }
    free(m);
    if (c->out_head || c->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct cl_conn *c = lws_context_user(lws_get_context(wsi));
    if (!c || c->freeing)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (c->token[0]) {
            unsigned char **p = in, *end = *p + len;
            char v[4300];
            snprintf(v, sizeof(v), "Bearer %s", c->token);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v,
                                             (int)strlen(v), p, end))
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->up = 1;
        c->backoff_ms = 250;
        state(c, CL_CONN_UP, c->ever_up ? "resumed" : "");
        if (c->ever_up)
            resend_answers(c, 1); /* answers not acknowledged before the drop */
        c->ever_up = 1;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi))
            c->rx_len = 0;
        c->rx = xrealloc(c->rx, c->rx_len + len + 1);
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            c->rx[c->rx_len] = '\0';
            received(c, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return write_one(c, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[300];
        snprintf(why, sizeof(why), "cannot connect: %s", in ? (const char *)in : "error");
        c->wsi = NULL;
        c->up = 0;
        schedule_reconnect(c, why);
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->wsi = NULL;
        c->up = 0;
        schedule_reconnect(c, "disconnected");
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"aa", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

struct cl_conn *cl_conn_new(const struct cl_conn_opts *o, cl_conn_state_cb on_state,
                            cl_conn_event_cb on_event, void *arg, char *err, size_t errlen)
{
    struct cl_conn *c = xcalloc(1, sizeof(*c));
    char url[2100];
    const char *proto, *addr, *path;
    strlcpy_aa(url, o->url, sizeof(url));
    if (strlen(o->url) >= sizeof(url) || lws_parse_uri(url, &proto, &addr, &c->port, &path) ||
        (strcmp(proto, "ws") && strcmp(proto, "wss")) || !addr[0]) {
        snprintf(err, errlen, "--url must look like ws://host:port/ws or wss://...");
        goto fail;
    }
    c->tls = !strcmp(proto, "wss");
    strlcpy_aa(c->host, addr, sizeof(c->host));
    snprintf(c->path, sizeof(c->path), "/%s", path);
    strlcpy_aa(c->session, o->session, sizeof(c->session));
    strlcpy_aa(c->token, o->token ? o->token : "", sizeof(c->token));
    c->insecure = o->insecure;
    c->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 10000;
    c->backoff_ms = 250;
    c->on_state = on_state;
    c->on_event = on_event;
    c->arg = arg;
    c->loop = g_main_loop_new(NULL, FALSE);

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *loops[] = {c->loop};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_GLIB;
    info.foreign_loops = loops;
    info.user = c;
    if (o->ca_file && o->ca_file[0])
        info.client_ssl_ca_filepath = o->ca_file;
    info.gid = -1;
    info.uid = -1;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        snprintf(err, errlen, "cannot create the libwebsockets context (GLib event library)");
        goto fail;
    }
    c->heartbeat_src = g_timeout_add((guint)c->heartbeat_ms, heartbeat_tick, c);
    c->resend_src = g_timeout_add(250, resend_tick, c);
    c->reconnect_src = g_idle_add(connect_now, c);
    return c;
fail:
    if (c->loop)
        g_main_loop_unref(c->loop);
    free(c);
    return NULL;
}

int cl_conn_is_up(const struct cl_conn *c)
{
    return c->up;
}

const char *cl_conn_last_id(const struct cl_conn *c)
{
    return c->last_id;
}

const char *cl_conn_session(const struct cl_conn *c)
{
    return c->session;
}

size_t cl_conn_queued(const struct cl_conn *c)
{
    return c->queued;
}

size_t cl_conn_unacked(const struct cl_conn *c)
{
    size_t n = 0;
    for (const struct answer *a = c->answers; a; a = a->next)
        n++;
    return n;
}

void cl_conn_close(struct cl_conn *c)
{
    c->closing = 1;
    if (c->reconnect_src) {
        g_source_remove(c->reconnect_src);
        c->reconnect_src = 0;
    }
    if (c->wsi && c->up)
        lws_callback_on_writable(c->wsi);
    else if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    else if (!c->closed_src)
        c->closed_src = g_idle_add(report_closed, c);
}

void cl_conn_free(struct cl_conn *c)
{
    if (!c)
        return;
    guint srcs[] = {c->reconnect_src, c->heartbeat_src, c->resend_src, c->closed_src};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
        if (srcs[i])
            g_source_remove(srcs[i]);
    c->freeing = 1; /* callbacks from the context's destruction do nothing */
    lws_context_destroy(c->ctx);
    while (c->out_head) {
        struct outmsg *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    while (c->answers) {
        struct answer *a = c->answers;
        c->answers = a->next;
        free(a->text);
        free(a);
    }
    while (c->beats) {
        struct beat *b = c->beats;
        c->beats = b->next;
        free(b);
    }
    g_main_loop_unref(c->loop);
    free(c->rx);
    free(c);
}
