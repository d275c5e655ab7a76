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
    ck_assert_int_eq(cl_exec_run_sync("echo hello; echo world", 5000, 1024, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.output, "$ echo hello\nhello"));
    ck_assert_ptr_nonnull(strstr(r.output, "world"));
    free(r.output);
    /* no shell: metacharacters are plain arguments */
    ck_assert_int_eq(cl_exec_run_sync("echo $HOME `id` | cat", 5000, 1024, &r), 0);
    ck_assert_str_eq(r.output, "$HOME `id` | cat\n");
    free(r.output);
}
END_TEST

START_TEST(truncation_and_timeout)
{
    struct cl_exec_result r;
    ck_assert_int_eq(cl_exec_run_sync("seq 1 100000", 5000, 100, &r), 0);
    ck_assert(r.truncated);
    ck_assert_ptr_nonnull(strstr(r.output, "[... output truncated]"));
    ck_assert_uint_le(r.len, 100 + 30);
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("sleep 5", 200, 100, &r), -1);
    ck_assert_int_eq(r.parts[0].outcome, CL_EXEC_TIMEOUT);
    ck_assert_uint_lt(r.elapsed_ms, 3000);
    free(r.output);
    /* a time limit that passes in the first part skips the rest */
    ck_assert_int_eq(cl_exec_run_sync("sleep 5; echo late", 200, 100, &r), -1);
    ck_assert_int_eq(r.nparts, 2);
    ck_assert_int_eq(r.parts[1].outcome, CL_EXEC_SKIPPED);
    ck_assert_ptr_null(strstr(r.output, "late\n"));
    free(r.output);
}
END_TEST

START_TEST(failures)
{
    struct cl_exec_result r;
    char how[300];
    ck_assert_int_eq(cl_exec_run_sync("/nonexistent/program", 1000, 100, &r), -1);
    ck_assert_int_eq(r.parts[0].outcome, CL_EXEC_NOSTART);
    ck_assert_str_eq(cl_exec_describe(&r, how, sizeof(how)),
                     "could not start /nonexistent/program: not found");
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("nmcli-not-installed connection up id vpn", 1000, 100, &r),
                     -1);
    ck_assert_str_eq(cl_exec_describe(&r, how, sizeof(how)),
                     "could not start nmcli-not-installed: not found");
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("false", 1000, 100, &r), -1);
    ck_assert_int_eq(r.parts[0].outcome, CL_EXEC_EXIT);
    ck_assert_int_eq(r.parts[0].code, 1);
    ck_assert_str_eq(cl_exec_describe(&r, how, sizeof(how)), "exit status 1");
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("sh -c 'kill -9 $$'", 1000, 100, &r), -1);
    ck_assert_int_eq(r.parts[0].outcome, CL_EXEC_SIGNAL);
    ck_assert_int_eq(r.parts[0].code, 9);
    ck_assert_ptr_nonnull(strstr(cl_exec_describe(&r, how, sizeof(how)), "killed by signal 9"));
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("echo 'unbalanced", 1000, 100, &r), -1);
    free(r.output);
    ck_assert_int_eq(cl_exec_run_sync("  ;  ", 1000, 100, &r), -1);
    free(r.output);
}
END_TEST

/* One failing part does not stop the others: what works is collected, what
 * failed is marked in the output, and the outcome names it. */
START_TEST(partial_lists)
{
    struct cl_exec_result r;
    char how[300];
    ck_assert_int_eq(
        cl_exec_run_sync("echo one; no-such-program-x; sh -c 'echo two && exit 3'; echo three",
                         5000, 4096, &r),
        -1);
    ck_assert_int_eq(r.nparts, 4);
    ck_assert_int_eq(r.nfailed, 2);
    ck_assert_ptr_nonnull(strstr(r.output, "$ echo one\none\n"));
    ck_assert_ptr_nonnull(strstr(r.output, "[could not start no-such-program-x: not found]"));
    ck_assert_ptr_nonnull(strstr(r.output, "two\n[exit status 3]"));
    ck_assert_ptr_nonnull(strstr(r.output, "$ echo three\nthree\n"));
    cl_exec_describe(&r, how, sizeof(how));
    ck_assert_str_eq(how, "could not start no-such-program-x: not found; exit status 3 (sh -c "
                          "'echo two && exit 3')");
    free(r.output);
}
END_TEST

Suite *cl_exec_suite(void)
{
    Suite *s = suite_create("cl_exec");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, split_and_run);
    tcase_add_test(core, partial_lists);
    tcase_add_test(limits, truncation_and_timeout);
    tcase_add_test(errs, failures);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
