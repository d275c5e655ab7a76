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
    tcase_add_test(core, scripts_loaded);
    tcase_add_test(limits, limits_ids);
    tcase_add_test(errs, errors_ids);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
