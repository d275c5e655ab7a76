-- chat.lua -- accept a chat turn: create its execution and start it, or queue
-- it behind the session's running turn (turns on one session run in order).
-- KEYS[1] aa:exec:{eid}  KEYS[2] aa:session:{sid}:active  KEYS[3] aa:session:{sid}:queue
-- KEYS[4] agent stream
-- ARGV[1] eid  ARGV[2] sid  ARGV[3] input JSON  ARGV[4] now ms  ARGV[5] trace id
-- ARGV[6] handler name  ARGV[7] execution timeout ms
--@keys exec active queue stream
--@argv eid sid input now trace handler timeout_ms
-- Also adds the execution deadline to aa:exec:deadlines.
--@include _cell
--@include _deadline
-- Reply: {"started"|"queued", turns waiting ahead}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS execution id already used')
end
redis.call('HSET', KEYS[1], 'handler', ARGV[6], 'stream', KEYS[4], 'input', ARGV[3],
  'session', ARGV[2], 'lane', ARGV[2], 'trace', ARGV[5], 'created_ms', ARGV[4],
  'updated_ms', ARGV[4])
deadline(P .. 'exec:deadlines', tonumber(ARGV[4]) + tonumber(ARGV[7]), ARGV[1], ARGV[4])
local active = redis.call('GET', KEYS[2])
if active and redis.call('EXISTS', P .. 'exec:' .. active) == 1 then
  redis.call('HSET', KEYS[1], 'status', 'queued')
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return {'queued', redis.call('LLEN', KEYS[3])}
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'ready')
redis.call('XADD', KEYS[4], '*', 'exec', ARGV[1], 'kind', 'start')
return {'started', 0}
