/* scripts.h -- One typed call per Lua script of lua/: an argument struct
 * in (struct scripts_NAME, one field per KEY and ARGV in the script's
 * order), the reply out, on the blocking (rconn) and the asynchronous
 * (rasync) connection alike. The structs and calls are generated at build
 * time from each script's "--@keys" and "--@argv" lines (lua/scripts.sh),
 * which also checks them against the KEYS[n] and ARGV[n] the script uses:
 * a caller and its script cannot disagree on the count or the order.
 * Optional arguments (marked "?", all at the end) may be NULL: trailing
 * NULLs are not sent, and a NULL before a value is sent as "". The replies
 * that several callers read are decoded here, once. */
#ifndef AA_SCRIPTS_H
#define AA_SCRIPTS_H

#include "rasync.h"
#include "rconn.h"

#include <stddef.h>

/* A length that means "strlen of the argument". */
#define SCRIPTS_STRLEN ((size_t)-1)
/* Keys and arguments of one call, a "*" list included (exec_batch.lua's
 * longest: 8 + 5 x DUR_BATCH_MAX ends + DUR_BATCH_MAX claims). */
#define SCRIPTS_MAX_ARGS 224

/* The arguments of one call, ready for rconn_eval, rasync_eval or a
 * pipeline (script_argv). Borrowed: the strings of the struct it was
 * packed from. */
struct scripts_call {
    const char *name;
    int nkeys, n;
    const char *v[SCRIPTS_MAX_ARGS];
    size_t l[SCRIPTS_MAX_ARGS];
};

/* Packs nk keys (the first kreq required) and nv arguments (the first vreq
 * required; l holds a length or SCRIPTS_STRLEN each) into c. Used by the
 * generated code. */
void scripts_pack(struct scripts_call *c, const char *name, const char *const *k, int kreq, int nk,
                  const char *const *v, const size_t *l, int vreq, int nv);
/* Appends n more arguments (a script's "*" list) to c. */
void scripts_pack_rest(struct scripts_call *c, const char *const *v, int n);

#include "scripts_gen.h"

/* What lua/cb_complete.lua answered. */
enum scripts_completion {
    SCRIPTS_CB_RECORDED,    /* the outcome is recorded */
    SCRIPTS_CB_DUPLICATE,   /* the same outcome again: nothing changed */
    SCRIPTS_CB_HEARTBEAT,   /* the deadline moved */
    SCRIPTS_CB_NOT_FOUND,   /* no such callback for this caller */
    SCRIPTS_CB_EXPIRED,     /* it timed out or had already ended */
    SCRIPTS_CB_CONFLICT,    /* it was completed with another outcome */
    SCRIPTS_CB_UNAVAILABLE, /* no reply (Redis unreachable) or not the script's */
};
enum scripts_completion scripts_cb_complete_reply(const redisReply *r);
/* Borrowed: static. The verdict's word: "recorded", "not_found", ... */
const char *scripts_completion_name(enum scripts_completion v);

#endif
