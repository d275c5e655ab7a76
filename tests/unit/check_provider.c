/* check_provider.c -- the built-in provider: intents, answers, log rules. */
#include "provider.h"
#include "suites.h"
#include "tools.h"

#include <stdlib.h>
#include <string.h>

static json_t *decide(json_t *transcript)
{
    struct prov_status st = {0};
    char *d = provider_builtin()->next(transcript, &st, NULL);
    ck_assert_ptr_nonnull(d);
    json_t *j = json_loads(d, 0, NULL);
    free(d);
    return j;
}

static const char *first_tool(json_t *decision)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(decision, "tools"), 0), "name"));
}

START_TEST(intents)
{
    struct {
        const char *prompt, *tool;
    } cases[] = {
        {"Help me connect to my VPN", "run_client_command"},
        {"please disconnect the vpn", "run_client_command"},
        {"What's my VPN status?", "get_vpn_status"},
        {"My VPN keeps dropping, check the logs", "analyze_logs"},
        {"why is my DNS failing", "analyze_logs"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *t = json_pack("[{s:s, s:s}]", "role", "user", "text", cases[i].prompt);
        json_t *d = decide(t);
        ck_assert_str_eq(json_string_value(json_object_get(d, "type")), "tool_use");
        ck_assert_str_eq(first_tool(d), cases[i].tool);
        json_decref(d);
        json_decref(t);
    }
    json_t *t = json_pack("[{s:s, s:s}]", "role", "user", "text", "why is my DNS failing");
    json_t *d = decide(t);
    json_t *args = json_object_get(json_array_get(json_object_get(d, "tools"), 0), "arguments");
    ck_assert_str_eq(json_string_value(json_object_get(args, "log_type")), "network");
    json_decref(d);
    json_decref(t);
}
END_TEST

START_TEST(answers_from_results)
{
    char *res = tools_result(json_pack("{s:s, s:s}", "status", "disconnected", "message",
                                       "VPN status retrieved from client."),
                             0);
    json_t *t = json_pack("[{s:s, s:s}, {s:s, s:s, s:{}, s:s}]", "role", "user", "text", "status?",
                          "role", "tool", "name", "get_vpn_status", "arguments", "result", res);
    json_t *d = decide(t);
    ck_assert_str_eq(json_string_value(json_object_get(d, "type")), "final");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d, "text")), "disconnected"));
    json_decref(d);
    json_decref(t);
    free(res);
    char *a = builtin_analyze_logs("vpn", "MTU exceeded: packet too big; DNS NXDOMAIN");
    ck_assert_ptr_nonnull(strstr(a, "MTU"));
    ck_assert_ptr_nonnull(strstr(a, "DNS"));
    free(a);
    a = builtin_analyze_logs("vpn", "all quiet");
    ck_assert_ptr_nonnull(strstr(a, "found none of the failure patterns"));
    free(a);
}
END_TEST

START_TEST(no_intent_and_errors)
{
    json_t *t = json_pack("[{s:s, s:s}]", "role", "user", "text", "tell me a joke");
    json_t *d = decide(t);
    ck_assert_str_eq(json_string_value(json_object_get(d, "type")), "final");
    json_decref(d);
    json_decref(t);
    char *res = tools_result(json_pack("{s:s, s:s}", "status", "error", "message",
                                       "The desktop client is not connected"),
                             1);
    t = json_pack("[{s:s, s:s}, {s:s, s:s, s:{}, s:s}]", "role", "user", "text", "x", "role",
                  "tool", "name", "get_vpn_status", "arguments", "result", res);
    d = decide(t);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(d, "text")), "not connected"));
    json_decref(d);
    json_decref(t);
    free(res);
    struct prov_status st = {0};
    json_t *empty = json_array();
    ck_assert_ptr_null(provider_builtin()->next(empty, &st, NULL));
    json_decref(empty);
}
END_TEST

Suite *provider_suite(void)
{
    Suite *s = suite_create("provider");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
          *errs = tcase_create("errors");
    tcase_add_test(core, intents);
    tcase_add_test(limits, answers_from_results);
    tcase_add_test(errs, no_intent_and_errors);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, errs);
    return s;
}
