/* keys.h -- Every Redis key and channel name of agent-async, in one place:
 * the fixed names as constants, the per-object names built by one function
 * each. docs/ARCHITECTURE.md describes what each one holds. The ids that go
 * into a name are checked where they enter the system (id_valid: at most
 * 128 characters), so every name fits KEYS_MAX. A name that would not fit
 * its buffer is KEYS_NONE instead (logged): a name no record has, never a
 * cut name that could be another object's. */
#ifndef AA_KEYS_H
#define AA_KEYS_H

#include <stddef.h>

/* Bytes of any name built here, the NUL included. */
#define KEYS_MAX 200
#define KEYS_NONE "aa:none"

/* Cells (docs/ARCHITECTURE.md, "Redis Cluster"): the key schema in
 * keys_cells() copies, each in one hash slot. Cell k's names start with
 * "aa:{ck}:" instead of "aa:"; with one cell (the default) every name is
 * as it was. An id's cell is CRC16 of the id up to its first '.', modulo
 * the cells: a child execution (<parent>.<n>) and a callback
 * (cb-<random>.<tag>) are where their first part is, and the ids the
 * runtime mints for a session are drawn in the session's cell (ids.h). */
#define KEYS_CELLS_MAX 1024
#define KEYS_CELLS "aa:cells" /* string: the deployment's number of cells */
/* Sets the number of cells, 1..KEYS_CELLS_MAX, once at start before any
 * thread; others are refused. Returns 0 / -1. */
int keys_set_cells(unsigned n);
unsigned keys_cells(void);
/* The cell of an id (0 with one cell). */
unsigned keys_cell_of(const char *id);
/* Fills buf with name (one of the fixed "aa:" names below) as cell's copy;
 * a name not starting "aa:" (an operator's --stream) gets "{ck}:" in
 * front. With one cell, name as it is. */
const char *keys_in_cell(char *buf, size_t len, const char *name, unsigned cell);
/* name as a SCAN pattern matching it in every cell: "aa:{c*}:..." */
const char *keys_any_cell(char *buf, size_t len, const char *name);
/* The id in a per-id name of kind ("cb:" for aa:[{ck}:]cb:<id>), or NULL
 * when name is not one in this deployment's cells (the id's own cell).
 * Returns: a pointer into name. */
const char *keys_id_of(const char *name, const char *kind);
/* The cell a name is in: k for "aa:{ck}:..." or "{ck}:...", 0 for any
 * "aa:" name with one cell; -1 when it is in none of this deployment's. */
int keys_cell_in(const char *name);
/* The cell's prefix: "aa:" or "aa:{ck}:". */
const char *keys_cell_prefix(char *buf, size_t len, unsigned cell);
/* Reads the deployment's cells from Redis (KEYS_CELLS), setting it to want
 * (or, when want is 0, to 1 on one Redis and 16 on a cluster) when it is
 * not set yet, and keys_set_cells to it. Returns 0, or -1 with err filled:
 * Redis unreachable, or want given and not what the deployment has. */
struct rconn;
int keys_cells_setup(struct rconn *rc, unsigned want, char *err, size_t errlen);
/* The halves of keys_cells_setup for an asynchronous caller: the number to
 * set when none is (want, or 1 / 16), and the reply of
 * "SET aa:cells <that> NX GET" taken (0), or refused (-1, err filled). */
unsigned keys_cells_default(int cluster, unsigned want);
struct redisReply;
int keys_cells_adopt(const struct redisReply *r, unsigned want, unsigned dflt, char *err,
                     size_t errlen);
/* keys_cells_setup without setting anything: a deployment with none set
 * yet has the default (for tools that only look). */
int keys_cells_read(struct rconn *rc, unsigned want, char *err, size_t errlen);
/* keys_cells_setup on a connection of its own to addr, tried again for up
 * to wait_ms while Redis cannot be reached (it may be starting). */
int keys_cells_start(const char *addr, unsigned want, int wait_ms, char *err, size_t errlen);
/* The option every program's table has (cfg.h): "cells", 0 = the deployment's. */
#define KEYS_CELLS_OPT                                                                             \
    {                                                                                              \
        "cells", CFG_INT, "0", 0, KEYS_CELLS_MAX,                                                  \
            "cells of the key schema: 0 takes the deployment's (aa:cells; set by the first "       \
            "program "                                                                             \
            "to start: 1 on one Redis, 16 on a cluster)",                                          \
            NULL, 0                                                                                \
    }

/* Streams of jobs: chat turns, tool calls, and the dead letters. */
#define KEYS_STREAM_AGENT "aa:stream:agent"
#define KEYS_STREAM_TOOL "aa:stream:tool"
#define KEYS_STREAM_DEAD "aa:stream:dead"

/* Sorted sets the timer threads and the sweep watch. */
#define KEYS_TIMERS "aa:timers"
#define KEYS_CB_DEADLINES "aa:cb:deadlines"
#define KEYS_CB_COMPLETED "aa:cb:completed"
#define KEYS_EXEC_DEADLINES "aa:exec:deadlines"

/* Channels of the resumers: a worker that stopped hands its callbacks on
 * (its tag); a deadline sooner than the timer threads' next pass (its time,
 * published by lua/_deadline.lua). */
#define KEYS_RESUMERS_GONE "aa:resumers:gone"
#define KEYS_TIMERS_SOON "aa:timers:soon"

/* Channels: MCP executions that ended, MCP cancellations. */
#define KEYS_MCP_DONE "aa:mcp:done"
#define KEYS_MCP_CANCEL "aa:mcp:cancel"

/* The tool catalog's custom entries (tooldef). */
#define KEYS_TOOL_CATALOG "aa:tools:catalog"

/* Prefixes of names that are read back (keyspace notifications, SCAN). */
#define KEYS_CB_PREFIX "aa:cb:"
#define KEYS_SESSION_PREFIX "aa:session:"
#define KEYS_NODE_CONNS_PATTERN "aa:node:*:conns"
#define KEYS_EXEC_PATTERN "aa:exec:*"
#define KEYS_SESSION_CONNS_PATTERN "aa:session:*:conns"

/* Each returns buf, filled with the name for the id, in the id's cell;
 * len is buf's size (at least the name's; KEYS_MAX always is). */
const char *keys_exec(char *buf, size_t len, const char *eid);   /* aa:exec:{eid} */
const char *keys_cb(char *buf, size_t len, const char *cbid);    /* aa:cb:{cbid} */
const char *keys_outbox(char *buf, size_t len, const char *sid); /* aa:outbox:{sid} */
const char *
keys_session(char *buf, size_t len, const char *sid,
             const char *what); /* aa:session:{sid}:{what}: conns owner active queue memory */
/* aa:conn:{cid}, in its session's cell (a connection id is made before
 * its session is known) */
const char *keys_conn(char *buf, size_t len, const char *cid, unsigned cell);
/* aa:node:{node}: a gateway's heartbeat, one per cell (the reaper of a
 * cell reads it in the same script as the cell's connections) */
const char *keys_node(char *buf, size_t len, const char *node, unsigned cell);
/* aa:node:{node}:conns, one per cell (its connections of that cell) */
const char *keys_node_conns(char *buf, size_t len, const char *node, unsigned cell);
/* The push channel of gateway node in a cell: aa:push:{node} with one cell
 * (PUBLISH); with cells, aa:{cK}:push:{node}, sharded (SPUBLISH), so a push
 * travels only to the master of its session's cell. */
const char *keys_push(char *buf, size_t len, const char *node, unsigned cell);
const char *keys_mcp_session(char *buf, size_t len, const char *id); /* aa:mcp:session:{id} */
/* aa:mcp:tasks:{owner}, one per cell (the owner's tasks in that cell) */
const char *keys_mcp_tasks(char *buf, size_t len, const char *owner, unsigned cell);

/* id_random or (b64) id_random_b64, drawn again until the id is in cell
 * (keys_cell_of): the ids the runtime mints for a session go in its cell.
 * With N cells that is N draws on average and log2(N) bits fewer. */
int keys_random_id(char *out, size_t outlen, const char *prefix, size_t nbytes, int b64,
                   unsigned cell);

#endif
