/* check_keys.c -- the Redis names: their shapes, and a name that would not
 * fit its buffer; cells: names with their hash tag, ids drawn in a cell,
 * a child and a callback where their first part is, and names read back. */
#include "ids.h"
#include "keys.h"
#include "rslot.h"
#include "suites.h"

#include <stdio.h>
#include <string.h>

START_TEST(shapes)
{
    char b[KEYS_MAX];
    ck_assert_str_eq(keys_exec(b, sizeof(b), "turn-1"), "aa:exec:turn-1");
    ck_assert_str_eq(keys_cb(b, sizeof(b), "cb-x"), "aa:cb:cb-x");
    ck_assert_str_eq(keys_outbox(b, sizeof(b), "s1"), "aa:outbox:s1");
    ck_assert_str_eq(keys_session(b, sizeof(b), "s1", "owner"), "aa:session:s1:owner");
    ck_assert_str_eq(keys_conn(b, sizeof(b), "c-1", 0), "aa:conn:c-1");
    ck_assert_str_eq(keys_node(b, sizeof(b), "gw1", 0), "aa:node:gw1");
    ck_assert_str_eq(keys_node_conns(b, sizeof(b), "gw1", 0), "aa:node:gw1:conns");
    ck_assert_str_eq(keys_push(b, sizeof(b), "gw1", 0), "aa:push:gw1");
    ck_assert_str_eq(keys_mcp_session(b, sizeof(b), "m1"), "aa:mcp:session:m1");
    ck_assert_str_eq(keys_mcp_tasks(b, sizeof(b), "agent-1", 0), "aa:mcp:tasks:agent-1");
    ck_assert_str_eq(keys_in_cell(b, sizeof(b), KEYS_TIMERS, 0), "aa:timers");
    ck_assert_str_eq(keys_any_cell(b, sizeof(b), KEYS_NODE_CONNS_PATTERN), "aa:node:*:conns");
    ck_assert_int_eq(keys_cell_in("aa:exec:x"), 0);
    ck_assert_str_eq(keys_id_of("aa:cb:cb-x.t", "cb:"), "cb-x.t");
    ck_assert_ptr_null(keys_id_of("aa:{c1}:cb:cb-x", "cb:"));
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

START_TEST(cells)
{
    char b[KEYS_MAX], id[64];
    ck_assert_int_eq(keys_set_cells(0), -1);
    ck_assert_int_eq(keys_set_cells(KEYS_CELLS_MAX + 1), -1);
    ck_assert_int_eq(keys_set_cells(16), 0);
    unsigned c = keys_cell_of("s1");
    ck_assert_uint_eq(c, rslot_crc16("s1", 2) % 16);
    snprintf(id, sizeof(id), "aa:{c%u}:session:s1:conns", c);
    ck_assert_str_eq(keys_session(b, sizeof(b), "s1", "conns"), id);
    ck_assert_str_eq(keys_in_cell(b, sizeof(b), KEYS_STREAM_AGENT, 7), "aa:{c7}:stream:agent");
    ck_assert_str_eq(keys_any_cell(b, sizeof(b), KEYS_STREAM_TOOL), "aa:{c*}:stream:tool");
    ck_assert_str_eq(keys_node_conns(b, sizeof(b), "gw1", 3), "aa:{c3}:node:gw1:conns");
    /* Every name of one cell is one slot, whatever follows its tag. */
    ck_assert_uint_eq(rslot_of("aa:{c3}:node:gw1", 16), rslot_of("aa:{c3}:exec:x", 14));
    /* Ids drawn in a cell are in it; a child and a callback where their
     * first part is. */
    for (unsigned cell = 0; cell < 16; cell++) {
        ck_assert_int_eq(keys_random_id(id, sizeof(id), "turn-", 12, 0, cell), 0);
        ck_assert_uint_eq(keys_cell_of(id), cell);
        strcat(id, ".3");
        ck_assert_uint_eq(keys_cell_of(id), cell);
        ck_assert_int_eq(keys_random_id(id, sizeof(id), "cb-", 12, 1, cell), 0);
        strcat(id, ".tag");
        ck_assert_uint_eq(keys_cell_of(id), cell);
        keys_cb(b, sizeof(b), id);
        ck_assert_int_eq(keys_cell_in(b), (int)cell);
        ck_assert_str_eq(keys_id_of(b, "cb:"), id);
    }
    ck_assert_int_eq(keys_random_id(id, sizeof(id), "x-", 12, 0, 16), -1);
    /* Names read back: only in this deployment's cells, and the id's own. */
    ck_assert_int_eq(keys_cell_in("aa:{c16}:exec:x"), -1);
    ck_assert_int_eq(keys_cell_in("aa:exec:x"), -1);
    ck_assert_int_eq(keys_cell_in("aa:{c}:exec:x"), -1);
    ck_assert_int_eq(keys_cell_in("aa:{c3x}:exec:x"), -1);
    ck_assert_ptr_null(keys_id_of("aa:cb:cb-x", "cb:"));
    snprintf(b, sizeof(b), "aa:{c%u}:cb:s1", (c + 1) % 16);
    ck_assert_ptr_null(keys_id_of(b, "cb:")); /* another cell's tag */
    ck_assert_int_eq(keys_set_cells(1), 0);
}
END_TEST

Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *core = tcase_create("core"), *lim = tcase_create("limits");
    tcase_add_test(core, shapes);
    tcase_add_test(core, cells);
    tcase_add_test(lim, limits);
    suite_add_tcase(s, core);
    suite_add_tcase(s, lim);
    return s;
}
