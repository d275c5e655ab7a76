-- exec_suspend.lua -- the handler reached a wait whose result is not there:
-- release the worker. If an awaited result arrived while the handler ran
-- (wake=1), the continuation is queued again instead.
-- KEYS[1] aa:exec:{eid}  KEYS[2] the execution's stream  KEYS[3] optional: the
-- stream whose entry delivered this run, acknowledged here in every outcome
-- ARGV[1] eid  ARGV[2] worker id  ARGV[3] now ms  ARGV[4] the group and
-- ARGV[5] the entry id to acknowledge (with KEYS[3])
-- Reply: "suspended", "requeued" or "lost" (another worker owns it now)
if KEYS[3] then redis.call('XACK', KEYS[3], ARGV[4], ARGV[5]) end
local f = redis.call('HMGET', KEYS[1], 'status', 'worker', 'wake')
if f[1] ~= 'running' or f[2] ~= ARGV[2] then return 'lost' end
redis.call('HSET', KEYS[1], 'updated_ms', ARGV[3])
redis.call('HDEL', KEYS[1], 'lease_until', 'worker', 'attempts')
if f[3] then
  redis.call('HDEL', KEYS[1], 'wake')
  redis.call('HSET', KEYS[1], 'status', 'ready')
  redis.call('XADD', KEYS[2], '*', 'exec', ARGV[1], 'kind', 'resume')
  return 'requeued'
end
redis.call('HSET', KEYS[1], 'status', 'suspended')
return 'suspended'
