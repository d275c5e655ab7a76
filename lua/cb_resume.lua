-- cb_resume.lua -- hand a settled callback's outcome to its execution and
-- wake it, exactly once. Also settles a pending callback whose deadline has
-- passed as timed out. Run on keyspace notifications, on expired timer keys,
-- by the timers and by the sweep; running it again changes nothing.
--@include _cell
--@include _wake
--@include _claim
-- KEYS[1] aa:cb:{cbid}  KEYS[2] aa:cb:completed  KEYS[3] aa:cb:deadlines
-- ARGV[1] cbid  ARGV[2] now ms  ARGV[3] retention seconds
-- Optional, to take the continuation at once (a resumer that can run it):
-- ARGV[4] the resumer's stream  ARGV[5] its group  ARGV[6] its consumer
-- ARGV[7] lease ms  ARGV[8] max attempts. When the execution was queued on
--@keys cb completed deadlines
--@argv cbid now retention_s stream? group? consumer? lease_ms? max_attempts?
-- that stream, the stream's next entry is read for the consumer (so a crash
-- leaves it pending, to be reclaimed) and its execution claimed (_claim.lua).
-- Reply: "resumed:<created_ms>", "pending", "already" or "gone"; with a
-- take: {"resumed:<created_ms>", entry id, execution id, claim reply...}
local f = redis.call('HMGET', KEYS[1], 'status', 'next_deadline_ms', 'resumed', 'exec', 'op',
  'result', 'deadline_ms', 'created_ms')
if not f[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'gone'
end
local now = tonumber(ARGV[2])
local status = f[1]
if status == 'pending' then
  if now < tonumber(f[2] or f[7] or 0) then return 'pending' end
  status = 'timed_out'
  redis.call('HSET', KEYS[1], 'status', status, 'completed_ms', now)
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if f[3] then return 'already' end
redis.call('HSET', KEYS[1], 'resumed', 1, 'resumed_ms', now)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
-- a record that names no execution (one made by hand): nothing to hand over
if not f[4] or not f[5] then return 'gone' end
local ekey = P .. 'exec:' .. f[4]
local field = 'op:' .. f[5]
local old = redis.call('HGET', ekey, field)
local rec = old and cjson.decode(old) or {t = 'cb', cb = ARGV[1]}
rec.s = (status == 'succeeded') and 'ok' or ((status == 'timed_out') and 'timeout' or 'fail')
if status == 'timed_out' then rec.r = 'callback timed out' else rec.r = f[6] or '' end
local resumed = 'resumed:' .. (f[8] or '0')
if redis.call('EXISTS', ekey) == 1 then
  redis.call('HSET', ekey, field, cjson.encode(rec))
  if wake(f[4], now) == 'enqueued' and ARGV[4] and
      redis.call('HGET', ekey, 'stream') == ARGV[4] then
    -- no group yet (NOGROUP): leave it to the consumers
    local got = redis.pcall('XREADGROUP', 'GROUP', ARGV[5], ARGV[6], 'COUNT', 1,
      'STREAMS', ARGV[4], '>')
    local entry = type(got) == 'table' and not got.err and got[1] and got[1][2][1]
    if entry then
      local eid = ''
      for i = 1, #entry[2], 2 do
        if entry[2][i] == 'exec' then eid = entry[2][i + 1] end
      end
      local out = {resumed, entry[1], eid}
      for _, v in ipairs(claim(P .. 'exec:' .. eid, claim_terms(ARGV[6], ARGV[2], ARGV[7], ARGV[8]))) do
        out[#out + 1] = v
      end
      return out
    end
  end
end
return resumed
