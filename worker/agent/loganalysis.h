/* loganalysis.h -- The built-in provider's reading of collected logs as
 * data: command headers ("$ ip addr") and the normal fields of ip addr, ip
 * route, resolv.conf and vpn stats are not evidence; failure patterns of
 * the common VPN clients and system services are (Cisco Secure Client /
 * AnyConnect, openconnect, OpenVPN, WireGuard, strongSwan, NetworkManager,
 * systemd-resolved), each finding quoting the lines that support it. An
 * empty or failed collection is said to be empty or failed, never healthy. */
#ifndef AA_LOGANALYSIS_H
#define AA_LOGANALYSIS_H

#include <stddef.h>

enum log_cat {
    LOG_AUTH,
    LOG_CERT,
    LOG_TLS,
    LOG_DNS,
    LOG_DPD,
    LOG_MTU,
    LOG_ROUTE,
    LOG_SERVICE,
    LOG_DROPS,
    LOG_NCATS
};

#define LOG_EVIDENCE 2

struct log_finding {
    enum log_cat cat;
    int lines;                          /* how many lines show it */
    const char *evidence[LOG_EVIDENCE]; /* borrowed from the input: line starts */
    size_t evidence_len[LOG_EVIDENCE];
};

struct log_reading {
    size_t bytes, lines;   /* lines that carry data (not headers, not blank) */
    int empty;             /* nothing but headers, blanks or "no entries" */
    int failed_sections;   /* commands whose output says they could not run */
    char failed_what[160]; /* the first such line */
    char state[48];        /* a VPN client's "state: X", when it says one */
    int nfindings;
    struct log_finding findings[LOG_NCATS];
};

/* Reads [data, data+len) into r. Pure: no allocation; r's evidence points
 * into data. */
void logs_read(const char *data, size_t len, struct log_reading *r);

/* The finding's name ("Certificate problems"). Borrowed: static. */
const char *logs_cat_name(enum log_cat c);

/* An answer for a person: what was checked, what was found with its
 * evidence, and what to do next. Returns: owned, free with free(). */
char *logs_analyze(const char *log_type, const char *data, size_t len);

#endif
