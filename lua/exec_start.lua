-- exec_start.lua -- start an execution (for callers other than chat turns
-- and child invocations: the MCP endpoint, benchmarks, operators).
-- KEYS[1] aa:exec:{eid}  KEYS[2] its stream
-- ARGV[1] eid  ARGV[2] handler  ARGV[3] input  ARGV[4] session  ARGV[5] trace
-- ARGV[6] now ms  ARGV[7] execution timeout ms  ARGV[8] optional channel that
-- exec_finish.lua publishes the id on when the execution ends  ARGV[9] optional
-- owner (the MCP token's subject)  ARGV[10] optional MCP session  ARGV[11]
-- optional JSON-RPC request id (JSON)  ARGV[12] optional task ttl ms: the
-- execution is an MCP task, listed in KEYS[3] aa:mcp:tasks:{owner} (KEYS[3]
-- is only used then)  ARGV[13] optional subject that must own the session
-- ARGV[4] (aa:session:<ARGV[4]>:owner, derived): the MCP caller's
--@keys exec stream tasks?
--@argv eid handler input session trace now timeout_ms done_channel? owner? mcp_session? rpc_id? task_ttl_ms? must_own?
-- Reply: "started", "exists" (the id is an idempotency key) or "forbidden"
-- (nothing written: the session is not the subject's)
--@include _cell
--@include _deadline
if ARGV[13] and ARGV[13] ~= '' and
    redis.call('GET', P .. 'session:' .. ARGV[4] .. ':owner') ~= ARGV[13] then
  return 'forbidden'
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local due = tonumber(ARGV[6]) + tonumber(ARGV[7])
local fields = {'handler', ARGV[2], 'stream', KEYS[2], 'input', ARGV[3], 'session', ARGV[4],
  'status', 'ready', 'created_ms', ARGV[6], 'updated_ms', ARGV[6]}
local function opt(i, field)
  if ARGV[i] and ARGV[i] ~= '' then
    fields[#fields + 1] = field
    fields[#fields + 1] = ARGV[i]
  end
end
opt(5, 'trace')
opt(8, 'notify')
opt(9, 'owner')
opt(10, 'mcp_session')
opt(11, 'rpc_id')
opt(12, 'task_ttl_ms')
redis.call('HSET', KEYS[1], unpack(fields))
if KEYS[3] and ARGV[12] and ARGV[12] ~= '' then
  -- the owner's task index: tasks older than the longest ttl (7 days) drop out
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[6]) - 7 * 86400000)
  redis.call('PEXPIRE', KEYS[3], 7 * 86400000)
end
deadline(P .. 'exec:deadlines', due, ARGV[1], ARGV[6])
redis.call('XADD', KEYS[2], '*', 'exec', ARGV[1], 'kind', 'start')
return 'started'
