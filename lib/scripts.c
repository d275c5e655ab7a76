/* scripts.c -- Packing the arguments of the generated script calls
 * (build/gen/scripts_gen.c) and decoding the replies several callers read. */
#include "scripts.h"

#include <stdlib.h>
#include <string.h>

static int last_set(const char *const *a, int req, int n)
{
    int last = req;
    for (int i = req; i < n; i++)
        if (a[i])
            last = i + 1;
    return last;
}

void scripts_pack(struct scripts_call *c, const char *name, const char *const *k, int kreq, int nk,
                  const char *const *v, const size_t *l, int vreq, int nv)
{
    c->name = name;
    c->nkeys = last_set(k, kreq, nk);
    int na = last_set(v, vreq, nv);
    if (c->nkeys + na > SCRIPTS_MAX_ARGS)
        abort(); /* a script with more arguments than any of lua/: a programming error */
    c->n = 0;
    for (int i = 0; i < c->nkeys; i++) {
        c->v[c->n] = k[i] ? k[i] : "";
        c->l[c->n] = strlen(c->v[c->n]);
        c->n++;
    }
    for (int i = 0; i < na; i++) {
        c->v[c->n] = v[i] ? v[i] : "";
        c->l[c->n] = v[i] && l[i] != SCRIPTS_STRLEN ? l[i] : strlen(c->v[c->n]);
        c->n++;
    }
}

void scripts_pack_rest(struct scripts_call *c, const char *const *v, int n)
{
    if (n < 0 || c->n + n > SCRIPTS_MAX_ARGS)
        abort(); /* longer than any caller makes: a programming error */
    for (int i = 0; i < n; i++) {
        c->v[c->n] = v[i] ? v[i] : "";
        c->l[c->n] = strlen(c->v[c->n]);
        c->n++;
    }
}

enum scripts_completion scripts_cb_complete_reply(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element[0]->str ||
        !r->element[1]->str)
        return SCRIPTS_CB_UNAVAILABLE;
    const char *verdict = r->element[0]->str, *what = r->element[1]->str;
    if (!strcmp(verdict, "ok"))
        return !strcmp(what, "duplicate")   ? SCRIPTS_CB_DUPLICATE
               : !strcmp(what, "heartbeat") ? SCRIPTS_CB_HEARTBEAT
                                            : SCRIPTS_CB_RECORDED;
    if (!strcmp(what, "not_found"))
        return SCRIPTS_CB_NOT_FOUND;
    if (!strcmp(what, "expired"))
        return SCRIPTS_CB_EXPIRED;
    if (!strcmp(what, "conflict"))
        return SCRIPTS_CB_CONFLICT;
    return SCRIPTS_CB_UNAVAILABLE;
}

const char *scripts_completion_name(enum scripts_completion v)
{
    static const char *const names[] = {"recorded", "duplicate", "heartbeat",  "not_found",
                                        "expired",  "conflict",  "unavailable"};
    return v <= SCRIPTS_CB_UNAVAILABLE ? names[v] : "unavailable";
}
