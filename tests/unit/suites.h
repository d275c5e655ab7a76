/* suites.h -- every Check suite of the unit test runner. */
#ifndef AA_TEST_SUITES_H
#define AA_TEST_SUITES_H

#include <check.h>

Suite *cfg_suite(void);
Suite *util_suite(void);
Suite *strmap_suite(void);
Suite *gw_http_suite(void);
Suite *gw_ws_suite(void);
Suite *cl_exec_suite(void);
Suite *cl_act_suite(void);
Suite *keys_suite(void);
Suite *tools_suite(void);
Suite *provider_suite(void);
Suite *dur_suite(void);
Suite *dur_resume_suite(void);
Suite *dur_exec_suite(void);
Suite *wk_loop_suite(void);
Suite *rslot_suite(void);
Suite *rcluster_suite(void);
Suite *rasync_suite(void);
Suite *gw_conn_suite(void);
Suite *gw_mcp_suite(void);
Suite *scripts_suite(void);
Suite *jwt_suite(void);
Suite *gw_msg_suite(void);
Suite *evstream_suite(void);
Suite *intent_suite(void);
Suite *logs_suite(void);
Suite *sigv4_suite(void);

/* A buffer whose last byte sits right before an inaccessible page, so any
 * read past the end faults. Returns: owned, free with guard_free. */
char *guard_alloc(const void *data, size_t len);
void guard_free(char *p, size_t len);

#endif
