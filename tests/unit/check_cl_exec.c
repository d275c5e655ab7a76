/* check_cl_exec.c -- running configured client actions without a shell. */
#include "cl_exec.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>

START_TEST(split_and_run)
{
    char buf[256], *argv[8];
    ck_assert_int_eq(cl_exec_split("echo 'a b' \"c\"d", buf, sizeof(buf), argv, 8), 3);
    ck_assert_str_eq(argv[1], "a b");
    ck_assert_str_eq(argv[2], "cd");
    struct cl_exec_result r;
    ck_assert_int_eq(cl_exec_run("echo hello; echo world", 5000, 1024, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.output, "$ echo hello\nhello"));
    ck_assert_ptr_nonnull(strstr(r.output, "world"));
    free(r.output);
    /* no shell: metacharacters are plain arguments */
    ck_assert_int_eq(cl_exec_run("echo $HOME `id` | cat", 5000, 1024, &r), 0);
    ck_assert_str_eq(r.output, "$HOME `id` | cat\n");
    free(r.output);
}
END_TEST

START_TEST(truncation_and_timeout)
{
    struct cl_exec_result r;
    ck_assert_int_eq(cl_exec_run("seq 1 100000", 5000, 100, &r), 0);
    ck_assert(r.truncated);
    ck_assert_ptr_nonnull(strstr(r.output, "[... output truncated]"));
    ck_assert_uint_le(r.len, 100 + 30);
    free(r.output);
    ck_assert_int_eq(cl_exec_run("sleep 5", 200, 100, &r), -1);
    ck_assert(r.timed_out);
    free(r.output);
}
END_TEST

START_TEST(failures)
{
    struct cl_exec_result r;
    ck_assert_int_eq(cl_exec_run("/nonexistent/program", 1000, 100, &r), -1);
    ck_assert(r.spawn_failed);
    ck_assert_ptr_nonnull(strstr(r.output, "cannot run"));
    free(r.output);
    ck_assert_int_eq(cl_exec_run("false", 1000, 100, &r), -1);
    ck_assert_int_eq(r.status, 1);
    free(r.output);
    ck_assert_int_eq(cl_exec_run("echo 'unbalanced", 1000, 100, &r), -1);
    free(r.output);
    ck_assert_int_eq(cl_exec_run("  ;  ", 1000, 100, &r), -1);
    free(r.output);
}
END_TEST

Suite *cl_exec_suite(void)
{
    Suite *s = suite_create("cl_exec");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, split_and_run);
    tcase_add_test(limits, truncation_and_timeout);
    tcase_add_test(errs, failures);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
