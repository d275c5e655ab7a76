-- _cb_create.lua -- included by scripts that create a callback (a suspension
-- record) for operation idx of an execution, with its deadline in
-- aa:cb:deadlines (the timer threads sleep until the earliest one), and record
-- the operation as pending. next_deadline_ms is stored only with a heartbeat
-- timeout (otherwise it is deadline_ms). Returns "created" or "exists".
-- Needs _deadline.
local function cb_create(cbkey, ekey, deadlines, cbid, eid, idx, session, now, timeout, hb, name)
  if redis.call('EXISTS', cbkey) == 1 then return 'exists' end
  now = tonumber(now)
  hb = tonumber(hb)
  local due = now + tonumber(timeout)
  local first = due
  redis.call('HSET', cbkey, 'exec', eid, 'op', idx, 'session', session,
    'status', 'pending', 'created_ms', now, 'deadline_ms', due)
  if hb > 0 then
    if now + hb < first then first = now + hb end
    redis.call('HSET', cbkey, 'heartbeat_ms', hb, 'next_deadline_ms', first)
  end
  deadline(deadlines, first, cbid, now)
  redis.call('HSET', ekey, 'op:' .. idx, cjson.encode({t = 'cb', n = name, s = 'pending', cb = cbid}))
  return 'created'
end
