/* ids.c -- Random ids from getrandom(2). */
#include "ids.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static int fill(unsigned char *buf, size_t nbytes)
{
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(buf + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int id_random_b64(char *out, size_t outlen, const char *prefix, size_t nbytes)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char buf[63];
    size_t plen = strlen(prefix), n = nbytes / 3 * 4;
    if (nbytes % 3 || nbytes > sizeof(buf) || plen + n + 1 > outlen || fill(buf, nbytes) < 0)
        return -1;
    memcpy(out, prefix, plen);
    for (size_t i = 0, o = plen; i < nbytes; i += 3) {
        unsigned v = (unsigned)buf[i] << 16 | (unsigned)buf[i + 1] << 8 | buf[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    out[plen + n] = '\0';
    return 0;
}

static int b64url_run(const char *s, size_t maxlen)
{
    size_t n = 0;
    while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
           (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_')
        n++;
    return n >= 1 && n <= maxlen ? (int)n : -1;
}

int id_callback_valid(const char *s)
{
    if (strncmp(s, "cb-", 3) != 0)
        return 0;
    int n = b64url_run(s + 3, 100);
    if (n < 0)
        return 0;
    const char *rest = s + 3 + n;
    if (!*rest)
        return 1;
    if (*rest != '.')
        return 0;
    int t = b64url_run(rest + 1, 16);
    return t > 0 && rest[1 + t] == '\0';
}

int id_random(char *out, size_t outlen, const char *prefix, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t plen = strlen(prefix);
    if (nbytes > sizeof(buf) || plen + 2 * nbytes + 1 > outlen)
        return -1;
    if (fill(buf, nbytes) < 0)
        return -1;
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < nbytes; i++) {
        out[plen + 2 * i] = hex[buf[i] >> 4];
        out[plen + 2 * i + 1] = hex[buf[i] & 15];
    }
    out[plen + 2 * nbytes] = '\0';
    return 0;
}

int id_valid(const char *s, size_t maxlen)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok || n >= maxlen)
            return 0;
    }
    return n > 0;
}
