/* check_keys.c -- the Redis names: their shapes, and a name that would not
 * fit its buffer. */
#include "keys.h"
#include "suites.h"

#include <string.h>

START_TEST(shapes)
{
    char b[KEYS_MAX];
    ck_assert_str_eq(keys_exec(b, sizeof(b), "turn-1"), "aa:exec:turn-1");
    ck_assert_str_eq(keys_cb(b, sizeof(b), "cb-x"), "aa:cb:cb-x");
    ck_assert_str_eq(keys_outbox(b, sizeof(b), "s1"), "aa:outbox:s1");
    ck_assert_str_eq(keys_session(b, sizeof(b), "s1", "owner"), "aa:session:s1:owner");
    ck_assert_str_eq(keys_conn(b, sizeof(b), "c-1"), "aa:conn:c-1");
    ck_assert_str_eq(keys_node(b, sizeof(b), "gw1"), "aa:node:gw1");
    ck_assert_str_eq(keys_node_conns(b, sizeof(b), "gw1"), "aa:node:gw1:conns");
    ck_assert_str_eq(keys_push(b, sizeof(b), "gw1"), "aa:push:gw1");
    ck_assert_str_eq(keys_mcp_session(b, sizeof(b), "m1"), "aa:mcp:session:m1");
    ck_assert_str_eq(keys_mcp_tasks(b, sizeof(b), "agent-1"), "aa:mcp:tasks:agent-1");
    ck_assert_int_eq(strncmp(keys_cb(b, sizeof(b), "cb-x"), KEYS_CB_PREFIX, 6), 0);
}
END_TEST

START_TEST(limits)
{
    /* the longest id anything accepts (128) fits every name */
    char id[129], b[KEYS_MAX];
    memset(id, 'x', 128);
    id[128] = '\0';
    ck_assert_uint_eq(strlen(keys_session(b, sizeof(b), id, "memory")), 128 + 18);
    ck_assert_uint_eq(strlen(keys_mcp_session(b, sizeof(b), id)), 128 + 15);
    /* one that does not fit is no record's name, never a cut one */
    char small[24];
    ck_assert_str_eq(keys_exec(small, sizeof(small), id), KEYS_NONE);
    ck_assert_str_eq(keys_exec(small, sizeof(small), "0123456789abcdef"), KEYS_NONE);
    ck_assert_str_eq(keys_exec(small, sizeof(small), "0123456789abcde"), "aa:exec:0123456789abcde");
}
END_TEST

Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits");
    tcase_add_test(core, shapes);
    tcase_add_test(lim, limits);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    return s;
}
