-- invoke.lua -- start a child execution for operation ARGV[2] of the parent
-- and record the operation as pending (idempotent: the child id is derived
-- from the parent id and the operation index).
-- KEYS[1] aa:exec:{parent}  KEYS[2] aa:exec:{child}  KEYS[3] child stream
-- ARGV[1] child id  ARGV[2] op index  ARGV[3] handler  ARGV[4] input  ARGV[5] session
-- ARGV[6] trace  ARGV[7] now ms  ARGV[8] op name  ARGV[9] parent id
-- ARGV[10] child execution timeout ms
--@keys parent child stream
--@argv child_id op handler input session trace now name parent_id timeout_ms
-- Also adds the child's deadline to aa:exec:deadlines.
-- Reply: "started" or "exists"
--@include _cell
--@include _deadline
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
local due = tonumber(ARGV[7]) + tonumber(ARGV[10])
redis.call('HSET', KEYS[2], 'handler', ARGV[3], 'stream', KEYS[3], 'input', ARGV[4],
  'session', ARGV[5], 'trace', ARGV[6], 'parent', ARGV[9], 'parent_op', ARGV[2],
  'status', 'ready', 'created_ms', ARGV[7], 'updated_ms', ARGV[7])
deadline(P .. 'exec:deadlines', due, ARGV[1], ARGV[7])
redis.call('HSET', KEYS[1], 'op:' .. ARGV[2],
  cjson.encode({t = 'invoke', n = ARGV[8], s = 'pending', child = ARGV[1]}))
redis.call('XADD', KEYS[3], '*', 'exec', ARGV[1], 'kind', 'start')
return 'started'
