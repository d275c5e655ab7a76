/* check_cl_act.c -- what a VPN status output means, and the sample
 * configurations' status commands read as their comments say. */
#include "cl_act.h"
#include "suites.h"

START_TEST(status_defaults)
{
    ck_assert(cl_act_vpn_connected("  >> state: Connected\n", NULL));
    ck_assert(!cl_act_vpn_connected("  >> state: Disconnected\n", ""));
    ck_assert(cl_act_vpn_connected("work:vpn:activated\nwifi:802-11-wireless:activated\n", ""));
    ck_assert(!cl_act_vpn_connected("wifi:802-11-wireless:activated\n", ""));
    ck_assert(!cl_act_vpn_connected("", ""));
}
END_TEST

START_TEST(status_match)
{
    /* systemctl is-active: "inactive" is not "active" */
    ck_assert(cl_act_vpn_connected("active\n", "active"));
    ck_assert(!cl_act_vpn_connected("inactive\n", "active"));
    ck_assert(!cl_act_vpn_connected("failed\n", "active"));
    /* wg show: the first line while the interface is up */
    ck_assert(cl_act_vpn_connected("interface: wg0\n  public key: x\n", "interface: wg0"));
    ck_assert(
        !cl_act_vpn_connected("Unable to access interface: No such device\n", "interface: wg0"));
    /* any line, any case, leading blanks ignored */
    ck_assert(cl_act_vpn_connected("wifi:x:activated\n  Work-VPN:vpn:activated\n",
                                   "work-vpn:vpn:activated"));
}
END_TEST

Suite *cl_act_suite(void)
{
    Suite *s = suite_create("cl_act");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");
    tcase_add_test(core, status_defaults);
    tcase_add_test(limits, status_match);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}
