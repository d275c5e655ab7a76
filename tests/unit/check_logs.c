/* check_logs.c -- the built-in log analysis over a corpus of log samples
 * (tests/fixtures/logs, one per client or service and failure, healthy,
 * empty and failed collections): each must give exactly its expected
 * findings, quote lines that are in the sample, and never call an empty or
 * failed collection healthy. */
#include "fixtures.h"
#include "loganalysis.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_ids[LOG_NCATS] = {"AUTH", "CERT",  "TLS",     "DNS",  "DPD",
                                               "MTU",  "ROUTE", "SERVICE", "DROPS"};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap)
            buf = xrealloc(buf, cap = (n + 4096) * 2);
        r = fread(buf + n, 1, 4096, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

START_TEST(corpus)
{
    FILE *f = fixture_open("logs/expected.tsv");
    char line[512];
    const char *sample, *want;
    int n = 0, bad = 0;
    while (fixture_row(f, line, sizeof(line), &sample, &want)) {
        char path[600];
        snprintf(path, sizeof(path), "tests/fixtures/logs/%s", sample);
        size_t len;
        char *data = slurp(path, &len);
        ck_assert_msg(data != NULL, "%s", path);
        n++;
        struct log_reading r;
        logs_read(data, len, &r);
        char *text = logs_analyze("vpn", data, len);
        char got[200] = "";
        if (r.lines == 0)
            strcat(got, "empty");
        if (r.failed_sections)
            strcat(got, "failed");
        for (int c = 0; c < LOG_NCATS; c++)
            for (int i = 0; i < r.nfindings; i++)
                if (r.findings[i].cat == (enum log_cat)c) {
                    if (got[0])
                        strcat(got, ",");
                    strcat(got, cat_ids[c]);
                }
        if (!got[0])
            strcat(got, "healthy");
        int ok = !strcmp(got, want);
        /* the words match the reading */
        if (!strcmp(want, "healthy"))
            ok &= strstr(text, "found none of the failure patterns") != NULL;
        if (!strcmp(want, "empty"))
            ok &= strstr(text, "came back empty") != NULL && !strstr(text, "found none");
        if (r.failed_sections)
            ok &= strstr(text, "failed") != NULL && !strstr(text, "found none");
        for (int i = 0; i < r.nfindings; i++) {
            ok &= strstr(text, logs_cat_name(r.findings[i].cat)) != NULL;
            for (int e = 0; e < r.findings[i].lines && e < LOG_EVIDENCE; e++) {
                /* evidence is a line of the sample, quoted in the answer */
                char q[200];
                size_t el = r.findings[i].evidence_len[e];
                snprintf(q, sizeof(q), "%.*s", (int)(el < 150 ? el : 150),
                         r.findings[i].evidence[e]);
                ok &= strstr(data, q) != NULL && strstr(text, q) != NULL;
            }
        }
        if (!ok) {
            bad++;
            fprintf(stderr, "logs: %s: want %s, got %s\n%s\n", sample, want, got, text);
        }
        free(text);
        free(data);
    }
    fclose(f);
    fprintf(stderr, "logs: %d of %d samples as expected\n", n - bad, n);
    ck_assert_int_ge(n, 40);
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(limits_odd_input)
{
    struct log_reading r;
    logs_read("", 0, &r);
    ck_assert(r.empty);
    char big[70000];
    memset(big, 'x', sizeof(big));
    logs_read(big, sizeof(big), &r); /* one line longer than the matcher reads */
    ck_assert_int_eq((int)r.lines, 1);
    char *t = logs_analyze("vpn", "a\0b DPD timeout", 15); /* a NUL inside */
    ck_assert_ptr_nonnull(t);
    free(t);
}
END_TEST

Suite *logs_suite(void)
{
    Suite *s = suite_create("logs");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");
    tcase_add_test(core, corpus);
    tcase_add_test(limits, limits_odd_input);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}
