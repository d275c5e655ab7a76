/* check_tools.c -- tool routing by arguments and MCP-style results. */
#include "suites.h"
#include "tools.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(routing)
{
    json_t *a = json_pack("{s:s}", "command", "connect_vpn");
    ck_assert_str_eq(tooldef_route(a), "run_client_command");
    json_decref(a);
    a = json_pack("{s:s}", "query", "vpn_status");
    ck_assert_str_eq(tooldef_route(a), "get_vpn_status");
    json_decref(a);
    a = json_pack("{s:s}", "log_type", "network");
    ck_assert_str_eq(tooldef_route(a), "analyze_logs");
    json_decref(a);
    char *r = tools_result(json_pack("{s:s}", "status", "sent_to_client"), 0);
    json_t *j = json_loads(r, 0, NULL);
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "content"), 0), "text"));
    ck_assert_str_eq(text, "{\"status\":\"sent_to_client\"}");
    ck_assert(json_is_false(json_object_get(j, "isError")));
    json_decref(j);
    free(r);
}
END_TEST

START_TEST(specs)
{
    json_t *s = tooldef_specs();
    ck_assert_uint_eq(json_array_size(s), 3);
    json_decref(s);
}
END_TEST

START_TEST(unroutable)
{
    json_t *a = json_pack("{s:s}", "query", "weather");
    ck_assert_str_eq(tooldef_route(a), "");
    json_decref(a);
    ck_assert_str_eq(tooldef_route(NULL), "");
    a = json_array();
    ck_assert_str_eq(tooldef_route(a), "");
    json_decref(a);
}
END_TEST

Suite *tools_suite(void)
{
    Suite *s = suite_create("tools");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, routing);
    tcase_add_test(limits, specs);
    tcase_add_test(errs, unroutable);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
