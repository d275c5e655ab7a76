/* check_gw_msg.c -- message parsing and validation, without a connection. */
#include "gw_msg.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *txt, struct gw_msg *m, const char **code)
{
    const char *why;
    char *g = guard_alloc(txt, strlen(txt));
    int rc = gw_msg_parse(g, strlen(txt), "s1", 16, 32, m, code, &why);
    guard_free(g, strlen(txt));
    return rc;
}

START_TEST(actions)
{
    struct gw_msg m;
    const char *code;
    ck_assert_int_eq(
        parse("{\"action\":\"chat\",\"prompt\":\"hi\",\"session_id\":\"s1\"}", &m, &code), 0);
    ck_assert_int_eq(m.action, GW_ACT_CHAT);
    ck_assert_uint_eq(m.prompt_len, 2);
    gw_msg_free(&m);
    ck_assert_int_eq(
        parse("{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"content\":\"ok\"}", &m,
              &code),
        0);
    ck_assert_str_eq(m.kind, "succeed");
    ck_assert_str_eq(m.payload, "ok");
    gw_msg_free(&m);
    ck_assert_int_eq(
        parse("{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"error\":{\"type\":\"T\"}}",
              &m, &code),
        0);
    ck_assert_str_eq(m.kind, "fail");
    ck_assert_str_eq(m.payload, "{\"type\":\"T\"}");
    gw_msg_free(&m);
    ck_assert_int_eq(
        parse("{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"status\":\"heartbeat\"}",
              &m, &code),
        0);
    ck_assert_str_eq(m.kind, "heartbeat");
    gw_msg_free(&m);
    ck_assert_int_eq(parse("{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"content\":{"
                           "\"status\":\"connected\"}}",
                           &m, &code),
                     0);
    ck_assert_str_eq(m.payload, "{\"status\":\"connected\"}");
    gw_msg_free(&m);
    ck_assert_int_eq(parse("{\"action\":\"ping\"}", &m, &code), 0);
    ck_assert_int_eq(m.action, GW_ACT_PING);
    gw_msg_free(&m);
}
END_TEST

START_TEST(limits)
{
    struct gw_msg m;
    const char *code;
    ck_assert_int_eq(parse("{\"action\":\"chat\",\"prompt\":\"0123456789abcdef\"}", &m, &code), 0);
    gw_msg_free(&m);
    ck_assert_int_eq(parse("{\"action\":\"chat\",\"prompt\":\"0123456789abcdefg\"}", &m, &code),
                     -1);
    ck_assert_str_eq(code, "prompt_too_large");
    gw_msg_free(&m);
    ck_assert_int_eq(parse("{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"content\":"
                           "\"0123456789abcdef0123456789abcdefX\"}",
                           &m, &code),
                     -1);
    ck_assert_str_eq(code, "content_too_large");
    ck_assert_str_eq(m.callback_id, "cb-1");
    gw_msg_free(&m);
}
END_TEST

START_TEST(errors)
{
    struct {
        const char *in, *code;
    } cases[] = {
        {"", "invalid_json"},
        {"[]", "invalid_json"},
        {"{\"action\":1}", "unknown_action"},
        {"{\"prompt\":\"x\"}", "unknown_action"},
        {"{\"action\":\"dance\"}", "unknown_action"},
        {"{\"action\":\"chat\"}", "invalid_prompt"},
        {"{\"action\":\"chat\",\"prompt\":7}", "invalid_prompt"},
        {"{\"action\":\"chat\",\"prompt\":\"x\",\"session_id\":\"s2\"}", "forbidden_session"},
        {"{\"action\":\"chat\",\"prompt\":\"x\",\"session_id\":null}", "forbidden_session"},
        {"{\"action\":\"chat\",\"prompt\":\"x\",\"action\":\"ping\"}", "invalid_json"},
        {"{\"action\":\"chat\",\"prompt\":\"a\\u0000b\"}", "invalid_json"},
        {"{\"action\":\"async_callback\"}", "invalid_callback_id"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"a b\"}", "invalid_callback_id"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"status\":\"maybe\"}",
         "invalid_status"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"cb-1\"}", "invalid_content"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"cb-1\",\"content\":null}",
         "invalid_content"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"deadlines\",\"content\":\"x\"}",
         "invalid_callback_id"},
        {"{\"action\":\"async_callback\",\"callback_id\":\"cb\",\"content\":\"x\"}",
         "invalid_callback_id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_msg m;
        const char *code = NULL;
        ck_assert_msg(parse(cases[i].in, &m, &code) == -1, "accepted %s", cases[i].in);
        ck_assert_msg(!strcmp(code, cases[i].code), "%s: %s", cases[i].in, code);
        gw_msg_free(&m);
    }
}
END_TEST

Suite *gw_msg_suite(void)
{
    Suite *s = suite_create("gw_msg");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, actions);
    tcase_add_test(lim, limits);
    tcase_add_test(errs, errors);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    suite_add_tcase(s, errs);
    return s;
}
