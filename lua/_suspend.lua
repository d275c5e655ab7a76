-- _suspend.lua -- included by scripts that end a run whose handler reached a
-- wait whose result is not there: suspend(ekey, stream, eid, worker, now)
-- releases the worker. If an awaited result arrived while the handler ran
-- (wake=1), the continuation is queued again instead. Returns "suspended",
-- "requeued" or "lost" (another worker owns it now).
local function suspend(ekey, stream, eid, worker, now)
  local f = redis.call('HMGET', ekey, 'status', 'worker', 'wake')
  if f[1] ~= 'running' or f[2] ~= worker then return 'lost' end
  redis.call('HDEL', ekey, 'lease_until', 'worker', 'attempts', 'wake')
  if f[3] then
    redis.call('HSET', ekey, 'status', 'ready', 'updated_ms', now)
    redis.call('XADD', stream, '*', 'exec', eid, 'kind', 'resume')
    return 'requeued'
  end
  redis.call('HSET', ekey, 'status', 'suspended', 'updated_ms', now)
  return 'suspended'
end
