-- exec_claim.lua -- a worker takes an execution to run (or replay) it.
-- The execution's checkpoint log lives in the same hash, one field per
-- operation: "op:0", "op:1", ...
-- KEYS[1] aa:exec:{eid}
-- ARGV[1] worker id  ARGV[2] now ms  ARGV[3] lease ms  ARGV[4] max attempts
-- Reply: {"ok", field, value, ...} (the whole record after the claim)
--        or {"gone"|"done"|"suspended"|"busy"|"exhausted"}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'attempts')
local st = f[1]
local now = tonumber(ARGV[2])
if st == 'succeeded' or st == 'failed' or st == 'timed_out' or st == 'cancelled' then
  return {'done'}
end
if st == 'suspended' or st == 'queued' then return {'suspended'} end
if st == 'running' and tonumber(f[2] or 0) > now then return {'busy'} end
local attempts = tonumber(f[3] or 0) + 1
if attempts > tonumber(ARGV[4]) then return {'exhausted'} end
redis.call('HSET', KEYS[1], 'status', 'running', 'worker', ARGV[1], 'lease_until',
  now + tonumber(ARGV[3]), 'attempts', attempts, 'updated_ms', now)
redis.call('HDEL', KEYS[1], 'wake')
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'ok')
return all
