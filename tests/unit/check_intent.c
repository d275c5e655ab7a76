/* check_intent.c -- the built-in provider's reading of a message, as a
 * table (tests/fixtures/intents.tsv): requests, negations, questions,
 * statements, reported speech, unrelated chat and typos, each with the tool
 * and arguments it must lead to, or none. */
#include "fixtures.h"
#include "intent.h"
#include "suites.h"

#include <stdio.h>
#include <string.h>

static const char *got_name(const struct intent *in, char *buf, size_t len)
{
    switch (in->kind) {
    case INTENT_CONNECT:
        return "connect";
    case INTENT_DISCONNECT:
        return "disconnect";
    case INTENT_STATUS:
        return "status";
    case INTENT_LOGS:
        snprintf(buf, len, "logs:%s", in->log_type);
        return buf;
    case INTENT_ASK:
        return "ask";
    default:
        return "none";
    }
}

START_TEST(phrasings_table)
{
    FILE *f = fixture_open("intents.tsv");
    char line[512];
    const char *want, *phrase;
    int n = 0, bad = 0;
    while (fixture_row(f, line, sizeof(line), &want, &phrase)) {
        struct intent in;
        intent_parse(phrase, &in);
        char buf[32];
        const char *got = got_name(&in, buf, sizeof(buf));
        n++;
        if (strcmp(got, want) != 0) {
            bad++;
            fprintf(stderr, "intent: \"%s\": want %s, got %s\n", phrase, want, got);
        }
        if (in.kind == INTENT_ASK)
            ck_assert_msg(in.reply != NULL, "\"%s\": a question needs words", phrase);
    }
    fclose(f);
    fprintf(stderr, "intent: %d of %d phrasings as expected\n", n - bad, n);
    ck_assert_int_ge(n, 150);
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(limits_long_and_odd_text)
{
    struct intent in;
    char big[20000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    intent_parse(big, &in);
    ck_assert_int_eq(in.kind, INTENT_NONE);
    for (size_t i = 0; i + 5 < sizeof(big); i += 5)
        memcpy(big + i, "vpn ", 4);
    intent_parse(big, &in); /* more words than are read */
    intent_parse("", &in);
    ck_assert_int_eq(in.kind, INTENT_NONE);
    intent_parse("\xe2\x80\x99\xff\xfe connect", &in); /* a stray quote and invalid UTF-8 */
    ck_assert_int_eq(in.kind, INTENT_CONNECT);
    intent_parse("Don\xe2\x80\x99t disconnect my VPN", &in); /* a typographic apostrophe */
    ck_assert_int_eq(in.kind, INTENT_NONE);
}
END_TEST

Suite *intent_suite(void)
{
    Suite *s = suite_create("intent");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");
    tcase_add_test(core, phrasings_table);
    tcase_add_test(limits, limits_long_and_odd_text);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}
