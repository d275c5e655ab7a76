-- _claim.lua -- included by scripts that let a worker take an execution to
-- run (or replay) it: claim(ekey, worker, now, lease, max_attempts) returns
-- {"ok", field, value, ...} (the whole record after the claim) or {"gone"},
-- {"done"}, {"suspended"}, {"busy"}, {"exhausted"}. The checkpoint log lives
-- in the same hash, one field per operation: "op:0", "op:1", ...
local function claim(ekey, worker, now, lease, max_attempts)
  if redis.call('EXISTS', ekey) == 0 then return {'gone'} end
  local f = redis.call('HMGET', ekey, 'status', 'lease_until', 'attempts')
  local st = f[1]
  now = tonumber(now)
  if st == 'succeeded' or st == 'failed' or st == 'timed_out' or st == 'cancelled' then
    return {'done'}
  end
  if st == 'suspended' or st == 'queued' then return {'suspended'} end
  if st == 'running' and tonumber(f[2] or 0) > now then return {'busy'} end
  local attempts = tonumber(f[3] or 0) + 1
  if attempts > tonumber(max_attempts) then return {'exhausted'} end
  redis.call('HSET', ekey, 'status', 'running', 'worker', worker, 'lease_until',
    now + tonumber(lease), 'attempts', attempts, 'updated_ms', now)
  redis.call('HDEL', ekey, 'wake')
  local all = redis.call('HGETALL', ekey)
  table.insert(all, 1, 'ok')
  return all
end
