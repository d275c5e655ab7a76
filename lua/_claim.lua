-- _claim.lua -- included by scripts that let a worker take an execution to
-- run (or replay) it. claim_terms(worker, now, lease, max_attempts) makes the
-- terms once per script run (numbers made into strings once: Lua's number
-- formatting costs more than a command); claim(ekey, terms) returns
-- {"ok", field, value, ...} (the whole record after the claim) or {"gone"},
-- {"done"}, {"suspended"}, {"busy"}, {"exhausted"}. The checkpoint log lives
-- in the same hash, one field per operation: "op:0", "op:1", ...
-- A worker that claims again what it already holds (a claim taken ahead of
-- its run, grown old) renews its lease; that is not a new attempt.
-- Two commands for a fresh execution: HGETALL, HSET.
local function claim_terms(worker, now, lease, max_attempts)
  local now_n = tonumber(now)
  return {worker = worker, now = now, now_n = now_n,
    lease_until = tostring(now_n + tonumber(lease)), max_attempts = tonumber(max_attempts)}
end

local function claim(ekey, t)
  local all = redis.call('HGETALL', ekey)
  if #all == 0 then return {'gone'} end
  local st, until_ms, attempts, owner, wake
  for i = 1, #all, 2 do
    local k = all[i]
    if k == 'status' then st = all[i + 1]
    elseif k == 'lease_until' then until_ms = all[i + 1]
    elseif k == 'attempts' then attempts = all[i + 1]
    elseif k == 'worker' then owner = all[i + 1]
    elseif k == 'wake' then wake = i
    end
  end
  if st == 'succeeded' or st == 'failed' or st == 'timed_out' or st == 'cancelled' then
    return {'done'}
  end
  if st == 'suspended' or st == 'queued' then return {'suspended'} end
  local n = attempts or '1'
  if not (st == 'running' and owner == t.worker and tonumber(until_ms or 0) > t.now_n) then
    if st == 'running' and tonumber(until_ms or 0) > t.now_n then return {'busy'} end
    n = attempts and tonumber(attempts) + 1 or 1
    if n > t.max_attempts then return {'exhausted'} end
    n = n == 1 and '1' or tostring(n)
  end
  local set = {status = 'running', worker = t.worker, lease_until = t.lease_until, attempts = n,
    updated_ms = t.now}
  redis.call('HSET', ekey, 'status', 'running', 'worker', t.worker, 'lease_until', t.lease_until,
    'attempts', n, 'updated_ms', t.now)
  -- the reply is the record as it is now, made from the one read
  if wake then
    redis.call('HDEL', ekey, 'wake')
    table.remove(all, wake)
    table.remove(all, wake)
  end
  for i = 1, #all, 2 do
    local v = set[all[i]]
    if v then
      all[i + 1] = v
      set[all[i]] = nil
    end
  end
  for k, v in pairs(set) do
    all[#all + 1] = k
    all[#all + 1] = v
  end
  table.insert(all, 1, 'ok')
  return all
end
