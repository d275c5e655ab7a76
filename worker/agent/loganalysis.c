/* loganalysis.c -- Collected logs read as data (see loganalysis.h): line by
 * line, headers and the normal fields of network tools skipped, each line
 * matched against failure patterns written for the messages that the VPN
 * clients and system services really print; a pattern is specific ("DPD
 * timeout", "certificate verify failed"), never a bare word that normal
 * output contains ("mtu", "resolv"). */
#include "loganalysis.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
    enum log_cat cat;
    const char *name;
    const char *advice;
    const char *const *patterns; /* lowercase substrings, any of them */
};

static const char *const p_auth[] = {
    "authentication failed",
    "auth_failed",
    "auth failed",
    "login failed",
    "login denied",
    "invalid credentials",
    "invalid username or password",
    "user authentication failed",
    "authentication error",
    "failed to authenticate",
    "eap failure",
    "authentication_failed",
    "secrets were required, but not provided",
    "no secrets",
    "failed to obtain webvpn cookie",
    "wrong password",
    "password incorrect",
    "401 unauthorized",
    "access denied for user",
    "authentication of", /* strongSwan: "authentication of 'x' with ... failed" handled below */
    NULL};
static const char *const p_cert[] = {"certificate verify failed",
                                     "certificate has expired",
                                     "certificate expired",
                                     "self signed certificate",
                                     "self-signed certificate",
                                     "unable to get local issuer",
                                     "untrusted server certificate",
                                     "untrusted issuer",
                                     "server certificate verification failed",
                                     "certificate validation failure",
                                     "certificate is not yet valid",
                                     "no trusted ca",
                                     "x509: certificate",
                                     "x509 untrusted",
                                     "certificate mismatch",
                                     "hostname mismatch",
                                     "verify error:",
                                     "peer certificate cannot be authenticated",
                                     "no matching certificate",
                                     NULL};
static const char *const p_tls[] = {"tls handshake failed",
                                    "tls_error",
                                    "tls error",
                                    "ssl handshake failed",
                                    "ssl error",
                                    "handshake failure",
                                    "ssl3_read_bytes",
                                    "wrong version number",
                                    "no shared cipher",
                                    "dtls handshake failed",
                                    "tls key negotiation failed",
                                    "ssl connection failure",
                                    "gnutls_handshake",
                                    "ssl_connect",
                                    NULL};
static const char *const p_dns[] = {"temporary failure in name resolution",
                                    "name or service not known",
                                    "could not resolve",
                                    "cannot resolve",
                                    "failed to resolve",
                                    "dns resolution failed",
                                    "dns timeout",
                                    "dns query timed out",
                                    "nxdomain",
                                    "servfail",
                                    "getaddrinfo failed",
                                    "no servers could be reached",
                                    "using degraded feature set",
                                    "resolve timed out",
                                    "name resolution failed",
                                    NULL};
static const char *const p_dpd[] = {"dpd timeout",
                                    "dead peer detection",
                                    "dead peer",
                                    "peer not responding",
                                    "keepalive timeout",
                                    "keepalive timed out",
                                    "inactivity timeout",
                                    "ping-restart",
                                    "connection timed out",
                                    "did not complete after",
                                    "retransmit",
                                    "no response from peer",
                                    "timed out waiting",
                                    "idle timeout",
                                    "peer is not responding",
                                    NULL};
static const char *const p_mtu[] = {"packet too big",
                                    "frag needed",
                                    "fragmentation needed",
                                    "message too long",
                                    "emsgsize",
                                    "mtu exceeded",
                                    "mtu too large",
                                    "reducing mtu",
                                    "mtu mismatch",
                                    "fragmented packet",
                                    "path mtu",
                                    "pmtu",
                                    "dtls mtu",
                                    NULL};
static const char *const p_route[] = {"route conflict",        "conflicting route",
                                      "route already exists",  "rtnetlink answers: file exists",
                                      "no route to host",      "network is unreachable",
                                      "host unreachable",      "failed to add route",
                                      "route addition failed", "cannot add route",
                                      "overlapping",           "route add failed",
                                      "could not add route",   NULL};
static const char *const p_service[] = {"activation failed",
                                        "failed with result",
                                        "start request repeated too quickly",
                                        "failed to start",
                                        "main process exited, code=exited",
                                        "vpn service stopped unexpectedly",
                                        "plugin failed",
                                        "service failed",
                                        "-> failed",
                                        NULL};
static const char *const p_drops[] = {"connection lost",
                                      "reconnecting",
                                      "link down",
                                      "tunnel down",
                                      "tunnel is down",
                                      "session disconnected",
                                      "connection reset",
                                      "process restarting",
                                      "peer closed the connection",
                                      "connection terminated",
                                      "lost connection",
                                      "disconnected by peer",
                                      "was disconnected",
                                      "unexpectedly disconnected",
                                      NULL};

static const struct rule rules[LOG_NCATS] = {
    {LOG_AUTH, "Authentication failures",
     "check the username and password (or token), whether the account is locked, and any "
     "second factor the VPN asks for",
     p_auth},
    {LOG_CERT, "Certificate problems",
     "the server's certificate is not trusted, or expired: update the VPN profile or the CA "
     "certificates, and check this computer's clock",
     p_cert},
    {LOG_TLS, "TLS handshake failures",
     "the encrypted session could not be set up: check that the client is up to date and that "
     "nothing on the network intercepts TLS",
     p_tls},
    {LOG_DNS, "DNS failures",
     "names did not resolve: check the DNS servers the VPN pushes (resolvectl status), and "
     "flush the resolver cache",
     p_dns},
    {LOG_DPD, "Timeouts / dead peer detection",
     "the tunnel lost its peer: check the Wi-Fi or network stability, and disable power saving "
     "on the network adapter",
     p_dpd},
    {LOG_MTU, "MTU / fragmentation problems",
     "packets are too big for the path: lower the VPN interface's MTU (for example to 1350)",
     p_mtu},
    {LOG_ROUTE, "Routing problems",
     "routes conflict or a network is unreachable: check the routes the VPN installs (split "
     "tunnel) against your local network's",
     p_route},
    {LOG_SERVICE, "Service or activation failures",
     "the VPN service or connection failed to start: see its status (systemctl status, nmcli "
     "connection show) and try starting it again",
     p_service},
    {LOG_DROPS, "Repeated disconnects",
     "the tunnel drops and reconnects: compare the times with network changes (Wi-Fi roaming, "
     "sleep)",
     p_drops},
};

const char *logs_cat_name(enum log_cat c)
{
    return c < LOG_NCATS ? rules[c].name : "?";
}

/* A lowercase copy of a line, at most len (for matching). */
static void lower_line(const char *s, size_t n, char *out, size_t len)
{
    size_t i = 0;
    for (; i < n && i + 1 < len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

static int starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* 1 when l starts with one of list (NULL-terminated). */
static int starts_any(const char *l, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (starts(l, list[i]))
            return 1;
    return 0;
}

/* 1 when l contains one of list. */
static int contains_any(const char *l, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strstr(l, list[i]))
            return 1;
    return 0;
}

/* Normal output of ip addr, ip route, resolv.conf, ifconfig, netstat and
 * vpn stats: data about the machine, never evidence of a failure. */
static int normal_field(const char *l)
{
    while (*l == ' ' || *l == '\t')
        l++;
    static const char *const heads[] = {"link/",
                                        "inet ",
                                        "inet6 ",
                                        "valid_lft",
                                        "default via",
                                        "nameserver",
                                        "search ",
                                        "options ",
                                        "domain ",
                                        "bytes ",
                                        "packets ",
                                        "ether ",
                                        "rx packets",
                                        "tx packets",
                                        "rx errors",
                                        "tx errors",
                                        "loop ",
                                        "media:",
                                        "status: active",
                                        "destination",
                                        "routing tables",
                                        "internet:",
                                        "internet6:",
                                        "kernel ip routing",
                                        "iface ",
                                        "proto ",
                                        "broadcast ",
                                        "duration:",
                                        "client address",
                                        "server address",
                                        "time connected",
                                        "tunnel mode",
                                        "bytes sent",
                                        "bytes received",
                                        "packets sent",
                                        "packets received",
                                        NULL};
    if (starts_any(l, heads))
        return 1;
    /* "2: eth0: <BROADCAST,...> mtu 1500 qdisc ...", "10.0.0.0/8 dev tun0 ..." */
    if (isdigit((unsigned char)*l)) {
        const char *p = l;
        while (isdigit((unsigned char)*p) || *p == '.' || *p == '/' || *p == ':')
            p++;
        if (*p == ' ' && (strstr(l, " dev ") || strstr(l, " mtu ") || strstr(l, "scope ")))
            return 1;
    }
    return 0;
}

static int says_nothing(const char *l)
{
    static const char *const empty[] = {"-- no entries --", "no journal files were found",
                                        "no entries",       "no logs",
                                        "(empty)",          NULL};
    while (*l == ' ')
        l++;
    return starts_any(l, empty);
}

static int could_not_run(const char *l)
{
    static const char *const fails[] = {"command not found",
                                        ": not found",
                                        "no such file or directory",
                                        "permission denied",
                                        "cannot run",
                                        "could not run",
                                        "not installed",
                                        "no command configured",
                                        "bad command line",
                                        NULL};
    return contains_any(l, fails);
}

static void add_evidence(struct log_reading *r, enum log_cat cat, const char *line, size_t n)
{
    struct log_finding *f = NULL;
    for (int i = 0; i < r->nfindings; i++)
        if (r->findings[i].cat == cat)
            f = &r->findings[i];
    if (!f) {
        f = &r->findings[r->nfindings++];
        memset(f, 0, sizeof(*f));
        f->cat = cat;
    }
    if (f->lines < LOG_EVIDENCE) {
        f->evidence[f->lines] = line;
        f->evidence_len[f->lines] = n;
    }
    f->lines++;
}

void logs_read(const char *data, size_t len, struct log_reading *r)
{
    memset(r, 0, sizeof(*r));
    r->bytes = len;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        size_t skip = 0;
        while (skip < n && (line[skip] == ' ' || line[skip] == '\t'))
            skip++;
        if (skip == n)
            continue; /* blank */
        if (line[skip] == '$' || starts(line + skip, "==>") || starts(line + skip, "[... output"))
            continue; /* a command header, a truncation mark */
        char l[512];
        lower_line(line, n, l, sizeof(l));
        if (says_nothing(l))
            continue;
        r->lines++;
        if (could_not_run(l)) {
            if (!r->failed_sections++)
                snprintf(r->failed_what, sizeof(r->failed_what), "%.*s",
                         (int)(n - skip < 150 ? n - skip : 150), line + skip);
            continue;
        }
        const char *st = strstr(l, "state: ");
        if (st && !r->state[0] && (strstr(l, ">>") || starts(l + skip, "state: "))) {
            snprintf(r->state, sizeof(r->state), "%.*s", 40, line + (st - l) + 7);
            continue; /* a client's state line is a state, not a failure */
        }
        if (normal_field(l))
            continue;
        for (int c = 0; c < LOG_NCATS; c++) {
            for (int k = 0; rules[c].patterns[k]; k++) {
                const char *hit = strstr(l, rules[c].patterns[k]);
                if (!hit)
                    continue;
                /* strongSwan's "authentication of 'x' ... failed" needs its failure */
                if (c == LOG_AUTH && !strcmp(rules[c].patterns[k], "authentication of") &&
                    !strstr(hit, "failed"))
                    continue;
                add_evidence(r, (enum log_cat)c, line + skip, n - skip);
                break;
            }
        }
    }
    r->empty = r->lines == 0;
}

/* Appends printf-style to *out (length *len, capacity *cap). */
static void addf(char **out, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void addf(char **out, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*out + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (*len + (size_t)n < *cap) {
            *len += (size_t)n;
            return;
        }
        *cap = (*len + (size_t)n + 1) * 2;
        *out = xrealloc(*out, *cap);
    }
}

char *logs_analyze(const char *log_type, const char *data, size_t len)
{
    struct log_reading r;
    logs_read(data, len, &r);
    size_t cap = 1024, n = 0;
    char *out = xmalloc(cap);
    out[0] = '\0';
    if (r.lines == 0) {
        addf(&out, &n, &cap,
             "The %s log collection came back empty (%zu bytes, no log lines). I cannot tell "
             "from it whether the VPN is healthy. Ask me for the VPN status, or for another log "
             "type (vpn, network, system).",
             log_type, len);
        return out;
    }
    addf(&out, &n, &cap, "I read %zu lines of %s logs from your computer.", r.lines, log_type);
    if (r.state[0])
        addf(&out, &n, &cap, " The VPN client reports the state: %s.", r.state);
    if (r.failed_sections)
        addf(&out, &n, &cap,
             " Part of the collection failed: %d command%s could not run (\"%s\"), so this is "
             "not the whole picture.",
             r.failed_sections, r.failed_sections == 1 ? "" : "s", r.failed_what);
    if (r.lines == (size_t)r.failed_sections) {
        addf(&out, &n, &cap, " Nothing else came back, so I cannot judge the VPN's health.");
        return out;
    }
    if (!r.nfindings) {
        addf(&out, &n, &cap,
             "\nI found none of the failure patterns I know (authentication, certificates, TLS, "
             "DNS, dead peer detection, MTU, routes, service failures, disconnects). That does "
             "not prove the connection is healthy; if it still misbehaves, ask me for the "
             "system logs right after it happens.");
        return out;
    }
    addf(&out, &n, &cap, "\nWhat I found:");
    for (int i = 0; i < r.nfindings; i++) {
        const struct log_finding *f = &r.findings[i];
        addf(&out, &n, &cap, "\n- %s (%d line%s), for example:", rules[f->cat].name, f->lines,
             f->lines == 1 ? "" : "s");
        for (int e = 0; e < f->lines && e < LOG_EVIDENCE; e++)
            addf(&out, &n, &cap, "\n    \"%.*s\"",
                 (int)(f->evidence_len[e] < 160 ? f->evidence_len[e] : 160), f->evidence[e]);
    }
    addf(&out, &n, &cap, "\nWhat you can do next:");
    for (int i = 0; i < r.nfindings; i++)
        addf(&out, &n, &cap, "\n- %s: %s.", rules[r.findings[i].cat].name,
             rules[r.findings[i].cat].advice);
    return out;
}
