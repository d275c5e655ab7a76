-- cb_complete.lua -- an answer for a callback: succeed, fail or heartbeat.
-- Checks that the callback exists, is pending and belongs to the caller's
-- session (a callback of another session is reported as not found). A repeated
-- identical completion gets the original outcome; a different one is refused.
-- The caller is checked against the callback's session: ARGV[3] (the
-- session of the caller's connection or token) must be it, and ARGV[6] (the
-- caller's subject) must own it (aa:session:<sid>:owner, a key derived from
-- the record); an empty ARGV[3] or ARGV[6] is not checked; ARGV[7] "1" (an
-- operator, or the runtime itself) skips both. A caller with none of the three
-- may complete nothing.
-- KEYS[1] aa:cb:{cbid}  KEYS[2] aa:cb:completed  KEYS[3] aa:cb:deadlines
-- ARGV[1] cbid  ARGV[2] kind ("succeed"|"fail"|"heartbeat")  ARGV[3] caller's
-- session or ""  ARGV[4] payload  ARGV[5] now ms  ARGV[6] caller's subject or ""
-- ARGV[7] "1" for an admin caller, else ""
--@keys cb completed deadlines
--@argv cbid kind session payload+ now subject admin
--@include _cell
--@include _deadline
-- Reply: {"ok", "recorded"|"duplicate"|"heartbeat"} or {"err", "not_found"|"expired"|"conflict"}
local f = redis.call('HMGET', KEYS[1], 'status', 'session', 'deadline_ms', 'heartbeat_ms',
  'next_deadline_ms', 'result', 'outcome')
if not f[1] then return {'err', 'not_found'} end
if ARGV[7] ~= '1' then
  if ARGV[3] == '' and ARGV[6] == '' then return {'err', 'not_found'} end
  if ARGV[3] ~= '' and f[2] ~= ARGV[3] then return {'err', 'not_found'} end
  if ARGV[6] ~= '' and redis.call('GET', P .. 'session:' .. (f[2] or '') .. ':owner') ~= ARGV[6] then
    return {'err', 'not_found'}
  end
end
local now = tonumber(ARGV[5])
local deadline_ms = tonumber(f[3] or 0)
local next_deadline = tonumber(f[5] or f[3] or 0)
if f[1] == 'pending' and now >= next_deadline then
  -- past its deadline: the timers have not got to it yet; settle it now
  redis.call('HSET', KEYS[1], 'status', 'timed_out', 'completed_ms', now)
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'completions', 1)
  return {'err', 'expired'}
end
if f[1] ~= 'pending' then
  if f[1] == 'timed_out' then return {'err', 'expired'} end
  if ARGV[2] ~= 'heartbeat' and f[7] == ARGV[2] and f[6] == ARGV[4] then
    return {'ok', 'duplicate'}
  end
  return {'err', 'conflict'}
end
if ARGV[2] == 'heartbeat' then
  local hb = tonumber(f[4] or 0)
  if hb > 0 then
    local nextd = now + hb
    if nextd > deadline_ms then nextd = deadline_ms end
    redis.call('HSET', KEYS[1], 'next_deadline_ms', nextd, 'last_heartbeat_ms', now)
    deadline(KEYS[3], nextd, ARGV[1], now)
  end
  return {'ok', 'heartbeat'}
end
local status = (ARGV[2] == 'succeed') and 'succeeded' or 'failed'
redis.call('HSET', KEYS[1], 'status', status, 'outcome', ARGV[2], 'result', ARGV[4],
  'completed_ms', now)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
-- the resumer listens for this command's keyspace event ("hincrby")
redis.call('HINCRBY', KEYS[1], 'completions', 1)
return {'ok', 'recorded'}
