/* ctl_main.c -- aa-ctl: inspect and operate a live system (executions,
 * callbacks, streams, dead letters, connections), all of it also readable
 * with plain redis-cli (see docs/ARCHITECTURE.md). */
#include "cfg.h"
#include "ctl_cells.h"
#include "dur_exec.h"
#include "dur_resume.h"
#include "ids.h"
#include "jwt.h"
#include "keys.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cfg_opt opts[] = {
    {"redis", CFG_STR, "127.0.0.1:6379", 0, 512,
     "Redis address (host:port, unix:/path or cluster:host:port,...)", NULL, 0},
    KEYS_CELLS_OPT,
    {"status", CFG_STR, "", 0, 32, "executions: only this status", NULL, 0},
    {"limit", CFG_INT, "50", 1, 100000, "executions/dead: at most this many", NULL, 0},
    {"token-secret", CFG_STR, "", 0, 1024, "token: the gateway's HS256 secret", NULL, 0},
    {"issuer", CFG_STR, "agent-async", 0, 63, "token: issuer (iss)", NULL, 0},
    {"sub", CFG_STR, "user", 0, 128, "token: subject (who)", NULL, 0},
    {"session", CFG_STR, "", 0, 128, "token: bind to this session id", NULL, 0},
    {"scope", CFG_STR, "client", 0, 255,
     "token: scopes (client, callbacks, mcp; admin acts on every session)", NULL, 0},
    {"ttl-s", CFG_INT, "86400", 1, 31536000, "token: lifetime in seconds", NULL, 0},
    CFG_END,
};

static const char usage[] =
    "usage: aa-ctl COMMAND [ARGS] [options]\n\n"
    "Commands:\n"
    "  executions                 list executions (--status S, --limit N)\n"
    "  show EXEC_ID               one execution with its checkpoint log\n"
    "  callbacks                  callbacks waiting for the desktop, with deadlines\n"
    "  streams                    job streams: length, consumers, pending, lag\n"
    "  dead                       dead-lettered executions\n"
    "  sessions                   sessions with connections, active turn and queue\n"
    "  complete CB_ID succeed|fail|heartbeat [PAYLOAD]\n"
    "                             complete a callback as an operator (any session)\n"
    "  cancel EXEC_ID [REASON]    end an execution that has not ended as cancelled\n"
    "  sweep                      resume anything the notifications missed, now\n"
    "  key exec|cb|outbox ID      the Redis name of a record (in its cell)\n"
    "  key session SID WHAT       aa:session:SID:WHAT (conns owner active queue memory)\n"
    "  key conn CID SID           a connection's record (in its session's cell)\n"
    "  key in ID NAME             NAME (aa:stream:tool, aa:cb:deadlines...) in ID's cell\n"
    "  key cells NAME             NAME in every cell, one a line\n"
    "  key any NAME               NAME as a SCAN pattern over every cell\n"
    "  key masters                the masters' addresses, one a line (SCAN runs on each)\n"
    "  cells [show|plan|balance]  a cluster's cells by master; move whole cells (live) so\n"
    "                             every master serves as many (plan: say what would move)\n"
    "  token                      mint a bearer token (--token-secret or AA_TOKEN_SECRET,\n"
    "                             --sub, --session, --scope, --ttl-s)";

static void print_hash(redisReply *r, const char *indent)
{
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        printf("%s%-14s %s\n", indent, r->element[i]->str, r->element[i + 1]->str);
}

/* Calls each(rc, key, arg) for every key matching pattern, on every master
 * (SCAN is one node's). Returns 0 / -1 (Redis unreachable). */
static int scan_all(struct rconn *rc, const char *pattern,
                    int (*each)(struct rconn *rc, const char *key, void *arg), void *arg)
{
    size_t masters = rconn_masters(rc);
    for (size_t m = 0; m < masters; m++) {
        char cursor[32] = "0";
        do {
            redisContext *ctx = rconn_master_ctx(rc, m, NULL);
            redisReply *r =
                ctx ? redisCommand(ctx, "SCAN %s MATCH %s COUNT 500", cursor, pattern) : NULL;
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                if (r)
                    freeReplyObject(r);
                return -1;
            }
            strlcpy_aa(cursor, r->element[0]->str, sizeof(cursor));
            int more = 1;
            for (size_t i = 0; more && i < r->element[1]->elements; i++)
                more = each(rc, r->element[1]->element[i]->str, arg);
            freeReplyObject(r);
            if (!more)
                return 0;
        } while (strcmp(cursor, "0") != 0);
    }
    return 0;
}

struct exec_list {
    const char *want;
    long long limit, shown;
};

static int print_exec(struct rconn *rc, const char *k, void *arg)
{
    struct exec_list *x = arg;
    const char *id = keys_id_of(k, "exec:");
    redisReply *f = id ? rconn_cmd(rc, "HMGET %s status handler session updated_ms", k) : NULL;
    if (f && f->type == REDIS_REPLY_ARRAY && f->element[0]->str &&
        (!*x->want || !strcmp(x->want, f->element[0]->str))) {
        printf("%-40s %-10s %-8s %-20s %s\n", id, f->element[0]->str,
               f->element[1]->str ? f->element[1]->str : "",
               f->element[2]->str ? f->element[2]->str : "",
               f->element[3]->str ? f->element[3]->str : "");
        x->shown++;
    }
    if (f)
        freeReplyObject(f);
    return x->shown < x->limit;
}

static int cmd_executions(struct rconn *rc)
{
    struct exec_list x = {cfg_str(opts, "status"), cfg_int(opts, "limit"), 0};
    char pat[KEYS_MAX];
    keys_any_cell(pat, sizeof(pat), KEYS_EXEC_PATTERN);
    printf("%-40s %-10s %-8s %-20s %s\n", "EXECUTION", "STATUS", "HANDLER", "SESSION",
           "UPDATED_MS");
    return scan_all(rc, pat, print_exec, &x) < 0 ? 1 : 0;
}

static int cmp_op(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    return atoi(x->str + 3) - atoi(y->str + 3);
}

static int cmd_show(struct rconn *rc, const char *id)
{
    char key[KEYS_MAX];
    keys_exec(key, sizeof(key), id);
    redisReply *r = rconn_cmd(rc, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        fprintf(stderr, "aa-ctl: no execution '%s'\n", id);
        if (r)
            freeReplyObject(r);
        return 1;
    }
    printf("execution %s\n", id);
    size_t nops = 0;
    redisReply **ops = xcalloc(r->elements / 2 + 1, sizeof(*ops));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (!strncmp(r->element[i]->str, "op:", 3))
            ops[nops++] = r->element[i];
        else
            printf("  %-14s %s\n", r->element[i]->str, r->element[i + 1]->str);
    }
    qsort(ops, nops, sizeof(*ops), cmp_op);
    printf("operations (%zu)\n", nops);
    for (size_t k = 0; k < nops; k++)
        for (size_t i = 0; i + 1 < r->elements; i += 2)
            if (r->element[i] == ops[k])
                printf("  %-4s %s\n", ops[k]->str + 3, r->element[i + 1]->str);
    free(ops);
    freeReplyObject(r);
    return 0;
}

static int cmd_callbacks(struct rconn *rc)
{
    long long now = (long long)wall_ms(), completed = 0;
    printf("%-36s %-10s %-20s %-34s %s\n", "CALLBACK", "STATUS", "SESSION", "EXECUTION",
           "DUE_IN_MS");
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        char z[KEYS_MAX], key[KEYS_MAX];
        keys_in_cell(z, sizeof(z), KEYS_CB_DEADLINES, cell);
        redisReply *r = rconn_cmd(rc, "ZRANGE %s 0 -1 WITHSCORES", z);
        if (!r)
            return 1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
            keys_cb(key, sizeof(key), r->element[i]->str);
            redisReply *f = rconn_cmd(rc, "HMGET %s status session exec", key);
            if (f && f->type == REDIS_REPLY_ARRAY)
                printf("%-36s %-10s %-20s %-34s %lld\n", r->element[i]->str,
                       f->element[0]->str ? f->element[0]->str : "?",
                       f->element[1]->str ? f->element[1]->str : "",
                       f->element[2]->str ? f->element[2]->str : "",
                       atoll(r->element[i + 1]->str) - now);
            if (f)
                freeReplyObject(f);
        }
        freeReplyObject(r);
        keys_in_cell(z, sizeof(z), KEYS_CB_COMPLETED, cell);
        r = rconn_cmd(rc, "ZCARD %s", z);
        if (r && r->type == REDIS_REPLY_INTEGER)
            completed += r->integer;
        if (r)
            freeReplyObject(r);
    }
    printf("completed, not yet resumed: %lld\n", completed);
    return 0;
}

static int cmd_streams(struct rconn *rc)
{
    const char *streams[] = {KEYS_STREAM_AGENT, KEYS_STREAM_TOOL, KEYS_STREAM_DEAD};
    for (unsigned cell = 0; cell < keys_cells(); cell++)
        for (int i = 0; i < 3; i++) {
            char name[KEYS_MAX];
            keys_in_cell(name, sizeof(name), streams[i], cell);
            redisReply *l = rconn_cmd(rc, "XLEN %s", name);
            printf("%s length=%lld\n", name, l ? l->integer : -1);
            if (l)
                freeReplyObject(l);
            redisReply *g = rconn_cmd(rc, "XINFO GROUPS %s", name);
            for (size_t j = 0; g && g->type == REDIS_REPLY_ARRAY && j < g->elements; j++) {
                printf("  group");
                redisReply *e = g->element[j];
                for (size_t k = 0; k + 1 < e->elements; k += 2) {
                    if (e->element[k + 1]->type == REDIS_REPLY_INTEGER)
                        printf(" %s=%lld", e->element[k]->str, e->element[k + 1]->integer);
                    else if (e->element[k + 1]->str)
                        printf(" %s=%s", e->element[k]->str, e->element[k + 1]->str);
                }
                printf("\n");
            }
            if (g)
                freeReplyObject(g);
        }
    return 0;
}

static int cmd_dead(struct rconn *rc)
{
    for (unsigned cell = 0; cell < keys_cells(); cell++) {
        char name[KEYS_MAX];
        keys_in_cell(name, sizeof(name), KEYS_STREAM_DEAD, cell);
        redisReply *r = rconn_cmd(rc, "XREVRANGE %s + - COUNT %lld", name, cfg_int(opts, "limit"));
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            printf("%s\n", r->element[i]->element[0]->str);
            print_hash(r->element[i]->element[1], "  ");
        }
        if (r)
            freeReplyObject(r);
    }
    return 0;
}

static int print_session(struct rconn *rc, const char *k, void *arg)
{
    (void)arg;
    const char *at = strstr(k, "session:"); /* aa:[{ck}:]session:{sid}:conns */
    char sid[160], key[KEYS_MAX];
    size_t len = at ? strlen(at + 8) : 0;
    if (len <= strlen(":conns") || len - strlen(":conns") >= sizeof(sid))
        return 1;
    len -= strlen(":conns");
    memcpy(sid, at + 8, len);
    sid[len] = '\0';
    redisReply *n = rconn_cmd(rc, "SCARD %s", k);
    redisReply *a = rconn_cmd(rc, "GET %s", keys_session(key, sizeof(key), sid, "active"));
    redisReply *q = rconn_cmd(rc, "LLEN %s", keys_session(key, sizeof(key), sid, "queue"));
    printf("%-30s %-6lld %-34s %lld\n", sid, n ? n->integer : 0, a && a->str ? a->str : "-",
           q ? q->integer : 0);
    if (n)
        freeReplyObject(n);
    if (a)
        freeReplyObject(a);
    if (q)
        freeReplyObject(q);
    return 1;
}

static int cmd_sessions(struct rconn *rc)
{
    char pat[KEYS_MAX];
    keys_any_cell(pat, sizeof(pat), KEYS_SESSION_CONNS_PATTERN);
    printf("%-30s %-6s %-34s %s\n", "SESSION", "CONNS", "ACTIVE_TURN", "QUEUED");
    return scan_all(rc, pat, print_session, NULL) < 0 ? 1 : 0;
}

/* Prints one Redis name (or several), so that scripts and operators can
 * use redis-cli -c without knowing the cells. */
static int cmd_key(struct rconn *rc, char **pos, int npos)
{
    char b[KEYS_MAX];
    const char *what = pos[0];
    if (npos == 2 && !strcmp(what, "exec"))
        puts(keys_exec(b, sizeof(b), pos[1]));
    else if (npos == 2 && !strcmp(what, "cb"))
        puts(keys_cb(b, sizeof(b), pos[1]));
    else if (npos == 2 && !strcmp(what, "outbox"))
        puts(keys_outbox(b, sizeof(b), pos[1]));
    else if (npos == 3 && !strcmp(what, "session"))
        puts(keys_session(b, sizeof(b), pos[1], pos[2]));
    else if (npos == 3 && !strcmp(what, "conn"))
        puts(keys_conn(b, sizeof(b), pos[1], keys_cell_of(pos[2])));
    else if (npos == 3 && !strcmp(what, "in"))
        puts(keys_in_cell(b, sizeof(b), pos[2], keys_cell_of(pos[1])));
    else if (npos == 2 && !strcmp(what, "cells"))
        for (unsigned c = 0; c < keys_cells(); c++)
            puts(keys_in_cell(b, sizeof(b), pos[1], c));
    else if (npos == 2 && !strcmp(what, "any"))
        puts(keys_any_cell(b, sizeof(b), pos[1]));
    else if (npos == 1 && !strcmp(what, "masters"))
        for (size_t i = 0; i < rconn_masters(rc); i++) {
            const char *a = NULL;
            if (!rconn_master_ctx(rc, i, &a) || !a)
                return 1;
            puts(a);
        }
    else {
        fprintf(stderr, "aa-ctl: key: unknown kind or wrong arguments (see --help)\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        cfg_usage(opts, usage);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    static const char *const known[] = {"executions", "show",  "callbacks", "streams", "dead",
                                        "sessions",   "sweep", "complete",  "token",   "cancel",
                                        "key",        "cells", NULL};
    int found = 0;
    for (int i = 0; known[i]; i++)
        found |= !strcmp(cmd, known[i]);
    if (!found) {
        fprintf(stderr, "aa-ctl: unknown command '%s' (the command comes first; see --help)\n",
                cmd);
        return 2;
    }
    int k = 2;
    while (k < argc && strncmp(argv[k], "--", 2) != 0)
        k++;
    /* the positional arguments, copied before argv[k - 1] becomes the
     * program name for the option parser */
    char *pos[8];
    int npos = k - 2;
    if (npos > 8) {
        fprintf(stderr, "aa-ctl: too many arguments\n");
        return 2;
    }
    for (int i = 0; i < npos; i++)
        pos[i] = argv[2 + i];
    argv[k - 1] = argv[0];
    cfg_parse_or_exit(opts, argc - (k - 1), argv + (k - 1), usage);
    log_init("ctl", "warn");
    if (!strcmp(cmd, "token")) {
        struct jwt_claims c;
        memset(&c, 0, sizeof(c));
        strlcpy_aa(c.iss, cfg_str(opts, "issuer"), sizeof(c.iss));
        strlcpy_aa(c.sub, cfg_str(opts, "sub"), sizeof(c.sub));
        strlcpy_aa(c.sid, cfg_str(opts, "session"), sizeof(c.sid));
        strlcpy_aa(c.scope, cfg_str(opts, "scope"), sizeof(c.scope));
        c.iat = wall_ms() / 1000;
        c.exp = c.iat + cfg_int(opts, "ttl-s");
        char tok[4096];
        const char *bind = cfg_str(opts, "session");
        if (bind[0] && !id_valid(bind, 128)) {
            fprintf(stderr, "aa-ctl: --session must be a session id (1-128 of A-Z a-z 0-9 . _ : "
                            "-); there is no wildcard: use --scope admin\n");
            cfg_free(opts);
            return 2;
        }
        int ok = npos == 0 && strlen(cfg_str(opts, "token-secret")) >= 32 &&
                 jwt_mint(cfg_str(opts, "token-secret"), &c, tok, sizeof(tok)) > 0;
        if (ok)
            printf("%s\n", tok);
        else
            fprintf(stderr, "aa-ctl: token needs --token-secret (or AA_TOKEN_SECRET) of at least "
                            "32 bytes and no arguments\n");
        cfg_free(opts);
        return ok ? 0 : 2;
    }
    struct rconn *rc = rconn_new(cfg_str(opts, "redis"));
    char err[256];
    if (rconn_connect(rc, err, sizeof(err)) < 0 ||
        keys_cells_read(rc, (unsigned)cfg_int(opts, "cells"), err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-ctl: %s\n", err);
        rconn_free(rc);
        cfg_free(opts);
        return 1;
    }
    int rcode = 2;
    if (!strcmp(cmd, "executions") && npos == 0)
        rcode = cmd_executions(rc);
    else if (!strcmp(cmd, "show") && npos == 1)
        rcode = cmd_show(rc, pos[0]);
    else if (!strcmp(cmd, "callbacks") && npos == 0)
        rcode = cmd_callbacks(rc);
    else if (!strcmp(cmd, "streams") && npos == 0)
        rcode = cmd_streams(rc);
    else if (!strcmp(cmd, "dead") && npos == 0)
        rcode = cmd_dead(rc);
    else if (!strcmp(cmd, "sessions") && npos == 0)
        rcode = cmd_sessions(rc);
    else if (!strcmp(cmd, "key") && npos >= 1)
        rcode = cmd_key(rc, pos, npos);
    else if (!strcmp(cmd, "cells") && (npos == 0 || (npos == 1 && !strcmp(pos[0], "show"))))
        rcode = ctl_cells_show(rc);
    else if (!strcmp(cmd, "cells") && npos == 1 && !strcmp(pos[0], "plan"))
        rcode = ctl_cells_balance(rc, 1);
    else if (!strcmp(cmd, "cells") && npos == 1 && !strcmp(pos[0], "balance"))
        rcode = ctl_cells_balance(rc, 0);
    else if (!strcmp(cmd, "sweep") && npos == 0) {
        int n = dur_sweep(rc, 86400, 0);
        printf("resumed %d\n", n);
        rcode = n < 0;
    } else if (!strcmp(cmd, "cancel") && (npos == 1 || npos == 2)) {
        int n = dur_cancel(rc, pos[0], npos == 2 ? pos[1] : "cancelled by an operator", 86400);
        if (n < 0)
            fprintf(stderr, "aa-ctl: %s\n", rconn_error(rc));
        else
            printf("%s\n", n ? "cancelled" : "not running (ended or unknown)");
        rcode = n != 1;
    } else if (!strcmp(cmd, "complete") && (npos == 2 || npos == 3) &&
               (!strcmp(pos[1], "succeed") || !strcmp(pos[1], "fail") ||
                !strcmp(pos[1], "heartbeat"))) {
        const char *payload = npos == 3 ? pos[2] : "";
        struct dur_caller op = {"", "", 1}; /* an operator acts on any session */
        redisReply *r = dur_complete_as(rc, pos[0], pos[1], &op, payload, strlen(payload));
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            printf("%s %s\n", r->element[0]->str, r->element[1]->str);
            rcode = strcmp(r->element[0]->str, "ok") != 0;
        } else {
            fprintf(stderr, "aa-ctl: %s\n", r && r->str ? r->str : rconn_error(rc));
            rcode = 1;
        }
        if (r)
            freeReplyObject(r);
    } else {
        fprintf(stderr, "aa-ctl: unknown command or wrong arguments: '%s' (see --help)\n", cmd);
    }
    rconn_free(rc);
    cfg_free(opts);
    return rcode;
}
