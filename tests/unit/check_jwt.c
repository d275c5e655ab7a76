/* check_jwt.c -- HS256 tokens: round trip, expiry, forgeries. */
#include "jwt.h"
#include "suites.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char secret[] = "0123456789abcdef0123456789abcdef";

static struct jwt_claims claims(int64_t now)
{
    struct jwt_claims c;
    memset(&c, 0, sizeof(c));
    strcpy(c.iss, "agent-async");
    strcpy(c.sub, "alice");
    strcpy(c.sid, "s1");
    strcpy(c.scope, "client callbacks");
    c.iat = now;
    c.exp = now + 60;
    return c;
}

START_TEST(round_trip)
{
    struct jwt_claims c = claims(1000), out;
    char tok[1024];
    const char *why;
    ck_assert_int_gt(jwt_mint(secret, &c, tok, sizeof(tok)), 0);
    ck_assert_int_eq(jwt_verify(secret, tok, "agent-async", 1001, &out, &why), 0);
    ck_assert_str_eq(out.sub, "alice");
    ck_assert_str_eq(out.sid, "s1");
    ck_assert(jwt_has_scope(&out, "callbacks"));
    ck_assert(!jwt_has_scope(&out, "call"));
    unsigned char raw[3] = {0xfb, 0xff, 0x01};
    char enc[8];
    unsigned char dec[8];
    ck_assert_int_eq(b64url_encode(raw, 3, enc, sizeof(enc)), 4);
    ck_assert_str_eq(enc, "-_8B");
    ck_assert_int_eq(b64url_decode(enc, 4, dec, sizeof(dec)), 3);
    ck_assert_int_eq(memcmp(raw, dec, 3), 0);
}
END_TEST

/* the standard alphabet with its padding (HTTP Basic credentials), bounded */
START_TEST(base64_both_alphabets)
{
    unsigned char d[16];
    ck_assert_int_eq(b64_decode("YWJj", 4, d, sizeof(d)), 3);
    ck_assert_int_eq(memcmp(d, "abc", 3), 0);
    ck_assert_int_eq(b64_decode("YWI=", 4, d, sizeof(d)), 2);
    ck_assert_int_eq(memcmp(d, "ab", 2), 0);
    ck_assert_int_eq(b64_decode("YQ==", 4, d, sizeof(d)), 1);
    ck_assert_int_eq(b64_decode("+/+/", 4, d, sizeof(d)), 3);
    ck_assert_int_eq(b64_decode("", 0, d, sizeof(d)), 0);
    /* wrong shapes */
    ck_assert_int_eq(b64_decode("Y===", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64_decode("YW=j", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64_decode("YWJ", 3, d, sizeof(d)), -1);
    ck_assert_int_eq(b64_decode("-_-_", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64_decode("YW J", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64url_decode("+/+/", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64url_decode("YQ==", 4, d, sizeof(d)), -1);
    ck_assert_int_eq(b64url_decode("-_-_", 4, d, sizeof(d)), 3);
    /* the output never passes outlen */
    ck_assert_int_eq(b64_decode("YWJjZGVm", 8, d, 5), -1);
    ck_assert_int_eq(b64_decode("YWJjZGVm", 8, d, 6), 6);
    ck_assert_int_eq(b64url_decode("YWJjZGVm", 8, d, 5), -1);
}
END_TEST

START_TEST(limits)
{
    struct jwt_claims c = claims(1000), out;
    char tok[1024], small[16];
    const char *why;
    ck_assert_int_eq(jwt_mint(secret, &c, small, sizeof(small)), -1);
    jwt_mint(secret, &c, tok, sizeof(tok));
    ck_assert_int_eq(jwt_verify(secret, tok, "agent-async", 1060, &out, &why), -1);
    ck_assert_str_eq(why, "token expired");
    ck_assert_int_eq(jwt_verify(secret, tok, "agent-async", 900, &out, &why), -1);
    ck_assert_str_eq(why, "token issued in the future");
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(jwt_verify(secret, big, "agent-async", 1001, &out, &why), -1);
}
END_TEST

START_TEST(forgeries)
{
    struct jwt_claims c = claims(1000), out;
    char tok[1024], forged[1200];
    const char *why;
    jwt_mint(secret, &c, tok, sizeof(tok));
    ck_assert_int_eq(
        jwt_verify("another-secret-another-secret-00", tok, "agent-async", 1001, &out, &why), -1);
    ck_assert_str_eq(why, "bad signature");
    ck_assert_int_eq(jwt_verify(secret, tok, "someone-else", 1001, &out, &why), -1);
    /* alg none with an empty signature */
    const char *dot = strchr(tok, '.');
    char none[64];
    b64url_encode((const unsigned char *)"{\"alg\":\"none\"}", 14, none, sizeof(none));
    snprintf(forged, sizeof(forged), "%s%.*s.", none, (int)(strrchr(tok, '.') - dot), dot);
    ck_assert_int_eq(jwt_verify(secret, forged, "agent-async", 1001, &out, &why), -1);
    /* a changed payload keeps the old signature */
    strcpy(forged, tok);
    forged[dot - tok + 5] ^= 1;
    ck_assert_int_eq(jwt_verify(secret, forged, "agent-async", 1001, &out, &why), -1);
    const char *bad[] = {"", "a", "a.b", "a.b.c.d", "!!.??.**", "..", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_int_eq(jwt_verify(secret, bad[i], "agent-async", 1001, &out, &why), -1);
    ck_assert_int_eq(jwt_verify("", tok, "agent-async", 1001, &out, &why), -1);
}
END_TEST

Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, round_trip);
    tcase_add_test(lim, limits);
    tcase_add_test(lim, base64_both_alphabets);
    tcase_add_test(errs, forgeries);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    suite_add_tcase(s, errs);
    return s;
}
