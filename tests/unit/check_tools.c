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

/* A catalog: its entries after the built-in ones, their defaults; a bad one
 * leaves the catalog as it was. */
START_TEST(catalog)
{
    char err[300];
    ck_assert_int_eq(tooldef_load_json("[{\"name\":\"flush_dns\",\"description\":\"d\","
                                       "\"mode\":\"callback\",\"changes_machine\":false},"
                                       "{\"name\":\"kick\",\"description\":\"k\","
                                       "\"mode\":\"push\",\"client_action\":\"Kick-1\"}]",
                                       err, sizeof(err)),
                     0);
    ck_assert_uint_eq(tooldef_count(), 5);
    json_t *s = tooldef_specs();
    ck_assert_uint_eq(json_array_size(s), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(s, 3), "name")), "flush_dns");
    json_decref(s);
    struct tooldef d;
    ck_assert_int_eq(tooldef_find("flush_dns", &d), 0);
    ck_assert_int_eq(d.mode, TOOLDEF_CALLBACK);
    ck_assert_int_eq(d.timeout_ms, 30000);
    ck_assert_int_eq(d.changes, 0);
    ck_assert_str_eq(d.client_action, "flush_dns");
    ck_assert_str_eq(d.title, "flush_dns");
    ck_assert_int_eq(tooldef_find("kick", &d), 0);
    ck_assert_int_eq(d.mode, TOOLDEF_PUSH);
    ck_assert_int_eq(d.changes, 1);
    ck_assert_str_eq(d.client_action, "Kick-1");
    ck_assert_int_eq(tooldef_find("get_vpn_status", &d), 0);
    ck_assert_int_eq(d.mode, TOOLDEF_BUILTIN);
    /* bad catalogs change nothing */
    static const char *const bad[] = {
        "{}",
        "[1]",
        "[{\"name\":\"Bad Name\",\"description\":\"d\",\"mode\":\"push\"}]",
        "[{\"name\":\"x\",\"mode\":\"push\"}]",
        "[{\"name\":\"x\",\"description\":\"d\",\"mode\":\"push\",\"timeout_ms\":5}]",
        "[{\"name\":\"x\",\"description\":\"d\",\"mode\":\"push\",\"client_action\":\"a b\"}]",
        "[{\"name\":\"x\",\"description\":\"d\",\"mode\":\"push\",\"input_schema\":[]}]",
        "[{\"name\":\"analyze_logs\",\"description\":\"d\",\"mode\":\"push\"}]",
        NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(tooldef_load_json(bad[i], err, sizeof(err)) == -1, "%s", bad[i]);
    ck_assert_uint_eq(tooldef_count(), 5);
    char *pub = tooldef_catalog_json();
    ck_assert_ptr_nonnull(strstr(pub, "\"client_action\":\"Kick-1\""));
    ck_assert_int_eq(tooldef_load_json(pub, err, sizeof(err)),
                     0); /* what is published reads back */
    free(pub);
    ck_assert_int_eq(tooldef_load_json("[]", err, sizeof(err)), 0);
    ck_assert_uint_eq(tooldef_count(), 3);
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
    tcase_add_test(core, catalog);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
