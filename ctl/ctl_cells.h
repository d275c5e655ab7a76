/* ctl_cells.h -- aa-ctl cells: where each cell lives on a Redis Cluster,
 * and moving whole cells so that every master serves as many. */
#ifndef AA_CTL_CELLS_H
#define AA_CTL_CELLS_H

#include "rconn.h"

/* Prints "cell slot master keys" for every cell. Returns an exit status. */
int ctl_cells_show(struct rconn *rc);

/* Moves cells (their slot and keys, as a reshard does) from the masters
 * with most to those with fewest until they differ by one at most; with
 * dry_run only says what it would move. Prints a line per move and a
 * summary. Returns an exit status (1: Redis failed, 2: not a cluster). */
int ctl_cells_balance(struct rconn *rc, int dry_run);

#endif
