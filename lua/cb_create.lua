-- cb_create.lua -- create a callback (a suspension record) for operation
-- ARGV[3] of an execution, with its deadline in aa:cb:deadlines (the timer
-- threads sleep until the earliest one). next_deadline_ms is stored only
-- with a heartbeat timeout (otherwise it is deadline_ms).
-- KEYS[1] aa:cb:{cbid}  KEYS[2] aa:exec:{eid}  KEYS[3] aa:cb:deadlines
-- ARGV[1] cbid  ARGV[2] eid  ARGV[3] op index  ARGV[4] session  ARGV[5] now ms
-- ARGV[6] timeout ms  ARGV[7] heartbeat timeout ms (0: none)  ARGV[8] op name
-- Reply: "created" or "exists"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local now = tonumber(ARGV[5])
local deadline = now + tonumber(ARGV[6])
local hb = tonumber(ARGV[7])
local first = deadline
redis.call('HSET', KEYS[1], 'exec', ARGV[2], 'op', ARGV[3], 'session', ARGV[4],
  'status', 'pending', 'created_ms', now, 'deadline_ms', deadline)
if hb > 0 then
  if now + hb < first then first = now + hb end
  redis.call('HSET', KEYS[1], 'heartbeat_ms', hb, 'next_deadline_ms', first)
end
redis.call('ZADD', KEYS[3], first, ARGV[1])
redis.call('HSET', KEYS[2], 'op:' .. ARGV[3],
  cjson.encode({t = 'cb', n = ARGV[8], s = 'pending', cb = ARGV[1]}))
return 'created'
