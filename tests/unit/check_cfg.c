/* check_cfg.c -- configuration tables: defaults, environment, flags, bounds. */
#include "cfg.h"
#include "suites.h"

#include <stdlib.h>

static struct cfg_opt *table(void)
{
    static struct cfg_opt t[] = {
        {"port", CFG_INT, "8080", 0, 65535, "port", NULL, 0},
        {"name", CFG_STR, "x", 0, 8, "name", NULL, 0},
        {"dev", CFG_BOOL, "false", 0, 0, "dev", NULL, 0},
        CFG_END,
    };
    cfg_free(t);
    return t;
}

static int parse(struct cfg_opt *t, int argc, char **argv)
{
    char err[256];
    return cfg_parse(t, argc, argv, "usage", err, sizeof(err));
}

START_TEST(defaults_env_flags)
{
    struct cfg_opt *t = table();
    unsetenv("AA_PORT");
    char *a0[] = {"p"};
    ck_assert_int_eq(parse(t, 1, a0), 0);
    ck_assert_int_eq(cfg_int(t, "port"), 8080);
    ck_assert_str_eq(cfg_str(t, "name"), "x");
    setenv("AA_PORT", "9000", 1);
    ck_assert_int_eq(parse(t, 1, a0), 0);
    ck_assert_int_eq(cfg_int(t, "port"), 9000);
    char *a1[] = {"p", "--port", "9100", "--name=abc", "--dev"};
    ck_assert_int_eq(parse(t, 5, a1), 0);
    ck_assert_int_eq(cfg_int(t, "port"), 9100);
    ck_assert_str_eq(cfg_str(t, "name"), "abc");
    ck_assert_int_eq(cfg_int(t, "dev"), 1);
    unsetenv("AA_PORT");
    cfg_free(t);
}
END_TEST

START_TEST(bounds)
{
    struct cfg_opt *t = table();
    char *a[] = {"p", "--port", "65536"};
    ck_assert_int_eq(parse(t, 3, a), -1);
    char *b[] = {"p", "--port", "-1"};
    ck_assert_int_eq(parse(t, 3, b), -1);
    char *c[] = {"p", "--name", "123456789"};
    ck_assert_int_eq(parse(t, 3, c), -1);
    char *d[] = {"p", "--port", "65535"};
    ck_assert_int_eq(parse(t, 3, d), 0);
    cfg_free(t);
}
END_TEST

START_TEST(errors)
{
    struct cfg_opt *t = table();
    char *a[] = {"p", "--nope", "1"};
    ck_assert_int_eq(parse(t, 3, a), -1);
    char *b[] = {"p", "--port", "12x"};
    ck_assert_int_eq(parse(t, 3, b), -1);
    char *c[] = {"p", "positional"};
    ck_assert_int_eq(parse(t, 2, c), -1);
    char *d[] = {"p", "--port"};
    ck_assert_int_eq(parse(t, 2, d), -1);
    char *e[] = {"p", "--dev=maybe"};
    ck_assert_int_eq(parse(t, 2, e), -1);
    setenv("AA_PORT", "abc", 1);
    char *f[] = {"p"};
    ck_assert_int_eq(parse(t, 1, f), -1);
    unsetenv("AA_PORT");
    cfg_free(t);
}
END_TEST

Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, defaults_env_flags);
    tcase_add_test(limits, bounds);
    tcase_add_test(errs, errors);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
