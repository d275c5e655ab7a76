-- exec_start.lua -- start an execution (for callers other than chat turns
-- and child invocations: the MCP endpoint, benchmarks, operators).
-- KEYS[1] aa:exec:{eid}  KEYS[2] its stream
-- ARGV[1] eid  ARGV[2] handler  ARGV[3] input  ARGV[4] session  ARGV[5] trace
-- ARGV[6] now ms  ARGV[7] execution timeout ms  ARGV[8] optional channel that
-- exec_finish.lua publishes the id on when the execution ends
-- Reply: "started" or "exists" (the id is an idempotency key)
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local deadline = tonumber(ARGV[6]) + tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'handler', ARGV[2], 'stream', KEYS[2], 'input', ARGV[3],
  'session', ARGV[4], 'status', 'ready', 'created_ms', ARGV[6],
  'updated_ms', ARGV[6])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'trace', ARGV[5]) end
if ARGV[8] and ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'notify', ARGV[8]) end
redis.call('ZADD', 'aa:exec:deadlines', deadline, ARGV[1])
redis.call('XADD', KEYS[2], '*', 'exec', ARGV[1], 'kind', 'start')
return 'started'
