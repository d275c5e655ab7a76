/* check_strmap.c -- the string map. */
#include "strmap.h"
#include "suites.h"

#include <stdint.h>
#include <stdio.h>

START_TEST(set_get_del)
{
    struct strmap *m = strmap_new();
    int a = 1, b = 2;
    strmap_set(m, "a", &a);
    strmap_set(m, "b", &b);
    ck_assert_ptr_eq(strmap_get(m, "a"), &a);
    strmap_set(m, "a", &b);
    ck_assert_ptr_eq(strmap_get(m, "a"), &b);
    ck_assert_ptr_eq(strmap_del(m, "a"), &b);
    ck_assert_ptr_null(strmap_get(m, "a"));
    ck_assert_uint_eq(strmap_size(m), 1);
    strmap_free(m);
}
END_TEST

START_TEST(many)
{
    struct strmap *m = strmap_new();
    char k[32];
    for (intptr_t i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "k%ld", (long)i);
        strmap_set(m, k, (void *)(i + 1));
    }
    ck_assert_uint_eq(strmap_size(m), 20000);
    for (intptr_t i = 0; i < 20000; i += 7) {
        snprintf(k, sizeof(k), "k%ld", (long)i);
        ck_assert_ptr_eq(strmap_get(m, k), (void *)(i + 1));
    }
    strmap_free(m);
}
END_TEST

START_TEST(missing)
{
    struct strmap *m = strmap_new();
    ck_assert_ptr_null(strmap_get(m, ""));
    ck_assert_ptr_null(strmap_del(m, "x"));
    strmap_free(m);
}
END_TEST

Suite *strmap_suite(void)
{
    Suite *s = suite_create("strmap");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, set_get_del);
    tcase_add_test(limits, many);
    tcase_add_test(errs, missing);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
