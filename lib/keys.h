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

/* Each returns buf, filled with the name for the id; len is buf's size
 * (at least the name's; KEYS_MAX always is). */
const char *keys_exec(char *buf, size_t len, const char *eid);   /* aa:exec:{eid} */
const char *keys_cb(char *buf, size_t len, const char *cbid);    /* aa:cb:{cbid} */
const char *keys_outbox(char *buf, size_t len, const char *sid); /* aa:outbox:{sid} */
const char *
keys_session(char *buf, size_t len, const char *sid,
             const char *what); /* aa:session:{sid}:{what}: conns owner active queue memory */
const char *keys_conn(char *buf, size_t len, const char *cid);        /* aa:conn:{cid} */
const char *keys_node(char *buf, size_t len, const char *node);       /* aa:node:{node} */
const char *keys_node_conns(char *buf, size_t len, const char *node); /* aa:node:{node}:conns */
const char *keys_push(char *buf, size_t len, const char *node);       /* channel aa:push:{node} */
const char *keys_mcp_session(char *buf, size_t len, const char *id);  /* aa:mcp:session:{id} */
const char *keys_mcp_tasks(char *buf, size_t len, const char *owner); /* aa:mcp:tasks:{owner} */

#endif
