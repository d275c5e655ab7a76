/* intent.h -- What a chat message asks the built-in provider to do, read
 * the way a careful person would: requests versus questions, statements and
 * reported speech ("I connected yesterday", "it says disconnected"),
 * negation ("don't", "not yet", "without"), politeness, common typos.
 * Actions that change the machine (connect, disconnect) need a clear
 * request; a message that names one without asking gets a question back. */
#ifndef AA_INTENT_H
#define AA_INTENT_H

enum intent_kind {
    INTENT_NONE,       /* nothing to do: chat, a statement, or a refused action */
    INTENT_CONNECT,    /* run_client_command connect_vpn */
    INTENT_DISCONNECT, /* run_client_command disconnect_vpn */
    INTENT_STATUS,     /* get_vpn_status */
    INTENT_LOGS,       /* analyze_logs with log_type */
    INTENT_ASK,        /* ambiguous: ask before acting (reply says what) */
};

struct intent {
    enum intent_kind kind;
    const char *log_type; /* INTENT_LOGS: "vpn", "network" or "system" */
    const char *reply;    /* INTENT_NONE / INTENT_ASK: what to answer (static), or NULL */
};

/* Reads prompt (UTF-8) into out. Pure: no allocation that outlives the
 * call, no I/O. */
void intent_parse(const char *prompt, struct intent *out);

#endif
