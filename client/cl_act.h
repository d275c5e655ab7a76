/* cl_act.h -- What the agent may ask of this computer, shared by aa-client
 * and aa-desktop: the configured actions (connect, disconnect, status, log
 * collection), the user's approval, running their commands (cl_exec) and
 * answering with the real outcome. A callback request is answered with the
 * result or a failure in words (denied_by_user, could not start, exit
 * status, timed out); a fire-and-forget command that fails or is denied is
 * reported to the agent as a chat message starting with CL_ACT_REPORT, so
 * the agent and the user see it. The server names an action, never a
 * command line. */
#ifndef AA_CL_ACT_H
#define AA_CL_ACT_H

#include "cl_conn.h"
#include "tooldef.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CL_ACT_REPORT TOOLDEF_REPORT_PREFIX

enum cl_act_phase { CL_ACT_ASKING, CL_ACT_RUNNING, CL_ACT_DONE };

struct cl_activity {
    unsigned id;
    char action[32];       /* connect_vpn, disconnect_vpn, vpn_status, logs_vpn, ... */
    char title[64];        /* "connect the VPN", "collect the vpn logs" */
    char requested_by[96]; /* "the chat", "MCP client <id>" */
    char cbid[64];         /* empty: fire-and-forget */
    char cmd[4100];        /* the exact command list that runs */
    int changes;           /* it changes the machine */
    enum cl_act_phase phase;
    int ok;             /* DONE: it did what was asked */
    int denied;         /* DONE: the user (or the policy) said no */
    char outcome[600];  /* DONE: in words, one line */
    char status[16];    /* vpn_status: connected / disconnected */
    size_t bytes;       /* log collections: bytes collected */
    const char *output; /* DONE: the output; borrowed, valid until cl_act_free */
    int64_t started_ms, elapsed_ms;
};

enum cl_act_decision { CL_ACT_ALLOW_ONCE, CL_ACT_ALLOW_ALWAYS, CL_ACT_DENY };

struct cl_act_ui {
    /* An activity was added or changed. Borrowed: a, during the call. */
    void (*changed)(const struct cl_activity *a, void *arg);
    /* The user must decide about a (phase ASKING); answer later with
     * cl_act_decide. One question at a time: the next comes after the
     * answer. NULL: there is no one to ask, and "ask" denies. */
    void (*ask)(const struct cl_activity *a, void *arg);
    /* A notice in words (level "info" or "error"), said once. */
    void (*say)(const char *level, const char *text, void *arg);
};

struct cl_act;

/* Borrowed: conn, ui (both must outlive the result). Returns: owned, free
 * with cl_act_free. */
struct cl_act *cl_act_new(struct cl_conn *conn, const struct cl_act_ui *ui, void *arg);

/* Takes a gateway message if it is a request for an action or the
 * gateway's reply about one of our answers (own, from cl_conn). Returns 1
 * when taken, 0 otherwise. Borrowed: msg. */
int cl_act_handle(struct cl_act *a, json_t *msg, int own);

/* The user's decision about activity id (ignored when it is not asking). */
void cl_act_decide(struct cl_act *a, unsigned id, enum cl_act_decision d);

/* The activity whose question the user has now, or 0. */
unsigned cl_act_asking(const struct cl_act *a);
/* Denies every question, asked or waiting (the user left). */
void cl_act_deny_all(struct cl_act *a);

/* Activities still asking or running. */
int cl_act_busy(const struct cl_act *a);
/* Borrowed: valid until cl_act_free; NULL when unknown. */
const struct cl_activity *cl_act_get(const struct cl_act *a, unsigned id);

/* Whether a VPN status output means connected: with a match, a line that
 * starts with it (any case, leading blanks ignored); else "connected"
 * without "disconnected", or nmcli's ":vpn:activated". */
int cl_act_vpn_connected(const char *output, const char *match);

/* Cancels what runs (answers still go out), frees everything. */
void cl_act_free(struct cl_act *a);

#endif
