/* check_util.c -- ids, stream ids and the Lua script table. */
#include "ids.h"
#include "script.h"
#include "suites.h"
#include "util.h"

#include <string.h>

START_TEST(ids_random)
{
    char a[64], b[64];
    ck_assert_int_eq(id_random(a, sizeof(a), "cb-", 16), 0);
    ck_assert_int_eq(id_random(b, sizeof(b), "cb-", 16), 0);
    ck_assert_uint_eq(strlen(a), 35);
    ck_assert_str_ne(a, b);
    ck_assert(id_valid(a, 128));
}
END_TEST

START_TEST(callback_ids)
{
    char a[64];
    ck_assert_int_eq(id_random_b64(a, sizeof(a), "cb-", 12), 0);
    ck_assert(id_callback_valid(a));
    strcat(a, ".Ab9_");
    ck_assert(id_callback_valid(a));
    ck_assert(id_callback_valid("cb-x"));
    /* the index keys beside the records, and anything but the shape */
    const char *bad[] = {"deadlines", "completed", "cb-",    "cb-a.", "cb-a.b.c",   "cb-a:b",
                         "cb-a b",    "CB-abc",    "cb-a/b", "",      "cb-\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!id_callback_valid(bad[i]), "%s", bad[i]);
    char big[200] = "cb-";
    memset(big + 3, 'a', 100);
    ck_assert(id_callback_valid(big));
    big[103] = 'a';
    ck_assert(!id_callback_valid(big));
}
END_TEST

START_TEST(utf8_text)
{
    ck_assert(utf8_text_valid("", 0));
    ck_assert(utf8_text_valid("connected", 9));
    ck_assert(utf8_text_valid("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", 9)); /* é ✓ 😀 */
    ck_assert(utf8_text_valid("\xf4\x8f\xbf\xbf", 4));                     /* U+10FFFF */
    const struct {
        const char *s;
        size_t n;
    } bad[] = {{"a\0b", 3},
               {"\xff", 1},
               {"\xc0\xaf", 2}, /* overlong / */
               {"\xe0\x80\xaf", 3},
               {"\xed\xa0\x80", 3},     /* a surrogate */
               {"\xf4\x90\x80\x80", 4}, /* past U+10FFFF */
               {"\xe2\x9c", 2},
               {"\x80", 1},
               {"\xc3", 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!utf8_text_valid(bad[i].s, bad[i].n), "case %zu", i);
}
END_TEST

START_TEST(stream_ids)
{
    ck_assert_int_lt(stream_id_cmp("1-0", "1-1"), 0);
    ck_assert_int_gt(stream_id_cmp("10-0", "9-99"), 0);
    ck_assert_int_eq(stream_id_cmp("5-5", "5-5"), 0);
    ck_assert_int_lt(stream_id_cmp("", "1-0"), 0);
    uint64_t ms, seq;
    ck_assert_int_eq(stream_id_parse("1700000000000-3", &ms, &seq), 0);
    ck_assert(ms == 1700000000000ULL && seq == 3);
}
END_TEST

START_TEST(scripts_loaded)
{
    ck_assert_uint_ge(script_count(), 10);
    const struct script *s = script_get("cb_complete");
    ck_assert_uint_eq(strlen(script_sha(s)), 40);
    ck_assert_ptr_nonnull(strstr(script_body(s), "KEYS[1]"));
    /* includes are expanded */
    ck_assert_ptr_nonnull(strstr(script_body(script_get("cb_resume")), "local function wake"));
}
END_TEST

START_TEST(limits_ids)
{
    char small[8];
    ck_assert_int_eq(id_random(small, sizeof(small), "cb-", 16), -1);
    char long_id[200];
    memset(long_id, 'a', 199);
    long_id[199] = '\0';
    ck_assert(!id_valid(long_id, 128));
    ck_assert(id_valid(long_id + 71, 128));
}
END_TEST

START_TEST(errors_ids)
{
    ck_assert(!id_valid("", 128));
    ck_assert(!id_valid(NULL, 128));
    ck_assert(!id_valid("a b", 128));
    ck_assert(!id_valid("a/b", 128));
    ck_assert(!id_valid("a\nb", 128));
    uint64_t ms, seq;
    ck_assert_int_eq(stream_id_parse("1-", &ms, &seq), -1);
    ck_assert_int_eq(stream_id_parse("-1", &ms, &seq), -1);
    ck_assert_int_eq(stream_id_parse("1-2x", &ms, &seq), -1);
    ck_assert_int_eq(stream_id_parse("99999999999999999999999-1", &ms, &seq), -1);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, ids_random);
    tcase_add_test(core, stream_ids);
    tcase_add_test(core, callback_ids);
    tcase_add_test(core, utf8_text);
    tcase_add_test(core, scripts_loaded);
    tcase_add_test(limits, limits_ids);
    tcase_add_test(errs, errors_ids);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
