/* main.c -- the unit test runner: all Check suites in one SRunner. */
#include "log.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *guard_alloc(const void *data, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (len + page - 1) / page * page + page;
    char *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        abort();
    mprotect(base + span - page, page, PROT_NONE);
    char *p = base + span - page - len;
    memcpy(p, data, len);
    return p;
}

void guard_free(char *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (len + page - 1) / page * page + page;
    munmap(p + len + page - span, span);
}

int main(void)
{
    log_init("unit", getenv("AA_LOG_LEVEL") ? getenv("AA_LOG_LEVEL") : "error");
    SRunner *sr = srunner_create(cfg_suite());
    srunner_add_suite(sr, util_suite());
    srunner_add_suite(sr, strmap_suite());
    srunner_add_suite(sr, gw_http_suite());
    srunner_add_suite(sr, gw_ws_suite());
    srunner_add_suite(sr, cl_exec_suite());
    srunner_add_suite(sr, cl_act_suite());
    srunner_add_suite(sr, keys_suite());
    srunner_add_suite(sr, tools_suite());
    srunner_add_suite(sr, provider_suite());
    srunner_add_suite(sr, dur_suite());
    srunner_add_suite(sr, dur_resume_suite());
    srunner_add_suite(sr, dur_exec_suite());
    srunner_add_suite(sr, wk_loop_suite());
    srunner_add_suite(sr, rslot_suite());
    srunner_add_suite(sr, rcluster_suite());
    srunner_add_suite(sr, rasync_suite());
    srunner_add_suite(sr, gw_conn_suite());
    srunner_add_suite(sr, gw_mcp_suite());
    srunner_add_suite(sr, scripts_suite());
    srunner_add_suite(sr, jwt_suite());
    srunner_add_suite(sr, gw_msg_suite());
    srunner_add_suite(sr, evstream_suite());
    srunner_add_suite(sr, intent_suite());
    srunner_add_suite(sr, logs_suite());
    srunner_add_suite(sr, sigv4_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
