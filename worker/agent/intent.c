/* intent.c -- Reading what a chat message asks for (see intent.h): the text
 * is lowered, contractions expanded and typos of the words that matter
 * corrected; it is cut into clauses (at punctuation and at "and", "but",
 * "then"), and each clause is judged on its own: is an action named, is it
 * negated, is it asked for, or only told about, asked about or reported.
 * Rules, not a language model; tests/unit/check_intent.c is the table. */
#include "intent.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 160
#define TOKEN_LEN 24

struct words {
    int n;
    char w[MAX_TOKENS][TOKEN_LEN];
};

static void push(struct words *t, const char *s, size_t len)
{
    if (t->n >= MAX_TOKENS || len == 0)
        return;
    if (len >= TOKEN_LEN)
        len = TOKEN_LEN - 1;
    memcpy(t->w[t->n], s, len);
    t->w[t->n][len] = '\0';
    t->n++;
}

static int is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static int in(const char *w, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (is(w, list[i]))
            return 1;
    return 0;
}

/* Damerau-Levenshtein distance of at most one (one edit or one swap). */
static int near(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb + 1 || lb > la + 1)
        return 0;
    size_t i = 0;
    while (i < la && i < lb && a[i] == b[i])
        i++;
    if (i == la && i == lb)
        return 1;
    if (la == lb)
        return !strcmp(a + i + 1, b + i + 1) || (i + 1 < la && a[i] == b[i + 1] &&
                                                 a[i + 1] == b[i] && !strcmp(a + i + 2, b + i + 2));
    return la > lb ? !strcmp(a + i + 1, b + i) : !strcmp(a + i, b + i + 1);
}

/* The words that decide; a typo of one (5+ letters, same first letter) is
 * read as it. */
static const char *const vocab[] = {
    "connect",    "connects",    "connected",    "connecting",    "connection", "reconnect",
    "disconnect", "disconnects", "disconnected", "disconnecting", "status",     "please",
    "check",      "analyze",     "diagnose",     "troubleshoot",  "network",    "system",
    "dropping",   "working",     "unstable",     "problem",       "yesterday",  "without",
    "logs",       NULL};

static void canon(char *w)
{
    static const char *const vpn[] = {"vpn", "vpns", "vnp", "vpm", "pvn", "vpb", "vpn's", NULL};
    static const char *const plz[] = {"pls", "plz", "pleas", "plese", NULL};
    if (in(w, vpn)) {
        strcpy(w, "vpn");
        return;
    }
    if (in(w, plz)) {
        strcpy(w, "please");
        return;
    }
    if (is(w, "log") || is(w, "lgos") || is(w, "logz")) {
        strcpy(w, "logs");
        return;
    }
    size_t n = strlen(w);
    if (n < 5 || in(w, vocab))
        return;
    for (int i = 0; vocab[i]; i++)
        if (vocab[i][0] == w[0] && near(w, vocab[i])) {
            strcpy(w, vocab[i]);
            return;
        }
}

/* Splits a contraction ("don't", "dont", "what's", "i'm") into words. */
static void word(struct words *t, const char *s, size_t len)
{
    static const struct {
        const char *from, *a, *b;
    } fixed[] = {
        {"won't", "will", "not"},    {"wont", "will", "not"},     {"can't", "can", "not"},
        {"cant", "can", "not"},      {"cannot", "can", "not"},    {"dont", "do", "not"},
        {"doesnt", "does", "not"},   {"didnt", "did", "not"},     {"isnt", "is", "not"},
        {"arent", "are", "not"},     {"wasnt", "was", "not"},     {"shouldnt", "should", "not"},
        {"wouldnt", "would", "not"}, {"couldnt", "could", "not"}, {"im", "i", "am"},
        {"i'm", "i", "am"},          {"let's", "let", "us"},      {"lets", "let", "us"},
        {"wanna", "want", "to"},     {"gonna", "going", "to"},    {"whats", "what", "is"}};
    char buf[64];
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (is(buf, fixed[i].from)) {
            push(t, fixed[i].a, strlen(fixed[i].a));
            push(t, fixed[i].b, strlen(fixed[i].b));
            return;
        }
    static const struct {
        const char *suffix, *word;
    } tails[] = {{"n't", "not"},  {"'s", "is"},    {"'re", "are"}, {"'ll", "will"},
                 {"'ve", "have"}, {"'d", "would"}, {"'m", "am"}};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        size_t sl = strlen(tails[i].suffix);
        if (len > sl && !strcmp(buf + len - sl, tails[i].suffix)) {
            buf[len - sl] = '\0';
            push(t, buf, strlen(buf));
            push(t, tails[i].word, strlen(tails[i].word));
            return;
        }
    }
    push(t, buf, len);
}

/* Lowers, splits into words and clause marks ("|"), keeps "?" as a word. */
static void tokenize(const char *s, struct words *t)
{
    char cur[64];
    size_t n = 0;
    t->n = 0;
    for (const unsigned char *p = (const unsigned char *)s;; p++) {
        unsigned c = *p;
        if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99)) { /* ' and ' */
            c = '\'';
            p += 2;
        }
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     ((c == '\'' || c == '-') && n > 0);
        if (letter) {
            if (n + 1 < sizeof(cur))
                cur[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            continue;
        }
        while (n > 0 && (cur[n - 1] == '\'' || cur[n - 1] == '-'))
            n--;
        if (n) {
            word(t, cur, n);
            n = 0;
        }
        if (!c)
            break;
        if (c == '?')
            push(t, "?", 1);
        else if (c == '.' || c == '!' || c == ';' || c == ',' || c == ':' || c == '\n')
            push(t, "|", 1);
    }
    for (int i = 0; i < t->n; i++)
        canon(t->w[i]);
}

/* ---- one clause ----------------------------------------------------------- */

enum verdict { V_NONE, V_ACT, V_NEGATED, V_TOLD, V_ASKED_ABOUT, V_UNSURE, V_OTHER_TARGET };

struct clause {
    char (*w)[TOKEN_LEN];
    int n;
    int question; /* ends with "?" or opens like a question */
};

static int find(const struct clause *c, const char *w)
{
    for (int i = 0; i < c->n; i++)
        if (is(c->w[i], w))
            return i;
    return -1;
}

static int has(const struct clause *c, const char *w)
{
    return find(c, w) >= 0;
}

static int has_any(const struct clause *c, const char *const *list)
{
    for (int i = 0; i < c->n; i++)
        if (in(c->w[i], list))
            return 1;
    return 0;
}

/* 1 when the words at i are phrase (space-separated). */
static int at(const struct clause *c, int i, const char *phrase)
{
    char buf[96];
    strncpy(buf, phrase, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    char *save = NULL;
    for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save), i++)
        if (i >= c->n || !is(c->w[i], p))
            return 0;
    return 1;
}

static int has_phrase(const struct clause *c, const char *phrase)
{
    for (int i = 0; i < c->n; i++)
        if (at(c, i, phrase))
            return 1;
    return 0;
}

static const char *const negators[] = {"not", "never",   "no",     "without", "dont",
                                       "nor", "instead", "rather", "hold",    NULL};

/* 1 when a negation stands before word i ("don't forget to" is none). */
static int negated_before(const struct clause *c, int i)
{
    for (int j = 0; j < i; j++)
        if (in(c->w[j], negators) && !(j + 1 < c->n && is(c->w[j + 1], "forget")))
            return 1;
    return 0;
}

/* The request forms in front of an action verb at i: nothing (an
 * imperative), politeness, "can you", "I want to", "help me", "let's"... */
static int asked_for(const struct clause *c, int i)
{
    static const char *const filler[] = {
        "please", "kindly", "just", "now",         "ok",     "okay",     "hey",       "hi",
        "hello",  "so",     "then", "yes",         "yeah",   "sure",     "quickly",   "again",
        "asap",   "the",    "my",   "vpn",         "a",      "to",       "and",       "go",
        "ahead",  "right",  "away", "immediately", "also",   "agent",    "assistant", "could",
        "can",    "would",  "will", "you",         "u",      "mind",     "i",         "want",
        "need",   "like",   "help", "me",          "let",    "us",       "time",      "must",
        "should", "try",    "do",   "not",         "forget", "remember", "get",       "have",
        "gotta",  "got",    "am",   "going",       "would",  "really",   "be",        "able",
        NULL};
    for (int j = 0; j < i; j++)
        if (!in(c->w[j], filler))
            return 0;
    /* "can I", "should I", "do I": the user asks about doing it */
    for (int j = 0; j + 1 <= i; j++) {
        if (j + 1 < c->n &&
            (is(c->w[j], "can") || is(c->w[j], "should") || is(c->w[j], "do") ||
             is(c->w[j], "could") || is(c->w[j], "will") || is(c->w[j], "am")) &&
            is(c->w[j + 1], "i"))
            return 0;
    }
    return 1;
}

enum act { A_NONE, A_CONNECT, A_DISCONNECT, A_STATUS, A_LOGS, A_RESTART };

static int vpn_context(const struct clause *c)
{
    static const char *const ctx[] = {"vpn",       "tunnel",      "anyconnect", "openvpn",
                                      "wireguard", "openconnect", "ipsec",      NULL};
    return has_any(c, ctx);
}

/* What a clause names, the index of the word that names it, and how. */
static enum act named(const struct clause *c, int *where)
{
    static const char *const symptoms[] = {
        "dropping", "drops",  "flaky",    "unstable", "slow",    "laggy",    "problem", "problems",
        "issue",    "issues", "broken",   "error",    "errors",  "failing",  "fails",   "failure",
        "why",      "wrong",  "crashing", "crashes",  "timeout", "timeouts", NULL};
    static const char *const logwords[] = {"logs",         "diagnose", "diagnostics", "diagnostic",
                                           "troubleshoot", "analyze",  "analyse",     "investigate",
                                           "debug",        "journal",  "syslog",      NULL};
    static const char *const con[] = {"connect",   "connects",    "reconnect", "connecting",
                                      "connected", "reconnected", NULL};
    static const char *const dis[] = {"disconnect", "disconnects", "disconnecting", "disconnected",
                                      NULL};
    static const char *const on_verbs[] = {"start", "enable",   "establish", "open",
                                           "join",  "activate", NULL};
    static const char *const off_verbs[] = {"stop",       "disable",   "kill", "end", "close",
                                            "deactivate", "terminate", "drop", NULL};
    *where = 0;
    for (int i = 0; i < c->n; i++) {
        const char *w = c->w[i];
        /* a problem described: look at the logs */
        if ((is(w, "keeps") || is(w, "keep") || is(w, "kept")) && i + 1 < c->n &&
            (in(c->w[i + 1], dis) || in(c->w[i + 1], symptoms) || is(c->w[i + 1], "dropping") ||
             is(c->w[i + 1], "losing") || is(c->w[i + 1], "reconnecting"))) {
            *where = i;
            return A_LOGS;
        }
        if (is(w, "not") && i + 1 < c->n &&
            (is(c->w[i + 1], "working") || is(c->w[i + 1], "connecting") ||
             is(c->w[i + 1], "stable"))) {
            *where = i;
            return A_LOGS;
        }
        if ((is(w, "can") || is(w, "will") || is(w, "does") || is(w, "could")) && i + 2 < c->n &&
            is(c->w[i + 1], "not") && in(c->w[i + 2], con)) {
            *where = i;
            return A_LOGS; /* "it won't connect" */
        }
        if ((is(w, "unable") || is(w, "fails") || is(w, "failed") || is(w, "failing")) &&
            i + 2 < c->n && is(c->w[i + 1], "to") && in(c->w[i + 2], con)) {
            *where = i;
            return A_LOGS;
        }
    }
    /* questions about the state: "am I connected?", "is my VPN up?" */
    static const char *const states[] = {"connected", "disconnected", "on",      "up",
                                         "off",       "down",         "working", "running",
                                         "active",    "online",       NULL};
    for (int i = 0; i + 1 < c->n; i++) {
        if ((is(c->w[i], "am") || is(c->w[i], "are") || is(c->w[i], "is")) && c->question) {
            for (int j = i + 1; j < c->n && j <= i + 4; j++)
                if (in(c->w[j], states) &&
                    (vpn_context(c) || has(c, "i") || has(c, "we") || has(c, "it"))) {
                    *where = i;
                    return A_STATUS;
                }
        }
    }
    for (int i = 0; i < c->n; i++) {
        const char *w = c->w[i];
        if (in(w, logwords)) {
            *where = i;
            return A_LOGS;
        }
        if (in(w, symptoms) && (vpn_context(c) || has(c, "connection") || is(w, "why"))) {
            *where = i;
            return A_LOGS;
        }
        if (is(w, "status") || is(w, "state")) {
            *where = i;
            return A_STATUS;
        }
        if ((is(w, "restart") || is(w, "reboot") || is(w, "reset") || is(w, "bounce") ||
             is(w, "cycle")) &&
            vpn_context(c)) {
            *where = i;
            return A_RESTART;
        }
        if (in(w, dis) || at(c, i, "turn off") || at(c, i, "switch off") ||
            at(c, i, "turned off") || at(c, i, "switched off") || is(w, "stopped") ||
            at(c, i, "shut down") || at(c, i, "shut off") || at(c, i, "bring down") ||
            at(c, i, "take down") || at(c, i, "log out") || at(c, i, "sign out") ||
            (in(w, off_verbs) && vpn_context(c))) {
            *where = i;
            return A_DISCONNECT;
        }
        if (in(w, con) || at(c, i, "turn on") || at(c, i, "switch on") || at(c, i, "bring up") ||
            at(c, i, "turned on") || at(c, i, "switched on") || at(c, i, "hook up") ||
            (at(c, i, "get me on")) || (in(w, on_verbs) && vpn_context(c))) {
            *where = i;
            return A_CONNECT;
        }
    }
    if (c->question && vpn_context(c) && (has(c, "connected") || has(c, "working"))) {
        *where = 0;
        return A_STATUS;
    }
    if (has_phrase(c, "check my vpn") || has_phrase(c, "check the vpn") ||
        has_phrase(c, "check vpn")) {
        *where = find(c, "check");
        return A_STATUS;
    }
    return A_NONE;
}

static enum verdict judge(const struct clause *c, enum act a, int i)
{
    static const char *const others[] = {
        "printer",  "bluetooth", "headphones", "headset",  "speaker",  "speakers",
        "tv",       "monitor",   "projector",  "phone",    "database", "db",
        "wifi",     "wi-fi",     "mouse",      "keyboard", "airpods",  "hotspot",
        "ethernet", "dots",      "camera",     NULL};
    static const char *const time_words[] = {"yesterday", "earlier",    "ago",      "last",
                                             "before",    "previously", "already",  "morning",
                                             "tonight",   "later",      "tomorrow", NULL};
    static const char *const reported[] = {"says",     "said",     "shows", "showed", "reports",
                                           "reported", "displays", "reads", "claims", NULL};
    /* told, not asked: a past tense or a state ("I'm not connected") */
    const char *w = c->w[i];
    int past = is(w, "connected") || is(w, "disconnected") || is(w, "reconnected") ||
               is(w, "turned") || is(w, "switched") || is(w, "stopped") || is(w, "started") ||
               (i > 0 && (is(c->w[i - 1], "was") || is(c->w[i - 1], "were") ||
                          is(c->w[i - 1], "had") || is(c->w[i - 1], "have")));
    if (past && (a == A_CONNECT || a == A_DISCONNECT))
        return V_TOLD;
    if (negated_before(c, i) || has_phrase(c, "not yet") || has_phrase(c, "never mind"))
        return V_NEGATED;
    if (a == A_LOGS)
        return V_ACT; /* reading only: a question or a described problem is enough */
    if (has_any(c, reported))
        return V_TOLD; /* "it says disconnected" */
    if (a == A_STATUS)
        return V_ACT;
    if ((a == A_CONNECT || a == A_DISCONNECT) && has_any(c, others) && !vpn_context(c))
        return V_OTHER_TARGET;
    /* a time other than now */
    if (has_any(c, time_words) && !asked_for(c, i))
        return V_TOLD;
    if (a == A_RESTART)
        return V_UNSURE;
    /* "connecting the VPN": a gerund asks for nothing, unless "would you mind" */
    static const char *const gerunds[] = {"connecting", "disconnecting", "reconnecting", "turning",
                                          "switching",  "starting",      "stopping",     "enabling",
                                          "disabling",  "shutting",      "bringing",     NULL};
    if (in(w, gerunds) && !(i > 0 && is(c->w[i - 1], "mind")))
        return c->question ? V_ASKED_ABOUT : V_UNSURE;
    if (asked_for(c, i))
        return V_ACT;
    if (c->question)
        return V_ASKED_ABOUT; /* "how do I connect?", "should I disconnect?" */
    return V_UNSURE;
}

/* ---- the message ---------------------------------------------------------- */

static const char *log_type_of(const struct words *t)
{
    static const char *const sys[] = {"system",     "kernel", "journal", "syslog",
                                      "journalctl", "dmesg",  NULL};
    static const char *const net[] = {"network", "dns",      "wifi",    "wi-fi",     "internet",
                                      "route",   "routes",   "routing", "interface", "interfaces",
                                      "ip",      "ethernet", "dhcp",    "resolver",  NULL};
    for (int i = 0; i < t->n; i++)
        if (in(t->w[i], sys))
            return "system";
    for (int i = 0; i < t->n; i++)
        if (in(t->w[i], net))
            return "network";
    return "vpn";
}

static int clause_break(const char *w)
{
    return is(w, "|") || is(w, "but") || is(w, "and") || is(w, "then") || is(w, "so") ||
           is(w, "because") || is(w, "although") || is(w, "though") || is(w, "or");
}

void intent_parse(const char *prompt, struct intent *out)
{
    struct words *tw = malloc(sizeof(*tw)); /* 4 KiB: not on a worker thread's stack */
    if (!tw)
        abort();
    tokenize(prompt, tw);
    memset(out, 0, sizeof(*out));
    out->kind = INTENT_NONE;
    enum act acts[8];
    int nacts = 0, start = 0;
    enum verdict strongest_none = V_NONE;
    enum act none_act = A_NONE;
    for (int i = 0; i <= tw->n; i++) {
        if (i < tw->n && !clause_break(tw->w[i]) && !is(tw->w[i], "?"))
            continue;
        int end = i;
        struct clause c = {tw->w + start, end - start, 0};
        if (i < tw->n && is(tw->w[i], "?"))
            c.question = 1;
        static const char *const opens[] = {"what",  "is",     "are", "am",   "can",   "could",
                                            "would", "will",   "do",  "does", "did",   "how",
                                            "why",   "should", "may", "when", "where", "which",
                                            "has",   "have",   "was", "were", NULL};
        if (c.n > 0 && in(c.w[0], opens))
            c.question = 1;
        start = i + 1;
        if (c.n == 0)
            continue;
        int where;
        enum act a = named(&c, &where);
        if (a == A_NONE)
            continue;
        enum verdict v = judge(&c, a, where);
        if (v == V_ACT && nacts < 8) {
            int dup = 0;
            for (int k = 0; k < nacts; k++)
                dup |= acts[k] == a;
            if (!dup)
                acts[nacts++] = a;
        } else if (v != V_ACT && (strongest_none == V_NONE || v == V_UNSURE)) {
            strongest_none = v;
            none_act = a;
        }
    }
    int nvpn = 0;
    for (int i = 0; i < tw->n; i++)
        nvpn += is(tw->w[i], "vpn");
    if (nacts > 1) {
        out->kind = INTENT_ASK;
        out->reply = "You asked for more than one thing. Tell me one at a time: connect, "
                     "disconnect, check the status, or look at the logs.";
    } else if (nacts == 1) {
        out->kind = acts[0] == A_CONNECT      ? INTENT_CONNECT
                    : acts[0] == A_DISCONNECT ? INTENT_DISCONNECT
                    : acts[0] == A_STATUS     ? INTENT_STATUS
                                              : INTENT_LOGS;
        if (out->kind == INTENT_LOGS)
            out->log_type = log_type_of(tw);
    } else if (strongest_none == V_NEGATED) {
        out->reply = none_act == A_CONNECT      ? "All right: I won't connect your VPN."
                     : none_act == A_DISCONNECT ? "All right: I won't disconnect your VPN."
                                                : "All right, I'll leave it.";
    } else if (strongest_none == V_TOLD) {
        out->kind = INTENT_ASK;
        out->reply = "Thanks for telling me. I have not changed anything; I can check the live "
                     "VPN status (\"what's my VPN status?\"), look at the logs, or connect or "
                     "disconnect the VPN if you ask.";
    } else if (strongest_none == V_ASKED_ABOUT) {
        out->reply = none_act == A_DISCONNECT
                         ? "I can disconnect it for you: say \"disconnect my VPN\" and I'll send "
                           "that to your computer."
                         : "I can connect it for you: say \"connect my VPN\" and I'll send that "
                           "to your computer.";
    } else if (strongest_none == V_OTHER_TARGET) {
        out->reply = "I can only connect or disconnect your VPN, not other devices or networks.";
    } else if (strongest_none == V_UNSURE) {
        out->kind = INTENT_ASK;
        out->reply = none_act == A_CONNECT ? "Do you want me to connect your VPN now? Say "
                                             "\"connect my VPN\" and I will."
                     : none_act == A_DISCONNECT
                         ? "Do you want me to disconnect your VPN now? Say \"disconnect my VPN\" "
                           "and I will."
                         : "To restart the VPN I would disconnect it and connect it again. Say "
                           "\"disconnect my VPN\" first, then \"connect my VPN\".";
    } else if (nvpn > 0 && tw->n <= 3) {
        out->kind = INTENT_ASK;
        out->reply = "What would you like me to do with your VPN: connect, disconnect, check its "
                     "status, or look at the logs?";
    }
    free(tw);
}
