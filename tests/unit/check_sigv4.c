/* check_sigv4.c -- the Bedrock request signer against answers botocore
 * 1.29 computed for the same requests (fixed clock; a model id with ":" and
 * "/"; with and without a session token). tests/e2e/providers.sh and
 * corpora.sh compare live requests with botocore too. */
#include "sigv4.h"
#include "suites.h"

#include <string.h>

static const char body[] = "{\"messages\":[]}";

START_TEST(known_answers)
{
    struct sigv4_req r = {
        "POST",
        "bedrock-runtime.us-west-2.amazonaws.com",
        "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile"
        "%2Fus.anthropic.claude-sonnet-4-20250514-v1%3A0/converse",
        "application/json",
        body,
        strlen(body),
        "us-west-2",
        "bedrock",
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "",
        "20261201T120000Z"};
    char out[512];
    ck_assert_int_eq(sigv4_authorization(&r, out, sizeof(out)), 0);
    ck_assert_str_eq(out,
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-west-2/bedrock/"
                     "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                     "Signature=a45e1f84ca54144d9e324e8147f2e11facd3d607a42a7f27d65a150d503f422e");
    r.path = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream";
    r.token = "FwoGZXIvYXdzEXAMPLE//token+with/slashes==";
    ck_assert_int_eq(sigv4_authorization(&r, out, sizeof(out)), 0);
    ck_assert_str_eq(out,
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-west-2/bedrock/"
                     "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                     "x-amz-security-token, "
                     "Signature=b6371178ce5b556499d5fe804f2b65c7ddfc2e3b076866c2622dfd418ce3928c");
}
END_TEST

START_TEST(hosts_and_dates)
{
    char h[128];
    const char *p =
        sigv4_host_of("https://bedrock-runtime.us-west-2.amazonaws.com:443/model/x", h, sizeof(h));
    ck_assert_str_eq(h, "bedrock-runtime.us-west-2.amazonaws.com");
    ck_assert_str_eq(p, "/model/x");
    sigv4_host_of("http://127.0.0.1:8081/model/x", h, sizeof(h));
    ck_assert_str_eq(h, "127.0.0.1:8081");
    ck_assert_ptr_null(sigv4_host_of("ftp://x/y", h, sizeof(h)));
    char d[17];
    sigv4_amz_date(1796126400, d); /* 2026-12-01 12:00:00 UTC */
    ck_assert_str_eq(d, "20261201T120000Z");
}
END_TEST

START_TEST(errors_refused)
{
    struct sigv4_req r = {0};
    char out[512];
    ck_assert_int_eq(sigv4_authorization(&r, out, sizeof(out)), -1);
    r = (struct sigv4_req){"POST", "h", "/",   "application/json", "", 0, "r", "s", "k",
                           "x",    "",  "2026"};
    ck_assert_int_eq(sigv4_authorization(&r, out, sizeof(out)), -1); /* a short date */
    r.amz_date = "20261201T120000Z";
    ck_assert_int_eq(sigv4_authorization(&r, out, 20), -1); /* out too small */
}
END_TEST

Suite *sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *core = tcase_create("core"), *errs = tcase_create("errors");
    tcase_add_test(core, known_answers);
    tcase_add_test(core, hosts_and_dates);
    tcase_add_test(errs, errors_refused);
    suite_add_tcase(s, core);
    suite_add_tcase(s, errs);
    return s;
}
